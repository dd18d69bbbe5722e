//! The blocking HTTP client every command but `serve` uses, and the API's error shape.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::blocking::RequestBuilder;
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// How long one request may take. Above the longest long-poll the CLI asks for, so that a slow
/// server is reported rather than waited on forever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An error the server answered with: its `{"error":{"code","message"}}` body and HTTP status.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status of the response.
    pub status: StatusCode,
    /// The machine-readable code, e.g. `offset_out_of_range`; `None` if the body had none.
    pub code: Option<String>,
    /// The human-readable message.
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(
                f,
                "{} ({code}, HTTP {})",
                self.message,
                self.status.as_u16()
            ),
            None => write!(f, "{} (HTTP {})", self.message, self.status.as_u16()),
        }
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// Reads an error response body, falling back to its text for bodies not in the API's shape
    /// (e.g. from a proxy in front of weir).
    fn from_body(status: StatusCode, body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct Body {
            error: Detail,
        }
        #[derive(Deserialize)]
        struct Detail {
            code: String,
            message: String,
        }
        if let Ok(Body { error }) = serde_json::from_slice(body) {
            return ApiError {
                status,
                code: Some(error.code),
                message: error.message,
            };
        }
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let message = if text.is_empty() {
            status
                .canonical_reason()
                .unwrap_or("request failed")
                .to_owned()
        } else {
            text.chars().take(300).collect()
        };
        ApiError {
            status,
            code: None,
            message,
        }
    }

    /// Whether `err` is an [`ApiError`] with this HTTP status.
    pub fn has_status(err: &anyhow::Error, status: StatusCode) -> bool {
        err.downcast_ref::<ApiError>()
            .is_some_and(|e| e.status == status)
    }

    /// Whether `err` is an [`ApiError`] with this code.
    pub fn has_code(err: &anyhow::Error, code: &str) -> bool {
        err.downcast_ref::<ApiError>()
            .is_some_and(|e| e.code.as_deref() == Some(code))
    }
}

/// How the CLI authenticates to the HTTP API.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// None: works while the server has no users (from loopback).
    None,
    /// `Authorization: Bearer` (`--token`, `WEIR_TOKEN`).
    Token(String),
    /// HTTP basic (`--auth-user`/`--auth-password`, `WEIR_USER`/`WEIR_PASSWORD`).
    Basic { user: String, password: String },
}

/// A client for one weir server's HTTP API.
pub struct Client {
    base: Url,
    http: reqwest::blocking::Client,
    credentials: Credentials,
}

