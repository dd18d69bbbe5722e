//! Which pipelines attached mode runs: every step and source embedded runs — transforms,
//! filters, processors (timers included), aggregations (`count`, `sum`, `reduce`,
//! `aggregate`, windowed or not), `to_table`, `stream` and `table` sources, stream–table
//! (versioned tables included), table–table and windowed stream–stream joins
//! (co-partitioned: the group's `range` assignor gives partition p of every input to one
//! task; their window stores, waiting records and table histories are step or source
//! state, changelogged like any other), `global_table` sources and stream–global_table
//! joins (read whole by each node: `global.rs`), and `group_by` (each stage a group of its
//! own, `stage.rs`) — but for a table source read on both sides of a `group_by`, refused
//! with an error naming the source.

use crate::pipeline::PipelineSpec;
use crate::pipeline::chain::StepPlan;
use crate::pipeline::spec::{SourceKind, SpecError};
use crate::pipeline::stage::Stage;

/// Why `spec` cannot run attached, if it cannot. `plans` are the steps' resolved code
/// (every kind runs today; kept so a step kind that cannot is refused here by name).
pub fn check(spec: &PipelineSpec, _plans: &[StepPlan]) -> Result<(), SpecError> {
    one_stage_per_table(spec).map_err(|name| SpecError {
        field: format!("sources.{name}"),
        reason: "a table source read by steps on both sides of a group_by would be kept by two \
                 stages' tasks in one changelog topic (not yet in attached mode: see \
                 ARCHITECTURE.md)"
            .into(),
    })
}

/// The name of a table source that two stages' tasks would each keep (they would both
/// write its rows to `<pipeline>-<source>-changelog`, each at its own pace), if any.
fn one_stage_per_table(spec: &PipelineSpec) -> Result<(), String> {
    let stages = Stage::of(spec);
    if stages.len() < 2 {
        return Ok(());
    }
    let mut kept = std::collections::BTreeSet::new();
    for stage in stages {
        for (name, source) in stage.spec(spec).sources {
            let table = source.kind == SourceKind::Table && spec.sources.contains_key(&name);
            if table && !kept.insert(name.clone()) {
                return Err(name);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::chain::StepCode;
    use crate::streams::JoinPair;

    #[test]
    fn every_step_kind_runs() {
        let spec: PipelineSpec = serde_json::from_value(serde_json::json!({
            "name": "p", "inputs": ["in"], "output": "out",
            "steps": [{"op": "count"}, {"op": "to_table"}]
        }))
        .unwrap();
        let plan = |code: StepCode| StepPlan {
            module: "m".into(),
            version: 1,
            code,
            config: Default::default(),
        };
        assert!(
            check(&spec, &[plan(StepCode::Table)]).is_ok(),
            "to_table runs"
        );
        let join = |pair| StepCode::Join {
            join: crate::streams::Join {
                join_type: crate::streams::JoinType::Inner,
                pair,
            },
            joiner: None,
            keys: None,
        };
        assert!(check(&spec, &[plan(join(JoinPair::TableTable))]).is_ok());
        let window = crate::streams::JoinWindowSpec {
            before_ms: 10,
            after_ms: 10,
            grace_ms: 5,
        };
        let windows = window.build().unwrap();
        assert!(
            check(&spec, &[plan(join(JoinPair::StreamStream(windows)))]).is_ok(),
            "windowed stream–stream joins run"
        );
        assert!(
            check(
                &spec,
                &[plan(StepCode::Table), plan(join(JoinPair::StreamGlobal))]
            )
            .is_ok(),
            "global-table joins run"
        );
        let with_source: PipelineSpec = serde_json::from_value(serde_json::json!({
            "name": "p", "sources": {"t": {"topic": "in", "as": "table"}}, "output": "out",
            "steps": [{"module": "m"}]
        }))
        .unwrap();
        assert!(check(&with_source, &[]).is_ok(), "table sources run");
        let global: PipelineSpec = serde_json::from_value(serde_json::json!({
            "name": "p", "sources": {"g": {"topic": "in", "as": "global_table"}},
            "output": "out", "steps": [{"module": "m"}]
        }))
        .unwrap();
        assert!(check(&global, &[]).is_ok(), "global_table sources run");
        assert!(check(&spec, &[]).is_ok());
    }

    #[test]
    fn group_bys_run_but_not_with_a_table_on_both_sides() {
        let spec = |last: serde_json::Value| -> PipelineSpec {
            serde_json::from_value(serde_json::json!({
                "name": "p", "sources": {"s": {"topic": "in", "as": "stream"},
                    "t": {"topic": "t", "as": "table"}}, "output": "out",
                "steps": [{"name": "j", "op": "join", "left": "s", "right": "t"},
                          {"name": "g", "op": "group_by", "module": "k", "input": "j"},
                          last]
            }))
            .unwrap()
        };
        let count = serde_json::json!({"op": "count", "input": "g"});
        let join = serde_json::json!({"op": "join", "left": "g", "right": "t"});
        let plan = |code: StepCode| StepPlan {
            module: "m".into(),
            version: 1,
            code,
            config: Default::default(),
        };
        let table = || plan(StepCode::Table);
        assert!(check(&spec(count), &[table(), table(), table()]).is_ok());
        let e = check(&spec(join), &[table(), table(), table()]).unwrap_err();
        assert_eq!(e.field, "sources.t");
        assert!(e.reason.contains("both sides of a group_by"), "{e}");
    }
}
