//! Regions of leads as people read them: one test per field or calendar (a set of variants, of
//! strings, of intervals, and whether the field may be absent), made from a path through the
//! product graph and merged with its neighbours. Two regions of the same change that test the
//! same dimensions alike but one are one region: `intent` = `low` and `intent` = `medium` become
//! `intent` in {low, medium}; `deal_value` < 10000 and 10000 <= `deal_value` < 50000 become
//! `deal_value` < 50000. A test that allows everything (`source` set or not) disappears.

use crate::graph::example::{self, Example, Step, describe};
use crate::graph::{Dim, Interval};
use crate::model::FieldType;
use crate::model::in_range;
use crate::model::{Bound, CalendarId, EvalContext, FieldId, Lead, LeadValue, Policy, Scalar};
use std::cmp::Ordering;

/// The values a test allows for a field, besides absence.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// No value: only absence (when `absent`).
    Nothing,
    /// Any value.
    Any,
    /// These enum or bool variants (sorted).
    Variants(Vec<u32>),
    /// These strings (sorted).
    Strings(Vec<String>),
    /// Any string but these (sorted).
    StringsExcept(Vec<String>),
    /// A value in one of these intervals (sorted, disjoint, not touching).
    Intervals(Vec<Interval>),
}

/// One test of a region.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    Field {
        field: FieldId,
        /// The field may be absent.
        absent: bool,
        values: Values,
    },
    /// The lead's clock is inside (or outside) the calendar's working time.
    Calendar { calendar: CalendarId, inside: bool },
}

impl Test {
    fn dim(&self) -> Dim {
        match self {
            Test::Field { field, .. } => Dim::Field(*field),
            Test::Calendar { calendar, .. } => Dim::Calendar(*calendar),
        }
    }

    fn from_step(step: &Step) -> Test {
        let field = |field: &FieldId, absent: bool, values: Values| Test::Field {
            field: *field,
            absent,
            values,
        };
        match step {
            Step::Absent(f) => field(f, true, Values::Nothing),
            Step::Present(f) => field(f, false, Values::Any),
            Step::Variant(f, v) => field(f, false, Values::Variants(vec![*v])),
            Step::Str(f, s) => field(f, false, Values::Strings(vec![s.clone()])),
            Step::OtherString(f, excluded) => {
                let mut excluded = excluded.clone();
                excluded.sort();
                field(f, false, Values::StringsExcept(excluded))
            }
            Step::Range(f, interval) => field(f, false, Values::Intervals(vec![*interval])),
            Step::Inside(calendar, inside) => Test::Calendar {
                calendar: *calendar,
                inside: *inside,
            },
        }
    }

    /// Whether a lead passes the test.
    pub fn holds(&self, policy: &Policy, lead: &Lead, context: &EvalContext) -> bool {
        match self {
            Test::Calendar { calendar, inside } => {
                let instant = policy.clock_of(lead, context);
                policy
                    .calendars
                    .get(*calendar)
                    .is_some_and(|c| c.contains(instant) == *inside)
            }
            Test::Field {
                field,
                absent,
                values,
            } => match lead.values.get(*field).and_then(Option::as_ref) {
                None => *absent,
                Some(value) => match (values, value) {
                    (Values::Nothing, _) => false,
                    (Values::Any, _) => true,
                    (Values::Variants(set), LeadValue::Variant(v)) => set.binary_search(v).is_ok(),
                    (Values::Strings(set), LeadValue::Str(s)) => set.binary_search(s).is_ok(),
                    (Values::StringsExcept(set), LeadValue::Str(s)) => {
                        set.binary_search(s).is_err()
                    }
                    (Values::Intervals(intervals), LeadValue::Scalar(point)) => {
                        intervals.iter().any(|i| in_range(*point, i.lo, i.hi))
                    }
                    _ => false,
                },
            },
        }
    }

