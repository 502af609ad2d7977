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

mod handed;

use super::tls::{MakeTls, tls_settings};
use super::{from_nanos, from_seconds, life_text, nanos, not_empty, read_entry, read_life};
use jiff::Timestamp;
use postgres::{Client, NoTls, Row, Statement};
use switchboard_core::route::life::Life;
use switchboard_core::route::state::dump::StateRow;
use switchboard_core::route::state::{
    BatchWriter, EntryRef, Outgoing, Recorded, StateError, StateErrorKind, StateStore, compact,
};

/// The store's maps, keyed by lead ids and values, rep and pool names and statement texts:
/// hashed with foldhash, several times faster than the standard SipHash on these short keys
/// (the router's instructions a lead fell 10%). Its seed is random per process, but it is not a
/// hash that resists keys chosen to collide, and the lead-keyed maps live for one batch: up to
/// 2,048 lines in `route`, up to 256 requests in `serve`, each as large as its body limit. The
/// same choice as the SQLite store's batch ledger and the memory store's prospects, and a
/// known risk: `serve` behind a bearer token or signed webhooks limits who can choose the keys;
/// without a token, anyone who reaches `/v1/leads` can. A batch's maps are cleared at its commit.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// The version of the tables this build writes.
const SCHEMA_VERSION: i32 = 5;

/// The migrations, in order: the database at version `n` has run the first `n`.
const MIGRATIONS: [&[&str]; SCHEMA_VERSION as usize] = [
    &[TABLES_1],
    &[TABLES_2, GATE],
    &[TABLES_3],
    &[],
    &[GENERATION],
];

/// Version 5: the gate's generation, which every transaction that writes rotations,
/// assignments, lead times or reps' totals adds one to, so that a router whose commits are on a
/// thread of their own (`route` on two threads) knows whether anyone else wrote them since its
/// last commit. An older build would write without changing it: the gate's key column is
/// renamed, so that an older router still connected fails at its next batch (`column "id"
/// does not exist`) instead of writing unseen, and one started later refuses the database.
const GENERATION: &str = "
    ALTER TABLE gate ADD COLUMN IF NOT EXISTS generation BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE gate RENAME COLUMN id TO gate_key;";

/// Version 4 changes no table: ledger entries may carry lead fingerprints of the second kind
/// ([`switchboard_core::model::Policy::fingerprint`]), which an older build would take for
/// fingerprints of another schema, answering a reused id as the same lead: it must refuse the
/// database instead.
///
/// Version 1: the tables.
const TABLES_1: &str = "
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

/// Version 2: ids and names compare byte by byte (as in SQLite: the due index's ties by lead
/// id, and no locale's collation on every key of every index); with it comes [`GATE`].
const TABLES_2: &str = r#"
    ALTER TABLE ledger ALTER COLUMN lead TYPE TEXT COLLATE "C";
    ALTER TABLE rotations ALTER COLUMN pool TYPE TEXT COLLATE "C";
    ALTER TABLE assignments ALTER COLUMN lead TYPE TEXT COLLATE "C",
        ALTER COLUMN rep TYPE TEXT COLLATE "C";
    ALTER TABLE rep_totals ALTER COLUMN rep TYPE TEXT COLLATE "C";
    ALTER TABLE lead_times ALTER COLUMN rep TYPE TEXT COLLATE "C",
        ALTER COLUMN lead TYPE TEXT COLLATE "C";
    ALTER TABLE prospects ALTER COLUMN field TYPE TEXT COLLATE "C",
        ALTER COLUMN key TYPE TEXT COLLATE "C", ALTER COLUMN lead TYPE TEXT COLLATE "C",
        ALTER COLUMN rep TYPE TEXT COLLATE "C";
    ALTER TABLE lives ALTER COLUMN lead TYPE TEXT COLLATE "C";
    ALTER TABLE due ALTER COLUMN lead TYPE TEXT COLLATE "C";
    ALTER TABLE outbox ALTER COLUMN lead TYPE TEXT COLLATE "C";"#;

/// The gate row every writing batch locks first.
const GATE: &str = "
    CREATE TABLE IF NOT EXISTS gate (id INTEGER PRIMARY KEY);
    INSERT INTO gate (id) VALUES (1) ON CONFLICT DO NOTHING;";

/// A new database's tables, at the current version in one go: version 1's with byte-wise text
/// (no `ALTER … TYPE`, which CockroachDB does not run in a transaction), the gate, the leases.
fn fresh_tables() -> String {
    format!(
        "{}{GATE}{TABLES_3}{GENERATION}",
        TABLES_1.replace(" TEXT ", r#" TEXT COLLATE "C" "#)
    )
}

/// Version 3: leases (one notifier of the outbox among several servers).
const TABLES_3: &str = r#"
    CREATE TABLE IF NOT EXISTS leases (
        name TEXT COLLATE "C" PRIMARY KEY, holder TEXT NOT NULL, until_ns BIGINT NOT NULL);"#;

/// State in a PostgreSQL database.
pub struct PostgresState {
    client: Client,
    config: postgres::Config,
    /// The TLS connector, when the URL requires TLS.
    tls: Option<MakeTls>,
    /// `host:port/database`, for messages.
    place: String,
    in_batch: bool,
    /// Rotation states read (and locked) or written in this batch; the changed ones are sent
    /// with the batch's rows ([`PostgresState::send`]).
    rotations: HashMap<String, (Option<String>, bool)>,
    /// Reps whose `rep_totals` row this batch holds locked, with their total (this batch's
    /// assignments included): their counts are read under the lock.
    locked_reps: HashMap<String, u64>,
    /// The tables' version when this router connected (0: created then).
    tables_found: i64,
    /// Whether this batch holds the gate (see [`PostgresState::gate`]).
    gated: bool,
    /// Whether the batch is in its first pass, in which nothing shared is locked (see
    /// [`StateStore::decides_unlocked_first`]).
    unlocked: bool,
    /// Whether this batch already had a first pass (`serve` routes several requests in one
    /// batch: only the first gets one, so a batch sends rows without the gate at most once).
    had_first_pass: bool,
    /// Whether this batch locked every rotation and rep row ([`PostgresState::lock_routing_rows`]).
    routing_rows_locked: bool,
    /// The batch's writes and reads kept current with them.
    pending: Pending,
    /// Counts the first pass read without locks, and the leads decided on them.
    provisional: Provisional,
    /// Whether the first pass may read counts without locks: the database's transactions are
    /// read committed by default (on a serializable one, counts are read under the gate only).
    counts_unlocked: bool,
    /// The database's default isolation, as it answered (`None`: it did not).
    isolation: Option<String>,
    /// Whether it connected again since `reconnected` was last asked.
    reconnected: bool,
    /// Whether a batch met a due step, assignment or lead time of a lead not in the ledger
    /// ([`PostgresState::send`]).
    rows_without_ledger: bool,
    /// A sweep's due steps read ahead in this batch ([`PostgresState::due_one`]).
    due_ahead: Option<DueAhead>,
    /// What a sweep read ahead of its leads with their due steps, locked under the gate.
    swept: HashMap<String, SweptLead>,
    statements: HashMap<&'static str, Statement>,
    /// While the commits are handed over (`route` on two threads): what batches are decided
    /// on, and where they go.
    handed: Option<handed::Handed>,
    /// The writer's connection, kept from one hand-over to the next.
    spare_client: Option<Client>,
    /// Set when a second connection could not be opened: commits are never handed over.
    cannot_hand_over: bool,
    /// The gate's generation this batch left, and the one this router's last commit (or its
    /// writer's) left: a snapshot that finds another means that another router wrote since,
    /// and the commits are not handed over then.
    batch_generation: Option<i64>,
    own_generation: Option<i64>,
    /// Hand-overs to decline before the next snapshot, after one found another router's
    /// writes, and how many the next such finding declines.
    declined_for: u32,
    decline_backoff: u32,
}

/// How many due steps a sweep reads (and locks) in one statement: fewer than `sweep` fires in
/// one transaction (256), so that its batches read ahead several times, as `serve`'s sweeps
/// (one transaction for every step due) do.
const SWEEP_AHEAD: usize = 64;

/// The due steps at `now_ns` or earlier, read ahead for a sweep that asks for one at a time:
/// the rows of the `due` table up to `through`, in their order, as this batch's own moves
/// left them ([`StateStore::schedule`] keeps them current).
#[derive(Debug)]
struct DueAhead {
    now_ns: i64,
    steps: std::collections::BTreeSet<(i64, String)>,
    /// The last row read when the statement filled its limit: rows after it were not read.
    /// `None`: every row due by then was read.
    through: Option<(i64, String)>,
}

/// Keeps what one row read ahead for a swept lead says of it.
type KeepRow = fn(&mut SweptLead, &Row);

/// A lead whose due step a sweep read ahead: its ledger entry (locked, as
/// [`StateStore::recorded_for_update`] locks it), its life and the reps it was ever assigned
/// to (this batch's assignments included).
#[derive(Debug, Default)]
struct SweptLead {
    entry: Option<Vec<u8>>,
    life: Option<String>,
    reps: Vec<String>,
}

/// A rep's count that a decision of a batch's first pass may read without the rep's lock.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum CountOf {
    /// [`StateStore::assigned`]: the rep's load (since a time).
    Load {
        rep: String,
        since: Option<Timestamp>,
    },
    /// [`StateStore::assigned_in`]: the rep's leads in a period window.
    Window {
        rep: String,
        from: Timestamp,
        to: Timestamp,
    },
}

/// What a first pass read without locks ([`StateStore::provisional`]): every rep's total as
/// one statement found it, loads since a time and period windows as one query each found them
/// (all kept for the batch: not a round trip a lead), the reads of the lead being decided, and
/// the leads decided on such reads.
#[derive(Debug, Default)]
struct Provisional {
    /// Every rep's total, read once in the first pass that needs one.
    totals: Option<HashMap<String, u64>>,
    /// Loads since a time and period windows, counted once a batch.
    counted: HashMap<CountOf, u64>,
    /// The counts the lead being decided read.
    reads: Vec<(CountOf, u64)>,
    /// Where the lead being decided started in the batch's first due steps.
    due_mark: usize,
    /// The provisional leads, by id.
    leads: HashMap<String, ProvisionalLead>,
}

