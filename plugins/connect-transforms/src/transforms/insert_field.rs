//! `InsertField`: adds the record's topic, partition, offset or timestamp, or a static
//! value, as fields of the key or value. A tombstone passes unchanged; a field name may end
//! in `!` (required) or `?` (optional), which only matters with schemas.

use serde_json::Value;
use weir_guest::Error;

use crate::config::Keys;
use crate::record::{Side, Working, require_map};

/// Configured `InsertField`.
#[derive(Debug)]
pub struct InsertField {
    side: Side,
    topic: Option<String>,
    partition: Option<String>,
    offset: Option<String>,
    timestamp: Option<String>,
    static_field: Option<(String, Option<String>)>,
}

fn field(keys: &Keys<'_>, key: &str) -> Option<String> {
    let name = keys.get(key)?.trim();
    let name = name
        .strip_suffix('!')
        .or_else(|| name.strip_suffix('?'))
        .unwrap_or(name);
    (!name.is_empty()).then(|| name.to_owned())
}

impl InsertField {
    /// From `topic.field`, `partition.field`, `offset.field`, `timestamp.field`,
    /// `static.field` and `static.value`.
    pub fn build(side: Side, keys: &Keys<'_>) -> Result<InsertField, Error> {
        let t = InsertField {
            side,
            topic: field(keys, "topic.field"),
            partition: field(keys, "partition.field"),
            offset: field(keys, "offset.field"),
            timestamp: field(keys, "timestamp.field"),
            static_field: field(keys, "static.field")
                .map(|f| (f, keys.get("static.value").map(str::to_owned))),
        };
        if t.topic.is_none()
            && t.partition.is_none()
            && t.offset.is_none()
            && t.timestamp.is_none()
            && t.static_field.is_none()
        {
            return Err(keys.invalid(
                "topic.field",
                "(or partition.field, offset.field, timestamp.field, static.field) must name \
                 at least one field to insert",
            ));
        }
        Ok(t)
    }

    /// Inserts the fields.
    pub fn apply(&self, record: &mut Working<'_>) -> Result<(), Error> {
        let topic = record.topic().to_owned();
        let input = record.input;
        let data = record.side(self.side).json();
        if data.is_null() {
            return Ok(());
        }
        let map = require_map(data, "field insertion")?;
        if let Some(f) = &self.topic {
            map.insert(f.clone(), Value::String(topic));
        }
        if let Some(f) = &self.partition {
            map.insert(f.clone(), Value::from(input.partition()));
        }
        if let Some(f) = &self.offset {
            let offset = input.offset();
            if offset < 0 {
                return Err(Error::new(
                    "offset.field: the record has no offset (it was not read from a topic)",
                ));
            }
            map.insert(f.clone(), Value::from(offset));
        }
        if let Some(f) = &self.timestamp {
            map.insert(f.clone(), Value::from(input.timestamp()));
        }
        if let Some((f, v)) = &self.static_field {
            map.insert(f.clone(), v.clone().map_or(Value::Null, Value::String));
        }
        Ok(())
    }
}
