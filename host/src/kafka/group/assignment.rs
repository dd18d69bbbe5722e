//! A member's assignment as Kafka's consumer protocol encodes it (the bytes the
//! leader hands out in SyncGroup), read for the group's description on the HTTP face.

use bytes::Bytes;
use kafka_protocol::messages::ConsumerProtocolAssignment;
use kafka_protocol::protocol::Decodable;

/// The newest ConsumerProtocolAssignment version kafka-protocol reads; newer ones
/// only add fields at the end, so they are read as this one.
const NEWEST: i16 = 3;

/// Topic → partitions of an assignment in the consumer protocol; empty when there is
/// none yet or the bytes are not that protocol's (a Connect or custom protocol).
pub fn decode(bytes: &Bytes) -> Vec<(String, Vec<i32>)> {
    let mut buf = bytes.clone();
    if buf.len() < 2 {
        return Vec::new();
    }
    let version = i16::from_be_bytes([buf[0], buf[1]]);
    let _ = bytes::Buf::get_i16(&mut buf);
    if version < 0 {
        return Vec::new();
    }
    match ConsumerProtocolAssignment::decode(&mut buf, version.min(NEWEST)) {
        Ok(a) => a
            .assigned_partitions
            .into_iter()
            .map(|tp| (tp.topic.to_string(), tp.partitions))
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
