//! Kafka Connect's FileStreamSource as a weir connector: each line of `file` becomes a record
//! of `topic` with a string value, with Connect's source partition `{"filename": file}` and
//! offset `{"position": bytes}`. It resumes at the committed position and follows lines
//! appended later; a last line without its newline waits until the newline comes.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use weir_guest::connect::{
    CommittedOffset, ConfigDef, ConfigIssue, ConfigMap, Connector, ConnectorError, SourceRecord,
    SourceTask, Value, def, io_error, issue, require_granted,
};

/// Lines longer than this fail the task rather than grow its memory without end.
const MAX_LINE_BYTES: usize = 1 << 20;
/// Bytes read from the file at a time.
const CHUNK_BYTES: usize = 64 << 10;
/// Connect's default `batch.size`.
const DEFAULT_BATCH: u32 = 2000;

struct FileSource;

fn batch_size(config: &ConfigMap) -> Result<u32, String> {
    match config.get("batch.size") {
        None => Ok(DEFAULT_BATCH),
        Some(v) => match v.trim().parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!(
                "Invalid value {v} for configuration batch.size: a positive integer is required"
            )),
        },
    }
}

impl Connector for FileSource {
    fn config_defs() -> Vec<ConfigDef> {
        vec![
            def("file", "STRING", true, None, "Source filename."),
            def("topic", "LIST", true, None, "The topic to publish data to"),
            def(
                "batch.size",
                "INT",
                false,
                Some("2000"),
                "The maximum number of records the source task can read from the file each time it is polled",
            ),
        ]
    }

    fn validate(config: &ConfigMap) -> Vec<ConfigIssue> {
        let mut issues = Vec::new();
        match config.get("file").map(|f| f.trim()) {
            None | Some("") => issues.push(issue(
                "file",
                "Missing required configuration \"file\" which has no default value.",
            )),
            Some(_) => {}
        }
        match config.get("topic").map(|t| t.trim()) {
            None | Some("") => issues.push(issue("topic", "Missing required configuration \"topic\" which has no default value.")),
            Some(t) if t.contains(',') => issues.push(issue("topic", "'topic' in FileStreamSourceConnector configuration requires definition of a single topic.")),
            Some(_) => {}
        }
        if let Err(e) = batch_size(config) {
            issues.push(issue("batch.size", e));
        }
        issues
    }

    fn task_configs(config: &ConfigMap, _max_tasks: u32) -> Result<Vec<ConfigMap>, ConnectorError> {
        // One file, one reader: Connect's FileStreamSource has a single task too.
        Ok(vec![config.clone()])
    }
}

struct FileSourceTask {
    path: String,
    topic: String,
    partition: String,
    /// `batch.size`: most records one poll answers.
    batch: u32,
    file: Option<File>,
    /// Bytes read but not yet emitted as lines.
    buf: Vec<u8>,
    /// File position of `buf[0]`.
    position: u64,
}

fn required(config: &ConfigMap, key: &str) -> Result<String, ConnectorError> {
    config
        .get(key)
        .filter(|v| !v.trim().is_empty())
        .cloned()
        .ok_or_else(|| {
            ConnectorError::InvalidConfig(format!(
                "Missing required configuration \"{key}\" which has no default value."
            ))
        })
}

/// The committed position of `partition` in `offsets`, 0 if none.
fn committed_position(file: &str, offsets: &[CommittedOffset]) -> Result<u64, ConnectorError> {
    for o in offsets {
        let Ok(p) = serde_json::from_str::<serde_json::Value>(&o.source_partition) else {
            continue;
        };
        if p.get("filename").and_then(|f| f.as_str()) != Some(file) {
            continue;
        }
        let offset: serde_json::Value = serde_json::from_str(&o.source_offset).map_err(|e| {
            ConnectorError::Failed(format!(
                "committed offset {} is not JSON: {e}",
                o.source_offset
            ))
        })?;
        return match offset.get("position").and_then(|p| p.as_u64()) {
            Some(p) => Ok(p),
            None => Err(ConnectorError::Failed(format!(
                "committed offset {} has no \"position\" number",
                o.source_offset
            ))),
        };
    }
    Ok(0)
}

impl FileSourceTask {
    fn open(&mut self) -> Result<bool, ConnectorError> {
        if self.file.is_some() {
            return Ok(true);
        }
        match File::open(&self.path) {
            Ok(mut f) => {
                f.seek(SeekFrom::Start(self.position)).map_err(|e| {
                    io_error(&format!("seeking {} to {}", self.path, self.position), &e)
                })?;
                self.file = Some(f);
                Ok(true)
            }
            // As Connect's: wait for the file to appear.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error(&format!("opening {}", self.path), &e)),
        }
    }

    fn record(&self, line: &[u8], next: u64) -> SourceRecord {
        SourceRecord {
            source_partition: self.partition.clone(),
            source_offset: format!("{{\"position\":{next}}}"),
            topic: self.topic.clone(),
            kafka_partition: None,
            key: Value::Null,
            value: Value::Text(String::from_utf8_lossy(line).into_owned()),
            headers: Vec::new(),
            timestamp: None,
        }
    }
}

impl SourceTask for FileSourceTask {
    fn start(config: &ConfigMap, offsets: Vec<CommittedOffset>) -> Result<Self, ConnectorError> {
        let path = required(config, "file")?;
        require_granted(config, &path, false)?;
        let topic = required(config, "topic")?;
        let partition = serde_json::json!({ "filename": path }).to_string();
        let position = committed_position(&path, &offsets)?;
        let batch = batch_size(config).map_err(ConnectorError::InvalidConfig)?;
        Ok(FileSourceTask {
            path,
            topic,
            partition,
            batch,
            file: None,
            buf: Vec::new(),
            position,
        })
    }

    fn poll(&mut self, max_records: u32) -> Result<Vec<SourceRecord>, ConnectorError> {
        if !self.open()? {
            return Ok(Vec::new());
        }
        let max_records = max_records.min(self.batch);
        let mut out = Vec::new();
        let mut start = 0usize;
        loop {
            while out.len() < max_records as usize {
                let Some(nl) = self.buf[start..].iter().position(|&b| b == b'\n') else {
                    break;
                };
                let mut line = &self.buf[start..start + nl];
                if let [rest @ .., b'\r'] = line {
                    line = rest;
                }
                let next = self.position + (start + nl + 1) as u64;
                out.push(self.record(line, next));
                start += nl + 1;
            }
            if out.len() >= max_records as usize {
                break;
            }
            if self.buf.len() - start > MAX_LINE_BYTES {
                return Err(ConnectorError::Failed(format!(
                    "{}: a line at position {} is longer than {MAX_LINE_BYTES} bytes",
                    self.path,
                    self.position + start as u64
                )));
            }
            let mut chunk = vec![0u8; CHUNK_BYTES];
            let file = self
                .file
                .as_mut()
                .ok_or_else(|| ConnectorError::Failed("file not open".into()))?;
            let n = file
                .read(&mut chunk)
                .map_err(|e| io_error(&format!("reading {}", self.path), &e))?;
            if n == 0 {
                break;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        self.buf.drain(..start);
        self.position += start as u64;
        Ok(out)
    }
}

weir_guest::source_connector!(FileSource, FileSourceTask);
