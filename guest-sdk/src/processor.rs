//! Stateful processors: typed state, and a context to emit and route records.

use std::collections::BTreeMap;

use crate::bindings::exports::weir::plugin::processing::{
    ProcessorError, ProcessorOutput, Route, TimerOutput,
};
use crate::bindings::exports::weir::plugin::stream_time::{PunctuationError, PunctuationOutput};
use crate::bindings::weir::plugin::state as host;
use crate::bindings::weir::plugin::types::{Batch, Emit, Emitted, Origin};
use crate::error::ErrorKind;
use crate::record::{BatchWriter, validate, views};
use crate::windows::{SessionStore, WindowStore};
use crate::{Config, Error, OwnedRecord, Record};

/// Key-value pairs found by a scan, in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// A value that can be stored in [`State`].
pub trait StateValue: Sized {
    /// Its stored bytes.
    fn to_bytes(&self) -> Vec<u8>;
    /// Reads it back; an error when the bytes do not decode.
    fn from_bytes(bytes: &[u8]) -> Result<Self, Error>;
}

impl StateValue for Vec<u8> {
    fn to_bytes(&self) -> Vec<u8> {
        self.clone()
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Ok(bytes.to_vec())
    }
}

impl StateValue for String {
    fn to_bytes(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        String::from_utf8(bytes.to_vec()).map_err(|_| Error::new("stored value is not UTF-8"))
    }
}

macro_rules! int_state_value {
    ($($t:ty),*) => {$(
        impl StateValue for $t {
            fn to_bytes(&self) -> Vec<u8> {
                self.to_le_bytes().to_vec()
            }
            fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
                let arr = bytes.try_into().map_err(|_| {
                    Error::new(format!("stored value has {} bytes, not a {}", bytes.len(), stringify!($t)))
                })?;
                Ok(<$t>::from_le_bytes(arr))
            }
        }
    )*};
}
int_state_value!(u64, i64, u32, i32, f64);

fn state_err(e: host::StateError) -> Error {
    let message = match e {
        host::StateError::Unavailable(m) | host::StateError::TooLarge(m) => m,
    };
    Error {
        kind: ErrorKind::State,
        message,
    }
}

/// The processor's durable key-value state (one per task: pipeline step and partition).
#[derive(Debug, Clone, Copy, Default)]
pub struct State;

impl State {
    /// The raw value under `key`.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, Error> {
        host::get(key.as_ref()).map_err(state_err)
    }

    /// The value under `key`, decoded as `T`.
    pub fn get_as<T: StateValue>(&self, key: impl AsRef<[u8]>) -> Result<Option<T>, Error> {
        self.get(key)?.map(|b| T::from_bytes(&b)).transpose()
    }

    /// Stores raw bytes under `key`.
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), Error> {
        host::put(key.as_ref(), value.as_ref()).map_err(state_err)
    }

    /// Stores a typed value under `key`.
    pub fn put_as<T: StateValue>(&self, key: impl AsRef<[u8]>, value: &T) -> Result<(), Error> {
        self.put(key, value.to_bytes())
    }

    /// Removes `key`.
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<(), Error> {
        host::delete(key.as_ref()).map_err(state_err)
    }

    /// Up to `limit` entries whose key starts with `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: impl AsRef<[u8]>, limit: u32) -> Result<Entries, Error> {
        let found = host::scan_prefix(prefix.as_ref(), limit).map_err(state_err)?;
        Ok(found.into_iter().map(|e| (e.key, e.value)).collect())
    }

    /// Up to `limit` entries with `start <= key < end`, in key order.
    pub fn scan_range(
        &self,
        start: impl AsRef<[u8]>,
        end: Option<&[u8]>,
        limit: u32,
    ) -> Result<Entries, Error> {
        let found = host::scan_range(start.as_ref(), end, limit).map_err(state_err)?;
        Ok(found.into_iter().map(|e| (e.key, e.value)).collect())
    }
}

enum Entry {
    Keep(u32),
    Emit(OwnedRecord, u32),
}

#[derive(Default)]
struct Destination {
    entries: Vec<Entry>,
}

impl Destination {
    fn finish(self, batch: &Batch) -> Emit {
        if self.entries.iter().all(|e| matches!(e, Entry::Keep(_))) {
            return Emit::Keep(
                self.entries
                    .into_iter()
                    .filter_map(|e| match e {
                        Entry::Keep(i) => Some(i),
                        Entry::Emit(..) => None,
                    })
                    .collect(),
            );
        }
        let mut out = BatchWriter::default();
        for e in self.entries {
            match e {
                Entry::Keep(i) => {
                    if let Some(r) = Record::at(batch, i as usize, 0) {
                        out.push(&r.to_owned(), i);
                    }
                }
                Entry::Emit(rec, i) => out.push(&rec, i),
            }
        }
        let (batch, sources) = out.finish();
        Emit::Records(Emitted { batch, sources })
    }
}

/// What a processor function sees besides the record: config, state, and where to send output.
pub struct Context<'a> {
    index: u32,
    config: &'a Config,
    main: &'a mut Destination,
    routes: &'a mut BTreeMap<String, Destination>,
}

