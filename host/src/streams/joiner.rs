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
        let (left, right) = match (text("left", left), text("right", right)) {
            (Ok(l), Ok(r)) => (l, r),
            (Err(m), _) | (_, Err(m)) => return Ok(Err(m)),
        };
        Ok(default_json(left, right).map(Some))
    }
}

/// A side's value as text, or why the default joiner cannot write it.
fn text<'a>(side: &str, v: Option<&'a [u8]>) -> Result<Option<&'a str>, String> {
    v.map(|b| {
        std::str::from_utf8(b).map_err(|e| {
            format!(
                "the {side} value is not UTF-8 ({e}); the default joiner writes values as JSON strings, a joiner module can take any bytes"
            )
        })
    })
    .transpose()
}

/// `{"left":L,"right":R}` written straight into one buffer, each side escaped by
/// serde_json's own string serializer (so the bytes are what `serde_json::json!` and
/// `to_string` made before, which golden and oracle tests compare), without building a
/// `serde_json::Value` and two `String`s per result. The buffer is sized for the usual
/// case of nothing to escape, where its length then equals its capacity and it becomes
/// the record's `Bytes` without another allocation.
fn default_json(left: Option<&str>, right: Option<&str>) -> Result<Vec<u8>, String> {
    const OPEN: &[u8] = b"{\"left\":";
    const MIDDLE: &[u8] = b",\"right\":";
    let len = |s: Option<&str>| s.map_or(4, |s| s.len() + 2);
    let mut out = Vec::with_capacity(OPEN.len() + len(left) + MIDDLE.len() + len(right) + 1);
    out.extend_from_slice(OPEN);
    json_string(&mut out, left)?;
    out.extend_from_slice(MIDDLE);
    json_string(&mut out, right)?;
    out.push(b'}');
    Ok(out)
}

/// `s` as a JSON string (or `null`) appended to `out`.
fn json_string(out: &mut Vec<u8>, s: Option<&str>) -> Result<(), String> {
    match s {
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
        // Writing a string into a Vec cannot fail; were it to, the record fails, naming it.
        Some(s) => serde_json::to_writer(&mut *out, s)
            .map_err(|e| format!("the default joiner could not write its JSON: {e}")),
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
