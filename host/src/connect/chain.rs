//! The connector side of the transformation chain (Connect's `transforms=` / `predicates=`):
//! [`ConnectorChain`] runs a task's [`ConnectRecord`]s through the parser and runner of
//! `transforms.rs`, after the source task's poll and before the converters, or after the
//! converters and before the sink task's put, as in Connect.
//!
//! Connect's transformations see Connect data (what a converter reads, before it writes).
//! The built-in plugin reads schemaless JSON, as Connect's JsonConverter with
//! `schemas.enable=false` does, so a [`Value`] crosses as the JSON it stands for: a JSON value
//! as its text, a string as a JSON string (so a line `42` stays the string "42", as a
//! StringConverter source gives it), a null as a null. Bytes cross raw; a value the chain
//! leaves byte-for-byte unchanged comes back as the very [`Value`] that went in, so bytes and
//! the converters' own choices survive a chain that does not touch them.

use std::collections::BTreeMap;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::pipeline::plugins::PluginCatalog;
use crate::record::Record;
use crate::runtime::Limits;
use crate::runtime::connector::Value;

use super::config::Issue;
use super::transforms::{ChainConfig, ChainFailure, ChainRecord, TransformChain, TransformsError};

/// A record between a connector and the log, in Connect's terms (a ConnectRecord).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRecord {
    /// Its topic.
    pub topic: String,
    /// Its partition (`None`: the key's, or the task's for keyless records).
    pub partition: Option<u32>,
    /// The key.
    pub key: Value,
    /// The value.
    pub value: Value,
    /// Headers, in order.
    pub headers: Vec<(String, Value)>,
    /// Create time, ms since the epoch (`None`: the time of the append).
    pub timestamp: Option<i64>,
}

/// What the chain made of one record.
#[derive(Debug)]
pub enum Transformed {
    /// It came through (perhaps changed, perhaps routed to another topic).
    Kept(ConnectRecord),
    /// A transformation (Filter, or a predicate's condition) dropped it.
    Dropped,
    /// A transformation failed it: `errors.tolerance` decides.
    Failed(TransformFailure),
}

/// Why the chain failed a record.
#[derive(Debug, thiserror::Error)]
pub enum TransformFailure {
    /// A transformation refused the record (what the plugin said).
    #[error("transformation {alias:?} ({type_name}): {message}")]
    Refused {
        /// The transformation's alias.
        alias: String,
        /// Its type, as configured.
        type_name: String,
        /// The plugin's message.
        message: String,
    },
    /// The chain could not run on it (a trap, a deadline) while it ran alone.
    #[error(transparent)]
    Chain(#[from] TransformsError),
}

/// A connector task's transformation chain (empty when `transforms` lists none).
#[derive(Debug, Default)]
pub struct ConnectorChain {
    /// The built chain; a task thread is its only user, the lock only satisfies `Sync`.
    chain: Option<Mutex<TransformChain>>,
}

impl ConnectorChain {
    /// The chain `config` describes, each transformation instantiated and its config checked.
    pub fn from_config(
        config: &BTreeMap<String, String>,
        catalog: &PluginCatalog,
        limits: Limits,
    ) -> Result<ConnectorChain, TransformsError> {
        ConnectorChain::build(&ChainConfig::parse(config, catalog)?, catalog, limits)
    }

    /// The chain a checked `config` describes, each transformation instantiated.
    pub fn build(
        config: &ChainConfig,
        catalog: &PluginCatalog,
        limits: Limits,
    ) -> Result<ConnectorChain, TransformsError> {
        if config.transforms.is_empty() {
            return Ok(ConnectorChain::default());
        }
        let chain = TransformChain::build(config, catalog, limits)?;
        Ok(ConnectorChain {
            chain: Some(Mutex::new(chain)),
        })
    }

