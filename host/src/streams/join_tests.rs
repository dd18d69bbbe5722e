//! Golden tests of the joins: the semantics tables of Kafka's Streams DSL guide
//! (`docs/streams/developer-guide/dsl-api.md`, "Semantics of stream-stream joins",
//! "… table-table equi-joins", "… stream-table joins"), row for row: every row's input
//! record, one at a time, and exactly what the guide lists for inner, left and outer.

use crate::record::Record;
use crate::runtime::{MemoryState, StateBackend};

use super::error::StreamsError;
use super::join::{Join, JoinPair, JoinStores, JoinType, Side};
use super::join_window::{JoinWindowSpec, JoinWindows};
use super::joiner::{DefaultJoiner, ValueJoiner};
use super::table::Table;
use crate::runtime::joiner::JoinAnswered;

/// Writes `[L, R]` as the guide does, `null` for a missing side.
struct Brackets;

impl ValueJoiner for Brackets {
    fn join(
        &mut self,
        _key: Option<&[u8]>,
        left: Option<&[u8]>,
        right: Option<&[u8]>,
    ) -> Result<JoinAnswered, StreamsError> {
        let s =
            |v: Option<&[u8]>| v.map_or("null".to_string(), |b| String::from_utf8_lossy(b).into());
        Ok(Ok(Some(
            format!("[{}, {}]", s(left), s(right)).into_bytes(),
        )))
    }
}

/// One row: timestamp (s), the left input, the right input (`Some(None)`: a null value).
type Row = (
    i64,
    Option<Option<&'static str>>,
    Option<Option<&'static str>>,
);

fn record(ts: i64, value: Option<&str>) -> Record {
    Record {
        key: Some("k".into()),
        value: value.map(|v| v.to_string().into()),
        headers: Vec::new(),
        timestamp: ts,
    }
}

/// What a join emitted: each result's value (`null` for a tombstone).
fn texts(out: &crate::runtime::Output, inputs: &[Record]) -> Vec<String> {
    out.records
        .iter()
        .map(|r| {
            r.record(inputs)
                .and_then(|r| r.value.as_ref())
                .map_or("null".into(), |v| String::from_utf8_lossy(v).into_owned())
        })
        .collect()
}

/// The stream–stream table: window 10 s, grace 5 s in the guide's words, but its rows 14
/// and 15 join records 11 s apart (d at 14 with A at 3, D at 15 with a at 4): they
/// assume all of rows 1–15 in one window. 12 s each way keeps them together and E (40),
/// F (60), f (80) apart, with grace 5 s closing E at 60, F at 80 and f at 100, as listed.
const STREAM_STREAM: &[(Row, [&[&str]; 3])] = &[
    ((1, Some(None), None), [&[], &[], &[]]),
    ((2, None, Some(None)), [&[], &[], &[]]),
    ((3, Some(Some("A")), None), [&[], &[], &[]]),
    (
        (4, None, Some(Some("a"))),
        [&["[A, a]"], &["[A, a]"], &["[A, a]"]],
    ),
    (
        (5, Some(Some("B")), None),
        [&["[B, a]"], &["[B, a]"], &["[B, a]"]],
    ),
    (
        (6, None, Some(Some("b"))),
        [
            &["[A, b]", "[B, b]"],
            &["[A, b]", "[B, b]"],
            &["[A, b]", "[B, b]"],
        ],
    ),
    ((7, Some(None), None), [&[], &[], &[]]),
    ((8, None, Some(None)), [&[], &[], &[]]),
    (
        (9, Some(Some("C")), None),
        [
            &["[C, a]", "[C, b]"],
            &["[C, a]", "[C, b]"],
            &["[C, a]", "[C, b]"],
        ],
    ),
    (
        (10, None, Some(Some("c"))),
        [
            &["[A, c]", "[B, c]", "[C, c]"],
            &["[A, c]", "[B, c]", "[C, c]"],
            &["[A, c]", "[B, c]", "[C, c]"],
        ],
    ),
    ((11, None, Some(None)), [&[], &[], &[]]),
    ((12, Some(None), None), [&[], &[], &[]]),
    ((13, None, Some(None)), [&[], &[], &[]]),
    (
        (14, None, Some(Some("d"))),
        [
            &["[A, d]", "[B, d]", "[C, d]"],
            &["[A, d]", "[B, d]", "[C, d]"],
            &["[A, d]", "[B, d]", "[C, d]"],
        ],
    ),
    (
        (15, Some(Some("D")), None),
        [
            &["[D, a]", "[D, b]", "[D, c]", "[D, d]"],
            &["[D, a]", "[D, b]", "[D, c]", "[D, d]"],
            &["[D, a]", "[D, b]", "[D, c]", "[D, d]"],
        ],
    ),
    ((40, Some(Some("E")), None), [&[], &[], &[]]),
    (
        (60, Some(Some("F")), None),
        [&[], &["[E, null]"], &["[E, null]"]],
    ),
    (
        (80, None, Some(Some("f"))),
        [&[], &["[F, null]"], &["[F, null]"]],
    ),
    ((100, Some(Some("G")), None), [&[], &[], &["[null, f]"]]),
];

