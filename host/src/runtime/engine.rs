//! [`Runtime`]: the one shared wasmtime engine, its linkers, the epoch ticker and the loader.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::bindings::sink::SinkConnector;
use super::bindings::source::SourceConnector;
use super::bindings::{processor::Processor, transform::Transform};
use super::cache::{PrecompiledCache, digest};
use super::caps::CallCaps;
use super::compile::{
    CompileSlots, DEFAULT_COMPILE_CONCURRENCY, DEFAULT_COMPILE_QUEUE, DEFAULT_COMPILE_WAIT,
};
use super::error::RuntimeError;
use super::grants;
use super::host::HostState;
use super::plugin::Plugin;

/// Default epoch tick: deadlines are enforced to within this much.
pub const DEFAULT_EPOCH_TICK: Duration = Duration::from_millis(5);
/// Default number of live instances the pooling allocator has slots for.
pub const DEFAULT_MAX_INSTANCES: u32 = 64;

/// Settings of a [`Runtime`].
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Directory for precompiled components (`None`: compile on every load).
    pub cache_dir: Option<PathBuf>,
    /// Epoch tick (default 5 ms); call deadlines are counted in ticks.
    pub epoch_tick: Duration,
    /// Component instances alive at once (default 64): the pooling allocator's slots.
    pub max_instances: u32,
    /// Per-call caps and compile concurrency (`[sandbox]` in `weir.toml`).
    pub sandbox: SandboxSettings,
}

/// `[sandbox]` of `weir.toml`: what one call may hand the host, and how many components
/// compile at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxSettings {
    /// What one call may hand the host.
    pub caps: CallCaps,
    /// Components compiling at once (default 2).
    pub compile_concurrency: usize,
    /// Longest wait for a compile slot (default 30 s) before a load is refused as busy.
    pub compile_wait: Duration,
    /// Loads waiting for a compile slot at once (default 8); one more is refused at once.
    pub compile_queue: usize,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        SandboxSettings {
            caps: CallCaps::default(),
            compile_concurrency: DEFAULT_COMPILE_CONCURRENCY,
            compile_wait: DEFAULT_COMPILE_WAIT,
            compile_queue: DEFAULT_COMPILE_QUEUE,
        }
    }
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cache_dir: None,
            epoch_tick: DEFAULT_EPOCH_TICK,
            max_instances: DEFAULT_MAX_INSTANCES,
            sandbox: SandboxSettings::default(),
        }
    }
}

impl RuntimeConfig {
    /// Defaults with a cache directory.
    pub fn with_cache(dir: impl Into<PathBuf>) -> Self {
        RuntimeConfig {
            cache_dir: Some(dir.into()),
            ..Self::default()
        }
    }
}

pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) transform_linker: Linker<HostState>,
    pub(crate) processor_linker: Linker<HostState>,
    pub(crate) source_linker: Linker<HostState>,
    pub(crate) sink_linker: Linker<HostState>,
    pub(crate) cache: PrecompiledCache,
    pub(crate) epoch_tick: Duration,
    pub(crate) caps: CallCaps,
    pub(crate) compile_slots: CompileSlots,
}

/// The Wasm runtime: one per process, cheap to clone, shared by every plugin and instance.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("cache", &self.shared.cache)
            .finish_non_exhaustive()
    }
}

fn engine_err(source: wasmtime::Error) -> RuntimeError {
    RuntimeError::Engine { source }
}

impl Runtime {
    /// Builds the engine (Cranelift, component model, pooling allocator, epoch interruption),
    /// the two linkers (the granted WASI interfaces of [`super::grants`], config, log, and state
    /// for processors), and starts the epoch ticker, which stops when the last clone is dropped.
    pub fn new(config: RuntimeConfig) -> Result<Runtime, RuntimeError> {
        let n = config.max_instances.max(1);
        let mut pool = PoolingAllocationConfig::default();
        // A Python or JS component holds a handful of core instances and memories.
        pool.total_component_instances(n)
            .total_core_instances(n * 8)
            .total_memories(n * 4)
            .total_tables(n * 8);
        let mut wasm = Config::new();
        wasm.wasm_component_model(true)
            .epoch_interruption(true)
            .cranelift_opt_level(wasmtime::OptLevel::Speed)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm).map_err(engine_err)?;

        let mut transform_linker = Linker::<HostState>::new(&engine);
        grants::link(&mut transform_linker).map_err(engine_err)?;
        Transform::add_to_linker::<_, wasmtime::component::HasSelf<HostState>>(
            &mut transform_linker,
            |s| s,
        )
        .map_err(engine_err)?;
        let mut processor_linker = Linker::<HostState>::new(&engine);
        grants::link(&mut processor_linker).map_err(engine_err)?;
        Processor::add_to_linker::<_, wasmtime::component::HasSelf<HostState>>(
            &mut processor_linker,
            |s| s,
        )
        .map_err(engine_err)?;

