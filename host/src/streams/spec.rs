//! What a pipeline step asks of the streams layer, as the user writes it in the spec
//! (`"op"`, `"window"`, `"emit"`, `"value_format"`, `"key_format"`, `"retention_ms"`),
//! checked once and built into the runtime [`Aggregation`].

use serde::{Deserialize, Deserializer, Serialize};

use super::aggregate::{Aggregation, Grouping, Kind};
use super::join_window::JoinWindowSpec;
use super::session::SessionWindows;
use super::window::TimeWindows;

/// What a step does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Runs a module over each batch (today's step; the default).
    #[default]
    Map,
    /// Counts records per key (and window).
    Count,
    /// Sums values parsed as decimal numbers per key (and window).
    Sum,
    /// Combines values per key (and window) with a module's `add`, from the key's first
    /// value (Kafka's `reduce`).
    Reduce,
    /// Aggregates values per key (and window) with a module's `initial` and `add` (and
    /// `merge` for sessions; Kafka's `aggregate`).
    Aggregate,
    /// Gives each record a new key (a key-selector module's) and repartitions by it
    /// through the internal topic `<pipeline>-<step>-repartition` (Kafka's `groupBy`).
    GroupBy,
    /// Joins two inputs (`left`, `right`) by key.
    Join,
    /// Keeps the latest value per key of its input: a table that joins look keys up in
    /// and the state route answers for.
    ToTable,
}

impl Op {
    /// Whether the step aggregates (per key and maybe window, state kept by the host).
    pub fn is_aggregation(self) -> bool {
        matches!(self, Op::Count | Op::Sum | Op::Reduce | Op::Aggregate)
    }

    /// Whether the step runs a module (`map`, and the aggregator of `reduce` and
    /// `aggregate`).
    pub fn takes_module(self) -> bool {
        matches!(self, Op::Map | Op::Reduce | Op::Aggregate | Op::GroupBy)
    }

    /// The name the spec uses.
    pub fn name(self) -> &'static str {
        match self {
            Op::Map => "map",
            Op::Count => "count",
            Op::Sum => "sum",
            Op::Reduce => "reduce",
            Op::Aggregate => "aggregate",
            Op::GroupBy => "group_by",
            Op::Join => "join",
            Op::ToTable => "to_table",
        }
    }
}

/// A window as the spec writes it; `grace_ms` defaults to 0 (Kafka's `…WithNoGrace`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowSpec {
    /// `[start, start + size)` back to back from the epoch.
    Tumbling {
        /// Window length, ms.
        size_ms: u64,
        /// How long past its end a window accepts records, ms.
        #[serde(default)]
        grace_ms: u64,
    },
    /// `[start, start + size)` with starts every `advance_ms` from the epoch.
    Hopping {
        /// Window length, ms.
        size_ms: u64,
        /// Distance between window starts, ms (1..=size).
        advance_ms: u64,
        /// How long past its end a window accepts records, ms.
        #[serde(default)]
        grace_ms: u64,
    },
    /// `[start, start + max_diff_ms]`, both ends inclusive, made from record
    /// timestamps (Kafka's `SlidingWindows`).
    Sliding {
        /// Largest time difference between two records of one window, ms.
        max_diff_ms: u64,
        /// How long past its end a window accepts records, ms.
        #[serde(default)]
        grace_ms: u64,
    },
    /// Per key, `[first, last]` of records at most `gap_ms` apart; sessions a record
    /// bridges merge.
    Session {
        /// Inactivity gap, ms.
        gap_ms: u64,
        /// How long past its end + gap a session accepts records, ms.
        #[serde(default)]
        grace_ms: u64,
    },
}

/// A step's `window`: an aggregation's (with a `"type"`) or a stream–stream join's
/// (`before_ms`, `after_ms`, `grace_ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum StepWindow {
    /// Windows of `count` and `sum`.
    Aggregate(WindowSpec),
    /// The join window of a stream–stream join.
    Join(JoinWindowSpec),
}

impl StepWindow {
    /// The aggregation window, if it is one.
    pub fn aggregate(self) -> Option<WindowSpec> {
        match self {
            StepWindow::Aggregate(w) => Some(w),
            StepWindow::Join(_) => None,
        }
    }

    /// The join window, if it is one.
    pub fn join(self) -> Option<JoinWindowSpec> {
        match self {
            StepWindow::Join(w) => Some(w),
            StepWindow::Aggregate(_) => None,
        }
    }
}

