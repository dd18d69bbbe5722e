//! The spec's parsing and checks: what is accepted, and what is refused naming the field.

use super::*;
use serde_json::json;

fn parse(v: serde_json::Value) -> Result<PipelineSpec, String> {
    let spec: PipelineSpec = serde_json::from_value(v).map_err(|e| e.to_string())?;
    spec.check().map_err(|e| e.to_string())?;
    Ok(spec)
}

fn base() -> serde_json::Value {
    json!({"name": "p", "inputs": ["in"], "output": "out", "steps": [{"module": "filter"}]})
}

#[test]
fn minimal_spec_gets_documented_defaults() {
    let spec = parse(base()).unwrap();
    assert_eq!(spec.on_error, OnError::Fail);
    assert_eq!(spec.start, StartPosition::Latest);
    assert_eq!(
        spec.steps[0].module,
        Some(ModuleRef {
            name: "filter".into(),
            version: None
        })
    );
    assert_eq!(spec.written_topics(), vec!["out"]);
    assert_eq!(
        spec.commit_interval(),
        std::time::Duration::from_millis(DEFAULT_COMMIT_INTERVAL_MS)
    );
}

#[test]
fn full_spec_parses() {
    let spec = parse(json!({
        "name": "p", "inputs": ["a", "b"], "output": "out", "outputs": ["side"],
        "steps": [{"module": "f@2", "config": {"pattern": "x", "n": 3, "on": true}}],
        "on_error": "dead-letter", "dead_letter_topic": "dlq", "start": "earliest",
        "limits": {"memory_mb": 64, "deadline_ms": 500}
    }))
    .unwrap();
    assert_eq!(spec.steps[0].module.as_ref().unwrap().version, Some(2));
    assert_eq!(spec.steps[0].config["n"], "3");
    assert_eq!(spec.steps[0].config["on"], "true");
    assert_eq!(spec.written_topics(), vec!["dlq", "out", "side"]);
}

#[test]
fn refusals_name_the_field() {
    let cases = [
        (json!({"steps": []}), "steps:"),
        (json!({"inputs": []}), "inputs:"),
        (json!({"inputs": ["a", "a"]}), "inputs[1]:"),
        (json!({"output": "in"}), "output:"),
        (json!({"name": "a b"}), "name:"),
        (json!({"on_error": "dead-letter"}), "dead_letter_topic:"),
        (json!({"dead_letter_topic": "d"}), "dead_letter_topic:"),
        (json!({"limits": {"memory_mb": 0}}), "limits.memory_mb:"),
        (
            json!({"commit_interval_ms": 60_001}),
            "commit_interval_ms: must be between 0 and 60000",
        ),
        (json!({"steps": [{"module": "f@0"}]}), "versions start at 1"),
        (
            json!({"steps": [{"module": "f@x"}]}),
            "not a positive whole number",
        ),
        (
            json!({"steps": [{"module": "f", "config": {"k": [1]}}]}),
            "must be a string",
        ),
        (json!({"on_error": "explode"}), "unknown variant"),
        (json!({"stpes": []}), "unknown field"),
    ];
    for (patch, expected) in cases {
        let mut v = base();
        for (k, val) in patch.as_object().unwrap() {
            v[k] = val.clone();
        }
        let err = parse(v.clone()).unwrap_err();
        assert!(err.contains(expected), "{v}: {err}");
    }
}

#[test]
fn aggregation_steps_parse_and_map_stays_the_default() {
    let spec = parse(json!({
        "name": "p", "inputs": ["in"], "output": "out",
        "steps": [
            {"module": "f"},
            {"op": "count", "window": {"type": "tumbling", "size_ms": 60000},
             "emit": "on_close", "value_format": "long", "key_format": "windowed"},
        ]
    }))
    .unwrap();
    assert_eq!(spec.steps[0].op, Op::Map);
    let agg = spec.steps[1].aggregation().unwrap();
    assert_eq!(agg.grouping.time().unwrap().advance_ms, 60000);
    assert_eq!(agg.grouping.time().unwrap().grace_ms, 0);
    assert_eq!(agg.retention_ms, 60000);
    // A stored spec reads back the same, and a map step serialises as before.
    let back: PipelineSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
    assert_eq!(back, spec);
    assert_eq!(
        serde_json::to_value(&spec.steps[0]).unwrap(),
        json!({"module": "f", "config": {}})
    );
    let running = parse(json!({
        "name": "p", "inputs": ["in"], "output": "out", "steps": [{"op": "sum"}]
    }))
    .unwrap();
    assert!(running.steps[0].aggregation().unwrap().grouping == crate::streams::Grouping::Running);
}

