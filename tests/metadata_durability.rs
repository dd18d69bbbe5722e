//! Acknowledged metadata is as durable as the log: under the `every-batch` flush policy
//! a topic create, an offset commit and a module upload are answered only after an
//! `fdatasync` of the sled file holding them. sled's own flush only calls
//! `sync_file_range`, which a power loss can undo; this watches the syscalls the server
//! makes (strace) and checks the fsync happened before the answer.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::guests::guest;
use common::pipeline::{call, upload};
use common::{Server, wait_until};
use serde_json::json;

/// strace attached to a running server, logging its fsyncs (with the file each fd is)
/// to a file; detached (killed) on drop. Attached rather than wrapping the server, so a
/// test that fails cannot leave a server behind (strace's tracee outlives strace).
struct Tracer(Child);

impl Tracer {
    fn attach(s: &Server, trace: &Path) -> Tracer {
        let pid = s.child.id();
        let child = Command::new("strace")
            .args(["-f", "-qq", "-y", "-e", "trace=fsync,fdatasync", "-o"])
            .arg(trace)
            .args(["-p", &pid.to_string()])
            .stderr(Stdio::null())
            .spawn()
            .expect("run strace (scripts/setup installs it)");
        let attached = wait_until(Duration::from_secs(30), || {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .unwrap_or_default()
                .lines()
                .any(|l| l.starts_with("TracerPid:") && l.trim_end() != "TracerPid:\t0")
        });
        assert!(attached, "strace did not attach to the server");
        Tracer(child)
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn traced_server(data_dir: &Path, trace: &Path, extra: &[&str]) -> (Server, Tracer) {
    let s = Server::start(data_dir, extra);
    let tracer = Tracer::attach(&s, trace);
    (s, tracer)
}

/// How many `fdatasync`s of `file` (a path ending) the trace holds so far. Only
/// `fdatasync`: sled's own background flusher calls `fsync` every 500 ms or so, which
/// would make a count of both pass (or fail) by chance; weir's flush is `fdatasync`.
fn syncs_of(trace: &Path, file: &str) -> usize {
    std::fs::read_to_string(trace)
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            l.contains("fdatasync(") && l.contains(&format!("{file}>")) && !l.contains("unfinished")
        })
        .count()
}

#[test]
fn acknowledged_metadata_is_fsynced_before_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let trace = dir.path().join("trace");
    let (s, _tracer) = traced_server(&data, &trace, &[]);
    let meta = "/meta/db";

    let before = syncs_of(&trace, meta);
    let (status, body) = call(
        &s,
        "POST",
        "/v1/topics",
        Some(json!({"name": "t", "partitions": 1})),
    );
    assert_eq!(status, 201, "{body}");
    let after_create = syncs_of(&trace, meta);
    assert!(
        after_create > before,
        "a topic create was answered without an fsync of the metadata ({before} -> {after_create})"
    );

    let (status, body) = call(
        &s,
        "POST",
        "/v1/groups/g/offsets",
        Some(json!({"offsets": [{"topic": "t", "partition": 0, "offset": 0}]})),
    );
    assert!(status < 300, "{status} {body}");
    let after_commit = syncs_of(&trace, meta);
    assert!(
        after_commit > after_create,
        "an offset commit was answered without an fsync of the metadata"
    );

    // sled keeps its data in a file named `db` inside its directory.
    let pipelines = "/pipelines/db/db";
    let before = syncs_of(&trace, pipelines);
    let (code, body) = upload(&s, "f", &guest("rust", "rust-filter"));
    assert_eq!(code, 201, "{body}");
    assert!(
        syncs_of(&trace, pipelines) > before,
        "a module upload was answered without an fsync of the pipeline store"
    );
}

#[test]
fn the_os_flush_policy_leaves_offset_commits_to_the_os() {
    // The same standard as the log: under `os` nothing is fsynced per request, and an
    // offset commit does not pay for an fsync the log does not make either.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("weir.toml");
    std::fs::write(&config, "[log]\nflush = \"os\"\n").unwrap();
    let trace = dir.path().join("trace");
    let (s, _tracer) = traced_server(&data, &trace, &["--config", config.to_str().unwrap()]);
    let (status, _) = call(
        &s,
        "POST",
        "/v1/topics",
        Some(json!({"name": "t", "partitions": 1})),
    );
    assert_eq!(status, 201);
    let before = syncs_of(&trace, "/meta/db");
    for i in 0..5 {
        let (status, body) = call(
            &s,
            "POST",
            "/v1/groups/g/offsets",
            Some(json!({"offsets": [{"topic": "t", "partition": 0, "offset": i}]})),
        );
        assert!(status < 300, "{status} {body}");
    }
    assert_eq!(syncs_of(&trace, "/meta/db"), before);
}
