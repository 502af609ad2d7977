//! Lowering: turns pest pairs into the plain syntax tree, and reports the broken fields, clauses
//! and missing braces that the grammar's recovery rules accepted.
//!
//! This module holds the [`Lowerer`], its driver over items and the readers every item shares
//! (spans, names, integers, string literals); declarations, rules, conditions and test blocks are
//! lowered in a submodule each.

mod conditions;
mod declarations;
mod rules;
mod scores;
mod test_blocks;

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
            reps,
            scores,
            tags,
            queues,
            rules,
            tests,
            uses,
            broken,
        } = later.file;
        self.file.schemas.extend(schemas);
        self.file.calendars.extend(calendars);
        self.file.pools.extend(pools);
        self.file.reps.extend(reps);
        self.file.scores.extend(scores);
        self.file.tags.extend(tags);
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
            reps,
            scores,
            tags,
            queues,
            rules,
            tests,
            uses,
            broken,
        } = fragment.placed_at(start);
        self.file.schemas.extend(schemas);
        self.file.calendars.extend(calendars);
        self.file.pools.extend(pools);
        self.file.reps.extend(reps);
        self.file.scores.extend(scores);
        self.file.tags.extend(tags);
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
            Rule::rep_item => self.rep_item(pair).map(|rep| self.file.reps.push(rep)),
            Rule::score_item => self
                .score_item(pair)
                .map(|score| self.file.scores.push(score)),
            Rule::tags_item => self.tags_item(pair).map(|tags| self.file.tags.push(tags)),
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
