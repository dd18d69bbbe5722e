//! Outbound TCP a connector's store is granted (`weir.allow.tcp`), and nothing more.
//!
//! - [`TcpGrant`]: the granted `host:port` entries with the addresses the host resolved for
//!   them once ([`TcpEntry`]), and the cap on sockets one store may hold open.
//! - [`socket_check`]: the `socket_addr_check` of the store's WASI context: a connect to a
//!   pinned address of a granted entry passes; a connect anywhere else, a listen, an explicit
//!   bind and every UDP use are refused and reported through the [`DeniedHook`].
//! - [`GrantedSockets`]: the `wasi:sockets/tcp-create-socket`, `udp-create-socket` and
//!   `ip-name-lookup` adapters every world links in place of wasmtime-wasi's: TCP socket
//!   creation counts against the cap (`weir.tcp.max.sockets`), UDP socket creation is refused
//!   and reported like any other refusal (weir grants no UDP), and a name lookup answers a
//!   granted name's pinned address without asking DNS (a lookup of any other name is refused,
//!   so a connector cannot leak data through DNS queries or be steered by a record that
//!   changes between the check and the connect).
//!
//! The check sees the real address the socket connects to, never a name or a header.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use wasmtime::component::{HasData, Resource};
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{
    self, HostResolveAddressStream, ResolveAddressStream,
};
use wasmtime_wasi::p2::bindings::sockets::network::{
    self, ErrorCode, IpAddress, IpAddressFamily, Network,
};
use wasmtime_wasi::p2::bindings::sockets::tcp_create_socket;
use wasmtime_wasi::p2::bindings::sync::sockets::{udp, udp_create_socket};
use wasmtime_wasi::p2::{DynPollable, SocketError, SocketResult, TcpSocket, UdpSocket};
use wasmtime_wasi::sockets::{SocketAddrUse, WasiSocketsCtxView};

use super::host::HostState;

/// Sockets one store may hold open when the config names no other cap
/// (`weir.tcp.max.sockets`): a sink or source needs one or two connections; each is a file
/// descriptor of the host's.
pub const DEFAULT_MAX_SOCKETS: usize = 8;

/// Told of each refused network use, with a message naming what was refused and why (the
/// connect layer logs it in the connector's log and counts it).
pub type DeniedHook = Arc<dyn Fn(&str) + Send + Sync>;

/// One granted `host:port`, with the addresses the host resolved its name to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpEntry {
    /// The name as written (a DNS name or an IP literal).
    pub host: String,
    /// The port.
    pub port: u16,
    /// The pinned addresses: a connect succeeds only to one of these, at `port`.
    pub addrs: Vec<IpAddr>,
}

/// What TCP a store is granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpGrant {
    /// The granted entries (none: no network at all).
    pub entries: Vec<TcpEntry>,
    /// Most TCP sockets the store may hold at once (`weir.tcp.max.sockets`).
    pub max_sockets: usize,
}

impl Default for TcpGrant {
    fn default() -> Self {
        TcpGrant {
            entries: Vec::new(),
            max_sockets: DEFAULT_MAX_SOCKETS,
        }
    }
}

impl TcpGrant {
    /// Whether a connect to `addr` is granted.
    pub fn allows(&self, addr: SocketAddr) -> bool {
        let ip = addr.ip().to_canonical();
        self.entries
            .iter()
            .any(|e| e.port == addr.port() && e.addrs.contains(&ip))
    }

    /// The granted entries as the config wrote them, for messages.
    pub fn describe(&self) -> String {
        if self.entries.is_empty() {
            return "weir.allow.tcp is not set".into();
        }
        let list: Vec<String> = self
            .entries
            .iter()
            .map(|e| format!("{}:{}", e.host, e.port))
            .collect();
        format!("weir.allow.tcp grants {}", list.join(","))
    }

    /// The pinned address a lookup of `name` answers, if `name` is a granted host.
    fn pinned(&self, name: &str) -> Option<IpAddr> {
        self.entries
            .iter()
            .find(|e| e.host.eq_ignore_ascii_case(name))
            .and_then(|e| e.addrs.first().copied())
    }
}

