//! Printing of rules: one line each with `when` aligned across named rules, wrapped when too
//! long, and conditions with only the parentheses precedence needs.

use super::{Formatter, Item, WIDTH};
use crate::span::Span;
use crate::syntax::ast::{ActionKind, Escalation, Expr, ExprKind, Score, TagsDecl};

impl<'a> Formatter<'a> {
    /// Rules, one line each (`when` aligned across named rules), wrapped when too long.
    pub(super) fn rules(&self, items: &[Item<'a>], used: &mut [bool]) -> Vec<String> {
        let heads: Vec<String> = items
            .iter()
            .map(|item| match item {
                Item::Rule(rule) => rule
                    .name
                    .as_ref()
                    .map_or(String::new(), |name| format!("rule {}:", name.name)),
                _ => String::new(),
            })
            .collect();
        let width = heads.iter().map(|h| h.chars().count()).max().unwrap_or(0);
        let mut lines = Vec::new();
        for (item, head) in items.iter().zip(heads) {
            let Item::Rule(rule) = item else { continue };
            if self.comments_inside(Span::new(rule.span.start, rule.span.end))
                && self.inner_comment_not_trailing_last_line(rule.span)
            {
                lines.extend(self.verbatim(rule.span, used));
                continue;
            }
            let keyword = match &rule.condition {
                Some(condition) => format!("when {}", self.expr(condition, Precedence::Or)),
                None => "otherwise".to_string(),
            };
            let actions = rule
                .actions
                .iter()
                .map(|action| match &action.kind {
                    // The duration as written (`90d`, not `12w6d`).
                    ActionKind::PreviousRep {
                        field,
                        since: Some(since),
                    } => format!(
                        "previous rep of {} since {}",
                        field.name,
                        self.squeezed(since.span)
                    ),
                    kind => kind.describe(),
                })
                .collect::<Vec<_>>()
                .join(" else ");
            let mut clauses = Vec::new();
            if let Some(within) = rule.within {
                clauses.push(format!("within {}", self.squeezed(within.span)));
            }
            for escalation in &rule.escalations {
                clauses.push(self.escalation(escalation));
            }
            if !rule.tags.is_empty() {
                let tags: Vec<&str> = rule.tags.iter().map(|tag| tag.name.as_str()).collect();
                clauses.push(format!("tag {}", tags.join(", ")));
            }
            let lead = if head.is_empty() {
                String::new()
            } else {
                format!("{} ", crate::text::pad(&head, width))
            };
            let mut line = format!("{lead}{keyword} -> {actions}");
            for clause in &clauses {
                line.push(' ');
                line.push_str(clause);
            }
            let comment = self.trailing_on_line(
                self.content_end(rule.span)
                    .saturating_sub(1)
                    .max(rule.span.start),
                used,
            );
            if line.chars().count() <= WIDTH {
                if let Some(comment) = comment {
                    line.push_str("  ");
                    line.push_str(&comment);
                }
                lines.push(line);
                continue;
            }
            // Wrapped: the condition on the first line, then `->` and each clause, 4 spaces in.
            lines.push(format!("{lead}{keyword}"));
            lines.push(format!("    -> {actions}"));
            for clause in clauses {
                lines.push(format!("       {clause}"));
            }
            if let (Some(comment), Some(last)) = (comment, lines.last_mut()) {
                last.push_str("  ");
                last.push_str(&comment);
            }
        }
        lines
    }

    fn escalation(&self, escalation: &Escalation) -> String {
        match escalation.after {
            Some(after) => format!(
                "escalate {} after {}",
                escalation.target.name,
                self.squeezed(after.span)
            ),
            None => format!("escalate {}", escalation.target.name),
        }
    }

    /// A score: one line per line of points, the points right-aligned.
    pub(super) fn score(&self, score: &Score, used: &mut [bool]) -> Vec<String> {
        if self.comments_inside(score.span) {
            return self.verbatim_block(score.span, used);
        }
        let points: Vec<String> = score
            .lines
            .iter()
            .map(|line| format!("{:+}", line.points.value))
            .collect();
        let width = points.iter().map(String::len).max().unwrap_or(0);
        let mut lines = vec![format!("score {} {{", score.name.name)];
        for (line, points) in score.lines.iter().zip(points) {
            lines.push(format!(
                "  {points:>width$} when {}",
                self.expr(&line.condition, Precedence::Or)
            ));
        }
        lines.push("}".to_string());
        if let Some(comment) = self.trailing_on_line(score.span.end.saturating_sub(1), used)
            && let Some(last) = lines.last_mut()
        {
            last.push_str("  ");
            last.push_str(&comment);
        }
        lines
    }

    /// `tags { a, b }` on one line, or one tag per line when too long.
    pub(super) fn tags(&self, tags: &TagsDecl, used: &mut [bool]) -> Vec<String> {
        if self.comments_inside(tags.span) {
            return self.verbatim_block(tags.span, used);
        }
        let names: Vec<&str> = tags.names.iter().map(|tag| tag.name.as_str()).collect();
        let mut lines = if names.is_empty() {
            vec!["tags {}".to_string()]
        } else {
            let line = format!("tags {{ {} }}", names.join(", "));
            if line.chars().count() <= WIDTH {
                vec![line]
            } else {
                let mut lines = vec!["tags {".to_string()];
                lines.extend(names.iter().map(|name| format!("  {name},")));
                lines.push("}".to_string());
                lines
            }
        };
        if let Some(comment) = self.trailing_on_line(tags.span.end.saturating_sub(1), used)
            && let Some(last) = lines.last_mut()
        {
            last.push_str("  ");
            last.push_str(&comment);
        }
        lines
    }

    /// A condition with only the parentheses precedence needs (`not` > `and` > `or`).
    fn expr(&self, expr: &Expr, context: Precedence) -> String {
        let (text, precedence) = match &expr.kind {
            ExprKind::Or(parts) => (
                parts
                    .iter()
                    .map(|p| self.expr(p, Precedence::Or))
                    .collect::<Vec<_>>()
                    .join(" or "),
                Precedence::Or,
            ),
            ExprKind::And(parts) => (
                parts
                    .iter()
                    .map(|p| self.expr(p, Precedence::And))
                    .collect::<Vec<_>>()
                    .join(" and "),
                Precedence::And,
            ),
            ExprKind::Not(inner) => (
                format!("not {}", self.expr(inner, Precedence::Not)),
                Precedence::Not,
            ),
            ExprKind::Compare { field, op, value } => {
                let op = op.value.symbol();
                (
                    format!("{} {op} {}", field.name, self.source(value.span)),
                    Precedence::Atom,
                )
            }
            ExprKind::In {
                field,
                negated,
                values,
            } => (
                format!(
                    "{} {}in {{{}}}",
                    field.name,
                    if *negated { "not " } else { "" },
                    values
                        .iter()
                        .map(|v| self.source(v.span))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Precedence::Atom,
            ),
            ExprKind::IsSet { field, negated } => (
                format!(
                    "{} is {}set",
                    field.name,
                    if *negated { "not " } else { "" }
                ),
                Precedence::Atom,
            ),
            ExprKind::Calendar { inside, calendar } => (
                format!(
                    "{} {}",
                    if *inside { "inside" } else { "outside" },
                    calendar.name
                ),
                Precedence::Atom,
            ),
        };
        if precedence < context {
            format!("({text})")
        } else {
            text
        }
    }
}

/// How tightly an expression binds; an expression needs parentheses inside a tighter context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Precedence {
    Or,
    And,
    Not,
    Atom,
}
