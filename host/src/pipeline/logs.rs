//! A pipeline's recent plugin log lines, kept for `GET /v1/pipelines/{name}/logs`.

use std::collections::VecDeque;

use parking_lot::Mutex;

use crate::runtime::guest_output::{LogLevel, LogSink, TracingSink};

/// Lines kept per pipeline.
pub const LINES_KEPT: usize = 1000;

/// The ring of a pipeline's log lines; also forwards each line to the host's log.
#[derive(Debug, Default)]
pub struct PipelineLogs {
    lines: Mutex<VecDeque<String>>,
}

impl PipelineLogs {
    /// The newest `n` lines, oldest first.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let lines = self.lines.lock();
        lines
            .iter()
            .skip(lines.len().saturating_sub(n))
            .cloned()
            .collect()
    }

    /// Adds a host line (swaps, rollbacks, task failures) to the pipeline's log.
    pub fn note(&self, message: &str) {
        self.push(format!("{} host: {message}", stamp()));
    }

    fn push(&self, line: String) {
        let mut lines = self.lines.lock();
        if lines.len() == LINES_KEPT {
            lines.pop_front();
        }
        lines.push_back(line);
    }
}

fn stamp() -> String {
    let ms = crate::broker::now_ms();
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

impl LogSink for PipelineLogs {
    fn write(&self, plugin: &str, level: LogLevel, message: &str) {
        TracingSink.write(plugin, level, message);
        self.push(format!("{} {level:?} {plugin}: {message}", stamp()));
    }
}