/// The network state of one store: its grant, who hears of refusals, and the sockets it made.
#[derive(Clone, Default)]
pub struct NetState {
    grant: Arc<TcpGrant>,
    denied: Option<DeniedHook>,
    /// Table indices of the TCP sockets made; those no longer in the table are closed.
    sockets: Vec<u32>,
}

impl NetState {
    /// The state of a store granted `grant`, telling `denied` of each refusal.
    pub fn new(grant: Arc<TcpGrant>, denied: DeniedHook) -> NetState {
        NetState {
            grant,
            denied: Some(denied),
            sockets: Vec::new(),
        }
    }

    /// The grant and hook when the store is granted any TCP at all.
    pub(crate) fn granted(&self) -> Option<(Arc<TcpGrant>, DeniedHook)> {
        match &self.denied {
            Some(hook) if !self.grant.entries.is_empty() => {
                Some((self.grant.clone(), hook.clone()))
            }
            _ => None,
        }
    }

    fn deny(&self, message: &str) {
        if let Some(hook) = &self.denied {
            hook(message);
        }
    }
}

/// The `socket_addr_check` of a store granted `grant`: connects to pinned addresses only.
/// The implicit bind a connect makes (the wildcard address, port 0) passes; nothing else does.
pub fn socket_check(
    grant: Arc<TcpGrant>,
    denied: DeniedHook,
) -> impl Fn(SocketAddr, SocketAddrUse) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send + Sync>>
+ Send
+ Sync
+ 'static {
    move |addr, use_| {
        let ok = match use_ {
            SocketAddrUse::TcpConnect => grant.allows(addr),
            SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
            _ => false,
        };
        if !ok {
            let what = match use_ {
                SocketAddrUse::TcpConnect => "TCP connect to",
                SocketAddrUse::TcpBind => "TCP bind to",
                SocketAddrUse::TcpListen | SocketAddrUse::TcpAccept => "TCP listen on",
                _ => "UDP use of",
            };
            denied(&format!(
                "{what} {addr} refused: not granted ({})",
                grant.describe()
            ));
        }
        Box::pin(std::future::ready(ok))
    }
}

/// The socket interfaces weir links itself (see the module doc).
pub(crate) struct GrantedSockets;

impl HasData for GrantedSockets {
    type Data<'a> = GrantedSocketsView<'a>;
}

/// wasmtime-wasi's sockets view with the store's [`NetState`] beside it.
pub(crate) struct GrantedSocketsView<'a> {
    inner: WasiSocketsCtxView<'a>,
    net: &'a mut NetState,
}

/// The view of `state`'s sockets (the linker's getter).
pub(crate) fn view(state: &mut HostState) -> GrantedSocketsView<'_> {
    GrantedSocketsView {
        inner: WasiSocketsCtxView {
            ctx: state.wasi.sockets(),
            table: &mut state.table,
        },
        net: &mut state.net,
    }
}

impl network::Host for GrantedSocketsView<'_> {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
        network::Host::convert_error_code(&mut self.inner, error)
    }

    fn network_error_code(
        &mut self,
        err: Resource<wasmtime_wasi::p2::bindings::io::error::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        network::Host::network_error_code(&mut self.inner, err)
    }
}

impl network::HostNetwork for GrantedSocketsView<'_> {
    fn drop(&mut self, this: Resource<Network>) -> wasmtime::Result<()> {
        network::HostNetwork::drop(&mut self.inner, this)
    }
}

impl tcp_create_socket::Host for GrantedSocketsView<'_> {
    fn create_tcp_socket(
        &mut self,
        address_family: IpAddressFamily,
    ) -> SocketResult<Resource<TcpSocket>> {
        let table = &*self.inner.table;
        self.net
            .sockets
            .retain(|rep| table.get(&Resource::<TcpSocket>::new_borrow(*rep)).is_ok());
        let max = self.net.grant.max_sockets;
        if !self.net.grant.entries.is_empty() && self.net.sockets.len() >= max {
            self.net.deny(&format!(
                "a new TCP socket refused: this task holds {max} open, the most weir.tcp.max.sockets lets it (close one first)"
            ));
            return Err(ErrorCode::NewSocketLimit.into());
        }
        let socket = tcp_create_socket::Host::create_tcp_socket(&mut self.inner, address_family)?;
        self.net.sockets.push(socket.rep());
        Ok(socket)
    }
}

