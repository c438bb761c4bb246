//! The transaction dependency graph, and cycle search with Adya's classification.
//!
//! Nodes are committed (or possibly committed) transactions; edges are labelled ww
//! (write-write: T2 overwrote/extended T1's version), wr (T2 read T1's version) and rw
//! (anti-dependency: T1 read a version that T2 then extended). A pair may carry several labels.
//!
//! Classification, per strongly connected component:
//! - G0: a cycle of ww edges only;
//! - G1c: a cycle of ww and wr edges with at least one wr;
//! - G-single: a cycle with exactly one rw edge (the rest ww/wr);
//! - G2-item: a cycle with two or more rw edges.
//!
//! Rather than enumerating cycles (exponential), the search first computes strongly connected
//! components three times: on ww edges, on ww+wr edges, and on all edges. A ww component larger
//! than one node holds a G0 cycle. A pure wr edge a->b inside a ww+wr component closes a G1c
//! cycle (b reaches a by ww/wr). A pure rw edge a->b inside a full component closes a G-single
//! cycle if b reaches a by ww/wr edges alone (a breadth-first search, per rw edge), and a
//! G2-item cycle otherwise: then every way back takes another rw edge, and the shortest one is
//! a simple cycle. "Pure" means the pair carries no stronger label: a pair that is both ww and
//! rw is treated as ww, so its cycles are reported as the stronger class. One example cycle
//! (found by breadth-first search, so short) is reported per class per component.
//!
//! Limitations: a component in which every rw edge closes a G-single cycle is not also searched
//! for a G2-item cycle (the violation is reported; the allowed anomaly may go unmentioned). The
//! per-rw-edge searches of one component share a budget ([`SEARCH_BUDGET`] node visits); in a
//! huge tangled component, a G-single cycle found only past the budget is missed, though such a
//! history is bound to show other violations.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use super::history::{Key, OpId};
use super::report::{Anomaly, AnomalyKind};

/// Kind of a dependency edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dep {
    WW,
    WR,
    RW,
}

impl Dep {
    fn bit(self) -> u8 {
        match self {
            Dep::WW => 1,
            Dep::WR => 2,
            Dep::RW => 4,
        }
    }
}

const WW: u8 = 1;
const WR: u8 = 2;
const RW: u8 = 4;

/// Nodes a component's G-single/G2-item search may visit in all, so that a huge tangled
/// component in a badly broken history cannot stall the checker.
const SEARCH_BUDGET: usize = 5_000_000;

/// Labels on one ordered pair of transactions, with a key that justifies each.
#[derive(Clone, Copy, Debug, Default)]
struct Label {
    mask: u8,
    keys: [Key; 3],
}

/// The dependency graph between transactions.
#[derive(Debug, Default)]
pub struct Graph {
    ids: Vec<OpId>,
    index: HashMap<OpId, usize>,
    edges: HashMap<(usize, usize), Label>,
    out: Vec<Vec<usize>>,
}

impl Graph {
    pub fn new() -> Self {
        Self::default()
    }

    fn node(&mut self, id: OpId) -> usize {
        if let Some(&i) = self.index.get(&id) {
            return i;
        }
        self.ids.push(id);
        self.out.push(Vec::new());
        self.index.insert(id, self.ids.len() - 1);
        self.ids.len() - 1
    }

    /// Adds `from -dep-> to`, justified by `key`. Self edges mean nothing and are dropped.
    pub fn add(&mut self, from: OpId, to: OpId, dep: Dep, key: Key) {
        if from == to {
            return;
        }
        let (a, b) = (self.node(from), self.node(to));
        let label = self.edges.entry((a, b)).or_insert_with(|| {
            self.out[a].push(b);
            Label::default()
        });
        if label.mask & dep.bit() == 0 {
            label.mask |= dep.bit();
            label.keys[dep.bit().trailing_zeros() as usize] = key;
        }
    }

    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// Out-neighbours over pairs carrying any label in `mask`.
    fn adjacency(&self, mask: u8) -> Vec<Vec<usize>> {
        self.out
            .iter()
            .enumerate()
            .map(|(a, outs)| {
                outs.iter()
                    .copied()
                    .filter(|&b| self.edges[&(a, b)].mask & mask != 0)
                    .collect()
            })
            .collect()
    }

