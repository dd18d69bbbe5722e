//! The step graph of a spec: named sources (`"sources"`), what each step reads
//! (`"input"`, or a join's `"left"` and `"right"`), what each node is (a stream or a
//! table), which kind of join each `join` step is, and which step feeds the output.
//! Built once from a spec by [`Graph::of`], which is also where the wiring is checked.

use serde::{Deserialize, Serialize};

use crate::streams::spec::MAX_DURATION_MS;
use crate::streams::{Join, JoinPair, JoinType, Op, StepWindow, VersionedJoin, VersionedTable};

use super::{PipelineSpec, SpecError, check_name, spec_err};

/// How a source's topic is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Each record an event (a `KStream`).
    #[default]
    Stream,
    /// The latest value per key of a co-partitioned topic; a null value deletes.
    Table,
    /// A full copy of every partition of the topic in every task.
    GlobalTable,
}

impl SourceKind {
    /// The name the spec uses.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Stream => "stream",
            SourceKind::Table => "table",
            SourceKind::GlobalTable => "global_table",
        }
    }
}

/// A named source as the spec writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// The topic read.
    pub topic: String,
    /// As a stream (default), a table or a global table.
    #[serde(rename = "as", default)]
    pub kind: SourceKind,
    /// A `table` kept with its history for this long past its stream time, ms: a
    /// versioned table, which stream–table joins look up as of each stream record's
    /// timestamp (Kafka's `Stores.persistentVersionedKeyValueStore`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_retention_ms: Option<u64>,
}

/// A source of the graph, in name order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceNode {
    /// Its name in `sources`.
    pub name: String,
    /// Its topic.
    pub topic: String,
    /// How it is read.
    pub kind: SourceKind,
    /// A versioned table's history retention, ms.
    pub history_ms: Option<u64>,
}

/// A node a step can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// The topics of `inputs`, read as one stream (today's linear pipelines).
    Inputs,
    /// A named source (index in [`Graph::sources`]).
    Source(usize),
    /// An earlier step.
    Step(usize),
}

/// What a node's records are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Events.
    Stream,
    /// A materialized table's changelog: joins can look keys up in it.
    Table,
    /// A global table.
    GlobalTable,
}

/// What one step reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wiring {
    /// One input.
    From(Node),
    /// A join's two inputs and its semantics.
    Join {
        /// `left`.
        left: Node,
        /// `right`.
        right: Node,
        /// The join built for them.
        join: Join,
    },
}

/// First state slot of sources (steps use their index, far below it): a table source's
/// rows live under this plus its index in [`Graph::sources`].
pub const SOURCE_SLOT_BASE: usize = 0x8000;

/// A spec's sources, each step's wiring, and the step feeding the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    /// Named sources, in name order.
    pub sources: Vec<SourceNode>,
    /// Per step, what it reads.
    pub wiring: Vec<Wiring>,
    /// The step whose results go to `output`.
    pub output: usize,
}

