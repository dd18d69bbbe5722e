//! Keeps the records whose value contains the configured `pattern`.
use weir_guest::prelude::*;
#[derive(FromConfig)]
struct Settings {
    pattern: Vec<u8>,
}
#[filter]
fn keep(record: &Record, cfg: &Settings) -> bool {
    record.value().is_some_and(|v| contains(v, &cfg.pattern))
}
