//! The decision graph: the one compiled form of a policy. Evaluation walks one path of it, and
//! the analyses (shadowed rules, gaps, overlaps) and pictures read it.
//!
//! Internal nodes test one dimension: an enum or bool field (one branch per variant), a string
//! field (one branch per string the rules mention, and one for any other string), an ordered
//! field (interval splits), the presence of a field, or a calendar (inside / outside working
//! time). Optional fields add an "absent" branch. Leaves are rule outcomes. Identical subgraphs
//! are shared (hash-consing), so the graph is a DAG.
//!
//! Construction follows first-match semantics exactly: a node holds the list of rules still
//! alive (their conditions simplified by the tests above it); when the first one's condition is
//! true, that rule wins. Field order heuristic: split on the dimension that the first live rule
//! tests and that the most live rules test (ties: schema order, calendars last). The first live
//! rule must be decided before anything else, so testing what it tests is never wasted, and the
//! dimension most rules share partitions the rest best.
//!
//! Past a node budget, construction stops and the policy compiles to an indexed first-match scan
//! instead ([`Compiled::Scan`]): same decisions, but analysis reports that it is incomplete.

pub mod analysis;
pub mod example;
pub mod flat;
pub mod render;

use crate::model::FieldType;
use crate::model::{
    Atom, Bound, CalendarId, Cond, EvalContext, FieldId, Lead, LeadValue, Policy, Scalar, in_range,
};
use std::collections::HashMap;

/// Index of a node in [`Graph::nodes`].
pub type NodeId = u32;

/// The default node budget: far above what realistic policies need (the 10,000-rule benchmark
/// policy needs about 37,000 nodes), far below what would make `check` slow.
pub const DEFAULT_NODE_BUDGET: usize = 500_000;

/// What a leaf decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// The index of the rule that matches first.
    Rule(usize),
    /// No rule matches.
    NoMatch,
}

/// One elementary interval of an ordered field (a graph node splits a field into these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interval {
    pub lo: Bound,
    pub hi: Bound,
}

/// A dimension a node tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    Field(FieldId),
    Calendar(CalendarId),
}

/// A node of the decision graph.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Node {
    Leaf(Outcome),
    /// An enum or bool field: one child per variant (bool: false, true).
    Variants {
        field: FieldId,
        absent: Option<NodeId>,
        by_variant: Vec<NodeId>,
    },
    /// A string field: the strings the rules mention, and any other string.
    Strings {
        field: FieldId,
        absent: Option<NodeId>,
        cases: Vec<(String, NodeId)>,
        other: NodeId,
    },
    /// An ordered field: contiguous regions in increasing order, covering every value.
    Ranges {
        field: FieldId,
        absent: Option<NodeId>,
        regions: Vec<(Interval, NodeId)>,
    },
    /// Whether a field is set.
    Presence {
        field: FieldId,
        absent: NodeId,
        present: NodeId,
    },
    /// Whether the lead's clock lies in a calendar's working time.
    Calendar {
        calendar: CalendarId,
        inside: NodeId,
        outside: NodeId,
    },
}

impl Node {
    /// Every child with the label of its edge, in display order.
    pub fn children(&self) -> Vec<NodeId> {
        match self {
            Node::Leaf(_) => Vec::new(),
            Node::Variants {
                absent, by_variant, ..
            } => absent.iter().chain(by_variant).copied().collect(),
            Node::Strings {
                absent,
                cases,
                other,
                ..
            } => absent
                .iter()
                .copied()
                .chain(cases.iter().map(|(_, c)| *c))
                .chain(std::iter::once(*other))
                .collect(),
            Node::Ranges {
                absent, regions, ..
            } => absent
                .iter()
                .copied()
                .chain(regions.iter().map(|(_, c)| *c))
                .collect(),
            Node::Presence {
                absent, present, ..
            } => vec![*absent, *present],
            Node::Calendar {
                inside, outside, ..
            } => vec![*inside, *outside],
        }
    }
}

/// A compiled decision graph.
#[derive(Debug, Clone)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub root: NodeId,
}

/// An indexed first-match scan: the fallback when the graph would exceed its budget. Rules are
/// bucketed by the value of the enum field most rules test, so a lead only tries the rules that
/// can match its value, in file order.
#[derive(Debug, Clone)]
pub struct Scan {
    pub index: Option<FieldId>,
    /// Candidate rules per variant of the index field, then one bucket for "absent".
    pub buckets: Vec<Vec<usize>>,
}

