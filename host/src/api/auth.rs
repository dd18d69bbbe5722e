//! Authentication and authorisation of every HTTP request, in one middleware:
//! `Authorization: Bearer <token>` or `Authorization: Basic`, or none where the auth
//! rule admits anonymous requests (401 otherwise); then the ACL check of the one
//! (operation, resource) the route needs, from [`required`] (403 otherwise). The
//! principal goes into the request's extensions for the handlers. On a TLS
//! connection whose client certificate was verified, a request without
//! `Authorization` acts for the certificate's `User:<CN>`.
//!
//! `GET /v1/health` stays open: liveness probes (load balancers, orchestrators,
//! systemd) carry no credentials, and it tells only whether partitions are fenced or
//! directories orphaned, nothing of the records.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use axum::http::Method;

use crate::auth::acl_binding::CLUSTER_NAME;
use crate::auth::{
    AuthError, Authenticator, CertifiedPrincipal, Operation, Principal, Resource, ResourceType,
    Transport,
};

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
            if let Access::On(op, kind, name) = required(req.method(), req.uri().path()) {
                let resource = Resource { kind, name: &name };
                if let Err(e) = state.auth.check(&principal, peer, op, &resource) {
                    return ApiError::from(e).into_response();
                }
            }
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

/// What a request needs, from its method and path ([`required`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// One operation on one resource, checked by the middleware before the handler.
    On(Operation, ResourceType, String),
    /// A creation whose name is in the body (`POST /v1/topics`, `POST
    /// /v1/pipelines`): the handler asks [`check_create`].
    CreateNamedInBody(ResourceType),
    /// A listing: the handler keeps what the caller may DESCRIBE ([`Visible`]), as
    /// Kafka's Metadata lists topics and ListGroups groups.
    Listing(ResourceType),
    /// `POST /v1/tokens`: a user may create a token for itself, as Kafka lets a user
    /// create a delegation token it owns; one for another user needs ALTER on the
    /// cluster. The handler asks [`check_token_for`], the user being in the body.
    TokenInBody,
}

