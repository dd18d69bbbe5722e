//! `GET /connector-plugins`, `GET /connector-plugins/{class}/config`,
//! `PUT /connector-plugins/{class}/config/validate`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::api::AppState;
use crate::runtime::connector::ConfigDef;

use super::blocking;
use super::connectors::{config_map, parse_body};
use super::error::ConnectApiError;

/// `GET /connector-plugins`.
pub async fn list(State(state): State<AppState>) -> Json<Value> {
    Json(json!(
        state
            .connect
            .plugins()
            .into_iter()
            .map(|p| json!({"class": p.class, "type": p.kind.name(), "version": p.version}))
            .collect::<Vec<_>>()
    ))
}

fn def_json(d: &ConfigDef, group: &str, order: usize) -> Value {
    json!({
        "name": d.name,
        "type": d.kind,
        "required": d.required,
        "default_value": d.default_value,
        "importance": d.importance,
        "documentation": d.documentation,
        "group": group,
        "width": "NONE",
        "display_name": d.name,
        "dependents": [],
        "order": order,
    })
}

/// `GET /connector-plugins/{class}/config`: the config definitions.
pub async fn config(
    State(state): State<AppState>,
    Path(class): Path<String>,
) -> Result<Json<Value>, ConnectApiError> {
    let c = state.connect.clone();
    let defs = blocking(move || Ok(c.plugin_config(&class)?)).await?;
    Ok(Json(json!(
        defs.iter()
            .enumerate()
            .map(|(i, d)| def_json(d, "", i))
            .collect::<Vec<_>>()
    )))
}

/// `PUT /connector-plugins/{class}/config/validate`.
pub async fn validate(
    State(state): State<AppState>,
    Path(class): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ConnectApiError> {
    let config = config_map(&parse_body(&body)?)?;
    if let Some(given) = config.get("connector.class") {
        let short = |c: &str| {
            let s = c.rsplit('.').next().unwrap_or(c).to_string();
            s.strip_suffix("Connector").map(str::to_string).unwrap_or(s)
        };
        if short(given) != short(&class) {
            return Err(ConnectApiError::bad_request(format!(
                "Included connector type {given} does not match request type {class}"
            )));
        }
    }
    let c = state.connect.clone();
    let (name, keys) = blocking(move || Ok(c.validate(&class, &config)?)).await?;
    let mut groups: Vec<&str> = Vec::new();
    for k in &keys {
        if !groups.contains(&k.group) {
            groups.push(k.group);
        }
    }
    let error_count: usize = keys.iter().map(|k| k.errors.len()).sum();
    let configs: Vec<Value> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            json!({
                "definition": def_json(&k.def, k.group, i),
                "value": {
                    "name": k.def.name,
                    "value": k.value,
                    "recommended_values": [],
                    "errors": k.errors,
                    "visible": true,
                },
            })
        })
        .collect();
    Ok(Json(
        json!({"name": name, "error_count": error_count, "groups": groups, "configs": configs}),
    ))
}
