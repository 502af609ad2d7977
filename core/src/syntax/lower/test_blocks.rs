//! Lowering of test blocks: their leads, expectations, `at` times and rosters (a roster file or
//! an inline roster of reps and accounts).

use super::{Lowerer, unescape};
use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::Rule;
use crate::syntax::ast::*;
use pest::iterators::Pair;

impl Lowerer<'_> {
    pub(super) fn test(&mut self, pair: Pair<'_, Rule>) -> Option<Test> {
        let span = self.span(&pair);
        let mut name = None;
        let mut leads = Vec::new();
        let mut expectations = Vec::new();
        let mut at = Vec::new();
        let mut rosters = Vec::new();
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::string => {
                    name = Some(Spanned {
                        value: unescape(part.as_str()),
                        span: self.span(&part),
                    })
                }
                Rule::lead_clause => {
                    let lead_span = self.span(&part);
                    let mut entries = Vec::new();
                    for entry in part
                        .into_inner()
                        .filter(|p| p.as_rule() == Rule::lead_entry)
                    {
                        let mut inner = entry.into_inner();
                        let field = self.ident(&inner.next()?);
                        let value = inner.find(|p| p.as_rule() == Rule::value)?;
                        let value = self.value(value)?;
                        entries.push(LeadEntry { field, value });
                    }
                    leads.push(LeadLiteral {
                        entries,
                        span: lead_span,
                    });
                }
                Rule::expect_clause => {
                    for expectation in part.into_inner().filter(|p| p.as_rule() != Rule::kw_expect)
                    {
                        expectations.push(self.expectation(expectation)?);
                    }
                }
                Rule::at_clause => {
                    if let Some(time) = part.into_inner().find(|p| p.as_rule() == Rule::timestamp) {
                        let span = self.span(&time);
                        match time.as_str().parse::<jiff::Timestamp>() {
                            Ok(value) => at.push(Spanned { value, span }),
                            Err(error) => self.errors.push(
                                Diagnostic::new(
                                    Code::InvalidLiteral,
                                    span,
                                    format!("`{}` is not a valid time", time.as_str()),
                                )
                                .with_label("no such time")
                                .with_help(error.to_string()),
                            ),
                        }
                    }
                }
                Rule::roster_clause => {
                    if let Some(inner) = part.into_inner().find(|p| p.as_rule() != Rule::kw_roster)
                    {
                        match inner.as_rule() {
                            Rule::string => rosters.push(RosterSpec::File(Spanned {
                                value: unescape(inner.as_str()),
                                span: self.span(&inner),
                            })),
                            _ => rosters.push(RosterSpec::Inline(self.inline_roster(inner))),
                        }
                    }
                }
                Rule::missing_rbrace => {
                    let at = self.base + part.as_span().start();
                    self.missing_brace(at, "the test");
                }
                _ => {}
            }
        }
        Some(Test {
            name: name?,
            leads,
            expectations,
            at,
            rosters,
            span,
        })
    }

    fn inline_roster(&mut self, pair: Pair<'_, Rule>) -> InlineRoster {
        let mut roster = InlineRoster {
            span: self.span(&pair),
            ..InlineRoster::default()
        };
        for entry in pair.into_inner() {
            match entry.as_rule() {
                Rule::roster_rep => {
                    let mut inner = entry.into_inner();
                    let Some(name) = inner.next() else { continue };
                    let name = self.ident(&name);
                    let mut facts = Vec::new();
                    for fact in inner {
                        let parts: Vec<Pair<'_, Rule>> = fact.into_inner().collect();
                        let Some(first) = parts.first() else { continue };
                        facts.push(match first.as_rule() {
                            Rule::kw_away => RepFact::Away,
                            Rule::kw_offline => RepFact::Offline,
                            Rule::kw_available => RepFact::Available,
                            Rule::kw_open => match parts.get(1).and_then(|n| self.integer(n)) {
                                Some(open) => RepFact::Open(open.value),
                                None => continue,
                            },
                            Rule::kw_assigned => {
                                let count = parts.get(1).and_then(|n| self.integer(n));
                                let window = parts.get(2).map(|w| w.as_str());
                                match (count, window) {
                                    (Some(count), Some(window)) => RepFact::Assigned {
                                        count: count.value,
                                        period: assigned_period(window),
                                    },
                                    _ => continue,
                                }
                            }
                            _ => {
                                let points: Vec<String> = parts
                                    .iter()
                                    .filter(|p| matches!(p.as_rule(), Rule::date | Rule::timestamp))
                                    .map(|p| p.as_str().to_string())
                                    .collect();
                                match points.as_slice() {
                                    [from, to] => RepFact::Out {
                                        from: from.clone(),
                                        to: to.clone(),
                                    },
                                    _ => continue,
                                }
                            }
                        });
                    }
                    roster.reps.push(InlineRep { name, facts });
                }
                Rule::roster_account => {
                    let mut name = None;
                    let mut owner = None;
                    let mut parent = None;
                    let mut after_parent = false;
                    for part in entry.into_inner() {
                        match part.as_rule() {
                            Rule::string if name.is_none() => {
                                name = Some(Spanned {
                                    value: unescape(part.as_str()),
                                    span: self.span(&part),
                                })
                            }
                            Rule::kw_parent => after_parent = true,
                            Rule::string if after_parent => {
                                parent = Some(Spanned {
                                    value: unescape(part.as_str()),
                                    span: self.span(&part),
                                })
                            }
                            Rule::ident => owner = Some(self.ident(&part)),
                            _ => {}
                        }
                    }
                    if let Some(name) = name {
                        roster.accounts.push(InlineAccount {
                            name,
                            owner,
                            parent,
                        });
                    }
                }
                _ => {}
            }
        }
        roster
    }

    fn expectation(&mut self, pair: Pair<'_, Rule>) -> Option<Expectation> {
        let span = self.span(&pair);
        let grammar_rule = pair.as_rule();
        let kind = match grammar_rule {
            Rule::within_clause => ExpectationKind::Within(self.within(pair)?),
            Rule::escalate_clause => ExpectationKind::Escalate(self.escalation(pair)?),
            Rule::expect_unassigned => ExpectationKind::Unassigned,
            Rule::expect_score => {
                let mut score = None;
                let mut value = None;
                for part in pair.into_inner() {
                    match part.as_rule() {
                        Rule::ident => score = Some(self.ident(&part)),
                        Rule::score_value => {
                            value = Some(self.signed(&part, super::scores::MAX_SCORE));
                        }
                        _ => {}
                    }
                }
                ExpectationKind::Score {
                    score: score?,
                    value: value?,
                }
            }
            _ => {
                let target = pair.into_inner().find(|p| p.as_rule() == Rule::ident)?;
                let target = self.ident(&target);
                match grammar_rule {
                    Rule::expect_pool => ExpectationKind::Pool(target),
                    Rule::expect_rep => ExpectationKind::Rep(target),
                    Rule::expect_queue => ExpectationKind::Queue(target),
                    Rule::expect_rule => ExpectationKind::Rule(target),
                    Rule::expect_tag => ExpectationKind::Tag(target),
                    _ => return None,
                }
            }
        };
        Some(Expectation { kind, span })
    }
}

/// The window of `assigned N today | this hour | this week`.
fn assigned_period(window: &str) -> Period {
    let last = window.split_whitespace().last().unwrap_or_default();
    match last {
        "hour" => Period::Hour,
        "week" => Period::Week,
        _ => Period::Day,
    }
}
