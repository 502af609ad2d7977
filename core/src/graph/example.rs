//! Concrete example leads: the region a path through the graph describes, made into one complete
//! lead that fits the schema (and into the JSON a person could feed to `route`).

use super::{Graph, Interval, Node, NodeId, Outcome};
use crate::model::FieldType;
use crate::model::{Bound, CalendarId, FieldId, Lead, LeadValue, Policy, Scalar};
use jiff::Timestamp;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write;

/// One branch taken on a path through the graph.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Absent(FieldId),
    Variant(FieldId, u32),
    Str(FieldId, String),
    /// Any string but these.
    OtherString(FieldId, Vec<String>),
    Range(FieldId, Interval),
    Present(FieldId),
    Inside(CalendarId, bool),
}

/// A path from the root to a leaf.
pub type Path = Vec<Step>;

/// What a path has established about time: the clock field's region (or that it is absent)
/// and the calendar tests taken. Only tracked when the policy has calendars: otherwise every
/// path through the graph is a real region.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
struct TimeContext {
    clock: Option<Interval>,
    clock_absent: bool,
    facts: Vec<(CalendarId, bool)>,
}

/// Walks the graph along feasible paths only. The graph treats a calendar test as independent of
/// the clock field (which keeps evaluation exact and the graph small), so a path may combine
/// `inside office` with a clock value outside office hours; such a path describes no lead, and
/// analysis must not count what lies behind it.
struct FeasibleWalk<'a> {
    policy: &'a Policy,
    graph: &'a Graph,
    tracks_time: bool,
    feasible: HashMap<TimeContext, bool>,
    /// Calendar tests the walk may still try on candidate instants ([`CALENDAR_WORK`]); once
    /// spent, a context not yet judged is taken as feasible (analysis then finds no rule
    /// shadowed that is not, at worst misses one).
    work: usize,
}

/// The calendar tests one walk may try: 64 calendars of 24 ranges a day, each tested by one
/// rule, took 42 s of `check` when every context was searched to the end; the example policy
/// tries a few thousand.
const CALENDAR_WORK: usize = 20_000_000;

/// What the search for an instant in a context found.
enum Search {
    Found(Timestamp),
    Never,
    /// The work allowed ran out first.
    GaveUp,
}

impl<'a> FeasibleWalk<'a> {
    fn new(policy: &'a Policy, graph: &'a Graph) -> FeasibleWalk<'a> {
        FeasibleWalk {
            policy,
            graph,
            tracks_time: !policy.calendars.is_empty(),
            feasible: HashMap::new(),
            work: CALENDAR_WORK,
        }
    }

    /// The context after a step, or `None` when the step makes the path infeasible.
    fn after(&mut self, context: &TimeContext, step: &Step) -> Option<TimeContext> {
        if !self.tracks_time {
            return Some(TimeContext::default());
        }
        let mut next = context.clone();
        match step {
            Step::Absent(field) if Some(*field) == self.policy.clock => next.clock_absent = true,
            Step::Range(field, region) if Some(*field) == self.policy.clock => {
                next.clock = Some(*region)
            }
            Step::Inside(calendar, inside) => {
                next.facts.push((*calendar, *inside));
                next.facts.sort_unstable();
                next.facts.dedup();
            }
            _ => return Some(next),
        }
        if next.facts.is_empty() {
            return Some(next);
        }
        let policy = self.policy;
        let work = &mut self.work;
        let feasible = *self
            .feasible
            .entry(next.clone())
            .or_insert_with(|| !matches!(instant_for(policy, &next, work), Search::Never));
        feasible.then_some(next)
    }
}

/// Up to `limit` feasible paths from the root to leaves with `target` outcome, in graph order,
/// and whether more exist.
pub fn paths_to(
    policy: &Policy,
    graph: &Graph,
    target: Outcome,
    limit: usize,
) -> (Vec<Path>, bool) {
    let mut walk = FeasibleWalk::new(policy, graph);
    let mut found = Vec::new();
    let mut more = false;
    let mut stack: Vec<Step> = Vec::new();
    let mut dead: HashSet<(NodeId, TimeContext)> = HashSet::new();
    collect_paths(
        &mut walk,
        graph.root,
        TimeContext::default(),
        target,
        limit,
        &mut stack,
        &mut found,
        &mut more,
        &mut dead,
    );
    (found, more)
}

