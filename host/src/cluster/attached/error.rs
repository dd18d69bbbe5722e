//! [`AttachedError`]: why an attached pipeline's member stopped (it starts again after a
//! pause), or why the node could not start.

use std::path::PathBuf;

use crate::cluster::ClusterError;
use crate::pipeline::chain::StepError;

/// What went wrong in attached mode.
#[derive(Debug, thiserror::Error)]
pub enum AttachedError {
    /// A call to the cluster failed.
    #[error("cluster: {0}")]
    Cluster(#[from] ClusterError),
    /// The node's local state cache (sled) failed.
    #[error("state cache: {0}")]
    State(#[from] sled::Error),
    /// A step chain did not build.
    #[error("partition {partition}: {source}")]
    Build {
        /// The task's partition.
        partition: i32,
        /// Why.
        #[source]
        source: StepError,
    },
    /// A changelog topic exists with another partition count than the inputs.
    #[error(
        "changelog topic {topic:?} has {found} partitions but the inputs have {want}: delete it, or give the step another name"
    )]
    ChangelogPartitions {
        /// The topic.
        topic: String,
        /// Its partitions.
        found: i32,
        /// The inputs'.
        want: i32,
    },
    /// A `group_by`'s repartition topic exists with another partition count than the
    /// inputs.
    #[error(
        "repartition topic {topic:?} has {found} partitions but the inputs have {want}: delete it, or give the group_by step another name"
    )]
    RepartitionPartitions {
        /// The topic.
        topic: String,
        /// Its partitions.
        found: i32,
        /// The inputs'.
        want: i32,
    },
    /// An input topic is missing on the cluster.
    #[error("input topic {topic:?} does not exist on the cluster")]
    NoInput {
        /// The topic.
        topic: String,
    },
    /// A changelog restore did not reach the end in time.
    #[error("restoring {topic:?} partition {partition}: reached {at} of {end} before the deadline")]
    RestoreStalled {
        /// The changelog topic.
        topic: String,
        /// Its partition.
        partition: i32,
        /// Where the restore got to.
        at: i64,
        /// Where it had to get to.
        end: i64,
    },
    /// A global table's records could not be applied to its rows.
    #[error("global table of {topic:?}: {source}")]
    Global {
        /// The global table's topic.
        topic: String,
        /// Why.
        #[source]
        source: crate::streams::StreamsError,
    },
    /// A global table did not reach its topic's end in time.
    #[error(
        "reading global table topic {topic:?} partition {partition}: reached {at} of {end} before the deadline"
    )]
    GlobalStalled {
        /// The global table's topic.
        topic: String,
        /// Its partition.
        partition: i32,
        /// Where the read got to.
        at: i64,
        /// Where it had to get to.
        end: i64,
    },
    /// The node's id file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}
