//! [`MirrorError`]: why a mirror task failed.

use crate::cluster::ClusterError;

use super::records::DecodeError;

/// Why a mirror task failed (its task shows it as FAILED with this trace).
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// A call to one of the clusters failed.
    #[error("{cluster} cluster: {source}")]
    Cluster {
        /// Which (`source` or `target`, or the alias).
        cluster: String,
        /// Why (boxed: the client's errors are large, and every step returns this).
        #[source]
        source: Box<ClusterError>,
    },
    /// The task's positions could not be stored.
    #[error("storing positions: {0}")]
    Store(#[from] sled::Error),
    /// One record is larger than the task may hold in flight.
    #[error(
        "record {topic}-{partition}@{offset} holds {bytes} bytes, over weir.mirror.max.in.flight.bytes ({limit})"
    )]
    TooLarge {
        /// Its topic.
        topic: String,
        /// Its partition.
        partition: i32,
        /// Its offset.
        offset: i64,
        /// Its bytes.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// The producer answered a different number of deliveries than records sent.
    #[error("the target acknowledged {got} records of {sent}")]
    Deliveries {
        /// Sent.
        sent: usize,
        /// Acknowledged.
        got: usize,
    },
    /// An offset-sync record on the offset-syncs topic is not MM2's.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// A closure naming the cluster a [`ClusterError`] came from.
pub fn on(cluster: &str) -> impl FnOnce(ClusterError) -> MirrorError + '_ {
    move |source| MirrorError::Cluster {
        cluster: cluster.to_string(),
        source: Box::new(source),
    }
}
