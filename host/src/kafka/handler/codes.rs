//! Broker errors as Kafka error codes.

use kafka_protocol::error::ResponseError;

use crate::broker::BrokerError;
use crate::broker::txn::TxnRefusal;
use crate::log::LogError;
use crate::log::batch::BatchError;

/// The Kafka error code for a broker error.
pub fn code(err: &BrokerError) -> i16 {
    kind(err).code()
}

/// The Kafka error for a broker error.
pub fn kind(err: &BrokerError) -> ResponseError {
    match err {
        BrokerError::InvalidTopicName(_)
        | BrokerError::InternalTopic { .. }
        | BrokerError::TopicCollides { .. } => ResponseError::InvalidTopicException,
        BrokerError::InvalidConfig(_) => ResponseError::InvalidConfig,
        BrokerError::TopicExists { .. } => ResponseError::TopicAlreadyExists,
        BrokerError::OffsetMetadataTooLarge { .. } => ResponseError::OffsetMetadataTooLarge,
        // Kafka has no code for it; the message (sent where the API has one) says what
        // to do.
        BrokerError::OrphanExists { .. } | BrokerError::LimitReached { .. } => {
            ResponseError::PolicyViolation
        }
        BrokerError::UnknownOrphan { .. } => ResponseError::UnknownTopicOrPartition,
        BrokerError::UnknownTopic { .. } | BrokerError::UnknownPartition { .. } => {
            ResponseError::UnknownTopicOrPartition
        }
        BrokerError::UnknownGroup { .. } => ResponseError::GroupIdNotFound,
        BrokerError::GroupNotEmpty { .. } => ResponseError::NonEmptyGroup,
        BrokerError::InvalidPartitionCount { .. } => ResponseError::InvalidPartitions,
        BrokerError::InvalidRequest(_) => ResponseError::InvalidRequest,
        BrokerError::Transaction(refusal) => match refusal {
            TxnRefusal::InvalidProducerIdMapping => ResponseError::InvalidProducerIdMapping,
            TxnRefusal::Fenced => ResponseError::ProducerFenced,
            TxnRefusal::InvalidState => ResponseError::InvalidTxnState,
            TxnRefusal::InvalidTimeout => ResponseError::InvalidTransactionTimeout,
            TxnRefusal::Concurrent => ResponseError::ConcurrentTransactions,
            TxnRefusal::TooMany { .. } => ResponseError::PolicyViolation,
            TxnRefusal::UnknownTransactionalId => ResponseError::TransactionalIdNotFound,
        },
        BrokerError::Log { source, .. } => match source {
            // Not retriable, as in Kafka: the consumer reports it to the application,
            // which may seek past the damaged range instead of retrying forever.
            LogError::InvalidBatch(BatchError::CrcMismatch { .. }) | LogError::Damaged { .. } => {
                ResponseError::CorruptMessage
            }
            LogError::InvalidBatch(_) | LogError::KeylessRecord { .. } => {
                ResponseError::InvalidRecord
            }
            LogError::BatchTooLarge { .. } => ResponseError::MessageTooLarge,
            LogError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
            LogError::Deleted => ResponseError::UnknownTopicOrPartition,
            LogError::TimestampTooFarAhead { .. } => ResponseError::InvalidTimestamp,
            LogError::Io { .. } | LogError::Fenced { .. } | LogError::Corrupt { .. } => {
                ResponseError::KafkaStorageError
            }
        },
        BrokerError::Io { .. }
        | BrokerError::Store(_)
        | BrokerError::Corrupt { .. }
        | BrokerError::DataDirInUse { .. } => ResponseError::UnknownServerError,
    }
}

/// The code for a transactional refusal at a request `version`: requests from
/// before KIP-588 (`fenced_since`) learn of fencing as INVALID_PRODUCER_EPOCH.
pub fn txn_code(err: &BrokerError, version: i16, fenced_since: i16) -> i16 {
    match err {
        BrokerError::Transaction(TxnRefusal::Fenced) if version < fenced_since => {
            ResponseError::InvalidProducerEpoch.code()
        }
        other => code(other),
    }
}
