//! The SQLite state store (the embedded default, `.switchboard/state.db`): the core's
//! [`StateStore`] on one file, so that runs remember rotations, loads and the ledger.
//!
//! Architecture invariant: every change happens inside a batch (`begin` .. `commit`), one
//! `BEGIN IMMEDIATE` transaction, so two routers on one file serialise, and a killed run loses
//! only its uncommitted batch, which a re-run decides again.

use super::{from_nanos, from_seconds, life_text, nanos, not_empty, read_entry, read_life};
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::path::Path;
use switchboard_core::route::life::Life;
use switchboard_core::route::state::dump::StateRow;
use switchboard_core::route::state::{
    Loads, Outgoing, Recorded, StateError, StateErrorKind, StateStore, WindowCounts, compact,
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
    /// The tables' version when the file was opened (0: a new file).
    tables_found: i64,
    in_batch: bool,
    /// Rotation states read or written in this batch; written back at commit.
    rotations: HashMap<String, (String, bool)>,
    /// Load counts read in this batch, kept current as leads are assigned.
    loads: Loads,
    /// Period-cap windows counted in this batch, kept current as leads are assigned.
    windows: WindowCounts,
    /// The compact form of the entry being recorded (reused, so recording allocates nothing).
    scratch: Vec<u8>,
    /// This batch's assignments (rep -> times in seconds), added to `load_counts` at commit.
    assigned_in_batch: HashMap<String, Vec<i64>>,
    /// This batch's assignments by the leads' own times, added to `window_counts` at commit.
    lead_times_in_batch: HashMap<String, Vec<i64>>,
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
        // 16 KiB pages for a new file (an existing one keeps its own): a ledger entry with its
        // trace is a few hundred bytes, so inserts split pages four times less often than
        // with 4 KiB, and a batch writes fewer pages. Must come before WAL mode is set.
        connection.pragma_update(None, "page_size", 16384)?;
        let mode: String = connection.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            connection.pragma_update(None, "journal_mode", "WAL")?;
        }
        // FULL: a committed batch survives power loss too, and its decisions are only printed
        // after the commit.
        connection.pragma_update(None, "synchronous", "FULL")?;
        // A 64 MiB page cache (the default is 2 MiB) keeps the upper levels of a ledger of
        // millions of leads in memory; checkpoints once the WAL holds 128 MiB (the default is
        // 1,000 pages, 4 MiB with 4 KiB pages) copy each page back once rather than several
        // times (measured: 32 MiB cost routing 1,000,000 leads 10%). The WAL file can grow to
        // that size next to the state.
        connection.pragma_update(None, "cache_size", -65536)?;
        let page_size: i64 = connection.query_row("PRAGMA page_size", [], |row| row.get(0))?;
        connection.pragma_update(None, "wal_autocheckpoint", (128 << 20) / page_size.max(512))?;
        let found = match migrate(&connection)? {
            Ok(found) => found,
            Err(refusal) => return Ok(Err(refusal)),
        };
        Ok(Ok(SqliteState {
            tables_found: found,
            connection,
            in_batch: false,
            rotations: HashMap::new(),
            loads: Loads::default(),
            windows: WindowCounts::default(),
            scratch: Vec::with_capacity(1024),
            assigned_in_batch: HashMap::new(),
            lead_times_in_batch: HashMap::new(),
        }))
    }

    /// Adds this batch's assignments to every cached load count they fall in: one read and one
    /// write per rep and cached `since`, not one per lead.
    fn flush_load_counts(&mut self) -> Result<(), StateError> {
        for (rep, times) in self.assigned_in_batch.drain() {
            let cached: Vec<(i64, i64)> = self
                .connection
                .prepare_cached("SELECT since_s, count FROM load_counts WHERE rep = ?1")
                .db()?
                .query_map(params![rep], |row| Ok((row.get(0)?, row.get(1)?)))
                .db()?
                .collect::<Result<_, _>>()
                .db()?;
            for (since, count) in cached {
                let added = times.iter().filter(|at| **at >= since).count();
                if added == 0 {
                    continue;
                }
                let total = count.saturating_add(i64::try_from(added).unwrap_or(i64::MAX));
                self.connection
                    .prepare_cached(
                        "UPDATE load_counts SET count = ?3 WHERE rep = ?1 AND since_s = ?2",
                    )
                    .db()?
                    .execute(params![rep, since, total])
                    .db()?;
            }
        }
        Ok(())
    }
}

