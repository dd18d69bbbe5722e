//! Operating connectors through Connect's REST API: a running connector's module swapped for
//! a new version by `PUT .../config` (sources and sinks, mid-stream: every record once and in
//! order), a broken version rolled back with the connector left RUNNING, and the server's
//! caps on connector tasks (`[connect] max_tasks`, `max_tasks_per_connector`); a swap
//! waiting for its tasks' boundary holds no lock (other calls answer meanwhile), and one whose
//! connector is deleted meanwhile ends clearly.

mod common;
#[path = "connect_ops/pending_swap.rs"]
mod pending_swap;

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use common::connect::{builtin_plugins, call, create, start, wait_status};
use common::guests::guest;
use common::pipeline::values;
use common::{Server, create_topic, http, wait_until};

/// `wasm` with a custom section naming `tag` appended: the same code, other bytes, so the
/// registry takes it as a new version of the module.
fn tagged(wasm: &[u8], tag: u32) -> Vec<u8> {
    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let name = b"weir-test-version";
    let mut payload = Vec::new();
    leb(name.len(), &mut payload);
    payload.extend_from_slice(name);
    payload.extend_from_slice(tag.to_string().as_bytes());
    let mut out = wasm.to_vec();
    out.push(0); // a custom section
    leb(payload.len(), &mut out);
    out.extend_from_slice(&payload);
    out
}

/// Uploads `bytes` as the next version of module `name`; answers the version.
fn upload(s: &Server, name: &str, bytes: Vec<u8>) -> u64 {
    let r = http()
        .post(s.at(&format!("/v1/modules/{name}")))
        .header("content-type", "application/wasm")
        .body(bytes)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().unwrap();
    assert!(
        status == 201 || status == 200,
        "upload {name}: {status} {body}"
    );
    body["version"].as_u64().expect("a version")
}

/// The example counter (examples/rust-source-connector) as `class`, into `numbers`.
fn counter(class: &str) -> Value {
    json!({
        "connector.class": class,
        "topic": "numbers",
        "batch.size": "50",
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
    })
}

