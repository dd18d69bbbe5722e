//! Guest stdout/stderr, and the log sink plugin lines go to.
//!
//! WASI hands the guest a stdout and a stderr that write into a small in-memory buffer; the
//! instance drains it after every call into the [`LogSink`], one line at a time, tagged with the
//! plugin's name. The buffer is bounded: a chatty guest loses lines, never the host's memory.

use std::borrow::Cow;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

use super::caps::CallCaps;

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

/// What one call has logged, against [`CallCaps::max_log_line_bytes`] and
/// [`CallCaps::max_log_bytes_per_call`]. A long line is cut and marked; lines past the call's
/// budget are dropped and counted, and [`LogBudget::finish`] writes one line saying so. The
/// sink (a pipeline's ring of lines) thus never holds more than the caps allow per call.
#[derive(Debug, Default)]
pub struct LogBudget {
    used: usize,
    dropped_lines: usize,
    dropped_bytes: usize,
}

impl LogBudget {
    /// Writes one line (cut to the line cap) unless the call's log budget is spent.
    pub fn write(
        &mut self,
        sink: &dyn LogSink,
        plugin: &str,
        caps: CallCaps,
        level: LogLevel,
        message: &str,
    ) {
        let line = cut(message, caps.max_log_line_bytes);
        if self.used.saturating_add(line.len()) > caps.max_log_bytes_per_call {
            self.dropped_lines += 1;
            self.dropped_bytes = self.dropped_bytes.saturating_add(message.len());
            return;
        }
        self.used += line.len();
        sink.write(plugin, level, &line);
    }

    /// Ends the call: says how much was dropped, if anything was.
    pub fn finish(&mut self, sink: &dyn LogSink, plugin: &str, caps: CallCaps) {
        if self.dropped_lines > 0 {
            let note = format!(
                "[weir: {} log lines ({} bytes) of this call dropped: over sandbox.max_log_bytes_per_call = {}]",
                self.dropped_lines, self.dropped_bytes, caps.max_log_bytes_per_call
            );
            sink.write(plugin, LogLevel::Warn, &note);
        }
        *self = LogBudget::default();
    }
}

/// `message` cut to at most `max` bytes (at a character boundary) plus a marker.
fn cut(message: &str, max: usize) -> Cow<'_, str> {
    if message.len() <= max {
        return Cow::Borrowed(message);
    }
    let mut end = max;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!(
        "{}… [cut: {} more bytes over sandbox.max_log_line_bytes = {max}]",
        &message[..end],
        message.len() - end
    ))
}

/// Sends each non-empty line of `text` to `sink`, through the call's log budget.
pub fn forward_lines(
    sink: &dyn LogSink,
    plugin: &str,
    budget: &mut LogBudget,
    caps: CallCaps,
    level: LogLevel,
    text: &str,
) {
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        budget.write(sink, plugin, caps, level, line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Lines(Mutex<Vec<String>>);

    impl LogSink for Lines {
        fn write(&self, _plugin: &str, _level: LogLevel, message: &str) {
            self.0.lock().unwrap().push(message.to_owned());
        }
    }

    #[test]
    fn long_lines_are_cut_and_a_spent_budget_drops_lines_with_one_note() {
        let caps = CallCaps {
            max_log_line_bytes: 10,
            max_log_bytes_per_call: 100,
            ..CallCaps::default()
        };
        let sink = Lines::default();
        let mut budget = LogBudget::default();
        budget.write(&sink, "p", caps, LogLevel::Info, "short");
        budget.write(&sink, "p", caps, LogLevel::Info, &"é".repeat(1000));
        for _ in 0..10 {
            budget.write(&sink, "p", caps, LogLevel::Info, &"x".repeat(1000));
        }
        budget.finish(&sink, "p", caps);
        let lines = sink.0.lock().unwrap();
        assert_eq!(lines[0], "short");
        assert!(
            lines[1].starts_with("ééééé… [cut: 1990 more bytes"),
            "{}",
            lines[1]
        );
        let total: usize = lines[..lines.len() - 1].iter().map(String::len).sum();
        assert!(total <= 100, "{total} bytes kept");
        let note = lines.last().unwrap();
        assert!(
            note.contains("dropped: over sandbox.max_log_bytes_per_call"),
            "{note}"
        );
    }
}
