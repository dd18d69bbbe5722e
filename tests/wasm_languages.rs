//! The same example filter written in Rust, Python, JavaScript and C gives the same output on
//! the same input: through the runtime, and through `weir plugin test`.

mod common;

use std::process::Command;

use bytes::Bytes;
use weir::log::batch::Record;
use weir::runtime::{Body, Instance, InstanceConfig, Origin, Runtime, RuntimeConfig};

/// (build group, file stem) of each language's example.
const EXAMPLES: &[(&str, &str)] = &[
    ("rust", "rust-filter"),
    ("python", "python-filter"),
    ("js", "js-filter"),
    ("c", "c-filter"),
];

fn input() -> Vec<Record> {
    let rec = |key: Option<&str>, value: Option<&str>, headers: &[(&str, Option<&str>)]| Record {
        key: key.map(|k| Bytes::from(k.to_owned())),
        value: value.map(|v| Bytes::from(v.to_owned())),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(|v| Bytes::from(v.to_owned()))))
            .collect(),
        timestamp: 42,
    };
    vec![
        rec(Some("a"), Some("fine"), &[]),
        rec(Some("b"), Some("an error"), &[("h", Some("v"))]),
        rec(None, Some("error, no key"), &[]),
        rec(Some("d"), None, &[]),
        rec(Some("e"), Some("ERROR"), &[]),
        rec(Some("f"), Some("naïve error ü"), &[("x", None)]),
        rec(Some("g"), Some(""), &[]),
        rec(Some("h"), Some("terror"), &[]),
        // Long values take the SIMD paths (blocks of 16 positions, a clamped last block).
        rec(Some("i"), Some(&long(100, &[(80, "error")])), &[]),
        rec(Some("j"), Some(&long(100, &[(96, "erro")])), &[]),
        rec(Some("k"), Some(&long(64, &[(14, "error")])), &[]),
        rec(
            Some("l"),
            Some(&long(200, &[(3, "eXror"), (60, "errox"), (195, "error")])),
            &[],
        ),
        rec(
            Some("m"),
            Some(&long(40, &[(0, "errr erro rerro eror err or")])),
            &[],
        ),
    ]
}

/// `len` bytes of `.` with `parts` written at their positions.
fn long(len: usize, parts: &[(usize, &str)]) -> String {
    let mut v = vec![b'.'; len];
    for (at, text) in parts {
        v[*at..*at + text.len()].copy_from_slice(text.as_bytes());
    }
    String::from_utf8(v).unwrap()
}

#[test]
fn every_language_filters_alike_through_the_runtime() {
    let cache = tempfile::tempdir().unwrap();
    let rt = Runtime::new(RuntimeConfig::with_cache(cache.path())).unwrap();
    let input = input();
    let origin = Origin {
        topic: "t".into(),
        partition: 0,
        offsets: (0..input.len() as i64).collect(),
    };
    for (group, stem) in EXAMPLES {
        let plugin = rt.load_file(&common::guests::guest(group, stem)).unwrap();
        let config = InstanceConfig {
            config: [("pattern".to_owned(), "error".to_owned())].into(),
            ..InstanceConfig::default()
        };
        let mut inst = Instance::new(plugin, config).unwrap();
        // Twice: one batch of all, then one record at a time, must agree.
        let all = inst.process(&origin, &input).unwrap();
        let sources: Vec<_> = all.records.iter().map(|r| r.source).collect();
        assert_eq!(
            sources,
            [
                Some(1),
                Some(2),
                Some(5),
                Some(7),
                Some(8),
                Some(10),
                Some(11)
            ],
            "{stem}"
        );
        for r in &all.records {
            assert_eq!(
                r.body,
                Body::Input,
                "{stem}: a filter keeps, it does not copy"
            );
        }
        assert!(all.failures.is_empty(), "{stem}: {:?}", all.failures);
        let mut one_by_one = Vec::new();
        for (i, rec) in input.iter().enumerate() {
            let o = Origin {
                offsets: vec![i as i64],
                ..origin.clone()
            };
            one_by_one.extend(inst.process(&o, std::slice::from_ref(rec)).unwrap().records);
        }
        assert_eq!(one_by_one.len(), 7, "{stem}");
        // Without the pattern every language refuses the batch as invalid config.
        let plugin = rt.load_file(&common::guests::guest(group, stem)).unwrap();
        let mut bare = Instance::new(plugin, InstanceConfig::default()).unwrap();
        let err = bare.process(&origin, &input).unwrap_err().to_string();
        assert!(
            err.contains("invalid-config") && err.contains("pattern"),
            "{stem}: {err}"
        );
    }
}

#[test]
fn every_language_filters_alike_through_weir_plugin_test() {
    let input = common::guests::repo_root().join("examples/records.jsonl");
    let cache = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for (group, stem) in EXAMPLES {
        let wasm = common::guests::guest(group, stem);
        let out = Command::new(common::weir_bin())
            .args(["plugin", "test"])
            .arg(&wasm)
            .arg("--input")
            .arg(&input)
            .args(["--config", "pattern=error", "--batch-size", "3"])
            .arg("--cache-dir")
            .arg(cache.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stem}: {stderr}");
        outputs.push((stem, String::from_utf8(out.stdout).unwrap()));
    }
    let (_, first) = &outputs[0];
    let lines: Vec<serde_json::Value> = first
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let values: Vec<_> = lines.iter().map(|l| l["value"].as_str().unwrap()).collect();
    assert_eq!(
        values,
        [
            "an error happened",
            "error without a key",
            "naïve error with ünïcödé",
            "terror"
        ]
    );
    assert_eq!(lines[0]["key"], "k2");
    assert_eq!(lines[0]["headers"]["source"], "api");
    assert_eq!(lines[1]["key"], serde_json::Value::Null);
    assert_eq!(lines[2]["headers"]["b"], serde_json::Value::Null);
    assert_eq!(lines[3]["timestamp"], 1700000000007i64);
    for (stem, out) in &outputs[1..] {
        assert_eq!(out, first, "{stem} differs from the Rust example");
    }
    // One precompiled file per language: a second run loads it instead of compiling.
    let cached = std::fs::read_dir(cache.path()).unwrap().count();
    assert_eq!(cached, EXAMPLES.len());
}
