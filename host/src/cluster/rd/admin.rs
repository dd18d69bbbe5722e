//! [`RdAdmin`]: the [`Admin`] trait on librdkafka's `AdminClient`, plus a consumer per group
//! for committed offsets (the `rdkafka` crate has no ListConsumerGroupOffsets; an OffsetFetch
//! and an OffsetCommit outside the group do the same).

use std::collections::BTreeMap;

use rdkafka::ClientConfig;
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, NewPartitions, NewTopic, ResourceSpecifier,
    TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::Consumer as _;
use rdkafka::types::RDKafkaErrorCode;

use super::super::admin::{Admin, GroupInfo, MemberInfo, TopicInfo};
use super::super::consumer::{Consumer, TopicOffset};
use super::super::error::ClusterError;
use super::consumer::RdConsumer;
use super::{CALL_TIMEOUT, client, wait};

/// Admin calls on librdkafka.
pub struct RdAdmin {
    inner: AdminClient<DefaultClientContext>,
    config: ClientConfig,
}

impl RdAdmin {
    /// An admin client with `config`'s connection.
    pub fn new(config: ClientConfig) -> Result<RdAdmin, ClusterError> {
        Ok(RdAdmin {
            inner: config.create().map_err(client("create admin client"))?,
            config,
        })
    }

    fn options() -> AdminOptions {
        AdminOptions::new().request_timeout(Some(CALL_TIMEOUT))
    }

    fn refused(op: &'static str, resource: &str, code: RDKafkaErrorCode) -> ClusterError {
        ClusterError::Refused {
            op,
            resource: resource.to_string(),
            code: format!("{code:?}"),
        }
    }
}

impl Admin for RdAdmin {
    fn topics(&self) -> Result<Vec<TopicInfo>, ClusterError> {
        let md = self
            .inner
            .inner()
            .fetch_metadata(None, CALL_TIMEOUT)
            .map_err(client("metadata"))?;
        Ok(md
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| TopicInfo {
                name: t.name().to_string(),
                partitions: t.partitions().len() as i32,
            })
            .collect())
    }

    fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: &BTreeMap<String, String>,
    ) -> Result<(), ClusterError> {
        let mut t = NewTopic::new(name, partitions, TopicReplication::Fixed(-1));
        for (k, v) in configs {
            t = t.set(k, v);
        }
        let f = self.inner.create_topics([&t], &Self::options());
        let results = wait("create topics", f, CALL_TIMEOUT)?.map_err(client("create topics"))?;
        for r in results {
            match r {
                Ok(_) => {}
                Err((topic, RDKafkaErrorCode::TopicAlreadyExists)) => {
                    return Err(ClusterError::TopicExists { topic });
                }
                Err((topic, code)) => return Err(Self::refused("create topic", &topic, code)),
            }
        }
        Ok(())
    }

    fn create_partitions(&self, name: &str, total: i32) -> Result<(), ClusterError> {
        let p = NewPartitions::new(name, total as usize);
        let f = self.inner.create_partitions([&p], &Self::options());
        let results =
            wait("create partitions", f, CALL_TIMEOUT)?.map_err(client("create partitions"))?;
        for r in results {
            if let Err((topic, code)) = r {
                return Err(Self::refused("create partitions", &topic, code));
            }
        }
        Ok(())
    }

    fn describe_configs(&self, name: &str) -> Result<BTreeMap<String, String>, ClusterError> {
        let spec = ResourceSpecifier::Topic(name);
        let f = self.inner.describe_configs([&spec], &Self::options());
        let results =
            wait("describe configs", f, CALL_TIMEOUT)?.map_err(client("describe configs"))?;
        let mut out = BTreeMap::new();
        for r in results {
            let res = match r {
                Ok(res) => res,
                Err(RDKafkaErrorCode::UnknownTopicOrPartition) => {
                    return Err(ClusterError::UnknownTopic {
                        topic: name.to_string(),
                    });
                }
                Err(code) => return Err(Self::refused("describe configs", name, code)),
            };
            for e in res.entries {
                if !e.is_default
                    && !e.is_sensitive
                    && e.source == rdkafka::admin::ConfigSource::DynamicTopic
                    && let Some(v) = e.value
                {
                    out.insert(e.name, v);
                }
            }
        }
        Ok(out)
    }

    fn alter_configs(
        &self,
        name: &str,
        configs: &BTreeMap<String, String>,
    ) -> Result<(), ClusterError> {
        let mut alter = AlterConfig::new(ResourceSpecifier::Topic(name));
        for (k, v) in configs {
            alter = alter.set(k, v);
        }
        let f = self.inner.alter_configs([&alter], &Self::options());
        let results = wait("alter configs", f, CALL_TIMEOUT)?.map_err(client("alter configs"))?;
        for r in results {
            if let Err((_, code)) = r {
                return Err(Self::refused("alter configs", name, code));
            }
        }
        Ok(())
    }

    fn watermarks(&self, topic: &str, partition: i32) -> Result<(i64, i64), ClusterError> {
        self.inner
            .inner()
            .fetch_watermarks(topic, partition, CALL_TIMEOUT)
            .map_err(client("list offsets"))
    }

    fn groups(&self) -> Result<Vec<GroupInfo>, ClusterError> {
        let list = self
            .inner
            .inner()
            .fetch_group_list(None, CALL_TIMEOUT)
            .map_err(client("list groups"))?;
        Ok(list
            .groups()
            .iter()
            .map(|g| GroupInfo {
                name: g.name().to_string(),
                state: g.state().to_string(),
                members: g.members().len(),
            })
            .collect())
    }

    fn group_members(&self, group: &str) -> Result<Vec<MemberInfo>, ClusterError> {
        let list = self
            .inner
            .inner()
            .fetch_group_list(Some(group), CALL_TIMEOUT)
            .map_err(client("describe groups"))?;
        Ok(list
            .groups()
            .iter()
            .filter(|g| g.name() == group)
            .flat_map(|g| g.members())
            .map(|m| MemberInfo {
                member: m.id().to_string(),
                client_id: m.client_id().to_string(),
                host: m.client_host().to_string(),
                assignment: m.assignment().map(assignment).unwrap_or_default(),
            })
            .collect())
    }

    fn group_offsets(
        &self,
        group: &str,
        partitions: &[(String, i32)],
    ) -> Result<Vec<TopicOffset>, ClusterError> {
        let mut c = RdConsumer::new(self.config.clone(), Some(group))?;
        c.committed(partitions, CALL_TIMEOUT)
    }

    fn alter_group_offsets(
        &self,
        group: &str,
        offsets: &[TopicOffset],
    ) -> Result<(), ClusterError> {
        // A consumer that never joins commits with no generation: the coordinator takes it
        // only while the group has no members, which is the rule MM2 follows too.
        let c = RdConsumer::new(self.config.clone(), Some(group))?;
        c.inner()
            .commit(
                &super::consumer::list(offsets)?,
                rdkafka::consumer::CommitMode::Sync,
            )
            .map_err(client("commit group offsets"))
    }
}

