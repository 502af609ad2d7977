//! The interpreter: one decision per lead. The compiled policy picks the rule; the rule's actions
//! are tried in order (`else`); a pool's strategy picks an eligible rep; the SLA and escalation
//! times are computed in working time; the state remembers rotations, loads and every decision.
//!
//! Architecture invariants: the router does no I/O of its own (lines in, JSON text out; the
//! state store is given to it) and reads no clock: `now` is configuration. Given the same
//! policy, roster, state and input, the output is the same. Every input line yields exactly one
//! output line.

pub mod clock;
pub mod reader;
pub mod roster;
pub mod state;

use crate::graph::{Compiled, Outcome, TraceStep};
use crate::model::{CalendarDef, EvalContext, LeadValue, Policy, PoolDef, StrategyDef};
use crate::syntax::ast::ActionKind;
use jiff::Timestamp;
use reader::{LeadError, Limits, ParsedLead, parse_lead};
use roster::{Roster, Status};
use serde_json::{Value, json};
use state::{StateError, StateStore};
use std::borrow::Cow;
use std::fmt::Write as _;

/// Settings of a routing run.
#[derive(Debug, Clone, Copy)]
pub struct RouteConfig {
    /// The time used when a lead has no clock value (`--now`).
    pub now: Timestamp,
    /// Add a `trace` to every decision.
    pub explain: bool,
    pub limits: Limits,
}

/// Routes leads for one policy.
pub struct Router<'a> {
    policy: &'a Policy,
    compiled: &'a Compiled,
    roster: Option<&'a Roster>,
    config: RouteConfig,
    policy_hash: String,
}

/// The result of routing one line.
#[derive(Debug, Clone)]
pub struct Routed {
    /// The output line (JSON, no newline).
    pub json: String,
    /// Whether the line was an error record.
    pub is_error: bool,
}

/// A rep's eligibility for one lead.
#[derive(Debug, Clone)]
struct Candidate<'r> {
    rep: &'r str,
    eligible: bool,
    why: Cow<'static, str>,
    load: u64,
}

/// The outcome of one action.
enum Attempt {
    Assigned {
        action: &'static str,
        pool: Option<String>,
        queue: Option<String>,
        rep: Option<String>,
        calendar: Option<usize>,
        trace: Value,
    },
    Failed {
        reason: String,
        trace: Value,
    },
}

/// A decision, before it is written as JSON.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Decision {
    pub lead: String,
    /// The matched rule's label; `None` when no rule matched.
    pub rule: Option<String>,
    pub line: Option<usize>,
    /// `pool`, `queue`, `rep`, `owner` or `unassigned`.
    pub action: &'static str,
    pub pool: Option<String>,
    pub queue: Option<String>,
    pub rep: Option<String>,
    /// `Some(None)`: the rule has an SLA but no working time could be found (`null`).
    pub due: Option<Option<String>>,
    /// `(at, to)` per escalation; `at` is `None` when no working time could be found.
    pub escalation: Option<Vec<(Option<String>, String)>>,
    /// `(action, reason)` per failed attempt; the action is absent when no rule matched.
    pub reasons: Vec<(Option<String>, String)>,
}

impl Decision {
    /// The decision as one line of JSON, fields in a fixed order.
    pub fn to_json(&self, trace: Option<&Value>) -> String {
        let mut out = String::with_capacity(192);
        out.push_str("{\"lead\":");
        push_str(&mut out, &self.lead);
        out.push_str(",\"rule\":");
        match &self.rule {
            Some(rule) => push_str(&mut out, rule),
            None => out.push_str("null"),
        }
        if let Some(line) = self.line {
            let _ = write!(out, ",\"line\":{line}");
        }
        out.push_str(",\"action\":");
        push_str(&mut out, self.action);
        for (key, value) in [
            ("pool", &self.pool),
            ("queue", &self.queue),
            ("rep", &self.rep),
        ] {
            if let Some(value) = value {
                let _ = write!(out, ",\"{key}\":");
                push_str(&mut out, value);
            }
        }
        if let Some(due) = &self.due {
            out.push_str(",\"due\":");
            push_optional(&mut out, due.as_deref());
        }
        if let Some(chain) = &self.escalation {
            out.push_str(",\"escalation\":[");
            for (index, (at, to)) in chain.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str("{\"at\":");
                push_optional(&mut out, at.as_deref());
                out.push_str(",\"to\":");
                push_str(&mut out, to);
                out.push('}');
            }
            out.push(']');
        }
        if !self.reasons.is_empty() {
            out.push_str(",\"reason\":[");
            for (index, (action, reason)) in self.reasons.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push('{');
                if let Some(action) = action {
                    out.push_str("\"action\":");
                    push_str(&mut out, action);
                    out.push(',');
                }
                out.push_str("\"reason\":");
                push_str(&mut out, reason);
                out.push('}');
            }
            out.push(']');
        }
        if let Some(trace) = trace {
            out.push_str(",\"trace\":");
            out.push_str(&trace.to_string());
        }
        out.push('}');
        out
    }
}

