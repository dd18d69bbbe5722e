//! Kafka Streams as the oracle of weir's joins: the same random records (a few keys,
//! tombstones, timestamps partly out of order) go through Kafka's own join operators in
//! its `TopologyTestDriver` (tests/clients/streams-oracle, built by scripts/setup on the
//! pinned Kafka line and on the newest release) and through a weir pipeline, one record
//! at a time in the same order; the outputs must be the same records (key, value,
//! timestamp) in the same order, for stream–table, table–table and stream–stream joins of
//! each type, and stream–global_table joins looking up a key the stream value names
//! (`KStream.join(GlobalKTable, KeyValueMapper, ValueJoiner)`; weir's `key_module` is
//! examples/rust-key-selector, Kafka's mapper the same rule in Java), and stream–table
//! joins over a versioned table with a grace period (a table source with
//! `history_retention_ms` and the step's `grace_ms`; Kafka's
//! `Stores.persistentVersionedKeyValueStore` and `Joined.withGracePeriod`). The
//! stream–stream cases have null keys too (KIP-962: a left or outer join emits a kept
//! side's at once, joined with null). Counts after
//! one and two `group_by`s are compared with `groupBy(...).count()` the same way
//! (tests/clients/streams-oracle's CountOracle), and joins after a key change (a re-keyed
//! stream with a table, two re-keyed streams in a window) with RegroupOracle.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::guests::guest;
use common::pipeline::*;
use common::streams::now_ms;
use common::{Install, Server, create_topic, repo_root};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// One input record: left side?, key, value (None: null), timestamp.
type Input = (bool, String, Option<String>, i64);
/// One output record: key, value (None: null), timestamp.
type Output = (String, Option<String>, i64);
/// A join window and its grace, ms (a stream–versioned join: the table's history
/// retention and the join's grace).
type Window = Option<(i64, i64)>;

/// The oracle's build for `install`: its directory (the jar, and lib/ with kafka-streams).
fn oracle_dir(install: Install) -> std::path::PathBuf {
    repo_root()
        .join("tests/clients/streams-oracle/target")
        .join(match install {
            Install::Pinned => "pinned",
            Install::Newest => "newest",
        })
}

/// The kafka-streams version an install's oracle runs (from its jar's name in lib/).
fn streams_version(install: Install) -> String {
    let lib = oracle_dir(install).join("lib");
    std::fs::read_dir(&lib)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup)", lib.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .find_map(|n| {
            n.strip_prefix("kafka-streams-")?
                .strip_suffix(".jar")
                .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
                .map(str::to_string)
        })
        .unwrap_or_else(|| panic!("no kafka-streams jar in {}", lib.display()))
}

/// Kafka Streams' outputs for `input` (`window`: join window and grace, ms).
fn kafka(
    install: Install,
    pair: &str,
    join_type: &str,
    window: Window,
    input: &[Input],
) -> Vec<Output> {
    oracle(install, "weir.JoinOracle", pair, join_type, window, input)
}

/// The outputs of the oracle class `main` (JoinOracle's arguments, input and output).
fn oracle(
    install: Install,
    main: &str,
    pair: &str,
    join_type: &str,
    window: Window,
    input: &[Input],
) -> Vec<Output> {
    let dir = oracle_dir(install);
    let jar = dir.join("streams-oracle.jar");
    assert!(
        jar.exists(),
        "{} is missing: run scripts/setup (it builds the Kafka Streams oracle)",
        jar.display()
    );
    let mut cmd = Command::new("java");
    cmd.arg("-cp")
        .arg(format!("{}:{}/lib/*", jar.display(), dir.display()))
        .arg(main)
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
        "stream-global" => ("stream", "global_table"),
        "stream-versioned" => ("stream", "table"),
        _ => ("stream", "stream"),
    };
    let mut step = json!({"op": "join", "left": "l", "right": "r", "type": join_type});
    let mut right = json!({"topic": r, "as": right_as});
    if pair == "stream-global" {
        step["key_module"] = json!(FIELD_KEY);
    }
    match window {
        Some((history, grace)) if pair == "stream-versioned" => {
            right["history_retention_ms"] = json!(history);
            step["grace_ms"] = json!(grace);
        }
        Some((w, g)) => step["window"] = json!({"before_ms": w, "after_ms": w, "grace_ms": g}),
        None => {}
    }
    let spec = json!({"name": name,
        "sources": {"l": {"topic": l, "as": left_as}, "r": right},
        "output": out, "steps": [step], "start": "earliest"});
    let (code, body) = call(s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
    for (n, (left, key, value, ts)) in input.iter().enumerate() {
        let topic = if *left { &l } else { &r };
        // `\N`: a null key, as the oracle reads it.
        let key = (key != "\\N").then_some(key);
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
                r["key"].as_str().unwrap_or("\\N").to_string(),
                r["value"].as_str().map(str::to_string),
                r["timestamp"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// The key module of the stream–global_table cases: examples/rust-key-selector, the text
/// of the value before its first comma.
const FIELD_KEY: &str = "field-key";

/// Random input: three keys, unique values, some tombstones, timestamps mostly rising.
/// With `names_key`, a stream value names a table key before a comma (`k1,v7`; now and
/// then no comma, which names none).
fn input(seed: u64, n: usize, t0: i64, names_key: bool) -> Vec<Input> {
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
            let left = rng.random_bool(0.5);
            let value = (!rng.random_bool(0.15)).then(|| match rng.random_range(0..5) {
                0 if names_key && left => format!("v{i}"),
                _ if names_key && left => format!("k{},v{i}", rng.random_range(0..3)),
                _ => format!("v{i}"),
            });
            (left, format!("k{}", rng.random_range(0..3)), value, ts)
        })
        .collect()
}

/// `records` with about half their timestamps moved back by up to 30 ms.
fn out_of_order(records: Vec<Input>, seed: u64) -> Vec<Input> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed + 100);
    records
        .into_iter()
        .map(|(left, key, value, ts)| {
            let back = if rng.random_bool(0.5) {
                rng.random_range(0..30)
            } else {
                0
            };
            (left, key, value, ts - back)
        })
        .collect()
}

