//! Request versions Kafka 3.x served that the `kafka-protocol` crate no longer
//! decodes (it follows Kafka 4.0, which dropped them).
//!
//! OffsetCommit v0–1 is what Debian's sarama (1.22) commits with: decoded here
//! into the v2 request the handler takes, and answered in the v2 layout, which
//! v0 and v1 share byte for byte. v1's per-partition commit timestamp only set
//! when Kafka would expire the offset; weir keeps committed offsets until the
//! group is deleted, so it is read and dropped. OffsetFetch v0 has v1's layout
//! both ways and needs no code here.
//!
//! ListOffsets v0, CreateTopics v0–1, DeleteTopics v0 and DescribeConfigs v0
//! (older admin tools and sarama at old versions) are decoded here or at the
//! next version whose request layout extends theirs, run by the same handlers,
//! and their responses written in the old layout by hand.
//!
//! Produce v0–2 and Fetch v0–3 carry the pre-0.11 message formats, which weir
//! does not store or serve. ApiVersions leaves them out; a client that sends
//! them anyway (sarama at its default version 0.8.2 does, without asking) gets
//! UNSUPPORTED_VERSION for every partition it named, written here by hand.

use anyhow::{Context, bail};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsResponse, DescribeConfigsResponse, ListOffsetsRequest, ListOffsetsResponse,
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

/// Decodes a ListOffsets v0 body as the v1 request, plus each partition's
/// `max_num_offsets` (v0 answers with a list of at most that many offsets).
pub fn list_offsets_v0(body: &Bytes) -> Result<(ListOffsetsRequest, Vec<i32>), anyhow::Error> {
    let mut buf = body.clone();
    let buf = &mut buf;
    let mut req = ListOffsetsRequest::default();
    let mut max_offsets = Vec::new();
    req.replica_id = int32(buf)?.into();
    for _ in 0..int32(buf)?.max(0) {
        let mut topic = ListOffsetsTopic::default();
        topic.name = TopicName(string(buf)?.context("null topic name")?);
        for _ in 0..int32(buf)?.max(0) {
            let mut p = ListOffsetsPartition::default();
            p.partition_index = int32(buf)?;
            p.timestamp = int64(buf)?;
            max_offsets.push(int32(buf)?);
            topic.partitions.push(p);
        }
        req.topics.push(topic);
    }
    Ok((req, max_offsets))
}

/// A ListOffsets v0 response body: per partition an error and the offset
/// found as a one-element list (empty when none, or when none were asked).
pub fn list_offsets_v0_response(resp: &ListOffsetsResponse, max_offsets: &[i32]) -> BytesMut {
    let mut out = BytesMut::new();
    let mut max = max_offsets.iter();
    out.put_i32(resp.topics.len() as i32);
    for t in &resp.topics {
        put_string(&mut out, Some(&t.name.0));
        out.put_i32(t.partitions.len() as i32);
        for p in &t.partitions {
            out.put_i32(p.partition_index);
            out.put_i16(p.error_code);
            let wanted = max.next().copied().unwrap_or(1);
            if p.error_code == 0 && p.offset >= 0 && wanted > 0 {
                out.put_i32(1);
                out.put_i64(p.offset);
            } else {
                out.put_i32(0);
            }
        }
    }
    out
}

/// A CreateTopics v0 (name, error) or v1 (and error message) response body.
pub fn create_topics_response(resp: &CreateTopicsResponse, version: i16) -> BytesMut {
    let mut out = BytesMut::new();
    out.put_i32(resp.topics.len() as i32);
    for t in &resp.topics {
        put_string(&mut out, Some(&t.name.0));
        out.put_i16(t.error_code);
        if version >= 1 {
            let message = t.error_message.as_ref().filter(|_| t.error_code != 0);
            put_string(&mut out, message);
        }
    }
    out
}

/// A DescribeConfigs v0 response body: v1's without synonyms, with
/// `is_default` where v1 has the config source.
pub fn describe_configs_v0_response(resp: &DescribeConfigsResponse) -> BytesMut {
    /// Kafka's DEFAULT_CONFIG source.
    const DEFAULT_CONFIG: i8 = 5;
    let mut out = BytesMut::new();
    out.put_i32(resp.throttle_time_ms);
    out.put_i32(resp.results.len() as i32);
    for r in &resp.results {
        out.put_i16(r.error_code);
        let message = r.error_message.as_ref().filter(|_| r.error_code != 0);
        put_string(&mut out, message);
        out.put_i8(r.resource_type);
        put_string(&mut out, Some(&r.resource_name));
        out.put_i32(r.configs.len() as i32);
        for c in &r.configs {
            put_string(&mut out, Some(&c.name));
            put_string(&mut out, c.value.as_ref());
            out.put_u8(u8::from(c.read_only));
            out.put_u8(u8::from(c.config_source == DEFAULT_CONFIG));
            out.put_u8(u8::from(c.is_sensitive));
        }
    }
    out
}

/// A nullable string: i16 length (-1 = null), then the bytes.
fn put_string(out: &mut BytesMut, s: Option<&StrBytes>) {
    match s {
        Some(s) => {
            out.put_i16(s.len() as i16);
            out.put_slice(s.as_bytes());
        }
        None => out.put_i16(-1),
    }
}

