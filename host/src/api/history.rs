//! `GET /v1/metrics/history`: the last 15 minutes of throughput from the server's
//! in-memory ring ([`crate::broker::history`]), for the console's chart and for scripts.

use axum::extract::State;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;

/// `GET /v1/metrics/history` → `{"interval_ms", "capacity", "samples": [...]}`, oldest
/// sample first; each has `time_ms`, `records_in_per_sec`, `records_out_per_sec`,
/// `bytes_on_disk`, `topics`, `partitions` and `total_lag`.
pub async fn history(State(state): State<AppState>) -> Result<axum::Json<Value>, ApiError> {
    let samples: Vec<Value> = state
        .history
        .samples()
        .iter()
        .map(|s| {
            json!({
                "time_ms": s.time_ms,
                "records_in_per_sec": s.records_in_per_sec,
                "records_out_per_sec": s.records_out_per_sec,
                "bytes_on_disk": s.bytes_on_disk,
                "topics": s.topics,
                "partitions": s.partitions,
                "total_lag": s.total_lag,
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "interval_ms": crate::broker::history::SAMPLE_INTERVAL.as_millis() as u64,
        "capacity": state.history.capacity(),
        "samples": samples,
    })))
}
