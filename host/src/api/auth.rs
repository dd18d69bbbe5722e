//! Authentication of every HTTP request, in one middleware: `Authorization: Bearer
//! <token>` or `Authorization: Basic`, or none where the auth rule admits anonymous
//! requests. The principal goes into the request's extensions for the handlers
//! (and, later, ACL checks). On a TLS connection whose client certificate was verified,
//! a request without `Authorization` acts for the certificate's `User:<CN>`.
//!
//! `GET /v1/health` stays open: liveness probes (load balancers, orchestrators,
//! systemd) carry no credentials, and it tells only whether partitions are fenced or
//! directories orphaned, nothing of the records.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::auth::{AuthError, CertifiedPrincipal, Principal, Transport};

use super::AppState;
use super::error::ApiError;

/// Paths served without credentials (see the module doc).
const OPEN_PATHS: &[&str] = &["/v1/health"];

/// The peer's address as the middleware saw it, for handlers (the first user may be
/// added only from loopback).
#[derive(Debug, Clone, Copy)]
pub struct PeerIp(pub IpAddr);

/// The peer of a request: the address the listener put in, or (when none was put in,
/// e.g. a router served by other means) an address that is not loopback, so nothing
/// is let in by mistake.
pub fn peer(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// The middleware: authenticates, or answers 401 with `WWW-Authenticate`.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if OPEN_PATHS.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    let peer = peer(&req);
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .map(|v| v.to_str().map(str::to_owned));
    let transport = req
        .extensions()
        .get::<Transport>()
        .copied()
        .unwrap_or(Transport::Plaintext);
    let certified = req
        .extensions()
        .get::<Option<CertifiedPrincipal>>()
        .cloned()
        .flatten();
    let auth = state.auth.clone();
    let outcome = match (header, certified) {
        (None, Some(CertifiedPrincipal(principal))) => Ok(principal),
        (None, None) => auth.anonymous(peer),
        (Some(Err(_)), _) => Err(AuthError::Unauthenticated {
            reason: "the Authorization header is not ASCII",
        }),
        (Some(Ok(value)), _) => {
            // Basic runs PBKDF2 and both read sled: off the async threads.
            match tokio::task::spawn_blocking(move || credentials(&auth, &value, peer, transport))
                .await
            {
                Ok(outcome) => outcome,
                Err(e) => return ApiError::from(e).into_response(),
            }
        }
    };
    match outcome {
        Ok(principal) => {
            req.extensions_mut().insert(principal);
            req.extensions_mut().insert(PeerIp(peer));
            next.run(req).await
        }
        Err(e) => {
            if matches!(e, AuthError::BadCredentials) {
                tokio::time::sleep(state.auth.settings().failure_delay).await;
            }
            let mut response = ApiError::from(e).into_response();
            if response.status() == StatusCode::UNAUTHORIZED {
                let headers = response.headers_mut();
                headers.append(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"weir\""),
                );
                headers.append(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"weir\", charset=\"UTF-8\""),
                );
            }
            response
        }
    }
}

/// The principal an `Authorization` header's value names.
fn credentials(
    auth: &crate::auth::Authenticator,
    value: &str,
    peer: IpAddr,
    transport: Transport,
) -> Result<Principal, AuthError> {
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return auth.token(rest);
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = B64
            .decode(rest)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(AuthError::Unauthenticated {
                reason: "Basic credentials are not base64 of UTF-8 user:password",
            })?;
        let (user, password) = decoded.split_once(':').ok_or(AuthError::Unauthenticated {
            reason: "Basic credentials have no ':' between user and password",
        })?;
        return auth.password(user, password, peer, transport);
    }
    Err(AuthError::Unauthenticated {
        reason: "unsupported Authorization scheme: use Bearer (a weir token) or Basic",
    })
}
