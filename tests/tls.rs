//! TLS on both listeners (issue 13, point 2), against a real `weir serve` with
//! certificates made here by the `openssl` CLI: SASL/SCRAM over TLS with kcat,
//! confluent-kafka and kafkajs; client certificates as principals (Kafka SSL without
//! SASL, https without a token); https with a token and basic; a plaintext client and
//! a stalled handshake closed while the server keeps serving; a bad `[tls]` refusing
//! to start, naming the file.
mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::pki::{Pki, pki};
use common::{Install, Server, closed_by_server, kcat, run_client_on, weir_bin};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

/// Writes `weir.toml` beside the certificates, with paths relative to it (as the
/// config doc says they are read), plus `extra` TOML; returns its path.
fn config(pki: &Pki, client_auth: &str, extra: &str) -> PathBuf {
    let client_ca = if client_auth == "none" { "" } else { "ca.pem" };
    let path = pki.dir.join("weir.toml");
    std::fs::write(
        &path,
        format!(
            "[tls]\ncert = \"server.pem\"\nkey = \"server.key\"\nclient_ca = \"{client_ca}\"\n\
             client_auth = \"{client_auth}\"\n{extra}"
        ),
    )
    .unwrap();
    path
}

fn start(data: &Path, config: &Path) -> Server {
    let server = Server::start(data, &["--config", config.to_str().unwrap()]);
    assert!(server.url.starts_with("https://"), "{}", server.url);
    server
}

