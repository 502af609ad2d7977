//! Routing state behind one small interface: each pool's rotation state, the assignments that
//! make up reps' load, and the ledger of every decision (which is how a lead seen before gets its
//! recorded decision again). The in-memory store lives here; stores that do I/O (SQLite) live at
//! the edge, in the `switchboard` package, behind the same trait.
//!
//! Architecture invariant: strategies never know which store they talk to. Every change happens
//! inside a batch (`begin` .. `commit`); a store that persists makes a batch durable at `commit`
//! or not at all, so a killed run loses only its uncommitted batch, which a re-run decides again.

mod bloom;
pub mod compact;
pub mod dump;
mod ledger;
mod prospects;
mod slots;

use ledger::Ledger;
pub use ledger::Spill;
use prospects::Prospects;

use crate::route::decision::{Decision, Name, RecordedTrace};
use crate::route::life::Life;
use crate::route::reader::same_bytes;
use jiff::Timestamp;
use std::collections::{BTreeMap, HashMap};

/// A decision as the ledger keeps it, with what is needed to answer for it later.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub decision: Decision,
    /// What the lead carried; `None` for entries recorded before fingerprints existed.
    pub fingerprint: Option<Fingerprint>,
    /// The routing time (`--now`, or the lead's clock where routing uses it).
    pub decided_at: Timestamp,
    /// The lead's own time (its clock field, else the routing time); `None` for entries
    /// recorded before it was kept.
    pub lead_at: Option<Timestamp>,
    /// The hash of the policy text that decided.
    pub policy_hash: Name,
    /// How it was decided (the rule path, every candidate and why), for `explain` later; kept
    /// by stores that [keep traces](StateStore::keeps_traces).
    pub trace: Option<RecordedTrace>,
}

/// A ledger entry as a store is given it to record ([`StateStore::record`]): a [`Recorded`]
/// that borrows its decision, policy hash and trace, so that a decision is recorded where it
/// was made, without a copy.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    pub decision: &'a Decision,
    pub fingerprint: Option<Fingerprint>,
    pub decided_at: Timestamp,
    pub lead_at: Option<Timestamp>,
    pub policy_hash: &'a Name,
    pub trace: Option<&'a RecordedTrace>,
}

impl Recorded {
    /// The entry as a store records it.
    pub fn as_entry(&self) -> EntryRef<'_> {
        EntryRef {
            decision: &self.decision,
            fingerprint: self.fingerprint,
            decided_at: self.decided_at,
            lead_at: self.lead_at,
            policy_hash: &self.policy_hash,
            trace: self.trace.as_ref(),
        }
    }
}

/// The digest of what a lead carried ([`crate::model::Policy::fingerprint`]) and of the schema
/// it was read with ([`crate::model::Policy::schema_digest`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub lead: u64,
    pub schema: u64,
}

impl Fingerprint {
    /// Whether a lead with fingerprint `other` is the lead this was recorded for. Fingerprints
    /// taken with different schemas cannot tell (the lead is then matched by its id alone).
    pub fn same_lead(&self, other: &Fingerprint) -> bool {
        self.schema != other.schema || self.lead == other.lead
    }
}

/// A state store failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateError {
    pub kind: StateErrorKind,
    /// What failed, in words, naming the store (`state database: disk I/O error`).
    pub message: String,
}

/// What kind of failure a [`StateError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateErrorKind {
    /// The store cannot be opened or reached.
    Unavailable,
    /// Another writer held the store past the timeout.
    Busy,
    /// The store holds something that is not what it wrote (a hand-edited or damaged record).
    Corrupt,
    /// Any other failure of the store.
    Failed,
    /// Another router changed the same rows at the same time (a lead id recorded by both, a
    /// serialization failure, a deadlock), or the batch took a lead for new that the ledger's
    /// key found recorded at commit (the SQLite store's batches of new leads): once the batch
    /// is rolled back, deciding it again gives the right answer.
    Conflict,
    /// In the first pass of a batch ([`StateStore::decides_unlocked_first`]), the lead asked
    /// for state that other routers share: it is decided in the second pass, under the
    /// store's locks. [`crate::route::Router::route_parsed`] answers it; it never reaches a
    /// person. While a store's commits are handed over ([`StateStore::hand_over_commits`]), it
    /// answers the same to anything it would have to read from its file: the batch is decided
    /// again once its writer is back.
    NeedsLock,
}

