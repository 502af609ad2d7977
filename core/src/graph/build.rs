//! The graph compiler: builds the first-match decision graph of a policy's rules into a
//! hash-consed node table, splitting on the dimension the field-order heuristic picks.

use super::candidates::{Candidates, Choice};
use super::intervals::elementary_regions;
use super::{Dim, Graph, Interval, Node, NodeId, Outcome, OverBudget};
use crate::model::FieldType;
use crate::model::{Atom, Bound, Cond, FieldId, Policy, Scalar, in_range};
use std::collections::HashMap;

/// The nodes of a graph being built, hash-consed: an equal node is stored once, and a node whose
/// children are all one child is that child. The compiler and `diff`'s product graph both build
/// into one.
pub(crate) struct NodeTable {
    nodes: Vec<Node>,
    interned: HashMap<Node, NodeId>,
    budget: usize,
    /// What the budget counts: every node, and every edge out of it (a node of 7,000 strings
    /// costs 7,001), so that the memory a graph takes is bounded, not only its node count.
    size: usize,
}

impl NodeTable {
    /// An empty table that refuses to hold more than `budget` nodes and edges.
    pub(crate) fn new(budget: usize) -> NodeTable {
        NodeTable {
            nodes: Vec::new(),
            interned: HashMap::new(),
            budget,
            size: 0,
        }
    }

    /// The id of `node`, stored if it is new.
    pub(crate) fn intern(&mut self, node: Node) -> Result<NodeId, OverBudget> {
        if let Some(id) = self.interned.get(&node) {
            return Ok(*id);
        }
        let cost = 1 + node.edge_count();
        if self.size + cost > self.budget {
            return Err(OverBudget);
        }
        self.size += cost;
        let id = NodeId::try_from(self.nodes.len()).map_err(|_| OverBudget)?;
        self.nodes.push(node.clone());
        self.interned.insert(node, id);
        Ok(id)
    }

    /// [`NodeTable::intern`], except that a node whose children are all the same is that child.
    pub(crate) fn join(&mut self, node: Node) -> Result<NodeId, OverBudget> {
        let children = node.children();
        if let Some(first) = children.first()
            && children.iter().all(|c| c == first)
        {
            return Ok(*first);
        }
        self.intern(node)
    }

    /// The graph whose root is `root`.
    pub(crate) fn into_graph(self, root: NodeId) -> Graph {
        Graph {
            nodes: self.nodes,
            root,
        }
    }
}

/// Builds the first-match decision graph of `conds` (leaf `Rule(i)` refers to `conds[i]`).
pub(crate) fn build(policy: &Policy, conds: &[Cond], budget: usize) -> Result<Graph, OverBudget> {
    let mut builder = Builder {
        policy,
        table: NodeTable::new(budget),
        memo: HashMap::new(),
        memo_entries: 0,
        memo_budget: budget.saturating_mul(MEMO_PER_BUDGET),
        atoms_decided: 0,
        atoms_budget: budget.saturating_mul(ATOMS_PER_BUDGET),
    };
    let required: Vec<bool> = policy.fields.iter().map(|f| !f.optional).collect();
    let live: Vec<(u32, Cond)> = conds
        .iter()
        .enumerate()
        .map(|(index, cond)| {
            let cond = cond.simplify(&mut |atom| match atom {
                Atom::Present(field) if required.get(*field).copied().unwrap_or(false) => {
                    Some(true)
                }
                _ => None,
            });
            (u32::try_from(index).unwrap_or(u32::MAX), cond)
        })
        .filter(|(_, cond)| *cond != Cond::False)
        .collect();
    let root = builder.node(live)?;
    Ok(builder.table.into_graph(root))
}

