//! The seam where every record passes through its connector's transformation chain
//! (Connect's `transforms=` / `predicates=`): after the source task's poll and before the
//! converters, or after the converters and before the sink task's put, as in Connect.
//!
//! The chain's parser and the 16 transformations live in `transforms.rs` (issue 14, point 6);
//! until it is wired in here, the chain is empty and a config naming transforms is refused
//! rather than run untransformed.

use std::collections::BTreeMap;

use crate::runtime::connector::Value;

use super::config::Issue;

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

/// A connector's transformation chain.
#[derive(Debug, Clone, Default)]
pub struct TransformChain {
    _private: (),
}

impl TransformChain {
    /// The chain `config`'s `transforms` key describes.
    pub fn from_config(config: &BTreeMap<String, String>) -> Result<TransformChain, Vec<Issue>> {
        match config.get("transforms").map(|t| t.trim()) {
            None | Some("") => Ok(TransformChain::default()),
            Some(t) => Err(vec![(
                "transforms".into(),
                format!(
                    "Invalid value {t} for configuration transforms: this weir has no transformations yet"
                ),
            )]),
        }
    }

    /// Runs `record` through the chain: `None` when a transformation drops it.
    pub fn apply(&self, record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        Ok(Some(record))
    }
}
