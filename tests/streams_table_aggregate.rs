//! Table aggregations through the whole server: a `table` source over a 3-partition topic,
//! `group_by` the text of its value before a comma (examples/rust-key-selector), then
//! `count`, `reduce` or `aggregate` (examples/rust-aggregator, summing the number after a
//! value's last comma). Compared with Kafka Streams' `KTable.groupBy(...).count()`,
//! `.reduce(adder, subtractor)` and `.aggregate(initializer, adder, subtractor)` in its
//! `TopologyTestDriver` (tests/clients/streams-oracle's TableAggOracle, pinned and newest):
//! random upserts, deletes and values without a group, one at a time; each group's
//! results must be Kafka's, value and timestamp, in the same order and number. Also: a
//! hot-swap from the Rust aggregator to the Python one (tests/guests/python-summer, with
//! `subtract`) keeps the aggregates; a `to_table` step's table regroups alike; SIGKILLs while rows change keep every group's
//! aggregate exact and send each change through the repartition topic once; an
//! aggregator without `subtract` is refused at create, naming the step.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use common::guests::guest;
use common::pipeline::*;
use common::streams::*;
use common::{Install, Server, repo_root};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// One table change: key, value (None: a delete), timestamp.
type Change = (String, Option<String>, i64);
/// Per group, its results in order: (value, timestamp).
type Results = BTreeMap<String, Vec<(String, i64)>>;

/// Kafka Streams' results of table aggregation `op` over `input`, per group.
fn kafka(install: Install, op: &str, input: &[Change]) -> Results {
    let dir = repo_root()
        .join("tests/clients/streams-oracle/target")
        .join(match install {
            Install::Pinned => "pinned",
            Install::Newest => "newest",
        });
    let jar = dir.join("streams-oracle.jar");
    assert!(
        jar.exists(),
        "{} is missing: run scripts/setup (it builds the Kafka Streams oracle)",
        jar.display()
    );
    let mut child = Command::new("java")
        .arg("-cp")
        .arg(format!("{}:{}/lib/*", jar.display(), dir.display()))
        .args(["weir.TableAggOracle", op])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("java (scripts/setup installs it)");
    let lines: String = input
        .iter()
        .map(|(k, v, ts)| format!("{k}\t{}\t{ts}\n", v.as_deref().unwrap_or("\\N")))
        .collect();
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
    let mut results = Results::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let f: Vec<&str> = line.split('\t').collect();
        results
            .entry(f[0].to_string())
            .or_default()
            .push((f[1].to_string(), f[2].parse().unwrap()));
    }
    results
}

/// weir's results in `topic`, per group, in offset order (a group's results are in one
/// partition).
fn weir_results(s: &Server, topic: &str) -> Results {
    let mut results = Results::new();
    for r in read_all(s, topic).into_iter().flatten() {
        results
            .entry(r["key"].as_str().unwrap().to_string())
            .or_default()
            .push((
                r["value"].as_str().unwrap().to_string(),
                r["timestamp"].as_i64().unwrap(),
            ));
    }
    results
}

/// Random changes of 8 rows: values `gN,M` (4 groups, M a whole number), now and then
/// one in no group (no comma) or a delete; timestamps mostly rising.
fn changes(seed: u64, n: usize, t0: i64) -> Vec<Change> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut t = t0;
    (0..n)
        .map(|i| {
            t += rng.random_range(0..30);
            let ts = if rng.random_bool(0.2) {
                t - rng.random_range(0..20)
            } else {
                t
            };
            let value = match rng.random_range(0..10) {
                0 => None,
                1 => Some(format!("nogroup{i}")),
                _ => Some(format!(
                    "g{},{}",
                    rng.random_range(0..4),
                    rng.random_range(-5..20)
                )),
            };
            (format!("k{}", rng.random_range(0..8)), value, ts)
        })
        .collect()
}

/// Deploys `name`: the table `topic` → `group_by` → `step` → `name-out` (1 partition).
fn deploy(s: &Server, name: &str, topic: &str, step: Value) {
    create_topic(s, &format!("{name}-out"), 1);
    let spec = json!({"name": name,
        "sources": {"rows": {"topic": topic, "as": "table"}},
        "output": format!("{name}-out"),
        "steps": [{"name": "regroup", "op": "group_by", "module": "keys"}, step],
        "start": "earliest"});
    create(s, spec);
}

