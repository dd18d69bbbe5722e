//! A spec resolved into step plans: checked against the broker (co-partitioned inputs) and
//! the registry, its steps loaded (uploaded modules at exact versions, built-ins, native
//! filters, aggregations, joins), and the Wasm instances a deployment needs checked against
//! the pool before anything starts.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::super::chain::{StepCode, StepPlan};
use super::super::error::PipelineError;
use super::super::registry::ModuleVersion;
use super::super::spec::{BUILTIN_PREFIX, Graph, PipelineSpec, Wiring};
use super::super::stage::Stage;
use super::{Pipelines, spec_err};
use crate::runtime::{Plugin, World};
use crate::streams::Op;

impl Pipelines {
    /// Checks a spec against the broker and registry and loads its steps.
    pub(super) fn resolve(
        &self,
        spec: &PipelineSpec,
    ) -> Result<(u32, Arc<Vec<StepPlan>>), PipelineError> {
        spec.check()?;
        let partitions = self.co_partitioned(spec)?;
        let check_out = |field: String, t: &str| match self.partitions_of(t)? {
            Some(_) => Ok(()),
            None => Err(spec_err(field, format!("unknown topic {t:?}"))),
        };
        check_out("output".into(), &spec.output)?;
        for (i, t) in spec.outputs.iter().enumerate() {
            check_out(format!("outputs[{i}]"), t)?;
        }
        if let Some(t) = &spec.dead_letter_topic {
            check_out("dead_letter_topic".into(), t)?;
        }
        let modules: Vec<(String, Option<u32>)> = spec
            .steps
            .iter()
            .map(|s| match &s.module {
                Some(m) => (m.name.clone(), m.version),
                None => (s.op.name().to_string(), Some(BUILTIN_VERSION)),
            })
            .collect();
        let plans = self.load_steps(spec, &modules)?;
        if let Some(external) = &self.config.external {
            external.check(spec, &plans)?;
        }
        let routes = |p: &StepPlan| p.code.is_processor() || p.module.starts_with(BUILTIN_PREFIX);
        if !spec.outputs.is_empty() && !plans.iter().any(routes) {
            return Err(spec_err(
                "outputs",
                "routing to named topics needs a processor or built-in router step; every step \
                 is a transform",
            ));
        }
        Ok((partitions.unwrap_or(1), Arc::new(plans)))
    }

    /// `topic`'s partition count where the tasks read it (the embedded broker, or the
    /// attached cluster); `None`: no such topic.
    fn partitions_of(&self, topic: &str) -> Result<Option<u32>, PipelineError> {
        match &self.config.external {
            Some(external) => external.partitions(topic),
            None => Ok(self.broker.topic(topic).ok().map(|t| t.partition_count())),
        }
    }

