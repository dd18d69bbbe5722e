//! Which pipelines attached mode runs yet: transforms, filters, processors (timers
//! included), aggregations (`count`, `sum`, `reduce`, `aggregate`, windowed or not),
//! `to_table`, `stream` and `table` sources, stream–table and table–table joins
//! (co-partitioned: the group's `range` assignor gives partition p of every input to one
//! task), `global_table` sources and stream–global_table joins (read whole by each node:
//! `global`). `group_by` and stream–stream and versioned-table joins are refused with an
//! error naming the step, rather than run without their repartition topics, or untried.

use crate::pipeline::PipelineSpec;
use crate::pipeline::chain::{StepCode, StepPlan};
use crate::pipeline::spec::SpecError;
use crate::streams::JoinPair;

/// Why `spec` cannot run attached, if it cannot.
pub fn check(_spec: &PipelineSpec, plans: &[StepPlan]) -> Result<(), SpecError> {
    let refuse = |field: String, reason: &str| SpecError {
        field,
        reason: format!("{reason} (not yet in attached mode: see ARCHITECTURE.md)"),
    };
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
            StepCode::Join { join, .. }
                if matches!(
                    join.pair,
                    JoinPair::StreamStream(_) | JoinPair::StreamVersioned(_)
                ) =>
            {
                return Err(refuse(
                    format!("steps[{i}].op"),
                    "a windowed stream–stream join or a versioned-table join",
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
    fn global_tables_run_and_refusals_name_their_field() {
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
}
