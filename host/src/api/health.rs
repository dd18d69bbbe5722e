//! `GET /v1/health`: whether the server can do its job, and what needs an operator.

use axum::extract::State;
use serde_json::{Value, json};

use super::error::ApiError;
use super::{AppState, blocking};

/// `GET /v1/health` → `status` `"ok"`, or `"degraded"` with the `problems` (partitions
/// that take no writes, partitions retrying a failed segment roll, log directories the
/// metadata does not list) listed in `fenced`, `retrying` and `orphaned`. Always 200: the server is up and answering; what it needs is
/// in the body.
pub async fn health(State(state): State<AppState>) -> Result<axum::Json<Value>, ApiError> {
    let broker = state.broker.clone();
    // Off the async threads: the topic map's lock is held while a topic is created.
    let (fenced, retrying, orphaned) = blocking(move || {
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
        Ok((fenced, retrying, broker.orphans()))
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
    })))
}
