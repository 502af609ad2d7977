//! The SQLite state store (the embedded default, `.switchboard/state.db`): the core's
//! [`StateStore`] on one file, so that runs remember rotations, loads and the ledger.
//!
//! Architecture invariant: every change happens inside a batch (`begin` .. `commit`), one
//! `BEGIN IMMEDIATE` transaction, so two routers on one file serialise, and a killed run loses
//! only its uncommitted batch, which a re-run decides again.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::path::Path;
use switchboard_core::route::state::{
    Fingerprint, Loads, Recorded, StateError, StateErrorKind, StateStore, compact,
};
use switchboard_core::route::wire;

/// SQLite's errors as the core's state errors.
trait Database<T> {
    fn db(self) -> Result<T, StateError>;
}

impl<T> Database<T> for rusqlite::Result<T> {
    fn db(self) -> Result<T, StateError> {
        self.map_err(|error| {
            let kind = if is_busy(&error) {
                StateErrorKind::Busy
            } else if matches!(
                error.sqlite_error_code(),
                Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
            ) {
                StateErrorKind::Corrupt
            } else {
                StateErrorKind::Failed
            };
            StateError::new(kind, format!("state database: {error}"))
        })
    }
}

/// State in a SQLite file (`.switchboard/state.db` by default).
pub struct SqliteState {
    connection: Connection,
    in_batch: bool,
    /// Rotation states read or written in this batch; written back at commit.
    rotations: HashMap<String, (String, bool)>,
    /// Load counts read in this batch, kept current as leads are assigned.
    loads: Loads,
}

impl SqliteState {
    /// Opens (creating if needed) the state database at `path`.
    pub fn open(path: &Path) -> Result<SqliteState, StateError> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|error| {
                StateError::new(
                    StateErrorKind::Unavailable,
                    format!("cannot create `{}`: {error}", parent.display()),
                )
            })?;
        }
        // Another router may be creating or converting the same file right now: some of these
        // steps fail with "database is locked" without waiting, so retry them for a while.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            match SqliteState::try_open(path) {
                Ok(Ok(state)) => return Ok(state),
                Ok(Err(refusal)) => return Err(refusal),
                Err(error) if is_busy(&error) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(error) => return Err(error).db(),
            }
        }
    }

    fn try_open(path: &Path) -> Result<Result<SqliteState, StateError>, rusqlite::Error> {
        let connection = Connection::open(path)?;
        connection.busy_timeout(std::time::Duration::from_secs(60))?;
        let mode: String = connection.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            connection.pragma_update(None, "journal_mode", "WAL")?;
        }
        // FULL: a committed batch survives power loss too, and its decisions are only printed
        // after the commit.
        connection.pragma_update(None, "synchronous", "FULL")?;
        if let Err(refusal) = migrate(&connection)? {
            return Ok(Err(refusal));
        }
        Ok(Ok(SqliteState {
            connection,
            in_batch: false,
            rotations: HashMap::new(),
            loads: Loads::default(),
        }))
    }
}

/// The version of the tables this build writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 2;

/// Creates the tables, or brings an older file's up to [`SCHEMA_VERSION`], in one transaction.
/// A file written by a newer Switchboard is refused, never changed.
fn migrate(connection: &Connection) -> Result<Result<(), StateError>, rusqlite::Error> {
    connection.execute_batch("BEGIN IMMEDIATE")?;
    let version: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        connection.execute_batch("ROLLBACK")?;
        return Ok(Err(StateError::new(
            StateErrorKind::Unavailable,
            format!(
                "the state was written by a newer Switchboard (tables version {version}; this \
                 one knows {SCHEMA_VERSION}): upgrade switchboard, or use another --state"
            ),
        )));
    }
    if version < SCHEMA_VERSION {
        // Version 1 (no user_version yet) had the ledger without fingerprints and traces.
        connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS ledger (
                 lead TEXT PRIMARY KEY,
                 decision TEXT NOT NULL,
                 policy_hash TEXT NOT NULL,
                 recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
             );
             CREATE TABLE IF NOT EXISTS rotations (pool TEXT PRIMARY KEY, state TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS assignments (
                 lead TEXT PRIMARY KEY,
                 rep TEXT NOT NULL,
                 at_ns TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS assignments_by_rep ON assignments (rep, at_ns);",
        )?;
        let columns: Vec<String> = connection
            .prepare("SELECT name FROM pragma_table_info('ledger')")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        for (column, ty) in [
            ("fingerprint", "INTEGER"),
            ("schema_digest", "INTEGER"),
            ("decided_at", "TEXT"),
            ("trace", "BLOB"),
        ] {
            if !columns.iter().any(|name| name == column) {
                connection
                    .execute_batch(&format!("ALTER TABLE ledger ADD COLUMN {column} {ty}"))?;
            }
        }
        connection.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    }
    connection.execute_batch("COMMIT")?;
    Ok(Ok(()))
}

/// A 64-bit digest as SQLite's signed integer (the same bits).
fn as_sql(value: u64) -> i64 {
    i64::from_le_bytes(value.to_le_bytes())
}

