//! Lowering of declarations: schemas and their fields, calendars and their hours, pools and
//! their clauses, queues.

use super::Lowerer;
use crate::span::Span;
use crate::syntax::Rule;
use crate::syntax::ast::*;
use pest::iterators::Pair;

impl Lowerer<'_> {
    pub(super) fn schema(&mut self, pair: Pair<'_, Rule>) -> Option<Schema> {
        let span = self.span(&pair);
        let mut name = None;
        let mut fields = Vec::new();
        let mut broken_fields = Vec::new();
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::ident => name = Some(self.ident(&part)),
                Rule::field => fields.extend(self.field(part)),
                Rule::bad_field => {
                    let word: String = part
                        .as_str()
                        .chars()
                        .take_while(|ch| ch.is_alphanumeric() || *ch == '_')
                        .collect();
                    if !word.is_empty() {
                        let start = self.base + part.as_span().start();
                        broken_fields.push(Ident {
                            span: Span::new(start, start + word.len()),
                            name: word,
                        });
                    }
                    self.bad_part(&part, Rule::field_at);
                }
                Rule::missing_rbrace => {
                    let at = self.base + part.as_span().start();
                    let what = name.as_ref().map_or("the schema".to_string(), |n: &Ident| {
                        format!("schema `{}`", n.name)
                    });
                    self.missing_brace(at, &what);
                }
                _ => {}
            }
        }
        Some(Schema {
            name: name?,
            fields,
            broken_fields,
            span,
        })
    }

    fn field(&mut self, pair: Pair<'_, Rule>) -> Option<Field> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(&inner.next()?);
        let mut ty = None;
        let mut optional = false;
        for part in inner {
            match part.as_rule() {
                Rule::field_type => ty = self.field_type(part),
                Rule::question => optional = true,
                _ => {}
            }
        }
        Some(Field {
            name,
            ty: ty?,
            optional,
            span,
        })
    }

    fn field_type(&mut self, pair: Pair<'_, Rule>) -> Option<TypeExpr> {
        let inner = pair.into_inner().next()?;
        match inner.as_rule() {
            Rule::ident => Some(TypeExpr::Named(self.ident(&inner))),
            Rule::enum_type => {
                let span = self.span(&inner);
                let variants = inner
                    .into_inner()
                    .filter(|part| part.as_rule() == Rule::ident)
                    .map(|part| self.ident(&part))
                    .collect();
                Some(TypeExpr::Enum { variants, span })
            }
            _ => None,
        }
    }

    pub(super) fn calendar(&mut self, pair: Pair<'_, Rule>) -> Option<Calendar> {
        let span = self.span(&pair);
        let mut name = None;
        let mut calendar = Calendar {
            name: Ident {
                name: String::new(),
                span,
            },
            timezones: Vec::new(),
            hours: Vec::new(),
            holidays: Vec::new(),
            has_broken_clause: false,
            span,
        };
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::ident => name = Some(self.ident(&part)),
                Rule::timezone_clause => {
                    if let Some(zone) = part.into_inner().find(|p| p.as_rule() == Rule::zone_name) {
                        calendar.timezones.push(Spanned {
                            value: zone.as_str().to_string(),
                            span: self.span(&zone),
                        });
                    }
                }
                Rule::hours_clause => calendar.hours.push(self.hours(part)),
                Rule::holidays_clause => {
                    for date in part.into_inner().filter(|p| p.as_rule() == Rule::date) {
                        calendar.holidays.push(Spanned {
                            value: date.as_str().to_string(),
                            span: self.span(&date),
                        });
                    }
                }
                Rule::bad_clause => {
                    calendar.has_broken_clause = true;
                    self.bad_part(&part, Rule::calendar_clause_at);
                }
                Rule::missing_rbrace => {
                    let at = self.base + part.as_span().start();
                    let what = name
                        .as_ref()
                        .map_or("the calendar".to_string(), |n: &Ident| {
                            format!("calendar `{}`", n.name)
                        });
                    self.missing_brace(at, &what);
                }
                _ => {}
            }
        }
        calendar.name = name?;
        Some(calendar)
    }

    fn hours(&mut self, pair: Pair<'_, Rule>) -> HoursClause {
        let span = self.span(&pair);
        let mut days = Vec::new();
        let mut times = Vec::new();
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::day_range => {
                    let range_span = self.span(&part);
                    let words: Vec<Weekday> = part
                        .into_inner()
                        .filter_map(|day| Weekday::from_word(day.as_str()))
                        .collect();
                    if let Some(first) = words.first() {
                        days.push(DayRange {
                            first: *first,
                            last: *words.last().unwrap_or(first),
                            span: range_span,
                        });
                    }
                }
                Rule::time_range => {
                    let range_span = self.span(&part);
                    let clocks: Vec<Clock> = part
                        .into_inner()
                        .filter_map(|c| clock(c.as_str()))
                        .collect();
                    if let [start, end] = clocks[..] {
                        times.push(TimeRange {
                            start,
                            end,
                            span: range_span,
                        });
                    }
                }
                _ => {}
            }
        }
        HoursClause { days, times, span }
    }

    pub(super) fn pool(&mut self, pair: Pair<'_, Rule>) -> Option<Pool> {
        let span = self.span(&pair);
        let mut name = None;
        let mut pool = Pool {
            name: Ident {
                name: String::new(),
                span,
            },
            members: Vec::new(),
            members_clauses: Vec::new(),
            strategies: Vec::new(),
            caps: Vec::new(),
            calendars: Vec::new(),
            on_shift: Vec::new(),
            has_broken_clause: false,
            span,
        };
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::ident => name = Some(self.ident(&part)),
                Rule::members_clause => {
                    pool.members_clauses.push(self.span(&part));
                    for member in part.into_inner().filter(|p| p.as_rule() == Rule::ident) {
                        pool.members.push(self.ident(&member));
                    }
                }
                Rule::strategy_clause => {
                    if let Some(strategy) = part.into_inner().nth(1) {
                        match strategy.as_rule() {
                            Rule::ident => {
                                pool.strategies.push(Strategy::Named(self.ident(&strategy)))
                            }
                            Rule::weighted => {
                                let weighted_span = self.span(&strategy);
                                let weights = strategy
                                    .into_inner()
                                    .filter(|p| p.as_rule() == Rule::weight)
                                    .filter_map(|weight| self.weight(weight))
                                    .collect();
                                pool.strategies.push(Strategy::Weighted {
                                    weights,
                                    span: weighted_span,
                                });
                            }
                            _ => {}
                        }
                    }
                }
                Rule::cap_clause => pool.caps.extend(self.cap(part)),
                Rule::on_shift => pool.on_shift.push(self.span(&part)),
                Rule::pool_calendar => {
                    if let Some(calendar) = part.into_inner().nth(1) {
                        pool.calendars.push(self.ident(&calendar));
                    }
                }
                Rule::bad_clause => {
                    pool.has_broken_clause = true;
                    self.bad_part(&part, Rule::pool_clause_at);
                }
                Rule::missing_rbrace => {
                    let at = self.base + part.as_span().start();
                    let what = name.as_ref().map_or("the pool".to_string(), |n: &Ident| {
                        format!("pool `{}`", n.name)
                    });
                    self.missing_brace(at, &what);
                }
                _ => {}
            }
        }
        pool.name = name?;
        Some(pool)
    }

    /// `cap N` or `cap N per PERIOD`.
    fn cap(&mut self, pair: Pair<'_, Rule>) -> Option<Cap> {
        let span = self.span(&pair);
        let mut limit = None;
        let mut period = None;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::integer => limit = self.integer(&part),
                Rule::period => {
                    let value = match part.as_str() {
                        "hour" => Period::Hour,
                        "day" => Period::Day,
                        _ => Period::Week,
                    };
                    period = Some(Spanned {
                        value,
                        span: self.span(&part),
                    });
                }
                _ => {}
            }
        }
        Some(Cap {
            limit: limit?,
            period,
            span,
        })
    }

    pub(super) fn rep_item(&mut self, pair: Pair<'_, Rule>) -> Option<RepItem> {
        let span = self.span(&pair);
        let mut name = None;
        let mut item = RepItem {
            name: Ident {
                name: String::new(),
                span,
            },
            calendars: Vec::new(),
            caps: Vec::new(),
            has_broken_clause: false,
            span,
        };
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::ident => name = Some(self.ident(&part)),
                Rule::cap_clause => item.caps.extend(self.cap(part)),
                Rule::pool_calendar => {
                    if let Some(calendar) = part.into_inner().nth(1) {
                        item.calendars.push(self.ident(&calendar));
                    }
                }
                Rule::bad_clause => {
                    item.has_broken_clause = true;
                    self.bad_part(&part, Rule::rep_clause_at);
                }
                Rule::missing_rbrace => {
                    let at = self.base + part.as_span().start();
                    let what = name.as_ref().map_or("the rep".to_string(), |n: &Ident| {
                        format!("rep `{}`", n.name)
                    });
                    self.missing_brace(at, &what);
                }
                _ => {}
            }
        }
        item.name = name?;
        Some(item)
    }

    fn weight(&mut self, pair: Pair<'_, Rule>) -> Option<Weight> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let member = self.ident(&inner.next()?);
        let value = inner.find(|p| p.as_rule() == Rule::integer)?;
        let weight = self.integer(&value)?;
        Some(Weight {
            member,
            weight,
            span,
        })
    }

    pub(super) fn queue(&mut self, pair: Pair<'_, Rule>) -> Option<Queue> {
        let span = self.span(&pair);
        let name = pair.into_inner().find(|p| p.as_rule() == Rule::ident)?;
        Some(Queue {
            name: self.ident(&name),
            span,
        })
    }
}

/// Reads `09:00` (validity is the checker's business; this only splits the digits).
fn clock(text: &str) -> Option<Clock> {
    let (hour, minute) = text.split_once(':')?;
    Some(Clock {
        hour: hour.parse().ok()?,
        minute: minute.parse().ok()?,
    })
}
