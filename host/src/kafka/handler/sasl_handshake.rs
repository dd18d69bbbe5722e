//! SaslHandshake (v0–1, KIP-43/KIP-152): the client names a mechanism; the answer
//! lists those offered to it. v1 means SaslAuthenticate requests carry the tokens; v0
//! means bare token frames follow (see [`crate::kafka::session`]).

use std::net::IpAddr;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{SaslHandshakeRequest, SaslHandshakeResponse};

use crate::auth::Transport;

use super::super::KafkaContext;
use super::super::session::Session;
use super::s;

/// Starts an exchange if the connection has none and the mechanism is offered.
/// Returns the answer and whether the connection closes after it.
pub fn handle(
    ctx: &KafkaContext,
    session: &mut Session,
    req: SaslHandshakeRequest,
    version: i16,
    peer: IpAddr,
    transport: Transport,
) -> (SaslHandshakeResponse, bool) {
    let mut resp = SaslHandshakeResponse::default();
    resp.mechanisms = ctx
        .auth
        .mechanisms(peer, transport)
        .into_iter()
        .map(|m| s(m.name()))
        .collect();
    if !matches!(session, Session::Open | Session::Certified(_)) {
        resp.error_code = ResponseError::IllegalSaslState.code();
        return (resp, true);
    }
    match ctx.auth.sasl_start(&req.mechanism, peer, transport) {
        Ok(exchange) => {
            *session = Session::Exchanging {
                exchange,
                raw: version == 0,
            };
            (resp, false)
        }
        Err(e) => {
            tracing::warn!(%peer, "SaslHandshake: {e}");
            resp.error_code = ResponseError::UnsupportedSaslMechanism.code();
            (resp, true)
        }
    }
}
