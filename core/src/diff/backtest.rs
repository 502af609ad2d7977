//! The backtest: historical leads through both policies, compared lead by lead.
//!
//! Each lead is decided by each policy on its own: against the roster as given, with no rotation
//! position and no assignments carried from one historical lead to the next (a replay of a month
//! of history would otherwise fill every cap and rotate every pool). A decision is then a pure
//! function of the policy, the lead, the roster and the time, and two decisions differ only
//! where the policies do. For a pool, the pool is compared and the rep is not: which member's
//! turn it is depends on the live rotation, not on the policy.
//!
//! Every input line is counted exactly once: unchanged, a routing change, a rule-only change, a
//! lead only one schema accepts, or a line neither accepts. Lines are given by the caller (no
//! I/O here).

use super::SlaChange;
use crate::graph::Compiled;
use crate::model::Policy;
use crate::route::reader::{LeadError, Limits, parse_lead};
use crate::route::roster::Roster;
use crate::route::state::{EntryRef, Recorded, StateError, StateStore};
use crate::route::{Action, Decision, Due, RouteConfig, Router, wire};
use jiff::Timestamp;
use std::collections::HashMap;

/// A policy as the backtest needs it.
#[derive(Clone, Copy)]
pub struct PolicyRef<'a> {
    pub policy: &'a Policy,
    pub compiled: &'a Compiled,
    /// The policy's text (routers record its hash).
    pub text: &'a str,
}

/// Settings of a backtest.
#[derive(Debug, Clone, Copy)]
pub struct BacktestConfig {
    /// The time for leads without a clock value.
    pub now: Timestamp,
    pub limits: Limits,
}

/// What a policy does with one input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeadOutcome {
    Decided(Decision),
    /// The line is not a lead for this policy's schema.
    Rejected(LeadError),
}

/// How a lead's outcome changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LeadChange {
    Unchanged,
    /// Destination, SLA, escalation or tags differ.
    Routing,
    /// The same routing, decided by a rule with another label.
    RuleOnly,
    /// One schema accepts the line and the other does not.
    Schema,
    /// Neither schema accepts the line.
    Invalid,
}

impl LeadChange {
    pub fn as_str(self) -> &'static str {
        match self {
            LeadChange::Unchanged => "unchanged",
            LeadChange::Routing => "routing",
            LeadChange::RuleOnly => "rule-only",
            LeadChange::Schema => "schema",
            LeadChange::Invalid => "invalid",
        }
    }
}

/// A line whose outcome changed.
#[derive(Debug, Clone)]
pub struct ChangedLead {
    /// The 1-based input line.
    pub line: usize,
    pub lead: Option<String>,
    pub change: LeadChange,
    pub old: LeadOutcome,
    pub new: LeadOutcome,
}

impl ChangedLead {
    /// One line of JSON: `{"lead":…,"line":…,"change":…,"old":DECISION,"new":DECISION}`; a side
    /// that rejects the line shows `{"error":{"code":…,"message":…}}`.
    pub fn to_json(&self) -> String {
        let side = |outcome: &LeadOutcome| match outcome {
            LeadOutcome::Decided(decision) => wire::decision_json(decision),
            LeadOutcome::Rejected(error) => {
                let mut out = String::from("{\"error\":{\"code\":");
                wire::push_str(&mut out, error.code);
                out.push_str(",\"message\":");
                wire::push_str(&mut out, &error.message);
                out.push_str("}}");
                out
            }
        };
        format!(
            "{{\"lead\":{},\"line\":{},\"change\":\"{}\",\"old\":{},\"new\":{}}}",
            serde_json::to_string(&self.lead).unwrap_or_else(|_| "null".to_string()),
            self.line,
            self.change.as_str(),
            side(&self.old),
            side(&self.new)
        )
    }
}

/// A kind of move, with how many leads made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    /// Where OLD sends the leads: `pool senior`, `queue nurture`, `rep anna`, `unassigned`,
    /// `rejected (lead.missing)`.
    pub from: String,
    pub to: String,
    /// What else changes: `SLA tightened`, `escalation changed`, `rule `#3` -> `#4``.
    pub note: String,
    pub change: LeadChange,
    pub leads: usize,
    /// The first lead that made it (its id, else `line N`).
    pub first: String,
}

