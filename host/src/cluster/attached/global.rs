//! [`GlobalTables`]: one pipeline's global tables on this node (Kafka Streams'
//! GlobalKTable): every partition of each `global_table` source's topic, read with no
//! group by an `assign()`-ed read_committed consumer into one sled tree, shared by every
//! task of the pipeline here through [`GlobalRows`].
//!
//! The topic is its own changelog: nothing is written back to the cluster, and nothing
//! of it goes into a round's transaction. The member bootstraps the tables to the topics'
//! ends before its first poll (so before any task runs a record), and catches them up
//! on its own thread before each round: to the ends as they are after the poll when the
//! round has records, so that an update acknowledged before a stream record was produced
//! is seen by it (the rule an embedded task keeps by reading its global tables first in
//! each round); with whatever has arrived otherwise. Reads and writes of the rows never
//! race: both happen on the member's thread.
//!
//! Rows go through the streams layer's [`Table`] as an embedded global table's do (a
//! null value deletes, a null key is dropped, `pipelines.max_table_bytes` bounds each
//! table's rows on disk, `pipelines.max_table_cache_bytes` the copy in memory). A record
//! that would grow a table past its bound is not applied and is said in the pipeline's
//! logs, as it cannot be dead-lettered: it belongs to no round.
//!
//! Each batch of rows goes into the tree with the [`GlobalMark`] of where the reads are.
//! A member that starts (a node restarted, a member that failed and joins again, a
//! change of the global sources) reads on from that mark when it proves itself
//! (`global_mark`); otherwise it wipes the tree and reads the topics from their start
//! (Kafka Streams' rule without a checkpoint it trusts).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::cluster::{Admin, Cluster, Consumer, Fetched, TopicOffset};
use crate::pipeline::handle::PipelineHandle;
use crate::pipeline::spec::{SOURCE_SLOT_BASE, SourceKind};
use crate::pipeline::state::{Overlay, StepState};
use crate::pipeline::table_cache::CachedState;
use crate::pipeline::{PipelineSpec, StateLimits};
use crate::record::Record;
use crate::streams::Table;

use super::error::AttachedError;
use super::global_mark::{GlobalMark, GlobalPartition, PartitionMark};
use super::mark::Proof;
use super::task::record_of;

/// Records asked for per poll.
const BATCH: usize = 10_000;
/// How long one poll of a catch-up waits.
const POLL_WAIT: Duration = Duration::from_millis(100);
/// How long a bootstrap may go without reaching the ends (an open transaction of a dead
/// producer holds read_committed readers back until its timeout aborts it).
const BOOTSTRAP_DEADLINE: Duration = Duration::from_secs(120);
/// How long a round waits for the global tables to reach the ends (read_committed: an
/// open transaction does not hold them back): past it, the round runs with what was read
/// and the rest comes in later rounds, so a slow fetch does not stop the stream.
const ROUND_DEADLINE: Duration = Duration::from_millis(1_000);

/// The global tables' rows by state slot, as the tasks' chains read them (clones share
/// the rows and their cache).
pub type GlobalRows = BTreeMap<usize, CachedState>;

/// The state slots and topics of `spec`'s global table sources (a change of them needs a
/// new member: the tables are read anew).
pub fn global_sources(spec: &PipelineSpec) -> Vec<(usize, String)> {
    spec.sources
        .values()
        .enumerate()
        .filter(|(_, s)| s.kind == SourceKind::GlobalTable)
        .map(|(s, source)| (SOURCE_SLOT_BASE + s, source.topic.clone()))
        .collect()
}

/// One global table: its state slot, topic and rows.
struct GlobalTable {
    slot: usize,
    topic: String,
    rows: CachedState,
}

/// One pipeline's global tables on this node, and the consumer that follows their topics.
pub struct GlobalTables {
    rows: Rows,
    /// Reads every partition of every global topic; `None` without global tables.
    reader: Option<Reader>,
}

/// The tables' rows in their tree.
struct Rows {
    /// The global sources (state slot, topic).
    sources: Vec<(usize, String)>,
    tree: sled::Tree,
    /// Where a batch's writes wait to go into the tree in one sled batch.
    overlay: Overlay,
    tables: Vec<GlobalTable>,
    max_table_bytes: u64,
    /// Records applied since the member started.
    applied: u64,
}

/// The consumer and admin client of the global topics, and where each partition is.
struct Reader {
    consumer: Box<dyn Consumer>,
    admin: Box<dyn Admin>,
    /// The next offset of each `(topic, partition)`.
    next: BTreeMap<GlobalPartition, i64>,
    /// The last record applied of each, for the mark.
    proofs: BTreeMap<GlobalPartition, Proof>,
}

