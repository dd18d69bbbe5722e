//! Kafka Connect's transformations and predicates (issue 14, point 6): the built-in
//! `connect-transforms` plugin run through a Connect chain config (the library's
//! `weir::connect::transforms`) against Kafka Connect 4.4's own transformations as the
//! oracle (tests/clients/connect/), for the examples of Connect's documentation and the
//! edge cases around them (tombstones, non-map values, missing fields); chains with
//! predicates and `negate`; bad configs refused naming the key; and pipelines running
//! `builtin:` steps end to end over HTTP. The oracle's cases are in `connect_transforms/cases.rs`.

#[path = "connect_transforms/cases.rs"]
mod cases;
mod common;

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{Value, json};
use weir::connect::transforms::{ChainConfig, ChainRecord, TransformChain, TransformsError};
use weir::pipeline::plugins::PluginCatalog;
use weir::record::Record;
use weir::runtime::{Limits, Runtime, RuntimeConfig};

use cases::{configs, records};
use common::connect::{builtin_plugins, connect_oracle};

/// The built-in plugins, loaded as `weir serve` loads them.
fn catalog() -> PluginCatalog {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let catalog = PluginCatalog::load(&builtin_plugins(), &runtime);
    assert!(
        catalog.get("connect-transforms").is_some(),
        "connect-transforms did not load: {:?}",
        catalog.list()
    );
    catalog
}

fn props(config: &Value) -> BTreeMap<String, String> {
    config
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

fn bytes(v: &Value) -> Option<Bytes> {
    v.as_str().map(|s| Bytes::from(s.to_string()))
}

fn text(b: &Option<Bytes>) -> Value {
    b.as_ref().map_or(Value::Null, |b| {
        Value::String(String::from_utf8_lossy(b).into_owned())
    })
}

/// What weir makes of a case, in the oracle's shape: `{"config_error"}`, or per record
/// the record, `null` when dropped, or `{"error"}`.
fn run_weir(catalog: &PluginCatalog, case: &Value) -> Value {
    let chain = ChainConfig::parse(&props(&case["config"]), catalog)
        .and_then(|c| TransformChain::build(&c, catalog, Limits::default()));
    let mut chain = match chain {
        Ok(chain) => chain,
        Err(e) => return json!({ "config_error": e.to_string() }),
    };
    let inputs: Vec<ChainRecord> = case["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| ChainRecord {
            topic: r["topic"].as_str().unwrap().to_string(),
            partition: Some(r["partition"].as_u64().unwrap_or(0) as u32),
            offset: Some(r["offset"].as_i64().unwrap_or(0)),
            record: Record {
                key: bytes(&r["key"]),
                value: bytes(&r["value"]),
                headers: r["headers"]
                    .as_array()
                    .map(|hs| {
                        hs.iter()
                            .map(|h| (h[0].as_str().unwrap().to_string(), bytes(&h[1])))
                            .collect()
                    })
                    .unwrap_or_default(),
                timestamp: r["timestamp"].as_i64().unwrap(),
            },
        })
        .collect();
    let n = inputs.len();
    let out = match chain.apply(inputs) {
        Ok(out) => out,
        Err(e) => return json!({ "config_error": e.to_string() }),
    };
    let mut results = vec![Value::Null; n];
    for (source, r) in out.records {
        results[source] = json!({
            "topic": r.topic,
            "key": text(&r.record.key),
            "value": text(&r.record.value),
            "timestamp": r.record.timestamp,
            "headers": r.record.headers.iter().map(|(k, v)| json!([k, text(v)])).collect::<Vec<_>>(),
        });
    }
    for f in out.failures {
        results[f.source] =
            json!({ "error": format!("{} ({}): {}", f.alias, f.type_name, f.message) });
    }
    Value::Array(results)
}

/// Text as JSON when it parses (Connect and weir order a map's fields differently).
fn as_json(v: &Value) -> Value {
    match v.as_str() {
        Some(s) => serde_json::from_str(s).unwrap_or_else(|_| v.clone()),
        None => v.clone(),
    }
}

