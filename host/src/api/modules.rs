//! `/v1/modules`: upload, list, describe and delete Wasm modules.

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::auth::{PeerIp, Visible};
use super::error::{ApiError, ApiPath};
use super::{AppState, blocking};
use crate::auth::{Principal, ResourceType};
use crate::pipeline::ModuleVersion;

fn module_json(m: &ModuleVersion) -> Value {
    json!({
        "name": m.name,
        "version": m.version,
        "digest": m.digest,
        "world": m.world,
        "size": m.size,
        "created_ms": m.created_ms,
    })
}

/// How much of an oversized upload is read and discarded before giving up on the client.
const DRAIN_BYTES: usize = 256 << 20;

/// Reads a body of at most `max` bytes. A larger one is read on and discarded (up to
/// [`DRAIN_BYTES`] or 4× the cap, then the connection is dropped) and answered 413, so a
/// client still sending its upload gets the answer instead of a reset connection.
async fn read_capped(body: Body, max: usize) -> Result<Vec<u8>, ApiError> {
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("reading the module: {e}")))?;
        total = total.saturating_add(chunk.len());
        if total <= max {
            buf.extend_from_slice(&chunk);
        } else if total > max.saturating_mul(4).max(DRAIN_BYTES) {
            break;
        }
    }
    if total > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "module_too_large",
            format!("module is larger than the {max}-byte limit"),
        ));
    }
    Ok(buf)
}

/// `POST /v1/modules/{name}` with the component's bytes: 201 with the new version, or 200
/// with the existing one when the same bytes were uploaded before.
pub async fn upload(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    if let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        let ct = ct.split(';').next().unwrap_or_default().trim();
        if !matches!(ct, "application/wasm" | "application/octet-stream") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("send the module as application/wasm, not {ct}"),
            ));
        }
    }
    let max = state.pipelines.max_module_bytes();
    let body = read_capped(body, max).await?;
    let pipelines = state.pipelines.clone();
    let (module, created) = blocking(move || Ok(pipelines.upload_module(&name, &body)?)).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(module_json(&module))))
}

/// `GET /v1/modules`: every module the caller may DESCRIBE, with its versions.
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Extension(peer): Extension<PeerIp>,
) -> Result<axum::Json<Value>, ApiError> {
    let pipelines = state.pipelines.clone();
    let visible = Visible::new(&state, principal, peer, ResourceType::Module);
    let all = blocking(move || Ok(pipelines.modules()?)).await?;
    Ok(axum::Json(json!({
        "modules": all
            .iter()
            .filter(|m| visible.shows(&m.name))
            .map(module_json)
            .collect::<Vec<_>>()
    })))
}

/// `GET /v1/modules/{name}`: the versions of one module.
pub async fn versions(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let pipelines = state.pipelines.clone();
    let n = name.clone();
    let all = blocking(move || Ok(pipelines.module_versions(&n)?)).await?;
    Ok(axum::Json(json!({
        "name": name,
        "versions": all.iter().map(module_json).collect::<Vec<_>>()
    })))
}

/// `GET /v1/modules/{name}/{version}`.
pub async fn describe(
    State(state): State<AppState>,
    ApiPath((name, version)): ApiPath<(String, u32)>,
) -> Result<axum::Json<Value>, ApiError> {
    let pipelines = state.pipelines.clone();
    let m = blocking(move || Ok(pipelines.module(&name, version)?)).await?;
    Ok(axum::Json(module_json(&m)))
}

/// `DELETE /v1/modules/{name}/{version}`: 409 while a pipeline runs it.
pub async fn delete(
    State(state): State<AppState>,
    ApiPath((name, version)): ApiPath<(String, u32)>,
) -> Result<StatusCode, ApiError> {
    let pipelines = state.pipelines.clone();
    blocking(move || Ok(pipelines.delete_module(&name, version)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}
