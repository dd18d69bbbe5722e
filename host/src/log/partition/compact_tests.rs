//! Tests of compaction on a partition log: random keyed workloads against a model
//! of Kafka's rules, idempotent producers' headers, reads across gaps, and a crash
//! at every step of the swap.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::log::batch::{BatchIter, Record, decode_records, encode_batch, set_producer};
use crate::log::cleaner::aborted::AbortedSet;
use crate::log::config::{Cleanup, Compaction};

const DELETE_RETENTION_MS: i64 = 1_000;

fn compacted(segment_bytes: u64) -> LogConfig {
    LogConfig {
        flush: FlushPolicy::Os,
        segment_bytes,
        index_interval_bytes: 64,
        cleanup: Cleanup::Compact(Compaction {
            delete_retention_ms: DELETE_RETENTION_MS,
            min_cleanable_dirty_ratio: 0.0,
            ..Compaction::default()
        }),
        ..LogConfig::default()
    }
}

/// One batch of (key, value) records; `None` values are tombstones.
fn keyed(records: &[(&str, Option<&str>)], ts: i64) -> Vec<u8> {
    let records: Vec<Record> = records
        .iter()
        .map(|(k, v)| Record {
            key: Some(Bytes::copy_from_slice(k.as_bytes())),
            value: v.map(|v| Bytes::copy_from_slice(v.as_bytes())),
            headers: vec![],
            timestamp: ts,
        })
        .collect();
    encode_batch(&records, 0).unwrap()
}

/// A stored record as the tests compare them: offset, key, value.
type Row = (i64, String, Option<String>);

/// Everything readable from offset 0, checking offsets only ever increase.
fn read_rows(log: &PartitionLog) -> Vec<Row> {
    let mut out: Vec<Row> = Vec::new();
    let mut offset = log.stats().log_start_offset;
    while offset < log.high_watermark() {
        let r = log.read(offset, 1 << 16).unwrap();
        assert!(
            !r.bytes.is_empty(),
            "empty read at {offset} below the high watermark"
        );
        for item in BatchIter::new(&r.bytes) {
            let (h, b) = item.unwrap();
            for rec in decode_records(b).unwrap() {
                assert!(rec.offset >= h.base_offset && rec.offset <= h.last_offset());
                if rec.offset >= offset {
                    if let Some(last) = out.last() {
                        assert!(rec.offset > last.0, "offsets go back at {}", rec.offset);
                    }
                    let s = |b: Bytes| String::from_utf8(b.to_vec()).unwrap();
                    out.push((rec.offset, s(rec.key.unwrap()), rec.value.map(s)));
                }
            }
            offset = offset.max(h.next_offset());
        }
    }
    out
}

/// Kafka's rules over the whole history: which records a pass at `now` keeps
/// below `clean_end`, with the delete horizon of each batch (by base offset).
#[derive(Default)]
struct Model {
    rows: Vec<Row>,
    batch_of: BTreeMap<i64, i64>,
    horizons: HashMap<i64, i64>,
    first_dirty: i64,
}

impl Model {
    fn append(&mut self, base: i64, records: &[(String, Option<String>)]) {
        for (i, (k, v)) in records.iter().enumerate() {
            let offset = base + i as i64;
            self.rows.push((offset, k.clone(), v.clone()));
            self.batch_of.insert(offset, base);
        }
    }

    fn pass(&mut self, clean_end: i64, now: i64) {
        if clean_end <= self.first_dirty {
            return;
        }
        let mut latest = HashMap::new();
        for (o, k, _) in &self.rows {
            if *o >= self.first_dirty && *o < clean_end {
                latest.insert(k.clone(), *o);
            }
        }
        let mut kept = Vec::new();
        let mut new_horizons = Vec::new();
        for row in self.rows.drain(..) {
            let (o, k, v) = &row;
            if *o >= clean_end {
                kept.push(row);
                continue;
            }
            let batch = self.batch_of[o];
            if latest.get(k).is_some_and(|l| o < l) {
                continue;
            }
            if v.is_none() {
                match self.horizons.get(&batch) {
                    Some(&h) if now >= h => continue,
                    Some(_) => {}
                    None => new_horizons.push(batch),
                }
            }
            kept.push(row);
        }
        for b in new_horizons {
            self.horizons.insert(b, now + DELETE_RETENTION_MS);
        }
        self.rows = kept;
        self.first_dirty = clean_end;
    }
}

