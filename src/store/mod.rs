//! The state stores at the edge: where routing's memory lives between runs. The core defines the
//! one interface ([`switchboard_core::route::state::StateStore`]) and the in-memory store; the
//! stores that do I/O live here.

#[cfg(feature = "postgres")]
pub mod postgres;
pub mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::PostgresState;
pub use sqlite::SqliteState;
