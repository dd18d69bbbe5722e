//! Incremental fetch sessions (KIP-227), broker-wide and bounded.
//!
//! A full fetch (epoch 0) opens a session: the broker remembers the
//! partitions and what it last told the client of each. Later fetches (epoch
//! 1, 2, ...) name only partitions that were added or whose offset moved,
//! and the answer carries only partitions with news: records, a moved high
//! watermark or log start, or an error. Epoch -1 fetches without a session
//! (closing one named); a full fetch naming a session closes it first.
//!
//! The cache holds at most [`MAX_SESSIONS`] sessions and
//! [`MAX_CACHED_PARTITIONS`] partitions in all. When full, a session unused
//! for [`EVICT_AFTER`] is evicted first, then one smaller than the newcomer;
//! otherwise the full fetch is answered without a session (id 0), which every
//! client handles by fetching in full. An incremental fetch that would grow a
//! session past the bounds ends it with FETCH_SESSION_ID_NOT_FOUND, so the
//! client starts over with a full fetch.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use kafka_protocol::error::ResponseError;
use parking_lot::Mutex;

/// Most sessions cached at once (Kafka's `max.incremental.fetch.session.cache.slots`).
pub const MAX_SESSIONS: usize = 1000;
/// Most partitions cached over all sessions.
pub const MAX_CACHED_PARTITIONS: usize = 100_000;
/// A session unused this long may be evicted by any newcomer (Kafka's value).
pub const EVICT_AFTER: Duration = Duration::from_secs(120);

/// A partition by topic name and index (Fetch before v13 names topics).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

/// Where and how much a fetch reads from one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The fetch offset.
    pub offset: i64,
    /// The partition's byte limit, as requested.
    pub max_bytes: i32,
}

/// What a fetch answered for one partition, to compare with the session's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answered {
    /// Any records were returned.
    pub has_records: bool,
    /// The high watermark returned.
    pub high_watermark: i64,
    /// The log start offset returned.
    pub log_start_offset: i64,
    /// An error code other than none was returned.
    pub failed: bool,
}

/// How one fetch relates to the session cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// No session: every partition answered, session id 0.
    Sessionless,
    /// A full fetch: every partition answered; opens a session if there is room.
    Full,
    /// An incremental fetch of session `id`, now expecting `next_epoch`.
    Incremental {
        /// The session.
        id: i32,
        /// The epoch the session expects next; a different one at the end
        /// means a duplicate request raced this one.
        next_epoch: i32,
    },
}

/// A fetch's partitions in the order to read them, and its context.
#[derive(Debug, Clone)]
pub struct Plan {
    /// How to answer.
    pub context: Context,
    /// Every partition to read.
    pub partitions: Vec<(PartitionKey, Position)>,
}

/// A fetch request's session fields and partitions.
#[derive(Debug, Clone)]
pub struct SessionRequest {
    /// Fetch version (sessions from v7).
    pub version: i16,
    /// 0 for none.
    pub session_id: i32,
    /// 0 opens, -1 closes or goes without, >0 continues.
    pub epoch: i32,
    /// Partitions added or updated (all of them in a full fetch).
    pub partitions: Vec<(PartitionKey, Position)>,
    /// Partitions to drop from the session.
    pub forgotten: Vec<PartitionKey>,
}

#[derive(Debug)]
struct Cached {
    position: Position,
    high_watermark: i64,
    log_start_offset: i64,
    /// Its place in the session's order: partitions that returned data move last.
    turn: u64,
}

#[derive(Debug)]
struct Session {
    next_epoch: i32,
    partitions: HashMap<PartitionKey, Cached>,
    order: BTreeMap<u64, PartitionKey>,
    next_turn: u64,
    last_used: Instant,
}

impl Session {
    fn upsert(&mut self, key: PartitionKey, position: Position) {
        if let Some(c) = self.partitions.get_mut(&key) {
            c.position = position;
            return;
        }
        let turn = self.next_turn;
        self.next_turn += 1;
        self.order.insert(turn, key.clone());
        self.partitions.insert(
            key,
            Cached {
                position,
                high_watermark: -1,
                log_start_offset: -1,
                turn,
            },
        );
    }

