//! Explanations a rep or a manager can read: the rules tried in order and, for each one that did
//! not match, the condition that failed with the lead's actual value; the rule that matched; the
//! candidates and why each was or was not eligible; the SLA and escalation chain.

use crate::graph::Compiled;
use crate::graph::example::value_json;
use crate::model::time::LocalTime;
use crate::model::{EvalContext, Lead, Policy};
use crate::route::reader::{LeadError, Limits, parse_lead};
use crate::route::roster::Roster;
use crate::route::state::{MemoryState, StateError};
use crate::route::{Action, ActionTrace, Decision, Outcome, RouteConfig, Router, Trace};
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
    /// The decision, exactly as `route --explain` gives it.
    pub decision: Decision,
    /// The rule path and every candidate.
    pub trace: Trace,
    /// The rules tried in order, up to the one that matched.
    pub rules: Vec<RuleCheck>,
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
    /// The state could not be read.
    State(StateError),
}

/// Explains how `lead_json` is routed.
pub fn explain(
    policy: &Policy,
    compiled: &Compiled,
    policy_text: &str,
    roster: Option<&Roster>,
    lead_json: &str,
    now: jiff::Timestamp,
) -> Result<Explanation, ExplainError> {
    let limits = Limits::default();
    let context = EvalContext { now };
    let parsed = parse_lead(policy, lead_json.as_bytes(), &limits).map_err(ExplainError::Lead)?;
    let config = RouteConfig {
        now,
        explain: true,
        limits,
    };
    let router = Router::new(policy, compiled, roster, config, policy_text);
    let mut state = MemoryState::default();
    let (decision, trace) = match router
        .route_lead(&mut state, &parsed)
        .map_err(ExplainError::State)?
    {
        Outcome::Decided {
            decision, trace, ..
        } => (decision, trace.unwrap_or_default()),
        Outcome::Invalid(error) => return Err(ExplainError::Lead(error)),
    };
    let mut rules = Vec::new();
    for rule in &policy.rules {
        let matched = policy.holds(&rule.cond, &parsed.lead, &context);
        let why_not = match (&rule.syntax.condition, matched) {
            (Some(expr), false) => {
                Some(why_false(policy, policy_text, expr, &parsed.lead, &context))
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
    Ok(Explanation {
        decision,
        trace,
        rules,
    })
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
    let source = |expr: &Expr| {
        text.get(expr.span.start..expr.span.end)
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let actual = |field: &str| -> String {
        match policy.field_id(field) {
            Some(id) => match lead.values.get(id).and_then(Option::as_ref) {
                Some(value) => format!("the lead has {}", value_json(policy, id, value)),
                None => format!("the lead has no `{field}`"),
            },
            None => String::new(),
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
    let _ = writeln!(out, "lead {}", decision.lead);
    out.push_str("rules tried, in order:\n");
    for rule in &explanation.rules {
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
    if !explanation.rules.iter().any(|r| r.matched) {
        out.push_str("  no rule matches this lead\n");
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
                    let mut why = candidate.why.clone();
                    if let Some(owner) = &candidate.owner {
                        let _ = write!(why, "; {owner}");
                    }
                    if let Some(load) = candidate.load.filter(|_| !why.contains("open leads")) {
                        let _ = write!(why, " ({load} open)");
                    }
                    let _ = writeln!(out, "  {:<width$}  {why}", candidate.rep);
                }
            }
        }
    }
    let destination = match &decision.action {
        Action::Pool { pool, rep } => format!("pool {pool}, rep {rep}"),
        Action::Queue { queue } => format!("queue {queue}"),
        Action::Rep { rep } | Action::Owner { rep } => format!("rep {rep}"),
        Action::Unassigned => "unassigned".to_string(),
    };
    let _ = writeln!(out, "decision: {destination}");
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
    out
}
