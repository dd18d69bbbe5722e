//! Zig-zag varints.
//!
//! Record v2 stores lengths and deltas as Protocol Buffers style zig-zag varints so that small
//! negative numbers (a null's `-1`, a timestamp slightly earlier than the batch's first) stay one
//! byte long. Kafka's `ByteUtils.writeVarint`/`writeVarlong` define the exact bytes.

/// Appends `v` as a zig-zag varint (1 to 5 bytes).
pub fn put_varint(buf: &mut Vec<u8>, v: i32) {
    put_unsigned(buf, u64::from(zigzag32(v)));
}

/// Appends `v` as a zig-zag varlong (1 to 10 bytes).
pub fn put_varlong(buf: &mut Vec<u8>, v: i64) {
    put_unsigned(buf, zigzag64(v));
}

/// Reads a zig-zag varint at `*pos` and advances `pos` past it.
/// Returns `None`, leaving `pos` alone, if the input ends early or runs past 5 bytes / 32 bits.
pub fn get_varint(buf: &[u8], pos: &mut usize) -> Option<i32> {
    let (z, len) = get_unsigned(buf, *pos, 32)?;
    let z = u32::try_from(z).ok()?;
    *pos += len;
    // Undo the zig-zag: the low bit carries the sign.
    Some(((z >> 1) as i32) ^ -((z & 1) as i32))
}

/// Reads a zig-zag varlong at `*pos` and advances `pos` past it.
/// Returns `None`, leaving `pos` alone, if the input ends early or runs past 10 bytes / 64 bits.
pub fn get_varlong(buf: &[u8], pos: &mut usize) -> Option<i64> {
    let (z, len) = get_unsigned(buf, *pos, 64)?;
    *pos += len;
    Some(((z >> 1) as i64) ^ -((z & 1) as i64))
}

/// Number of bytes [`put_varint`] writes for `v`.
pub fn varint_len(v: i32) -> usize {
    unsigned_len(u64::from(zigzag32(v)))
}

/// Number of bytes [`put_varlong`] writes for `v`.
pub fn varlong_len(v: i64) -> usize {
    unsigned_len(zigzag64(v))
}

