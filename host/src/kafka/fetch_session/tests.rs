//! The session cache driven directly: epochs, news-only answers, bounds.

use std::time::Instant;

use super::*;

fn key(p: i32) -> PartitionKey {
    PartitionKey {
        topic: "t".into(),
        partition: p,
    }
}

fn at(offset: i64) -> Position {
    Position {
        offset,
        max_bytes: 1000,
    }
}

fn req(session_id: i32, epoch: i32, parts: &[(i32, i64)], forgotten: &[i32]) -> SessionRequest {
    SessionRequest {
        version: 12,
        session_id,
        epoch,
        partitions: parts.iter().map(|&(p, o)| (key(p), at(o))).collect(),
        forgotten: forgotten.iter().map(|&p| key(p)).collect(),
    }
}

fn quiet(hw: i64) -> Answered {
    Answered {
        has_records: false,
        high_watermark: hw,
        log_start_offset: 0,
        failed: false,
    }
}

/// Opens a session over partitions 0..n at offset 0, all answered with hw 5.
fn open(s: &FetchSessions, n: i32, now: Instant) -> i32 {
    let parts: Vec<(i32, i64)> = (0..n).map(|p| (p, 0)).collect();
    let plan = s.begin(req(0, 0, &parts, &[]), now).unwrap();
    assert_eq!(plan.context, Context::Full);
    let answered = vec![quiet(5); n as usize];
    let (id, include) = s.finish(&plan, &answered, now).unwrap();
    assert!(include.iter().all(|i| *i));
    id
}

#[test]
fn incremental_fetches_read_every_partition_and_answer_only_news() {
    let s = FetchSessions::default();
    let now = Instant::now();
    let id = open(&s, 3, now);
    assert_ne!(id, 0);
    // Epoch 1 names only partition 1 (moved to offset 2): all three are read.
    let plan = s.begin(req(id, 1, &[(1, 2)], &[]), now).unwrap();
    let read: Vec<(i32, i64)> = plan
        .partitions
        .iter()
        .map(|(k, p)| (k.partition, p.offset))
        .collect();
    assert_eq!(read, [(0, 0), (1, 2), (2, 0)]);
    // Only partition 2 has news (a new high watermark).
    let answered = [quiet(5), quiet(5), quiet(6)];
    assert_eq!(
        s.finish(&plan, &answered, now).unwrap(),
        (id, vec![false, false, true])
    );
    // The same epoch again is a duplicate; the next one is fine.
    assert_eq!(
        s.begin(req(id, 1, &[], &[]), now).unwrap_err(),
        ResponseError::InvalidFetchSessionEpoch
    );
    let plan = s.begin(req(id, 2, &[], &[0]), now).unwrap();
    assert_eq!(plan.partitions.len(), 2, "partition 0 forgotten");
    // Partitions that returned records go last, so a full response budget
    // does not always favour the same ones.
    let mut with_records = quiet(5);
    with_records.has_records = true;
    s.finish(&plan, &[with_records, quiet(6)], now).unwrap();
    let plan = s.begin(req(id, 3, &[], &[]), now).unwrap();
    let order: Vec<i32> = plan.partitions.iter().map(|(k, _)| k.partition).collect();
    assert_eq!(order, [2, 1]);
    assert_eq!(
        s.begin(req(id + 1, 1, &[], &[]), now).unwrap_err(),
        ResponseError::FetchSessionIdNotFound
    );
}

#[test]
fn epoch_minus_one_closes_and_a_full_fetch_replaces_a_session() {
    let s = FetchSessions::default();
    let now = Instant::now();
    let id = open(&s, 2, now);
    let plan = s.begin(req(id, -1, &[(0, 0)], &[]), now).unwrap();
    assert_eq!(plan.context, Context::Sessionless);
    assert_eq!(s.finish(&plan, &[quiet(5)], now).unwrap().0, 0);
    assert_eq!(s.len(), (0, 0));
    assert_eq!(
        s.begin(req(id, 1, &[], &[]), now).unwrap_err(),
        ResponseError::FetchSessionIdNotFound
    );
    let first = open(&s, 2, now);
    let plan = s.begin(req(first, 0, &[(0, 0)], &[]), now).unwrap();
    let second = s.finish(&plan, &[quiet(5)], now).unwrap().0;
    assert_ne!(second, 0);
    assert_eq!(s.len(), (1, 1), "the old session closed");
    // Forgetting every partition ends the session.
    let plan = s.begin(req(second, 1, &[], &[0]), now).unwrap();
    assert_eq!(plan.context, Context::Sessionless);
    assert_eq!(s.len(), (0, 0));
}

#[test]
fn the_cache_is_bounded_and_evicts_stale_then_smaller_sessions() {
    let s = FetchSessions::with_limits(2, 10);
    let now = Instant::now();
    let a = open(&s, 2, now);
    let b = open(&s, 3, now);
    // Full: a newcomer of 2 partitions evicts no one (none smaller), and is
    // answered without a session.
    assert_eq!(open(&s, 2, now), 0);
    assert_eq!(s.len(), (2, 5));
    // A larger newcomer evicts the smallest.
    let c = open(&s, 4, now);
    assert_ne!(c, 0);
    assert_eq!(
        s.begin(req(a, 1, &[], &[]), now).unwrap_err(),
        ResponseError::FetchSessionIdNotFound
    );
    // Once unused long enough, a session goes to anyone.
    let later = now + EVICT_AFTER;
    s.begin(req(c, 1, &[], &[]), later).unwrap();
    assert_ne!(open(&s, 1, later), 0);
    assert_eq!(
        s.begin(req(b, 1, &[], &[]), later).unwrap_err(),
        ResponseError::FetchSessionIdNotFound
    );
    // More partitions than the whole cache: never a session.
    assert_eq!(open(&s, 11, later), 0);
    // Growing a session past the bound ends it.
    let grow: Vec<(i32, i64)> = (10..20).map(|p| (p, 0)).collect();
    assert_eq!(
        s.begin(req(c, 2, &grow, &[]), later).unwrap_err(),
        ResponseError::FetchSessionIdNotFound
    );
    assert!(s.len().1 <= 10);
}
