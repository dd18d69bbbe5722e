//! `weir topic`: create, list, describe, delete and grow topics.

use std::collections::BTreeMap;

use clap::Subcommand;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use super::client::Client;
use super::{parse_key_value, print_json, print_table};

/// The `weir topic` subcommands.
#[derive(Debug, Subcommand)]
pub enum TopicCommand {
    /// Create a topic.
    Create {
        /// Topic name.
        name: String,
        /// Number of partitions (default: the server's `topics.default_partitions`).
        #[arg(short, long, value_parser = clap::value_parser!(u32).range(1..))]
        partitions: Option<u32>,
        /// Topic config entry, e.g. `-c retention.ms=86400000`; repeat for more.
        #[arg(short = 'c', long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
        config: Vec<(String, String)>,
    },
    /// List topics and their partition counts.
    List {
        /// Print the server's JSON answer instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a topic's partitions (offsets, size, segments) and config.
    Describe {
        /// Topic name.
        name: String,
        /// Print the server's JSON answer instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Delete a topic and all its records.
    Delete {
        /// Topic name.
        name: String,
    },
    /// Change a live topic's config: set entries with -c, reset entries to the default with -r.
    Alter {
        /// Topic name.
        name: String,
        /// Config entry to set, e.g. `-c retention.ms=3600000`; repeat for more.
        #[arg(short = 'c', long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
        config: Vec<(String, String)>,
        /// Config entry to reset to the default, e.g. `-r retention.ms`; repeat for more.
        #[arg(short = 'r', long = "reset", value_name = "KEY")]
        reset: Vec<String>,
    },
    /// Grow a topic to COUNT partitions in total (like Kafka's CreatePartitions).
    ///
    /// COUNT is the new total, not the number to add: `add-partitions orders 6` on a topic with
    /// 4 partitions adds 2. Partitions can never be removed; keyed records may map to other
    /// partitions afterwards.
    AddPartitions {
        /// Topic name.
        name: String,
        /// The new total number of partitions; must be more than the topic has now.
        count: u32,
    },
}

/// One partition in `GET /v1/topics/{topic}`.
#[derive(Debug, Deserialize)]
pub struct PartitionInfo {
    /// Partition number.
    pub partition: u32,
    /// First offset still stored.
    pub log_start_offset: i64,
    /// Offset the next record will get.
    pub high_watermark: i64,
    #[serde(default)]
    size_bytes: u64,
    #[serde(default)]
    segments: u64,
}

/// The answer to `GET /v1/topics/{topic}`.
#[derive(Debug, Deserialize)]
pub struct TopicInfo {
    /// Topic name.
    pub name: String,
    /// Partitions in the order the server sent them.
    pub partitions: Vec<PartitionInfo>,
    #[serde(default)]
    config: BTreeMap<String, Value>,
}

/// Fetches a topic's partitions and config.
pub fn describe(client: &Client, name: &str) -> anyhow::Result<TopicInfo> {
    client.get(&["v1", "topics", name], &[])
}

/// Runs one `weir topic` subcommand.
pub fn run(client: &Client, command: TopicCommand) -> anyhow::Result<()> {
    match command {
        TopicCommand::Create {
            name,
            partitions,
            config,
        } => {
            let config: BTreeMap<String, String> = config.into_iter().collect();
            let mut body = json!({ "name": name, "config": config });
            if let Some(n) = partitions {
                body["partitions"] = json!(n);
            }
            let created: TopicInfo = client.post(&["v1", "topics"], &body)?;
            println!(
                "created topic {name} with {} partition(s)",
                created.partitions.len()
            );
        }
        TopicCommand::List { json } => list(client, json)?,
        TopicCommand::Describe { name, json } => {
            let raw: Value = client.get(&["v1", "topics", &name], &[])?;
            if json {
                print_json(&raw)?;
            } else {
                print_description(serde_json::from_value(raw)?)?;
            }
        }
        TopicCommand::Delete { name } => {
            client.delete(&["v1", "topics", &name])?;
            println!("deleted topic {name}");
        }
        TopicCommand::Alter {
            name,
            config,
            reset,
        } => {
            if config.is_empty() && reset.is_empty() {
                anyhow::bail!("nothing to change: give -c KEY=VALUE or -r KEY");
            }
            let mut changes: serde_json::Map<String, Value> = config
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            changes.extend(reset.into_iter().map(|k| (k, Value::Null)));
            let body = json!({ "config": changes });
            client.patch::<IgnoredAny>(&["v1", "topics", &name, "config"], &body)?;
            println!("altered config of topic {name}");
        }
        TopicCommand::AddPartitions { name, count } => {
            let body = json!({ "count": count });
            client.post::<IgnoredAny>(&["v1", "topics", &name, "partitions"], &body)?;
            println!("topic {name} now has {count} partitions");
        }
    }
    Ok(())
}

fn list(client: &Client, json: bool) -> anyhow::Result<()> {
    #[derive(Deserialize)]
    struct Topics {
        topics: Vec<Topic>,
    }
    #[derive(Deserialize)]
    struct Topic {
        name: String,
        partitions: u32,
    }
    let raw: Value = client.get(&["v1", "topics"], &[])?;
    if json {
        return print_json(&raw);
    }
    let Topics { mut topics } = serde_json::from_value(raw)?;
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    let rows: Vec<_> = topics
        .into_iter()
        .map(|t| [t.name, t.partitions.to_string()])
        .collect();
    print_table(["TOPIC", "PARTITIONS"], &rows)?;
    Ok(())
}

fn print_description(topic: TopicInfo) -> anyhow::Result<()> {
    use std::io::Write as _;
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "topic {} ({} partitions)",
            topic.name,
            topic.partitions.len()
        )?;
        if !topic.config.is_empty() {
            writeln!(out, "config:")?;
            for (key, value) in &topic.config {
                // Strings without their quotes; numbers and the rest as JSON.
                let value = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                writeln!(out, "  {key} = {value}")?;
            }
        }
        writeln!(out)?;
    }
    let rows: Vec<_> = topic
        .partitions
        .iter()
        .map(|p| {
            [
                p.partition.to_string(),
                p.log_start_offset.to_string(),
                p.high_watermark.to_string(),
                p.size_bytes.to_string(),
                p.segments.to_string(),
            ]
        })
        .collect();
    print_table(
        [
            "PARTITION",
            "LOG-START",
            "HIGH-WATERMARK",
            "BYTES",
            "SEGMENTS",
        ],
        &rows,
    )?;
    Ok(())
}
