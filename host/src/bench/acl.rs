//! `weir bench acl`: what the per-request ACL check costs as ACLs accumulate.
//!
//! Every Kafka request asks the `Authorizer` once per resource (a produce of 10
//! topics asks 10 times), every HTTP request once. The check scans the in-memory
//! bindings (see ARCHITECTURE.md, "ACLs"), so its cost grows with their number: the
//! table gives checks per second and nanoseconds per check for a user whose one
//! matching ALLOW is among N bindings of other users (literal and prefixed), with a
//! super user (no scan) as the floor.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use anyhow::Context;

use crate::auth::{
    AclBinding, AclStore, Authorizer, Operation, PatternType, Permission, Principal, Resource,
    ResourceType,
};
use crate::broker::{Broker, BrokerConfig};
use crate::log::FlushPolicy;

/// Options of `weir bench acl`.
#[derive(Debug, Clone, clap::Args)]
pub struct AclBenchOptions {
    /// Checks timed per case.
    #[arg(long, default_value_t = 200_000)]
    pub checks: u64,
}

fn binding(user: usize, i: usize) -> AclBinding {
    AclBinding {
        resource_type: ResourceType::Topic,
        resource_name: format!("topic-{i}"),
        pattern_type: if i.is_multiple_of(2) {
            PatternType::Literal
        } else {
            PatternType::Prefixed
        },
        principal: format!("User:u{user}"),
        host: "*".into(),
        operation: Operation::Read,
        permission: Permission::Allow,
    }
}

/// Runs the benchmark and prints a Markdown table.
pub fn run_acl_bench(opts: &AclBenchOptions) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating a scratch directory")?;
    let host = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let resource = Resource::topic("orders");
    println!("| ACLs | principal | checks/s | ns/check |");
    println!("|---|---|---|---|");
    for (i, n) in [0usize, 100, 1_000, 10_000].into_iter().enumerate() {
        let broker = Broker::open(BrokerConfig {
            data_dir: dir.path().join(format!("case-{i}")),
            flush: FlushPolicy::Os,
            index_interval_bytes: 4096,
            topic_defaults: Default::default(),
            limits: Default::default(),
        })?;
        let authz = Authorizer::new(AclStore::open(&broker, n + 1)?, vec!["User:root".into()]);
        let mut bindings: Vec<AclBinding> = (0..n).map(|i| binding(i % 50, i)).collect();
        let mut mine = binding(0, 0);
        mine.principal = "User:alice".into();
        mine.resource_name = "orders".into();
        mine.pattern_type = PatternType::Literal;
        bindings.push(mine);
        authz.add(&bindings)?;
        for who in ["alice", "root"] {
            let principal = Principal::User(who.into());
            let start = Instant::now();
            for _ in 0..opts.checks {
                black_box(authz.allows(&principal, host, Operation::Read, black_box(&resource)));
            }
            let elapsed = start.elapsed().as_secs_f64();
            let label = if who == "root" {
                "super user"
            } else {
                "user with one match"
            };
            println!(
                "| {} | {label} | {:.0} | {:.0} |",
                n + 1,
                opts.checks as f64 / elapsed,
                elapsed * 1e9 / opts.checks as f64
            );
        }
        broker.close()?;
    }
    Ok(())
}
