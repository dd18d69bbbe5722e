//! Request frames: a 4-byte big-endian size, then a header and a body.
//!
//! Everything here is pure so the fuzz tests can throw random bytes at it.

use bytes::{Buf, Bytes};
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::Decodable;

use super::error::KafkaError;
use super::handler::versions;

/// A request whose header decoded; the body is still raw.
#[derive(Debug)]
pub struct RawRequest {
    /// The API called.
    pub api_key: ApiKey,
    /// Its decoded header.
    pub header: RequestHeader,
    /// The undecoded body.
    pub body: Bytes,
}

/// Outcome of looking at a frame's version before decoding it.
#[derive(Debug)]
pub enum Framed {
    /// A request in a supported version.
    Request(RawRequest),
    /// An ApiVersions request in a version we do not speak: answered with the
    /// v0 layout and UNSUPPORTED_VERSION, as Kafka does, so the client retries lower.
    ApiVersionsUnsupported {
        /// To echo in the response header.
        correlation_id: i32,
    },
    /// Any other API in a version outside the advertised range: answered with
    /// UNSUPPORTED_VERSION where the response has a top-level error code.
    Unsupported {
        /// The API called.
        api_key: ApiKey,
        /// The version asked for.
        version: i16,
        /// To echo in the response header.
        correlation_id: i32,
        /// Why it is refused, for the log and for closing when no answer fits.
        error: KafkaError,
        /// The whole frame, header undecoded: old Produce and Fetch answers
        /// name the partitions asked for.
        frame: Bytes,
    },
}

/// Checks a frame's size prefix against the limit.
pub fn check_size(prefix: [u8; 4], max: usize) -> Result<usize, KafkaError> {
    let size = i32::from_be_bytes(prefix);
    match usize::try_from(size) {
        Ok(n) if n <= max => Ok(n),
        _ => Err(KafkaError::FrameSize {
            size: i64::from(size),
            max,
        }),
    }
}

/// Parses a frame body (without its size prefix) into header and body.
pub fn parse(frame: Bytes) -> Result<Framed, KafkaError> {
    if frame.len() < 8 {
        return Err(KafkaError::FrameTruncated { len: frame.len() });
    }
    let key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let api_key = ApiKey::try_from(key).map_err(|_| KafkaError::UnknownApi { key })?;
    let Some(range) = versions::supported(api_key) else {
        return Err(KafkaError::UnknownApi { key });
    };
    if version < range.min || version > range.max {
        if api_key == ApiKey::ApiVersions {
            return Ok(Framed::ApiVersionsUnsupported { correlation_id });
        }
        return Ok(Framed::Unsupported {
            api_key,
            version,
            correlation_id,
            frame,
            error: KafkaError::UnsupportedVersion {
                api: versions::name(api_key),
                version,
                min: range.min,
                max: range.max,
            },
        });
    }
    let mut buf = frame;
    let header_version = api_key.request_header_version(version);
    let header =
        RequestHeader::decode(&mut buf, header_version).map_err(|e| KafkaError::Malformed {
            api: versions::name(api_key),
            version,
            reason: format!("header: {e}"),
        })?;
    let body = buf.copy_to_bytes(buf.remaining());
    Ok(Framed::Request(RawRequest {
        api_key,
        header,
        body,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: deterministic, so a failure can be replayed from the seed.
    fn rng(state: &mut u64) -> u64 {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    #[test]
    fn random_and_truncated_frames_are_errors_not_panics() {
        let mut s = 0x0dd_ba11_u64;
        for _ in 0..20_000 {
            let len = (rng(&mut s) % 64) as usize;
            let mut frame: Vec<u8> = (0..len).map(|_| rng(&mut s) as u8).collect();
            // Half the frames get a served API key and version in front.
            if len >= 4 && rng(&mut s).is_multiple_of(2) {
                let (key, _, max) = versions::SUPPORTED[(rng(&mut s) % 19) as usize];
                frame[0..2].copy_from_slice(&(key as i16).to_be_bytes());
                frame[2..4]
                    .copy_from_slice(&((rng(&mut s) % (max as u64 + 1)) as i16).to_be_bytes());
            }
            let _ = parse(Bytes::from(frame));
        }
    }

    #[test]
    fn size_prefixes_outside_the_limit_are_refused() {
        assert_eq!(check_size(100i32.to_be_bytes(), 100).unwrap(), 100);
        assert!(check_size(101i32.to_be_bytes(), 100).is_err());
        assert!(check_size((-1i32).to_be_bytes(), 100).is_err());
    }

    #[test]
    fn api_versions_beyond_the_served_range_is_answered_not_refused() {
        let mut frame = vec![0, 18, 0, 77, 0, 0, 0, 9];
        frame.extend_from_slice(&[0, 0]);
        match parse(Bytes::from(frame)).unwrap() {
            Framed::ApiVersionsUnsupported { correlation_id } => assert_eq!(correlation_id, 9),
            other => panic!("{other:?}"),
        }
        let frame = Bytes::from_static(&[0, 0, 0, 99, 0, 0, 0, 1, 0, 0]);
        assert!(matches!(
            parse(frame),
            Ok(Framed::Unsupported {
                version: 99,
                correlation_id: 1,
                error: KafkaError::UnsupportedVersion { .. },
                ..
            })
        ));
    }
}
