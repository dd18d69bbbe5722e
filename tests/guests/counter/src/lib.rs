//! A processor fixture: counts records per key in state and emits `key=count` for each.
use weir_guest::prelude::*;

#[processor]
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
