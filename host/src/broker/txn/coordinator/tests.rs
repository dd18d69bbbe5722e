//! The coordinator over a real broker in a temp dir: timeouts, fencing, and
//! recovery of an ending and of an open transaction after a reopen.

use std::sync::Arc;

use super::*;
use crate::broker::BrokerConfig;
use crate::broker::topic_config::TopicConfig;
use crate::log::FlushPolicy;
use crate::log::batch::{Record, encode_batch};
use crate::test_support::reopen;

struct Node {
    broker: Arc<Broker>,
    producers: Arc<ProducerRegistry>,
    txns: TxnCoordinator,
}

fn open(dir: &std::path::Path) -> Node {
    let broker = Arc::new(reopen(|| {
        Broker::open(BrokerConfig {
            data_dir: dir.to_path_buf(),
            flush: FlushPolicy::EveryBatch,
            index_interval_bytes: 4096,
            topic_defaults: TopicConfig::default(),
            limits: Default::default(),
        })
    }));
    let producers = Arc::new(ProducerRegistry::new(broker.clone()));
    let txns = TxnCoordinator::open(broker.clone(), producers.clone()).unwrap();
    Node {
        broker,
        producers,
        txns,
    }
}

/// A transactional one-record batch.
fn batch(pid: i64, epoch: i16, seq: i32) -> Vec<u8> {
    let mut b = encode_batch(
        &[Record {
            value: Some(b"v".to_vec().into()),
            timestamp: 1,
            ..Record::default()
        }],
        0,
    )
    .unwrap();
    crate::log::batch::set_producer(&mut b, pid, epoch, seq);
    // attributes' low byte (big-endian): the transactional bit.
    b[22] |= 0x10;
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

fn produce(n: &Node, id: &str, pid: i64, epoch: i16, seq: i32) -> Result<(), BrokerError> {
    let topic = n.broker.topic("t")?;
    let bytes = batch(pid, epoch, seq);
    let checked = crate::log::batch::Checked::new(&bytes).unwrap();
    match n.txns.produce(id, &topic, 0, pid, epoch, checked)? {
        IdempotentAppend::Appended(_) => Ok(()),
        other => panic!("{other:?}"),
    }
}

fn committed(n: &Node) -> crate::broker::producer::CommittedRead {
    let topic = n.broker.topic("t").unwrap();
    n.producers.read_committed(&topic, 0, 0, 1 << 20).unwrap()
}

#[test]
fn a_timed_out_transaction_is_aborted_and_its_producer_fenced() {
    let dir = tempfile::tempdir().unwrap();
    let n = open(dir.path());
    n.broker.create_topic("t", 1, Default::default()).unwrap();
    let (pid, epoch) = n.txns.init_producer("x", 1000, None).unwrap();
    n.txns
        .add_partitions("x", pid, epoch, &[("t".into(), 0)])
        .unwrap();
    produce(&n, "x", pid, epoch, 0).unwrap();
    assert_eq!(committed(&n).last_stable, 0, "open: nothing stable");
    assert_eq!(n.txns.abort_expired(now_ms()), 0, "not expired yet");
    assert_eq!(n.txns.abort_expired(now_ms() + 2000), 1);
    let rec = n.txns.describe("x").unwrap();
    assert_eq!(rec.phase, TxnPhase::Complete { commit: false });
    assert_eq!(rec.epoch, epoch + 1);
    let read = committed(&n);
    assert_eq!(read.last_stable, 2, "the record and its abort marker");
    assert_eq!(read.aborted.len(), 1);
    assert!(matches!(
        n.txns.end("x", pid, epoch, true),
        Err(BrokerError::Transaction(TxnRefusal::Fenced))
    ));
    // The fenced producer may take the id back with its last epoch (KIP-360).
    assert_eq!(
        n.txns.init_producer("x", 1000, Some((pid, epoch))).unwrap(),
        (pid, epoch + 2)
    );
    // Idle for a week, the id is forgotten, here and in sled.
    n.txns.abort_expired(now_ms() + ID_EXPIRATION_MS + 1);
    assert!(n.txns.describe("x").is_none());
    drop(n);
    let n = open(dir.path());
    assert!(n.txns.describe("x").is_none());
}

#[test]
fn an_ending_transaction_is_finished_by_a_reopen_and_an_open_one_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (pid, epoch, pid2, epoch2);
    {
        let n = open(dir.path());
        n.broker.create_topic("t", 1, Default::default()).unwrap();
        (pid, epoch) = n.txns.init_producer("ending", 60_000, None).unwrap();
        (pid2, epoch2) = n.txns.init_producer("open", 60_000, None).unwrap();
        for (id, p, e) in [("ending", pid, epoch), ("open", pid2, epoch2)] {
            n.txns.add_partitions(id, p, e, &[("t".into(), 0)]).unwrap();
            produce(&n, id, p, e, 0).unwrap();
            let offset = PendingOffset {
                offset: 5,
                metadata: None,
            };
            n.txns
                .commit_offsets(
                    id,
                    p,
                    e,
                    &format!("g-{id}"),
                    vec![(("t".into(), 0), offset)],
                )
                .unwrap();
        }
        // A crash right after the decision: `Ending` stored, no marker written.
        let entry = n.txns.entry("ending").unwrap();
        let mut rec = entry.lock();
        let TxnPhase::Ongoing(txn) = rec.phase.clone() else {
            panic!("{:?}", rec.phase)
        };
        rec.phase = TxnPhase::Ending { commit: true, txn };
        n.txns.store("ending", &mut rec, true).unwrap();
    }
    let n = open(dir.path());
    let rec = n.txns.describe("ending").unwrap();
    assert_eq!(rec.phase, TxnPhase::Complete { commit: true });
    assert_eq!(
        n.broker.group_offsets("g-ending").unwrap()[0]
            .committed
            .offset,
        5
    );
    assert!(
        n.broker.group_offsets("g-open").is_err(),
        "not committed yet"
    );
    // The other is still open (its first record bounds the LSO) and can commit.
    assert!(matches!(
        n.txns.describe("open").unwrap().phase,
        TxnPhase::Ongoing(_)
    ));
    let read = committed(&n);
    assert_eq!(read.last_stable, 1, "the open transaction's record at 1");
    n.txns.end("open", pid2, epoch2, true).unwrap();
    let read = committed(&n);
    assert!(read.aborted.is_empty());
    assert_eq!(read.last_stable, read.read.high_watermark);
    assert_eq!(
        n.broker.group_offsets("g-open").unwrap()[0]
            .committed
            .offset,
        5
    );
    // A retried EndTxn is answered as done; the other way is refused.
    n.txns.end("open", pid2, epoch2, true).unwrap();
    assert!(n.txns.end("open", pid2, epoch2, false).is_err());
}

