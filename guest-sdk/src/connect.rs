//! Connectors, as Kafka Connect has them: a connector part that checks its configuration and
//! splits the work into task configurations, and tasks that move records.
//!
//! ```text
//! struct Lines;
//! impl Connector for Lines { /* config_defs, validate, task_configs */ }
//! struct LinesTask { /* open file, position */ }
//! impl SourceTask for LinesTask { /* start, poll */ }
//! weir_guest::source_connector!(Lines, LinesTask);
//! ```
//!
//! The host runs the converters, so a task reads and writes [`Value`]s (text, bytes, JSON),
//! never the bytes in the log. A task owns whatever it opened between `start` and `stop`: the
//! host makes one instance per task.

use std::collections::BTreeMap;

#[cfg(feature = "sink-connector")]
pub use crate::bindings::exports::weir::plugin::sink_task::{SinkRecord, TopicPartitionOffset};
#[cfg(feature = "source-connector")]
pub use crate::bindings::exports::weir::plugin::source_task::{CommittedOffset, SourceRecord};
pub use crate::bindings::weir::plugin::connect_types::{
    ConfigDef, ConfigIssue, ConnectorError, Header, Value,
};

/// A configuration as connectors read it: keys to values.
pub type ConfigMap = BTreeMap<String, String>;

/// The connector part of a plugin: what it takes, whether a configuration is valid, and how
/// its work splits into tasks.
pub trait Connector {
    /// The keys the connector takes (besides the ones every connector has).
    fn config_defs() -> Vec<ConfigDef>;
    /// What is wrong with `config`, per key; empty when it is valid.
    fn validate(config: &ConfigMap) -> Vec<ConfigIssue>;
    /// At most `max_tasks` task configurations.
    fn task_configs(config: &ConfigMap, max_tasks: u32) -> Result<Vec<ConfigMap>, ConnectorError>;
}

/// One source task: reads records from outside, each with its source partition and offset.
#[cfg(feature = "source-connector")]
pub trait SourceTask: Sized {
    /// Starts with the task's configuration and the connector's committed offsets.
    fn start(config: &ConfigMap, offsets: Vec<CommittedOffset>) -> Result<Self, ConnectorError>;
    /// Up to `max_records` new records; empty when there is nothing new.
    fn poll(&mut self, max_records: u32) -> Result<Vec<SourceRecord>, ConnectorError>;
    /// These offsets are committed, with every record up to them.
    fn committed(&mut self, _offsets: Vec<CommittedOffset>) {}
    /// The task ends.
    fn stop(&mut self) {}
}

/// One sink task: writes batches of records outside.
#[cfg(feature = "sink-connector")]
pub trait SinkTask: Sized {
    /// Starts with the task's configuration and the position its last committed `flush`
    /// answered (`None` on a first start), to drop what was written after that commit.
    fn start(config: &ConfigMap, committed: Option<String>) -> Result<Self, ConnectorError>;
    /// Takes a batch; `ConnectorError::Retriable` has the host offer it again later.
    fn put(&mut self, records: Vec<SinkRecord>) -> Result<(), ConnectorError>;
    /// Makes everything put durable; answers a position (at most 1 KiB) that the host commits
    /// with the offsets and hands back to `start` after a restart.
    fn flush(&mut self, offsets: Vec<TopicPartitionOffset>) -> Result<String, ConnectorError>;
    /// The task ends.
    fn stop(&mut self) {}
}

/// Reports a record of the batch being put that cannot be delivered, for good (Kafka
/// Connect's ErrantRecordReporter): under `errors.tolerance=all` the host sends it to the
/// dead-letter queue and goes on; under `none` the task fails with `message`.
#[cfg(feature = "sink-connector")]
pub fn report(record: &SinkRecord, message: &str) {
    crate::bindings::weir::plugin::sink_context::report(
        &record.topic,
        record.partition,
        record.offset,
        message,
    );
}

/// A config key's definition, Connect's way.
pub fn def(name: &str, kind: &str, required: bool, default: Option<&str>, doc: &str) -> ConfigDef {
    ConfigDef {
        name: name.to_string(),
        kind: kind.to_string(),
        required,
        default_value: default.map(str::to_string),
        importance: if required { "HIGH" } else { "MEDIUM" }.to_string(),
        documentation: doc.to_string(),
    }
}