fn high_watermark(s: &Server, topic: &str) -> i64 {
    let (code, t) = common::pipeline::call(s, "GET", &format!("/v1/topics/{topic}"), None);
    assert_eq!(code, 200, "{t}");
    t["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["high_watermark"].as_i64().unwrap())
        .sum()
}

/// Waits until `topic` grew past `from`; answers its new end.
fn grows(s: &Server, topic: &str, from: i64) -> i64 {
    assert!(
        wait_until(Duration::from_secs(60), || high_watermark(s, topic) > from),
        "{topic} stopped growing at {from}"
    );
    high_watermark(s, topic)
}

/// Stops connector `name` and waits until it is STOPPED.
fn stop(s: &Server, name: &str) {
    let (code, body) = call(s, "PUT", &format!("/connectors/{name}/stop"), None);
    assert!(code == 202 || code == 204, "stopping {name}: {code} {body}");
    wait_status(s, name, "STOPPED", |st| {
        st["connector"]["state"] == "STOPPED"
    });
}

/// The counter's numbers, as the topic holds them: exactly 0, 1, 2, … with no gap or repeat.
fn assert_counted(got: &[String]) {
    assert!(!got.is_empty(), "nothing counted");
    for (i, v) in got.iter().enumerate() {
        assert_eq!(
            v,
            &i.to_string(),
            "record {i} of {}: a number lost, repeated or out of order",
            got.len()
        );
    }
}

fn log_lines(s: &Server, name: &str) -> Vec<String> {
    let (_, logs) = call(s, "GET", &format!("/connectors/{name}/logs"), None);
    logs["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_source_swapped_five_times_mid_stream_writes_every_number_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("data"));
    let wasm = std::fs::read(guest("connectors", "rust-source-connector")).unwrap();
    for v in 1..=6 {
        assert_eq!(upload(&s, "counter", tagged(&wasm, v)), u64::from(v));
    }
    create_topic(&s, "numbers", 1);
    create(&s, "count", counter("module:counter@1"));
    let mut end = 0;
    for v in 2..=6 {
        end = grows(&s, "numbers", end);
        let (code, body) = call(
            &s,
            "PUT",
            "/connectors/count/config",
            Some(counter(&format!("module:counter@{v}"))),
        );
        assert_eq!(code, 200, "swap to @{v}: {body}");
        assert_eq!(
            body["config"]["connector.class"],
            format!("module:counter@{v}")
        );
    }
    // The last version counts on from where the others stopped.
    grows(&s, "numbers", high_watermark(&s, "numbers"));
    let st = wait_status(&s, "count", "RUNNING", |st| {
        st["tasks"][0]["state"] == "RUNNING"
    });
    assert!(st["connector"].get("trace").is_none(), "{st}");
    let swaps = log_lines(&s, "count")
        .iter()
        .filter(|l| l.contains("swapped from module:counter@"))
        .count();
    assert_eq!(swaps, 5, "{:?}", log_lines(&s, "count"));
    stop(&s, "count");
    assert_counted(&values(&s, "numbers"));
    s.stop();
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn a_sink_swapped_mid_stream_writes_every_record_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let file = out.join("numbers.txt");
    let s = start(&dir.path().join("data"));
    let counter_wasm = std::fs::read(guest("connectors", "rust-source-connector")).unwrap();
    upload(&s, "counter", counter_wasm);
    let sink_wasm = std::fs::read(builtin_plugins().join("FileStreamSink.wasm")).unwrap();
    assert_eq!(upload(&s, "fsink", sink_wasm.clone()), 1);
    assert_eq!(upload(&s, "fsink", tagged(&sink_wasm, 2)), 2);
    create_topic(&s, "numbers", 1);
    create(&s, "count", counter("module:counter@1"));
    let sink = |class: &str| {
        json!({
            "connector.class": class,
            "topics": "numbers",
            "file": file,
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
            "weir.allow.dirs": out.display().to_string(),
        })
    };
    create(&s, "write", sink("FileStreamSink"));
    // A built-in to an uploaded module, a new version of it, and back to the built-in.
    for class in ["module:fsink@1", "module:fsink@2", "FileStreamSink"] {
        let before = lines(&file).len();
        assert!(
            wait_until(Duration::from_secs(60), || lines(&file).len() > before),
            "the sink stopped writing at {before} lines"
        );
        let (code, body) = call(&s, "PUT", "/connectors/write/config", Some(sink(class)));
        assert_eq!(code, 200, "swap to {class}: {body}");
    }
    stop(&s, "count");
    let total = high_watermark(&s, "numbers");
    let expected: Vec<String> = (0..total).map(|i| i.to_string()).collect();
    let same = wait_until(Duration::from_secs(60), || {
        let got = lines(&file);
        assert!(
            got.len() <= expected.len(),
            "the file has {} lines, the topic {}: a record written twice",
            got.len(),
            expected.len()
        );
        got == expected
    });
    assert!(
        same,
        "the file never held the topic's {total} numbers once each (it has {})",
        lines(&file).len()
    );
    let st = wait_status(&s, "write", "RUNNING", |st| {
        st["tasks"][0]["state"] == "RUNNING"
    });
    assert!(st["connector"].get("trace").is_none(), "{st}");
    s.stop();
}

#[test]
fn a_broken_version_is_rolled_back_and_the_connector_keeps_running() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("data"));
    upload(
        &s,
        "counter",
        std::fs::read(guest("connectors", "rust-source-connector")).unwrap(),
    );
    // Version 2 passes the config checks and starts, but traps at its first poll.
    assert_eq!(
        upload(
            &s,
            "counter",
            std::fs::read(guest("connectors", "badsource")).unwrap()
        ),
        2
    );
    create_topic(&s, "numbers", 1);
    create(&s, "count", counter("module:counter@1"));
    let end = grows(&s, "numbers", 0);
    let (code, body) = call(
        &s,
        "PUT",
        "/connectors/count/config",
        Some(counter("module:counter@2")),
    );
    assert_eq!(code, 422, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("rolled back"), "{message}");
    // Still version 1, running, with the failure in its status and log.
    let (_, config) = call(&s, "GET", "/connectors/count/config", None);
    assert_eq!(config["connector.class"], "module:counter@1");
    let st = wait_status(&s, "count", "RUNNING", |st| {
        st["tasks"][0]["state"] == "RUNNING"
    });
    assert_eq!(st["connector"]["state"], "RUNNING", "{st}");
    let trace = st["connector"]["trace"].as_str().unwrap_or_default();
    assert!(
        trace.contains("module:counter@2") && trace.contains("rolled back"),
        "{st}"
    );
    assert!(
        log_lines(&s, "count")
            .iter()
            .any(|l| l.contains("rolled back")),
        "{:?}",
        log_lines(&s, "count")
    );
    grows(&s, "numbers", end.max(high_watermark(&s, "numbers")));
    stop(&s, "count");
    assert_counted(&values(&s, "numbers"));
    s.stop();
}

