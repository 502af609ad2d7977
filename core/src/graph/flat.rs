//! The decision graph laid out for evaluation: every node in one `u32` array, leaves folded into
//! the references that point at them, range bounds and strings in side tables. A walk touches a
//! few cache lines instead of chasing one heap allocation per node, which keeps the per-lead cost
//! nearly flat as policies grow.
//!
//! Architecture invariant: `FlatGraph::evaluate` decides exactly as `Graph::evaluate` does; the
//! differential tests compare both with naive first-match.

use super::{Graph, Node, NodeId, Outcome};
use crate::model::{Bound, EvalContext, Lead, LeadValue, Policy, Scalar};

/// A reference to a node (an offset into `code`) or, with the top bit set, a leaf.
type Ref = u32;
const LEAF: u32 = 1 << 31;
const NO_MATCH: u32 = u32::MAX;
/// "No absent branch": the field is required, so a lead without it matches no rule.
const NONE: u32 = NO_MATCH;

const VARIANTS: u32 = 0;
const STRINGS: u32 = 1;
const RANGES: u32 = 2;
const PRESENCE: u32 = 3;
const CALENDAR: u32 = 4;
const VARIANTS2: u32 = 5;

/// A decision graph compiled for fast evaluation.
#[derive(Debug, Clone, Default)]
pub struct FlatGraph {
    code: Vec<u32>,
    root: Ref,
    /// Upper bounds of range regions: `(bound, inclusive)`.
    bounds: Vec<(Scalar, bool)>,
    shared_bounds: std::collections::HashMap<Vec<(Scalar, bool)>, u32>,
    strings: Vec<String>,
}

impl FlatGraph {
    /// Lays a graph out. Node layouts:
    /// - variants: `[VARIANTS, field, absent, count, child...]`
    /// - strings: `[STRINGS, field, absent, first string, count, other, child...]`
    /// - ranges: `[RANGES, field, absent, first bound, count, child...]` (count - 1 bounds)
    /// - presence: `[PRESENCE, field, absent, present]`
    /// - calendar: `[CALENDAR, calendar, inside, outside]`
    /// - two fused enum levels: `[VARIANTS2, field a, absent a, count a, field b, count b,
    ///   row leaf..., child...]`: an enum node whose children all test the same required enum
    ///   field (or are leaves) becomes one table lookup; `row leaf` holds the leaf of a row that
    ///   does not test field b (the intent x fit matrix of a policy is one such node).
    pub fn new(graph: &Graph) -> FlatGraph {
        let mut flat = FlatGraph::default();
        let mut offsets: Vec<Option<u32>> = vec![None; graph.nodes.len()];
        // Lay nodes out in depth-first order from the root, so that a walk reads forward.
        let mut order = Vec::new();
        let mut seen = vec![false; graph.nodes.len()];
        let mut stack = vec![graph.root];
        while let Some(id) = stack.pop() {
            let index = id as usize;
            if index >= seen.len() || seen[index] {
                continue;
            }
            seen[index] = true;
            order.push(id);
            if let Some(node) = graph.nodes.get(index) {
                stack.extend(node.children().into_iter().rev());
            }
        }
        for &id in &order {
            if matches!(graph.nodes.get(id as usize), Some(Node::Leaf(_)) | None) {
                continue;
            }
            offsets[id as usize] = u32::try_from(flat.code.len()).ok();
            match fusable(graph, &graph.nodes[id as usize]) {
                Some((field_a, absent, rows, field_b, count_b)) => {
                    flat.emit_fused(graph, field_a, absent, &rows, field_b, count_b)
                }
                None => flat.emit(&graph.nodes[id as usize]),
            }
        }
        // Second pass: patch child references (written as node ids) into offsets or leaves.
        let resolve = |id: u32| -> Ref {
            match graph.nodes.get(id as usize) {
                Some(Node::Leaf(Outcome::Rule(index))) => {
                    LEAF | u32::try_from(*index).unwrap_or(LEAF - 1)
                }
                Some(Node::Leaf(Outcome::NoMatch)) | None => NO_MATCH,
                Some(_) => offsets[id as usize].unwrap_or(NO_MATCH),
            }
        };
        let mut offset = 0;
        while offset < flat.code.len() {
            let (children, size) = flat.child_slots(offset);
            for slot in children {
                let id = flat.code[slot];
                if id != NONE {
                    flat.code[slot] = resolve(id);
                }
            }
            offset += size;
        }
        flat.root = resolve(graph.root);
        flat
    }

