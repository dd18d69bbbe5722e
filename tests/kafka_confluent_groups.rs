//! confluent-kafka (librdkafka) groups and fetch as Kafka does them: a static
//! member (KIP-345) restarted within its session timeout gets its partitions
//! back and nobody else is revoked; cooperative-sticky members (KIP-429) give
//! up only what moves; a consumer whose fetch limits are below one batch still
//! reads everything. Each on the pinned confluent-kafka and on the newest.
mod common;

use common::{Install, Server, create_topic, run_client_on};
use serde_json::json;

const SCRIPT: &str = "confluent_groups.py";

fn a_restarted_static_member_gets_its_partitions_back_without_revoking_others(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    create_topic(&server, "steady", 4);
    let out = run_client_on(
        install,
        "python",
        SCRIPT,
        &["static", &server.kafka, "steady", "4"],
    );
    assert_eq!(
        out["after"], out["before"],
        "same partitions for both: {out}"
    );
    assert_eq!(
        out["a_callbacks_after"], out["a_callbacks_before"],
        "the other member saw no revocation or reassignment: {out}"
    );
    assert_eq!(out["b2_assigned"], json!([out["before"]["b"]]), "{out}");
}

fn cooperative_members_give_up_only_the_partitions_that_move(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    create_topic(&server, "shared", 4);
    let out = run_client_on(
        install,
        "python",
        SCRIPT,
        &["cooperative", &server.kafka, "shared", "4"],
    );
    // The first member was assigned everything once (later rounds assign it
    // nothing new), then revoked only what the second member took.
    let a_assigned: Vec<&serde_json::Value> = out["a_assigned"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a.as_array().is_some_and(|a| !a.is_empty()))
        .collect();
    assert_eq!(a_assigned, [&json!([0, 1, 2, 3])], "{out}");
    assert_eq!(out["a_revoked"], json!([out["b"]]), "{out}");
    assert_eq!(out["b_revoked"], json!([]), "{out}");
    // KIP-429's two rounds and no more: the newcomer gets nothing while the
    // partitions it will own are revoked, then gets them (librdkafka may or may not
    // call on_assign for the empty first round, depending on when the member polls).
    let b_assigned = out["b_assigned"].as_array().unwrap();
    let b_nonempty: Vec<&serde_json::Value> = b_assigned
        .iter()
        .filter(|a| a.as_array().is_some_and(|a| !a.is_empty()))
        .collect();
    assert_eq!(b_nonempty, [&out["b"]], "{out}");
    assert!(b_assigned.len() <= 2, "{out}");
    assert!(out["a_assigned"].as_array().unwrap().len() <= 3, "{out}");
}

fn a_consumer_with_fetch_limits_below_one_batch_reads_everything(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    create_topic(&server, "large", 3);
    let out = run_client_on(
        install,
        "python",
        SCRIPT,
        &["small-fetch", &server.kafka, "large", "30", "20000"],
    );
    assert_eq!(out["consumed"], 30, "{out}");
    assert_eq!(out["distinct"], 30, "{out}");
}

crate::on_both_installs!(
    a_restarted_static_member_gets_its_partitions_back_without_revoking_others,
    cooperative_members_give_up_only_the_partitions_that_move,
    a_consumer_with_fetch_limits_below_one_batch_reads_everything,
);