/// Depth-first search; `dead` holds (node, context) pairs known to reach no `target` leaf.
#[allow(clippy::too_many_arguments)]
fn collect_paths(
    walk: &mut FeasibleWalk<'_>,
    id: NodeId,
    context: TimeContext,
    target: Outcome,
    limit: usize,
    stack: &mut Vec<Step>,
    found: &mut Vec<Path>,
    more: &mut bool,
    dead: &mut HashSet<(NodeId, TimeContext)>,
) -> bool {
    if *more || dead.contains(&(id, context.clone())) {
        return false;
    }
    let Some(node) = walk.graph.nodes.get(id as usize) else {
        return false;
    };
    if let Node::Leaf(outcome) = node {
        if *outcome != target {
            return false;
        }
        if found.len() < limit {
            found.push(stack.clone());
        } else {
            *more = true;
        }
        return true;
    }
    let mut reached = false;
    for (step, child) in branches(node) {
        let Some(next) = walk.after(&context, &step) else {
            continue;
        };
        stack.push(step);
        reached |= collect_paths(walk, child, next, target, limit, stack, found, more, dead);
        stack.pop();
        if *more {
            return true;
        }
    }
    if !reached {
        dead.insert((id, context));
    }
    reached
}

/// Every outcome some feasible path leads to.
pub fn reachable_outcomes(policy: &Policy, graph: &Graph) -> BTreeSet<Outcome> {
    let mut walk = FeasibleWalk::new(policy, graph);
    let mut seen: HashSet<(NodeId, TimeContext)> = HashSet::new();
    let mut outcomes = BTreeSet::new();
    let mut stack = vec![(graph.root, TimeContext::default())];
    while let Some((id, context)) = stack.pop() {
        if !seen.insert((id, context.clone())) {
            continue;
        }
        let Some(node) = graph.nodes.get(id as usize) else {
            continue;
        };
        if let Node::Leaf(outcome) = node {
            outcomes.insert(*outcome);
            continue;
        }
        for (step, child) in branches(node) {
            if let Some(next) = walk.after(&context, &step) {
                stack.push((child, next));
            }
        }
    }
    outcomes
}

/// Every branch of a node as a step and its child.
pub fn branches(node: &Node) -> Vec<(Step, NodeId)> {
    let mut out = Vec::new();
    match node {
        Node::Leaf(_) => {}
        Node::Variants {
            field,
            absent,
            by_variant,
        } => {
            if let Some(absent) = absent {
                out.push((Step::Absent(*field), *absent));
            }
            for (variant, child) in by_variant.iter().enumerate() {
                out.push((
                    Step::Variant(*field, u32::try_from(variant).unwrap_or(u32::MAX)),
                    *child,
                ));
            }
        }
        Node::Strings {
            field,
            absent,
            cases,
            other,
        } => {
            if let Some(absent) = absent {
                out.push((Step::Absent(*field), *absent));
            }
            for (string, child) in cases {
                out.push((Step::Str(*field, string.clone()), *child));
            }
            let excluded = cases.iter().map(|(s, _)| s.clone()).collect();
            out.push((Step::OtherString(*field, excluded), *other));
        }
        Node::Ranges {
            field,
            absent,
            regions,
        } => {
            if let Some(absent) = absent {
                out.push((Step::Absent(*field), *absent));
            }
            for (region, child) in regions {
                out.push((Step::Range(*field, *region), *child));
            }
        }
        Node::Presence {
            field,
            absent,
            present,
        } => {
            out.push((Step::Absent(*field), *absent));
            out.push((Step::Present(*field), *present));
        }
        Node::Calendar {
            calendar,
            inside,
            outside,
        } => {
            out.push((Step::Inside(*calendar, true), *inside));
            out.push((Step::Inside(*calendar, false), *outside));
        }
    }
    out
}

/// A concrete lead for a region, with the instant it must be routed at when its clock is not a
/// field of the lead.
#[derive(Debug, Clone)]
pub struct Example {
    pub lead: Lead,
    /// The lead as one line of JSON, fields in schema order.
    pub json: String,
    /// The time to route at (`--now`): it matters only when the lead has no clock value.
    pub now: Timestamp,
}

