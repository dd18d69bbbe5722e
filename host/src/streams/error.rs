//! [`StreamsError`]: why an operator could not process a batch at all (a record it
//! cannot use fails alone, as a per-record failure).

use crate::runtime::StateError;

/// Why a streams operator failed a whole batch.
#[derive(Debug, thiserror::Error)]
pub enum StreamsError {
    /// The task's state store failed underneath.
    #[error("window state: {source}")]
    State {
        /// The store's error.
        #[source]
        source: StateError,
    },
    /// Stored aggregate bytes that this version cannot read.
    #[error("stored aggregate under key {key:?} is {len} bytes; expected {expected}")]
    Corrupt {
        /// The state key (after the step prefix).
        key: Vec<u8>,
        /// Its value's length.
        len: usize,
        /// The length this operator writes.
        expected: usize,
    },
    /// A `reduce` or `aggregate` step's module failed the whole call (a trap, its
    /// deadline, its memory cap, an `invalid-config` answer).
    #[error("aggregator module: {source}")]
    Module {
        /// The runtime's error (boxed: it is large, and rare).
        #[source]
        source: Box<crate::runtime::RuntimeError>,
    },
    /// A `join` step's joiner module failed the whole call (a trap, its deadline, its
    /// memory cap, an `invalid-config` answer).
    #[error("joiner module: {source}")]
    Joiner {
        /// The runtime's error (boxed: it is large, and rare).
        #[source]
        source: Box<crate::runtime::RuntimeError>,
    },
    /// An aggregate of another kind than the step keeps met the step's arithmetic
    /// (stored by another op at this step's position).
    #[error(
        "an aggregate of another kind than this step's (count, sum or a module's) was found in its state"
    )]
    Mixed,
    /// A join was built without the table it looks keys up in (a wiring fault of the
    /// host, never of the input).
    #[error("the join has no table to look keys up in")]
    NoTable,
    /// A state query would read more windows than allowed.
    #[error(
        "the range holds more than {limit} windows (of all keys; windows are stored by start): \
         narrow from/to, or raise pipelines.max_state_query_windows"
    )]
    QueryTooWide {
        /// `pipelines.max_state_query_windows`.
        limit: usize,
    },
}

impl StreamsError {
    /// Whether the caller asked too much (a query too wide), not a fault of the store.
    pub fn is_too_wide(&self) -> bool {
        matches!(self, StreamsError::QueryTooWide { .. })
    }
}

impl From<StateError> for StreamsError {
    fn from(source: StateError) -> StreamsError {
        StreamsError::State { source }
    }
}
