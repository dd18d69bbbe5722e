//! `weir.allow.http` and the `weir.http.*` bounds, checked into the runtime's
//! [`HttpGrant`]: which origins a connector's wasi:http requests may reach, and how much one
//! of them may make the host hold or wait for.
//!
//! `weir.allow.http` is comma-separated `http://host[:port]`; the port `*` allows any port,
//! no port means the scheme's (80). A host is a DNS name or an IP address (`[...]` around
//! IPv6). Nothing else may be in an origin: no path, query, user info or wildcard host, so
//! what is granted is exactly what a request's URI is compared with. `https` is refused:
//! this weir opens no TLS connection for a connector yet.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::runtime::connector::ConfigDef;
use crate::runtime::http_grant::{AllowedHost, HttpGrant, HttpLimits, HttpOrigin};

use super::config::Issue;

/// The key of the grant.
pub const ALLOW_HTTP: &str = "weir.allow.http";
/// Largest `weir.http.request.max.bytes` / `weir.http.response.max.bytes` (64 MiB): what
/// one request may make the host buffer.
pub const MAX_BODY_BYTES: u64 = 64 << 20;
/// Longest `weir.http.timeout.ms` (5 minutes).
pub const MAX_TIMEOUT_MS: u64 = 300_000;
/// Most `weir.http.max.in.flight` (64 requests open per task).
pub const MAX_IN_FLIGHT: u64 = 64;

/// The keys of this file, as `GET /connector-plugins/{type}/config` lists them.
pub fn config_defs() -> Vec<ConfigDef> {
    let d = |name: &str, kind: &str, default: String, doc: &str| ConfigDef {
        name: name.into(),
        kind: kind.into(),
        required: false,
        default_value: Some(default),
        importance: "LOW".into(),
        documentation: doc.into(),
    };
    let l = HttpLimits::default();
    vec![
        d(
            ALLOW_HTTP,
            "LIST",
            String::new(),
            "Origins the connector's outbound HTTP may reach, comma-separated http://host[:port] (port * for any); nothing else is reachable.",
        ),
        d(
            "weir.http.request.max.bytes",
            "LONG",
            l.max_request_bytes.to_string(),
            "Largest request body the connector may send (at most 64 MiB).",
        ),
        d(
            "weir.http.response.max.bytes",
            "LONG",
            l.max_response_bytes.to_string(),
            "Largest response body the connector may read (at most 64 MiB).",
        ),
        d(
            "weir.http.timeout.ms",
            "LONG",
            l.timeout.as_millis().to_string(),
            "Longest one request may take, from resolving its host to the response's last byte (at most 300000).",
        ),
        d(
            "weir.http.max.in.flight",
            "INT",
            l.max_in_flight.to_string(),
            "Most requests one task may have open at once (at most 64).",
        ),
    ]
}

/// Parses one origin of `weir.allow.http`.
pub fn parse_origin(item: &str) -> Result<HttpOrigin, String> {
    let Some((scheme, rest)) = item.split_once("://") else {
        return Err(format!("{item:?} is not scheme://host[:port]"));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "http" => {}
        "https" => {
            return Err(format!(
                "{item:?}: https is not supported yet (connectors get plain http only)"
            ));
        }
        other => return Err(format!("{item:?}: scheme {other:?} is not http")),
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', '*']) && !rest.ends_with(":*") {
        return Err(format!(
            "{item:?} must be scheme://host[:port] alone (no path, query, user or wildcard host)"
        ));
    }
    // The port is after the last ':' outside an IPv6 literal's brackets.
    let (host, port) = match rest.rfind(':') {
        Some(i) if !rest[i..].contains(']') => (&rest[..i], Some(&rest[i + 1..])),
        _ => (rest, None),
    };
    if host.is_empty() || host.contains(['*', '/', '?', '#', '@']) {
        return Err(format!("{item:?} has no usable host"));
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(format!("{item:?}: an IPv6 host is written in brackets"));
    }
    let parsed = AllowedHost::parse(host);
    if let AllowedHost::Name(name) = &parsed {
        let ok = name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !ok {
            return Err(format!(
                "{item:?}: {host:?} is not a host name or IP address"
            ));
        }
    }
    let port = match port {
        None => Some(80),
        Some("*") => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(format!("{item:?}: port {p:?} is not 1-65535 or *")),
        },
    };
    Ok(HttpOrigin { host: parsed, port })
}

/// Parses `weir.allow.http`'s comma-separated origins.
pub fn parse_origins(text: &str) -> Result<Vec<HttpOrigin>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse_origin)
        .collect()
}

