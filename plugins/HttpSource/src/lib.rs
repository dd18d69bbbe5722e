//! An HTTP source connector: GETs `http.url` every `poll.interval.ms` and turns each element
//! of the JSON array it answers (or the array at `http.response.records.pointer`) into a
//! record of `topic`, its value the element as JSON.
//!
//! Its source partition is `{"url": http.url}` and its offset `{"offset": "..."}`: the field
//! at `http.offset.pointer` of each element, or the `http.offset.header` of the response.
//! The offset of the last record read goes back to the server with the next request, as the
//! query parameter `http.offset.param` (or the header, written `header:NAME`): after a
//! restart the task asks from the committed offset on, so nothing is read twice. A page with
//! records is followed at once by the next; an empty one waits `poll.interval.ms`.

use std::time::Duration;

use weir_guest::connect::{
    CommittedOffset, ConfigDef, ConfigIssue, ConfigMap, Connector, ConnectorError, SourceRecord,
    SourceTask, Value, def, issue,
};
use weir_guest::http::{self, HttpError, Url};

const DEFAULT_INTERVAL_MS: u64 = 1000;
const DEFAULT_PARAM: &str = "offset";

/// Where the offset comes from.
enum OffsetFrom {
    /// A field of each element (a JSON pointer).
    Field(String),
    /// A response header.
    Header(String),
    /// Nowhere: every poll reads the whole answer again (a snapshot source).
    Nowhere,
}

/// How the offset goes back.
enum OffsetTo {
    Query(String),
    Header(String),
}

struct Settings {
    url: String,
    topic: String,
    interval: Duration,
    records_pointer: String,
    from: OffsetFrom,
    to: OffsetTo,
    headers: Vec<(String, String)>,
}

fn pointer_ok(p: &str) -> bool {
    p.is_empty() || p.starts_with('/')
}

fn settings(config: &ConfigMap) -> Result<Settings, Vec<ConfigIssue>> {
    let mut issues = Vec::new();
    let mut required = |key: &str| match config.get(key).map(|v| v.trim().to_string()) {
        Some(v) if !v.is_empty() => Some(v),
        _ => {
            issues.push(issue(
                key,
                format!("Missing required configuration \"{key}\" which has no default value."),
            ));
            None
        }
    };
    let url = required("http.url");
    let topic = required("topic");
    if let Some(u) = &url {
        match Url::parse(u) {
            Ok(p) if p.scheme == "http" || p.scheme == "https" => {}
            Ok(_) => issues.push(issue("http.url", format!("{u:?} is not an http:// URL"))),
            Err(e) => issues.push(issue("http.url", e.to_string())),
        }
    }
    let interval = match config.get("poll.interval.ms") {
        None => DEFAULT_INTERVAL_MS,
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if (1..=86_400_000).contains(&n) => n,
            _ => {
                issues.push(issue(
                    "poll.interval.ms",
                    format!("Invalid value {v} for configuration poll.interval.ms: a whole number of milliseconds from 1 to 86400000 is required"),
                ));
                DEFAULT_INTERVAL_MS
            }
        },
    };
    let mut pointer = |key: &str| {
        let p = config.get(key).map(|p| p.trim().to_string());
        if let Some(p) = p.as_ref().filter(|p| !pointer_ok(p)) {
            issues.push(issue(
                key,
                format!(
                    "Invalid value {p} for configuration {key}: a JSON pointer starts with '/'"
                ),
            ));
        }
        p
    };
    let records_pointer = pointer("http.response.records.pointer").unwrap_or_default();
    let field = pointer("http.offset.pointer");
    let header = config
        .get("http.offset.header")
        .map(|h| h.trim().to_string());
    let from = match (field, header) {
        (Some(_), Some(_)) => {
            issues.push(issue(
                "http.offset.pointer",
                "http.offset.pointer and http.offset.header are mutually exclusive, but both are set.",
            ));
            OffsetFrom::Nowhere
        }
        (Some(f), None) if !f.is_empty() => OffsetFrom::Field(f),
        (None, Some(h)) if !h.is_empty() => OffsetFrom::Header(h),
        _ => OffsetFrom::Nowhere,
    };
    let param = config
        .get("http.offset.param")
        .map_or(DEFAULT_PARAM, |p| p.trim());
    let to = match param.strip_prefix("header:") {
        Some(h) if !h.trim().is_empty() => OffsetTo::Header(h.trim().to_string()),
        None if !param.is_empty() && !param.contains(['&', '=', '#', '?', ' ']) => {
            OffsetTo::Query(param.to_string())
        }
        _ => {
            issues.push(issue(
                "http.offset.param",
                format!("Invalid value {param} for configuration http.offset.param: a query parameter name or header:NAME is required"),
            ));
            OffsetTo::Query(DEFAULT_PARAM.into())
        }
    };
    let headers = http::parse_headers(config.get("http.headers").map_or("", String::as_str))
        .unwrap_or_else(|e| {
            issues.push(issue(
                "http.headers",
                format!("Invalid value for configuration http.headers: {e}; expected Name:value|Name2:value2"),
            ));
            Vec::new()
        });
    match (issues.is_empty(), url, topic) {
        (true, Some(url), Some(topic)) => Ok(Settings {
            url,
            topic,
            interval: Duration::from_millis(interval),
            records_pointer,
            from,
            to,
            headers,
        }),
        _ => Err(issues),
    }
}

