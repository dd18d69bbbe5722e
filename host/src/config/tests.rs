//! Tests of loading and validating `weir.toml`.

use super::*;
use crate::broker::topic_config::TopicConfig;
use crate::log::FlushPolicy;
use crate::runtime::SandboxSettings;

#[test]
fn embedded_defaults_build() {
    let s = ServerConfig::load(None).unwrap().build().unwrap();
    assert_eq!(s.http_addr.port(), 9080);
    assert_eq!(s.broker.flush, FlushPolicy::EveryBatch);
    assert_eq!(s.broker.topic_defaults, TopicConfig::default());
    assert_eq!(s.auth.scram_iterations, 4096);
    assert_eq!(s.max_search, std::time::Duration::from_secs(2));
    assert!(!s.auth.allow_anonymous && !s.auth.plain_without_tls);
    assert_eq!(
        s.pipelines.sandbox,
        SandboxSettings::default(),
        "weir.toml's [sandbox] and the runtime's defaults agree"
    );
    assert_eq!(
        s.pipelines.playground,
        crate::pipeline::playground::PlaygroundLimits::default(),
        "weir.toml's [playground] and the playground's defaults agree"
    );
}

#[test]
fn the_search_budget_is_read_and_a_zero_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.toml");
    std::fs::write(&path, "[http]\nmax_search_ms = 5\n").unwrap();
    assert_eq!(load(&path).unwrap().max_search, Duration::from_millis(5));
    std::fs::write(&path, "[http]\nmax_search_ms = 0\n").unwrap();
    let err = load(&path).unwrap_err().to_string();
    assert!(err.contains("max_search_ms"), "{err}");
}

#[test]
fn playground_caps_are_read_and_a_zero_cap_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.toml");
    std::fs::write(
        &path,
        "[playground]
max_records = 3
max_run_ms = 250
",
    )
    .unwrap();
    let s = load(&path).unwrap();
    assert_eq!(s.pipelines.playground.max_records, 3);
    assert_eq!(
        s.pipelines.playground.max_run_time,
        Duration::from_millis(250)
    );
    assert_eq!(s.pipelines.playground.max_log_lines, 500, "the rest stay");
    std::fs::write(
        &path,
        "[playground]
max_running = 0
",
    )
    .unwrap();
    let err = load(&path).unwrap_err().to_string();
    assert!(err.contains("playground.max_running"), "{err}");
}

#[test]
fn auth_limits_are_checked_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.toml");
    std::fs::write(&path, "[auth]\nscram_iterations = 1000\n").unwrap();
    let err = ServerConfig::load(Some(&path))
        .unwrap()
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("auth.scram_iterations"), "{err}");
    std::fs::write(&path, "[auth]\nmax_users = 3\nplain_without_tls = true\n").unwrap();
    let s = ServerConfig::load(Some(&path)).unwrap().build().unwrap();
    assert_eq!(s.auth.max_users, 3);
    assert!(s.auth.plain_without_tls);
    std::fs::write(&path, "[auth]\nsuper_users = [\"alice\"]\n").unwrap();
    let err = load(&path).unwrap_err().to_string();
    assert!(
        err.contains("auth.super_users") && err.contains("User:NAME"),
        "{err}"
    );
    std::fs::write(&path, "[auth]\nmax_acls = 0\n").unwrap();
    let err = load(&path).unwrap_err().to_string();
    assert!(err.contains("auth.max_acls"), "{err}");
    std::fs::write(&path, "[auth]\nsuper_users = [\"User:root\"]\n").unwrap();
    let s = load(&path).unwrap();
    assert_eq!(s.auth.super_users, vec!["User:root".to_string()]);
    assert_eq!(s.auth.max_acls, 10_000);
}

fn load(path: &std::path::Path) -> Result<Settings, ConfigError> {
    ServerConfig::load(Some(path))?.build()
}

#[test]
fn sandbox_caps_are_read_and_a_zero_cap_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.toml");
    std::fs::write(
        &path,
        "[sandbox]\nmax_output_records = 7\ncompile_concurrency = 1\n",
    )
    .unwrap();
    let s = ServerConfig::load(Some(&path)).unwrap().build().unwrap();
    assert_eq!(s.pipelines.sandbox.caps.max_output_records, 7);
    assert_eq!(s.pipelines.sandbox.compile_concurrency, 1);
    std::fs::write(&path, "[sandbox]\nmax_log_line_bytes = 0\n").unwrap();
    let err = ServerConfig::load(Some(&path))
        .unwrap()
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("sandbox.max_log_line_bytes"), "{err}");
}