impl<'de> Deserialize<'de> for StepWindow {
    /// Told apart by `"type"`, so each kind's own error (an unknown field, a missing one)
    /// reaches the user rather than "matched no variant".
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StepWindow, D::Error> {
        use serde::de::Error;
        let v = serde_json::Value::deserialize(d)?;
        if v.get("type").is_some() {
            WindowSpec::deserialize(v)
                .map(StepWindow::Aggregate)
                .map_err(D::Error::custom)
        } else {
            JoinWindowSpec::deserialize(v)
                .map(StepWindow::Join)
                .map_err(|e| {
                    D::Error::custom(format!(
                        "{e} (a join window has before_ms, after_ms and grace_ms; an aggregation's names its \"type\")"
                    ))
                })
        }
    }
}

/// When an aggregation emits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Emit {
    /// The latest result per changed (window, key) at each commit round.
    #[default]
    OnUpdate,
    /// Exactly one final result per (window, key), once stream time passes end + grace.
    OnClose,
}

/// How a count or sum is written as the output value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueFormat {
    /// Decimal text (`"42"`, `"-0.5"`).
    #[default]
    Text,
    /// 8-byte big-endian long, what a Java `LongDeserializer` reads (whole numbers only).
    Long,
}

/// How a windowed result's key is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyFormat {
    /// The grouping key as it came; the window is in the headers.
    #[default]
    Plain,
    /// Kafka Streams' `TimeWindowedSerializer` layout: the key bytes, then the window
    /// start as an 8-byte big-endian long (`WindowKeySchema.toBinary`).
    Windowed,
}

/// What a windowed step does with a late record (one whose windows had all closed),
/// besides counting it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Late {
    /// Drop it (Kafka Streams' behaviour).
    #[default]
    Drop,
    /// Write the original record to the pipeline's `dead_letter_topic`, with the
    /// dead-letter headers; `weir.error` says it was late and why.
    DeadLetter,
}

/// The streams fields of one step, as given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AggregateSpec {
    /// `op`.
    pub op: Op,
    /// `window`.
    pub window: Option<WindowSpec>,
    /// `emit`.
    pub emit: Option<Emit>,
    /// `value_format`.
    pub value_format: Option<ValueFormat>,
    /// `key_format`.
    pub key_format: Option<KeyFormat>,
    /// `retention_ms`.
    pub retention_ms: Option<u64>,
    /// `close_idle_after_ms`.
    pub close_idle_after_ms: Option<u64>,
    /// `late`.
    pub late: Option<Late>,
}

/// Longest window size, grace or retention accepted, ms (about 292 years: sums of them
/// stay far inside an `i64`).
pub const MAX_DURATION_MS: u64 = 1 << 53;

