//! Kafka Connect's transformation chain: the connector config's `transforms=a,b`,
//! `transforms.a.type=…`, `transforms.a.*`, `predicates=p`, `predicates.p.type=…`,
//! `transforms.a.predicate=p` and `transforms.a.negate=true`, checked once into a
//! [`ChainConfig`], then built into a [`TransformChain`] of built-in plugin instances
//! (plugins/connect-transforms) that runs batches of records.
//!
//! Each transformation is one instance, configured with its own keys (prefix stripped),
//! `type`, and its predicate's keys as Connect writes them (`predicate`, `negate`,
//! `predicates.p.*`), so the plugin applies the condition itself. A router's new topic
//! comes back in [`ROUTE_HEADER`]; the chain moves the record to that topic, so later
//! transformations and predicates see it there, as in Connect.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::pipeline::plugins::{PluginCatalog, ROUTE_HEADER, take_route};
use crate::record::Record;
use crate::runtime::{Body, Instance, InstanceConfig, Limits, Origin, RuntimeError};

/// Why a chain config is refused or a chain failed a batch.
#[derive(Debug, thiserror::Error)]
pub enum TransformsError {
    /// A key of the connector config is missing or wrong; `key` is the exact key.
    #[error("{key}: {reason}")]
    InvalidConfig {
        /// The config key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A transformation could not be instantiated, or failed a whole batch.
    #[error("transformation {alias:?} ({type_name}): {source}")]
    Step {
        /// The transformation's alias.
        alias: String,
        /// Its type as configured.
        type_name: String,
        /// The runtime's error (boxed: it is large, and this error is returned often).
        #[source]
        source: Box<RuntimeError>,
    },
}

impl TransformsError {
    fn key(key: impl Into<String>, reason: impl Into<String>) -> TransformsError {
        TransformsError::InvalidConfig {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// Most transformations in one chain: each holds a Wasm instance per connector task.
pub const MAX_TRANSFORMS: usize = 64;

/// One checked transformation of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformConfig {
    /// Its alias in `transforms`.
    pub alias: String,
    /// Its type as written (`InsertField$Value` or the fully qualified class name).
    pub type_name: String,
    /// The plugin config: its keys without the `transforms.<alias>.` prefix, plus its
    /// predicate's keys as `predicates.<p>.*`.
    pub plugin_config: BTreeMap<String, String>,
}

/// A checked chain: every transformation and predicate named, typed and resolvable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainConfig {
    /// The transformations, in order.
    pub transforms: Vec<TransformConfig>,
}

/// Connect's LIST parsing: split on commas, trim, drop empty items.
fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The aliases a list key names, refusing one listed twice.
fn aliases(config: &BTreeMap<String, String>, key: &str) -> Result<Vec<String>, TransformsError> {
    let names = config.get(key).map(|v| list(v)).unwrap_or_default();
    let mut seen = BTreeSet::new();
    for n in &names {
        if !seen.insert(n) {
            return Err(TransformsError::key(key, format!("lists {n:?} twice")));
        }
    }
    Ok(names)
}

/// The keys under `prefix`, prefix stripped.
fn under(config: &BTreeMap<String, String>, prefix: &str) -> BTreeMap<String, String> {
    config
        .range(prefix.to_string()..)
        .take_while(|(k, _)| k.starts_with(prefix))
        .map(|(k, v)| (k[prefix.len()..].to_string(), v.clone()))
        .collect()
}

impl ChainConfig {
    /// Reads the chain from a connector's config (other keys are ignored), checking what
    /// Connect checks: each listed alias has a `type` the catalog knows, a `predicate`
    /// names a listed predicate, `negate` is a boolean and comes with a predicate.
    pub fn parse(
        config: &BTreeMap<String, String>,
        catalog: &PluginCatalog,
    ) -> Result<ChainConfig, TransformsError> {
        let transforms = aliases(config, "transforms")?;
        if transforms.len() > MAX_TRANSFORMS {
            return Err(TransformsError::key(
                "transforms",
                format!(
                    "lists {} transformations; at most {MAX_TRANSFORMS} are allowed",
                    transforms.len()
                ),
            ));
        }
        let predicates = aliases(config, "predicates")?;
        let mut predicate_keys = BTreeMap::new();
        for p in &predicates {
            let prefix = format!("predicates.{p}.");
            let keys = under(config, &prefix);
            let type_name = type_of(&keys, &prefix)?;
            let known = catalog
                .resolve(type_name)
                .and_then(|r| r.type_name)
                .is_some_and(is_predicate);
            if !known {
                return Err(TransformsError::key(
                    format!("{prefix}type"),
                    format!(
                        "{type_name:?} is not a predicate weir knows (TopicNameMatches, \
                         HasHeaderKey, RecordIsTombstone)"
                    ),
                ));
            }
            predicate_keys.insert(p.clone(), keys);
        }
        let mut out = Vec::with_capacity(transforms.len());
        for alias in transforms {
            let prefix = format!("transforms.{alias}.");
            let mut keys = under(config, &prefix);
            let type_name = type_of(&keys, &prefix)?.to_string();
            let resolved = catalog
                .resolve(&type_name)
                .ok_or_else(|| unknown_type(catalog, &prefix, &type_name))?;
            if let Some(t) = resolved.type_name {
                keys.insert("type".into(), t.to_string());
            }
            match keys.get("negate").map(|v| v.trim().to_ascii_lowercase()) {
                None => {}
                Some(v) if v == "true" || v == "false" => {
                    keys.insert("negate".into(), v);
                }
                Some(_) => {
                    return Err(TransformsError::key(
                        format!("{prefix}negate"),
                        "must be true or false",
                    ));
                }
            }
            match keys.get("predicate").map(|p| p.trim().to_string()) {
                None => {
                    if keys.contains_key("negate") {
                        return Err(TransformsError::key(
                            format!("{prefix}negate"),
                            format!("is set, but {prefix}predicate is not"),
                        ));
                    }
                }
                Some(p) => {
                    let pkeys = predicate_keys.get(&p).ok_or_else(|| {
                        TransformsError::key(
                            format!("{prefix}predicate"),
                            format!("names {p:?}, which `predicates` does not list"),
                        )
                    })?;
                    keys.insert("predicate".into(), p.clone());
                    for (k, v) in pkeys {
                        keys.insert(format!("predicates.{p}.{k}"), v.clone());
                    }
                }
            }
            out.push(TransformConfig {
                alias,
                type_name,
                plugin_config: keys,
            });
        }
        Ok(ChainConfig { transforms: out })
    }
}

/// Why `type_name` names no transformation, with the likely fix: the `$Key`/`$Value` form
/// left out, or given to one that has none.
fn unknown_type(catalog: &PluginCatalog, prefix: &str, type_name: &str) -> TransformsError {
    let base = type_name
        .strip_suffix("$Key")
        .or_else(|| type_name.strip_suffix("$Value"));
    let hint = if catalog.resolve(&format!("{type_name}$Value")).is_some() {
        let short = type_name.rsplit('.').next().unwrap_or(type_name);
        format!(": say {short}$Key or {short}$Value")
    } else if let Some(base) = base.filter(|b| catalog.resolve(b).is_some()) {
        let short = base.rsplit('.').next().unwrap_or(base);
        format!(", but {short} has no $Key or $Value form")
    } else if catalog.list().is_empty() {
        " (no built-in plugins are installed)".to_string()
    } else {
        String::new()
    };
    TransformsError::key(
        format!("{prefix}type"),
        format!("{type_name:?} is not a transformation weir knows{hint}"),
    )
}

fn type_of<'a>(
    keys: &'a BTreeMap<String, String>,
    prefix: &str,
) -> Result<&'a str, TransformsError> {
    match keys.get("type").map(|t| t.trim()) {
        Some(t) if !t.is_empty() => Ok(t),
        _ => Err(TransformsError::key(
            format!("{prefix}type"),
            "is required (a class name such as InsertField$Value)",
        )),
    }
}

