//! Tests of the partition log: appends, reads, rolls, recovery, retention.

use super::*;
use crate::log::batch::{BatchIter, Record, decode_records, encode_batch};
use bytes::Bytes;

fn config() -> LogConfig {
    LogConfig {
        flush: FlushPolicy::Os,
        ..LogConfig::default()
    }
}

fn batch_of(values: &[&str], ts: i64) -> Vec<u8> {
    let records: Vec<Record> = values
        .iter()
        .map(|v| Record {
            key: None,
            value: Some(Bytes::copy_from_slice(v.as_bytes())),
            headers: vec![],
            timestamp: ts,
        })
        .collect();
    encode_batch(&records, 0).unwrap()
}

fn read_all(log: &PartitionLog, from: i64) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    let mut offset = from;
    while offset < log.high_watermark() {
        let r = log.read(offset, 1 << 20).unwrap();
        assert!(!r.bytes.is_empty());
        for item in BatchIter::new(&r.bytes) {
            let (h, b) = item.unwrap();
            for rec in decode_records(b).unwrap() {
                if rec.offset >= offset {
                    out.push((
                        rec.offset,
                        String::from_utf8(rec.value.unwrap().to_vec()).unwrap(),
                    ));
                }
            }
            offset = h.next_offset();
        }
    }
    out
}

#[test]
fn appends_get_dense_offsets_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), config()).unwrap();
    let a = log.append(&batch_of(&["a", "b", "c"], 10), 100).unwrap();
    let b = log.append(&batch_of(&["d"], 10), 100).unwrap();
    assert_eq!((a.base_offset, a.last_offset, b.base_offset), (0, 2, 3));
    assert_eq!(log.high_watermark(), 4);
    let all = read_all(&log, 0);
    assert_eq!(
        all.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
    // Reading from the middle of a batch returns the whole batch.
    let r = log.read(1, 10).unwrap();
    let first = BatchIter::new(&r.bytes).next().unwrap().unwrap().0;
    assert_eq!(first.base_offset, 0);
    assert!(log.read(4, 100).unwrap().bytes.is_empty());
    assert!(matches!(
        log.read(5, 100),
        Err(LogError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn refuses_corrupt_and_oversized_batches_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(
        dir.path(),
        LogConfig {
            max_message_bytes: 100,
            ..config()
        },
    )
    .unwrap();
    let mut bad = batch_of(&["x"], 1);
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    assert!(matches!(
        log.append(&bad, 1),
        Err(LogError::InvalidBatch(_))
    ));
    let big = batch_of(&[&"y".repeat(200)], 1);
    assert!(matches!(
        log.append(&big, 1),
        Err(LogError::BatchTooLarge { .. })
    ));
    assert_eq!(log.stats().log_end_offset, 0);
    assert_eq!(log.stats().size_bytes, 0);
}

#[test]
fn rolls_segments_and_reads_across_them_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_bytes: 300,
        index_interval_bytes: 100,
        ..config()
    };
    {
        let log = PartitionLog::open(dir.path(), cfg.clone()).unwrap();
        for i in 0..50 {
            log.append(&batch_of(&[&format!("v{i}"), &format!("w{i}")], i), i)
                .unwrap();
        }
        assert!(log.stats().segments > 5);
        assert_eq!(read_all(&log, 0).len(), 100);
    }
    // No clean close: recovery rebuilds the active segment's index.
    let log = PartitionLog::open(dir.path(), cfg).unwrap();
    let all = read_all(&log, 0);
    assert_eq!(all.len(), 100);
    assert_eq!(all[57], (57, "w28".to_string()));
    assert_eq!(read_all(&log, 73)[0], (73, "w36".to_string()));
    assert_eq!(
        log.append(&batch_of(&["z"], 1), 1).unwrap().base_offset,
        100
    );
}

#[test]
fn recovery_truncates_a_torn_tail_and_a_corrupt_batch() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = PartitionLog::open(dir.path(), config()).unwrap();
        log.append(&batch_of(&["a"], 1), 1).unwrap();
        log.append(&batch_of(&["b"], 1), 1).unwrap();
    }
    let seg = dir.path().join(format!("{:020}.log", 0));
    let good_len = std::fs::metadata(&seg).unwrap().len();
    // A torn write: half a batch at the end.
    let half = batch_of(&["c"], 1);
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes.extend_from_slice(&half[..half.len() / 2]);
    std::fs::write(&seg, &bytes).unwrap();
    let log = PartitionLog::open(dir.path(), config()).unwrap();
    assert_eq!(log.high_watermark(), 2);
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), good_len);
    assert_eq!(log.append(&batch_of(&["c"], 1), 1).unwrap().base_offset, 2);
    drop(log);
    // A flipped bit inside the last batch: CRC catches it, the batch goes.
    let mut bytes = std::fs::read(&seg).unwrap();
    let n = bytes.len();
    bytes[n - 2] ^= 0x01;
    std::fs::write(&seg, &bytes).unwrap();
    let log = PartitionLog::open(dir.path(), config()).unwrap();
    assert_eq!(log.high_watermark(), 2);
    assert_eq!(read_all(&log, 0), vec![(0, "a".into()), (1, "b".into())]);
}

