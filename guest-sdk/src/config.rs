//! Typed access to the plugin's configuration.

use std::str::FromStr;
use std::sync::OnceLock;

use crate::Error;
use crate::search::same_bytes;

/// The configuration the plugin was deployed with; read once per instance, then cached.
///
/// Entries are kept sorted in a plain list: a configuration has a handful of keys, and a
/// filter looks one up for every record, so a scan that compares lengths first (and bytes
/// without `memcmp`) beats a tree of strings.
#[derive(Debug, Clone, Default)]
pub struct Config {
    entries: Vec<(String, String)>,
}

/// Sorted by key, the last value of a repeated key kept (as a map would).
fn sorted(entries: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut entries: Vec<_> = entries.into_iter().collect();
    entries.reverse();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.dedup_by(|later, earlier| later.0 == earlier.0);
    entries
}

static CONFIG: OnceLock<Config> = OnceLock::new();

/// Settings a plugin builds from its configuration once per instance. A filter, map or
/// flat-map whose second parameter is `&T` for such a `T` (instead of `&Config`) gets it
/// built on the first batch and then handed over as it is: no key is looked up per record,
/// and values derived from the configuration (a parsed number, a compiled pattern) are
/// computed once.
///
/// Usually derived: each named field is read from the key of the same name and parsed as a
/// [`ConfigValue`]; `#[config(rename = "key")]` reads another key, an `Option<_>` field or
/// `#[config(default = expr)]` (`#[config(default)]` for `Default::default()`) makes the key
/// optional. A missing key or a value that does not parse refuses the batch with an error
/// naming the key.
///
/// ```text
/// #[derive(FromConfig)]
/// struct Settings {
///     pattern: Vec<u8>,              // required: the bytes of `pattern`
///     #[config(rename = "max-len", default = 1024)]
///     max_len: usize,
///     label: Option<String>,
/// }
///
/// #[filter]
/// fn keep(record: &Record, settings: &Settings) -> bool {
///     record.value().is_some_and(|v| v.len() <= settings.max_len && contains(v, &settings.pattern))
/// }
/// ```
///
/// Implement it by hand for anything the derive cannot express (a value built from several keys).
pub trait FromConfig: Sized + Send + Sync + 'static {
    /// Builds the settings; an error refuses every batch as an invalid configuration (and is
    /// tried again on the next one).
    fn from_config(config: &Config) -> Result<Self, Error>;
}

/// A value a settings field can hold, parsed from its configuration string: what
/// `#[derive(FromConfig)]` calls for each field. Implemented for `String`, `Vec<u8>` (the bytes
/// of the string), `bool` (`true`/`false`), `char` and every integer and float type (as Rust
/// parses them); implement it for a type of your own to use that type in a derived struct.
pub trait ConfigValue: Sized {
    /// The value of `text`, or why it is not one (the SDK adds the key and the text).
    fn from_config_value(text: &str) -> Result<Self, String>;
}

impl ConfigValue for String {
    fn from_config_value(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }
}

impl ConfigValue for Vec<u8> {
    fn from_config_value(text: &str) -> Result<Self, String> {
        Ok(text.as_bytes().to_vec())
    }
}

/// `ConfigValue` through the type's `FromStr`, for the std types that have one.
macro_rules! config_value_from_str {
    ($($ty:ty),*) => {$(
        impl ConfigValue for $ty {
            fn from_config_value(text: &str) -> Result<Self, String> {
                text.parse().map_err(|e: <$ty as FromStr>::Err| e.to_string())
            }
        }
    )*};
}

config_value_from_str!(
    bool, char, u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64
);

/// The value of a key that must be set (used by `#[derive(FromConfig)]`): an error names the
/// key when it is missing, and the key and the text when the text is not a `T`.
pub fn required<T: ConfigValue>(config: &Config, key: &str) -> Result<T, Error> {
    value_of(key, config.require(key)?)
}

/// The value of a key that may be unset (used by `#[derive(FromConfig)]`): `None` when unset,
/// an error naming the key and the text when the text is not a `T`.
pub fn optional<T: ConfigValue>(config: &Config, key: &str) -> Result<Option<T>, Error> {
    config.get(key).map(|text| value_of(key, text)).transpose()
}

fn value_of<T: ConfigValue>(key: &str, text: &str) -> Result<T, Error> {
    T::from_config_value(text).map_err(|reason| unparsable(key, text, reason))
}

/// The one wording of a value that does not parse, for the derive and [`Config::parse`] alike.
fn unparsable(key: &str, text: &str, reason: impl std::fmt::Display) -> Error {
    Error::invalid_config(format!("config key `{key}` = `{text}`: {reason}"))
}

/// `&Config` itself as settings: one copy per instance, after which a filter taking `&Config`
/// gets it as a plain reference like any other settings.
impl FromConfig for Config {
    fn from_config(config: &Config) -> Result<Self, Error> {
        Ok(config.clone())
    }
}

/// The settings in `cell`, built from the instance's configuration on first use.
pub fn settings<T: FromConfig>(cell: &'static OnceLock<T>) -> Result<&'static T, Error> {
    if let Some(settings) = cell.get() {
        return Ok(settings);
    }
    let built =
        T::from_config(Config::get_global()).map_err(|e| Error::invalid_config(e.message))?;
    Ok(cell.get_or_init(|| built))
}

impl Config {
    /// The instance's configuration (fetched from the host on first use).
    pub fn get_global() -> &'static Config {
        CONFIG.get_or_init(|| Config {
            entries: sorted(crate::bindings::weir::plugin::config::entries()),
        })
    }

    /// A configuration from explicit entries (for unit tests of plugin logic).
    pub fn from_entries<K: Into<String>, V: Into<String>>(
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Config {
            entries: sorted(entries.into_iter().map(|(k, v)| (k.into(), v.into()))),
        }
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| same_bytes(k.as_bytes(), key.as_bytes()))
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key`, or an error naming the missing key.
    pub fn require(&self, key: &str) -> Result<&str, Error> {
        self.get(key)
            .ok_or_else(|| Error::invalid_config(format!("missing config key `{key}`")))
    }

    /// The value of `key` parsed as `T`; `None` when unset, an error when unparsable.
    pub fn parse<T: FromStr>(&self, key: &str) -> Result<Option<T>, Error>
    where
        T::Err: std::fmt::Display,
    {
        self.get(key)
            .map(|v| v.parse::<T>().map_err(|e| unparsable(key, v, e)))
            .transpose()
    }

    /// Every entry, sorted by key.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::Config;

    #[test]
    fn lookups_find_each_key_and_a_repeated_key_keeps_its_last_value() {
        let c = Config::from_entries([("b", "1"), ("a", "2"), ("b", "3"), ("pattern", "x")]);
        assert_eq!(c.get("a"), Some("2"));
        assert_eq!(c.get("b"), Some("3"));
        assert_eq!(c.get("pattern"), Some("x"));
        assert_eq!(c.get("patter"), None);
        assert_eq!(c.get(""), None);
        let keys: Vec<_> = c.entries().map(|(k, _)| k).collect();
        assert_eq!(keys, ["a", "b", "pattern"]);
        assert!(c.require("missing").is_err());
    }
}
