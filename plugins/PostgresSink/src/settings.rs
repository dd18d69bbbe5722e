//! The connector's options (Confluent JDBC sink's names for PostgreSQL), checked per key.

use weir_guest::connect::{ConfigDef, ConfigIssue, ConfigMap, def, issue};

/// `insert.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertMode {
    /// Plain `INSERT`: a key written twice is two rows (or a unique violation).
    Insert,
    /// `INSERT ... ON CONFLICT (pk) DO UPDATE`: idempotent, so a redelivery changes nothing.
    Upsert,
}

/// `pk.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkMode {
    /// No primary key.
    None,
    /// The record's key: a primitive key is one column, an object key gives its fields.
    RecordKey,
    /// Fields of the record's value.
    RecordValue,
}

/// Where PostgreSQL is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// Host name or IP literal.
    pub host: String,
    /// Port (5432 when the URL names none).
    pub port: u16,
    /// Database.
    pub database: String,
}

/// The checked options.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `connection.url`.
    pub url: Url,
    /// `connection.user`.
    pub user: String,
    /// `connection.password`.
    pub password: Option<String>,
    /// `table.name.format`.
    pub table_format: String,
    /// `insert.mode`.
    pub insert_mode: InsertMode,
    /// `pk.mode`.
    pub pk_mode: PkMode,
    /// `pk.fields`.
    pub pk_fields: Vec<String>,
    /// `auto.create`.
    pub auto_create: bool,
    /// `delete.enabled`.
    pub delete_enabled: bool,
    /// `batch.size`.
    pub batch_size: usize,
}

/// Largest `batch.size`: a batch is built in the guest's memory before it is sent.
pub const MAX_BATCH: usize = 100_000;

/// The keys this connector takes.
pub fn defs() -> Vec<ConfigDef> {
    vec![
        def(
            "connection.url",
            "STRING",
            true,
            None,
            "JDBC connection URL: jdbc:postgresql://host[:port]/database (host:port must be granted by weir.allow.tcp).",
        ),
        def(
            "connection.user",
            "STRING",
            false,
            Some("postgres"),
            "JDBC connection user.",
        ),
        def(
            "connection.password",
            "PASSWORD",
            false,
            None,
            "JDBC connection password.",
        ),
        def(
            "table.name.format",
            "STRING",
            false,
            Some("${topic}"),
            "A format string for the destination table name; ${topic} is the record's topic.",
        ),
        def(
            "insert.mode",
            "STRING",
            false,
            Some("insert"),
            "insert or upsert.",
        ),
        def(
            "pk.mode",
            "STRING",
            false,
            Some("none"),
            "none, record_key or record_value.",
        ),
        def(
            "pk.fields",
            "LIST",
            false,
            Some(""),
            "The primary key's field names.",
        ),
        def(
            "auto.create",
            "BOOLEAN",
            false,
            Some("false"),
            "Create the table if it is missing, with columns from the record's fields.",
        ),
        def(
            "delete.enabled",
            "BOOLEAN",
            false,
            Some("false"),
            "Delete the row of a record with a null value (a tombstone); needs pk.mode=record_key.",
        ),
        def(
            "batch.size",
            "INT",
            false,
            Some("3000"),
            "Records written per transaction.",
        ),
    ]
}

/// Parses `jdbc:postgresql://host[:port]/database`.
pub fn parse_url(text: &str) -> Result<Url, String> {
    let rest = text
        .trim()
        .strip_prefix("jdbc:postgresql://")
        .ok_or_else(|| {
            format!("{text:?} is not a PostgreSQL JDBC URL (jdbc:postgresql://host:port/database)")
        })?;
    let rest = rest.split('?').next().unwrap_or_default();
    let (authority, database) = rest
        .split_once('/')
        .ok_or_else(|| format!("{text:?} names no database"))?;
    if database.is_empty() {
        return Err(format!("{text:?} names no database"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, "")) => (h.to_string(), 5432),
            Some((h, p)) => (h.to_string(), port(p.trim_start_matches(':'), text)?),
            None => return Err(format!("{text:?} has an unclosed [")),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), port(p, text)?),
            None => (authority.to_string(), 5432),
        }
    };
    if host.is_empty() {
        return Err(format!("{text:?} names no host"));
    }
    Ok(Url {
        host,
        port,
        database: database.to_string(),
    })
}

