//! What the Kafka and HTTP targets run against: a runtime and a broker in a temp dir
//! with small caps, so that a campaign also meets them. (A create of thousands of
//! partitions within the default caps is slow by design, a directory and files each,
//! not a fault, and the campaign is about what the bytes do.)

use std::path::Path;
use std::sync::Arc;

use weir::broker::{Broker, BrokerConfig, TopicLimits};
use weir::log::FlushPolicy;

/// A two-thread runtime, as a small server has.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A broker on `dir`/data with at most `max_topics` topics of 8 partitions and
/// `max_partitions` partitions in all.
pub fn broker(dir: &Path, max_topics: usize, max_partitions: u64) -> Arc<Broker> {
    Arc::new(
        Broker::open(BrokerConfig {
            data_dir: dir.join("data"),
            flush: FlushPolicy::Os,
            index_interval_bytes: 4096,
            topic_defaults: Default::default(),
            limits: TopicLimits {
                max_topics,
                max_partitions_per_topic: 8,
                max_partitions,
            },
        })
        .expect("open broker"),
    )
}
