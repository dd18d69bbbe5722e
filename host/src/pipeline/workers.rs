//! [`Workers`]: the fixed set of threads that run task turns (Wasm, log reads and appends,
//! sled commits), apart from the async threads where tasks wait for input.
//!
//! Tasks are async so that an idle one costs a few watch subscriptions, not a thread: a
//! thousand tasks wait on one small tokio runtime. A turn is blocking work, so it is sent
//! here and awaited. Running it on a thread outside any tokio runtime also lets
//! wasmtime-wasi's synchronous streams use their own runtime instead of needing
//! `block_in_place` (which hands the worker's queue to a fresh thread on every call and
//! grew a pool of hundreds of threads under many tasks).

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// How long [`Workers::stop`] waits for the threads.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A fixed pool of threads running task turns.
#[derive(Debug)]
pub struct Workers {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl Workers {
    /// Starts `n` threads (at least one) named `weir-worker-I`.
    pub fn start(n: usize) -> std::io::Result<Workers> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::new();
        for i in 0..n.max(1) {
            let rx = rx.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("weir-worker-{i}"))
                    .spawn(move || {
                        loop {
                            // The lock is held only while waiting for the next job.
                            let job = match rx.lock() {
                                Ok(rx) => rx.recv(),
                                Err(_) => return,
                            };
                            match job {
                                // A panicking turn drops its result (its task ends); the
                                // thread lives on for the others.
                                Ok(job) => {
                                    let _ =
                                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                                }
                                Err(_) => return,
                            }
                        }
                    })?,
            );
        }
        Ok(Workers {
            jobs: Mutex::new(Some(tx)),
            threads: Mutex::new(threads),
        })
    }

    /// Runs `f` on a worker thread and waits for its result; `None` once the pool has
    /// stopped (or the job panicked).
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        {
            let jobs = self.jobs.lock().ok()?;
            jobs.as_ref()?.send(job).ok()?;
        }
        rx.await.ok()
    }

    /// Stops taking jobs; the threads finish the queued ones (a turn of a stopped
    /// pipeline returns at once) and exit. Waits for them up to [`STOP_WAIT`], then leaves
    /// a turn still running (a plugin call near its deadline) to end by itself.
    pub fn stop(&self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
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

    /// Whether the pool has stopped taking jobs.
    pub fn stopped(&self) -> bool {
        self.jobs.lock().map(|j| j.is_none()).unwrap_or(true)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.stop();
    }
}
