//! Tests of the window and session stores: layout, retention, and the fetch caps.

use super::super::MemoryState;
use super::*;

#[test]
fn windows_fetch_by_key_and_time_and_drop_by_retention() {
    let mut m = MemoryState::new();
    let mut w = WindowStore::new(&mut m, None);
    w.put(b"a", 0, b"1").unwrap();
    w.put(b"a", 1000, b"2").unwrap();
    w.put(b"ab", 500, b"x").unwrap();
    w.put(b"b", -1000, b"neg").unwrap();
    let a: Vec<_> = w.fetch(b"a", 0, 1000, 10).unwrap();
    assert_eq!(
        a,
        vec![
            (b"a".to_vec(), 0, b"1".to_vec()),
            (b"a".to_vec(), 1000, b"2".to_vec())
        ]
    );
    assert_eq!(w.fetch(b"a", 1, 999, 10).unwrap(), vec![]);
    assert_eq!(w.fetch(b"a", 0, 1000, 1).unwrap().len(), 1);
    let all: Vec<(Vec<u8>, i64)> = w
        .fetch_all(i64::MIN, i64::MAX, 10)
        .unwrap()
        .into_iter()
        .map(|(k, s, _)| (k, s))
        .collect();
    assert_eq!(
        all,
        vec![
            (b"b".to_vec(), -1000),
            (b"a".to_vec(), 0),
            (b"ab".to_vec(), 500),
            (b"a".to_vec(), 1000)
        ]
    );
    assert_eq!(w.get(b"ab", 500).unwrap().unwrap(), b"x");
    w.remove(b"ab", 500).unwrap();
    assert_eq!(w.get(b"ab", 500).unwrap(), None);
    assert_eq!(w.drop_before(1000).unwrap(), 2);
    assert_eq!(w.fetch_all(i64::MIN, i64::MAX, 10).unwrap().len(), 1);
}

#[test]
fn sessions_are_found_by_overlap_and_dropped_by_end() {
    let mut m = MemoryState::new();
    let mut s = SessionStore::new(&mut m, None);
    s.put(b"k", 0, 100, b"first").unwrap();
    s.put(b"k", 500, 700, b"second").unwrap();
    s.put(b"kk", 0, 1000, b"other key").unwrap();
    // A record at 650 with a gap of 100 merges with sessions ending >= 550 and
    // starting <= 750.
    let found = s.find(b"k", 550, 750, 10).unwrap();
    assert_eq!(found, vec![(b"k".to_vec(), 500, 700, b"second".to_vec())]);
    assert_eq!(s.find(b"k", 0, i64::MAX, 10).unwrap().len(), 2);
    assert_eq!(s.fetch_session(b"k", 0, 100).unwrap().unwrap(), b"first");
    assert!(matches!(
        s.put(b"k", 5, 4, b""),
        Err(StateError::Invalid { .. })
    ));
    assert_eq!(s.drop_before(701).unwrap(), 2);
    assert_eq!(s.find(b"kk", 0, i64::MAX, 10).unwrap().len(), 1);
    s.remove(b"kk", 0, 1000).unwrap();
    assert!(s.find(b"kk", 0, i64::MAX, 10).unwrap().is_empty());
}

#[test]
fn windows_past_retention_are_ignored_and_unseen_before_any_drop() {
    let mut m = MemoryState::new();
    let mut w = WindowStore::new(&mut m, Some(1000));
    w.put(b"a", 0, b"old").unwrap();
    w.put(b"a", 1, b"edge").unwrap();
    // Observed stream time 1000: Kafka expires `start <= 1000 - 1000`, keeps start 1.
    w.put(b"b", 1000, b"new").unwrap();
    assert_eq!(w.get(b"a", 0).unwrap(), None);
    assert_eq!(w.get(b"a", 1).unwrap().unwrap(), b"edge");
    let a = w.fetch(b"a", i64::MIN, i64::MAX, 10).unwrap();
    let a: Vec<i64> = a.into_iter().map(|(_, s, _)| s).collect();
    assert_eq!(a, vec![1]);
    let all = w.fetch_all(i64::MIN, i64::MAX, 10).unwrap();
    assert_eq!(all.iter().map(|e| e.1).collect::<Vec<_>>(), vec![1, 1000]);
    // A later record re-putting the expired window is ignored, as Kafka does.
    w.put(b"a", 0, b"again").unwrap();
    assert_eq!(w.get(b"a", 0).unwrap(), None);
    // An older put does not move the observed time back.
    w.put(b"c", 500, b"mid").unwrap();
    assert_eq!(w.get(b"a", 1).unwrap().unwrap(), b"edge");
    // The physical drop only frees what reads already skip.
    assert_eq!(w.expire().unwrap(), 1);
    assert_eq!(w.fetch_all(i64::MIN, i64::MAX, 10).unwrap().len(), 3);
    // Without a retention nothing expires.
    let mut m = MemoryState::new();
    let mut w = WindowStore::new(&mut m, None);
    w.put(b"a", 0, b"1").unwrap();
    w.put(b"a", i64::MAX, b"2").unwrap();
    assert_eq!(w.get(b"a", 0).unwrap().unwrap(), b"1");
    assert_eq!(w.expire().unwrap(), 0);
}

