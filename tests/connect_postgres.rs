//! PostgresSink against a real PostgreSQL (tests/common/postgres.rs): after random upserts and
//! tombstones over a few hundred keys the table holds each key's latest value, also across a
//! SIGKILL of weir mid-stream; insert mode and auto.create with hostile field names and
//! values (quoted and bound, never SQL); a connector granted only another port is refused,
//! logged and counted while its neighbour runs; bad configs are answered per key; and the
//! README's tour (examples/postgres-tour/) runs as written.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use common::connect::{call, create, start, wait_status};
use common::pipeline::produce;
use common::postgres::{Auth, PASSWORD, Postgres};
use common::{Server, create_topic, http, wait_until};

/// A PostgresSink config upserting `topic` into table `topic` by the record key `id`.
fn upsert_sink(pg: &Postgres, topic: &str, auth: Auth) -> Value {
    let mut c = json!({
        "connector.class": "PostgresSink",
        "topics": topic,
        "tasks.max": "2",
        "connection.url": pg.jdbc_url(),
        "connection.user": "postgres",
        "insert.mode": "upsert",
        "pk.mode": "record_key",
        "pk.fields": "id",
        "auto.create": "true",
        "delete.enabled": "true",
        "batch.size": "100",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
        "weir.allow.tcp": pg.authority(),
    });
    if auth == Auth::Scram {
        c["connection.password"] = json!(PASSWORD);
    }
    c
}

/// `n` random upserts and tombstones over `keys` keys; answers the records and each key's
/// latest row (`id|n|s`), tombstoned keys absent.
fn random_ops(seed: u64, n: usize, keys: usize) -> (Vec<Value>, BTreeMap<String, String>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut records = Vec::with_capacity(n);
    let mut latest = BTreeMap::new();
    for i in 0..n {
        let id = format!("k{:03}", rng.random_range(0..keys));
        if rng.random_range(0..10) == 0 {
            records.push(json!({"key": id, "value": null}));
            latest.remove(&id);
        } else {
            let v = json!({"n": i, "s": format!("v{}-{}", i, rng.random_range(0..1000))});
            latest.insert(
                id.clone(),
                format!("{id}|{}|{}", v["n"], v["s"].as_str().unwrap()),
            );
            records.push(json!({"key": id, "value": v.to_string()}));
        }
    }
    (records, latest)
}

/// Waits until `select` answers `want` (sorted rows).
fn wait_rows(pg: &Postgres, s: &Server, name: &str, select: &str, want: &[String]) {
    let mut last = Vec::new();
    let same = wait_until(Duration::from_secs(120), || {
        last = pg.try_sql(select).map_or_else(
            |_| Vec::new(),
            |out| {
                let mut r: Vec<String> = out.lines().map(str::to_string).collect();
                r.sort();
                r
            },
        );
        last == want
    });
    if !same {
        let (_, st) = call(s, "GET", &format!("/connectors/{name}/status"), None);
        let (_, logs) = call(s, "GET", &format!("/connectors/{name}/logs"), None);
        panic!(
            "the table never held the latest value per key: {} rows, want {}; status {st}; logs {logs}",
            last.len(),
            want.len()
        );
    }
}

#[test]
fn upserts_and_tombstones_leave_the_latest_value_per_key_with_scram() {
    let dir = tempfile::tempdir().unwrap();
    let pg = Postgres::start(dir.path(), Auth::Scram);
    let s = start(&dir.path().join("data"));
    create_topic(&s, "people", 3);
    create(&s, "pg-out", upsert_sink(&pg, "people", Auth::Scram));
    let (records, latest) = random_ops(7, 2000, 300);
    for chunk in records.chunks(250) {
        produce(&s, "people", chunk.to_vec());
    }
    let want: Vec<String> = latest.into_values().collect();
    wait_rows(&pg, &s, "pg-out", "SELECT id, n, s FROM people", &want);
    // auto.create made the key the primary key, from the record's types.
    let cols = pg.rows(
        "SELECT column_name || ':' || data_type FROM information_schema.columns WHERE table_name = 'people'",
    );
    assert_eq!(cols, ["id:text", "n:bigint", "s:text"]);
    let st = wait_status(&s, "pg-out", "RUNNING", |st| {
        st["tasks"][0]["state"] == "RUNNING" && st["tasks"][1]["state"] == "RUNNING"
    });
    assert_eq!(st["denied"], 0, "{st}");
    s.stop();
}

