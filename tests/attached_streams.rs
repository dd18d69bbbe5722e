//! Streams steps and processor timers in attached mode (`weir serve --cluster B --group
//! G`): the same spec and input run embedded (on the cluster, a weir server) and attached
//! (on nodes with no broker of their own) give the same output, read_committed; a node
//! SIGKILLed mid-stream hands its tasks, with their state restored from the changelogs
//! (window stores and stream clocks included), to the other without changing a result.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weir::cluster::{self, ClientProps, TopicOffset};

use common::pipeline::{call, produce, upload};
use common::streams::now_ms;
use common::{Server, TEST_CONFIG, guests, http, wait_until, weir_bin};

/// An attached node: a `weir serve --cluster` child, SIGKILLed on drop.
struct Node {
    child: Child,
    url: String,
    _config: tempfile::NamedTempFile,
}

impl Node {
    /// Starts a node attached to `bootstrap` in group `g`, its data in `dir`; waits for
    /// its HTTP address and the line saying it attached.
    fn start(dir: &Path, bootstrap: &str) -> Node {
        let config = tempfile::NamedTempFile::new().unwrap();
        // A dead node's tasks move after 6 s without its heartbeats.
        std::fs::write(
            config.path(),
            format!("{TEST_CONFIG}[cluster]\nsession_timeout_ms = 6000\n"),
        )
        .unwrap();
        let mut child = Command::new(weir_bin())
            .args(["serve", "--data-dir"])
            .arg(dir)
            .args(common::serve_args())
            .args(["--cluster", bootstrap, "--group", "g", "--config"])
            .arg(config.path())
            .env("WEIR_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut url, mut attached) = (None, false);
        while url.is_none() || !attached {
            let line = lines
                .next()
                .expect("the node exited before announcing")
                .unwrap();
            if let Some(u) = line.strip_prefix("weir: HTTP API on ") {
                url = Some(u.trim().to_string());
            }
            attached |= line.starts_with("weir: attached to ");
        }
        // Keep reading so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Node {
            child,
            url: url.unwrap(),
            _config: config,
        }
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let r = http().get(format!("{}{path}", self.url)).send().unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }

    fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = http()
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }

    fn upload(&self, name: &str, wasm: &Path) {
        let r = http()
            .post(format!("{}/v1/modules/{name}", self.url))
            .header("content-type", "application/wasm")
            .body(std::fs::read(wasm).unwrap())
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "{}", r.text().unwrap_or_default());
    }

    /// Creates `spec` here; the shared catalog carries it to the other nodes.
    fn create(&self, spec: Value) {
        let (code, body) = self.post("/v1/pipelines", spec);
        assert_eq!(code, 201, "{body}");
    }

    /// Whether this node runs tasks of `pipeline` (its view in `GET /v1/cluster`).
    fn has_tasks(&self, pipeline: &str) -> bool {
        let (_, v) = self.get("/v1/cluster");
        v["pipelines"].as_array().into_iter().flatten().any(|p| {
            p["name"] == pipeline
                && p["local"]["tasks"]
                    .as_object()
                    .is_some_and(|t| !t.is_empty())
        })
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One output record: key, value, window start and end headers.
type Out = (String, String, Option<String>, Option<String>);

/// Every committed record of `topic` (read_committed) up to its end as it was when
/// called, sorted.
fn committed(bootstrap: &str, topic: &str, partitions: i32) -> Vec<Out> {
    let mut out = committed_in_order(bootstrap, topic, partitions);
    out.sort();
    out
}

/// The same in the order read (partition by partition as they come).
fn committed_in_order(bootstrap: &str, topic: &str, partitions: i32) -> Vec<Out> {
    let props = BTreeMap::from([("bootstrap.servers".to_string(), bootstrap.to_string())]);
    let c = cluster::connect(ClientProps::new(props).unwrap());
    let admin = c.admin().unwrap();
    let ends: Vec<i64> = (0..partitions)
        .map(|p| admin.watermarks(topic, p).unwrap().1)
        .collect();
    let mut consumer = c.consumer(None).unwrap();
    let positions: Vec<TopicOffset> = (0..partitions)
        .map(|partition| TopicOffset {
            topic: topic.into(),
            partition,
            offset: 0,
        })
        .collect();
    consumer.assign(&positions).unwrap();
    let text = |b: Option<Vec<u8>>| String::from_utf8_lossy(&b.unwrap_or_default()).into_owned();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = consumer.poll(10_000, Duration::from_millis(200)).unwrap();
        let empty = got.is_empty();
        for r in got {
            let header = |name: &str| {
                r.headers
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| text(v.clone()))
            };
            let (start, end) = (header("weir.window.start"), header("weir.window.end"));
            out.push((text(r.key), text(r.value), start, end));
        }
        // Positions pass commit markers, which poll never returns.
        let at = consumer.positions().unwrap();
        let done = (0..partitions).all(|p| {
            ends[p as usize] == 0
                || at
                    .iter()
                    .find(|o| o.partition == p)
                    .is_some_and(|o| o.offset >= ends[p as usize])
        });
        if (done && empty) || Instant::now() > deadline {
            break;
        }
    }
    out
}

