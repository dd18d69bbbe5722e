//! `InsertHeader`: adds the header `header` with the literal `value.literal`.

use weir_guest::Error;

use crate::config::Keys;
use crate::record::Working;

/// Configured `InsertHeader`.
#[derive(Debug)]
pub struct InsertHeader {
    header: String,
    value: Vec<u8>,
}

impl InsertHeader {
    /// From `header` and `value.literal`.
    pub fn build(keys: &Keys<'_>) -> Result<InsertHeader, Error> {
        Ok(InsertHeader {
            header: keys.require_non_empty("header")?.to_owned(),
            value: keys.require("value.literal")?.as_bytes().to_vec(),
        })
    }

    /// Appends the header.
    pub fn apply(&self, record: &mut Working<'_>) -> Result<(), Error> {
        let header = (self.header.clone(), Some(self.value.clone()));
        record.headers_mut().push(header);
        Ok(())
    }
}
