//! `weir bench wasm`: the example filter in each language through the runtime, against the
//! same filter in native Rust in the same run; instantiate time; compile vs cached load.
//!
//! Records are 100-byte values with an 8-byte key and one header; half contain the pattern.
//! Both sides answer a filter the same way, with the indices of the records to keep, so the
//! ratio is the cost of crossing into Wasm and running there.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;

use crate::log::batch::Record;
use crate::runtime::bindings::Batch;
use crate::runtime::flat::{self, CheckedBatch, FlatEncoder};
use crate::runtime::{Instance, InstanceConfig, Origin, Runtime, RuntimeConfig};

/// Options of `weir bench wasm`.
#[derive(Debug, Clone, clap::Args)]
pub struct WasmBenchOptions {
    /// Directory holding the built guests (`scripts/build-guests` writes target/guests/wasm).
    #[arg(long, value_name = "DIR", default_value = "target/guests/wasm")]
    pub guests: PathBuf,
    /// Time spent per throughput case, in seconds.
    #[arg(long, default_value_t = 1.0)]
    pub seconds: f64,
    /// Only these guests (file stems, e.g. rust-filter); default all that are built.
    #[arg(long, value_name = "STEM")]
    pub only: Vec<String>,
    /// Batch sizes, in records (repeat the flag for several).
    #[arg(long = "batch", value_name = "RECORDS", default_values_t = [1usize, 100, 1000])]
    pub batches: Vec<usize>,
}

pub(crate) const PATTERN: &str = "error";

/// The guests measured, by file stem, and what each stands for.
const GUESTS: &[(&str, &str)] = &[
    ("rust-filter", "Rust (weir-guest), flat batch, keep indices"),
    ("copyfilter", "Rust (weir-guest), flat batch, copies back"),
    (
        "keepall",
        "Rust (weir-guest), keeps all unread: the boundary and SDK loop alone",
    ),
    ("c-filter", "C (wit-bindgen c), flat batch, keep indices"),
    (
        "python-filter",
        "Python (componentize-py), flat batch, keep indices",
    ),
    (
        "js-filter",
        "JS (componentize-qjs), flat batch, keep indices",
    ),
];

pub(crate) fn records(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let mut value = vec![b'x'; 100];
            if i % 2 == 0 {
                value[80..85].copy_from_slice(PATTERN.as_bytes());
            }
            Record {
                key: Some(Bytes::from(format!("{i:08}"))),
                value: Some(Bytes::from(value)),
                headers: vec![("h".into(), Some(Bytes::from_static(b"v")))],
                timestamp: 1_700_000_000_000 + i as i64,
            }
        })
        .collect()
}

/// The same search as `weir_guest::contains`, natively: on x86_64 the same
/// 16-positions-at-a-time first/last-byte algorithm the SDK runs with Wasm SIMD,
/// here with SSE2 (always present on x86_64), so the ratio measures the engine,
/// not a difference of algorithm.
pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        contains_sse2(haystack, needle)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        contains_portable(haystack, needle)
    }
}

fn contains_portable(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let Some(last) = haystack.len().checked_sub(needle.len()) else {
        return false;
    };
    haystack[..=last]
        .iter()
        .enumerate()
        .any(|(i, &b)| b == first && haystack.get(i + 1..i + needle.len()) == Some(rest))
}

#[cfg(target_arch = "x86_64")]
fn contains_sse2(haystack: &[u8], needle: &[u8]) -> bool {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let n = needle.len();
    if n < 2 || haystack.len() < n + 15 {
        return contains_portable(haystack, needle);
    }
    // SAFETY: SSE2 is part of the x86_64 baseline; both unaligned 16-byte loads
    // lie inside `haystack` by the loop condition.
    unsafe {
        let first = _mm_set1_epi8(needle[0] as i8);
        let last = _mm_set1_epi8(needle[n - 1] as i8);
        let middle = &needle[1..n - 1];
        let mut i = 0;
        while i + n + 15 <= haystack.len() {
            let a = _mm_loadu_si128(haystack.as_ptr().add(i).cast::<__m128i>());
            let b = _mm_loadu_si128(haystack.as_ptr().add(i + n - 1).cast::<__m128i>());
            let mut mask = _mm_movemask_epi8(_mm_and_si128(
                _mm_cmpeq_epi8(a, first),
                _mm_cmpeq_epi8(b, last),
            )) as u32;
            while mask != 0 {
                let at = i + mask.trailing_zeros() as usize;
                if haystack.get(at + 1..at + n - 1) == Some(middle) {
                    return true;
                }
                mask &= mask - 1;
            }
            i += 16;
        }
        contains_portable(&haystack[i..], needle)
    }
}

