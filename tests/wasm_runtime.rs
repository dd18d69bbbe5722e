//! The Wasm runtime through its library API: the Rust example filter, a map, a stateful
//! processor, the precompiled cache, and validation of files that are not weir plugins.

mod common;

use std::collections::BTreeMap;

use bytes::Bytes;
use std::time::{Duration, Instant};
use weir::log::batch::Record;

use weir::runtime::{
    Body, Instance, InstanceConfig, MemoryState, Origin, Runtime, RuntimeConfig, RuntimeError,
    SandboxSettings, SledState, World,
};

fn record(key: &str, value: &str, ts: i64) -> Record {
    Record {
        key: Some(Bytes::from(key.to_owned())),
        value: Some(Bytes::from(value.to_owned())),
        headers: vec![("h".into(), Some(Bytes::from_static(b"v")))],
        timestamp: ts,
    }
}

fn origin(n: usize) -> Origin {
    Origin {
        topic: "in".into(),
        partition: 0,
        offsets: (0..n as i64).map(|i| 100 + i).collect(),
    }
}

fn config(pairs: &[(&str, &str)]) -> InstanceConfig {
    InstanceConfig {
        config: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        ..InstanceConfig::default()
    }
}

fn values(out: &weir::runtime::Output, inputs: &[Record]) -> Vec<String> {
    out.records
        .iter()
        .map(|r| r.record(inputs).expect("output record resolves"))
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect()
}

#[test]
fn rust_filter_keeps_matching_records_unchanged() {
    let wasm = common::guests::guest("rust", "rust-filter");
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let plugin = rt.load_file(&wasm).unwrap();
    assert_eq!(plugin.world(), World::Transform);
    let mut inst = Instance::new(plugin, config(&[("pattern", "err")])).unwrap();
    let input = vec![
        record("a", "all fine", 1),
        record("b", "an error here", 2),
        record("c", "nothing", 3),
        record("d", "error again", 4),
    ];
    let out = inst.process(&origin(4), &input).unwrap();
    assert_eq!(values(&out, &input), ["an error here", "error again"]);
    assert_eq!(out.records[0].source, Some(1));
    assert_eq!(
        out.records[1].body,
        Body::Input,
        "kept records are the input records, not copies"
    );
    assert_eq!(out.records[1].record(&input), Some(&input[3]));
    assert!(out.failures.is_empty());
    // A tombstone has no value, so it never matches; the next batch still works.
    let tomb = Record {
        value: None,
        ..record("t", "", 5)
    };
    let second = [tomb, record("e", "err", 6)];
    let out = inst.process(&origin(2), &second).unwrap();
    assert_eq!(values(&out, &second), ["err"]);
}

/// The SDK's Wasm SIMD search (blocks of 16 positions, a clamped last block, candidates
/// checked in full) against a plain search, on values long and short with the needle, parts
/// of it and near misses anywhere, and needles of several lengths.
#[test]
fn rust_filter_simd_search_agrees_with_a_plain_search() {
    let wasm = common::guests::guest("rust", "rust-filter");
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let plugin = rt.load_file(&wasm).unwrap();
    // xorshift: deterministic values over a small alphabet, so partial matches are common.
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for needle in ["ab", "abc", "error", "abcabcabcabcabcab", "a"] {
        let mut values: Vec<Vec<u8>> = Vec::new();
        for len in (0..300).chain([511, 512, 513, 1000]) {
            let mut v: Vec<u8> = (0..len).map(|_| b"abcx"[(next() % 4) as usize]).collect();
            if len >= needle.len() && next() % 2 == 0 {
                let at = (next() as usize) % (len - needle.len() + 1);
                v[at..at + needle.len()].copy_from_slice(needle.as_bytes());
            }
            values.push(v);
        }
        let input: Vec<Record> = values
            .iter()
            .map(|v| Record {
                value: Some(Bytes::from(v.clone())),
                ..Record::default()
            })
            .collect();
        let expected: Vec<u32> = (0..values.len() as u32)
            .filter(|&i| {
                values[i as usize]
                    .windows(needle.len())
                    .any(|w| w == needle.as_bytes())
            })
            .collect();
        let mut inst = Instance::new(plugin.clone(), config(&[("pattern", needle)])).unwrap();
        let out = inst.process(&origin(input.len()), &input).unwrap();
        let kept: Vec<u32> = out.records.iter().filter_map(|r| r.source).collect();
        assert_eq!(kept, expected, "needle {needle:?}");
    }
}

