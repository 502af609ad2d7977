//! The elementary regions of an ordered field: the intervals between the bounds the rules use,
//! each with a representative value that people can read.

use super::Interval;
use crate::model::{Atom, Bound, Cond, FieldId, Scalar};

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
pub(super) fn nice_below(point: f64) -> f64 {
    let whole = point.ceil() - 1.0;
    if whole < point {
        whole
    } else {
        point.next_down()
    }
}

pub(super) fn nice_above(point: f64) -> f64 {
    let whole = point.floor() + 1.0;
    if whole > point {
        whole
    } else {
        point.next_up()
    }
}

/// A value strictly between `low` and `high`, preferably whole; `None` if there is none.
pub(super) fn nice_between(low: f64, high: f64) -> Option<f64> {
    let whole = low.floor() + 1.0;
    if whole > low && whole < high {
        return Some(whole);
    }
    let middle = low + (high - low) / 2.0;
    (middle > low && middle < high).then_some(middle)
}