/// `records` with about one key in six null (`\\N`), on both sides.
fn with_null_keys(records: Vec<Input>, seed: u64) -> Vec<Input> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed + 200);
    records
        .into_iter()
        .map(|(left, key, value, ts)| {
            let key = if rng.random_bool(1.0 / 6.0) {
                "\\N".into()
            } else {
                key
            };
            (left, key, value, ts)
        })
        .collect()
}

fn joins_match_kafka_streams_on_random_input(install: Install) {
    let version = streams_version(install);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let (code, body) = upload(&s, FIELD_KEY, &guest("streams", "rust-key-selector"));
    assert_eq!(code, 201, "{body}");
    let t0 = now_ms();
    let cases: [(&str, &str, Window); 13] = [
        ("stream-table", "inner", None),
        ("stream-table", "left", None),
        ("table-table", "inner", None),
        ("table-table", "left", None),
        ("table-table", "outer", None),
        ("stream-stream", "inner", Some((50, 20))),
        ("stream-stream", "left", Some((50, 20))),
        ("stream-stream", "outer", Some((50, 20))),
        ("stream-global", "inner", None),
        ("stream-global", "left", None),
        // Out-of-order table updates up to 30 ms late: a grace that waits for some of
        // them, one that waits for none, and a history shorter than the lateness.
        ("stream-versioned", "inner", Some((60, 20))),
        ("stream-versioned", "left", Some((40, 0))),
        ("stream-versioned", "left", Some((15, 10))),
    ];
    for (i, (pair, join_type, window)) in cases.into_iter().enumerate() {
        let records = input(i as u64 + 1, 60, t0, pair == "stream-global");
        let records = match pair {
            // Later table updates for the buffer to wait for: half the records out of
            // order, by up to 30 ms.
            "stream-versioned" => out_of_order(records, i as u64),
            "stream-stream" => with_null_keys(records, i as u64),
            _ => records,
        };
        let want = kafka(install, pair, join_type, window, &records);
        if pair == "stream-stream" {
            // KIP-962: a kept side's null-key record comes out at once, joined with null.
            let keyless = |side: bool| {
                let n = records.iter().filter(|r| r.0 == side && r.1 == "\\N");
                n.filter(|r| r.2.is_some()).count()
            };
            let keeps = match join_type {
                "left" => keyless(true),
                "outer" => keyless(true) + keyless(false),
                _ => 0,
            };
            let kept = want.iter().filter(|o| o.0 == "\\N").count();
            assert_eq!(
                kept, keeps,
                "{join_type}: Kafka Streams {version} (KIP-962)"
            );
        }
        assert!(
            !want.is_empty(),
            "{pair} {join_type}: Kafka Streams {version} emitted nothing"
        );
        if pair == "stream-versioned" {
            // The case must tell a versioned table with grace from a plain one.
            let plain = kafka(install, "stream-table", join_type, None, &records);
            assert_ne!(
                plain, want,
                "case {i}: the input joins alike over a plain table; it tests nothing versioned"
            );
        }
        let got = weir(&s, &format!("case{i}"), pair, join_type, window, &records);
        if got != want {
            let at = got.iter().zip(&want).take_while(|(g, w)| g == w).count();
            panic!(
                "{pair} {join_type} join: weir and Kafka Streams {version} differ from output {at}:\n\
                 weir  {:?}\nkafka {:?}\ninput {records:?}",
                &got[at..],
                &want[at..]
            );
        }
    }
}

