//! Request bodies decoded as liberally as Apache Kafka decodes them.
//!
//! Kafka's broker reads the fields a version defines and ignores whatever
//! follows them, and it skips tagged fields it does not know. Clients rely on
//! both: librdkafka reserves a 4-byte slot for an array count and, when the
//! array is null in a flexible version, writes the 1-byte null marker into it
//! and leaves the other 3 bytes as zeros. It does so for Metadata v9+ asking
//! for all topics (every release up to today's) and for OffsetFetch v6–7
//! asking for every partition of a group (2.0.x, Debian's). Read straight,
//! such a body decodes with the real flags shifted 3 bytes to the right and 3
//! bytes left over; for those two requests the slot is mended first, so
//! `allow_auto_topic_creation` and `require_stable` keep the client's values.
//! Anything else left over is ignored, as Kafka does: librdkafka 2.0.x also
//! writes the top-level tag count of ListGroups v4 twice.
//!
//! None of this costs memory: the body is already in memory, bounded by
//! `max_frame_bytes`, and leftover bytes are neither copied nor kept.

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::Decodable;

/// What decoding a body gave.
#[derive(Debug)]
pub struct Decoded<T> {
    /// The request.
    pub value: T,
    /// Bytes after the last field, ignored (0 for a well-formed body).
    pub ignored: usize,
}

/// Decodes `body` as `T` at `version`: fields Kafka defines, unknown tagged
/// fields skipped, trailing bytes ignored, librdkafka's null-array slot mended.
/// An error only when the fields themselves do not decode.
pub fn decode<T: Decodable>(
    api: ApiKey,
    version: i16,
    body: &Bytes,
) -> Result<Decoded<T>, anyhow::Error> {
    // The mended reading comes first: read straight, librdkafka's Metadata v10
    // with auto-creation on decodes without error, its flag taken for a tag.
    // A well-formed body that starts with the same four zeros (all topics, both
    // flags off, no tags) no longer decodes once 3 bytes are gone: read as is.
    if let Some(at) = null_array_slot(api, version, body)
        && body.get(at..at + 4) == Some(&[0, 0, 0, 0][..])
    {
        let mut mended = BytesMut::with_capacity(body.len() - 3);
        mended.extend_from_slice(&body[..=at]);
        mended.extend_from_slice(&body[at + 4..]);
        if let Ok(d @ Decoded { ignored: 0, .. }) = decode_exact::<T>(&mended.freeze(), version) {
            return Ok(d);
        }
    }
    decode_exact::<T>(body, version)
}

fn decode_exact<T: Decodable>(body: &Bytes, version: i16) -> Result<Decoded<T>, anyhow::Error> {
    let mut buf = body.clone();
    let value = T::decode(&mut buf, version)?;
    Ok(Decoded {
        value,
        ignored: buf.remaining(),
    })
}

/// Where librdkafka writes a null compact array into a 4-byte slot, for the
/// requests and versions it does so in.
fn null_array_slot(api: ApiKey, version: i16, body: &[u8]) -> Option<usize> {
    match api {
        // Topics is the first field.
        ApiKey::Metadata if version >= 9 => Some(0),
        // Topics follows the group id, a compact string (length + 1, then bytes).
        ApiKey::OffsetFetch if (6..=7).contains(&version) => {
            let (len_plus_one, width) = uvarint(body)?;
            let len = usize::try_from(len_plus_one.checked_sub(1)?).ok()?;
            width.checked_add(len)
        }
        _ => None,
    }
}

/// An unsigned varint and its width in bytes.
fn uvarint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, b) in bytes.iter().take(5).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{ListGroupsRequest, MetadataRequest, OffsetFetchRequest};

    /// Metadata v12 for all topics as librdkafka writes it: null marker, the
    /// rest of its 4-byte slot, AllowAutoTopicCreation, topic ops, tags.
    #[test]
    fn librdkafka_metadata_all_topics_keeps_its_flags() {
        let body = Bytes::from_static(&[0, 0, 0, 0, 1, 0, 0]);
        let d: Decoded<MetadataRequest> = decode(ApiKey::Metadata, 12, &body).unwrap();
        assert_eq!(d.ignored, 0);
        assert!(d.value.topics.is_none());
        assert!(d.value.allow_auto_topic_creation);
        // v10 has one more flag, which a straight read would take as a tag count.
        let body = Bytes::from_static(&[0, 0, 0, 0, 1, 0, 1, 0]);
        let d: Decoded<MetadataRequest> = decode(ApiKey::Metadata, 10, &body).unwrap();
        assert!(d.value.allow_auto_topic_creation);
        assert!(d.value.include_topic_authorized_operations);
    }

    #[test]
    fn a_well_formed_all_topics_body_is_read_as_is() {
        let body = Bytes::from_static(&[0, 0, 0, 0]);
        let d: Decoded<MetadataRequest> = decode(ApiKey::Metadata, 12, &body).unwrap();
        assert_eq!(d.ignored, 0);
        assert!(!d.value.allow_auto_topic_creation);
        let body = Bytes::from_static(&[0, 0, 0, 0, 0]);
        let d: Decoded<MetadataRequest> = decode(ApiKey::Metadata, 10, &body).unwrap();
        assert_eq!(d.ignored, 0);
        assert!(d.value.topics.is_none());
    }

    #[test]
    fn librdkafka_offset_fetch_of_every_partition_keeps_require_stable() {
        // Group "g", null topics in a 4-byte slot, RequireStable, tags.
        let body = Bytes::from_static(&[2, b'g', 0, 0, 0, 0, 1, 0]);
        let d: Decoded<OffsetFetchRequest> = decode(ApiKey::OffsetFetch, 7, &body).unwrap();
        assert_eq!(d.ignored, 0);
        assert_eq!(d.value.group_id.0.as_str(), "g");
        assert!(d.value.topics.is_none());
        assert!(d.value.require_stable);
    }

    #[test]
    fn trailing_bytes_and_unknown_tags_are_ignored() {
        // ListGroups v4: empty states filter, tags, and librdkafka 2.0's second tags byte.
        let body = Bytes::from_static(&[1, 0, 0]);
        let d: Decoded<ListGroupsRequest> = decode(ApiKey::ListGroups, 4, &body).unwrap();
        assert_eq!(d.ignored, 1);
        // Tag 7 of 3 bytes and tag 9 of 0 bytes: skipped.
        let body = Bytes::from_static(&[1, 2, 7, 3, 1, 2, 3, 9, 0]);
        let d: Decoded<ListGroupsRequest> = decode(ApiKey::ListGroups, 4, &body).unwrap();
        assert_eq!(d.ignored, 0);
        assert!(d.value.states_filter.is_empty());
    }

    #[test]
    fn fields_that_do_not_decode_are_still_an_error() {
        let body = Bytes::from_static(&[5, b'a']);
        assert!(decode::<ListGroupsRequest>(ApiKey::ListGroups, 4, &body).is_err());
        let body = Bytes::from_static(&[9, b'g', 0, 0, 0]);
        assert!(decode::<OffsetFetchRequest>(ApiKey::OffsetFetch, 7, &body).is_err());
    }
}
