//! Syntax: turns policy text into a syntax tree plus every syntax error. It never fails.
//!
//! The grammar is `grammar/switchboard.pest`. The driver in [`parser`] parses one item at a time
//! so that an error in one item cannot hide errors in the others, and [`lower`] turns pest's
//! pairs into the plain tree of [`ast`].

pub mod ast;
mod errors;
mod lower;
mod parser;

pub use parser::{Parsed, parse};

/// The pest parser generated from the grammar file.
#[derive(pest_derive::Parser)]
#[grammar = "../grammar/switchboard.pest"]
pub(crate) struct PestParser;

/// The maximum nesting of parentheses and `not` in one condition. Deeper input is rejected
/// before it reaches pest, so that a hostile file cannot exhaust the stack.
pub const MAX_NESTING: usize = 64;
