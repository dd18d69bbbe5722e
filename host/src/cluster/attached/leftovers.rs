//! [`Leftovers`]: a deleted pipeline's cache trees removed from the node's disk, once
//! every runner of it here has stopped (a runner mid-round still writes its tree).
//!
//! A pipeline's runners are counted per incarnation (its handle): deletion marks the
//! incarnation, and the last of its runners to stop removes the trees — unless another
//! incarnation of the same name runs here by then (created again), whose trees they now
//! are. A pipeline deleted while the node was down is removed from the node's store when
//! the catalog is applied at start, with no runner: its trees go at once. A node that
//! stops keeps its trees: they are read again under a mark that proves itself.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::pipeline::handle::PipelineHandle;

/// The pipelines' runners alive on this node, and the deleted ones awaiting their stop.
#[derive(Default)]
pub struct Leftovers(Mutex<Runners>);

#[derive(Default)]
struct Runners {
    /// Per incarnation (its handle's address): the pipeline's name and its runners alive.
    live: BTreeMap<usize, (String, usize)>,
    /// Incarnations deleted while runners of them were alive.
    deleted: BTreeSet<usize>,
}

/// A pipeline's incarnation on this node: its handle's address (unique while any runner
/// holds the handle), and its name.
pub fn incarnation(handle: &Arc<PipelineHandle>) -> (usize, &str) {
    (Arc::as_ptr(handle) as usize, &handle.name)
}

impl Leftovers {
    /// A runner of incarnation `(me, pipeline)` starts.
    pub fn started(&self, (me, pipeline): (usize, &str)) {
        self.0
            .lock()
            .live
            .entry(me)
            .or_insert_with(|| (pipeline.to_string(), 0))
            .1 += 1;
    }

    /// A runner of incarnation `(me, pipeline)` stopped: the last one of a deleted
    /// incarnation removes its trees from `db`.
    pub fn stopped(&self, db: &sled::Db, (me, pipeline): (usize, &str)) {
        let mut runners = self.0.lock();
        let Some(entry) = runners.live.get_mut(&me) else {
            return;
        };
        entry.1 = entry.1.saturating_sub(1);
        if entry.1 > 0 {
            return;
        }
        runners.live.remove(&me);
        if runners.deleted.remove(&me) && !runners.runs(pipeline) {
            // Under the lock: a new incarnation's runners wait to start until it is done.
            remove_trees(db, pipeline);
        }
    }

    /// `pipeline` was deleted (its incarnation `me`, if it ran here, told to stop): its
    /// trees go now if none of its runners is alive, else when the last stops.
    pub fn deleted(&self, db: &sled::Db, pipeline: &str, me: Option<usize>) {
        let mut runners = self.0.lock();
        if let Some(me) = me
            && runners.live.contains_key(&me)
        {
            runners.deleted.insert(me);
            return;
        }
        if !runners.runs(pipeline) {
            remove_trees(db, pipeline);
        }
    }
}

impl Runners {
    /// Whether a runner of an incarnation named `pipeline` is alive.
    fn runs(&self, pipeline: &str) -> bool {
        self.live
            .values()
            .any(|(name, n)| name == pipeline && *n > 0)
    }
}

/// Removes `pipeline`'s cache trees (`<pipeline>/<partition>` and `<pipeline>/global`,
/// with any stage suffix) and
/// flushes, logging what fails: the trees are a cache, and a mark that does not prove
/// itself makes a later one of the same name restore in full anyway.
fn remove_trees(db: &sled::Db, pipeline: &str) {
    let mut removed = 0;
    for name in db.tree_names() {
        if !is_tree_of(&name, pipeline) {
            continue;
        }
        match db.drop_tree(&name) {
            Ok(_) => removed += 1,
            Err(e) => tracing::warn!(pipeline, "removing a deleted pipeline's cache tree: {e}"),
        }
    }
    if let Err(e) = db.flush() {
        tracing::warn!(pipeline, "flushing the state cache: {e}");
    }
    tracing::info!(
        pipeline,
        trees = removed,
        "deleted pipeline's cache removed"
    );
}

/// Whether tree `name` is one of `pipeline`'s: `<pipeline>/<partition>[/<stage suffix>]`.
/// Pipeline names hold no `/`, so no other pipeline's tree starts the same way.
fn is_tree_of(name: &[u8], pipeline: &str) -> bool {
    let Some(rest) = name
        .strip_prefix(pipeline.as_bytes())
        .and_then(|r| r.strip_prefix(b"/"))
    else {
        return false;
    };
    let partition = rest.split(|b| *b == b'/').next().unwrap_or_default();
    // A task's tree, or the node's copy of the global tables (`global.rs`).
    partition == b"global" || !partition.is_empty() && partition.iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_pipelines_own_trees_are_removed() {
        assert!(is_tree_of(b"p/0", "p"));
        assert!(is_tree_of(b"p/12/after-group-by", "p"));
        assert!(is_tree_of(b"p/global", "p"));
        assert!(is_tree_of(b"p/global/after-group-by", "p"));
        assert!(!is_tree_of(b"p/globalx", "p"));
        assert!(!is_tree_of(b"p-x/0", "p"), "another pipeline");
        assert!(!is_tree_of(b"p/", "p"));
        assert!(!is_tree_of(b"__sled__default", "p"));
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        for t in ["p/0", "p/1/after-group-by", "p.x/0", "q/0"] {
            db.open_tree(t).unwrap().insert(b"k", b"v").unwrap();
        }
        let mut left: Vec<String> = Vec::new();
        let names = |db: &sled::Db| -> Vec<String> {
            let mut v: Vec<String> = db
                .tree_names()
                .iter()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .filter(|n| !n.starts_with("__"))
                .collect();
            v.sort();
            v
        };
        // Deleted while a runner is alive: nothing goes until it stops.
        let leftovers = Leftovers::default();
        leftovers.started((1, "p"));
        leftovers.started((1, "p"));
        leftovers.deleted(&db, "p", Some(1));
        leftovers.stopped(&db, (1, "p"));
        assert_eq!(names(&db), ["p.x/0", "p/0", "p/1/after-group-by", "q/0"]);
        leftovers.stopped(&db, (1, "p"));
        left.extend(names(&db));
        assert_eq!(left, ["p.x/0", "q/0"]);
        // Deleted with no runner (gone while the node was down): at once; but not while
        // another incarnation of the name runs (created again).
        leftovers.started((2, "q"));
        leftovers.deleted(&db, "q", Some(3));
        assert_eq!(names(&db), ["p.x/0", "q/0"]);
        leftovers.stopped(&db, (2, "q"));
        leftovers.deleted(&db, "q", None);
        assert_eq!(names(&db), ["p.x/0"]);
    }
}
