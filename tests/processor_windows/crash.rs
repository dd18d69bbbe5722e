//! SIGKILL `weir serve` at random moments while the window-count processor works through a
//! growing stream with rising timestamps; at the end, every window and every session that
//! closed was emitted exactly once with its exact count.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use serde_json::{Value, json};

use crate::common::guests::guest;
use crate::common::pipeline::*;
use crate::common::{Server, http};
use crate::{emitted, expected, expected_sessions, sessions, ticks};

const KILLS: usize = 20;
const KEYS: u64 = 7;

/// Sends batches with ever larger timestamps (several records per window) until stopped.
fn producer(url: Arc<Mutex<String>>, stop: Arc<AtomicBool>, clock: Arc<AtomicI64>) {
    let client = http();
    let mut rng = rand::rng();
    while !stop.load(Ordering::SeqCst) {
        let n = rng.random_range(1..=30);
        let records: Vec<Value> = (0..n)
            .map(|_| {
                let ts = clock.fetch_add(rng.random_range(0..40), Ordering::SeqCst);
                let k = rng.random_range(0..KEYS);
                json!({"key": format!("key{k}"), "value": "click", "timestamp": ts})
            })
            .collect();
        let target = url.lock().unwrap().clone();
        // Refused or cut short while the server is down: fine, the check reads the log.
        let _ = client
            .post(format!("{target}/v1/topics/clicks/records"))
            .json(&json!({ "records": records }))
            .timeout(Duration::from_secs(5))
            .send();
        std::thread::sleep(Duration::from_millis(rng.random_range(0..15)));
    }
}

#[test]
fn each_window_is_emitted_once_with_its_exact_count_across_sigkills() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(dir.path(), &["--worker-threads", "2"]);
    create_topic(&s, "clicks", 1);
    create_topic(&s, "counts", 1);
    assert_eq!(
        upload(&s, "windowcount", &guest("hostile", "windowcount")).0,
        201
    );
    create(
        &s,
        json!({"name": "wc", "inputs": ["clicks"], "output": "counts",
            "steps": [{"module": "windowcount"}], "start": "earliest"}),
    );
    let url = Arc::new(Mutex::new(s.url.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    // Timestamps of today: records from 1970 would be past the topic's retention, and
    // their segments deleted under the test.
    let clock = Arc::new(AtomicI64::new(crate::an_hour_ago()));
    let feeder = {
        let (url, stop, clock) = (url.clone(), stop.clone(), clock.clone());
        std::thread::spawn(move || producer(url, stop, clock))
    };
    let mut rng = rand::rng();
    for _ in 0..KILLS {
        std::thread::sleep(Duration::from_millis(rng.random_range(50..400)));
        s.kill();
        s = Server::start(dir.path(), &["--worker-threads", "2"]);
        *url.lock().unwrap() = s.url.clone();
    }
    stop.store(true, Ordering::SeqCst);
    feeder.join().unwrap();
    // One last record far ahead: its punctuation closes every window before it.
    let end = clock.load(Ordering::SeqCst) + 10 * crate::SIZE;
    produce(
        &s,
        "clicks",
        vec![json!({"key": "end", "value": "click", "timestamp": end})],
    );
    wait_caught_up(&s, "wc", 0);

    let inputs: Vec<(String, i64)> = read_all(&s, "clicks")
        .concat()
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_string(),
                r["timestamp"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(
        inputs.len() > 100,
        "too little was produced: {}",
        inputs.len()
    );
    let want = expected(&inputs);
    let out = values(&s, "counts");
    let got = emitted(&out);
    // Punctuations are outputs like any other: each appended once, in stream-time order.
    let t = ticks(&out);
    assert!(
        t.windows(2).all(|w| w[0] < w[1]),
        "a punctuation repeated: {t:?}"
    );
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "windows extra: {extra:?}; missing: {missing:?}"
    );
    assert_eq!(got, want, "counts differ from the inputs'");
    let want_sessions = expected_sessions(&inputs);
    assert!(
        want_sessions.len() > KEYS as usize,
        "too few sessions to tell"
    );
    assert_eq!(
        sessions(&out),
        want_sessions,
        "sessions differ from the inputs'"
    );
}
