//! Tests of the batch codec.

use bytes::Bytes;

use super::header::*;
use super::record::*;
use super::*;

mod produced;
mod rewrite;

fn rec(key: Option<&[u8]>, value: Option<&[u8]>, timestamp: i64) -> Record {
    Record {
        key: key.map(Bytes::copy_from_slice),
        value: value.map(Bytes::copy_from_slice),
        headers: Vec::new(),
        timestamp,
    }
}

/// Deterministic xorshift64 so failures reproduce without a rand dependency.
struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn sample_records() -> Vec<Record> {
    let binary: Vec<u8> = (0..=255).collect();
    vec![
        rec(Some(b"k1"), Some(b"hello"), 1_000),
        rec(None, Some(b"null key"), 900),
        rec(Some(b"gone"), None, 5_000_000_000_000),
        rec(Some(&binary), Some(&binary[..100]), -17),
        Record {
            key: Some(Bytes::from_static(b"h")),
            value: Some(Bytes::new()),
            headers: vec![
                ("trace".to_owned(), Some(Bytes::from_static(b"abc"))),
                ("empty".to_owned(), Some(Bytes::new())),
                ("nothing".to_owned(), None),
                ("trace".to_owned(), Some(Bytes::from_static(&[0, 255]))),
                (String::new(), None),
                ("ünïcødé".to_owned(), Some(Bytes::from_static(b"x"))),
            ],
            timestamp: 1_001,
        },
    ]
}

fn assert_matches(stored: &[StoredRecord], written: &[Record], base_offset: i64) {
    assert_eq!(stored.len(), written.len());
    for (i, (s, w)) in stored.iter().zip(written).enumerate() {
        assert_eq!(s.offset, base_offset + i as i64);
        assert_eq!(s.timestamp, w.timestamp, "record {i}");
        assert_eq!(s.key, w.key, "record {i}");
        assert_eq!(s.value, w.value, "record {i}");
        assert_eq!(s.headers, w.headers, "record {i}");
    }
}

#[test]
fn encode_validate_decode_round_trip() {
    let records = sample_records();
    let batch = encode_batch(&records, 42).unwrap();
    let header = validate(&batch).unwrap();
    assert_eq!(header.base_offset, 42);
    assert_eq!(header.total_len(), batch.len());
    assert_eq!(header.magic, MAGIC_V2);
    assert_eq!(header.record_count, 5);
    assert_eq!(header.last_offset_delta, 4);
    assert_eq!(header.last_offset(), 46);
    assert_eq!(header.next_offset(), 47);
    assert_eq!(header.base_timestamp, 1_000);
    assert_eq!(header.max_timestamp, 5_000_000_000_000);
    assert_eq!(header.producer_id, -1);
    assert_eq!(header.producer_epoch, -1);
    assert_eq!(header.base_sequence, -1);
    assert_eq!(header.partition_leader_epoch, 0);
    assert_eq!(header.compression(), Ok(Compression::None));
    assert_eq!(header.timestamp_type(), TimestampType::CreateTime);
    assert!(!header.is_transactional());
    assert!(!header.is_control());
    assert_eq!(BatchHeader::parse(&batch), Ok(header));
    assert_matches(&decode_records(&batch).unwrap(), &records, 42);
}

#[test]
fn timestamp_deltas_beyond_i32_use_a_varlong() {
    let base = 1_700_000_000_000;
    let far = base + i64::from(i32::MAX) + 12_345;
    let records = vec![
        rec(Some(b"a"), Some(b"1"), base),
        rec(Some(b"b"), Some(b"2"), far),
        rec(Some(b"c"), Some(b"3"), base - i64::from(i32::MAX) - 9),
        rec(Some(b"d"), Some(b"4"), i64::MIN),
        rec(Some(b"e"), Some(b"5"), i64::MAX),
    ];
    let batch = encode_batch(&records, 0).unwrap();
    let header = validate(&batch).unwrap();
    assert_eq!(header.max_timestamp, i64::MAX);
    assert_matches(&decode_records(&batch).unwrap(), &records, 0);
}

