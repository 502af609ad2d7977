//! The pools, queues and calendars that one policy declares differently from the other.

use crate::model::{CalendarDef, Policy, PoolDef, StrategyDef};
use crate::syntax::ast::ActionKind;

/// A kind of declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeclarationKind {
    Pool,
    /// A `rep` item: a rep's own calendar and caps.
    Rep,
    Queue,
    Calendar,
}

impl DeclarationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeclarationKind::Pool => "pool",
            DeclarationKind::Rep => "rep",
            DeclarationKind::Queue => "queue",
            DeclarationKind::Calendar => "calendar",
        }
    }
}

/// Whether a declaration was added, removed or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Added,
    Removed,
    Changed,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Added => "added",
            Presence::Removed => "removed",
            Presence::Changed => "changed",
        }
    }
}

/// A pool, queue or calendar that one policy declares differently from the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclarationChange {
    pub kind: DeclarationKind,
    pub name: String,
    pub presence: Presence,
    /// What changed, one item each: "members: anna, boris -> anna, boris, chen".
    pub details: Vec<String>,
    /// For a pool, NEW's rules that send leads to it (as an action or escalation target); for a
    /// calendar, NEW's pools whose SLA clock it is.
    pub used_by: Vec<String>,
    /// A lead and a time that OLD and NEW route differently because of this change, when
    /// routing finds one (see `witness.rs`).
    pub example: Option<DeclarationExample>,
}

/// A lead and a time at which the two policies decide differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclarationExample {
    /// The lead as one line of JSON (its clock field set to `at` when it has one).
    pub lead: String,
    /// When it is routed.
    pub at: jiff::Timestamp,
    /// How many leads like it came before it at that time (0: the lead alone).
    pub earlier: usize,
    /// What OLD decides, and what NEW decides: "pool `desk` (rep anna), due …".
    pub old: String,
    pub new: String,
}

impl DeclarationChange {
    /// Whether it changes what happens to some lead (a changed pool, rep or calendar; a `rep`
    /// item added or removed changes that rep's hours or caps).
    pub fn matters(&self) -> bool {
        self.presence == Presence::Changed || self.kind == DeclarationKind::Rep
    }
}

/// The pools, queues and calendars that differ.
pub(super) fn declarations(old: &Policy, new: &Policy) -> Vec<DeclarationChange> {
    let mut out = Vec::new();
    pool_changes(old, new, &mut out);
    rep_changes(old, new, &mut out);
    queue_changes(old, new, &mut out);
    calendar_changes(old, new, &mut out);
    out
}

/// The pools only one side declares, and those both declare differently (each with NEW's rules
/// that send leads to it).
fn pool_changes(old: &Policy, new: &Policy, out: &mut Vec<DeclarationChange>) {
    let used_by = |name: &str| -> Vec<String> {
        new.rules
            .iter()
            .filter(|rule| {
                rule.syntax.actions.iter().any(|a| match &a.kind {
                    ActionKind::Pool(pool) => pool.name == name,
                    _ => false,
                }) || rule
                    .syntax
                    .escalations
                    .iter()
                    .any(|e| e.target.name == name)
            })
            .map(|rule| rule.label.clone())
            .collect()
    };
    for pool in &old.pools {
        match new.pools.iter().find(|p| p.name == pool.name) {
            None => out.push(DeclarationChange {
                kind: DeclarationKind::Pool,
                name: pool.name.clone(),
                presence: Presence::Removed,
                details: Vec::new(),
                used_by: Vec::new(),
                example: None,
            }),
            Some(other) => {
                let mut details = Vec::new();
                if pool.members != other.members {
                    details.push(format!(
                        "members: {} -> {}",
                        pool.members.join(", "),
                        other.members.join(", ")
                    ));
                }
                let (a, b) = (strategy(pool), strategy(other));
                if a != b {
                    details.push(format!("strategy: {a} -> {b}"));
                }
                cap_details(
                    (pool.cap, &pool.period_caps),
                    (other.cap, &other.period_caps),
                    &mut details,
                );
                if pool.on_shift != other.on_shift {
                    let show = |on: bool| if on { "on shift" } else { "any time" };
                    details.push(format!(
                        "members take leads: {} -> {}",
                        show(pool.on_shift),
                        show(other.on_shift)
                    ));
                }
                let (a, b) = (
                    calendar_name(old, pool.calendar),
                    calendar_name(new, other.calendar),
                );
                if a != b {
                    details.push(format!("calendar: {a} -> {b}"));
                }
                if !details.is_empty() {
                    out.push(DeclarationChange {
                        kind: DeclarationKind::Pool,
                        name: pool.name.clone(),
                        presence: Presence::Changed,
                        details,
                        used_by: used_by(&pool.name),
                        example: None,
                    });
                }
            }
        }
    }
    for pool in &new.pools {
        if !old.pools.iter().any(|p| p.name == pool.name) {
            out.push(DeclarationChange {
                kind: DeclarationKind::Pool,
                name: pool.name.clone(),
                presence: Presence::Added,
                details: Vec::new(),
                used_by: used_by(&pool.name),
                example: None,
            });
        }
    }
}

