//! The caps on streams state a client's spec or input could otherwise grow without
//! bound, crossed through the HTTP API with a server configured small: a global table
//! past `pipelines.max_table_bytes` and a stream–stream join past
//! `pipelines.max_join_window_records`. The record that would cross goes to the
//! dead-letter topic naming the key; what is stored stays, and the task runs on.

mod common;

use serde_json::{Value, json};

use common::pipeline::*;
use common::streams::*;
use common::{Server, TEST_CONFIG, create_topic};

/// (key, error header) of every dead letter in `dlq`.
fn dead_letters(s: &Server, dlq: &str) -> Vec<(String, String)> {
    read_all(s, dlq)
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["key"].as_str().unwrap_or_default().to_string(),
                r["headers"].to_string(),
            )
        })
        .collect()
}

#[test]
fn a_global_table_past_max_table_bytes_dead_letters_what_would_grow_it() {
    let dir = tempfile::tempdir().unwrap();
    // A row costs 1 + key + 8 + value bytes: fr/France 17, de/Germany 18, it/Italy 16,
    // es/Spain 16.
    let config = format!("{TEST_CONFIG}[pipelines]\nmax_table_bytes = 60\n");
    let s = Server::start_with_config(dir.path(), &config, &[]);
    for t in ["orders", "countries", "enriched", "dlq"] {
        create_topic(&s, t, 1);
    }
    create(
        &s,
        json!({"name": "by-country",
            "sources": {"orders": {"topic": "orders"},
                        "countries": {"topic": "countries", "as": "global_table"}},
            "output": "enriched",
            "steps": [{"op": "join", "left": "orders", "right": "countries", "type": "left"}],
            "start": "earliest", "on_error": "dead-letter", "dead_letter_topic": "dlq"}),
    );
    let t = now_ms();
    let mut fed = 0;
    let mut feed = |records: Vec<Value>| {
        fed += records.len() as u64;
        produce(&s, "countries", records);
        wait_caught_up(&s, "by-country", fed);
    };
    // 51 bytes, then Spain would make 67.
    feed(vec![
        click("fr", "France", t),
        click("de", "Germany", t),
        click("it", "Italy", t),
        click("es", "Spain", t),
    ]);
    // A smaller row for fr applies (47); Spain would still make 63.
    feed(vec![click("fr", "FR", t + 1), click("es", "Spain", t + 1)]);
    // A deletion frees Germany's 18 bytes: Spain fits (45).
    feed(vec![
        json!({"key": "de", "value": null, "timestamp": t + 2}),
        click("es", "Spain", t + 2),
    ]);
    let letters = dead_letters(&s, "dlq");
    assert_eq!(letters.len(), 2, "{letters:?}");
    for (key, headers) in &letters {
        assert_eq!(key, "es");
        assert!(
            headers.contains("pipelines.max_table_bytes"),
            "the error names the key: {headers}"
        );
    }
    produce(
        &s,
        "orders",
        ["fr", "de", "it", "es"]
            .iter()
            .map(|k| click(k, "order", t + 3))
            .collect(),
    );
    wait_caught_up(&s, "by-country", fed + 4);
    let mut got: Vec<(String, Value)> = read_all(&s, "enriched")
        .into_iter()
        .flatten()
        .map(|r| {
            let v: Value = serde_json::from_str(r["value"].as_str().unwrap()).unwrap();
            (r["key"].as_str().unwrap().to_string(), v["right"].clone())
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![
            ("de".into(), Value::Null),
            ("es".into(), json!("Spain")),
            ("fr".into(), json!("FR")),
            ("it".into(), json!("Italy")),
        ]
    );
    assert_eq!(status(&s, "by-country")["state"], "running");
}

#[test]
fn a_stream_stream_join_past_max_join_window_records_dead_letters_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{TEST_CONFIG}[pipelines]\nmax_join_window_records = 3\n");
    let s = Server::start_with_config(dir.path(), &config, &[]);
    for t in ["views", "clicks", "joined", "dlq"] {
        create_topic(&s, t, 1);
    }
    create(
        &s,
        json!({"name": "vc",
            "sources": {"views": {"topic": "views"}, "clicks": {"topic": "clicks"}},
            "output": "joined",
            "steps": [{"op": "join", "left": "views", "right": "clicks", "type": "inner",
                       "window": {"before_ms": 1000, "after_ms": 1000}}],
            "start": "earliest", "on_error": "dead-letter", "dead_letter_topic": "dlq"}),
    );
    let t = now_ms();
    // Three views fill the window stores; a fourth record of either side is refused
    // before it joins anything.
    produce(
        &s,
        "views",
        (0..4)
            .map(|i| click(&format!("k{i}"), "v", t + i))
            .collect(),
    );
    wait_caught_up(&s, "vc", 4);
    produce(&s, "clicks", vec![click("k0", "c", t + 5)]);
    wait_caught_up(&s, "vc", 5);
    let letters = dead_letters(&s, "dlq");
    assert_eq!(
        letters.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        vec!["k3", "k0"],
        "{letters:?}"
    );
    for (_, headers) in &letters {
        assert!(
            headers.contains("pipelines.max_join_window_records"),
            "the error names the key: {headers}"
        );
    }
    assert!(read_all(&s, "joined").iter().all(Vec::is_empty));
    // Once stream time moves the stored views out of their window (1000 ms before +
    // 1000 after), there is room again: a late view's click joins it.
    produce(&s, "views", vec![click("k9", "v", t + 3000)]);
    wait_caught_up(&s, "vc", 6);
    produce(&s, "clicks", vec![click("k9", "c", t + 3001)]);
    wait_caught_up(&s, "vc", 7);
    let joined: Vec<String> = read_all(&s, "joined")
        .into_iter()
        .flatten()
        .map(|r| r["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(joined, vec!["k9"]);
}
