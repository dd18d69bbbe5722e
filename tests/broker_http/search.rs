//! The records search's own bounds, each crossed: the 10 000 records a search reads when
//! it names no `scan`, and its time budget (`http.max_search_ms`, 2 s by default, here
//! set to 1 ms so that a test crosses it without taking seconds).

use serde_json::{Value, json};

use crate::helpers::*;

#[test]
fn a_search_without_scan_reads_10_000_records_and_says_where_to_go_on() {
    let dir = tempfile::tempdir().unwrap();
    // A budget no search here comes near: only the scan bounds it.
    let server = start_with_config(&dir, "[http]\nmax_search_ms = 600000\n");
    create_topic(&server, "t", 1, json!({}));
    let records: Vec<Value> = (0..10_050)
        .map(|i| json!({"value": format!("v{i}")}))
        .collect();
    produce(&server, "t", json!(records));
    let first = consume(&server, "t", 0, "q=needle");
    assert_eq!(
        (&first["scanned"], &first["next_offset"], &first["records"]),
        (&json!(10_000), &json!(10_000), &json!([])),
        "{}",
        first["scanned"]
    );
    let rest = consume(&server, "t", 0, "q=needle&offset=10000");
    assert_eq!(
        (&rest["scanned"], &rest["next_offset"]),
        (&json!(50), &json!(10_050))
    );
}

#[test]
fn a_search_stops_at_its_time_budget_and_says_where_to_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with_config(&dir, "[http]\nmax_search_ms = 1\n");
    create_topic(&server, "t", 1, json!({}));
    // Steps of 1 000 records of 4 KiB: reading and lowercasing one takes well over 1 ms.
    let value = "x".repeat(4096);
    // 200 a request: one request's batch stays under the topic's max.message.bytes.
    for _ in 0..15 {
        let records: Vec<Value> = (0..200).map(|_| json!({ "value": value })).collect();
        produce(&server, "t", json!(records));
    }
    let mut offset = 0;
    while offset < 3000 {
        let found = consume(
            &server,
            "t",
            0,
            &format!("q=needle&scan=3000&offset={offset}"),
        );
        // The budget is checked after each step: one step, then the answer.
        assert_eq!(found["scanned"], 1000, "{}", found["next_offset"]);
        assert_eq!(found["next_offset"], offset + 1000);
        offset += 1000;
    }
}
