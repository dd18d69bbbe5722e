//! [`CompileSlots`]: how many components compile at once, and how many loads wait for a turn.
//!
//! Compiling a Python or JS component takes seconds of a core and hundreds of MB; without a
//! bound, a burst of uploads compiles them all at once and starves the server. A load that
//! misses the cache takes a slot first. At most `queue` loads wait for one (each holds its
//! module's bytes meanwhile), each at most `wait`; past either bound the load is refused
//! ([`super::RuntimeError::CompileBusy`], HTTP 503), to be sent again later.

use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// Default number of components compiling at once.
pub const DEFAULT_COMPILE_CONCURRENCY: usize = 2;
/// Default longest wait for a compile slot.
pub const DEFAULT_COMPILE_WAIT: Duration = Duration::from_secs(30);
/// Default number of loads waiting for a compile slot at once.
pub const DEFAULT_COMPILE_QUEUE: usize = 8;

/// Slots taken and loads waiting.
#[derive(Debug, Default)]
struct Counts {
    busy: usize,
    waiting: usize,
}

/// A counting semaphore over compilations, with a bounded queue and a bounded wait.
#[derive(Debug)]
pub struct CompileSlots {
    slots: usize,
    wait: Duration,
    queue: usize,
    counts: Mutex<Counts>,
    freed: Condvar,
}

/// A held compile slot, given back on drop.
#[derive(Debug)]
pub struct CompileSlot<'a> {
    slots: &'a CompileSlots,
}

impl Drop for CompileSlot<'_> {
    fn drop(&mut self) {
        self.slots.counts.lock().busy -= 1;
        self.slots.freed.notify_one();
    }
}

impl CompileSlots {
    /// `slots` compilations at once (at least one); at most `queue` callers wait for one, each
    /// at most `wait`.
    pub fn new(slots: usize, wait: Duration, queue: usize) -> CompileSlots {
        CompileSlots {
            slots: slots.max(1),
            wait,
            queue,
            counts: Mutex::new(Counts::default()),
            freed: Condvar::new(),
        }
    }

    /// The number of slots.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// A slot; `Err` with the time waited when the queue was full or none freed up in time.
    pub fn acquire(&self) -> Result<CompileSlot<'_>, Duration> {
        let started = Instant::now();
        let until = started + self.wait;
        let mut counts = self.counts.lock();
        if counts.busy >= self.slots {
            if counts.waiting >= self.queue {
                return Err(started.elapsed());
            }
            counts.waiting += 1;
            while counts.busy >= self.slots {
                if self.freed.wait_until(&mut counts, until).timed_out()
                    && counts.busy >= self.slots
                {
                    counts.waiting -= 1;
                    return Err(started.elapsed());
                }
            }
            counts.waiting -= 1;
        }
        counts.busy += 1;
        Ok(CompileSlot { slots: self })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_past_the_slots_waits_a_bounded_time_in_a_bounded_queue() {
        let slots = CompileSlots::new(2, Duration::from_millis(50), 1);
        let a = slots.acquire().unwrap();
        let _b = slots.acquire().unwrap();
        let waited = slots.acquire().unwrap_err();
        assert!(waited >= Duration::from_millis(50), "{waited:?}");
        drop(a);
        assert!(slots.acquire().is_ok(), "a freed slot is handed on");

        // One slot, a queue of one: a second waiter is refused at once, the first is served
        // when the slot is given back.
        let one = CompileSlots::new(1, Duration::from_secs(60), 1);
        let held = one.acquire().unwrap();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| one.acquire().is_ok());
            // Wait (with a deadline) until the waiter is queued.
            let queued = Instant::now() + Duration::from_secs(10);
            while one.counts.lock().waiting == 0 {
                assert!(Instant::now() < queued, "the waiter never queued");
                std::thread::yield_now();
            }
            let refused = one.acquire().unwrap_err();
            assert!(
                refused < Duration::from_secs(1),
                "refused at once: {refused:?}"
            );
            drop(held);
            assert!(waiter.join().unwrap(), "the queued waiter gets the slot");
        });
    }
}
