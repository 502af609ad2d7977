//! What each side of a change decides for a lead: the rule's [`Verdict`] with its [`Routing`]
//! (actions, SLA as a [`Delay`], escalations), and how two verdicts differ ([`ChangeKind`]).

use crate::model::{Policy, RuleDef};
use crate::syntax::ast::{ActionKind, BusinessUnit, DurationKind};
use std::cmp::Ordering;

/// An SLA or escalation time as it counts: working (or wall-clock) seconds, or business days.
/// `N business hours` is `N * 3600` working seconds, exactly as the clock adds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delay {
    Seconds(u64),
    BusinessDays(u64),
}

impl Delay {
    pub fn from_kind(kind: DurationKind) -> Delay {
        match kind {
            DurationKind::Fixed { seconds } => Delay::Seconds(seconds),
            DurationKind::Business {
                count,
                unit: BusinessUnit::Hours,
            } => Delay::Seconds(count.saturating_mul(3_600)),
            DurationKind::Business {
                count,
                unit: BusinessUnit::Days,
            } => Delay::BusinessDays(count),
        }
    }

    /// `15m`, `1h30m`, `2 business days`.
    pub fn show(self) -> String {
        match self {
            Delay::Seconds(seconds) => DurationKind::Fixed { seconds }.to_string(),
            Delay::BusinessDays(count) => {
                format!("{count} business day{}", if count == 1 { "" } else { "s" })
            }
        }
    }

    /// Which is shorter, when that can be told without a calendar.
    pub fn compare(self, other: Delay) -> Option<Ordering> {
        match (self, other) {
            (Delay::Seconds(a), Delay::Seconds(b))
            | (Delay::BusinessDays(a), Delay::BusinessDays(b)) => Some(a.cmp(&b)),
            _ => None,
        }
    }
}

/// One action of a rule, with its target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    Pool(String),
    Queue(String),
    /// `rep NAME`, or `rep FIELD` (the rep named in a string field of the lead).
    Rep {
        name: String,
        field: bool,
    },
    OwnerOf(String),
    /// `previous rep of FIELD since D` (D in seconds).
    PreviousRep {
        field: String,
        since: u64,
    },
}

impl Action {
    /// As written: `pool senior`, `rep anna`, `owner of parent_account`, `queue review`.
    pub fn describe(&self) -> String {
        match self {
            Action::Pool(name) => format!("pool {name}"),
            Action::Queue(name) => format!("queue {name}"),
            Action::Rep { name, .. } => format!("rep {name}"),
            Action::OwnerOf(name) => format!("owner of {name}"),
            Action::PreviousRep { field, since } => format!(
                "previous rep of {field} since {}",
                crate::syntax::ast::look_back(*since)
            ),
        }
    }
}

/// An escalation: where the lead goes when the SLA is missed, and after how long.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Escalation {
    pub to: String,
    /// `after`, else the rule's `within`.
    pub after: Option<Delay>,
}

/// What a rule does with a lead, as the lead sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Routing {
    /// The actions in `else` order.
    pub actions: Vec<Action>,
    pub within: Option<Delay>,
    pub escalations: Vec<Escalation>,
    /// The tags decisions carry, sorted by name (declaration order may differ between sides).
    pub tags: Vec<String>,
}

impl Routing {
    pub fn of(policy: &Policy, rule: &RuleDef) -> Routing {
        let syntax = &rule.syntax;
        let within = syntax.within.map(|d| Delay::from_kind(d.kind));
        Routing {
            actions: syntax
                .actions
                .iter()
                .map(|action| match &action.kind {
                    ActionKind::Pool(name) => Action::Pool(name.name.clone()),
                    ActionKind::Queue(name) => Action::Queue(name.name.clone()),
                    ActionKind::Rep(name) => Action::Rep {
                        name: name.name.clone(),
                        field: policy.field_id(&name.name).is_some(),
                    },
                    ActionKind::OwnerOf(name) => Action::OwnerOf(name.name.clone()),
                    ActionKind::PreviousRep { field, since } => Action::PreviousRep {
                        field: field.name.clone(),
                        since: match since.map(|since| since.kind) {
                            Some(DurationKind::Fixed { seconds }) => seconds,
                            _ => crate::syntax::ast::PREVIOUS_REP_DEFAULT_SECONDS,
                        },
                    },
                })
                .collect(),
            within,
            escalations: syntax
                .escalations
                .iter()
                .map(|e| Escalation {
                    to: e.target.name.clone(),
                    after: e.after.map(|d| Delay::from_kind(d.kind)).or(within),
                })
                .collect(),
            tags: {
                let mut tags: Vec<String> = rule
                    .tags
                    .iter()
                    .filter_map(|&tag| policy.tags.get(tag).cloned())
                    .collect();
                tags.sort();
                tags
            },
        }
    }

    /// `sms, create_task`, or `none`.
    pub fn tag_list(&self) -> String {
        if self.tags.is_empty() {
            "none".to_string()
        } else {
            self.tags.join(", ")
        }
    }

