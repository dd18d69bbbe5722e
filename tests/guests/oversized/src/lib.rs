//! Hostile: answers each record with 4 MiB of output, unless the value is `ok`.
use weir_guest::prelude::*;

#[flat_map]
fn inflate(record: &Record) -> Vec<OwnedRecord> {
    if record.value() == Some(b"ok".as_slice()) {
        return vec![record.to_owned()];
    }
    (0..4)
        .map(|_| OwnedRecord::new(vec![b'x'; 1 << 20]))
        .collect()
}