#[test]
fn user_file_merges_and_unknown_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.toml");
    std::fs::write(
        &path,
        "[log]\nflush = \"os\"\n[topics.defaults]\n\"retention.ms\" = 5\n",
    )
    .unwrap();
    let s = ServerConfig::load(Some(&path)).unwrap().build().unwrap();
    assert_eq!(s.broker.flush, FlushPolicy::Os);
    assert_eq!(s.broker.topic_defaults.retention_ms, 5);
    assert_eq!(s.broker.topic_defaults.segment_bytes, 1 << 30);

    std::fs::write(
        &path,
        "[kafka]\nadvertised_addr = \"broker.example:19092\"\nauto_create_topics = false\n",
    )
    .unwrap();
    let s = ServerConfig::load(Some(&path)).unwrap().build().unwrap();
    assert_eq!(
        s.kafka.advertised,
        Some(("broker.example".to_string(), 19092))
    );
    assert!(!s.kafka.auto_create_topics);
    assert_eq!(s.kafka.addr, s.kafka_addr);
    std::fs::write(&path, "[kafka]\nadvertised_addr = \"no-port\"\n").unwrap();
    let err = ServerConfig::load(Some(&path))
        .unwrap()
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("no-port"), "{err}");

    // Each new limit is refused at 0, naming its key.
    for (section, key) in [
        ("kafka", "max_partitions_per_request"),
        ("kafka", "metadata_max_topics"),
        ("kafka", "max_producers_per_partition"),
        ("kafka", "producer_id_expiration_ms"),
        ("pipelines", "max_history"),
        ("pipelines", "max_windows_per_record"),
        ("pipelines", "max_state_query_windows"),
        ("pipelines", "max_open_windows"),
        ("pipelines", "max_table_bytes"),
        ("pipelines", "max_join_window_records"),
    ] {
        std::fs::write(&path, format!("[{section}]\n{key} = 0\n")).unwrap();
        let err = ServerConfig::load(Some(&path))
            .unwrap()
            .build()
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{err}");
    }
    std::fs::write(&path, "[log]\nscrub_bytes_per_sec = 0\n").unwrap();
    let s = ServerConfig::load(Some(&path)).unwrap().build().unwrap();
    assert_eq!(s.scrub.bytes_per_step, 0, "0 turns the scrubber off");

    std::fs::write(&path, "[log]\nflsh = \"os\"\n").unwrap();
    let err = ServerConfig::load(Some(&path)).unwrap_err().to_string();
    assert!(err.contains("flsh"), "{err}");
    std::fs::write(&path, "[log]\nflush = \"sometimes\"\n").unwrap();
    let err = ServerConfig::load(Some(&path))
        .unwrap()
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("sometimes"), "{err}");
}

#[test]
fn tls_section_is_checked_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.toml");
    let err = |body: &str| {
        std::fs::write(&path, format!("[tls]\n{body}")).unwrap();
        ServerConfig::load(Some(&path))
            .unwrap()
            .build()
            .unwrap_err()
            .to_string()
    };
    std::fs::write(&path, "[tls]\nclient_auth = \"sometimes\"\n").unwrap();
    let e = format!(
        "{:#}",
        anyhow::Error::from(ServerConfig::load(Some(&path)).unwrap_err())
    );
    assert!(e.contains("client_auth") && e.contains("sometimes"), "{e}");
    let e = err("client_auth = \"optional\"\n");
    assert!(e.contains("tls.client_ca"), "{e}");
    let e = err("cert = \"a.pem\"\n");
    assert!(e.contains("tls.key"), "{e}");
    // Relative to the config file, not the working directory.
    let e = err("cert = \"a.pem\"\nkey = \"a.key\"\n");
    assert!(
        e.contains(&dir.path().join("a.pem").display().to_string()),
        "{e}"
    );
    assert!(
        ServerConfig::load(None)
            .unwrap()
            .build()
            .unwrap()
            .tls
            .is_none()
    );
}

#[test]
fn the_initial_rebalance_delay_defaults_to_kafkas_and_is_bounded_by_name() {
    let s = ServerConfig::load(None).unwrap().build().unwrap();
    assert_eq!(
        s.kafka.group.initial_rebalance_delay,
        std::time::Duration::from_secs(3),
        "weir.toml and Kafka agree"
    );
    assert_eq!(
        s.kafka.group.initial_rebalance_delay,
        crate::kafka::settings::GroupSettings::default().initial_rebalance_delay,
        "weir.toml and GroupSettings::default agree"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.toml");
    std::fs::write(&path, "[kafka]\ngroup_initial_rebalance_delay_ms = 0\n").unwrap();
    assert!(
        load(&path)
            .unwrap()
            .kafka
            .group
            .initial_rebalance_delay
            .is_zero()
    );
    std::fs::write(
        &path,
        "[kafka]\ngroup_initial_rebalance_delay_ms = 99999999999\n",
    )
    .unwrap();
    let err = load(&path).unwrap_err().to_string();
    assert!(
        err.contains("kafka.group_initial_rebalance_delay_ms"),
        "{err}"
    );
}

#[test]
fn the_tcp_socket_ceiling_defaults_to_64_and_a_zero_is_refused_by_name() {
    let s = ServerConfig::load(None).unwrap().build().unwrap();
    assert_eq!(s.connect.max_tcp_sockets_per_task, 64);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.toml");
    std::fs::write(&path, "[connect]\nmax_tcp_sockets_per_task = 2\n").unwrap();
    assert_eq!(load(&path).unwrap().connect.max_tcp_sockets_per_task, 2);
    std::fs::write(&path, "[connect]\nmax_tcp_sockets_per_task = 0\n").unwrap();
    let err = load(&path).unwrap_err().to_string();
    assert!(err.contains("connect.max_tcp_sockets_per_task"), "{err}");
}
