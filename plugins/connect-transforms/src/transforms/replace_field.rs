//! `ReplaceField`: keeps the fields `include` lists (all when empty) minus those `exclude`
//! lists, and renames them by `renames` (`old:new,…`). A null passes. `whitelist` and
//! `blacklist`, the lists' names before Connect 4.0, are refused by name: Connect 4 ignores
//! them, which would pass every field a config meant to drop.

use serde_json::{Map, Value};
use weir_guest::Error;

use crate::config::Keys;
use crate::record::{Side, Working, require_map};

/// Configured `ReplaceField`.
#[derive(Debug)]
pub struct ReplaceField {
    side: Side,
    include: Vec<String>,
    exclude: Vec<String>,
    renames: Vec<(String, String)>,
}

impl ReplaceField {
    /// From `include`, `exclude` and `renames`.
    pub fn build(side: Side, keys: &Keys<'_>) -> Result<ReplaceField, Error> {
        for (old, new) in [("whitelist", "include"), ("blacklist", "exclude")] {
            if keys.get(old).is_some() {
                return Err(keys.invalid(
                    old,
                    &format!("was renamed `{new}` in Kafka Connect 4.0; use `{new}`"),
                ));
            }
        }
        let mut renames = Vec::new();
        for pair in keys.list("renames") {
            match pair.split_once(':') {
                Some((from, to)) if !from.is_empty() && !to.is_empty() && !to.contains(':') => {
                    renames.push((from.to_owned(), to.to_owned()));
                }
                _ => {
                    return Err(
                        keys.invalid("renames", &format!("has {pair:?}; each item is old:new"))
                    );
                }
            }
        }
        Ok(ReplaceField {
            side,
            include: keys.list("include"),
            exclude: keys.list("exclude"),
            renames,
        })
    }

    /// Filters and renames the fields.
    pub fn apply(&self, record: &mut Working<'_>) -> Result<(), Error> {
        let data = record.side(self.side).json();
        if data.is_null() {
            return Ok(());
        }
        let map = std::mem::take(require_map(data, "field replacement")?);
        let mut out = Map::new();
        for (k, v) in map {
            let kept = !self.exclude.contains(&k)
                && (self.include.is_empty() || self.include.contains(&k));
            if kept {
                let name = self
                    .renames
                    .iter()
                    .find(|(from, _)| *from == k)
                    .map_or(k, |(_, to)| to.clone());
                out.insert(name, v);
            }
        }
        *data = Value::Object(out);
        Ok(())
    }
}
