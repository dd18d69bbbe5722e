//! Write weir plugins in Rust: an attribute macro over a plain function.
//!
//! ```text
//! use weir_guest::prelude::*;
//!
//! /// Keeps records whose value contains the configured `pattern`.
//! #[filter]
//! fn keep(record: &Record, config: &Config) -> Result<bool> {
//!     let pattern = config.require("pattern")?;
//!     Ok(record.value().is_some_and(|v| contains(v, pattern.as_bytes())))
//! }
//! ```
//!
//! Faster, and as short: settings read from the configuration once per instance, one key per
//! field (a missing or unparsable key refuses the batch, naming the key):
//!
//! ```text
//! #[derive(FromConfig)]
//! struct Settings {
//!     pattern: Vec<u8>,
//! }
//!
//! #[filter]
//! fn keep(record: &Record, cfg: &Settings) -> bool {
//!     record.value().is_some_and(|v| contains(v, &cfg.pattern))
//! }
//! ```
//!
//! - [`filter`], [`map`], [`flat_map`]: stateless transforms (the `transform` world).
//! - [`processor`] (feature `processor`): stateful processing with `State` and routing,
//!   window and session stores (`WindowStore`, `SessionStore`), timers on the wall clock
//!   and on stream time (documented when the feature is on: `cargo doc --features processor`).
//! - [`aggregator`] (feature `aggregator`): the functions of a `reduce` or `aggregate`
//!   step: `add` a record to an aggregate, and optionally `initial`, `merge`, `subtract`.
//! - [`key_selector`] (feature `key-selector`): a `group_by` step's new key per record.
//! - [`joiner`] (feature `joiner`): a `join` step's value from the two sides' values.
//! - [`Record`] is a zero-copy view of an input record; [`OwnedRecord`] is a record to emit.
//! - [`Config`]: typed access to the plugin's configuration, and [`FromConfig`] (usually
//!   `#[derive(FromConfig)]`) for settings built from it once per instance; [`info!`] and
//!   friends log to the host.
//!
//! - `connect` (feature `source-connector` or `sink-connector`; not linked here, as it
//!   exists only with the feature on): Kafka Connect-style connectors: implement its
//!   traits and export them with `source_connector!` or `sink_connector!`.
//!
//! - `http` (feature `http`; not linked here, as it exists only with the feature on):
//!   outbound HTTP for connectors, as their `weir.allow.http` grants.
//!
//! Build a plugin crate (`crate-type = ["cdylib"]`) with `cargo build --target wasm32-wasip2 --release`.
#![deny(missing_docs)]

#[cfg(feature = "aggregator")]
mod aggregator;
mod answer;
mod bindings;
mod config;
#[cfg(any(feature = "source-connector", feature = "sink-connector"))]
pub mod connect;
mod error;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "joiner")]
mod joiner;
#[cfg(feature = "key-selector")]
mod key_selector;
#[doc(hidden)]
pub mod log;
#[cfg(feature = "processor")]
mod processor;
mod record;
mod run;
mod search;
#[cfg(feature = "processor")]
mod windows;

#[cfg(feature = "aggregator")]
pub use aggregator::{AggregateAnswer, Item};
pub use answer::{FilterAnswer, FlatMapAnswer, MapAnswer, ProcessAnswer};
pub use config::{Config, ConfigValue, FromConfig};
pub use error::{Error, Result};
#[cfg(feature = "joiner")]
pub use joiner::JoinAnswer;
#[cfg(feature = "key-selector")]
pub use key_selector::KeyAnswer;
#[cfg(feature = "processor")]
pub use processor::{Context, Entries, State, StateValue, TimerContext};
pub use record::{OwnedRecord, Record};
pub use search::contains;
pub use weir_guest_macros::{
    FromConfig, aggregator, filter, flat_map, joiner, key_selector, map, processor,
};
#[cfg(feature = "processor")]
pub use windows::{Session, SessionStore, Window, WindowStore};

