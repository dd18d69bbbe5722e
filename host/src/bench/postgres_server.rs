//! [`LocalPostgres`]: a PostgreSQL server of the caller's own (Debian's `postgresql` package,
//! installed by scripts/setup) for `weir bench postgres` and the PostgresSink tests: `initdb`
//! into a directory of the caller's, `postgres` on 127.0.0.1 at a free port with its socket
//! in that directory, trust or SCRAM-SHA-256 authentication, stopped when it drops. Queries
//! go through `psql`.
//!
//! PostgreSQL refuses to run as root: under root the server runs as the `postgres` user
//! (through `setpriv`, which execs, so the child's pid is the server's).

use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

/// How clients authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Anyone connecting over TCP from 127.0.0.1 is in.
    Trust,
    /// SCRAM-SHA-256 with [`PASSWORD`] for the user `postgres`.
    Scram,
}

/// How the server trades durability for speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tuning {
    /// PostgreSQL's defaults (a benchmark measures what users run).
    Default,
    /// No fsync, no synchronous commit, no full-page writes: tests want speed, not
    /// durability across a power cut of the test machine.
    Fast,
}

/// The password of `postgres` under [`Auth::Scram`].
pub const PASSWORD: &str = "s3cret-pw";

/// A running server, stopped on drop.
pub struct LocalPostgres {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its data and socket directory.
    pub dir: PathBuf,
    bin: PathBuf,
    auth: Auth,
}

/// The newest `/usr/lib/postgresql/*/bin`.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("/usr/lib/postgresql is missing: run scripts/setup (it installs postgresql)")?
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
        .context("no PostgreSQL under /usr/lib/postgresql: run scripts/setup")
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

impl LocalPostgres {
    /// Initialises a cluster under `parent/pg` and starts it; retries on a port taken
    /// meanwhile (PostgreSQL cannot take port 0). Waits (≤ 60 s) until it answers.
    pub fn start(parent: &Path, auth: Auth, tuning: Tuning) -> anyhow::Result<LocalPostgres> {
        let bin = bin_dir()?;
        let dir = parent.join("pg");
        std::fs::create_dir_all(&dir)?;
        if is_root() {
            // The server's user must reach its directory through the caller's.
            std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755))?;
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .context("running chown")?;
            ensure!(ok.success(), "chown {} failed", dir.display());
        }
        let pwfile = dir.join("pwfile");
        std::fs::write(&pwfile, format!("{PASSWORD}\n"))?;
        std::fs::set_permissions(&pwfile, std::fs::Permissions::from_mode(0o644))?;
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
            .context("running initdb")?;
        ensure!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let settings: &[&str] = match tuning {
            Tuning::Default => &[],
            Tuning::Fast => &[
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
        };
        for _attempt in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let mut child = command(&bin, "postgres")
                .arg("-D")
                .arg(dir.join("data"))
                .args(["-h", "127.0.0.1", "-p", &port.to_string()])
                .arg("-k")
                .arg(&dir)
                .args(settings)
                .args(["-c", "max_connections=50"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .context("running postgres")?;
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Some(status) = child.try_wait()? {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    if err.contains("Address already in use") {
                        break;
                    }
                    bail!("postgres exited ({status}): {err}");
                }
                if psql(&bin, port, auth, "SELECT 1").is_ok() {
                    return Ok(LocalPostgres {
                        child,
                        port,
                        dir,
                        bin,
                        auth,
                    });
                }
                ensure!(Instant::now() < deadline, "postgres never answered");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        bail!("postgres found no free port in 5 attempts")
    }

    /// The JDBC URL of database `postgres`.
    pub fn jdbc_url(&self) -> String {
        format!("jdbc:postgresql://127.0.0.1:{}/postgres", self.port)
    }

    /// `host:port`, as `weir.allow.tcp` grants it.
    pub fn authority(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A `psql` of database `postgres` over TCP (with the password under SCRAM), quiet and
    /// stopping at the first error; the caller adds what to run.
    pub fn psql(&self) -> Command {
        psql_command(&self.bin, self.port, self.auth)
    }

    /// Runs `sql` through `psql`; answers its rows, one line each, columns joined by `|`
    /// (unaligned, tuples only), or psql's error output.
    pub fn try_sql(&self, sql: &str) -> Result<String, String> {
        psql(&self.bin, self.port, self.auth, sql)
    }
}

fn psql_command(bin: &Path, port: u16, auth: Auth) -> Command {
    let mut c = Command::new(bin.join("psql"));
    c.args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-U", "postgres", "-d", "postgres"])
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .env_remove("PGPASSWORD");
    if auth == Auth::Scram {
        c.env("PGPASSWORD", PASSWORD);
    }
    c
}

/// Runs `sql` through `psql` on 127.0.0.1:`port`.
fn psql(bin: &Path, port: u16, auth: Auth, sql: &str) -> Result<String, String> {
    let out = psql_command(bin, port, auth)
        .args(["-A", "-t", "-c", sql])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

impl Drop for LocalPostgres {
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