struct Builder<'p> {
    policy: &'p Policy,
    table: NodeTable,
    /// The live rules of every node built, to find a node built before: what the compiler
    /// holds besides the graph.
    memo: HashMap<Vec<(u32, Cond)>, NodeId>,
    /// How many live rules the memo holds, and the most it may: a policy whose nodes each keep
    /// thousands of rules live (7,000 string tests each under its own threshold) would fill
    /// memory long before its graph reaches the budget.
    memo_entries: usize,
    memo_budget: usize,
    /// How many atoms the branches have decided (the work of simplifying the live rules at
    /// every node), and the most they may: one `in { ... }` of 32,000 numbers made every one of
    /// its 64,000 branches simplify all 32,000 tests again, minutes of `check`.
    atoms_decided: usize,
    atoms_budget: usize,
}

/// The memo may hold this many live rules per unit of the node budget. Realistic policies and
/// the benchmarks' hostile shapes hold at most two (10,000 generated rules: 53,359 for a graph
/// of 30,735 nodes and edges); 7,474 rules of `country = "Cn" and deal_value >= n` held 4.7
/// million, about 700 MB, when the graph reached 500,000.
const MEMO_PER_BUDGET: usize = 4;

/// The atoms the branches may decide per unit of the node budget: 10 million at the default
/// budget, about a second of work at worst (branches that copy large conditions). The
/// benchmark's 10,000 generated rules decide 339,936 (34 a rule), the example policy 375, the
/// hostile shapes of `bench/hostile.sh` one per rule.
pub(crate) const ATOMS_PER_BUDGET: usize = 20;

impl Builder<'_> {
    fn node(&mut self, live: Vec<(u32, Cond)>) -> Result<NodeId, OverBudget> {
        let Some((first, first_cond)) = live.first() else {
            return self.table.intern(Node::Leaf(Outcome::NoMatch));
        };
        if *first_cond == Cond::True {
            return self
                .table
                .intern(Node::Leaf(Outcome::Rule(*first as usize)));
        }
        if let Some(id) = self.memo.get(&live) {
            return Ok(*id);
        }
        let dim = self.choose(&live);
        let id = match dim {
            Dim::Calendar(calendar) => {
                let inside = self.branch(&live, dim, &Choice::Inside(true))?;
                let outside = self.branch(&live, dim, &Choice::Inside(false))?;
                self.table.join(Node::Calendar {
                    calendar,
                    inside,
                    outside,
                })?
            }
            Dim::Field(field) => self.split_field(&live, field)?,
        };
        self.memo_entries += live.len();
        if self.memo_entries > self.memo_budget {
            return Err(OverBudget);
        }
        self.memo.insert(live, id);
        Ok(id)
    }

    fn branch(
        &mut self,
        live: &[(u32, Cond)],
        dim: Dim,
        choice: &Choice,
    ) -> Result<NodeId, OverBudget> {
        let mut decided = 0usize;
        let next: Vec<(u32, Cond)> = live
            .iter()
            .filter_map(|(index, cond)| {
                let simplified = cond.simplify(&mut |atom| {
                    decided += 1;
                    decide(atom, dim, choice)
                });
                (simplified != Cond::False).then_some((*index, simplified))
            })
            .collect();
        self.spend(decided)?;
        self.node(next)
    }

    /// Counts `decided` atoms against the budget.
    fn spend(&mut self, decided: usize) -> Result<(), OverBudget> {
        self.atoms_decided = self.atoms_decided.saturating_add(decided);
        if self.atoms_decided > self.atoms_budget {
            return Err(OverBudget);
        }
        Ok(())
    }

    /// Picks the dimension to test: one the first live rule tests, shared by the most live rules.
    fn choose(&self, live: &[(u32, Cond)]) -> Dim {
        choose_dim(
            live.first().map(|(_, cond)| cond),
            live.iter().take(4096).map(|(_, cond)| cond),
        )
    }

    fn split_field(&mut self, live: &[(u32, Cond)], field: FieldId) -> Result<NodeId, OverBudget> {
        let conds = live.iter().map(|(_, cond)| cond);
        let mut split = CompilerSplit {
            builder: self,
            live,
            candidates: Candidates::new(live.iter().map(|(_, cond)| cond), field),
        };
        split_field(&mut split, conds, field)
    }

    /// [`Builder::branch`] over the live rules at `positions` only (the others are known to be
    /// false in this branch).
    fn branch_among(
        &mut self,
        live: &[(u32, Cond)],
        positions: &[usize],
        dim: Dim,
        choice: &Choice,
    ) -> Result<NodeId, OverBudget> {
        let mut decided = 0usize;
        let next: Vec<(u32, Cond)> = positions
            .iter()
            .filter_map(|position| live.get(*position))
            .filter_map(|(index, cond)| {
                let simplified = cond.simplify(&mut |atom| {
                    decided += 1;
                    decide(atom, dim, choice)
                });
                (simplified != Cond::False).then_some((*index, simplified))
            })
            .collect();
        self.spend(decided)?;
        self.node(next)
    }
}

