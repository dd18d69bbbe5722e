//! Shared helpers of the end-to-end tests: start a real `weir serve` child on
//! port 0 in a temp dir, wait for it with a deadline, talk to it over HTTP.
#![allow(dead_code)]

pub mod attached;
pub mod connect;
pub mod guests;
pub mod pipeline;
pub mod pki;
pub mod postgres;
pub mod streams;
pub mod wire;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// Path of the `weir` binary cargo built for these tests.
pub fn weir_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_weir"))
}

/// The `weir.toml` of a test server started without its own `--config`. As in
/// Kafka's own test brokers, a group's first join is answered at once instead
/// of after the 3 s initial rebalance delay, so that each group test does not
/// take seconds longer; tests of the delay, or of clients that need it, bring
/// their own config.
pub const TEST_CONFIG: &str = "[kafka]\ngroup_initial_rebalance_delay_ms = 0\n";

/// The listener flags every test server gets: loopback, port 0.
pub fn serve_args() -> [&'static str; 6] {
    [
        "--http-addr",
        "127.0.0.1:0",
        "--kafka-addr",
        "127.0.0.1:0",
        "--connect-addr",
        "127.0.0.1:0",
    ]
}

/// A memory figure of process `pid` from `/proc/<pid>/status`, KiB: `VmHWM` (peak
/// resident), `VmRSS`, `VmSize`. What the attack tests bound.
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// The peak resident memory of process `pid`, KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmHWM")
}

