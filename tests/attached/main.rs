//! Attached mode (`weir serve --cluster B --group G`), the scenario: three weir
//! nodes with no broker of their own run a stateful counting processor over a
//! 6-partition topic of a fourth weir server (the "external cluster") under steady load;
//! one node is SIGKILLed, then another, then both restart on their data directories. A
//! read_committed consumer of the output must see every input's effect exactly once (per
//! key, the counts 1..=N each once, so the final counts are exact); each time, the killed
//! node's tasks must move to the others within the session timeout (plus a margin for a
//! loaded 2-core machine), their state coming back from the changelog — in full on a node
//! that never held the task, only the tail on one whose cache's mark proves itself.
//! Modules and the pipeline live in the shared catalog: the pipeline is created once, on
//! one node, and runs on all; a node started later with an empty data directory picks it
//! up; one `PUT` on another node hot-swaps it on every node, upper-casing exactly the
//! counts made after it; a pause, a resume and the deletion asked of one node reach all.
//! `start.rs`: where a group with no committed offset starts (the spec's `start`).

#[path = "../common/mod.rs"]
mod common;
mod node;
mod start;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use common::pipeline::{call, produce};
use common::{Server, guests, http, wait_until};
use node::{Node, SESSION_TIMEOUT_MS, batch, exactly_once};

/// What a rebalance after a SIGKILL may take beyond the session timeout on a loaded
/// 2-core machine: the survivors' rejoin, the sync, and `GET /v1/cluster` seeing it.
const REBALANCE_MARGIN: Duration = Duration::from_secs(24);

