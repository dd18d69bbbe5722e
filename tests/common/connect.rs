//! Helpers of the connector tests: the built-in plugins built for a test (scripts/build-plugins),
//! a server with them, calls to its Connect listener, and Connect's own transformations
//! (tests/clients/connect/, built by scripts/setup) as the oracle.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Server, http, repo_root};

static BUILD: Mutex<()> = Mutex::new(());

/// Builds plugins/ with scripts/build-plugins (cargo skips it when nothing changed) and
/// returns the directory of `NAME.wasm` + `NAME.toml`, as `weir serve --plugins-dir` takes.
pub fn builtin_plugins() -> PathBuf {
    let _one_at_a_time = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let root = repo_root();
    let target = root.join("target/builtin");
    let out = Command::new(root.join("scripts/build-plugins"))
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run scripts/build-plugins");
    assert!(
        out.status.success(),
        "building the built-in plugins failed (run scripts/setup if a toolchain is missing):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target.join("plugins")
}

/// Runs `cases` (`[{"config": {...}, "records": [...]}]`, see tests/clients/connect's Smt.java)
/// through Kafka Connect's own transformations and returns its answer per case.
pub fn connect_oracle(cases: &Value) -> Vec<Value> {
    let built = repo_root().join("tests/clients/connect/target");
    let jar = built.join("weir-connect-transforms.jar");
    assert!(
        jar.exists(),
        "{} is missing: run scripts/setup to build Kafka Connect's transformations",
        jar.display()
    );
    let mut child = Command::new("java")
        .arg("-cp")
        .arg(format!("{}:{}/lib/*", jar.display(), built.display()))
        .arg("weir.Smt")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run java");
    let input = serde_json::to_vec(&serde_json::json!({ "cases": cases })).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Connect oracle failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "oracle output is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    answer.as_array().cloned().expect("an array per case")
}

/// Starts a server with the built-in plugins.
pub fn start(data: &std::path::Path) -> Server {
    let plugins = builtin_plugins();
    Server::start(data, &["--plugins-dir", plugins.to_str().unwrap()])
}

/// The Connect listener's base URL, as the server printed it.
pub fn connect_url(s: &Server) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = s.stdout.lock().unwrap().iter().find_map(|l| {
            l.strip_prefix("weir: Connect API on ")
                .map(|u| u.trim().to_string())
        });
        if let Some(u) = found {
            return u;
        }
        assert!(Instant::now() < deadline, "no Connect API address printed");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A request to the Connect listener: (status, JSON body or Null).
pub fn call(s: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{path}", connect_url(s));
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = http().request(method, url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().expect("connect request");
    let code = resp.status().as_u16();
    let text = resp.text().unwrap_or_default();
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Creates connector `name` with `config` through `POST /connectors`, asserting the 201.
pub fn create(s: &Server, name: &str, config: Value) {
    let (code, body) = call(
        s,
        "POST",
        "/connectors",
        Some(serde_json::json!({"name": name, "config": config})),
    );
    assert_eq!(code, 201, "creating {name}: {body}");
}

/// Waits until `cond` holds of the connector's status.
pub fn wait_status(s: &Server, name: &str, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, st) = call(s, "GET", &format!("/connectors/{name}/status"), None);
        if cond(&st) {
            return st;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never became {what}: {st}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
