//! Fuzzing in the test suite: an in-test property harness that runs with `cargo test
//! --workspace` in bounded time, deterministic by default (see [`driver`] for the seed and
//! case-count variables that run longer campaigns).
//!
//! - [`fixture`]: the runtime and small-capped broker the Kafka and HTTP targets use.
//! - [`driver`]: seeds, case counts, running a property, failure reports with the input in hex.
//! - [`mutate`]: bit flips, truncation, extreme length fields, repeated sections, tagged fields.
//! - [`batch`]: record-batch validation and decompression (every codec): Ok or a typed error,
//!   allocations bounded by the input.
//! - [`spec`]: pipeline specs, JSON and (as the CLI reads them) YAML: Ok or an error naming
//!   the field or the file.
//! - [`kafka`]: Kafka request frames through parse and dispatch for every served API against
//!   an in-process broker: no panic, no hang, the broker keeps serving, RSS bounded.
//! - [`http`]: the JSON bodies of the HTTP API against the real router: no 5xx but 507, a
//!   JSON error naming the problem, the router keeps serving.
//! - [`flat`]: the flat batches the host hands to guests, host encoder to SDK reader.
//!
//! The process runs weir's own allocator ([`weir::alloc::LazyHugeAlloc`], as `weir serve`
//! does), wrapped to record the largest single allocation per thread so that a target can
//! assert that a decoder allocated in proportion to its input.

mod driver;
mod fixture;
mod mutate;

mod batch;
mod flat;
mod http;
mod kafka;
mod spec;

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;

use weir::alloc::LazyHugeAlloc;

/// weir's allocator, recording the largest block each thread asks for.
struct Recording;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn record(size: usize) {
    // try_with: the thread-local may already be gone while a thread exits.
    let _ = LARGEST.try_with(|l| {
        if size > l.get() {
            l.set(size);
        }
    });
}

// SAFETY: forwards every call unchanged to LazyHugeAlloc; recording touches only a
// const-initialised thread-local Cell, which allocates nothing.
unsafe impl GlobalAlloc for Recording {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: the caller's guarantees, forwarded.
        unsafe { LazyHugeAlloc.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: the caller's guarantees, forwarded.
        unsafe { LazyHugeAlloc.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's guarantees, forwarded.
        unsafe { LazyHugeAlloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        // SAFETY: the caller's guarantees, forwarded.
        unsafe { LazyHugeAlloc.realloc(ptr, layout, new_size) }
    }
}

/// Held by the tests that measure RSS and by those that use a lot of memory at once, so that
/// one's memory does not count against the other's bound.
pub static MEMORY: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[global_allocator]
static ALLOC: Recording = Recording;

/// The largest single allocation this thread made since the last call (which resets it).
pub fn largest_allocation() -> usize {
    LARGEST.with(|l| l.replace(0))
}
