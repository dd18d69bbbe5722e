//! A processor fixture: counts records per key in state and emits `key=count` for each;
//! every 50 ms reports how many keys it has seen.
use weir_guest::prelude::*;

#[processor(timer_ms = 50, on_timer = report)]
fn count(record: &Record, ctx: &mut Context) -> Result<()> {
    let key = record.key().unwrap_or_default().to_vec();
    let state = ctx.state();
    let n = state.get_as::<u64>(&key)?.unwrap_or(0) + 1;
    state.put_as(&key, &n)?;
    let text = format!("{}={n}", String::from_utf8_lossy(&key));
    ctx.emit(
        OwnedRecord::new(text)
            .with_key(key)
            .with_timestamp(record.timestamp()),
    );
    if n % 2 == 0 {
        ctx.forward_to("evens");
    }
    Ok(())
}

/// Emits `keys=N at T` from a scan of the state.
fn report(now_ms: i64, ctx: &mut TimerContext) -> Result<()> {
    let keys = ctx.state().scan_prefix(b"", 1000)?.len();
    ctx.emit(OwnedRecord::new(format!("keys={keys} at {now_ms}")).with_timestamp(now_ms));
    Ok(())
}
