//! `weir module push|list|versions|delete`: the module registry over HTTP.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use serde_json::Value;

use super::client::Client;
use super::{print_json, print_table};

/// The `weir module` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModuleCommand {
    /// Upload a Wasm component as the next version of a module (the same bytes again
    /// answer with the existing version).
    Push {
        /// The component file (.wasm).
        file: PathBuf,
        /// Module name; defaults to the file's stem.
        #[arg(long)]
        name: Option<String>,
        /// Print the server's JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// List every module version.
    List {
        /// Print the server's JSON answer instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete one version of a module (refused while a pipeline runs it).
    Delete {
        /// `name@version`.
        module: String,
    },
}

fn module_rows(modules: &[Value]) -> Vec<[String; 5]> {
    modules
        .iter()
        .map(|m| {
            let s = |k: &str| match &m[k] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            [
                s("name"),
                s("version"),
                s("world"),
                s("size"),
                s("digest").chars().take(16).collect(),
            ]
        })
        .collect()
}

/// Runs one `weir module` subcommand.
pub fn run(client: &Client, command: ModuleCommand) -> anyhow::Result<()> {
    match command {
        ModuleCommand::Push { file, name, json } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let name = match name {
                Some(n) => n,
                None => file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .context("give the module a name with --name")?,
            };
            let raw: Value =
                client.post_bytes(&["v1", "modules", &name], bytes, "application/wasm")?;
            if json {
                return print_json(&raw);
            }
            println!(
                "{}@{} ({}, {} bytes, sha256 {})",
                raw["name"].as_str().unwrap_or_default(),
                raw["version"],
                raw["world"].as_str().unwrap_or_default(),
                raw["size"],
                raw["digest"].as_str().unwrap_or_default()
            );
        }
        ModuleCommand::List { json } => {
            let raw: Value = client.get(&["v1", "modules"], &[])?;
            if json {
                return print_json(&raw);
            }
            let modules = raw["modules"].as_array().cloned().unwrap_or_default();
            print_table(
                ["NAME", "VERSION", "WORLD", "SIZE", "DIGEST"],
                &module_rows(&modules),
            )?;
        }
        ModuleCommand::Delete { module } => {
            let (name, version) = module
                .split_once('@')
                .context("name the version to delete as name@version")?;
            client.delete(&["v1", "modules", name, version])?;
            println!("deleted {name}@{version}");
        }
    }
    Ok(())
}