/// A lead decided in a first pass on counts read without locks.
#[derive(Debug)]
struct ProvisionalLead {
    /// The counts its decision read, in order.
    reads: Vec<(CountOf, u64)>,
    /// The times of the due steps the first pass sent for it (taken back if it is decided
    /// again).
    due: Vec<i64>,
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

/// The password for `config`'s user from `PGPASSWORD`, or from the first matching line of the
/// password file (`PGPASSFILE`, else `~/.pgpass`): `host:port:database:user:password`, `*`
/// matching anything, `\:` and `\\` escaped. As libpq, a file that others may read is not used.
fn password_from_environment(config: &postgres::Config) -> Option<String> {
    if let Ok(password) = std::env::var("PGPASSWORD")
        && !password.is_empty()
    {
        return Some(password);
    }
    let file = std::env::var_os("PGPASSFILE")
        .filter(|path| !path.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".pgpass"))
        })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).ok()?.permissions().mode();
        if mode & 0o077 != 0 {
            return None;
        }
    }
    let text = std::fs::read_to_string(&file).ok()?;
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(name)) => name.clone(),
        #[cfg(unix)]
        Some(postgres::config::Host::Unix(_)) | None => "localhost".to_string(),
        #[cfg(not(unix))]
        None => "localhost".to_string(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let user = config.get_user()?.to_string();
    let database = config.get_dbname().unwrap_or(&user).to_string();
    pgpass_password(
        &text,
        [
            host.as_str(),
            port.as_str(),
            database.as_str(),
            user.as_str(),
        ],
    )
}

/// The password of the first line of a password file that matches `wanted` (host, port,
/// database, user; `*` in the file matches anything).
fn pgpass_password(text: &str, wanted: [&str; 4]) -> Option<String> {
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .find_map(|line| {
            let fields = pgpass_fields(line);
            let [h, p, d, u, password] = fields.as_slice() else {
                return None;
            };
            let matches = [h, p, d, u]
                .iter()
                .zip(wanted)
                .all(|(field, want)| field.as_str() == "*" || field.as_str() == want);
            matches.then(|| password.clone())
        })
}

/// A password file line's fields: split at `:`, with `\:` and `\\` read as the character.
fn pgpass_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => {
                if let Some(next) = chars.next()
                    && let Some(field) = fields.last_mut()
                {
                    field.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            _ => {
                if let Some(field) = fields.last_mut() {
                    field.push(ch);
                }
            }
        }
    }
    fields
}

/// Whether a failure may pass by itself (the server is starting, restarting or unreachable).
fn transient(error: &postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    // The driver's own refusal of the URL (`password missing`): waiting changes nothing.
    if error.to_string().starts_with("invalid configuration") {
        return false;
    }
    match error.code() {
        Some(code) => {
            code == &postgres::error::SqlState::CANNOT_CONNECT_NOW
                || code == &postgres::error::SqlState::ADMIN_SHUTDOWN
                || code == &postgres::error::SqlState::CRASH_SHUTDOWN
                || code == &postgres::error::SqlState::TOO_MANY_CONNECTIONS
        }
        // No SQL state: the connection itself failed (refused, reset, timed out), unless TLS
        // refused the server (its certificate), which waiting does not change.
        None => !refused_by_tls(error),
    }
}

impl PostgresState {
    /// Connects to the database `url` names (retrying for a while when the server is not
    /// there yet), then creates or migrates the tables.
    pub fn open(url: &str) -> Result<PostgresState, StateError> {
        let (config, tls, place) = Self::settings(url)?;
        let client = connect(&config, &place, tls.as_ref())?;
        Self::with_client(client, config, tls, place)
    }

    /// Whether the database `url` names holds Switchboard's tables, asked without creating
    /// them: a command that only reads a state (`report`, `sweep`, `state export`) refuses a
    /// database that has none (a misspelt name) instead of making an empty state there.
    pub fn holds_a_state(url: &str) -> Result<bool, StateError> {
        let (config, tls, place) = Self::settings(url)?;
        let mut client = connect(&config, &place, tls.as_ref())?;
        client
            .query_one("SELECT to_regclass('switchboard_schema') IS NOT NULL", &[])
            .map(|row| row.get(0))
            .map_err(|error| failure_at(&place, &error))
    }

