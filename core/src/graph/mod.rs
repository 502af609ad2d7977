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
mod build;
mod candidates;
mod eval;
pub mod example;
pub mod flat;
mod intervals;
pub mod render;
mod scan;

pub(crate) use build::{FieldSplit, NodeTable, build, choose_dim, decide, split_field};
pub(crate) use candidates::Choice;

use crate::model::{Bound, CalendarId, Cond, FieldId, Policy};

/// Index of a node in [`Graph::nodes`].
pub type NodeId = u32;

/// The default node budget, counted in nodes and their edges: far above what realistic
/// policies need (the 10,000-rule benchmark policy needs 30,735), far below what would make
/// `check` slow or take much memory (the compiler's own memory is held to four times it).
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

/// One test on a lead's path through the graph, as a ledger keeps it: the field tested with the
/// lead's value (none when absent), or the calendar with whether the lead's clock was inside.
#[derive(Debug, Clone, PartialEq)]
pub enum PathStep {
    Field {
        field: FieldId,
        value: Option<crate::model::LeadValue>,
    },
    Calendar {
        calendar: CalendarId,
        inside: bool,
    },
}

impl PathStep {
    /// The step as people read it: the field's name and the lead's value (`inside C` and
    /// whether it was).
    pub fn describe(&self, policy: &Policy) -> TraceStep {
        match self {
            PathStep::Field { field, value } => TraceStep {
                test: policy
                    .fields
                    .get(*field)
                    .map_or_else(|| format!("field #{field}"), |f| f.name.clone()),
                value: value
                    .as_ref()
                    .map_or(crate::model::ShownValue::Absent, |value| {
                        policy.shown(*field, value)
                    }),
                branch: String::new(),
            },
            PathStep::Calendar { calendar, inside } => TraceStep {
                test: policy.calendars.get(*calendar).map_or_else(
                    || format!("inside calendar #{calendar}"),
                    |c| format!("inside {}", c.name),
                ),
                value: crate::model::ShownValue::Bool(*inside),
                branch: String::new(),
            },
        }
    }
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

    /// How many edges leave this node (what [`Node::children`] would list), without listing
    /// them.
    pub fn edge_count(&self) -> usize {
        match self {
            Node::Leaf(_) => 0,
            Node::Variants {
                absent, by_variant, ..
            } => usize::from(absent.is_some()) + by_variant.len(),
            Node::Strings { absent, cases, .. } => usize::from(absent.is_some()) + cases.len() + 1,
            Node::Ranges {
                absent, regions, ..
            } => usize::from(absent.is_some()) + regions.len(),
            Node::Presence { .. } | Node::Calendar { .. } => 2,
        }
    }
}

/// A compiled decision graph.
#[derive(Debug, Clone)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub root: NodeId,
}

impl Graph {
    /// How many nodes are reachable from the root (all of them, by construction; kept for stats).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
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
