//! `ValueToKey`: the key becomes a map of the listed fields of the value (a missing one is
//! null); the value must be a map, so a tombstone fails, as in Connect.

use serde_json::{Map, Value};
use weir_guest::Error;

use crate::config::Keys;
use crate::record::{Data, Working, require_map};

/// Configured `ValueToKey`.
#[derive(Debug)]
pub struct ValueToKey {
    fields: Vec<String>,
}

impl ValueToKey {
    /// From `fields`.
    pub fn build(keys: &Keys<'_>) -> Result<ValueToKey, Error> {
        Ok(ValueToKey {
            fields: keys.require_list("fields")?,
        })
    }

    /// Replaces the key.
    pub fn apply(&self, record: &mut Working<'_>) -> Result<(), Error> {
        let map = require_map(record.value.json(), "copying fields from value to key")?;
        let key: Map<String, Value> = self
            .fields
            .iter()
            .map(|f| (f.clone(), map.get(f).cloned().unwrap_or(Value::Null)))
            .collect();
        record.key = Data::Json(Value::Object(key));
        Ok(())
    }
}