#[test]
fn a_sigkill_mid_stream_still_leaves_the_latest_value_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let pg = Postgres::start(dir.path(), Auth::Trust);
    let data = dir.path().join("data");
    let mut s = start(&data);
    create_topic(&s, "orders", 2);
    create(&s, "pg-out", upsert_sink(&pg, "orders", Auth::Trust));
    let (records, latest) = random_ops(11, 6000, 400);
    let (first, rest) = records.split_at(3000);
    for chunk in first.chunks(500) {
        produce(&s, "orders", chunk.to_vec());
    }
    // Some rows are in, the rest on their way: kill weir mid-stream.
    assert!(
        wait_until(Duration::from_secs(60), || pg
            .try_sql("SELECT count(*) FROM orders")
            .is_ok_and(|n| n.trim().parse::<u32>().unwrap_or(0) > 0)),
        "no row arrived before the kill"
    );
    s.kill();
    s = start(&data);
    for chunk in rest.chunks(500) {
        produce(&s, "orders", chunk.to_vec());
    }
    let want: Vec<String> = latest.into_values().collect();
    wait_rows(&pg, &s, "pg-out", "SELECT id, n, s FROM orders", &want);
    s.stop();
}

#[test]
fn insert_mode_binds_hostile_names_and_values_as_data() {
    let dir = tempfile::tempdir().unwrap();
    let pg = Postgres::start(dir.path(), Auth::Trust);
    pg.sql("CREATE TABLE canary (x int)");
    let s = start(&dir.path().join("data"));
    create_topic(&s, "evil", 1);
    create(
        &s,
        "pg-insert",
        json!({
            "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
            "topics": "evil",
            "connection.url": pg.jdbc_url(),
            "table.name.format": "weir_${topic}",
            "auto.create": "true",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
            "weir.allow.tcp": pg.authority(),
        }),
    );
    let hostile_field = "a\"); DROP TABLE canary; --";
    let hostile_value = "'); DROP TABLE canary; --";
    let rows: Vec<Value> = (0..3)
        .map(|i| json!({"value": json!({hostile_field: hostile_value, "n": i, "ok": i % 2 == 0}).to_string()}))
        .collect();
    produce(&s, "evil", rows.clone());
    // Insert mode: the same records again are rows again.
    produce(&s, "evil", rows);
    let select = format!(
        "SELECT \"{}\", n, ok FROM weir_evil",
        hostile_field.replace('"', "\"\"")
    );
    let want: Vec<String> = {
        let mut w: Vec<String> = (0..3)
            .flat_map(|i| {
                let row = format!("{hostile_value}|{i}|{}", if i % 2 == 0 { "t" } else { "f" });
                [row.clone(), row]
            })
            .collect();
        w.sort();
        w
    };
    wait_rows(&pg, &s, "pg-insert", &select, &want);
    assert_eq!(pg.sql("SELECT count(*) FROM canary").trim(), "0");
    s.stop();
}