impl StateError {
    pub fn new(kind: StateErrorKind, message: impl Into<String>) -> StateError {
        StateError {
            kind,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for StateError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for StateError {}

/// How many leads [`StateStore::about_to_route`] is told of at once.
pub const ABOUT_TO_ROUTE: usize = 16;

/// What routing remembers between leads and between runs.
pub trait StateStore {
    /// Starts a batch of changes.
    fn begin(&mut self) -> Result<(), StateError>;
    /// Makes the batch's changes durable.
    fn commit(&mut self) -> Result<(), StateError>;
    /// Discards the batch's changes.
    fn rollback(&mut self) -> Result<(), StateError>;
    /// What the ledger holds for a lead id, if it was routed before.
    fn recorded(&mut self, lead: &str) -> Result<Option<Recorded>, StateError>;
    /// The ids of the next leads to be routed, in their order, [`ABOUT_TO_ROUTE`] at a time,
    /// each with its [`crate::model::lead_id::keyed_hash`] when it was computed ahead: a store
    /// in memory reads the places their look-ups will read, all at once, so that their cache
    /// misses overlap instead of stalling one lead each.
    fn about_to_route(&self, leads: &mut dyn Iterator<Item = (&str, Option<u64>)>) {
        let _ = leads;
    }
    /// Whether the store finds a lead by its id's [`crate::model::lead_id::keyed_hash`], so
    /// that a reader computes it ahead ([`crate::route::reader::ParsedLead::find_id_hash`]);
    /// a store that does not would only be handed work it never reads.
    fn finds_leads_by_keyed_hash(&self) -> bool {
        false
    }
    /// About how many leads a run is about to route (a file's size over its first lines'
    /// length): a store in memory makes room for them at once, up to a bound.
    fn expect_leads(&mut self, leads: usize) {
        let _ = leads;
    }
    /// Whether the store wants a batch's lead ids before the batch is decided
    /// ([`StateStore::read_ahead`]): a store behind a network reads them in one round trip.
    fn reads_ahead(&self) -> bool {
        false
    }
    /// The lead ids a batch is about to route, read ahead of their [`StateStore::recorded`]
    /// (called inside the batch, after [`StateStore::begin`]).
    fn read_ahead(&mut self, leads: &[&str]) -> Result<(), StateError> {
        let _ = leads;
        Ok(())
    }
    /// Whether a batch is decided in two passes ([`crate::route::Router::route_parsed`]):
    /// first, before the store locks anything, every lead whose decision needs none of its
    /// locks (no pool's rotation, no earlier lead of its prospect, no assignment: a queue, a
    /// duplicate, or a pool where nobody is eligible, whose counts are confirmed later:
    /// [`StateStore::provisional`]), and then the others, in their order, under the store's
    /// locks. A store that several routers share holds its locks for a shorter part of each
    /// batch that way.
    fn decides_unlocked_first(&self) -> bool {
        false
    }
    /// Starts (`true`) or ends (`false`) a batch's first pass. In it the store answers
    /// [`StateErrorKind::NeedsLock`] to anything that needs its locks (a pool's rotation, a
    /// prospect's earlier leads, an assignment), before it has written anything for that
    /// lead; reading the ledger and a lead's life needs none, and a rep's counts may be read
    /// without locks for a [provisional](StateStore::provisional) decision. Ending it may
    /// send what the pass recorded; a rollback ends it too.
    fn unlocked_pass(&mut self, on: bool) -> Result<(), StateError> {
        let _ = on;
        Ok(())
    }
    /// Called after each lead the first pass routed (`decided`) or stopped
    /// ([`StateErrorKind::NeedsLock`]): whether the decision of `lead` is provisional, because
    /// it read reps' counts without the store's locks (and assigned nobody: every candidate
    /// was at a cap, away or out of office; an `on shift` pool with nobody on shift assigns
    /// the next shift instead, so it needs the locks). Counts only grow, so such a decision
    /// is the locked one unless a count changed before the lead's turn: the second pass asks
    /// [`StateStore::confirm_provisional`]. The store forgets the reads of a stopped lead.
    fn provisional(&mut self, lead: &str, decided: bool) -> bool {
        let _ = (lead, decided);
        false
    }
    /// In the second pass, under the store's locks, in the provisional lead's turn: whether
    /// every count its decision read is the count now. If one is not, the store forgets what
    /// the decision recorded (its ledger entry, its due step) and answers `false`: the router
    /// decides the lead again.
    fn confirm_provisional(&mut self, lead: &str) -> Result<bool, StateError> {
        let _ = lead;
        Ok(true)
    }
    /// [`StateStore::recorded`], holding the lead for the rest of the batch where several
    /// routers share the store: what `track` and `sweep` read before they change a lead's
    /// life, so that two of them never fire the same step.
    fn recorded_for_update(&mut self, lead: &str) -> Result<Option<Recorded>, StateError> {
        self.recorded(lead)
    }
    /// Records a decision (for the lead its `decision.lead` names).
    fn record(&mut self, entry: &EntryRef<'_>) -> Result<(), StateError>;
    /// Whether the store keeps traces, so that routers record them (`explain` from the ledger).
    fn keeps_traces(&self) -> bool {
        false
    }
    /// A pool's rotation state (opaque to the store).
    fn rotation(&mut self, pool: &str) -> Result<Option<String>, StateError>;
    /// [`StateStore::rotation`] written into `into` (cleared first), without a new string per
    /// call where the store can; whether the pool has one.
    fn rotation_into(&mut self, pool: &str, into: &mut String) -> Result<bool, StateError> {
        into.clear();
        Ok(match self.rotation(pool)? {
            Some(text) => {
                into.push_str(&text);
                true
            }
            None => false,
        })
    }
    fn set_rotation(&mut self, pool: &str, value: &str) -> Result<(), StateError>;
    /// How many leads this state assigned to `rep` at or after `since` (all, without `since`).
    fn assigned(&mut self, rep: &str, since: Option<Timestamp>) -> Result<u64, StateError>;
    /// Records that `lead` went to `rep`: `at` is the routing time (loads count from the
    /// roster's `as_of` by it), `lead_at` the lead's own time (period caps count by it).
    /// Called inside a batch, once per lead and rep: routing hands a lead to one rep, and an
    /// escalation never to a rep who had it.
    fn assign(
        &mut self,
        rep: &str,
        lead: &str,
        at: Timestamp,
        lead_at: Timestamp,
    ) -> Result<(), StateError>;
    /// How many leads assigned to `rep` have their own time in `[from, to)`: what a
    /// `cap N per PERIOD` counts. Read from an index by rep and time, never the whole ledger.
    fn assigned_in(&mut self, rep: &str, from: Timestamp, to: Timestamp)
    -> Result<u64, StateError>;
    /// Remembers that `lead`, whose own time is `lead_at` and whose `field` held `key`
    /// (trimmed and case-folded), went to `rep`: what `previous rep of FIELD` reads.
    fn remember(
        &mut self,
        field: &str,
        key: &str,
        lead: &str,
        lead_at: Timestamp,
        rep: &str,
    ) -> Result<(), StateError>;
    /// The latest lead other than `lead` whose `field` held `key`, with its own time in
    /// `[from, to]`, and the rep it went to when it was routed: `(lead, rep)`.
    fn previous_rep(
        &mut self,
        field: &str,
        key: &str,
        lead: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Option<(String, String)>, StateError>;
    /// Moves the lead's entry in the due index from `from` (where it was scheduled, if
    /// anywhere) to `to` (`None`: nothing is due): the index `sweep` reads, keyed by time, so
    /// that leads not due are never read.
    fn schedule(
        &mut self,
        lead: &str,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<(), StateError>;
    /// Up to `limit` leads whose next step is due at or before `now`, with the time they are
    /// scheduled at, earliest first (ties by lead id).
    fn due(&mut self, now: Timestamp, limit: usize)
    -> Result<Vec<(String, Timestamp)>, StateError>;
    /// What happened to a lead since it was routed, once `track` or `sweep` changed it.
    fn life(&mut self, lead: &str) -> Result<Option<Life>, StateError>;
    /// Keeps a lead's life as given (its `scheduled` already where the due index holds it).
    fn keep_life(&mut self, life: Life) -> Result<(), StateError>;
    /// The decision a lead holds now, when `track` or `sweep` changed it (a re-sent lead is
    /// answered with it); `None` when it holds its recorded decision.
    fn current_decision(&mut self, lead: &str) -> Result<Option<Decision>, StateError> {
        self.life(lead)?
            .map(|life| read_current(lead, &life.current))
            .transpose()
    }
    /// Keeps a lead's life, and moves its due-index entry from `life.scheduled` to its next
    /// step (recording that in the life kept).
    fn set_life(&mut self, life: &Life) -> Result<(), StateError> {
        let next = life.next_step_at();
        self.schedule(&life.lead, life.scheduled, next)?;
        let mut kept = life.clone();
        kept.scheduled = next;
        self.keep_life(kept)
    }
    /// Every lead in the ledger with its life, in no particular order: what `report` reads.
    fn each_lead(
        &mut self,
        visit: &mut dyn FnMut(Recorded, Option<Life>),
    ) -> Result<(), StateError>;
    /// Takes a lead that nothing can change any more out of the store's working set: its life
    /// (when it has no step ahead and its current decision is the recorded one, so that a
    /// re-sent lead gets the same answer without it; for a lead no event or step changed, the
    /// life its decision begins) is handed back and dropped, and the lead is left out of
    /// [`StateStore::each_unsettled_lead`]; its ledger entry stays, for duplicates (an
    /// in-memory state with a [`Spill`] moves it there). `None` when the lead cannot be
    /// settled, or was settled already. Stores that keep every life (on disk) never settle:
    /// `simulate` uses it to keep its memory to the leads in flight.
    fn settle(&mut self, lead: &str) -> Result<Option<(Recorded, Life)>, StateError> {
        let _ = lead;
        Ok(None)
    }
    /// [`StateStore::each_lead`], without the leads [settled](StateStore::settle).
    fn each_unsettled_lead(
        &mut self,
        visit: &mut dyn FnMut(Recorded, Option<Life>),
    ) -> Result<(), StateError> {
        self.each_lead(visit)
    }
    /// Appends a fired escalation step to the outbox (`serve --notify` delivers it, in order;
    /// `pending: false` keeps it only for listing) and returns its sequence number.
    fn post(
        &mut self,
        at: Timestamp,
        lead: &str,
        body: &str,
        pending: bool,
    ) -> Result<u64, StateError>;
    /// The oldest messages not yet delivered, in sequence order, at most `limit`.
    fn undelivered(&mut self, limit: usize) -> Result<Vec<Outgoing>, StateError>;
    /// Marks a message delivered.
    fn delivered(&mut self, seq: u64) -> Result<(), StateError>;
    /// The messages of steps that fired at or after `since`, by firing time then sequence, at
    /// most `limit`.
    fn posted_since(&mut self, since: Timestamp, limit: usize)
    -> Result<Vec<Outgoing>, StateError>;
    /// The messages posted after the one numbered `after`, in the order they were posted, at
    /// most `limit`: a cursor a poller cannot miss a step with (a step fires at its own time,
    /// so one noticed late sorts before those listed earlier by time).
    fn posted_after(&mut self, after: u64, limit: usize) -> Result<Vec<Outgoing>, StateError>;
    /// Takes or renews the lease `name` for `holder` until `until`: `false` while another
    /// holder's lease runs past `now`. What lets one of several servers on a shared state
    /// deliver the outbox (a store one process owns always grants it).
    fn lease(
        &mut self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StateError> {
        let _ = (name, holder, now, until);
        Ok(true)
    }
    /// How the store keeps several routers in step, for people (`switchboard state
    /// init|migrate` and `serve`'s start say it): `None` for a store one process owns.
    fn concurrency(&self) -> Option<String> {
        None
    }
    /// Whether the store connected again since it was last asked (its server restarted, or a
    /// failover put another server behind the same address): then how it keeps routers in
    /// step now ([`StateStore::concurrency`]), once, so that `serve` can say it again.
    fn reconnected(&mut self) -> Option<String> {
        None
    }
    /// The version of the tables when the store was opened (0: created then) and the version
    /// they have now: stores that keep tables (`switchboard state init|migrate`).
    fn tables_version(&self) -> Option<(i64, i64)> {
        None
    }
    /// Whether the store can hand its commits to a writer on another thread
    /// ([`StateStore::hand_over_commits`]), so that a run decides the next batch while the
    /// last one is committed.
    fn commits_elsewhere(&self) -> bool {
        false
    }
    /// Hands the store's commits to a [`BatchWriter`], outside a batch. Until the writer is
    /// taken back ([`StateStore::take_back_commits`]), [`StateStore::commit`] hands each
    /// batch to it in order, the store decides on what it keeps in memory (carried from batch
    /// to batch, checked by the writer: a batch is refused with [`StateErrorKind::Conflict`]
    /// when anyone else wrote to the store since the writer's last commit), and anything it
    /// would read from its files answers [`StateErrorKind::NeedsLock`]. `None`: not now (what
    /// it keeps in memory is not known to be current), or never.
    fn hand_over_commits(&mut self) -> Result<Option<Box<dyn BatchWriter>>, StateError> {
        Ok(None)
    }
    /// Takes the writer back, once every batch handed to it was committed or dropped: the
    /// store commits its batches itself again. `failed`: a batch failed or was dropped, so
    /// what the store keeps in memory (the dropped batches' changes) is forgotten.
    fn take_back_commits(
        &mut self,
        writer: Box<dyn BatchWriter>,
        failed: bool,
    ) -> Result<(), StateError> {
        let _ = (writer, failed);
        Ok(())
    }
    /// Every row the state keeps (`switchboard state export`), table by table.
    fn export(
        &mut self,
        visit: &mut dyn FnMut(dump::StateRow) -> Result<(), StateError>,
    ) -> Result<(), StateError> {
        let _ = visit;
        Err(not_kept("exported"))
    }
    /// Adds exported rows to this state, which must hold no lead yet, in one transaction, then
    /// counts again what it derives from them (`switchboard state import`). Answers how many
    /// rows were added.
    fn import(
        &mut self,
        rows: &mut dyn Iterator<Item = Result<dump::StateRow, StateError>>,
    ) -> Result<u64, StateError> {
        let _ = rows;
        Err(not_kept("imported"))
    }
}

/// The writing half of a store whose batches are committed on a thread of their own
/// ([`StateStore::hand_over_commits`]), while the next batch is decided.
pub trait BatchWriter: Send {
    /// Commits the oldest batch handed over and not yet committed or dropped: durable when it
    /// answers `Ok`, or, for a writer with a [`BatchWriter::syncer`], once that syncer's next
    /// [`Syncer::sync`] has returned `Ok`. A batch decided on something another writer changed
    /// since is refused with [`StateErrorKind::Conflict`] and nothing of it is written.
    fn commit_next(&mut self) -> Result<(), StateError>;
    /// What makes this writer's commits durable on another thread, so that the next batch is
    /// committed while the last one reaches the disk: `None` (the default) when every commit is
    /// durable as it answers. Asked once, right after the writer is handed over.
    fn syncer(&mut self) -> Option<Box<dyn Syncer>> {
        None
    }
    /// Drops the oldest batch handed over, unwritten (one before it failed, so it was decided
    /// on changes that are not in the store).
    fn drop_next(&mut self);
    /// The writer as [`std::any::Any`], for the store that made it to take it back.
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send>;
}

/// Makes the commits a [`BatchWriter`] made before a call durable (see
/// [`BatchWriter::syncer`]).
pub trait Syncer: Send {
    /// Makes every commit that answered before this call durable. After an error nothing
    /// committed since the last `Ok` may be taken for durable, and the caller calls no more (a
    /// failed sync can lose what it failed to write, and a second call can answer `Ok` without
    /// having written it).
    fn sync(&mut self) -> Result<(), StateError>;
}

/// The error of a state kept nowhere (`:memory:`) asked to move.
fn not_kept(what: &str) -> StateError {
    StateError::new(
        StateErrorKind::Failed,
        format!("a state kept in memory cannot be {what}: give --state a file or postgres:// URL"),
    )
}

/// A message of the outbox: one fired escalation step, kept until it is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Its place in the outbox: delivered in this order.
    pub seq: u64,
    /// When the step fired.
    pub at: Timestamp,
    pub lead: String,
    /// The step as `sweep` prints it.
    pub body: String,
    /// Still to be delivered.
    pub pending: bool,
}

/// The hash of the maps keyed by the policy's and the roster's names (reps, pools), which
/// routing looks up several times a lead: foldhash, seeded per process, where the standard
/// library's SipHash showed in route's profile.
type RepHash = foldhash::fast::RandomState;

/// Counts of period-cap windows already asked for, per rep, kept current as leads are
/// assigned: a window is counted from the index once, then each lead is one addition.
#[derive(Debug, Default)]
pub struct WindowCounts(HashMap<String, Vec<(Timestamp, Timestamp, u64)>, RepHash>);

impl WindowCounts {
    pub fn get(&self, rep: &str, from: Timestamp, to: Timestamp) -> Option<u64> {
        self.0
            .get(rep)?
            .iter()
            .find(|(start, end, _)| *start == from && *end == to)
            .map(|(_, _, count)| *count)
    }

    pub fn insert(&mut self, rep: &str, from: Timestamp, to: Timestamp, count: u64) {
        let windows = self.0.entry(rep.to_string()).or_default();
        // A rep's old windows are never asked for again once time has moved on: keep a few.
        if windows.len() >= 16 {
            windows.remove(0);
        }
        windows.push((from, to, count));
    }

    /// Counts one more lead of `rep` at `lead_at` in every cached window that holds it.
    pub fn assigned(&mut self, rep: &str, lead_at: Timestamp) {
        if let Some(windows) = self.0.get_mut(rep) {
            for (from, to, count) in windows {
                if *from <= lead_at && lead_at < *to {
                    *count += 1;
                }
            }
        }
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// A life's current decision, read back.
fn read_current(lead: &str, current: &str) -> Result<Decision, StateError> {
    crate::route::wire::read_decision(current).map_err(|error| {
        StateError::new(
            StateErrorKind::Corrupt,
            format!("the current decision of `{lead}` cannot be read: {error}"),
        )
    })
}

/// A value as `previous rep of` compares it: trimmed, case-folded, without NUL characters
/// (which PostgreSQL's text cannot hold).
pub fn prospect_key(value: &str) -> String {
    value.trim().to_lowercase().replace('\0', "")
}

/// State that lives as long as the process (`--state :memory:`).
#[derive(Debug, Default)]
pub struct MemoryState {
    ledger: Ledger,
    rotations: HashMap<String, String, RepHash>,
    /// Per rep, the routing times of its assignments with how many share each, in the order
    /// they were made (a run routes at one `now`: one entry, not one per lead).
    assignments: HashMap<String, Vec<(Timestamp, u64)>, RepHash>,
    /// Per rep, how many of its leads have each lead time (leads may arrive out of order).
    lead_times: HashMap<String, BTreeMap<Timestamp, u64>, RepHash>,
    /// The period-cap windows counted so far.
    windows: WindowCounts,
    /// Per (field, key), the leads with that value.
    prospects: Prospects,
    /// Load counts already asked for, kept current as leads are assigned.
    loads: Loads,
    /// The lives `track` and `sweep` changed.
    lives: HashMap<String, Life>,
    /// The due index: (next step's time, lead).
    due_index: std::collections::BTreeSet<(Timestamp, String)>,
    /// Leads scheduled for the first time since the index was last read: appended by routing
    /// (cheap), taken into the index when it is read.
    pending_due: PendingDue,
    /// The outbox, in sequence order (`seq` is the index + 1).
    outbox: Vec<Outgoing>,
    /// The first message that may still be pending.
    outbox_first_pending: usize,
    /// How the times of assignments are kept.
    counting: Counting,
    /// Whether the leads' own times are left uncounted: a state made for one policy that has
    /// no `cap N per PERIOD` ([`MemoryState::without_lead_times`]).
    without_lead_times: bool,
    /// Whether the first steps routing schedules are left out of the due index: a state that
    /// lives one `route` run, which no `sweep` reads ([`MemoryState::without_due_index`]).
    without_due_index: bool,
}

/// How an in-memory state keeps the times it counts loads and period caps by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Counting {
    /// Every time as it is: any load `since` and any window can be counted.
    #[default]
    Exact,
    /// Times in buckets of `seconds` from the epoch, and routing times at `since` or later
    /// apart from those before it, so that memory does not grow with the number of leads
    /// (`simulate`). Counts exactly the loads since `since`, and windows and loads whose ends
    /// fall on a bucket's start; asked for anything else, the state answers an error.
    Buckets {
        seconds: i64,
        since: Option<Timestamp>,
    },
}

impl Counting {
    /// The time an assignment's routing time `at` is counted at.
    fn routing_key(self, at: Timestamp) -> Timestamp {
        match self {
            Counting::Exact => at,
            Counting::Buckets { seconds, since } => {
                let key = bucket_start(at, seconds);
                match since {
                    Some(since) if at >= since && key < since => since,
                    _ => key,
                }
            }
        }
    }

    /// The time a lead time is counted at.
    fn lead_key(self, lead_at: Timestamp) -> Timestamp {
        match self {
            Counting::Exact => lead_at,
            Counting::Buckets { seconds, .. } => bucket_start(lead_at, seconds),
        }
    }

    /// Whether counting from `at` (and up to it) is exact; `since` counts from the loads'.
    fn counts_from(self, at: Timestamp, loads: bool) -> bool {
        match self {
            Counting::Exact => true,
            Counting::Buckets { seconds, since } => {
                (loads && since == Some(at)) || bucket_start(at, seconds) == at
            }
        }
    }
}

/// The start of the bucket of `seconds` that holds `at`.
fn bucket_start(at: Timestamp, seconds: i64) -> Timestamp {
    // Whole seconds at or before `at` (before the epoch, `as_second` rounds toward zero).
    let second = at.as_second() - i64::from(at.subsec_nanosecond() < 0);
    let start = second - second.rem_euclid(seconds.max(1));
    Timestamp::from_second(start).unwrap_or(at)
}

/// The error of a state made for one `route` run when the due index is asked for.
fn no_due_index() -> StateError {
    StateError::new(
        StateErrorKind::Failed,
        "internal error: this in-memory state was made for one `route` run, which nothing \
         sweeps, and keeps no due index",
    )
}

fn not_counted(what: String, counting: Counting) -> StateError {
    let seconds = match counting {
        Counting::Buckets { seconds, .. } => seconds,
        Counting::Exact => 0,
    };
    StateError::new(
        StateErrorKind::Failed,
        format!("{what} cannot be counted: this state keeps times in buckets of {seconds} s"),
    )
}

impl MemoryState {
    /// Lets go of the spill files (a state about to be forgotten, not dropped, still has them
    /// closed and removed); the settled leads cannot be read after.
    pub fn release_spills(&mut self) {
        self.ledger.release_spills();
        self.prospects.release_spill();
    }

    /// This state, keeping the times it counts as `counting` says (before any is added).
    pub fn counting(self, counting: Counting) -> MemoryState {
        MemoryState { counting, ..self }
    }

    /// This state, not keeping its leads' own times: what a `cap N per PERIOD` counts, and
    /// nothing else. For a state that lives one run of one policy without such a cap
    /// (`route --state :memory:`): on 1,000,000 leads spread over six weeks, keeping them took
    /// about a tenth of routing's time on one thread (a map per rep, met at a far place at
    /// every lead). Counting a window then fails, never answers 0. A state that may meet
    /// another policy (`serve` reloads its policy) keeps them: [`MemoryState::default`].
    pub fn without_lead_times(self) -> MemoryState {
        MemoryState {
            without_lead_times: true,
            ..self
        }
    }

    /// This state, keeping no due index: the first steps routing schedules are not kept, and
    /// reading the index or moving a lead in it (what `track` and `sweep` do) fails. For a
    /// state that lives one `route` run, which nothing sweeps: on 1,000,000 leads with SLAs,
    /// the index's growing buffers took about a tenth of routing's time and 26 MB.
    pub fn without_due_index(self) -> MemoryState {
        MemoryState {
            without_due_index: true,
            ..self
        }
    }

    /// A state that moves the ledger entries of [settled](StateStore::settle) leads to
    /// `spill`, their places to `index` and the values `previous rep of` looks up to
    /// `prospects`, out of memory (`simulate`).
    pub fn spilling(
        spill: Box<dyn Spill>,
        index: Box<dyn Spill>,
        prospects: Box<dyn Spill>,
    ) -> MemoryState {
        MemoryState {
            ledger: Ledger::spilling(spill, index),
            prospects: Prospects::spilling(prospects),
            ..MemoryState::default()
        }
    }

    /// Takes the leads routing scheduled into the due index.
    fn take_pending_due(&mut self) {
        let pending = std::mem::take(&mut self.pending_due);
        for (at, lead) in pending.iter() {
            self.due_index.insert((at, lead.to_string()));
        }
    }

    /// Counts `count` leads of `rep` whose own time is `lead_at` in the period caps' windows,
    /// without adding to the rep's open load: what a test's `anna assigned 5 today` states.
    pub fn add_earlier_leads(&mut self, rep: &str, lead_at: Timestamp, count: u64) {
        *self
            .lead_times
            .entry(rep.to_string())
            .or_default()
            .entry(self.counting.lead_key(lead_at))
            .or_default() += count;
        self.windows.clear();
    }
}

/// Leads scheduled for the first time, in the order routing scheduled them, until a store takes
/// them into its due index: their ids end to end in one string, each entry its step's time and
/// where its id ends (it starts where the one before ends). No allocation per lead, 24 bytes
/// and the id's.
#[derive(Debug, Default)]
pub struct PendingDue {
    ids: String,
    entries: Vec<(Timestamp, usize)>,
}

impl PendingDue {
    /// Adds `lead`'s first step, due at `at`.
    pub fn push(&mut self, lead: &str, at: Timestamp) {
        self.ids.push_str(lead);
        self.entries.push((at, self.ids.len()));
    }

    /// The steps, in the order they were added: each its time and its lead.
    pub fn iter(&self) -> impl Iterator<Item = (Timestamp, &str)> {
        let starts = std::iter::once(0).chain(self.entries.iter().map(|(_, end)| *end));
        self.entries
            .iter()
            .zip(starts)
            .filter_map(|((at, end), start)| Some((*at, self.ids.get(start..*end)?)))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets every step, keeping the memory.
    pub fn clear(&mut self) {
        self.ids.clear();
        self.entries.clear();
    }
}

/// Adds one assignment made at `at` to a rep's counted routing times.
fn count_assignment(times: &mut Vec<(Timestamp, u64)>, at: Timestamp) {
    // Mostly the last time again; with buckets, a recent one.
    match times.iter_mut().rev().take(4).find(|(time, _)| *time == at) {
        Some((_, count)) => *count += 1,
        None => times.push((at, 1)),
    }
}

impl StateStore for MemoryState {
    fn begin(&mut self) -> Result<(), StateError> {
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StateError> {
        Ok(())
    }

    fn rollback(&mut self) -> Result<(), StateError> {
        Err(StateError::new(
            StateErrorKind::Failed,
            "the in-memory state cannot undo a batch",
        ))
    }

    fn recorded(&mut self, lead: &str) -> Result<Option<Recorded>, StateError> {
        self.ledger.get(lead)
    }

    fn about_to_route(&self, leads: &mut dyn Iterator<Item = (&str, Option<u64>)>) {
        self.ledger.warm(leads);
    }

    fn finds_leads_by_keyed_hash(&self) -> bool {
        true
    }

    fn expect_leads(&mut self, leads: usize) {
        self.ledger.reserve(leads);
    }

    fn record(&mut self, entry: &EntryRef<'_>) -> Result<(), StateError> {
        self.ledger.insert(entry)
    }

    fn rotation(&mut self, pool: &str) -> Result<Option<String>, StateError> {
        Ok(self.rotations.get(pool).cloned())
    }

    fn rotation_into(&mut self, pool: &str, into: &mut String) -> Result<bool, StateError> {
        into.clear();
        Ok(match self.rotations.get(pool) {
            Some(text) => {
                into.push_str(text);
                true
            }
            None => false,
        })
    }

    fn set_rotation(&mut self, pool: &str, value: &str) -> Result<(), StateError> {
        match self.rotations.get_mut(pool) {
            Some(kept) => value.clone_into(kept),
            None => {
                self.rotations.insert(pool.to_string(), value.to_string());
            }
        }
        Ok(())
    }

    fn assigned(&mut self, rep: &str, since: Option<Timestamp>) -> Result<u64, StateError> {
        if let Some(count) = self.loads.get(rep, since) {
            return Ok(count);
        }
        if let Some(since) = since
            && !self.counting.counts_from(since, true)
        {
            return Err(not_counted(
                format!("the leads assigned to `{rep}` since {since}"),
                self.counting,
            ));
        }
        let times = self.assignments.get(rep).map_or(&[][..], Vec::as_slice);
        let count = times
            .iter()
            .filter(|(at, _)| since.is_none_or(|since| *at >= since))
            .map(|(_, count)| count)
            .sum();
        self.loads.insert(rep, since, count);
        Ok(count)
    }

    fn assign(
        &mut self,
        rep: &str,
        _lead: &str,
        at: Timestamp,
        lead_at: Timestamp,
    ) -> Result<(), StateError> {
        let (at_key, lead_key) = (
            self.counting.routing_key(at),
            self.counting.lead_key(lead_at),
        );
        match self.assignments.get_mut(rep) {
            Some(times) => count_assignment(times, at_key),
            None => {
                self.assignments.insert(rep.to_string(), vec![(at_key, 1)]);
            }
        }
        self.loads.assigned(rep, at);
        if self.without_lead_times {
            return Ok(());
        }
        let times = match self.lead_times.get_mut(rep) {
            Some(times) => times,
            None => self.lead_times.entry(rep.to_string()).or_default(),
        };
        *times.entry(lead_key).or_default() += 1;
        self.windows.assigned(rep, lead_at);
        Ok(())
    }

    fn assigned_in(
        &mut self,
        rep: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<u64, StateError> {
        if self.without_lead_times {
            return Err(StateError::new(
                StateErrorKind::Failed,
                format!(
                    "internal error: the leads of `{rep}` from {from} to {to} cannot be counted: \
                     this in-memory state was made for a policy without `cap N per PERIOD`, \
                     and keeps no leads' own times"
                ),
            ));
        }
        if let Some(count) = self.windows.get(rep, from, to) {
            return Ok(count);
        }
        if !self.counting.counts_from(from, false) || !self.counting.counts_from(to, false) {
            return Err(not_counted(
                format!("the leads of `{rep}` from {from} to {to}"),
                self.counting,
            ));
        }
        let count = self.lead_times.get(rep).map_or(0, |times| {
            times.range(from..to).map(|(_, count)| *count).sum::<u64>()
        });
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
        self.prospects.remember(field, key, lead, lead_at, rep)
    }

    fn previous_rep(
        &mut self,
        field: &str,
        key: &str,
        lead: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Option<(String, String)>, StateError> {
        self.prospects.previous(field, key, lead, from, to)
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
        if self.without_due_index {
            if from.is_none() {
                return Ok(());
            }
            return Err(no_due_index());
        }
        if from.is_none()
            && let Some(to) = to
        {
            self.pending_due.push(lead, to);
            return Ok(());
        }
        self.take_pending_due();
        let mut key = (from.unwrap_or(Timestamp::MIN), lead.to_string());
        if from.is_some() {
            self.due_index.remove(&key);
        }
        if let Some(to) = to {
            key.0 = to;
            self.due_index.insert(key);
        }
        Ok(())
    }

    fn due(
        &mut self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(String, Timestamp)>, StateError> {
        if self.without_due_index {
            return Err(no_due_index());
        }
        self.take_pending_due();
        let mut due = Vec::new();
        let mut stale = Vec::new();
        for (at, lead) in self.due_index.iter().take_while(|(at, _)| *at <= now) {
            if due.len() == limit {
                break;
            }
            // A settled lead has no step ahead; an entry left for it (a state copied from
            // before the index was kept exactly) is dropped, never fired from a rebuilt life.
            if self.ledger.is_settled(lead)? {
                stale.push((*at, lead.clone()));
            } else {
                due.push((lead.clone(), *at));
            }
        }
        for entry in stale {
            self.due_index.remove(&entry);
        }
        Ok(due)
    }

    fn life(&mut self, lead: &str) -> Result<Option<Life>, StateError> {
        Ok(self.lives.get(lead).cloned())
    }

    fn current_decision(&mut self, lead: &str) -> Result<Option<Decision>, StateError> {
        match self.lives.get(lead) {
            Some(life) => read_current(lead, &life.current).map(Some),
            None => self.ledger.settled_current(lead),
        }
    }

    fn keep_life(&mut self, life: Life) -> Result<(), StateError> {
        self.lives.insert(life.lead.clone(), life);
        Ok(())
    }

    fn import(
        &mut self,
        rows: &mut dyn Iterator<Item = Result<dump::StateRow, StateError>>,
    ) -> Result<u64, StateError> {
        if !self.ledger.is_empty() {
            return Err(StateError::new(
                StateErrorKind::Failed,
                "the state already holds leads: import into an empty one",
            ));
        }
        let mut added = 0u64;
        for row in rows {
            match row? {
                dump::StateRow::Ledger(recorded) => self.ledger.insert(&recorded.as_entry())?,
                dump::StateRow::Life(life) => {
                    self.lives.insert(life.lead.clone(), life);
                }
                dump::StateRow::Rotation { pool, state } => {
                    self.rotations.insert(pool, state);
                }
                dump::StateRow::Assignment { rep, at, .. } => {
                    let at = self.counting.routing_key(at);
                    count_assignment(self.assignments.entry(rep).or_default(), at);
                }
                dump::StateRow::LeadTime { rep, lead_at, .. } => {
                    *self
                        .lead_times
                        .entry(rep)
                        .or_default()
                        .entry(self.counting.lead_key(lead_at))
                        .or_default() += 1;
                }
                dump::StateRow::Prospect {
                    field,
                    key,
                    lead_at,
                    lead,
                    rep,
                } => {
                    self.prospects
                        .remember(&field, &key, &lead, lead_at, &rep)?;
                }
                dump::StateRow::Due { at, lead } => {
                    self.due_index.insert((at, lead));
                }
                dump::StateRow::Outbox(message) => self.outbox.push(message),
            }
            added += 1;
        }
        // Counts derived from the rows are counted again when asked for.
        self.loads.clear();
        self.windows.clear();
        Ok(added)
    }

    fn each_lead(
        &mut self,
        visit: &mut dyn FnMut(Recorded, Option<Life>),
    ) -> Result<(), StateError> {
        // One entry decoded at a time: a report over every lead holds its figures, never a
        // second copy of the ledger.
        let lives = &self.lives;
        self.ledger.for_each(true, &mut |entry| {
            let life = lives.get(&*entry.decision.lead).cloned();
            visit(entry, life);
        })
    }

    fn each_unsettled_lead(
        &mut self,
        visit: &mut dyn FnMut(Recorded, Option<Life>),
    ) -> Result<(), StateError> {
        let lives = &self.lives;
        self.ledger.for_each(false, &mut |entry| {
            let life = lives.get(&*entry.decision.lead).cloned();
            visit(entry, life);
        })
    }

    fn settle(&mut self, lead: &str) -> Result<Option<(Recorded, Life)>, StateError> {
        let Some(recorded) = self.ledger.get(lead)? else {
            return Ok(None);
        };
        if self.ledger.is_settled(lead)? {
            return Ok(None);
        }
        let life = match self.lives.get(lead) {
            // Neither `track` nor `sweep` touched it: its life is the one its decision begins,
            // and it has a step ahead when its decision has one (routing scheduled it).
            None => {
                if crate::route::life::first_step_at(&recorded.decision).is_some() {
                    return Ok(None);
                }
                Life::begin(
                    &recorded.decision,
                    recorded.lead_at.unwrap_or(recorded.decided_at),
                )
            }
            Some(life) => {
                if life.scheduled.is_some() || life.next_step_at().is_some() {
                    return Ok(None);
                }
                match self.lives.remove(lead) {
                    Some(life) => life,
                    None => return Ok(None),
                }
            }
        };
        // A lead routed again (after a rejection) is answered with its current decision: the
        // ledger keeps that beside the recorded one, in a spill. Without one, it stays.
        let current = (life.current != crate::route::wire::decision_json(&recorded.decision))
            .then(|| read_current(lead, &life.current))
            .transpose()?;
        if current.is_some() && !self.ledger.keeps_current(lead) {
            self.lives.insert(life.lead.clone(), life);
            return Ok(None);
        }
        self.ledger.mark_settled(lead, current.as_ref())?;
        Ok(Some((recorded, life)))
    }

    fn post(
        &mut self,
        at: Timestamp,
        lead: &str,
        body: &str,
        pending: bool,
    ) -> Result<u64, StateError> {
        let seq = self.outbox.len() as u64 + 1;
        self.outbox.push(Outgoing {
            seq,
            at,
            lead: lead.to_string(),
            body: body.to_string(),
            pending,
        });
        Ok(seq)
    }

    fn undelivered(&mut self, limit: usize) -> Result<Vec<Outgoing>, StateError> {
        while self
            .outbox
            .get(self.outbox_first_pending)
            .is_some_and(|message| !message.pending)
        {
            self.outbox_first_pending += 1;
        }
        Ok(
            self.outbox[self.outbox_first_pending.min(self.outbox.len())..]
                .iter()
                .filter(|message| message.pending)
                .take(limit)
                .cloned()
                .collect(),
        )
    }

    fn delivered(&mut self, seq: u64) -> Result<(), StateError> {
        if let Some(message) = usize::try_from(seq)
            .ok()
            .and_then(|seq| seq.checked_sub(1))
            .and_then(|index| self.outbox.get_mut(index))
        {
            message.pending = false;
        }
        Ok(())
    }

    fn posted_since(
        &mut self,
        since: Timestamp,
        limit: usize,
    ) -> Result<Vec<Outgoing>, StateError> {
        let mut found: Vec<&Outgoing> = self
            .outbox
            .iter()
            .filter(|message| message.at >= since)
            .collect();
        found.sort_by_key(|message| (message.at, message.seq));
        Ok(found.into_iter().take(limit).cloned().collect())
    }

    fn posted_after(&mut self, after: u64, limit: usize) -> Result<Vec<Outgoing>, StateError> {
        let start = usize::try_from(after).unwrap_or(usize::MAX);
        Ok(self
            .outbox
            .iter()
            .skip(start)
            .take(limit)
            .cloned()
            .collect())
    }
}

/// Cached load counts per rep and `since`, looked up without allocating. Keyed by the standard
/// library's hash: a `rep FIELD` action looks up (and caches) a name a lead gives. A small
/// direct-mapped memo in front answers the reps asked for again (a pool's members, lead after
/// lead) without hashing: its slot is chosen from the name's length and its first and last
/// eight bytes, and the name is compared in full before its entry is used, so a name that
/// lands on a taken slot only costs a look-up in the map.
#[derive(Debug, Default)]
pub struct Loads {
    /// Where each rep's counts are in `entries`.
    index: HashMap<String, usize>,
    /// Each rep's name and its counts per `since`.
    entries: Vec<(String, SinceCounts)>,
    /// Per slot, the place in `entries` of the rep met there last, plus one (0: none).
    memo: LoadsMemo,
}

/// A rep's counts of assignments, one per `since` asked for (`None`: all of them).
type SinceCounts = Vec<(Option<Timestamp>, u64)>;

/// The slots of [`Loads`]' memo.
#[derive(Debug)]
struct LoadsMemo([std::cell::Cell<u32>; LOADS_MEMO]);

impl Default for LoadsMemo {
    fn default() -> LoadsMemo {
        LoadsMemo(std::array::from_fn(|_| std::cell::Cell::new(0)))
    }
}

const LOADS_MEMO: usize = 256;
const _: () = assert!(LOADS_MEMO.is_power_of_two());

impl Loads {
    /// The memo's slot for `rep`, from its length and its first and last eight bytes, mixed
    /// by one multiplication: rep names in one roster differ at their start (`anna@acme.com`,
    /// `boris@acme.com`) or near their end (`territory_1_anna`, `territory_12_anna`).
    fn slot(rep: &str) -> usize {
        let bytes = rep.as_bytes();
        let word = |at: usize| {
            let mut word = [0u8; 8];
            let end = bytes.len().min(at + 8);
            if let (Some(from), Some(to)) = (bytes.get(at..end), word.get_mut(..end - at)) {
                to.copy_from_slice(from);
            }
            u64::from_le_bytes(word)
        };
        let first = word(0);
        let last = word(bytes.len().saturating_sub(8));
        let mixed =
            (first ^ last.rotate_left(29) ^ bytes.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // The top bits are the best mixed: LOADS_MEMO is a power of two.
        (mixed >> (64 - LOADS_MEMO.trailing_zeros())) as usize
    }

    /// The place of `rep`'s counts in `entries`.
    fn place(&self, rep: &str) -> Option<usize> {
        let slot = self.memo.0.get(Self::slot(rep))?;
        if let Some(place) = slot.get().checked_sub(1).map(|place| place as usize)
            && self
                .entries
                .get(place)
                .is_some_and(|(name, _)| same_bytes(name.as_bytes(), rep.as_bytes()))
        {
            return Some(place);
        }
        let place = *self.index.get(rep)?;
        if let Ok(marked) = u32::try_from(place + 1) {
            slot.set(marked);
        }
        Some(place)
    }

    pub fn get(&self, rep: &str, since: Option<Timestamp>) -> Option<u64> {
        self.entries
            .get(self.place(rep)?)?
            .1
            .iter()
            .find(|(s, _)| *s == since)
            .map(|(_, count)| *count)
    }

    pub fn insert(&mut self, rep: &str, since: Option<Timestamp>, count: u64) {
        let place = match self.place(rep) {
            Some(place) => place,
            None => {
                self.entries.push((rep.to_string(), Vec::new()));
                let place = self.entries.len() - 1;
                self.index.insert(rep.to_string(), place);
                place
            }
        };
        if let Some((_, counts)) = self.entries.get_mut(place) {
            counts.push((since, count));
        }
    }

    /// Counts one more assignment at `at` for every cached `since` it falls after.
    pub fn assigned(&mut self, rep: &str, at: Timestamp) {
        let Some(place) = self.place(rep) else { return };
        if let Some((_, counts)) = self.entries.get_mut(place) {
            for (since, count) in counts {
                if since.is_none_or(|since| at >= since) {
                    *count += 1;
                }
            }
        }
    }

    pub fn clear(&mut self) {
        self.index.clear();
        self.entries.clear();
        for slot in &self.memo.0 {
            slot.set(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_without_a_due_index_keeps_no_first_step_and_refuses_the_index() {
        let at: Timestamp = "2026-11-23T10:15:00Z".parse().unwrap();
        let mut kept = MemoryState::default();
        let mut without = MemoryState::default().without_due_index();
        for state in [&mut kept, &mut without] {
            state.schedule("L-1", None, Some(at)).unwrap();
            state.schedule("L-1", Some(at), Some(at)).unwrap();
        }
        assert_eq!(
            kept.due(Timestamp::MAX, 10),
            Ok(vec![("L-1".to_string(), at)])
        );
        assert!(without.pending_due.is_empty());
        for refused in [
            without.due(Timestamp::MAX, 10).unwrap_err(),
            without.schedule("L-1", Some(at), None).unwrap_err(),
        ] {
            assert_eq!(refused.kind, StateErrorKind::Failed);
            assert!(refused.message.contains("keeps no due index"), "{refused}");
        }
    }

    #[test]
    fn a_state_without_lead_times_counts_loads_and_refuses_to_count_a_window() {
        let at: Timestamp = "2026-11-23T10:00:00Z".parse().unwrap();
        let lead_at: Timestamp = "2026-11-20T08:30:00Z".parse().unwrap();
        let mut kept = MemoryState::default();
        let mut without = MemoryState::default().without_lead_times();
        for state in [&mut kept, &mut without] {
            for lead in ["L-1", "L-2", "L-3"] {
                state.assign("anna", lead, at, lead_at).unwrap();
            }
            assert_eq!(state.assigned("anna", None), Ok(3));
            assert_eq!(state.assigned("anna", Some(at)), Ok(3));
        }
        let day = (
            "2026-11-20T00:00:00Z".parse().unwrap(),
            "2026-11-21T00:00:00Z".parse().unwrap(),
        );
        assert_eq!(kept.assigned_in("anna", day.0, day.1), Ok(3));
        let refused = without.assigned_in("anna", day.0, day.1).unwrap_err();
        assert_eq!(refused.kind, StateErrorKind::Failed);
        assert!(
            refused.message.contains("without `cap N per PERIOD`"),
            "{refused}"
        );
        assert!(without.lead_times.is_empty());
    }

    /// A ledger entry for `decision`, the rest fixed (the ledger's tests use it too).
    pub(super) fn entry(decision: Decision) -> Recorded {
        Recorded {
            decision,
            fingerprint: Some(Fingerprint { lead: 7, schema: 9 }),
            decided_at: Timestamp::UNIX_EPOCH,
            lead_at: None,
            policy_hash: "0123456789abcdef".into(),
            trace: None,
        }
    }

    /// Two rep names that share a slot of the memo (among any LOADS_MEMO + 1 names, two do).
    fn names_sharing_a_slot() -> (String, String) {
        let mut seen: HashMap<usize, String> = HashMap::new();
        for number in 0..=LOADS_MEMO {
            let name = format!("rep_{number}_xyz");
            if let Some(earlier) = seen.insert(Loads::slot(&name), name.clone()) {
                return (earlier, name);
            }
        }
        unreachable!("{} names in {LOADS_MEMO} slots", LOADS_MEMO + 1)
    }

    /// Names that differ only in their middle (a team's number) or only at their start (one
    /// domain's addresses) spread over the memo as random slots would: before, names that
    /// ended alike shared a slot, and each look-up of one hashed its name.
    #[test]
    fn rep_names_alike_at_either_end_spread_over_the_memo() {
        let first = ["anna", "boris", "chen", "dmitri", "egor"];
        let spread = |names: Vec<String>| {
            let slots: std::collections::HashSet<usize> =
                names.iter().map(|name| Loads::slot(name)).collect();
            (slots.len(), names.len())
        };
        let territories = (0..19)
            .flat_map(|team| first.map(|name| format!("territory_{team}_{name}")))
            .collect();
        let addresses = (0..19)
            .flat_map(|team| first.map(|name| format!("{name}.{team}@acme-industries.com")))
            .collect();
        // 95 names at random in 256 slots take 79 of them on average.
        for (slots, names) in [spread(territories), spread(addresses)] {
            assert!(slots >= 70, "{names} names took {slots} slots");
        }
    }

    /// Reps whose names share a slot of the memo keep their own counts, asked for in turn,
    /// counted, and cleared.
    #[test]
    fn load_counts_of_reps_sharing_a_memo_slot_stay_apart() {
        let mut loads = Loads::default();
        let (anna, hanna) = ("team_anna", "team_hanna");
        let (a_xyz, b_xyz) = names_sharing_a_slot();
        let (a_xyz, b_xyz) = (a_xyz.as_str(), b_xyz.as_str());
        assert_eq!(Loads::slot(a_xyz), Loads::slot(b_xyz));
        let since = Timestamp::from_second(1_000).ok();
        loads.insert(a_xyz, None, 1);
        loads.insert(b_xyz, None, 2);
        loads.insert(b_xyz, since, 20);
        loads.insert(anna, None, 5);
        for _ in 0..3 {
            assert_eq!(loads.get(a_xyz, None), Some(1));
            assert_eq!(loads.get(b_xyz, None), Some(2));
            assert_eq!(loads.get(b_xyz, since), Some(20));
            assert_eq!(loads.get(a_xyz, since), None);
            assert_eq!(loads.get("c_xyz", None), None);
            assert_eq!(loads.get(hanna, None), None);
            assert_eq!(loads.get(anna, None), Some(5));
        }
        loads.assigned(b_xyz, Timestamp::from_second(2_000).unwrap());
        loads.assigned(b_xyz, Timestamp::from_second(10).unwrap());
        loads.assigned("c_xyz", Timestamp::from_second(2_000).unwrap());
        assert_eq!(loads.get(b_xyz, None), Some(4));
        assert_eq!(loads.get(b_xyz, since), Some(21));
        assert_eq!(loads.get(a_xyz, None), Some(1));
        loads.clear();
        assert_eq!(loads.get(a_xyz, None), None);
        assert_eq!(loads.get(b_xyz, None), None);
        loads.insert(b_xyz, None, 7);
        assert_eq!(loads.get(b_xyz, None), Some(7));
        assert_eq!(loads.get(a_xyz, None), None);
    }

    #[test]
    fn the_memory_ledger_returns_each_leads_own_decision() {
        let mut ledger = Ledger::default();
        let recorded = |i: usize| entry(Decision::new(format!("L-{i}")));
        for i in 0..200_000 {
            ledger.insert(&recorded(i).as_entry()).unwrap();
        }
        for i in 0..200_000 {
            assert_eq!(ledger.get(&format!("L-{i}")), Ok(Some(recorded(i))));
        }
        assert_eq!(ledger.get("L-200000"), Ok(None));
        // An entry longer than a chunk's slack gets room of its own.
        let mut long = Decision::new("big");
        long.reasons.push(crate::route::decision::Reason {
            action: None,
            reason: "x".repeat(ledger::CHUNK + 10).into(),
        });
        ledger.insert(&entry(long.clone()).as_entry()).unwrap();
        assert_eq!(ledger.get("big"), Ok(Some(entry(long))));
    }

    #[test]
    fn a_settled_lead_keeps_its_entry_and_leaves_the_unsettled_visits() {
        let mut state = MemoryState::default();
        let decision = Decision::new("L-1");
        state.record(&entry(decision.clone()).as_entry()).unwrap();
        state
            .record(&entry(Decision::new("L-2")).as_entry())
            .unwrap();
        // No life kept and no step in its decision: the life its decision begins.
        let (recorded, settled) = state.settle("L-1").unwrap().unwrap();
        assert_eq!(
            (recorded, settled),
            (
                entry(decision.clone()),
                Life::begin(&decision, Timestamp::UNIX_EPOCH)
            )
        );
        // Settled once: a second call settles nothing.
        assert_eq!(state.settle("L-1"), Ok(None));
        assert_eq!(state.life("L-1"), Ok(None));
        assert_eq!(state.recorded("L-1"), Ok(Some(entry(decision))));
        let mut unsettled = Vec::new();
        state
            .each_unsettled_lead(&mut |recorded, _| unsettled.push(recorded.decision.lead))
            .unwrap();
        assert_eq!(unsettled, vec![crate::model::LeadId::from("L-2")]);
        let mut all = 0;
        state.each_lead(&mut |_, _| all += 1).unwrap();
        assert_eq!(all, 2);
    }

    #[test]
    fn a_due_entry_left_for_a_settled_lead_is_dropped_not_fired() {
        let mut state = MemoryState::default();
        let decision = Decision::new("L-1");
        state.record(&entry(decision.clone()).as_entry()).unwrap();
        state
            .keep_life(Life::begin(&decision, Timestamp::UNIX_EPOCH))
            .unwrap();
        // An index entry the life does not know of, as an old state's upgrade leaves them.
        state
            .schedule("L-1", None, Some(Timestamp::UNIX_EPOCH))
            .unwrap();
        assert!(state.settle("L-1").unwrap().is_some());
        assert_eq!(state.due(Timestamp::MAX, 10), Ok(Vec::new()));
        assert!(state.due_index.is_empty());
    }

    #[test]
    fn a_lead_with_a_step_ahead_or_another_current_decision_is_not_settled() {
        let mut state = MemoryState::default();
        let decision = Decision::new("L-1");
        state.record(&entry(decision.clone()).as_entry()).unwrap();
        let mut life = Life::begin(&decision, Timestamp::UNIX_EPOCH);
        life.scheduled = Some(Timestamp::UNIX_EPOCH);
        state.keep_life(life.clone()).unwrap();
        assert_eq!(state.settle("L-1"), Ok(None));
        life.scheduled = None;
        life.current =
            "{\"lead\":\"L-1\",\"rule\":null,\"action\":\"queue\",\"queue\":\"q\"}".to_string();
        state.keep_life(life).unwrap();
        assert_eq!(state.settle("L-1"), Ok(None));
        assert!(state.life("L-1").unwrap().is_some());
    }

    #[test]
    fn previous_rep_finds_the_latest_other_lead_of_a_value_in_its_period() {
        let t = |text: &str| text.parse::<Timestamp>().unwrap();
        let mut state = MemoryState::default();
        let remember = |state: &mut MemoryState, lead: &str, at: &str, rep: &str| {
            state.remember("email", "a@x.io", lead, t(at), rep).unwrap();
        };
        // Out of order, and one lead remembered again with another rep.
        remember(&mut state, "L-2", "2026-11-23T10:00:00Z", "boris");
        remember(&mut state, "L-1", "2026-11-23T09:00:00Z", "anna");
        remember(&mut state, "L-3", "2026-11-23T11:00:00Z", "chen");
        remember(&mut state, "L-2", "2026-11-23T10:00:00Z", "dina");
        let previous = |state: &mut MemoryState, lead: &str, from: &str, to: &str| {
            state
                .previous_rep("email", "a@x.io", lead, t(from), t(to))
                .unwrap()
                .map(|(_, rep)| rep)
        };
        let day = ("2026-11-23T00:00:00Z", "2026-11-23T23:00:00Z");
        assert_eq!(
            state
                .previous_rep("email", "a@x.io", "L-9", t(day.0), t(day.1))
                .unwrap(),
            Some(("L-3".into(), "chen".into()))
        );
        // Not the lead itself; `to` is inclusive.
        assert_eq!(
            previous(&mut state, "L-3", day.0, "2026-11-23T11:00:00Z"),
            Some("dina".into())
        );
        assert_eq!(
            previous(&mut state, "L-2", day.0, "2026-11-23T10:00:00Z"),
            Some("anna".into())
        );
        // `from` is inclusive, and nothing before it counts.
        assert_eq!(
            previous(
                &mut state,
                "L-2",
                "2026-11-23T09:00:00Z",
                "2026-11-23T10:00:00Z"
            ),
            Some("anna".into())
        );
        assert_eq!(
            previous(
                &mut state,
                "L-2",
                "2026-11-23T09:00:01Z",
                "2026-11-23T10:00:00Z"
            ),
            None
        );
        assert_eq!(
            state
                .previous_rep("email", "b@x.io", "L-9", t(day.0), t(day.1))
                .unwrap(),
            None
        );
        // A value with many leads, newest first, two at each time: the same answers as a
        // direct search (the latest time, then the greatest id, other than the lead itself).
        let base = t("2026-11-23T00:00:00Z");
        let mut all = Vec::new();
        for i in (0..100i64).rev() {
            for id in ["a", "b"] {
                let at = base + jiff::SignedDuration::from_nanos(i * 1_500_000_000);
                let lead = format!("M-{i}-{id}");
                let rep = format!("rep-{i}-{id}");
                state.remember("country", "us", &lead, at, &rep).unwrap();
                all.push((at, lead, rep));
            }
        }
        all.sort();
        for (from, to, lead) in [
            (0, 99, "M-99-b"),
            (0, 99, "M-50-a"),
            (10, 40, "M-40-b"),
            (41, 41, "M-41-a"),
            (41, 41, "M-41-b"),
            (70, 20, "M-1-a"),
        ] {
            let from = base + jiff::SignedDuration::from_nanos(from * 1_500_000_000);
            let to = base + jiff::SignedDuration::from_nanos(to * 1_500_000_000);
            let direct = all
                .iter()
                .rev()
                .filter(|(at, id, _)| *at >= from && *at <= to && id != lead)
                .map(|(_, id, rep)| (id.clone(), rep.clone()))
                .next();
            assert_eq!(
                state.previous_rep("country", "us", lead, from, to).unwrap(),
                direct,
                "{lead}"
            );
        }
        assert!(state.prospects.kept_in_a_tree("country", "us"));
    }

    #[test]
    fn counted_in_buckets_loads_since_and_windows_on_buckets_are_exact_and_others_refused() {
        let t = |text: &str| text.parse::<Timestamp>().unwrap();
        let since = t("2026-11-23T08:07:13Z");
        let mut state = MemoryState::default().counting(Counting::Buckets {
            seconds: 900,
            since: Some(since),
        });
        for at in [
            "2026-11-23T08:05:00Z",
            "2026-11-23T08:07:13Z",
            "2026-11-23T08:10:00Z",
            "2026-11-23T08:14:59.5Z",
            "2026-11-23T08:15:00Z",
            "2026-11-23T09:40:00Z",
        ] {
            state.assign("anna", "L", t(at), t(at)).unwrap();
        }
        assert_eq!(state.assigned("anna", Some(since)), Ok(5));
        assert_eq!(state.assigned("anna", None), Ok(6));
        assert_eq!(
            state.assigned("anna", Some(t("2026-11-23T08:15:00Z"))),
            Ok(2)
        );
        assert_eq!(
            state.assigned("anna", Some(t("2026-11-23T08:00:00Z"))),
            Ok(6)
        );
        let refused = state
            .assigned("anna", Some(t("2026-11-23T08:10:00Z")))
            .unwrap_err();
        assert_eq!(
            refused.message,
            "the leads assigned to `anna` since 2026-11-23T08:10:00Z cannot be counted: this \
             state keeps times in buckets of 900 s"
        );
        let window = |state: &mut MemoryState, from: &str, to: &str| {
            state.assigned_in("anna", t(from), t(to))
        };
        assert_eq!(
            window(&mut state, "2026-11-23T08:00:00Z", "2026-11-23T09:00:00Z"),
            Ok(5)
        );
        assert_eq!(
            window(&mut state, "2026-11-23T08:15:00Z", "2026-11-23T09:45:00Z"),
            Ok(2)
        );
        assert!(window(&mut state, "2026-11-23T08:10:00Z", "2026-11-23T09:00:00Z").is_err());
        // Buckets start at or before their times, before the epoch too.
        assert_eq!(
            bucket_start(t("1969-12-31T23:59:59.5Z"), 900),
            t("1969-12-31T23:45:00Z")
        );
        assert_eq!(
            bucket_start(t("1970-01-01T00:15:00Z"), 900),
            t("1970-01-01T00:15:00Z")
        );
        // A thousand more leads in one quarter of an hour take one more entry, not a thousand.
        for second in 0..1000 {
            let at = t("2026-11-23T10:00:00Z") + jiff::SignedDuration::from_millis(second * 900);
            state.assign("anna", "L", at, at).unwrap();
        }
        assert_eq!(state.assignments["anna"].len(), 5);
        assert_eq!(state.lead_times["anna"].len(), 4);
        assert_eq!(state.assigned("anna", Some(since)), Ok(1005));
        assert_eq!(
            window(&mut state, "2026-11-23T10:00:00Z", "2026-11-23T10:15:00Z"),
            Ok(1000)
        );
    }

    #[test]
    fn with_a_spill_a_lead_routed_again_settles_and_answers_its_current_decision() {
        let mut state = MemoryState {
            ledger: ledger::spilling_in_memory(),
            ..MemoryState::default()
        };
        let decision = Decision::new("L-1");
        state.record(&entry(decision.clone()).as_entry()).unwrap();
        let mut life = Life::begin(&decision, Timestamp::UNIX_EPOCH);
        let mut current = Decision::new("L-1");
        current.action = crate::route::Action::Queue { queue: "q".into() };
        life.current = crate::route::wire::decision_json(&current);
        state.keep_life(life.clone()).unwrap();
        assert_eq!(state.current_decision("L-1"), Ok(Some(current.clone())));
        let (recorded, settled) = state.settle("L-1").unwrap().unwrap();
        assert_eq!((recorded, settled), (entry(decision.clone()), life));
        assert_eq!(state.life("L-1"), Ok(None));
        assert_eq!(state.recorded("L-1"), Ok(Some(entry(decision))));
        assert_eq!(state.current_decision("L-1"), Ok(Some(current)));
        assert_eq!(state.settle("L-1"), Ok(None));
    }
}
