//! The state stores at the edge: where routing's memory lives between runs. The core defines the
//! one interface ([`switchboard_core::route::state::StateStore`]) and the in-memory store; the
//! stores that do I/O live here.

#[cfg(feature = "postgres")]
pub mod postgres;
pub mod sqlite;
mod static_binds;
#[cfg(feature = "postgres")]
mod tls;

#[cfg(feature = "postgres")]
pub use postgres::PostgresState;
pub use sqlite::SqliteState;

use jiff::Timestamp;
use switchboard_core::route::life::Life;
use switchboard_core::route::state::{Recorded, StateError, StateErrorKind, compact};

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

/// An instant the stores keep in nanoseconds, read back.
fn from_nanos(at: i64) -> Timestamp {
    Timestamp::from_nanosecond(i128::from(at)).unwrap_or(Timestamp::MIN)
}

/// An instant the stores keep in whole seconds, read back.
fn from_seconds(at: i64) -> Timestamp {
    Timestamp::from_second(at).unwrap_or(Timestamp::MIN)
}

/// A lead's life as the stores keep it.
fn life_text(life: &Life) -> Result<String, StateError> {
    serde_json::to_string(life).map_err(|error| {
        StateError::new(
            StateErrorKind::Failed,
            format!(
                "state database: cannot write the life of `{}`: {error}",
                life.lead
            ),
        )
    })
}

/// A ledger entry of `lead` as the stores keep it (compact), read back.
fn read_entry(lead: &str, entry: &[u8]) -> Result<Recorded, StateError> {
    compact::decode_recorded(entry)
        .filter(|recorded| *recorded.decision.lead == *lead)
        .ok_or_else(|| {
            StateError::new(
                StateErrorKind::Corrupt,
                format!("state database: the recorded decision of `{lead}` cannot be read"),
            )
        })
}

/// The refusal to import into a state that already holds leads.
fn not_empty(leads: i64) -> StateError {
    StateError::new(
        StateErrorKind::Failed,
        format!(
            "the target state already holds {leads} leads: import into a new, empty state (its \
             rotations and counts would otherwise mix with the imported ones)"
        ),
    )
}