    /// The partition count every topic a task reads one partition of shares (a join's
    /// inputs first, so its refusal names both sides' topics).
    pub(super) fn co_partitioned(&self, spec: &PipelineSpec) -> Result<Option<u32>, PipelineError> {
        let count = |field: String, t: &str| match self.partitions_of(t)? {
            Some(n) => Ok(n),
            None => Err(spec_err(field, format!("unknown topic {t:?}"))),
        };
        for (i, t) in spec.inputs.iter().enumerate() {
            count(format!("inputs[{i}]"), t)?;
        }
        for (name, s) in &spec.sources {
            count(format!("sources.{name}.topic"), &s.topic)?;
        }
        let graph = Graph::of(spec)?;
        // A group_by's repartition topic, made at create, gets the first stage's inputs'
        // partition count.
        let repartitions = spec.repartitions();
        let first_inputs = Stage::Upstream.inputs(spec);
        let count = |field: String, t: &str| match repartitions.iter().find(|r| r.topic == t) {
            Some(_) => first_inputs
                .first()
                .map_or(Ok(1), |input| count(String::new(), input)),
            None => count(field, t),
        };
        let internal = |t: &str| {
            if repartitions.iter().any(|r| r.topic == t) {
                "the group_by's repartition topic (partitioned as the pipeline's inputs) "
            } else {
                ""
            }
        };
        for (i, w) in graph.wiring.iter().enumerate() {
            let Wiring::Join { left, right, join } = *w else {
                continue;
            };
            // A global table is read whole by every task: nothing to line up.
            if join.pair == crate::streams::JoinPair::StreamGlobal {
                continue;
            }
            for l in spec.topics_reaching(&graph, left) {
                for r in spec.topics_reaching(&graph, right) {
                    let (m, n) = (count(String::new(), &l)?, count(String::new(), &r)?);
                    if m != n {
                        return Err(spec_err(
                            format!("steps[{i}]"),
                            format!(
                                "the inputs of a join must be co-partitioned: {}{l:?} has {m} partitions, {}{r:?} has {n}",
                                internal(&l),
                                internal(&r),
                            ),
                        ));
                    }
                }
            }
        }
        let topics = spec.read_topics();
        let mut partitions = None;
        for t in &topics {
            let n = count(String::new(), t)?;
            match partitions {
                None => partitions = Some(n),
                Some(m) if m != n => {
                    return Err(spec_err(
                        if spec.sources.is_empty() {
                            "inputs"
                        } else {
                            "sources"
                        },
                        format!(
                            "inputs must be co-partitioned: {:?} has {m} partitions, {t:?} has {n}",
                            topics[0]
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(partitions)
    }

    pub(super) fn load_steps(
        &self,
        spec: &PipelineSpec,
        modules: &[(String, Option<u32>)],
    ) -> Result<Vec<StepPlan>, PipelineError> {
        let mut plans = Vec::with_capacity(modules.len());
        for (i, ((name, version), step)) in modules.iter().zip(&spec.steps).enumerate() {
            let field = format!("steps[{i}].module");
            if step.op.is_aggregation() {
                let mut aggregation = step
                    .aggregate_spec()
                    .build()
                    .map_err(|(f, reason)| spec_err(format!("steps[{i}].{f}"), reason))?;
                if let Some(w) = aggregation.grouping.time()
                    && w.windows_per_record() > i64::from(self.config.max_windows_per_record)
                {
                    return Err(spec_err(
                        format!("steps[{i}].window"),
                        format!(
                            "each record would fall in {} windows (size_ms / advance_ms); \
                             pipelines.max_windows_per_record is {}",
                            w.windows_per_record(),
                            self.config.max_windows_per_record
                        ),
                    ));
                }
                aggregation.max_open_windows = self.config.max_open_windows;
                let changes = spec.aggregates_table(i);
                if changes {
                    aggregation.grouping = crate::streams::Grouping::Changes;
                }
                if !step.op.takes_module() {
                    plans.push(StepPlan {
                        module: step.op.name().to_string(),
                        version: BUILTIN_VERSION,
                        code: StepCode::Aggregate(aggregation),
                        config: BTreeMap::new(),
                    });
                    continue;
                }
                let (module, plugin) = self.load_module(&field, name, *version)?;
                if plugin.world() != World::Aggregator {
                    return Err(spec_err(
                        &field,
                        format!(
                            "{name}@{} is a {} module; \"{}\" needs one of the aggregator world (wit/aggregator.wit)",
                            module.version,
                            plugin.world().name(),
                            step.op.name()
                        ),
                    ));
                }
                if changes {
                    let limits = spec.sandbox_limits();
                    super::table_plan::check_subtract(i, &module, &plugin, step, limits)?;
                }
                plans.push(StepPlan {
                    module: module.name,
                    version: module.version,
                    code: StepCode::ModuleAggregate(aggregation, plugin),
                    config: step.config.clone(),
                });
                continue;
            }
            if step.op == Op::Join
                && let Some(Wiring::Join { join, .. }) = Graph::of(spec)?.wiring.get(i)
            {
                plans.push(self.join_step(i, *join, name, *version, step)?);
                continue;
            }
            let builtin = match step.op {
                Op::ToTable => Some(StepCode::Table),
                _ => None,
            };
            if let Some(code) = builtin {
                plans.push(StepPlan {
                    module: step.op.name().to_string(),
                    version: BUILTIN_VERSION,
                    code,
                    config: BTreeMap::new(),
                });
                continue;
            }
            if let Some(builtin) = name.strip_prefix(BUILTIN_PREFIX) {
                plans.push(self.builtin_step(i, name, builtin, step)?);
                continue;
            }
            if let Some(native) = self.config.natives.get(name) {
                plans.push(StepPlan {
                    module: name.clone(),
                    version: 1,
                    code: StepCode::Native(native.clone()),
                    config: step.config.clone(),
                });
                continue;
            }
            let (module, plugin) = self.load_module(&field, name, *version)?;
            if step.op == Op::GroupBy {
                if plugin.world() != World::KeySelector {
                    return Err(spec_err(
                        &field,
                        format!(
                            "{name}@{} is a {} module; \"group_by\" needs one of the key-selector world (wit/key-selector.wit)",
                            module.version,
                            plugin.world().name(),
                        ),
                    ));
                }
                plans.push(StepPlan {
                    module: module.name,
                    version: module.version,
                    code: StepCode::GroupBy(plugin),
                    config: step.config.clone(),
                });
                continue;
            }
            if !matches!(plugin.world(), World::Transform | World::Processor) {
                return Err(spec_err(
                    &field,
                    format!(
                        "{name}@{} is a{} {} module; a \"map\" step needs a transform or processor",
                        module.version,
                        if plugin.world() == World::Aggregator {
                            "n"
                        } else {
                            ""
                        },
                        plugin.world().name(),
                    ),
                ));
            }
            plans.push(StepPlan {
                module: module.name,
                version: module.version,
                code: StepCode::Wasm(plugin),
                config: step.config.clone(),
            });
        }
        Ok(plans)
    }

    /// Module `name` (at `version`, or the newest) loaded; errors name `field`.
    pub(super) fn load_module(
        &self,
        field: &str,
        name: &str,
        version: Option<u32>,
    ) -> Result<(ModuleVersion, Arc<Plugin>), PipelineError> {
        let module = self.modules.get(name, version).map_err(|e| match e {
            PipelineError::UnknownModule { .. } => spec_err(field, e.to_string()),
            other => other,
        })?;
        let bytes = self.modules.bytes(&module)?;
        let plugin = self.runtime.load(name, &bytes).map_err(|e| {
            if e.is_host_fault() {
                PipelineError::Runtime(e)
            } else {
                spec_err(field, format!("{name}@{}: {e}", module.version))
            }
        })?;
        Ok((module, plugin))
    }

    /// A `builtin:NAME` step: the catalog's plugin, told its type in the config key `type`
    /// when NAME was one of the types it lists.
    pub(super) fn builtin_step(
        &self,
        i: usize,
        module: &str,
        builtin: &str,
        step: &super::super::spec::StepSpec,
    ) -> Result<StepPlan, PipelineError> {
        let resolved = self.plugins.resolve(builtin).ok_or_else(|| {
            let known: Vec<&str> = self
                .plugins
                .list()
                .iter()
                .flat_map(|p| {
                    std::iter::once(p.name.as_str()).chain(p.types.iter().map(String::as_str))
                })
                .collect();
            spec_err(
                format!("steps[{i}].module"),
                format!(
                    "no built-in plugin is called {builtin:?} (built-in: {})",
                    if known.is_empty() {
                        "none installed".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            )
        })?;
        let mut config = step.config.clone();
        if let Some(t) = resolved.type_name {
            match config.get("type") {
                Some(given) if given != t && given != builtin => {
                    return Err(spec_err(
                        format!("steps[{i}].config.type"),
                        format!("is {given:?}, but the module {module:?} runs {t:?}; leave it out"),
                    ));
                }
                _ => {
                    config.insert("type".into(), t.to_string());
                }
            }
        }
        Ok(StepPlan {
            module: module.to_string(),
            version: BUILTIN_VERSION,
            code: StepCode::Wasm(resolved.plugin.plugin.clone()),
            config,
        })
    }

    /// The plans of a stored deployment (exact versions).
    pub(super) fn plans_of(
        &self,
        spec: &PipelineSpec,
        modules: &[(String, u32)],
    ) -> Result<Arc<Vec<StepPlan>>, PipelineError> {
        let modules: Vec<(String, Option<u32>)> =
            modules.iter().map(|(m, v)| (m.clone(), Some(*v))).collect();
        Ok(Arc::new(self.load_steps(spec, &modules)?))
    }

    /// Refuses a deployment whose tasks would need more Wasm instances than the pool has
    /// free (one per Wasm step per task; the pipeline's own current ones count as free,
    /// since a swap frees them before building), so it fails now, clearly, and not later
    /// in its tasks.
    pub(super) fn check_instances(
        &self,
        name: &str,
        partitions: u32,
        plans: &[StepPlan],
    ) -> Result<(), PipelineError> {
        let needed = partitions as usize * wasm_steps(plans);
        let in_use: usize = self
            .handles
            .lock()
            .values()
            .filter(|h| h.name != name)
            .map(|h| {
                // A pipeline that may still roll back holds room for the larger of its two
                // deployments.
                let current = wasm_steps(&h.desired.borrow().plans);
                let previous = h.previous.lock().as_ref().map_or(0, |(_, p)| wasm_steps(p));
                h.tasks.len() * current.max(previous)
            })
            .sum();
        let max = self.config.max_instances as usize;
        if in_use + needed > max {
            return Err(PipelineError::InstanceLimit {
                needed,
                in_use,
                max,
            });
        }
        Ok(())
    }
}

/// The version recorded for a built-in step in a deployment's module list: module
/// versions start at 1, so 0 never names an uploaded module.
pub(super) const BUILTIN_VERSION: u32 = 0;

/// Wasm instances a deployment's task holds: one per module step, and a join's joiner and
/// key selector.
fn wasm_steps(plans: &[StepPlan]) -> usize {
    plans.iter().map(|p| p.code.instances()).sum()
}