#[test]
fn a_connector_granted_another_port_is_refused_logged_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let pg = Postgres::start(dir.path(), Auth::Trust);
    let s = start(&dir.path().join("data"));
    create_topic(&s, "t", 1);
    // Granted a port PostgreSQL is not on: its connect to the real one is refused.
    let mut sneaky = upsert_sink(&pg, "t", Auth::Trust);
    sneaky["weir.allow.tcp"] = json!(format!("127.0.0.1:{}", pg.port.wrapping_add(1).max(1)));
    sneaky["tasks.max"] = json!("1");
    create(&s, "sneaky", sneaky);
    // Its neighbour, granted the right port, keeps running and writing.
    create(&s, "fine", upsert_sink(&pg, "t", Auth::Trust));
    let st = wait_status(&s, "sneaky", "FAILED", |st| {
        st["tasks"][0]["state"] == "FAILED"
    });
    let trace = st["tasks"][0]["trace"].as_str().unwrap();
    assert!(trace.contains("denied"), "{trace}");
    assert_eq!(st["denied"], 1, "counted once: {st}");
    let (_, logs) = call(&s, "GET", "/connectors/sneaky/logs", None);
    let refused = format!("TCP connect to 127.0.0.1:{} refused", pg.port);
    assert!(
        logs["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains(&refused)),
        "{logs}"
    );
    produce(
        &s,
        "t",
        vec![json!({"key": "a", "value": "{\"n\":1,\"s\":\"x\"}"})],
    );
    wait_rows(
        &pg,
        &s,
        "fine",
        "SELECT id, n, s FROM t",
        &["a|1|x".to_string()],
    );
    let metrics = http().get(s.at("/metrics")).send().unwrap().text().unwrap();
    assert!(
        metrics.contains("weir_connector_denied_total{connector=\"sneaky\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("weir_connector_denied_total{connector=\"fine\"} 0"),
        "{metrics}"
    );
    let st = wait_status(&s, "fine", "RUNNING", |st| {
        st["tasks"][0]["state"] == "RUNNING"
    });
    assert_eq!(st["connector"]["state"], "RUNNING");
    s.stop();
}

#[test]
fn bad_configs_are_answered_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("data"));
    let config = json!({
        "connector.class": "PostgresSink",
        "name": "bad",
        "topics": "t",
        "connection.url": "postgres://db/x",
        "insert.mode": "merge",
        "pk.mode": "record_value",
        "delete.enabled": "yes",
        "batch.size": "0",
        "weir.allow.tcp": "db",
    });
    let (code, body) = call(
        &s,
        "PUT",
        "/connector-plugins/PostgresSink/config/validate",
        Some(config),
    );
    assert_eq!(code, 200, "{body}");
    let errors: BTreeMap<String, Vec<String>> = body["configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let v = &c["value"];
            let errs = v["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e.as_str().unwrap().to_string())
                .collect();
            (v["name"].as_str().unwrap().to_string(), errs)
        })
        .filter(|(_, e): &(String, Vec<String>)| !e.is_empty())
        .collect();
    let keys: Vec<&str> = errors.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "batch.size",
            "connection.url",
            "delete.enabled",
            "insert.mode",
            "pk.fields",
            "weir.allow.tcp"
        ],
        "{body}"
    );
    assert_eq!(body["error_count"], 6, "{body}");
    assert!(errors["connection.url"][0].contains("jdbc:postgresql://"));
    assert!(errors["weir.allow.tcp"][0].contains("host:port"));
    s.stop();
}

