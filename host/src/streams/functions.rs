//! [`Functions`]: the user functions a `reduce` or `aggregate` step calls (a module of the
//! aggregator world, or in unit tests plain Rust), and how an aggregation folds a record
//! into an aggregate or merges two with them or with its built-in arithmetic.
//!
//! Kafka Streams' rules: `aggregate` starts a key's aggregate from `initial()` and adds
//! each record; `reduce` starts from the key's first value and adds the next ones; a
//! session a record bridges is merged (`merge`, Kafka's `Merger`) before the record is
//! added. Sliding windows are built by merging the per-timestamp aggregates they hold.
//! A table aggregation takes an updated row's old value out again (`subtract`, Kafka's
//! subtractor) before it adds the new one.

use crate::runtime::aggregator::{AggregatorInput, Answered};
use crate::runtime::{Instance, RuntimeError};

use super::aggregate::{Aggregation, Kind};
use super::error::StreamsError;
use super::store::Value;

/// The functions of a user aggregation. `Ok(Err(_))` is the function's refusal of one
/// call, which fails the record; `Err` fails the batch.
pub trait Functions {
    /// The aggregate of no records.
    fn initial(&mut self) -> Result<Answered, RuntimeError>;
    /// `aggregate` with `input` added.
    fn add(
        &mut self,
        input: AggregatorInput<'_>,
        aggregate: &[u8],
    ) -> Result<Answered, RuntimeError>;
    /// One aggregate of two of `key`.
    fn merge(&mut self, key: &[u8], left: &[u8], right: &[u8]) -> Result<Answered, RuntimeError>;
    /// `aggregate` with `input` taken out.
    fn subtract(
        &mut self,
        input: AggregatorInput<'_>,
        aggregate: &[u8],
    ) -> Result<Answered, RuntimeError>;
}

impl Functions for Instance {
    fn initial(&mut self) -> Result<Answered, RuntimeError> {
        Instance::initial(self)
    }

    fn add(
        &mut self,
        input: AggregatorInput<'_>,
        aggregate: &[u8],
    ) -> Result<Answered, RuntimeError> {
        Instance::add(self, input, aggregate)
    }

    fn merge(&mut self, key: &[u8], left: &[u8], right: &[u8]) -> Result<Answered, RuntimeError> {
        Instance::merge(self, key, left, right)
    }

    fn subtract(
        &mut self,
        input: AggregatorInput<'_>,
        aggregate: &[u8],
    ) -> Result<Answered, RuntimeError> {
        Instance::subtract(self, input, aggregate)
    }
}

/// What `count` and `sum` pass: they call no function.
pub struct BuiltIn;

impl Functions for BuiltIn {
    fn initial(&mut self) -> Result<Answered, RuntimeError> {
        Err(no_module("initial"))
    }

    fn add(&mut self, _: AggregatorInput<'_>, _: &[u8]) -> Result<Answered, RuntimeError> {
        Err(no_module("add"))
    }

    fn merge(&mut self, _: &[u8], _: &[u8], _: &[u8]) -> Result<Answered, RuntimeError> {
        Err(no_module("merge"))
    }

    fn subtract(&mut self, _: AggregatorInput<'_>, _: &[u8]) -> Result<Answered, RuntimeError> {
        Err(no_module("subtract"))
    }
}

fn no_module(call: &'static str) -> RuntimeError {
    RuntimeError::Unsupported {
        plugin: "(built-in)".into(),
        world: "streams",
        call,
    }
}

/// Where an answer goes: the new value, or why the record fails.
fn answered(answer: Result<Answered, RuntimeError>) -> Result<Result<Value, String>, StreamsError> {
    match answer {
        Ok(Ok(agg)) => Ok(Ok(Value::Bytes(agg.into()))),
        Ok(Err(refused)) => Ok(Err(refused.to_string())),
        Err(source) => Err(StreamsError::Module {
            source: Box::new(source),
        }),
    }
}

impl Aggregation {
    /// `old` (`None`: the aggregate has no records yet) with one record of `key` added:
    /// `addend` is a count's 1, a sum's number, or the record's value for a module.
    /// `Ok(Err(why))` fails the record alone.
    pub(super) fn fold(
        &self,
        fns: &mut dyn Functions,
        key: &[u8],
        old: Option<&Value>,
        addend: &Value,
        timestamp: i64,
    ) -> Result<Result<Value, String>, StreamsError> {
        let user = |value: &Value| match value {
            Value::Bytes(b) => Some(b.clone()),
            _ => None,
        };
        match self.kind {
            Kind::Count | Kind::Sum => Ok(match old {
                None => Ok(addend.clone()),
                Some(old) => self
                    .plus(old, addend)
                    .ok_or_else(|| format!("the {} overflows", self.kind_name())),
            }),
            Kind::Reduce | Kind::Aggregate => {
                let (Some(value), old) = (user(addend), old.map(user)) else {
                    return Err(StreamsError::Mixed);
                };
                let input = AggregatorInput {
                    key,
                    value: &value,
                    timestamp,
                };
                let start = match (self.kind, old) {
                    (_, Some(Some(old))) => old,
                    (_, Some(None)) => return Err(StreamsError::Mixed),
                    // Kafka's reduce: a key's first value is its aggregate.
                    (Kind::Reduce, None) => return Ok(Ok(addend.clone())),
                    (_, None) => match answered(fns.initial())? {
                        Ok(Value::Bytes(b)) => b,
                        Ok(_) => return Err(StreamsError::Mixed),
                        Err(m) => return Ok(Err(m)),
                    },
                };
                answered(fns.add(input, &start))
            }
        }
    }

    /// Two aggregates of `key` as one: added for `count` and `sum`, the module's `merge`
    /// for `reduce` and `aggregate`. `Ok(Err(why))` fails the record that merges them.
    pub(super) fn combine(
        &self,
        fns: &mut dyn Functions,
        key: &[u8],
        left: &Value,
        right: &Value,
    ) -> Result<Result<Value, String>, StreamsError> {
        match (self.kind, left, right) {
            (Kind::Count | Kind::Sum, _, _) => Ok(self
                .plus(left, right)
                .ok_or_else(|| format!("the {} overflows", self.kind_name()))),
            (_, Value::Bytes(l), Value::Bytes(r)) => answered(fns.merge(key, l, r)),
            _ => Err(StreamsError::Mixed),
        }
    }

    /// `agg` with one record of `key` taken out (a table row's old value): `subtrahend`
    /// is a count's 1, a sum's number, or the value for a module's `subtract`.
    /// `Ok(Err(why))` fails the record alone.
    pub(super) fn unfold(
        &self,
        fns: &mut dyn Functions,
        key: &[u8],
        agg: &Value,
        subtrahend: &Value,
        timestamp: i64,
    ) -> Result<Result<Value, String>, StreamsError> {
        match (self.kind, agg, subtrahend) {
            (Kind::Count | Kind::Sum, _, _) => Ok(self
                .minus(agg, subtrahend)
                .ok_or_else(|| format!("the {} overflows", self.kind_name()))),
            (_, Value::Bytes(agg), Value::Bytes(value)) => {
                let input = AggregatorInput {
                    key,
                    value,
                    timestamp,
                };
                answered(fns.subtract(input, agg))
            }
            _ => Err(StreamsError::Mixed),
        }
    }
}
