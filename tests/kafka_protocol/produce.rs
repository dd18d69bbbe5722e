//! Produce: idempotent sequences and epochs, acks=0, batch validation.

use crate::common::{Server, http};
use std::io::Write;
use weir::log::batch::{Record, encode_batch};

use crate::helpers::*;

#[test]
fn idempotent_sequences_dedupe_refuse_gaps_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    let (pid, epoch) = init_producer_id(&mut s);
    produce(&mut s, "idem", 1, &idempotent_batch("a", pid, epoch, 0), 1);
    assert_eq!(produce_result(&mut s, "idem"), (0, 0));
    // A retry of the same batch: acknowledged with its offset, not appended.
    produce(&mut s, "idem", 1, &idempotent_batch("a", pid, epoch, 0), 2);
    assert_eq!(produce_result(&mut s, "idem"), (0, 0));
    assert_eq!(high_watermark(&server, "idem"), 1);
    // A gap.
    produce(&mut s, "idem", 1, &idempotent_batch("c", pid, epoch, 5), 3);
    assert_eq!(
        produce_result(&mut s, "idem").0,
        45,
        "OUT_OF_ORDER_SEQUENCE_NUMBER"
    );
    produce(&mut s, "idem", -1, &idempotent_batch("b", pid, epoch, 1), 4);
    assert_eq!(produce_result(&mut s, "idem"), (0, 1));
    drop(s);
    assert!(server.stop());

    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    produce(&mut s, "idem", 1, &idempotent_batch("b", pid, epoch, 1), 5);
    assert_eq!(
        produce_result(&mut s, "idem"),
        (0, 1),
        "duplicate after restart"
    );
    produce(&mut s, "idem", 1, &idempotent_batch("z", pid, epoch, 3), 6);
    assert_eq!(produce_result(&mut s, "idem").0, 45, "gap after restart");
    assert_eq!(high_watermark(&server, "idem"), 2);
    let (next_pid, _) = init_producer_id(&mut s);
    assert!(
        next_pid > pid,
        "producer ids are never reused: {next_pid} after {pid}"
    );
}

#[test]
fn a_producer_the_partition_has_no_state_for_may_start_at_any_sequence() {
    // As after a restart whose active segment no longer holds the producer's
    // batches, or after its window was pruned: Kafka accepts any sequence then.
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    let (pid, epoch) = init_producer_id(&mut s);
    produce(
        &mut s,
        "resume",
        1,
        &idempotent_batch("a", pid, epoch, 41),
        1,
    );
    assert_eq!(produce_result(&mut s, "resume"), (0, 0));
    produce(
        &mut s,
        "resume",
        1,
        &idempotent_batch("b", pid, epoch, 42),
        2,
    );
    assert_eq!(produce_result(&mut s, "resume"), (0, 1));
    // From then on the window applies as usual.
    produce(
        &mut s,
        "resume",
        1,
        &idempotent_batch("a", pid, epoch, 41),
        3,
    );
    assert_eq!(produce_result(&mut s, "resume"), (0, 0), "duplicate");
    produce(
        &mut s,
        "resume",
        1,
        &idempotent_batch("d", pid, epoch, 44),
        4,
    );
    assert_eq!(produce_result(&mut s, "resume").0, 45, "gap");
    assert_eq!(high_watermark(&server, "resume"), 2);
}

#[test]
fn only_the_current_epoch_of_a_producer_id_may_bump_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    let (pid, epoch) = init_producer_id(&mut s);
    assert_eq!(epoch, 0);
    assert_eq!(bump_producer_epoch(&mut s, pid, 0), (0, pid, 1));
    // A fenced instance still at epoch 0 cannot take the id back.
    assert_eq!(
        bump_producer_epoch(&mut s, pid, 0).0,
        47,
        "INVALID_PRODUCER_EPOCH"
    );
    assert_eq!(bump_producer_epoch(&mut s, pid, 1), (0, pid, 2));
    // An id this broker never handed out gets a fresh one.
    let (error, fresh, epoch) = bump_producer_epoch(&mut s, pid + 1000, 3);
    assert_eq!((error, epoch), (0, 0));
    assert!(fresh > pid && fresh != pid + 1000, "{fresh}");
}

#[test]
fn acks_zero_gets_no_response() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    let batch = encode_batch(
        &[Record {
            value: Some(b"fire and forget".to_vec().into()),
            timestamp: 1,
            ..Record::default()
        }],
        0,
    )
    .unwrap();
    produce(&mut s, "quiet", 0, &batch, 1);
    s.write_all(&request(18, 0, 2, &[])).unwrap();
    let r = response(&mut s).unwrap();
    assert_eq!(
        i32_at(&r, 0),
        2,
        "the first response is the ApiVersions one"
    );
    assert_eq!(high_watermark(&server, "quiet"), 1);
}

