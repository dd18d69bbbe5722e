//! A sink record as a row: its columns (from the key and the JSON value's fields), and the
//! SQL that writes or deletes it. Identifiers are quoted (`escape_identifier`) and values are
//! always bound as parameters, so nothing in a record becomes SQL.

use postgres_protocol::escape::escape_identifier;
use serde_json::{Map, Value as Json};
use weir_guest::connect::{ConnectorError, SinkRecord, Value};

use crate::settings::{InsertMode, PkMode, Settings};

/// The column of a primitive key when `pk.fields` names none (Confluent's default).
const DEFAULT_KEY_COLUMN: &str = "__connect_key";

/// What one record asks of its table.
pub enum Op {
    /// Write these columns (the primary key's first).
    Write {
        /// Columns and their values (text form, `None` for NULL).
        columns: Vec<(String, Json)>,
        /// How many of `columns`, from the start, are the primary key.
        pk: usize,
    },
    /// Delete the row with this key.
    Delete {
        /// Key columns and values.
        key: Vec<(String, Json)>,
    },
    /// Nothing (a tombstone without `delete.enabled`).
    Skip,
}

fn bad(r: &SinkRecord, why: String) -> ConnectorError {
    ConnectorError::Failed(format!(
        "record {}-{}@{}: {why}",
        r.topic, r.partition, r.offset
    ))
}

/// A key or value as JSON (text is a JSON string; bytes are refused).
fn json(r: &SinkRecord, v: &Value, what: &str) -> Result<Option<Json>, ConnectorError> {
    match v {
        Value::Null => Ok(None),
        Value::Text(s) => Ok(Some(Json::String(s.clone()))),
        Value::Json(s) => serde_json::from_str(s)
            .map(Some)
            .map_err(|e| bad(r, format!("its {what} is not JSON: {e}"))),
        Value::Bytes(_) => Err(bad(
            r,
            format!("its {what} is bytes; use StringConverter or JsonConverter"),
        )),
    }
}

/// The key's columns under `pk.mode=record_key`.
fn key_columns(s: &Settings, r: &SinkRecord) -> Result<Vec<(String, Json)>, ConnectorError> {
    let key = json(r, &r.key, "key")?
        .ok_or_else(|| bad(r, "pk.mode=record_key but the record has no key".into()))?;
    match key {
        Json::Object(map) => {
            let fields: Vec<String> = if s.pk_fields.is_empty() {
                map.keys().cloned().collect()
            } else {
                s.pk_fields.clone()
            };
            fields
                .into_iter()
                .map(|f| match map.get(&f) {
                    Some(v) if !v.is_null() => Ok((f, v.clone())),
                    _ => Err(bad(r, format!("its key has no field {f:?}"))),
                })
                .collect()
        }
        primitive => {
            if s.pk_fields.len() > 1 {
                return Err(bad(
                    r,
                    "its key is a single value but pk.fields names several fields".into(),
                ));
            }
            let name = s
                .pk_fields
                .first()
                .cloned()
                .unwrap_or_else(|| DEFAULT_KEY_COLUMN.into());
            Ok(vec![(name, primitive)])
        }
    }
}

/// What `r` asks of its table.
pub fn op(s: &Settings, r: &SinkRecord) -> Result<Op, ConnectorError> {
    let value = json(r, &r.value, "value")?;
    let Some(value) = value else {
        return match (s.delete_enabled, s.pk_mode) {
            (true, PkMode::RecordKey) => Ok(Op::Delete {
                key: key_columns(s, r)?,
            }),
            _ => Ok(Op::Skip),
        };
    };
    let Json::Object(fields) = value else {
        return Err(bad(
            r,
            "its value is not a JSON object (use JsonConverter with schemas.enable=false, or a transformation such as HoistField)".into(),
        ));
    };
    let mut columns: Vec<(String, Json)> = Vec::with_capacity(fields.len() + 1);
    let pk = match s.pk_mode {
        PkMode::None => 0,
        PkMode::RecordKey => {
            columns = key_columns(s, r)?;
            columns.len()
        }
        PkMode::RecordValue => {
            for f in &s.pk_fields {
                match fields.get(f) {
                    Some(v) if !v.is_null() => columns.push((f.clone(), v.clone())),
                    _ => return Err(bad(r, format!("its value has no field {f:?} (pk.fields)"))),
                }
            }
            columns.len()
        }
    };
    append_fields(&mut columns, fields);
    Ok(Op::Write { columns, pk })
}

