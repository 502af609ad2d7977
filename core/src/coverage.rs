//! Coverage in time: the hours of the week when a rule sends leads to pools where nobody can
//! take them. For every rule whose actions are all pools, the times when no member of any of
//! those pools is working (by `on shift`; with `--warn off-shift`, by every pool's working
//! time) and the rule's condition can still hold (`inside CAL` / `outside CAL` decided at that
//! time) become an `off-shift-gap` warning with the gap, an example lead time and its wait.
//!
//! Holidays aside: the week's hours are what a policy promises; holidays are exceptions. Time
//! zones and daylight-saving changes are real: members in Berlin and New York cover different
//! hours in the weeks when only one of them has changed its clocks. The year looked at is fixed
//! (52 weeks from Monday 2026-01-05), so the same policy always gets the same warning.
//!
//! Rules match in order: at an instant when an earlier rule matches every lead (`when outside
//! berlin -> queue review`), a later rule is not warned for it.
//!
//! Invariant: no warning without a real gap: a rule with a queue, a named rep or a pool whose
//! members are always available among its actions is never warned.

use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Atom, CalendarDef, Cond, Policy};
use crate::syntax::ast::ActionKind;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use std::collections::BTreeMap;

/// Instants from and to, half-open.
type Gap = (Timestamp, Timestamp);

/// Which pools are held to their working time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Coverage {
    /// Only `on shift` pools (the default): elsewhere a lead waits in a rep's queue, by design.
    #[default]
    OnShift,
    /// Every pool with a calendar (`--warn off-shift`).
    Every,
}

/// The first day looked at, and how many weeks.
const START: (i16, i8, i8) = (2026, 1, 5);
const WEEKS: i64 = 52;

/// The `off-shift-gap` warnings of a policy.
pub fn off_shift_gaps(policy: &Policy, coverage: Coverage) -> Vec<Diagnostic> {
    let Ok(first) = Date::new(START.0, START.1, START.2) else {
        return Vec::new();
    };
    let Ok(start) = TimeZone::UTC.to_timestamp(first.to_datetime(Time::midnight())) else {
        return Vec::new();
    };
    let Ok(end) = start.checked_add(SignedDuration::from_hours(WEEKS * 7 * 24)) else {
        return Vec::new();
    };
    let mut cache: BTreeMap<usize, Vec<(Timestamp, Timestamp)>> = BTreeMap::new();
    let mut open = |id: usize| -> Vec<(Timestamp, Timestamp)> {
        cache
            .entry(id)
            .or_insert_with(|| {
                policy
                    .calendars
                    .get(id)
                    .map_or_else(Vec::new, |calendar| working(calendar, first, start, end))
            })
            .clone()
    };
    let mut diagnostics = Vec::new();
    for (position, rule) in policy.rules.iter().enumerate() {
        let Some(pools) = pool_chain(policy, rule, coverage) else {
            continue;
        };
        // Earlier rules take their leads first: at an instant when one of them matches whatever
        // the lead (`when outside berlin -> queue q`), this rule sees no lead.
        let earlier = &policy.rules[..position];
        // Every calendar that says when someone can take the lead, per pool.
        let members: Vec<Vec<Vec<(Timestamp, Timestamp)>>> = pools
            .iter()
            .map(|calendars| calendars.iter().map(|id| open(*id)).collect())
            .collect();
        let mut conditions: Vec<usize> = Vec::new();
        for cond in earlier.iter().map(|rule| &rule.cond).chain([&rule.cond]) {
            cond.for_each_atom(&mut |atom| {
                if let Atom::Inside(id) = atom
                    && !conditions.contains(id)
                {
                    conditions.push(*id);
                }
            });
        }
        let condition_hours: Vec<(usize, Vec<(Timestamp, Timestamp)>)> =
            conditions.iter().map(|id| (*id, open(*id))).collect();
        let mut cuts: Vec<Timestamp> = vec![start, end];
        for intervals in members
            .iter()
            .flatten()
            .chain(condition_hours.iter().map(|(_, hours)| hours))
        {
            for (from, to) in intervals {
                cuts.push(*from);
                cuts.push(*to);
            }
        }
        cuts.retain(|cut| start <= *cut && *cut <= end);
        cuts.sort_unstable();
        cuts.dedup();
        let mut gaps: Vec<(Timestamp, Timestamp)> = Vec::new();
        for pair in cuts.windows(2) {
            let (from, to) = (pair[0], pair[1]);
            let covered = members
                .iter()
                .any(|pool| pool.iter().any(|hours| holds(hours, from)));
            if covered {
                continue;
            }
            let mut at_this_time = |atom: &Atom| match atom {
                Atom::Inside(id) => condition_hours
                    .iter()
                    .find(|(calendar, _)| calendar == id)
                    .map(|(_, hours)| holds(hours, from)),
                _ => None,
            };
            let can_fire = rule.cond.simplify(&mut at_this_time) != Cond::False
                && !earlier
                    .iter()
                    .any(|rule| rule.cond.simplify(&mut at_this_time) == Cond::True);
            if !can_fire {
                continue;
            }
            match gaps.last_mut() {
                Some(last) if last.1 == from => last.1 = to,
                _ => gaps.push((from, to)),
            }
        }
        if gaps.is_empty() {
            continue;
        }
        let zone = display_zone(policy, rule);
        let total: i64 = gaps.iter().map(|(from, to)| (*to - *from).as_secs()).sum();
        // A lead the rule took waits for the first member to start, which may be after the
        // gap ends (when the rule's own hours end first: `inside CALENDAR`): a member of the
        // first pool that has working time, as `route` waits for them (`else` pools only when
        // it has none).
        let mut starts: Vec<Timestamp> = members
            .iter()
            .find(|pool| pool.iter().any(|hours| !hours.is_empty()))
            .into_iter()
            .flatten()
            .flatten()
            .map(|(from, _)| *from)
            .collect();
        starts.sort_unstable();
        let timing = Timing {
            year: (start, end),
            starts: &starts,
        };
        if let Some(diagnostic) = describe(policy, rule, &gaps, total, &zone, timing) {
            diagnostics.push(diagnostic);
        }
    }
    diagnostics
}

