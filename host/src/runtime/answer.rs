//! [`Answer`]: a plugin's answer to one call, checked and turned into an [`Output`].
//!
//! Everything here is counted before it is copied or materialised: the number of `keep`
//! indices and new records against the record caps, and each record's key, value and header
//! bytes against the byte caps. Bytes are counted per record from the flat form's lengths, so a
//! header (or value) that many records share in the guest's buffer counts once for every
//! record carrying it: that is what the host stores and sends on.

use super::bindings::{Batch, Emit, WitRecordFailure};
use super::caps::{CallCaps, Cap};
use super::error::RuntimeError;
use super::flat::{self, HEADER_FIELDS, NULL, RECORD_FIELDS};
use super::output::{Body, Output, OutputRecord, RecordFailure};

/// Bytes of one flat record: key, value and every header's key and value (nulls count 0).
fn record_bytes(batch: &Batch, index: usize) -> (usize, usize, usize) {
    let len = |l: u32| if l == NULL { 0 } else { l as usize };
    let Some(f) = batch
        .records
        .get(index * RECORD_FIELDS..(index + 1) * RECORD_FIELDS)
    else {
        return (0, 0, 0);
    };
    let (first, count) = (f[4] as usize, f[5] as usize);
    let headers = batch
        .headers
        .get(first * HEADER_FIELDS..(first + count) * HEADER_FIELDS)
        .unwrap_or_default();
    let header_bytes: usize = headers
        .chunks_exact(HEADER_FIELDS)
        .map(|h| len(h[1]) + len(h[3]))
        .sum();
    (len(f[1]) + len(f[3]) + header_bytes, count, header_bytes)
}

/// A call's answer being collected: the output so far and what it has used of the caps.
pub(crate) struct Answer<'a> {
    plugin: &'a str,
    caps: CallCaps,
    /// The input batch (`None` for a timer call, which has none).
    input: Option<(&'a Batch, usize)>,
    records_allowed: (usize, Cap),
    bytes_allowed: (usize, Cap),
    records: usize,
    bytes: usize,
    out: Output,
}

impl<'a> Answer<'a> {
    /// The answer to a batch of `inputs` records in flat form.
    pub(crate) fn to_batch(
        plugin: &'a str,
        caps: CallCaps,
        input: &'a Batch,
        inputs: usize,
    ) -> Self {
        Answer {
            plugin,
            caps,
            input: Some((input, inputs)),
            records_allowed: caps.records_allowed(Some(inputs)),
            bytes_allowed: caps.bytes_allowed(Some(flat::data_len(input))),
            records: 0,
            bytes: 0,
            out: Output::default(),
        }
    }

    /// The answer to a timer call.
    pub(crate) fn to_timer(plugin: &'a str, caps: CallCaps) -> Self {
        Answer {
            plugin,
            caps,
            input: None,
            records_allowed: caps.records_allowed(None),
            bytes_allowed: caps.bytes_allowed(None),
            records: 0,
            bytes: 0,
            out: Output::default(),
        }
    }

    fn bad(&self, reason: String) -> RuntimeError {
        RuntimeError::BadOutput {
            plugin: self.plugin.to_owned(),
            reason,
        }
    }

    fn exceeded(&self, cap: Cap, used: usize, limit: usize) -> RuntimeError {
        RuntimeError::CapExceeded {
            plugin: self.plugin.to_owned(),
            cap,
            used,
            limit,
        }
    }

    fn add_records(&mut self, n: usize) -> Result<(), RuntimeError> {
        self.records = self.records.saturating_add(n);
        let (limit, cap) = self.records_allowed;
        if self.records > limit {
            return Err(self.exceeded(cap, self.records, limit));
        }
        Ok(())
    }

    fn add_bytes(&mut self, n: usize) -> Result<(), RuntimeError> {
        self.bytes = self.bytes.saturating_add(n);
        let (limit, cap) = self.bytes_allowed;
        if self.bytes > limit {
            return Err(self.exceeded(cap, self.bytes, limit));
        }
        Ok(())
    }

    /// Adds the plugin's per-record failures.
    pub(crate) fn failures(&mut self, failures: Vec<WitRecordFailure>) {
        self.out
            .failures
            .extend(failures.into_iter().map(|f| RecordFailure {
                index: f.index,
                message: f.message,
            }));
    }

    /// Adds an [`Emit`] for `topic`, checking indices, spans and the caps.
    pub(crate) fn emit(&mut self, topic: Option<String>, emit: Emit) -> Result<(), RuntimeError> {
        let (input, inputs) = self.input.unwrap_or((&EMPTY, 0));
        match emit {
            Emit::Keep(indices) => {
                self.add_records(indices.len())?;
                if let Some(i) = indices.iter().find(|&&i| i as usize >= inputs) {
                    return Err(
                        self.bad(format!("keep index {i} is past the {inputs}-record batch"))
                    );
                }
                for &i in &indices {
                    self.add_bytes(record_bytes(input, i as usize).0)?;
                }
                self.out
                    .records
                    .extend(indices.into_iter().map(|i| OutputRecord {
                        source: Some(i),
                        topic: topic.clone(),
                        body: Body::Input,
                    }));
            }
            Emit::Records(emitted) => {
                let n = flat::record_count(&emitted.batch);
                if emitted.sources.len() != n {
                    return Err(self.bad(format!(
                        "{} sources for {n} emitted records",
                        emitted.sources.len()
                    )));
                }
                if let Some(&s) = emitted.sources.iter().find(|&&s| s as usize >= inputs) {
                    return Err(self.bad(format!(
                        "emitted record names source {s}, past the {inputs}-record batch"
                    )));
                }
                self.batch(topic, emitted.batch, Some(emitted.sources))?;
            }
        }
        Ok(())
    }

    /// Adds new records in flat form (`sources`: the input each came from; `None` for a timer).
    pub(crate) fn batch(
        &mut self,
        topic: Option<String>,
        batch: Batch,
        sources: Option<Vec<u32>>,
    ) -> Result<(), RuntimeError> {
        let n = flat::check(&batch).map_err(|e| self.bad(e.0))?;
        self.add_records(n)?;
        for i in 0..n {
            let (bytes, headers, header_bytes) = record_bytes(&batch, i);
            if headers > self.caps.max_headers_per_record {
                let limit = self.caps.max_headers_per_record;
                return Err(self.exceeded(Cap::MaxHeadersPerRecord, headers, limit));
            }
            if header_bytes > self.caps.max_header_bytes_per_record {
                let limit = self.caps.max_header_bytes_per_record;
                return Err(self.exceeded(Cap::MaxHeaderBytesPerRecord, header_bytes, limit));
            }
            self.add_bytes(bytes)?;
        }
        let records = flat::decode(batch).map_err(|e| self.bad(e.0))?;
        let sources = sources
            .into_iter()
            .flatten()
            .map(Some)
            .chain(std::iter::repeat(None));
        self.out
            .records
            .extend(
                records
                    .into_iter()
                    .zip(sources)
                    .map(|(record, source)| OutputRecord {
                        source,
                        topic: topic.clone(),
                        body: Body::New(Box::new(record)),
                    }),
            );
        Ok(())
    }

    /// The collected output.
    pub(crate) fn finish(self) -> Output {
        self.out
    }
}

/// The input of a timer call: no records.
static EMPTY: Batch = Batch {
    data: Vec::new(),
    records: Vec::new(),
    timestamps: Vec::new(),
    headers: Vec::new(),
};
