//! Which live rules can still hold in each branch of a split on one field. A rule whose
//! condition requires the field (an atom on it, alone or in an `and`) is false in every branch
//! outside that requirement, so a branch simplifies only the rules that can hold there. Without
//! this, splitting thousands of rules like `when n = 17` into thousands of intervals simplified
//! every rule in every interval: quadratic in the number of rules.

use crate::model::{Atom, Bound, Cond, FieldId, Scalar, in_range};
use std::collections::HashMap;

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

/// What a rule requires of the split field, if anything.
enum Requirement {
    Range(Bound, Bound),
    Variants(Vec<u32>),
    Strings(Vec<String>),
    Present,
}

/// The candidates of one split, by position in the live list.
pub(crate) struct Candidates {
    /// Rules that require nothing of the field: candidates everywhere.
    free: Vec<usize>,
    /// Rules that require only that the field be set.
    present: Vec<usize>,
    /// Rules that require a range, sorted by where the range starts.
    ranges: Vec<(Bound, Bound, usize)>,
    /// How many of `ranges` have started at the last point asked for.
    started: usize,
    /// The started ranges not yet known to have ended.
    active: Vec<(Bound, usize)>,
    last_point: Option<Scalar>,
    by_variant: HashMap<u32, Vec<usize>>,
    by_string: HashMap<String, Vec<usize>>,
}

impl Candidates {
    pub(crate) fn new<'c>(conds: impl Iterator<Item = &'c Cond>, field: FieldId) -> Candidates {
        let mut candidates = Candidates {
            free: Vec::new(),
            present: Vec::new(),
            ranges: Vec::new(),
            started: 0,
            active: Vec::new(),
            last_point: None,
            by_variant: HashMap::new(),
            by_string: HashMap::new(),
        };
        for (position, cond) in conds.enumerate() {
            match requirement(cond, field) {
                None => candidates.free.push(position),
                Some(Requirement::Present) => candidates.present.push(position),
                Some(Requirement::Range(lo, hi)) => candidates.ranges.push((lo, hi, position)),
                Some(Requirement::Variants(variants)) => {
                    for variant in variants {
                        candidates
                            .by_variant
                            .entry(variant)
                            .or_default()
                            .push(position);
                    }
                }
                Some(Requirement::Strings(values)) => {
                    for value in values {
                        candidates
                            .by_string
                            .entry(value)
                            .or_default()
                            .push(position);
                    }
                }
            }
        }
        candidates
            .ranges
            .sort_by(|a, b| lower_order(a.0, b.0).then(a.2.cmp(&b.2)));
        candidates
    }

    /// The positions of the rules that can hold in the branch `choice`, in live order.
    pub(crate) fn for_choice(&mut self, choice: &Choice) -> Vec<usize> {
        let mut positions = self.free.clone();
        match choice {
            // Every requirement on the field fails when it is absent.
            Choice::Absent => {}
            Choice::Present | Choice::Inside(_) => {
                positions.extend(&self.present);
                positions.extend(self.ranges.iter().map(|(_, _, position)| *position));
                positions.extend(self.by_variant.values().flatten());
                positions.extend(self.by_string.values().flatten());
            }
            Choice::Variant(variant) => {
                positions.extend(&self.present);
                positions.extend(self.by_variant.get(variant).into_iter().flatten());
            }
            Choice::Str(value) => {
                positions.extend(&self.present);
                positions.extend(self.by_string.get(value).into_iter().flatten());
            }
            Choice::OtherString => positions.extend(&self.present),
            Choice::Range(point) => {
                positions.extend(&self.present);
                self.advance_to(*point);
                positions.extend(
                    self.active
                        .iter()
                        .filter(|(hi, _)| below_upper(*point, *hi))
                        .map(|(_, position)| *position),
                );
            }
        }
        positions.sort_unstable();
        positions.dedup();
        positions
    }

    /// Starts the ranges that begin at or before `point` and drops those that ended before it.
    /// Points normally come in ascending order; one that does not starts the sweep again.
    fn advance_to(&mut self, point: Scalar) {
        if self.last_point.is_some_and(|last| point < last) {
            self.started = 0;
            self.active.clear();
        }
        self.last_point = Some(point);
        while let Some((lo, hi, position)) = self.ranges.get(self.started) {
            if !above_lower(point, *lo) {
                break;
            }
            self.active.push((*hi, *position));
            self.started += 1;
        }
        self.active.retain(|(hi, _)| below_upper(point, *hi));
        // A range that starts at or before the point and ends after it holds it.
        debug_assert!(
            self.active
                .iter()
                .all(|(hi, _)| in_range(point, Bound::Unbounded, *hi))
        );
    }
}

/// What a condition requires of `field`: an atom on it, alone or among the parts of an `and`.
fn requirement(cond: &Cond, field: FieldId) -> Option<Requirement> {
    let of_atom = |atom: &Atom| -> Option<Requirement> {
        match atom {
            Atom::Range { field: f, lo, hi } if *f == field => Some(Requirement::Range(*lo, *hi)),
            Atom::OneOf { field: f, variants } if *f == field => {
                Some(Requirement::Variants(variants.clone()))
            }
            Atom::StrIn { field: f, values } if *f == field => {
                Some(Requirement::Strings(values.clone()))
            }
            Atom::Present(f) if *f == field => Some(Requirement::Present),
            _ => None,
        }
    };
    match cond {
        Cond::Atom(atom) => of_atom(atom),
        Cond::And(parts) => parts.iter().find_map(|part| match part {
            Cond::Atom(atom) => of_atom(atom),
            _ => None,
        }),
        _ => None,
    }
}

/// Whether `point` is at or above a lower bound.
fn above_lower(point: Scalar, lo: Bound) -> bool {
    in_range(point, lo, Bound::Unbounded)
}

/// Whether `point` is at or below an upper bound.
fn below_upper(point: Scalar, hi: Bound) -> bool {
    in_range(point, Bound::Unbounded, hi)
}

/// Lower bounds in the order their ranges start (unbounded first).
fn lower_order(a: Bound, b: Bound) -> std::cmp::Ordering {
    let key = |bound: Bound| match bound {
        Bound::Unbounded => (0, None, 0),
        Bound::Inclusive(value) => (1, Some(value), 0),
        Bound::Exclusive(value) => (1, Some(value), 1),
    };
    let (ka, kb) = (key(a), key(b));
    ka.0.cmp(&kb.0)
        .then_with(|| ka.1.cmp(&kb.1))
        .then_with(|| ka.2.cmp(&kb.2))
}
