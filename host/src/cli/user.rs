//! `weir user add|list|delete` and `weir token create|list|revoke`: users and the HTTP
//! API's bearer tokens, over `/v1/users` and `/v1/tokens`.

use std::io::BufRead;

use anyhow::{Context as _, bail};
use clap::Subcommand;
use serde_json::{Value, json};

use super::client::Client;
use super::{print_json, print_table};

/// The `weir user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user with SCRAM-SHA-256/512 credentials (the password is not stored).
    /// While no users exist, the first one can be added from loopback without
    /// credentials; from then on every request must authenticate.
    Add {
        /// The user's name.
        name: String,
        /// The password; without it, the first line of stdin.
        #[arg(long)]
        password: Option<String>,
    },
    /// List users.
    List {
        /// Print the server's JSON answer instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete a user (its tokens are revoked with it).
    Delete {
        /// The user's name.
        name: String,
    },
}

/// The `weir token` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a bearer token for a user and print it (only this once), for
    /// `--token` / `WEIR_TOKEN` or `Authorization: Bearer`.
    Create {
        /// The user the token authenticates as.
        #[arg(long)]
        user: String,
        /// Print the server's JSON answer (with the token's id).
        #[arg(long)]
        json: bool,
    },
    /// List tokens (their ids and users, never the tokens).
    List {
        /// Print the server's JSON answer instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id.
    Revoke {
        /// The token's id (from `weir token list`).
        id: String,
    },
}

/// The first line of stdin, without its line end: a password kept out of the
/// process list and shell history.
fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        bail!("no password: give --password or one line on stdin");
    }
    Ok(password)
}

fn field(v: &Value, key: &str) -> String {
    match &v[key] {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

/// Runs one `weir user` subcommand.
pub fn run_user(client: &Client, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add { name, password } => {
            let password = match password {
                Some(p) => p,
                None => password_from_stdin()?,
            };
            let _: Value = client.post(
                &["v1", "users"],
                &json!({"name": name, "password": password}),
            )?;
            println!("added user {name}");
        }
        UserCommand::List { json } => {
            let raw: Value = client.get(&["v1", "users"], &[])?;
            if json {
                return print_json(&raw);
            }
            let users = raw["users"].as_array().cloned().unwrap_or_default();
            let rows: Vec<[String; 2]> = users
                .iter()
                .map(|u| [field(u, "name"), field(u, "mechanisms")])
                .collect();
            print_table(["NAME", "MECHANISMS"], &rows)?;
        }
        UserCommand::Delete { name } => {
            client.delete(&["v1", "users", &name])?;
            println!("deleted user {name}");
        }
    }
    Ok(())
}

/// Runs one `weir token` subcommand.
pub fn run_token(client: &Client, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { user, json } => {
            let raw: Value = client.post(&["v1", "tokens"], &json!({"user": user}))?;
            if json {
                return print_json(&raw);
            }
            // The token alone on stdout: `export WEIR_TOKEN=$(weir token create --user U)`.
            println!("{}", field(&raw, "token"));
        }
        TokenCommand::List { json } => {
            let raw: Value = client.get(&["v1", "tokens"], &[])?;
            if json {
                return print_json(&raw);
            }
            let tokens = raw["tokens"].as_array().cloned().unwrap_or_default();
            let rows: Vec<[String; 3]> = tokens
                .iter()
                .map(|t| [field(t, "id"), field(t, "user"), field(t, "created_ms")])
                .collect();
            print_table(["ID", "USER", "CREATED_MS"], &rows)?;
        }
        TokenCommand::Revoke { id } => {
            client.delete(&["v1", "tokens", &id])?;
            println!("revoked token {id}");
        }
    }
    Ok(())
}
