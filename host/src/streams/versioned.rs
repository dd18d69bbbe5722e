//! [`VersionedTable`]: a `table` source that keeps its older versions for a history
//! retention, as Kafka Streams' `VersionedKeyValueStore` (KIP-889): a lookup as of a
//! timestamp finds the version that was current then, which is what a stream–table join
//! needs to be timestamp-correct when its inputs arrive out of order.
//!
//! Kafka's semantics, kept exactly:
//! - the store's stream time is the largest timestamp put; a put older than stream time
//!   minus the history retention is not applied (and not forwarded: counted as late);
//! - a put lands in the key's history by its timestamp, replacing a version of the same
//!   timestamp; a null value is a tombstone version;
//! - `get_as_of(key, t)` is the newest version at or before `t` (none if that is a
//!   tombstone); for `t` older than stream time minus the retention only the latest
//!   version is still known, and only if it is a value at or before `t`.
//!
//! Key layout in the source's state slot:
//! - `r key` → [`Row`]: the latest version when it is a value (the plain table's layout,
//!   so the queryable state route and [`Table::get`] read it as any table's row);
//! - `h keylen key !ts` → `valid_to(8) [1 value | 0 tombstone] value`: every other
//!   version, newest first (the timestamp inverted), each valid until its successor's
//!   timestamp (a latest tombstone: until its own);
//! - `x valid_to keylen key ts` → nothing: which versions no lookup can reach once stream
//!   time minus the retention passes their end, oldest first; they are purged then;
//! - [`TIME_KEY`] → the store's stream time; [`SIZE_KEY`] → bytes of all of the above,
//!   which `pipelines.max_table_bytes` caps.

use std::ops::Bound;

use crate::record::Record;
use crate::runtime::state::MAX_KEY_BYTES;
use crate::runtime::{Body, Output, OutputRecord, RecordFailure, StateBackend};

use super::error::StreamsError;
use super::store::{from_ordered, ordered, scan};
use super::table::{Row, SIZE_KEY, Table, row_key};

/// The state key of a versioned table's stream time.
pub const TIME_KEY: &[u8] = b"t";
const HISTORY_TAG: u8 = b'h';
const EXPIRY_TAG: u8 = b'x';
/// Bytes a history or expiry key adds to a record key: tag, length, one or two times.
const KEY_OVERHEAD: usize = 1 + 4 + 8 + 8;
/// Most expired versions purged after one batch; the rest go with the next batches (a
/// bound on one round's work after a long jump of stream time).
const MAX_PURGE: usize = 10_000;

/// A table source with history (`"history_retention_ms"` on a `table` source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionedTable {
    /// How long past stream time versions stay queryable, ms.
    pub history_ms: i64,
}

/// One version found by a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    ts: i64,
    valid_to: i64,
    value: Option<Vec<u8>>,
}

fn key_prefix(tag: u8, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(KEY_OVERHEAD + key.len());
    k.push(tag);
    k.extend_from_slice(&(key.len() as u32).to_be_bytes());
    k.extend_from_slice(key);
    k
}

fn inverted(ts: i64) -> [u8; 8] {
    ordered(ts).map(|b| !b)
}

fn history_key(key: &[u8], ts: i64) -> Vec<u8> {
    let mut k = key_prefix(HISTORY_TAG, key);
    k.extend_from_slice(&inverted(ts));
    k
}

fn expiry_key(valid_to: i64, key: &[u8], ts: i64) -> Vec<u8> {
    let mut k = Vec::with_capacity(KEY_OVERHEAD + key.len());
    k.push(EXPIRY_TAG);
    k.extend_from_slice(&ordered(valid_to));
    k.extend_from_slice(&(key.len() as u32).to_be_bytes());
    k.extend_from_slice(key);
    k.extend_from_slice(&ordered(ts));
    k
}

fn corrupt(key: &[u8], len: usize, expected: usize) -> StreamsError {
    StreamsError::Corrupt {
        key: key.to_vec(),
        len,
        expected,
    }
}

