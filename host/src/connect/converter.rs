//! Connect's converters between the bytes in the log and the values a connector sees:
//! `StringConverter`, `ByteArrayConverter` and `JsonConverter` (with and without the
//! `{"schema": …, "payload": …}` envelope of `schemas.enable`), for keys, values and headers.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::runtime::connector::Value;

/// Why a converter could not convert a value, in Connect's words.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// ByteArrayConverter was handed a string.
    #[error("ByteArrayConverter is not compatible with objects of type class java.lang.String")]
    BytesFromString,
    /// ByteArrayConverter was handed a JSON value.
    #[error("ByteArrayConverter is not compatible with a JSON value")]
    BytesFromJson,
    /// A connector's JSON value is not JSON.
    #[error("not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// Stored bytes are not JSON.
    #[error("Converting byte[] to Kafka Connect data failed due to serialization error: {0}")]
    Deserialize(#[source] serde_json::Error),
    /// `schemas.enable` bytes without Connect's envelope.
    #[error(
        "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration."
    )]
    NoEnvelope,
    /// A `bytes` payload that is not base64.
    #[error("Invalid bytes field: {0}")]
    InvalidBytes(#[source] base64::DecodeError),
}

/// One converter, as `key.converter` / `value.converter` / `header.converter` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Converter {
    /// UTF-8 text both ways.
    String,
    /// Bytes as they are.
    ByteArray,
    /// JSON; with `schemas: true` inside Connect's schema/payload envelope.
    Json {
        /// `schemas.enable` (Connect's default: true).
        schemas: bool,
    },
}

/// The classes (and short aliases) that name each converter.
const STRING: &[&str] = &[
    "org.apache.kafka.connect.storage.StringConverter",
    "StringConverter",
    // Connect's default header converter: strings as they are, like StringConverter.
    "org.apache.kafka.connect.storage.SimpleHeaderConverter",
    "SimpleHeaderConverter",
];
const BYTES: &[&str] = &[
    "org.apache.kafka.connect.converters.ByteArrayConverter",
    "ByteArrayConverter",
];
const JSON: &[&str] = &[
    "org.apache.kafka.connect.json.JsonConverter",
    "JsonConverter",
];

impl Converter {
    /// The converter `config[prefix]` names (with `prefix.schemas.enable`), or `default`.
    /// The error is (key, message) in Connect's words.
    pub fn from_config(
        config: &std::collections::BTreeMap<String, String>,
        prefix: &str,
        default: Converter,
    ) -> Result<Converter, (String, String)> {
        let Some(class) = config.get(prefix).map(|c| c.trim()) else {
            return Ok(default);
        };
        if STRING.contains(&class) {
            return Ok(Converter::String);
        }
        if BYTES.contains(&class) {
            return Ok(Converter::ByteArray);
        }
        if JSON.contains(&class) {
            let key = format!("{prefix}.schemas.enable");
            let schemas = match config.get(&key).map(|v| v.trim().to_ascii_lowercase()) {
                None => true,
                Some(v) if v == "true" => true,
                Some(v) if v == "false" => false,
                Some(v) => {
                    return Err((
                        key.clone(),
                        format!(
                            "Invalid value {v} for configuration {key}: Expected value to be either true or false"
                        ),
                    ));
                }
            };
            return Ok(Converter::Json { schemas });
        }
        Err((
            prefix.to_string(),
            format!(
                "Invalid value {class} for configuration {prefix}: Class {class} could not be found (weir has {}, {} and {})",
                STRING[0], BYTES[0], JSON[0]
            ),
        ))
    }

