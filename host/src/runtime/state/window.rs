//! [`WindowStore`] and [`SessionStore`]: Kafka Streams' window and session stores laid out
//! in a key-value [`StateBackend`] (the task's window key space, see
//! [`StateBackend::windows`]), so they commit with the task's state and offsets.
//!
//! Layout (times as big-endian with the sign bit flipped, so they sort as numbers):
//! - `w ++ len(key) ++ key ++ start` → value: a key's windows by start.
//! - `W ++ start ++ key` → empty: every window by start (`fetch-all`, retention).
//! - `s ++ len(key) ++ key ++ end ++ start` → value: a key's sessions by end.
//! - `S ++ end ++ start ++ key` → empty: every session by end (retention).
//!
//! - `t` → time: the window store's observed stream time; `T`: the session store's.
//!
//! The length prefix keeps one key's entries apart from a longer key that starts with it.
//!
//! Retention is enforced inside the stores, as Kafka's are: each keeps the largest time
//! it was given (a window's start, a session's end) as its observed stream time, ignores a
//! put at or before `observed - retention`, and reads nothing older. What a record sees
//! thus depends only on the puts before it, never on where a batch ended; dropping the
//! expired entries for good ([`WindowStore::expire`]) is lazy cleanup.

use std::ops::Bound;

use super::{MAX_KEY_BYTES, MAX_VALUE_BYTES, StateBackend, StateError, check_sizes, prefix_end};

/// Bytes the layout adds to a key: the longest user key is [`MAX_KEY_BYTES`] minus this.
const KEY_OVERHEAD: usize = 1 + 4 + 8 + 8;
/// Largest key a window or session may have, in bytes.
pub const MAX_WINDOW_KEY_BYTES: usize = MAX_KEY_BYTES - KEY_OVERHEAD;
/// Most entries one fetch may ask for (its `limit`).
pub const MAX_FETCH_ENTRIES: usize = 10_000;
/// Most bytes (keys and values) one fetch may return.
pub const MAX_FETCH_BYTES: usize = 16 << 20;
/// Entries read per scan while walking an index (empty values, keys of at most
/// [`MAX_KEY_BYTES`]: 2 MiB at most).
const CHUNK: usize = 512;
/// Entries read per scan of windows or sessions with their values: as many as the
/// largest could fill [`MAX_FETCH_BYTES`], so one scan never holds much more than a
/// whole answer before the budget has seen it.
const VALUE_CHUNK: usize = {
    let n = MAX_FETCH_BYTES / (MAX_KEY_BYTES + MAX_VALUE_BYTES);
    if n == 0 { 1 } else { n }
};

const BY_KEY: u8 = b'w';
const BY_TIME: u8 = b'W';
const SESSION_BY_KEY: u8 = b's';
const SESSION_BY_END: u8 = b'S';
const WINDOW_OBSERVED: &[u8] = b"t";
const SESSION_OBSERVED: &[u8] = b"T";