    /// The problems of `config`'s chain, per key, as `config/validate` answers them.
    pub fn issues(config: &BTreeMap<String, String>, catalog: &PluginCatalog) -> Vec<Issue> {
        match ConnectorChain::from_config(config, catalog, Limits::default()) {
            Ok(_) => Vec::new(),
            Err(e) => {
                // A transformation that cannot even be instantiated is its alias's problem.
                let key = match &e {
                    TransformsError::InvalidConfig { key, .. } => key.clone(),
                    TransformsError::Step { alias, .. } => format!("transforms.{alias}"),
                };
                let reason = match e {
                    TransformsError::InvalidConfig { reason, .. } => reason,
                    other => other.to_string(),
                };
                vec![(key, reason)]
            }
        }
    }

    /// Runs `record` (read at `offset`, for a sink's) through the chain. A whole-batch
    /// failure of a plugin (a trap, a deadline) is the record's failure too: the chain
    /// runs one record at a time, so there is no other record to blame.
    pub fn apply(&self, record: ConnectRecord, offset: Option<i64>) -> Transformed {
        let Some(chain) = &self.chain else {
            return Transformed::Kept(record);
        };
        let input = chain_input(&record, offset);
        let sent = input.record.clone();
        let output = match chain.lock().apply(vec![input]) {
            Ok(o) => o,
            Err(e) => return Transformed::Failed(e.into()),
        };
        if let Some(f) = output.failures.into_iter().next() {
            return Transformed::Failed(failure(&f));
        }
        match output.records.into_iter().next() {
            Some((_, out)) => Transformed::Kept(rebuild(record, &sent, out)),
            None => Transformed::Dropped,
        }
    }