#[test]
fn partition_state_is_rebuilt_from_the_log_even_past_a_moved_log_start() {
    let dir = tempfile::tempdir().unwrap();
    let (pid, epoch);
    {
        let n = open(dir.path());
        n.broker.create_topic("t", 1, Default::default()).unwrap();
        (pid, epoch) = n.txns.init_producer("r", 60_000, None).unwrap();
        // Offsets: 0-1 aborted + marker 2; 3 committed + marker 4; 5 open.
        for (seqs, end) in [
            (&[0, 1][..], Some(false)),
            (&[2][..], Some(true)),
            (&[3][..], None),
        ] {
            n.txns
                .add_partitions("r", pid, epoch, &[("t".into(), 0)])
                .unwrap();
            for &seq in seqs {
                produce(&n, "r", pid, epoch, seq).unwrap();
            }
            if let Some(commit) = end {
                n.txns.end("r", pid, epoch, commit).unwrap();
            }
        }
        let read = committed(&n);
        assert_eq!(read.last_stable, 5);
        assert_eq!(read.aborted.len(), 1);
        // Marked as holding transactions (else a restart would skip the scan);
        // a partition that never held one is not.
        let log_dir = dir.path().join("log");
        assert!(log_dir.join("t/0/has-transactions").exists());
        n.broker
            .create_topic("plain", 1, Default::default())
            .unwrap();
        let plain = n.broker.topic("plain").unwrap();
        let mut b = batch(pid + 100, 0, 0);
        b[22] &= !0x10;
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        n.producers
            .append(&plain, 0, crate::log::batch::Checked::new(&b).unwrap())
            .unwrap();
        assert!(!log_dir.join("plain/0/has-transactions").exists());
    }
    let n = open(dir.path());
    let read = committed(&n);
    assert_eq!(read.last_stable, 5, "the open transaction found in the log");
    assert_eq!(
        read.aborted,
        vec![crate::broker::txn::partition::AbortedTxn {
            producer_id: pid,
            first_offset: 0,
            last_offset: 2,
        }]
    );
    // Past the abort marker: it cannot be read any more, nor need it be.
    n.broker.delete_records("t", 0, 3).unwrap();
    drop(n);
    let n = open(dir.path());
    let topic = n.broker.topic("t").unwrap();
    let read = n.producers.read_committed(&topic, 0, 3, 1 << 20).unwrap();
    assert_eq!(read.last_stable, 5);
    assert!(read.aborted.is_empty());
}