    /// The connection settings of `url`: the driver's configuration (TLS mode, connect timeout,
    /// keepalives, a password from the environment), the TLS connector, and the place it names.
    fn settings(url: &str) -> Result<(postgres::Config, Option<MakeTls>, String), StateError> {
        let (url, wanted) = tls_settings(url);
        let config: postgres::Config = url.parse().map_err(|error: postgres::Error| {
            // The driver says which part in the error's source (`invalid value for option
            // `port``, `unknown option `foo``).
            let part = std::error::Error::source(&error)
                .map(|source| format!(": {source}"))
                .unwrap_or_default();
            StateError::new(
                StateErrorKind::Unavailable,
                format!(
                    "--state: not a PostgreSQL URL such as postgres://user@host/db: \
                     {error}{part}"
                ),
            )
        })?;
        // TLS when the URL requires it (verified: the roots `sslrootcert` or `PGSSLROOTCERT`
        // names, else the Mozilla roots); without `sslmode=require`, none, as on localhost.
        let root_file = wanted.root_file.or_else(|| {
            std::env::var("PGSSLROOTCERT")
                .ok()
                .filter(|path| !path.is_empty())
        });
        // `PGSSLMODE`, as with psql, when the URL does not say.
        let required = wanted.required
            || (!wanted.mode_given
                && std::env::var("PGSSLMODE").is_ok_and(|mode| {
                    matches!(mode.as_str(), "require" | "verify-ca" | "verify-full")
                }));
        let tls = if required {
            Some(MakeTls::new(root_file.as_deref()).map_err(|why| {
                StateError::new(StateErrorKind::Unavailable, format!("--state: {why}"))
            })?)
        } else {
            None
        };
        let mut config = config;
        // Required means required: never a plain fallback when the server declines TLS.
        config.ssl_mode(if tls.is_some() {
            postgres::config::SslMode::Require
        } else {
            postgres::config::SslMode::Disable
        });
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(5));
        }
        // As libpq (psql, pg_dump) finds a password the URL does not give: `PGPASSWORD`, then
        // the password file (`PGPASSFILE`, else `~/.pgpass`).
        if config.get_password().is_none()
            && let Some(password) = password_from_environment(&config)
        {
            config.password(password);
        }
        config.keepalives(true);
        let place = place_of(&config);
        Ok((config, tls, place))
    }

    fn with_client(
        client: Client,
        config: postgres::Config,
        tls: Option<MakeTls>,
        place: String,
    ) -> Result<PostgresState, StateError> {
        let mut state = PostgresState {
            client,
            config,
            tls,
            place,
            in_batch: false,
            rotations: HashMap::default(),
            locked_reps: HashMap::default(),
            gated: false,
            unlocked: false,
            had_first_pass: false,
            routing_rows_locked: false,
            tables_found: 0,
            pending: Pending::default(),
            provisional: Provisional::default(),
            counts_unlocked: false,
            isolation: None,
            reconnected: false,
            rows_without_ledger: false,
            due_ahead: None,
            swept: HashMap::default(),
            statements: HashMap::default(),
            handed: None,
            spare_client: None,
            cannot_hand_over: false,
            batch_generation: None,
            own_generation: None,
            declined_for: 0,
            decline_backoff: 1,
        };
        state.migrate()?;
        state.counts_unlocked = state.reads_committed();
        Ok(state)
    }

    /// Whether the database's transactions are read committed unless said otherwise, so that
    /// a first pass may read counts without locks. Serializable by default (CockroachDB, or a
    /// server so configured), such a read would conflict with every batch that commits counts
    /// meanwhile; any other answer, or none, keeps counts under the gate.
    fn reads_committed(&mut self) -> bool {
        self.isolation = self
            .query_opt("SHOW default_transaction_isolation", &[])
            .ok()
            .flatten()
            .and_then(|row| row.try_get::<_, String>(0).ok());
        self.isolation.as_deref() == Some("read committed")
    }

    /// A failure of this database as a state error naming it.
    fn failure(&self, error: &postgres::Error) -> StateError {
        failure_at(&self.place, error)
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
        // Every write inside a batch is made under the gate (but for the first pass's own rows,
        // [`PostgresState::send`]).
        self.gate()?;
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
        // Tables already current: nothing to create, so a role that may only read (a report,
        // an export) opens the state too.
        let exists: bool = self
            .client
            .query_one("SELECT to_regclass('switchboard_schema') IS NOT NULL", &[])?
            .get(0);
        let current: Option<i32> = if exists {
            self.client
                .query_one("SELECT max(version) FROM switchboard_schema", &[])?
                .get(0)
        } else {
            None
        };
        if current == Some(SCHEMA_VERSION) {
            self.tables_found = i64::from(SCHEMA_VERSION);
            return Ok(Ok(()));
        }
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
        let version = version.unwrap_or(0);
        self.tables_found = i64::from(version);
        if version < SCHEMA_VERSION {
            if version == 0 {
                // A new database: the current tables in one go.
                transaction.batch_execute(&fresh_tables())?;
            } else {
                for migration in &MIGRATIONS[usize::try_from(version).unwrap_or(0)..] {
                    for part in *migration {
                        transaction.batch_execute(part)?;
                    }
                }
            }
            transaction.execute("DELETE FROM switchboard_schema", &[])?;
            transaction.execute(
                "INSERT INTO switchboard_schema (version) VALUES ($1)",
                &[&SCHEMA_VERSION],
            )?;
        }
        transaction.commit()?;
        Ok(Ok(()))
    }

    /// Takes the gate: the one row that every batch which locks or writes anything shared locks
    /// first, until it ends. Batches that write take turns in one order, so two of them wait on
    /// each other's rows (a deadlock PostgreSQL only detects after `deadlock_timeout`, a second
    /// by default) only in one case: a batch's first pass sent a lead's ledger entry without
    /// the gate (see [`PostgresState::send`]) and waits for the gate, while the batch holding
    /// it sends the same lead id; PostgreSQL then ends one of them, a `Conflict` decided again.
    /// Reading (the read-ahead of the ledger, parsing) stays outside, so routers overlap
    /// everything but their decisions and writes. In a batch's first pass the gate is not
    /// taken: the lead that wants it waits for the second.
    fn gate(&mut self) -> Result<(), StateError> {
        if !self.in_batch || self.gated {
            return Ok(());
        }
        if self.unlocked {
            return Err(needs_lock());
        }
        if self.handed.is_some() {
            return Err(handed_over());
        }
        self.gated = true;
        let locked = self.query(
            "SELECT gate_key FROM gate WHERE gate_key = 1 FOR UPDATE",
            &[],
        )?;
        if locked.is_empty() {
            // Nothing would be locked: routers would not take turns.
            return Err(handed::gate_without_row(&self.place));
        }
        Ok(())
    }

    /// Adds one to the gate's generation, under the gate, in a transaction that writes
    /// rotations, assignments, lead times or reps' totals: a router deciding on what it keeps
    /// in memory finds its next commit refused ([`handed`]).
    fn gate_generation_moves(&mut self) -> Result<(), StateError> {
        let row = self.query_opt(
            "UPDATE gate SET generation = generation + 1 WHERE gate_key = 1 RETURNING generation",
            &[],
        )?;
        let Some(row) = row else {
            return Err(handed::gate_without_row(&self.place));
        };
        self.batch_generation = Some(row.get(0));
        Ok(())
    }

    /// Writes an assignment of a lead that may have rows already (a sweep's, `track`'s) at
    /// once, under the gate, the generation moved on with it.
    fn assign_rows(
        &mut self,
        rep: &str,
        lead: &str,
        at_s: i64,
        lead_s: i64,
    ) -> Result<(), StateError> {
        self.gate()?;
        self.gate_generation_moves()?;
        self.execute(
            "INSERT INTO lead_times (rep, lead_s, lead) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
            &[&rep, &lead_s, &lead],
        )?;
        let inserted = self.execute(
            "INSERT INTO assignments (lead, rep, at_s) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
            &[&lead, &rep, &at_s],
        )?;
        if inserted > 0 {
            self.execute(
                "INSERT INTO rep_totals (rep, total) VALUES ($1, 1) \
                 ON CONFLICT (rep) DO UPDATE SET total = rep_totals.total + 1",
                &[&rep],
            )?;
            if let Some(total) = self.locked_reps.get_mut(rep) {
                *total += 1;
            }
        }
        Ok(())
    }

    /// Fails while the commits are handed over if a batch in flight assigned `rep` a lead:
    /// then the database's counts of the rep lack it.
    fn not_changed_in_flight(&mut self, rep: &str) -> Result<(), StateError> {
        if self
            .handed
            .as_mut()
            .is_some_and(|handed| handed.may_change(rep))
        {
            return Err(handed_over());
        }
        Ok(())
    }

    /// Hands a batch decided on what the store keeps in memory to the writer, and keeps what
    /// it changed.
    fn hand_batch(&mut self) -> Result<(), StateError> {
        let pending = &mut self.pending;
        // Such writes take the gate, which is refused while handed over.
        let unexpected = !pending.prospects.is_empty()
            || !pending.due_moved.is_empty()
            || !pending.lives.is_empty();
        let of_new_leads = pending.rows_of_its_entries(&pending.assignments, &pending.due);
        let batch = handed::HandedBatch {
            ledger: std::mem::take(&mut pending.ledger),
            due: std::mem::take(&mut pending.due),
            assignments: std::mem::take(&mut pending.assignments),
            rotated: self
                .rotations
                .iter()
                .filter(|(_, (_, dirty))| *dirty)
                .filter_map(|(pool, (state, _))| Some((pool.clone(), state.clone()?)))
                .collect(),
            of_new_leads,
        };
        let totals: Vec<(String, u64)> = self.locked_reps.drain().collect();
        // Loads since a time and windows counted so far, this batch's assignments included,
        // stay for the next batches, which count theirs in (forgotten at a rollback and when
        // the writer is taken back).
        let loads = std::mem::take(&mut self.pending.loads);
        let windows = std::mem::take(&mut self.pending.windows);
        let handed_to = match (&mut self.handed, unexpected) {
            (Some(handed), false) => handed.hand(batch, totals.into_iter()),
            _ => Err(StateError::new(
                StateErrorKind::Failed,
                "internal error: a batch decided while the commits are handed over wrote what \
                 needs the gate",
            )),
        };
        self.end_batch();
        if handed_to.is_ok() {
            self.pending.loads = loads;
            self.pending.windows = windows;
        }
        handed_to
    }

    /// Under the gate, locks every pool's rotation row and every rep's row, in two statements
    /// (in the order of their names), the first time a batch's decisions read one: not one
    /// round trip each as the decisions reach them. Under the gate no other batch wants them,
    /// and the gate is held for fewer round trips. Batches that take the gate for anything
    /// else (a lease, a delivery, `track`) lock none of them.
    fn lock_routing_rows(&mut self) -> Result<(), StateError> {
        self.gate()?;
        if !self.in_batch || self.routing_rows_locked {
            return Ok(());
        }
        self.routing_rows_locked = true;
        for row in self.query(
            "SELECT pool, state FROM rotations ORDER BY pool FOR UPDATE",
            &[],
        )? {
            let state = Some(row.get::<_, String>(1)).filter(|state| !state.is_empty());
            self.rotations.entry(row.get(0)).or_insert((state, false));
        }
        for row in self.query(
            "SELECT rep, total FROM rep_totals ORDER BY rep FOR UPDATE",
            &[],
        )? {
            let rep: String = row.get(0);
            let unsent = self.pending.unsent(&rep);
            let total = u64::try_from(row.get::<_, i64>(1)).unwrap_or(0) + unsent;
            self.locked_reps.entry(rep).or_insert(total);
        }
        Ok(())
    }

    /// Locks a rep's row until the batch ends, before any of the rep's counts is read, and
    /// answers the rep's total: a router that weighs this rep (its load, its caps) waits for
    /// another that is assigning it to commit, so no cap is passed and no load is stale.
    /// (Every count read under the gate is read after the rep was locked: the router reads
    /// the load first for each candidate. A first pass reads counts without it, and they are
    /// confirmed here later: [`StateStore::confirm_provisional`].)
    fn lock_rep(&mut self, rep: &str) -> Result<u64, StateError> {
        if let Some(total) = self.locked_reps.get(rep) {
            return Ok(*total);
        }
        if let Some(handed) = &self.handed {
            // Kept from batch to batch while handed over (this batch's assignments are added as
            // they are made).
            let total = handed.totals.get(rep).copied().unwrap_or(0);
            self.locked_reps.insert(rep.to_string(), total);
            return Ok(total);
        }
        if !self.in_batch {
            let row = self.query_opt("SELECT total FROM rep_totals WHERE rep = $1", &[&rep])?;
            return Ok(row.map_or(0, |row| count(&row)));
        }
        self.lock_routing_rows()?;
        // Every rep's row there is was locked with the gate.
        if let Some(total) = self.locked_reps.get(rep) {
            return Ok(*total);
        }
        let mut row = self.query_opt(
            "SELECT total FROM rep_totals WHERE rep = $1 FOR UPDATE",
            &[&rep],
        )?;
        if row.is_none() {
            self.execute(
                "INSERT INTO rep_totals (rep, total) VALUES ($1, 0) ON CONFLICT (rep) DO NOTHING",
                &[&rep],
            )?;
            row = self.query_opt(
                "SELECT total FROM rep_totals WHERE rep = $1 FOR UPDATE",
                &[&rep],
            )?;
        }
        let total = row.map_or(0, |row| count(&row)) + self.pending.unsent(rep);
        self.locked_reps.insert(rep.to_string(), total);
        Ok(total)
    }

    /// A rep's count in the first pass, read without its lock (every rep's total in one
    /// statement, a load since a time or a period window in one query each, all once a batch)
    /// and noted for [`StateStore::confirm_provisional`]. The first pass assigns nobody, so
    /// the batch has no unsent assignment to add.
    fn unlocked_count(&mut self, of: CountOf) -> Result<u64, StateError> {
        let count = match &of {
            CountOf::Load { rep, since: None } => {
                if self.provisional.totals.is_none() {
                    let totals = self
                        .query("SELECT rep, total FROM rep_totals", &[])?
                        .iter()
                        .map(|row| (row.get(0), u64::try_from(row.get::<_, i64>(1)).unwrap_or(0)))
                        .collect();
                    self.provisional.totals = Some(totals);
                }
                self.provisional
                    .totals
                    .as_ref()
                    .and_then(|totals| totals.get(rep))
                    .copied()
                    .unwrap_or(0)
            }
            _ => match self.provisional.counted.get(&of) {
                Some(found) => *found,
                None => {
                    let rows = match &of {
                        CountOf::Load { rep, since } => self.query(
                            "SELECT count(*) FROM assignments WHERE rep = $1 AND at_s >= $2",
                            &[rep, &since.map_or(i64::MIN, Timestamp::as_second)],
                        )?,
                        CountOf::Window { rep, from, to } => self.query(
                            "SELECT count(*) FROM lead_times \
                             WHERE rep = $1 AND lead_s >= $2 AND lead_s < $3",
                            &[rep, &from.as_second(), &to.as_second()],
                        )?,
                    };
                    let found = rows.first().map_or(0, count);
                    self.provisional.counted.insert(of.clone(), found);
                    found
                }
            },
        };
        self.provisional.reads.push((of, count));
        Ok(count)
    }

    /// Whether the batch changed a rotation it has not sent yet.
    fn rotations_changed(&self) -> bool {
        self.rotations.values().any(|(_, dirty)| *dirty)
    }

    /// Sends the batch's writes under the gate: [`PostgresState::send`], then a prospect's
    /// memory when the batch has one.
    fn flush(&mut self) -> Result<(), StateError> {
        if self.pending.is_empty() && !self.rotations_changed() {
            return Ok(());
        }
        self.gate()?;
        self.send()?;
        let prospects = std::mem::take(&mut self.pending.prospects);
        if !prospects.is_empty() {
            let mut fields = Vec::new();
            let mut keys = Vec::new();
            let mut lead_at = Vec::new();
            let mut leads = Vec::new();
            let mut reps = Vec::new();
            for (field, by_key) in &prospects {
                for (key, remembered) in by_key {
                    for (at, lead, rep) in remembered {
                        fields.push(field.as_str());
                        keys.push(key.as_str());
                        lead_at.push(*at);
                        leads.push(lead.as_str());
                        reps.push(rep.as_str());
                    }
                }
            }
            self.execute(
                "INSERT INTO prospects (field, key, lead_s, lead, rep) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[]) \
                 ON CONFLICT (field, key, lead_s, lead) DO UPDATE SET rep = excluded.rep",
                &[&fields, &keys, &lead_at, &leads, &reps],
            )?;
        }
        let moved = std::mem::take(&mut self.pending.due_moved);
        if !moved.is_empty() {
            let (mut gone_at, mut gone_leads, mut new_at, mut new_leads) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for ((at, lead), there) in &moved {
                if *there {
                    new_at.push(*at);
                    new_leads.push(lead.as_str());
                } else {
                    gone_at.push(*at);
                    gone_leads.push(lead.as_str());
                }
            }
            // Two statements: one may change a table only once on CockroachDB.
            if !gone_at.is_empty() {
                self.execute(
                    "DELETE FROM due WHERE (at_ns, lead) IN \
                     (SELECT * FROM unnest($1::bigint[], $2::text[]))",
                    &[&gone_at, &gone_leads],
                )?;
            }
            if !new_at.is_empty() {
                self.execute(
                    "INSERT INTO due (at_ns, lead) SELECT * FROM unnest($1::bigint[], $2::text[]) \
                     ON CONFLICT DO NOTHING",
                    &[&new_at, &new_leads],
                )?;
            }
        }
        let lives = std::mem::take(&mut self.pending.lives);
        if !lives.is_empty() {
            let leads: Vec<&str> = lives.keys().map(String::as_str).collect();
            let entries: Vec<&str> = lives.values().map(String::as_str).collect();
            self.execute(
                "INSERT INTO lives (lead, entry) SELECT * FROM unnest($1::text[], $2::text[]) \
                 ON CONFLICT (lead) DO UPDATE SET entry = excluded.entry",
                &[&leads, &entries],
            )?;
        }
        Ok(())
    }

    /// Sends the batch's ledger entries, first due steps, assignments, lead times, rep totals
    /// and changed rotations in one statement: one round trip. A batch's first pass
    /// ([`StateStore::decides_unlocked_first`]) sends only its leads' own rows (ledger and due
    /// steps), without the gate, once at most; the ledger's go in the order of their lead ids,
    /// so two first passes that send some of the same ids wait on each other in one order. A
    /// lead another router recorded since this one read ahead fails the ledger's primary key:
    /// a conflict, and the batch is decided again (see [`PostgresState::gate`] for the one
    /// wait that can still close a circle).
    fn send(&mut self) -> Result<(), StateError> {
        let mut ledger = std::mem::take(&mut self.pending.ledger);
        let due = std::mem::take(&mut self.pending.due);
        let assignments = std::mem::take(&mut self.pending.assignments);
        // Rows only of leads whose ledger entries go in the same statement: the ledger's plain
        // insert proves those leads new, so their other rows are new too (nothing writes a
        // lead's rows without its ledger entry), and go in without `ON CONFLICT` (a
        // speculative insertion looks each row up in the index before it inserts it: 18% of
        // the server's CPU in a profile of one router). Other rows (a sweep's new rep, a step
        // of a lead recorded before) and, once a plain insert met a row there anyway, every
        // later batch of this router, take the insert that tolerates rows already there.
        let of_new_leads =
            !self.rows_without_ledger && self.pending.rows_of_its_entries(&assignments, &due);
        self.pending.ledger_index.clear();
        if ledger.is_empty()
            && due.is_empty()
            && assignments.is_empty()
            && !self.rotations_changed()
        {
            return Ok(());
        }
        if !assignments.is_empty() || self.rotations_changed() {
            // Under the gate (a first pass sends ledger entries and due steps only).
            self.gate_generation_moves()?;
        }
        let statement = self.statement(if of_new_leads {
            SEND_NEW
        } else {
            SEND_TOLERANT
        })?;
        let mut rotated: Vec<(&str, &str)> = self
            .rotations
            .iter()
            .filter(|(_, (_, dirty))| *dirty)
            .filter_map(|(pool, (state, _))| Some((pool.as_str(), state.as_deref()?)))
            .collect();
        rotated.sort_unstable();
        ledger.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let rows = BatchRows {
            ledger: &ledger,
            due: &due,
            assignments: &assignments,
            rotated: &rotated,
        };
        if let Err(error) = rows.send(&mut self.client, &statement, of_new_leads) {
            return Err(match refused_row(&error) {
                Some((true, taken)) => recorded_elsewhere(&taken),
                Some((false, taken)) => {
                    // A row of a lead without its ledger entry (one erased from the ledger by
                    // hand, say): the batch is decided again, and this router's batches take
                    // the insert that tolerates such rows from now on.
                    self.rows_without_ledger = true;
                    StateError::new(
                        StateErrorKind::Conflict,
                        format!(
                            "state database: a row for ({taken}) was there without its lead's \
                             ledger entry"
                        ),
                    )
                }
                None => self.failure(&error),
            });
        }
        for (_, dirty) in self.rotations.values_mut() {
            *dirty = false;
        }
        for (lead, entry) in ledger {
            self.pending.ahead.insert(lead, Some(entry));
        }
        Ok(())
    }

    /// The earliest due step at `now_ns` or earlier, for a sweep that fires one at a time
    /// ([`StateStore::due`] with a limit of 1, in a batch): read ahead [`SWEEP_AHEAD`] at a
    /// time, locked (`FOR UPDATE SKIP LOCKED`, under the gate), with the ledger entries
    /// (locked too), lives and assignments of their leads in three more statements, instead
    /// of a round trip for each of those per step. The batch's own moves keep the steps read
    /// ahead current ([`StateStore::schedule`]), and its writes of lives, moves and
    /// assignments are sent when it next reads the table or commits.
    fn due_one(&mut self, now_ns: i64) -> Result<Vec<(String, Timestamp)>, StateError> {
        if self
            .due_ahead
            .as_ref()
            .is_some_and(|ahead| ahead.now_ns != now_ns)
        {
            self.due_ahead = None;
        }
        loop {
            if let Some(ahead) = &self.due_ahead {
                if let Some((at, lead)) = ahead.steps.first() {
                    return Ok(vec![(lead.clone(), from_nanos(*at))]);
                }
                if ahead.through.is_none() {
                    // Nothing more is due; a later ask reads the table again.
                    self.due_ahead = None;
                    return Ok(Vec::new());
                }
            }
            self.flush()?;
            self.gate()?;
            let rows = self.query(
                // Locked until the batch ends, and skipped by the other routers' sweeps: every
                // step fires once however many sweep at the same time.
                "SELECT at_ns, lead FROM due WHERE at_ns <= $1 ORDER BY at_ns, lead LIMIT $2 \
                 FOR UPDATE SKIP LOCKED",
                &[&now_ns, &limit(SWEEP_AHEAD)],
            )?;
            let steps: std::collections::BTreeSet<(i64, String)> = rows
                .iter()
                .map(|row| (row.get::<_, i64>(0), row.get::<_, String>(1)))
                .collect();
            // Only the leads of these steps are kept (what was written of the others is in the
            // table now): a sweep of every step due after a long stop holds 64 leads, not all.
            self.swept
                .retain(|lead, _| steps.iter().any(|(_, due_lead)| due_lead == lead));
            let through = (rows.len() >= SWEEP_AHEAD)
                .then(|| steps.last().cloned())
                .flatten();
            let mut unread: Vec<&str> = steps
                .iter()
                .map(|(_, lead)| lead.as_str())
                .filter(|lead| !self.swept.contains_key(*lead))
                .collect();
            unread.sort_unstable();
            unread.dedup();
            if !unread.is_empty() {
                let mut swept: HashMap<String, SweptLead> = unread
                    .iter()
                    .map(|lead| ((*lead).to_string(), SweptLead::default()))
                    .collect();
                // The ledger first, locked (what this batch recorded is in the table: flushed
                // above); then each lead's life and the reps it had.
                let reads: [(&'static str, KeepRow); 3] = [
                    (
                        "SELECT lead, entry FROM ledger WHERE lead = ANY($1) ORDER BY lead \
                         FOR UPDATE",
                        |lead, row| lead.entry = Some(row.get(1)),
                    ),
                    (
                        "SELECT lead, entry FROM lives WHERE lead = ANY($1)",
                        |lead, row| {
                            lead.life = Some(row.get(1));
                        },
                    ),
                    (
                        "SELECT lead, rep FROM assignments WHERE lead = ANY($1)",
                        |lead, row| {
                            lead.reps.push(row.get(1));
                        },
                    ),
                ];
                for (sql, keep) in reads {
                    for row in self.query(sql, &[&unread])? {
                        if let Some(lead) = swept.get_mut(row.get::<_, &str>(0)) {
                            keep(lead, &row);
                        }
                    }
                }
                self.swept.extend(swept);
            }
            if steps.is_empty() {
                self.due_ahead = None;
                return Ok(Vec::new());
            }
            self.due_ahead = Some(DueAhead {
                now_ns,
                steps,
                through,
            });
        }
    }

    /// Ends the batch's bookkeeping (after a commit or a rollback).
    fn end_batch(&mut self) {
        self.in_batch = false;
        self.gated = false;
        self.unlocked = false;
        self.had_first_pass = false;
        self.routing_rows_locked = false;
        self.rotations.clear();
        self.locked_reps.clear();
        self.pending.clear();
        self.provisional = Provisional::default();
        self.due_ahead = None;
        self.swept.clear();
        self.batch_generation = None;
    }

    /// Reconnects when the server went away between batches (a restart, a failover).
    fn reconnect_if_closed(&mut self) -> Result<(), StateError> {
        if self.client.is_closed() {
            self.reconnect()?;
        }
        Ok(())
    }

    /// A new connection in place of the old one (retrying for a while, as at start).
    fn reconnect(&mut self) -> Result<(), StateError> {
        self.client = connect(&self.config, &self.place, self.tls.as_ref())?;
        self.statements.clear();
        // Perhaps another server now (a failover).
        self.counts_unlocked = self.reads_committed();
        self.reconnected = true;
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

/// A failure of the database at `place` as a state error naming it.
fn failure_at(place: &str, error: &postgres::Error) -> StateError {
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
            place,
            detail(error)
        ),
    )
}

