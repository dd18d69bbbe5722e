//! What one produced batch may make the broker decode: a gzip batch of a few KB
//! inflating to millions of empty headers or records is refused while it is
//! decoded, with the Kafka error naming why, and the connection goes on serving.

use crate::common::{Server, peak_rss_kib};
use std::io::Write as _;
use weir::log::batch::{Record, encode_batch};
use weir::log::varint::put_varint;

use crate::helpers::*;

fn start_with(dir: &std::path::Path, kafka: &str) -> Server {
    let config = dir.join("weir.toml");
    std::fs::write(&config, format!("[kafka]\n{kafka}")).unwrap();
    Server::start(&dir.join("data"), &["--config", config.to_str().unwrap()])
}

/// A gzip batch (best compression) whose records section is `section`, holding `count` records.
fn gzip_section(count: i32, section: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(section).unwrap();
    gzip_batch(&[one(b"x")], |b| {
        b.truncate(61);
        b.extend_from_slice(&gz.finish().unwrap());
        let batch_length = (b.len() - 12) as i32;
        b[8..12].copy_from_slice(&batch_length.to_be_bytes());
        b[23..27].copy_from_slice(&(count - 1).to_be_bytes());
        b[57..61].copy_from_slice(&count.to_be_bytes());
    })
}

/// The attack: one keyless, valueless record with `headers` empty headers (two
/// bytes each), 8 M of them gzipped to about 16 KB.
fn header_bomb(headers: i32) -> Vec<u8> {
    let mut record = vec![0u8, 0, 0]; // attributes, timestamp delta, offset delta
    put_varint(&mut record, -1);
    put_varint(&mut record, -1);
    put_varint(&mut record, headers);
    for _ in 0..headers {
        record.extend_from_slice(&[0, 1]); // empty key, null value
    }
    let mut section = Vec::new();
    put_varint(&mut section, record.len() as i32);
    section.extend_from_slice(&record);
    gzip_section(1, &section)
}

/// `count` empty records (attributes, deltas, null key and value, no headers).
fn record_bomb(count: i32) -> Vec<u8> {
    let mut section = Vec::new();
    for i in 0..count {
        let mut record = vec![0u8, 0];
        put_varint(&mut record, i);
        put_varint(&mut record, -1);
        put_varint(&mut record, -1);
        put_varint(&mut record, 0);
        put_varint(&mut section, record.len() as i32);
        section.extend_from_slice(&record);
    }
    gzip_section(count, &section)
}

fn one(value: &[u8]) -> Record {
    Record {
        value: Some(value.to_vec().into()),
        timestamp: 1,
        ..Record::default()
    }
}

#[test]
fn a_16_kb_gzip_batch_of_8_m_empty_headers_is_refused_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut s = connect(&server);
    produce(
        &mut s,
        "bombed",
        1,
        &encode_batch(&[one(b"first")], 0).unwrap(),
        1,
    );
    assert_eq!(produce_result(&mut s, "bombed"), (0, 0));
    let before = peak_rss_kib(server.child.id());
    let bomb = header_bomb(8 << 20);
    assert!(bomb.len() < 20 << 10, "the attack is {} bytes", bomb.len());
    for correlation in 2..5 {
        produce(&mut s, "bombed", 1, &bomb, correlation);
        assert_eq!(
            produce_result(&mut s, "bombed").0,
            87,
            "INVALID_RECORD: over kafka.max_headers_per_record"
        );
    }
    // Accepted whole, this cost +496 MB, and as much again on every consume.
    let grown_mib = peak_rss_kib(server.child.id()).saturating_sub(before) / 1024;
    assert!(grown_mib < 100, "the refused batches cost {grown_mib} MiB");
    // The connection serves on, and nothing of the bomb was appended.
    produce(
        &mut s,
        "bombed",
        1,
        &encode_batch(&[one(b"next")], 0).unwrap(),
        5,
    );
    assert_eq!(produce_result(&mut s, "bombed"), (0, 1));
    assert_eq!(high_watermark(&server, "bombed"), 2);
}

#[test]
fn decompressed_size_and_records_per_batch_are_bounded_as_configured() {
    let dir = tempfile::tempdir().unwrap();
    // Topics keep the default max.message.bytes (1 MB): a batch may inflate to 4 MB.
    let server = start_with(
        dir.path(),
        "max_decompressed_multiple = 4\nmax_records_per_batch = 1000\nmax_headers_per_record = 100000000\n",
    );
    let mut s = connect(&server);
    // 16 MB of headers, allowed by count, is over the 4 MB inflated: stopped there.
    produce(&mut s, "bounded", 1, &header_bomb(8 << 20), 1);
    assert_eq!(produce_result(&mut s, "bounded").0, 10, "MESSAGE_TOO_LARGE");
    // 3 MB of headers inflate within the bound.
    produce(&mut s, "bounded", 1, &header_bomb(3 << 19), 2);
    assert_eq!(produce_result(&mut s, "bounded"), (0, 0));
    produce(&mut s, "bounded", 1, &record_bomb(1001), 3);
    assert_eq!(
        produce_result(&mut s, "bounded").0,
        87,
        "INVALID_RECORD: over kafka.max_records_per_batch"
    );
    produce(&mut s, "bounded", 1, &record_bomb(1000), 4);
    assert_eq!(produce_result(&mut s, "bounded"), (0, 1));
    assert_eq!(high_watermark(&server, "bounded"), 1001);
}
