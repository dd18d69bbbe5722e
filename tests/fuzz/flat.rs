//! The flat batch form between host and guest, from both ends: what the host's encoder
//! writes, the SDK reads back exactly; mutated flat batches never panic the host's checks and
//! decoder; and every batch the host's `check` passes (the only check before a batch goes to a
//! guest) decodes on the host and reads identically through the SDK's views, which trust the
//! spans and check only the lists' shapes. The SDK's own fuzz test (guest-sdk/tests/
//! flat_fuzz.rs) covers its views against batches that do not pass the host's check.
//!
//! An input is the four lists serialised (a u32 count, then the items, little-endian).

use bytes::Bytes;
use weir::record::Record;
use weir::runtime::bindings::Batch;
use weir::runtime::flat::{self, FlatEncoder, NULL};
use weir_guest::OwnedRecord;

use crate::driver::{self, Rng};

fn records(rng: &mut Rng) -> Vec<Record> {
    (0..rng.below(10))
        .map(|i| {
            let field = |rng: &mut Rng| {
                (!rng.chance(1, 5)).then(|| {
                    let n = rng.below(40);
                    Bytes::from(rng.bytes(n))
                })
            };
            Record {
                key: field(rng),
                value: field(rng),
                headers: (0..rng.below(3))
                    .map(|h| (format!("h{h}"), field(rng)))
                    .collect(),
                timestamp: i as i64 - 1,
            }
        })
        .collect()
}

fn to_bytes(b: &Batch) -> Vec<u8> {
    let mut out = Vec::new();
    let mut list = |items: Vec<[u8; 8]>, width: usize| {
        out.extend_from_slice(&(items.len() as u32).to_le_bytes());
        for item in items {
            out.extend_from_slice(&item[..width]);
        }
    };
    let wide = |v: u64| v.to_le_bytes();
    list(b.data.iter().map(|&x| wide(u64::from(x))).collect(), 1);
    list(b.records.iter().map(|&x| wide(u64::from(x))).collect(), 4);
    list(b.timestamps.iter().map(|&x| wide(x as u64)).collect(), 8);
    list(b.headers.iter().map(|&x| wide(u64::from(x))).collect(), 4);
    out
}

fn from_bytes(mut input: &[u8]) -> Option<Batch> {
    let mut list = |width: usize| -> Option<Vec<u64>> {
        let (n, rest) = input.split_at_checked(4)?;
        let n = u32::from_le_bytes(n.try_into().ok()?) as usize;
        let (items, rest) = rest.split_at_checked(n.checked_mul(width)?)?;
        input = rest;
        Some(
            items
                .chunks_exact(width)
                .map(|c| {
                    let mut w = [0u8; 8];
                    w[..width].copy_from_slice(c);
                    u64::from_le_bytes(w)
                })
                .collect(),
        )
    };
    Some(Batch {
        data: list(1)?.into_iter().map(|x| x as u8).collect(),
        records: list(4)?.into_iter().map(|x| x as u32).collect(),
        timestamps: list(8)?.into_iter().map(|x| x as i64).collect(),
        headers: list(4)?.into_iter().map(|x| x as u32).collect(),
    })
}

/// The same lists as the SDK's generated type.
fn sdk_batch(b: &Batch) -> weir_guest::__private::Batch {
    weir_guest::__private::Batch {
        data: b.data.clone(),
        records: b.records.clone(),
        timestamps: b.timestamps.clone(),
        headers: b.headers.clone(),
    }
}

/// A host record as the SDK's owned record.
fn owned(r: &Record) -> OwnedRecord {
    OwnedRecord {
        key: r.key.as_ref().map(|b| b.to_vec()),
        value: r.value.as_ref().map(|b| b.to_vec()),
        headers: r
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.as_ref().map(|b| b.to_vec())))
            .collect(),
        timestamp: r.timestamp,
    }
}

fn sdk_read(b: &Batch) -> Result<Vec<OwnedRecord>, String> {
    let sdk = sdk_batch(b);
    let views = weir_guest::__private::read_batch(&sdk, &[])?;
    Ok(views.map(|r| r.to_owned()).collect())
}

fn encode(records: &[Record]) -> Batch {
    FlatEncoder::default()
        .encode(records)
        .expect("encodable")
        .batch()
        .clone()
}

fn generate(rng: &mut Rng) -> Vec<u8> {
    let mut b = encode(&records(rng));
    for _ in 0..1 + rng.below(3) {
        let data = b.data.len() as u32;
        let random = rng.next() as u32;
        let extreme = *rng.pick(&[0, 1, NULL, NULL - 1, data, data + 1, random]);
        match rng.below(6) {
            0 | 1 if !b.records.is_empty() => {
                let at = rng.below(b.records.len());
                b.records[at] = extreme;
            }
            2 if !b.headers.is_empty() => {
                let at = rng.below(b.headers.len());
                b.headers[at] = extreme;
            }
            3 => {
                let n = rng.below(b.data.len() + 1);
                b.data.truncate(n);
            }
            4 => b.records.push(extreme),
            _ => {
                let n = rng.below(b.headers.len() + 1);
                b.headers.truncate(n);
            }
        }
    }
    to_bytes(&b)
}

fn property(input: &[u8]) -> Result<bool, String> {
    let Some(b) = from_bytes(input) else {
        return Ok(false);
    };
    let checked = flat::check(&b);
    let decoded = flat::decode(b.clone());
    for i in 0..=flat::record_count(&b) {
        let _ = flat::value(&b, i);
    }
    let Ok(n) = checked else {
        return Ok(false);
    };
    let decoded = decoded.map_err(|e| format!("passed the check, then failed to decode: {e:?}"))?;
    if decoded.len() != n {
        return Err(format!(
            "check counted {n} records, decode gave {}",
            decoded.len()
        ));
    }
    let host: Vec<OwnedRecord> = decoded.iter().map(owned).collect();
    let guest = sdk_read(&b)?;
    if host != guest {
        return Err(format!("host decoded {host:?}, the SDK read {guest:?}"));
    }
    Ok(true)
}

#[test]
fn what_the_host_encodes_the_sdk_reads_back_exactly() {
    let mut rng = Rng::new(driver::base_seed());
    for _ in 0..500 {
        let recs = records(&mut rng);
        let b = encode(&recs);
        flat::check(&b).expect("the encoder's output passes the check");
        let sent: Vec<OwnedRecord> = recs.iter().map(owned).collect();
        assert_eq!(sdk_read(&b), Ok(sent));
        assert_eq!(flat::decode(b).expect("decodes"), recs);
    }
}

#[test]
fn mutated_flat_batches_are_refused_or_read_alike_by_host_and_sdk() {
    let summary = driver::run("flat", 20_000, generate, property);
    summary.assert_both_ways("flat");
}

/// Found by the campaign above: a header key that is not UTF-8 passed the host's `check`
/// (the one check before a batch goes to a guest, promising that the guest reads it as
/// written), while the SDK reads such a key as "" and the host's own `decode` refuses it.
/// `check` now refuses it too.
#[test]
fn a_header_key_that_is_not_utf8_does_not_pass_the_check() {
    let b = Batch {
        data: vec![0xff, b'v'],
        records: vec![0, NULL, 1, 1, 0, 1],
        timestamps: vec![0],
        headers: vec![0, 1, 0, NULL],
    };
    assert!(flat::check(&b).is_err());
    driver::replay("flat non-UTF-8 header key", &[&to_bytes(&b)], property);
}
