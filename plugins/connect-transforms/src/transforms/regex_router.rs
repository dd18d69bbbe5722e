//! `RegexRouter`: a topic that `regex` matches as a whole is renamed to `replacement`
//! (Java's `$1` / `${name}` syntax); other topics stay.

use regex_lite::Regex;
use weir_guest::Error;

use crate::config::Keys;
use crate::predicates::whole_match;
use crate::record::Working;
use crate::replacement::Replacement;

/// Configured `RegexRouter`.
#[derive(Debug)]
pub struct RegexRouter {
    regex: Regex,
    replacement: Replacement,
}

impl RegexRouter {
    /// From `regex` and `replacement`.
    pub fn build(keys: &Keys<'_>) -> Result<RegexRouter, Error> {
        let regex =
            whole_match(keys.require_non_empty("regex")?).map_err(|e| keys.invalid("regex", &e))?;
        let replacement = Replacement::parse(keys.require("replacement")?, &regex)
            .map_err(|e| keys.invalid("replacement", &e))?;
        Ok(RegexRouter { regex, replacement })
    }

    /// Renames the topic if it matches.
    pub fn apply(&self, record: &mut Working<'_>) -> Result<(), Error> {
        if let Some(caps) = self.regex.captures(record.topic()) {
            let topic = self.replacement.expand(&caps);
            record.topic = Some(topic);
        }
        Ok(())
    }
}
