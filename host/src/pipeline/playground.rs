//! The playground: one module version run over records a client gives, or reads from a
//! topic, through the runtime's [`crate::runtime::Trial`] (the engine of `weir plugin
//! test`). A run has its own instance and in-memory state, never a running pipeline's.
//!
//! Everything a run makes the server hold is capped ([`PlaygroundLimits`], the
//! `[playground]` section of `weir.toml`): records and their bytes per run, runs at once,
//! log lines kept, the call deadline (at most the runtime's default), and the whole run:
//! its time, output records and output bytes, past which it stops and answers what it
//! has, marked truncated.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::record::Record;
use crate::runtime::TrialOutcome;
use crate::runtime::limits::DEFAULT_DEADLINE;

use super::registry::ModuleVersion;

/// Records per call into the plugin unless asked otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 100;

/// The playground's caps (`[playground]` in `weir.toml`; the defaults are these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaygroundLimits {
    /// Most records one run takes (`max_records`, 1000).
    pub max_records: usize,
    /// Most bytes (keys, values, header names and values) one run's records hold
    /// (`max_bytes`, 1 MiB).
    pub max_bytes: usize,
    /// Runs at once, server-wide: each holds a Wasm instance for up to a few seconds
    /// (`max_running`, 2).
    pub max_running: usize,
    /// Time one run may take: no call starts after it (so at most this plus one call's
    /// deadline), whatever the batch size (`max_run_ms`, 10 s).
    pub max_run_time: Duration,
    /// Output records one run keeps (`max_outputs`, 10 000).
    pub max_outputs: usize,
    /// Output bytes (keys, values, headers) one run keeps (`max_output_bytes`, 4 MiB).
    pub max_output_bytes: usize,
    /// Log lines one run keeps for its answer (`max_log_lines`, 500).
    pub max_log_lines: usize,
}

impl Default for PlaygroundLimits {
    fn default() -> PlaygroundLimits {
        PlaygroundLimits {
            max_records: 1000,
            max_bytes: 1 << 20,
            max_running: 2,
            max_run_time: Duration::from_secs(10),
            max_outputs: 10_000,
            max_output_bytes: 4 << 20,
            max_log_lines: 500,
        }
    }
}

/// Where a run's records come from.
#[derive(Debug, Clone)]
pub enum PlaygroundInput {
    /// Records given in the request; their offsets are their indexes.
    Records(Vec<Record>),
    /// `count` committed records of a topic's partition from `offset` (default: the
    /// partition's start).
    Topic {
        /// The topic.
        topic: String,
        /// Its partition.
        partition: u32,
        /// First offset.
        offset: Option<i64>,
        /// How many records.
        count: usize,
    },
}

/// A playground run as asked.
#[derive(Debug, Clone)]
pub struct PlaygroundRequest {
    /// The records.
    pub input: PlaygroundInput,
    /// The module's configuration.
    pub config: BTreeMap<String, String>,
    /// Records per call (default [`DEFAULT_BATCH_SIZE`]).
    pub batch_size: Option<usize>,
    /// Per-call deadline, ms (default and most: the runtime's default deadline).
    pub deadline_ms: Option<u64>,
}

/// What a run did.
#[derive(Debug)]
pub struct PlaygroundRun {
    /// The module version run.
    pub module: ModuleVersion,
    /// The topic the records came from (`None`: given in the request).
    pub topic: Option<String>,
    /// Its partition.
    pub partition: u32,
    /// The input records, as run.
    pub inputs: Vec<(i64, Record)>,
    /// Outputs, failures and logs.
    pub outcome: TrialOutcome,
}

/// Why a run was refused.
#[derive(Debug, thiserror::Error)]
pub enum PlaygroundError {
    /// No records to run.
    #[error("no records to run: give records, or a topic with count of at least 1")]
    NoRecords,
    /// More records than a run takes.
    #[error("{count} records asked for, more than the playground's {max} per run")]
    TooManyRecords {
        /// Asked for.
        count: usize,
        /// The cap.
        max: usize,
    },
    /// The records hold more bytes than a run takes.
    #[error("the records hold {bytes} bytes, more than the playground's {max} per run")]
    TooManyBytes {
        /// Their size.
        bytes: usize,
        /// The cap.
        max: usize,
    },
    /// Every run slot is taken.
    #[error("the playground is running {max} modules already; try again shortly")]
    Busy {
        /// Runs at once.
        max: usize,
    },
    /// A deadline above the runtime's.
    #[error("deadline_ms {asked} is above the runtime's per-call deadline of {max} ms")]
    DeadlineTooLong {
        /// Asked for.
        asked: u64,
        /// The most allowed.
        max: u64,
    },
    /// A batch size of 0.
    #[error("batch_size must be at least 1")]
    ZeroBatch,
    /// The module is not one a `map` step runs.
    #[error(
        "{name}@{version} is a {world} module; the playground runs transform and processor modules"
    )]
    NotAMapModule {
        /// Module name.
        name: String,
        /// Version.
        version: u32,
        /// Its world.
        world: &'static str,
    },
}