    /// Every cycle class found, one example per class per component.
    pub fn anomalies(&self) -> Vec<Anomaly> {
        let mut found = Vec::new();
        let adj_ww = self.adjacency(WW);
        let adj_g1 = self.adjacency(WW | WR);
        let adj_all = self.adjacency(WW | WR | RW);
        let comp_ww = components(&adj_ww);
        let comp_g1 = components(&adj_g1);
        let comp_all = components(&adj_all);

        // G0: any ww component with two or more nodes.
        let mut seen = HashSet::new();
        for (&(a, b), l) in self.sorted_edges() {
            if l.mask & WW != 0 && comp_ww[a] == comp_ww[b] && seen.insert(comp_ww[a]) {
                found.push(self.cycle(AnomalyKind::G0, a, b, WW, &adj_ww, WW, &comp_all));
            }
        }
        // G1c: a pure wr edge inside a ww+wr component (its ends reach each other that way).
        let mut seen_g1c = HashSet::new();
        for (&(a, b), l) in self.sorted_edges() {
            let pure_wr = l.mask & WR != 0 && l.mask & WW == 0;
            if pure_wr && comp_g1[a] == comp_g1[b] && seen_g1c.insert(comp_g1[a]) {
                found.push(self.cycle(AnomalyKind::G1c, a, b, WR, &adj_g1, WW | WR, &comp_all));
            }
        }
        // G-single and G2-item: a pure rw edge a->b inside a component closes a G-single cycle
        // if b reaches a by ww/wr edges alone, and a G2-item cycle otherwise (every way back
        // then takes another rw edge). Reachability needs a search per rw edge, so each
        // component stops at its first example of each, or when its search budget runs out.
        let mut rw_by_comp: BTreeMap<usize, Vec<(usize, usize)>> = BTreeMap::new();
        for (&(a, b), l) in self.sorted_edges() {
            if l.mask == RW && comp_all[a] == comp_all[b] {
                rw_by_comp.entry(comp_all[a]).or_default().push((a, b));
            }
        }
        for edges in rw_by_comp.values() {
            let (mut single, mut g2, mut budget) = (false, false, SEARCH_BUDGET);
            for &(a, b) in edges {
                if (single && g2) || budget == 0 {
                    break;
                }
                match shortest_path(&adj_g1, b, a, &comp_all, &mut budget) {
                    Some(path) if !single => {
                        single = true;
                        found.push(self.cycle_from(AnomalyKind::GSingle, a, b, RW, &path, WW | WR));
                    }
                    None if !g2 && budget > 0 => {
                        g2 = true;
                        found.push(self.cycle(AnomalyKind::G2Item, a, b, RW, &adj_all, WW | WR | RW, &comp_all));
                    }
                    _ => {}
                }
            }
        }
        found
    }

    /// Edges in a fixed order, so reports are reproducible.
    fn sorted_edges(&self) -> Vec<(&(usize, usize), &Label)> {
        let mut v: Vec<_> = self.edges.iter().collect();
        v.sort_by_key(|(&(a, b), _)| (self.ids[a], self.ids[b]));
        v
    }

    /// The cycle closed by edge `a -first-> b` and the shortest way back from `b` to `a`.
    #[allow(clippy::too_many_arguments)]
    fn cycle(
        &self,
        kind: AnomalyKind,
        a: usize,
        b: usize,
        first: u8,
        adj: &[Vec<usize>],
        back: u8,
        comp: &[usize],
    ) -> Anomaly {
        let mut unlimited = usize::MAX;
        let path = shortest_path(adj, b, a, comp, &mut unlimited).expect("ends share a component, so b reaches a");
        self.cycle_from(kind, a, b, first, &path, back)
    }

    /// Describes the cycle `a -first-> b`, then `path` (from `b` back to `a`).
    fn cycle_from(&self, kind: AnomalyKind, a: usize, b: usize, first: u8, path: &[usize], back: u8) -> Anomaly {
        let mut text = format!("T{}", self.ids[a]);
        text.push_str(&self.step(a, b, first));
        for w in path.windows(2) {
            text.push_str(&self.step(w[0], w[1], back));
        }
        let ops = std::iter::once(a)
            .chain(path.iter().copied().take(path.len() - 1))
            .map(|i| self.ids[i])
            .collect();
        Anomaly::new(kind, ops, format!("cycle {text}"))
    }

    /// ` -ww(k3)-> T7`: the strongest label of the pair among those allowed.
    fn step(&self, a: usize, b: usize, allowed: u8) -> String {
        let l = self.edges[&(a, b)];
        let m = l.mask & allowed;
        let (name, slot) = if m & WW != 0 {
            ("ww", 0)
        } else if m & WR != 0 {
            ("wr", 1)
        } else {
            ("rw", 2)
        };
        format!(" -{name}(k{})-> T{}", l.keys[slot], self.ids[b])
    }
}

/// Strongly connected components (Tarjan, iterative so long chains cannot overflow the
/// stack): returns a component number per node.
fn components(adj: &[Vec<usize>]) -> Vec<usize> {
    const UNSEEN: usize = usize::MAX;
    let n = adj.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut comp = vec![UNSEEN; n];
    let mut stack = Vec::new();
    let (mut next_index, mut next_comp) = (0, 0);
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        // Call stack of (node, position in its adjacency list).
        let mut calls = vec![(root, 0)];
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut pos)) = calls.last_mut() {
            if let Some(&w) = adj[v].get(*pos) {
                *pos += 1;
                if index[w] == UNSEEN {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    calls.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                loop {
                    let w = stack.pop().expect("v is on the stack");
                    on_stack[w] = false;
                    comp[w] = next_comp;
                    if w == v {
                        break;
                    }
                }
                next_comp += 1;
            }
        }
    }
    comp
}

/// Breadth-first path from `from` to `to` (both included), staying inside `from`'s component
/// (a cycle never leaves it). Each node visited costs one unit of `budget`; None when `to` is
/// unreachable or the budget ran out.
fn shortest_path(adj: &[Vec<usize>], from: usize, to: usize, comp: &[usize], budget: &mut usize) -> Option<Vec<usize>> {
    let mut prev: HashMap<usize, usize> = HashMap::from([(from, from)]);
    let mut queue = VecDeque::from([from]);
    while let Some(v) = queue.pop_front() {
        if *budget == 0 {
            return None;
        }
        *budget -= 1;
        if v == to {
            let mut path = vec![to];
            let mut cur = to;
            while cur != from {
                cur = prev[&cur];
                path.push(cur);
            }
            path.reverse();
            return Some(path);
        }
        for &w in &adj[v] {
            if comp[w] == comp[from] && !prev.contains_key(&w) {
                prev.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    None
}