impl GlobalTables {
    /// `handle`'s global tables of `spec` in the tree `name` of `db`, read to their
    /// topics' ends through `cluster`: on from the tree's mark if it proves itself, else
    /// wiped and from the start (nothing to read without global tables).
    pub fn bootstrap(
        cluster: &dyn Cluster,
        db: &sled::Db,
        name: &str,
        spec: &PipelineSpec,
        handle: &PipelineHandle,
    ) -> Result<GlobalTables, AttachedError> {
        let tree = db.open_tree(name)?;
        let sources = global_sources(spec);
        if sources.is_empty() {
            tree.clear()?;
            let rows = Rows::over(tree, sources, handle.state_limits);
            return Ok(GlobalTables { rows, reader: None });
        }
        let admin = cluster.admin()?;
        let known = admin.topics()?;
        let mut bounds = BTreeMap::new();
        for (_, topic) in &sources {
            let Some(info) = known.iter().find(|t| &t.name == topic) else {
                return Err(AttachedError::NoInput {
                    topic: topic.clone(),
                });
            };
            for p in 0..info.partitions {
                bounds.insert((topic.clone(), p), admin.watermarks(topic, p)?);
            }
        }
        let resumed = match GlobalMark::read(&tree)? {
            Some(mark) => mark.resume(cluster, &sources, &bounds)?,
            None => None,
        };
        let how = if resumed.is_some() {
            "read on from this node's copy"
        } else {
            "read in full"
        };
        let from = match resumed {
            Some(from) => from,
            None => {
                tree.clear()?;
                bounds
                    .iter()
                    .map(|(tp, &(low, _))| (tp.clone(), (low, None)))
                    .collect()
            }
        };
        let mut rows = Rows::over(tree, sources, handle.state_limits);
        let mut consumer = cluster.consumer(None)?;
        let positions: Vec<TopicOffset> = from
            .iter()
            .map(|((topic, partition), &(offset, _))| TopicOffset {
                topic: topic.clone(),
                partition: *partition,
                offset,
            })
            .collect();
        consumer.assign(&positions)?;
        let mut reader = Reader {
            consumer,
            admin,
            next: from
                .iter()
                .map(|(tp, (next, _))| (tp.clone(), *next))
                .collect(),
            proofs: from
                .into_iter()
                .filter_map(|(tp, (_, proof))| proof.map(|p| (tp, p)))
                .collect(),
        };
        let started = Instant::now();
        // Behind after the deadline: the member fails, and joins again.
        reader.catch_up(&mut rows, handle, BOOTSTRAP_DEADLINE)??;
        handle.logs.note(&format!(
            "attached global tables {how}: {} records in {} ms",
            rows.applied,
            started.elapsed().as_millis()
        ));
        Ok(GlobalTables {
            rows,
            reader: Some(reader),
        })
    }

    /// The rows the tasks' chains read.
    pub fn rows(&self) -> GlobalRows {
        self.rows
            .tables
            .iter()
            .map(|t| (t.slot, t.rows.clone()))
            .collect()
    }

    /// Brings the tables up before a round: to the topics' ends as they are now when
    /// `records` (the round has stream records to look up), else with what has arrived.
    pub fn catch_up(
        &mut self,
        handle: &PipelineHandle,
        records: bool,
    ) -> Result<(), AttachedError> {
        let Some(reader) = &mut self.reader else {
            return Ok(());
        };
        if records {
            if let Err(behind) = reader.catch_up(&mut self.rows, handle, ROUND_DEADLINE)? {
                tracing::debug!(pipeline = %handle.name, "a round ran before the global tables caught up: {behind}");
            }
            return Ok(());
        }
        let got = reader.consumer.poll(BATCH, Duration::ZERO)?;
        reader.advance(&got)?;
        self.rows
            .apply(handle, &got, &reader.mark(&self.rows.sources))
    }
}

impl Reader {
    /// Reads into `rows` until every partition reaches its end as it is now; `Err`
    /// inside: `deadline` passed first, naming a partition behind.
    fn catch_up(
        &mut self,
        rows: &mut Rows,
        handle: &PipelineHandle,
        deadline: Duration,
    ) -> Result<Result<(), AttachedError>, AttachedError> {
        let mut ends = BTreeMap::new();
        for (topic, partition) in self.next.keys() {
            let (_, end) = self.admin.watermarks(topic, *partition)?;
            ends.insert((topic.clone(), *partition), end);
        }
        let from = self.next.clone();
        let until = Instant::now() + deadline;
        // Polls in a row that came back empty: a first one proves nothing (the fetch may
        // not have answered yet).
        let mut quiet = 0;
        loop {
            let Some(behind) = self.behind(&from, &ends, quiet >= 2) else {
                return Ok(Ok(()));
            };
            if Instant::now() > until {
                return Ok(Err(behind));
            }
            let got = self.consumer.poll(BATCH, POLL_WAIT)?;
            quiet = if got.is_empty() { quiet + 1 } else { 0 };
            self.advance(&got)?;
            rows.apply(handle, &got, &self.mark(&rows.sources))?;
        }
    }

