//! Hostile: allocates without bound (the memory cap must stop it), unless the value is `ok`.
use weir_guest::prelude::*;

#[filter]
fn bomb(record: &Record) -> bool {
    if record.value() == Some(b"ok".as_slice()) {
        return true;
    }
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1u8; 1 << 20]);
        std::hint::black_box(&hoard);
    }
}