#[test]
fn golden_batch_is_byte_exact() {
    let mut expected: Vec<u8> = Vec::new();
    expected.extend_from_slice(&0i64.to_be_bytes()); // baseOffset
    expected.extend_from_slice(&58i32.to_be_bytes()); // batchLength = 70 - 12
    expected.extend_from_slice(&0i32.to_be_bytes()); // partitionLeaderEpoch
    expected.push(2); // magic
    expected.extend_from_slice(&[0; 4]); // crc, filled below
    expected.extend_from_slice(&0i16.to_be_bytes()); // attributes
    expected.extend_from_slice(&0i32.to_be_bytes()); // lastOffsetDelta
    expected.extend_from_slice(&1000i64.to_be_bytes()); // baseTimestamp
    expected.extend_from_slice(&1000i64.to_be_bytes()); // maxTimestamp
    expected.extend_from_slice(&(-1i64).to_be_bytes()); // producerId
    expected.extend_from_slice(&(-1i16).to_be_bytes()); // producerEpoch
    expected.extend_from_slice(&(-1i32).to_be_bytes()); // baseSequence
    expected.extend_from_slice(&1i32.to_be_bytes()); // recordCount
    assert_eq!(expected.len(), 61);
    expected.extend_from_slice(&[
        0x10, // length 8, zig-zagged
        0x00, // attributes
        0x00, // timestampDelta 0
        0x00, // offsetDelta 0
        0x02, b'k', // key
        0x02, b'v', // value
        0x00, // no headers
    ]);
    let crc = crc32c::crc32c(&expected[21..]);
    expected[17..21].copy_from_slice(&crc.to_be_bytes());

    let encoded = encode_batch(&[rec(Some(b"k"), Some(b"v"), 1000)], 0).unwrap();
    assert_eq!(encoded, expected);
}

/// "uncompressed record" from IBM/sarama's record_test.go: bytes another client produced.
const SARAMA_UNCOMPRESSED: [u8; 82] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 70, 0, 0, 0, 0, 2, 84, 121, 97, 253, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 88, 141, 205, 89, 56, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 1, 40, 0, 10, 0, 8, 1, 2, 3, 4, 6, 5, 6, 7, 2, 6, 8, 9, 10, 4, 11, 12,
];

#[test]
fn decodes_a_batch_written_by_another_client() {
    let header = validate(&SARAMA_UNCOMPRESSED).unwrap();
    assert_eq!(header.base_timestamp, 1_479_847_795_000);
    let records = decode_records(&SARAMA_UNCOMPRESSED).unwrap();
    assert_eq!(
        records,
        vec![StoredRecord {
            offset: 0,
            timestamp: 1_479_847_795_005,
            key: Some(Bytes::from_static(&[1, 2, 3, 4])),
            value: Some(Bytes::from_static(&[5, 6, 7])),
            headers: vec![("\u{8}\t\n".to_owned(), Some(Bytes::from_static(&[11, 12])))],
        }]
    );
}

#[test]
fn compressed_and_control_batches() {
    // sarama's "gzipped record": a real client's gzip batch decodes.
    let mut gzipped = SARAMA_UNCOMPRESSED[..61].to_vec();
    gzipped.extend_from_slice(&[
        31, 139, 8, 0, 0, 9, 110, 136, 0, 255, 0, 21, 0, 234, 255, 40, 0, 10, 0, 8, 1, 2, 3, 4, 6,
        5, 6, 7, 2, 6, 8, 9, 10, 4, 11, 12, 3, 0, 173, 201, 88, 103, 21, 0, 0, 0,
    ]);
    gzipped[8..12].copy_from_slice(&95i32.to_be_bytes());
    gzipped[17..21].copy_from_slice(&[231, 74, 206, 165]);
    gzipped[21..23].copy_from_slice(&1i16.to_be_bytes());
    let header = validate(&gzipped).unwrap();
    assert_eq!(header.compression(), Ok(Compression::Gzip));
    let records = decode_records(&gzipped).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].key.as_deref(), Some(&[1u8, 2, 3, 4][..]));
    assert_eq!(records[0].value.as_deref(), Some(&[5u8, 6, 7][..]));

    let mut batch = encode_batch(&[rec(None, Some(b"v"), 1)], 0).unwrap();
    batch[22] = 0x07;
    write_crc(&mut batch);
    assert_eq!(
        validate(&batch),
        Err(BatchError::InvalidCompression { code: 7 })
    );

    // A control batch decodes to nothing, whatever its payload.
    batch[22] = CONTROL_BIT as u8;
    write_crc(&mut batch);
    assert!(validate(&batch).unwrap().is_control());
    assert_eq!(decode_records(&batch), Ok(Vec::new()));
}

#[test]
fn empty_input_is_rejected() {
    assert_eq!(encode_batch(&[], 0), Err(BatchError::Empty));
}

