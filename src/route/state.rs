//! Routing state behind one small interface: each pool's rotation state, the assignments that
//! make up reps' load, and the ledger of every decision (which is how a lead seen before gets its
//! recorded decision again). Two stores: in memory, and SQLite (the embedded default).
//!
//! Architecture invariant: strategies never know which store they talk to. Every change happens
//! inside a batch (`begin` .. `commit`); with SQLite a batch is one `BEGIN IMMEDIATE`
//! transaction, so two routers on one file serialise, and a killed run loses only its
//! uncommitted batch, which a re-run decides again.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::path::Path;

/// A state store failure (SQLite I/O, a locked database past the timeout, a corrupt file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateError(pub String);

impl std::fmt::Display for StateError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl From<rusqlite::Error> for StateError {
    fn from(error: rusqlite::Error) -> StateError {
        StateError(format!("state database: {error}"))
    }
}

/// What routing remembers between leads and between runs.
pub trait StateStore {
    /// Starts a batch of changes.
    fn begin(&mut self) -> Result<(), StateError>;
    /// Makes the batch's changes durable.
    fn commit(&mut self) -> Result<(), StateError>;
    /// The recorded decision for a lead id, if it was routed before.
    fn recorded(&mut self, lead: &str) -> Result<Option<String>, StateError>;
    /// Records a decision.
    fn record(&mut self, lead: &str, decision: &str, policy_hash: &str) -> Result<(), StateError>;
    /// A pool's rotation state (opaque to the store).
    fn rotation(&mut self, pool: &str) -> Result<Option<String>, StateError>;
    fn set_rotation(&mut self, pool: &str, value: &str) -> Result<(), StateError>;
    /// How many leads this state assigned to `rep` at or after `since` (all, without `since`).
    fn assigned(&mut self, rep: &str, since: Option<Timestamp>) -> Result<u64, StateError>;
    /// Records that `lead` went to `rep`; `at` is the lead's time.
    fn assign(&mut self, rep: &str, lead: &str, at: Timestamp) -> Result<(), StateError>;
}

/// State that lives as long as the process (`--state :memory:`).
#[derive(Debug, Default)]
pub struct MemoryState {
    ledger: Ledger,
    rotations: HashMap<String, String>,
    assignments: HashMap<String, Vec<Timestamp>>,
    /// Load counts already asked for, kept current as leads are assigned.
    loads: Loads,
}

impl StateStore for MemoryState {
    fn begin(&mut self) -> Result<(), StateError> {
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StateError> {
        Ok(())
    }

    fn recorded(&mut self, lead: &str) -> Result<Option<String>, StateError> {
        Ok(self.ledger.get(lead).map(str::to_string))
    }

    fn record(&mut self, lead: &str, decision: &str, _policy_hash: &str) -> Result<(), StateError> {
        self.ledger.insert(lead, decision);
        Ok(())
    }

    fn rotation(&mut self, pool: &str) -> Result<Option<String>, StateError> {
        Ok(self.rotations.get(pool).cloned())
    }

    fn set_rotation(&mut self, pool: &str, value: &str) -> Result<(), StateError> {
        self.rotations.insert(pool.to_string(), value.to_string());
        Ok(())
    }

    fn assigned(&mut self, rep: &str, since: Option<Timestamp>) -> Result<u64, StateError> {
        if let Some(count) = self.loads.get(rep, since) {
            return Ok(count);
        }
        let times = self.assignments.get(rep).map_or(&[][..], Vec::as_slice);
        let count = times
            .iter()
            .filter(|at| since.is_none_or(|since| **at >= since))
            .count() as u64;
        self.loads.insert(rep, since, count);
        Ok(count)
    }

    fn assign(&mut self, rep: &str, _lead: &str, at: Timestamp) -> Result<(), StateError> {
        match self.assignments.get_mut(rep) {
            Some(times) => times.push(at),
            None => {
                self.assignments.insert(rep.to_string(), vec![at]);
            }
        }
        self.loads.assigned(rep, at);
        Ok(())
    }
}

/// The in-memory ledger, compact for long runs: lead ids and decisions are appended to large
/// text chunks (no allocation per lead, no copying as it grows), and a table maps a 64-bit hash
/// of the id to where they lie. The stored id is compared on every hit, so a hash collision can
/// never return another lead's decision (colliding ids go to a small exact map).
#[derive(Debug, Default)]
struct Ledger {
    chunks: Vec<String>,
    by_hash: HashMap<u64, Place, std::hash::BuildHasherDefault<IdentityHasher>>,
    collisions: HashMap<Box<str>, String>,
    hasher: std::collections::hash_map::RandomState,
}

/// Where one entry lies: chunk, offset, length of the id, length of the decision.
#[derive(Debug, Clone, Copy)]
struct Place {
    chunk: u32,
    offset: u32,
    id_len: u32,
    decision_len: u32,
}

const CHUNK: usize = 4 << 20;

impl Ledger {
    fn hash(&self, id: &str) -> u64 {
        std::hash::BuildHasher::hash_one(&self.hasher, id)
    }

