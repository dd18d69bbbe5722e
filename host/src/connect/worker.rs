//! What every task thread of a connector shares ([`TaskContext`]), and the parts source and
//! sink tasks have in common: answers of plugin calls turned into [`ConnectError`]s, the
//! failure a task ends with, topics looked up or created.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::broker::producer::ProducerRegistry;
use crate::broker::{Broker, BrokerError, Topic};
use crate::pipeline::logs::PipelineLogs;
use crate::runtime::connector::{Call, ConnectorError};
use crate::runtime::http_send::{Denials, HttpAccess};
use crate::runtime::net::NetState;
use crate::runtime::{ConnectorInstance, Limits};

use super::chain::ConnectorChain;
use super::config::ConnectorSettings;
use super::error::ConnectError;
use super::state::TaskState;
use super::swap::Version;
use super::task::{Counters, TaskControl};

/// Everything one task thread needs.
pub struct TaskContext {
    /// The connector's name.
    pub connector: String,
    /// The task's id.
    pub task: u32,
    /// How many tasks the connector runs (a sink splits partitions among them).
    pub tasks: u32,
    /// The plugin and task configuration it runs (a hot-swap replaces it).
    pub version: Version,
    /// The connector's settings.
    pub settings: Arc<ConnectorSettings>,
    /// The transformation chain.
    pub chain: Arc<ConnectorChain>,
    /// The broker.
    pub broker: Arc<Broker>,
    /// Producer windows (idempotent appends) and committed reads.
    pub producers: Arc<ProducerRegistry>,
    /// The connector's tree in the connect store.
    pub tree: sled::Tree,
    /// The connector's log.
    pub logs: Arc<PipelineLogs>,
    /// The connector's counters.
    pub counters: Arc<Counters>,
    /// Set when the host counted one of the task's denials as it refused it (an HTTP request
    /// or a TCP connect), so the task's failure over it is not counted again.
    pub denial_counted: Arc<AtomicBool>,
    /// The instance's sandbox limits.
    pub limits: Limits,
}

impl TaskContext {
    /// An instance of `version` (not started), granted the directories and outbound HTTP
    /// of the connector's config. A call may wait on its requests, so with HTTP granted its
    /// deadline leaves room for a few of them to time out.
    pub fn instance(&self, version: &Version) -> Result<ConnectorInstance, ConnectError> {
        let grant = &self.settings.http;
        let mut limits = self.limits;
        if !grant.origins.is_empty() {
            limits.deadline = limits.deadline.max(grant.limits.timeout * 3);
        }
        let http = HttpAccess {
            grant: Arc::new(grant.clone()),
            denials: Some(Arc::new(self.denial_count()) as Arc<dyn Denials>),
        };
        Ok(ConnectorInstance::new(
            version.plugin.clone(),
            version.config.clone(),
            &self.settings.dirs,
            &http,
            self.net(),
            limits,
            self.logs.clone(),
        )?)
    }

    /// A host line in the connector's log.
    pub fn note(&self, message: &str) {
        self.logs.note(&format!("task {}: {message}", self.task));
    }

    /// `name`, created with one partition if it does not exist (as a broker with topic
    /// auto-creation would).
    pub fn topic(&self, name: &str) -> Result<Arc<Topic>, ConnectError> {
        match self.broker.topic(name) {
            Ok(t) => Ok(t),
            Err(BrokerError::UnknownTopic { .. }) => {
                match self.broker.create_topic(name, 1, BTreeMap::new()) {
                    Ok(t) => Ok(t),
                    // Created meanwhile by someone else.
                    Err(BrokerError::TopicExists { .. }) => Ok(self.broker.topic(name)?),
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The one place a refusal the host makes is counted, for the HTTP and the TCP side.
    fn denial_count(&self) -> DenialCount {
        DenialCount {
            counters: self.counters.clone(),
            counted: self.denial_counted.clone(),
        }
    }

    /// The network state of this task's store: its `weir.allow.tcp` grant, and a hook that
    /// logs each refusal the host makes and counts it ([`DenialCount`]).
    fn net(&self) -> NetState {
        let logs = self.logs.clone();
        let count = self.denial_count();
        let task = self.task;
        let connector = self.connector.clone();
        NetState::new(
            self.settings.tcp.clone(),
            Arc::new(move |message: &str| {
                count.denied();
                logs.note(&format!("task {task}: denied: {message}"));
                tracing::warn!(connector = %connector, task, "connector denied: {message}");
            }),
        )
    }

    /// Ends a task thread: records the outcome in its state, its log and the counters. A
    /// denial the host counted already (`denial_counted`) is not counted twice.
    pub fn finish(&self, control: &TaskControl, outcome: Result<(), ConnectError>) {
        match outcome {
            Ok(()) => control.set_state(TaskState::Unassigned),
            Err(e) => {
                if let ConnectError::Denied { .. } = e
                    && !self.denial_counted.load(Ordering::Relaxed)
                {
                    Counters::add(&self.counters.denied, 1);
                }
                let trace = e.to_string();
                self.note(&format!("failed: {trace}"));
                tracing::warn!(connector = %self.connector, task = self.task, "connector task failed: {trace}");
                control.set_state(TaskState::Failed { trace });
            }
        }
    }
}

/// A refusal the host made (an HTTP request, a socket, a connect): counted at once, and marked
/// so the task's failure over it is not counted again.
struct DenialCount {
    counters: Arc<Counters>,
    counted: Arc<AtomicBool>,
}

impl Denials for DenialCount {
    fn denied(&self) {
        Counters::add(&self.counters.denied, 1);
        self.counted.store(true, Ordering::Relaxed);
    }
}

/// A plugin call's answer as a connect result: a retriable error comes back as `Ok(Err(_))`
/// for the caller to retry; denied, invalid-config and failed end the task.
pub fn answer<T>(
    stage: &'static str,
    call: Call<Result<T, ConnectorError>>,
) -> Result<Result<T, String>, ConnectError> {
    match call? {
        Ok(v) => Ok(Ok(v)),
        Err(ConnectorError::Retriable(m)) => Ok(Err(m)),
        Err(ConnectorError::Denied(message)) => Err(ConnectError::Denied { stage, message }),
        Err(ConnectorError::InvalidConfig(m)) => Err(ConnectError::Plugin {
            stage,
            message: format!("invalid config: {m}"),
        }),
        Err(ConnectorError::Failed(message)) => Err(ConnectError::Plugin { stage, message }),
    }
}

/// The JSON text of `text` in canonical form (sorted keys, no spaces), if it is an object.
pub fn canonical_object(text: &str) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v @ serde_json::Value::Object(_)) => Some(v.to_string()),
        _ => None,
    }
}
