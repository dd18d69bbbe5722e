//! A PostgreSQL server of a test's own (Debian's `postgresql` package, installed by
//! scripts/setup): `initdb` into the test's temp dir, `postgres` on 127.0.0.1 at a free port
//! with its socket in the temp dir, trust or SCRAM-SHA-256 authentication, stopped when the
//! [`Postgres`] guard drops. Queries go through `psql`.
//!
//! PostgreSQL refuses to run as root: under root the server runs as the `postgres` user
//! (through `setpriv`, which execs, so the child's pid is the server's).

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How clients authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Anyone connecting over TCP from 127.0.0.1 is in.
    Trust,
    /// SCRAM-SHA-256 with [`PASSWORD`] for the user `postgres`.
    Scram,
}

/// The password of `postgres` under [`Auth::Scram`].
pub const PASSWORD: &str = "s3cret-pw";

/// A running server, stopped on drop.
pub struct Postgres {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its data and socket directory.
    pub dir: PathBuf,
    bin: PathBuf,
    auth: Auth,
}

/// The newest `/usr/lib/postgresql/*/bin`.
pub fn bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("/usr/lib/postgresql is missing: run scripts/setup (it installs postgresql)")
        .filter_map(|e| {
            let e = e.ok()?;
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, b)| b)
        .expect("no PostgreSQL under /usr/lib/postgresql: run scripts/setup")
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `program` from the PostgreSQL bin dir, as the `postgres` user when we are root.
fn command(bin: &Path, program: &str) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--clear-groups",
            "--",
        ])
        .arg(bin.join(program));
        c
    } else {
        Command::new(bin.join(program))
    }
}

/// A port free on 127.0.0.1 a moment ago (PostgreSQL cannot take port 0).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

impl Postgres {
    /// Initialises a cluster under `parent/pg` and starts it; retries on a port taken
    /// meanwhile. Waits (≤ 60 s) until it answers.
    pub fn start(parent: &Path, auth: Auth) -> Postgres {
        let bin = bin_dir();
        let dir = parent.join("pg");
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            // The server's user must reach its directory through the test's temp dir.
            std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755)).unwrap();
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .unwrap();
            assert!(ok.success(), "chown {}", dir.display());
        }
        let pwfile = dir.join("pwfile");
        std::fs::write(&pwfile, format!("{PASSWORD}\n")).unwrap();
        std::fs::set_permissions(&pwfile, std::fs::Permissions::from_mode(0o644)).unwrap();
        let method = match auth {
            Auth::Trust => "trust",
            Auth::Scram => "scram-sha-256",
        };
        let out = command(&bin, "initdb")
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-U", "postgres", "-E", "UTF8", "--no-sync"])
            .arg(format!("--auth={method}"))
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for _attempt in 0..5 {
            let port = free_port();
            let mut child = command(&bin, "postgres")
                .arg("-D")
                .arg(dir.join("data"))
                .args(["-h", "127.0.0.1", "-p", &port.to_string()])
                .arg("-k")
                .arg(&dir)
                // Tests want speed, not durability across a power cut of the test machine.
                .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
                .args(["-c", "full_page_writes=off", "-c", "max_connections=50"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run postgres");
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    let mut err = String::new();
                    use std::io::Read;
                    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                    if err.contains("Address already in use") {
                        break;
                    }
                    panic!("postgres exited ({status}): {err}");
                }
                if psql(&bin, port, auth, "SELECT 1").is_ok() {
                    return Postgres {
                        child,
                        port,
                        dir,
                        bin,
                        auth,
                    };
                }
                assert!(Instant::now() < deadline, "postgres never answered");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("postgres found no free port in 5 attempts");
    }

    /// The JDBC URL of database `postgres`.
    pub fn jdbc_url(&self) -> String {
        format!("jdbc:postgresql://127.0.0.1:{}/postgres", self.port)
    }

    /// `host:port`, as `weir.allow.tcp` grants it.
    pub fn authority(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Runs `sql` through `psql` over TCP; answers its rows, one line each, columns joined
    /// by `|` (unaligned, tuples only).
    pub fn try_sql(&self, sql: &str) -> Result<String, String> {
        psql(&self.bin, self.port, self.auth, sql)
    }

    /// [`Self::try_sql`], panicking on an error.
    pub fn sql(&self, sql: &str) -> String {
        self.try_sql(sql)
            .unwrap_or_else(|e| panic!("psql {sql:?} failed: {e}"))
    }

    /// The rows of `select` as `|`-joined lines, sorted.
    pub fn rows(&self, select: &str) -> Vec<String> {
        let mut rows: Vec<String> = self
            .sql(select)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        rows.sort();
        rows
    }
}

/// Runs `sql` through `psql` on 127.0.0.1:`port`.
fn psql(bin: &Path, port: u16, auth: Auth, sql: &str) -> Result<String, String> {
    let mut c = Command::new(bin.join("psql"));
    c.args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-U", "postgres", "-d", "postgres"])
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env_remove("PGPASSWORD");
    if auth == Auth::Scram {
        c.env("PGPASSWORD", PASSWORD);
    }
    let out = c.output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGINT: PostgreSQL's fast shutdown (ends sessions, no checkpoint wait).
        // SAFETY: kill has no memory preconditions; the pid is our child's.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGINT);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