/// The same filter, natively: the baseline. Answers like the runtime does for a filter: which
/// inputs to keep, without copying them.
fn native_filter(input: &[Record], pattern: &[u8]) -> Vec<u32> {
    input
        .iter()
        .enumerate()
        .filter(|(_, r)| r.value.as_deref().is_some_and(|v| contains(v, pattern)))
        .map(|(i, _)| i as u32)
        .collect()
}

/// The same filter over a batch in flat form, read in place: the baseline when the input is
/// already flat (as the guest reads it).
fn native_flat_filter(batch: &Batch, pattern: &[u8]) -> Vec<u32> {
    (0..flat::record_count(batch))
        .filter(|&i| flat::value(batch, i).is_some_and(|v| contains(v, pattern)))
        .map(|i| i as u32)
        .collect()
}

/// The filter as the first measured baseline wrote it: a plain `windows().any(==)` search, so the
/// figures can be set against that earlier measurement too.
fn native_naive_filter(input: &[Record], pattern: &[u8]) -> Vec<u32> {
    input
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.value
                .as_deref()
                .is_some_and(|v| v.windows(pattern.len()).any(|w| w == pattern))
        })
        .map(|(i, _)| i as u32)
        .collect()
}

/// Records per second of `f` over `input` (`len` records), run for about `seconds`.
fn throughput<I: ?Sized>(
    input: &I,
    len: usize,
    seconds: f64,
    mut f: impl FnMut(&I) -> anyhow::Result<usize>,
) -> anyhow::Result<f64> {
    let mut expected = None;
    // Warm up, and check every run answers the same.
    for _ in 0..3 {
        let n = f(input)?;
        anyhow::ensure!(*expected.get_or_insert(n) == n, "inconsistent output sizes");
    }
    let start = Instant::now();
    let mut done = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        for _ in 0..16 {
            std::hint::black_box(f(input)?);
            done += len as u64;
        }
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

/// Rounds in a paired measurement.
const ROUNDS: usize = 9;

/// The median of `values` (not empty).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A guest's rate and its ratio to the native filter over the same input, measured in
/// alternation: [`ROUNDS`] short rounds of each, the median rate and the median of the
/// per-round ratios. On a shared machine, load that comes and goes then weighs on both sides
/// of a round alike.
fn paired<I: ?Sized>(
    input: &I,
    len: usize,
    seconds: f64,
    mut native: impl FnMut(&I) -> anyhow::Result<usize>,
    mut guest: impl FnMut(&I) -> anyhow::Result<usize>,
) -> anyhow::Result<(f64, f64)> {
    let round = seconds / ROUNDS as f64;
    let (mut rates, mut ratios) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let base = throughput(input, len, round, &mut native)?;
        let rate = throughput(input, len, round, &mut guest)?;
        rates.push(rate);
        ratios.push(rate / base);
    }
    Ok((median(rates), median(ratios)))
}

fn mean(samples: &[Duration]) -> Duration {
    samples.iter().sum::<Duration>() / samples.len().max(1) as u32
}

