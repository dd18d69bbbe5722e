//! [`Admission`]: how many connections the Kafka listener holds, in all and per client
//! address. A connection over either cap is closed at once (Kafka's `max.connections`
//! and `max.connections.per.ip` do the same), so one client cannot take every file
//! descriptor the broker has and fence its partitions' segment rolls with EMFILE.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

/// Open connections, counted against the caps.
#[derive(Debug)]
pub struct Admission {
    /// The `weir.toml` section the caps come from (`kafka`, `http`), for messages.
    section: &'static str,
    max_total: usize,
    max_per_ip: usize,
    open: Mutex<Open>,
    /// When a refusal was last logged: at most one a second, so a flood of
    /// connections does not flood the log.
    last_logged: Mutex<Option<Instant>>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// A connection let in; dropping it frees its place.
#[derive(Debug)]
pub struct Ticket {
    admission: Arc<Admission>,
    ip: IpAddr,
}

/// Why a connection was turned away.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The listener holds `max` connections.
    #[error("{max} connections open ({section}.max_connections)")]
    Total { max: usize, section: &'static str },
    /// This address holds `max` connections.
    #[error("{max} connections open from {ip} ({section}.max_connections_per_ip)")]
    PerIp {
        ip: IpAddr,
        max: usize,
        section: &'static str,
    },
}

impl Admission {
    /// Caps of `max_total` connections, `max_per_ip` from one address, set in
    /// `section` of `weir.toml`.
    pub fn new(section: &'static str, max_total: usize, max_per_ip: usize) -> Arc<Admission> {
        Arc::new(Admission {
            section,
            max_total,
            max_per_ip,
            open: Mutex::new(Open::default()),
            last_logged: Mutex::new(None),
        })
    }

    /// Lets a connection from `peer` in, or logs why not (at most once a second) and
    /// answers `None`: the caller closes it.
    pub fn admit_or_log(self: &Arc<Self>, peer: SocketAddr) -> Option<Ticket> {
        match self.admit(peer.ip()) {
            Ok(ticket) => Some(ticket),
            Err(refused) => {
                let mut last = self.last_logged.lock();
                if last.is_none_or(|t| t.elapsed().as_secs() >= 1) {
                    tracing::warn!(%peer, listener = self.section, "closing a new connection: {refused}");
                    *last = Some(Instant::now());
                }
                None
            }
        }
    }

    /// Lets a connection from `ip` in, or says why not.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Ticket, Refused> {
        let mut open = self.open.lock();
        if open.total >= self.max_total {
            return Err(Refused::Total {
                max: self.max_total,
                section: self.section,
            });
        }
        let from_ip = open.per_ip.entry(ip).or_default();
        if *from_ip >= self.max_per_ip {
            return Err(Refused::PerIp {
                ip,
                max: self.max_per_ip,
                section: self.section,
            });
        }
        *from_ip += 1;
        open.total += 1;
        Ok(Ticket {
            admission: self.clone(),
            ip,
        })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut open = self.admission.open.lock();
        open.total -= 1;
        if let Some(n) = open.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hold_and_a_closed_connection_frees_its_place() {
        let a = Admission::new("kafka", 3, 2);
        let (x, y): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let x1 = a.admit(x).unwrap();
        let _x2 = a.admit(x).unwrap();
        let refused = a.admit(x).unwrap_err();
        assert_eq!(
            refused,
            Refused::PerIp {
                ip: x,
                max: 2,
                section: "kafka"
            }
        );
        assert!(refused.to_string().contains("kafka.max_connections_per_ip"));
        let _y1 = a.admit(y).unwrap();
        assert_eq!(
            a.admit(y).unwrap_err(),
            Refused::Total {
                max: 3,
                section: "kafka"
            }
        );
        drop(x1);
        let _y2 = a.admit(y).unwrap();
    }
}
