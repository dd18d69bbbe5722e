//! A window-store fixture: counts records per key per tumbling window of one second in the
//! window store, and on each stream-time punctuation (every second of stream time) emits
//! `key@start=count` for every window that has closed, then removes it, and `tick@T` for
//! the punctuation itself (T: the stream time it was called with). It also keeps sessions
//! per key (records at most `GAP` apart) in the session store, merged as Kafka's session
//! windows are, and emits `session:key@start-end=count` for each that no later record can
//! extend. A record whose key starts with `big` tries to store a window under a key past
//! the host's cap.
use weir_guest::prelude::*;

/// Window size and punctuation interval, ms.
const SIZE: i64 = 1000;
/// Inactivity gap of the sessions, ms.
const GAP: i64 = 500;

fn count_of(bytes: Vec<u8>) -> u64 {
    u64::from_le_bytes(bytes.try_into().unwrap_or_default())
}

#[processor(stream_time_ms = 1000, on_stream_time = close, retention_ms = 60000)]
fn count(record: &Record, ctx: &mut Context) -> Result<()> {
    let mut key = record.key().unwrap_or_default().to_vec();
    if key.starts_with(b"big") {
        key = vec![b'k'; 5000];
    }
    let start = record.timestamp().div_euclid(SIZE) * SIZE;
    let windows = ctx.windows();
    let n = windows
        .get(&key, start)?
        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
        .unwrap_or(0);
    windows.put(&key, start, (n + 1).to_le_bytes())?;
    // The session this record belongs to: itself merged with every session it bridges.
    let ts = record.timestamp();
    let sessions = ctx.sessions();
    let (mut from, mut to, mut total) = (ts, ts, 1);
    for s in sessions.find_sessions(&key, ts - GAP, ts + GAP, 100)? {
        from = from.min(s.start);
        to = to.max(s.end);
        total += count_of(s.value);
        sessions.remove(&key, s.start, s.end)?;
    }
    sessions.put(&key, from, to, total.to_le_bytes())?;
    Ok(())
}

/// Emits and removes every window that ended at or before `stream_time`.
fn close(stream_time: i64, ctx: &mut TimerContext) -> Result<()> {
    ctx.emit(OwnedRecord::new(format!("tick@{stream_time}")).with_timestamp(stream_time));
    let windows = ctx.windows();
    for w in windows.fetch_all(i64::MIN, stream_time - SIZE, 10_000)? {
        let n = count_of(w.value.clone());
        let key = String::from_utf8_lossy(&w.key).into_owned();
        ctx.emit(
            OwnedRecord::new(format!("{key}@{}={n}", w.start))
                .with_key(w.key.clone())
                .with_timestamp(w.start),
        );
        windows.remove(&w.key, w.start)?;
    }
    // Sessions ending more than a gap before stream time: a later record (in order) can no
    // longer reach them.
    let sessions = ctx.sessions();
    for s in sessions.find_all_sessions(i64::MIN, stream_time - GAP - 1, 10_000)? {
        let key = String::from_utf8_lossy(&s.key).into_owned();
        let n = count_of(s.value.clone());
        ctx.emit(OwnedRecord::new(format!(
            "session:{key}@{}-{}={n}",
            s.start, s.end
        )));
        sessions.remove(&s.key, s.start, s.end)?;
    }
    Ok(())
}