/// `ms` as the i64 times count in (a retention past i64 never expires anything).
fn as_ms(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// `t` as 8 bytes that sort as the number does.
fn time(t: i64) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

fn untime(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    (u64::from_be_bytes(a) ^ (1 << 63)) as i64
}

/// `tag ++ len(key) ++ key`: the prefix of one key's entries.
fn key_prefix(tag: u8, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(KEY_OVERHEAD + key.len());
    k.push(tag);
    k.extend_from_slice(&(key.len() as u32).to_be_bytes());
    k.extend_from_slice(key);
    k
}

fn check_key(key: &[u8]) -> Result<(), StateError> {
    if key.len() > MAX_WINDOW_KEY_BYTES {
        return Err(StateError::TooLarge {
            what: "window or session key",
            len: key.len(),
            limit: MAX_WINDOW_KEY_BYTES,
        });
    }
    Ok(())
}

fn check_limit(limit: usize) -> Result<(), StateError> {
    if limit > MAX_FETCH_ENTRIES {
        return Err(StateError::TooMany {
            what: "entries asked of one window or session fetch",
            asked: limit,
            limit: MAX_FETCH_ENTRIES,
        });
    }
    Ok(())
}

/// Counts the bytes a fetch returns against [`MAX_FETCH_BYTES`].
#[derive(Default)]
struct Budget(usize);

impl Budget {
    fn take(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        self.0 = self.0.saturating_add(key.len() + value.len());
        if self.0 > MAX_FETCH_BYTES {
            return Err(StateError::TooLarge {
                what: "answer of one window or session fetch (ask for fewer entries)",
                len: self.0,
                limit: MAX_FETCH_BYTES,
            });
        }
        Ok(())
    }
}

/// Every entry of `backend` between the bounds, read `chunk` at a time, until `f` says
/// stop.
fn walk(
    backend: &dyn StateBackend,
    lo: Vec<u8>,
    hi: Bound<Vec<u8>>,
    chunk: usize,
    mut f: impl FnMut(&[u8], &[u8]) -> Result<bool, StateError>,
) -> Result<(), StateError> {
    let size = chunk;
    let mut from = Bound::Included(lo);
    loop {
        let chunk = backend.range(
            from.as_ref().map(Vec::as_slice),
            hi.as_ref().map(Vec::as_slice),
            size,
        )?;
        let Some((last, _)) = chunk.last() else {
            return Ok(());
        };
        let next = Bound::Excluded(last.clone());
        let short = chunk.len() < size;
        for (k, v) in &chunk {
            if !f(k, v)? {
                return Ok(());
            }
        }
        if short {
            return Ok(());
        }
        from = next;
    }
}

/// A store's retention over its observed stream time (kept under `key`).
struct Retention {
    key: &'static [u8],
    ms: Option<i64>,
}

impl Retention {
    fn observed(&self, backend: &dyn StateBackend) -> Result<Option<i64>, StateError> {
        Ok(backend
            .get(self.key)?
            .filter(|b| b.len() == 8)
            .map(|b| untime(&b)))
    }

    /// The earliest time still live (`observed - retention + 1`); `None`: all are.
    fn live_from(&self, backend: &dyn StateBackend) -> Result<Option<i64>, StateError> {
        let Some(ms) = self.ms else {
            return Ok(None);
        };
        Ok(self
            .observed(backend)?
            .map(|o| o.saturating_sub(ms).saturating_add(1)))
    }

    /// Moves the observed stream time to `t` if later; whether `t` is still live.
    fn observe(&self, backend: &mut dyn StateBackend, t: i64) -> Result<bool, StateError> {
        let Some(ms) = self.ms else {
            return Ok(true);
        };
        let observed = match self.observed(backend)? {
            Some(o) if o >= t => o,
            _ => {
                backend.put(self.key, &time(t))?;
                t
            }
        };
        Ok(t > observed.saturating_sub(ms))
    }
}

/// One window found: key, start, value.
pub type WindowEntry = (Vec<u8>, i64, Vec<u8>);
/// One session found: key, start, end, value.
pub type SessionEntry = (Vec<u8>, i64, i64, Vec<u8>);

/// A window store over a backend's key space.
pub struct WindowStore<'a> {
    backend: &'a mut dyn StateBackend,
    retention: Retention,
}

impl<'a> WindowStore<'a> {
    /// The window store in `backend`, keeping windows `retention_ms` past its observed
    /// stream time (`None`: forever).
    pub fn new(backend: &'a mut dyn StateBackend, retention_ms: Option<u64>) -> Self {
        let retention = Retention {
            key: WINDOW_OBSERVED,
            ms: retention_ms.map(as_ms),
        };
        WindowStore { backend, retention }
    }

    /// Stores `value` for `key` in the window starting at `start`; a window already past
    /// the retention is ignored, as Kafka does.
    pub fn put(&mut self, key: &[u8], start: i64, value: &[u8]) -> Result<(), StateError> {
        check_key(key)?;
        check_sizes(&[], Some(value))?;
        if !self.retention.observe(&mut *self.backend, start)? {
            return Ok(());
        }
        let mut primary = key_prefix(BY_KEY, key);
        primary.extend_from_slice(&time(start));
        let index = [&[BY_TIME][..], &time(start), key].concat();
        self.backend.put(&primary, value)?;
        self.backend.put(&index, &[])
    }

    /// The value of `key` in the window starting at `start`.
    pub fn get(&self, key: &[u8], start: i64) -> Result<Option<Vec<u8>>, StateError> {
        check_key(key)?;
        if self.live_from()?.is_some_and(|live| start < live) {
            return Ok(None);
        }
        let mut primary = key_prefix(BY_KEY, key);
        primary.extend_from_slice(&time(start));
        self.backend.get(&primary)
    }

    /// Removes the window of `key` starting at `start`.
    pub fn remove(&mut self, key: &[u8], start: i64) -> Result<(), StateError> {
        check_key(key)?;
        let mut primary = key_prefix(BY_KEY, key);
        primary.extend_from_slice(&time(start));
        self.backend.delete(&primary)?;
        self.backend
            .delete(&[&[BY_TIME][..], &time(start), key].concat())
    }

