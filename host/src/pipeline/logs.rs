//! A pipeline's recent plugin log lines, kept for `GET /v1/pipelines/{name}/logs`.
//!
//! Every line gets a sequence number (lines ever written, counted from 0), so a reader
//! following the log asks for what came since the last line it saw and waits on
//! [`PipelineLogs::subscribe`] when nothing has.

use std::collections::VecDeque;

use parking_lot::Mutex;
use tokio::sync::watch;

use crate::runtime::guest_output::{LogLevel, LogSink, TracingSink};

/// Lines kept per pipeline.
pub const LINES_KEPT: usize = 1000;

/// The ring of a pipeline's log lines; also forwards each line to the host's log.
#[derive(Debug)]
pub struct PipelineLogs {
    lines: Mutex<VecDeque<String>>,
    /// Lines ever written: the sequence number of the next line.
    written: watch::Sender<u64>,
}

impl Default for PipelineLogs {
    fn default() -> Self {
        PipelineLogs {
            lines: Mutex::new(VecDeque::new()),
            written: watch::Sender::new(0),
        }
    }
}

/// Lines written since a sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinesSince {
    /// The lines, oldest first.
    pub lines: Vec<String>,
    /// The sequence number of the next line to be written: where to ask from next.
    pub next: u64,
    /// Lines written since the number asked for that the ring no longer holds.
    pub skipped: u64,
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

    /// The sequence number of the next line to be written.
    pub fn next(&self) -> u64 {
        *self.written.borrow()
    }

    /// The lines numbered `seq` and after, at most `max` (the oldest of them); a number
    /// past the end gives none.
    pub fn since(&self, seq: u64, max: usize) -> LinesSince {
        let lines = self.lines.lock();
        let next = *self.written.borrow();
        let oldest = next - lines.len() as u64;
        let from = seq.clamp(oldest, next);
        let taken: Vec<String> = lines
            .iter()
            .skip((from - oldest) as usize)
            .take(max)
            .cloned()
            .collect();
        LinesSince {
            next: from + taken.len() as u64,
            lines: taken,
            skipped: from - seq.min(from),
        }
    }

    /// Changes whenever a line is written.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.written.subscribe()
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
        // Counted while the ring is locked, so `since` sees lines and count agree.
        self.written.send_modify(|n| *n += 1);
    }
}

fn stamp() -> String {
    utc(crate::broker::now_ms())
}

/// `ms` since the Unix epoch as an RFC 3339 UTC time with milliseconds.
fn utc(ms: i64) -> String {
    let (days, in_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

impl LogSink for PipelineLogs {
    fn write(&self, plugin: &str, level: LogLevel, message: &str) {
        TracingSink.write(plugin, level, message);
        self.push(format!("{} {level:?} {plugin}: {message}", stamp()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_follows_the_numbering_and_counts_what_the_ring_dropped() {
        let logs = PipelineLogs::default();
        for i in 0..3 {
            logs.note(&format!("line {i}"));
        }
        let all = logs.since(0, 100);
        assert_eq!((all.lines.len(), all.next, all.skipped), (3, 3, 0));
        assert!(all.lines[2].ends_with("host: line 2"));
        let two = logs.since(1, 1);
        assert_eq!((two.lines.len(), two.next), (1, 2));
        assert!(two.lines[0].ends_with("line 1"));
        assert_eq!(logs.since(3, 100).lines.len(), 0);
        assert_eq!(logs.since(99, 100).next, 3, "past the end: from the end");
        let seen = logs.subscribe();
        for i in 3..(LINES_KEPT as u64 + 10) {
            logs.note(&format!("line {i}"));
        }
        assert!(seen.has_changed().unwrap());
        let late = logs.since(2, 5);
        assert_eq!(late.skipped, 8, "lines 2..10 are gone");
        assert!(late.lines[0].ends_with("line 10"), "{:?}", late.lines);
        assert_eq!(late.next, 15);
    }

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(super::utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::utc(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(super::utc(1_795_326_714_709), "2026-11-22T05:51:54.709Z");
    }
}
