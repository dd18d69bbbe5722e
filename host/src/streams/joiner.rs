//! [`ValueJoiner`]: what makes a join result's value from the two sides' values — a
//! module of the joiner world (an [`Instance`]), or without one [`DefaultJoiner`]'s JSON
//! `{"left": L, "right": R}`. Every join pair ([`super::join`], [`super::join_window`])
//! calls it the same way, once per result.

use crate::runtime::Instance;
use crate::runtime::joiner::JoinAnswered;

use super::error::StreamsError;

/// Makes a join result's value from the two sides' values (either may be missing).
pub trait ValueJoiner {
    /// `Ok(Ok(v))`: the joined value (`None`: a null value); `Ok(Err(why))`: this record
    /// fails, with the message; `Err`: the whole batch fails (a module trapped, ran out
    /// of time or memory, or refused its configuration).
    fn join(
        &mut self,
        key: Option<&[u8]>,
        left: Option<&[u8]>,
        right: Option<&[u8]>,
    ) -> Result<JoinAnswered, StreamsError>;
}

/// The joiner of a `join` step without a module: `{"left": L, "right": R}`, each value
/// as a JSON string (its UTF-8 text) or null.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultJoiner;

impl ValueJoiner for DefaultJoiner {
    fn join(
        &mut self,
        _key: Option<&[u8]>,
        left: Option<&[u8]>,
        right: Option<&[u8]>,
    ) -> Result<JoinAnswered, StreamsError> {
        let text = |side: &str, v: Option<&[u8]>| -> Result<serde_json::Value, String> {
            match v {
                None => Ok(serde_json::Value::Null),
                Some(b) => std::str::from_utf8(b)
                    .map(|s| serde_json::Value::String(s.to_string()))
                    .map_err(|e| {
                        format!(
                            "the {side} value is not UTF-8 ({e}); the default joiner writes values as JSON strings, a joiner module can take any bytes"
                        )
                    }),
            }
        };
        let joined = match (text("left", left), text("right", right)) {
            (Ok(l), Ok(r)) => serde_json::json!({"left": l, "right": r}),
            (Err(m), _) | (_, Err(m)) => return Ok(Err(m)),
        };
        Ok(Ok(Some(joined.to_string().into_bytes())))
    }
}

/// A joiner module's `join`: its refusal fails the record, anything else the batch.
impl ValueJoiner for Instance {
    fn join(
        &mut self,
        key: Option<&[u8]>,
        left: Option<&[u8]>,
        right: Option<&[u8]>,
    ) -> Result<JoinAnswered, StreamsError> {
        self.join_values(key, left, right)
            .map_err(|source| StreamsError::Joiner {
                source: Box::new(source),
            })
    }
}