/// Maps signed to unsigned so that values near zero, of either sign, get short encodings.
fn zigzag32(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn put_unsigned(buf: &mut Vec<u8>, mut z: u64) {
    while z >= 0x80 {
        buf.push((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
    buf.push(z as u8);
}

fn unsigned_len(z: u64) -> usize {
    let bits = 64 - (z | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Decodes an unsigned LEB128 value of at most `bits` bits starting at `start`, returning the
/// value and the bytes it took. The last allowed byte may only carry the bits that still fit, so
/// an over-wide encoding is rejected instead of being silently truncated.
fn get_unsigned(buf: &[u8], start: usize, bits: usize) -> Option<(u64, usize)> {
    let max_len = bits.div_ceil(7);
    let last_max = (1u64 << (bits - 7 * (max_len - 1))) - 1;
    let mut z = 0u64;
    for i in 0..max_len {
        let b = *buf.get(start.checked_add(i)?)?;
        if i == max_len - 1 && u64::from(b) > last_max {
            return None;
        }
        z |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((z, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint_bytes(v: i32) -> Vec<u8> {
        let mut buf = Vec::new();
        put_varint(&mut buf, v);
        buf
    }

    fn varlong_bytes(v: i64) -> Vec<u8> {
        let mut buf = Vec::new();
        put_varlong(&mut buf, v);
        buf
    }

    #[test]
    fn known_encodings() {
        assert_eq!(varint_bytes(0), [0x00]);
        assert_eq!(varint_bytes(-1), [0x01]);
        assert_eq!(varint_bytes(1), [0x02]);
        assert_eq!(varint_bytes(-2), [0x03]);
        assert_eq!(varint_bytes(63), [0x7e]);
        assert_eq!(varint_bytes(-64), [0x7f]);
        assert_eq!(varint_bytes(64), [0x80, 0x01]);
        // 300 zig-zags to 600 = 0b100_1011000.
        assert_eq!(varint_bytes(300), [0xd8, 0x04]);
        assert_eq!(varint_bytes(i32::MAX), [0xfe, 0xff, 0xff, 0xff, 0x0f]);
        assert_eq!(varint_bytes(i32::MIN), [0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert_eq!(varlong_bytes(0), [0x00]);
        assert_eq!(varlong_bytes(-1), [0x01]);
        assert_eq!(varlong_bytes(300), [0xd8, 0x04]);
        assert_eq!(
            varlong_bytes(i64::MAX),
            [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        );
        assert_eq!(
            varlong_bytes(i64::MIN),
            [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        );
    }

    #[test]
    fn varint_round_trips_and_lengths_agree() {
        let mut values = vec![0, 1, -1, 63, -64, 64, -65, 300, -300, i32::MAX, i32::MIN];
        for shift in 0..31 {
            values.push(1 << shift);
            values.push(-(1 << shift));
            values.push((1 << shift) - 1);
        }
        for v in values {
            let buf = varint_bytes(v);
            assert_eq!(buf.len(), varint_len(v), "length of {v}");
            let mut pos = 0;
            assert_eq!(get_varint(&buf, &mut pos), Some(v));
            assert_eq!(pos, buf.len());
        }
    }

    #[test]
    fn varlong_round_trips_and_lengths_agree() {
        let mut values = vec![0, 1, -1, 300, -300, i64::MAX, i64::MIN];
        values.extend([i64::from(i32::MAX) + 1, i64::from(i32::MIN) - 1]);
        for shift in 0..63 {
            values.push(1 << shift);
            values.push(-(1 << shift));
            values.push((1 << shift) - 1);
        }
        for v in values {
            let buf = varlong_bytes(v);
            assert_eq!(buf.len(), varlong_len(v), "length of {v}");
            let mut pos = 0;
            assert_eq!(get_varlong(&buf, &mut pos), Some(v));
            assert_eq!(pos, buf.len());
        }
    }

    #[test]
    fn reads_consecutive_values_from_an_offset() {
        let mut buf = vec![0xaa];
        put_varint(&mut buf, -300);
        put_varlong(&mut buf, 1 << 40);
        put_varint(&mut buf, 7);
        let mut pos = 1;
        assert_eq!(get_varint(&buf, &mut pos), Some(-300));
        assert_eq!(get_varlong(&buf, &mut pos), Some(1 << 40));
        assert_eq!(get_varint(&buf, &mut pos), Some(7));
        assert_eq!(pos, buf.len());
        assert_eq!(get_varint(&buf, &mut pos), None);
    }

    #[test]
    fn truncated_input_is_none_and_keeps_position() {
        let full = varint_bytes(i32::MIN);
        for cut in 0..full.len() {
            let mut pos = 0;
            assert_eq!(get_varint(&full[..cut], &mut pos), None, "cut at {cut}");
            assert_eq!(pos, 0);
        }
        let full = varlong_bytes(i64::MIN);
        for cut in 0..full.len() {
            let mut pos = 0;
            assert_eq!(get_varlong(&full[..cut], &mut pos), None, "cut at {cut}");
            assert_eq!(pos, 0);
        }
        let mut pos = 5;
        assert_eq!(get_varint(&[0, 0], &mut pos), None);
        assert_eq!(get_varlong(&[0, 0], &mut pos), None);
        let mut pos = usize::MAX;
        assert_eq!(get_varint(&[0x80, 0x80], &mut pos), None);
    }

    #[test]
    fn overlong_input_is_none() {
        let mut pos = 0;
        // Six bytes: the fifth still has its continuation bit set.
        assert_eq!(
            get_varint(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00], &mut pos),
            None
        );
        // Five bytes whose last carries bits beyond 32.
        assert_eq!(get_varint(&[0xff, 0xff, 0xff, 0xff, 0x1f], &mut pos), None);
        let eleven = [
            0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
        ];
        assert_eq!(get_varlong(&eleven, &mut pos), None);
        let wide = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x03];
        assert_eq!(get_varlong(&wide, &mut pos), None);
        assert_eq!(pos, 0);
        // A non-minimal but in-range encoding is still accepted, as Kafka does.
        assert_eq!(get_varint(&[0x82, 0x00], &mut pos), Some(1));
        assert_eq!(pos, 2);
    }
}
