//! Completion in context: what may be written at the cursor, read from the tokens before it
//! (the text under the cursor is often half a rule that does not parse yet) and the names the
//! last analysis resolved.

use crate::index::Names;
use crate::lexer::{self, ITEM_KEYWORDS, Token, TokenKind};
use tower_lsp_server::ls_types::{
    CompletionItem, CompletionItemKind, CompletionTextEdit, InsertTextFormat, Range, TextEdit,
};

/// What the cursor may be followed by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Context {
    /// Item keywords at the start of a line.
    Item,
    /// A condition starts: fields, `not`, `inside`, `outside`.
    ConditionStart,
    /// A condition in a score's line starts: as in a rule, but no score (a score reads fields).
    ScoreLineCondition,
    /// After a field in a condition: operators.
    Operator {
        field: String,
    },
    /// A value of a field (after `field =` or inside `field in {`).
    Value {
        field: String,
        taken: Vec<String>,
    },
    /// After `->` or `else`: actions.
    Action,
    /// After a complete action: `else`, `within`, `escalate`, `tag` (those the rule may still
    /// take).
    AfterAction(RuleTail),
    /// After `previous rep of FIELD`: `since`, and what follows any action.
    AfterPreviousRep,
    /// A line of its own after a complete action: the rule may go on, or a new item begin.
    AfterActionOrItem(RuleTail),
    /// The words that may come next, each with what it means.
    Words(&'static [(&'static str, &'static str)]),
    /// The periods of a cap (`per day`) whose cap is not `given` yet in the item.
    Periods {
        given: Vec<String>,
    },
    /// The clauses of a `rep NAME { }` item not given yet.
    RepClause {
        given: Vec<String>,
    },
    /// After `cap N` in a pool or a rep item: `per PERIOD`, or the next clause.
    AfterCap {
        in_pool: bool,
        given: Vec<String>,
    },
    Pools,
    Queues,
    Calendars,
    /// Reps, and the string fields that hold a rep's name.
    RepOrField,
    StringFields,
    /// Escalation targets: pools, queues and reps.
    Targets,
    Reps {
        taken: Vec<String>,
    },
    Rules,
    /// Score names (`expect score NAME`).
    Scores,
    /// Declared tags not `taken` yet (`tag A, B`, `expect tag A`).
    Tags {
        taken: Vec<String>,
    },
    /// The start of a score's line: `+N when`.
    ScoreLine,
    Duration,
    Strategy,
    /// The clauses of a pool not given yet.
    PoolClause {
        given: Vec<String>,
    },
    /// The clauses of a calendar not given yet.
    CalendarClause {
        given: Vec<String>,
    },
    FieldType,
    TestClause,
    ExpectClause,
    /// A field of a test's lead.
    LeadField {
        taken: Vec<String>,
    },
    Nothing,
}

/// What kind of brace or parenthesis the cursor is inside.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Group {
    Schema,
    Enum,
    Pool,
    Weighted,
    Calendar,
    In(String),
    Test,
    Lead,
    Roster,
    Score,
    Tags,
    /// A `rep NAME { }` item.
    Rep,
    Paren,
}

/// The completion items at `offset` of `text`.
pub fn complete(names: &Names, text: &str, offset: usize) -> Vec<CompletionItem> {
    let Some(offset) = boundary(text, offset) else {
        return Vec::new();
    };
    let word_start = text[..offset]
        .char_indices()
        .rev()
        .take_while(|(_, ch)| lexer::is_word_char(*ch))
        .last()
        .map_or(offset, |(index, _)| index);
    let context = context(text, word_start);
    items(names, &context, text, word_start, offset)
}

fn boundary(text: &str, offset: usize) -> Option<usize> {
    (offset <= text.len() && text.is_char_boundary(offset)).then_some(offset)
}

/// The context at `offset` (the start of the word being typed).
pub fn context(text: &str, offset: usize) -> Context {
    let line_start = text[..offset].rfind('\n').map_or(0, |index| index + 1);
    let before_on_line = &text[line_start..offset];
    if in_comment_or_string(before_on_line) {
        return Context::Nothing;
    }
    let start = item_start(text, offset);
    let tokens: Vec<Token> = lexer::tokens(text, start, offset)
        .into_iter()
        .filter(|token| token.kind != TokenKind::Comment)
        .collect();
    if tokens.is_empty() {
        return Context::Item;
    }
    let before = Before {
        text,
        tokens: &tokens,
        line: before_on_line,
    };
    let groups = groups(text, &tokens);
    groups
        .last()
        .and_then(|group| context_in_group(group, &before))
        .unwrap_or_else(|| context_in_rule(&before))
}

/// What precedes the cursor: the tokens of its item (comments left out) and its line so far.
struct Before<'t> {
    text: &'t str,
    tokens: &'t [Token],
    /// The cursor's line up to the word being typed.
    line: &'t str,
}

impl<'t> Before<'t> {
    /// The word `index` tokens back from the last one (0 is the last); empty before the first.
    fn word(&self, index: usize) -> &'t str {
        self.tokens
            .len()
            .checked_sub(index + 1)
            .and_then(|i| self.tokens.get(i))
            .map_or("", |token| token.text(self.text))
    }
}

