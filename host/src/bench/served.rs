//! A `weir serve` child of this binary for the benchmarks that drive a server over its
//! faces (in a temp dir, on loopback, port 0), and the HTTP calls they share.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// A `weir serve` child and its addresses.
pub struct Served {
    child: Child,
    /// The HTTP API's base URL.
    pub http: String,
    /// The Connect API's base URL.
    pub connect: String,
    /// The Kafka listener's `host:port`.
    pub kafka: String,
    /// A client for both.
    pub client: reqwest::blocking::Client,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Starts one in `data`, with the built-in plugins of `plugins` if given.
    pub fn start(data: &Path, plugins: Option<&Path>) -> anyhow::Result<Served> {
        let exe = std::env::current_exe().context("locating the weir binary")?;
        let mut child = Command::new(exe)
            .arg("serve")
            .arg("--data-dir")
            .arg(data)
            .args(["--http-addr", "127.0.0.1:0", "--kafka-addr", "127.0.0.1:0"])
            .args(["--connect-addr", "127.0.0.1:0"])
            .args(
                plugins
                    .map(|p| vec!["--plugins-dir".as_ref(), p.as_os_str()])
                    .unwrap_or_default(),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting weir serve")?;
        let stdout = child.stdout.take().context("the server's stdout")?;
        let (mut http, mut connect, mut kafka) = (None, None, None);
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            if let Some(u) = line.strip_prefix("weir: HTTP API on ") {
                http = Some(u.trim().to_string());
            }
            if let Some(u) = line.strip_prefix("weir: Connect API on ") {
                connect = Some(u.trim().to_string());
            }
            if let Some(a) = line.strip_prefix("weir: Kafka API on ") {
                kafka = Some(a.trim().to_string());
            }
            if http.is_some() && connect.is_some() && kafka.is_some() {
                break;
            }
        }
        let (Some(http), Some(connect), Some(kafka)) = (http, connect, kafka) else {
            bail!("weir serve ended before announcing its addresses");
        };
        // reqwest is built without a rustls provider: ring, as the CLI's client installs it
        // (an error means one is installed already).
        #[allow(deprecated)]
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        Ok(Served {
            child,
            http,
            connect,
            kafka,
            client: reqwest::blocking::Client::new(),
        })
    }

    /// Sends `body` to `url`; an answer other than 2xx is an error.
    pub fn send(&self, method: reqwest::Method, url: String, body: Value) -> anyhow::Result<()> {
        let r = self.client.request(method, &url).json(&body).send()?;
        if !r.status().is_success() {
            bail!(
                "{url} answered {}: {}",
                r.status(),
                r.text().unwrap_or_default()
            );
        }
        Ok(())
    }

    /// Creates topic `name` with one partition.
    /// Deletes a connector through the Connect listener.
    pub fn delete_connector(&self, name: &str) -> anyhow::Result<()> {
        let url = format!("{}/connectors/{name}", self.connect);
        let r = self.client.delete(&url).send()?;
        if !r.status().is_success() {
            anyhow::bail!("{url} answered {}", r.status());
        }
        Ok(())
    }

    pub fn create_topic(&self, name: &str) -> anyhow::Result<()> {
        self.send(
            reqwest::Method::POST,
            format!("{}/v1/topics", self.http),
            json!({"name": name, "partitions": 1}),
        )
    }

    /// The records `topic` holds, summed over partitions.
    pub fn high_watermark(&self, topic: &str) -> anyhow::Result<i64> {
        let t: Value = self
            .client
            .get(format!("{}/v1/topics/{topic}", self.http))
            .send()?
            .json()?;
        Ok(t["partitions"]
            .as_array()
            .map(|ps| ps.iter().filter_map(|p| p["high_watermark"].as_i64()).sum())
            .unwrap_or(0))
    }

    /// Waits until `topic` holds `n` records (5 ms polls; at most 10 minutes).
    pub fn wait_for(&self, topic: &str, n: usize) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(600);
        while self.high_watermark(topic)? < n as i64 {
            if Instant::now() > deadline {
                bail!("{topic} never got its {n} records");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }
}