const TYPES: [JoinType; 3] = [JoinType::Inner, JoinType::Left, JoinType::Outer];

fn side_of(row: &Row) -> (Side, Option<&'static str>) {
    match row {
        (_, Some(v), None) => (Side::Left, *v),
        (_, None, Some(v)) => (Side::Right, *v),
        _ => unreachable!("each row has one input"),
    }
}

#[test]
fn stream_stream_joins_follow_kafkas_table_row_for_row() {
    let windows = JoinWindowSpec {
        before_ms: 12_000,
        after_ms: 12_000,
        grace_ms: 5_000,
    }
    .build()
    .unwrap();
    for (t, join_type) in TYPES.into_iter().enumerate() {
        let mut store = MemoryState::default();
        for (row, expected) in STREAM_STREAM {
            let (side, value) = side_of(row);
            let inputs = [record(row.0 * 1000, value)];
            let done = windows
                .process(join_type, &mut store, &mut Brackets, &inputs, &[side])
                .unwrap();
            assert_eq!(
                texts(&done.output, &inputs),
                expected[t],
                "{join_type:?} join, row at t={}",
                row.0
            );
        }
    }
}

#[test]
fn stream_stream_results_take_the_larger_timestamp_and_late_records_are_not_kept() {
    let windows = JoinWindows {
        before_ms: 10,
        after_ms: 10,
        grace_ms: 0,
        max_records: u64::MAX,
    };
    let mut store = MemoryState::default();
    let go = |store: &mut MemoryState, ts, side, v| {
        let inputs = [record(ts, Some(v))];
        windows
            .process(JoinType::Left, store, &mut Brackets, &inputs, &[side])
            .unwrap()
    };
    go(&mut store, 100, Side::Left, "A");
    let done = go(&mut store, 105, Side::Right, "a");
    assert_eq!(done.output.records.len(), 1);
    let inputs = [record(105, Some("a"))];
    assert_eq!(
        done.output.records[0].record(&inputs).unwrap().timestamp,
        105
    );
    // Stream time 200: a left record at 150 has a window ending at 160 < 200, closed: it
    // is late, matched nothing, and comes out at once (as Kafka), never stored.
    go(&mut store, 200, Side::Left, "B");
    let done = go(&mut store, 150, Side::Left, "late");
    assert_eq!(done.late, 1);
    assert_eq!(
        texts(&done.output, &[record(150, Some("late"))]),
        ["[late, null]"]
    );
    // One at 195 is out of order but within its window: kept, waits for its match.
    let done = go(&mut store, 195, Side::Left, "C");
    assert_eq!((done.late, done.output.records.len()), (0, 0));
    // Matches come in the window store's timestamp order, as Kafka's fetch returns them.
    let done = go(&mut store, 196, Side::Right, "c");
    assert_eq!(
        texts(&done.output, &[record(196, Some("c"))]),
        ["[C, c]", "[B, c]"]
    );
    // A (100) and a (105) are past retention (before + after + grace = 20 ms behind stream
    // time 200): only B, C and c are left; the late record was never stored.
    assert_eq!(store.prefix(b"w", 100).unwrap().len(), 3);
    assert_eq!(store.prefix(b"x", 100).unwrap().len(), 3);
}

