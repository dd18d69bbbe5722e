//! A `group_by` of a table (a `table` source or a `to_table` step): Kafka's
//! `KTable.groupBy`, whose only use is the aggregation right after it (`KGroupedTable`'s
//! `count`, `reduce` and `aggregate`, and weir's `sum`), with no window. That step then
//! aggregates the table's changes ([`crate::streams::Grouping::Changes`]).

use crate::streams::Op;

use super::{Graph, Node, PipelineSpec, Shape, SpecError, Wiring, spec_err};

impl PipelineSpec {
    /// The table step `i` regroups, if it is a `group_by` of a table (a `table` source
    /// or a `to_table` step).
    pub fn grouped_table(&self, graph: &Graph, i: usize) -> Option<Node> {
        if !self.steps.get(i).is_some_and(|s| s.op == Op::GroupBy) {
            return None;
        }
        match graph.wiring.get(i) {
            Some(Wiring::From(node)) if graph.shape(self, *node) == Shape::Table => Some(*node),
            _ => None,
        }
    }

    /// Whether step `i` is a `group_by` of a table.
    pub fn groups_table(&self, graph: &Graph, i: usize) -> bool {
        self.grouped_table(graph, i).is_some()
    }

    /// Whether step `i` aggregates a grouped table's changes: it follows a `group_by`
    /// of a table.
    pub fn aggregates_table(&self, i: usize) -> bool {
        i > 0
            && self.steps.get(i).is_some_and(|s| s.op.is_aggregation())
            && Graph::of(self).is_ok_and(|g| self.groups_table(&g, i - 1))
    }

    /// Refuses a `group_by` of a table not followed by an aggregation without a window
    /// (whose `emit` is then `on_update`: the aggregation's own check refuses
    /// `on_close` without a window).
    pub(super) fn check_table_group_bys(&self, graph: &Graph) -> Result<(), SpecError> {
        for g in 0..self.steps.len() {
            if !self.groups_table(graph, g) {
                continue;
            }
            let Some(next) = self.steps.get(g + 1) else {
                continue;
            };
            let field = |f: &str| format!("steps[{}].{f}", g + 1);
            if !next.op.is_aggregation() {
                return Err(spec_err(
                    field("op"),
                    "a \"group_by\" of a table is aggregated by the step after it: \"count\", \
                     \"sum\", \"reduce\" or \"aggregate\" (as Kafka's KGroupedTable)",
                ));
            }
            if next.window.is_some() {
                return Err(spec_err(
                    field("window"),
                    "a table aggregation has no window (as Kafka's KGroupedTable): it follows \
                     the table's rows, not time",
                ));
            }
        }
        Ok(())
    }
}
