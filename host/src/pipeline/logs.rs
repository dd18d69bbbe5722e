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
    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(super::utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::utc(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(super::utc(1_795_326_714_709), "2026-11-22T05:51:54.709Z");
    }
}
