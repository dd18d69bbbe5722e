//! Transactions against a real `weir serve`, driven by confluent-kafka
//! (tests/clients/confluent_txn.py): commit, abort and fencing seen by
//! `read_committed` and `read_uncommitted` readers; a consume-transform-produce
//! loop with `send_offsets_to_transaction` whose client and broker are
//! SIGKILLed mid-transaction again and again, after which every input's output
//! is seen exactly once; and a dead producer's transaction that the timeout
//! aborts, across a broker restart, so readers are not blocked.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{Install, Server, create_topic, http, repo_root, run_client_on, wait_until};
use rand::Rng;
use serde_json::json;

const SCRIPT: &str = "confluent_txn.py";

/// The driver as a child process, for killing; its stdout lines arrive on the receiver.
fn spawn_driver(install: Install, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let root = repo_root();
    let venv = match install {
        Install::Pinned => ".venv",
        Install::Newest => ".venv-newest",
    };
    let py = root.join(venv).join("bin/python");
    assert!(
        py.exists(),
        "{} is missing: run scripts/setup",
        py.display()
    );
    let clients = root.join("tests/clients");
    let mut child = Command::new(py)
        .arg(clients.join(SCRIPT))
        .args(args)
        .current_dir(&clients)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the transaction driver");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The values a `read_committed` consumer sees in `topic`.
fn committed_values(install: Install, server: &Server, topic: &str) -> Vec<String> {
    let out = run_client_on(
        install,
        "python",
        SCRIPT,
        &["outputs", &server.kafka, topic],
    );
    out["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn commit_abort_and_fencing_as_read_committed_readers_see_them(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    create_topic(&server, "txn", 1);
    let out = run_client_on(install, "python", SCRIPT, &["basic", &server.kafka, "txn"]);
    // Two committed transactions of 10 and the fencing instance's one record;
    // the aborted 10 and the zombie's record are never seen.
    assert_eq!(out["committed"], 21);
    assert_eq!(out["all"], 30, "read_uncommitted sees aborted records too");
}

fn restart(server: Server, dir: &Path) -> Server {
    server.kill();
    Server::start(dir, &[])
}

fn consume_transform_produce_is_exactly_once_across_sigkills(install: Install) {
    const INPUTS: usize = 2000;
    const KILLS: usize = 24;
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    create_topic(&server, "in", 3);
    create_topic(&server, "out", 2);
    run_client_on(
        install,
        "python",
        SCRIPT,
        &["fill", &server.kafka, "in", &INPUTS.to_string()],
    );
    let mut rng = rand::rng();
    let transform = |kafka: &str, idle: &str| {
        let args = [
            "transform",
            kafka,
            "in",
            "out",
            "etl",
            "etl-txn",
            "5",
            "1000000",
            "7",
            "10000",
            idle,
        ];
        args.map(String::from)
    };
    let (mut broker_kills, mut client_kills) = (0, 0);
    for _ in 0..KILLS {
        let args = transform(&server.kafka, "60");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (child, lines) = spawn_driver(install, &args);
        // Once it has committed a first transaction, it is always inside one:
        // kill it (or the broker) a random moment later.
        let progressed = lines.recv_timeout(Duration::from_secs(60));
        assert!(progressed.is_ok(), "the transform loop made no progress");
        std::thread::sleep(Duration::from_millis(rng.random_range(0..800)));
        if rng.random_bool(0.5) {
            server = restart(server, dir.path());
            broker_kills += 1;
        } else {
            client_kills += 1;
        }
        kill(child);
    }
    assert!(broker_kills > 0 && client_kills > 0);
    // A last instance, never killed, drains the inputs.
    let args = transform(&server.kafka, "4");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_client_on(install, "python", SCRIPT, &args);
    let mut values = committed_values(install, &server, "out");
    values.sort();
    let mut want: Vec<String> = (0..INPUTS).map(|i| format!("out-{i}")).collect();
    want.sort();
    let dupes = values.windows(2).filter(|w| w[0] == w[1]).count();
    assert_eq!(
        dupes, 0,
        "outputs seen more than once (aborted or duplicated)"
    );
    assert_eq!(values, want, "every input's output exactly once");
}

fn a_dead_producers_transaction_times_out_even_across_a_restart(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    create_topic(&server, "t", 1);
    let (child, lines) = spawn_driver(install, &["hang", &server.kafka, "t", "hung-txn", "3000"]);
    let opened = lines.recv_timeout(Duration::from_secs(60));
    assert!(
        opened.is_ok(),
        "the hanging producer never opened its transaction"
    );
    kill(child);
    // The broker dies too; the open transaction is recovered, then times out.
    let server = restart(server, dir.path());
    let r = http()
        .post(server.at("/v1/topics/t/records"))
        .json(&json!({"records": [{"value": "after", "partition": 0}]}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "plain produce: {}", r.status());
    let mut seen: Vec<String> = Vec::new();
    let unblocked = wait_until(Duration::from_secs(60), || {
        seen = committed_values(install, &server, "t");
        seen.iter().any(|v| v == "after")
    });
    assert!(
        unblocked,
        "read_committed readers stayed blocked: saw {seen:?}"
    );
    assert_eq!(
        seen,
        vec!["after".to_string()],
        "the aborted record was seen"
    );
}

#[test]
fn http_consume_and_pipelines_read_committed_data_only() {
    use common::guests::guest;
    use common::pipeline::{call, upload, values, wait_caught_up};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    create_topic(&server, "txn", 1);
    create_topic(&server, "copied", 1);
    run_client_on(
        Install::Pinned,
        "python",
        SCRIPT,
        &["basic", &server.kafka, "txn"],
    );
    let mut want: Vec<String> = (0..10)
        .flat_map(|i| [format!("a-{i}"), format!("c-{i}")])
        .chain(["after-fence".to_string()])
        .collect();
    want.sort();
    // The HTTP consume: committed records only, none of the aborted ones (b-*,
    // the zombie's), and the markers skipped.
    let mut seen = values(&server, "txn");
    seen.sort();
    assert_eq!(seen, want);
    // A pipeline copying every value with a dash: the aborted b-* have one.
    let (code, m) = upload(&server, "filter", &guest("rust", "rust-filter"));
    assert_eq!(code, 201, "{m}");
    let spec = json!({
        "name": "copy",
        "inputs": ["txn"],
        "output": "copied",
        "steps": [{"module": "filter", "config": {"pattern": "-"}}],
        "start": "earliest",
    });
    let (code, body) = call(&server, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
    wait_caught_up(&server, "copy", 21);
    let mut copied = values(&server, "copied");
    copied.sort();
    assert_eq!(
        copied, want,
        "the pipeline read aborted or uncommitted records"
    );
}

on_both_installs!(
    commit_abort_and_fencing_as_read_committed_readers_see_them,
    consume_transform_produce_is_exactly_once_across_sigkills,
    a_dead_producers_transaction_times_out_even_across_a_restart,
);
