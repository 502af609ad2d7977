//! The PostgreSQL `StateStore` (`--state postgres://user@host/db`): one database that several
//! routers share, so that they route as one. Correct under concurrency by design:
//! - the ledger's lead id is the primary key; a lead recorded by another router since this one
//!   looked is a [`StateErrorKind::Conflict`], and the batch is decided again (it then answers
//!   the recorded decision);
//! - a pool's rotation row is read `FOR UPDATE`, so the routers that pick from one pool take
//!   turns, each seeing the cursor and the counts the previous one committed;
//! - loads, period caps and `previous rep of` are counted in the database, never cached across
//!   batches (another router may have assigned since);
//! - serialization failures and deadlocks are conflicts too. No advisory locks (CockroachDB does
//!   not honour them): row locks and unique keys only.
//!
//! Tables are created and migrated by the program, with their version in `switchboard_schema`;
//! a database written by a newer Switchboard is refused. Errors name the host, port and
//! database, never the password.

use super::{nanos, read_life};
use jiff::Timestamp;
use postgres::{Client, NoTls, Row, Statement};
use std::collections::HashMap;
use switchboard_core::route::life::Life;
use switchboard_core::route::state::{
    Outgoing, Recorded, StateError, StateErrorKind, StateStore, compact,
};

/// The version of the tables this build writes.
const SCHEMA_VERSION: i32 = 1;

