//! Syntax errors: turns a pest error into a diagnostic that says what was expected, in words.

use super::{MAX_NESTING, Rule, comment_start};
use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;
use std::collections::BTreeSet;

/// Words that cannot be names, with the grammar's `reserved` rule.
pub const RESERVED: [&str; 13] = [
    "and",
    "or",
    "not",
    "in",
    "is",
    "when",
    "otherwise",
    "else",
    "within",
    "escalate",
    "after",
    "inside",
    "outside",
];

/// What a rule stands for in "expected ..." (`None`: never worth naming).
fn describe(grammar_rule: Rule) -> Option<&'static str> {
    Some(match grammar_rule {
        Rule::ident => "a name",
        Rule::number => "a number",
        Rule::integer => "a whole number",
        Rule::string => "a quoted string",
        Rule::date => "a date such as `2026-12-24`",
        Rule::clock | Rule::time_range => "hours such as `09:00-18:00`",
        Rule::timestamp => "a time such as `2026-11-23T10:00:00+01:00`",
        Rule::fixed_duration | Rule::duration | Rule::business_duration => {
            "a duration such as `15m`, `4h` or `5 business days`"
        }
        Rule::value => "a value",
        Rule::weekday | Rule::day_range => "a weekday (`mon` to `sun`)",
        Rule::zone_name => "a time zone such as `Europe/Berlin`",
        Rule::cmp_op => "a comparison (`=`, `!=`, `<`, `<=`, `>`, `>=`)",
        Rule::field_type => "a type",
        Rule::field => "a field",
        Rule::condition | Rule::or_expr | Rule::and_expr => "a condition",
        Rule::actions => "an action (`pool`, `rep`, `owner of`, `queue`)",
        Rule::kw_schema => "`schema`",
        Rule::kw_calendar => "`calendar`",
        Rule::kw_pool => "`pool`",
        Rule::kw_queue => "`queue`",
        Rule::kw_rule => "`rule`",
        Rule::kw_when => "`when`",
        Rule::kw_otherwise => "`otherwise`",
        Rule::kw_test => "`test`",
        Rule::kw_and => "`and`",
        Rule::kw_or => "`or`",
        Rule::kw_not => "`not`",
        Rule::kw_in => "`in`",
        Rule::kw_is => "`is`",
        Rule::kw_set => "`set`",
        Rule::kw_inside => "`inside`",
        Rule::kw_outside => "`outside`",
        Rule::kw_else => "`else`",
        Rule::kw_rep => "`rep`",
        Rule::kw_owner => "`owner`",
        Rule::kw_of => "`of`",
        Rule::kw_within => "`within`",
        Rule::kw_escalate => "`escalate`",
        Rule::kw_after => "`after`",
        Rule::kw_members => "`members`",
        Rule::kw_strategy => "`strategy`",
        Rule::kw_weighted => "`weighted`",
        Rule::kw_cap => "`cap`",
        Rule::kw_timezone => "`timezone`",
        Rule::kw_hours => "`hours`",
        Rule::kw_holidays => "`holidays`",
        Rule::kw_enum => "`enum`",
        Rule::kw_lead => "`lead`",
        Rule::kw_expect => "`expect`",
        Rule::kw_unassigned => "`unassigned`",
        Rule::kw_business => "`business`",
        Rule::kw_null => "`null`",
        Rule::kw_use => "`use`",
        Rule::kw_at => "`at`",
        Rule::kw_roster => "`roster`",
        Rule::kw_away => "`away`",
        Rule::kw_offline => "`offline`",
        Rule::kw_available => "`available`",
        Rule::kw_open => "`open`",
        Rule::kw_out => "`out`",
        Rule::kw_to => "`to`",
        Rule::kw_account => "`account`",
        Rule::kw_parent => "`parent`",
        Rule::kw_assigned => "`assigned`",
        Rule::kw_today => "`today`",
        Rule::kw_this => "`this`",
        Rule::kw_score => "`score`",
        Rule::kw_tags => "`tags`",
        Rule::kw_tag => "`tag`",
        Rule::points => "points such as `+30` or `-30` (with their sign)",
        Rule::score_value => "a whole number",
        Rule::score_line => "a line of points such as `+30 when employees >= 500`",
        Rule::assigned_window => "`today`, `this hour` or `this week`",
        Rule::rep_fact => {
            "`away`, `offline`, `available`, `open N`, `out FROM to TO` or `assigned N today`"
        }
        Rule::business_unit => "`days` or `hours`",
        Rule::lbrace => "`{`",
        Rule::rbrace => "`}`",
        Rule::lparen => "`(`",
        Rule::rparen => "`)`",
        Rule::colon => "`:`",
        Rule::comma => "`,`",
        Rule::arrow => "`->`",
        Rule::question => "`?`",
        Rule::equals => "`=`",
        Rule::period => "`hour`, `day` or `week`",
        Rule::EOI => "the end of the file",
        _ => return None,
    })
}

