//! Guest stdout/stderr, and the log sink plugin lines go to.
//!
//! WASI hands the guest a stdout and a stderr that write into a small in-memory buffer; the
//! instance drains it after every call into the [`LogSink`], one line at a time, tagged with the
//! plugin's name. The buffer is bounded: a chatty guest loses lines, never the host's memory.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// Bytes of guest output kept between two drains; the rest is dropped.
const CAPACITY: usize = 64 << 10;

/// Severity of a plugin log line (mirrors the WIT `log.level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Fine-grained tracing.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation (and guest stdout).
    Info,
    /// Unexpected but handled (and guest stderr).
    Warn,
    /// A failure.
    Error,
}

/// Where plugin log lines and guest output go: the host log by default, a pipeline's own
/// buffer when pipelines want to serve them.
pub trait LogSink: Send + Sync {
    /// Records one line from plugin `plugin`.
    fn write(&self, plugin: &str, level: LogLevel, message: &str);
}

/// The default sink: the host's `tracing` log, target `weir::plugin`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingSink;

impl LogSink for TracingSink {
    fn write(&self, plugin: &str, level: LogLevel, message: &str) {
        match level {
            LogLevel::Trace => tracing::trace!(target: "weir::plugin", plugin, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "weir::plugin", plugin, "{message}"),
            LogLevel::Info => tracing::info!(target: "weir::plugin", plugin, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "weir::plugin", plugin, "{message}"),
            LogLevel::Error => tracing::error!(target: "weir::plugin", plugin, "{message}"),
        }
    }
}

/// One captured guest stream (stdout or stderr), shared between WASI and the instance.
#[derive(Debug, Clone, Default)]
pub struct GuestOutput {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl GuestOutput {
    /// Takes everything written since the last call, as lossy UTF-8.
    pub fn take(&self) -> String {
        let mut buf = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        if buf.is_empty() {
            // The usual case after a call: no allocation.
            return String::new();
        }
        let text = String::from_utf8_lossy(&buf).into_owned();
        buf.clear();
        text
    }

    fn append(&self, bytes: &[u8]) -> usize {
        let mut buf = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        let room = CAPACITY.saturating_sub(buf.len());
        buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
        // Report everything as written: dropping excess output must not make the guest fail.
        bytes.len()
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(CAPACITY)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(self.append(buf)))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Sends each non-empty line of `text` to `sink`.
pub fn forward_lines(sink: &dyn LogSink, plugin: &str, level: LogLevel, text: &str) {
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        sink.write(plugin, level, line);
    }
}
