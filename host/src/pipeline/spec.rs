//! The pipeline specification users send (`POST /v1/pipelines`), parsed and
//! checked for everything that can be checked without the broker or registry.
//!
//! - [`module_ref`]: [`ModuleRef`], how a step names a module, and the name rules.
//! - [`step`]: [`StepSpec`], one step, and the checks of its own fields.
//! - [`graph`]: [`Graph`], sources and what each step reads, checked.
//! - [`regroup`]: the `group_by`s as stage boundaries ([`Boundary`]), what the steps after
//!   them read, and each stage's view of the spec.
//! - [`table_group`]: a `group_by` of a table and the aggregation after it, checked.
//! - [`null_keys`]: which `group_by`s keep a record whose new key is null (KIP-962).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::streams::{Late, Op};

mod module_ref;
mod null_keys;
mod regroup;
mod step;
mod table_group;

pub use graph::{Graph, Node, SOURCE_SLOT_BASE, Shape, SourceKind, SourceNode, SourceSpec, Wiring};
pub use module_ref::{BUILTIN_PREFIX, MAX_NAME_LEN, ModuleRef, check_name};
pub use regroup::{Boundary, repartition_topic};
pub use step::StepSpec;

/// Why a spec is refused; `field` is a JSON path such as `steps[1].module`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct SpecError {
    /// Where in the spec.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

pub(crate) fn spec_err(field: impl Into<String>, reason: impl Into<String>) -> SpecError {
    SpecError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// What a task does with a record its step chain fails on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnError {
    /// Stop the task; the error shows in its status.
    #[default]
    Fail,
    /// Drop the record and count it.
    Skip,
    /// Write the original record to the dead-letter topic with headers naming the error.
    DeadLetter,
}

/// Where a new pipeline starts reading its inputs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartPosition {
    /// From the oldest stored record.
    Earliest,
    /// Only records produced after the pipeline is created.
    #[default]
    Latest,
}

/// Per-pipeline sandbox limits (defaults come from the runtime).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// Linear memory cap per instance, MiB.
    pub memory_mb: Option<u32>,
    /// Wall-clock budget of one call into the guest, ms.
    pub deadline_ms: Option<u64>,
}

/// A pipeline as the user describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    /// Pipeline name.
    pub name: String,
    /// Input topics, read as streams; several must be co-partitioned.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Named sources (`{"NAME": {"topic": "T", "as": "stream" | "table" | "global_table"}}`),
    /// beside or instead of `inputs`; steps read them by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, SourceSpec>,
    /// The main output topic.
    pub output: String,
    /// Further topics a processor may route records to.
    #[serde(default)]
    pub outputs: Vec<String>,
    /// The steps, run in order, each over its input.
    pub steps: Vec<StepSpec>,
    /// The step whose results go to `output` (by name; default the last step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_from: Option<String>,
    /// Error policy.
    #[serde(default)]
    pub on_error: OnError,
    /// Required with `on_error = dead-letter`.
    #[serde(default)]
    pub dead_letter_topic: Option<String>,
    /// Where a new pipeline starts.
    #[serde(default)]
    pub start: StartPosition,
    /// Sandbox limits.
    #[serde(default)]
    pub limits: LimitsSpec,
    /// How long an idle task lets new input gather before it runs a round, ms (default
    /// [`DEFAULT_LINGER_MS`]; 0: at once). Like a Kafka producer's `linger.ms`: under a
    /// trickle of input, a few ms of latency buy rounds several records long, each round
    /// costing a read, a Wasm call, an append and a commit whatever its size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linger_ms: Option<u64>,
    /// How long a task may hold finished rounds before it commits their input offsets,
    /// state and output sequences, ms (default [`DEFAULT_COMMIT_INTERVAL_MS`]; 0: every
    /// round). Kafka Streams' `commit.interval.ms`: outputs are appended every round either
    /// way, and a crash replays the held rounds, whose outputs the producer windows
    /// recognise as appended; a longer interval costs only a longer replay. A chain whose
    /// output is an `on_update` aggregation is the exception: its latest result per
    /// window and key waits for the commit, as Kafka Streams' record cache does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_interval_ms: Option<u64>,
}

/// A pipeline's `group_by`: the steps up to it (from the previous one's topic, or the
/// inputs) write the records, keyed anew, to `topic`; the steps after it (to the next
/// `group_by`, or the outputs) run over `topic`'s partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repartition {
    /// Index of the `group_by` step.
    pub step: usize,
    /// `<pipeline>-<step>-repartition` (`<step>`: the step's name, else its index).
    pub topic: String,
}