    /// Runs a whole poll's or read's records through the chain: one call per
    /// transformation for all of them, not one per record (each call crosses into Wasm and
    /// parses JSON). A whole-batch failure (a trap, a deadline) is retried record by record,
    /// so that it fails only the record that caused it. Answers one outcome per record, in
    /// order.
    pub fn apply_all(&self, records: Vec<(ConnectRecord, Option<i64>)>) -> Vec<Transformed> {
        let Some(chain) = &self.chain else {
            return records
                .into_iter()
                .map(|(r, _)| Transformed::Kept(r))
                .collect();
        };
        if records.len() <= 1 {
            return records.into_iter().map(|(r, o)| self.apply(r, o)).collect();
        }
        let inputs: Vec<ChainRecord> = records.iter().map(|(r, o)| chain_input(r, *o)).collect();
        let sent: Vec<Record> = inputs.iter().map(|i| i.record.clone()).collect();
        let output = match chain.lock().apply(inputs) {
            Ok(o) => o,
            Err(_) => {
                return records.into_iter().map(|(r, o)| self.apply(r, o)).collect();
            }
        };
        let mut failed: Vec<Option<TransformFailure>> = (0..records.len()).map(|_| None).collect();
        for f in &output.failures {
            if let Some(slot) = failed.get_mut(f.source) {
                slot.get_or_insert_with(|| failure(f));
            }
        }
        let mut kept: Vec<Option<ChainRecord>> = (0..records.len()).map(|_| None).collect();
        for (i, out) in output.records {
            if let Some(slot) = kept.get_mut(i) {
                slot.get_or_insert(out);
            }
        }
        records
            .into_iter()
            .zip(sent.iter())
            .zip(failed.into_iter().zip(kept))
            .map(|(((record, _), sent), outcome)| match outcome {
                (Some(m), _) => Transformed::Failed(m),
                (None, Some(out)) => Transformed::Kept(rebuild(record, sent, out)),
                (None, None) => Transformed::Dropped,
            })
            .collect()
    }
}

/// A record as the transformation plugins read it.
fn chain_input(record: &ConnectRecord, offset: Option<i64>) -> ChainRecord {
    ChainRecord {
        topic: record.topic.clone(),
        partition: record.partition,
        offset,
        record: Record {
            key: to_json(&record.key),
            value: to_json(&record.value),
            headers: record
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
            timestamp: record.timestamp.unwrap_or(-1),
        },
    }
}

/// A transformation's refusal of a record.
fn failure(f: &ChainFailure) -> TransformFailure {
    TransformFailure::Refused {
        alias: f.alias.clone(),
        type_name: f.type_name.clone(),
        message: f.message.clone(),
    }
}

/// What the chain made of `record` (which went in as `sent`) as a Connect record again:
/// what it did not change keeps its value as it was.
fn rebuild(record: ConnectRecord, sent: &Record, out: ChainRecord) -> ConnectRecord {
    let r = out.record;
    let headers = r
        .headers
        .into_iter()
        .map(|(k, v)| {
            // An unchanged header keeps its Value; a new one is read as JSON.
            let before = sent
                .headers
                .iter()
                .position(|(sk, sv)| *sk == k && *sv == v)
                .map(|i| record.headers[i].1.clone());
            let value = before.unwrap_or_else(|| from_json(v.as_deref()));
            (k, value)
        })
        .collect();
    ConnectRecord {
        topic: out.topic,
        partition: out.partition,
        key: back(r.key, &sent.key, record.key),
        value: back(r.value, &sent.value, record.value),
        headers,
        // -1 went in for "the append's time"; a transformation may have set one.
        timestamp: (r.timestamp >= 0)
            .then_some(r.timestamp)
            .or(record.timestamp),
    }
}

/// A Connect value as the schemaless JSON the transformations read.
fn to_json(value: &Value) -> Option<Bytes> {
    match value {
        Value::Null => None,
        Value::Json(j) => Some(Bytes::from(j.clone())),
        Value::Text(s) => Some(Bytes::from(
            serde_json::Value::String(s.clone()).to_string(),
        )),
        Value::Bytes(b) => Some(Bytes::from(b.clone())),
    }
}

/// The value the chain's output bytes stand for: `original` when they are what went in.
fn back(out: Option<Bytes>, sent: &Option<Bytes>, original: Value) -> Value {
    if out == *sent {
        original
    } else {
        from_json(out.as_deref())
    }
}

/// JSON bytes as a Connect value: a JSON string is text, other JSON is JSON, anything else
/// (the plugin passes on bytes that are not JSON) is text, as the plugin itself reads it.
fn from_json(bytes: Option<&[u8]>) -> Value {
    let Some(bytes) = bytes else {
        return Value::Null;
    };
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Null) => Value::Null,
        Ok(serde_json::Value::String(s)) => Value::Text(s),
        Ok(other) => Value::Json(other.to_string()),
        Err(_) => Value::Text(String::from_utf8_lossy(bytes).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cross_as_json_and_come_back_as_they_went() {
        let text = Value::Text("42".into());
        let sent = to_json(&text);
        assert_eq!(sent.as_deref(), Some(&b"\"42\""[..]));
        assert_eq!(back(sent.clone(), &sent, text.clone()), text);
        assert_eq!(
            from_json(Some(br#"{"line":"42"}"#)),
            Value::Json(r#"{"line":"42"}"#.into())
        );
        assert_eq!(from_json(Some(b"\"x\"")), Value::Text("x".into()));
        assert_eq!(from_json(None), Value::Null);
        let bytes = Value::Bytes(vec![0xff, 0]);
        let sent = to_json(&bytes);
        assert_eq!(back(sent.clone(), &sent, bytes.clone()), bytes);
    }

    #[test]
    fn no_transforms_is_an_empty_chain_that_keeps_records() {
        let chain = ConnectorChain::default();
        let rec = ConnectRecord {
            topic: "t".into(),
            partition: None,
            key: Value::Null,
            value: Value::Text("v".into()),
            headers: Vec::new(),
            timestamp: None,
        };
        match chain.apply(rec.clone(), None) {
            Transformed::Kept(kept) => assert_eq!(kept, rec),
            other => panic!("an empty chain changed the record: {other:?}"),
        }
    }
}
