//! `weir bench attached`: the same stateful pipeline (the `counter` processor: a count per
//! key in its state, one output per input) over a 6-partition topic of `--records` records,
//! in the same run: embedded (on the server holding the topic), attached with 1, 2 and 3
//! nodes (`weir serve --cluster` children of this binary, each its own group), each timed
//! from the pipeline's creation until its tasks have committed every input offset; then
//! the changelog restores, full against tail: a fourth node joins the 3-node group and
//! leaves again after more input (tasks, records and time restoring by kind, as the nodes
//! report in `GET /v1/cluster`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::cluster::{self, Cluster, OutRecord, ProducerMode};

use super::served::Served;

/// Options of `weir bench attached`.
#[derive(Debug, Clone, clap::Args)]
pub struct AttachedBenchOptions {
    /// Input records (keys `k0`..`k{keys-1}`, round robin).
    #[arg(long, default_value_t = 60_000)]
    pub records: usize,
    /// Distinct keys.
    #[arg(long, default_value_t = 1_000)]
    pub keys: usize,
    /// Directory holding counter.wasm (scripts/build-guests rust).
    #[arg(long, default_value = "target/guests/wasm")]
    pub guests: PathBuf,
}

const PARTITIONS: usize = 6;

/// An attached node: a `weir serve --cluster` child, killed on drop.
struct Node {
    child: Child,
    http: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    fn start(data: &Path, bootstrap: &str, group: &str) -> anyhow::Result<Node> {
        let exe = std::env::current_exe().context("locating the weir binary")?;
        let mut child = Command::new(exe)
            .arg("serve")
            .arg("--data-dir")
            .arg(data)
            .args([
                "--http-addr",
                "127.0.0.1:0",
                "--connect-addr",
                "127.0.0.1:0",
            ])
            .args(["--cluster", bootstrap, "--group", group])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting an attached weir serve")?;
        let stdout = child.stdout.take().context("the node's stdout")?;
        let mut http = None;
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line?;
            if let Some(u) = line.strip_prefix("weir: HTTP API on ") {
                http = Some(u.trim().to_string());
            }
            if line.starts_with("weir: attached to ") && http.is_some() {
                break;
            }
        }
        // Read on: a closed pipe would fail the node's next line.
        std::thread::spawn(move || for _ in lines {});
        let Some(http) = http else {
            bail!("an attached node ended before announcing its address");
        };
        Ok(Node { child, http })
    }
}

fn post(client: &reqwest::blocking::Client, url: String, body: Value) -> anyhow::Result<()> {
    let r = client.post(&url).json(&body).send()?;
    if !r.status().is_success() {
        bail!(
            "{url} answered {}: {}",
            r.status(),
            r.text().unwrap_or_default()
        );
    }
    Ok(())
}

fn upload(client: &reqwest::blocking::Client, http: &str, wasm: &[u8]) -> anyhow::Result<()> {
    let r = client
        .post(format!("{http}/v1/modules/counter"))
        .header("content-type", "application/wasm")
        .body(wasm.to_vec())
        .send()?;
    if !r.status().is_success() {
        bail!("uploading counter answered {}", r.status());
    }
    Ok(())
}

fn spec(name: &str, output: &str) -> Value {
    json!({
        "name": name, "inputs": ["in"], "output": output, "outputs": ["evens"],
        "start": "earliest", "steps": [{"name": "tally", "module": "counter"}]
    })
}

