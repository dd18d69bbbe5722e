//! [`Writer`]: catalog writes that no concurrent writer on another node can make
//! collide, the Kafka way — one `transactional.id` for the whole catalog.
//!
//! A write, on any node:
//! 1. makes a transactional producer with the catalog's id and `init_transactions`: the
//!    coordinator completes or aborts whatever an earlier holder of the id had in flight
//!    and bumps the epoch, fencing that holder (its next send or commit fails);
//! 2. takes both topics' end offsets and waits until this node's tail has read up to
//!    them: nothing committed by an earlier writer is missing from the cache now;
//! 3. decides against the cache (the next version of a name, whether a pipeline exists,
//!    the edit over the latest record) and writes the records in one transaction;
//! 4. commits, then waits until its own tail has read its records, so the answer is
//!    visible to every later read on this node.
//!
//! Two nodes writing at once: the later `init_transactions` fences the earlier writer,
//! whose commit fails; it starts again at step 1 and decides over what the other wrote
//! (a different version number, `PipelineExists`, the edit over the newer record). After
//! `write_attempts` such losses the write answers a conflict (409), never an overwrite.
//! The alternative — a conditional write checked after the fact by every reader — needs
//! every reader to agree on which of two writes won, which compaction (keeping the last
//! record of a key) would undo.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::pipeline::PipelineError;

use super::super::error::ClusterError;
use super::super::producer::{OutRecord, Producer, ProducerMode};
use super::super::{Admin, Cluster};
use super::config::{MODULES_TOPIC, PIPELINES_TOPIC};
use super::tail::{Ends, Tail};

/// What a write decided against the cache.
pub enum Plan<T> {
    /// Nothing to write: the answer as it is (the same module bytes already stored).
    Done(T),
    /// Write these records in one transaction, then answer.
    Write {
        /// The records, in order.
        records: Vec<OutRecord>,
        /// The answer once they are committed.
        answer: T,
    },
}

/// A record of `topic`'s one partition.
pub fn record(topic: &str, key: Vec<u8>, value: Option<Vec<u8>>) -> OutRecord {
    OutRecord {
        topic: topic.to_string(),
        partition: Some(0),
        timestamp: None,
        key: Some(key),
        value,
        headers: Vec::new(),
    }
}

/// Makes catalog writes.
pub struct Writer {
    cluster: Arc<dyn Cluster>,
    id: String,
    timeout: Duration,
    attempts: u32,
    /// One write of this node at a time (its own writes would only fence each other),
    /// with the admin handle it reads end offsets through.
    one: parking_lot::Mutex<Box<dyn Admin>>,
}

/// Why one attempt failed.
enum Failure {
    /// Another writer fenced this one: decide again over what it wrote.
    Lost(ClusterError),
    /// The decision refused the write.
    Refused(PipelineError),
    /// The cluster failed.
    Failed(ClusterError),
}

impl From<ClusterError> for Failure {
    fn from(e: ClusterError) -> Failure {
        if e.is_fenced() {
            Failure::Lost(e)
        } else {
            Failure::Failed(e)
        }
    }
}

impl Writer {
    /// A writer with the catalog's `transactional.id`.
    pub fn new(
        cluster: Arc<dyn Cluster>,
        id: String,
        timeout: Duration,
        attempts: u32,
    ) -> Result<Writer, ClusterError> {
        Ok(Writer {
            one: parking_lot::Mutex::new(cluster.admin()?),
            cluster,
            id,
            timeout,
            attempts,
        })
    }

    /// Both topics' end offsets now.
    pub fn ends(admin: &dyn Admin) -> Result<Ends, ClusterError> {
        Ok(Ends {
            modules: admin.watermarks(MODULES_TOPIC, 0)?.1,
            pipelines: admin.watermarks(PIPELINES_TOPIC, 0)?.1,
        })
    }

