//! The JavaScript guest SDK (guest-sdk/js) world by world through the runtime's library API:
//! a `transform()` map, a stateful `processor()` (state, routing, timer, per-record
//! failures), an `aggregator()` with every function (subtract has no pipeline step yet),
//! a `joiner()` and a `keySelector()`, each answering the WIT error variant the Python and
//! Rust SDKs answer. Pipelines running them on `weir serve` are tests/js_streams.rs'.

mod common;

use bytes::Bytes;
use std::sync::Arc;
use weir::log::batch::Record;
use weir::runtime::aggregator::AggregatorInput;
use weir::runtime::{
    Body, Instance, InstanceConfig, MemoryState, Origin, Plugin, Runtime, RuntimeConfig, World,
};

fn record(key: Option<&str>, value: &str, ts: i64) -> Record {
    Record {
        key: key.map(|k| Bytes::from(k.to_owned())),
        value: Some(Bytes::from(value.to_owned())),
        headers: vec![],
        timestamp: ts,
    }
}

fn origin(n: usize) -> Origin {
    Origin {
        topic: "in".into(),
        partition: 0,
        offsets: (0..n as i64).collect(),
    }
}

/// The JS guest `name` (scripts/build-guests js), loaded, with its world checked.
fn load(name: &str, world: World) -> (tempfile::TempDir, Arc<Plugin>) {
    let wasm = common::guests::guest("js", name);
    let cache = tempfile::tempdir().unwrap();
    let rt = Runtime::new(RuntimeConfig::with_cache(cache.path())).unwrap();
    let plugin = rt.load_file(&wasm).unwrap();
    assert_eq!(plugin.world(), world);
    (cache, plugin)
}

fn text(b: Option<&Bytes>) -> Option<String> {
    b.map(|b| String::from_utf8_lossy(b).into_owned())
}

#[test]
fn a_js_transform_maps_flat_maps_drops_and_fails_per_record() {
    let (_cache, plugin) = load("js-mapper", World::Transform);
    let mut inst = Instance::new(plugin, InstanceConfig::default()).unwrap();
    let input = vec![
        record(Some("a"), "héllo", 10),
        record(Some("b"), "twice", 20),
        record(Some("c"), "drop", 30),
        record(Some("d"), "bad", 40),
        record(Some("e"), "boom", 50),
    ];
    let out = inst.process(&origin(input.len()), &input).unwrap();
    let got: Vec<_> = out
        .records
        .iter()
        .map(|r| {
            let Body::New(rec) = &r.body else {
                panic!("a map makes new records")
            };
            (
                r.source,
                text(rec.key.as_ref()),
                text(rec.value.as_ref()).unwrap(),
                rec.headers.clone(),
                rec.timestamp,
            )
        })
        .collect();
    let by_js = vec![("by".to_string(), Some(Bytes::from_static(b"js")))];
    assert_eq!(
        got,
        [
            (Some(0), Some("a".into()), "HÉLLO".into(), by_js.clone(), 11),
            (Some(1), Some("b".into()), "TWICE".into(), by_js, 21),
            (Some(1), None, "TWICE".into(), vec![], 21),
        ]
    );
    let failures: Vec<_> = out
        .failures
        .iter()
        .map(|f| (f.index, f.message.as_str()))
        .collect();
    assert_eq!(
        failures,
        [
            (
                3,
                "TypeError: a value must be a Uint8Array or a string or null, not number"
            ),
            (4, "Error: boom"),
        ]
    );
}

