//! Pipelines: uploaded modules and the step chains that run them over topics.
//! Joins the broker and the Wasm runtime; knows nothing of HTTP or Kafka.
//!
//! - [`spec`]: the pipeline spec users send, and its structural checks.
//! - [`registry`]: uploaded modules, versioned, durable.
//! - [`error`]: [`PipelineError`], the layer's one error type.
pub mod error;
pub mod registry;
pub mod spec;

pub use error::PipelineError;
pub use registry::{ModuleRegistry, ModuleVersion};
pub use spec::{PipelineSpec, SpecError};
