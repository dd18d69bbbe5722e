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
use tokio_rustls::rustls::{ConnectionTrafficSecrets, ProtocolVersion};

/// Bytes of a record header: type, version, length.
pub const HEADER: usize = 5;
/// The most plaintext one record carries (2^14, both versions).
pub const MAX_PLAINTEXT: usize = 1 << 14;
/// The most a received record's body may be: TLS 1.2 allows 2^14 + 2048 (RFC 5246
/// §6.2.3), more than TLS 1.3's 2^14 + 256.
pub const MAX_BODY: usize = MAX_PLAINTEXT + 2048;
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

    /// Opens the record at the start of `buf` in place, or `None` while it has not
    /// all arrived. A record that fails any check is an error: the connection ends.
    pub fn open(&mut self, buf: &mut [u8]) -> Result<Option<Opened>, RecordError> {
        if buf.len() < HEADER {
            return Ok(None);
        }
        let typ = buf[0];
        let version = [buf[1], buf[2]];
        let len = usize::from(u16::from_be_bytes([buf[3], buf[4]]));
        if len > MAX_BODY {
            return Err(RecordError::Overflow { len });
        }
        let keys = &mut self.0;
        // Judged on the header alone, before waiting for the body.
        let allowed = match keys.version {
            Version::Tls13 => typ == content::APPLICATION_DATA,
            Version::Tls12 => matches!(
                typ,
                content::ALERT | content::HANDSHAKE | content::APPLICATION_DATA
            ),
        };
        if !allowed {
            return Err(RecordError::UnexpectedType(typ));
        }
        if buf.len() < HEADER + len {
            return Ok(None);
        }
        let (header, rest) = buf.split_at_mut(HEADER);
        let body = &mut rest[..len];
        let opened = match keys.version {
            Version::Tls13 => {
                if len < TAG + 1 {
                    return Err(RecordError::Short { len });
                }
                let mut aad = [0u8; HEADER];
                aad.copy_from_slice(header);
                let nonce = keys.sequence_nonce();
                let plain = keys
                    .key
                    .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), body)
                    .map_err(|_| RecordError::BadRecordMac)?;
                // The real type is the last non-zero byte; zeros after it are padding.
                let end = plain
                    .iter()
                    .rposition(|&b| b != 0)
                    .ok_or(RecordError::NoContentType)?;
                if end > MAX_PLAINTEXT {
                    return Err(RecordError::Overflow { len: end });
                }
                Opened {
                    wire_len: HEADER + len,
                    typ: plain[end],
                    plaintext: HEADER..HEADER + end,
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
                    nonce[4..].copy_from_slice(&body[..EXPLICIT_NONCE]);
                }
                let aad = keys.tls12_aad(typ, version, plain_len);
                keys.key
                    .open_in_place(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::from(aad),
                        &mut body[skip..],
                    )
                    .map_err(|_| RecordError::BadRecordMac)?;
                Opened {
                    wire_len: HEADER + len,
                    typ,
                    plaintext: HEADER + skip..HEADER + skip + plain_len,
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
