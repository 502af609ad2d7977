//! The formatter: one canonical layout for policy files, keeping every comment.
//!
//! Layout: items in file order, one blank line kept between items where the source had one or
//! more; schema fields one per line with names and types aligned; pools on one line each when
//! they fit, their clauses aligned in columns across consecutive pools; calendars one clause per
//! line; rules on one line with `when` aligned across consecutive named rules, wrapped before
//! `->` and before each clause (4 spaces in) when longer than [`WIDTH`]; conditions printed from
//! the syntax tree with only the parentheses precedence needs.
//!
//! Comments: a comment at the end of a line stays at the end of the line of the part it follows;
//! a comment on its own line stays on its own line before the part (or item) after it. An item
//! whose inside holds a comment that has no part to stay with (inside a condition, inside a test)
//! is kept exactly as written, so that nothing moves.
//!
//! Architecture invariants: a file with syntax errors is not formatted; `format(format(x)) ==
//! format(x)`; the formatted policy resolves to the same rules, conditions and declarations, so
//! it compiles to the same decision graph (property-tested).

use crate::diagnostic::Diagnostic;
use crate::span::Span;
use crate::syntax::ast::{Escalation, Expr, ExprKind, PolicyFile, Rule, Schema, TypeExpr};
use crate::syntax::parse;

/// The width past which rules wrap and pools go multi-line.
pub const WIDTH: usize = 100;

/// A comment in the source.
#[derive(Debug, Clone)]
struct Comment {
    start: usize,
    text: String,
    /// Code precedes it on its line.
    trailing: bool,
}

/// Formats a policy text. `Err` with the syntax errors when it does not parse.
pub fn format(text: &str) -> Result<String, Vec<Diagnostic>> {
    let parsed = parse(text);
    if !parsed.errors.is_empty() {
        return Err(parsed.errors);
    }
    Ok(Formatter::new(text, &parsed.file).run())
}