/// A `weir.http.*` bound: a whole number from `min` to `max`, or its default.
fn bound(
    config: &BTreeMap<String, String>,
    key: &str,
    default: u64,
    (min, max): (u64, u64),
    issues: &mut Vec<Issue>,
) -> u64 {
    let Some(text) = config.get(key) else {
        return default;
    };
    match text.trim().parse::<u64>() {
        Ok(v) if (min..=max).contains(&v) => v,
        _ => {
            issues.push((
                key.to_string(),
                format!("Invalid value {text} for configuration {key}: Value must be a whole number from {min} to {max}"),
            ));
            default
        }
    }
}

/// Checks `weir.allow.http` and the `weir.http.*` bounds; every problem names its key.
pub fn parse(config: &BTreeMap<String, String>, issues: &mut Vec<Issue>) -> HttpGrant {
    let origins = match config.get(ALLOW_HTTP) {
        None => Vec::new(),
        Some(text) => parse_origins(text).unwrap_or_else(|e| {
            issues.push((
                ALLOW_HTTP.into(),
                format!("Invalid value for configuration {ALLOW_HTTP}: {e}; expected comma-separated http://host[:port] (port * for any)"),
            ));
            Vec::new()
        }),
    };
    let d = HttpLimits::default();
    let max_request_bytes = bound(
        config,
        "weir.http.request.max.bytes",
        d.max_request_bytes,
        (1, MAX_BODY_BYTES),
        issues,
    );
    let max_response_bytes = bound(
        config,
        "weir.http.response.max.bytes",
        d.max_response_bytes,
        (1, MAX_BODY_BYTES),
        issues,
    );
    let timeout_ms = bound(
        config,
        "weir.http.timeout.ms",
        d.timeout.as_millis() as u64,
        (1, MAX_TIMEOUT_MS),
        issues,
    );
    let max_in_flight = bound(
        config,
        "weir.http.max.in.flight",
        d.max_in_flight as u64,
        (1, MAX_IN_FLIGHT),
        issues,
    );
    HttpGrant {
        origins,
        limits: HttpLimits {
            max_request_bytes,
            max_response_bytes,
            timeout: Duration::from_millis(timeout_ms),
            max_in_flight: max_in_flight as usize,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    #[test]
    fn origins_parse_into_host_and_port() {
        let o = parse_origins(" http://127.0.0.1:8080, http://Api.Example.com ,http://[::1]:*")
            .unwrap();
        assert_eq!(o[0].host, AllowedHost::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!(o[0].port, Some(8080));
        assert_eq!(o[1].host, AllowedHost::Name("api.example.com".into()));
        assert_eq!(o[1].port, Some(80));
        assert_eq!(o[2].host, AllowedHost::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(o[2].port, None);
        assert_eq!(parse_origins("http://h/").unwrap()[0].port, Some(80));
        assert!(parse_origins("").unwrap().is_empty());
    }

    #[test]
    fn bad_origins_are_refused_saying_why() {
        for (bad, why) in [
            ("127.0.0.1:80", "scheme://host"),
            ("https://a.example", "https is not supported"),
            ("ftp://a.example", "is not http"),
            ("http://a.example/path", "alone"),
            ("http://user@a.example", "alone"),
            ("http://*.example", "alone"),
            ("http://a.example:0", "not 1-65535"),
            ("http://a.example:99999", "not 1-65535"),
            ("http://a.example:x", "not 1-65535"),
            ("http://::1", "brackets"),
            ("http://a_b.example", "not a host name"),
            ("http://", "alone"),
        ] {
            let e = parse_origins(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn bounds_default_and_refuse_out_of_range_values_by_key() {
        let mut issues = Vec::new();
        let g = parse(&BTreeMap::new(), &mut issues);
        assert!(issues.is_empty() && g.origins.is_empty());
        assert_eq!(g.limits, HttpLimits::default());
        let config: BTreeMap<String, String> = [
            (ALLOW_HTTP, "http://h:1,https://h"),
            ("weir.http.request.max.bytes", "0"),
            ("weir.http.response.max.bytes", "1048576"),
            ("weir.http.timeout.ms", "999999999"),
            ("weir.http.max.in.flight", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let g = parse(&config, &mut issues);
        let keys: Vec<&str> = issues.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                ALLOW_HTTP,
                "weir.http.request.max.bytes",
                "weir.http.timeout.ms",
                "weir.http.max.in.flight"
            ]
        );
        assert_eq!(g.limits.max_response_bytes, 1 << 20);
    }
}
