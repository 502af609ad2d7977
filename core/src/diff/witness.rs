//! An example for a changed declaration: a lead and a time at which OLD and NEW route it
//! differently because a pool, rep or calendar changed (hours, caps, `on shift`, members).
//!
//! The example is found by routing, not by reasoning: a lead that a rule sends to an affected
//! pool is routed by both policies through the real router, first alone at every quarter hour of
//! a week, then (for caps, which only bite after earlier leads) as a stream of the same lead
//! under new ids at one time. The first difference is the example; a change that moves no lead
//! this way gets none.

use super::declarations::{DeclarationChange, DeclarationExample, DeclarationKind};
use crate::graph::{CompileConfig, Compiled, Outcome as GraphOutcome};
use crate::model::Policy;
use crate::route::state::MemoryState;
use crate::route::{Decision, Outcome, RouteConfig, Router};
use crate::syntax::ast::ActionKind;
use jiff::Timestamp;
use std::collections::BTreeSet;

/// The first Monday of the search, 00:00 UTC (the week the graph's examples use).
const SEARCH_START: i64 = 1_795_392_000; // 2026-11-23T00:00:00Z
/// A week and a day of quarter hours: every zone's whole working week.
const SEARCH_STEPS: i64 = 8 * 24 * 4;
/// How many leads like the example a stream routes before it gives up (caps above this are
/// not looked for).
const STREAM_LENGTH: usize = 200;

/// Fills in an example for every change that matters, where one is found.
pub(super) fn find_examples(old: &Policy, new: &Policy, changes: &mut [DeclarationChange]) {
    if !changes.iter().any(DeclarationChange::matters) {
        return;
    }
    let config = CompileConfig::default();
    let old_compiled = crate::graph::compile(old, &config);
    let new_compiled = crate::graph::compile(new, &config);
    let Compiled::Graph { graph, .. } = &new_compiled else {
        // Past the graph's budget no example leads are derived; the change is still named.
        return;
    };
    let sides = Sides {
        old,
        new,
        old_compiled: &old_compiled,
        new_compiled: &new_compiled,
    };
    for change in changes.iter_mut().filter(|change| change.matters()) {
        let pools = affected_pools(old, new, change);
        for rule in rules_sending_to(new, &pools, change) {
            let (paths, _) =
                crate::graph::example::paths_to(new, graph, GraphOutcome::Rule(rule), 1);
            let Some(example) = paths
                .first()
                .and_then(|path| crate::graph::example::example(new, path, "D-1"))
            else {
                continue;
            };
            let Ok(serde_json::Value::Object(lead)) =
                serde_json::from_str::<serde_json::Value>(&example.json)
            else {
                continue;
            };
            let label = &new.rules[rule].label;
            if let Some(found) = sides.witness(&lead, label) {
                change.example = Some(found);
                break;
            }
        }
    }
}

/// The pools whose leads a change reaches: the pool itself, the pools a rep is a member of, the
/// pools a calendar is the clock of (directly or through a member's `rep` item).
fn affected_pools(old: &Policy, new: &Policy, change: &DeclarationChange) -> BTreeSet<String> {
    let mut pools = BTreeSet::new();
    for policy in [old, new] {
        for pool in &policy.pools {
            let reached = match change.kind {
                DeclarationKind::Pool => pool.name == change.name,
                DeclarationKind::Rep => pool.members.contains(&change.name),
                DeclarationKind::Calendar => {
                    let is_named = |id: Option<usize>| {
                        id.and_then(|id| policy.calendars.get(id))
                            .is_some_and(|c| c.name == change.name)
                    };
                    is_named(pool.calendar)
                        || pool.members.iter().any(|member| {
                            is_named(policy.rep_def(member).and_then(|rep| rep.calendar))
                        })
                }
                DeclarationKind::Queue => false,
            };
            if reached {
                pools.insert(pool.name.clone());
            }
        }
    }
    pools
}

/// NEW's rules whose actions send leads to one of `pools` (or name the changed rep), in order.
fn rules_sending_to(
    new: &Policy,
    pools: &BTreeSet<String>,
    change: &DeclarationChange,
) -> Vec<usize> {
    (0..new.rules.len())
        .filter(|&index| {
            new.rules[index]
                .syntax
                .actions
                .iter()
                .any(|action| match &action.kind {
                    ActionKind::Pool(pool) => pools.contains(&pool.name),
                    ActionKind::Rep(rep) => {
                        change.kind == DeclarationKind::Rep && rep.name == change.name
                    }
                    _ => false,
                })
        })
        .collect()
}

/// Both policies, compiled.
struct Sides<'a> {
    old: &'a Policy,
    new: &'a Policy,
    old_compiled: &'a Compiled,
    new_compiled: &'a Compiled,
}

