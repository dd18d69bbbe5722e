//! An HTTP sink connector: POSTs the records of `topics` to `http.url`, as one JSON array per
//! batch (`http.request.mode=batch`) or one request per record (`single`).
//!
//! A 429 or 5xx answer (or no answer) is retried with backoff (`retry.backoff.ms`, doubled per
//! attempt, or the server's `Retry-After` seconds) up to `retry.max` times; then, and for any
//! other non-2xx answer at once, the request's records are reported to the host, which sends
//! them to the dead-letter queue (`errors.tolerance=all`) or fails the task (`none`). Requests
//! go out in the order of the batch, one at a time, so each partition's order is kept; a
//! request delivered is never sent again when the host offers the batch again.

use std::collections::VecDeque;
use std::time::Duration;

use weir_guest::connect::{
    ConfigDef, ConfigIssue, ConfigMap, Connector, ConnectorError, SinkRecord, SinkTask,
    TopicPartitionOffset, Value, def, issue, report,
};
use weir_guest::http::{self, HttpError, Url};

const DEFAULT_HEADERS: &str = "Content-Type:application/json";
const DEFAULT_RETRY_MAX: u32 = 5;
const DEFAULT_BACKOFF_MS: u64 = 500;
const DEFAULT_BATCH: usize = 500;
/// Longest backoff or `Retry-After` honoured.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// Most time one `put` spends sending and waiting before it hands control back (the host
/// offers the batch again): a call must end within the host's deadline.
const DEFAULT_BUDGET: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Batch,
    Single,
}

/// The checked configuration.
struct Settings {
    url: String,
    mode: Mode,
    headers: Vec<(String, String)>,
    retry_max: u32,
    backoff: Duration,
    batch: usize,
    budget: Duration,
}

fn number<T: std::str::FromStr>(config: &ConfigMap, key: &str, default: T) -> Result<T, String> {
    match config.get(key) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| {
            format!("Invalid value {v} for configuration {key}: a non-negative integer is required")
        }),
    }
}

/// The configuration, or every problem with it, per key.
fn settings(config: &ConfigMap) -> Result<Settings, Vec<ConfigIssue>> {
    let mut issues = Vec::new();
    let url = config.get("http.url").map(|u| u.trim().to_string());
    match &url {
        None => issues.push(issue(
            "http.url",
            "Missing required configuration \"http.url\" which has no default value.",
        )),
        Some(u) => match Url::parse(u) {
            Ok(p) if p.scheme == "http" || p.scheme == "https" => {}
            Ok(_) => issues.push(issue("http.url", format!("{u:?} is not an http:// URL"))),
            Err(e) => issues.push(issue("http.url", e.to_string())),
        },
    }
    let mode = match config.get("http.request.mode").map(|m| m.trim()) {
        None | Some("batch") => Mode::Batch,
        Some("single") => Mode::Single,
        Some(m) => {
            issues.push(issue(
                "http.request.mode",
                format!("Invalid value {m} for configuration http.request.mode: String must be one of: batch, single"),
            ));
            Mode::Batch
        }
    };
    let text = config
        .get("http.headers")
        .map_or(DEFAULT_HEADERS, String::as_str);
    let headers = http::parse_headers(text).unwrap_or_else(|e| {
        issues.push(issue(
            "http.headers",
            format!("Invalid value for configuration http.headers: {e}; expected Name:value|Name2:value2"),
        ));
        Vec::new()
    });
    let mut num = |key: &str, default: u64| {
        number(config, key, default).unwrap_or_else(|e| {
            issues.push(issue(key, e));
            default
        })
    };
    let retry_max = num("retry.max", u64::from(DEFAULT_RETRY_MAX));
    let backoff = num("retry.backoff.ms", DEFAULT_BACKOFF_MS);
    let batch = num("http.batch.size", DEFAULT_BATCH as u64);
    let timeout = num("weir.http.timeout.ms", DEFAULT_BUDGET.as_millis() as u64);
    if batch == 0 {
        issues.push(issue(
            "http.batch.size",
            "Invalid value 0 for configuration http.batch.size: Value must be at least 1",
        ));
    }
    if retry_max > 1000 {
        issues.push(issue(
            "retry.max",
            format!(
                "Invalid value {retry_max} for configuration retry.max: Value must be at most 1000"
            ),
        ));
    }
    match (issues.is_empty(), url) {
        (true, Some(url)) => Ok(Settings {
            url,
            mode,
            headers,
            retry_max: retry_max as u32,
            backoff: Duration::from_millis(backoff).min(MAX_WAIT),
            batch: batch as usize,
            budget: Duration::from_millis(timeout).min(DEFAULT_BUDGET),
        }),
        _ => Err(issues),
    }
}