#[test]
fn random_keyed_workloads_match_a_model_of_kafkas_rules() {
    for seed in 0..8u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let dir = tempfile::tempdir().unwrap();
        let log = PartitionLog::open(dir.path(), compacted(rng.random_range(300..2000))).unwrap();
        let mut model = Model::default();
        let mut now = 1_000_000;
        let keys = rng.random_range(3..40);
        for step in 0..400 {
            now += rng.random_range(0..200);
            let n = rng.random_range(1..6);
            let records: Vec<(String, Option<String>)> = (0..n)
                .map(|_| {
                    let k = format!("k{}", rng.random_range(0..keys));
                    let v = (!rng.random_bool(0.2))
                        .then(|| format!("v{step}-{}", "x".repeat(rng.random_range(0..60))));
                    (k, v)
                })
                .collect();
            let refs: Vec<(&str, Option<&str>)> = records
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_deref()))
                .collect();
            let info = log.append(&keyed(&refs, now), now).unwrap();
            model.append(info.base_offset, &records);
            if rng.random_bool(0.1) {
                let before = log.stats();
                let clean_end = log.active_base_offset();
                log.compact(now).unwrap();
                model.pass(clean_end, now);
                let after = log.stats();
                assert_eq!(after.high_watermark, before.high_watermark);
                assert_eq!(after.log_end_offset, before.log_end_offset);
                assert_eq!(after.log_start_offset, before.log_start_offset);
                assert_eq!(read_rows(&log), model.rows, "seed {seed} step {step}");
            }
        }
        // And the same after a restart.
        drop(log);
        let log = PartitionLog::open(dir.path(), compacted(1000)).unwrap();
        assert_eq!(read_rows(&log), model.rows, "seed {seed} after reopening");
    }
}

#[test]
fn latest_values_survive_and_old_tombstones_go() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), compacted(150)).unwrap();
    let t = 10_000;
    log.append(&keyed(&[("a", Some("1")), ("b", Some("1"))], t), t)
        .unwrap();
    log.append(&keyed(&[("a", Some("2")), ("c", Some("1"))], t), t)
        .unwrap();
    log.append(&keyed(&[("b", None)], t), t).unwrap();
    log.append(&keyed(&[("d", Some("1"))], t), t).unwrap();
    assert!(log.stats().segments >= 3);
    let stats = log.compact(t).unwrap().expect("a pass ran");
    assert!(stats.records_removed >= 2);
    let rows = read_rows(&log);
    let keys: Vec<(i64, &str, Option<&str>)> = rows
        .iter()
        .map(|(o, k, v)| (*o, k.as_str(), v.as_deref()))
        .collect();
    assert_eq!(
        keys,
        vec![
            (2, "a", Some("2")),
            (3, "c", Some("1")),
            (4, "b", None),
            (5, "d", Some("1"))
        ]
    );
    // The tombstone outlives delete.retention.ms only until the next pass after it.
    for _ in 0..3 {
        log.append(&keyed(&[("e", Some("1"))], t), t + 5000)
            .unwrap();
    }
    log.compact(t + DELETE_RETENTION_MS + 1).unwrap();
    assert!(read_rows(&log).iter().all(|(_, k, _)| k != "b"));
    // The first offset still reads: it is in a gap, the read moves on.
    let r = log.read(0, 1 << 10).unwrap();
    let first = BatchIter::new(&r.bytes).next().unwrap().unwrap().0;
    assert!(first.base_offset <= 2 && first.last_offset() >= 2);
}

#[test]
fn refuses_records_without_a_key_when_compacted() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), compacted(1 << 20)).unwrap();
    let batch = encode_batch(
        &[
            Record {
                key: Some(Bytes::from_static(b"k")),
                value: None,
                headers: vec![],
                timestamp: 1,
            },
            Record {
                key: None,
                value: Some(Bytes::from_static(b"v")),
                headers: vec![],
                timestamp: 1,
            },
        ],
        0,
    )
    .unwrap();
    assert!(matches!(
        log.append(&batch, 1),
        Err(LogError::KeylessRecord { index: 1 })
    ));
    assert_eq!(log.high_watermark(), 0);
}

#[test]
fn an_idempotent_producers_last_batch_keeps_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), compacted(150)).unwrap();
    let t = 1;
    let mut first = keyed(&[("a", Some("1")), ("b", Some("1"))], t);
    set_producer(&mut first, 7, 0, 0);
    let mut second = keyed(&[("a", Some("2"))], t);
    set_producer(&mut second, 7, 0, 2);
    let plain = keyed(&[("c", Some("1"))], t);
    log.append(&first, t).unwrap();
    log.append(&second, t).unwrap();
    log.append(&plain, t).unwrap();
    // Supersede everything producer 7 and the plain batch wrote, from another producer.
    for _ in 0..3 {
        log.append(
            &keyed(&[("a", Some("3")), ("b", Some("3")), ("c", Some("3"))], t),
            t,
        )
        .unwrap();
    }
    log.compact(t).unwrap();
    let mut headers = Vec::new();
    log.for_each_tail_header(usize::MAX, |h| headers.push(*h))
        .unwrap();
    let p7: Vec<_> = headers.iter().filter(|h| h.producer_id == 7).collect();
    assert_eq!(
        p7.len(),
        1,
        "only the producer's last batch stays: {headers:?}"
    );
    assert_eq!(
        (p7[0].base_offset, p7[0].base_sequence, p7[0].record_count),
        (2, 2, 0)
    );
    assert!(
        headers.iter().all(|h| h.base_offset != 3),
        "the plain emptied batch goes"
    );
    assert_eq!(log.high_watermark(), 13);
}

