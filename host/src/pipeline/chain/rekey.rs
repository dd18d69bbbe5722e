//! A `group_by`'s output: the records of a batch with the keys its key selector chose.

use crate::log::batch::Record;
use crate::runtime::{Body, Output, OutputRecord};

/// A batch with the keys a `group_by` selected: each record with its new key (headers,
/// value and timestamp kept), a record without one dropped (as Kafka drops a record whose
/// new key is null), failures passed on.
pub(super) fn rekeyed(
    records: &[Record],
    selected: crate::runtime::key_selector::Selected,
) -> Output {
    let mut out = Output {
        records: Vec::with_capacity(records.len()),
        failures: selected.failures,
    };
    for (j, (record, key)) in records.iter().zip(selected.keys).enumerate() {
        if let Some(key) = key {
            let mut record = record.clone();
            record.key = Some(key.into());
            out.records.push(OutputRecord {
                source: Some(j as u32),
                topic: None,
                body: Body::New(Box::new(record)),
            });
        }
    }
    out
}