fn port(p: &str, text: &str) -> Result<u16, String> {
    p.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("{text:?} has no port from 1 to 65535"))
}

fn boolean(config: &ConfigMap, key: &str, issues: &mut Vec<ConfigIssue>) -> bool {
    match config
        .get(key)
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => {
            issues.push(issue(
                key,
                format!("Invalid value {v} for configuration {key}: Expected value to be either true or false"),
            ));
            false
        }
    }
}

/// Checks `config`, every problem named by its key.
pub fn parse(config: &ConfigMap) -> Result<Settings, Vec<ConfigIssue>> {
    let mut issues = Vec::new();
    let url = match config.get("connection.url") {
        None => {
            issues.push(issue(
                "connection.url",
                "Missing required configuration \"connection.url\" which has no default value.",
            ));
            None
        }
        Some(u) => parse_url(u)
            .map_err(|e| issues.push(issue("connection.url", e)))
            .ok(),
    };
    let insert_mode = match config.get("insert.mode").map(|s| s.trim()) {
        None | Some("insert") => InsertMode::Insert,
        Some("upsert") => InsertMode::Upsert,
        Some(v) => {
            issues.push(issue(
                "insert.mode",
                format!("Invalid value {v} for configuration insert.mode: String must be one of: insert, upsert"),
            ));
            InsertMode::Insert
        }
    };
    let pk_mode = match config.get("pk.mode").map(|s| s.trim()) {
        None | Some("none") => PkMode::None,
        Some("record_key") => PkMode::RecordKey,
        Some("record_value") => PkMode::RecordValue,
        Some(v) => {
            issues.push(issue(
                "pk.mode",
                format!("Invalid value {v} for configuration pk.mode: String must be one of: none, record_key, record_value"),
            ));
            PkMode::None
        }
    };
    let pk_fields: Vec<String> = config
        .get("pk.fields")
        .map(|f| {
            f.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let auto_create = boolean(config, "auto.create", &mut issues);
    let delete_enabled = boolean(config, "delete.enabled", &mut issues);
    let batch_size = match config.get("batch.size") {
        None => 3000,
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_BATCH).contains(&n) => n,
            _ => {
                issues.push(issue(
                    "batch.size",
                    format!("Invalid value {v} for configuration batch.size: Value must be at least 1 and at most {MAX_BATCH}"),
                ));
                3000
            }
        },
    };
    if insert_mode == InsertMode::Upsert && pk_mode == PkMode::None {
        issues.push(issue(
            "pk.mode",
            "insert.mode=upsert needs a primary key: set pk.mode to record_key or record_value",
        ));
    }
    if pk_mode == PkMode::RecordValue && pk_fields.is_empty() {
        issues.push(issue(
            "pk.fields",
            "pk.mode=record_value needs pk.fields: the value's fields that form the key",
        ));
    }
    if delete_enabled && pk_mode != PkMode::RecordKey {
        issues.push(issue(
            "delete.enabled",
            "delete.enabled=true needs pk.mode=record_key (a tombstone has only its key)",
        ));
    }
    let table_format = config
        .get("table.name.format")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "${topic}".into());
    if table_format.is_empty() {
        issues.push(issue("table.name.format", "table.name.format is empty"));
    }
    match (url, issues.is_empty()) {
        (Some(url), true) => Ok(Settings {
            url,
            user: config
                .get("connection.user")
                .cloned()
                .unwrap_or_else(|| "postgres".into()),
            password: config.get("connection.password").cloned(),
            table_format,
            insert_mode,
            pk_mode,
            pk_fields,
            auto_create,
            delete_enabled,
            batch_size,
        }),
        _ => Err(issues),
    }
}

impl Settings {
    /// The table a record of `topic` goes to.
    pub fn table(&self, topic: &str) -> String {
        self.table_format.replace("${topic}", topic)
    }
}
