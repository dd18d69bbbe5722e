//! Record-batch validation and decompression: random and mutated v2 batches of every codec
//! give `Ok` or a typed [`BatchError`], never a panic, and never allocate far beyond what the
//! input declares (uncompressed: in proportion to its length; compressed: the
//! decompression cap, [`MAX_DECOMPRESSED_LEN`]).
//!
//! Most mutations are followed by a repair of batchLength and the CRC, as a producer with a
//! bug (rather than a flipped bit on the wire) would send: otherwise nearly every input stops
//! at the CRC check and the record decoder and decompressors are never reached.

use bytes::Bytes;
use weir::log::batch::{
    BATCH_HEADER_LEN, BatchError, BatchIter, Compression, Record, decode_records, encode_batch,
    validate, validate_stored,
};
use weir::log::compression::{MAX_DECOMPRESSED_LEN, compress, decompress};

use crate::driver::{self, Rng};
use crate::largest_allocation;
use crate::mutate::mutate;

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

fn codec_code(codec: Compression) -> i16 {
    match codec {
        Compression::None => 0,
        Compression::Gzip => 1,
        Compression::Snappy => 2,
        Compression::Lz4 => 3,
        Compression::Zstd => 4,
    }
}

/// Random records: keys, values and headers of random sizes, some null.
pub fn records(rng: &mut Rng) -> Vec<Record> {
    let n = 1 + rng.below(12);
    (0..n)
        .map(|i| {
            let field = |rng: &mut Rng| {
                (!rng.chance(1, 6)).then(|| {
                    let len = rng.below(64);
                    Bytes::from(rng.bytes(len))
                })
            };
            let key = field(rng);
            let value = field(rng);
            let headers = (0..rng.below(3))
                .map(|h| (format!("h{h}"), field(rng)))
                .collect();
            Record {
                key,
                value,
                headers,
                timestamp: 1_700_000_000_000 + i as i64,
            }
        })
        .collect()
}

/// batchLength set to the buffer's length and the CRC recomputed (both only if there is room).
fn repair(b: &mut [u8]) {
    if b.len() >= BATCH_HEADER_LEN {
        let len = (b.len() - 12) as i32;
        b[8..12].copy_from_slice(&len.to_be_bytes());
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
    }
}

/// A valid batch of `records` with `codec`: the records section compressed as Kafka's Java
/// client frames it.
pub fn batch(records: &[Record], codec: Compression) -> Vec<u8> {
    let plain = encode_batch(records, 0).expect("encodable records");
    let mut b = plain[..BATCH_HEADER_LEN].to_vec();
    b.extend_from_slice(&compress(codec, &plain[BATCH_HEADER_LEN..]).expect("compress"));
    let attributes = codec_code(codec);
    b[21..23].copy_from_slice(&attributes.to_be_bytes());
    repair(&mut b);
    b
}

/// A mutated batch (mostly repaired), or a mutated compressed stream on its own.
pub fn generate(rng: &mut Rng) -> Vec<u8> {
    let codec = *rng.pick(&CODECS);
    let valid = batch(&records(rng), codec);
    let mut out = mutate(rng, &valid);
    if rng.chance(4, 5) {
        repair(&mut out);
    }
    out
}

/// Checks one input every way a reader of stored or produced batches does, and the
/// records section (whatever the attributes say) against every decompressor.
fn property(input: &[u8]) -> Result<bool, String> {
    largest_allocation();
    let validated = validate(input);
    let stored = validate_stored(input);
    let decoded = decode_records(input);
    let walked: Vec<_> = BatchIter::new(input).collect();
    let used = largest_allocation();
    let budget = match input.get(21..23) {
        // Compressed: the decoders' windows and block buffers (LZ4 frames declare blocks of
        // up to 4 MiB), then output in proportion to what decodes.
        Some(a) if i16::from_be_bytes([a[0], a[1]]) & 7 != 0 => (16 << 20) + 64 * input.len(),
        _ => 4096 + 64 * input.len(),
    };
    if used > budget {
        return Err(format!(
            "validating and decoding a {}-byte batch allocated a {used}-byte block",
            input.len()
        ));
    }
    if decoded.is_ok() && stored.is_err() {
        return Err(format!(
            "decoded a batch that does not validate: {stored:?}"
        ));
    }
    if walked.len() > input.len() / BATCH_HEADER_LEN + 1 {
        return Err(format!("{} batches in {} bytes", walked.len(), input.len()));
    }
    let section = input.get(BATCH_HEADER_LEN..).unwrap_or_default();
    for codec in CODECS {
        let out = decompress(codec, section);
        let used = largest_allocation();
        if used > (16 << 20) + 64 * input.len() {
            return Err(format!("{codec} allocated a {used}-byte block"));
        }
        if let Ok(out) = out
            && out.len() > MAX_DECOMPRESSED_LEN
        {
            return Err(format!("{codec} gave {} bytes, past the cap", out.len()));
        }
    }
    let _: Option<BatchError> = validated.as_ref().err().cloned();
    Ok(decoded.is_ok())
}

