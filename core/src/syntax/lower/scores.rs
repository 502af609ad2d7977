//! Lowering of scores (`score NAME { +N when COND ... }`) and of the `tags { ... }` declaration.

use super::Lowerer;
use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::Rule;
use crate::syntax::ast::*;
use pest::iterators::Pair;

impl Lowerer<'_> {
    pub(super) fn score_item(&mut self, pair: Pair<'_, Rule>) -> Option<Score> {
        let span = self.span(&pair);
        let mut name: Option<Ident> = None;
        let mut lines = Vec::new();
        let mut has_broken_line = false;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::ident => name = Some(self.ident(&part)),
                Rule::score_line => lines.extend(self.score_line(part)),
                Rule::bad_score_line => {
                    has_broken_line = true;
                    self.bad_score_line(&part);
                }
                Rule::missing_rbrace => {
                    let at = self.base + part.as_span().start();
                    let what = name
                        .as_ref()
                        .map_or("the score".to_string(), |n| format!("score `{}`", n.name));
                    self.missing_brace(at, &what);
                }
                _ => {}
            }
        }
        Some(Score {
            name: name?,
            lines,
            has_broken_line,
            span,
        })
    }

    /// A line that is no score line. Points without their sign (`20 when ...`) are the likely
    /// mistake, said at the number; anything else gets pest's own account.
    fn bad_score_line(&mut self, pair: &Pair<'_, Rule>) {
        let text = pair.as_str();
        let digits = text
            .find(|ch: char| !(ch.is_ascii_digit() || ch == '_'))
            .unwrap_or(text.len());
        let rest = text[digits..].trim_start();
        if digits > 0 && rest.starts_with("when") {
            let start = self.base + pair.as_span().start();
            let number = &text[..digits];
            self.errors.push(
                Diagnostic::new(
                    Code::Syntax,
                    crate::span::Span::new(start, start + digits),
                    format!("points need their sign: `+{number}` or `-{number}`"),
                )
                .with_label("add `+` to add these points, `-` to take them away"),
            );
            return;
        }
        let signed = text.starts_with(['+', '-']);
        let body = &text[usize::from(signed)..];
        let whole = body
            .find(|ch: char| !(ch.is_ascii_digit() || ch == '_'))
            .unwrap_or(body.len());
        if whole > 0 && body[whole..].starts_with('.') {
            let start = self.base + pair.as_span().start();
            let end = body[whole + 1..]
                .find(|ch: char| !ch.is_ascii_digit())
                .map_or(text.len(), |len| usize::from(signed) + whole + 1 + len);
            self.errors.push(
                Diagnostic::new(
                    Code::Syntax,
                    crate::span::Span::new(start, start + end),
                    "points are whole numbers",
                )
                .with_label("a fraction of a point")
                .with_help("scale every line's points instead (10 and 25 for 1 and 2.5)"),
            );
            return;
        }
        self.bad_part(pair, Rule::score_line_at);
    }

    fn score_line(&mut self, pair: Pair<'_, Rule>) -> Option<ScoreLine> {
        let span = self.span(&pair);
        let mut points = None;
        let mut condition = None;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::points => points = Some(self.signed(&part, MAX_POINTS)),
                Rule::condition => {
                    let or = part.into_inner().next()?;
                    condition = Some(self.expr(or)?);
                }
                _ => {}
            }
        }
        Some(ScoreLine {
            points: points?,
            condition: condition?,
            span,
        })
    }

    /// Reads `+30`, `-30` or `45`, at most `max` either way (larger is reported and read as
    /// `max`).
    pub(super) fn signed(&mut self, pair: &Pair<'_, Rule>, max: i64) -> Spanned<i64> {
        let span = self.span(pair);
        let text: String = pair.as_str().chars().filter(|ch| *ch != '_').collect();
        let negative = text.starts_with('-');
        let digits = text.trim_start_matches(['+', '-']);
        let magnitude = digits.parse::<i64>().ok().filter(|m| *m <= max);
        let value = match magnitude {
            Some(magnitude) if negative => -magnitude,
            Some(magnitude) => magnitude,
            None => {
                self.errors.push(
                    Diagnostic::new(Code::InvalidLiteral, span, "number too large")
                        .with_label(if max == MAX_POINTS {
                            "a line gives at most a trillion points either way"
                        } else {
                            "no score can reach this"
                        })
                        .with_help(format!("write a number between -{max} and {max}")),
                );
                if negative { -max } else { max }
            }
        };
        Spanned { value, span }
    }

    pub(super) fn tags_item(&mut self, pair: Pair<'_, Rule>) -> Option<TagsDecl> {
        let span = self.span(&pair);
        let mut keyword_span = span;
        let mut names = Vec::new();
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::kw_tags => keyword_span = self.span(&part),
                Rule::ident => names.push(self.ident(&part)),
                Rule::missing_rbrace => {
                    let at = self.base + part.as_span().start();
                    self.missing_brace(at, "`tags`");
                }
                _ => {}
            }
        }
        Some(TagsDecl {
            names,
            keyword_span,
            span,
        })
    }
}

/// The most points a score line may give either way: sums of every line stay far from
/// overflowing 64 bits.
pub const MAX_POINTS: i64 = 1_000_000_000_000;

/// The largest score an expectation may name: the most points, on every line.
pub const MAX_SCORE: i64 = MAX_POINTS * MAX_SCORE_LINES as i64;
