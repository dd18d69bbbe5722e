//! One producer's sequence window on one partition.

use std::collections::VecDeque;

/// How many batches per producer and partition are remembered: librdkafka and
/// the Java client keep at most five in flight, so a retry is always among them.
pub const WINDOW: usize = 5;

/// The sequence numbers and position of one appended batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSeq {
    /// Sequence of the batch's first record.
    pub first_seq: i32,
    /// Sequence of its last record.
    pub last_seq: i32,
    /// Offset the batch was appended at.
    pub base_offset: i64,
}

/// What to do with an incoming batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqCheck {
    /// The next expected batch: append it.
    Append,
    /// Already appended: acknowledge with the original offset, append nothing.
    Duplicate {
        /// Where the original landed.
        base_offset: i64,
    },
    /// A gap or a reordering: refuse with OUT_OF_ORDER_SEQUENCE_NUMBER.
    OutOfOrder {
        /// The sequence that was expected.
        expected: i32,
    },
    /// An epoch older than the producer's current one: refuse with INVALID_PRODUCER_EPOCH.
    Fenced {
        /// The producer's current epoch.
        current: i16,
    },
}

/// The last [`WINDOW`] batches of one producer id on one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    epoch: i16,
    batches: VecDeque<BatchSeq>,
}

/// The sequence after `seq`; sequences wrap from i32::MAX to 0.
fn next_seq(seq: i32) -> i32 {
    if seq == i32::MAX { 0 } else { seq + 1 }
}

impl Window {
    /// An empty window at `epoch`.
    pub fn new(epoch: i16) -> Window {
        Window {
            epoch,
            batches: VecDeque::with_capacity(WINDOW),
        }
    }

    /// Checks a batch's epoch and sequence range against the window.
    pub fn check(&self, epoch: i16, first_seq: i32, last_seq: i32) -> SeqCheck {
        // No batch known (a producer the partition has no state for, e.g. after
        // a restart or pruning): any first sequence is accepted, as in Kafka's
        // ProducerAppendInfo.checkSequence.
        if self.batches.is_empty() {
            return SeqCheck::Append;
        }
        if epoch < self.epoch {
            return SeqCheck::Fenced {
                current: self.epoch,
            };
        }
        if epoch > self.epoch {
            // A bumped epoch starts its sequences again at 0.
            return if first_seq == 0 {
                SeqCheck::Append
            } else {
                SeqCheck::OutOfOrder { expected: 0 }
            };
        }
        if let Some(b) = self
            .batches
            .iter()
            .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
        {
            return SeqCheck::Duplicate {
                base_offset: b.base_offset,
            };
        }
        let expected = self.batches.back().map_or(0, |b| next_seq(b.last_seq));
        if first_seq == expected {
            SeqCheck::Append
        } else {
            SeqCheck::OutOfOrder { expected }
        }
    }

    /// Records an appended batch, forgetting the oldest beyond [`WINDOW`].
    pub fn record(&mut self, epoch: i16, batch: BatchSeq) {
        if epoch != self.epoch {
            self.epoch = epoch;
            self.batches.clear();
        }
        if self.batches.len() == WINDOW {
            self.batches.pop_front();
        }
        self.batches.push_back(batch);
    }

    /// The sequence of the last record of the newest batch, if any.
    pub fn last_seq(&self) -> Option<i32> {
        self.batches.back().map(|b| b.last_seq)
    }

    /// The producer's current epoch on this partition.
    pub fn epoch(&self) -> i16 {
        self.epoch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(first: i32, last: i32, offset: i64) -> BatchSeq {
        BatchSeq {
            first_seq: first,
            last_seq: last,
            base_offset: offset,
        }
    }

    #[test]
    fn in_order_batches_append_and_retries_are_duplicates() {
        let mut w = Window::new(0);
        assert_eq!(w.check(0, 0, 9), SeqCheck::Append);
        w.record(0, seq(0, 9, 100));
        assert_eq!(w.check(0, 10, 14), SeqCheck::Append);
        w.record(0, seq(10, 14, 110));
        assert_eq!(w.check(0, 0, 9), SeqCheck::Duplicate { base_offset: 100 });
        assert_eq!(w.check(0, 10, 14), SeqCheck::Duplicate { base_offset: 110 });
    }

    #[test]
    fn gaps_and_reorders_are_out_of_order() {
        let mut w = Window::new(0);
        w.record(0, seq(0, 4, 0));
        assert_eq!(w.check(0, 6, 6), SeqCheck::OutOfOrder { expected: 5 });
        // Same start, different end: not the same batch.
        assert_eq!(w.check(0, 0, 3), SeqCheck::OutOfOrder { expected: 5 });
    }

    #[test]
    fn only_the_last_five_batches_are_remembered() {
        let mut w = Window::new(0);
        for i in 0..7 {
            w.record(0, seq(i, i, i64::from(i)));
        }
        assert_eq!(w.check(0, 2, 2), SeqCheck::Duplicate { base_offset: 2 });
        assert_eq!(w.check(0, 1, 1), SeqCheck::OutOfOrder { expected: 7 });
    }

    #[test]
    fn epochs_fence_and_reset() {
        let mut w = Window::new(3);
        w.record(3, seq(0, 0, 0));
        assert_eq!(w.check(2, 1, 1), SeqCheck::Fenced { current: 3 });
        assert_eq!(w.check(4, 5, 5), SeqCheck::OutOfOrder { expected: 0 });
        assert_eq!(w.check(4, 0, 0), SeqCheck::Append);
        w.record(4, seq(0, 0, 1));
        assert_eq!(w.epoch(), 4);
        assert_eq!(w.check(4, 1, 1), SeqCheck::Append);
    }

    #[test]
    fn an_unknown_producer_may_start_at_any_sequence() {
        let w = Window::new(2);
        assert_eq!(w.check(2, 4711, 4720), SeqCheck::Append);
        assert_eq!(w.check(3, 17, 17), SeqCheck::Append);
    }

    #[test]
    fn sequences_wrap_at_i32_max() {
        let mut w = Window::new(0);
        w.record(0, seq(i32::MAX - 1, i32::MAX, 0));
        assert_eq!(w.check(0, 0, 3), SeqCheck::Append);
    }
}
