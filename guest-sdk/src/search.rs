//! Byte search and comparison tuned for Wasm, where a call to `memcmp` (a byte loop in a
//! function of its own) costs more than the short comparisons a filter makes.

/// Whether `a` and `b` hold the same bytes, compared as whole words without calling `memcmp`
/// (the last word overlapping the one before, so no byte loop is needed from four bytes on).
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let len = a.len();
    if len != b.len() {
        return false;
    }
    match len {
        0..4 => a.iter().zip(b).all(|(x, y)| x == y),
        4..8 => {
            word::<4>(a, 0) == word::<4>(b, 0) && word::<4>(a, len - 4) == word::<4>(b, len - 4)
        }
        _ => {
            (0..len / 8).all(|i| word::<8>(a, i * 8) == word::<8>(b, i * 8))
                && word::<8>(a, len - 8) == word::<8>(b, len - 8)
        }
    }
}

/// `N` (4 or 8) bytes of `bytes` from `at` as one number; `at + N` is within `bytes`.
#[inline(always)]
fn word<const N: usize>(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w[..N].copy_from_slice(&bytes[at..at + N]);
    u64::from_le_bytes(w)
}

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
    // Test the first byte in a plain loop and compare the rest only where it matches.
    haystack[..=last].iter().enumerate().any(|(i, &b)| {
        b == first
            && haystack
                .get(i + 1..i + needle.len())
                .is_some_and(|h| same_bytes(h, rest))
    })
}

#[cfg(target_arch = "wasm32")]
mod simd {
    use core::arch::wasm32::{u8x16_bitmask, u8x16_eq, u8x16_splat, v128, v128_and, v128_load};

    /// Candidate positions are found 16 at a time: a position is a candidate when both the
    /// needle's first and last bytes match there; only candidates are compared in full.
    ///
    /// The vector work is a function with no loop in it, called from a loop with no vectors
    /// in it. Why: wasmtime puts an epoch check (whose slow path is a call, which clobbers
    /// every vector register) on each loop back-edge, so a vector loop made Cranelift keep the
    /// splatted needle bytes on the stack and reload them on every step (measured: half the
    /// speed of this form).
    pub(super) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        let n = needle.len();
        if n < 2 || haystack.len() < n + 15 {
            return super::contains_portable(haystack, needle);
        }
        // Positions 0..positions can start a match; there are at least 16. One call scans up
        // to 128 of them in straight-line code, as many blocks of 16 as are left.
        let positions = haystack.len() - n + 1;
        let gap = n - 1;
        // The needle's first and last bytes and the distance between them, in one parameter.
        let shape = u64::from(needle[0]) | u64::from(needle[gap]) << 8 | (gap as u64) << 32;
        let p = haystack.as_ptr();
        let middle = needle[1..].as_ptr();
        let mut at = 0;
        while at < positions {
            let left = positions - at;
            // Both fit in 32 bits (Wasm addresses); packed, the call keeps to registers.
            let range = at as u64 | (positions as u64) << 32;
            // SAFETY: every block `find` reads starts at or before positions - 16 and reads
            // 16 bytes there and at `gap` past it, ending by positions + gap = haystack.len();
            // `middle` points at the needle's gap - 1 middle bytes.
            let found = unsafe {
                match left.div_ceil(16) {
                    1 => find::<1>(p, range, shape, middle),
                    2 => find::<2>(p, range, shape, middle),
                    3 => find::<3>(p, range, shape, middle),
                    4 => find::<4>(p, range, shape, middle),
                    5 => find::<5>(p, range, shape, middle),
                    6 => find::<6>(p, range, shape, middle),
                    7 => find::<7>(p, range, shape, middle),
                    _ => find::<8>(p, range, shape, middle),
                }
            };
            if found {
                return true;
            }
            at += 128;
        }
        false
    }

    /// Whether a match starts in the `16 * BLOCKS` positions from `at` (fewer where `positions`
    /// ends first). `BLOCKS` is small and fixed, so the vector part compiles to straight-line
    /// code; a block that would run past the end is read from `positions - 16` instead, its
    /// positions already covered shifted out. Candidates are then compared in full here, with
    /// no vector live any more, and the answer comes back in a register (a 128-bit mask went
    /// back through memory and stalled the caller). `shape` packs the needle's first byte,
    /// last byte (bits 8..16) and their distance `gap` (bits 32..), `range` the first
    /// position `at` and, in bits 32.., `positions`: with four parameters every one travels
    /// in a register, where a fifth went through the stack and stalled each call (measured).
    ///
    /// # Safety
    /// `positions >= 16`, `at < positions`, `p[..positions + gap]` (the haystack) is readable and
    /// `middle` points at `gap - 1` readable bytes.
    #[inline(never)]
    #[target_feature(enable = "simd128")]
    unsafe fn find<const BLOCKS: usize>(
        p: *const u8,
        range: u64,
        shape: u64,
        middle: *const u8,
    ) -> bool {
        let (at, positions) = (range as u32 as usize, (range >> 32) as usize);
        let (first, last) = (u8x16_splat(shape as u8), u8x16_splat((shape >> 8) as u8));
        let gap = (shape >> 32) as usize;
        let block = |start: usize| {
            // SAFETY: start + gap + 16 <= positions + gap, inside the caller's range;
            // v128_load has no alignment requirement.
            let (a, b) = unsafe {
                (
                    v128_load(p.add(start).cast::<v128>()),
                    v128_load(p.add(start + gap).cast::<v128>()),
                )
            };
            u8x16_bitmask(v128_and(u8x16_eq(a, first), u8x16_eq(b, last)))
        };
        let mut mask = 0u128;
        // Only the last block can reach past the end (the caller asks for as many blocks as
        // there are positions left), so only it is clamped.
        for k in 0..BLOCKS - 1 {
            mask |= u128::from(block(at + 16 * k)) << (16 * k);
        }
        let wanted = at + 16 * (BLOCKS - 1);
        let start = wanted.min(positions - 16);
        mask |= u128::from(block(start) >> (wanted - start)) << (16 * (BLOCKS - 1));
        if mask == 0 {
            return false;
        }
        // SAFETY: the caller vouches for both ranges.
        let (haystack, middle) = unsafe {
            (
                core::slice::from_raw_parts(p, positions + gap),
                core::slice::from_raw_parts(middle, gap - 1),
            )
        };
        while mask != 0 {
            let start = at + mask.trailing_zeros() as usize + 1;
            if haystack
                .get(start..start + middle.len())
                .is_some_and(|h| super::same_bytes(h, middle))
            {
                return true;
            }
            mask &= mask - 1;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::{contains, same_bytes};

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

    #[test]
    fn same_bytes_compares_every_byte_and_the_length() {
        let a = b"0123456789abcdefXYZ";
        for len in 0..a.len() {
            assert!(same_bytes(&a[..len], &a[..len]));
            for at in 0..len {
                let mut b = a[..len].to_vec();
                b[at] ^= 1;
                assert!(!same_bytes(&a[..len], &b), "differs at {at} of {len}");
            }
        }
        assert!(!same_bytes(b"abc", b"abcd"));
    }
}
