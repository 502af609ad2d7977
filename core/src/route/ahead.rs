//! A lead's due and escalation times computed ahead of its decision (on `route`'s reading
//! thread, as the rule it matches is): for its rule, on the rule's own calendar, from the
//! lead's time. The decision takes them when its clock is that one, which it is unless a pool
//! with another calendar took the lead or `on shift` fell back to a rep who starts later; then
//! it computes its own. Either way the times are the same: the working-time clock answers the
//! same through any [`DayCache`].

use super::clock::{self, DayCache};
use crate::model::time::LocalTime;
use crate::model::{EvalContext, Lead, Policy, RuleDef};
use crate::syntax::ast::{ActionKind, DurationKind};
use jiff::Timestamp;

/// The most escalation steps of a rule whose times are computed ahead.
const MOST_STEPS: usize = 4;

/// A lead's times, computed ahead for its rule from `start` on `calendar`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimesFound {
    /// The rule they are of, as an index into the policy's rules.
    rule: usize,
    /// When the clock started: the lead's time.
    start: Timestamp,
    /// The calendar the clock ran on, as an index into the policy's calendars.
    calendar: Option<usize>,
    /// The due time: `None` without a `within`, `Some(None)` without working time ahead.
    due: Option<Option<LocalTime>>,
    /// Per escalation step of the rule, in order, its time (`None` for a step without one).
    steps: [Option<LocalTime>; MOST_STEPS],
}

impl TimesFound {
    /// The times, when they were computed for `rule` from `start` on `calendar`.
    pub(super) fn of(
        found: Option<&TimesFound>,
        rule: usize,
        start: Timestamp,
        calendar: Option<usize>,
    ) -> Option<&TimesFound> {
        found.filter(|found| {
            found.rule == rule && found.start == start && found.calendar == calendar
        })
    }

    /// The due time: `None` without a `within`, `Some(None)` without working time ahead.
    pub(super) fn due(&self) -> Option<Option<LocalTime>> {
        self.due
    }

    /// The time of escalation step `index`.
    pub(super) fn step(&self, index: usize) -> Option<LocalTime> {
        self.steps.get(index).copied().flatten()
    }
}

/// Computes [`TimesFound`] for the leads of one policy: each rule's calendar found once, and
/// the dates met remembered.
#[derive(Debug)]
pub struct TimesAhead {
    rule_calendars: Vec<Option<usize>>,
    days: DayCache,
}

impl TimesAhead {
    pub fn new(policy: &Policy) -> TimesAhead {
        TimesAhead {
            rule_calendars: rule_calendars(policy),
            days: DayCache::default(),
        }
    }

    /// The times of `lead`, which matches `rule` of `policy` (the one [`TimesAhead::new`] was
    /// given); `None` for a rule with more escalation steps than are kept.
    pub fn times(
        &self,
        policy: &Policy,
        rule: usize,
        lead: &Lead,
        context: &EvalContext,
    ) -> Option<TimesFound> {
        let def = policy.rules.get(rule)?;
        if def.syntax.escalations.len() > MOST_STEPS {
            return None;
        }
        let start = policy.clock_of(lead, context);
        let calendar = self.rule_calendars.get(rule).copied().flatten();
        let on = calendar.and_then(|index| policy.calendars.get(index));
        let mut steps = [None; MOST_STEPS];
        for (slot, after) in steps.iter_mut().zip(step_durations(def)) {
            *slot = after.and_then(|after| local_time(start, after, on, &self.days));
        }
        Some(TimesFound {
            rule,
            start,
            calendar,
            due: def
                .syntax
                .within
                .map(|within| local_time(start, within.kind, on, &self.days)),
            steps,
        })
    }
}

/// Per rule of `policy`, the calendar of the first pool in its actions that has one: the SLA
/// clock's, unless a pool with another calendar takes the lead.
pub(super) fn rule_calendars(policy: &Policy) -> Vec<Option<usize>> {
    policy
        .rules
        .iter()
        .map(|rule| {
            rule.syntax
                .actions
                .iter()
                .find_map(|action| match &action.kind {
                    ActionKind::Pool(name) => policy
                        .pools
                        .iter()
                        .find(|pool| pool.name == name.name)
                        .and_then(|pool| pool.calendar),
                    _ => None,
                })
        })
        .collect()
}

/// Per escalation step of `rule`, in order, the duration after which it fires: its own, else
/// the rule's `within`; `None` for a step with neither (it has no time, and no step is made).
pub(super) fn step_durations(rule: &RuleDef) -> impl Iterator<Item = Option<DurationKind>> + '_ {
    let syntax = &rule.syntax;
    syntax.escalations.iter().map(|escalation| {
        escalation
            .after
            .or(syntax.within)
            .map(|duration| duration.kind)
    })
}

/// `start` plus `duration` on `calendar`, in its zone (UTC without one).
pub(super) fn local_time(
    start: Timestamp,
    duration: DurationKind,
    calendar: Option<&crate::model::CalendarDef>,
    days: &DayCache,
) -> Option<LocalTime> {
    let (instant, offset) = clock::add_local(start, duration, calendar, days)?;
    Some(LocalTime { instant, offset })
}
