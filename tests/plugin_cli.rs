//! `weir plugin test` and `weir plugin new`, as a user runs them.

mod common;

use std::process::Command;

fn weir(args: &[&str]) -> std::process::Output {
    Command::new(common::weir_bin())
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn plugin_test_prints_outputs_and_each_error_and_goes_on() {
    let trap = common::guests::guest("hostile", "trap");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        "{\"value\": \"ok\"}\n{\"value\": \"bad\"}\n\n{\"value\": \"ok\", \"key\": \"k\"}\n",
    )
    .unwrap();
    let out = Command::new(common::weir_bin())
        .args(["plugin", "test"])
        .arg(&trap)
        .arg("--input")
        .arg(&input)
        .args(["--batch-size", "1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a failed record fails the run");
    assert_eq!(
        stdout.lines().count(),
        2,
        "both good records still come out: {stdout}"
    );
    assert!(
        stdout.lines().nth(1).unwrap().contains("\"key\":\"k\""),
        "{stdout}"
    );
    assert!(
        stderr.contains("lines 2-2")
            && stderr.contains("boom: cannot handle the record at offset 2"),
        "{stderr}"
    );
}

#[test]
fn plugin_test_refuses_a_file_that_is_not_a_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.wasm");
    std::fs::write(&bogus, "not wasm").unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "{\"value\": \"x\"}\n").unwrap();
    let out = weir(&[
        "plugin",
        "test",
        bogus.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a WebAssembly file"), "{stderr}");

    let filter = common::guests::guest("rust", "rust-filter");
    std::fs::write(&input, "{\"value\": \"x\", \"colour\": \"red\"}\n").unwrap();
    let out = weir(&[
        "plugin",
        "test",
        filter.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("line 1") && stderr.contains("colour"),
        "{stderr}"
    );
}

#[test]
fn plugin_new_rust_scaffold_builds_and_runs() {
    // The toolchain check and shared dependency cache come with the guest build.
    common::guests::guest("rust", "rust-filter");
    let dir = tempfile::tempdir().unwrap();
    let out = weir(&[
        "plugin",
        "new",
        "my-filter",
        "--lang",
        "rust",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let project = dir.path().join("my-filter");
    let target = common::guests::repo_root().join("target/guests");
    let build = Command::new("cargo")
        .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2"])
        .current_dir(&project)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let wasm = target.join("wasm32-wasip2/release/my_filter.wasm");
    let input = common::guests::repo_root().join("examples/records.jsonl");
    let out = Command::new(common::weir_bin())
        .args(["plugin", "test"])
        .arg(&wasm)
        .arg("--input")
        .arg(&input)
        .args(["--config", "pattern=terror"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.contains("\"value\":\"terror\""), "{stdout}");
    // A second scaffold with the same name is refused, not overwritten.
    let again = weir(&[
        "plugin",
        "new",
        "my-filter",
        "--lang",
        "python",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn plugin_new_python_and_js_scaffolds_have_their_build_script_and_wit() {
    let dir = tempfile::tempdir().unwrap();
    for lang in ["python", "js"] {
        let name = format!("p-{lang}");
        let out = weir(&[
            "plugin",
            "new",
            &name,
            "--lang",
            lang,
            "--dir",
            dir.path().to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let project = dir.path().join(&name);
        let manifest = if lang == "python" {
            "requirements.txt"
        } else {
            "package.json"
        };
        for file in [
            "build.sh",
            "README.md",
            manifest,
            "wit/types.wit",
            "wit/transform.wit",
        ] {
            assert!(project.join(file).exists(), "{lang}: {file}");
        }
        // The SDK is a dependency, not a copy in every project.
        for copy in ["weir.py", "weir.js"] {
            assert!(!project.join(copy).exists(), "{lang}: {copy} copied");
        }
    }
    let js = std::fs::read_to_string(dir.path().join("p-js/package.json")).unwrap();
    let sdk = common::guests::repo_root().join("guest-sdk/js");
    let sdk = sdk.canonicalize().unwrap_or(sdk);
    assert!(
        js.contains(&format!("\"weir-guest\": \"file:{}\"", sdk.display())),
        "{js}"
    );
    // The Python scaffold builds with the toolchain scripts/setup installs.
    let venv_bin = common::guests::repo_root().join(".venv/bin");
    assert!(
        venv_bin.join("componentize-py").exists(),
        "componentize-py missing: run scripts/setup"
    );
    let path = format!(
        "{}:{}",
        venv_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let build = Command::new("./build.sh")
        .current_dir(dir.path().join("p-python"))
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let rt = weir::runtime::Runtime::new(weir::runtime::RuntimeConfig::default()).unwrap();
    let plugin = rt
        .load_file(&dir.path().join("p-python/p-python.wasm"))
        .unwrap();
    assert_eq!(plugin.world(), weir::runtime::World::Transform);
    // Its own lines plus `import weir` filter as the Python example does.
    let out = Command::new(common::weir_bin())
        .args(["plugin", "test"])
        .arg(dir.path().join("p-python/p-python.wasm"))
        .arg("--input")
        .arg(common::guests::repo_root().join("examples/records.jsonl"))
        .args(["--config", "pattern=terror"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.contains("\"value\":\"terror\""), "{stdout}");
}