        let mut source_linker = Linker::<HostState>::new(&engine);
        grants::link(&mut source_linker).map_err(engine_err)?;
        grants::link_http(&mut source_linker).map_err(engine_err)?;
        SourceConnector::add_to_linker::<_, wasmtime::component::HasSelf<HostState>>(
            &mut source_linker,
            |s| s,
        )
        .map_err(engine_err)?;
        let mut sink_linker = Linker::<HostState>::new(&engine);
        grants::link(&mut sink_linker).map_err(engine_err)?;
        grants::link_http(&mut sink_linker).map_err(engine_err)?;
        SinkConnector::add_to_linker::<_, wasmtime::component::HasSelf<HostState>>(
            &mut sink_linker,
            |s| s,
        )
        .map_err(engine_err)?;

        let cache = PrecompiledCache::new(config.cache_dir, &engine)?;
        let weak = engine.weak();
        let tick = config.epoch_tick.max(Duration::from_millis(1));
        std::thread::Builder::new()
            .name("weir-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(tick);
                }
            })
            .map_err(|e| engine_err(wasmtime::Error::from(e)))?;
        Ok(Runtime {
            shared: Arc::new(Shared {
                engine,
                transform_linker,
                processor_linker,
                source_linker,
                sink_linker,
                cache,
                epoch_tick: tick,
                caps: config.sandbox.caps,
                compile_slots: CompileSlots::new(
                    config.sandbox.compile_concurrency,
                    config.sandbox.compile_wait,
                    config.sandbox.compile_queue,
                ),
            }),
        })
    }

    /// Validates, compiles (or loads precompiled) and prepares the component in `bytes`. A
    /// compile waits for one of the compile slots; a refused component is not cached.
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<Arc<Plugin>, RuntimeError> {
        check_header(name, bytes)?;
        let digest = digest(bytes);
        let shared = &self.shared;
        if let Some(component) = shared.cache.cached(&shared.engine, &digest) {
            return self.accept_cached(name, digest, component);
        }
        let slot = shared
            .compile_slots
            .acquire()
            .map_err(|waited| RuntimeError::CompileBusy {
                plugin: name.to_owned(),
                slots: shared.compile_slots.slots(),
                waited,
            })?;
        // The same bytes may have been compiled by whoever held the slot before.
        if let Some(component) = shared.cache.cached(&shared.engine, &digest) {
            return self.accept_cached(name, digest, component);
        }
        let (component, compiled) = shared.cache.compile(&shared.engine, name, bytes)?;
        drop(slot);
        let plugin = self.accept(name, digest, component)?;
        shared.cache.keep(plugin.digest(), &compiled)?;
        Ok(plugin)
    }

    /// [`Runtime::accept`] of a cached component; a refused one leaves the cache.
    fn accept_cached(
        &self,
        name: &str,
        digest: String,
        component: Component,
    ) -> Result<Arc<Plugin>, RuntimeError> {
        let cached = digest.clone();
        self.accept(name, digest, component).inspect_err(|_| {
            self.shared.cache.forget(&cached);
        })
    }

    /// Checks a compiled component against its world (imports granted, exports bound).
    fn accept(
        &self,
        name: &str,
        digest: String,
        component: Component,
    ) -> Result<Arc<Plugin>, RuntimeError> {
        let plugin = Plugin::prepare(self, name, digest, component)?;
        super::instance::probe(&plugin).map_err(|source| RuntimeError::WorldMismatch {
            plugin: name.to_owned(),
            world: plugin.world().name(),
            expected: plugin.world().expected_exports(),
            source,
        })?;
        Ok(Arc::new(plugin))
    }

    /// [`Runtime::load`] of a file; the plugin is named after the file stem.
    pub fn load_file(&self, path: &Path) -> Result<Arc<Plugin>, RuntimeError> {
        let bytes = std::fs::read(path).map_err(|source| RuntimeError::Cache {
            path: path.to_path_buf(),
            source,
        })?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "plugin".into());
        self.load(&name, &bytes)
    }

    /// Components compiled by this runtime (cache misses); a cached load leaves it unchanged.
    pub fn compilations(&self) -> u64 {
        self.shared.cache.compilations()
    }

    /// Components loaded precompiled from the cache directory.
    pub fn cache_hits(&self) -> u64 {
        self.shared.cache.hits()
    }

    /// The wasmtime engine (for benchmarks and diagnostics).
    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }
}

/// Tells non-Wasm files and core modules from components before wasmtime's terser errors.
fn check_header(name: &str, bytes: &[u8]) -> Result<(), RuntimeError> {
    let plugin = name.to_owned();
    if bytes.get(0..4) != Some(b"\0asm".as_slice()) {
        return Err(RuntimeError::NotWasm { plugin });
    }
    // Bytes 4..8: version 1 and layer 0 is a core module; a component has layer 1.
    if bytes.get(4..8) == Some([1u8, 0, 0, 0].as_slice()) {
        return Err(RuntimeError::CoreModule { plugin });
    }
    Ok(())
}
