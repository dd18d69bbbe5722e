//! The aggregator world's glue: what `#[aggregator]` functions may answer, and the calls
//! that wrap their answers in the world's error variants (one per function).

use crate::Error;
use crate::error::ErrorKind;

pub use crate::bindings::exports::weir::plugin::aggregating::{
    AggregatorError, Guest as AggregatingGuest, Item as WitItem,
};

/// One input record as an aggregator sees it: never without a key or a value.
#[derive(Debug, Clone)]
pub struct Item {
    inner: WitItem,
}

impl Item {
    /// The grouping key.
    pub fn key(&self) -> &[u8] {
        &self.inner.key
    }

    /// The value.
    pub fn value(&self) -> &[u8] {
        &self.inner.value
    }

    /// The value as UTF-8 text, if it is.
    pub fn value_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.inner.value).ok()
    }

    /// Create time, ms since the Unix epoch.
    pub fn timestamp(&self) -> i64 {
        self.inner.timestamp
    }

    /// An item from its parts (for unit tests of aggregator logic).
    pub fn new(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>, timestamp: i64) -> Item {
        Item {
            inner: WitItem {
                key: key.into(),
                value: value.into(),
                timestamp,
            },
        }
    }
}

/// An aggregator function's answer: the new aggregate, or a `Result` of it.
pub trait AggregateAnswer {
    /// The aggregate, or why not.
    fn into_answer(self) -> Result<Vec<u8>, Error>;
}

impl AggregateAnswer for Vec<u8> {
    fn into_answer(self) -> Result<Vec<u8>, Error> {
        Ok(self)
    }
}

impl<E: Into<Error>> AggregateAnswer for Result<Vec<u8>, E> {
    fn into_answer(self) -> Result<Vec<u8>, Error> {
        self.map_err(Into::into)
    }
}

/// The world's error for a failed call of one function: `invalid_config` errors refuse
/// the call as such, any other names the function.
fn refused(e: Error, variant: fn(String) -> AggregatorError) -> AggregatorError {
    match e.kind {
        ErrorKind::InvalidConfig => AggregatorError::InvalidConfig(e.message),
        _ => variant(e.message),
    }
}

/// Runs `initial`.
pub fn run_initial(f: impl FnOnce() -> Result<Vec<u8>, Error>) -> Result<Vec<u8>, AggregatorError> {
    f().map_err(|e| refused(e, AggregatorError::InitialFailed))
}

/// Runs `add` over the host's item.
pub fn run_add(
    item: WitItem,
    aggregate: Vec<u8>,
    f: impl FnOnce(&Item, &[u8]) -> Result<Vec<u8>, Error>,
) -> Result<Vec<u8>, AggregatorError> {
    f(&Item { inner: item }, &aggregate).map_err(|e| refused(e, AggregatorError::AddFailed))
}

/// Runs `merge`.
pub fn run_merge(
    key: Vec<u8>,
    left: Vec<u8>,
    right: Vec<u8>,
    f: impl FnOnce(&[u8], &[u8], &[u8]) -> Result<Vec<u8>, Error>,
) -> Result<Vec<u8>, AggregatorError> {
    f(&key, &left, &right).map_err(|e| refused(e, AggregatorError::MergeFailed))
}

/// Runs `subtract` over the host's item.
pub fn run_subtract(
    item: WitItem,
    aggregate: Vec<u8>,
    f: impl FnOnce(&Item, &[u8]) -> Result<Vec<u8>, Error>,
) -> Result<Vec<u8>, AggregatorError> {
    f(&Item { inner: item }, &aggregate).map_err(|e| refused(e, AggregatorError::SubtractFailed))
}
