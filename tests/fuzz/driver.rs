//! The fuzz driver: seeds, case counts, running a property over generated inputs and
//! reporting a failure so that it replays.
//!
//! Every target draws its inputs from an [`Rng`] seeded per case from one base seed, so a CI
//! failure names the base seed, the case and the input (hex), and
//! `WEIR_FUZZ_SEED=<seed> cargo test -p weir --test fuzz <target>` replays the same run.
//! `WEIR_FUZZ_CASES=<n>` runs n cases per target instead of each target's CI default (longer
//! campaigns locally); `WEIR_FUZZ_INPUT=<hex>` runs just that input (a failure's dump) through
//! the targets' properties.
//!
//! A small driver of our own rather than proptest or arbitrary: the inputs are byte strings
//! made from valid encodings by the mutations in [`crate::mutate`], which neither crate
//! provides, and shrinking a Kafka frame or a compressed batch rarely yields a smaller
//! input that still fails the same way; a fixed seed and a hex dump serve the replay.

use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The base seed CI runs with, so that a red run replays; `WEIR_FUZZ_SEED` picks another.
pub const DEFAULT_SEED: u64 = 0x5745_4952_4655_5a5a; // "WEIRFUZZ"

/// The base seed: `WEIR_FUZZ_SEED` (decimal or 0x-hex), else [`DEFAULT_SEED`].
pub fn base_seed() -> u64 {
    match std::env::var("WEIR_FUZZ_SEED") {
        Ok(s) => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse(),
            };
            parsed.unwrap_or_else(|e| panic!("WEIR_FUZZ_SEED={s:?} is not a number: {e}"))
        }
        Err(_) => DEFAULT_SEED,
    }
}

/// Cases per target: `WEIR_FUZZ_CASES`, else the target's CI default.
pub fn cases(default: usize) -> usize {
    match std::env::var("WEIR_FUZZ_CASES") {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("WEIR_FUZZ_CASES={s:?} is not a count: {e}")),
        Err(_) => default,
    }
}

/// xorshift64*: tiny, deterministic on every platform and Rust version, so a seed
/// printed by CI replays anywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for one case; the seed is scrambled so that neighbouring seeds diverge.
    pub fn new(seed: u64) -> Rng {
        Rng(splitmix(seed) | 1)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// splitmix64's finaliser: the seed of case `i` is `splitmix(base ^ i)`.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `bytes` as lowercase hex, for failure reports and regression cases.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Hex (as [`hex`] writes it, whitespace ignored) back to bytes.
pub fn unhex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).expect("ascii hex");
            u8::from_str_radix(s, 16).unwrap_or_else(|e| panic!("bad hex {s:?}: {e}"))
        })
        .collect()
}

/// What running a property over many cases found.
#[derive(Debug, Default)]
pub struct Summary {
    /// Cases run.
    pub cases: usize,
    /// Cases whose property returned an error outcome the target counts (e.g. refused inputs).
    pub refused: usize,
}

impl Summary {
    /// Fails unless a run of some size both accepted and refused inputs: a run where every
    /// input is refused never reaches past the first check, one where none is tests nothing
    /// bad, and either way the fuzzing is shallow.
    pub fn assert_both_ways(&self, target: &str) {
        if self.cases >= 100 {
            assert!(self.refused > 0, "{target}: no input was refused: {self:?}");
            assert!(
                self.refused < self.cases,
                "{target}: every input was refused: {self:?}"
            );
        }
    }
}

/// Runs `property` on `cases` inputs made by `generate`, each from its own seed derived from
/// the base seed; the first case whose property fails or panics fails the test with the
/// target, seeds and the input in hex. `property` returns `Ok(true)` for an input it accepted,
/// `Ok(false)` for one refused with a proper error, `Err` for a broken property.
pub fn run(
    target: &str,
    default_cases: usize,
    mut generate: impl FnMut(&mut Rng) -> Vec<u8>,
    mut property: impl FnMut(&[u8]) -> Result<bool, String>,
) -> Summary {
    let base = base_seed();
    let n = cases(default_cases);
    let mut summary = Summary::default();
    if let Ok(text) = std::env::var("WEIR_FUZZ_INPUT") {
        let input = unhex(&text);
        replay(target, &[&input], property);
        summary.cases = 1;
        return summary;
    }
    for case in 0..n {
        let seed = splitmix(base ^ case as u64);
        let mut rng = Rng::new(seed);
        let input = generate(&mut rng);
        match catch_unwind(AssertUnwindSafe(|| property(&input))) {
            Ok(Ok(accepted)) => summary.refused += usize::from(!accepted),
            Ok(Err(why)) => fail(target, base, case, &input, &why),
            Err(panic) => fail(target, base, case, &input, &panic_text(&panic)),
        }
        summary.cases += 1;
    }
    eprintln!(
        "fuzz {target}: {} cases from seed {base:#x}, {} refused",
        summary.cases, summary.refused
    );
    summary
}

/// Runs `property` on fixed inputs (the regression cases that once failed).
pub fn replay(
    target: &str,
    inputs: &[&[u8]],
    mut property: impl FnMut(&[u8]) -> Result<bool, String>,
) {
    for (i, input) in inputs.iter().enumerate() {
        match catch_unwind(AssertUnwindSafe(|| property(input))) {
            Ok(Ok(_)) => {}
            Ok(Err(why)) => panic!(
                "{target}: regression case {i} failed: {why}\ninput: {}",
                hex(input)
            ),
            Err(p) => panic!(
                "{target}: regression case {i} panicked: {}\ninput: {}",
                panic_text(&p),
                hex(input)
            ),
        }
    }
}

fn fail(target: &str, base: u64, case: usize, input: &[u8], why: &str) -> ! {
    panic!(
        "fuzz {target} failed on case {case} (base seed {base:#x}; replay with \
         WEIR_FUZZ_SEED={base:#x}): {why}\ninput ({} bytes): {}",
        input.len(),
        hex(input)
    )
}

/// The message of a caught panic.
pub fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = panic.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked".to_string()
    }
}

/// Resident set size of this process, bytes (0 where /proc is missing).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}
