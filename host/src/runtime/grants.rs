//! What a plugin is granted: exactly the interfaces its world names in `wit/`, and nothing else.
//!
//! `wit/sandbox.wit` is the contract plugin authors read: the WASI interfaces every weir world
//! grants, and what each one does here. This file is its host side: [`link`] adds exactly those
//! interfaces to a world's linker (interface by interface, never the whole of WASI), and
//! [`check_imports`] refuses at load a component that imports anything else, naming the import,
//! before it is linked or stored.
//!
//! Why these WASI interfaces at all: language runtimes import them whether the plugin uses them
//! or not (a Rust std guest imports 13, CPython 25, among them sockets and the filesystem). They
//! are granted as interfaces, not as capabilities: the environment, arguments and preopened
//! directories are empty, stdin is closed, stdout and stderr go to the plugin's log, the network
//! is refused at every call ([`wasi_ctx`]; a connector may be granted TCP to pinned addresses,
//! [`connector_wasi_ctx`] and [`super::net`]), and every call that could block (`wasi:io/poll`)
//! is cut at the call's deadline ([`super::poll`]).

use wasmtime::Engine;
use wasmtime::component::{Component, HasData, Linker, ResourceTable};
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random, sockets, sync};
use wasmtime_wasi::random::{WasiRandom, WasiRandomView};
use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

use super::error::RuntimeError;
use super::guest_output::GuestOutput;
use super::host::HostState;
use super::net::{self, GrantedSockets, NetState};
use super::plugin::World;

/// The WASI 0.2 interfaces every weir world grants (any 0.2.x version; see `wit/sandbox.wit`).
pub const WASI_GRANTED: &[&str] = &[
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:sockets/network",
    "wasi:sockets/instance-network",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
    "wasi:sockets/ip-name-lookup",
];

/// The WASI interfaces only the connector worlds are granted: outbound HTTP, which reaches
/// only what a connector's `weir.allow.http` grants ([`super::http_send`]). Transforms and
/// processors are refused them at load.
pub const WASI_HTTP_GRANTED: &[&str] = &["wasi:http/types", "wasi:http/outgoing-handler"];

/// The weir interfaces of each world (version 0.1.0), as its `import`s in `wit/`.
fn weir_granted(world: World) -> &'static [&'static str] {
    match world {
        World::Transform | World::Aggregator | World::KeySelector | World::Joiner => {
            &["weir:plugin/types", "weir:plugin/config", "weir:plugin/log"]
        }
        World::Processor => &[
            "weir:plugin/types",
            "weir:plugin/config",
            "weir:plugin/log",
            "weir:plugin/state",
            "weir:plugin/window-state",
            "weir:plugin/session-state",
        ],
        World::SourceConnector => &[
            "weir:plugin/types",
            "weir:plugin/config",
            "weir:plugin/log",
            "weir:plugin/connect-types",
        ],
        World::SinkConnector => &[
            "weir:plugin/types",
            "weir:plugin/config",
            "weir:plugin/log",
            "weir:plugin/connect-types",
            "weir:plugin/sink-context",
        ],
    }
}

/// The one version of weir's own interfaces.
const WEIR_VERSION: &str = "0.1.0";
/// The WASI versions granted: 0.2.x, which wasmtime-wasi 48 serves (from 0.2.0 on, by semver).
const WASI_VERSION_PREFIX: &str = "0.2.";

/// Largest `get-random-bytes` answer: without a cap one call could make the host allocate
/// whatever length the guest names.
const MAX_RANDOM_BYTES: u64 = 1 << 20;

/// Whether `world` grants the import named `import` (`package:ns/interface@version`).
pub fn grants(world: World, import: &str) -> bool {
    let Some((path, version)) = import.split_once('@') else {
        return false;
    };
    if weir_granted(world).contains(&path) {
        return version == WEIR_VERSION;
    }
    let connector = matches!(world, World::SourceConnector | World::SinkConnector);
    let wasi = WASI_GRANTED.contains(&path) || (connector && WASI_HTTP_GRANTED.contains(&path));
    wasi && version.starts_with(WASI_VERSION_PREFIX)
}

