//! [`StepSpec`]: one step of a pipeline spec as users write it, and the checks of the
//! fields that go together within one step (wiring is [`super::Graph`]'s to check).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::streams::{
    AggregateSpec, Aggregation, Emit, JoinType, KeyFormat, Late, Op, StepWindow, ValueFormat,
};

use super::{ModuleRef, SpecError, spec_err};
/// One step of the chain: a module run over each batch (`"op": "map"`, the default), or
/// an aggregation of the streams layer (`"count"`, `"sum"`, or `"reduce"` and
/// `"aggregate"` with an aggregator module) with its window, emit mode and formats.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// The step's name, unique in the pipeline: how the state route names it
    /// (`/v1/pipelines/{name}/state/{step}`); without one, its index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the step does.
    #[serde(default, skip_serializing_if = "is_map")]
    pub op: Op,
    /// What the step reads: a source or an earlier step, by name (default: the previous
    /// step; the first step reads `inputs`, or the only source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Joins: the left input (a source or an earlier step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left: Option<String>,
    /// Joins: the right input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub right: Option<String>,
    /// Joins: `inner` (default), `left` or `outer`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub join_type: Option<JoinType>,
    /// The module to run (`map` steps; the aggregator of `reduce` and `aggregate`; the
    /// key selector of `group_by`; the joiner of `join`, without which the default
    /// joiner's JSON is emitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<ModuleRef>,
    /// Stream–global_table joins: a key-selector module mapping each stream record to the
    /// global table's key it looks up (without one, the stream record's key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_module: Option<ModuleRef>,
    /// Configuration handed to the module (and a join's `key_module`), as strings.
    #[serde(default, deserialize_with = "config_strings")]
    pub config: BTreeMap<String, String>,
    /// Aggregations: the windows (none: one running aggregate per key); stream–stream
    /// joins: the join window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<StepWindow>,
    /// Aggregations: when results are emitted (default `on_update`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emit: Option<Emit>,
    /// Aggregations: how the number is written (default `text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_format: Option<ValueFormat>,
    /// Windowed aggregations: how the key is written (default `plain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_format: Option<KeyFormat>,
    /// Windowed aggregations: how long a window's state is kept from its start, ms
    /// (default and least: size + grace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_ms: Option<u64>,
    /// Windowed aggregations emitting on close: after this long without input, ms, the
    /// task's stream time follows the wall clock so windows close on a quiet input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_idle_after_ms: Option<u64>,
    /// Windowed aggregations: what happens to a late record besides being counted
    /// (`"drop"`, the default, or `"dead-letter"` to the pipeline's
    /// `dead_letter_topic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late: Option<Late>,
    /// Stream–table joins over a versioned table: how long stream records wait for
    /// late table updates before they join, ms (Kafka's `Joined.withGracePeriod`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_ms: Option<u64>,
    /// A `group_by` in a stage's view ([`PipelineSpec::stage_spec`](crate::pipeline::PipelineSpec::stage_spec)): whether it passes on
    /// a record whose new key is null ([`PipelineSpec::keeps_null_keys`](crate::pipeline::PipelineSpec::keeps_null_keys)). Derived from the
    /// steps after it, never read from or written to a spec.
    #[serde(skip)]
    pub keeps_null_keys: bool,
}

fn is_map(op: &Op) -> bool {
    *op == Op::Map
}

impl StepSpec {
    /// A `map` step running `module`.
    pub fn map(module: ModuleRef) -> StepSpec {
        StepSpec {
            module: Some(module),
            ..StepSpec::default()
        }
    }

    /// The streams fields of the step.
    pub fn aggregate_spec(&self) -> AggregateSpec {
        AggregateSpec {
            op: self.op,
            window: self.window.and_then(StepWindow::aggregate),
            emit: self.emit,
            value_format: self.value_format,
            key_format: self.key_format,
            retention_ms: self.retention_ms,
            close_idle_after_ms: self.close_idle_after_ms,
            late: self.late,
        }
    }

    /// The built aggregation of an aggregation step (`None` for a `map` step or one
    /// that does not check).
    pub fn aggregation(&self) -> Option<Aggregation> {
        if !self.op.is_aggregation() {
            return None;
        }
        self.aggregate_spec().build().ok()
    }

