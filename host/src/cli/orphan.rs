//! `weir orphans`: log directories the server's metadata does not list (lost or restored
//! metadata): list them, adopt one as a topic again, or delete one for good.

use clap::Subcommand;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

use super::client::Client;
use super::{print_json, print_table};

/// The `weir orphans` subcommands.
#[derive(Debug, Subcommand)]
pub enum OrphanCommand {
    /// List orphaned log directories with their partitions and size.
    List {
        /// Print the server's JSON answer instead.
        #[arg(long)]
        json: bool,
    },
    /// Make an orphan a topic again, its records and offsets as they are (default config).
    Adopt {
        /// The orphan's (topic's) name.
        name: String,
    },
    /// Delete an orphan's directory and every record in it.
    Delete {
        /// The orphan's (topic's) name.
        name: String,
    },
}

#[derive(Debug, Deserialize)]
struct Orphans {
    orphans: Vec<Orphan>,
}

#[derive(Debug, Deserialize)]
struct Orphan {
    topic: String,
    partitions: Vec<u32>,
    bytes: u64,
}

/// Runs one `weir orphans` subcommand.
pub fn run(client: &Client, command: OrphanCommand) -> anyhow::Result<()> {
    match command {
        OrphanCommand::List { json } => {
            let raw: Value = client.get(&["v1", "orphans"], &[])?;
            if json {
                return print_json(&raw);
            }
            let Orphans { orphans } = serde_json::from_value(raw)?;
            let rows: Vec<[String; 3]> = orphans
                .into_iter()
                .map(|o| [o.topic, o.partitions.len().to_string(), o.bytes.to_string()])
                .collect();
            print_table(["TOPIC", "PARTITIONS", "BYTES"], &rows)?;
        }
        OrphanCommand::Adopt { name } => {
            client
                .post::<IgnoredAny>(&["v1", "orphans", &name, "adopt"], &serde_json::json!({}))?;
            println!("adopted {name}: it is a topic again");
        }
        OrphanCommand::Delete { name } => {
            client.delete(&["v1", "orphans", &name])?;
            println!("deleted orphaned log directory {name}");
        }
    }
    Ok(())
}