/// Steady load on `in`: `batch`es of 20 records every 100 ms from a thread, until stopped.
struct Load {
    sent: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Load {
    fn start(broker_url: String, from: usize) -> Load {
        let sent = Arc::new(AtomicUsize::new(from));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let (sent, stop) = (sent.clone(), stop.clone());
            move || {
                while !stop.load(Ordering::SeqCst) {
                    let at = sent.load(Ordering::SeqCst);
                    let r = http()
                        .post(format!("{broker_url}/v1/topics/in/records"))
                        .json(&json!({ "records": batch(at, 20) }))
                        .send()
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 200, "{}", r.text().unwrap_or_default());
                    sent.store(at + 20, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        });
        Load { sent, stop, thread }
    }

    /// Stops it; the index of the next record (every one below it was produced).
    fn stop(self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("the load thread failed");
        self.sent.load(Ordering::SeqCst)
    }
}

/// SIGKILLs `victim` and waits until `survivor` sees the group hand all six partitions
/// to `members` members without it; asserts that took at most the session timeout plus
/// the margin, and returns how long it took.
fn kill_and_rebalance(victim: Node, survivor: &Node, members: usize) -> Duration {
    let id = victim.id();
    assert!(
        survivor.assignment("counts").contains_key(&id),
        "the victim is a member"
    );
    victim.kill();
    let killed = Instant::now();
    let limit = Duration::from_millis(SESSION_TIMEOUT_MS) + REBALANCE_MARGIN;
    assert!(
        wait_until(limit, || {
            let a = survivor.assignment("counts");
            !a.contains_key(&id)
                && a.len() == members
                && a.values().map(Vec::len).sum::<usize>() == 6
        }),
        "the killed node's tasks did not move within {limit:?}: {:?}",
        survivor.assignment("counts")
    );
    killed.elapsed()
}

/// A field of `pipeline`'s `local` view, summed over `nodes`.
fn local_sum(nodes: &[Node], field: &str) -> u64 {
    nodes
        .iter()
        .map(|n| n.local("counts")[field].as_u64().unwrap_or(0))
        .sum()
}

#[test]
fn three_attached_nodes_count_exactly_once_through_two_sigkills_and_their_restarts() {
    let counter = guests::guest("rust", "counter");
    let dir = tempfile::tempdir().unwrap();
    let broker = Server::start(&dir.path().join("broker"), &[]);
    let bootstrap = broker.kafka.clone();
    for (t, n) in [("in", 6), ("out", 3), ("evens", 1), ("clicks", 6)] {
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
    let mut nodes: Vec<Node> = (0..3)
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
    // What attached mode does not run yet (a table source read on both sides of a
    // group_by: two stages would keep it in one changelog) is refused by name.
    nodes[0].upload("by-user", &guests::guest("streams", "rust-key-selector"));
    let (code, body) = nodes[0].post(
        "/v1/pipelines",
        json!({"name": "agg", "output": "out",
            "sources": {"s": {"topic": "in", "as": "stream"},
                        "t": {"topic": "clicks", "as": "table"}},
            "steps": [{"name": "j", "op": "join", "left": "s", "right": "t"},
                      {"name": "g", "op": "group_by", "module": "by-user", "input": "j"},
                      {"op": "join", "left": "g", "right": "t"}]}),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.to_string().contains("sources.t"), "{body}");
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

    // The catalog's figures: everything read, nothing skipped, no lag once caught up.
    for n in &nodes {
        assert!(
            wait_until(Duration::from_secs(30), || {
                let c = &n.get("/v1/cluster").1["catalog"];
                c["records_applied"].as_u64().unwrap_or(0) >= 2
                    && c["topics"]
                        .as_array()
                        .is_some_and(|t| t.len() == 2 && t.iter().all(|t| t["lag"] == 0))
            }),
            "a node's catalog never caught up: {}",
            n.get("/v1/cluster").1["catalog"]
        );
        let (_, view) = n.get("/v1/cluster");
        let c = &view["catalog"];
        assert_eq!(c["records_skipped"], 0, "{c}");
        assert_eq!(c["pipelines"], 1, "{c}");
        // The counter, and the key selector of the refused spec above.
        assert_eq!(c["modules"], 2, "{c}");
    }

    // Every partition is some node's task.
    assert!(
        wait_until(Duration::from_secs(60), || {
            let a = nodes[0].assignment("counts");
            a.len() == 3 && a.values().map(Vec::len).sum::<usize>() == 6
        }),
        "the three nodes never shared the six partitions: {:?}",
        nodes[0].assignment("counts")
    );

    // Steady load from here to the end of the restarts.
    let load = Load::start(broker.url.clone(), 0);
    assert!(
        wait_until(Duration::from_secs(30), || local_sum(&nodes, "rounds") > 0),
        "no round committed under load"
    );
    // One node SIGKILLed, then another once the first one's tasks moved.
    let (a_dir, b_dir) = (dir.path().join("node1"), dir.path().join("node2"));
    let (a_id, b_id) = (nodes[1].id(), nodes[2].id());
    let b = nodes.pop().unwrap();
    let a = nodes.pop().unwrap();
    let first = kill_and_rebalance(a, &nodes[0], 2);
    let second = kill_and_rebalance(b, &nodes[0], 1);
    // Both come back on their data directories: the same transactional.id fences whatever
    // each dead incarnation left, and each takes a share of the tasks again.
    nodes.push(Node::start(&a_dir, &bootstrap));
    nodes.push(Node::start(&b_dir, &bootstrap));
    assert_eq!((nodes[1].id(), nodes[2].id()), (a_id.clone(), b_id.clone()));
    assert!(
        wait_until(Duration::from_secs(60), || {
            let a = nodes[0].assignment("counts");
            a.len() == 3
                && a.values().all(|t| !t.is_empty())
                && a.values().map(Vec::len).sum::<usize>() == 6
        }),
        "the restarted nodes got no tasks: {:?}",
        nodes[0].assignment("counts")
    );
    let mut sent = load.stop();
    exactly_once(&bootstrap, sent);
    eprintln!(
        "{sent} records; tasks moved {first:?} and {second:?} after the kills \
         (session timeout {SESSION_TIMEOUT_MS} ms)"
    );

    // The moved tasks' state came from the changelog, in full where a node never held the
    // task; the survivor, which got tasks back that it held before, read only their tails.
    let (_, view) = nodes[0].get("/v1/cluster");
    let survivor = &view["pipelines"][0]["local"];
    assert!(
        survivor["restores"]["full"]["tasks"].as_u64().unwrap_or(0) > 0,
        "{survivor}"
    );
    assert!(
        survivor["restores"]["tail"]["tasks"].as_u64().unwrap_or(0) > 0,
        "{survivor}"
    );
    assert!(
        local_sum(&nodes, "restored_records") > 0,
        "nothing restored"
    );
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
    produce(&broker, "in", batch(sent, 400));
    sent += 400;
    exactly_once(&bootstrap, sent);

    // One hot-swap, asked of a node the pipeline was not created on, with a module
    // uploaded on a third: a second step upper-cases the counts. Once every node runs the
    // next generation, every new count comes out swapped, over the same state.
    let upper = guests::guest("rust", "upper");
    let nodes: Vec<&Node> = nodes.iter().chain([&late]).collect();
    let before: Vec<u64> = nodes.iter().map(|n| n.generation()).collect();
    assert!(before.iter().all(|g| *g >= 1), "{before:?}");
    let mut updated = spec.clone();
    updated["steps"]
        .as_array_mut()
        .unwrap()
        .push(json!({"module": "upper"}));
    nodes[1].upload("upper", &upper);
    let (code, body) = nodes[2].send(
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