/// The anchor for example times: a Monday morning, so that plain examples read naturally.
fn anchor() -> Timestamp {
    Timestamp::from_second(1_795_424_400).unwrap_or(Timestamp::UNIX_EPOCH) // 2026-11-23T09:00:00Z
}

/// Makes a complete lead inside the region `path` describes. `None` when no instant satisfies the
/// path's calendar tests together with its clock range (the region is empty).
pub fn example(policy: &Policy, path: &[Step], id: &str) -> Option<Example> {
    let mut values: Vec<Option<LeadValue>> = vec![None; policy.fields.len()];
    let mut constrained = vec![false; policy.fields.len()];
    let mut calendars: Vec<(CalendarId, bool)> = Vec::new();
    let mut clock_interval: Option<Interval> = None;
    let mut clock_absent = false;
    for step in path {
        match step {
            Step::Absent(field) => {
                constrained[*field] = true;
                if Some(*field) == policy.clock {
                    clock_absent = true;
                }
            }
            Step::Variant(field, variant) => {
                constrained[*field] = true;
                values[*field] = Some(LeadValue::Variant(*variant));
            }
            Step::Str(field, text) => {
                constrained[*field] = true;
                values[*field] = Some(LeadValue::Str(text.clone()));
            }
            Step::OtherString(field, excluded) => {
                constrained[*field] = true;
                values[*field] = Some(LeadValue::Str(fresh_string(excluded)));
            }
            Step::Range(field, region) => {
                constrained[*field] = true;
                if Some(*field) == policy.clock {
                    clock_interval = Some(*region);
                } else {
                    values[*field] = Some(LeadValue::Scalar(representative(
                        *region,
                        &policy.fields[*field].ty,
                    )));
                }
            }
            Step::Present(field) => {
                constrained[*field] = true;
                values[*field] = Some(default_value(policy, *field));
            }
            Step::Inside(calendar, inside) => calendars.push((*calendar, *inside)),
        }
    }
    // The clock: a time in its region that satisfies every calendar test.
    calendars.sort_unstable();
    calendars.dedup();
    let mut work = CALENDAR_WORK;
    let Search::Found(instant) = instant_for(
        policy,
        &TimeContext {
            clock: clock_interval,
            clock_absent,
            facts: calendars.clone(),
        },
        &mut work,
    ) else {
        return None;
    };
    if let Some(clock) = policy.clock
        && !clock_absent
        && (constrained[clock] || !policy.fields[clock].optional || !calendars.is_empty())
    {
        values[clock] = Some(LeadValue::Scalar(Scalar::from_time(instant)));
        constrained[clock] = true;
    }
    for (field, def) in policy.fields.iter().enumerate() {
        if values[field].is_none() && !constrained[field] && !def.optional {
            values[field] = Some(if def.name == "id" && def.ty == FieldType::String {
                LeadValue::Str(id.to_string())
            } else {
                default_value(policy, field)
            });
        }
    }
    let lead = Lead { values };
    let json = to_json(policy, &lead);
    Some(Example {
        lead,
        json,
        now: instant,
    })
}

fn default_value(policy: &Policy, field: FieldId) -> LeadValue {
    match policy.fields.get(field).map(|f| &f.ty) {
        Some(FieldType::Enum(_) | FieldType::Bool) => LeadValue::Variant(0),
        Some(FieldType::String) | None => LeadValue::Str("example".to_string()),
        Some(FieldType::Int) => LeadValue::Scalar(Scalar::Int(0)),
        Some(FieldType::Number) => LeadValue::Scalar(Scalar::Float(0.0)),
        Some(FieldType::Time) => LeadValue::Scalar(Scalar::from_time(anchor())),
    }
}

/// A string none of the rules mention.
fn fresh_string(excluded: &[String]) -> String {
    let mut candidate = "other".to_string();
    let mut counter = 1;
    while excluded.contains(&candidate) {
        candidate = format!("other-{counter}");
        counter += 1;
    }
    candidate
}

