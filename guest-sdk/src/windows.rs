//! A processor's window and session stores (Kafka Streams' `WindowStore` and
//! `SessionStore`), kept by the host beside [`State`](crate::State) and committed with it.
//! With a retention (`#[processor(retention_ms = ...)]`) each store keeps, as Kafka's do,
//! its observed stream time (the latest window start or session end put): a put at or
//! before that minus the retention is ignored and reads never return such an entry.

use crate::Error;
use crate::bindings::weir::plugin::session_state as sessions;
use crate::bindings::weir::plugin::state::StateError;
use crate::bindings::weir::plugin::window_state as windows;
use crate::error::ErrorKind;

fn store_err(e: StateError) -> Error {
    let message = match e {
        StateError::Unavailable(m) | StateError::TooLarge(m) => m,
    };
    Error {
        kind: ErrorKind::State,
        message,
    }
}

/// One stored window: key, window start (ms since the epoch), value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The key.
    pub key: Vec<u8>,
    /// The window's start, ms since the epoch.
    pub start: i64,
    /// The value.
    pub value: Vec<u8>,
}

/// One stored session: key, first and last record time (both inclusive), value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The key.
    pub key: Vec<u8>,
    /// The first record's time.
    pub start: i64,
    /// The last record's time (inclusive).
    pub end: i64,
    /// The value.
    pub value: Vec<u8>,
}

/// The processor's window store: one value per (key, window start).
#[derive(Debug, Clone, Copy, Default)]
pub struct WindowStore;

impl WindowStore {
    /// Stores `value` for `key` in the window starting at `start`.
    pub fn put(
        &self,
        key: impl AsRef<[u8]>,
        start: i64,
        value: impl AsRef<[u8]>,
    ) -> Result<(), Error> {
        windows::put(key.as_ref(), start, value.as_ref()).map_err(store_err)
    }

    /// The value of `key` in the window starting at `start`.
    pub fn get(&self, key: impl AsRef<[u8]>, start: i64) -> Result<Option<Vec<u8>>, Error> {
        windows::get(key.as_ref(), start).map_err(store_err)
    }

    /// Up to `limit` windows of `key` starting within `from..=to`, by start.
    pub fn fetch(
        &self,
        key: impl AsRef<[u8]>,
        from: i64,
        to: i64,
        limit: u32,
    ) -> Result<Vec<Window>, Error> {
        let found = windows::fetch(key.as_ref(), from, to, limit).map_err(store_err)?;
        Ok(found.into_iter().map(window).collect())
    }

    /// Up to `limit` windows of any key starting within `from..=to`, by start then key.
    pub fn fetch_all(&self, from: i64, to: i64, limit: u32) -> Result<Vec<Window>, Error> {
        let found = windows::fetch_all(from, to, limit).map_err(store_err)?;
        Ok(found.into_iter().map(window).collect())
    }

    /// Removes the window of `key` starting at `start`.
    pub fn remove(&self, key: impl AsRef<[u8]>, start: i64) -> Result<(), Error> {
        windows::remove(key.as_ref(), start).map_err(store_err)
    }
}

fn window(e: windows::WindowEntry) -> Window {
    Window {
        key: e.key,
        start: e.start,
        value: e.value,
    }
}

fn session(s: sessions::Session) -> Session {
    Session {
        key: s.key,
        start: s.start,
        end: s.end,
        value: s.value,
    }
}

/// The processor's session store: one value per (key, start, end).
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionStore;

impl SessionStore {
    /// Stores `value` for the session of `key` from `start` to `end`.
    pub fn put(
        &self,
        key: impl AsRef<[u8]>,
        start: i64,
        end: i64,
        value: impl AsRef<[u8]>,
    ) -> Result<(), Error> {
        sessions::put(key.as_ref(), start, end, value.as_ref()).map_err(store_err)
    }

    /// The value of the session of `key` from `start` to `end` exactly.
    pub fn fetch_session(
        &self,
        key: impl AsRef<[u8]>,
        start: i64,
        end: i64,
    ) -> Result<Option<Vec<u8>>, Error> {
        sessions::fetch_session(key.as_ref(), start, end).map_err(store_err)
    }

    /// Up to `limit` sessions of `key` with `end >= earliest_end` and
    /// `start <= latest_start`, by end: the ones a new record could merge with.
    pub fn find_sessions(
        &self,
        key: impl AsRef<[u8]>,
        earliest_end: i64,
        latest_start: i64,
        limit: u32,
    ) -> Result<Vec<Session>, Error> {
        let found = sessions::find_sessions(key.as_ref(), earliest_end, latest_start, limit)
            .map_err(store_err)?;
        Ok(found.into_iter().map(session).collect())
    }

    /// Up to `limit` sessions of any key ending within `earliest_end..=latest_end`, by end
    /// then start then key: the ones that have closed, to emit them.
    pub fn find_all_sessions(
        &self,
        earliest_end: i64,
        latest_end: i64,
        limit: u32,
    ) -> Result<Vec<Session>, Error> {
        let found =
            sessions::find_all_sessions(earliest_end, latest_end, limit).map_err(store_err)?;
        Ok(found.into_iter().map(session).collect())
    }

    /// Removes the session of `key` from `start` to `end`.
    pub fn remove(&self, key: impl AsRef<[u8]>, start: i64, end: i64) -> Result<(), Error> {
        sessions::remove(key.as_ref(), start, end).map_err(store_err)
    }
}
