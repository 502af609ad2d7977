//! Lowering: turns pest pairs into the plain syntax tree, and reports the broken fields, clauses
//! and missing braces that the grammar's recovery rules accepted.

use super::ast::*;
use super::errors::{expected_found, syntax_error};
use super::{PestParser, Rule};
use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;
use pest::Parser;
use pest::iterators::Pair;
use std::collections::BTreeSet;

/// Collects items into a [`PolicyFile`] and the errors found while doing so.
pub(crate) struct Lowerer<'text> {
    text: &'text str,
    file: PolicyFile,
    errors: Vec<Diagnostic>,
    rule_count: usize,
    /// Offset of the chunk being lowered in `text`.
    base: usize,
}

impl<'text> Lowerer<'text> {
    pub(crate) fn new(text: &'text str) -> Lowerer<'text> {
        Lowerer {
            text,
            file: PolicyFile::default(),
            errors: Vec::new(),
            rule_count: 0,
            base: 0,
        }
    }

    /// Appends the items lowered by another lowerer over a later part of the same text.
    pub(crate) fn append(&mut self, later: Lowerer<'_>) {
        let offset = self.rule_count;
        let PolicyFile {
            schemas,
            calendars,
            pools,
            queues,
            rules,
            tests,
            uses,
            broken,
        } = later.file;
        self.file.schemas.extend(schemas);
        self.file.calendars.extend(calendars);
        self.file.pools.extend(pools);
        self.file.queues.extend(queues);
        self.file.rules.extend(rules.into_iter().map(|mut rule| {
            rule.position += offset;
            rule
        }));
        self.file.tests.extend(tests);
        self.file.uses.extend(uses);
        self.file.broken.extend(broken);
        self.errors.extend(later.errors);
        self.rule_count += later.rule_count;
    }

    /// Adds an item taken from the cache, placed at `start`; its rules get their positions here.
    pub(crate) fn place(&mut self, fragment: &super::cache::Fragment, start: usize) {
        let PolicyFile {
            schemas,
            calendars,
            pools,
            queues,
            rules,
            tests,
            uses,
            broken,
        } = fragment.placed_at(start);
        self.file.schemas.extend(schemas);
        self.file.calendars.extend(calendars);
        self.file.pools.extend(pools);
        self.file.queues.extend(queues);
        for mut rule in rules {
            self.rule_count += 1;
            rule.position = self.rule_count;
            self.file.rules.push(rule);
        }
        self.file.tests.extend(tests);
        self.file.uses.extend(uses);
        self.file.broken.extend(broken);
    }

    pub(crate) fn file(&self) -> &PolicyFile {
        &self.file
    }

    pub(crate) fn error_count(&self) -> usize {
        self.errors.len()
    }

    pub(crate) fn finish(self) -> (PolicyFile, Vec<Diagnostic>) {
        (self.file, self.errors)
    }

    pub(crate) fn broken(&mut self, item: BrokenItem) {
        if item.kind == ItemKind::Rule {
            self.rule_count += 1;
        }
        self.file.broken.push(item);
    }

    /// Lowers one item pair parsed from the chunk that starts at `base`.
    pub(crate) fn item(&mut self, pair: Pair<'_, Rule>, base: usize) {
        self.base = base;
        let span = self.span(&pair);
        let lowered = match pair.as_rule() {
            Rule::schema => self
                .schema(pair)
                .map(|schema| self.file.schemas.push(schema)),
            Rule::calendar => self
                .calendar(pair)
                .map(|calendar| self.file.calendars.push(calendar)),
            Rule::pool => self.pool(pair).map(|pool| self.file.pools.push(pool)),
            Rule::queue => self.queue(pair).map(|queue| self.file.queues.push(queue)),
            Rule::rule | Rule::otherwise_rule => {
                self.rule_count += 1;
                let position = self.rule_count;
                self.rule(pair, position)
                    .map(|rule| self.file.rules.push(rule))
            }
            Rule::test => self.test(pair).map(|test| self.file.tests.push(test)),
            Rule::use_item => pair
                .into_inner()
                .find(|p| p.as_rule() == Rule::string)
                .map(|path| {
                    let span = self.span(&path);
                    self.file.uses.push(Spanned {
                        value: unescape(path.as_str()),
                        span,
                    });
                }),
            _ => None,
        };
        if lowered.is_none() {
            // The grammar accepted the item, so this is a gap in lowering: say so, and keep the
            // name it declares from being reported as unknown everywhere it is used.
            self.errors.push(Diagnostic::new(
                Code::Syntax,
                span,
                "this item could not be read",
            ));
            self.file.broken.push(BrokenItem {
                kind: ItemKind::Other,
                name: None,
                span,
            });
        }
    }

    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let span = pair.as_span();
        Span::new(self.base + span.start(), self.base + span.end())
    }

