//! Which `group_by`s keep a record whose new key is null (KIP-962, Kafka Streams 3.7+).
//!
//! Kafka's repartition topics used to drop null keys. Since KIP-962 the left joins of a
//! stream with a table join a null-key record with no row (the stream–global_table joins
//! look a key up through their own key selector, so a null stream key joins there too), a
//! windowed left or outer join of two streams joins a kept side's null-key record with null,
//! and a repartition node keeps null keys when any operator after it is one of those; Kafka
//! still drops them where none is (a `groupBy` before an aggregation, an inner join).
//! weir follows the same rule for the steps that read a `group_by`.

use super::{Graph, Node, PipelineSpec, Wiring};
use crate::streams::{JoinPair, JoinType};

impl PipelineSpec {
    /// Whether `group_by` step `step` passes on a record whose key selector chose no key
    /// (with a null key) instead of dropping it: when a step reading it is the stream side
    /// of a left stream–table join (versioned or not) or of a stream–global_table join, or
    /// a side a windowed stream–stream join keeps (left: its left side; outer: both).
    pub fn keeps_null_keys(&self, graph: &Graph, step: usize) -> bool {
        graph.wiring.iter().any(|w| match *w {
            Wiring::Join { left, join, .. } if left == Node::Step(step) => match join.pair {
                JoinPair::StreamTable | JoinPair::StreamVersioned(_) => {
                    join.join_type == JoinType::Left
                }
                JoinPair::StreamGlobal => true,
                JoinPair::StreamStream(_) => join.join_type != JoinType::Inner,
                JoinPair::TableTable => false,
            },
            Wiring::Join { right, join, .. } if right == Node::Step(step) => {
                matches!(join.pair, JoinPair::StreamStream(_)) && join.join_type == JoinType::Outer
            }
            _ => false,
        })
    }
}
