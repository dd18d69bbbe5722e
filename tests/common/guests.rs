//! Builds the Wasm guests the tests need (scripts/build-guests, cached on source hashes).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

static BUILD: Mutex<()> = Mutex::new(());

/// Builds the guest groups (`rust`, `hostile`, `python`, `js`, `c`) and returns the path of
/// `name.wasm`. Panics, saying to run scripts/setup, when a toolchain is missing.
pub fn guest(group: &str, name: &str) -> PathBuf {
    let _one_at_a_time = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let root = repo_root();
    let out = Command::new(root.join("scripts/build-guests"))
        .arg(group)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run scripts/build-guests");
    assert!(
        out.status.success(),
        "building the {group} guests failed (run scripts/setup if a toolchain is missing):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = root.join("target/guests/wasm").join(format!("{name}.wasm"));
    assert!(path.exists(), "{} was not built", path.display());
    path
}