/// Kafka Streams' last count per key for `input` (key, value, timestamp) grouped by the
/// text before `separators[0]`, then (two group_bys) before `separators[1]`.
fn kafka_counts(
    install: Install,
    separators: &[&str],
    input: &[(String, String, i64)],
) -> std::collections::BTreeMap<String, i64> {
    let dir = oracle_dir(install);
    let mut child = Command::new("java")
        .arg("-cp")
        .arg(format!(
            "{}:{}/lib/*",
            dir.join("streams-oracle.jar").display(),
            dir.display()
        ))
        .arg("weir.CountOracle")
        .args(separators)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("java (scripts/setup installs it)");
    let lines: String = input
        .iter()
        .map(|(k, v, ts)| format!("{k}\t{v}\t{ts}\n"))
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
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, n) = l.split_once('\t').unwrap();
            (k.to_string(), n.parse().unwrap())
        })
        .collect()
}

/// One and two `group_by`s before a `count`, over a 3-partition input: weir's last count
/// per new key equals Kafka Streams' (`groupBy(...).count()`, and `selectKey` +
/// `repartition` before it for the first of two).
fn group_by_counts_match_kafka_streams(install: Install) {
    let version = streams_version(install);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let (code, body) = upload(&s, "keys", &guest("streams", "rust-key-selector"));
    assert_eq!(code, 201, "{body}");
    create_topic(&s, "orders", 3);
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    let t0 = now_ms();
    let input: Vec<(String, String, i64)> = (0..500)
        .map(|i| {
            let value = match rng.random_range(0..20) {
                0 => format!("nothing{i}"),
                1 | 2 => format!("u{},item{i}", rng.random_range(0..9)),
                _ => format!(
                    "r{}:u{},item{i}",
                    rng.random_range(0..4),
                    rng.random_range(0..9)
                ),
            };
            (format!("order{i}"), value, t0 + i as i64)
        })
        .collect();
    produce(
        &s,
        "orders",
        input
            .iter()
            .map(|(k, v, ts)| json!({"key": k, "value": v, "timestamp": ts}))
            .collect(),
    );
    for (name, separators) in [("once", vec![","]), ("twice", vec![",", ":"])] {
        let out = format!("{name}-counts");
        create_topic(&s, &out, 2);
        let mut steps: Vec<Value> = separators
            .iter()
            .map(|sep| json!({"op": "group_by", "module": "keys", "config": {"separator": sep}}))
            .collect();
        steps.push(json!({"name": "count", "op": "count"}));
        let spec = json!({"name": name, "inputs": ["orders"], "output": out,
            "steps": steps, "start": "earliest"});
        let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
        assert_eq!(code, 201, "{body}");
        wait_caught_up(&s, name, input.len() as u64);
        let mut got = std::collections::BTreeMap::new();
        for r in read_all(&s, &out).into_iter().flatten() {
            got.insert(
                r["key"].as_str().unwrap().to_string(),
                r["value"].as_str().unwrap().parse::<i64>().unwrap(),
            );
        }
        let want = kafka_counts(install, &separators, &input);
        assert!(
            want.len() > 3,
            "{name}: Kafka Streams {version} counted {want:?}"
        );
        assert_eq!(
            got, want,
            "{name}: weir and Kafka Streams {version} count apart"
        );
    }
}

/// Random input whose values name a new key before a comma on both sides (now and then
/// none: the record is dropped by the re-keying), timestamps partly out of order.
fn keyed_input(seed: u64, n: usize, t0: i64) -> Vec<Input> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut t = t0;
    (0..n)
        .map(|i| {
            t += rng.random_range(0..40);
            let ts = t - if rng.random_bool(0.2) {
                rng.random_range(0..30)
            } else {
                0
            };
            let left = rng.random_bool(0.5);
            let value = match rng.random_range(0..8) {
                0 => format!("v{i}"),
                _ => format!("n{},v{i}", rng.random_range(0..3)),
            };
            // Table keys are new keys: a table is not re-keyed.
            (
                left,
                format!("n{}", rng.random_range(0..4)),
                Some(value),
                ts,
            )
        })
        .collect()
}