/// Appends a JSON string literal.
fn push_str(out: &mut String, text: &str) {
    out.push('"');
    let mut rest = text;
    // Copy runs that need no escaping in one go.
    while let Some(index) = rest
        .bytes()
        .position(|b| b == b'"' || b == b'\\' || b < 0x20)
    {
        out.push_str(&rest[..index]);
        match rest.as_bytes()[index] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            byte => {
                let _ = write!(out, "\\u{byte:04x}");
            }
        }
        rest = &rest[index + 1..];
    }
    out.push_str(rest);
    out.push('"');
}

fn push_optional(out: &mut String, text: Option<&str>) {
    match text {
        Some(text) => push_str(out, text),
        None => out.push_str("null"),
    }
}

impl<'a> Router<'a> {
    pub fn new(
        policy: &'a Policy,
        compiled: &'a Compiled,
        roster: Option<&'a Roster>,
        config: RouteConfig,
        policy_text: &str,
    ) -> Router<'a> {
        Router {
            policy,
            compiled,
            roster,
            config,
            policy_hash: policy_hash(policy_text),
        }
    }

    /// The hash recorded with every decision in the ledger.
    pub fn policy_hash(&self) -> &str {
        &self.policy_hash
    }

    /// Routes one input line (`line_number` is 1-based). State errors abort the run; everything
    /// wrong with the line itself becomes an error record.
    pub fn route_line(
        &self,
        state: &mut dyn StateStore,
        bytes: &[u8],
        line_number: usize,
    ) -> Result<Routed, StateError> {
        match parse_lead(self.policy, bytes, &self.config.limits) {
            Err(error) => Ok(error_record(&error, line_number)),
            Ok(lead) => self.route_lead(state, &lead),
        }
    }

    /// The error record for a line longer than the limit.
    pub fn too_long(&self, length: usize, line_number: usize) -> Routed {
        error_record(
            &LeadError {
                code: "lead.too_long",
                message: format!(
                    "line is {length} bytes, more than the limit of {} (see --max-line-bytes)",
                    self.config.limits.max_line_bytes
                ),
                lead: None,
            },
            line_number,
        )
    }

    /// Decides for a validated lead, or replays its recorded decision.
    pub fn route_lead(
        &self,
        state: &mut dyn StateStore,
        parsed: &ParsedLead,
    ) -> Result<Routed, StateError> {
        if let Some(recorded) = state.recorded(&parsed.id)? {
            return Ok(Routed {
                json: mark_duplicate(&recorded),
                is_error: false,
            });
        }
        let (decision, trace) = self.decide(state, parsed)?;
        // The ledger keeps the decision without its trace.
        let recorded = decision.to_json(None);
        state.record(&parsed.id, &recorded, &self.policy_hash)?;
        let json = match &trace {
            Some(trace) => decision.to_json(Some(trace)),
            None => recorded,
        };
        Ok(Routed {
            json,
            is_error: false,
        })
    }

    /// Decides for a validated lead without looking at or writing the ledger: the decision a
    /// lead gets from this policy, roster and state, whatever was routed before (backtests).
    pub fn decide_only(
        &self,
        state: &mut dyn StateStore,
        parsed: &ParsedLead,
    ) -> Result<Decision, StateError> {
        self.decide(state, parsed).map(|(decision, _)| decision)
    }

    fn context(&self) -> EvalContext {
        EvalContext {
            now: self.config.now,
        }
    }

    fn decide(
        &self,
        state: &mut dyn StateStore,
        parsed: &ParsedLead,
    ) -> Result<(Decision, Option<Value>), StateError> {
        let explain = self.config.explain;
        let context = self.context();
        let lead = &parsed.lead;
        let at = self.policy.clock_of(lead, &context);
        let (outcome, path) = match (explain, self.compiled) {
            (true, Compiled::Graph { graph, .. }) => graph.trace(self.policy, lead, &context),
            _ => (
                self.compiled.evaluate(self.policy, lead, &context),
                Vec::new(),
            ),
        };
        let mut decision = Decision {
            lead: parsed.id.clone(),
            ..Decision::default()
        };
        let Some(rule) = (match outcome {
            Outcome::Rule(index) => self.policy.rules.get(index),
            Outcome::NoMatch => None,
        }) else {
            decision.action = "unassigned";
            decision
                .reasons
                .push((None, "no rule matches this lead".to_string()));
            let trace = explain.then(|| json!({ "path": trace_path(&path), "actions": [] }));
            return Ok((decision, trace));
        };
        decision.rule = Some(rule.label.clone());
        decision.line = Some(rule.line);
        // The SLA clock: the calendar of the pool that took the lead, else of the first pool in
        // the rule's actions that has one, else wall-clock time.
        let rule_calendar = rule
            .syntax
            .actions
            .iter()
            .find_map(|action| match &action.kind {
                ActionKind::Pool(name) => self.pool(&name.name).and_then(|pool| pool.calendar),
                _ => None,
            });
        let mut action_traces = Vec::new();
        let mut assigned = None;
        for action in &rule.syntax.actions {
            match self.attempt(state, &action.kind, parsed, at, rule_calendar)? {
                Attempt::Failed { reason, trace } => {
                    decision
                        .reasons
                        .push((Some(action.kind.describe()), reason));
                    action_traces.push(trace);
                }
                Attempt::Assigned {
                    action,
                    pool,
                    queue,
                    rep,
                    calendar,
                    trace,
                } => {
                    action_traces.push(trace);
                    assigned = Some((action, pool, queue, rep, calendar));
                    break;
                }
            }
        }
        let mut calendar = rule_calendar;
        match assigned {
            Some((action, pool, queue, rep, pool_calendar)) => {
                decision.action = action;
                decision.pool = pool;
                decision.queue = queue;
                if let Some(rep) = &rep {
                    // Load counts leads assigned since the roster's `as_of`: an assignment's time
                    // is the routing time, `now`.
                    state.assign(rep, &parsed.id, self.config.now)?;
                }
                decision.rep = rep;
                calendar = pool_calendar.or(rule_calendar);
            }
            None => decision.action = "unassigned",
        }
        self.times(
            &mut decision,
            rule,
            at,
            calendar.and_then(|c| self.policy.calendars.get(c)),
        );
        let trace = explain.then(|| json!({ "path": trace_path(&path), "actions": action_traces }));
        Ok((decision, trace))
    }

    /// `due` and `escalation`, from the rule's `within` and `escalate` clauses.
    fn times(
        &self,
        decision: &mut Decision,
        rule: &crate::model::RuleDef,
        at: Timestamp,
        calendar: Option<&CalendarDef>,
    ) {
        let syntax = &rule.syntax;
        let show = |duration: crate::syntax::ast::DurationKind| -> Option<String> {
            clock::add(at, duration, calendar).map(|instant| clock::format(instant, calendar))
        };
        if let Some(within) = syntax.within {
            decision.due = Some(show(within.kind));
        }
        if !syntax.escalations.is_empty() {
            decision.escalation = Some(
                syntax
                    .escalations
                    .iter()
                    .filter_map(|escalation| {
                        let after = escalation.after.or(syntax.within)?;
                        Some((show(after.kind), escalation.target.name.clone()))
                    })
                    .collect(),
            );
        }
    }

    fn pool(&self, name: &str) -> Option<&PoolDef> {
        self.policy.pools.iter().find(|pool| pool.name == name)
    }

    /// Tries one action. Traces are built only when explaining.
    fn attempt(
        &self,
        state: &mut dyn StateStore,
        action: &ActionKind,
        parsed: &ParsedLead,
        at: Timestamp,
        rule_calendar: Option<usize>,
    ) -> Result<Attempt, StateError> {
        // Out-of-office dates of named reps are read in the zone of the rule's calendar.
        let named_calendar = rule_calendar.and_then(|c| self.policy.calendars.get(c));
        let explain = self.config.explain;
        let traced = |make: &dyn Fn() -> Value| if explain { make() } else { Value::Null };
        match action {
            ActionKind::Queue(queue) => Ok(Attempt::Assigned {
                action: "queue",
                pool: None,
                queue: Some(queue.name.clone()),
                rep: None,
                calendar: None,
                trace: traced(
                    &|| json!({ "action": format!("queue {}", queue.name), "result": "queued" }),
                ),
            }),
            ActionKind::Pool(name) => {
                let Some(pool) = self.pool(&name.name) else {
                    return Ok(Attempt::Failed {
                        reason: format!("pool `{}` is not declared", name.name),
                        trace: Value::Null,
                    });
                };
                self.pick(state, pool, at)
            }
            ActionKind::Rep(target) => {
                // `rep FIELD` names the rep in a string field; `rep NAME` names the rep.
                let rep: &str = match self.policy.field_id(&target.name) {
                    Some(field) => match parsed.lead.values.get(field).and_then(Option::as_ref) {
                        Some(LeadValue::Str(rep)) if !rep.trim().is_empty() => rep,
                        _ => {
                            let reason = format!("`{}` is not set", target.name);
                            return Ok(Attempt::Failed {
                                trace: traced(
                                    &|| json!({ "action": format!("rep {}", target.name), "result": reason }),
                                ),
                                reason,
                            });
                        }
                    },
                    None => &target.name,
                };
                let candidate = self.candidate(state, rep, None, at, named_calendar)?;
                Ok(self.named(candidate, "rep", || format!("rep {}", target.name), None))
            }
            ActionKind::OwnerOf(field) => {
                let label = || format!("owner of {}", field.name);
                let account = self
                    .policy
                    .field_id(&field.name)
                    .and_then(|id| parsed.lead.values.get(id).and_then(Option::as_ref));
                let account = account.filter(
                    |value| !matches!(value, LeadValue::Str(text) if text.trim().is_empty()),
                );
                let Some(LeadValue::Str(account)) = account else {
                    let reason = format!("`{}` is not set", field.name);
                    return Ok(Attempt::Failed {
                        trace: traced(&|| json!({ "action": label(), "result": reason })),
                        reason,
                    });
                };
                let owner = self.roster.and_then(|roster| roster.owner_of(account));
                let Some((owner, how)) = owner else {
                    let reason = match self.roster {
                        None => "no roster, so no account owners are known".to_string(),
                        Some(roster) if !roster.accounts.contains_key(account) => {
                            format!("account `{account}` is not in the roster")
                        }
                        Some(_) => format!("nobody in the family of `{account}` has an owner"),
                    };
                    return Ok(Attempt::Failed {
                        trace: traced(&|| json!({ "action": label(), "result": reason })),
                        reason,
                    });
                };
                let candidate = self.candidate(state, &owner, None, at, named_calendar)?;
                Ok(self.named(candidate, "owner", label, Some(how)))
            }
        }
    }

    /// The outcome of a named-rep action (`rep`, `owner of`).
    fn named(
        &self,
        candidate: Candidate<'_>,
        action: &'static str,
        label: impl Fn() -> String,
        how: Option<String>,
    ) -> Attempt {
        let trace = if self.config.explain {
            let mut entry = json!({ "rep": candidate.rep, "eligible": candidate.eligible, "why": candidate.why });
            if let (Some(how), Some(object)) = (&how, entry.as_object_mut()) {
                object.insert("owner".to_string(), Value::String(how.clone()));
            }
            json!({ "action": label(), "candidates": [entry] })
        } else {
            Value::Null
        };
        if candidate.eligible {
            Attempt::Assigned {
                action,
                pool: None,
                queue: None,
                rep: Some(candidate.rep.to_string()),
                calendar: None,
                trace,
            }
        } else {
            Attempt::Failed {
                reason: format!("{}: {}", candidate.rep, candidate.why),
                trace,
            }
        }
    }

    /// Whether `rep` can take a lead at `at`.
    fn candidate<'r>(
        &self,
        state: &mut dyn StateStore,
        rep: &'r str,
        cap: Option<u64>,
        at: Timestamp,
        calendar: Option<&CalendarDef>,
    ) -> Result<Candidate<'r>, StateError> {
        let since = self.roster.and_then(|roster| roster.as_of);
        let assigned = state.assigned(rep, since)?;
        let mut candidate = Candidate {
            rep,
            eligible: true,
            why: Cow::Borrowed("available"),
            load: assigned,
        };
        if let Some(roster) = self.roster {
            let Some(entry) = roster.reps.get(rep) else {
                candidate.eligible = false;
                candidate.why = Cow::Borrowed("not in the roster");
                return Ok(candidate);
            };
            candidate.load = entry.open.saturating_add(assigned);
            match entry.status {
                Status::Available => {}
                Status::Away => {
                    candidate.eligible = false;
                    candidate.why = Cow::Borrowed("away");
                    return Ok(candidate);
                }
                Status::Offline => {
                    candidate.eligible = false;
                    candidate.why = Cow::Borrowed("offline");
                    return Ok(candidate);
                }
            }
            if !entry.out_of_office.is_empty() {
                let zone = calendar.map_or(jiff::tz::TimeZone::UTC, |c| c.zone.clone());
                if let Some(absence) = roster
                    .absences(rep, &zone)
                    .into_iter()
                    .find(|absence| absence.from <= at && at < absence.to)
                {
                    candidate.eligible = false;
                    candidate.why = Cow::Owned(if absence.whole_days {
                        let last_day = absence
                            .to
                            .checked_sub(jiff::SignedDuration::from_secs(1))
                            .map(|t| zone.to_datetime(t).date().to_string())
                            .unwrap_or_default();
                        format!("out of office through {last_day}")
                    } else {
                        format!("out of office until {}", absence.to)
                    });
                    return Ok(candidate);
                }
            }
        }
        if let Some(cap) = cap
            && candidate.load >= cap
        {
            candidate.eligible = false;
            candidate.why = Cow::Owned(format!("at cap {}/{cap}", candidate.load));
        }
        Ok(candidate)
    }

    /// A pool's strategy picks a rep among the eligible members.
    fn pick(
        &self,
        state: &mut dyn StateStore,
        pool: &PoolDef,
        at: Timestamp,
    ) -> Result<Attempt, StateError> {
        let calendar = pool.calendar.and_then(|c| self.policy.calendars.get(c));
        let mut candidates = Vec::with_capacity(pool.members.len());
        for member in &pool.members {
            candidates.push(self.candidate(state, member, pool.cap, at, calendar)?);
        }
        let chosen = match &pool.strategy {
            StrategyDef::Ordered => candidates.iter().position(|c| c.eligible),
            StrategyDef::LeastLoaded => candidates
                .iter()
                .enumerate()
                .filter(|(_, c)| c.eligible)
                .min_by_key(|(index, c)| (c.load, *index))
                .map(|(index, _)| index),
            StrategyDef::RoundRobin => {
                let count = candidates.len();
                let next: usize = state
                    .rotation(&pool.name)?
                    .and_then(|text| text.parse().ok())
                    .unwrap_or(0);
                let chosen = (0..count)
                    .map(|k| (next + k) % count.max(1))
                    .find(|&i| candidates[i].eligible);
                if let Some(index) = chosen {
                    state.set_rotation(&pool.name, &((index + 1) % count).to_string())?;
                }
                chosen
            }
            StrategyDef::Weighted(weights) => {
                // Smooth weighted round robin: every eligible member gains its weight, the
                // richest is chosen and pays back the total, so 2:1:1 gives a, b, c, a, ...
                let mut current: Vec<i64> = state
                    .rotation(&pool.name)?
                    .map(|text| text.split(',').filter_map(|n| n.parse().ok()).collect())
                    .filter(|values: &Vec<i64>| values.len() == candidates.len())
                    .unwrap_or_else(|| vec![0; candidates.len()]);
                let weight = |index: usize| {
                    i64::try_from(weights.get(index).copied().unwrap_or(0)).unwrap_or(i64::MAX / 4)
                };
                let eligible: Vec<usize> = (0..candidates.len())
                    .filter(|&i| candidates[i].eligible && weight(i) > 0)
                    .collect();
                let total: i64 = eligible.iter().map(|&i| weight(i)).sum();
                for &index in &eligible {
                    current[index] = current[index].saturating_add(weight(index));
                }
                let chosen = eligible
                    .iter()
                    .copied()
                    .max_by_key(|&i| (current[i], std::cmp::Reverse(i)));
                if let Some(index) = chosen {
                    current[index] = current[index].saturating_sub(total);
                    let text: Vec<String> = current.iter().map(i64::to_string).collect();
                    state.set_rotation(&pool.name, &text.join(","))?;
                }
                chosen
            }
        };
        let trace = if self.config.explain {
            let entries: Vec<Value> = candidates
                .iter()
                .enumerate()
                .map(|(index, candidate)| {
                    let why: Cow<'_, str> = if Some(index) == chosen {
                        Cow::Borrowed("chosen")
                    } else if candidate.eligible {
                        match pool.strategy {
                            StrategyDef::LeastLoaded => Cow::Owned(format!("more open leads ({})", candidate.load)),
                            StrategyDef::Ordered => Cow::Borrowed("later in the order"),
                            _ => Cow::Borrowed("not their turn"),
                        }
                    } else {
                        candidate.why.clone()
                    };
                    json!({ "rep": candidate.rep, "eligible": candidate.eligible, "load": candidate.load, "why": why })
                })
                .collect();
            json!({ "action": format!("pool {}", pool.name), "strategy": strategy_name(&pool.strategy), "candidates": entries })
        } else {
            Value::Null
        };
        Ok(match chosen {
            Some(index) => Attempt::Assigned {
                action: "pool",
                pool: Some(pool.name.clone()),
                queue: None,
                rep: Some(candidates[index].rep.to_string()),
                calendar: pool.calendar,
                trace,
            },
            None => {
                let why: Vec<String> = candidates
                    .iter()
                    .enumerate()
                    .map(|(index, c)| match &pool.strategy {
                        StrategyDef::Weighted(weights)
                            if c.eligible && weights.get(index) == Some(&0) =>
                        {
                            format!("{} has weight 0", c.rep)
                        }
                        _ => format!("{} {}", c.rep, c.why),
                    })
                    .collect();
                Attempt::Failed {
                    reason: format!(
                        "nobody in pool `{}` is eligible: {}",
                        pool.name,
                        why.join(", ")
                    ),
                    trace,
                }
            }
        })
    }
}

