//! The walk over the product graph that lists, per pair of different decisions, the regions of
//! leads it covers (each with an example), within a budget of graph steps.

use super::region::{self, Region};
use crate::graph::example::{self, Step, branches, paths_to, reachable_outcomes};
use crate::graph::{Graph, Node, NodeId, Outcome};
use crate::model::Policy;
use std::collections::{BTreeSet, HashMap};

/// How many paths per change are collected (and merged) before the regions are listed.
const COLLECT_PER_CHANGE: usize = 64;

/// How many graph steps the region walk may take before it falls back to one targeted search
/// per change.
const WALK_BUDGET: usize = 2_000_000;

/// Per pair: up to `limit` regions with examples, whether more exist, and whether any feasible
/// lead reaches the pair at all.
pub(super) fn enumerate(
    policy: &Policy,
    graph: &Graph,
    pairs: usize,
    limit: usize,
) -> Vec<(Vec<Region>, bool, bool)> {
    let reachable: BTreeSet<usize> = reachable_outcomes(policy, graph)
        .into_iter()
        .filter_map(|outcome| match outcome {
            Outcome::Rule(k) => Some(k),
            Outcome::NoMatch => None,
        })
        .collect();
    // Paths are collected beyond the limit, so that neighbouring ones can merge into the
    // regions shown.
    let limit = limit.max(1);
    let collect = limit.max(COLLECT_PER_CHANGE);
    let mut walk = Walk {
        policy,
        graph,
        below: vec![None; graph.nodes.len()],
        found: vec![Vec::new(); pairs],
        more: vec![false; pairs],
        limit: collect,
        budget: WALK_BUDGET,
        feasible: HashMap::new(),
        path: Vec::new(),
    };
    walk.visit(graph.root);
    let Walk { found, more, .. } = walk;
    found
        .into_iter()
        .zip(more)
        .enumerate()
        .map(|(k, (mut regions, mut more))| {
            let reached = reachable.contains(&k);
            if reached && regions.is_empty() {
                // The walk ran out of budget before this pair: search for it alone.
                let (paths, beyond) = paths_to(policy, graph, Outcome::Rule(k), collect);
                regions = paths
                    .iter()
                    .filter_map(|path| region(policy, path))
                    .collect();
                more = beyond;
            }
            let mut regions = region::merge_all(regions, policy);
            if regions.len() > limit {
                regions.truncate(limit);
                more = true;
            }
            (regions, more, reached)
        })
        .collect()
}

fn region(policy: &Policy, steps: &[Step]) -> Option<Region> {
    Region::from_path(policy, steps)
}

/// A depth-first walk over the product graph's feasible paths that collects regions per pair
/// and skips subgraphs whose pairs all have their regions (and are known to have more).
struct Walk<'a> {
    policy: &'a Policy,
    graph: &'a Graph,
    /// The pairs below each node, computed on demand.
    below: Vec<Option<Vec<usize>>>,
    found: Vec<Vec<Region>>,
    more: Vec<bool>,
    limit: usize,
    budget: usize,
    /// Feasibility of the time-related steps of a path (calendar tests with the clock).
    feasible: HashMap<String, bool>,
    path: Vec<Step>,
}

impl Walk<'_> {
    fn below(&mut self, id: NodeId) -> Vec<usize> {
        if let Some(Some(known)) = self.below.get(id as usize) {
            return known.clone();
        }
        let mut out: Vec<usize> = match self.graph.nodes.get(id as usize) {
            None | Some(Node::Leaf(Outcome::NoMatch)) => Vec::new(),
            Some(Node::Leaf(Outcome::Rule(k))) => vec![*k],
            Some(node) => {
                let children = node.children();
                let mut all = Vec::new();
                for child in children {
                    all.extend(self.below(child));
                }
                all
            }
        };
        out.sort_unstable();
        out.dedup();
        if let Some(slot) = self.below.get_mut(id as usize) {
            *slot = Some(out.clone());
        }
        out
    }

    fn done(&self, k: usize) -> bool {
        self.found.get(k).is_some_and(|f| f.len() >= self.limit)
            && self.more.get(k).copied().unwrap_or(true)
    }

    fn time_feasible(&mut self) -> bool {
        if self.policy.calendars.is_empty() {
            return true;
        }
        let clock = self.policy.clock;
        let relevant: Vec<Step> = self
            .path
            .iter()
            .filter(|step| match step {
                Step::Inside(..) => true,
                Step::Range(field, _) | Step::Absent(field) => Some(*field) == clock,
                _ => false,
            })
            .cloned()
            .collect();
        if !relevant.iter().any(|s| matches!(s, Step::Inside(..))) {
            return true;
        }
        let key = format!("{relevant:?}");
        if let Some(known) = self.feasible.get(&key) {
            return *known;
        }
        let policy = self.policy;
        let feasible = example::example(policy, &relevant, "feasible").is_some();
        self.feasible.insert(key, feasible);
        feasible
    }

    fn visit(&mut self, id: NodeId) {
        if self.budget == 0 {
            return;
        }
        self.budget -= 1;
        let Some(node) = self.graph.nodes.get(id as usize) else {
            return;
        };
        match node {
            Node::Leaf(Outcome::NoMatch) => {}
            Node::Leaf(Outcome::Rule(k)) => {
                let k = *k;
                if self.found[k].len() >= self.limit {
                    self.more[k] = true;
                } else if let Some(region) = region(self.policy, &self.path) {
                    self.found[k].push(region);
                }
            }
            node => {
                for (step, child) in branches(node) {
                    let wanted = self.below(child);
                    if wanted.iter().all(|k| self.done(*k)) {
                        continue;
                    }
                    let timed = matches!(step, Step::Inside(..))
                        || matches!(step, Step::Range(f, _) | Step::Absent(f) if Some(f) == self.policy.clock);
                    self.path.push(step);
                    if !timed || self.time_feasible() {
                        self.visit(child);
                    }
                    self.path.pop();
                }
            }
        }
    }
}
