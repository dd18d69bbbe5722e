//! MM2's topic and group filters: comma-separated Java regexes, each matching a whole name.

use regex::Regex;

/// An include list and an exclude list.
#[derive(Debug, Clone)]
pub struct NameFilter {
    include: Regex,
    exclude: Regex,
}

/// A comma-separated list of patterns as one anchored alternation (`^(?:a|b)$`); an empty
/// list matches nothing.
fn list(key: &str, patterns: &str) -> Result<Regex, String> {
    let parts: Vec<String> = patterns
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| format!("(?:{p})"))
        .collect();
    let re = if parts.is_empty() {
        // Matches nothing.
        "[^\\s\\S]".to_string()
    } else {
        format!("^(?:{})$", parts.join("|"))
    };
    Regex::new(&re).map_err(|e| format!("{key}: {e}"))
}

impl NameFilter {
    /// The filter of `include`/`exclude` lists (errors name `keys`).
    pub fn new(keys: (&str, &str), include: &str, exclude: &str) -> Result<NameFilter, String> {
        Ok(NameFilter {
            include: list(keys.0, include)?,
            exclude: list(keys.1, exclude)?,
        })
    }

    /// Whether `name` is included and not excluded.
    pub fn accepts(&self, name: &str) -> bool {
        self.include.is_match(name) && !self.exclude.is_match(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mm2_defaults_and_whole_name_matches() {
        let f = NameFilter::new(
            ("topics", "topics.exclude"),
            ".*",
            ".*[\\-\\.]internal, .*\\.replica, __.*",
        )
        .unwrap();
        assert!(f.accepts("orders"));
        assert!(!f.accepts("a.checkpoints.internal"));
        assert!(!f.accepts("__consumer_offsets"));
        let f = NameFilter::new(("topics", "topics.exclude"), "ord.*, pay", "").unwrap();
        assert!(f.accepts("orders") && f.accepts("pay"));
        assert!(!f.accepts("payments") && !f.accepts("xorders"));
        let e = NameFilter::new(("topics", "topics.exclude"), "(", "").unwrap_err();
        assert!(e.starts_with("topics: "), "{e}");
    }
}
