//! Routing state behind one small interface: each pool's rotation state, the assignments that
//! make up reps' load, and the ledger of every decision (which is how a lead seen before gets its
//! recorded decision again). Two stores: in memory, and SQLite (the embedded default).
//!
//! Architecture invariant: strategies never know which store they talk to. Every change happens
//! inside a batch (`begin` .. `commit`); with SQLite a batch is one `BEGIN IMMEDIATE`
//! transaction, so two routers on one file serialise, and a killed run loses only its
//! uncommitted batch, which a re-run decides again.

use jiff::Timestamp;
use std::collections::HashMap;

/// A state store failure (SQLite I/O, a locked database past the timeout, a corrupt file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateError(pub String);

impl std::fmt::Display for StateError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
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

/// Cached load counts per rep and `since`, looked up without allocating.
#[derive(Debug, Default)]
pub struct Loads(HashMap<String, Vec<(Option<Timestamp>, u64)>>);

impl Loads {
    pub fn get(&self, rep: &str, since: Option<Timestamp>) -> Option<u64> {
        self.0
            .get(rep)?
            .iter()
            .find(|(s, _)| *s == since)
            .map(|(_, count)| *count)
    }

    pub fn insert(&mut self, rep: &str, since: Option<Timestamp>, count: u64) {
        self.0
            .entry(rep.to_string())
            .or_default()
            .push((since, count));
    }

    /// Counts one more assignment at `at` for every cached `since` it falls after.
    pub fn assigned(&mut self, rep: &str, at: Timestamp) {
        if let Some(entries) = self.0.get_mut(rep) {
            for (since, count) in entries {
                if since.is_none_or(|since| at >= since) {
                    *count += 1;
                }
            }
        }
    }

    pub fn clear(&mut self) {
        self.0.clear();
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