/// What splitting on a field needs from a graph builder: the policy, a child for one choice
/// (the builder restricts its live rules), and its node table. The compiler and `diff`'s product
/// graph both split fields with [`split_field`].
pub(crate) trait FieldSplit {
    fn policy(&self) -> &Policy;
    fn branch(&mut self, dim: Dim, choice: &Choice) -> Result<NodeId, OverBudget>;
    fn table(&mut self) -> &mut NodeTable;
}

/// The compiler's side of [`FieldSplit`]: its builder, the rules live at the node, and which of
/// them can hold in each branch.
struct CompilerSplit<'b, 'p> {
    builder: &'b mut Builder<'p>,
    live: &'b [(u32, Cond)],
    candidates: Candidates,
}

impl FieldSplit for CompilerSplit<'_, '_> {
    fn policy(&self) -> &Policy {
        self.builder.policy
    }

    fn branch(&mut self, dim: Dim, choice: &Choice) -> Result<NodeId, OverBudget> {
        let positions = self.candidates.for_choice(choice);
        self.builder
            .branch_among(self.live, &positions, dim, choice)
    }

    fn table(&mut self) -> &mut NodeTable {
        &mut self.builder.table
    }
}

/// Splits on one field: presence only, a child per variant, per string named (and the rest), or
/// per elementary interval of the bounds the rules use (neighbours with one child merged).
pub(crate) fn split_field<'c>(
    split: &mut impl FieldSplit,
    conds: impl Iterator<Item = &'c Cond> + Clone,
    field: FieldId,
) -> Result<NodeId, OverBudget> {
    let Some(def) = split.policy().fields.get(field) else {
        return split.table().intern(Node::Leaf(Outcome::NoMatch));
    };
    let ty = def.ty.clone();
    let optional = def.optional;
    let dim = Dim::Field(field);
    let mut only_presence = true;
    let mut strings: Vec<String> = Vec::new();
    let mut points: Vec<Scalar> = Vec::new();
    for cond in conds.clone() {
        cond.for_each_atom(&mut |atom| match atom {
            Atom::Present(f) if *f == field => {}
            Atom::StrIn { field: f, values } if *f == field => {
                only_presence = false;
                strings.extend(values.iter().cloned());
            }
            Atom::Range { field: f, lo, hi } if *f == field => {
                only_presence = false;
                for bound in [lo, hi] {
                    match bound {
                        Bound::Inclusive(v) | Bound::Exclusive(v) => points.push(*v),
                        Bound::Unbounded => {}
                    }
                }
            }
            Atom::OneOf { field: f, .. } if *f == field => only_presence = false,
            _ => {}
        });
    }
    let absent = if optional {
        Some(split.branch(dim, &Choice::Absent)?)
    } else {
        None
    };
    if only_presence {
        let present = split.branch(dim, &Choice::Present)?;
        return match absent {
            Some(absent) => split.table().join(Node::Presence {
                field,
                absent,
                present,
            }),
            None => Ok(present),
        };
    }
    match ty {
        FieldType::Enum(_) | FieldType::Bool => {
            let count = match &ty {
                FieldType::Enum(variants) => variants.len(),
                _ => 2,
            };
            let mut by_variant = Vec::with_capacity(count);
            for variant in 0..count {
                let variant = u32::try_from(variant).unwrap_or(u32::MAX);
                by_variant.push(split.branch(dim, &Choice::Variant(variant))?);
            }
            split.table().join(Node::Variants {
                field,
                absent,
                by_variant,
            })
        }
        FieldType::String => {
            strings.sort();
            strings.dedup();
            let mut cases = Vec::with_capacity(strings.len());
            for string in strings {
                let child = split.branch(dim, &Choice::Str(string.clone()))?;
                cases.push((string, child));
            }
            let other = split.branch(dim, &Choice::OtherString)?;
            split.table().join(Node::Strings {
                field,
                absent,
                cases,
                other,
            })
        }
        FieldType::Int | FieldType::Number | FieldType::Time => {
            let discrete = !matches!(ty, FieldType::Number);
            let mut regions: Vec<(Interval, NodeId)> = Vec::new();
            for (region, point) in elementary_regions(points, conds, field, discrete) {
                let child = split.branch(dim, &Choice::Range(point))?;
                match regions.last_mut() {
                    Some((last, last_child)) if *last_child == child => last.hi = region.hi,
                    _ => regions.push((region, child)),
                }
            }
            split.table().join(Node::Ranges {
                field,
                absent,
                regions,
            })
        }
    }
}