/// A guest's results: what it is, then (rate, ×native) per batch size from flat input and
/// from records.
type Row = (&'static str, Vec<(f64, f64)>, Vec<(f64, f64)>);

/// Runs `weir bench wasm` and prints Markdown tables.
pub fn run_wasm_bench(opts: &WasmBenchOptions) -> anyhow::Result<()> {
    let found: Vec<_> = GUESTS
        .iter()
        .map(|(stem, what)| (*stem, *what, opts.guests.join(format!("{stem}.wasm"))))
        .filter(|(_, _, p)| p.exists())
        .filter(|(stem, _, _)| opts.only.is_empty() || opts.only.iter().any(|o| o == stem))
        .collect();
    anyhow::ensure!(
        !found.is_empty(),
        "no guests in {}: run scripts/build-guests first",
        opts.guests.display()
    );
    let cache = tempfile::tempdir().context("creating a cache directory")?;
    let runtime = Runtime::new(RuntimeConfig::with_cache(cache.path()))?;
    let mut timings = Vec::new();
    let mut rows: Vec<Row> = Vec::new();
    let batches = &opts.batches;
    anyhow::ensure!(
        batches.iter().all(|&n| n > 0),
        "batch sizes must be at least 1"
    );
    let pattern = PATTERN.as_bytes();
    let native: Vec<f64> = batches
        .iter()
        .map(|&n| {
            throughput(records(n).as_slice(), n, opts.seconds, |b| {
                Ok(native_filter(b, pattern).len())
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let native_flat: Vec<f64> = batches
        .iter()
        .map(|&n| {
            let batch = FlatEncoder::default()
                .encode(&records(n))
                .map_err(anyhow::Error::msg)?
                .batch()
                .clone();
            throughput(&batch, n, opts.seconds, |b| {
                Ok(native_flat_filter(b, pattern).len())
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let naive: Vec<f64> = batches
        .iter()
        .map(|&n| {
            throughput(records(n).as_slice(), n, opts.seconds, |b| {
                Ok(native_naive_filter(b, pattern).len())
            })
        })
        .collect::<anyhow::Result<_>>()?;
    for (stem, what, path) in &found {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let t = Instant::now();
        let plugin = runtime.load(stem, &bytes)?;
        let compile = t.elapsed();
        // A restart: a new runtime on the same cache directory loads without compiling.
        let restarted = Runtime::new(RuntimeConfig::with_cache(cache.path()))?;
        let t = Instant::now();
        restarted.load(stem, &bytes)?;
        let cached = t.elapsed();
        anyhow::ensure!(restarted.compilations() == 0, "cached load recompiled");
        let config = || InstanceConfig {
            config: [("pattern".to_owned(), PATTERN.to_owned())].into(),
            ..InstanceConfig::default()
        };
        let mut inst_times = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            let inst = Instance::new(plugin.clone(), config())?;
            inst_times.push(t.elapsed());
            drop(inst);
        }
        let mut instance = Instance::new(plugin.clone(), config())?;
        let (mut from_flat, mut from_records) = (Vec::new(), Vec::new());
        for &n in batches {
            let input = records(n);
            let mut encoder = FlatEncoder::default();
            let flat_input: CheckedBatch =
                encoder.encode(&input).map_err(anyhow::Error::msg)?.clone();
            let origin = Origin {
                topic: "bench".into(),
                partition: 0,
                offsets: (0..n as i64).collect(),
            };
            from_flat.push(paired(
                &flat_input,
                n,
                opts.seconds,
                |b| Ok(native_flat_filter(b.batch(), pattern).len()),
                |b| Ok(instance.process_flat(&origin, b)?.records.len()),
            )?);
            from_records.push(paired(
                input.as_slice(),
                n,
                opts.seconds,
                |b| Ok(native_filter(b, pattern).len()),
                |b| Ok(instance.process(&origin, b)?.records.len()),
            )?);
        }
        timings.push((*what, bytes.len(), compile, cached, mean(&inst_times)));
        rows.push((*what, from_flat, from_records));
    }
    let header = || {
        print!("| guest |");
        for n in batches {
            print!(" batch {n} rec/s | ×native |");
        }
        println!();
        println!("|---|{}", "---|---|".repeat(batches.len()));
    };
    // A native row: its rates, each against `base` (itself for the baseline rows).
    let native_row = |what: &str, rates: &[f64], base: &[f64]| {
        print!("| {what} |");
        for (rate, base) in rates.iter().zip(base) {
            print!(" {:.2} M | {:.3}× |", rate / 1e6, rate / base);
        }
        println!();
    };
    let print_rows = |pick: &dyn Fn(&Row) -> &Vec<(f64, f64)>| {
        for row in &rows {
            print!("| {} |", row.0);
            for (rate, ratio) in pick(row) {
                print!(" {:.3} M | {ratio:.3}× |", rate / 1e6);
            }
            println!();
        }
    };
    println!(
        "Records already in flat form in host memory (the engine: the native filter reads the"
    );
    println!("batch in place; the guest gets it copied into its memory, runs, answers):");
    println!();
    header();
    native_row(
        "native Rust, same algorithm with SSE2, reading the flat batch",
        &native_flat,
        &native_flat,
    );
    print_rows(&|r| &r.1);
    println!();
    println!(
        "From `Record` structs (the host first writes each batch into flat form, as a pipeline"
    );
    println!("does today; the native filter reads the structs):");
    println!();
    header();
    native_row("native Rust, same algorithm with SSE2", &native, &native);
    native_row(
        "native Rust, naive search (the first baseline)",
        &naive,
        &native,
    );
    print_rows(&|r| &r.2);
    println!();
    println!(
        "×native: the median over {ROUNDS} rounds of the guest and the native filter on the same input, measured in alternation."
    );
    println!();
    println!("| guest | size | compile | cached load | instantiate |");
    println!("|---|---|---|---|---|");
    for (what, size, compile, cached, inst) in timings {
        println!(
            "| {what} | {:.0} KB | {:.1} ms | {:.2} ms | {:.1} µs |",
            size as f64 / 1024.0,
            compile.as_secs_f64() * 1e3,
            cached.as_secs_f64() * 1e3,
            inst.as_secs_f64() * 1e6
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_native_simd_search_agrees_with_the_portable_one() {
        // xorshift: deterministic haystacks over a small alphabet so matches are common.
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..5000 {
            let len = (next() % 120) as usize;
            let hay: Vec<u8> = (0..len).map(|_| b"abc"[(next() % 3) as usize]).collect();
            let nlen = 1 + (next() % 5) as usize;
            let needle: Vec<u8> = (0..nlen).map(|_| b"abc"[(next() % 3) as usize]).collect();
            assert_eq!(
                contains(&hay, &needle),
                contains_portable(&hay, &needle),
                "{hay:?} / {needle:?}"
            );
        }
        assert!(contains(&[b'x'; 64], b""));
    }
}
