//! The [`Cluster`] traits on librdkafka (the `rdkafka` crate).
//!
//! - this file: [`RdCluster`], the client config every handle starts from, and a waiter for
//!   the library's futures on the calling thread.
//! - [`consumer`]: [`consumer::RdConsumer`] on `BaseConsumer`.
//! - [`producer`]: [`producer::RdProducer`] on `FutureProducer`.
//! - [`admin`]: [`admin::RdAdmin`] on `AdminClient`, and a group-less consumer for offsets.

pub mod admin;
pub mod consumer;
pub mod producer;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use rdkafka::ClientConfig;

use super::consumer::Consumer;
use super::error::ClusterError;
use super::producer::{Producer, ProducerMode};
use super::props::ClientProps;
use super::{Admin, Cluster};

/// How long a metadata, offsets or admin call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// A cluster reached through librdkafka.
#[derive(Debug, Clone)]
pub struct RdCluster {
    props: ClientProps,
}

impl RdCluster {
    /// The cluster at `props`.
    pub fn new(props: ClientProps) -> RdCluster {
        RdCluster { props }
    }

    /// A client config with the connection properties.
    fn config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        for (k, v) in self.props.iter() {
            c.set(k, v);
        }
        c
    }
}

impl Cluster for RdCluster {
    fn consumer(&self, group: Option<&str>) -> Result<Box<dyn Consumer>, ClusterError> {
        Ok(Box::new(consumer::RdConsumer::new(self.config(), group)?))
    }

    fn producer(&self, mode: ProducerMode) -> Result<Box<dyn Producer>, ClusterError> {
        Ok(Box::new(producer::RdProducer::new(self.config(), mode)?))
    }

    fn admin(&self) -> Result<Box<dyn Admin>, ClusterError> {
        Ok(Box::new(admin::RdAdmin::new(self.config())?))
    }
}

/// Wakes the thread that waits.
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Waits on the calling thread for a future of the library (its answers arrive from
/// librdkafka's own threads, so no runtime is needed to drive it), at most `timeout`.
pub fn wait<F: Future>(
    op: &'static str,
    f: F,
    timeout: Duration,
) -> Result<F::Output, ClusterError> {
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return Ok(v);
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            return Err(ClusterError::Client {
                op,
                source: rdkafka::error::KafkaError::Canceled,
            });
        }
        std::thread::park_timeout(deadline - now);
    }
}

/// The library's error as the layer's.
pub fn client(op: &'static str) -> impl FnOnce(rdkafka::error::KafkaError) -> ClusterError {
    move |source| ClusterError::Client { op, source }
}
