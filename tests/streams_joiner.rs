//! User joiners and key modules end to end: README's tour of orders enriched with customers
//! by the Python joiner (examples/python-joiner), run step by step as the README writes
//! it; a joiner swapped mid-stream (the join's table kept, outputs switching format at one
//! point, no order lost or doubled) and a trapping version rolled back; clear errors for
//! bad modules and per-record failures of a joiner; a stream–global_table join looking up
//! the key its `key_module` selects.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::guests::guest;
use common::pipeline::*;
use common::streams::{now_ms, weir_cli};
use common::{Server, create_topic, repo_root, wait_until};
use serde_json::{Value, json};

/// Held while a test's server compiles the Python joiner (≈18 MB, seconds of CPU): the
/// servers of this file's tests would otherwise compile it at once and find the compile
/// slots busy on a loaded machine; compile limits are tests/wasm_runtime.rs' concern.
static PYTHON_COMPILE: Mutex<()> = Mutex::new(());

fn push(s: &Server, name: &str, wasm: &str) -> Value {
    let _one =
        (wasm == "python-joiner").then(|| PYTHON_COMPILE.lock().unwrap_or_else(|e| e.into_inner()));
    let path = match wasm {
        "python-joiner" => guest("python", wasm),
        "rust-filter" => guest("rust", wasm),
        _ => guest("streams", wasm),
    };
    let (code, body) = upload(s, name, &path);
    assert_eq!(code, 201, "{body}");
    body
}