/// Whether TLS refused the server (an untrusted certificate, a wrong name): rustls reports it
/// as invalid data, or the server does not speak TLS.
fn refused_by_tls(error: &postgres::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::InvalidData)
            || cause.to_string().contains("does not support TLS")
        {
            return true;
        }
        source = cause.source();
    }
    error.to_string().contains("does not support TLS")
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
/// How long a connection attempt may wait for the server's answers, start-up and
/// authentication included (the driver's `connect_timeout` covers the TCP connect alone).
const CONNECT_ANSWER_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// One connection attempt, on a thread of its own so that it can be given up: a server (or a
/// proxy before a stopped one) that takes the connection and never answers would otherwise hold
/// the command for ever. `None` when no answer came within `limit` (the thread is left to end
/// with its socket).
fn attempt_within(
    config: &postgres::Config,
    tls: Option<&MakeTls>,
    limit: std::time::Duration,
) -> Option<Result<Client, postgres::Error>> {
    let (sender, answer) = std::sync::mpsc::channel();
    let config = config.clone();
    let tls = tls.cloned();
    let spawned = std::thread::Builder::new()
        .name("connect to PostgreSQL".to_string())
        .spawn(move || {
            let connected = match tls {
                Some(tls) => config.connect(tls),
                None => config.connect(NoTls),
            };
            let _ = sender.send(connected);
        });
    if spawned.is_err() {
        return None;
    }
    answer.recv_timeout(limit).ok()
}

