//! Fuzzing the SDK's reading of the flat batch form (the lists the host hands a plugin):
//! random and mutated batches never make the views panic. The SDK checks only the lists'
//! shapes (the host checks every span natively before it sends, see the host's
//! `runtime/flat.rs`); a span outside the data reads as empty, and headers outside the header
//! list as none. Both rules are asserted here, and an unmutated batch reads back exactly.
//!
//! Deterministic by default; `WEIR_FUZZ_SEED` and `WEIR_FUZZ_CASES` run other and longer
//! campaigns, as for the host's `tests/fuzz/`.

use std::panic::{AssertUnwindSafe, catch_unwind};

use weir_guest::__private::{Batch, read_batch};
use weir_guest::OwnedRecord;

const NULL: u32 = u32::MAX;

/// xorshift64*, as the host's fuzz driver: a printed seed replays anywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|s| {
            let s = s.trim().to_string();
            match s.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16),
                None => s.parse(),
            }
            .unwrap_or_else(|e| panic!("{name}={s:?}: {e}"))
        })
        .unwrap_or(default)
}

fn records(rng: &mut Rng) -> Vec<OwnedRecord> {
    (0..rng.below(8))
        .map(|i| {
            let field = |rng: &mut Rng| {
                (rng.below(5) != 0).then(|| {
                    let n = rng.below(24);
                    rng.bytes(n)
                })
            };
            OwnedRecord {
                key: field(rng),
                value: field(rng),
                headers: (0..rng.below(3))
                    .map(|h| (format!("h{h}"), field(rng)))
                    .collect(),
                timestamp: i as i64 * 1000,
            }
        })
        .collect()
}

/// The flat form, as the host's encoder writes it.
fn flat(records: &[OwnedRecord]) -> Batch {
    let mut b = Batch {
        data: Vec::new(),
        records: Vec::new(),
        timestamps: Vec::new(),
        headers: Vec::new(),
    };
    fn put(data: &mut Vec<u8>, bytes: Option<&[u8]>) -> [u32; 2] {
        let at = data.len() as u32;
        match bytes {
            None => [at, NULL],
            Some(x) => {
                data.extend_from_slice(x);
                [at, x.len() as u32]
            }
        }
    }
    for r in records {
        let k = put(&mut b.data, r.key.as_deref());
        let v = put(&mut b.data, r.value.as_deref());
        let first = (b.headers.len() / 4) as u32;
        for (hk, hv) in &r.headers {
            let a = put(&mut b.data, Some(hk.as_bytes()));
            let c = put(&mut b.data, hv.as_deref());
            b.headers.extend_from_slice(&[a[0], a[1], c[0], c[1]]);
        }
        b.records
            .extend_from_slice(&[k[0], k[1], v[0], v[1], first, r.headers.len() as u32]);
        b.timestamps.push(r.timestamp);
    }
    b
}

/// One mutation of a flat batch: a number set to an extreme, a list cut or grown, the data cut.
fn mutate(rng: &mut Rng, b: &mut Batch) {
    let extreme = |rng: &mut Rng, data: usize| match rng.below(7) {
        0 => 0,
        1 => NULL,
        2 => NULL - 1,
        3 => data as u32,
        4 => data as u32 + 1,
        5 => u32::MAX / 4,
        _ => rng.next() as u32,
    };
    let data = b.data.len();
    match rng.below(7) {
        0 | 1 if !b.records.is_empty() => {
            let at = rng.below(b.records.len());
            b.records[at] = extreme(rng, data);
        }
        2 if !b.headers.is_empty() => {
            let at = rng.below(b.headers.len());
            b.headers[at] = extreme(rng, data);
        }
        3 => {
            let n = rng.below(b.data.len() + 1);
            b.data.truncate(n);
        }
        4 => {
            let n = rng.below(b.records.len() + 1);
            b.records.truncate(n);
        }
        5 => {
            let n = rng.below(b.headers.len() + 1);
            b.headers.truncate(n);
        }
        _ => {
            let grow = rng.below(3);
            match grow {
                0 => b.records.push(extreme(rng, data)),
                1 => b.headers.push(extreme(rng, data)),
                _ => b.timestamps.push(i64::MIN),
            }
        }
    }
}

/// Reads every record every way a plugin can; checks the SDK's documented rules.
fn read_all(b: &Batch, offsets: &[i64]) -> Result<Option<Vec<OwnedRecord>>, String> {
    let shape_ok = b.records.len().is_multiple_of(6)
        && b.headers.len().is_multiple_of(4)
        && b.timestamps.len() == b.records.len() / 6;
    let views = match read_batch(b, offsets) {
        Ok(views) if shape_ok => views,
        Ok(_) => return Err("lists that do not match were accepted".into()),
        Err(_) if shape_ok => return Err("well-shaped lists were refused".into()),
        Err(e) if e.is_empty() => return Err("a refusal with no message".into()),
        Err(_) => return Ok(None),
    };
    let mut out = Vec::new();
    for (i, r) in views.enumerate() {
        let f = &b.records[i * 6..i * 6 + 6];
        for (what, got, (at, len)) in [
            ("key", r.key(), (f[0], f[1])),
            ("value", r.value(), (f[2], f[3])),
        ] {
            let inside = (at as usize)
                .checked_add(len as usize)
                .is_some_and(|end| end <= b.data.len());
            match got {
                None if len != NULL => return Err(format!("record {i}: {what} read as null")),
                Some(_) if len == NULL => return Err(format!("record {i}: null {what} read")),
                Some(v) if !inside && !v.is_empty() => {
                    return Err(format!(
                        "record {i}: a {what} outside the data read as bytes"
                    ));
                }
                _ => {}
            }
        }
        let _ = r.value_str();
        let _ = r.header("h0");
        let _ = format!("{r:?}");
        if r.offset() != offsets.get(i).copied().unwrap_or(-1) || r.timestamp() != b.timestamps[i] {
            return Err(format!("record {i}: offset or timestamp not the batch's"));
        }
        out.push(r.to_owned());
    }
    Ok(Some(out))
}

#[test]
fn unmutated_batches_read_back_exactly() {
    let mut rng = Rng(env("WEIR_FUZZ_SEED", 0x5745_4952_4655_5a5a) | 1);
    for _ in 0..500 {
        let recs = records(&mut rng);
        let b = flat(&recs);
        let offsets: Vec<i64> = (0..recs.len() as i64).map(|o| o + 100).collect();
        assert_eq!(read_all(&b, &offsets), Ok(Some(recs)));
    }
}

#[test]
fn mutated_batches_never_panic_the_views() {
    let base = env("WEIR_FUZZ_SEED", 0x5745_4952_4655_5a5a);
    let cases = env("WEIR_FUZZ_CASES", 20_000);
    let mut refused = 0;
    for case in 0..cases {
        let mut rng = Rng((base ^ case.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1);
        let mut b = flat(&records(&mut rng));
        for _ in 0..1 + rng.below(4) {
            mutate(&mut rng, &mut b);
        }
        let offsets: Vec<i64> = (0..rng.below(10) as i64).collect();
        match catch_unwind(AssertUnwindSafe(|| read_all(&b, &offsets))) {
            Ok(Ok(read)) => refused += usize::from(read.is_none()),
            outcome => panic!(
                "case {case} (WEIR_FUZZ_SEED={base:#x}): {:?}\nbatch: {b:?}",
                outcome.map_err(|_| "panicked")
            ),
        }
    }
    assert!(
        refused > 0 && (refused as u64) < cases,
        "{refused} of {cases} refused"
    );
}
