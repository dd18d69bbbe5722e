//! Decompression of a batch's records section, for every codec Kafka defines, and
//! compression for the batches log compaction rewrites.
//!
//! Batches are stored exactly as producers compressed them; whoever reads records
//! (the HTTP API, pipelines) decompresses here. All codecs are pure Rust.

use std::io::{Read, Write};

use super::batch::{BatchError, Compression};

/// Largest records section a batch may decompress to. Bounds the memory a
/// hostile or corrupt batch (a "zip bomb") can make a reader allocate.
pub const MAX_DECOMPRESSED_LEN: usize = 256 << 20;

/// The 8-byte magic of the xerial snappy framing Java and kafka-python write.
const XERIAL_MAGIC: &[u8] = b"\x82SNAPPY\x00";
/// xerial header: magic, version (i32), compatible version (i32).
const XERIAL_HEADER_LEN: usize = 16;

/// Decompresses `raw` with `codec`, within [`MAX_DECOMPRESSED_LEN`].
pub fn decompress(codec: Compression, raw: &[u8]) -> Result<Vec<u8>, BatchError> {
    decompress_within(codec, raw, MAX_DECOMPRESSED_LEN)
}

/// Decompresses `raw` with `codec`, stopping as soon as the output would pass `max`
/// bytes: the bound is counted while inflating, so a bomb costs at most `max`.
pub fn decompress_within(
    codec: Compression,
    raw: &[u8],
    max: usize,
) -> Result<Vec<u8>, BatchError> {
    let fail = |e: Inflate| match e {
        Inflate::TooLarge => BatchError::DecodedTooLarge { codec, max },
        Inflate::Bad(reason) => BatchError::Decompress { codec, reason },
    };
    // Producers compress a few times at best; start there rather than doubling up from 0.
    let hint = raw.len().saturating_mul(4).min(max);
    match codec {
        Compression::None if raw.len() > max => Err(fail(Inflate::TooLarge)),
        Compression::None => Ok(raw.to_vec()),
        Compression::Gzip => {
            read_bounded(flate2::read::MultiGzDecoder::new(raw), max, hint).map_err(fail)
        }
        Compression::Snappy => snappy(raw, max).map_err(fail),
        Compression::Lz4 => {
            read_bounded(lz4_flex::frame::FrameDecoder::new(raw), max, hint).map_err(fail)
        }
        Compression::Zstd => {
            let decoder = ruzstd::decoding::StreamingDecoder::new(raw)
                .map_err(|e| fail(Inflate::Bad(e.to_string())))?;
            read_bounded(decoder, max, hint).map_err(fail)
        }
    }
}

/// Why inflating stopped.
enum Inflate {
    /// The output would pass the bound.
    TooLarge,
    /// The input is not valid for the codec.
    Bad(String),
}

impl From<std::io::Error> for Inflate {
    fn from(e: std::io::Error) -> Self {
        Inflate::Bad(e.to_string())
    }
}

impl From<snap::Error> for Inflate {
    fn from(e: snap::Error) -> Self {
        Inflate::Bad(e.to_string())
    }
}

impl From<&str> for Inflate {
    fn from(e: &str) -> Self {
        Inflate::Bad(e.to_string())
    }
}

/// Bytes of input per xerial snappy block (Java's default block size).
const XERIAL_BLOCK: usize = 32 << 10;

/// Compresses a records section with `codec` in the framing Kafka's Java client
/// writes (gzip, xerial snappy, LZ4 frames, zstd frames), so every client reads it.
pub fn compress(codec: Compression, raw: &[u8]) -> Result<Vec<u8>, BatchError> {
    let fail = |reason: String| BatchError::Decompress { codec, reason };
    match codec {
        Compression::None => Ok(raw.to_vec()),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(raw).map_err(|e| fail(e.to_string()))?;
            enc.finish().map_err(|e| fail(e.to_string()))
        }
        Compression::Snappy => {
            let mut out = XERIAL_MAGIC.to_vec();
            out.extend_from_slice(&1i32.to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
            let mut encoder = snap::raw::Encoder::new();
            for chunk in raw.chunks(XERIAL_BLOCK) {
                let block = encoder
                    .compress_vec(chunk)
                    .map_err(|e| fail(e.to_string()))?;
                out.extend_from_slice(&(block.len() as u32).to_be_bytes());
                out.extend_from_slice(&block);
            }
            Ok(out)
        }
        Compression::Lz4 => {
            let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
            enc.write_all(raw).map_err(|e| fail(e.to_string()))?;
            enc.finish().map_err(|e| fail(e.to_string()))
        }
        Compression::Zstd => Ok(ruzstd::encoding::compress_to_vec(
            raw,
            ruzstd::encoding::CompressionLevel::Fastest,
        )),
    }
}