/// The counts of a backtest. `lines` is the sum of the five counts.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub lines: usize,
    pub unchanged: usize,
    pub routing: usize,
    pub rule_only: usize,
    pub schema: usize,
    pub invalid: usize,
    /// In order of first appearance; [`Summary::moves_by_count`] sorts them.
    pub moves: Vec<Move>,
}

impl Summary {
    /// Leads whose outcome changed in any way.
    pub fn changed(&self) -> usize {
        self.routing + self.rule_only + self.schema
    }

    /// The moves, most leads first (ties: first seen first).
    pub fn moves_by_count(&self) -> Vec<&Move> {
        let mut moves: Vec<&Move> = self.moves.iter().collect();
        moves.sort_by_key(|m| std::cmp::Reverse(m.leads));
        moves
    }
}

/// A state store that remembers nothing: every lead is decided as if it were the first.
struct Stateless;

impl StateStore for Stateless {
    fn begin(&mut self) -> Result<(), StateError> {
        Ok(())
    }
    fn commit(&mut self) -> Result<(), StateError> {
        Ok(())
    }
    fn rollback(&mut self) -> Result<(), StateError> {
        Ok(())
    }

    fn recorded(&mut self, _: &str) -> Result<Option<Recorded>, StateError> {
        Ok(None)
    }
    fn record(&mut self, _: &EntryRef<'_>) -> Result<(), StateError> {
        Ok(())
    }
    fn rotation(&mut self, _: &str) -> Result<Option<String>, StateError> {
        Ok(None)
    }
    fn set_rotation(&mut self, _: &str, _: &str) -> Result<(), StateError> {
        Ok(())
    }
    fn assigned(&mut self, _: &str, _: Option<Timestamp>) -> Result<u64, StateError> {
        Ok(0)
    }
    fn assign(&mut self, _: &str, _: &str, _: Timestamp, _: Timestamp) -> Result<(), StateError> {
        Ok(())
    }
    fn assigned_in(&mut self, _: &str, _: Timestamp, _: Timestamp) -> Result<u64, StateError> {
        Ok(0)
    }
    fn remember(
        &mut self,
        _: &str,
        _: &str,
        _: &str,
        _: Timestamp,
        _: &str,
    ) -> Result<(), StateError> {
        Ok(())
    }
    fn previous_rep(
        &mut self,
        _: &str,
        _: &str,
        _: &str,
        _: Timestamp,
        _: Timestamp,
    ) -> Result<Option<(String, String)>, StateError> {
        Ok(None)
    }
    fn schedule(
        &mut self,
        _: &str,
        _: Option<Timestamp>,
        _: Option<Timestamp>,
    ) -> Result<(), StateError> {
        Ok(())
    }
    fn due(&mut self, _: Timestamp, _: usize) -> Result<Vec<(String, Timestamp)>, StateError> {
        Ok(Vec::new())
    }
    fn life(&mut self, _: &str) -> Result<Option<crate::route::life::Life>, StateError> {
        Ok(None)
    }
    fn keep_life(&mut self, _: crate::route::life::Life) -> Result<(), StateError> {
        Ok(())
    }
    fn each_lead(
        &mut self,
        _: &mut dyn FnMut(Recorded, Option<crate::route::life::Life>),
    ) -> Result<(), StateError> {
        Ok(())
    }
    fn post(&mut self, _: Timestamp, _: &str, _: &str, _: bool) -> Result<u64, StateError> {
        Ok(0)
    }
    fn undelivered(&mut self, _: usize) -> Result<Vec<crate::route::state::Outgoing>, StateError> {
        Ok(Vec::new())
    }
    fn delivered(&mut self, _: u64) -> Result<(), StateError> {
        Ok(())
    }
    fn posted_since(
        &mut self,
        _: Timestamp,
        _: usize,
    ) -> Result<Vec<crate::route::state::Outgoing>, StateError> {
        Ok(Vec::new())
    }
    fn posted_after(
        &mut self,
        _: u64,
        _: usize,
    ) -> Result<Vec<crate::route::state::Outgoing>, StateError> {
        Ok(Vec::new())
    }
}

