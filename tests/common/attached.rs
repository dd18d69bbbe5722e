//! An attached node (`weir serve --cluster B --group g`) as a child process, for the
//! attached-mode tests (`tests/attached/`, `tests/attached_streams/`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use serde_json::Value;
use weir::cluster::{self, ClientProps, Cluster, Consumer, TopicOffset};

use super::{TEST_CONFIG, http, serve_args, weir_bin};

/// The nodes' `session.timeout.ms`: how long a SIGKILLed node keeps its tasks.
pub const SESSION_TIMEOUT_MS: u64 = 6000;

/// An attached node: a `weir serve --cluster` child, SIGKILLed on drop.
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
            .args(serve_args())
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

    /// Its HTTP API's base URL (for what is not JSON, such as `/metrics`).
    pub fn url(&self) -> &str {
        &self.url
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

    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body))
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

    /// Creates `spec` here; the shared catalog carries it to the other nodes.
    pub fn create(&self, spec: Value) {
        let (code, body) = self.post("/v1/pipelines", spec);
        assert_eq!(code, 201, "{body}");
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

    /// The deployment generation this node's tasks of the first pipeline run.
    pub fn generation(&self) -> u64 {
        let (_, v) = self.get("/v1/cluster");
        v["pipelines"][0]["local"]["generation"]
            .as_u64()
            .unwrap_or(0)
    }

    /// Whether this node runs tasks of `pipeline` (its view in `GET /v1/cluster`).
    pub fn has_tasks(&self, pipeline: &str) -> bool {
        self.local(pipeline)["tasks"]
            .as_object()
            .is_some_and(|t| !t.is_empty())
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

/// A client of the cluster at `bootstrap` (plain properties, no group).
pub fn client(bootstrap: &str) -> Arc<dyn Cluster> {
    let props = BTreeMap::from([("bootstrap.servers".to_string(), bootstrap.to_string())]);
    cluster::connect(ClientProps::new(props).unwrap())
}

/// A read_committed consumer of `c` assigned every one of `topic`'s `partitions` from
/// offset 0.
pub fn from_start(c: &dyn Cluster, topic: &str, partitions: i32) -> Box<dyn Consumer> {
    let mut consumer = c.consumer(None).unwrap();
    let positions: Vec<TopicOffset> = (0..partitions)
        .map(|partition| TopicOffset {
            topic: topic.into(),
            partition,
            offset: 0,
        })
        .collect();
    consumer.assign(&positions).unwrap();
    consumer
}