/// The plugin's message with its keys as the connector config spells them: the plugin
/// sees `spec` where the connector wrote `transforms.<alias>.spec` (predicate keys are
/// already whole, `predicates.<p>.*`).
fn connector_keys(message: &str, alias: &str) -> String {
    const MARK: &str = "config key `";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(MARK) {
        let (before, after) = rest.split_at(at + MARK.len());
        out.push_str(before);
        if !after.starts_with("predicates.") {
            out.push_str(&format!("transforms.{alias}."));
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

fn is_predicate(type_name: &str) -> bool {
    matches!(
        type_name,
        "TopicNameMatches" | "HasHeaderKey" | "RecordIsTombstone"
    )
}

/// A record on its way through a chain: where it is (or is going) and what it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainRecord {
    /// Its topic (a router changes it).
    pub topic: String,
    /// Its partition, when known (0 for transformations that ask and none is known).
    pub partition: Option<u32>,
    /// Its offset, when it was read from a topic (a sink's records).
    pub offset: Option<i64>,
    /// Key, value, headers, timestamp.
    pub record: Record,
}

/// A record a transformation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainFailure {
    /// Index of the input record.
    pub source: usize,
    /// The failing transformation's alias.
    pub alias: String,
    /// Its type, as configured.
    pub type_name: String,
    /// The plugin's message.
    pub message: String,
}

/// What a chain made of a batch.
#[derive(Debug, Default)]
pub struct ChainOutput {
    /// The records that came through, each with the index of its input record.
    pub records: Vec<(usize, ChainRecord)>,
    /// The records a transformation failed (dropped from the output).
    pub failures: Vec<ChainFailure>,
}

struct Step {
    alias: String,
    type_name: String,
    instance: Instance,
}

/// A built chain: one plugin instance per transformation (one chain per connector task).
pub struct TransformChain {
    steps: Vec<Step>,
}

impl std::fmt::Debug for TransformChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.steps.iter().map(|s| (&s.alias, &s.type_name)))
            .finish()
    }
}

