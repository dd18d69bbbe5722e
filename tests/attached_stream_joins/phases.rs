//! Input in phases: which side of a join arrives first decides its results, so each phase
//! writes one topic and lets both modes read it whole before the next comes.

use serde_json::{Value, json};

use crate::cluster::{Node, attached_caught_up};
use crate::common::Server;
use crate::common::pipeline::{produce, read_all, wait_caught_up};

/// One input record: key (None: null), value, timestamp.
pub fn rec(key: Option<String>, value: String, ts: i64) -> Value {
    json!({"key": key, "value": value, "timestamp": ts})
}

/// Pipelines run both embedded (`<name>-e`) and attached (`<name>-a`), and the records
/// their inputs hold so far.
pub struct Phases<'a> {
    pub broker: &'a Server,
    pub names: Vec<&'a str>,
    /// Input partitions of each pipeline (its tasks).
    pub tasks: usize,
    pub sent: u64,
}

impl Phases<'_> {
    /// Writes `records` to `topic` without waiting.
    pub fn send(&mut self, topic: &str, records: Vec<Value>) {
        self.sent += records.len() as u64;
        produce(self.broker, topic, records);
    }

    /// Waits until every pipeline read all that was sent, embedded and attached (the
    /// group of `node` with `members` members).
    pub fn caught_up(&self, node: &Node, members: usize) {
        for name in &self.names {
            wait_caught_up(self.broker, &format!("{name}-e"), self.sent);
            attached_caught_up(node, &format!("{name}-a"), members, self.tasks);
        }
    }
}

/// Asserts that every partition of each of `topics` holds records (the keys spread).
pub fn spread(broker: &Server, topics: &[&str]) {
    for topic in topics {
        let sizes: Vec<usize> = read_all(broker, topic).iter().map(Vec::len).collect();
        assert!(
            sizes.iter().all(|&n| n > 0),
            "{topic}'s keys land in one partition: {sizes:?}"
        );
    }
}
