//! The HTTP error shape and the one place where errors become status codes.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::auth::AuthError;
use crate::broker::BrokerError;
use crate::log::LogError;
use crate::log::batch::BatchError;
use crate::pipeline::playground::PlaygroundError;
use crate::pipeline::task::TaskError;
use crate::pipeline::{PipelineError, PipelineStatus};
use crate::runtime::RuntimeError;

/// An error answered as `{"error": {"code", "message"}}` with its status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// An error with an explicit status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 with code `invalid_request`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// 500: a fault of ours.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, "{}", self.message);
        }
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, axum::Json(body)).into_response()
    }
}

/// Error bodies, and the bodies that report errors of the server's own work
/// (health, pipelines), name files relative to the data directory, never by
/// their absolute paths (see [`crate::broker::Broker::client_text`]): every
/// error a handler returns passes here, so no mapping can forget it. Records
/// (a consume's body) are the client's data and pass untouched.
pub async fn relative_paths(
    axum::extract::State(state): axum::extract::State<super::AppState>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    // The reports of the server's own work: health, a pipeline's status and
    // logs (not its state, which is the pipeline's data).
    let path = request.uri().path();
    let reports = path == "/v1/health"
        || path == "/v1/pipelines"
        || path
            .strip_prefix("/v1/pipelines/")
            .is_some_and(|rest| rest.split('/').count() == 1 || rest.ends_with("/logs"));
    let response = next.run(request).await;
    let status = response.status();
    if !(reports || status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // These bodies are small JSON documents; a larger one is not an error report.
    let bytes = match axum::body::to_bytes(body, 16 << 20).await {
        Ok(bytes) => bytes,
        Err(e) => {
            return ApiError::internal(format!("reading a response body: {e}")).into_response();
        }
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    };
    let text = state.broker.client_text(text);
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(text))
}

/// A full disk, however the layer below reported it.
fn disk_full(err: &std::io::Error) -> bool {
    err.raw_os_error() == Some(libc::ENOSPC) || err.kind() == std::io::ErrorKind::StorageFull
}

const DISK_FULL: (StatusCode, &str) = (StatusCode::INSUFFICIENT_STORAGE, "disk_full");

fn log_status(err: &LogError) -> (StatusCode, &'static str) {
    match err {
        LogError::InvalidBatch(BatchError::Decompress { .. }) => {
            (StatusCode::UNPROCESSABLE_ENTITY, "undecodable_batch")
        }
        LogError::InvalidBatch(_) => (StatusCode::BAD_REQUEST, "invalid_batch"),
        LogError::KeylessRecord { .. } => (StatusCode::BAD_REQUEST, "keyless_record"),
        LogError::BatchTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "message_too_large"),
        LogError::TimestampTooFarAhead { .. } => (StatusCode::BAD_REQUEST, "invalid_timestamp"),
        LogError::OffsetOutOfRange { .. } => {
            (StatusCode::RANGE_NOT_SATISFIABLE, "offset_out_of_range")
        }
        LogError::Deleted => (StatusCode::NOT_FOUND, "unknown_topic"),
        LogError::Corrupt { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "storage_corrupt"),
        // The message names the range and where reads go on.
        LogError::Damaged { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "records_damaged"),
        LogError::Fenced { .. } => (StatusCode::SERVICE_UNAVAILABLE, "partition_fenced"),
        LogError::Io { source, .. } if disk_full(source) => DISK_FULL,
        LogError::Io { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "storage_error"),
    }
}

fn sled_status(err: &sled::Error, code: &'static str) -> (StatusCode, &'static str) {
    match err {
        sled::Error::Io(source) if disk_full(source) => DISK_FULL,
        _ => (StatusCode::INTERNAL_SERVER_ERROR, code),
    }
}

