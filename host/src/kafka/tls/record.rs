//! TLS records after the handshake: [`Sealer`] protects outgoing records and [`Opener`]
//! checks and decrypts incoming ones, both in place in the caller's buffer, with the
//! traffic secrets rustls hands over once its handshake is done
//! (`dangerous_into_kernel_connection`, the API meant for kernel TLS).
//!
//! Why not rustls' own record layer: it decrypts into a fresh `Vec` per record and
//! copies it again on the way out, and encrypts each 16 KiB fragment into a new
//! allocation before it is copied to the socket; on a Kafka listener those copies cost
//! as much CPU as the cipher (`weir bench kafka --tls-scram`). Here a record is opened
//! where it was read and sealed where it will be written from.
//!
//! The formats are RFC 8446 §5 (TLS 1.3: outer type application_data, the real type as
//! the plaintext's last non-zero byte, the header as AAD, nonce = IV ⊕ sequence) and
//! RFC 5288 / RFC 7905 (TLS 1.2 AES-GCM with an 8-byte explicit nonce, ChaCha20-Poly1305
//! with IV ⊕ sequence; AAD = sequence, type, version, length). Every suite weir's
//! provider offers is covered; any other is refused before traffic starts.

use std::ops::Range;

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use tokio_rustls::rustls::{AlertDescription, ConnectionTrafficSecrets, ProtocolVersion};

/// Bytes of a record header: type, version, length.
pub const HEADER: usize = 5;
/// The most plaintext one record carries (2^14, both versions).
pub const MAX_PLAINTEXT: usize = 1 << 14;
/// The most a received record's body may be under either version: TLS 1.2 allows
/// 2^14 + 2048 (RFC 5246 §6.2.3); buffers are sized for it.
pub const MAX_BODY: usize = MAX_PLAINTEXT + 2048;
/// The most a TLS 1.3 record's body may be (RFC 8446 §5.2): the inner plaintext's
/// 2^14 + 1 bytes plus at most 255 of expansion; a longer one is `record_overflow`.
pub const MAX_BODY_TLS13: usize = MAX_PLAINTEXT + 256;
/// The most one sealed record adds to its plaintext: header, TLS 1.2's explicit nonce
/// (TLS 1.3's content byte is smaller), tag.
pub const OVERHEAD: usize = HEADER + EXPLICIT_NONCE + TAG;
const TAG: usize = 16;
const EXPLICIT_NONCE: usize = 8;

/// Records sealed under one key before it must change: RFC 8446 §5.5 bounds AES-GCM at
/// 2^24.5 full-size records; the same bound is kept for every suite.
pub const KEY_RECORD_LIMIT: u64 = 1 << 24;

/// Record content types (RFC 8446 §5.1).
pub mod content {
    /// An alert: close_notify or an error.
    pub const ALERT: u8 = 21;
    /// A post-handshake message (TLS 1.3 KeyUpdate).
    pub const HANDSHAKE: u8 = 22;
    /// Application data.
    pub const APPLICATION_DATA: u8 = 23;
}

/// Why a record could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The negotiated suite is not one this record layer implements.
    #[error("TLS {version:?} with {suite} is not supported by the record layer")]
    Unsupported {
        version: ProtocolVersion,
        suite: &'static str,
    },
    /// A record announces more than the protocol allows.
    #[error("TLS record of {len} bytes (at most {MAX_BODY})")]
    Overflow { len: usize },
    /// A record too short to hold its tag (and TLS 1.2's explicit nonce).
    #[error("TLS record of {len} bytes is too short for its cipher")]
    Short { len: usize },
    /// A record of a type that cannot follow the handshake.
    #[error("unexpected TLS record type {0}")]
    UnexpectedType(u8),
    /// The tag did not verify: tampered, or not from the peer.
    #[error("TLS record failed authentication (bad_record_mac)")]
    BadRecordMac,
    /// A TLS 1.3 record whose plaintext is all padding.
    #[error("TLS 1.3 record without a content type")]
    NoContentType,
    /// The key was used for [`KEY_RECORD_LIMIT`] records.
    #[error("TLS traffic key used for {KEY_RECORD_LIMIT} records")]
    KeyExhausted,
}