#[test]
fn a_crash_at_any_step_of_a_swap_loses_nothing() {
    for point in [
        CrashPoint::Cleaned,
        CrashPoint::Committed,
        CrashPoint::Installed,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let log = PartitionLog::open(dir.path(), compacted(200)).unwrap();
        let t = 5;
        for i in 0..30 {
            let v = format!("v{i}");
            log.append(&keyed(&[(&format!("k{}", i % 4), Some(&v))], t), t)
                .unwrap();
        }
        let before = read_rows(&log);
        tests_hook::arm(Some(point));
        assert!(log.compact(t).is_err(), "{point:?}");
        tests_hook::arm(None);
        drop(log);
        let log = PartitionLog::open(dir.path(), compacted(200)).unwrap();
        let after_crash = read_rows(&log);
        log.compact(t).unwrap();
        let cleaned = read_rows(&log);
        if point == CrashPoint::Cleaned {
            assert_eq!(
                after_crash, before,
                "{point:?}: the old segments stay whole"
            );
        } else {
            // The first group was swapped in: its keys' superseded values are gone, and
            // nothing that a full pass keeps is missing.
            assert!(after_crash.len() < before.len(), "{point:?}");
            assert!(cleaned.iter().all(|r| after_crash.contains(r)), "{point:?}");
        }
        // Every key's latest value is there whatever happened.
        for k in 0..4 {
            let key = format!("k{k}");
            let last = before.iter().rev().find(|r| r.1 == key).unwrap();
            assert!(
                after_crash.contains(last) && cleaned.contains(last),
                "{point:?} {key}"
            );
        }
        let leftovers: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".cleaned") || n.ends_with(".swap"))
            .collect();
        assert!(leftovers.is_empty(), "{point:?}: {leftovers:?}");
        assert_eq!(log.high_watermark(), 30);
    }
}

#[test]
fn reads_and_appends_go_on_while_passes_swap_segments() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(PartitionLog::open(dir.path(), compacted(400)).unwrap());
    let t = 7;
    let done = Arc::new(AtomicBool::new(false));
    let appender = {
        let (log, done) = (log.clone(), done.clone());
        std::thread::spawn(move || {
            let mut last = BTreeMap::new();
            for i in 0..600 {
                let (k, v) = (format!("k{}", i % 9), format!("v{i}"));
                let info = log.append(&keyed(&[(&k, Some(&v))], t), t).unwrap();
                last.insert(k.clone(), (info.base_offset, k, Some(v)));
            }
            done.store(true, Ordering::SeqCst);
            last
        })
    };
    let reader = {
        let (log, done) = (log.clone(), done.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !done.load(Ordering::SeqCst) {
                // Offsets only ever increase, and no read comes back empty below the
                // high watermark (read_rows asserts both), whatever a pass swaps in.
                read_rows(&log);
                reads += 1;
            }
            reads
        })
    };
    let mut passes = 0;
    while !done.load(Ordering::SeqCst) {
        if log.compact(t).unwrap().is_some() {
            passes += 1;
        }
    }
    let last = appender.join().unwrap();
    assert!(reader.join().unwrap() > 0);
    assert!(passes > 0);
    log.compact(t).unwrap();
    let rows = read_rows(&log);
    assert_eq!(log.high_watermark(), 600);
    for row in last.values() {
        assert!(rows.contains(row), "{row:?} lost");
    }
    // Only the active segment may still hold superseded values.
    let active = log.active_base_offset();
    let sealed: Vec<&Row> = rows.iter().filter(|r| r.0 < active).collect();
    for (i, r) in sealed.iter().enumerate() {
        assert!(
            sealed[i + 1..].iter().all(|later| later.1 != r.1),
            "{r:?} superseded but kept"
        );
    }
}

