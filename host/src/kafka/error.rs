//! The one error type of the Kafka layer.

use crate::auth::AuthError;
use crate::broker::BrokerError;

/// What can go wrong serving the Kafka protocol. Frame and decode errors close
/// the one connection they happened on; broker errors become Kafka error codes.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// The listener could not bind or accept.
    #[error("{action} {addr}: {source}")]
    Bind {
        action: &'static str,
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// Reading from or writing to a client failed.
    #[error("connection I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A frame's size prefix is negative or above `max_frame_bytes`.
    #[error("frame of {size} bytes is outside 0..={max}")]
    FrameSize { size: i64, max: usize },
    /// Before authentication, a frame above `auth.max_unauthenticated_frame_bytes`.
    #[error(
        "frame of {size} bytes before authentication is outside 0..={max} (auth.max_unauthenticated_frame_bytes)"
    )]
    FrameSizeBeforeAuth { size: i64, max: usize },
    /// No request arrived for the idle timeout (`kafka.connections_max_idle_ms`).
    #[error("no request for {ms} ms (kafka.connections_max_idle_ms)")]
    Idle { ms: u128 },
    /// A request's bytes did not all arrive in time (`kafka.request_read_timeout_ms`).
    #[error(
        "a {size}-byte request did not arrive within {ms} ms of its size prefix (kafka.request_read_timeout_ms)"
    )]
    SlowRequest { size: usize, ms: u128 },
    /// The frame is too short to hold a request header.
    #[error("frame of {len} bytes is too short for a request header")]
    FrameTruncated { len: usize },
    /// An API key this broker does not know or serve.
    #[error("unknown or unsupported API key {key}")]
    UnknownApi { key: i16 },
    /// A version outside the advertised range (other than ApiVersions, which answers).
    #[error("{api} version {version} is not supported (supported {min}..={max})")]
    UnsupportedVersion {
        api: &'static str,
        version: i16,
        min: i16,
        max: i16,
    },
    /// The header or body does not decode at the version it claims.
    #[error("malformed {api} v{version} request: {reason}")]
    Malformed {
        api: &'static str,
        version: i16,
        reason: String,
    },
    /// A request names more than a `[kafka]` limit allows (`key` names it).
    #[error("{api} request names {count} {what}; {key} is {max}")]
    TooMany {
        api: &'static str,
        what: &'static str,
        count: usize,
        key: &'static str,
        max: usize,
    },
    /// A response did not encode (a bug: a field set that the version lacks).
    #[error("encoding {api} v{version} response: {reason}")]
    Encode {
        api: &'static str,
        version: i16,
        reason: String,
    },
    /// A request that needs a principal, on a connection that has none (closes it).
    #[error("{api} refused before authentication: {source}")]
    Unauthenticated {
        api: &'static str,
        #[source]
        source: AuthError,
    },
    /// SASL failed (closes the connection, after the answer where there is one).
    #[error("{api} refused: {source}")]
    Unauthorized {
        api: &'static str,
        #[source]
        source: AuthError,
    },
    #[error("SASL authentication failed: {0}")]
    Authentication(#[source] AuthError),
    /// A SASL request was refused with an error answer; the connection closes.
    #[error("closing after refusing a SASL request")]
    SaslRefused,
    /// The broker refused or failed.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// A blocking broker task panicked or was cancelled.
    #[error("broker task failed: {0}")]
    Task(String),
}