/// KIP-962 (Kafka Streams 3.7+): a null-key record of a side the join keeps comes out at
/// once joined with null, keyed null, at its own timestamp; an inner join, and a left
/// join's right side, drop it. Either way it stores nothing and moves stream time.
#[test]
fn null_keys_are_joined_with_null_on_the_sides_a_join_keeps() {
    let windows = JoinWindows {
        before_ms: 10,
        after_ms: 10,
        grace_ms: 0,
        max_records: u64::MAX,
    };
    let keyless = |ts, v: &str| Record {
        key: None,
        ..record(ts, Some(v))
    };
    for (join_type, left, right) in [
        (JoinType::Inner, 0, 0),
        (JoinType::Left, 1, 0),
        (JoinType::Outer, 1, 1),
    ] {
        let mut store = MemoryState::default();
        let inputs = [keyless(100, "A"), keyless(101, "b"), record(102, Some("C"))];
        let done = windows
            .process(
                join_type,
                &mut store,
                &mut Brackets,
                &inputs,
                &[Side::Left, Side::Right, Side::Left],
            )
            .unwrap();
        let got: Vec<(Option<Vec<u8>>, i64)> = done
            .output
            .records
            .iter()
            .map(|r| {
                let r = r.record(&inputs).unwrap();
                (r.key.as_ref().map(|k| k.to_vec()), r.timestamp)
            })
            .collect();
        let mut want = Vec::new();
        want.extend((left == 1).then_some((None, 100)));
        want.extend((right == 1).then_some((None, 101)));
        assert_eq!(got, want, "{join_type:?}");
        let mut texts_want = Vec::new();
        texts_want.extend((left == 1).then(|| "[A, null]".to_string()));
        texts_want.extend((right == 1).then(|| "[null, b]".to_string()));
        assert_eq!(texts(&done.output, &inputs), texts_want);
        // Only C is stored (and waits, for the left and outer joins).
        assert_eq!(store.prefix(b"w", 100).unwrap().len(), 1, "{join_type:?}");
        assert_eq!(
            store.get(super::join_window::TIME_KEY).unwrap(),
            Some(102i64.to_be_bytes().to_vec())
        );
    }
}

/// The table–table table, as listed.
const TABLE_TABLE: &[(Row, [&[&str]; 3])] = &[
    ((1, Some(None), None), [&[], &[], &[]]),
    ((2, None, Some(None)), [&[], &[], &[]]),
    (
        (3, Some(Some("A")), None),
        [&[], &["[A, null]"], &["[A, null]"]],
    ),
    (
        (4, None, Some(Some("a"))),
        [&["[A, a]"], &["[A, a]"], &["[A, a]"]],
    ),
    (
        (5, Some(Some("B")), None),
        [&["[B, a]"], &["[B, a]"], &["[B, a]"]],
    ),
    (
        (6, None, Some(Some("b"))),
        [&["[B, b]"], &["[B, b]"], &["[B, b]"]],
    ),
    (
        (7, Some(None), None),
        [&["null"], &["null"], &["[null, b]"]],
    ),
    ((8, None, Some(None)), [&[], &[], &["null"]]),
    (
        (9, Some(Some("C")), None),
        [&[], &["[C, null]"], &["[C, null]"]],
    ),
    (
        (10, None, Some(Some("c"))),
        [&["[C, c]"], &["[C, c]"], &["[C, c]"]],
    ),
    (
        (11, None, Some(None)),
        [&["null"], &["[C, null]"], &["[C, null]"]],
    ),
    ((12, Some(None), None), [&[], &["null"], &["null"]]),
    ((13, None, Some(None)), [&[], &[], &[]]),
    ((14, None, Some(Some("d"))), [&[], &[], &["[null, d]"]]),
    (
        (15, Some(Some("D")), None),
        [&["[D, d]"], &["[D, d]"], &["[D, d]"]],
    ),
];

#[test]
fn table_table_joins_follow_kafkas_table_row_for_row() {
    for (t, join_type) in TYPES.into_iter().enumerate() {
        let join = Join {
            join_type,
            pair: JoinPair::TableTable,
        };
        let (mut left, mut right, mut own) = (
            MemoryState::default(),
            MemoryState::default(),
            MemoryState::default(),
        );
        for (row, expected) in TABLE_TABLE {
            let (side, value) = side_of(row);
            let inputs = [record(row.0, value)];
            let table = match side {
                Side::Left => &mut left,
                Side::Right => &mut right,
            };
            Table.update(table, &inputs).unwrap();
            let done = join
                .process(
                    JoinStores {
                        own: &mut own,
                        left_table: Some(&left),
                        right_table: Some(&right),
                    },
                    &mut Brackets,
                    &inputs,
                    &[side],
                )
                .unwrap();
            assert_eq!(
                texts(&done.output, &inputs),
                expected[t],
                "{join_type:?} join, row at t={}",
                row.0
            );
        }
    }
}

