//! A chain whose global tables' rows are kept outside its task: attached mode keeps one
//! copy of each global table per node and pipeline, shared by every task there, where an
//! embedded task keeps its own under its tree.

use std::collections::BTreeMap;

use super::super::spec::{Node, SOURCE_SLOT_BASE, Wiring};
use super::super::table_cache::CachedState;
use super::sources::Read;
use super::{Chain, Runner};

impl Chain {
    /// Reads the global table sources whose state slots `rows` names (and the joins
    /// looking keys up in them) from those rows instead of the task's own store. Their
    /// owner keeps them up to date; the chain only reads them, since their topics are not
    /// among the records a task runs.
    pub fn share_global_rows(&mut self, rows: &BTreeMap<usize, CachedState>) {
        for (s, source) in self.sources.iter_mut().enumerate() {
            if let (Some(shared), Read::Table(_)) =
                (rows.get(&(SOURCE_SLOT_BASE + s)), &source.read)
            {
                source.read = Read::Table(shared.clone());
            }
        }
        for step in &mut self.steps {
            let (
                Wiring::Join {
                    right: Node::Source(s),
                    ..
                },
                Runner::Join(join),
            ) = (&step.wiring, &mut step.runner)
            else {
                continue;
            };
            if let Some(shared) = rows.get(&(SOURCE_SLOT_BASE + s)) {
                join.right = Some(shared.clone());
            }
        }
    }
}