/// Most `group_by` steps in one pipeline: each is a repartition topic and a stage of
/// tasks (one per partition) of its own.
pub const MAX_GROUP_BYS: usize = 8;

/// The linger of a pipeline whose spec names none, ms.
pub const DEFAULT_LINGER_MS: u64 = 2;

/// The commit interval of a pipeline whose spec names none, ms: Kafka Streams' default
/// under exactly-once.
pub const DEFAULT_COMMIT_INTERVAL_MS: u64 = 100;

/// The longest `commit_interval_ms`, ms: what a crash may have to replay.
pub const MAX_COMMIT_INTERVAL_MS: u64 = 60_000;

impl PipelineSpec {
    /// How long an idle task lets new input gather before a round.
    pub fn linger(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.linger_ms.unwrap_or(DEFAULT_LINGER_MS))
    }

    /// How long a task may hold finished rounds uncommitted.
    pub fn commit_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(
            self.commit_interval_ms
                .unwrap_or(DEFAULT_COMMIT_INTERVAL_MS),
        )
    }

    /// The sandbox limits the spec asks for, over the runtime's defaults.
    pub fn sandbox_limits(&self) -> crate::runtime::Limits {
        let mut limits = crate::runtime::Limits::default();
        if let Some(mb) = self.limits.memory_mb {
            limits.memory_bytes = mb as usize * (1 << 20);
        }
        if let Some(ms) = self.limits.deadline_ms {
            limits.deadline = std::time::Duration::from_millis(ms);
        }
        limits
    }

    /// Checks what needs no outside knowledge: names, non-empty lists, the
    /// dead-letter pairing, limit ranges, duplicate topics.
    pub fn check(&self) -> Result<(), SpecError> {
        check_name("pipeline", &self.name).map_err(|r| spec_err("name", r))?;
        if self.inputs.is_empty() && self.sources.is_empty() {
            return Err(spec_err(
                "inputs",
                "at least one input topic (or a source in \"sources\") is required",
            ));
        }
        for (i, t) in self.inputs.iter().enumerate() {
            if self.inputs[..i].contains(t) {
                return Err(spec_err(
                    format!("inputs[{i}]"),
                    format!("topic {t:?} is listed twice"),
                ));
            }
        }
        if self.steps.is_empty() {
            return Err(spec_err("steps", "at least one step is required"));
        }
        for (i, step) in self.steps.iter().enumerate() {
            step.check(i)?;
            if let Some(name) = &step.name {
                let field = format!("steps[{i}].name");
                check_name("step", name).map_err(|r| spec_err(&field, r))?;
                if name.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(spec_err(
                        field,
                        "a step name cannot be a number: numbers name steps by index",
                    ));
                }
                if self.steps[..i]
                    .iter()
                    .any(|s| s.name.as_ref() == Some(name))
                {
                    return Err(spec_err(field, format!("step name {name:?} is used twice")));
                }
            }
            if step.op == Op::GroupBy {
                let before = self.steps[..i]
                    .iter()
                    .filter(|s| s.op == Op::GroupBy)
                    .count();
                if before >= MAX_GROUP_BYS {
                    return Err(spec_err(
                        format!("steps[{i}].op"),
                        format!(
                            "a pipeline has at most {MAX_GROUP_BYS} \"group_by\" steps (each adds a \
                             repartition topic and a task per partition)"
                        ),
                    ));
                }
                if i + 1 == self.steps.len() {
                    return Err(spec_err(
                        format!("steps[{i}].op"),
                        "a \"group_by\" step needs the steps that use the new key after it",
                    ));
                }
            }
        }
        let graph = Graph::of(self)?;
        // The stages of the group_bys split the steps: each a graph of sources, tables and
        // joins, a later one reading the group_bys before it (see `regroup`).
        if !self.repartitions().is_empty() {
            if graph.output + 1 != self.steps.len() {
                return Err(spec_err(
                    "output_from",
                    "with a \"group_by\" the output is the last step",
                ));
            }
            self.check_after_group_bys(&graph)?;
        }
        self.check_table_group_bys(&graph)?;
        for (i, step) in self.steps.iter().enumerate() {
            // Results of windows closed on an idle input are timer output: they go
            // straight to the output topic and could not pass through later steps.
            if step.close_idle_after_ms.is_some() && i != graph.output {
                return Err(spec_err(
                    format!("steps[{i}].close_idle_after_ms"),
                    "only the step whose results go to the output can close windows on an idle input",
                ));
            }
        }
        if self.reads(&self.output) {
            return Err(spec_err(
                "output",
                format!(
                    "topic {:?} is also an input; a pipeline cannot feed itself",
                    self.output
                ),
            ));
        }
        for (i, t) in self.outputs.iter().enumerate() {
            if self.reads(t) {
                return Err(spec_err(
                    format!("outputs[{i}]"),
                    format!("topic {t:?} is also an input; a pipeline cannot feed itself"),
                ));
            }
        }
        for r in self.repartitions() {
            if self.inputs.contains(&r.topic) || self.written_topics().contains(&r.topic.as_str()) {
                return Err(spec_err(
                    format!("steps[{}]", r.step),
                    format!(
                        "{:?} is the group_by's internal repartition topic: no input or output may be it",
                        r.topic
                    ),
                ));
            }
        }
        // A step sending its late records there uses the topic as failures do.
        let late_letters = self
            .steps
            .iter()
            .position(|s| s.late == Some(Late::DeadLetter));
        match (self.on_error, &self.dead_letter_topic, late_letters) {
            (OnError::DeadLetter, None, _) => {
                return Err(spec_err(
                    "dead_letter_topic",
                    "required when on_error is \"dead-letter\"",
                ));
            }
            (_, None, Some(i)) => {
                return Err(spec_err(
                    format!("steps[{i}].late"),
                    "\"dead-letter\" needs the pipeline's dead_letter_topic",
                ));
            }
            (_, Some(t), _) if self.reads(t) => {
                return Err(spec_err(
                    "dead_letter_topic",
                    format!("topic {t:?} is also an input"),
                ));
            }
            (OnError::Fail | OnError::Skip, Some(_), None) => {
                return Err(spec_err(
                    "dead_letter_topic",
                    "only used when on_error is \"dead-letter\" or a step's late is \"dead-letter\"",
                ));
            }
            _ => {}
        }
        if let Some(mb) = self.limits.memory_mb
            && !(1..=4096).contains(&mb)
        {
            return Err(spec_err("limits.memory_mb", "must be between 1 and 4096"));
        }
        if let Some(ms) = self.limits.deadline_ms
            && !(1..=600_000).contains(&ms)
        {
            return Err(spec_err(
                "limits.deadline_ms",
                "must be between 1 and 600000",
            ));
        }
        if let Some(ms) = self.linger_ms
            && ms > 1000
        {
            return Err(spec_err("linger_ms", "must be between 0 and 1000"));
        }
        if let Some(ms) = self.commit_interval_ms
            && ms > MAX_COMMIT_INTERVAL_MS
        {
            return Err(spec_err(
                "commit_interval_ms",
                format!("must be between 0 and {MAX_COMMIT_INTERVAL_MS}"),
            ));
        }
        Ok(())
    }

    /// The pipeline's `group_by` steps, in order, each with its internal repartition
    /// topic.
    pub fn repartitions(&self) -> Vec<Repartition> {
        self.steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.op == Op::GroupBy)
            .map(|(step, s)| {
                let label = match &s.name {
                    Some(name) => name.clone(),
                    None => step.to_string(),
                };
                Repartition {
                    step,
                    topic: regroup::repartition_topic(&self.name, &label),
                }
            })
            .collect()
    }

    /// Whether the pipeline reads `topic` (an input or a source's topic).
    pub fn reads(&self, topic: &str) -> bool {
        self.inputs.iter().any(|t| t == topic) || self.sources.values().any(|s| s.topic == topic)
    }

    /// The topics a task reads partition `p` of, in the order of its checkpoint's
    /// positions: `inputs`, then the stream and table sources by name. (A global table
    /// is read whole, apart.)
    pub fn read_topics(&self) -> Vec<String> {
        self.inputs
            .iter()
            .cloned()
            .chain(
                self.sources
                    .values()
                    .filter(|s| s.kind != SourceKind::GlobalTable)
                    .map(|s| s.topic.clone()),
            )
            .collect()
    }

    /// The topics of global-table sources, by source name: every task reads all their
    /// partitions.
    pub fn global_topics(&self) -> Vec<String> {
        self.sources
            .values()
            .filter(|s| s.kind == SourceKind::GlobalTable)
            .map(|s| s.topic.clone())
            .collect()
    }

    /// Every topic the pipeline writes to: the output, routed outputs and the dead-letter topic.
    pub fn written_topics(&self) -> Vec<&str> {
        let mut topics: Vec<&str> = std::iter::once(self.output.as_str())
            .chain(self.outputs.iter().map(String::as_str))
            .chain(self.dead_letter_topic.as_deref())
            .collect();
        topics.sort_unstable();
        topics.dedup();
        topics
    }
}

mod graph;
#[cfg(test)]
mod regroup_tests;
#[cfg(test)]
mod tests;
