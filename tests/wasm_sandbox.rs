//! Hostile plugins: each fails its call with a clear, typed error, and the same instance
//! (rebuilt behind the scenes) serves the next call.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use weir::log::batch::Record;
use weir::runtime::guest_output::{LogLevel, LogSink};
use weir::runtime::{
    CallCaps, Cap, Instance, InstanceConfig, Limits, MemoryState, Origin, Runtime, RuntimeConfig,
    RuntimeError, SandboxSettings,
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
    instance_with(name, limits, CallCaps::default(), InstanceConfig::default())
}

fn instance_with(name: &str, limits: Limits, caps: CallCaps, cfg: InstanceConfig) -> Instance {
    let wasm = common::guests::guest("hostile", name);
    let rt = Runtime::new(RuntimeConfig {
        sandbox: SandboxSettings {
            caps,
            ..SandboxSettings::default()
        },
        ..RuntimeConfig::default()
    })
    .unwrap();
    let plugin = rt.load_file(&wasm).unwrap();
    Instance::new(plugin, InstanceConfig { limits, ..cfg }).unwrap()
}

/// This process's resident set, in bytes (Linux).
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb << 10
}

/// Log lines kept by a test, as a pipeline's log ring would keep them.
#[derive(Default)]
struct Kept(std::sync::Mutex<Vec<String>>);

impl LogSink for Kept {
    fn write(&self, _plugin: &str, _level: LogLevel, message: &str) {
        self.0.lock().unwrap().push(message.to_owned());
    }
}

fn cap_of(err: &RuntimeError) -> Cap {
    match err {
        RuntimeError::CapExceeded { cap, .. } => *cap,
        other => panic!("expected a cap error, got {other}"),
    }
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
    let caps = CallCaps {
        max_output_bytes: 1 << 20,
        ..CallCaps::default()
    };
    let mut inst = instance_with(
        "oversized",
        Limits::default(),
        caps,
        InstanceConfig::default(),
    );
    let err = inst.process(&origin(0), &[record("inflate")]).unwrap_err();
    match &err {
        RuntimeError::CapExceeded {
            cap, used, limit, ..
        } => {
            assert_eq!(*cap, Cap::MaxOutputBytes);
            assert_eq!(*limit, 1 << 20);
            assert!(*used > *limit);
        }
        other => panic!("expected an output cap error, got {other}"),
    }
    assert!(
        err.to_string().contains("sandbox.max_output_bytes"),
        "{err}"
    );
    serves_next_call(&mut inst);
}

/// Issue 13: a guest blocked in `wasi:io/poll` ran 12 s past a 500 ms deadline, out of
/// reach of epoch interruption. The host's poll now ends at the deadline.
#[test]
fn a_guest_blocking_in_poll_is_cut_at_the_deadline() {
    let limits = Limits {
        deadline: Duration::from_millis(500),
        ..Limits::default()
    };
    let mut inst = instance("sleeper", limits);
    let started = Instant::now();
    let err = inst.process(&origin(0), &[record("sleep")]).unwrap_err();
    let took = started.elapsed();
    eprintln!("a 60 s sleep under a 500 ms deadline ended after {took:?}");
    assert!(matches!(err, RuntimeError::Deadline { .. }), "{err}");
    // The guest asked for 60 s; the bound is the deadline plus scheduling slack.
    assert!(
        took < Duration::from_secs(5),
        "the blocking call took {took:?}"
    );
    assert!(took >= Duration::from_millis(450), "ended early: {took:?}");
    serves_next_call(&mut inst);
    assert_eq!(inst.builds(), 2);
}

/// Issue 13: `keep([0] × 200 000)` for one input emitted 200 000 records.
#[test]
fn keeping_one_input_200000_times_crosses_the_record_cap() {
    let mut inst = instance("flood", Limits::default());
    let err = inst.process(&origin(0), &[record("records")]).unwrap_err();
    assert_eq!(cap_of(&err), Cap::OutputRecordsPerInput, "{err}");
    assert!(
        err.to_string().contains("sandbox.output_records_per_input"),
        "{err}"
    );
    // The absolute cap applies where the relative one is larger.
    let caps = CallCaps {
        output_records_per_input: 1_000_000,
        max_output_records: 5000,
        ..CallCaps::default()
    };
    let mut inst = instance_with("flood", Limits::default(), caps, InstanceConfig::default());
    let err = inst.process(&origin(0), &[record("records")]).unwrap_err();
    assert_eq!(cap_of(&err), Cap::MaxOutputRecords, "{err}");
    serves_next_call(&mut inst);
}

