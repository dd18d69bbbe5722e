//! Attached mode's shared catalog (`weir::cluster::catalog`): two catalogs ("nodes") on
//! one `weir serve` child on 127.0.0.1 port 0, each with its own cache dir. What one node
//! writes the other sees within a bound; concurrent uploads of one name get distinct
//! versions; a restarted node rebuilds its cache from the topics; a deleted pipeline
//! stays deleted after compaction; malformed records are skipped and counted; the
//! limits refuse what is too large.

#[path = "../common/mod.rs"]
mod common;
mod durability;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use weir::cluster::catalog::{CatalogConfig, ClusterCatalog};
use weir::cluster::{self, ClientProps, Cluster};
use weir::pipeline::store::{Deployment, PipelineRecord};
use weir::pipeline::{Catalog, ModuleUpload, PipelineError, PipelineSpec};

use common::{Server, wait_until};

/// How long a change on one node may take to show on another.
const SEEN_WITHIN: Duration = Duration::from_secs(10);

/// A config whose cleaner checks for compaction every 50 ms instead of 15 s.
const COMPACTING: &str =
    "[kafka]\ngroup_initial_rebalance_delay_ms = 0\n[log]\ncleaner_check_interval_ms = 50\n";

fn connect(s: &Server) -> Arc<dyn Cluster> {
    let props = BTreeMap::from([("bootstrap.servers".to_string(), s.kafka.clone())]);
    cluster::connect(ClientProps::new(props).unwrap())
}

/// The test settings: small chunks so that modules of a few KiB span several.
fn config(cache: &Path) -> CatalogConfig {
    let mut c = CatalogConfig::new(cache);
    c.chunk_bytes = 1000;
    c.max_module_bytes = 64 << 10;
    c.max_record_bytes = 16 << 10;
    c
}

fn node(s: &Server, cache: &Path) -> ClusterCatalog {
    ClusterCatalog::open(connect(s), config(cache)).unwrap()
}

/// Module bytes that differ by `seed` and are `len` long.
fn bytes(seed: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(31).wrapping_add(seed) as u8)
        .collect()
}

fn upload(node: &dyn Catalog, name: &str, bytes: &[u8]) -> Result<(u32, bool), PipelineError> {
    let digest = weir::runtime::cache::digest(bytes);
    node.put_module(ModuleUpload {
        name,
        bytes,
        digest: &digest,
        world: "transform",
        now_ms: 1,
    })
    .map(|(m, created)| (m.version, created))
}

fn pipeline(name: &str, module: &str) -> PipelineRecord {
    let spec: PipelineSpec = serde_json::from_value(serde_json::json!({
        "name": name, "inputs": ["in"], "output": "out",
        "steps": [{"module": module}]
    }))
    .unwrap();
    PipelineRecord {
        spec: spec.clone(),
        partitions: 1,
        paused: false,
        created_ms: 1,
        history: vec![Deployment {
            modules: vec![(module.into(), 1)],
            at_ms: 1,
            reason: "created".into(),
        }],
        specs: vec![spec],
        forgotten: 0,
    }
}