fn connect(
    config: &postgres::Config,
    place: &str,
    tls: Option<&MakeTls>,
) -> Result<Client, StateError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut wait = std::time::Duration::from_millis(50);
    // An attempt given up leaves its thread waiting on the silent server; a new attempt within
    // half a minute of that would only add another, so it is refused at once.
    static SILENT_SINCE: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);
    let silent_lately = SILENT_SINCE
        .lock()
        .map(|since| since.is_some_and(|at| at.elapsed() < std::time::Duration::from_secs(30)))
        .unwrap_or(false);
    if silent_lately {
        return Err(StateError::new(
            StateErrorKind::Unavailable,
            format!(
                "cannot connect to PostgreSQL at {place}: it took the last connection without \
                 answering; trying again in half a minute"
            ),
        ));
    }
    loop {
        let Some(connected) = attempt_within(config, tls, CONNECT_ANSWER_LIMIT) else {
            if let Ok(mut since) = SILENT_SINCE.lock() {
                *since = Some(std::time::Instant::now());
            }
            return Err(StateError::new(
                StateErrorKind::Unavailable,
                format!(
                    "cannot connect to PostgreSQL at {place}: the server took the connection but \
                     did not answer within {} s",
                    CONNECT_ANSWER_LIMIT.as_secs()
                ),
            ));
        };
        match connected {
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
                let detail = detail(&error);
                let mut message = format!("cannot connect to PostgreSQL at {place}: {detail}");
                if detail.contains("certificate") {
                    message.push_str(
                        " (sslmode=require verifies the server's certificate: give the CA that \
                         signed it with sslrootcert=FILE in the URL, or PGSSLROOTCERT=FILE)",
                    );
                }
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

/// A batch's rows of new leads in one statement: the ledger's a plain insert (no `ON CONFLICT`:
/// no speculative insertion, a third less work for the server), the other tables' inserts
/// parts of the same statement. `$1`, `$2` ledger; `$3`, `$4` due steps; `$5` to `$8`
/// assignments and lead times; `$9`, `$10` each rep's added total; `$11`, `$12` rotations.
const SEND_NEW: &str = "WITH due_steps AS (INSERT INTO due (at_ns, lead) \
         SELECT * FROM unnest($3::bigint[], $4::text[])), \
     assigned AS (INSERT INTO assignments (lead, rep, at_s) \
         SELECT * FROM unnest($5::text[], $6::text[], $7::bigint[])), \
     timed AS (INSERT INTO lead_times (rep, lead_s, lead) \
         SELECT * FROM unnest($6::text[], $8::bigint[], $5::text[])), \
     totals AS (INSERT INTO rep_totals (rep, total) \
         SELECT * FROM unnest($9::text[], $10::bigint[]) \
         ON CONFLICT (rep) DO UPDATE SET total = rep_totals.total + excluded.total), \
     turned AS (UPDATE rotations SET state = turns.state \
         FROM unnest($11::text[], $12::text[]) AS turns (pool, state) \
         WHERE rotations.pool = turns.pool) \
     INSERT INTO ledger (lead, entry) SELECT * FROM unnest($1::text[], $2::bytea[])";

/// [`SEND_NEW`] for rows that may be there already: it counts the assignments it inserted, not
/// those it was given (`$9`, `$10` are the rotations).
const SEND_TOLERANT: &str = "WITH due_steps AS (INSERT INTO due (at_ns, lead) \
         SELECT * FROM unnest($3::bigint[], $4::text[]) ON CONFLICT DO NOTHING), \
     assigned AS (INSERT INTO assignments (lead, rep, at_s) \
         SELECT * FROM unnest($5::text[], $6::text[], $7::bigint[]) ON CONFLICT DO NOTHING \
         RETURNING rep), \
     timed AS (INSERT INTO lead_times (rep, lead_s, lead) \
         SELECT * FROM unnest($6::text[], $8::bigint[], $5::text[]) ON CONFLICT DO NOTHING), \
     totals AS (INSERT INTO rep_totals (rep, total) \
         SELECT rep, count(*) FROM assigned GROUP BY rep ORDER BY rep \
         ON CONFLICT (rep) DO UPDATE SET total = rep_totals.total + excluded.total), \
     turned AS (UPDATE rotations SET state = turns.state \
         FROM unnest($9::text[], $10::text[]) AS turns (pool, state) \
         WHERE rotations.pool = turns.pool) \
     INSERT INTO ledger (lead, entry) SELECT * FROM unnest($1::text[], $2::bytea[])";

/// What one statement sends of a batch ([`SEND_NEW`] or [`SEND_TOLERANT`]): its ledger entries
/// (by lead id), first due steps, assignments and changed rotations (by pool).
struct BatchRows<'b> {
    ledger: &'b [(String, Vec<u8>)],
    due: &'b [(i64, String)],
    assignments: &'b [Assignment],
    rotated: &'b [(&'b str, &'b str)],
}

impl BatchRows<'_> {
    fn send(
        &self,
        client: &mut Client,
        statement: &Statement,
        of_new_leads: bool,
    ) -> Result<u64, postgres::Error> {
        let ledger_leads: Vec<&str> = self.ledger.iter().map(|(lead, _)| lead.as_str()).collect();
        let entries: Vec<&[u8]> = self
            .ledger
            .iter()
            .map(|(_, entry)| entry.as_slice())
            .collect();
        let due_at: Vec<i64> = self.due.iter().map(|(at, _)| *at).collect();
        let due_leads: Vec<&str> = self.due.iter().map(|(_, lead)| lead.as_str()).collect();
        let leads: Vec<&str> = self.assignments.iter().map(|a| a.lead.as_str()).collect();
        let reps: Vec<&str> = self.assignments.iter().map(|a| a.rep.as_str()).collect();
        let at: Vec<i64> = self.assignments.iter().map(|a| a.at_s).collect();
        let lead_at: Vec<i64> = self.assignments.iter().map(|a| a.lead_s).collect();
        let mut per_rep: std::collections::BTreeMap<&str, i64> = Default::default();
        for rep in &reps {
            *per_rep.entry(rep).or_default() += 1;
        }
        let names: Vec<&str> = per_rep.keys().copied().collect();
        let added: Vec<i64> = per_rep.values().copied().collect();
        let pools: Vec<&str> = self.rotated.iter().map(|(pool, _)| *pool).collect();
        let states: Vec<&str> = self.rotated.iter().map(|(_, state)| *state).collect();
        let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![
            &ledger_leads,
            &entries,
            &due_at,
            &due_leads,
            &leads,
            &reps,
            &at,
            &lead_at,
        ];
        // The tolerant statement counts the assignments it inserted, not those it was given.
        if of_new_leads {
            params.extend_from_slice(&[&names, &added]);
        }
        params.extend_from_slice(&[&pools, &states]);
        client.execute(statement, &params)
    }
}

/// A unique key a batch's insert met: whether it was the ledger's (a lead another router
/// recorded since this one looked), and the key's value as the server gave it.
fn refused_row(error: &postgres::Error) -> Option<(bool, String)> {
    if error.code() != Some(&postgres::error::SqlState::UNIQUE_VIOLATION) {
        return None;
    }
    let db = error.as_db_error();
    let detail = db.and_then(|db| db.detail()).unwrap_or("");
    let taken = detail
        .split_once("=(")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map_or("?", |(key, _)| key)
        .to_string();
    // The table names the key, else the constraint; the detail's words (they follow the
    // server's language) only when the server names neither.
    let in_ledger = match (
        db.and_then(|db| db.table()),
        db.and_then(|db| db.constraint()),
    ) {
        (Some(table), _) => table == "ledger",
        (None, Some(constraint)) => constraint == "ledger_pkey",
        (None, None) => detail.starts_with("Key (lead)=("),
    };
    Some((in_ledger, taken))
}

fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn count(row: &Row) -> u64 {
    u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)
}

/// What the first pass of a batch answers a lead that wants the gate.
fn needs_lock() -> StateError {
    StateError::new(
        StateErrorKind::NeedsLock,
        "this lead needs a lock on state other routers share: it is decided in the batch's \
         second pass",
    )
}

/// What the store answers, while its commits are handed over, to anything that needs the gate
/// or a count the database lacks: the batch is decided again once the writer is back.
fn handed_over() -> StateError {
    StateError::new(
        StateErrorKind::NeedsLock,
        "state database: asked for what only the database knows while this run's commits are \
         on another thread",
    )
}

/// The conflict of a lead another router recorded after this one looked: the batch is
/// decided again (and then answers the recorded decision).
fn recorded_elsewhere(lead: &str) -> StateError {
    StateError::new(
        StateErrorKind::Conflict,
        format!("state database: lead `{lead}` was recorded by another router at the same time"),
    )
}

impl PostgresState {
    /// Visits the rows of one query as they arrive, each made into a state row.
    fn visit_rows(
        &mut self,
        sql: &str,
        make: impl Fn(&Row) -> Result<StateRow, StateError>,
        visit: &mut dyn FnMut(StateRow) -> Result<(), StateError>,
    ) -> Result<(), StateError> {
        use postgres::fallible_iterator::FallibleIterator;
        let place = &self.place;
        let mut rows = self
            .client
            .query_raw(sql, std::iter::empty::<i32>())
            .map_err(|error| failure_at(place, &error))?;
        while let Some(row) = rows.next().map_err(|error| failure_at(place, &error))? {
            visit(make(&row)?)?;
        }
        Ok(())
    }

    fn export_rows(
        &mut self,
        visit: &mut dyn FnMut(StateRow) -> Result<(), StateError>,
    ) -> Result<(), StateError> {
        self.visit_rows(
            "SELECT lead, entry FROM ledger ORDER BY lead",
            |row| read_entry(row.get(0), row.get(1)).map(StateRow::Ledger),
            visit,
        )?;
        self.visit_rows(
            "SELECT lead, entry FROM lives ORDER BY lead",
            |row| read_life(row.get(0), row.get(1)).map(StateRow::Life),
            visit,
        )?;
        self.visit_rows(
            "SELECT pool, state FROM rotations WHERE state <> '' ORDER BY pool",
            |row| {
                Ok(StateRow::Rotation {
                    pool: row.get(0),
                    state: row.get(1),
                })
            },
            visit,
        )?;
        self.visit_rows(
            "SELECT lead, rep, at_s FROM assignments ORDER BY lead, rep",
            |row| {
                Ok(StateRow::Assignment {
                    lead: row.get(0),
                    rep: row.get(1),
                    at: from_seconds(row.get(2)),
                })
            },
            visit,
        )?;
        self.visit_rows(
            "SELECT rep, lead_s, lead FROM lead_times ORDER BY rep, lead_s, lead",
            |row| {
                Ok(StateRow::LeadTime {
                    rep: row.get(0),
                    lead_at: from_seconds(row.get(1)),
                    lead: row.get(2),
                })
            },
            visit,
        )?;
        self.visit_rows(
            "SELECT field, key, lead_s, lead, rep FROM prospects ORDER BY field, key, lead_s, lead",
            |row| {
                Ok(StateRow::Prospect {
                    field: row.get(0),
                    key: row.get(1),
                    lead_at: from_seconds(row.get(2)),
                    lead: row.get(3),
                    rep: row.get(4),
                })
            },
            visit,
        )?;
        self.visit_rows(
            "SELECT at_ns, lead FROM due ORDER BY at_ns, lead",
            |row| {
                Ok(StateRow::Due {
                    at: from_nanos(row.get(0)),
                    lead: row.get(1),
                })
            },
            visit,
        )?;
        self.visit_rows(
            "SELECT seq, at_ns, lead, body, pending FROM outbox ORDER BY seq",
            |row| {
                Ok(StateRow::Outbox(Outgoing {
                    seq: u64::try_from(row.get::<_, i64>(0)).unwrap_or_default(),
                    at: from_nanos(row.get(1)),
                    lead: row.get(2),
                    body: row.get(3),
                    pending: row.get(4),
                }))
            },
            visit,
        )
    }