/// Waits until `a` and `b` (each read whole, read_committed) hold the same records and
/// `done` holds of them; returns them.
fn same_output(
    bootstrap: &str,
    (a, b): (&str, &str),
    partitions: i32,
    done: impl Fn(&[Out]) -> bool,
) -> Vec<Out> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let x = committed(bootstrap, a, partitions);
        let y = committed(bootstrap, b, partitions);
        if (x == y && done(&x)) || Instant::now() > deadline {
            assert_eq!(x, y, "{a} (left) and {b} (right) differ");
            assert!(done(&x), "{a} never got its output: {x:?}");
            return x;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn topics(broker: &Server, names: &[(&str, u32)]) {
    for (t, n) in names {
        let (code, body) = call(
            broker,
            "POST",
            "/v1/topics",
            Some(json!({"name": t, "partitions": n})),
        );
        assert_eq!(code, 201, "{body}");
    }
}

/// The same pipeline embedded on the cluster (`<name>-e`, output `<output>-e`) and
/// attached (`<name>-a`, output `<output>-a`), from `in`.
fn both(broker: &Server, node: &Node, name: &str, output: &str, steps: Value) {
    for (mode, at) in [("e", None), ("a", Some(node))] {
        let spec = json!({
            "name": format!("{name}-{mode}"), "inputs": ["in"],
            "output": format!("{output}-{mode}"), "start": "earliest", "steps": steps,
        });
        match at {
            Some(node) => node.create(spec),
            None => common::pipeline::create(broker, spec),
        }
    }
}

#[test]
fn processor_timers_fire_attached_and_punctuate_as_embedded_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Server::start(&dir.path().join("broker"), &[]);
    let bootstrap = broker.kafka.clone();
    topics(
        &broker,
        &[
            ("in", 2),
            ("ticks-e", 1),
            ("ticks-a", 1),
            ("reports", 1),
            ("evens", 1),
        ],
    );
    let nodes = [
        Node::start(&dir.path().join("node0"), &bootstrap),
        Node::start(&dir.path().join("node1"), &bootstrap),
    ];
    let windowcount = guests::guest("rust", "windowcount");
    let counter = guests::guest("rust", "counter");
    let (code, body) = upload(&broker, "windowcount", &windowcount);
    assert_eq!(code, 201, "{body}");
    nodes[0].upload("windowcount", &windowcount);
    nodes[0].upload("counter", &counter);
    // Stream-time punctuation (windowcount: window and session stores closed on each
    // second of stream time), embedded and attached.
    both(
        &broker,
        &nodes[0],
        "punct",
        "ticks",
        json!([{"name": "w", "module": "windowcount"}]),
    );
    // A wall-clock timer (counter: every 50 ms, the number of keys it holds).
    nodes[0].create(json!({
        "name": "clock", "inputs": ["in"], "output": "reports", "outputs": ["evens"],
        "start": "earliest", "steps": [{"module": "counter"}]
    }));
    for name in ["punct-a", "clock"] {
        assert!(
            wait_until(Duration::from_secs(60), || nodes
                .iter()
                .all(|n| n.has_tasks(name))),
            "{name}'s tasks never spread over both nodes"
        );
    }
    // Six keys, a record every 100 ms of event time; the second half after a kill.
    let base = (now_ms() / 1000 - 600) * 1000;
    let records = |from: i64, to: i64| -> Vec<Value> {
        (from..to)
            .map(|i| json!({"key": format!("k{}", i % 6), "value": "x", "timestamp": base + i * 100}))
            .collect()
    };
    produce(&broker, "in", records(0, 60));
    // Done when both partitions punctuated at the stream time of their last records.
    let ticked_past = |out: &[Out], t: i64| {
        out.iter()
            .filter_map(|o| o.1.strip_prefix("tick@")?.parse::<i64>().ok())
            .filter(|&at| at >= base + t)
            .count()
            >= 2
    };
    let out = same_output(&bootstrap, ("ticks-e", "ticks-a"), 1, |o| {
        ticked_past(o, 5000)
    });
    assert!(
        out.iter()
            .any(|o| o.1.starts_with("k") && o.1.contains('=')),
        "no window closed: {out:?}"
    );
    // The wall-clock timer fires attached too, with the keys the task's state holds.
    assert!(
        wait_until(Duration::from_secs(30), || {
            committed(&bootstrap, "reports", 1)
                .iter()
                .any(|o| o.1.starts_with("keys=") && !o.1.starts_with("keys=0 "))
        }),
        "the counter's timer never reported attached"
    );
    // One node dies: its tasks move, window stores and stream clocks restored.
    let [survivor, dead] = nodes;
    dead.kill();
    produce(&broker, "in", records(60, 150));
    let out = same_output(&bootstrap, ("ticks-e", "ticks-a"), 1, |o| {
        ticked_past(o, 14_000)
    });
    assert!(
        out.iter().any(|o| o.1.starts_with("session:")),
        "no session closed: {out:?}"
    );
    drop(survivor);
}

