//! How a task reads a named source's records: a stream source passes them on; a table
//! or global table source applies them to its rows first, and passes on what it applied
//! (the table's changelog), before any step runs.

use std::borrow::Cow;

use crate::log::batch::Record;
use crate::streams::{Table, VersionedTable};

use super::super::flows::{Flow, Flows};
use super::super::spec::Node;
use super::super::table_cache::CachedState;
use super::{Chain, ChainOutput, Failed, StepError};

/// What a task does with a named source's records.
pub(super) enum Read {
    /// Passes them on as they are.
    Stream,
    /// Applies them to the table's rows first (a table or global table source).
    Table(CachedState),
    /// Applies them to a versioned table's history first.
    Versioned(CachedState, VersionedTable),
}

/// A named source as a task reads it.
pub(super) struct Source {
    pub(super) topic: String,
    pub(super) read: Read,
}

impl Chain {
    /// Puts `records`, read from `topic`, into `flows` as the node that reads the topic
    /// (`inputs` or a source); a table source's failures go to `out`.
    pub(super) fn read<'a>(
        &mut self,
        topic: &str,
        records: &'a [Record],
        flows: &mut Flows<'a>,
        out: &mut ChainOutput,
    ) -> Result<(), StepError> {
        let all: Vec<usize> = (0..records.len()).collect();
        // A topic is read once: by `inputs` or by one source (the spec refuses twice).
        match self.sources.iter().position(|s| s.topic == topic) {
            Some(s) => {
                let flow = match &mut self.sources[s].read {
                    Read::Stream => Flow {
                        records: Cow::Borrowed(records),
                        sources: all,
                        old_values: Vec::new(),
                    },
                    // A table source's rows change before any step reads them; a
                    // group_by of the table also gets each row's old value.
                    Read::Table(rows) if self.changes.contains(&Node::Source(s)) => {
                        let max = self.max_table_bytes;
                        let (output, olds) = Table
                            .changes_within(rows, records, max)
                            .map_err(|error| source_fault(topic, error))?;
                        let mut flow = changelog(topic, output, records, out);
                        flow.old_values = flow.sources.iter().map(|&j| olds[j].clone()).collect();
                        flow
                    }
                    Read::Table(rows) => {
                        let max = self.max_table_bytes;
                        let output = Table
                            .update_within(rows, records, max)
                            .map_err(|error| source_fault(topic, error))?;
                        changelog(topic, output, records, out)
                    }
                    Read::Versioned(rows, table) => {
                        let max = self.max_table_bytes;
                        let (output, expired) = table
                            .update_within(rows, records, max)
                            .map_err(|error| source_fault(topic, error))?;
                        // Older than the history keeps: dropped as late, as Kafka does.
                        out.late += expired;
                        changelog(topic, output, records, out)
                    }
                };
                flows.put(Node::Source(s), flow);
            }
            None if self.inputs.iter().any(|t| t == topic) => {
                flows.put(
                    Node::Inputs,
                    Flow {
                        records: Cow::Borrowed(records),
                        sources: all,
                        old_values: Vec::new(),
                    },
                );
            }
            None => {}
        }
        Ok(())
    }
}

fn source_fault(topic: &str, error: crate::streams::StreamsError) -> StepError {
    StepError {
        step: 0,
        module: format!("source {topic}"),
        error: error.into(),
    }
}

/// A table source's failures into `out`, and its changelog: the records applied, in
/// order (a subset of `records`; all of them, borrowed, in the usual case).
fn changelog<'a>(
    topic: &str,
    output: crate::runtime::Output,
    records: &'a [Record],
    out: &mut ChainOutput,
) -> Flow<'a> {
    for f in output.failures {
        out.failures.push(Failed {
            source: f.index as usize,
            step: 0,
            message: format!("table source of {topic:?}: {}", f.message),
        });
    }
    let applied: Vec<usize> = output
        .records
        .iter()
        .filter_map(|r| r.source.map(|s| s as usize))
        .collect();
    // The table's output names each applied record once, in order.
    if applied.len() == records.len() && applied.iter().enumerate().all(|(j, &s)| j == s) {
        return Flow {
            records: Cow::Borrowed(records),
            sources: applied,
            old_values: Vec::new(),
        };
    }
    let mut next = applied.iter().peekable();
    let mut flow = Flow::default();
    let mut kept = Vec::with_capacity(applied.len());
    for (j, record) in records.iter().enumerate() {
        if next.peek() == Some(&&j) {
            next.next();
            kept.push(record.clone());
            flow.sources.push(j);
        }
    }
    flow.records = Cow::Owned(kept);
    flow
}
