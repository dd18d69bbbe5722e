//! KIP-875: `GET /connectors/{name}/offsets`, and `PATCH` / `DELETE` while STOPPED.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::api::AppState;

use super::blocking;
use super::connectors::parse_body;
use super::error::ConnectApiError;

/// `GET /connectors/{name}/offsets`: `{"offsets": [{"partition": {…}, "offset": {…}}]}`.
pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ConnectApiError> {
    let c = state.connect.clone();
    let offsets = blocking(move || Ok(c.offsets(&name)?)).await?;
    Ok(Json(json!({
        "offsets": offsets.into_iter().map(|(p, o)| json!({"partition": p, "offset": o})).collect::<Vec<_>>()
    })))
}

/// `PATCH /connectors/{name}/offsets` with `{"offsets": [{"partition": {…}, "offset": {…}|null}]}`.
pub async fn alter(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ConnectApiError> {
    let body = parse_body(&body)?;
    let Some(list) = body.get("offsets").and_then(Value::as_array) else {
        return Err(ConnectApiError::bad_request(
            "Offsets must be specified when altering a connector's offsets",
        ));
    };
    let mut changes = Vec::with_capacity(list.len());
    for item in list {
        let Some(p) = item.get("partition").filter(|p| p.is_object()) else {
            return Err(ConnectApiError::bad_request(format!(
                "Partition of {item} must be a JSON object"
            )));
        };
        let o = match item.get("offset") {
            None | Some(Value::Null) => None,
            Some(o) => Some(o.clone()),
        };
        changes.push((p.clone(), o));
    }
    let c = state.connect.clone();
    blocking(move || Ok(c.alter_offsets(&name, changes)?)).await?;
    Ok(Json(
        json!({"message": "The offsets for this connector have been altered successfully"}),
    ))
}

/// `DELETE /connectors/{name}/offsets`.
pub async fn reset(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ConnectApiError> {
    let c = state.connect.clone();
    blocking(move || Ok(c.reset_offsets(&name)?)).await?;
    Ok(Json(
        json!({"message": "The offsets for this connector have been reset successfully"}),
    ))
}