impl TransformChain {
    /// Instantiates every transformation and has each check its config (an empty batch
    /// answers with the plugin's config error, naming the key).
    pub fn build(
        config: &ChainConfig,
        catalog: &PluginCatalog,
        limits: Limits,
    ) -> Result<TransformChain, TransformsError> {
        let mut steps = Vec::with_capacity(config.transforms.len());
        for t in &config.transforms {
            let key = format!("transforms.{}.type", t.alias);
            let resolved = catalog.resolve(&t.type_name).ok_or_else(|| {
                TransformsError::key(&key, format!("{:?} is not installed", t.type_name))
            })?;
            let step_err = |source| TransformsError::Step {
                alias: t.alias.clone(),
                type_name: t.type_name.clone(),
                source: Box::new(source),
            };
            let mut instance = Instance::new(
                Arc::clone(&resolved.plugin.plugin),
                InstanceConfig {
                    limits,
                    config: t.plugin_config.clone(),
                    ..InstanceConfig::default()
                },
            )
            .map_err(step_err)?;
            let probe = Origin {
                topic: String::new(),
                partition: 0,
                offsets: Vec::new(),
            };
            instance.process(&probe, &[]).map_err(|e| match e {
                RuntimeError::Plugin { message, .. } => TransformsError::InvalidConfig {
                    key: format!("transforms.{}", t.alias),
                    reason: connector_keys(&message, &t.alias),
                },
                other => step_err(other),
            })?;
            steps.push(Step {
                alias: t.alias.clone(),
                type_name: t.type_name.clone(),
                instance,
            });
        }
        Ok(TransformChain { steps })
    }

    /// How many transformations the chain runs.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether the chain runs no transformation.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Runs a batch through every transformation in order. Records reach each plugin in
    /// runs of the same topic and partition (the transform world's origin); a record's
    /// [`ROUTE_HEADER`] on the way in is dropped, being weir's own signal. A whole-batch
    /// failure (a trap, a deadline) fails the call; a record's failure is reported and
    /// the record leaves the chain.
    pub fn apply(&mut self, batch: Vec<ChainRecord>) -> Result<ChainOutput, TransformsError> {
        let mut failures = Vec::new();
        let mut current: Vec<(usize, ChainRecord)> = batch
            .into_iter()
            .enumerate()
            .map(|(i, mut r)| {
                r.record.headers.retain(|(k, _)| k != ROUTE_HEADER);
                (i, r)
            })
            .collect();
        for step in &mut self.steps {
            let mut next = Vec::with_capacity(current.len());
            let mut start = 0;
            while start < current.len() {
                let (topic, partition) = (&current[start].1.topic, current[start].1.partition);
                let end = start
                    + current[start..]
                        .iter()
                        .take_while(|(_, r)| r.topic == *topic && r.partition == partition)
                        .count();
                let run = &current[start..end];
                let origin = Origin {
                    topic: topic.clone(),
                    partition: partition.unwrap_or(0),
                    offsets: run.iter().map(|(_, r)| r.offset.unwrap_or(-1)).collect(),
                };
                let records: Vec<Record> = run.iter().map(|(_, r)| r.record.clone()).collect();
                let output = step.instance.process(&origin, &records).map_err(|source| {
                    TransformsError::Step {
                        alias: step.alias.clone(),
                        type_name: step.type_name.clone(),
                        source: Box::new(source),
                    }
                })?;
                for f in output.failures {
                    if let Some((source, _)) = run.get(f.index as usize) {
                        failures.push(ChainFailure {
                            source: *source,
                            alias: step.alias.clone(),
                            type_name: step.type_name.clone(),
                            message: f.message,
                        });
                    }
                }
                for out in output.records {
                    let Some((source, input)) = out.source.and_then(|s| run.get(s as usize)) else {
                        continue;
                    };
                    let mut record = input.clone();
                    if let Body::New(new) = out.body {
                        record.record = *new;
                        if let Some(topic) = take_route(&mut record.record) {
                            record.topic = topic;
                        }
                    }
                    next.push((*source, record));
                }
                start = end;
            }
            current = next;
        }
        Ok(ChainOutput {
            records: current,
            failures,
        })
    }
}
