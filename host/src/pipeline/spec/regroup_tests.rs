//! Steps after a `group_by`: what they may read, the runs of `group_by`s that end one
//! stage together, and each stage's view of the spec.

use serde_json::json;

use super::*;

fn parse(v: serde_json::Value) -> Result<PipelineSpec, String> {
    let spec: PipelineSpec = serde_json::from_value(v).map_err(|e| e.to_string())?;
    spec.check().map_err(|e| e.to_string())?;
    Ok(spec)
}

/// Clicks re-keyed, then joined with a users table and a countries global table.
fn rekeyed_join() -> serde_json::Value {
    json!({"name": "p", "output": "out",
        "sources": {"clicks": {"topic": "c"}, "users": {"topic": "u", "as": "table"},
                    "countries": {"topic": "k", "as": "global_table"},
                    "audit": {"topic": "a"}},
        "steps": [{"name": "by-user", "op": "group_by", "module": "k", "input": "clicks"},
                  {"name": "j", "op": "join", "left": "by-user", "right": "users"},
                  {"op": "join", "left": "j", "right": "countries", "key_module": "k"},
                  {"op": "count"}]})
}

#[test]
fn a_step_after_a_group_by_joins_sources_and_each_stage_reads_its_own() {
    let spec = parse(rekeyed_join()).unwrap();
    let bounds = spec.boundaries();
    assert_eq!(bounds.len(), 1);
    let up = spec.stage_spec(None, bounds.first());
    // The first stage reads the clicks and the source no step names; not the tables only
    // the later stage joins.
    assert_eq!(up.read_topics(), ["a", "c"]);
    assert!(up.global_topics().is_empty());
    assert_eq!(up.output, "p-by-user-repartition");
    assert_eq!(up.steps.len(), 1);
    let down = spec.stage_spec(bounds.first(), None);
    // The repartition topic as a stream source named after the group_by, with the table.
    assert_eq!(down.read_topics(), ["p-by-user-repartition", "u"]);
    assert_eq!(down.global_topics(), ["k"]);
    assert!(down.inputs.is_empty());
    assert_eq!(down.output, "out");
    let g = Graph::of(&down).unwrap();
    let by_user = g.sources.iter().position(|s| s.name == "by-user").unwrap();
    assert!(matches!(g.wiring[0], Wiring::Join { left: Node::Source(s), .. } if s == by_user));
    // Co-partitioning is checked against the repartition topic.
    let whole = Graph::of(&spec).unwrap();
    assert_eq!(
        spec.topics_reaching(&whole, Node::Step(1)),
        ["p-by-user-repartition", "u"]
    );
}

#[test]
fn an_unnamed_group_by_is_read_as_the_stage_inputs() {
    let spec = parse(json!({"name": "p", "inputs": ["in"], "output": "out",
        "sources": {"users": {"topic": "u", "as": "table"}},
        "steps": [{"op": "group_by", "module": "k"},
                  {"op": "join", "left": "x", "right": "users"}]}));
    // A join names its sides: an unnamed group_by cannot be one.
    assert!(
        spec.unwrap_err()
            .contains("no source or step is named \"x\"")
    );
    let spec = parse(json!({"name": "p", "inputs": ["in"], "output": "out",
        "sources": {"users": {"topic": "u", "as": "table"}},
        "steps": [{"op": "group_by", "module": "k"}, {"name": "t", "op": "to_table"},
                  {"op": "join", "left": "t", "right": "users"}]}))
    .unwrap();
    let bounds = spec.boundaries();
    let down = spec.stage_spec(bounds.first(), None);
    assert_eq!(down.inputs, ["p-0-repartition"]);
    assert_eq!(down.read_topics(), ["p-0-repartition", "u"]);
    assert_eq!(
        Graph::of(&down).unwrap().wiring[0],
        Wiring::From(Node::Inputs)
    );
    let up = spec.stage_spec(None, bounds.first());
    assert_eq!(up.read_topics(), ["in"]);
}

#[test]
fn two_group_bys_of_different_sources_end_one_stage_and_a_join_reads_both() {
    let spec = parse(json!({"name": "p", "output": "out",
        "sources": {"l": {"topic": "lt"}, "r": {"topic": "rt"}},
        "steps": [{"name": "a", "op": "group_by", "module": "k", "input": "l"},
                  {"name": "b", "op": "group_by", "module": "k", "input": "r"},
                  {"op": "join", "left": "a", "right": "b",
                   "window": {"before_ms": 10, "after_ms": 10}}]}))
    .unwrap();
    let bounds = spec.boundaries();
    assert_eq!(bounds.len(), 1, "one run: {bounds:?}");
    assert_eq!(bounds[0].group_bys.len(), 2);
    let up = spec.stage_spec(None, bounds.first());
    assert_eq!(up.steps.len(), 2);
    assert_eq!(up.read_topics(), ["lt", "rt"]);
    assert_eq!(up.output, "p-b-repartition");
    assert_eq!(up.outputs, ["p-a-repartition"]);
    let g = Graph::of(&up).unwrap();
    assert_eq!(
        up.routed_group_by(0, g.output).as_deref(),
        Some("p-a-repartition")
    );
    assert_eq!(up.routed_group_by(1, g.output), None);
    let down = spec.stage_spec(bounds.first(), None);
    assert_eq!(down.read_topics(), ["p-a-repartition", "p-b-repartition"]);
    // A group_by reading the one before it starts a stage of its own (today's chains).
    let chained = parse(json!({"name": "p", "inputs": ["in"], "output": "out",
        "steps": [{"name": "a", "op": "group_by", "module": "k"},
                  {"name": "b", "op": "group_by", "module": "k"}, {"op": "count"}]}))
    .unwrap();
    assert_eq!(chained.boundaries().len(), 2);
}

