//! `group_by` through the whole server: repartitioning a 3-partition input with exact
//! counts per new key, also across SIGKILLs; the internal topics named as the issue says
//! and deleted with the pipeline; bad key selectors and oversized keys refused clearly;
//! two `group_by`s in one pipeline, each with its own topic; a `group_by` after a join.

mod common;

use std::collections::BTreeMap;

use common::Server;
use common::guests::guest;
use common::pipeline::*;
use common::streams::*;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// `orders` (3 partitions, keyed by order) → `group_by` the user in the value → `count`
/// → `counts`: the pipeline `users`. `twice`: a second `group_by` by the same key
/// (`regroup2`) before the count, a third stage of tasks between two topics.
fn deploy_group_by(s: &Server, twice: bool) {
    create_topic(s, "orders", 3);
    create_topic(s, "counts", 2);
    assert_eq!(
        upload(s, "by-user", &guest("streams", "rust-key-selector")).0,
        201
    );
    let mut spec = json!({"name": "users", "inputs": ["orders"], "output": "counts",
        "steps": [{"name": "regroup", "op": "group_by", "module": "by-user"},
                  {"name": "count", "op": "count"}],
        "start": "earliest"});
    if twice {
        spec["steps"].as_array_mut().unwrap().insert(
            1,
            json!({"name": "regroup2", "op": "group_by", "module": "by-user"}),
        );
    }
    let (code, body) = call(s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
}

/// Records per user in `orders` (values `user,item`; others have no user).
fn users_in(s: &Server) -> (BTreeMap<String, i64>, usize) {
    let mut want = BTreeMap::new();
    let mut total = 0;
    for r in read_all(s, "orders").into_iter().flatten() {
        total += 1;
        if let Some((user, _)) = r["value"].as_str().unwrap().split_once(',') {
            *want.entry(user.to_string()).or_insert(0) += 1;
        }
    }
    (want, total)
}

/// The last count per key in `counts` (each key's updates are in one partition, in order).
fn last_counts(s: &Server) -> BTreeMap<String, i64> {
    let mut got = BTreeMap::new();
    for r in read_all(s, "counts").into_iter().flatten() {
        got.insert(
            r["key"].as_str().unwrap().to_string(),
            r["value"].as_str().unwrap().parse().unwrap(),
        );
    }
    got
}

#[test]
fn group_by_repartitions_a_3_partition_input_and_counts_per_new_key_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    deploy_group_by(&s, false);
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let records: Vec<Value> = (0..900)
        .map(|i| {
            let value = match rng.random_range(0..10) {
                // No user: dropped by the key selector, as Kafka drops a null new key.
                0 => "no user".to_string(),
                _ => format!("user{},item{i}", rng.random_range(0..7)),
            };
            json!({"key": format!("order{i}"), "value": value, "timestamp": now_ms()})
        })
        .collect();
    for chunk in records.chunks(100) {
        produce(&s, "orders", chunk.to_vec());
    }
    let st = wait_caught_up(&s, "users", 900);
    assert_eq!(st["records_in"], 900, "{st:#}");
    let tasks = st["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 6, "{st:#}");
    assert_eq!(
        tasks.iter().filter(|t| t["stage"] == "downstream").count(),
        3,
        "{st:#}"
    );
    // The internal topic, named as the issue says, with the inputs' partition count,
    // each new key in one partition of it.
    let (code, info) = call(&s, "GET", "/v1/topics/users-regroup-repartition", None);
    assert_eq!(code, 200, "{info}");
    assert_eq!(info["partitions"].as_array().unwrap().len(), 3, "{info}");
    let mut home: BTreeMap<String, usize> = BTreeMap::new();
    let mut repartitioned = 0;
    for (p, records) in read_all(&s, "users-regroup-repartition").iter().enumerate() {
        for r in records {
            repartitioned += 1;
            let user = r["key"].as_str().unwrap().to_string();
            assert_eq!(
                *home.entry(user.clone()).or_insert(p),
                p,
                "{user} in two partitions"
            );
        }
    }
    let (want, total) = users_in(&s);
    assert_eq!(total, 900);
    assert_eq!(repartitioned, want.values().sum::<i64>() as usize);
    assert!(want.len() == 7, "{want:?}");
    assert_eq!(last_counts(&s), want);
    // Queryable state of the step after the repartition.
    for (user, n) in &want {
        let (code, body) = call(
            &s,
            "GET",
            &format!("/v1/pipelines/users/state/count?key={user}"),
            None,
        );
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["value"], *n, "{body}");
    }
    // A key selector is refused for a map step and an aggregation; a transform for group_by.
    assert_eq!(upload(&s, "filter", &guest("rust", "rust-filter")).0, 201);
    let spec = json!({"name": "wrong", "inputs": ["orders"], "output": "counts",
        "steps": [{"op": "group_by", "module": "filter"}, {"op": "count"}]});
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 400, "{body}");
    assert!(body.to_string().contains("key-selector world"), "{body}");
    let spec = json!({"name": "wrong", "inputs": ["orders"], "output": "counts",
        "steps": [{"op": "count"}, {"op": "group_by", "module": "by-user"}]});
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 400, "{body}");
    assert!(
        body.to_string()
            .contains("needs the steps that use the new key"),
        "{body}"
    );
    // Deleting the pipeline deletes its internal topic.
    let (code, body) = call(&s, "DELETE", "/v1/pipelines/users", None);
    assert!(code == 200 || code == 204, "{code} {body}");
    let (code, _) = call(&s, "GET", "/v1/topics/users-regroup-repartition", None);
    assert_eq!(code, 404);
    // A new key longer than a state key holds fails its record, saying so.
    create_topic(&s, "dlq", 1);
    let spec = json!({"name": "long", "inputs": ["orders"], "output": "counts",
        "steps": [{"op": "group_by", "module": "by-user"}, {"op": "count"}],
        "start": "latest", "on_error": "dead-letter", "dead_letter_topic": "dlq"});
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
    let long = format!("{},item", "u".repeat(5000));
    produce(
        &s,
        "orders",
        vec![
            json!({"key": "o", "value": long}),
            json!({"key": "o", "value": "user1,x"}),
        ],
    );
    let st = wait_caught_up(&s, "long", 2);
    assert_eq!(st["records_errored"], 1, "{st:#}");
    let dead = read_all(&s, "dlq").concat();
    assert_eq!(dead.len(), 1);
    let why = dead[0]["headers"]["weir.error"].as_str().unwrap();
    assert!(
        why.contains("selected a key of 5000 bytes; a key holds at most 4096"),
        "{why}"
    );
}