/// The operation and resource a request needs, from its method and path, in Kafka's
/// terms: a topic, group, module or pipeline named in the path is the resource;
/// listings of those are filtered per item by their handlers; creations whose name
/// is in the body are checked by theirs, as is a token for oneself; administration (users, tokens, ACLs,
/// orphans, plugins, metrics) is on the cluster. A path no route serves needs
/// DESCRIBE on the cluster, so strangers learn nothing from a 404.
pub fn required(method: &Method, path: &str) -> Access {
    use Operation as O;
    use ResourceType as R;
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    let read = *method == Method::GET || *method == Method::HEAD;
    let cluster = |op| Access::On(op, R::Cluster, CLUSTER_NAME.to_string());
    let on = |op, kind, name: &str| Access::On(op, kind, name.to_string());
    match (method, parts.as_slice()) {
        (_, ["v1", "topics"]) if read => Access::Listing(R::Topic),
        (_, ["v1", "topics"]) => Access::CreateNamedInBody(R::Topic),
        (m, ["v1", "topics", t]) if *m == Method::DELETE => on(O::Delete, R::Topic, t),
        (_, ["v1", "topics", t]) => on(O::Describe, R::Topic, t),
        (_, ["v1", "topics", t, "partitions"]) => on(O::Alter, R::Topic, t),
        (_, ["v1", "topics", t, "config"]) => on(O::AlterConfigs, R::Topic, t),
        (_, ["v1", "topics", t, "records"]) => on(O::Write, R::Topic, t),
        (_, ["v1", "topics", t, "partitions", _, "records"]) if read => on(O::Read, R::Topic, t),
        (_, ["v1", "topics", t, "partitions", _, "records"]) => on(O::Delete, R::Topic, t),
        (_, ["v1", "groups"]) if read => Access::Listing(R::Group),
        (m, ["v1", "groups", g]) if *m == Method::DELETE => on(O::Delete, R::Group, g),
        (_, ["v1", "groups", g]) => on(O::Describe, R::Group, g),
        (_, ["v1", "groups", g, "offsets", ..]) => on(O::Read, R::Group, g),
        (_, ["v1", "modules"]) if read => Access::Listing(R::Module),
        (m, ["v1", "modules", n]) if *m == Method::POST => on(O::Create, R::Module, n),
        (m, ["v1", "modules", n, _]) if *m == Method::DELETE => on(O::Delete, R::Module, n),
        (m, ["v1", "modules", n, _, "test"]) if *m == Method::POST => on(O::Read, R::Module, n),
        (_, ["v1", "modules", n, ..]) => on(O::Describe, R::Module, n),
        (_, ["v1", "pipelines"]) if read => Access::Listing(R::Pipeline),
        (_, ["v1", "pipelines"]) => Access::CreateNamedInBody(R::Pipeline),
        (m, ["v1", "pipelines", p]) if *m == Method::DELETE => on(O::Delete, R::Pipeline, p),
        (_, ["v1", "pipelines", p]) if read => on(O::Describe, R::Pipeline, p),
        (_, ["v1", "pipelines", p]) => on(O::Alter, R::Pipeline, p),
        (_, ["v1", "pipelines", p, "pause" | "resume"]) => on(O::Alter, R::Pipeline, p),
        (_, ["v1", "pipelines", p, "logs"]) => on(O::Describe, R::Pipeline, p),
        (_, ["v1", "pipelines", p, "metrics", "history"]) => on(O::Describe, R::Pipeline, p),
        // Dead letters are records: reading them is reading the pipeline's data.
        (_, ["v1", "pipelines", p, "dead-letters"]) => on(O::Read, R::Pipeline, p),
        (_, ["v1", "pipelines", p, "state", ..]) => on(O::Read, R::Pipeline, p),
        (m, ["v1", "tokens"]) if *m == Method::POST => Access::TokenInBody,
        // Connect's REST API: reading needs DESCRIBE on the cluster, changing ALTER (Connect
        // itself has no ACLs; its workers' own Kafka principal decides what they can do).
        (_, ["connectors" | "connector-plugins", ..]) if read => cluster(O::Describe),
        (_, ["connectors" | "connector-plugins", ..]) => cluster(O::Alter),
        (_, ["v1", "users" | "tokens" | "acls" | "orphans", ..]) if read => cluster(O::Describe),
        (_, ["v1", "users" | "tokens" | "acls" | "orphans", ..]) => cluster(O::Alter),
        _ => cluster(O::Describe),
    }
}

/// The filter of a listing ([`Access::Listing`]): which items of a type the caller
/// may see. As Kafka: an item it may DESCRIBE; for groups also every group when it
/// may DESCRIBE the cluster (ListGroups' rule).
#[derive(Debug, Clone)]
pub struct Visible {
    auth: Arc<Authenticator>,
    principal: Principal,
    peer: IpAddr,
    kind: ResourceType,
    everything: bool,
}

impl Visible {
    /// The filter for `kind` as `principal` from `peer` sees it.
    pub fn new(
        state: &AppState,
        principal: Principal,
        PeerIp(peer): PeerIp,
        kind: ResourceType,
    ) -> Visible {
        let everything = kind == ResourceType::Group
            && state
                .auth
                .allows(&principal, peer, Operation::Describe, &Resource::cluster());
        Visible {
            auth: state.auth.clone(),
            principal,
            peer,
            kind,
            everything,
        }
    }

    /// Whether the item `name` is listed.
    pub fn shows(&self, name: &str) -> bool {
        self.everything
            || self.auth.allows(
                &self.principal,
                self.peer,
                Operation::Describe,
                &Resource {
                    kind: self.kind,
                    name,
                },
            )
    }
}