struct HttpSource;

impl Connector for HttpSource {
    fn config_defs() -> Vec<ConfigDef> {
        vec![
            def(
                "http.url",
                "STRING",
                true,
                None,
                "What is polled (GET); its origin must be in weir.allow.http.",
            ),
            def("topic", "STRING", true, None, "The topic records go to."),
            def(
                "poll.interval.ms",
                "LONG",
                false,
                Some("1000"),
                "Wait after an answer without records before asking again.",
            ),
            def(
                "http.response.records.pointer",
                "STRING",
                false,
                Some(""),
                "JSON pointer to the array of records in the answer (empty: the answer is the array).",
            ),
            def(
                "http.offset.pointer",
                "STRING",
                false,
                None,
                "JSON pointer to each element's offset (a string or number).",
            ),
            def(
                "http.offset.header",
                "STRING",
                false,
                None,
                "Response header holding the offset of the answer's records.",
            ),
            def(
                "http.offset.param",
                "STRING",
                false,
                Some(DEFAULT_PARAM),
                "Query parameter the last offset is sent back in, or header:NAME for a request header.",
            ),
            def(
                "http.headers",
                "STRING",
                false,
                Some(""),
                "Request headers, Name:value|Name2:value2.",
            ),
        ]
    }

    fn validate(config: &ConfigMap) -> Vec<ConfigIssue> {
        settings(config).err().unwrap_or_default()
    }

    fn task_configs(config: &ConfigMap, _max_tasks: u32) -> Result<Vec<ConfigMap>, ConnectorError> {
        // One URL, one reader.
        Ok(vec![config.clone()])
    }
}

struct HttpSourceTask {
    s: Settings,
    partition: String,
    /// The offset of the last record read, sent with the next request.
    offset: Option<String>,
    /// Monotonic nanoseconds before which the next request waits.
    next_due: u64,
}

/// A JSON value as an offset: strings as they are, anything else as its JSON text.
fn offset_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass).
fn encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl HttpSourceTask {
    fn offset_json(offset: &str) -> String {
        serde_json::json!({ "offset": offset }).to_string()
    }

    fn request(&self) -> Result<http::Response, HttpError> {
        let mut url = self.s.url.clone();
        let mut headers = self.s.headers.clone();
        if let Some(o) = &self.offset {
            match &self.s.to {
                OffsetTo::Query(name) => {
                    let sep = if url.contains('?') { '&' } else { '?' };
                    url = format!("{url}{sep}{name}={}", encode(o));
                }
                OffsetTo::Header(name) => headers.push((name.clone(), o.clone())),
            }
        }
        http::request("GET", &url, &headers, None)
    }
}