impl RecordError {
    /// The fatal alert that tells the peer why its record ended the connection (RFC
    /// 8446 §6.2), or `None` for faults on this side.
    pub fn alert(&self) -> Option<AlertDescription> {
        match self {
            RecordError::Overflow { .. } => Some(AlertDescription::RecordOverflow),
            // A record too short for its tag cannot be authenticated, as rustls says.
            RecordError::Short { .. } | RecordError::BadRecordMac => {
                Some(AlertDescription::BadRecordMac)
            }
            RecordError::UnexpectedType(_) | RecordError::NoContentType => {
                Some(AlertDescription::UnexpectedMessage)
            }
            RecordError::Unsupported { .. } | RecordError::KeyExhausted => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    Tls12,
    Tls13,
}

/// One direction's traffic key, IV and sequence number.
struct Keys {
    key: LessSafeKey,
    iv: [u8; aead::NONCE_LEN],
    seq: u64,
    version: Version,
    /// TLS 1.2 AES-GCM: an explicit nonce travels in each record.
    explicit: bool,
}

impl Keys {
    fn new(
        version: ProtocolVersion,
        seq: u64,
        secrets: &ConnectionTrafficSecrets,
    ) -> Result<Keys, RecordError> {
        let version = match version {
            ProtocolVersion::TLSv1_3 => Version::Tls13,
            ProtocolVersion::TLSv1_2 => Version::Tls12,
            other => {
                return Err(RecordError::Unsupported {
                    version: other,
                    suite: "any suite",
                });
            }
        };
        let (algorithm, key, iv, gcm) = match secrets {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => (&aead::AES_128_GCM, key, iv, true),
            ConnectionTrafficSecrets::Aes256Gcm { key, iv } => (&aead::AES_256_GCM, key, iv, true),
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => {
                (&aead::CHACHA20_POLY1305, key, iv, false)
            }
            _ => {
                return Err(RecordError::Unsupported {
                    version: match version {
                        Version::Tls12 => ProtocolVersion::TLSv1_2,
                        Version::Tls13 => ProtocolVersion::TLSv1_3,
                    },
                    suite: "this suite",
                });
            }
        };
        let unsupported = || RecordError::Unsupported {
            version: ProtocolVersion::TLSv1_3,
            suite: "a key or IV of another length",
        };
        let key = UnboundKey::new(algorithm, key.as_ref()).map_err(|_| unsupported())?;
        let iv: [u8; aead::NONCE_LEN] = iv.as_ref().try_into().map_err(|_| unsupported())?;
        Ok(Keys {
            key: LessSafeKey::new(key),
            iv,
            seq,
            version,
            explicit: version == Version::Tls12 && gcm,
        })
    }

    /// IV ⊕ the sequence number, big-endian in the last 8 bytes.
    fn sequence_nonce(&self) -> [u8; aead::NONCE_LEN] {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        nonce
    }

    /// TLS 1.2's additional data: sequence, type, version, plaintext length.
    fn tls12_aad(&self, typ: u8, version: [u8; 2], len: usize) -> [u8; 13] {
        let mut aad = [0u8; 13];
        aad[..8].copy_from_slice(&self.seq.to_be_bytes());
        aad[8] = typ;
        aad[9..11].copy_from_slice(&version);
        aad[11..].copy_from_slice(&(len as u16).to_be_bytes());
        aad
    }
}

/// Protects outgoing records under the connection's write key.
pub struct Sealer(Keys);

impl Sealer {
    /// The sealer for secrets rustls extracted, starting at sequence number `seq`.
    pub fn new(
        version: ProtocolVersion,
        seq: u64,
        secrets: &ConnectionTrafficSecrets,
    ) -> Result<Sealer, RecordError> {
        Keys::new(version, seq, secrets).map(Sealer)
    }

    /// Whether the key has sealed its share of records and must be updated (TLS 1.3)
    /// or the connection closed (TLS 1.2) before the next record. One record is left
    /// under the old key: the KeyUpdate that retires it.
    pub fn exhausted(&self) -> bool {
        self.0.seq >= KEY_RECORD_LIMIT - 1
    }

    /// Whether a key update can replace the key (TLS 1.3 only).
    pub fn can_update(&self) -> bool {
        self.0.version == Version::Tls13
    }

    /// Appends one record of type `typ` carrying `plaintext` (at most
    /// [`MAX_PLAINTEXT`] bytes) to `out`; `out` grows by at most
    /// `plaintext.len() + OVERHEAD`.
    pub fn seal(
        &mut self,
        typ: u8,
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), RecordError> {
        debug_assert!(plaintext.len() <= MAX_PLAINTEXT);
        if self.0.seq >= KEY_RECORD_LIMIT {
            return Err(RecordError::KeyExhausted);
        }
        let keys = &mut self.0;
        let start = out.len();
        let (outer, body_len) = match keys.version {
            Version::Tls13 => (content::APPLICATION_DATA, plaintext.len() + 1 + TAG),
            Version::Tls12 if keys.explicit => (typ, EXPLICIT_NONCE + plaintext.len() + TAG),
            Version::Tls12 => (typ, plaintext.len() + TAG),
        };
        out.reserve(HEADER + body_len);
        out.push(outer);
        out.extend_from_slice(&[3, 3]);
        out.extend_from_slice(&(body_len as u16).to_be_bytes());
        let nonce = keys.sequence_nonce();
        let tag = match keys.version {
            Version::Tls13 => {
                out.extend_from_slice(plaintext);
                out.push(typ);
                let mut header = [0u8; HEADER];
                header.copy_from_slice(&out[start..start + HEADER]);
                keys.key.seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(header),
                    &mut out[start + HEADER..],
                )
            }
            Version::Tls12 => {
                let aad = keys.tls12_aad(typ, [3, 3], plaintext.len());
                if keys.explicit {
                    out.extend_from_slice(&nonce[4..]);
                }
                let from = out.len();
                out.extend_from_slice(plaintext);
                keys.key.seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(aad),
                    &mut out[from..],
                )
            }
        }
        // ring refuses only inputs too long for the algorithm, which a record never is;
        // were it to, the plaintext copied in must not stay to be written in clear.
        .map_err(|_| {
            out.truncate(start);
            RecordError::Overflow {
                len: plaintext.len(),
            }
        })?;
        out.extend_from_slice(tag.as_ref());
        keys.seq += 1;
        Ok(())
    }
}