impl AggregateSpec {
    /// Whether any field only an aggregation takes is set.
    pub fn has_aggregation_fields(&self) -> Option<&'static str> {
        [
            (self.window.is_some(), "window"),
            (self.emit.is_some(), "emit"),
            (self.value_format.is_some(), "value_format"),
            (self.key_format.is_some(), "key_format"),
            (self.retention_ms.is_some(), "retention_ms"),
            (self.close_idle_after_ms.is_some(), "close_idle_after_ms"),
            (self.late.is_some(), "late"),
        ]
        .into_iter()
        .find_map(|(set, name)| set.then_some(name))
    }

    /// Checks the fields of an aggregation step and builds it; an error names the field
    /// (relative to the step) and why.
    pub fn build(&self) -> Result<Aggregation, (String, String)> {
        let err = |field: &str, reason: String| Err((field.to_string(), reason));
        let kind = match self.op {
            Op::Count => Kind::Count,
            Op::Sum => Kind::Sum,
            Op::Reduce => Kind::Reduce,
            Op::Aggregate => Kind::Aggregate,
            op @ (Op::Map | Op::GroupBy | Op::Join | Op::ToTable) => {
                return err("op", format!("\"{}\" is not an aggregation", op.name()));
            }
        };
        if kind.has_module() && self.value_format.is_some() {
            return err(
                "value_format",
                format!(
                    "\"{}\" writes its module's aggregate as it is; value_format is for count and sum",
                    self.op.name()
                ),
            );
        }
        let grouping = match self.window {
            None => Grouping::Running,
            Some(WindowSpec::Session { gap_ms, grace_ms }) => {
                if !(1..=MAX_DURATION_MS).contains(&gap_ms) {
                    return err(
                        "window.gap_ms",
                        format!("must be between 1 and {MAX_DURATION_MS}"),
                    );
                }
                if grace_ms > MAX_DURATION_MS {
                    return err(
                        "window.grace_ms",
                        format!("must be at most {MAX_DURATION_MS}"),
                    );
                }
                Grouping::Session(SessionWindows {
                    gap_ms: gap_ms as i64,
                    grace_ms: grace_ms as i64,
                })
            }
            Some(WindowSpec::Sliding {
                max_diff_ms,
                grace_ms,
            }) => {
                if !(1..=MAX_DURATION_MS).contains(&max_diff_ms) {
                    return err(
                        "window.max_diff_ms",
                        format!("must be between 1 and {MAX_DURATION_MS}"),
                    );
                }
                if grace_ms > MAX_DURATION_MS {
                    return err(
                        "window.grace_ms",
                        format!("must be at most {MAX_DURATION_MS}"),
                    );
                }
                Grouping::Sliding(super::sliding::SlidingWindows {
                    max_diff_ms: max_diff_ms as i64,
                    grace_ms: grace_ms as i64,
                })
            }
            Some(WindowSpec::Tumbling { size_ms, grace_ms }) => {
                Grouping::Time(time_windows(size_ms, size_ms, grace_ms)?)
            }
            Some(WindowSpec::Hopping {
                size_ms,
                advance_ms,
                grace_ms,
            }) => Grouping::Time(time_windows(size_ms, advance_ms, grace_ms)?),
        };
        let emit = self.emit.unwrap_or_default();
        if !grouping.windowed() {
            if emit == Emit::OnClose {
                return err(
                    "emit",
                    "\"on_close\" needs a window: a running aggregate never closes".into(),
                );
            }
            if self.key_format == Some(KeyFormat::Windowed) {
                return err("key_format", "\"windowed\" needs a window".into());
            }
            if self.retention_ms.is_some() {
                return err("retention_ms", "only windowed aggregations expire".into());
            }
            if self.late == Some(Late::DeadLetter) {
                return err(
                    "late",
                    "only windowed aggregations have late records".into(),
                );
            }
        }
        // What a window or session must be kept at least: size + grace (Kafka's
        // retention rule), or gap + grace for sessions.
        let least = match grouping {
            Grouping::Time(w) => w.size_ms + w.grace_ms,
            Grouping::Session(s) => s.gap_ms + s.grace_ms,
            // A window closes once its end is *before* stream time - grace: one more.
            Grouping::Sliding(s) => s.max_diff_ms + 1 + s.grace_ms,
            Grouping::Running | Grouping::Changes => 0,
        };
        let retention_ms = match (grouping.windowed(), self.retention_ms) {
            (true, Some(r)) => {
                if r > MAX_DURATION_MS || (r as i64) < least {
                    return err(
                        "retention_ms",
                        format!(
                            "must be at least the window's size (or gap) + grace ({least}) and at most {MAX_DURATION_MS}"
                        ),
                    );
                }
                r as i64
            }
            _ => least,
        };
        let close_idle_after_ms = match self.close_idle_after_ms {
            None => None,
            Some(_) if emit != Emit::OnClose => {
                return err(
                    "close_idle_after_ms",
                    "needs \"emit\": \"on_close\" and a window: only results emitted on close wait for stream time".into(),
                );
            }
            Some(ms) if !(1..=MAX_DURATION_MS).contains(&ms) => {
                return err(
                    "close_idle_after_ms",
                    format!("must be between 1 and {MAX_DURATION_MS}"),
                );
            }
            Some(ms) => Some(ms as i64),
        };
        Ok(Aggregation {
            kind,
            grouping,
            emit,
            value_format: self.value_format.unwrap_or_default(),
            key_format: self.key_format.unwrap_or_default(),
            retention_ms,
            close_idle_after_ms,
            max_open_windows: super::open::DEFAULT_MAX_OPEN_WINDOWS,
            late: self.late.unwrap_or_default(),
        })
    }
}

/// Checked tumbling or hopping windows; an error names the field and why.
fn time_windows(size: u64, advance: u64, grace: u64) -> Result<TimeWindows, (String, String)> {
    let err = |field: &str, reason: String| Err((field.to_string(), reason));
    if !(1..=MAX_DURATION_MS).contains(&size) {
        return err(
            "window.size_ms",
            format!("must be between 1 and {MAX_DURATION_MS}"),
        );
    }
    if !(1..=size).contains(&advance) {
        return err(
            "window.advance_ms",
            format!("must be between 1 and size_ms ({size})"),
        );
    }
    if grace > MAX_DURATION_MS {
        return err(
            "window.grace_ms",
            format!("must be at most {MAX_DURATION_MS}"),
        );
    }
    Ok(TimeWindows {
        size_ms: size as i64,
        advance_ms: advance as i64,
        grace_ms: grace as i64,
    })
}
