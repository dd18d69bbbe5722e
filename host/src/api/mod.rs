//! The JSON HTTP API under `/v1`, a face over the broker.
//!
//! - [`topics`]: create, list, describe, delete topics; add partitions.
//! - [`records`]: produce and long-poll consume records as JSON, from an offset or a time.
//! - [`record_search`]: the bounded search over keys and values of `?q=`.
//! - [`headers`]: record headers in JSON answers (`headers`, and `headers_list` when a
//!   key repeats).
//! - [`groups`]: committed consumer-group offsets and lag.
//! - [`modules`]: uploading and listing Wasm modules.
//! - [`pipelines`]: pipelines (create, status, hot-swap, pause, state) and `/metrics`.
//! - [`pipeline_live`]: what the console watches of a pipeline: sampled figures for
//!   charts, dead letters, the log followed.
//! - [`playground`]: a module version run over given records (`.../test`).
//! - [`plugins`]: the built-in plugins that ship with weir.
//! - [`connect`]: Kafka Connect's REST API (`/connectors`, `/connector-plugins`), also
//!   served alone on the Connect listener ([`connect_router`]).
//! - [`console`]: the web console's files at `/` (for browsers), `/ui` and `/console/*`,
//!   served openly in front of the API; its data comes through the API.
//! - [`history`]: `/v1/metrics/history`, the recent throughput the server sampled.
//! - [`health`]: `/v1/health`, the server's real state (fenced partitions, orphans).
//! - [`cluster`]: `/v1/cluster` (attached mode's nodes, tasks and lag), and the refusal of
//!   the broker's endpoints on an attached node.
//! - [`orphans`]: log directories the metadata does not list: list, adopt, delete.
//! - [`auth`]: the middleware that authenticates every request (bearer token, basic,
//!   or anonymous where the auth rule allows), answering 401 otherwise, and checks
//!   the ACLs for the operation and resource its route needs, answering 403.
//! - [`acls`]: ACLs (`/v1/acls`), as Kafka's ACL APIs manage them.
//! - [`users`]: users and tokens (`/v1/users`, `/v1/tokens`).
//! - [`bounded`]: arrays and objects in request bodies, bounded while parsed.
//! - [`error`]: the error shape and the one status mapping.

pub mod acls;
pub mod auth;
pub mod bounded;
pub mod cluster;
pub mod connect;
pub mod console;
pub mod error;
pub mod groups;
pub mod headers;
pub mod health;
pub mod history;
pub mod modules;
pub mod orphans;
pub mod pipeline_live;
pub mod pipelines;
pub mod playground;
pub mod plugins;
pub mod record_search;
pub mod records;
pub mod topics;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, patch, post};

use crate::auth::Authenticator;
use crate::connect::Connectors;
use crate::pipeline::Pipelines;

use crate::broker::Broker;
use crate::broker::history::ThroughputHistory;
use crate::broker::producer::ProducerRegistry;
use error::ApiError;

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The broker.
    pub broker: Arc<Broker>,
    /// Producer and transaction state: consumes read committed data only.
    pub producers: Arc<ProducerRegistry>,
    /// Partitions of a topic created without a count.
    pub default_partitions: u32,
    /// Longest long-poll a consume may ask for.
    pub max_poll: Duration,
    /// Longest one records search reads before answering (`http.max_search_ms`).
    pub max_search: Duration,
    /// Becomes true when the server starts shutting down: long polls end early.
    pub closing: tokio::sync::watch::Receiver<bool>,
    /// Modules and pipelines.
    pub pipelines: Arc<Pipelines>,
    /// Who a request acts for (users, tokens, the anonymous rule).
    pub auth: Arc<Authenticator>,
    /// Connectors.
    pub connect: Arc<Connectors>,
    /// The recent throughput, sampled by the server.
    pub history: Arc<ThroughputHistory>,
    /// Permits for followed pipeline logs (long polls) at once, server-wide
    /// ([`pipeline_live::MAX_LOG_FOLLOWS`]).
    pub log_follows: Arc<tokio::sync::Semaphore>,
    /// Attached mode: the node's runners and cluster view (`None`: embedded).
    pub attached: Option<crate::cluster::attached::Attached>,
}

