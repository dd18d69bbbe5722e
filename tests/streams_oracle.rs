//! Kafka Streams as the oracle of weir's joins: the same random records (a few keys,
//! tombstones, timestamps partly out of order) go through Kafka's own join operators in
//! its `TopologyTestDriver` (tests/clients/streams-oracle, built by scripts/setup) and
//! through a weir pipeline, one record at a time in the same order; the outputs must be
//! the same records (key, value, timestamp) in the same order, for stream–table,
//! table–table and stream–stream joins of each type.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::pipeline::*;
use common::streams::now_ms;
use common::{Server, create_topic, repo_root};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// One input record: left side?, key, value (None: null), timestamp.
type Input = (bool, String, Option<String>, i64);
/// One output record: key, value (None: null), timestamp.
type Output = (String, Option<String>, i64);
/// A join window and its grace, ms.
type Window = Option<(i64, i64)>;

/// Kafka Streams' outputs for `input` (`window`: join window and grace, ms).
fn kafka(pair: &str, join_type: &str, window: Window, input: &[Input]) -> Vec<Output> {
    let dir = repo_root().join("tests/clients/streams-oracle/target");
    let jar = dir.join("streams-oracle.jar");
    assert!(
        jar.exists(),
        "{} is missing: run scripts/setup (it builds the Kafka Streams oracle)",
        jar.display()
    );
    let mut cmd = Command::new("java");
    cmd.arg("-cp")
        .arg(format!("{}:{}/lib/*", jar.display(), dir.display()))
        .arg("weir.JoinOracle")
        .args([pair, join_type]);
    if let Some((w, g)) = window {
        cmd.args([w.to_string(), g.to_string()]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("java (scripts/setup installs it)");
    let mut lines = String::new();
    for (left, key, value, ts) in input {
        let side = if *left { "L" } else { "R" };
        let value = value.as_deref().unwrap_or("\\N");
        lines.push_str(&format!("{side}\t{key}\t{value}\t{ts}\n"));
    }
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[0].to_string(),
                (f[1] != "\\N").then(|| f[1].to_string()),
                f[2].parse().unwrap(),
            )
        })
        .collect()
}

/// weir's outputs for `input`, each record processed before the next is produced.
fn weir(
    s: &Server,
    name: &str,
    pair: &str,
    join_type: &str,
    window: Window,
    input: &[Input],
) -> Vec<Output> {
    let (l, r, out) = (
        format!("{name}-l"),
        format!("{name}-r"),
        format!("{name}-out"),
    );
    for t in [&l, &r, &out] {
        create_topic(s, t, 1);
    }
    let (left_as, right_as) = match pair {
        "stream-table" => ("stream", "table"),
        "table-table" => ("table", "table"),
        _ => ("stream", "stream"),
    };
    let mut step = json!({"op": "join", "left": "l", "right": "r", "type": join_type});
    if let Some((w, g)) = window {
        step["window"] = json!({"before_ms": w, "after_ms": w, "grace_ms": g});
    }
    let spec = json!({"name": name,
        "sources": {"l": {"topic": l, "as": left_as}, "r": {"topic": r, "as": right_as}},
        "output": out, "steps": [step], "start": "earliest"});
    let (code, body) = call(s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
    for (n, (left, key, value, ts)) in input.iter().enumerate() {
        let topic = if *left { &l } else { &r };
        produce(
            s,
            topic,
            vec![json!({"key": key, "value": value, "timestamp": ts})],
        );
        wait_caught_up(s, name, n as u64 + 1);
    }
    read_all(s, &out)
        .into_iter()
        .flatten()
        .map(|r: Value| {
            (
                r["key"].as_str().unwrap().to_string(),
                r["value"].as_str().map(str::to_string),
                r["timestamp"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Random input: three keys, unique values, some tombstones, timestamps mostly rising.
fn input(seed: u64, n: usize, t0: i64) -> Vec<Input> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut t = t0;
    (0..n)
        .map(|i| {
            t += rng.random_range(0..40);
            let ts = if rng.random_bool(0.2) {
                t - rng.random_range(0..30)
            } else {
                t
            };
            let value = (!rng.random_bool(0.15)).then(|| format!("v{i}"));
            (
                rng.random_bool(0.5),
                format!("k{}", rng.random_range(0..3)),
                value,
                ts,
            )
        })
        .collect()
}

#[test]
fn joins_match_kafka_streams_on_random_input() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let t0 = now_ms();
    let cases: [(&str, &str, Window); 8] = [
        ("stream-table", "inner", None),
        ("stream-table", "left", None),
        ("table-table", "inner", None),
        ("table-table", "left", None),
        ("table-table", "outer", None),
        ("stream-stream", "inner", Some((50, 20))),
        ("stream-stream", "left", Some((50, 20))),
        ("stream-stream", "outer", Some((50, 20))),
    ];
    for (i, (pair, join_type, window)) in cases.into_iter().enumerate() {
        let records = input(i as u64 + 1, 60, t0);
        let want = kafka(pair, join_type, window, &records);
        assert!(
            !want.is_empty(),
            "{pair} {join_type}: Kafka emitted nothing"
        );
        let got = weir(&s, &format!("case{i}"), pair, join_type, window, &records);
        if got != want {
            let at = got.iter().zip(&want).take_while(|(g, w)| g == w).count();
            panic!(
                "{pair} {join_type} join: weir and Kafka Streams differ from output {at}:\n\
                 weir  {:?}\nkafka {:?}\ninput {records:?}",
                &got[at..],
                &want[at..]
            );
        }
    }
}
