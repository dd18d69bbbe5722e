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
        return Err(KafkaError::UnsupportedVersion {
            api: versions::name(api_key),
            version,
            min: range.min,
            max: range.max,
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