/// The compiled form of a policy.
#[derive(Debug, Clone)]
pub enum Compiled {
    /// The graph, and its layout for fast evaluation.
    Graph {
        graph: Graph,
        flat: flat::FlatGraph,
    },
    Scan {
        scan: Scan,
        budget: usize,
    },
}

/// Settings of compilation.
#[derive(Debug, Clone, Copy)]
pub struct CompileConfig {
    pub node_budget: usize,
}

impl Default for CompileConfig {
    fn default() -> CompileConfig {
        CompileConfig {
            node_budget: DEFAULT_NODE_BUDGET,
        }
    }
}

/// The budget was exceeded.
#[derive(Debug)]
pub(crate) struct OverBudget;

/// Compiles a policy's rules into a decision graph, or an indexed scan past the budget.
pub fn compile(policy: &Policy, config: &CompileConfig) -> Compiled {
    let conds: Vec<Cond> = policy.rules.iter().map(|rule| rule.cond.clone()).collect();
    match build(policy, &conds, config.node_budget) {
        Ok(graph) => {
            let flat = flat::FlatGraph::new(&graph);
            Compiled::Graph { graph, flat }
        }
        Err(OverBudget) => Compiled::Scan {
            scan: Scan::new(policy),
            budget: config.node_budget,
        },
    }
}

/// The nodes of a graph being built, hash-consed: an equal node is stored once, and a node whose
/// children are all one child is that child. The compiler and `diff`'s product graph both build
/// into one.
pub(crate) struct NodeTable {
    nodes: Vec<Node>,
    interned: HashMap<Node, NodeId>,
    budget: usize,
}

impl NodeTable {
    /// An empty table that refuses to hold more than `budget` nodes.
    pub(crate) fn new(budget: usize) -> NodeTable {
        NodeTable {
            nodes: Vec::new(),
            interned: HashMap::new(),
            budget,
        }
    }

    /// The id of `node`, stored if it is new.
    pub(crate) fn intern(&mut self, node: Node) -> Result<NodeId, OverBudget> {
        if let Some(id) = self.interned.get(&node) {
            return Ok(*id);
        }
        if self.nodes.len() >= self.budget {
            return Err(OverBudget);
        }
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
    memo: HashMap<Vec<(u32, Cond)>, NodeId>,
}

/// One branch of a split: how to decide atoms inside it.
#[derive(Debug, Clone)]
pub(crate) enum Choice {
    Absent,
    Variant(u32),
    Str(String),
    OtherString,
    Range(Scalar),
    Present,
    Inside(bool),
}

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
        self.memo.insert(live, id);
        Ok(id)
    }

    fn branch(
        &mut self,
        live: &[(u32, Cond)],
        dim: Dim,
        choice: &Choice,
    ) -> Result<NodeId, OverBudget> {
        let next: Vec<(u32, Cond)> = live
            .iter()
            .filter_map(|(index, cond)| {
                let simplified = cond.simplify(&mut |atom| decide(atom, dim, choice));
                (simplified != Cond::False).then_some((*index, simplified))
            })
            .collect();
        self.node(next)
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
        };
        split_field(&mut split, conds, field)
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

/// The compiler's side of [`FieldSplit`]: its builder and the rules live at the node.
struct CompilerSplit<'b, 'p> {
    builder: &'b mut Builder<'p>,
    live: &'b [(u32, Cond)],
}

impl FieldSplit for CompilerSplit<'_, '_> {
    fn policy(&self) -> &Policy {
        self.builder.policy
    }