#[test]
fn rust_filter_without_pattern_refuses_the_batch_as_invalid_config() {
    let wasm = common::guests::guest("rust", "rust-filter");
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let mut inst = Instance::new(rt.load_file(&wasm).unwrap(), config(&[])).unwrap();
    let err = inst
        .process(&origin(1), &[record("a", "x", 1)])
        .unwrap_err();
    match &err {
        RuntimeError::Plugin { kind, message, .. } => {
            assert_eq!(*kind, "invalid-config");
            assert!(message.contains("pattern"), "{err}");
        }
        other => panic!("expected a plugin error, got {other}"),
    }
}

#[test]
fn map_emits_new_records_with_their_sources() {
    let wasm = common::guests::guest("hostile", "upper");
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let mut inst = Instance::new(rt.load_file(&wasm).unwrap(), config(&[])).unwrap();
    let input = vec![record("k1", "abc", 7), record("k2", "xyz", 8)];
    let out = inst.process(&origin(2), &input).unwrap();
    assert_eq!(values(&out, &input), ["ABC", "XYZ"]);
    let first = &out.records[0];
    let Body::New(first_record) = &first.body else {
        panic!("a map emits new records");
    };
    assert_eq!(first.source, Some(0));
    assert_eq!(first_record.key.as_deref(), Some(b"k1".as_slice()));
    assert_eq!(first_record.timestamp, 7);
    assert_eq!(
        first_record.headers,
        vec![
            ("h".to_string(), Some(Bytes::from_static(b"v"))),
            ("mapped-by".to_string(), Some(Bytes::from_static(b"upper")))
        ]
    );
}

fn run_counter(state: Box<dyn weir::runtime::StateBackend>) -> Vec<(Option<String>, String)> {
    let wasm = common::guests::guest("hostile", "counter");
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let plugin = rt.load_file(&wasm).unwrap();
    assert_eq!(plugin.world(), World::Processor);
    let cfg = InstanceConfig {
        state: Some(state),
        ..InstanceConfig::default()
    };
    let mut inst = Instance::new(plugin, cfg).unwrap();
    assert_eq!(inst.timer_interval_ms(), Some(50), "asked for in init");
    let mut seen = Vec::new();
    for batch in [
        vec![record("a", "1", 1), record("b", "2", 2)],
        vec![record("a", "3", 3)],
    ] {
        let out = inst.process(&origin(batch.len()), &batch).unwrap();
        seen.extend(out.records.iter().map(|r| {
            let rec = r.record(&batch).expect("output record resolves");
            let v = String::from_utf8_lossy(rec.value.as_deref().unwrap_or_default()).into_owned();
            (r.topic.clone(), v)
        }));
    }
    let timer = inst.on_timer(1234).unwrap();
    assert_eq!(timer.records.len(), 1);
    assert_eq!(timer.records[0].source, None);
    let Body::New(report) = &timer.records[0].body else {
        panic!("a timer makes new records");
    };
    assert_eq!(report.value.as_deref(), Some(b"keys=2 at 1234".as_slice()));
    assert_eq!(report.timestamp, 1234);
    seen
}

