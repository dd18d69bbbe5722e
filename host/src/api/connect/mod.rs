//! Kafka Connect's REST API (same paths, bodies and status codes), a face over
//! [`crate::connect::Connectors`]; served on the HTTP listener and on the Connect listener
//! (`--connect-addr`, default 127.0.0.1:8083).
//!
//! - [`connectors`]: `GET /`, list, create, info, config, delete.
//! - [`lifecycle`]: status, tasks, pause / resume / stop, restarts, topics.
//! - [`offsets`]: KIP-875's `GET` / `PATCH` / `DELETE .../offsets`.
//! - [`plugins`]: `/connector-plugins`, their config definitions and `config/validate`.
//! - [`error`]: Connect's error body and the one status mapping of [`ConnectError`](crate::connect::ConnectError).

pub mod connectors;
pub mod error;
pub mod lifecycle;
pub mod offsets;
pub mod plugins;

use axum::Router;
use axum::routing::{get, post, put};

use super::AppState;

/// Connect's routes, for either listener.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(connectors::root))
        .route(
            "/connectors",
            get(connectors::list).post(connectors::create),
        )
        .route(
            "/connectors/{name}",
            get(connectors::info).delete(connectors::delete),
        )
        .route(
            "/connectors/{name}/config",
            get(connectors::config)
                .put(connectors::put_config)
                .patch(connectors::patch_config),
        )
        .route("/connectors/{name}/status", get(lifecycle::status))
        .route("/connectors/{name}/tasks", get(lifecycle::tasks))
        .route(
            "/connectors/{name}/tasks/{task}/status",
            get(lifecycle::task_status),
        )
        .route(
            "/connectors/{name}/tasks/{task}/restart",
            post(lifecycle::restart_task),
        )
        .route("/connectors/{name}/pause", put(lifecycle::pause))
        .route("/connectors/{name}/resume", put(lifecycle::resume))
        .route("/connectors/{name}/stop", put(lifecycle::stop))
        .route("/connectors/{name}/restart", post(lifecycle::restart))
        .route("/connectors/{name}/topics", get(lifecycle::topics))
        .route("/connectors/{name}/logs", get(lifecycle::logs))
        .route(
            "/connectors/{name}/offsets",
            get(offsets::get)
                .patch(offsets::alter)
                .delete(offsets::reset),
        )
        .route("/connector-plugins", get(plugins::list))
        .route("/connector-plugins/{class}/config", get(plugins::config))
        .route(
            "/connector-plugins/{class}/config/validate",
            put(plugins::validate),
        )
}

/// Runs blocking connect work (task threads join, sled flushes) off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, error::ConnectApiError> + Send + 'static,
) -> Result<T, error::ConnectApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        error::ConnectApiError::internal(format!("a connect operation panicked: {e}"))
    })?
}
