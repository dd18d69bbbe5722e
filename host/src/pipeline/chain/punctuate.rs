//! [`StreamClock`]: a processor step's stream time, its stream-time punctuation (Kafka's
//! `PunctuationType.STREAM_TIME`) and the lazy cleanup of its window and session stores
//! (the stores enforce their retention themselves on every call, see
//! [`crate::runtime::state::window`]).
//!
//! Stream time is the largest timestamp among the records the step was given (records
//! with a negative timestamp do not move it). As in Kafka, the first punctuation is due at
//! 0 and each one schedules the next at the following multiple of the interval past the
//! stream time it ran at: a record that skips several intervals causes one punctuation,
//! called with the stream time, not the boundary.
//!
//! A batch is cut after each record that makes a punctuation due: the records up to it
//! go to `process`, then the punctuation runs and its records follow that input record,
//! then the rest of the batch. Where a punctuation falls therefore depends on the input
//! alone, not on where batches end, so a replay after a crash reproduces it; the clock is
//! kept in the step's window key space, written through the task's overlay, and commits
//! with the round's state and offsets. Punctuation output is thus exactly-once like any
//! other output of the round.

use crate::log::batch::Record;
use crate::runtime::state::window::{SessionStore, WindowStore};
use crate::runtime::{Instance, Origin, Output, RuntimeError, StateBackend, StreamSettings};
use crate::streams::StreamsError;

use super::super::state::{Overlay, StepState};
use super::{Runner, Step, StepError, StepFault};

/// Where the clock lives in the step's window key space (beside the stores' `w`, `W`,
/// `s` and `S`).
const CLOCK_KEY: &[u8] = b"c";
/// Stream time, next punctuation, interval: three big-endian i64.
const CLOCK_BYTES: usize = 24;
/// `next` once the schedule has run past `i64::MAX`: no punctuation is due again (the
/// schedule starts at 0 and only grows, so it is never `i64::MIN` otherwise).
const NEVER: i64 = i64::MIN;

/// What the clock stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Clock {
    /// The largest timestamp seen; `i64::MIN` before any.
    stream_time: i64,
    /// When the next punctuation is due (stream time at or past it).
    next: i64,
    /// The interval `next` was scheduled with (0: none); a new one starts over at 0.
    interval: i64,
}

impl Clock {
    const NEW: Clock = Clock {
        stream_time: i64::MIN,
        next: 0,
        interval: 0,
    };

    fn encode(self) -> [u8; CLOCK_BYTES] {
        let mut b = [0u8; CLOCK_BYTES];
        b[..8].copy_from_slice(&self.stream_time.to_be_bytes());
        b[8..16].copy_from_slice(&self.next.to_be_bytes());
        b[16..].copy_from_slice(&self.interval.to_be_bytes());
        b
    }

    /// Whether a punctuation is due at the current stream time.
    fn due(&self) -> bool {
        self.interval != 0 && self.next != NEVER && self.stream_time >= self.next
    }

    /// Schedules the next punctuation at the following multiple of the interval past
    /// the stream time: one punctuation however many intervals a record skipped. Past
    /// the last multiple an i64 holds there is none ([`NEVER`]): saturating at
    /// `i64::MAX` would make every later record (stream time `i64::MAX`) punctuate.
    fn schedule_next(&mut self) {
        let missed = (self.stream_time - self.next) / self.interval;
        self.next = missed
            .checked_add(1)
            .and_then(|n| n.checked_mul(self.interval))
            .and_then(|step| self.next.checked_add(step))
            .unwrap_or(NEVER);
    }

    fn decode(b: &[u8]) -> Option<Clock> {
        let at = |i: usize| b.get(i..i + 8)?.try_into().ok().map(i64::from_be_bytes);
        (b.len() == CLOCK_BYTES).then_some(())?;
        Some(Clock {
            stream_time: at(0)?,
            next: at(8)?,
            interval: at(16)?,
        })
    }
}

/// A processor step's stream clock and store retention.
pub(super) struct StreamClock {
    settings: StreamSettings,
    /// The step's window key space (through the task's overlay).
    store: Box<dyn StateBackend>,
}

fn state(e: crate::runtime::StateError) -> StepFault {
    StepFault::Streams(StreamsError::from(e))
}