    fn branch(&mut self, dim: Dim, choice: &Choice) -> Result<NodeId, OverBudget> {
        self.builder.branch(self.live, dim, choice)
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

/// The elementary regions of an ordered field with respect to every bound in `points`, each with
/// a representative value inside it. Empty regions are skipped. `conds` are the live conditions
/// (their discrete bounds are read again, inclusive, for the cuts).
pub(crate) fn elementary_regions<'c>(
    mut points: Vec<Scalar>,
    conds: impl IntoIterator<Item = &'c Cond>,
    field: FieldId,
    discrete: bool,
) -> Vec<(Interval, Scalar)> {
    let mut regions = Vec::new();
    if discrete {
        // All bounds are inclusive (see model::normalize_range): a region starts at every lower
        // bound and right after every upper bound.
        let mut cuts: Vec<i128> = Vec::new();
        for cond in conds {
            cond.for_each_atom(&mut |atom| {
                if let Atom::Range { field: f, lo, hi } = atom
                    && *f == field
                {
                    if let Bound::Inclusive(Scalar::Int(v)) = lo {
                        cuts.push(*v);
                    }
                    if let Bound::Inclusive(Scalar::Int(v)) = hi {
                        cuts.push(v.saturating_add(1));
                    }
                }
            });
        }
        cuts.sort_unstable();
        cuts.dedup();
        let mut lo = Bound::Unbounded;
        let mut lo_value: Option<i128> = None;
        for cut in cuts {
            let hi_value = cut.saturating_sub(1);
            if lo_value.is_none_or(|lo| lo <= hi_value) {
                let representative = lo_value.unwrap_or(hi_value);
                regions.push((
                    Interval {
                        lo,
                        hi: Bound::Inclusive(Scalar::Int(hi_value)),
                    },
                    Scalar::Int(representative),
                ));
            }
            lo = Bound::Inclusive(Scalar::Int(cut));
            lo_value = Some(cut);
        }
        let representative = lo_value.unwrap_or(0);
        regions.push((
            Interval {
                lo,
                hi: Bound::Unbounded,
            },
            Scalar::Int(representative),
        ));
        return regions;
    }
    points.sort();
    points.dedup();
    let floats: Vec<f64> = points.iter().map(|p| p.as_f64()).collect();
    let Some(first) = floats.first().copied() else {
        return vec![(
            Interval {
                lo: Bound::Unbounded,
                hi: Bound::Unbounded,
            },
            Scalar::Float(0.0),
        )];
    };
    regions.push((
        Interval {
            lo: Bound::Unbounded,
            hi: Bound::Exclusive(Scalar::Float(first)),
        },
        Scalar::Float(nice_below(first)),
    ));
    for (index, point) in floats.iter().copied().enumerate() {
        regions.push((
            Interval {
                lo: Bound::Inclusive(Scalar::Float(point)),
                hi: Bound::Inclusive(Scalar::Float(point)),
            },
            Scalar::Float(point),
        ));
        match floats.get(index + 1).copied() {
            Some(next) => {
                if let Some(inside) = nice_between(point, next) {
                    regions.push((
                        Interval {
                            lo: Bound::Exclusive(Scalar::Float(point)),
                            hi: Bound::Exclusive(Scalar::Float(next)),
                        },
                        Scalar::Float(inside),
                    ));
                }
            }
            None => regions.push((
                Interval {
                    lo: Bound::Exclusive(Scalar::Float(point)),
                    hi: Bound::Unbounded,
                },
                Scalar::Float(nice_above(point)),
            )),
        }
    }
    regions
}

/// A value below `point`, preferably a whole number (the examples people read use it).
fn nice_below(point: f64) -> f64 {
    let whole = point.ceil() - 1.0;
    if whole < point {
        whole
    } else {
        point.next_down()
    }
}

fn nice_above(point: f64) -> f64 {
    let whole = point.floor() + 1.0;
    if whole > point {
        whole
    } else {
        point.next_up()
    }
}

/// A value strictly between `low` and `high`, preferably whole; `None` if there is none.
fn nice_between(low: f64, high: f64) -> Option<f64> {
    let whole = low.floor() + 1.0;
    if whole > low && whole < high {
        return Some(whole);
    }
    let middle = low + (high - low) / 2.0;
    (middle > low && middle < high).then_some(middle)
}

impl Graph {
    /// The outcome for a lead, by walking one path.
    pub fn evaluate(&self, policy: &Policy, lead: &Lead, context: &EvalContext) -> Outcome {
        let mut id = self.root;
        loop {
            let Some(node) = self.nodes.get(id as usize) else {
                return Outcome::NoMatch;
            };
            let value = |field: &FieldId| lead.values.get(*field).and_then(Option::as_ref);
            id = match node {
                Node::Leaf(outcome) => return *outcome,
                Node::Variants {
                    field,
                    absent,
                    by_variant,
                } => match value(field) {
                    Some(LeadValue::Variant(v)) => match by_variant.get(*v as usize) {
                        Some(child) => *child,
                        None => return Outcome::NoMatch,
                    },
                    _ => match absent {
                        Some(absent) => *absent,
                        None => return Outcome::NoMatch,
                    },
                },
                Node::Strings {
                    field,
                    absent,
                    cases,
                    other,
                } => match value(field) {
                    Some(LeadValue::Str(text)) => {
                        match cases.binary_search_by(|(case, _)| case.as_str().cmp(text)) {
                            Ok(index) => cases[index].1,
                            Err(_) => *other,
                        }
                    }
                    _ => match absent {
                        Some(absent) => *absent,
                        None => return Outcome::NoMatch,
                    },
                },
                Node::Ranges {
                    field,
                    absent,
                    regions,
                } => match value(field) {
                    Some(LeadValue::Scalar(point)) => {
                        let index =
                            regions.partition_point(|(region, _)| above_interval(*point, region));
                        match regions.get(index) {
                            Some((_, child)) => *child,
                            None => return Outcome::NoMatch,
                        }
                    }
                    _ => match absent {
                        Some(absent) => *absent,
                        None => return Outcome::NoMatch,
                    },
                },
                Node::Presence {
                    field,
                    absent,
                    present,
                } => {
                    if value(field).is_some() {
                        *present
                    } else {
                        *absent
                    }
                }
                Node::Calendar {
                    calendar,
                    inside,
                    outside,
                } => {
                    let instant = policy.clock_of(lead, context);
                    if policy
                        .calendars
                        .get(*calendar)
                        .is_some_and(|c| c.contains(instant))
                    {
                        *inside
                    } else {
                        *outside
                    }
                }
            };
        }
    }