/// Reads a decoder to the end, stopping one byte past `max`: the decoder never
/// produces more than that, whatever the input claims.
fn read_bounded(reader: impl Read, max: usize, hint: usize) -> Result<Vec<u8>, Inflate> {
    let mut out = Vec::with_capacity(hint);
    reader.take(max as u64 + 1).read_to_end(&mut out)?;
    if out.len() > max {
        return Err(Inflate::TooLarge);
    }
    Ok(out)
}

/// Most bytes of output per byte of a snappy block (64 from a 3-byte copy, rounded up).
const MAX_SNAPPY_RATIO: usize = 22;

/// Snappy comes either raw (librdkafka) or in xerial's block framing (Java,
/// kafka-python): blocks of `[length: i32 BE][raw snappy block]` after a header.
/// Each block states its decompressed length up front: checked before allocating.
fn snappy(raw: &[u8], max: usize) -> Result<Vec<u8>, Inflate> {
    let mut decoder = snap::raw::Decoder::new();
    let mut block = |bytes: &[u8], out: &mut Vec<u8>| -> Result<(), Inflate> {
        let len = snap::raw::decompress_len(bytes)?;
        // The output is allocated (and zeroed) from the length the block claims, before a byte
        // is decoded: a 5-byte block claiming 256 MiB would cost that much memory and time. No
        // snappy element expands more than 64 bytes from 3 (a copy with a 2-byte offset), so
        // a block claiming more than 22 times its size is corrupt.
        if len > bytes.len().saturating_mul(MAX_SNAPPY_RATIO) {
            return Err(Inflate::Bad(format!(
                "a {}-byte snappy block claims {len} bytes, more than snappy can expand to",
                bytes.len()
            )));
        }
        if out.len().saturating_add(len) > max {
            return Err(Inflate::TooLarge);
        }
        let start = out.len();
        out.resize(start + len, 0);
        decoder.decompress(bytes, &mut out[start..])?;
        Ok(())
    };
    let mut out = Vec::new();
    if !raw.starts_with(XERIAL_MAGIC) {
        block(raw, &mut out)?;
        return Ok(out);
    }
    let mut rest = raw
        .get(XERIAL_HEADER_LEN..)
        .ok_or("truncated xerial header")?;
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_at_checked(4)
            .ok_or("truncated xerial block length")?;
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let (data, tail) = tail
            .split_at_checked(len)
            .ok_or("xerial block runs past the batch end")?;
        block(data, &mut out)?;
        rest = tail;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_for_every_codec() {
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let err =
                decompress(codec, b"\x82SNAPPY\x00\0\0\0\x01\0\0\0\x01\0\0\0\x09abc").unwrap_err();
            assert!(
                matches!(err, BatchError::Decompress { .. }),
                "{codec}: {err}"
            );
        }
    }

    #[test]
    fn every_codec_round_trips() {
        let data = b"key-0001 value value value; ".repeat(5000);
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let packed = compress(codec, &data).unwrap();
            if codec != Compression::None {
                assert!(packed.len() < data.len() / 4, "{codec}");
                assert_eq!(decompress(codec, &packed).unwrap(), data, "{codec}");
            }
        }
    }

    #[test]
    fn xerial_and_raw_snappy_both_decode() {
        let data = b"hello hello hello hello weir".repeat(10);
        let block = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(decompress(Compression::Snappy, &block).unwrap(), data);
        let mut framed = XERIAL_MAGIC.to_vec();
        framed.extend_from_slice(&1i32.to_be_bytes());
        framed.extend_from_slice(&1i32.to_be_bytes());
        for _ in 0..2 {
            framed.extend_from_slice(&(block.len() as u32).to_be_bytes());
            framed.extend_from_slice(&block);
        }
        assert_eq!(
            decompress(Compression::Snappy, &framed).unwrap(),
            data.repeat(2)
        );
    }

    #[test]
    fn every_codec_stops_at_the_bound_while_inflating() {
        let data = vec![0u8; 1 << 20];
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let packed = compress(codec, &data).unwrap();
            assert_eq!(
                decompress_within(codec, &packed, data.len()).unwrap().len(),
                data.len(),
                "{codec}: exactly the bound is fine"
            );
            assert_eq!(
                decompress_within(codec, &packed, data.len() - 1),
                Err(BatchError::DecodedTooLarge {
                    codec,
                    max: data.len() - 1
                }),
                "{codec}"
            );
        }
    }
}