    /// Up to `limit` windows of `key` starting within `from..=to`, by start.
    pub fn fetch(
        &self,
        key: &[u8],
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<WindowEntry>, StateError> {
        check_key(key)?;
        check_limit(limit)?;
        let from = self.live_from()?.map_or(from, |live| from.max(live));
        if from > to || limit == 0 {
            return Ok(Vec::new());
        }
        let prefix = key_prefix(BY_KEY, key);
        let lo = [&prefix[..], &time(from)].concat();
        let hi = Bound::Included([&prefix[..], &time(to)].concat());
        let mut budget = Budget::default();
        let mut found = Vec::new();
        // Charged as read: a range of `limit` entries of up to 4 MiB each would be
        // held whole before the budget saw it.
        walk(&*self.backend, lo, hi, VALUE_CHUNK, |k, v| {
            budget.take(key, v)?;
            found.push((key.to_vec(), untime(&k[prefix.len()..]), v.to_vec()));
            Ok(found.len() < limit)
        })?;
        Ok(found)
    }

    /// Up to `limit` windows of any key starting within `from..=to`, by start then key.
    pub fn fetch_all(
        &self,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<WindowEntry>, StateError> {
        check_limit(limit)?;
        let from = self.live_from()?.map_or(from, |live| from.max(live));
        if from > to || limit == 0 {
            return Ok(Vec::new());
        }
        let lo = [&[BY_TIME][..], &time(from)].concat();
        let hi = match prefix_end(&[&[BY_TIME][..], &time(to)].concat()) {
            Some(e) => Bound::Excluded(e),
            None => Bound::Unbounded,
        };
        let mut budget = Budget::default();
        let mut found = Vec::new();
        walk(&*self.backend, lo, hi, CHUNK, |k, _| {
            let start = untime(&k[1..9]);
            let key = &k[9..];
            if let Some(value) = self.get(key, start)? {
                budget.take(key, &value)?;
                found.push((key.to_vec(), start, value));
            }
            Ok(found.len() < limit)
        })?;
        Ok(found)
    }

    /// The earliest window start still live; `None`: all are.
    fn live_from(&self) -> Result<Option<i64>, StateError> {
        self.retention.live_from(&*self.backend)
    }

    /// Drops the windows past the retention for good; how many.
    pub fn expire(&mut self) -> Result<usize, StateError> {
        match self.live_from()? {
            Some(live) => self.drop_before(live),
            None => Ok(0),
        }
    }

    /// Drops every window starting before `before`; how many.
    pub fn drop_before(&mut self, before: i64) -> Result<usize, StateError> {
        let hi = Bound::Excluded([&[BY_TIME][..], &time(before)].concat());
        let mut doomed = Vec::new();
        walk(&*self.backend, vec![BY_TIME], hi, CHUNK, |k, _| {
            doomed.push(k.to_vec());
            Ok(true)
        })?;
        for k in &doomed {
            let (start, key) = (untime(&k[1..9]), &k[9..]);
            let mut primary = key_prefix(BY_KEY, key);
            primary.extend_from_slice(&time(start));
            self.backend.delete(&primary)?;
            self.backend.delete(k)?;
        }
        Ok(doomed.len())
    }
}

/// A session store over a backend's key space.
pub struct SessionStore<'a> {
    backend: &'a mut dyn StateBackend,
    retention: Retention,
}

impl<'a> SessionStore<'a> {
    /// The session store in `backend`, keeping sessions `retention_ms` past its observed
    /// stream time (the latest session end; `None`: forever).
    pub fn new(backend: &'a mut dyn StateBackend, retention_ms: Option<u64>) -> Self {
        let retention = Retention {
            key: SESSION_OBSERVED,
            ms: retention_ms.map(as_ms),
        };
        SessionStore { backend, retention }
    }

    /// The earliest session end still live; `None`: all are.
    fn live_from(&self) -> Result<Option<i64>, StateError> {
        self.retention.live_from(&*self.backend)
    }

    /// Drops the sessions past the retention for good; how many.
    pub fn expire(&mut self) -> Result<usize, StateError> {
        match self.live_from()? {
            Some(live) => self.drop_before(live),
            None => Ok(0),
        }
    }

    fn primary(key: &[u8], start: i64, end: i64) -> Vec<u8> {
        let mut k = key_prefix(SESSION_BY_KEY, key);
        k.extend_from_slice(&time(end));
        k.extend_from_slice(&time(start));
        k
    }

    fn index(key: &[u8], start: i64, end: i64) -> Vec<u8> {
        [&[SESSION_BY_END][..], &time(end), &time(start), key].concat()
    }

