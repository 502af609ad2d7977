//! Switchboard: lead routing policy as code.
//!
//! This package is the `switchboard` command and the edges of the system: the state stores
//! that keep routing's memory on disk ([`store`]). Everything that takes text and returns values
//! (the parser, checker, decision graph, router, formatter, diff) is the core crate,
//! `switchboard-core`, re-exported here whole so that `switchboard::check_source` and
//! `switchboard::route::Router` name the same items as the core does.
//!
//! ```
//! let source = "schema lead { id: string  intent: enum { low, high } }\n\
//!               queue review\n\
//!               when intnet = high -> queue review\n\
//!               otherwise -> queue review\n";
//! let report = switchboard::check_source(source);
//! let first = &report.diagnostics[0];
//! assert_eq!(first.code.as_str(), "unknown-field");
//! assert_eq!(first.help.as_deref(), Some("did you mean `intent`?"));
//! ```

#![deny(unsafe_code)]

pub use switchboard_core::*;

pub mod disk;
pub mod plots;
#[cfg(feature = "serve")]
pub mod serve;
pub mod store;
