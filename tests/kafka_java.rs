//! Kafka's own Java client (kafka-clients, the strictest of the clients weir claims)
//! against a real `weir serve`, on the pinned line and on the newest release
//! (tests/clients/java/, built by scripts/setup): an idempotent producer with every
//! compression.type read back field by field, a two-member group splitting four partitions
//! with the range and the cooperative-sticky assignors, a consume-transform-produce
//! transaction with an aborted one beside it, the AdminClient's topic, config, partition and
//! group calls, its ACL calls over SASL/SCRAM, and SASL_SSL with Java's own TLS stack.
//! One JVM run a scenario.
mod common;

use common::{Install, Server, create_topic, create_topic_as, http, run_client_on};
use serde_json::{Value, json};

const MAIN: &str = "weir.Client";

fn java_idempotent_producer_round_trips_every_codec(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let codecs = ["none", "gzip", "snappy", "lz4", "zstd"];
    for codec in codecs {
        create_topic(&server, &format!("jc-{codec}"), 1);
    }
    let out = run_client_on(
        install,
        "java",
        MAIN,
        &["codecs", &server.kafka, "jc", "25"],
    );
    let offsets: Vec<u64> = (0..25).collect();
    for codec in codecs {
        let c = &out["codecs"][codec];
        assert_eq!(c["acked"], 25, "{codec}: {out}");
        assert_eq!(c["offsets"], json!(offsets), "{codec}: {out}");
        assert_eq!(c["consumed"], 25, "{codec}: {out}");
        assert_eq!(c["matched"], 25, "{codec}: {out}");
        // And what weir stored, seen over HTTP: the same keys and values in order.
        let body: Value = http()
            .get(server.at(&format!("/v1/topics/jc-{codec}/partitions/0/records")))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let got: Vec<(&str, &str)> = body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["key"].as_str().unwrap(), r["value"].as_str().unwrap()))
            .collect();
        let keys: Vec<String> = (0..25).map(|i| format!("k-{i}")).collect();
        let values: Vec<String> = (0..25).map(|i| format!("{codec}-{i}")).collect();
        let want: Vec<(&str, &str)> = keys
            .iter()
            .zip(&values)
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(got, want, "{codec}: {body}");
    }
}

