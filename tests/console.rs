//! The web console (issue 16, part 1) against a real `weir serve`: served at `/` to
//! browsers while Kafka Connect's root JSON stays for everyone else (and always on the
//! Connect listener), `/ui` redirecting, files with their types, ETags and a strict
//! CSP; and in a real headless Chromium (tests/console/), failing on any JavaScript
//! error: the overview, and signing in (password, then token) on a server with auth.
#[path = "console/driver.rs"]
mod browser;
mod common;

use browser::Scenario;
use common::{Server, http};
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
    for accept in [None, Some("*/*"), Some("application/json")] {
        let mut req = client.get(server.at("/"));
        if let Some(a) = accept {
            req = req.header(ACCEPT, a);
        }
        let r = req.send().unwrap();
        assert_eq!(r.status(), 200, "Accept {accept:?}");
        let root: Value = r.json().unwrap();
        assert!(root["version"].is_string(), "Accept {accept:?}: {root}");
    }
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
    (server, token)
}

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
    common::create_topic(&server, "mixed", 1);
    let auth_dir = tempfile::tempdir().unwrap();
    let (secured, token) = start_with_auth(auth_dir.path());
    let values = browser::run(&[
        Scenario::new("overview", "views.js", "overview", &server.url),
        Scenario::new("sign-in", "views.js", "signIn", &secured.url)
            .args(json!({"user": ADMIN.0, "password": ADMIN.1, "token": token}))
            .allow_http(&[401]),
    ]);
    assert_eq!(values["sign-in"]["topics"], json!(["secured"]));
    let overview = &values["overview"];
    assert_eq!(overview["content_type"], "text/html; charset=utf-8");
    assert_eq!(overview["title"], "Overview · weir");
    assert_eq!(overview["topics"], "1");
    assert_eq!(overview["partitions"], "1");
}