/// The last value per (key, window start) of `topic` (one partition), read_committed:
/// what `on_update` results come to.
fn latest(bootstrap: &str, topic: &str) -> BTreeMap<(String, Option<String>), String> {
    committed_in_order(bootstrap, topic, 1)
        .into_iter()
        .map(|(k, v, start, _)| ((k, start), v))
        .collect()
}

#[test]
fn aggregations_attached_match_embedded_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Server::start(&dir.path().join("broker"), &[]);
    let bootstrap = broker.kafka.clone();
    let kinds = [
        (
            "tumbling",
            json!([{"op": "count", "emit": "on_close",
                "window": {"type": "tumbling", "size_ms": 1000, "grace_ms": 200}}]),
        ),
        (
            "hopping",
            json!([{"op": "sum", "emit": "on_close",
                "window": {"type": "hopping", "size_ms": 1000, "advance_ms": 500}}]),
        ),
        (
            "sliding",
            json!([{"op": "count", "emit": "on_close",
                "window": {"type": "sliding", "max_diff_ms": 300, "grace_ms": 100}}]),
        ),
        (
            "session",
            json!([{"op": "sum", "emit": "on_close",
                "window": {"type": "session", "gap_ms": 250}}]),
        ),
        (
            "module",
            json!([{"op": "aggregate", "module": "summer", "emit": "on_close",
                "window": {"type": "tumbling", "size_ms": 1000}}]),
        ),
        (
            "idle",
            json!([{"op": "count", "emit": "on_close", "close_idle_after_ms": 1500,
                "window": {"type": "tumbling", "size_ms": 1000}}]),
        ),
        // Unwindowed, emit on update, into a table.
        ("table", json!([{"op": "sum"}, {"op": "to_table"}])),
        (
            "reduce",
            json!([{"op": "reduce", "module": "summer",
                "window": {"type": "tumbling", "size_ms": 1000}}]),
        ),
    ];
    let mut names = vec![("in", 2)];
    for (kind, _) in &kinds {
        names.push((Box::leak(format!("{kind}-e").into_boxed_str()), 1));
        names.push((Box::leak(format!("{kind}-a").into_boxed_str()), 1));
    }
    topics(&broker, &names);
    let nodes = [
        Node::start(&dir.path().join("node0"), &bootstrap),
        Node::start(&dir.path().join("node1"), &bootstrap),
    ];
    let summer = guests::guest("streams", "rust-aggregator");
    assert_eq!(upload(&broker, "summer", &summer).0, 201);
    nodes[0].upload("summer", &summer);
    for (kind, steps) in &kinds {
        both(&broker, &nodes[0], kind, kind, steps.clone());
    }
    for (kind, _) in &kinds {
        let name = format!("{kind}-a");
        assert!(
            wait_until(Duration::from_secs(60), || nodes
                .iter()
                .all(|n| n.has_tasks(&name))),
            "{name}'s tasks never spread over both nodes"
        );
    }
    // Six keys, out of order within a few hundred ms, values 0..7.
    let base = (now_ms() / 1000 - 600) * 1000;
    let ts = |i: i64| base + i * 37 - (i % 5) * 60;
    let records = |from: i64, to: i64| -> Vec<Value> {
        (from..to)
            .map(|i| {
                json!({"key": format!("k{}", i % 6), "value": (i % 7).to_string(),
                    "timestamp": ts(i)})
            })
            .collect()
    };
    let check = |kind: &str, sent: u64| {
        common::pipeline::wait_caught_up(&broker, &format!("{kind}-e"), sent);
        let (e, a) = (format!("{kind}-e"), format!("{kind}-a"));
        if matches!(kind, "table" | "reduce") {
            // On update: the last result per key and window is the same.
            let want = latest(&bootstrap, &e);
            assert!(!want.is_empty(), "{kind}: no embedded output");
            let ok = wait_until(Duration::from_secs(60), || latest(&bootstrap, &a) == want);
            assert!(
                ok,
                "{kind}: attached {:?} != embedded {want:?}",
                latest(&bootstrap, &a)
            );
            return;
        }
        // The idle step closes the window of each key's last record on the wall clock
        // (no later record does): the first 150 records' (the rest come late).
        let last_windows: Vec<(String, String)> = (0..6)
            .map(|k| {
                let t = (0..150).filter(|i| i % 6 == k).map(ts).max().unwrap();
                (format!("k{k}"), (t.div_euclid(1000) * 1000).to_string())
            })
            .collect();
        let out = same_output(&bootstrap, (&e, &a), 1, |o| {
            !o.is_empty()
                && (kind != "idle"
                    || last_windows.iter().all(|(k, start)| {
                        o.iter()
                            .any(|r| &r.0 == k && r.2.as_deref() == Some(start.as_str()))
                    }))
        });
        eprintln!(
            "{kind}: {} results, the same embedded and attached",
            out.len()
        );
        // Exactly one result per window and key.
        let mut seen = std::collections::BTreeSet::new();
        for (k, _, start, end) in &out {
            assert!(seen.insert((k, start, end)), "{kind}: {k} {start:?} twice");
        }
    };
    produce(&broker, "in", records(0, 150));
    for (kind, _) in &kinds {
        check(kind, 150);
    }
    // One node dies mid-stream: its tasks move with their aggregates and open windows.
    let [survivor, dead] = nodes;
    dead.kill();
    produce(&broker, "in", records(150, 300));
    // Then a record a minute later on each partition closes every window.
    let last = ts(300) + 60_000;
    let closing: Vec<Value> = (0..2)
        .map(|p| json!({"key": "zz", "value": "0", "timestamp": last, "partition": p}))
        .collect();
    produce(&broker, "in", closing);
    for (kind, _) in &kinds {
        check(kind, 302);
    }
    // The dead node's tasks came to the survivor with their state from the changelogs.
    let (_, view) = survivor.get("/v1/cluster");
    let restored: u64 = view["pipelines"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["local"]["restored_records"].as_u64())
        .sum();
    assert!(restored > 0, "nothing was restored: {view}");
}

