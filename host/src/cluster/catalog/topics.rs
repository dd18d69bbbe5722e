//! The catalog's two topics: created if missing (compacted, one partition, the cluster's
//! default replication), checked if present.
//!
//! One partition each: the catalog is small and its writes are rare, and one partition
//! gives every reader the writes in the one order they were committed in. Module bytes go
//! in chunks under the topic's default `max.message.bytes` rather than raising it: a
//! raised topic limit would also need the brokers' `replica.fetch.max.bytes` and
//! `socket.request.max.bytes` and the clients' fetch sizes raised on clusters weir does
//! not administer.

use std::collections::BTreeMap;

use super::super::admin::Admin;
use super::super::error::ClusterError;
use super::config::{MODULES_TOPIC, PIPELINES_TOPIC};

/// Creates the topics that are missing and checks those there.
pub fn ensure(admin: &dyn Admin) -> Result<(), ClusterError> {
    let existing = admin.topics()?;
    for topic in [MODULES_TOPIC, PIPELINES_TOPIC] {
        match existing.iter().find(|t| t.name == topic) {
            Some(t) => check(admin, topic, t.partitions)?,
            None => {
                let configs =
                    BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())]);
                match admin.create_topic(topic, 1, &configs) {
                    // Another node created it meanwhile.
                    Ok(()) | Err(ClusterError::TopicExists { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(())
}

fn check(admin: &dyn Admin, topic: &str, partitions: i32) -> Result<(), ClusterError> {
    if partitions != 1 {
        return Err(ClusterError::CatalogTopic {
            topic: topic.to_string(),
            problem: "needs exactly one partition",
            found: format!("{partitions} partitions"),
        });
    }
    let configs = admin.describe_configs(topic)?;
    let policy = configs.get("cleanup.policy").map_or("", String::as_str);
    if !policy.split(',').any(|p| p.trim() == "compact") {
        return Err(ClusterError::CatalogTopic {
            topic: topic.to_string(),
            problem: "needs cleanup.policy=compact (set on the topic)",
            found: format!("cleanup.policy={policy:?}"),
        });
    }
    Ok(())
}
