//! A forgiving tokenizer for editor features that look at text the parser cannot read yet (a
//! half-typed rule under the cursor) or that colour every token (semantic tokens). It never fails:
//! any character it does not know becomes a one-character punctuation token.

use switchboard_core::Span;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A name or a keyword.
    Word,
    /// A number, date, clock time, timestamp or duration (`15m`, `2026-12-24`, `09:00`).
    Literal,
    /// A quoted string (possibly unterminated at the end of its line).
    Str,
    /// `#` to the end of the line.
    Comment,
    /// `->`, `!=`, `<=`, `>=`, or any single other character.
    Punct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

impl Token {
    pub fn text<'a>(&self, source: &'a str) -> &'a str {
        source.get(self.span.start..self.span.end).unwrap_or("")
    }
}

/// Whether `ch` may continue a word when tokenizing (letters, digits, `_`: close to the
/// grammar's `ident_char`, which is what `switchboard_core::syntax::is_name` checks exactly).
pub fn is_word_char(ch: char) -> bool {
    ch.is_alphanumeric() || ch == '_'
}

/// Whether `ch` may start a name.
pub fn is_word_start(ch: char) -> bool {
    ch.is_alphabetic() || ch == '_'
}

/// Every token of `text[range]`, with spans relative to `text`.
pub fn tokens(text: &str, start: usize, end: usize) -> Vec<Token> {
    let end = end.min(text.len());
    let mut result = Vec::new();
    let Some(slice) = text.get(start..end) else {
        return result;
    };
    let mut chars = slice.char_indices().peekable();
    while let Some((index, ch)) = chars.next() {
        let at = start + index;
        let mut last = at + ch.len_utf8();
        let kind = if ch.is_whitespace() {
            continue;
        } else if ch == '#' {
            while let Some(&(next_index, next)) = chars.peek() {
                if next == '\n' {
                    break;
                }
                last = start + next_index + next.len_utf8();
                chars.next();
            }
            TokenKind::Comment
        } else if ch == '"' {
            let mut escaped = false;
            while let Some(&(next_index, next)) = chars.peek() {
                if next == '\n' {
                    break;
                }
                last = start + next_index + next.len_utf8();
                chars.next();
                if escaped {
                    escaped = false;
                } else if next == '\\' {
                    escaped = true;
                } else if next == '"' {
                    break;
                }
            }
            TokenKind::Str
        } else if ch.is_ascii_digit() || (ch == '-' && next_is_digit(&mut chars)) {
            while let Some(&(next_index, next)) = chars.peek() {
                let continues = is_word_char(next)
                    || matches!(next, ':' | '.' | '+')
                    || (next == '-' && !slice[next_index..].starts_with("->"));
                if !continues {
                    break;
                }
                last = start + next_index + next.len_utf8();
                chars.next();
            }
            TokenKind::Literal
        } else if is_word_start(ch) {
            while let Some(&(next_index, next)) = chars.peek() {
                if !is_word_char(next) {
                    break;
                }
                last = start + next_index + next.len_utf8();
                chars.next();
            }
            TokenKind::Word
        } else {
            if let Some(&(next_index, next)) = chars.peek()
                && matches!(
                    (ch, next),
                    ('-', '>') | ('!', '=') | ('<', '=') | ('>', '=')
                )
            {
                last = start + next_index + next.len_utf8();
                chars.next();
            }
            TokenKind::Punct
        };
        result.push(Token {
            kind,
            span: Span::new(at, last),
        });
    }
    result
}

fn next_is_digit(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) -> bool {
    chars.peek().is_some_and(|&(_, next)| next.is_ascii_digit())
}

/// Whether a word is one of the language's keywords (reserved words and clause words).
pub fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word)
}

/// Every keyword of the grammar.
pub const KEYWORDS: &[&str] = &[
    "schema",
    "calendar",
    "pool",
    "queue",
    "rule",
    "when",
    "otherwise",
    "test",
    "use",
    "and",
    "or",
    "not",
    "in",
    "is",
    "set",
    "inside",
    "outside",
    "else",
    "rep",
    "owner",
    "of",
    "within",
    "escalate",
    "after",
    "members",
    "strategy",
    "weighted",
    "cap",
    "timezone",
    "hours",
    "holidays",
    "enum",
    "lead",
    "expect",
    "unassigned",
    "business",
    "null",
    "at",
    "roster",
    "away",
    "offline",
    "available",
    "open",
    "out",
    "to",
    "account",
    "parent",
    "per",
    "on",
    "shift",
    "previous",
    "since",
    "assigned",
    "today",
    "this",
    "score",
    "tags",
    "tag",
    "true",
    "false",
];

/// The words that start an item when they begin a line (the parser's own list).
pub use switchboard_core::syntax::ITEM_KEYWORDS;

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(TokenKind, &str)> {
        tokens(text, 0, text.len())
            .into_iter()
            .map(|token| (token.kind, token.text(text)))
            .collect()
    }

    #[test]
    fn splits_rules_into_words_literals_and_punctuation() {
        assert_eq!(
            kinds("when intent != high -> pool x within 15m # hot\n"),
            vec![
                (TokenKind::Word, "when"),
                (TokenKind::Word, "intent"),
                (TokenKind::Punct, "!="),
                (TokenKind::Word, "high"),
                (TokenKind::Punct, "->"),
                (TokenKind::Word, "pool"),
                (TokenKind::Word, "x"),
                (TokenKind::Word, "within"),
                (TokenKind::Literal, "15m"),
                (TokenKind::Comment, "# hot"),
            ]
        );
    }

    #[test]
    fn reads_dates_times_strings_and_unicode_names() {
        assert_eq!(
            kinds("at 2026-11-26T22:00:00+01:00 \"a \\\" b\" müller -5"),
            vec![
                (TokenKind::Word, "at"),
                (TokenKind::Literal, "2026-11-26T22:00:00+01:00"),
                (TokenKind::Str, "\"a \\\" b\""),
                (TokenKind::Word, "müller"),
                (TokenKind::Literal, "-5"),
            ]
        );
        assert_eq!(kinds("\"open"), vec![(TokenKind::Str, "\"open")]);
    }
}