#[test]
fn task_caps_refuse_connectors_past_them_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_with_config(
        &dir.path().join("data"),
        "[kafka]\ngroup_initial_rebalance_delay_ms = 0\n\
         [connect]\nmax_tasks = 2\nmax_tasks_per_connector = 1\n",
        &[],
    );
    upload(
        &s,
        "counter",
        std::fs::read(guest("connectors", "rust-source-connector")).unwrap(),
    );
    create_topic(&s, "numbers", 1);
    let one_task = counter("module:counter@1");
    let mut two_tasks = one_task.clone();
    two_tasks["tasks.max"] = json!("2");

    // One connector's tasks.max above max_tasks_per_connector: refused, and validate says so.
    let (code, body) = call(
        &s,
        "POST",
        "/connectors",
        Some(json!({"name": "greedy", "config": two_tasks})),
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("connect.max_tasks_per_connector"),
        "{body}"
    );
    let (code, v) = call(
        &s,
        "PUT",
        "/connector-plugins/module:counter@1/config/validate",
        Some(two_tasks),
    );
    assert_eq!(code, 200, "{v}");
    let tasks_max = v["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["definition"]["name"] == "tasks.max")
        .unwrap()
        .clone();
    assert!(
        tasks_max["value"]["errors"][0]
            .as_str()
            .unwrap()
            .contains("connect.max_tasks_per_connector"),
        "{tasks_max}"
    );

    // Two one-task connectors fill max_tasks = 2; a third is refused, nothing stored.
    create(&s, "a", one_task.clone());
    create(&s, "b", one_task.clone());
    let (code, body) = call(
        &s,
        "POST",
        "/connectors",
        Some(json!({"name": "c", "config": one_task})),
    );
    assert_eq!(code, 400, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("connect.max_tasks (2)") && message.contains("2 run already"),
        "{message}"
    );
    let (code, _) = call(&s, "GET", "/connectors/c", None);
    assert_eq!(code, 404, "a refused connector is not stored");

    // Stopped, it holds no task and may be created; resumed, it fails naming the cap.
    let (code, body) = call(
        &s,
        "POST",
        "/connectors",
        Some(json!({"name": "c", "config": one_task, "initial_state": "STOPPED"})),
    );
    assert_eq!(code, 201, "{body}");
    let (code, _) = call(&s, "PUT", "/connectors/c/resume", None);
    assert!(code == 202 || code == 204, "{code}");
    let st = wait_status(&s, "c", "FAILED", |st| st["connector"]["state"] == "FAILED");
    assert!(
        st["connector"]["trace"]
            .as_str()
            .unwrap()
            .contains("connect.max_tasks"),
        "{st}"
    );
    for name in ["a", "b"] {
        wait_status(&s, name, "RUNNING", |st| {
            st["tasks"][0]["state"] == "RUNNING"
        });
    }

    // Freeing a task makes room again.
    let (code, _) = call(&s, "DELETE", "/connectors/a", None);
    assert!(code == 204 || code == 200, "{code}");
    let (code, body) = call(&s, "POST", "/connectors/c/restart", None);
    assert!(code == 204 || code == 200 || code == 202, "{code} {body}");
    wait_status(&s, "c", "RUNNING", |st| {
        st["tasks"][0]["state"] == "RUNNING"
    });
    s.stop();
}

#[test]
fn a_python_source_connector_uploaded_as_a_module_runs() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("data"));
    let wasm = std::fs::read(guest("python", "python-source-connector")).unwrap();
    assert_eq!(upload(&s, "greetings", wasm), 1);
    let class = "module:greetings@1";

    // Its config definitions and its own per-key validation.
    let (code, defs) = call(
        &s,
        "GET",
        &format!("/connector-plugins/{class}/config"),
        None,
    );
    assert_eq!(code, 200, "{defs}");
    assert!(
        defs.as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == "greeting" && d["default_value"] == "hello"),
        "{defs}"
    );
    let (code, v) = call(
        &s,
        "PUT",
        &format!("/connector-plugins/{class}/config/validate"),
        Some(json!({"name": "v", "connector.class": class, "topic": "greetings", "count": "many"})),
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["error_count"], 1, "{v}");
    let count = v["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["definition"]["name"] == "count")
        .unwrap()
        .clone();
    assert!(
        count["value"]["errors"][0]
            .as_str()
            .unwrap()
            .contains("non-negative integer"),
        "{count}"
    );

    create_topic(&s, "greetings", 1);
    create(
        &s,
        "hello",
        json!({
            "connector.class": class,
            "topic": "greetings",
            "count": "1200",
            "greeting": "hi",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        }),
    );
    assert!(
        wait_until(Duration::from_secs(120), || high_watermark(&s, "greetings")
            >= 1200),
        "the Python connector wrote {} of 1200 greetings",
        high_watermark(&s, "greetings")
    );
    let expected: Vec<String> = (0..1200).map(|n| format!("hi {n}")).collect();
    assert_eq!(values(&s, "greetings"), expected);
    let (_, offsets) = call(&s, "GET", "/connectors/hello/offsets", None);
    assert_eq!(
        offsets,
        json!({"offsets": [{"partition": {"greetings": "all"}, "offset": {"next": 1200}}]})
    );
    s.stop();
}