/// Compares two policies on leads, one line at a time.
pub struct Backtest<'a> {
    old: (&'a Policy, Router<'a>),
    new: (&'a Policy, Router<'a>),
    /// Both schemas are the same: a line is read once for both.
    same_schema: bool,
    limits: Limits,
    summary: Summary,
    index: HashMap<(String, String, String), usize>,
}

impl<'a> Backtest<'a> {
    pub fn new(
        old: PolicyRef<'a>,
        new: PolicyRef<'a>,
        roster: Option<&'a Roster>,
        config: BacktestConfig,
    ) -> Backtest<'a> {
        let route = RouteConfig {
            now: config.now,
            explain: false,
            limits: config.limits,
        };
        Backtest {
            old: (
                old.policy,
                Router::new(old.policy, old.compiled, roster, route, old.text),
            ),
            new: (
                new.policy,
                Router::new(new.policy, new.compiled, roster, route, new.text),
            ),
            same_schema: old.policy.fields == new.policy.fields,
            limits: config.limits,
            summary: Summary::default(),
            index: HashMap::new(),
        }
    }

    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Compares one input line (`number` is 1-based); `Some` when its outcome changed.
    pub fn line(&mut self, bytes: &[u8], number: usize) -> Result<Option<ChangedLead>, StateError> {
        let old_parsed = parse_lead(self.old.0, bytes, &self.limits);
        let (old, new) = if self.same_schema {
            match old_parsed {
                Ok(parsed) => {
                    let old = self.old.1.decide_only(&mut Stateless, &parsed, false)?.0;
                    let new = self.new.1.decide_only(&mut Stateless, &parsed, false)?.0;
                    (LeadOutcome::Decided(old), LeadOutcome::Decided(new))
                }
                Err(error) => (
                    LeadOutcome::Rejected(error.clone()),
                    LeadOutcome::Rejected(error),
                ),
            }
        } else {
            let decide = |router: &Router<'_>, parsed| -> Result<LeadOutcome, StateError> {
                Ok(match parsed {
                    Ok(parsed) => {
                        LeadOutcome::Decided(router.decide_only(&mut Stateless, &parsed, false)?.0)
                    }
                    Err(error) => LeadOutcome::Rejected(error),
                })
            };
            let new_parsed = parse_lead(self.new.0, bytes, &self.limits);
            (
                decide(&self.old.1, old_parsed)?,
                decide(&self.new.1, new_parsed)?,
            )
        };
        Ok(self.record(number, old, new))
    }

    /// Counts a line longer than the limit: neither policy reads it.
    pub fn too_long(&mut self, number: usize) -> Option<ChangedLead> {
        let error = LeadError {
            code: "lead.too_long",
            message: format!(
                "line is longer than the limit of {} bytes",
                self.limits.max_line_bytes
            ),
            lead: None,
        };
        self.record(
            number,
            LeadOutcome::Rejected(error.clone()),
            LeadOutcome::Rejected(error),
        )
    }

    fn record(&mut self, number: usize, old: LeadOutcome, new: LeadOutcome) -> Option<ChangedLead> {
        self.summary.lines += 1;
        let change = compare(&old, &new);
        match change {
            LeadChange::Unchanged => {
                self.summary.unchanged += 1;
                return None;
            }
            LeadChange::Invalid => {
                self.summary.invalid += 1;
                return None;
            }
            LeadChange::Routing => self.summary.routing += 1,
            LeadChange::RuleOnly => self.summary.rule_only += 1,
            LeadChange::Schema => self.summary.schema += 1,
        }
        let lead = match (&old, &new) {
            (LeadOutcome::Decided(d), _) | (_, LeadOutcome::Decided(d)) => Some(d.lead.to_string()),
            (LeadOutcome::Rejected(e), _) => e.lead.clone(),
        };
        let key = (
            destination(&old),
            destination(&new),
            note(&old, &new, change),
        );
        match self.index.get(&key) {
            Some(index) => self.summary.moves[*index].leads += 1,
            None => {
                self.index.insert(key.clone(), self.summary.moves.len());
                let (from, to, note) = key;
                self.summary.moves.push(Move {
                    from,
                    to,
                    note,
                    change,
                    leads: 1,
                    first: lead.clone().unwrap_or_else(|| format!("line {number}")),
                });
            }
        }
        Some(ChangedLead {
            line: number,
            lead,
            change,
            old,
            new,
        })
    }
}