    /// Moves each partition's next offset past `got` and past what the consumer skipped
    /// (transaction markers and aborted records, which poll never returns).
    fn advance(&mut self, got: &[Fetched]) -> Result<(), AttachedError> {
        for r in got {
            self.next
                .insert((r.topic.clone(), r.partition), r.offset + 1);
            self.proofs
                .insert((r.topic.clone(), r.partition), Proof::of_fetched(r));
        }
        for p in self.consumer.positions()? {
            let at = self.next.entry((p.topic, p.partition)).or_insert(p.offset);
            *at = (*at).max(p.offset);
        }
        Ok(())
    }

    /// Where the reads are, for the tables' mark.
    fn mark(&self, sources: &[(usize, String)]) -> GlobalMark {
        GlobalMark {
            sources: sources.to_vec(),
            partitions: self
                .next
                .iter()
                .map(|(tp, &next)| PartitionMark {
                    topic: tp.0.clone(),
                    partition: tp.1,
                    next,
                    proof: self.proofs.get(tp).cloned(),
                })
                .collect(),
        }
    }

    /// A partition not yet at its end, if any: short of it, unless (`settled`: polls
    /// came back empty) only the last transactions' markers can be left after something
    /// was read.
    fn behind(
        &self,
        from: &BTreeMap<(String, i32), i64>,
        ends: &BTreeMap<(String, i32), i64>,
        settled: bool,
    ) -> Option<AttachedError> {
        ends.iter().find_map(|((topic, partition), &end)| {
            let key = (topic.clone(), *partition);
            let at = self.next.get(&key).copied().unwrap_or(0);
            let start = from.get(&key).copied().unwrap_or(0);
            let markers_left = settled && at + 2 >= end && (at > start || end - start <= 1);
            (at < end && !markers_left).then(|| AttachedError::GlobalStalled {
                topic: topic.clone(),
                partition: *partition,
                at,
                end,
            })
        })
    }
}

impl Rows {
    /// The global tables `sources` over `tree`, as it holds them.
    fn over(tree: sled::Tree, sources: Vec<(usize, String)>, limits: StateLimits) -> Rows {
        let overlay = Overlay::default();
        let tables = sources
            .iter()
            .map(|(slot, topic)| GlobalTable {
                slot: *slot,
                topic: topic.clone(),
                rows: CachedState::new(
                    StepState::new(tree.clone(), *slot, overlay.clone()),
                    limits.max_table_cache_bytes,
                ),
            })
            .collect();
        Rows {
            sources,
            tree,
            overlay,
            tables,
            max_table_bytes: limits.max_table_bytes,
            applied: 0,
        }
    }

    /// Applies `got` (in the order read) to the tables, their writes and `mark` in one
    /// sled batch; says in `handle`'s logs what was refused.
    fn apply(
        &mut self,
        handle: &PipelineHandle,
        got: &[Fetched],
        mark: &GlobalMark,
    ) -> Result<(), AttachedError> {
        let (refused, why) = self.apply_records(got, mark)?;
        if let Some(why) = why {
            handle.logs.note(&format!(
                "attached global table: {refused} record(s) not applied: {why}"
            ));
        }
        Ok(())
    }