/// The context inside the innermost open group; `None` inside the parentheses of a condition,
/// where the rule around them decides.
fn context_in_group(group: &Group, before: &Before<'_>) -> Option<Context> {
    let (text, tokens, before_on_line) = (before.text, before.tokens, before.line);
    let last = before.word(0);
    let second = before.word(1);
    Some(match group {
        Group::In(field) => {
            if matches!(last, "{" | ",") {
                let taken = values_in_group(text, tokens);
                Context::Value {
                    field: field.clone(),
                    taken,
                }
            } else {
                Context::Nothing
            }
        }
        Group::Enum | Group::Tags => Context::Nothing,
        Group::Score => match (second, last) {
            (_, "when" | "and" | "or" | "not" | "(") => Context::ScoreLineCondition,
            (field, "=" | "!=") => Context::Value {
                field: field.to_string(),
                taken: Vec::new(),
            },
            ("when" | "and" | "or" | "not" | "(", field)
                if tokens.last().is_some_and(|t| t.kind == TokenKind::Word) =>
            {
                Context::Operator {
                    field: field.to_string(),
                }
            }
            _ if before_on_line.trim().is_empty() || last == "{" => Context::ScoreLine,
            _ => Context::Nothing,
        },
        Group::Schema => {
            if last == ":" {
                Context::FieldType
            } else {
                Context::Nothing
            }
        }
        Group::Weighted => {
            if matches!(last, "(" | ",") {
                Context::Reps { taken: Vec::new() }
            } else {
                Context::Nothing
            }
        }
        Group::Pool => match last {
            "members" => Context::Reps { taken: Vec::new() },
            "," if clause_of(text, tokens) == Some("members") => Context::Reps {
                taken: members_so_far(text, tokens),
            },
            "strategy" => Context::Strategy,
            "calendar" => Context::Calendars,
            "per" => Context::Periods {
                given: clauses_given(text, tokens),
            },
            "on" => Context::Words(&[(
                "shift",
                "members take leads only while their working time is open",
            )]),
            "cap" => Context::Nothing,
            _ if second == "cap" => Context::AfterCap {
                in_pool: true,
                given: clauses_given(text, tokens),
            },
            _ if before_on_line.trim().is_empty() || last == "{" || is_clause_end(last) => {
                Context::PoolClause {
                    given: clauses_given(text, tokens),
                }
            }
            _ => Context::Nothing,
        },
        Group::Rep => match last {
            "calendar" => Context::Calendars,
            "per" => Context::Periods {
                given: clauses_given(text, tokens),
            },
            "cap" => Context::Nothing,
            _ if second == "cap" => Context::AfterCap {
                in_pool: false,
                given: clauses_given(text, tokens),
            },
            _ if before_on_line.trim().is_empty() || last == "{" || is_clause_end(last) => {
                Context::RepClause {
                    given: clauses_given(text, tokens),
                }
            }
            _ => Context::Nothing,
        },
        Group::Calendar => {
            if matches!(last, "timezone" | "hours" | "holidays" | ",") {
                Context::Nothing
            } else {
                Context::CalendarClause {
                    given: clauses_given(text, tokens),
                }
            }
        }
        Group::Lead => match last {
            "{" | "," => Context::LeadField {
                taken: lead_fields_so_far(text, tokens),
            },
            ":" => Context::Value {
                field: second.to_string(),
                taken: Vec::new(),
            },
            _ => Context::Nothing,
        },
        Group::Roster => {
            if matches!(last, "{" | "," | "owner") {
                Context::Reps { taken: Vec::new() }
            } else {
                Context::Nothing
            }
        }
        Group::Test => match (second, last) {
            (_, "expect") => Context::ExpectClause,
            ("expect", "pool") => Context::Pools,
            ("expect", "queue") => Context::Queues,
            ("expect", "rep") => Context::Reps { taken: Vec::new() },
            ("expect", "rule") => Context::Rules,
            ("expect", "score") => Context::Scores,
            ("expect", "tag") => Context::Tags { taken: Vec::new() },
            ("expect", "escalate") => Context::Targets,
            (_, "within" | "after") => Context::Duration,
            _ if before_on_line.trim().is_empty() || last == "{" || last == "}" => {
                Context::TestClause
            }
            _ => Context::Nothing,
        },
        Group::Paren => return None,
    })
}