    /// Checks the step's fields go together; errors name `steps[i].field`. How it is
    /// wired to other steps and sources is [`Graph::of`](super::graph::Graph::of)'s to check.
    pub(super) fn check(&self, i: usize) -> Result<(), SpecError> {
        let field = |f: &str| format!("steps[{i}].{f}");
        let is_join = self.op == Op::Join;
        for (set, name) in [
            (self.left.is_some(), "left"),
            (self.right.is_some(), "right"),
            (self.join_type.is_some(), "type"),
            (self.key_module.is_some(), "key_module"),
            (self.grace_ms.is_some(), "grace_ms"),
        ] {
            if set && !is_join {
                return Err(spec_err(field(name), "only a \"join\" step takes it"));
            }
        }
        if let Some(StepWindow::Join(_)) = self.window
            && !is_join
        {
            return Err(spec_err(
                field("window"),
                "before_ms/after_ms make a join window; an aggregation's window names its \"type\"",
            ));
        }
        match self.op {
            Op::Map | Op::GroupBy => {
                if self.module.is_none() {
                    let needs = match self.op {
                        Op::GroupBy => {
                            "a \"group_by\" step needs a module of the key-selector world"
                        }
                        _ => "a \"map\" step needs a module",
                    };
                    return Err(spec_err(field("module"), needs));
                }
                if let Some(f) = self.aggregate_spec().has_aggregation_fields() {
                    return Err(spec_err(
                        field(f),
                        "only aggregation steps (\"op\": \"count\", \"sum\", \"reduce\" or \"aggregate\") take it",
                    ));
                }
                Ok(())
            }
            Op::Reduce | Op::Aggregate => {
                if self.module.is_none() {
                    return Err(spec_err(
                        field("module"),
                        format!(
                            "\"{}\" needs a module of the aggregator world",
                            self.op.name()
                        ),
                    ));
                }
                self.aggregate_spec()
                    .build()
                    .map(|_| ())
                    .map_err(|(f, reason)| spec_err(field(&f), reason))
            }
            op @ (Op::Join | Op::ToTable) => {
                if op == Op::ToTable && self.module.is_some() {
                    return Err(spec_err(
                        field("module"),
                        "\"to_table\" is built in and runs no module",
                    ));
                }
                // A join's config goes to its modules: without one it would be ignored.
                if !self.config.is_empty() && self.module.is_none() && self.key_module.is_none() {
                    return Err(spec_err(
                        field("config"),
                        format!(
                            "\"{}\" takes config only for a module (\"module\" or \"key_module\")",
                            op.name()
                        ),
                    ));
                }
                let mut fields = self.aggregate_spec();
                // A join's window is checked with the join, by the graph.
                fields.window = None;
                if let Some(f) = fields.has_aggregation_fields() {
                    return Err(spec_err(
                        field(f),
                        format!("\"{}\" does not take it", op.name()),
                    ));
                }
                if let Some(StepWindow::Aggregate(_)) = self.window {
                    return Err(spec_err(
                        field("window"),
                        format!(
                            "\"{}\" takes no aggregation window (a stream–stream join's window has before_ms and after_ms)",
                            op.name()
                        ),
                    ));
                }
                if op == Op::ToTable && self.window.is_some() {
                    return Err(spec_err(field("window"), "\"to_table\" takes no window"));
                }
                if is_join {
                    if self.input.is_some() {
                        return Err(spec_err(
                            field("input"),
                            "a join reads \"left\" and \"right\", not \"input\"",
                        ));
                    }
                    for (set, name) in [
                        (self.left.is_none(), "left"),
                        (self.right.is_none(), "right"),
                    ] {
                        if set {
                            return Err(spec_err(
                                field(name),
                                "a join needs both \"left\" and \"right\" (a source or an earlier step)",
                            ));
                        }
                    }
                }
                Ok(())
            }
            op => {
                if self.module.is_some() {
                    return Err(spec_err(
                        field("module"),
                        format!("\"{}\" is built in and runs no module", op.name()),
                    ));
                }
                if !self.config.is_empty() {
                    return Err(spec_err(
                        field("config"),
                        format!("\"{}\" takes no config", op.name()),
                    ));
                }
                self.aggregate_spec()
                    .build()
                    .map(|_| ())
                    .map_err(|(f, reason)| spec_err(field(&f), reason))
            }
        }
    }
}

/// Accepts JSON strings, numbers and booleans as config values.
fn config_strings<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = BTreeMap::<String, serde_json::Value>::deserialize(d)?;
    raw.into_iter()
        .map(|(k, v)| {
            let s = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                other => {
                    return Err(serde::de::Error::custom(format!(
                        "config {k:?} must be a string, number or boolean, not {other}"
                    )));
                }
            };
            Ok((k, s))
        })
        .collect()
}