/// The records of `topic` (one partition) as (key, value).
fn outputs(s: &Server, topic: &str) -> Vec<(Option<String>, Option<String>)> {
    read_all(s, topic)
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["key"].as_str().map(str::to_string),
                r["value"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// The README's shell block that writes `file` with a here-document: its YAML.
fn readme_yaml(file: &str) -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let start = format!("cat > {file} <<'YAML'\n");
    let at = readme
        .find(&start)
        .unwrap_or_else(|| panic!("README.md writes no {file}"))
        + start.len();
    let end = readme[at..].find("YAML\n").unwrap();
    readme[at..at + end].to_string()
}

/// README's "Orders enriched with customers", step by step through the CLI and HTTP API
/// as the tour writes them (the YAML read from README.md itself).
#[test]
fn the_tour_enriches_orders_with_the_python_joiner() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let cli = |args: &[&str]| {
        let (ok, out, err) = weir_cli(&s, args);
        assert!(ok, "weir {args:?}: {err}");
        out
    };
    for t in ["orders", "customers", "enriched"] {
        cli(&["topic", "create", t, "-p", "3"]);
    }
    let wasm = guest("python", "python-joiner");
    let compiling = PYTHON_COMPILE.lock().unwrap_or_else(|e| e.into_inner());
    let pushed = cli(&["module", "push", wasm.to_str().unwrap(), "--name", "enrich"]);
    drop(compiling);
    assert!(
        pushed.contains("enrich@1") && pushed.contains("joiner"),
        "{pushed}"
    );
    let yaml = dir.path().join("enrich.yaml");
    std::fs::write(&yaml, readme_yaml("enrich.yaml")).unwrap();
    cli(&["pipeline", "create", "-f", yaml.to_str().unwrap()]);
    produce(&s, "customers", vec![json!({"key": "c1", "value": "Ada"})]);
    // The tour's two posts come one after the other; here the table is read first, so
    // the order surely finds its customer.
    wait_caught_up(&s, "enrich", 1);
    produce(
        &s,
        "orders",
        vec![
            json!({"key": "c1", "value": "o-1"}),
            json!({"key": "c2", "value": "o-2"}),
        ],
    );
    wait_caught_up(&s, "enrich", 3);
    let consumed = cli(&[
        "consume",
        "enriched",
        "--from-beginning",
        "-e",
        "--format",
        "json",
    ]);
    let mut got: Vec<(String, Value)> = consumed
        .lines()
        .map(|l| {
            let r: Value = serde_json::from_str(l).unwrap();
            let value = serde_json::from_str(r["value"].as_str().unwrap()).unwrap();
            (r["key"].as_str().unwrap().to_string(), value)
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        [
            ("c1".into(), json!({"order": "o-1", "customer": "Ada"})),
            ("c2".into(), json!({"order": "o-2", "customer": null})),
        ]
    );
    // The tour's raw value, byte for byte as README shows it.
    assert!(
        consumed.contains(r#""value":"{\"order\":\"o-1\",\"customer\":\"Ada\"}""#),
        "{consumed}"
    );
    let state = cli(&["pipeline", "state", "enrich", "customers", "--key", "c1"]);
    assert!(state.contains("Ada"), "{state}");
}

/// The orders spec with the joiner `module`, over one partition so the outputs keep
/// the input order.
fn swap_spec(module: &str, config: Value) -> Value {
    json!({"name": "enrich",
        "sources": {"orders": {"topic": "orders"},
                    "customers": {"topic": "customers", "as": "table"}},
        "output": "enriched",
        "steps": [{"op": "join", "left": "orders", "right": "customers", "type": "left",
                   "module": module, "config": config}],
        "start": "earliest"})
}

/// What an output says, in either joiner's format: (order, customer), and which joiner
/// wrote it (`true`: the Python one's JSON, `false`: badjoin's `order+customer`).
fn parse(value: &str) -> ((String, Option<String>), bool) {
    if let Ok(v) = serde_json::from_str::<Value>(value) {
        let customer = v["customer"].as_str().map(str::to_string);
        return ((v["order"].as_str().unwrap().to_string(), customer), true);
    }
    let (order, customer) = value.split_once('+').unwrap();
    let customer = (customer != "-").then(|| customer.to_string());
    ((order.to_string(), customer), false)
}

#[test]
fn a_joiner_swapped_mid_stream_keeps_the_table_and_a_trapping_one_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    for t in ["orders", "customers", "enriched"] {
        create_topic(&s, t, 1);
    }
    push(&s, "enrich", "python-joiner");
    create(&s, swap_spec("enrich@1", json!({})));
    // Customers c0..c4; orders of c5 find none.
    let names = ["Ada", "Bo", "Cy", "Di", "Ed"];
    let customers = names
        .iter()
        .enumerate()
        .map(|(i, n)| json!({"key": format!("c{i}"), "value": n}))
        .collect();
    produce(&s, "customers", customers);
    wait_caught_up(&s, "enrich", 5);
    // Orders flow while the joiner is swapped, then while a broken version is deployed.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let feeder = {
        let (stop, sent) = (stop.clone(), sent.clone());
        let url = s.at("/v1/topics/orders/records");
        std::thread::spawn(move || {
            let client = common::http();
            while !stop.load(Ordering::SeqCst) {
                let first = sent.load(Ordering::SeqCst);
                let batch: Vec<Value> = (first..first + 5)
                    .map(|n| json!({"key": format!("c{}", n % 6), "value": format!("o{n}")}))
                    .collect();
                let r = client
                    .post(&url)
                    .json(&json!({ "records": batch }))
                    .send()
                    .unwrap();
                assert!(r.status().is_success(), "producing orders: {}", r.status());
                sent.fetch_add(5, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let out_count = || read_all(&s, "enriched")[0].len();
    let more = |n: usize| {
        let at = out_count();
        assert!(
            wait_until(Duration::from_secs(60), || out_count() >= at + n),
            "outputs stopped at {}",
            out_count()
        );
    };
    more(40);
    push(&s, "enrich", "badjoin");
    let (code, body) = call(
        &s,
        "PUT",
        "/v1/pipelines/enrich",
        Some(swap_spec("enrich@2", json!({}))),
    );
    assert_eq!(code, 200, "{body}");
    more(80);
    // A version that traps on every call: rolled back to enrich@2 by the tasks.
    let (code, body) = call(
        &s,
        "PUT",
        "/v1/pipelines/enrich",
        Some(swap_spec("enrich@2", json!({"trap_all": "true"}))),
    );
    assert_eq!(code, 200, "{body}");
    let mut st = Value::Null;
    assert!(
        wait_until(Duration::from_secs(60), || {
            st = status(&s, "enrich");
            st["rollbacks"].as_u64() == Some(1)
        }),
        "no rollback: {st:#}"
    );
    let reason = st["last_rollback"].as_str().unwrap_or_default();
    assert!(reason.contains("badjoin was deployed to trap"), "{st:#}");
    more(40);
    stop.store(true, Ordering::SeqCst);
    feeder.join().unwrap();
    let total = sent.load(Ordering::SeqCst);
    wait_caught_up(&s, "enrich", (5 + total) as u64);
    let got = outputs(&s, "enriched");
    assert_eq!(got.len(), total, "one result per order");
    let mut switches = 0;
    let mut python = 0;
    for (n, (key, value)) in got.iter().enumerate() {
        // In input order: nothing lost, nothing twice.
        let ((order, customer), json_format) = parse(value.as_deref().unwrap());
        assert_eq!(order, format!("o{n}"));
        assert_eq!(key.as_deref(), Some(format!("c{}", n % 6).as_str()));
        // The table survived the swap: the new joiner sees the customers read before it.
        assert_eq!(customer.as_deref(), names.get(n % 6).copied(), "order {n}");
        python += usize::from(json_format);
        if n > 0 && json_format != parse(got[n - 1].1.as_deref().unwrap()).1 {
            switches += 1;
        }
    }
    assert_eq!(switches, 1, "the format switches at one point");
    assert!(
        python >= 40 && python < total,
        "{python} of {total} by the first joiner"
    );
    let st = status(&s, "enrich");
    assert_eq!(st["records_errored"], 0, "{st:#}");
}

#[test]
fn bad_joiner_modules_and_failing_pairs_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    for t in ["orders", "customers", "enriched", "dead"] {
        create_topic(&s, t, 1);
    }
    push(&s, "filter", "rust-filter");
    push(&s, "badjoin", "badjoin");
    let refused = |step: Value, field: &str, says: &str| {
        let spec = json!({"name": "bad",
            "sources": {"orders": {"topic": "orders"},
                        "customers": {"topic": "customers", "as": "table"}},
            "output": "enriched", "steps": [step]});
        let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
        assert_eq!(code, 400, "{body}");
        let text = body.to_string();
        assert!(text.contains(field) && text.contains(says), "{text}");
    };
    let join = json!({"op": "join", "left": "orders", "right": "customers"});
    let with = |extra: Value| {
        let mut step = join.clone();
        step.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        step
    };
    refused(
        with(json!({"module": "filter"})),
        "steps[0].module",
        "one of the joiner world",
    );
    refused(with(json!({"module": "nope"})), "steps[0].module", "nope");
    refused(
        with(json!({"key_module": "badjoin"})),
        "steps[0].key_module",
        "stream–global_table",
    );
    refused(
        with(json!({"config": {"a": "b"}})),
        "steps[0].config",
        "only for a module",
    );
    // Per-record failures go where on_error says, with the joiner's message.
    let spec = json!({"name": "enrich",
        "sources": {"orders": {"topic": "orders"},
                    "customers": {"topic": "customers", "as": "table"}},
        "output": "enriched",
        "steps": [{"op": "join", "left": "orders", "right": "customers", "type": "left",
                   "module": "badjoin"}],
        "on_error": "dead-letter", "dead_letter_topic": "dead", "start": "earliest"});
    create(&s, spec);
    produce(&s, "customers", vec![json!({"key": "c1", "value": "Ada"})]);
    wait_caught_up(&s, "enrich", 1);
    let t = now_ms();
    let orders = ["o-1", "bad", "huge", "null", "o-2"]
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"key": "c1", "value": v, "timestamp": t + i as i64}))
        .collect();
    produce(&s, "orders", orders);
    wait_caught_up(&s, "enrich", 6);
    assert_eq!(
        outputs(&s, "enriched"),
        [
            (Some("c1".into()), Some("o-1+Ada".into())),
            (Some("c1".into()), None),
            (Some("c1".into()), Some("o-2+Ada".into())),
        ]
    );
    let dead = read_all(&s, "dead").concat();
    assert_eq!(dead.len(), 2, "{dead:?}");
    let error = |r: &Value| {
        r["headers"]["weir.error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(dead[0]["value"], "bad");
    assert!(
        error(&dead[0]).contains("badjoin refuses bad"),
        "{:?}",
        dead[0]
    );
    assert_eq!(dead[1]["value"], "huge");
    assert!(
        error(&dead[1]).contains("a joined value holds at most"),
        "{:?}",
        dead[1]
    );
}

/// Orders keyed by order id name their customer in the value (`c1,o-1`); the customers
/// are a global table (one partition, the orders three: no co-partitioning needed).
#[test]
fn a_global_table_join_looks_up_the_key_its_key_module_selects() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "orders", 3);
    create_topic(&s, "customers", 1);
    create_topic(&s, "enriched", 3);
    push(&s, "customer-of", "rust-key-selector");
    push(&s, "badjoin", "badjoin");
    for (name, join_type, module) in [("inner", "inner", None), ("left", "left", Some("badjoin"))] {
        let mut step = json!({"op": "join", "left": "orders", "right": "customers",
            "type": join_type, "key_module": "customer-of"});
        if let Some(m) = module {
            step["module"] = json!(m);
        }
        create(
            &s,
            json!({"name": name,
                "sources": {"orders": {"topic": "orders"},
                            "customers": {"topic": "customers", "as": "global_table"}},
                "output": "enriched", "steps": [step], "start": "earliest"}),
        );
    }
    produce(
        &s,
        "customers",
        vec![
            json!({"key": "c1", "value": "Ada"}),
            json!({"key": "c2", "value": "Bo"}),
        ],
    );
    wait_caught_up(&s, "inner", 2);
    wait_caught_up(&s, "left", 2);
    produce(
        &s,
        "orders",
        vec![
            json!({"key": "o-1", "value": "c1,o-1"}),
            json!({"key": "o-2", "value": "c9,o-2"}),
            json!({"key": "o-3", "value": "no customer"}),
            json!({"key": "o-4", "value": "c2,o-4"}),
        ],
    );
    wait_caught_up(&s, "inner", 6);
    wait_caught_up(&s, "left", 6);
    let mut got: Vec<(String, String)> = read_all(&s, "enriched")
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_string(),
                r["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    let default = |l: &str, r: &str| json!({"left": l, "right": r}).to_string();
    // Inner: the default joiner, matches only; left: badjoin, o-2 (an unknown customer)
    // and o-3 (naming none) joined with null, as Kafka Streams 4 does.
    let mut want = vec![
        pair("o-1", &default("c1,o-1", "Ada")),
        pair("o-4", &default("c2,o-4", "Bo")),
        pair("o-1", "c1,o-1+Ada"),
        pair("o-2", "c9,o-2+-"),
        pair("o-3", "no customer+-"),
        pair("o-4", "c2,o-4+Bo"),
    ];
    want.sort();
    assert_eq!(got, want);
    // The key module is in use: it cannot be deleted from under the pipelines.
    let (code, body) = call(&s, "DELETE", "/v1/modules/customer-of/1", None);
    assert_eq!(code, 409, "{body}");
    assert!(body.to_string().contains("module_in_use"), "{body}");
}