/// The context in a rule (or on a line between items).
fn context_in_rule(before: &Before<'_>) -> Context {
    let (text, tokens, before_on_line) = (before.text, before.tokens, before.line);
    let last = before.word(0);
    let second = before.word(1);
    let first = before.word(tokens.len() - 1);
    let in_rule = matches!(first, "rule" | "when" | "otherwise");
    if !in_rule {
        return if before_on_line.trim().is_empty() {
            Context::Item
        } else {
            Context::Nothing
        };
    }
    let arrow_seen = tokens.iter().any(|token| token.text(text) == "->");
    let after_previous_rep_of = arrow_seen
        && before.word(3) == "previous"
        && second == "of"
        && before.word(2) == "rep"
        && tokens.last().is_some_and(|t| t.kind == TokenKind::Word);
    if after_previous_rep_of {
        return Context::AfterPreviousRep;
    }
    // `previous rep of FIELD since 30d `: what follows any action.
    if arrow_seen
        && second == "since"
        && tokens.last().is_some_and(|t| t.kind == TokenKind::Literal)
    {
        return Context::AfterAction(RuleTail::default());
    }
    match (second, last) {
        (_, "when" | "and" | "or" | "not" | "(") => Context::ConditionStart,
        (_, "inside" | "outside") => Context::Calendars,
        (field, "=" | "!=") if !arrow_seen => Context::Value {
            field: field.to_string(),
            taken: Vec::new(),
        },
        (_, "->" | "else") => Context::Action,
        ("->" | "else", "pool") => Context::Pools,
        ("->" | "else", "queue") => Context::Queues,
        ("->" | "else", "rep") => Context::RepOrField,
        ("owner", "of") => Context::StringFields,
        ("rep", "of") if before.word(2) == "previous" => Context::StringFields,
        ("->" | "else", "previous") => Context::Words(&[(
            "rep",
            "`previous rep of FIELD`: the rep of the latest earlier lead with the same value",
        )]),
        ("previous", "rep") => Context::Words(&[("of", "`previous rep of FIELD`")]),
        (_, "since") if arrow_seen => Context::Words(LOOK_BACKS),
        ("->" | "else", "owner") => Context::Nothing,
        (_, "escalate") => Context::Targets,
        (_, "within" | "after") => Context::Duration,
        // `tag` after a complete action or clause; `owner of tag` names a field called `tag`.
        (after, "tag")
            if arrow_seen
                && !matches!(
                    after,
                    "of" | "pool" | "queue" | "rep" | "->" | "else" | "escalate"
                ) =>
        {
            Context::Tags { taken: Vec::new() }
        }
        (_, ",") if arrow_seen && clause_is_tag(text, tokens) => Context::Tags {
            taken: tags_so_far(text, tokens),
        },
        ("pool" | "queue" | "rep" | "of", _) if arrow_seen => {
            if before_on_line.trim().is_empty() {
                Context::AfterActionOrItem(rule_tail(text, tokens))
            } else {
                Context::AfterAction(rule_tail(text, tokens))
            }
        }
        (_, ":") if first == "rule" => Context::Nothing,
        ("within" | "after" | "escalate" | "tag" | ",", _) if arrow_seen => {
            if before_on_line.trim().is_empty() {
                Context::AfterActionOrItem(rule_tail(text, tokens))
            } else {
                Context::AfterAction(rule_tail(text, tokens))
            }
        }
        (_, field)
            if !arrow_seen
                && tokens.last().is_some_and(|t| t.kind == TokenKind::Word)
                && matches!(second, "when" | "and" | "or" | "not" | "(") =>
        {
            Context::Operator {
                field: field.to_string(),
            }
        }
        _ if before_on_line.trim().is_empty() && arrow_seen => Context::Item,
        _ if !arrow_seen => Context::Nothing,
        _ => Context::Nothing,
    }
}

/// Whether the cursor is inside a comment or a string on its line.
fn in_comment_or_string(before: &str) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    for ch in before.chars() {
        match ch {
            '\\' if in_string && !escaped => {
                escaped = true;
                continue;
            }
            '"' if !escaped => in_string = !in_string,
            '#' if !in_string => return true,
            _ => {}
        }
        escaped = false;
    }
    in_string
}

/// The offset where the item around `offset` starts: the last line at or before it whose first
/// word is an item keyword (not a schema field such as `pool:`).
fn item_start(text: &str, offset: usize) -> usize {
    let mut end = offset;
    loop {
        let line_start = text[..end].rfind('\n').map_or(0, |index| index + 1);
        let line = &text[line_start..];
        let trimmed = line.trim_start();
        let word: String = trimmed
            .chars()
            .take_while(|ch| lexer::is_word_char(*ch))
            .collect();
        let rest = trimmed[word.len()..].trim_start();
        let opens_block = match word.as_str() {
            // `score NAME {` and `rep NAME {` (elsewhere `rep` is an action's word).
            "score" | "rep" => {
                let name_len = rest
                    .find(|ch: char| !lexer::is_word_char(ch))
                    .unwrap_or(rest.len());
                name_len > 0 && rest[name_len..].trim_start().starts_with('{')
            }
            "tags" => rest.starts_with('{'),
            _ => false,
        };
        let starts_item =
            (ITEM_KEYWORDS.contains(&word.as_str()) && !rest.starts_with(':')) || opens_block;
        // A line that ends before the cursor's word does not count if the word is the keyword
        // being typed on the cursor's own line.
        let own_word = line_start + (line.len() - trimmed.len()) + word.len() >= offset;
        if starts_item && !own_word {
            return line_start;
        }
        if line_start == 0 {
            return 0;
        }
        end = line_start - 1;
    }
}

/// The open groups at the end of `tokens`, outermost first.
fn groups(text: &str, tokens: &[Token]) -> Vec<Group> {
    let mut stack = Vec::new();
    for (index, token) in tokens.iter().enumerate() {
        let before = |back: usize| -> &str {
            index
                .checked_sub(back)
                .and_then(|i| tokens.get(i))
                .map_or("", |t| t.text(text))
        };
        match token.text(text) {
            "{" => stack.push(match (before(3), before(2), before(1)) {
                (_, _, "enum") => Group::Enum,
                // `schema lead {` before a test's `lead {`: the schema's name is `lead` too.
                (_, "schema", _) => Group::Schema,
                (_, _, "lead") => Group::Lead,
                (_, _, "roster") => Group::Roster,
                (_, "pool", _) => Group::Pool,
                (_, "calendar", _) => Group::Calendar,
                (_, "test", _) => Group::Test,
                (field, "not", "in") => Group::In(field.to_string()),
                (_, field, "in") => Group::In(field.to_string()),
                (_, "score", _) => Group::Score,
                (_, "rep", _) if index == 2 => Group::Rep,
                (_, _, "tags") => Group::Tags,
                _ => Group::Paren,
            }),
            "(" => stack.push(if before(1) == "weighted" {
                Group::Weighted
            } else {
                Group::Paren
            }),
            "}" | ")" => {
                stack.pop();
            }
            _ => {}
        }
    }
    stack
}

