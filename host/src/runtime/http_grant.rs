//! What outbound HTTP a connector is granted (`weir.allow.http`): the origins it may reach and
//! the bounds on what its requests may make the host hold. Checked by [`super::http_send`]
//! against each request's own URI (never a header), before anything is resolved or connected.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// Default cap on one request body (bytes).
pub const DEFAULT_MAX_REQUEST_BYTES: u64 = 8 << 20;
/// Default cap on one response body (bytes).
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 8 << 20;
/// Default budget of one request, from resolving to the last byte of the response.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cap on requests one task has open at once.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 4;

/// A granted host: a name (compared case-insensitively, then resolved by the host) or an IP
/// address (compared as an address, so `[::1]` and `[0:0::1]` are one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedHost {
    /// A DNS name, lower-cased.
    Name(String),
    /// An IP address.
    Ip(IpAddr),
}

impl AllowedHost {
    /// The host of a URI or grant (`[...]` around IPv6 allowed), normalised.
    pub fn parse(host: &str) -> AllowedHost {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        match bare.parse::<IpAddr>() {
            Ok(ip) => AllowedHost::Ip(ip),
            Err(_) => AllowedHost::Name(bare.trim_end_matches('.').to_ascii_lowercase()),
        }
    }
}

impl fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowedHost::Name(n) => f.write_str(n),
            AllowedHost::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            AllowedHost::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// One origin of `weir.allow.http`: `http://host[:port]`, port `*` for any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOrigin {
    /// The host.
    pub host: AllowedHost,
    /// The port; `None` for `*` (any port). Without a port in the grant, 80.
    pub port: Option<u16>,
}

impl HttpOrigin {
    /// Whether a request to `host:port` (scheme http) is within this origin.
    pub fn admits(&self, host: &AllowedHost, port: u16) -> bool {
        self.host == *host && self.port.is_none_or(|p| p == port)
    }
}

/// Bounds on what one task's outbound HTTP may make the host hold or wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// `weir.http.request.max.bytes`: the largest request body sent.
    pub max_request_bytes: u64,
    /// `weir.http.response.max.bytes`: the largest response body read.
    pub max_response_bytes: u64,
    /// `weir.http.timeout.ms`: one request, from resolving to the response's last byte.
    pub timeout: Duration,
    /// `weir.http.max.in.flight`: requests one task has open at once (sent and not yet read
    /// to the end or dropped).
    pub max_in_flight: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            timeout: DEFAULT_TIMEOUT,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

/// A connector's outbound HTTP: the origins granted (none: every request is denied) and the
/// bounds on its requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpGrant {
    /// The granted origins.
    pub origins: Vec<HttpOrigin>,
    /// The bounds.
    pub limits: HttpLimits,
}

impl HttpGrant {
    /// Whether `scheme://host:port` is granted. Only `http` is ever granted (the parser
    /// refuses `https` grants: this weir sends no TLS for connectors yet).
    pub fn admits(&self, scheme: &str, host: &AllowedHost, port: u16) -> bool {
        scheme.eq_ignore_ascii_case("http") && self.origins.iter().any(|o| o.admits(host, port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_compare_as_names_or_addresses_and_ports_exactly_unless_any() {
        let g = HttpGrant {
            origins: vec![
                HttpOrigin {
                    host: AllowedHost::parse("Api.Example.com"),
                    port: Some(8080),
                },
                HttpOrigin {
                    host: AllowedHost::parse("[::1]"),
                    port: None,
                },
            ],
            limits: HttpLimits::default(),
        };
        assert!(g.admits("http", &AllowedHost::parse("api.example.COM."), 8080));
        assert!(!g.admits("http", &AllowedHost::parse("api.example.com"), 8081));
        assert!(!g.admits("https", &AllowedHost::parse("api.example.com"), 8080));
        assert!(!g.admits("http", &AllowedHost::parse("example.com"), 8080));
        assert!(g.admits("http", &AllowedHost::parse("[0:0::1]"), 1));
        assert!(!g.admits("http", &AllowedHost::parse("127.0.0.1"), 1));
        assert!(!HttpGrant::default().admits("http", &AllowedHost::parse("::1"), 80));
    }
}