/// A problem with key `key`.
pub fn issue(key: &str, message: impl Into<String>) -> ConfigIssue {
    ConfigIssue {
        key: key.to_string(),
        message: message.into(),
    }
}

/// An I/O error as a connector error: a path outside the directories the connector was
/// granted (`weir.allow.dirs`) is `denied`, anything else `failed`.
pub fn io_error(what: &str, err: &std::io::Error) -> ConnectorError {
    // wasi-libc answers ENOTCAPABLE (76) for a path under no preopened directory; the host
    // answers EPERM/EACCES (63/2 in WASI's numbering) for one escaping it.
    let denied = err.kind() == std::io::ErrorKind::PermissionDenied
        || matches!(err.raw_os_error(), Some(76 | 63 | 2));
    let message = format!("{what}: {err}");
    if denied {
        ConnectorError::Denied(message)
    } else {
        ConnectorError::Failed(message)
    }
}

/// Refuses (`denied`) a path outside the directories `weir.allow.dirs` grants, or one to be
/// written (`write`) under a read-only grant. The sandbox refuses such a path anyway; asking
/// first makes the refusal say why, and lets the host count it.
pub fn require_granted(config: &ConfigMap, path: &str, write: bool) -> Result<(), ConnectorError> {
    let grants = config
        .get("weir.allow.dirs")
        .map(String::as_str)
        .unwrap_or("");
    let p = std::path::Path::new(path);
    let clean = p.is_absolute() && !p.components().any(|c| c == std::path::Component::ParentDir);
    let under = |dir: &str| clean && p.starts_with(dir) && p != std::path::Path::new(dir);
    let mut read_only_match = false;
    for g in grants.split(',').map(str::trim).filter(|g| !g.is_empty()) {
        let (dir, ro) = match g.strip_suffix(":ro") {
            Some(d) => (d, true),
            None => (g.strip_suffix(":rw").unwrap_or(g), false),
        };
        if under(dir) {
            if !write || !ro {
                return Ok(());
            }
            read_only_match = true;
        }
    }
    let why = if read_only_match {
        format!(
            "{path} is under a read-only grant of weir.allow.dirs ({grants:?}) and would be written"
        )
    } else if grants.is_empty() {
        format!("{path}: this connector is granted no directory (weir.allow.dirs is not set)")
    } else {
        format!("{path} is not under a directory weir.allow.dirs grants ({grants:?})")
    };
    Err(ConnectorError::Denied(why))
}

#[doc(hidden)]
pub fn to_map(config: Vec<(String, String)>) -> ConfigMap {
    config.into_iter().collect()
}

#[doc(hidden)]
pub fn task_configs<C: Connector>(
    config: Vec<(String, String)>,
    max_tasks: u32,
) -> Result<Vec<Vec<(String, String)>>, ConnectorError> {
    let configs = C::task_configs(&to_map(config), max_tasks)?;
    Ok(configs
        .into_iter()
        .map(|c| c.into_iter().collect())
        .collect())
}

/// The task of this instance: none before `start` and after `stop`.
#[doc(hidden)]
pub struct TaskSlot<T>(std::sync::Mutex<Option<T>>);

impl<T> TaskSlot<T> {
    #[doc(hidden)]
    pub const fn new() -> Self {
        TaskSlot(std::sync::Mutex::new(None))
    }

    #[doc(hidden)]
    pub fn set(&self, task: Option<T>) -> Option<T> {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *slot, task)
    }

    #[doc(hidden)]
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Result<R, ConnectorError> {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match slot.as_mut() {
            Some(task) => Ok(f(task)),
            None => Err(ConnectorError::Failed("the task was not started".into())),
        }
    }
}

