//! `wasi:io/poll` that never waits past the call's deadline.
//!
//! Epoch interruption stops a guest only while it runs Wasm; a guest blocked in the host (in
//! `poll` on a `subscribe-duration` of an hour, or in `pollable.block`) is out of its reach, and
//! wasmtime-wasi's own `poll` would sleep the worker thread for as long as asked. This one waits
//! at most until the deadline armed for the call ([`HostState::call_deadline`]), then fails the
//! call with the same interrupt trap the epoch deadline raises, so it is reported and handled
//! as a deadline error.

use std::time::Instant;

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::bindings::sync::io::poll as sync_poll;
use wasmtime_wasi::runtime::in_tokio;
use wasmtime_wasi_io::bindings::wasi::io::poll as async_poll;

use super::host::HostState;

/// The store's table, and the instant the current call must end by.
pub(crate) struct Bounded<'a> {
    table: &'a mut ResourceTable,
    until: Instant,
}

struct DeadlinePoll;

impl HasData for DeadlinePoll {
    type Data<'a> = Bounded<'a>;
}

/// Runs `wait` until it finishes or `until` passes; past it, the interrupt trap.
fn bounded<T>(
    until: Instant,
    wait: impl Future<Output = wasmtime::Result<T>>,
) -> wasmtime::Result<T> {
    in_tokio(async move {
        match tokio::time::timeout_at(until.into(), wait).await {
            Ok(result) => result,
            Err(_elapsed) => Err(wasmtime::Trap::Interrupt.into()),
        }
    })
}

impl sync_poll::Host for Bounded<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        let until = self.until;
        bounded(until, async_poll::Host::poll(&mut *self.table, pollables))
    }
}

impl sync_poll::HostPollable for Bounded<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        // Never waits: it polls the future once.
        let until = self.until;
        bounded(
            until,
            async_poll::HostPollable::ready(&mut *self.table, pollable),
        )
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        let until = self.until;
        bounded(
            until,
            async_poll::HostPollable::block(&mut *self.table, pollable),
        )
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        async_poll::HostPollable::drop(&mut *self.table, pollable)
    }
}

/// Adds the deadline-bounded `wasi:io/poll` to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    sync_poll::add_to_linker::<HostState, DeadlinePoll>(linker, |s| Bounded {
        table: &mut s.table,
        until: s.call_deadline,
    })
}