/// Whether `principal` may create the `kind` named `name` (a name from a request
/// body): CREATE on the cluster or on that resource, as Kafka's CreateTopics asks.
pub fn check_create(
    state: &AppState,
    principal: &Principal,
    PeerIp(peer): PeerIp,
    kind: ResourceType,
    name: &str,
) -> Result<(), ApiError> {
    let auth = &state.auth;
    if auth.allows(principal, peer, Operation::Create, &Resource::cluster()) {
        return Ok(());
    }
    Ok(auth.check(principal, peer, Operation::Create, &Resource { kind, name })?)
}

/// Whether `principal` may create a token for `user` ([`Access::TokenInBody`]): for
/// itself always, for anyone else with ALTER on the cluster.
pub fn check_token_for(
    state: &AppState,
    principal: &Principal,
    PeerIp(peer): PeerIp,
    user: &str,
) -> Result<(), ApiError> {
    if principal.user() == Some(user) {
        return Ok(());
    }
    Ok(state
        .auth
        .check(principal, peer, Operation::Alter, &Resource::cluster())?)
}

/// `%XX` escapes of a path segment decoded (invalid ones kept as written), so an
/// ACL on `a b` applies to `/v1/topics/a%20b`.
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_map_to_kafka_operations_and_resources() {
        let r = |m: Method, p: &str| {
            let Access::On(op, kind, name) = required(&m, p) else {
                panic!("{m} {p} is checked in the middleware");
            };
            format!("{op} {kind} {name}")
        };
        assert_eq!(
            r(Method::POST, "/v1/topics/t%20x/records"),
            "WRITE TOPIC t x"
        );
        assert_eq!(
            r(Method::GET, "/v1/topics/t/partitions/0/records"),
            "READ TOPIC t"
        );
        assert_eq!(r(Method::DELETE, "/v1/topics/t"), "DELETE TOPIC t");
        assert_eq!(
            required(&Method::POST, "/v1/topics"),
            Access::CreateNamedInBody(ResourceType::Topic)
        );
        assert_eq!(
            required(&Method::POST, "/v1/pipelines"),
            Access::CreateNamedInBody(ResourceType::Pipeline)
        );
        assert_eq!(required(&Method::POST, "/v1/tokens"), Access::TokenInBody);
        assert_eq!(
            r(Method::GET, "/v1/tokens"),
            "DESCRIBE CLUSTER kafka-cluster"
        );
        for (path, kind) in [
            ("/v1/topics", ResourceType::Topic),
            ("/v1/groups", ResourceType::Group),
            ("/v1/modules", ResourceType::Module),
            ("/v1/pipelines", ResourceType::Pipeline),
        ] {
            assert_eq!(required(&Method::GET, path), Access::Listing(kind));
        }
        assert_eq!(r(Method::GET, "/v1/groups/g"), "DESCRIBE GROUP g");
        assert_eq!(r(Method::POST, "/v1/modules/m"), "CREATE MODULE m");
        assert_eq!(r(Method::DELETE, "/v1/modules/m/3"), "DELETE MODULE m");
        assert_eq!(r(Method::PUT, "/v1/pipelines/p"), "ALTER PIPELINE p");
        assert_eq!(r(Method::POST, "/v1/modules/m/2/test"), "READ MODULE m");
        assert_eq!(
            r(Method::GET, "/v1/pipelines/p/metrics/history"),
            "DESCRIBE PIPELINE p"
        );
        assert_eq!(
            r(Method::GET, "/v1/pipelines/p/dead-letters"),
            "READ PIPELINE p"
        );
        assert_eq!(r(Method::POST, "/v1/acls"), "ALTER CLUSTER kafka-cluster");
        assert_eq!(r(Method::GET, "/v1/acls"), "DESCRIBE CLUSTER kafka-cluster");
        assert_eq!(
            r(Method::GET, "/v1/nowhere"),
            "DESCRIBE CLUSTER kafka-cluster"
        );
        assert_eq!(r(Method::GET, "/v1/topics/%zz"), "DESCRIBE TOPIC %zz");
    }
}