    /// Applies `got` to the tables, `mark` with them; how many records were refused, and
    /// why the first was.
    fn apply_records(
        &mut self,
        got: &[Fetched],
        mark: &GlobalMark,
    ) -> Result<(usize, Option<String>), AttachedError> {
        if got.is_empty() {
            return Ok((0, None));
        }
        let mut refused = 0;
        let mut first_refusal = None;
        let mut start = 0;
        while start < got.len() {
            let topic = &got[start].topic;
            let end = got[start..]
                .iter()
                .position(|r| &r.topic != topic)
                .map_or(got.len(), |n| start + n);
            let records: Vec<Record> = got[start..end].iter().map(record_of).collect();
            if let Some(table) = self.tables.iter_mut().find(|t| &t.topic == topic) {
                let out = Table
                    .update_within(&mut table.rows, &records, self.max_table_bytes)
                    .map_err(|source| AttachedError::Global {
                        topic: topic.clone(),
                        source,
                    })?;
                refused += out.failures.len();
                self.applied += (records.len() - out.failures.len()) as u64;
                if first_refusal.is_none() {
                    first_refusal = out.failures.first().map(|f| f.message.clone());
                }
            }
            start = end;
        }
        let mut batch = sled::Batch::default();
        mark.put(&mut batch);
        for (key, value) in self.overlay.take() {
            match value {
                Some(v) => batch.insert(key, v),
                None => batch.remove(key),
            }
        }
        self.tree.apply_batch(batch)?;
        Ok((refused, first_refusal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::state::StateBackend;

    fn fetched(topic: &str, offset: i64, key: &str, value: Option<&str>) -> Fetched {
        Fetched {
            topic: topic.into(),
            partition: 0,
            offset,
            timestamp: Some(1_000 + offset),
            key: Some(key.as_bytes().to_vec()),
            value: value.map(|v| v.as_bytes().to_vec()),
            headers: Vec::new(),
        }
    }

    fn value(rows: &GlobalRows, slot: usize, key: &str) -> Option<String> {
        let table = &rows[&slot];
        let stored = table
            .get(&crate::streams::table::row_key(key.as_bytes()))
            .unwrap()?;
        Some(
            String::from_utf8(
                crate::streams::table::Row::decode(key.as_bytes(), &stored)
                    .unwrap()
                    .value,
            )
            .unwrap(),
        )
    }

    /// Puts and deletes reach the rows every task reads, and a table that would grow past
    /// `pipelines.max_table_bytes` refuses the record with the limit named, keeping what
    /// it holds.
    #[test]
    fn rows_follow_the_topic_within_their_bound() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let spec: PipelineSpec = serde_json::from_value(serde_json::json!({
            "name": "p", "output": "out",
            "sources": {"g": {"topic": "countries", "as": "global_table"},
                        "orders": {"topic": "orders"}},
            "steps": [{"op": "join", "left": "orders", "right": "g", "type": "left"}]
        }))
        .unwrap();
        assert_eq!(
            global_sources(&spec),
            [(SOURCE_SLOT_BASE, "countries".to_string())]
        );
        let limits = StateLimits {
            max_table_bytes: 60,
            ..StateLimits::default()
        };
        let mut tables = GlobalTables {
            rows: Rows::over(
                db.open_tree("p/global").unwrap(),
                global_sources(&spec),
                limits,
            ),
            reader: None,
        };
        // What every task's chain reads.
        let read = tables.rows();
        let rows = &mut tables.rows;
        let (refused, why) = rows
            .apply_records(
                &[
                    fetched("countries", 0, "fr", Some("France")),
                    fetched("countries", 1, "de", Some("Germany")),
                    fetched("countries", 2, "it", Some("Italy")),
                    fetched("countries", 3, "es", Some("Spain")),
                ],
                &GlobalMark::default(),
            )
            .unwrap();
        assert_eq!(refused, 1, "Spain would pass 60 bytes");
        assert!(why.unwrap().contains("max_table_bytes"));
        assert_eq!(
            value(&read, SOURCE_SLOT_BASE, "fr").as_deref(),
            Some("France")
        );
        assert_eq!(value(&read, SOURCE_SLOT_BASE, "es"), None);
        // A deletion frees room; the rows are in the tree, not only in memory, with the
        // mark of where they were read to.
        let mark = GlobalMark {
            sources: global_sources(&spec),
            partitions: vec![PartitionMark {
                topic: "countries".into(),
                partition: 0,
                next: 6,
                proof: Some(Proof::of_fetched(&fetched(
                    "countries",
                    5,
                    "es",
                    Some("Spain"),
                ))),
            }],
        };
        let (refused, _) = rows
            .apply_records(
                &[
                    fetched("countries", 4, "de", None),
                    fetched("countries", 5, "es", Some("Spain")),
                    fetched("elsewhere", 0, "xx", Some("not a global table's")),
                ],
                &mark,
            )
            .unwrap();
        assert_eq!(refused, 0);
        assert_eq!(value(&read, SOURCE_SLOT_BASE, "de"), None);
        assert_eq!(
            value(&read, SOURCE_SLOT_BASE, "es").as_deref(),
            Some("Spain")
        );
        let fresh = CachedState::new(
            StepState::new(rows.tree.clone(), SOURCE_SLOT_BASE, Overlay::default()),
            0,
        );
        let read_again = BTreeMap::from([(SOURCE_SLOT_BASE, fresh)]);
        assert_eq!(
            value(&read_again, SOURCE_SLOT_BASE, "es").as_deref(),
            Some("Spain")
        );
        assert_eq!(value(&read_again, SOURCE_SLOT_BASE, "de"), None);
        assert_eq!(rows.applied, 5);
        assert_eq!(GlobalMark::read(&rows.tree).unwrap(), Some(mark));
    }
}
