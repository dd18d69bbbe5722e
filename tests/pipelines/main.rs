//! Pipelines end to end through HTTP: modules, filters in Rust and Python, hot-swap under
//! continuous production, automatic rollback, a stateful counter across restart and swap,
//! dead letters, and specs refused with the field named.
//!
//! - [`filters`]: filters uploaded over HTTP and driven by kcat; refusals naming the problem.
//! - [`swap`]: hot-swap under production, automatic rollback.
//! - [`state`]: a stateful counter across restart and swap, queried.
//! - [`errors`]: dead letters and skip counts.
//! - [`cli`]: the CLI drives modules and pipelines.
//! - [`playground`]: a module run over typed or topic records, apart from pipelines.
//! - [`live`]: what the console watches: sampled figures, dead letters, the log followed.

#[path = "../common/mod.rs"]
mod common;

mod cli;
mod errors;
mod filters;
mod live;
mod playground;
mod state;
mod swap;

use serde_json::{Value, json};

pub(crate) fn filter_spec(
    name: &str,
    module: &str,
    pattern: &str,
    input: &str,
    output: &str,
) -> Value {
    json!({
        "name": name,
        "inputs": [input],
        "output": output,
        "steps": [{"module": module, "config": {"pattern": pattern}}],
        "start": "earliest",
    })
}
