//! The product of two decision graphs: one graph over the common lead space whose leaves say
//! what OLD and NEW decide together. It is built the way the decision graph is (see
//! `graph/mod.rs`), on two rule lists at once: a node holds the rules still alive on each side,
//! their conditions simplified by the tests above it, and splits on a dimension the first
//! undecided side tests, into the elementary regions of both sides' atoms. So every path is a
//! region of leads on which both policies are constant.
//!
//! Leaves: `Outcome::NoMatch` where both sides decide the same (the same rule label with the same
//! routing, or no rule on both), `Outcome::Rule(k)` for the k-th pair of different decisions.
//! Where both live lists are equal, every lead below gets the same decision, so construction
//! stops there: the graph only grows where the policies differ.

use crate::graph::Outcome;
use crate::graph::{Choice, Dim, Graph, Node, NodeId, NodeTable, OverBudget, decide};
use crate::model::{Cond, FieldId, Policy};
use std::collections::HashMap;

/// A side's live rules: (verdict id, condition still to decide).
pub(crate) type Live = Vec<(u32, Cond)>;

/// What one side decides at a leaf: a verdict id, or `None` when no rule matches.
pub(crate) type Decided = Option<u32>;

/// The product graph and its pairs of different decisions.
#[derive(Debug, Clone)]
pub(crate) struct Product {
    pub graph: Graph,
    /// `(old, new)` for each `Outcome::Rule(k)` leaf.
    pub pairs: Vec<(Decided, Decided)>,
}

pub(crate) fn build(
    policy: &Policy,
    old: Live,
    new: Live,
    budget: usize,
) -> Result<Product, OverBudget> {
    let mut builder = Builder {
        policy,
        table: NodeTable::new(budget),
        memo: HashMap::new(),
        pairs: Vec::new(),
        pair_ids: HashMap::new(),
    };
    let root = builder.node(old, new)?;
    Ok(Product {
        graph: builder.table.into_graph(root),
        pairs: builder.pairs,
    })
}

struct Builder<'p> {
    policy: &'p Policy,
    table: NodeTable,
    memo: HashMap<(Live, Live), NodeId>,
    pairs: Vec<(Decided, Decided)>,
    pair_ids: HashMap<(Decided, Decided), usize>,
}

/// The side's decision when it is made: its first live rule holds, or no rule is left.
fn decided(live: &Live) -> Option<Decided> {
    match live.first() {
        None => Some(None),
        Some((verdict, Cond::True)) => Some(Some(*verdict)),
        Some(_) => None,
    }
}

impl Builder<'_> {
    fn leaf(&mut self, old: Decided, new: Decided) -> Result<NodeId, OverBudget> {
        if old == new {
            return self.table.intern(Node::Leaf(Outcome::NoMatch));
        }
        let next = self.pairs.len();
        let id = *self.pair_ids.entry((old, new)).or_insert(next);
        if id == next {
            self.pairs.push((old, new));
        }
        self.table.intern(Node::Leaf(Outcome::Rule(id)))
    }

    fn node(&mut self, old: Live, new: Live) -> Result<NodeId, OverBudget> {
        let (old_decided, new_decided) = (decided(&old), decided(&new));
        if let (Some(a), Some(b)) = (old_decided, new_decided) {
            return self.leaf(a, b);
        }
        if old == new {
            return self.table.intern(Node::Leaf(Outcome::NoMatch));
        }
        let key = (old, new);
        if let Some(id) = self.memo.get(&key) {
            return Ok(*id);
        }
        let (old, new) = &key;
        let first = if old_decided.is_none() { old } else { new };
        let dim = self.choose(first, old, new);
        let id = match dim {
            Dim::Calendar(calendar) => {
                let inside = self.branch(old, new, dim, &Choice::Inside(true))?;
                let outside = self.branch(old, new, dim, &Choice::Inside(false))?;
                self.table.join(Node::Calendar {
                    calendar,
                    inside,
                    outside,
                })?
            }
            Dim::Field(field) => self.split_field(old, new, field)?,
        };
        self.memo.insert(key, id);
        Ok(id)
    }

    fn branch(
        &mut self,
        old: &Live,
        new: &Live,
        dim: Dim,
        choice: &Choice,
    ) -> Result<NodeId, OverBudget> {
        let restrict = |live: &Live| -> Live {
            live.iter()
                .filter_map(|(verdict, cond)| {
                    let simplified = cond.simplify(&mut |atom| decide(atom, dim, choice));
                    (simplified != Cond::False).then_some((*verdict, simplified))
                })
                .collect()
        };
        let (old, new) = (restrict(old), restrict(new));
        self.node(old, new)
    }

    /// A dimension the first undecided side's first rule tests, shared by the most live rules of
    /// both sides (ties: schema order, calendars last), as the graph compiler chooses.
    fn choose(&self, first: &Live, old: &Live, new: &Live) -> Dim {
        crate::graph::choose_dim(
            first.first().map(|(_, cond)| cond),
            old.iter()
                .take(4096)
                .chain(new.iter().take(4096))
                .map(|(_, cond)| cond),
        )
    }

    fn split_field(
        &mut self,
        old: &Live,
        new: &Live,
        field: FieldId,
    ) -> Result<NodeId, OverBudget> {
        let conds = old.iter().chain(new.iter()).map(|(_, cond)| cond);
        let mut split = ProductSplit {
            builder: self,
            old,
            new,
        };
        crate::graph::split_field(&mut split, conds, field)
    }
}

/// The product graph's side of [`crate::graph::FieldSplit`]: its builder and both sides' live
/// rules.
struct ProductSplit<'b, 'p> {
    builder: &'b mut Builder<'p>,
    old: &'b Live,
    new: &'b Live,
}

impl crate::graph::FieldSplit for ProductSplit<'_, '_> {
    fn policy(&self) -> &Policy {
        self.builder.policy
    }

    fn branch(&mut self, dim: Dim, choice: &Choice) -> Result<NodeId, OverBudget> {
        self.builder.branch(self.old, self.new, dim, choice)
    }

    fn table(&mut self) -> &mut NodeTable {
        &mut self.builder.table
    }
}
