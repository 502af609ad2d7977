//! Switchboard's core: lead routing policy as code, with no I/O.
//!
//! A policy is a small declarative file: a lead `schema`, business-hours `calendar`s, `pool`s of
//! reps with a distribution strategy, `queue`s, first-match `rule`s and `test`s. This crate parses
//! it without ever failing ([`syntax`]), checks it against its schema ([`check`]) and renders the
//! diagnostics for people and machines ([`render`]). The core does no I/O: it takes text and
//! returns values, so the CLI, the language server and the tests share it.
//!
//! ```
//! let source = "schema lead { id: string  intent: enum { low, high } }\n\
//!               queue review\n\
//!               when intnet = high -> queue review\n\
//!               otherwise -> queue review\n";
//! let report = switchboard_core::check_source(source);
//! let first = &report.diagnostics[0];
//! assert_eq!(first.code.as_str(), "unknown-field");
//! assert_eq!(first.help.as_deref(), Some("did you mean `intent`?"));
//! ```

#![deny(unsafe_code)]

pub mod check;
pub mod coverage;
pub mod diagnostic;
pub mod diff;
pub mod explain;
pub mod files;
pub mod format;
pub mod graph;
pub mod json;
pub mod model;
pub mod pipeline;
pub mod render;
pub mod report;
pub mod route;
pub mod simulate;
pub mod span;
pub mod syntax;
pub mod testing;
pub mod text;

pub use diagnostic::{Code, Diagnostic, Severity};
pub use pipeline::{CheckConfig, CheckReport, check_source, check_source_with};
pub use span::{LineIndex, Span};