impl SqliteState {
    /// Takes the leads routing scheduled (appended to `pending_due`) into the `due` index, in
    /// bulk and sorted.
    fn take_pending_due(&mut self) -> Result<(), StateError> {
        let pending: i64 = self
            .connection
            .prepare_cached("SELECT count(*) FROM (SELECT 1 FROM pending_due LIMIT 1)")
            .db()?
            .query_row([], |row| row.get(0))
            .db()?;
        if pending > 0 {
            self.connection
                .execute_batch(
                    "INSERT OR IGNORE INTO due (at_ns, lead) \
                     SELECT at_ns, lead FROM pending_due ORDER BY at_ns, lead; \
                     DELETE FROM pending_due;",
                )
                .db()?;
        }
        Ok(())
    }

    /// Adds this batch's lead times to every stored window count they fall in: one read and
    /// one write per rep and window, not one per lead.
    fn flush_window_counts(&mut self) -> Result<(), StateError> {
        for (rep, times) in self.lead_times_in_batch.drain() {
            let stored: Vec<(i64, i64, i64)> = self
                .connection
                .prepare_cached("SELECT from_s, to_s, count FROM window_counts WHERE rep = ?1")
                .db()?
                .query_map(params![rep], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .db()?
                .collect::<Result<_, _>>()
                .db()?;
            for (from, to, count) in stored {
                let added = times.iter().filter(|at| from <= **at && **at < to).count();
                if added == 0 {
                    continue;
                }
                let total = count.saturating_add(i64::try_from(added).unwrap_or(i64::MAX));
                self.connection
                    .prepare_cached(
                        "UPDATE window_counts SET count = ?4 \
                         WHERE rep = ?1 AND from_s = ?2 AND to_s = ?3",
                    )
                    .db()?
                    .execute(params![rep, from, to, total])
                    .db()?;
            }
        }
        Ok(())
    }
}

/// Takes or renews a lease on SQLite (`$1` name, `$2` holder, `$3` until, `$4` now, in
/// nanoseconds): one row changed when it is this holder's now. (PostgreSQL judges by the
/// database's clock.)
const LEASE: &str = "INSERT INTO leases (name, holder, until_ns) VALUES ($1, $2, $3) \
    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ns = excluded.until_ns \
    WHERE leases.holder = excluded.holder OR leases.until_ns < $4";

/// The version of the tables this build writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 7;

/// The tables of [`SCHEMA_VERSION`]. The ledger keeps each entry in the core's compact form
/// (decision, fingerprint, routing time, policy hash, trace): one B-tree keyed by the lead id,
/// small rows. `load_counts` caches, per rep and `since`, how many assignments are at or after
/// it, so a rep's load is read once, not counted again in every batch.
const TABLES: &str = "
    CREATE TABLE IF NOT EXISTS ledger (lead TEXT PRIMARY KEY, entry BLOB NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS rotations (pool TEXT PRIMARY KEY, state TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS assignments (
        lead TEXT NOT NULL,
        rep TEXT NOT NULL,
        at_s INTEGER NOT NULL,
        PRIMARY KEY (lead, rep)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS assignments_by_rep ON assignments (rep, at_s);
    CREATE TABLE IF NOT EXISTS lead_times (
        rep TEXT NOT NULL,
        lead_s INTEGER NOT NULL,
        lead TEXT NOT NULL,
        PRIMARY KEY (rep, lead_s, lead)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS window_counts (
        rep TEXT NOT NULL,
        from_s INTEGER NOT NULL,
        to_s INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (rep, from_s, to_s)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS prospects (
        field TEXT NOT NULL,
        key TEXT NOT NULL,
        lead_s INTEGER NOT NULL,
        lead TEXT NOT NULL,
        rep TEXT NOT NULL,
        PRIMARY KEY (field, key, lead_s, lead)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS lives (lead TEXT PRIMARY KEY, entry TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS due (
        at_ns INTEGER NOT NULL,
        lead TEXT NOT NULL,
        PRIMARY KEY (at_ns, lead)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS pending_due (at_ns INTEGER NOT NULL, lead TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ns INTEGER NOT NULL,
        lead TEXT NOT NULL,
        body TEXT NOT NULL,
        pending INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS outbox_by_time ON outbox (at_ns, seq);
    CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (seq) WHERE pending = 1;
    CREATE TABLE IF NOT EXISTS leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        until_ns INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS load_counts (
        rep TEXT NOT NULL,
        since_s INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (rep, since_s)
    ) WITHOUT ROWID;";

/// `since` as the key of `load_counts` (`None`: all assignments).
fn since_key(since: Option<Timestamp>) -> i64 {
    since.map_or(i64::MIN, Timestamp::as_second)
}

/// Creates the tables, or brings an older file's up to [`SCHEMA_VERSION`], in one transaction.
/// A file written by a newer Switchboard is refused, never changed.
/// Answers the version found (0: a new file).
fn migrate(connection: &Connection) -> Result<Result<i64, StateError>, rusqlite::Error> {
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
        let has_ledger: bool = connection.query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'ledger'",
            [],
            |row| row.get(0),
        )?;
        if has_ledger && version < 3 {
            // Version 1 (no user_version): decisions as JSON text, times as text.
            if let Err(refusal) = from_version_1(connection)? {
                connection.execute_batch("ROLLBACK")?;
                return Ok(Err(refusal));
            }
        } else if has_ledger && version >= 5 {
            // Version 6 gains the `outbox`, version 7 `leases`.
            connection.execute_batch(TABLES)?;
        } else {
            if has_ledger {
                // Before version 5 an assignment was keyed by its lead alone; a lead that an
                // escalation hands on is assigned to each rep who takes it.
                connection.execute_batch(
                    "ALTER TABLE assignments RENAME TO assignments_v4;
                     DROP INDEX IF EXISTS assignments_by_rep;",
                )?;
            }
            // Version 3 gains `lead_times` (empty: its earlier assignments count in no period
            // cap); version 4 gains `lives`, `due` and `pending_due` (the steps of its recorded
            // decisions are scheduled below); a new file gets every table.
            connection.execute_batch(TABLES)?;
            if has_ledger {
                connection.execute_batch(
                    "INSERT INTO assignments (lead, rep, at_s)
                         SELECT lead, rep, at_s FROM assignments_v4;
                     DROP TABLE assignments_v4;",
                )?;
            }
        }
        if has_ledger && version < 5 {
            schedule_recorded(connection)?;
        }
        connection.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    }
    connection.execute_batch("COMMIT")?;
    Ok(Ok(version))
}

/// Schedules the escalation steps of decisions recorded before the due index existed (a file of
/// version 4 or older), inside the open transaction: a sweep then carries them out like any.
fn schedule_recorded(connection: &Connection) -> Result<(), rusqlite::Error> {
    let mut read = connection.prepare("SELECT entry FROM ledger")?;
    let mut write = connection.prepare("INSERT INTO pending_due (at_ns, lead) VALUES (?1, ?2)")?;
    let mut rows = read.query([])?;
    while let Some(row) = rows.next()? {
        let entry: Vec<u8> = row.get(0)?;
        let Some(recorded) = compact::decode_recorded(&entry) else {
            continue;
        };
        if let Some(first) = switchboard_core::route::life::first_step_at(&recorded.decision) {
            write.execute(params![nanos(first), recorded.decision.lead])?;
        }
    }
    Ok(())
}

/// Rewrites a version 1 file's tables in the current form, inside the open transaction.
fn from_version_1(connection: &Connection) -> Result<Result<(), StateError>, rusqlite::Error> {
    connection.execute_batch(
        "ALTER TABLE ledger RENAME TO ledger_v1;
         ALTER TABLE rotations RENAME TO rotations_v1;
         ALTER TABLE assignments RENAME TO assignments_v1;
         DROP INDEX IF EXISTS assignments_by_rep;",
    )?;
    connection.execute_batch(TABLES)?;
    {
        let mut read =
            connection.prepare("SELECT lead, decision, policy_hash, recorded_at FROM ledger_v1")?;
        let mut write = connection.prepare("INSERT INTO ledger (lead, entry) VALUES (?1, ?2)")?;
        let mut rows = read.query([])?;
        while let Some(row) = rows.next()? {
            let lead: String = row.get(0)?;
            let text: String = row.get(1)?;
            let policy_hash: String = row.get(2)?;
            let recorded_at: String = row.get(3)?;
            let corrupt = |what: String| {
                StateError::new(
                    StateErrorKind::Corrupt,
                    format!("state database: cannot convert the decision of `{lead}`: {what}"),
                )
            };
            let decision = match wire::read_decision(&text) {
                Ok(decision) => decision,
                Err(error) => return Ok(Err(corrupt(error.to_string()))),
            };
            let decided_at = match recorded_at.parse::<Timestamp>() {
                Ok(time) => time,
                Err(error) => return Ok(Err(corrupt(error.to_string()))),
            };
            let mut entry = Vec::new();
            compact::encode_recorded(
                &Recorded {
                    decision,
                    fingerprint: None,
                    decided_at,
                    lead_at: None,
                    policy_hash,
                    trace: None,
                },
                &mut entry,
            );
            write.execute(params![lead, entry])?;
        }
    }
    connection.execute_batch(
        "INSERT INTO rotations (pool, state) SELECT pool, state FROM rotations_v1;
         INSERT INTO assignments (lead, rep, at_s)
             SELECT lead, rep, CAST(at_ns AS INTEGER) / 1000000000 FROM assignments_v1;
         DROP TABLE ledger_v1;
         DROP TABLE rotations_v1;
         DROP TABLE assignments_v1;",
    )?;
    Ok(Ok(()))
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

impl SqliteState {
    /// Visits the rows of one query, each made into a state row.
    fn visit_rows(
        &self,
        sql: &str,
        make: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<Result<StateRow, StateError>>,
        visit: &mut dyn FnMut(StateRow) -> Result<(), StateError>,
    ) -> Result<(), StateError> {
        let mut statement = self.connection.prepare(sql).db()?;
        let mut rows = statement.query([]).db()?;
        while let Some(row) = rows.next().db()? {
            visit(make(row).db()??)?;
        }
        Ok(())
    }

    fn export_rows(
        &self,
        visit: &mut dyn FnMut(StateRow) -> Result<(), StateError>,
    ) -> Result<(), StateError> {
        self.visit_rows(
            "SELECT lead, entry FROM ledger ORDER BY lead",
            |row| {
                let lead: String = row.get(0)?;
                let entry: Vec<u8> = row.get(1)?;
                Ok(read_entry(&lead, &entry).map(StateRow::Ledger))
            },
            visit,
        )?;
        self.visit_rows(
            "SELECT lead, entry FROM lives ORDER BY lead",
            |row| {
                let lead: String = row.get(0)?;
                let text: String = row.get(1)?;
                Ok(read_life(&lead, &text).map(StateRow::Life))
            },
            visit,
        )?;
        self.visit_rows(
            "SELECT pool, state FROM rotations ORDER BY pool",
            |row| {
                Ok(Ok(StateRow::Rotation {
                    pool: row.get(0)?,
                    state: row.get(1)?,
                }))
            },
            visit,
        )?;
        self.visit_rows(
            "SELECT lead, rep, at_s FROM assignments ORDER BY lead, rep",
            |row| {
                Ok(Ok(StateRow::Assignment {
                    lead: row.get(0)?,
                    rep: row.get(1)?,
                    at: from_seconds(row.get(2)?),
                }))
            },
            visit,
        )?;
        self.visit_rows(
            "SELECT rep, lead_s, lead FROM lead_times ORDER BY rep, lead_s, lead",
            |row| {
                Ok(Ok(StateRow::LeadTime {
                    rep: row.get(0)?,
                    lead_at: from_seconds(row.get(1)?),
                    lead: row.get(2)?,
                }))
            },
            visit,
        )?;
        self.visit_rows(
            "SELECT field, key, lead_s, lead, rep FROM prospects ORDER BY field, key, lead_s, lead",
            |row| {
                Ok(Ok(StateRow::Prospect {
                    field: row.get(0)?,
                    key: row.get(1)?,
                    lead_at: from_seconds(row.get(2)?),
                    lead: row.get(3)?,
                    rep: row.get(4)?,
                }))
            },
            visit,
        )?;
        // Steps scheduled by routing and not yet taken into the index are due steps too.
        self.visit_rows(
            "SELECT at_ns, lead FROM due UNION SELECT at_ns, lead FROM pending_due \
             ORDER BY at_ns, lead",
            |row| {
                Ok(Ok(StateRow::Due {
                    at: from_nanos(row.get(0)?),
                    lead: row.get(1)?,
                }))
            },
            visit,
        )?;
        self.visit_rows(
            "SELECT seq, at_ns, lead, body, pending FROM outbox ORDER BY seq",
            |row| {
                Ok(Ok(StateRow::Outbox(Outgoing {
                    seq: u64::try_from(row.get::<_, i64>(0)?).unwrap_or_default(),
                    at: from_nanos(row.get(1)?),
                    lead: row.get(2)?,
                    body: row.get(3)?,
                    pending: row.get(4)?,
                })))
            },
            visit,
        )
    }

    fn import_rows(
        &self,
        rows: &mut dyn Iterator<Item = Result<StateRow, StateError>>,
    ) -> Result<u64, StateError> {
        let leads: i64 = self
            .connection
            .query_row("SELECT count(*) FROM ledger", [], |row| row.get(0))
            .db()?;
        if leads > 0 {
            return Err(not_empty(leads));
        }
        // Counts derived from the tables are counted again from the imported rows.
        self.connection
            .execute_batch("DELETE FROM load_counts; DELETE FROM window_counts")
            .db()?;
        let mut count = 0;
        for row in rows {
            let row = row?;
            let (sql, values): (&str, Vec<rusqlite::types::Value>) = match row {
                StateRow::Ledger(recorded) => {
                    let mut entry = Vec::with_capacity(256);
                    compact::encode_recorded(&recorded, &mut entry);
                    (
                        "INSERT INTO ledger (lead, entry) VALUES (?1, ?2)",
                        vec![recorded.decision.lead.into(), entry.into()],
                    )
                }
                StateRow::Life(life) => (
                    "INSERT OR REPLACE INTO lives (lead, entry) VALUES (?1, ?2)",
                    vec![life.lead.clone().into(), life_text(&life)?.into()],
                ),
                StateRow::Rotation { pool, state } => (
                    "INSERT OR REPLACE INTO rotations (pool, state) VALUES (?1, ?2)",
                    vec![pool.into(), state.into()],
                ),
                StateRow::Assignment { lead, rep, at } => (
                    "INSERT OR IGNORE INTO assignments (lead, rep, at_s) VALUES (?1, ?2, ?3)",
                    vec![lead.into(), rep.into(), at.as_second().into()],
                ),
                StateRow::LeadTime { rep, lead_at, lead } => (
                    "INSERT OR IGNORE INTO lead_times (rep, lead_s, lead) VALUES (?1, ?2, ?3)",
                    vec![rep.into(), lead_at.as_second().into(), lead.into()],
                ),
                StateRow::Prospect {
                    field,
                    key,
                    lead_at,
                    lead,
                    rep,
                } => (
                    "INSERT OR REPLACE INTO prospects (field, key, lead_s, lead, rep) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    vec![
                        field.into(),
                        key.into(),
                        lead_at.as_second().into(),
                        lead.into(),
                        rep.into(),
                    ],
                ),
                StateRow::Due { at, lead } => (
                    "INSERT OR IGNORE INTO due (at_ns, lead) VALUES (?1, ?2)",
                    vec![nanos(at).into(), lead.into()],
                ),
                StateRow::Outbox(message) => (
                    "INSERT INTO outbox (seq, at_ns, lead, body, pending) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    vec![
                        i64::try_from(message.seq).unwrap_or(i64::MAX).into(),
                        nanos(message.at).into(),
                        message.lead.into(),
                        message.body.into(),
                        i64::from(message.pending).into(),
                    ],
                ),
            };
            self.connection
                .prepare_cached(sql)
                .db()?
                .execute(rusqlite::params_from_iter(values))
                .db()?;
            count += 1;
        }
        Ok(count)
    }
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
        self.windows.clear();
        self.assigned_in_batch.clear();
        self.lead_times_in_batch.clear();
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StateError> {
        if !self.in_batch {
            return Ok(());
        }
        {
            let mut statement = self
                .connection
                .prepare_cached(
                    "INSERT INTO rotations (pool, state) VALUES (?1, ?2) \
                     ON CONFLICT (pool) DO UPDATE SET state = excluded.state",
                )
                .db()?;
            for (pool, (state, dirty)) in &self.rotations {
                if *dirty {
                    statement.execute(params![pool, state]).db()?;
                }
            }
        }
        self.flush_load_counts()?;
        self.flush_window_counts()?;
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
        self.windows.clear();
        self.assigned_in_batch.clear();
        self.lead_times_in_batch.clear();
        Ok(())
    }

    fn keeps_traces(&self) -> bool {
        true
    }

    fn recorded(&mut self, lead: &str) -> Result<Option<Recorded>, StateError> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT entry FROM ledger WHERE lead = ?1")
            .db()?;
        let entry: Option<Vec<u8>> = statement
            .query_row(params![lead], |row| row.get(0))
            .optional()
            .db()?;
        let Some(entry) = entry else {
            return Ok(None);
        };
        read_entry(lead, &entry).map(Some)
    }

    fn record(&mut self, entry: &Recorded) -> Result<(), StateError> {
        let mut statement = self
            .connection
            .prepare_cached("INSERT INTO ledger (lead, entry) VALUES (?1, ?2)")
            .db()?;
        self.scratch.clear();
        compact::encode_recorded(entry, &mut self.scratch);
        statement
            .execute(params![entry.decision.lead, self.scratch])
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
        let key = since_key(since);
        let cached: Option<i64> = self
            .connection
            .prepare_cached("SELECT count FROM load_counts WHERE rep = ?1 AND since_s = ?2")
            .db()?
            .query_row(params![rep, key], |row| row.get(0))
            .optional()
            .db()?;
        // This batch's own assignments reach `load_counts` only at commit.
        let pending = self
            .assigned_in_batch
            .get(rep)
            .map_or(0, |times| times.iter().filter(|at| **at >= key).count());
        let pending = i64::try_from(pending).unwrap_or(0);
        let count = match cached {
            Some(count) => count + pending,
            None => {
                // Counted once for this (rep, since), then kept current at every commit.
                let count: i64 = self
                    .connection
                    .prepare_cached(
                        "SELECT COUNT(*) FROM assignments WHERE rep = ?1 AND at_s >= ?2",
                    )
                    .db()?
                    .query_row(params![rep, key], |row| row.get(0))
                    .db()?;
                self.connection
                    .prepare_cached(
                        "INSERT INTO load_counts (rep, since_s, count) VALUES (?1, ?2, ?3)",
                    )
                    .db()?
                    .execute(params![rep, key, count - pending])
                    .db()?;
                count
            }
        };
        let count = u64::try_from(count).unwrap_or(0);
        self.loads.insert(rep, since, count);
        Ok(count)
    }

    fn assigned_in(
        &mut self,
        rep: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<u64, StateError> {
        if let Some(count) = self.windows.get(rep, from, to) {
            return Ok(count);
        }
        let (from_s, to_s) = (from.as_second(), to.as_second());
        let stored: Option<i64> = self
            .connection
            .prepare_cached(
                "SELECT count FROM window_counts WHERE rep = ?1 AND from_s = ?2 AND to_s = ?3",
            )
            .db()?
            .query_row(params![rep, from_s, to_s], |row| row.get(0))
            .optional()
            .db()?;
        // This batch's own assignments reach `window_counts` only at commit.
        let pending = self.lead_times_in_batch.get(rep).map_or(0, |times| {
            times
                .iter()
                .filter(|at| from_s <= **at && **at < to_s)
                .count()
        });
        let pending = i64::try_from(pending).unwrap_or(0);
        let count = match stored {
            Some(count) => count + pending,
            None => {
                // Counted once for this (rep, window), then kept current at every commit.
                let count: i64 = self
                    .connection
                    .prepare_cached(
                        "SELECT COUNT(*) FROM lead_times \
                         WHERE rep = ?1 AND lead_s >= ?2 AND lead_s < ?3",
                    )
                    .db()?
                    .query_row(params![rep, from_s, to_s], |row| row.get(0))
                    .db()?;
                self.connection
                    .prepare_cached(
                        "INSERT INTO window_counts (rep, from_s, to_s, count) VALUES (?1, ?2, ?3, ?4)",
                    )
                    .db()?
                    .execute(params![rep, from_s, to_s, count - pending])
                    .db()?;
                count
            }
        };
        let count = u64::try_from(count).unwrap_or(0);
        self.windows.insert(rep, from, to, count);
        Ok(count)
    }

    fn remember(
        &mut self,
        field: &str,
        key: &str,
        lead: &str,
        lead_at: Timestamp,
        rep: &str,
    ) -> Result<(), StateError> {
        self.connection
            .prepare_cached(
                "INSERT OR REPLACE INTO prospects (field, key, lead_s, lead, rep) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .db()?
            .execute(params![field, key, lead_at.as_second(), lead, rep])
            .db()?;
        Ok(())
    }

    fn previous_rep(
        &mut self,
        field: &str,
        key: &str,
        lead: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Option<String>, StateError> {
        self.connection
            .prepare_cached(
                "SELECT rep FROM prospects WHERE field = ?1 AND key = ?2 AND lead_s >= ?3 \
                 AND lead_s <= ?4 AND lead != ?5 ORDER BY lead_s DESC LIMIT 1",
            )
            .db()?
            .query_row(
                params![field, key, from.as_second(), to.as_second(), lead],
                |row| row.get(0),
            )
            .optional()
            .db()
    }

    fn assign(
        &mut self,
        rep: &str,
        lead: &str,
        at: Timestamp,
        lead_at: Timestamp,
    ) -> Result<(), StateError> {
        self.connection
            .prepare_cached(
                "INSERT OR REPLACE INTO lead_times (rep, lead_s, lead) VALUES (?1, ?2, ?3)",
            )
            .db()?
            .execute(params![rep, lead_at.as_second(), lead])
            .db()?;
        self.windows.assigned(rep, lead_at);
        self.lead_times_in_batch
            .entry(rep.to_string())
            .or_default()
            .push(lead_at.as_second());
        let at_s = at.as_second();
        self.connection
            .prepare_cached(
                "INSERT OR IGNORE INTO assignments (lead, rep, at_s) VALUES (?1, ?2, ?3)",
            )
            .db()?
            .execute(params![lead, rep, at_s])
            .db()?;
        match self.assigned_in_batch.get_mut(rep) {
            Some(times) => times.push(at_s),
            None => {
                self.assigned_in_batch.insert(rep.to_string(), vec![at_s]);
            }
        }
        self.loads.assigned(rep, at);
        Ok(())
    }

    fn schedule(
        &mut self,
        lead: &str,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<(), StateError> {
        if from == to {
            return Ok(());
        }
        if from.is_none()
            && let Some(to) = to
        {
            // Routing: appended in arrival order (one page written per batch), taken into the
            // time-ordered index in bulk when a sweep reads it.
            self.connection
                .prepare_cached("INSERT INTO pending_due (at_ns, lead) VALUES (?1, ?2)")
                .db()?
                .execute(params![nanos(to), lead])
                .db()?;
            return Ok(());
        }
        // The entry to move may still be in the pending list.
        self.take_pending_due()?;
        if let Some(from) = from {
            self.connection
                .prepare_cached("DELETE FROM due WHERE at_ns = ?1 AND lead = ?2")
                .db()?
                .execute(params![nanos(from), lead])
                .db()?;
        }
        if let Some(to) = to {
            self.connection
                .prepare_cached("INSERT OR IGNORE INTO due (at_ns, lead) VALUES (?1, ?2)")
                .db()?
                .execute(params![nanos(to), lead])
                .db()?;
        }
        Ok(())
    }

    fn due(
        &mut self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(String, Timestamp)>, StateError> {
        self.take_pending_due()?;
        let rows: Vec<(String, i64)> = self
            .connection
            .prepare_cached(
                "SELECT lead, at_ns FROM due WHERE at_ns <= ?1 ORDER BY at_ns, lead LIMIT ?2",
            )
            .db()?
            .query_map(
                params![nanos(now), i64::try_from(limit).unwrap_or(i64::MAX)],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .db()?
            .collect::<Result<_, _>>()
            .db()?;
        Ok(rows
            .into_iter()
            .map(|(lead, at)| {
                (
                    lead,
                    Timestamp::from_nanosecond(i128::from(at)).unwrap_or(Timestamp::MIN),
                )
            })
            .collect())
    }

    fn life(&mut self, lead: &str) -> Result<Option<Life>, StateError> {
        let text: Option<String> = self
            .connection
            .prepare_cached("SELECT entry FROM lives WHERE lead = ?1")
            .db()?
            .query_row(params![lead], |row| row.get(0))
            .optional()
            .db()?;
        text.map(|text| read_life(lead, &text)).transpose()
    }

    fn keep_life(&mut self, life: Life) -> Result<(), StateError> {
        let text = life_text(&life)?;
        self.connection
            .prepare_cached(
                "INSERT INTO lives (lead, entry) VALUES (?1, ?2) \
                 ON CONFLICT (lead) DO UPDATE SET entry = excluded.entry",
            )
            .db()?
            .execute(params![life.lead, text])
            .db()?;
        Ok(())
    }

    fn each_lead(
        &mut self,
        visit: &mut dyn FnMut(Recorded, Option<Life>),
    ) -> Result<(), StateError> {
        let mut statement = self
            .connection
            .prepare("SELECT l.lead, l.entry, v.entry FROM ledger l LEFT JOIN lives v ON v.lead = l.lead")
            .db()?;
        let mut rows = statement.query([]).db()?;
        while let Some(row) = rows.next().db()? {
            let lead: String = row.get(0).db()?;
            let entry: Vec<u8> = row.get(1).db()?;
            let life: Option<String> = row.get(2).db()?;
            let recorded = read_entry(&lead, &entry)?;
            let life = life.map(|text| read_life(&lead, &text)).transpose()?;
            visit(recorded, life);
        }
        Ok(())
    }

    fn post(
        &mut self,
        at: Timestamp,
        lead: &str,
        body: &str,
        pending: bool,
    ) -> Result<u64, StateError> {
        self.connection
            .prepare_cached(
                "INSERT INTO outbox (at_ns, lead, body, pending) VALUES (?1, ?2, ?3, ?4)",
            )
            .db()?
            .execute(params![nanos(at), lead, body, pending])
            .db()?;
        Ok(u64::try_from(self.connection.last_insert_rowid()).unwrap_or_default())
    }

    fn undelivered(&mut self, limit: usize) -> Result<Vec<Outgoing>, StateError> {
        self.outgoing(
            "SELECT seq, at_ns, lead, body, pending FROM outbox WHERE pending = 1 \
             ORDER BY seq LIMIT ?1",
            params![i64::try_from(limit).unwrap_or(i64::MAX)],
        )
    }

    fn delivered(&mut self, seq: u64) -> Result<(), StateError> {
        self.connection
            .prepare_cached("UPDATE outbox SET pending = 0 WHERE seq = ?1")
            .db()?
            .execute(params![i64::try_from(seq).unwrap_or(i64::MAX)])
            .db()?;
        Ok(())
    }

    fn posted_since(
        &mut self,
        since: Timestamp,
        limit: usize,
    ) -> Result<Vec<Outgoing>, StateError> {
        self.outgoing(
            "SELECT seq, at_ns, lead, body, pending FROM outbox WHERE at_ns >= ?1 \
             ORDER BY at_ns, seq LIMIT ?2",
            params![nanos(since), i64::try_from(limit).unwrap_or(i64::MAX)],
        )
    }

    fn lease(
        &mut self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StateError> {
        let taken = self
            .connection
            .prepare_cached(LEASE)
            .db()?
            .execute(params![name, holder, nanos(until), nanos(now)])
            .db()?;
        Ok(taken == 1)
    }

    fn tables_version(&self) -> Option<(i64, i64)> {
        Some((self.tables_found, SCHEMA_VERSION))
    }

    fn export(
        &mut self,
        visit: &mut dyn FnMut(StateRow) -> Result<(), StateError>,
    ) -> Result<(), StateError> {
        // One read transaction: the rows of every table as of one moment.
        self.connection.execute_batch("BEGIN").db()?;
        let exported = self.export_rows(visit);
        let ended = self.connection.execute_batch("COMMIT").db();
        exported.and(ended)
    }

    fn import(
        &mut self,
        rows: &mut dyn Iterator<Item = Result<StateRow, StateError>>,
    ) -> Result<u64, StateError> {
        self.connection.execute_batch("BEGIN IMMEDIATE").db()?;
        let imported = self.import_rows(rows);
        match imported {
            Ok(count) => {
                self.connection.execute_batch("COMMIT").db()?;
                Ok(count)
            }
            Err(error) => {
                let _ = self.connection.execute_batch("ROLLBACK");
                Err(error)
            }
        }
    }
}

impl SqliteState {
    fn outgoing(
        &mut self,
        query: &str,
        values: impl rusqlite::Params,
    ) -> Result<Vec<Outgoing>, StateError> {
        let mut statement = self.connection.prepare_cached(query).db()?;
        let rows = statement
            .query_map(values, |row| {
                let at: i64 = row.get(1)?;
                Ok(Outgoing {
                    seq: u64::try_from(row.get::<_, i64>(0)?).unwrap_or_default(),
                    at: from_nanos(at),
                    lead: row.get(2)?,
                    body: row.get(3)?,
                    pending: row.get(4)?,
                })
            })
            .db()?;
        rows.collect::<Result<Vec<_>, _>>().db()
    }
}
