//! Attached mode (`weir serve --cluster B --group G`): three weir nodes with no broker of
//! their own run a stateful counting processor over a 6-partition topic of a fourth weir
//! server (the "external cluster"), under load; one node is SIGKILLed mid-stream. A
//! read_committed consumer of the output must see every input's effect exactly once (per
//! key, the counts 1..=N each once), the killed node's tasks must move to the others
//! within the session timeout, and their state must come back from the changelog; the
//! killed node then restarts on its data directory and takes tasks again, still exactly once.
//! Modules and the pipeline live in the shared catalog: the pipeline is created once, on
//! one node, and runs on all; a node started later with an empty data directory picks it
//! up; one `PUT` on another node hot-swaps it on every node, upper-casing exactly the
//! counts made after it; a pause, a resume and the deletion asked of one node reach all.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weir::cluster::{self, ClientProps, TopicOffset};

use common::pipeline::{call, produce};
use common::{Server, TEST_CONFIG, guests, http, wait_until, weir_bin};

/// An attached node: a `weir serve --cluster` child, killed on drop.
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
            assert!(
                !line.starts_with("weir: Kafka API"),
                "an attached node has no listener"
            );
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

    fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = http().request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            r = r.json(&body);
        }
        let r = r.send().unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }

    /// The deployment generation this node's tasks of the first pipeline run.
    fn generation(&self) -> u64 {
        let (_, v) = self.get("/v1/cluster");
        v["pipelines"][0]["local"]["generation"]
            .as_u64()
            .unwrap_or(0)
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

    /// The partitions of `pipeline` whose tasks this node's view of the group lists, by
    /// member node id.
    fn assignment(&self, pipeline: &str) -> BTreeMap<String, Vec<i64>> {
        let (code, view) = self.get("/v1/cluster");
        assert_eq!(code, 200, "{view}");
        let mut out = BTreeMap::new();
        for p in view["pipelines"].as_array().into_iter().flatten() {
            if p["name"] != pipeline {
                continue;
            }
            for m in p["members"].as_array().into_iter().flatten() {
                let parts: Vec<i64> = m["tasks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t["partition"].as_i64())
                    .collect();
                out.insert(m["node"].as_str().unwrap_or("").to_string(), parts);
            }
        }
        out
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

const KEYS: usize = 24;

fn batch(from: usize, n: usize) -> Vec<Value> {
    (from..from + n)
        .map(|i| json!({"key": format!("k{}", i % KEYS), "value": format!("v{i}")}))
        .collect()
}

/// Every committed record of `topic`'s partitions but the counter's timer reports,
/// read_committed, until `want` arrived (or the deadline).
fn read_committed(bootstrap: &str, topic: &str, partitions: i32, want: usize) -> Vec<String> {
    let props = BTreeMap::from([("bootstrap.servers".to_string(), bootstrap.to_string())]);
    let c = cluster::connect(ClientProps::new(props).unwrap());
    let mut consumer = c.consumer(None).unwrap();
    let positions: Vec<TopicOffset> = (0..partitions)
        .map(|partition| TopicOffset {
            topic: topic.into(),
            partition,
            offset: 0,
        })
        .collect();
    consumer.assign(&positions).unwrap();
    let mut values = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while values.len() < want && Instant::now() < deadline {
        for r in consumer.poll(10_000, Duration::from_millis(200)).unwrap() {
            let v = String::from_utf8_lossy(&r.value.unwrap_or_default()).into_owned();
            // The counter's wall-clock timer reports (`keys=N at T`) are no count.
            if !v.starts_with("keys=") {
                values.push(v);
            }
        }
    }
    // Anything past the expected count would be a duplicate: look a little longer.
    let settle = Instant::now() + Duration::from_secs(2);
    while Instant::now() < settle {
        for r in consumer.poll(10_000, Duration::from_millis(200)).unwrap() {
            let v = String::from_utf8_lossy(&r.value.unwrap_or_default()).into_owned();
            // The counter's wall-clock timer reports (`keys=N at T`) are no count.
            if !v.starts_with("keys=") {
                values.push(v);
            }
        }
    }
    values
}

#[test]
fn three_attached_nodes_count_exactly_once_through_a_sigkill_and_a_restart() {
    let counter = guests::guest("rust", "counter");
    let dir = tempfile::tempdir().unwrap();
    let broker = Server::start(&dir.path().join("broker"), &[]);
    let bootstrap = broker.kafka.clone();
    for (t, n) in [("in", 6), ("out", 3), ("evens", 1)] {
        let (code, body) = call(
            &broker,
            "POST",
            "/v1/topics",
            Some(json!({"name": t, "partitions": n})),
        );
        assert_eq!(code, 201, "{body}");
    }
    // The cluster itself is an embedded weir: it says so.
    let (code, view) = call(&broker, "GET", "/v1/cluster", None);
    assert_eq!((code, &view["mode"]), (200, &json!("embedded")), "{view}");
    let nodes: Vec<Node> = (0..3)
        .map(|i| Node::start(&dir.path().join(format!("node{i}")), &bootstrap))
        .collect();
    let spec = json!({
        "name": "counts", "inputs": ["in"], "output": "out", "outputs": ["evens"],
        "start": "earliest",
        "steps": [{"name": "tally", "module": "counter"}]
    });
    // Once, on one node: the shared catalog carries the module and the spec to the others.
    nodes[0].upload("counter", &counter);
    let (code, body) = nodes[0].post("/v1/pipelines", spec.clone());
    assert_eq!(code, 201, "{body}");
    for n in &nodes {
        assert!(
            wait_until(Duration::from_secs(30), || n.get("/v1/pipelines/counts").0
                == 200),
            "a node never saw the pipeline created on another"
        );
        let (code, body) = n.get("/v1/modules/counter");
        assert_eq!(code, 200, "{body}");
        // The broker's own endpoints answer that the node is attached.
        let (code, body) = n.get("/v1/topics");
        assert_eq!(code, 409, "{body}");
        assert_eq!(body["error"]["code"], "attached_mode", "{body}");
    }
    // The name is taken for every node.
    let (code, body) = nodes[2].post("/v1/pipelines", spec.clone());
    assert_eq!(code, 409, "{body}");
    // What attached mode does not run yet (a global table) is refused by name.
    let (code, body) = nodes[0].post(
        "/v1/pipelines",
        json!({"name": "agg", "inputs": ["in"], "output": "out",
            "sources": {"g": {"topic": "evens", "as": "global_table"}},
            "steps": [{"module": "counter"}]}),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.to_string().contains("attached mode"), "{body}");

    // Every partition is some node's task.
    assert!(
        wait_until(Duration::from_secs(60), || {
            let a = nodes[0].assignment("counts");
            a.len() == 3 && a.values().map(Vec::len).sum::<usize>() == 6
        }),
        "the three nodes never shared the six partitions: {:?}",
        nodes[0].assignment("counts")
    );

    // Load, a SIGKILL in the middle, more load.
    let mut sent = 0;
    for _ in 0..10 {
        produce(&broker, "in", batch(sent, 200));
        sent += 200;
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut nodes = nodes;
    let victim = nodes.remove(1);
    let (_, view) = nodes[0].get("/v1/cluster");
    let victim_id = view["pipelines"][0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["node"].as_str().unwrap().to_string())
        .find(|id| {
            let (_, own) = victim.get("/v1/cluster");
            own["node"] == *id
        })
        .expect("the victim is a member");
    victim.kill();
    let killed = Instant::now();
    for _ in 0..10 {
        produce(&broker, "in", batch(sent, 200));
        sent += 200;
        std::thread::sleep(Duration::from_millis(50));
    }
    // Its tasks move to the two others within the session timeout (plus a rebalance).
    assert!(
        wait_until(Duration::from_secs(40), || {
            let a = nodes[0].assignment("counts");
            !a.contains_key(&victim_id)
                && a.len() == 2
                && a.values().map(Vec::len).sum::<usize>() == 6
        }),
        "the killed node's tasks did not move: {:?}",
        nodes[0].assignment("counts")
    );
    let moved_after = killed.elapsed();

    exactly_once(&bootstrap, sent);

    // The moved tasks' state came from the changelog.
    let restored: u64 = nodes
        .iter()
        .map(|n| {
            let (_, v) = n.get("/v1/cluster");
            v["pipelines"][0]["local"]["restored_records"]
                .as_u64()
                .unwrap_or(0)
        })
        .sum();
    assert!(restored > 0, "no state was restored from the changelog");
    // The changelog is a compacted topic the runner created with the input's partitions.
    let (code, t) = call(&broker, "GET", "/v1/topics/counts-tally-changelog", None);
    assert_eq!(code, 200, "{t}");
    assert_eq!(
        t["partitions"]
            .as_array()
            .map_or(t["partitions"].as_u64().unwrap_or(0) as usize, Vec::len),
        6,
        "{t}"
    );
    eprintln!("tasks moved {moved_after:?} after the kill; {restored} changelog records restored");

    // The killed node comes back with its data directory: the same transactional.id fences
    // whatever its dead incarnation left, and it takes a share of the tasks again.
    let back = Node::start(&dir.path().join("node1"), &bootstrap);
    assert_eq!(back.get("/v1/cluster").1["node"], victim_id.as_str());
    assert!(
        wait_until(Duration::from_secs(60), || {
            let a = nodes[0].assignment("counts");
            a.len() == 3 && a.get(&victim_id).is_some_and(|t| !t.is_empty())
        }),
        "the restarted node got no tasks: {:?}",
        nodes[0].assignment("counts")
    );
    for _ in 0..5 {
        produce(&broker, "in", batch(sent, 200));
        sent += 200;
    }
    exactly_once(&bootstrap, sent);

    // A node started now, on an empty data directory, picks the pipeline and its module
    // up from the catalog and takes a share of the tasks.
    let late = Node::start(&dir.path().join("node3"), &bootstrap);
    let late_id = late.get("/v1/cluster").1["node"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(late.get("/v1/pipelines/counts").0, 200);
    assert!(
        wait_until(Duration::from_secs(60), || {
            let a = nodes[0].assignment("counts");
            a.len() == 4
                && a.values().map(Vec::len).sum::<usize>() == 6
                && a.get(&late_id).is_some_and(|t| !t.is_empty())
        }),
        "the late node got no tasks: {:?}",
        nodes[0].assignment("counts")
    );
    for _ in 0..3 {
        produce(&broker, "in", batch(sent, 200));
        sent += 200;
    }
    exactly_once(&bootstrap, sent);

    // One hot-swap, asked of a node the pipeline was not created on, with a module
    // uploaded on a third: a second step upper-cases the counts. Once every node runs the
    // next generation, every new count comes out swapped, over the same state.
    let upper = guests::guest("rust", "upper");
    let nodes: Vec<&Node> = nodes.iter().chain([&back, &late]).collect();
    let before: Vec<u64> = nodes.iter().map(|n| n.generation()).collect();
    assert!(before.iter().all(|g| *g >= 1), "{before:?}");
    let mut updated = spec.clone();
    updated["steps"]
        .as_array_mut()
        .unwrap()
        .push(json!({"module": "upper"}));
    nodes[1].upload("upper", &upper);
    let (code, body) = back.send(
        reqwest::Method::PUT,
        "/v1/pipelines/counts",
        Some(updated.clone()),
    );
    assert_eq!(code, 200, "{body}");
    assert!(
        wait_until(Duration::from_secs(30), || nodes
            .iter()
            .zip(&before)
            .all(|(n, g)| n.generation() == g + 1)),
        "not every node swapped once: {:?} before, {:?} now",
        before,
        nodes.iter().map(|n| n.generation()).collect::<Vec<_>>()
    );
    for n in &nodes {
        let (_, status) = n.get("/v1/pipelines/counts");
        assert_eq!(status["modules"][1]["module"], "upper", "{status}");
    }
    let swapped_from = sent;
    produce(&broker, "in", batch(sent, 200));
    sent += 200;
    let out = exactly_once(&bootstrap, sent);
    let swapped = out.iter().filter(|v| v.starts_with('K')).count();
    assert_eq!(
        swapped,
        sent - swapped_from,
        "the counts after the swap, and only they, are upper-cased"
    );

    // A pause on one node pauses every node; a resume on another resumes all; the deletion
    // asked of a third stops it everywhere.
    let everywhere = |state: &str| {
        wait_until(Duration::from_secs(30), || {
            nodes
                .iter()
                .all(|n| n.get("/v1/pipelines/counts").1["state"] == state)
        })
    };
    let (code, body) = nodes[0].post("/v1/pipelines/counts/pause", json!({}));
    assert_eq!(code, 200, "{body}");
    assert!(everywhere("paused"), "not every node paused");
    let (code, body) = late.post("/v1/pipelines/counts/resume", json!({}));
    assert_eq!(code, 200, "{body}");
    assert!(everywhere("running"), "not every node resumed");
    let (code, body) = nodes[1].send(reqwest::Method::DELETE, "/v1/pipelines/counts", None);
    assert!(code == 200 || code == 204, "{code} {body}");
    assert!(
        wait_until(Duration::from_secs(30), || nodes.iter().all(|n| {
            n.get("/v1/pipelines/counts").0 == 404
                && n.get("/v1/cluster").1["pipelines"]
                    .as_array()
                    .is_some_and(Vec::is_empty)
        })),
        "not every node stopped the deleted pipeline"
    );
}

/// Asserts the output holds, per key, the counts 1..=N (N: the key's inputs among the
/// first `sent`) each exactly once, whatever the case; returns the output.
fn exactly_once(bootstrap: &str, sent: usize) -> Vec<String> {
    let out = read_committed(bootstrap, "out", 3, sent);
    let mut per_key: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for v in &out {
        let (k, n) = v
            .split_once('=')
            .unwrap_or_else(|| panic!("odd output {v:?}"));
        per_key
            .entry(k.to_ascii_lowercase())
            .or_default()
            .push(n.parse().unwrap());
    }
    assert_eq!(per_key.len(), KEYS, "{per_key:?}");
    for (k, mut counts) in per_key {
        counts.sort_unstable();
        let index: usize = k[1..].parse().unwrap();
        let inputs = (0..sent).filter(|i| i % KEYS == index).count() as u64;
        let want: Vec<u64> = (1..=inputs).collect();
        assert_eq!(
            counts, want,
            "key {k}: each count once, none missing, none twice"
        );
    }
    assert_eq!(out.len(), sent, "every input's effect exactly once");
    out
}
