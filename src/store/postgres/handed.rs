//! A PostgreSQL router's commits on a thread of their own (`route` on two threads,
//! [`StateStore::hand_over_commits`]): while the writer commits one batch on a second
//! connection, the next is decided on what the store keeps in memory from batch to batch
//! (every pool's rotation, every rep's total), and the batch is handed to the writer in turn.
//!
//! Correct by one number: the gate's generation, which every transaction that writes
//! rotations, assignments, lead times or reps' totals adds one to, under the gate. The memory
//! is read with the generation in one snapshot; the writer takes the gate for each batch and
//! commits it only when the generation is the one its last commit (or the snapshot) left, so
//! nobody else wrote shared rows in between. Else the batch is refused
//! ([`StateErrorKind::Conflict`]) and decided again once the store commits its own batches
//! again. A lead that another router (or a batch still in flight) recorded meanwhile fails the
//! ledger's key in the writer's insert: refused the same way.
//!
//! [`StateStore::hand_over_commits`]: switchboard_core::route::state::StateStore::hand_over_commits

use super::{
    Assignment, BatchRows, HashMap, HashSet, SEND_NEW, SEND_TOLERANT, failure_at, refused_row,
};
use postgres::{Client, Statement};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use switchboard_core::route::state::{BatchWriter, StateError, StateErrorKind};

/// What the store decides on while its commits are handed over.
pub(super) struct Handed {
    /// Where each batch goes, in order.
    batches: mpsc::Sender<HandedBatch>,
    /// Every pool's rotation (`None`: not turned yet) as of the last batch handed over. A pool
    /// with no row is not here: its first turn is decided by the store itself.
    pub(super) rotations: HashMap<String, Option<String>>,
    /// Every rep's total as of the last batch handed over (no row: none).
    pub(super) totals: HashMap<String, u64>,
    /// Per batch handed over and perhaps not committed yet: its number and the reps it
    /// assigned a lead.
    in_flight: VecDeque<(u64, HashSet<String>)>,
    /// How many batches were handed over, and how many the writer committed (it counts).
    handed_count: u64,
    committed: Arc<AtomicU64>,
}

/// One batch's writes, for the writer.
pub(super) struct HandedBatch {
    pub(super) ledger: Vec<(String, Vec<u8>)>,
    pub(super) due: Vec<(i64, String)>,
    pub(super) assignments: Vec<Assignment>,
    /// The rotations it turned: (pool, state).
    pub(super) rotated: Vec<(String, String)>,
    /// Whether every assignment and due step is of a lead whose ledger entry is in the batch
    /// (else rows already there are tolerated, as the store's own batches do).
    pub(super) of_new_leads: bool,
}

impl HandedBatch {
    fn is_empty(&self) -> bool {
        self.ledger.is_empty()
            && self.due.is_empty()
            && self.assignments.is_empty()
            && self.rotated.is_empty()
    }
}

/// What one snapshot of the database says: the gate's generation, every rotation and every
/// rep's total.
pub(super) struct Snapshot {
    pub(super) generation: i64,
    pub(super) rotations: HashMap<String, Option<String>>,
    pub(super) totals: HashMap<String, u64>,
}

/// Begins a transaction and takes the gate in one round trip (locked first, so that a session
/// waiting for it has written nothing yet), its generation moved on when `moves` (the batch
/// writes rotations or assignments): answers the generation then (`None`: the gate has no row).
fn begin_at_the_gate(client: &mut Client, moves: bool) -> Result<Option<i64>, postgres::Error> {
    let answered = client.simple_query(if moves {
        "BEGIN; SELECT gate_key FROM gate WHERE gate_key = 1 FOR UPDATE; \
         UPDATE gate SET generation = generation + 1 WHERE gate_key = 1 RETURNING generation"
    } else {
        "BEGIN; SELECT generation FROM gate WHERE gate_key = 1 FOR UPDATE"
    })?;
    Ok(answered.iter().rev().find_map(|message| match message {
        postgres::SimpleQueryMessage::Row(row) => row.get(0)?.parse().ok(),
        _ => None,
    }))
}