/// The clause keyword the cursor's clause began with (inside a pool).
fn clause_of<'a>(text: &'a str, tokens: &[Token]) -> Option<&'a str> {
    tokens
        .iter()
        .rev()
        .map(|token| token.text(text))
        .find(|word| matches!(*word, "members" | "strategy" | "cap" | "calendar" | "{"))
}

fn members_so_far(text: &str, tokens: &[Token]) -> Vec<String> {
    tokens
        .iter()
        .rev()
        .map(|token| token.text(text))
        .take_while(|word| *word != "members")
        .filter(|word| *word != ",")
        .map(str::to_string)
        .collect()
}

fn values_in_group(text: &str, tokens: &[Token]) -> Vec<String> {
    tokens
        .iter()
        .rev()
        .map(|token| token.text(text))
        .take_while(|word| *word != "{")
        .filter(|word| *word != ",")
        .map(str::to_string)
        .collect()
}

fn lead_fields_so_far(text: &str, tokens: &[Token]) -> Vec<String> {
    let open = tokens
        .iter()
        .rposition(|token| token.text(text) == "{")
        .unwrap_or(0);
    tokens[open..]
        .windows(2)
        .filter(|pair| pair[1].text(text) == ":")
        .map(|pair| pair[0].text(text).to_string())
        .collect()
}

/// Whether the cursor follows the `,` of a `tag` clause: `tag NAME, NAME,` backwards.
fn clause_is_tag(text: &str, tokens: &[Token]) -> bool {
    let words: Vec<&str> = tokens.iter().rev().map(|token| token.text(text)).collect();
    let mut index = 0;
    while words.get(index) == Some(&",") {
        match words.get(index + 1) {
            Some(word) if !word.is_empty() && word.chars().all(lexer::is_word_char) => index += 2,
            _ => return false,
        }
    }
    index > 0 && words.get(index) == Some(&"tag")
}

/// The tags of the cursor's `tag` clause so far.
fn tags_so_far(text: &str, tokens: &[Token]) -> Vec<String> {
    tokens
        .iter()
        .rev()
        .map(|token| token.text(text))
        .take_while(|word| *word != "tag")
        .filter(|word| *word != ",")
        .map(str::to_string)
        .collect()
}

/// The clauses a rule has after its actions: completion offers `else` only before the first
/// (the grammar takes actions, then clauses) and `within` once (a rule has one SLA).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleTail {
    within: bool,
    clauses: bool,
}

/// The clauses after the arrow of the rule `tokens` end in (a word after `of`, `pool`, `queue`,
/// `rep` or `escalate` is a name, not a clause: `owner of tag`).
fn rule_tail(text: &str, tokens: &[Token]) -> RuleTail {
    let words: Vec<&str> = tokens
        .iter()
        .map(|token| token.text(text))
        .skip_while(|word| *word != "->")
        .collect();
    let mut tail = RuleTail::default();
    for pair in words.windows(2) {
        if let [before, word] = pair
            && !matches!(*before, "of" | "pool" | "queue" | "rep" | "escalate")
        {
            tail.within |= *word == "within";
            tail.clauses |= matches!(*word, "within" | "escalate" | "tag");
        }
    }
    tail
}

/// The clauses given so far in the innermost `{ }` (a pool's, a `rep` item's, a calendar's), by
/// the labels completion offers them under: `members`, `strategy`, `calendar`, `timezone`,
/// `on shift`, `cap` (of open leads) and `cap per PERIOD`.
fn clauses_given(text: &str, tokens: &[Token]) -> Vec<String> {
    let mut words: Vec<&str> = tokens
        .iter()
        .rev()
        .map(|token| token.text(text))
        .take_while(|word| *word != "{")
        .collect();
    words.reverse();
    let mut given = Vec::new();
    for (at, word) in words.iter().enumerate() {
        let after = |n: usize| words.get(at + n).copied();
        match *word {
            "members" | "strategy" | "calendar" | "timezone" => given.push((*word).to_string()),
            "shift" if at > 0 && words.get(at - 1) == Some(&"on") => {
                given.push("on shift".to_string());
            }
            "cap" if after(2) == Some("per") => {
                given.push(format!("cap per {}", after(3).unwrap_or_default()));
            }
            "cap" if after(1).is_some() => given.push("cap".to_string()),
            _ => {}
        }
    }
    given
}

/// Offers items unless their clause is `given`; `cap per` while a period is left.
struct Unless<'o, 'g> {
    out: &'o mut Items,
    given: &'g [String],
}

impl Unless<'_, '_> {
    fn offered(&self, label: &str) -> bool {
        if label == "cap per" {
            return ["day", "hour", "week"]
                .iter()
                .any(|period| !self.given.iter().any(|g| *g == format!("cap per {period}")));
        }
        !self.given.iter().any(|given| given == label)
    }

    fn snippet(&mut self, label: &str, snippet: &str, detail: &str) {
        if self.offered(label) {
            self.out.snippet(label, snippet, detail);
        }
    }

    fn keyword(&mut self, label: &str, detail: &str) {
        if self.offered(label) {
            self.out.keyword(label, detail);
        }
    }
}

fn is_clause_end(word: &str) -> bool {
    !matches!(word, "members" | "strategy" | "cap" | "calendar" | ",")
}

