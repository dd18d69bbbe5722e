//! The guest SDKs for other languages carry the version of the WIT package they bind
//! (`weir:plugin@X.Y.Z`): this fails when one of them drifts from `wit/`.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The version in `package weir:plugin@X.Y.Z;`, the same in every WIT file that declares it.
fn wit_version() -> String {
    let mut versions = Vec::new();
    for entry in std::fs::read_dir(repo().join("wit")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "wit") {
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text.lines() {
                if let Some(rest) = line.trim().strip_prefix("package weir:plugin@") {
                    versions.push(rest.trim_end_matches(';').trim().to_owned());
                }
            }
        }
    }
    versions.dedup();
    assert_eq!(versions.len(), 1, "one WIT package version: {versions:?}");
    versions.remove(0)
}

/// The quoted value of the first `key` in `text` (`version = "x"` or `"version": "x"`).
fn quoted_after(text: &str, key: &str) -> String {
    let at = text.find(key).unwrap_or_else(|| panic!("no {key}"));
    let rest = &text[at + key.len()..];
    let start = rest.find('"').unwrap() + 1;
    let len = rest[start..].find('"').unwrap();
    rest[start..start + len].to_owned()
}

#[test]
fn the_python_package_has_the_wit_version() {
    let pyproject = read("guest-sdk/python/pyproject.toml");
    let project = &pyproject[pyproject.find("[project]").expect("[project]")..];
    assert_eq!(quoted_after(project, "\nversion ="), wit_version());
}

#[test]
fn the_js_package_and_its_host_imports_have_the_wit_version() {
    let wit = wit_version();
    assert_eq!(
        quoted_after(&read("guest-sdk/js/package.json"), "\"version\":"),
        wit
    );
    // Every module of the package: the host imports live in core.js, processor.js and
    // stores.js.
    let mut imports = Vec::new();
    for entry in std::fs::read_dir(repo().join("guest-sdk/js")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "js") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            for s in text.split('"').filter(|s| s.starts_with("weir:plugin/")) {
                imports.push((name.clone(), s.to_owned()));
            }
        }
    }
    for wanted in [
        "weir:plugin/config",
        "weir:plugin/log",
        "weir:plugin/state",
        "weir:plugin/window-state",
        "weir:plugin/session-state",
    ] {
        assert!(
            imports.iter().any(|(_, i)| i.starts_with(wanted)),
            "the JS SDK imports {wanted}: {imports:?}"
        );
    }
    for (file, import) in imports {
        assert_eq!(
            import.split_once('@').map(|(_, v)| v),
            Some(wit.as_str()),
            "{file} imports {import}"
        );
    }
}