const TABLES: &str = "
    CREATE TABLE IF NOT EXISTS ledger (lead TEXT PRIMARY KEY, entry BYTEA NOT NULL);
    CREATE TABLE IF NOT EXISTS rotations (pool TEXT PRIMARY KEY, state TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS assignments (
        lead TEXT NOT NULL, rep TEXT NOT NULL, at_s BIGINT NOT NULL, PRIMARY KEY (lead, rep));
    CREATE INDEX IF NOT EXISTS assignments_by_rep ON assignments (rep, at_s);
    CREATE TABLE IF NOT EXISTS rep_totals (rep TEXT PRIMARY KEY, total BIGINT NOT NULL);
    CREATE TABLE IF NOT EXISTS lead_times (
        rep TEXT NOT NULL, lead_s BIGINT NOT NULL, lead TEXT NOT NULL,
        PRIMARY KEY (rep, lead_s, lead));
    CREATE TABLE IF NOT EXISTS prospects (
        field TEXT NOT NULL, key TEXT NOT NULL, lead_s BIGINT NOT NULL, lead TEXT NOT NULL,
        rep TEXT NOT NULL, PRIMARY KEY (field, key, lead_s, lead));
    CREATE TABLE IF NOT EXISTS lives (lead TEXT PRIMARY KEY, entry TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS due (at_ns BIGINT NOT NULL, lead TEXT NOT NULL,
        PRIMARY KEY (at_ns, lead));
    CREATE TABLE IF NOT EXISTS outbox (
        seq BIGSERIAL PRIMARY KEY, at_ns BIGINT NOT NULL, lead TEXT NOT NULL, body TEXT NOT NULL,
        pending BOOLEAN NOT NULL);
    CREATE INDEX IF NOT EXISTS outbox_by_time ON outbox (at_ns, seq);
    CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (seq) WHERE pending;";

/// State in a PostgreSQL database.
pub struct PostgresState {
    client: Client,
    config: postgres::Config,
    /// `host:port/database`, for messages.
    place: String,
    in_batch: bool,
    /// Rotation states read (and locked) or written in this batch; written back at commit.
    rotations: HashMap<String, (Option<String>, bool)>,
    /// Reps whose `rep_totals` row this batch holds locked: their counts are read under it.
    locked_reps: std::collections::HashSet<String>,
    statements: HashMap<&'static str, Statement>,
    scratch: Vec<u8>,
}

/// Where a configuration points, without its password.
fn place_of(config: &postgres::Config) -> String {
    let host = config.get_hosts().first().map_or_else(
        || "localhost".to_string(),
        |host| match host {
            postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(path) => path.display().to_string(),
        },
    );
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{database}")
}

/// Whether a failure may pass by itself (the server is starting, restarting or unreachable).
fn transient(error: &postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    match error.code() {
        Some(code) => {
            code == &postgres::error::SqlState::CANNOT_CONNECT_NOW
                || code == &postgres::error::SqlState::ADMIN_SHUTDOWN
                || code == &postgres::error::SqlState::CRASH_SHUTDOWN
                || code == &postgres::error::SqlState::TOO_MANY_CONNECTIONS
        }
        // No SQL state: the connection itself failed (refused, reset, timed out).
        None => true,
    }
}

impl PostgresState {
    /// Connects to the database `url` names (retrying for a while when the server is not
    /// there yet), then creates or migrates the tables.
    pub fn open(url: &str) -> Result<PostgresState, StateError> {
        let config: postgres::Config = url.parse().map_err(|error| {
            StateError::new(
                StateErrorKind::Unavailable,
                format!("--state: not a PostgreSQL URL such as postgres://user@host/db: {error}"),
            )
        })?;
        if config.get_ssl_mode() == postgres::config::SslMode::Require {
            return Err(StateError::new(
                StateErrorKind::Unavailable,
                "--state: sslmode=require: this build talks to PostgreSQL without TLS (on \
                 localhost, a private network or a tunnel); leave sslmode out or set \
                 sslmode=disable",
            ));
        }
        let mut config = config;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(5));
        }
        config.keepalives(true);
        let place = place_of(&config);
        let client = connect(&config, &place)?;
        let mut state = PostgresState {
            client,
            config,
            place,
            in_batch: false,
            rotations: HashMap::new(),
            locked_reps: std::collections::HashSet::new(),
            statements: HashMap::new(),
            scratch: Vec::with_capacity(1024),
        };
        state.migrate()?;
        Ok(state)
    }

    /// A failure of this database as a state error naming it.
    fn failure(&self, error: &postgres::Error) -> StateError {
        let kind = match error.code() {
            Some(code)
                if code == &postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
                    || code == &postgres::error::SqlState::T_R_DEADLOCK_DETECTED
                    || code == &postgres::error::SqlState::LOCK_NOT_AVAILABLE =>
            {
                StateErrorKind::Conflict
            }
            _ if transient(error) => StateErrorKind::Unavailable,
            _ => StateErrorKind::Failed,
        };
        StateError::new(
            kind,
            format!(
                "state database (PostgreSQL at {}): {}",
                self.place,
                detail(error)
            ),
        )
    }

    fn statement(&mut self, sql: &'static str) -> Result<Statement, StateError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self
            .client
            .prepare(sql)
            .map_err(|error| self.failure(&error))?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }

    fn execute(
        &mut self,
        sql: &'static str,
        values: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<u64, StateError> {
        let statement = self.statement(sql)?;
        self.client
            .execute(&statement, values)
            .map_err(|error| self.failure(&error))
    }

    fn query(
        &mut self,
        sql: &'static str,
        values: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, StateError> {
        let statement = self.statement(sql)?;
        self.client
            .query(&statement, values)
            .map_err(|error| self.failure(&error))
    }

    fn query_opt(
        &mut self,
        sql: &'static str,
        values: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Option<Row>, StateError> {
        let statement = self.statement(sql)?;
        self.client
            .query_opt(&statement, values)
            .map_err(|error| self.failure(&error))
    }

    /// Creates the tables, or refuses a database written by a newer Switchboard. Two routers
    /// starting at once may race to create them: the loser retries.
    fn migrate(&mut self) -> Result<(), StateError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.try_migrate() {
                Ok(result) => return result,
                Err(error) if attempts < 5 && error.code().is_some() => {
                    let _ = self.client.batch_execute("ROLLBACK");
                    std::thread::sleep(std::time::Duration::from_millis(50 * attempts));
                }
                Err(error) => return Err(self.failure(&error)),
            }
        }
    }

    fn try_migrate(&mut self) -> Result<Result<(), StateError>, postgres::Error> {
        self.client.batch_execute(
            "CREATE TABLE IF NOT EXISTS switchboard_schema (version INTEGER NOT NULL)",
        )?;
        let mut transaction = self.client.transaction()?;
        let version: Option<i32> = transaction
            .query_one("SELECT max(version) FROM switchboard_schema", &[])?
            .get(0);
        if let Some(version) = version
            && version > SCHEMA_VERSION
        {
            return Ok(Err(StateError::new(
                StateErrorKind::Unavailable,
                format!(
                    "the state at {} was written by a newer Switchboard (tables version \
                     {version}; this one knows {SCHEMA_VERSION}): upgrade switchboard, or use \
                     another --state",
                    self.place
                ),
            )));
        }
        if version.is_none_or(|version| version < SCHEMA_VERSION) {
            transaction.batch_execute(TABLES)?;
            transaction.execute("DELETE FROM switchboard_schema", &[])?;
            transaction.execute(
                "INSERT INTO switchboard_schema (version) VALUES ($1)",
                &[&SCHEMA_VERSION],
            )?;
        }
        transaction.commit()?;
        Ok(Ok(()))
    }

    /// Locks a rep's row until the batch ends, before any of the rep's counts is read: a
    /// router that weighs this rep (its load, its caps) waits for another that is assigning it
    /// to commit, so no cap is passed and no load is stale. (Every count is read after the rep
    /// was locked: the router reads the load first for each candidate.)
    fn lock_rep(&mut self, rep: &str) -> Result<(), StateError> {
        if !self.in_batch || self.locked_reps.contains(rep) {
            return Ok(());
        }
        self.execute(
            "INSERT INTO rep_totals (rep, total) VALUES ($1, 0) ON CONFLICT (rep) DO NOTHING",
            &[&rep],
        )?;
        self.query(
            "SELECT total FROM rep_totals WHERE rep = $1 FOR UPDATE",
            &[&rep],
        )?;
        self.locked_reps.insert(rep.to_string());
        Ok(())
    }

    /// Reconnects when the server went away between batches (a restart, a failover).
    fn reconnect_if_closed(&mut self) -> Result<(), StateError> {
        if self.client.is_closed() {
            self.client = connect(&self.config, &self.place)?;
            self.statements.clear();
        }
        Ok(())
    }

    fn outgoing(rows: Vec<Row>) -> Vec<Outgoing> {
        rows.into_iter()
            .map(|row| Outgoing {
                seq: u64::try_from(row.get::<_, i64>(0)).unwrap_or_default(),
                at: from_nanos(row.get(1)),
                lead: row.get(2),
                body: row.get(3),
                pending: row.get(4),
            })
            .collect()
    }
}

/// What went wrong, with its cause (`error connecting to server: Connection refused`).
fn detail(error: &postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return db.message().to_string();
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Connects, retrying transient failures for up to 5 seconds.
fn connect(config: &postgres::Config, place: &str) -> Result<Client, StateError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut wait = std::time::Duration::from_millis(50);
    loop {
        match config.connect(NoTls) {
            Ok(mut client) => {
                // A lock held too long (another router stuck mid-batch) is a conflict to
                // retry, not a wait without end; a session idle inside a batch (a producer
                // that stopped writing) is ended by the server, releasing its locks.
                let limited = client.batch_execute(
                    "SET lock_timeout = '10s'; SET idle_in_transaction_session_timeout = '60s'",
                );
                if let Err(error) = limited {
                    return Err(StateError::new(
                        StateErrorKind::Unavailable,
                        format!(
                            "cannot configure the session at {place}: {}",
                            detail(&error)
                        ),
                    ));
                }
                return Ok(client);
            }
            Err(error) if transient(&error) && std::time::Instant::now() < deadline => {
                std::thread::sleep(wait);
                wait = (wait * 2).min(std::time::Duration::from_secs(1));
            }
            Err(error) => {
                let mut message = format!(
                    "cannot connect to PostgreSQL at {place}: {}",
                    detail(&error)
                );
                if error.code() == Some(&postgres::error::SqlState::INVALID_CATALOG_NAME) {
                    message.push_str(
                        " (Switchboard creates its tables, not the database: create it once, as \
                         with `createdb`)",
                    );
                }
                return Err(StateError::new(StateErrorKind::Unavailable, message));
            }
        }
    }
}

fn from_nanos(at: i64) -> Timestamp {
    Timestamp::from_nanosecond(i128::from(at)).unwrap_or(Timestamp::MIN)
}

fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn count(row: &Row) -> u64 {
    u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)
}

