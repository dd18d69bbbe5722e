//! Users and tokens: `/v1/users` and `/v1/tokens` (`weir user`, `weir token`).
//!
//! Managing them needs ALTER on the cluster (reading them DESCRIBE); with no users, the
//! first one may be added anonymously, from loopback only.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{Principal, TokenRecord, UserRecord};

use super::auth::{PeerIp, check_token_for};
use super::error::{ApiError, ApiJson, ApiPath};
use super::{AppState, blocking};

/// `POST /v1/users` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// The user's name.
    pub name: String,
    /// The password, from which SCRAM credentials are derived (it is not stored).
    pub password: String,
}

/// `POST /v1/tokens` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// The user the token authenticates as.
    pub user: String,
}

fn user_json(u: &UserRecord) -> Value {
    let mechanisms: Vec<&str> = u.credentials.iter().map(|c| c.mechanism.name()).collect();
    json!({"name": u.name, "mechanisms": mechanisms, "created_ms": u.created_ms})
}

fn token_json(t: &TokenRecord) -> Value {
    json!({"id": t.id, "user": t.user, "created_ms": t.created_ms})
}

/// `POST /v1/users` → 201 `{name, mechanisms, created_ms}`.
pub async fn add(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Extension(PeerIp(peer)): Extension<PeerIp>,
    ApiJson(body): ApiJson<NewUser>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    let auth = state.auth.clone();
    let user =
        blocking(move || Ok(auth.add_user(&principal, peer, &body.name, &body.password)?)).await?;
    tracing::info!(user = %user.name, "user added");
    Ok((StatusCode::CREATED, axum::Json(user_json(&user))))
}

/// `GET /v1/users` → `{"users": [...]}`, by name.
pub async fn list(State(state): State<AppState>) -> Result<axum::Json<Value>, ApiError> {
    let auth = state.auth.clone();
    let users = blocking(move || Ok(auth.list_users()?)).await?;
    let users: Vec<Value> = users.iter().map(user_json).collect();
    Ok(axum::Json(json!({ "users": users })))
}

/// `DELETE /v1/users/{name}` → 204; the user's tokens are revoked with it.
pub async fn delete(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let auth = state.auth.clone();
    blocking(move || Ok(auth.delete_user(&name)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/tokens` → 201 `{id, user, created_ms, token}`; the token is shown only here.
pub async fn create_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Extension(peer): Extension<PeerIp>,
    ApiJson(body): ApiJson<NewToken>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    check_token_for(&state, &principal, peer, &body.user)?;
    let auth = state.auth.clone();
    let (token, record) = blocking(move || Ok(auth.create_token(&body.user)?)).await?;
    let mut out = token_json(&record);
    out["token"] = json!(token);
    Ok((StatusCode::CREATED, axum::Json(out)))
}

/// `GET /v1/tokens` → `{"tokens": [{id, user, created_ms}]}`, oldest first.
pub async fn list_tokens(State(state): State<AppState>) -> Result<axum::Json<Value>, ApiError> {
    let auth = state.auth.clone();
    let tokens = blocking(move || Ok(auth.list_tokens()?)).await?;
    let tokens: Vec<Value> = tokens.iter().map(token_json).collect();
    Ok(axum::Json(json!({ "tokens": tokens })))
}

/// `DELETE /v1/tokens/{id}` → 204.
pub async fn revoke_token(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let auth = state.auth.clone();
    blocking(move || Ok(auth.revoke_token(&id)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}
