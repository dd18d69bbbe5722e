//! Benchmark candidate: the example filter, but answering with copies of the kept records
//! (the `records` form) instead of their indices (the `keep` form).
use weir_guest::prelude::*;

#[flat_map]
fn keep(record: &Record, config: &Config) -> Result<Vec<OwnedRecord>> {
    let pattern = config.require("pattern")?;
    let hit = record
        .value()
        .is_some_and(|v| contains(v, pattern.as_bytes()));
    Ok(if hit {
        vec![record.to_owned()]
    } else {
        Vec::new()
    })
}
