//! Kafka Connect's FileStreamSink as a weir connector: appends the value of each record of
//! `topics` to `file` as a line. Each flush answers the file's length, which the host commits
//! with the offsets; a restart truncates the file back to it, so a line written after the
//! last commit (and delivered again) is not in the file twice.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};

use weir_guest::connect::{
    ConfigDef, ConfigIssue, ConfigMap, Connector, ConnectorError, SinkRecord, SinkTask,
    TopicPartitionOffset, Value, def, io_error, issue, require_granted,
};

struct FileSink;

impl Connector for FileSink {
    fn config_defs() -> Vec<ConfigDef> {
        vec![def("file", "STRING", true, None, "Destination filename.")]
    }

    fn validate(config: &ConfigMap) -> Vec<ConfigIssue> {
        match config.get("file").map(|f| f.trim()) {
            None | Some("") => vec![issue(
                "file",
                "Missing required configuration \"file\" which has no default value.",
            )],
            Some(_) => Vec::new(),
        }
    }

    fn task_configs(config: &ConfigMap, _max_tasks: u32) -> Result<Vec<ConfigMap>, ConnectorError> {
        // One file, one writer.
        Ok(vec![config.clone()])
    }
}

struct FileSinkTask {
    path: String,
    file: File,
    /// Lines put since the last flush.
    pending: Vec<u8>,
}

/// The file length a committed position names.
fn committed_len(committed: Option<String>) -> Result<Option<u64>, ConnectorError> {
    let Some(text) = committed else {
        return Ok(None);
    };
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        ConnectorError::Failed(format!("committed position {text:?} is not JSON: {e}"))
    })?;
    match v.get("bytes").and_then(|b| b.as_u64()) {
        Some(n) => Ok(Some(n)),
        None => Err(ConnectorError::Failed(format!(
            "committed position {text} has no \"bytes\" number"
        ))),
    }
}

impl SinkTask for FileSinkTask {
    fn start(config: &ConfigMap, committed: Option<String>) -> Result<Self, ConnectorError> {
        let path = config
            .get("file")
            .filter(|f| !f.trim().is_empty())
            .cloned()
            .ok_or_else(|| {
                ConnectorError::InvalidConfig(
                    "Missing required configuration \"file\" which has no default value.".into(),
                )
            })?;
        require_granted(config, &path, true)?;
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io_error(&format!("opening {path}"), &e))?;
        let len = file
            .metadata()
            .map_err(|e| io_error(&format!("reading {path}'s length"), &e))?
            .len();
        if let Some(keep) = committed_len(committed)? {
            if len > keep {
                // Written after the last commit: those records come again.
                file.set_len(keep)
                    .map_err(|e| io_error(&format!("truncating {path}"), &e))?;
            }
        }
        file.seek(SeekFrom::End(0))
            .map_err(|e| io_error(&format!("seeking {path}"), &e))?;
        Ok(FileSinkTask {
            path,
            file,
            pending: Vec::new(),
        })
    }

    fn put(&mut self, records: Vec<SinkRecord>) -> Result<(), ConnectorError> {
        for r in records {
            match r.value {
                Value::Text(s) | Value::Json(s) => self.pending.extend_from_slice(s.as_bytes()),
                Value::Bytes(b) => self.pending.extend_from_slice(&b),
                Value::Null => self.pending.extend_from_slice(b"null"),
            }
            self.pending.push(b'\n');
        }
        Ok(())
    }

    fn flush(&mut self, _offsets: Vec<TopicPartitionOffset>) -> Result<String, ConnectorError> {
        let path = &self.path;
        self.file
            .write_all(&self.pending)
            .map_err(|e| io_error(&format!("writing {path}"), &e))?;
        self.pending.clear();
        self.file
            .sync_data()
            .map_err(|e| io_error(&format!("syncing {path}"), &e))?;
        let len = self
            .file
            .stream_position()
            .map_err(|e| io_error(&format!("reading {path}'s position"), &e))?;
        Ok(format!("{{\"bytes\":{len}}}"))
    }
}

weir_guest::sink_connector!(FileSink, FileSinkTask);
