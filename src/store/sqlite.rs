//! The SQLite state store (the embedded default, `.switchboard/state.db`): the core's
//! [`StateStore`] on one file, so that runs remember rotations, loads and the ledger.
//!
//! Architecture invariant: every change happens inside a batch (`begin` .. `commit`), one
//! `BEGIN IMMEDIATE` transaction, so two routers on one file serialise, and a killed run loses
//! only its uncommitted batch, which a re-run decides again.

use super::static_binds::{Bound, CachingConnection, StaticStatement};
use super::{from_nanos, from_seconds, life_text, nanos, not_empty, read_entry, read_life};
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use switchboard_core::route::life::Life;
use switchboard_core::route::state::dump::StateRow;
use switchboard_core::route::state::{
    BatchWriter, EntryRef, Loads, Outgoing, PendingDue, Recorded, StateError, StateErrorKind,
    StateStore, Syncer, WindowCounts, compact,
};
use switchboard_core::route::wire;

/// SQLite's errors as the core's state errors.
trait Database<T> {
    fn db(self) -> Result<T, StateError>;
}

impl<T> Database<T> for rusqlite::Result<T> {
    fn db(self) -> Result<T, StateError> {
        self.map_err(state_error)
    }
}

/// A SQLite error as the core's state error.
fn state_error(error: rusqlite::Error) -> StateError {
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
}

/// State in a SQLite file (`.switchboard/state.db` by default).
pub struct SqliteState {
    connection: CachingConnection,
    /// The file, for the writer's own connection ([`StateStore::hand_over_commits`]).
    path: PathBuf,
    /// The tables' version when the file was opened (0: a new file).
    tables_found: i64,
    in_batch: bool,
    /// Rotation states read (`None`: the pool has none yet) or written, with whether this
    /// batch changed them (written at commit). Like `loads` and `windows`, kept from batch to
    /// batch while `carrying` and nobody else wrote, else forgotten when a batch begins.
    rotations: HashMap<String, (Option<String>, bool)>,
    /// Load counts read in this batch, kept current as leads are assigned.
    loads: Loads,
    /// Period-cap windows counted in this batch, kept current as leads are assigned.
    windows: WindowCounts,
    /// The compact form of the entry being recorded (reused, so recording allocates nothing).
    scratch: Vec<u8>,
    /// The file's `names` as far as this connection has read or written them.
    names: compact::NameTable,
    /// How many names there were when this batch began (a rollback forgets the later ones).
    names_at_begin: usize,
    /// This batch's assignments (rep -> times in seconds), added to `load_counts` at commit.
    assigned_in_batch: TimesByRep,
    /// This batch's assignments by the leads' own times, added to `window_counts` at commit.
    lead_times_in_batch: TimesByRep,
    /// The first steps routing scheduled in this batch, appended to `pending_due_steps` at
    /// commit as one row ([`write_due`]).
    due_in_batch: PendingDue,
    /// The ledger as this batch read it ahead and wrote it, written at commit.
    batch_ledger: BatchLedger,
    /// Whether a batch's leads are taken for new without reading the ledger for them.
    assumption: Assumption,
    /// The assignments this batch made, written at commit.
    batch_assignments: BatchAssignments,
    /// Whether what the store keeps in memory (rotations, loads, windows) is kept from batch
    /// to batch, as long as `PRAGMA data_version` says no other connection wrote: since the
    /// store's commits were first handed over (`route` on two threads).
    carrying: bool,
    /// `PRAGMA data_version` of `connection` when its last batch began (`None`: not known).
    version_seen: Option<i64>,
    /// While the commits are handed over: where `commit` sends each batch's writes.
    handed: Option<mpsc::Sender<BatchWrites>>,
    /// While the commits are handed over: the writes the writer committed, emptied and sent
    /// back with their room, for the next batch to fill (a batch that started from nothing
    /// grew its ledger's buffers and hash tables again, 0.18 allocations a lead).
    spent: Option<mpsc::Receiver<BatchWrites>>,
    /// Per batch handed over and perhaps not committed yet: its number and, per rep it
    /// assigned, the span of its leads' times and its last routing time. A count the store
    /// does not keep in memory is read from the file only when no such batch could change it.
    in_flight: std::collections::VecDeque<(u64, HashMap<String, AssignedSpan>)>,
    /// How many batches were handed over, and how many the writer committed (it counts).
    handed_count: u64,
    committed: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The writer's connection, kept once taken back, for the next hand-over.
    spare_connection: Option<CachingConnection>,
    /// The writer's checkpointing thread, kept the same way (idle while the store commits
    /// itself), so that taking the writer back waits for no checkpoint.
    spare_checkpointer: Option<Checkpointer>,
    /// Set when a second connection could not be opened: commits are never handed over.
    cannot_hand_over: bool,
}

/// What a batch handed over assigned one rep: the first and the last of its leads' own times,
/// and its last routing time, in seconds.
#[derive(Clone, Copy)]
struct AssignedSpan {
    first_lead_s: i64,
    last_lead_s: i64,
    last_at_s: i64,
}

/// What a batch writes at its commit, taken out of the store then: written on the store's own
/// connection, or handed to a [`SqliteWriter`] on a thread of its own.
#[derive(Default)]
struct BatchWrites {
    /// The pools whose rotation the batch changed, with their states.
    rotations: Vec<(String, String)>,
    ledger: BatchLedger,
    assignments: BatchAssignments,
    /// The batch's assignments (rep -> routing times in seconds), added to `load_counts`.
    assigned: TimesByRep,
    /// The same by the leads' own times, added to `lead_counts` and `window_counts`.
    lead_times: TimesByRep,
    /// The first steps routing scheduled, appended to `pending_due_steps`.
    due: PendingDue,
    /// The names its entries were the first to use, and the id of the first: written with
    /// them when the batch was handed over (a batch the store commits itself writes its new
    /// names as it records).
    new_names: Vec<String>,
    first_new_name: usize,
    /// Whether the batch took leads for new ([`Assumption`]).
    assumed: bool,
    /// Set by `write` when the ledger's key refused a lead the batch took for new.
    ledger_refused: bool,
}

/// Per rep, times in seconds (of a batch's assignments). Emptied, it keeps its reps and their
/// room for the next batch, which mostly assigns the same reps (instead of making each rep's
/// name and list again every batch); a rep without times is as absent.
#[derive(Default)]
struct TimesByRep {
    by_rep: HashMap<String, Vec<i64>>,
}

impl TimesByRep {
    /// The most reps whose room is kept once emptied (beyond, all is given back).
    const REPS_KEPT: usize = 4096;

    fn push(&mut self, rep: &str, at_s: i64) {
        match self.by_rep.get_mut(rep) {
            Some(times) => times.push(at_s),
            None => {
                self.by_rep.insert(rep.to_string(), vec![at_s]);
            }
        }
    }

    /// `rep`'s times, if it has any.
    fn get(&self, rep: &str) -> Option<&[i64]> {
        self.by_rep
            .get(rep)
            .map(Vec::as_slice)
            .filter(|times| !times.is_empty())
    }

    /// The reps with times, and their times.
    fn iter(&self) -> impl Iterator<Item = (&String, &[i64])> {
        self.by_rep
            .iter()
            .filter(|(_, times)| !times.is_empty())
            .map(|(rep, times)| (rep, times.as_slice()))
    }

    /// How many reps have times.
    fn len(&self) -> usize {
        self.iter().count()
    }

    /// Forgets `rep`'s times.
    fn forget(&mut self, rep: &str) {
        if let Some(times) = self.by_rep.get_mut(rep) {
            times.clear();
        }
    }

    /// Forgets every time, keeping the reps' room.
    fn clear(&mut self) {
        if self.by_rep.len() > Self::REPS_KEPT {
            self.by_rep = HashMap::new();
        }
        self.by_rep.values_mut().for_each(Vec::clear);
    }
}

/// The assignments a batch made (`assignments` rows, each with the lead's own time), written at
/// its commit sorted by the lead's [`ledger_key`] and the rep, [`ROWS_A_STATEMENT`] rows a
/// statement. One statement each, as they were written before, cost about 8,600 instructions
/// (a statement-cache round, binding, the B-tree descent): in a policy that assigns most
/// leads, a third of a lead's cost.
/// Nothing inside a batch reads these rows: the counts read in a batch add the batch's own
/// assignments ([`SqliteState::assigned`], [`SqliteState::assigned_in`]).
#[derive(Default)]
struct BatchAssignments {
    /// The leads' ids and the reps' names, one after another.
    text: String,
    /// Per assignment: where its lead and its rep end in `text`, the routing time and the
    /// lead's own time, in seconds.
    rows: Vec<(usize, usize, i64, i64)>,
}

/// An assignment as written: lead, rep, routing time and the lead's own time, in seconds.
type AssignmentRow<'a> = (&'a str, &'a str, i64, i64);

impl BatchAssignments {
    fn push(&mut self, lead: &str, rep: &str, at_s: i64, lead_s: i64) {
        self.text.push_str(lead);
        let lead_end = self.text.len();
        self.text.push_str(rep);
        self.rows.push((lead_end, self.text.len(), at_s, lead_s));
    }

    fn clear(&mut self) {
        self.text.clear();
        self.rows.clear();
    }

    /// Every assignment as (lead, rep, routing time, lead's time), in the table's key order:
    /// by the lead's [`ledger_key`], then the rep.
    fn sorted(&self) -> Vec<AssignmentRow<'_>> {
        let mut start = 0;
        let mut rows = Vec::with_capacity(self.rows.len());
        for &(lead_end, rep_end, at_s, lead_s) in &self.rows {
            let lead = self.text.get(start..lead_end).unwrap_or_default();
            let rep = self.text.get(lead_end..rep_end).unwrap_or_default();
            rows.push((lead, rep, at_s, lead_s));
            start = rep_end;
        }
        rows.sort_unstable_by(|a, b| (ledger_key(a.0), a.1).cmp(&(ledger_key(b.0), b.1)));
        rows
    }
}

/// Batches of new leads read nothing ahead: their ids are taken to be absent from the ledger,
/// and the ledger's key checks that at commit. A batch that took a recorded lead for new
/// fails there with a conflict, is rolled back (nothing of it was printed) and is decided
/// again, reading the ledger first; so do the batches after it, until
/// [`CLEAN_READS_TO_ASSUME`] read-aheads in a row found none of their ids recorded. Sound
/// because the router records every lead it reads ahead and decides (or fails the batch), so
/// a recorded lead taken for new always meets the key before anything is printed. Reading
/// ahead costs about an eighth of a new lead's instructions; a run that sends leads again
/// pays one batch decided twice each time its leads turn from new to known. Only batches of
/// at least [`IDS_TO_ASSUME`] ids take their leads for new.
struct Assumption {
    /// Whether the next batch takes its leads for new.
    new_leads: bool,
    /// Whether the open batch took any lead for new (so a refusal by the key is a conflict).
    taken: bool,
    /// Read-aheads in a row that found none of their ids in the ledger.
    clean_reads: u32,
}

/// See [`Assumption`].
const CLEAN_READS_TO_ASSUME: u32 = 8;

/// The fewest ids a batch takes for new ([`Assumption`]): a smaller batch (`serve`'s, or a
/// pipe's few lines) reads its few entries, which costs little, where a miss would decide it
/// twice.
const IDS_TO_ASSUME: usize = IDS_A_READ;

impl Assumption {
    fn new() -> Assumption {
        Assumption {
            new_leads: true,
            taken: false,
            clean_reads: 0,
        }
    }

    /// A read-ahead found `found` of its ids recorded.
    fn read(&mut self, found: usize) {
        if found > 0 {
            self.clean_reads = 0;
        } else {
            self.clean_reads += 1;
            if self.clean_reads >= CLEAN_READS_TO_ASSUME {
                self.new_leads = true;
            }
        }
    }

    /// The ledger refused a lead the batch took for new.
    fn missed(&mut self) {
        self.new_leads = false;
        self.clean_reads = 0;
    }
}

/// Rows one multi-row `INSERT` writes: a statement's start and end are paid once for them,
/// not once a row.
const ROWS_A_STATEMENT: usize = 64;

/// Ledger entries an import keeps before it writes them (so that a large export is not held
/// in memory whole).
const ROWS_AN_IMPORT_WRITES: usize = 4096;

/// Lead ids one read-ahead `SELECT` asks for (a join with as many keys).
const IDS_A_READ: usize = 256;

/// Where the `index`th of several pieces kept one after another lies, given where each ends.
fn nth_span(ends: &[usize], index: usize) -> Option<std::ops::Range<usize>> {
    let start = match index.checked_sub(1) {
        Some(before) => *ends.get(before)?,
        None => 0,
    };
    Some(start..*ends.get(index)?)
}

/// Lead ids kept one after another in one text, and found again by a hash of the id (`S`,
/// seeded at random per process): no copy of an id per lead. Ids of other leads may share a
/// hash; each is compared in full.
///
/// A batch asks for its leads in the order it kept them (each lead twice: is it recorded,
/// then record it), so [`IdIndex::find`] first tries the id found last and the one after
/// it, compared in full, and hashes only when neither is the id (hashing and probing were
/// 3.2% of a SQLite run's CPU, docs/benchmarks.md). The shortcut answers only
/// while no id is kept twice, so that what it finds is always the last one kept, as the hash
/// chain's answer is.
///
/// While each id kept comes after the one before in the ledger's key order ([`ledger_key`]:
/// ids that count up, as CRM ids do), none is hashed at all: no id can be kept twice, and
/// the ids are found by halves. The first id out of that order hashes those before it, and
/// from then on every id is hashed as it is kept.
#[derive(Default)]
struct IdIndex<S = foldhash::fast::RandomState> {
    text: String,
    /// Where each id ends in `text`.
    ends: Vec<usize>,
    /// Per hash, the last id with it; ...
    by_hash: HashMap<u64, usize, foldhash::fast::RandomState>,
    /// ... and per id, the one before it with the same hash.
    same_hash_before: Vec<Option<usize>>,
    hash: S,
    /// The index [`IdIndex::find`] answered last (where the next question most likely is).
    found_last: std::cell::Cell<usize>,
    /// Whether some id is kept twice (then every question is hashed).
    kept_twice: bool,
    /// Whether some id came before the one kept before it in the ledger's key order (then
    /// every id is hashed, and `by_hash` finds them).
    out_of_order: bool,
}

impl<S: std::hash::BuildHasher> IdIndex<S> {
    /// The most bytes of ids whose room is kept once they are forgotten (a batch of long ids
    /// is rare; its room is given back).
    const ROOM_KEPT: usize = 16 << 20;

    #[cfg(test)]
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn clear(&mut self) {
        if self.text.capacity() > Self::ROOM_KEPT {
            self.text = String::new();
        }
        self.text.clear();
        self.ends.clear();
        self.by_hash.clear();
        self.same_hash_before.clear();
        self.found_last.set(0);
        self.kept_twice = false;
        self.out_of_order = false;
    }

    /// The `index`th id.
    fn get(&self, index: usize) -> Option<&str> {
        self.text.get(nth_span(&self.ends, index)?)
    }

    /// Keeps `id`; answers its index.
    fn push(&mut self, id: &str) -> usize {
        let index = self.ends.len();
        if !self.out_of_order {
            let follows = index
                .checked_sub(1)
                .and_then(|last| self.get(last))
                .is_none_or(|last| ledger_key(last) < ledger_key(id));
            if follows {
                self.text.push_str(id);
                self.ends.push(self.text.len());
                return index;
            }
            self.out_of_order = true;
            self.hash_those_kept();
        }
        self.text.push_str(id);
        self.ends.push(self.text.len());
        let before = self.by_hash.insert(self.hash.hash_one(id), index);
        self.same_hash_before.push(before);
        if !self.kept_twice && before.is_some() {
            self.kept_twice = self.find_before(index).is_some();
        }
        index
    }

    /// Hashes the ids kept so far (in the ledger's key order, so each one once), as if each
    /// had been hashed as it was kept.
    fn hash_those_kept(&mut self) {
        let mut start = 0;
        for (index, &end) in self.ends.iter().enumerate() {
            let id = self.text.get(start..end).unwrap_or_default();
            let before = self.by_hash.insert(self.hash.hash_one(id), index);
            self.same_hash_before.push(before);
            start = end;
        }
    }

    /// The index of `id` (the last one kept, if it was kept twice).
    fn find(&self, id: &str) -> Option<usize> {
        if !self.kept_twice {
            let last = self.found_last.get();
            for at in [last, last + 1] {
                if self.get(at) == Some(id) {
                    self.found_last.set(at);
                    return Some(at);
                }
            }
        }
        if !self.out_of_order {
            // Kept in key order: found by halves.
            let key = ledger_key(id);
            let (mut low, mut high) = (0, self.ends.len());
            while low < high {
                let middle = low + (high - low) / 2;
                match self.get(middle).map(ledger_key).cmp(&Some(key)) {
                    std::cmp::Ordering::Less => low = middle + 1,
                    std::cmp::Ordering::Greater => high = middle,
                    std::cmp::Ordering::Equal => {
                        self.found_last.set(middle);
                        return Some(middle);
                    }
                }
            }
            return None;
        }
        let found = self.find_from(self.by_hash.get(&self.hash.hash_one(id)).copied(), id);
        if let Some(at) = found {
            self.found_last.set(at);
        }
        found
    }

    /// The index of `id` kept before the `index`th id, the last one if it was kept twice:
    /// found without hashing it again, among the ids with the same hash.
    fn find_before(&self, index: usize) -> Option<usize> {
        let id = self.get(index)?;
        self.find_from(self.same_hash_before.get(index).copied().flatten(), id)
    }

    /// The first of the ids with the same hash from `at` on, backwards, that is `id`.
    fn find_from(&self, mut at: Option<usize>, id: &str) -> Option<usize> {
        while let Some(index) = at {
            if self.get(index) == Some(id) {
                return Some(index);
            }
            at = self.same_hash_before.get(index).copied().flatten();
        }
        None
    }
}

/// What one batch knows of the ledger without asking the file again: the entries of the
/// leads it read ahead ([`StateStore::read_ahead`]: `IDS_A_READ` ids a statement, not one
/// statement a lead), the leads it took for new without reading ([`Assumption`]), and the
/// entries it recorded, which reach the file at commit (or before a query that reads the whole
/// ledger) sorted by lead id, `ROWS_A_STATEMENT` a statement. The batch holds the write lock
/// from its `BEGIN IMMEDIATE`, so nothing it read can change under it.
#[derive(Default)]
struct BatchLedger {
    /// Per lead read ahead by this batch: what the file holds for it.
    known: HashMap<String, Known, foldhash::fast::RandomState>,
    /// The leads this batch took for new or recorded, in one index (a lead is looked up once
    /// a question, not once a kind). A lead taken for new is absent, as far as the batch
    /// knows: the router asks only about the leads it read ahead, and records each one it is
    /// told is absent, so the ledger's key meets every one of them at commit.
    ids: IdIndex,
    /// Per id of `ids`: the index of the entry this batch recorded for it, if it did.
    entry_of_id: Vec<Option<u32>>,
    /// The entries recorded by this batch, in the compact form with interned names, laid out as
    /// [`ENTRY_LAYOUT`] ([`ENTRY_FORM`]), one after another.
    entries: Vec<u8>,
    /// Per entry recorded by this batch: where it ends in `entries`, ...
    entry_ends: Vec<usize>,
    /// ... and its lead, as an index into `ids`.
    id_of_entry: Vec<u32>,
}

/// What the file's ledger holds for one lead, as a batch read it.
enum Known {
    /// No entry.
    Absent,
    /// An entry, and its form.
    Stored(Vec<u8>, i64),
}

