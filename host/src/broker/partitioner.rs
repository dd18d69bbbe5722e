//! Kafka default partitioner.
//!
//! Keyed records must land on the partition the Java client would pick, or the same key would
//! be split across partitions depending on which client produced it. Hence a bit-exact port of
//! `org.apache.kafka.common.utils.Utils.murmur2` and `toPositive`.

use std::sync::atomic::{AtomicU32, Ordering};

/// Kafka's 32-bit murmur2 hash, bit for bit as the Java client computes it.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    // Java's int arithmetic is two's complement and wraps, so u32 with wrapping ops gives the
    // same bits, and `>>` on u32 is Java's unsigned `>>>`. Java mixes in the int length.
    let mut h = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    // Java's tail `switch` falls through from case 3 to 2 to 1; spelled out per length here.
    match *chunks.remainder() {
        [a, b, c] => {
            h ^= u32::from(c) << 16;
            h ^= u32::from(b) << 8;
            h ^= u32::from(a);
            h = h.wrapping_mul(M);
        }
        [a, b] => {
            h ^= u32::from(b) << 8;
            h ^= u32::from(a);
            h = h.wrapping_mul(M);
        }
        [a] => {
            h ^= u32::from(a);
            h = h.wrapping_mul(M);
        }
        _ => {}
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Clears the sign bit, as Kafka does instead of `abs` (which overflows on `i32::MIN`).
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition the Java client's default partitioner picks for `key`.
/// `partitions` must be non-zero; 0 gives partition 0 rather than a panic.
pub fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    (to_positive(murmur2(key)) as u32)
        .checked_rem(partitions)
        .unwrap_or(0)
}

/// Spreads records without a key over partitions in turn.
#[derive(Debug, Default)]
pub struct KeylessSpreader {
    counter: AtomicU32,
}

impl KeylessSpreader {
    /// A spreader whose first pick is partition 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next partition in round-robin order; `partitions` 0 gives 0 rather than a panic.
    pub fn next(&self, partitions: u32) -> u32 {
        // Relaxed is enough: only the spread matters, not ordering with other memory.
        self.counter
            .fetch_add(1, Ordering::Relaxed)
            .checked_rem(partitions)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafka_utils_test() {
        // UtilsTest.testMurmur2 in apache/kafka.
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107), // `new byte[] {'a', 'b', 'c'}` in the Java test
        ];
        for (input, expected) in cases {
            assert_eq!(
                murmur2(input),
                expected,
                "murmur2({})",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn murmur2_covers_every_tail_length() {
        // Inputs of length 0..=8 exercise each remainder with and without full chunks; the
        // hashes must all differ, and each must be stable.
        let data = b"abcdefgh";
        let hashes: Vec<i32> = (0..=data.len()).map(|n| murmur2(&data[..n])).collect();
        for (i, a) in hashes.iter().enumerate() {
            for b in &hashes[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(murmur2(b""), murmur2(&[]));
    }

    #[test]
    fn to_positive_clears_only_the_sign_bit() {
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(to_positive(-973_932_308), 1_173_551_340);
        assert_eq!(to_positive(42), 42);
    }

    #[test]
    fn partition_for_key_follows_kafka() {
        // (-790332482 & 0x7fffffff) = 1357151166, which is 16 mod 50 and 6 mod 10.
        assert_eq!(partition_for_key(b"foobar", 50), 16);
        assert_eq!(partition_for_key(b"foobar", 10), 6);
        // 1173551340 mod 7 = 3.
        assert_eq!(partition_for_key(b"21", 7), 3);
        assert_eq!(partition_for_key(b"21", 1), 0);
        assert_eq!(partition_for_key(b"21", 0), 0);
        for partitions in 1..64 {
            assert!(partition_for_key(b"some key", partitions) < partitions);
        }
    }

    #[test]
    fn keyless_spreader_round_robins() {
        let spreader = KeylessSpreader::new();
        let picks: Vec<u32> = (0..7).map(|_| spreader.next(3)).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(spreader.next(0), 0);
        assert!(spreader.next(5) < 5);
    }
}
