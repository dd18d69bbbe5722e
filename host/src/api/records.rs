//! Producing and consuming records as JSON.
//!
//! Keys, values and header values are UTF-8 strings, or base64 with
//! `"encoding": "base64"` (produce body) / `?encoding=base64` (consume).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use super::{AppState, blocking};
use crate::broker::producer::ProducerRegistry;
use crate::broker::{Broker, BrokerError, ProduceRecord, RecordRead};
use crate::log::batch::{Record, StoredRecord};

/// How keys and values are written in JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// UTF-8 text.
    #[default]
    Utf8,
    /// Standard base64 of the raw bytes.
    Base64,
}

impl Encoding {
    fn decode(self, what: &str, s: String) -> Result<Bytes, ApiError> {
        match self {
            Encoding::Utf8 => Ok(Bytes::from(s.into_bytes())),
            Encoding::Base64 => B64
                .decode(s.as_bytes())
                .map(Bytes::from)
                .map_err(|e| ApiError::bad_request(format!("{what} is not valid base64: {e}"))),
        }
    }

    fn encode(self, what: &str, offset: i64, b: &[u8]) -> Result<Value, ApiError> {
        match self {
            Encoding::Base64 => Ok(json!(B64.encode(b))),
            Encoding::Utf8 => std::str::from_utf8(b).map(|s| json!(s)).map_err(|_| {
                ApiError::bad_request(format!(
                    "the {what} of the record at offset {offset} is not valid UTF-8; ask with encoding=base64"
                ))
            }),
        }
    }
}

/// Body of `POST /v1/topics/{topic}/records`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProduceBody {
    #[serde(default)]
    encoding: Encoding,
    #[serde(deserialize_with = "super::bounded::records")]
    records: Vec<ProduceEntry>,
}

/// One record to produce. A missing or null value is a tombstone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProduceEntry {
    key: Option<String>,
    value: Option<String>,
    /// An object, or `[key, value]` pairs; a repeated key is kept each time.
    #[serde(default, deserialize_with = "super::bounded::headers")]
    headers: Vec<(String, Option<String>)>,
    partition: Option<i64>,
    timestamp: Option<i64>,
}

/// `POST /v1/topics/{topic}/records` → `{"offsets": [{"partition", "offset"}]}`.
pub async fn produce(
    State(state): State<AppState>,
    ApiPath(topic): ApiPath<String>,
    ApiJson(body): ApiJson<ProduceBody>,
) -> Result<axum::Json<Value>, ApiError> {
    let enc = body.encoding;
    let mut records = Vec::with_capacity(body.records.len());
    for (i, entry) in body.records.into_iter().enumerate() {
        if let Some(ts) = entry.timestamp
            && ts < 0
        {
            return Err(ApiError::bad_request(format!(
                "records[{i}].timestamp {ts} is negative"
            )));
        }
        let key = entry
            .key
            .map(|k| enc.decode(&format!("records[{i}].key"), k))
            .transpose()?;
        let value = entry
            .value
            .map(|v| enc.decode(&format!("records[{i}].value"), v))
            .transpose()?;
        let headers = entry
            .headers
            .into_iter()
            .map(|(k, v)| {
                let v = v
                    .map(|v| enc.decode(&format!("records[{i}].headers.{k}"), v))
                    .transpose()?;
                Ok((k, v))
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        records.push(ProduceRecord {
            partition: entry.partition,
            record: Record {
                key,
                value,
                headers,
                timestamp: entry.timestamp.unwrap_or(-1),
            },
        });
    }
    let broker = state.broker.clone();
    let produced = blocking(move || Ok(broker.produce(&topic, records)?)).await?;
    let offsets: Vec<Value> = produced
        .iter()
        .map(|p| json!({"partition": p.partition, "offset": p.offset}))
        .collect();
    Ok(axum::Json(json!({ "offsets": offsets })))
}

/// Query of `GET .../records`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumeQuery {
    /// First offset wanted; defaults to the log start.
    offset: Option<i64>,
    /// Instead of `offset`: from the first record at or after this time (ms).
    timestamp: Option<i64>,
    /// Only records whose key or value holds this text (see [`super::record_search`]).
    q: Option<String>,
    /// With `q`: most records read (default 10 000, at most 100 000).
    scan: Option<usize>,
    /// Most records returned (default 100, at most 10 000).
    max: Option<usize>,
    /// Long-poll up to this long when nothing is there yet.
    timeout_ms: Option<u64>,
    #[serde(default)]
    encoding: Encoding,
}

/// Query of `DELETE .../records`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// Records before this offset become unreadable; `-1` = the high watermark.
    before: i64,
}

/// `DELETE /v1/topics/{topic}/partitions/{p}/records?before=O`: Kafka's
/// DeleteRecords; answers the new `log_start_offset`. 416 past the high watermark.
pub async fn delete(
    State(state): State<AppState>,
    ApiPath((topic, partition)): ApiPath<(String, i64)>,
    ApiQuery(q): ApiQuery<DeleteQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let broker = state.broker.clone();
    let t = topic.clone();
    let start = blocking(move || Ok(broker.delete_records(&t, partition, q.before)?)).await?;
    Ok(axum::Json(json!({
        "topic": topic,
        "partition": partition,
        "log_start_offset": start,
    })))
}

const MAX_RECORDS: usize = 10_000;

