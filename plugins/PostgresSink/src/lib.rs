//! Confluent's JDBC sink for PostgreSQL as a weir connector: writes each record of `topics` as
//! a row of the table `table.name.format` names, over PostgreSQL's wire protocol on
//! wasi:sockets TCP (reachable only if `weir.allow.tcp` grants the URL's host:port).
//!
//! - `settings`: the options, checked per key.
//! - `rows`: a record as columns, and the SQL (quoted identifiers, bound values).
//! - `conn`: the connection: startup, authentication, batches as one transaction each.
//!
//! Each `put` is written before it returns, `batch.size` records per transaction, so a flush
//! has nothing left to do and the host commits the offsets after it. A crash between a write
//! and the commit delivers those records again: in `upsert` mode that changes nothing.

mod conn;
mod rows;
mod settings;

use std::collections::HashSet;

use weir_guest::connect::{
    ConfigDef, ConfigIssue, ConfigMap, Connector, ConnectorError, SinkRecord, SinkTask,
    TopicPartitionOffset,
};

use conn::Conn;
use rows::Op;
use settings::Settings;

struct PostgresSink;

impl Connector for PostgresSink {
    fn config_defs() -> Vec<ConfigDef> {
        settings::defs()
    }

    fn validate(config: &ConfigMap) -> Vec<ConfigIssue> {
        settings::parse(config).err().unwrap_or_default()
    }

    fn task_configs(config: &ConfigMap, max_tasks: u32) -> Result<Vec<ConfigMap>, ConnectorError> {
        // Every task writes its share of the partitions; upserts of one key stay in one
        // partition, hence in one task, in order.
        Ok((0..max_tasks.max(1)).map(|_| config.clone()).collect())
    }
}

struct PostgresTask {
    settings: Settings,
    /// `None` after the connection was lost: the next put reconnects.
    conn: Option<Conn>,
    /// Tables known to exist (created, when `auto.create`, by this task).
    created: HashSet<String>,
}

fn invalid(issues: Vec<ConfigIssue>) -> ConnectorError {
    let text: Vec<String> = issues
        .into_iter()
        .map(|i| format!("{}: {}", i.key, i.message))
        .collect();
    ConnectorError::InvalidConfig(text.join("; "))
}

impl PostgresTask {
    fn conn(&mut self) -> Result<&mut Conn, ConnectorError> {
        if self.conn.is_none() {
            self.conn = Some(Conn::open(&self.settings)?);
            self.created.clear();
        }
        self.conn
            .as_mut()
            .ok_or_else(|| ConnectorError::Retriable("no connection".into()))
    }

    fn write(&mut self, records: &[SinkRecord]) -> Result<(), ConnectorError> {
        let mut batch: Vec<(String, Vec<Option<String>>)> = Vec::with_capacity(records.len());
        for r in records {
            let table_name = self.settings.table(&r.topic);
            let table = rows::table(&table_name)?;
            match rows::op(&self.settings, r)? {
                Op::Skip => {}
                Op::Delete { key } => {
                    if self.settings.auto_create && !self.created.contains(&table_name) {
                        // A tombstone before any row of a table not created yet: nothing
                        // to delete (and no fields to create the table from).
                        self.flush_rows(&mut batch)?;
                        if !self.conn()?.table_exists(&table_name)? {
                            continue;
                        }
                        self.created.insert(table_name.clone());
                    }
                    let params = key.iter().map(|(_, v)| rows::param(v)).collect();
                    batch.push((rows::delete_sql(&table, &key)?, params));
                }
                Op::Write { columns, pk } => {
                    if self.settings.auto_create && !self.created.contains(&table_name) {
                        // Earlier rows first: they may belong to another table, or to this
                        // one from before.
                        self.flush_rows(&mut batch)?;
                        let sql = rows::create_sql(&table, &columns, pk)?;
                        self.conn()?.execute_allowing(&sql, &["23505", "42P07"])?;
                        self.created.insert(table_name.clone());
                    }
                    let sql = rows::write_sql(&table, &columns, pk, self.settings.insert_mode)?;
                    let params = columns.iter().map(|(_, v)| rows::param(v)).collect();
                    batch.push((sql, params));
                }
            }
            if batch.len() >= self.settings.batch_size {
                self.flush_rows(&mut batch)?;
            }
        }
        self.flush_rows(&mut batch)
    }

    fn flush_rows(
        &mut self,
        batch: &mut Vec<(String, Vec<Option<String>>)>,
    ) -> Result<(), ConnectorError> {
        if batch.is_empty() {
            return Ok(());
        }
        let outcome = self.conn()?.batch(batch);
        batch.clear();
        outcome
    }
}

impl SinkTask for PostgresTask {
    fn start(config: &ConfigMap, _committed: Option<String>) -> Result<Self, ConnectorError> {
        let settings = settings::parse(config).map_err(invalid)?;
        let mut task = PostgresTask {
            settings,
            conn: None,
            created: HashSet::new(),
        };
        // Connect now, so a URL that is refused or wrong fails the task at once.
        task.conn()?;
        Ok(task)
    }

    fn put(&mut self, records: Vec<SinkRecord>) -> Result<(), ConnectorError> {
        let outcome = self.write(&records);
        if let Err(ConnectorError::Retriable(_)) = &outcome {
            // The connection may be half-way through a message: start over on a new one.
            self.conn = None;
        }
        outcome
    }

    fn flush(&mut self, _offsets: Vec<TopicPartitionOffset>) -> Result<String, ConnectorError> {
        Ok("{}".into())
    }

    fn stop(&mut self) {
        if let Some(c) = self.conn.take() {
            c.close();
        }
    }
}

weir_guest::sink_connector!(PostgresSink, PostgresTask);
