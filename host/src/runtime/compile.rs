//! [`CompileSlots`]: how many components compile at once.
//!
//! Compiling a Python or JS component takes seconds of a core and hundreds of MB; without a
//! bound, a burst of uploads compiles them all at once and starves the server. A load that
//! misses the cache takes a slot first; when none frees up within the configured wait it is
//! refused ([`super::RuntimeError::CompileBusy`], HTTP 503), so waiting uploads are bounded
//! in time as well as in number.

use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// Default number of components compiling at once.
pub const DEFAULT_COMPILE_CONCURRENCY: usize = 2;
/// Default longest wait for a compile slot.
pub const DEFAULT_COMPILE_WAIT: Duration = Duration::from_secs(30);

/// A counting semaphore over compilations, with a bounded wait.
#[derive(Debug)]
pub struct CompileSlots {
    slots: usize,
    wait: Duration,
    busy: Mutex<usize>,
    freed: Condvar,
}

/// A held compile slot, given back on drop.
#[derive(Debug)]
pub struct CompileSlot<'a> {
    slots: &'a CompileSlots,
}

impl Drop for CompileSlot<'_> {
    fn drop(&mut self) {
        let mut busy = self.slots.busy.lock();
        *busy -= 1;
        self.slots.freed.notify_one();
    }
}

impl CompileSlots {
    /// `slots` compilations at once (at least one); a caller waits at most `wait` for one.
    pub fn new(slots: usize, wait: Duration) -> CompileSlots {
        CompileSlots {
            slots: slots.max(1),
            wait,
            busy: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// The number of slots.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// The longest wait for a slot.
    pub fn wait(&self) -> Duration {
        self.wait
    }

    /// A slot, waiting for one at most [`CompileSlots::wait`]; `None` if none freed up.
    pub fn acquire(&self) -> Option<CompileSlot<'_>> {
        let until = Instant::now() + self.wait;
        let mut busy = self.busy.lock();
        while *busy >= self.slots {
            if self.freed.wait_until(&mut busy, until).timed_out() && *busy >= self.slots {
                return None;
            }
        }
        *busy += 1;
        Some(CompileSlot { slots: self })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_past_the_slots_waits_then_is_refused_or_served() {
        let slots = CompileSlots::new(2, Duration::from_millis(50));
        let a = slots.acquire().unwrap();
        let _b = slots.acquire().unwrap();
        assert!(slots.acquire().is_none(), "both slots are held");
        drop(a);
        assert!(slots.acquire().is_some(), "a freed slot is handed on");
        std::thread::scope(|s| {
            let c = slots.acquire().unwrap();
            let waiter = s.spawn(|| {
                let long = CompileSlots::new(1, Duration::from_secs(60));
                let held = long.acquire().unwrap();
                std::thread::scope(|s2| {
                    let w = s2.spawn(|| long.acquire().is_some());
                    drop(held);
                    w.join().unwrap()
                })
            });
            assert!(
                waiter.join().unwrap(),
                "a waiter gets the slot released meanwhile"
            );
            drop(c);
        });
    }
}
