//! `#[derive(FromConfig)]` as a plugin uses it: settings built from a `Config`, each key's
//! absence or bad value an invalid-configuration error naming the key.

use weir_guest::prelude::*;

#[derive(FromConfig, Debug, PartialEq)]
struct Every {
    text: String,
    bytes: Vec<u8>,
    flag: bool,
    letter: char,
    small: u8,
    big: u128,
    signed: i64,
    size: usize,
    ratio: f64,
    half: f32,
}

#[derive(FromConfig, Debug, PartialEq)]
struct Optional {
    #[config(rename = "max-len")]
    max_len: usize,
    label: Option<String>,
    limit: Option<u32>,
    #[config(default = 3)]
    retries: u32,
    #[config(default = "weir")]
    name: String,
    #[config(default = "abc", rename = "sep")]
    separator: Vec<u8>,
    #[config(default)]
    strict: bool,
    r#type: Option<String>,
    #[config(default = b"\xff")]
    marker: Vec<u8>,
    #[config(default = 0.5)]
    ratio: f64,
}

fn build<T: FromConfig>(entries: &[(&str, &str)]) -> Result<T> {
    T::from_config(&Config::from_entries(entries.iter().copied()))
}

const ALL: &[(&str, &str)] = &[
    ("text", "héllo"),
    ("bytes", "ab\u{e9}"),
    ("flag", "true"),
    ("letter", "x"),
    ("small", "255"),
    ("big", "340282366920938463463374607431768211455"),
    ("signed", "-42"),
    ("size", "7"),
    ("ratio", "0.25"),
    ("half", "1e3"),
];

#[test]
fn each_type_is_parsed_from_its_key() {
    let every: Every = build(ALL).unwrap();
    assert_eq!(
        every,
        Every {
            text: "héllo".into(),
            bytes: "ab\u{e9}".as_bytes().to_vec(),
            flag: true,
            letter: 'x',
            small: 255,
            big: u128::MAX,
            signed: -42,
            size: 7,
            ratio: 0.25,
            half: 1000.0,
        }
    );
}

#[test]
fn a_missing_required_key_is_an_invalid_config_error_naming_the_key() {
    for missing in ALL.iter().map(|(k, _)| *k) {
        let entries: Vec<_> = ALL.iter().copied().filter(|(k, _)| *k != missing).collect();
        let err = build::<Every>(&entries).unwrap_err();
        assert_eq!(err.message(), format!("missing config key `{missing}`"));
        assert_eq!(err, Error::invalid_config(err.message()), "{missing}: kind");
    }
}

#[test]
fn a_value_that_does_not_parse_names_the_key_and_the_value() {
    for (key, bad) in [
        ("flag", "yes"),
        ("letter", "xy"),
        ("small", "256"),
        ("big", "-1"),
        ("signed", "4.5"),
        ("size", ""),
        ("ratio", "quarter"),
        ("half", "1,5"),
    ] {
        let entries: Vec<_> = ALL
            .iter()
            .map(|&(k, v)| (k, if k == key { bad } else { v }))
            .collect();
        let err = build::<Every>(&entries).unwrap_err();
        let prefix = format!("config key `{key}` = `{bad}`: ");
        assert!(
            err.message().starts_with(&prefix) && err.message().len() > prefix.len(),
            "{key}: {}",
            err.message()
        );
        assert_eq!(err, Error::invalid_config(err.message()), "{key}: kind");
    }
}

#[test]
fn renamed_keys_defaults_and_options() {
    let unset: Optional = build(&[("max-len", "10")]).unwrap();
    assert_eq!(
        unset,
        Optional {
            max_len: 10,
            label: None,
            limit: None,
            retries: 3,
            name: "weir".into(),
            separator: b"abc".to_vec(),
            strict: false,
            r#type: None,
            marker: vec![0xff],
            ratio: 0.5,
        }
    );
    let set: Optional = build(&[
        ("max-len", "10"),
        ("label", "l"),
        ("limit", "5"),
        ("retries", "0"),
        ("name", "n"),
        ("sep", ";"),
        ("strict", "true"),
        ("type", "t"),
        ("marker", "m"),
        ("ratio", "2"),
        ("separator", "ignored: the field is renamed"),
    ])
    .unwrap();
    assert_eq!(
        set,
        Optional {
            max_len: 10,
            label: Some("l".into()),
            limit: Some(5),
            retries: 0,
            name: "n".into(),
            separator: b";".to_vec(),
            strict: true,
            r#type: Some("t".into()),
            marker: b"m".to_vec(),
            ratio: 2.0,
        }
    );
    // The renamed key is the one required; the field's own name does not stand in for it.
    let err = build::<Optional>(&[("max_len", "10")]).unwrap_err();
    assert_eq!(err.message(), "missing config key `max-len`");
    // A set optional key must still parse, default or not.
    for (key, bad) in [("limit", "many"), ("retries", "-1"), ("strict", "1")] {
        let err = build::<Optional>(&[("max-len", "1"), (key, bad)]).unwrap_err();
        assert!(
            err.message()
                .starts_with(&format!("config key `{key}` = `{bad}`: ")),
            "{}",
            err.message()
        );
    }
}

/// A type of the plugin's own, usable in a derived struct once it is a `ConfigValue`.
#[derive(Debug, PartialEq)]
struct Level(u8);

impl ConfigValue for Level {
    fn from_config_value(text: &str) -> Result<Self, String> {
        match text {
            "low" => Ok(Level(0)),
            "high" => Ok(Level(9)),
            _ => Err("expected `low` or `high`".into()),
        }
    }
}

#[derive(FromConfig)]
struct Custom {
    level: Level,
}

#[test]
fn a_type_of_the_plugins_own_parses_through_config_value() {
    assert_eq!(
        build::<Custom>(&[("level", "high")]).unwrap().level,
        Level(9)
    );
    let err = build::<Custom>(&[("level", "mid")]).err().unwrap();
    assert_eq!(
        err.message(),
        "config key `level` = `mid`: expected `low` or `high`"
    );
}