struct HttpSink;

impl Connector for HttpSink {
    fn config_defs() -> Vec<ConfigDef> {
        vec![
            def(
                "http.url",
                "STRING",
                true,
                None,
                "Where records are POSTed; its origin must be in weir.allow.http.",
            ),
            def(
                "http.request.mode",
                "STRING",
                false,
                Some("batch"),
                "batch: one JSON array of values per request; single: one request per record, its value as the body.",
            ),
            def(
                "http.headers",
                "STRING",
                false,
                Some(DEFAULT_HEADERS),
                "Request headers, Name:value|Name2:value2.",
            ),
            def(
                "http.batch.size",
                "INT",
                false,
                Some("500"),
                "Most records in one batch request.",
            ),
            def(
                "retry.max",
                "INT",
                false,
                Some("5"),
                "Retries of a request answered 429 or 5xx (or not answered) before its records go to the dead-letter queue.",
            ),
            def(
                "retry.backoff.ms",
                "LONG",
                false,
                Some("500"),
                "First wait before a retry, doubled per attempt; a Retry-After header (seconds) is honoured instead.",
            ),
        ]
    }

    fn validate(config: &ConfigMap) -> Vec<ConfigIssue> {
        settings(config).err().unwrap_or_default()
    }

    fn task_configs(config: &ConfigMap, max_tasks: u32) -> Result<Vec<ConfigMap>, ConnectorError> {
        // Tasks split the partitions (the host's doing); each posts its own in order.
        Ok((0..max_tasks.max(1)).map(|_| config.clone()).collect())
    }
}

/// One request to make: its body, the records it carries, and its retry state.
struct Pending {
    body: Vec<u8>,
    records: Vec<SinkRecord>,
    attempts: u32,
    /// Monotonic nanoseconds before which it is not sent again.
    not_before: u64,
}

struct HttpSinkTask {
    s: Settings,
    /// Requests of the batch being put not yet delivered or given up, in order.
    queue: VecDeque<Pending>,
}

/// A value as an element of a JSON array: JSON stays JSON, text and bytes become strings.
fn json_of(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Json(j) => j.clone(),
        Value::Text(t) => serde_json::Value::String(t.clone()).to_string(),
        Value::Bytes(b) => {
            serde_json::Value::String(String::from_utf8_lossy(b).into_owned()).to_string()
        }
    }
}

/// A value as a request body of its own.
fn body_of(v: &Value) -> Vec<u8> {
    match v {
        Value::Null => Vec::new(),
        Value::Json(s) | Value::Text(s) => s.clone().into_bytes(),
        Value::Bytes(b) => b.clone(),
    }
}

impl HttpSinkTask {
    fn enqueue(&mut self, records: Vec<SinkRecord>) {
        match self.s.mode {
            Mode::Single => {
                for r in records {
                    self.queue.push_back(Pending {
                        body: body_of(&r.value),
                        records: vec![r],
                        attempts: 0,
                        not_before: 0,
                    });
                }
            }
            Mode::Batch => {
                let mut records = records;
                while !records.is_empty() {
                    let rest = records.split_off(records.len().min(self.s.batch));
                    let parts: Vec<String> = records.iter().map(|r| json_of(&r.value)).collect();
                    self.queue.push_back(Pending {
                        body: format!("[{}]", parts.join(",")).into_bytes(),
                        records,
                        attempts: 0,
                        not_before: 0,
                    });
                    records = rest;
                }
            }
        }
    }

