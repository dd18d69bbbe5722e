//! The broker through its JSON HTTP API: topics, produce and consume, long polls,
//! consumer groups, limits, persistence across restarts and crashes, retention.
//! Each test runs its own `weir serve` in its own temp dir.

#[path = "../common/mod.rs"]
mod common;
mod helpers;

mod groups;
mod limits;
mod persistence;
mod records;
mod search;
mod topics;
