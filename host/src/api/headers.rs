//! Record headers in JSON answers (consume, search, the playground, dead letters).
//!
//! Kafka headers are an ordered list in which a key may repeat (a trace id added at
//! each hop, an error recorded per attempt). The published shape is an object,
//! `"headers": {"k": "v"}`, which cannot hold a key twice: there a repeated key shows
//! its *last* value, as Kafka's `Headers.lastHeader` answers. Whenever a key repeats the
//! answer adds `"headers_list": [["k", "v1"], ["k", "v2"], ...]`, every header in stored
//! order, so nothing is lost; records without repeats keep exactly the published shape.
//! Request bodies take either form back in `"headers"` ([`super::bounded::headers`]).

use bytes::Bytes;

/// Whether some key appears more than once in `headers`.
pub fn repeats_a_key(headers: &[(String, Option<Bytes>)]) -> bool {
    if headers.len() < 2 {
        return false;
    }
    let mut keys: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    keys.windows(2).any(|w| w[0] == w[1])
}

/// The value of the last header named `key` (Kafka's `lastHeader`): the newest one added.
pub fn last<'h>(headers: &'h [(String, Option<Bytes>)], key: &str) -> Option<&'h Option<Bytes>> {
    headers.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, Option<Bytes>)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Some(Bytes::from(v.to_string()))))
            .collect()
    }

    #[test]
    fn repeats_are_found_wherever_they_are() {
        assert!(!repeats_a_key(&h(&[])));
        assert!(!repeats_a_key(&h(&[("a", "1"), ("b", "2")])));
        assert!(repeats_a_key(&h(&[("a", "1"), ("b", "2"), ("a", "3")])));
    }

    #[test]
    fn the_last_header_of_a_key_wins() {
        let headers = h(&[("e", "first"), ("x", "0"), ("e", "second")]);
        assert_eq!(last(&headers, "e"), Some(&Some(Bytes::from("second"))));
        assert_eq!(last(&headers, "nope"), None);
    }
}
