//! Hostile: blocks in the host (`std::thread::sleep` is `wasi:io/poll` on a monotonic-clock
//! subscription) for a minute, where epoch interruption cannot reach it, unless the value is `ok`.
use weir_guest::prelude::*;

#[filter]
fn sleeper(record: &Record) -> bool {
    if record.value() != Some(b"ok".as_slice()) {
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
    true
}
