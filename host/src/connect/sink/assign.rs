//! Which partitions a sink task reads, and from where: its share of every partition of the
//! matching topics, each from the group's committed offset or, without one, the earliest.

use std::collections::BTreeMap;

use crate::broker::BrokerError;

use super::super::error::ConnectError;
use super::super::worker::TaskContext;
use super::group;

/// A partition the task reads, and where.
pub(super) type Positions = BTreeMap<(String, u32), i64>;

/// A partition's committed offset and its metadata (the plugin's position).
type Committed = BTreeMap<(String, u32), (i64, Option<String>)>;

/// The committed offsets and metadata of the sink's group.
pub(super) fn committed(ctx: &TaskContext) -> Result<Committed, ConnectError> {
    match ctx.broker.group_offsets(&group(&ctx.connector)) {
        Ok(rows) => Ok(rows
            .into_iter()
            .map(|r| {
                (
                    (r.topic, r.partition),
                    (r.committed.offset, r.committed.metadata),
                )
            })
            .collect()),
        Err(BrokerError::UnknownGroup { .. }) => Ok(BTreeMap::new()),
        Err(e) => Err(e.into()),
    }
}

/// Adds the partitions this task should read and does not yet: every partition of a
/// matching topic whose index among them, modulo the task count, is this task's id.
/// Answers whether one of them has no committed offset (a commit before reading it gives
/// the plugin's position a starting point).
pub(super) fn refresh(ctx: &TaskContext, positions: &mut Positions) -> Result<bool, ConnectError> {
    let Some(topics) = &ctx.settings.topics else {
        return Ok(false);
    };
    let mut all: Vec<(String, u32, i64)> = Vec::new();
    let mut names: Vec<_> = ctx.broker.topics();
    names.sort_by(|a, b| a.name().cmp(b.name()));
    for t in names {
        if !topics.matches(t.name()) {
            continue;
        }
        for (i, p) in t.partitions().iter().enumerate() {
            all.push((t.name().to_string(), i as u32, p.stats().log_start_offset));
        }
    }
    let committed = committed(ctx)?;
    let mut uncommitted = false;
    for (i, (topic, p, start)) in all.into_iter().enumerate() {
        if i as u32 % ctx.tasks != ctx.task {
            continue;
        }
        let key = (topic, p);
        if positions.contains_key(&key) {
            continue;
        }
        // Connect's sink consumers start at the earliest offset.
        let at = match committed.get(&key) {
            Some((o, _)) => *o,
            None => {
                uncommitted = true;
                start
            }
        };
        positions.insert(key, at);
    }
    Ok(uncommitted)
}