/// A ledger entry of `lead`, read back.
fn decode(lead: &str, entry: &[u8]) -> Result<Recorded, StateError> {
    compact::decode_recorded(entry)
        .filter(|recorded| recorded.decision.lead == lead)
        .ok_or_else(|| {
            StateError::new(
                StateErrorKind::Corrupt,
                format!("state database: the recorded decision of `{lead}` cannot be read"),
            )
        })
}

impl StateStore for PostgresState {
    fn begin(&mut self) -> Result<(), StateError> {
        if self.in_batch {
            return Ok(());
        }
        self.reconnect_if_closed()?;
        self.client
            .batch_execute("BEGIN")
            .map_err(|error| self.failure(&error))?;
        self.in_batch = true;
        self.rotations.clear();
        self.locked_reps.clear();
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StateError> {
        if !self.in_batch {
            return Ok(());
        }
        let dirty: Vec<(String, String)> = self
            .rotations
            .iter()
            .filter(|(_, (_, dirty))| *dirty)
            .filter_map(|(pool, (state, _))| state.clone().map(|state| (pool.clone(), state)))
            .collect();
        for (pool, state) in dirty {
            self.execute(
                "UPDATE rotations SET state = $2 WHERE pool = $1",
                &[&pool, &state],
            )?;
        }
        let committed = self.client.batch_execute("COMMIT");
        self.in_batch = false;
        self.rotations.clear();
        self.locked_reps.clear();
        committed.map_err(|error| self.failure(&error))
    }

    fn rollback(&mut self) -> Result<(), StateError> {
        if !self.in_batch {
            return Ok(());
        }
        self.in_batch = false;
        self.rotations.clear();
        self.locked_reps.clear();
        if self.client.is_closed() {
            // The server rolled it back when the connection went.
            return Ok(());
        }
        self.client
            .batch_execute("ROLLBACK")
            .map_err(|error| self.failure(&error))
    }

    fn keeps_traces(&self) -> bool {
        true
    }

    fn recorded(&mut self, lead: &str) -> Result<Option<Recorded>, StateError> {
        let Some(row) = self.query_opt("SELECT entry FROM ledger WHERE lead = $1", &[&lead])?
        else {
            return Ok(None);
        };
        decode(lead, &row.get::<_, Vec<u8>>(0)).map(Some)
    }

    fn recorded_for_update(&mut self, lead: &str) -> Result<Option<Recorded>, StateError> {
        let Some(row) = self.query_opt(
            "SELECT entry FROM ledger WHERE lead = $1 FOR UPDATE",
            &[&lead],
        )?
        else {
            return Ok(None);
        };
        decode(lead, &row.get::<_, Vec<u8>>(0)).map(Some)
    }

    fn record(&mut self, entry: &Recorded) -> Result<(), StateError> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        compact::encode_recorded(entry, &mut scratch);
        let inserted = self.execute(
            "INSERT INTO ledger (lead, entry) VALUES ($1, $2) ON CONFLICT (lead) DO NOTHING",
            &[&entry.decision.lead, &scratch],
        );
        self.scratch = scratch;
        if inserted? == 0 {
            // Another router recorded this lead after this one looked: decide the batch again.
            return Err(StateError::new(
                StateErrorKind::Conflict,
                format!(
                    "state database: lead `{}` was recorded by another router at the same time",
                    entry.decision.lead
                ),
            ));
        }
        Ok(())
    }

