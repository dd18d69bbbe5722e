//! Connect's error body, `{"error_code": <status>, "message": "…"}`, and the one mapping from
//! [`ConnectError`] to a status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::connect::ConnectError;

/// An error answered in Connect's shape.
#[derive(Debug)]
pub struct ConnectApiError {
    status: StatusCode,
    message: String,
}

impl ConnectApiError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ConnectApiError {
            status,
            message: message.into(),
        }
    }

    /// A bad request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// A server fault.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

fn status(err: &ConnectError) -> StatusCode {
    use ConnectError as E;
    match err {
        E::UnknownConnector { .. } | E::UnknownTask { .. } => StatusCode::NOT_FOUND,
        E::ConnectorExists { .. } | E::SwapPending { .. } | E::SwapAbandoned { .. } => {
            StatusCode::CONFLICT
        }
        E::InvalidConfig { .. }
        | E::BadRequest(_)
        | E::UnknownClass { .. }
        | E::NotStopped { .. }
        | E::TaskLimit { .. }
        | E::Transforms(crate::connect::transforms::TransformsError::InvalidConfig { .. }) => {
            StatusCode::BAD_REQUEST
        }
        E::Transforms(_) => StatusCode::UNPROCESSABLE_ENTITY,
        E::Pipeline(crate::pipeline::PipelineError::UnknownModule { .. }) => {
            StatusCode::BAD_REQUEST
        }
        // A plugin that cannot be used as a connector is the request's fault.
        E::Runtime(crate::runtime::RuntimeError::NotAConnector { .. }) => StatusCode::BAD_REQUEST,
        E::Runtime(_)
        | E::Plugin { .. }
        | E::Denied { .. }
        | E::Record { .. }
        | E::SwapRolledBack { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        E::Broker(_)
        | E::Append(_)
        | E::Pipeline(_)
        | E::Store(_)
        | E::Corrupt { .. }
        | E::Thread(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<ConnectError> for ConnectApiError {
    fn from(err: ConnectError) -> Self {
        ConnectApiError::new(status(&err), err.to_string())
    }
}

impl IntoResponse for ConnectApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error_code": self.status.as_u16(), "message": self.message});
        (self.status, Json(body)).into_response()
    }
}