impl Graph {
    /// Builds and checks the graph of `spec`: names resolve to sources or earlier steps,
    /// joins get inputs they can join, `output_from` names a step.
    pub fn of(spec: &PipelineSpec) -> Result<Graph, SpecError> {
        let mut sources = Vec::with_capacity(spec.sources.len());
        for (name, s) in &spec.sources {
            let field = format!("sources.{name}");
            check_name("source", name).map_err(|r| spec_err(&field, r))?;
            if name.bytes().all(|b| b.is_ascii_digit()) {
                return Err(spec_err(field, "a source name cannot be a number"));
            }
            if spec.steps.iter().any(|st| st.name.as_ref() == Some(name)) {
                return Err(spec_err(
                    field,
                    format!("{name:?} names both a source and a step"),
                ));
            }
            if spec.inputs.contains(&s.topic)
                || sources.iter().any(|o: &SourceNode| o.topic == s.topic)
            {
                return Err(spec_err(
                    format!("{field}.topic"),
                    format!("topic {:?} is read twice", s.topic),
                ));
            }
            if let Some(ms) = s.history_retention_ms {
                if s.kind != SourceKind::Table {
                    return Err(spec_err(
                        format!("{field}.history_retention_ms"),
                        format!(
                            "only a \"table\" source keeps versions; this one is a {}",
                            s.kind.name()
                        ),
                    ));
                }
                if ms > MAX_DURATION_MS {
                    return Err(spec_err(
                        format!("{field}.history_retention_ms"),
                        format!("must be at most {MAX_DURATION_MS}"),
                    ));
                }
            }
            sources.push(SourceNode {
                name: name.clone(),
                topic: s.topic.clone(),
                kind: s.kind,
                history_ms: s.history_retention_ms,
            });
        }
        let mut graph = Graph {
            sources,
            wiring: Vec::with_capacity(spec.steps.len()),
            output: spec.steps.len().saturating_sub(1),
        };
        for (i, step) in spec.steps.iter().enumerate() {
            let field = |f: &str| format!("steps[{i}].{f}");
            let wiring = if step.op == Op::Join {
                let (Some(l), Some(r)) = (&step.left, &step.right) else {
                    return Err(spec_err(
                        field("left"),
                        "a join needs \"left\" and \"right\"",
                    ));
                };
                let left = graph
                    .resolve(spec, i, l)
                    .map_err(|r| spec_err(field("left"), r))?;
                let right = graph
                    .resolve(spec, i, r)
                    .map_err(|r| spec_err(field("right"), r))?;
                if left == right {
                    return Err(spec_err(
                        field("right"),
                        "left and right are the same input; a self-join is not supported",
                    ));
                }
                let join = graph.join(spec, i, left, right)?;
                Wiring::Join { left, right, join }
            } else {
                let node = match &step.input {
                    Some(name) => graph
                        .resolve(spec, i, name)
                        .map_err(|r| spec_err(field("input"), r))?,
                    None if i > 0 => Node::Step(i - 1),
                    None if !spec.inputs.is_empty() => Node::Inputs,
                    None if graph.sources.len() == 1 => Node::Source(0),
                    None => {
                        return Err(spec_err(
                            field("input"),
                            "the pipeline has several sources: name the one the first step reads",
                        ));
                    }
                };
                if graph.shape(spec, node) == Shape::GlobalTable {
                    return Err(spec_err(
                        field("input"),
                        "a global table can only be the right side of a join",
                    ));
                }
                Wiring::From(node)
            };
            graph.wiring.push(wiring);
        }
        graph.check_versioned()?;
        if let Some(name) = &spec.output_from {
            graph.output = spec
                .steps
                .iter()
                .position(|s| s.name.as_ref() == Some(name))
                .ok_or_else(|| spec_err("output_from", format!("no step is named {name:?}")))?;
        }
        Ok(graph)
    }

    /// The node `name` names for step `i`: a source, or a step before it.
    fn resolve(&self, spec: &PipelineSpec, i: usize, name: &str) -> Result<Node, String> {
        if let Some(s) = self.sources.iter().position(|s| s.name == name) {
            return Ok(Node::Source(s));
        }
        match spec
            .steps
            .iter()
            .position(|s| s.name.as_deref() == Some(name))
        {
            Some(j) if j < i => Ok(Node::Step(j)),
            Some(_) => Err(format!(
                "step {name:?} does not come before this one; a step reads sources and earlier steps"
            )),
            None => Err(format!("no source or step is named {name:?}")),
        }
    }

    /// What `node`'s records are.
    pub fn shape(&self, spec: &PipelineSpec, node: Node) -> Shape {
        match node {
            Node::Inputs => Shape::Stream,
            Node::Source(s) => match self.sources[s].kind {
                SourceKind::Stream => Shape::Stream,
                SourceKind::Table => Shape::Table,
                SourceKind::GlobalTable => Shape::GlobalTable,
            },
            Node::Step(j) => match spec.steps[j].op {
                Op::ToTable => Shape::Table,
                _ => Shape::Stream,
            },
        }
    }

    /// A versioned table source's history retention, ms.
    pub fn history(&self, node: Node) -> Option<u64> {
        match node {
            Node::Source(s) => self.sources[s].history_ms,
            _ => None,
        }
    }

