//! `[pipelines]`: the pipeline service.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ConfigError;
use super::sandbox::SandboxSection;
use crate::pipeline::playground::PlaygroundLimits;
use crate::pipeline::{PipelinesConfig, StateLimits};

/// `[pipelines]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelinesSection {
    /// Threads running pipeline tasks; 0 = one per core.
    pub worker_threads: usize,
    /// Largest module upload, bytes.
    pub max_module_bytes: usize,
    /// Wasm instances alive at once (one per step per task).
    pub max_instances: u32,
    /// Directory of the built-in plugins; empty: `plugins/` beside the binary's directory.
    pub plugins_dir: PathBuf,
    /// Deployments kept in each pipeline's history.
    pub max_history: usize,
    /// Most windows one record of a windowed aggregation may fall in.
    pub max_windows_per_record: u32,
    /// Most window entries one state query of a windowed step may read.
    pub max_state_query_windows: u32,
    /// Most (window, key) aggregates of tumbling or hopping windows one task keeps in
    /// memory between batches.
    pub max_open_windows: usize,
    /// Most bytes one table's rows (keys and stored rows) may take in one task.
    pub max_table_bytes: u64,
    /// Most records one stream–stream join's window stores may hold in one task.
    pub max_join_window_records: u64,
    /// Most bytes of one table's rows a task caches in memory (0: none).
    pub max_table_cache_bytes: usize,
}

impl PipelinesSection {
    /// The pipeline service's settings for data in `data_dir`, or which key is unusable.
    pub(super) fn build(
        &self,
        data_dir: &Path,
        sandbox: &SandboxSection,
        playground: PlaygroundLimits,
    ) -> Result<PipelinesConfig, ConfigError> {
        if self.max_history == 0 {
            return Err(ConfigError::Invalid(
                "pipelines.max_history must be ≥ 1 (the current deployment)".into(),
            ));
        }
        if self.max_windows_per_record == 0 {
            return Err(ConfigError::Invalid(
                "pipelines.max_windows_per_record must be ≥ 1".into(),
            ));
        }
        if self.max_state_query_windows == 0 {
            return Err(ConfigError::Invalid(
                "pipelines.max_state_query_windows must be ≥ 1".into(),
            ));
        }
        if self.max_open_windows == 0 {
            return Err(ConfigError::Invalid(
                "pipelines.max_open_windows must be ≥ 1".into(),
            ));
        }
        for (key, value) in [
            ("max_table_bytes", self.max_table_bytes),
            ("max_join_window_records", self.max_join_window_records),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid(format!("pipelines.{key} must be ≥ 1")));
            }
        }
        Ok(PipelinesConfig {
            dir: data_dir.join("pipelines"),
            worker_threads: self.worker_threads,
            max_module_bytes: self.max_module_bytes,
            max_instances: self.max_instances.max(1),
            sandbox: sandbox.build()?,
            plugins_dir: match &self.plugins_dir {
                d if d.as_os_str().is_empty() => default_plugins_dir(),
                d => d.clone(),
            },
            max_history: self.max_history,
            max_windows_per_record: self.max_windows_per_record,
            max_state_query_windows: self.max_state_query_windows,
            max_open_windows: self.max_open_windows,
            state_limits: StateLimits {
                max_table_bytes: self.max_table_bytes,
                max_join_window_records: self.max_join_window_records,
                max_table_cache_bytes: self.max_table_cache_bytes,
            },
            natives: BTreeMap::new(),
            external: None,
            catalog: None,
            playground,
        })
    }
}

/// `plugins/` beside the directory of the running binary (`target/plugins` for
/// `target/release/weir`, `/usr/lib/weir/plugins` for `/usr/lib/weir/bin/weir`).
fn default_plugins_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("plugins")))
        .unwrap_or_else(|| PathBuf::from("plugins"))
}
