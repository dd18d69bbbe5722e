//! `TimestampRouter`: the topic becomes `topic.format` (default `${topic}-${timestamp}`)
//! with the record's timestamp written in `timestamp.format` (default `yyyyMMdd`, UTC).

use weir_guest::Error;

use crate::config::Keys;
use crate::record::Working;
use crate::time::DateFormat;

/// Configured `TimestampRouter`.
#[derive(Debug)]
pub struct TimestampRouter {
    topic_format: String,
    timestamp_format: DateFormat,
}

impl TimestampRouter {
    /// From `topic.format` and `timestamp.format`.
    pub fn build(keys: &Keys<'_>) -> Result<TimestampRouter, Error> {
        let pattern = keys.get("timestamp.format").unwrap_or("yyyyMMdd");
        Ok(TimestampRouter {
            topic_format: keys
                .get("topic.format")
                .unwrap_or("${topic}-${timestamp}")
                .to_owned(),
            timestamp_format: DateFormat::parse(pattern)
                .map_err(|e| keys.invalid("timestamp.format", &e))?,
        })
    }

    /// Renames the topic.
    pub fn apply(&self, record: &mut Working<'_>) -> Result<(), Error> {
        let stamp = self.timestamp_format.format(record.input.timestamp());
        let topic = self
            .topic_format
            .replace("${topic}", record.topic())
            .replace("${timestamp}", &stamp);
        record.topic = Some(topic);
        Ok(())
    }
}
