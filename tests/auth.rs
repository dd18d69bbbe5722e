//! Users and authentication on both listeners (issue 13, points 1 and 3), against a
//! real `weir serve`: the first user added from loopback without credentials, then
//! 401 without them on HTTP (an upload too) and bearer tokens and basic accepted;
//! SASL SCRAM-SHA-256/512 with kcat, confluent-kafka and kafkajs; wrong passwords
//! answered SASL_AUTHENTICATION_FAILED and closed; requests before SASL closed;
//! `weir serve` refusing a network address with no users unless --allow-anonymous.
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use bytes::Bytes;
use common::wire::{ask, frame};
use common::{Install, Server, closed_by_server, http, kcat, run_client_on, weir_bin};
use kafka_protocol::messages::{
    MetadataRequest, MetadataResponse, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use serde_json::{Value, json};

/// Runs the `weir` CLI against `server` with `env` and `stdin`.
fn weir(server: &Server, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut child = Command::new(weir_bin())
        .arg("--url")
        .arg(&server.url)
        .args(args)
        .env_remove("WEIR_TOKEN")
        .env_remove("WEIR_USER")
        .env_remove("WEIR_PASSWORD")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn weir");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// Adds a user over HTTP without credentials (works only while there are none).
fn add_first_user(server: &Server, name: &str, password: &str) {
    let r = http()
        .post(server.at("/v1/users"))
        .json(&json!({"name": name, "password": password}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
}

#[test]
fn first_user_from_loopback_then_http_needs_a_token_or_basic() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    // No users: loopback is served without credentials.
    let r = http().get(server.at("/v1/topics")).send().unwrap();
    assert_eq!(r.status(), 200);

    // The first user, password on stdin, no credentials.
    let out = weir(&server, &["user", "add", "alice"], &[], "wonderland\n");
    assert!(out.status.success(), "{}", text(&out.stderr));

    // From now on: 401 with a challenge, for reads, writes and an upload alike.
    let r = http().get(server.at("/v1/topics")).send().unwrap();
    assert_eq!(r.status(), 401);
    let challenges: Vec<&str> = r
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(
        challenges.iter().any(|c| c.starts_with("Bearer")),
        "{challenges:?}"
    );
    assert!(
        challenges.iter().any(|c| c.starts_with("Basic")),
        "{challenges:?}"
    );
    let body: Value = r.json().unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated", "{body}");
    let r = http()
        .post(server.at("/v1/modules/sneaky"))
        .header("content-type", "application/wasm")
        .body(b"\0asm\x0d\0\x01\0".to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 401, "an unauthenticated upload is refused");
    let listed: Value = http()
        .get(server.at("/v1/modules"))
        .basic_auth("alice", Some("wonderland"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(!listed.to_string().contains("sneaky"), "{listed}");
    let r = http()
        .post(server.at("/v1/users"))
        .json(&json!({"name": "mallory", "password": "x"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401, "a second user needs credentials");
    // The CLI says how to give credentials.
    let out = weir(&server, &["topic", "list"], &[], "");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--token"),
        "{}",
        text(&out.stderr)
    );

    // Basic: right password in, wrong one out.
    let r = http()
        .get(server.at("/v1/topics"))
        .basic_auth("alice", Some("wonderland"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http()
        .get(server.at("/v1/topics"))
        .basic_auth("alice", Some("looking-glass"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);

    // A token, created with basic through the CLI's env vars, printed alone.
    let basic = [("WEIR_USER", "alice"), ("WEIR_PASSWORD", "wonderland")];
    let out = weir(&server, &["token", "create", "--user", "alice"], &basic, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_string();
    assert!(token.starts_with("weir_"), "{token}");
    let r = http()
        .get(server.at("/v1/topics"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http()
        .get(server.at("/v1/topics"))
        .bearer_auth(format!("{token}x"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);

    // The CLI with the token: users listed, a second one added.
    let with_token = [("WEIR_TOKEN", token.as_str())];
    let out = weir(
        &server,
        &["user", "add", "bob", "--password", "builder"],
        &with_token,
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = weir(&server, &["user", "list"], &with_token, "");
    let listed = text(&out.stdout);
    assert!(
        listed.contains("alice") && listed.contains("bob"),
        "{listed}"
    );
    assert!(listed.contains("SCRAM-SHA-512"), "{listed}");
    assert!(!listed.contains("wonderland"));

    // Revoked, the token is dead; deleting a user kills its basic credentials.
    let tokens: Value = http()
        .get(server.at("/v1/tokens"))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        !tokens.to_string().contains(&token),
        "tokens are never listed"
    );
    let id = tokens["tokens"][0]["id"].as_str().unwrap().to_string();
    let out = weir(&server, &["token", "revoke", &id], &with_token, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r = http()
        .get(server.at("/v1/topics"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let bob = [("WEIR_USER", "bob"), ("WEIR_PASSWORD", "builder")];
    // Bob, a later user, starts without rights (ACLs): alice, the first, grants them.
    let out = weir(&server, &["user", "delete", "alice"], &bob, "");
    assert!(text(&out.stderr).contains("403"), "{}", text(&out.stderr));
    let alice = [("WEIR_USER", "alice"), ("WEIR_PASSWORD", "wonderland")];
    let grant = [
        "acl",
        "add",
        "--principal",
        "User:bob",
        "--operation",
        "ALTER",
        "--cluster",
    ];
    let out = weir(&server, &grant, &alice, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = weir(&server, &["user", "delete", "alice"], &bob, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r = http()
        .get(server.at("/v1/topics"))
        .basic_auth("alice", Some("wonderland"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);

    // Health stays open for probes.
    let r = http().get(server.at("/v1/health")).send().unwrap();
    assert_eq!(r.status(), 200);

    // Users are durable: after a restart anonymous requests are still refused.
    assert!(server.stop());
    let server = Server::start(dir.path(), &[]);
    let r = http().get(server.at("/v1/topics")).send().unwrap();
    assert_eq!(r.status(), 401);
    let r = http()
        .get(server.at("/v1/topics"))
        .basic_auth("bob", Some("builder"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn an_unauthenticated_upload_is_refused_before_its_body_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    add_first_user(&server, "alice", "wonderland");
    // A 100 MiB upload announced, 1 KiB sent: the 401 comes without the rest.
    let addr = server.url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /v1/modules/big HTTP/1.1\r\nHost: weir\r\nContent-Type: application/wasm\r\n\
         Content-Length: {}\r\n\r\n",
        100 << 20
    )
    .unwrap();
    s.write_all(&[0u8; 1024]).unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head)
        .expect("an answer before the body is sent");
    assert_eq!(&head, b"HTTP/1.1 401", "{}", String::from_utf8_lossy(&head));
    let listed: Value = http()
        .get(server.at("/v1/modules"))
        .basic_auth("alice", Some("wonderland"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(!listed.to_string().contains("big"), "{listed}");
}

#[test]
fn serve_on_a_network_address_without_users_refuses_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    // Checks only the refusal path: nothing is served on 0.0.0.0.
    let out = Command::new(weir_bin())
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .args(["--http-addr", "0.0.0.0:0", "--kafka-addr", "127.0.0.1:0"])
        .env("WEIR_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("0.0.0.0:0"), "{err}");
    assert!(err.contains("no users exist"), "{err}");
    assert!(err.contains("--allow-anonymous"), "{err}");
    assert!(
        !text(&out.stdout).contains("HTTP API on"),
        "nothing was served"
    );

    // With --allow-anonymous it starts (and is stopped at once, unused).
    let mut cmd = Command::new(weir_bin());
    cmd.args(["serve", "--data-dir"])
        .arg(dir.path())
        .args(["--http-addr", "127.0.0.1:0", "--kafka-addr", "0.0.0.0:0"])
        .arg("--allow-anonymous");
    let server = Server::spawn(cmd, dir.path());
    assert!(server.stop());
}

// --- the Kafka listener, byte by byte ---

fn connect(server: &Server) -> TcpStream {
    let s = TcpStream::connect(&server.kafka).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

fn handshake(s: &mut TcpStream, mechanism: &'static str) -> SaslHandshakeResponse {
    let mut req = SaslHandshakeRequest::default();
    req.mechanism = StrBytes::from_static_str(mechanism);
    ask(s, 1, &req)
}

fn authenticate(s: &mut TcpStream, bytes: &[u8]) -> SaslAuthenticateResponse {
    let mut req = SaslAuthenticateRequest::default();
    req.auth_bytes = Bytes::copy_from_slice(bytes);
    ask(s, 2, &req)
}

fn metadata(s: &mut TcpStream) -> MetadataResponse {
    ask(s, 9, &MetadataRequest::default())
}

const AUTH_FAILED: i16 = 58;

#[test]
fn kafka_requests_before_sasl_and_wrong_passwords_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    // No users yet: loopback needs no SASL.
    let mut s = connect(&server);
    assert_eq!(metadata(&mut s).brokers.len(), 1);
    add_first_user(&server, "alice", "wonderland");

    // The open connection's next request, and a new connection's first, close.
    s.write_all(&frame(9, &MetadataRequest::default())).unwrap();
    assert!(
        closed_by_server(&mut s),
        "a request after the first user exists"
    );
    let mut s = connect(&server);
    s.write_all(&frame(9, &MetadataRequest::default())).unwrap();
    assert!(closed_by_server(&mut s), "a request before SASL");

    // Nor does an unserved version, which would otherwise be answered naming what
    // it asked for.
    let mut old_produce = 20i32.to_be_bytes().to_vec();
    old_produce.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 77]); // Produce v0
    old_produce.extend_from_slice(&[0xff, 0xff, 0, 1, 0, 0, 0x75, 0x30, 0, 0, 0, 0]);
    let mut s = connect(&server);
    s.write_all(&old_produce).unwrap();
    assert!(closed_by_server(&mut s), "an unserved version before SASL");

    // A frame larger than auth.max_unauthenticated_frame_bytes closes at its prefix.
    let mut s = connect(&server);
    s.write_all(&(4i32 << 20).to_be_bytes()).unwrap();
    assert!(closed_by_server(&mut s), "a 4 MiB frame before SASL");

    // The handshake lists the mechanisms; an unknown one is refused.
    let mut s = connect(&server);
    let h = handshake(&mut s, "GSSAPI");
    assert_eq!(h.error_code, 33, "UNSUPPORTED_SASL_MECHANISM");
    let offered: Vec<String> = h.mechanisms.iter().map(|m| m.to_string()).collect();
    assert_eq!(offered, ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"]);

    // SCRAM with a wrong proof: SASL_AUTHENTICATION_FAILED with a message, then closed.
    let mut s = connect(&server);
    assert_eq!(handshake(&mut s, "SCRAM-SHA-256").error_code, 0);
    let first = authenticate(&mut s, b"n,,n=alice,r=clientnonce123");
    assert_eq!(first.error_code, 0);
    let server_first = String::from_utf8(first.auth_bytes.to_vec()).unwrap();
    let nonce = server_first
        .split(',')
        .next()
        .unwrap()
        .strip_prefix("r=")
        .unwrap();
    assert!(
        nonce.starts_with("clientnonce123") && nonce.len() > 20,
        "{server_first}"
    );
    assert!(server_first.contains(",i=4096"), "{server_first}");
    let bogus = format!("c=biws,r={nonce},p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    let failed = authenticate(&mut s, bogus.as_bytes());
    assert_eq!(failed.error_code, AUTH_FAILED);
    assert!(
        failed
            .error_message
            .is_some_and(|m| m.contains("invalid credentials"))
    );
    assert!(closed_by_server(&mut s));

    // An unknown user looks the same as a wrong password until the proof.
    let mut s = connect(&server);
    handshake(&mut s, "SCRAM-SHA-512");
    let first = authenticate(&mut s, b"n,,n=nobody,r=abc");
    assert_eq!(first.error_code, 0, "no hint that the user does not exist");

    // PLAIN (offered on loopback): wrong password fails, right one lets requests in.
    let mut s = connect(&server);
    handshake(&mut s, "PLAIN");
    assert_eq!(
        authenticate(&mut s, b"\0alice\0wrong").error_code,
        AUTH_FAILED
    );
    assert!(closed_by_server(&mut s));
    let mut s = connect(&server);
    handshake(&mut s, "PLAIN");
    assert_eq!(authenticate(&mut s, b"\0alice\0wonderland").error_code, 0);
    assert_eq!(metadata(&mut s).brokers.len(), 1);
    // Once authenticated, another handshake is out of order.
    assert_eq!(
        handshake(&mut s, "PLAIN").error_code,
        34,
        "ILLEGAL_SASL_STATE"
    );
}

#[test]
fn kcat_produces_and_consumes_with_scram_sha_256_and_512() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    add_first_user(&server, "kc", "kc-secret");
    for (mechanism, topic) in [("SCRAM-SHA-256", "kc256"), ("SCRAM-SHA-512", "kc512")] {
        let sasl = [
            "-X",
            "security.protocol=SASL_PLAINTEXT",
            "-X",
            &format!("sasl.mechanisms={mechanism}"),
            "-X",
            "sasl.username=kc",
            "-X",
            "sasl.password=kc-secret",
        ]
        .map(str::to_owned);
        let mut args: Vec<String> =
            vec!["-b".into(), server.kafka.clone(), "-t".into(), topic.into()];
        args.extend(sasl.iter().cloned());
        let mut produce = args.clone();
        produce.push("-P".into());
        let produce: Vec<&str> = produce.iter().map(String::as_str).collect();
        kcat(&produce, b"one\ntwo\nthree\n");
        let mut consume = args.clone();
        consume.extend(["-C", "-e", "-o", "beginning"].map(str::to_owned));
        let consume: Vec<&str> = consume.iter().map(String::as_str).collect();
        assert_eq!(kcat(&consume, b""), "one\ntwo\nthree\n", "{mechanism}");
    }
    // A wrong password: kcat fails.
    let out = Command::new("kcat")
        .args(["-b", &server.kafka, "-L", "-m", "5"])
        .args(["-X", "security.protocol=SASL_PLAINTEXT"])
        .args(["-X", "sasl.mechanisms=SCRAM-SHA-256"])
        .args(["-X", "sasl.username=kc", "-X", "sasl.password=nope"])
        .output()
        .expect("kcat");
    assert!(!out.status.success(), "kcat -L with a wrong password");
}

fn confluent_kafka_authenticates_with_scram(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    add_first_user(&server, "py", "py-secret");
    for (mechanism, topic) in [("SCRAM-SHA-256", "py256"), ("SCRAM-SHA-512", "py512")] {
        let out = run_client_on(
            install,
            "python",
            "confluent_sasl.py",
            &[
                "roundtrip",
                &server.kafka,
                mechanism,
                "py",
                "py-secret",
                topic,
                "200",
            ],
        );
        assert_eq!(out["consumed"], 200, "{mechanism}: {out}");
    }
    let out = run_client_on(
        install,
        "python",
        "confluent_sasl.py",
        &["refused", &server.kafka, "SCRAM-SHA-512", "py", "wrong"],
    );
    let errors = out["errors"].to_string();
    assert!(errors.contains("uthenticat"), "{errors}");
}

fn kafkajs_authenticates_with_scram(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    add_first_user(&server, "js", "js-secret");
    for (mechanism, topic) in [("scram-sha-256", "js256"), ("scram-sha-512", "js512")] {
        let out = run_client_on(
            install,
            "node",
            "kafkajs_sasl.js",
            &[&server.kafka, mechanism, "js", "js-secret", topic],
        );
        assert_eq!(out["consumed"], 20, "{mechanism}: {out}");
    }
}

on_both_installs!(
    confluent_kafka_authenticates_with_scram,
    kafkajs_authenticates_with_scram
);