/// The stream–table table, as listed (Kafka has no outer stream–table join).
const STREAM_TABLE: &[(Row, [&[&str]; 2])] = &[
    ((1, Some(None), None), [&[], &[]]),
    ((2, None, Some(None)), [&[], &[]]),
    ((3, Some(Some("A")), None), [&[], &["[A, null]"]]),
    ((4, None, Some(Some("a"))), [&[], &[]]),
    ((5, Some(Some("B")), None), [&["[B, a]"], &["[B, a]"]]),
    ((6, None, Some(Some("b"))), [&[], &[]]),
    ((7, Some(None), None), [&[], &[]]),
    ((8, None, Some(None)), [&[], &[]]),
    ((9, Some(Some("C")), None), [&[], &["[C, null]"]]),
    ((10, None, Some(Some("c"))), [&[], &[]]),
    ((11, None, Some(None)), [&[], &[]]),
    ((12, Some(None), None), [&[], &[]]),
    ((13, None, Some(None)), [&[], &[]]),
    ((14, None, Some(Some("d"))), [&[], &[]]),
    ((15, Some(Some("D")), None), [&["[D, d]"], &["[D, d]"]]),
];

#[test]
fn stream_table_joins_follow_kafkas_table_row_for_row() {
    for (t, join_type) in [JoinType::Inner, JoinType::Left].into_iter().enumerate() {
        let join = Join {
            join_type,
            pair: JoinPair::StreamTable,
        };
        let (mut right, mut own) = (MemoryState::default(), MemoryState::default());
        for (row, expected) in STREAM_TABLE {
            let (side, value) = side_of(row);
            let inputs = [record(row.0, value)];
            if side == Side::Right {
                Table.update(&mut right, &inputs).unwrap();
            }
            let done = join
                .process(
                    JoinStores {
                        own: &mut own,
                        left_table: None,
                        right_table: Some(&right),
                    },
                    &mut Brackets,
                    &inputs,
                    &[side],
                )
                .unwrap();
            assert_eq!(
                texts(&done.output, &inputs),
                expected[t],
                "{join_type:?} join, row at t={}",
                row.0
            );
        }
    }
}

#[test]
fn the_default_joiner_writes_json_and_refuses_values_that_are_not_text() {
    let v = DefaultJoiner
        .join(Some(b"k"), Some(b"o-1"), None)
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&v).unwrap(),
        serde_json::json!({"left": "o-1", "right": null})
    );
    let e = DefaultJoiner
        .join(Some(b"k"), Some(b"ok"), Some(&[0xff, 0xfe]))
        .unwrap()
        .unwrap_err();
    assert!(e.contains("right value is not UTF-8"), "{e}");
}

