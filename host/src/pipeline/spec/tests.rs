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
        (
            json!({"op": "reduce"}),
            "steps[0].module: \"reduce\" needs a module",
        ),
        (json!({"op": "fold"}), "unknown variant"),
        (json!({"op": "join"}), "steps[0].left: a join needs both"),
        (
            json!({"op": "count", "key_module": "k"}),
            "steps[0].key_module: only a \"join\" step takes it",
        ),
        (
            json!({"module": "m", "key_module": "k"}),
            "steps[0].key_module: only a \"join\" step takes it",
        ),
        (
            json!({"op": "join", "left": "a", "right": "b", "config": {"x": 1}}),
            "steps[0].config: \"join\" takes config only for a module",
        ),
        (
            json!({"op": "to_table", "module": "m"}),
            "steps[0].module: \"to_table\" is built in",
        ),
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
fn group_by_names_its_repartition_topic_and_is_checked() {
    let spec = |steps: serde_json::Value| {
        parse(json!({"name": "p", "inputs": ["in"], "output": "out", "steps": steps}))
    };
    let named = spec(
        json!([{"name": "by-user", "op": "group_by", "module": "keys"},
                            {"op": "count"}]),
    )
    .unwrap();
    let r = &named.repartitions()[0];
    assert_eq!((r.step, r.topic.as_str()), (0, "p-by-user-repartition"));
    let unnamed = spec(
        json!([{"module": "f"}, {"op": "group_by", "module": "keys"},
                              {"op": "aggregate", "module": "agg"}]),
    )
    .unwrap();
    assert_eq!(unnamed.repartitions()[0].topic, "p-1-repartition");
    assert!(parse(base()).unwrap().repartitions().is_empty());
    // Several group_bys each repartition through a topic of their own.
    let twice = spec(json!([{"op": "group_by", "module": "k"}, {"module": "f"},
        {"name": "again", "op": "group_by", "module": "k"}, {"op": "count"}]))
    .unwrap();
    let topics: Vec<_> = twice
        .repartitions()
        .into_iter()
        .map(|r| (r.step, r.topic))
        .collect();
    assert_eq!(
        topics,
        [
            (0, "p-0-repartition".into()),
            (2, "p-again-repartition".into())
        ]
    );
    let nine: Vec<_> = (0..9)
        .map(|_| json!({"op": "group_by", "module": "k"}))
        .chain([json!({"op": "count"})])
        .collect();
    let err = spec(json!(nine)).unwrap_err();
    assert!(
        err.starts_with("steps[8].op") && err.contains("at most 8"),
        "{err}"
    );
    for (steps, field, why) in [
        (
            json!([{"op": "group_by"}, {"op": "count"}]),
            "steps[0].module",
            "key-selector",
        ),
        (
            json!([{"op": "count"}, {"op": "group_by", "module": "k"}]),
            "steps[1].op",
            "after it",
        ),
        (
            json!([{"op": "group_by", "module": "k", "window": {"type": "tumbling", "size_ms": 5}}, {"op": "count"}]),
            "steps[0].window",
            "aggregation steps",
        ),
        (
            json!([{"op": "aggregate"}]),
            "steps[0].module",
            "aggregator world",
        ),
        (
            json!([{"op": "reduce", "module": "m", "value_format": "long"}]),
            "steps[0].value_format",
            "count and sum",
        ),
    ] {
        let err = spec(steps.clone()).unwrap_err();
        assert!(
            err.starts_with(field) && err.contains(why),
            "{steps}: {err}"
        );
    }
    // The internal topic cannot be an input or output of the pipeline itself.
    let err = parse(
        json!({"name": "p", "inputs": ["in"], "output": "p-0-repartition",
        "steps": [{"op": "group_by", "module": "k"}, {"op": "count"}]}),
    )
    .unwrap_err();
    assert!(err.contains("internal repartition topic"), "{err}");
    // The output is the last step, after the group_bys.
    let err = parse(json!({"name": "p", "inputs": ["in"], "output": "out",
        "steps": [{"name": "x", "op": "group_by", "module": "k"}, {"op": "count"}],
        "output_from": "x"}))
    .unwrap_err();
    assert!(
        err.starts_with("output_from") && err.contains("last step"),
        "{err}"
    );
    // Before a group_by any graph of sources and joins; after it one reading the group_by,
    // its own steps and sources (see regroup_tests.rs).
    let graph = |steps: serde_json::Value| {
        parse(json!({"name": "p", "output": "out",
            "sources": {"orders": {"topic": "o"}, "customers": {"topic": "c", "as": "table"}},
            "steps": steps}))
    };
    graph(
        json!([{"name": "j", "op": "join", "left": "orders", "right": "customers"},
        {"op": "group_by", "module": "k", "input": "j"}, {"op": "count"}]),
    )
    .unwrap();
    let err = graph(
        json!([{"name": "j", "op": "join", "left": "orders", "right": "customers"},
        {"op": "group_by", "module": "k", "input": "j"}, {"op": "count", "input": "j"}]),
    )
    .unwrap_err();
    assert!(
        err.starts_with("steps[2].input") && err.contains("not a step before the group_by"),
        "{err}"
    );
    // A group_by of a table (a source or a to_table step) is aggregated right after it,
    // without a window; that step aggregates the table's changes.
    let spec = graph(
        json!([{"op": "group_by", "module": "k", "input": "customers"},
        {"op": "count"}, {"module": "f"}]),
    )
    .unwrap();
    assert!(spec.aggregates_table(1) && !spec.aggregates_table(2));
    let spec = graph(json!([{"name": "t", "op": "to_table", "input": "orders"},
        {"op": "group_by", "module": "k"}, {"op": "reduce", "module": "r"}]))
    .unwrap();
    assert!(spec.aggregates_table(2));
    let spec = graph(json!([{"op": "group_by", "module": "k", "input": "orders"},
        {"op": "count"}]))
    .unwrap();
    assert!(!spec.aggregates_table(1), "a grouped stream is no table");
    for (next, field, says) in [
        (
            json!({"module": "f"}),
            "steps[1].op",
            "aggregated by the step after it",
        ),
        (
            json!({"op": "count", "window": {"type": "tumbling", "size_ms": 10}}),
            "steps[1].window",
            "no window",
        ),
        (
            json!({"op": "count", "emit": "on_close"}),
            "steps[1].emit",
            "needs a window",
        ),
    ] {
        let err = graph(json!([{"op": "group_by", "module": "k", "input": "customers"}, next]))
            .unwrap_err();
        assert!(err.starts_with(field) && err.contains(says), "{err}");
    }
}

