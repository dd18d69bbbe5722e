//! The key-selector world's glue: what a `#[key_selector]` function may answer, and the
//! run over a batch.

use crate::bindings::exports::weir::plugin::key_selecting::{KeySelectorError, SelectedKeys};
use crate::bindings::weir::plugin::types::{Batch, Origin};
use crate::error::ErrorKind;
use crate::record::record_count;
use crate::run::each;
use crate::{Config, Error, Record};

/// A key selector's answer: the new key, `None` for a null one (the record is dropped,
/// unless a left join with a table reads the `group_by`: KIP-962), or a `Result` of either.
pub trait KeyAnswer {
    /// The new key, if any.
    fn into_answer(self) -> Result<Option<Vec<u8>>, Error>;
}

impl KeyAnswer for Vec<u8> {
    fn into_answer(self) -> Result<Option<Vec<u8>>, Error> {
        Ok(Some(self))
    }
}

impl KeyAnswer for Option<Vec<u8>> {
    fn into_answer(self) -> Result<Option<Vec<u8>>, Error> {
        Ok(self)
    }
}

impl<E: Into<Error>> KeyAnswer for Result<Vec<u8>, E> {
    fn into_answer(self) -> Result<Option<Vec<u8>>, Error> {
        self.map(Some).map_err(Into::into)
    }
}

impl<E: Into<Error>> KeyAnswer for Result<Option<Vec<u8>>, E> {
    fn into_answer(self) -> Result<Option<Vec<u8>>, Error> {
        self.map_err(Into::into)
    }
}

/// Runs a key selector over a batch: one key (or none) per record, failures apart.
pub fn run_select(
    origin: Origin,
    batch: Batch,
    mut f: impl FnMut(&Record<'_>, &Config) -> Result<Option<Vec<u8>>, Error>,
) -> Result<SelectedKeys, KeySelectorError> {
    let mut keys = vec![None; record_count(&batch)];
    let failures = each(&origin, &batch, |i, r, c| {
        let key = f(&r, c)?;
        if let Some(slot) = keys.get_mut(i as usize) {
            *slot = key;
        }
        Ok(())
    })
    .map_err(|e| match e.kind {
        ErrorKind::InvalidConfig => KeySelectorError::InvalidConfig(e.message),
        _ => KeySelectorError::Failed(e.message),
    })?;
    Ok(SelectedKeys { keys, failures })
}