fn decode_history(k: &[u8], b: &[u8]) -> Result<Version, StreamsError> {
    let ts_bytes: [u8; 8] = k
        .get(k.len().saturating_sub(8)..)
        .and_then(|t| t.try_into().ok())
        .ok_or_else(|| corrupt(k, b.len(), 9))?;
    let ts = from_ordered(ts_bytes.map(|b| !b));
    let (Some((valid_to, rest)), true) = (b.split_first_chunk::<8>(), b.len() >= 9) else {
        return Err(corrupt(k, b.len(), 9));
    };
    Ok(Version {
        ts,
        valid_to: i64::from_be_bytes(*valid_to),
        value: (rest[0] == 1).then(|| rest[1..].to_vec()),
    })
}

fn encode_history(v: &Version) -> Vec<u8> {
    let mut b = Vec::with_capacity(9 + v.value.as_ref().map_or(0, Vec::len));
    b.extend_from_slice(&v.valid_to.to_be_bytes());
    match &v.value {
        Some(value) => {
            b.push(1);
            b.extend_from_slice(value);
        }
        None => b.push(0),
    }
    b
}

fn load_i64(store: &dyn StateBackend, key: &[u8]) -> Result<Option<i64>, StreamsError> {
    match store.get(key)? {
        None => Ok(None),
        Some(b) => match <[u8; 8]>::try_from(&b[..]) {
            Ok(b) => Ok(Some(i64::from_be_bytes(b))),
            Err(_) => Err(corrupt(key, b.len(), 8)),
        },
    }
}

/// Writes through to a store, counting the bytes its entries take.
struct Sized<'a> {
    store: &'a mut dyn StateBackend,
    size: u64,
}

impl Sized<'_> {
    fn put(&mut self, k: &[u8], v: &[u8]) -> Result<(), StreamsError> {
        let old = self.store.get(k)?.map_or(0, |o| (k.len() + o.len()) as u64);
        self.store.put(k, v)?;
        self.size = self.size.saturating_sub(old) + (k.len() + v.len()) as u64;
        Ok(())
    }

    fn delete(&mut self, k: &[u8]) -> Result<(), StreamsError> {
        if let Some(o) = self.store.get(k)? {
            self.store.delete(k)?;
            self.size = self.size.saturating_sub((k.len() + o.len()) as u64);
        }
        Ok(())
    }

    /// Stores `v` as a history version of `key`, indexed by its end.
    fn put_history(&mut self, key: &[u8], v: &Version) -> Result<(), StreamsError> {
        self.put(&history_key(key, v.ts), &encode_history(v))?;
        self.put(&expiry_key(v.valid_to, key, v.ts), &[])
    }

    /// Removes history version `v` of `key` and its index entry.
    fn delete_history(&mut self, key: &[u8], v: &Version) -> Result<(), StreamsError> {
        self.delete(&history_key(key, v.ts))?;
        self.delete(&expiry_key(v.valid_to, key, v.ts))
    }

    /// Ends history version `v` of `key` at `at` (a newer version now begins there),
    /// re-indexed by its new end.
    fn end_history(&mut self, key: &[u8], v: &Version, at: i64) -> Result<(), StreamsError> {
        self.delete_history(key, v)?;
        self.put_history(
            key,
            &Version {
                valid_to: at,
                ..v.clone()
            },
        )
    }
}

/// What a put did, as Kafka's `VersionedKeyValueStore::put` return codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// Older than stream time minus the history retention: not applied.
    Expired,
    /// Applied, and now the latest version of its key.
    Latest,
    /// Applied in the key's history, before its latest version.
    Older,
}

impl VersionedTable {
    /// The newest history version of `key` at or before `at`, if any.
    fn history_at(
        store: &dyn StateBackend,
        key: &[u8],
        at: i64,
    ) -> Result<Option<Version>, StreamsError> {
        let prefix = key_prefix(HISTORY_TAG, key);
        let from = history_key(key, at);
        let end = [&prefix[..], &[0xff; 9][..]].concat();
        let found = store.range(Bound::Included(&from), Bound::Excluded(&end), 1)?;
        match found.first() {
            Some((k, b)) if k.len() == prefix.len() + 8 => Ok(Some(decode_history(k, b)?)),
            _ => Ok(None),
        }
    }

