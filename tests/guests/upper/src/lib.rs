//! A map fixture: upper-cases the value, keeps key, headers and timestamp, adds a header.
use weir_guest::prelude::*;

#[map]
fn upper(record: &Record) -> OwnedRecord {
    let mut out = record.to_owned();
    out.value = record.value().map(|v| v.to_ascii_uppercase());
    out.with_header("mapped-by", "upper")
}