    fn rotation(&mut self, pool: &str) -> Result<Option<String>, StateError> {
        if let Some((state, _)) = self.rotations.get(pool) {
            return Ok(state.clone());
        }
        // The row exists before it is locked, so that the first routers of a new pool queue up
        // on it too.
        self.execute(
            "INSERT INTO rotations (pool, state) VALUES ($1, '') ON CONFLICT (pool) DO NOTHING",
            &[&pool],
        )?;
        let row = self.query_opt(
            "SELECT state FROM rotations WHERE pool = $1 FOR UPDATE",
            &[&pool],
        )?;
        let state = row
            .map(|row| row.get::<_, String>(0))
            .filter(|state| !state.is_empty());
        self.rotations
            .insert(pool.to_string(), (state.clone(), false));
        Ok(state)
    }

    fn set_rotation(&mut self, pool: &str, value: &str) -> Result<(), StateError> {
        if !self.rotations.contains_key(pool) {
            // Lock it first: the write at commit must not overwrite another router's turn.
            self.rotation(pool)?;
        }
        self.rotations
            .insert(pool.to_string(), (Some(value.to_string()), true));
        Ok(())
    }

    fn assigned(&mut self, rep: &str, since: Option<Timestamp>) -> Result<u64, StateError> {
        self.lock_rep(rep)?;
        let Some(since) = since else {
            // Every assignment: a counter kept in the same transactions as the assignments.
            let row = self.query_opt("SELECT total FROM rep_totals WHERE rep = $1", &[&rep])?;
            return Ok(row.map_or(0, |row| count(&row)));
        };
        // Since the roster's `as_of`: counted on the (rep, time) index, the assignments after it.
        let rows = self.query(
            "SELECT count(*) FROM assignments WHERE rep = $1 AND at_s >= $2",
            &[&rep, &since.as_second()],
        )?;
        Ok(rows.first().map_or(0, count))
    }