/// The README's tour, "a file in, a PostgreSQL table out, with two transformations": the same
/// commands on the same files of examples/postgres-tour/, with the test's temp dir in place
/// of /tmp/weir-tour and its PostgreSQL's port in place of 5432.
#[test]
fn the_readme_tour_runs_as_written() {
    let root = common::repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for line in [
        "weir topic create people",
        "weir connector create -f examples/postgres-tour/file-in.properties",
        "weir connector create -f examples/postgres-tour/pg-out.properties",
    ] {
        assert!(readme.contains(line), "the README's tour lost {line:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let pg = Postgres::start(dir.path(), Auth::Trust);
    let tour = dir.path().join("weir-tour");
    std::fs::create_dir_all(&tour).unwrap();
    let examples = root.join("examples/postgres-tour");
    std::fs::copy(examples.join("people.jsonl"), tour.join("people.jsonl")).unwrap();
    let s = start(&dir.path().join("data"));
    let weir = |args: &[&str]| {
        let out = std::process::Command::new(common::weir_bin())
            .arg("--url")
            .arg(&s.url)
            .args(args)
            .env_remove("WEIR_URL")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "weir {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    weir(&["topic", "create", "people"]);
    for file in ["file-in.properties", "pg-out.properties"] {
        let text = std::fs::read_to_string(examples.join(file))
            .unwrap()
            .replace("/tmp/weir-tour", tour.to_str().unwrap())
            .replace("127.0.0.1:5432", &pg.authority());
        let here = dir.path().join(file);
        std::fs::write(&here, text).unwrap();
        weir(&["connector", "create", "-f", here.to_str().unwrap()]);
    }
    let want = [
        "1|Ada|Cambridge".to_string(),
        "2|Grace|New York".to_string(),
        "3|Edsger|Nuenen".to_string(),
    ];
    wait_rows(
        &pg,
        &s,
        "people-out",
        "SELECT id, name, city FROM people",
        &want,
    );
    s.stop();
}

/// A connector task that opens socket after socket to a granted address is stopped at the
/// per-task cap (8, or its `weir.tcp.max.sockets`) with a clear error, logged and counted;
/// within the cap it connects. A cap over the server's ceiling, or of 0, is refused naming
/// the key; a UDP socket is refused, logged and counted like a TCP refusal.
#[test]
fn a_task_cannot_hold_more_sockets_than_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    // Accept and hold every connection for the test's life.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming().flatten() {
            held.push(c);
        }
    });
    let wasm = common::guests::guest("hostile", "grabber");
    let s = start(&dir.path().join("data"));
    let (code, body) = common::pipeline::upload(&s, "grabber", &wasm);
    assert!(code == 200 || code == 201, "{body}");
    create_topic(&s, "t", 1);
    let grabber = |count: u32| {
        json!({
            "connector.class": "module:grabber",
            "topics": "t",
            "target": addr,
            "count": count.to_string(),
            "weir.allow.tcp": addr,
        })
    };
    let capped = |count: u32, cap: &str| {
        let mut c = grabber(count);
        c["weir.tcp.max.sockets"] = json!(cap);
        c
    };
    create(&s, "modest", grabber(8));
    create(&s, "greedy", grabber(100));
    create(&s, "fits", capped(3, "3"));
    create(&s, "tight", capped(4, "3"));
    for (cap, want) in [
        (
            "65",
            "over this server's connect.max_tcp_sockets_per_task (64)",
        ),
        ("0", "at least 1"),
    ] {
        let (code, body) = call(
            &s,
            "POST",
            "/connectors",
            Some(json!({"name": "wide", "config": capped(1, cap)})),
        );
        assert_eq!(code, 400, "{cap}: {body}");
        let m = body["message"].as_str().unwrap();
        assert!(
            m.contains("weir.tcp.max.sockets") && m.contains(want),
            "{m}"
        );
    }
    let mut udp = grabber(0);
    udp["udp"] = json!("true");
    create(&s, "udp", udp);
    let st = wait_status(&s, "udp", "FAILED", |st| {
        st["tasks"][0]["state"] == "FAILED"
    });
    assert_eq!(st["denied"], 1, "a UDP refusal is counted: {st}");
    let (_, logs) = call(&s, "GET", "/connectors/udp/logs", None);
    assert!(
        logs.to_string().contains("a UDP socket refused"),
        "a UDP refusal is logged: {logs}"
    );
    let st = wait_status(&s, "tight", "FAILED", |st| {
        st["tasks"][0]["state"] == "FAILED"
    });
    let trace = st["tasks"][0]["trace"].as_str().unwrap();
    assert!(
        trace.contains("socket 3 to"),
        "the 4th socket fails: {trace}"
    );
    assert_eq!(st["denied"], 1, "{st}");
    let (_, logs) = call(&s, "GET", "/connectors/tight/logs", None);
    assert!(logs.to_string().contains("holds 3 open"), "{logs}");
    let st = wait_status(&s, "fits", "RUNNING", |st| {
        st["tasks"][0]["state"] == "RUNNING"
    });
    assert_eq!(st["denied"], 0, "{st}");
    let st = wait_status(&s, "greedy", "FAILED", |st| {
        st["tasks"][0]["state"] == "FAILED"
    });
    let trace = st["tasks"][0]["trace"].as_str().unwrap();
    assert!(
        trace.contains("socket 8 to"),
        "the 9th socket fails: {trace}"
    );
    assert_eq!(st["denied"], 1, "{st}");
    let (_, logs) = call(&s, "GET", "/connectors/greedy/logs", None);
    assert!(
        logs["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("holds 8 open")),
        "{logs}"
    );
    let st = wait_status(&s, "modest", "RUNNING", |st| {
        st["tasks"][0]["state"] == "RUNNING"
    });
    assert_eq!(st["denied"], 0, "{st}");
    s.stop();
}
