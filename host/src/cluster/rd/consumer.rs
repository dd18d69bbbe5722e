//! [`RdConsumer`]: the [`Consumer`] trait on librdkafka's `BaseConsumer`, with a context
//! that hands rebalances to a [`RebalanceListener`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _, ConsumerContext};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::super::consumer::{
    Consumer, Fetched, GroupMetadata, Rebalance, RebalanceListener, TopicOffset,
};
use super::super::error::ClusterError;
use super::client;

/// The consumer's context: the listener its rebalances go to, once it subscribes with one.
#[derive(Default)]
pub struct RdContext {
    listener: Mutex<Option<Arc<dyn RebalanceListener>>>,
    /// Rebalances told so far: a poll that sees it move stops there.
    told: std::sync::atomic::AtomicU64,
}

impl RdContext {
    fn tell(&self, change: Rebalance) {
        if let Some(l) = self.listener.lock().clone() {
            self.told.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            l.rebalanced(change);
        }
    }

    fn told(&self) -> u64 {
        self.told.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl ClientContext for RdContext {}

/// The `(topic, partition)`s of a partition list.
fn partitions(tpl: &TopicPartitionList) -> Vec<(String, i32)> {
    tpl.elements()
        .iter()
        .map(|e| (e.topic().to_string(), e.partition()))
        .collect()
}

impl ConsumerContext for RdContext {
    // Revocations are told before librdkafka unassigns (the member still owns the
    // partitions and may commit them); assignments after it assigns. Both run inside the
    // poll of the thread that owns the consumer.
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, r: &rdkafka::consumer::Rebalance<'_>) {
        if let rdkafka::consumer::Rebalance::Revoke(tpl) = r {
            self.tell(Rebalance::Revoked(partitions(tpl)));
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, r: &rdkafka::consumer::Rebalance<'_>) {
        if let rdkafka::consumer::Rebalance::Assign(tpl) = r {
            self.tell(Rebalance::Assigned(partitions(tpl)));
        }
    }
}

/// A consumer on librdkafka.
pub struct RdConsumer {
    inner: BaseConsumer<RdContext>,
}

impl RdConsumer {
    /// A consumer in `group` if given; without one it only assigns. Offsets are committed
    /// only when asked (`enable.auto.commit=false`), so what a caller has not written
    /// elsewhere is never marked read. A partition with no committed offset starts at the
    /// earliest record unless weir tuned `auto.offset.reset` for this use (an attached
    /// pipeline whose spec says `start: latest`).
    pub fn new(mut config: ClientConfig, group: Option<&str>) -> Result<RdConsumer, ClusterError> {
        config
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false");
        if config.get("auto.offset.reset").is_none() {
            config.set("auto.offset.reset", "earliest");
        }
        // librdkafka wants a group id even to assign; one no member ever joins commits nothing.
        config.set("group.id", group.unwrap_or("weir-unassigned"));
        Ok(RdConsumer {
            inner: config
                .create_with_context(RdContext::default())
                .map_err(client("create consumer"))?,
        })
    }

    /// The underlying consumer (for the admin's group offsets).
    pub fn inner(&self) -> &BaseConsumer<RdContext> {
        &self.inner
    }
}

/// `offsets` as a partition list.
pub fn list(offsets: &[TopicOffset]) -> Result<TopicPartitionList, ClusterError> {
    let mut tpl = TopicPartitionList::new();
    for o in offsets {
        tpl.add_partition_offset(&o.topic, o.partition, Offset::Offset(o.offset))
            .map_err(client("partition list"))?;
    }
    Ok(tpl)
}

/// The offsets a partition list holds (those without one left out).
pub fn offsets(tpl: &TopicPartitionList) -> Vec<TopicOffset> {
    tpl.elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some(TopicOffset {
                topic: e.topic().to_string(),
                partition: e.partition(),
                offset: o,
            }),
            _ => None,
        })
        .collect()
}

/// A message as the layer's record.
fn fetched(m: &rdkafka::message::BorrowedMessage<'_>) -> Fetched {
    Fetched {
        topic: m.topic().to_string(),
        partition: m.partition(),
        offset: m.offset(),
        timestamp: m.timestamp().to_millis(),
        key: m.key().map(<[u8]>::to_vec),
        value: m.payload().map(<[u8]>::to_vec),
        headers: m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

impl Consumer for RdConsumer {
    fn subscribe(&mut self, topics: &[String]) -> Result<(), ClusterError> {
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        self.inner.subscribe(&names).map_err(client("subscribe"))
    }

    fn subscribe_observed(
        &mut self,
        topics: &[String],
        listener: Arc<dyn RebalanceListener>,
    ) -> Result<(), ClusterError> {
        *self.inner.context().listener.lock() = Some(listener);
        self.subscribe(topics)
    }

    fn assign(&mut self, positions: &[TopicOffset]) -> Result<(), ClusterError> {
        self.inner
            .assign(&list(positions)?)
            .map_err(client("assign"))
    }

    fn seek(&mut self, p: &TopicOffset, timeout: Duration) -> Result<(), ClusterError> {
        self.inner
            .seek(&p.topic, p.partition, Offset::Offset(p.offset), timeout)
            .map_err(client("seek"))
    }

    fn poll(&mut self, max: usize, timeout: Duration) -> Result<Vec<Fetched>, ClusterError> {
        let mut out = Vec::new();
        let mut wait = timeout;
        let start = Instant::now();
        while out.len() < max {
            let told = self.inner.context().told();
            let polled = self.inner.poll(wait);
            if self.inner.context().told() != told {
                // A rebalance ran inside this poll: what was read before it belongs to the
                // old assignment (the group hands it out again from the committed
                // offsets); a record this poll returned is the new one's, and the caller
                // acts on the rebalance before anything more.
                out.clear();
                if let Some(m) = polled {
                    out.push(fetched(&m.map_err(client("poll"))?));
                }
                break;
            }
            let Some(m) = polled else {
                break;
            };
            let m = m.map_err(client("poll"))?;
            out.push(fetched(&m));
            // After the first record, take only what is already there.
            wait = Duration::ZERO;
            if start.elapsed() > timeout {
                break;
            }
        }
        Ok(out)
    }

    fn commit(&mut self, offsets: &[TopicOffset]) -> Result<(), ClusterError> {
        self.inner
            .commit(&list(offsets)?, CommitMode::Sync)
            .map_err(client("commit"))
    }

    fn committed(
        &mut self,
        partitions: &[(String, i32)],
        timeout: Duration,
    ) -> Result<Vec<TopicOffset>, ClusterError> {
        let mut tpl = TopicPartitionList::new();
        for (t, p) in partitions {
            tpl.add_partition(t, *p);
        }
        let got = self
            .inner
            .committed_offsets(tpl, timeout)
            .map_err(client("committed offsets"))?;
        Ok(offsets(&got))
    }

    fn positions(&self) -> Result<Vec<TopicOffset>, ClusterError> {
        let tpl = self.inner.position().map_err(client("position"))?;
        Ok(offsets(&tpl))
    }

    fn group_metadata(&self) -> Option<GroupMetadata> {
        self.inner
            .group_metadata()
            .map(|g| GroupMetadata(Box::new(g)))
    }
}
