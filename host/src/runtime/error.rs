//! Errors of the Wasm runtime.

use std::path::PathBuf;
use std::time::Duration;

/// Why a plugin could not be loaded or a call into it failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A connector plugin named where a pipeline step goes.
    #[error("{plugin}: is a {world} plugin, which runs as a connector, not as a pipeline step")]
    NotAStep {
        /// Plugin name.
        plugin: String,
        /// Its world.
        world: &'static str,
    },
    /// A plugin that is not a connector named as a connector's class.
    #[error("{plugin}: is a {world} plugin, not a source or sink connector")]
    NotAConnector {
        /// Plugin name.
        plugin: String,
        /// Its world.
        world: &'static str,
    },
    /// The bytes are not Wasm at all.
    #[error("{plugin}: not a WebAssembly file (it does not start with the `\\0asm` magic)")]
    NotWasm {
        /// Plugin name.
        plugin: String,
    },
    /// A core module, not a component.
    #[error(
        "{plugin}: this is a core WebAssembly module, not a component; build for wasm32-wasip2 or wrap it with `wasm-tools component new`"
    )]
    CoreModule {
        /// Plugin name.
        plugin: String,
    },
    /// The component does not parse or validate.
    #[error("{plugin}: invalid component: {source:#}")]
    InvalidComponent {
        /// Plugin name.
        plugin: String,
        /// What wasmtime found.
        #[source]
        source: wasmtime::Error,
    },
    /// The component exports neither weir world's interface.
    #[error(
        "{plugin}: exports no weir world: expected `{transform}` (world transform) or `{processing}` (world processor); it exports [{exports}]{looks_like}",
        transform = super::bindings::TRANSFORMER_EXPORT,
        processing = super::bindings::PROCESSING_EXPORT,
        looks_like = looks_like.as_deref().map(|w| format!(", which looks like {w}")).unwrap_or_default()
    )]
    NoWeirWorld {
        /// Plugin name.
        plugin: String,
        /// What it does export, comma-separated.
        exports: String,
        /// A world it resembles, when one is recognised.
        looks_like: Option<String>,
    },
    /// The component exports a weir interface but with other types, or imports what weir lacks.
    #[error("{plugin}: does not match world {world}, which exports {expected}: {source:#}")]
    WorldMismatch {
        /// Plugin name.
        plugin: String,
        /// The world it claims.
        world: &'static str,
        /// What the world exports, for the message.
        expected: &'static str,
        /// What does not match.
        #[source]
        source: wasmtime::Error,
    },
    /// Reading or writing the precompiled cache failed.
    #[error("precompiled cache at {path}: {source}")]
    Cache {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The engine could not be configured.
    #[error("configuring the Wasm engine: {source:#}")]
    Engine {
        /// Wasmtime's error.
        #[source]
        source: wasmtime::Error,
    },
    /// Instantiation failed (for example the memory cap is below the plugin's minimum).
    #[error("{plugin}: instantiation failed: {source:#}")]
    Instantiate {
        /// Plugin name.
        plugin: String,
        /// Wasmtime's error.
        #[source]
        source: wasmtime::Error,
    },
    /// The call ran past its deadline and was interrupted.
    #[error("{plugin}: call exceeded its deadline of {deadline:?} and was interrupted")]
    Deadline {
        /// Plugin name.
        plugin: String,
        /// The deadline in force.
        deadline: Duration,
    },
    /// The plugin tried to grow its memory past the cap.
    #[error("{plugin}: memory limit exceeded: tried to grow to {requested} bytes, cap is {limit}")]
    MemoryLimit {
        /// Plugin name.
        plugin: String,
        /// Bytes asked for.
        requested: usize,
        /// The cap in force.
        limit: usize,
    },
    /// The plugin trapped (a panic, an abort, unreachable code).
    #[error("{plugin}: trapped: {message}{guest}", guest = guest_message(guest_output))]
    Trap {
        /// Plugin name.
        plugin: String,
        /// Wasmtime's description of the trap.
        message: String,
        /// What the guest wrote to stderr just before (a panic message, usually).
        guest_output: String,
    },
    /// One call crossed one of the [`super::CallCaps`] (output, headers, state writes).
    #[error("{plugin}: {used} {counts} in one call exceed the cap of {limit} ({key})", counts = cap.counts(), key = cap.key())]
    CapExceeded {
        /// Plugin name.
        plugin: String,
        /// Which cap.
        cap: super::caps::Cap,
        /// How much the call used (up to the point it was stopped).
        used: usize,
        /// The cap in force.
        limit: usize,
    },
    /// The component imports an interface its world does not grant.
    #[error(
        "{plugin}: module imports {import}, which weir does not grant (world {world} grants its own weir:plugin interfaces and the WASI interfaces of wit/sandbox.wit)"
    )]
    ImportNotGranted {
        /// Plugin name.
        plugin: String,
        /// The import, as the component names it.
        import: String,
        /// The world it implements.
        world: &'static str,
    },
    /// Every compile slot stayed busy for the whole wait, or too many loads were waiting
    /// already: the server is compiling as many modules as it is configured to, and this one
    /// should be sent again later.
    #[error(
        "{plugin}: not compiled: all {slots} compile slots (sandbox.compile_concurrency) were busy and stayed so for the {waited:?} it waited (sandbox.compile_wait_ms, sandbox.compile_queue); try again later"
    )]
    CompileBusy {
        /// Plugin name.
        plugin: String,
        /// The configured number of concurrent compilations.
        slots: usize,
        /// How long it waited.
        waited: Duration,
    },
    /// The plugin answered with something inconsistent (an index past the batch, a span past its buffer).
    #[error("{plugin}: malformed answer: {reason}")]
    BadOutput {
        /// Plugin name.
        plugin: String,
        /// What was wrong.
        reason: String,
    },
    /// The plugin refused the call through its own error result.
    #[error("{plugin}: {kind}: {message}")]
    Plugin {
        /// Plugin name.
        plugin: String,
        /// Which error variant (`invalid-config`, `failed`, `state`).
        kind: &'static str,
        /// The plugin's message.
        message: String,
    },
    /// A call the plugin's world does not have (e.g. a timer on a transform).
    #[error("{plugin}: world {world} has no {call}")]
    Unsupported {
        /// Plugin name.
        plugin: String,
        /// The plugin's world.
        world: &'static str,
        /// The call attempted.
        call: &'static str,
    },
    /// The caller passed inconsistent input (the host's bug, not the plugin's).
    #[error("bad input to the runtime: {reason}")]
    BadInput {
        /// What was inconsistent.
        reason: String,
    },
    /// A batch too large for the 32-bit offsets of the flat form.
    #[error("batch too large for the flat form: {what}")]
    BatchTooLarge {
        /// Which count overflowed.
        what: &'static str,
    },
}

fn guest_message(output: &str) -> String {
    let trimmed = output.trim();
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("; guest said: {trimmed}")
    }
}

impl RuntimeError {
    /// Whether the instance that returned this error must be dropped and rebuilt.
    pub fn poisons_instance(&self) -> bool {
        matches!(
            self,
            RuntimeError::Deadline { .. }
                | RuntimeError::MemoryLimit { .. }
                | RuntimeError::CapExceeded { .. }
                | RuntimeError::Trap { .. }
                | RuntimeError::Instantiate { .. }
        )
    }

    /// Whether the host failed (its cache or engine) or is busy, rather than the plugin or its
    /// input: such an error is the server's to answer for, never the uploader's.
    pub fn is_host_fault(&self) -> bool {
        matches!(
            self,
            RuntimeError::Cache { .. }
                | RuntimeError::Engine { .. }
                | RuntimeError::CompileBusy { .. }
        )
    }
}
