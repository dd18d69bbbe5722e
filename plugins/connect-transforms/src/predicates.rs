//! Connect's three predicates: TopicNameMatches, HasHeaderKey, RecordIsTombstone.

use regex_lite::Regex;
use weir_guest::Error;

use crate::config::Keys;
use crate::record::Working;

/// A built predicate.
#[derive(Debug, Clone)]
pub enum Predicate {
    /// The record's topic matches `pattern` as a whole (Java's `Matcher.matches`).
    TopicNameMatches(Regex),
    /// The record has a header named `name`.
    HasHeaderKey(String),
    /// The record's value is null.
    RecordIsTombstone,
}

impl Predicate {
    /// The predicate `name` (short or fully qualified), configured from `keys`; `None` when
    /// `name` is no predicate.
    pub fn build(name: &str, keys: &Keys<'_>) -> Option<Result<Predicate, Error>> {
        let short = name
            .strip_prefix("org.apache.kafka.connect.transforms.predicates.")
            .unwrap_or(name);
        Some(match short {
            "TopicNameMatches" => keys
                .require_non_empty("pattern")
                .and_then(|p| whole_match(p).map_err(|e| keys.invalid("pattern", &e)))
                .map(Predicate::TopicNameMatches),
            "HasHeaderKey" => keys
                .require_non_empty("name")
                .map(|n| Predicate::HasHeaderKey(n.to_owned())),
            "RecordIsTombstone" => Ok(Predicate::RecordIsTombstone),
            _ => return None,
        })
    }

    /// Whether `record` matches.
    pub fn test(&self, record: &Working<'_>) -> bool {
        match self {
            Predicate::TopicNameMatches(re) => re.is_match(record.topic()),
            Predicate::HasHeaderKey(name) => record.has_header(name),
            Predicate::RecordIsTombstone => record.value.is_null(),
        }
    }
}

/// `pattern` anchored at both ends, as Java's `Matcher.matches` applies it.
pub fn whole_match(pattern: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| format!("is not a valid regex: {e}"))
}
