//! A connector's hot-swap: a new version of its plugin handed to each running task, taken at
//! the task's next clean boundary, and answered.
//!
//! The service orders ([`SwapHandoff`]) and waits; the task thread takes the order only where
//! nothing is in flight (a source after its last poll's records and offsets were committed,
//! a sink after a flush and commit), stops the old instance, starts the new one and makes its
//! first call (a source's poll, a sink's flush). If either fails, the task starts the old
//! version again from the same committed offsets and answers [`SwapOutcome::RolledBack`]:
//! the records stay where the commits left them, so nothing is lost or written twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::runtime::Plugin;

/// What a task runs: a plugin and the task's configuration for it.
#[derive(Clone)]
pub struct Version {
    /// The connector's plugin.
    pub plugin: Arc<Plugin>,
    /// The task's configuration, from the plugin's `task-configs`.
    pub config: BTreeMap<String, String>,
}

impl Version {
    /// The configuration as it crosses into the plugin.
    pub fn config_list(&self) -> Vec<(String, String)> {
        self.config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// How a task took a swap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwapOutcome {
    /// The new version runs.
    Swapped,
    /// The new version failed to start or failed its first call; the old one runs again.
    RolledBack {
        /// Why the new version was refused.
        reason: String,
    },
}

/// Where a swap between the service and a task is.
enum Slot {
    /// Nothing asked.
    Idle,
    /// Asked; the task has not reached a boundary yet.
    Ordered(Version),
    /// The task is swapping.
    Taken,
    /// The task answered.
    Done(SwapOutcome),
}

/// The swap handoff of one task.
pub struct SwapHandoff {
    slot: Mutex<Slot>,
    changed: Condvar,
}

impl std::fmt::Debug for SwapHandoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SwapHandoff").finish_non_exhaustive()
    }
}

impl Default for SwapHandoff {
    fn default() -> Self {
        SwapHandoff {
            slot: Mutex::new(Slot::Idle),
            changed: Condvar::new(),
        }
    }
}

impl SwapHandoff {
    /// Asks the task to run `version` from its next boundary.
    pub fn order(&self, version: Version) {
        *self.slot.lock() = Slot::Ordered(version);
        self.changed.notify_all();
    }

    /// The service's side: withdraws an order the task has not taken (it is being stopped),
    /// so that a waiter returns at once. One it took is answered as usual.
    pub fn withdraw(&self) {
        let mut slot = self.slot.lock();
        if matches!(*slot, Slot::Ordered(_)) {
            *slot = Slot::Idle;
            self.changed.notify_all();
        }
    }

    /// The task's side: the ordered version, if any (the task must then [`Self::answer`]).
    pub fn take(&self) -> Option<Version> {
        let mut slot = self.slot.lock();
        match std::mem::replace(&mut *slot, Slot::Idle) {
            Slot::Ordered(v) => {
                *slot = Slot::Taken;
                Some(v)
            }
            other => {
                *slot = other;
                None
            }
        }
    }

    /// The task's side: how the swap it took went.
    pub fn answer(&self, outcome: SwapOutcome) {
        *self.slot.lock() = Slot::Done(outcome);
        self.changed.notify_all();
    }

    /// The service's side: waits for the answer. An order the task has not taken by
    /// `timeout` (it is stuck retrying, or has ended) is withdrawn: `None`. One it took is
    /// waited for to the end, since its instance is then half-way between versions.
    pub fn wait(&self, timeout: Duration) -> Option<SwapOutcome> {
        let deadline = Instant::now() + timeout;
        let mut slot = self.slot.lock();
        loop {
            match &*slot {
                Slot::Done(outcome) => {
                    let outcome = outcome.clone();
                    *slot = Slot::Idle;
                    return Some(outcome);
                }
                Slot::Idle => return None,
                Slot::Ordered(_) if Instant::now() >= deadline => {
                    *slot = Slot::Idle;
                    return None;
                }
                Slot::Ordered(_) | Slot::Taken => {
                    let until = deadline.max(Instant::now() + Duration::from_millis(50));
                    self.changed.wait_until(&mut slot, until);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_nobody_takes_is_withdrawn_and_a_late_take_finds_nothing() {
        let h = SwapHandoff::default();
        // No plugin is needed to exercise the slot: a taken order is never used here.
        assert_eq!(h.wait(Duration::from_millis(10)), None);
        assert!(h.take().is_none());
    }

    #[test]
    fn an_answer_reaches_the_waiter_once() {
        let h = Arc::new(SwapHandoff::default());
        *h.slot.lock() = Slot::Taken;
        let t = {
            let h = h.clone();
            std::thread::spawn(move || h.answer(SwapOutcome::Swapped))
        };
        assert_eq!(h.wait(Duration::from_secs(5)), Some(SwapOutcome::Swapped));
        t.join().unwrap();
        assert_eq!(h.wait(Duration::from_millis(1)), None);
    }
}