/// `ms` as the i64 the clock counts in (an interval past i64 never comes due).
fn as_ms(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

impl StreamClock {
    /// Each step's clock ([`StreamClock::of`]), `first_step` being the first step's
    /// index in the whole spec.
    pub(super) fn of_steps(
        steps: &mut [Step],
        tree: &sled::Tree,
        first_step: usize,
        overlay: &Overlay,
    ) -> Result<Vec<Option<StreamClock>>, StepError> {
        let mut clocks = Vec::with_capacity(steps.len());
        for (local, step) in steps.iter_mut().enumerate() {
            let clock = match &mut step.runner {
                Runner::Wasm(instance) => {
                    let own = StepState::new(tree.clone(), first_step + local, overlay.clone());
                    StreamClock::of(instance, &own).map_err(|error| StepError {
                        step: first_step + local,
                        module: step.module.clone(),
                        error: error.into(),
                    })?
                }
                _ => None,
            };
            clocks.push(clock);
        }
        Ok(clocks)
    }

    /// The clock of a processor step that asked for punctuation or retention; `None`
    /// for any other step.
    pub(super) fn of(
        instance: &mut Instance,
        store: &dyn StateBackend,
    ) -> Result<Option<StreamClock>, RuntimeError> {
        let Some(settings) = instance.stream_settings()? else {
            return Ok(None);
        };
        if settings.interval_ms.is_none() && settings.retention_ms.is_none() {
            return Ok(None);
        }
        Ok(store.windows().map(|store| StreamClock { settings, store }))
    }

    fn load(&self) -> Result<Clock, StepFault> {
        let mut clock = match self.store.get(CLOCK_KEY).map_err(state)? {
            None => Clock::NEW,
            Some(b) => Clock::decode(&b).ok_or_else(|| {
                StepFault::Streams(StreamsError::Corrupt {
                    key: CLOCK_KEY.to_vec(),
                    len: b.len(),
                    expected: CLOCK_BYTES,
                })
            })?,
        };
        let interval = self.settings.interval_ms.map_or(0, |ms| as_ms(ms.max(1)));
        if clock.interval != interval {
            // A new interval (a swapped-in version) is scheduled afresh, as Kafka does
            // for a punctuator scheduled in `init`.
            clock.interval = interval;
            clock.next = 0;
        }
        Ok(clock)
    }

    /// Drops for good the windows and sessions the stores already treat as expired (the
    /// stores enforce retention on every call; this only frees the space).
    fn expire(&mut self) -> Result<(), StepFault> {
        let retention = self.settings.retention_ms;
        if retention.is_none() {
            return Ok(());
        }
        WindowStore::new(&mut *self.store, retention)
            .expire()
            .map_err(state)?;
        SessionStore::new(&mut *self.store, retention)
            .expire()
            .map_err(state)?;
        Ok(())
    }

    /// Runs `records` through the processor, punctuating where stream time crosses a
    /// boundary (see the module's doc).
    pub(super) fn process(
        &mut self,
        instance: &mut Instance,
        origin: &Origin,
        records: &[Record],
    ) -> Result<Output, StepFault> {
        let stored = self.load()?;
        let mut clock = stored;
        let mut out = Output::default();
        let mut start = 0;
        for (j, record) in records.iter().enumerate() {
            if record.timestamp >= 0 && record.timestamp > clock.stream_time {
                clock.stream_time = record.timestamp;
            }
            if !clock.due() {
                continue;
            }
            let segment = Origin {
                topic: origin.topic.clone(),
                partition: origin.partition,
                offsets: origin.offsets[start..=j].to_vec(),
            };
            let done = instance.process(&segment, &records[start..=j])?;
            append(&mut out, done, start as u32, None);
            self.expire()?;
            let punctuated = instance.on_stream_time(clock.stream_time)?;
            append(&mut out, punctuated, 0, Some(j as u32));
            clock.schedule_next();
            start = j + 1;
        }
        if start < records.len() {
            let rest = Origin {
                topic: origin.topic.clone(),
                partition: origin.partition,
                offsets: origin.offsets[start..].to_vec(),
            };
            let done = instance.process(&rest, &records[start..])?;
            append(&mut out, done, start as u32, None);
        }
        self.expire()?;
        if clock != stored {
            self.store.put(CLOCK_KEY, &clock.encode()).map_err(state)?;
        }
        Ok(out)
    }
}

/// Adds one call's output to the batch's: a segment's indices shifted by where it
/// starts, or a punctuation's records attributed to input record `at`.
fn append(out: &mut Output, mut done: Output, shift: u32, at: Option<u32>) {
    for r in &mut done.records {
        r.source = match at {
            Some(at) => Some(at),
            None => r.source.map(|s| s + shift),
        };
    }
    for f in &mut done.failures {
        f.index += shift;
    }
    out.records.append(&mut done.records);
    out.failures.append(&mut done.failures);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(stream_time: i64) -> Clock {
        Clock {
            stream_time,
            next: 0,
            interval: 1000,
        }
    }

    #[test]
    fn a_record_skipping_intervals_punctuates_once_and_schedules_the_next_multiple() {
        let mut c = at(3500);
        assert!(c.due());
        c.schedule_next();
        assert_eq!(c.next, 4000);
        assert!(!c.due());
        assert_eq!(Clock::decode(&c.encode()), Some(c));
    }

    #[test]
    fn a_timestamp_of_i64_max_punctuates_once_and_never_again() {
        let mut c = at(i64::MAX);
        assert!(c.due());
        c.schedule_next();
        assert_eq!(c.next, NEVER);
        // Later records cannot move stream time past i64::MAX: none is due again.
        for _ in 0..3 {
            assert!(!c.due());
        }
        let mut c = Clock::decode(&c.encode()).unwrap();
        assert!(!c.due());
        // An interval of i64::MAX: due at 0, then at i64::MAX, then never.
        c = Clock {
            stream_time: 5,
            next: 0,
            interval: i64::MAX,
        };
        c.schedule_next();
        assert_eq!(c.next, i64::MAX);
        c.stream_time = i64::MAX;
        assert!(c.due());
        c.schedule_next();
        assert!(!c.due());
    }
}