/// The JS twin of tests/wasm_runtime.rs' Python processor: state lasting across batches,
/// routing by header, per-record failures (a failed record emits nothing; a wrong type handed
/// to the state API must not trap the instance) and a timer report.
#[test]
fn a_js_processor_keeps_state_routes_fails_per_record_and_reports_on_timer() {
    let (_cache, plugin) = load("js-counter", World::Processor);
    let cfg = InstanceConfig {
        state: Some(Box::new(MemoryState::new())),
        ..InstanceConfig::default()
    };
    let mut inst = Instance::new(plugin, cfg).unwrap();
    assert_eq!(inst.timer_interval_ms(), Some(50), "asked for in init");
    let mut routed = record(Some("b"), "2", 2);
    routed.headers = vec![("route".into(), Some(Bytes::from_static(b"side")))];
    let first = vec![
        record(Some("a"), "1", 1),
        routed,
        record(None, "x", 3),
        record(Some("a"), "boom", 4),
    ];
    let out = inst.process(&origin(first.len()), &first).unwrap();
    let seen: Vec<_> = out
        .records
        .iter()
        .map(|r| {
            let rec = r.record(&first).unwrap();
            (
                r.source,
                r.topic.clone(),
                text(rec.key.as_ref()),
                text(rec.value.as_ref()).unwrap(),
                rec.timestamp,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (Some(0), None, Some("a".into()), "a=1".to_string(), 1),
            (
                Some(1),
                Some("side".into()),
                Some("b".into()),
                "b=1".into(),
                2
            ),
        ]
    );
    let failures: Vec<_> = out
        .failures
        .iter()
        .map(|f| (f.index, f.message.as_str()))
        .collect();
    assert_eq!(
        failures,
        [
            (
                2,
                "TypeError: a state key must be a Uint8Array or a string, not null"
            ),
            (3, "Error: boom"),
        ]
    );
    // A key over the host's state limit (4 KiB) is `too-large`: that record's failure, not a
    // refusal of the batch (which the host would retry forever).
    let long = "x".repeat(5000);
    let second = vec![record(Some(&long), "1", 5), record(Some("a"), "3", 6)];
    let out = inst.process(&origin(2), &second).unwrap();
    assert_eq!(out.failures.len(), 1, "{:?}", out.failures);
    assert_eq!(out.failures[0].index, 0);
    assert!(
        out.failures[0].message.starts_with("RangeError: state: "),
        "{:?}",
        out.failures
    );
    assert_eq!(out.records.len(), 1);
    let rec = out.records[0].record(&second).unwrap();
    assert_eq!(rec.value.as_deref(), Some(b"a=2".as_slice()));
    assert_eq!(inst.builds(), 1, "no failure rebuilt the instance");
    let timer = inst.on_timer(1234).unwrap();
    let Body::New(report) = &timer.records[0].body else {
        panic!("a timer makes new records");
    };
    assert_eq!(report.value.as_deref(), Some(b"keys=2".as_slice()));
    assert_eq!(report.key.as_deref(), Some(b"report".as_slice()));
    assert_eq!(report.timestamp, 1234);
    assert_eq!(timer.records[0].source, None);
}

#[test]
fn a_js_aggregator_answers_every_function_and_names_the_one_that_failed() {
    let (_cache, plugin) = load("js-summer", World::Aggregator);
    let mut inst = Instance::new(plugin, InstanceConfig::default()).unwrap();
    let item = |value: &'static str| AggregatorInput {
        key: b"k",
        value: value.as_bytes(),
        timestamp: 7,
    };
    assert_eq!(inst.initial().unwrap().unwrap(), b"0");
    assert_eq!(inst.add(item("5"), b"0").unwrap().unwrap(), b"5");
    assert_eq!(inst.add(item("-7"), b"5").unwrap().unwrap(), b"-2");
    assert_eq!(inst.merge(b"k", b"40", b"2").unwrap().unwrap(), b"42");
    assert_eq!(inst.subtract(item("3"), b"10").unwrap().unwrap(), b"7");
    let refused = inst.add(item("boom"), b"1").unwrap().unwrap_err();
    assert_eq!(
        refused.to_string(),
        "aggregator add failed: Error: \"boom\" is not a whole number"
    );
    let refused = inst.merge(b"k", b"1", b"x").unwrap().unwrap_err();
    assert_eq!(refused.function, "merge");
    let refused = inst.subtract(item("1"), b"?").unwrap().unwrap_err();
    assert_eq!(refused.function, "subtract");
    assert!(
        refused.message.contains("\"?\" is not a whole number"),
        "{refused}"
    );
    assert_eq!(inst.add(item("1"), b"41").unwrap().unwrap(), b"42");
    assert_eq!(inst.builds(), 1, "a refusal is no trap");
}

#[test]
fn a_js_joiner_joins_misses_answers_null_and_fails_a_pair() {
    let (_cache, plugin) = load("js-joiner", World::Joiner);
    let mut inst = Instance::new(plugin, InstanceConfig::default()).unwrap();
    let mut join = |l: Option<&str>, r: Option<&str>| {
        inst.join_values(Some(b"k"), l.map(str::as_bytes), r.map(str::as_bytes))
            .unwrap()
            .map(|v| v.map(|v| String::from_utf8(v).unwrap()))
    };
    assert_eq!(join(Some("o-1"), Some("Ada")), Ok(Some("o-1+Ada".into())));
    assert_eq!(join(Some("o-2"), None), Ok(Some("o-2+-".into())));
    assert_eq!(join(None, Some("Bo")), Ok(Some("-+Bo".into())));
    assert_eq!(join(Some("null"), Some("Bo")), Ok(None));
    assert_eq!(
        join(Some("boom"), Some("Bo")),
        Err("joiner join failed: Error: boom cannot be joined".into())
    );
}

#[test]
fn a_js_key_selector_selects_drops_and_fails_per_record() {
    let (_cache, plugin) = load("js-keys", World::KeySelector);
    let cfg = InstanceConfig {
        config: [("separator".to_string(), ":".to_string())].into(),
        ..InstanceConfig::default()
    };
    let mut inst = Instance::new(plugin, cfg).unwrap();
    let input = vec![
        record(Some("v1"), "site1:/a", 1),
        record(Some("v2"), "nowhere", 2),
        record(Some("v3"), "boom", 3),
        record(None, "sïte2:/b", 4),
    ];
    let selected = inst.select_keys(&origin(input.len()), &input).unwrap();
    assert_eq!(selected.keys[0].as_deref(), Some(b"site1".as_slice()));
    assert_eq!(selected.keys[1], None, "no separator: dropped");
    assert_eq!(selected.keys[3].as_deref(), Some("sïte2".as_bytes()));
    let failures: Vec<_> = selected
        .failures
        .iter()
        .map(|f| (f.index, f.message.as_str()))
        .collect();
    assert_eq!(failures, [(2, "Error: boom has no key")]);
}
