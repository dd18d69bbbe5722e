//! A benchmark fixture: keeps every record without reading it, so what it measures is the
//! boundary (the batch crossing in, the answer crossing out) and the SDK's per-record loop.
use weir_guest::prelude::*;

#[filter]
fn keepall(_record: &Record) -> bool {
    true
}
