//! [`RdProducer`]: the [`Producer`] trait on librdkafka's `FutureProducer`.

use std::time::{Duration, Instant};

use futures_util::FutureExt;
use rdkafka::ClientConfig;
use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::future_producer::OwnedDeliveryResult;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer as _};

use super::super::consumer::{GroupMetadata, TopicOffset};
use super::super::error::ClusterError;
use super::super::producer::{Delivered, OutRecord, Producer, ProducerMode};
use super::client;
use super::consumer::list;

/// A producer on librdkafka: the records sent since the last flush, awaiting delivery.
pub struct RdProducer {
    inner: FutureProducer,
    pending: std::collections::VecDeque<(String, DeliveryFuture)>,
}

/// A delivery report as the layer's answer.
fn delivered<E>(
    topic: String,
    result: Result<OwnedDeliveryResult, E>,
) -> Result<Delivered, ClusterError> {
    match result {
        Ok(Ok(d)) => Ok(Delivered {
            partition: d.partition,
            offset: d.offset,
        }),
        Ok(Err((source, _))) => Err(ClusterError::Delivery { topic, source }),
        Err(_) => Err(ClusterError::Delivery {
            topic,
            source: rdkafka::error::KafkaError::Canceled,
        }),
    }
}

impl RdProducer {
    /// An idempotent producer (`acks=all`), transactional with a `transactional.id`.
    pub fn new(mut config: ClientConfig, mode: ProducerMode) -> Result<RdProducer, ClusterError> {
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5");
        if let ProducerMode::Transactional { id } = &mode {
            config.set("transactional.id", id);
        }
        Ok(RdProducer {
            inner: config.create().map_err(client("create producer"))?,
            pending: Default::default(),
        })
    }
}

impl Producer for RdProducer {
    fn send(&mut self, r: OutRecord) -> Result<(), ClusterError> {
        let mut headers = OwnedHeaders::new_with_capacity(r.headers.len());
        for (key, value) in &r.headers {
            headers = headers.insert(Header {
                key,
                value: value.as_deref(),
            });
        }
        let mut rec: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&r.topic).headers(headers);
        if let Some(k) = &r.key {
            rec = rec.key(k.as_slice());
        }
        if let Some(v) = &r.value {
            rec = rec.payload(v.as_slice());
        }
        if let Some(p) = r.partition {
            rec = rec.partition(p);
        }
        if let Some(t) = r.timestamp {
            rec = rec.timestamp(t);
        }
        // A full local queue: wait for room (librdkafka delivers meanwhile), as the Java
        // client's send blocks up to max.block.ms.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.inner.send_result(rec) {
                Ok(f) => {
                    self.pending.push_back((r.topic.clone(), f));
                    return Ok(());
                }
                Err((
                    rdkafka::error::KafkaError::MessageProduction(
                        rdkafka::types::RDKafkaErrorCode::QueueFull,
                    ),
                    back,
                )) if Instant::now() < deadline => {
                    rec = back;
                    self.inner.poll(Duration::from_millis(10));
                }
                Err((e, _)) => {
                    return Err(ClusterError::Delivery {
                        topic: r.topic.clone(),
                        source: e,
                    });
                }
            }
        }
    }

    fn flush(&mut self, timeout: Duration) -> Result<Vec<Delivered>, ClusterError> {
        self.inner.flush(timeout).map_err(client("flush"))?;
        let deadline = Instant::now() + timeout;
        let mut out = Vec::with_capacity(self.pending.len());
        for (topic, mut f) in self.pending.drain(..) {
            // Flushed: each report has arrived or is being handed over this instant.
            let result = loop {
                if let Some(r) = (&mut f).now_or_never() {
                    break r;
                }
                if Instant::now() > deadline {
                    return Err(ClusterError::Client {
                        op: "flush",
                        source: rdkafka::error::KafkaError::Canceled,
                    });
                }
                std::thread::sleep(Duration::from_millis(1));
            };
            out.push(delivered(topic, result)?);
        }
        Ok(out)
    }

    fn ready(&mut self) -> Result<Vec<Delivered>, ClusterError> {
        let mut out = Vec::new();
        while let Some((_, f)) = self.pending.front_mut() {
            let Some(result) = f.now_or_never() else {
                break;
            };
            if let Some((topic, _)) = self.pending.pop_front() {
                out.push(delivered(topic, result)?);
            }
        }
        Ok(out)
    }

    fn init_transactions(&mut self, timeout: Duration) -> Result<(), ClusterError> {
        self.inner
            .init_transactions(timeout)
            .map_err(client("init transactions"))
    }

    fn begin(&mut self) -> Result<(), ClusterError> {
        self.inner
            .begin_transaction()
            .map_err(client("begin transaction"))
    }

    fn send_offsets(
        &mut self,
        offsets: &[TopicOffset],
        group: &GroupMetadata,
        timeout: Duration,
    ) -> Result<(), ClusterError> {
        let Some(meta) = group.0.downcast_ref::<ConsumerGroupMetadata>() else {
            return Err(ClusterError::ForeignGroupMetadata);
        };
        self.inner
            .send_offsets_to_transaction(&list(offsets)?, meta, timeout)
            .map_err(client("send offsets to transaction"))
    }

    fn commit(&mut self, timeout: Duration) -> Result<(), ClusterError> {
        self.inner
            .commit_transaction(timeout)
            .map_err(client("commit transaction"))
    }

    fn abort(&mut self, timeout: Duration) -> Result<(), ClusterError> {
        self.inner
            .abort_transaction(timeout)
            .map_err(client("abort transaction"))
    }
}