/// The partitions of a consumer protocol assignment (`version: i16`, then topics as
/// `name: string16, partitions: [i32]`, then user data); what does not parse is left out.
pub fn assignment(bytes: &[u8]) -> Vec<(String, i32)> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if b.len() < n {
            return None;
        }
        let (head, tail) = b.split_at(n);
        *b = tail;
        Some(head)
    }
    fn int(b: &mut &[u8]) -> Option<i32> {
        take(b, 4).map(|x| i32::from_be_bytes([x[0], x[1], x[2], x[3]]))
    }
    let mut out = Vec::new();
    let mut b = bytes;
    let parsed = (|| {
        take(&mut b, 2)?;
        let topics = int(&mut b)?;
        for _ in 0..topics.max(0) {
            let len = take(&mut b, 2).map(|x| i16::from_be_bytes([x[0], x[1]]))?;
            let name = String::from_utf8_lossy(take(&mut b, len.max(0) as usize)?).into_owned();
            let n = int(&mut b)?;
            for _ in 0..n.max(0) {
                out.push((name.clone(), int(&mut b)?));
            }
        }
        Some(())
    })();
    let _ = parsed;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consumer_protocol_assignment_parses() {
        let mut b = vec![0, 0, 0, 0, 0, 1, 0, 2, b'i', b'n', 0, 0, 0, 2];
        b.extend_from_slice(&3i32.to_be_bytes());
        b.extend_from_slice(&5i32.to_be_bytes());
        b.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(
            assignment(&b),
            [("in".to_string(), 3), ("in".to_string(), 5)]
        );
        assert!(assignment(&[0]).is_empty(), "short input is no panic");
    }
}
