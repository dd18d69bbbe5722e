//! `DropHeaders`: removes every header whose name is listed in `headers`.

use weir_guest::Error;

use crate::config::Keys;
use crate::record::Working;

/// Configured `DropHeaders`.
#[derive(Debug)]
pub struct DropHeaders {
    headers: Vec<String>,
}

impl DropHeaders {
    /// From `headers`.
    pub fn build(keys: &Keys<'_>) -> Result<DropHeaders, Error> {
        Ok(DropHeaders {
            headers: keys.require_list("headers")?,
        })
    }

    /// Drops the named headers.
    pub fn apply(&self, record: &mut Working<'_>) -> Result<(), Error> {
        record
            .headers_mut()
            .retain(|(k, _)| !self.headers.iter().any(|h| h == k));
        Ok(())
    }
}
