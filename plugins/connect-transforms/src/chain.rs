//! The settings an instance builds once: the transformation `type` names, and the
//! condition Connect's `predicate` / `negate` keys put on it.

use weir_guest::{Config, Error, FromConfig, OwnedRecord, Record};

use crate::config::Keys;
use crate::predicates::Predicate;
use crate::record::Working;
use crate::transforms::{Outcome, Transform};

/// When the transformation applies: to records its predicate matches, or (negated) to
/// those it does not.
#[derive(Debug)]
pub struct Condition {
    predicate: Predicate,
    negate: bool,
}

/// One configured transformation with its condition.
#[derive(Debug)]
pub struct Chain {
    transform: Transform,
    condition: Option<Condition>,
}

impl FromConfig for Chain {
    fn from_config(config: &Config) -> Result<Self, Error> {
        let keys = Keys::new(config, "");
        let name = keys.require_non_empty("type")?;
        if let Some(predicate) = Predicate::build(name, &keys) {
            // A predicate as the step's type filters: `negate` turns it around.
            let negate = keys.bool("negate", false)?;
            return Ok(Chain {
                transform: Transform::Filter,
                condition: Some(Condition {
                    predicate: predicate?,
                    negate: !negate,
                }),
            });
        }
        let transform = Transform::build(name, &keys)?;
        let condition = match keys.get("predicate").map(str::trim) {
            None | Some("") => {
                if keys.get("negate").is_some() {
                    return Err(keys.invalid("negate", "needs a `predicate`"));
                }
                None
            }
            Some(alias) => {
                let pkeys = Keys::new(config, format!("predicates.{alias}."));
                let ptype = pkeys.require_non_empty("type")?;
                let predicate = Predicate::build(ptype, &pkeys).ok_or_else(|| {
                    pkeys.invalid(
                        "type",
                        &format!(
                            "names {ptype:?}, which is no predicate (TopicNameMatches, \
                             HasHeaderKey, RecordIsTombstone)"
                        ),
                    )
                })??;
                Some(Condition {
                    predicate,
                    negate: keys.bool("negate", false)?,
                })
            }
        };
        Ok(Chain {
            transform,
            condition,
        })
    }
}

impl Chain {
    /// The record after the transformation, `None` when it drops it.
    pub fn apply(&self, input: &Record<'_>) -> Result<Option<OwnedRecord>, Error> {
        let mut record = Working::new(input);
        if let Some(c) = &self.condition
            && c.predicate.test(&record) == c.negate
        {
            return Ok(Some(record.finish()));
        }
        Ok(match self.transform.apply(&mut record)? {
            Outcome::Keep => Some(record.finish()),
            Outcome::Drop => None,
        })
    }
}