/// A processor written in Python with the helper module (`weir.processor`): state that lasts
/// across batches, routing to a named topic, a per-record failure (including a wrong type
/// handed to the state API, which must not trap the instance) and a timer report.
#[test]
fn python_processor_keeps_state_routes_fails_per_record_and_reports_on_timer() {
    let wasm = common::guests::guest("python", "python-counter");
    let cache = tempfile::tempdir().unwrap();
    let rt = Runtime::new(RuntimeConfig::with_cache(cache.path())).unwrap();
    let plugin = rt.load_file(&wasm).unwrap();
    assert_eq!(plugin.world(), World::Processor);
    let cfg = InstanceConfig {
        state: Some(Box::new(MemoryState::new())),
        ..InstanceConfig::default()
    };
    let mut inst = Instance::new(plugin, cfg).unwrap();
    assert_eq!(inst.timer_interval_ms(), Some(50), "asked for in init");
    let mut routed = record("b", "2", 2);
    routed.headers = vec![("route".into(), Some(Bytes::from_static(b"side")))];
    let keyless = Record {
        key: None,
        ..record("-", "x", 3)
    };
    let first = vec![record("a", "1", 1), routed, keyless, record("a", "boom", 4)];
    let out = inst.process(&origin(first.len()), &first).unwrap();
    let seen: Vec<_> = out
        .records
        .iter()
        .map(|r| {
            let rec = r.record(&first).unwrap();
            (
                r.source,
                r.topic.clone(),
                String::from_utf8_lossy(rec.value.as_deref().unwrap()).into_owned(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (Some(0), None, "a=1".to_string()),
            (Some(1), Some("side".to_string()), "b=1".to_string()),
        ]
    );
    let failures: Vec<_> = out
        .failures
        .iter()
        .map(|f| (f.index, f.message.as_str()))
        .collect();
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert_eq!(failures[0].0, 2);
    assert!(
        failures[0].1.contains("a state key must be bytes"),
        "{failures:?}"
    );
    assert_eq!(failures[1], (3, "ValueError: boom"));
    // The state lasts into the next batch; the instance was not rebuilt by the bad records.
    let second = vec![record("a", "3", 5)];
    let out = inst.process(&origin(1), &second).unwrap();
    let rec = out.records[0].record(&second).unwrap();
    assert_eq!(rec.value.as_deref(), Some(b"a=2".as_slice()));
    assert_eq!(inst.builds(), 1);
    let timer = inst.on_timer(1234).unwrap();
    let Body::New(report) = &timer.records[0].body else {
        panic!("a timer makes new records");
    };
    assert_eq!(report.value.as_deref(), Some(b"keys=2".as_slice()));
    assert_eq!(report.timestamp, 1234);
}

#[test]
fn processor_counts_per_key_in_memory_and_in_sled_alike() {
    let expected = vec![
        (None, "a=1".to_string()),
        (None, "b=1".to_string()),
        (None, "a=2".to_string()),
        (Some("evens".to_string()), "3".to_string()),
    ];
    assert_eq!(run_counter(Box::new(MemoryState::new())), expected);
    let db = sled::Config::new().temporary(true).open().unwrap();
    let tree = db.open_tree("counter").unwrap();
    assert_eq!(
        run_counter(Box::new(SledState::new(tree.clone()))),
        expected
    );
    assert_eq!(
        tree.get(b"a").unwrap().as_deref(),
        Some(2u64.to_le_bytes().as_slice())
    );
}

#[test]
fn a_second_load_uses_the_precompiled_cache() {
    let wasm = common::guests::guest("rust", "rust-filter");
    let cache = tempfile::tempdir().unwrap();
    let rt = Runtime::new(RuntimeConfig::with_cache(cache.path())).unwrap();
    rt.load_file(&wasm).unwrap();
    assert_eq!(rt.compilations(), 1);
    rt.load_file(&wasm).unwrap();
    assert_eq!(
        rt.compilations(),
        1,
        "same runtime, same bytes: no recompilation"
    );
    // A "restart": a new runtime on the same cache directory.
    let restarted = Runtime::new(RuntimeConfig::with_cache(cache.path())).unwrap();
    let plugin = restarted.load_file(&wasm).unwrap();
    assert_eq!(restarted.compilations(), 0, "a restart must not recompile");
    assert_eq!(restarted.cache_hits(), 1);
    let mut inst = Instance::new(plugin, config(&[("pattern", "x")])).unwrap();
    let one = [record("k", "x", 1)];
    assert_eq!(
        values(&inst.process(&origin(1), &one).unwrap(), &one),
        ["x"]
    );
    // Without a cache directory every load compiles.
    let uncached = Runtime::new(RuntimeConfig::default()).unwrap();
    uncached.load_file(&wasm).unwrap();
    uncached.load_file(&wasm).unwrap();
    assert_eq!(uncached.compilations(), 2);
}

#[test]
fn files_that_are_not_weir_plugins_are_refused_with_the_reason() {
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let err = rt.load("text", b"hello, not wasm").unwrap_err();
    assert!(matches!(err, RuntimeError::NotWasm { .. }), "{err}");
    assert!(err.to_string().contains("not a WebAssembly file"), "{err}");

    let core = b"\0asm\x01\0\0\0";
    let err = rt.load("core", core).unwrap_err();
    assert!(matches!(err, RuntimeError::CoreModule { .. }), "{err}");
    assert!(err.to_string().contains("not a component"), "{err}");

    let err = rt
        .load("torn", b"\0asm\x0d\0\x01\0\x07garbage")
        .unwrap_err();
    assert!(
        matches!(err, RuntimeError::InvalidComponent { .. }),
        "{err}"
    );

    let command = std::fs::read(common::guests::guest("hostile", "command")).unwrap();
    let err = rt.load("command", &command).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, RuntimeError::NoWeirWorld { .. }), "{text}");
    assert!(text.contains("weir:plugin/transformer@0.1.0"), "{text}");
    assert!(text.contains("wasi:cli/run"), "{text}");
    assert!(text.contains("looks like a WASI command"), "{text}");

    let wrong = std::fs::read(common::guests::guest("hostile", "wrongtypes")).unwrap();
    let err = rt.load("wrongtypes", &wrong).unwrap_err();
    let text = format!("{err}");
    assert!(
        matches!(
            err,
            RuntimeError::WorldMismatch {
                world: "transform",
                ..
            }
        ),
        "{text}"
    );
    assert!(
        text.contains("process: func(origin, batch)") && text.contains("type mismatch"),
        "the message says what was expected and what is wrong: {text}"
    );
}

