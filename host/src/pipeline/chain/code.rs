//! What a step runs: [`StepCode`] (a Wasm component, a native filter, or a built-in
//! operator of the streams layer) and [`StepPlan`], the loaded module version and its config.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::log::batch::Record;
use crate::runtime::Plugin;
use crate::streams::{Aggregation, Join};

/// A filter compiled into the host, run as a step in place of a Wasm module. Used by the
/// pipeline benchmark to compare a Wasm step with native Rust in the same pipeline.
pub trait NativeFilter: Send + Sync + std::fmt::Debug {
    /// Whether to keep `record`, given the step's config.
    fn keep(&self, record: &Record, config: &BTreeMap<String, String>) -> bool;
}

/// The code a step runs.
#[derive(Debug, Clone)]
pub enum StepCode {
    /// A loaded Wasm component.
    Wasm(Arc<Plugin>),
    /// A native filter given to the service in its config.
    Native(Arc<dyn NativeFilter>),
    /// A built-in aggregation (`count`, `sum`) of the streams layer.
    Aggregate(Aggregation),
    /// An aggregation of the streams layer whose arithmetic is a module's (`reduce`,
    /// `aggregate`: a component of the aggregator world).
    ModuleAggregate(Aggregation, Arc<Plugin>),
    /// A `group_by`: a key-selector component's new key for each record.
    GroupBy(Arc<Plugin>),
    /// A `to_table` step.
    Table,
    /// A `join` step, with its joiner module (`None`: the default joiner) and, for a
    /// stream–global_table join, its key-selector module.
    Join {
        /// The join of its inputs.
        join: Join,
        /// The joiner (`"module"`).
        joiner: Option<Arc<Plugin>>,
        /// The key selector (`"key_module"`).
        keys: Option<Arc<Plugin>>,
    },
}

impl StepCode {
    /// The WIT world it implements (`native` for native filters).
    pub fn world(&self) -> &'static str {
        match self {
            StepCode::Wasm(p) => p.world().name(),
            StepCode::Native(_) => "native",
            StepCode::Join {
                joiner: Some(p), ..
            } => p.world().name(),
            StepCode::Aggregate(_) | StepCode::Table | StepCode::Join { .. } => "streams",
            StepCode::ModuleAggregate(_, p) | StepCode::GroupBy(p) => p.world().name(),
        }
    }

    /// Whether what it emits depends on where a batch ends (see
    /// [`Aggregation::batch_sensitive`]).
    pub fn batch_sensitive(&self) -> bool {
        match self {
            StepCode::Aggregate(a) | StepCode::ModuleAggregate(a, _) => a.batch_sensitive(),
            StepCode::Wasm(_)
            | StepCode::Native(_)
            | StepCode::GroupBy(_)
            | StepCode::Table
            | StepCode::Join { .. } => false,
        }
    }

    /// How many Wasm instances each task holds for it.
    pub fn instances(&self) -> usize {
        match self {
            StepCode::Wasm(_) | StepCode::ModuleAggregate(..) | StepCode::GroupBy(_) => 1,
            StepCode::Join { joiner, keys, .. } => {
                usize::from(joiner.is_some()) + usize::from(keys.is_some())
            }
            StepCode::Native(_) | StepCode::Aggregate(_) | StepCode::Table => 0,
        }
    }

    /// Whether it is a stateful processor.
    pub fn is_processor(&self) -> bool {
        matches!(self, StepCode::Wasm(p) if p.world() == crate::runtime::World::Processor)
    }
}

/// What one step runs: a loaded module version and its config.
#[derive(Debug, Clone)]
pub struct StepPlan {
    /// Module name.
    pub module: String,
    /// Module version.
    pub version: u32,
    /// The loaded code.
    pub code: StepCode,
    /// Config handed to the plugin.
    pub config: BTreeMap<String, String>,
}
