//! What the console watches of a running pipeline: its sampled figures for charts
//! (`/metrics/history`), its newest dead letters (`/dead-letters`) and its log followed
//! by long poll (`/logs?since=S&timeout_ms=T`).

use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::PeerIp;
use super::error::{ApiError, ApiPath, ApiQuery};
use super::playground::record_json;
use super::{AppState, blocking};
use crate::auth::{Operation, Principal, Resource, ResourceType};
use crate::pipeline::logs::LINES_KEPT;
use crate::pipeline::outputs::MAX_DEAD_LETTERS_LISTED;
use crate::record::Record;

/// `GET /v1/pipelines/{name}/metrics/history`: per task, lag, records/s and mean batch
/// latency at each sample of the last 15 minutes, the last point being now.
pub async fn metrics_history(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let pipelines = state.pipelines.clone();
    let history = blocking(move || Ok(pipelines.metrics_history(&name)?)).await?;
    serde_json::to_value(&history)
        .map(axum::Json)
        .map_err(|e| ApiError::internal(format!("encoding the history: {e}")))
}

/// Query of `GET /v1/pipelines/{name}/dead-letters`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLettersQuery {
    /// How many (default 20, at most 100).
    limit: Option<usize>,
}

/// `GET /v1/pipelines/{name}/dead-letters?limit=N` → `{"topic", "records": [{"partition",
/// "offset", "error", "step", record...}]}`, newest first; `topic` is null (and the list
/// empty) for a pipeline without a `dead_letter_topic`. Needs READ on the pipeline (the
/// route) and on its dead-letter topic (here): the records are that topic's.
pub async fn dead_letters(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Extension(PeerIp(peer)): Extension<PeerIp>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<DeadLettersQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(20);
    if limit == 0 || limit > MAX_DEAD_LETTERS_LISTED {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_DEAD_LETTERS_LISTED}"
        )));
    }
    let pipelines = state.pipelines.clone();
    let topic = blocking(move || Ok(pipelines.dead_letter_topic(&name)?)).await?;
    let Some(topic) = topic else {
        return Ok(axum::Json(json!({"topic": null, "records": []})));
    };
    state.auth.check(
        &principal,
        peer,
        Operation::Read,
        &Resource {
            kind: ResourceType::Topic,
            name: &topic,
        },
    )?;
    let pipelines = state.pipelines.clone();
    let found = blocking(move || Ok(pipelines.dead_letters(&topic, limit)?)).await?;
    let records: Vec<Value> = found
        .records
        .into_iter()
        .map(|(partition, r)| {
            // The last: a record dead-lettered before (read back from a dead-letter
            // topic and failing again) carries the earlier failure's headers first.
            let header = |name: &str| {
                super::headers::last(&r.headers, name)
                    .and_then(Option::as_deref)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
            };
            let (error, step) = (header("weir.error"), header("weir.step"));
            let offset = r.offset;
            let mut o = record_json(&Record {
                key: r.key,
                value: r.value,
                headers: r.headers,
                timestamp: r.timestamp,
            });
            o.insert("partition".into(), json!(partition));
            o.insert("offset".into(), json!(offset));
            o.insert("error".into(), json!(error));
            o.insert("step".into(), json!(step));
            Value::Object(o)
        })
        .collect();
    Ok(axum::Json(
        json!({"topic": found.topic, "records": records}),
    ))
}

/// Followed logs (long polls) at once, server-wide: each holds a connection and a task
/// for up to `max_poll`; past it a follow is refused with 429.
pub const MAX_LOG_FOLLOWS: usize = 32;

/// Query of `GET /v1/pipelines/{name}/logs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsQuery {
    /// The newest N lines (default 100), when not following.
    tail: Option<usize>,
    /// Follow: the lines numbered from this on (`next` of the previous answer).
    since: Option<u64>,
    /// Following: wait up to this long (ms, capped by the server's longest poll) for a
    /// line when there is none yet.
    timeout_ms: Option<u64>,
}

/// `GET /v1/pipelines/{name}/logs?tail=N` (default 100) → `{"lines", "next"}`; or,
/// following, `?since=S&timeout_ms=T` → the lines numbered S on, waiting for one when
/// there is none yet, with `next` to ask from and `skipped` (lines the ring dropped).
pub async fn logs(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<LogsQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let pipelines = state.pipelines.clone();
    let n = name.clone();
    let ring = blocking(move || Ok(pipelines.log_ring(&n)?)).await?;
    let Some(since) = q.since else {
        if q.timeout_ms.is_some() {
            return Err(ApiError::bad_request(
                "timeout_ms is for following the log: give since too",
            ));
        }
        let next = ring.next();
        let lines = ring.tail(q.tail.unwrap_or(100));
        return Ok(axum::Json(json!({ "lines": lines, "next": next })));
    };
    if q.tail.is_some() {
        return Err(ApiError::bad_request("give tail or since, not both"));
    }
    let timeout = Duration::from_millis(q.timeout_ms.unwrap_or(0)).min(state.max_poll);
    let _permit = if timeout.is_zero() {
        None
    } else {
        Some(state.log_follows.clone().try_acquire_owned().map_err(|_| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_follows",
                format!(
                    "{MAX_LOG_FOLLOWS} pipeline logs are followed already, the most at once; try again shortly"
                ),
            )
        })?)
    };
    let deadline = tokio::time::Instant::now() + timeout;
    // Subscribed before reading, so a line written in between wakes the wait.
    let mut written = ring.subscribe();
    let mut closing = state.closing.clone();
    // A number past the end is a follow of an earlier pipeline of this name (deleted and
    // created again): answer the current `next` at once, or it would wait forever.
    if since > ring.next() {
        return Ok(axum::Json(
            json!({"lines": [], "next": ring.next(), "skipped": 0}),
        ));
    }
    loop {
        written.borrow_and_update();
        let found = ring.since(since, LINES_KEPT);
        if !found.lines.is_empty() || found.skipped > 0 || *closing.borrow_and_update() {
            return Ok(axum::Json(json!({
                "lines": found.lines,
                "next": found.next,
                "skipped": found.skipped,
            })));
        }
        let wait = async {
            tokio::select! {
                changed = written.changed() => changed.is_err(),
                _ = closing.changed() => false,
            }
        };
        match tokio::time::timeout_at(deadline, wait).await {
            Ok(false) => continue,
            Ok(true) => {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "unknown_pipeline",
                    "the pipeline was deleted",
                ));
            }
            Err(_) => {
                // This handler's Arc keeps the ring's sender alive, so a deletion never
                // ends the wait: check the pipeline still has this ring (its generation).
                let pipelines = state.pipelines.clone();
                let current = blocking(move || Ok(pipelines.log_ring(&name).ok())).await?;
                if !current.is_some_and(|c| std::sync::Arc::ptr_eq(&c, &ring)) {
                    return Err(ApiError::new(
                        StatusCode::NOT_FOUND,
                        "unknown_pipeline",
                        "the pipeline was deleted",
                    ));
                }
                let found = ring.since(since, LINES_KEPT);
                return Ok(axum::Json(json!({
                    "lines": found.lines,
                    "next": found.next,
                    "skipped": found.skipped,
                })));
            }
        }
    }
}
