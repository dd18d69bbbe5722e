//! Which pipelines attached mode runs yet: a chain of transforms, filters and processors
//! over `inputs`. Streams steps (aggregations, tables, joins, `group_by`) and named
//! sources are refused with an error naming the step, rather than run without their
//! changelogs and repartition topics.

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
            StepCode::Wasm(_) | StepCode::Native(_) => {}
            StepCode::Aggregate(_)
            | StepCode::ModuleAggregate(..)
            | StepCode::GroupBy(_)
            | StepCode::Table
            | StepCode::Join { .. } => {
                return Err(refuse(
                    format!("steps[{i}].op"),
                    "a Streams step (aggregation, table, join or group_by)",
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
    fn streams_steps_and_sources_are_refused_by_field() {
        let spec: PipelineSpec = serde_json::from_value(serde_json::json!({
            "name": "p", "inputs": ["in"], "output": "out",
            "steps": [{"op": "count"}]
        }))
        .unwrap();
        let plans = vec![StepPlan {
            module: "count".into(),
            version: 1,
            code: StepCode::Table,
            config: Default::default(),
        }];
        let e = check(&spec, &plans).unwrap_err();
        assert_eq!(e.field, "steps[0].op");
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
