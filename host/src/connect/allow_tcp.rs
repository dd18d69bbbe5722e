//! `weir.allow.tcp`: the `host:port` entries a connector may open TCP connections to, parsed
//! and resolved by the host once, when the config is checked, into a [`TcpGrant`] whose
//! addresses are pinned: the connector's connects are checked against those addresses, so a
//! name that later resolves elsewhere (DNS rebinding) does not widen the grant.
//!
//! `weir.tcp.max.sockets` caps the TCP sockets one task holds open at once (default
//! [`DEFAULT_MAX_SOCKETS`]); the server's `connect.max_tcp_sockets_per_task` caps that.

use std::net::{IpAddr, ToSocketAddrs};

use crate::runtime::net::{DEFAULT_MAX_SOCKETS, TcpEntry, TcpGrant};

/// Most entries one connector may list: each is resolved while the config is checked.
pub const MAX_ENTRIES: usize = 32;

/// The config key of the cap on a task's open TCP sockets.
pub const MAX_SOCKETS: &str = "weir.tcp.max.sockets";

/// Reads `weir.tcp.max.sockets`: a whole number from 1 up, or the default. The server's
/// ceiling is checked by the service, which knows it.
pub fn max_sockets(
    config: &std::collections::BTreeMap<String, String>,
) -> Result<usize, (String, String)> {
    let Some(text) = config.get(MAX_SOCKETS) else {
        return Ok(DEFAULT_MAX_SOCKETS);
    };
    match text.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err((
            MAX_SOCKETS.to_string(),
            format!(
                "Invalid value {text} for configuration {MAX_SOCKETS}: Value must be a whole number of at least 1"
            ),
        )),
    }
}

/// Why `weir.allow.tcp` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowTcpError {
    /// An entry is not `host:port`.
    #[error("{entry:?} is not host:port (an IPv6 address is written [addr]:port)")]
    NotHostPort {
        /// The entry as written.
        entry: String,
    },
    /// The port is not a number from 1 to 65535.
    #[error("{entry:?} has no port from 1 to 65535")]
    BadPort {
        /// The entry as written.
        entry: String,
    },
    /// The name could not be resolved.
    #[error("{host:?} could not be resolved: {reason}")]
    Unresolvable {
        /// The name.
        host: String,
        /// What the resolver said.
        reason: String,
    },
    /// More entries than [`MAX_ENTRIES`].
    #[error("{count} entries; at most {MAX_ENTRIES} are allowed")]
    TooMany {
        /// How many were listed.
        count: usize,
    },
}

/// Splits one entry into host and port.
fn split(entry: &str) -> Result<(String, u16), AllowTcpError> {
    let not = || AllowTcpError::NotHostPort {
        entry: entry.to_string(),
    };
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let (h, p) = rest.split_once("]:").ok_or_else(not)?;
        (h, p)
    } else {
        entry.rsplit_once(':').ok_or_else(not)?
    };
    if host.is_empty() || host.contains(':') && !entry.starts_with('[') {
        return Err(not());
    }
    if host
        .chars()
        .any(|c| c.is_whitespace() || c == '/' || c == '@')
    {
        return Err(not());
    }
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p != 0)
        .ok_or(AllowTcpError::BadPort {
            entry: entry.to_string(),
        })?;
    Ok((host.to_string(), port))
}

/// The addresses `host` stands for: itself if it is an IP literal, else what the host's
/// resolver answers now.
fn resolve(host: &str, port: u16) -> Result<Vec<IpAddr>, AllowTcpError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip.to_canonical()]);
    }
    let unresolvable = |reason: String| AllowTcpError::Unresolvable {
        host: host.to_string(),
        reason,
    };
    let mut addrs: Vec<IpAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| unresolvable(e.to_string()))?
        .map(|a| a.ip().to_canonical())
        .collect();
    addrs.sort();
    addrs.dedup();
    if addrs.is_empty() {
        return Err(unresolvable("no address".into()));
    }
    // IPv4 first: what a guest's lookup answers is the first pinned address.
    addrs.sort_by_key(|a| a.is_ipv6());
    Ok(addrs)
}

/// Parses and resolves `weir.allow.tcp`: comma-separated `host:port`.
pub fn parse(text: &str) -> Result<TcpGrant, AllowTcpError> {
    let items: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.len() > MAX_ENTRIES {
        return Err(AllowTcpError::TooMany { count: items.len() });
    }
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        let (host, port) = split(item)?;
        let addrs = resolve(&host, port)?;
        entries.push(TcpEntry { host, port, addrs });
    }
    Ok(TcpGrant {
        entries,
        max_sockets: DEFAULT_MAX_SOCKETS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_parsed_and_pinned() {
        let g = parse("127.0.0.1:5432, [::1]:6000,localhost:7000").unwrap();
        assert_eq!(g.entries.len(), 3);
        assert_eq!(
            g.entries[0].addrs,
            vec!["127.0.0.1".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(g.entries[1].host, "::1");
        assert_eq!(g.entries[1].port, 6000);
        assert!(!g.entries[2].addrs.is_empty());
        assert!(g.allows("127.0.0.1:5432".parse().unwrap()));
        assert!(!g.allows("127.0.0.1:5433".parse().unwrap()));
    }

    #[test]
    fn bad_entries_are_named() {
        for (text, want) in [
            ("db", "is not host:port"),
            ("db:", "no port"),
            ("db:0", "no port"),
            ("db:70000", "no port"),
            ("::1:5432", "is not host:port"),
            ("http://db:80", "is not host:port"),
            ("no-such-host.invalid:5432", "could not be resolved"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
        let many = vec!["127.0.0.1:1"; MAX_ENTRIES + 1].join(",");
        assert!(parse(&many).unwrap_err().to_string().contains("at most"));
    }

    #[test]
    fn the_socket_cap_is_read_with_its_default_and_bad_values_named() {
        let config = |v: &str| [(MAX_SOCKETS.to_string(), v.to_string())].into();
        assert_eq!(max_sockets(&Default::default()), Ok(DEFAULT_MAX_SOCKETS));
        assert_eq!(max_sockets(&config(" 3 ")), Ok(3));
        for bad in ["0", "-1", "many", ""] {
            let (key, message) = max_sockets(&config(bad)).unwrap_err();
            assert_eq!(key, MAX_SOCKETS);
            assert!(message.contains("at least 1"), "{bad}: {message}");
        }
    }
}
