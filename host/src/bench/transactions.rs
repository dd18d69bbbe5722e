//! The transactions case of `weir bench kafka`: transactional produce,
//! committing every 100 ms, against idempotent produce of the same batches on
//! the same broker — what a transaction's extra requests and flushes cost.
//!
//! kcat cannot run transactions, so a minimal producer speaks the protocol by
//! hand ([`super::wire`]): InitProducerId, Produce v3 (one request in flight), and for the
//! transactional run AddPartitionsToTxn and EndTxn v0.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::wire::{create_topic, i16_at, produce_body, produce_error, put_str, round_trip};
use crate::log::batch::{Record, encode_batch, set_producer};

/// Records per Produce request.
const PER_REQUEST: usize = 64;

/// How often the transactional run commits (the benchmark).
const COMMIT_EVERY: Duration = Duration::from_millis(100);

/// A producer over one connection; `txn` is its transactional id, if any.
struct HandProducer {
    s: TcpStream,
    txn: Option<String>,
    pid: i64,
    epoch: i16,
    seq: i32,
}

impl HandProducer {
    fn connect(addr: &SocketAddr, txn: Option<&str>) -> anyhow::Result<HandProducer> {
        let mut s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        let mut body = Vec::new();
        match txn {
            Some(id) => put_str(&mut body, id),
            None => body.extend_from_slice(&(-1i16).to_be_bytes()),
        }
        body.extend_from_slice(&60_000i32.to_be_bytes());
        let r = round_trip(&mut s, 22, 0, &body)?;
        // corr, throttle, error, producer id, epoch.
        if i16_at(&r, 8)? != 0 {
            bail!("InitProducerId: error {}", i16_at(&r, 8)?);
        }
        let pid = i64::from_be_bytes(r.get(10..18).context("short")?.try_into()?);
        let epoch = i16_at(&r, 18)?;
        Ok(HandProducer {
            s,
            txn: txn.map(String::from),
            pid,
            epoch,
            seq: 0,
        })
    }

    fn add_partition(&mut self, topic: &str) -> anyhow::Result<()> {
        let mut body = Vec::new();
        put_str(&mut body, self.txn.as_deref().unwrap_or_default());
        body.extend_from_slice(&self.pid.to_be_bytes());
        body.extend_from_slice(&self.epoch.to_be_bytes());
        body.extend_from_slice(&1i32.to_be_bytes());
        put_str(&mut body, topic);
        body.extend_from_slice(&1i32.to_be_bytes());
        body.extend_from_slice(&0i32.to_be_bytes());
        let r = round_trip(&mut self.s, 24, 0, &body)?;
        // corr, throttle, topics, name, partitions, index, error.
        let code = i16_at(&r, 4 + 4 + 4 + 2 + topic.len() + 4 + 4)?;
        if code != 0 {
            bail!("AddPartitionsToTxn: error {code}");
        }
        Ok(())
    }

    fn commit(&mut self) -> anyhow::Result<()> {
        let mut body = Vec::new();
        put_str(&mut body, self.txn.as_deref().unwrap_or_default());
        body.extend_from_slice(&self.pid.to_be_bytes());
        body.extend_from_slice(&self.epoch.to_be_bytes());
        body.push(1);
        let r = round_trip(&mut self.s, 26, 0, &body)?;
        if i16_at(&r, 8)? != 0 {
            bail!("EndTxn: error {}", i16_at(&r, 8)?);
        }
        Ok(())
    }

    fn produce(&mut self, topic: &str, records: &[Record]) -> anyhow::Result<()> {
        let mut batch = encode_batch(records, 0)?;
        set_producer(&mut batch, self.pid, self.epoch, self.seq);
        if self.txn.is_some() {
            // attributes' low byte: the transactional bit, then the CRC again.
            batch[22] |= 0x10;
            let crc = crc32c::crc32c(&batch[21..]);
            batch[17..21].copy_from_slice(&crc.to_be_bytes());
        }
        self.seq += records.len() as i32;
        let body = produce_body(self.txn.as_deref(), -1, topic, 0, &batch); // acks=all
        let r = round_trip(&mut self.s, 0, 3, &body)?;
        let code = produce_error(&r, topic)?;
        if code != 0 {
            bail!("Produce: error {code}");
        }
        Ok(())
    }
}

/// MB/s of `records` 1 KB records produced to partition 0 of `topic`,
/// transactionally (committing every 100 ms) or idempotently.
fn produce_mb_s(
    addr: &SocketAddr,
    topic: &str,
    records: usize,
    record: usize,
    transactional: bool,
) -> anyhow::Result<f64> {
    let txn = transactional.then(|| format!("{topic}-txn"));
    let mut p = HandProducer::connect(addr, txn.as_deref())?;
    let value = bytes::Bytes::from(vec![b'x'; record]);
    let batch: Vec<Record> = (0..PER_REQUEST)
        .map(|_| Record {
            value: Some(value.clone()),
            timestamp: crate::broker::now_ms(),
            ..Record::default()
        })
        .collect();
    let start = Instant::now();
    let mut open: Option<Instant> = None;
    let mut sent = 0;
    while sent < records {
        if transactional && open.is_none() {
            p.add_partition(topic)?;
            open = Some(Instant::now());
        }
        p.produce(topic, &batch)?;
        sent += PER_REQUEST;
        if let Some(began) = open
            && (began.elapsed() >= COMMIT_EVERY || sent >= records)
        {
            p.commit()?;
            open = None;
        }
    }
    Ok((sent * record) as f64 / 1e6 / start.elapsed().as_secs_f64())
}

/// Runs both and prints one line: idempotent MB/s, transactional MB/s, ratio.
pub fn compare(addr: &SocketAddr, records: usize, record: usize) -> anyhow::Result<()> {
    create_topic(addr, "bench-idempotent", 1)?;
    create_topic(addr, "bench-transactional", 1)?;
    let idem = produce_mb_s(addr, "bench-idempotent", records, record, false)?;
    let txn = produce_mb_s(addr, "bench-transactional", records, record, true)?;
    println!(
        "transactional vs idempotent produce (flush every-batch, acks=all, 1 partition, {PER_REQUEST} × 1 KB per request, one in flight, commit every 100 ms): idempotent {idem:.0} MB/s, transactional {txn:.0} MB/s, {:.2}×",
        txn / idem
    );
    Ok(())
}