    /// The front request failed in a way worth retrying: schedule it, or give its records up.
    fn retry_front(&mut self, why: &str, retry_after: Option<&str>) {
        let Some(front) = self.queue.front_mut() else {
            return;
        };
        front.attempts += 1;
        if front.attempts > self.s.retry_max {
            let message = format!(
                "{} gave up after {} attempts: {why}",
                self.s.url, front.attempts
            );
            if let Some(p) = self.queue.pop_front() {
                for r in &p.records {
                    report(r, &message);
                }
            }
            return;
        }
        let server = retry_after
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let doubling = 2u32.saturating_pow(front.attempts - 1);
        let wait = server
            .unwrap_or_else(|| self.s.backoff.saturating_mul(doubling))
            .min(MAX_WAIT);
        front.not_before = http::now_nanos().saturating_add(wait.as_nanos() as u64);
    }
}

impl SinkTask for HttpSinkTask {
    fn start(config: &ConfigMap, _committed: Option<String>) -> Result<Self, ConnectorError> {
        let s = settings(config).map_err(|issues| {
            let text: Vec<String> = issues
                .into_iter()
                .map(|i| format!("{}: {}", i.key, i.message))
                .collect();
            ConnectorError::InvalidConfig(text.join("; "))
        })?;
        Ok(HttpSinkTask {
            s,
            queue: VecDeque::new(),
        })
    }

    fn put(&mut self, records: Vec<SinkRecord>) -> Result<(), ConnectorError> {
        // A non-empty queue means the host offers again the batch it was told to retry: what
        // was delivered of it is not sent twice.
        if self.queue.is_empty() {
            self.enqueue(records);
        }
        let started = http::now_nanos();
        let budget = self.s.budget.as_nanos() as u64;
        while let Some(front) = self.queue.front() {
            let now = http::now_nanos();
            let spent = now.saturating_sub(started);
            if front.not_before > now {
                let wait = front.not_before - now;
                if spent.saturating_add(wait) > budget {
                    return Err(ConnectorError::Retriable(format!(
                        "{} requests wait to be retried ({} ms to the next)",
                        self.queue.len(),
                        wait / 1_000_000
                    )));
                }
                http::sleep(Duration::from_nanos(wait));
            } else if spent > budget {
                return Err(ConnectorError::Retriable(format!(
                    "{} requests still to send",
                    self.queue.len()
                )));
            }
            let answer = http::request("POST", &self.s.url, &self.s.headers, Some(&front.body));
            match answer {
                Ok(r) if (200..300).contains(&r.status) => {
                    self.queue.pop_front();
                }
                Ok(r) if r.status == 429 || r.status >= 500 => {
                    let why = format!("HTTP {}", r.status);
                    self.retry_front(&why, r.header("retry-after"));
                }
                Ok(r) => {
                    // Refused for good: these records will never be taken.
                    let body = String::from_utf8_lossy(&r.body);
                    let snippet: String = body.chars().take(200).collect();
                    let message = format!("{} answered HTTP {}: {snippet}", self.s.url, r.status);
                    if let Some(p) = self.queue.pop_front() {
                        for rec in &p.records {
                            report(rec, &message);
                        }
                    }
                }
                Err(HttpError::Denied(m)) => return Err(ConnectorError::Denied(m)),
                Err(HttpError::BadUrl(m)) => return Err(ConnectorError::Failed(m)),
                Err(HttpError::Transport(m)) => self.retry_front(&m, None),
            }
        }
        Ok(())
    }

    fn flush(&mut self, _offsets: Vec<TopicPartitionOffset>) -> Result<String, ConnectorError> {
        // Everything put was delivered (or reported) before put answered.
        Ok("{}".into())
    }
}

weir_guest::sink_connector!(HttpSink, HttpSinkTask);
