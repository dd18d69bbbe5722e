//! Which pipelines attached mode runs yet: transforms, filters, processors (timers
//! included), aggregations (`count`, `sum`, `reduce`, `aggregate`, windowed or not),
//! `to_table`, `stream` and `table` sources, stream–table (versioned tables included),
//! table–table and windowed stream–stream joins (co-partitioned: the group's `range`
//! assignor gives partition p of every input to one task; their window stores, waiting
//! records and table histories are step or source state, changelogged like any other).
//! `group_by`, `global_table` sources and global-table joins are refused with an error
//! naming the step or source, rather than run without their repartition topics or
//! whole-topic reads.

use crate::pipeline::PipelineSpec;
use crate::pipeline::chain::{StepCode, StepPlan};
use crate::pipeline::spec::{SourceKind, SpecError};
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
            | StepCode::Table => {}
            StepCode::GroupBy(_) => {
                return Err(refuse(
                    format!("steps[{i}].op"),
                    "a group_by step repartitions through a topic of its own",
                ));
            }
            StepCode::Join { join, .. } if join.pair == JoinPair::StreamGlobal => {
                return Err(refuse(
                    format!("steps[{i}].op"),
                    "a join with a global_table reads every partition of it in every task",
                ));
            }
            StepCode::Join { .. } => {}
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
}
