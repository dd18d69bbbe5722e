//! The scrubber: after start, and again every `log.scrub_interval_ms`, checks
//! every sealed segment of every partition — each batch's CRC-32C, and that
//! the data file is still there — and records what it finds with the
//! partition (`log::Damage`), where `/v1/health` reports it and reads treat it.
//!
//! Recovery checks only what a crash can have torn (the tail after the last
//! recovery point); a sealed segment damaged later would otherwise be found
//! only by a consumer failing at it. The scrubber runs in small steps, each
//! reading at most `log.scrub_bytes_per_sec` bytes once a second, so it costs
//! produce and fetch a bounded share of the disk; it resumes where it stopped,
//! inside a segment, and starts a segment over if compaction replaced it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::Broker;
use crate::log::scan::BadRange;
use crate::log::{Checked, Damage, SealedCursor};

/// How the scrubber paces itself (`[log]` in weir.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScrubConfig {
    /// Bytes read per step; steps run once a second. 0 turns the scrubber off.
    pub bytes_per_step: u64,
    /// Rest between the end of a pass and the start of the next.
    pub interval: Duration,
}

/// How often a step runs.
pub const STEP: Duration = Duration::from_secs(1);

/// A damaged range of one partition.
#[derive(Debug, Clone)]
pub struct PartitionDamage {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: u32,
    /// What is damaged.
    pub damage: Damage,
}

/// A segment being checked.
struct InSegment {
    cursor: SealedCursor,
    position: u64,
    expected: i64,
    bad: Vec<BadRange>,
}

/// One pass over the partitions that existed when it began.
struct Pass {
    partitions: Vec<(String, u32)>,
    index: usize,
    /// The next segment to check has this base offset or a larger one.
    next_base: i64,
    segment: Option<InSegment>,
}

enum Phase {
    /// Between passes.
    Resting { until: Instant },
    /// Checking partitions in order.
    Checking(Pass),
}

/// The background checker of sealed segments.
pub struct Scrubber {
    broker: Arc<Broker>,
    config: ScrubConfig,
    phase: Mutex<Phase>,
}

impl Scrubber {
    /// A scrubber whose first pass starts with its first step.
    pub fn new(broker: Arc<Broker>, config: ScrubConfig) -> Scrubber {
        Scrubber {
            broker,
            config,
            phase: Mutex::new(Phase::Resting {
                until: Instant::now(),
            }),
        }
    }

    /// Whether it does anything at all.
    pub fn enabled(&self) -> bool {
        self.config.bytes_per_step > 0
    }

    /// One step: reads about `bytes_per_step` bytes of sealed segments,
    /// going on from where the last step stopped. Blocking file I/O.
    pub fn step(&self) {
        let mut phase = self.phase.lock();
        let mut budget = self.config.bytes_per_step;
        while budget > 0 {
            let pass = match &mut *phase {
                Phase::Resting { until } if Instant::now() < *until => return,
                Phase::Resting { .. } => {
                    *phase = Phase::Checking(self.begin());
                    continue;
                }
                Phase::Checking(pass) => pass,
            };
            let Some((topic, partition)) = pass.partitions.get(pass.index).cloned() else {
                tracing::debug!(partitions = pass.partitions.len(), "scrub pass done");
                *phase = Phase::Resting {
                    until: Instant::now() + self.config.interval,
                };
                return;
            };
            let log = match self
                .broker
                .topic(&topic)
                .and_then(|t| t.partition(i64::from(partition)))
            {
                Ok(log) => log,
                // Deleted since the pass began.
                Err(_) => {
                    pass.next_partition();
                    continue;
                }
            };
            let Some(mut seg) = pass.segment.take() else {
                let Some(cursor) = log.sealed_from(pass.next_base) else {
                    pass.next_partition();
                    continue;
                };
                if !cursor.segment.paths().log.exists() {
                    let checked = Checked {
                        missing: true,
                        ..Checked::default()
                    };
                    log.record_check(&cursor, &checked);
                    pass.next_base = cursor.segment.base_offset() + 1;
                    budget = budget.saturating_sub(1);
                    continue;
                }
                let expected = cursor.segment.base_offset();
                pass.segment = Some(InSegment {
                    cursor,
                    position: 0,
                    expected,
                    bad: Vec::new(),
                });
                continue;
            };
            if !log.still_holds(&seg.cursor.segment) {
                // Retention deleted it or compaction replaced it: check what is
                // there now from its start.
                continue;
            }
            let step =
                match log.verify_step(&seg.cursor.segment, seg.position, seg.expected, budget) {
                    Ok(step) => step,
                    Err(e) => {
                        tracing::error!("scrubbing {topic}/{partition}: {e}");
                        let reason = match &e {
                            crate::log::LogError::Io { source, .. } => {
                                format!("read failed: {source}")
                            }
                            other => other.to_string(),
                        };
                        seg.bad.push(BadRange {
                            position: seg.position,
                            offset: seg.expected,
                            end: None,
                            reason,
                        });
                        let next = seg.cursor.segment.base_offset() + 1;
                        let checked = Checked {
                            bad: seg.bad,
                            ..Checked::default()
                        };
                        log.record_check(&seg.cursor, &checked);
                        pass.next_base = next;
                        continue;
                    }
                };
            budget = budget.saturating_sub(step.read.max(1));
            seg.bad.extend(step.bad);
            match step.next_position {
                Some(position) => {
                    seg.position = position;
                    seg.expected = step.next_offset;
                    pass.segment = Some(seg);
                }
                None => {
                    // Read to its end (no range ran to it): where its batches
                    // end tells whether offsets before the next segment are lost.
                    let whole = seg.bad.iter().all(|b| b.end.is_some());
                    let next = seg.cursor.segment.base_offset() + 1;
                    let checked = Checked {
                        last_end: whole.then_some(step.next_offset),
                        bad: seg.bad,
                        ..Checked::default()
                    };
                    log.record_check(&seg.cursor, &checked);
                    pass.next_base = next;
                }
            }
        }
    }

    fn begin(&self) -> Pass {
        let partitions = self
            .broker
            .topics()
            .iter()
            .flat_map(|t| (0..t.partition_count()).map(|p| (t.name().to_string(), p)))
            .collect();
        Pass {
            partitions,
            index: 0,
            next_base: i64::MIN,
            segment: None,
        }
    }
}

impl Pass {
    fn next_partition(&mut self) {
        self.index += 1;
        self.next_base = i64::MIN;
        self.segment = None;
    }
}

impl Broker {
    /// Damage the scrubber found in sealed segments, by partition.
    pub fn damage(&self) -> Vec<PartitionDamage> {
        let mut out = Vec::new();
        for topic in self.topics() {
            for (p, log) in topic.partitions().iter().enumerate() {
                for damage in log.damage() {
                    out.push(PartitionDamage {
                        topic: topic.name().to_string(),
                        partition: p as u32,
                        damage,
                    });
                }
            }
        }
        out
    }
}
