//! `weir connector ...`: Kafka Connect's REST API from the command line (through the HTTP
//! API only). `create -f` takes Connect's JSON body (`{"name", "config"}`), a bare config
//! object, or a Connect `.properties` file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::client::Client;

/// `weir connector ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ConnectorCommand {
    /// Create a connector from a JSON body or a `.properties` file.
    Create {
        /// The file (`-` reads standard input as JSON).
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: PathBuf,
    },
    /// List connectors with their states.
    List,
    /// A connector's status (its state and its tasks', with failures' traces).
    Status {
        /// The connector.
        name: String,
    },
    /// Pause a connector (its tasks keep their resources).
    Pause {
        /// The connector.
        name: String,
    },
    /// Resume a paused or stopped connector.
    Resume {
        /// The connector.
        name: String,
    },
    /// Stop a connector (its tasks end; only now may its offsets change).
    Stop {
        /// The connector.
        name: String,
    },
    /// Restart a connector, and with --include-tasks its tasks.
    Restart {
        /// The connector.
        name: String,
        /// Restart the tasks too.
        #[arg(long)]
        include_tasks: bool,
        /// Only what failed.
        #[arg(long)]
        only_failed: bool,
    },
    /// Delete a connector.
    Delete {
        /// The connector.
        name: String,
    },
    /// A connector's offsets (source partitions and offsets, or a sink's topic partitions).
    Offsets {
        /// The connector.
        name: String,
    },
}

/// Parses a Connect `.properties` file: `key=value` or `key: value` lines, `#`/`!` comments,
/// `\` line continuations.
pub fn parse_properties(text: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut pending = String::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        if let Some(cont) = line.strip_suffix('\\') {
            pending.push_str(cont);
            continue;
        }
        pending.push_str(line);
        let entry = std::mem::take(&mut pending);
        let at = entry
            .find(['=', ':'])
            .with_context(|| format!("line {}: expected key=value", n + 1))?;
        let (k, v) = (entry[..at].trim(), entry[at + 1..].trim());
        if k.is_empty() {
            bail!("line {}: empty key", n + 1);
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// The `POST /connectors` body a file describes.
fn body_of(file: &PathBuf) -> anyhow::Result<Value> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading standard input")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
    };
    let is_properties =
        file.extension().is_some_and(|e| e == "properties") || !text.trim_start().starts_with('{');
    let config_body = |config: Value| -> anyhow::Result<Value> {
        let name = config
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string);
        match name {
            Some(name) => Ok(json!({"name": name, "config": config})),
            None => bail!("{}: the config has no \"name\"", file.display()),
        }
    };
    if is_properties {
        return config_body(json!(parse_properties(&text)?));
    }
    let v: Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", file.display()))?;
    if v.get("config").is_some() {
        Ok(v)
    } else {
        config_body(v)
    }
}

fn print(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// Runs one `weir connector` command.
pub fn run(client: &Client, cmd: ConnectorCommand) -> anyhow::Result<()> {
    use ConnectorCommand as C;
    match cmd {
        C::Create { file } => {
            let body = body_of(&file)?;
            let created: Value = client.post(&["connectors"], &body)?;
            print(&created);
        }
        C::List => {
            let all: Value = client.get(&["connectors"], &[("expand", "status".to_string())])?;
            if let Value::Object(m) = all {
                for (name, v) in m {
                    let st = &v["status"];
                    let tasks: Vec<String> = st["tasks"]
                        .as_array()
                        .map(|t| {
                            t.iter()
                                .map(|t| {
                                    format!("{}:{}", t["id"], t["state"].as_str().unwrap_or("?"))
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    println!(
                        "{name}\t{}\t{}\t{}",
                        st["type"].as_str().unwrap_or("?"),
                        st["connector"]["state"].as_str().unwrap_or("?"),
                        tasks.join(" ")
                    );
                }
            }
        }
        C::Status { name } => print(&client.get(&["connectors", &name, "status"], &[])?),
        C::Pause { name } => client
            .put::<Value>(&["connectors", &name, "pause"], &json!({}))
            .map(drop)?,
        C::Resume { name } => client
            .put::<Value>(&["connectors", &name, "resume"], &json!({}))
            .map(drop)?,
        C::Stop { name } => client
            .put::<Value>(&["connectors", &name, "stop"], &json!({}))
            .map(drop)?,
        C::Restart {
            name,
            include_tasks,
            only_failed,
        } => {
            let v: Value = client.post_query(
                &["connectors", &name, "restart"],
                &[
                    ("includeTasks", include_tasks.to_string()),
                    ("onlyFailed", only_failed.to_string()),
                ],
            )?;
            if !v.is_null() {
                print(&v);
            }
        }
        C::Delete { name } => client.delete(&["connectors", &name])?,
        C::Offsets { name } => print(&client.get(&["connectors", &name, "offsets"], &[])?),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_files_read_as_connect_writes_them() {
        let text = "# a comment\nname=local-file-source\nconnector.class : FileStreamSource\n\
                    tasks.max=1\nfile=/tmp/a \\\n  b.txt\n! other comment\ntopic=connect-test\n";
        let p = parse_properties(text).unwrap();
        assert_eq!(p["name"], "local-file-source");
        assert_eq!(p["connector.class"], "FileStreamSource");
        assert_eq!(p["file"], "/tmp/a b.txt");
        assert_eq!(p.len(), 5);
        assert!(parse_properties("novalue\n").is_err());
    }
}