/// Waits until `group` has committed every input offset (`records` in all); returns when
/// it first committed any (the group joined and the tasks restored).
fn wait_committed(c: &dyn Cluster, group: &str, records: usize) -> anyhow::Result<Instant> {
    let admin = c.admin()?;
    let parts: Vec<(String, i32)> = (0..PARTITIONS as i32).map(|p| ("in".into(), p)).collect();
    let deadline = Instant::now() + Duration::from_secs(900);
    let mut first = None;
    loop {
        let done: i64 = admin
            .group_offsets(group, &parts)?
            .iter()
            .map(|o| o.offset)
            .sum();
        if done > 0 && first.is_none() {
            first = Some(Instant::now());
        }
        if done >= records as i64 {
            return Ok(first.unwrap_or_else(Instant::now));
        }
        if Instant::now() > deadline {
            bail!("{group} committed {done} of {records}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the benchmark and prints a Markdown table row per case.
pub fn run_attached_bench(opts: &AttachedBenchOptions) -> anyhow::Result<()> {
    let wasm = std::fs::read(opts.guests.join("counter.wasm")).with_context(|| {
        format!(
            "reading counter.wasm from {} (run scripts/build-guests rust first)",
            opts.guests.display()
        )
    })?;
    let dir = tempfile::tempdir()?;
    let broker = Served::start(&dir.path().join("broker"), None)?;
    for (t, n) in [
        ("in", PARTITIONS),
        ("out-embedded", 6),
        ("out-1", 6),
        ("out-2", 6),
        ("out-3", 6),
        ("evens", 1),
    ] {
        post(
            &broker.client,
            format!("{}/v1/topics", broker.http),
            json!({"name": t, "partitions": n}),
        )?;
    }
    let c = cluster::connect(cluster::ClientProps::new(
        [("bootstrap.servers".to_string(), broker.kafka.clone())].into(),
    )?);
    let mut p = c.producer(ProducerMode::Idempotent)?;
    for i in 0..opts.records {
        p.send(OutRecord {
            topic: "in".into(),
            partition: None,
            timestamp: None,
            key: Some(format!("k{}", i % opts.keys).into_bytes()),
            value: Some(format!("v{i}").into_bytes()),
            headers: Vec::new(),
        })?;
    }
    p.flush(Duration::from_secs(120))?;
    let client = &broker.client;
    println!("| run | nodes | records/s from create | seconds | records/s from first commit |");
    println!("|---|---|---|---|---|");
    let row = |what: &str, nodes: usize, took: Duration, running: Option<Duration>| {
        let since_first = running.map_or("-".to_string(), |r| {
            format!("{:.0}", opts.records as f64 / r.as_secs_f64())
        });
        println!(
            "| {what} | {nodes} | {:.0} | {:.2} | {since_first} |",
            opts.records as f64 / took.as_secs_f64(),
            took.as_secs_f64()
        );
    };

    // Embedded: the pipeline on the server that holds the topic.
    upload(client, &broker.http, &wasm)?;
    let started = Instant::now();
    post(
        client,
        format!("{}/v1/pipelines", broker.http),
        spec("embedded", "out-embedded"),
    )?;
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let s: Value = client
            .get(format!("{}/v1/pipelines/embedded", broker.http))
            .send()?
            .json()?;
        let done: i64 = s["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["committed_offset"].as_i64())
            .sum();
        if done >= opts.records as i64 {
            break;
        }
        if Instant::now() > deadline {
            bail!("the embedded pipeline committed {done} of {}", opts.records);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    row("embedded", 0, started.elapsed(), None);
    post(
        client,
        format!("{}/v1/pipelines/embedded/pause", broker.http),
        json!({}),
    )?;

    // Attached, 1, 2 and 3 nodes, each its own group and pipeline, timed from the create
    // on the first node. The catalog is the cluster's (every node runs every pipeline of
    // it), so each run's pipeline is deleted before the next; the module stays in it.
    let mut kept = Vec::new();
    for n in 1..=3usize {
        let group = format!("g{n}");
        let nodes: Vec<Node> = (0..n)
            .map(|i| {
                Node::start(
                    &dir.path().join(format!("{group}-{i}")),
                    &broker.kafka,
                    &group,
                )
            })
            .collect::<anyhow::Result<_>>()?;
        if n == 1 {
            upload(client, &nodes[0].http, &wasm)?;
        }
        let name = format!("attached{n}");
        let started = Instant::now();
        post(
            client,
            format!("{}/v1/pipelines", nodes[0].http),
            spec(&name, &format!("out-{n}")),
        )?;
        let first = wait_committed(&*c, &format!("{group}.{name}"), opts.records)?;
        row("attached", n, started.elapsed(), Some(first.elapsed()));
        if n < 3 {
            let r = client
                .delete(format!("{}/v1/pipelines/{name}", nodes[0].http))
                .send()?;
            if !r.status().is_success() {
                bail!("deleting {name} answered {}", r.status());
            }
        } else {
            kept = nodes;
        }
    }

    // Restores, full against tail, on the 3-node group: a fourth node joins (an eager
    // rebalance revokes every task; the new node reads its tasks' changelogs in full,
    // the others read the tails of those they keep), more records go in, and the fourth
    // node is killed: its tasks go back to the nodes that held them before the join, which
    // read only what it wrote meanwhile.
    println!();
    println!(
        "| restore step | full: tasks / records / ms | full records/s | tail: tasks / records / ms |"
    );
    println!("|---|---|---|---|");
    let restore_row = |what: &str, d: Restores| {
        let rate = if d.full.ms == 0 {
            "-".to_string()
        } else {
            format!("{:.0}", d.full.records as f64 * 1000.0 / d.full.ms as f64)
        };
        println!(
            "| {what} | {} / {} / {} | {rate} | {} / {} / {} |",
            d.full.tasks, d.full.records, d.full.ms, d.tail.tasks, d.tail.records, d.tail.ms
        );
    };
    let before = restores(client, &kept)?;
    kept.push(Node::start(&dir.path().join("g3-3"), &broker.kafka, "g3")?);
    settled(client, &kept)?;
    let joined = restores(client, &kept)?;
    restore_row("a 4th node joins", joined.minus(before));
    let more = (opts.records / 10).max(1);
    let mut p = c.producer(ProducerMode::Idempotent)?;
    for i in 0..more {
        p.send(OutRecord {
            topic: "in".into(),
            partition: None,
            timestamp: None,
            key: Some(format!("k{}", i % opts.keys).into_bytes()),
            value: Some(format!("more{i}").into_bytes()),
            headers: Vec::new(),
        })?;
    }
    p.flush(Duration::from_secs(120))?;
    wait_committed(&*c, "g3.attached3", opts.records + more)?;
    let ran = restores(client, &kept[..3])?;
    drop(kept.pop());
    settled(client, &kept)?;
    let left = restores(client, &kept)?;
    restore_row(
        &format!("it is killed after {more} more inputs"),
        left.minus(ran),
    );
    Ok(())
}

/// One kind of restore, summed over nodes (`local.restores.full` or `.tail`).
#[derive(Debug, Clone, Copy, Default)]
struct Kind {
    tasks: u64,
    records: u64,
    ms: u64,
}

/// Both kinds, summed over nodes.
#[derive(Debug, Clone, Copy, Default)]
struct Restores {
    full: Kind,
    tail: Kind,
}

impl Restores {
    fn minus(self, o: Restores) -> Restores {
        let d = |a: Kind, b: Kind| Kind {
            tasks: a.tasks.saturating_sub(b.tasks),
            records: a.records.saturating_sub(b.records),
            ms: a.ms.saturating_sub(b.ms),
        };
        Restores {
            full: d(self.full, o.full),
            tail: d(self.tail, o.tail),
        }
    }
}

/// The nodes' `GET /v1/cluster`.
fn views(client: &reqwest::blocking::Client, nodes: &[Node]) -> anyhow::Result<Vec<Value>> {
    nodes
        .iter()
        .map(|n| -> anyhow::Result<Value> {
            Ok(client
                .get(format!("{}/v1/cluster", n.http))
                .send()?
                .json()?)
        })
        .collect()
}

/// The nodes' restores of their one pipeline, summed.
fn restores(client: &reqwest::blocking::Client, nodes: &[Node]) -> anyhow::Result<Restores> {
    let mut out = Restores::default();
    for v in views(client, nodes)? {
        let r = &v["pipelines"][0]["local"]["restores"];
        for (kind, into) in [("full", &mut out.full), ("tail", &mut out.tail)] {
            let n = |f: &str| r[kind][f].as_u64().unwrap_or(0);
            into.tasks += n("tasks");
            into.records += n("records");
            into.ms += n("ms");
        }
    }
    Ok(out)
}

/// Waits until the group has exactly `nodes` as members and each node holds, restored,
/// the tasks the group assigned it.
fn settled(client: &reqwest::blocking::Client, nodes: &[Node]) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(300);
    let parts = |v: &Value| -> Vec<i64> {
        let mut p: Vec<i64> = v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["partition"].as_i64())
            .collect();
        p.sort_unstable();
        p
    };
    loop {
        let views = views(client, nodes)?;
        let members = views[0]["pipelines"][0]["members"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let assigned: usize = members.iter().map(|m| parts(&m["tasks"]).len()).sum();
        let each_holds_its_own = views.iter().all(|v| {
            let mut local: Vec<i64> = v["pipelines"][0]["local"]["tasks"]
                .as_object()
                .map_or(Vec::new(), |t| {
                    t.keys().filter_map(|k| k.parse().ok()).collect()
                });
            local.sort_unstable();
            let mine = members
                .iter()
                .find(|m| m["node"] == v["node"])
                .map_or(Vec::new(), |m| parts(&m["tasks"]));
            !mine.is_empty() && local == mine
        });
        if members.len() == nodes.len() && assigned == PARTITIONS && each_holds_its_own {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "the group never settled on {} nodes: {views:?}",
                nodes.len()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
