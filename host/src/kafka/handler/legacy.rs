//! Request versions Kafka 3.x served that the `kafka-protocol` crate no longer
//! decodes (it follows Kafka 4.0, which dropped them).
//!
//! OffsetCommit v0–1 is what Debian's sarama (1.22) commits with: decoded here
//! into the v2 request the handler takes, and answered in the v2 layout, which
//! v0 and v1 share byte for byte. v1's per-partition commit timestamp only set
//! when Kafka would expire the offset; weir keeps committed offsets until the
//! group is deleted, so it is read and dropped. OffsetFetch v0 has v1's layout
//! both ways and needs no code here.

use anyhow::{Context, bail};
use bytes::{Buf, Bytes};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{GroupId, OffsetCommitRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

/// The OffsetCommit version whose response layout v0 and v1 share.
pub const OFFSET_COMMIT_RESPONSE_VERSION: i16 = 2;

/// Decodes an OffsetCommit v0 or v1 body (trailing bytes ignored, as Kafka does).
pub fn offset_commit(body: &Bytes, version: i16) -> Result<OffsetCommitRequest, anyhow::Error> {
    let mut buf = body.clone();
    let buf = &mut buf;
    let mut req = OffsetCommitRequest::default();
    req.group_id = GroupId(string(buf)?.context("null group id")?);
    if version >= 1 {
        req.generation_id_or_member_epoch = int32(buf)?;
        req.member_id = string(buf)?.unwrap_or_default();
    }
    for _ in 0..int32(buf)?.max(0) {
        let mut topic = OffsetCommitRequestTopic::default();
        topic.name = TopicName(string(buf)?.context("null topic name")?);
        for _ in 0..int32(buf)?.max(0) {
            let mut p = OffsetCommitRequestPartition::default();
            p.partition_index = int32(buf)?;
            p.committed_offset = int64(buf)?;
            if version >= 1 {
                let _commit_timestamp = int64(buf)?;
            }
            p.committed_metadata = string(buf)?;
            topic.partitions.push(p);
        }
        req.topics.push(topic);
    }
    Ok(req)
}

fn need(buf: &Bytes, n: usize) -> Result<(), anyhow::Error> {
    if buf.remaining() < n {
        bail!("{n} bytes wanted, {} left", buf.remaining());
    }
    Ok(())
}

fn int32(buf: &mut Bytes) -> Result<i32, anyhow::Error> {
    need(buf, 4)?;
    Ok(buf.get_i32())
}

fn int64(buf: &mut Bytes) -> Result<i64, anyhow::Error> {
    need(buf, 8)?;
    Ok(buf.get_i64())
}

/// A nullable string: i16 length (-1 = null), then UTF-8.
fn string(buf: &mut Bytes) -> Result<Option<StrBytes>, anyhow::Error> {
    need(buf, 2)?;
    let Ok(len) = usize::try_from(buf.get_i16()) else {
        return Ok(None);
    };
    need(buf, len)?;
    Ok(Some(StrBytes::from_utf8(buf.split_to(len))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kstr(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as i16).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
    }

    #[test]
    fn v1_commits_carry_generation_member_and_a_dropped_timestamp() {
        let mut b = Vec::new();
        kstr(&mut b, "g");
        b.extend_from_slice(&7i32.to_be_bytes());
        kstr(&mut b, "m-1");
        b.extend_from_slice(&1i32.to_be_bytes());
        kstr(&mut b, "t");
        b.extend_from_slice(&1i32.to_be_bytes());
        b.extend_from_slice(&3i32.to_be_bytes());
        b.extend_from_slice(&42i64.to_be_bytes());
        b.extend_from_slice(&(-1i64).to_be_bytes());
        kstr(&mut b, "meta");
        let req = offset_commit(&Bytes::from(b), 1).unwrap();
        assert_eq!(req.group_id.0.as_str(), "g");
        assert_eq!(req.generation_id_or_member_epoch, 7);
        assert_eq!(req.member_id.as_str(), "m-1");
        let p = &req.topics[0].partitions[0];
        assert_eq!((p.partition_index, p.committed_offset), (3, 42));
        assert_eq!(p.committed_metadata.as_ref().unwrap().as_str(), "meta");
    }

    #[test]
    fn v0_commits_are_standalone_and_truncation_is_an_error() {
        let mut b = Vec::new();
        kstr(&mut b, "g");
        b.extend_from_slice(&1i32.to_be_bytes());
        kstr(&mut b, "t");
        b.extend_from_slice(&1i32.to_be_bytes());
        b.extend_from_slice(&0i32.to_be_bytes());
        b.extend_from_slice(&9i64.to_be_bytes());
        b.extend_from_slice(&(-1i16).to_be_bytes());
        let req = offset_commit(&Bytes::from(b.clone()), 0).unwrap();
        assert_eq!(req.generation_id_or_member_epoch, -1);
        assert_eq!(req.member_id.as_str(), "");
        assert_eq!(req.topics[0].partitions[0].committed_offset, 9);
        assert!(req.topics[0].partitions[0].committed_metadata.is_none());
        b.truncate(b.len() - 3);
        assert!(offset_commit(&Bytes::from(b), 0).is_err());
        // A huge declared count costs nothing: the loop stops at the first missing field.
        let mut b = Vec::new();
        kstr(&mut b, "g");
        b.extend_from_slice(&i32::MAX.to_be_bytes());
        assert!(offset_commit(&Bytes::from(b), 0).is_err());
    }
}
