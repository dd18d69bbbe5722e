//! Hostile: a sink connector whose task, at start, opens `count` TCP connections to `target`
//! and holds them all. Only the host's cap on sockets per task stops it (and `weir.allow.tcp`
//! decides where it may connect at all).
//!
//! With `udp=true`, its task first tries to bind a UDP socket (weir grants none: the host must
//! refuse it, and log and count the refusal).
//!
//! With `hold` set to a path (in a granted directory), every `put` answers a retriable error
//! while that file exists: the task stays off its clean boundary for as long as a test wants.

use std::net::TcpStream;

use weir_guest::connect::{
    ConfigDef, ConfigIssue, ConfigMap, Connector, ConnectorError, SinkRecord, SinkTask,
    TopicPartitionOffset,
};

struct Grabber;

impl Connector for Grabber {
    fn config_defs() -> Vec<ConfigDef> {
        Vec::new()
    }

    fn validate(_config: &ConfigMap) -> Vec<ConfigIssue> {
        Vec::new()
    }

    fn task_configs(config: &ConfigMap, _max_tasks: u32) -> Result<Vec<ConfigMap>, ConnectorError> {
        Ok(vec![config.clone()])
    }
}

struct GrabberTask {
    _held: Vec<TcpStream>,
    hold: Option<String>,
}

impl SinkTask for GrabberTask {
    fn start(config: &ConfigMap, _committed: Option<String>) -> Result<Self, ConnectorError> {
        let target = config.get("target").cloned().unwrap_or_default();
        let count: usize = config
            .get("count")
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        if config.get("udp").is_some_and(|u| u == "true") {
            match std::net::UdpSocket::bind("0.0.0.0:0") {
                Ok(_) => return Err(ConnectorError::Failed("udp: bound a UDP socket".into())),
                Err(e) => return Err(ConnectorError::Failed(format!("udp: {e}"))),
            }
        }
        let mut held = Vec::new();
        for i in 0..count {
            match TcpStream::connect(&target) {
                Ok(s) => held.push(s),
                Err(e) => {
                    return Err(ConnectorError::Failed(format!(
                        "socket {i} to {target}: {e}"
                    )));
                }
            }
        }
        Ok(GrabberTask {
            _held: held,
            hold: config.get("hold").cloned(),
        })
    }

    fn put(&mut self, _records: Vec<SinkRecord>) -> Result<(), ConnectorError> {
        match &self.hold {
            Some(path) if std::path::Path::new(path).exists() => Err(ConnectorError::Retriable(
                format!("held while {path} exists"),
            )),
            _ => Ok(()),
        }
    }

    fn flush(&mut self, _offsets: Vec<TopicPartitionOffset>) -> Result<String, ConnectorError> {
        Ok("{}".into())
    }
}

weir_guest::sink_connector!(Grabber, GrabberTask);