/// SIGKILLs while orders arrive: every count per new key exact in the end, no record
/// of the repartition topic written twice.
#[test]
fn group_by_and_count_are_exactly_once_across_sigkills() {
    group_by_across_sigkills(false);
}

/// The same with two `group_by`s: the middle stage, reading one repartition topic and
/// writing the other, is exactly-once too.
#[test]
fn two_group_bys_are_exactly_once_across_sigkills() {
    group_by_across_sigkills(true);
}

fn group_by_across_sigkills(twice: bool) {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--worker-threads", "2"]);
    deploy_group_by(&s, twice);
    let mut i = 0;
    let s = kill_while_feeding(s, dir.path(), "orders", 11, 0..10, move |rng| {
        (0..rng.random_range(1..40))
            .map(|_| {
                i += 1;
                json!({"key": format!("order{i}"),
                       "value": format!("user{},item", rng.random_range(0..13)),
                       "timestamp": now_ms()})
            })
            .collect()
    });
    wait_caught_up(&s, "users", 0);
    let (want, total) = users_in(&s);
    assert!(total > 200, "too little input reached the log: {total}");
    let repartitioned: usize = read_all(&s, "users-regroup-repartition")
        .iter()
        .map(Vec::len)
        .sum();
    assert_eq!(repartitioned, total, "each order repartitioned once");
    if twice {
        let again: usize = read_all(&s, "users-regroup2-repartition")
            .iter()
            .map(Vec::len)
            .sum();
        assert_eq!(again, total, "each order repartitioned once more");
    }
    assert_eq!(last_counts(&s), want);
}