    /// The union of two tests on the same dimension: `Some(None)` when it allows every lead,
    /// `None` when it is not one test.
    fn union(&self, other: &Test, policy: &Policy) -> Option<Option<Test>> {
        match (self, other) {
            (
                Test::Field {
                    field,
                    absent: a_absent,
                    values: a,
                },
                Test::Field {
                    field: other_field,
                    absent: b_absent,
                    values: b,
                },
            ) if field == other_field => {
                let absent = *a_absent || *b_absent;
                let values = union_values(a, b, policy.fields.get(*field).map(|f| &f.ty))?;
                let required = policy.fields.get(*field).is_some_and(|f| !f.optional);
                let everything = matches!(values, Values::Any) && (absent || required);
                Some((!everything).then_some(Test::Field {
                    field: *field,
                    absent,
                    values,
                }))
            }
            (
                Test::Calendar { calendar, inside },
                Test::Calendar {
                    calendar: other_calendar,
                    inside: other_inside,
                },
            ) if calendar == other_calendar => {
                // Inside and outside together allow every time.
                Some((inside == other_inside).then(|| self.clone()))
            }
            _ => None,
        }
    }

    /// In words: "`intent` in {low, medium}", "`source` = `web` or `source` not set".
    fn describe(&self, policy: &Policy) -> String {
        let (field, absent, values) = match self {
            Test::Calendar { calendar, inside } => {
                return describe(policy, &[Step::Inside(*calendar, *inside)]);
            }
            Test::Field {
                field,
                absent,
                values,
            } => (*field, *absent, values),
        };
        let name = policy.fields.get(field).map_or("?", |f| f.name.as_str());
        let ty = policy.fields.get(field).map(|f| &f.ty);
        let mut parts: Vec<String> = match values {
            Values::Nothing => Vec::new(),
            Values::Any => vec![format!("`{name}` set")],
            Values::Variants(set) if set.len() == 1 => {
                vec![describe(policy, &[Step::Variant(field, set[0])])]
            }
            Values::Variants(set) => {
                let words: Vec<String> = set
                    .iter()
                    .map(|v| match ty {
                        Some(FieldType::Enum(variants)) => {
                            variants.get(*v as usize).cloned().unwrap_or_default()
                        }
                        _ => (if *v == 1 { "true" } else { "false" }).to_string(),
                    })
                    .collect();
                vec![format!("`{name}` in {{{}}}", words.join(", "))]
            }
            Values::Strings(set) if set.len() == 1 => {
                vec![describe(policy, &[Step::Str(field, set[0].clone())])]
            }
            Values::Strings(set) => {
                let quoted: Vec<String> = set
                    .iter()
                    .map(|s| serde_json::Value::String(s.clone()).to_string())
                    .collect();
                vec![format!("`{name}` in {{{}}}", quoted.join(", "))]
            }
            Values::StringsExcept(set) => {
                vec![describe(policy, &[Step::OtherString(field, set.clone())])]
            }
            Values::Intervals(intervals) => intervals
                .iter()
                .map(|i| describe(policy, &[Step::Range(field, *i)]))
                .collect(),
        };
        if absent {
            parts.push(format!("`{name}` not set"));
        }
        parts.join(" or ")
    }
}