#[test]
fn clean_close_writes_a_recovery_point_that_the_next_open_consumes() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), config()).unwrap();
    log.append(&batch_of(&["a"], 1), 1).unwrap();
    log.close().unwrap();
    assert!(dir.path().join(RECOVERY_POINT).exists());
    drop(log);
    let log = PartitionLog::open(dir.path(), config()).unwrap();
    assert!(!dir.path().join(RECOVERY_POINT).exists());
    assert_eq!(log.high_watermark(), 1);
}

#[test]
fn stale_or_torn_sealed_indexes_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_bytes: 200,
        index_interval_bytes: 1,
        ..config()
    };
    {
        let log = PartitionLog::open(dir.path(), cfg.clone()).unwrap();
        for i in 0..20 {
            log.append(&batch_of(&[&format!("{i}")], i), i).unwrap();
        }
    }
    let index = dir.path().join(format!("{:020}.index", 0));
    let bytes = std::fs::read(&index).unwrap();
    std::fs::write(&index, &bytes[..bytes.len() - 3]).unwrap();
    std::fs::remove_file(dir.path().join(format!("{:020}.timeindex", 0))).unwrap();
    let log = PartitionLog::open(dir.path(), cfg).unwrap();
    assert_eq!(read_all(&log, 0).len(), 20);
    assert_eq!(std::fs::read(&index).unwrap(), bytes);
}

#[test]
fn a_torn_time_index_is_rebuilt_not_taken_for_an_ancient_segment() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_bytes: 150,
        retention_ms: Some(3_600_000),
        ..config()
    };
    let now = 1_700_000_000_000;
    {
        let log = PartitionLog::open(dir.path(), cfg.clone()).unwrap();
        for i in 0..10 {
            log.append(&batch_of(&[&format!("{i:04}")], now + i), now + i)
                .unwrap();
        }
        assert!(log.stats().segments > 2);
    }
    // A crash while sealing left an empty time index (the offset index is whole).
    std::fs::write(dir.path().join(format!("{:020}.timeindex", 0)), b"").unwrap();
    let log = PartitionLog::open(dir.path(), cfg).unwrap();
    assert_eq!(
        log.apply_retention(now + 60_000).unwrap(),
        0,
        "nothing is an hour old"
    );
    assert_eq!(log.stats().log_start_offset, 0);
}

#[test]
fn retention_by_bytes_and_time_deletes_oldest_sealed_segments() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_bytes: 150,
        retention_bytes: Some(400),
        retention_ms: None,
        ..config()
    };
    let log = PartitionLog::open(dir.path(), cfg.clone()).unwrap();
    for i in 0..30 {
        log.append(&batch_of(&[&format!("{i:04}")], 1000 + i), 1000 + i)
            .unwrap();
    }
    let before = log.stats();
    let removed = log.apply_retention(2000).unwrap();
    let after = log.stats();
    assert!(removed > 0);
    assert!(after.size_bytes < 400 + 150, "{after:?}");
    assert!(after.log_start_offset > 0);
    assert_eq!(after.high_watermark, before.high_watermark);
    assert!(matches!(
        log.read(0, 100),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert_eq!(
        read_all(&log, after.log_start_offset).len() as i64,
        30 - after.log_start_offset
    );

    // By time: everything sealed is older than 10 ms at t = 5000.
    log.set_config(LogConfig {
        retention_bytes: None,
        retention_ms: Some(10),
        ..cfg
    });
    log.apply_retention(5000).unwrap();
    assert_eq!(log.stats().segments, 1, "only the active segment stays");
}

#[test]
fn refuses_timestamps_too_far_in_the_future() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), config()).unwrap();
    let now = 1_700_000_000_000;
    assert!(matches!(
        log.append(&batch_of(&["x"], now + 3_600_001), now),
        Err(LogError::TimestampTooFarAhead { .. })
    ));
    assert_eq!(log.stats().log_end_offset, 0);
    log.append(&batch_of(&["x"], now + 3_600_000), now).unwrap();
}

