//! DescribeLogDirs: the one log directory and the size of each partition in it.

use std::sync::Arc;

use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{
    DescribeLogDirsRequest, DescribeLogDirsResponse, RequestHeader, TopicName,
};

use crate::kafka::{KafkaContext, KafkaError};

use super::{blocking, s};

/// Kafka's "unknown" for a directory's total and usable bytes (v4+): weir
/// does not ask the filesystem.
const UNKNOWN_BYTES: i64 = -1;

/// Every partition asked for (all of them for a null topic list) with its
/// bytes on disk. Unknown topics and partitions are left out, as Kafka does;
/// no replica is behind (offset lag 0) and none is a future replica.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    _h: &RequestHeader,
    req: DescribeLogDirsRequest,
) -> Result<DescribeLogDirsResponse, KafkaError> {
    let result = blocking(ctx, move |ctx| {
        let wanted: Vec<(String, Option<Vec<i32>>)> = match req.topics {
            None => ctx
                .broker
                .topics()
                .iter()
                .map(|t| (t.name().to_string(), None))
                .collect(),
            Some(topics) => topics
                .into_iter()
                .map(|t| (t.topic.to_string(), Some(t.partitions)))
                .collect(),
        };
        let mut dir = DescribeLogDirsResult::default();
        dir.log_dir = s(ctx
            .broker
            .config()
            .data_dir
            .join("log")
            .display()
            .to_string());
        dir.total_bytes = UNKNOWN_BYTES;
        dir.usable_bytes = UNKNOWN_BYTES;
        dir.topics = wanted
            .into_iter()
            .filter_map(|(name, partitions)| {
                let topic = ctx.broker.topic(&name).ok()?;
                let indexes: Vec<i32> =
                    partitions.unwrap_or_else(|| (0..topic.partition_count() as i32).collect());
                let mut t = DescribeLogDirsTopic::default();
                t.partitions = indexes
                    .into_iter()
                    .filter_map(|p| {
                        let log = topic.partition(i64::from(p)).ok()?;
                        let mut out = DescribeLogDirsPartition::default();
                        out.partition_index = p;
                        out.partition_size = log.stats().size_bytes as i64;
                        Some(out)
                    })
                    .collect();
                t.name = TopicName(s(name));
                Some(t)
            })
            .collect();
        dir
    })
    .await?;
    let mut resp = DescribeLogDirsResponse::default();
    resp.results = vec![result];
    Ok(resp)
}