#[test]
fn flipped_byte_fails_the_crc() {
    let batch = encode_batch(&sample_records(), 0).unwrap();
    for at in [ATTRIBUTES_AT, 40, BATCH_HEADER_LEN + 3, batch.len() - 1] {
        let mut bad = batch.clone();
        bad[at] ^= 0x01;
        let err = validate(&bad).unwrap_err();
        assert!(
            matches!(err, BatchError::CrcMismatch { stored, computed } if stored != computed),
            "byte {at}: {err}"
        );
        assert!(decode_records(&bad).is_err());
    }
    let mut bad = batch.clone();
    bad[CRC_AT] ^= 0x80;
    assert!(matches!(
        validate(&bad),
        Err(BatchError::CrcMismatch { .. })
    ));
}

#[test]
fn set_base_offset_keeps_the_crc() {
    let records = sample_records();
    let mut batch = encode_batch(&records, 0).unwrap();
    let crc_before = validate(&batch).unwrap().crc;
    set_base_offset(&mut batch, 1_000_000);
    let header = validate(&batch).unwrap();
    assert_eq!(header.crc, crc_before);
    assert_eq!(header.base_offset, 1_000_000);
    assert_matches(&decode_records(&batch).unwrap(), &records, 1_000_000);

    let mut short = vec![7u8; 10];
    set_base_offset(&mut short, 5);
    assert_eq!(short, vec![7u8; 10]);
}

#[test]
fn set_log_append_time_overrides_record_timestamps() {
    let records = sample_records();
    let mut batch = encode_batch(&records, 7).unwrap();
    set_log_append_time(&mut batch, 1_234_567);
    let header = validate(&batch).unwrap();
    assert_eq!(header.timestamp_type(), TimestampType::LogAppendTime);
    assert_eq!(header.max_timestamp, 1_234_567);
    assert_eq!(header.compression(), Ok(Compression::None));
    let stored = decode_records(&batch).unwrap();
    assert_eq!(stored.len(), records.len());
    for (i, (s, w)) in stored.iter().zip(&records).enumerate() {
        assert_eq!(s.timestamp, 1_234_567);
        assert_eq!(s.offset, 7 + i as i64);
        assert_eq!((&s.key, &s.value), (&w.key, &w.value));
    }
}

#[test]
fn header_errors_name_the_problem() {
    let batch = encode_batch(&[rec(Some(b"k"), Some(b"v"), 1)], 0).unwrap();
    assert_eq!(
        BatchHeader::parse(&batch[..40]),
        Err(BatchError::TooShort { len: 40 })
    );
    assert_eq!(
        BatchError::TooShort { len: 40 }.to_string(),
        "batch is 40 bytes, shorter than the 61-byte v2 header"
    );

    let mut v1 = batch.clone();
    v1[MAGIC_AT] = 1;
    assert_eq!(
        BatchHeader::parse(&v1[..30]),
        Err(BatchError::UnsupportedMagic { magic: 1 })
    );
    assert_eq!(
        validate(&v1).unwrap_err().to_string(),
        "unsupported magic byte 1: only record batch v2 is accepted"
    );

    let mut tiny = batch.clone();
    tiny[BATCH_LENGTH_AT..LOG_OVERHEAD].copy_from_slice(&48i32.to_be_bytes());
    assert_eq!(
        BatchHeader::parse(&tiny),
        Err(BatchError::BatchLengthTooSmall { declared: 48 })
    );

    let mut longer = batch.clone();
    longer.push(0);
    let err = validate(&longer).unwrap_err();
    assert_eq!(
        err,
        BatchError::LengthMismatch {
            declared: 58,
            actual: 59
        }
    );
    assert_eq!(
        err.to_string(),
        "batch length field says 58 but 59 bytes were given"
    );
    assert!(matches!(
        validate(&batch[..batch.len() - 1]),
        Err(BatchError::LengthMismatch { .. })
    ));

    let stored = 0x0102_0304;
    let err = BatchError::CrcMismatch {
        stored,
        computed: 0xdead_beef,
    };
    assert_eq!(
        err.to_string(),
        "CRC-32C mismatch: batch says 0x01020304, bytes give 0xdeadbeef"
    );
}