fn strategy_name(strategy: &StrategyDef) -> &'static str {
    match strategy {
        StrategyDef::RoundRobin => "round_robin",
        StrategyDef::Weighted(_) => "weighted",
        StrategyDef::LeastLoaded => "least_loaded",
        StrategyDef::Ordered => "ordered",
    }
}

fn trace_path(path: &[TraceStep]) -> Value {
    Value::Array(
        path.iter()
            .map(|step| {
                let value: Value = serde_json::from_str(&step.value)
                    .unwrap_or_else(|_| Value::String(step.value.clone()));
                json!({ "test": step.test, "value": value, "branch": step.branch })
            })
            .collect(),
    )
}

fn error_record(error: &LeadError, line_number: usize) -> Routed {
    let record = json!({
        "lead": error.lead,
        "error": { "code": error.code, "message": error.message, "input_line": line_number },
    });
    Routed {
        json: record.to_string(),
        is_error: true,
    }
}

/// A recorded decision, marked as a repeat.
fn mark_duplicate(recorded: &str) -> String {
    match serde_json::from_str::<Value>(recorded) {
        Ok(Value::Object(mut object)) => {
            object.insert("duplicate".to_string(), Value::Bool(true));
            Value::Object(object).to_string()
        }
        _ => recorded.to_string(),
    }
}

/// A stable hash of the policy text (FNV-1a, 64 bits), recorded with every decision.
pub fn policy_hash(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_json() {
        for text in [
            "plain",
            "quote \" and \\ backslash",
            "line\nbreak\ttab\r",
            "\u{1}\u{1f}",
            "ünïcødé 😀",
            "",
        ] {
            let mut out = String::new();
            push_str(&mut out, text);
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), text);
            assert_eq!(out, serde_json::to_string(text).unwrap());
        }
    }
}