/// What a batch knows of one lead's entry.
enum InBatch<'a> {
    /// The entry this batch recorded.
    Recorded(&'a [u8]),
    /// An entry read from the file, and its form.
    Stored(&'a [u8], i64),
    /// No entry.
    Absent,
    /// Not known: to be asked of the file.
    Unknown,
}

impl BatchLedger {
    /// How many entries wait to be written.
    fn len(&self) -> usize {
        self.entry_ends.len()
    }

    fn clear(&mut self) {
        self.known.clear();
        self.forget_ids();
    }

    /// Forgets the leads taken for new and the entries this batch recorded (rolled back, or
    /// written to the file: then both are read from the file).
    fn forget_ids(&mut self) {
        self.ids.clear();
        self.entry_of_id.clear();
        self.entries.clear();
        self.entry_ends.clear();
        self.id_of_entry.clear();
    }

    /// The id and the entry of the `index`th entry this batch recorded.
    fn recorded(&self, index: usize) -> Option<(&str, &[u8])> {
        let entry = self.entries.get(nth_span(&self.entry_ends, index)?)?;
        let id = *self.id_of_entry.get(index)?;
        Some((self.ids.get(id as usize)?, entry))
    }

    /// The entry this batch recorded for the `index`th id, if it did.
    fn entry_of(&self, index: usize) -> Option<&[u8]> {
        let entry = (*self.entry_of_id.get(index)?)? as usize;
        self.entries.get(nth_span(&self.entry_ends, entry)?)
    }

    /// Keeps `lead` as taken for new (absent from the file, as far as this batch knows).
    fn take_for_new(&mut self, lead: &str) {
        let index = self.ids.push(lead);
        // Taken again after it was recorded (not how the router asks): still recorded.
        let recorded = self
            .ids
            .find_before(index)
            .and_then(|before| self.entry_of_id.get(before).copied().flatten());
        self.entry_of_id.push(recorded);
    }

    /// What this batch knows of `lead`'s entry.
    fn lookup(&self, lead: &str) -> InBatch<'_> {
        let index = self.ids.find(lead);
        if let Some(entry) = index.and_then(|index| self.entry_of(index)) {
            return InBatch::Recorded(entry);
        }
        match self.known.get(lead) {
            Some(Known::Stored(entry, form)) => InBatch::Stored(entry, *form),
            Some(Known::Absent) => InBatch::Absent,
            // Taken for new.
            None if index.is_some() => InBatch::Absent,
            None => InBatch::Unknown,
        }
    }

    /// Keeps an entry this batch recorded for `lead`, to be written at commit; `Ok(false)`,
    /// and nothing kept, when the ledger holds an entry for `lead` as far as this batch knows
    /// (it recorded one, or read one from the file).
    fn record_new(&mut self, lead: &str, entry: &[u8]) -> Result<bool, StateError> {
        let found = self.ids.find(lead);
        if found.is_some_and(|index| self.entry_of(index).is_some())
            || matches!(self.known.get(lead), Some(Known::Stored(..)))
        {
            return Ok(false);
        }
        // Counted before anything changes.
        let too_many = || {
            StateError::new(
                StateErrorKind::Failed,
                "state database: a batch recorded more leads than it can count",
            )
        };
        let entry_index = u32::try_from(self.entry_ends.len()).map_err(|_| too_many())?;
        let index = found.unwrap_or(self.entry_of_id.len());
        let id = u32::try_from(index).map_err(|_| too_many())?;
        if found.is_none() {
            self.entry_of_id.push(None);
            self.ids.push(lead);
        }
        if let Some(slot) = self.entry_of_id.get_mut(index) {
            *slot = Some(entry_index);
        }
        self.entries.extend_from_slice(entry);
        self.entry_ends.push(self.entries.len());
        self.id_of_entry.push(id);
        Ok(true)
    }

    /// Forgets the entry recorded last (its names could not be saved); its lead reads as taken
    /// for new, which it was as far as this batch knows (the router records only leads it is
    /// told are absent).
    fn unrecord_last(&mut self) {
        let Some(id) = self.id_of_entry.pop() else {
            return;
        };
        self.entry_ends.pop();
        self.entries
            .truncate(self.entry_ends.last().copied().unwrap_or_default());
        if let Some(slot) = self.entry_of_id.get_mut(id as usize) {
            *slot = None;
        }
    }

    /// [`BatchLedger::write`] for a batch that took its leads for new or not (`taken`): the
    /// key's refusal is a conflict when it did ([`Assumption`]: decided again, reading first),
    /// and a failure when it did not.
    fn write_taken(
        &mut self,
        connection: &CachingConnection,
        taken: bool,
    ) -> Result<(), StateError> {
        self.write(connection).map_err(|error| {
            if error.kind == StateErrorKind::Conflict && !taken {
                StateError::new(StateErrorKind::Failed, error.message)
            } else {
                error
            }
        })
    }

    /// Writes the entries this batch recorded to the file, sorted by lead id (so that one
    /// batch's inserts walk the ledger's pages in order), and forgets them.
    fn write(&mut self, connection: &CachingConnection) -> Result<(), StateError> {
        if self.entry_ends.is_empty() {
            return Ok(());
        }
        let mut rows: Vec<(&str, &[u8])> = Vec::with_capacity(self.entry_ends.len());
        for index in 0..self.entry_ends.len() {
            rows.push(self.recorded(index).ok_or_else(|| {
                StateError::new(
                    StateErrorKind::Failed,
                    format!("state database: the batch's ledger entry {index} cannot be read back"),
                )
            })?);
        }
        rows.sort_unstable_by(|a, b| ledger_key(a.0).cmp(&ledger_key(b.0)));
        // `OR FAIL`: a statement that cannot abort part-way keeps no statement journal (a copy
        // of each page it changes that the batch changed before, 1.47 GB on 1,000,000 leads);
        // a refused row fails the batch, which is rolled back whole.
        insert_rows_or_refusal(
            connection,
            "INSERT OR FAIL INTO ledger (lead_bytes, lead, entry, form) VALUES ",
            "(?, ?, ?, 3)", // ENTRY_FORM
            &rows,
            |statement, first, (lead, entry)| {
                let (bytes, lead) = ledger_key(lead);
                statement.bind(first, Bound::Int(bytes))?;
                statement.bind(first + 1, Bound::Text(lead))?;
                statement.bind(first + 2, Bound::Blob(entry))
            },
        )
        .map(drop)
        .map_err(|error| {
            if error.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) {
                // The batch took a lead for new that the ledger holds (see `Assumption`).
                StateError::new(
                    StateErrorKind::Conflict,
                    format!(
                        "state database: a lead of this batch is in the ledger already ({error})"
                    ),
                )
            } else {
                state_error(error)
            }
        })?;
        // What was read ahead stays true, but for the leads just written: they are read from
        // the file now, and so are the leads taken for new (some were just written).
        for &id in &self.id_of_entry {
            if let Some(id) = self.ids.get(id as usize) {
                self.known.remove(id);
            }
        }
        self.forget_ids();
        Ok(())
    }
}

/// Runs `{head}{row},{row},…` over `rows`, [`ROWS_A_STATEMENT`] rows a statement and the rest
/// one by one, `bind` binding one row's values from the index of its first parameter (`row`
/// names its parameters `?`, numbered in order). The values are bound where they lie
/// ([`StaticStatement`]), not copied, by statements the connection keeps.
fn insert_rows<'d, R>(
    connection: &CachingConnection,
    head: &str,
    row: &str,
    rows: &'d [R],
    bind: impl Fn(&mut StaticStatement<'_, 'd>, usize, &'d R) -> rusqlite::Result<()>,
) -> Result<usize, StateError> {
    insert_rows_or_refusal(connection, head, row, rows, bind).db()
}

/// [`insert_rows`], answering SQLite's own error (to tell a key's refusal apart). Both answer
/// how many rows were written (fewer than given when `OR IGNORE` skipped some).
fn insert_rows_or_refusal<'d, R>(
    connection: &CachingConnection,
    head: &str,
    row: &str,
    rows: &'d [R],
    bind: impl Fn(&mut StaticStatement<'_, 'd>, usize, &'d R) -> rusqlite::Result<()>,
) -> rusqlite::Result<usize> {
    let per_row = row.matches('?').count();
    let sql = |count: usize| {
        let mut sql = String::with_capacity(head.len() + count * (row.len() + 1));
        sql.push_str(head);
        for index in 0..count {
            if index > 0 {
                sql.push(',');
            }
            sql.push_str(row);
        }
        sql
    };
    let mut written = 0;
    let mut chunks = rows.chunks_exact(ROWS_A_STATEMENT);
    if chunks.len() > 0 {
        let mut statement = connection.insert(&sql(ROWS_A_STATEMENT))?;
        for chunk in &mut chunks {
            for (index, row) in chunk.iter().enumerate() {
                bind(&mut statement, index * per_row + 1, row)?;
            }
            written += statement.execute()?;
        }
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut statement = connection.insert(&sql(1))?;
        for row in rest {
            bind(&mut statement, 1, row)?;
            written += statement.execute()?;
        }
    }
    Ok(written)
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
        let connection = connect(path)?;
        let found = match migrate(&connection)? {
            Ok(found) => found,
            Err(refusal) => return Ok(Err(refusal)),
        };
        Ok(Ok(SqliteState {
            tables_found: found,
            connection: CachingConnection::new(connection),
            path: path.to_path_buf(),
            in_batch: false,
            rotations: HashMap::new(),
            loads: Loads::default(),
            windows: WindowCounts::default(),
            scratch: Vec::with_capacity(1024),
            names: compact::NameTable::default(),
            names_at_begin: 0,
            assigned_in_batch: TimesByRep::default(),
            lead_times_in_batch: TimesByRep::default(),
            due_in_batch: PendingDue::default(),
            batch_ledger: BatchLedger::default(),
            assumption: Assumption::new(),
            batch_assignments: BatchAssignments::default(),
            carrying: false,
            version_seen: None,
            handed: None,
            spent: None,
            in_flight: std::collections::VecDeque::new(),
            handed_count: 0,
            committed: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)),
            spare_connection: None,
            spare_checkpointer: None,
            cannot_hand_over: false,
        }))
    }
}

impl SqliteState {
    /// Takes the leads routing scheduled (appended to `pending_due_steps`, a row per batch)
    /// into the `due` index, in bulk and sorted ([`STEPS_A_TAKE`] at a time).
    fn take_pending_due(&mut self) -> Result<(), StateError> {
        self.batch_still_open()?;
        self.flush_due_in_batch()?;
        let connection = &self.connection;
        let mut steps = Vec::new();
        let any = read_pending_steps(connection, &mut steps, |steps| {
            if steps.len() >= STEPS_A_TAKE {
                take_into_due(connection, steps)?;
            }
            Ok(())
        })?;
        if !any {
            return Ok(());
        }
        take_into_due(connection, &mut steps)?;
        self.connection
            .execute_batch("DELETE FROM pending_due_steps")
            .db()
    }

    /// Appends the first steps this batch scheduled to `pending_due_steps`, as one row. The
    /// steps are forgotten whether or not they were written: after a failure
    /// the batch is rolled back, and a step outside a batch is its own transaction.
    fn flush_due_in_batch(&mut self) -> Result<(), StateError> {
        let written = write_due(&self.connection, &self.due_in_batch);
        self.due_in_batch.clear();
        written
    }
}

/// Appends first steps to `pending_due_steps`, as one row ([`put_steps`]): a row per step
/// cost a third of what the ledger's rows cost to write, for a list read once, by a sweep.
fn write_due(connection: &Connection, due: &PendingDue) -> Result<(), StateError> {
    if due.is_empty() {
        return Ok(());
    }
    let mut steps = Vec::new();
    put_steps(due, &mut steps);
    connection
        .prepare_cached("INSERT INTO pending_due_steps (steps) VALUES (?1)")
        .db()?
        .execute(params![steps])
        .db()
        .map(drop)
}

/// Steps a sweep takes into the `due` index at a time (sorted, one statement per 64 rows).
const STEPS_A_TAKE: usize = 1 << 16;

