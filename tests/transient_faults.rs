//! A partition whose segment roll fails for a reason that passes (the process out of
//! file descriptors) is not fenced until a restart: the failing appends say why,
//! `/v1/health` shows it retrying, and it takes writes again once descriptors are free,
//! with every acknowledged record kept.

mod common;

use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::pipeline::{call, read_all};
use common::{Server, serve_args, wait_until, weir_bin};
use serde_json::{Value, json};

/// Open descriptors of a process.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

#[test]
fn a_roll_out_of_file_descriptors_heals_once_they_are_free() {
    const LIMIT: usize = 128;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            r#"ulimit -n {LIMIT} && weir="$0" && dir="$1" && shift && exec "$weir" serve --data-dir "$dir" "$@""#
        ))
        .arg(weir_bin())
        .arg(dir.path())
        .args(serve_args());
    let s = Server::spawn(cmd, dir.path());
    let pid = s.child.id();
    let (status, body) = call(
        &s,
        "POST",
        "/v1/topics",
        Some(json!({"name": "t", "partitions": 1, "config": {"segment.bytes": 4096}})),
    );
    assert_eq!(status, 201, "{body}");
    // One keep-alive HTTP connection, opened now, serves every request below: no new
    // one could be accepted while descriptors are out.
    common::install_crypto_provider();
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    let produce = |i: usize| -> (u16, Value) {
        let r = http
            .post(s.at("/v1/topics/t/records"))
            .json(&json!({"records": [{"value": format!("{i:04}-{}", "x".repeat(1000))}]}))
            .send()
            .unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    };
    let health = || -> Value { http.get(s.at("/v1/health")).send().unwrap().json().unwrap() };
    let mut acked = Vec::new();
    assert_eq!(produce(0).0, 200);
    acked.push(0);

    // Idle Kafka connections take the rest of the server's descriptors.
    let kafka: Vec<TcpStream> = (0..LIMIT + 20)
        .filter_map(|_| TcpStream::connect(&s.kafka).ok())
        .collect();
    assert!(
        wait_until(Duration::from_secs(10), || open_fds(pid) >= LIMIT - 1),
        "the server holds {} of {LIMIT} descriptors",
        open_fds(pid)
    );

    // Appends go on until the segment is full; its roll then fails, and keeps failing.
    let mut failed = None;
    for i in 1..20 {
        match produce(i) {
            (200, _) => acked.push(i),
            (status, body) => {
                failed = Some((status, body));
                break;
            }
        }
    }
    let (status, body) = failed.expect("a roll needed a descriptor");
    assert!(status >= 500, "{status} {body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.to_lowercase().contains("too many open files"),
        "{body}"
    );
    let h = health();
    assert_eq!(h["status"], "degraded", "{h}");
    assert_eq!(h["fenced"], json!([]), "not fenced: {h}");
    assert_eq!(h["retrying"][0]["topic"], "t", "{h}");

    // Descriptors free again: the next append rolls and succeeds, no restart.
    drop(kafka);
    let mut next = 100;
    assert!(
        wait_until(Duration::from_secs(20), || {
            next += 1;
            let ok = produce(next).0 == 200;
            if ok {
                acked.push(next);
            }
            ok
        }),
        "the partition took writes again"
    );
    let h = health();
    assert_eq!(h["status"], "ok", "{h}");
    let values: Vec<String> = read_all(&s, "t")
        .concat()
        .iter()
        .map(|r| r["value"].as_str().unwrap()[..4].to_string())
        .collect();
    let want: Vec<String> = acked.iter().map(|i| format!("{i:04}")).collect();
    assert_eq!(
        values, want,
        "every acknowledged record, in order, nothing else"
    );
}
