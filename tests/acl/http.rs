//! The HTTP API: 401 and 403, `/v1/acls`, `weir acl`, and confluent-kafka's AdminClient.

use super::*;

/// Runs the `weir` CLI as `user`.
fn weir_as(server: &Server, user: &str, password: &str, args: &[&str]) -> Output {
    Command::new(weir_bin())
        .arg("--url")
        .arg(&server.url)
        .args(args)
        .env_remove("WEIR_TOKEN")
        .env("WEIR_USER", user)
        .env("WEIR_PASSWORD", password)
        .output()
        .expect("run weir")
}

#[test]
fn http_denials_are_403_naming_what_and_acls_are_managed_over_http_and_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    admin_and_bob(&server);
    create_topic_as(&server, "logs", 1, ("admin", "admin-pw"));
    let get = |path: &str, who: Option<(&str, &str)>| {
        let mut r = http().get(server.at(path));
        if let Some((u, p)) = who {
            r = r.basic_auth(u, Some(p));
        }
        let r = r.send().unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().unwrap_or(Value::Null))
    };
    let bob = Some(("bob", "bob-pw"));
    let admin = Some(("admin", "admin-pw"));
    assert_eq!(get("/v1/topics/logs", None).0, 401);
    let (status, body) = get("/v1/topics/logs", bob);
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "acl_denied");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("User:bob") && message.contains("DESCRIBE") && message.contains("logs"),
        "{message}"
    );
    assert_eq!(get("/v1/topics/logs", admin).0, 200);
    // Module uploads: 401 without credentials, 403 without CREATE on the module.
    let upload = |who: Option<(&str, &str)>| {
        let mut r = http()
            .post(server.at("/v1/modules/m"))
            .header("content-type", "application/wasm")
            .body(vec![0u8; 1024]);
        if let Some((u, p)) = who {
            r = r.basic_auth(u, Some(p));
        }
        r.send().unwrap().status().as_u16()
    };
    assert_eq!(upload(None), 401);
    assert_eq!(upload(bob), 403);
    // Bob may not touch ACLs.
    let r = http()
        .post(server.at("/v1/acls"))
        .basic_auth("bob", Some("bob-pw"))
        .json(&json!({"resource_type": "TOPIC", "resource_name": "*", "principal": "User:bob", "operation": "ALL"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);

    // The administrator grants READ on `logs` over HTTP: READ implies DESCRIBE.
    let r = http()
        .post(server.at("/v1/acls"))
        .basic_auth("admin", Some("admin-pw"))
        .json(&json!({"resource_type": "topic", "resource_name": "logs", "principal": "User:bob", "operation": "READ"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    assert_eq!(get("/v1/topics/logs", bob).0, 200);
    let (status, listed) = get("/v1/acls?principal=User:bob", admin);
    assert_eq!(status, 200);
    assert_eq!(listed["acls"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["acls"][0]["pattern_type"], "LITERAL");
    assert_eq!(listed["acls"][0]["permission"], "ALLOW");
    // A bad binding is a 400 naming the field's choices.
    let r = http()
        .post(server.at("/v1/acls"))
        .basic_auth("admin", Some("admin-pw"))
        .json(&json!({"resource_type": "TOPIC", "resource_name": "x", "principal": "User:bob", "operation": "SING"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    // A DELETE without a filter is refused rather than wiping every ACL.
    let r = http()
        .delete(server.at("/v1/acls"))
        .basic_auth("admin", Some("admin-pw"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http()
        .delete(server.at("/v1/acls?principal=User:bob"))
        .basic_auth("admin", Some("admin-pw"))
        .send()
        .unwrap();
    let body: Value = r.json().unwrap();
    assert_eq!(body["deleted"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(get("/v1/topics/logs", bob).0, 403);

    // Committing offsets over HTTP: READ on the group, then on each topic.
    let commit = || {
        http()
            .post(server.at("/v1/groups/hg/offsets"))
            .basic_auth("bob", Some("bob-pw"))
            .json(&json!({"offsets": [{"topic": "logs", "partition": 0, "offset": 0}]}))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(commit(), 403);
    let r = http()
        .post(server.at("/v1/acls"))
        .basic_auth("admin", Some("admin-pw"))
        .json(&json!({"resource_type": "GROUP", "resource_name": "hg", "principal": "User:bob", "operation": "READ"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(commit(), 403, "READ on the group but not on the topic");
    let r = http()
        .post(server.at("/v1/acls"))
        .basic_auth("admin", Some("admin-pw"))
        .json(&json!({"resource_type": "TOPIC", "resource_name": "logs", "principal": "User:bob", "operation": "READ"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(commit(), 200);
    // Creating a topic (its name is in the body) needs CREATE on the cluster or on
    // the topic, as Kafka's CreateTopics: a PREFIXED CREATE on `bob-` is enough.
    let create = |name: &str| {
        http()
            .post(server.at("/v1/topics"))
            .basic_auth("bob", Some("bob-pw"))
            .json(&json!({"name": name, "partitions": 1}))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(create("bob-1"), 403);
    let r = http()
        .post(server.at("/v1/acls"))
        .basic_auth("admin", Some("admin-pw"))
        .json(&json!({"resource_type": "TOPIC", "resource_name": "bob-", "pattern_type": "PREFIXED", "principal": "User:bob", "operation": "CREATE"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(create("bob-1"), 201);
    assert_eq!(create("alice-1"), 403);
    // The CLI: add, list, remove; bob's CLI gets the 403 as an error.
    let out = weir_as(
        &server,
        "admin",
        "admin-pw",
        &[
            "acl",
            "add",
            "--principal",
            "User:bob",
            "--operation",
            "write",
            "--topic",
            "lo",
            "--prefixed",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = weir_as(
        &server,
        "admin",
        "admin-pw",
        &["acl", "list", "--principal", "User:bob"],
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("WRITE") && table.contains("PREFIXED") && table.contains("lo"),
        "{table}"
    );
    let r = http()
        .post(server.at("/v1/topics/logs/records"))
        .basic_auth("bob", Some("bob-pw"))
        .json(&json!({"records": [{"value": "x"}]}))
        .send()
        .unwrap();
    assert_ne!(r.status(), 403, "WRITE on the prefix lets bob produce");
    let out = weir_as(&server, "bob", "bob-pw", &["acl", "list"]);
    assert!(!out.status.success());
    let out = weir_as(
        &server,
        "admin",
        "admin-pw",
        &["acl", "remove", "--principal", "User:bob"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed 4"));
    assert!(server.stop());
}

fn confluent_admin_client_creates_describes_and_deletes_acls(install: Install) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    admin_and_bob(&server);
    create_topic_as(&server, "payments", 1, ("admin", "admin-pw"));
    let out = run_client_on(
        install,
        "python",
        "confluent_acls.py",
        &[
            "roundtrip",
            &server.kafka,
            "admin",
            "admin-pw",
            "bob",
            "bob-pw",
            "payments",
        ],
    );
    assert_eq!(
        out["described"],
        json!([
            ["TOPIC", "logs-", "PREFIXED", "READ", "ALLOW"],
            ["TOPIC", "payments", "LITERAL", "WRITE", "ALLOW"]
        ]),
        "{out}"
    );
    // The administrator's bootstrap ACLs on Kafka's 4 resource types and bob's two:
    // weir's own types (module, pipeline, connector) are not shown to Kafka clients.
    assert_eq!(out["total"], 6, "{out}");
    assert_eq!(out["before"], Value::Null, "{out}");
    assert_eq!(out["deleted"], 2, "{out}");
    assert_eq!(out["after"], "TOPIC_AUTHORIZATION_FAILED", "{out}");
    assert_eq!(out["refused"], "CLUSTER_AUTHORIZATION_FAILED", "{out}");
    assert!(server.stop());
}

on_both_installs!(confluent_admin_client_creates_describes_and_deletes_acls);

#[test]
fn an_unauthorised_upload_gets_its_403_before_the_body_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    admin_and_bob(&server);
    // A 100 MiB upload announced by bob (no CREATE on the module), 1 KiB sent: the
    // 403 comes without the rest, so no ACL-less user can make the server read it.
    let addr = server.url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /v1/modules/big HTTP/1.1\r\nHost: weir\r\nContent-Type: application/wasm\r\n\
         Authorization: Basic Ym9iOmJvYi1wdw==\r\nContent-Length: {}\r\n\r\n",
        100 << 20
    )
    .unwrap();
    s.write_all(&[0u8; 1024]).unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head)
        .expect("an answer before the body is sent");
    assert_eq!(&head, b"HTTP/1.1 403", "{}", String::from_utf8_lossy(&head));
    assert!(server.stop());
}

/// The HTTP listings show what the caller may DESCRIBE, as Kafka's Metadata and
/// ListGroups do, instead of needing DESCRIBE on the cluster: a caller without
/// ACLs gets empty lists, not a 403.
#[test]
fn http_listings_show_what_the_caller_may_describe() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    admin_and_bob(&server);
    let admin = ("admin", "admin-pw");
    for topic in ["a-1", "a-2", "b", "pa-out", "pb-out"] {
        create_topic_as(&server, topic, 1, admin);
    }
    let send = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut r = http()
            .request(method, server.at(path))
            .basic_auth(admin.0, Some(admin.1));
        if let Some(body) = body {
            r = r.json(&body);
        }
        let r = r.send().unwrap();
        let status = r.status().as_u16();
        (status, r.text().unwrap())
    };
    for group in ["ga", "gb"] {
        let commit = json!({"offsets": [{"topic": "b", "partition": 0, "offset": 0}]});
        let (status, body) = send(
            reqwest::Method::POST,
            &format!("/v1/groups/{group}/offsets"),
            Some(commit),
        );
        assert_eq!(status, 200, "{body}");
    }
    let wasm = std::fs::read(common::guests::guest("rust", "rust-filter")).unwrap();
    for module in ["ma", "mb"] {
        let r = http()
            .post(server.at(&format!("/v1/modules/{module}")))
            .basic_auth(admin.0, Some(admin.1))
            .header("content-type", "application/wasm")
            .body(wasm.clone())
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    }
    for (pipeline, module) in [("pa", "ma"), ("pb", "mb")] {
        let spec = json!({"name": pipeline, "inputs": ["b"], "output": format!("{pipeline}-out"),
            "steps": [{"module": module, "config": {"pattern": "-"}}]});
        let (status, body) = send(reqwest::Method::POST, "/v1/pipelines", Some(spec));
        assert_eq!(status, 201, "{body}");
    }
    let grant = |kind: &str, name: &str, pattern: &str, op: &str| {
        let acl = json!({"resource_type": kind, "resource_name": name, "pattern_type": pattern,
            "principal": "User:bob", "operation": op});
        let (status, body) = send(reqwest::Method::POST, "/v1/acls", Some(acl));
        assert_eq!(status, 201, "{body}");
    };
    // The names each listing shows Bob.
    let listed = |path: &str, key: &str, field: &str| {
        let r = http()
            .get(server.at(path))
            .basic_auth("bob", Some("bob-pw"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "GET {path}");
        let body: Value = r.json().unwrap();
        let mut names: Vec<String> = body[key]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|item| item[field].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names.dedup();
        names
    };
    let topics = || listed("/v1/topics", "topics", "name");
    let groups = || listed("/v1/groups", "groups", "group");
    let modules = || listed("/v1/modules", "modules", "name");
    let pipelines = || listed("/v1/pipelines", "pipelines", "name");
    let none: Vec<String> = vec![];
    assert_eq!(topics(), none);
    assert_eq!(groups(), none);
    assert_eq!(modules(), none);
    assert_eq!(pipelines(), none);

    grant("TOPIC", "a-", "PREFIXED", "READ");
    assert_eq!(topics(), ["a-1", "a-2"]);
    grant("GROUP", "gb", "LITERAL", "DESCRIBE");
    assert_eq!(groups(), ["gb"]);
    grant("MODULE", "ma", "LITERAL", "DESCRIBE");
    assert_eq!(modules(), ["ma"]);
    grant("PIPELINE", "pb", "LITERAL", "DESCRIBE");
    assert_eq!(pipelines(), ["pb"]);
    // DESCRIBE on the cluster lists every group (ListGroups' rule), and no more
    // topics, modules or pipelines than before (Metadata's).
    grant("CLUSTER", "kafka-cluster", "LITERAL", "DESCRIBE");
    assert_eq!(groups(), ["ga", "gb"]);
    assert_eq!(topics(), ["a-1", "a-2"]);
    assert_eq!(modules(), ["ma"]);
    assert_eq!(pipelines(), ["pb"]);
    assert!(server.stop());
}

/// A user without any ACL creates a token for itself (as Kafka lets a user create a
/// delegation token it owns) and authenticates with it; a token for another user,
/// and the token listing, still need the cluster's ALTER and DESCRIBE.
#[test]
fn a_user_creates_its_own_token_but_not_anothers() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    admin_and_bob(&server);
    let token_for = |user: &str, who: (&str, &str)| {
        http()
            .post(server.at("/v1/tokens"))
            .basic_auth(who.0, Some(who.1))
            .json(&json!({ "user": user }))
            .send()
            .unwrap()
    };
    let r = token_for("bob", ("bob", "bob-pw"));
    assert_eq!(r.status(), 201);
    let body: Value = r.json().unwrap();
    assert_eq!(body["user"], "bob", "{body}");
    let token = body["token"].as_str().unwrap().to_string();
    // The token authenticates as bob: a listing answers (empty, bob may DESCRIBE
    // nothing), an admin route is refused naming bob.
    let r = http()
        .get(server.at("/v1/topics"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http()
        .get(server.at("/v1/tokens"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().unwrap().contains("User:bob"));
    let r = token_for("admin", ("bob", "bob-pw"));
    assert_eq!(r.status(), 403);
    let text = r.text().unwrap();
    assert!(
        text.contains("User:bob") && text.contains("ALTER"),
        "{text}"
    );
    // The admin (ALL on the cluster as the first user) may create one for bob.
    assert_eq!(token_for("bob", ("admin", "admin-pw")).status(), 201);
}

#[test]
fn dead_letters_need_read_on_the_dead_letter_topic_too() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    admin_and_bob(&server);
    let admin = ("admin", "admin-pw");
    for t in ["in", "out", "dlq"] {
        create_topic_as(&server, t, 1, admin);
    }
    let wasm = std::fs::read(common::guests::guest("hostile", "trap")).unwrap();
    let r = http()
        .post(server.at("/v1/modules/trap"))
        .basic_auth(admin.0, Some(admin.1))
        .header("content-type", "application/wasm")
        .body(wasm)
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    let r = http()
        .post(server.at("/v1/pipelines"))
        .basic_auth(admin.0, Some(admin.1))
        .json(&json!({"name": "live", "inputs": ["in"], "output": "out",
            "steps": [{"module": "trap"}], "on_error": "dead-letter",
            "dead_letter_topic": "dlq", "start": "earliest"}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().unwrap());
    let grant = |kind: &str, name: &str| {
        let r = http()
            .post(server.at("/v1/acls"))
            .basic_auth(admin.0, Some(admin.1))
            .json(&json!({"resource_type": kind, "resource_name": name,
                "principal": "User:bob", "operation": "READ"}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    };
    let bob_reads = || {
        let r = http()
            .get(server.at("/v1/pipelines/live/dead-letters"))
            .basic_auth("bob", Some("bob-pw"))
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    // READ on the pipeline alone does not show the dead-letter topic's records.
    grant("pipeline", "live");
    let (status, body) = bob_reads();
    assert_eq!(status, 403, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("dlq") && message.contains("READ"),
        "{message}"
    );
    grant("topic", "dlq");
    let (status, body) = bob_reads();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["topic"], "dlq");
}