/// Issue 13: one 64 KiB header shared by 3 000 output records turned 64 KiB into 188 MiB.
/// Bytes are counted per record, so the call fails before anything is materialised.
#[test]
fn a_header_shared_by_3000_records_counts_for_each_and_is_refused() {
    let before = rss();
    // With the default caps the 3 000 records for one input are refused by count already.
    let mut inst = instance("flood", Limits::default());
    let err = inst.process(&origin(0), &[record("headers")]).unwrap_err();
    assert_eq!(cap_of(&err), Cap::OutputRecordsPerInput, "{err}");
    // With room for the records, their bytes (the header once per record) are refused.
    let caps = CallCaps {
        output_records_per_input: 10_000,
        ..CallCaps::default()
    };
    let mut inst = instance_with("flood", Limits::default(), caps, InstanceConfig::default());
    let err = inst.process(&origin(0), &[record("headers")]).unwrap_err();
    assert_eq!(cap_of(&err), Cap::OutputBytesPerInputByte, "{err}");
    let grown = rss().saturating_sub(before);
    eprintln!("the shared-header flood grew RSS by {} KiB", grown >> 10);
    assert!(grown < 150 << 20, "RSS grew by {grown} bytes");
    // With generous byte caps, the per-record header cap still holds.
    let caps = CallCaps {
        output_records_per_input: 10_000,
        output_bytes_per_input_byte: usize::MAX,
        max_output_bytes: usize::MAX,
        max_header_bytes_per_record: 32 << 10,
        ..CallCaps::default()
    };
    let mut inst = instance_with("flood", Limits::default(), caps, InstanceConfig::default());
    let err = inst.process(&origin(0), &[record("headers")]).unwrap_err();
    assert_eq!(cap_of(&err), Cap::MaxHeaderBytesPerRecord, "{err}");
    assert!(
        err.to_string()
            .contains("sandbox.max_header_bytes_per_record"),
        "{err}"
    );
    serves_next_call(&mut inst);
}

/// Issue 13: 30 log lines of 8 MiB in one call kept +256 MB. Lines are cut and the call's
/// log budget spent; the call itself succeeds (logging never fails a call).
#[test]
fn a_log_flood_is_cut_to_the_log_caps() {
    let kept = Arc::new(Kept::default());
    let cfg = InstanceConfig {
        log: kept.clone(),
        ..InstanceConfig::default()
    };
    let caps = CallCaps::default();
    let mut inst = instance_with("flood", Limits::default(), caps, cfg);
    let out = inst.process(&origin(0), &[record("logs")]).unwrap();
    assert_eq!(out.records.len(), 1, "the call itself succeeds");
    let lines = kept.0.lock().unwrap();
    let total: usize = lines.iter().map(String::len).sum();
    eprintln!(
        "240 MiB of log lines kept as {} lines, {total} bytes",
        lines.len()
    );
    assert!(
        total <= caps.max_log_bytes_per_call + 1024,
        "{total} log bytes kept"
    );
    assert!(
        lines[0].contains("[cut: "),
        "{}",
        &lines[0][lines[0].len() - 100..]
    );
    let note = lines.last().unwrap();
    assert!(
        note.contains("dropped: over sandbox.max_log_bytes_per_call"),
        "{note}"
    );
}

/// Issue 13: 40 state puts of 4 MiB in one call grew the host by 208 MB under a 16 MB memory
/// cap. The put crossing the per-call cap is refused, and the call fails even though the
/// plugin ignored the refusal.
#[test]
fn state_puts_past_the_per_call_cap_fail_the_call() {
    let before = rss();
    let limits = Limits {
        memory_bytes: 16 << 20,
        ..Limits::default()
    };
    let cfg = InstanceConfig {
        state: Some(Box::new(MemoryState::new())),
        ..InstanceConfig::default()
    };
    let mut inst = instance_with("statebomb", limits, CallCaps::default(), cfg);
    let err = inst.process(&origin(0), &[record("bomb")]).unwrap_err();
    assert_eq!(cap_of(&err), Cap::MaxStateWriteBytesPerCall, "{err}");
    assert!(
        err.to_string()
            .contains("sandbox.max_state_write_bytes_per_call"),
        "{err}"
    );
    let grown = rss().saturating_sub(before);
    eprintln!("the state flood grew RSS by {} KiB", grown >> 10);
    assert!(grown < 150 << 20, "RSS grew by {grown} bytes");
    serves_next_call(&mut inst);
}

/// WASI resources live in host memory, outside the guest's memory cap: a guest subscribing
/// to the clock in a loop without dropping is stopped at `sandbox.max_wasi_resources`.
#[test]
fn a_guest_hoarding_wasi_resources_is_stopped_at_the_cap() {
    let caps = CallCaps {
        max_wasi_resources: 1000,
        ..CallCaps::default()
    };
    let mut inst = instance_with(
        "hoarder",
        Limits::default(),
        caps,
        InstanceConfig::default(),
    );
    let err = inst.process(&origin(0), &[record("hoard")]).unwrap_err();
    eprintln!("the hoarder was stopped with: {err}");
    assert_eq!(cap_of(&err), Cap::MaxWasiResources, "{err}");
    assert!(
        err.to_string().contains("sandbox.max_wasi_resources"),
        "{err}"
    );
    serves_next_call(&mut inst);
}
