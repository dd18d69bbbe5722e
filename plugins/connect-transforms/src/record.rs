//! The record a transformation works on: the input view, with each part copied or parsed
//! only once something reads or changes it.

use serde_json::Value;
use weir_guest::{Error, OwnedRecord, Record};

/// The key or the value: still the input's bytes, or parsed as schemaless JSON.
#[derive(Debug, Clone)]
pub enum Data<'a> {
    /// The input's bytes, untouched (`None`: null).
    Raw(Option<&'a [u8]>),
    /// Parsed, possibly changed (`Value::Null`: null).
    Json(Value),
}

impl Data<'_> {
    /// Whether it is null (a tombstone, for the value).
    pub fn is_null(&self) -> bool {
        match self {
            Data::Raw(b) => b.is_none(),
            Data::Json(v) => v.is_null(),
        }
    }

    /// The JSON value, parsing the bytes on first use. Bytes that are not JSON read as a
    /// string (what Connect's StringConverter would hand a transformation).
    pub fn json(&mut self) -> &mut Value {
        if let Data::Raw(bytes) = *self {
            *self = Data::Json(parse(bytes));
        }
        match self {
            Data::Json(v) => v,
            Data::Raw(_) => unreachable!("parsed just above"),
        }
    }

    fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Data::Raw(b) => b.map(<[u8]>::to_vec),
            Data::Json(Value::Null) => None,
            Data::Json(v) => Some(serde_json::to_vec(&v).unwrap_or_default()),
        }
    }
}

/// Schemaless JSON of `bytes`; text that is not JSON is a string, other bytes a string of
/// their lossy UTF-8.
pub fn parse(bytes: Option<&[u8]>) -> Value {
    match bytes {
        None => Value::Null,
        Some(b) => serde_json::from_slice(b)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(b).into_owned())),
    }
}

/// Which part of a record a `$Key`/`$Value` transformation works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `$Key`.
    Key,
    /// `$Value`.
    Value,
}

/// A record on its way through a transformation.
pub struct Working<'a> {
    /// The input record.
    pub input: &'a Record<'a>,
    /// The topic, if a router changed it.
    pub topic: Option<String>,
    /// The key.
    pub key: Data<'a>,
    /// The value.
    pub value: Data<'a>,
    /// The headers, once a transformation changed them.
    pub headers: Option<Vec<(String, Option<Vec<u8>>)>>,
}

impl<'a> Working<'a> {
    /// The record as it came.
    pub fn new(input: &'a Record<'a>) -> Working<'a> {
        Working {
            input,
            topic: None,
            key: Data::Raw(input.key()),
            value: Data::Raw(input.value()),
            headers: None,
        }
    }

    /// Its topic now.
    pub fn topic(&self) -> &str {
        self.topic.as_deref().unwrap_or(self.input.topic())
    }

    /// The key or the value.
    pub fn side(&mut self, side: Side) -> &mut Data<'a> {
        match side {
            Side::Key => &mut self.key,
            Side::Value => &mut self.value,
        }
    }

    /// Whether a header named `name` is present.
    pub fn has_header(&self, name: &str) -> bool {
        match &self.headers {
            Some(h) => h.iter().any(|(k, _)| k == name),
            None => self.input.headers().any(|(k, _)| k == name),
        }
    }

    /// The headers, to change.
    pub fn headers_mut(&mut self) -> &mut Vec<(String, Option<Vec<u8>>)> {
        let input = self.input;
        self.headers.get_or_insert_with(|| {
            input
                .headers()
                .map(|(k, v)| (k.to_owned(), v.map(<[u8]>::to_vec)))
                .collect()
        })
    }

    /// The record to emit; a changed topic travels in [`crate::TOPIC_HEADER`].
    pub fn finish(mut self) -> OwnedRecord {
        if let Some(topic) = self.topic.take() {
            self.headers_mut()
                .push((crate::TOPIC_HEADER.to_owned(), Some(topic.into_bytes())));
        }
        let input = self.input;
        OwnedRecord {
            key: self.key.into_bytes(),
            value: self.value.into_bytes(),
            headers: match self.headers {
                Some(h) => h,
                None => input
                    .headers()
                    .map(|(k, v)| (k.to_owned(), v.map(<[u8]>::to_vec)))
                    .collect(),
            },
            timestamp: input.timestamp(),
        }
    }
}

/// Connect's wording when a schemaless transformation meets something other than a map
/// (`found: null` for a tombstone, else the Java class the JSON value would be).
pub fn require_map<'v>(
    value: &'v mut Value,
    purpose: &str,
) -> Result<&'v mut serde_json::Map<String, Value>, Error> {
    let found = crate::json::java_class(value);
    value.as_object_mut().ok_or_else(|| {
        Error::new(format!(
            "Only Map objects supported in absence of schema for [{purpose}], found: {found}"
        ))
    })
}