impl Context<'_> {
    /// The plugin's configuration.
    pub fn config(&self) -> &Config {
        self.config
    }

    /// The processor's state.
    pub fn state(&self) -> State {
        State
    }

    /// The processor's window store.
    pub fn windows(&self) -> WindowStore {
        WindowStore
    }

    /// The processor's session store.
    pub fn sessions(&self) -> SessionStore {
        SessionStore
    }

    /// Sends the input record, unchanged, to the main output.
    pub fn forward(&mut self) {
        self.main.entries.push(Entry::Keep(self.index));
    }

    /// Sends a new record to the main output.
    pub fn emit(&mut self, record: OwnedRecord) {
        self.main.entries.push(Entry::Emit(record, self.index));
    }

    /// Sends the input record, unchanged, to `topic` (one of the pipeline's outputs).
    pub fn forward_to(&mut self, topic: &str) {
        let index = self.index;
        self.routes
            .entry(topic.to_owned())
            .or_default()
            .entries
            .push(Entry::Keep(index));
    }

    /// Sends a new record to `topic`.
    pub fn emit_to(&mut self, topic: &str, record: OwnedRecord) {
        let index = self.index;
        self.routes
            .entry(topic.to_owned())
            .or_default()
            .entries
            .push(Entry::Emit(record, index));
    }
}

/// Runs a processor function over a batch.
pub fn run_processor(
    origin: Origin,
    batch: Batch,
    mut f: impl FnMut(&Record<'_>, &mut Context<'_>) -> Result<(), Error>,
) -> Result<ProcessorOutput, ProcessorError> {
    validate(&batch)
        .map_err(|m| ProcessorError::Failed(format!("malformed batch from the host: {m}")))?;
    let config = Config::get_global();
    let mut main = Destination::default();
    let mut routes = BTreeMap::new();
    let mut failures = Vec::new();
    for (index, record) in views(&batch, &origin.offsets, &origin.topic, origin.partition) {
        let mut ctx = Context {
            index,
            config,
            main: &mut main,
            routes: &mut routes,
        };
        if let Err(e) = f(&record, &mut ctx) {
            match e.kind {
                ErrorKind::Failed => {
                    failures.push(crate::bindings::weir::plugin::types::RecordFailure {
                        index,
                        message: e.message,
                    })
                }
                ErrorKind::InvalidConfig => return Err(ProcessorError::InvalidConfig(e.message)),
                ErrorKind::State => return Err(ProcessorError::State(e.message)),
            }
        }
    }
    Ok(ProcessorOutput {
        main: main.finish(&batch),
        routes: routes
            .into_iter()
            .map(|(topic, d)| Route {
                topic,
                emit: d.finish(&batch),
            })
            .collect(),
        failures,
    })
}

/// What a processor's timer and stream-time functions see: config, state, the window and
/// session stores, and where to send records.
pub struct TimerContext {
    config: &'static Config,
    main: BatchWriter,
    routes: BTreeMap<String, BatchWriter>,
}

impl TimerContext {
    /// The plugin's configuration.
    pub fn config(&self) -> &Config {
        self.config
    }

    /// The processor's state.
    pub fn state(&self) -> State {
        State
    }

    /// The processor's window store.
    pub fn windows(&self) -> WindowStore {
        WindowStore
    }

    /// The processor's session store.
    pub fn sessions(&self) -> SessionStore {
        SessionStore
    }

    /// Sends a record to the main output.
    pub fn emit(&mut self, record: OwnedRecord) {
        self.main.push(&record, 0);
    }

    /// Sends a record to `topic` (one of the pipeline's outputs).
    pub fn emit_to(&mut self, topic: &str, record: OwnedRecord) {
        self.routes
            .entry(topic.to_owned())
            .or_default()
            .push(&record, 0);
    }
}

fn processor_error(e: Error) -> ProcessorError {
    match e.kind {
        ErrorKind::InvalidConfig => ProcessorError::InvalidConfig(e.message),
        ErrorKind::State => ProcessorError::State(e.message),
        ErrorKind::Failed => ProcessorError::Failed(e.message),
    }
}

/// Runs a processor's timer function.
pub fn run_timer(
    now_ms: i64,
    f: impl FnOnce(i64, &mut TimerContext) -> Result<(), Error>,
) -> Result<TimerOutput, ProcessorError> {
    let mut ctx = TimerContext {
        config: Config::get_global(),
        main: BatchWriter::default(),
        routes: BTreeMap::new(),
    };
    f(now_ms, &mut ctx).map_err(processor_error)?;
    Ok(TimerOutput {
        main: ctx.main.finish().0,
        routes: ctx
            .routes
            .into_iter()
            .map(|(topic, w)| (topic, w.finish().0))
            .collect(),
    })
}

/// Runs a processor's stream-time function (called with the task's stream time).
pub fn run_stream_time(
    stream_time_ms: i64,
    f: impl FnOnce(i64, &mut TimerContext) -> Result<(), Error>,
) -> Result<PunctuationOutput, PunctuationError> {
    let mut ctx = TimerContext {
        config: Config::get_global(),
        main: BatchWriter::default(),
        routes: BTreeMap::new(),
    };
    f(stream_time_ms, &mut ctx).map_err(|e| match e.kind {
        ErrorKind::State => PunctuationError::State(e.message),
        ErrorKind::InvalidConfig | ErrorKind::Failed => PunctuationError::Failed(e.message),
    })?;
    Ok(PunctuationOutput {
        main: ctx.main.finish().0,
        routes: ctx
            .routes
            .into_iter()
            .map(|(topic, w)| (topic, w.finish().0))
            .collect(),
    })
}
