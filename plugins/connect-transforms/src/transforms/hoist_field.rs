//! `HoistField`: wraps the key or value in a map under `field` (a null too, as Connect does).

use serde_json::{Map, Value};
use weir_guest::Error;

use crate::config::Keys;
use crate::record::{Side, Working};

/// Configured `HoistField`.
#[derive(Debug)]
pub struct HoistField {
    side: Side,
    field: String,
}

impl HoistField {
    /// From `field`.
    pub fn build(side: Side, keys: &Keys<'_>) -> Result<HoistField, Error> {
        Ok(HoistField {
            side,
            field: keys.require_non_empty("field")?.to_owned(),
        })
    }

    /// Wraps the key or value.
    pub fn apply(&self, record: &mut Working<'_>) -> Result<(), Error> {
        let data = record.side(self.side).json();
        let mut map = Map::new();
        map.insert(self.field.clone(), data.take());
        *data = Value::Object(map);
        Ok(())
    }
}
