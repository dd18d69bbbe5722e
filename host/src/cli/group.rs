//! `weir group`: list consumer groups and show their committed offsets and lag.

use std::io::Write as _;

use anyhow::Context as _;
use clap::Subcommand;
use serde::Deserialize;
use serde_json::Value;

use super::client::Client;
use super::{print_json, print_table};

/// The `weir group` subcommands.
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// List consumer groups, one per line.
    List {
        /// Print the server's JSON answer instead.
        #[arg(long)]
        json: bool,
    },
    /// Show a group's committed offset and lag for each partition it has committed.
    Describe {
        /// Group id.
        group: String,
        /// Print the server's JSON answer instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// One partition's entry in `GET /v1/groups/{group}`.
#[derive(Debug, Deserialize)]
pub struct GroupOffset {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: u32,
    /// The next offset the group will read (Kafka semantics); `None` if never committed.
    pub committed_offset: Option<i64>,
    #[serde(default)]
    high_watermark: Option<i64>,
    #[serde(default)]
    lag: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct GroupInfo {
    offsets: Vec<GroupOffset>,
}

/// Fetches a group's committed offsets; a group the server does not know has none.
pub fn committed_offsets(client: &Client, group: &str) -> anyhow::Result<Vec<GroupOffset>> {
    match client.get::<GroupInfo>(&["v1", "groups", group], &[]) {
        Ok(info) => Ok(info.offsets),
        Err(err) if super::client::ApiError::has_status(&err, reqwest::StatusCode::NOT_FOUND) => {
            Ok(Vec::new())
        }
        Err(err) => Err(err),
    }
}

/// Runs one `weir group` subcommand.
pub fn run(client: &Client, command: GroupCommand) -> anyhow::Result<()> {
    match command {
        GroupCommand::List { json } => {
            #[derive(Deserialize)]
            struct Groups {
                groups: Vec<Group>,
            }
            #[derive(Deserialize)]
            struct Group {
                group: String,
            }
            let raw: Value = client.get(&["v1", "groups"], &[])?;
            if json {
                return print_json(&raw);
            }
            let Groups { groups } =
                serde_json::from_value(raw).context("unexpected answer from weir")?;
            let mut out = std::io::stdout().lock();
            for Group { group } in groups {
                writeln!(out, "{group}")?;
            }
            out.flush()?;
        }
        GroupCommand::Describe { group, json } => {
            let raw: Value = client.get(&["v1", "groups", &group], &[])?;
            if json {
                return print_json(&raw);
            }
            let GroupInfo { mut offsets } =
                serde_json::from_value(raw).context("unexpected answer from weir")?;
            offsets.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
            let show = |n: Option<i64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
            let rows: Vec<_> = offsets
                .into_iter()
                .map(|o| {
                    [
                        o.topic,
                        o.partition.to_string(),
                        show(o.committed_offset),
                        show(o.high_watermark),
                        show(o.lag),
                    ]
                })
                .collect();
            print_table(
                ["TOPIC", "PARTITION", "COMMITTED", "HIGH-WATERMARK", "LAG"],
                &rows,
            )?;
        }
    }
    Ok(())
}