/// Turns a context into items that replace the word being typed.
fn items(
    names: &Names,
    context: &Context,
    text: &str,
    word_start: usize,
    offset: usize,
) -> Vec<CompletionItem> {
    let lines = switchboard_core::LineIndex::new(text);
    let range = crate::position::range(&lines, switchboard_core::Span::new(word_start, offset));
    let mut out = Items {
        range,
        items: Vec::new(),
    };
    match context {
        Context::Nothing => {}
        Context::Item => {
            for (label, snippet, detail) in ITEM_SNIPPETS {
                out.snippet(label, snippet, detail);
            }
        }
        Context::ConditionStart => condition_starts(&mut out, names, true),
        Context::ScoreLineCondition => condition_starts(&mut out, names, false),
        Context::Operator { field } => operators(&mut out, names, field),
        Context::Value { field, taken } => values(&mut out, names, field, taken),
        Context::Action => actions(&mut out),
        Context::AfterAction(tail) => after_action(&mut out, *tail),
        Context::AfterPreviousRep => {
            out.snippet(
                "since",
                "since ${1:90d}",
                "how far back the earlier lead may be (90 days when not given)",
            );
            after_action(&mut out, RuleTail::default());
        }
        Context::AfterActionOrItem(tail) => {
            after_action(&mut out, *tail);
            for (label, snippet, detail) in ITEM_SNIPPETS {
                out.snippet(label, snippet, detail);
            }
        }
        Context::Words(words) => {
            for (word, detail) in *words {
                out.keyword(word, detail);
            }
        }
        Context::Periods { given } => {
            for (period, detail) in PERIODS {
                if !given
                    .iter()
                    .any(|clause| *clause == format!("cap per {period}"))
                {
                    out.keyword(period, detail);
                }
            }
        }
        Context::RepClause { given } => rep_clauses(&mut out, given),
        Context::AfterCap { in_pool, given } => {
            out.snippet(
                "per",
                "per ${1|day,hour,week|}",
                "the cap counts the leads a member gets in an hour, a day or a week",
            );
            if *in_pool {
                pool_clauses(&mut out, given);
            } else {
                rep_clauses(&mut out, given);
            }
        }
        Context::Pools => names_of(&mut out, &names.pools, CompletionItemKind::CLASS, "pool"),
        Context::Queues => names_of(
            &mut out,
            &names.queues,
            CompletionItemKind::INTERFACE,
            "queue",
        ),
        Context::Calendars => {
            names_of(
                &mut out,
                &names.calendars,
                CompletionItemKind::STRUCT,
                "calendar",
            );
        }
        Context::Rules => names_of(&mut out, &names.rules, CompletionItemKind::FUNCTION, "rule"),
        Context::Scores => names_of(
            &mut out,
            &names.scores,
            CompletionItemKind::VARIABLE,
            "score: int",
        ),
        Context::Tags { taken } => {
            for tag in names.tags.iter().filter(|tag| !taken.contains(tag)) {
                out.push(tag, CompletionItemKind::CONSTANT, "tag");
            }
        }
        Context::ScoreLine => {
            out.snippet(
                "+N when",
                "+${1:10} when ${2:condition}",
                "points added when the condition holds",
            );
            out.snippet(
                "-N when",
                "-${1:10} when ${2:condition}",
                "points taken away when the condition holds",
            );
        }
        Context::Reps { taken } => {
            for rep in names.reps.iter().filter(|rep| !taken.contains(rep)) {
                out.push(rep, CompletionItemKind::VARIABLE, "rep");
            }
        }
        Context::RepOrField => {
            names_of(&mut out, &names.reps, CompletionItemKind::VARIABLE, "rep");
            for field in names.string_fields() {
                out.push(
                    field,
                    CompletionItemKind::FIELD,
                    "string field: the rep it names",
                );
            }
        }
        Context::StringFields => {
            for field in names.string_fields() {
                out.push(field, CompletionItemKind::FIELD, "string field");
            }
        }
        Context::Targets => {
            names_of(&mut out, &names.pools, CompletionItemKind::CLASS, "pool");
            names_of(
                &mut out,
                &names.queues,
                CompletionItemKind::INTERFACE,
                "queue",
            );
            names_of(&mut out, &names.reps, CompletionItemKind::VARIABLE, "rep");
        }
        Context::Duration => {
            for (label, detail) in DURATIONS {
                out.push(label, CompletionItemKind::CONSTANT, detail);
            }
        }
        Context::Strategy => strategies(&mut out),
        Context::PoolClause { given } => pool_clauses(&mut out, given),
        Context::CalendarClause { given } => calendar_clauses(&mut out, given),
        Context::FieldType => field_types(&mut out),
        Context::TestClause => test_clauses(&mut out),
        Context::ExpectClause => expect_clauses(&mut out),
        Context::LeadField { taken } => {
            for (field, shape) in names.fields.iter().filter(|(f, _)| !taken.contains(f)) {
                out.snippet(field, &format!("{field}: $1"), &shape.type_name);
            }
        }
    }
    out.items
}

/// What may start a condition: the fields (and the scores, in a rule), `not`, `inside` and
/// `outside`.
fn condition_starts(out: &mut Items, names: &Names, scores: bool) {
    fields(out, names, scores);
    out.keyword("not", "negates the next condition");
    out.keyword(
        "inside",
        "the lead's clock time is inside a calendar's working hours",
    );
    out.keyword(
        "outside",
        "the lead's clock time is outside a calendar's working hours",
    );
}

/// The operators after `field` in a condition (ordered fields also compare).
fn operators(out: &mut Items, names: &Names, field: &str) {
    let shape = names.fields.get(field);
    let ordered = shape.is_some_and(|s| matches!(s.type_name.as_str(), "int" | "number" | "time"))
        || (shape.is_none() && names.scores.contains(field));
    out.operator("=", "equals");
    out.operator("!=", "differs (false when the field is absent)");
    if ordered {
        for op in ["<", "<=", ">", ">="] {
            out.operator(op, "compares");
        }
    }
    out.snippet("in", "in {$1}", "one of a set of values");
    out.snippet("not in", "not in {$1}", "none of a set of values");
    out.snippet("is set", "is set", "the field has a value");
    out.snippet("is not set", "is not set", "the field is absent or null");
}