/// An https client trusting the test CA, presenting alice's certificate if asked.
fn https(pki: &Pki, as_alice: bool) -> reqwest::blocking::Client {
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(pki.path("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = if as_alice {
        let chain = CertificateDer::pem_file_iter(pki.path("alice.pem"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = PrivateKeyDer::from_pem_file(pki.path("alice.key")).unwrap();
        builder.with_client_auth_cert(chain, key).unwrap()
    } else {
        builder.with_no_client_auth()
    };
    reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(config)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Adds a user over https without credentials (works only while there are none).
fn add_first_user(server: &Server, pki: &Pki, name: &str, password: &str) {
    let r = https(pki, false)
        .post(server.at("/v1/users"))
        .json(&json!({"name": name, "password": password}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
}

fn kcat_scram(server: &Server, pki: &Pki) -> Vec<String> {
    [
        "-b",
        &server.kafka,
        "-X",
        "security.protocol=SASL_SSL",
        "-X",
        &format!("ssl.ca.location={}", pki.path("ca.pem")),
        "-X",
        "sasl.mechanisms=SCRAM-SHA-512",
        "-X",
        "sasl.username=kc",
        "-X",
        "sasl.password=kc-secret",
    ]
    .map(str::to_owned)
    .to_vec()
}

#[test]
fn kcat_scram_over_tls_and_a_plaintext_client_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("pki"));
    let server = start(&dir.path().join("data"), &config(&pki, "none", ""));
    add_first_user(&server, &pki, "kc", "kc-secret");
    let base = kcat_scram(&server, &pki);
    let run = |extra: &[&str], stdin: &[u8]| {
        let mut args: Vec<&str> = base.iter().map(String::as_str).collect();
        args.extend(extra);
        kcat(&args, stdin)
    };
    run(&["-t", "secure", "-P"], b"one\ntwo\nthree\n");
    assert_eq!(
        run(&["-t", "secure", "-C", "-e", "-o", "beginning"], b""),
        "one\ntwo\nthree\n"
    );

    // A client speaking plain Kafka to the TLS listener is closed at once (its
    // ApiVersions is no ClientHello), and the listener keeps serving.
    let started = Instant::now();
    let mut plain = TcpStream::connect(&server.kafka).unwrap();
    // ApiVersions v0, correlation id 1, no client id.
    plain
        .write_all(&[0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff])
        .unwrap();
    // rustls answers with an alert, then closes.
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    let read = std::io::Read::read_to_end(&mut plain, &mut answer);
    assert!(
        read.is_ok() || read.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "closed, not timed out"
    );
    assert!(answer.len() < 64, "at most an alert: {answer:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed on the bad handshake, not by a timeout"
    );
    let out = Command::new("kcat")
        .args(["-b", &server.kafka, "-L", "-m", "5"])
        .args(["-X", "security.protocol=SASL_PLAINTEXT"])
        .args(["-X", "sasl.mechanisms=SCRAM-SHA-512"])
        .args(["-X", "sasl.username=kc", "-X", "sasl.password=kc-secret"])
        .output()
        .expect("kcat");
    assert!(
        !out.status.success(),
        "SASL_PLAINTEXT against a TLS listener"
    );
    assert_eq!(
        run(&["-t", "secure", "-C", "-e", "-o", "beginning"], b""),
        "one\ntwo\nthree\n",
        "still serving"
    );
    // SASL PLAIN is offered and accepted over TLS.
    let mut args: Vec<String> = base
        .iter()
        .map(|a| a.replace("SCRAM-SHA-512", "PLAIN"))
        .collect();
    args.extend(["-t", "secure", "-C", "-e", "-o", "beginning"].map(str::to_owned));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(kcat(&args, b""), "one\ntwo\nthree\n", "PLAIN over TLS");
}

#[test]
fn https_takes_tokens_basic_and_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("pki"));
    let server = start(&dir.path().join("data"), &config(&pki, "optional", ""));
    add_first_user(&server, &pki, "alice", "wonderland");
    add_user(&server, &pki, "bob", "builder");
    // The first user may do everything; bob may list and make tokens.
    let alice = ("alice", "wonderland");
    grant(&server, &pki, alice, "User:bob", "CLUSTER", "kafka-cluster");
    let client = https(&pki, false);
    let r = client.get(server.at("/v1/topics")).send().unwrap();
    assert_eq!(r.status(), 401, "users exist: credentials needed");
    let r = client
        .get(server.at("/v1/topics"))
        .basic_auth("bob", Some("builder"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "basic over TLS");
    let token: Value = client
        .post(server.at("/v1/tokens"))
        .basic_auth("bob", Some("builder"))
        .json(&json!({"user": "bob"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = token["token"].as_str().expect("a token").to_string();
    let r = client
        .get(server.at("/v1/topics"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "a token over TLS");
    // alice's certificate authenticates her (User:alice, its CN) without a header.
    let r = https(&pki, true)
        .get(server.at("/v1/users"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "client certificate as principal");
    // A wrong password is still refused when a certificate-less client sends one.
    let r = client
        .get(server.at("/v1/topics"))
        .basic_auth("bob", Some("nope"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    // The CLI speaks https, trusting the CA given with --ca-cert (and only then).
    let cli = |ca: Option<&str>| {
        let mut cmd = Command::new(weir_bin());
        cmd.args(["--url", &server.url, "--token", &token])
            .env_remove("WEIR_CA_CERT")
            .env("SSL_CERT_FILE", "/nonexistent");
        if let Some(ca) = ca {
            cmd.args(["--ca-cert", ca]);
        }
        cmd.args(["topic", "list"]).output().unwrap()
    };
    let out = cli(Some(&pki.path("ca.pem")));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!cli(None).status.success(), "an unknown CA is refused");
    // Plain http to the https listener gets no answer, and https goes on.
    let plain = common::http()
        .get(server.url.replace("https://", "http://") + "/v1/topics")
        .send();
    assert!(plain.is_err(), "{plain:?}");
    let r = client
        .get(server.at("/v1/topics"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Grants `principal` ALL on the `resource_type` named `name`, as the user `admin`
/// (name, password): once users exist, ACLs decide what each principal may do.
fn grant(
    server: &Server,
    pki: &Pki,
    admin: (&str, &str),
    principal: &str,
    resource_type: &str,
    name: &str,
) {
    let r = https(pki, true)
        .post(server.at("/v1/acls"))
        .basic_auth(admin.0, Some(admin.1))
        .json(&json!({
            "resource_type": resource_type,
            "resource_name": name,
            "principal": principal,
            "operation": "ALL",
        }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
}

fn add_user(server: &Server, pki: &Pki, name: &str, password: &str) {
    let r = https(pki, false)
        .post(server.at("/v1/users"))
        .basic_auth("alice", Some("wonderland"))
        .json(&json!({"name": name, "password": password}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
}

#[test]
fn kafka_client_certificate_is_the_principal_without_sasl() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("pki"));
    let server = start(&dir.path().join("data"), &config(&pki, "required", ""));
    // With required client certificates, https without one fails too.
    assert!(
        https(&pki, false)
            .get(server.at("/v1/topics"))
            .send()
            .is_err()
    );
    let r = https(&pki, true)
        .post(server.at("/v1/users"))
        .json(&json!({"name": "someone", "password": "pw"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    // The first user may do everything; alice (her certificate) gets the topic.
    grant(
        &server,
        &pki,
        ("someone", "pw"),
        "User:alice",
        "TOPIC",
        "certified",
    );
    // Users exist, so every request must authenticate: alice's certificate does.
    let ssl = [
        "-b".to_string(),
        server.kafka.clone(),
        "-X".into(),
        "security.protocol=SSL".into(),
        "-X".into(),
        format!("ssl.ca.location={}", pki.path("ca.pem")),
        "-X".into(),
        format!("ssl.certificate.location={}", pki.path("alice.pem")),
        "-X".into(),
        format!("ssl.key.location={}", pki.path("alice.key")),
        "-t".into(),
        "certified".into(),
    ];
    let mut produce: Vec<&str> = ssl.iter().map(String::as_str).collect();
    produce.push("-P");
    kcat(&produce, b"a\nb\n");
    let mut consume: Vec<&str> = ssl.iter().map(String::as_str).collect();
    consume.extend(["-C", "-e", "-o", "beginning"]);
    assert_eq!(kcat(&consume, b""), "a\nb\n");
    // A certificate and SASL on one connection (mutual TLS under SASL_SSL): SASL is
    // still served and its principal acts.
    let mut both: Vec<String> = ssl.to_vec();
    both[3] = "security.protocol=SASL_SSL".into();
    both.extend(
        [
            "-X",
            "sasl.mechanisms=SCRAM-SHA-256",
            "-X",
            "sasl.username=someone",
            "-X",
            "sasl.password=pw",
            "-C",
            "-e",
            "-o",
            "beginning",
        ]
        .map(str::to_owned),
    );
    let args: Vec<&str> = both.iter().map(String::as_str).collect();
    assert_eq!(
        kcat(&args, b""),
        "a\nb\n",
        "SASL after a client certificate"
    );
    // ... and SASL is checked: a wrong password fails despite the certificate.
    let wrong: Vec<String> = both
        .iter()
        .map(|a| a.replace("sasl.password=pw", "sasl.password=nope"))
        .filter(|a| !matches!(a.as_str(), "-C" | "-e" | "-o" | "beginning"))
        .chain(["-L", "-m", "5"].map(str::to_owned))
        .collect();
    let out = Command::new("kcat").args(&wrong).output().expect("kcat");
    assert!(
        !out.status.success(),
        "a wrong SASL password with a certificate"
    );
    // Without a certificate the handshake fails.
    let out = Command::new("kcat")
        .args(["-b", &server.kafka, "-L", "-m", "5"])
        .args(["-X", "security.protocol=SSL"])
        .arg("-X")
        .arg(format!("ssl.ca.location={}", pki.path("ca.pem")))
        .output()
        .expect("kcat");
    assert!(!out.status.success(), "no client certificate, required");
}

#[test]
fn a_stalled_handshake_is_closed_and_counts_against_the_caps() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("pki"));
    let extra = "[kafka]\nrequest_read_timeout_ms = 500\nmax_connections_per_ip = 2\n\
                 [http]\nheader_read_timeout_ms = 500\n";
    let server = start(&dir.path().join("data"), &config(&pki, "none", extra));
    let http_addr = server.url.trim_start_matches("https://").to_string();
    for addr in [&server.kafka, &http_addr] {
        // The first bytes of a ClientHello record, then nothing.
        let mut slow = TcpStream::connect(addr.as_str()).unwrap();
        slow.write_all(&[0x16, 0x03, 0x01, 0x00, 0x80]).unwrap();
        assert!(closed_by_server(&mut slow), "{addr}: stalled handshake");
    }
    // Two stalled handshakes hold the two places of 127.0.0.1: a third connection is
    // closed at once; once they time out, TLS clients are served again.
    let mut held: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(&server.kafka).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let mut third = TcpStream::connect(&server.kafka).unwrap();
    let started = Instant::now();
    assert!(closed_by_server(&mut third));
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "closed at once"
    );
    for s in &mut held {
        assert!(closed_by_server(s));
    }
    let out = Command::new("kcat")
        .args(["-b", &server.kafka, "-L", "-m", "10"])
        .args(["-X", "security.protocol=SSL"])
        .arg("-X")
        .arg(format!("ssl.ca.location={}", pki.path("ca.pem")))
        .stdin(Stdio::null())
        .output()
        .expect("kcat");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `weir serve --config` expecting it to refuse; returns its stderr.
fn refused(data: &Path, config: &Path) -> String {
    let mut child = Command::new(weir_bin())
        .arg("serve")
        .arg("--data-dir")
        .arg(data)
        .args(common::serve_args())
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success());
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("weir serve started with a bad [tls] section");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    err
}

#[test]
fn a_bad_tls_section_refuses_to_start_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("pki"));
    let data = dir.path().join("data");
    let write = |body: &str| {
        let path = pki.dir.join("bad.toml");
        std::fs::write(&path, format!("[tls]\n{body}")).unwrap();
        path
    };
    // Missing, relative to the config file's directory.
    let err = refused(
        &data,
        &write("cert = \"nowhere.pem\"\nkey = \"server.key\"\n"),
    );
    assert!(
        err.contains(&pki.path("nowhere.pem")) && err.contains("tls.cert"),
        "{err}"
    );
    // A key of another certificate.
    let err = refused(
        &data,
        &write("cert = \"server.pem\"\nkey = \"alice.key\"\n"),
    );
    assert!(
        err.contains("alice.key") && err.contains("server.pem"),
        "{err}"
    );
    // No certificate in the file.
    let err = refused(
        &data,
        &write("cert = \"server.key\"\nkey = \"server.key\"\n"),
    );
    assert!(
        err.contains("tls.cert") && err.contains("server.key"),
        "{err}"
    );
    // A client CA bundle that is not there.
    let err = refused(
        &data,
        &write(
            "cert = \"server.pem\"\nkey = \"server.key\"\nclient_ca = \"cas.pem\"\n\
             client_auth = \"required\"\n",
        ),
    );
    assert!(
        err.contains("tls.client_ca") && err.contains("cas.pem"),
        "{err}"
    );
    // A policy needing a CA without one.
    let err = refused(
        &data,
        &write("cert = \"server.pem\"\nkey = \"server.key\"\nclient_auth = \"optional\"\n"),
    );
    assert!(err.contains("tls.client_ca"), "{err}");
    assert!(
        !data.exists(),
        "refused before the data directory was touched"
    );
}

fn confluent_kafka_over_tls(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("pki"));
    let server = start(&dir.path().join("data"), &config(&pki, "optional", ""));
    add_first_user(&server, &pki, "py", "py-secret");
    // alice's certificate acts for User:alice, who needs her topic and group.
    let py = ("py", "py-secret");
    grant(&server, &pki, py, "User:alice", "TOPIC", "py-cert");
    grant(&server, &pki, py, "User:alice", "GROUP", "py-cert-group");
    let ca = pki.path("ca.pem");
    let out = run_client_on(
        install,
        "python",
        "confluent_tls.py",
        &[
            "scram",
            &server.kafka,
            &ca,
            "SCRAM-SHA-256",
            "py",
            "py-secret",
            "py-scram",
            "200",
        ],
    );
    assert_eq!(out["consumed"], 200, "SASL_SSL: {out}");
    let out = run_client_on(
        install,
        "python",
        "confluent_tls.py",
        &[
            "cert",
            &server.kafka,
            &ca,
            &pki.path("alice.pem"),
            &pki.path("alice.key"),
            "py-cert",
            "200",
        ],
    );
    assert_eq!(out["consumed"], 200, "SSL with a client certificate: {out}");
}

fn kafkajs_over_tls_with_scram(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("pki"));
    let server = start(&dir.path().join("data"), &config(&pki, "none", ""));
    add_first_user(&server, &pki, "js", "js-secret");
    let out = run_client_on(
        install,
        "node",
        "kafkajs_sasl.js",
        &[
            &server.kafka,
            "scram-sha-512",
            "js",
            "js-secret",
            "js-tls",
            &pki.path("ca.pem"),
        ],
    );
    assert_eq!(out["consumed"], 20, "{out}");
}

on_both_installs!(confluent_kafka_over_tls, kafkajs_over_tls_with_scram);
