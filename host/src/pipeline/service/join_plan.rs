//! How a `join` step's plan is made: the built-in join of its two inputs, with the
//! joiner module of its `"module"` (the default joiner without one) and the key selector
//! of its `"key_module"` (stream–global_table joins), each checked to be of its world.

use super::super::chain::{StepCode, StepPlan};
use super::super::error::PipelineError;
use super::super::registry::ModuleVersion;
use super::super::spec::StepSpec;
use super::plan::BUILTIN_VERSION;
use super::{Pipelines, spec_err};
use crate::runtime::{Plugin, World};
use crate::streams::Join;

impl Pipelines {
    /// A `join` step's plan: the built-in join with its joiner module (`module`, named
    /// in the deployment as `name`@`version`) and key selector (`key_module`), if any.
    pub(super) fn join_step(
        &self,
        i: usize,
        join: Join,
        name: &str,
        version: Option<u32>,
        step: &StepSpec,
    ) -> Result<StepPlan, PipelineError> {
        let typed = |field: String, module: &ModuleVersion, plugin: &Plugin, world: World| {
            if plugin.world() == world {
                return Ok(());
            }
            Err(spec_err(
                field,
                format!(
                    "{}@{} is a {} module; a join's {} is one of the {} world (wit/{}.wit)",
                    module.name,
                    module.version,
                    plugin.world().name(),
                    if world == World::Joiner {
                        "module"
                    } else {
                        "key_module"
                    },
                    world.name(),
                    world.name(),
                ),
            ))
        };
        // The key selector is loaded as the spec names it (its newest version when the
        // spec names none): the deployment records the joiner's version only.
        let keys = match &step.key_module {
            Some(m) => {
                let field = format!("steps[{i}].key_module");
                let (module, plugin) = self.load_module(&field, &m.name, m.version)?;
                typed(field, &module, &plugin, World::KeySelector)?;
                Some(plugin)
            }
            None => None,
        };
        if step.module.is_none() {
            return Ok(StepPlan {
                module: step.op.name().to_string(),
                version: BUILTIN_VERSION,
                code: StepCode::Join {
                    join,
                    joiner: None,
                    keys,
                },
                config: step.config.clone(),
            });
        }
        let field = format!("steps[{i}].module");
        let (module, plugin) = self.load_module(&field, name, version)?;
        typed(field, &module, &plugin, World::Joiner)?;
        Ok(StepPlan {
            module: module.name,
            version: module.version,
            code: StepCode::Join {
                join,
                joiner: Some(plugin),
                keys,
            },
            config: step.config.clone(),
        })
    }
}