/// The values of `field` not `taken` yet: an enum's variants, or `true` and `false`.
fn values(out: &mut Items, names: &Names, field: &str, taken: &[String]) {
    if let Some(shape) = names.fields.get(field) {
        if let Some(variants) = &shape.variants {
            for variant in variants.iter().filter(|v| !taken.contains(v)) {
                out.push(
                    variant,
                    CompletionItemKind::ENUM_MEMBER,
                    &format!("{field}: enum"),
                );
            }
        } else if shape.type_name == "bool" {
            for value in ["true", "false"] {
                out.push(value, CompletionItemKind::VALUE, "bool");
            }
        }
    }
}

/// The actions after `->` or `else`.
fn actions(out: &mut Items) {
    out.keyword("pool", "send to a pool of reps");
    out.keyword("queue", "send to a queue");
    out.keyword(
        "rep",
        "send to a named rep, or the rep a string field names",
    );
    out.snippet(
        "owner of",
        "owner of ${1:field}",
        "the owner of the account a field names",
    );
    out.snippet(
        "previous rep of",
        "previous rep of ${1:field} since ${2:90d}",
        "the rep of the latest earlier lead with the same value of a string field",
    );
}

/// What may follow a complete action: `else` (before any clause), `within` (once), `escalate`
/// and `tag`.
fn after_action(out: &mut Items, tail: RuleTail) {
    if !tail.clauses {
        out.keyword(
            "else",
            "a fallback action when this one cannot take the lead",
        );
    }
    if !tail.within {
        out.snippet("within", "within ${1:15m}", "the response SLA");
    }
    out.snippet(
        "escalate",
        "escalate ${1:target} after ${2:1h}",
        "escalation when the SLA is missed",
    );
    out.snippet(
        "tag",
        "tag ${1:name}",
        "tags the decision carries, for downstream automation",
    );
}

/// The strategies of a pool.
fn strategies(out: &mut Items) {
    out.keyword("round_robin", "each member in turn");
    out.snippet(
        "weighted",
        "weighted(${1:rep}=${2:1})",
        "in turn, in proportion to weights",
    );
    out.keyword("least_loaded", "the member with the fewest open leads");
    out.keyword("ordered", "the first available member, in order");
}

/// The clauses of a pool that are not `given` yet (a cap per period while a period is left).
fn pool_clauses(out: &mut Items, given: &[String]) {
    let mut out = Unless { out, given };
    out.snippet("members", "members ${1:rep}", "the reps of the pool");
    out.snippet(
        "strategy",
        "strategy ${1:round_robin}",
        "how the next rep is chosen",
    );
    out.snippet(
        "cap",
        "cap ${1:25}",
        "the most open leads a member may hold",
    );
    out.snippet(
        "cap per",
        "cap ${1:5} per ${2|day,hour,week|}",
        "the most leads a member may get in an hour, a day or a week",
    );
    out.snippet("calendar", "calendar ${1:name}", "the pool's working hours");
    out.keyword(
        "on shift",
        "members take leads only while their working time is open",
    );
}

/// The clauses of a `rep NAME { }` item that are not `given` yet.
fn rep_clauses(out: &mut Items, given: &[String]) {
    let mut out = Unless { out, given };
    out.snippet(
        "calendar",
        "calendar ${1:name}",
        "the rep's own working hours and time zone",
    );
    out.snippet(
        "cap",
        "cap ${1:25}",
        "the most open leads the rep may hold, in every pool",
    );
    out.snippet(
        "cap per",
        "cap ${1:5} per ${2|day,hour,week|}",
        "the most leads the rep may get in an hour, a day or a week",
    );
}

/// How far back `previous rep of` looks: a fixed duration (not business time).
const LOOK_BACKS: &[(&str, &str)] = &[
    ("30d", "30 days"),
    ("90d", "90 days (the default)"),
    ("180d", "180 days"),
    ("365d", "a year"),
    ("7d", "a week"),
];

/// The periods of a cap.
const PERIODS: &[(&str, &str)] = &[
    ("day", "a calendar day in the rep's time zone"),
    ("hour", "a clock hour"),
    ("week", "from Monday, in the rep's time zone"),
];

/// The clauses of a calendar (`timezone` once).
fn calendar_clauses(out: &mut Items, given: &[String]) {
    let mut out = Unless { out, given };
    out.snippet(
        "timezone",
        "timezone ${1:Europe/Berlin}",
        "an IANA time zone",
    );
    out.snippet(
        "hours",
        "hours ${1:mon-fri} ${2:09:00-18:00}",
        "working hours",
    );
    out.snippet("holidays", "holidays ${1:2026-12-24}", "days off");
}

/// The types of a schema field.
fn field_types(out: &mut Items) {
    for ty in ["string", "int", "number", "time", "bool"] {
        out.keyword(ty, "field type");
    }
    out.snippet(
        "enum",
        "enum { ${1:a}, ${2:b} }",
        "one of a fixed set of words",
    );
}

/// The clauses of a test block.
fn test_clauses(out: &mut Items) {
    out.snippet(
        "lead",
        "lead { ${1:id}: ${2:\"L-1\"} }",
        "the lead the test routes",
    );
    out.keyword("expect", "what the decision must be");
    out.snippet(
        "at",
        "at ${1:2026-11-23T10:00:00Z}",
        "the time the test routes at",
    );
    out.snippet("roster", "roster { ${1:rep} away }", "who is available");
}