    /// The oldest history version of `key` after `at`, if any.
    fn history_after(
        store: &dyn StateBackend,
        key: &[u8],
        at: i64,
    ) -> Result<Option<Version>, StreamsError> {
        let prefix = key_prefix(HISTORY_TAG, key);
        let to = history_key(key, at);
        // Newest first: the last entry before `at`'s is the oldest after it.
        let found = scan(store, prefix.clone(), &to)?;
        match found.last() {
            Some((k, b)) if k.len() == prefix.len() + 8 => Ok(Some(decode_history(k, b)?)),
            _ => Ok(None),
        }
    }

    /// The store's stream time (the largest timestamp put), if anything was put.
    pub fn stream_time(store: &dyn StateBackend) -> Result<Option<i64>, StreamsError> {
        load_i64(store, TIME_KEY)
    }

    /// `key`'s value as of `at` (Kafka's `get(key, asOfTimestamp)`), with its timestamp.
    pub fn get_as_of(
        &self,
        store: &dyn StateBackend,
        key: &[u8],
        at: i64,
    ) -> Result<Option<Row>, StreamsError> {
        let latest = Table::get(store, key)?;
        if let Some(row) = &latest
            && row.timestamp <= at
        {
            return Ok(latest);
        }
        let horizon = Self::stream_time(store)?.map(|t| t.saturating_sub(self.history_ms));
        if horizon.is_some_and(|h| at < h) {
            // Past the history retention only the latest version is known.
            return Ok(None);
        }
        Ok(Self::history_at(store, key, at)?.and_then(|v| {
            v.value.map(|value| Row {
                timestamp: v.ts,
                value,
            })
        }))
    }

    /// Puts one version of `key`.
    fn put(
        &self,
        store: &mut Sized<'_>,
        key: &[u8],
        value: Option<&[u8]>,
        ts: i64,
    ) -> Result<Put, StreamsError> {
        let row = Table::get(&*store.store, key)?;
        let rk = row_key(key);
        // Where the new version goes: after the latest value, or into the history.
        if let Some(row) = &row
            && row.timestamp <= ts
        {
            if row.timestamp < ts {
                store.put_history(
                    key,
                    &Version {
                        ts: row.timestamp,
                        valid_to: ts,
                        value: Some(row.value.clone()),
                    },
                )?;
            }
            self.set_latest(store, key, &rk, value, ts)?;
            return Ok(Put::Latest);
        }
        let before = Self::history_at(&*store.store, key, ts)?;
        // The next version: the oldest newer one in the history, else the latest value.
        let after = match Self::history_after(&*store.store, key, ts)? {
            Some(v) => Some(v.ts),
            None => row.as_ref().map(|r| r.timestamp),
        };
        match (&before, after) {
            // The same timestamp: the version is replaced, its end kept.
            (Some(b), _) if b.ts == ts => {
                if after.is_none() {
                    // It was the latest (a tombstone): the new one is the latest.
                    store.delete_history(key, b)?;
                    self.set_latest(store, key, &rk, value, ts)?;
                    return Ok(Put::Latest);
                }
                let v = Version {
                    ts,
                    valid_to: b.valid_to,
                    value: value.map(<[u8]>::to_vec),
                };
                store.put_history(key, &v)?;
                Ok(Put::Older)
            }
            (before, None) => {
                if let Some(b) = before {
                    store.end_history(key, b, ts)?;
                }
                self.set_latest(store, key, &rk, value, ts)?;
                Ok(Put::Latest)
            }
            (before, Some(next)) => {
                if let Some(b) = before {
                    store.end_history(key, b, ts)?;
                }
                store.put_history(
                    key,
                    &Version {
                        ts,
                        valid_to: next,
                        value: value.map(<[u8]>::to_vec),
                    },
                )?;
                Ok(Put::Older)
            }
        }
    }

    /// Makes `(ts, value)` the latest version: a value in the row, a tombstone in the
    /// history (valid until its own timestamp, so that it expires with the retention).
    fn set_latest(
        &self,
        store: &mut Sized<'_>,
        key: &[u8],
        rk: &[u8],
        value: Option<&[u8]>,
        ts: i64,
    ) -> Result<(), StreamsError> {
        match value {
            Some(v) => store.put(
                rk,
                &Row {
                    timestamp: ts,
                    value: v.to_vec(),
                }
                .encode(),
            ),
            None => {
                store.delete(rk)?;
                store.put_history(
                    key,
                    &Version {
                        ts,
                        valid_to: ts,
                        value: None,
                    },
                )
            }
        }
    }

