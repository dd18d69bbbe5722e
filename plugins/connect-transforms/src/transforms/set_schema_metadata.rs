//! `SetSchemaMetadata`: sets the schema's name and version. Schemaless data has no schema,
//! so Connect fails such a record, and so does weir; a value in JsonConverter's envelope
//! (`{"schema": {...}, "payload": ...}`) gets the new `name` / `version` in its schema.
//! A null passes.

use serde_json::Value;
use weir_guest::Error;

use crate::config::Keys;
use crate::record::{Side, Working};

/// Configured `SetSchemaMetadata`.
#[derive(Debug)]
pub struct SetSchemaMetadata {
    side: Side,
    name: Option<String>,
    version: Option<i64>,
}

impl SetSchemaMetadata {
    /// From `schema.name` and `schema.version`.
    pub fn build(side: Side, keys: &Keys<'_>) -> Result<SetSchemaMetadata, Error> {
        let name = keys.get("schema.name").map(str::to_owned);
        let version = match keys.get("schema.version") {
            None => None,
            Some(v) => Some(
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| keys.invalid("schema.version", "is not a whole number"))?,
            ),
        };
        if name.is_none() && version.is_none() {
            return Err(keys.invalid(
                "schema.name",
                "(or schema.version) is required: there is nothing to set",
            ));
        }
        Ok(SetSchemaMetadata {
            side,
            name,
            version,
        })
    }

    /// Updates the envelope's schema.
    pub fn apply(&self, record: &mut Working<'_>) -> Result<(), Error> {
        let data = record.side(self.side).json();
        if data.is_null() {
            return Ok(());
        }
        let schema = data
            .as_object_mut()
            .filter(|m| m.len() == 2 && m.contains_key("payload"))
            .and_then(|m| m.get_mut("schema"))
            .and_then(Value::as_object_mut)
            .ok_or_else(|| Error::new("Schema required for [updating schema metadata]"))?;
        if let Some(n) = &self.name {
            schema.insert("name".into(), Value::String(n.clone()));
        }
        if let Some(v) = self.version {
            schema.insert("version".into(), Value::from(v));
        }
        Ok(())
    }
}