/// How two outcomes of one line compare.
pub fn compare(old: &LeadOutcome, new: &LeadOutcome) -> LeadChange {
    match (old, new) {
        (LeadOutcome::Rejected(_), LeadOutcome::Rejected(_)) => LeadChange::Invalid,
        (LeadOutcome::Rejected(_), _) | (_, LeadOutcome::Rejected(_)) => LeadChange::Schema,
        (LeadOutcome::Decided(a), LeadOutcome::Decided(b)) => {
            if !same_routing(a, b) {
                LeadChange::Routing
            } else if rule_label(a) != rule_label(b) {
                LeadChange::RuleOnly
            } else {
                LeadChange::Unchanged
            }
        }
    }
}

/// The label of the rule that decided (its line is not part of the routing: moving a rule
/// down the file changes nothing by itself).
fn rule_label(decision: &Decision) -> Option<&str> {
    decision.rule.as_ref().map(|rule| &*rule.label)
}

/// Same destination (the rep only where it is named, not picked by a pool's rotation), due
/// time, escalations and tags (as a set: declaration order may differ between the policies).
fn same_routing(a: &Decision, b: &Decision) -> bool {
    let same_destination = match (&a.action, &b.action) {
        (Action::Pool { pool: x, .. }, Action::Pool { pool: y, .. }) => x == y,
        (x, y) => x == y,
    };
    same_destination && a.due == b.due && a.escalation == b.escalation && same_tags(a, b)
}

fn same_tags(a: &Decision, b: &Decision) -> bool {
    let mut left: Vec<&str> = a.tags.iter().map(|tag| &**tag).collect();
    let mut right: Vec<&str> = b.tags.iter().map(|tag| &**tag).collect();
    left.sort_unstable();
    right.sort_unstable();
    left == right
}

/// Where an outcome sends the lead, in words.
fn destination(outcome: &LeadOutcome) -> String {
    match outcome {
        LeadOutcome::Rejected(error) => format!("rejected ({})", error.code),
        LeadOutcome::Decided(decision) => match &decision.action {
            Action::Pool { pool, .. } => format!("pool {pool}"),
            Action::Queue { queue } => format!("queue {queue}"),
            Action::Rep { rep } => format!("rep {rep}"),
            Action::Owner { rep } => format!("owner {rep}"),
            Action::Unassigned => "unassigned".to_string(),
        },
    }
}

/// What changes besides the destination.
fn note(old: &LeadOutcome, new: &LeadOutcome, change: LeadChange) -> String {
    let (LeadOutcome::Decided(a), LeadOutcome::Decided(b)) = (old, new) else {
        return String::new();
    };
    if change == LeadChange::RuleOnly {
        let label = |d: &Decision| rule_label(d).unwrap_or("none").to_string();
        return format!("rule `{}` -> `{}`", label(a), label(b));
    }
    let mut parts = Vec::new();
    if let Some(sla) = due_change(&a.due, &b.due) {
        parts.push(format!("SLA {}", sla.as_str()));
    }
    if a.escalation != b.escalation {
        parts.push("escalation changed".to_string());
    }
    if !same_tags(a, b) {
        let show = |d: &Decision| {
            if d.tags.is_empty() {
                "none".to_string()
            } else {
                d.tags.join(", ")
            }
        };
        parts.push(format!("tags {} -> {}", show(a), show(b)));
    }
    parts.join(", ")
}

/// How the due time moves.
fn due_change(old: &Option<Due>, new: &Option<Due>) -> Option<SlaChange> {
    match (old, new) {
        (None, None) => None,
        (None, Some(_)) => Some(SlaChange::Added),
        (Some(_), None) => Some(SlaChange::Removed),
        (Some(a), Some(b)) if a == b => None,
        (Some(Due::At(a)), Some(Due::At(b))) if b.instant < a.instant => Some(SlaChange::Tightened),
        (Some(Due::At(a)), Some(Due::At(b))) if b.instant > a.instant => Some(SlaChange::Loosened),
        _ => Some(SlaChange::Changed),
    }
}
