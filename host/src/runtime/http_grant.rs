//! What outbound HTTP a connector is granted (`weir.allow.http`): the origins it may reach and
//! the bounds on what its requests may make the host hold. Checked by [`super::http_send`]
//! against each request's own URI (never a header), before anything is resolved or connected.
//! A grant with `https://` origins carries its [`HttpTls`], built once when the config is
//! checked and shared by every request.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

pub use super::http_tls::HttpTls;

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

/// The scheme of an origin: an `http://` grant never admits an `https://` request to the
/// same host and port, nor the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP/1.1.
    Http,
    /// HTTP/1.1 over TLS.
    Https,
}

impl Scheme {
    /// `http` or `https`, in any case; `None` for anything else.
    pub fn parse(text: &str) -> Option<Scheme> {
        if text.eq_ignore_ascii_case("http") {
            Some(Scheme::Http)
        } else if text.eq_ignore_ascii_case("https") {
            Some(Scheme::Https)
        } else {
            None
        }
    }

    /// The port a URI or grant of this scheme means when it names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        })
    }
}

/// One origin of `weir.allow.http`: `scheme://host[:port]`, port `*` for any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOrigin {
    /// The scheme.
    pub scheme: Scheme,
    /// The host.
    pub host: AllowedHost,
    /// The port; `None` for `*` (any port). Without a port in the grant, the scheme's.
    pub port: Option<u16>,
}

impl HttpOrigin {
    /// Whether a request to `scheme://host:port` is within this origin.
    pub fn admits(&self, scheme: Scheme, host: &AllowedHost, port: u16) -> bool {
        self.scheme == scheme && self.host == *host && self.port.is_none_or(|p| p == port)
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

/// A connector's outbound HTTP: the origins granted (none: every request is denied), the
/// bounds on its requests, and the TLS its `https://` origins are reached with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpGrant {
    /// The granted origins.
    pub origins: Vec<HttpOrigin>,
    /// The bounds.
    pub limits: HttpLimits,
    /// The trust of `https://` requests; `None` when no origin is https (nothing then needs
    /// it: an https request is not admitted).
    pub tls: Option<HttpTls>,
}

impl HttpGrant {
    /// Whether `scheme://host:port` is granted (the scheme too: http and https apart).
    pub fn admits(&self, scheme: &str, host: &AllowedHost, port: u16) -> bool {
        Scheme::parse(scheme).is_some_and(|s| self.origins.iter().any(|o| o.admits(s, host, port)))
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
                    scheme: Scheme::Http,
                    host: AllowedHost::parse("Api.Example.com"),
                    port: Some(8080),
                },
                HttpOrigin {
                    scheme: Scheme::Http,
                    host: AllowedHost::parse("[::1]"),
                    port: None,
                },
                HttpOrigin {
                    scheme: Scheme::Https,
                    host: AllowedHost::parse("secure.example"),
                    port: Some(443),
                },
            ],
            limits: HttpLimits::default(),
            tls: None,
        };
        assert!(g.admits("http", &AllowedHost::parse("api.example.COM."), 8080));
        assert!(!g.admits("http", &AllowedHost::parse("api.example.com"), 8081));
        assert!(!g.admits("https", &AllowedHost::parse("api.example.com"), 8080));
        assert!(!g.admits("http", &AllowedHost::parse("example.com"), 8080));
        assert!(g.admits("http", &AllowedHost::parse("[0:0::1]"), 1));
        assert!(!g.admits("http", &AllowedHost::parse("127.0.0.1"), 1));
        assert!(!HttpGrant::default().admits("http", &AllowedHost::parse("::1"), 80));
        // The scheme is matched too: each grant admits its own scheme alone.
        assert!(g.admits("HTTPS", &AllowedHost::parse("secure.example"), 443));
        assert!(!g.admits("http", &AllowedHost::parse("secure.example"), 443));
        assert!(!g.admits("https", &AllowedHost::parse("[::1]"), 443));
        assert!(!g.admits("ftp", &AllowedHost::parse("secure.example"), 443));
    }
}
