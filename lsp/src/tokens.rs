//! Semantic tokens: every keyword, name, literal, string and comment, with names coloured by
//! what they resolve to (a field, a variant, a pool...), not by where they stand.

use crate::document::Analysis;
use crate::index::{Origin, SymbolKind};
use crate::lexer::{self, TokenKind};
use std::collections::HashMap;
use switchboard_core::LineIndex;
use tower_lsp_server::ls_types::{
    SemanticToken, SemanticTokenModifier, SemanticTokenType, SemanticTokensLegend,
};

/// The token types, in legend order.
const TYPES: &[SemanticTokenType] = &[
    SemanticTokenType::KEYWORD,
    SemanticTokenType::PROPERTY,
    SemanticTokenType::ENUM_MEMBER,
    SemanticTokenType::CLASS,
    SemanticTokenType::INTERFACE,
    SemanticTokenType::TYPE,
    SemanticTokenType::FUNCTION,
    SemanticTokenType::VARIABLE,
    SemanticTokenType::STRING,
    SemanticTokenType::NUMBER,
    SemanticTokenType::COMMENT,
    SemanticTokenType::OPERATOR,
];

const KEYWORD: u32 = 0;
const STRING: u32 = 8;
const NUMBER: u32 = 9;
const COMMENT: u32 = 10;
const OPERATOR: u32 = 11;

/// The legend the server announces.
pub fn legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: TYPES.to_vec(),
        token_modifiers: vec![SemanticTokenModifier::DECLARATION],
    }
}

fn symbol_type(kind: SymbolKind) -> u32 {
    match kind {
        SymbolKind::Field => 1,
        SymbolKind::Variant => 2,
        SymbolKind::Pool => 3,
        SymbolKind::Queue => 4,
        SymbolKind::Calendar => 5,
        SymbolKind::Rule => 6,
        SymbolKind::Rep => 7,
        SymbolKind::Test => STRING,
        SymbolKind::Score => 1,
        SymbolKind::Tag => 2,
    }
}

/// The document's tokens, delta-encoded as the protocol wants.
pub fn tokens(analysis: &Analysis) -> Vec<SemanticToken> {
    let text = &analysis.text;
    let names: HashMap<usize, (u32, bool)> = analysis
        .index
        .occurrences
        .iter()
        .filter(|o| o.origin == Origin::Document)
        .map(|o| (o.span.start, (symbol_type(o.id.kind), o.definition)))
        .collect();
    let lines = LineIndex::new(text);
    let mut out = Vec::new();
    let (mut last_line, mut last_start) = (0u32, 0u32);
    // The word before: `day` is a keyword after `per` (`cap 3 per day`) and `business`.
    let mut previous = "";
    for token in lexer::tokens(text, 0, text.len()) {
        let word = token.text(text);
        let after = std::mem::replace(&mut previous, word);
        let (kind, declaration) = match token.kind {
            TokenKind::Comment => (COMMENT, false),
            TokenKind::Str => names
                .get(&token.span.start)
                .copied()
                .unwrap_or((STRING, false)),
            TokenKind::Literal => (NUMBER, false),
            TokenKind::Punct => match token.text(text) {
                "->" | "=" | "!=" | "<" | "<=" | ">" | ">=" => (OPERATOR, false),
                _ => continue,
            },
            TokenKind::Word => match names.get(&token.span.start) {
                Some(found) => *found,
                None if lexer::is_keyword(word) => (KEYWORD, false),
                None if is_unit_word(after, word) => (KEYWORD, false),
                None => continue,
            },
        };
        let (line, start) = lines.utf16_position(token.span.start);
        let (line, start) = (to_u32(line), to_u32(start));
        let length = to_u32(token.text(text).encode_utf16().count());
        let delta_line = line - last_line;
        let delta_start = if delta_line == 0 {
            start - last_start
        } else {
            start
        };
        out.push(SemanticToken {
            delta_line,
            delta_start,
            length,
            token_type: kind,
            token_modifiers_bitset: u32::from(declaration),
        });
        (last_line, last_start) = (line, start);
    }
    out
}

/// A cap's period after `per` (`hour`, `day`, `week`), or a unit after `business`.
fn is_unit_word(before: &str, word: &str) -> bool {
    match before {
        "per" => matches!(word, "hour" | "day" | "week"),
        "business" => matches!(word, "hour" | "hours" | "day" | "days"),
        _ => false,
    }
}

fn to_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}
