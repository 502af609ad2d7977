//! Evaluation of a compiled policy: the walk of one path through the graph for a lead, and the
//! same walk with every test recorded for explanations.

use super::{Compiled, Graph, Interval, Node, Outcome, PathStep, TraceStep, example, render};
use crate::model::{Bound, EvalContext, FieldId, Lead, LeadValue, Policy, Scalar, in_range};

impl Graph {
    /// The outcome for a lead, by walking one path.
    pub fn evaluate(&self, policy: &Policy, lead: &Lead, context: &EvalContext) -> Outcome {
        self.walk(policy, lead, context, |_, _| {})
    }

    /// [`Graph::evaluate`], noting each test on the way: the field tested (with the lead's value)
    /// or the calendar (with whether the lead's clock is inside it). Cheap enough to run for
    /// every lead a ledger keeps the path of.
    pub fn evaluate_recording(
        &self,
        policy: &Policy,
        lead: &Lead,
        context: &EvalContext,
        path: &mut Vec<PathStep>,
    ) -> Outcome {
        self.walk(policy, lead, context, |node, inside| match node {
            Node::Calendar { calendar, .. } => path.push(PathStep::Calendar {
                calendar: *calendar,
                inside,
            }),
            Node::Variants { field, .. }
            | Node::Strings { field, .. }
            | Node::Ranges { field, .. }
            | Node::Presence { field, .. } => path.push(PathStep::Field {
                field: *field,
                value: lead.values.get(*field).cloned().flatten(),
            }),
            Node::Leaf(_) => {}
        })
    }

    /// One path from the root to a leaf; `visit` sees each inner node on the way (and, for a
    /// calendar, whether the lead is inside it).
    fn walk(
        &self,
        policy: &Policy,
        lead: &Lead,
        context: &EvalContext,
        mut visit: impl FnMut(&Node, bool),
    ) -> Outcome {
        let mut id = self.root;
        loop {
            let Some(node) = self.nodes.get(id as usize) else {
                return Outcome::NoMatch;
            };
            let value = |field: &FieldId| lead.values.get(*field).and_then(Option::as_ref);
            if !matches!(node, Node::Leaf(_) | Node::Calendar { .. }) {
                visit(node, false);
            }
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
                    let is_inside = policy
                        .calendars
                        .get(*calendar)
                        .is_some_and(|c| c.contains(instant));
                    visit(node, is_inside);
                    if is_inside { *inside } else { *outside }
                }
            };
        }
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

impl Compiled {
    pub fn evaluate(&self, policy: &Policy, lead: &Lead, context: &EvalContext) -> Outcome {
        match self {
            Compiled::Graph { flat, .. } => flat.evaluate(policy, lead, context),
            Compiled::Scan { scan, .. } => scan.evaluate(policy, lead, context),
        }
    }
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