impl udp_create_socket::Host for GrantedSocketsView<'_> {
    /// Refused always: no config grants UDP. Refused here rather than by wasmtime-wasi's
    /// `allow_udp(false)`, so that the refusal is reported and counted like a TCP one.
    fn create_udp_socket(
        &mut self,
        _address_family: udp::IpAddressFamily,
    ) -> SocketResult<Resource<UdpSocket>> {
        self.net.deny(
            "a UDP socket refused: weir grants connectors no UDP (only TCP, by weir.allow.tcp)",
        );
        Err(ErrorCode::AccessDenied.into())
    }
}

impl ip_name_lookup::Host for GrantedSocketsView<'_> {
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
    ) -> SocketResult<Resource<ResolveAddressStream>> {
        let literal = name.parse::<IpAddr>().is_ok();
        let answer = match self.net.grant.pinned(&name) {
            Some(ip) => ip.to_string(),
            None if literal && !self.net.grant.entries.is_empty() => name,
            None => {
                self.net.deny(&format!(
                    "name lookup of {name:?} refused: not granted ({})",
                    self.net.grant.describe()
                ));
                return Err(ErrorCode::AccessDenied.into());
            }
        };
        ip_name_lookup::Host::resolve_addresses(&mut self.inner, network, answer)
    }
}

impl HostResolveAddressStream for GrantedSocketsView<'_> {
    fn resolve_next_address(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> SocketResult<Option<IpAddress>> {
        HostResolveAddressStream::resolve_next_address(&mut self.inner, stream)
    }

    fn subscribe(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        HostResolveAddressStream::subscribe(&mut self.inner, stream)
    }

    fn drop(&mut self, stream: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        HostResolveAddressStream::drop(&mut self.inner, stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> TcpGrant {
        TcpGrant {
            entries: vec![TcpEntry {
                host: "db.local".into(),
                port: 5432,
                addrs: vec!["127.0.0.1".parse().unwrap()],
            }],
            max_sockets: 2,
        }
    }

    #[test]
    fn only_pinned_addresses_at_the_granted_port_pass() {
        let g = grant();
        assert!(g.allows("127.0.0.1:5432".parse().unwrap()));
        assert!(g.allows("[::ffff:127.0.0.1]:5432".parse().unwrap()));
        assert!(!g.allows("127.0.0.1:5433".parse().unwrap()));
        assert!(!g.allows("127.0.0.2:5432".parse().unwrap()));
        assert_eq!(g.pinned("DB.local"), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(g.pinned("other"), None);
    }

    #[test]
    fn the_check_refuses_listen_udp_and_other_hosts_and_reports_each() {
        let seen = Arc::new(parking_lot::Mutex::new(Vec::<String>::new()));
        let s = seen.clone();
        let check = socket_check(
            Arc::new(grant()),
            Arc::new(move |m| s.lock().push(m.into())),
        );
        let run = |addr: &str, u| {
            let fut = check(addr.parse().unwrap(), u);
            futures_ready(fut)
        };
        assert!(run("127.0.0.1:5432", SocketAddrUse::TcpConnect));
        assert!(run("0.0.0.0:0", SocketAddrUse::TcpBind));
        assert!(!run("127.0.0.1:5433", SocketAddrUse::TcpConnect));
        assert!(!run("0.0.0.0:5432", SocketAddrUse::TcpBind));
        assert!(!run("0.0.0.0:0", SocketAddrUse::TcpListen));
        assert!(!run("127.0.0.1:5432", SocketAddrUse::UdpSend));
        let seen = seen.lock();
        assert_eq!(seen.len(), 4);
        assert!(seen[0].contains("TCP connect to 127.0.0.1:5433 refused"));
        assert!(seen[0].contains("db.local:5432"));
    }

    /// Polls a future that is ready at once.
    fn futures_ready(fut: std::pin::Pin<Box<dyn Future<Output = bool> + Send + Sync>>) -> bool {
        let mut fut = fut;
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("the check is synchronous"),
        }
    }
}
