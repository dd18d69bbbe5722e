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
    /// A catalog topic exists but cannot hold the catalog.
    #[error("catalog topic {topic}: {problem} (found {found})")]
    CatalogTopic {
        /// The topic.
        topic: String,
        /// What the catalog needs of it.
        problem: &'static str,
        /// What it has.
        found: String,
    },
    /// The catalog's settings cannot work.
    #[error("catalog settings: {0}")]
    CatalogConfig(&'static str),
    /// The catalog did not read its topics up to their end in time.
    #[error("the catalog did not read {topics} to its end within {waited_ms} ms")]
    CatalogBehind {
        /// The topics it was reading.
        topics: &'static str,
        /// How long it waited.
        waited_ms: u128,
    },
    /// The catalog's cache directory failed.
    #[error("catalog cache {path}: {source}")]
    CatalogCache {
        /// The directory.
        path: std::path::PathBuf,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// The thread that waits on the library's answers could not be set up.
    #[error("starting the client's waiter: {0}")]
    Waiter(#[source] std::io::Error),
}

impl ClusterError {
    /// Whether a group offset commit was refused because the group has members (it became
    /// active since it was seen empty): a reason to leave the group alone this round, not a
    /// failure.
    pub fn is_group_busy(&self) -> bool {
        use rdkafka::types::RDKafkaErrorCode as C;
        let ClusterError::Client { source, .. } = self else {
            return false;
        };
        matches!(
            source.rdkafka_error_code(),
            Some(
                C::UnknownMemberId
                    | C::IllegalGeneration
                    | C::RebalanceInProgress
                    | C::NonEmptyGroup
                    | C::FencedMemberEpoch
                    | C::StaleMemberEpoch
            )
        )
    }
}

impl ClusterError {
    /// Whether a transactional producer failed because a newer one with its
    /// `transactional.id` fenced it (or its transaction was aborted under it): a write the
    /// catalog retries after reading what the newer writer wrote.
    pub fn is_fenced(&self) -> bool {
        use rdkafka::types::RDKafkaErrorCode as C;
        let (ClusterError::Client { source, .. } | ClusterError::Delivery { source, .. }) = self
        else {
            return false;
        };
        matches!(
            source.rdkafka_error_code(),
            Some(
                C::ProducerFenced
                    | C::InvalidProducerEpoch
                    | C::InvalidTransactionalState
                    | C::InvalidProducerIdMapping
                    | C::Fenced
            )
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::error::KafkaError;
    use rdkafka::types::RDKafkaErrorCode;

    #[test]
    fn a_commit_refused_for_members_is_a_busy_group() {
        let commit = |code| ClusterError::Client {
            op: "commit group offsets",
            source: KafkaError::ConsumerCommit(code),
        };
        assert!(commit(RDKafkaErrorCode::UnknownMemberId).is_group_busy());
        assert!(commit(RDKafkaErrorCode::NonEmptyGroup).is_group_busy());
        assert!(!commit(RDKafkaErrorCode::GroupAuthorizationFailed).is_group_busy());
        assert!(!ClusterError::UnknownTopic { topic: "t".into() }.is_group_busy());
    }
}