/// What a test may expect.
fn expect_clauses(out: &mut Items) {
    for (word, detail) in [
        ("pool", "the pool that takes the lead"),
        ("rep", "the rep who gets the lead"),
        ("queue", "the queue that takes the lead"),
        ("rule", "the rule that decides"),
        ("unassigned", "no rule matches and no rep is found"),
        ("within", "the SLA"),
        ("escalate", "an escalation"),
        ("score", "a score's value for the lead"),
        ("tag", "a tag the decision carries"),
    ] {
        out.keyword(word, detail);
    }
}

fn fields(out: &mut Items, names: &Names, scores: bool) {
    for (field, shape) in &names.fields {
        let detail = match &shape.variants {
            Some(variants) => format!("enum {{ {} }}", variants.join(", ")),
            None => shape.type_name.clone(),
        };
        let detail = if shape.optional {
            format!("{detail}?")
        } else {
            detail
        };
        out.push(field, CompletionItemKind::FIELD, &detail);
    }
    let scores = names
        .scores
        .iter()
        .filter(|s| scores && !names.fields.contains_key(*s));
    for score in scores {
        out.push(score, CompletionItemKind::VARIABLE, "score: int");
    }
}

fn names_of(
    out: &mut Items,
    names: &std::collections::BTreeSet<String>,
    kind: CompletionItemKind,
    detail: &str,
) {
    for name in names {
        out.push(name, kind, detail);
    }
}

struct Items {
    range: Range,
    items: Vec<CompletionItem>,
}

impl Items {
    fn push(&mut self, label: &str, kind: CompletionItemKind, detail: &str) {
        self.items.push(CompletionItem {
            label: label.to_string(),
            kind: Some(kind),
            detail: Some(detail.to_string()),
            sort_text: Some(format!("{:04}", self.items.len())),
            text_edit: Some(CompletionTextEdit::Edit(TextEdit {
                range: self.range,
                new_text: label.to_string(),
            })),
            ..CompletionItem::default()
        });
    }

    fn keyword(&mut self, label: &str, detail: &str) {
        self.push(label, CompletionItemKind::KEYWORD, detail);
    }

    fn operator(&mut self, label: &str, detail: &str) {
        self.push(label, CompletionItemKind::OPERATOR, detail);
    }

    fn snippet(&mut self, label: &str, snippet: &str, detail: &str) {
        self.items.push(CompletionItem {
            label: label.to_string(),
            kind: Some(CompletionItemKind::SNIPPET),
            detail: Some(detail.to_string()),
            sort_text: Some(format!("{:04}", self.items.len())),
            insert_text_format: Some(InsertTextFormat::SNIPPET),
            text_edit: Some(CompletionTextEdit::Edit(TextEdit {
                range: self.range,
                new_text: snippet.to_string(),
            })),
            ..CompletionItem::default()
        });
    }
}

const ITEM_SNIPPETS: &[(&str, &str, &str)] = &[
    (
        "when",
        "when ${1:condition} -> ${2:pool} ${3:name}",
        "a rule",
    ),
    (
        "rule",
        "rule ${1:name}: when ${2:condition} -> ${3:pool} ${4:name}",
        "a named rule",
    ),
    (
        "otherwise",
        "otherwise -> ${1:queue} ${2:name}",
        "the rule for every lead no rule took",
    ),
    (
        "pool",
        "pool ${1:name} { members ${2:rep}  strategy ${3:round_robin} }",
        "a pool of reps",
    ),
    ("queue", "queue ${1:name}", "a queue"),
    (
        "rep",
        "rep ${1:name} { calendar ${2:name} }",
        "a rep's own calendar and caps",
    ),
    (
        "score",
        "score ${1:name} {\n  +${2:10} when ${3:condition}\n}",
        "a score: points for the lines that hold",
    ),
    (
        "tags",
        "tags { ${1:name} }",
        "the tags rules may add to decisions",
    ),
    (
        "calendar",
        "calendar ${1:name} { timezone ${2:Europe/Berlin}  hours ${3:mon-fri} ${4:09:00-18:00} }",
        "working hours",
    ),
    (
        "schema",
        "schema lead {\n  id: string\n  $1\n}",
        "the lead's fields",
    ),
    (
        "test",
        "test \"${1:name}\" {\n  lead { id: \"${2:L-1}\" $3 }\n  expect ${4:pool} ${5:name}\n}",
        "a test",
    ),
    (
        "use",
        "use \"${1:routing.route}\"",
        "the policy a file of tests tests",
    ),
];

