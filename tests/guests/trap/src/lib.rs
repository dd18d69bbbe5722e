//! Hostile: panics with a message naming the record, unless the value is `ok`.
use weir_guest::prelude::*;

#[filter]
fn trap(record: &Record) -> bool {
    if record.value() == Some(b"ok".as_slice()) {
        return true;
    }
    panic!(
        "boom: cannot handle the record at offset {}",
        record.offset()
    );
}
