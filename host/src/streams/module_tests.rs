//! `reduce` and `aggregate` with a module's functions (here plain Rust): the same results,
//! record for record, as the built-in `sum` (whose arithmetic the reference tests check)
//! when the functions sum, for every window type and both emit modes over random
//! out-of-order input cut into random batches; and the calls Kafka's rules make.

use bytes::Bytes;

use crate::record::Record;
use crate::runtime::aggregator::{AggregatorInput, Answered, Refused};
use crate::runtime::{Body, MemoryState, OutputRecord, RuntimeError};

use super::aggregate::Kind;
use super::functions::Functions;
use super::*;

/// Sums whole numbers written as text; refuses a value `bad`; fails the call (as a trap
/// would) on a value `trap`. Counts its calls.
#[derive(Default)]
struct Summing {
    initial: usize,
    add: usize,
    merge: usize,
    subtract: usize,
}

fn number(b: &[u8]) -> i64 {
    std::str::from_utf8(b).unwrap().parse().unwrap()
}

impl Functions for Summing {
    fn initial(&mut self) -> Result<Answered, RuntimeError> {
        self.initial += 1;
        Ok(Ok(b"0".to_vec()))
    }

    fn add(&mut self, input: AggregatorInput<'_>, agg: &[u8]) -> Result<Answered, RuntimeError> {
        self.add += 1;
        match input.value {
            b"bad" => Ok(Err(Refused {
                function: "add",
                message: "not a number".into(),
            })),
            b"trap" => Err(RuntimeError::Trap {
                plugin: "summing".into(),
                message: "unreachable".into(),
                guest_output: String::new(),
            }),
            v => Ok(Ok((number(agg) + number(v)).to_string().into_bytes())),
        }
    }

    fn merge(&mut self, _key: &[u8], l: &[u8], r: &[u8]) -> Result<Answered, RuntimeError> {
        self.merge += 1;
        Ok(Ok((number(l) + number(r)).to_string().into_bytes()))
    }

    fn subtract(
        &mut self,
        input: AggregatorInput<'_>,
        agg: &[u8],
    ) -> Result<Answered, RuntimeError> {
        self.subtract += 1;
        Ok(Ok((number(agg) - number(input.value))
            .to_string()
            .into_bytes()))
    }
}

/// xorshift64*, so each seed replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn record(key: &str, value: &str, ts: i64) -> Record {
    Record {
        key: Some(Bytes::from(key.to_string())),
        value: Some(Bytes::from(value.to_string())),
        headers: Vec::new(),
        timestamp: ts,
    }
}

/// An output record as comparable parts: key, value, headers, timestamp, source.
type Out = (
    Option<Bytes>,
    Option<Bytes>,
    Vec<(String, Option<Bytes>)>,
    i64,
    Option<u32>,
);

fn parts(r: &OutputRecord) -> Out {
    let Body::New(rec) = &r.body else {
        panic!("aggregations make new records")
    };
    (
        rec.key.clone(),
        rec.value.clone(),
        rec.headers.clone(),
        rec.timestamp,
        r.source,
    )
}

fn step(kind: Kind, grouping: Grouping, emit: Emit, retention_ms: i64) -> Aggregation {
    Aggregation {
        kind,
        grouping,
        emit,
        value_format: ValueFormat::Text,
        key_format: KeyFormat::Plain,
        retention_ms,
        close_idle_after_ms: None,
        max_open_windows: crate::streams::open::DEFAULT_MAX_OPEN_WINDOWS,
        late: crate::streams::Late::Drop,
    }
}

/// Runs `kind` with [`Summing`] and the built-in `sum` over the same batches; their
/// outputs and late counts must be equal.
fn same_as_sum(seed: u64, kind: Kind, grouping: Grouping, emit: Emit, retention_ms: i64) {
    let mut rng = Rng(seed);
    let module = step(kind, grouping, emit, retention_ms);
    let builtin = step(Kind::Sum, grouping, emit, retention_ms);
    let (mut s1, mut s2) = (MemoryState::default(), MemoryState::default());
    let mut fns = Summing::default();
    let mut clock = 0i64;
    let mut outputs = 0;
    for _ in 0..40 {
        let n = 1 + rng.below(50) as usize;
        let batch: Vec<Record> = (0..n)
            .map(|_| {
                clock += rng.below(40) as i64;
                let ts = (clock - rng.below(300) as i64).max(0);
                let key = ((b'a' + rng.below(4) as u8) as char).to_string();
                record(&key, &(rng.below(11) as i64 - 5).to_string(), ts)
            })
            .collect();
        let got = module.process_with(&mut fns, &mut s1, &batch).unwrap();
        let want = builtin.process(&mut s2, &batch).unwrap();
        assert!(got.output.failures.is_empty(), "seed {seed}");
        assert_eq!(
            got.late, want.late,
            "seed {seed} {grouping:?} {emit:?}: late"
        );
        let got: Vec<Out> = got.output.records.iter().map(parts).collect();
        let want: Vec<Out> = want.output.records.iter().map(parts).collect();
        assert_eq!(got, want, "seed {seed} {kind:?} {grouping:?} {emit:?}");
        outputs += got.len();
    }
    assert!(outputs > 0, "seed {seed}: the run emitted something");
    if kind == Kind::Reduce {
        assert_eq!(fns.initial, 0, "reduce starts from the first value");
    }
}

