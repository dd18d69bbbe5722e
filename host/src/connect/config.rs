//! A connector's configuration: the keys every connector has (Connect's `name`,
//! `connector.class`, `tasks.max`, converters, `topics` / `topics.regex`, `errors.*`) and
//! weir's capability grants (`weir.allow.*`), checked once into [`ConnectorSettings`]. Every
//! other key belongs to the connector plugin, which checks it itself.

use std::collections::BTreeMap;
use std::path::{Component, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::runtime::grants::DirGrant;
use crate::runtime::http_grant::HttpGrant;
use crate::runtime::net::TcpGrant;

use super::converter::Converter;
use super::state::ConnectorType;

/// A problem with one key: (key, message in Connect's words).
pub type Issue = (String, String);

/// The converter keys and their defaults: JSON with schemas, as Connect's sample worker
/// configuration sets them, for keys and values; strings for headers (Connect's
/// SimpleHeaderConverter).
const DEFAULT_KEY: Converter = Converter::Json { schemas: true };
const DEFAULT_VALUE: Converter = Converter::Json { schemas: true };
const DEFAULT_HEADER: Converter = Converter::String;

/// Most tasks one connector may ask for: each is a thread and a Wasm instance.
pub const MAX_TASKS: u32 = 64;

/// Which topics a sink reads.
#[derive(Debug, Clone)]
pub enum SinkTopics {
    /// `topics`: these names.
    List(Vec<String>),
    /// `topics.regex`: every topic whose whole name matches.
    Regex(regex::Regex),
}

impl SinkTopics {
    /// Whether the sink reads `topic`.
    pub fn matches(&self, topic: &str) -> bool {
        match self {
            SinkTopics::List(l) => l.iter().any(|t| t == topic),
            SinkTopics::Regex(r) => r.is_match(topic),
        }
    }
}

/// `errors.tolerance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tolerance {
    /// A record that fails conversion or transformation fails the task.
    None,
    /// Such a record is skipped (and sent to the dead-letter queue if one is set).
    All,
}

/// Where a sink's failed records go (`errors.deadletterqueue.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterQueue {
    /// The topic.
    pub topic: String,
    /// Whether the `__connect.errors.*` headers are added.
    pub context_headers: bool,
}

/// The `errors.*` keys.
#[derive(Debug, Clone)]
pub struct ErrorPolicy {
    /// `errors.tolerance`.
    pub tolerance: Tolerance,
    /// `errors.retry.timeout` (0: no retries).
    pub retry_timeout: Duration,
    /// `errors.retry.delay.max.ms`.
    pub retry_delay_max: Duration,
    /// `errors.log.enable`.
    pub log: bool,
    /// `errors.log.include.messages`.
    pub log_messages: bool,
    /// The sink's dead-letter queue.
    pub dlq: Option<DeadLetterQueue>,
}

/// A connector's configuration, checked.
#[derive(Debug, Clone)]
pub struct ConnectorSettings {
    /// `name`.
    pub name: String,
    /// `connector.class`, as written.
    pub class: String,
    /// `tasks.max`.
    pub tasks_max: u32,
    /// `key.converter`.
    pub key: Converter,
    /// `value.converter`.
    pub value: Converter,
    /// `header.converter`.
    pub header: Converter,
    /// A sink's topics (`None` for a source).
    pub topics: Option<SinkTopics>,
    /// `errors.*`.
    pub errors: ErrorPolicy,
    /// `weir.allow.dirs`.
    pub dirs: Vec<DirGrant>,
    /// `weir.allow.http` and the `weir.http.*` bounds.
    pub http: HttpGrant,
    /// `weir.allow.tcp`, resolved and pinned.
    pub tcp: Arc<TcpGrant>,
    /// The whole configuration, as the plugin gets it.
    pub raw: BTreeMap<String, String>,
}

fn missing(key: &str) -> Issue {
    (
        key.to_string(),
        format!("Missing required configuration \"{key}\" which has no default value."),
    )
}

fn number<T: std::str::FromStr>(
    config: &BTreeMap<String, String>,
    key: &str,
    default: T,
    kind: &str,
    issues: &mut Vec<Issue>,
) -> T {
    match config.get(key) {
        None => default,
        Some(v) => v.trim().parse().unwrap_or_else(|_| {
            issues.push((
                key.to_string(),
                format!("Invalid value {v} for configuration {key}: Not a number of type {kind}"),
            ));
            default
        }),
    }
}

