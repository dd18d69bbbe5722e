//! [`ConnectError`], the connect layer's one error type.

use crate::broker::BrokerError;
use crate::pipeline::PipelineError;
use crate::pipeline::task::TaskError;
use crate::runtime::RuntimeError;

use super::chain::TransformFailure;
use super::converter::ConvertError;
use super::transforms::TransformsError;

/// Why one record failed a stage (what `errors.tolerance` decides about).
#[derive(Debug, thiserror::Error)]
pub enum RecordFault {
    /// Its key or value could not be converted.
    #[error(transparent)]
    Convert(#[from] ConvertError),
    /// One of its headers could not be converted.
    #[error("header {key:?}: {source}")]
    Header {
        /// The header's key.
        key: String,
        /// Why.
        #[source]
        source: ConvertError,
    },
    /// The transformation chain failed it.
    #[error(transparent)]
    Transform(#[from] TransformFailure),
    /// The sink plugin reported it cannot deliver it (`sink-context.report`).
    #[error("{0}")]
    Refused(String),
}

impl RecordFault {
    /// The Java exception class Connect names for this fault in the dead-letter headers: a
    /// record the task refused is a ConnectException from the task, a conversion or
    /// transformation failure a DataException.
    pub fn exception_class(&self) -> &'static str {
        match self {
            RecordFault::Refused(_) => "org.apache.kafka.connect.errors.ConnectException",
            RecordFault::Convert(_) | RecordFault::Header { .. } | RecordFault::Transform(_) => {
                "org.apache.kafka.connect.errors.DataException"
            }
        }
    }
}

/// Why a connector operation or task failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No connector has this name.
    #[error("Connector {name} not found")]
    UnknownConnector {
        /// The name asked for.
        name: String,
    },
    /// A connector of this name exists already.
    #[error("Connector {name} already exists")]
    ConnectorExists {
        /// The name.
        name: String,
    },
    /// No task has this id.
    #[error("Task {name}-{task} not found")]
    UnknownTask {
        /// The connector.
        name: String,
        /// The task id asked for.
        task: u32,
    },
    /// The configuration is invalid; one message per problem, each naming its key.
    #[error("Connector configuration is invalid and contains the following {} error(s):\n{}", .errors.len(), .errors.join("\n"))]
    InvalidConfig {
        /// The problems.
        errors: Vec<String>,
    },
    /// The request itself is malformed (not a config problem).
    #[error("{0}")]
    BadRequest(String),
    /// `connector.class` names no installed connector.
    #[error(
        "Failed to find any class that implements Connector and which name matches {class}, available connectors are: {available}"
    )]
    UnknownClass {
        /// The class asked for.
        class: String,
        /// What is installed, comma-separated.
        available: String,
    },
    /// Offsets may only change while the connector is STOPPED (KIP-875).
    #[error(
        "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
    )]
    NotStopped {
        /// The connector.
        name: String,
    },
    /// A plugin could not be loaded or a call into it failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The connector's plugin answered an error.
    #[error("{stage}: {message}")]
    Plugin {
        /// Which call (validate, task-configs, start, poll, put, flush).
        stage: &'static str,
        /// What the plugin said, with its kind.
        message: String,
    },
    /// The plugin was refused a capability its config does not grant.
    #[error("{stage}: denied: {message}")]
    Denied {
        /// Which call.
        stage: &'static str,
        /// What the plugin was refused.
        message: String,
    },
    /// A record could not be converted or transformed.
    #[error("{stage} failed for {what}: {cause}")]
    Record {
        /// Connect's stage name (KEY_CONVERTER, VALUE_CONVERTER, HEADER_CONVERTER, TRANSFORMATION).
        stage: &'static str,
        /// Which record (topic-partition@offset, or the source partition).
        what: String,
        /// Why.
        #[source]
        cause: RecordFault,
    },
    /// The transformation chain is misconfigured or could not be built.
    #[error(transparent)]
    Transforms(#[from] TransformsError),
    /// The broker refused a read, an append or an offset commit.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// Appending a source task's records failed.
    #[error(transparent)]
    Append(#[from] TaskError),
    /// The module registry failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The connectors' store failed.
    #[error("connect store: {0}")]
    Store(#[from] sled::Error),
    /// Something stored could not be read back.
    #[error("connect store: {what} is corrupt: {reason}")]
    Corrupt {
        /// What.
        what: String,
        /// Why.
        reason: String,
    },
    /// A new version of a connector's plugin failed to start or failed its first call; the
    /// old version runs on.
    #[error("Connector {name}: {class} failed and was rolled back: {reason}")]
    SwapRolledBack {
        /// The connector.
        name: String,
        /// The class that was refused.
        class: String,
        /// Why.
        reason: String,
    },
    /// A config change while a hot-swap of the connector is still waited for.
    #[error("Connector {name}: a swap of its plugin is in progress; try again once it has ended")]
    SwapPending {
        /// The connector.
        name: String,
    },
    /// The connector was deleted, restarted or reconfigured while its swap was waited for:
    /// the swap is given up and the connector runs what is stored.
    #[error("Connector {name}: the swap to {class} was abandoned: {reason}")]
    SwapAbandoned {
        /// The connector.
        name: String,
        /// The class it was being swapped to.
        class: String,
        /// What happened meanwhile.
        reason: String,
    },
    /// Starting a connector's tasks would pass a server cap on tasks.
    #[error(
        "{asked} task(s) of connector {name} would pass this server's {key} ({limit}): {running} run already"
    )]
    TaskLimit {
        /// The connector.
        name: String,
        /// The cap's config key (`connect.max_tasks`, `connect.max_tasks_per_connector`).
        key: &'static str,
        /// The cap.
        limit: u32,
        /// Tasks the connector would run.
        asked: u32,
        /// Tasks counted against the cap already.
        running: u32,
    },
    /// The task thread could not be started.
    #[error("starting a task thread: {0}")]
    Thread(#[source] std::io::Error),
}
