//! The state stores at the edge: where routing's memory lives between runs. The core defines the
//! one interface ([`switchboard_core::route::state::StateStore`]) and the in-memory store; the
//! stores that do I/O live here.

#[cfg(feature = "postgres")]
pub mod postgres;
pub mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::PostgresState;
pub use sqlite::SqliteState;

use jiff::Timestamp;
use switchboard_core::route::life::Life;
use switchboard_core::route::state::{StateError, StateErrorKind};

/// An instant as the stores key it: nanoseconds since the epoch (saturating).
fn nanos(at: Timestamp) -> i64 {
    i64::try_from(at.as_nanosecond()).unwrap_or(if at.as_second() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// A lead's life as the stores keep it (JSON), read back.
fn read_life(lead: &str, text: &str) -> Result<Life, StateError> {
    serde_json::from_str(text).map_err(|error| {
        StateError::new(
            StateErrorKind::Corrupt,
            format!("state database: the life of `{lead}` cannot be read: {error}"),
        )
    })
}
