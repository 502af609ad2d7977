//! Scores resolved: each line's condition over lead fields, a score's value for a lead, and a
//! comparison on a score compiled into a condition over the lines' conditions.
//!
//! A score is a finite sum of indicator terms (`points × [line holds]`). A comparison such as
//! `fit_score >= 70` is compiled by branching on the lines in order and keeping the partial sum:
//! at each step the sums still reachable form an interval, and as soon as the comparison holds
//! (or fails) for the whole interval the branch ends. The result is an ordinary [`Cond`] over
//! the lines' atoms, so the decision graph, shadow and gap analysis, `diff` and coverage reason
//! about scores exactly, with no second semantics to keep in step.

use super::{Cond, EvalContext, Lead, Policy};
use crate::span::Span;
use crate::syntax::ast::{self, CmpOp, ExprKind, Number, ValueKind};
use std::collections::HashMap;

/// Index of a score.
pub type ScoreId = usize;

pub use crate::syntax::ast::MAX_SCORE_LINES;

/// A resolved score.
#[derive(Debug, Clone)]
pub struct ScoreDef {
    pub name: String,
    pub lines: Vec<ScoreLineDef>,
    pub span: Span,
}

/// One line of a score.
#[derive(Debug, Clone)]
pub struct ScoreLineDef {
    pub points: i64,
    pub cond: Cond,
    /// The line's condition as written.
    pub condition_span: Span,
    pub span: Span,
}

impl ScoreDef {
    /// The lowest and highest sums the lines could reach (ignoring what their conditions allow).
    pub fn bounds(&self) -> (i128, i128) {
        self.lines.iter().fold((0, 0), |(low, high), line| {
            let points = i128::from(line.points);
            (low + points.min(0), high + points.max(0))
        })
    }
}

/// Which sums a comparison accepts: sorted, disjoint, inclusive intervals.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sums(Vec<(i128, i128)>);

impl Sums {
    fn of_comparison(op: CmpOp, point: i128) -> Sums {
        let (min, max) = (i128::MIN, i128::MAX);
        Sums(match op {
            CmpOp::Eq => vec![(point, point)],
            CmpOp::Ne => vec![(min, point - 1), (point + 1, max)],
            CmpOp::Lt => vec![(min, point - 1)],
            CmpOp::Le => vec![(min, point)],
            CmpOp::Gt => vec![(point + 1, max)],
            CmpOp::Ge => vec![(point, max)],
        })
    }

    fn of_points(mut points: Vec<i128>) -> Sums {
        points.sort_unstable();
        points.dedup();
        Sums(points.into_iter().map(|point| (point, point)).collect())
    }

    fn complement(&self) -> Sums {
        let mut out = Vec::new();
        let mut next = i128::MIN;
        for &(low, high) in &self.0 {
            if low > next {
                out.push((next, low - 1));
            }
            if high == i128::MAX {
                return Sums(out);
            }
            next = high + 1;
        }
        out.push((next, i128::MAX));
        Sums(out)
    }

    /// `Some(true)` when every sum in `low..=high` is accepted, `Some(false)` when none is.
    fn decide(&self, low: i128, high: i128) -> Option<bool> {
        // The first interval that ends at or after `low` is the only one that can hold it.
        let first = self.0.partition_point(|&(_, end)| end < low);
        match self.0.get(first) {
            Some(&(start, end)) if start <= low && high <= end => Some(true),
            Some(&(start, _)) if start <= high => None,
            _ => Some(false),
        }
    }

    fn contains(&self, sum: i128) -> bool {
        self.decide(sum, sum) == Some(true)
    }
}

impl Policy {
    pub fn score_id(&self, name: &str) -> Option<ScoreId> {
        self.scores.iter().position(|score| score.name == name)
    }

    /// The indices of the lines of `score` that hold for `lead`.
    pub fn score_lines_held(
        &self,
        score: ScoreId,
        lead: &Lead,
        context: &EvalContext,
    ) -> Vec<usize> {
        self.scores.get(score).map_or_else(Vec::new, |def| {
            def.lines
                .iter()
                .enumerate()
                .filter(|(_, line)| self.holds(&line.cond, lead, context))
                .map(|(index, _)| index)
                .collect()
        })
    }

    /// The value of `score` for `lead`: the points of the lines that hold (0 when none does).
    pub fn score_value(&self, score: ScoreId, lead: &Lead, context: &EvalContext) -> i64 {
        self.scores.get(score).map_or(0, |def| {
            def.lines
                .iter()
                .filter(|line| self.holds(&line.cond, lead, context))
                .fold(0i64, |sum, line| sum.saturating_add(line.points))
        })
    }