    fn text(&self, place: Place) -> Option<(&str, &str)> {
        let chunk = self.chunks.get(place.chunk as usize)?;
        let start = place.offset as usize;
        let middle = start + place.id_len as usize;
        let end = middle + place.decision_len as usize;
        Some((chunk.get(start..middle)?, chunk.get(middle..end)?))
    }

    fn get(&self, id: &str) -> Option<&str> {
        if let Some(decision) = self.collisions.get(id) {
            return Some(decision);
        }
        let place = *self.by_hash.get(&self.hash(id))?;
        let (stored, decision) = self.text(place)?;
        (stored == id).then_some(decision)
    }

    fn insert(&mut self, id: &str, decision: &str) {
        let hash = self.hash(id);
        if let Some(place) = self.by_hash.get(&hash).copied()
            && self.text(place).is_some_and(|(stored, _)| stored != id)
        {
            self.collisions.insert(id.into(), decision.to_string());
            return;
        }
        if self.by_hash.capacity() == 0 {
            self.by_hash.reserve(1 << 16);
        }
        let needed = id.len() + decision.len();
        if self
            .chunks
            .last()
            .is_none_or(|chunk| chunk.len() + needed > chunk.capacity())
        {
            self.chunks.push(String::with_capacity(CHUNK.max(needed)));
        }
        let chunk_index = self.chunks.len() - 1;
        let Some(chunk) = self.chunks.last_mut() else {
            return;
        };
        let place = Place {
            chunk: u32::try_from(chunk_index).unwrap_or(u32::MAX),
            offset: u32::try_from(chunk.len()).unwrap_or(u32::MAX),
            id_len: u32::try_from(id.len()).unwrap_or(u32::MAX),
            decision_len: u32::try_from(decision.len()).unwrap_or(u32::MAX),
        };
        chunk.push_str(id);
        chunk.push_str(decision);
        self.by_hash.insert(hash, place);
    }
}

/// The ledger's keys are already hashes.
#[derive(Debug, Default)]
struct IdentityHasher(u64);

impl std::hash::Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
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

/// Cached load counts per rep and `since`, looked up without allocating.
#[derive(Debug, Default)]
struct Loads(HashMap<String, Vec<(Option<Timestamp>, u64)>>);

impl Loads {
    fn get(&self, rep: &str, since: Option<Timestamp>) -> Option<u64> {
        self.0
            .get(rep)?
            .iter()
            .find(|(s, _)| *s == since)
            .map(|(_, count)| *count)
    }

    fn insert(&mut self, rep: &str, since: Option<Timestamp>, count: u64) {
        self.0
            .entry(rep.to_string())
            .or_default()
            .push((since, count));
    }

