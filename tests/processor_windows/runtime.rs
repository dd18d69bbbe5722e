//! The runtime's side: old processors still load; the stores and punctuation of new ones.

use bytes::Bytes;
use weir::log::batch::Record;
use weir::runtime::{
    Body, Instance, InstanceConfig, MemoryState, Origin, Runtime, RuntimeConfig, StreamSettings,
    World,
};

use crate::common::guests::guest;

pub fn record(key: &str, ts: i64) -> Record {
    Record {
        key: Some(Bytes::from(key.to_owned())),
        value: Some(Bytes::from_static(b"click")),
        headers: Vec::new(),
        timestamp: ts,
    }
}

pub fn origin(n: usize) -> Origin {
    Origin {
        topic: "in".into(),
        partition: 0,
        offsets: (0..n as i64).collect(),
    }
}

pub fn instance(group: &str, name: &str) -> Instance {
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let plugin = rt.load_file(&guest(group, name)).unwrap();
    assert_eq!(plugin.world(), World::Processor);
    let cfg = InstanceConfig {
        state: Some(Box::new(MemoryState::new())),
        ..InstanceConfig::default()
    };
    Instance::new(plugin, cfg).unwrap()
}

#[test]
fn a_processor_built_against_the_first_processor_world_still_loads_and_runs() {
    // Built from a frozen copy of the world before `window-state`, `session-state` and
    // `stream-time` (tests/guests/legacyproc/wit).
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let plugin = rt.load_file(&guest("hostile", "legacyproc")).unwrap();
    assert_eq!(plugin.world(), World::Processor);
    assert!(!plugin.has_stream_time());
    let cfg = InstanceConfig {
        state: Some(Box::new(MemoryState::new())),
        ..InstanceConfig::default()
    };
    let mut inst = Instance::new(plugin, cfg).unwrap();
    assert_eq!(inst.stream_settings().unwrap(), None);
    let batch = vec![record("a", 1), record("b", 2), record("c", 3)];
    let out = inst.process(&origin(3), &batch).unwrap();
    assert_eq!(out.records.len(), 3);
    assert!(out.records.iter().all(|r| r.body == Body::Input));
    let again = inst.process(&origin(1), &batch[..1]).unwrap();
    assert_eq!(again.records.len(), 1);
    // It has no stream-time export: the host never calls one.
    let err = inst.on_stream_time(0).unwrap_err().to_string();
    assert!(err.contains("stream-time"), "{err}");
}

#[test]
fn windows_are_stored_fetched_and_emitted_by_the_stream_time_punctuation() {
    windows_and_punctuation(instance("hostile", "windowcount"), true);
}

/// The same processor written with the Python SDK (`-w stream-processor`).
#[test]
fn a_python_processor_has_the_window_store_and_stream_time_too() {
    windows_and_punctuation(instance("python", "python-windowcount"), false);
}

/// The guest's answers to four records and two punctuations; `with_sessions`: the guest
/// (Rust or JS) also keeps sessions in the session store.
pub fn windows_and_punctuation(mut inst: Instance, with_sessions: bool) {
    assert_eq!(
        inst.stream_settings().unwrap(),
        Some(StreamSettings {
            interval_ms: Some(1000),
            retention_ms: Some(60_000),
        })
    );
    let batch = vec![
        record("a", 100),
        record("a", 900),
        record("b", 1500),
        record("a", 1999),
    ];
    let out = inst.process(&origin(batch.len()), &batch).unwrap();
    assert!(
        out.records.is_empty(),
        "the guest emits only on punctuation"
    );
    // Stream time 2500: windows [0,1000) and [1000,2000) have ended.
    let closed = inst.on_stream_time(2500).unwrap();
    let mut got: Vec<String> = closed
        .records
        .iter()
        .map(|r| {
            assert_eq!(r.source, None);
            let Body::New(rec) = &r.body else {
                panic!("punctuation makes new records")
            };
            String::from_utf8(rec.value.as_deref().unwrap().to_vec()).unwrap()
        })
        .collect();
    got.sort();
    let mut want = vec!["a@0=2", "a@1000=1", "b@1000=1", "tick@2500"];
    if with_sessions {
        // Sessions of gap 500: each record is its own (a's are 800 and 1099 apart), and
        // every one ended more than a gap before 2500.
        want.extend([
            "session:a@100-100=1",
            "session:a@900-900=1",
            "session:a@1999-1999=1",
            "session:b@1500-1500=1",
        ]);
    }
    want.sort();
    assert_eq!(got, want);
    // Emitted windows and sessions were removed: a second punctuation finds none.
    assert_eq!(
        inst.on_stream_time(3000).unwrap().records.len(),
        1,
        "its tick alone"
    );
}

#[test]
fn a_window_key_past_the_cap_fails_the_call_naming_the_cap() {
    let mut inst = instance("hostile", "windowcount");
    let batch = vec![record("big", 100)];
    let err = inst.process(&origin(1), &batch).unwrap_err().to_string();
    assert!(
        err.contains("window or session key of 5000 bytes") && err.contains("4075"),
        "{err}"
    );
}