    /// `score OP value` as a condition over the score's lines.
    pub(super) fn score_compare(
        &self,
        score: ScoreId,
        op: CmpOp,
        value: &ast::Value,
    ) -> Option<Cond> {
        let point = score_literal(value)?;
        Some(self.score_cond(score, &Sums::of_comparison(op, point)))
    }

    /// `score [not] in { values }` as a condition over the score's lines.
    pub(super) fn score_in(
        &self,
        score: ScoreId,
        values: &[ast::Value],
        negated: bool,
    ) -> Option<Cond> {
        let points = values
            .iter()
            .map(score_literal)
            .collect::<Option<Vec<_>>>()?;
        let sums = Sums::of_points(points);
        Some(self.score_cond(score, &if negated { sums.complement() } else { sums }))
    }

    fn score_cond(&self, score: ScoreId, accepts: &Sums) -> Cond {
        let Some(def) = self.scores.get(score) else {
            return Cond::False;
        };
        // The lowest and highest points the lines from each index on can still add.
        let mut low = vec![0i128; def.lines.len() + 1];
        let mut high = vec![0i128; def.lines.len() + 1];
        for (index, line) in def.lines.iter().enumerate().rev() {
            let points = i128::from(line.points);
            low[index] = low[index + 1] + points.min(0);
            high[index] = high[index + 1] + points.max(0);
        }
        let mut memo = HashMap::new();
        expand(def, 0, 0, &low, &high, accepts, &mut memo)
    }
}

/// The condition that the lines from `index` on bring a sum that started at `sum` into `accepts`.
fn expand(
    def: &ScoreDef,
    index: usize,
    sum: i128,
    low: &[i128],
    high: &[i128],
    accepts: &Sums,
    memo: &mut HashMap<(usize, i128), Cond>,
) -> Cond {
    if let Some(done) = accepts.decide(sum + low[index], sum + high[index]) {
        return if done { Cond::True } else { Cond::False };
    }
    let Some(line) = def.lines.get(index) else {
        // Unreachable: past the last line the interval is one sum, which `decide` settles.
        return if accepts.contains(sum) {
            Cond::True
        } else {
            Cond::False
        };
    };
    if let Some(known) = memo.get(&(index, sum)) {
        return known.clone();
    }
    let with = expand(
        def,
        index + 1,
        sum + i128::from(line.points),
        low,
        high,
        accepts,
        memo,
    );
    let without = expand(def, index + 1, sum, low, high, accepts, memo);
    let cond = if with == without {
        with
    } else {
        Cond::or(vec![
            Cond::and(vec![line.cond.clone(), with]),
            Cond::and(vec![Cond::negate(line.cond.clone()), without]),
        ])
    };
    memo.insert((index, sum), cond.clone());
    cond
}

/// A whole number a score is compared with.
fn score_literal(value: &ast::Value) -> Option<i128> {
    match &value.kind {
        ValueKind::Number(Number::Int(int)) => Some(i128::from(*int)),
        _ => None,
    }
}

/// The scores a condition reads, by name, each once in the order first read.
pub fn scores_read<'e>(
    expr: &'e ast::Expr,
    is_score: &dyn Fn(&str) -> bool,
    out: &mut Vec<&'e str>,
) {
    match &expr.kind {
        ExprKind::And(parts) | ExprKind::Or(parts) => {
            for part in parts {
                scores_read(part, is_score, out);
            }
        }
        ExprKind::Not(inner) => scores_read(inner, is_score, out),
        ExprKind::Compare { field, .. }
        | ExprKind::In { field, .. }
        | ExprKind::IsSet { field, .. } => {
            if is_score(&field.name) && !out.contains(&field.name.as_str()) {
                out.push(&field.name);
            }
        }
        ExprKind::Calendar { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complement_of_a_set_of_points_leaves_the_gaps() {
        let sums = Sums::of_points(vec![5, 3, 5]);
        assert_eq!(sums.0, vec![(3, 3), (5, 5)]);
        let rest = sums.complement();
        assert!(rest.contains(4) && rest.contains(-100) && rest.contains(6));
        assert!(!rest.contains(3) && !rest.contains(5));
        assert_eq!(rest.complement(), sums);
    }

    #[test]
    fn decide_settles_an_interval_only_when_it_can() {
        let at_least_70 = Sums::of_comparison(CmpOp::Ge, 70);
        assert_eq!(at_least_70.decide(70, 90), Some(true));
        assert_eq!(at_least_70.decide(-30, 69), Some(false));
        assert_eq!(at_least_70.decide(40, 90), None);
    }
}