/// Produces `input` to `topic` one record at a time, each through every pipeline of
/// `names` before the next.
fn feed(s: &Server, topic: &str, names: &[&str], input: &[Change], done: u64) {
    for (n, (key, value, ts)) in input.iter().enumerate() {
        produce(
            s,
            topic,
            vec![json!({"key": key, "value": value, "timestamp": ts})],
        );
        for name in names {
            wait_caught_up(s, name, done + n as u64 + 1);
        }
    }
}

fn upload_guests(s: &Server) {
    for (name, group, file) in [
        ("keys", "streams", "rust-key-selector"),
        ("summer", "streams", "rust-aggregator"),
    ] {
        let (code, body) = upload(s, name, &guest(group, file));
        assert_eq!(code, 201, "{body}");
    }
}

/// The Rust aggregator step: sums of the numbers after the comma.
fn summing(op: &str, module: &str) -> Value {
    json!({"name": "agg", "op": op, "module": module, "config": {"number_after": ","}})
}

fn table_aggregations_match_kafka_streams(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    upload_guests(&s);
    create_topic(&s, "rows", 3);
    deploy(&s, "count", "rows", json!({"name": "agg", "op": "count"}));
    deploy(&s, "reduce", "rows", summing("reduce", "summer"));
    deploy(&s, "aggregate", "rows", summing("aggregate", "summer"));
    let input = changes(7, 70, now_ms());
    let names = ["count", "reduce", "aggregate"];
    feed(&s, "rows", &names, &input, 0);
    for name in names {
        let want = kafka(install, name, &input);
        assert!(
            want.values().map(Vec::len).sum::<usize>() > 60,
            "{name}: Kafka emitted too little to tell: {want:?}"
        );
        assert!(
            want.values().flatten().any(|(v, _)| v == "0"),
            "{name}: no group emptied; the case tests no retraction to nothing"
        );
        let got = weir_results(&s, &format!("{name}-out"));
        assert_eq!(
            got, want,
            "{name}: weir and Kafka Streams differ per group\ninput {input:?}"
        );
    }
    // The aggregates are queryable: each group's last result.
    let want = kafka(install, "count", &input);
    for (group, results) in &want {
        let (code, body) = call(
            &s,
            "GET",
            &format!("/v1/pipelines/count/state/agg?key={group}"),
            None,
        );
        assert_eq!(code, 200, "{body}");
        let last: i64 = results.last().unwrap().0.parse().unwrap();
        assert_eq!(body["value"], last, "{group}: {body}");
    }
}

crate::on_both_installs!(table_aggregations_match_kafka_streams);

/// An `aggregate` step swapped from the Rust aggregator to the Python one halfway keeps
/// its aggregates: every group's results, before and after, are Kafka's.
#[test]
fn a_swap_to_the_python_aggregator_keeps_the_table_aggregates() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    upload_guests(&s);
    let (code, body) = upload(&s, "pysummer", &guest("python", "python-summer"));
    assert_eq!(code, 201, "{body}");
    create_topic(&s, "rows", 3);
    deploy(&s, "swap", "rows", summing("aggregate", "summer"));
    let input = changes(11, 50, now_ms());
    feed(&s, "rows", &["swap"], &input[..25], 0);
    let spec = json!({"name": "swap",
        "sources": {"rows": {"topic": "rows", "as": "table"}},
        "output": "swap-out",
        "steps": [{"name": "regroup", "op": "group_by", "module": "keys"},
                  {"name": "agg", "op": "aggregate", "module": "pysummer"}],
        "start": "earliest"});
    let (code, body) = call(&s, "PUT", "/v1/pipelines/swap", Some(spec));
    assert_eq!(code, 200, "{body}");
    feed(&s, "rows", &["swap"], &input[25..], 25);
    let st = status(&s, "swap");
    assert_eq!(st["swaps"], 1, "{st:#}");
    assert_eq!(
        weir_results(&s, "swap-out"),
        kafka(Install::Pinned, "aggregate", &input),
        "input {input:?}"
    );
}

/// A `to_table` step's table regroups and counts as a table source's does (the table's
/// old values come from the step's rows, not a source's).
#[test]
fn a_to_table_step_regroups_and_counts_like_kafka_streams() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    upload_guests(&s);
    for (t, n) in [("events", 3), ("latest-out", 1)] {
        create_topic(&s, t, n);
    }
    create(
        &s,
        json!({"name": "latest", "inputs": ["events"], "output": "latest-out",
            "steps": [{"name": "rows", "op": "to_table"},
                      {"name": "regroup", "op": "group_by", "module": "keys"},
                      {"name": "agg", "op": "count"}],
            "start": "earliest"}),
    );
    let input = changes(5, 40, now_ms());
    feed(&s, "events", &["latest"], &input, 0);
    assert_eq!(
        weir_results(&s, "latest-out"),
        kafka(Install::Pinned, "count", &input),
        "input {input:?}"
    );
}