/// Issue 13, point 7: compiles are bounded (here rather than in wasm_sandbox.rs, whose RSS
/// bounds a Python compile running alongside would blur). With one compile slot and no queue, a load that needs a
/// compile while another one compiles (a Python component: seconds) is refused at once as
/// busy, naming the setting, instead of compiling alongside.
#[test]
fn a_compile_past_the_slots_is_refused_as_busy() {
    let python = std::fs::read(common::guests::guest("python", "python-filter")).unwrap();
    let rust = std::fs::read(common::guests::guest("hostile", "upper")).unwrap();
    // No cache directory: every load compiles.
    let rt = Runtime::new(RuntimeConfig {
        sandbox: SandboxSettings {
            compile_concurrency: 1,
            compile_queue: 0,
            compile_wait: Duration::ZERO,
            ..SandboxSettings::default()
        },
        ..RuntimeConfig::default()
    })
    .unwrap();
    let busy = std::thread::scope(|s| {
        // The Python load retries until it has the slot (the loop below may hold it), then
        // holds it for the seconds its compile takes.
        let slow = s.spawn(|| {
            loop {
                match rt.load("python-filter", &python) {
                    Err(RuntimeError::CompileBusy { .. }) => std::thread::yield_now(),
                    done => return done,
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut busy = None;
        while !slow.is_finished() && Instant::now() < deadline {
            match rt.load("upper", &rust) {
                Err(err @ RuntimeError::CompileBusy { .. }) => {
                    busy = Some(err);
                    break;
                }
                _ => std::thread::yield_now(),
            }
        }
        slow.join().unwrap().expect("the Python component loads");
        busy
    });
    let err = busy.expect("no load was refused while the Python component compiled");
    assert!(
        err.is_host_fault(),
        "busy is the server's, not the uploader's"
    );
    assert!(
        err.to_string().contains("sandbox.compile_concurrency"),
        "{err}"
    );
    // Once the slot is free, the same load compiles.
    rt.load("upper", &rust).unwrap();
}