/// The field-order heuristic every graph builder shares (the compiler, and the product graph of
/// `diff`): among the dimensions the first undecided rule tests, the one the most of `rules`
/// test (callers pass at most a few thousand), ties to the smaller dimension (schema order,
/// calendars last). A rule that tests nothing gives `Calendar(0)`, which no caller splits on.
pub(crate) fn choose_dim<'a>(first: Option<&Cond>, rules: impl Iterator<Item = &'a Cond>) -> Dim {
    let mut candidates: Vec<Dim> = Vec::new();
    if let Some(cond) = first {
        cond.for_each_atom(&mut |atom| {
            let dim = dim_of(atom);
            if !candidates.contains(&dim) {
                candidates.push(dim);
            }
        });
    }
    if candidates.len() <= 1 {
        return candidates.first().copied().unwrap_or(Dim::Calendar(0));
    }
    let mut counts = vec![0usize; candidates.len()];
    for cond in rules {
        let mut seen = vec![false; candidates.len()];
        cond.for_each_atom(&mut |atom| {
            if let Some(position) = candidates.iter().position(|c| *c == dim_of(atom)) {
                seen[position] = true;
            }
        });
        for (count, hit) in counts.iter_mut().zip(seen) {
            *count += usize::from(hit);
        }
    }
    let mut best = 0;
    for index in 1..candidates.len() {
        let better = counts[index] > counts[best]
            || (counts[index] == counts[best] && candidates[index] < candidates[best]);
        if better {
            best = index;
        }
    }
    candidates[best]
}

pub(crate) fn dim_of(atom: &Atom) -> Dim {
    match atom.field() {
        Some(field) => Dim::Field(field),
        None => match atom {
            Atom::Inside(calendar) => Dim::Calendar(*calendar),
            _ => Dim::Calendar(0),
        },
    }
}

/// Decides an atom inside one branch of a split on `dim`; `None` for atoms on other dimensions.
pub(crate) fn decide(atom: &Atom, dim: Dim, choice: &Choice) -> Option<bool> {
    if dim_of(atom) != dim {
        return None;
    }
    let present = !matches!(choice, Choice::Absent);
    Some(match (atom, choice) {
        (Atom::Inside(_), Choice::Inside(inside)) => *inside,
        (Atom::Present(_), _) => present,
        (_, Choice::Absent) => false,
        (Atom::OneOf { variants, .. }, Choice::Variant(v)) => variants.binary_search(v).is_ok(),
        (Atom::StrIn { values, .. }, Choice::Str(s)) => values.binary_search(s).is_ok(),
        (Atom::StrIn { .. }, Choice::OtherString) => false,
        (Atom::Range { lo, hi, .. }, Choice::Range(point)) => in_range(*point, *lo, *hi),
        // Only presence atoms exist when the choice is `Present`.
        _ => return None,
    })
}
