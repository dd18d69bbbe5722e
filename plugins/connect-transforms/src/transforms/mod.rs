//! The 16 transformations, one file each, and the one dispatch on the `type` key.

mod cast;
mod drop_headers;
mod extract_field;
mod flatten;
mod header_from;
mod hoist_field;
mod insert_field;
mod insert_header;
mod mask_field;
mod regex_router;
mod replace_field;
mod set_schema_metadata;
mod timestamp_converter;
mod timestamp_router;
mod value_to_key;

use weir_guest::Error;

use crate::config::Keys;
use crate::record::{Side, Working};

/// What a transformation made of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Emit it (changed or not).
    Keep,
    /// Drop it (Connect's transformation returned null).
    Drop,
}

/// A configured transformation.
#[derive(Debug)]
pub enum Transform {
    /// `Cast$Key` / `Cast$Value`.
    Cast(cast::Cast),
    /// `DropHeaders`.
    DropHeaders(drop_headers::DropHeaders),
    /// `ExtractField$Key` / `ExtractField$Value`.
    ExtractField(extract_field::ExtractField),
    /// `Filter`: drops every record it applies to (used with a predicate).
    Filter,
    /// `Flatten$Key` / `Flatten$Value`.
    Flatten(flatten::Flatten),
    /// `HeaderFrom$Key` / `HeaderFrom$Value`.
    HeaderFrom(header_from::HeaderFrom),
    /// `HoistField$Key` / `HoistField$Value`.
    HoistField(hoist_field::HoistField),
    /// `InsertField$Key` / `InsertField$Value`.
    InsertField(insert_field::InsertField),
    /// `InsertHeader`.
    InsertHeader(insert_header::InsertHeader),
    /// `MaskField$Key` / `MaskField$Value`.
    MaskField(mask_field::MaskField),
    /// `RegexRouter`.
    RegexRouter(regex_router::RegexRouter),
    /// `ReplaceField$Key` / `ReplaceField$Value`.
    ReplaceField(replace_field::ReplaceField),
    /// `SetSchemaMetadata$Key` / `SetSchemaMetadata$Value`.
    SetSchemaMetadata(set_schema_metadata::SetSchemaMetadata),
    /// `TimestampConverter$Key` / `TimestampConverter$Value`.
    TimestampConverter(timestamp_converter::TimestampConverter),
    /// `TimestampRouter`.
    TimestampRouter(timestamp_router::TimestampRouter),
    /// `ValueToKey`.
    ValueToKey(value_to_key::ValueToKey),
}

/// The transformation names without a `$Key`/`$Value` form.
const WHOLE_RECORD: &[&str] = &[
    "DropHeaders",
    "Filter",
    "InsertHeader",
    "RegexRouter",
    "TimestampRouter",
    "ValueToKey",
];

impl Transform {
    /// The transformation `name` (`InsertField$Value` or its fully qualified class name),
    /// configured from `keys`.
    pub fn build(name: &str, keys: &Keys<'_>) -> Result<Transform, Error> {
        let short = name
            .strip_prefix("org.apache.kafka.connect.transforms.")
            .unwrap_or(name);
        let (base, side) = match short.split_once('$') {
            Some((base, "Key")) => (base, Some(Side::Key)),
            Some((base, "Value")) => (base, Some(Side::Value)),
            Some(_) => return Err(unknown(keys, name)),
            None => (short, None),
        };
        let side = match (side, WHOLE_RECORD.contains(&base)) {
            (None, true) => Side::Value,
            (Some(side), false) => side,
            (None, false) => {
                return Err(keys.invalid(
                    "type",
                    &format!("names {name:?}: say {base}$Key or {base}$Value"),
                ));
            }
            (Some(_), true) => {
                return Err(keys.invalid(
                    "type",
                    &format!("names {name:?}, but {base} has no $Key or $Value form"),
                ));
            }
        };
        Ok(match base {
            "Cast" => Transform::Cast(cast::Cast::build(side, keys)?),
            "DropHeaders" => Transform::DropHeaders(drop_headers::DropHeaders::build(keys)?),
            "ExtractField" => {
                Transform::ExtractField(extract_field::ExtractField::build(side, keys)?)
            }
            "Filter" => Transform::Filter,
            "Flatten" => Transform::Flatten(flatten::Flatten::build(side, keys)?),
            "HeaderFrom" => Transform::HeaderFrom(header_from::HeaderFrom::build(side, keys)?),
            "HoistField" => Transform::HoistField(hoist_field::HoistField::build(side, keys)?),
            "InsertField" => Transform::InsertField(insert_field::InsertField::build(side, keys)?),
            "InsertHeader" => Transform::InsertHeader(insert_header::InsertHeader::build(keys)?),
            "MaskField" => Transform::MaskField(mask_field::MaskField::build(side, keys)?),
            "RegexRouter" => Transform::RegexRouter(regex_router::RegexRouter::build(keys)?),
            "ReplaceField" => {
                Transform::ReplaceField(replace_field::ReplaceField::build(side, keys)?)
            }
            "SetSchemaMetadata" => Transform::SetSchemaMetadata(
                set_schema_metadata::SetSchemaMetadata::build(side, keys)?,
            ),
            "TimestampConverter" => Transform::TimestampConverter(
                timestamp_converter::TimestampConverter::build(side, keys)?,
            ),
            "TimestampRouter" => {
                Transform::TimestampRouter(timestamp_router::TimestampRouter::build(keys)?)
            }
            "ValueToKey" => Transform::ValueToKey(value_to_key::ValueToKey::build(keys)?),
            _ => return Err(unknown(keys, name)),
        })
    }

    /// Applies the transformation to `record`.
    pub fn apply(&self, record: &mut Working<'_>) -> Result<Outcome, Error> {
        match self {
            Transform::Cast(t) => t.apply(record),
            Transform::DropHeaders(t) => t.apply(record),
            Transform::ExtractField(t) => t.apply(record),
            Transform::Filter => return Ok(Outcome::Drop),
            Transform::Flatten(t) => t.apply(record),
            Transform::HeaderFrom(t) => t.apply(record),
            Transform::HoistField(t) => t.apply(record),
            Transform::InsertField(t) => t.apply(record),
            Transform::InsertHeader(t) => t.apply(record),
            Transform::MaskField(t) => t.apply(record),
            Transform::RegexRouter(t) => t.apply(record),
            Transform::ReplaceField(t) => t.apply(record),
            Transform::SetSchemaMetadata(t) => t.apply(record),
            Transform::TimestampConverter(t) => t.apply(record),
            Transform::TimestampRouter(t) => t.apply(record),
            Transform::ValueToKey(t) => t.apply(record),
        }?;
        Ok(Outcome::Keep)
    }
}

fn unknown(keys: &Keys<'_>, name: &str) -> Error {
    keys.invalid(
        "type",
        &format!("names {name:?}, which is not one of Connect's transformations or predicates"),
    )
}