/// Everything a plugin usually needs.
pub mod prelude {
    #[cfg(feature = "joiner")]
    pub use crate::JoinAnswer;
    #[cfg(feature = "aggregator")]
    pub use crate::{AggregateAnswer, Item};
    pub use crate::{
        Config, ConfigValue, Error, FromConfig, OwnedRecord, Record, Result, contains,
    };
    #[cfg(feature = "processor")]
    pub use crate::{
        Context, Session, SessionStore, State, StateValue, TimerContext, Window, WindowStore,
    };
    pub use crate::{aggregator, filter, flat_map, joiner, key_selector, map, processor};
}

/// Used by the macros' expansions; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::weir::plugin::types::{Batch, Origin};
    pub use crate::config::{optional, required, settings};
    pub use crate::run::{Answer, run_filter, run_flat_map, run_map};

    /// The generated bindings, where the export macro looks for them.
    pub mod bindings {
        pub use crate::bindings::*;
    }

    #[cfg(not(any(
        feature = "processor",
        feature = "aggregator",
        feature = "key-selector",
        feature = "joiner",
        feature = "source-connector",
        feature = "sink-connector"
    )))]
    pub use crate::bindings::exports::weir::plugin::transformer::{
        Guest as TransformGuest, TransformError, TransformOutput,
    };
    #[cfg(not(any(
        feature = "processor",
        feature = "aggregator",
        feature = "key-selector",
        feature = "joiner",
        feature = "source-connector",
        feature = "sink-connector"
    )))]
    pub use crate::run::transform_result;

    #[cfg(feature = "processor")]
    pub use crate::bindings::exports::weir::plugin::processing::{
        Guest as ProcessorGuest, ProcessorError, ProcessorOutput, Settings, TimerOutput,
    };
    #[cfg(feature = "processor")]
    pub use crate::bindings::exports::weir::plugin::stream_time::{
        Guest as StreamTimeGuest, PunctuationError, PunctuationOutput, StreamSettings,
    };
    #[cfg(feature = "processor")]
    pub use crate::processor::{run_processor, run_stream_time, run_timer};

    #[cfg(feature = "aggregator")]
    pub use crate::aggregator::{
        AggregatingGuest, AggregatorError, WitItem, run_add, run_initial, run_merge, run_subtract,
    };

    #[cfg(feature = "key-selector")]
    pub use crate::bindings::exports::weir::plugin::key_selecting::{
        Guest as KeySelectingGuest, KeySelectorError, SelectedKeys,
    };
    #[cfg(feature = "key-selector")]
    pub use crate::key_selector::run_select;

    #[cfg(feature = "joiner")]
    pub use crate::joiner::{JoinerError, JoiningGuest, run_join};

    #[cfg(any(feature = "source-connector", feature = "sink-connector"))]
    pub use crate::bindings::exports::weir::plugin::connector::Guest as ConnectorGuest;
    #[cfg(feature = "sink-connector")]
    pub use crate::bindings::exports::weir::plugin::sink_task::Guest as SinkTaskGuest;
    #[cfg(feature = "source-connector")]
    pub use crate::bindings::exports::weir::plugin::source_task::Guest as SourceTaskGuest;

    /// A batch with no records (a timer with nothing to say).
    pub fn empty_batch() -> Batch {
        crate::record::empty_batch()
    }

    /// The records of `batch` as a plugin's function sees them, or the error the `run_*`
    /// functions refuse the batch with. For tests: `run_*` also read the configuration
    /// through a host import, which a native build cannot call, so the flat-batch fuzz
    /// tests read batches through this, the same checks and views.
    pub fn read_batch<'a>(
        batch: &'a Batch,
        offsets: &'a [i64],
    ) -> Result<impl Iterator<Item = crate::Record<'a>> + 'a, String> {
        crate::record::validate(batch)?;
        Ok(crate::record::views(batch, offsets, "", 0).map(|(_, record)| record))
    }
}