    /// How many nodes are reachable from the root (all of them, by construction; kept for stats).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
}

/// Whether `point` lies above the whole region.
fn above_interval(point: Scalar, region: &Interval) -> bool {
    match region.hi {
        Bound::Unbounded => false,
        Bound::Inclusive(hi) => point > hi,
        Bound::Exclusive(hi) => point >= hi,
    }
}

impl Scan {
    fn new(policy: &Policy) -> Scan {
        // Index on the enum field that the most rules constrain at their top level.
        let mut best: Option<(usize, FieldId)> = None;
        for (field, def) in policy.fields.iter().enumerate() {
            if !matches!(def.ty, FieldType::Enum(_) | FieldType::Bool) {
                continue;
            }
            let count = policy
                .rules
                .iter()
                .filter(|rule| top_level_variants(&rule.cond, field).is_some())
                .count();
            if count > 0 && best.is_none_or(|(best_count, _)| count > best_count) {
                best = Some((count, field));
            }
        }
        let Some((_, field)) = best else {
            return Scan {
                index: None,
                buckets: vec![(0..policy.rules.len()).collect()],
            };
        };
        let variants = match &policy.fields[field].ty {
            FieldType::Enum(variants) => variants.len(),
            _ => 2,
        };
        let mut buckets = vec![Vec::new(); variants + 1];
        for (index, rule) in policy.rules.iter().enumerate() {
            match top_level_variants(&rule.cond, field) {
                Some(allowed) => {
                    for variant in allowed {
                        if let Some(bucket) = buckets.get_mut(variant as usize) {
                            bucket.push(index);
                        }
                    }
                }
                None => {
                    for bucket in &mut buckets {
                        bucket.push(index);
                    }
                }
            }
        }
        Scan {
            index: Some(field),
            buckets,
        }
    }