/// Writes first steps as `pending_due_steps` keeps a batch's: per step, its time in
/// nanoseconds (8 bytes), its lead id's length in bytes (4 bytes), both little-endian, and
/// the id.
fn put_steps(due: &PendingDue, out: &mut Vec<u8>) {
    for (at, lead) in due.iter() {
        out.extend_from_slice(&nanos(at).to_le_bytes());
        out.extend_from_slice(&u32::try_from(lead.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(lead.as_bytes());
    }
}

/// Reads the steps [`put_steps`] wrote, appending them to `into`; `None` when the bytes are
/// not such a list (what was read before the damage is appended).
fn read_steps(mut bytes: &[u8], into: &mut Vec<(i64, String)>) -> Option<()> {
    while !bytes.is_empty() {
        let (at, rest) = bytes.split_first_chunk::<8>()?;
        let (length, rest) = rest.split_first_chunk::<4>()?;
        let length = usize::try_from(u32::from_le_bytes(*length)).ok()?;
        let (lead, rest) = rest.split_at_checked(length)?;
        into.push((
            i64::from_le_bytes(*at),
            std::str::from_utf8(lead).ok()?.to_string(),
        ));
        bytes = rest;
    }
    Some(())
}

/// Appends the steps of every row of `pending_due_steps` to `steps`, in the order they were
/// scheduled, calling `after_each` after each row's (which may take them away). Answers
/// whether there was any row.
fn read_pending_steps(
    connection: &Connection,
    steps: &mut Vec<(i64, String)>,
    mut after_each: impl FnMut(&mut Vec<(i64, String)>) -> Result<(), StateError>,
) -> Result<bool, StateError> {
    let mut statement = connection
        .prepare_cached("SELECT batch, steps FROM pending_due_steps ORDER BY batch")
        .db()?;
    let mut rows = statement.query([]).db()?;
    let mut any = false;
    while let Some(row) = rows.next().db()? {
        any = true;
        let batch: i64 = row.get(0).db()?;
        let blob = row.get_ref(1).db()?;
        read_steps(blob.as_blob().unwrap_or_default(), steps)
            .ok_or_else(|| damaged_steps(batch))?;
        after_each(steps)?;
    }
    Ok(any)
}

/// A row of `pending_due_steps` that is not a list of steps.
fn damaged_steps(batch: i64) -> StateError {
    StateError::new(
        StateErrorKind::Corrupt,
        format!(
            "state database: the escalation steps scheduled by batch {batch} are damaged \
             (table `pending_due_steps`)"
        ),
    )
}

/// Inserts `steps` into the `due` index, sorted, and empties them.
fn take_into_due(
    connection: &CachingConnection,
    steps: &mut Vec<(i64, String)>,
) -> Result<(), StateError> {
    steps.sort_unstable();
    steps.dedup();
    insert_rows(
        connection,
        "INSERT OR IGNORE INTO due (at_ns, lead) VALUES ",
        "(?, ?)",
        steps,
        |statement, first, (at, lead)| {
            statement.bind(first, Bound::Int(*at))?;
            statement.bind(first + 1, Bound::Text(lead))
        },
    )?;
    steps.clear();
    Ok(())
}

impl BatchWrites {
    /// Writes the batch inside the open transaction. `handed`: decided by a store that keeps
    /// its counts in memory from batch to batch while its commits are handed over, so a lead
    /// assigned again (its counts counted again from the tables) is a conflict: the batch is
    /// decided again by the store itself. Answers whether counts were counted again.
    fn write(&mut self, connection: &CachingConnection, handed: bool) -> Result<bool, StateError> {
        if !self.new_names.is_empty() {
            let mut statement = connection
                .prepare_cached("INSERT INTO names (id, name) VALUES (?1, ?2)")
                .db()?;
            for (id, name) in (self.first_new_name..).zip(&self.new_names) {
                statement
                    .execute(params![i64::try_from(id).unwrap_or(i64::MAX), name])
                    .db()?;
            }
        }
        if !self.rotations.is_empty() {
            let mut statement = connection
                .prepare_cached(
                    "INSERT INTO rotations (pool, state) VALUES (?1, ?2) \
                     ON CONFLICT (pool) DO UPDATE SET state = excluded.state",
                )
                .db()?;
            for (pool, state) in &self.rotations {
                statement.execute(params![pool, state]).db()?;
            }
        }
        if let Err(error) = self.ledger.write_taken(connection, self.assumed) {
            self.ledger_refused = error.kind == StateErrorKind::Conflict;
            return Err(error);
        }
        let recounted = self.write_assignments(connection)?;
        if recounted && handed {
            return Err(StateError::new(
                StateErrorKind::Conflict,
                "state database: a lead of this batch was assigned to the same rep before",
            ));
        }
        self.write_load_counts(connection)?;
        self.write_lead_counts(connection)?;
        self.write_window_counts(connection)?;
        write_due(connection, &self.due)?;
        self.due.clear();
        Ok(recounted)
    }

    /// Empties the writes, keeping their room.
    fn clear(&mut self) {
        self.rotations.clear();
        self.new_names.clear();
        self.ledger.clear();
        self.assignments.clear();
        self.assigned.clear();
        self.lead_times.clear();
        self.due.clear();
        self.assumed = false;
        self.ledger_refused = false;
    }

    /// Writes the batch's assignments ([`BatchAssignments`]). Routing hands a lead to a rep
    /// once, so every row is new and the counts kept at commit add the batch's assignments.
    /// Should a row have been there already (one lead handed to one rep twice), the counts of
    /// the batch's reps are counted again from the tables: a lead counts once per rep, and it
    /// answers `true` (the counts a store keeps in memory for them are stale).
    fn write_assignments(&mut self, connection: &CachingConnection) -> Result<bool, StateError> {
        if self.assignments.rows.is_empty() {
            return Ok(false);
        }
        let rows = self.assignments.sorted();
        // Each row with the routing time and the lead's own.
        let written = insert_rows(
            connection,
            "INSERT OR IGNORE INTO assignments (lead_bytes, lead, rep, at_s, lead_s) VALUES ",
            "(?, ?, ?, ?, ?)",
            &rows,
            |statement, first, row| {
                let (bytes, lead) = ledger_key(row.0);
                statement.bind(first, Bound::Int(bytes))?;
                statement.bind(first + 1, Bound::Text(lead))?;
                statement.bind(first + 2, Bound::Text(row.1))?;
                statement.bind(first + 3, Bound::Int(row.2))?;
                statement.bind(first + 4, Bound::Int(row.3))
            },
        )?;
        let all_written = written == rows.len();
        if !all_written {
            // A row there already may lack a time this one has: a lead time imported without
            // its assignment, or an assignment made before version 3 kept lead times. Each
            // time the row lacks is filled in, and counts from the recount below.
            let mut fill = connection
                .prepare_cached(
                    "UPDATE assignments SET at_s = coalesce(at_s, ?4), lead_s = coalesce(lead_s, ?5) \
                     WHERE lead_bytes = ?1 AND lead = ?2 AND rep = ?3 \
                     AND (at_s IS NULL OR lead_s IS NULL)",
                )
                .db()?;
            for row in &rows {
                let (bytes, lead) = ledger_key(row.0);
                fill.execute(params![bytes, lead, row.1, row.2, row.3])
                    .db()?;
            }
            // The batch's reps' cached counts are dropped (read again from the tables when
            // next asked for), and `lead_counts` is counted again, in one scan of
            // `assignments`.
            let mut reps: Vec<String> = rows.iter().map(|row| row.1.to_string()).collect();
            reps.sort_unstable();
            reps.dedup();
            for rep in &reps {
                self.assigned.forget(rep);
                self.lead_times.forget(rep);
                for sql in [
                    "DELETE FROM load_counts WHERE rep = ?1",
                    "DELETE FROM window_counts WHERE rep = ?1",
                ] {
                    connection.execute(sql, params![rep]).db()?;
                }
            }
            count_lead_times(connection).db()?;
        }
        self.assignments.clear();
        Ok(!all_written)
    }

    /// Adds this batch's assignments to every cached load count they fall in: one read and one
    /// write per rep and cached `since`, not one per lead.
    fn write_load_counts(&mut self, connection: &Connection) -> Result<(), StateError> {
        for (rep, times) in self.assigned.iter() {
            let cached: Vec<(i64, i64)> = connection
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
                connection
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

    /// Adds this batch's lead times to `lead_counts`: one write per rep and quarter hour.
    fn write_lead_counts(&self, connection: &Connection) -> Result<(), StateError> {
        let mut statement = connection
            .prepare_cached(
                "INSERT INTO lead_counts (rep, bucket_s, count) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (rep, bucket_s) DO UPDATE SET count = count + excluded.count",
            )
            .db()?;
        let mut buckets: Vec<i64> = Vec::new();
        for (rep, times) in self.lead_times.iter() {
            buckets.clear();
            buckets.extend(times.iter().map(|at| bucket_of(*at)));
            buckets.sort_unstable();
            for run in buckets.chunk_by(|a, b| a == b) {
                let added = i64::try_from(run.len()).unwrap_or(i64::MAX);
                statement.execute(params![rep, run[0], added]).db()?;
            }
        }
        Ok(())
    }

    /// Adds this batch's lead times to every stored window count they fall in: one read and
    /// one write per rep and window, not one per lead.
    fn write_window_counts(&mut self, connection: &Connection) -> Result<(), StateError> {
        for (rep, times) in self.lead_times.iter() {
            let stored: Vec<(i64, i64, i64)> = connection
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
                connection
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

/// Opens a connection to the state file with the store's settings.
fn connect(path: &Path) -> Result<Connection, rusqlite::Error> {
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
    Ok(connection)
}

/// `PRAGMA data_version`: changes when another connection commits to the file.
fn data_version(connection: &Connection) -> Result<i64, StateError> {
    connection
        .query_row("PRAGMA data_version", [], |row| row.get(0))
        .db()
}

/// `PRAGMA data_version` of `locked` and of `other`, read while `locked` holds the write lock,
/// so that no other connection's commit falls between the two readings.
fn versions_under_lock(locked: &Connection, other: &Connection) -> Result<(i64, i64), StateError> {
    locked.execute_batch("BEGIN IMMEDIATE").db()?;
    let versions = data_version(locked).and_then(|first| Ok((first, data_version(other)?)));
    let ended = locked.execute_batch("ROLLBACK").db();
    versions.and_then(|versions| ended.map(|()| versions))
}

/// Commits a [`SqliteState`]'s batches on a connection of its own, on another thread
/// ([`StateStore::hand_over_commits`]): each batch in one `BEGIN IMMEDIATE` transaction,
/// refused when another connection wrote since the last one (the batch was decided on what
/// the store kept in memory).
struct SqliteWriter {
    connection: CachingConnection,
    /// `PRAGMA data_version` as of the last commit (this connection's own commits leave it).
    version: i64,
    /// The batches handed over, in order.
    handed: mpsc::Receiver<BatchWrites>,
    /// Where each batch's writes go back, emptied, once committed (or refused).
    spent: mpsc::Sender<BatchWrites>,
    /// Whether the ledger's key refused a lead a batch took for new.
    ledger_refused: bool,
    /// Where it counts the batches it committed, for the store, which numbers the batches it
    /// hands over from `handed_before + 1`.
    committed: std::sync::Arc<std::sync::atomic::AtomicU64>,
    handed_before: u64,
    /// How many names the file holds as of the last commit.
    names_committed: usize,
    /// Copies the committed batches from the WAL into the file on a thread of its own (`None`:
    /// no connection of its own could be opened; the commits checkpoint as before).
    checkpoints: Option<Checkpointer>,
}

impl SqliteWriter {
    fn write(&mut self, writes: &mut BatchWrites) -> Result<(), StateError> {
        if data_version(&self.connection)? != self.version {
            return Err(StateError::new(
                StateErrorKind::Conflict,
                "state database: another router wrote to it since this run's last batch",
            ));
        }
        writes.write(&self.connection, true)?;
        self.connection.execute_batch("COMMIT").db()
    }
}

impl BatchWriter for SqliteWriter {
    fn commit_next(&mut self) -> Result<(), StateError> {
        let mut writes = self.handed.try_recv().map_err(|_| {
            StateError::new(
                StateErrorKind::Failed,
                "internal error: no batch was handed over to commit",
            )
        })?;
        self.connection.execute_batch("BEGIN IMMEDIATE").db()?;
        let written = self.write(&mut writes);
        if written.is_err() && !self.connection.is_autocommit() {
            let _ = self.connection.execute_batch("ROLLBACK");
        }
        self.ledger_refused |= writes.ledger_refused;
        if written.is_ok() {
            if !writes.new_names.is_empty() {
                self.names_committed = writes.first_new_name + writes.new_names.len();
            }
            self.handed_before += 1;
            self.committed
                .store(self.handed_before, std::sync::atomic::Ordering::Release);
            if let Some(checkpoints) = self.checkpoints.as_mut() {
                checkpoints.committed();
            }
        }
        writes.clear();
        // The store may be gone or done with them: then they are dropped here.
        let _ = self.spent.send(writes);
        written
    }

    fn drop_next(&mut self) {
        let _ = self.handed.try_recv();
    }

    /// The WAL file's syncer, once the connection commits without syncing
    /// (`synchronous=NORMAL`); `None`, committing with `synchronous=FULL` as before, when the
    /// file is not in WAL mode or its WAL cannot be opened.
    fn syncer(&mut self) -> Option<Box<dyn Syncer>> {
        let wal = WalSyncer::open(&self.connection)?;
        self.connection
            .pragma_update(None, "synchronous", "NORMAL")
            .ok()?;
        Some(Box::new(wal))
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send> {
        self
    }
}

/// Makes a [`SqliteWriter`]'s commits durable on the thread that prints them
/// ([`BatchWriter::syncer`]): the writer commits with `synchronous=NORMAL`, which in WAL mode
/// writes a transaction's frames to the WAL and does not sync it, and this syncs the WAL file
/// (`fsync`, as SQLite's own commit does with `synchronous=FULL`), so that the next batch is
/// committed while this one reaches the disk. What is durable is the same as with `FULL`, once
/// `sync` returns: every frame a commit wrote before the call. SQLite itself still syncs the
/// WAL's header when it starts the WAL again (and the directory, when it creates the file),
/// and a checkpoint syncs the WAL before it copies it into the file and the file after, so
/// a frame a checkpoint copied is durable in the file, whatever became of the WAL since.
struct WalSyncer {
    wal: std::fs::File,
}

impl WalSyncer {
    /// The WAL of `connection`'s file (`<file>-wal`, named after the path SQLite opened), when
    /// the connection is in WAL mode.
    fn open(connection: &Connection) -> Option<WalSyncer> {
        let mode: String = connection
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .ok()?;
        if !mode.eq_ignore_ascii_case("wal") {
            return None;
        }
        let file = connection.path().filter(|file| !file.is_empty())?;
        // Opened to write (nothing is written): Windows syncs only a file open for writing.
        let wal = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("{file}-wal"))
            .ok()?;
        Some(WalSyncer { wal })
    }
}

impl Syncer for WalSyncer {
    fn sync(&mut self) -> Result<(), StateError> {
        self.wal.sync_all().map_err(|error| {
            StateError::new(
                StateErrorKind::Failed,
                format!(
                    "state database: cannot sync its WAL to the disk ({error}): the last \
                     batches may not be durable"
                ),
            )
        })
    }
}

/// Batches committed between two checkpoints of the [`Checkpointer`]: 8 batches of 4,096
/// leads of the routing benchmark are ~6 MiB of WAL.
const BATCHES_A_CHECKPOINT: u32 = 8;

/// Checkpoints the state file on a thread and connection of its own while a [`SqliteWriter`]
/// commits: every [`BATCHES_A_CHECKPOINT`] commits a `PASSIVE` checkpoint copies the WAL's
/// committed pages into the file, so the checkpoint SQLite runs inside a commit once the WAL
/// holds `wal_autocheckpoint` pages (128 MiB: twice on 1,000,000 leads) finds them copied and
/// stops the committing thread for less time (the longest pause between two printed batches
/// was 117-325 ms, and is 64-71 ms with this thread). The WAL still starts
/// again from its beginning only after that one: a WAL starts again when a write begins with
/// every page of it copied, and a `PASSIVE` checkpoint here seldom ends before the next
/// batch begins.
///
/// Nothing here decides what is durable: a commit is durable when its `COMMIT` returns
/// (`synchronous=FULL` syncs the WAL), or once the [`WalSyncer`] synced the WAL after it; a
/// checkpoint syncs the WAL before it copies, and the
/// file once it has copied the WAL's last frame. A checkpoint that cannot run whole copies
/// what it can (a reader holds old pages) or nothing (another connection's checkpoint holds
/// the lock), and the commits' own `wal_autocheckpoint` stays as the backstop, so its outcome
/// is not looked at. The store keeps it from one hand-over to the next (idle while the store
/// commits itself), and drops it with itself.
struct Checkpointer {
    /// Asks for a checkpoint; one waiting ask is enough, so a full channel drops the next.
    ask: Option<mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Commits since the last ask.
    commits: u32,
}

impl Checkpointer {
    /// Starts the thread with a connection of its own to `path`; `None` when it cannot be
    /// opened or the thread cannot start.
    fn start(path: &Path) -> Option<Checkpointer> {
        let connection = connect(path).ok()?;
        let (ask, asked) = mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("checkpoint".to_string())
            .spawn(move || {
                for () in asked {
                    let _ = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })
            .ok()?;
        Some(Checkpointer {
            ask: Some(ask),
            thread: Some(thread),
            commits: 0,
        })
    }

    /// Counts a commit, and asks for a checkpoint every [`BATCHES_A_CHECKPOINT`].
    fn committed(&mut self) {
        self.commits += 1;
        if self.commits >= BATCHES_A_CHECKPOINT {
            self.commits = 0;
            if let Some(ask) = &self.ask {
                // Full: a checkpoint is asked already and will copy these pages too.
                let _ = ask.try_send(());
            }
        }
    }
}

impl Drop for Checkpointer {
    /// Lets the thread finish the checkpoint it is running and the one asked, if any, and
    /// closes its connection; the store's connection closed last checkpoints what is left and
    /// removes the WAL.
    fn drop(&mut self) {
        drop(self.ask.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Takes or renews a lease on SQLite (`$1` name, `$2` holder, `$3` until, `$4` now, in
/// nanoseconds): one row changed when it is this holder's now. (PostgreSQL judges by the
/// database's clock.)
const LEASE: &str = "INSERT INTO leases (name, holder, until_ns) VALUES ($1, $2, $3) \
    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ns = excluded.until_ns \
    WHERE leases.holder = excluded.holder OR leases.until_ns < $4";

/// The version of the tables this build writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 15;

/// The `form` of the ledger entries this build writes: names interned, the entry laid out as
/// [`ENTRY_LAYOUT`]. Form 0 (names in full), 1 (numbers at full width) and 2 (packed) are
/// still read.
const ENTRY_FORM: i64 = 3;

/// How [`ENTRY_FORM`]'s entries are laid out: without their lead id (the row's key holds it),
/// each time from the one before.
const ENTRY_LAYOUT: compact::Layout = compact::Layout::Relative;

/// The tables of [`SCHEMA_VERSION`]. The ledger keeps each entry in the core's compact form
/// (decision, fingerprint, routing time, policy hash, trace): one B-tree keyed by the lead id,
/// small rows. Since version 8 an entry's names (rule, pool, rep, reasons, policy hash, the
/// trace's texts other than the lead's own values) are indexes into `names` (`form` 1), which
/// keeps each once (the benchmark's entries: 134 bytes instead of 382); entries written before
/// keep their names in full (`form` 0). The table holds at most 65,536 names of at most 256
/// bytes, for good: a name met after that is written in full. `load_counts` caches, per rep
/// and `since`, how many assignments are at or after it, so a rep's load is read once, not
/// counted again in every batch.
///
/// Since version 10 the leads' own times (what `cap N per PERIOD` counts by) are kept keyed by
/// lead and rep (in `lead_times` until version 15, in `assignments` since), so that a batch's
/// rows land next to each other when lead ids grow, as CRM ids do; before, they were keyed by
/// rep and time, and leads whose times came in any order changed nearly every page of the
/// table in every batch (a third of what a run wrote at 1,000,000 leads, three fifths at
/// 10,000,000). A window is counted from `lead_counts`, per rep and quarter hour of the leads'
/// own times (every zone's offset in use today is whole quarter hours); a window whose ends are
/// not whole quarter hours (an old offset such as Liberia's -0:44:30 before 1972, or a local
/// mean time for a placeholder date such as 0001-01-01) is counted from `assignments` row by
/// row, once per rep and window.
///
/// Since version 11 the ledger is keyed by the id's length in bytes, then the id
/// ([`ledger_key`]): ids that count up (`L-9`, `L-10`, … `L-100000`) are inserted at the
/// tree's end, where SQLite appends without searching, whatever their number of digits; keyed
/// by the id alone, `L-100000` went between `L-10000` and `L-10001`, written long before, and
/// each such insert searched the tree and split a page in its middle.
///
/// Version 12 changes no table: its entries are written in `form` 2
/// (`compact::Layout::Packed`: times and whole numbers packed, the benchmark's entries 109
/// bytes instead of 134), which an older build would take for `form` 1 and fail to read: it
/// must refuse the file.
///
/// Version 13 keeps the first steps routing schedules as one row per batch
/// (`pending_due_steps`, [`put_steps`]), taken into `due` by the next sweep; before, a row per
/// step in `pending_due` cost routing a third as much as the ledger's rows. An older build
/// would not see them: it must refuse the file.
///
/// Version 14 changes no table: its entries are written in `form` 3 ([`ENTRY_FORM`],
/// `compact::Layout::Relative`: no lead id, times from the time before, the schema digest a
/// name; the benchmark's entries 67 bytes instead of 109), which an older build would refuse
/// entry by entry: it must refuse the file.
///
/// Version 15 keeps the leads' own times in `assignments` beside the routing times, keyed like
/// the ledger by the id's length, then the id, then the rep: `lead_times` held the same rows
/// under a key of its own, and both tables were keyed by the id alone, so a batch's rows of ids
/// that count up landed between older ones (`L-41000` between `L-41` and `L-410`); together
/// they were 9 of a batch's 50 pages, appended at the end now. `at_s` is `NULL` for a lead time
/// imported without its assignment, `lead_s` for an assignment made before version 3 kept
/// them: neither counts in what it lacks.
const TABLES: &str = "
    CREATE TABLE IF NOT EXISTS ledger (
        lead_bytes INTEGER NOT NULL,
        lead TEXT NOT NULL,
        entry BLOB NOT NULL,
        form INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (lead_bytes, lead)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS names (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS rotations (pool TEXT PRIMARY KEY, state TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS assignments (
        lead_bytes INTEGER NOT NULL,
        lead TEXT NOT NULL,
        rep TEXT NOT NULL,
        at_s INTEGER,
        lead_s INTEGER,
        PRIMARY KEY (lead_bytes, lead, rep)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS assignments_by_rep ON assignments (rep, at_s);
    CREATE TABLE IF NOT EXISTS lead_counts (
        rep TEXT NOT NULL,
        bucket_s INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (rep, bucket_s)
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
    CREATE TABLE IF NOT EXISTS pending_due_steps (batch INTEGER PRIMARY KEY, steps BLOB NOT NULL);
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
        // Before version 15 the leads' own times had a table of their own (keyed by (rep,
        // lead_s, lead) before version 10): set aside here, its rows copied into
        // `assignments` below.
        let has_old_lead_times: bool = connection.query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'lead_times'",
            [],
            |row| row.get(0),
        )?;
        if version == 0 && !has_ledger {
            // No tables of ours: a new file, or another program's database, which is not
            // ours to add tables to.
            let other: Option<String> = connection
                .query_row(
                    "SELECT name FROM sqlite_master WHERE type = 'table' \
                     AND name NOT LIKE 'sqlite_%' ORDER BY name LIMIT 1",
                    [],
                    |row| row.get(0),
                )
                .optional()?;
            if let Some(table) = other {
                connection.execute_batch("ROLLBACK")?;
                return Ok(Err(StateError::new(
                    StateErrorKind::Unavailable,
                    format!(
                        "the file is another program's SQLite database (it has a table \
                         `{table}`, and none of Switchboard's): give Switchboard a file of its \
                         own"
                    ),
                )));
            }
        }
        if has_old_lead_times {
            connection.execute_batch("ALTER TABLE lead_times RENAME TO lead_times_v9")?;
        }
        if has_ledger && version < 3 {
            // Version 1 (no user_version): decisions as JSON text, times as text.
            if let Err(refusal) = from_version_1(connection)? {
                connection.execute_batch("ROLLBACK")?;
                return Ok(Err(refusal));
            }
        } else if has_ledger && version >= 5 {
            // Version 6 gains the `outbox`, version 7 `leases`; version 15 keys `assignments`
            // like the ledger, with the leads' own times beside (copied below).
            connection.execute_batch(
                "ALTER TABLE assignments RENAME TO assignments_v14;
                 DROP INDEX IF EXISTS assignments_by_rep;",
            )?;
            connection.execute_batch(TABLES)?;
            copy_assignments(connection, "assignments_v14", "at_s")?;
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
            // cap); version 4 gains `lives` and `due` (the steps of its recorded decisions are
            // scheduled below); a new file gets every table.
            connection.execute_batch(TABLES)?;
            if has_ledger {
                copy_assignments(connection, "assignments_v4", "at_s")?;
            }
        }
        // Version 8 gains `names` (above) and the ledger's `form`: the entries already there
        // keep their names in full. Version 9 changes no table: its entries may carry lead
        // fingerprints of the second kind, which an older build would take for fingerprints
        // of another schema (and so a reused id for the same lead): it must refuse the file.
        let has_form: bool = connection.query_row(
            "SELECT count(*) > 0 FROM pragma_table_info('ledger') WHERE name = 'form'",
            [],
            |row| row.get(0),
        )?;
        if !has_form {
            connection
                .execute_batch("ALTER TABLE ledger ADD COLUMN form INTEGER NOT NULL DEFAULT 0")?;
        }
        // Version 11 keys the ledger by the id's length, then the id ([`ledger_key`]).
        let has_lead_bytes: bool = connection.query_row(
            "SELECT count(*) > 0 FROM pragma_table_info('ledger') WHERE name = 'lead_bytes'",
            [],
            |row| row.get(0),
        )?;
        if !has_lead_bytes {
            connection.execute_batch("ALTER TABLE ledger RENAME TO ledger_v10")?;
            connection.execute_batch(TABLES)?;
            connection.execute_batch(&format!(
                "INSERT INTO ledger (lead_bytes, lead, entry, form)
                     SELECT {LEAD_BYTES_SQL}, lead, entry, form FROM ledger_v10
                     ORDER BY 1, 2;
                 DROP TABLE ledger_v10;"
            ))?;
        }
        if has_ledger && version < 5 {
            schedule_recorded(connection)?;
        }
        if has_old_lead_times {
            // A lead assigned to one rep under two times (which the key before version 10
            // allowed) keeps its earliest; a lead time without its assignment (an import's)
            // is kept with no routing time.
            connection.execute_batch(&format!(
                "INSERT INTO assignments (lead_bytes, lead, rep, lead_s)
                     SELECT {LEAD_BYTES_SQL}, lead, rep, lead_s FROM lead_times_v9
                     WHERE true ORDER BY lead_s
                     ON CONFLICT (lead_bytes, lead, rep)
                     DO UPDATE SET lead_s = coalesce(lead_s, excluded.lead_s);
                 DROP TABLE lead_times_v9;"
            ))?;
        }
        // Before version 13 routing appended a row per first step to `pending_due`: they are
        // taken into the index, as a sweep would have.
        let has_pending_due: bool = connection.query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'pending_due'",
            [],
            |row| row.get(0),
        )?;
        if has_pending_due {
            connection.execute_batch(
                "INSERT OR IGNORE INTO due (at_ns, lead)
                     SELECT at_ns, lead FROM pending_due ORDER BY at_ns, lead;
                 DROP TABLE pending_due;",
            )?;
        }
        count_lead_times(connection)?;
        connection.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    }
    connection.execute_batch("COMMIT")?;
    Ok(Ok(version))
}

/// The ledger's key of `lead`: the id's length in bytes, then the id (see [`TABLES`]).
fn ledger_key(lead: &str) -> (i64, &str) {
    (i64::try_from(lead.len()).unwrap_or(i64::MAX), lead)
}

/// Whether lead id `next` comes before `previous` in the ledger's order ([`ledger_key`]): ids
/// that never do are appended at the ledger's end, ids that often do change pages all over it
/// (`route` lengthens its batches for those).
pub fn goes_down_in_ledger(previous: &str, next: &str) -> bool {
    ledger_key(next) < ledger_key(previous)
}

/// The values of an imported `assignments` row with one of its times: the lead's key, the rep
/// and the time in seconds.
fn assignment_values(lead: String, rep: String, time: Timestamp) -> Vec<rusqlite::types::Value> {
    vec![
        ledger_key(&lead).0.into(),
        lead.into(),
        rep.into(),
        time.as_second().into(),
    ]
}

/// Copies the assignments of an older file's `table` (their routing time in seconds as the SQL
/// `at_s` reads it) into today's `assignments`, in its key order, and drops `table`, inside the
/// open transaction.
fn copy_assignments(
    connection: &Connection,
    table: &str,
    at_s: &str,
) -> Result<(), rusqlite::Error> {
    connection.execute_batch(&format!(
        "INSERT INTO assignments (lead_bytes, lead, rep, at_s)
             SELECT {LEAD_BYTES_SQL}, lead, rep, {at_s} FROM {table} ORDER BY 1, 2, 3;
         DROP TABLE {table};"
    ))
}

/// [`ledger_key`]'s length of the column `lead` in SQL (`length` of a text counts characters).
const LEAD_BYTES_SQL: &str = "length(CAST(lead AS BLOB))";

/// The length of a `lead_counts` bucket: a quarter hour, in seconds.
const BUCKET_S: i64 = 900;

/// The start of the quarter hour `second` falls in (also for times before 1970).
fn bucket_of(second: i64) -> i64 {
    second - second.rem_euclid(BUCKET_S)
}

/// [`bucket_of`] `lead_s` in SQL (`%` truncates toward zero there; 900 is [`BUCKET_S`]).
const BUCKET_SQL: &str = "lead_s - ((lead_s % 900) + 900) % 900";

/// Counts `lead_counts` again from the leads' own times in `assignments` (after a migration
/// or an import).
fn count_lead_times(connection: &Connection) -> Result<(), rusqlite::Error> {
    connection.execute_batch(&format!(
        "DELETE FROM lead_counts;
         INSERT INTO lead_counts (rep, bucket_s, count)
             SELECT rep, {BUCKET_SQL} AS bucket, count(*)
             FROM assignments WHERE lead_s IS NOT NULL GROUP BY rep, bucket;"
    ))
}

/// Schedules the escalation steps of decisions recorded before the due index existed (a file of
/// version 4 or older), inside the open transaction: a sweep then carries them out like any.
fn schedule_recorded(connection: &Connection) -> Result<(), rusqlite::Error> {
    let mut read = connection.prepare("SELECT entry FROM ledger")?;
    let mut write =
        connection.prepare("INSERT OR IGNORE INTO due (at_ns, lead) VALUES (?1, ?2)")?;
    let mut rows = read.query([])?;
    while let Some(row) = rows.next()? {
        let entry: Vec<u8> = row.get(0)?;
        let Some(recorded) = compact::decode_recorded(&entry) else {
            continue;
        };
        if let Some(first) = switchboard_core::route::life::first_step_at(&recorded.decision) {
            write.execute(params![nanos(first), recorded.decision.lead.as_str()])?;
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
        let mut write = connection
            .prepare("INSERT INTO ledger (lead_bytes, lead, entry) VALUES (?1, ?2, ?3)")?;
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
                &EntryRef {
                    decision: &decision,
                    fingerprint: None,
                    decided_at,
                    lead_at: None,
                    policy_hash: &policy_hash.as_str().into(),
                    trace: None,
                },
                &mut entry,
            );
            write.execute(params![ledger_key(&lead).0, lead, entry])?;
        }
    }
    connection.execute_batch(
        "INSERT INTO rotations (pool, state) SELECT pool, state FROM rotations_v1;
         DROP TABLE ledger_v1;
         DROP TABLE rotations_v1;",
    )?;
    copy_assignments(
        connection,
        "assignments_v1",
        "CAST(at_ns AS INTEGER) / 1000000000",
    )?;
    Ok(Ok(()))
}

/// Reads the names added to the file's `names` since `names` last looked (by another
/// connection, or before this one opened the file).
fn load_names(connection: &Connection, names: &mut compact::NameTable) -> Result<(), StateError> {
    let mut statement = connection
        .prepare_cached("SELECT id, name FROM names WHERE id >= ?1 ORDER BY id")
        .db()?;
    let mut rows = statement
        .query(params![i64::try_from(names.len()).unwrap_or(i64::MAX)])
        .db()?;
    while let Some(row) = rows.next().db()? {
        let id: i64 = row.get(0).db()?;
        let name: String = row.get(1).db()?;
        if usize::try_from(id).ok() != Some(names.len()) || !names.learn(&name) {
            return Err(StateError::new(
                StateErrorKind::Corrupt,
                format!("state database: the table of names is damaged at id {id}"),
            ));
        }
    }
    Ok(())
}

/// Writes the names from index `from` on into the file's `names`, inside the open transaction.
fn save_names(
    connection: &Connection,
    names: &compact::NameTable,
    from: usize,
) -> Result<(), StateError> {
    if names.len() == from {
        return Ok(());
    }
    let mut statement = connection
        .prepare_cached("INSERT INTO names (id, name) VALUES (?1, ?2)")
        .db()?;
    for (id, name) in (from..).zip(names.names_from(from)) {
        statement
            .execute(params![i64::try_from(id).unwrap_or(i64::MAX), name])
            .db()?;
    }
    Ok(())
}

/// [`read_stored`] with the names already read.
fn read_stored_known(
    names: &compact::NameTable,
    lead: &str,
    entry: &[u8],
    form: i64,
) -> Result<Recorded, StateError> {
    let layout = match form {
        0 => return read_entry(lead, entry),
        1 => compact::Layout::Fixed,
        2 => compact::Layout::Packed,
        ENTRY_FORM => ENTRY_LAYOUT,
        _ => {
            return Err(StateError::new(
                StateErrorKind::Corrupt,
                format!(
                    "state database: the recorded decision of `{lead}` is in a form this \
                     build does not know ({form})"
                ),
            ));
        }
    };
    compact::decode_recorded_of(lead, entry, names, layout).ok_or_else(|| {
        StateError::new(
            StateErrorKind::Corrupt,
            format!("state database: the recorded decision of `{lead}` cannot be read"),
        )
    })
}

/// A ledger entry of `lead` in any form (`form` 1 to 3: its names are indexes into `names`,
/// which reads the file's names again once if the entry holds one it has not seen).
fn read_stored(
    connection: &Connection,
    names: &mut compact::NameTable,
    lead: &str,
    entry: &[u8],
    form: i64,
) -> Result<Recorded, StateError> {
    read_stored_known(names, lead, entry, form).or_else(|_| {
        load_names(connection, names)?;
        read_stored_known(names, lead, entry, form)
    })
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

impl SqliteState {
    /// The first steps routing scheduled and no sweep took into the index yet, in the order
    /// they were scheduled.
    fn pending_steps(&self) -> Result<Vec<(i64, String)>, StateError> {
        let mut steps = Vec::new();
        read_pending_steps(&self.connection, &mut steps, |_| Ok(()))?;
        Ok(steps)
    }

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
            "SELECT lead, entry, form FROM ledger ORDER BY lead",
            |row| {
                let lead: String = row.get(0)?;
                let entry: Vec<u8> = row.get(1)?;
                let form: i64 = row.get(2)?;
                // The names were read at the start of this read transaction.
                Ok(read_stored_known(&self.names, &lead, &entry, form).map(StateRow::Ledger))
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
            "SELECT lead, rep, at_s FROM assignments WHERE at_s IS NOT NULL ORDER BY lead, rep",
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
            "SELECT rep, lead_s, lead FROM assignments WHERE lead_s IS NOT NULL \
             ORDER BY rep, lead_s, lead",
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
        let pending = self.pending_steps()?;
        if pending.is_empty() {
            self.visit_rows(
                "SELECT at_ns, lead FROM due ORDER BY at_ns, lead",
                |row| {
                    Ok(Ok(StateRow::Due {
                        at: from_nanos(row.get(0)?),
                        lead: row.get(1)?,
                    }))
                },
                visit,
            )?;
        } else {
            let mut steps = pending;
            let mut statement = self
                .connection
                .prepare("SELECT at_ns, lead FROM due")
                .db()?;
            let mut rows = statement.query([]).db()?;
            while let Some(row) = rows.next().db()? {
                steps.push((row.get(0).db()?, row.get(1).db()?));
            }
            steps.sort_unstable();
            steps.dedup();
            for (at, lead) in steps {
                visit(StateRow::Due {
                    at: from_nanos(at),
                    lead,
                })?;
            }
        }
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
        &mut self,
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
            .execute_batch(
                "DELETE FROM load_counts; DELETE FROM window_counts; DELETE FROM lead_counts",
            )
            .db()?;
        let mut count = 0;
        for row in rows {
            let row = row?;
            let (sql, values): (&str, Vec<rusqlite::types::Value>) = match row {
                StateRow::Ledger(recorded) => {
                    self.record_imported(&recorded.as_entry())?;
                    count += 1;
                    continue;
                }
                StateRow::Life(life) => (
                    "INSERT OR REPLACE INTO lives (lead, entry) VALUES (?1, ?2)",
                    vec![life.lead.clone().into(), life_text(&life)?.into()],
                ),
                StateRow::Rotation { pool, state } => (
                    "INSERT OR REPLACE INTO rotations (pool, state) VALUES (?1, ?2)",
                    vec![pool.into(), state.into()],
                ),
                // An assignment and its lead's time are one row: each fills its own column
                // and leaves one already there as it is.
                StateRow::Assignment { lead, rep, at } => (
                    "INSERT INTO assignments (lead_bytes, lead, rep, at_s) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (lead_bytes, lead, rep) DO UPDATE SET at_s = coalesce(at_s, excluded.at_s)",
                    assignment_values(lead, rep, at),
                ),
                StateRow::LeadTime { rep, lead_at, lead } => (
                    "INSERT INTO assignments (lead_bytes, lead, rep, lead_s) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (lead_bytes, lead, rep) DO UPDATE SET lead_s = coalesce(lead_s, excluded.lead_s)",
                    assignment_values(lead, rep, lead_at),
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
        count_lead_times(&self.connection).db()?;
        Ok(count)
    }
}

impl StateStore for SqliteState {
    fn begin(&mut self) -> Result<(), StateError> {
        if self.handed.is_some() {
            // Decided on what the store keeps in memory; the writer checks at commit that
            // nobody else wrote since.
            if !self.in_batch {
                self.in_batch = true;
                self.names_at_begin = self.names.len();
                self.reuse_spent_writes();
                self.start_batch();
            }
            return Ok(());
        }
        if self.in_batch {
            if !self.connection.is_autocommit() {
                return Ok(());
            }
            // SQLite ended the batch's transaction itself (after a full disk or an I/O error):
            // what the batch learned is gone with it.
            self.forget_batch();
        }
        // IMMEDIATE takes the write lock now: a second router waits here, then sees every
        // decision the first one committed.
        self.connection.execute_batch("BEGIN IMMEDIATE").db()?;
        self.in_batch = true;
        // Under the write lock: the names other routers committed, so that a new name gets the
        // next free id.
        self.names_at_begin = self.names.len();
        let version = load_names(&self.connection, &mut self.names)
            .and_then(|()| data_version(&self.connection));
        let version = match version {
            Ok(version) => version,
            Err(error) => {
                self.rollback()?;
                return Err(error);
            }
        };
        self.names_at_begin = self.names.len();
        // What is kept in memory is current when nobody else wrote since the last batch.
        if !self.carrying || self.version_seen != Some(version) {
            self.forget_kept();
        }
        self.version_seen = Some(version);
        self.start_batch();
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StateError> {
        if !self.in_batch {
            return Ok(());
        }
        if self.handed.is_some() {
            let spans = self.assigned_spans();
            let writes = self.take_writes();
            self.in_batch = false;
            self.handed_count += 1;
            self.in_flight.push_back((self.handed_count, spans));
            let sent = self
                .handed
                .as_ref()
                .is_some_and(|batches| batches.send(writes).is_ok());
            if !sent {
                return Err(StateError::new(
                    StateErrorKind::Failed,
                    "internal error: the writer of this state's batches is gone",
                ));
            }
            return Ok(());
        }
        self.batch_still_open()?;
        let mut writes = self.take_writes();
        let written = writes.write(&self.connection, false);
        if writes.ledger_refused {
            self.assumption.missed();
        }
        self.give_back_writes(writes);
        let recounted = written?;
        if let Err(error) = self.connection.execute_batch("COMMIT").db() {
            if self.connection.is_autocommit() {
                // Rolled back by SQLite: nothing of the batch is in the file.
                self.forget_batch();
            }
            return Err(error);
        }
        self.in_batch = false;
        if recounted {
            self.forget_kept();
        }
        Ok(())
    }

    fn rollback(&mut self) -> Result<(), StateError> {
        if !self.in_batch {
            return Ok(());
        }
        if self.handed.is_some() {
            // Nothing of the batch left the store.
            self.forget_batch();
            return Ok(());
        }
        // SQLite may have rolled the transaction back already (a full disk, an I/O error), and
        // then `ROLLBACK` fails: the batch is forgotten either way.
        let rolled_back = if self.connection.is_autocommit() {
            Ok(())
        } else {
            self.connection.execute_batch("ROLLBACK").db()
        };
        self.forget_batch();
        rolled_back
    }

    fn commits_elsewhere(&self) -> bool {
        true
    }

    fn hand_over_commits(&mut self) -> Result<Option<Box<dyn BatchWriter>>, StateError> {
        if self.in_batch || self.handed.is_some() || self.cannot_hand_over {
            return Ok(None);
        }
        let connection = match self.spare_connection.take() {
            Some(connection) => connection,
            // Without a second connection the store goes on committing its batches itself.
            None => match connect(&self.path) {
                Ok(connection) => CachingConnection::new(connection),
                Err(_) => {
                    self.cannot_hand_over = true;
                    return Ok(None);
                }
            },
        };
        // Whether anyone wrote since this connection's last batch, and the writer's starting
        // point.
        let (mine, writers) = match versions_under_lock(&self.connection, &connection) {
            Ok(versions) => versions,
            Err(error) => {
                self.spare_connection = Some(connection);
                return Err(error);
            }
        };
        let current = self.carrying && self.version_seen == Some(mine);
        // From now on what is kept in memory is kept from batch to batch.
        self.carrying = true;
        if !current {
            // Read again in the next batch, which the store decides itself.
            self.forget_kept();
            self.version_seen = Some(mine);
            self.spare_connection = Some(connection);
            return Ok(None);
        }
        // Durable at each commit until the committing thread asks for the writer's syncer.
        if let Err(error) = connection.pragma_update(None, "synchronous", "FULL").db() {
            self.spare_connection = Some(connection);
            return Err(error);
        }
        let (batches, handed) = mpsc::channel();
        let (spent, spent_here) = mpsc::channel();
        self.handed = Some(batches);
        self.spent = Some(spent_here);
        self.in_flight.clear();
        Ok(Some(Box::new(SqliteWriter {
            connection,
            version: writers,
            handed,
            spent,
            ledger_refused: false,
            committed: std::sync::Arc::clone(&self.committed),
            handed_before: self.handed_count,
            names_committed: self.names.len(),
            checkpoints: self
                .spare_checkpointer
                .take()
                .or_else(|| Checkpointer::start(&self.path)),
        })))
    }

    fn take_back_commits(
        &mut self,
        writer: Box<dyn BatchWriter>,
        failed: bool,
    ) -> Result<(), StateError> {
        let writer = writer.into_any().downcast::<SqliteWriter>().map_err(|_| {
            StateError::new(
                StateErrorKind::Failed,
                "internal error: a writer of another store was given back",
            )
        })?;
        self.handed = None;
        self.spent = None;
        self.in_flight.clear();
        let SqliteWriter {
            connection,
            version,
            ledger_refused,
            names_committed,
            checkpoints,
            ..
        } = *writer;
        self.spare_checkpointer = checkpoints;
        if ledger_refused {
            self.assumption.missed();
        }
        if self.in_batch {
            self.forget_batch();
        }
        // The names of batches not committed are not in the file.
        self.names.truncate(names_committed);
        self.names_at_begin = self.names.len();
        let mut current = !failed;
        if current {
            // Whether anyone else wrote since the writer's last commit, and where this
            // connection starts from.
            match versions_under_lock(&connection, &self.connection) {
                Ok((writers, mine)) if writers == version => self.version_seen = Some(mine),
                Ok(_) => current = false,
                Err(error) => {
                    self.forget_kept();
                    self.version_seen = None;
                    self.spare_connection = Some(connection);
                    return Err(error);
                }
            }
        }
        if !current {
            self.forget_kept();
            self.version_seen = None;
        }
        self.spare_connection = Some(connection);
        Ok(())
    }

    fn keeps_traces(&self) -> bool {
        true
    }

    fn reads_ahead(&self) -> bool {
        true
    }

    fn read_ahead(&mut self, leads: &[&str]) -> Result<(), StateError> {
        if !self.in_batch || leads.is_empty() {
            return Ok(());
        }
        if self.assumption.new_leads && leads.len() >= IDS_TO_ASSUME {
            for lead in leads {
                self.batch_ledger.take_for_new(lead);
            }
            self.assumption.taken = true;
            return Ok(());
        }
        self.on_file()?;
        let known = &mut self.batch_ledger.known;
        let mut unread: Vec<&str> = leads
            .iter()
            .copied()
            .filter(|lead| !known.contains_key(*lead))
            .collect();
        // In key order, so that one statement's look-ups walk the ledger's pages in order.
        unread.sort_unstable_by_key(|lead| ledger_key(lead));
        unread.dedup();
        if unread.is_empty() {
            return Ok(());
        }
        // A join with the keys asked for (`(lead_bytes, lead) IN (VALUES …)` would scan the
        // ledger: SQLite searches an index by a row value only from a join).
        let mut sql = String::from("SELECT l.lead, l.entry, l.form FROM (VALUES (?, ?)");
        sql.push_str(&", (?, ?)".repeat(IDS_A_READ - 1));
        sql.push_str(") AS k JOIN ledger l ON l.lead_bytes = k.column1 AND l.lead = k.column2");
        let mut statement = self.connection.prepare_cached(&sql).db()?;
        let mut found_in_all = 0;
        for chunk in unread.chunks(IDS_A_READ) {
            // A short last chunk leaves its free places NULL, which no key equals.
            for index in 0..IDS_A_READ {
                let key = chunk.get(index).map(|lead| ledger_key(lead));
                statement
                    .raw_bind_parameter(2 * index + 1, key.map(|(bytes, _)| bytes))
                    .db()?;
                statement
                    .raw_bind_parameter(2 * index + 2, key.map(|(_, lead)| lead))
                    .db()?;
            }
            let mut found = Vec::new();
            let mut rows = statement.raw_query();
            while let Some(row) = rows.next().db()? {
                let lead: String = row.get(0).db()?;
                let entry: Vec<u8> = row.get(1).db()?;
                let form: i64 = row.get(2).db()?;
                found.push((lead, entry, form));
            }
            // Known only once the whole chunk was read: a failure leaves nothing half-known.
            for lead in chunk {
                known.insert((*lead).to_string(), Known::Absent);
            }
            found_in_all += found.len();
            for (lead, entry, form) in found {
                known.insert(lead, Known::Stored(entry, form));
            }
        }
        self.assumption.read(found_in_all);
        Ok(())
    }

    fn recorded(&mut self, lead: &str) -> Result<Option<Recorded>, StateError> {
        if self.in_batch {
            match self.batch_ledger.lookup(lead) {
                InBatch::Recorded(entry) => {
                    return read_stored_known(&self.names, lead, entry, ENTRY_FORM).map(Some);
                }
                InBatch::Stored(entry, form) => {
                    return read_stored(&self.connection, &mut self.names, lead, entry, form)
                        .map(Some);
                }
                InBatch::Absent => return Ok(None),
                InBatch::Unknown => {}
            }
        }
        self.on_file()?;
        let mut statement = self
            .connection
            .prepare_cached("SELECT entry, form FROM ledger WHERE lead_bytes = ?1 AND lead = ?2")
            .db()?;
        let (bytes, key) = ledger_key(lead);
        let entry: Option<(Vec<u8>, i64)> = statement
            .query_row(params![bytes, key], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()
            .db()?;
        let Some((entry, form)) = entry else {
            return Ok(None);
        };
        read_stored(&self.connection, &mut self.names, lead, &entry, form).map(Some)
    }

    fn record(&mut self, entry: &EntryRef<'_>) -> Result<(), StateError> {
        if self.in_batch {
            return self.record_in_batch(entry);
        }
        self.on_file()?;
        // Alone: its own transaction, so that its new names and the entry land together.
        self.connection.execute_batch("BEGIN IMMEDIATE").db()?;
        let known = self.names.len();
        let recorded = load_names(&self.connection, &mut self.names)
            .and_then(|()| self.record_in_batch(entry))
            .and_then(|()| self.write_batch_ledger())
            .and_then(|()| self.connection.execute_batch("COMMIT").db());
        if recorded.is_err() {
            let _ = self.connection.execute_batch("ROLLBACK");
            self.names.truncate(known);
            self.batch_ledger.clear();
        }
        recorded
    }

    fn rotation(&mut self, pool: &str) -> Result<Option<String>, StateError> {
        if let Some((state, _)) = self.rotations.get(pool) {
            return Ok(state.clone());
        }
        self.on_file()?;
        let mut statement = self
            .connection
            .prepare_cached("SELECT state FROM rotations WHERE pool = ?1")
            .db()?;
        let state = statement
            .query_row(params![pool], |row| row.get::<_, String>(0))
            .optional()
            .db()?;
        self.rotations
            .insert(pool.to_string(), (state.clone(), false));
        Ok(state)
    }

    fn rotation_into(&mut self, pool: &str, into: &mut String) -> Result<bool, StateError> {
        // Copied from the batch's rotations into the router's buffer: no new string a pick.
        if !self.rotations.contains_key(pool) {
            self.rotation(pool)?;
        }
        into.clear();
        Ok(match self.rotations.get(pool) {
            Some((Some(state), _)) => {
                into.push_str(state);
                true
            }
            _ => false,
        })
    }

    fn set_rotation(&mut self, pool: &str, value: &str) -> Result<(), StateError> {
        // Written over in place: a pool's rotation changes with most of its leads.
        match self.rotations.get_mut(pool) {
            Some((Some(kept), dirty)) => {
                kept.clear();
                kept.push_str(value);
                *dirty = true;
            }
            Some((kept, dirty)) => {
                *kept = Some(value.to_string());
                *dirty = true;
            }
            None => {
                self.rotations
                    .insert(pool.to_string(), (Some(value.to_string()), true));
            }
        }
        Ok(())
    }

    fn assigned(&mut self, rep: &str, since: Option<Timestamp>) -> Result<u64, StateError> {
        if let Some(count) = self.loads.get(rep, since) {
            return Ok(count);
        }
        let key = since_key(since);
        if self.in_flight_may_change(rep, |span| span.last_at_s >= key) {
            self.on_file()?;
        }
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
                // Counted once for this (rep, since), then kept current at every commit. The
                // table has the batch's own assignments only from its commit.
                let committed: i64 = self
                    .connection
                    .prepare_cached(
                        "SELECT COUNT(*) FROM assignments WHERE rep = ?1 AND at_s >= ?2",
                    )
                    .db()?
                    .query_row(params![rep, key], |row| row.get(0))
                    .db()?;
                // Kept in the file only by a batch the store commits itself (the writer would
                // take a write of this connection for another router's).
                if self.handed.is_none() {
                    self.connection
                        .prepare_cached(
                            "INSERT INTO load_counts (rep, since_s, count) VALUES (?1, ?2, ?3)",
                        )
                        .db()?
                        .execute(params![rep, key, committed])
                        .db()?;
                }
                committed + pending
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
        if self.in_flight_may_change(rep, |span| {
            span.first_lead_s < to_s && span.last_lead_s >= from_s
        }) {
            self.on_file()?;
        }
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
                // Counted once for this (rep, window), then kept current at every commit. The
                // tables have the batch's own leads only from its commit.
                let committed: i64 = if from_s == bucket_of(from_s) && to_s == bucket_of(to_s) {
                    // Whole quarter hours.
                    self.connection
                        .prepare_cached(
                            "SELECT COALESCE(SUM(count), 0) FROM lead_counts \
                             WHERE rep = ?1 AND bucket_s >= ?2 AND bucket_s < ?3",
                        )
                        .db()?
                        .query_row(params![rep, from_s, to_s], |row| row.get(0))
                        .db()?
                } else {
                    // Row by row: rare (see `TABLES`), and the leads' times have no index.
                    self.connection
                        .prepare_cached(
                            "SELECT COUNT(*) FROM assignments \
                             WHERE rep = ?1 AND lead_s >= ?2 AND lead_s < ?3",
                        )
                        .db()?
                        .query_row(params![rep, from_s, to_s], |row| row.get(0))
                        .db()?
                };
                if self.handed.is_none() {
                    self.connection
                        .prepare_cached(
                            "INSERT INTO window_counts (rep, from_s, to_s, count) VALUES (?1, ?2, ?3, ?4)",
                        )
                        .db()?
                        .execute(params![rep, from_s, to_s, committed])
                        .db()?;
                }
                committed + pending
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
        self.on_file()?;
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
    ) -> Result<Option<(String, String)>, StateError> {
        self.on_file()?;
        self.connection
            .prepare_cached(
                "SELECT lead, rep FROM prospects WHERE field = ?1 AND key = ?2 AND lead_s >= ?3 \
                 AND lead_s <= ?4 AND lead != ?5 ORDER BY lead_s DESC LIMIT 1",
            )
            .db()?
            .query_row(
                params![field, key, from.as_second(), to.as_second(), lead],
                |row| Ok((row.get(0)?, row.get(1)?)),
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
        // The counts an assignment changes (`load_counts`, `lead_counts`, `window_counts`)
        // are written at the batch's commit, with it.
        if !self.in_batch {
            return Err(StateError::new(
                StateErrorKind::Failed,
                format!("internal error: `{lead}` assigned to `{rep}` outside a batch"),
            ));
        }
        let (at_s, lead_s) = (at.as_second(), lead_at.as_second());
        self.batch_assignments.push(lead, rep, at_s, lead_s);
        self.windows.assigned(rep, lead_at);
        self.lead_times_in_batch.push(rep, lead_s);
        self.assigned_in_batch.push(rep, at_s);
        // `load_counts` counts by whole seconds (`at_s >= since_s`), and so must the counts kept
        // in memory, or a count kept from batch to batch would differ by one from a count read
        // from the file when a roster's `as_of` falls after the routing time in the same second.
        let counted_at = Timestamp::from_second(at_s)
            .ok()
            .filter(|_| at_s >= 0)
            .and_then(|second| {
                second
                    .checked_add(jiff::SignedDuration::from_nanos(999_999_999))
                    .ok()
            })
            .unwrap_or(at);
        self.loads.assigned(rep, counted_at);
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
            // Routing: kept until the commit, then appended in arrival order (one page written
            // per batch), taken into the time-ordered index in bulk when a sweep reads it.
            if !self.in_batch {
                self.on_file()?;
            }
            self.due_in_batch.push(lead, to);
            if !self.in_batch {
                // Outside a batch, a change is its own transaction.
                self.flush_due_in_batch()?;
            }
            return Ok(());
        }
        self.on_file()?;
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
        self.on_file()?;
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
        // Read from the file even while the commits are handed over: routing's batches write
        // no lives (`track` and `sweep` do, and a batch decided meanwhile is refused).
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
        self.on_file()?;
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
        self.on_file()?;
        // What this batch recorded is read with the rest.
        self.batch_still_open()?;
        self.write_batch_ledger()?;
        let mut statement = self
            .connection
            .prepare(
                "SELECT l.lead, l.entry, l.form, v.entry FROM ledger l \
                 LEFT JOIN lives v ON v.lead = l.lead",
            )
            .db()?;
        let mut rows = statement.query([]).db()?;
        while let Some(row) = rows.next().db()? {
            let lead: String = row.get(0).db()?;
            let entry: Vec<u8> = row.get(1).db()?;
            let form: i64 = row.get(2).db()?;
            let life: Option<String> = row.get(3).db()?;
            let recorded = read_stored(&self.connection, &mut self.names, &lead, &entry, form)?;
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
        self.on_file()?;
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
        self.on_file()?;
        self.outgoing(
            "SELECT seq, at_ns, lead, body, pending FROM outbox WHERE pending = 1 \
             ORDER BY seq LIMIT ?1",
            params![i64::try_from(limit).unwrap_or(i64::MAX)],
        )
    }

    fn delivered(&mut self, seq: u64) -> Result<(), StateError> {
        self.on_file()?;
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
        self.on_file()?;
        self.outgoing(
            "SELECT seq, at_ns, lead, body, pending FROM outbox WHERE at_ns >= ?1 \
             ORDER BY at_ns, seq LIMIT ?2",
            params![nanos(since), i64::try_from(limit).unwrap_or(i64::MAX)],
        )
    }

    fn posted_after(&mut self, after: u64, limit: usize) -> Result<Vec<Outgoing>, StateError> {
        self.on_file()?;
        self.outgoing(
            "SELECT seq, at_ns, lead, body, pending FROM outbox WHERE seq > ?1 \
             ORDER BY seq LIMIT ?2",
            params![
                i64::try_from(after).unwrap_or(i64::MAX),
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
        )
    }

    fn lease(
        &mut self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StateError> {
        self.on_file()?;
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
        self.on_file()?;
        // One read transaction: the rows of every table as of one moment.
        self.connection.execute_batch("BEGIN").db()?;
        let exported =
            load_names(&self.connection, &mut self.names).and_then(|()| self.export_rows(visit));
        let ended = self.connection.execute_batch("COMMIT").db();
        exported.and(ended)
    }

    fn import(
        &mut self,
        rows: &mut dyn Iterator<Item = Result<StateRow, StateError>>,
    ) -> Result<u64, StateError> {
        self.on_file()?;
        self.connection.execute_batch("BEGIN IMMEDIATE").db()?;
        let known = self.names.len();
        let imported = load_names(&self.connection, &mut self.names)
            .and_then(|()| self.import_rows(rows))
            .and_then(|count| self.write_batch_ledger().map(|()| count))
            .and_then(|count| self.connection.execute_batch("COMMIT").db().map(|()| count));
        if imported.is_err() {
            let _ = self.connection.execute_batch("ROLLBACK");
            self.names.truncate(known);
            self.batch_ledger.clear();
        }
        imported
    }
}

impl SqliteState {
    /// Writes the entries the batch recorded. The ledger's key refusing one is a conflict
    /// when the batch took leads for new without reading the ledger ([`Assumption`]): the
    /// batch is decided again, reading first; otherwise it is a failure.
    fn write_batch_ledger(&mut self) -> Result<(), StateError> {
        let written = self
            .batch_ledger
            .write_taken(&self.connection, self.assumption.taken);
        if written
            .as_ref()
            .is_err_and(|error| error.kind == StateErrorKind::Conflict)
        {
            self.assumption.missed();
        }
        written
    }

    /// Forgets what the batch read, wrote and learned (its transaction is rolled back): the
    /// names it added to the table are not in the file.
    fn forget_batch(&mut self) {
        self.in_batch = false;
        self.names.truncate(self.names_at_begin);
        self.forget_kept();
        self.start_batch();
    }

    /// Forgets the rotations, loads and windows kept in memory: read again when next asked for.
    fn forget_kept(&mut self) {
        self.rotations.clear();
        self.loads.clear();
        self.windows.clear();
    }

    /// Empties what a batch writes at its commit.
    fn start_batch(&mut self) {
        self.assigned_in_batch.clear();
        self.lead_times_in_batch.clear();
        self.due_in_batch.clear();
        self.batch_ledger.clear();
        self.batch_assignments.clear();
        self.assumption.taken = false;
    }

    /// Takes out what the batch writes at its commit (the rotations it changed are clean
    /// from then on).
    fn take_writes(&mut self) -> BatchWrites {
        let mut rotations = Vec::new();
        for (pool, (state, dirty)) in &mut self.rotations {
            if let (Some(state), true) = (state, *dirty) {
                rotations.push((pool.clone(), state.clone()));
            }
            *dirty = false;
        }
        let writes = BatchWrites {
            rotations,
            ledger: std::mem::take(&mut self.batch_ledger),
            assignments: std::mem::take(&mut self.batch_assignments),
            assigned: std::mem::take(&mut self.assigned_in_batch),
            lead_times: std::mem::take(&mut self.lead_times_in_batch),
            due: std::mem::take(&mut self.due_in_batch),
            new_names: if self.handed.is_some() {
                self.names
                    .names_from(self.names_at_begin)
                    .map(str::to_string)
                    .collect()
            } else {
                Vec::new()
            },
            first_new_name: self.names_at_begin,
            assumed: self.assumption.taken,
            ledger_refused: false,
        };
        self.assumption.taken = false;
        writes
    }

    /// Takes back the room of the last batch the writer sent back (while the commits are
    /// handed over), so that this batch fills buffers and tables grown before instead of new
    /// ones. Called as a batch begins: what it replaces holds nothing.
    fn reuse_spent_writes(&mut self) {
        let Some(spent) = &self.spent else {
            return;
        };
        if let Some(writes) = spent.try_iter().last() {
            self.give_back_writes(writes);
        }
    }

    /// Puts the emptied writes back, so that the next batch reuses their room.
    fn give_back_writes(&mut self, mut writes: BatchWrites) {
        writes.clear();
        self.batch_ledger = writes.ledger;
        self.batch_assignments = writes.assignments;
        self.assigned_in_batch = writes.assigned;
        self.lead_times_in_batch = writes.lead_times;
        self.due_in_batch = writes.due;
    }

    /// Per rep this batch assigned: the span of the leads' times and the last routing time.
    fn assigned_spans(&self) -> HashMap<String, AssignedSpan> {
        let mut spans = HashMap::with_capacity(self.lead_times_in_batch.len());
        for (rep, times) in self.lead_times_in_batch.iter() {
            let last_at_s = self
                .assigned_in_batch
                .get(rep)
                .and_then(|at| at.iter().max().copied())
                .unwrap_or(i64::MAX);
            let span = AssignedSpan {
                first_lead_s: times.iter().min().copied().unwrap_or(i64::MIN),
                last_lead_s: times.iter().max().copied().unwrap_or(i64::MAX),
                last_at_s,
            };
            spans.insert(rep.clone(), span);
        }
        spans
    }

    /// Whether a batch handed over and not committed yet assigned `rep` a lead that `touches`
    /// a count: then the file's count lacks it. Outside a hand-over: never.
    fn in_flight_may_change(&mut self, rep: &str, touches: impl Fn(&AssignedSpan) -> bool) -> bool {
        let committed = self.committed.load(std::sync::atomic::Ordering::Acquire);
        while self
            .in_flight
            .front()
            .is_some_and(|(number, _)| *number <= committed)
        {
            self.in_flight.pop_front();
        }
        self.in_flight
            .iter()
            .any(|(_, spans)| spans.get(rep).is_some_and(&touches))
    }

    /// Fails with [`StateErrorKind::NeedsLock`] while the commits are handed over: the file
    /// lacks the batches not yet committed, so nothing is read from it then.
    fn on_file(&self) -> Result<(), StateError> {
        if self.handed.is_some() {
            return Err(StateError::new(
                StateErrorKind::NeedsLock,
                "state database: asked to read the file while its commits are on another thread",
            ));
        }
        Ok(())
    }

    /// Records an imported entry inside the import's transaction, writing the entries kept
    /// every [`ROWS_AN_IMPORT_WRITES`].
    fn record_imported(&mut self, entry: &EntryRef<'_>) -> Result<(), StateError> {
        self.record_in_batch(entry)?;
        if self.batch_ledger.len() >= ROWS_AN_IMPORT_WRITES {
            self.write_batch_ledger()?;
        }
        Ok(())
    }

    /// Fails, forgetting the batch, when SQLite ended the batch's transaction itself (after a
    /// full disk or an I/O error): a row written then would be a transaction of its own, and
    /// the batch's decisions, never printed, would be in the ledger.
    fn batch_still_open(&mut self) -> Result<(), StateError> {
        if self.in_batch && self.connection.is_autocommit() {
            self.forget_batch();
            return Err(StateError::new(
                StateErrorKind::Failed,
                "state database: the batch's transaction was rolled back by SQLite (after a \
                 full disk or an I/O error); none of its leads is recorded",
            ));
        }
        Ok(())
    }

    /// Records `entry` with its names as indexes into `names`, adding the names it is the
    /// first to use, inside the open transaction.
    fn record_in_batch(&mut self, entry: &EntryRef<'_>) -> Result<(), StateError> {
        let lead = &*entry.decision.lead;
        // What the ledger's key would refuse at commit, refused now and named.
        let held = || {
            StateError::new(
                StateErrorKind::Failed,
                format!("state database: lead `{lead}` is in the ledger already"),
            )
        };
        let known = self.names.len();
        self.scratch.clear();
        compact::encode_recorded_interned(entry, &mut self.scratch, &mut self.names, ENTRY_LAYOUT);
        // Kept first: a refused lead leaves no name behind, here or in the file.
        if !self.batch_ledger.record_new(lead, &self.scratch)? {
            self.names.truncate(known);
            return Err(held());
        }
        if self.handed.is_some() {
            // The writer writes the batch's new names with its entries.
            return Ok(());
        }
        // Written at commit, with the batch's other entries.
        let saved = save_names(&self.connection, &self.names, known);
        if saved.is_err() {
            self.batch_ledger.unrecord_last();
            // The names written before the failure leave the open transaction too, so that
            // the table in memory and the file's agree whatever the caller does next.
            self.names.truncate(known);
            // Only inside the transaction: once SQLite ended it, the names are gone with it,
            // and a delete of its own could take names another router committed since.
            if !self.connection.is_autocommit() {
                let _ = self.connection.execute(
                    "DELETE FROM names WHERE id >= ?1",
                    params![i64::try_from(known).unwrap_or(i64::MAX)],
                );
            }
        }
        saved.map(drop)
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::route::decision::{
        Action, ActionTrace, CandidateTrace, Decision, Reason, RecordedTrace,
    };

    /// A fresh file in the temporary directory, unique to this test and process.
    fn scratch(name: &str) -> ScratchFile {
        let dir =
            std::env::temp_dir().join(format!("switchboard-sqlite-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        ScratchFile(dir.join("state.db"))
    }

    /// A state file in a directory of its own, removed with the directory when the test
    /// passes; kept when it fails, to be looked at.
    struct ScratchFile(std::path::PathBuf);

    impl std::ops::Deref for ScratchFile {
        type Target = Path;

        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl AsRef<Path> for ScratchFile {
        fn as_ref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for ScratchFile {
        fn drop(&mut self) {
            if let (false, Some(dir)) = (std::thread::panicking(), self.0.parent()) {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    /// An entry whose names (pool, rep, reason, policy hash, the trace's texts) are new
    /// for each rep.
    fn entry(lead: &str, rep: &str) -> Recorded {
        Recorded {
            decision: Decision {
                action: Action::Pool {
                    pool: "senior".into(),
                    rep: rep.into(),
                },
                reasons: vec![Reason {
                    action: Some("rep zoe".into()),
                    reason: format!("zoe is away, {rep} is next").into(),
                }],
                ..Decision::new(lead)
            },
            fingerprint: None,
            decided_at: Timestamp::UNIX_EPOCH,
            lead_at: Some(Timestamp::UNIX_EPOCH),
            policy_hash: "h".repeat(64).into(),
            trace: Some(RecordedTrace {
                path: Vec::new(),
                actions: vec![ActionTrace::Candidates {
                    action: "pool senior".into(),
                    strategy: Some("round_robin"),
                    candidates: vec![CandidateTrace {
                        rep: rep.into(),
                        eligible: true,
                        load: Some(3),
                        why: format!("{rep} is on shift").into(),
                        owner: None,
                    }],
                }],
                starts: None,
            }),
        }
    }

    fn read(state: &mut SqliteState, lead: &str) -> Option<Recorded> {
        state.recorded(lead).unwrap()
    }

    /// The ledger's entries as `state export` gives them, in id order.
    /// The file at `path`, written as tables version `version`, opened by this build: it says
    /// it was made at that version, and each of `ids` reads back as `expected` gives it.
    fn reopened_at(
        path: &Path,
        version: i64,
        ids: &[&str],
        expected: impl Fn(&str) -> Recorded,
    ) -> SqliteState {
        let mut state = SqliteState::open(path).unwrap();
        assert_eq!(state.tables_version(), Some((version, SCHEMA_VERSION)));
        for id in ids {
            assert_eq!(read(&mut state, id), Some(expected(id)), "{id}");
        }
        state
    }

    fn exported_ledger(state: &mut SqliteState) -> Vec<Recorded> {
        let mut exported = Vec::new();
        state
            .export(&mut |row| {
                if let StateRow::Ledger(recorded) = row {
                    exported.push(recorded);
                }
                Ok(())
            })
            .unwrap();
        exported
    }

    /// A hash under which every id collides: the chains of `IdIndex` are all it has.
    #[derive(Default)]
    struct OneHash;

    impl std::hash::Hasher for OneHash {
        fn finish(&self) -> u64 {
            7
        }
        fn write(&mut self, _: &[u8]) {}
    }

    impl std::hash::BuildHasher for OneHash {
        type Hasher = OneHash;
        fn build_hasher(&self) -> OneHash {
            ONE_HASHES.with(|hashes| hashes.set(hashes.get() + 1));
            OneHash
        }
    }

    thread_local! {
        /// How many ids this thread hashed with [`OneHash`].
        static ONE_HASHES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    fn one_hashes() -> usize {
        ONE_HASHES.with(std::cell::Cell::get)
    }

    #[test]
    fn a_batch_knows_the_leads_it_took_for_new_and_the_entries_it_recorded_in_one_index() {
        let mut batch = BatchLedger::default();
        batch.take_for_new("L-1");
        batch.take_for_new("L-2");
        batch.take_for_new("L-1");
        batch
            .known
            .insert("L-9".to_string(), Known::Stored(b"nine".to_vec(), 2));
        assert!(matches!(batch.lookup("L-1"), InBatch::Absent));
        assert!(matches!(batch.lookup("L-3"), InBatch::Unknown));
        assert!(matches!(batch.lookup("L-9"), InBatch::Stored(b"nine", 2)));
        // Taken for new (twice), then recorded once; a lead never asked about is recorded too.
        assert_eq!(batch.record_new("L-1", b"one"), Ok(true));
        assert_eq!(batch.record_new("L-3", b"three"), Ok(true));
        assert!(matches!(batch.lookup("L-1"), InBatch::Recorded(b"one")));
        assert!(matches!(batch.lookup("L-3"), InBatch::Recorded(b"three")));
        assert!(matches!(batch.lookup("L-2"), InBatch::Absent));
        // Refused: recorded already, or held by the file.
        assert_eq!(batch.record_new("L-1", b"again"), Ok(false));
        assert_eq!(batch.record_new("L-9", b"again"), Ok(false));
        // Taken for new after it was recorded: still recorded.
        batch.take_for_new("L-3");
        assert!(matches!(batch.lookup("L-3"), InBatch::Recorded(b"three")));
        assert_eq!(batch.record_new("L-3", b"again"), Ok(false));
        assert_eq!(batch.len(), 2);
        // The last entry forgotten: its lead reads as taken for new, and is recorded again.
        assert_eq!(batch.record_new("L-4", b"four"), Ok(true));
        batch.unrecord_last();
        assert!(matches!(batch.lookup("L-4"), InBatch::Absent));
        assert_eq!(batch.len(), 2);
        assert_eq!(batch.record_new("L-4", b"four!"), Ok(true));
        assert!(matches!(batch.lookup("L-4"), InBatch::Recorded(b"four!")));
        batch.unrecord_last();
        assert_eq!(batch.recorded(0), Some(("L-1", &b"one"[..])));
        assert_eq!(batch.recorded(1), Some(("L-3", &b"three"[..])));
        assert_eq!(batch.recorded(2), None);
        batch.clear();
        assert!(matches!(batch.lookup("L-1"), InBatch::Unknown));
        assert_eq!(batch.len(), 0);
    }

    #[test]
    fn ids_are_found_by_their_text_when_their_hashes_collide() {
        let mut index = IdIndex::<OneHash>::default();
        for id in ["L-1", "L-10", "", "L-2", "L-1"] {
            index.push(id);
        }
        assert_eq!(index.len(), 5);
        // The last of an id kept twice; each other id where it was kept.
        assert_eq!(index.find("L-1"), Some(4));
        assert_eq!(index.find("L-10"), Some(1));
        assert_eq!(index.find(""), Some(2));
        assert_eq!(index.find("L-2"), Some(3));
        assert_eq!(index.find("L-"), None);
        assert_eq!(index.find("L-20"), None);
        assert_eq!(index.get(1), Some("L-10"));
        assert_eq!(index.get(5), None);
        // The same id kept before another, found along the chain of their hash.
        assert_eq!(index.find_before(4), Some(0));
        assert_eq!(index.find_before(3), None);
        assert_eq!(index.find_before(0), None);
        assert_eq!(index.find_before(5), None);
        index.clear();
        assert_eq!(index.find("L-1"), None);
        index.push("L-3");
        assert_eq!(index.find("L-3"), Some(0));
        // With the process's own hash too.
        let mut seeded = IdIndex::<foldhash::fast::RandomState>::default();
        let ids: Vec<String> = (0..5_000).map(|n| format!("L-{n}")).collect();
        for id in &ids {
            seeded.push(id);
        }
        for (at, id) in ids.iter().enumerate() {
            assert_eq!(seeded.find(id), Some(at));
        }
        assert_eq!(seeded.find("L-5000"), None);
    }

    #[test]
    fn ids_asked_in_the_order_kept_are_found_without_hashing_and_a_repeat_ends_that() {
        // Every id shares one hash: an answer that skipped the chain and compared the wrong id
        // would show here.
        let mut index = IdIndex::<OneHash>::default();
        for id in ["L-1", "L-2", "L-3", "L-4"] {
            index.push(id);
        }
        assert!(!index.kept_twice);
        // As a batch asks: each id twice, in order, none hashed; then out of order and ids
        // never kept, hashed.
        let hashed = one_hashes();
        for (at, id) in ["L-1", "L-2", "L-3", "L-4"].into_iter().enumerate() {
            assert_eq!(index.find(id), Some(at));
            assert_eq!(index.found_last.get(), at);
            assert_eq!(index.find(id), Some(at));
        }
        // Kept in key order: out of order and ids never kept are found by halves, and
        // nothing was hashed, not even as they were kept.
        assert_eq!(index.find("L-2"), Some(1));
        assert_eq!(index.find("L-9"), None);
        assert_eq!(index.find("L-0"), None);
        assert_eq!(index.find("L-10"), None);
        assert_eq!(index.found_last.get(), 1);
        assert_eq!(index.find("L-3"), Some(2));
        assert_eq!(index.find("L-1"), Some(0));
        assert_eq!(index.find("L-4"), Some(3));
        assert_eq!(one_hashes(), hashed);
        assert!(!index.out_of_order);
        // An id before the last in key order: those kept are hashed (4), and so is it; out of
        // order questions are hashed from then on, and every id is still found.
        index.push("L-0");
        assert!(index.out_of_order && !index.kept_twice);
        assert_eq!(one_hashes(), hashed + 5);
        assert_eq!(index.find("L-0"), Some(4));
        assert_eq!(index.find("L-2"), Some(1));
        assert_eq!(index.find("L-9"), None);
        assert_eq!(one_hashes(), hashed + 7);
        // Kept again: the last one kept is the answer, also for the id found last, and every
        // question is hashed.
        index.push("L-1");
        assert!(index.kept_twice);
        let hashed = one_hashes();
        assert_eq!(index.find("L-1"), Some(5));
        assert_eq!(index.find("L-2"), Some(1));
        assert_eq!(index.find("L-1"), Some(5));
        assert_eq!(one_hashes(), hashed + 3);
        // Cleared, the shortcut and the order serve again.
        index.clear();
        assert!(!index.kept_twice && !index.out_of_order);
        index.push("L-7");
        index.push("L-8");
        assert_eq!(index.find("L-8"), Some(1));
        assert_eq!(index.find("L-7"), Some(0));
        assert_eq!(index.find("L-1"), None);
    }

    #[test]
    fn entries_keep_their_names_once_and_read_back_whole() {
        let path = scratch("names");
        let mut state = SqliteState::open(&path).unwrap();
        state.begin().unwrap();
        for n in 0..100 {
            state
                .record(&entry(&format!("L-{n}"), "anna").as_entry())
                .unwrap();
        }
        state.commit().unwrap();
        let connection = Connection::open(&path).unwrap();
        let (entries, longest): (i64, i64) = connection
            .query_row(
                "SELECT count(*), max(length(entry)) FROM ledger",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!(entries, 100);
        let mut inline = Vec::new();
        compact::encode_recorded(&entry("L-99", "anna").as_entry(), &mut inline);
        assert!(
            longest * 3 < inline.len() as i64,
            "{longest} vs {}",
            inline.len()
        );
        let kept: i64 = connection
            .query_row("SELECT count(*) FROM names", [], |row| row.get(0))
            .unwrap();
        // pool, rep, the reason's action and text, the policy hash, the trace's action,
        // strategy and why: each once.
        assert_eq!(kept, 8);
        let mut again = SqliteState::open(&path).unwrap();
        assert_eq!(read(&mut again, "L-42"), Some(entry("L-42", "anna")));
    }

    #[test]
    fn names_of_a_rolled_back_batch_are_forgotten() {
        let path = scratch("rollback");
        let mut state = SqliteState::open(&path).unwrap();
        state.begin().unwrap();
        state.record(&entry("L-1", "anna").as_entry()).unwrap();
        state.rollback().unwrap();
        state.begin().unwrap();
        state.record(&entry("L-2", "boris").as_entry()).unwrap();
        state.commit().unwrap();
        assert_eq!(read(&mut state, "L-1"), None);
        assert_eq!(read(&mut state, "L-2"), Some(entry("L-2", "boris")));
        // A fresh connection reads the file's names from id 0 on: had the first connection
        // kept anna's, boris's would have ids after a gap, and reading would fail.
        let mut again = SqliteState::open(&path).unwrap();
        assert_eq!(read(&mut again, "L-2"), Some(entry("L-2", "boris")));
    }

    #[test]
    fn a_batch_that_sqlite_rolled_back_itself_is_forgotten() {
        let path = scratch("auto-rollback");
        let mut state = SqliteState::open(&path).unwrap();
        state.begin().unwrap();
        state.record(&entry("L-1", "anna").as_entry()).unwrap();
        // What SQLite does after a full disk or an I/O error: the transaction is gone, and
        // `ROLLBACK` would fail.
        state.connection.execute_batch("ROLLBACK").unwrap();
        state.rollback().unwrap();
        state.begin().unwrap();
        state.record(&entry("L-2", "boris").as_entry()).unwrap();
        state.commit().unwrap();
        // The same when the caller begins again without rolling back.
        state.begin().unwrap();
        state.record(&entry("L-3", "carla").as_entry()).unwrap();
        state.connection.execute_batch("ROLLBACK").unwrap();
        state.begin().unwrap();
        state.record(&entry("L-4", "dora").as_entry()).unwrap();
        state.commit().unwrap();
        let mut again = SqliteState::open(&path).unwrap();
        assert_eq!(read(&mut again, "L-1"), None);
        assert_eq!(read(&mut again, "L-2"), Some(entry("L-2", "boris")));
        assert_eq!(read(&mut again, "L-3"), None);
        assert_eq!(read(&mut again, "L-4"), Some(entry("L-4", "dora")));
    }

    #[test]
    fn a_batch_reads_the_ledger_ahead_and_writes_its_entries_at_commit() {
        let path = scratch("batched");
        let mut state = SqliteState::open(&path).unwrap();
        state.begin().unwrap();
        for n in 0..10 {
            state
                .record(&entry(&format!("L-{n}"), "anna").as_entry())
                .unwrap();
        }
        state.commit().unwrap();
        let other = Connection::open(&path).unwrap();
        let count = |connection: &Connection| -> i64 {
            connection
                .query_row("SELECT count(*) FROM ledger", [], |row| row.get(0))
                .unwrap()
        };
        assert_eq!(count(&other), 10);

        // This batch reads the ledger ahead (it does not take its leads for new).
        state.assumption.missed();
        state.begin().unwrap();
        // More ids than one read asks for, out of order, one twice.
        let ids: Vec<String> = (0..300).rev().map(|n| format!("L-{n}")).collect();
        let mut ahead: Vec<&str> = ids.iter().map(String::as_str).collect();
        ahead.push("L-3");
        state.read_ahead(&ahead).unwrap();
        // Every id is known without asking the file again, found or not.
        assert_eq!(state.batch_ledger.known.len(), 300);
        assert!(matches!(
            state.batch_ledger.known.get("L-3"),
            Some(Known::Stored(..))
        ));
        assert!(matches!(
            state.batch_ledger.known.get("L-299"),
            Some(Known::Absent)
        ));
        assert_eq!(read(&mut state, "L-3"), Some(entry("L-3", "anna")));
        assert_eq!(read(&mut state, "L-299"), None);
        // 150 entries: two full statements and 22 rows one by one, at commit.
        for n in 10..160 {
            state
                .record(&entry(&format!("L-{n}"), "boris").as_entry())
                .unwrap();
        }
        assert_eq!(read(&mut state, "L-10"), Some(entry("L-10", "boris")));
        assert_eq!(read(&mut state, "L-159"), Some(entry("L-159", "boris")));
        // Neither read ahead nor recorded: asked of the file.
        assert_eq!(read(&mut state, "L-1000"), None);
        // Kept in memory: not even this connection's transaction holds them yet.
        assert_eq!(state.batch_ledger.len(), 150);
        assert_eq!(count(&state.connection), 10);
        // A lead the batch knows is in the ledger is refused by name, not at commit.
        for lead in ["L-3", "L-42"] {
            let error = state.record(&entry(lead, "carla").as_entry()).unwrap_err();
            assert!(error.to_string().contains(&format!("`{lead}`")), "{error}");
        }
        state.commit().unwrap();
        assert!(state.batch_ledger.known.is_empty());
        assert_eq!(count(&other), 160);

        // A whole-ledger query inside a batch sees the batch's entries.
        state.begin().unwrap();
        state.record(&entry("L-160", "carla").as_entry()).unwrap();
        let mut seen = 0;
        state.each_lead(&mut |_, _| seen += 1).unwrap();
        assert_eq!(seen, 161);
        assert_eq!(read(&mut state, "L-160"), Some(entry("L-160", "carla")));
        state.commit().unwrap();
        assert_eq!(count(&other), 161);

        let mut again = SqliteState::open(&path).unwrap();
        for n in 0..161 {
            let rep = match n {
                0..10 => "anna",
                10..160 => "boris",
                _ => "carla",
            };
            let lead = format!("L-{n}");
            assert_eq!(read(&mut again, &lead), Some(entry(&lead, rep)), "{lead}");
        }
        // What a batch read ahead is forgotten with it: at commit and at rollback.
        again.assumption.missed();
        again.begin().unwrap();
        again.read_ahead(&["L-500"]).unwrap();
        again.commit().unwrap();
        assert!(again.batch_ledger.known.is_empty());
        again.begin().unwrap();
        again.read_ahead(&["L-500"]).unwrap();
        again.rollback().unwrap();
        assert!(again.batch_ledger.known.is_empty());
        state.begin().unwrap();
        state.record(&entry("L-500", "dora").as_entry()).unwrap();
        state.commit().unwrap();
        again.begin().unwrap();
        assert_eq!(read(&mut again, "L-500"), Some(entry("L-500", "dora")));
        again.rollback().unwrap();
    }

    #[test]
    fn a_batch_that_took_a_recorded_lead_for_new_is_a_conflict_and_the_next_ones_read_first() {
        let path = scratch("assumed");
        let mut state = SqliteState::open(&path).unwrap();
        state.begin().unwrap();
        for n in 0..10 {
            state
                .record(&entry(&format!("L-{n}"), "anna").as_entry())
                .unwrap();
        }
        state.commit().unwrap();

        // A new connection takes a batch of at least IDS_TO_ASSUME leads for new: nothing is
        // read for them. A smaller batch reads.
        let mut small = SqliteState::open(&path).unwrap();
        small.begin().unwrap();
        small.read_ahead(&["L-3", "L-20"]).unwrap();
        assert!(!small.assumption.taken);
        assert_eq!(read(&mut small, "L-3"), Some(entry("L-3", "anna")));
        small.rollback().unwrap();
        let ids: Vec<String> = (0..IDS_TO_ASSUME).map(|n| format!("B-{n}")).collect();
        fn batch<'a>(first: &'a str, ids: &'a [String]) -> Vec<&'a str> {
            std::iter::once(first)
                .chain(ids.iter().skip(1).map(String::as_str))
                .collect()
        }
        let mut router = SqliteState::open(&path).unwrap();
        router.begin().unwrap();
        router.read_ahead(&batch("L-3", &ids)).unwrap();
        assert_eq!(read(&mut router, "L-3"), None, "taken for new, not read");
        // Only the leads taken for new are: another lead the same batch asks about (an event
        // or a due step in the same `serve` batch) is read from the file.
        assert_eq!(read(&mut router, "L-5"), Some(entry("L-5", "anna")));
        router.record(&entry("L-3", "boris").as_entry()).unwrap();
        let at = "2026-11-24T09:00:00Z".parse().unwrap();
        router.assign("boris", "L-3", at, at).unwrap();
        router.record(&entry("L-20", "boris").as_entry()).unwrap();
        let refused = router.commit().unwrap_err();
        assert_eq!(refused.kind, StateErrorKind::Conflict, "{refused}");
        assert!(
            refused.message.contains("in the ledger already"),
            "{refused}"
        );
        router.rollback().unwrap();
        // Nothing of the refused batch stayed.
        let other = Connection::open(&path).unwrap();
        for table in ["lead_counts", "assignments"] {
            let rows: i64 = other
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                    row.get(0)
                })
                .unwrap();
            assert_eq!(rows, 0, "{table}");
        }
        // Decided again, it reads first and finds L-3 as it was.
        router.begin().unwrap();
        router.read_ahead(&batch("L-3", &ids)).unwrap();
        assert_eq!(read(&mut router, "L-3"), Some(entry("L-3", "anna")));
        router.record(&entry("L-20", "boris").as_entry()).unwrap();
        router.commit().unwrap();
        // It keeps reading until CLEAN_READS_TO_ASSUME read-aheads in a row found nothing.
        for batch in 0..CLEAN_READS_TO_ASSUME {
            assert!(!router.assumption.new_leads, "batch {batch}");
            router.begin().unwrap();
            let lead = format!("N-{batch}");
            router.read_ahead(&[&lead]).unwrap();
            assert!(!router.assumption.taken);
            router.record(&entry(&lead, "carla").as_entry()).unwrap();
            router.commit().unwrap();
        }
        assert!(router.assumption.new_leads);
        router.begin().unwrap();
        router.read_ahead(&batch("N-0", &ids)).unwrap();
        assert!(router.assumption.taken);
        // A whole-ledger query in the batch writes what it recorded: a lead taken for new and
        // recorded is then read from the file, not taken for absent.
        router.record(&entry("B-1", "dora").as_entry()).unwrap();
        router.each_lead(&mut |_, _| {}).unwrap();
        assert_eq!(read(&mut router, "B-1"), Some(entry("B-1", "dora")));
        assert_eq!(read(&mut router, "B-2"), None);
        router.rollback().unwrap();
        // A read-ahead that finds an id starts the count again.
        router.assumption.missed();
        for _ in 1..CLEAN_READS_TO_ASSUME {
            router.begin().unwrap();
            router.read_ahead(&["N-404"]).unwrap();
            router.rollback().unwrap();
        }
        router.begin().unwrap();
        router.read_ahead(&["N-0"]).unwrap();
        router.rollback().unwrap();
        router.begin().unwrap();
        router.read_ahead(&["N-404"]).unwrap();
        router.rollback().unwrap();
        assert!(!router.assumption.new_leads);

        // Without a lead taken for new, the key's refusal is a failure, not retried.
        let mut alone = SqliteState::open(&path).unwrap();
        let error = alone.record(&entry("L-4", "dora").as_entry()).unwrap_err();
        assert_eq!(error.kind, StateErrorKind::Failed, "{error}");
        let mut again = SqliteState::open(&path).unwrap();
        assert_eq!(read(&mut again, "L-3"), Some(entry("L-3", "anna")));
        assert_eq!(read(&mut again, "L-20"), Some(entry("L-20", "boris")));
        assert_eq!(read(&mut again, "L-4"), Some(entry("L-4", "anna")));
    }

    /// A row there already with one time missing (a lead time imported without its
    /// assignment, an assignment from before lead times were kept) gets the time a batch's
    /// assignment of the same lead and rep brings, and counts from then on.
    #[test]
    fn an_assignment_fills_in_the_time_its_row_lacked() {
        let path = scratch("half-rows");
        let mut state = SqliteState::open(&path).unwrap();
        let at = |text: &str| -> Timestamp { text.parse().unwrap() };
        let (morning, noon) = (at("2026-11-24T09:00:00Z"), at("2026-11-24T12:00:00Z"));
        let day = (at("2026-11-24T00:00:00Z"), at("2026-11-25T00:00:00Z"));
        Connection::open(&path)
            .unwrap()
            .execute_batch(&format!(
                "INSERT INTO assignments (lead_bytes, lead, rep, at_s, lead_s) VALUES \
                     (3, 'L-1', 'anna', NULL, {morning_s}), (3, 'L-2', 'anna', {noon_s}, NULL);",
                morning_s = morning.as_second(),
                noon_s = noon.as_second(),
            ))
            .unwrap();
        state.begin().unwrap();
        // What the rows say before: one lead in anna's load (L-2), none in her day (L-1's
        // time is there, but lead_counts was not counted for it: a migration or an import
        // counts it).
        assert_eq!(state.assigned("anna", None).unwrap(), 1);
        state.assign("anna", "L-1", noon, morning).unwrap();
        state.assign("anna", "L-2", noon, noon).unwrap();
        state.commit().unwrap();
        let rows: Vec<(String, Option<i64>, Option<i64>)> = Connection::open(&path)
            .unwrap()
            .prepare("SELECT lead, at_s, lead_s FROM assignments ORDER BY lead")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                (
                    "L-1".to_string(),
                    Some(noon.as_second()),
                    Some(morning.as_second())
                ),
                (
                    "L-2".to_string(),
                    Some(noon.as_second()),
                    Some(noon.as_second())
                ),
            ]
        );
        let mut again = SqliteState::open(&path).unwrap();
        again.begin().unwrap();
        assert_eq!(again.assigned("anna", None).unwrap(), 2);
        assert_eq!(again.assigned_in("anna", day.0, day.1).unwrap(), 2);
        again.rollback().unwrap();
    }

    #[test]
    fn assignments_are_written_at_commit_and_counted_once_per_lead_and_rep() {
        let path = scratch("assignments");
        let mut state = SqliteState::open(&path).unwrap();
        let at = |text: &str| -> Timestamp { text.parse().unwrap() };
        let (morning, noon) = (at("2026-11-24T09:00:00Z"), at("2026-11-24T12:00:00Z"));
        let day = (at("2026-11-24T00:00:00Z"), at("2026-11-25T00:00:00Z"));
        let rows = |table: &str| -> i64 {
            Connection::open(&path)
                .unwrap()
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                    row.get(0)
                })
                .unwrap()
        };
        // What `lead_counts` counts in all: one per lead and rep with a lead time.
        let counted = || -> i64 {
            Connection::open(&path)
                .unwrap()
                .query_row("SELECT sum(count) FROM lead_counts", [], |row| row.get(0))
                .unwrap()
        };
        state.begin().unwrap();
        state.assign("anna", "L-1", noon, morning).unwrap();
        // Counted first inside the batch: the batch's own assignment, not yet in the file.
        assert_eq!(state.assigned("anna", None).unwrap(), 1);
        assert_eq!(state.assigned_in("anna", day.0, day.1).unwrap(), 1);
        // Kept in the batch until its commit.
        assert_eq!(state.batch_assignments.rows.len(), 1);
        state.commit().unwrap();
        assert!(state.batch_assignments.rows.is_empty());
        assert_eq!(
            (
                rows("assignments WHERE at_s NOT NULL"),
                rows("assignments WHERE lead_s NOT NULL")
            ),
            (1, 1)
        );

        // L-1 handed to anna again (which routing never does) and L-2: the rows hold one each,
        // and so do the counts kept at commit.
        state.begin().unwrap();
        state.assign("anna", "L-1", noon, morning).unwrap();
        state.assign("anna", "L-2", noon, noon).unwrap();
        state.commit().unwrap();
        assert_eq!(
            (
                rows("assignments WHERE at_s NOT NULL"),
                rows("assignments WHERE lead_s NOT NULL")
            ),
            (2, 2)
        );
        let mut again = SqliteState::open(&path).unwrap();
        again.begin().unwrap();
        assert_eq!(again.assigned("anna", None).unwrap(), 2);
        assert_eq!(again.assigned_in("anna", day.0, day.1).unwrap(), 2);
        again.rollback().unwrap();
        assert_eq!(counted(), 2);

        // More than one statement's rows, one of them a lead anna had: counted once, and the
        // counts read before commit (cached with what the file held) end right too.
        state.begin().unwrap();
        assert_eq!(state.assigned("anna", None).unwrap(), 2);
        assert_eq!(state.assigned_in("anna", day.0, day.1).unwrap(), 2);
        for n in 100..170 {
            state
                .assign("boris", &format!("L-{n}"), noon, noon)
                .unwrap();
        }
        state.assign("anna", "L-2", noon, noon).unwrap();
        state.assign("anna", "L-4", noon, noon).unwrap();
        // Until the commit, L-2 counts again (routing never hands it to anna twice).
        assert_eq!(state.assigned("anna", None).unwrap(), 4);
        state.commit().unwrap();
        assert_eq!(
            (
                rows("assignments WHERE at_s NOT NULL"),
                rows("assignments WHERE lead_s NOT NULL")
            ),
            (73, 73)
        );
        let mut third = SqliteState::open(&path).unwrap();
        third.begin().unwrap();
        assert_eq!(third.assigned("anna", None).unwrap(), 3);
        assert_eq!(third.assigned_in("anna", day.0, day.1).unwrap(), 3);
        assert_eq!(third.assigned("boris", Some(noon)).unwrap(), 70);
        assert_eq!(third.assigned_in("boris", day.0, day.1).unwrap(), 70);
        third.rollback().unwrap();
        assert_eq!(counted(), 73);

        // A batch rolled back leaves no assignment behind.
        state.begin().unwrap();
        state.assign("boris", "L-3", noon, noon).unwrap();
        state.rollback().unwrap();
        state.begin().unwrap();
        state.commit().unwrap();
        assert_eq!(rows("assignments"), 73);
    }

    #[test]
    fn a_quarter_hour_begins_at_a_multiple_of_900_seconds_before_1970_too() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(899), 0);
        assert_eq!(bucket_of(900), 900);
        assert_eq!(bucket_of(-1), -900);
        assert_eq!(bucket_of(-900), -900);
        assert_eq!(bucket_of(-901), -1800);
    }

    #[test]
    fn an_import_writes_its_ledger_as_it_goes_and_all_or_nothing() {
        let rows = |count: usize, last: &str| {
            (0..count)
                .map(|n| format!("L-{n}"))
                .chain(std::iter::once(last.to_string()))
                .map(|lead| Ok(StateRow::Ledger(entry(&lead, "anna"))))
                .collect::<Vec<_>>()
        };
        let path = scratch("import");
        let mut state = SqliteState::open(&path).unwrap();
        // More entries than an import keeps before writing, and an id twice, past the first
        // write: refused, and nothing of it stays.
        let twice = rows(ROWS_AN_IMPORT_WRITES + 100, "L-7");
        let error = state.import(&mut twice.into_iter()).unwrap_err();
        assert!(error.to_string().contains("UNIQUE"), "{error}");
        assert_eq!(read(&mut state, "L-7"), None);
        let imported = state
            .import(&mut rows(ROWS_AN_IMPORT_WRITES + 100, "L-last").into_iter())
            .unwrap();
        assert!(imported > ROWS_AN_IMPORT_WRITES as u64, "{imported}");
        let mut again = SqliteState::open(&path).unwrap();
        for lead in ["L-0", "L-4095", "L-4096", "L-4195", "L-last"] {
            assert_eq!(read(&mut again, lead), Some(entry(lead, "anna")), "{lead}");
        }
        // As it goes: the entries an import keeps are written every ROWS_AN_IMPORT_WRITES.
        let path = scratch("import-as-it-goes");
        let mut state = SqliteState::open(&path).unwrap();
        state.connection.execute_batch("BEGIN IMMEDIATE").unwrap();
        for n in 0..=ROWS_AN_IMPORT_WRITES {
            state
                .record_imported(&entry(&format!("L-{n}"), "anna").as_entry())
                .unwrap();
        }
        assert_eq!(state.batch_ledger.len(), 1);
        let written: i64 = state
            .connection
            .query_row("SELECT count(*) FROM ledger", [], |row| row.get(0))
            .unwrap();
        assert_eq!(written, ROWS_AN_IMPORT_WRITES as i64);
        // A lead twice among the entries kept is refused at once, by name.
        let error = state
            .record_imported(&entry(&format!("L-{ROWS_AN_IMPORT_WRITES}"), "anna").as_entry())
            .unwrap_err();
        assert!(error.to_string().contains("`L-4096`"), "{error}");
        state.connection.execute_batch("ROLLBACK").unwrap();
    }

    #[test]
    fn a_batch_whose_transaction_sqlite_ended_is_not_written_at_commit() {
        let path = scratch("ended");
        let mut state = SqliteState::open(&path).unwrap();
        state.begin().unwrap();
        state.record(&entry("L-1", "anna").as_entry()).unwrap();
        state.set_rotation("senior", "anna").unwrap();
        // What SQLite does after a full disk or an I/O error.
        state.connection.execute_batch("ROLLBACK").unwrap();
        let error = state.commit().unwrap_err();
        assert!(
            error.to_string().contains("rolled back by SQLite"),
            "{error}"
        );
        let mut again = SqliteState::open(&path).unwrap();
        assert_eq!(read(&mut again, "L-1"), None);
        assert_eq!(again.rotation("senior").unwrap(), None);
        // Nor before a whole-ledger read inside the batch.
        state.begin().unwrap();
        state.record(&entry("L-9", "anna").as_entry()).unwrap();
        state.connection.execute_batch("ROLLBACK").unwrap();
        let error = state.each_lead(&mut |_, _| {}).unwrap_err();
        assert!(
            error.to_string().contains("rolled back by SQLite"),
            "{error}"
        );
        assert_eq!(read(&mut again, "L-9"), None);
        // The store goes on.
        state.begin().unwrap();
        state.record(&entry("L-2", "boris").as_entry()).unwrap();
        state.commit().unwrap();
        assert_eq!(read(&mut again, "L-2"), Some(entry("L-2", "boris")));
    }

    #[test]
    fn two_connections_on_one_file_share_the_names() {
        let path = scratch("two");
        let mut first = SqliteState::open(&path).unwrap();
        let mut second = SqliteState::open(&path).unwrap();
        first.begin().unwrap();
        first.record(&entry("L-1", "anna").as_entry()).unwrap();
        first.commit().unwrap();
        // The second learns anna's names when its batch begins, so boris's get the next ids.
        second.begin().unwrap();
        second.record(&entry("L-2", "boris").as_entry()).unwrap();
        second.commit().unwrap();
        // Outside a batch: its own transaction.
        first.record(&entry("L-3", "carla").as_entry()).unwrap();
        for state in [&mut first, &mut second] {
            assert_eq!(read(state, "L-1"), Some(entry("L-1", "anna")));
            assert_eq!(read(state, "L-2"), Some(entry("L-2", "boris")));
            assert_eq!(read(state, "L-3"), Some(entry("L-3", "carla")));
        }
        let mut leads = Vec::new();
        SqliteState::open(&path)
            .unwrap()
            .each_lead(&mut |recorded, _| leads.push(recorded))
            .unwrap();
        leads.sort_by(|a, b| a.decision.lead.cmp(&b.decision.lead));
        let reps = ["anna", "boris", "carla"];
        let expected: Vec<Recorded> = (1..=3)
            .map(|n| entry(&format!("L-{n}"), reps[n - 1]))
            .collect();
        assert_eq!(leads, expected);
    }

    #[test]
    fn entries_written_before_the_name_table_still_read() {
        let path = scratch("v7");
        drop(SqliteState::open(&path).unwrap());
        // The file as version 7 wrote it: no `names`, no `form`, names in full.
        let mut old = Vec::new();
        compact::encode_recorded(&entry("L-old", "anna").as_entry(), &mut old);
        let connection = Connection::open(&path).unwrap();
        connection
            .execute_batch(
                "DROP TABLE ledger; DROP TABLE names;
                 CREATE TABLE ledger (lead TEXT PRIMARY KEY, entry BLOB NOT NULL) WITHOUT ROWID;
                 PRAGMA user_version = 7;",
            )
            .unwrap();
        connection
            .execute(
                "INSERT INTO ledger (lead, entry) VALUES ('L-old', ?1)",
                params![old],
            )
            .unwrap();
        drop(connection);
        let mut state = SqliteState::open(&path).unwrap();
        assert_eq!(state.tables_version(), Some((7, SCHEMA_VERSION)));
        assert_eq!(read(&mut state, "L-old"), Some(entry("L-old", "anna")));
        state.record(&entry("L-new", "anna").as_entry()).unwrap();
        assert_eq!(
            exported_ledger(&mut state),
            vec![entry("L-new", "anna"), entry("L-old", "anna")]
        );
    }

    /// An entry with a due time and an escalation in its rep's zone: numbers a packed entry
    /// writes shorter.
    fn timed_entry(lead: &str, rep: &str) -> Recorded {
        let time = switchboard_core::model::time::LocalTime {
            instant: "2026-11-23T09:15:00.5Z".parse().unwrap(),
            offset: Some(jiff::tz::Offset::from_seconds(3600).unwrap()),
        };
        let mut recorded = entry(lead, rep);
        recorded.decision.due = Some(switchboard_core::route::decision::Due::At(time));
        recorded.decision.escalation = vec![switchboard_core::route::decision::Escalation {
            at: Some(time),
            to: "backup".into(),
        }];
        recorded.decided_at = "2026-11-23T09:00:00.123Z".parse().unwrap();
        recorded
    }

    /// Version 14 writes entries in `form` 3 (laid out relative); the `form` 1 entries of a
    /// version 11 file (numbers at full width) and the `form` 2 entries of a version 12 or 13
    /// file (packed) still read, next to new ones, and an entry in a form no build writes is
    /// named as unreadable, never misread.
    #[test]
    fn entries_of_every_earlier_form_still_read() {
        let path = scratch("v11-forms");
        let ids = ["L-1", "L-2", "L-3"];
        {
            let mut state = SqliteState::open(&path).unwrap();
            state.begin().unwrap();
            for id in ids {
                state.record(&timed_entry(id, "anna").as_entry()).unwrap();
            }
            state.commit().unwrap();
        }
        // The file as version 11 wrote it: the same entries in form 1.
        let connection = Connection::open(&path).unwrap();
        let forms = |connection: &Connection| -> Vec<(String, i64)> {
            connection
                .prepare("SELECT lead, form FROM ledger ORDER BY lead")
                .unwrap()
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let mut names = compact::NameTable::default();
        load_names(&connection, &mut names).unwrap();
        for id in ids {
            let relative: Vec<u8> = connection
                .query_row("SELECT entry FROM ledger WHERE lead = ?1", [id], |row| {
                    row.get(0)
                })
                .unwrap();
            let recorded =
                compact::decode_recorded_of(id, &relative, &names, ENTRY_LAYOUT).unwrap();
            assert_eq!(recorded, timed_entry(id, "anna"));
            let known = names.len();
            let in_layout = |layout, names: &mut compact::NameTable| {
                let mut bytes = Vec::new();
                compact::encode_recorded_interned(&recorded.as_entry(), &mut bytes, names, layout);
                bytes
            };
            let fixed = in_layout(compact::Layout::Fixed, &mut names);
            let packed = in_layout(compact::Layout::Packed, &mut names);
            assert_eq!(names.len(), known);
            // Due, escalation: 17 bytes each instead of 13 (a fraction of a second takes 4
            // bytes either way); the routing time 12 instead of 10, the lead's own time
            // (1970, no fraction) 12 instead of 6.
            assert_eq!(fixed.len() - packed.len(), 4 + 4 + 2 + 6);
            // Relative: no lead id (4 bytes); one byte of parts for the fingerprint's and the
            // trace's two (1); the due time 56 years after the lead's, 5 bytes instead of 6,
            // its offset 1 instead of 3 (3); the escalation at the same time, 1 byte instead of
            // 9, its offset the same (8); the routing time 15 minutes before it, 2 bytes
            // instead of 6 (4); the candidate's flags and load tag one byte, its owner's none
            // (2). Each fraction of a second keeps its 4 bytes.
            assert_eq!(packed.len() - relative.len(), 4 + 1 + 3 + 8 + 4 + 2);
            // L-3 as version 12 and 13 wrote it (packed), the others as version 11 did.
            let (entry, form) = if id == "L-3" { (packed, 2) } else { (fixed, 1) };
            connection
                .execute(
                    "UPDATE ledger SET entry = ?1, form = ?2 WHERE lead = ?3",
                    params![entry, form, id],
                )
                .unwrap();
        }
        connection
            .execute_batch("PRAGMA user_version = 11")
            .unwrap();
        let mut state = reopened_at(&path, 11, &ids, |id| timed_entry(id, "anna"));
        // Read ahead in a batch, the way `route` looks its leads up, and a new entry beside.
        state.begin().unwrap();
        state.read_ahead(&["L-1", "L-4"]).unwrap();
        assert_eq!(read(&mut state, "L-1"), Some(timed_entry("L-1", "anna")));
        state
            .record(&timed_entry("L-4", "boris").as_entry())
            .unwrap();
        state.commit().unwrap();
        let mut expected: Vec<Recorded> = ids.iter().map(|id| timed_entry(id, "anna")).collect();
        expected.push(timed_entry("L-4", "boris"));
        assert_eq!(exported_ledger(&mut state), expected);
        drop(state);
        let stored = forms(&connection);
        let stored: Vec<(&str, i64)> = stored.iter().map(|(id, form)| (&**id, *form)).collect();
        assert_eq!(
            stored,
            [("L-1", 1), ("L-2", 1), ("L-3", 2), ("L-4", ENTRY_FORM)]
        );
        // A form no build writes.
        connection
            .execute("UPDATE ledger SET form = 4 WHERE lead = 'L-2'", [])
            .unwrap();
        let mut state = SqliteState::open(&path).unwrap();
        let error = state.recorded("L-2").unwrap_err();
        assert_eq!(error.kind, StateErrorKind::Corrupt);
        assert!(
            error.message.contains("`L-2`") && error.message.contains("(4)"),
            "{}",
            error.message
        );
        assert_eq!(read(&mut state, "L-3"), Some(timed_entry("L-3", "anna")));
    }

    #[test]
    fn a_version_10_ledger_is_keyed_again_by_length_then_id() {
        let path = scratch("v10");
        let ids = ["L-100", "L-9", "Ł-1", "L-10"];
        {
            let mut state = SqliteState::open(&path).unwrap();
            state.begin().unwrap();
            for id in ids {
                state.record(&entry(id, "anna").as_entry()).unwrap();
            }
            state.commit().unwrap();
        }
        // The file as version 10 wrote it: the ledger keyed by the id alone.
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "CREATE TABLE old (lead TEXT PRIMARY KEY, entry BLOB NOT NULL,
                     form INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
                 INSERT INTO old SELECT lead, entry, form FROM ledger;
                 DROP TABLE ledger; ALTER TABLE old RENAME TO ledger;
                 PRAGMA user_version = 10;",
            )
            .unwrap();
        let mut state = reopened_at(&path, 10, &ids, |id| entry(id, "anna"));
        // Read ahead in a batch, the way `route` looks its leads up.
        state.begin().unwrap();
        state.read_ahead(&["L-10", "L-11", "Ł-1"]).unwrap();
        assert_eq!(read(&mut state, "L-10"), Some(entry("L-10", "anna")));
        assert_eq!(read(&mut state, "L-11"), None);
        assert_eq!(read(&mut state, "Ł-1"), Some(entry("Ł-1", "anna")));
        state.record(&entry("L-11", "boris").as_entry()).unwrap();
        state.commit().unwrap();
        drop(state);
        // In the tree: by length in bytes (`Ł` is two), then by id.
        let connection = Connection::open(&path).unwrap();
        let keys: Vec<(i64, String)> = connection
            .prepare("SELECT lead_bytes, lead FROM ledger")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let keys: Vec<(i64, &str)> = keys.iter().map(|(n, id)| (*n, id.as_str())).collect();
        assert_eq!(
            keys,
            [
                (3, "L-9"),
                (4, "L-10"),
                (4, "L-11"),
                (4, "Ł-1"),
                (5, "L-100")
            ]
        );
        // An export is still in id order.
        let exported: Vec<String> = exported_ledger(&mut SqliteState::open(&path).unwrap())
            .into_iter()
            .map(|recorded| recorded.decision.lead.to_string())
            .collect();
        assert_eq!(exported, ["L-10", "L-100", "L-11", "L-9", "Ł-1"]);
    }

    #[test]
    fn a_damaged_name_table_is_said() {
        let path = scratch("damaged");
        let mut state = SqliteState::open(&path).unwrap();
        state.record(&entry("L-1", "anna").as_entry()).unwrap();
        Connection::open(&path)
            .unwrap()
            .execute_batch("UPDATE names SET id = id + 10")
            .unwrap();
        let damaged = "state database: the table of names is damaged at id 10";
        let mut again = SqliteState::open(&path).unwrap();
        let error = again.recorded("L-1").unwrap_err();
        assert_eq!(error.kind, StateErrorKind::Corrupt);
        assert_eq!(error.message, damaged);
        // Routing on it stops at the first batch, with the same words.
        let error = again.begin().unwrap_err();
        assert_eq!(error.kind, StateErrorKind::Corrupt);
        assert_eq!(error.message, damaged);
    }

    #[test]
    fn a_batch_of_first_steps_reads_back_whole_and_damaged_bytes_are_refused() {
        let mut due = PendingDue::default();
        let noon = "2026-11-23T12:00:00Z".parse::<Timestamp>().unwrap();
        let before_1970 = "1969-07-20T20:17:40.5Z".parse::<Timestamp>().unwrap();
        due.push("L-1", noon);
        due.push("", noon);
        due.push("лид-ä", before_1970);
        let mut bytes = Vec::new();
        put_steps(&due, &mut bytes);
        let mut read = Vec::new();
        assert_eq!(read_steps(&bytes, &mut read), Some(()));
        assert_eq!(
            read,
            [
                (nanos(noon), "L-1".to_string()),
                (nanos(noon), String::new()),
                (nanos(before_1970), "лид-ä".to_string()),
            ]
        );
        // Cut anywhere inside a step, or an id that is not UTF-8: refused.
        for end in 1..bytes.len() {
            let whole_steps = [0, 15, 27];
            if !whole_steps.contains(&end) {
                assert_eq!(read_steps(&bytes[..end], &mut Vec::new()), None, "{end}");
            }
        }
        let mut not_text = bytes.clone();
        not_text[12] = 0xff;
        assert_eq!(read_steps(&not_text, &mut Vec::new()), None);
        // A damaged row stops a sweep, and an export, with its batch named: nothing of it is
        // dropped unsaid.
        let path = scratch("damaged-steps");
        let mut state = SqliteState::open(&path).unwrap();
        state.begin().unwrap();
        state.record(&entry("L-1", "anna").as_entry()).unwrap();
        state.commit().unwrap();
        state
            .connection
            .execute(
                "INSERT INTO pending_due_steps (batch, steps) VALUES (7, ?1)",
                params![&bytes[..20]],
            )
            .unwrap();
        let damaged = "state database: the escalation steps scheduled by batch 7 are damaged \
                       (table `pending_due_steps`)";
        let error = state.due(noon, 10).unwrap_err();
        assert_eq!(
            (error.kind, error.message.as_str()),
            (StateErrorKind::Corrupt, damaged)
        );
        let error = state.export(&mut |_| Ok(())).unwrap_err();
        assert_eq!(
            (error.kind, error.message.as_str()),
            (StateErrorKind::Corrupt, damaged)
        );
    }

    #[test]
    fn steps_a_version_12_file_kept_a_row_each_are_due_once_it_is_opened() {
        let path = scratch("due-steps-v12");
        drop(SqliteState::open(&path).unwrap());
        {
            let connection = Connection::open(&path).unwrap();
            connection
                .execute_batch(
                    "DROP TABLE pending_due_steps;
                     CREATE TABLE pending_due (at_ns INTEGER NOT NULL, lead TEXT NOT NULL);
                     INSERT INTO pending_due VALUES (2000, 'L-2'), (1000, 'L-1'), (1000, 'L-1');
                     INSERT INTO due VALUES (1500, 'L-0');
                     PRAGMA user_version = 12;",
                )
                .unwrap();
        }
        let mut state = SqliteState::open(&path).unwrap();
        assert_eq!(state.tables_version(), Some((12, SCHEMA_VERSION)));
        let gone: i64 = state
            .connection
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'pending_due'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(gone, 0);
        let due: Vec<(String, i64)> = state
            .due(Timestamp::MAX, 10)
            .unwrap()
            .into_iter()
            .map(|(lead, at)| (lead, nanos(at)))
            .collect();
        assert_eq!(
            due,
            [
                ("L-1".to_string(), 1000),
                ("L-0".to_string(), 1500),
                ("L-2".to_string(), 2000)
            ]
        );
    }

    #[test]
    fn first_steps_are_due_after_their_batch_commits_and_never_after_a_rollback_or_a_failure() {
        let path = scratch("due-steps");
        let mut state = SqliteState::open(&path).unwrap();
        let now = "2026-11-23T12:00:00Z".parse::<Timestamp>().unwrap();
        // Routing's schedule of a lead's first step.
        let first_step = |state: &mut SqliteState, lead: &str, at: &str| {
            state.schedule(lead, None, Some(at.parse::<Timestamp>().unwrap()))
        };
        let due = |state: &mut SqliteState| -> Vec<String> {
            state
                .due(now, 10)
                .unwrap()
                .into_iter()
                .map(|(lead, _)| lead)
                .collect()
        };
        // A committed batch: its steps are due, in time order.
        state.begin().unwrap();
        first_step(&mut state, "L-2", "2026-11-23T10:30:00Z").unwrap();
        first_step(&mut state, "L-1", "2026-11-23T10:15:00Z").unwrap();
        state.commit().unwrap();
        assert_eq!(due(&mut state), ["L-1", "L-2"]);
        // A rolled-back batch: its steps are not.
        state.begin().unwrap();
        first_step(&mut state, "L-3", "2026-11-23T10:00:00Z").unwrap();
        state.rollback().unwrap();
        assert_eq!(due(&mut state), ["L-1", "L-2"]);
        // Read inside the batch that scheduled it, a step is due already.
        state.begin().unwrap();
        first_step(&mut state, "L-4", "2026-11-23T10:05:00Z").unwrap();
        assert_eq!(due(&mut state), ["L-4", "L-1", "L-2"]);
        state.commit().unwrap();
        // Outside a batch, a step that cannot be written is an error and is not kept for a
        // later write.
        state
            .connection
            .execute_batch("ALTER TABLE pending_due_steps RENAME TO pending_due_away")
            .unwrap();
        let error = first_step(&mut state, "L-5", "2026-11-23T09:00:00Z").unwrap_err();
        assert!(
            error.message.contains("pending_due_steps"),
            "{}",
            error.message
        );
        state
            .connection
            .execute_batch("ALTER TABLE pending_due_away RENAME TO pending_due_steps")
            .unwrap();
        first_step(&mut state, "L-6", "2026-11-23T09:30:00Z").unwrap();
        assert_eq!(due(&mut state), ["L-6", "L-4", "L-1", "L-2"]);
        // A batch of 150 steps (two full statements and a remainder), one a minute from 06:00
        // in reverse order: all due, earliest first.
        state.begin().unwrap();
        for minute in (0..150).rev() {
            let at = format!("2026-11-23T{:02}:{:02}:00Z", 6 + minute / 60, minute % 60);
            first_step(&mut state, &format!("M-{minute}"), &at).unwrap();
        }
        state.commit().unwrap();
        let all: Vec<String> = state
            .due(now, 1000)
            .unwrap()
            .into_iter()
            .map(|(lead, _)| lead)
            .collect();
        let expected: Vec<String> = (0..150)
            .map(|minute| format!("M-{minute}"))
            .chain(["L-6", "L-4", "L-1", "L-2"].map(String::from))
            .collect();
        assert_eq!(all, expected);
    }

    /// A state whose commits are handed over: one batch decided and committed by the store
    /// itself first (what it keeps in memory is then known to be current), then the writer.
    fn handed(path: &Path) -> (SqliteState, Box<dyn BatchWriter>) {
        let mut state = SqliteState::open(path).unwrap();
        assert!(
            state.hand_over_commits().unwrap().is_none(),
            "nothing is kept in memory before a batch"
        );
        state.begin().unwrap();
        state.rotation("desk").unwrap();
        state.set_rotation("desk", "1").unwrap();
        state.record(&entry("H-0", "anna").as_entry()).unwrap();
        state.commit().unwrap();
        let writer = state.hand_over_commits().unwrap().expect("handed over");
        (state, writer)
    }

    /// `PRAGMA synchronous` of a handed writer's connection: 2 `FULL`, 1 `NORMAL`.
    #[cfg(unix)]
    fn synchronous(writer: &SqliteWriter) -> i64 {
        writer
            .connection
            .query_row("PRAGMA synchronous", [], |row| row.get(0))
            .unwrap()
    }

    #[cfg(unix)]
    #[test]
    fn a_writer_leaves_syncing_to_its_syncer_only_once_that_is_asked_for() {
        use std::os::unix::fs::MetadataExt;
        let path = scratch("synced-apart");
        let (mut state, writer) = handed(&path);
        let mut writer = writer.into_any().downcast::<SqliteWriter>().unwrap();
        // Until a syncer is asked for, every commit is durable as it answers.
        assert_eq!(synchronous(&writer), 2);
        let mut syncer = writer.syncer().expect("a file in WAL mode has a syncer");
        assert_eq!(synchronous(&writer), 1);
        // The syncer's file is the state's WAL, named after the path SQLite opened.
        let wal = WalSyncer::open(&writer.connection).unwrap();
        let named = std::fs::metadata(format!("{}-wal", path.display())).unwrap();
        let opened = wal.wal.metadata().unwrap();
        assert_eq!((opened.dev(), opened.ino()), (named.dev(), named.ino()));
        state.begin().unwrap();
        state.record(&entry("H-1", "anna").as_entry()).unwrap();
        state.commit().unwrap();
        writer.commit_next().unwrap();
        syncer.sync().unwrap();
        // Given back and handed over again, the writer commits with `FULL` until its syncer is
        // asked for (the hand-over sets it).
        state.take_back_commits(writer, false).unwrap();
        state.begin().unwrap();
        state.record(&entry("H-2", "anna").as_entry()).unwrap();
        state.commit().unwrap();
        let again = state
            .hand_over_commits()
            .unwrap()
            .expect("handed over again");
        let again = again.into_any().downcast::<SqliteWriter>().unwrap();
        assert_eq!(synchronous(&again), 2);
        // A connection not in WAL mode has no syncer to leave syncing to.
        assert!(WalSyncer::open(&Connection::open_in_memory().unwrap()).is_none());
        state.take_back_commits(again, false).unwrap();
    }

    #[test]
    fn handed_batches_are_copied_from_the_wal_into_the_file_by_the_checkpointing_thread() {
        let path = scratch("checkpointed");
        let (mut state, mut writer) = handed(&path);
        for batch in 1..=BATCHES_A_CHECKPOINT {
            state.begin().unwrap();
            state
                .record(&entry(&format!("H-{batch}"), "anna").as_entry())
                .unwrap();
            state.commit().unwrap();
            writer.commit_next().unwrap();
        }
        // Taking the writer back keeps its checkpointer, which has not stopped.
        state.take_back_commits(writer, false).unwrap();
        let checkpointer = state.spare_checkpointer.take().expect("kept");
        // Dropping it waits for the checkpoint asked at the writer's last commit.
        drop(checkpointer);
        // The file alone, without its WAL (`immutable`), and with the store still open (so
        // that closing it has not checkpointed): every batch is in it.
        let uri_path = path
            .to_str()
            .unwrap()
            .replace('%', "%25")
            .replace('?', "%3f")
            .replace('#', "%23");
        let file = Connection::open_with_flags(
            format!("file:{uri_path}?immutable=1"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
        )
        .unwrap();
        let rows: i64 = file
            .query_row("SELECT count(*) FROM ledger", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 1 + i64::from(BATCHES_A_CHECKPOINT));
        drop(state);
    }

    #[test]
    fn handed_batches_are_committed_by_the_writer_and_refused_after_another_write() {
        let path = scratch("handed");
        let (mut state, mut writer) = handed(&path);
        // Decided on what the store keeps: the rotation read before.
        state.begin().unwrap();
        assert_eq!(state.rotation("desk").unwrap().as_deref(), Some("1"));
        state.set_rotation("desk", "2").unwrap();
        state.record(&entry("H-1", "anna").as_entry()).unwrap();
        state
            .assign("anna", "H-1", Timestamp::UNIX_EPOCH, Timestamp::UNIX_EPOCH)
            .unwrap();
        state.commit().unwrap();
        // The next batch is decided before the writer commits the last one.
        state.begin().unwrap();
        assert_eq!(state.rotation("desk").unwrap().as_deref(), Some("2"));
        state.set_rotation("desk", "3").unwrap();
        // New names: the writer writes them with the entries.
        state.record(&entry("H-2", "boris").as_entry()).unwrap();
        state.commit().unwrap();
        writer.commit_next().unwrap();
        writer.commit_next().unwrap();
        let mut other = SqliteState::open(&path).unwrap();
        assert!(read(&mut other, "H-1").is_some());
        assert_eq!(read(&mut other, "H-2"), Some(entry("H-2", "boris")));
        assert_eq!(other.rotation("desk").unwrap().as_deref(), Some("3"));
        assert_eq!(other.assigned("anna", None).unwrap(), 1);
        // Another router writes; the handed batch after it is refused, and so written nowhere.
        other.begin().unwrap();
        other.set_rotation("desk", "9").unwrap();
        other.commit().unwrap();
        state.begin().unwrap();
        assert_eq!(state.rotation("desk").unwrap().as_deref(), Some("3"));
        state.set_rotation("desk", "4").unwrap();
        state.record(&entry("H-3", "chen").as_entry()).unwrap();
        state.commit().unwrap();
        let refused = writer.commit_next().unwrap_err();
        assert_eq!(refused.kind, StateErrorKind::Conflict, "{refused}");
        assert!(read(&mut other, "H-3").is_none());
        // Taken back after a refusal, the store forgets what it kept (the refused batch's
        // names too) and reads the file.
        state.take_back_commits(writer, true).unwrap();
        state.begin().unwrap();
        assert_eq!(state.rotation("desk").unwrap().as_deref(), Some("9"));
        assert!(read(&mut state, "H-3").is_none());
        state.record(&entry("H-4", "dana").as_entry()).unwrap();
        state.commit().unwrap();
        assert_eq!(read(&mut other, "H-4"), Some(entry("H-4", "dana")));
    }

    #[test]
    fn while_handed_over_what_only_the_file_knows_needs_the_writer_back() {
        let path = scratch("handed-reads");
        let (mut state, mut writer) = handed(&path);
        let day = Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_hours(24);
        // A batch assigns anna a lead of the first day; it is handed over, not yet committed.
        state.begin().unwrap();
        state.record(&entry("H-1", "anna").as_entry()).unwrap();
        state
            .assign("anna", "H-1", Timestamp::UNIX_EPOCH, Timestamp::UNIX_EPOCH)
            .unwrap();
        state.commit().unwrap();
        state.begin().unwrap();
        let needs = |result: Result<(), StateError>| {
            assert_eq!(result.unwrap_err().kind, StateErrorKind::NeedsLock);
        };
        // The file lacks what the handed batch did to anna's counts.
        needs(state.assigned("anna", None).map(drop));
        needs(
            state
                .assigned_in("anna", Timestamp::UNIX_EPOCH, day)
                .map(drop),
        );
        // Counts it could not change are read from the file.
        assert_eq!(state.assigned("boris", None).unwrap(), 0);
        let next_day = day + jiff::SignedDuration::from_hours(24);
        assert_eq!(state.assigned_in("anna", day, next_day).unwrap(), 0);
        needs(state.rotation("another").map(drop));
        needs(state.recorded("H-0").map(drop));
        needs(
            state
                .previous_rep("email", "a@b", "H-9", Timestamp::MIN, Timestamp::MAX)
                .map(drop),
        );
        state.rollback().unwrap();
        // Once the writer committed it, the file has it.
        writer.commit_next().unwrap();
        state.begin().unwrap();
        assert_eq!(state.assigned("anna", None).unwrap(), 1);
        assert_eq!(
            state
                .assigned_in("anna", Timestamp::UNIX_EPOCH, day)
                .unwrap(),
            1
        );
        state.rollback().unwrap();
        // Taken back (after a batch rolled back while handed, which forgot what the store
        // kept), it reads the file again: the rotation and the entries the writer committed.
        state.take_back_commits(writer, false).unwrap();
        state.begin().unwrap();
        assert_eq!(state.rotation("desk").unwrap().as_deref(), Some("1"));
        assert!(read(&mut state, "H-1").is_some() && read(&mut state, "H-10").is_none());
        state.rollback().unwrap();
    }

    #[test]
    fn a_lead_in_the_ledger_met_inside_a_many_row_insert_leaves_nothing_of_its_batch() {
        // The ledger's rows go in with `INSERT OR FAIL`, many rows a statement, so that SQLite
        // keeps no statement journal (a copy of every page a statement changes that the batch
        // changed before): a refused row leaves the rows before it in the statement, and the
        // batch's rollback takes them all out.
        let path = scratch("refused-mid-statement");
        let mut first = SqliteState::open(&path).unwrap();
        first.begin().unwrap();
        first.record(&entry("B-0100", "anna").as_entry()).unwrap();
        first.commit().unwrap();
        let ids: Vec<String> = (0..(ROWS_A_STATEMENT * 3).max(IDS_TO_ASSUME))
            .map(|n| format!("B-{n:04}"))
            .collect();
        let asked: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut router = SqliteState::open(&path).unwrap();
        router.begin().unwrap();
        router.read_ahead(&asked).unwrap();
        assert!(
            router.assumption.taken,
            "a batch this large is taken for new"
        );
        for id in &ids {
            router.record(&entry(id, "boris").as_entry()).unwrap();
        }
        let refused = router.commit().unwrap_err();
        assert_eq!(refused.kind, StateErrorKind::Conflict, "{refused}");
        router.rollback().unwrap();
        let other = Connection::open(&path).unwrap();
        let rows: i64 = other
            .query_row("SELECT count(*) FROM ledger", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 1, "only the lead committed before");
        router.begin().unwrap();
        assert_eq!(read(&mut router, "B-0100"), Some(entry("B-0100", "anna")));
        assert_eq!(read(&mut router, "B-0099"), None);
        router.rollback().unwrap();
    }

    #[test]
    fn a_lead_taken_for_new_and_found_by_the_writer_turns_the_store_to_reading_first() {
        let path = scratch("handed-taken");
        let (mut state, mut writer) = handed(&path);
        let ids: Vec<String> = (0..IDS_TO_ASSUME).map(|n| format!("H-{n}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        state.begin().unwrap();
        state.read_ahead(&ids).unwrap();
        // H-0 is recorded, but the batch took every id for new without reading.
        assert!(read(&mut state, "H-0").is_none());
        state.record(&entry("H-0", "anna").as_entry()).unwrap();
        state.commit().unwrap();
        let refused = writer.commit_next().unwrap_err();
        assert_eq!(refused.kind, StateErrorKind::Conflict, "{refused}");
        state.take_back_commits(writer, true).unwrap();
        state.begin().unwrap();
        state.read_ahead(&ids).unwrap();
        assert!(read(&mut state, "H-0").is_some(), "read ahead this time");
        state.rollback().unwrap();
    }

    #[test]
    fn a_load_kept_in_memory_counts_by_whole_seconds_as_the_file_does() {
        let path = scratch("seconds");
        let mut state = SqliteState::open(&path).unwrap();
        let second = Timestamp::from_second(1_000).unwrap();
        let at = second + jiff::SignedDuration::from_millis(200);
        // A roster's `as_of` after the routing time, in the same second.
        let since = Some(second + jiff::SignedDuration::from_millis(500));
        state.begin().unwrap();
        assert_eq!(state.assigned("anna", since).unwrap(), 0);
        state.record(&entry("S-1", "anna").as_entry()).unwrap();
        state.assign("anna", "S-1", at, at).unwrap();
        let kept = state.assigned("anna", since).unwrap();
        state.commit().unwrap();
        state.begin().unwrap();
        let read = state.assigned("anna", since).unwrap();
        state.rollback().unwrap();
        assert_eq!(
            (kept, read),
            (1, 1),
            "kept in memory, then read from the file"
        );
    }
}
