//! A connector's offsets (KIP-875): a source's in the connect store and `connect-offsets`,
//! a sink's as its consumer group; changed only while the connector is STOPPED.

use crate::broker::{BrokerError, OffsetCommit, ProduceRecord};
use crate::record::Record;

use super::super::error::ConnectError;
use super::super::sink;
use super::super::source::{self, OFFSETS_TOPIC};
use super::super::state::{ConnectorType, TargetState};
use super::super::store;
use super::super::worker::canonical_object;
use super::{Connectors, unknown};

impl Connectors {
    /// A connector's offsets (KIP-875): (partition, offset) JSON pairs.
    pub fn offsets(
        &self,
        name: &str,
    ) -> Result<Vec<(serde_json::Value, serde_json::Value)>, ConnectError> {
        let kind = self
            .entries
            .lock()
            .get(name)
            .ok_or_else(|| unknown(name))?
            .kind();
        match kind {
            Some(ConnectorType::Sink) => match self.broker.group_offsets(&sink::group(name)) {
                Ok(rows) => Ok(rows
                    .into_iter()
                    .map(|r| {
                        (
                            serde_json::json!({"kafka_topic": r.topic, "kafka_partition": r.partition}),
                            serde_json::json!({"kafka_offset": r.committed.offset}),
                        )
                    })
                    .collect()),
                Err(BrokerError::UnknownGroup { .. }) => Ok(Vec::new()),
                Err(e) => Err(e.into()),
            },
            _ => {
                let tree = self.store.tree(name)?;
                let mut out = Vec::new();
                for (p, o) in store::offsets(&tree)? {
                    let parse = |s: &str| {
                        serde_json::from_str(s).map_err(|e| ConnectError::Corrupt { what: format!("offset {s}"), reason: e.to_string() })
                    };
                    out.push((parse(&p)?, parse(&o)?));
                }
                Ok(out)
            }
        }
    }

    pub(super) fn stopped(&self, name: &str) -> Result<Option<ConnectorType>, ConnectError> {
        let entries = self.entries.lock();
        let e = entries.get(name).ok_or_else(|| unknown(name))?;
        if e.stored.target != TargetState::Stopped {
            return Err(ConnectError::NotStopped {
                name: name.to_string(),
            });
        }
        Ok(e.kind())
    }

    /// Alters offsets (`PATCH .../offsets`, STOPPED only): `None` resets a partition.
    pub fn alter_offsets(
        &self,
        name: &str,
        changes: Vec<(serde_json::Value, Option<serde_json::Value>)>,
    ) -> Result<(), ConnectError> {
        let kind = self.stopped(name)?;
        if kind == Some(ConnectorType::Sink) {
            let group = sink::group(name);
            let mut commits = Vec::new();
            let mut resets = Vec::new();
            for (p, o) in changes {
                let topic = p.get("kafka_topic").and_then(|t| t.as_str());
                let partition = p.get("kafka_partition").and_then(|t| t.as_u64());
                let (Some(topic), Some(partition)) = (topic, partition) else {
                    return Err(ConnectError::BadRequest(format!(
                        "Partition {p} of a sink connector must name \"kafka_topic\" and \"kafka_partition\""
                    )));
                };
                match o {
                    None => resets.push((topic.to_string(), partition as u32)),
                    Some(o) => match o.get("kafka_offset").and_then(|x| x.as_i64()) {
                        Some(offset) if offset >= 0 => commits.push(OffsetCommit {
                            topic: topic.to_string(),
                            partition: partition as i64,
                            offset,
                            metadata: None,
                        }),
                        _ => {
                            return Err(ConnectError::BadRequest(format!(
                                "Offset {o} of a sink connector must have a non-negative \"kafka_offset\""
                            )));
                        }
                    },
                }
            }
            if !commits.is_empty() {
                // Altered by an operator, not read: not counted as records consumed.
                self.broker.set_offsets(&group, commits)?;
            }
            if !resets.is_empty() {
                self.broker.delete_offsets(&group, &resets)?;
            }
            return Ok(());
        }
        let mut rows = Vec::new();
        for (p, o) in changes {
            let Some(partition) = canonical_object(&p.to_string()) else {
                return Err(ConnectError::BadRequest(format!(
                    "Partition {p} must be a JSON object"
                )));
            };
            let offset = match o {
                None => None,
                Some(o) => Some(canonical_object(&o.to_string()).ok_or_else(|| {
                    ConnectError::BadRequest(format!("Offset {o} must be a JSON object or null"))
                })?),
            };
            rows.push((partition, offset));
        }
        self.publish_offsets(name, &rows)?;
        store::set_offsets(&self.store.tree(name)?, &rows)
    }

    /// Resets every offset (`DELETE .../offsets`, STOPPED only).
    pub fn reset_offsets(&self, name: &str) -> Result<(), ConnectError> {
        let kind = self.stopped(name)?;
        if kind == Some(ConnectorType::Sink) {
            return match self.broker.delete_group(&sink::group(name)) {
                Ok(()) | Err(BrokerError::UnknownGroup { .. }) => Ok(()),
                Err(e) => Err(e.into()),
            };
        }
        let tree = self.store.tree(name)?;
        let rows: Vec<(String, Option<String>)> = store::offsets(&tree)?
            .into_iter()
            .map(|(p, _)| (p, None))
            .collect();
        self.publish_offsets(name, &rows)?;
        store::set_offsets(&tree, &rows)
    }

    /// Writes offset changes to `connect-offsets` (a null value for a reset).
    pub(super) fn publish_offsets(
        &self,
        name: &str,
        rows: &[(String, Option<String>)],
    ) -> Result<(), ConnectError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.offsets_topic()?;
        let records = rows
            .iter()
            .map(|(p, o)| ProduceRecord {
                partition: None,
                record: Record {
                    key: Some(source::offsets_key(name, p).into()),
                    value: o.clone().map(Into::into),
                    headers: Vec::new(),
                    timestamp: -1,
                },
            })
            .collect();
        self.broker.produce(OFFSETS_TOPIC, records)?;
        Ok(())
    }
}