fn broker_status(err: &BrokerError) -> (StatusCode, &'static str) {
    use BrokerError as E;
    match err {
        E::InvalidTopicName(_) | E::InternalTopic { .. } => {
            (StatusCode::BAD_REQUEST, "invalid_topic_name")
        }
        E::InvalidConfig(_) => (StatusCode::BAD_REQUEST, "invalid_config"),
        E::InvalidPartitionCount { .. } => (StatusCode::BAD_REQUEST, "invalid_partitions"),
        E::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
        E::TopicExists { .. } => (StatusCode::CONFLICT, "topic_exists"),
        E::TopicCollides { .. } => (StatusCode::CONFLICT, "topic_collides"),
        E::OrphanExists { .. } => (StatusCode::CONFLICT, "orphan_exists"),
        E::LimitReached { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "limit_reached"),
        E::OffsetMetadataTooLarge { .. } => (StatusCode::BAD_REQUEST, "metadata_too_large"),
        E::UnknownOrphan { .. } => (StatusCode::NOT_FOUND, "unknown_orphan"),
        E::UnknownTopic { .. } => (StatusCode::NOT_FOUND, "unknown_topic"),
        E::UnknownPartition { .. } => (StatusCode::NOT_FOUND, "unknown_partition"),
        E::UnknownGroup { .. } => (StatusCode::NOT_FOUND, "unknown_group"),
        E::GroupNotEmpty { .. } => (StatusCode::CONFLICT, "group_not_empty"),
        // The HTTP API starts no transactions; a refusal reaching it is a conflict.
        E::Transaction(_) => (StatusCode::CONFLICT, "transaction_refused"),
        E::Log { source, .. } => log_status(source),
        E::Io { source, .. } if disk_full(source) => DISK_FULL,
        E::Io { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "storage_error"),
        E::Store(source) => sled_status(source, "metadata_error"),
        E::Corrupt { .. } | E::DataDirInUse { .. } => {
            (StatusCode::INTERNAL_SERVER_ERROR, "metadata_error")
        }
    }
}

impl From<BrokerError> for ApiError {
    fn from(err: BrokerError) -> ApiError {
        let (status, code) = broker_status(&err);
        ApiError::new(status, code, err.to_string())
    }
}

fn runtime_status(err: &RuntimeError) -> (StatusCode, &'static str) {
    match err {
        RuntimeError::Cache { source, .. } if disk_full(source) => DISK_FULL,
        RuntimeError::CompileBusy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "compile_busy"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "pipeline_error"),
    }
}

fn playground_status(err: &PlaygroundError) -> (StatusCode, &'static str) {
    use PlaygroundError as E;
    match err {
        E::NoRecords | E::ZeroBatch | E::DeadlineTooLong { .. } => {
            (StatusCode::BAD_REQUEST, "invalid_request")
        }
        E::TooManyRecords { .. } | E::TooManyBytes { .. } => {
            (StatusCode::PAYLOAD_TOO_LARGE, "playground_too_large")
        }
        E::Busy { .. } => (StatusCode::TOO_MANY_REQUESTS, "playground_busy"),
        E::NotAMapModule { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "not_a_map_module"),
    }
}

fn pipeline_status(err: &PipelineError) -> (StatusCode, &'static str) {
    use PipelineError as E;
    match err {
        E::InvalidSpec(_) => (StatusCode::BAD_REQUEST, "invalid_spec"),
        E::InvalidModuleName { .. } => (StatusCode::BAD_REQUEST, "invalid_module_name"),
        E::InvalidModule { .. } => (StatusCode::BAD_REQUEST, "invalid_module"),
        E::ModuleTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "module_too_large"),
        E::UnknownModule { .. } => (StatusCode::NOT_FOUND, "unknown_module"),
        E::ModuleInUse { .. } => (StatusCode::CONFLICT, "module_in_use"),
        E::PipelineExists { .. } => (StatusCode::CONFLICT, "pipeline_exists"),
        E::RepartitionTopicTaken { .. }
        | E::RepartitionTopicExists { .. }
        | E::InternalTopic { .. } => (StatusCode::CONFLICT, "topic_taken"),
        E::CatalogConflict { .. } => (StatusCode::CONFLICT, "catalog_conflict"),
        E::CatalogRecordTooLarge { .. } => {
            (StatusCode::PAYLOAD_TOO_LARGE, "catalog_record_too_large")
        }
        E::CatalogUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "catalog_unavailable"),
        E::UnknownPipeline { .. } => (StatusCode::NOT_FOUND, "unknown_pipeline"),
        E::UnknownStep { .. } => (StatusCode::NOT_FOUND, "unknown_step"),
        E::NotWindowed { .. } => (StatusCode::BAD_REQUEST, "not_windowed"),
        E::AggregateState { source, .. } if source.is_too_wide() => {
            (StatusCode::UNPROCESSABLE_ENTITY, "state_query_too_wide")
        }
        E::AggregateState { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "pipeline_error"),
        E::Playground(source) => playground_status(source),
        E::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
        E::Cluster { .. } => (StatusCode::BAD_GATEWAY, "cluster_unavailable"),
        E::InstanceLimit { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "instance_limit"),
        E::Io { source, .. } if disk_full(source) => DISK_FULL,
        E::Broker(source) => broker_status(source),
        E::Store(source) => sled_status(source, "pipeline_error"),
        E::Runtime(source) => runtime_status(source),
        E::Io { .. } | E::Corrupt { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "pipeline_error"),
    }
}

