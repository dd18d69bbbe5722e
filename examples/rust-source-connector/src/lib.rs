//! A source connector that counts: records `0`, `1`, `2`, … (text values) into `topic`, up
//! to `count` numbers, `batch.size` per poll. Its source offset is the next number, so a
//! restart (or a new version swapped in) continues where the committed records end.

use weir_guest::connect::{
    CommittedOffset, ConfigDef, ConfigIssue, ConfigMap, Connector, ConnectorError, SourceRecord,
    SourceTask, Value, def, issue,
};

/// The one source partition this connector has.
const PARTITION: &str = r#"{"counter":"numbers"}"#;

struct Counter;

/// A positive number under `key`, or `default` when it is not set.
fn number(config: &ConfigMap, key: &str, default: u64) -> Result<u64, String> {
    match config.get(key).map(|v| v.trim()) {
        None | Some("") => Ok(default),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{key} must be a positive integer, not {v:?}")),
        },
    }
}

impl Connector for Counter {
    fn config_defs() -> Vec<ConfigDef> {
        vec![
            def("topic", "STRING", true, None, "The topic the numbers go to."),
            def("count", "LONG", false, None, "How many numbers to produce (no end if unset)."),
            def("batch.size", "INT", false, Some("100"), "Most numbers one poll answers."),
        ]
    }

    fn validate(config: &ConfigMap) -> Vec<ConfigIssue> {
        let mut issues = Vec::new();
        if config.get("topic").is_none_or(|t| t.trim().is_empty()) {
            issues.push(issue("topic", "Missing required configuration \"topic\" which has no default value."));
        }
        for key in ["count", "batch.size"] {
            if let Err(e) = number(config, key, 1) {
                issues.push(issue(key, e));
            }
        }
        issues
    }

    fn task_configs(config: &ConfigMap, _max_tasks: u32) -> Result<Vec<ConfigMap>, ConnectorError> {
        // One counter: a second task would count the same numbers again.
        Ok(vec![config.clone()])
    }
}

struct CounterTask {
    topic: String,
    next: u64,
    end: u64,
    batch: u64,
}

/// The next number the committed offsets name, 0 if none.
fn resume_at(offsets: &[CommittedOffset]) -> Result<u64, ConnectorError> {
    let Some(o) = offsets.first() else {
        return Ok(0);
    };
    let offset: serde_json::Value = serde_json::from_str(&o.source_offset)
        .map_err(|e| ConnectorError::Failed(format!("committed offset {}: {e}", o.source_offset)))?;
    offset
        .get("next")
        .and_then(|n| n.as_u64())
        .ok_or_else(|| ConnectorError::Failed(format!("committed offset {} has no \"next\"", o.source_offset)))
}

impl SourceTask for CounterTask {
    fn start(config: &ConfigMap, offsets: Vec<CommittedOffset>) -> Result<Self, ConnectorError> {
        let topic = config
            .get("topic")
            .filter(|t| !t.trim().is_empty())
            .cloned()
            .ok_or_else(|| ConnectorError::InvalidConfig("topic is required".into()))?;
        Ok(CounterTask {
            topic,
            next: resume_at(&offsets)?,
            end: number(config, "count", u64::MAX).map_err(ConnectorError::InvalidConfig)?,
            batch: number(config, "batch.size", 100).map_err(ConnectorError::InvalidConfig)?,
        })
    }

    fn poll(&mut self, max_records: u32) -> Result<Vec<SourceRecord>, ConnectorError> {
        let n = (self.end - self.next).min(self.batch).min(u64::from(max_records));
        let out = (self.next..self.next + n)
            .map(|i| SourceRecord {
                source_partition: PARTITION.to_string(),
                source_offset: format!("{{\"next\":{}}}", i + 1),
                topic: self.topic.clone(),
                kafka_partition: None,
                key: Value::Null,
                value: Value::Text(i.to_string()),
                headers: Vec::new(),
                timestamp: None,
            })
            .collect();
        self.next += n;
        Ok(out)
    }
}

weir_guest::source_connector!(Counter, CounterTask);