/// The name of a calendar by its id in `policy`, or `none`.
fn calendar_name(policy: &Policy, id: Option<usize>) -> String {
    id.and_then(|c| policy.calendars.get(c))
        .map_or("none".to_string(), |c| c.name.clone())
}

/// `cap` and `cap per PERIOD` differences, one detail each: "cap per day: none -> 5".
fn cap_details(
    old: (Option<u64>, &[(crate::model::Period, u64)]),
    new: (Option<u64>, &[(crate::model::Period, u64)]),
    details: &mut Vec<String>,
) {
    let show = |cap: Option<u64>| cap.map_or("none".to_string(), |c| c.to_string());
    if old.0 != new.0 {
        details.push(format!("cap: {} -> {}", show(old.0), show(new.0)));
    }
    let of = |caps: &[(crate::model::Period, u64)], period| {
        caps.iter().find(|(p, _)| *p == period).map(|(_, n)| *n)
    };
    for period in [
        crate::model::Period::Hour,
        crate::model::Period::Day,
        crate::model::Period::Week,
    ] {
        let (a, b) = (of(old.1, period), of(new.1, period));
        if a != b {
            details.push(format!(
                "cap per {}: {} -> {}",
                period.word(),
                show(a),
                show(b)
            ));
        }
    }
}

/// The `rep` items only one side declares, and those both declare differently (each with NEW's
/// pools the rep is a member of).
fn rep_changes(old: &Policy, new: &Policy, out: &mut Vec<DeclarationChange>) {
    let pools_of = |name: &str| -> Vec<String> {
        new.pools
            .iter()
            .filter(|pool| pool.members.iter().any(|member| member == name))
            .map(|pool| pool.name.clone())
            .collect()
    };
    for rep in &old.reps {
        match new.reps.iter().find(|r| r.name == rep.name) {
            None => out.push(DeclarationChange {
                kind: DeclarationKind::Rep,
                name: rep.name.clone(),
                presence: Presence::Removed,
                details: Vec::new(),
                used_by: pools_of(&rep.name),
                example: None,
            }),
            Some(other) => {
                let mut details = Vec::new();
                let (a, b) = (
                    calendar_name(old, rep.calendar),
                    calendar_name(new, other.calendar),
                );
                if a != b {
                    details.push(format!("calendar: {a} -> {b}"));
                }
                cap_details(
                    (rep.cap, &rep.period_caps),
                    (other.cap, &other.period_caps),
                    &mut details,
                );
                if !details.is_empty() {
                    out.push(DeclarationChange {
                        kind: DeclarationKind::Rep,
                        name: rep.name.clone(),
                        presence: Presence::Changed,
                        details,
                        used_by: pools_of(&rep.name),
                        example: None,
                    });
                }
            }
        }
    }
    for rep in &new.reps {
        if !old.reps.iter().any(|r| r.name == rep.name) {
            out.push(DeclarationChange {
                kind: DeclarationKind::Rep,
                name: rep.name.clone(),
                presence: Presence::Added,
                details: Vec::new(),
                used_by: pools_of(&rep.name),
                example: None,
            });
        }
    }
}

/// The queues only one side declares.
fn queue_changes(old: &Policy, new: &Policy, out: &mut Vec<DeclarationChange>) {
    for (from, to, presence) in [(old, new, Presence::Removed), (new, old, Presence::Added)] {
        for queue in &from.queues {
            if !to.queues.contains(queue) {
                out.push(DeclarationChange {
                    kind: DeclarationKind::Queue,
                    name: queue.clone(),
                    presence,
                    details: Vec::new(),
                    used_by: Vec::new(),
                    example: None,
                });
            }
        }
    }
}