#[test]
fn count_and_delta_checks() {
    let batch = encode_batch(&[rec(None, Some(b"a"), 1), rec(None, Some(b"b"), 2)], 0).unwrap();
    let with = |at: usize, value: i32| {
        let mut b = batch.clone();
        b[at..at + 4].copy_from_slice(&value.to_be_bytes());
        write_crc(&mut b);
        b
    };
    assert_eq!(
        validate(&with(RECORD_COUNT_AT, -1)),
        Err(BatchError::NegativeRecordCount { count: -1 })
    );
    assert_eq!(
        validate(&with(LAST_OFFSET_DELTA_AT, -1)),
        Err(BatchError::NegativeLastOffsetDelta { delta: -1 })
    );
    assert_eq!(
        validate(&with(LAST_OFFSET_DELTA_AT, 5)),
        Err(BatchError::OffsetDeltaMismatch { delta: 5, count: 2 })
    );
    // One record fewer than the batch holds: the parser finds the extra bytes.
    let short_count = with(RECORD_COUNT_AT, 1);
    let short_count = {
        let mut b = short_count;
        b[LAST_OFFSET_DELTA_AT..LAST_OFFSET_DELTA_AT + 4].copy_from_slice(&0i32.to_be_bytes());
        write_crc(&mut b);
        b
    };
    assert!(matches!(
        decode_records(&short_count),
        Err(BatchError::TrailingBytes { count: 1, .. })
    ));
    // One record more than the batch holds: more than its bytes could hold, too
    // small as these records are, so the count is refused before any parsing.
    let mut long_count = with(RECORD_COUNT_AT, 3);
    long_count[LAST_OFFSET_DELTA_AT..LAST_OFFSET_DELTA_AT + 4].copy_from_slice(&2i32.to_be_bytes());
    write_crc(&mut long_count);
    let section = long_count.len() - BATCH_HEADER_LEN;
    assert!(section < 3 * 7, "{section}");
    assert_eq!(
        decode_records(&long_count),
        Err(BatchError::CountExceedsSection {
            count: 3,
            len: section
        })
    );
    // Offsets after the batch would not fit in an i64.
    let mut late = batch.clone();
    set_base_offset(&mut late, i64::MAX - 1);
    assert!(matches!(
        validate(&late),
        Err(BatchError::OffsetOverflow { .. })
    ));
}

#[test]
fn record_length_must_match_its_fields() {
    let batch = encode_batch(&[rec(Some(b"k"), Some(b"v"), 1000)], 0).unwrap();
    // Record length 8 -> 7: the value runs past the declared end.
    let mut shorter = batch.clone();
    shorter[BATCH_HEADER_LEN] = 0x0e;
    write_crc(&mut shorter);
    assert_eq!(
        decode_records(&shorter),
        Err(BatchError::RecordTruncated { index: 0 })
    );
    // Record length 8 -> 9 and one spare byte appended: fields end early.
    let mut longer = batch.clone();
    longer[BATCH_HEADER_LEN] = 0x12;
    longer.push(0);
    longer[BATCH_LENGTH_AT..LOG_OVERHEAD].copy_from_slice(&59i32.to_be_bytes());
    write_crc(&mut longer);
    assert_eq!(
        decode_records(&longer),
        Err(BatchError::RecordLengthMismatch {
            index: 0,
            declared: 9,
            parsed: 8
        })
    );
    // Key length -2 is neither null nor a length.
    let mut bad_key = batch.clone();
    bad_key[BATCH_HEADER_LEN + 4] = 0x03;
    write_crc(&mut bad_key);
    assert!(matches!(
        decode_records(&bad_key),
        Err(BatchError::InvalidLength {
            index: 0,
            len: -2,
            ..
        })
    ));
}

#[test]
fn header_key_must_be_utf8() {
    let record = Record {
        headers: vec![("ab".to_owned(), None)],
        ..rec(None, None, 0)
    };
    let mut batch = encode_batch(&[record], 0).unwrap();
    let at = batch.len() - 3; // header key bytes "ab", then the null value length
    assert_eq!(&batch[at..at + 2], b"ab");
    batch[at] = 0xff;
    write_crc(&mut batch);
    assert_eq!(
        decode_records(&batch),
        Err(BatchError::HeaderKeyNotUtf8 {
            index: 0,
            header: 0
        })
    );
}

#[test]
fn truncations_never_panic() {
    let batch = encode_batch(&sample_records(), 0).unwrap();
    for cut in 0..batch.len() {
        let part = &batch[..cut];
        assert!(validate(part).is_err(), "cut at {cut}");
        assert!(decode_records(part).is_err(), "cut at {cut}");
        let _ = BatchHeader::parse(part);
        assert_eq!(BatchIter::new(part).count(), 0, "cut at {cut}");
    }
}

