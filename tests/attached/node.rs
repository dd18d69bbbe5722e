//! An attached node as a child process, and what the tests read back from the cluster.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weir::cluster::{self, ClientProps, TopicOffset};

use crate::common::{TEST_CONFIG, http, weir_bin};

/// The nodes' `session.timeout.ms`: how long a SIGKILLed node keeps its tasks.
pub const SESSION_TIMEOUT_MS: u64 = 6000;

/// An attached node: a `weir serve --cluster` child, killed on drop.
pub struct Node {
    child: Child,
    url: String,
    _config: tempfile::NamedTempFile,
}

impl Node {
    /// Starts a node attached to `bootstrap` in group `g`, its data in `dir`; waits for
    /// its HTTP address and the line saying it attached.
    pub fn start(dir: &Path, bootstrap: &str) -> Node {
        let config = tempfile::NamedTempFile::new().unwrap();
        // A dead node's tasks move after SESSION_TIMEOUT_MS without its heartbeats.
        std::fs::write(
            config.path(),
            format!("{TEST_CONFIG}[cluster]\nsession_timeout_ms = {SESSION_TIMEOUT_MS}\n"),
        )
        .unwrap();
        let mut child = Command::new(weir_bin())
            .args(["serve", "--data-dir"])
            .arg(dir)
            .args(crate::common::serve_args())
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

    pub fn get(&self, path: &str) -> (u16, Value) {
        let r = http().get(format!("{}{path}", self.url)).send().unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }

    pub fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = http().request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            r = r.json(&body);
        }
        let r = r.send().unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }

    /// The deployment generation this node's tasks of the first pipeline run.
    pub fn generation(&self) -> u64 {
        let (_, v) = self.get("/v1/cluster");
        v["pipelines"][0]["local"]["generation"]
            .as_u64()
            .unwrap_or(0)
    }

    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = http()
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }

    pub fn upload(&self, name: &str, wasm: &Path) {
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
    pub fn assignment(&self, pipeline: &str) -> BTreeMap<String, Vec<i64>> {
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

    /// This node's id, as the group's members name it.
    pub fn id(&self) -> String {
        self.get("/v1/cluster").1["node"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// What this node holds of `pipeline` (`local` in `GET /v1/cluster`).
    pub fn local(&self, pipeline: &str) -> Value {
        let (_, view) = self.get("/v1/cluster");
        view["pipelines"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == pipeline)
            .map_or(Value::Null, |p| p["local"].clone())
    }

    /// SIGKILLs it.
    pub fn kill(mut self) {
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

/// Keys the load cycles through.
pub const KEYS: usize = 24;

/// Records `from..from + n`, keyed `k{i % KEYS}`.
pub fn batch(from: usize, n: usize) -> Vec<Value> {
    (from..from + n)
        .map(|i| json!({"key": format!("k{}", i % KEYS), "value": format!("v{i}")}))
        .collect()
}

/// Every committed record of `topic`'s partitions but the counter's timer reports,
/// read_committed, until `want` arrived (or the deadline).
pub fn read_committed(bootstrap: &str, topic: &str, partitions: i32, want: usize) -> Vec<String> {
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

/// Asserts the output holds, per key, the counts 1..=N (N: the key's inputs among the
/// first `sent`) each exactly once, whatever the case; returns the output.
pub fn exactly_once(bootstrap: &str, sent: usize) -> Vec<String> {
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