/// A readable value inside an elementary region.
fn representative(region: Interval, ty: &FieldType) -> Scalar {
    if matches!(ty, FieldType::Number) {
        let value = match (region.lo, region.hi) {
            (Bound::Inclusive(v), _) => v.as_f64(),
            (Bound::Exclusive(lo), Bound::Exclusive(hi) | Bound::Inclusive(hi)) => {
                super::intervals::nice_between(lo.as_f64(), hi.as_f64()).unwrap_or(lo.as_f64())
            }
            (Bound::Exclusive(lo), Bound::Unbounded) => super::intervals::nice_above(lo.as_f64()),
            (Bound::Unbounded, Bound::Inclusive(hi)) => hi.as_f64(),
            (Bound::Unbounded, Bound::Exclusive(hi)) => super::intervals::nice_below(hi.as_f64()),
            (Bound::Unbounded, Bound::Unbounded) => 0.0,
        };
        return Scalar::Float(value);
    }
    match (region.lo, region.hi) {
        (Bound::Inclusive(v), _) | (Bound::Unbounded, Bound::Inclusive(v)) => v,
        (Bound::Exclusive(Scalar::Int(v)), _) => Scalar::Int(v.saturating_add(1)),
        (Bound::Unbounded, Bound::Exclusive(Scalar::Int(v))) => Scalar::Int(v.saturating_sub(1)),
        _ => Scalar::Int(0),
    }
}

