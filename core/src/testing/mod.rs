//! Policy tests: runs `test` blocks through the router exactly as `route --explain` would, and
//! compares each decision with the block's `expect` clauses. Also the coverage of rules by tests,
//! which tests run against which policy ([`suite`]) and the reports ([`report`]).
//!
//! Architecture invariant: a test routes its one lead with fresh in-memory state, the roster the
//! test names (or none: everyone available), and the test's `at` time (or the lead's clock), so
//! a test's result depends on nothing but the files it names.

pub mod report;
pub mod suite;

use crate::graph::Compiled;
use crate::model::FieldType;
use crate::model::{Policy, RuleDef};
use crate::route::roster::Roster;
use crate::route::state::MemoryState;
use crate::route::{Action, Decision, Outcome, RouteConfig, Router};
use crate::span::Span;
use crate::syntax::ast::{DurationKind, Escalation, ExpectationKind, LeadLiteral, Test, ValueKind};
use serde_json::Value;

/// The time tests route at when they give no `at` and their lead has no clock: a Monday
/// morning, so that calendars behave as on a working day.
pub const DEFAULT_TEST_TIME: &str = "2026-11-23T10:00:00Z";

/// The result of one test.
#[derive(Debug, Clone)]
pub struct TestResult {
    pub name: String,
    /// The span of the test's name.
    pub span: Span,
    /// Every expectation that did not hold: "expected pool `senior`, got pool `sdr`".
    pub failures: Vec<String>,
    /// What `route --explain` gives for the test's lead: its decision with the trace, or why
    /// the lead is not valid. `None` when the test could not route at all.
    pub outcome: Option<Outcome>,
    /// The index of the rule that decided, if one did.
    pub rule: Option<usize>,
}

impl TestResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Runs one test. `roster` is the test's roster, already resolved (a file's contents or the
/// inline roster); `None` means everyone is available.
pub fn run_test(
    policy: &Policy,
    compiled: &Compiled,
    policy_text: &str,
    test: &Test,
    roster: Option<&Roster>,
) -> TestResult {
    let mut result = TestResult {
        name: test.name.value.clone(),
        span: test.name.span,
        failures: Vec::new(),
        outcome: None,
        rule: None,
    };
    let Some(lead) = test.leads.first() else {
        result.failures.push("the test has no `lead`".to_string());
        return result;
    };
    let lead_json = lead_json(policy, lead);
    let now = test_time(policy, test);
    let config = RouteConfig {
        now,
        explain: true,
        limits: crate::route::reader::Limits::default(),
    };
    let router = Router::new(policy, compiled, roster, config, policy_text);
    let mut state = MemoryState::default();
    let lead_at = clock_of_literal(policy, lead).unwrap_or(now);
    match earlier_leads(policy, test, lead_at) {
        Ok(earlier) => {
            for (rep, at, count) in earlier {
                state.add_earlier_leads(&rep, at, count);
            }
        }
        Err(failure) => {
            result.failures.push(failure);
            return result;
        }
    }
    let outcome = match router.route_line(&mut state, lead_json.as_bytes()) {
        Ok(outcome) => outcome,
        Err(error) => {
            result.failures.push(format!("routing failed: {error}"));
            return result;
        }
    };
    let decision = match &outcome {
        Outcome::Invalid(error) => {
            result
                .failures
                .push(format!("the lead is not valid: {}", error.message));
            result.outcome = Some(outcome);
            return result;
        }
        Outcome::Decided { decision, .. } => decision.clone(),
    };
    result.outcome = Some(outcome);
    let rule_label = decision.rule.as_ref().map(|rule| &*rule.label);
    result.rule =
        rule_label.and_then(|label| policy.rules.iter().position(|rule| rule.label == label));
    let matched = result.rule.and_then(|index| policy.rules.get(index));
    // Every score of the lead, read or not by the rules on its path (a test may expect any).
    let scores = crate::route::reader::parse_lead(
        policy,
        lead_json.as_bytes(),
        &crate::route::reader::Limits::default(),
    )
    .map(|parsed| {
        let context = crate::model::EvalContext { now };
        (0..policy.scores.len())
            .map(|score| policy.score_value(score, &parsed.lead, &context))
            .collect()
    })
    .unwrap_or_default();
    let routed = Routed {
        decision: &decision,
        rule_label,
        matched,
        actual_destination: decision.action.describe(),
        policy,
        scores,
    };
    for expectation in &test.expectations {
        if let Some(failure) = check_expectation(&expectation.kind, &routed) {
            result.failures.push(failure);
        }
    }
    result
}