const ITEM_STARTS: [&str; 12] = [
    "`schema`",
    "`calendar`",
    "`pool`",
    "`rep`",
    "`score`",
    "`tags`",
    "`queue`",
    "`rule`",
    "`when`",
    "`otherwise`",
    "`test`",
    "`use`",
];

/// Builds the diagnostic for a pest error in the chunk of `text` that starts at `base`.
pub(crate) fn syntax_error(
    text: &str,
    base: usize,
    error: &pest::error::Error<Rule>,
) -> Diagnostic {
    let local = match error.location {
        pest::error::InputLocation::Pos(pos) => pos,
        pest::error::InputLocation::Span((start, _)) => start,
    };
    let offset = (base + local).min(text.len());
    let mut expected: BTreeSet<&'static str> = BTreeSet::new();
    if let pest::error::ErrorVariant::ParsingError { positives, .. } = &error.variant {
        for positive in positives {
            // The start of an item is one atomic rule to pest: every item keyword.
            if *positive == Rule::item_word_start {
                expected.extend(ITEM_STARTS);
            } else if let Some(word) = describe(*positive) {
                expected.insert(word);
            }
        }
    }
    expected_found(text, offset, expected)
}

/// Where a string literal that starts `rest` breaks on an escape the grammar has no use for
/// (`\q`, `\u00e9`): its offset in `rest` and the escape's text. `None` when `rest` is no
/// string, or its escapes are good (then the string breaks elsewhere, at its line's end).
fn bad_escape(rest: &str) -> Option<(usize, &str)> {
    let body = rest.strip_prefix('"')?;
    let mut chars = body.char_indices();
    while let Some((index, c)) = chars.next() {
        match c {
            '"' | '\n' => return None,
            '\\' => match chars.next() {
                Some((_, '"' | '\\' | 'n' | 't' | 'r')) => {}
                // A backslash at the end of the line: the string breaks there, not on it.
                Some((_, '\n' | '\r')) => return None,
                Some((next, escaped)) => {
                    let end = next + escaped.len_utf8();
                    return Some((1 + index, &body[index..end]));
                }
                None => return None,
            },
            _ => {}
        }
    }
    None
}

/// How the syntax error of `escalate rep anna` begins: the checker's findings about the
/// target `rep` it leaves are dropped beside it ([`crate::pipeline`]).
pub(crate) const TARGET_ALONE: &str = "an escalation names its target alone";

