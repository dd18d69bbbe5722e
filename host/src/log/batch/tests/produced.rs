//! Tests of produce's check: the allocation-free walk and its bounds.

use super::*;
use crate::log::varint::put_varint;

const LIMITS: DecodeLimits = DecodeLimits {
    max_decoded_bytes: 1 << 20,
    max_records: 100,
    max_headers_per_record: 10,
};

/// A gzip batch of one keyless, valueless record with `headers` empty headers
/// (two bytes each): kilobytes on the wire for megabytes inflated.
fn header_bomb(headers: i32) -> Vec<u8> {
    let mut body = vec![0u8, 0, 0]; // attributes, timestamp delta 0, offset delta 0
    put_varint(&mut body, -1); // key
    put_varint(&mut body, -1); // value
    put_varint(&mut body, headers);
    for _ in 0..headers {
        body.extend_from_slice(&[0, 1]); // empty key, null value
    }
    let mut section = Vec::new();
    put_varint(&mut section, body.len() as i32);
    section.extend_from_slice(&body);
    // Best compression, as an attacker would: 16 MB of headers in about 16 KB.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &section).unwrap();
    with_packed(1, Compression::Gzip, &gz.finish().unwrap())
}

/// A batch of `count` records (deltas 0..count-1 under a matching header) whose
/// records section is `section`, compressed with `codec`.
fn with_section(count: i32, codec: Compression, section: &[u8]) -> Vec<u8> {
    with_packed(
        count,
        codec,
        &crate::log::compression::compress(codec, section).unwrap(),
    )
}

/// As [`with_section`], the section already compressed.
fn with_packed(count: i32, codec: Compression, packed: &[u8]) -> Vec<u8> {
    let mut b = encode_batch(&[rec(Some(b"k"), Some(b"v"), 1)], 0).unwrap();
    b.truncate(BATCH_HEADER_LEN);
    b.extend_from_slice(packed);
    let len = (b.len() - LOG_OVERHEAD) as i32;
    b[BATCH_LENGTH_AT..BATCH_LENGTH_AT + 4].copy_from_slice(&len.to_be_bytes());
    let codes = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];
    let code = codes.iter().position(|c| *c == codec).unwrap() as i16;
    b[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&code.to_be_bytes());
    b[LAST_OFFSET_DELTA_AT..LAST_OFFSET_DELTA_AT + 4].copy_from_slice(&(count - 1).to_be_bytes());
    b[RECORD_COUNT_AT..RECORD_COUNT_AT + 4].copy_from_slice(&count.to_be_bytes());
    write_crc(&mut b);
    b
}

#[test]
fn a_fine_batch_passes_and_its_first_keyless_record_is_named() {
    let records = [
        rec(Some(b"a"), Some(b"1"), 1),
        rec(None, Some(b"2"), 2),
        rec(None, None, 3),
    ];
    for codec in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let plain = encode_batch(&records, 0).unwrap();
        let batch = with_section(3, codec, &plain[BATCH_HEADER_LEN..]);
        let checked = check_produced(&batch, &LIMITS).unwrap();
        assert_eq!(checked.first_keyless, Some(1), "{codec}");
        assert_eq!(checked.header.record_count, 3);
    }
    let keyed = encode_batch(&records[..1], 0).unwrap();
    assert_eq!(check_produced(&keyed, &LIMITS).unwrap().first_keyless, None);
}

#[test]
fn too_many_headers_stop_the_walk_at_the_record_that_has_them() {
    assert!(check_produced(&header_bomb(10), &LIMITS).is_ok());
    assert_eq!(
        check_produced(&header_bomb(11), &LIMITS),
        Err(BatchError::TooManyHeaders {
            index: 0,
            count: 11,
            max: 10
        })
    );
    // The attack itself: 8 M headers in about 16 KB of gzip.
    let bomb = header_bomb(8 << 20);
    assert!(bomb.len() < 20 << 10, "{}", bomb.len());
    let limits = DecodeLimits {
        max_decoded_bytes: 32 << 20,
        ..LIMITS
    };
    assert!(matches!(
        check_produced(&bomb, &limits),
        Err(BatchError::TooManyHeaders { .. })
    ));
    // Readers of a stored batch have their own, wider, bounds; decoding there
    // allocates only what the headers really are.
    assert_eq!(
        decode_records(&header_bomb(1000)).unwrap()[0].headers.len(),
        1000
    );
}

#[test]
fn inflating_past_the_bound_is_refused_while_inflating() {
    let bomb = header_bomb(8 << 20);
    let limits = DecodeLimits {
        max_decoded_bytes: 1 << 20,
        max_headers_per_record: usize::MAX,
        ..LIMITS
    };
    assert_eq!(
        check_produced(&bomb, &limits),
        Err(BatchError::DecodedTooLarge {
            codec: Compression::Gzip,
            max: 1 << 20
        })
    );
}

#[test]
fn record_count_is_bounded_before_any_record_is_parsed() {
    let records: Vec<Record> = (0..101).map(|i| rec(None, None, i)).collect();
    let batch = encode_batch(&records, 0).unwrap();
    assert_eq!(
        check_produced(&batch, &LIMITS),
        Err(BatchError::TooManyRecords {
            count: 101,
            max: 100
        })
    );
    assert!(check_produced(&batch, &DecodeLimits::READER).is_ok());
}

#[test]
fn producers_records_must_be_numbered_densely_and_be_there() {
    let records = [rec(None, Some(b"a"), 1), rec(None, Some(b"b"), 2)];
    let plain = encode_batch(&records, 0).unwrap();
    // The same two records claimed to be three: the section cannot hold them.
    let three = with_section(3, Compression::Gzip, &plain[BATCH_HEADER_LEN..]);
    assert!(matches!(
        check_produced(&three, &LIMITS),
        Err(BatchError::CountExceedsSection { count: 3, .. })
    ));
    // Second record's offset delta rewritten 1 -> 0 (zig-zag 2 -> 0).
    let mut section = plain[BATCH_HEADER_LEN..].to_vec();
    let second = 1 + usize::from(section[0] / 2);
    assert_eq!(section[second + 3], 2);
    section[second + 3] = 0;
    let dup = with_section(2, Compression::Lz4, &section);
    assert_eq!(
        check_produced(&dup, &LIMITS),
        Err(BatchError::OffsetDeltaOutOfOrder { index: 1, delta: 0 })
    );
    let mut empty = encode_batch(&records[..1], 0).unwrap();
    empty.truncate(BATCH_HEADER_LEN);
    let len = (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32;
    empty[BATCH_LENGTH_AT..BATCH_LENGTH_AT + 4].copy_from_slice(&len.to_be_bytes());
    empty[RECORD_COUNT_AT..RECORD_COUNT_AT + 4].copy_from_slice(&0i32.to_be_bytes());
    write_crc(&mut empty);
    assert_eq!(check_produced(&empty, &LIMITS), Err(BatchError::NoRecords));
}