/// The default joiner writes its JSON into one buffer itself: byte for byte what
/// `serde_json::json!({"left": L, "right": R}).to_string()` makes, whatever needs
/// escaping (golden and oracle tests compare the bytes).
#[test]
fn the_default_joiners_bytes_are_serde_jsons() {
    use rand::{Rng, SeedableRng};
    let mut texts: Vec<String> = [
        "",
        "o-1",
        "quote \" and backslash \\",
        "tab\tnew\nline\rcr",
        "\u{0}\u{1}\u{1f}\u{7f}",
        "slash / é ü 日本 \u{2028}\u{2029} 🦀",
        "\u{8}\u{c}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    let alphabet: Vec<char> = (0u32..0x90)
        .filter_map(char::from_u32)
        .chain(['é', '\u{2028}', '🦀', '\u{fffd}'])
        .collect();
    for _ in 0..200 {
        let n = rng.random_range(0..30);
        texts.push(
            (0..n)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect(),
        );
    }
    let sides: Vec<Option<&str>> = std::iter::once(None)
        .chain(texts.iter().map(|t| Some(t.as_str())))
        .collect();
    for (i, &l) in sides.iter().enumerate() {
        for r in [
            sides[(i * 7) % sides.len()],
            sides[(i * 13 + 1) % sides.len()],
            None,
        ] {
            let v = DefaultJoiner
                .join(Some(b"k"), l.map(str::as_bytes), r.map(str::as_bytes))
                .unwrap()
                .unwrap()
                .unwrap();
            let expected = serde_json::json!({"left": l, "right": r}).to_string();
            assert_eq!(String::from_utf8(v).unwrap(), expected);
        }
    }
}

#[test]
fn a_table_keeps_the_latest_value_per_key_and_a_null_deletes() {
    let mut s = MemoryState::default();
    let rec = |k: Option<&str>, v: Option<&str>, ts| Record {
        key: k.map(|k| k.to_string().into()),
        value: v.map(|v| v.to_string().into()),
        headers: Vec::new(),
        timestamp: ts,
    };
    let inputs = [
        rec(Some("a"), Some("1"), 10),
        rec(None, Some("x"), 11),
        rec(Some("a"), Some("2"), 12),
        rec(Some("b"), Some("3"), 13),
        rec(Some("b"), None, 14),
    ];
    let out = Table.update(&mut s, &inputs).unwrap();
    // The changelog: every keyed record, in order; the keyless one is skipped.
    let sources: Vec<_> = out.records.iter().map(|r| r.source).collect();
    assert_eq!(sources, [Some(0), Some(2), Some(3), Some(4)]);
    let row = Table::get(&s, b"a").unwrap().unwrap();
    assert_eq!((row.timestamp, row.value.as_slice()), (12, &b"2"[..]));
    assert_eq!(Table::get(&s, b"b").unwrap(), None);
}

/// A stream–global_table join with a key module looks up the key it selected, as Kafka's
/// `KStream.join(GlobalKTable, KeyValueMapper, ValueJoiner)`: the result keeps the stream
/// key; a null mapped key matches nothing (a left join emits the record with null).
#[test]
fn a_global_join_looks_up_the_selected_key() {
    let mut table = MemoryState::default();
    let row = |k: &str, v: &str| Record {
        key: Some(k.to_string().into()),
        value: Some(v.to_string().into()),
        headers: Vec::new(),
        timestamp: 1,
    };
    Table.update(&mut table, &[row("c1", "Ada")]).unwrap();
    let order = |k: Option<&str>, v: &str| Record {
        key: k.map(|k| k.to_string().into()),
        value: Some(v.to_string().into()),
        headers: Vec::new(),
        timestamp: 5,
    };
    let records = [
        order(Some("o1"), "c1"),
        order(Some("o2"), "c9"),
        order(Some("o3"), "none"),
        order(None, "none"),
        order(None, "c1"),
    ];
    let lookup = [
        Some(b"c1".to_vec()),
        Some(b"c9".to_vec()),
        None,
        None,
        Some(b"c1".to_vec()),
    ];
    let sides = [Side::Left; 5];
    let run = |join_type| {
        let join = Join {
            join_type,
            pair: JoinPair::StreamGlobal,
        };
        let done = join
            .process_looked_up(&table, &mut Brackets, &records, &sides, &lookup)
            .unwrap();
        done.output
            .records
            .iter()
            .map(|r| match &r.body {
                crate::runtime::Body::New(rec) => (
                    r.source.unwrap(),
                    rec.key
                        .as_ref()
                        .map(|k| String::from_utf8_lossy(&k[..]).into_owned()),
                    String::from_utf8_lossy(rec.value.as_deref().unwrap()).into_owned(),
                ),
                crate::runtime::Body::Input => panic!("a join makes new records"),
            })
            .collect::<Vec<_>>()
    };
    let s = |v: &str| v.to_string();
    assert_eq!(
        run(JoinType::Inner),
        [
            (0, Some(s("o1")), s("[c1, Ada]")),
            (4, None, s("[c1, Ada]"))
        ]
    );
    assert_eq!(
        run(JoinType::Left),
        [
            (0, Some(s("o1")), s("[c1, Ada]")),
            (1, Some(s("o2")), s("[c9, null]")),
            (2, Some(s("o3")), s("[none, null]")),
            (3, None, s("[none, null]")),
            (4, None, s("[c1, Ada]"))
        ]
    );
}
