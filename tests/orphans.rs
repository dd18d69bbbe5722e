//! Log directories the metadata does not list: start-up keeps and reports them, a create
//! of the same name is refused, and only an explicit adopt or delete acts on them. A
//! create that never finished (its marker still there) is cleaned up.

mod common;

use std::process::Command;

use common::pipeline::{call, create_topic, produce, read_all};
use common::{Server, weir_bin};
use serde_json::{Value, json};

fn health(s: &Server) -> Value {
    let (status, body) = call(s, "GET", "/v1/health", None);
    assert_eq!(status, 200, "{body}");
    body
}

fn weir_cli(s: &Server, args: &[&str]) -> (bool, String) {
    let out = Command::new(weir_bin())
        .args(["--url", &s.url])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Starts a server, writes records to `topics`, and restarts it with its broker
/// metadata gone (as after restoring an empty or old backup of it).
fn with_lost_metadata(dir: &std::path::Path, topics: &[&str]) -> Server {
    let s = Server::start(dir, &[]);
    for t in topics {
        create_topic(&s, t, 2);
        produce(
            &s,
            t,
            (0..10)
                .map(|i| json!({"key": format!("k{i}"), "value": format!("{t}-{i}")}))
                .collect(),
        );
    }
    assert!(s.stop());
    std::fs::remove_dir_all(dir.join("meta")).unwrap();
    Server::start(dir, &[])
}

#[test]
fn lost_metadata_keeps_the_logs_reports_them_and_adopts_or_deletes_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let s = with_lost_metadata(dir.path(), &["kept", "dropped"]);

    // Nothing was deleted: both directories are there, reported, the topics unlisted.
    assert!(dir.path().join("log/kept/0").is_dir());
    assert!(dir.path().join("log/dropped/1").is_dir());
    let h = health(&s);
    assert_eq!(h["status"], "degraded", "{h}");
    let orphaned = h["orphaned"].as_array().unwrap();
    assert_eq!(orphaned.len(), 2, "{h}");
    let kept = orphaned.iter().find(|o| o["topic"] == "kept").unwrap();
    assert_eq!(kept["partitions"], json!([0, 1]), "{h}");
    assert!(kept["bytes"].as_u64().unwrap() > 0, "{h}");
    let (_, topics) = call(&s, "GET", "/v1/topics", None);
    assert_eq!(topics["topics"], json!([]), "{topics}");
    let (ok, out) = weir_cli(&s, &["orphans", "list"]);
    assert!(
        ok && out.contains("kept") && out.contains("dropped"),
        "{out}"
    );

    // A create (HTTP, as a Kafka client's would) of an orphan's name is refused, naming
    // what to do, and leaves its data alone.
    let (status, body) = call(
        &s,
        "POST",
        "/v1/topics",
        Some(json!({"name": "kept", "partitions": 1})),
    );
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "orphan_exists", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("weir orphans adopt"),
        "{body}"
    );

    // Adopting brings every record back at its offset.
    let (ok, out) = weir_cli(&s, &["orphans", "adopt", "kept"]);
    assert!(ok, "{out}");
    let partitions = read_all(&s, "kept");
    assert_eq!(partitions.len(), 2);
    let mut values: Vec<String> = partitions
        .iter()
        .flatten()
        .map(|r| r["value"].as_str().unwrap().to_string())
        .collect();
    values.sort();
    let mut want: Vec<String> = (0..10).map(|i| format!("kept-{i}")).collect();
    want.sort();
    assert_eq!(values, want);
    for records in &partitions {
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r["offset"], json!(i), "offsets as they were");
        }
    }
    // And the adopted topic takes writes.
    produce(&s, "kept", vec![json!({"value": "after"})]);

    // Deleting removes the directory; nothing is left to report.
    let (ok, out) = weir_cli(&s, &["orphans", "delete", "dropped"]);
    assert!(ok, "{out}");
    assert!(!dir.path().join("log/dropped").exists());
    let (status, body) = call(&s, "DELETE", "/v1/orphans/dropped", None);
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "unknown_orphan", "{body}");
    let h = health(&s);
    assert_eq!(h["status"], "ok", "{h}");
    assert_eq!(h["orphaned"], json!([]), "{h}");

    // The name of a deleted orphan is free again.
    create_topic(&s, "dropped", 1);
    assert!(s.stop());

    // After a restart, the adopted topic is an ordinary one.
    let s = Server::start(dir.path(), &[]);
    assert_eq!(health(&s)["status"], "ok");
    assert_eq!(read_all(&s, "kept").iter().flatten().count(), 11);
}

#[test]
fn a_create_that_never_finished_is_removed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "real", 1);
    assert!(s.stop());
    // What a crash between the marker and the metadata record leaves behind.
    let half = dir.path().join("log/half");
    std::fs::create_dir_all(half.join("0")).unwrap();
    std::fs::write(half.join(".creating"), b"").unwrap();
    // And a crash after the record, before the marker's removal.
    std::fs::write(dir.path().join("log/real/.creating"), b"").unwrap();

    let s = Server::start(dir.path(), &[]);
    assert!(!half.exists(), "an unacknowledged create is cleaned up");
    assert!(!dir.path().join("log/real/.creating").exists());
    let h = health(&s);
    assert_eq!(h["status"], "ok", "{h}");
    create_topic(&s, "half", 1);
    produce(&s, "real", vec![json!({"value": "v"})]);
}