    fn ident(&self, pair: &Pair<'_, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(pair),
        }
    }

    /// Reports a `missing_rbrace` node: the `}` belongs after the last token before it.
    fn missing_brace(&mut self, at: usize, what: &str) {
        let mut expected = BTreeSet::new();
        expected.insert("`}`");
        let mut diagnostic = expected_found(self.text, at, expected);
        diagnostic.message = format!("expected `}}` to close {what}");
        self.errors.push(diagnostic);
    }

    /// Reports a `bad_*` node by parsing it alone with `rule`, which gives pest's precise error.
    fn bad_part(&mut self, pair: &Pair<'_, Rule>, grammar_rule: Rule) {
        let start = self.base + pair.as_span().start();
        let chunk = pair.as_str();
        match PestParser::parse(grammar_rule, chunk) {
            Err(error) => self.errors.push(syntax_error(self.text, start, &error)),
            Ok(_) => self.errors.push(Diagnostic::new(
                Code::Syntax,
                self.span(pair),
                "this part could not be read in its place",
            )),
        }
    }

    fn schema(&mut self, pair: Pair<'_, Rule>) -> Option<Schema> {
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

    fn calendar(&mut self, pair: Pair<'_, Rule>) -> Option<Calendar> {
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

    fn pool(&mut self, pair: Pair<'_, Rule>) -> Option<Pool> {
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
                Rule::cap_clause => {
                    if let Some(value) = part.into_inner().nth(1) {
                        let cap = self.integer(&value)?;
                        pool.caps.push(cap);
                    }
                }
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

    /// Reads an `integer` pair; a value too large for `u64` is reported and yields `None`.
    fn integer(&mut self, pair: &Pair<'_, Rule>) -> Option<Spanned<u64>> {
        let span = self.span(pair);
        let digits: String = pair.as_str().chars().filter(|ch| *ch != '_').collect();
        match digits.parse::<u64>() {
            Ok(value) => Some(Spanned { value, span }),
            Err(_) => {
                self.errors.push(
                    Diagnostic::new(Code::InvalidLiteral, span, "number too large")
                        .with_label("does not fit in 64 bits")
                        .with_help(format!("the largest whole number is {}", u64::MAX)),
                );
                Some(Spanned {
                    value: u64::MAX,
                    span,
                })
            }
        }
    }

    fn queue(&mut self, pair: Pair<'_, Rule>) -> Option<Queue> {
        let span = self.span(&pair);
        let name = pair.into_inner().find(|p| p.as_rule() == Rule::ident)?;
        Some(Queue {
            name: self.ident(&name),
            span,
        })
    }

    fn rule(&mut self, pair: Pair<'_, Rule>, position: usize) -> Option<Rule_> {
        let span = self.span(&pair);
        let mut rule = Rule_ {
            name: None,
            position,
            condition: None,
            keyword_span: span,
            actions: Vec::new(),
            within: None,
            escalations: Vec::new(),
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
                _ => {}
            }
        }
        Some(rule)
    }

    fn action(&mut self, pair: Pair<'_, Rule>) -> Option<Action> {
        let span = self.span(&pair);
        let grammar_rule = pair.as_rule();
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

    fn within(&mut self, pair: Pair<'_, Rule>) -> Option<Duration> {
        let duration = pair.into_inner().find(|p| p.as_rule() == Rule::duration)?;
        self.duration(duration)
    }

    fn escalation(&mut self, pair: Pair<'_, Rule>) -> Option<Escalation> {
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
                Some(Duration {
                    kind: DurationKind::Business { count, unit },
                    span,
                })
            }
            _ => None,
        }
    }

    fn expr(&mut self, pair: Pair<'_, Rule>) -> Option<Expr> {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::or_expr | Rule::and_expr => {
                let is_or = pair.as_rule() == Rule::or_expr;
                let mut operands = Vec::new();
                for part in pair.into_inner() {
                    if matches!(part.as_rule(), Rule::kw_or | Rule::kw_and) {
                        continue;
                    }
                    operands.push(self.expr(part)?);
                }
                if operands.len() == 1 {
                    return operands.pop();
                }
                let kind = if is_or {
                    ExprKind::Or(operands)
                } else {
                    ExprKind::And(operands)
                };
                Some(Expr { kind, span })
            }
            Rule::not_expr => {
                let operand = pair.into_inner().find(|p| p.as_rule() != Rule::kw_not)?;
                Some(Expr {
                    kind: ExprKind::Not(Box::new(self.expr(operand)?)),
                    span,
                })
            }
            Rule::paren => {
                let inner = pair.into_inner().find(|p| p.as_rule() == Rule::or_expr)?;
                let mut expr = self.expr(inner)?;
                expr.span = span;
                Some(expr)
            }
            Rule::calendar_test => {
                let mut inner = pair.into_inner();
                let inside = inner.next()?.as_rule() == Rule::kw_inside;
                let calendar = self.ident(&inner.next()?);
                Some(Expr {
                    kind: ExprKind::Calendar { inside, calendar },
                    span,
                })
            }
            Rule::presence => {
                let mut field = None;
                let mut negated = false;
                for part in pair.into_inner() {
                    match part.as_rule() {
                        Rule::ident => field = Some(self.ident(&part)),
                        Rule::kw_not => negated = true,
                        _ => {}
                    }
                }
                Some(Expr {
                    kind: ExprKind::IsSet {
                        field: field?,
                        negated,
                    },
                    span,
                })
            }
            Rule::membership => {
                let mut field = None;
                let mut negated = false;
                let mut values = Vec::new();
                for part in pair.into_inner() {
                    match part.as_rule() {
                        Rule::ident => field = Some(self.ident(&part)),
                        Rule::kw_not => negated = true,
                        Rule::value => values.push(self.value(part)?),
                        _ => {}
                    }
                }
                Some(Expr {
                    kind: ExprKind::In {
                        field: field?,
                        negated,
                        values,
                    },
                    span,
                })
            }
            Rule::comparison => {
                let mut inner = pair.into_inner();
                let field = self.ident(&inner.next()?);
                let op_pair = inner.next()?;
                let op = match op_pair.as_str() {
                    "=" => CmpOp::Eq,
                    "!=" => CmpOp::Ne,
                    "<" => CmpOp::Lt,
                    "<=" => CmpOp::Le,
                    ">" => CmpOp::Gt,
                    _ => CmpOp::Ge,
                };
                let op = Spanned {
                    value: op,
                    span: self.span(&op_pair),
                };
                let value = self.value(inner.next()?)?;
                Some(Expr {
                    kind: ExprKind::Compare { field, op, value },
                    span,
                })
            }
            _ => None,
        }
    }

    fn value(&mut self, pair: Pair<'_, Rule>) -> Option<Value> {
        let span = self.span(&pair);
        let inner = pair.into_inner().next()?;
        let kind = match inner.as_rule() {
            Rule::ident => ValueKind::Word(inner.as_str().to_string()),
            Rule::kw_null => ValueKind::Null,
            Rule::string => ValueKind::Str(unescape(inner.as_str())),
            Rule::number => {
                let text: String = inner.as_str().chars().filter(|ch| *ch != '_').collect();
                if let Ok(int) = text.parse::<i64>() {
                    ValueKind::Number(Number::Int(int))
                } else if let Ok(float) = text.parse::<f64>()
                    && float.is_finite()
                {
                    ValueKind::Number(Number::Float(float))
                } else {
                    self.errors.push(
                        Diagnostic::new(Code::InvalidLiteral, span, "number out of range")
                            .with_label("cannot be represented"),
                    );
                    ValueKind::Invalid
                }
            }
            Rule::timestamp => match inner.as_str().parse::<jiff::Timestamp>() {
                Ok(time) => ValueKind::Time(time),
                Err(error) => {
                    self.errors.push(
                        Diagnostic::new(
                            Code::InvalidLiteral,
                            span,
                            format!("`{}` is not a valid time", inner.as_str()),
                        )
                        .with_label("no such time")
                        .with_help(format!("{error}")),
                    );
                    ValueKind::Invalid
                }
            },
            _ => return None,
        };
        Some(Value { kind, span })
    }

    fn test(&mut self, pair: Pair<'_, Rule>) -> Option<Test> {
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
            _ => {
                let target = pair.into_inner().find(|p| p.as_rule() == Rule::ident)?;
                let target = self.ident(&target);
                match grammar_rule {
                    Rule::expect_pool => ExpectationKind::Pool(target),
                    Rule::expect_rep => ExpectationKind::Rep(target),
                    Rule::expect_queue => ExpectationKind::Queue(target),
                    Rule::expect_rule => ExpectationKind::Rule(target),
                    _ => return None,
                }
            }
        };
        Some(Expectation { kind, span })
    }
}

/// The AST's rule type, renamed here because pest's `Rule` enum owns the name in this module.
type Rule_ = super::ast::Rule;

/// Reads `09:00` (validity is the checker's business; this only splits the digits).
fn clock(text: &str) -> Option<Clock> {
    let (hour, minute) = text.split_once(':')?;
    Some(Clock {
        hour: hour.parse().ok()?,
        minute: minute.parse().ok()?,
    })
}

/// Removes the quotes and resolves the escapes of a string literal the grammar accepted.
fn unescape(quoted: &str) -> String {
    let inner = quoted
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(quoted);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(ch) = chars.next() {
        if ch != '\\' {
            out.push(ch);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}
