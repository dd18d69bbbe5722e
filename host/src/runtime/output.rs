//! What one call into a plugin produced: records (kept inputs or new ones) and failures.

use crate::record::Record;

/// What an output record holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// The input record `source`, unchanged (a filter's answer): nothing was copied, and a
    /// pipeline can append the input's stored bytes as they are.
    Input,
    /// A record the plugin made (boxed: kept inputs, the common case of a filter, then take
    /// a few words each instead of a whole record's room).
    New(Box<Record>),
}

/// One record a plugin emitted.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputRecord {
    /// Index of the input record it came from (`None` for timer output).
    pub source: Option<u32>,
    /// The topic it is routed to (`None`: the pipeline's main output).
    pub topic: Option<String>,
    /// The record, or which input it is.
    pub body: Body,
}

impl OutputRecord {
    /// The record, looking a kept input up in `inputs` (the batch that was processed).
    pub fn record<'a>(&'a self, inputs: &'a [Record]) -> Option<&'a Record> {
        match &self.body {
            Body::New(record) => Some(record),
            Body::Input => inputs.get(self.source? as usize),
        }
    }
}

/// An input record the plugin could not process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFailure {
    /// Index of the input record.
    pub index: u32,
    /// The plugin's message.
    pub message: String,
}

/// What one call produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    /// Emitted records, in the plugin's order.
    pub records: Vec<OutputRecord>,
    /// Per-record failures.
    pub failures: Vec<RecordFailure>,
}