/// An aggregator without `subtract` cannot aggregate a table: refused at create, naming
/// the step and how to give one; the same module still aggregates a stream.
#[test]
fn an_aggregator_without_subtract_is_refused_for_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    upload_guests(&s);
    let (code, body) = upload(&s, "nosub", &guest("streams", "badagg"));
    assert_eq!(code, 201, "{body}");
    for t in ["rows", "out"] {
        create_topic(&s, t, 1);
    }
    let spec = |input_as: &str| {
        json!({"name": "p", "sources": {"rows": {"topic": "rows", "as": input_as}},
            "output": "out",
            "steps": [{"op": "group_by", "module": "keys"},
                      {"op": "reduce", "module": "nosub"}]})
    };
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec("table")));
    assert_eq!(code, 400, "{body}");
    let text = body.to_string();
    assert!(
        text.contains("steps[1].module")
            && text.contains("nosub@1's aggregator has no subtract")
            && text.contains("#[aggregator(subtract = ...)]"),
        "{body}"
    );
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec("stream")));
    assert_eq!(code, 201, "{body}");
}

/// The group of a value (before its comma), and its number (after the last one).
fn parts(value: &str) -> Option<(String, i64)> {
    let (group, n) = value.split_once(',')?;
    Some((group.to_string(), n.rsplit(',').next()?.parse().ok()?))
}

/// SIGKILLs while rows change: in the end each group's last count and sum are what the
/// table's final rows hold (0 for a group they all left), and the repartition topic holds
/// each change's records once.
#[test]
fn table_aggregates_are_exactly_once_across_sigkills() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--worker-threads", "2"]);
    upload_guests(&s);
    create_topic(&s, "rows", 3);
    deploy(&s, "count", "rows", json!({"name": "agg", "op": "count"}));
    deploy(&s, "sum", "rows", summing("aggregate", "summer"));
    let s = kill_while_feeding(s, dir.path(), "rows", 21, 0..10, |rng| {
        (0..rng.random_range(1..30))
            .map(|_| {
                let value = match rng.random_range(0..12) {
                    0 => None,
                    1 => Some("nogroup".to_string()),
                    _ => Some(format!(
                        "g{},{}",
                        rng.random_range(0..6),
                        rng.random_range(0..50)
                    )),
                };
                json!({"key": format!("k{}", rng.random_range(0..40)), "value": value,
                       "timestamp": now_ms()})
            })
            .collect()
    });
    wait_caught_up(&s, "count", 0);
    wait_caught_up(&s, "sum", 0);
    // The table as the log has it, and the repartition records its changes make.
    let mut rows: BTreeMap<String, String> = BTreeMap::new();
    let mut changes = 0;
    let mut repartitioned = 0;
    for partition in read_all(&s, "rows") {
        for r in partition {
            changes += 1;
            let key = r["key"].as_str().unwrap().to_string();
            let new = r["value"].as_str().map(str::to_string);
            let old = match &new {
                Some(v) => rows.insert(key, v.clone()),
                None => rows.remove(&key),
            };
            let group = |v: &Option<String>| v.as_deref().and_then(parts).map(|p| p.0);
            repartitioned += match (group(&old), group(&new)) {
                (Some(o), Some(n)) if o == n => 1,
                (o, n) => usize::from(o.is_some()) + usize::from(n.is_some()),
            };
        }
    }
    assert!(changes > 200, "too little input reached the log: {changes}");
    for name in ["count", "sum"] {
        let topic = format!("{name}-regroup-repartition");
        let n: usize = read_all(&s, &topic).iter().map(Vec::len).sum();
        assert_eq!(n, repartitioned, "{topic}: each change's records once");
    }
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    let mut sums: BTreeMap<String, i64> = BTreeMap::new();
    for (group, n) in rows.values().filter_map(|v| parts(v)) {
        *counts.entry(group.clone()).or_default() += 1;
        *sums.entry(group).or_default() += n;
    }
    for (name, want) in [("count", counts), ("sum", sums)] {
        let got: BTreeMap<String, i64> = weir_results(&s, &format!("{name}-out"))
            .into_iter()
            .map(|(g, results)| (g, results.last().unwrap().0.parse().unwrap()))
            .filter(|(g, v)| *v != 0 || want.contains_key(g))
            .collect();
        assert_eq!(got, want, "{name}: the last result of each group");
    }
}
