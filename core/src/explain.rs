//! Explanations a rep or a manager can read: the rules tried in order and, for each one that did
//! not match, the condition that failed with the lead's actual value; the rule that matched; the
//! candidates and why each was or was not eligible; the SLA and escalation chain.

use crate::graph::Compiled;
use crate::graph::example::value_json;
use crate::model::time::LocalTime;
use crate::model::{EvalContext, Lead, Policy};
use crate::route::reader::{LeadError, Limits, parse_lead};
use crate::route::roster::Roster;
use crate::route::state::{MemoryState, StateError, StateStore};
use crate::route::{ActionTrace, Decision, Outcome, RouteConfig, Router, Trace};
use crate::syntax::ast::{Expr, ExprKind};
use std::fmt::Write as _;

/// One rule as tried for the lead.
#[derive(Debug, Clone)]
pub struct RuleCheck {
    pub label: String,
    pub line: usize,
    pub matched: bool,
    /// For a rule that did not match: the condition that failed, with the lead's value.
    pub why_not: Option<String>,
}

/// The explanation of one lead's decision.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The lead's id.
    pub lead: String,
    /// Whether this is the decision the ledger recorded, or what would happen now.
    pub basis: Basis,
    /// The decision, exactly as `route --explain` gives it.
    pub decision: Decision,
    /// The rule path and every candidate (as of the decision).
    pub trace: Trace,
    /// The rules tried in order, up to the one that matched; `None` when only the lead's id was
    /// given (the recorded path stands in for them).
    pub rules: Option<Vec<RuleCheck>>,
    /// What happened after the decision (`track`, `sweep`), when anything did.
    pub life: Option<crate::route::life::Life>,
    /// The zone the life's times are shown in: the calendar of the lead's holder or rule (UTC
    /// without one), as `track` and `sweep` show them.
    pub life_zone: Option<jiff::tz::TimeZone>,
    /// The scores the decision reports, each with the lines that added points; empty when only
    /// the lead's id was given.
    pub scores: Vec<ScoreExplained>,
}

/// A score of the lead, and the lines that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreExplained {
    pub name: String,
    /// The value the decision reports (for a recorded decision, as recorded).
    pub value: i64,
    /// The value this policy gives the lead now, when it differs from `value` (the points
    /// changed since the decision was recorded); the lines are this policy's.
    pub now: Option<i64>,
    /// Each line that held: its points, its condition as written, and the lead's values of the
    /// fields it reads (`employees 800`).
    pub lines: Vec<(i64, String, String)>,
}

/// What an explanation answers for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Basis {
    /// The decision the ledger holds for the lead, made at `decided_at`; `same_policy` is false
    /// when another version of the policy made it (the rules shown are the current policy's).
    Recorded {
        decided_at: jiff::Timestamp,
        same_policy: bool,
        /// The ledger kept how it was decided (older entries may not have it).
        traced: bool,
    },
    /// The lead is not in the ledger: what this policy would decide now, from the state as it
    /// is (nothing is recorded).
    WhatIf { empty_state: bool },
}

impl Explanation {
    /// The decision with its trace, as `route --explain` prints it.
    pub fn outcome(&self) -> Outcome {
        Outcome::Decided {
            decision: self.decision.clone(),
            duplicate: false,
            trace: Some(self.trace.clone()),
        }
    }
}

/// Why a lead could not be explained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExplainError {
    /// The lead is not valid (its error record says why).
    Lead(LeadError),
    /// Only an id was given, and the ledger has no lead by that id.
    NotRecorded(String),
    /// The lead given and the lead the ledger holds under its id differ.
    Conflict {
        lead: String,
        decided_at: jiff::Timestamp,
    },
    /// The state could not be read.
    State(StateError),
}

/// The lead to explain: its JSON, or only its id (then it must be in the ledger).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeadArgument {
    Json(String),
    Id(String),
}

/// Explains how `lead_json` is routed by this policy from an empty state.
pub fn explain(
    policy: &Policy,
    compiled: &Compiled,
    policy_text: &str,
    roster: Option<&Roster>,
    lead_json: &str,
    now: jiff::Timestamp,
) -> Result<Explanation, ExplainError> {
    let mut state = MemoryState::default();
    let what = Explain {
        policy,
        compiled,
        policy_text,
        roster,
        now,
    };
    what.lead(&mut state, &LeadArgument::Json(lead_json.to_string()), true)
}

