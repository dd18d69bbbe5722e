//! Connect's `config/validate`, answered per key (the common keys, the chain's, the
//! plugin's), and the check a config passes before it is stored.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::runtime::connector::ConfigDef;

use super::super::chain::ConnectorChain;
use super::super::config::ConnectorSettings;
use super::super::error::ConnectError;
use super::super::state::ConnectorType;
use super::{Connectors, ValidatedKey};

impl Connectors {
    /// Validates `config` for plugin `class`, per key (Connect's `config/validate`).
    pub fn validate(
        &self,
        class: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<(String, Vec<ValidatedKey>), ConnectError> {
        if let Some(kind) = super::super::mirror::MirrorKind::of(class) {
            return Ok(self.validate_mirror(kind, config));
        }
        let (plugin, info) = self.resolve(class)?;
        let mut inst = self.instance(&plugin, config, Arc::default())?;
        let list: Vec<(String, String)> =
            config.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut issues: Vec<(String, String)> =
            match ConnectorSettings::parse(config, Some(info.kind)) {
                Ok(_) => Vec::new(),
                Err(i) => i,
            };
        // The server's cap, whatever else is wrong.
        if let Some(n) = config
            .get("tasks.max")
            .and_then(|v| v.trim().parse::<u32>().ok())
            && n > self.caps.per_connector
        {
            issues.push((
                "tasks.max".to_string(),
                format!(
                    "tasks.max {n} is over this server's connect.max_tasks_per_connector ({})",
                    self.caps.per_connector
                ),
            ));
        }
        if let Ok(n) = super::super::allow_tcp::max_sockets(config)
            && n > self.caps.sockets_per_task
        {
            issues.push((
                super::super::allow_tcp::MAX_SOCKETS.to_string(),
                format!(
                    "weir.tcp.max.sockets {n} is over this server's connect.max_tcp_sockets_per_task ({})",
                    self.caps.sockets_per_task
                ),
            ));
        }
        issues.extend(ConnectorChain::issues(config, self.pipelines.plugins()));
        issues.extend(
            inst.validate(&list)?
                .into_iter()
                .map(|i| (i.key, i.message)),
        );
        let mut keys = Vec::new();
        let common = common_defs(info.kind);
        let n_common = common.len();
        for (i, def) in common.into_iter().chain(inst.config_defs()?).enumerate() {
            let errors: Vec<String> = issues
                .iter()
                .filter(|(k, _)| *k == def.name)
                .map(|(_, m)| m.clone())
                .collect();
            keys.push(ValidatedKey {
                value: config
                    .get(&def.name)
                    .cloned()
                    .or_else(|| def.default_value.clone()),
                group: if i < n_common { "Common" } else { "Connector" },
                def,
                errors,
            });
        }
        // Problems with keys no definition names (weir.allow.*, converters' sub-keys).
        for (k, m) in &issues {
            if !keys.iter().any(|v| v.def.name == *k) {
                keys.push(ValidatedKey {
                    def: ConfigDef {
                        name: k.clone(),
                        kind: "STRING".into(),
                        required: false,
                        default_value: None,
                        importance: "LOW".into(),
                        documentation: String::new(),
                    },
                    group: "Common",
                    value: config.get(k).cloned(),
                    errors: vec![m.clone()],
                });
            }
        }
        Ok((info.class, keys))
    }

    /// Checks a full configuration; every problem, each naming its key.
    pub(super) fn check(&self, config: &BTreeMap<String, String>) -> Result<(), ConnectError> {
        let class = config
            .get("connector.class")
            .map(|c| c.trim().to_string())
            .unwrap_or_default();
        if class.is_empty() {
            let errors = match ConnectorSettings::parse(config, None) {
                Err(issues) => issues.into_iter().map(|(_, m)| m).collect(),
                Ok(_) => vec!["Missing required configuration \"connector.class\" which has no default value.".into()],
            };
            return Err(ConnectError::InvalidConfig { errors });
        }
        let (_, keys) = self.validate(&class, config)?;
        let errors: Vec<String> = keys
            .iter()
            .flat_map(|k| k.errors.iter().map(|m| format!("{}: {m}", k.def.name)))
            .collect();
        if !errors.is_empty() {
            return Err(ConnectError::InvalidConfig { errors });
        }
        if super::super::mirror::MirrorKind::of(&class).is_some() {
            return Ok(());
        }
        self.resolve(&class).map(|_| ())
    }
}

/// The keys every connector has, as `config` definitions.
pub(super) fn common_defs(kind: ConnectorType) -> Vec<ConfigDef> {
    let d = |name: &str, kind: &str, required: bool, default: Option<&str>, doc: &str| ConfigDef {
        name: name.into(),
        kind: kind.into(),
        required,
        default_value: default.map(Into::into),
        importance: if required { "HIGH" } else { "LOW" }.into(),
        documentation: doc.into(),
    };
    let mut defs = vec![
        d(
            "name",
            "STRING",
            true,
            None,
            "Globally unique name to use for this connector.",
        ),
        d(
            "connector.class",
            "STRING",
            true,
            None,
            "Name of the class for this connector: Connect's class name, its alias, or module:NAME@VERSION.",
        ),
        d(
            "tasks.max",
            "INT",
            false,
            Some("1"),
            "Maximum number of tasks to use for this connector.",
        ),
        d(
            "key.converter",
            "CLASS",
            false,
            Some("org.apache.kafka.connect.json.JsonConverter"),
            "Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka.",
        ),
        d(
            "value.converter",
            "CLASS",
            false,
            Some("org.apache.kafka.connect.json.JsonConverter"),
            "Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka.",
        ),
        d(
            "header.converter",
            "CLASS",
            false,
            Some("org.apache.kafka.connect.storage.SimpleHeaderConverter"),
            "HeaderConverter class used to convert between Kafka Connect format and the serialized form that is written to Kafka.",
        ),
        d(
            "transforms",
            "LIST",
            false,
            Some(""),
            "Aliases for the transformations to be applied to records.",
        ),
        d(
            "errors.tolerance",
            "STRING",
            false,
            Some("none"),
            "Behavior for tolerating errors during connector operation: none or all.",
        ),
        d(
            "errors.retry.timeout",
            "LONG",
            false,
            Some("0"),
            "The maximum duration in milliseconds that a failed operation will be reattempted.",
        ),
        d(
            "errors.retry.delay.max.ms",
            "LONG",
            false,
            Some("60000"),
            "The maximum duration in milliseconds between consecutive retry attempts.",
        ),
        d(
            "errors.log.enable",
            "BOOLEAN",
            false,
            Some("false"),
            "If true, write each error and the details of the failed operation to the connector's log.",
        ),
        d(
            "errors.log.include.messages",
            "BOOLEAN",
            false,
            Some("false"),
            "Whether to include the record that failed in the log.",
        ),
        d(
            "weir.allow.dirs",
            "LIST",
            false,
            Some(""),
            "Directories the connector may use, comma-separated absolute path[:ro]; nothing else on disk is reachable.",
        ),
        d(
            "weir.allow.tcp",
            "LIST",
            false,
            Some(""),
            "Hosts the connector may open TCP connections to, comma-separated host:port; names are resolved by weir once and pinned.",
        ),
    ];
    defs.extend(super::super::allow_http::config_defs());
    if kind == ConnectorType::Sink {
        defs.insert(
            3,
            d(
                "topics",
                "LIST",
                false,
                Some(""),
                "List of topics to consume, separated by commas",
            ),
        );
        defs.insert(
            4,
            d(
                "topics.regex",
                "STRING",
                false,
                Some(""),
                "Regular expression giving topics to consume.",
            ),
        );
        defs.push(d("errors.deadletterqueue.topic.name", "STRING", false, Some(""), "The name of the topic to be used as the dead letter queue (DLQ) for messages that result in an error."));
        defs.push(d("errors.deadletterqueue.context.headers.enable", "BOOLEAN", false, Some("false"), "If true, add headers containing error context to the messages written to the dead letter queue."));
    }
    defs
}