/// "expected X, found Y", placed at the found token; or, when the token begins a new line, at the
/// end of the line before (where the missing piece belongs).
pub(crate) fn expected_found(
    text: &str,
    offset: usize,
    expected: BTreeSet<&'static str>,
) -> Diagnostic {
    let mut expected: Vec<&str> = expected.into_iter().collect();
    let item_count = expected
        .iter()
        .filter(|word| ITEM_STARTS.contains(word))
        .count();
    let mut lead = String::new();
    if item_count >= 6 {
        expected.retain(|word| !ITEM_STARTS.contains(word));
        lead = "an item (`schema`, `calendar`, `pool`, `rep`, `score`, `tags`, `queue`, `rule`, `when`, `otherwise`, `test` or `use`)"
            .to_string();
    }
    let mut parts: Vec<String> = expected.iter().map(|word| word.to_string()).collect();
    if !lead.is_empty() {
        parts.insert(0, lead);
    }
    let expected_text = join_or(&parts);
    if let Some(time) = time_without_offset(&text[offset.min(text.len())..]) {
        // "expected a value, found `2026`" would not say why the time is not one.
        let with_seconds = if time.len() == 16 {
            format!("{time}:00")
        } else {
            time.to_string()
        };
        return Diagnostic::new(
            Code::Syntax,
            Span::new(offset, offset + time.len()),
            format!("the time `{time}` has no UTC offset"),
        )
        .with_label("needs `Z` or an offset such as `+01:00`")
        .with_help(format!(
            "write `{with_seconds}Z` for UTC, or the offset of the zone it is in, such as \
             `{with_seconds}+01:00`"
        ));
    }
    if let Some((at, escape)) = bad_escape(&text[offset.min(text.len())..]) {
        // "expected a value, found `\"`" would not say that the escape is the trouble.
        let start = offset + at;
        return Diagnostic::new(
            Code::Syntax,
            Span::new(start, start + escape.len()),
            format!("unknown escape `{escape}` in a string"),
        )
        .with_label("not an escape")
        .with_help(
            "a string takes the escapes `\\\"`, `\\\\`, `\\n`, `\\t` and `\\r`; write any other \
             character as it is (`é`, not `\\u00e9`)",
        );
    }
    let (found, found_span) = found_token(text, offset);
    // `rep # note` and the name on the next line: the same as below, at the keyword.
    let before_text = &text[..offset.min(text.len())];
    let keyword_before = before_text.trim_end();
    let keyword_start = keyword_before
        .rfind(|ch: char| ch.is_whitespace())
        .map_or(0, |at| at + 1);
    let (found, found_span, head_split_by_comment) = match &keyword_before[keyword_start..] {
        keyword @ ("rep" | "score" | "tags") if found.starts_with('#') => (
            keyword.to_string(),
            Span::new(keyword_start, keyword_before.len()),
            true,
        ),
        _ => (found, found_span, false),
    };
    // `rep`, `score` and `tags` begin an item only with their `{` on the line: say so, rather
    // than "expected an item (… `rep` …), found `rep`".
    if (item_count >= 6 || head_split_by_comment)
        && let Some(shape) = match found.as_str() {
            "rep" => Some("rep NAME {"),
            "score" => Some("score NAME {"),
            "tags" => Some("tags {"),
            _ => None,
        }
    {
        return Diagnostic::new(
            Code::Syntax,
            found_span,
            format!("`{found}` begins an item only as `{shape}`, written on one line"),
        )
        .with_label(format!("the `{{` of this `{found}` is not on its line"))
        .with_help(format!(
            "write `{shape}` on one line (a comment may follow the `{{`): `{found}` is also a \
             word inside rules and tests, and the `{{` on its line is what makes it an item"
        ));
    }
    // `escalate rep anna`, by analogy with the action `rep anna`: the target is named alone.
    let mut before = text[..offset.min(text.len())].split_whitespace().rev();
    if let (Some(kind @ ("pool" | "queue" | "rep")), Some("escalate")) =
        (before.next(), before.next())
        && !found.is_empty()
        && found.chars().all(|ch| ch == '_' || ch.is_alphanumeric())
    {
        return Diagnostic::new(
            Code::Syntax,
            found_span,
            format!("{TARGET_ALONE}: `escalate {found}`, not `escalate {kind} {found}`"),
        )
        .with_label(format!("write `escalate {found}`"))
        .with_help("the target is a pool, a queue or a rep, named without its kind");
    }
    let mut help = None;
    if RESERVED.contains(&found.as_str()) && parts.iter().any(|part| part == "a name") {
        help = Some(format!(
            "`{found}` is a keyword and cannot be used as a name; choose another name"
        ));
    }
    let found_text = if found.is_empty() {
        "the end of the file".to_string()
    } else {
        format!("`{found}`")
    };
    let message = if expected_text.is_empty() {
        format!("unexpected {found_text}")
    } else {
        format!("expected {expected_text}, found {found_text}")
    };
    let previous_end = previous_token_end(text, offset);
    // A missing piece belongs at the end of the line before; an unexpected new item does not.
    let continues_item = item_count < 6;
    let starts_new_line = text[previous_end..offset].contains('\n');
    let (span, label) = if (starts_new_line && continues_item) || found.is_empty() {
        (
            Span::at(previous_end),
            format!("expected {expected_text} after this"),
        )
    } else {
        (found_span, format!("expected {expected_text}"))
    };
    let label = if expected_text.is_empty() {
        "unexpected".to_string()
    } else {
        label
    };
    Diagnostic::new(Code::Syntax, span, message)
        .with_label(label)
        .with_help_opt(help)
}

