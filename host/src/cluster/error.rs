//! [`ClusterError`], the cluster layer's one error type.

/// Why a call to another cluster failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A client property is missing or wrong.
    #[error("client property {key}: {message}")]
    Property {
        /// The property.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The client library refused or failed an operation.
    #[error("{op}: {source}")]
    Client {
        /// The operation (`create consumer`, `poll`, `create topics`, ...).
        op: &'static str,
        /// The library's error.
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// The cluster answered one resource of a request with an error.
    #[error("{op} {resource}: {code}")]
    Refused {
        /// The operation.
        op: &'static str,
        /// The topic or group it was about.
        resource: String,
        /// The cluster's error code, as the library names it.
        code: String,
    },
    /// A topic to create exists already.
    #[error("topic {topic} already exists")]
    TopicExists {
        /// The topic.
        topic: String,
    },
    /// A topic the call needs does not exist.
    #[error("unknown topic {topic}")]
    UnknownTopic {
        /// The topic.
        topic: String,
    },
    /// A record could not be delivered.
    #[error("delivering to {topic}: {source}")]
    Delivery {
        /// The topic.
        topic: String,
        /// The library's error.
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// A transactional producer was handed group metadata another client made.
    #[error("send offsets to transaction: the group metadata is not from this client")]
    ForeignGroupMetadata,
    /// The thread that waits on the library's answers could not be set up.
    #[error("starting the client's waiter: {0}")]
    Waiter(#[source] std::io::Error),
}