impl From<PipelineError> for ApiError {
    fn from(err: PipelineError) -> ApiError {
        let (status, code) = pipeline_status(&err);
        ApiError::new(status, code, err.to_string())
    }
}

/// How a task's failure is classified: the status a request failing the same way would
/// get, and its code. A plugin's failure is the plugin's (422), not a fault of the server.
pub fn task_status(err: &TaskError) -> (StatusCode, &'static str) {
    use TaskError as E;
    match err {
        E::Undeployable(source) => pipeline_status(source),
        E::Start(e) | E::Step(e) | E::Timer(e) if e.error.is_host_fault() => {
            match e.error.runtime() {
                Some(runtime) => runtime_status(runtime),
                // An aggregation's state store failed underneath: the server's fault.
                None => (StatusCode::INTERNAL_SERVER_ERROR, "state_unavailable"),
            }
        }
        E::Start(_) | E::Step(_) | E::Timer(_) | E::Record { .. } => {
            (StatusCode::UNPROCESSABLE_ENTITY, "plugin_error")
        }
        E::Panicked => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        E::Read { source, .. } | E::Output { source, .. } | E::Append { source, .. } => {
            broker_status(source)
        }
        E::Encode { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_output"),
        E::OutOfOrder { .. } | E::Fenced { .. } => (StatusCode::CONFLICT, "producer_fenced"),
        E::Commit { source, .. } => pipeline_status(source),
        E::Flush(source) => sled_status(source, "pipeline_error"),
    }
}

/// Fills in each task's error code and status from its typed cause.
pub fn classify(status: &mut PipelineStatus) {
    for task in &mut status.tasks {
        if let Some(cause) = &task.cause {
            let (http, code) = task_status(cause);
            task.last_error_code = Some(code);
            task.last_error_status = Some(http.as_u16());
        }
    }
}

fn auth_status(err: &AuthError) -> (StatusCode, &'static str) {
    use AuthError as E;
    match err {
        E::Unauthenticated { .. } | E::BadCredentials | E::Sasl { .. } => {
            (StatusCode::UNAUTHORIZED, "unauthenticated")
        }
        E::UnsupportedMechanism { .. } => (StatusCode::BAD_REQUEST, "unsupported_mechanism"),
        E::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden"),
        E::Denied { .. } => (StatusCode::FORBIDDEN, "acl_denied"),
        E::InvalidAcl { .. } => (StatusCode::BAD_REQUEST, "invalid_acl"),
        E::InvalidUserName { .. } => (StatusCode::BAD_REQUEST, "invalid_user_name"),
        E::InvalidPassword { .. } => (StatusCode::BAD_REQUEST, "invalid_password"),
        E::UserExists { .. } => (StatusCode::CONFLICT, "user_exists"),
        E::UnknownUser { .. } => (StatusCode::NOT_FOUND, "unknown_user"),
        E::UnknownToken { .. } => (StatusCode::NOT_FOUND, "unknown_token"),
        E::LimitReached { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "limit_reached"),
        // A start-up refusal; never reaches a request.
        E::AnonymousOnNetwork { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        E::Broker(source) => broker_status(source),
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> ApiError {
        let (status, code) = auth_status(&err);
        ApiError::new(status, code, err.to_string())
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(err: tokio::task::JoinError) -> ApiError {
        ApiError::internal(format!("request worker failed: {err}"))
    }
}

/// Turns an extractor rejection into our shape, keeping axum's status (400, 413, 415, 422).
fn rejection(status: StatusCode, text: String) -> ApiError {
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ => "invalid_request",
    };
    // A body that parses as JSON but has the wrong shape is still the client's bad input.
    let status = if status == StatusCode::UNPROCESSABLE_ENTITY {
        StatusCode::BAD_REQUEST
    } else {
        status
    };
    ApiError::new(status, code, text)
}

/// `axum::Json` whose rejections answer in our error shape.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|axum::Json(v)| ApiJson(v))
            .map_err(|r: JsonRejection| rejection(r.status(), r.body_text()))
    }
}

/// `axum::extract::Query` whose rejections answer in our error shape.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| ApiQuery(v))
            .map_err(|r: QueryRejection| rejection(r.status(), r.body_text()))
    }
}

/// `axum::extract::Path` whose rejections answer in our error shape.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ApiPath(v))
            .map_err(|r: PathRejection| rejection(StatusCode::BAD_REQUEST, r.body_text()))
    }
}
