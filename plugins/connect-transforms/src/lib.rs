//! Kafka Connect's single-message transformations and predicates as one weir plugin.
//!
//! The config key `type` picks the transformation (`InsertField$Value`, or Connect's fully
//! qualified class name); its other keys are Connect's. A transformation may carry a
//! condition as Connect writes it: `predicate=p`, `negate=true|false` and
//! `predicates.p.type=TopicNameMatches` with `predicates.p.*` keys. A predicate as the `type`
//! is a filter: it keeps the records it matches (those it does not, with `negate=true`).
//!
//! Values and keys are schemaless JSON, as Connect's JsonConverter reads them with
//! `schemas.enable=false`; bytes that are not JSON read as a string, as Connect's
//! StringConverter would. A value a transformation does not touch leaves as it came.
//!
//! - [`chain`]: the settings built once per instance: the transformation and its condition.
//! - [`record`]: the record a transformation works on, parsed only as far as needed.
//! - [`transforms`]: one file per transformation, and the dispatch on `type`.
//! - [`predicates`]: the three predicates.
//! - [`config`]: Connect's config value forms (lists, booleans) with errors naming the key.
//! - [`json`]: Java's renderings of numbers and values where Connect prints them.
//! - [`time`]: civil dates and Java's `SimpleDateFormat` patterns, in UTC.
//! - [`replacement`]: Java's regex replacement strings (`$1`, `${name}`).

pub mod chain;
pub mod config;
pub mod json;
pub mod predicates;
pub mod record;
pub mod replacement;
pub mod time;
pub mod transforms;

use weir_guest::prelude::*;

/// The header a routing transformation (RegexRouter, TimestampRouter) sets to the record's
/// new topic: the transform world carries no topic per record, so the host reads this
/// header, removes it and sends the record there.
pub const TOPIC_HEADER: &str = "weir.route.topic";

/// Runs the configured transformation over one record.
#[map]
fn transform(input: &Record, chain: &chain::Chain) -> Result<Option<OwnedRecord>> {
    chain.apply(input)
}
