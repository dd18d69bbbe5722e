//! The state backends behave the same: in memory and in sled.

use std::ops::Bound;

use weir::runtime::{MemoryState, SledState, StateBackend, StateError};

fn kv(pairs: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

fn exercise(s: &mut dyn StateBackend) {
    assert_eq!(s.get(b"a").unwrap(), None);
    for (k, v) in [
        ("a", "1"),
        ("ab", "2"),
        ("abc", "3"),
        ("b", "4"),
        ("\u{ff}", "5"),
    ] {
        s.put(k.as_bytes(), v.as_bytes()).unwrap();
    }
    s.put(b"ab", b"22").unwrap();
    assert_eq!(s.get(b"ab").unwrap().as_deref(), Some(b"22".as_slice()));
    assert_eq!(
        s.prefix(b"a", 10).unwrap(),
        kv(&[("a", "1"), ("ab", "22"), ("abc", "3")])
    );
    assert_eq!(s.prefix(b"a", 2).unwrap(), kv(&[("a", "1"), ("ab", "22")]));
    assert_eq!(s.prefix(b"", 100).unwrap().len(), 5);
    assert_eq!(s.prefix(b"z", 10).unwrap(), kv(&[]));
    assert_eq!(
        s.range(Bound::Included(b"ab"), Bound::Excluded(b"b"), 10)
            .unwrap(),
        kv(&[("ab", "22"), ("abc", "3")])
    );
    assert_eq!(
        s.range(Bound::Excluded(b"ab"), Bound::Unbounded, 10)
            .unwrap(),
        kv(&[("abc", "3"), ("b", "4"), ("\u{ff}", "5")])
    );
    assert_eq!(
        s.range(Bound::Included(b"b"), Bound::Excluded(b"a"), 10)
            .unwrap(),
        kv(&[]),
        "inverted"
    );
    assert_eq!(
        s.range(Bound::Unbounded, Bound::Unbounded, 0).unwrap(),
        kv(&[])
    );
    s.delete(b"ab").unwrap();
    s.delete(b"never-there").unwrap();
    assert_eq!(s.get(b"ab").unwrap(), None);
    assert_eq!(s.prefix(b"a", 10).unwrap(), kv(&[("a", "1"), ("abc", "3")]));
    let big = vec![0u8; weir::runtime::state::MAX_VALUE_BYTES + 1];
    assert!(matches!(
        s.put(b"big", &big),
        Err(StateError::TooLarge { what: "value", .. })
    ));
    assert_eq!(s.get(b"big").unwrap(), None, "a refused put stores nothing");
}

#[test]
fn memory_state_behaves_as_specified() {
    exercise(&mut MemoryState::new());
}

#[test]
fn sled_state_behaves_as_specified_and_persists() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        exercise(&mut SledState::new(db.open_tree("step-0-p0").unwrap()));
        db.flush().unwrap();
    }
    let db = reopen(|| sled::open(dir.path()));
    let s = SledState::new(db.open_tree("step-0-p0").unwrap());
    assert_eq!(s.get(b"abc").unwrap().as_deref(), Some(b"3".as_slice()));
}

/// Reopens a sled database: sled releases its file lock from a background
/// thread shortly after the last handle drops, so a reopen in the same process
/// retries (with a deadline) while the lock is still held.
fn reopen<T, E: std::fmt::Debug>(mut open: impl FnMut() -> Result<T, E>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match open() {
            Ok(v) => return v,
            Err(e) if std::time::Instant::now() > deadline => panic!("reopen failed: {e:?}"),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
}