    /// `pool senior within 15m, escalate backup after 30m`; `pool sdr else queue review`.
    pub fn describe(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        let actions: Vec<String> = self.actions.iter().map(Action::describe).collect();
        let mut head = actions.join(" else ");
        if let Some(within) = self.within {
            head.push_str(&format!(" within {}", within.show()));
        }
        out.push(head);
        for escalation in &self.escalations {
            out.push(match escalation.after {
                Some(after) => format!("escalate {} after {}", escalation.to, after.show()),
                None => format!("escalate {}", escalation.to),
            });
        }
        if !self.tags.is_empty() {
            out.push(format!("tag {}", self.tags.join(", ")));
        }
        out.join(", ")
    }
}

/// One side of a change: the rule that decides (its index in its policy), or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The rule's index in its policy; `None` when no rule matches.
    pub rule: Option<usize>,
    /// The rule's label (`hot`, `#3`).
    pub label: Option<String>,
    pub line: Option<usize>,
    pub routing: Option<Routing>,
}

impl Verdict {
    pub(super) fn of(policy: &Policy, rule: Option<usize>) -> Verdict {
        let def = rule.and_then(|index| policy.rules.get(index));
        Verdict {
            rule: rule.filter(|index| *index < policy.rules.len()),
            label: def.map(|d| d.label.clone()),
            line: def.map(|d| d.line),
            routing: def.map(|d| Routing::of(policy, d)),
        }
    }

    /// `rule `hot` (line 67): pool senior within 15m, ...`, or `no rule matches (unassigned)`.
    pub fn describe(&self) -> String {
        match (&self.label, &self.routing) {
            (Some(label), Some(routing)) => format!(
                "rule `{label}`{}: {}",
                self.line.map_or(String::new(), |l| format!(" (line {l})")),
                routing.describe()
            ),
            _ => "no rule matches (unassigned)".to_string(),
        }
    }
}

/// How an SLA changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaChange {
    /// Shorter: leads are due sooner.
    Tightened,
    Loosened,
    /// None before.
    Added,
    /// None after.
    Removed,
    /// Not comparable without a calendar (business days against hours).
    Changed,
}

impl SlaChange {
    pub fn between(old: Option<Delay>, new: Option<Delay>) -> Option<SlaChange> {
        match (old, new) {
            (None, None) => None,
            (None, Some(_)) => Some(SlaChange::Added),
            (Some(_), None) => Some(SlaChange::Removed),
            (Some(a), Some(b)) => match a.compare(b) {
                Some(Ordering::Equal) => None,
                Some(Ordering::Greater) => Some(SlaChange::Tightened),
                Some(Ordering::Less) => Some(SlaChange::Loosened),
                None => Some(SlaChange::Changed),
            },
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SlaChange::Tightened => "tightened",
            SlaChange::Loosened => "loosened",
            SlaChange::Added => "added",
            SlaChange::Removed => "removed",
            SlaChange::Changed => "changed",
        }
    }
}

/// What differs between the two sides of a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// Same routing, another rule label decides.
    RuleOnly,
    Routing {
        /// The actions or their targets differ (or a rule matches on one side only).
        destination: bool,
        sla: Option<SlaChange>,
        escalation: bool,
        /// The tags differ: downstream automation (an SMS instead of a call) changes even
        /// where the lead goes to the same place.
        tags: bool,
    },
}

impl ChangeKind {
    pub(super) fn between(old: &Verdict, new: &Verdict) -> ChangeKind {
        match (&old.routing, &new.routing) {
            (Some(a), Some(b)) if a == b => ChangeKind::RuleOnly,
            (a, b) => {
                let actions = |r: &Option<Routing>| r.as_ref().map(|r| r.actions.clone());
                let within = |r: &Option<Routing>| r.as_ref().and_then(|r| r.within);
                let escalations = |r: &Option<Routing>| {
                    r.as_ref()
                        .map(|r| r.escalations.clone())
                        .unwrap_or_default()
                };
                let tags =
                    |r: &Option<Routing>| r.as_ref().map(|r| r.tags.clone()).unwrap_or_default();
                ChangeKind::Routing {
                    destination: actions(a) != actions(b),
                    sla: SlaChange::between(within(a), within(b)),
                    escalation: escalations(a) != escalations(b),
                    tags: tags(a) != tags(b),
                }
            }
        }
    }

    /// `destination`, `SLA tightened (15m -> 10m)`, `escalation`, joined; `rule only`.
    pub fn describe(&self, old: &Verdict, new: &Verdict) -> String {
        match self {
            ChangeKind::RuleOnly => "rule only (same routing)".to_string(),
            ChangeKind::Routing {
                destination,
                sla,
                escalation,
                tags,
            } => {
                let mut parts = Vec::new();
                if *destination {
                    parts.push("destination".to_string());
                }
                if let Some(sla) = sla {
                    let show = |v: &Verdict| {
                        v.routing
                            .as_ref()
                            .and_then(|r| r.within)
                            .map_or("none".to_string(), Delay::show)
                    };
                    parts.push(format!(
                        "SLA {} ({} -> {})",
                        sla.as_str(),
                        show(old),
                        show(new)
                    ));
                }
                if *escalation {
                    parts.push("escalation".to_string());
                }
                if *tags {
                    let show = |v: &Verdict| {
                        v.routing
                            .as_ref()
                            .map_or("none".to_string(), Routing::tag_list)
                    };
                    parts.push(format!("tags ({} -> {})", show(old), show(new)));
                }
                parts.join(", ")
            }
        }
    }
}
