//! Attached nodes (`common/attached.rs`), read_committed output, and waits on a
//! pipeline run both embedded and attached.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::pipeline::call;
use crate::common::{Server, wait_until};

pub use crate::common::attached::Node;
use crate::common::attached::{client, from_start};

/// One output record: key, value, window start and end headers.
pub type Out = (String, String, Option<String>, Option<String>);

/// Every committed record of `topic` (read_committed) up to its end as it was when
/// called, sorted.
pub fn committed(bootstrap: &str, topic: &str, partitions: i32) -> Vec<Out> {
    let mut out = committed_in_order(bootstrap, topic, partitions);
    out.sort();
    out
}

/// The same in the order read (partition by partition as they come).
pub fn committed_in_order(bootstrap: &str, topic: &str, partitions: i32) -> Vec<Out> {
    let c = client(bootstrap);
    let admin = c.admin().unwrap();
    let ends: Vec<i64> = (0..partitions)
        .map(|p| admin.watermarks(topic, p).unwrap().1)
        .collect();
    let mut consumer = from_start(&*c, topic, partitions);
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
pub fn same_output(
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

/// The cluster of a differential test: a weir server under `dir` holding `names` (the
/// embedded runs' broker and the attached nodes' cluster) and two attached nodes on it.
pub fn cluster_of_two(dir: &Path, names: &[(&str, u32)]) -> (Server, [Node; 2]) {
    let broker = Server::start(&dir.join("broker"), &[]);
    topics(&broker, names);
    let nodes = two_nodes(dir, &broker.kafka);
    (broker, nodes)
}

/// Two attached nodes on `bootstrap`, their data in `dir`'s `node0` and `node1`.
pub fn two_nodes(dir: &Path, bootstrap: &str) -> [Node; 2] {
    [
        Node::start(&dir.join("node0"), bootstrap),
        Node::start(&dir.join("node1"), bootstrap),
    ]
}

pub fn topics(broker: &Server, names: &[(&str, u32)]) {
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
pub fn both(broker: &Server, node: &Node, name: &str, output: &str, steps: Value) {
    for (mode, at) in [("e", None), ("a", Some(node))] {
        let spec = json!({
            "name": format!("{name}-{mode}"), "inputs": ["in"],
            "output": format!("{output}-{mode}"), "start": "earliest", "steps": steps,
        });
        match at {
            Some(node) => node.create(spec),
            None => crate::common::pipeline::create(broker, spec),
        }
    }
}

/// The last value per (key, window start) of `topic` (one partition), read_committed:
/// what `on_update` results come to.
pub fn latest(bootstrap: &str, topic: &str) -> BTreeMap<(String, Option<String>), String> {
    committed_in_order(bootstrap, topic, 1)
        .into_iter()
        .map(|(k, v, start, _)| ((k, start), v))
        .collect()
}

/// Waits until the group of attached `pipeline` (as `node` sees it) has `members` members
/// whose tasks cover `tasks` topic partitions, none lagging.
pub fn attached_caught_up(node: &Node, pipeline: &str, members: usize, tasks: usize) {
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