/// The calendars of each pool among the rule's actions (a member's own, else the pool's), or
/// `None` when the rule is not for this analysis: an action that is no pool, or a pool some
/// member of which is always available.
fn pool_chain(
    policy: &Policy,
    rule: &crate::model::RuleDef,
    coverage: Coverage,
) -> Option<Vec<Vec<usize>>> {
    let mut pools = Vec::new();
    for action in &rule.syntax.actions {
        let ActionKind::Pool(name) = &action.kind else {
            return None;
        };
        let pool = policy.pools.iter().find(|pool| pool.name == name.name)?;
        if coverage == Coverage::OnShift && !pool.on_shift {
            return None;
        }
        let mut calendars = Vec::new();
        for member in &pool.members {
            calendars.push(policy.member_calendar(Some(pool), member)?);
        }
        calendars.sort_unstable();
        calendars.dedup();
        pools.push(calendars);
    }
    (!pools.is_empty()).then_some(pools)
}

/// Whether `at` falls in one of the (sorted, disjoint) intervals.
fn holds(intervals: &[(Timestamp, Timestamp)], at: Timestamp) -> bool {
    let index = intervals.partition_point(|(from, _)| *from <= at);
    index > 0 && at < intervals[index - 1].1
}

/// A calendar's working intervals from `first` (a day early and late for the zones' offsets),
/// holidays aside, merged and clipped to `[start, end)`.
fn working(
    calendar: &CalendarDef,
    first: Date,
    start: Timestamp,
    end: Timestamp,
) -> Vec<(Timestamp, Timestamp)> {
    let mut intervals: Vec<(Timestamp, Timestamp)> = Vec::new();
    let mut day = first.yesterday().unwrap_or(first);
    for _ in 0..(WEEKS * 7 + 2) {
        let weekday = day.weekday().to_monday_zero_offset() as usize;
        for (from, to) in calendar.week.get(weekday).into_iter().flatten() {
            let (Some(from), Some(to)) = (
                calendar.instant_at(day, *from),
                calendar.instant_at(day, *to),
            ) else {
                continue;
            };
            let (from, to) = (from.max(start), to.min(end));
            if from >= to {
                continue;
            }
            match intervals.last_mut() {
                Some(last) if last.1 >= from => last.1 = last.1.max(to),
                _ => intervals.push((from, to)),
            }
        }
        let Ok(next) = day.tomorrow() else {
            break;
        };
        day = next;
    }
    intervals
}

/// The zone a rule's gaps are shown in: its first pool's calendar, else a member's.
fn display_zone(policy: &Policy, rule: &crate::model::RuleDef) -> (TimeZone, String) {
    let calendar = rule
        .syntax
        .actions
        .iter()
        .find_map(|action| match &action.kind {
            ActionKind::Pool(name) => policy.pools.iter().find(|pool| pool.name == name.name),
            _ => None,
        })
        .and_then(|pool| {
            pool.calendar.or_else(|| {
                pool.members
                    .iter()
                    .find_map(|member| policy.member_calendar(Some(pool), member))
            })
        })
        .and_then(|id| policy.calendars.get(id));
    match calendar {
        Some(calendar) => (calendar.zone.clone(), calendar.zone_name().to_string()),
        None => (TimeZone::UTC, "UTC".to_string()),
    }
}

/// "Sat 00:00" in the zone.
fn shown(at: Timestamp, zone: &TimeZone) -> String {
    zone.to_datetime(at).strftime("%a %H:%M").to_string()
}

/// Hours, rounded: "47h"; under an hour, minutes (the week's average of hours with nobody).
fn hours(seconds: i64) -> String {
    if seconds < 3_600 {
        format!("{}m", (seconds + 30) / 60)
    } else {
        format!("{}h", (seconds + 1_800) / 3_600)
    }
}

/// Hours and minutes, to the minute: "47h", "1h29m", "45m" (how long one lead waits).
fn to_the_minute(seconds: i64) -> String {
    let minutes = (seconds + 30) / 60;
    match (minutes / 60, minutes % 60) {
        (0, minutes) => format!("{minutes}m"),
        (hours, 0) => format!("{hours}h"),
        (hours, minutes) => format!("{hours}h{minutes}m"),
    }
}