fn from_sql(value: i64) -> u64 {
    u64::from_le_bytes(value.to_le_bytes())
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Nanoseconds as a fixed-width decimal string, so that text order is time order (SQLite
/// integers are 64-bit; nanoseconds since 1970 fit, but padding keeps it simple and exact).
fn sortable(at: Timestamp) -> String {
    format!("{:+021}", at.as_nanosecond())
}

impl StateStore for SqliteState {
    fn begin(&mut self) -> Result<(), StateError> {
        if self.in_batch {
            return Ok(());
        }
        // IMMEDIATE takes the write lock now: a second router waits here, then sees every
        // decision the first one committed.
        self.connection.execute_batch("BEGIN IMMEDIATE").db()?;
        self.in_batch = true;
        self.rotations.clear();
        self.loads.clear();
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StateError> {
        if !self.in_batch {
            return Ok(());
        }
        {
            let mut statement = self
                .connection
                .prepare_cached("INSERT INTO rotations (pool, state) VALUES (?1, ?2) ON CONFLICT (pool) DO UPDATE SET state = excluded.state").db()?;
            for (pool, (state, dirty)) in &self.rotations {
                if *dirty {
                    statement.execute(params![pool, state]).db()?;
                }
            }
        }
        self.connection.execute_batch("COMMIT").db()?;
        self.in_batch = false;
        Ok(())
    }

    fn rollback(&mut self) -> Result<(), StateError> {
        if !self.in_batch {
            return Ok(());
        }
        self.connection.execute_batch("ROLLBACK").db()?;
        self.in_batch = false;
        self.rotations.clear();
        self.loads.clear();
        Ok(())
    }

    fn keeps_traces(&self) -> bool {
        true
    }

    fn recorded(&mut self, lead: &str) -> Result<Option<Recorded>, StateError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT decision, policy_hash, recorded_at, fingerprint, schema_digest, \
                 decided_at, trace FROM ledger WHERE lead = ?1",
            )
            .db()?;
        type Row = (
            String,
            String,
            String,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<Vec<u8>>,
        );
        let row: Option<Row> = statement
            .query_row(params![lead], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                ))
            })
            .optional()
            .db()?;
        let Some((text, policy_hash, recorded_at, fingerprint, schema, decided_at, trace)) = row
        else {
            return Ok(None);
        };
        let corrupt = |what: String| {
            StateError::new(
                StateErrorKind::Corrupt,
                format!("state database: the recorded decision of `{lead}` cannot be read: {what}"),
            )
        };
        let decision = wire::read_decision(&text).map_err(|error| corrupt(error.to_string()))?;
        // Entries from before decision times were kept: the time the row was written.
        let decided_at = decided_at
            .as_deref()
            .unwrap_or(&recorded_at)
            .parse::<Timestamp>()
            .map_err(|error| corrupt(format!("its time: {error}")))?;
        let trace = match trace {
            None => None,
            Some(bytes) => Some(
                compact::decode_trace(&bytes).ok_or_else(|| corrupt("its trace".to_string()))?,
            ),
        };
        Ok(Some(Recorded {
            decision,
            fingerprint: fingerprint.zip(schema).map(|(lead, schema)| Fingerprint {
                lead: from_sql(lead),
                schema: from_sql(schema),
            }),
            decided_at,
            policy_hash,
            trace,
        }))
    }

    fn record(&mut self, entry: &Recorded) -> Result<(), StateError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "INSERT INTO ledger (lead, decision, policy_hash, fingerprint, schema_digest, \
                 decided_at, trace) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .db()?;
        let trace = entry.trace.as_ref().map(|trace| {
            let mut bytes = Vec::new();
            compact::encode_trace(trace, &mut bytes);
            bytes
        });
        statement
            .execute(params![
                entry.decision.lead,
                wire::decision_json(&entry.decision),
                entry.policy_hash,
                entry.fingerprint.map(|f| as_sql(f.lead)),
                entry.fingerprint.map(|f| as_sql(f.schema)),
                entry.decided_at.to_string(),
                trace,
            ])
            .db()?;
        Ok(())
    }

    fn rotation(&mut self, pool: &str) -> Result<Option<String>, StateError> {
        if let Some((state, _)) = self.rotations.get(pool) {
            return Ok(Some(state.clone()));
        }
        let mut statement = self
            .connection
            .prepare_cached("SELECT state FROM rotations WHERE pool = ?1")
            .db()?;
        let state = statement
            .query_row(params![pool], |row| row.get::<_, String>(0))
            .optional()
            .db()?;
        if let Some(state) = &state {
            self.rotations
                .insert(pool.to_string(), (state.clone(), false));
        }
        Ok(state)
    }

    fn set_rotation(&mut self, pool: &str, value: &str) -> Result<(), StateError> {
        self.rotations
            .insert(pool.to_string(), (value.to_string(), true));
        Ok(())
    }

    fn assigned(&mut self, rep: &str, since: Option<Timestamp>) -> Result<u64, StateError> {
        if let Some(count) = self.loads.get(rep, since) {
            return Ok(count);
        }
        let since_text = since.map_or_else(|| sortable(Timestamp::MIN), sortable);
        let mut statement = self
            .connection
            .prepare_cached("SELECT COUNT(*) FROM assignments WHERE rep = ?1 AND at_ns >= ?2")
            .db()?;
        let count: i64 = statement
            .query_row(params![rep, since_text], |row| row.get(0))
            .db()?;
        let count = u64::try_from(count).unwrap_or(0);
        self.loads.insert(rep, since, count);
        Ok(count)
    }

    fn assign(&mut self, rep: &str, lead: &str, at: Timestamp) -> Result<(), StateError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "INSERT OR REPLACE INTO assignments (lead, rep, at_ns) VALUES (?1, ?2, ?3)",
            )
            .db()?;
        statement.execute(params![lead, rep, sortable(at)]).db()?;
        self.loads.assigned(rep, at);
        Ok(())
    }
}