/// A running `weir serve` child process, killed on drop.
pub struct Server {
    /// The child.
    pub child: Child,
    /// Base URL of its HTTP API.
    pub url: String,
    /// host:port of its Kafka listener.
    pub kafka: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Every line it printed on stdout so far.
    pub stdout: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `weir serve` on port 0 with `data_dir` and extra args; waits (≤ 60 s)
    /// for the lines announcing its HTTP and Kafka addresses. Without a
    /// `--config` among `extra` it gets [`TEST_CONFIG`].
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        let mut cmd = Command::new(weir_bin());
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .args(serve_args())
            .args(extra);
        if extra.contains(&"--config") {
            return Server::spawn(cmd, data_dir);
        }
        // Read once at startup: the file may go when the server has announced.
        let config = tempfile::NamedTempFile::new().expect("a temp config file");
        std::fs::write(config.path(), TEST_CONFIG).expect("write the test config");
        cmd.arg("--config").arg(config.path());
        Server::spawn(cmd, data_dir)
    }

    /// Starts `weir serve` like [`Server::start`] with `config` as its
    /// `weir.toml` (over the shipped defaults, not [`TEST_CONFIG`]).
    pub fn start_with_config(data_dir: &Path, config: &str, extra: &[&str]) -> Server {
        let file = tempfile::NamedTempFile::new().expect("a temp config file");
        std::fs::write(file.path(), config).expect("write the config");
        let path = file.path().to_str().expect("a UTF-8 temp path");
        Server::start(data_dir, &[&["--config", path], extra].concat())
    }

    /// Starts `weir serve` on a tmpfs of `size` (e.g. `4m`) mounted over `data_dir` in a
    /// private user and mount namespace, so a test can fill the disk without touching the
    /// host's.
    pub fn start_on_tmpfs(data_dir: &Path, size: &str) -> Server {
        std::fs::create_dir_all(data_dir).unwrap();
        let mut cmd = Command::new("unshare");
        cmd.args(["--user", "--map-root-user", "--mount", "sh", "-c"])
            .arg(r#"dir="$0"; size="$1"; weir="$2"; shift 2; mount -t tmpfs -o size="$size" tmpfs "$dir" && exec "$weir" serve --data-dir "$dir" "$@""#)
            .arg(data_dir)
            .arg(size)
            .arg(weir_bin())
            .args(serve_args());
        Server::spawn(cmd, data_dir)
    }

    /// Spawns a prepared command that ends up running `weir serve` (e.g. through
    /// `unshare`) and waits (≤ 60 s) for it to announce its HTTP address.
    pub fn spawn(mut cmd: Command, data_dir: &Path) -> Server {
        let mut child = cmd
            .env("WEIR_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn weir serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let seen = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut seen) = seen.lock() {
                    seen.push(line.clone());
                }
                if let Some(url) = line.strip_prefix("weir: HTTP API on ") {
                    let _ = tx.send((true, url.trim().to_string()));
                }
                if let Some(addr) = line.strip_prefix("weir: Kafka API on ") {
                    let _ = tx.send((false, addr.trim().to_string()));
                }
            }
        });
        let (mut url, mut kafka) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(60);
        while url.is_none() || kafka.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((true, u)) => url = Some(u),
                Ok((false, k)) => kafka = Some(k),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    panic!("weir serve did not announce its HTTP and Kafka addresses within 60 s");
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait();
                    panic!("weir serve exited before announcing its addresses: {status:?}");
                }
            }
        }
        Server {
            child,
            url: url.unwrap_or_default(),
            kafka: kafka.unwrap_or_default(),
            data_dir: data_dir.to_path_buf(),
            stdout: lines,
        }
    }

    /// Whether the server printed `line` on stdout.
    pub fn printed(&self, line: &str) -> bool {
        self.stdout
            .lock()
            .map(|l| l.iter().any(|l| l == line))
            .unwrap_or(false)
    }

    /// SIGKILL, no clean shutdown.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit; returns whether it exited with success.
    pub fn stop(mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A full URL for an API path.
    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates a topic; panics unless 201.
pub fn create_topic(s: &Server, name: &str, partitions: u32) {
    let r = http()
        .post(s.at("/v1/topics"))
        .json(&serde_json::json!({"name": name, "partitions": partitions}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "creating {name}: {}", r.text().unwrap());
}

/// Creates a topic over HTTP as `user` (basic credentials), once users exist.
pub fn create_topic_as(s: &Server, name: &str, partitions: u32, (user, password): (&str, &str)) {
    let r = http()
        .post(s.at("/v1/topics"))
        .basic_auth(user, Some(password))
        .json(&serde_json::json!({"name": name, "partitions": partitions}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "creating {name}: {}", r.text().unwrap());
}

/// Whether the server closes `stream` within 10 s (a read sees EOF or a reset, not a
/// timeout).
pub fn closed_by_server(stream: &mut std::net::TcpStream) -> bool {
    use std::io::Read;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            false
        }
        Err(_) => true,
    }
}

/// Installs ring as rustls's process-wide provider: reqwest is built without one
/// (weir's own is ring), and builds no client before one is installed.
pub fn install_crypto_provider() {
    #[allow(deprecated)]
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
}

/// A blocking HTTP client with a generous timeout.
pub fn http() -> reqwest::blocking::Client {
    install_crypto_provider();
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client")
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// The repository root (tests/ and tests/clients/ live there).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// Which install of the Kafka client libraries a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Install {
    /// The versions pinned in tests/clients/ (.venv/, tests/clients/node_modules/,
    /// tests/clients/java/target/pinned/).
    Pinned,
    /// The newest releases, upgraded daily by scripts/setup (.venv-newest/, .npm-newest/,
    /// tests/clients/java/target/newest/).
    Newest,
}

/// Runs a Kafka client scenario on the pinned clients; see [`run_client_on`].
pub fn run_client(program: &str, script: &str, args: &[&str]) -> serde_json::Value {
    run_client_on(Install::Pinned, program, script, args)
}

/// Runs a Kafka client scenario and returns the JSON line it prints last.
/// `program` is "python" (the install's venv interpreter), "node" (the
/// driver loads kafkajs from `KAFKAJS_PATH`) or "java" (`script` is then the
/// main class of tests/clients/java, run on that install's kafka-clients); a
/// missing client install fails the test with the way to fix it, never skips it.
pub fn run_client_on(
    install: Install,
    program: &str,
    script: &str,
    args: &[&str],
) -> serde_json::Value {
    let root = repo_root();
    let clients = root.join("tests/clients");
    let missing = |path: &Path| {
        assert!(
            path.exists(),
            "{} is missing: run scripts/setup to install the Kafka test clients",
            path.display()
        );
    };
    let mut cmd = match program {
        "python" => {
            let venv = match install {
                Install::Pinned => ".venv",
                Install::Newest => ".venv-newest",
            };
            let py = root.join(venv).join("bin/python");
            missing(&py);
            let mut cmd = Command::new(py);
            cmd.arg(clients.join(script));
            cmd
        }
        "node" => {
            let kafkajs = match install {
                Install::Pinned => clients.join("node_modules/kafkajs"),
                Install::Newest => root.join(".npm-newest/node_modules/kafkajs"),
            };
            missing(&kafkajs);
            let mut cmd = Command::new("node");
            cmd.env("KAFKAJS_PATH", kafkajs);
            cmd.arg(clients.join(script));
            cmd
        }
        "java" => {
            // Built by scripts/setup: the program's jar and lib/ with that install's kafka-clients.
            let built = clients.join("java/target").join(match install {
                Install::Pinned => "pinned",
                Install::Newest => "newest",
            });
            let jar = built.join("weir-java-client.jar");
            missing(&jar);
            let mut cmd = Command::new("java");
            cmd.arg("-cp")
                .arg(format!("{}:{}/lib/*", jar.display(), built.display()))
                .arg(script);
            cmd
        }
        other => panic!("unknown client program {other}"),
    };
    let out = cmd
        .args(args)
        .current_dir(&clients)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("running {program} {script}: {e} (run scripts/setup)"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} {args:?} on the {install:?} clients failed ({}); stdout: {stdout}",
        out.status
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{script} printed {stdout:?}: {e}"))
}

/// Declares, for each named scenario `fn name(install: Install)` of the test
/// file, one test on the pinned clients (`pinned::name`) and one on the
/// newest (`newest::name`).
#[macro_export]
macro_rules! on_both_installs {
    ($($name:ident),* $(,)?) => {
        mod pinned {
            $( #[test] fn $name() { super::$name($crate::common::Install::Pinned) } )*
        }
        mod newest {
            $( #[test] fn $name() { super::$name($crate::common::Install::Newest) } )*
        }
    };
}

/// Runs kcat with `args`, feeding `stdin`; returns its stdout. Missing kcat
/// fails with the way to fix it.
pub fn kcat(args: &[&str], stdin: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("kcat")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("running kcat: {e}: run scripts/setup to install it"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write kcat stdin");
    let out = child.wait_with_output().expect("kcat output");
    assert!(out.status.success(), "kcat {args:?} failed: {}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Checks what a client driver's `discover` run reports: every topic listed under each of
/// `topic_keys` (`{prefix}-a`, `{prefix}-b`, `other-{prefix}`), the two `{prefix}-` topics
/// consumed through the regex subscription, `per_topic` records each, the group listed and
/// its committed offsets.
pub fn assert_discovered(
    out: &serde_json::Value,
    topic_keys: &[&str],
    prefix: &str,
    group: &str,
    per_topic: u64,
) {
    use serde_json::json;
    let (a, b) = (format!("{prefix}-a"), format!("{prefix}-b"));
    for key in topic_keys {
        let topics = out[key]
            .as_array()
            .unwrap_or_else(|| panic!("{key}: {out}"));
        for name in [&a, &b, &format!("other-{prefix}")] {
            assert!(topics.contains(&json!(name)), "{key} lacks {name}: {out}");
        }
    }
    assert_eq!(out["consumed"], per_topic * 2, "{out}");
    assert_eq!(out["from_topics"], json!([a, b]), "{out}");
    let groups = out["groups"].as_array().unwrap_or_else(|| panic!("{out}"));
    assert!(groups.contains(&json!(group)), "{out}");
    let mut offsets = serde_json::Map::new();
    offsets.insert(format!("{a}:0"), json!(per_topic));
    offsets.insert(format!("{b}:0"), json!(per_topic));
    assert_eq!(out["offsets"], serde_json::Value::Object(offsets), "{out}");
}
