//! The one error type of the broker layer.

use crate::log::LogError;

use super::topic_config::ConfigError;
use super::topic_name::TopicNameError;

/// Everything the broker refuses or fails at.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The topic name breaks one of Kafka's rules.
    #[error("invalid topic name: {0}")]
    InvalidTopicName(#[from] TopicNameError),
    /// Names starting with `__` are reserved for the broker.
    #[error("topic name {name:?} starts with \"__\", which is reserved for internal topics")]
    InternalTopic { name: String },
    /// A topic config entry is unknown or invalid.
    #[error(transparent)]
    InvalidConfig(#[from] ConfigError),
    /// A topic of that name exists.
    #[error("topic {name:?} already exists")]
    TopicExists { name: String },
    /// Another topic's name differs only by `.` versus `_`.
    #[error(
        "topic {name:?} collides with existing topic {existing:?} (Kafka treats '.' and '_' as equal)"
    )]
    TopicCollides { name: String, existing: String },
    /// No such topic.
    #[error("unknown topic {name:?}")]
    UnknownTopic { name: String },
    /// The data directory holds an orphaned log directory of this name.
    #[error(
        "the data directory holds the logs of a topic named {name:?} that the metadata does not list (an orphan, e.g. after the metadata was lost or restored from a backup): adopt it (`weir orphans adopt {name}`) or delete it (`weir orphans delete {name}`) first"
    )]
    OrphanExists { name: String },
    /// A committed offset's metadata is over the limit.
    #[error(
        "offset metadata of {size} bytes is over the limit of {max} (Kafka's offset.metadata.max.bytes)"
    )]
    OffsetMetadataTooLarge { size: usize, max: usize },
    /// A cap on topics or partitions would be crossed.
    #[error("{what}: the broker takes at most {limit} ({key} in weir.toml)")]
    LimitReached {
        what: String,
        limit: u64,
        key: &'static str,
    },
    /// No orphaned log directory of this name.
    #[error("no orphaned log directory named {name:?} (see `weir orphans list`)")]
    UnknownOrphan { name: String },
    /// The topic has fewer partitions.
    #[error("topic {topic:?} has no partition {partition} (it has {count})")]
    UnknownPartition {
        topic: String,
        partition: i64,
        count: u32,
    },
    /// No offsets were ever committed for the group.
    #[error("unknown consumer group {group:?}")]
    UnknownGroup { group: String },
    /// The group has members, so it cannot be deleted or have its offsets reset.
    #[error("consumer group {group:?} has members; stop them before {action}")]
    GroupNotEmpty {
        group: String,
        /// What was refused: "deleting it", "resetting its offsets".
        action: &'static str,
    },
    /// A partition count that is zero, too large, or not an increase.
    #[error("invalid partition count: {reason}")]
    InvalidPartitionCount { reason: String },
    /// Some other part of a request makes no sense.
    #[error("{0}")]
    InvalidRequest(String),
    /// The partition log failed or refused.
    #[error("{topic}-{partition}: {source}")]
    Log {
        topic: String,
        partition: u32,
        #[source]
        source: LogError,
    },
    /// A topic's directory could not be created or removed.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the data directory (sled's file lock).
    #[error("data directory {dir} is in use by another process (is another weir serving it?)")]
    DataDirInUse { dir: std::path::PathBuf },
    /// A transactional request refused by the transaction coordinator.
    #[error(transparent)]
    Transaction(#[from] super::txn::TxnRefusal),
    /// The sled metadata store failed.
    #[error("metadata store: {0}")]
    Store(#[from] sled::Error),
    /// A stored metadata value does not decode (corruption or a newer weir).
    #[error("metadata store holds an unreadable value for {what}: {reason}")]
    Corrupt { what: String, reason: String },
}

impl BrokerError {
    /// Wraps a log error with the partition it happened on.
    pub fn log(topic: &str, partition: u32) -> impl FnOnce(LogError) -> BrokerError + '_ {
        move |source| BrokerError::Log {
            topic: topic.to_string(),
            partition,
            source,
        }
    }
}

/// `text` as a client may see it: paths under `data_dir` named relative to it
/// (`log/<topic>/<partition>/<segment>`), the directory itself as "the data
/// directory". Clients learn what is wrong and where in weir's terms, not the
/// server's filesystem layout; the operator's logs keep the full paths.
pub fn relative_to(data_dir: &std::path::Path, text: &str) -> String {
    let mut out = text.to_string();
    let mut forms = vec![data_dir.to_path_buf()];
    if let Ok(canonical) = data_dir.canonicalize() {
        forms.push(canonical);
    }
    for dir in forms {
        let dir = dir.display().to_string();
        let dir = dir.trim_end_matches('/');
        if dir.is_empty() {
            continue;
        }
        out = out
            .replace(&format!("{dir}/"), "")
            .replace(dir, "the data directory");
    }
    out
}