    /// Applies `records` (a null value a tombstone), passing on each one put (the
    /// changelog, as Kafka's versioned `KTableSource` forwards), and counting the ones
    /// too old to put (`expired`). A record without a key is skipped; one whose key is
    /// too long, or that could grow the rows past `max_bytes`, fails.
    pub fn update_within(
        &self,
        store: &mut dyn StateBackend,
        records: &[Record],
        max_bytes: u64,
    ) -> Result<(Output, u64), StreamsError> {
        let mut out = Output::default();
        let mut expired = 0;
        let before = Table::size(&*store)?;
        let mut time = Self::stream_time(&*store)?;
        let time_before = time;
        let mut sized = Sized {
            store,
            size: before,
        };
        for (j, record) in records.iter().enumerate() {
            let index = j as u32;
            let Some(key) = &record.key else { continue };
            if key.len() + KEY_OVERHEAD > MAX_KEY_BYTES {
                out.failures.push(RecordFailure {
                    index,
                    message: format!(
                        "key of {} bytes is too long for a versioned table (at most {} bytes)",
                        key.len(),
                        MAX_KEY_BYTES - KEY_OVERHEAD
                    ),
                });
                continue;
            }
            let ts = record.timestamp;
            if time.is_some_and(|t| ts < t.saturating_sub(self.history_ms)) {
                expired += 1;
                continue;
            }
            // At most: the version with its history and expiry keys, and the previous
            // latest value moved into the history.
            let value_len = record.value.as_ref().map_or(0, |v| v.len());
            let grows = (3 * (KEY_OVERHEAD + key.len()) + 2 * (value_len + 17)) as u64;
            if sized.size.saturating_add(grows) > max_bytes {
                out.failures.push(RecordFailure {
                    index,
                    message: format!(
                        "the table's versions could take {} bytes in this task, more than \
                         pipelines.max_table_bytes ({max_bytes})",
                        sized.size.saturating_add(grows)
                    ),
                });
                continue;
            }
            time = Some(time.map_or(ts, |t| t.max(ts)));
            self.put(&mut sized, key, record.value.as_deref(), ts)?;
            out.records.push(OutputRecord {
                source: Some(index),
                topic: None,
                body: Body::Input,
            });
        }
        if let Some(t) = time
            && time != time_before
        {
            sized.store.put(TIME_KEY, &t.to_be_bytes())?;
            self.purge(&mut sized, t)?;
        }
        if sized.size != before {
            sized.store.put(SIZE_KEY, &sized.size.to_be_bytes())?;
        }
        Ok((out, expired))
    }

    /// Drops the versions no lookup can reach at stream time `time`: those whose end is
    /// at or before `time` minus the retention.
    fn purge(&self, store: &mut Sized<'_>, time: i64) -> Result<(), StreamsError> {
        let horizon = time.saturating_sub(self.history_ms);
        let lo = vec![EXPIRY_TAG];
        let hi = [&[EXPIRY_TAG][..], &ordered(horizon.saturating_add(1))[..]].concat();
        let due = store
            .store
            .range(Bound::Included(&lo), Bound::Excluded(&hi), MAX_PURGE)?;
        for (k, _) in due {
            let (Some(end), Some(len)) = (k.get(1..9), k.get(9..13)) else {
                return Err(corrupt(&k, 0, KEY_OVERHEAD));
            };
            let valid_to = from_ordered(end.try_into().unwrap_or_default());
            if valid_to > horizon {
                break;
            }
            let len = u32::from_be_bytes(len.try_into().unwrap_or_default()) as usize;
            let (Some(key), Some(ts)) = (k.get(13..13 + len), k.get(13 + len..)) else {
                return Err(corrupt(&k, 0, KEY_OVERHEAD));
            };
            let ts = from_ordered(ts.try_into().map_err(|_| corrupt(&k, 0, KEY_OVERHEAD))?);
            let key = key.to_vec();
            store.delete(&history_key(&key, ts))?;
            store.delete(&k)?;
        }
        Ok(())
    }
}
