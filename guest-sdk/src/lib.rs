//! Write weir plugins in Rust: an attribute macro over a plain function.
//!
//! ```text
//! use weir_guest::prelude::*;
//!
//! /// Keeps records whose value contains the configured `pattern`.
//! #[filter]
//! fn keep(record: &Record, config: &Config) -> Result<bool> {
//!     let pattern = config.require("pattern")?;
//!     Ok(record.value().is_some_and(|v| contains(v, pattern.as_bytes())))
//! }
//! ```
//!
//! - [`filter`], [`map`], [`flat_map`]: stateless transforms (the `transform` world).
//! - [`processor`] (feature `processor`): stateful processing with [`State`] and routing.
//! - [`Record`] is a zero-copy view of an input record; [`OwnedRecord`] is a record to emit.
//! - [`Config`]: typed access to the plugin's configuration; [`info!`] and friends log to the host.
//!
//! Build a plugin crate (`crate-type = ["cdylib"]`) with `cargo build --target wasm32-wasip2 --release`.
#![deny(missing_docs)]

mod answer;
mod bindings;
mod config;
mod error;
#[doc(hidden)]
pub mod log;
#[cfg(feature = "processor")]
mod processor;
mod record;
mod run;

pub use answer::{FilterAnswer, FlatMapAnswer, MapAnswer, ProcessAnswer};
pub use config::Config;
pub use error::{Error, Result};
#[cfg(feature = "processor")]
pub use processor::{Context, Entries, State, StateValue, TimerContext};
pub use record::{OwnedRecord, Record};
pub use weir_guest_macros::{filter, flat_map, map, processor};

/// Whether `haystack` contains `needle` (an empty needle is always found).
///
/// In Wasm this compares 16 positions at a time with SIMD (the first and last
/// byte of the needle against two loads), which Cranelift compiles to SSE/NEON;
/// elsewhere it is the portable loop, which native compilers vectorise themselves.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        // Wasm has no runtime feature detection to get wrong: an engine without
        // SIMD refuses the whole module at load time (wasmtime enables it).
        simd::contains(haystack, needle)
    }
    #[cfg(not(target_arch = "wasm32"))]
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
    // Test the first byte in a plain loop and compare the rest only where it matches: a slice
    // comparison is a call to memcmp, which costs far more in Wasm than one byte test.
    haystack[..=last]
        .iter()
        .enumerate()
        .any(|(i, &b)| b == first && haystack.get(i + 1..i + needle.len()) == Some(rest))
}

#[cfg(target_arch = "wasm32")]
mod simd {
    use core::arch::wasm32::{u8x16_bitmask, u8x16_eq, u8x16_splat, v128, v128_and, v128_load};

    /// 16 candidate positions per step: a position matches when both the needle's first
    /// and last bytes do; only those are compared in full.
    #[target_feature(enable = "simd128")]
    pub(super) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        let n = needle.len();
        if n < 2 || haystack.len() < n + 15 {
            return super::contains_portable(haystack, needle);
        }
        let first = u8x16_splat(needle[0]);
        let last = u8x16_splat(needle[n - 1]);
        let middle = &needle[1..n - 1];
        let mut i = 0;
        // Each step reads haystack[i..i + 16] and haystack[i + n - 1..i + n + 15].
        while i + n + 15 <= haystack.len() {
            // SAFETY: both 16-byte loads lie inside `haystack` (loop condition);
            // v128_load has no alignment requirement.
            let (a, b) = unsafe {
                (
                    v128_load(haystack.as_ptr().add(i).cast::<v128>()),
                    v128_load(haystack.as_ptr().add(i + n - 1).cast::<v128>()),
                )
            };
            let mut mask = u8x16_bitmask(v128_and(u8x16_eq(a, first), u8x16_eq(b, last)));
            while mask != 0 {
                let at = i + mask.trailing_zeros() as usize;
                if haystack.get(at + 1..at + n - 1) == Some(middle) {
                    return true;
                }
                mask &= mask - 1;
            }
            i += 16;
        }
        super::contains_portable(&haystack[i..], needle)
    }
}

/// Everything a plugin usually needs.
pub mod prelude {
    pub use crate::{Config, Error, OwnedRecord, Record, Result, contains};
    #[cfg(feature = "processor")]
    pub use crate::{Context, State, StateValue, TimerContext};
    pub use crate::{filter, flat_map, map, processor};
}

/// Used by the macros' expansions; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::weir::plugin::types::{Batch, Origin};
    pub use crate::run::{Answer, run_filter, run_flat_map, run_map};

    /// The generated bindings, where the export macro looks for them.
    pub mod bindings {
        pub use crate::bindings::*;
    }

    #[cfg(not(feature = "processor"))]
    pub use crate::bindings::exports::weir::plugin::transformer::{
        Guest as TransformGuest, TransformError, TransformOutput,
    };
    #[cfg(not(feature = "processor"))]
    pub use crate::run::transform_result;

    #[cfg(feature = "processor")]
    pub use crate::bindings::exports::weir::plugin::processing::{
        Guest as ProcessorGuest, ProcessorError, ProcessorOutput, Settings, TimerOutput,
    };
    #[cfg(feature = "processor")]
    pub use crate::processor::{run_processor, run_timer};

    /// A batch with no records (a timer with nothing to say).
    pub fn empty_batch() -> Batch {
        crate::record::empty_batch()
    }
}

#[cfg(test)]
mod tests {
    use super::contains;

    #[test]
    fn contains_finds_needles_anywhere_and_only_whole() {
        assert!(contains(b"an error here", b"error"));
        assert!(contains(b"error", b"error"));
        assert!(contains(b"xxerror", b"error"));
        assert!(
            contains(b"eerror", b"error"),
            "a false start before the match"
        );
        assert!(!contains(b"erro", b"error"), "shorter than the needle");
        assert!(!contains(b"e r r o r", b"error"));
        assert!(!contains(b"", b"e"));
        assert!(contains(b"", b""), "an empty needle is always found");
        assert!(contains(b"e", b"e"));
    }
}
