//! Printing of schemas, calendars, pools and test blocks: fields aligned, pools in columns,
//! leads and enums wrapped at [`WIDTH`].

use super::{Formatter, Item, WIDTH};
use crate::span::Span;
use crate::syntax::ast::{Schema, TypeExpr};

impl<'a> Formatter<'a> {
    pub(super) fn schema(&self, schema: &Schema, used: &mut [bool]) -> Vec<String> {
        // A comment inside a field (say, inside a multi-line enum) has nowhere to stay.
        if schema
            .fields
            .iter()
            .any(|field| self.comments_inside(field.span))
            || !schema.broken_fields.is_empty()
            || self.comments_inside(Span::new(schema.span.start, schema.name.span.end))
            || self.comment_after_header(schema)
        {
            return self.verbatim_block(schema.span, used);
        }
        let first_field = schema.fields.first().map_or(usize::MAX, |f| f.span.start);
        let mut lines = vec![format!("schema {} {{", schema.name.name)];
        if let Some(comment) =
            self.trailing_on_line_before(schema.name.span.start, first_field, used)
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
        for (index, field) in schema.fields.iter().enumerate() {
            // The last field's comment comes before the closing brace (`b: int } # c` is the
            // schema's, after its `}`).
            let next_field = schema
                .fields
                .get(index + 1)
                .map_or(self.content_end(schema.span).saturating_sub(1), |next| {
                    next.span.start
                });
            let leading: Vec<String> = self
                .own_line_comments(previous_end, field.span.start, used)
                .into_iter()
                .map(|(comment, _)| comment)
                .collect();
            let head = format!("{}:", field.name.name);
            let prefix = format!("  {} ", crate::text::pad(&head, width));
            let ty = match &field.ty {
                TypeExpr::Named(name) => name.name.clone(),
                TypeExpr::Enum { variants, .. } => {
                    let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
                    wrap_enum(&names, prefix.chars().count())
                }
            };
            let row = format!("{prefix}{ty}{}", if field.optional { "?" } else { "" });
            let comment = self.trailing_on_line_before(
                self.content_end(field.span)
                    .saturating_sub(1)
                    .max(field.span.start),
                next_field,
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
                *last = format!("{}  {comment}", crate::text::pad(last, comment_column));
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

    /// Whether a comment ends a line between the schema's name's line and its first field
    /// (`schema lead # a` then `{ # b`): the header has one line, so it would have no place.
    fn comment_after_header(&self, schema: &Schema) -> bool {
        let name_end = schema.name.span.end;
        let header_line_end = self.text[name_end..]
            .find('\n')
            .map_or(self.text.len(), |at| name_end + at);
        let first_part = schema
            .fields
            .first()
            .map_or(self.content_end(schema.span), |field| field.span.start);
        self.comments
            .iter()
            .any(|c| c.trailing && c.start > header_line_end && c.start < first_part)
    }

    /// A test block: `at`, `roster`, the lead (wrapped under its first field) and `expect`.
    pub(super) fn test(&self, test: &crate::syntax::ast::Test, used: &mut [bool]) -> Vec<String> {
        // The whole block, keyword to closing brace: a comment anywhere in it (even on the
        // last line before the `}`, or between `test` and the name) is kept with it.
        if self.comments_inside(test.span) {
            return self.verbatim_block(test.span, used);
        }
        let mut lines = vec![format!("test {} {{", self.source(test.name.span))];
        for at in &test.at {
            lines.push(format!("  at {}", self.source(at.span)));
        }
        for roster in &test.rosters {
            let text = match roster {
                crate::syntax::ast::RosterSpec::File(path) => self.source(path.span).to_string(),
                crate::syntax::ast::RosterSpec::Inline(inline) => {
                    spaced_list(self.source(inline.span))
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

    pub(super) fn calendar(
        &self,
        calendar: &crate::syntax::ast::Calendar,
        used: &mut [bool],
    ) -> Vec<String> {
        if self.comments_inside(calendar.span) {
            return self.verbatim_block(calendar.span, used);
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
    pub(super) fn pools(&self, items: &[Item<'a>], used: &mut [bool]) -> Vec<String> {
        let mut rows: Vec<Row> = Vec::new();
        for item in items {
            let Item::Pool(pool) = item else { continue };
            // The whole item, from its keyword to its closing brace: a comment anywhere in it
            // (on the last clause's line, left out, would swallow the brace) keeps it as written.
            if self.comments_inside(pool.span) {
                rows.push((Vec::new(), None, Some(self.verbatim_block(pool.span, used))));
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
                        .replace(" =", "=")
                        .replace("= ", "=")
                        .split(',')
                        .map(str::trim)
                        .collect::<Vec<_>>()
                        .join(", ")
                        .replace(", )", ",)")
                )
            });
            let calendar = pool
                .calendars
                .first()
                .map_or(String::new(), |c| format!("calendar {}", c.name));
            let on_shift = if pool.on_shift.is_empty() {
                String::new()
            } else {
                "on shift".to_string()
            };
            let comment =
                self.trailing_on_line(self.content_end(pool.span).saturating_sub(1), used);
            rows.push((
                vec![
                    format!("pool {}", pool.name.name),
                    members,
                    strategy,
                    self.caps(&pool.caps),
                    calendar,
                    on_shift,
                ],
                comment,
                None,
            ));
        }
        aligned(rows)
    }

    /// Every cap clause as written (squeezed), in order: `cap 25  cap 5 per day`.
    fn caps(&self, caps: &[crate::syntax::ast::Cap]) -> String {
        caps.iter()
            .map(|cap| self.squeezed(cap.span))
            .collect::<Vec<_>>()
            .join("  ")
    }

    /// `rep` items, one line each with their clauses aligned in columns (calendar, caps).
    pub(super) fn reps(&self, items: &[Item<'a>], used: &mut [bool]) -> Vec<String> {
        let mut rows: Vec<Row> = Vec::new();
        for item in items {
            let Item::Rep(rep) = item else { continue };
            // Up to and with the closing brace, as for pools.
            if self.comments_inside(rep.span) {
                rows.push((Vec::new(), None, Some(self.verbatim_block(rep.span, used))));
                continue;
            }
            let calendar = rep
                .calendars
                .first()
                .map_or(String::new(), |c| format!("calendar {}", c.name));
            let comment = self.trailing_on_line(self.content_end(rep.span).saturating_sub(1), used);
            rows.push((
                vec![
                    format!("rep {}", rep.name.name),
                    calendar,
                    self.caps(&rep.caps),
                ],
                comment,
                None,
            ));
        }
        aligned(rows)
    }
}

/// Per item of a group printed in columns: its cells (the first is `KIND NAME`), its trailing
/// comment, or its lines kept as written.
type Row = (Vec<String>, Option<String>, Option<Vec<String>>);

/// Rows as `KIND NAME { clause  clause }`, one line each with clauses aligned in columns across
/// the group when every aligned line fits; a line longer than [`WIDTH`] goes one clause per line.
/// A braced list laid out as a test's `lead { … }` is: `{ a, b }`, one space after `{` and each
/// comma and before `}`, none before a comma, other runs of whitespace one space; strings are
/// left exactly as written (an account named `"Acme  Corp"` keeps its two spaces).
fn spaced_list(text: &str) -> String {
    let mut squeezed = String::with_capacity(text.len());
    let (mut in_string, mut escaped, mut space) = (false, false, false);
    for ch in text.chars() {
        if in_string {
            squeezed.push(ch);
            match ch {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => in_string = false,
                _ => escaped = false,
            }
        } else if ch.is_whitespace() {
            space = true;
        } else {
            if space && !squeezed.is_empty() {
                squeezed.push(' ');
            }
            space = false;
            if ch == '"' {
                in_string = true;
            }
            squeezed.push(ch);
        }
    }
    let squeezed = squeezed.as_str();
    let mut out = String::with_capacity(squeezed.len() + 8);
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = squeezed.chars().peekable();
    while let Some(ch) = chars.next() {
        if in_string {
            out.push(ch);
            match ch {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => in_string = false,
                _ => escaped = false,
            }
            continue;
        }
        match ch {
            '"' => {
                in_string = true;
                out.push(ch);
            }
            ' ' if matches!(chars.peek(), Some(',' | '}')) => {}
            ',' | '{' => {
                out.push(ch);
                if chars.peek() == Some(&'}') && ch == '{' {
                    continue;
                }
                if chars.peek() != Some(&' ') {
                    out.push(' ');
                }
            }
            '}' => {
                if !out.ends_with(' ') && !out.ends_with('{') {
                    out.push(' ');
                }
                out.push(ch);
            }
            _ => out.push(ch),
        }
    }
    out
}

fn aligned(rows: Vec<Row>) -> Vec<String> {
    let columns = rows
        .iter()
        .map(|(cells, _, _)| cells.len())
        .max()
        .unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for (cells, _, verbatim) in &rows {
        if verbatim.is_some() {
            continue;
        }
        for (index, cell) in cells.iter().enumerate() {
            widths[index] = widths[index].max(cell.chars().count());
        }
    }
    // Align in columns only when every aligned line fits; else each item on its own terms.
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
        let mut line = format!("{} {{", crate::text::pad(&cells[0], widths[0]));
        let filled: Vec<usize> = (1..columns).filter(|&i| widths[i] > 0).collect();
        for (position, &index) in filled.iter().enumerate() {
            let cell = &cells[index];
            line.push(' ');
            if position + 1 < filled.len() {
                line.push_str(&crate::text::pad(cell, widths[index]));
                line.push(' ');
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