    fn emit_fused(
        &mut self,
        graph: &Graph,
        field_a: usize,
        absent: Option<NodeId>,
        rows: &[NodeId],
        field_b: usize,
        count_b: usize,
    ) {
        let to_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        self.code.extend([
            VARIANTS2,
            to_u32(field_a),
            absent.unwrap_or(NONE),
            to_u32(rows.len()),
            to_u32(field_b),
            to_u32(count_b),
        ]);
        let mut table = Vec::with_capacity(rows.len() * count_b);
        for &row in rows {
            match graph.nodes.get(row as usize) {
                Some(Node::Variants { by_variant, .. }) => {
                    self.code.push(NONE);
                    table.extend(by_variant.iter().copied());
                }
                _ => {
                    // A leaf row: the same outcome whatever field b holds.
                    self.code.push(row);
                    table.extend(std::iter::repeat_n(row, count_b));
                }
            }
        }
        self.code.extend(table);
    }

    fn emit(&mut self, node: &Node) {
        let field = |f: usize| u32::try_from(f).unwrap_or(u32::MAX);
        let absent_ref = |a: &Option<NodeId>| a.unwrap_or(NONE);
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        match node {
            Node::Leaf(_) => {}
            Node::Variants {
                field: f,
                absent,
                by_variant,
            } => {
                self.code.extend([
                    VARIANTS,
                    field(*f),
                    absent_ref(absent),
                    count(by_variant.len()),
                ]);
                self.code.extend(by_variant.iter().copied());
            }
            Node::Strings {
                field: f,
                absent,
                cases,
                other,
            } => {
                let first = count(self.strings.len());
                self.strings.extend(cases.iter().map(|(s, _)| s.clone()));
                self.code.extend([
                    STRINGS,
                    field(*f),
                    absent_ref(absent),
                    first,
                    count(cases.len()),
                    *other,
                ]);
                self.code.extend(cases.iter().map(|(_, c)| *c));
            }
            Node::Ranges {
                field: f,
                absent,
                regions,
            } => {
                let bounds: Vec<(Scalar, bool)> = regions
                    .iter()
                    .take(regions.len().saturating_sub(1))
                    .map(|(region, _)| match region.hi {
                        Bound::Inclusive(v) => (v, true),
                        Bound::Exclusive(v) => (v, false),
                        // Only the last region is unbounded above.
                        Bound::Unbounded => (Scalar::Float(f64::INFINITY), true),
                    })
                    .collect();
                // Nodes on one field usually split at the same bounds (deal tiers): share them,
                // so the bounds a walk reads stay in cache.
                let first = match self.shared_bounds.get(&bounds) {
                    Some(first) => *first,
                    None => {
                        let first = count(self.bounds.len());
                        self.bounds.extend(bounds.iter().copied());
                        self.shared_bounds.insert(bounds, first);
                        first
                    }
                };
                self.code.extend([
                    RANGES,
                    field(*f),
                    absent_ref(absent),
                    first,
                    count(regions.len()),
                ]);
                self.code.extend(regions.iter().map(|(_, c)| *c));
            }
            Node::Presence {
                field: f,
                absent,
                present,
            } => {
                self.code.extend([PRESENCE, field(*f), *absent, *present]);
            }
            Node::Calendar {
                calendar,
                inside,
                outside,
            } => {
                self.code
                    .extend([CALENDAR, field(*calendar), *inside, *outside]);
            }
        }
    }

    /// The slots holding child references of the node at `offset`, and the node's size.
    fn child_slots(&self, offset: usize) -> (Vec<usize>, usize) {
        let at = |i: usize| self.code.get(offset + i).copied().unwrap_or(0) as usize;
        match self.code.get(offset).copied() {
            Some(VARIANTS) => {
                let n = at(3);
                (
                    std::iter::once(offset + 2)
                        .chain(offset + 4..offset + 4 + n)
                        .collect(),
                    4 + n,
                )
            }
            Some(STRINGS) => {
                let n = at(4);
                let mut slots = vec![offset + 2, offset + 5];
                slots.extend(offset + 6..offset + 6 + n);
                (slots, 6 + n)
            }
            Some(RANGES) => {
                let n = at(4);
                (
                    std::iter::once(offset + 2)
                        .chain(offset + 5..offset + 5 + n)
                        .collect(),
                    5 + n,
                )
            }
            Some(PRESENCE) | Some(CALENDAR) => (vec![offset + 2, offset + 3], 4),
            Some(VARIANTS2) => {
                let rows = at(3);
                let cells = rows * at(5);
                let mut slots = vec![offset + 2];
                slots.extend(offset + 6..offset + 6 + rows + cells);
                (slots, 6 + rows + cells)
            }
            _ => (Vec::new(), self.code.len().saturating_sub(offset).max(1)),
        }
    }

