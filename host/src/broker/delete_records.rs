//! Deleting records: moving a partition's log start offset forward, the one
//! step behind Kafka's DeleteRecords and `DELETE .../records?before=O`.

use super::broker::Broker;
use super::error::BrokerError;

impl Broker {
    /// Makes the records of `topic`-`partition` before `before` unreadable
    /// (`-1` = up to the high watermark), durably; returns the new log start.
    /// Past the high watermark is out of range.
    pub fn delete_records(
        &self,
        topic: &str,
        partition: i64,
        before: i64,
    ) -> Result<i64, BrokerError> {
        let log = self.topic(topic)?.partition(partition)?;
        log.delete_records(before)
            .map_err(BrokerError::log(topic, partition as u32))
    }
}