/// Refuses a component importing anything its world does not grant, naming the first such
/// import. Runs before linking, so the answer names the import rather than a linker failure.
pub fn check_imports(
    plugin: &str,
    world: World,
    component: &Component,
    engine: &Engine,
) -> Result<(), RuntimeError> {
    let ty = component.component_type();
    let refused = ty
        .imports(engine)
        .map(|(name, _)| name)
        .find(|name| !grants(world, name));
    match refused {
        Some(import) => Err(RuntimeError::ImportNotGranted {
            plugin: plugin.to_owned(),
            import: import.to_owned(),
            world: world.name(),
        }),
        None => Ok(()),
    }
}

/// `wasi:io` resources live in the store's table.
struct Table;

impl HasData for Table {
    type Data<'a> = &'a mut ResourceTable;
}

/// Adds the granted WASI interfaces to `linker` (the weir ones come from the world's bindings).
pub fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    type T = HostState;
    let l = linker;
    wasmtime_wasi_io::bindings::wasi::io::error::add_to_linker::<T, Table>(l, |t| &mut t.table)?;
    super::poll::add_to_linker(l)?;
    sync::io::streams::add_to_linker::<T, Table>(l, |t| &mut t.table)?;
    clocks::wall_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    clocks::monotonic_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    random::random::add_to_linker::<T, WasiRandom>(l, T::random)?;
    random::insecure::add_to_linker::<T, WasiRandom>(l, T::random)?;
    random::insecure_seed::add_to_linker::<T, WasiRandom>(l, T::random)?;
    cli::exit::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::environment::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_input::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_output::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    filesystem::preopens::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    sync::filesystem::types::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    let network = sockets::network::LinkOptions::default();
    sockets::network::add_to_linker::<T, WasiSockets>(l, &network, T::sockets)?;
    sockets::instance_network::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    // Name lookup and socket creation go through the store's TCP grant (see `super::net`);
    // UDP socket creation is refused there, and reported.
    sockets::ip_name_lookup::add_to_linker::<T, GrantedSockets>(l, net::view)?;
    sockets::tcp_create_socket::add_to_linker::<T, GrantedSockets>(l, net::view)?;
    sync::sockets::tcp::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sync::sockets::udp::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sync::sockets::udp_create_socket::add_to_linker::<T, GrantedSockets>(l, net::view)?;
    Ok(())
}

/// Adds `wasi:http/types` and `wasi:http/outgoing-handler` to a connector world's linker;
/// each request goes through the store's [`super::http_send::HttpHooks`].
pub fn link_http(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wasmtime_wasi_http::p2::add_only_http_to_linker_sync(linker)
}

/// The WASI context of one store: nothing behind the granted interfaces but the clocks,
/// randomness, and stdout/stderr into the plugin's log. No environment, arguments or
/// preopened directories; stdin closed; TCP, UDP and name lookup refused at every call (and
/// refused before a socket is made, so a guest cannot pile up the host's file descriptors).
pub fn wasi_ctx(stdout: &GuestOutput, stderr: &GuestOutput) -> WasiCtx {
    WasiCtxBuilder::new()
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .max_random_size(MAX_RANDOM_BYTES)
        .build()
}

/// A directory a connector's `weir.allow.dirs` grants: preopened at the same path inside the
/// guest, so the paths in its config mean the same on both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirGrant {
    /// The directory on the host (absolute).
    pub path: std::path::PathBuf,
    /// Read-only (`path:ro`): files may be read, nothing created, written or removed.
    pub read_only: bool,
}

