//! The Kafka wire protocol listener: a face over the broker, like the HTTP API
//! (which it never calls, nor is called by).
//!
//! - [`listener`]: binds `--kafka-addr`, accepts connections, shuts down.
//! - [`admission`]: the caps on open connections, in all and per client address.
//! - [`connection`]: one client connection: reads frames, answers in order.
//! - [`session`]: a connection's authentication state and principal.
//! - [`fetch_session`]: incremental fetch sessions (KIP-227), a bounded cache.
//! - [`frame`]: splits a request frame into header and body; refuses bad frames.
//! - [`handler`]: one file per API (produce, fetch, metadata, ...), and the
//!   table of advertised versions.
//! - [`group`]: the consumer group coordinator (classic rebalance protocol).
//! - [`tls`]: [`tls::Tls`], the `[tls]` configuration of both listeners, their handshake,
//!   and the Kafka listener's own TLS record path ([`tls::stream::TlsStream`]).
//! - [`settings`]: the listener's runtime settings.
//! - [`error`]: [`KafkaError`], the layer's one error type.
pub mod admission;
pub mod connection;
pub mod error;
pub mod fetch_session;
pub mod frame;
pub mod group;
pub mod handler;
pub mod listener;
pub mod session;
pub mod settings;
pub mod tls;

use std::sync::Arc;

use crate::auth::Authenticator;
use crate::broker::Broker;
use crate::broker::producer::ProducerRegistry;
use crate::broker::txn::TxnCoordinator;

pub use error::KafkaError;
pub use listener::KafkaListener;
pub use settings::KafkaSettings;

/// Everything a request handler may use, shared by all connections.
#[derive(Debug)]
pub struct KafkaContext {
    /// The broker the listener fronts.
    pub broker: Arc<Broker>,
    /// Listener settings (advertised address, limits, auto-creation).
    pub settings: KafkaSettings,
    /// The consumer group coordinator (registered with the broker, which asks
    /// it whether a group has members before deleting the group).
    pub groups: Arc<group::Coordinator>,
    /// Idempotent producer state.
    pub producers: Arc<ProducerRegistry>,
    /// The transaction coordinator.
    pub txns: Arc<TxnCoordinator>,
    /// Incremental fetch sessions, shared by every connection (a consumer
    /// may reconnect and continue its session).
    pub fetch_sessions: fetch_session::FetchSessions,
    /// Who may connect: SASL mechanisms, users, the anonymous rule.
    pub auth: Arc<Authenticator>,
}

impl KafkaContext {
    /// A context over `broker`; the advertised port is final once the listener is bound.
    /// `producers` is shared with pipelines, which append idempotently too.
    pub fn new(
        broker: Arc<Broker>,
        producers: Arc<ProducerRegistry>,
        txns: Arc<TxnCoordinator>,
        auth: Arc<Authenticator>,
        settings: KafkaSettings,
    ) -> KafkaContext {
        let groups = Arc::new(group::Coordinator::new(settings.group.clone()));
        broker.set_live_groups(groups.clone());
        KafkaContext {
            broker,
            settings,
            groups,
            producers,
            txns,
            fetch_sessions: fetch_session::FetchSessions::default(),
            auth,
        }
    }
}