    /// First-match over the candidate rules of the lead's bucket, in file order.
    pub fn evaluate(&self, policy: &Policy, lead: &Lead, context: &EvalContext) -> Outcome {
        let bucket = match self.index {
            None => self.buckets.first(),
            Some(field) => match lead.values.get(field).and_then(Option::as_ref) {
                Some(LeadValue::Variant(v)) => self.buckets.get(*v as usize),
                _ => self.buckets.last(),
            },
        };
        bucket
            .and_then(|candidates| {
                candidates.iter().copied().find(|&index| {
                    policy
                        .rules
                        .get(index)
                        .is_some_and(|rule| policy.holds(&rule.cond, lead, context))
                })
            })
            .map_or(Outcome::NoMatch, Outcome::Rule)
    }
}

/// The variants a condition allows for `field` when it requires one of them at its top level
/// (the condition is, or is a conjunction containing, a `OneOf` on the field).
fn top_level_variants(cond: &Cond, field: FieldId) -> Option<Vec<u32>> {
    match cond {
        Cond::Atom(Atom::OneOf { field: f, variants }) if *f == field => Some(variants.clone()),
        Cond::And(parts) => parts
            .iter()
            .find_map(|part| top_level_variants(part, field)),
        _ => None,
    }
}

impl Compiled {
    pub fn evaluate(&self, policy: &Policy, lead: &Lead, context: &EvalContext) -> Outcome {
        match self {
            Compiled::Graph { flat, .. } => flat.evaluate(policy, lead, context),
            Compiled::Scan { scan, .. } => scan.evaluate(policy, lead, context),
        }
    }
}

/// One test on the path a lead took through the graph, for explanations.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceStep {
    /// What was tested: a field name, or `inside CALENDAR`.
    pub test: String,
    /// The lead's value (absent when the lead has none).
    pub value: crate::model::ShownValue,
    /// The branch taken, as the picture labels it.
    pub branch: String,
}

impl Graph {
    /// The outcome for a lead and every test on the way, in order.
    pub fn trace(
        &self,
        policy: &Policy,
        lead: &Lead,
        context: &EvalContext,
    ) -> (Outcome, Vec<TraceStep>) {
        let mut steps = Vec::new();
        let mut id = self.root;
        loop {
            let Some(node) = self.nodes.get(id as usize) else {
                return (Outcome::NoMatch, steps);
            };
            if let Node::Leaf(outcome) = node {
                return (*outcome, steps);
            }
            let chosen = example::branches(node)
                .into_iter()
                .find(|(step, _)| step_matches(policy, step, lead, context));
            let Some((step, child)) = chosen else {
                return (Outcome::NoMatch, steps);
            };
            let (test, value) = describe_test(policy, &step, lead, context);
            steps.push(TraceStep {
                test,
                value,
                branch: render::step_label(policy, &step),
            });
            id = child;
        }
    }
}

/// Whether a lead takes the branch `step`.
pub(crate) fn step_matches(
    policy: &Policy,
    step: &example::Step,
    lead: &Lead,
    context: &EvalContext,
) -> bool {
    use example::Step;
    let value = |field: &FieldId| lead.values.get(*field).and_then(Option::as_ref);
    match step {
        Step::Absent(field) => value(field).is_none(),
        Step::Present(field) => value(field).is_some(),
        Step::Variant(field, variant) => {
            matches!(value(field), Some(LeadValue::Variant(v)) if v == variant)
        }
        Step::Str(field, text) => matches!(value(field), Some(LeadValue::Str(s)) if s == text),
        Step::OtherString(field, excluded) => {
            matches!(value(field), Some(LeadValue::Str(s)) if !excluded.contains(s))
        }
        Step::Range(field, region) => {
            matches!(value(field), Some(LeadValue::Scalar(point)) if in_range(*point, region.lo, region.hi))
        }
        Step::Inside(calendar, inside) => {
            let instant = policy.clock_of(lead, context);
            policy
                .calendars
                .get(*calendar)
                .is_some_and(|c| c.contains(instant))
                == *inside
        }
    }
}

/// The name of a test and the lead's value for it, for explanations.
fn describe_test(
    policy: &Policy,
    step: &example::Step,
    lead: &Lead,
    context: &EvalContext,
) -> (String, crate::model::ShownValue) {
    use example::Step;
    match step {
        Step::Inside(calendar, _) => {
            let name = policy
                .calendars
                .get(*calendar)
                .map_or("?", |c| c.name.as_str());
            let instant = policy.clock_of(lead, context);
            (
                format!("inside {name}"),
                crate::model::ShownValue::Time(crate::model::time::LocalTime::on(
                    instant,
                    policy.calendars.get(*calendar),
                )),
            )
        }
        Step::Absent(field)
        | Step::Present(field)
        | Step::Variant(field, _)
        | Step::Str(field, _)
        | Step::OtherString(field, _)
        | Step::Range(field, _) => {
            let name = policy
                .fields
                .get(*field)
                .map_or("?".to_string(), |f| f.name.clone());
            let value = match lead.values.get(*field).and_then(Option::as_ref) {
                None => crate::model::ShownValue::Absent,
                Some(value) => policy.shown(*field, value),
            };
            (name, value)
        }
    }
}
