//! Crash test: SIGKILL a real `weir serve` at random moments while clients
//! produce with acknowledgements, restart it, and check after every restart that
//! each acknowledged record is present, offsets are dense, nothing is duplicated
//! and every stored batch still reads back (CRCs verified).

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Server, http};
use rand::Rng;
use serde_json::{Value, json};

const KILLS: usize = 24;
const PARTITIONS: i64 = 3;
const TOPIC: &str = "crash";

/// (partition, offset) → value of every acknowledged record.
type Acked = Arc<Mutex<BTreeMap<(i64, i64), String>>>;

fn producer(url: String, acked: Acked, seq: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    let client = http();
    let mut rng = rand::rng();
    while !stop.load(Ordering::SeqCst) {
        let n = rng.random_range(1..=20);
        let values: Vec<String> = (0..n)
            .map(|_| {
                format!(
                    "v{}-{}",
                    seq.fetch_add(1, Ordering::SeqCst),
                    "x".repeat(rng.random_range(0..200))
                )
            })
            .collect();
        let records: Vec<Value> = values
            .iter()
            .map(|v| json!({"key": &v[..v.find('-').unwrap_or(v.len())], "value": v}))
            .collect();
        let resp = client
            .post(format!("{url}/v1/topics/{TOPIC}/records"))
            .json(&json!({ "records": records }))
            .send();
        let Ok(resp) = resp else { return };
        if !resp.status().is_success() {
            return;
        }
        let Ok(body) = resp.json::<Value>() else {
            return;
        };
        let mut acked = acked.lock().unwrap();
        for (v, o) in values.iter().zip(body["offsets"].as_array().unwrap()) {
            let key = (
                o["partition"].as_i64().unwrap(),
                o["offset"].as_i64().unwrap(),
            );
            assert!(
                acked.insert(key, v.clone()).is_none(),
                "offset {key:?} acknowledged twice"
            );
        }
    }
}

/// Reads every record of a partition over HTTP: (offset, value) in order.
fn read_partition(server: &Server, partition: i64) -> Vec<(i64, String)> {
    let client = http();
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let body: Value = client
            .get(server.at(&format!(
                "/v1/topics/{TOPIC}/partitions/{partition}/records?offset={offset}&max=10000"
            )))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let records = body["records"]
            .as_array()
            .unwrap_or_else(|| panic!("bad read: {body}"));
        if records.is_empty() {
            assert_eq!(offset, body["high_watermark"].as_i64().unwrap());
            return out;
        }
        for r in records {
            out.push((
                r["offset"].as_i64().unwrap(),
                r["value"].as_str().unwrap().to_string(),
            ));
        }
        offset = body["next_offset"].as_i64().unwrap();
    }
}

fn verify(server: &Server, acked: &BTreeMap<(i64, i64), String>, round: usize) -> usize {
    let mut seen = HashSet::new();
    let mut total = 0;
    for p in 0..PARTITIONS {
        let records = read_partition(server, p);
        for (i, (offset, value)) in records.iter().enumerate() {
            assert_eq!(
                *offset, i as i64,
                "round {round}: offsets of partition {p} are not dense"
            );
            assert!(
                seen.insert(value.clone()),
                "round {round}: {value} stored twice"
            );
        }
        total += records.len();
        for ((ap, ao), value) in acked.range((p, 0)..(p + 1, 0)) {
            let stored = records.get(*ao as usize).map(|(_, v)| v);
            assert_eq!(
                stored,
                Some(value),
                "round {round}: acknowledged record {ap}-{ao} lost"
            );
        }
    }
    total
}

#[test]
fn acknowledged_records_survive_sigkill_at_random_moments() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Half the rounds run with flush = "os": a process crash must lose nothing
    // acknowledged under either policy, since the page cache survives it.
    let os_flush = dir.path().join("os.toml");
    std::fs::write(&os_flush, "[log]\nflush = \"os\"\n").unwrap();
    let os_flush = os_flush.to_string_lossy().into_owned();

    let server = Server::start(&data, &[]);
    let resp = http()
        .post(server.at("/v1/topics"))
        .json(&json!({"name": TOPIC, "partitions": PARTITIONS, "config": {"segment.bytes": 8192}}))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 201);
    let acked: Acked = Arc::default();
    let seq = Arc::new(AtomicU64::new(0));
    let mut rng = rand::rng();
    let mut server = Some(server);
    for round in 0..KILLS {
        let s = server.take().unwrap_or_else(|| {
            let extra: &[&str] = if round % 2 == 1 {
                &["--config", &os_flush]
            } else {
                &[]
            };
            Server::start(&data, extra)
        });
        let total = verify(&s, &acked.lock().unwrap(), round);
        assert!(total >= acked.lock().unwrap().len());
        let stop = Arc::new(AtomicBool::new(false));
        let producers: Vec<_> = (0..2)
            .map(|_| {
                let (url, acked, seq, stop) =
                    (s.url.clone(), acked.clone(), seq.clone(), stop.clone());
                std::thread::spawn(move || producer(url, acked, seq, stop))
            })
            .collect();
        // The kill moment is what is random here; nothing waits on this sleep.
        std::thread::sleep(Duration::from_millis(rng.random_range(20..300)));
        s.kill();
        stop.store(true, Ordering::SeqCst);
        for p in producers {
            p.join().expect("producer thread panicked");
        }
    }
    let s = Server::start(&data, &[]);
    let acked = acked.lock().unwrap();
    let total = verify(&s, &acked, KILLS);
    assert!(
        acked.len() > 100,
        "too few acknowledged records ({}) to mean anything",
        acked.len()
    );
    eprintln!(
        "{KILLS} kills, {} acknowledged records, {total} stored",
        acked.len()
    );
    assert!(s.stop(), "clean shutdown after the crash rounds");
}
