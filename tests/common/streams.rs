//! Shared helpers of the streams tests: a reference of Kafka's tumbling and hopping
//! window rules, result parsing, and deploying a windowed step over HTTP.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Server;
use super::pipeline::{call, read_all};

/// SIGKILLs in each crash test.
pub const KILLS: usize = 20;

/// (window start, key) → (value, largest timestamp).
pub type Windows = BTreeMap<(i64, String), (i64, i64)>;

/// Kafka's rules, spelled out: stream time is the largest timestamp so far; a record
/// goes into every window `[start, start + size)` holding it (starts are multiples of
/// `advance` from 0) whose `start + size + grace > stream time`; late when none is.
/// Returns the windows, the late count and the final stream time.
pub fn reference(
    input: &[(String, i64, i64)],
    size: i64,
    advance: i64,
    grace: i64,
) -> (Windows, u64, i64) {
    let mut state = Windows::new();
    let mut stream_time = i64::MIN;
    let mut late = 0;
    for (key, value, ts) in input {
        stream_time = stream_time.max(*ts);
        let mut taken = false;
        // Every multiple of the advance from well before the record: the check below,
        // not this bound, decides which windows hold it.
        let mut start = ((ts - size) / advance - 1).max(0) * advance;
        while start <= *ts {
            if *ts < start + size && start + size + grace > stream_time {
                let e = state.entry((start, key.clone())).or_insert((0, *ts));
                e.0 += value;
                e.1 = e.1.max(*ts);
                taken = true;
            }
            start += advance;
        }
        late += u64::from(!taken);
    }
    (state, late, stream_time)
}

/// Only the windows stream time has closed (what emit on close must have written).
pub fn closed(w: Windows, size: i64, grace: i64, stream_time: i64) -> Windows {
    w.into_iter()
        .filter(|((start, _), _)| start + size + grace <= stream_time)
        .collect()
}

/// One output record as (window start, key, value, timestamp), checking its window
/// headers against the size.
pub fn result(r: &Value, size: i64) -> (i64, String, i64, i64) {
    let header = |name: &str| -> i64 {
        r["headers"][name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} header in {r}"))
            .parse()
            .unwrap()
    };
    let start = header("weir.window.start");
    assert_eq!(header("weir.window.end"), start + size, "{r}");
    (
        start,
        r["key"].as_str().unwrap().to_string(),
        r["value"].as_str().unwrap().parse().unwrap(),
        r["timestamp"].as_i64().unwrap(),
    )
}

/// Now, ms since the epoch: test timestamps stay near it, or time-based retention would
/// delete the segments of their (1970) records under the test.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Deploys pipeline `name`: `clicks` → `step` → `counts`, from the earliest offset.
pub fn deploy(s: &Server, name: &str, step: Value) {
    let spec = json!({"name": name, "inputs": ["clicks"], "output": "counts",
        "steps": [step], "start": "earliest", "on_error": "skip"});
    let (code, body) = call(s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
}

/// A record for the records API.
pub fn click(key: &str, value: &str, ts: i64) -> Value {
    json!({"key": key, "value": value, "timestamp": ts})
}

/// The input as (key, what it adds, timestamp) per partition, in offset order: 1 for a
/// count, the value for a sum.
pub fn input_of(s: &Server, count: bool) -> Vec<Vec<(String, i64, i64)>> {
    read_all(s, "clicks")
        .into_iter()
        .map(|p| {
            p.iter()
                .map(|r| {
                    (
                        r["key"].as_str().unwrap().to_string(),
                        if count {
                            1
                        } else {
                            r["value"].as_str().unwrap().parse().unwrap()
                        },
                        r["timestamp"].as_i64().unwrap(),
                    )
                })
                .collect()
        })
        .collect()
}

/// A crash test's middle: a feeder thread posts `batch`es to `topic` (sleeping a random
/// `pause_ms` between them) while the server is SIGKILLed and restarted [`KILLS`] times
/// at random moments; returns the last server once the feeder has stopped. Posts refused
/// or cut short while the server is down are dropped: the checks read the log.
pub fn kill_while_feeding(
    mut s: Server,
    dir: &std::path::Path,
    topic: &str,
    seed: u64,
    pause_ms: std::ops::Range<u64>,
    mut batch: impl FnMut(&mut rand::rngs::StdRng) -> Vec<Value> + Send + 'static,
) -> Server {
    use rand::{Rng, SeedableRng};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    let url = Arc::new(Mutex::new(s.url.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let (url, stop) = (url.clone(), stop.clone());
        let path = format!("/v1/topics/{topic}/records");
        std::thread::spawn(move || {
            let client = super::http();
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            while !stop.load(Ordering::SeqCst) {
                let records = batch(&mut rng);
                let target = url.lock().unwrap().clone();
                let _ = client
                    .post(format!("{target}{path}"))
                    .json(&json!({ "records": records }))
                    .timeout(Duration::from_secs(5))
                    .send();
                std::thread::sleep(Duration::from_millis(rng.random_range(pause_ms.clone())));
            }
        })
    };
    let mut rng = rand::rng();
    for _ in 0..KILLS {
        std::thread::sleep(Duration::from_millis(rng.random_range(100..500)));
        s.kill();
        s = Server::start(dir, &["--worker-threads", "2"]);
        *url.lock().unwrap() = s.url.clone();
    }
    stop.store(true, Ordering::SeqCst);
    feeder.join().unwrap();
    s
}

/// `weir --url URL ARGS...` against `s`: (success, stdout, stderr).
pub fn weir_cli(s: &Server, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(super::weir_bin())
        .arg("--url")
        .arg(&s.url)
        .args(args)
        .env_remove("WEIR_URL")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