impl SourceTask for HttpSourceTask {
    fn start(config: &ConfigMap, offsets: Vec<CommittedOffset>) -> Result<Self, ConnectorError> {
        let s = settings(config).map_err(|issues| {
            let text: Vec<String> = issues
                .into_iter()
                .map(|i| format!("{}: {}", i.key, i.message))
                .collect();
            ConnectorError::InvalidConfig(text.join("; "))
        })?;
        let partition = serde_json::json!({ "url": s.url }).to_string();
        let mut offset = None;
        for c in offsets {
            let same = serde_json::from_str::<serde_json::Value>(&c.source_partition)
                .ok()
                .and_then(|p| p.get("url").and_then(|u| u.as_str()).map(|u| u == s.url))
                .unwrap_or(false);
            if same {
                let v: serde_json::Value = serde_json::from_str(&c.source_offset).map_err(|e| {
                    ConnectorError::Failed(format!(
                        "committed offset {} is not JSON: {e}",
                        c.source_offset
                    ))
                })?;
                offset = v.get("offset").map(offset_text);
            }
        }
        Ok(HttpSourceTask {
            s,
            partition,
            offset,
            next_due: 0,
        })
    }

    fn poll(&mut self, max_records: u32) -> Result<Vec<SourceRecord>, ConnectorError> {
        let now = http::now_nanos();
        if now < self.next_due {
            // The host asks again shortly; a short nap keeps that from spinning.
            let wait = (self.next_due - now).min(50_000_000);
            http::sleep(Duration::from_nanos(wait));
            return Ok(Vec::new());
        }
        let idle = now.saturating_add(self.s.interval.as_nanos() as u64);
        let resp = match self.request() {
            Ok(r) => r,
            Err(HttpError::Denied(m)) => return Err(ConnectorError::Denied(m)),
            Err(HttpError::BadUrl(m)) => return Err(ConnectorError::Failed(m)),
            Err(HttpError::Transport(m)) => {
                self.next_due = idle;
                return Err(ConnectorError::Retriable(m));
            }
        };
        if resp.status == 429 || resp.status >= 500 {
            self.next_due = idle;
            return Err(ConnectorError::Retriable(format!(
                "{} answered HTTP {}",
                self.s.url, resp.status
            )));
        }
        if !(200..300).contains(&resp.status) {
            return Err(ConnectorError::Failed(format!(
                "{} answered HTTP {}",
                self.s.url, resp.status
            )));
        }
        let body: serde_json::Value = serde_json::from_slice(&resp.body)
            .map_err(|e| ConnectorError::Failed(format!("{} answered no JSON: {e}", self.s.url)))?;
        let array = match body.pointer(&self.s.records_pointer) {
            Some(serde_json::Value::Array(a)) => a.clone(),
            Some(_) | None => {
                return Err(ConnectorError::Failed(format!(
                    "{} answered no JSON array at {:?} (http.response.records.pointer)",
                    self.s.url, self.s.records_pointer
                )));
            }
        };
        let page_offset = match &self.s.from {
            OffsetFrom::Header(h) => resp.header(h).map(str::to_string),
            _ => None,
        };
        let mut elements = array;
        if let OffsetFrom::Field(_) = self.s.from {
            // Per-element offsets: a page may be cut anywhere.
            elements.truncate(max_records.max(1) as usize);
        }
        let mut out = Vec::with_capacity(elements.len());
        for e in elements {
            let offset = match &self.s.from {
                OffsetFrom::Field(p) => match e.pointer(p) {
                    Some(v) => Some(offset_text(v)),
                    None => {
                        return Err(ConnectorError::Failed(format!(
                            "an element of {} has no offset at {p:?} (http.offset.pointer): {e}",
                            self.s.url
                        )));
                    }
                },
                OffsetFrom::Header(_) => page_offset.clone().or_else(|| self.offset.clone()),
                OffsetFrom::Nowhere => None,
            };
            if let Some(o) = &offset {
                self.offset = Some(o.clone());
            }
            out.push(SourceRecord {
                source_partition: self.partition.clone(),
                source_offset: Self::offset_json(offset.as_deref().unwrap_or("")),
                topic: self.s.topic.clone(),
                kafka_partition: None,
                key: Value::Null,
                value: Value::Json(e.to_string()),
                headers: Vec::new(),
                timestamp: None,
            });
        }
        if out.is_empty() {
            self.next_due = idle;
        }
        Ok(out)
    }
}

weir_guest::source_connector!(HttpSource, HttpSourceTask);
