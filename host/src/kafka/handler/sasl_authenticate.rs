//! SaslAuthenticate (v0–2, KIP-152): one SASL token each way, and the same step for
//! the bare tokens that follow a v0 handshake.
//!
//! A failure is answered with SASL_AUTHENTICATION_FAILED and its reason after
//! `auth.failed_authentication_delay_ms` (slowing password guessing), and the
//! connection closes. Success ends with session lifetime 0: no re-authentication.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslAuthenticateResponse};

use crate::auth::sasl::SaslStep;
use crate::auth::{AuthError, Transport};

use super::super::KafkaContext;
use super::super::error::KafkaError;
use super::super::session::Session;
use super::s;

/// Runs one step; returns the answer and whether the connection closes after it.
pub async fn handle(
    ctx: &Arc<KafkaContext>,
    session: &mut Session,
    req: SaslAuthenticateRequest,
    peer: IpAddr,
    transport: Transport,
) -> Result<(SaslAuthenticateResponse, bool), KafkaError> {
    let mut resp = SaslAuthenticateResponse::default();
    if !matches!(session, Session::Exchanging { .. }) {
        resp.error_code = ResponseError::IllegalSaslState.code();
        resp.error_message = Some(s(
            "SaslAuthenticate without a SaslHandshake first, or after authenticating",
        ));
        return Ok((resp, true));
    }
    match step(ctx, session, req.auth_bytes, peer, transport).await? {
        Ok(bytes) => {
            resp.auth_bytes = bytes;
            Ok((resp, false))
        }
        Err(e) => {
            resp.error_code = ResponseError::SaslAuthenticationFailed.code();
            resp.error_message = Some(s(e.to_string()));
            Ok((resp, true))
        }
    }
}

/// One bare token after a v0 handshake: the answer token, or an error that closes the
/// connection without one (as Kafka does).
pub async fn raw(
    ctx: &Arc<KafkaContext>,
    session: &mut Session,
    token: Bytes,
    peer: IpAddr,
    transport: Transport,
) -> Result<Bytes, KafkaError> {
    step(ctx, session, token, peer, transport)
        .await?
        .map_err(KafkaError::Authentication)
}

/// Feeds `token` to the exchange under way. The outer error is the server's (a
/// panicked task); the inner one the client's, already delayed.
async fn step(
    ctx: &Arc<KafkaContext>,
    session: &mut Session,
    token: Bytes,
    peer: IpAddr,
    transport: Transport,
) -> Result<Result<Bytes, AuthError>, KafkaError> {
    let (exchange, raw) = match std::mem::replace(session, Session::Busy) {
        Session::Exchanging { exchange, raw } => (exchange, raw),
        other => {
            *session = other;
            return Ok(Err(AuthError::Sasl {
                mechanism: "none",
                reason: "a SASL token without a SaslHandshake first",
            }));
        }
    };
    let auth = ctx.auth.clone();
    // PLAIN runs PBKDF2 and both read sled: off the async threads.
    let outcome =
        tokio::task::spawn_blocking(move || auth.sasl_step(exchange, &token, peer, transport))
            .await
            .map_err(|e| KafkaError::Task(e.to_string()))?;
    match outcome {
        Ok(SaslStep::Challenge(exchange, bytes)) => {
            *session = Session::Exchanging { exchange, raw };
            Ok(Ok(Bytes::from(bytes)))
        }
        Ok(SaslStep::Done(principal, bytes)) => {
            tracing::debug!(%peer, %principal, "Kafka client authenticated");
            *session = Session::Authenticated(principal);
            Ok(Ok(Bytes::from(bytes)))
        }
        Err(e) => {
            *session = Session::Open;
            tracing::warn!(%peer, "Kafka authentication failed: {e}");
            tokio::time::sleep(ctx.auth.settings().failure_delay).await;
            Ok(Err(e))
        }
    }
}
