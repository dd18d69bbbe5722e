//! Hostile plugins: each fails its call with a clear, typed error, and the same instance
//! (rebuilt behind the scenes) serves the next call.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use weir::log::batch::Record;
use weir::runtime::{
    Instance, InstanceConfig, Limits, Origin, Runtime, RuntimeConfig, RuntimeError,
};

fn record(value: &str) -> Record {
    Record {
        key: None,
        value: Some(Bytes::from(value.to_owned())),
        headers: Vec::new(),
        timestamp: 0,
    }
}

fn origin(offset: i64) -> Origin {
    Origin {
        topic: "in".into(),
        partition: 0,
        offsets: vec![offset],
    }
}

fn instance(name: &str, limits: Limits) -> Instance {
    let wasm = common::guests::guest("hostile", name);
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let plugin = rt.load_file(&wasm).unwrap();
    let cfg = InstanceConfig {
        limits,
        ..InstanceConfig::default()
    };
    Instance::new(plugin, cfg).unwrap()
}

/// The instance still works after the failure, on a fresh store.
fn serves_next_call(inst: &mut Instance) {
    let input = [record("ok")];
    let out = inst.process(&origin(1), &input).unwrap();
    assert_eq!(out.records.len(), 1);
    let value = out.records[0]
        .record(&input)
        .and_then(|r| r.value.as_deref());
    assert_eq!(value, Some(b"ok".as_slice()));
}

#[test]
fn an_infinite_loop_is_interrupted_at_the_deadline() {
    let limits = Limits {
        deadline: Duration::from_millis(200),
        ..Limits::default()
    };
    let mut inst = instance("spin", limits);
    let started = Instant::now();
    let err = inst.process(&origin(0), &[record("spin")]).unwrap_err();
    assert!(matches!(err, RuntimeError::Deadline { .. }), "{err}");
    assert!(err.to_string().contains("deadline"), "{err}");
    // Generous bound: only that the loop was cut, not how precisely.
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(inst.builds(), 1);
    serves_next_call(&mut inst);
    assert_eq!(
        inst.builds(),
        2,
        "the interrupted store was dropped and rebuilt"
    );
}

#[test]
fn a_memory_bomb_hits_the_cap() {
    let limits = Limits {
        memory_bytes: 32 << 20,
        ..Limits::default()
    };
    let mut inst = instance("membomb", limits);
    let err = inst.process(&origin(0), &[record("bomb")]).unwrap_err();
    match &err {
        RuntimeError::MemoryLimit {
            limit, requested, ..
        } => {
            assert_eq!(*limit, 32 << 20);
            assert!(*requested > *limit);
        }
        other => panic!("expected a memory limit error, got {other}"),
    }
    assert!(err.to_string().contains("memory limit"), "{err}");
    serves_next_call(&mut inst);
    assert_eq!(inst.builds(), 2);
}

#[test]
fn a_trap_carries_the_guests_message() {
    let mut inst = instance("trap", Limits::default());
    let err = inst.process(&origin(7), &[record("bad")]).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, RuntimeError::Trap { .. }), "{text}");
    assert!(
        text.contains("boom: cannot handle the record at offset 7"),
        "the panic message must surface: {text}"
    );
    serves_next_call(&mut inst);
    // Trap again: every trap drops the store.
    inst.process(&origin(8), &[record("bad")]).unwrap_err();
    serves_next_call(&mut inst);
    assert_eq!(inst.builds(), 3);
}

#[test]
fn an_oversized_output_is_refused() {
    let limits = Limits {
        max_output_bytes: 1 << 20,
        ..Limits::default()
    };
    let mut inst = instance("oversized", limits);
    let err = inst.process(&origin(0), &[record("inflate")]).unwrap_err();
    match &err {
        RuntimeError::OutputTooLarge { bytes, limit, .. } => {
            assert_eq!(*limit, 1 << 20);
            assert!(*bytes >= 4 << 20);
        }
        other => panic!("expected an output-too-large error, got {other}"),
    }
    serves_next_call(&mut inst);
}
