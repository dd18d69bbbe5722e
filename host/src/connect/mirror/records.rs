//! MM2's records in its byte layouts (Kafka's `protocol.types` Struct encoding: STRING is an
//! int16 length and UTF-8, integers big-endian), as `OffsetSync`, `Checkpoint` and
//! `Heartbeat` in `connect-mirror`/`connect-mirror-client` write and read them.

/// An offset sync (`mm2-offset-syncs.<target>.internal`): upstream offset `upstream` of a
/// source partition is offset `downstream` of its copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetSync {
    /// The source topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset on the source.
    pub upstream: i64,
    /// The same record's offset on the target.
    pub downstream: i64,
}

/// A consumer group's translated position (`<source>.checkpoints.internal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The group.
    pub group: String,
    /// The topic on the target (the remote topic's name).
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The group's committed offset on the source.
    pub upstream: i64,
    /// The translated offset on the target.
    pub downstream: i64,
    /// The commit's metadata.
    pub metadata: String,
}

/// A heartbeat (`heartbeats`): cluster `source` reached cluster `target` at `timestamp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// The source alias.
    pub source: String,
    /// The target alias.
    pub target: String,
    /// When (ms since the epoch).
    pub timestamp: i64,
}

/// The value layout version MM2 writes before a checkpoint's and a heartbeat's value.
const VERSION: i16 = 0;

fn string(out: &mut Vec<u8>, s: &str) {
    // A Kafka STRING is at most i16::MAX bytes; topic and group names are far shorter
    // (249 and the broker's limits), metadata is cut rather than corrupt the layout.
    let b = &s.as_bytes()[..s.len().min(i16::MAX as usize)];
    out.extend_from_slice(&(b.len() as i16).to_be_bytes());
    out.extend_from_slice(b);
}

/// Why bytes are not a record of MM2's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an MM2 {what} record: {why}")]
pub struct DecodeError {
    what: &'static str,
    why: &'static str,
}

struct Reader<'a> {
    b: &'a [u8],
    what: &'static str,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        if self.b.len() < n {
            return Err(DecodeError {
                what: self.what,
                why: "too short",
            });
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn i16(&mut self) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(
            self.take(2)?.try_into().unwrap_or_default(),
        ))
    }
    fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().unwrap_or_default(),
        ))
    }
    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(
            self.take(8)?.try_into().unwrap_or_default(),
        ))
    }
    fn string(&mut self) -> Result<String, DecodeError> {
        let n = self.i16()?;
        let what = self.what;
        let bad = |why| DecodeError { what, why };
        let n = usize::try_from(n).map_err(|_| bad("negative string length"))?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| bad("a string is not UTF-8"))
    }
}

impl OffsetSync {
    /// The record's key and value.
    pub fn encode(&self) -> (Vec<u8>, Vec<u8>) {
        let mut key = Vec::with_capacity(self.topic.len() + 6);
        string(&mut key, &self.topic);
        key.extend_from_slice(&self.partition.to_be_bytes());
        let mut value = Vec::with_capacity(16);
        value.extend_from_slice(&self.upstream.to_be_bytes());
        value.extend_from_slice(&self.downstream.to_be_bytes());
        (key, value)
    }

    /// A record's key and value read back.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<OffsetSync, DecodeError> {
        let what = "offset-sync";
        let mut k = Reader { b: key, what };
        let mut v = Reader { b: value, what };
        Ok(OffsetSync {
            topic: k.string()?,
            partition: k.i32()?,
            upstream: v.i64()?,
            downstream: v.i64()?,
        })
    }
}

impl Checkpoint {
    /// The record's key and value.
    pub fn encode(&self) -> (Vec<u8>, Vec<u8>) {
        let mut key = Vec::new();
        string(&mut key, &self.group);
        string(&mut key, &self.topic);
        key.extend_from_slice(&self.partition.to_be_bytes());
        let mut value = Vec::new();
        value.extend_from_slice(&VERSION.to_be_bytes());
        value.extend_from_slice(&self.upstream.to_be_bytes());
        value.extend_from_slice(&self.downstream.to_be_bytes());
        string(&mut value, &self.metadata);
        (key, value)
    }

    /// A record's key and value read back.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Checkpoint, DecodeError> {
        let what = "checkpoint";
        let mut k = Reader { b: key, what };
        let mut v = Reader { b: value, what };
        let (group, topic, partition) = (k.string()?, k.string()?, k.i32()?);
        v.i16()?;
        Ok(Checkpoint {
            group,
            topic,
            partition,
            upstream: v.i64()?,
            downstream: v.i64()?,
            metadata: v.string()?,
        })
    }
}

impl Heartbeat {
    /// The record's key and value.
    pub fn encode(&self) -> (Vec<u8>, Vec<u8>) {
        let mut key = Vec::new();
        string(&mut key, &self.source);
        string(&mut key, &self.target);
        let mut value = Vec::with_capacity(10);
        value.extend_from_slice(&VERSION.to_be_bytes());
        value.extend_from_slice(&self.timestamp.to_be_bytes());
        (key, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_sync_bytes() {
        let s = OffsetSync {
            topic: "t".into(),
            partition: 2,
            upstream: 5,
            downstream: 7,
        };
        let (k, v) = s.encode();
        assert_eq!(k, [0, 1, b't', 0, 0, 0, 2]);
        assert_eq!(v, [0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 7]);
        assert_eq!(OffsetSync::decode(&k, &v).unwrap(), s);
        assert!(OffsetSync::decode(&k[..3], &v).is_err());
    }

    #[test]
    fn checkpoint_and_heartbeat_bytes() {
        let c = Checkpoint {
            group: "g".into(),
            topic: "a.t".into(),
            partition: 0,
            upstream: 10,
            downstream: 8,
            metadata: "".into(),
        };
        let (k, v) = c.encode();
        assert_eq!(k, [0, 1, b'g', 0, 3, b'a', b'.', b't', 0, 0, 0, 0]);
        assert_eq!(v.len(), 2 + 8 + 8 + 2);
        assert_eq!(&v[..2], [0, 0]);
        assert_eq!(Checkpoint::decode(&k, &v).unwrap(), c);
        let (k, v) = Heartbeat {
            source: "a".into(),
            target: "b".into(),
            timestamp: 1,
        }
        .encode();
        assert_eq!(k, [0, 1, b'a', 0, 1, b'b']);
        assert_eq!(v, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    }
}
