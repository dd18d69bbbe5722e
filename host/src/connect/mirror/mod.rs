//! MirrorMaker 2's connectors, built in: `MirrorSourceConnector` (topics copied to
//! `<source-alias>.<topic>` with their partitions and configs, offset syncs written),
//! `MirrorCheckpointConnector` (consumer groups' offsets translated into checkpoints and,
//! optionally, committed on the target) and `MirrorHeartbeatConnector`, with MM2's config
//! keys, topic names and record layouts, so MM2's own tools read what they write. Each runs
//! one task thread that talks to both clusters through [`crate::cluster`], whether a side is
//! this weir or another cluster. Delivery is at-least-once, as MM2's default.
//!
//! - this file: the classes, and a task thread's driver ([`spawn`]).
//! - [`config`]: [`config::MirrorConfig`], MM2's keys checked.
//! - [`policy`]: replication policies and internal topic names.
//! - [`filter`]: `topics`/`groups` include and exclude lists.
//! - [`records`]: OffsetSync, Checkpoint and Heartbeat in MM2's byte layouts.
//! - [`syncs`]: when to write an offset sync, and translation with them.
//! - [`source`]: the source task.
//! - [`checkpoint`]: the checkpoint task.
//! - [`heartbeat`]: the heartbeat task.
//! - [`metrics`]: `record-count`, `replication-latency-ms`, ... per connector.
//! - [`error`]: [`error::MirrorError`], why a task failed.

pub mod checkpoint;
pub mod config;
pub mod error;
pub mod filter;
pub mod heartbeat;
pub mod metrics;
pub mod policy;
pub mod records;
pub mod source;
pub mod syncs;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::pipeline::logs::PipelineLogs;

use super::error::ConnectError;
use super::state::TaskState;
use super::task::{TaskControl, TaskHandle, Want};
use config::MirrorConfig;
use error::MirrorError;
use metrics::MirrorMetrics;

/// Which of MM2's connectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MirrorKind {
    /// `MirrorSourceConnector`.
    Source,
    /// `MirrorCheckpointConnector`.
    Checkpoint,
    /// `MirrorHeartbeatConnector`.
    Heartbeat,
}

/// The classes, as Connect lists them.
pub const CLASSES: [(MirrorKind, &str); 3] = [
    (
        MirrorKind::Checkpoint,
        "org.apache.kafka.connect.mirror.MirrorCheckpointConnector",
    ),
    (
        MirrorKind::Heartbeat,
        "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector",
    ),
    (
        MirrorKind::Source,
        "org.apache.kafka.connect.mirror.MirrorSourceConnector",
    ),
];

/// The version the connectors report.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

impl MirrorKind {
    /// The connector `connector.class` names, by MM2's class name or its simple name.
    pub fn of(class: &str) -> Option<MirrorKind> {
        let class = class.trim();
        CLASSES
            .iter()
            .find(|(_, c)| *c == class || c.rsplit('.').next() == Some(class))
            .map(|(k, _)| *k)
    }

    /// Its class name.
    pub fn class(self) -> &'static str {
        CLASSES
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("", |(_, c)| c)
    }
}

/// Checks a mirror connector's config: every problem as `"key: message"`.
pub fn check(config: &BTreeMap<String, String>) -> Result<MirrorConfig, ConnectError> {
    MirrorConfig::parse(config).map_err(|issues| ConnectError::InvalidConfig {
        errors: issues
            .into_iter()
            .map(|(k, m)| format!("{k}: {m}"))
            .collect(),
    })
}

/// What a task thread is given.
pub struct MirrorTaskContext {
    /// The connector's name.
    pub connector: String,
    /// Its checked config.
    pub config: MirrorConfig,
    /// Its tree in the connect store (the source task's positions).
    pub tree: sled::Tree,
    /// Its log.
    pub logs: Arc<PipelineLogs>,
    /// Its figures.
    pub metrics: Arc<MirrorMetrics>,
}

/// One step of a task's work: it may wait a little (a poll, a tick), never long, so the
/// driver answers pause and stop quickly.
trait Step {
    fn step(&mut self) -> Result<(), MirrorError>;
}

/// How long a step may wait for work.
const STEP_WAIT: Duration = Duration::from_millis(200);

/// Starts connector `kind`'s one task thread (task 0) with `config`.
pub fn spawn(
    kind: MirrorKind,
    ctx: MirrorTaskContext,
    raw: BTreeMap<String, String>,
    want: Want,
) -> Result<TaskHandle, ConnectError> {
    let control = TaskControl::new(want);
    let c = control.clone();
    let name = format!("mirror-{}", ctx.connector);
    let thread = std::thread::Builder::new()
        .name(name.chars().take(15).collect())
        .spawn(move || run(kind, ctx, &c))
        .map_err(ConnectError::Thread)?;
    Ok(TaskHandle {
        id: 0,
        config: raw,
        control,
        thread: Some(thread),
    })
}

fn run(kind: MirrorKind, ctx: MirrorTaskContext, control: &TaskControl) {
    let logs = ctx.logs.clone();
    let connector = ctx.connector.clone();
    let fail = |e: MirrorError| {
        let trace = e.to_string();
        logs.note(&format!("task 0: failed: {trace}"));
        tracing::warn!(connector = %connector, "mirror task failed: {trace}");
        control.set_state(TaskState::Failed { trace });
    };
    // Clients are made only once the task is wanted running, so a paused connector holds
    // no connections.
    while control.want() == Want::Pause {
        control.set_state(TaskState::Paused);
        control.wait(Duration::from_secs(1));
    }
    if control.want() == Want::Exit {
        return;
    }
    let made: Result<Box<dyn Step>, MirrorError> = match kind {
        MirrorKind::Source => source::SourceTask::new(ctx).map(|t| Box::new(t) as Box<dyn Step>),
        MirrorKind::Checkpoint => {
            checkpoint::CheckpointTask::new(ctx).map(|t| Box::new(t) as Box<dyn Step>)
        }
        MirrorKind::Heartbeat => {
            heartbeat::HeartbeatTask::new(ctx).map(|t| Box::new(t) as Box<dyn Step>)
        }
    };
    let mut task = match made {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    loop {
        match control.want() {
            Want::Exit => return,
            Want::Pause => {
                control.set_state(TaskState::Paused);
                control.wait(Duration::from_secs(1));
                continue;
            }
            Want::Run => {}
        }
        if control.state() != TaskState::Running {
            control.set_state(TaskState::Running);
        }
        if let Err(e) = task.step() {
            return fail(e);
        }
    }
}
