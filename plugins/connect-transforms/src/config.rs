//! Connect's config value forms, read from the plugin's configuration under a prefix (`""`
//! for the transformation, `predicates.p.` for its predicate), with errors naming the key.

use weir_guest::{Config, Error};

/// The keys of one transformation or predicate: `prefix` + Connect's key.
pub struct Keys<'a> {
    config: &'a Config,
    prefix: String,
}

impl<'a> Keys<'a> {
    /// The keys under `prefix`.
    pub fn new(config: &'a Config, prefix: impl Into<String>) -> Keys<'a> {
        Keys {
            config,
            prefix: prefix.into(),
        }
    }

    /// The full key of `key`, as the user wrote it.
    pub fn name(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.config.get(&self.name(key))
    }

    /// The value of `key`, or an error naming it.
    pub fn require(&self, key: &str) -> Result<&'a str, Error> {
        self.get(key)
            .ok_or_else(|| self.invalid(key, "is required"))
    }

    /// A non-empty value of `key`, or an error naming it.
    pub fn require_non_empty(&self, key: &str) -> Result<&'a str, Error> {
        match self.require(key)?.trim() {
            "" => Err(self.invalid(key, "must not be empty")),
            v => Ok(v),
        }
    }

    /// A comma-separated list (Connect's LIST type: items trimmed, empty ones dropped).
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key).map(split_list).unwrap_or_default()
    }

    /// A list that must have at least one item.
    pub fn require_list(&self, key: &str) -> Result<Vec<String>, Error> {
        let list = split_list(self.require(key)?);
        if list.is_empty() {
            return Err(self.invalid(key, "must list at least one item"));
        }
        Ok(list)
    }

    /// A boolean (`true`/`false`, any case, as Connect's BOOLEAN type); `default` when unset.
    pub fn bool(&self, key: &str, default: bool) -> Result<bool, Error> {
        match self.get(key).map(str::trim) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(self.invalid(key, &format!("is {v:?}, expected true or false"))),
        }
    }

    /// One of `choices` (compared ignoring case); `default` when unset.
    pub fn choice(
        &self,
        key: &str,
        choices: &[&'static str],
        default: Option<&'static str>,
    ) -> Result<&'static str, Error> {
        let Some(v) = self.get(key).map(str::trim) else {
            return default.ok_or_else(|| self.invalid(key, "is required"));
        };
        choices
            .iter()
            .find(|c| c.eq_ignore_ascii_case(v))
            .copied()
            .ok_or_else(|| {
                self.invalid(
                    key,
                    &format!("is {v:?}, expected one of {}", choices.join(", ")),
                )
            })
    }

    /// The invalid-config error for `key`.
    pub fn invalid(&self, key: &str, why: &str) -> Error {
        Error::invalid_config(format!("config key `{}` {why}", self.name(key)))
    }
}

/// Connect's LIST parsing: split on commas, trim, drop empty items.
pub fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
