//! ApiVersions: the advertised API table.

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

use super::versions::SUPPORTED;

/// Lists every served API and version range.
pub fn handle(_req: ApiVersionsRequest) -> ApiVersionsResponse {
    let mut resp = ApiVersionsResponse::default();
    resp.api_keys = table();
    resp
}

/// The response to an ApiVersions request in a version we do not speak, encoded
/// as v0 by the caller: UNSUPPORTED_VERSION plus the table, so the client can
/// pick a version it shares with us.
pub fn unsupported_version() -> ApiVersionsResponse {
    let mut resp = ApiVersionsResponse::default();
    resp.error_code = kafka_protocol::error::ResponseError::UnsupportedVersion.code();
    resp.api_keys = table();
    resp
}

fn table() -> Vec<ApiVersion> {
    SUPPORTED
        .iter()
        .map(|&(key, min, max)| {
            let mut v = ApiVersion::default();
            v.api_key = key as i16;
            v.min_version = min;
            v.max_version = max;
            v
        })
        .collect()
}
