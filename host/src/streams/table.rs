//! [`Table`]: the latest value per key of a changelog (a `table` source or a `to_table`
//! step), as Kafka Streams' `KTable`: a record upserts its key, a null value deletes it,
//! a record without a key is skipped. Rows keep the timestamp of the record that wrote
//! them, which a table–table join's result takes (the larger of both sides').
//!
//! Key layout in the owning step's state: [`ROW_TAG`] `++ key` → [`Row::encode`];
//! [`SIZE_KEY`] → the bytes the rows take (8 bytes big-endian: keys and stored rows),
//! which `pipelines.max_table_bytes` caps. A table written before the count existed
//! counts from its next write on (deletions never take it below 0).

use bytes::Bytes;

use crate::record::Record;
use crate::runtime::state::MAX_KEY_BYTES;
use crate::runtime::{Body, Output, OutputRecord, RecordFailure, StateBackend};

use super::error::StreamsError;

/// First byte of a table row's state key.
pub const ROW_TAG: u8 = b'r';

/// The state key of the bytes a table's rows take (outside the rows' key space).
pub const SIZE_KEY: &[u8] = b"s";

/// One row of a table: the value and the timestamp of the record that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Timestamp of the record that wrote it, ms since the epoch.
    pub timestamp: i64,
    /// The value.
    pub value: Vec<u8>,
}

impl Row {
    /// Stored form: the timestamp as 8 bytes big-endian, then the value.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(8 + self.value.len());
        b.extend_from_slice(&self.timestamp.to_be_bytes());
        b.extend_from_slice(&self.value);
        b
    }

    /// Reads a stored row; `key` names it in the error.
    pub fn decode(key: &[u8], bytes: &[u8]) -> Result<Row, StreamsError> {
        let Some((ts, value)) = bytes.split_first_chunk::<8>() else {
            return Err(StreamsError::Corrupt {
                key: key.to_vec(),
                len: bytes.len(),
                expected: 8,
            });
        };
        Ok(Row {
            timestamp: i64::from_be_bytes(*ts),
            value: value.to_vec(),
        })
    }
}

/// The state key of `key`'s row.
pub fn row_key(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + key.len());
    k.push(ROW_TAG);
    k.extend_from_slice(key);
    k
}

/// A materialized table: the operator of a `table` source and of a `to_table` step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Table;

impl Table {
    /// Applies `records` to the table in `store` and passes each applied one on (the
    /// table's changelog: upserts and tombstones, as a `KTable` forwards its changes).
    /// A key too long to store fails its record.
    pub fn update(
        &self,
        store: &mut dyn StateBackend,
        records: &[Record],
    ) -> Result<Output, StreamsError> {
        self.update_within(store, records, u64::MAX)
    }

    /// [`Table::update`], the rows taking at most `max_bytes` (`pipelines.max_table_bytes`):
    /// a record that would grow them past it fails (the pipeline's `on_error` decides
    /// what becomes of it) and the table stays as it was. Updates that do not grow it
    /// and deletions still apply, so a full table keeps following its topic's keys.
    pub fn update_within(
        &self,
        store: &mut dyn StateBackend,
        records: &[Record],
        max_bytes: u64,
    ) -> Result<Output, StreamsError> {
        self.apply(store, records, max_bytes, None)
    }

    /// [`Table::update_within`], also answering each record's old value (the row's
    /// value before it; `None` without a row, and for a record not applied): what a
    /// `group_by` of the table takes out of the row's old group.
    pub fn changes_within(
        &self,
        store: &mut dyn StateBackend,
        records: &[Record],
        max_bytes: u64,
    ) -> Result<(Output, Vec<Option<Bytes>>), StreamsError> {
        let mut olds = vec![None; records.len()];
        let out = self.apply(store, records, max_bytes, Some(&mut olds))?;
        Ok((out, olds))
    }

