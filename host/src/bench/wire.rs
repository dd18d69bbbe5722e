//! A minimal Kafka client for the benchmarks, speaking the protocol by hand:
//! request frames, CreateTopics, Produce v3 and Fetch v4 bodies, and reading
//! responses back. kcat cannot run transactions, pipeline its requests
//! without per-message work, or fetch without decoding each message, so the
//! broker-bound cases ([`super::kafka`], [`super::transactions`]) use this, over
//! plain TCP or SASL_SSL ([`super::dial`]).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use anyhow::{Context, bail};

/// Appends a Kafka string (i16 length, then the bytes).
pub fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as i16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// The i16 at `at` of a response.
pub fn i16_at(b: &[u8], at: usize) -> anyhow::Result<i16> {
    let bytes = b.get(at..at + 2).context("short response")?;
    Ok(i16::from_be_bytes([bytes[0], bytes[1]]))
}

/// The i32 at `at` of a response.
pub fn i32_at(b: &[u8], at: usize) -> anyhow::Result<i32> {
    let bytes = b.get(at..at + 4).context("short response")?;
    Ok(i32::from_be_bytes(bytes.try_into()?))
}

/// The i64 at `at` of a response.
pub fn i64_at(b: &[u8], at: usize) -> anyhow::Result<i64> {
    let bytes = b.get(at..at + 8).context("short response")?;
    Ok(i64::from_be_bytes(bytes.try_into()?))
}

/// A whole request frame: size, header v1 (null client id), body.
pub fn frame(key: i16, version: i16, correlation: i32, body: &[u8]) -> Vec<u8> {
    let len = 2 + 2 + 4 + 2 + body.len();
    let mut out = Vec::with_capacity(4 + len);
    out.extend_from_slice(&(len as i32).to_be_bytes());
    out.extend_from_slice(&key.to_be_bytes());
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&correlation.to_be_bytes());
    out.extend_from_slice(&(-1i16).to_be_bytes()); // null client id
    out.extend_from_slice(body);
    out
}

/// Reads one response frame (correlation id first) into `buf`.
pub fn read_response(s: &mut impl Read, buf: &mut Vec<u8>) -> anyhow::Result<()> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    // Reused across responses: zeroing only what it grows by, not every response's length.
    let len = i32::from_be_bytes(len).max(0) as usize;
    if buf.len() < len {
        buf.resize(len, 0);
    }
    buf.truncate(len);
    s.read_exact(buf)?;
    Ok(())
}

/// Sends one request and waits for its response.
pub fn round_trip(
    s: &mut (impl Read + Write),
    key: i16,
    version: i16,
    body: &[u8],
) -> anyhow::Result<Vec<u8>> {
    s.write_all(&frame(key, version, 1, body))?;
    let mut resp = Vec::new();
    read_response(s, &mut resp)?;
    Ok(resp)
}

/// CreateTopics v2 of one topic with replication factor 1.
pub fn create_topic(addr: &SocketAddr, topic: &str, partitions: u32) -> anyhow::Result<()> {
    let mut body = Vec::new();
    body.extend_from_slice(&1i32.to_be_bytes());
    put_str(&mut body, topic);
    body.extend_from_slice(&(partitions as i32).to_be_bytes());
    body.extend_from_slice(&1i16.to_be_bytes());
    body.extend_from_slice(&0i32.to_be_bytes()); // assignments
    body.extend_from_slice(&0i32.to_be_bytes()); // configs
    body.extend_from_slice(&30_000i32.to_be_bytes());
    body.push(0); // validate_only
    let mut s = TcpStream::connect(addr)?;
    let r = round_trip(&mut s, 19, 2, &body)?;
    // corr, throttle, count, name, error code.
    let code = i16_at(&r, 4 + 4 + 4 + 2 + topic.len()).ok();
    if code != Some(0) {
        bail!("CreateTopics {topic}: error {code:?}");
    }
    Ok(())
}

/// A Produce v3 body carrying one batch for one partition.
pub fn produce_body(
    transactional_id: Option<&str>,
    acks: i16,
    topic: &str,
    partition: i32,
    batch: &[u8],
) -> Vec<u8> {
    let mut body = Vec::with_capacity(batch.len() + 64);
    match transactional_id {
        Some(id) => put_str(&mut body, id),
        None => body.extend_from_slice(&(-1i16).to_be_bytes()),
    }
    body.extend_from_slice(&acks.to_be_bytes());
    body.extend_from_slice(&30_000i32.to_be_bytes());
    body.extend_from_slice(&1i32.to_be_bytes());
    put_str(&mut body, topic);
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&partition.to_be_bytes());
    body.extend_from_slice(&(batch.len() as i32).to_be_bytes());
    body.extend_from_slice(batch);
    body
}

/// The error code of the only partition of a Produce v3 response to `topic`.
pub fn produce_error(resp: &[u8], topic: &str) -> anyhow::Result<i16> {
    // corr, topics, name, partitions, index, error.
    i16_at(resp, 4 + 4 + 2 + topic.len() + 4 + 4)
}

/// A Fetch v4 body for one partition from `offset`, read_uncommitted, not waiting.
pub fn fetch_body(topic: &str, partition: i32, offset: i64, max_bytes: i32) -> Vec<u8> {
    let mut body = Vec::with_capacity(64);
    body.extend_from_slice(&(-1i32).to_be_bytes()); // replica id
    body.extend_from_slice(&0i32.to_be_bytes()); // max wait
    body.extend_from_slice(&1i32.to_be_bytes()); // min bytes
    body.extend_from_slice(&max_bytes.to_be_bytes());
    body.push(0); // isolation level
    body.extend_from_slice(&1i32.to_be_bytes());
    put_str(&mut body, topic);
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&partition.to_be_bytes());
    body.extend_from_slice(&offset.to_be_bytes());
    body.extend_from_slice(&max_bytes.to_be_bytes());
    body
}

/// The records of the only partition of a Fetch v4 response to `topic`, after
/// checking its error code.
pub fn fetch_records<'r>(resp: &'r [u8], topic: &str) -> anyhow::Result<&'r [u8]> {
    // corr, throttle, topics, name, partitions, index, error, hw, lso.
    let at = 4 + 4 + 4 + 2 + topic.len() + 4 + 4;
    let code = i16_at(resp, at)?;
    if code != 0 {
        bail!("Fetch: error {code}");
    }
    let at = at + 2 + 8 + 8;
    let aborted = i32_at(resp, at)?.max(0) as usize;
    let at = at + 4 + aborted * 16;
    let len = i32_at(resp, at)?.max(0) as usize;
    resp.get(at + 4..at + 4 + len)
        .context("short Fetch response")
}