fn boolean(
    config: &BTreeMap<String, String>,
    key: &str,
    default: bool,
    issues: &mut Vec<Issue>,
) -> bool {
    match config.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => default,
        Some(v) if v == "true" => true,
        Some(v) if v == "false" => false,
        Some(v) => {
            issues.push((
                key.to_string(),
                format!("Invalid value {v} for configuration {key}: Expected value to be either true or false"),
            ));
            default
        }
    }
}

/// Parses `weir.allow.dirs`: comma-separated absolute `path[:ro]`.
pub fn parse_dirs(text: &str) -> Result<Vec<DirGrant>, String> {
    let mut dirs = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (path, read_only) = match item.strip_suffix(":ro") {
            Some(p) => (p, true),
            None => (item.strip_suffix(":rw").unwrap_or(item), false),
        };
        let path = PathBuf::from(path);
        if !path.is_absolute() {
            return Err(format!("{item:?} is not an absolute path"));
        }
        if path.components().any(|c| c == Component::ParentDir) {
            return Err(format!("{item:?} has a '..' component"));
        }
        dirs.push(DirGrant { path, read_only });
    }
    Ok(dirs)
}

impl ConnectorSettings {
    /// Checks the keys every connector has. `kind` is the plugin's type when known (a sink
    /// needs `topics` or `topics.regex`). Every problem is returned, each naming its key.
    pub fn parse(
        config: &BTreeMap<String, String>,
        kind: Option<ConnectorType>,
    ) -> Result<ConnectorSettings, Vec<Issue>> {
        let mut issues = Vec::new();
        let name = config
            .get("name")
            .map(|n| n.trim().to_string())
            .unwrap_or_default();
        if name.is_empty() {
            issues.push(missing("name"));
        } else if name.len() > 249 || name.chars().any(|c| c.is_control() || c == '/') {
            issues.push((
                "name".into(),
                format!("Invalid value {name} for configuration name: a name of at most 249 characters without '/' or control characters is required"),
            ));
        }
        let class = config
            .get("connector.class")
            .map(|c| c.trim().to_string())
            .unwrap_or_default();
        if class.is_empty() {
            issues.push(missing("connector.class"));
        }
        let tasks_max: u32 = number(config, "tasks.max", 1, "INT", &mut issues);
        if !(1..=MAX_TASKS).contains(&tasks_max) {
            issues.push((
                "tasks.max".into(),
                format!("Invalid value {tasks_max} for configuration tasks.max: Value must be at least 1 and at most {MAX_TASKS}"),
            ));
        }
        let mut conv = |prefix: &str, default| {
            Converter::from_config(config, prefix, default).unwrap_or_else(|issue| {
                issues.push(issue);
                default
            })
        };
        let key = conv("key.converter", DEFAULT_KEY);
        let value = conv("value.converter", DEFAULT_VALUE);
        let header = conv("header.converter", DEFAULT_HEADER);
        let topics = match (config.get("topics"), config.get("topics.regex")) {
            (Some(_), Some(_)) => {
                issues.push((
                    "topics".into(),
                    "topics and topics.regex are mutually exclusive options, but both are set."
                        .into(),
                ));
                None
            }
            (Some(t), None) => {
                let list: Vec<String> = t
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                Some(SinkTopics::List(list))
            }
            (None, Some(r)) => match regex::Regex::new(&format!("^(?:{r})$")) {
                Ok(re) => Some(SinkTopics::Regex(re)),
                Err(e) => {
                    issues.push((
                        "topics.regex".into(),
                        format!("Invalid value {r} for configuration topics.regex: {e}"),
                    ));
                    None
                }
            },
            (None, None) => None,
        };
        if kind == Some(ConnectorType::Sink)
            && topics.is_none()
            && !issues.iter().any(|(k, _)| k.starts_with("topics"))
        {
            issues.push((
                "topics".into(),
                "Must configure one of topics or topics.regex".into(),
            ));
        }
        let tolerance = match config.get("errors.tolerance").map(|v| v.trim()) {
            None | Some("none") => Tolerance::None,
            Some("all") => Tolerance::All,
            Some(v) => {
                issues.push((
                    "errors.tolerance".into(),
                    format!("Invalid value {v} for configuration errors.tolerance: String must be one of: none, all"),
                ));
                Tolerance::None
            }
        };
        let retry_timeout: i64 = number(config, "errors.retry.timeout", 0, "LONG", &mut issues);
        let retry_delay: i64 = number(
            config,
            "errors.retry.delay.max.ms",
            60_000,
            "LONG",
            &mut issues,
        );
        let log = boolean(config, "errors.log.enable", false, &mut issues);
        let log_messages = boolean(config, "errors.log.include.messages", false, &mut issues);
        let context_headers = boolean(
            config,
            "errors.deadletterqueue.context.headers.enable",
            false,
            &mut issues,
        );
        let dlq = config
            .get("errors.deadletterqueue.topic.name")
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .map(|topic| DeadLetterQueue {
                topic,
                context_headers,
            });
        if dlq.is_some() && kind == Some(ConnectorType::Source) {
            issues.push((
                "errors.deadletterqueue.topic.name".into(),
                "The dead letter queue is only supported for sink connectors".into(),
            ));
        }
        let dirs = match config.get("weir.allow.dirs") {
            None => Vec::new(),
            Some(text) => parse_dirs(text).unwrap_or_else(|e| {
                issues.push((
                    "weir.allow.dirs".into(),
                    format!("Invalid value for configuration weir.allow.dirs: {e}; expected comma-separated absolute path[:ro]"),
                ));
                Vec::new()
            }),
        };
        let http = super::allow_http::parse(config, &mut issues);
        let mut tcp = match config.get("weir.allow.tcp") {
            None => TcpGrant::default(),
            Some(text) => super::allow_tcp::parse(text).unwrap_or_else(|e| {
                issues.push((
                    "weir.allow.tcp".into(),
                    format!("Invalid value for configuration weir.allow.tcp: {e}; expected comma-separated host:port"),
                ));
                TcpGrant::default()
            }),
        };
        match super::allow_tcp::max_sockets(config) {
            Ok(n) => tcp.max_sockets = n,
            Err(issue) => issues.push(issue),
        }
        if !issues.is_empty() {
            return Err(issues);
        }
        let ms = |v: i64| Duration::from_millis(v.max(0) as u64);
        Ok(ConnectorSettings {
            name,
            class,
            tasks_max,
            key,
            value,
            header,
            topics,
            errors: ErrorPolicy {
                tolerance,
                retry_timeout: if retry_timeout < 0 {
                    Duration::MAX
                } else {
                    ms(retry_timeout)
                },
                retry_delay_max: ms(retry_delay),
                log,
                log_messages,
                dlq,
            },
            dirs,
            http,
            tcp: Arc::new(tcp),
            raw: config.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_problem_is_named_by_its_key() {
        let c = cfg(&[
            ("tasks.max", "x"),
            ("errors.tolerance", "some"),
            ("weir.allow.dirs", "rel/dir"),
            ("weir.allow.tcp", "db"),
        ]);
        let issues = ConnectorSettings::parse(&c, Some(ConnectorType::Sink)).unwrap_err();
        let keys: Vec<&str> = issues.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "name",
                "connector.class",
                "tasks.max",
                "topics",
                "errors.tolerance",
                "weir.allow.dirs",
                "weir.allow.tcp"
            ]
        );
    }

    #[test]
    fn a_valid_sink_config_is_understood() {
        let c = cfg(&[
            ("name", "s"),
            ("connector.class", "FileStreamSink"),
            ("topics.regex", "in-.*"),
            ("errors.tolerance", "all"),
            ("errors.deadletterqueue.topic.name", "dlq"),
            ("weir.allow.dirs", "/tmp/a:ro, /tmp/b"),
            ("weir.allow.tcp", "127.0.0.1:5432"),
        ]);
        let s = ConnectorSettings::parse(&c, Some(ConnectorType::Sink)).unwrap();
        let topics = s.topics.unwrap();
        assert!(topics.matches("in-1") && !topics.matches("xin-1") && !topics.matches("in"));
        assert_eq!(s.errors.tolerance, Tolerance::All);
        assert_eq!(s.dirs.len(), 2);
        assert!(s.tcp.allows("127.0.0.1:5432".parse().unwrap()));
        assert!(s.dirs[0].read_only && !s.dirs[1].read_only);
        assert_eq!(s.key, Converter::Json { schemas: true });
    }
}
