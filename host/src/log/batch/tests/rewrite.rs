//! Tests of rebuilding a batch from some of its records (the cleaner's rewrite).

use super::*;

#[test]
fn a_rebuilt_batch_keeps_its_offsets_producer_and_codec() {
    let records = sample_records();
    let mut original = encode_batch(&records, 100).unwrap();
    set_producer(&mut original, 9, 2, 40);
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let stored = decode_records(&original).unwrap();
        let mut header = validate(&original).unwrap();
        // The codec the rebuilt batch must keep (its records are packed anew).
        header.attributes = (header.attributes & !COMPRESSION_MASK) | codec as i16;
        let kept = vec![stored[0].clone(), stored[3].clone()];
        let rebuilt = rebuild_batch(&header, &kept, None).unwrap();
        let h = validate_stored(&rebuilt).unwrap();
        assert_eq!(h.compression().unwrap(), codec);
        assert_eq!(
            (h.base_offset, h.last_offset_delta, h.record_count),
            (100, 4, 2)
        );
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (9, 2, 40)
        );
        assert_eq!(h.max_timestamp, header.max_timestamp);
        assert_eq!(decode_records(&rebuilt).unwrap(), kept, "{codec}");
        // A producer's dense-offset rule does not hold for it any more.
        if codec == Compression::None {
            assert!(validate(&rebuilt).is_err());
        }
    }
}

#[test]
fn a_delete_horizon_moves_the_base_timestamp_not_the_record_times() {
    let records = vec![
        rec(Some(b"a"), None, 1_000),
        rec(Some(b"b"), Some(b"v"), 1_500),
    ];
    let original = encode_batch(&records, 0).unwrap();
    let header = validate(&original).unwrap();
    assert_eq!(header.delete_horizon(), None);
    let stored = decode_records(&original).unwrap();
    let rebuilt = rebuild_batch(&header, &stored, Some(99_000)).unwrap();
    let h = validate(&rebuilt).unwrap();
    assert_eq!(h.delete_horizon(), Some(99_000));
    assert_eq!(decode_records(&rebuilt).unwrap(), stored);
    // Rewritten again without a new horizon, it keeps the one it has.
    let again = rebuild_batch(&h, &stored[..1], None).unwrap();
    assert_eq!(
        validate_stored(&again).unwrap().delete_horizon(),
        Some(99_000)
    );
    assert_eq!(decode_records(&again).unwrap(), stored[..1]);
    // Emptied, only the header stays.
    let empty = rebuild_batch(&h, &[], None).unwrap();
    let e = validate(&empty).unwrap();
    assert_eq!((e.record_count, e.last_offset_delta), (0, 1));
    assert_eq!(empty.len(), BATCH_HEADER_LEN);
}
