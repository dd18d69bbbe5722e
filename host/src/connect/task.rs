//! A running task: its thread, what it is asked to do ([`Want`]) and where it is
//! ([`TaskState`]), shared between the thread and the service through [`TaskControl`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::state::TaskState;
use super::swap::SwapHandoff;

/// What the service asks of a task thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Move records.
    Run,
    /// Keep the instance, move nothing.
    Pause,
    /// Stop and end the thread.
    Exit,
}

/// Counters of one connector, for status and `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Records moved (appended by a source, put by a sink).
    pub records: AtomicU64,
    /// Records skipped under `errors.tolerance=all` (and sent to the DLQ if set).
    pub skipped: AtomicU64,
    /// Calls refused a capability the config does not grant (`weir.allow.*`).
    pub denied: AtomicU64,
    /// A mirror connector's figures (MM2's metric names); zero for the others.
    pub mirror: Arc<super::mirror::metrics::MirrorMetrics>,
}

impl Counters {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// The state shared by a task thread and the service.
#[derive(Debug)]
pub struct TaskControl {
    want: Mutex<Want>,
    changed: Condvar,
    state: Mutex<TaskState>,
    /// A new version handed over at the task's next clean boundary.
    pub swap: SwapHandoff,
}

impl TaskControl {
    /// A control for a task that is to `want` from the start.
    pub fn new(want: Want) -> Arc<TaskControl> {
        Arc::new(TaskControl {
            want: Mutex::new(want),
            changed: Condvar::new(),
            state: Mutex::new(TaskState::Unassigned),
            swap: SwapHandoff::default(),
        })
    }

    /// What the task is asked to do now.
    pub fn want(&self) -> Want {
        *self.want.lock()
    }

    /// Asks the task to do `want` (wakes it if it waits).
    pub fn set_want(&self, want: Want) {
        *self.want.lock() = want;
        self.changed.notify_all();
    }

    /// Waits up to `timeout` for the wish to change from what it is; answers it.
    pub fn wait(&self, timeout: Duration) -> Want {
        let mut want = self.want.lock();
        let before = *want;
        if before == Want::Exit {
            return before;
        }
        let _ = self
            .changed
            .wait_while_for(&mut want, |w| *w == before, timeout);
        *want
    }

    /// Where the task is.
    pub fn state(&self) -> TaskState {
        self.state.lock().clone()
    }

    /// Records where the task is.
    pub fn set_state(&self, state: TaskState) {
        *self.state.lock() = state;
    }
}

/// A task the service started: its id, configuration, control and thread.
#[derive(Debug)]
pub struct TaskHandle {
    /// The task id (0-based, as Connect's).
    pub id: u32,
    /// The configuration the connector gave it.
    pub config: BTreeMap<String, String>,
    /// Its control.
    pub control: Arc<TaskControl>,
    /// Its thread, joined when it stops.
    pub thread: Option<std::thread::JoinHandle<()>>,
}

impl TaskHandle {
    /// Asks the thread to end and waits for it.
    pub fn stop(&mut self) {
        self.control.set_want(Want::Exit);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TaskHandle {
    fn drop(&mut self) {
        self.stop();
    }
}