/// The `/v1` router, every route behind [`auth::authenticate`] (which needs the
/// peer's `ConnectInfo<SocketAddr>` in each request's extensions; without it the
/// peer counts as remote).
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    // Modules are bigger than produce requests (a Python component is ~40 MB): the
    // upload handler enforces `max_module_bytes` itself, answering 413 in JSON.
    let modules = Router::new()
        .route("/v1/modules/{name}", post(modules::upload))
        .layer(DefaultBodyLimit::disable());
    Router::new()
        .merge(modules)
        .merge(connect::routes())
        .route("/v1/modules", get(modules::list))
        .route("/v1/modules/{name}", get(modules::versions))
        .route(
            "/v1/modules/{name}/{version}",
            get(modules::describe).delete(modules::delete),
        )
        .route(
            "/v1/pipelines",
            get(pipelines::list).post(pipelines::create),
        )
        .route(
            "/v1/pipelines/{name}",
            get(pipelines::describe)
                .put(pipelines::update)
                .delete(pipelines::delete),
        )
        .route("/v1/pipelines/{name}/pause", post(pipelines::pause))
        .route("/v1/pipelines/{name}/resume", post(pipelines::resume))
        .route("/v1/modules/{name}/{version}/test", post(playground::test))
        .route("/v1/pipelines/{name}/logs", get(pipeline_live::logs))
        .route(
            "/v1/pipelines/{name}/metrics/history",
            get(pipeline_live::metrics_history),
        )
        .route(
            "/v1/pipelines/{name}/dead-letters",
            get(pipeline_live::dead_letters),
        )
        .route("/v1/pipelines/{name}/state/{step}", get(pipelines::state))
        .route("/metrics", get(pipelines::metrics))
        .route("/v1/metrics/history", get(history::history))
        .route("/v1/plugins", get(plugins::list))
        .route("/v1/plugins/{name}", get(plugins::describe))
        .route("/v1/health", get(health::health))
        .route("/v1/cluster", get(cluster::cluster))
        .route("/v1/orphans", get(orphans::list))
        .route("/v1/orphans/{name}", axum::routing::delete(orphans::delete))
        .route("/v1/orphans/{name}/adopt", post(orphans::adopt))
        .route("/v1/topics", get(topics::list).post(topics::create))
        .route(
            "/v1/topics/{topic}",
            get(topics::describe).delete(topics::delete),
        )
        .route(
            "/v1/topics/{topic}/partitions",
            post(topics::add_partitions),
        )
        .route("/v1/topics/{topic}/config", patch(topics::alter_config))
        .route("/v1/topics/{topic}/records", post(records::produce))
        .route(
            "/v1/topics/{topic}/partitions/{partition}/records",
            get(records::consume).delete(records::delete),
        )
        .route("/v1/groups", get(groups::list))
        .route(
            "/v1/groups/{group}",
            get(groups::describe).delete(groups::delete),
        )
        .route("/v1/groups/{group}/offsets", post(groups::commit))
        .route("/v1/groups/{group}/offsets/reset", post(groups::reset))
        .route(
            "/v1/acls",
            get(acls::list).post(acls::create).delete(acls::delete),
        )
        .route("/v1/users", get(users::list).post(users::add))
        .route("/v1/users/{name}", axum::routing::delete(users::delete))
        .route(
            "/v1/tokens",
            get(users::list_tokens).post(users::create_token),
        )
        .route(
            "/v1/tokens/{id}",
            axum::routing::delete(users::revoke_token),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            cluster::refuse_broker_paths,
        ))
        // Outermost but the body limit: nothing is read or routed for a stranger.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            error::relative_paths,
        ))
        // Outermost: the console's files need no credentials and hold no data.
        .layer(axum::middleware::from_fn(console::serve))
        .with_state(state)
}

/// The Connect listener's router: Connect's routes only, behind the same authentication,
/// with Connect's error body for unknown paths.
pub fn connect_router(state: AppState, max_body_bytes: usize) -> Router {
    connect::routes()
        .fallback(|| async {
            connect::error::ConnectApiError::new(StatusCode::NOT_FOUND, "HTTP 404 Not Found")
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            cluster::refuse_broker_paths,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this endpoint",
    )
}

/// Runs blocking broker work (file I/O, fsync) off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await?
}
