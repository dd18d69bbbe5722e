//! A processor built against the `processor` world as it was before the window and session
//! stores and stream time (the WIT in `wit/` here is a frozen copy of that release): the
//! host must still load and run it. It keeps every record and counts them under `seen`.
wit_bindgen::generate!({ path: "wit", world: "processor" });

use exports::weir::plugin::processing::{
    Guest, ProcessorError, ProcessorOutput, Settings, TimerOutput,
};
use weir::plugin::state;
use weir::plugin::types::{Batch, Emit, Origin};

struct Legacy;

impl Guest for Legacy {
    fn init(_config: Vec<(String, String)>) -> Result<Settings, ProcessorError> {
        Ok(Settings {
            timer_interval_ms: None,
        })
    }

    fn process(origin: Origin, _batch: Batch) -> Result<ProcessorOutput, ProcessorError> {
        let n = origin.offsets.len() as u64;
        let seen = state::get(b"seen")
            .map_err(|_| ProcessorError::State("get".into()))?
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
            .unwrap_or(0);
        state::put(b"seen", &(seen + n).to_le_bytes())
            .map_err(|_| ProcessorError::State("put".into()))?;
        Ok(ProcessorOutput {
            main: Emit::Keep((0..n as u32).collect()),
            routes: Vec::new(),
            failures: Vec::new(),
        })
    }

    fn on_timer(_now_ms: i64) -> Result<TimerOutput, ProcessorError> {
        Err(ProcessorError::Failed("no timer was asked for".into()))
    }
}

export!(Legacy);
