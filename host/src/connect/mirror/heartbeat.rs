//! The `MirrorHeartbeatConnector` task: a heartbeat `(source, target, now)` to `heartbeats`
//! on the target every `emit.heartbeats.interval.seconds`, so a flow's liveness and latency
//! can be read downstream (and mirrored onward as `<alias>.heartbeats`).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::cluster::{self, OutRecord, Producer, ProducerMode};

use super::config::MirrorConfig;
use super::error::{MirrorError, on};
use super::metrics::MirrorMetrics;
use super::policy::HEARTBEATS_TOPIC;
use super::records::Heartbeat;
use super::source::{compacted, ensure_topic};
use super::{MirrorTaskContext, STEP_WAIT, Step};

/// The heartbeat task.
pub struct HeartbeatTask {
    cfg: MirrorConfig,
    metrics: Arc<MirrorMetrics>,
    producer: Box<dyn Producer>,
    next: Instant,
}

impl HeartbeatTask {
    /// Connects to the target and makes sure `heartbeats` exists.
    pub fn new(ctx: MirrorTaskContext) -> Result<HeartbeatTask, MirrorError> {
        let cfg = ctx.config;
        let t = cfg.target_alias.clone();
        let tgt = cluster::connect(cfg.target.clone());
        ensure_topic(
            &*tgt.admin().map_err(on(&t))?,
            HEARTBEATS_TOPIC,
            1,
            &compacted(),
        )
        .map_err(on(&t))?;
        Ok(HeartbeatTask {
            producer: tgt.producer(ProducerMode::Idempotent).map_err(on(&t))?,
            cfg,
            metrics: ctx.metrics,
            next: Instant::now(),
        })
    }
}

impl Step for HeartbeatTask {
    fn step(&mut self) -> Result<(), MirrorError> {
        let Some(every) = self.cfg.heartbeats else {
            std::thread::sleep(STEP_WAIT);
            return Ok(());
        };
        let now = Instant::now();
        if now < self.next {
            std::thread::sleep((self.next - now).min(STEP_WAIT));
            return Ok(());
        }
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let (key, value) = Heartbeat {
            source: self.cfg.source_alias.clone(),
            target: self.cfg.target_alias.clone(),
            timestamp,
        }
        .encode();
        let t = self.cfg.target_alias.clone();
        self.producer
            .send(OutRecord {
                topic: HEARTBEATS_TOPIC.to_string(),
                partition: Some(0),
                timestamp: Some(timestamp),
                key: Some(key),
                value: Some(value),
                headers: Vec::new(),
            })
            .map_err(on(&t))?;
        self.producer
            .flush(Duration::from_secs(30))
            .map_err(on(&t))?;
        self.metrics.heartbeats.fetch_add(1, Ordering::Relaxed);
        self.next = now + every;
        Ok(())
    }
}
