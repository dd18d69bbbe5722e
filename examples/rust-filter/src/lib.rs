//! Keeps the records whose value contains the configured `pattern`.
use weir_guest::prelude::*;

/// The filter: a plain function; `#[filter]` makes it the plugin.
#[filter]
fn keep(record: &Record, config: &Config) -> Result<bool> {
    let pattern = config.require("pattern")?;
    Ok(record
        .value()
        .is_some_and(|v| contains(v, pattern.as_bytes())))
}