/// One record opened in place: how much of the buffer it took, its content type and
/// where its plaintext lies (relative to the buffer given to [`Opener::open`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// Bytes of the buffer the record occupied, header included.
    pub wire_len: usize,
    /// Its content type (the inner one under TLS 1.3).
    pub typ: u8,
    /// Its plaintext.
    pub plaintext: Range<usize>,
}

/// Checks and decrypts incoming records under the connection's read key.
pub struct Opener(Keys);

impl Opener {
    /// The opener for secrets rustls extracted, starting at sequence number `seq`.
    pub fn new(
        version: ProtocolVersion,
        seq: u64,
        secrets: &ConnectionTrafficSecrets,
    ) -> Result<Opener, RecordError> {
        Keys::new(version, seq, secrets).map(Opener)
    }

    /// Opens the record at the start of `buf` in place (its plaintext moved to the
    /// start of `buf`), or `None` while it has not all arrived.
    pub fn open(&mut self, buf: &mut [u8]) -> Result<Option<Opened>, RecordError> {
        self.open_within(buf, 0, 0)
    }

    /// Opens the record at `buf[at..]`, writing its plaintext from `buf[to..]` (`to <=
    /// at`) in the same pass as the decryption, or `None` while it has not all
    /// arrived. Records read back to back into one buffer thus leave their plaintexts
    /// back to back at its start, with no copy. A record that fails any check is an
    /// error: the connection ends.
    pub fn open_within(
        &mut self,
        buf: &mut [u8],
        at: usize,
        to: usize,
    ) -> Result<Option<Opened>, RecordError> {
        debug_assert!(to <= at);
        let Some(header) = buf.get(at..at + HEADER) else {
            return Ok(None);
        };
        let header: [u8; HEADER] = header.try_into().unwrap_or_default();
        let [typ, v0, v1, l0, l1] = header;
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let keys = &mut self.0;
        // Judged on the header alone, before waiting for the body.
        let (allowed, max) = match keys.version {
            Version::Tls13 => (typ == content::APPLICATION_DATA, MAX_BODY_TLS13),
            Version::Tls12 => (
                matches!(
                    typ,
                    content::ALERT | content::HANDSHAKE | content::APPLICATION_DATA
                ),
                MAX_BODY,
            ),
        };
        if len > max {
            return Err(RecordError::Overflow { len });
        }
        if !allowed {
            return Err(RecordError::UnexpectedType(typ));
        }
        let end = at + HEADER + len;
        if buf.len() < end {
            return Ok(None);
        }
        let in_out = &mut buf[to..end];
        let opened = match keys.version {
            Version::Tls13 => {
                if len < TAG + 1 {
                    return Err(RecordError::Short { len });
                }
                let nonce = keys.sequence_nonce();
                let plain = keys
                    .key
                    .open_within(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::from(header),
                        in_out,
                        at + HEADER - to..,
                    )
                    .map_err(|_| RecordError::BadRecordMac)?;
                // The inner plaintext (content, type, padding) is at most 2^14 + 1.
                if plain.len() > MAX_PLAINTEXT + 1 {
                    return Err(RecordError::Overflow { len: plain.len() });
                }
                // The real type is the last non-zero byte; zeros after it are padding.
                let content_end = plain
                    .iter()
                    .rposition(|&b| b != 0)
                    .ok_or(RecordError::NoContentType)?;
                Opened {
                    wire_len: HEADER + len,
                    typ: plain[content_end],
                    plaintext: to..to + content_end,
                }
            }
            Version::Tls12 => {
                let skip = if keys.explicit { EXPLICIT_NONCE } else { 0 };
                if len < skip + TAG {
                    return Err(RecordError::Short { len });
                }
                let plain_len = len - skip - TAG;
                if plain_len > MAX_PLAINTEXT {
                    return Err(RecordError::Overflow { len: plain_len });
                }
                let mut nonce = keys.sequence_nonce();
                if keys.explicit {
                    let body = at + HEADER - to;
                    nonce[4..].copy_from_slice(&in_out[body..body + EXPLICIT_NONCE]);
                }
                let aad = keys.tls12_aad(typ, [v0, v1], plain_len);
                keys.key
                    .open_within(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::from(aad),
                        in_out,
                        at + HEADER + skip - to..,
                    )
                    .map_err(|_| RecordError::BadRecordMac)?;
                Opened {
                    wire_len: HEADER + len,
                    typ,
                    plaintext: to..to + plain_len,
                }
            }
        };
        keys.seq += 1;
        Ok(Some(opened))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_rustls::rustls::crypto::cipher::{AeadKey, Iv};

    fn secrets(gcm: bool) -> ConnectionTrafficSecrets {
        let key = AeadKey::from([7u8; 32]);
        let iv = Iv::new([9u8; 12]);
        if gcm {
            ConnectionTrafficSecrets::Aes256Gcm { key, iv }
        } else {
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv }
        }
    }