impl Client {
    /// Creates a client for the API at `base`, e.g. `http://127.0.0.1:9080` or
    /// `https://weir.example:9080`; an https server's certificate is checked against
    /// the system's roots and, if given, the PEM CA bundle `ca_cert` (`--ca-cert`).
    pub fn new(
        base: &str,
        credentials: Credentials,
        ca_cert: Option<&Path>,
    ) -> anyhow::Result<Self> {
        let base = Url::parse(base).with_context(|| format!("invalid --url `{base}`"))?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            bail!("invalid --url `{base}`: expected an http:// or https:// URL");
        }
        install_crypto_provider();
        let mut builder = reqwest::blocking::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT);
        if let Some(path) = ca_cert {
            let pem = std::fs::read(path)
                .with_context(|| format!("reading --ca-cert {}", path.display()))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("--ca-cert {}: not a PEM bundle", path.display()))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().context("cannot set up the HTTP client")?;
        Ok(Client {
            base,
            http,
            credentials,
        })
    }

    /// `GET` a path given as segments (each is percent-encoded), with query parameters.
    pub fn get<T: DeserializeOwned>(
        &self,
        path: &[&str],
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        self.execute(self.http.get(self.url(path)).query(query))
    }

    /// `POST` a JSON body to a path given as segments.
    pub fn post<T: DeserializeOwned>(
        &self,
        path: &[&str],
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        self.execute(self.http.post(self.url(path)).json(body))
    }

    /// `PATCH` a JSON body to a path given as segments.
    pub fn patch<T: DeserializeOwned>(
        &self,
        path: &[&str],
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        self.execute(self.http.patch(self.url(path)).json(body))
    }

    /// `PUT` a JSON body to a path given as segments.
    pub fn put<T: DeserializeOwned>(
        &self,
        path: &[&str],
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        self.execute(self.http.put(self.url(path)).json(body))
    }

    /// `POST` with query parameters and no body.
    pub fn post_query<T: DeserializeOwned>(
        &self,
        path: &[&str],
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        self.execute(self.http.post(self.url(path)).query(query))
    }

    /// `POST` raw bytes with a content type to a path given as segments.
    pub fn post_bytes<T: DeserializeOwned>(
        &self,
        path: &[&str],
        body: Vec<u8>,
        content_type: &str,
    ) -> anyhow::Result<T> {
        self.execute(
            self.http
                .post(self.url(path))
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body),
        )
    }

    /// `DELETE` a path given as segments.
    pub fn delete(&self, path: &[&str]) -> anyhow::Result<()> {
        self.execute::<serde::de::IgnoredAny>(self.http.delete(self.url(path)))?;
        Ok(())
    }

    /// `DELETE` a path with query parameters, decoding the JSON answer.
    pub fn delete_query<T: DeserializeOwned>(
        &self,
        path: &[&str],
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        self.execute(self.http.delete(self.url(path)).query(query))
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        // Cannot fail: `new` rejected URLs that cannot be a base.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Sends a request and decodes its JSON answer; an empty body decodes as `null`.
    fn execute<T: DeserializeOwned>(&self, request: RequestBuilder) -> anyhow::Result<T> {
        let request = match &self.credentials {
            Credentials::None => request,
            Credentials::Token(token) => request.bearer_auth(token),
            Credentials::Basic { user, password } => request.basic_auth(user, Some(password)),
        };
        let response = request.send().map_err(|e| self.transport_error(e))?;
        let status = response.status();
        let url = response.url().clone();
        let body = response.bytes().map_err(|e| self.transport_error(e))?;
        if !status.is_success() {
            let err = anyhow::Error::new(ApiError::from_body(status, &body));
            if status == StatusCode::UNAUTHORIZED && matches!(self.credentials, Credentials::None) {
                return Err(err.context(
                    "weir needs credentials: give --token (WEIR_TOKEN, from `weir token create`) \
                     or --auth-user/--auth-password (WEIR_USER/WEIR_PASSWORD)",
                ));
            }
            return Err(err);
        }
        let body: &[u8] = if body.is_empty() { b"null" } else { &body };
        serde_json::from_slice(body)
            .with_context(|| format!("unexpected answer to {url} (HTTP {})", status.as_u16()))
    }

    fn transport_error(&self, err: reqwest::Error) -> anyhow::Error {
        let what = if err.is_connect() {
            "cannot reach weir at"
        } else if err.is_timeout() {
            "no answer in time from weir at"
        } else {
            return anyhow::Error::new(err)
                .context(format!("request to weir at {} failed", self.base()));
        };
        // The innermost cause is the useful part, e.g. "Connection refused (os error 111)".
        let mut root: &dyn std::error::Error = &err;
        while let Some(source) = root.source() {
            root = source;
        }
        anyhow::anyhow!("{what} {}: {root}", self.base())
    }

    /// The base URL as the user would write it (`Url` adds a trailing slash).
    fn base(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }
}

/// Makes ring rustls's process-wide provider (reqwest is built without one), once.
fn install_crypto_provider() {
    // ring is what the listeners use (see kafka/tls/mod.rs for why, and its deprecation).
    #[allow(deprecated)]
    let ring = tokio_rustls::rustls::crypto::ring::default_provider();
    // An error means one is installed already: fine.
    let _ = ring.install_default();
}
