//! The CLI pushes modules and drives pipelines from a YAML spec.

use crate::common::Server;
use crate::common::guests::guest;
use crate::common::pipeline::*;
use serde_json::json;

fn weir(s: &Server, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(crate::common::weir_bin())
        .arg("--url")
        .arg(&s.url)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_cli_pushes_modules_and_drives_pipelines_from_a_yaml_spec() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"), &[]);
    create_topic(&s, "in", 1);
    create_topic(&s, "out", 1);
    let filter = guest("rust", "rust-filter");
    let (ok, out, err) = weir(
        &s,
        &["module", "push", filter.to_str().unwrap(), "--name", "keep"],
    );
    assert!(ok, "{err}");
    assert!(out.starts_with("keep@1 (transform"), "{out}");
    let upper = guest("hostile", "upper");
    let (ok, _, err) = weir(
        &s,
        &["module", "push", upper.to_str().unwrap(), "--name", "upper"],
    );
    assert!(ok, "{err}");
    let (ok, out, _) = weir(&s, &["module", "list"]);
    assert!(ok && out.contains("keep") && out.contains("upper"), "{out}");

    let spec = dir.path().join("p.yaml");
    std::fs::write(
        &spec,
        "name: cli\ninputs: [in]\noutput: out\nstart: earliest\nsteps:\n  - module: keep@1\n    config:\n      pattern: yes\n",
    )
    .unwrap();
    let (ok, out, err) = weir(&s, &["pipeline", "create", "-f", spec.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("keep@1"), "{out}");
    produce(
        &s,
        "in",
        vec![json!({"value": "yes a"}), json!({"value": "no"})],
    );
    wait_caught_up(&s, "cli", 2);
    let (ok, out, _) = weir(&s, &["pipeline", "list"]);
    assert!(
        ok && out.contains("cli") && out.contains("running"),
        "{out}"
    );
    let (ok, out, _) = weir(&s, &["pipeline", "status", "cli"]);
    assert!(
        ok && out.contains("PARTITION") && out.contains("keep@1"),
        "{out}"
    );

    let (ok, _, err) = weir(&s, &["pipeline", "swap", "cli", "--module", "upper@1"]);
    assert!(ok, "{err}");
    produce(&s, "in", vec![json!({"value": "yes b"})]);
    wait_caught_up(&s, "cli", 3);
    assert_eq!(values(&s, "out"), vec!["yes a", "YES B"]);

    let (ok, _, err) = weir(&s, &["pipeline", "pause", "cli"]);
    assert!(ok, "{err}");
    assert_eq!(status(&s, "cli")["state"], "paused");
    let (ok, _, err) = weir(&s, &["pipeline", "resume", "cli"]);
    assert!(ok, "{err}");
    let (ok, out, _) = weir(&s, &["pipeline", "logs", "cli"]);
    assert!(
        ok && out.contains("updated") && out.contains("paused"),
        "{out}"
    );
    let (ok, _, err) = weir(&s, &["module", "delete", "upper@1"]);
    assert!(!ok && err.contains("module_in_use"), "{err}");
    let (ok, _, err) = weir(&s, &["pipeline", "delete", "cli"]);
    assert!(ok, "{err}");
    let (ok, _, err) = weir(&s, &["pipeline", "status", "cli"]);
    assert!(!ok && err.contains("unknown pipeline"), "{err}");
}
