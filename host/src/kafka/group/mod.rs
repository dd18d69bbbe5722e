//! The consumer group coordinator: Kafka's classic rebalance protocol.
//!
//! - [`state`]: one group's state machine (Empty, PreparingRebalance,
//!   CompletingRebalance, Stable), its members and their waiting requests, and
//!   Kafka's initial rebalance delay for a join into an Empty group.
//! - [`join`]: JoinGroup's decision: new, known or static member, rebalance or not.
//! - [`outcome`]: the requests and answers exchanged with the coordinator.
//! - [`assignment`]: a member's assignment read from the consumer protocol's bytes.
//! - [`coordinator`]: every group, and the async calls the JoinGroup, SyncGroup,
//!   Heartbeat, LeaveGroup and OffsetCommit handlers make.
//!
//! Membership lives in memory only, as in Kafka a coordinator change makes
//! members rejoin; committed offsets live in the broker's metadata store, so
//! the HTTP API shows the same offsets.
pub mod assignment;
pub mod coordinator;
pub mod join;
pub mod outcome;
pub mod state;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use coordinator::Coordinator;
pub use outcome::{GroupDescription, JoinOutcome, JoinRequest, SyncOutcome};
pub use state::{Group, GroupState, JoinWait};

use super::KafkaContext;

/// How often session expiry and rebalance deadlines are checked: well below
/// the smallest session timeout, so members expire within a tick of it.
pub const TICK: Duration = Duration::from_millis(100);

/// Runs the coordinator's timers until aborted.
pub async fn reaper(ctx: Arc<KafkaContext>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        ctx.groups.tick(Instant::now());
    }
}