/// The calendars only one side declares, and those both declare differently (each with NEW's
/// pools whose SLA clock it is).
fn calendar_changes(old: &Policy, new: &Policy, out: &mut Vec<DeclarationChange>) {
    for calendar in &old.calendars {
        match new.calendars.iter().find(|c| c.name == calendar.name) {
            None => out.push(DeclarationChange {
                kind: DeclarationKind::Calendar,
                name: calendar.name.clone(),
                presence: Presence::Removed,
                details: Vec::new(),
                used_by: Vec::new(),
                example: None,
            }),
            Some(other) => {
                let details = calendar_details(calendar, other);
                if !details.is_empty() {
                    // The pools whose SLA clock it is, in NEW.
                    let index = new.calendars.iter().position(|c| c.name == calendar.name);
                    let used_by = new
                        .pools
                        .iter()
                        .filter(|pool| pool.calendar.is_some() && pool.calendar == index)
                        .map(|pool| pool.name.clone())
                        .collect();
                    out.push(DeclarationChange {
                        kind: DeclarationKind::Calendar,
                        name: calendar.name.clone(),
                        presence: Presence::Changed,
                        details,
                        used_by,
                        example: None,
                    });
                }
            }
        }
    }
    for calendar in &new.calendars {
        if !old.calendars.iter().any(|c| c.name == calendar.name) {
            out.push(DeclarationChange {
                kind: DeclarationKind::Calendar,
                name: calendar.name.clone(),
                presence: Presence::Added,
                details: Vec::new(),
                used_by: Vec::new(),
                example: None,
            });
        }
    }
}

fn strategy(pool: &PoolDef) -> String {
    match &pool.strategy {
        StrategyDef::RoundRobin => "round_robin".to_string(),
        StrategyDef::LeastLoaded => "least_loaded".to_string(),
        StrategyDef::Ordered => "ordered".to_string(),
        StrategyDef::Weighted(weights) => {
            let parts: Vec<String> = pool
                .members
                .iter()
                .zip(weights)
                .map(|(member, weight)| format!("{member}={weight}"))
                .collect();
            format!("weighted({})", parts.join(", "))
        }
    }
}

fn calendar_details(old: &CalendarDef, new: &CalendarDef) -> Vec<String> {
    let mut details = Vec::new();
    if old.zone != new.zone {
        let zone = |c: &CalendarDef| c.zone_name().to_string();
        details.push(format!("timezone: {} -> {}", zone(old), zone(new)));
    }
    if old.week != new.week {
        details.push(format!("hours: {} -> {}", hours(old), hours(new)));
    }
    if old.holidays != new.holidays {
        let added: Vec<String> = new
            .holidays
            .difference(&old.holidays)
            .map(ToString::to_string)
            .collect();
        let removed: Vec<String> = old
            .holidays
            .difference(&new.holidays)
            .map(ToString::to_string)
            .collect();
        let mut parts = Vec::new();
        if !added.is_empty() {
            parts.push(format!("added {}", added.join(", ")));
        }
        if !removed.is_empty() {
            parts.push(format!("removed {}", removed.join(", ")));
        }
        details.push(format!("holidays: {}", parts.join("; ")));
    }
    details
}

/// Working hours as written: `mon-fri 09:00-18:00, sat 10:00-14:00`.
fn hours(calendar: &CalendarDef) -> String {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let clock = |seconds: u32| format!("{:02}:{:02}", seconds / 3600, seconds / 60 % 60);
    let ranges = |day: usize| -> String {
        calendar.week[day]
            .iter()
            .map(|(from, to)| format!("{}-{}", clock(*from), clock(*to)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    let mut day = 0;
    while day < 7 {
        let text = ranges(day);
        let mut last = day;
        while last + 1 < 7 && ranges(last + 1) == text {
            last += 1;
        }
        if !text.is_empty() {
            let days = if last == day {
                DAYS[day].to_string()
            } else {
                format!("{}-{}", DAYS[day], DAYS[last])
            };
            parts.push(format!("{days} {text}"));
        }
        day = last + 1;
    }
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(", ")
    }
}