/// Reads a [`Snapshot`] in one read-only transaction (repeatable read: one moment for the
/// three statements).
pub(super) fn snapshot(client: &mut Client) -> Result<Option<Snapshot>, postgres::Error> {
    let mut transaction = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let Some(generation) = transaction
        .query_opt("SELECT generation FROM gate WHERE gate_key = 1", &[])?
        .map(|row| row.get::<_, i64>(0))
    else {
        return Ok(None);
    };
    let rotations = transaction
        .query("SELECT pool, state FROM rotations", &[])?
        .iter()
        .map(|row| {
            let state: String = row.get(1);
            (row.get(0), Some(state).filter(|state| !state.is_empty()))
        })
        .collect();
    let totals = transaction
        .query("SELECT rep, total FROM rep_totals", &[])?
        .iter()
        .map(|row| (row.get(0), u64::try_from(row.get::<_, i64>(1)).unwrap_or(0)))
        .collect();
    transaction.commit()?;
    Ok(Some(Snapshot {
        generation,
        rotations,
        totals,
    }))
}

impl Handed {
    /// Hands the commits to a writer on `client` from `snapshot`: the store's memory and the
    /// writer's starting generation.
    pub(super) fn start(
        client: Client,
        place: &str,
        snapshot: Snapshot,
    ) -> (Handed, Box<dyn BatchWriter>) {
        let (batches, handed) = mpsc::channel();
        let committed = Arc::new(AtomicU64::new(0));
        let writer = PostgresWriter {
            client,
            place: place.to_string(),
            generation: snapshot.generation,
            handed,
            committed: Arc::clone(&committed),
            handed_before: 0,
            statements: [None, None],
            broken: false,
        };
        let handed = Handed {
            batches,
            rotations: snapshot.rotations,
            totals: snapshot.totals,
            in_flight: VecDeque::new(),
            handed_count: 0,
            committed,
        };
        (handed, Box::new(writer))
    }

    /// Hands a decided batch to the writer; what it turned and assigned is kept in memory.
    pub(super) fn hand(
        &mut self,
        batch: HandedBatch,
        totals: impl Iterator<Item = (String, u64)>,
    ) -> Result<(), StateError> {
        for (pool, state) in &batch.rotated {
            self.rotations.insert(pool.clone(), Some(state.clone()));
        }
        self.totals.extend(totals);
        let reps = batch
            .assignments
            .iter()
            .map(|assignment| assignment.rep.clone())
            .collect();
        self.handed_count += 1;
        self.in_flight.push_back((self.handed_count, reps));
        self.batches.send(batch).map_err(|_| {
            StateError::new(
                StateErrorKind::Failed,
                "internal error: the writer of the state's batches has stopped",
            )
        })
    }

    /// Whether a batch handed over and not committed yet assigned `rep` a lead: then the
    /// database's counts of the rep lack it.
    pub(super) fn may_change(&mut self, rep: &str) -> bool {
        let committed = self.committed.load(Ordering::Acquire);
        while self
            .in_flight
            .front()
            .is_some_and(|(number, _)| *number <= committed)
        {
            self.in_flight.pop_front();
        }
        self.in_flight.iter().any(|(_, reps)| reps.contains(rep))
    }
}

/// Commits a [`super::PostgresState`]'s batches on a connection of its own, on another thread:
/// each batch in one transaction that takes the gate first and is refused when the gate's
/// generation is not the one this writer last left.
pub(super) struct PostgresWriter {
    pub(super) client: Client,
    place: String,
    /// The gate's generation as of the last commit (or the snapshot).
    generation: i64,
    handed: mpsc::Receiver<HandedBatch>,
    committed: Arc<AtomicU64>,
    handed_before: u64,
    /// [`SEND_NEW`] and [`SEND_TOLERANT`], prepared on this connection when first used.
    statements: [Option<Statement>; 2],
    /// Set when a failed batch could not be rolled back: the connection is not reused.
    pub(super) broken: bool,
}

impl PostgresWriter {
    fn failure(&self, error: &postgres::Error) -> StateError {
        failure_at(&self.place, error)
    }