    /// The converter's class name.
    pub fn class(self) -> &'static str {
        match self {
            Converter::String => STRING[0],
            Converter::ByteArray => BYTES[0],
            Converter::Json { .. } => JSON[0],
        }
    }

    /// Connect's `fromConnectData`: the bytes a value is stored as (`None`: a null).
    pub fn to_bytes(self, value: &Value) -> Result<Option<Vec<u8>>, ConvertError> {
        if let Value::Null = value {
            // A tombstone stays a tombstone whatever the converter (Connect's rule).
            return Ok(None);
        }
        match self {
            Converter::String => Ok(Some(match value {
                Value::Text(s) | Value::Json(s) => s.clone().into_bytes(),
                Value::Bytes(b) => b.clone(),
                Value::Null => Vec::new(),
            })),
            Converter::ByteArray => match value {
                Value::Bytes(b) => Ok(Some(b.clone())),
                Value::Text(_) => Err(ConvertError::BytesFromString),
                _ => Err(ConvertError::BytesFromJson),
            },
            Converter::Json { schemas } => {
                // Written out in Connect's field order, so the bytes are the same as its.
                let (schema, payload) = match value {
                    Value::Text(s) => (
                        r#"{"type":"string","optional":false}"#,
                        serde_json::Value::String(s.clone()),
                    ),
                    Value::Bytes(b) => (
                        r#"{"type":"bytes","optional":false}"#,
                        serde_json::Value::String(B64.encode(b)),
                    ),
                    Value::Json(j) => (
                        "null",
                        serde_json::from_str(j).map_err(ConvertError::NotJson)?,
                    ),
                    Value::Null => ("null", serde_json::Value::Null),
                };
                let out = if schemas {
                    format!(r#"{{"schema":{schema},"payload":{payload}}}"#)
                } else {
                    payload.to_string()
                };
                Ok(Some(out.into_bytes()))
            }
        }
    }

    /// Connect's `toConnectData`: the value stored bytes stand for.
    pub fn to_value(self, bytes: Option<&[u8]>) -> Result<Value, ConvertError> {
        let Some(bytes) = bytes else {
            return Ok(Value::Null);
        };
        match self {
            Converter::String => Ok(Value::Text(String::from_utf8_lossy(bytes).into_owned())),
            Converter::ByteArray => Ok(Value::Bytes(bytes.to_vec())),
            Converter::Json { schemas } => {
                let json: serde_json::Value =
                    serde_json::from_slice(bytes).map_err(ConvertError::Deserialize)?;
                let (schema, payload) = if schemas {
                    match &json {
                        serde_json::Value::Object(o)
                            if o.len() == 2
                                && o.contains_key("schema")
                                && o.contains_key("payload") =>
                        {
                            (o["schema"].clone(), o["payload"].clone())
                        }
                        _ => {
                            return Err(ConvertError::NoEnvelope);
                        }
                    }
                } else {
                    (serde_json::Value::Null, json)
                };
                let kind = schema.get("type").and_then(|t| t.as_str());
                Ok(match (kind, payload) {
                    (_, serde_json::Value::Null) => Value::Null,
                    (Some("bytes"), serde_json::Value::String(s)) => Value::Bytes(
                        B64.decode(s.as_bytes())
                            .map_err(ConvertError::InvalidBytes)?,
                    ),
                    (_, serde_json::Value::String(s)) => Value::Text(s),
                    (_, other) => Value::Json(other.to_string()),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Value {
        Value::Text(s.to_string())
    }

    #[test]
    fn json_with_schemas_wraps_a_string_as_connect_does() {
        let c = Converter::Json { schemas: true };
        let b = c.to_bytes(&text("hello")).unwrap().unwrap();
        assert_eq!(
            String::from_utf8(b.clone()).unwrap(),
            r#"{"schema":{"type":"string","optional":false},"payload":"hello"}"#
        );
        assert_eq!(c.to_value(Some(&b)).unwrap(), text("hello"));
        let err = c.to_value(Some(b"{\"a\":1}")).unwrap_err();
        assert!(matches!(err, ConvertError::NoEnvelope), "{err}");
        assert!(err.to_string().contains("schemas.enable"), "{err}");
    }

    #[test]
    fn json_without_schemas_and_the_others_round_trip() {
        let c = Converter::Json { schemas: false };
        assert_eq!(c.to_bytes(&text("x")).unwrap().unwrap(), b"\"x\"");
        assert_eq!(
            c.to_value(Some(b"{\"a\":1}")).unwrap(),
            Value::Json("{\"a\":1}".into())
        );
        assert!(c.to_value(Some(b"not json")).is_err());
        let s = Converter::String;
        assert_eq!(s.to_bytes(&text("é")).unwrap().unwrap(), "é".as_bytes());
        assert_eq!(s.to_value(None).unwrap(), Value::Null);
        let b = Converter::ByteArray;
        assert!(b.to_bytes(&text("x")).is_err());
        assert_eq!(
            b.to_value(Some(&[0, 255])).unwrap(),
            Value::Bytes(vec![0, 255])
        );
        for c in [
            Converter::String,
            Converter::ByteArray,
            Converter::Json { schemas: true },
        ] {
            assert_eq!(c.to_bytes(&Value::Null).unwrap(), None, "{c:?}");
        }
    }

    #[test]
    fn converters_are_named_by_class_or_alias() {
        let mut m = std::collections::BTreeMap::new();
        let d = Converter::String;
        assert_eq!(Converter::from_config(&m, "value.converter", d), Ok(d));
        m.insert("value.converter".into(), "JsonConverter".into());
        m.insert("value.converter.schemas.enable".into(), "false".into());
        assert_eq!(
            Converter::from_config(&m, "value.converter", d),
            Ok(Converter::Json { schemas: false })
        );
        m.insert("value.converter".into(), "com.example.Avro".into());
        let (key, msg) = Converter::from_config(&m, "value.converter", d).unwrap_err();
        assert_eq!(key, "value.converter");
        assert!(msg.contains("com.example.Avro"), "{msg}");
    }
}
