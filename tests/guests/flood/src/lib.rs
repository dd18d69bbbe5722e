//! Hostile: floods the host with what one call hands it, when a record of the batch has one of
//! these values: `records` keeps that input 200 000 times; `headers` emits 3 000 records that
//! all point at one 64 KiB header in its buffer (64 KiB in the guest, 188 MiB once stored);
//! `logs` writes 30 log lines of 8 MiB. A batch without them is kept whole. Written against the raw bindings, since
//! the SDK would never share a header between records.
use weir_guest::__private::bindings::weir::plugin::types::{Batch, Emit, Emitted, Origin};
use weir_guest::__private::{TransformError, TransformGuest, TransformOutput};

struct Flood;

fn value(batch: &Batch, index: usize) -> &[u8] {
    let (Some(&offset), Some(&len)) = (
        batch.records.get(index * 6 + 2),
        batch.records.get(index * 6 + 3),
    ) else {
        return &[];
    };
    let (offset, len) = (offset as usize, len as usize);
    batch.data.get(offset..offset.saturating_add(len)).unwrap_or(&[])
}

/// The index of the first record whose value is `wanted`.
fn find(batch: &Batch, wanted: &[u8]) -> Option<u32> {
    (0..batch.records.len() / 6)
        .find(|&i| value(batch, i) == wanted)
        .map(|i| i as u32)
}

fn shared_header_records(source: u32, count: u32, header_bytes: u32) -> Emitted {
    let mut data = b"h".to_vec();
    data.resize(1 + header_bytes as usize, b'x');
    let mut records = Vec::new();
    for _ in 0..count {
        // Null key, empty value, the one header (index 0).
        records.extend_from_slice(&[0, u32::MAX, 0, 0, 0, 1]);
    }
    Emitted {
        batch: Batch {
            data,
            records,
            timestamps: vec![0; count as usize],
            headers: vec![0, 1, 1, header_bytes],
        },
        sources: vec![source; count as usize],
    }
}

impl TransformGuest for Flood {
    fn process(_origin: Origin, batch: Batch) -> Result<TransformOutput, TransformError> {
        let inputs = (batch.records.len() / 6) as u32;
        let emit = if let Some(i) = find(&batch, b"records") {
            Emit::Keep(vec![i; 200_000])
        } else if let Some(i) = find(&batch, b"headers") {
            Emit::Records(shared_header_records(i, 3000, 64 << 10))
        } else {
            if find(&batch, b"logs").is_some() {
                let line = "x".repeat(8 << 20);
                for _ in 0..30 {
                    weir_guest::log::__log(2, &line);
                }
            }
            Emit::Keep((0..inputs).collect())
        };
        Ok(TransformOutput {
            emit,
            failures: Vec::new(),
        })
    }
}

weir_guest::__private::bindings::__weir_export_transform!(Flood);
