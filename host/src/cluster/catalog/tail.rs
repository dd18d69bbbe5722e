//! The tail: one thread per node reading both catalog topics (read_committed, from their
//! start) into the [`CatalogCache`], and [`Tail`], what the rest of the catalog shares
//! with it: the cache, how far each topic is read, and the change counter subscribers
//! watch. Waiting for "read up to offset N" is how a node knows it has seen the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::sync::watch;

use super::super::consumer::{Consumer, TopicOffset};
use super::super::producer::OutRecord;
use super::cache::CatalogCache;
use super::config::{MODULES_TOPIC, PIPELINES_TOPIC};
use super::encoding::ModuleKey;

/// Read positions (next offset) of the two topics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ends {
    /// `_weir_modules`.
    pub modules: i64,
    /// `_weir_pipelines`.
    pub pipelines: i64,
}

impl Ends {
    /// Whether `self` has reached `target` on both topics.
    pub fn reached(&self, target: Ends) -> bool {
        self.modules >= target.modules && self.pipelines >= target.pipelines
    }
}

/// The cache and how far it has read.
#[derive(Debug)]
pub struct TailState {
    /// The node's copy of the catalog.
    pub cache: CatalogCache,
    /// The next offset of each topic the cache has applied.
    pub read: Ends,
}

/// What the tail thread shares with the catalog.
#[derive(Debug)]
pub struct Tail {
    /// The cache, under its lock.
    pub state: Mutex<TailState>,
    read_moved: Condvar,
    /// Moves on every change to what users see.
    pub changes: watch::Sender<u64>,
    stop: AtomicBool,
}

impl Tail {
    /// A tail over `cache`, nothing read yet.
    pub fn new(cache: CatalogCache) -> Arc<Tail> {
        Arc::new(Tail {
            state: Mutex::new(TailState {
                cache,
                read: Ends::default(),
            }),
            read_moved: Condvar::new(),
            changes: watch::channel(0).0,
            stop: AtomicBool::new(false),
        })
    }

    /// Waits until both topics are read up to `target`; whether they were within `timeout`.
    pub fn wait_for(&self, target: Ends, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.state.lock();
        while !state.read.reached(target) {
            if self.read_moved.wait_until(&mut state, deadline).timed_out() {
                return state.read.reached(target);
            }
        }
        true
    }

    /// `f` over the cache, under its lock (keep `f` short: the thread waits meanwhile).
    pub fn read<R>(&self, f: impl FnOnce(&CatalogCache) -> R) -> R {
        f(&self.state.lock().cache)
    }

    /// Whether the cache can tell if it holds `record` ([`CatalogCache::holds`]): module
    /// manifests and pipeline records, not chunks or counters.
    pub fn witnesses(record: &OutRecord) -> bool {
        record.topic == PIPELINES_TOPIC
            || record
                .key
                .as_deref()
                .is_some_and(|k| matches!(ModuleKey::decode(k), Ok(ModuleKey::Manifest { .. })))
    }

    /// Asks the thread to end.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// The thread's loop: polls both topics and applies what arrives, until stopped.
    /// A failed poll is logged and retried: the thread outlives a cluster outage.
    pub fn run(self: Arc<Tail>, mut consumer: Box<dyn Consumer>) {
        let mut failing = false;
        while !self.stop.load(Ordering::Relaxed) {
            let records = match consumer.poll(512, Duration::from_millis(100)) {
                Ok(r) => {
                    failing = false;
                    r
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!("reading the catalog topics: {e}");
                    }
                    failing = true;
                    std::thread::sleep(Duration::from_millis(200));
                    continue;
                }
            };
            // Positions are taken after the poll: past the records it returned and any
            // transaction markers the client skipped behind them.
            let positions = consumer.positions().unwrap_or_default();
            let mut guard = self.state.lock();
            let state = &mut *guard;
            let mut changed = false;
            for r in &records {
                let (key, value) = (r.key.as_deref(), r.value.as_deref());
                let (applied, read) = match r.topic.as_str() {
                    MODULES_TOPIC => (
                        state.cache.apply_module(r.offset, key, value),
                        &mut state.read.modules,
                    ),
                    PIPELINES_TOPIC => (
                        state.cache.apply_pipeline(r.offset, key, value),
                        &mut state.read.pipelines,
                    ),
                    _ => continue,
                };
                *read = (*read).max(r.offset + 1);
                changed |= applied;
            }
            for TopicOffset { topic, offset, .. } in positions {
                match topic.as_str() {
                    MODULES_TOPIC => state.read.modules = state.read.modules.max(offset),
                    PIPELINES_TOPIC => state.read.pipelines = state.read.pipelines.max(offset),
                    _ => {}
                }
            }
            drop(guard);
            // Subscribers first: a writer woken by the read moving finds its change
            // already announced.
            if changed {
                self.changes.send_modify(|n| *n += 1);
            }
            self.read_moved.notify_all();
        }
    }
}
