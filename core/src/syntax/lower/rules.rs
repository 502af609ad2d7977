//! Lowering of rules: the header, the actions, the SLA (`within`) and the escalations, with the
//! durations they use.

use super::Lowerer;
use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::Rule;
use crate::syntax::ast::*;
use pest::iterators::Pair;

impl Lowerer<'_> {
    pub(super) fn rule(&mut self, pair: Pair<'_, Rule>, position: usize) -> Option<Rule_> {
        let span = self.span(&pair);
        let mut rule = Rule_ {
            name: None,
            position,
            condition: None,
            keyword_span: span,
            actions: Vec::new(),
            within: None,
            escalations: Vec::new(),
            tags: Vec::new(),
            span,
        };
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::rule_header => {
                    rule.name = part
                        .into_inner()
                        .find(|p| p.as_rule() == Rule::ident)
                        .map(|ident| self.ident(&ident));
                }
                Rule::kw_when | Rule::kw_otherwise => rule.keyword_span = self.span(&part),
                Rule::condition => {
                    let or = part.into_inner().next()?;
                    rule.condition = Some(self.expr(or)?);
                }
                Rule::actions => {
                    for action in part.into_inner().filter(|p| p.as_rule() != Rule::kw_else) {
                        rule.actions.push(self.action(action)?);
                    }
                }
                Rule::within_clause => {
                    let within = self.within(part)?;
                    if let Some(first) = rule.within {
                        self.errors.push(
                            Diagnostic::new(
                                Code::DuplicateClause,
                                within.span,
                                "`within` is given twice",
                            )
                            .with_label("given again here")
                            .with_related(first.span, "first given here")
                            .with_help("a rule has one SLA; keep one `within`"),
                        );
                    } else {
                        rule.within = Some(within);
                    }
                }
                Rule::escalate_clause => rule.escalations.push(self.escalation(part)?),
                Rule::tag_clause => rule.tags.extend(
                    part.into_inner()
                        .filter(|p| p.as_rule() == Rule::ident)
                        .map(|ident| self.ident(&ident)),
                ),
                _ => {}
            }
        }
        Some(rule)
    }

    fn action(&mut self, pair: Pair<'_, Rule>) -> Option<Action> {
        let span = self.span(&pair);
        let grammar_rule = pair.as_rule();
        if grammar_rule == Rule::previous_action {
            let mut field = None;
            let mut since = None;
            for part in pair.into_inner() {
                match part.as_rule() {
                    Rule::ident => field = Some(self.ident(&part)),
                    Rule::duration => since = self.duration(part),
                    _ => {}
                }
            }
            let kind = ActionKind::PreviousRep {
                field: field?,
                since,
            };
            return Some(Action { kind, span });
        }
        let target = pair.into_inner().find(|p| p.as_rule() == Rule::ident)?;
        let target = self.ident(&target);
        let kind = match grammar_rule {
            Rule::pool_action => ActionKind::Pool(target),
            Rule::rep_action => ActionKind::Rep(target),
            Rule::owner_action => ActionKind::OwnerOf(target),
            Rule::queue_action => ActionKind::Queue(target),
            _ => return None,
        };
        Some(Action { kind, span })
    }

    pub(super) fn within(&mut self, pair: Pair<'_, Rule>) -> Option<Duration> {
        let duration = pair.into_inner().find(|p| p.as_rule() == Rule::duration)?;
        self.duration(duration)
    }

    pub(super) fn escalation(&mut self, pair: Pair<'_, Rule>) -> Option<Escalation> {
        let span = self.span(&pair);
        let mut target = None;
        let mut after = None;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::ident => target = Some(self.ident(&part)),
                Rule::duration => after = Some(self.duration(part)?),
                _ => {}
            }
        }
        Some(Escalation {
            target: target?,
            after,
            span,
        })
    }

    fn duration(&mut self, pair: Pair<'_, Rule>) -> Option<Duration> {
        let span = self.span(&pair);
        let inner = pair.into_inner().next()?;
        match inner.as_rule() {
            Rule::fixed_duration => {
                let mut seconds: u64 = 0;
                let mut digits = String::new();
                for ch in inner.as_str().chars() {
                    if ch.is_ascii_digit() {
                        digits.push(ch);
                        continue;
                    }
                    let unit: u64 = match ch {
                        's' => 1,
                        'm' => 60,
                        'h' => 3_600,
                        'd' => 86_400,
                        _ => 604_800,
                    };
                    let amount = digits.parse::<u64>().ok();
                    digits.clear();
                    match amount
                        .and_then(|amount| amount.checked_mul(unit))
                        .and_then(|part| seconds.checked_add(part))
                    {
                        Some(total) => seconds = total,
                        None => {
                            self.errors.push(
                                Diagnostic::new(Code::InvalidLiteral, span, "duration too long")
                                    .with_label("does not fit in 64 bits of seconds"),
                            );
                            seconds = u64::MAX;
                            break;
                        }
                    }
                }
                if seconds != u64::MAX && seconds > LONGEST_DURATION_SECONDS {
                    self.errors.push(too_long(span));
                }
                Some(Duration {
                    kind: DurationKind::Fixed { seconds },
                    span,
                })
            }
            Rule::business_duration => {
                let mut parts = inner.into_inner();
                let count = self.integer(&parts.next()?)?.value;
                let unit = match parts.find(|p| p.as_rule() == Rule::business_unit)?.as_str() {
                    "day" | "days" => BusinessUnit::Days,
                    _ => BusinessUnit::Hours,
                };
                let longest = match unit {
                    BusinessUnit::Days => LONGEST_DURATION_SECONDS / 86_400,
                    BusinessUnit::Hours => LONGEST_DURATION_SECONDS / 3_600,
                };
                if count > longest {
                    self.errors.push(too_long(span));
                }
                Some(Duration {
                    kind: DurationKind::Business { count, unit },
                    span,
                })
            }
            _ => None,
        }
    }
}

/// The longest duration a policy takes, ten years (3,650 days; as many business days, or
/// 87,600 business hours): longer than any SLA, escalation or look-back, and as far as the
/// router looks ahead for working time (a longer one only ever gave `"due": null`).
const LONGEST_DURATION_SECONDS: u64 = 3_650 * 86_400;

fn too_long(span: crate::span::Span) -> Diagnostic {
    Diagnostic::new(Code::InvalidLiteral, span, "duration too long")
        .with_label("longer than ten years")
        .with_help(
            "a policy's durations are at most ten years (`3650d`, `3650 business days`, \
             `87600 business hours`), as far as the router looks ahead for working time",
        )
}

/// The AST's rule type, renamed here because pest's `Rule` enum owns the name in this module.
type Rule_ = crate::syntax::ast::Rule;
