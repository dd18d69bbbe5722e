//! Mutations of valid inputs: what corrupt clients, torn writes and hostile peers send.
//!
//! Structure-aware where it is cheap: length and count fields are 2, 4 or 8 big-endian bytes
//! (or varints) in every format fuzzed here, so writing an extreme value over an aligned
//! window hits them often; repeated sections and inserted tagged fields exercise the
//! decoders' loops and the flexible versions' tag handling.

use crate::driver::Rng;

/// Values a length or count field set "to an extreme" takes.
const EXTREMES_32: [i32; 8] = [0, -1, 1, i32::MAX, i32::MIN, 0x7fff, 0x10000, 0x3fff_ffff];
const EXTREMES_16: [i16; 5] = [0, -1, 1, i16::MAX, i16::MIN];
const EXTREMES_64: [i64; 5] = [0, -1, 1, i64::MAX, i64::MIN];

/// One to four stacked mutations of `seed`; sometimes pure random bytes instead.
pub fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    if rng.chance(1, 20) {
        let len = rng.below(256);
        return rng.bytes(len);
    }
    let mut out = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        mutate_once(rng, &mut out);
    }
    out
}

/// One mutation in place.
pub fn mutate_once(rng: &mut Rng, buf: &mut Vec<u8>) {
    let len = buf.len();
    match rng.below(10) {
        // A few flipped bits.
        0 if len > 0 => {
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(len);
                buf[at] ^= 1 << rng.below(8);
            }
        }
        // A byte set to a random or boundary value.
        1 if len > 0 => {
            let at = rng.below(len);
            let random = rng.next() as u8;
            buf[at] = *rng.pick(&[0, 1, 0x7f, 0x80, 0xff, random]);
        }
        // Truncation.
        2 if len > 0 => buf.truncate(rng.below(len)),
        // A 4-byte field set to an extreme.
        3 if len >= 4 => {
            let at = rng.below(len - 3);
            let v = *rng.pick(&EXTREMES_32);
            buf[at..at + 4].copy_from_slice(&v.to_be_bytes());
        }
        // A 2-byte field set to an extreme.
        4 if len >= 2 => {
            let at = rng.below(len - 1);
            let v = *rng.pick(&EXTREMES_16);
            buf[at..at + 2].copy_from_slice(&v.to_be_bytes());
        }
        // An 8-byte field set to an extreme.
        5 if len >= 8 => {
            let at = rng.below(len - 7);
            let v = *rng.pick(&EXTREMES_64);
            buf[at..at + 8].copy_from_slice(&v.to_be_bytes());
        }
        // A section repeated.
        6 if len > 0 => {
            let start = rng.below(len);
            let end = (start + 1 + rng.below(64)).min(len);
            let section = buf[start..end].to_vec();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(buf.len() + 1);
                buf.splice(at..at, section.iter().copied());
            }
        }
        // A section removed.
        7 if len > 0 => {
            let start = rng.below(len);
            let end = (start + 1 + rng.below(32)).min(len);
            buf.drain(start..end);
        }
        // A tagged-field block inserted: count, then (tag, size, data) as unsigned varints.
        8 => {
            let at = rng.below(len + 1);
            let mut tags = Vec::new();
            let count = 1 + rng.below(3);
            tags.push(count as u8);
            for _ in 0..count {
                tags.push(rng.below(128) as u8);
                let size = rng.below(8);
                // Sometimes a size far past the end.
                if rng.chance(1, 4) {
                    tags.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x07]);
                } else {
                    tags.push(size as u8);
                }
                tags.extend(rng.bytes(size));
            }
            buf.splice(at..at, tags);
        }
        // Random bytes inserted, or a varint of extreme value.
        _ => {
            let at = rng.below(len + 1);
            let insert = if rng.chance(1, 2) {
                vec![0xff, 0xff, 0xff, 0xff, 0x0f]
            } else {
                let n = 1 + rng.below(16);
                rng.bytes(n)
            };
            buf.splice(at..at, insert);
        }
    }
}
