//! [`StreamError`]: why a peer's records ended a [`super::stream::TlsStream`], each
//! with the fatal alert that tells the peer so (RFC 8446 §6.2).

use std::io;

use tokio_rustls::rustls::{self, AlertDescription};

use super::record::RecordError;

/// Why the peer's records ended the connection.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// A record failed the record layer's checks.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// A handshake message after a TLS 1.2 handshake (weir, like rustls, does not
    /// renegotiate).
    #[error("TLS renegotiation refused")]
    Renegotiation,
    /// A post-handshake handshake message longer than the stream's cap (1 KiB).
    #[error("post-handshake TLS message too large")]
    HandshakeTooLarge,
    /// A post-handshake handshake message other than KeyUpdate.
    #[error("unexpected post-handshake TLS message of type {0}")]
    UnexpectedHandshake(u8),
    /// A KeyUpdate whose body is not one byte.
    #[error("malformed TLS KeyUpdate of {len} bytes")]
    KeyUpdateLength { len: u32 },
    /// A KeyUpdate whose request_update is neither 0 nor 1.
    #[error("TLS KeyUpdate with request_update {0}")]
    KeyUpdateValue(u8),
    /// Bytes after a KeyUpdate in its record: records after it are under the next key.
    #[error("data after a TLS KeyUpdate in its record")]
    DataAfterKeyUpdate,
    /// A handshake message split over records, with another record between.
    #[error("TLS record interleaved with a split handshake message")]
    Interleaved,
    /// KeyUpdates past the stream's cap (32) without application data.
    #[error("too many TLS KeyUpdates without application data")]
    TooManyKeyUpdates,
    /// Empty records past the stream's cap (32) in a row.
    #[error("too many empty TLS records in a row")]
    TooManyEmptyRecords,
    /// Warning alerts past the stream's cap (4) without application data.
    #[error("too many TLS warning alerts")]
    TooManyWarnings,
    /// An alert record that is not two bytes.
    #[error("malformed TLS alert of {len} bytes")]
    MalformedAlert { len: usize },
    /// A handshake record with no content (RFC 8446 §5.1 forbids them).
    #[error("empty TLS handshake record")]
    EmptyHandshake,
    /// An alert whose level is neither warning (1) nor fatal (2).
    #[error("TLS alert with level {0}")]
    AlertLevel(u8),
    /// The peer's fatal alert (or a warning other than user_canceled).
    #[error("TLS alert from the client: level {level}, description {description}")]
    PeerAlert { level: u8, description: u8 },
    /// rustls' key schedule refused a key update.
    #[error("TLS key update: {0}")]
    KeySchedule(#[source] rustls::Error),
    /// close_notify was sent: nothing more is written.
    #[error("TLS connection already closed by close_notify")]
    Closed,
    /// The stream already failed; nothing more is read or written.
    #[error("TLS connection already failed")]
    Failed,
}

impl StreamError {
    /// The fatal alert that tells the peer why (RFC 8446 §6.2), or `None` when the
    /// peer ended it (its alert) or the fault is here.
    pub fn alert(&self) -> Option<AlertDescription> {
        use AlertDescription as A;
        match self {
            StreamError::Record(e) => e.alert(),
            StreamError::HandshakeTooLarge
            | StreamError::KeyUpdateLength { .. }
            | StreamError::MalformedAlert { .. } => Some(A::DecodeError),
            StreamError::KeyUpdateValue(_) | StreamError::AlertLevel(_) => {
                Some(A::IllegalParameter)
            }
            StreamError::Renegotiation
            | StreamError::UnexpectedHandshake(_)
            | StreamError::DataAfterKeyUpdate
            | StreamError::Interleaved
            | StreamError::EmptyHandshake
            | StreamError::TooManyKeyUpdates
            | StreamError::TooManyEmptyRecords
            | StreamError::TooManyWarnings => Some(A::UnexpectedMessage),
            StreamError::PeerAlert { .. }
            | StreamError::KeySchedule(_)
            | StreamError::Closed
            | StreamError::Failed => None,
        }
    }

    /// The error as the stream's reader sees it.
    pub(super) fn into_io(self) -> io::Error {
        let kind = match self {
            StreamError::PeerAlert { .. } => io::ErrorKind::ConnectionAborted,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }
}
