//! The one error type of the pipeline layer.

use std::path::PathBuf;

use crate::broker::BrokerError;
use crate::runtime::RuntimeError;

use super::spec::SpecError;

/// Everything the pipeline layer refuses or fails at.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The pipeline spec is malformed; names the field.
    #[error("invalid pipeline spec: {0}")]
    InvalidSpec(#[from] SpecError),
    /// A module name breaks the naming rules.
    #[error("invalid module name: {reason}")]
    InvalidModuleName { reason: String },
    /// The uploaded bytes are not a usable plugin.
    #[error("module {name:?} is not a usable weir plugin: {reason}")]
    InvalidModule { name: String, reason: String },
    /// The upload is larger than the configured cap.
    #[error("module is {size} bytes, larger than the {max}-byte limit")]
    ModuleTooLarge { size: usize, max: usize },
    /// No module of that name (and version).
    #[error("unknown module {name:?}{}", version.map(|v| format!(" version {v}")).unwrap_or_default())]
    UnknownModule { name: String, version: Option<u32> },
    /// The module version is deployed in a pipeline.
    #[error("module {name}@{version} is used by pipeline {pipeline:?}")]
    ModuleInUse {
        name: String,
        version: u32,
        pipeline: String,
    },
    /// A pipeline of that name exists already.
    #[error("pipeline {name:?} already exists")]
    PipelineExists { name: String },
    /// A `group_by`'s repartition topic would be a topic another pipeline uses (its own
    /// repartition topic, or an input or output): two pipelines would share it.
    #[error(
        "the group_by's repartition topic {topic:?} is already {} of pipeline {pipeline:?}: \
         name the step or the pipeline differently",
        if *repartition { "the repartition topic" } else { "an input or output" }
    )]
    RepartitionTopicTaken {
        topic: String,
        pipeline: String,
        repartition: bool,
    },
    /// A `group_by`'s repartition topic exists already as a topic of its own.
    #[error(
        "the group_by's repartition topic {topic:?} already exists as a topic; it must be the \
         pipeline's own: delete the topic, or name the step or the pipeline differently"
    )]
    RepartitionTopicExists { topic: String },
    /// The spec reads or writes another pipeline's repartition topic.
    #[error(
        "topic {topic:?} is pipeline {pipeline:?}'s internal repartition topic; no other \
         pipeline reads or writes it"
    )]
    InternalTopic { topic: String, pipeline: String },
    /// No pipeline of that name.
    #[error("unknown pipeline {name:?}")]
    UnknownPipeline { name: String },
    /// The pipeline has no such step.
    #[error("pipeline {pipeline:?} has no step {step:?} (give its name, index or module name)")]
    UnknownStep { pipeline: String, step: String },
    /// A time range was asked of a step that keeps no windows.
    #[error(
        "step {step:?} of pipeline {pipeline:?} keeps no windows: from and to need a windowed aggregation"
    )]
    NotWindowed { pipeline: String, step: String },
    /// An aggregation step's committed state could not be read.
    #[error("state of step {step} of pipeline {pipeline:?}: {source}")]
    AggregateState {
        pipeline: String,
        step: usize,
        #[source]
        source: crate::streams::StreamsError,
    },
    /// The broker refused or failed.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The Wasm runtime could not start.
    #[error("wasm runtime: {0}")]
    Runtime(#[from] RuntimeError),
    /// The pipeline's tasks would need more Wasm instances than the pool has free.
    #[error(
        "the pipeline needs {needed} Wasm instances (one per Wasm step per input partition) \
         but only {} of the {max} are free; raise [pipelines] max_instances in weir.toml or \
         use fewer partitions or steps",
        max.saturating_sub(*in_use)
    )]
    InstanceLimit {
        /// Instances the deployment needs.
        needed: usize,
        /// Instances other pipelines hold.
        in_use: usize,
        /// The pool's size.
        max: usize,
    },
    /// The playground refused a run.
    #[error(transparent)]
    Playground(#[from] super::playground::PlaygroundError),
    /// The service is shutting down.
    #[error("shutting down")]
    ShuttingDown,
    /// The cluster the pipelines' tasks run on (attached mode) could not answer.
    #[error("cluster: {source}")]
    Cluster {
        /// The cluster layer's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A file of the module store could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The sled store failed.
    #[error("pipeline store: {0}")]
    Store(#[from] sled::Error),
    /// A catalog write lost every retry to concurrent writers on other nodes.
    #[error("{what}: another node kept changing the catalog at the same time; try again")]
    CatalogConflict { what: String },
    /// A record is larger than the catalog stores in one record.
    #[error("{what} is {size} bytes encoded, over the catalog's {max}-byte record limit")]
    CatalogRecordTooLarge {
        what: String,
        size: usize,
        max: usize,
    },
    /// The catalog's backing store (the cluster in attached mode) failed or is not read
    /// up yet.
    #[error("catalog: {0}")]
    CatalogUnavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored value does not decode.
    #[error("pipeline store holds an unreadable value for {what}: {reason}")]
    Corrupt { what: String, reason: String },
}

impl PipelineError {
    /// Wraps an I/O error with what was being done to which file.
    pub fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> PipelineError {
        let path = path.into();
        move |source| PipelineError::Io {
            action,
            path,
            source,
        }
    }
}