#[test]
fn log_append_time_overwrites_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(
        dir.path(),
        LogConfig {
            timestamp_type: TimestampType::LogAppendTime,
            ..config()
        },
    )
    .unwrap();
    let info = log.append(&batch_of(&["a", "b"], 5), 777).unwrap();
    assert_eq!(info.log_append_time, Some(777));
    let r = log.read(0, 1000).unwrap();
    let recs = decode_records(&r.bytes).unwrap();
    assert!(recs.iter().all(|r| r.timestamp == 777));
}

#[test]
fn every_batch_policy_publishes_high_watermark_after_fsync() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(
        dir.path(),
        LogConfig {
            flush: FlushPolicy::EveryBatch,
            ..config()
        },
    )
    .unwrap();
    let mut rx = log.subscribe();
    rx.borrow_and_update();
    log.append(&batch_of(&["a"], 1), 1).unwrap();
    assert!(rx.has_changed().unwrap());
    assert_eq!(log.high_watermark(), 1);
}

#[test]
fn deleted_partition_refuses_calls() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), config()).unwrap();
    log.mark_deleted();
    assert!(matches!(
        log.append(&batch_of(&["a"], 1), 1),
        Err(LogError::Deleted)
    ));
    assert!(matches!(log.read(0, 1), Err(LogError::Deleted)));
}

#[test]
fn tail_header_walk_covers_the_last_segments_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_bytes: 200,
        ..config()
    };
    let log = PartitionLog::open(dir.path(), cfg).unwrap();
    for i in 0..20 {
        log.append(&batch_of(&[&format!("{i:03}")], i), i).unwrap();
    }
    let segments = log.stats().segments;
    assert!(segments > 3, "{segments}");
    let mut one = Vec::new();
    log.for_each_tail_header(1, |h| one.push(h.base_offset))
        .unwrap();
    let mut two = Vec::new();
    log.for_each_tail_header(2, |h| two.push(h.base_offset))
        .unwrap();
    let mut all = Vec::new();
    log.for_each_tail_header(usize::MAX, |h| all.push(h.base_offset))
        .unwrap();
    assert_eq!(
        all,
        (0..20).collect::<Vec<i64>>(),
        "every batch, oldest first"
    );
    assert!(
        two.len() > one.len(),
        "the sealed segment before the active one is included"
    );
    assert_eq!(two, all[all.len() - two.len()..], "a contiguous tail");
    assert_eq!(one.last(), Some(&19));
}

#[test]
fn deleted_records_stay_unreadable_after_reopen_and_whole_segments_go() {
    let dir = tempfile::tempdir().unwrap();
    // Tiny segments: one batch each.
    let small = LogConfig {
        segment_bytes: 100,
        ..config()
    };
    let log = PartitionLog::open(dir.path(), small.clone()).unwrap();
    for i in 0..5 {
        let v = format!("v{i}");
        log.append(&batch_of(&[&v, &v], 10), 100).unwrap();
    }
    assert_eq!(log.high_watermark(), 10);
    let segments = log.stats().segments;
    assert!(segments >= 5, "{segments} segments");
    assert!(matches!(
        log.delete_records(11),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert_eq!(log.delete_records(5).unwrap(), 5);
    assert_eq!(log.delete_records(3).unwrap(), 5, "never backwards");
    assert!(matches!(
        log.read(4, 1 << 20),
        Err(LogError::OffsetOutOfRange { log_start: 5, .. })
    ));
    // Offsets 0–3 were two whole segments: gone from disk.
    assert_eq!(log.stats().segments, segments - 2);
    assert_eq!(read_all(&log, 5).first().map(|r| r.0), Some(5));
    log.close().unwrap();
    drop(log);
    let log = PartitionLog::open(dir.path(), small.clone()).unwrap();
    assert_eq!(log.stats().log_start_offset, 5);
    assert_eq!(
        log.delete_records(-1).unwrap(),
        10,
        "-1 is the high watermark"
    );
    drop(log);
    let log = PartitionLog::open(dir.path(), small).unwrap();
    assert_eq!(log.stats().log_start_offset, 10);
    assert_eq!(log.read(10, 1 << 20).unwrap().bytes.len(), 0);
    let next = log.append(&batch_of(&["after"], 10), 100).unwrap();
    assert_eq!(next.base_offset, 10);
}
