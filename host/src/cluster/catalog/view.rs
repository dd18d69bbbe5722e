//! [`CatalogView`]: what `GET /v1/cluster` shows of this node's catalog: how much it has
//! read, what it skipped and why, and how far behind each topic's end it is (a node whose
//! lag stays above 0 does not see other nodes' changes: a cluster it cannot read, or a
//! tail thread that stopped).

use std::collections::BTreeMap;

use serde::Serialize;

use super::writer::Writer;
use super::{ClusterCatalog, MODULES_TOPIC, PIPELINES_TOPIC};
use crate::cluster::ClusterError;

/// The catalog as this node has read it.
#[derive(Debug, Clone, Serialize)]
pub struct CatalogView {
    /// Module versions held.
    pub modules: usize,
    /// Pipelines held.
    pub pipelines: usize,
    /// Records read from both topics (skipped ones included).
    pub records_applied: u64,
    /// Records skipped (malformed, over a limit, or inconsistent).
    pub records_skipped: u64,
    /// Those, by why: `key`, `empty`, `format`, `json`, `too_large`, `inconsistent`,
    /// `unfinished_chunks`.
    pub skipped_by: BTreeMap<&'static str, u64>,
    /// The last skip: topic, offset and why.
    pub last_skipped: Option<String>,
    /// Each topic: read up to, its end, the lag between.
    pub topics: Vec<TopicLag>,
}

/// How far this node has read one catalog topic.
#[derive(Debug, Clone, Serialize)]
pub struct TopicLag {
    /// `_weir_modules` or `_weir_pipelines`.
    pub topic: &'static str,
    /// The next offset this node will read.
    pub read: i64,
    /// The topic's end offset now.
    pub end: i64,
    /// `end − read` (0 when caught up; transaction markers count until passed).
    pub lag: i64,
}

impl ClusterCatalog {
    /// What this node has read, with each topic's lag (blocking: the end offsets are asked
    /// of the cluster).
    pub fn view(&self) -> Result<CatalogView, ClusterError> {
        let ends = Writer::ends(self.admin.lock().as_ref())?;
        let state = self.tail.state.lock();
        let lag = |topic, read: i64, end: i64| TopicLag {
            topic,
            read,
            end,
            lag: (end - read).max(0),
        };
        Ok(CatalogView {
            modules: state.cache.modules().count(),
            pipelines: state.cache.pipelines().count(),
            records_applied: state.cache.applied,
            records_skipped: state.cache.skipped,
            skipped_by: state.cache.skipped_by.clone(),
            last_skipped: state.cache.last_skipped.clone(),
            topics: vec![
                lag(MODULES_TOPIC, state.read.modules, ends.modules),
                lag(PIPELINES_TOPIC, state.read.pipelines, ends.pipelines),
            ],
        })
    }
}
