//! `Cast`: casts the whole key or value (`spec=int32`) or some of its fields
//! (`spec=a:int32,b:string`) to int8, int16, int32, int64, float32, float64, boolean or
//! string, as Java casts: numbers narrow by truncation and wrap, strings parse.

use serde_json::{Number, Value};
use weir_guest::Error;

use crate::config::Keys;
use crate::json::{java_double, java_float};
use crate::record::{Side, Working, require_map};

/// A type `Cast` can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    Text,
}

impl Target {
    fn parse(name: &str) -> Option<Target> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "int8" => Target::Int8,
            "int16" => Target::Int16,
            "int32" => Target::Int32,
            "int64" => Target::Int64,
            "float32" => Target::Float32,
            "float64" => Target::Float64,
            "boolean" => Target::Boolean,
            "string" => Target::Text,
            _ => return None,
        })
    }
}

/// What is cast.
#[derive(Debug)]
enum Spec {
    /// The whole key or value.
    Whole(Target),
    /// Fields of a map.
    Fields(Vec<(String, Target)>),
}

/// Configured `Cast`.
#[derive(Debug)]
pub struct Cast {
    side: Side,
    spec: Spec,
}

impl Cast {
    /// From `spec`.
    pub fn build(side: Side, keys: &Keys<'_>) -> Result<Cast, Error> {
        let items = keys.require_list("spec")?;
        let bad = |item: &str| {
            keys.invalid(
                "spec",
                &format!(
                    "has {item:?}; expected field:type or one type, a type being int8, int16, \
                     int32, int64, float32, float64, boolean or string"
                ),
            )
        };
        let spec = match items.as_slice() {
            [one] if !one.contains(':') => Spec::Whole(Target::parse(one).ok_or_else(|| bad(one))?),
            _ => Spec::Fields(
                items
                    .iter()
                    .map(|item| match item.split_once(':') {
                        Some((f, t)) if !f.trim().is_empty() => Target::parse(t)
                            .map(|t| (f.trim().to_owned(), t))
                            .ok_or_else(|| bad(item)),
                        _ => Err(bad(item)),
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        Ok(Cast { side, spec })
    }

    /// Casts the key or value, or its fields.
    pub fn apply(&self, record: &mut Working<'_>) -> Result<(), Error> {
        let data = record.side(self.side).json();
        if data.is_null() {
            return Ok(());
        }
        match &self.spec {
            Spec::Whole(target) => *data = cast(data, *target)?,
            Spec::Fields(fields) => {
                let map = require_map(data, "cast types")?;
                for (f, target) in fields {
                    let cast = match map.get(f) {
                        None => Value::Null,
                        Some(v) => cast(v, *target)?,
                    };
                    map.insert(f.clone(), cast);
                }
            }
        }
        Ok(())
    }
}

const SUPPORTED: &str = "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]";

/// A source value as Java sees it after JsonConverter.
enum Source<'a> {
    Long(i64),
    Double(f64),
    Bool(bool),
    Text(&'a str),
}

fn cast(value: &Value, target: Target) -> Result<Value, Error> {
    let source = match value {
        Value::Null => return Ok(Value::Null),
        Value::Bool(b) => Source::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Source::Long(i),
            None => Source::Double(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => Source::Text(s),
        Value::Array(_) | Value::Object(_) => {
            let kind = if value.is_array() { "ARRAY" } else { "MAP" };
            return Err(Error::new(format!(
                "Cast transformation does not support casting from {kind}; supported types are {SUPPORTED}"
            )));
        }
    };
    let unparsable = |s: &str, what: &str| Error::new(format!("Cast: {s:?} is not a valid {what}"));
    let float = |f: f64| Number::from_f64(f).map_or(Value::Null, Value::Number);
    Ok(match target {
        Target::Int8 | Target::Int16 | Target::Int32 | Target::Int64 => {
            let n: i64 = match source {
                Source::Long(i) => narrow(i, target),
                Source::Double(d) => match target {
                    Target::Int64 => d as i64,
                    _ => narrow(i64::from(d as i32), target),
                },
                Source::Bool(b) => i64::from(b),
                Source::Text(s) => {
                    let t = s.trim_start_matches('+');
                    let parsed = match target {
                        Target::Int8 => t.parse::<i8>().map(i64::from).ok(),
                        Target::Int16 => t.parse::<i16>().map(i64::from).ok(),
                        Target::Int32 => t.parse::<i32>().map(i64::from).ok(),
                        _ => t.parse::<i64>().ok(),
                    };
                    parsed.ok_or_else(|| unparsable(s, "whole number"))?
                }
            };
            Value::from(n)
        }
        Target::Float32 => {
            let f: f32 = match source {
                Source::Long(i) => i as f32,
                Source::Double(d) => d as f32,
                Source::Bool(b) => f32::from(u8::from(b)),
                Source::Text(s) => s.trim().parse().map_err(|_| unparsable(s, "number"))?,
            };
            // The float32's own shortest digits, as Java prints a Float.
            float(java_float(f).parse().unwrap_or(f64::from(f)))
        }
        Target::Float64 => float(match source {
            Source::Long(i) => i as f64,
            Source::Double(d) => d,
            Source::Bool(b) => f64::from(u8::from(b)),
            Source::Text(s) => s.trim().parse().map_err(|_| unparsable(s, "number"))?,
        }),
        Target::Boolean => Value::Bool(match source {
            Source::Long(i) => i != 0,
            Source::Double(d) => d as i64 != 0,
            Source::Bool(b) => b,
            Source::Text(s) => s.trim().eq_ignore_ascii_case("true"),
        }),
        Target::Text => Value::String(match source {
            Source::Long(i) => i.to_string(),
            Source::Double(d) => java_double(d),
            Source::Bool(b) => b.to_string(),
            Source::Text(s) => s.to_owned(),
        }),
    })
}

/// Java's narrowing of a long to the target's width (wrapping).
fn narrow(i: i64, target: Target) -> i64 {
    match target {
        Target::Int8 => i64::from(i as i8),
        Target::Int16 => i64::from(i as i16),
        Target::Int32 => i64::from(i as i32),
        _ => i,
    }
}