/// The value's fields after the key's, a field the key already gave skipped.
fn append_fields(columns: &mut Vec<(String, Json)>, fields: Map<String, Json>) {
    for (k, v) in fields {
        if !columns.iter().any(|(c, _)| *c == k) {
            columns.push((k, v));
        }
    }
}

/// A column value as the text PostgreSQL parses for the column's type.
pub fn param(v: &Json) -> Option<String> {
    match v {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        Json::Bool(b) => Some(b.to_string()),
        Json::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

fn ident(name: &str) -> Result<String, ConnectorError> {
    if name.is_empty() || name.contains('\0') {
        return Err(ConnectorError::Failed(format!(
            "{name:?} cannot name a PostgreSQL table or column"
        )));
    }
    Ok(escape_identifier(name))
}

/// The quoted table name.
pub fn table(name: &str) -> Result<String, ConnectorError> {
    ident(name)
}

/// The statement writing `columns` into `table` (quoted) in `mode`.
pub fn write_sql(
    table: &str,
    columns: &[(String, Json)],
    pk: usize,
    mode: InsertMode,
) -> Result<String, ConnectorError> {
    let names: Vec<String> = columns
        .iter()
        .map(|(c, _)| ident(c))
        .collect::<Result<_, _>>()?;
    let params: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
    let mut sql = format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        names.join(","),
        params.join(",")
    );
    if mode == InsertMode::Upsert {
        let rest: Vec<String> = names[pk..]
            .iter()
            .map(|n| format!("{n}=EXCLUDED.{n}"))
            .collect();
        let action = if rest.is_empty() {
            "NOTHING".to_string()
        } else {
            format!("UPDATE SET {}", rest.join(","))
        };
        sql.push_str(&format!(
            " ON CONFLICT ({}) DO {action}",
            names[..pk].join(",")
        ));
    }
    Ok(sql)
}

/// The statement deleting the row with `key` from `table` (quoted).
pub fn delete_sql(table: &str, key: &[(String, Json)]) -> Result<String, ConnectorError> {
    let conds: Vec<String> = key
        .iter()
        .enumerate()
        .map(|(i, (c, _))| Ok(format!("{}=${}", ident(c)?, i + 1)))
        .collect::<Result<_, ConnectorError>>()?;
    Ok(format!("DELETE FROM {table} WHERE {}", conds.join(" AND ")))
}

/// The `CREATE TABLE IF NOT EXISTS` for `auto.create`, column types from the first record's
/// values.
pub fn create_sql(
    table: &str,
    columns: &[(String, Json)],
    pk: usize,
) -> Result<String, ConnectorError> {
    let mut defs = Vec::with_capacity(columns.len() + 1);
    for (i, (c, v)) in columns.iter().enumerate() {
        let ty = match v {
            Json::Bool(_) => "BOOLEAN",
            Json::Number(n) if n.is_i64() || n.is_u64() => "BIGINT",
            Json::Number(_) => "DOUBLE PRECISION",
            Json::Object(_) | Json::Array(_) => "JSONB",
            Json::String(_) | Json::Null => "TEXT",
        };
        let not_null = if i < pk { " NOT NULL" } else { "" };
        defs.push(format!("{} {ty}{not_null}", ident(c)?));
    }
    if pk > 0 {
        let names: Vec<String> = columns[..pk]
            .iter()
            .map(|(c, _)| ident(c))
            .collect::<Result<_, _>>()?;
        defs.push(format!("PRIMARY KEY ({})", names.join(",")));
    }
    Ok(format!(
        "CREATE TABLE IF NOT EXISTS {table} ({})",
        defs.join(",")
    ))
}