    /// Runs `decide` over an up-to-date tail and commits what it plans, retrying when
    /// another node's writer fenced this one; `what` names the write in a conflict.
    pub fn write<T>(
        &self,
        tail: &Tail,
        what: &str,
        mut decide: impl FnMut(&Tail) -> Result<Plan<T>, PipelineError>,
    ) -> Result<T, PipelineError> {
        let admin = self.one.lock();
        let mut last = None;
        let mut unsure = None;
        for attempt in 0..self.attempts {
            if attempt > 0 {
                backoff(attempt);
            }
            match self.attempt(admin.as_ref(), tail, &mut decide, &mut unsure) {
                Ok(answer) => return Ok(answer),
                Err(Failure::Refused(e)) => return Err(e),
                Err(Failure::Lost(e)) => {
                    tracing::debug!(what, attempt, "catalog write fenced by another node: {e}");
                    last = None;
                }
                Err(Failure::Failed(e)) => {
                    tracing::warn!(what, attempt, "catalog write failed: {e}");
                    last = Some(e);
                }
            }
        }
        Err(match last {
            Some(e) => PipelineError::CatalogUnavailable(Box::new(e)),
            None => PipelineError::CatalogConflict {
                what: what.to_string(),
            },
        })
    }

    /// One try. `unsure` holds the records and answer of an earlier try whose commit
    /// failed without saying whether it took effect (a fence racing the commit can
    /// answer "fenced" for a commit the coordinator completed): if the catalog now
    /// holds exactly those records, that try committed and its answer stands — deciding
    /// again would append a deployment twice or answer a create with "exists".
    fn attempt<T>(
        &self,
        admin: &dyn Admin,
        tail: &Tail,
        decide: &mut impl FnMut(&Tail) -> Result<Plan<T>, PipelineError>,
        unsure: &mut Option<(Vec<OutRecord>, T)>,
    ) -> Result<T, Failure> {
        let mut producer = self.cluster.producer(ProducerMode::Transactional {
            id: self.id.clone(),
        })?;
        producer.init_transactions(self.timeout)?;
        self.read_up(tail, Writer::ends(admin)?)?;
        // No other writer can commit from here to this one's commit (it would fence this
        // one first), so what `decide` reads stays the latest while it runs.
        if let Some((witness, answer)) = unsure.take()
            && tail.read(|cache| witness.iter().all(|r| cache.holds(r)))
        {
            return Ok(answer);
        }
        let plan = decide(tail).map_err(Failure::Refused)?;
        let (records, answer) = match plan {
            Plan::Done(answer) => return Ok(answer),
            Plan::Write { records, answer } => (records, answer),
        };
        let topics: Vec<String> = records.iter().map(|r| r.topic.clone()).collect();
        let witness: Vec<OutRecord> = records
            .iter()
            .filter(|r| Tail::witnesses(r))
            .cloned()
            .collect();
        if let Err(e) = self.commit(producer.as_mut(), records, &topics, tail) {
            // Best effort: a fenced producer cannot abort, and a newer writer's
            // init_transactions aborts what this one left open anyway.
            let _ = producer.abort(self.timeout);
            *unsure = Some((witness, answer));
            return Err(e);
        }
        Ok(answer)
    }

    fn commit(
        &self,
        producer: &mut dyn Producer,
        records: Vec<OutRecord>,
        topics: &[String],
        tail: &Tail,
    ) -> Result<(), Failure> {
        producer.begin()?;
        for r in records {
            producer.send(r)?;
        }
        let placed = producer.flush(self.timeout)?;
        producer.commit(self.timeout)?;
        let mut mine = Ends::default();
        for (topic, d) in topics.iter().zip(&placed) {
            let end = if topic == MODULES_TOPIC {
                &mut mine.modules
            } else {
                &mut mine.pipelines
            };
            *end = (*end).max(d.offset + 1);
        }
        self.read_up(tail, mine)
    }

    fn read_up(&self, tail: &Tail, target: Ends) -> Result<(), Failure> {
        let start = Instant::now();
        if tail.wait_for(target, self.timeout) {
            return Ok(());
        }
        Err(Failure::Failed(ClusterError::CatalogBehind {
            topics: "_weir_modules and _weir_pipelines",
            waited_ms: start.elapsed().as_millis(),
        }))
    }
}

/// Waits a little longer each attempt, by a different amount on each node, so two nodes
/// that keep fencing each other fall out of step.
fn backoff(attempt: u32) {
    let jitter: u64 = rand::random_range(0..50);
    let ms = 20 * u64::from(attempt.min(8)) + jitter;
    std::thread::sleep(Duration::from_millis(ms));
}