const DURATIONS: &[(&str, &str)] = &[
    ("5m", "5 minutes"),
    ("15m", "15 minutes"),
    ("30m", "30 minutes"),
    ("1h", "1 hour"),
    ("4h", "4 hours"),
    ("8h", "8 hours"),
    ("1d", "1 day"),
    ("1 business day", "counted on the destination's calendar"),
    ("4 business hours", "counted on the destination's calendar"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn context_at_end(text: &str) -> Context {
        context(text, text.len())
    }

    /// The labels offered at the end of `text`.
    fn labels_at_end(text: &str) -> Vec<String> {
        complete(&Names::default(), text, text.len())
            .into_iter()
            .map(|item| item.label)
            .collect()
    }

    #[test]
    fn clauses_already_given_are_not_offered_again() {
        let schema = "schema lead { id: string  created_at: time }\nqueue q\n";
        // A rule: `within` once (a rule has one SLA); `else` only before the first clause.
        let fresh = labels_at_end(&format!("{schema}when id = \"a\" -> queue q "));
        for label in ["else", "within", "escalate", "tag"] {
            assert!(fresh.contains(&label.to_string()), "{label}: {fresh:?}");
        }
        let after_within = labels_at_end(&format!("{schema}when id = \"a\" -> queue q within 1h "));
        assert!(
            !after_within.contains(&"within".to_string()),
            "{after_within:?}"
        );
        assert!(
            !after_within.contains(&"else".to_string()),
            "{after_within:?}"
        );
        assert!(
            after_within.contains(&"escalate".to_string()),
            "{after_within:?}"
        );
        let after_escalate = labels_at_end(&format!(
            "{schema}when id = \"a\" -> queue q escalate q after 1h "
        ));
        assert!(
            after_escalate.contains(&"within".to_string()),
            "{after_escalate:?}"
        );
        assert!(
            !after_escalate.contains(&"else".to_string()),
            "{after_escalate:?}"
        );
        // `owner of tag` names a field called `tag`: no clause yet.
        let owner = labels_at_end(&format!("{schema}when id = \"a\" -> owner of tag "));
        assert!(owner.contains(&"else".to_string()), "{owner:?}");
        // A pool: each clause once, a cap per period while a period is left.
        let pool = labels_at_end(&format!(
            "{schema}pool p {{ members a  strategy ordered  cap 3  cap 2 per day\n  "
        ));
        for gone in ["members", "strategy", "cap"] {
            assert!(!pool.contains(&gone.to_string()), "{gone}: {pool:?}");
        }
        for left in ["cap per", "calendar", "on shift"] {
            assert!(pool.contains(&left.to_string()), "{left}: {pool:?}");
        }
        let periods = labels_at_end(&format!(
            "{schema}pool p {{ members a  cap 3 per day  cap 4 per "
        ));
        assert_eq!(periods, ["hour", "week"], "{periods:?}");
        let all_periods = labels_at_end(&format!(
            "{schema}pool p {{ members a  cap 1 per hour  cap 2 per day  cap 3 per week  on shift\n  "
        ));
        assert!(
            !all_periods.contains(&"cap per".to_string()),
            "{all_periods:?}"
        );
        assert!(
            !all_periods.contains(&"on shift".to_string()),
            "{all_periods:?}"
        );
        assert!(all_periods.contains(&"cap".to_string()), "{all_periods:?}");
        // A rep item and a calendar.
        let rep = labels_at_end(&format!("{schema}rep anna {{ calendar c\n  "));
        assert!(!rep.contains(&"calendar".to_string()), "{rep:?}");
        assert!(rep.contains(&"cap".to_string()), "{rep:?}");
        let calendar = labels_at_end(&format!("{schema}calendar c {{ timezone UTC\n  "));
        assert!(!calendar.contains(&"timezone".to_string()), "{calendar:?}");
        assert!(calendar.contains(&"hours".to_string()), "{calendar:?}");
    }

    #[test]
    fn a_schema_field_being_typed_completes_its_type() {
        for text in [
            "schema lead {\n  id: string\n  country:        ",
            "schema lead {\n  id: string\n  country: ",
            "schema lead { id: string  country: ",
            "schema lead {\n  id: string\n  country:        \n}\nqueue q\n",
        ] {
            let offset = text.find("country:").map_or(0, |at| {
                at + text[at..].find('\n').unwrap_or(text.len() - at)
            });
            assert_eq!(context(text, offset), Context::FieldType, "{text:?}");
        }
    }

    #[test]
    fn reads_the_context_before_the_cursor() {
        let schema = "schema lead { id: string  intent: enum { low, high } }\n";
        assert_eq!(
            context_at_end(&format!("{schema}when ")),
            Context::ConditionStart
        );
        assert_eq!(
            context_at_end(&format!("{schema}when intent = ")),
            Context::Value {
                field: "intent".into(),
                taken: vec![]
            }
        );
        assert_eq!(
            context_at_end(&format!("{schema}when intent in {{low, ")),
            Context::Value {
                field: "intent".into(),
                taken: vec!["low".into()]
            }
        );
        assert_eq!(
            context_at_end(&format!("{schema}when intent = high -> ")),
            Context::Action
        );
        assert_eq!(
            context_at_end(&format!("{schema}when intent = high -> pool ")),
            Context::Pools
        );
        assert_eq!(
            context_at_end(&format!("{schema}when intent = high -> pool x within ")),
            Context::Duration
        );
        assert_eq!(
            context_at_end(&format!("{schema}when intent = high -> pool x escalate ")),
            Context::Targets
        );
        assert_eq!(
            context_at_end(&format!("{schema}pool p {{ members ")),
            Context::Reps { taken: vec![] }
        );
        assert_eq!(
            context_at_end(&format!("{schema}pool p {{ members a, ")),
            Context::Reps {
                taken: vec!["a".into()]
            }
        );
        assert_eq!(
            context_at_end(&format!("{schema}pool p {{ calendar ")),
            Context::Calendars
        );
        assert_eq!(
            context_at_end(&format!("{schema}when inside ")),
            Context::Calendars
        );
        assert_eq!(context_at_end(&format!("{schema}\n")), Context::Item);
        assert_eq!(
            context_at_end(&format!("{schema}when # a comment ")),
            Context::Nothing
        );
        assert_eq!(
            context_at_end(&format!("{schema}test \"t\" {{ lead {{ id: \"1\", ")),
            Context::LeadField {
                taken: vec!["id".into()]
            }
        );
        assert_eq!(
            context_at_end(&format!("{schema}test \"t\" {{ expect rule ")),
            Context::Rules
        );
    }
}
