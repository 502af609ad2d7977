//! The formatter: one canonical layout for policy files, keeping every comment.
//!
//! Layout: items in file order, one blank line kept between items where the source had one or
//! more; schema fields one per line with names and types aligned; pools on one line each when
//! they fit, their clauses aligned in columns across consecutive pools (and `rep` items across
//! consecutive `rep` items); calendars one clause per
//! line; rules on one line with `when` aligned across consecutive named rules, wrapped before
//! `->` and before each clause (4 spaces in) when longer than [`WIDTH`]; conditions printed from
//! the syntax tree with only the parentheses precedence needs.
//!
//! Comments: a comment at the end of a line stays at the end of the line of the part it follows;
//! a comment on its own line stays on its own line before the part (or item) after it. An item
//! whose inside holds a comment that has no part to stay with (inside a condition, inside a test)
//! is kept exactly as written, so that nothing moves.
//!
//! This module walks the items in groups; `comments.rs` finds comments and keeps them in place,
//! `items.rs` prints schemas, calendars, pools and tests, `rules.rs` prints rules and conditions.
//!
//! Architecture invariants: a file with syntax errors is not formatted; `format(format(x)) ==
//! format(x)`; the formatted policy resolves to the same rules, conditions and declarations, so
//! it compiles to the same decision graph (property-tested).

mod comments;
mod items;
mod rules;

use crate::diagnostic::Diagnostic;
use crate::span::Span;
use crate::syntax::ast::{PolicyFile, Rule, Schema};
use crate::syntax::parse;
use comments::{Comment, comments};

/// The message of the one error `format` gives for a file that parses: a comment it could not
/// keep in place, once, so that the file is left as written.
pub const COMMENT_NOT_KEPT: &str =
    "the formatter cannot keep this comment where it is, so the file is left as written";

/// The width past which rules wrap and pools go multi-line.
pub const WIDTH: usize = 100;

/// Formats a policy text. `Err` with the syntax errors when it does not parse.
pub fn format(text: &str) -> Result<String, Vec<Diagnostic>> {
    let parsed = parse(text);
    if !parsed.errors.is_empty() {
        return Err(parsed.errors);
    }
    let formatter = Formatter::new(text, &parsed.file);
    let formatted = formatter.run();
    // Every comment kept, once: a layout the formatter places wrongly is left as written
    // rather than lose or copy what the author wrote.
    if let Some(comment) = formatter.comment_not_kept(&formatted) {
        let end = comment.start + comment.text.len();
        return Err(vec![
            Diagnostic::new(
                crate::diagnostic::Code::Syntax,
                Span::new(comment.start, end),
                COMMENT_NOT_KEPT,
            )
            .with_label("this comment")
            .with_help(
                "move the comment to its own line before the item, or to the end of the item's \
                 line; and please report the layout: `fmt` must keep every comment",
            ),
        ]);
    }
    Ok(formatted)
}

/// One item of the file, in source order.
enum Item<'a> {
    Schema(&'a Schema),
    Calendar(&'a crate::syntax::ast::Calendar),
    Pool(&'a crate::syntax::ast::Pool),
    Rep(&'a crate::syntax::ast::RepItem),
    Score(&'a crate::syntax::ast::Score),
    Tags(&'a crate::syntax::ast::TagsDecl),
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
            Item::Rep(item) => item.span,
            Item::Score(item) => item.span,
            Item::Tags(item) => item.span,
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
        items.extend(file.reps.iter().map(Item::Rep));
        items.extend(file.scores.iter().map(Item::Score));
        items.extend(file.tags.iter().map(Item::Tags));
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
        // A blank line before them where the source had one (the newline that ends a comment
        // is not a blank line).
        let first_comment = self
            .comments
            .iter()
            .enumerate()
            .find(|(i, c)| !used_comments[*i] && !c.trailing && c.start >= tail_start)
            .map_or(self.text.len(), |(_, c)| c.start);
        let trailing_comments =
            self.own_line_comments(tail_start, self.text.len(), &mut used_comments);
        if !trailing_comments.is_empty()
            && !out.is_empty()
            && self.text[tail_start..first_comment].matches('\n').count() >= 2
        {
            out.push('\n');
        }
        for (comment, _) in trailing_comments {
            out.push_str(&comment);
            out.push('\n');
        }
        out
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
            Some(Item::Rep(_)) => self.reps(items, used),
            Some(Item::Rule(_)) => self.rules(items, used),
            _ => items
                .iter()
                .flat_map(|item| self.item(item, used))
                .collect(),
        }
    }
    fn item(&self, item: &Item<'a>, used: &mut [bool]) -> Vec<String> {
        match item {
            Item::Schema(schema) => self.schema(schema, used),
            Item::Calendar(calendar) => self.calendar(calendar, used),
            // A comment between the keyword and the name has no part to stay with.
            Item::Queue(queue) if self.comments_inside(queue.span) => {
                self.verbatim(queue.span, used)
            }
            Item::Use(_, span) if self.comments_inside(*span) => self.verbatim(*span, used),
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
            Item::Score(score) => self.score(score, used),
            Item::Tags(tags) => self.tags(tags, used),
            Item::Pool(_) => self.pools(std::slice::from_ref(item), used),
            Item::Rep(_) => self.reps(std::slice::from_ref(item), used),
            Item::Rule(_) => self.rules(std::slice::from_ref(item), used),
        }
    }
}

fn same_kind(left: &Item<'_>, right: &Item<'_>) -> bool {
    std::mem::discriminant(left) == std::mem::discriminant(right)
}

/// The formatted text with the file's line endings: CRLF when the file's first line ends so
/// (an editor or git on Windows wrote it), so that `fmt` changes layout, never line endings
/// alone; a file of mixed endings gets its first line's throughout.
pub fn keep_line_endings(source: &str, formatted: String) -> String {
    let crlf = source
        .find('\n')
        .is_some_and(|end| source[..end].ends_with('\r'));
    if crlf {
        formatted.replace('\n', "\r\n")
    } else {
        formatted
    }
}
