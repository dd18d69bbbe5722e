//! The `weir` command line against a real server: topic management, produce from stdin
//! or a file, consume (also as a consumer group), group inspection, and its errors.
//! Each test runs its own `weir serve` in its own temp dir.

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use common::{Server, http, weir_bin};
use serde_json::{Value, json};
use tempfile::TempDir;

// ---- helpers ---------------------------------------------------------------

/// What one `weir` run left behind.
struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Asserts the command succeeded and returns its stdout.
    fn ok(self) -> String {
        assert!(
            self.success,
            "weir failed\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self.stdout
    }

    /// Asserts the command failed and returns its stderr.
    fn failed(self) -> String {
        assert!(
            !self.success,
            "weir should have failed\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self.stderr
    }
}

fn start(dir: &TempDir) -> Server {
    Server::start(dir.path(), &[])
}

/// Runs `weir --url URL ARGS...` with `stdin` as its standard input.
fn weir_with_input(url: &str, args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(weir_bin())
        .arg("--url")
        .arg(url)
        .args(args)
        .env_remove("WEIR_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn weir");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("write stdin");
    drop(input);
    let output = child.wait_with_output().expect("wait for weir");
    Run {
        success: output.status.success(),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `weir --url URL ARGS...` with empty standard input.
fn weir(url: &str, args: &[&str]) -> Run {
    weir_with_input(url, args, "")
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

/// The rows of a table printed by the CLI, header first, split on whitespace.
fn table(text: &str) -> Vec<Vec<&str>> {
    text.lines()
        .map(|line| line.split_whitespace().collect())
        .collect()
}

/// One JSON object per line.
fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect()
}

fn sorted(mut v: Vec<&str>) -> Vec<&str> {
    v.sort_unstable();
    v
}

/// A topic's description, straight from the HTTP API.
fn describe(server: &Server, topic: &str) -> Value {
    let response = http()
        .get(server.at(&format!("/v1/topics/{topic}")))
        .send()
        .expect("describe");
    assert!(response.status().is_success(), "describe {topic}");
    response.json().expect("JSON")
}

fn create_topic(server: &Server, name: &str, partitions: u32) {
    weir(
        &server.url,
        &["topic", "create", name, "-p", &partitions.to_string()],
    )
    .ok();
}

/// Produces `input` lines with `weir produce TOPIC ARGS...`.
fn produce(server: &Server, topic: &str, args: &[&str], input: &str) {
    let mut all = vec!["produce", topic];
    all.extend_from_slice(args);
    weir_with_input(&server.url, &all, input).ok();
}

// ---- topics ----------------------------------------------------------------

#[test]
fn topic_create_confirms_and_creates_with_config() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let out = weir(
        &server.url,
        &[
            "topic",
            "create",
            "orders",
            "-p",
            "3",
            "-c",
            "retention.ms=86400000",
        ],
    )
    .ok();
    assert_eq!(out.trim(), "created topic orders with 3 partition(s)");
    let topic = describe(&server, "orders");
    assert_eq!(topic["partitions"].as_array().unwrap().len(), 3);
    assert_eq!(topic["config"]["retention.ms"], 86_400_000);
}

#[test]
fn topic_list_prints_names_and_partition_counts() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "beta", 1);
    create_topic(&server, "alpha", 2);
    let out = weir(&server.url, &["topic", "list"]).ok();
    assert_eq!(
        table(&out),
        [
            vec!["TOPIC", "PARTITIONS"],
            vec!["alpha", "2"],
            vec!["beta", "1"]
        ]
    );
}

#[test]
fn topic_describe_prints_config_and_partition_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    weir(
        &server.url,
        &["topic", "create", "t", "-p", "2", "-c", "retention.ms=5000"],
    )
    .ok();
    produce(&server, "t", &["--partition", "1"], "a\nb\nc\n");
    let out = weir(&server.url, &["topic", "describe", "t"]).ok();
    let text = lines(&out);
    assert_eq!(text[0], "topic t (2 partitions)", "{out}");
    assert!(text.contains(&"  retention.ms = 5000"), "{out}");
    assert!(text.contains(&"  cleanup.policy = delete"), "{out}");
    // The partition table: PARTITION LOG-START HIGH-WATERMARK BYTES SEGMENTS.
    let rows = table(&out);
    let header = rows
        .iter()
        .position(|r| r.first() == Some(&"PARTITION"))
        .expect("partition table");
    let partitions: Vec<_> = rows[header + 1..].iter().map(|r| &r[..3]).collect();
    assert_eq!(partitions, [["0", "0", "0"], ["1", "0", "3"]], "{out}");
}

#[test]
fn topic_add_partitions_grows_the_topic() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 1);
    let out = weir(&server.url, &["topic", "add-partitions", "t", "4"]).ok();
    assert_eq!(out.trim(), "topic t now has 4 partitions");
    assert_eq!(
        describe(&server, "t")["partitions"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn topic_delete_removes_the_topic() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 1);
    create_topic(&server, "kept", 1);
    let out = weir(&server.url, &["topic", "delete", "t"]).ok();
    assert_eq!(out.trim(), "deleted topic t");
    let out = weir(&server.url, &["topic", "list"]).ok();
    assert_eq!(
        table(&out),
        [vec!["TOPIC", "PARTITIONS"], vec!["kept", "1"]]
    );
}

