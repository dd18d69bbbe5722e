//! `Flatten`: nested maps become top-level fields joined by `delimiter` (default `.`);
//! lists and other values are kept as they are. A null passes.

use serde_json::{Map, Value};
use weir_guest::Error;

use crate::config::Keys;
use crate::record::{Side, Working, require_map};

/// Configured `Flatten`.
#[derive(Debug)]
pub struct Flatten {
    side: Side,
    delimiter: String,
}

impl Flatten {
    /// From `delimiter`.
    pub fn build(side: Side, keys: &Keys<'_>) -> Result<Flatten, Error> {
        Ok(Flatten {
            side,
            delimiter: keys.get("delimiter").unwrap_or(".").to_owned(),
        })
    }

    /// Flattens the key or value.
    pub fn apply(&self, record: &mut Working<'_>) -> Result<(), Error> {
        let data = record.side(self.side).json();
        if data.is_null() {
            return Ok(());
        }
        let map = std::mem::take(require_map(data, "flattening")?);
        let mut out = Map::new();
        self.flatten(map, "", &mut out);
        *data = Value::Object(out);
        Ok(())
    }

    fn flatten(&self, map: Map<String, Value>, prefix: &str, out: &mut Map<String, Value>) {
        for (k, v) in map {
            let name = if prefix.is_empty() {
                k
            } else {
                format!("{prefix}{}{k}", self.delimiter)
            };
            match v {
                Value::Object(inner) => self.flatten(inner, &name, out),
                other => {
                    out.insert(name, other);
                }
            }
        }
    }
}
