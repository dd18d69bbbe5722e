//! FileStreamSource → topic → FileStreamSink through Connect's REST API: the output file is
//! byte-identical to the input, also when the host is SIGKILLed again and again while lines
//! flow (no line lost, none twice); the source follows lines appended later; a connector
//! denied a directory it was not granted fails alone, logged and counted.

mod common;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde_json::json;

use common::connect::{call, create, start, wait_status};
use common::{Server, create_topic, http, wait_until};

/// Lines in all: issue 14's million.
const LINES: usize = 1_000_000;
/// Lines appended between two kills.
const CHUNK: usize = LINES / 10;

/// The `i`th tenth of the lines, of varying length.
fn chunk(i: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for n in i * CHUNK..(i + 1) * CHUNK {
        writeln!(out, "line {n:06} {}", "x".repeat(n % 37)).unwrap();
    }
    out
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
}

fn len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn high_watermark(s: &Server, topic: &str) -> i64 {
    let t: serde_json::Value = http()
        .get(s.at(&format!("/v1/topics/{topic}")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    t["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["high_watermark"].as_i64().unwrap())
        .sum()
}

#[test]
fn lines_arrive_byte_identical_across_ten_sigkills() {
    let dir = tempfile::tempdir().unwrap();
    let (inbox, outbox, data) = (
        dir.path().join("in"),
        dir.path().join("out"),
        dir.path().join("data"),
    );
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::create_dir_all(&outbox).unwrap();
    let (input, output) = (inbox.join("lines.txt"), outbox.join("copy.txt"));
    append(&input, &chunk(0));

    let mut s = start(&data);
    create_topic(&s, "lines", 1);
    create(
        &s,
        "file-in",
        json!({
            "connector.class": "FileStreamSource",
            "file": input,
            "topic": "lines",
            "weir.allow.dirs": format!("{}:ro", inbox.display()),
        }),
    );
    create(
        &s,
        "file-out",
        json!({
            "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
            "file": output,
            "topics": "lines",
            "weir.allow.dirs": outbox.display().to_string(),
        }),
    );
    let mut expected = chunk(0);
    for i in 1..=10 {
        // Some lines of the new chunk reach the output, then the host dies mid-stream.
        let before = len(&output);
        if i < 10 {
            let more = chunk(i);
            append(&input, &more);
            expected.extend_from_slice(&more);
        }
        assert!(
            wait_until(Duration::from_secs(60), || len(&output) > before),
            "kill {i}: the output did not grow past {before} bytes"
        );
        s.kill();
        s = start(&data);
    }
    // A restarted sink truncates what it wrote after its last commit and writes it again, so
    // the file may shrink for a moment; it is never longer than the input (a line twice) and
    // ends equal to it.
    assert!(
        wait_until(Duration::from_secs(600), || high_watermark(&s, "lines")
            >= LINES as i64),
        "the topic never got every line"
    );
    assert_eq!(
        high_watermark(&s, "lines"),
        LINES as i64,
        "each line once in the topic"
    );
    let mut longest = 0;
    let same = wait_until(Duration::from_secs(600), || {
        let got = std::fs::read(&output).unwrap_or_default();
        longest = longest.max(got.len());
        assert!(
            got.len() <= expected.len(),
            "the output ({} bytes) is longer than the input ({}): a line came twice",
            got.len(),
            expected.len()
        );
        got == expected
    });
    let sink = wait_status(&s, "file-out", "RUNNING", |st| {
        st["tasks"][0]["state"] == "RUNNING"
    });
    assert!(
        same,
        "the output never equalled the input ({longest} of {} bytes at most); sink: {sink}",
        expected.len()
    );
    assert_eq!(
        high_watermark(&s, "lines"),
        LINES as i64,
        "each line once in the topic"
    );

    // Connect's offsets: the source's committed position is the whole file.
    let (code, offsets) = call(&s, "GET", "/connectors/file-in/offsets", None);
    assert_eq!(code, 200);
    assert_eq!(
        offsets,
        json!({"offsets": [{"partition": {"filename": input}, "offset": {"position": expected.len()}}]})
    );
    let (_, sink_offsets) = call(&s, "GET", "/connectors/file-out/offsets", None);
    assert_eq!(
        sink_offsets,
        json!({"offsets": [{"partition": {"kafka_topic": "lines", "kafka_partition": 0}, "offset": {"kafka_offset": LINES}}]})
    );
    s.stop();
}

#[test]
fn a_connector_denied_a_directory_fails_alone_logged_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (granted, secret) = (dir.path().join("granted"), dir.path().join("secret"));
    std::fs::create_dir_all(&granted).unwrap();
    std::fs::create_dir_all(&secret).unwrap();
    std::fs::write(secret.join("passwords.txt"), "root:hunter2\n").unwrap();
    std::fs::write(granted.join("ok.txt"), "fine\n").unwrap();
    let s = start(&dir.path().join("data"));
    create_topic(&s, "t", 1);
    // Reads a file outside the one directory it was granted.
    create(
        &s,
        "snoop",
        json!({
            "connector.class": "FileStreamSource",
            "file": secret.join("passwords.txt"),
            "topic": "t",
            "weir.allow.dirs": format!("{}:ro", granted.display()),
        }),
    );
    // And one with no grant at all writes nowhere.
    create(
        &s,
        "nowhere",
        json!({"connector.class": "FileStreamSink", "file": granted.join("out.txt"), "topics": "t"}),
    );
    // Its neighbour, granted its directory, keeps running.
    create(
        &s,
        "fine",
        json!({
            "connector.class": "FileStreamSource",
            "file": granted.join("ok.txt"),
            "topic": "t",
            "weir.allow.dirs": format!("{}:ro", granted.display()),
        }),
    );
    for name in ["snoop", "nowhere"] {
        let st = wait_status(&s, name, "FAILED", |st| st["tasks"][0]["state"] == "FAILED");
        let trace = st["tasks"][0]["trace"].as_str().unwrap();
        assert!(trace.contains("denied"), "{name}: {trace}");
        assert_eq!(st["denied"], 1, "{st}");
        let (_, logs) = call(&s, "GET", &format!("/connectors/{name}/logs"), None);
        assert!(
            logs["lines"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l.as_str().unwrap().contains("denied")),
            "{logs}"
        );
    }
    let metrics = http().get(s.at("/metrics")).send().unwrap().text().unwrap();
    assert!(
        metrics.contains("weir_connector_denied_total{connector=\"snoop\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("weir_connector_denied_total{connector=\"fine\"} 0"),
        "{metrics}"
    );
    assert!(
        wait_until(Duration::from_secs(30), || high_watermark(&s, "t") == 1),
        "the granted source's line"
    );
    let st = wait_status(&s, "fine", "RUNNING", |st| {
        st["tasks"][0]["state"] == "RUNNING"
    });
    assert_eq!(st["connector"]["state"], "RUNNING");
    s.stop();
}
