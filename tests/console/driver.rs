//! The web console's real-browser tests (included by each console test binary with
//! `#[path = "console/driver.rs"] mod browser;` after `mod common;`): runs scenarios (functions in
//! `tests/console/*.js`) in one headless Chromium through playwright-core
//! (`tests/console/harness.js`), with a screenshot of each under
//! `target/console-screenshots/`, and answers each scenario's outcome.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::common::repo_root;

/// One scenario: `function` exported by `tests/console/<module>`, run against `url`.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Its name: the key of its outcome and of its screenshot.
    pub name: String,
    /// The file under `tests/console/` that exports it.
    pub module: &'static str,
    /// The exported function.
    pub function: &'static str,
    /// The server's base URL.
    pub url: String,
    /// Whatever the function needs besides.
    pub args: Value,
    /// HTTP error statuses the page may meet without failing (e.g. 401 before signing in).
    pub allow_http: Vec<u16>,
    /// The harness's own check: this scenario must fail on a page error, and [`run`]
    /// panics if it passes.
    pub must_fail_with: Option<&'static str>,
}

impl Scenario {
    /// A scenario named `name` running `module`'s `function` against `url`.
    pub fn new(name: &str, module: &'static str, function: &'static str, url: &str) -> Scenario {
        Scenario {
            name: name.to_string(),
            module,
            function,
            url: url.to_string(),
            args: json!({}),
            allow_http: Vec::new(),
            must_fail_with: None,
        }
    }

    /// Expected to fail with a page error holding `text` (a check of the harness).
    pub fn must_fail_with(mut self, text: &'static str) -> Scenario {
        self.must_fail_with = Some(text);
        self
    }

    /// With `args`.
    pub fn args(mut self, args: Value) -> Scenario {
        self.args = args;
        self
    }

    /// Allowing the page to meet these HTTP error statuses.
    pub fn allow_http(mut self, statuses: &[u16]) -> Scenario {
        self.allow_http = statuses.to_vec();
        self
    }
}

/// Where the screenshots go: `target/console-screenshots/` of the repository.
pub fn screenshot_dir() -> PathBuf {
    repo_root().join("target/console-screenshots")
}

/// Runs `scenarios` in one Chromium; returns each one's `value` by name. Panics,
/// naming every failed scenario with its error, its page errors and its screenshot,
/// if any failed or met a JavaScript error.
pub fn run(scenarios: &[Scenario]) -> BTreeMap<String, Value> {
    let root = repo_root();
    let dir = root.join("tests/console");
    let playwright = dir.join("node_modules/playwright-core");
    assert!(
        playwright.exists(),
        "{} is missing: run scripts/setup to install the browser tests' playwright-core",
        playwright.display()
    );
    let chromium = std::env::var("WEIR_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: run scripts/setup to install Debian's chromium"
    );
    let config = json!({
        "screenshots": screenshot_dir(),
        "scenarios": scenarios.iter().map(|s| json!({
            "name": s.name,
            "module": s.module,
            "function": s.function,
            "url": s.url,
            "args": s.args,
            "allow_http": s.allow_http,
        })).collect::<Vec<_>>(),
    });
    let file = tempfile::NamedTempFile::new().expect("a temp config file");
    std::fs::write(file.path(), config.to_string()).expect("write the scenarios");
    let out = Command::new("node")
        .arg(dir.join("run.js"))
        .arg(file.path())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser run failed ({}):\n{stderr}\n{stdout}",
        out.status
    );
    let answer: Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON answer from the browser run:\n{stdout}\n{stderr}"));
    let mut failed = Vec::new();
    let mut values = BTreeMap::new();
    for s in scenarios {
        let r = &answer["results"][&s.name];
        if let Some(text) = s.must_fail_with {
            if r["ok"] != false || !r["errors"].to_string().contains(text) {
                failed.push(format!(
                    "scenario {} should have failed with a page error holding {text:?}: {r}",
                    s.name
                ));
            }
        } else if r["ok"] != true {
            failed.push(format!(
                "scenario {}: {}\n  page errors: {}\n  screenshots: {}",
                s.name, r["error"], r["errors"], r["screenshots"]
            ));
        }
        values.insert(s.name.clone(), r["value"].clone());
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    values
}