/// The year looked at, and every instant a member of the rule's pools starts working (sorted).
struct Timing<'a> {
    year: (Timestamp, Timestamp),
    starts: &'a [Timestamp],
}

/// The warning: the longest usual gap (of those that recur at the same local times, the one
/// whose usual length is longest), an example lead time in it and how long it waits: until the
/// first member starts, which is the gap's end or, when the rule stops taking leads first, later.
fn describe(
    policy: &Policy,
    rule: &crate::model::RuleDef,
    gaps: &[(Timestamp, Timestamp)],
    total: i64,
    (zone, zone_name): &(TimeZone, String),
    timing: Timing<'_>,
) -> Option<Diagnostic> {
    let (start, end) = timing.year;
    // Gaps cut by the year's ends are not whole gaps.
    let whole: Vec<&(Timestamp, Timestamp)> = gaps
        .iter()
        .filter(|(from, to)| *from > start && *to < end)
        .collect();
    let chosen = if whole.is_empty() {
        gaps.first()?
    } else {
        // Group by the local times they run between; a group's usual length is its most common.
        let mut groups: BTreeMap<(String, String), BTreeMap<i64, Vec<&Gap>>> = BTreeMap::new();
        for gap in &whole {
            groups
                .entry((shown(gap.0, zone), shown(gap.1, zone)))
                .or_default()
                .entry((gap.1 - gap.0).as_secs())
                .or_default()
                .push(gap);
        }
        // Gaps that come back in at least a quarter of the weeks are the week's pattern; the
        // others are the weeks around a daylight-saving change, shown only if nothing recurs.
        let usual: Vec<(usize, i64, &Gap)> = groups
            .values()
            .filter_map(|lengths| {
                let times: usize = lengths.values().map(Vec::len).sum();
                lengths
                    .iter()
                    .max_by_key(|(length, gaps)| (gaps.len(), **length))
                    .map(|(length, gaps)| (times, *length, gaps[0]))
            })
            .collect();
        let recurring = usual
            .iter()
            .filter(|(times, _, _)| *times as i64 >= WEEKS / 4)
            .max_by_key(|(_, length, gap)| (*length, std::cmp::Reverse(gap.0)));
        let any = usual
            .iter()
            .max_by_key(|(_, length, gap)| (*length, std::cmp::Reverse(gap.0)));
        recurring.or(any)?.2
    };
    let (from, to) = *chosen;
    let always = from <= start && to >= end;
    // A lead at 10:00 local in the gap, if the gap has one (a working hour for most people),
    // else one at the gap's start.
    let mut example = from;
    let mut probe = zone.to_datetime(from).date();
    while let Some(at) = local_in(zone, probe, 10) {
        if at >= to {
            break;
        }
        if at >= from {
            example = at;
            break;
        }
        let Ok(next) = probe.tomorrow() else { break };
        probe = next;
    }
    let weekly = total / WEEKS;
    let pools: Vec<String> = rule
        .syntax
        .actions
        .iter()
        .filter_map(|action| match &action.kind {
            ActionKind::Pool(name) => Some(format!("pool {}", name.name)),
            _ => None,
        })
        .collect();
    let on_shift = rule.syntax.actions.iter().any(|action| {
        matches!(&action.kind, ActionKind::Pool(name)
            if policy.pools.iter().any(|pool| pool.name == name.name && pool.on_shift))
    });
    let nobody = if on_shift {
        "nobody on shift"
    } else {
        "nobody working"
    };
    let message = if always {
        format!(
            "rule `{}` -> {}: {nobody} at any hour of the week (no member has working time)",
            rule.label,
            pools.join(" else "),
        )
    } else {
        format!(
            "rule `{}` -> {}: {nobody} {} - {} {zone_name}; a lead at {} waits {}",
            rule.label,
            pools.join(" else "),
            shown(from, zone),
            shown(to, zone),
            shown(example, zone),
            to_the_minute(
                (first_start(timing.starts, example).unwrap_or(to).max(to) - example).as_secs()
            ),
        )
    };
    Some(
        Diagnostic::new(Code::OffShiftGap, rule.head_span, message)
            .with_label(format!(
                "{} a week with nobody to take its leads",
                hours(weekly)
            ))
            .with_help(
                "add `else` with a pool or queue that takes leads then, or a weekend pool; or \
             limit the rule to working time with `inside CALENDAR`",
            ),
    )
}

/// The first instant at or after `at` when a member starts working.
fn first_start(starts: &[Timestamp], at: Timestamp) -> Option<Timestamp> {
    starts
        .get(starts.partition_point(|start| *start < at))
        .copied()
}

/// The instant of `hour`:00 local on `date`.
fn local_in(zone: &TimeZone, date: Date, hour: i8) -> Option<Timestamp> {
    let time = Time::new(hour, 0, 0, 0).ok()?;
    zone.to_ambiguous_timestamp(date.to_datetime(time))
        .compatible()
        .ok()
}
