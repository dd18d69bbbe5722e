//! Connector hot-swaps that wait for a task held off its boundary (the hostile grabber's
//! `hold` file): other calls answer meanwhile, a second change or a task restart is refused,
//! and a connector deleted meanwhile ends the swap clearly.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::connect::{call, create, start};
use crate::common::guests::guest;
use crate::common::{Server, create_topic, wait_until};
use crate::{log_lines, tagged, upload};

/// A sink on the hostile grabber whose every put is retried while `hold` exists (so its task
/// stays off its clean boundary), as `class`, reading `in`.
fn held_sink(class: &str, hold: &Path) -> Value {
    json!({
        "connector.class": class,
        "topics": "in",
        "count": "0",
        "hold": hold,
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        "weir.allow.dirs": hold.parent().unwrap().display().to_string(),
    })
}

/// A server with connector `stall` (module grabber@1, a version @2 uploaded) whose task is
/// held mid-put by the file `hold`.
fn stalled(dir: &Path) -> (Server, std::path::PathBuf) {
    let held = dir.join("held");
    std::fs::create_dir_all(&held).unwrap();
    let hold = held.join("hold");
    std::fs::write(&hold, "").unwrap();
    let s = start(&dir.join("data"));
    let wasm = std::fs::read(guest("hostile", "grabber")).unwrap();
    assert_eq!(upload(&s, "grabber", wasm.clone()), 1);
    assert_eq!(upload(&s, "grabber", tagged(&wasm, 2)), 2);
    create_topic(&s, "in", 1);
    let (code, body) = crate::common::pipeline::call(
        &s,
        "POST",
        "/v1/topics/in/records",
        Some(json!({"records": [{"value": "x"}]})),
    );
    assert!(code == 200 || code == 201, "{code} {body}");
    create(&s, "stall", held_sink("module:grabber@1", &hold));
    assert!(
        wait_until(Duration::from_secs(60), || log_lines(&s, "stall")
            .iter()
            .any(|l| l.contains("put: retriable error"))),
        "the put was never held: {:?}",
        log_lines(&s, "stall")
    );
    (s, hold)
}

/// Orders `stall`'s swap to grabber@2 (the call returns when the swap ends).
fn swap_to_v2(s: &Server, hold: &Path) -> (u16, Value) {
    call(
        s,
        "PUT",
        "/connectors/stall/config",
        Some(held_sink("module:grabber@2", hold)),
    )
}

/// Waits until the swap of `stall` was ordered (and so holds no lock while it waits).
fn wait_ordered(s: &Server) {
    assert!(
        wait_until(Duration::from_secs(30), || log_lines(s, "stall")
            .iter()
            .any(|l| l.contains("swap to module:grabber@2 ordered"))),
        "the swap was never ordered: {:?}",
        log_lines(s, "stall")
    );
}

#[test]
fn other_connector_calls_answer_while_a_swap_waits_for_a_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let (s, hold) = stalled(dir.path());
    std::thread::scope(|scope| {
        let swap = scope.spawn(|| swap_to_v2(&s, &hold));
        wait_ordered(&s);
        // The task is still held off its boundary, so the swap is pending: these answer
        // anyway, and before it ends.
        let (code, list) = call(&s, "GET", "/connectors", None);
        assert_eq!(code, 200, "{list}");
        assert!(list.to_string().contains("stall"), "{list}");
        let (code, body) = call(&s, "GET", "/connectors/stall/status", None);
        assert_eq!(code, 200, "{body}");
        // A second config change while the first swap is pending is refused, not queued.
        let (code, body) = call(
            &s,
            "PUT",
            "/connectors/stall/config",
            Some(held_sink("module:grabber@1", &hold)),
        );
        assert_eq!(code, 409, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("in progress"),
            "{body}"
        );
        assert!(
            !swap.is_finished(),
            "the swap ended before its task reached a boundary"
        );
        // Let the put through: the task reaches its boundary and takes the new version.
        std::fs::remove_file(&hold).unwrap();
        let (code, body) = swap.join().unwrap();
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["config"]["connector.class"], "module:grabber@2");
    });
    let (_, info) = call(&s, "GET", "/connectors/stall", None);
    assert_eq!(info["config"]["connector.class"], "module:grabber@2");
}

#[test]
fn a_task_restart_while_a_swap_is_pending_is_refused_and_the_swap_settles() {
    let dir = tempfile::tempdir().unwrap();
    let (s, hold) = stalled(dir.path());
    std::thread::scope(|scope| {
        let swap = scope.spawn(|| swap_to_v2(&s, &hold));
        wait_ordered(&s);
        let (code, body) = call(&s, "POST", "/connectors/stall/tasks/0/restart", None);
        assert_eq!(code, 409, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("in progress"),
            "{body}"
        );
        std::fs::remove_file(&hold).unwrap();
        let (code, body) = swap.join().unwrap();
        assert_eq!(code, 200, "{body}");
    });
    // The swap settled: the next config change is taken, not refused as pending.
    let (code, body) = call(
        &s,
        "PUT",
        "/connectors/stall/config",
        Some(held_sink("module:grabber@1", &hold)),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["config"]["connector.class"], "module:grabber@1");
}

#[test]
fn a_connector_deleted_while_its_swap_is_pending_ends_the_swap_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let (s, hold) = stalled(dir.path());
    std::thread::scope(|scope| {
        let swap = scope.spawn(|| swap_to_v2(&s, &hold));
        wait_ordered(&s);
        let (code, body) = call(&s, "DELETE", "/connectors/stall", None);
        assert!(code == 204 || code == 200, "{code} {body}");
        let (code, body) = swap.join().unwrap();
        assert_eq!(code, 409, "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("stall") && message.contains("deleted"),
            "{message}"
        );
    });
    let (code, _) = call(&s, "GET", "/connectors/stall", None);
    assert_eq!(code, 404);
}
