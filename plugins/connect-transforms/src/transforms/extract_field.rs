//! `ExtractField`: replaces the key or value with one of its fields (`field`; with
//! `field.syntax.version=V2`, a dotted path into nested maps). A null stays null, a
//! missing field gives null.

use serde_json::Value;
use weir_guest::Error;

use crate::config::Keys;
use crate::record::{Side, Working, require_map};

/// Configured `ExtractField`.
#[derive(Debug)]
pub struct ExtractField {
    side: Side,
    path: Vec<String>,
}

impl ExtractField {
    /// From `field` and `field.syntax.version`.
    pub fn build(side: Side, keys: &Keys<'_>) -> Result<ExtractField, Error> {
        let field = keys.require_non_empty("field")?;
        let path = match keys.choice("field.syntax.version", &["V1", "V2"], Some("V1"))? {
            "V2" => field.split('.').map(str::to_owned).collect(),
            _ => vec![field.to_owned()],
        };
        Ok(ExtractField { side, path })
    }

    /// Extracts the field.
    pub fn apply(&self, record: &mut Working<'_>) -> Result<(), Error> {
        let data = record.side(self.side).json();
        if data.is_null() {
            return Ok(());
        }
        let map = require_map(data, "field extraction")?;
        let mut found = Some(&*map);
        let mut value = None;
        for (i, step) in self.path.iter().enumerate() {
            let v = found.and_then(|m| m.get(step));
            if i + 1 == self.path.len() {
                value = v.cloned();
            } else {
                found = v.and_then(Value::as_object);
            }
        }
        *data = value.unwrap_or(Value::Null);
        Ok(())
    }
}
