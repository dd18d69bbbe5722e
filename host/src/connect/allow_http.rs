//! `weir.allow.http` and the `weir.http.*` bounds, checked into the runtime's
//! [`HttpGrant`]: which origins a connector's wasi:http requests may reach, how much one
//! of them may make the host hold or wait for, and whom its https requests trust.
//!
//! `weir.allow.http` is comma-separated `scheme://host[:port]`, the scheme `http` or
//! `https`; the port `*` allows any port, no port means the scheme's (80, 443). A host is a
//! DNS name or an IP address (`[...]` around IPv6). Nothing else may be in an origin: no
//! path, query, user info or wildcard host, so what is granted is exactly what a request's
//! URI is compared with. `weir.http.ssl.ca.location` (an absolute path to a PEM bundle) is
//! trusted besides the machine's CA store; it is read here, once.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::runtime::connector::ConfigDef;
use crate::runtime::http_grant::{AllowedHost, HttpGrant, HttpLimits, HttpOrigin, HttpTls, Scheme};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::config::Issue;

/// The key of the grant.
pub const ALLOW_HTTP: &str = "weir.allow.http";
/// The key of the connector's own CA bundle for https.
pub const SSL_CA_LOCATION: &str = "weir.http.ssl.ca.location";
/// Largest CA bundle read (4 MiB, thousands of certificates): the file is held in memory.
pub const MAX_CA_BYTES: u64 = 4 << 20;
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
            "Origins the connector's outbound HTTP may reach, comma-separated http://host[:port] or https://host[:port] (port * for any); nothing else is reachable.",
        ),
        d(
            SSL_CA_LOCATION,
            "STRING",
            String::new(),
            "Absolute path of a PEM bundle of CA certificates trusted for https origins besides the machine's CA store; read when the config is checked.",
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
    let Some(scheme) = Scheme::parse(scheme) else {
        return Err(format!("{item:?}: scheme {scheme:?} is not http or https"));
    };
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
        None => Some(scheme.default_port()),
        Some("*") => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(format!("{item:?}: port {p:?} is not 1-65535 or *")),
        },
    };
    Ok(HttpOrigin {
        scheme,
        host: parsed,
        port,
    })
}

/// Parses `weir.allow.http`'s comma-separated origins.
pub fn parse_origins(text: &str) -> Result<Vec<HttpOrigin>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse_origin)
        .collect()
}

/// Reads `weir.http.ssl.ca.location`: an absolute path to a readable PEM file holding at
/// least one certificate.
fn ca_bundle(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let path = std::path::Path::new(path.trim());
    if !path.is_absolute() {
        return Err(format!("{path:?} is not an absolute path"));
    }
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{path:?} cannot be read: {e}"))?
        .len();
    if size > MAX_CA_BYTES {
        return Err(format!(
            "{path:?} is {size} bytes, over the {MAX_CA_BYTES}-byte limit of a CA bundle"
        ));
    }
    let pem = std::fs::read(path).map_err(|e| format!("{path:?} cannot be read: {e}"))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{path:?} is not PEM: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{path:?} holds no PEM certificate"));
    }
    Ok(certs)
}

/// The TLS of a grant: built when an origin is https (once, for every request of the
/// grant); the CA key is checked either way, so a bad path is refused before it matters.
fn tls(
    config: &BTreeMap<String, String>,
    origins: &[HttpOrigin],
    issues: &mut Vec<Issue>,
) -> Option<HttpTls> {
    let mut refuse = |why: String| {
        issues.push((
            SSL_CA_LOCATION.into(),
            format!("Invalid value for configuration {SSL_CA_LOCATION}: {why}"),
        ));
    };
    let extra = match config.get(SSL_CA_LOCATION).filter(|p| !p.trim().is_empty()) {
        None => Vec::new(),
        Some(path) => match ca_bundle(path) {
            Ok(certs) => certs,
            Err(why) => {
                refuse(why);
                return None;
            }
        },
    };
    if !origins.iter().any(|o| o.scheme == Scheme::Https) {
        return None;
    }
    match HttpTls::new(extra) {
        Ok(tls) => Some(tls),
        Err(e) => {
            refuse(format!("a certificate cannot be trusted: {e}"));
            None
        }
    }
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
                format!("Invalid value for configuration {ALLOW_HTTP}: {e}; expected comma-separated http://host[:port] or https://host[:port] (port * for any)"),
            ));
            Vec::new()
        }),
    };
    let tls = tls(config, &origins, issues);
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
        tls,
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
        assert!(o.iter().all(|o| o.scheme == Scheme::Http));
    }

    #[test]
    fn https_origins_default_to_443_and_keep_their_scheme() {
        let o = parse_origins("HTTPS://api.example, https://127.0.0.1:8443, http://api.example")
            .unwrap();
        assert_eq!((o[0].scheme, o[0].port), (Scheme::Https, Some(443)));
        assert_eq!(o[0].host, AllowedHost::Name("api.example".into()));
        assert_eq!((o[1].scheme, o[1].port), (Scheme::Https, Some(8443)));
        assert_eq!((o[2].scheme, o[2].port), (Scheme::Http, Some(80)));
        // The https grant admits https alone; the http grant of the same host http alone.
        assert!(o[0].admits(Scheme::Https, &o[0].host, 443));
        assert!(!o[0].admits(Scheme::Http, &o[0].host, 443));
        assert!(!o[2].admits(Scheme::Https, &o[2].host, 80));
    }

    fn with(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_https_grant_carries_its_tls_and_the_ca_key_is_read_and_refused_by_key() {
        let mut issues = Vec::new();
        let g = parse(&with(&[(ALLOW_HTTP, "https://h")]), &mut issues);
        assert!(issues.is_empty(), "{issues:?}");
        assert!(g.tls.is_some(), "an https origin gets its TLS built");
        let g = parse(&with(&[(ALLOW_HTTP, "http://h")]), &mut issues);
        assert!(g.tls.is_none(), "plain http needs none");

        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(
            &junk,
            "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let missing = dir.path().join("missing.pem");
        let huge = dir.path().join("huge.pem");
        std::fs::File::create(&huge)
            .unwrap()
            .set_len(MAX_CA_BYTES + 1)
            .unwrap();
        for (path, why) in [
            (huge.display().to_string(), "over the 4194304-byte limit"),
            ("ca.pem".to_string(), "not an absolute path"),
            (missing.display().to_string(), "cannot be read"),
            (empty.display().to_string(), "holds no PEM certificate"),
            (junk.display().to_string(), ""),
        ] {
            let mut issues = Vec::new();
            let g = parse(
                &with(&[(ALLOW_HTTP, "https://h"), (SSL_CA_LOCATION, path.as_str())]),
                &mut issues,
            );
            assert_eq!(issues.len(), 1, "{path}: {issues:?}");
            assert_eq!(issues[0].0, SSL_CA_LOCATION);
            assert!(issues[0].1.contains(why), "{path}: {}", issues[0].1);
            assert!(g.tls.is_none());
        }
    }

    #[test]
    fn bad_origins_are_refused_saying_why() {
        for (bad, why) in [
            ("127.0.0.1:80", "scheme://host"),
            ("https://a.example/x", "alone"),
            ("ftp://a.example", "is not http or https"),
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
            (ALLOW_HTTP, "http://h:1,gopher://h"),
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
