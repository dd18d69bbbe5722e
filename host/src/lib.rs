//! weir: a Kafka-compatible broker whose stream processing logic is WebAssembly.
//!
//! Map of the crate. Each module uses only modules listed below it, never one above
//! (`layering` below checks it on every test run):
//! - [`cli`]: the `weir` command line; talks to a server only over HTTP (and runs
//!   plugins and benchmarks locally).
//! - [`server`]: wires config, broker, pipelines and the two faces together for
//!   `weir serve`; owns [`server::ServeOptions`].
//! - [`mod@bench`]: `weir bench`, the benchmarks recorded in BENCHMARKS.md.
//! - [`config`]: server configuration (`weir.toml`), validated once at start-up into the
//!   layers' own settings.
//! - [`api`]: the JSON HTTP API (axum), a face over the broker and pipelines.
//! - [`kafka`]: the Kafka wire protocol listener, the other face over the broker. The two
//!   faces never import each other.
//! - [`connect`]: connectors as Kafka Connect has them (source and sink plugins, their
//!   tasks, offsets, converters, the transformation chain of a connector's config run
//!   through the built-in plugins); joins broker, runtime and the pipelines' module registry.
//! - [`cluster`]: a Kafka client for other clusters (librdkafka behind small traits:
//!   consumer, producer, admin); a weir server is just another cluster to it. And attached
//!   mode (`cluster::attached`): pipelines' step chains run as tasks of a consumer group of
//!   such a cluster, through `pipeline`'s chain and spec. Below `connect`, whose mirror
//!   connectors use it.
//! - [`pipeline`]: uploaded modules and pipelines (joins broker and runtime).
//! - [`streams`]: the operators a pipeline step can be besides a module (windowed and
//!   running `count`/`sum` with Kafka Streams' semantics); host-owned time and state,
//!   kept in the state store the pipeline hands in.
//! - [`auth`]: users and SCRAM credentials, HTTP tokens, principals, the rule for
//!   requests without credentials, and ACLs (Kafka's model); both faces ask it, it
//!   keeps its records in the broker's metadata store.
//! - [`broker`]: topics, partitioning, consumer-group offsets, producers and
//!   transactions, and metadata in sled.
//! - [`runtime`]: the Wasm runtime: loads plugin components, runs batches of records
//!   through them; knows nothing of topics, logs or protocols.
//! - [`log`]: the durable segmented partition log of Kafka v2 record batches.
//! - [`record`]: [`record::Record`], the record both the log and the runtime speak.
//! - [`alloc`]: the process allocator, hardened against huge length fields.

pub mod alloc;
pub mod api;
pub mod auth;
pub mod bench;
pub mod broker;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod connect;
pub mod kafka;
pub mod log;
pub mod pipeline;
pub mod record;
pub mod runtime;
pub mod server;
pub mod streams;

#[cfg(test)]
pub(crate) mod test_support {
    //! Helpers shared by the unit tests.

    /// Reopens a sled database: sled releases its file lock from a background
    /// thread shortly after the last handle drops, so a reopen in the same
    /// process retries (with a deadline) while the lock is still held.
    pub fn reopen<T, E: std::fmt::Debug>(mut open: impl FnMut() -> Result<T, E>) -> T {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match open() {
                Ok(v) => return v,
                Err(e) if std::time::Instant::now() > deadline => panic!("reopen failed: {e:?}"),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
            }
        }
    }
}

#[cfg(test)]
mod layering {
    //! The rule the crate map states, checked: no module imports one listed above it.

    use std::path::{Path, PathBuf};

    /// The modules in the order of `lib.rs`'s map (its `//! - [`name`]` lines).
    fn order(lib: &str) -> Vec<String> {
        lib.lines()
            .filter_map(|l| l.strip_prefix("//! - [`"))
            .filter_map(|l| l.split_once('`'))
            // `mod@` disambiguates a module from a macro of the same name for rustdoc.
            .map(|(m, _)| m.trim_start_matches("mod@").to_string())
            .collect()
    }

    fn sources(path: &Path, out: &mut Vec<PathBuf>) {
        if path.is_dir() {
            for entry in std::fs::read_dir(path).unwrap() {
                sources(&entry.unwrap().path(), out);
            }
        } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
            out.push(path.to_path_buf());
        }
    }

    /// `crate::NAME` paths in `text`, outside comments.
    fn imports(text: &str) -> Vec<String> {
        let mut found = Vec::new();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            let mut rest = code;
            while let Some(at) = rest.find("crate::") {
                let tail = &rest[at + "crate::".len()..];
                let name: String = tail
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                found.push(name);
                rest = tail;
            }
        }
        found
    }

    #[test]
    fn no_module_imports_one_listed_above_it() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
        let order = order(&lib);
        // Every module is on the map, once.
        let mut declared: Vec<String> = lib
            .lines()
            .filter_map(|l| l.strip_prefix("pub mod "))
            .map(|m| m.trim_end_matches(';').to_string())
            .collect();
        let mut mapped = order.clone();
        declared.sort();
        mapped.sort();
        assert_eq!(declared, mapped, "lib.rs's map and its modules differ");
        let mut upward = Vec::new();
        for (rank, module) in order.iter().enumerate() {
            let mut files = Vec::new();
            sources(&src.join(module), &mut files);
            sources(&src.join(format!("{module}.rs")), &mut files);
            assert!(!files.is_empty(), "no source for module {module}");
            for file in files {
                let text = std::fs::read_to_string(&file)
                    .unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
                for name in imports(&text) {
                    if let Some(above) = order[..rank].iter().position(|m| *m == name) {
                        upward.push(format!(
                            "{} ({module}) imports crate::{} (listed above it)",
                            file.display(),
                            order[above]
                        ));
                    }
                }
            }
        }
        assert!(
            upward.is_empty(),
            "imports against the crate map:\n{}",
            upward.join("\n")
        );
    }

    #[test]
    fn the_check_sees_an_upward_import() {
        let lib = "//! - [`high`]: up.\n//! - [`mod@low`]: down, [`x`].\npub mod high;\n";
        assert_eq!(order(lib), ["high", "low"]);
        assert_eq!(imports("use crate::high::X; // crate::ignored"), ["high"]);
        assert!(imports("// use crate::high").is_empty());
    }
}