    /// Counts one more assignment at `at` for every cached `since` it falls after.
    fn assigned(&mut self, rep: &str, at: Timestamp) {
        if let Some(entries) = self.0.get_mut(rep) {
            for (since, count) in entries {
                if since.is_none_or(|since| at >= since) {
                    *count += 1;
                }
            }
        }
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

impl SqliteState {
    /// Opens (creating if needed) the state database at `path`.
    pub fn open(path: &Path) -> Result<SqliteState, StateError> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|error| {
                StateError(format!("cannot create `{}`: {error}", parent.display()))
            })?;
        }
        // Another router may be creating or converting the same file right now: some of these
        // steps fail with "database is locked" without waiting, so retry them for a while.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            match SqliteState::try_open(path) {
                Ok(state) => return Ok(state),
                Err(error) if is_busy(&error) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    fn try_open(path: &Path) -> Result<SqliteState, rusqlite::Error> {
        let connection = Connection::open(path)?;
        connection.busy_timeout(std::time::Duration::from_secs(60))?;
        let mode: String = connection.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            connection.pragma_update(None, "journal_mode", "WAL")?;
        }
        // FULL: a committed batch survives power loss too, and its decisions are only printed
        // after the commit.
        connection.pragma_update(None, "synchronous", "FULL")?;
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
        Ok(SqliteState {
            connection,
            in_batch: false,
            rotations: HashMap::new(),
            loads: Loads::default(),
        })
    }
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
        self.connection.execute_batch("BEGIN IMMEDIATE")?;
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
                .prepare_cached("INSERT INTO rotations (pool, state) VALUES (?1, ?2) ON CONFLICT (pool) DO UPDATE SET state = excluded.state")?;
            for (pool, (state, dirty)) in &self.rotations {
                if *dirty {
                    statement.execute(params![pool, state])?;
                }
            }
        }
        self.connection.execute_batch("COMMIT")?;
        self.in_batch = false;
        Ok(())
    }

    fn recorded(&mut self, lead: &str) -> Result<Option<String>, StateError> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT decision FROM ledger WHERE lead = ?1")?;
        Ok(statement
            .query_row(params![lead], |row| row.get::<_, String>(0))
            .optional()?)
    }

    fn record(&mut self, lead: &str, decision: &str, policy_hash: &str) -> Result<(), StateError> {
        let mut statement = self.connection.prepare_cached(
            "INSERT INTO ledger (lead, decision, policy_hash) VALUES (?1, ?2, ?3)",
        )?;
        statement.execute(params![lead, decision, policy_hash])?;
        Ok(())
    }

    fn rotation(&mut self, pool: &str) -> Result<Option<String>, StateError> {
        if let Some((state, _)) = self.rotations.get(pool) {
            return Ok(Some(state.clone()));
        }
        let mut statement = self
            .connection
            .prepare_cached("SELECT state FROM rotations WHERE pool = ?1")?;
        let state = statement
            .query_row(params![pool], |row| row.get::<_, String>(0))
            .optional()?;
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
            .prepare_cached("SELECT COUNT(*) FROM assignments WHERE rep = ?1 AND at_ns >= ?2")?;
        let count: i64 = statement.query_row(params![rep, since_text], |row| row.get(0))?;
        let count = u64::try_from(count).unwrap_or(0);
        self.loads.insert(rep, since, count);
        Ok(count)
    }

    fn assign(&mut self, rep: &str, lead: &str, at: Timestamp) -> Result<(), StateError> {
        let mut statement = self.connection.prepare_cached(
            "INSERT OR REPLACE INTO assignments (lead, rep, at_ns) VALUES (?1, ?2, ?3)",
        )?;
        statement.execute(params![lead, rep, sortable(at)])?;
        self.loads.assigned(rep, at);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_ledger_returns_each_leads_own_decision() {
        let mut ledger = Ledger::default();
        for i in 0..20_000 {
            ledger.insert(&format!("L-{i}"), &format!("{{\"lead\":\"L-{i}\"}}"));
        }
        for i in 0..20_000 {
            let expected = format!("{{\"lead\":\"L-{i}\"}}");
            assert_eq!(ledger.get(&format!("L-{i}")), Some(expected.as_str()));
        }
        assert_eq!(ledger.get("L-20000"), None);
        // A decision longer than a chunk gets a chunk of its own.
        let long = "x".repeat(CHUNK + 10);
        ledger.insert("big", &long);
        assert_eq!(ledger.get("big").map(str::len), Some(long.len()));
    }
}
