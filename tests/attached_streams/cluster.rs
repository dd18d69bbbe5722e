//! Attached nodes (`weir serve --cluster`), read_committed output, and waits on a
//! pipeline run both embedded and attached.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weir::cluster::{self, ClientProps, TopicOffset};

use crate::common::pipeline::call;
use crate::common::{Server, TEST_CONFIG, http, wait_until, weir_bin};

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
        // A dead node's tasks move after 6 s without its heartbeats.
        std::fs::write(
            config.path(),
            format!("{TEST_CONFIG}[cluster]\nsession_timeout_ms = 6000\n"),
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

    /// Creates `spec` here; the shared catalog carries it to the other nodes.
    pub fn create(&self, spec: Value) {
        let (code, body) = self.post("/v1/pipelines", spec);
        assert_eq!(code, 201, "{body}");
    }

    /// Whether this node runs tasks of `pipeline` (its view in `GET /v1/cluster`).
    pub fn has_tasks(&self, pipeline: &str) -> bool {
        let (_, v) = self.get("/v1/cluster");
        v["pipelines"].as_array().into_iter().flatten().any(|p| {
            p["name"] == pipeline
                && p["local"]["tasks"]
                    .as_object()
                    .is_some_and(|t| !t.is_empty())
        })
    }

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
