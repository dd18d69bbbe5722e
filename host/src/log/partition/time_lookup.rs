//! Finding records by time (Kafka's ListOffsets): the first record at or after
//! a timestamp, and the record with the largest timestamp.

use super::{LogError, PartitionLog, batch, log_start};

impl PartitionLog {
    /// The first record with a timestamp at or after `timestamp`, as (offset,
    /// timestamp); `None` if every record is older. Sealed segments whose max
    /// timestamp is older are skipped whole; the rest is scanned batch by batch.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, LogError> {
        let start = {
            let state = self.state.lock();
            state
                .sealed
                .iter()
                .find(|(_, seg)| seg.max_timestamp() >= timestamp)
                .map_or_else(|| state.active.base_offset(), |(base, _)| *base)
                .max(log_start(&state))
        };
        let end = self.high_watermark();
        let mut offset = start;
        while offset < end {
            let read = self.read(offset, 1 << 20)?;
            let before = offset;
            for item in batch::BatchIter::new(&read.bytes) {
                let Ok((header, bytes)) = item else { break };
                offset = header.next_offset();
                if header.max_timestamp < timestamp || header.is_control() {
                    continue;
                }
                for rec in batch::decode_records(bytes)? {
                    if rec.timestamp >= timestamp && rec.offset >= start {
                        return Ok(Some((rec.offset, rec.timestamp)));
                    }
                }
            }
            if offset == before {
                break;
            }
        }
        Ok(None)
    }

    /// The record with the largest timestamp, as (offset, timestamp) — the
    /// earliest such record on ties; `None` for an empty log. Only the sealed
    /// segment with the largest max timestamp and the active segment can hold it.
    pub fn max_timestamp_offset(&self) -> Result<Option<(i64, i64)>, LogError> {
        let (ranges, log_start) = {
            let state = self.state.lock();
            let active = state.active.base_offset();
            let mut ranges = vec![(active, i64::MAX)];
            let ends = state.sealed.keys().skip(1).copied().chain([active]);
            let newest = state
                .sealed
                .iter()
                .zip(ends)
                .max_by_key(|((_, seg), _)| seg.max_timestamp());
            if let Some(((base, _), end)) = newest {
                ranges.insert(0, (*base, end));
            }
            (ranges, log_start(&state))
        };
        let hw = self.high_watermark();
        let mut best: Option<(i64, i64, Vec<u8>)> = None;
        for (from, to) in ranges {
            let mut offset = from.max(log_start);
            while offset < hw.min(to) {
                let read = self.read(offset, 1 << 20)?;
                let before = offset;
                for item in batch::BatchIter::new(&read.bytes) {
                    let Ok((header, bytes)) = item else { break };
                    offset = header.next_offset();
                    if header.is_control() {
                        continue;
                    }
                    if best
                        .as_ref()
                        .is_none_or(|(ts, _, _)| header.max_timestamp > *ts)
                    {
                        best = Some((header.max_timestamp, header.base_offset, bytes.to_vec()));
                    }
                }
                if offset == before {
                    break;
                }
            }
        }
        let Some((max, _, bytes)) = best else {
            return Ok(None);
        };
        Ok(batch::decode_records(&bytes)?
            .into_iter()
            .find(|r| r.timestamp == max)
            .map(|r| (r.offset, r.timestamp)))
    }
}
