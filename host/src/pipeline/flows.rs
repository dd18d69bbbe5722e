//! [`Flows`]: what each node of a task's step graph produced from one input batch, held
//! until the last step reading it takes it (so a linear chain moves its records from
//! step to step without copying, and only a node read twice is cloned). The input batch
//! itself is borrowed from the task's round: a step that only reads its records (a join
//! looking them up, a Wasm call copying them into the guest) never copies them.

use std::borrow::Cow;

use bytes::Bytes;

use crate::log::batch::Record;
use crate::streams::Side;

use super::spec::{Graph, Node, Wiring};

/// Records a node produced, each with the index of the input record it came from.
#[derive(Debug, Default, Clone)]
pub struct Flow<'a> {
    /// The records: the input batch's own (borrowed) or a step's (owned).
    pub records: Cow<'a, [Record]>,
    /// Per record, the input record it came from.
    pub sources: Vec<usize>,
    /// A table's changelog read by a `group_by`: per record, the row's value before it
    /// (`None`: it had none). Empty for every other flow.
    pub old_values: Vec<Option<Bytes>>,
}

impl<'a> Flow<'a> {
    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// A join's input: both sides' records in input order (stable: left first on a tie),
    /// with the side of each. A batch reads one topic, so unless both sides come from
    /// it one side is empty, and the other passes as it is when already in input order.
    pub fn merge(left: Flow<'a>, right: Flow<'a>) -> (Flow<'a>, Vec<Side>) {
        if right.is_empty() && left.sources.is_sorted() {
            let sides = vec![Side::Left; left.records.len()];
            return (left, sides);
        }
        if left.is_empty() && right.sources.is_sorted() {
            let sides = vec![Side::Right; right.records.len()];
            return (right, sides);
        }
        let mut all: Vec<(usize, Side, Record)> = left
            .sources
            .into_iter()
            .zip(left.records.into_owned())
            .map(|(s, r)| (s, Side::Left, r))
            .chain(
                right
                    .sources
                    .into_iter()
                    .zip(right.records.into_owned())
                    .map(|(s, r)| (s, Side::Right, r)),
            )
            .collect();
        all.sort_by_key(|(s, _, _)| *s);
        let mut records = Vec::with_capacity(all.len());
        let mut sources = Vec::with_capacity(all.len());
        let mut sides = Vec::with_capacity(all.len());
        for (s, side, r) in all {
            sources.push(s);
            records.push(r);
            sides.push(side);
        }
        let flow = Flow {
            records: Cow::Owned(records),
            sources,
            old_values: Vec::new(),
        };
        (flow, sides)
    }
}

/// The flows of one batch, by node: `inputs`, then the sources, then the steps.
#[derive(Debug)]
pub struct Flows<'a> {
    flows: Vec<Option<Flow<'a>>>,
    /// Per node, how many steps read it and have not taken it yet.
    readers: Vec<usize>,
    sources: usize,
}

/// Per node (in [`Flows`]' order), how many steps read it.
pub fn readers(graph: &Graph) -> Vec<usize> {
    let mut n = vec![0; 1 + graph.sources.len() + graph.wiring.len()];
    let sources = graph.sources.len();
    for w in &graph.wiring {
        match *w {
            Wiring::From(node) => n[index(sources, node)] += 1,
            Wiring::Join { left, right, .. } => {
                n[index(sources, left)] += 1;
                n[index(sources, right)] += 1;
            }
        }
    }
    n
}

fn index(sources: usize, node: Node) -> usize {
    match node {
        Node::Inputs => 0,
        Node::Source(s) => 1 + s,
        Node::Step(j) => 1 + sources + j,
    }
}

impl<'a> Flows<'a> {
    /// Empty flows for a graph whose nodes have `readers` readers each.
    pub fn new(readers: &[usize], sources: usize) -> Flows<'a> {
        Flows {
            flows: vec![None; readers.len()],
            readers: readers.to_vec(),
            sources,
        }
    }

    /// Whether a step still reads `node`.
    pub fn wanted(&self, node: Node) -> bool {
        self.readers[index(self.sources, node)] > 0
    }

    /// Sets what `node` produced.
    pub fn put(&mut self, node: Node, flow: Flow<'a>) {
        let i = index(self.sources, node);
        if self.readers[i] > 0 && !flow.is_empty() {
            self.flows[i] = Some(flow);
        }
    }

    /// What `node` produced, for one of its readers: moved out to the last one.
    pub fn take(&mut self, node: Node) -> Flow<'a> {
        let i = index(self.sources, node);
        self.readers[i] = self.readers[i].saturating_sub(1);
        if self.readers[i] == 0 {
            self.flows[i].take().unwrap_or_default()
        } else {
            self.flows[i].clone().unwrap_or_default()
        }
    }
}