/// Two `group_by`s: orders keyed by order → by `region:user` (the text before the comma)
/// → by region (before the colon, the same key selector configured so) → `count`. Three
/// stages of three tasks, chained by two repartition topics; counts per region exact.
#[test]
fn two_group_bys_repartition_twice_and_count_per_final_key_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    create_topic(&s, "orders", 3);
    create_topic(&s, "regions", 2);
    assert_eq!(
        upload(&s, "keys", &guest("streams", "rust-key-selector")).0,
        201
    );
    let spec = json!({"name": "twice", "inputs": ["orders"], "output": "regions",
        "steps": [{"name": "by-user", "op": "group_by", "module": "keys"},
                  {"name": "by-region", "op": "group_by", "module": "keys",
                   "config": {"separator": ":"}},
                  {"name": "count", "op": "count"}],
        "start": "earliest"});
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let mut want: BTreeMap<String, i64> = BTreeMap::new();
    let records: Vec<Value> = (0..600)
        .map(|i| {
            let region = format!("r{}", rng.random_range(0..4));
            let value = match rng.random_range(0..10) {
                // No colon: the second key selector drops it.
                0 => format!("u{i},item"),
                _ => {
                    *want.entry(region.clone()).or_insert(0) += 1;
                    format!("{region}:u{},item{i}", rng.random_range(0..9))
                }
            };
            json!({"key": format!("order{i}"), "value": value, "timestamp": now_ms()})
        })
        .collect();
    for chunk in records.chunks(100) {
        produce(&s, "orders", chunk.to_vec());
    }
    let st = wait_caught_up(&s, "twice", 600);
    let tasks = st["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 9, "{st:#}");
    for stage in ["upstream", "middle_1", "downstream"] {
        assert_eq!(
            tasks.iter().filter(|t| t["stage"] == stage).count(),
            3,
            "{stage}: {st:#}"
        );
    }
    // Each group_by's topic holds what it keyed: every record once, then those with a
    // region; each key in one partition.
    let topic_keys = |topic: &str| {
        let mut home: BTreeMap<String, usize> = BTreeMap::new();
        let mut n = 0;
        for (p, records) in read_all(&s, topic).iter().enumerate() {
            for r in records {
                n += 1;
                let key = r["key"].as_str().unwrap().to_string();
                assert_eq!(
                    *home.entry(key.clone()).or_insert(p),
                    p,
                    "{key} in two partitions"
                );
            }
        }
        (n, home)
    };
    let (users, _) = topic_keys("twice-by-user-repartition");
    assert_eq!(users, 600);
    let (regions, homes) = topic_keys("twice-by-region-repartition");
    assert_eq!(regions, want.values().sum::<i64>() as usize);
    assert_eq!(
        homes.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    let mut got = BTreeMap::new();
    for r in read_all(&s, "regions").into_iter().flatten() {
        got.insert(
            r["key"].as_str().unwrap().to_string(),
            r["value"].as_str().unwrap().parse::<i64>().unwrap(),
        );
    }
    assert_eq!(got, want);
    // The count's state is read from the last stage's tasks.
    let (region, n) = want.iter().next().unwrap();
    let (code, body) = call(
        &s,
        "GET",
        &format!("/v1/pipelines/twice/state/count?key={region}"),
        None,
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["value"], *n, "{body}");
    // Both internal topics go with the pipeline.
    let (code, body) = call(&s, "DELETE", "/v1/pipelines/twice", None);
    assert!(code == 200 || code == 204, "{code} {body}");
    for topic in ["twice-by-user-repartition", "twice-by-region-repartition"] {
        let (code, _) = call(&s, "GET", &format!("/v1/topics/{topic}"), None);
        assert_eq!(code, 404, "{topic}");
    }
}

/// A `group_by` after a graph: orders joined with a customers table (both 3
/// partitions), then regrouped by the order's city and counted. The first stage reads
/// both sources and runs the join; the second counts per city, exactly.
#[test]
fn a_group_by_after_a_stream_table_join_counts_per_new_key_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    for t in ["orders", "customers"] {
        create_topic(&s, t, 3);
    }
    create_topic(&s, "cities", 1);
    assert_eq!(
        upload(&s, "keys", &guest("streams", "rust-key-selector")).0,
        201
    );
    let t = now_ms();
    // Customers c0..c7 exist; c8 and c9 do not, so their orders join nothing.
    produce(
        &s,
        "customers",
        (0..8)
            .map(|c| json!({"key": format!("c{c}"), "value": format!("name{c}"), "timestamp": t}))
            .collect(),
    );
    let spec = json!({"name": "cities",
        "sources": {"orders": {"topic": "orders"},
                    "customers": {"topic": "customers", "as": "table"}},
        "output": "cities",
        "steps": [{"name": "enriched", "op": "join", "left": "orders", "right": "customers"},
                  {"name": "by-city", "op": "group_by", "module": "keys"},
                  {"name": "count", "op": "count"}],
        "start": "earliest"});
    let (code, body) = call(&s, "POST", "/v1/pipelines", Some(spec));
    assert_eq!(code, 201, "{body}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let mut want: BTreeMap<String, i64> = BTreeMap::new();
    let orders: Vec<Value> = (0..300)
        .map(|i| {
            let customer = rng.random_range(0..10);
            let city = format!("city{}", rng.random_range(0..5));
            if customer < 8 {
                // The default joiner's JSON; the key selector keeps what is before ",".
                *want.entry(format!("{{\"left\":\"{city}")).or_insert(0) += 1;
            }
            json!({"key": format!("c{customer}"), "value": format!("{city},item{i}"),
                   "timestamp": t + 1 + i})
        })
        .collect();
    produce(&s, "orders", orders);
    let st = wait_caught_up(&s, "cities", 308);
    assert_eq!(
        st["tasks"].as_array().unwrap().len(),
        6,
        "two stages of three tasks: {st:#}"
    );
    let mut got = BTreeMap::new();
    for r in read_all(&s, "cities").into_iter().flatten() {
        got.insert(
            r["key"].as_str().unwrap().to_string(),
            r["value"].as_str().unwrap().parse::<i64>().unwrap(),
        );
    }
    assert_eq!(got, want);
}
