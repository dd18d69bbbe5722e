//! The web console (issue 16, part 1) against a real `weir serve`: served at `/` to
//! browsers while Kafka Connect's root JSON stays for everyone else (and always on the
//! Connect listener), `/ui` redirecting, files with their types, ETags and a strict
//! CSP; and in a real headless Chromium (tests/console/), failing on any JavaScript
//! error: the overview; creating, altering, producing to, browsing and deleting a topic;
//! records shown as JSON, text or hex, newest first, from an offset or a time; a
//! search; resetting a group's offsets and its lag chart following; the refusal for a
//! group with members; signing in (password, then token) on a server with auth.
//! Besides, over plain HTTP: the search's scan limit and the reset's refusals.
#[path = "console/driver.rs"]
mod browser;
mod common;
#[path = "console/member.rs"]
mod member;

use browser::Scenario;
use common::{Server, http};
use member::{join_as_member, leave};
use reqwest::header::{ACCEPT, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION};
use serde_json::{Value, json};

const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// The Connect listener's URL, from the line the server printed.
fn connect_url(server: &Server) -> String {
    let lines = server.stdout.lock().unwrap();
    lines
        .iter()
        .find_map(|l| l.strip_prefix("weir: Connect API on "))
        .expect("the Connect API's address")
        .trim()
        .to_string()
}