#[test]
fn garbage_never_panics() {
    let mut rng = Prng(0x9e37_79b9_7f4a_7c15);
    let valid = encode_batch(&sample_records(), 0).unwrap();
    for round in 0..20_000 {
        let input = match round % 3 {
            // Pure noise, sometimes with a plausible header in front.
            0 => {
                let len = rng.below(200);
                rng.bytes(len)
            }
            1 => {
                let mut b = valid[..BATCH_HEADER_LEN].to_vec();
                let len = rng.below(120);
                b.extend(rng.bytes(len));
                let batch_length = (b.len() - LOG_OVERHEAD) as i32;
                b[BATCH_LENGTH_AT..LOG_OVERHEAD].copy_from_slice(&batch_length.to_be_bytes());
                b[RECORD_COUNT_AT..BATCH_HEADER_LEN]
                    .copy_from_slice(&(rng.below(6) as i32).to_be_bytes());
                write_crc(&mut b);
                b
            }
            // A valid batch with a few bytes changed and the CRC fixed, so the record
            // parser itself meets the damage.
            _ => {
                let mut b = valid.clone();
                for _ in 0..1 + rng.below(4) {
                    let at = BATCH_HEADER_LEN + rng.below(b.len() - BATCH_HEADER_LEN);
                    b[at] = rng.next() as u8;
                }
                write_crc(&mut b);
                b
            }
        };
        let _ = BatchHeader::parse(&input);
        let _ = validate(&input);
        if let Ok(records) = decode_records(&input) {
            let header = validate(&input).unwrap();
            assert_eq!(records.len(), header.record_count as usize);
        }
        let mut iter = BatchIter::new(&input);
        for (header, bytes) in iter.by_ref().flatten() {
            assert_eq!(bytes.len(), header.total_len());
        }
        assert!(iter.position() <= input.len());
    }
}

#[test]
fn batch_iter_stops_at_a_partial_tail() {
    let first = encode_batch(&sample_records(), 0).unwrap();
    let second = encode_batch(&[rec(Some(b"k"), Some(b"v"), 9)], 5).unwrap();
    let third = encode_batch(&[rec(Some(b"x"), Some(b"y"), 10)], 6).unwrap();
    let mut log = first.clone();
    log.extend_from_slice(&second);
    for partial in [0, 5, LOG_OVERHEAD, 20, BATCH_HEADER_LEN, third.len() - 1] {
        let mut buf = log.clone();
        buf.extend_from_slice(&third[..partial]);
        let mut iter = BatchIter::new(&buf);
        let batches: Vec<_> = iter.by_ref().collect::<Result<_, _>>().unwrap();
        assert_eq!(batches.len(), 2, "partial {partial}");
        assert_eq!(batches[0].1, &first[..]);
        assert_eq!(batches[1].1, &second[..]);
        assert_eq!(batches[1].0.base_offset, 5);
        assert_eq!(iter.position(), log.len());
        assert!(iter.next().is_none());
    }
}

#[test]
fn batch_iter_reports_corruption_once() {
    let first = encode_batch(&[rec(Some(b"k"), Some(b"v"), 9)], 0).unwrap();
    let mut buf = first.clone();
    buf.extend_from_slice(&first);
    buf[first.len() + BATCH_LENGTH_AT..first.len() + LOG_OVERHEAD]
        .copy_from_slice(&3i32.to_be_bytes());
    let mut iter = BatchIter::new(&buf);
    assert!(iter.next().unwrap().is_ok());
    assert_eq!(
        iter.next(),
        Some(Err(BatchError::BatchLengthTooSmall { declared: 3 }))
    );
    assert_eq!(iter.next(), None);
    assert_eq!(iter.position(), first.len());

    // A torn tail that is visibly not v2 is corruption, not an incomplete write.
    let mut buf = first.clone();
    buf.extend_from_slice(&first[..30]);
    buf[first.len() + MAGIC_AT] = 0;
    let mut iter = BatchIter::new(&buf);
    assert!(iter.next().unwrap().is_ok());
    assert_eq!(
        iter.next(),
        Some(Err(BatchError::UnsupportedMagic { magic: 0 }))
    );
}

#[test]
fn random_records_round_trip() {
    let mut rng = Prng(42);
    for _ in 0..200 {
        let n = 1 + rng.below(20);
        let base_ts = rng.next() as i64 >> 20;
        let records: Vec<Record> = (0..n)
            .map(|_| {
                let opt = |rng: &mut Prng, max: usize| {
                    (rng.below(5) != 0).then(|| {
                        let len = rng.below(max);
                        Bytes::from(rng.bytes(len))
                    })
                };
                let headers = (0..rng.below(4))
                    .map(|h| (format!("h{h}"), opt(&mut rng, 10)))
                    .collect();
                Record {
                    key: opt(&mut rng, 30),
                    value: opt(&mut rng, 300),
                    headers,
                    timestamp: base_ts + (rng.next() as i64 >> 30),
                }
            })
            .collect();
        let base_offset = (rng.next() >> 2) as i64;
        let batch = encode_batch(&records, base_offset).unwrap();
        assert_matches(&decode_records(&batch).unwrap(), &records, base_offset);
    }
}
