//! A member's assignment as Kafka's consumer protocol encodes it (the bytes the
//! leader hands out in SyncGroup), read for the group's description on the HTTP face.

use bytes::{Buf, Bytes};

/// Topic → partitions of an assignment in the consumer protocol; empty when there is
/// none yet or the bytes are not that protocol's (a Connect or custom protocol).
///
/// Read by hand rather than with kafka-protocol's decoder: that one reserves an array's
/// length prefix before reading it, so a member's `7fffffff` count would abort the
/// process. Here every count is checked against the bytes left first. Versions 0..=3 share
/// this layout (newer ones only add fields at the end, which are not read).
pub fn decode(bytes: &Bytes) -> Vec<(String, Vec<i32>)> {
    read(&mut bytes.clone()).unwrap_or_default()
}

/// The assignment's topics, or `None` when the bytes are not a well-formed one.
fn read(buf: &mut Bytes) -> Option<Vec<(String, Vec<i32>)>> {
    if buf.remaining() < 2 || buf.get_i16() < 0 {
        return None;
    }
    // Each topic takes at least a string length (2) and a partition count (4).
    let topics = count(buf, 6)?;
    let mut out = Vec::with_capacity(topics);
    for _ in 0..topics {
        if buf.remaining() < 2 {
            return None;
        }
        let len = usize::try_from(buf.get_i16()).ok()?;
        if buf.remaining() < len {
            return None;
        }
        let topic = String::from_utf8(buf.split_to(len).to_vec()).ok()?;
        let n = count(buf, 4)?;
        let partitions = (0..n).map(|_| buf.get_i32()).collect();
        out.push((topic, partitions));
    }
    Some(out)
}

/// An array's element count (null counts as empty), refused when the bytes left cannot
/// hold that many elements of at least `min` bytes each.
fn count(buf: &mut Bytes, min: usize) -> Option<usize> {
    if buf.remaining() < 4 {
        return None;
    }
    let n = buf.get_i32();
    if n < 0 {
        return Some(0);
    }
    let n = n as usize;
    (n.checked_mul(min)? <= buf.remaining()).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::ConsumerProtocolAssignment;
    use kafka_protocol::messages::TopicName;
    use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition;
    use kafka_protocol::protocol::{Encodable, StrBytes};

    #[test]
    fn reads_a_consumer_assignment_and_ignores_other_bytes() {
        let assignment = ConsumerProtocolAssignment::default().with_assigned_partitions(vec![
            TopicPartition::default()
                .with_topic(TopicName(StrBytes::from_static_str("orders")))
                .with_partitions(vec![0, 2]),
        ]);
        let mut buf = bytes::BytesMut::new();
        bytes::BufMut::put_i16(&mut buf, 1);
        assignment.encode(&mut buf, 1).unwrap();
        assert_eq!(
            decode(&buf.freeze()),
            vec![("orders".to_string(), vec![0, 2])]
        );
        assert!(decode(&Bytes::new()).is_empty());
        assert!(decode(&Bytes::from_static(b"\x00\x01\xff")).is_empty());
    }

    #[test]
    fn a_huge_count_is_refused_before_anything_is_reserved() {
        // Version 0, then a topic count of 2^31-1 with no topics behind it.
        assert!(decode(&Bytes::from_static(b"\x00\x00\x7f\xff\xff\xff")).is_empty());
        // One topic "t" with a partition count of 2^31-1 and one partition behind it.
        let bytes = b"\x00\x00\x00\x00\x00\x01\x00\x01t\x7f\xff\xff\xff\x00\x00\x00\x01";
        assert!(decode(&Bytes::from_static(bytes)).is_empty());
    }
}
