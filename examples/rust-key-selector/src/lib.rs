//! Keys each record by one field of its value: the text before the first `separator`
//! (config, default `,`); a value without it is dropped, as Kafka drops a null key.
use weir_guest::prelude::*;

#[derive(FromConfig)]
struct Settings {
    #[config(default = ",")]
    separator: String,
}

#[key_selector]
fn select(record: &Record, cfg: &Settings) -> Option<Vec<u8>> {
    let value = std::str::from_utf8(record.value()?).ok()?;
    let (field, _) = value.split_once(cfg.separator.as_str())?;
    Some(field.as_bytes().to_vec())
}