impl PlaygroundRequest {
    /// The per-call deadline asked for, checked against the runtime's.
    pub fn deadline(&self) -> Result<Duration, PlaygroundError> {
        let max = DEFAULT_DEADLINE.as_millis() as u64;
        match self.deadline_ms {
            None => Ok(DEFAULT_DEADLINE),
            Some(asked) if asked > max => Err(PlaygroundError::DeadlineTooLong { asked, max }),
            Some(asked) => Ok(Duration::from_millis(asked.max(1))),
        }
    }

    /// Records per call, checked (at most a run's records).
    pub fn batch_size(&self, max_records: usize) -> Result<usize, PlaygroundError> {
        match self.batch_size {
            Some(0) => Err(PlaygroundError::ZeroBatch),
            Some(n) => Ok(n.min(max_records)),
            None => Ok(DEFAULT_BATCH_SIZE),
        }
    }
}

impl PlaygroundLimits {
    /// Refuses `count` records when a run takes fewer.
    pub fn check_count(&self, count: usize) -> Result<(), PlaygroundError> {
        if count > self.max_records {
            return Err(PlaygroundError::TooManyRecords {
                count,
                max: self.max_records,
            });
        }
        Ok(())
    }

    /// Checks a run's records against the caps.
    pub fn check_records(&self, records: &[Record]) -> Result<(), PlaygroundError> {
        if records.is_empty() {
            return Err(PlaygroundError::NoRecords);
        }
        self.check_count(records.len())?;
        let bytes: usize = records.iter().map(record_bytes).sum();
        if bytes > self.max_bytes {
            return Err(PlaygroundError::TooManyBytes {
                bytes,
                max: self.max_bytes,
            });
        }
        Ok(())
    }
}

/// The bytes a record holds: key, value, header names and values.
pub fn record_bytes(r: &Record) -> usize {
    let len = |b: &Option<bytes::Bytes>| b.as_ref().map_or(0, |b| b.len());
    len(&r.key)
        + len(&r.value)
        + r.headers
            .iter()
            .map(|(k, v)| k.len() + len(v))
            .sum::<usize>()
}

/// The run slots: at most `max_running` runs hold an instance at once.
#[derive(Debug)]
pub struct PlaygroundSlots {
    running: AtomicUsize,
    max_running: usize,
}

/// A taken slot, given back when dropped.
#[derive(Debug)]
pub struct PlaygroundSlot<'a>(&'a PlaygroundSlots);

impl PlaygroundSlots {
    /// `max_running` slots, all free.
    pub fn new(max_running: usize) -> PlaygroundSlots {
        PlaygroundSlots {
            running: AtomicUsize::new(0),
            max_running,
        }
    }

    /// Takes a slot, or refuses at once when all are taken (a client waits, not the
    /// server).
    pub fn take(&self) -> Result<PlaygroundSlot<'_>, PlaygroundError> {
        self.running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_running).then_some(n + 1)
            })
            .map(|_| PlaygroundSlot(self))
            .map_err(|_| PlaygroundError::Busy {
                max: self.max_running,
            })
    }
}

impl Drop for PlaygroundSlot<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(value: usize) -> Record {
        Record {
            value: Some(bytes::Bytes::from(vec![b'x'; value])),
            ..Record::default()
        }
    }

    #[test]
    fn records_over_the_caps_are_refused_naming_the_cap() {
        let limits = PlaygroundLimits::default();
        assert!(matches!(
            limits.check_records(&[]),
            Err(PlaygroundError::NoRecords)
        ));
        let many = vec![record(1); limits.max_records + 1];
        let e = limits.check_records(&many).unwrap_err();
        assert!(e.to_string().contains("1001 records"), "{e}");
        let big = vec![record(limits.max_bytes / 2 + 1); 2];
        let e = limits.check_records(&big).unwrap_err();
        assert!(matches!(e, PlaygroundError::TooManyBytes { .. }), "{e}");
        assert!(
            limits
                .check_records(&vec![record(10); limits.max_records])
                .is_ok()
        );
    }

    #[test]
    fn slots_run_out_and_come_back() {
        let slots = PlaygroundSlots::new(2);
        let held: Vec<_> = (0..2).map(|_| slots.take().unwrap()).collect();
        assert!(matches!(slots.take(), Err(PlaygroundError::Busy { .. })));
        drop(held);
        assert!(slots.take().is_ok());
    }

    #[test]
    fn a_deadline_above_the_runtime_default_is_refused() {
        let mut req = PlaygroundRequest {
            input: PlaygroundInput::Records(vec![record(1)]),
            config: BTreeMap::new(),
            batch_size: Some(0),
            deadline_ms: Some(DEFAULT_DEADLINE.as_millis() as u64 + 1),
        };
        assert!(matches!(
            req.deadline(),
            Err(PlaygroundError::DeadlineTooLong { .. })
        ));
        assert!(matches!(
            req.batch_size(1000),
            Err(PlaygroundError::ZeroBatch)
        ));
        req.deadline_ms = Some(50);
        assert_eq!(req.deadline().unwrap(), Duration::from_millis(50));
    }
}
