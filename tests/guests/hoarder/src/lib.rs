//! Hostile: subscribes to the monotonic clock over and over without dropping a subscription,
//! unless the value is `ok`. Each pollable lives in the host's resource table, outside the
//! guest's memory cap, so only `sandbox.max_wasi_resources` stops it. Built against weir's
//! own `wit/sandbox.wit`, as a plugin author calling WASI directly would be.
use weir_guest::prelude::*;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "sandbox",
    generate_all,
});

#[filter]
fn hoarder(record: &Record) -> bool {
    if record.value() != Some(b"ok".as_slice()) {
        for _ in 0..10_000_000u32 {
            let pollable = wasi::clocks::monotonic_clock::subscribe_duration(3_600_000_000_000);
            std::mem::forget(pollable);
        }
    }
    true
}