#[test]
fn creating_an_existing_topic_fails_with_the_servers_message() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 1);
    let run = weir(&server.url, &["topic", "create", "t"]);
    assert!(run.stdout.is_empty(), "stdout: {}", run.stdout);
    let err = run.failed();
    assert!(err.contains(r#"topic "t" already exists"#), "{err}");
    assert!(err.contains("topic_exists"), "{err}");
}

#[test]
fn describing_an_unknown_topic_fails_with_the_servers_message() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let err = weir(&server.url, &["topic", "describe", "nope"]).failed();
    assert!(err.contains(r#"unknown topic "nope""#), "{err}");
}

#[test]
fn unreachable_server_fails_with_cannot_reach() {
    // A port that was free a moment ago: bind it, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let err = weir(&url, &["topic", "list"]).failed();
    assert!(err.contains("cannot reach"), "{err}");
    assert!(err.contains(&url), "should name the URL: {err}");
}

// ---- produce and consume ---------------------------------------------------

#[test]
fn produce_from_stdin_keeps_key_headers_and_partition() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 3);
    let run = weir_with_input(
        &server.url,
        &[
            "produce",
            "t",
            "--key",
            "user-1",
            "-H",
            "source=test",
            "-H",
            "v=2",
            // Kafka headers may repeat a key: both are sent, and printed in order.
            "-H",
            "source=again",
            "--partition",
            "2",
        ],
        "first\nsecond\nthird\n",
    );
    assert!(
        run.stderr.contains("produced 3 records to t"),
        "{}",
        run.stderr
    );
    run.ok();

    let out = weir(
        &server.url,
        &["consume", "t", "--from-beginning", "-e", "--format", "json"],
    )
    .ok();
    let records = json_lines(&out);
    assert_eq!(records.len(), 3, "{out}");
    for (i, (record, value)) in records.iter().zip(["first", "second", "third"]).enumerate() {
        assert_eq!(record["topic"], "t");
        assert_eq!(record["partition"], 2, "{record}");
        assert_eq!(record["offset"], i as i64, "{record}");
        assert_eq!(record["key"], "user-1", "{record}");
        assert_eq!(record["value"], value, "{record}");
        assert_eq!(record["headers"], json!({"source": "again", "v": "2"}));
        assert_eq!(
            record["headers_list"],
            json!([["source", "test"], ["v", "2"], ["source", "again"]]),
            "{record}"
        );
    }
}

#[test]
fn consume_max_records_prints_exactly_that_many() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 1);
    produce(&server, "t", &[], "l0\nl1\nl2\nl3\nl4\n");
    let out = weir(
        &server.url,
        &["consume", "t", "--from-beginning", "-n", "2"],
    )
    .ok();
    assert_eq!(lines(&out), ["l0", "l1"]);
}

#[test]
fn key_delimiter_splits_each_line_into_key_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 1);
    produce(
        &server,
        "t",
        &["--key-delimiter", ":"],
        "k1:v1\nk2:v:2\nno key here\n",
    );
    let out = weir(
        &server.url,
        &["consume", "t", "--from-beginning", "-e", "--format", "json"],
    )
    .ok();
    let got: Vec<(Value, Value)> = json_lines(&out)
        .into_iter()
        .map(|r| (r["key"].clone(), r["value"].clone()))
        .collect();
    assert_eq!(
        got,
        [
            (json!("k1"), json!("v1")),
            (json!("k2"), json!("v:2")),
            (Value::Null, json!("no key here")),
        ]
    );
}

#[test]
fn produce_reads_lines_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 1);
    let file = dir.path().join("lines.txt");
    let input: Vec<String> = (0..50).map(|i| format!("line {i}")).collect();
    std::fs::write(&file, input.join("\n") + "\n").unwrap();
    produce(&server, "t", &["--file", file.to_str().unwrap()], "");
    let out = weir(&server.url, &["consume", "t", "--from-beginning", "-e"]).ok();
    assert_eq!(lines(&out), input);
}

// ---- consumer groups -------------------------------------------------------

#[test]
fn consume_with_a_group_commits_and_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    create_topic(&server, "t", 2);
    produce(&server, "t", &["--partition", "0"], "a\nb\nc\n");
    produce(&server, "t", &["--partition", "1"], "d\ne\n");
    let group_args = ["consume", "t", "--group", "g", "-e"];

    let mut first = group_args.to_vec();
    first.push("--from-beginning");
    let out = weir(&server.url, &first).ok();
    assert_eq!(sorted(lines(&out)), ["a", "b", "c", "d", "e"]);

    let out = weir(&server.url, &["group", "describe", "g"]).ok();
    assert_eq!(
        table(&out),
        [
            vec!["TOPIC", "PARTITION", "COMMITTED", "HIGH-WATERMARK", "LAG"],
            vec!["t", "0", "3", "3", "0"],
            vec!["t", "1", "2", "2", "0"],
        ]
    );
    let out = weir(&server.url, &["group", "list"]).ok();
    assert_eq!(lines(&out), ["g"]);

    // Caught up: nothing new to print.
    let out = weir(&server.url, &group_args).ok();
    assert_eq!(out, "");

    produce(&server, "t", &[], "f\ng\nh\n");
    let out = weir(&server.url, &group_args).ok();
    assert_eq!(sorted(lines(&out)), ["f", "g", "h"]);
}

#[test]
fn topic_alter_sets_and_resets_config() {
    let dir = TempDir::new().unwrap();
    let server = start(&dir);
    weir(
        &server.url,
        &["topic", "create", "alt", "-c", "retention.ms=1000"],
    )
    .ok();
    weir(
        &server.url,
        &[
            "topic",
            "alter",
            "alt",
            "-c",
            "segment.ms=5000",
            "-r",
            "retention.ms",
        ],
    )
    .ok();
    let described = weir(&server.url, &["topic", "describe", "alt"]).ok();
    assert!(described.contains("segment.ms = 5000"), "{described}");
    assert!(
        described.contains("retention.ms = 604800000"),
        "{described}"
    );
    let err = weir(&server.url, &["topic", "alter", "alt", "-c", "bogus=1"]).failed();
    assert!(err.contains("unknown topic config"), "{err}");
}