impl Sides<'_> {
    /// The first time the lead alone is routed differently, else the first lead of a stream of
    /// its copies that is.
    fn witness(
        &self,
        lead: &serde_json::Map<String, serde_json::Value>,
        label: &str,
    ) -> Option<DeclarationExample> {
        let mut first_assigned = None;
        for step in 0..SEARCH_STEPS {
            let at = Timestamp::from_second(SEARCH_START + step * 15 * 60).ok()?;
            let line = self.lead_at(lead, "D-1", at);
            let (Some(old), Some(new)) = (
                self.route(self.old, self.old_compiled, at, std::slice::from_ref(&line)),
                self.route(self.new, self.new_compiled, at, std::slice::from_ref(&line)),
            ) else {
                continue;
            };
            let (Some(old), Some(new)) = (old.last(), new.last()) else {
                continue;
            };
            if !decided_by(new, label) || !decided_by(old, label) {
                continue;
            }
            if differ(old, new) {
                return Some(example(line, at, 0, old, new));
            }
            if first_assigned.is_none() && new.action.rep().is_some() {
                first_assigned = Some(at);
            }
        }
        // Caps count earlier leads: route copies of the lead, one after another, at one time.
        let at = first_assigned?;
        let lines: Vec<String> = (1..=STREAM_LENGTH)
            .map(|number| self.lead_at(lead, &format!("D-{number}"), at))
            .collect();
        let old = self.route(self.old, self.old_compiled, at, &lines)?;
        let new = self.route(self.new, self.new_compiled, at, &lines)?;
        let index = old
            .iter()
            .zip(&new)
            .position(|(old, new)| differ(old, new))?;
        Some(example(
            lines[index].clone(),
            at,
            index,
            &old[index],
            &new[index],
        ))
    }

    /// The lead as a line of JSON with id `id`, its clock field (if the policy has one and the
    /// lead gives it) set to `at`.
    fn lead_at(
        &self,
        lead: &serde_json::Map<String, serde_json::Value>,
        id: &str,
        at: Timestamp,
    ) -> String {
        let mut lead = lead.clone();
        lead.insert("id".to_string(), serde_json::Value::from(id));
        if let Some(clock) = self.new.clock.and_then(|c| self.new.fields.get(c))
            && lead.contains_key(&clock.name)
        {
            lead.insert(clock.name.clone(), serde_json::Value::from(at.to_string()));
        }
        serde_json::Value::Object(lead).to_string()
    }

    /// The decisions for `lines`, routed in order with a fresh state at `at` (everyone
    /// available); `None` when a line is not a lead of the policy.
    fn route(
        &self,
        policy: &Policy,
        compiled: &Compiled,
        at: Timestamp,
        lines: &[String],
    ) -> Option<Vec<Decision>> {
        let config = RouteConfig {
            now: at,
            explain: false,
            limits: crate::route::reader::Limits::default(),
        };
        let router = Router::new(policy, compiled, None, config, "");
        let mut state = MemoryState::default();
        let mut decisions = Vec::with_capacity(lines.len());
        for line in lines {
            match router.route_line(&mut state, line.as_bytes()).ok()? {
                Outcome::Decided { decision, .. } => decisions.push(decision),
                Outcome::Invalid(_) => return None,
            }
        }
        Some(decisions)
    }
}

fn decided_by(decision: &Decision, label: &str) -> bool {
    decision
        .rule
        .as_ref()
        .is_some_and(|rule| *rule.label == *label)
}

/// Whether the lead goes elsewhere or is due at another time.
fn differ(old: &Decision, new: &Decision) -> bool {
    old.action != new.action || old.due != new.due || old.escalation != new.escalation
}

fn example(
    lead: String,
    at: Timestamp,
    earlier: usize,
    old: &Decision,
    new: &Decision,
) -> DeclarationExample {
    // The escalation times are shown when they are what differs (a calendar's hours moving a
    // step to the next morning), so that the example never reads the same on both sides.
    let with_steps = old.action == new.action && old.due == new.due;
    DeclarationExample {
        lead,
        at,
        earlier,
        old: summary(old, with_steps),
        new: summary(new, with_steps),
    }
}

/// "pool `desk` (rep anna), due 2026-11-23T10:15:00+01:00", then with `with_steps` each
/// escalation step: ", escalates to `backup` at 2026-11-23T17:15:00+01:00".
fn summary(decision: &Decision, with_steps: bool) -> String {
    let mut text = decision.action.describe();
    match decision.due.map(|due| due.time()) {
        Some(Some(time)) => text.push_str(&format!(", due {time}")),
        Some(None) => text.push_str(", due never"),
        None => {}
    }
    if with_steps {
        for step in &decision.escalation {
            match step.at {
                Some(at) => text.push_str(&format!(", escalates to `{}` at {at}", step.to)),
                None => text.push_str(&format!(", escalates to `{}` never", step.to)),
            }
        }
    }
    text
}