#[test]
fn steps_after_a_group_by_cannot_read_what_has_the_old_key() {
    // A group_by nothing after it reads.
    let err = parse(json!({"name": "p", "output": "out",
        "sources": {"l": {"topic": "lt"}, "r": {"topic": "rt"}},
        "steps": [{"name": "a", "op": "group_by", "module": "k", "input": "l"},
                  {"name": "b", "op": "group_by", "module": "k", "input": "r"},
                  {"op": "count"}]}))
    .unwrap_err();
    assert!(
        err.starts_with("steps[0]") && err.contains("no step after this \"group_by\" reads"),
        "{err}"
    );
    // A step before the group_by, or a group_by two stages back.
    let err = parse(json!({"name": "p", "inputs": ["in"], "output": "out",
        "steps": [{"name": "m", "module": "f"}, {"name": "a", "op": "group_by", "module": "k"},
                  {"name": "b", "op": "group_by", "module": "k"},
                  {"op": "join", "left": "a", "right": "b",
                   "window": {"before_ms": 1, "after_ms": 1}}]}))
    .unwrap_err();
    assert!(
        err.starts_with("steps[3].input") && err.contains("not a step before"),
        "{err}"
    );
}

#[test]
fn a_run_of_group_bys_makes_two_stages_whose_views_route_and_read_both_topics() {
    use crate::pipeline::stage::Stage;
    let spec = parse(json!({"name": "p", "output": "out",
        "sources": {"l": {"topic": "lt"}, "r": {"topic": "rt"}},
        "steps": [{"name": "a", "op": "group_by", "module": "k", "input": "l"},
                  {"name": "b", "op": "group_by", "module": "k", "input": "r"},
                  {"op": "join", "left": "a", "right": "b",
                   "window": {"before_ms": 10, "after_ms": 10}}]}))
    .unwrap();
    assert_eq!(Stage::of(&spec), [Stage::Upstream, Stage::Downstream]);
    assert_eq!(
        Stage::of_step(&spec, 1),
        Stage::Whole,
        "both group_bys run upstream"
    );
    assert_eq!(Stage::of_step(&spec, 2), Stage::Downstream);
    assert_eq!(Stage::Downstream.first_step(&spec), 2);
    assert_eq!(
        Stage::Downstream.inputs(&spec),
        ["p-a-repartition", "p-b-repartition"]
    );
    assert_eq!(Stage::Upstream.inputs(&spec), ["lt", "rt"]);
    assert!(Stage::Downstream.globals(&spec).is_empty());
}

/// KIP-962: a `group_by` passes null new keys on when a left join with a table (or any
/// stream–global_table join) or a side a window join keeps (left: its left side; outer:
/// both) reads it, and drops them before an inner join or an aggregation; the stage's view
/// carries the rule to the `group_by`.
#[test]
fn a_group_by_keeps_null_new_keys_only_for_the_joins_that_take_them() {
    let with = |right: &str, join_type: &str, extra: serde_json::Value| {
        let mut join = json!({"op": "join", "left": "by-user", "right": right, "type": join_type});
        for (k, v) in extra.as_object().unwrap() {
            join[k] = v.clone();
        }
        parse(json!({"name": "p", "output": "out",
            "sources": {"clicks": {"topic": "c"}, "users": {"topic": "u", "as": "table"},
                        "views": {"topic": "v"},
                        "countries": {"topic": "k", "as": "global_table"}},
            "steps": [{"name": "by-user", "op": "group_by", "module": "k", "input": "clicks"},
                      join]}))
        .unwrap()
    };
    let window = json!({"window": {"before_ms": 10, "after_ms": 10}});
    let cases = [
        (with("users", "left", json!({})), true),
        (with("users", "inner", json!({})), false),
        (with("countries", "inner", json!({"key_module": "k"})), true),
        (with("countries", "left", json!({"key_module": "k"})), true),
        (with("views", "inner", window.clone()), false),
        (with("views", "left", window.clone()), true),
        (with("views", "outer", window.clone()), true),
    ];
    // The right side of a window join: only an outer join keeps it.
    let right_of = |join_type: &str| {
        parse(json!({"name": "p", "output": "out",
            "sources": {"clicks": {"topic": "c"}, "views": {"topic": "v"}},
            "steps": [{"name": "by-user", "op": "group_by", "module": "k", "input": "views"},
                      {"op": "join", "left": "clicks", "right": "by-user", "type": join_type,
                       "window": {"before_ms": 10, "after_ms": 10}}]}))
        .unwrap()
    };
    for (join_type, keeps) in [("inner", false), ("left", false), ("outer", true)] {
        let spec = right_of(join_type);
        let g = Graph::of(&spec).unwrap();
        assert_eq!(
            spec.keeps_null_keys(&g, 0),
            keeps,
            "right side, {join_type}"
        );
    }
    for (spec, keeps) in cases {
        let g = Graph::of(&spec).unwrap();
        assert_eq!(spec.keeps_null_keys(&g, 0), keeps, "{:?}", spec.steps[1]);
        let bounds = spec.boundaries();
        let up = spec.stage_spec(None, bounds.first());
        assert_eq!(up.steps[0].keeps_null_keys, keeps);
        // Parsed specs, and the later stage's view, never carry it.
        assert!(!spec.steps[0].keeps_null_keys);
        let down = spec.stage_spec(bounds.first(), None);
        assert!(down.steps.iter().all(|s| !s.keeps_null_keys));
    }
    let count = parse(json!({"name": "p", "inputs": ["in"], "output": "out",
        "steps": [{"name": "g", "op": "group_by", "module": "k"}, {"op": "count", "input": "g"}]}))
    .unwrap();
    let g = Graph::of(&count).unwrap();
    assert!(!count.keeps_null_keys(&g, 0));
}