/// `GET /v1/topics/{topic}/partitions/{p}/records?offset=O&max=N&timeout_ms=T`, or
/// `timestamp=MS` instead of `offset`; with `q=TEXT` a bounded search (no long poll)
/// whose answer adds `scanned`.
pub async fn consume(
    State(state): State<AppState>,
    ApiPath((topic, partition)): ApiPath<(String, i64)>,
    ApiQuery(q): ApiQuery<ConsumeQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let max = q.max.unwrap_or(100);
    if max == 0 || max > MAX_RECORDS {
        return Err(ApiError::bad_request(format!(
            "max must be between 1 and {MAX_RECORDS}"
        )));
    }
    if q.offset.is_some() && q.timestamp.is_some() {
        return Err(ApiError::bad_request(
            "ask from an offset or from a timestamp, not both",
        ));
    }
    if q.scan.is_some() && q.q.is_none() {
        return Err(ApiError::bad_request("scan goes only with a search (q)"));
    }
    let broker = state.broker.clone();
    let t = topic.clone();
    let timestamp = q.timestamp;
    let (log, from_time) = blocking(move || {
        let log = broker.topic(&t)?.partition(partition)?;
        let from_time = match timestamp {
            Some(ts) if ts < 0 => {
                return Err(ApiError::bad_request(format!("timestamp {ts} is negative")));
            }
            // Every record older: from the high watermark (nothing yet).
            Some(ts) => Some(
                log.offset_for_timestamp(ts)
                    .map_err(BrokerError::log(&t, partition as u32))?
                    .map_or_else(|| log.high_watermark(), |(offset, _)| offset),
            ),
            None => None,
        };
        Ok((log, from_time))
    })
    .await?;
    let mut offset = match (q.offset, from_time) {
        (Some(o), _) | (None, Some(o)) => o,
        (None, None) => log.stats().log_start_offset,
    };
    if let Some(text) = q.q {
        let text = super::record_search::query(text)?;
        let scan = super::record_search::scan_limit(q.scan)?;
        let (broker, producers) = (state.broker.clone(), state.producers.clone());
        let (t, budget) = (topic.clone(), state.max_search);
        let found = blocking(move || {
            super::record_search::search(
                &broker, &producers, &t, partition, offset, &text, scan, max, budget,
            )
        })
        .await?;
        let records = found
            .records
            .iter()
            .map(|r| record_json(r, q.encoding))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(axum::Json(json!({
            "records": records,
            "next_offset": found.next_offset,
            "high_watermark": found.high_watermark,
            "scanned": found.scanned,
        })));
    }
    let timeout = Duration::from_millis(q.timeout_ms.unwrap_or(0)).min(state.max_poll);
    let deadline = tokio::time::Instant::now() + timeout;
    // Subscribe before reading so an append between the read and the wait is not missed.
    let mut changes = log.subscribe();
    // The offset after everything read so far, records or not (control batches).
    let mut read_up_to = offset;
    let (records, high_watermark) = loop {
        changes.borrow_and_update();
        let (broker, producers) = (state.broker.clone(), state.producers.clone());
        let t = topic.clone();
        let read = blocking(move || {
            Ok(RecordRead::committed(
                &broker, &producers, &t, partition, offset, max,
            )?)
        })
        .await?;
        let (out, next, hw) = (read.records, read.next_offset, read.high_watermark);
        read_up_to = read_up_to.max(next);
        if !out.is_empty() || tokio::time::Instant::now() >= deadline {
            break (out, hw);
        }
        if next > offset {
            // Only control records in what was read: move on.
            offset = next;
            continue;
        }
        let mut closing = state.closing.clone();
        if *closing.borrow_and_update() {
            break (out, hw);
        }
        let wait = async {
            tokio::select! {
                changed = changes.changed() => changed.map(|_| false),
                _ = closing.changed() => Ok(true),
            }
        };
        match tokio::time::timeout_at(deadline, wait).await {
            Ok(Ok(true)) => break (out, log.high_watermark()),
            Ok(Ok(false)) => continue,
            Ok(Err(_)) => {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "unknown_topic",
                    "the topic was deleted",
                ));
            }
            Err(_) => break (out, log.high_watermark()),
        }
    };
    let next_offset = records.last().map_or(read_up_to, |r| r.offset + 1);
    let records = records
        .iter()
        .map(|r| record_json(r, q.encoding))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(axum::Json(json!({
        "records": records,
        "next_offset": next_offset,
        "high_watermark": high_watermark,
    })))
}

/// Up to `max` committed records from `offset` on, the offset after the last batch
/// read, and the high watermark: [`RecordRead::committed`] as the search takes it.
pub(super) fn collect_records(
    broker: &Broker,
    producers: &ProducerRegistry,
    topic: &str,
    partition: i64,
    offset: i64,
    max: usize,
) -> Result<(Vec<StoredRecord>, i64, i64), ApiError> {
    let read = RecordRead::committed(broker, producers, topic, partition, offset, max)?;
    Ok((read.records, read.next_offset, read.high_watermark))
}

fn record_json(r: &StoredRecord, enc: Encoding) -> Result<Value, ApiError> {
    let bytes = |what: &str, b: &Option<Bytes>| -> Result<Value, ApiError> {
        b.as_ref()
            .map_or(Ok(Value::Null), |b| enc.encode(what, r.offset, b))
    };
    // A repeated key's last value stays in the object; the list keeps them all.
    let mut headers = serde_json::Map::new();
    let mut list = Vec::new();
    let repeats = super::headers::repeats_a_key(&r.headers);
    for (k, v) in &r.headers {
        let v = bytes("header value", v)?;
        if repeats {
            list.push(json!([k, v]));
        }
        headers.insert(k.clone(), v);
    }
    let mut out = json!({
        "offset": r.offset,
        "timestamp": r.timestamp,
        "key": bytes("key", &r.key)?,
        "value": bytes("value", &r.value)?,
        "headers": headers,
    });
    if repeats {
        out["headers_list"] = Value::Array(list);
    }
    Ok(out)
}
