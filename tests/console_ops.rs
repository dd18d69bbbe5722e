//! The web console's Modules, Pipelines and Connectors views (issue 16, part 2) in a
//! real headless Chromium (tests/console/ops.js, through the harness of part 1, which
//! fails a scenario on any JavaScript error): a module uploaded from the file picker and
//! run in the playground; a pipeline's chart moving as records are produced, hot-swapped
//! from the version picker and its history entry seen; a connector created from the form
//! generated from its plugin's `config/validate` answer, seen RUNNING.
// The harness is shared with tests/console.rs, which uses parts this binary does not.
#[allow(dead_code)]
#[path = "console/driver.rs"]
mod browser;
mod common;

use browser::Scenario;
use common::Server;
use common::guests::guest;
use common::pipeline::{call, create, create_topic, produce, upload};
use serde_json::{Value, json};

#[test]
fn modules_pipelines_and_connectors_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    // Records for the playground to pick from a topic.
    create_topic(&server, "words", 1);
    produce(
        &server,
        "words",
        vec![json!({"value": "alpha"}), json!({"value": "beta"})],
    );
    // A pipeline running version 1 of `m`, with a version 2 to swap to.
    create_topic(&server, "in", 1);
    create_topic(&server, "out", 1);
    assert_eq!(upload(&server, "m", &guest("rust", "upper")).0, 201);
    assert_eq!(upload(&server, "m", &guest("rust", "copyfilter")).0, 201);
    create(
        &server,
        json!({"name": "shouting", "inputs": ["in"], "output": "out", "start": "earliest",
            "steps": [{"module": "m@1", "config": {"pattern": "record"}}]}),
    );
    // A file for a FileStreamSource connector to read.
    let files = tempfile::tempdir().unwrap();
    let input = files.path().join("lines.txt");
    std::fs::write(&input, "one\ntwo\n").unwrap();
    create_topic(&server, "lines", 1);
    let (code, plugins) = call(&server, "GET", "/connector-plugins", None);
    assert_eq!(code, 200, "{plugins}");
    let class = plugins
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["class"].as_str())
        .find(|c| c.ends_with("FileStreamSourceConnector"))
        .expect("the FileStreamSource plugin")
        .to_string();

    let shots = browser::screenshot_dir();
    let upper = guest("rust", "upper");
    let values = browser::run(&[
        Scenario::new("modules", "ops.js", "modulePlayground", &server.url)
            .args(json!({"wasm": upper, "topic": "words"})),
        Scenario::new("pipeline", "ops.js", "pipelineView", &server.url)
            .args(
                json!({"pipeline": "shouting", "input": "in", "module": "m", "screenshots": shots}),
            )
            // The state lookup of a step that keeps none answers 404, shown in the page.
            .allow_http(&[404]),
        Scenario::new("connectors", "ops.js", "connectorForm", &server.url).args(json!({
            "class": class,
            "name": "file-in",
            "config": {"file": input, "topic": "lines"},
            "extra": {"weir.allow.dirs": format!("{}:ro", files.path().display())},
        })),
    ]);

    let m = &values["modules"];
    assert!(
        m["versions"][0].as_str().unwrap().contains("transform"),
        "{m}"
    );
    assert_eq!(
        m["outputs"],
        json!([
            ["0", "output", "k", "HELLO", "mapped-by=upper"],
            ["1", "output", "null", "WORLD", "mapped-by=upper"]
        ]),
        "{m}"
    );
    assert_eq!(m["fromTopic"], json!(["ALPHA", "BETA"]), "{m}");
    assert!(
        m["mistake"]
            .as_str()
            .unwrap()
            .contains("line 1 is not JSON"),
        "{m}"
    );
    assert!(
        m["listed"].as_array().unwrap().contains(&json!("shout")),
        "{m}"
    );

    let p = &values["pipeline"];
    let nodes: Vec<&str> = p["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(nodes, ["in", "0: m@1", "out"], "{p}");
    assert_eq!(p["inBefore"], "0");
    assert_ne!(p["before"], p["after"], "the chart moved: {p}");
    let history: Vec<&str> = p["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert!(
        history[0].contains("m@2") && history[0].contains("updated"),
        "{p}"
    );
    assert!(
        history.last().unwrap().contains("m@1") && history.last().unwrap().contains("created"),
        "{p}"
    );
    let (code, _) = call(&server, "GET", "/v1/pipelines/shouting", None);
    assert_eq!(code, 404, "deleted from the page");

    let c = &values["connectors"];
    assert_eq!(c["state"], "RUNNING", "{c}");
    let fields: Vec<Value> = c["fields"].as_array().unwrap().clone();
    assert!(
        fields.contains(&json!("file")) && fields.contains(&json!("topic")),
        "{c}"
    );
    let (_, st) = call(&server, "GET", "/connectors/file-in/status", None);
    assert_eq!(st["connector"]["state"], "PAUSED", "{st}");
}