#[test]
fn corrupt_and_oversized_batches_are_refused_and_nothing_is_appended() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let r = http()
        .post(server.at("/v1/topics"))
        .json(&serde_json::json!({"name": "strict", "partitions": 1, "config": {"max.message.bytes": 200}}))
        .send()
        .unwrap();
    assert!(r.status().is_success());
    let one = |value: &[u8]| {
        encode_batch(
            &[Record {
                value: Some(value.to_vec().into()),
                timestamp: 1,
                ..Record::default()
            }],
            0,
        )
        .unwrap()
    };
    let mut s = connect(&server);
    let mut corrupt = one(b"payload");
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    produce(&mut s, "strict", 1, &corrupt, 1);
    assert_eq!(produce_result(&mut s, "strict").0, 2, "CORRUPT_MESSAGE");
    produce(&mut s, "strict", 1, &one(&[b'x'; 300]), 2);
    assert_eq!(produce_result(&mut s, "strict").0, 10, "MESSAGE_TOO_LARGE");
    assert_eq!(high_watermark(&server, "strict"), 0);
    produce(&mut s, "strict", 1, &one(b"fine"), 3);
    assert_eq!(produce_result(&mut s, "strict"), (0, 0));
}

#[test]
fn compressed_batches_whose_records_disagree_with_their_header_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let record = |value: &[u8]| Record {
        value: Some(value.to_vec().into()),
        timestamp: 1,
        ..Record::default()
    };
    let three = [record(b"a"), record(b"b"), record(b"c")];
    let mut s = connect(&server);
    // Three records under lastOffsetDelta 0: the log would assign one offset
    // and consumers, reading offsets 0..2, would skip the next two appends.
    let narrow = gzip_batch(&three, |b| b[23..27].copy_from_slice(&0i32.to_be_bytes()));
    produce(&mut s, "checked", 1, &narrow, 1);
    assert_eq!(produce_result(&mut s, "checked").0, 87, "INVALID_RECORD");
    // recordCount and lastOffsetDelta say 1000; three records are there.
    let counted = gzip_batch(&three, |b| {
        b[23..27].copy_from_slice(&999i32.to_be_bytes());
        b[57..61].copy_from_slice(&1000i32.to_be_bytes());
    });
    produce(&mut s, "checked", 1, &counted, 2);
    assert_eq!(produce_result(&mut s, "checked").0, 2, "CORRUPT_MESSAGE");
    // Offset deltas 0, 1, 1: the record section lies, the header does not.
    let mut plain = encode_batch(&three, 0).unwrap();
    let (len0, len1) = (
        usize::from(plain[61] / 2),
        usize::from(plain[61 + 1 + plain[61] as usize / 2] / 2),
    );
    let third = 61 + 1 + len0 + 1 + len1;
    assert_eq!(plain[third + 3], 4, "zigzag offset delta 2");
    plain[third + 3] = 2;
    let records_section = plain[61..].to_vec();
    let dup = gzip_batch(&three, |b| {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&records_section).unwrap();
        b.truncate(61);
        b.extend_from_slice(&gz.finish().unwrap());
        let batch_length = (b.len() - 12) as i32;
        b[8..12].copy_from_slice(&batch_length.to_be_bytes());
    });
    produce(&mut s, "checked", 1, &dup, 3);
    assert_eq!(produce_result(&mut s, "checked").0, 87, "INVALID_RECORD");
    // Marked gzip, but not gzip: no consumer could ever read it.
    let mut garbage = encode_batch(&three, 0).unwrap();
    garbage[21..23].copy_from_slice(&1i16.to_be_bytes());
    let crc = crc32c::crc32c(&garbage[21..]);
    garbage[17..21].copy_from_slice(&crc.to_be_bytes());
    produce(&mut s, "checked", 1, &garbage, 4);
    assert_eq!(produce_result(&mut s, "checked").0, 2, "CORRUPT_MESSAGE");
    assert_eq!(high_watermark(&server, "checked"), 0, "nothing appended");
    produce(&mut s, "checked", 1, &gzip_batch(&three, |_| {}), 5);
    assert_eq!(produce_result(&mut s, "checked"), (0, 0));
    assert_eq!(high_watermark(&server, "checked"), 3);
}

#[test]
fn a_client_cannot_produce_with_a_pipelines_producer_id() {
    use crate::common::guests::guest;
    use crate::common::pipeline::{
        call, create_topic, produce as produce_http, upload, wait_caught_up,
    };
    use serde_json::json;

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    create_topic(&server, "in", 1);
    create_topic(&server, "out", 1);
    assert_eq!(upload(&server, "f", &guest("rust", "rust-filter")).0, 201);
    let spec = json!({"name": "p", "inputs": ["in"], "output": "out",
        "steps": [{"module": "f", "config": {"pattern": "keep"}}], "start": "earliest"});
    assert_eq!(call(&server, "POST", "/v1/pipelines", Some(spec)).0, 201);
    produce_http(&server, "in", vec![json!({"value": "keep 1"})]);
    wait_caught_up(&server, "p", 1);
    // On a fresh data directory the pipeline's only task got the first id: 0.
    let mut s = connect(&server);
    produce(&mut s, "out", -1, &idempotent_batch("forged", 0, 0, 1), 9);
    let (code, _) = produce_result(&mut s, "out");
    assert_eq!(code, 49, "INVALID_PRODUCER_ID_MAPPING");
    // A client's own id is another, and works.
    let (pid, epoch) = init_producer_id(&mut s);
    assert_ne!(pid, 0);
    produce(
        &mut s,
        "out",
        -1,
        &idempotent_batch("mine", pid, epoch, 0),
        10,
    );
    assert_eq!(produce_result(&mut s, "out").0, 0);
    assert_eq!(
        high_watermark(&server, "out"),
        2,
        "the pipeline's record and the client's"
    );
}