#[test]
fn valid_batches_of_every_codec_decode_to_their_records() {
    let mut rng = Rng::new(driver::base_seed());
    for _ in 0..20 {
        let recs = records(&mut rng);
        for codec in CODECS {
            let b = batch(&recs, codec);
            validate(&b).unwrap_or_else(|e| panic!("{codec}: {e}"));
            let back = decode_records(&b).unwrap_or_else(|e| panic!("{codec}: {e}"));
            let values: Vec<_> = back.iter().map(|r| r.value.clone()).collect();
            let sent: Vec<_> = recs.iter().map(|r| r.value.clone()).collect();
            assert_eq!(values, sent, "{codec}");
        }
    }
}

#[test]
fn mutated_batches_are_refused_with_a_typed_error_or_decoded() {
    let summary = driver::run("batch", 6000, generate, property);
    // The repaired mutations must reach the decoder both ways.
    summary.assert_both_ways("batch");
}

#[test]
fn random_bytes_are_refused_by_every_decompressor() {
    driver::run(
        "decompress",
        3000,
        |rng| {
            let len = rng.below(512);
            let mut b = rng.bytes(len);
            // Half the time behind a real stream header, so the decoders get past the magic.
            if rng.chance(1, 2) {
                let codec = *rng.pick(&CODECS[1..]);
                let mut head = compress(codec, b"x").expect("compress");
                head.truncate(4 + rng.below(12));
                head.extend_from_slice(&b);
                b = head;
            }
            b
        },
        |input| {
            largest_allocation();
            for codec in CODECS {
                let _ = decompress(codec, input);
            }
            let used = largest_allocation();
            if used > (16 << 20) + 64 * input.len() {
                return Err(format!("allocated a {used}-byte block"));
            }
            Ok(true)
        },
    );
}

/// A batch whose records section decompresses past the cap (an LZ4 "zip bomb" of zeros) is
/// refused with the cap named, its output never held whole.
#[test]
fn a_decompression_bomb_is_refused_at_the_cap() {
    let _memory = crate::MEMORY.lock().unwrap_or_else(|p| p.into_inner());
    let zeros = vec![0u8; MAX_DECOMPRESSED_LEN + (1 << 20)];
    let bomb = compress(Compression::Lz4, &zeros).expect("compress");
    drop(zeros);
    assert!(bomb.len() < 4 << 20, "{} bytes", bomb.len());
    largest_allocation();
    let err = decompress(Compression::Lz4, &bomb).expect_err("past the cap");
    let used = largest_allocation();
    assert!(err.to_string().contains("more than"), "{err}");
    assert!(used <= 2 * MAX_DECOMPRESSED_LEN + (16 << 20), "{used}");
}

/// Found by `random_bytes_are_refused_by_every_decompressor`: a raw snappy block is a varint
/// of its decompressed length, then elements, and the decoder's output was allocated and
/// zeroed from that claim before anything was decoded. Five bytes claiming 256 MiB cost
/// 256 MiB and seconds of CPU per batch read; the claim is now checked against the most
/// snappy can expand, in the raw and in the xerial-framed form.
#[test]
fn a_snappy_block_claiming_far_more_than_it_holds_is_refused_before_allocating() {
    let raw: &[u8] = &[0xfe, 0xff, 0xff, 0x7f, 0x00];
    let mut xerial = b"\x82SNAPPY\x00\0\0\0\x01\0\0\0\x01".to_vec();
    xerial.extend_from_slice(&(raw.len() as u32).to_be_bytes());
    xerial.extend_from_slice(raw);
    driver::replay("snappy claim", &[raw, &xerial], |input| {
        largest_allocation();
        let err = decompress(Compression::Snappy, input).expect_err("corrupt");
        let used = largest_allocation();
        if used > 1 << 20 {
            return Err(format!("allocated {used} bytes"));
        }
        if !err.to_string().contains("claims") {
            return Err(format!("unexpected error: {err}"));
        }
        Ok(false)
    });
}
