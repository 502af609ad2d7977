//! Comments: finding them in the source, and keeping each with the part it belongs to (at the end
//! of that part's line, or on its own line before it). An item whose comments have no part to
//! stay with is printed as written (`verbatim`).

use super::Formatter;
use crate::span::Span;

/// A comment in the source.
#[derive(Debug, Clone)]
pub(super) struct Comment {
    pub(super) start: usize,
    pub(super) text: String,
    /// Code precedes it on its line.
    pub(super) trailing: bool,
}

impl Formatter<'_> {
    pub(super) fn blank_or_comment_between(&self, from: usize, to: usize) -> bool {
        let gap = &self.text[from.min(to)..to];
        gap.contains('#') || gap.matches('\n').count() >= 2
    }

    /// Own-line comments in `from..to` with whether a blank line follows each.
    pub(super) fn own_line_comments(
        &self,
        from: usize,
        to: usize,
        used: &mut [bool],
    ) -> Vec<(String, bool)> {
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

    /// The trailing comment on the line where `offset` lies, if any (marked used), when it
    /// follows the part at `offset`: no other item starts between them (`queue a queue b # b`
    /// is `b`'s).
    pub(super) fn trailing_on_line(&self, offset: usize, used: &mut [bool]) -> Option<String> {
        self.trailing_on_line_before(offset, usize::MAX, used)
    }

    /// [`Formatter::trailing_on_line`], for a part followed by another at `next` (a schema's
    /// header and its fields): a comment after `next` is the later part's.
    pub(super) fn trailing_on_line_before(
        &self,
        offset: usize,
        next: usize,
        used: &mut [bool],
    ) -> Option<String> {
        // Callers step back a byte from an end; a BOM or other wide character may hold it.
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
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
                let later_part = comment.start > next
                    || self.items.iter().any(|item| {
                        let start = item.span().start;
                        start > offset && start < comment.start
                    });
                if later_part {
                    return None;
                }
                used[index] = true;
                return Some(comment.text.clone());
            }
        }
        None
    }

    /// The first comment of the source that `formatted` does not hold as many times (one it
    /// would lose, or write twice): the check that `fmt` keeps every comment, once.
    pub(super) fn comment_not_kept(&self, formatted: &str) -> Option<&Comment> {
        let mut counts: std::collections::HashMap<&str, isize> = std::collections::HashMap::new();
        for comment in &self.comments {
            *counts.entry(comment.text.as_str()).or_default() += 1;
        }
        let written = comments(formatted);
        for comment in &written {
            *counts.entry(comment.text.as_str()).or_default() -= 1;
        }
        self.comments
            .iter()
            .find(|comment| counts.get(comment.text.as_str()).is_some_and(|n| *n != 0))
            .or_else(|| {
                // Written more often than the source has it, and not in the source at all.
                written
                    .iter()
                    .any(|comment| counts.get(comment.text.as_str()).is_some_and(|n| *n != 0))
                    .then(|| self.comments.first())
                    .flatten()
            })
    }

    /// Whether a comment lies inside `span` (after its start, before the end of its content).
    pub(super) fn comments_inside(&self, span: Span) -> bool {
        let end = self.content_end(span);
        self.comments
            .iter()
            .any(|c| c.start > span.start && c.start < end)
    }

    /// The end of a span's code: pest spans may take in the whitespace and comments after the
    /// last token of a rule, so they are trimmed off here.
    pub(super) fn content_end(&self, span: Span) -> usize {
        let mut end = span.end;
        loop {
            let trimmed = self.text[span.start..end]
                .trim_end_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
                .len()
                + span.start;
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

    /// An item with comments inside, kept with its line breaks where the author put them: on
    /// each line, runs of spaces become one (outside strings), a comment follows its code after
    /// two spaces, and every line after the first is indented by 4.
    pub(super) fn verbatim(&self, span: Span, used: &mut [bool]) -> Vec<String> {
        self.kept(span, used, Indent::Continuation)
    }

    /// A braced item (a schema, pool, rep, calendar, score, tags or test) that has comments
    /// inside, as written but indented by its braces: two spaces a level, a closing brace at its
    /// opening line's level.
    pub(super) fn verbatim_block(&self, span: Span, used: &mut [bool]) -> Vec<String> {
        self.kept(span, used, Indent::Braces)
    }

    fn kept(&self, span: Span, used: &mut [bool], indent: Indent) -> Vec<String> {
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
            .scan((0usize, false), |(depth, continues), (index, line)| {
                let (code, opens, closes) = code_and_braces(&line);
                let last_code = code.chars().last();
                let shown = match indent {
                    _ if index == 0 => line.clone(),
                    Indent::Continuation => format!("    {line}"),
                    Indent::Braces => {
                        let level = depth.saturating_sub(usize::from(line.starts_with('}')));
                        // A list that goes on past a comma (`members anna, boris,` then
                        // `chen`) goes on two spaces further in, not as a clause of its own.
                        let on = if *continues && !line.starts_with('}') {
                            "  "
                        } else {
                            ""
                        };
                        format!("{}{on}{line}", "  ".repeat(level))
                    }
                };
                *depth = (*depth + opens).saturating_sub(closes);
                // A line of code (not a comment alone) says whether the next one goes on with
                // it: it ends in a comma and opened no brace (a brace's lines are indented by
                // its depth already).
                if let Some(last) = last_code {
                    *continues = last == ',' && opens <= closes;
                }
                Some(shown)
            })
            .collect();
        // The comment after the last code (the span may run on over blank lines).
        if let Some(comment) = self.trailing_on_line(end.saturating_sub(1).max(span.start), used)
            && let Some(last) = lines.last_mut()
        {
            last.push_str("  ");
            last.push_str(&comment);
        }
        lines
    }

    /// Whether a comment inside the rule is anything but the trailing comment of its last line.
    pub(super) fn inner_comment_not_trailing_last_line(&self, span: Span) -> bool {
        let end = self.content_end(span);
        let last_line_start = self.text[..end].rfind('\n').map_or(0, |i| i + 1);
        self.comments
            .iter()
            .any(|c| c.start > span.start && c.start < end && c.start < last_line_start)
    }
}

/// How the lines after the first of an item kept as written are indented.
#[derive(Clone, Copy)]
enum Indent {
    /// Four spaces: a rule's continuation lines.
    Continuation,
    /// Two spaces for each brace open at the line's start.
    Braces,
}

/// A normalized line's code (without its comment and the spaces before it; a `#` in a string
/// is no comment), and the braces it opens and closes outside strings.
fn code_and_braces(line: &str) -> (&str, usize, usize) {
    let (mut opens, mut closes) = (0, 0);
    let mut in_string = false;
    let mut escaped = false;
    let mut end = line.len();
    for (index, ch) in line.char_indices() {
        match ch {
            '#' if !in_string => {
                end = index;
                break;
            }
            '\\' if in_string && !escaped => {
                escaped = true;
                continue;
            }
            '"' if !escaped => in_string = !in_string,
            '{' if !in_string => opens += 1,
            '}' if !in_string => closes += 1,
            _ => {}
        }
        escaped = false;
    }
    (line.get(..end).unwrap_or(line).trim_end(), opens, closes)
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

/// Every comment: `#` to the end of the line, outside strings.
pub(super) fn comments(text: &str) -> Vec<Comment> {
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
