//! Which pipelines attached mode runs yet: transforms, filters, processors (timers
//! included), aggregations (`count`, `sum`, `reduce`, `aggregate`, windowed or not),
//! `to_table`, `stream` and `table` sources, stream–table (versioned tables included),
//! table–table and windowed stream–stream joins (co-partitioned: the group's `range`
//! assignor gives partition p of every input to one task; their window stores, waiting
//! records and table histories are step or source state, changelogged like any other),
//! `group_by` (each stage a group of its own, `stage.rs`) but for a table source read on
//! both sides of one. `global_table` sources and global-table joins are refused with an
//! error naming the step or source, rather than run without their whole-topic reads.

use crate::pipeline::PipelineSpec;
use crate::pipeline::chain::{StepCode, StepPlan};
use crate::pipeline::spec::{SourceKind, SpecError};
use crate::pipeline::stage::Stage;
use crate::streams::JoinPair;

/// Why `spec` cannot run attached, if it cannot.
pub fn check(spec: &PipelineSpec, plans: &[StepPlan]) -> Result<(), SpecError> {
    let refuse = |field: String, reason: &str| SpecError {
        field,
        reason: format!("{reason} (not yet in attached mode: see ARCHITECTURE.md)"),
    };
    if let Some((name, _)) = spec
        .sources
        .iter()
        .find(|(_, s)| s.kind == SourceKind::GlobalTable)
    {
        return Err(refuse(
            format!("sources.{name}"),
            "a global_table source is read whole by every task",
        ));
    }
    for (i, plan) in plans.iter().enumerate() {
        match &plan.code {
            StepCode::Wasm(_)
            | StepCode::Native(_)
            | StepCode::Aggregate(_)
            | StepCode::ModuleAggregate(..)
            | StepCode::Table
            | StepCode::GroupBy(_) => {}
            StepCode::Join { join, .. } if join.pair == JoinPair::StreamGlobal => {
                return Err(refuse(
                    format!("steps[{i}].op"),
                    "a join with a global_table reads every partition of it in every task",
                ));
            }
            StepCode::Join { .. } => {}
        }
    }
    one_stage_per_table(spec).map_err(|name| {
        refuse(
            format!("sources.{name}"),
            "a table source read by steps on both sides of a group_by would be kept by two \
             stages' tasks in one changelog topic",
        )
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

    #[test]
    fn group_bys_and_global_tables_are_refused_by_field() {
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
        let e = check(
            &spec,
            &[plan(StepCode::Table), plan(join(JoinPair::StreamGlobal))],
        )
        .unwrap_err();
        assert_eq!(e.field, "steps[1].op");
        assert!(e.reason.contains("attached mode"), "{e}");
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
        assert_eq!(check(&global, &[]).unwrap_err().field, "sources.g");
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