    /// The outcome for a lead.
    pub fn evaluate(&self, policy: &Policy, lead: &Lead, context: &EvalContext) -> Outcome {
        let code = &self.code[..];
        let mut at = self.root;
        loop {
            if at & LEAF != 0 {
                return if at == NO_MATCH {
                    Outcome::NoMatch
                } else {
                    Outcome::Rule((at & !LEAF) as usize)
                };
            }
            let o = at as usize;
            let (Some(&tag), Some(&key)) = (code.get(o), code.get(o + 1)) else {
                return Outcome::NoMatch;
            };
            let value = lead.values.get(key as usize).and_then(Option::as_ref);
            let absent = code.get(o + 2).copied().unwrap_or(NO_MATCH);
            at = match tag {
                VARIANTS => match value {
                    Some(LeadValue::Variant(v)) if *v < code.get(o + 3).copied().unwrap_or(0) => {
                        code.get(o + 4 + *v as usize).copied().unwrap_or(NO_MATCH)
                    }
                    Some(_) => NO_MATCH,
                    None => absent,
                },
                STRINGS => match value {
                    Some(LeadValue::Str(text)) => {
                        let first = code.get(o + 3).copied().unwrap_or(0) as usize;
                        let count = code.get(o + 4).copied().unwrap_or(0) as usize;
                        let cases = self.strings.get(first..first + count).unwrap_or(&[]);
                        match cases.binary_search_by(|case| case.as_str().cmp(text)) {
                            Ok(index) => code.get(o + 6 + index).copied().unwrap_or(NO_MATCH),
                            Err(_) => code.get(o + 5).copied().unwrap_or(NO_MATCH),
                        }
                    }
                    Some(_) => NO_MATCH,
                    None => absent,
                },
                RANGES => match value {
                    Some(LeadValue::Scalar(point)) => {
                        let first = code.get(o + 3).copied().unwrap_or(0) as usize;
                        let count = code.get(o + 4).copied().unwrap_or(0) as usize;
                        let bounds = self
                            .bounds
                            .get(first..first + count.saturating_sub(1))
                            .unwrap_or(&[]);
                        let index = bounds.partition_point(|(bound, inclusive)| {
                            if *inclusive {
                                *point > *bound
                            } else {
                                *point >= *bound
                            }
                        });
                        code.get(o + 5 + index).copied().unwrap_or(NO_MATCH)
                    }
                    Some(_) => NO_MATCH,
                    None => absent,
                },
                PRESENCE => {
                    if value.is_some() {
                        code.get(o + 3).copied().unwrap_or(NO_MATCH)
                    } else {
                        absent
                    }
                }
                VARIANTS2 => match value {
                    Some(LeadValue::Variant(a)) if *a < code.get(o + 3).copied().unwrap_or(0) => {
                        let rows = code.get(o + 3).copied().unwrap_or(0) as usize;
                        let row_leaf = code.get(o + 6 + *a as usize).copied().unwrap_or(NO_MATCH);
                        if row_leaf != NONE {
                            row_leaf
                        } else {
                            let field_b = code.get(o + 4).copied().unwrap_or(u32::MAX) as usize;
                            let count_b = code.get(o + 5).copied().unwrap_or(0);
                            match lead.values.get(field_b).and_then(Option::as_ref) {
                                Some(LeadValue::Variant(b)) if *b < count_b => code
                                    .get(
                                        o + 6 + rows + *a as usize * count_b as usize + *b as usize,
                                    )
                                    .copied()
                                    .unwrap_or(NO_MATCH),
                                _ => NO_MATCH,
                            }
                        }
                    }
                    Some(_) => NO_MATCH,
                    None => absent,
                },
                CALENDAR => {
                    let instant = policy.clock_of(lead, context);
                    let inside = policy
                        .calendars
                        .get(key as usize)
                        .is_some_and(|c| c.contains(instant));
                    if inside {
                        absent
                    } else {
                        code.get(o + 3).copied().unwrap_or(NO_MATCH)
                    }
                }
                _ => return Outcome::NoMatch,
            };
        }
    }

    /// Size of the layout in bytes (for statistics).
    pub fn size_bytes(&self) -> usize {
        // (The interning map is construction state; it is not counted.)
        self.code.len() * 4 + self.bounds.len() * std::mem::size_of::<(Scalar, bool)>()
    }
}

/// A fused layout for an enum node whose children are all leaves or enum nodes on one other
/// field without an absent branch: `(field a, absent a, rows, field b, count b)`.
#[allow(clippy::type_complexity)]
fn fusable(
    graph: &Graph,
    node: &Node,
) -> Option<(usize, Option<NodeId>, Vec<NodeId>, usize, usize)> {
    let Node::Variants {
        field,
        absent,
        by_variant,
    } = node
    else {
        return None;
    };
    let mut inner: Option<(usize, usize)> = None;
    for child in by_variant {
        match graph.nodes.get(*child as usize)? {
            Node::Leaf(_) => {}
            Node::Variants {
                field: b,
                absent: None,
                by_variant: cells,
            } if b != field => match inner {
                None => inner = Some((*b, cells.len())),
                Some((seen, count)) if seen == *b && count == cells.len() => {}
                Some(_) => return None,
            },
            _ => return None,
        }
    }
    let (field_b, count_b) = inner?;
    // Keep tables small: a fused node should stay within a few cache lines.
    if by_variant.len() * count_b > 4096 {
        return None;
    }
    Some((*field, *absent, by_variant.clone(), field_b, count_b))
}
