//! The state stores at the edge: where routing's memory lives between runs. The core defines the
//! one interface ([`switchboard_core::route::state::StateStore`]) and the in-memory store; the
//! stores that do I/O live here.

pub mod sqlite;

pub use sqlite::SqliteState;
