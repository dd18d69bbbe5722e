//! Keeps the records whose value contains the configured `pattern`.
use weir_guest::prelude::*;

/// The pattern, read from the configuration once per instance.
struct Pattern(Vec<u8>);

impl FromConfig for Pattern {
    fn from_config(config: &Config) -> Result<Self> {
        Ok(Pattern(config.require("pattern")?.into()))
    }
}

/// The filter: a plain function; `#[filter]` makes it the plugin.
#[filter]
fn keep(record: &Record, pattern: &Pattern) -> bool {
    record.value().is_some_and(|v| contains(v, &pattern.0))
}