fn union_values(a: &Values, b: &Values, ty: Option<&FieldType>) -> Option<Values> {
    Some(match (a, b) {
        (Values::Nothing, other) | (other, Values::Nothing) => other.clone(),
        (Values::Any, _) | (_, Values::Any) => Values::Any,
        (Values::Variants(x), Values::Variants(y)) => {
            let mut all: Vec<u32> = x.iter().chain(y).copied().collect();
            all.sort_unstable();
            all.dedup();
            let count = match ty {
                Some(FieldType::Enum(variants)) => variants.len(),
                _ => 2,
            };
            if all.len() >= count {
                Values::Any
            } else {
                Values::Variants(all)
            }
        }
        (Values::Strings(x), Values::Strings(y)) => {
            let mut all: Vec<String> = x.iter().chain(y).cloned().collect();
            all.sort();
            all.dedup();
            Values::Strings(all)
        }
        (Values::StringsExcept(except), Values::Strings(set))
        | (Values::Strings(set), Values::StringsExcept(except)) => {
            let left: Vec<String> = except
                .iter()
                .filter(|s| !set.contains(s))
                .cloned()
                .collect();
            if left.is_empty() {
                Values::Any
            } else {
                Values::StringsExcept(left)
            }
        }
        (Values::StringsExcept(x), Values::StringsExcept(y)) => {
            let both: Vec<String> = x.iter().filter(|s| y.contains(s)).cloned().collect();
            if both.is_empty() {
                Values::Any
            } else {
                Values::StringsExcept(both)
            }
        }
        (Values::Intervals(x), Values::Intervals(y)) => {
            let discrete = !matches!(ty, Some(FieldType::Number));
            let merged = union_intervals(x.iter().chain(y).copied().collect(), discrete);
            match merged.as_slice() {
                [only] if only.lo == Bound::Unbounded && only.hi == Bound::Unbounded => Values::Any,
                _ => Values::Intervals(merged),
            }
        }
        _ => return None,
    })
}

/// Where a lower bound starts, for sorting: unbounded first, then by value, inclusive first.
fn lower_order(a: Bound, b: Bound) -> Ordering {
    match (a, b) {
        (Bound::Unbounded, Bound::Unbounded) => Ordering::Equal,
        (Bound::Unbounded, _) => Ordering::Less,
        (_, Bound::Unbounded) => Ordering::Greater,
        (Bound::Inclusive(x), Bound::Inclusive(y)) | (Bound::Exclusive(x), Bound::Exclusive(y)) => {
            x.cmp(&y)
        }
        (Bound::Inclusive(x), Bound::Exclusive(y)) => x.cmp(&y).then(Ordering::Less),
        (Bound::Exclusive(x), Bound::Inclusive(y)) => x.cmp(&y).then(Ordering::Greater),
    }
}

/// Whether an interval ending at `hi` meets or overlaps one starting at `lo` (no value between).
fn meets(hi: Bound, lo: Bound, discrete: bool) -> bool {
    match (hi, lo) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => true,
        (Bound::Inclusive(h), Bound::Inclusive(l)) => {
            h >= l
                || (discrete
                    && matches!((h, l), (Scalar::Int(h), Scalar::Int(l)) if h.checked_add(1) == Some(l)))
        }
        (Bound::Inclusive(h), Bound::Exclusive(l)) | (Bound::Exclusive(h), Bound::Inclusive(l)) => {
            h >= l
        }
        (Bound::Exclusive(h), Bound::Exclusive(l)) => h > l,
    }
}

/// The later of two upper bounds.
fn upper_max(a: Bound, b: Bound) -> Bound {
    match (a, b) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => Bound::Unbounded,
        (Bound::Inclusive(x), Bound::Inclusive(y)) => Bound::Inclusive(x.max(y)),
        (Bound::Exclusive(x), Bound::Exclusive(y)) => Bound::Exclusive(x.max(y)),
        (Bound::Inclusive(x), Bound::Exclusive(y)) | (Bound::Exclusive(y), Bound::Inclusive(x)) => {
            if x >= y {
                Bound::Inclusive(x)
            } else {
                Bound::Exclusive(y)
            }
        }
    }
}

fn union_intervals(mut intervals: Vec<Interval>, discrete: bool) -> Vec<Interval> {
    intervals.sort_by(|a, b| lower_order(a.lo, b.lo));
    let mut out: Vec<Interval> = Vec::with_capacity(intervals.len());
    for interval in intervals {
        match out.last_mut() {
            Some(last) if meets(last.hi, interval.lo, discrete) => {
                last.hi = upper_max(last.hi, interval.hi);
            }
            _ => out.push(interval),
        }
    }
    out
}

