//! The catalog's records: keys and versioned values of `_weir_modules` and
//! `_weir_pipelines` (the layout ARCHITECTURE.md documents).
//!
//! Every value starts with a format byte ([`FORMAT`]); a reader skips (and counts) a
//! value of a format it does not know, so a later release can change a layout without
//! older nodes misreading it. Metadata is JSON after the byte so that `kcat` shows it.
//!
//! `_weir_modules` keys (module names hold no `/`, see `spec::check_name`):
//! - `NAME/VERSION`: the manifest, a [`Manifest`] (the version's record and how many
//!   chunks hold its bytes). Written after its chunks, in the same transaction.
//! - `NAME/VERSION/INDEX`: chunk `INDEX` (from 0) of the bytes, raw after the byte.
//! - `NAME`: the name's [`Counter`], the next version number, so a deleted newest version's
//!   number is never given again even once compaction has dropped its tombstone.
//!
//! `_weir_pipelines` keys are pipeline names; the value is the [`PipelineRecord`] with its
//! deployment history. A tombstone (null value) deletes, in both topics.

use serde::{Deserialize, Serialize};

use crate::pipeline::registry::ModuleVersion;
use crate::pipeline::store::PipelineRecord;

/// The format byte of every value this release writes.
pub const FORMAT: u8 = 1;

/// What a `_weir_modules` key names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleKey {
    /// A version's manifest.
    Manifest {
        /// Module name.
        name: String,
        /// Version.
        version: u32,
    },
    /// One chunk of a version's bytes.
    Chunk {
        /// Module name.
        name: String,
        /// Version.
        version: u32,
        /// Chunk index, from 0.
        index: u32,
    },
    /// A name's next version number.
    Counter {
        /// Module name.
        name: String,
    },
}

impl ModuleKey {
    /// The key as bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ModuleKey::Manifest { name, version } => format!("{name}/{version}"),
            ModuleKey::Chunk {
                name,
                version,
                index,
            } => format!("{name}/{version}/{index}"),
            ModuleKey::Counter { name } => name.clone(),
        }
        .into_bytes()
    }

    /// A key read from the topic.
    pub fn decode(bytes: &[u8]) -> Result<ModuleKey, Malformed> {
        let text = std::str::from_utf8(bytes).map_err(|_| Malformed::Key)?;
        let mut parts = text.split('/');
        let name = parts
            .next()
            .filter(|n| !n.is_empty())
            .ok_or(Malformed::Key)?;
        let number = |p: Option<&str>| p.map(|p| p.parse::<u32>().map_err(|_| Malformed::Key));
        let key = match (number(parts.next()), number(parts.next()), parts.next()) {
            (None, None, None) => ModuleKey::Counter { name: name.into() },
            (Some(version), None, None) => ModuleKey::Manifest {
                name: name.into(),
                version: version?,
            },
            (Some(version), Some(index), None) => ModuleKey::Chunk {
                name: name.into(),
                version: version?,
                index: index?,
            },
            _ => return Err(Malformed::Key),
        };
        Ok(key)
    }
}

/// A module version's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The version's record (name, version, SHA-256 digest, world, size, time).
    pub module: ModuleVersion,
    /// How many chunk records hold its bytes, in index order before the manifest.
    pub chunks: u32,
}

/// A module name's next version number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    /// The number the next upload of the name gets (at least).
    pub next_version: u32,
}

/// Why a record of a catalog topic was skipped.
#[derive(Debug, thiserror::Error)]
pub enum Malformed {
    /// The key is missing or not a catalog key.
    #[error("the key is not NAME, NAME/VERSION or NAME/VERSION/CHUNK")]
    Key,
    /// The value is empty (no format byte).
    #[error("the value is empty")]
    Empty,
    /// The value is of a format this release does not read.
    #[error("the value's format {0} is unknown (this release reads {FORMAT})")]
    Format(u8),
    /// The value's metadata does not decode.
    #[error("the value does not decode: {0}")]
    Json(#[source] serde_json::Error),
    /// The value is larger than a catalog record may be.
    #[error("the value is {size} bytes, over the {max}-byte limit")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The record contradicts its key or the records before it.
    #[error("{0}")]
    Inconsistent(&'static str),
}

impl Malformed {
    /// A short name for why, as `GET /v1/cluster` counts skipped records.
    pub fn code(&self) -> &'static str {
        match self {
            Malformed::Key => "key",
            Malformed::Empty => "empty",
            Malformed::Format(_) => "format",
            Malformed::Json(_) => "json",
            Malformed::TooLarge { .. } => "too_large",
            Malformed::Inconsistent(_) => "inconsistent",
        }
    }
}

/// `value` behind the format byte, as JSON.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![FORMAT];
    // Serialising these plain structs into a Vec cannot fail.
    serde_json::to_writer(&mut out, value).unwrap_or_default();
    out
}

/// `bytes` behind the format byte.
pub fn encode_raw(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 1);
    out.push(FORMAT);
    out.extend_from_slice(bytes);
    out
}

/// The payload of a value, after its format byte is checked.
pub fn payload(value: &[u8]) -> Result<&[u8], Malformed> {
    match value.split_first() {
        None => Err(Malformed::Empty),
        Some((&FORMAT, rest)) => Ok(rest),
        Some((&other, _)) => Err(Malformed::Format(other)),
    }
}

/// A JSON value after its format byte.
pub fn decode<T: serde::de::DeserializeOwned>(value: &[u8]) -> Result<T, Malformed> {
    serde_json::from_slice(payload(value)?).map_err(Malformed::Json)
}

/// A pipeline record read from `_weir_pipelines` under `key`, checked to be one a node
/// can run: named as its key, with a current deployment.
pub fn decode_pipeline(key: &[u8], value: &[u8]) -> Result<PipelineRecord, Malformed> {
    let record: PipelineRecord = decode(value)?;
    if record.spec.name.as_bytes() != key {
        return Err(Malformed::Inconsistent("the record's name is not its key"));
    }
    if record.history.is_empty() || record.specs.len() != record.history.len() {
        return Err(Malformed::Inconsistent(
            "the record has no current deployment, or a spec missing from its history",
        ));
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_junk_is_refused() {
        for key in [
            ModuleKey::Manifest {
                name: "f".into(),
                version: 3,
            },
            ModuleKey::Chunk {
                name: "f.x-1".into(),
                version: 3,
                index: 12,
            },
            ModuleKey::Counter { name: "f".into() },
        ] {
            assert_eq!(ModuleKey::decode(&key.encode()).unwrap(), key);
        }
        for junk in [&b""[..], b"/1", b"f/x", b"f/1/2/3", b"f/1/", b"\xff"] {
            assert!(ModuleKey::decode(junk).is_err(), "{junk:?}");
        }
    }

    #[test]
    fn values_carry_their_format() {
        let c = Counter { next_version: 4 };
        let bytes = encode(&c);
        assert_eq!(bytes[0], FORMAT);
        assert_eq!(decode::<Counter>(&bytes).unwrap(), c);
        assert!(matches!(decode::<Counter>(&[]), Err(Malformed::Empty)));
        assert!(matches!(
            decode::<Counter>(&[9, b'{', b'}']),
            Err(Malformed::Format(9))
        ));
        assert!(matches!(
            decode::<Counter>(&[FORMAT, b'x']),
            Err(Malformed::Json(_))
        ));
        assert_eq!(payload(&encode_raw(b"abc")).unwrap(), b"abc");
    }
}
