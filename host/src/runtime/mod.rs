//! The Wasm runtime: loads plugin components and runs batches of records through them.
//!
//! It takes records and returns records; it knows nothing of topics on disk, HTTP or Kafka.
//!
//! - [`bindings`]: the one `bindgen!` site (the worlds of `wit/`).
//! - [`engine`]: [`Runtime`], the shared engine, linkers, epoch ticker and loader.
//! - [`cache`]: precompiled components on disk, keyed by content digest and engine settings.
//! - [`plugin`]: [`Plugin`], a validated, precompiled component and the world it implements.
//! - [`instance`]: [`Instance`], one store per task: runs batches, rebuilt after a trap.
//! - [`processor`]: the processor world's calls on an instance (init, the wall-clock
//!   timer, stream-time punctuation), and [`StreamSettings`].
//! - [`window_host`]: the host side of a processor's window and session stores.
//! - [`aggregator`]: the aggregator world's calls on an instance (initial, add, merge,
//!   subtract), one record or two aggregates at a time.
//! - [`key_selector`]: the key-selector world's call on an instance: a batch's new keys.
//! - [`joiner`]: the joiner world's call on an instance: one join result's value.
//! - [`connector`]: [`ConnectorInstance`], one store per connector task, granted the
//!   directories its config allows.
//! - [`output`]: [`Output`], what a call produced (kept inputs, new records, failures).
//! - [`limits`]: [`Limits`], an instance's memory cap and per-call deadline.
//! - [`caps`]: [`CallCaps`], what one call may hand the host (records, bytes, headers, log
//!   lines, state writes), and [`Cap`], which one a call crossed.
//! - [`answer`]: a call's answer checked against the caps and turned into an [`Output`].
//! - [`grants`]: the interfaces a plugin is granted (its world and `wit/sandbox.wit`): the
//!   linker, the WASI context, and the import check that refuses anything else at load.
//! - [`http_grant`]: [`http_grant::HttpGrant`], the origins a connector's `weir.allow.http`
//!   grants and the bounds on its requests.
//! - [`http_send`]: [`http_send::HttpHooks`], where a connector's wasi:http requests are
//!   checked against its grant, resolved once and sent to the address checked.
//! - [`http_tls`]: [`http_tls::HttpTls`], the trust and TLS of a grant's `https://` requests.
//! - [`net`]: the TCP a connector is granted (`weir.allow.tcp`): pinned addresses, the
//!   socket cap, and the socket adapters every world links.
//! - [`poll`]: `wasi:io/poll` bounded by the call's deadline.
//! - [`compile`]: [`compile::CompileSlots`], how many components compile at once.
//! - [`trial`]: [`Trial`], a plugin run once over given records in a fresh instance with
//!   in-memory state (`weir plugin test` and the HTTP playground).
//! - [`flat`]: the flat batch form records cross the boundary in.
//! - [`host`]: the store's data and the adapters from generated host traits to backends.
//! - [`guest_output`]: guest stdout/stderr, captured into the host log.
//! - [`state`]: the state backend trait, in memory and in sled.
//! - [`error`]: one error enum for the layer, [`RuntimeError`].

pub mod aggregator;
pub(crate) mod answer;
pub mod bindings;
pub mod cache;
pub mod caps;
pub mod compile;
pub mod connector;
pub mod engine;
pub mod error;
pub mod flat;
pub mod grants;
pub mod guest_output;
pub mod host;
pub mod http_grant;
pub mod http_send;
pub mod http_tls;
pub mod instance;
pub mod joiner;
pub mod key_selector;
pub mod limits;
pub mod net;
pub mod output;
pub mod plugin;
pub(crate) mod poll;
pub mod processor;
pub mod state;
pub mod trial;
pub mod window_host;

pub use caps::{CallCaps, Cap};
pub use connector::ConnectorInstance;
pub use engine::{Runtime, RuntimeConfig, SandboxSettings};
pub use error::RuntimeError;
pub use instance::{Instance, InstanceConfig, Origin};
pub use limits::Limits;
pub use output::{Body, Output, OutputRecord, RecordFailure};
pub use plugin::{Plugin, World};
pub use processor::StreamSettings;
pub use state::{Entries, MemoryState, SledState, StateBackend, StateError, Uncommitted};
pub use trial::{
    CapturedLog, Trial, TrialBounds, TrialFailure, TrialLog, TrialOutcome, TrialOutput, Truncated,
};