    #[test]
    fn sealed_records_open_and_a_flipped_bit_or_a_replay_is_refused() {
        for version in [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2] {
            for gcm in [true, false] {
                let mut sealer = Sealer::new(version, 5, &secrets(gcm)).unwrap();
                let mut opener = Opener::new(version, 5, &secrets(gcm)).unwrap();
                let mut wire = Vec::new();
                sealer
                    .seal(content::APPLICATION_DATA, b"hello", &mut wire)
                    .unwrap();
                let first = wire.clone();
                sealer
                    .seal(content::APPLICATION_DATA, &[0u8; MAX_PLAINTEXT], &mut wire)
                    .unwrap();
                assert!(wire.len() <= 5 + 2 * OVERHEAD + MAX_PLAINTEXT);
                // Half a record is not yet a record.
                assert_eq!(opener.open(&mut wire[..first.len() - 1]).unwrap(), None);
                let one = opener.open(&mut wire).unwrap().unwrap();
                assert_eq!(one.typ, content::APPLICATION_DATA);
                assert_eq!(&wire[one.plaintext.clone()], b"hello");
                let two = opener.open(&mut wire[one.wire_len..]).unwrap().unwrap();
                assert_eq!(two.plaintext.len(), MAX_PLAINTEXT, "{version:?}");
                // The first record again: its sequence number is spent.
                let mut replay = first.clone();
                assert!(matches!(
                    opener.open(&mut replay),
                    Err(RecordError::BadRecordMac)
                ));
                let mut sealer = Sealer::new(version, 0, &secrets(gcm)).unwrap();
                let mut opener = Opener::new(version, 0, &secrets(gcm)).unwrap();
                let mut wire = Vec::new();
                sealer.seal(content::ALERT, &[1, 0], &mut wire).unwrap();
                let last = wire.len() - 1;
                wire[last] ^= 1;
                assert!(matches!(
                    opener.open(&mut wire),
                    Err(RecordError::BadRecordMac)
                ));
            }
        }
    }

