//! Hostile: never returns (the deadline must interrupt it), unless the value is `ok`.
use weir_guest::prelude::*;

#[filter]
fn spin(record: &Record) -> bool {
    if record.value() == Some(b"ok".as_slice()) {
        return true;
    }
    let mut n = 0u64;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}