    fn import_rows(
        &mut self,
        rows: &mut dyn Iterator<Item = Result<StateRow, StateError>>,
    ) -> Result<u64, StateError> {
        // Rows of every kind: a router deciding on what it keeps in memory must know.
        self.gate()?;
        self.gate_generation_moves()?;
        let leads = self
            .query_opt("SELECT count(*) FROM ledger", &[])?
            .map_or(0, |row| count(&row));
        if leads > 0 {
            return Err(not_empty(i64::try_from(leads).unwrap_or(i64::MAX)));
        }
        let mut imported = 0;
        for row in rows {
            match row? {
                StateRow::Ledger(recorded) => {
                    let mut entry = Vec::with_capacity(256);
                    compact::encode_recorded(&recorded.as_entry(), &mut entry);
                    self.execute(
                        "INSERT INTO ledger (lead, entry) VALUES ($1, $2)",
                        &[&&*recorded.decision.lead, &entry],
                    )?
                }
                StateRow::Life(life) => self.execute(
                    "INSERT INTO lives (lead, entry) VALUES ($1, $2) \
                     ON CONFLICT (lead) DO UPDATE SET entry = excluded.entry",
                    &[&life.lead, &life_text(&life)?],
                )?,
                StateRow::Rotation { pool, state } => self.execute(
                    "INSERT INTO rotations (pool, state) VALUES ($1, $2) \
                     ON CONFLICT (pool) DO UPDATE SET state = excluded.state",
                    &[&pool, &state],
                )?,
                StateRow::Assignment { lead, rep, at } => self.execute(
                    "INSERT INTO assignments (lead, rep, at_s) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                    &[&lead, &rep, &at.as_second()],
                )?,
                StateRow::LeadTime { rep, lead_at, lead } => self.execute(
                    "INSERT INTO lead_times (rep, lead_s, lead) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                    &[&rep, &lead_at.as_second(), &lead],
                )?,
                StateRow::Prospect {
                    field,
                    key,
                    lead_at,
                    lead,
                    rep,
                } => self.execute(
                    "INSERT INTO prospects (field, key, lead_s, lead, rep) \
                     VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (field, key, lead_s, lead) DO UPDATE SET rep = excluded.rep",
                    &[&field, &key, &lead_at.as_second(), &lead, &rep],
                )?,
                StateRow::Due { at, lead } => self.execute(
                    "INSERT INTO due (at_ns, lead) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&nanos(at), &lead],
                )?,
                StateRow::Outbox(message) => self.execute(
                    "INSERT INTO outbox (seq, at_ns, lead, body, pending) \
                     VALUES ($1, $2, $3, $4, $5)",
                    &[
                        &i64::try_from(message.seq).unwrap_or(i64::MAX),
                        &nanos(message.at),
                        &message.lead,
                        &message.body,
                        &message.pending,
                    ],
                )?,
            };
            imported += 1;
        }
        // What the tables derive from the rows: each rep's total, the outbox's next number.
        self.execute(
            "INSERT INTO rep_totals (rep, total) SELECT rep, count(*) FROM assignments GROUP BY rep \
             ON CONFLICT (rep) DO UPDATE SET total = excluded.total",
            &[],
        )?;
        self.query(
            "SELECT setval(pg_get_serial_sequence('outbox', 'seq'), \
             greatest((SELECT max(seq) FROM outbox), 1), (SELECT max(seq) FROM outbox) IS NOT NULL)",
            &[],
        )?;
        Ok(imported)
    }
}

/// A value `previous rep of` will look for, remembered by this batch: (lead second, lead, rep).
type Remembered = (i64, String, String);

/// An assignment of this batch, not sent yet.
struct Assignment {
    lead: String,
    rep: String,
    /// Routing time (loads count by it), in seconds.
    at_s: i64,
    /// The lead's own time (period caps count by it), in seconds.
    lead_s: i64,
}

/// What a batch wrote, sent together (one statement, [`PostgresState::send`]), and what it read,
/// kept current with its own writes. Only leads the read-ahead found absent from the ledger
/// are written here: their rows are new, so nothing read from the database counts them yet.
/// Everything else (`track`, `sweep`) is written at once.
#[derive(Default)]
struct Pending {
    /// The ledger entries of the batch's leads as read ahead (`None`: not in the ledger), and
    /// the entries this batch sent.
    ahead: HashMap<String, Option<Vec<u8>>>,
    /// Leads read ahead as absent and not assigned yet by this batch.
    fresh: HashSet<String>,
    /// Ledger entries recorded by this batch, and where each lead's is.
    ledger: Vec<(String, Vec<u8>)>,
    ledger_index: HashMap<String, usize>,
    assignments: Vec<Assignment>,
    /// Per field, per key: (lead second, lead, rep) remembered by this batch.
    prospects: HashMap<String, HashMap<String, Vec<Remembered>>>,
    /// (due nanoseconds, lead) scheduled for the first time by this batch.
    due: Vec<(i64, String)>,
    /// Due steps this batch moved (`sweep`, `track`), sent after `due`: per (due nanoseconds,
    /// lead), whether the row is there after the batch (the last move decides; an insert of a
    /// row that is there does nothing, a delete of one that is not neither).
    due_moved: HashMap<(i64, String), bool>,
    /// Lives this batch wrote, by lead, the last one each.
    lives: HashMap<String, String>,
    /// Loads since a time already counted, per rep: (since second, count), this batch's
    /// assignments included.
    loads: HashMap<String, Vec<(i64, u64)>>,
    /// Period-cap windows already counted, per rep: (from second, to second, count).
    windows: HashMap<String, Vec<(i64, i64, u64)>>,
}

impl Pending {
    /// Whether nothing waits to be sent.
    fn is_empty(&self) -> bool {
        self.ledger.is_empty()
            && self.assignments.is_empty()
            && self.prospects.is_empty()
            && self.due.is_empty()
            && self.due_moved.is_empty()
            && self.lives.is_empty()
    }

    fn clear(&mut self) {
        self.ahead.clear();
        self.fresh.clear();
        self.ledger.clear();
        self.ledger_index.clear();
        self.assignments.clear();
        self.prospects.clear();
        self.due.clear();
        self.due_moved.clear();
        self.lives.clear();
        self.loads.clear();
        self.windows.clear();
    }

    /// Whether every one of `assignments` and `due` is of a lead whose ledger entry this batch
    /// records (then those rows are new, as the entry is).
    fn rows_of_its_entries(&self, assignments: &[Assignment], due: &[(i64, String)]) -> bool {
        assignments
            .iter()
            .all(|assignment| self.ledger_index.contains_key(&assignment.lead))
            && due
                .iter()
                .all(|(_, lead)| self.ledger_index.contains_key(lead))
    }

    /// This batch's assignments of a rep not sent yet.
    fn unsent(&self, rep: &str) -> u64 {
        self.assignments
            .iter()
            .filter(|assignment| assignment.rep == rep)
            .count() as u64
    }

    /// Counts one more assignment in the counts already read.
    fn count(&mut self, rep: &str, at_s: i64, lead_s: i64) {
        if let Some(loads) = self.loads.get_mut(rep) {
            for (since, count) in loads {
                if at_s >= *since {
                    *count += 1;
                }
            }
        }
        if let Some(windows) = self.windows.get_mut(rep) {
            for (from, to, count) in windows {
                if *from <= lead_s && lead_s < *to {
                    *count += 1;
                }
            }
        }
    }
}