    fn forget(&mut self, key: &PartitionKey) {
        if let Some(c) = self.partitions.remove(key) {
            self.order.remove(&c.turn);
        }
    }

    fn move_last(&mut self, key: &PartitionKey) {
        let turn = self.next_turn;
        if let Some(c) = self.partitions.get_mut(key) {
            self.order.remove(&c.turn);
            c.turn = turn;
            self.order.insert(turn, key.clone());
            self.next_turn += 1;
        }
    }
}

/// Kafka's epoch sequence: 1, 2, ... wrapping to 1.
fn next_epoch(epoch: i32) -> i32 {
    if epoch == i32::MAX { 1 } else { epoch + 1 }
}

#[derive(Debug, Default)]
struct Cache {
    sessions: HashMap<i32, Session>,
    partitions: usize,
}

impl Cache {
    fn remove(&mut self, id: i32) {
        if let Some(s) = self.sessions.remove(&id) {
            self.partitions -= s.partitions.len();
        }
    }

    fn fits(&self, limits: (usize, usize), sessions: usize, partitions: usize) -> bool {
        self.sessions.len() + sessions <= limits.0 && self.partitions + partitions <= limits.1
    }

    /// Evicts until a session of `size` partitions fits, if the rules allow.
    fn make_room(&mut self, limits: (usize, usize), size: usize, now: Instant) -> bool {
        while !self.fits(limits, 1, size) {
            let stale = self
                .sessions
                .iter()
                .filter(|(_, s)| now.duration_since(s.last_used) >= EVICT_AFTER)
                .min_by_key(|(_, s)| s.last_used)
                .map(|(id, _)| *id);
            let smaller = || {
                self.sessions
                    .iter()
                    .filter(|(_, s)| s.partitions.len() < size)
                    .min_by_key(|(_, s)| s.partitions.len())
                    .map(|(id, _)| *id)
            };
            match stale.or_else(smaller) {
                Some(id) => self.remove(id),
                None => return false,
            }
        }
        true
    }

    fn new_id(&self) -> i32 {
        loop {
            let id = rand::random::<i32>() & i32::MAX;
            if id != 0 && !self.sessions.contains_key(&id) {
                return id;
            }
        }
    }
}

/// The broker's fetch sessions.
#[derive(Debug)]
pub struct FetchSessions {
    limits: (usize, usize),
    cache: Mutex<Cache>,
}

impl Default for FetchSessions {
    fn default() -> Self {
        FetchSessions::with_limits(MAX_SESSIONS, MAX_CACHED_PARTITIONS)
    }
}

impl FetchSessions {
    /// A cache of at most `sessions` sessions and `partitions` partitions.
    pub fn with_limits(sessions: usize, partitions: usize) -> FetchSessions {
        FetchSessions {
            limits: (sessions, partitions),
            cache: Mutex::new(Cache::default()),
        }
    }

    /// Sessions and partitions cached now.
    pub fn len(&self) -> (usize, usize) {
        let cache = self.cache.lock();
        (cache.sessions.len(), cache.partitions)
    }