impl<T> Default for TaskSlot<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The connector part both connector macros export: config keys, validation and the
/// split into task configs, all from the user's [`Connector`].
#[cfg(any(feature = "source-connector", feature = "sink-connector"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __weir_connector_guest {
    ($export:ident, $connector:ty) => {
        impl $crate::__private::ConnectorGuest for $export {
            fn config_defs() -> ::std::vec::Vec<$crate::connect::ConfigDef> {
                <$connector as $crate::connect::Connector>::config_defs()
            }
            fn validate(
                config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
            ) -> ::std::vec::Vec<$crate::connect::ConfigIssue> {
                <$connector as $crate::connect::Connector>::validate(&$crate::connect::to_map(
                    config,
                ))
            }
            fn task_configs(
                config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                max_tasks: u32,
            ) -> ::std::result::Result<
                ::std::vec::Vec<::std::vec::Vec<(::std::string::String, ::std::string::String)>>,
                $crate::connect::ConnectorError,
            > {
                $crate::connect::task_configs::<$connector>(config, max_tasks)
            }
        }
    };
}

/// Exports a source connector: `source_connector!(ConnectorType, TaskType)`, where the first
/// implements [`Connector`] and the second [`SourceTask`].
#[cfg(feature = "source-connector")]
#[macro_export]
macro_rules! source_connector {
    ($connector:ty, $task:ty) => {
        #[doc(hidden)]
        pub struct __WeirSourceConnector;

        static __WEIR_TASK: $crate::connect::TaskSlot<$task> = $crate::connect::TaskSlot::new();

        $crate::__weir_connector_guest!(__WeirSourceConnector, $connector);

        impl $crate::__private::SourceTaskGuest for __WeirSourceConnector {
            fn start(
                config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                offsets: ::std::vec::Vec<$crate::connect::CommittedOffset>,
            ) -> ::std::result::Result<(), $crate::connect::ConnectorError> {
                let task = <$task as $crate::connect::SourceTask>::start(
                    &$crate::connect::to_map(config),
                    offsets,
                )?;
                __WEIR_TASK.set(Some(task));
                Ok(())
            }
            fn poll(
                max_records: u32,
            ) -> ::std::result::Result<
                ::std::vec::Vec<$crate::connect::SourceRecord>,
                $crate::connect::ConnectorError,
            > {
                __WEIR_TASK.with(|t| $crate::connect::SourceTask::poll(t, max_records))?
            }
            fn committed(offsets: ::std::vec::Vec<$crate::connect::CommittedOffset>) {
                let _ = __WEIR_TASK.with(|t| $crate::connect::SourceTask::committed(t, offsets));
            }
            fn stop() {
                if let Some(mut task) = __WEIR_TASK.set(None) {
                    $crate::connect::SourceTask::stop(&mut task);
                }
            }
        }

        $crate::__private::bindings::__weir_export_source_connector!(__WeirSourceConnector);
    };
}

/// Exports a sink connector: `sink_connector!(ConnectorType, TaskType)`, where the first
/// implements [`Connector`] and the second [`SinkTask`].
#[cfg(feature = "sink-connector")]
#[macro_export]
macro_rules! sink_connector {
    ($connector:ty, $task:ty) => {
        #[doc(hidden)]
        pub struct __WeirSinkConnector;

        static __WEIR_TASK: $crate::connect::TaskSlot<$task> = $crate::connect::TaskSlot::new();

        $crate::__weir_connector_guest!(__WeirSinkConnector, $connector);

        impl $crate::__private::SinkTaskGuest for __WeirSinkConnector {
            fn start(
                config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                committed: ::std::option::Option<::std::string::String>,
            ) -> ::std::result::Result<(), $crate::connect::ConnectorError> {
                let task = <$task as $crate::connect::SinkTask>::start(
                    &$crate::connect::to_map(config),
                    committed,
                )?;
                __WEIR_TASK.set(Some(task));
                Ok(())
            }
            fn put(
                records: ::std::vec::Vec<$crate::connect::SinkRecord>,
            ) -> ::std::result::Result<(), $crate::connect::ConnectorError> {
                __WEIR_TASK.with(|t| $crate::connect::SinkTask::put(t, records))?
            }
            fn flush(
                offsets: ::std::vec::Vec<$crate::connect::TopicPartitionOffset>,
            ) -> ::std::result::Result<::std::string::String, $crate::connect::ConnectorError> {
                __WEIR_TASK.with(|t| $crate::connect::SinkTask::flush(t, offsets))?
            }
            fn stop() {
                if let Some(mut task) = __WEIR_TASK.set(None) {
                    $crate::connect::SinkTask::stop(&mut task);
                }
            }
        }

        $crate::__private::bindings::__weir_export_sink_connector!(__WeirSinkConnector);
    };
}