/// An instant that satisfies every calendar test of `context`, inside the clock region when
/// the lead's clock is in it. Membership in a calendar only changes at the start and end of a
/// working range and at midnight, so those instants (over six weeks from the region's start, on
/// every holiday and the week after it, and around every change of offset of the zones tested
/// over two years) are the only candidates to try.
fn instant_for(policy: &Policy, context: &TimeContext, work: &mut usize) -> Search {
    const DAY: i128 = 86_400 * 1_000_000_000;
    const WINDOW_DAYS: i128 = 42;
    let region = if context.clock_absent {
        None
    } else {
        context.clock
    };
    let lo = region.and_then(|r| bound_nanos(r.lo, 1));
    let hi = region.and_then(|r| bound_nanos(r.hi, -1));
    let start = match (lo, hi) {
        (Some(lo), _) => lo,
        (None, Some(hi)) => hi.min(anchor().as_nanosecond()) - WINDOW_DAYS * DAY,
        (None, None) => anchor().as_nanosecond(),
    };
    let in_region =
        |nanos: i128| lo.is_none_or(|lo| nanos >= lo) && hi.is_none_or(|hi| nanos <= hi);
    let satisfies = |nanos: i128| -> Option<Timestamp> {
        if !in_region(nanos) {
            return None;
        }
        let instant = Timestamp::from_nanosecond(nanos).ok()?;
        context
            .facts
            .iter()
            .all(|(calendar, inside)| {
                policy
                    .calendars
                    .get(*calendar)
                    .is_some_and(|c| c.contains(instant) == *inside)
            })
            .then_some(instant)
    };
    if context.facts.is_empty() {
        let plain = match (lo, hi) {
            (Some(lo), _) => lo,
            (None, Some(hi)) => hi.min(anchor().as_nanosecond()),
            (None, None) => anchor().as_nanosecond(),
        };
        return satisfies(plain).map_or(Search::Never, Search::Found);
    }
    let mut candidates: Vec<i128> = vec![start];
    let end = hi.map_or(start + WINDOW_DAYS * DAY, |hi| {
        hi.min(start + WINDOW_DAYS * DAY)
    });
    // The changes of offset of every zone tested, over two years from the start: calendars in
    // two zones can overlap only in the weeks when one has changed to summer time and the
    // other not yet (Berlin and New York, two or three weeks each spring).
    let changes: Vec<Timestamp> = Timestamp::from_nanosecond(start)
        .ok()
        .map(|from| {
            let until = from
                .checked_add(jiff::SignedDuration::from_hours(24 * 730))
                .unwrap_or(Timestamp::MAX);
            context
                .facts
                .iter()
                .filter_map(|(calendar, _)| policy.calendars.get(*calendar))
                .flat_map(|calendar| {
                    calendar
                        .zone
                        .following(from)
                        .take(8)
                        .map(|change| change.timestamp())
                        .filter(|at| *at <= until)
                        .collect::<Vec<_>>()
                })
                .collect()
        })
        .unwrap_or_default();
    for (calendar, _) in &context.facts {
        let Some(calendar) = policy.calendars.get(*calendar) else {
            continue;
        };
        let mut dates: Vec<jiff::civil::Date> = Vec::new();
        // The day before each change of offset and the week after it, in this calendar's zone.
        for change in &changes {
            let mut date = calendar.zone.to_datetime(*change).date();
            if let Ok(before) = date.yesterday() {
                date = before;
            }
            for _ in 0..9 {
                dates.push(date);
                match date.tomorrow() {
                    Ok(next) => date = next,
                    Err(_) => break,
                }
            }
        }
        if let (Ok(first), Ok(last)) = (
            Timestamp::from_nanosecond(start - DAY),
            Timestamp::from_nanosecond(end + DAY),
        ) {
            let mut date = calendar.zone.to_datetime(first).date();
            let last = calendar.zone.to_datetime(last).date();
            while date <= last {
                dates.push(date);
                match date.tomorrow() {
                    Ok(next) => date = next,
                    Err(_) => break,
                }
            }
        }
        // A holiday, and the week after it: without holidays, whether a day is open repeats
        // every week, so an open day after a run of holidays (a desk closed for eight
        // Saturdays) is at most a week after one of them, or in the window.
        for holiday in &calendar.holidays {
            dates.push(*holiday);
            let mut date = *holiday;
            for _ in 0..7 {
                match date.tomorrow() {
                    Ok(next) => {
                        dates.push(next);
                        date = next;
                    }
                    Err(_) => break,
                }
            }
        }
        // Making candidates is the search's larger part: it is charged too, a day's most.
        let per_date = calendar.week.iter().map(Vec::len).max().unwrap_or(0) * 2 + 1;
        for date in dates {
            if *work == 0 {
                return Search::GaveUp;
            }
            *work = work.saturating_sub(per_date);
            let day = date.weekday().to_monday_zero_offset() as usize;
            let mut seconds: Vec<u32> = vec![0];
            for (from, to) in calendar.week.get(day).into_iter().flatten() {
                seconds.push(*from);
                seconds.push(*to);
            }
            for second in seconds {
                let local = if second >= 86_400 {
                    match date.tomorrow() {
                        Ok(next) => next.to_datetime(jiff::civil::Time::midnight()),
                        Err(_) => continue,
                    }
                } else {
                    let Ok(time) = jiff::civil::Time::new(
                        i8::try_from(second / 3600).unwrap_or(0),
                        i8::try_from((second / 60) % 60).unwrap_or(0),
                        0,
                        0,
                    ) else {
                        continue;
                    };
                    date.to_datetime(time)
                };
                if let Ok(instant) = calendar.zone.to_ambiguous_timestamp(local).compatible() {
                    candidates.push(instant.as_nanosecond());
                }
            }
        }
    }
    candidates.sort_unstable();
    candidates.dedup();
    let cost = context.facts.len().max(1);
    for candidate in candidates {
        if *work < cost {
            return Search::GaveUp;
        }
        *work -= cost;
        if let Some(instant) = satisfies(candidate) {
            return Search::Found(instant);
        }
    }
    Search::Never
}

/// The nanosecond a discrete bound includes; `adjust` moves exclusive bounds inwards.
fn bound_nanos(bound: Bound, adjust: i128) -> Option<i128> {
    match bound {
        Bound::Inclusive(Scalar::Int(v)) => Some(v),
        Bound::Exclusive(Scalar::Int(v)) => Some(v + adjust),
        _ => None,
    }
}

/// The lead as one line of JSON, fields in schema order.
pub fn to_json(policy: &Policy, lead: &Lead) -> String {
    let mut out = String::from("{");
    let mut first = true;
    for (field, def) in policy.fields.iter().enumerate() {
        let Some(Some(value)) = lead.values.get(field) else {
            continue;
        };
        if !first {
            out.push_str(", ");
        }
        first = false;
        let _ = write!(out, "{}: ", serde_json::Value::String(def.name.clone()));
        let rendered = value_json(policy, field, value);
        out.push_str(&rendered);
    }
    out.push('}');
    out
}