/// The WASI context of a connector's store: [`wasi_ctx`] plus the directories it is granted,
/// and TCP connects to the pinned addresses of its `weir.allow.tcp` entries ([`net`]); UDP,
/// listening and every other address stay refused.
pub fn connector_wasi_ctx(
    plugin: &str,
    stdout: &GuestOutput,
    stderr: &GuestOutput,
    dirs: &[DirGrant],
    net: &NetState,
) -> Result<WasiCtx, RuntimeError> {
    use wasmtime_wasi::FsPerms;
    let mut b = WasiCtxBuilder::new();
    let tcp = net.granted();
    b.stdout(stdout.clone())
        .stderr(stderr.clone())
        .allow_tcp(tcp.is_some())
        .allow_udp(false)
        // Lookups reach only `net`'s adapter, which answers pinned addresses, never DNS.
        .allow_ip_name_lookup(tcp.is_some())
        .max_random_size(MAX_RANDOM_BYTES);
    if let Some((grant, denied)) = tcp {
        b.socket_addr_check(net::socket_check(grant, denied));
    }
    for d in dirs {
        let perms = if d.read_only {
            FsPerms::ReadOnly
        } else {
            FsPerms::ReadWrite
        };
        let guest = d.path.to_string_lossy().into_owned();
        b.preopened_dir(&d.path, &guest, perms)
            .map_err(|source| RuntimeError::Instantiate {
                plugin: plugin.to_owned(),
                source: source
                    .context(format!("preopening {} (weir.allow.dirs)", d.path.display())),
            })?;
    }
    Ok(b.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_worlds_interfaces_at_their_versions_are_granted() {
        assert!(grants(World::Transform, "weir:plugin/config@0.1.0"));
        assert!(grants(World::Transform, "wasi:io/poll@0.2.6"));
        assert!(grants(World::Processor, "wasi:sockets/tcp@0.2.9"));
        assert!(grants(World::Processor, "weir:plugin/state@0.1.0"));
        assert!(!grants(World::Transform, "weir:plugin/state@0.1.0"));
        assert!(!grants(World::Transform, "weir:plugin/config@0.2.0"));
        assert!(!grants(World::Transform, "wasi:io/poll@0.3.0"));
        assert!(!grants(World::Transform, "wasi:io/poll"));
        assert!(!grants(
            World::Transform,
            "wasi:http/outgoing-handler@0.2.6"
        ));
        assert!(!grants(World::Processor, "wasi:keyvalue/store@0.2.0-draft"));
    }

    #[test]
    fn only_connector_worlds_are_granted_wasi_http() {
        for world in [World::SourceConnector, World::SinkConnector] {
            assert!(grants(world, "wasi:http/outgoing-handler@0.2.4"));
            assert!(grants(world, "wasi:http/types@0.2.6"));
            assert!(!grants(world, "wasi:http/incoming-handler@0.2.6"));
        }
        for world in [
            World::Transform,
            World::Processor,
            World::Aggregator,
            World::KeySelector,
        ] {
            assert!(!grants(world, "wasi:http/outgoing-handler@0.2.4"));
            assert!(!grants(world, "wasi:http/types@0.2.4"));
        }
        assert!(grants(
            World::SinkConnector,
            "weir:plugin/sink-context@0.1.0"
        ));
        assert!(!grants(
            World::SourceConnector,
            "weir:plugin/sink-context@0.1.0"
        ));
    }

    #[test]
    fn the_granted_interfaces_are_the_ones_wit_sandbox_names() {
        let wit = include_str!("../../../wit/sandbox.wit");
        let named: Vec<&str> = wit
            .lines()
            .filter_map(|l| l.trim().strip_prefix("import "))
            .map(|l| {
                l.trim_end_matches(';')
                    .split('@')
                    .next()
                    .unwrap_or_default()
            })
            .collect();
        let mut granted = WASI_GRANTED.to_vec();
        granted.sort_unstable();
        let mut named_sorted = named.clone();
        named_sorted.sort_unstable();
        assert_eq!(
            named_sorted, granted,
            "wit/sandbox.wit and WASI_GRANTED disagree"
        );
    }
}
