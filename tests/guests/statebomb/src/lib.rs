//! Hostile: puts 40 values of almost 4 MiB into state in one call, ignoring every refusal,
//! unless the value is `ok`; then forwards the record.
use weir_guest::prelude::*;

#[processor]
fn statebomb(record: &Record, ctx: &mut Context) -> Result<()> {
    if record.value() != Some(b"ok".as_slice()) {
        let value = vec![b'v'; (4 << 20) - 64];
        for i in 0..40u32 {
            let _ = ctx.state().put(i.to_be_bytes(), &value);
        }
    }
    ctx.emit(OwnedRecord::new(record.value().unwrap_or_default().to_vec()));
    Ok(())
}
