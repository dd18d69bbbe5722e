//! `weir pipeline create|list|status|swap|pause|resume|delete|logs|state`: pipelines over
//! HTTP.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Subcommand;
use serde_json::{Value, json};

use super::client::Client;
use super::{print_json, print_table};

/// The `weir pipeline` subcommands.
#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// Create a pipeline from a spec file (JSON or YAML; `-` reads stdin).
    Create {
        /// The spec file.
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// Print the server's JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// List pipelines with their state, lag and counters.
    List {
        /// Print the server's JSON answer instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a pipeline: modules, history, and per task offsets, lag and counters.
    Status {
        /// Pipeline name.
        name: String,
        /// Print the server's JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// Deploy another module version on a running pipeline (hot-swap), keeping its state.
    Swap {
        /// Pipeline name.
        name: String,
        /// `name@version` (or `name` for the newest) for a step; repeat for several steps
        /// in order. A pipeline with one step takes one.
        #[arg(long = "module", required = true)]
        modules: Vec<String>,
        /// Print the server's JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// Pause a pipeline after its current batches.
    Pause {
        /// Pipeline name.
        name: String,
    },
    /// Resume a paused pipeline (or restart tasks stopped by an error).
    Resume {
        /// Pipeline name.
        name: String,
    },
    /// Delete a pipeline with its state.
    Delete {
        /// Pipeline name.
        name: String,
    },
    /// Print a pipeline's recent plugin and host log lines.
    Logs {
        /// Pipeline name.
        name: String,
        /// How many lines.
        #[arg(long, default_value_t = 100)]
        tail: usize,
    },
    /// Print a step's committed state for a key: a count or sum step's value, or a
    /// windowed one's windows (start, end, value); a module step's stored value.
    State {
        /// Pipeline name.
        name: String,
        /// The step: its name, index or module name.
        step: String,
        /// The key.
        #[arg(long)]
        key: String,
        /// Windowed steps: windows from this time on, ms since the epoch.
        #[arg(long)]
        from: Option<i64>,
        /// Windowed steps: windows up to this time, ms since the epoch.
        #[arg(long)]
        to: Option<i64>,
        /// Print the server's JSON answer.
        #[arg(long)]
        json: bool,
    },
}

/// Reads a spec in JSON or YAML.
fn read_spec(file: &PathBuf) -> anyhow::Result<Value> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading the spec from stdin")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
    };
    spec_from_text(&text, &file.display().to_string())
}

/// A spec's text, JSON or YAML, as a JSON value; `source` names it in errors. Public (and
/// hidden) for the fuzz tests, which feed it mutated specs (tests/fuzz/spec.rs).
#[doc(hidden)]
pub fn spec_from_text(text: &str, source: &str) -> anyhow::Result<Value> {
    match serde_json::from_str(text) {
        Ok(v) => Ok(v),
        Err(json_err) => {
            yaml_depth_within_limit(text, source)?;
            let docs = yaml_rust2::YamlLoader::load_from_str(text).map_err(|yaml_err| {
                anyhow::anyhow!("{source} is neither JSON ({json_err}) nor YAML ({yaml_err})")
            })?;
            match docs.as_slice() {
                [doc] => yaml_to_json(doc).map_err(|e| anyhow::anyhow!("{source}: {e}")),
                _ => bail!("{source} must hold exactly one YAML document"),
            }
        }
    }
}

/// Deepest nesting a YAML spec may have: serde_json's limit for the same spec as JSON.
const MAX_YAML_DEPTH: usize = 128;

/// Refuses YAML nested deeper than [`MAX_YAML_DEPTH`] before it is loaded: block YAML
/// (`- - - ...`) nests without limit, and yaml-rust2's loader (like [`yaml_to_json`]) recurses
/// once per level, so a deep file overflowed the stack instead of being refused. The parser's
/// events come from a state machine, not recursion, so counting them is safe at any depth.
/// A syntax error is left for the loader to report.
fn yaml_depth_within_limit(text: &str, source: &str) -> anyhow::Result<()> {
    use yaml_rust2::parser::{Event, Parser};
    let mut parser = Parser::new_from_str(text);
    let mut depth = 0usize;
    loop {
        match parser.next_token() {
            Ok((Event::StreamEnd, _)) | Err(_) => return Ok(()),
            Ok((Event::SequenceStart(..) | Event::MappingStart(..), _)) => {
                depth += 1;
                if depth > MAX_YAML_DEPTH {
                    bail!("{source} nests deeper than {MAX_YAML_DEPTH} levels");
                }
            }
            Ok((Event::SequenceEnd | Event::MappingEnd, _)) => depth = depth.saturating_sub(1),
            Ok(_) => {}
        }
    }
}

/// A YAML value as JSON; keys must be scalars.
fn yaml_to_json(y: &yaml_rust2::Yaml) -> anyhow::Result<Value> {
    use yaml_rust2::Yaml;
    Ok(match y {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => json!(b),
        Yaml::Integer(i) => json!(i),
        Yaml::Real(r) => match r.parse::<f64>() {
            Ok(f) => json!(f),
            Err(_) => json!(r),
        },
        Yaml::String(s) => json!(s),
        Yaml::Array(items) => {
            Value::Array(items.iter().map(yaml_to_json).collect::<Result<_, _>>()?)
        }
        Yaml::Hash(map) => {
            let mut obj = serde_json::Map::new();
            for (k, v) in map {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    other => bail!("unsupported YAML key {other:?}"),
                };
                obj.insert(key, yaml_to_json(v)?);
            }
            Value::Object(obj)
        }
        other => bail!("unsupported YAML value {other:?}"),
    })
}