/// weir's outputs for `input` through a `group_by` of the left stream (and, stream–stream,
/// of the right one) before the join, each record processed before the next is produced.
fn weir_regrouped(
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
    let rekey = |name: &str, input: &str| json!({"name": name, "op": "group_by", "module": FIELD_KEY, "input": input});
    let mut join = json!({"op": "join", "left": "lk", "right": "r", "type": join_type});
    let mut steps = vec![rekey("lk", "l")];
    let right_as = if pair == "count" {
        join = json!({"op": "count", "input": "lk"});
        ""
    } else if pair == "stream-stream" {
        steps.push(rekey("rk", "r"));
        join["right"] = json!("rk");
        let (w, g) = window.unwrap();
        join["window"] = json!({"before_ms": w, "after_ms": w, "grace_ms": g});
        "stream"
    } else if pair == "stream-global" {
        join["key_module"] = json!(FIELD_KEY);
        "global_table"
    } else {
        "table"
    };
    steps.push(join);
    let mut spec = json!({"name": name,
        "sources": {"l": {"topic": l}, "r": {"topic": r, "as": right_as}},
        "output": out, "steps": steps, "start": "earliest"});
    if pair == "count" {
        spec["sources"] = json!({"l": {"topic": l}});
    }
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
                // A null key as the oracle writes it (a left join's null new key).
                r["key"].as_str().unwrap_or("\\N").to_string(),
                r["value"].as_str().map(str::to_string),
                r["timestamp"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Joins after a key change: `selectKey(...).join(table)` (Kafka repartitions the stream
/// first) and a windowed join of two re-keyed streams, as weir's `group_by` steps before
/// a `join` step, a re-keyed stream with a global table, and `groupBy(...).count()` as a
/// `group_by` before a `count`, outputs equal record for record
/// (tests/clients/streams-oracle's RegroupOracle). About one record in eight has a null new
/// key: the left joins with a table or global table and the left and outer window joins
/// keep it (an outer one on both sides), joined with null and keyed null (KIP-962); the
/// inner joins and the count drop it.
fn regrouped_joins_match_kafka_streams(install: Install) {
    let version = streams_version(install);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let (code, body) = upload(&s, FIELD_KEY, &guest("streams", "rust-key-selector"));
    assert_eq!(code, 201, "{body}");
    let t0 = now_ms();
    let cases: [(&str, &str, Window); 8] = [
        ("stream-table", "inner", None),
        ("stream-table", "left", None),
        ("stream-global", "inner", None),
        ("stream-global", "left", None),
        ("count", "count", None),
        ("stream-stream", "inner", Some((50, 20))),
        ("stream-stream", "left", Some((50, 20))),
        ("stream-stream", "outer", Some((50, 20))),
    ];
    for (i, (pair, join_type, window)) in cases.into_iter().enumerate() {
        let mut records = keyed_input(i as u64 + 40, 50, t0);
        if pair == "count" {
            // A count reads the left stream alone.
            records.retain(|r| r.0);
        }
        let null_keys = records
            .iter()
            .filter(|r| r.0 && !r.2.as_deref().unwrap_or_default().contains(','))
            .count();
        assert!(
            null_keys > 0,
            "{pair} {join_type}: no null new key in {records:?}"
        );
        let want = oracle(
            install,
            "weir.RegroupOracle",
            pair,
            join_type,
            window,
            &records,
        );
        assert!(
            !want.is_empty(),
            "{pair} {join_type}: Kafka Streams {version} emitted nothing for {records:?}"
        );
        let kept = want.iter().filter(|o| o.0 == "\\N").count();
        // An outer window join keeps the right stream's null new keys too.
        let right_null_keys = records
            .iter()
            .filter(|r| !r.0 && !r.2.as_deref().unwrap_or_default().contains(','))
            .count();
        let keeps = match (pair, join_type) {
            ("stream-stream", "outer") => null_keys + right_null_keys,
            (_, "left") if pair.starts_with("stream-") => null_keys,
            _ => 0,
        };
        assert_eq!(
            kept, keeps,
            "{pair} {join_type}: Kafka Streams {version} keeps {keeps} null new keys (KIP-962)"
        );
        let got = weir_regrouped(&s, &format!("re{i}"), pair, join_type, window, &records);
        if got != want {
            let at = got.iter().zip(&want).take_while(|(g, w)| g == w).count();
            panic!(
                "re-keyed {pair} {join_type} join: weir and Kafka Streams {version} differ from output {at}:\n\
                 weir  {:?}\nkafka {:?}\ninput {records:?}",
                &got[at..],
                &want[at..]
            );
        }
    }
}

crate::on_both_installs!(
    joins_match_kafka_streams_on_random_input,
    group_by_counts_match_kafka_streams,
    regrouped_joins_match_kafka_streams
);
