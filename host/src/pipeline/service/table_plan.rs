//! The plan of a table aggregation (the step after a `group_by` of a table): it
//! aggregates the table's changes, and a module doing its arithmetic must have the
//! `subtract` that takes an updated row's old value out of its group.

use std::sync::Arc;

use super::super::error::PipelineError;
use super::super::registry::ModuleVersion;
use super::super::spec::StepSpec;
use super::spec_err;
use crate::runtime::aggregator::{AggregatorInput, NO_SUBTRACT};
use crate::runtime::{Instance, InstanceConfig, Limits, Plugin};

/// Refuses, naming step `i`, an aggregator module whose `subtract` answers that it has
/// none (what both SDKs answer when no subtract was given): asked once with an empty
/// record at create, not at the first update of a row. Any other answer is the
/// module's own business and passes.
pub(super) fn check_subtract(
    i: usize,
    module: &ModuleVersion,
    plugin: &Arc<Plugin>,
    step: &StepSpec,
    limits: Limits,
) -> Result<(), PipelineError> {
    let Ok(mut instance) = Instance::new(
        plugin.clone(),
        InstanceConfig {
            limits,
            config: step.config.clone(),
            ..InstanceConfig::default()
        },
    ) else {
        // Its tasks will report why it cannot be instantiated.
        return Ok(());
    };
    let probe = AggregatorInput {
        key: b"",
        value: b"",
        timestamp: 0,
    };
    match instance.subtract(probe, b"") {
        Ok(Err(refused)) if refused.message.starts_with(NO_SUBTRACT) => Err(spec_err(
            format!("steps[{i}].module"),
            format!(
                "{}@{}'s aggregator has no subtract, which \"{}\" after a group_by of a table \
                 needs to take an updated row's old value out of its group: name one with \
                 #[aggregator(subtract = ...)] in Rust or weir.aggregator(subtract=...) in Python",
                module.name,
                module.version,
                step.op.name()
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::NO_SUBTRACT;

    /// The phrase the host looks for is what both SDKs answer without a subtractor.
    #[test]
    fn both_sdks_answer_no_subtract_as_the_host_looks_for() {
        let rust = include_str!("../../../../guest-sdk/macros/src/lib.rs");
        assert!(rust.contains(&format!("\"{NO_SUBTRACT}: ")), "Rust SDK");
        let python = include_str!("../../../../guest-sdk/python/src/weir/__init__.py");
        let generic = NO_SUBTRACT.replace("subtract", "{name}");
        assert!(python.contains(&format!("f\"{generic}: ")), "Python SDK");
        assert!(
            python.contains("missing(aggregating.AggregatorError_SubtractFailed, \"subtract\")"),
            "Python SDK"
        );
    }
}
