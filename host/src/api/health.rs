//! `GET /v1/health`: whether the server can do its job, and what needs an operator.

use axum::extract::State;
use serde_json::{Value, json};

use super::error::ApiError;
use super::{AppState, blocking};

/// `GET /v1/health` → `status` `"ok"`, or `"degraded"` with the `problems` (partitions
/// that take no writes, partitions retrying a failed segment roll, log directories the
/// metadata does not list, damaged ranges of sealed segments the scrubber found) listed
/// in `fenced`, `retrying`, `orphaned` and `corrupt`. Always 200: the server is up and answering; what it needs is
/// in the body.
pub async fn health(State(state): State<AppState>) -> Result<axum::Json<Value>, ApiError> {
    let broker = state.broker.clone();
    // Off the async threads: the topic map's lock is held while a topic is created.
    let (fenced, retrying, orphaned, corrupt) = blocking(move || {
        let (mut fenced, mut retrying) = (Vec::new(), Vec::new());
        for topic in broker.topics() {
            for (p, log) in topic.partitions().iter().enumerate() {
                if let Some(reason) = log.fenced() {
                    fenced.push(json!({"topic": topic.name(), "partition": p, "reason": reason}));
                } else if let Some(reason) = log.retrying() {
                    retrying.push(json!({"topic": topic.name(), "partition": p, "reason": reason}));
                }
            }
        }
        // Named relative to the data directory: topic, partition, segment file.
        let corrupt: Vec<Value> = broker
            .damage()
            .into_iter()
            .map(|d| {
                json!({
                    "topic": d.topic,
                    "partition": d.partition,
                    "segment": d.damage.segment,
                    "offset": d.damage.offsets.start,
                    "end": d.damage.offsets.end,
                    "error": d.damage.kind.to_string(),
                })
            })
            .collect();
        Ok((fenced, retrying, broker.orphans(), corrupt))
    })
    .await?;
    let mut problems = Vec::new();
    if !retrying.is_empty() {
        problems.push(format!(
            "{} partition(s) failed to roll a segment and retry at each append (see \"retrying\")",
            retrying.len()
        ));
    }
    if !fenced.is_empty() {
        problems.push(format!(
            "{} partition(s) fenced: they take no writes (see \"fenced\")",
            fenced.len()
        ));
    }
    if !corrupt.is_empty() {
        problems.push(format!(
            "{} damaged range(s) of sealed segments: reads there fail, others are served \
             (see \"corrupt\"; move the log start past them or restore the files)",
            corrupt.len()
        ));
    }
    if !orphaned.is_empty() {
        problems.push(format!(
            "{} log director(ies) of topics the metadata does not list, kept: adopt or delete them \
             (`weir orphans list`)",
            orphaned.len()
        ));
    }
    Ok(axum::Json(json!({
        "status": if problems.is_empty() { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "problems": problems,
        "fenced": fenced,
        "retrying": retrying,
        "orphaned": orphaned,
        "corrupt": corrupt,
    })))
}
