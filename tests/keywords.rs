//! The grammar is the one source of truth for keywords; every list kept beside it (the parser's
//! item keywords, the reserved words its messages explain, the language server's lexer) must say
//! exactly what the grammar says.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

const GRAMMAR: &str = include_str!("../grammar/switchboard.pest");

/// The text of one rule's definition (`name = ... ` up to the next line that starts a rule).
fn definition(name: &str) -> String {
    let start = GRAMMAR
        .lines()
        .position(|line| line.starts_with(name) && line[name.len()..].trim_start().starts_with('='))
        .unwrap_or_else(|| panic!("the grammar defines `{name}`"));
    let mut lines = GRAMMAR.lines().skip(start);
    let mut text = lines.next().unwrap().to_string();
    for line in lines {
        if line.is_empty() || !line.starts_with(' ') {
            break;
        }
        text.push_str(line);
    }
    text
}

/// The quoted words of a text.
fn quoted(text: &str) -> BTreeSet<String> {
    text.split('"')
        .skip(1)
        .step_by(2)
        .filter(|word| word.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(str::to_string)
        .collect()
}

/// Every `kw_NAME = @{ "word" ~ !ident_char }`: the keyword words of the grammar.
fn keywords() -> BTreeSet<String> {
    GRAMMAR
        .lines()
        .filter(|line| line.starts_with("kw_"))
        .flat_map(quoted)
        .collect()
}

/// The words of the `kw_*` rules a rule names (`item_keyword = _{ kw_schema | ... }`).
fn keywords_named_by(rule: &str) -> BTreeSet<String> {
    definition(rule)
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("kw_"))
        .flat_map(|kw| quoted(&definition(kw)))
        .collect()
}

fn set(words: &[&str]) -> BTreeSet<String> {
    words.iter().map(|word| word.to_string()).collect()
}

#[test]
fn item_keywords_are_the_grammars() {
    assert_eq!(
        set(&switchboard::syntax::ITEM_KEYWORDS),
        keywords_named_by("item_keyword")
    );
}

#[test]
fn reserved_words_are_the_grammars() {
    assert_eq!(
        set(&switchboard::syntax::RESERVED),
        quoted(&definition("reserved"))
    );
}

#[test]
fn the_language_servers_keywords_are_the_grammars() {
    let mut grammar = keywords();
    // The lexer also marks the bool literals.
    grammar.extend(["true".to_string(), "false".to_string()]);
    assert_eq!(set(switchboard_lsp::lexer::KEYWORDS), grammar);
}