/// The region a path describes, in words: "`intent` = `low`, `fit` = `weak`".
pub fn describe(policy: &Policy, path: &[Step]) -> String {
    let name = |field: &FieldId| policy.fields.get(*field).map_or("?", |f| f.name.as_str());
    let parts: Vec<String> = path
        .iter()
        .map(|step| match step {
            Step::Absent(field) => format!("`{}` not set", name(field)),
            Step::Present(field) => format!("`{}` set", name(field)),
            Step::Variant(field, variant) => {
                let word = match policy.fields.get(*field).map(|f| &f.ty) {
                    Some(FieldType::Enum(variants)) => {
                        variants.get(*variant as usize).cloned().unwrap_or_default()
                    }
                    _ => (if *variant == 1 { "true" } else { "false" }).to_string(),
                };
                format!("`{}` = `{word}`", name(field))
            }
            Step::Str(field, text) => format!(
                "`{}` = {}",
                name(field),
                serde_json::Value::String(text.clone())
            ),
            Step::OtherString(field, excluded) => {
                if excluded.is_empty() {
                    format!("any `{}`", name(field))
                } else {
                    let list: Vec<String> = excluded
                        .iter()
                        .map(|s| serde_json::Value::String(s.clone()).to_string())
                        .collect();
                    format!("`{}` not in {{{}}}", name(field), list.join(", "))
                }
            }
            Step::Range(field, region) => describe_interval(
                name(field),
                *region,
                policy.fields.get(*field).map(|f| &f.ty),
            ),
            Step::Inside(calendar, inside) => {
                let calendar = policy
                    .calendars
                    .get(*calendar)
                    .map_or("?", |c| c.name.as_str());
                if *inside {
                    format!("arrival inside `{calendar}` hours")
                } else {
                    format!("arrival outside `{calendar}` hours")
                }
            }
        })
        .collect();
    if parts.is_empty() {
        "any values".to_string()
    } else {
        parts.join(", ")
    }
}

fn describe_interval(name: &str, region: Interval, ty: Option<&FieldType>) -> String {
    // Discrete bounds are stored inclusive; `< 10:00:00` reads better than `<= 09:59:59.999999999`.
    let region = if matches!(ty, Some(FieldType::Time)) {
        const SECOND: i128 = 1_000_000_000;
        let lo = match region.lo {
            Bound::Inclusive(Scalar::Int(v)) if (v - 1).rem_euclid(SECOND) == 0 => {
                Bound::Exclusive(Scalar::Int(v - 1))
            }
            other => other,
        };
        let hi = match region.hi {
            Bound::Inclusive(Scalar::Int(v)) if (v + 1).rem_euclid(SECOND) == 0 => {
                Bound::Exclusive(Scalar::Int(v + 1))
            }
            other => other,
        };
        Interval { lo, hi }
    } else {
        region
    };
    let show = |value: Scalar| match (ty, value) {
        (Some(FieldType::Time), Scalar::Int(nanos)) => {
            Timestamp::from_nanosecond(nanos).map_or("?".to_string(), |t| t.to_string())
        }
        (_, Scalar::Int(int)) => int.to_string(),
        (_, Scalar::Float(float)) => float.to_string(),
    };
    match (region.lo, region.hi) {
        (Bound::Inclusive(lo), Bound::Inclusive(hi)) if lo == hi => {
            format!("`{name}` = {}", show(lo))
        }
        (Bound::Unbounded, Bound::Unbounded) => format!("`{name}` set"),
        (lo, hi) => {
            let mut parts = Vec::new();
            match lo {
                Bound::Inclusive(v) => parts.push(format!("`{name}` >= {}", show(v))),
                Bound::Exclusive(v) => parts.push(format!("`{name}` > {}", show(v))),
                Bound::Unbounded => {}
            }
            match hi {
                Bound::Inclusive(v) => parts.push(format!("`{name}` <= {}", show(v))),
                Bound::Exclusive(v) => parts.push(format!("`{name}` < {}", show(v))),
                Bound::Unbounded => {}
            }
            parts.join(" and ")
        }
    }
}

/// One lead value as JSON text.
pub fn value_json(policy: &Policy, field: FieldId, value: &LeadValue) -> String {
    policy.shown(field, value).to_json()
}