/// Whether weir's result for one record is Connect's.
fn same_record(connect: &Value, weir: &Value) -> bool {
    if connect.is_null() || weir.is_null() {
        return connect.is_null() && weir.is_null();
    }
    if connect.get("error").is_some() || weir.get("error").is_some() {
        return connect.get("error").is_some() && weir.get("error").is_some();
    }
    let headers = |r: &Value| -> Vec<(Value, Value)> {
        r["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h[0].clone(), as_json(&h[1])))
            .collect()
    };
    connect["topic"] == weir["topic"]
        && connect["timestamp"] == weir["timestamp"]
        && as_json(&connect["key"]) == as_json(&weir["key"])
        && as_json(&connect["value"]) == as_json(&weir["value"])
        && headers(connect) == headers(weir)
}

#[test]
fn every_transformation_does_what_kafka_connect_does() {
    let catalog = catalog();
    let cases: Vec<Value> = configs()
        .into_iter()
        .map(|config| json!({"config": config, "records": records()}))
        .collect();
    let connect = connect_oracle(&Value::Array(cases.clone()));
    assert_eq!(connect.len(), cases.len());
    let mut mismatches = Vec::new();
    for (case, connect) in cases.iter().zip(&connect) {
        let weir = run_weir(&catalog, case);
        let config = &case["config"];
        if let Some(e) = connect.get("config_error") {
            panic!("the oracle refused a test config {config}: {e}");
        }
        let weir_records = weir
            .as_array()
            .unwrap_or_else(|| panic!("{config}: weir said {weir}"));
        for (i, (c, w)) in connect
            .as_array()
            .unwrap()
            .iter()
            .zip(weir_records)
            .enumerate()
        {
            if !same_record(c, w) {
                mismatches.push(format!(
                    "{config}\n  record {i}: Connect {c}\n             weir    {w}"
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} differences:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// Connect's config syntax, checked once: each bad config is refused with an error naming
/// the key at fault, before any record runs.
#[test]
fn a_bad_chain_config_is_refused_naming_the_key() {
    let catalog = catalog();
    let t = |k: &str, v: &str| (format!("transforms.a.{k}"), v.to_string());
    let with = |pairs: Vec<(String, String)>| -> BTreeMap<String, String> {
        let mut m: BTreeMap<String, String> = pairs.into_iter().collect();
        m.entry("transforms".into()).or_insert_with(|| "a".into());
        m
    };
    let cases: Vec<(BTreeMap<String, String>, &str)> = vec![
        (with(vec![]), "transforms.a.type: is required"),
        (
            with(vec![t("type", "Nope")]),
            "transforms.a.type: \"Nope\" is not a transformation",
        ),
        (
            with(vec![
                ("transforms".into(), "a, a".into()),
                t("type", "Filter"),
            ]),
            "transforms: lists \"a\" twice",
        ),
        (
            with(vec![t("type", "Filter"), t("predicate", "p")]),
            "transforms.a.predicate: names \"p\", which `predicates` does not list",
        ),
        (
            with(vec![
                t("type", "Filter"),
                t("predicate", "p"),
                ("predicates".into(), "p".into()),
                ("predicates.p.type".into(), "Filter".into()),
            ]),
            "predicates.p.type: \"Filter\" is not a predicate",
        ),
        (
            with(vec![t("type", "Filter"), t("negate", "maybe")]),
            "transforms.a.negate: must be true or false",
        ),
        (
            with(vec![t("type", "Filter"), t("negate", "true")]),
            "transforms.a.negate: is set, but transforms.a.predicate is not",
        ),
        (
            with(vec![t("type", "InsertField$Value")]),
            "config key `transforms.a.topic.field`",
        ),
        (
            with(vec![t("type", "InsertField")]),
            "say InsertField$Key or InsertField$Value",
        ),
        (
            with(vec![t("type", "RegexRouter$Value")]),
            "has no $Key or $Value form",
        ),
        (
            with(vec![t("type", "Cast$Value"), t("spec", "a:int33")]),
            "config key `transforms.a.spec` has \"a:int33\"",
        ),
        (
            with(vec![t("type", "ReplaceField$Value"), t("blacklist", "a")]),
            "config key `transforms.a.blacklist` was renamed `exclude`",
        ),
        (
            with(vec![
                t("type", "RegexRouter"),
                t("regex", "("),
                t("replacement", "x"),
            ]),
            "config key `transforms.a.regex` is not a valid regex",
        ),
        (
            with(vec![
                t("type", "RegexRouter"),
                t("regex", "(a)"),
                t("replacement", "$2"),
            ]),
            "config key `transforms.a.replacement` refers to group 2",
        ),
        (
            with(vec![
                t("type", "HeaderFrom$Value"),
                t("fields", "a,b"),
                t("headers", "h"),
                t("operation", "copy"),
            ]),
            "config key `transforms.a.headers` lists 1 headers for 2 fields",
        ),
        (
            with(vec![
                t("type", "HeaderFrom$Value"),
                t("fields", "a"),
                t("headers", "h"),
                t("operation", "steal"),
            ]),
            "config key `transforms.a.operation` is \"steal\", expected one of move, copy",
        ),
        (
            with(vec![
                t("type", "TimestampConverter$Value"),
                t("target.type", "string"),
            ]),
            "config key `transforms.a.format` is required when target.type is string",
        ),
        (
            with(vec![
                t("type", "TimestampConverter$Value"),
                t("target.type", "unix"),
                t("format", "yyyy-qq"),
            ]),
            "config key `transforms.a.format`",
        ),
        (
            with(vec![
                t("type", "Filter"),
                t("predicate", "p"),
                ("predicates".into(), "p".into()),
                ("predicates.p.type".into(), "TopicNameMatches".into()),
            ]),
            "config key `predicates.p.pattern` is required",
        ),
        (
            with(vec![(
                "transforms".into(),
                (0..65)
                    .map(|i| format!("t{i}"))
                    .collect::<Vec<_>>()
                    .join(","),
            )]),
            "at most 64 are allowed",
        ),
    ];
    for (config, expected) in cases {
        let err = match ChainConfig::parse(&config, &catalog)
            .and_then(|c| TransformChain::build(&c, &catalog, Limits::default()))
        {
            Ok(chain) => panic!("{config:?} was accepted: {chain:?}"),
            Err(e) => e,
        };
        assert!(
            matches!(err, TransformsError::InvalidConfig { .. }),
            "{config:?}: not a config error: {err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains(expected),
            "{config:?}:\n  got      {text}\n  expected {expected}"
        );
    }
}

/// Pipeline steps name the transformations as `builtin:` modules (short or Connect's class
/// name), configured with Connect's keys and predicate syntax; a router's records go to the
/// pipeline's declared outputs, and a record a transformation fails follows `on_error`.
#[test]
fn a_pipeline_runs_builtin_transformation_steps_end_to_end() {
    use common::pipeline::{call, create_topic, produce, read_all, wait_caught_up};
    let plugins = builtin_plugins();
    let dir = tempfile::tempdir().unwrap();
    let s = common::Server::start(
        &dir.path().join("data"),
        &["--plugins-dir", plugins.to_str().unwrap()],
    );
    for t in ["in", "out", "in-priority", "dlq"] {
        create_topic(&s, t, 1);
    }
    let spec = json!({
        "name": "smt", "inputs": ["in"], "output": "out", "outputs": ["in-priority"],
        "start": "earliest", "on_error": "dead-letter", "dead_letter_topic": "dlq",
        "steps": [
            {"module": "builtin:InsertField$Value",
             "config": {"topic.field": "from", "static.field": "via", "static.value": "weir"}},
            {"module": "builtin:org.apache.kafka.connect.transforms.Filter",
             "config": {"predicate": "skip", "predicates.skip.type": "HasHeaderKey",
                        "predicates.skip.name": "skip"}},
            {"module": "builtin:RegexRouter",
             "config": {"regex": "(.*)", "replacement": "$1-priority", "predicate": "urgent",
                        "predicates.urgent.type": "HasHeaderKey", "predicates.urgent.name": "urgent"}},
            {"module": "builtin:ReplaceField$Value", "config": {"exclude": "secret"}}
        ]
    });
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
    produce(
        &s,
        "in",
        vec![
            json!({"key": "1", "value": "{\"n\":1,\"secret\":\"pw\"}"}),
            json!({"key": "2", "value": "{\"n\":2}", "headers": {"skip": "yes"}}),
            json!({"key": "3", "value": "{\"n\":3}", "headers": {"urgent": "!"}}),
            json!({"key": "4", "value": "not json"}),
        ],
    );
    wait_caught_up(&s, "smt", 4);
    let parsed = |topic: &str| -> Vec<Value> {
        read_all(&s, topic)
            .concat()
            .iter()
            .map(|r| serde_json::from_str(r["value"].as_str().unwrap()).unwrap())
            .collect()
    };
    // Record 1 lost its secret after gaining its fields; 3 was routed before ReplaceField
    // (a routed record leaves a pipeline's chain, as a processor's does).
    assert_eq!(
        parsed("out"),
        vec![json!({"n": 1, "from": "in", "via": "weir"})]
    );
    assert_eq!(
        parsed("in-priority"),
        vec![json!({"n": 3, "from": "in", "via": "weir"})]
    );
    let routed = &read_all(&s, "in-priority")[0][0];
    assert!(
        routed["headers"].get("weir.route.topic").is_none(),
        "the routing header must not reach the topic: {routed}"
    );
    // Not a map: InsertField fails it as Connect does, and it goes to the dead letters.
    let dead = read_all(&s, "dlq").concat();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["value"], "not json");
    let error = dead[0]["headers"]["weir.error"].as_str().unwrap();
    assert!(
        error.contains("Only Map objects supported in absence of schema for [field insertion]"),
        "{error}"
    );

    // An unknown built-in and a bad config are refused at create, naming the step.
    let bad = |steps: Value| {
        let spec = json!({"name": "bad", "inputs": ["in"], "output": "out", "steps": steps});
        call(&s, "POST", "/v1/pipelines", Some(spec))
    };
    let (code, body) = bad(json!([{"module": "builtin:Nope$Value"}]));
    assert_eq!(code, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("steps[0].module") && message.contains("Nope$Value"),
        "{message}"
    );
    let (code, body) = bad(json!([{"module": "builtin:Filter@2"}]));
    assert_eq!(code, 400, "{body}");
}