#[test]
fn bad_aggregation_steps_are_refused_naming_the_field() {
    let cases = [
        (json!({"op": "count", "module": "m"}), "steps[0].module:"),
        (
            json!({"op": "count", "config": {"a": 1}}),
            "steps[0].config:",
        ),
        (
            json!({"module": "m", "window": {"type": "tumbling", "size_ms": 5}}),
            "steps[0].window:",
        ),
        (json!({"module": "m", "emit": "on_close"}), "steps[0].emit:"),
        (json!({"op": "map"}), "steps[0].module:"),
        (json!({"op": "count", "emit": "on_close"}), "steps[0].emit:"),
        (
            json!({"op": "sum", "key_format": "windowed"}),
            "steps[0].key_format:",
        ),
        (
            json!({"op": "sum", "retention_ms": 5}),
            "steps[0].retention_ms:",
        ),
        (
            json!({"op": "count", "window": {"type": "tumbling", "size_ms": 0}}),
            "steps[0].window.size_ms:",
        ),
        (
            json!({"op": "count", "window": {"type": "hopping", "size_ms": 10, "advance_ms": 11}}),
            "steps[0].window.advance_ms:",
        ),
        (
            json!({"op": "count", "window": {"type": "tumbling", "size_ms": 10, "grace_ms": 5}, "retention_ms": 14}),
            "steps[0].retention_ms:",
        ),
        (
            json!({"op": "count", "window": {"type": "tumbling", "size_ms": 10, "advnce_ms": 5}}),
            "unknown field",
        ),
        (
            json!({"op": "count", "window": {"type": "session", "gap_ms": 0}}),
            "steps[0].window.gap_ms:",
        ),
        (
            json!({"op": "count", "window": {"type": "sliding", "max_diff_ms": 0}}),
            "steps[0].window.max_diff_ms:",
        ),
        (json!({"op": "join"}), "unknown variant"),
        (
            json!({"op": "count", "window": {"type": "tumbling", "size_ms": 10}, "close_idle_after_ms": 5}),
            "steps[0].close_idle_after_ms:",
        ),
        (
            json!({"op": "count", "close_idle_after_ms": 5}),
            "steps[0].close_idle_after_ms:",
        ),
        (
            json!({"op": "count", "window": {"type": "tumbling", "size_ms": 10}, "emit": "on_close", "close_idle_after_ms": 0}),
            "steps[0].close_idle_after_ms:",
        ),
        (
            json!({"module": "m", "close_idle_after_ms": 5}),
            "steps[0].close_idle_after_ms:",
        ),
        (
            json!({"op": "count", "emit": "sometimes"}),
            "unknown variant",
        ),
    ];
    for (step, expected) in cases {
        let mut v = base();
        v["steps"] = json!([step]);
        let err = parse(v.clone()).unwrap_err();
        assert!(err.contains(expected), "{v}: {err}");
    }
}

#[test]
fn step_names_are_checked_and_unique() {
    let mut v = base();
    v["steps"] = json!([{"name": "per-user", "op": "count"}, {"name": "f", "module": "m"}]);
    assert_eq!(
        parse(v.clone()).unwrap().steps[0].name.as_deref(),
        Some("per-user")
    );
    for (steps, expected) in [
        (
            json!([{"name": "a", "op": "count"}, {"name": "a", "module": "m"}]),
            "steps[1].name:",
        ),
        (json!([{"name": "1", "op": "count"}]), "steps[0].name:"),
        (json!([{"name": "", "op": "count"}]), "steps[0].name:"),
    ] {
        v["steps"] = steps;
        let err = parse(v.clone()).unwrap_err();
        assert!(err.contains(expected), "{v}: {err}");
    }
}

#[test]
fn only_the_last_step_closes_windows_on_an_idle_input() {
    let idle = json!({"op": "count", "window": {"type": "tumbling", "size_ms": 10},
        "emit": "on_close", "close_idle_after_ms": 100});
    let mut v = base();
    v["steps"] = json!([idle.clone(), {"module": "m"}]);
    let err = parse(v.clone()).unwrap_err();
    assert!(err.contains("steps[0].close_idle_after_ms:"), "{err}");
    v["steps"] = json!([{"module": "m"}, idle]);
    let spec = parse(v).unwrap();
    assert_eq!(
        spec.steps[1].aggregation().unwrap().close_idle_after_ms,
        Some(100)
    );
}

#[test]
fn module_refs_round_trip() {
    for s in ["m", "m@1", "my.mod-2@17"] {
        assert_eq!(s.parse::<ModuleRef>().unwrap().to_string(), s);
    }
    assert!("".parse::<ModuleRef>().is_err());
    assert!("a/b@1".parse::<ModuleRef>().is_err());
}

#[test]
fn builtin_refs_name_a_plugin_or_type_and_take_no_version() {
    for s in [
        "builtin:InsertField$Value",
        "builtin:org.apache.kafka.connect.transforms.InsertField$Value",
        "builtin:connect-transforms",
    ] {
        let m = s.parse::<ModuleRef>().unwrap();
        assert_eq!(m.to_string(), s);
        assert_eq!(m.builtin(), s.strip_prefix("builtin:"));
        assert_eq!(m.version, None);
    }
    assert_eq!("m".parse::<ModuleRef>().unwrap().builtin(), None);
    let pinned = "builtin:Filter@2".parse::<ModuleRef>().unwrap_err();
    assert!(pinned.contains("no versions to pin"), "{pinned}");
    let empty = "builtin:".parse::<ModuleRef>().unwrap_err();
    assert!(empty.contains("names no built-in plugin"), "{empty}");
    let bad = "builtin:a b".parse::<ModuleRef>().unwrap_err();
    assert!(bad.contains("' '"), "{bad}");
    // `$` belongs to built-in names only.
    assert!("Insert$Value".parse::<ModuleRef>().is_err());
}
