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
use crate::runtime::net::NetState;
use crate::runtime::{Limits, Plugin};

use super::chain::ConnectorChain;
use super::config::ConnectorSettings;
use super::error::ConnectError;
use super::state::TaskState;
use super::task::{Counters, TaskControl};

/// Everything one task thread needs.
pub struct TaskContext {
    /// The connector's name.
    pub connector: String,
    /// The task's id.
    pub task: u32,
    /// How many tasks the connector runs (a sink splits partitions among them).
    pub tasks: u32,
    /// The connector's plugin.
    pub plugin: Arc<Plugin>,
    /// The connector's settings.
    pub settings: Arc<ConnectorSettings>,
    /// The task's own configuration, from the connector's `task-configs`.
    pub config: BTreeMap<String, String>,
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
    /// The instance's sandbox limits.
    pub limits: Limits,
}

impl TaskContext {
    /// The configuration as it crosses into the plugin.
    pub fn config_list(&self) -> Vec<(String, String)> {
        self.config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
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

    /// The network state of this task's store: its `weir.allow.tcp` grant, and a hook that
    /// logs each refusal the host makes and counts it (`net`'s flag tells [`Self::finish`] it
    /// was counted already).
    pub fn net(&self, counted: &Arc<AtomicBool>) -> NetState {
        let logs = self.logs.clone();
        let counters = self.counters.clone();
        let counted = counted.clone();
        let task = self.task;
        let connector = self.connector.clone();
        NetState::new(
            self.settings.tcp.clone(),
            Arc::new(move |message: &str| {
                Counters::add(&counters.denied, 1);
                counted.store(true, Ordering::Relaxed);
                logs.note(&format!("task {task}: denied: {message}"));
                tracing::warn!(connector = %connector, task, "connector denied: {message}");
            }),
        )
    }

    /// Ends a task thread: records the outcome in its state, its log and the counters. A
    /// denial the host counted already (`counted`, see [`Self::net`]) is not counted twice.
    pub fn finish(
        &self,
        control: &TaskControl,
        outcome: Result<(), ConnectError>,
        counted: &AtomicBool,
    ) {
        match outcome {
            Ok(()) => control.set_state(TaskState::Unassigned),
            Err(e) => {
                if let ConnectError::Denied { .. } = e
                    && !counted.load(Ordering::Relaxed)
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
