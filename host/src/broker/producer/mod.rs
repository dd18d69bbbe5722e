//! Idempotent producers: ids and epochs, and per partition the sequence window
//! that turns retried batches into acknowledged duplicates.
//!
//! - [`window`]: one producer's last five batches on one partition, and the
//!   sequence check (append, duplicate, out of order, fenced).
//! - [`registry`]: every partition's producer windows, rebuilt from the log's
//!   tail on first use after a start, and the checked append; also each
//!   partition's transactions (`txn::partition`) and the `read_committed` read.
//! - [`epochs`]: the current epoch of each id, so a fenced instance cannot
//!   bump it.
//! - [`limits`]: how many producers a partition remembers, and for how long.
pub mod epochs;
pub mod limits;
pub mod registry;
pub mod window;

pub use epochs::EpochBump;
pub use limits::ProducerLimits;
pub use registry::{ActiveProducer, CommittedRead, IdempotentAppend, ProducerRegistry};
pub use window::{BatchSeq, SeqCheck, Window};
