//! [`ModuleRef`]: a module by name and optional version, or a built-in plugin, as a
//! step names it; and [`check_name`], the rule for module, pipeline and step names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
/// A module by name, optionally pinned to a version (`name` or `name@3`), or a built-in
/// plugin of the catalog (`builtin:NAME`, never versioned: it ships with the binary).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModuleRef {
    /// Module name (`builtin:NAME` for a built-in plugin).
    pub name: String,
    /// Pinned version; `None` means the newest at deploy time.
    pub version: Option<u32>,
}

/// How a step names a built-in plugin: `builtin:InsertField$Value`.
pub const BUILTIN_PREFIX: &str = "builtin:";

/// Most characters in a built-in plugin's name (a Java class name, for Connect's).
const MAX_BUILTIN_NAME_LEN: usize = 256;

impl ModuleRef {
    /// The built-in plugin's name, for a `builtin:NAME` reference.
    pub fn builtin(&self) -> Option<&str> {
        self.name.strip_prefix(BUILTIN_PREFIX)
    }
}

/// A built-in name: a plugin's or one of its types' (`InsertField$Value`, or Connect's
/// fully qualified `org.apache.kafka.connect.transforms.InsertField$Value`).
fn check_builtin(s: &str, name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_BUILTIN_NAME_LEN {
        return Err(format!(
            "{s:?} names no built-in plugin: say builtin:NAME, NAME 1–{MAX_BUILTIN_NAME_LEN} characters"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '$')))
    {
        return Err(format!(
            "{s:?} contains {bad:?}; a built-in name has only ASCII letters, digits, '.', '_', '-' and '$'"
        ));
    }
    Ok(())
}

impl FromStr for ModuleRef {
    type Err = String;

    fn from_str(s: &str) -> Result<ModuleRef, String> {
        if let Some(name) = s.strip_prefix(BUILTIN_PREFIX) {
            if name.contains('@') {
                return Err(format!(
                    "{s:?}: a built-in plugin ships with weir and has no versions to pin"
                ));
            }
            check_builtin(s, name)?;
            return Ok(ModuleRef {
                name: s.to_string(),
                version: None,
            });
        }
        let (name, version) = match s.split_once('@') {
            Some((name, v)) => {
                let v: u32 = v.parse().map_err(|_| {
                    format!("version {v:?} in {s:?} is not a positive whole number")
                })?;
                if v == 0 {
                    return Err(format!("versions start at 1, {s:?} names 0"));
                }
                (name, Some(v))
            }
            None => (s, None),
        };
        check_name("module", name)?;
        Ok(ModuleRef {
            name: name.to_string(),
            version,
        })
    }
}

impl fmt::Display for ModuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.version {
            Some(v) => write!(f, "{}@{v}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

impl Serialize for ModuleRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ModuleRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ModuleRef, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Most characters in a module or pipeline name.
pub const MAX_NAME_LEN: usize = 128;

/// Module and pipeline names: 1–128 ASCII letters, digits, `.`, `_`, `-`, not `.`/`..`.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{what} name is empty"));
    }
    if name == "." || name == ".." {
        return Err(format!("{what} name cannot be {name:?}"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "{what} name is {} characters long; the maximum is {MAX_NAME_LEN}",
            name.len()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "{what} name {name:?} contains {bad:?}; only ASCII letters, digits, '.', '_' and '-' are allowed"
        ));
    }
    Ok(())
}