    #[test]
    fn an_oversized_record_is_refused_before_it_arrives() {
        let mut opener = Opener::new(ProtocolVersion::TLSv1_3, 0, &secrets(true)).unwrap();
        let mut header = [23, 3, 3, 0xff, 0xff];
        assert!(matches!(
            opener.open(&mut header),
            Err(RecordError::Overflow { .. })
        ));
        // TLS 1.3 allows 2^14 + 256 bytes of body, TLS 1.2 2^14 + 2048.
        let at_limit = |len: usize| {
            let mut h = vec![23, 3, 3];
            h.extend((len as u16).to_be_bytes());
            h
        };
        assert_eq!(opener.open(&mut at_limit(MAX_BODY_TLS13)).unwrap(), None);
        assert!(matches!(
            opener.open(&mut at_limit(MAX_BODY_TLS13 + 1)),
            Err(RecordError::Overflow { len }) if len == MAX_BODY_TLS13 + 1
        ));
        let mut tls12 = Opener::new(ProtocolVersion::TLSv1_2, 0, &secrets(true)).unwrap();
        assert_eq!(tls12.open(&mut at_limit(MAX_BODY)).unwrap(), None);
        assert!(tls12.open(&mut at_limit(MAX_BODY + 1)).is_err());
        let mut handshake = [22, 3, 3, 0, 20];
        assert!(matches!(
            opener.open(&mut handshake),
            Err(RecordError::UnexpectedType(22))
        ));
    }

    #[test]
    fn a_key_is_retired_after_its_record_limit() {
        let mut sealer = Sealer::new(
            ProtocolVersion::TLSv1_3,
            KEY_RECORD_LIMIT - 2,
            &secrets(true),
        )
        .unwrap();
        let mut wire = Vec::new();
        assert!(!sealer.exhausted());
        sealer
            .seal(content::APPLICATION_DATA, b"x", &mut wire)
            .unwrap();
        assert!(sealer.exhausted());
        // The record that announces the next key is still sealed under this one.
        sealer
            .seal(content::HANDSHAKE, &[24, 0, 0, 1, 0], &mut wire)
            .unwrap();
        assert!(matches!(
            sealer.seal(content::APPLICATION_DATA, b"x", &mut wire),
            Err(RecordError::KeyExhausted)
        ));
    }
}