/// The diagnostic for a condition nested deeper than [`MAX_NESTING`].
pub(crate) fn nesting_error(text: &str, offset: usize) -> Diagnostic {
    let (_, span) = found_token(text, offset);
    Diagnostic::new(
        Code::NestingTooDeep,
        span,
        format!("condition nested more than {MAX_NESTING} levels deep"),
    )
    .with_label("too deep")
    .with_help("split the condition into several rules, or flatten it with `in { ... }`")
}

/// The date and time at the start of `rest` when they have no UTC offset after them
/// (`2026-12-01T09:00:00`, `2026-12-01T09:00`, 16 bytes without seconds): the policy's times
/// need one (and their seconds).
fn time_without_offset(rest: &str) -> Option<&str> {
    let bytes = rest.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|run| run.iter().all(u8::is_ascii_digit))
    };
    let at = |index: usize, byte: u8| bytes.get(index) == Some(&byte);
    if !(digits(0..4) && at(4, b'-') && digits(5..7) && at(7, b'-') && digits(8..10))
        || !(at(10, b'T') || at(10, b't'))
        || !(digits(11..13) && at(13, b':') && digits(14..16))
    {
        return None;
    }
    let mut end = 16;
    if at(16, b':') && digits(17..19) {
        end = 19;
        // A fraction only with its digits (`09:00:00.` alone is not one).
        let fraction_digits = bytes.get(20..).map_or(0, |rest| {
            rest.iter().take_while(|b| b.is_ascii_digit()).count()
        });
        if at(19, b'.') && fraction_digits > 0 {
            end = 20 + fraction_digits;
        }
    }
    match bytes.get(end) {
        Some(b'Z' | b'z' | b'+' | b'-') => None,
        _ => rest.get(..end),
    }
}

/// "a, b or c".
fn join_or(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// The token at `offset` (a word, a number, a string start or one character) and its span.
fn found_token(text: &str, offset: usize) -> (String, Span) {
    let rest = &text[offset.min(text.len())..];
    let Some(first) = rest.chars().next() else {
        return (String::new(), Span::at(text.len()));
    };
    let len = if first.is_alphanumeric() || first == '_' {
        rest.find(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
            .unwrap_or(rest.len())
    } else if rest.starts_with("->") || rest.starts_with("<=") || rest.starts_with(">=") {
        2
    } else {
        first.len_utf8()
    };
    let token = &rest[..len];
    let shown = if token == "\n" {
        "a new line".to_string()
    } else {
        token.chars().take(40).collect()
    };
    (shown, Span::new(offset, offset + len))
}

/// The end of the last token before `offset`, skipping whitespace and comments.
fn previous_token_end(text: &str, offset: usize) -> usize {
    let mut end = offset.min(text.len());
    loop {
        let before = &text[..end];
        let trimmed = before.trim_end_matches([' ', '\t', '\r', '\n']);
        let line_start = trimmed.rfind('\n').map_or(0, |index| index + 1);
        let line = &trimmed[line_start..];
        match comment_start(line) {
            Some(hash) => end = line_start + hash,
            None => return trimmed.len(),
        }
    }
}
