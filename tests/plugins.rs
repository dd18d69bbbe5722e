//! Built-in plugins: `weir serve` loads `NAME.wasm` + `NAME.toml` from its plugins
//! directory and lists them at `GET /v1/plugins` with name, world, version and
//! description; a broken one is left out and the server serves on.

mod common;

use common::guests::guest;
use common::pipeline::call;
use common::{Server, repo_root};

#[test]
fn built_in_plugins_are_listed_and_broken_ones_left_out() {
    let upper = guest("hostile", "upper");
    let counter = guest("hostile", "counter");
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let put = |name: &str, wasm: &std::path::Path, manifest: Option<&str>| {
        std::fs::copy(wasm, plugins.join(format!("{name}.wasm"))).unwrap();
        if let Some(m) = manifest {
            std::fs::write(plugins.join(format!("{name}.toml")), m).unwrap();
        }
    };
    let manifest = |name: &str, version: &str, description: &str| {
        format!("name = \"{name}\"\nversion = \"{version}\"\ndescription = \"{description}\"\n")
    };
    put(
        "upper",
        &upper,
        Some(&manifest("upper", "0.1.0", "Upper-cases values.")),
    );
    put(
        "count",
        &counter,
        Some(&manifest("count", "0.2.0", "Counts keys.")),
    );
    // Not a component; a manifest naming another file; no manifest; an unknown key.
    let junk = dir.path().join("junk");
    std::fs::write(&junk, b"\0asm junk").unwrap();
    put("junk", &junk, Some(&manifest("junk", "1", "x")));
    put("alias", &upper, Some(&manifest("other", "1", "x")));
    put("bare", &upper, None);
    put(
        "extra",
        &upper,
        Some(&(manifest("extra", "1", "x") + "author = \"y\"\n")),
    );

    let plugins_arg = plugins.to_str().unwrap();
    let s = Server::start(&dir.path().join("data"), &["--plugins-dir", plugins_arg]);
    let (code, body) = call(&s, "GET", "/v1/plugins", None);
    assert_eq!(code, 200, "{body}");
    let list = body["plugins"].as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["count", "upper"], "{body}");
    assert_eq!(list[0]["world"], "processor");
    assert_eq!(list[0]["version"], "0.2.0");
    assert_eq!(list[1]["world"], "transform");
    assert_eq!(list[1]["description"], "Upper-cases values.");
    assert_eq!(list[1]["size"], std::fs::metadata(&upper).unwrap().len());
    assert_eq!(list[1]["digest"].as_str().unwrap().len(), 64);

    let (code, one) = call(&s, "GET", "/v1/plugins/upper", None);
    assert_eq!(code, 200, "{one}");
    assert_eq!(one, list[1]);
    let (code, missing) = call(&s, "GET", "/v1/plugins/junk", None);
    assert_eq!(code, 404, "{missing}");
    assert_eq!(missing["error"]["code"], "unknown_plugin");
    let (code, _) = call(&s, "GET", "/v1/health", None);
    assert_eq!(code, 200);
}

#[test]
fn the_repository_plugins_folder_builds_and_its_manifests_are_complete() {
    let root = repo_root();
    let out = std::process::Command::new(root.join("scripts/build-plugins"))
        .env("CARGO_TARGET_DIR", tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scripts/build-plugins failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for entry in std::fs::read_dir(root.join("plugins")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let manifest = std::fs::read_to_string(path.join("plugin.toml"))
                .unwrap_or_else(|e| panic!("{} has no plugin.toml: {e}", path.display()));
            for key in ["name", "version", "description"] {
                assert!(manifest.contains(key), "{} lacks {key}", path.display());
            }
        }
    }
}

/// The precompiled components in a server's cache directory.
fn cached(data: &std::path::Path) -> Vec<std::path::PathBuf> {
    match std::fs::read_dir(data.join("pipelines/cache")) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Issue 13: plugins get only what their world names. A component importing an interface
/// weir does not grant is refused at upload, naming the import, and leaves nothing in the
/// module store or the precompiled cache; a transform importing the processor's state is
/// refused the same way.
#[test]
fn an_import_weir_does_not_grant_is_refused_at_upload_and_leaves_nothing() {
    let importer = guest("hostile", "importer");
    let upper = guest("hostile", "upper");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // No built-in plugins: those installed beside the binary would fill the cache too.
    let no_plugins = dir.path().join("no-plugins");
    let s = Server::start(&data, &["--plugins-dir", no_plugins.to_str().unwrap()]);

    let (code, body) = common::pipeline::upload(&s, "evil", &importer);
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_module", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("module imports evil:net/raw@0.1.0, which weir does not grant"),
        "{message}"
    );
    let (code, body) = call(&s, "GET", "/v1/modules", None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["modules"], serde_json::json!([]), "{body}");
    assert_eq!(cached(&data), Vec::<std::path::PathBuf>::new());

    // A module importing only what weir grants is stored and cached.
    let (code, body) = common::pipeline::upload(&s, "upper", &upper);
    assert_eq!(code, 201, "{body}");
    assert_eq!(cached(&data).len(), 1);
}

/// A call crossing a cap fails like any plugin failure and follows the pipeline's `on_error`:
/// under `dead-letter` the record whose answer flooded the host goes to the dead-letter topic
/// with the cap named, and the records around it flow on.
#[test]
fn a_call_crossing_a_cap_follows_on_error() {
    use common::pipeline::{create_topic, produce, read_all, upload, values, wait_caught_up};
    use serde_json::json;

    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    for t in ["in", "out", "dlq"] {
        create_topic(&s, t, 1);
    }
    assert_eq!(upload(&s, "flood", &guest("hostile", "flood")).0, 201);
    let spec = json!({"name": "fl", "inputs": ["in"], "output": "out",
        "steps": [{"module": "flood"}], "on_error": "dead-letter",
        "dead_letter_topic": "dlq", "start": "earliest"});
    assert_eq!(call(&s, "POST", "/v1/pipelines", Some(spec)).0, 201);
    produce(
        &s,
        "in",
        vec![
            json!({"value": "ok"}),
            json!({"value": "records"}),
            json!({"value": "headers"}),
            json!({"value": "ok"}),
        ],
    );
    wait_caught_up(&s, "fl", 4);
    assert_eq!(values(&s, "out"), vec!["ok", "ok"]);
    let dead = read_all(&s, "dlq").concat();
    let errors: Vec<&str> = dead
        .iter()
        .map(|d| d["headers"]["weir.error"].as_str().unwrap())
        .collect();
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert!(
        errors[0].contains("sandbox.output_records_per_input"),
        "{errors:?}"
    );
    assert!(errors[1].contains("sandbox."), "{errors:?}");
}