#[test]
fn what_one_node_writes_the_other_sees() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"), &[]);
    let a = node(&s, &dir.path().join("a"));
    let b = node(&s, &dir.path().join("b"));
    let mut b_changes = b.subscribe();

    // A module of several chunks, uploaded on a.
    let module = bytes(1, 4500);
    assert_eq!(upload(&a, "f", &module).unwrap(), (1, true));
    assert!(wait_until(SEEN_WITHIN, || b.module("f", Some(1)).is_ok()));
    assert!(b_changes.has_changed().unwrap(), "b's subscribers are told");
    let seen = b.module("f", None).unwrap();
    assert_eq!(seen.digest, weir::runtime::cache::digest(&module));
    assert_eq!(b.module_bytes(&seen).unwrap(), module);
    // The same bytes again, on b: the existing version.
    assert_eq!(upload(&b, "f", &module).unwrap(), (1, false));

    // A pipeline created on a, hot-swapped on b, seen on a.
    a.create_pipeline(&pipeline("p", "f")).unwrap();
    assert!(wait_until(SEEN_WITHIN, || b
        .pipeline("p")
        .unwrap()
        .is_some()));
    assert!(matches!(
        b.create_pipeline(&pipeline("p", "f")),
        Err(PipelineError::PipelineExists { .. })
    ));
    assert_eq!(upload(&b, "f", &bytes(2, 3000)).unwrap(), (2, true));
    b_changes.mark_unchanged();
    let swapped = b
        .edit_pipeline("p", &mut |r| {
            // An edit may read the catalog it edits (no lock held around it).
            let newest = b.module("f", None)?.version;
            let spec = r.spec.clone();
            let deployment = Deployment {
                modules: vec![("f".into(), newest)],
                at_ms: 2,
                reason: "updated".into(),
            };
            r.push_deployment(&spec, deployment, 4);
            Ok(())
        })
        .unwrap()
        .unwrap();
    assert_eq!(swapped.current_number(), 1);
    assert!(wait_until(SEEN_WITHIN, || {
        a.pipeline("p")
            .unwrap()
            .is_some_and(|r| r.current().modules == [("f".to_string(), 2)])
    }));
    assert_eq!(a.pipeline("p").unwrap().unwrap().history.len(), 2);
    assert!(b_changes.has_changed().unwrap());

    // A delete on a reaches b; the deleted version's number is not given again.
    a.delete_module("f", 2).unwrap();
    assert!(wait_until(SEEN_WITHIN, || b.module("f", Some(2)).is_err()));
    assert_eq!(upload(&b, "f", &bytes(3, 10)).unwrap(), (3, true));
    assert_eq!(
        a.delete_pipeline("p").unwrap().map(|r| r.spec.name),
        Some("p".into())
    );
    assert!(wait_until(SEEN_WITHIN, || b
        .pipeline("p")
        .unwrap()
        .is_none()));
    assert!(b.delete_pipeline("p").unwrap().is_none());
    assert!(b.edit_pipeline("p", &mut |_| Ok(())).unwrap().is_none());
    assert_eq!(a.stats().skipped + b.stats().skipped, 0);
}