    /// Refuses a versioned table read by anything but the right side of a stream–table
    /// join: its state keeps versions, which other steps would not read.
    fn check_versioned(&self) -> Result<(), SpecError> {
        for (i, w) in self.wiring.iter().enumerate() {
            let (reads, allowed) = match *w {
                Wiring::From(n) => (vec![n], None),
                Wiring::Join {
                    left, right, join, ..
                } => (
                    vec![left, right],
                    matches!(join.pair, JoinPair::StreamVersioned(_)).then_some(right),
                ),
            };
            for n in reads {
                if self.history(n).is_some() && Some(n) != allowed {
                    let Node::Source(s) = n else { continue };
                    return Err(spec_err(
                        format!("steps[{i}]"),
                        format!(
                            "source {:?} is a versioned table (history_retention_ms): only the \
                             right side of a stream–table join reads it",
                            self.sources[s].name
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The state slot holding `node`'s table rows, if it is a materialized table.
    pub fn table_slot(&self, spec: &PipelineSpec, node: Node) -> Option<usize> {
        match (node, self.shape(spec, node)) {
            (Node::Source(s), Shape::Table | Shape::GlobalTable) => Some(SOURCE_SLOT_BASE + s),
            (Node::Step(j), Shape::Table) => Some(j),
            _ => None,
        }
    }

    /// The join of step `i` over `left` and `right`, by what they are.
    fn join(
        &self,
        spec: &PipelineSpec,
        i: usize,
        left: Node,
        right: Node,
    ) -> Result<Join, SpecError> {
        let step = &spec.steps[i];
        let field = |f: &str| format!("steps[{i}].{f}");
        let join_type = step.join_type.unwrap_or_default();
        let pair = match (self.shape(spec, left), self.shape(spec, right)) {
            (Shape::Stream, Shape::Stream) => {
                let Some(StepWindow::Join(w)) = step.window else {
                    return Err(spec_err(
                        field("window"),
                        "a stream–stream join needs a window: {\"before_ms\", \"after_ms\", \"grace_ms\"}",
                    ));
                };
                JoinPair::StreamStream(w.build().map_err(|(f, r)| spec_err(field(&f), r))?)
            }
            (Shape::Stream, Shape::Table) => match self.history(right) {
                Some(history_ms) => JoinPair::StreamVersioned(VersionedJoin {
                    join_type,
                    table: VersionedTable {
                        history_ms: history_ms as i64,
                    },
                    grace_ms: step.grace_ms.map(|g| g as i64),
                    max_buffered: u64::MAX,
                }),
                None => JoinPair::StreamTable,
            },
            (Shape::Table, Shape::Table) => JoinPair::TableTable,
            (Shape::Table, Shape::Stream) => {
                return Err(spec_err(
                    field("left"),
                    "a table–stream join is written stream first: put the stream on the left, the table on the right",
                ));
            }
            (Shape::Stream, Shape::GlobalTable) => JoinPair::StreamGlobal,
            (Shape::GlobalTable, _) => {
                return Err(spec_err(
                    field("left"),
                    "a global table can only be the right side of a join, with a stream on the left",
                ));
            }
            (Shape::Table, Shape::GlobalTable) => {
                return Err(spec_err(
                    field("right"),
                    "a table cannot join a global table (nor can it in Kafka Streams); join a stream with it",
                ));
            }
        };
        if !matches!(pair, JoinPair::StreamStream(_)) && step.window.is_some() {
            return Err(spec_err(
                field("window"),
                format!(
                    "only a stream–stream join has a window; this is a {} join",
                    pair.name()
                ),
            ));
        }
        if let Some(grace) = step.grace_ms {
            match pair {
                JoinPair::StreamVersioned(v) if grace as i64 <= v.table.history_ms => {}
                JoinPair::StreamVersioned(v) => {
                    return Err(spec_err(
                        field("grace_ms"),
                        format!(
                            "the grace period ({grace} ms) cannot be longer than the table's \
                             history_retention_ms ({} ms)",
                            v.table.history_ms
                        ),
                    ));
                }
                JoinPair::StreamTable => {
                    return Err(spec_err(
                        field("grace_ms"),
                        "a stream–table join's grace period needs a versioned table: give the \
                         table source \"history_retention_ms\"",
                    ));
                }
                _ => {
                    return Err(spec_err(
                        field("grace_ms"),
                        format!(
                            "only a stream–table join takes grace_ms; this is a {} join \
                             (a stream–stream join's grace is its window's grace_ms)",
                            pair.name()
                        ),
                    ));
                }
            }
        }
        if step.key_module.is_some() && pair != JoinPair::StreamGlobal {
            return Err(spec_err(
                field("key_module"),
                format!(
                    "only a stream–global_table join looks its keys up through a key module; this is a {} join",
                    pair.name()
                ),
            ));
        }
        if matches!(
            pair,
            JoinPair::StreamTable | JoinPair::StreamVersioned(_) | JoinPair::StreamGlobal
        ) && join_type == JoinType::Outer
        {
            return Err(spec_err(
                field("type"),
                format!(
                    "a {} join is \"inner\" or \"left\" (only the stream triggers it, as in Kafka Streams)",
                    pair.name()
                ),
            ));
        }
        Ok(Join { join_type, pair })
    }

    /// The topics whose records reach `node`.
    pub fn topics_of<'s>(&self, spec: &'s PipelineSpec, node: Node) -> Vec<&'s str> {
        match node {
            Node::Inputs => spec.inputs.iter().map(String::as_str).collect(),
            Node::Source(s) => spec
                .sources
                .get(&self.sources[s].name)
                .map(|s| vec![s.topic.as_str()])
                .unwrap_or_default(),
            Node::Step(j) => match self.wiring[j] {
                Wiring::From(n) => self.topics_of(spec, n),
                Wiring::Join { left, right, .. } => {
                    let mut t = self.topics_of(spec, left);
                    t.extend(self.topics_of(spec, right));
                    t
                }
            },
        }
    }
}