fn print_status(s: &Value) -> anyhow::Result<()> {
    let modules: Vec<String> = s["modules"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| match m["world"].as_str().unwrap_or_default() {
            // A built-in aggregation (count, sum): no module, no version.
            "streams" => format!("{} (built in)", m["module"].as_str().unwrap_or_default()),
            world => format!(
                "{}@{} ({world})",
                m["module"].as_str().unwrap_or_default(),
                m["version"],
            ),
        })
        .collect();
    println!("pipeline  {}", s["name"].as_str().unwrap_or_default());
    println!("state     {}", s["state"].as_str().unwrap_or_default());
    println!("steps     {}", modules.join(" → "));
    println!(
        "records   in {}  out {}  errored {}  late {}  lag {}",
        s["records_in"],
        s["records_out"],
        s["records_errored"],
        s["late_records"].as_u64().unwrap_or(0),
        s["lag"]
    );
    println!("swaps     {}  rollbacks {}", s["swaps"], s["rollbacks"]);
    if let Some(why) = s["last_rollback"].as_str() {
        println!("rollback  {why}");
    }
    let rows: Vec<[String; 7]> = s["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            [
                t["partition"].to_string(),
                t["state"].as_str().unwrap_or_default().to_string(),
                t["committed_offset"].to_string(),
                t["lag"].to_string(),
                t["records_in"].to_string(),
                t["records_out"].to_string(),
                match (t["last_error_code"].as_str(), t["last_error"].as_str()) {
                    (Some(code), Some(e)) => format!("[{code}] {e}"),
                    (None, Some(e)) => e.to_string(),
                    _ => "-".to_string(),
                },
            ]
        })
        .collect();
    println!();
    print_table(
        [
            "PARTITION",
            "STATE",
            "COMMITTED",
            "LAG",
            "IN",
            "OUT",
            "LAST-ERROR",
        ],
        &rows,
    )?;
    Ok(())
}

/// Runs one `weir pipeline` subcommand.
pub fn run(client: &Client, command: PipelineCommand) -> anyhow::Result<()> {
    match command {
        PipelineCommand::Create { file, json } => {
            let spec = read_spec(&file)?;
            let raw: Value = client.post(&["v1", "pipelines"], &spec)?;
            if json {
                return print_json(&raw);
            }
            print_status(&raw)?;
        }
        PipelineCommand::List { json } => {
            let raw: Value = client.get(&["v1", "pipelines"], &[])?;
            if json {
                return print_json(&raw);
            }
            let rows: Vec<[String; 6]> = raw["pipelines"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let steps: Vec<String> = p["modules"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|m| {
                            format!(
                                "{}@{}",
                                m["module"].as_str().unwrap_or_default(),
                                m["version"]
                            )
                        })
                        .collect();
                    [
                        p["name"].as_str().unwrap_or_default().to_string(),
                        p["state"].as_str().unwrap_or_default().to_string(),
                        steps.join(","),
                        p["lag"].to_string(),
                        p["records_in"].to_string(),
                        p["records_out"].to_string(),
                    ]
                })
                .collect();
            print_table(["NAME", "STATE", "STEPS", "LAG", "IN", "OUT"], &rows)?;
        }
        PipelineCommand::Status { name, json } => {
            let raw: Value = client.get(&["v1", "pipelines", &name], &[])?;
            if json {
                return print_json(&raw);
            }
            print_status(&raw)?;
        }
        PipelineCommand::Swap {
            name,
            modules,
            json,
        } => {
            let current: Value = client.get(&["v1", "pipelines", &name], &[])?;
            let mut spec = current["spec"].clone();
            let steps = spec["steps"]
                .as_array_mut()
                .context("unexpected answer from weir")?;
            if modules.len() != steps.len() {
                bail!(
                    "pipeline {name} has {} steps; give --module once per step, in order",
                    steps.len()
                );
            }
            for (step, module) in steps.iter_mut().zip(&modules) {
                step["module"] = json!(module);
            }
            let raw: Value = client.put(&["v1", "pipelines", &name], &spec)?;
            if json {
                return print_json(&raw);
            }
            println!("deployed {} on {name}", modules.join(", "));
        }
        PipelineCommand::Pause { name } => {
            let _: Value = client.post(&["v1", "pipelines", &name, "pause"], &json!({}))?;
            println!("paused {name}");
        }
        PipelineCommand::Resume { name } => {
            let _: Value = client.post(&["v1", "pipelines", &name, "resume"], &json!({}))?;
            println!("resumed {name}");
        }
        PipelineCommand::Delete { name } => {
            client.delete(&["v1", "pipelines", &name])?;
            println!("deleted {name}");
        }
        PipelineCommand::Logs { name, tail } => {
            let raw: Value = client.get(
                &["v1", "pipelines", &name, "logs"],
                &[("tail", tail.to_string())],
            )?;
            for line in raw["lines"].as_array().into_iter().flatten() {
                println!("{}", line.as_str().unwrap_or_default());
            }
        }
        PipelineCommand::State {
            name,
            step,
            key,
            from,
            to,
            json,
        } => {
            let mut query = vec![("key", key)];
            query.extend(from.map(|t| ("from", t.to_string())));
            query.extend(to.map(|t| ("to", t.to_string())));
            let raw: Value = client.get(&["v1", "pipelines", &name, "state", &step], &query)?;
            if json {
                return print_json(&raw);
            }
            let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
            match raw.as_array() {
                Some(windows) => {
                    let rows: Vec<[String; 3]> = windows
                        .iter()
                        .map(|w| {
                            [
                                w["start"].to_string(),
                                w["end"].to_string(),
                                text(&w["value"]),
                            ]
                        })
                        .collect();
                    print_table(["START", "END", "VALUE"], &rows)?;
                }
                None => println!("{}", text(&raw["value"])),
            }
        }
    }
    Ok(())
}
