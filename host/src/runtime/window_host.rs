//! The host side of a processor's `window-state` and `session-state` imports: thin adapters
//! from the generated traits to [`WindowStore`] and [`SessionStore`] over the instance's
//! window key space. Puts count against the call's state-write cap like `state.put`.

use super::bindings::processor::weir::plugin::session_state as wit_session;
use super::bindings::processor::weir::plugin::state::StateError as WitStateError;
use super::bindings::processor::weir::plugin::window_state as wit_window;
use super::host::{HostState, to_wit};
use super::state::StateBackend;
use super::state::window::{SessionStore, WindowStore};

/// Bytes a put adds to the call's state writes: the key, the value and the times.
fn put_bytes(key: &[u8], value: &[u8]) -> usize {
    key.len() + value.len() + 16
}

impl HostState {
    fn windows(&mut self) -> Result<&mut dyn StateBackend, WitStateError> {
        match self.windows.as_mut() {
            Some(w) => Ok(&mut **w),
            None => Err(WitStateError::Unavailable(
                "this instance has no window or session store".into(),
            )),
        }
    }

    /// The window store, enforcing the retention the processor declared.
    fn window_store(&mut self) -> Result<WindowStore<'_>, WitStateError> {
        let retention = self.window_retention_ms;
        Ok(WindowStore::new(self.windows()?, retention))
    }

    /// The session store, enforcing the retention the processor declared.
    fn session_store(&mut self) -> Result<SessionStore<'_>, WitStateError> {
        let retention = self.window_retention_ms;
        Ok(SessionStore::new(self.windows()?, retention))
    }
}

impl wit_window::Host for HostState {
    fn put(
        &mut self,
        key: Vec<u8>,
        window_start: i64,
        value: Vec<u8>,
    ) -> Result<(), WitStateError> {
        self.count_write(put_bytes(&key, &value))?;
        self.window_store()?
            .put(&key, window_start, &value)
            .map_err(to_wit)
    }

    fn get(&mut self, key: Vec<u8>, window_start: i64) -> Result<Option<Vec<u8>>, WitStateError> {
        self.window_store()?.get(&key, window_start).map_err(to_wit)
    }

    fn fetch(
        &mut self,
        key: Vec<u8>,
        time_from: i64,
        time_to: i64,
        limit: u32,
    ) -> Result<Vec<wit_window::WindowEntry>, WitStateError> {
        let found = self
            .window_store()?
            .fetch(&key, time_from, time_to, limit as usize)
            .map_err(to_wit)?;
        Ok(found.into_iter().map(window_entry).collect())
    }

    fn fetch_all(
        &mut self,
        time_from: i64,
        time_to: i64,
        limit: u32,
    ) -> Result<Vec<wit_window::WindowEntry>, WitStateError> {
        let found = self
            .window_store()?
            .fetch_all(time_from, time_to, limit as usize)
            .map_err(to_wit)?;
        Ok(found.into_iter().map(window_entry).collect())
    }

    fn remove(&mut self, key: Vec<u8>, window_start: i64) -> Result<(), WitStateError> {
        self.window_store()?
            .remove(&key, window_start)
            .map_err(to_wit)
    }
}

fn window_entry((key, start, value): (Vec<u8>, i64, Vec<u8>)) -> wit_window::WindowEntry {
    wit_window::WindowEntry { key, start, value }
}

fn session((key, start, end, value): (Vec<u8>, i64, i64, Vec<u8>)) -> wit_session::Session {
    wit_session::Session {
        key,
        start,
        end,
        value,
    }
}

impl wit_session::Host for HostState {
    fn put(
        &mut self,
        key: Vec<u8>,
        start: i64,
        end: i64,
        value: Vec<u8>,
    ) -> Result<(), WitStateError> {
        self.count_write(put_bytes(&key, &value))?;
        self.session_store()?
            .put(&key, start, end, &value)
            .map_err(to_wit)
    }

    fn fetch_session(
        &mut self,
        key: Vec<u8>,
        start: i64,
        end: i64,
    ) -> Result<Option<Vec<u8>>, WitStateError> {
        self.session_store()?
            .fetch_session(&key, start, end)
            .map_err(to_wit)
    }

    fn find_sessions(
        &mut self,
        key: Vec<u8>,
        earliest_end: i64,
        latest_start: i64,
        limit: u32,
    ) -> Result<Vec<wit_session::Session>, WitStateError> {
        let found = self
            .session_store()?
            .find(&key, earliest_end, latest_start, limit as usize)
            .map_err(to_wit)?;
        Ok(found.into_iter().map(session).collect())
    }

    fn find_all_sessions(
        &mut self,
        earliest_end: i64,
        latest_end: i64,
        limit: u32,
    ) -> Result<Vec<wit_session::Session>, WitStateError> {
        let found = self
            .session_store()?
            .find_all(earliest_end, latest_end, limit as usize)
            .map_err(to_wit)?;
        Ok(found.into_iter().map(session).collect())
    }

    fn remove(&mut self, key: Vec<u8>, start: i64, end: i64) -> Result<(), WitStateError> {
        self.session_store()?
            .remove(&key, start, end)
            .map_err(to_wit)
    }
}