/// Waits until the group of attached `pipeline` (as `node` sees it) has `members` members
/// whose tasks cover `tasks` topic partitions, none lagging.
fn attached_caught_up(node: &Node, pipeline: &str, members: usize, tasks: usize) {
    let mut last = Value::Null;
    let ok = wait_until(Duration::from_secs(90), || {
        let (_, view) = node.get("/v1/cluster");
        last = view.clone();
        let Some(p) = view["pipelines"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == pipeline)
        else {
            return false;
        };
        let ms = p["members"].as_array().cloned().unwrap_or_default();
        let ts: Vec<&Value> = ms
            .iter()
            .flat_map(|m| m["tasks"].as_array().into_iter().flatten())
            .collect();
        ms.len() == members && ts.len() == tasks && ts.iter().all(|t| t["lag"] == 0)
    });
    assert!(ok, "{pipeline} never caught up attached: {last}");
}

#[test]
fn stream_table_and_table_table_joins_attached_match_embedded_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Server::start(&dir.path().join("broker"), &[]);
    let bootstrap = broker.kafka.clone();
    topics(
        &broker,
        &[
            ("orders", 2),
            ("customers", 2),
            ("users", 2),
            ("scores", 2),
            ("enriched-e", 1),
            ("enriched-a", 1),
            ("pairs-e", 1),
            ("pairs-a", 1),
        ],
    );
    let nodes = [
        Node::start(&dir.path().join("node0"), &bootstrap),
        Node::start(&dir.path().join("node1"), &bootstrap),
    ];
    let spec = |name: &str, output: &str, sources: Value, join: Value| {
        json!({"name": name, "sources": sources, "output": output, "start": "earliest",
            "steps": [join]})
    };
    let enrich = |mode: &str| {
        spec(
            &format!("enrich-{mode}"),
            &format!("enriched-{mode}"),
            json!({"orders": {"topic": "orders"},
                "customers": {"topic": "customers", "as": "table"}}),
            json!({"op": "join", "left": "orders", "right": "customers", "type": "left"}),
        )
    };
    let pairs = |mode: &str| {
        spec(
            &format!("pairs-{mode}"),
            &format!("pairs-{mode}"),
            json!({"users": {"topic": "users", "as": "table"},
                "scores": {"topic": "scores", "as": "table"}}),
            json!({"op": "join", "left": "users", "right": "scores", "type": "outer"}),
        )
    };
    common::pipeline::create(&broker, enrich("e"));
    common::pipeline::create(&broker, pairs("e"));
    nodes[0].create(enrich("a"));
    nodes[0].create(pairs("a"));
    let keyed = |prefix: &str, n: usize, value: &dyn Fn(usize) -> Value| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"key": format!("{prefix}{}", i % 8), "value": value(i)}))
            .collect()
    };
    // Which side arrives first decides a join's results: each phase lets both modes read
    // one side whole before the other comes.
    let caught_up = |node: &Node, members: usize, sent: (u64, u64)| {
        common::pipeline::wait_caught_up(&broker, "enrich-e", sent.0);
        common::pipeline::wait_caught_up(&broker, "pairs-e", sent.1);
        attached_caught_up(node, "enrich-a", members, 4);
        attached_caught_up(node, "pairs-a", members, 4);
    };
    produce(
        &broker,
        "customers",
        keyed("c", 8, &|i| json!(format!("name{i}"))),
    );
    produce(
        &broker,
        "users",
        keyed("u", 8, &|i| json!(format!("user{i}"))),
    );
    caught_up(&nodes[0], 2, (8, 8));
    produce(
        &broker,
        "orders",
        keyed("c", 40, &|i| json!(format!("order{i}"))),
    );
    produce(&broker, "scores", keyed("u", 6, &|i| json!(i.to_string())));
    caught_up(&nodes[0], 2, (48, 14));
    let first = same_output(&bootstrap, ("enriched-e", "enriched-a"), 1, |o| {
        o.len() == 40
    });
    assert!(first.iter().any(|o| o.1.contains("name3")), "{first:?}");
    same_output(&bootstrap, ("pairs-e", "pairs-a"), 1, |o| o.len() >= 14);
    // One node dies: the survivor takes its tasks, table rows restored from
    // `<pipeline>-<source>-changelog`.
    let [survivor, dead] = nodes;
    dead.kill();
    caught_up(&survivor, 1, (48, 14));
    // Customers renamed and one deleted; users renamed.
    let mut changes = keyed("c", 3, &|i| json!(format!("renamed{i}")));
    changes.push(json!({"key": "c7", "value": null}));
    produce(&broker, "customers", changes);
    produce(
        &broker,
        "users",
        keyed("u", 4, &|i| json!(format!("again{i}"))),
    );
    caught_up(&survivor, 1, (52, 18));
    produce(
        &broker,
        "orders",
        keyed("c", 16, &|i| json!(format!("late{i}"))),
    );
    produce(
        &broker,
        "scores",
        keyed("u", 8, &|i| json!((100 + i).to_string())),
    );
    caught_up(&survivor, 1, (68, 26));
    let out = same_output(&bootstrap, ("enriched-e", "enriched-a"), 1, |o| {
        o.len() == 56
    });
    assert!(
        out.iter().any(|o| o.1.contains("renamed1")),
        "no order saw the renamed customer: {out:?}"
    );
    let pairs_out = same_output(&bootstrap, ("pairs-e", "pairs-a"), 1, |o| o.len() >= 26);
    assert!(
        pairs_out
            .iter()
            .any(|o| o.1.contains("again1") && o.1.contains("101")),
        "{pairs_out:?}"
    );
}