/// A region of leads: its tests (one per dimension), in words, and an example lead in it.
#[derive(Debug, Clone)]
pub struct Region {
    pub tests: Vec<Test>,
    /// The tests in words: "`intent` in {low, medium}, `fit` = `strong`".
    pub description: String,
    /// A complete lead inside the region (it fits both schemas).
    pub example: Example,
    /// The scores the example lead's decisions report, on each side (`None`: that side's
    /// decision does not report the score).
    pub scores: Vec<ScoreShift>,
}

/// A score of an example lead under the old and the new policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreShift {
    pub name: String,
    pub old: Option<i64>,
    pub new: Option<i64>,
}

impl ScoreShift {
    /// `fit_score 45 -> 30`, `fit_score 45`; `fit_score 30 in old` when only the old decision
    /// reports it, `fit_score 30 in new` when only the new one does.
    pub fn describe(&self) -> String {
        match (self.old, self.new) {
            (Some(old), Some(new)) if old == new => format!("{} {old}", self.name),
            (Some(old), Some(new)) => format!("{} {old} -> {new}", self.name),
            (Some(old), None) => format!("{} {old} in old", self.name),
            (None, Some(new)) => format!("{} {new} in new", self.name),
            (None, None) => self.name.clone(),
        }
    }
}

impl Region {
    /// The region a path through the product graph describes, with its example lead; `None`
    /// when no lead lies on the path (calendar tests that no time satisfies).
    pub(crate) fn from_path(policy: &Policy, steps: &[Step]) -> Option<Region> {
        let example = example::example(policy, steps, "diff-example")?;
        // Schema order (calendars last) reads the same way in every region.
        let mut tests: Vec<Test> = steps.iter().map(Test::from_step).collect();
        tests.sort_by_key(Test::dim);
        Some(Region {
            description: describe_tests(policy, &tests),
            tests,
            example,
            scores: Vec::new(),
        })
    }

    /// Whether a lead lies in the region.
    pub fn contains(&self, policy: &Policy, lead: &Lead, context: &EvalContext) -> bool {
        self.tests
            .iter()
            .all(|test| test.holds(policy, lead, context))
    }

    /// The region that holds both, when it is one region: the same dimensions, tested alike
    /// but one.
    fn merge(&self, other: &Region, policy: &Policy) -> Option<Region> {
        if self.tests.len() != other.tests.len() {
            return None;
        }
        let mut differing: Option<usize> = None;
        for (index, test) in self.tests.iter().enumerate() {
            let same = other.tests.iter().find(|t| t.dim() == test.dim())?;
            if same != test {
                if differing.is_some() {
                    return None;
                }
                differing = Some(index);
            }
        }
        let index = differing?;
        let test = &self.tests[index];
        let counterpart = other.tests.iter().find(|t| t.dim() == test.dim())?;
        let merged = test.union(counterpart, policy)?;
        let mut tests = self.tests.clone();
        match merged {
            Some(merged) => tests[index] = merged,
            None => {
                tests.remove(index);
            }
        }
        Some(Region {
            description: describe_tests(policy, &tests),
            tests,
            example: self.example.clone(),
            scores: self.scores.clone(),
        })
    }
}

fn describe_tests(policy: &Policy, tests: &[Test]) -> String {
    if tests.is_empty() {
        return "any values".to_string();
    }
    tests
        .iter()
        .map(|test| test.describe(policy))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Merges regions of one change until no two can be merged.
pub(crate) fn merge_all(mut regions: Vec<Region>, policy: &Policy) -> Vec<Region> {
    let mut index = 0;
    while index < regions.len() {
        let mut merged_any = false;
        let mut other = index + 1;
        while other < regions.len() {
            if let Some(merged) = regions[index].merge(&regions[other], policy) {
                regions[index] = merged;
                regions.remove(other);
                merged_any = true;
                other = index + 1;
            } else {
                other += 1;
            }
        }
        if merged_any {
            // A merged region may now merge with one before it.
            index = 0;
        } else {
            index += 1;
        }
    }
    regions
}