    /// Stores `value` for the session of `key` from `start` to `end`.
    pub fn put(
        &mut self,
        key: &[u8],
        start: i64,
        end: i64,
        value: &[u8],
    ) -> Result<(), StateError> {
        check_key(key)?;
        check_sizes(&[], Some(value))?;
        if start > end {
            return Err(StateError::Invalid {
                reason: format!("a session cannot end ({end}) before it starts ({start})"),
            });
        }
        if !self.retention.observe(&mut *self.backend, end)? {
            return Ok(());
        }
        self.backend.put(&Self::primary(key, start, end), value)?;
        self.backend.put(&Self::index(key, start, end), &[])
    }

    /// The value of the session of `key` from `start` to `end` exactly.
    pub fn fetch_session(
        &self,
        key: &[u8],
        start: i64,
        end: i64,
    ) -> Result<Option<Vec<u8>>, StateError> {
        check_key(key)?;
        if self.live_from()?.is_some_and(|live| end < live) {
            return Ok(None);
        }
        self.backend.get(&Self::primary(key, start, end))
    }

    /// Removes the session of `key` from `start` to `end`.
    pub fn remove(&mut self, key: &[u8], start: i64, end: i64) -> Result<(), StateError> {
        check_key(key)?;
        self.backend.delete(&Self::primary(key, start, end))?;
        self.backend.delete(&Self::index(key, start, end))
    }

    /// Up to `limit` sessions of `key` with `end >= earliest_end` and
    /// `start <= latest_start`, by end.
    pub fn find(
        &self,
        key: &[u8],
        earliest_end: i64,
        latest_start: i64,
        limit: usize,
    ) -> Result<Vec<SessionEntry>, StateError> {
        check_key(key)?;
        check_limit(limit)?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let earliest_end = self
            .live_from()?
            .map_or(earliest_end, |live| earliest_end.max(live));
        let prefix = key_prefix(SESSION_BY_KEY, key);
        let lo = [&prefix[..], &time(earliest_end)].concat();
        let hi = match prefix_end(&prefix) {
            Some(e) => Bound::Excluded(e),
            None => Bound::Unbounded,
        };
        let mut budget = Budget::default();
        let mut found = Vec::new();
        walk(&*self.backend, lo, hi, VALUE_CHUNK, |k, v| {
            let end = untime(&k[prefix.len()..]);
            let start = untime(&k[prefix.len() + 8..]);
            if start <= latest_start {
                budget.take(key, v)?;
                found.push((key.to_vec(), start, end, v.to_vec()));
            }
            Ok(found.len() < limit)
        })?;
        Ok(found)
    }

    /// Up to `limit` sessions of any key ending within `earliest_end..=latest_end`, by end
    /// then start then key.
    pub fn find_all(
        &self,
        earliest_end: i64,
        latest_end: i64,
        limit: usize,
    ) -> Result<Vec<SessionEntry>, StateError> {
        check_limit(limit)?;
        let earliest_end = self
            .live_from()?
            .map_or(earliest_end, |live| earliest_end.max(live));
        if earliest_end > latest_end || limit == 0 {
            return Ok(Vec::new());
        }
        let lo = [&[SESSION_BY_END][..], &time(earliest_end)].concat();
        let hi = match prefix_end(&[&[SESSION_BY_END][..], &time(latest_end)].concat()) {
            Some(e) => Bound::Excluded(e),
            None => Bound::Unbounded,
        };
        let mut budget = Budget::default();
        let mut found = Vec::new();
        walk(&*self.backend, lo, hi, CHUNK, |k, _| {
            let (end, start, key) = (untime(&k[1..9]), untime(&k[9..17]), &k[17..]);
            if let Some(value) = self.backend.get(&Self::primary(key, start, end))? {
                budget.take(key, &value)?;
                found.push((key.to_vec(), start, end, value));
            }
            Ok(found.len() < limit)
        })?;
        Ok(found)
    }

    /// Drops every session that ended before `before`; how many.
    pub fn drop_before(&mut self, before: i64) -> Result<usize, StateError> {
        let hi = Bound::Excluded([&[SESSION_BY_END][..], &time(before)].concat());
        let mut doomed = Vec::new();
        walk(&*self.backend, vec![SESSION_BY_END], hi, CHUNK, |k, _| {
            doomed.push(k.to_vec());
            Ok(true)
        })?;
        for k in &doomed {
            let (end, start, key) = (untime(&k[1..9]), untime(&k[9..17]), &k[17..]);
            self.backend.delete(&Self::primary(key, start, end))?;
            self.backend.delete(k)?;
        }
        Ok(doomed.len())
    }
}

#[cfg(test)]
mod tests;
