//! [`Admission`]: how many connections the Kafka listener holds, in all and per client
//! address. A connection over either cap is closed at once (Kafka's `max.connections`
//! and `max.connections.per.ip` do the same), so one client cannot take every file
//! descriptor the broker has and fence its partitions' segment rolls with EMFILE.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use parking_lot::Mutex;

/// Open connections, counted against the caps.
#[derive(Debug)]
pub struct Admission {
    max_total: usize,
    max_per_ip: usize,
    open: Mutex<Open>,
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
    #[error("{max} connections open (kafka.max_connections)")]
    Total { max: usize },
    /// This address holds `max` connections.
    #[error("{max} connections open from {ip} (kafka.max_connections_per_ip)")]
    PerIp { ip: IpAddr, max: usize },
}

impl Admission {
    /// Caps of `max_total` connections, `max_per_ip` from one address.
    pub fn new(max_total: usize, max_per_ip: usize) -> Arc<Admission> {
        Arc::new(Admission {
            max_total,
            max_per_ip,
            open: Mutex::new(Open::default()),
        })
    }

    /// Lets a connection from `ip` in, or says why not.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Ticket, Refused> {
        let mut open = self.open.lock();
        if open.total >= self.max_total {
            return Err(Refused::Total {
                max: self.max_total,
            });
        }
        let from_ip = open.per_ip.entry(ip).or_default();
        if *from_ip >= self.max_per_ip {
            return Err(Refused::PerIp {
                ip,
                max: self.max_per_ip,
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
        let a = Admission::new(3, 2);
        let (x, y): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let x1 = a.admit(x).unwrap();
        let _x2 = a.admit(x).unwrap();
        assert_eq!(a.admit(x).unwrap_err(), Refused::PerIp { ip: x, max: 2 });
        let _y1 = a.admit(y).unwrap();
        assert_eq!(a.admit(y).unwrap_err(), Refused::Total { max: 3 });
        drop(x1);
        let _y2 = a.admit(y).unwrap();
    }
}
