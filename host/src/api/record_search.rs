//! The search of `GET .../records?q=TEXT`: reads records from an offset on and keeps
//! those whose key or value holds the text (ASCII case ignored), reading at most
//! `scan` records (default [`DEFAULT_SCAN`], at most [`MAX_SCAN`]) so a search of a
//! large partition is a bounded amount of work; the answer says how many were read
//! and where to go on. The text is at most [`MAX_QUERY_BYTES`]; matching is linear
//! (`memchr::memmem` over an ASCII-lowercased copy), and a search also stops after
//! `http.max_search_ms` of wall-clock time (2 s by default), checked between steps of
//! [`STEP`] records, or [`MAX_MATCH_BYTES`] of matched records, so no request holds a
//! blocking thread or memory for long; `next_offset` resumes it.
//! An empty text matches every record, under the same bounds.

use std::time::{Duration, Instant};

use crate::broker::Broker;
use crate::broker::producer::ProducerRegistry;
use crate::log::batch::StoredRecord;

use super::error::ApiError;
use super::records::collect_records;

/// Records a search reads when the request names no `scan`.
pub const DEFAULT_SCAN: usize = 10_000;
/// Most records one search may read.
pub const MAX_SCAN: usize = 100_000;
/// Longest search text, in bytes.
pub const MAX_QUERY_BYTES: usize = 256;
/// Bytes of keys, values and headers of matched records one answer holds at most
/// (the consume path's read bound).
pub const MAX_MATCH_BYTES: usize = 8 << 20;
/// Records read per step: the matches are kept, the rest dropped before the next; the
/// time budget is checked after each.
pub const STEP: usize = 1_000;

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

/// The search text a request asks for, checked.
pub fn query(text: String) -> Result<String, ApiError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(ApiError::bad_request(format!(
            "q is {} bytes: a search text is at most {MAX_QUERY_BYTES} bytes",
            text.len()
        )));
    }
    Ok(text)
}

/// Whether `haystack` holds the (lowercased) needle of `finder`, ASCII case ignored.
/// `scratch` is reused across calls so a search lowercases without allocating per record.
fn holds(finder: &memchr::memmem::Finder<'_>, haystack: &[u8], scratch: &mut Vec<u8>) -> bool {
    if finder.needle().is_empty() {
        return true;
    }
    scratch.clear();
    scratch.extend(haystack.iter().map(u8::to_ascii_lowercase));
    finder.find(scratch).is_some()
}

/// The bytes a record adds to an answer: key, value and headers.
fn record_bytes(r: &StoredRecord) -> usize {
    let len = |b: &Option<bytes::Bytes>| b.as_ref().map_or(0, |b| b.len());
    len(&r.key)
        + len(&r.value)
        + r.headers
            .iter()
            .map(|(k, v)| k.len() + len(v))
            .sum::<usize>()
}

/// Searches `topic`/`partition` from `offset` for `text` in keys and values: stops
/// after `scan` records read, `max` matches, the end of the committed records,
/// `budget` of time (checked after each step) or [`MAX_MATCH_BYTES`] of matches.
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
    budget: Duration,
) -> Result<Found, ApiError> {
    let needle = text.to_ascii_lowercase();
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    let mut scratch = Vec::new();
    let deadline = Instant::now() + budget;
    let mut bytes = 0usize;
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
            let mut hit = |b: &Option<bytes::Bytes>| {
                b.as_deref()
                    .is_some_and(|b| holds(&finder, b, &mut scratch))
            };
            if hit(&r.key) || hit(&r.value) {
                let size = record_bytes(&r);
                // Always answer with at least one match, so a search makes progress.
                if !found.records.is_empty() && bytes + size > MAX_MATCH_BYTES {
                    return Ok(found);
                }
                bytes += size;
                found.scanned += 1;
                found.next_offset = r.offset + 1;
                found.records.push(r);
                if found.records.len() == max {
                    return Ok(found);
                }
            } else {
                found.scanned += 1;
                found.next_offset = r.offset + 1;
            }
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_ignores_ascii_case() {
        let mut scratch = Vec::new();
        let finder = memchr::memmem::Finder::new(b"needle");
        assert!(holds(&finder, b"a NeEdle here", &mut scratch));
        assert!(!holds(&finder, b"nee dle", &mut scratch));
        assert!(holds(&memchr::memmem::Finder::new(b""), b"x", &mut scratch));
    }

    #[test]
    fn the_search_text_is_bounded() {
        assert!(query("a".repeat(MAX_QUERY_BYTES)).is_ok());
        let err = query("a".repeat(MAX_QUERY_BYTES + 1)).unwrap_err();
        assert!(format!("{err:?}").contains("256"), "{err:?}");
    }

    #[test]
    fn the_scan_limit_is_bounded() {
        assert_eq!(scan_limit(None).unwrap(), DEFAULT_SCAN);
        assert_eq!(scan_limit(Some(5)).unwrap(), 5);
        assert!(scan_limit(Some(0)).is_err());
        assert!(scan_limit(Some(MAX_SCAN + 1)).is_err());
    }
}