#[test]
fn the_console_is_served_to_browsers_and_connect_json_to_everyone_else() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    common::install_crypto_provider();
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // A browser's navigation gets the console's page, with its security headers.
    let page = client
        .get(server.at("/"))
        .header(ACCEPT, BROWSER_ACCEPT)
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(
        !csp.contains("http"),
        "no outside host may be allowed: {csp}"
    );
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    let etag = page.headers()[ETAG].clone();
    assert!(page.text().unwrap().contains("/console/app.js"));
    // Revalidation: the same ETag answers 304 without a body.
    let again = client
        .get(server.at("/"))
        .header(ACCEPT, BROWSER_ACCEPT)
        .header(IF_NONE_MATCH, etag.clone())
        .send()
        .unwrap();
    assert_eq!(again.status(), 304);
    // Everyone else gets Connect's root JSON on the same path: curl, Connect clients.
    // Java's HttpURLConnection default Accept names text/html: still a Connect client.
    for accept in [
        None,
        Some("*/*"),
        Some("application/json"),
        Some("text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2"),
    ] {
        let mut req = client.get(server.at("/"));
        if let Some(a) = accept {
            req = req.header(ACCEPT, a);
        }
        let r = req.send().unwrap();
        assert_eq!(r.status(), 200, "Accept {accept:?}");
        let root: Value = r.json().unwrap();
        assert!(root["version"].is_string(), "Accept {accept:?}: {root}");
    }
    // A Chromium-like navigation is known by its fetch metadata, whatever the Accept.
    let nav = client
        .get(server.at("/"))
        .header(ACCEPT, "*/*")
        .header("sec-fetch-dest", "document")
        .header("sec-fetch-mode", "navigate")
        .send()
        .unwrap();
    assert_eq!(nav.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    // The Connect listener never serves the console, whatever the Accept.
    let connect = connect_url(&server);
    let r = client
        .get(format!("{connect}/"))
        .header(ACCEPT, BROWSER_ACCEPT)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let root: Value = r.json().unwrap();
    assert!(root["version"].is_string(), "{root}");
    let r = client
        .get(format!("{connect}/console/app.js"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
    // `/ui` redirects to the console; its files have their types; a missing one is 404.
    let r = client.get(server.at("/ui")).send().unwrap();
    assert_eq!(r.status(), 301);
    assert_eq!(r.headers()[LOCATION], "/");
    let js = client.get(server.at("/console/app.js")).send().unwrap();
    assert_eq!(js.status(), 200);
    assert_eq!(js.headers()[CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert_ne!(js.headers()[ETAG], etag);
    let css = client.get(server.at("/console/style.css")).send().unwrap();
    assert_eq!(css.headers()[CONTENT_TYPE], "text/css; charset=utf-8");
    let r = client.get(server.at("/console/nope.js")).send().unwrap();
    assert_eq!(r.status(), 404);
    // The API is untouched.
    let health: Value = http()
        .get(server.at("/v1/health"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["status"], "ok");
}

/// A fixed past time, so the records' timestamps are known to the test.
const T0: i64 = 1_700_000_000_000;

/// Produces `records` (JSON entries) to `topic` with `encoding`.
fn produce(server: &Server, topic: &str, encoding: &str, records: Vec<Value>) {
    let r = http()
        .post(server.at(&format!("/v1/topics/{topic}/records")))
        .json(&json!({"encoding": encoding, "records": records}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
}

/// The topic `mixed`: a JSON record, a text record, a binary one, then 60 more of
/// which offset 40 holds "needle"; record i at `T0 + 1000 * i`.
fn fill_mixed(server: &Server) {
    common::create_topic(server, "mixed", 1);
    produce(
        server,
        "mixed",
        "utf8",
        vec![
            json!({"key": "a", "value": "{\"n\":0,\"item\":\"tea\"}", "timestamp": T0,
               "headers": {"trace": "{\"id\":7}"}}),
            json!({"key": "b", "value": "plain text", "timestamp": T0 + 1000}),
        ],
    );
    produce(
        server,
        "mixed",
        "base64",
        vec![json!({"key": "Yw==", "value": "/wAQ", "timestamp": T0 + 2000})],
    );
    let rest: Vec<Value> = (3..63)
        .map(|i| {
            let value = if i == 40 {
                "the NEEDLE is here".to_string()
            } else {
                format!("filler {i}")
            };
            json!({"key": format!("k{i}"), "value": value, "timestamp": T0 + 1000 * i})
        })
        .collect();
    produce(server, "mixed", "utf8", rest);
}

/// Commits `offset` on `mixed`-0 for `group`.
fn commit(server: &Server, group: &str, offset: i64) {
    let r = http()
        .post(server.at(&format!("/v1/groups/{group}/offsets")))
        .json(&json!({"offsets": [{"topic": "mixed", "partition": 0, "offset": offset}]}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
}

/// A server with a user (`admin`) and a token for it, so requests need credentials.
fn start_with_auth(dir: &std::path::Path) -> (Server, String) {
    let server = Server::start(dir, &[]);
    // The first user is added from loopback without credentials.
    let r = http()
        .post(server.at("/v1/users"))
        .json(&json!({"name": ADMIN.0, "password": ADMIN.1}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    common::create_topic_as(&server, "secured", 1, ADMIN);
    let r = http()
        .post(server.at("/v1/tokens"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .json(&json!({"user": ADMIN.0}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let token: Value = r.json().unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    // A second user who may only see the topic `secured` (later users start with nothing).
    let r = http()
        .post(server.at("/v1/users"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .json(&json!({"name": VIEWER.0, "password": VIEWER.1}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    let r = http()
        .post(server.at("/v1/acls"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .json(
            &json!({"resource_type": "TOPIC", "resource_name": "secured",
                      "principal": format!("User:{}", VIEWER.0), "operation": "DESCRIBE"}),
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    (server, token)
}

const VIEWER: (&str, &str) = ("viewer", "viewer-pass-1");

const ADMIN: (&str, &str) = ("admin", "console-pass-1");

#[test]
fn the_console_asks_for_credentials_without_the_browser_dialog() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _token) = start_with_auth(dir.path());
    // The files hold no data and are served openly; the data is behind the API.
    let page = http()
        .get(server.at("/"))
        .header(ACCEPT, BROWSER_ACCEPT)
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);
    let r = http().get(server.at("/v1/topics")).send().unwrap();
    assert_eq!(r.status(), 401);
    let challenges: Vec<_> = r.headers().get_all("www-authenticate").iter().collect();
    assert!(
        challenges
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("Basic"))
    );
    // The console's own calls get no Basic challenge, which would open the browser's
    // password dialog over the console's form.
    let r = http()
        .get(server.at("/v1/topics"))
        .header("x-weir-console", "1")
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let challenges: Vec<_> = r.headers().get_all("www-authenticate").iter().collect();
    assert!(!challenges.is_empty());
    assert!(
        challenges
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("Basic")),
        "{challenges:?}"
    );
}

#[test]
fn the_console_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    fill_mixed(&server);
    commit(&server, "g1", 5);
    commit(&server, "busy", 1);
    let _member = join_as_member(&server, "busy");
    let auth_dir = tempfile::tempdir().unwrap();
    let (secured, token) = start_with_auth(auth_dir.path());
    let shots = browser::screenshot_dir();
    let url = &server.url;
    let values = browser::run(&[
        // The harness fails a scenario on a console.error (checked once here).
        Scenario::new("harness-check", "views.js", "consoleError", url)
            .must_fail_with("a deliberate error"),
        Scenario::new("overview", "views.js", "overview", url),
        Scenario::new("topics", "views.js", "topicLifecycle", url)
            .args(json!({"topic": "orders", "screenshots": shots})),
        Scenario::new("records", "views.js", "browse", url)
            .args(json!({"topic": "mixed", "timestamp": T0 + 1000})),
        Scenario::new("search", "views.js", "search", url)
            .args(json!({"topic": "mixed", "q": "needle"})),
        Scenario::new("groups", "views.js", "resetGroup", url)
            .args(json!({"group": "g1", "offset": 60})),
        // The refusal is a 409 the page shows; Chromium notes the status on its console.
        Scenario::new("group-active", "views.js", "resetActiveGroup", url)
            .args(json!({"group": "busy"}))
            .allow_http(&[409]),
        Scenario::new("sign-in", "views.js", "signIn", &secured.url)
            .args(json!({"user": ADMIN.0, "password": ADMIN.1, "token": token}))
            .allow_http(&[401]),
        // What the ACLs hide is left out, not an error: the history needs the cluster.
        Scenario::new("viewer", "views.js", "viewerOverview", &secured.url)
            .args(json!({"user": VIEWER.0, "password": VIEWER.1}))
            .allow_http(&[401, 403]),
    ]);
    let viewer = &values["viewer"];
    assert_eq!(viewer["topics"], "1");
    assert!(
        viewer["note"]
            .as_str()
            .unwrap()
            .contains("DESCRIBE on the cluster"),
        "{viewer}"
    );

    let overview = &values["overview"];
    assert_eq!(overview["content_type"], "text/html; charset=utf-8");
    assert_eq!(overview["title"], "Overview · weir");
    assert_eq!(overview["topics"], "1");
    assert_eq!(overview["partitions"], "1");
    assert_eq!(
        overview["groups"].as_array().unwrap().len(),
        2,
        "{overview}"
    );

    // The topic made in the page: 2 partitions, then 3; the produced record shown as
    // JSON with its header; deleted after a refused confirmation.
    let topics = &values["topics"];
    assert_eq!(topics["partitionsBefore"], 2);
    let row = &topics["rows"][0];
    assert_eq!(row["offset"], 0);
    assert_eq!(row["key"]["kind"], "text");
    assert_eq!(row["value"]["kind"], "json");
    assert!(
        row["value"]["text"]
            .as_str()
            .unwrap()
            .contains("\"item\": \"tea\""),
        "{row}"
    );
    assert!(
        row["headers"].as_str().unwrap().contains("console"),
        "{row}"
    );
    assert!(
        topics["refused"].as_str().unwrap().contains("orders"),
        "{topics}"
    );
    assert_eq!(topics["listed"], json!(["mixed"]));
    let r = http().get(server.at("/v1/topics/orders")).send().unwrap();
    assert_eq!(r.status(), 404, "the page deleted the topic");

    // Newest first by default, 50 a page; older pages; from an offset; from a time.
    let records = &values["records"];
    let offsets = |v: &Value| -> Vec<i64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["offset"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(
        offsets(&records["newest"]),
        (13..63).rev().collect::<Vec<_>>()
    );
    assert_eq!(
        offsets(&records["older"]),
        (0..13).rev().collect::<Vec<_>>()
    );
    let oldest = &records["older"][12];
    assert_eq!(oldest["value"]["kind"], "json");
    assert!(
        oldest["headers"].as_str().unwrap().contains("\"id\": 7"),
        "{oldest}"
    );
    assert_eq!(records["older"][11]["value"]["kind"], "text");
    assert_eq!(records["older"][10]["value"]["kind"], "hex");
    assert_eq!(records["older"][10]["value"]["text"], "ff 00 10");
    assert_eq!(offsets(&records["fromOffset"])[..2], [2, 3]);
    assert_eq!(offsets(&records["fromTime"])[0], 1);

    let search = &values["search"];
    assert_eq!(offsets(&search["rows"]), vec![40]);
    assert!(
        search["note"]
            .as_str()
            .unwrap()
            .contains("scanned 63 records"),
        "{search}"
    );

    // The lag chart follows the resets: 63 - 5, then from the start, then 63 - 60.
    let groups = &values["groups"];
    assert_eq!(groups["before"], json!([58]));
    assert_eq!(groups["earliest"], json!([63]));
    assert_eq!(groups["exact"], json!([3]));
    let g1: Value = http()
        .get(server.at("/v1/groups/g1"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(g1["offsets"][0]["committed_offset"], 60);

    let active = &values["group-active"];
    assert_eq!(active["members"], 1);
    assert!(
        active["error"].as_str().unwrap().contains("has members"),
        "{active}"
    );
    let busy: Value = http()
        .get(server.at("/v1/groups/busy"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        busy["offsets"][0]["committed_offset"], 1,
        "nothing was reset"
    );
    assert_eq!(busy["state"], "Stable");
    assert_eq!(
        busy["members"][0]["assignments"],
        json!([{"topic": "mixed", "partitions": [0]}])
    );

    assert_eq!(values["sign-in"]["topics"], json!(["secured"]));

    // The history the overview draws: bounded, and moving when records come in.
    let moved = common::wait_until(std::time::Duration::from_secs(20), || {
        // A few records a second, so a sample (every 5 s) has some to count.
        std::thread::sleep(std::time::Duration::from_millis(250));
        produce(&server, "mixed", "utf8", vec![json!({"value": "more"})]);
        let h: Value = http()
            .get(server.at("/v1/metrics/history"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(h["capacity"], 180);
        assert_eq!(h["interval_ms"], 5000);
        h["samples"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["records_in_per_sec"].as_f64().unwrap() > 0.0 && s["topics"] == 1)
    });
    assert!(moved, "no sample counted the records produced");
}

#[test]
fn searches_and_resets_are_bounded_and_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    fill_mixed(&server);
    let records = |query: &str| {
        http()
            .get(server.at(&format!("/v1/topics/mixed/partitions/0/records?{query}")))
            .send()
            .unwrap()
    };
    // A search reads at most `scan` records and says where to go on.
    let r: Value = records("q=needle&scan=10").json().unwrap();
    assert_eq!(r["scanned"], 10);
    assert_eq!(r["next_offset"], 10);
    assert_eq!(r["records"], json!([]));
    let r: Value = records("q=needle&offset=10&scan=100").json().unwrap();
    assert_eq!(r["scanned"], 53);
    assert_eq!(r["records"][0]["offset"], 40);
    assert_eq!(r["records"][0]["value"], "the NEEDLE is here");
    // Crossing the limit, or asking nonsense, is a 400 naming the problem.
    for (query, needle) in [
        ("q=x&scan=100001", "100000"),
        ("q=x&scan=0", "between 1 and"),
        ("scan=5", "only with a search"),
        ("offset=1&timestamp=5", "not both"),
        ("timestamp=-1", "negative"),
    ] {
        let r = records(query);
        assert_eq!(r.status(), 400, "{query}");
        let body: Value = r.json().unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{query}: {message}");
    }
    // From a time: the first record at or after it; past every record, nothing.
    let r: Value = records(&format!("timestamp={}&max=2&encoding=base64", T0 + 1500))
        .json()
        .unwrap();
    assert_eq!(r["records"][0]["offset"], 2, "{r}");
    let r: Value = records(&format!("timestamp={}", T0 + 1_000_000))
        .json()
        .unwrap();
    assert_eq!(r["records"], json!([]));

    // Resets: a clear 400 for a bad target, 409 while the group has members.
    commit(&server, "busy", 1);
    let reset = |group: &str, body: Value| {
        http()
            .post(server.at(&format!("/v1/groups/{group}/offsets/reset")))
            .json(&body)
            .send()
            .unwrap()
    };
    for (body, needle) in [
        (json!({"to": "offset"}), "needs \"offset\""),
        (
            json!({"to": "sideways"}),
            "earliest, latest, timestamp or offset",
        ),
        (json!({"to": "latest", "offset": 3}), "goes only with"),
    ] {
        let r = reset("busy", body.clone());
        assert_eq!(r.status(), 400, "{body}");
        let answer: Value = r.json().unwrap();
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body}: {message}");
    }
    let member = join_as_member(&server, "busy");
    let r = reset("busy", json!({"to": "latest"}));
    assert_eq!(r.status(), 409);
    let body: Value = r.json().unwrap();
    assert_eq!(body["error"]["code"], "group_not_empty");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("resetting its offsets")
    );
    leave(member, "busy");
    // A time between records, then a whole topic for a group new to it.
    let r: Value = reset("busy", json!({"to": "timestamp", "timestamp": T0 + 2500}))
        .json()
        .unwrap();
    assert_eq!(
        r["reset"],
        json!([{"topic": "mixed", "partition": 0, "offset": 3}])
    );
    let r: Value = reset("fresh", json!({"to": "latest", "topic": "mixed"}))
        .json()
        .unwrap();
    assert_eq!(
        r["reset"],
        json!([{"topic": "mixed", "partition": 0, "offset": 63}])
    );
    let r = reset("nobody", json!({"to": "earliest"}));
    assert_eq!(r.status(), 404);
}
