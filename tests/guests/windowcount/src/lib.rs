//! A window-store fixture: counts records per key per tumbling window of one second in the
//! window store, and on each stream-time punctuation (every second of stream time) emits
//! `key@start=count` for every window that has closed, then removes it, and `tick@T` for
//! the punctuation itself (T: the stream time it was called with). A record whose key
//! starts with `big` tries to store a window under a key past the host's cap.
use weir_guest::prelude::*;

/// Window size and punctuation interval, ms.
const SIZE: i64 = 1000;

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
    Ok(())
}

/// Emits and removes every window that ended at or before `stream_time`.
fn close(stream_time: i64, ctx: &mut TimerContext) -> Result<()> {
    ctx.emit(OwnedRecord::new(format!("tick@{stream_time}")).with_timestamp(stream_time));
    let windows = ctx.windows();
    for w in windows.fetch_all(i64::MIN, stream_time - SIZE, 10_000)? {
        let n = u64::from_le_bytes(w.value.clone().try_into().unwrap_or_default());
        let key = String::from_utf8_lossy(&w.key).into_owned();
        ctx.emit(
            OwnedRecord::new(format!("{key}@{}={n}", w.start))
                .with_key(w.key.clone())
                .with_timestamp(w.start),
        );
        windows.remove(&w.key, w.start)?;
    }
    Ok(())
}