/// One item of the file, in source order.
enum Item<'a> {
    Schema(&'a Schema),
    Calendar(&'a crate::syntax::ast::Calendar),
    Pool(&'a crate::syntax::ast::Pool),
    Queue(&'a crate::syntax::ast::Queue),
    Rule(&'a Rule),
    Test(&'a crate::syntax::ast::Test),
    Use(&'a crate::syntax::ast::Spanned<String>, Span),
}

impl Item<'_> {
    fn span(&self) -> Span {
        match self {
            Item::Schema(item) => item.span,
            Item::Calendar(item) => item.span,
            Item::Pool(item) => item.span,
            Item::Queue(item) => item.span,
            Item::Rule(item) => item.span,
            Item::Test(item) => item.span,
            Item::Use(_, span) => *span,
        }
    }
}

struct Formatter<'a> {
    text: &'a str,
    items: Vec<Item<'a>>,
    comments: Vec<Comment>,
}

impl<'a> Formatter<'a> {
    fn new(text: &'a str, file: &'a PolicyFile) -> Formatter<'a> {
        let mut items: Vec<Item<'a>> = Vec::new();
        items.extend(file.schemas.iter().map(Item::Schema));
        items.extend(file.calendars.iter().map(Item::Calendar));
        items.extend(file.pools.iter().map(Item::Pool));
        items.extend(file.queues.iter().map(Item::Queue));
        items.extend(file.rules.iter().map(Item::Rule));
        items.extend(file.tests.iter().map(Item::Test));
        for used in &file.uses {
            // The item starts at its `use` keyword: the last one before the path.
            let start = text[..used.span.start]
                .rfind("use")
                .unwrap_or(used.span.start);
            items.push(Item::Use(used, Span::new(start, used.span.end)));
        }
        items.sort_by_key(|item| item.span().start);
        Formatter {
            text,
            items,
            comments: comments(text),
        }
    }

    fn run(&self) -> String {
        let mut out = String::new();
        let mut previous_end: Option<usize> = None;
        let mut index = 0;
        let mut used_comments = vec![false; self.comments.len()];
        while index < self.items.len() {
            // A group: consecutive items of one kind with no blank line or comment between them
            // (pools and rules align across their group).
            let mut end = index + 1;
            while end < self.items.len()
                && same_kind(&self.items[index], &self.items[end])
                && !self.blank_or_comment_between(
                    self.content_end(self.items[end - 1].span()),
                    self.items[end].span().start,
                )
            {
                end += 1;
            }
            let group_start = self.items[index].span().start;
            // Own-line comments before the group, and the blank line that separated it.
            let gap_start = previous_end.unwrap_or(0);
            let first_comment = self
                .comments
                .iter()
                .enumerate()
                .find(|(i, c)| {
                    !used_comments[*i]
                        && !c.trailing
                        && c.start >= gap_start
                        && c.start < group_start
                })
                .map_or(group_start, |(_, c)| c.start);
            let leading = self.own_line_comments(gap_start, group_start, &mut used_comments);
            // One blank line where the source had at least one.
            if previous_end.is_some()
                && !out.is_empty()
                && self.text[gap_start..first_comment].matches('\n').count() >= 2
            {
                out.push('\n');
            }
            for (comment, blank_after) in leading {
                out.push_str(&comment);
                out.push('\n');
                if blank_after {
                    out.push('\n');
                }
            }
            let lines = self.group(&self.items[index..end], &mut used_comments);
            for line in lines {
                out.push_str(line.trim_end());
                out.push('\n');
            }
            previous_end = Some(self.content_end(self.items[end - 1].span()));
            index = end;
        }
        // Comments after the last item.
        let tail_start = previous_end.unwrap_or(0);
        let trailing_comments =
            self.own_line_comments(tail_start, self.text.len(), &mut used_comments);
        if !trailing_comments.is_empty()
            && !out.is_empty()
            && self.text[tail_start..].matches('\n').count() >= 2
        {
            out.push('\n');
        }
        for (comment, _) in trailing_comments {
            out.push_str(&comment);
            out.push('\n');
        }
        out
    }

    fn blank_or_comment_between(&self, from: usize, to: usize) -> bool {
        let gap = &self.text[from.min(to)..to];
        gap.contains('#') || gap.matches('\n').count() >= 2
    }

    /// Own-line comments in `from..to` with whether a blank line follows each.
    fn own_line_comments(&self, from: usize, to: usize, used: &mut [bool]) -> Vec<(String, bool)> {
        let mut found = Vec::new();
        for (index, comment) in self.comments.iter().enumerate() {
            if comment.start >= from && comment.start < to && !used[index] && !comment.trailing {
                used[index] = true;
                let line_end = self.text[comment.start..]
                    .find('\n')
                    .map_or(self.text.len(), |i| comment.start + i);
                let after = &self.text[line_end.min(to)..to];
                let blank_after = after
                    .trim_start_matches([' ', '\t', '\r'])
                    .starts_with('\n')
                    && after.matches('\n').count() >= 2
                    && after
                        .split('\n')
                        .nth(1)
                        .is_some_and(|line| line.trim().is_empty());
                found.push((comment.text.clone(), blank_after));
            }
        }
        found
    }

    /// The trailing comment on the line where `offset` lies, if any (marked used).
    fn trailing_on_line(&self, offset: usize, used: &mut [bool]) -> Option<String> {
        let line_end = self.text[offset..]
            .find('\n')
            .map_or(self.text.len(), |i| offset + i);
        let line_start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        for (index, comment) in self.comments.iter().enumerate() {
            if comment.trailing
                && !used[index]
                && comment.start >= line_start
                && comment.start < line_end
            {
                used[index] = true;
                return Some(comment.text.clone());
            }
        }
        None
    }

    /// Whether a comment lies inside `span` (after its start, before the end of its content).
    fn comments_inside(&self, span: Span) -> bool {
        let end = self.content_end(span);
        self.comments
            .iter()
            .any(|c| c.start > span.start && c.start < end)
    }

    /// The end of a span's code: pest spans may take in the whitespace and comments after the
    /// last token of a rule, so they are trimmed off here.
    fn content_end(&self, span: Span) -> usize {
        let mut end = span.end;
        loop {
            let trimmed = self.text[span.start..end].trim_end().len() + span.start;
            let line_start = self.text[..trimmed].rfind('\n').map_or(0, |i| i + 1);
            match self
                .comments
                .iter()
                .find(|c| c.start >= line_start.max(span.start) && c.start < trimmed)
            {
                Some(comment) if comment.start > span.start => end = comment.start,
                _ => return trimmed,
            }
        }
    }

    fn source(&self, span: Span) -> &str {
        self.text.get(span.start..span.end).unwrap_or("")
    }

    /// A part of the source with its whitespace made single spaces.
    fn squeezed(&self, span: Span) -> String {
        self.source(span)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn group(&self, items: &[Item<'a>], used: &mut [bool]) -> Vec<String> {
        match items.first() {
            Some(Item::Pool(_)) => self.pools(items, used),
            Some(Item::Rule(_)) => self.rules(items, used),
            _ => items
                .iter()
                .flat_map(|item| self.item(item, used))
                .collect(),
        }
    }

    /// An item with comments inside, kept with its line breaks where the author put them: on
    /// each line, runs of spaces become one (outside strings), a comment follows its code after
    /// two spaces, and every line after the first is indented by 4.
    fn verbatim(&self, span: Span, used: &mut [bool]) -> Vec<String> {
        let end = self.content_end(span);
        for (index, comment) in self.comments.iter().enumerate() {
            if comment.start >= span.start && comment.start < end {
                used[index] = true;
            }
        }
        let mut lines: Vec<String> = self
            .text
            .get(span.start..end)
            .unwrap_or("")
            .lines()
            .map(normalize_line)
            .filter(|line| !line.is_empty())
            .enumerate()
            .map(|(index, line)| {
                if index == 0 {
                    line
                } else {
                    format!("    {line}")
                }
            })
            .collect();
        if let Some(comment) =
            self.trailing_on_line(span.end.saturating_sub(1).max(span.start), used)
            && let Some(last) = lines.last_mut()
        {
            last.push_str("  ");
            last.push_str(&comment);
        }
        lines
    }

    fn item(&self, item: &Item<'a>, used: &mut [bool]) -> Vec<String> {
        match item {
            Item::Schema(schema) => self.schema(schema, used),
            Item::Calendar(calendar) => self.calendar(calendar, used),
            Item::Queue(queue) => {
                let mut line = format!("queue {}", queue.name.name);
                if let Some(comment) = self.trailing_on_line(queue.span.start, used) {
                    line.push_str("  ");
                    line.push_str(&comment);
                }
                vec![line]
            }
            Item::Use(used_path, span) => {
                let mut line = format!("use {}", self.source(used_path.span));
                if let Some(comment) = self.trailing_on_line(span.start, used) {
                    line.push_str("  ");
                    line.push_str(&comment);
                }
                vec![line]
            }
            Item::Test(test) => self.test(test, used),
            Item::Pool(_) => self.pools(std::slice::from_ref(item), used),
            Item::Rule(_) => self.rules(std::slice::from_ref(item), used),
        }
    }

    fn schema(&self, schema: &Schema, used: &mut [bool]) -> Vec<String> {
        // A comment inside a field (say, inside a multi-line enum) has nowhere to stay.
        if schema
            .fields
            .iter()
            .any(|field| self.comments_inside(field.span))
            || !schema.broken_fields.is_empty()
        {
            return self.verbatim(schema.span, used);
        }
        let mut lines = vec![format!("schema {} {{", schema.name.name)];
        if let Some(comment) = self.trailing_on_line(schema.name.span.start, used)
            && let Some(first) = lines.first_mut()
        {
            first.push_str("  ");
            first.push_str(&comment);
        }
        let width = schema
            .fields
            .iter()
            .map(|f| f.name.name.chars().count() + 1)
            .max()
            .unwrap_or(0);
        let mut rows: Vec<(String, Option<String>, Vec<String>)> = Vec::new();
        let mut previous_end = schema.name.span.end;
        for field in &schema.fields {
            let leading: Vec<String> = self
                .own_line_comments(previous_end, field.span.start, used)
                .into_iter()
                .map(|(comment, _)| comment)
                .collect();
            let head = format!("{}:", field.name.name);
            let prefix = format!("  {head:<width$} ");
            let ty = match &field.ty {
                TypeExpr::Named(name) => name.name.clone(),
                TypeExpr::Enum { variants, .. } => {
                    let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
                    wrap_enum(&names, prefix.chars().count())
                }
            };
            let row = format!("{prefix}{ty}{}", if field.optional { "?" } else { "" });
            let comment = self.trailing_on_line(
                self.content_end(field.span)
                    .saturating_sub(1)
                    .max(field.span.start),
                used,
            );
            rows.push((row, comment, leading));
            previous_end = self.content_end(field.span);
        }
        let comment_column = rows
            .iter()
            .filter(|(_, c, _)| c.is_some())
            .map(|(row, _, _)| row.lines().last().map_or(0, |line| line.chars().count()))
            .max()
            .unwrap_or(0);
        for (row, comment, leading) in rows {
            for comment in leading {
                lines.push(format!("  {comment}"));
            }
            let mut row_lines: Vec<String> = row.lines().map(str::to_string).collect();
            if let (Some(comment), Some(last)) = (comment, row_lines.last_mut()) {
                *last = format!("{last:<comment_column$}  {comment}");
            }
            lines.extend(row_lines);
        }
        for (comment, _) in self.own_line_comments(previous_end, schema.span.end, used) {
            lines.push(format!("  {comment}"));
        }
        lines.push("}".to_string());
        if let Some(comment) = self.trailing_on_line(schema.span.end.saturating_sub(1), used)
            && let Some(last) = lines.last_mut()
        {
            last.push_str("  ");
            last.push_str(&comment);
        }
        lines
    }

    /// A test block: `at`, `roster`, the lead (wrapped under its first field) and `expect`.
    fn test(&self, test: &crate::syntax::ast::Test, used: &mut [bool]) -> Vec<String> {
        let body = Span::new(
            test.name.span.end,
            self.content_end(test.span).saturating_sub(1),
        );
        if self.comments_inside(body) {
            return self.verbatim(test.span, used);
        }
        let mut lines = vec![format!("test {} {{", self.source(test.name.span))];
        for at in &test.at {
            lines.push(format!("  at {}", self.source(at.span)));
        }
        for roster in &test.rosters {
            let text = match roster {
                crate::syntax::ast::RosterSpec::File(path) => self.source(path.span).to_string(),
                crate::syntax::ast::RosterSpec::Inline(inline) => {
                    self.squeezed(inline.span).replace(" ,", ",")
                }
            };
            lines.push(format!("  roster {text}"));
        }
        for lead in &test.leads {
            let entries: Vec<String> = lead
                .entries
                .iter()
                .map(|entry| format!("{}: {}", entry.field.name, self.source(entry.value.span)))
                .collect();
            lines.extend(wrap_list("  lead { ", &entries, " }"));
        }
        let expectations: Vec<String> = test
            .expectations
            .iter()
            .map(|e| self.squeezed(e.span))
            .collect();
        let one_line = format!("  expect {}", expectations.join(" "));
        if one_line.chars().count() <= WIDTH || expectations.len() <= 1 {
            if !expectations.is_empty() {
                lines.push(one_line);
            }
        } else {
            lines.extend(expectations.iter().map(|e| format!("  expect {e}")));
        }
        lines.push("}".to_string());
        if let Some(comment) =
            self.trailing_on_line(self.content_end(test.span).saturating_sub(1), used)
            && let Some(last) = lines.last_mut()
        {
            last.push_str("  ");
            last.push_str(&comment);
        }
        lines
    }

    fn calendar(&self, calendar: &crate::syntax::ast::Calendar, used: &mut [bool]) -> Vec<String> {
        let body = Span::new(calendar.name.span.end, calendar.span.end);
        if self.comments_inside(body) {
            return self.verbatim(calendar.span, used);
        }
        let mut lines = vec![format!("calendar {} {{", calendar.name.name)];
        for zone in &calendar.timezones {
            lines.push(format!("  timezone {}", zone.value));
        }
        for hours in &calendar.hours {
            let text = self.squeezed(hours.span).replace(" ,", ",");
            lines.push(format!("  {text}"));
        }
        if !calendar.holidays.is_empty() {
            let dates: Vec<&str> = calendar.holidays.iter().map(|d| d.value.as_str()).collect();
            lines.push(format!("  holidays {}", dates.join(", ")));
        }
        lines.push("}".to_string());
        if let Some(comment) = self.trailing_on_line(calendar.span.end.saturating_sub(1), used)
            && let Some(last) = lines.last_mut()
        {
            last.push_str("  ");
            last.push_str(&comment);
        }
        lines
    }

    /// Pools, one line each with clauses aligned in columns, or multi-line when too long.
    fn pools(&self, items: &[Item<'a>], used: &mut [bool]) -> Vec<String> {
        // Per pool: its cells, its trailing comment, or its lines kept as written.
        type Row = (Vec<String>, Option<String>, Option<Vec<String>>);
        let mut rows: Vec<Row> = Vec::new();
        for item in items {
            let Item::Pool(pool) = item else { continue };
            let body = Span::new(pool.name.span.end, pool.span.end);
            if self.comments_inside(Span::new(body.start, body.end.saturating_sub(1))) {
                rows.push((Vec::new(), None, Some(self.verbatim(pool.span, used))));
                continue;
            }
            let members = if pool.members.is_empty() {
                String::new()
            } else {
                format!(
                    "members {}",
                    pool.members
                        .iter()
                        .map(|m| m.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let strategy = pool.strategies.first().map_or(String::new(), |s| {
                format!(
                    "strategy {}",
                    self.squeezed(s.span())
                        .replace(" ,", ",")
                        .replace("( ", "(")
                        .replace(" )", ")")
                        .replace(" = ", "=")
                )
            });
            let cap = pool
                .caps
                .first()
                .map_or(String::new(), |c| format!("cap {}", self.source(c.span)));
            let calendar = pool
                .calendars
                .first()
                .map_or(String::new(), |c| format!("calendar {}", c.name));
            let comment =
                self.trailing_on_line(self.content_end(pool.span).saturating_sub(1), used);
            rows.push((
                vec![
                    format!("pool {}", pool.name.name),
                    members,
                    strategy,
                    cap,
                    calendar,
                ],
                comment,
                None,
            ));
        }
        let columns = 5;
        let mut widths = vec![0usize; columns];
        for (cells, _, verbatim) in &rows {
            if verbatim.is_some() {
                continue;
            }
            for (index, cell) in cells.iter().enumerate() {
                widths[index] = widths[index].max(cell.chars().count());
            }
        }
        // Align in columns only when every aligned line fits; else each pool on its own terms.
        let aligned_width: usize = 4 + widths.iter().map(|w| w + 2).sum::<usize>();
        let align = aligned_width <= WIDTH;
        let mut lines = Vec::new();
        for (cells, comment, verbatim) in rows {
            if let Some(verbatim) = verbatim {
                lines.extend(verbatim);
                continue;
            }
            let widths: Vec<usize> = if align {
                widths.clone()
            } else {
                cells.iter().map(|cell| cell.chars().count()).collect()
            };
            let mut line = format!("{:<w$} {{", cells[0], w = widths[0]);
            let filled: Vec<usize> = (1..columns).filter(|&i| widths[i] > 0).collect();
            for (position, &index) in filled.iter().enumerate() {
                let cell = &cells[index];
                line.push(' ');
                if position + 1 < filled.len() {
                    line.push_str(&format!("{cell:<w$} ", w = widths[index]));
                } else {
                    line.push_str(cell);
                }
            }
            let mut line = format!("{} }}", line.trim_end());
            if line.chars().count() > WIDTH {
                // Too long for one line: one clause per line.
                let mut multi = vec![format!("{} {{", cells[0])];
                for cell in cells.iter().skip(1).filter(|c| !c.is_empty()) {
                    multi.push(format!("  {cell}"));
                }
                multi.push("}".to_string());
                if let (Some(comment), Some(last)) = (comment, multi.last_mut()) {
                    last.push_str("  ");
                    last.push_str(&comment);
                }
                lines.extend(multi);
                continue;
            }
            if let Some(comment) = comment {
                line.push_str("  ");
                line.push_str(&comment);
            }
            lines.push(line);
        }
        lines
    }

    /// Rules, one line each (`when` aligned across named rules), wrapped when too long.
    fn rules(&self, items: &[Item<'a>], used: &mut [bool]) -> Vec<String> {
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
                .map(|action| action.kind.describe())
                .collect::<Vec<_>>()
                .join(" else ");
            let mut clauses = Vec::new();
            if let Some(within) = rule.within {
                clauses.push(format!("within {}", self.squeezed(within.span)));
            }
            for escalation in &rule.escalations {
                clauses.push(self.escalation(escalation));
            }
            let lead = if head.is_empty() {
                String::new()
            } else {
                format!("{head:<width$} ")
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

    /// Whether a comment inside the rule is anything but the trailing comment of its last line.
    fn inner_comment_not_trailing_last_line(&self, span: Span) -> bool {
        let end = self.content_end(span);
        let last_line_start = self.text[..end].rfind('\n').map_or(0, |i| i + 1);
        self.comments
            .iter()
            .any(|c| c.start > span.start && c.start < end && c.start < last_line_start)
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

/// One line of an item kept as written: single spaces between tokens outside strings, the
/// comment (if any) after two spaces.
fn normalize_line(line: &str) -> String {
    let mut code = String::new();
    let mut comment = "";
    let mut in_string = false;
    let mut escaped = false;
    let mut pending_space = false;
    for (index, ch) in line.char_indices() {
        if !in_string && ch == '#' {
            comment = line[index..].trim_end();
            break;
        }
        if !in_string && ch.is_whitespace() {
            pending_space = !code.is_empty();
            continue;
        }
        if pending_space {
            code.push(' ');
            pending_space = false;
        }
        code.push(ch);
        match ch {
            '\\' if in_string && !escaped => {
                escaped = true;
                continue;
            }
            '"' if !escaped => in_string = !in_string,
            _ => {}
        }
        escaped = false;
    }
    match (code.is_empty(), comment.is_empty()) {
        (true, _) => comment.to_string(),
        (false, true) => code,
        (false, false) => format!("{code}  {comment}"),
    }
}

/// `open a, b, c close` as lines no wider than [`WIDTH`], continuations under the first element.
fn wrap_list(open: &str, elements: &[String], close: &str) -> Vec<String> {
    let one_line = format!("{open}{}{close}", elements.join(", "));
    if one_line.chars().count() <= WIDTH || elements.is_empty() {
        return vec![one_line];
    }
    let indent = " ".repeat(open.chars().count());
    let mut lines = Vec::new();
    let mut line = open.to_string();
    for (index, element) in elements.iter().enumerate() {
        let piece = if index + 1 == elements.len() {
            format!("{element}{close}")
        } else {
            format!("{element},")
        };
        let separator = if line.ends_with(' ') { "" } else { " " };
        if line.chars().count() + separator.len() + piece.chars().count() > WIDTH
            && line.trim() != open.trim()
        {
            lines.push(line);
            line = format!("{indent}{piece}");
        } else {
            line.push_str(separator);
            line.push_str(&piece);
        }
    }
    lines.push(line);
    lines
}

/// `enum { a, b, c }`, wrapped before [`WIDTH`] with the continuation under the first variant.
fn wrap_enum(variants: &[&str], column: usize) -> String {
    let one_line = format!("enum {{ {} }}", variants.join(", "));
    if column + one_line.chars().count() <= WIDTH {
        return one_line;
    }
    let indent = " ".repeat(column + "enum { ".len());
    let mut out = String::from("enum { ");
    let mut line_length = column + out.len();
    for (index, variant) in variants.iter().enumerate() {
        let last = index + 1 == variants.len();
        let piece = if last {
            format!("{variant} }}")
        } else {
            format!("{variant},")
        };
        if index > 0 {
            if line_length + 1 + piece.chars().count() > WIDTH {
                out.push('\n');
                out.push_str(&indent);
                line_length = indent.len();
            } else {
                out.push(' ');
                line_length += 1;
            }
        }
        out.push_str(&piece);
        line_length += piece.chars().count();
    }
    out
}

fn same_kind(left: &Item<'_>, right: &Item<'_>) -> bool {
    std::mem::discriminant(left) == std::mem::discriminant(right)
}

/// Every comment: `#` to the end of the line, outside strings.
fn comments(text: &str) -> Vec<Comment> {
    let mut found = Vec::new();
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        if let Some(index) = crate::syntax::comment_start(line) {
            found.push(Comment {
                start: line_start + index,
                text: line[index..].trim_end().to_string(),
                trailing: !line[..index].trim().is_empty(),
            });
        }
        line_start += line.len();
    }
    found
}
