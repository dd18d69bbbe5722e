//! Collections in request bodies, bounded *while* they are parsed: a JSON body of
//! tiny elements (`{},{},…`, 8 MiB of them is 2.8 M records) costs far more memory
//! parsed than sent, so the count is checked element by element and the parse stops
//! at the limit instead of after it (`http.max_produce_records`,
//! `http.max_headers_per_record`).

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

static MAX_RECORDS: AtomicUsize = AtomicUsize::new(100_000);
static MAX_HEADERS: AtomicUsize = AtomicUsize::new(1_000);

/// Sets the limits from the server's config (before it serves).
pub fn set_limits(max_records: usize, max_headers: usize) {
    MAX_RECORDS.store(max_records, Ordering::Relaxed);
    MAX_HEADERS.store(max_headers, Ordering::Relaxed);
}

/// A JSON array of at most `http.max_produce_records` elements.
pub fn records<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Bounded<T>(usize, PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Bounded<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "an array of at most {} records", self.0)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some(item) = seq.next_element()? {
                if out.len() == self.0 {
                    return Err(de::Error::custom(format!(
                        "more than {} records in one request (http.max_produce_records)",
                        self.0
                    )));
                }
                out.push(item);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(Bounded(MAX_RECORDS.load(Ordering::Relaxed), PhantomData))
}

/// A record's headers, at most `http.max_headers_per_record` of them, in order: a JSON
/// object, or an array of `[key, value]` pairs (the `headers_list` answers carry). Kafka
/// headers may repeat a key and their order matters, so a key the object repeats is kept
/// every time it appears rather than collapsed to one entry.
pub fn headers<'de, D, V>(d: D) -> Result<Vec<(String, V)>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct Bounded<V>(usize, PhantomData<V>);
    impl<V> Bounded<V> {
        fn push<E: de::Error>(&self, out: &mut Vec<(String, V)>, k: String, v: V) -> Result<(), E> {
            if out.len() == self.0 {
                return Err(E::custom(format!(
                    "more than {} headers on one record (http.max_headers_per_record)",
                    self.0
                )));
            }
            out.push((k, v));
            Ok(())
        }
    }
    impl<'de, V: Deserialize<'de>> Visitor<'de> for Bounded<V> {
        type Value = Vec<(String, V)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(
                f,
                "an object, or an array of [key, value] pairs, of at most {} headers",
                self.0
            )
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((k, v)) = map.next_entry()? {
                self.push(&mut out, k, v)?;
            }
            Ok(out)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((k, v)) = seq.next_element::<(String, V)>()? {
                self.push(&mut out, k, v)?;
            }
            Ok(out)
        }
    }
    d.deserialize_any(Bounded(MAX_HEADERS.load(Ordering::Relaxed), PhantomData))
}
