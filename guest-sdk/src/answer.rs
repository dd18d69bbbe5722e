//! What plugin functions may return, so plain `bool`s and records work as well as `Result`s.

use crate::{Error, OwnedRecord};

/// A filter's answer: `bool` or `Result<bool, E>`.
pub trait FilterAnswer {
    /// Whether to keep the record.
    fn into_answer(self) -> Result<bool, Error>;
}

impl FilterAnswer for bool {
    fn into_answer(self) -> Result<bool, Error> {
        Ok(self)
    }
}

impl<E: Into<Error>> FilterAnswer for Result<bool, E> {
    fn into_answer(self) -> Result<bool, Error> {
        self.map_err(Into::into)
    }
}

/// A map's answer: a record, `Option` of one (`None` drops the input), or a `Result` of either.
pub trait MapAnswer {
    /// The record to emit, if any.
    fn into_answer(self) -> Result<Option<OwnedRecord>, Error>;
}

impl MapAnswer for OwnedRecord {
    fn into_answer(self) -> Result<Option<OwnedRecord>, Error> {
        Ok(Some(self))
    }
}

impl MapAnswer for Option<OwnedRecord> {
    fn into_answer(self) -> Result<Option<OwnedRecord>, Error> {
        Ok(self)
    }
}

impl<E: Into<Error>> MapAnswer for Result<OwnedRecord, E> {
    fn into_answer(self) -> Result<Option<OwnedRecord>, Error> {
        self.map(Some).map_err(Into::into)
    }
}

impl<E: Into<Error>> MapAnswer for Result<Option<OwnedRecord>, E> {
    fn into_answer(self) -> Result<Option<OwnedRecord>, Error> {
        self.map_err(Into::into)
    }
}

/// A flat-map's answer: any number of records, or a `Result` of them.
pub trait FlatMapAnswer {
    /// The records to emit.
    fn into_answer(self) -> Result<Vec<OwnedRecord>, Error>;
}

impl FlatMapAnswer for Vec<OwnedRecord> {
    fn into_answer(self) -> Result<Vec<OwnedRecord>, Error> {
        Ok(self)
    }
}

impl<E: Into<Error>> FlatMapAnswer for Result<Vec<OwnedRecord>, E> {
    fn into_answer(self) -> Result<Vec<OwnedRecord>, Error> {
        self.map_err(Into::into)
    }
}

/// A processor's answer: `()` or `Result<(), E>`.
pub trait ProcessAnswer {
    /// Success or why not.
    fn into_answer(self) -> Result<(), Error>;
}

impl ProcessAnswer for () {
    fn into_answer(self) -> Result<(), Error> {
        Ok(())
    }
}

impl<E: Into<Error>> ProcessAnswer for Result<(), E> {
    fn into_answer(self) -> Result<(), Error> {
        self.map_err(Into::into)
    }
}
