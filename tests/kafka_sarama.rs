//! Debian's sarama (1.22) against a real `weir serve`: a Go program built here
//! from tests/clients/sarama_client.go produces, consumes in a group, commits
//! with OffsetCommit v1 (sarama's own choice) and reads the commit back; a
//! producer at sarama's default protocol version (Produce v0, not served) must
//! get UNSUPPORTED_VERSION, not a silent loss.
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Server, http, repo_root};
use serde_json::Value;

/// Debian's Go sources (golang-github-shopify-sarama-dev), read in GOPATH mode.
const DEBIAN_GOPATH: &str = "/usr/share/gocode";

/// Builds the sarama driver into `dir`; fails with the way to fix a missing install.
fn build_driver(dir: &Path) -> PathBuf {
    let sarama = Path::new(DEBIAN_GOPATH).join("src/github.com/Shopify/sarama");
    assert!(
        sarama.exists(),
        "{} is missing: run scripts/setup to install Debian's sarama",
        sarama.display()
    );
    let exe = dir.join("sarama_client");
    let status = Command::new("go")
        .args(["build", "-o"])
        .arg(&exe)
        .arg("sarama_client.go")
        .current_dir(repo_root().join("tests/clients"))
        .env("GO111MODULE", "off")
        .env("GOPATH", DEBIAN_GOPATH)
        .env("GOFLAGS", "")
        .stderr(Stdio::inherit())
        .status()
        .unwrap_or_else(|e| panic!("running go: {e}: run scripts/setup to install Go"));
    assert!(status.success(), "go build of the sarama driver failed");
    exe
}

#[test]
fn sarama_produces_consumes_in_a_group_and_its_v1_commits_stick() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build_driver(dir.path());
    let server = Server::start(&dir.path().join("data"), &[]);
    let out = Command::new(&exe)
        .args([&server.kafka, "sar", "sargroup", "20"])
        .stderr(Stdio::inherit())
        .output()
        .expect("run the sarama driver");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "sarama driver failed: {stdout}");
    let out: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("sarama driver printed {stdout:?}: {e}"));
    assert_eq!(out["consumed"], 20, "{out}");
    assert_eq!(out["committed"], 20, "{out}");
    assert_eq!(out["metadata"], "sarama", "{out}");
    // Produce v0 is answered with UNSUPPORTED_VERSION for its partition.
    let refused = out["old_version_error"].as_str().unwrap();
    assert!(
        refused.contains("version of API is not supported"),
        "a Produce v0 must fail loudly: {out}"
    );
    // The commit is the broker's, seen by every face; the v0 record was not appended.
    let group: Value = http()
        .get(server.at("/v1/groups/sargroup"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(group["offsets"][0]["committed_offset"], 20, "{group}");
    let topic: Value = http()
        .get(server.at("/v1/topics/sar"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(topic["partitions"][0]["high_watermark"], 20, "{topic}");
}