#[test]
fn a_small_offset_map_cleans_in_several_passes_stopping_inside_segments() {
    let dir = tempfile::tempdir().unwrap();
    // One big sealed segment: the map fills inside it.
    let log = PartitionLog::open(dir.path(), compacted(1 << 20)).unwrap();
    let t = 3;
    let mut last = BTreeMap::new();
    for i in 0..400 {
        let (k, v) = (format!("key-{}", i % 40), format!("v{i}"));
        let info = log.append(&keyed(&[(&k, Some(&v))], t), t).unwrap();
        last.insert(k.clone(), (info.base_offset, k, Some(v)));
    }
    // Roll by a change of segment size, then one record in the new active segment.
    log.set_config(compacted(100));
    log.append(&keyed(&[("other", Some("x"))], t), t).unwrap();
    assert_eq!(log.stats().segments, 2);
    // About ten keys per pass.
    let mut passes = 0;
    while log
        .compact_with(t, 10 * 60, i64::MAX, &AbortedSet::default())
        .unwrap()
        .is_some()
    {
        passes += 1;
        assert!(passes < 100, "no progress");
        let rows = read_rows(&log);
        for row in last.values() {
            assert!(rows.contains(row), "{row:?} lost after pass {passes}");
        }
    }
    assert!(passes >= 3, "{passes} passes");
    let rows = read_rows(&log);
    let mut keys: Vec<&String> = rows.iter().map(|r| &r.1).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(
        keys.len(),
        rows.len(),
        "a superseded value is left: {rows:?}"
    );
    assert_eq!(rows.len(), 41);
}

#[test]
fn nothing_at_or_past_the_last_stable_offset_is_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), compacted(150)).unwrap();
    let t = 10_000;
    log.append(&keyed(&[("a", Some("1")), ("b", Some("1"))], t), t)
        .unwrap();
    // Say the transaction holding "a" = 2 is still open: the last stable offset is 2.
    log.append(&keyed(&[("a", Some("2")), ("c", Some("1"))], t), t)
        .unwrap();
    log.append(&keyed(&[("d", Some("1"))], t), t).unwrap();
    log.append(&keyed(&[("e", Some("1"))], t), t).unwrap();
    assert!(log.stats().segments >= 3);
    let before = read_rows(&log);
    // Only the segment holding a = 1 ends at or below 2; the record superseding it
    // is past the stable offset, so it does not count: nothing may go.
    log.compact_below(t, 2, &AbortedSet::default()).unwrap();
    assert_eq!(
        read_rows(&log),
        before,
        "a = 1 survives while a = 2 may abort"
    );
    // Committed: a = 1 goes.
    log.compact_below(t, i64::MAX, &AbortedSet::default())
        .unwrap()
        .expect("a pass ran");
    assert!(!read_rows(&log).contains(&(0, "a".into(), Some("1".into()))));
}

/// Marks a batch as transactional data of `producer_id` (what a transactional
/// producer sends), or as its control batch.
fn transactional(mut batch: Vec<u8>, producer_id: i64, control: bool) -> Vec<u8> {
    let bits: u8 = if control { 0x30 } else { 0x10 };
    batch[22] |= bits;
    set_producer(&mut batch, producer_id, 0, 0);
    batch
}

#[test]
fn aborted_transactions_are_dropped_and_never_supersede_a_committed_value() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), compacted(150)).unwrap();
    let t = 10_000;
    log.append(&keyed(&[("a", Some("1")), ("b", Some("1"))], t), t)
        .unwrap();
    // Producer 7's transaction writes a = 2 and c = 1 at offsets 2 and 3, then aborts
    // (its marker at 4; the marker's content is the broker's business).
    let data = transactional(keyed(&[("a", Some("2")), ("c", Some("1"))], t), 7, false);
    log.append(&data, t).unwrap();
    let marker = transactional(keyed(&[("marker", None)], t), 7, true);
    log.append(&marker, t).unwrap();
    log.append(&keyed(&[("d", Some("1"))], t), t).unwrap();
    log.append(&keyed(&[("e", Some("1"))], t), t).unwrap();
    assert!(log.stats().segments >= 4);
    let mut aborted = AbortedSet::default();
    aborted.insert(7, 2, 4);
    let stats = log
        .compact_below(t, i64::MAX, &aborted)
        .unwrap()
        .expect("a pass ran");
    assert!(stats.records_removed >= 2, "{stats:?}");
    let rows = read_rows(&log);
    assert!(
        rows.contains(&(0, "a".into(), Some("1".into()))),
        "the committed a = 1 was dropped for an aborted a = 2: {rows:?}"
    );
    assert!(rows.contains(&(1, "b".into(), Some("1".into()))));
    assert!(
        rows.iter().all(|r| r.0 != 2 && r.0 != 3),
        "aborted records stay: {rows:?}"
    );
}
