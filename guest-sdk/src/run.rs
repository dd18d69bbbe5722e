//! The glue between the generated exports and the user's function, per kind of plugin.
//! Nothing here panics on bad input: a batch whose lists disagree is refused with an error,
//! and a span outside the batch reads as empty (the host checks spans before it sends).

use crate::bindings::weir::plugin::types::{Batch, Emit, Emitted, Origin, RecordFailure};
use crate::error::ErrorKind;
use crate::record::{BatchWriter, record_count, validate, views};
use crate::{Config, Error, OwnedRecord, Record};

/// The answer for one batch before it is wrapped in the world's own types.
pub struct Answer {
    /// What to emit.
    pub emit: Emit,
    /// Per-record failures.
    pub failures: Vec<RecordFailure>,
}

/// Calls `f` with each record of the batch; an `invalid_config` error stops the batch, any
/// other error becomes that record's failure.
pub(crate) fn each(
    origin: &Origin,
    batch: &Batch,
    mut f: impl FnMut(u32, Record<'_>, &Config) -> Result<(), Error>,
) -> Result<Vec<RecordFailure>, Error> {
    validate(batch).map_err(|m| Error::new(format!("malformed batch from the host: {m}")))?;
    let config = Config::get_global();
    let mut failures = Vec::new();
    for (index, record) in views(batch, &origin.offsets, &origin.topic, origin.partition) {
        if let Err(e) = f(index, record, config) {
            if e.kind != ErrorKind::Failed {
                return Err(e);
            }
            failures.push(RecordFailure {
                index,
                message: e.message,
            });
        }
    }
    Ok(failures)
}

/// Runs a filter over a batch: answers with the indices to keep.
pub fn run_filter(
    origin: Origin,
    batch: Batch,
    mut f: impl FnMut(&Record<'_>, &Config) -> Result<bool, Error>,
) -> Result<Answer, Error> {
    let mut keep = Vec::with_capacity(record_count(&batch));
    let failures = each(&origin, &batch, |i, r, c| {
        if f(&r, c)? {
            keep.push(i);
        }
        Ok(())
    })?;
    Ok(Answer {
        emit: Emit::Keep(keep),
        failures,
    })
}

/// Runs a map over a batch.
pub fn run_map(
    origin: Origin,
    batch: Batch,
    mut f: impl FnMut(&Record<'_>, &Config) -> Result<Option<OwnedRecord>, Error>,
) -> Result<Answer, Error> {
    let mut out = BatchWriter::default();
    let failures = each(&origin, &batch, |i, r, c| {
        if let Some(rec) = f(&r, c)? {
            out.push(&rec, i);
        }
        Ok(())
    })?;
    Ok(emitted(out, failures))
}

/// Runs a flat-map over a batch.
pub fn run_flat_map(
    origin: Origin,
    batch: Batch,
    mut f: impl FnMut(&Record<'_>, &Config) -> Result<Vec<OwnedRecord>, Error>,
) -> Result<Answer, Error> {
    let mut out = BatchWriter::default();
    let failures = each(&origin, &batch, |i, r, c| {
        for rec in f(&r, c)? {
            out.push(&rec, i);
        }
        Ok(())
    })?;
    Ok(emitted(out, failures))
}

fn emitted(out: BatchWriter, failures: Vec<RecordFailure>) -> Answer {
    let (batch, sources) = out.finish();
    Answer {
        emit: Emit::Records(Emitted { batch, sources }),
        failures,
    }
}

#[cfg(not(any(
    feature = "processor",
    feature = "aggregator",
    feature = "key-selector",
    feature = "joiner",
    feature = "source-connector",
    feature = "sink-connector"
)))]
mod transform {
    use super::Answer;
    use crate::Error;
    use crate::bindings::exports::weir::plugin::transformer::{TransformError, TransformOutput};
    use crate::error::ErrorKind;

    /// Wraps an answer in the transform world's types.
    pub fn transform_result(
        answer: Result<Answer, Error>,
    ) -> Result<TransformOutput, TransformError> {
        match answer {
            Ok(a) => Ok(TransformOutput {
                emit: a.emit,
                failures: a.failures,
            }),
            Err(e) if e.kind == ErrorKind::InvalidConfig => {
                Err(TransformError::InvalidConfig(e.message))
            }
            Err(e) => Err(TransformError::Failed(e.message)),
        }
    }
}

#[cfg(not(any(
    feature = "processor",
    feature = "aggregator",
    feature = "key-selector",
    feature = "joiner",
    feature = "source-connector",
    feature = "sink-connector"
)))]
pub use transform::transform_result;