#[test]
fn sources_and_a_step_graph_parse_into_the_wiring_they_name() {
    let v = json!({"name": "p", "output": "out",
        "sources": {"orders": {"topic": "o"}, "customers": {"topic": "c", "as": "table"},
                    "countries": {"topic": "k", "as": "global_table"}},
        "steps": [
            {"name": "latest", "op": "to_table", "input": "orders"},
            {"name": "enriched", "op": "join", "left": "orders", "right": "customers", "type": "left"},
            {"name": "both", "op": "join", "left": "latest", "right": "customers", "type": "outer"},
            {"name": "where", "op": "join", "left": "enriched", "right": "countries"},
            {"name": "pairs", "op": "join", "left": "orders", "right": "enriched",
             "window": {"before_ms": 10, "after_ms": 5}}],
        "output_from": "enriched"});
    let spec = parse(v.clone()).unwrap();
    // Written back as given: a stored spec reads the same.
    let again: PipelineSpec = serde_json::from_value(serde_json::to_value(&spec).unwrap()).unwrap();
    assert_eq!(again, spec);
    // Co-partitioned reads in name order; the global table apart.
    assert_eq!(spec.read_topics(), ["c", "o"]);
    assert_eq!(spec.global_topics(), ["k"]);
    let g = Graph::of(&spec).unwrap();
    assert_eq!(g.output, 1);
    // Sources in name order.
    let (countries, customers, orders) = (Node::Source(0), Node::Source(1), Node::Source(2));
    assert_eq!(g.wiring[0], Wiring::From(orders));
    let pair = |w: &Wiring| match w {
        Wiring::Join { join, .. } => join.pair,
        Wiring::From(_) => panic!("not a join"),
    };
    use crate::streams::JoinPair;
    assert_eq!(pair(&g.wiring[1]), JoinPair::StreamTable);
    assert_eq!(pair(&g.wiring[2]), JoinPair::TableTable);
    assert_eq!(pair(&g.wiring[3]), JoinPair::StreamGlobal);
    assert!(
        matches!(pair(&g.wiring[4]), JoinPair::StreamStream(w) if w.before_ms == 10 && w.after_ms == 5 && w.grace_ms == 0)
    );
    assert_eq!(g.table_slot(&spec, countries), Some(SOURCE_SLOT_BASE));
    assert_eq!(g.table_slot(&spec, customers), Some(SOURCE_SLOT_BASE + 1));
    assert_eq!(g.table_slot(&spec, Node::Step(0)), Some(0));
    assert_eq!(g.table_slot(&spec, orders), None);
    assert_eq!(g.topics_of(&spec, Node::Step(2)), ["o", "c"]);
}