    /// Resolves a request against the cache: which partitions to read, and how
    /// to answer. Unknown sessions and wrong epochs are Kafka's errors.
    pub fn begin(&self, req: SessionRequest, now: Instant) -> Result<Plan, ResponseError> {
        let plan = |context, partitions| {
            Ok(Plan {
                context,
                partitions,
            })
        };
        if req.version < 7 {
            return plan(Context::Sessionless, req.partitions);
        }
        let mut cache = self.cache.lock();
        if req.epoch == 0 || req.epoch == -1 {
            if req.session_id != 0 {
                cache.remove(req.session_id);
            }
            let context = if req.epoch == 0 {
                Context::Full
            } else {
                Context::Sessionless
            };
            return plan(context, req.partitions);
        }
        let limits = self.limits;
        let total = cache.partitions;
        let Some(session) = cache.sessions.get_mut(&req.session_id) else {
            return Err(ResponseError::FetchSessionIdNotFound);
        };
        if session.next_epoch != req.epoch {
            return Err(ResponseError::InvalidFetchSessionEpoch);
        }
        let before = session.partitions.len();
        for (key, position) in req.partitions.iter().cloned() {
            session.upsert(key, position);
        }
        for key in &req.forgotten {
            session.forget(key);
        }
        let after = session.partitions.len();
        session.next_epoch = next_epoch(session.next_epoch);
        session.last_used = now;
        let next = session.next_epoch;
        let partitions: Vec<(PartitionKey, Position)> = session
            .order
            .values()
            .filter_map(|k| Some((k.clone(), session.partitions.get(k)?.position)))
            .collect();
        cache.partitions = total - before + after;
        if after == 0 {
            // Nothing left to remember: Kafka answers sessionless.
            cache.remove(req.session_id);
            return plan(Context::Sessionless, req.partitions);
        }
        if cache.partitions > limits.1 {
            // Too big: the client starts over with a full fetch.
            cache.remove(req.session_id);
            return Err(ResponseError::FetchSessionIdNotFound);
        }
        tracing::trace!(
            session = req.session_id,
            epoch = req.epoch,
            "incremental fetch"
        );
        let context = Context::Incremental {
            id: req.session_id,
            next_epoch: next,
        };
        plan(context, partitions)
    }

    /// After the read: the session id to answer with and, per partition of
    /// the plan, whether the answer includes it. A full fetch opens its
    /// session here, remembering what it answered.
    pub fn finish(
        &self,
        plan: &Plan,
        answered: &[Answered],
        now: Instant,
    ) -> Result<(i32, Vec<bool>), ResponseError> {
        let everything = vec![true; plan.partitions.len()];
        let mut cache = self.cache.lock();
        match plan.context {
            Context::Sessionless => Ok((0, everything)),
            Context::Full => {
                let size = plan.partitions.len();
                if size == 0 || !cache.make_room(self.limits, size, now) {
                    return Ok((0, everything));
                }
                let id = cache.new_id();
                let mut session = Session {
                    next_epoch: 1,
                    partitions: HashMap::new(),
                    order: BTreeMap::new(),
                    next_turn: 0,
                    last_used: now,
                };
                for ((key, position), a) in plan.partitions.iter().zip(answered) {
                    session.upsert(key.clone(), *position);
                    remember(&mut session, key, a);
                }
                cache.partitions += session.partitions.len();
                cache.sessions.insert(id, session);
                tracing::debug!(session = id, partitions = size, "fetch session opened");
                Ok((id, everything))
            }
            Context::Incremental { id, next_epoch } => {
                let Some(session) = cache.sessions.get_mut(&id) else {
                    // Evicted while the fetch waited: answering everything is
                    // never wrong, only larger.
                    return Ok((id, everything));
                };
                if session.next_epoch != next_epoch {
                    return Err(ResponseError::InvalidFetchSessionEpoch);
                }
                let include = plan
                    .partitions
                    .iter()
                    .zip(answered)
                    .map(|((key, _), a)| {
                        let news = remember(session, key, a);
                        if a.has_records {
                            session.move_last(key);
                        }
                        news
                    })
                    .collect();
                Ok((id, include))
            }
        }
    }
}

/// Records what was answered for `key`; whether it was news to the client.
fn remember(session: &mut Session, key: &PartitionKey, a: &Answered) -> bool {
    let Some(c) = session.partitions.get_mut(key) else {
        return true;
    };
    let news = a.has_records
        || a.failed
        || c.high_watermark != a.high_watermark
        || c.log_start_offset != a.log_start_offset;
    // After an error the next answer is always sent, as in Kafka.
    c.high_watermark = if a.failed { -1 } else { a.high_watermark };
    c.log_start_offset = a.log_start_offset;
    news
}

#[cfg(test)]
mod tests;
