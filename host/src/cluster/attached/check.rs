//! Which pipelines attached mode runs yet: transforms, filters, processors (timers
//! included), aggregations (`count`, `sum`, `reduce`, `aggregate`, windowed or not) and
//! `to_table` over `inputs`. Joins, `group_by` and named sources are refused with an error
//! naming the step, rather than run without their co-partitioned reads and repartition
//! topics.

use crate::pipeline::PipelineSpec;
use crate::pipeline::chain::{StepCode, StepPlan};
use crate::pipeline::spec::SpecError;

/// Why `spec` cannot run attached, if it cannot.
pub fn check(spec: &PipelineSpec, plans: &[StepPlan]) -> Result<(), SpecError> {
    let refuse = |field: String, reason: &str| SpecError {
        field,
        reason: format!("{reason} (not yet in attached mode: see ARCHITECTURE.md)"),
    };
    if !spec.sources.is_empty() {
        return Err(refuse(
            "sources".into(),
            "named sources are read through tables and global tables",
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
            StepCode::Join { .. } => {
                return Err(refuse(
                    format!("steps[{i}].op"),
                    "a join step reads its inputs co-partitioned",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_group_bys_and_sources_are_refused_by_field() {
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
        let join = crate::streams::Join {
            join_type: crate::streams::JoinType::Inner,
            pair: crate::streams::JoinPair::TableTable,
        };
        let e = check(
            &spec,
            &[
                plan(StepCode::Table),
                plan(StepCode::Join {
                    join,
                    joiner: None,
                    keys: None,
                }),
            ],
        )
        .unwrap_err();
        assert_eq!(e.field, "steps[1].op");
        assert!(e.reason.contains("attached mode"), "{e}");
        let with_source: PipelineSpec = serde_json::from_value(serde_json::json!({
            "name": "p", "sources": {"t": {"topic": "in", "as": "table"}}, "output": "out",
            "steps": [{"module": "m"}]
        }))
        .unwrap();
        assert_eq!(check(&with_source, &[]).unwrap_err().field, "sources");
        assert!(check(&spec, &[]).is_ok());
    }
}
