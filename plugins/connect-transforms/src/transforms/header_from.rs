//! `HeaderFrom`: copies (or moves) the fields `fields` of the key or value into the
//! headers `headers`, one to one; the value needs to be a map (a tombstone fails, as in
//! Connect).

use weir_guest::Error;

use crate::config::Keys;
use crate::json::header_text;
use crate::record::{Side, Working, require_map};

/// Configured `HeaderFrom`.
#[derive(Debug)]
pub struct HeaderFrom {
    side: Side,
    fields: Vec<String>,
    headers: Vec<String>,
    moving: bool,
}

impl HeaderFrom {
    /// From `fields`, `headers` and `operation` (`move` or `copy`).
    pub fn build(side: Side, keys: &Keys<'_>) -> Result<HeaderFrom, Error> {
        let fields = keys.require_list("fields")?;
        let headers = keys.require_list("headers")?;
        if fields.len() != headers.len() {
            return Err(keys.invalid(
                "headers",
                &format!(
                    "lists {} headers for {} fields; they pair one to one",
                    headers.len(),
                    fields.len()
                ),
            ));
        }
        let moving = keys.choice("operation", &["move", "copy"], None)? == "move";
        Ok(HeaderFrom {
            side,
            fields,
            headers,
            moving,
        })
    }

    /// Adds the headers, and for `move` removes the fields.
    pub fn apply(&self, record: &mut Working<'_>) -> Result<(), Error> {
        let purpose = if self.moving {
            "header move"
        } else {
            "header copy"
        };
        let data = record.side(self.side).json();
        let map = require_map(data, purpose)?;
        let mut added = Vec::with_capacity(self.fields.len());
        for (field, header) in self.fields.iter().zip(&self.headers) {
            let value = if self.moving {
                map.remove(field)
            } else {
                map.get(field).cloned()
            };
            added.push((header.clone(), value.as_ref().and_then(header_text)));
        }
        record.headers_mut().extend(added);
        Ok(())
    }
}
