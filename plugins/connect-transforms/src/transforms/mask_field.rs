//! `MaskField`: replaces the listed fields with their type's empty value (0, false, "",
//! an empty list or map), or with `replacement` read as the field's type. A listed field
//! that is missing becomes null, and a tombstone fails, both as in Connect.

use serde_json::{Map, Number, Value};
use weir_guest::Error;

use crate::config::Keys;
use crate::json::java_class;
use crate::record::{Side, Working, require_map};

/// Configured `MaskField`.
#[derive(Debug)]
pub struct MaskField {
    side: Side,
    fields: Vec<String>,
    replacement: Option<String>,
}

impl MaskField {
    /// From `fields` and `replacement`.
    pub fn build(side: Side, keys: &Keys<'_>) -> Result<MaskField, Error> {
        let replacement = keys.get("replacement").map(str::to_owned);
        if replacement.as_deref() == Some("") {
            return Err(keys.invalid("replacement", "must not be empty"));
        }
        Ok(MaskField {
            side,
            fields: keys.require_list("fields")?,
            replacement,
        })
    }

    /// Masks the fields.
    pub fn apply(&self, record: &mut Working<'_>) -> Result<(), Error> {
        let data = record.side(self.side).json();
        let map = require_map(data, "mask fields")?;
        for f in &self.fields {
            let masked = match map.get(f) {
                None | Some(Value::Null) => Value::Null,
                Some(v) => match &self.replacement {
                    None => empty_of(v),
                    Some(r) => replaced(v, r)?,
                },
            };
            map.insert(f.clone(), masked);
        }
        Ok(())
    }
}

fn empty_of(v: &Value) -> Value {
    match v {
        Value::Bool(_) => Value::Bool(false),
        Value::Number(n) if n.is_f64() => Value::from(0.0),
        Value::Number(_) => Value::from(0),
        Value::String(_) => Value::String(String::new()),
        Value::Array(_) => Value::Array(Vec::new()),
        Value::Object(_) | Value::Null => Value::Object(Map::new()),
    }
}

fn replaced(v: &Value, replacement: &str) -> Result<Value, Error> {
    let unparsable = || Error::new(format!("Unable to convert {replacement} to number"));
    match v {
        Value::String(_) => Ok(Value::String(replacement.to_owned())),
        Value::Number(n) if n.is_f64() => replacement
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(unparsable),
        Value::Number(_) => replacement
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| unparsable()),
        other => Err(Error::new(format!(
            "Cannot mask value of type class {} with custom replacement.",
            java_class(other)
        ))),
    }
}