/// What explaining needs: the policy, the roster and the routing time.
pub struct Explain<'a> {
    pub policy: &'a Policy,
    pub compiled: &'a Compiled,
    pub policy_text: &'a str,
    pub roster: Option<&'a Roster>,
    pub now: jiff::Timestamp,
}

impl Explain<'_> {
    /// Explains a lead with the ledger of `state`: its recorded decision when the ledger has
    /// it, else what would happen now. `empty_state` says the state is a fresh one (for the
    /// reader's sake). A what-if changes nothing: the caller rolls the state back.
    pub fn lead(
        &self,
        state: &mut dyn StateStore,
        lead: &LeadArgument,
        empty_state: bool,
    ) -> Result<Explanation, ExplainError> {
        let config = RouteConfig {
            now: self.now,
            explain: true,
            limits: Limits::default(),
        };
        let router = Router::new(
            self.policy,
            self.compiled,
            self.roster,
            config,
            self.policy_text,
        );
        let (id, parsed) = match lead {
            LeadArgument::Id(id) => (id.clone(), None),
            LeadArgument::Json(json) => {
                let parsed = parse_lead(self.policy, json.as_bytes(), &config.limits)
                    .map_err(ExplainError::Lead)?;
                (parsed.id.to_string(), Some(parsed))
            }
        };
        if let Some(recorded) = state.recorded(&id).map_err(ExplainError::State)? {
            if let Some(parsed) = &parsed
                && let Some(earlier) = recorded.fingerprint
                && !router.same_lead(&earlier, &router.fingerprint(parsed), parsed)
            {
                return Err(ExplainError::Conflict {
                    lead: id,
                    decided_at: recorded.decided_at,
                });
            }
            let rules = parsed.as_ref().map(|parsed| self.rules_tried(&parsed.lead));
            let scores = parsed.as_ref().map_or_else(Vec::new, |parsed| {
                self.scores(&recorded.decision, &parsed.lead)
            });
            let life = state.life(&id).map_err(ExplainError::State)?;
            let life_zone = life
                .as_ref()
                .and_then(|life| router.life_calendar(life))
                .map(|calendar| calendar.zone.clone());
            return Ok(Explanation {
                life,
                life_zone,
                lead: id,
                basis: Basis::Recorded {
                    decided_at: recorded.decided_at,
                    same_policy: *recorded.policy_hash == *router.policy_hash(),
                    traced: recorded.trace.is_some(),
                },
                decision: recorded.decision,
                // The path names fields by position: shown only when they are this policy's.
                trace: recorded
                    .trace
                    .map(|trace| {
                        let mut shown = trace.describe(self.policy);
                        if recorded
                            .fingerprint
                            .is_none_or(|f| !self.policy.reads_alike(f.schema))
                        {
                            shown.path.clear();
                        }
                        shown
                    })
                    .unwrap_or_default(),
                rules,
                scores,
            });
        }
        let Some(parsed) = parsed else {
            return Err(ExplainError::NotRecorded(id));
        };
        let (decision, trace) = router
            .decide_only(state, &parsed, true)
            .map_err(ExplainError::State)?;
        let scores = self.scores(&decision, &parsed.lead);
        Ok(Explanation {
            lead: id,
            basis: Basis::WhatIf { empty_state },
            decision,
            trace: trace.unwrap_or_default(),
            rules: Some(self.rules_tried(&parsed.lead)),
            life: None,
            life_zone: None,
            scores,
        })
    }

    /// The scores `decision` reports, with the lines of each that held for `lead`.
    fn scores(&self, decision: &Decision, lead: &Lead) -> Vec<ScoreExplained> {
        let policy = self.policy;
        let context = EvalContext { now: self.now };
        decision
            .scores
            .iter()
            .filter_map(|(name, value)| {
                let id = policy.score_id(name)?;
                let def = policy.scores.get(id)?;
                let lines = policy
                    .score_lines_held(id, lead, &context)
                    .into_iter()
                    .filter_map(|index| {
                        let line = def.lines.get(index)?;
                        let condition = squeeze(
                            self.policy_text
                                .get(line.condition_span.start..line.condition_span.end)
                                .unwrap_or_default(),
                        );
                        Some((
                            line.points,
                            condition,
                            values_read(policy, &line.cond, lead),
                        ))
                    })
                    .collect();
                let now = policy.score_value(id, lead, &context);
                Some(ScoreExplained {
                    name: name.to_string(),
                    value: *value,
                    now: (now != *value).then_some(now),
                    lines,
                })
            })
            .collect()
    }

    /// The rules in order, up to the first that holds, each with why it does not.
    fn rules_tried(&self, lead: &Lead) -> Vec<RuleCheck> {
        let policy = self.policy;
        let context = EvalContext { now: self.now };
        let mut rules = Vec::new();
        for rule in &policy.rules {
            let matched = policy.holds(&rule.cond, lead, &context);
            let why_not = match (&rule.syntax.condition, matched) {
                (Some(expr), false) => {
                    Some(why_false(policy, self.policy_text, expr, lead, &context))
                }
                _ => None,
            };
            rules.push(RuleCheck {
                label: if rule.is_otherwise && rule.syntax.name.is_none() {
                    "otherwise".to_string()
                } else {
                    rule.label.clone()
                },
                line: rule.line,
                matched,
                why_not,
            });
            if matched {
                break;
            }
        }
        rules
    }
}

fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The lead's values of the fields a condition reads: `employees 800, icp true`.
fn values_read(policy: &Policy, cond: &crate::model::Cond, lead: &Lead) -> String {
    let mut fields = Vec::new();
    cond.for_each_atom(&mut |atom| {
        if let Some(field) = atom.field()
            && !fields.contains(&field)
        {
            fields.push(field);
        }
    });
    fields
        .into_iter()
        .filter_map(|field| {
            let name = &policy.fields.get(field)?.name;
            Some(match lead.values.get(field).and_then(Option::as_ref) {
                Some(value) => format!("{name} {}", value_json(policy, field, value)),
                None => format!("no {name}"),
            })
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why `expr` does not hold for the lead, in words, quoting the policy's own text.
fn why_false(
    policy: &Policy,
    text: &str,
    expr: &Expr,
    lead: &Lead,
    context: &EvalContext,
) -> String {
    let holds = |expr: &Expr| {
        policy
            .cond(expr)
            .is_some_and(|cond| policy.holds(&cond, lead, context))
    };
    let source =
        |expr: &Expr| squeeze(text.get(expr.span.start..expr.span.end).unwrap_or_default());
    let actual = |field: &str| -> String {
        match policy.field_id(field) {
            Some(id) => match lead.values.get(id).and_then(Option::as_ref) {
                Some(value) => format!("the lead has {}", value_json(policy, id, value)),
                None => format!("the lead has no `{field}`"),
            },
            None => match policy.score_id(field) {
                Some(score) => format!(
                    "the lead's `{field}` is {}",
                    policy.score_value(score, lead, context)
                ),
                None => String::new(),
            },
        }
    };
    match &expr.kind {
        ExprKind::And(parts) => parts.iter().find(|part| !holds(part)).map_or_else(
            || format!("`{}` is false", source(expr)),
            |part| why_false(policy, text, part, lead, context),
        ),
        ExprKind::Or(parts) => {
            let reasons: Vec<String> = parts
                .iter()
                .map(|part| why_false(policy, text, part, lead, context))
                .collect();
            format!("none of its alternatives holds: {}", reasons.join("; "))
        }
        ExprKind::Not(inner) => format!("`{}` holds, and the rule wants it not to", source(inner)),
        ExprKind::Compare { field, .. } | ExprKind::In { field, .. } => {
            format!("`{}`: {}", source(expr), actual(&field.name))
        }
        ExprKind::IsSet { field, negated } => {
            if *negated {
                format!("`{}`: {}", source(expr), actual(&field.name))
            } else {
                format!("`{}`: the lead has no `{}`", source(expr), field.name)
            }
        }
        ExprKind::Calendar { calendar, .. } => {
            let instant = policy.clock_of(lead, context);
            let definition = policy.calendars.iter().find(|c| c.name == calendar.name);
            let shown = LocalTime::on(instant, definition);
            let inside = definition.is_some_and(|c| c.contains(instant));
            format!(
                "`{}`: the lead arrived at {shown}, {} `{}` hours",
                source(expr),
                if inside { "inside" } else { "outside" },
                calendar.name
            )
        }
    }
}

/// The explanation as text for people.
pub fn render_human(explanation: &Explanation) -> String {
    let mut out = String::new();
    let decision = &explanation.decision;
    let _ = writeln!(out, "lead {}", explanation.lead);
    match &explanation.basis {
        Basis::Recorded {
            decided_at,
            same_policy,
            traced,
        } => {
            let _ = writeln!(
                out,
                "recorded decision, made at {decided_at}{}",
                if *same_policy {
                    ""
                } else {
                    " by another version of the policy (the rules below are this version's)"
                }
            );
            if !traced {
                out.push_str("(recorded before decisions kept their candidates)\n");
            }
        }
        Basis::WhatIf { empty_state: true } => {
            out.push_str("not routed before: what this policy decides from an empty state\n");
        }
        Basis::WhatIf { empty_state: false } => {
            out.push_str(
                "not in the ledger: what this policy would decide now, from the state as it is \
                 (nothing is recorded)\n",
            );
        }
    }
    match &explanation.rules {
        Some(rules) => {
            out.push_str("rules tried, in order:\n");
            for rule in rules {
                match (&rule.why_not, rule.matched) {
                    (_, true) => {
                        let _ = writeln!(out, "  {} (line {}): matched", rule.label, rule.line);
                    }
                    (Some(why), false) => {
                        let _ = writeln!(out, "  {} (line {}): no, {why}", rule.label, rule.line);
                    }
                    (None, false) => {
                        let _ = writeln!(out, "  {} (line {}): no", rule.label, rule.line);
                    }
                }
            }
            if !rules.iter().any(|r| r.matched) {
                out.push_str("  no rule matches this lead\n");
            }
            for score in &explanation.scores {
                match score.now {
                    None => {
                        let _ = writeln!(out, "score {} = {}:", score.name, score.value);
                    }
                    Some(now) => {
                        let _ = writeln!(
                            out,
                            "score {} = {} when decided; this version of the policy gives {now}:",
                            score.name, score.value
                        );
                    }
                }
                if score.lines.is_empty() {
                    out.push_str("  no line holds\n");
                }
                let width = score
                    .lines
                    .iter()
                    .map(|(_, condition, _)| condition.chars().count())
                    .max()
                    .unwrap_or(0);
                for (points, condition, values) in &score.lines {
                    let _ = writeln!(
                        out,
                        "  {:>4}  {}  ({values})",
                        format!("{points:+}"),
                        crate::text::pad(condition, width)
                    );
                }
            }
        }
        None => {
            match &decision.rule {
                Some(rule) => {
                    let _ = writeln!(out, "rule: {} (line {})", rule.label, rule.line);
                }
                None => out.push_str("rule: none matched\n"),
            }
            let path = Trace {
                path: explanation.trace.path.clone(),
                actions: Vec::new(),
            };
            for line in path.lines() {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    for action in &explanation.trace.actions {
        match action {
            ActionTrace::Queued { action } => {
                let _ = writeln!(out, "{action}: queued");
            }
            ActionTrace::Failed { action, result } => {
                let _ = writeln!(out, "{action}: {result}");
            }
            ActionTrace::Candidates {
                action,
                strategy,
                candidates,
            } => {
                match strategy {
                    Some(strategy) => {
                        let _ = writeln!(out, "{action} ({strategy}):");
                    }
                    None => {
                        let _ = writeln!(out, "{action}:");
                    }
                }
                let width = candidates.iter().map(|c| c.rep.len()).max().unwrap_or(0);
                for candidate in candidates {
                    let mut why = candidate.why.to_string();
                    if let Some(owner) = &candidate.owner {
                        let _ = write!(why, "; {owner}");
                    }
                    if let Some(load) = candidate.load.filter(|_| !why.contains("open leads")) {
                        let _ = write!(why, " ({load} open)");
                    }
                    let _ = writeln!(out, "  {}  {why}", crate::text::pad(&candidate.rep, width));
                }
            }
        }
    }
    let _ = writeln!(out, "decision: {}", decision.action.summary());
    for reason in &decision.reasons {
        match &reason.action {
            Some(action) => {
                let _ = writeln!(out, "  {action} failed: {}", reason.reason);
            }
            None => {
                let _ = writeln!(out, "  {}", reason.reason);
            }
        }
    }
    if let Some(due) = decision.due.and_then(|due| due.time()) {
        let _ = writeln!(out, "due: {due}");
    }
    for step in &decision.escalation {
        match step.at {
            Some(at) => {
                let _ = writeln!(out, "escalate to {} at {at}", step.to);
            }
            None => {
                let _ = writeln!(out, "escalate to {} at ?", step.to);
            }
        }
    }
    if let Some(life) = &explanation.life {
        out.push_str(&render_life(life, explanation.life_zone.as_ref()));
    }
    out
}

/// What happened after the decision, in time order: who held the lead and how it ended, touches,
/// acceptance, rejections, escalation steps (fired or still ahead), closing.
pub fn render_life(life: &crate::route::life::Life, zone: Option<&jiff::tz::TimeZone>) -> String {
    use crate::route::life::How;
    let shown = |at: jiff::Timestamp| crate::model::time::LocalTime {
        instant: at,
        offset: zone.map(|zone| zone.to_offset(at)),
    };
    let mut lines: Vec<(jiff::Timestamp, String)> = Vec::new();
    for holding in &life.holdings {
        let who = match (&holding.rep, &holding.pool, &holding.queue) {
            (Some(rep), Some(pool), _) => format!("{rep} (pool {pool})"),
            (Some(rep), None, _) => rep.clone(),
            (None, _, Some(queue)) => format!("queue {queue}"),
            (None, _, None) => "nobody (unassigned)".to_string(),
        };
        let how = match holding.how {
            How::Routed => "routed to".to_string(),
            How::Escalated { step } => format!("escalation step {step}: to"),
            How::Rerouted => "re-routed to".to_string(),
        };
        let due = holding
            .due
            .map(|due| format!(", due {}", shown(due)))
            .unwrap_or_default();
        lines.push((holding.from, format!("{how} {who}{due}")));
        if let Some(touch) = holding.touch {
            let sla = match holding.due {
                Some(due) if touch.at <= due => "; SLA met",
                Some(_) => "; SLA missed",
                None => "",
            };
            lines.push((
                touch.at,
                format!(
                    "touched by {} after {} ({} of working time){sla}",
                    holding.rep.as_deref().unwrap_or("?"),
                    crate::text::duration(touch.wall_seconds),
                    crate::text::duration(touch.working_seconds)
                ),
            ));
        }
        if let Some((at, why)) = &holding.ended {
            let touched = if holding.touch.is_none() && holding.rep.is_some() {
                ", never touched"
            } else {
                ""
            };
            lines.push((*at, format!("{who} no longer holds it: {why}{touched}")));
        }
    }
    if let Some(accepted) = &life.accepted {
        lines.push((
            accepted.at,
            format!("accepted by {}", accepted.by.as_deref().unwrap_or("?")),
        ));
    }
    for step in &life.steps {
        if let Some((at, what)) = &step.fired {
            if what.starts_with("found nobody") || what.starts_with("cancelled") {
                lines.push((*at, format!("escalation to {} {what}", step.to)));
            }
        } else if let Some(at) = step.at {
            let stopped = if life.touched.is_some() || life.closed.is_some() {
                " (will not fire: the lead was touched or closed)"
            } else {
                ""
            };
            lines.push((at, format!("escalation to {} due{stopped}", step.to)));
        }
    }
    lines.sort_by_key(|(at, _)| *at);
    let mut out = String::from("after the decision:\n");
    for (at, line) in lines {
        let _ = writeln!(out, "  {}  {line}", shown(at));
    }
    out
}