    fn apply(
        &self,
        store: &mut dyn StateBackend,
        records: &[Record],
        max_bytes: u64,
        mut olds: Option<&mut Vec<Option<Bytes>>>,
    ) -> Result<Output, StreamsError> {
        let mut out = Output::default();
        let before = load_size(&*store)?;
        let mut size = before;
        for (j, record) in records.iter().enumerate() {
            let index = j as u32;
            // Kafka's KTable source drops a record without a key: it names no row.
            let Some(key) = &record.key else { continue };
            let k = row_key(key);
            if k.len() > MAX_KEY_BYTES {
                out.failures.push(RecordFailure {
                    index,
                    message: format!(
                        "key of {} bytes is too long for a table row (at most {} bytes)",
                        key.len(),
                        MAX_KEY_BYTES - 1
                    ),
                });
                continue;
            }
            let stored = store.get(&k)?;
            let old = stored.as_ref().map_or(0, |v| (k.len() + v.len()) as u64);
            let old_value = || match &stored {
                Some(b) => Row::decode(&k, b).map(|r| Some(Bytes::from(r.value))),
                None => Ok(None),
            };
            match &record.value {
                Some(v) => {
                    let row = Row {
                        timestamp: record.timestamp,
                        value: v.to_vec(),
                    };
                    let encoded = row.encode();
                    let new = (k.len() + encoded.len()) as u64;
                    let grown = size.saturating_sub(old).saturating_add(new);
                    if new > old && grown > max_bytes {
                        out.failures.push(RecordFailure {
                            index,
                            message: format!(
                                "the table's rows would take {grown} bytes in this task, more \
                                 than pipelines.max_table_bytes ({max_bytes})"
                            ),
                        });
                        continue;
                    }
                    if let Err(e) = store.put(&k, &encoded) {
                        match e {
                            crate::runtime::StateError::TooLarge { .. } => {
                                out.failures.push(RecordFailure {
                                    index,
                                    message: format!("table row: {e}"),
                                });
                                continue;
                            }
                            other => return Err(other.into()),
                        }
                    }
                    size = grown;
                }
                None => {
                    store.delete(&k)?;
                    size = size.saturating_sub(old);
                }
            }
            if let Some(olds) = olds.as_deref_mut() {
                olds[j] = old_value()?;
            }
            out.records.push(OutputRecord {
                source: Some(index),
                topic: None,
                body: Body::Input,
            });
        }
        if size != before {
            store.put(SIZE_KEY, &size.to_be_bytes())?;
        }
        Ok(out)
    }

    /// The bytes `store`'s rows take, as counted.
    pub fn size(store: &dyn StateBackend) -> Result<u64, StreamsError> {
        load_size(store)
    }

    /// `key`'s row, if the table has one.
    pub fn get(store: &dyn StateBackend, key: &[u8]) -> Result<Option<Row>, StreamsError> {
        let k = row_key(key);
        match store.get(&k)? {
            Some(b) => Ok(Some(Row::decode(&k, &b)?)),
            None => Ok(None),
        }
    }
}

/// `key`'s row value alone (without its timestamp), shared with the store where it
/// keeps it in memory: what a stream–table lookup needs, once per stream record.
pub fn row_value(store: &dyn StateBackend, key: &[u8]) -> Result<Option<Bytes>, StreamsError> {
    row_value_in(store, key, &mut Vec::new())
}

/// [`row_value`], building the state key in `scratch` (reused across a batch's lookups:
/// a stream–table join looks up every stream record, and a fresh key was an allocation
/// each).
pub fn row_value_in(
    store: &dyn StateBackend,
    key: &[u8],
    scratch: &mut Vec<u8>,
) -> Result<Option<Bytes>, StreamsError> {
    scratch.clear();
    scratch.push(ROW_TAG);
    scratch.extend_from_slice(key);
    match store.get_shared(scratch)? {
        Some(b) if b.len() >= 8 => Ok(Some(b.slice(8..))),
        Some(b) => Err(StreamsError::Corrupt {
            key: scratch.clone(),
            len: b.len(),
            expected: 8,
        }),
        None => Ok(None),
    }
}

fn load_size(store: &dyn StateBackend) -> Result<u64, StreamsError> {
    match store.get(SIZE_KEY)? {
        None => Ok(0),
        Some(b) => match <[u8; 8]>::try_from(&b[..]) {
            Ok(b) => Ok(u64::from_be_bytes(b)),
            Err(_) => Err(StreamsError::Corrupt {
                key: SIZE_KEY.to_vec(),
                len: b.len(),
                expected: 8,
            }),
        },
    }
}
