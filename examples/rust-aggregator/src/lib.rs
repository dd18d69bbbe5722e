//! Sums whole-number values per key (and window): Kafka's `reduce(Long::sum)` as a
//! `reduce` step, or `aggregate` from 0. The aggregate is the sum as decimal text. With
//! config `number_after` (say `","`), a value's number is the text after its last
//! `number_after` (`user7,42` adds 42), so a value can name its group too.
use weir_guest::prelude::*;

fn number(bytes: &[u8]) -> Result<i64> {
    let text = std::str::from_utf8(bytes).map_err(|_| Error::new("not UTF-8 text"))?;
    let text = match Config::get_global().get("number_after") {
        Some(sep) if !sep.is_empty() => text.rsplit(sep).next().unwrap_or(text),
        _ => text,
    };
    text.trim()
        .parse()
        .map_err(|_| Error::new(format!("{text:?} is not a whole number")))
}

fn text(n: i64) -> Vec<u8> {
    n.to_string().into_bytes()
}

fn zero() -> Vec<u8> {
    text(0)
}

/// The aggregate plus the record's value.
#[aggregator(initial = zero, merge = merge, subtract = subtract)]
fn add(item: &Item, aggregate: &[u8]) -> Result<Vec<u8>> {
    let sum = number(aggregate)?.checked_add(number(item.value())?);
    sum.map(text).ok_or_else(|| Error::new("the sum overflows"))
}

/// Two sums of one key (sessions that a record bridges).
fn merge(_key: &[u8], left: &[u8], right: &[u8]) -> Result<Vec<u8>> {
    let sum = number(left)?.checked_add(number(right)?);
    sum.map(text).ok_or_else(|| Error::new("the sum overflows"))
}

/// The aggregate minus the record's value (a table row's old value).
fn subtract(item: &Item, aggregate: &[u8]) -> Result<Vec<u8>> {
    let diff = number(aggregate)?.checked_sub(number(item.value())?);
    diff.map(text).ok_or_else(|| Error::new("the sum overflows"))
}
