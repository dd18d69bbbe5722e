//! What one client can make the HTTP listener hold: connections (in all and per
//! address) and time (a request whose headers trickle in, slowloris).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::pipeline::{call, create_topic};
use common::{Server, closed_by_server, peak_rss_kib, wait_until};

fn start_with(dir: &std::path::Path, http: &str) -> Server {
    let config = dir.join("weir.toml");
    std::fs::write(&config, format!("[http]\n{http}")).unwrap();
    Server::start(&dir.join("data"), &["--config", config.to_str().unwrap()])
}

fn connect(s: &Server) -> TcpStream {
    let addr = s.url.trim_start_matches("http://");
    let c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c
}

/// Sends a keep-alive GET of /v1/health on `c`; whether a 200 came back.
fn health_on(c: &mut TcpStream) -> bool {
    if c.write_all(b"GET /v1/health HTTP/1.1\r\nHost: weir\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 4096];
    match c.read(&mut buf) {
        Ok(n) if n > 0 => String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
        _ => false,
    }
}

#[test]
fn trickled_headers_are_cut_off_but_a_long_poll_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_with(dir.path(), "header_read_timeout_ms = 500\n");
    create_topic(&s, "t", 1);

    let mut slow = connect(&s);
    slow.write_all(b"GET /v1/health HTTP/1.1\r\nHost: weir\r\n")
        .unwrap();
    let started = Instant::now();
    let mut cut = false;
    // A header line every 100 ms, never the blank line that ends them.
    while started.elapsed() < Duration::from_secs(5) {
        if slow.write_all(b"X-Slow: 1\r\n").is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        cut || closed_by_server(&mut slow),
        "a request whose headers never end is cut off"
    );

    // Once the headers are in, the handler takes what it needs: a 2 s long poll.
    let begun = Instant::now();
    let (status, body) = call(
        &s,
        "GET",
        "/v1/topics/t/partitions/0/records?offset=0&timeout_ms=2000",
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert!(begun.elapsed() >= Duration::from_millis(1500), "it waited");
}

#[test]
fn a_connection_over_the_cap_is_closed_and_a_closed_one_frees_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_with(dir.path(), "max_connections_per_ip = 3\n");
    let mut open: Vec<TcpStream> = (0..3).map(|_| connect(&s)).collect();
    for c in &mut open {
        assert!(
            health_on(c),
            "keep-alive connections within the cap are served"
        );
    }
    let mut extra = connect(&s);
    assert!(
        !health_on(&mut extra),
        "a fourth connection from 127.0.0.1 is closed"
    );
    drop(open.pop());
    assert!(
        wait_until(Duration::from_secs(10), || health_on(&mut connect(&s))),
        "a place frees once a connection closes"
    );
    for c in &mut open {
        assert!(health_on(c), "the admitted connections go on");
    }
}

#[test]
fn a_produce_body_of_tiny_records_is_refused_while_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "t", 1);
    let before = peak_rss_kib(s.child.id());
    // 8 MiB of `{}`: 2.8 M records (parsed whole, this took +617 MB).
    let mut body = String::from(r#"{"records": ["#);
    body.push_str(&"{},".repeat(2_800_000));
    body.push_str("{}]}");
    let r = common::http()
        .post(s.at("/v1/topics/t/records"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let answer: serde_json::Value = r.json().unwrap();
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("http.max_produce_records"), "{answer}");
    let grown_mib = peak_rss_kib(s.child.id()).saturating_sub(before) / 1024;
    assert!(grown_mib < 200, "the refused body cost {grown_mib} MiB");

    let headers: serde_json::Map<String, serde_json::Value> = (0..5000)
        .map(|i| (format!("h{i}"), serde_json::json!("v")))
        .collect();
    let (status, answer) = call(
        &s,
        "POST",
        "/v1/topics/t/records",
        Some(serde_json::json!({"records": [{"value": "v", "headers": headers}]})),
    );
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("http.max_headers_per_record"),
        "{answer}"
    );
    // Within the limits all is as before.
    let (status, answer) = call(
        &s,
        "POST",
        "/v1/topics/t/records",
        Some(serde_json::json!({"records": [{"value": "v", "headers": {"a": "b"}}]})),
    );
    assert_eq!(status, 200, "{answer}");
}
