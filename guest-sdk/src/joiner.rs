//! The joiner world's glue: what a `#[joiner]` function may answer, and the call that
//! wraps its answer in the world's error variants.

use crate::Error;
use crate::error::ErrorKind;

pub use crate::bindings::exports::weir::plugin::joining::{Guest as JoiningGuest, JoinerError};

/// A joiner's answer: the joined value, `None` for a null value, or a `Result` of either.
pub trait JoinAnswer {
    /// The joined value, if any, or why not.
    fn into_answer(self) -> Result<Option<Vec<u8>>, Error>;
}

impl JoinAnswer for Vec<u8> {
    fn into_answer(self) -> Result<Option<Vec<u8>>, Error> {
        Ok(Some(self))
    }
}

impl JoinAnswer for Option<Vec<u8>> {
    fn into_answer(self) -> Result<Option<Vec<u8>>, Error> {
        Ok(self)
    }
}

impl<E: Into<Error>> JoinAnswer for Result<Vec<u8>, E> {
    fn into_answer(self) -> Result<Option<Vec<u8>>, Error> {
        self.map(Some).map_err(Into::into)
    }
}

impl<E: Into<Error>> JoinAnswer for Result<Option<Vec<u8>>, E> {
    fn into_answer(self) -> Result<Option<Vec<u8>>, Error> {
        self.map_err(Into::into)
    }
}

/// Runs `join` over the host's key and values: an `invalid_config` error refuses the call
/// as such (the batch fails), any other fails the pair's record.
pub fn run_join(
    key: Option<Vec<u8>>,
    left: Option<Vec<u8>>,
    right: Option<Vec<u8>>,
    f: impl FnOnce(Option<&[u8]>, Option<&[u8]>, Option<&[u8]>) -> Result<Option<Vec<u8>>, Error>,
) -> Result<Option<Vec<u8>>, JoinerError> {
    f(key.as_deref(), left.as_deref(), right.as_deref()).map_err(|e| match e.kind {
        ErrorKind::InvalidConfig => JoinerError::InvalidConfig(e.message),
        _ => JoinerError::JoinFailed(e.message),
    })
}
