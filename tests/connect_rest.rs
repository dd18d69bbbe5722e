//! Kafka Connect's REST API, request by request: paths, bodies and status codes as Connect
//! answers them, including its errors (`{"error_code": …, "message": …}`).

mod common;

use serde_json::{Value, json};

use common::connect::{call, start, wait_status};
use common::create_topic;

fn err(code: u16, message: &str) -> Value {
    json!({"error_code": code, "message": message})
}

#[test]
fn connect_rest_api_golden_transcript() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let input = files.join("in.txt");
    std::fs::write(&input, "a\nb\n").unwrap();
    let s = start(&dir.path().join("data"));
    create_topic(&s, "t", 1);

    let (code, root) = call(&s, "GET", "/", None);
    assert_eq!(code, 200);
    assert_eq!(root["kafka_cluster_id"], "weir");
    assert!(root["version"].is_string());

    let (code, plugins) = call(&s, "GET", "/connector-plugins", None);
    assert_eq!(code, 200);
    assert_eq!(
        plugins,
        json!([
            {"class": "org.apache.kafka.connect.file.FileStreamSinkConnector", "type": "sink", "version": "0.1.0"},
            {"class": "org.apache.kafka.connect.file.FileStreamSourceConnector", "type": "source", "version": "0.1.0"},
            {"class": "HttpSink", "type": "sink", "version": "0.1.0"},
            {"class": "HttpSource", "type": "source", "version": "0.1.0"},
            {"class": "io.confluent.connect.jdbc.JdbcSinkConnector", "type": "sink", "version": "0.1.0"},
            {"class": "org.apache.kafka.connect.mirror.MirrorCheckpointConnector", "type": "source", "version": "0.1.0"},
            {"class": "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector", "type": "source", "version": "0.1.0"},
            {"class": "org.apache.kafka.connect.mirror.MirrorSourceConnector", "type": "source", "version": "0.1.0"},
        ])
    );
    let (code, defs) = call(
        &s,
        "GET",
        "/connector-plugins/FileStreamSource/config",
        None,
    );
    assert_eq!(code, 200);
    let names: Vec<&str> = defs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"file") && names.contains(&"batch.size") && names.contains(&"tasks.max"),
        "{names:?}"
    );

    // Validate: one error, named by its key.
    let (code, v) = call(
        &s,
        "PUT",
        "/connector-plugins/FileStreamSourceConnector/config/validate",
        Some(json!({"connector.class": "FileStreamSource", "name": "x", "topic": "t"})),
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        v["name"],
        "org.apache.kafka.connect.file.FileStreamSourceConnector"
    );
    assert_eq!(v["error_count"], 1, "{v}");
    let file = v["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["value"]["name"] == "file")
        .unwrap();
    assert_eq!(
        file["value"]["errors"],
        json!(["Missing required configuration \"file\" which has no default value."])
    );
    assert_eq!(v["groups"], json!(["Common", "Connector"]));

    // Create: 400 for an invalid config, 400 for an unknown class, 201, then 409.
    let (code, body) = call(
        &s,
        "POST",
        "/connectors",
        Some(
            json!({"name": "src", "config": {"connector.class": "FileStreamSource", "topic": "t"}}),
        ),
    );
    assert_eq!(code, 400);
    assert_eq!(body["error_code"], 400);
    assert!(body["message"].as_str().unwrap().starts_with("Connector configuration is invalid and contains the following 1 error(s):\nfile: Missing required configuration"), "{body}");
    let (code, body) = call(
        &s,
        "POST",
        "/connectors",
        Some(json!({"name": "src", "config": {"connector.class": "com.example.Nope"}})),
    );
    assert_eq!(code, 400);
    assert!(body["message"].as_str().unwrap().starts_with("Failed to find any class that implements Connector and which name matches com.example.Nope"), "{body}");
    let (code, body) = call(&s, "POST", "/connectors", Some(json!({"config": {}})));
    assert_eq!((code, body), (400, err(400, "Connector name is missing")));
    let config = json!({
        "connector.class": "FileStreamSource",
        "file": input,
        "topic": "t",
        "tasks.max": "1",
        "weir.allow.dirs": files,
    });
    let mut stored = config.clone();
    stored["name"] = json!("src");
    let (code, body) = call(
        &s,
        "POST",
        "/connectors",
        Some(json!({"name": "src", "config": config})),
    );
    assert_eq!(code, 201, "{body}");
    assert_eq!(
        body,
        json!({"name": "src", "config": stored, "tasks": [{"connector": "src", "task": 0}], "type": "source"})
    );
    let (code, body) = call(
        &s,
        "POST",
        "/connectors",
        Some(json!({"name": "src", "config": config})),
    );
    assert_eq!(
        (code, body),
        (409, err(409, "Connector src already exists"))
    );

    // Reads.
    assert_eq!(call(&s, "GET", "/connectors", None), (200, json!(["src"])));
    assert_eq!(call(&s, "GET", "/connectors/src", None).1["type"], "source");
    assert_eq!(
        call(&s, "GET", "/connectors/src/config", None),
        (200, stored.clone())
    );
    assert_eq!(
        call(&s, "GET", "/connectors/src/tasks", None),
        (
            200,
            json!([{"id": {"connector": "src", "task": 0}, "config": stored}])
        )
    );
    let st = wait_status(&s, "src", "RUNNING", |st| {
        st["tasks"][0]["state"] == "RUNNING"
    });
    let worker = st["connector"]["worker_id"].clone();
    assert_eq!(
        st,
        json!({"name": "src", "connector": {"state": "RUNNING", "worker_id": worker}, "tasks": [{"id": 0, "state": "RUNNING", "worker_id": worker}], "type": "source", "denied": 0})
    );
    assert_eq!(
        call(&s, "GET", "/connectors/src/tasks/0/status", None),
        (
            200,
            json!({"id": 0, "state": "RUNNING", "worker_id": worker})
        )
    );
    let (code, expanded) = call(&s, "GET", "/connectors?expand=status&expand=info", None);
    assert_eq!(code, 200);
    assert_eq!(expanded["src"]["status"]["connector"]["state"], "RUNNING");
    assert_eq!(expanded["src"]["info"]["type"], "source");
    assert!(common::wait_until(
        std::time::Duration::from_secs(30),
        || {
            call(&s, "GET", "/connectors/src/topics", None)
                == (200, json!({"src": {"topics": ["t"]}}))
        }
    ));

    // 404s.
    assert_eq!(
        call(&s, "GET", "/connectors/nope", None),
        (404, err(404, "Connector nope not found"))
    );
    assert_eq!(
        call(&s, "GET", "/connectors/nope/status", None),
        (404, err(404, "Connector nope not found"))
    );
    assert_eq!(
        call(&s, "GET", "/connectors/src/tasks/7/status", None),
        (404, err(404, "Task src-7 not found"))
    );
    assert_eq!(
        call(&s, "DELETE", "/connectors/nope", None),
        (404, err(404, "Connector nope not found"))
    );

    // Lifecycle: pause, resume, stop (offsets change only then), restart.
    assert_eq!(call(&s, "PUT", "/connectors/src/pause", None).0, 202);
    wait_status(&s, "src", "PAUSED", |st| {
        st["connector"]["state"] == "PAUSED" && st["tasks"][0]["state"] == "PAUSED"
    });
    assert_eq!(call(&s, "PUT", "/connectors/src/resume", None).0, 202);
    wait_status(&s, "src", "RUNNING", |st| {
        st["tasks"][0]["state"] == "RUNNING"
    });
    let patch = json!({"offsets": [{"partition": {"filename": input}, "offset": {"position": 2}}]});
    let (code, body) = call(&s, "PATCH", "/connectors/src/offsets", Some(patch.clone()));
    assert_eq!(code, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Connectors must be in the STOPPED state"),
        "{body}"
    );
    assert_eq!(call(&s, "PUT", "/connectors/src/stop", None).0, 202);
    let st = wait_status(&s, "src", "STOPPED", |st| {
        st["connector"]["state"] == "STOPPED"
    });
    assert_eq!(st["tasks"], json!([]));
    assert_eq!(
        call(&s, "GET", "/connectors/src/offsets", None),
        (
            200,
            json!({"offsets": [{"partition": {"filename": input}, "offset": {"position": 4}}]})
        )
    );
    assert_eq!(
        call(&s, "PATCH", "/connectors/src/offsets", Some(patch)),
        (
            200,
            json!({"message": "The offsets for this connector have been altered successfully"})
        )
    );
    assert_eq!(
        call(&s, "GET", "/connectors/src/offsets", None).1,
        json!({"offsets": [{"partition": {"filename": input}, "offset": {"position": 2}}]})
    );
    assert_eq!(
        call(&s, "DELETE", "/connectors/src/offsets", None),
        (
            200,
            json!({"message": "The offsets for this connector have been reset successfully"})
        )
    );
    assert_eq!(
        call(&s, "GET", "/connectors/src/offsets", None).1,
        json!({"offsets": []})
    );
    assert_eq!(call(&s, "PUT", "/connectors/src/resume", None).0, 202);
    wait_status(&s, "src", "RUNNING", |st| {
        st["tasks"][0]["state"] == "RUNNING"
    });
    assert_eq!(
        call(&s, "POST", "/connectors/src/restart", None),
        (204, Value::Null)
    );
    let (code, st) = call(
        &s,
        "POST",
        "/connectors/src/restart?includeTasks=true",
        None,
    );
    assert_eq!(code, 202, "{st}");
    assert_eq!(
        call(&s, "POST", "/connectors/src/tasks/0/restart", None).0,
        204
    );

    // Config: PUT updates (200) or creates (201), PATCH with null removes a key.
    let (code, _) = call(&s, "PUT", "/connectors/src/config", Some(stored.clone()));
    assert_eq!(code, 200);
    let (code, body) = call(&s, "PUT", "/connectors/other/config", Some(stored.clone()));
    assert_eq!(
        (code, body),
        (
            400,
            err(
                400,
                "Connector name configuration (src) doesn't match connector name in the URL (other)"
            )
        )
    );
    let (code, body) = call(
        &s,
        "PATCH",
        "/connectors/src/config",
        Some(json!({"tasks.max": null, "batch.size": "10"})),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["config"]["batch.size"], "10");
    assert!(body["config"].get("tasks.max").is_none(), "{body}");

    assert_eq!(
        call(&s, "DELETE", "/connectors/src", None),
        (204, Value::Null)
    );
    assert_eq!(call(&s, "GET", "/connectors", None), (200, json!([])));
    s.stop();
}
