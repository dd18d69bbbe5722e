//! weir: a Kafka-compatible broker whose stream processing logic is WebAssembly.
//!
//! Map of the crate (dependencies point down this list, never up):
//! - [`cli`]: the `weir` command line; talks to a server only over HTTP.
//! - [`server`]: wires config, broker and the HTTP face together for `weir serve`.
//! - [`api`]: the JSON HTTP API (axum), a face over the broker.
//! - [`kafka`]: the Kafka wire protocol listener, the other face over the broker.
//! - [`pipeline`]: uploaded modules and pipelines (joins broker and runtime).
//! - [`broker`]: topics, partitioning, consumer-group offsets and metadata in sled.
//! - [`runtime`]: the Wasm runtime: loads plugin components, runs batches of records through them.
//! - [`log`]: the durable segmented partition log of Kafka v2 record batches.
//! - [`config`]: server configuration (`weir.toml`), validated once at start-up.
//! - [`alloc`]: the process allocator, hardened against huge length fields.
//! - [`bench`]: `weir bench`, the benchmarks recorded in BENCHMARKS.md.

pub mod alloc;
pub mod api;
pub mod bench;
pub mod broker;
pub mod cli;
pub mod config;
pub mod kafka;
pub mod log;
pub mod pipeline;
pub mod runtime;
pub mod server;

#[cfg(test)]
pub(crate) mod test_support {
    //! Helpers shared by the unit tests.

    /// Reopens a sled database: sled releases its file lock from a background
    /// thread shortly after the last handle drops, so a reopen in the same
    /// process retries (with a deadline) while the lock is still held.
    pub fn reopen<T, E: std::fmt::Debug>(mut open: impl FnMut() -> Result<T, E>) -> T {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match open() {
                Ok(v) => return v,
                Err(e) if std::time::Instant::now() > deadline => panic!("reopen failed: {e:?}"),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
            }
        }
    }
}
