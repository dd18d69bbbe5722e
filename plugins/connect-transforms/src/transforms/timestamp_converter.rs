//! `TimestampConverter`: converts a timestamp — the whole key or value, or its field
//! `field` — between Unix time (`unix.precision`, default milliseconds), a string in
//! `format` (Java's SimpleDateFormat, UTC) and Connect's Date, Time and Timestamp.
//!
//! Schemaless JSON has no Date type: Connect's JsonConverter cannot write the Date object
//! those three targets make, so Connect fails there; weir writes what JsonConverter's
//! envelope form would, the milliseconds (Date: of the day's midnight, Time: since
//! midnight).

use serde_json::Value;
use weir_guest::Error;

use crate::config::Keys;
use crate::json::java_class;
use crate::record::{Side, Working, require_map};
use crate::time::{DateFormat, MS_PER_DAY};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Text,
    Unix,
    Date,
    Time,
    Timestamp,
}

/// Configured `TimestampConverter`.
#[derive(Debug)]
pub struct TimestampConverter {
    side: Side,
    field: Option<String>,
    target: Target,
    format: Option<DateFormat>,
    /// Milliseconds per unit of Unix time (as a fraction: multiply, divide).
    precision: (i64, i64),
}

impl TimestampConverter {
    /// From `field`, `target.type`, `format` and `unix.precision`.
    pub fn build(side: Side, keys: &Keys<'_>) -> Result<TimestampConverter, Error> {
        let target = match keys.choice(
            "target.type",
            &["string", "unix", "Date", "Time", "Timestamp"],
            None,
        )? {
            "string" => Target::Text,
            "unix" => Target::Unix,
            "Date" => Target::Date,
            "Time" => Target::Time,
            _ => Target::Timestamp,
        };
        let format = match keys.get("format").map(str::trim) {
            None | Some("") => None,
            Some(p) => Some(DateFormat::parse(p).map_err(|e| keys.invalid("format", &e))?),
        };
        if target == Target::Text && format.is_none() {
            return Err(keys.invalid(
                "format",
                "is required when target.type is string (a SimpleDateFormat pattern)",
            ));
        }
        let precision = match keys.choice(
            "unix.precision",
            &["seconds", "milliseconds", "microseconds", "nanoseconds"],
            Some("milliseconds"),
        )? {
            "seconds" => (1000, 1),
            "microseconds" => (1, 1000),
            "nanoseconds" => (1, 1_000_000),
            _ => (1, 1),
        };
        let field = keys
            .get("field")
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_owned);
        Ok(TimestampConverter {
            side,
            field,
            target,
            format,
            precision,
        })
    }

    /// Converts the timestamp.
    pub fn apply(&self, record: &mut Working<'_>) -> Result<(), Error> {
        let data = record.side(self.side).json();
        if data.is_null() {
            return Ok(());
        }
        match &self.field {
            None => *data = self.convert(data)?,
            Some(f) => {
                let map = require_map(data, "converting timestamp formats")?;
                let converted = match map.get(f) {
                    None => Value::Null,
                    Some(v) => self.convert(v)?,
                };
                map.insert(f.clone(), converted);
            }
        }
        Ok(())
    }

    fn convert(&self, value: &Value) -> Result<Value, Error> {
        let (mul, div) = self.precision;
        let ms = match value {
            Value::Null => return Ok(Value::Null),
            Value::Number(n) if n.is_i64() => {
                n.as_i64().unwrap_or_default().saturating_mul(mul) / div
            }
            Value::String(s) => {
                let format = self.format.as_ref().ok_or_else(|| {
                    Error::new(
                        "TimestampConverter requires format option to be specified when using \
                         string timestamps",
                    )
                })?;
                format.parse_ms(s).map_err(|e| {
                    Error::new(format!(
                        "Could not parse timestamp: value ({s}) does not match pattern ({}): {e}",
                        format.pattern()
                    ))
                })?
            }
            other => {
                return Err(Error::new(format!(
                    "TimestampConverter does not support {} objects as timestamps",
                    java_class(other)
                )));
            }
        };
        Ok(match self.target {
            Target::Unix => Value::from(ms.saturating_mul(div) / mul),
            Target::Text => Value::String(
                self.format
                    .as_ref()
                    .map(|f| f.format(ms))
                    .unwrap_or_default(),
            ),
            Target::Timestamp => Value::from(ms),
            Target::Date => Value::from(ms - ms.rem_euclid(MS_PER_DAY)),
            Target::Time => Value::from(ms.rem_euclid(MS_PER_DAY)),
        })
    }
}
