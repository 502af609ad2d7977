//! Syntax: turns policy text into a syntax tree plus every syntax error. It never fails.
//!
//! The grammar is `grammar/switchboard.pest`. The driver in [`parser`] parses one item at a time
//! so that an error in one item cannot hide errors in the others, and [`lower`] turns pest's
//! pairs into the plain tree of [`ast`].

pub mod ast;
mod cache;
pub(crate) mod errors;
pub use errors::RESERVED;
mod lower;
mod parser;

pub use cache::ItemCache;
pub use parser::{
    ITEM_KEYWORDS, Parallelism, Parsed, Sequential, is_name, leading_use, parse, parse_cached,
    parse_in, parse_with,
};

/// The pest parser generated from the grammar file.
#[derive(pest_derive::Parser)]
#[grammar = "../../grammar/switchboard.pest"]
pub(crate) struct PestParser;

/// Where a comment starts on one line: the first `#` outside a string (strings never span
/// lines). Every tool that needs to find comments (error placement, the formatter) asks this.
pub fn comment_start(line: &str) -> Option<usize> {
    let mut in_string = false;
    let mut escaped = false;
    for (index, ch) in line.char_indices() {
        match ch {
            '\\' if in_string && !escaped => {
                escaped = true;
                continue;
            }
            '"' if !escaped => in_string = !in_string,
            '#' if !in_string => return Some(index),
            _ => {}
        }
        escaped = false;
    }
    None
}

/// The maximum nesting of parentheses and `not` in one condition. Deeper input is rejected
/// before it reaches pest, so that a hostile file cannot exhaust the stack.
pub const MAX_NESTING: usize = 64;
