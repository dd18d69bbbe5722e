//! `weir acl add|list|remove`: ACLs in Kafka's model over `/v1/acls`, spelled like
//! Kafka's `kafka-acls.sh` (`--allow-principal User:alice --operation READ --topic t`).

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::client::Client;
use super::{print_json, print_table};

/// The resource an ACL names: one of the flags, as in `kafka-acls.sh`.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct ResourceArgs {
    /// A topic (or prefix with --prefixed; `*` is every topic).
    #[arg(long)]
    topic: Option<String>,
    /// A consumer group.
    #[arg(long)]
    group: Option<String>,
    /// The cluster (users, tokens, ACLs, topic creation, …).
    #[arg(long)]
    cluster: bool,
    /// A transactional id.
    #[arg(long)]
    transactional_id: Option<String>,
    /// A Wasm module.
    #[arg(long)]
    module: Option<String>,
    /// A pipeline.
    #[arg(long)]
    pipeline: Option<String>,
    /// A connector.
    #[arg(long)]
    connector: Option<String>,
}

impl ResourceArgs {
    /// `(resource_type, resource_name)`, if a resource was named.
    fn resource(&self) -> Option<(&'static str, String)> {
        let named = [
            ("TOPIC", &self.topic),
            ("GROUP", &self.group),
            ("TRANSACTIONAL_ID", &self.transactional_id),
            ("MODULE", &self.module),
            ("PIPELINE", &self.pipeline),
            ("CONNECTOR", &self.connector),
        ];
        if self.cluster {
            return Some(("CLUSTER", "kafka-cluster".into()));
        }
        named
            .into_iter()
            .find_map(|(kind, name)| name.clone().map(|n| (kind, n)))
    }
}

/// The `weir acl` subcommands.
#[derive(Debug, Subcommand)]
pub enum AclCommand {
    /// Add an ACL: `weir acl add --principal User:alice --operation READ --topic orders`.
    Add {
        #[command(flatten)]
        resource: ResourceArgs,
        /// The name is a prefix (PREFIXED) rather than the exact name (LITERAL).
        #[arg(long)]
        prefixed: bool,
        /// Who: `User:NAME`, or `User:*` for every user.
        #[arg(long)]
        principal: String,
        /// READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS,
        /// ALTER_CONFIGS, IDEMPOTENT_WRITE, CLUSTER_ACTION or ALL.
        #[arg(long)]
        operation: String,
        /// Deny instead of allow (a DENY wins over every ALLOW).
        #[arg(long)]
        deny: bool,
        /// The client host it applies to (an IP address); default every host.
        #[arg(long, default_value = "*")]
        host: String,
    },
    /// List ACLs, optionally only those of a resource and/or principal.
    List {
        #[command(flatten)]
        resource: ResourceArgs,
        /// Only this principal's.
        #[arg(long)]
        principal: Option<String>,
        /// Print the server's JSON answer instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove the ACLs matching a filter (at least one of the options).
    Remove {
        #[command(flatten)]
        resource: ResourceArgs,
        /// Only PREFIXED ACLs (default: LITERAL and PREFIXED alike).
        #[arg(long)]
        prefixed: bool,
        /// Only this principal's.
        #[arg(long)]
        principal: Option<String>,
        /// Only this operation's.
        #[arg(long)]
        operation: Option<String>,
    },
}

fn field(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

/// Runs one `weir acl` subcommand.
pub fn run(client: &Client, command: AclCommand) -> anyhow::Result<()> {
    match command {
        AclCommand::Add {
            resource,
            prefixed,
            principal,
            operation,
            deny,
            host,
        } => {
            let Some((kind, name)) = resource.resource() else {
                anyhow::bail!(
                    "name the resource: --topic, --group, --cluster, --transactional-id, \
                     --module, --pipeline or --connector"
                );
            };
            let body = json!({
                "resource_type": kind,
                "resource_name": name,
                "pattern_type": if prefixed { "PREFIXED" } else { "LITERAL" },
                "principal": principal,
                "host": host,
                "operation": operation,
                "permission": if deny { "DENY" } else { "ALLOW" },
            });
            let _: Value = client.post(&["v1", "acls"], &body)?;
            let verb = if deny { "denied" } else { "allowed" };
            println!("{verb} {principal} {operation} on {kind} {name}");
        }
        AclCommand::List {
            resource,
            principal,
            json,
        } => {
            let mut query = Vec::new();
            if let Some((kind, name)) = resource.resource() {
                query.push(("resource_type", kind.to_string()));
                query.push(("resource_name", name));
            }
            if let Some(p) = principal {
                query.push(("principal", p));
            }
            let raw: Value = client.get(&["v1", "acls"], &query)?;
            if json {
                return print_json(&raw);
            }
            let acls = raw["acls"].as_array().cloned().unwrap_or_default();
            let rows: Vec<[String; 7]> = acls
                .iter()
                .map(|a| {
                    [
                        field(a, "principal"),
                        field(a, "permission"),
                        field(a, "operation"),
                        field(a, "resource_type"),
                        field(a, "resource_name"),
                        field(a, "pattern_type"),
                        field(a, "host"),
                    ]
                })
                .collect();
            print_table(
                [
                    "PRINCIPAL",
                    "PERMISSION",
                    "OPERATION",
                    "TYPE",
                    "NAME",
                    "PATTERN",
                    "HOST",
                ],
                &rows,
            )?;
        }
        AclCommand::Remove {
            resource,
            prefixed,
            principal,
            operation,
        } => {
            let mut query = Vec::new();
            if let Some((kind, name)) = resource.resource() {
                query.push(("resource_type", kind.to_string()));
                query.push(("resource_name", name));
            }
            if prefixed {
                query.push(("pattern_type", "PREFIXED".to_string()));
            }
            if let Some(p) = principal {
                query.push(("principal", p));
            }
            if let Some(o) = operation {
                query.push(("operation", o));
            }
            if query.is_empty() {
                anyhow::bail!("name what to remove: a resource, --principal or --operation");
            }
            let raw: Value = client.delete_query(&["v1", "acls"], &query)?;
            let n = raw["deleted"].as_array().map_or(0, Vec::len);
            println!("removed {n} ACL(s)");
        }
    }
    Ok(())
}