#[test]
fn sessions_past_retention_are_ignored_and_unseen_before_any_drop() {
    let mut m = MemoryState::new();
    let mut s = SessionStore::new(&mut m, Some(100));
    s.put(b"k", 0, 50, b"old").unwrap();
    s.put(b"k", 60, 60, b"edge").unwrap();
    // Observed stream time is the latest end: 150 expires ends `<= 50`.
    s.put(b"j", 100, 150, b"new").unwrap();
    assert_eq!(s.fetch_session(b"k", 0, 50).unwrap(), None);
    let found = s.find(b"k", i64::MIN, i64::MAX, 10).unwrap();
    assert_eq!(found, vec![(b"k".to_vec(), 60, 60, b"edge".to_vec())]);
    assert_eq!(s.find_all(i64::MIN, i64::MAX, 10).unwrap().len(), 2);
    s.put(b"k", 10, 40, b"again").unwrap();
    assert!(s.find(b"k", i64::MIN, 59, 10).unwrap().is_empty());
    assert_eq!(s.expire().unwrap(), 1);
    assert_eq!(s.find_all(i64::MIN, i64::MAX, 10).unwrap().len(), 2);
}

/// A backend that remembers the most bytes one scan returned.
struct Watched(MemoryState, std::cell::Cell<usize>);

impl StateBackend for Watched {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.0.get(key)
    }
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        self.0.put(key, value)
    }
    fn delete(&mut self, key: &[u8]) -> Result<(), StateError> {
        self.0.delete(key)
    }
    fn range(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
    ) -> Result<super::super::Entries, StateError> {
        let found = self.0.range(start, end, limit)?;
        let bytes = found.iter().map(|(k, v)| k.len() + v.len()).sum();
        self.1.set(self.1.get().max(bytes));
        Ok(found)
    }
}

#[test]
fn a_fetch_past_its_byte_cap_never_reads_much_more_than_the_cap() {
    let mut m = Watched(MemoryState::new(), Default::default());
    let big = vec![7u8; MAX_VALUE_BYTES];
    let mut w = WindowStore::new(&mut m, None);
    for start in 0..8 {
        w.put(b"k", start, &big).unwrap();
    }
    let mut s = SessionStore::new(&mut m, None);
    for end in 0..8 {
        s.put(b"k", 0, end, &big).unwrap();
    }
    let err = WindowStore::new(&mut m, None)
        .fetch(b"k", 0, 100, 10)
        .unwrap_err();
    assert!(matches!(err, StateError::TooLarge { .. }), "{err}");
    let err = SessionStore::new(&mut m, None)
        .find(b"k", 0, 100, 10)
        .unwrap_err();
    assert!(matches!(err, StateError::TooLarge { .. }), "{err}");
    let most = m.1.get();
    assert!(
        most <= MAX_FETCH_BYTES,
        "one scan held {most} bytes, over the fetch cap {MAX_FETCH_BYTES}"
    );
}

#[test]
fn limits_are_refused_with_the_cap_named() {
    let mut m = MemoryState::new();
    let mut w = WindowStore::new(&mut m, None);
    let long = vec![0u8; MAX_WINDOW_KEY_BYTES + 1];
    let err = w.put(&long, 0, b"v").unwrap_err().to_string();
    assert!(err.contains(&MAX_WINDOW_KEY_BYTES.to_string()), "{err}");
    let err = w
        .fetch_all(0, 1, MAX_FETCH_ENTRIES + 1)
        .unwrap_err()
        .to_string();
    assert!(err.contains(&MAX_FETCH_ENTRIES.to_string()), "{err}");
    let err = w
        .put(b"k", 0, &vec![0u8; super::super::MAX_VALUE_BYTES + 1])
        .unwrap_err()
        .to_string();
    assert!(err.contains("value"), "{err}");
}
