//! [`Workers`]: the fixed set of threads ("lanes") that tasks live on: each waits for input
//! and runs its turns (Wasm, log reads and appends, sled commits) on the same thread.
//!
//! Tasks are async so that an idle one costs a few watch subscriptions, not a thread: a
//! thousand tasks share the lanes. Each lane is a single-threaded tokio runtime that owns
//! the tasks spawned on it (round-robin, like Kafka Streams' tasks on its stream threads)
//! and a queue of turns. A task's future waits for input inside the runtime; when it has
//! work it queues the turn and the lane runs it **outside** the runtime, between two
//! `block_on`s. Outside the runtime context wasmtime-wasi's synchronous streams can use
//! their own runtime (inside one they would need `block_in_place`, which hands the thread's
//! queue to a fresh thread on every call and once grew a pool of hundreds of threads).
//!
//! Why lanes and not one waiting thread feeding a shared pool (the design before): there a
//! round crossed threads three times (the waiting thread handed the turn to a pool thread
//! through a channel, the pool thread woke the waiting thread with the result, and that one
//! then lingered or waited again), and at a modest steady rate those wake-ups cost more CPU
//! than the round itself. On a lane the only wake-up left is the producer's, when input
//! arrives. The lanes' runtimes have no I/O driver: waking a task from the lane's own
//! thread outside `block_on` is then an atomic store, not an `eventfd` write.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use tokio::sync::Notify;

type Job = Box<dyn FnOnce() + Send>;

/// How long [`Workers::stop`] waits for the threads.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The turns queued by the tasks of the lane this thread runs (`None` on other threads).
#[derive(Default)]
struct Turns {
    jobs: VecDeque<Job>,
    /// The lane's `block_on`, waiting for a turn.
    waiting: Option<Waker>,
}

thread_local! {
    static TURNS: RefCell<Option<Turns>> = const { RefCell::new(None) };
}

/// One lane as seen from outside its thread.
#[derive(Debug)]
struct Lane {
    handle: tokio::runtime::Handle,
    /// Wakes the lane's `block_on` to stop (a permit is kept if it is busy in a turn).
    stop: Arc<Notify>,
}

/// A fixed set of lanes running tasks and their turns.
#[derive(Debug)]
pub struct Workers {
    lanes: Vec<Lane>,
    /// The lane the next task goes to.
    next: AtomicUsize,
    stopped: AtomicBool,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl Workers {
    /// Starts `n` lanes (at least one), threads named `weir-worker-I`.
    pub fn start(n: usize) -> std::io::Result<Workers> {
        let mut lanes = Vec::new();
        let mut threads = Vec::new();
        for i in 0..n.max(1) {
            // Time for lingers and timers; no I/O driver (see the module docs).
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()?;
            let stop = Arc::new(Notify::new());
            lanes.push(Lane {
                handle: runtime.handle().clone(),
                stop: stop.clone(),
            });
            threads.push(
                std::thread::Builder::new()
                    .name(format!("weir-worker-{i}"))
                    .spawn(move || lane(runtime, stop))?,
            );
        }
        Ok(Workers {
            lanes,
            next: AtomicUsize::new(0),
            stopped: AtomicBool::new(false),
            threads: Mutex::new(threads),
        })
    }

    /// Starts a task on the next lane; `None` once the lanes have stopped.
    pub fn spawn(
        &self,
        task: impl Future<Output = ()> + Send + 'static,
    ) -> Option<tokio::task::JoinHandle<()>> {
        if self.stopped() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.lanes.len();
        Some(self.lanes[i].handle.spawn(task))
    }

    /// Runs `f` as a turn of the lane the calling task lives on (outside its runtime) and
    /// waits for its result; `None` once the lanes have stopped or if the turn panicked.
    /// Called from anywhere but a lane (no task does), `f` runs at once, in place.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        if self.stopped() {
            return None;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        let queued = TURNS.with(|turns| match turns.borrow_mut().as_mut() {
            Some(turns) => {
                turns.jobs.push_back(job);
                Ok(turns.waiting.take())
            }
            None => Err(job),
        });
        match queued {
            Ok(waiting) => {
                if let Some(waker) = waiting {
                    waker.wake();
                }
            }
            Err(job) => job(),
        }
        rx.await.ok()
    }

    /// Stops the lanes: each finishes the turn it is in, drops its tasks (the service stops
    /// pipelines, which commit, before this) and exits. Waits for them up to
    /// [`STOP_WAIT`], then leaves a turn still running (a plugin call near its deadline) to
    /// end by itself.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        for lane in &self.lanes {
            lane.stop.notify_one();
        }
        let threads = self
            .threads
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        let deadline = std::time::Instant::now() + STOP_WAIT;
        for t in threads {
            while !t.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }

    /// Whether the lanes have stopped taking tasks and turns.
    pub fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A lane's thread: polls its tasks until one queues a turn, runs the turn outside the
/// runtime, and again, until told to stop.
fn lane(runtime: tokio::runtime::Runtime, stop: Arc<Notify>) {
    TURNS.with(|turns| *turns.borrow_mut() = Some(Turns::default()));
    loop {
        let next = runtime.block_on(async {
            tokio::select! {
                biased;
                _ = stop.notified() => None,
                job = next_turn() => Some(job),
            }
        });
        let Some(job) = next else { break };
        // A panicking turn drops its result (its task ends); the lane lives on for the
        // others.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
    // The tasks' futures go with the runtime, on this thread.
    drop(runtime);
    TURNS.with(|turns| turns.borrow_mut().take());
}

/// The next turn a task of this lane queued.
async fn next_turn() -> Job {
    std::future::poll_fn(|cx| {
        TURNS.with(|turns| {
            let mut turns = turns.borrow_mut();
            let Some(turns) = turns.as_mut() else {
                return Poll::Pending;
            };
            match turns.jobs.pop_front() {
                Some(job) => Poll::Ready(job),
                None => {
                    turns.waiting = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_run_turns_on_their_lane_and_stop_ends_them() {
        let workers = Arc::new(Workers::start(2).unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        for i in 0..4 {
            let workers2 = workers.clone();
            let tx = tx.clone();
            workers
                .spawn(async move {
                    let name = workers2
                        .run(|| std::thread::current().name().map(str::to_string))
                        .await
                        .flatten();
                    let panicked = workers2.run(|| panic!("a turn panics")).await;
                    let after = workers2.run(move || i * 10).await;
                    tx.send((name, panicked.is_none(), after)).unwrap();
                })
                .unwrap();
        }
        let mut lanes = std::collections::BTreeSet::new();
        for _ in 0..4 {
            let (name, panicked, after) =
                rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
            assert!(panicked, "a panicking turn answers None");
            assert!(after.unwrap() % 10 == 0, "the lane lives on after a panic");
            lanes.insert(name.unwrap());
        }
        assert_eq!(
            lanes.into_iter().collect::<Vec<_>>(),
            ["weir-worker-0", "weir-worker-1"],
            "tasks spread over the lanes and turns run on the task's lane"
        );
        workers.stop();
        assert!(workers.stopped());
        assert!(workers.spawn(async {}).is_none());
    }
}