impl StateStore for PostgresState {
    fn begin(&mut self) -> Result<(), StateError> {
        if self.in_batch {
            return Ok(());
        }
        if self.handed.is_some() {
            if self.client.is_closed() {
                // Connected again by the store's own batches, once the writer is back.
                return Err(handed_over());
            }
            // Nothing is locked or written here: reads go to the database one statement at a
            // time, writes to the writer at commit. (The last batch ended at its commit or
            // rollback; the counts it kept stay.)
            self.in_batch = true;
            return Ok(());
        }
        self.reconnect_if_closed()?;
        if let Err(error) = self.client.batch_execute("BEGIN") {
            // The driver learns that the server restarted (or failed over) only when it next
            // speaks to it: here, before anything of the batch was done, so connecting again
            // and beginning once more loses nothing.
            if !transient(&error) {
                return Err(self.failure(&error));
            }
            self.reconnect()?;
            self.client
                .batch_execute("BEGIN")
                .map_err(|error| self.failure(&error))?;
        }
        self.end_batch();
        self.in_batch = true;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StateError> {
        if !self.in_batch {
            return Ok(());
        }
        if self.handed.is_some() {
            return self.hand_batch();
        }
        self.flush()?;
        let committed = self.client.batch_execute("COMMIT");
        if committed.is_ok() && self.batch_generation.is_some() {
            self.own_generation = self.batch_generation;
        }
        self.end_batch();
        committed.map_err(|error| self.failure(&error))
    }

    fn rollback(&mut self) -> Result<(), StateError> {
        if !self.in_batch {
            return Ok(());
        }
        self.end_batch();
        if self.handed.is_some() || self.client.is_closed() {
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

    fn reads_ahead(&self) -> bool {
        true
    }

    fn concurrency(&self) -> Option<String> {
        let isolation = self.isolation.as_deref().unwrap_or("not answered");
        Some(if self.counts_unlocked {
            format!(
                "default isolation {isolation}: a lead nobody in its pool can take is decided \
                 on counts read before the gate, and the counts are confirmed under it"
            )
        } else {
            format!("default isolation {isolation}: every count is read under the gate")
        })
    }

    fn reconnected(&mut self) -> Option<String> {
        if std::mem::take(&mut self.reconnected) {
            self.concurrency()
        } else {
            None
        }
    }

    fn decides_unlocked_first(&self) -> bool {
        // While handed over, nothing is locked: one pass on what the store keeps in memory.
        self.handed.is_none()
    }

    fn unlocked_pass(&mut self, on: bool) -> Result<(), StateError> {
        if !self.in_batch || self.handed.is_some() {
            return Ok(());
        }
        if on {
            // A batch that holds the gate already, or had its first pass (`serve`'s later
            // requests), decides in order: what it writes is sent under the gate.
            self.unlocked = !self.gated && !self.had_first_pass;
            self.had_first_pass = true;
            self.due_ahead = None;
            self.provisional.reads.clear();
            self.provisional.due_mark = self.pending.due.len();
            return Ok(());
        }
        if !self.unlocked {
            return Ok(());
        }
        self.unlocked = false;
        self.send()
    }

    fn provisional(&mut self, lead: &str, decided: bool) -> bool {
        let reads = std::mem::take(&mut self.provisional.reads);
        let due_from = std::mem::replace(&mut self.provisional.due_mark, self.pending.due.len());
        if !self.unlocked || !decided || reads.is_empty() {
            return false;
        }
        let due = self
            .pending
            .due
            .get(due_from..)
            .unwrap_or_default()
            .iter()
            .filter(|(_, due_lead)| due_lead == lead)
            .map(|(at, _)| *at)
            .collect();
        self.provisional
            .leads
            .insert(lead.to_string(), ProvisionalLead { reads, due });
        true
    }

    fn confirm_provisional(&mut self, lead: &str) -> Result<bool, StateError> {
        let Some(ProvisionalLead { reads, due }) = self.provisional.leads.remove(lead) else {
            return Ok(true);
        };
        for (of, read_then) in &reads {
            // Under the locks now, with this batch's earlier assignments counted.
            let now = match of {
                CountOf::Load { rep, since } => self.assigned(rep, *since)?,
                CountOf::Window { rep, from, to } => self.assigned_in(rep, *from, *to)?,
            };
            if now != *read_then {
                // The first pass sent the lead's rows, in this transaction: taken back, and
                // the lead is decided again.
                self.execute("DELETE FROM ledger WHERE lead = $1", &[&lead])?;
                self.due_ahead = None;
                if !due.is_empty() {
                    self.execute(
                        "DELETE FROM due WHERE at_ns = ANY($1) AND lead = $2",
                        &[&due, &lead],
                    )?;
                }
                self.pending.ahead.insert(lead.to_string(), None);
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn read_ahead(&mut self, leads: &[&str]) -> Result<(), StateError> {
        if !self.in_batch || leads.is_empty() {
            return Ok(());
        }
        let unread: Vec<&str> = leads
            .iter()
            .filter(|lead| {
                !self.pending.ahead.contains_key(**lead)
                    && !self.pending.ledger_index.contains_key(**lead)
            })
            .copied()
            .collect();
        let rows = self.query(
            "SELECT lead, entry FROM ledger WHERE lead = ANY($1)",
            &[&unread],
        )?;
        for lead in &unread {
            self.pending.ahead.insert((*lead).to_string(), None);
        }
        for row in rows {
            self.pending.ahead.insert(row.get(0), Some(row.get(1)));
        }
        for lead in unread {
            if matches!(self.pending.ahead.get(lead), Some(None)) {
                self.pending.fresh.insert(lead.to_string());
            }
        }
        Ok(())
    }

    fn recorded(&mut self, lead: &str) -> Result<Option<Recorded>, StateError> {
        if let Some(index) = self.pending.ledger_index.get(lead) {
            return read_entry(lead, &self.pending.ledger[*index].1).map(Some);
        }
        if let Some(ahead) = self.pending.ahead.get(lead) {
            return ahead
                .as_deref()
                .map(|entry| read_entry(lead, entry))
                .transpose();
        }
        let Some(row) = self.query_opt("SELECT entry FROM ledger WHERE lead = $1", &[&lead])?
        else {
            return Ok(None);
        };
        read_entry(lead, &row.get::<_, Vec<u8>>(0)).map(Some)
    }

    fn recorded_for_update(&mut self, lead: &str) -> Result<Option<Recorded>, StateError> {
        if let Some(swept) = self.swept.get(lead) {
            // Read ahead with its due step, and locked then.
            return swept
                .entry
                .as_deref()
                .map(|entry| read_entry(lead, entry))
                .transpose();
        }
        // What this batch recorded must be in the table to be locked there.
        self.flush()?;
        self.gate()?;
        let Some(row) = self.query_opt(
            "SELECT entry FROM ledger WHERE lead = $1 FOR UPDATE",
            &[&lead],
        )?
        else {
            return Ok(None);
        };
        read_entry(lead, &row.get::<_, Vec<u8>>(0)).map(Some)
    }

    fn record(&mut self, entry: &EntryRef<'_>) -> Result<(), StateError> {
        let mut encoded = Vec::with_capacity(256);
        compact::encode_recorded(entry, &mut encoded);
        let lead: &str = &entry.decision.lead;
        self.swept.remove(lead);
        if self.in_batch {
            if let Some(Some(_)) = self.pending.ahead.get(lead) {
                return Err(recorded_elsewhere(lead));
            }
            self.pending
                .ledger_index
                .insert(lead.to_string(), self.pending.ledger.len());
            self.pending.ledger.push((lead.to_string(), encoded));
            return Ok(());
        }
        let inserted = self.execute(
            "INSERT INTO ledger (lead, entry) VALUES ($1, $2) ON CONFLICT (lead) DO NOTHING",
            &[&lead, &encoded],
        )?;
        if inserted == 0 {
            return Err(recorded_elsewhere(lead));
        }
        Ok(())
    }

    fn rotation(&mut self, pool: &str) -> Result<Option<String>, StateError> {
        if let Some((state, _)) = self.rotations.get(pool) {
            return Ok(state.clone());
        }
        if let Some(handed) = &self.handed {
            // A pool without a row gets it from the store itself, under the gate.
            let state = handed.rotations.get(pool).ok_or_else(handed_over)?.clone();
            self.rotations
                .insert(pool.to_string(), (state.clone(), false));
            return Ok(state);
        }
        self.lock_routing_rows()?;
        // Every pool's rotation there is was locked with the gate.
        if let Some((state, _)) = self.rotations.get(pool) {
            return Ok(state.clone());
        }
        let mut row = self.query_opt(
            "SELECT state FROM rotations WHERE pool = $1 FOR UPDATE",
            &[&pool],
        )?;
        if row.is_none() {
            // The row exists before it is locked, so that the first routers of a new pool
            // queue up on it too.
            self.execute(
                "INSERT INTO rotations (pool, state) VALUES ($1, '') ON CONFLICT (pool) DO NOTHING",
                &[&pool],
            )?;
            row = self.query_opt(
                "SELECT state FROM rotations WHERE pool = $1 FOR UPDATE",
                &[&pool],
            )?;
        }
        let state = row
            .map(|row| row.get::<_, String>(0))
            .filter(|state| !state.is_empty());
        self.rotations
            .insert(pool.to_string(), (state.clone(), false));
        Ok(state)
    }

    fn set_rotation(&mut self, pool: &str, value: &str) -> Result<(), StateError> {
        if self.unlocked {
            return Err(needs_lock());
        }
        if !self.rotations.contains_key(pool) {
            // Lock it first: the write at commit must not overwrite another router's turn.
            self.rotation(pool)?;
        }
        self.rotations
            .insert(pool.to_string(), (Some(value.to_string()), true));
        Ok(())
    }

    fn assigned(&mut self, rep: &str, since: Option<Timestamp>) -> Result<u64, StateError> {
        if self.unlocked && self.counts_unlocked {
            let rep = rep.to_string();
            return self.unlocked_count(CountOf::Load { rep, since });
        }
        let total = self.lock_rep(rep)?;
        let Some(since) = since else {
            // Every assignment: a counter kept in the same transactions as the assignments.
            return Ok(total);
        };
        let since = since.as_second();
        if let Some((_, count)) = self
            .pending
            .loads
            .get(rep)
            .and_then(|loads| loads.iter().find(|(at, _)| *at == since))
        {
            return Ok(*count);
        }
        self.not_changed_in_flight(rep)?;
        // Since the roster's `as_of`: counted on the (rep, time) index once a batch, then kept
        // current with the batch's assignments.
        let rows = self.query(
            "SELECT count(*) FROM assignments WHERE rep = $1 AND at_s >= $2",
            &[&rep, &since],
        )?;
        let unsent = self
            .pending
            .assignments
            .iter()
            .filter(|assignment| assignment.rep == rep && assignment.at_s >= since)
            .count() as u64;
        let count = rows.first().map_or(0, count) + unsent;
        if self.in_batch {
            self.pending
                .loads
                .entry(rep.to_string())
                .or_default()
                .push((since, count));
        }
        Ok(count)
    }

    fn assign(
        &mut self,
        rep: &str,
        lead: &str,
        at: Timestamp,
        lead_at: Timestamp,
    ) -> Result<(), StateError> {
        if self.unlocked {
            return Err(needs_lock());
        }
        let (at_s, lead_s) = (at.as_second(), lead_at.as_second());
        // A lead new to the ledger (it has no assignment yet), or one a sweep read ahead and a
        // rep it never had: new rows, sent with the batch's, and counted as this batch's
        // assignments until then.
        let new_rows = self.in_batch
            && (self.pending.fresh.remove(lead)
                || self
                    .swept
                    .get(lead)
                    .is_some_and(|swept| !swept.reps.iter().any(|earlier| earlier == rep)));
        if self.handed.is_some() {
            if !new_rows {
                return Err(handed_over());
            }
            // The rep's total is kept from batch to batch: read before it is counted.
            self.lock_rep(rep)?;
        }
        if new_rows {
            if let Some(swept) = self.swept.get_mut(lead) {
                swept.reps.push(rep.to_string());
            }
            self.pending.assignments.push(Assignment {
                lead: lead.to_string(),
                rep: rep.to_string(),
                at_s,
                lead_s,
            });
            if let Some(total) = self.locked_reps.get_mut(rep) {
                *total += 1;
            }
            self.pending.count(rep, at_s, lead_s);
            return Ok(());
        }
        if self.in_batch && self.swept.contains_key(lead) {
            // The rep had the lead already, perhaps by an assignment of this batch not sent
            // yet: sent first, so that the insert below finds it and counts nothing twice.
            self.flush()?;
        }
        // Outside a batch, in a transaction of its own: the generation moves with the rows.
        let alone = !self.in_batch;
        if alone {
            self.client
                .batch_execute("BEGIN")
                .map_err(|error| self.failure(&error))?;
        }
        let written = self.assign_rows(rep, lead, at_s, lead_s);
        if alone {
            let end = if written.is_ok() {
                "COMMIT"
            } else {
                "ROLLBACK"
            };
            let ended = self
                .client
                .batch_execute(end)
                .map_err(|error| self.failure(&error));
            written?;
            ended?;
        } else {
            written?;
        }
        // Counted again from the tables when next asked.
        self.pending.loads.remove(rep);
        self.pending.windows.remove(rep);
        Ok(())
    }

    fn assigned_in(
        &mut self,
        rep: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<u64, StateError> {
        if self.unlocked && self.counts_unlocked {
            let rep = rep.to_string();
            return self.unlocked_count(CountOf::Window { rep, from, to });
        }
        self.lock_rep(rep)?;
        let (from, to) = (from.as_second(), to.as_second());
        if let Some((_, _, count)) = self.pending.windows.get(rep).and_then(|windows| {
            windows
                .iter()
                .find(|(start, end, _)| *start == from && *end == to)
        }) {
            return Ok(*count);
        }
        self.not_changed_in_flight(rep)?;
        let rows = self.query(
            "SELECT count(*) FROM lead_times WHERE rep = $1 AND lead_s >= $2 AND lead_s < $3",
            &[&rep, &from, &to],
        )?;
        let unsent = self
            .pending
            .assignments
            .iter()
            .filter(|a| a.rep == rep && from <= a.lead_s && a.lead_s < to)
            .count() as u64;
        let count = rows.first().map_or(0, count) + unsent;
        if self.in_batch {
            let windows = self.pending.windows.entry(rep.to_string()).or_default();
            // A rep's old windows are never asked for again once time has moved on.
            if windows.len() >= 16 {
                windows.remove(0);
            }
            windows.push((from, to, count));
        }
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
        if self.unlocked {
            return Err(needs_lock());
        }
        if self.handed.is_some() {
            return Err(handed_over());
        }
        let lead_s = lead_at.as_second();
        if self.in_batch {
            let remembered = self
                .pending
                .prospects
                .entry(field.to_string())
                .or_default()
                .entry(key.to_string())
                .or_default();
            match remembered
                .iter_mut()
                .find(|(at, earlier, _)| *at == lead_s && earlier == lead)
            {
                Some(entry) => entry.2 = rep.to_string(),
                None => remembered.push((lead_s, lead.to_string(), rep.to_string())),
            }
            return Ok(());
        }
        self.execute(
            "INSERT INTO prospects (field, key, lead_s, lead, rep) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (field, key, lead_s, lead) DO UPDATE SET rep = excluded.rep",
            &[&field, &key, &lead_s, &lead, &rep],
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
    ) -> Result<Option<(String, String)>, StateError> {
        // Under the gate: a lead of the same prospect that another router is routing now is
        // committed before this one looks.
        self.gate()?;
        let (from, to) = (from.as_second(), to.as_second());
        let row = self.query_opt(
            "SELECT lead_s, lead, rep FROM prospects WHERE field = $1 AND key = $2 \
             AND lead_s >= $3 AND lead_s <= $4 AND lead <> $5 \
             ORDER BY lead_s DESC, lead DESC LIMIT 1",
            &[&field, &key, &from, &to, &lead],
        )?;
        let stored: Option<(i64, String, String)> =
            row.map(|row| (row.get(0), row.get(1), row.get(2)));
        // The latest of the table's and this batch's (by lead time, then lead id).
        let unsent = self
            .pending
            .prospects
            .get(field)
            .and_then(|by_key| by_key.get(key))
            .and_then(|remembered| {
                remembered
                    .iter()
                    .filter(|(at, other, _)| from <= *at && *at <= to && other != lead)
                    .max_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)))
                    .cloned()
            });
        let latest = match (stored, unsent) {
            (Some(stored), Some(unsent)) => {
                if (unsent.0, &unsent.1) > (stored.0, &stored.1) {
                    Some(unsent)
                } else {
                    Some(stored)
                }
            }
            (stored, unsent) => stored.or(unsent),
        };
        Ok(latest.map(|(_, lead, rep)| (lead, rep)))
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
        if self.in_batch {
            if from.is_some() {
                // Moving a step is a change of what instances share.
                self.gate()?;
            }
            if let Some(from) = from {
                let key = (nanos(from), lead.to_string());
                if let Some(ahead) = &mut self.due_ahead {
                    ahead.steps.remove(&key);
                }
                self.pending.due_moved.insert(key, false);
            }
            if let Some(to) = to {
                let key = (nanos(to), lead.to_string());
                if let Some(ahead) = &mut self.due_ahead
                    && key.0 <= ahead.now_ns
                    && ahead.through.as_ref().is_none_or(|through| key <= *through)
                {
                    ahead.steps.insert(key.clone());
                }
                if from.is_none() && !self.pending.due_moved.contains_key(&key) {
                    // A lead's first step: sent with the batch's rows.
                    self.pending.due.push(key);
                } else {
                    // A step moved: sent after the first steps, when the batch next reads
                    // the table or commits.
                    self.pending.due_moved.insert(key, true);
                }
            }
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
        if self.in_batch && limit_to == 1 {
            return self.due_one(nanos(now));
        }
        self.due_ahead = None;
        self.flush()?;
        self.gate()?;
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
        if let Some(text) = self.pending.lives.get(lead) {
            return read_life(lead, text).map(Some);
        }
        if let Some(swept) = self.swept.get(lead) {
            return swept
                .life
                .as_deref()
                .map(|text| read_life(lead, text))
                .transpose();
        }
        let row = self.query_opt("SELECT entry FROM lives WHERE lead = $1", &[&lead])?;
        row.map(|row| read_life(lead, &row.get::<_, String>(0)))
            .transpose()
    }

    fn keep_life(&mut self, life: Life) -> Result<(), StateError> {
        let text = life_text(&life)?;
        if self.in_batch {
            // Sent when the batch next reads the table or commits.
            self.gate()?;
            if let Some(swept) = self.swept.get_mut(&life.lead) {
                swept.life = Some(text.clone());
            }
            self.pending.lives.insert(life.lead, text);
            return Ok(());
        }
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
        self.flush()?;
        let rows = self.query(
            "SELECT l.lead, l.entry, v.entry FROM ledger l LEFT JOIN lives v ON v.lead = l.lead",
            &[],
        )?;
        for row in rows {
            let lead: String = row.get(0);
            let entry: Vec<u8> = row.get(1);
            let life: Option<String> = row.get(2);
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
        self.gate()?;
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

    fn posted_after(&mut self, after: u64, limit_to: usize) -> Result<Vec<Outgoing>, StateError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let rows = self.query(
            "SELECT seq, at_ns, lead, body, pending FROM outbox WHERE seq > $1 \
             ORDER BY seq LIMIT $2",
            &[&after, &limit(limit_to)],
        )?;
        Ok(PostgresState::outgoing(rows))
    }

    fn lease(
        &mut self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StateError> {
        // Judged by the database's clock, not the servers' (theirs may disagree): the lease
        // lasts as long from now as asked.
        let lasts = nanos(until).saturating_sub(nanos(now));
        let taken = self.execute(
            "INSERT INTO leases (name, holder, until_ns) \
             VALUES ($1, $2, (extract(epoch FROM clock_timestamp()) * 1e9)::bigint + $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ns = excluded.until_ns \
             WHERE leases.holder = excluded.holder \
             OR leases.until_ns < (extract(epoch FROM clock_timestamp()) * 1e9)::bigint",
            &[&name, &holder, &lasts],
        )?;
        Ok(taken == 1)
    }

    fn tables_version(&self) -> Option<(i64, i64)> {
        Some((self.tables_found, i64::from(SCHEMA_VERSION)))
    }

    fn commits_elsewhere(&self) -> bool {
        true
    }

    fn hand_over_commits(&mut self) -> Result<Option<Box<dyn BatchWriter>>, StateError> {
        if self.in_batch
            || self.handed.is_some()
            || self.cannot_hand_over
            || self.rows_without_ledger
        {
            return Ok(None);
        }
        if self.declined_for > 0 {
            self.declined_for -= 1;
            return Ok(None);
        }
        self.reconnect_if_closed()?;
        let client = match self
            .spare_client
            .take()
            .filter(|client| !client.is_closed())
        {
            Some(client) => client,
            // Without a second connection the store goes on committing its batches itself.
            None => match connect(&self.config, &self.place, self.tls.as_ref()) {
                Ok(client) => client,
                Err(_) => {
                    self.cannot_hand_over = true;
                    return Ok(None);
                }
            },
        };
        let snapshot = match handed::snapshot(&mut self.client) {
            Ok(Some(snapshot)) => snapshot,
            Ok(None) => {
                self.spare_client = Some(client);
                return Err(handed::gate_without_row(&self.place));
            }
            Err(error) => {
                self.spare_client = Some(client);
                let failure = self.failure(&error);
                // A retry asked for, or the server away: the store's own batches go on (and
                // connect again).
                return match failure.kind {
                    StateErrorKind::Conflict | StateErrorKind::Unavailable => Ok(None),
                    _ => Err(failure),
                };
            }
        };
        let seen = self.own_generation.replace(snapshot.generation);
        if seen.is_some_and(|seen| seen != snapshot.generation) {
            // Another router wrote since this one's last commit: its batches would likely be
            // refused. Tried again some batches later (twice as many each time, up to 64).
            self.spare_client = Some(client);
            self.declined_for = self.decline_backoff;
            self.decline_backoff = (self.decline_backoff * 2).min(64);
            return Ok(None);
        }
        self.decline_backoff = 1;
        let (handed, writer) = handed::Handed::start(client, &self.place, snapshot);
        self.handed = Some(handed);
        Ok(Some(writer))
    }

    fn take_back_commits(
        &mut self,
        writer: Box<dyn BatchWriter>,
        failed: bool,
    ) -> Result<(), StateError> {
        let writer = writer
            .into_any()
            .downcast::<handed::PostgresWriter>()
            .map_err(|_| {
                StateError::new(
                    StateErrorKind::Failed,
                    "internal error: a writer of another store was given back",
                )
            })?;
        // What was kept in memory is forgotten whether or not every batch was committed: the
        // store's own batches read and lock what they need, and the next hand-over reads it
        // all again.
        let _ = failed;
        self.handed = None;
        self.end_batch();
        self.own_generation = Some(writer.generation());
        if !writer.client.is_closed() && !writer.broken {
            self.spare_client = Some(writer.client);
        }
        Ok(())
    }

    fn export(
        &mut self,
        visit: &mut dyn FnMut(StateRow) -> Result<(), StateError>,
    ) -> Result<(), StateError> {
        self.reconnect_if_closed()?;
        // One snapshot for every table: the rows as of one moment, while routers go on. A
        // reader that pauses (`| less`) does not end the session: the export takes no lock.
        self.client
            .batch_execute(
                "SET idle_in_transaction_session_timeout = 0; \
                 BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            )
            .map_err(|error| self.failure(&error))?;
        let exported = self.export_rows(visit);
        let ended = self.client.batch_execute("COMMIT");
        exported?;
        ended.map_err(|error| self.failure(&error))
    }

    fn import(
        &mut self,
        rows: &mut dyn Iterator<Item = Result<StateRow, StateError>>,
    ) -> Result<u64, StateError> {
        self.begin()?;
        match self.import_rows(rows) {
            Ok(imported) => {
                self.commit()?;
                Ok(imported)
            }
            Err(error) => {
                let _ = self.rollback();
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{pgpass_fields, pgpass_password};

    #[test]
    fn a_password_file_is_read_as_libpq_reads_it() {
        let file = "# comment\n\
                    other:5432:*:sb:no\n\
                    127.0.0.1:5432:crm:sb:first\n\
                    *:*:*:sb:any\n\
                    127.0.0.1:*:*:we\\:ird:pa\\:ss\\\\word:with:colons\n";
        let want = |host, port, db, user| pgpass_password(file, [host, port, db, user]);
        assert_eq!(
            want("127.0.0.1", "5432", "crm", "sb").as_deref(),
            Some("first")
        );
        assert_eq!(
            want("db.example", "6543", "x", "sb").as_deref(),
            Some("any")
        );
        assert_eq!(
            want("127.0.0.1", "1", "x", "we:ird").as_deref(),
            Some("pa:ss\\word:with:colons")
        );
        assert_eq!(want("127.0.0.1", "5432", "crm", "nobody"), None);
        assert_eq!(
            pgpass_fields("a:b").len(),
            2,
            "a short line matches nothing"
        );
    }
}
