//! Bad `weir.allow.http` grants and `weir.http.*` keys: answered per key by
//! `config/validate`, and refused with a 400 naming the key on create.

use super::*;

#[test]
fn bad_grants_are_answered_per_key_and_refused_naming_weir_allow_http() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("data"));
    let config = json!({
        "name": "bad",
        "connector.class": "HttpSource",
        "topic": "t",
        "http.url": "http://127.0.0.1:1/x",
        "weir.allow.http": "https://127.0.0.1:1, http://h/path",
        "weir.http.ssl.ca.location": "relative/ca.pem",
        "weir.http.max.in.flight": "1000",
    });
    let (code, body) = call(
        &s,
        "PUT",
        "/connector-plugins/HttpSource/config/validate",
        Some(config.clone()),
    );
    assert_eq!(code, 200, "{body}");
    let errors_of = |key: &str| -> Vec<String> {
        body["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["value"]["name"] == key)
            .map(|c| {
                c["value"]["errors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e.as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let allow = errors_of("weir.allow.http");
    assert!(
        // The https origin is fine now; only the one with a path is refused.
        allow.len() == 1 && allow[0].contains("http://h/path") && !allow[0].contains("127.0.0.1"),
        "{body}"
    );
    assert!(
        errors_of("weir.http.ssl.ca.location")[0].contains("not an absolute path"),
        "{body}"
    );
    assert!(
        errors_of("weir.http.max.in.flight")[0].contains("from 1 to 64"),
        "{body}"
    );
    assert!(errors_of("http.url").is_empty(), "{body}");
    let (code, body) = call(
        &s,
        "POST",
        "/connectors",
        Some(json!({"name": "bad", "config": config})),
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("weir.allow.http"),
        "{body}"
    );
    // A CA bundle that exists but holds no certificate is refused the same way, by its key.
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let mut config = config;
    config["weir.allow.http"] = json!("https://127.0.0.1:1");
    config["weir.http.max.in.flight"] = json!("1");
    config["weir.http.ssl.ca.location"] = json!(empty.display().to_string());
    let (code, body) = call(
        &s,
        "POST",
        "/connectors",
        Some(json!({"name": "bad", "config": config})),
    );
    assert_eq!(code, 400, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("weir.http.ssl.ca.location") && message.contains("no PEM certificate"),
        "{body}"
    );
}