#[test]
fn module_aggregates_match_the_builtin_sum_for_every_window_type_and_emit_mode() {
    let tumbling = TimeWindows {
        size_ms: 200,
        advance_ms: 200,
        grace_ms: 50,
    };
    let hopping = TimeWindows {
        size_ms: 250,
        advance_ms: 50,
        grace_ms: 100,
    };
    let groupings = [
        (Grouping::Running, 0),
        (Grouping::Time(tumbling), 250),
        (Grouping::Time(hopping), 350),
        (
            Grouping::Session(SessionWindows {
                gap_ms: 60,
                grace_ms: 40,
            }),
            100,
        ),
        (
            Grouping::Sliding(SlidingWindows {
                max_diff_ms: 80,
                grace_ms: 30,
            }),
            111,
        ),
    ];
    for seed in 1..=6u64 {
        for (grouping, retention) in groupings {
            for emit in [Emit::OnUpdate, Emit::OnClose] {
                if grouping == Grouping::Running && emit == Emit::OnClose {
                    continue;
                }
                for kind in [Kind::Aggregate, Kind::Reduce] {
                    same_as_sum(seed, kind, grouping, emit, retention);
                }
            }
        }
    }
}

#[test]
fn sessions_a_record_bridges_are_merged_then_the_record_added() {
    let agg = step(
        Kind::Aggregate,
        Grouping::Session(SessionWindows {
            gap_ms: 10,
            grace_ms: 100,
        }),
        Emit::OnUpdate,
        200,
    );
    let mut store = MemoryState::default();
    let mut fns = Summing::default();
    agg.process_with(
        &mut fns,
        &mut store,
        &[record("k", "1", 0), record("k", "2", 20)],
    )
    .unwrap();
    assert_eq!((fns.initial, fns.add, fns.merge), (2, 2, 0));
    // 10 is within the gap of both [0,0] and [20,20]: one session [0,20] of 1 + 2 + 4.
    let done = agg
        .process_with(&mut fns, &mut store, &[record("k", "4", 10)])
        .unwrap();
    assert_eq!((fns.initial, fns.add, fns.merge), (2, 3, 1));
    let values: Vec<Option<Bytes>> = done.output.records.iter().map(|r| parts(r).1).collect();
    // Tombstones for the sessions merged away ([0,0], [20,20]) and the merged one
    // ([0,20]), in end order.
    assert_eq!(values, vec![None, Some(Bytes::from("7")), None]);
    let windows = agg.lookup_windows(&store, b"k", 0, 100, 100).unwrap();
    assert_eq!(windows.len(), 1);
    assert_eq!((windows[0].start, windows[0].end), (0, 20));
    assert_eq!(windows[0].value, Value::Bytes(Bytes::from("7")));
}

#[test]
fn a_refused_record_fails_alone_and_a_failed_call_fails_the_batch() {
    let agg = step(Kind::Aggregate, Grouping::Running, Emit::OnUpdate, 0);
    let mut store = MemoryState::default();
    let mut fns = Summing::default();
    let done = agg
        .process_with(
            &mut fns,
            &mut store,
            &[
                record("k", "1", 0),
                record("k", "bad", 1),
                record("k", "2", 2),
            ],
        )
        .unwrap();
    assert_eq!(done.output.failures.len(), 1);
    assert_eq!(done.output.failures[0].index, 1);
    assert_eq!(
        done.output.failures[0].message,
        "aggregator add failed: not a number"
    );
    assert_eq!(
        agg.lookup(&store, b"k").unwrap(),
        Some(Value::Bytes(Bytes::from("3")))
    );
    // Null values are skipped as Kafka's aggregate does: no call at all.
    let calls = fns.add;
    let mut null = record("k", "", 3);
    null.value = None;
    agg.process_with(&mut fns, &mut store, &[null]).unwrap();
    assert_eq!(fns.add, calls);
    let err = agg
        .process_with(&mut fns, &mut store, &[record("k", "trap", 4)])
        .unwrap_err();
    assert!(matches!(err, StreamsError::Module { .. }), "{err}");
    assert!(err.to_string().contains("unreachable"), "{err}");
}

#[test]
fn reduce_and_aggregate_refuse_value_format_and_need_no_number() {
    let spec = AggregateSpec {
        op: Op::Reduce,
        value_format: Some(ValueFormat::Long),
        ..AggregateSpec::default()
    };
    let (field, reason) = spec.build().unwrap_err();
    assert_eq!(field, "value_format");
    assert!(reason.contains("count and sum"), "{reason}");
    let spec = AggregateSpec {
        op: Op::Aggregate,
        window: Some(WindowSpec::Session {
            gap_ms: 5,
            grace_ms: 0,
        }),
        emit: Some(Emit::OnClose),
        ..AggregateSpec::default()
    };
    assert_eq!(spec.build().unwrap().kind, Kind::Aggregate);
}
