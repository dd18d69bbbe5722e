//! The search of `GET .../records?q=TEXT`: reads records from an offset on and keeps
//! those whose key or value holds the text (ASCII case ignored), reading at most
//! `scan` records (default [`DEFAULT_SCAN`], at most [`MAX_SCAN`]) so a search of a
//! large partition is a bounded amount of work; the answer says how many were read
//! and where to go on.

use crate::broker::Broker;
use crate::broker::producer::ProducerRegistry;
use crate::log::batch::StoredRecord;

use super::error::ApiError;
use super::records::collect_records;

/// Records a search reads when the request names no `scan`.
pub const DEFAULT_SCAN: usize = 10_000;
/// Most records one search may read.
pub const MAX_SCAN: usize = 100_000;
/// Records read per step: the matches are kept, the rest dropped before the next.
const STEP: usize = 1_000;

/// What a search found.
#[derive(Debug)]
pub struct Found {
    /// The matching records, oldest first.
    pub records: Vec<StoredRecord>,
    /// How many records were read.
    pub scanned: usize,
    /// Where a further search would start.
    pub next_offset: i64,
    /// The partition's high watermark.
    pub high_watermark: i64,
}

/// The scan limit a request asks for, checked.
pub fn scan_limit(scan: Option<usize>) -> Result<usize, ApiError> {
    match scan {
        None => Ok(DEFAULT_SCAN),
        Some(n) if (1..=MAX_SCAN).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(format!(
            "scan {n} is out of range: a search reads between 1 and {MAX_SCAN} records"
        ))),
    }
}

/// Whether `haystack` holds `needle`, ASCII case ignored.
fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Searches `topic`/`partition` from `offset` for `text` in keys and values: stops
/// after `scan` records read, `max` matches, or the end of the committed records.
#[allow(clippy::too_many_arguments)]
pub fn search(
    broker: &Broker,
    producers: &ProducerRegistry,
    topic: &str,
    partition: i64,
    offset: i64,
    text: &str,
    scan: usize,
    max: usize,
) -> Result<Found, ApiError> {
    let needle = text.as_bytes();
    let mut found = Found {
        records: Vec::new(),
        scanned: 0,
        next_offset: offset,
        high_watermark: -1,
    };
    while found.scanned < scan {
        let want = STEP.min(scan - found.scanned);
        let (read, next, hw) =
            collect_records(broker, producers, topic, partition, found.next_offset, want)?;
        found.high_watermark = hw;
        if read.is_empty() {
            found.next_offset = found.next_offset.max(next);
            break;
        }
        for r in read {
            found.scanned += 1;
            found.next_offset = r.offset + 1;
            let hit = |b: &Option<bytes::Bytes>| b.as_deref().is_some_and(|b| holds(b, needle));
            if hit(&r.key) || hit(&r.value) {
                found.records.push(r);
                if found.records.len() == max {
                    return Ok(found);
                }
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_ignores_ascii_case() {
        assert!(holds(b"a Needle here", b"needle"));
        assert!(!holds(b"nee dle", b"needle"));
        assert!(holds(b"x", b""));
    }

    #[test]
    fn the_scan_limit_is_bounded() {
        assert_eq!(scan_limit(None).unwrap(), DEFAULT_SCAN);
        assert_eq!(scan_limit(Some(5)).unwrap(), 5);
        assert!(scan_limit(Some(0)).is_err());
        assert!(scan_limit(Some(MAX_SCAN + 1)).is_err());
    }
}
