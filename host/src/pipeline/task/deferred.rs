//! Outputs a task holds until its next commit, for a chain whose output is an
//! `on_update` aggregation ([`Chain::defers_updates`](super::super::chain::Chain)).
//!
//! Such a step's results are the state at the end of a batch: appended each round, a
//! replay after a crash would have to read exactly the lost round's input range, which
//! took a flushed sled write a round (the pin). Held instead, like Kafka Streams' record
//! cache, only the latest result per window and key is kept, and at each commit they go
//! (with the rounds' other outputs, in order) into the checkpoint's outbox, committed and
//! flushed with the state and offsets they come from, and then appended. Nothing reaches
//! the log before its commit, so a replay never has outputs to catch up with: whatever
//! it reads, it starts from a commit whose outbox holds everything appended since.
//!
//! A built-in count or sum over time windows does not even build a result per round:
//! the results of its windows still open are built here at the commit from its
//! uncommitted state ([`PendingUpdates`]), and only a window that closes in between
//! emits its results in the round.
//!
//! Attached mode's tasks use the same holding for one transaction: a round's updates go
//! out latest per window and key, as they do here per commit.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::super::chain::{Emitted, PendingUpdates, StepError};
use super::super::outputs::Group;
use crate::streams::{WINDOW_END_HEADER, WINDOW_START_HEADER};

/// Which result a later one replaces: the window's start (ms) and end (as written), and
/// the record key. Ordered by start, then key: the order each batch emitted them in.
type UpdateKey = (Option<i64>, Option<Bytes>, Option<Bytes>);

/// Held rounds' outputs, waiting for the task's next commit.
#[derive(Debug, Default)]
pub(crate) struct Deferred {
    /// The rounds' outputs other than updates (dead letters, routed records), in order.
    records: Vec<Emitted>,
    /// The latest update per window and key.
    latest: BTreeMap<UpdateKey, Emitted>,
    /// The running chain's step whose open windows' results are built at the commit.
    pending: Option<PendingUpdates>,
    /// Where records without a topic go (the main output), for those results.
    output: String,
}

/// The header `name` of `e`'s record.
fn header<'a>(e: &'a Emitted, name: &str) -> Option<&'a Bytes> {
    e.record
        .headers
        .iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.as_ref())
}

impl Deferred {
    /// The chain now running: its step whose results wait in its state, if it has one
    /// (the rounds held until now were committed before it was built).
    pub(crate) fn running(&mut self, pending: Option<PendingUpdates>, output: &str) {
        self.pending = pending;
        self.output = output.to_string();
    }

    /// Adds a finished round's outputs (`output`: the main output's name, for records
    /// that go there) and updates, each replacing the last for its window and key.
    pub(crate) fn add(&mut self, output: &str, records: Vec<Emitted>, updates: Vec<Emitted>) {
        let named = |mut e: Emitted| {
            e.topic.get_or_insert_with(|| output.to_string());
            e
        };
        self.records.extend(records.into_iter().map(named));
        self.replace(output, updates);
    }

    /// Keeps each of `updates` as the latest of its window and key.
    fn replace(&mut self, output: &str, updates: Vec<Emitted>) {
        for mut e in updates {
            let start = header(&e, WINDOW_START_HEADER)
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(|v| v.parse::<i64>().ok());
            let end = header(&e, WINDOW_END_HEADER).cloned();
            let key = (start, e.record.key.clone(), end);
            e.topic.get_or_insert_with(|| output.to_string());
            self.latest.insert(key, e);
        }
    }

    /// Everything, in the order it is appended: the rounds' outputs, then the updates
    /// (with those built now from the state not yet committed, which are the latest).
    /// Call before the state's writes are taken for the commit.
    pub(crate) fn take(&mut self) -> Result<Vec<Emitted>, StepError> {
        if let Some(pending) = &self.pending {
            let built = pending.take()?;
            let output = std::mem::take(&mut self.output);
            self.replace(&output, built);
            self.output = output;
        }
        let mut all = std::mem::take(&mut self.records);
        all.extend(std::mem::take(&mut self.latest).into_values());
        Ok(all)
    }

    /// Returns what [`Deferred::take`] took, planned into `groups`, to a commit that
    /// failed; their sequences were not committed, so a later commit numbers them again.
    pub(super) fn put_back(&mut self, groups: Vec<Group>) {
        let later = std::mem::take(&mut self.records);
        self.records = groups
            .into_iter()
            .flat_map(|g| {
                let topic = g.name;
                g.records.into_iter().map(move |record| Emitted {
                    topic: Some(topic.clone()),
                    record,
                    source: 0,
                })
            })
            .collect();
        self.records.extend(later);
    }
}