    /// The gate's generation as of this writer's last commit (or the snapshot).
    pub(super) fn generation(&self) -> i64 {
        self.generation
    }

    /// A failure before the commit: nothing of the batch is written. A conflict, or the
    /// server away, and the store decides the batch again on its own connection (which
    /// connects again); any other failure stops the run, as on one thread.
    fn not_written(&self, error: &postgres::Error) -> StateError {
        let failure = self.failure(error);
        match failure.kind {
            StateErrorKind::Unavailable => StateError::new(
                StateErrorKind::Conflict,
                format!("{} (the batch is decided again)", failure.message),
            ),
            _ => failure,
        }
    }

    /// Writes a batch in a transaction of its own and commits it.
    fn write(&mut self, batch: &mut HandedBatch) -> Result<(), StateError> {
        let moves = !batch.assignments.is_empty() || !batch.rotated.is_empty();
        let generation = begin_at_the_gate(&mut self.client, moves)
            .map_err(|error| self.not_written(&error))?
            .ok_or_else(|| gate_without_row(&self.place))?;
        if generation != self.generation + i64::from(moves) {
            return Err(StateError::new(
                StateErrorKind::Conflict,
                "state database: another router wrote to it since this run's last batch",
            ));
        }
        let which = usize::from(!batch.of_new_leads);
        let statement = match &self.statements[which] {
            Some(statement) => statement.clone(),
            None => {
                let sql = if batch.of_new_leads {
                    SEND_NEW
                } else {
                    SEND_TOLERANT
                };
                let statement = self
                    .client
                    .prepare(sql)
                    .map_err(|error| self.not_written(&error))?;
                self.statements[which] = Some(statement.clone());
                statement
            }
        };
        batch.ledger.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut rotated: Vec<(&str, &str)> = batch
            .rotated
            .iter()
            .map(|(pool, state)| (pool.as_str(), state.as_str()))
            .collect();
        rotated.sort_unstable();
        let rows = BatchRows {
            ledger: &batch.ledger,
            due: &batch.due,
            assignments: &batch.assignments,
            rotated: &rotated,
        };
        if let Err(error) = rows.send(&mut self.client, &statement, batch.of_new_leads) {
            return Err(match refused_row(&error) {
                // A lead recorded since it was read ahead (by another router, or by a batch
                // that was in flight then), or a row of one: decided again by the store.
                Some((_, taken)) => StateError::new(
                    StateErrorKind::Conflict,
                    format!("state database: a row for ({taken}) was written since it was read"),
                ),
                None => self.not_written(&error),
            });
        }
        // A failure here leaves unknown whether the batch was written: the run stops, and
        // its leads sent again come back recorded or are decided then.
        self.client
            .batch_execute("COMMIT")
            .map_err(|error| self.failure(&error))?;
        self.generation = generation;
        Ok(())
    }
}

/// The error of a `gate` table without its row (removed by hand).
pub(super) fn gate_without_row(place: &str) -> StateError {
    StateError::new(
        StateErrorKind::Failed,
        format!(
            "state database (PostgreSQL at {place}): the table `gate` has no row: run \
             `switchboard state migrate` against it"
        ),
    )
}

impl BatchWriter for PostgresWriter {
    fn commit_next(&mut self) -> Result<(), StateError> {
        let mut batch = self.handed.try_recv().map_err(|_| {
            StateError::new(
                StateErrorKind::Failed,
                "internal error: no batch was handed over to commit",
            )
        })?;
        // A batch that writes nothing (duplicates, errors) read nothing kept in memory.
        if !batch.is_empty() {
            let written = self.write(&mut batch);
            if written.is_err()
                && !self.client.is_closed()
                && self.client.batch_execute("ROLLBACK").is_err()
            {
                self.broken = true;
            }
            written?;
        }
        self.handed_before += 1;
        self.committed.store(self.handed_before, Ordering::Release);
        Ok(())
    }

    fn drop_next(&mut self) {
        let _ = self.handed.try_recv();
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send> {
        self
    }
}