/// How a test's lead was routed, as its expectations read it.
struct Routed<'a> {
    decision: &'a Decision,
    /// The label of the rule that decided, if one did.
    rule_label: Option<&'a str>,
    /// The policy's rule that decided, if one did.
    matched: Option<&'a RuleDef>,
    /// Where the lead went, as failures show it.
    actual_destination: String,
    policy: &'a Policy,
    /// The value of every score of the policy for the lead, in declaration order.
    scores: Vec<i64>,
}

/// Why an expectation does not hold for the decision; `None` when it holds.
fn check_expectation(expectation: &ExpectationKind, routed: &Routed<'_>) -> Option<String> {
    let Routed {
        decision,
        rule_label,
        matched,
        ref actual_destination,
        policy,
        ref scores,
    } = *routed;
    match expectation {
        ExpectationKind::Pool(pool) => (decision.action.pool() != Some(pool.name.as_str()))
            .then(|| format!("expected pool `{}`, got {actual_destination}", pool.name)),
        ExpectationKind::Queue(queue) => (decision.action.queue() != Some(queue.name.as_str()))
            .then(|| format!("expected queue `{}`, got {actual_destination}", queue.name)),
        ExpectationKind::Rep(rep) => {
            (decision.action.rep() != Some(rep.name.as_str())).then(|| {
                format!(
                    "expected rep `{}`, got {}",
                    rep.name,
                    decision
                        .action
                        .rep()
                        .map_or("no rep".to_string(), |r| format!("rep `{r}`"))
                )
            })
        }
        ExpectationKind::Unassigned => (decision.action != Action::Unassigned)
            .then(|| format!("expected `unassigned`, got {actual_destination}")),
        ExpectationKind::Rule(rule) => (rule_label != Some(rule.name.as_str())).then(|| {
            format!(
                "expected rule `{}`, got {}",
                rule.name,
                rule_label.map_or("no rule".to_string(), |r| format!("rule `{r}`"))
            )
        }),
        ExpectationKind::Within(within) => {
            let actual = matched.and_then(|rule| rule.syntax.within);
            (actual.map(|d| d.kind) != Some(within.kind)).then(|| {
                format!(
                    "expected within {}, got {}",
                    within.kind,
                    actual.map_or("no SLA".to_string(), |d| format!("within {}", d.kind))
                )
            })
        }
        ExpectationKind::Escalate(escalation) => escalation_failure(escalation, matched),
        ExpectationKind::Score { score, value } => {
            let actual = policy
                .score_id(&score.name)
                .and_then(|id| scores.get(id).copied());
            (actual != Some(value.value)).then(|| match actual {
                Some(actual) => format!(
                    "expected score `{}` {}, got {actual}",
                    score.name, value.value
                ),
                None => format!(
                    "expected score `{}`, which the policy does not have",
                    score.name
                ),
            })
        }
        ExpectationKind::Tag(tag) => {
            (!decision.tags.iter().any(|have| **have == *tag.name)).then(|| {
                if decision.tags.is_empty() {
                    format!("expected tag `{}`, got no tags", tag.name)
                } else {
                    format!(
                        "expected tag `{}`, got {}",
                        tag.name,
                        decision
                            .tags
                            .iter()
                            .map(|t| format!("`{t}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            })
        }
    }
}

/// Why an expected escalation is not in the chain of the rule that decided; `None` when it is.
fn escalation_failure(escalation: &Escalation, matched: Option<&RuleDef>) -> Option<String> {
    let chain: Vec<(String, Option<DurationKind>)> = matched
        .map(|rule| {
            rule.syntax
                .escalations
                .iter()
                .map(|e| {
                    (
                        e.target.name.clone(),
                        e.after.or(rule.syntax.within).map(|d| d.kind),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let wanted_after = escalation.after.map(|d| d.kind);
    let found = chain.iter().any(|(to, after)| {
        *to == escalation.target.name && (wanted_after.is_none() || *after == wanted_after)
    });
    (!found).then(|| {
        let expected = match wanted_after {
            Some(after) => {
                format!("escalate {} after {}", escalation.target.name, after)
            }
            None => format!("escalate {}", escalation.target.name),
        };
        let actual: Vec<String> = chain
            .iter()
            .map(|(to, after)| match after {
                Some(after) => format!("escalate {to} after {}", after),
                None => format!("escalate {to}"),
            })
            .collect();
        format!(
            "expected {expected}, got {}",
            if actual.is_empty() {
                "no escalation".to_string()
            } else {
                actual.join(", ")
            }
        )
    })
}

/// The time a test routes at: its `at`, else its lead's clock, else a fixed Monday morning.
pub fn test_time(policy: &Policy, test: &Test) -> jiff::Timestamp {
    test.at
        .first()
        .map(|at| at.value)
        .or_else(|| {
            test.leads
                .first()
                .and_then(|lead| clock_of_literal(policy, lead))
        })
        .unwrap_or_else(|| {
            DEFAULT_TEST_TIME
                .parse()
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        })
}

/// The leads an inline roster says reps already got (`anna assigned 5 today`), as `(rep, own
/// time, count)` to seed the test's state with. The counts are cumulative: `assigned 2 this
/// hour, assigned 5 today` is two leads this hour and three more earlier or later today. Each
/// window is the one holding `lead_at` in the rep's time zone (their `rep` item's calendar, else
/// the first calendar of a pool they are a member of, else UTC), and the leads are placed
/// where they count in that window and in no narrower one.
pub fn earlier_leads(
    policy: &Policy,
    test: &Test,
    lead_at: jiff::Timestamp,
) -> Result<Vec<(String, jiff::Timestamp, u64)>, String> {
    use crate::model::Period;
    use crate::syntax::ast::{RepFact, RosterSpec};
    // Per rep: the counts this hour, today and this week, as written (the last one wins).
    let mut stated: std::collections::BTreeMap<&str, [Option<u64>; 3]> = Default::default();
    for roster in &test.rosters {
        let RosterSpec::Inline(inline) = roster else {
            continue;
        };
        for rep in &inline.reps {
            for fact in &rep.facts {
                if let RepFact::Assigned { count, period } = fact {
                    let slot = match period {
                        Period::Hour => 0,
                        Period::Day => 1,
                        Period::Week => 2,
                    };
                    stated.entry(rep.name.name.as_str()).or_default()[slot] = Some(*count);
                }
            }
        }
    }
    let mut earlier = Vec::new();
    for (rep, [hour, day, week]) in stated {
        let in_hour = hour.unwrap_or(0);
        let in_day = day.unwrap_or(in_hour);
        let in_week = week.unwrap_or(in_day);
        if in_day < in_hour || in_week < in_day {
            return Err(format!(
                "the roster says `{rep}` got fewer leads in a longer window ({} this hour, {} \
                 today, {} this week): the counts include the narrower window's",
                in_hour, in_day, in_week
            ));
        }
        let calendar = policy.member_calendar(None, rep).or_else(|| {
            policy
                .pools
                .iter()
                .filter(|pool| pool.members.iter().any(|member| member == rep))
                .find_map(|pool| pool.calendar)
        });
        let zone = calendar
            .and_then(|id| policy.calendars.get(id))
            .map_or(jiff::tz::TimeZone::UTC, |calendar| calendar.zone.clone());
        let Some(placed) =
            crate::route::earlier_lead_times(lead_at, &zone, [in_hour, in_day, in_week])
        else {
            return Err(format!(
                "the windows of `{rep}`'s caps around {lead_at} are out of range"
            ));
        };
        earlier.extend(
            placed
                .into_iter()
                .map(|(at, count)| (rep.to_string(), at, count)),
        );
    }
    Ok(earlier)
}

/// The test's lead as the JSON line a CRM would send.
pub fn lead_json(policy: &Policy, lead: &LeadLiteral) -> String {
    let mut object = serde_json::Map::new();
    for entry in &lead.entries {
        let ty = policy
            .field_id(&entry.field.name)
            .and_then(|id| policy.fields.get(id))
            .map(|f| &f.ty);
        let value = match (&entry.value.kind, ty) {
            (ValueKind::Word(word), Some(FieldType::Bool)) => Value::Bool(word == "true"),
            (ValueKind::Word(word), _) | (ValueKind::Str(word), _) => Value::String(word.clone()),
            (ValueKind::Number(crate::syntax::ast::Number::Int(int)), _) => Value::from(*int),
            (ValueKind::Number(crate::syntax::ast::Number::Float(float)), _) => {
                serde_json::Number::from_f64(*float).map_or(Value::Null, Value::Number)
            }
            (ValueKind::Time(time), _) => Value::String(time.to_string()),
            (ValueKind::Null, _) | (ValueKind::Invalid, _) => Value::Null,
        };
        object.insert(entry.field.name.clone(), value);
    }
    Value::Object(object).to_string()
}

/// The lead literal's clock value, if it gives one.
fn clock_of_literal(policy: &Policy, lead: &LeadLiteral) -> Option<jiff::Timestamp> {
    let clock = policy.fields.get(policy.clock?)?;
    lead.entries
        .iter()
        .find(|entry| entry.field.name == clock.name)
        .and_then(|entry| match entry.value.kind {
            ValueKind::Time(time) => Some(time),
            _ => None,
        })
}

/// How many tests reached each rule (by rule index).
pub fn coverage(policy: &Policy, results: &[TestResult]) -> Vec<usize> {
    let mut counts = vec![0; policy.rules.len()];
    for result in results {
        if let Some(count) = result.rule.and_then(|rule| counts.get_mut(rule)) {
            *count += 1;
        }
    }
    counts
}