/// The answer to a Produce v0–2 or Fetch v0–3 frame (header included):
/// `code` for every partition, in the version's layout. `None` for other
/// requests, for acks=0 (no answer is read), or when the frame does not decode.
pub fn refuse_old_data_path(api: ApiKey, version: i16, frame: &Bytes, code: i16) -> Option<Bytes> {
    let mut buf = frame.clone();
    if buf.remaining() < 8 {
        return None;
    }
    buf.advance(4); // key, version
    let correlation_id = buf.get_i32();
    string(&mut buf).ok()?; // client id
    let mut out = BytesMut::new();
    out.put_i32(correlation_id);
    match api {
        ApiKey::Produce if version <= 2 => {
            need(&buf, 6).ok()?;
            let acks = buf.get_i16();
            buf.advance(4); // timeout
            let topics = old_topics(&mut buf, |b| {
                need(b, 4)?;
                b.advance(4); // partition index read by the caller
                let len = usize::try_from(int32(b)?).unwrap_or(0);
                need(b, len)?;
                b.advance(len);
                Ok(())
            })
            .ok()?;
            if acks == 0 {
                return None;
            }
            put_topics(&mut out, &topics, |out| {
                out.put_i16(code);
                out.put_i64(-1); // base offset
                if version >= 2 {
                    out.put_i64(-1); // log append time
                }
            });
            if version >= 1 {
                out.put_i32(0); // throttle time
            }
        }
        ApiKey::Fetch if version <= 3 => {
            let fixed = if version >= 3 { 16 } else { 12 };
            need(&buf, fixed).ok()?;
            buf.advance(fixed);
            let topics = old_topics(&mut buf, |b| {
                need(b, 16)?;
                b.advance(16); // partition, offset, max bytes
                Ok(())
            })
            .ok()?;
            if version >= 1 {
                out.put_i32(0); // throttle time
            }
            put_topics(&mut out, &topics, |out| {
                out.put_i16(code);
                out.put_i64(-1); // high watermark
                out.put_i32(0); // no records
            });
        }
        _ => return None,
    }
    Some(out.freeze())
}

/// Topic names and partition indexes of an old request's topic array;
/// `skip` reads past one partition entry, which starts with its index.
fn old_topics(
    buf: &mut Bytes,
    skip: impl Fn(&mut Bytes) -> Result<(), anyhow::Error>,
) -> Result<Vec<(StrBytes, Vec<i32>)>, anyhow::Error> {
    let mut topics = Vec::new();
    for _ in 0..int32(buf)?.max(0) {
        let name = string(buf)?.unwrap_or_default();
        let mut partitions = Vec::new();
        for _ in 0..int32(buf)?.max(0) {
            need(buf, 4)?;
            partitions.push(i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]));
            skip(buf)?;
        }
        topics.push((name, partitions));
    }
    Ok(topics)
}

fn put_topics(out: &mut BytesMut, topics: &[(StrBytes, Vec<i32>)], rest: impl Fn(&mut BytesMut)) {
    out.put_i32(topics.len() as i32);
    for (name, partitions) in topics {
        put_string(out, Some(name));
        out.put_i32(partitions.len() as i32);
        for p in partitions {
            out.put_i32(*p);
            rest(out);
        }
    }
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
    fn old_produce_and_fetch_get_unsupported_version_for_every_partition() {
        let mut f = vec![0, 0, 0, 2, 0, 0, 0, 9];
        kstr(&mut f, "client");
        f.extend_from_slice(&1i16.to_be_bytes()); // acks
        f.extend_from_slice(&1000i32.to_be_bytes());
        f.extend_from_slice(&1i32.to_be_bytes());
        kstr(&mut f, "t");
        f.extend_from_slice(&1i32.to_be_bytes());
        f.extend_from_slice(&4i32.to_be_bytes());
        f.extend_from_slice(&3i32.to_be_bytes());
        f.extend_from_slice(b"abc");
        let r = refuse_old_data_path(ApiKey::Produce, 2, &Bytes::from(f.clone()), 35).unwrap();
        let mut want = 9i32.to_be_bytes().to_vec();
        want.extend_from_slice(&1i32.to_be_bytes());
        kstr(&mut want, "t");
        want.extend_from_slice(&1i32.to_be_bytes());
        want.extend_from_slice(&4i32.to_be_bytes());
        want.extend_from_slice(&35i16.to_be_bytes());
        want.extend_from_slice(&(-1i64).to_be_bytes());
        want.extend_from_slice(&(-1i64).to_be_bytes());
        want.extend_from_slice(&0i32.to_be_bytes());
        assert_eq!(&r[..], &want[..]);
        // acks=0: nothing to answer; truncated: no answer either.
        f[8 + 8] = 0;
        f[8 + 9] = 0;
        assert!(refuse_old_data_path(ApiKey::Produce, 2, &Bytes::from(f.clone()), 35).is_none());
        f.truncate(f.len() - 1);
        assert!(refuse_old_data_path(ApiKey::Produce, 2, &Bytes::from(f), 35).is_none());

        let mut f = vec![0, 1, 0, 0, 0, 0, 0, 3];
        kstr(&mut f, "c");
        f.extend_from_slice(&[0xff; 12]); // replica, max wait, min bytes
        f.extend_from_slice(&1i32.to_be_bytes());
        kstr(&mut f, "t");
        f.extend_from_slice(&1i32.to_be_bytes());
        f.extend_from_slice(&0i32.to_be_bytes());
        f.extend_from_slice(&[0; 12]); // offset, max bytes
        let r = refuse_old_data_path(ApiKey::Fetch, 0, &Bytes::from(f), 35).unwrap();
        let mut want = 3i32.to_be_bytes().to_vec();
        want.extend_from_slice(&1i32.to_be_bytes());
        kstr(&mut want, "t");
        want.extend_from_slice(&1i32.to_be_bytes());
        want.extend_from_slice(&0i32.to_be_bytes());
        want.extend_from_slice(&35i16.to_be_bytes());
        want.extend_from_slice(&(-1i64).to_be_bytes());
        want.extend_from_slice(&0i32.to_be_bytes());
        assert_eq!(&r[..], &want[..]);
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
