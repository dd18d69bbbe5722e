//! Transaction markers: the control batch a coordinator writes to every
//! partition of a transaction when it ends (Kafka's `EndTransactionMarker`).
//!
//! One record, key `version: i16 = 0, type: i16` (0 abort, 1 commit), value
//! `version: i16 = 0, coordinator_epoch: i32`, in a batch whose transactional
//! and control bits are set, carrying the producer's id and epoch and no sequence.

use crate::log::batch::{self, BATCH_HEADER_LEN, BatchError, BatchHeader, Record};
use crate::log::varint::{get_varint, get_varlong};

/// How a transaction ended on a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Marker {
    /// Its records are dropped by `read_committed` readers.
    Abort,
    /// Its records become visible to `read_committed` readers.
    Commit,
}

impl Marker {
    /// The marker for a commit (`true`) or an abort.
    pub fn ending(commit: bool) -> Marker {
        if commit {
            Marker::Commit
        } else {
            Marker::Abort
        }
    }

    fn code(self) -> i16 {
        match self {
            Marker::Abort => 0,
            Marker::Commit => 1,
        }
    }
}

/// This broker is the only coordinator there ever was: its epoch never moves.
const COORDINATOR_EPOCH: i32 = 0;

/// The control batch ending `producer_id`'s transaction (base offset 0; the log sets it).
pub fn encode(
    marker: Marker,
    producer_id: i64,
    epoch: i16,
    now_ms: i64,
) -> Result<Vec<u8>, BatchError> {
    let mut key = Vec::with_capacity(4);
    key.extend_from_slice(&0i16.to_be_bytes());
    key.extend_from_slice(&marker.code().to_be_bytes());
    let mut value = Vec::with_capacity(6);
    value.extend_from_slice(&0i16.to_be_bytes());
    value.extend_from_slice(&COORDINATOR_EPOCH.to_be_bytes());
    let record = Record {
        key: Some(key.into()),
        value: Some(value.into()),
        timestamp: now_ms,
        ..Record::default()
    };
    let mut bytes = batch::encode_batch(&[record], 0)?;
    batch::set_producer(&mut bytes, producer_id, epoch, -1);
    batch::set_transactional_control(&mut bytes);
    Ok(bytes)
}

/// The marker a stored control batch holds; `None` for anything else (a
/// control batch of another kind, or bytes that do not parse as one).
pub fn decode(bytes: &[u8]) -> Option<Marker> {
    let header = BatchHeader::parse(bytes).ok()?;
    if !header.is_control() || header.compression().ok()? != batch::Compression::None {
        return None;
    }
    let body = bytes.get(BATCH_HEADER_LEN..header.total_len())?;
    let mut pos = 0;
    get_varint(body, &mut pos)?; // record length
    pos += 1; // record attributes
    get_varlong(body, &mut pos)?; // timestamp delta
    get_varint(body, &mut pos)?; // offset delta
    let key_len = usize::try_from(get_varint(body, &mut pos)?).ok()?;
    let key = body.get(pos..pos + key_len)?;
    if key_len < 4 {
        return None;
    }
    match i16::from_be_bytes([key[2], key[3]]) {
        0 => Some(Marker::Abort),
        1 => Some(Marker::Commit),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_as_valid_control_batches() {
        for marker in [Marker::Abort, Marker::Commit] {
            let bytes = encode(marker, 42, 3, 1_000).unwrap();
            let header = batch::validate(&bytes).unwrap();
            assert!(header.is_control() && header.is_transactional());
            assert_eq!(
                (
                    header.producer_id,
                    header.producer_epoch,
                    header.base_sequence
                ),
                (42, 3, -1)
            );
            assert_eq!(decode(&bytes), Some(marker));
            // Readers decoding records see none.
            assert!(batch::decode_records(&bytes).unwrap().is_empty());
        }
    }

    #[test]
    fn a_data_batch_is_no_marker() {
        let record = Record {
            key: Some(b"\0\0\0\x01".to_vec().into()),
            ..Record::default()
        };
        let bytes = batch::encode_batch(&[record], 0).unwrap();
        assert_eq!(decode(&bytes), None);
        assert_eq!(decode(&bytes[..10]), None);
    }
}