    fn assign(
        &mut self,
        rep: &str,
        lead: &str,
        at: Timestamp,
        lead_at: Timestamp,
    ) -> Result<(), StateError> {
        self.execute(
            "INSERT INTO lead_times (rep, lead_s, lead) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
            &[&rep, &lead_at.as_second(), &lead],
        )?;
        let inserted = self.execute(
            "INSERT INTO assignments (lead, rep, at_s) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
            &[&lead, &rep, &at.as_second()],
        )?;
        if inserted > 0 {
            self.execute(
                "INSERT INTO rep_totals (rep, total) VALUES ($1, 1) \
                 ON CONFLICT (rep) DO UPDATE SET total = rep_totals.total + 1",
                &[&rep],
            )?;
        }
        Ok(())
    }

    fn assigned_in(
        &mut self,
        rep: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<u64, StateError> {
        self.lock_rep(rep)?;
        let rows = self.query(
            "SELECT count(*) FROM lead_times WHERE rep = $1 AND lead_s >= $2 AND lead_s < $3",
            &[&rep, &from.as_second(), &to.as_second()],
        )?;
        Ok(rows.first().map_or(0, count))
    }

    fn remember(
        &mut self,
        field: &str,
        key: &str,
        lead: &str,
        lead_at: Timestamp,
        rep: &str,
    ) -> Result<(), StateError> {
        self.execute(
            "INSERT INTO prospects (field, key, lead_s, lead, rep) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (field, key, lead_s, lead) DO UPDATE SET rep = excluded.rep",
            &[&field, &key, &lead_at.as_second(), &lead, &rep],
        )?;
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
        let row = self.query_opt(
            "SELECT rep FROM prospects WHERE field = $1 AND key = $2 AND lead_s >= $3 \
             AND lead_s <= $4 AND lead <> $5 ORDER BY lead_s DESC LIMIT 1",
            &[&field, &key, &from.as_second(), &to.as_second(), &lead],
        )?;
        Ok(row.map(|row| row.get(0)))
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
        if let Some(from) = from {
            self.execute(
                "DELETE FROM due WHERE at_ns = $1 AND lead = $2",
                &[&nanos(from), &lead],
            )?;
        }
        if let Some(to) = to {
            self.execute(
                "INSERT INTO due (at_ns, lead) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&nanos(to), &lead],
            )?;
        }
        Ok(())
    }

    fn due(
        &mut self,
        now: Timestamp,
        limit_to: usize,
    ) -> Result<Vec<(String, Timestamp)>, StateError> {
        let rows = self.query(
            // Locked until the batch ends, and skipped by the other routers' sweeps: every step
            // fires once however many sweep at the same time.
            "SELECT lead, at_ns FROM due WHERE at_ns <= $1 ORDER BY at_ns, lead LIMIT $2 \
             FOR UPDATE SKIP LOCKED",
            &[&nanos(now), &limit(limit_to)],
        )?;
        Ok(rows
            .into_iter()
            .map(|row| (row.get(0), from_nanos(row.get(1))))
            .collect())
    }

    fn life(&mut self, lead: &str) -> Result<Option<Life>, StateError> {
        let row = self.query_opt("SELECT entry FROM lives WHERE lead = $1", &[&lead])?;
        row.map(|row| read_life(lead, &row.get::<_, String>(0)))
            .transpose()
    }

    fn keep_life(&mut self, life: Life) -> Result<(), StateError> {
        let text = serde_json::to_string(&life).map_err(|error| {
            StateError::new(
                StateErrorKind::Failed,
                format!(
                    "state database: cannot write the life of `{}`: {error}",
                    life.lead
                ),
            )
        })?;
        self.execute(
            "INSERT INTO lives (lead, entry) VALUES ($1, $2) \
             ON CONFLICT (lead) DO UPDATE SET entry = excluded.entry",
            &[&life.lead, &text],
        )?;
        Ok(())
    }

    fn each_lead(
        &mut self,
        visit: &mut dyn FnMut(Recorded, Option<Life>),
    ) -> Result<(), StateError> {
        let rows = self.query(
            "SELECT l.lead, l.entry, v.entry FROM ledger l LEFT JOIN lives v ON v.lead = l.lead",
            &[],
        )?;
        for row in rows {
            let lead: String = row.get(0);
            let entry: Vec<u8> = row.get(1);
            let life: Option<String> = row.get(2);
            let recorded = compact::decode_recorded(&entry).ok_or_else(|| {
                StateError::new(
                    StateErrorKind::Corrupt,
                    format!("state database: the recorded decision of `{lead}` cannot be read"),
                )
            })?;
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
        let rows = self.query(
            "INSERT INTO outbox (at_ns, lead, body, pending) VALUES ($1, $2, $3, $4) \
             RETURNING seq",
            &[&nanos(at), &lead, &body, &pending],
        )?;
        Ok(rows
            .first()
            .map_or(0, |row| u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)))
    }

    fn undelivered(&mut self, limit_to: usize) -> Result<Vec<Outgoing>, StateError> {
        let rows = self.query(
            "SELECT seq, at_ns, lead, body, pending FROM outbox WHERE pending \
             ORDER BY seq LIMIT $1",
            &[&limit(limit_to)],
        )?;
        Ok(PostgresState::outgoing(rows))
    }

    fn delivered(&mut self, seq: u64) -> Result<(), StateError> {
        let seq = i64::try_from(seq).unwrap_or(i64::MAX);
        self.execute("UPDATE outbox SET pending = false WHERE seq = $1", &[&seq])?;
        Ok(())
    }

    fn posted_since(
        &mut self,
        since: Timestamp,
        limit_to: usize,
    ) -> Result<Vec<Outgoing>, StateError> {
        let rows = self.query(
            "SELECT seq, at_ns, lead, body, pending FROM outbox WHERE at_ns >= $1 \
             ORDER BY at_ns, seq LIMIT $2",
            &[&nanos(since), &limit(limit_to)],
        )?;
        Ok(PostgresState::outgoing(rows))
    }
}
