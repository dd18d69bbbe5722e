//! The process allocator: the system one, except that huge blocks are reserved
//! lazily so that a client cannot abort the process with a length field.
//!
//! kafka-protocol 0.18 pre-allocates an array for as many elements as the
//! request's length field claims (up to 2^31) before reading any of them. A
//! hostile or corrupt frame then asks for tens of gigabytes; the system
//! allocator refuses, and Rust aborts the whole broker on a failed allocation.
//! Blocks of [`HUGE`] bytes or more are therefore mapped with `MAP_NORESERVE`:
//! the kernel hands out address space without committing memory, only pages
//! actually written cost anything, and the decoder fails on the short frame
//! long before it writes much. Ordinary allocations are untouched.

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks at least this large are mapped lazily.
pub const HUGE: usize = 1 << 30;

/// The system allocator with lazily committed huge blocks.
#[derive(Debug, Default)]
pub struct LazyHugeAlloc;

#[cfg(unix)]
unsafe fn map(size: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping has no preconditions; failure is MAP_FAILED.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        std::ptr::null_mut()
    } else {
        p.cast()
    }
}

fn is_huge(layout: &Layout) -> bool {
    // mmap gives page alignment; larger alignments stay with the system allocator.
    cfg!(unix) && layout.size() >= HUGE && layout.align() <= 4096
}

// SAFETY: every block is freed by the allocator that made it: huge layouts were
// mapped and are unmapped, all others go to `System`, and the layout passed to
// dealloc/realloc is the one the block was allocated with (GlobalAlloc contract).
unsafe impl GlobalAlloc for LazyHugeAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        #[cfg(unix)]
        if is_huge(&layout) {
            // SAFETY: see `map`.
            return unsafe { map(layout.size()) };
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        #[cfg(unix)]
        if is_huge(&layout) {
            // SAFETY: anonymous mappings are zero-filled.
            return unsafe { map(layout.size()) };
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        #[cfg(unix)]
        if is_huge(&layout) {
            // SAFETY: `ptr` came from `map` with this size.
            unsafe { libc::munmap(ptr.cast(), layout.size()) };
            return;
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        if !is_huge(&layout) && !is_huge(&new_layout) {
            // SAFETY: forwarded with the caller's guarantees.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // Crossing the threshold: move between the two allocators.
        // SAFETY: new block is valid for new_size bytes; old for layout.size().
        unsafe {
            let new = self.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_blocks_are_usable_and_freed() {
        let a = LazyHugeAlloc;
        let layout = Layout::from_size_align(HUGE * 8, 8).unwrap();
        unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null());
            *p = 7;
            *p.add(HUGE * 8 - 1) = 9;
            let q = a.realloc(p, layout, 64);
            assert_eq!(*q, 7);
            a.dealloc(q, Layout::from_size_align(64, 8).unwrap());
        }
    }
}