#[test]
fn concurrent_uploads_of_one_name_get_distinct_versions() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"), &[]);
    let a = Arc::new(node(&s, &dir.path().join("a")));
    let b = Arc::new(node(&s, &dir.path().join("b")));
    let per_node = 4;
    let run = |n: Arc<ClusterCatalog>, seed: u32| {
        std::thread::spawn(move || {
            (0..per_node)
                .map(|i| upload(n.as_ref(), "f", &bytes(seed + i, 2500)))
                .collect::<Vec<_>>()
        })
    };
    let (ta, tb) = (run(a.clone(), 100), run(b.clone(), 200));
    let mut results = ta.join().unwrap();
    results.extend(tb.join().unwrap());
    // Every upload either got a version of its own or was refused as a conflict (409),
    // never given a number another upload got.
    let mut versions = Vec::new();
    for r in &results {
        match r {
            Ok((v, true)) => versions.push(*v),
            Err(PipelineError::CatalogConflict { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let mut unique = versions.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique.len(),
        versions.len(),
        "a version given twice: {versions:?}"
    );
    assert!(
        versions.len() >= per_node as usize,
        "most uploads succeed: {results:?}"
    );
    // Both nodes agree on every version and its bytes.
    assert!(wait_until(SEEN_WITHIN, || {
        a.modules().unwrap().len() == versions.len() && b.modules().unwrap().len() == versions.len()
    }));
    assert_eq!(a.modules().unwrap(), b.modules().unwrap());
    for m in b.modules().unwrap() {
        assert_eq!(
            weir::runtime::cache::digest(&a.module_bytes(&m).unwrap()),
            m.digest
        );
    }
}

#[test]
fn the_limits_refuse_what_is_too_large() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"), &[]);
    let a = node(&s, &dir.path().join("a"));
    let max = config(dir.path()).max_module_bytes;
    let e = upload(&a, "big", &bytes(1, max + 1)).unwrap_err();
    assert!(
        matches!(e, PipelineError::ModuleTooLarge { size, .. } if size == max + 1),
        "{e}"
    );
    // The largest allowed module goes through, in many chunks.
    assert_eq!(upload(&a, "big", &bytes(1, max)).unwrap(), (1, true));
    // A pipeline record over the record limit is refused before anything is written.
    let mut huge = pipeline("huge", "big");
    huge.spec.outputs = (0..2000).map(|i| format!("output-topic-{i}")).collect();
    let e = a.create_pipeline(&huge).unwrap_err();
    assert!(
        matches!(e, PipelineError::CatalogRecordTooLarge { .. }),
        "{e}"
    );
    assert!(e.to_string().contains("huge"), "{e}");
    assert!(a.pipeline("huge").unwrap().is_none());
    // A digest that is not the bytes' is refused too.
    let e = a
        .put_module(ModuleUpload {
            name: "g",
            bytes: b"abc",
            digest: "00",
            world: "transform",
            now_ms: 1,
        })
        .unwrap_err();
    assert!(matches!(e, PipelineError::InvalidModule { .. }), "{e}");
    assert!(matches!(
        upload(&a, "a/b", b"x"),
        Err(PipelineError::InvalidModuleName { .. })
    ));
}

#[test]
fn concurrent_updates_of_one_pipeline_lose_none() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"), &[]);
    let a = Arc::new(node(&s, &dir.path().join("a")));
    let b = Arc::new(node(&s, &dir.path().join("b")));
    a.create_pipeline(&pipeline("p", "f")).unwrap();
    assert!(wait_until(SEEN_WITHIN, || b
        .pipeline("p")
        .unwrap()
        .is_some()));
    let per_node = 4;
    let run = |n: Arc<ClusterCatalog>, tag: &'static str| {
        std::thread::spawn(move || {
            (0..per_node)
                .map(|i| {
                    n.edit_pipeline("p", &mut |r| {
                        let spec = r.spec.clone();
                        let deployment = Deployment {
                            modules: vec![("f".into(), 1)],
                            at_ms: i,
                            reason: format!("{tag} {i}"),
                        };
                        r.push_deployment(&spec, deployment, 100);
                        Ok(())
                    })
                })
                .collect::<Vec<_>>()
        })
    };
    let (ta, tb) = (run(a.clone(), "a"), run(b.clone(), "b"));
    let mut results = ta.join().unwrap();
    results.extend(tb.join().unwrap());
    let mut applied = 0;
    for r in &results {
        match r {
            Ok(Some(_)) => applied += 1,
            Err(PipelineError::CatalogConflict { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    // Every update that answered success is in the history, once: none overwrote another.
    assert!(a.sync(SEEN_WITHIN).unwrap() && b.sync(SEEN_WITHIN).unwrap());
    let record = a.pipeline("p").unwrap().unwrap();
    assert_eq!(record.history.len(), 1 + applied, "{:?}", record.history);
    let mut reasons: Vec<_> = record.history[1..]
        .iter()
        .map(|d| d.reason.clone())
        .collect();
    reasons.sort();
    reasons.dedup();
    assert_eq!(reasons.len(), applied);
    assert!(applied >= per_node as usize, "{results:?}");
    assert_eq!(b.pipeline("p").unwrap().unwrap().history, record.history);
}

#[test]
fn a_catalog_topic_that_cannot_hold_the_catalog_is_refused_by_name() {
    use weir::cluster::catalog::{MODULES_TOPIC, PIPELINES_TOPIC};
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"), &[]);
    let admin = connect(&s).admin().unwrap();
    let delete = BTreeMap::from([("cleanup.policy".to_string(), "delete".to_string())]);
    admin.create_topic(PIPELINES_TOPIC, 1, &delete).unwrap();
    let e = ClusterCatalog::open(connect(&s), config(&dir.path().join("a"))).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains(PIPELINES_TOPIC) && text.contains("cleanup.policy=compact"),
        "{text}"
    );
    // Made compacted, it is taken; a second partition of the other topic is not.
    let compact = BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())]);
    admin.alter_configs(PIPELINES_TOPIC, &compact).unwrap();
    admin.create_partitions(MODULES_TOPIC, 2).unwrap();
    let e = ClusterCatalog::open(connect(&s), config(&dir.path().join("a"))).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains(MODULES_TOPIC) && text.contains("one partition"),
        "{text}"
    );
}
