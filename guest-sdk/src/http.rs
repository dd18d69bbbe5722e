//! Outbound HTTP for connectors (feature `http`), over `wasi:http/outgoing-handler`.
//!
//! A request reaches only the origins the connector's `weir.allow.http` grants; the host
//! checks each request's own URL (never a header) and connects to the address it resolved.
//! A refused request answers [`HttpError::Denied`]; the host's log says why too.
//!
//! ```text
//! let resp = weir_guest::http::request("POST", "http://127.0.0.1:8080/in", &headers, Some(body))?;
//! if resp.status == 503 { /* retry after resp.header("retry-after") */ }
//! ```

use std::time::Duration;

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme,
};
use wasip2::io::streams::StreamError;

/// A response: status, headers and the whole body.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers, names lower-case.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (any case), as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The URL is malformed.
    BadUrl(String),
    /// The origin is not granted by `weir.allow.http`.
    Denied(String),
    /// The request could not be made or answered (refused, timed out, over a cap, ...).
    Transport(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::BadUrl(m) | HttpError::Denied(m) | HttpError::Transport(m) => f.write_str(m),
        }
    }
}

/// A URL split as wasi:http takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `http` or `https`.
    pub scheme: String,
    /// `host[:port]`.
    pub authority: String,
    /// `/path?query` (at least `/`).
    pub path_with_query: String,
}

impl Url {
    /// Splits `scheme://authority/path?query`.
    pub fn parse(url: &str) -> Result<Url, HttpError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| HttpError::BadUrl(format!("{url:?} is not scheme://host/path")))?;
        let cut = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(cut);
        if authority.is_empty() {
            return Err(HttpError::BadUrl(format!("{url:?} has no host")));
        }
        let path_with_query = match path {
            "" => "/".to_string(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_string(),
        };
        Ok(Url {
            scheme: scheme.to_ascii_lowercase(),
            authority: authority.to_string(),
            path_with_query,
        })
    }

    /// `scheme://host:port`, with the scheme's port when none is written.
    pub fn origin(&self) -> String {
        let has_port = self
            .authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| !p.contains(']'));
        if has_port {
            format!("{}://{}", self.scheme, self.authority)
        } else {
            let port = if self.scheme == "https" { 443 } else { 80 };
            format!("{}://{}:{port}", self.scheme, self.authority)
        }
    }
}

fn method_of(method: &str) -> Method {
    match method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_string()),
    }
}

fn transport(url: &Url, what: &str) -> HttpError {
    HttpError::Transport(format!("{} {what}", url.origin()))
}

fn error_code(url: &Url, code: ErrorCode) -> HttpError {
    match code {
        ErrorCode::HttpRequestDenied => {
            HttpError::Denied(format!("{} not in weir.allow.http", url.origin()))
        }
        other => transport(url, &format!("failed: {other:?}")),
    }
}

/// Sends one request and reads the whole response. `body` goes with a `content-length`.
pub fn request(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> Result<Response, HttpError> {
    let url = Url::parse(url)?;
    let mut list: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec()))
        .collect();
    if let Some(b) = body {
        list.push(("content-length".into(), b.len().to_string().into_bytes()));
    }
    let fields = Fields::from_list(&list)
        .map_err(|e| HttpError::BadUrl(format!("a request header is not allowed: {e:?}")))?;
    let req = OutgoingRequest::new(fields);
    let scheme = match url.scheme.as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_string()),
    };
    let bad = |what: &str| HttpError::BadUrl(format!("{} has a bad {what}", url.origin()));
    req.set_method(&method_of(method))
        .map_err(|()| bad("method"))?;
    req.set_scheme(Some(&scheme)).map_err(|()| bad("scheme"))?;
    req.set_authority(Some(&url.authority))
        .map_err(|()| bad("host"))?;
    req.set_path_with_query(Some(&url.path_with_query))
        .map_err(|()| bad("path"))?;
    let out = req
        .body()
        .map_err(|()| transport(&url, "gave no request body"))?;
    // Sent first, so the host streams the body as it is written.
    let future = outgoing_handler::handle(req, None).map_err(|c| error_code(&url, c))?;
    if let Some(bytes) = body {
        let stream = out
            .write()
            .map_err(|()| transport(&url, "gave no body stream"))?;
        for chunk in bytes.chunks(4096) {
            if let Err(e) = stream.blocking_write_and_flush(chunk) {
                drop(stream);
                // The host refused the body (a cap, or the request already failed): its
                // answer says why.
                return Err(answer_error(&url, &future).unwrap_or_else(|| {
                    transport(&url, &format!("refused the request body: {e:?}"))
                }));
            }
        }
        drop(stream);
    }
    OutgoingBody::finish(out, None).map_err(|c| error_code(&url, c))?;
    future.subscribe().block();
    let resp = match future.get() {
        Some(Ok(Ok(r))) => r,
        Some(Ok(Err(code))) => return Err(error_code(&url, code)),
        Some(Err(())) | None => return Err(transport(&url, "gave no response")),
    };
    let status = resp.status();
    let headers = resp.headers().entries();
    let incoming = resp
        .consume()
        .map_err(|()| transport(&url, "gave no response body"))?;
    let stream = incoming
        .stream()
        .map_err(|()| transport(&url, "gave no response body"))?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(64 << 10) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(transport(
                    &url,
                    &format!("failed reading the response: {}", e.to_debug_string()),
                ));
            }
        }
    }
    drop(stream);
    drop(IncomingBody::finish(incoming));
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// What the response future answered, if it failed.
fn answer_error(
    url: &Url,
    future: &wasip2::http::types::FutureIncomingResponse,
) -> Option<HttpError> {
    future.subscribe().block();
    match future.get() {
        Some(Ok(Err(code))) => Some(error_code(url, code)),
        _ => None,
    }
}

/// Waits `d` (within the host's deadline for the call).
pub fn sleep(d: Duration) {
    let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    wasip2::clocks::monotonic_clock::subscribe_duration(nanos).block();
}

/// Nanoseconds on the monotonic clock, for measuring waits.
pub fn now_nanos() -> u64 {
    wasip2::clocks::monotonic_clock::now()
}

/// Parses a header list written `Name:value|Name2:value2` (as `http.headers` of the
/// built-in HTTP connectors), refusing an entry without a name or a `:`.
pub fn parse_headers(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for item in text.split('|').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, value) = item
            .split_once(':')
            .ok_or_else(|| format!("{item:?} is not Name:value"))?;
        let name = name.trim();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        {
            return Err(format!("{item:?} has no usable header name"));
        }
        out.push((name.to_string(), value.trim().to_string()));
    }
    Ok(out)
}