#[test]
fn a_linear_spec_reads_its_inputs_and_feeds_the_last_step() {
    let mut v = base();
    v["steps"] = json!([{"module": "a"}, {"module": "b"}]);
    let spec = parse(v).unwrap();
    let g = Graph::of(&spec).unwrap();
    assert_eq!(
        g.wiring,
        [Wiring::From(Node::Inputs), Wiring::From(Node::Step(0))]
    );
    assert_eq!(g.output, 1);
    assert_eq!(spec.read_topics(), ["in"]);
    // Written back without the new fields: older readers of the store see the same.
    let text = serde_json::to_string(&spec).unwrap();
    assert!(
        !text.contains("sources") && !text.contains("output_from"),
        "{text}"
    );
}

#[test]
fn windows_are_told_apart_and_each_kind_says_what_it_wants() {
    let mut v = base();
    v["steps"] = json!([{"op": "count", "window": {"before_ms": 1, "after_ms": 1}}]);
    let e = parse(v).unwrap_err();
    assert!(
        e.contains("steps[0].window") && e.contains("join window"),
        "{e}"
    );
    let mut v = base();
    v["sources"] = json!({"a": {"topic": "a"}, "b": {"topic": "b"}});
    v["steps"] = json!([{"op": "join", "left": "a", "right": "b", "window": {"before_ms": 1}}]);
    let e = parse(v).unwrap_err();
    assert!(
        e.contains("after_ms") && e.contains("a join window has"),
        "{e}"
    );
    let mut v = base();
    v["steps"] = json!([{"op": "join", "left": "in", "right": "in"}]);
    let e = parse(v).unwrap_err();
    assert!(
        e.contains("steps[0].left") && e.contains("no source or step"),
        "{e}"
    );
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

#[test]
fn a_versioned_table_and_a_join_grace_go_together_or_are_refused_naming_why() {
    let spec = |table: serde_json::Value, step: serde_json::Value| {
        parse(json!({"name": "p", "output": "out",
            "sources": {"s": {"topic": "s"}, "t": table},
            "steps": [step]}))
    };
    let join = json!({"op": "join", "left": "s", "right": "t", "type": "left", "grace_ms": 10});
    let versioned = json!({"topic": "t", "as": "table", "history_retention_ms": 100});
    let ok = spec(versioned.clone(), join.clone()).unwrap();
    let g = Graph::of(&ok).unwrap();
    let Wiring::Join { join: built, .. } = g.wiring[0] else {
        panic!("a join")
    };
    assert!(matches!(
        built.pair,
        crate::streams::JoinPair::StreamVersioned(v)
            if v.grace_ms == Some(10) && v.table.history_ms == 100
    ));
    let refused = |table, step, field: &str, says: &str| {
        let e = spec(table, step).unwrap_err();
        assert!(e.starts_with(field) && e.contains(says), "{e}");
    };
    refused(
        json!({"topic": "t", "as": "table"}),
        join.clone(),
        "steps[0].grace_ms",
        "needs a versioned table",
    );
    refused(
        json!({"topic": "t", "as": "table", "history_retention_ms": 5}),
        join.clone(),
        "steps[0].grace_ms",
        "cannot be longer",
    );
    refused(
        json!({"topic": "t", "history_retention_ms": 5}),
        join.clone(),
        "sources.t.history_retention_ms",
        "only a \"table\" source",
    );
    refused(
        versioned.clone(),
        json!({"op": "to_table", "input": "t"}),
        "steps[0]",
        "only the right side of a stream–table join",
    );
    refused(
        versioned,
        json!({"op": "count", "input": "s", "grace_ms": 1}),
        "steps[0].grace_ms",
        "only a \"join\" step",
    );
}