/// Two members split a 4-partition topic 2/2, read it all once, and the one left takes
/// over the leaver's partitions from its commits (no record read twice).
fn group_splits_and_rebalances(install: Install, assignor: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    create_topic(&server, "jg", 4);
    let out = run_client_on(
        install,
        "java",
        MAIN,
        &["group", &server.kafka, "jg", "jgroup", assignor],
    );
    let a = out["a"].as_array().unwrap();
    let b = out["b"].as_array().unwrap();
    assert_eq!((a.len(), b.len()), (2, 2), "{out}");
    let mut both: Vec<i64> = a.iter().chain(b).map(|p| p.as_i64().unwrap()).collect();
    both.sort();
    assert_eq!(both, [0, 1, 2, 3], "{out}");
    assert_eq!(out["distinct"], 40, "{out}");
    assert_eq!(out["read"], 40, "{out}");
    assert_eq!(out["after_leave"], json!([0, 1, 2, 3]), "{out}");
    assert_eq!(out["read_after_leave"], 8, "{out}");
    assert_eq!(out["new_after_leave"], 8, "{out}");
    let group: Value = http()
        .get(server.at("/v1/groups/jgroup"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let committed: Vec<i64> = group["offsets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["committed_offset"].as_i64().unwrap())
        .collect();
    assert_eq!(committed, [12, 12, 12, 12], "{group}");
}

fn java_group_with_the_range_assignor(install: Install) {
    group_splits_and_rebalances(install, "range");
}

fn java_group_with_the_cooperative_sticky_assignor(install: Install) {
    group_splits_and_rebalances(install, "cooperative-sticky");
}

fn java_transactions_commit_offsets_and_hide_aborted_records(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    create_topic(&server, "jt-in", 1);
    create_topic(&server, "jt-out", 1);
    let out = run_client_on(
        install,
        "java",
        MAIN,
        &["txn", &server.kafka, "jt-in", "jt-out", "jtgroup"],
    );
    let mut committed: Vec<String> = (0..10).map(|i| format!("V{i}")).collect();
    committed.push("after".into());
    assert_eq!(out["read_committed"], json!(committed), "{out}");
    let mut everything: Vec<String> = (0..10).map(|i| format!("V{i}")).collect();
    everything.extend((0..5).map(|i| format!("aborted-{i}")));
    everything.push("after".into());
    assert_eq!(out["read_uncommitted"], json!(everything), "{out}");
    assert_eq!(out["committed_offset"], 10, "{out}");
    // While the first transaction was open: read_committed ends at its first offset
    // (the last stable offset), read_uncommitted after its 10 records.
    assert_eq!(out["ends_while_open"], json!([0, 10]), "{out}");
}

fn java_admin_client_topics_configs_partitions_and_groups(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let out = run_client_on(install, "java", MAIN, &["admin", &server.kafka, "ja"]);
    assert_eq!(out["create_again"], "TopicExistsException", "{out}");
    assert_eq!(out["listed"], json!(["ja-a", "ja-b"]), "{out}");
    assert_eq!(out["partitions"], 2, "{out}");
    // Metadata v8+'s topic_authorized_operations (null before weir filled it in): without
    // users, every operation Kafka defines on a topic is allowed.
    let all_topic_ops = [
        "ALTER",
        "ALTER_CONFIGS",
        "CREATE",
        "DELETE",
        "DESCRIBE",
        "DESCRIBE_CONFIGS",
        "READ",
        "WRITE",
    ];
    assert_eq!(out["topic_operations"], json!(all_topic_ops), "{out}");
    assert_eq!(out["retention_before"], "3600000", "{out}");
    // DescribeConfigs v3+'s config_type: Kafka's type of every entry (UNKNOWN before).
    assert_eq!(
        out["types"],
        json!({"retention.ms": "LONG", "cleanup.policy": "LIST",
               "min.cleanable.dirty.ratio": "DOUBLE", "segment.bytes": "INT",
               "preallocate": "BOOLEAN"}),
        "{out}"
    );
    assert_eq!(out["untyped"], json!([]), "{out}");
    assert_eq!(out["retention_after"], "7200000", "{out}");
    assert_eq!(out["cleanup_after"], "compact", "{out}");
    assert_eq!(out["partitions_after"], 4, "{out}");
    assert_eq!(out["shrink"], "InvalidPartitionsException", "{out}");
    assert_eq!(out["groups"], json!(["ja-g"]), "{out}");
    assert_eq!(out["group_state"], "Empty", "{out}");
    assert_eq!(out["group_members"], 0, "{out}");
    assert_eq!(
        out["group_operations"],
        json!(["DELETE", "DESCRIBE", "READ"]),
        "{out}"
    );
    assert_eq!(
        out["group_offsets"],
        json!(["ja-a-0=1", "ja-a-1=2"]),
        "{out}"
    );
    assert_eq!(out["listed_after_delete"], json!(["ja-a"]), "{out}");
    assert_eq!(
        out["describe_deleted"], "UnknownTopicOrPartitionException",
        "{out}"
    );
    // The alterations are weir's own state, not the client's echo.
    let topic: Value = http()
        .get(server.at("/v1/topics/ja-a"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(topic["partitions"].as_array().unwrap().len(), 4, "{topic}");
    assert_eq!(
        topic["overrides"],
        json!({"cleanup.policy": "compact", "retention.ms": "7200000"}),
        "{topic}"
    );
}

fn java_admin_client_creates_describes_and_deletes_acls(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    // The first user is the administrator and turns authentication on.
    for (name, password, auth) in [
        ("admin", "admin-pw", None),
        ("bob", "bob-pw", Some("admin")),
    ] {
        let mut r = http()
            .post(server.at("/v1/users"))
            .json(&json!({"name": name, "password": password}));
        if let Some(user) = auth {
            r = r.basic_auth(user, Some("admin-pw"));
        }
        let r = r.send().unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    }
    create_topic_as(&server, "payments", 1, ("admin", "admin-pw"));
    let out = run_client_on(
        install,
        "java",
        MAIN,
        &[
            "acls",
            &server.kafka,
            "admin",
            "admin-pw",
            "bob",
            "bob-pw",
            "payments",
        ],
    );
    assert_eq!(
        out["described"],
        json!([
            "TOPIC logs- PREFIXED User:bob READ ALLOW",
            "TOPIC payments LITERAL User:bob WRITE ALLOW"
        ]),
        "{out}"
    );
    // bob, with no ACL on the cluster, may still describe a topic (the Java AdminClient
    // first sends DescribeCluster, which Kafka answers to anyone); WRITE implies DESCRIBE.
    assert_eq!(
        out["user_topic_operations"],
        json!(["DESCRIBE", "WRITE"]),
        "{out}"
    );
    // The administrator's bootstrap ACLs on Kafka's 4 resource types and bob's two.
    assert_eq!(out["total"], 6, "{out}");
    assert_eq!(out["deleted"], 2, "{out}");
    assert_eq!(out["after"], json!([]), "{out}");
    assert_eq!(out["refused"], "ClusterAuthorizationException", "{out}");
}

/// An https client trusting only the test CA (weir's HTTP API shares the TLS listener
/// config), to add the first user.
fn https(pki: &common::pki::Pki) -> reqwest::blocking::Client {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(pki.path("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    common::install_crypto_provider();
    let config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(config)
        .build()
        .unwrap()
}

fn java_over_tls_with_scram_sha_512(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let pki = common::pki::pki(&dir.path().join("pki"));
    let config = pki.dir.join("weir.toml");
    std::fs::write(
        &config,
        "[tls]\ncert = \"server.pem\"\nkey = \"server.key\"\nclient_auth = \"none\"\n\
         [kafka]\ngroup_initial_rebalance_delay_ms = 0\n",
    )
    .unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    let r = https(&pki)
        .post(server.at("/v1/users"))
        .json(&json!({"name": "jv", "password": "jv-secret"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    let ca = pki.path("ca.pem");
    let out = run_client_on(
        install,
        "java",
        MAIN,
        &["tls", &server.kafka, &ca, "jv", "jv-secret", "jv-tls", "50"],
    );
    assert_eq!(out["acked"], 50, "{out}");
    assert_eq!(out["consumed"], 50, "{out}");
    assert_eq!(out["in_order"], true, "{out}");
}

crate::on_both_installs!(
    java_idempotent_producer_round_trips_every_codec,
    java_group_with_the_range_assignor,
    java_group_with_the_cooperative_sticky_assignor,
    java_transactions_commit_offsets_and_hide_aborted_records,
    java_admin_client_topics_configs_partitions_and_groups,
    java_admin_client_creates_describes_and_deletes_acls,
    java_over_tls_with_scram_sha_512,
);
