//! The in-memory ledger: every decision `--state :memory:` recorded, in compact form, found by
//! lead id. With a [`Spill`], the entries of settled leads leave memory for it, so that a long
//! `simulate` holds the leads in flight and a small index, not every decision of the run.

use super::{Recorded, StateError, StateErrorKind, compact};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// Where an in-memory state puts the ledger entries of settled leads (`simulate`: a temporary
/// file). Entries are appended and read back by offset, never changed.
pub trait Spill: std::fmt::Debug + Send {
    /// Appends `bytes`; answers the offset they start at.
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<u64>;
    /// Fills `into` with the bytes from `offset` on (bytes appended earlier).
    fn read_at(&self, offset: u64, into: &mut [u8]) -> std::io::Result<()>;
}

/// The in-memory ledger, compact for long runs: entries are appended in their compact form
/// ([`compact`]) to large byte chunks (no allocation per lead, no copying as it grows), and a
/// table maps a 64-bit hash of the lead id to where each lies. The stored id is compared on
/// every hit, so a hash collision can never return another lead's decision (colliding ids go to
/// a small exact map).
///
/// With a [`Spill`], a settled entry is written there and its place points at it; a chunk
/// whose entries have mostly left moves the rest to the newest chunk and is freed.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    chunks: Vec<Vec<u8>>,
    by_hash: HashMap<u64, Place, std::hash::BuildHasherDefault<IdentityHasher>>,
    collisions: HashMap<Box<str>, Vec<u8>>,
    /// Colliding ids that were settled (the others carry [`SETTLED`] in their place).
    settled_collisions: HashSet<Box<str>>,
    hasher: std::collections::hash_map::RandomState,
    /// The names the entries hold (rules, pools, reps, reasons, policy hashes), each kept once.
    names: compact::NameTable,
    spill: Option<Box<dyn Spill>>,
    /// With a spill, per chunk: the hashes of the entries written to it, and how many of
    /// them still lie there (not spilled, moved or replaced).
    residents: Vec<Residents>,
}

#[derive(Debug, Default)]
struct Residents {
    hashes: Vec<u64>,
    live: usize,
}

/// The bit of a [`Place`]'s length that marks a settled entry.
const SETTLED: u32 = 1 << 31;

/// The bit of a [`Place`]'s chunk that marks an entry in the spill: the chunk's other bits
/// are the high half of its offset there, the place's offset the low half.
const SPILLED: u32 = 1 << 31;

/// Where one entry lies: chunk, offset and length of its compact form.
#[derive(Debug, Clone, Copy)]
struct Place {
    chunk: u32,
    offset: u32,
    length: u32,
}

impl Place {
    fn len(self) -> usize {
        (self.length & !SETTLED) as usize
    }

    fn is_settled(self) -> bool {
        self.length & SETTLED != 0
    }

    /// The entry's offset in the spill, when it lies there.
    fn spilled_at(self) -> Option<u64> {
        (self.chunk & SPILLED != 0)
            .then(|| (u64::from(self.chunk & !SPILLED) << 32) | u64::from(self.offset))
    }

    /// The entry's chunk, when it lies in one.
    fn chunk(self) -> Option<usize> {
        (self.chunk & SPILLED == 0).then_some(self.chunk as usize)
    }
}

pub(super) const CHUNK: usize = 4 << 20;

fn unreadable() -> StateError {
    StateError::new(
        StateErrorKind::Corrupt,
        "a ledger entry cannot be read".to_string(),
    )
}

fn spill_failed(doing: &str, error: &std::io::Error) -> StateError {
    StateError::new(
        StateErrorKind::Failed,
        format!("cannot {doing} the spill file of settled leads: {error}"),
    )
}

impl Ledger {
    /// A ledger that moves the entries of settled leads to `spill`.
    pub(super) fn spilling(spill: Box<dyn Spill>) -> Ledger {
        Ledger {
            spill: Some(spill),
            ..Ledger::default()
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.by_hash.is_empty() && self.collisions.is_empty()
    }

    fn hash(&self, id: &str) -> u64 {
        std::hash::BuildHasher::hash_one(&self.hasher, id)
    }

    /// The bytes of the entry at `place`, from its chunk or read back from the spill.
    fn read(&self, place: Place) -> Result<Cow<'_, [u8]>, StateError> {
        match (place.chunk(), place.spilled_at(), &self.spill) {
            (Some(chunk), _, _) => {
                let start = place.offset as usize;
                self.chunks
                    .get(chunk)
                    .and_then(|chunk| chunk.get(start..start + place.len()))
                    .map(Cow::Borrowed)
                    .ok_or_else(unreadable)
            }
            (None, Some(offset), Some(spill)) => {
                let mut bytes = vec![0; place.len()];
                spill
                    .read_at(offset, &mut bytes)
                    .map_err(|error| spill_failed("read", &error))?;
                Ok(Cow::Owned(bytes))
            }
            _ => Err(unreadable()),
        }
    }

    /// The place of `id`'s entry in the table (colliding ids aside), checked against the id
    /// it holds.
    fn place_of(&self, id: &str, hash: u64) -> Result<Option<Place>, StateError> {
        let Some(place) = self.by_hash.get(&hash).copied() else {
            return Ok(None);
        };
        let bytes = self.read(place)?;
        Ok((compact::lead_of(&bytes) == Some(id)).then_some(place))
    }

    /// Whether the entry of `id` was [settled](Ledger::mark_settled).
    pub(super) fn is_settled(&self, id: &str) -> Result<bool, StateError> {
        if self.collisions.contains_key(id) {
            return Ok(self.settled_collisions.contains(id));
        }
        let hash = self.hash(id);
        match self.by_hash.get(&hash) {
            Some(place) if place.is_settled() => Ok(self.place_of(id, hash)?.is_some()),
            _ => Ok(false),
        }
    }

    /// Leaves the entry of `id` out of unsettled visits (it stays readable by id); with a
    /// spill, moves it there.
    pub(super) fn mark_settled(&mut self, id: &str) -> Result<(), StateError> {
        if self.collisions.contains_key(id) {
            self.settled_collisions.insert(id.into());
            return Ok(());
        }
        let hash = self.hash(id);
        let Some(place) = self.place_of(id, hash)? else {
            return Ok(());
        };
        let mut settled = Place {
            length: place.length | SETTLED,
            ..place
        };
        let (Some(spill), Some(chunk)) = (&mut self.spill, place.chunk()) else {
            self.by_hash.insert(hash, settled);
            return Ok(());
        };
        let start = place.offset as usize;
        let bytes = self
            .chunks
            .get(chunk)
            .and_then(|bytes| bytes.get(start..start + place.len()))
            .ok_or_else(unreadable)?;
        let offset = spill
            .append(bytes)
            .map_err(|error| spill_failed("write", &error))?;
        let high = u32::try_from(offset >> 32)
            .ok()
            .filter(|high| high & SPILLED == 0)
            .ok_or_else(|| {
                StateError::new(StateErrorKind::Failed, "the spill file is too large")
            })?;
        settled.chunk = SPILLED | high;
        // The low half of the offset (the high half is in the chunk).
        settled.offset = offset as u32;
        self.by_hash.insert(hash, settled);
        self.left(chunk);
        Ok(())
    }

    /// One entry left chunk `index`: frees the chunk when none is left, or moves the few
    /// left to the newest chunk when a quarter or less of them is (the newest chunk stays).
    fn left(&mut self, index: usize) {
        let newest = index + 1 == self.chunks.len();
        let Some(residents) = self.residents.get_mut(index) else {
            return;
        };
        residents.live = residents.live.saturating_sub(1);
        if newest || residents.live * 4 > residents.hashes.len() {
            return;
        }
        let hashes = std::mem::take(&mut residents.hashes);
        residents.live = 0;
        let chunk = self.chunks.get_mut(index).map(std::mem::take);
        let Some(chunk) = chunk else {
            return;
        };
        for hash in hashes {
            let Some(place) = self.by_hash.get(&hash).copied() else {
                continue;
            };
            if place.chunk() != Some(index) {
                continue;
            }
            let start = place.offset as usize;
            let Some(bytes) = chunk.get(start..start + place.len()) else {
                continue;
            };
            let mut moved = self.append(hash, |into| into.extend_from_slice(bytes));
            moved.length |= place.length & SETTLED;
            self.by_hash.insert(hash, moved);
        }
    }

    pub(super) fn get(&self, id: &str) -> Result<Option<Recorded>, StateError> {
        let bytes = match self.collisions.get(id) {
            Some(bytes) => Cow::Borrowed(bytes.as_slice()),
            None => match self.place_of(id, self.hash(id))? {
                None => return Ok(None),
                Some(place) => self.read(place)?,
            },
        };
        compact::decode_recorded_interned(&bytes, &self.names)
            .map(Some)
            .ok_or_else(|| {
                StateError::new(
                    StateErrorKind::Corrupt,
                    format!("the ledger entry of `{id}` cannot be read"),
                )
            })
    }

    /// Visits every entry (or, without `settled`, every entry not settled), decoded one at a
    /// time.
    pub(super) fn for_each(
        &self,
        settled: bool,
        visit: &mut dyn FnMut(Recorded),
    ) -> Result<(), StateError> {
        for place in self.by_hash.values() {
            if !settled && place.is_settled() {
                continue;
            }
            let bytes = self.read(*place)?;
            visit(compact::decode_recorded_interned(&bytes, &self.names).ok_or_else(unreadable)?);
        }
        for (id, bytes) in &self.collisions {
            if !settled && self.settled_collisions.contains(id) {
                continue;
            }
            visit(compact::decode_recorded_interned(bytes, &self.names).ok_or_else(unreadable)?);
        }
        Ok(())
    }

    pub(super) fn insert(&mut self, entry: &Recorded) -> Result<(), StateError> {
        let id = entry.decision.lead.as_str();
        let hash = self.hash(id);
        let replaced = match self.by_hash.get(&hash).copied() {
            None => None,
            Some(place) => {
                if compact::lead_of(&self.read(place)?) != Some(id) {
                    let mut bytes = Vec::new();
                    compact::encode_recorded_interned(entry, &mut bytes, &mut self.names);
                    self.collisions.insert(id.into(), bytes);
                    return Ok(());
                }
                place.chunk()
            }
        };
        if self.by_hash.capacity() == 0 {
            self.by_hash.reserve(1 << 16);
        }
        let residents = self.spill.is_some().then_some(&mut self.residents);
        let names = &mut self.names;
        let place = append_to(&mut self.chunks, residents, hash, |into| {
            compact::encode_recorded_interned(entry, into, names);
        });
        self.by_hash.insert(hash, place);
        // A new entry for the same id: the old one no longer lies in its chunk.
        if let Some(chunk) = replaced {
            self.left(chunk);
        }
        Ok(())
    }

    /// Writes an entry (by `write`) at the end of the newest chunk, or of a new one when it
    /// has little room left, and answers its place.
    fn append(&mut self, hash: u64, write: impl FnOnce(&mut Vec<u8>)) -> Place {
        let residents = self.spill.is_some().then_some(&mut self.residents);
        append_to(&mut self.chunks, residents, hash, write)
    }
}

/// [`Ledger::append`], on the fields it changes (so that `write` may borrow the others).
fn append_to(
    chunks: &mut Vec<Vec<u8>>,
    residents: Option<&mut Vec<Residents>>,
    hash: u64,
    write: impl FnOnce(&mut Vec<u8>),
) -> Place {
    let chunk_full = chunks
        .last()
        .is_none_or(|chunk| chunk.len() + 4096 > chunk.capacity());
    if chunk_full {
        chunks.push(Vec::with_capacity(CHUNK));
    }
    let chunk_index = chunks.len() - 1;
    let (offset, length) = match chunks.last_mut() {
        Some(chunk) => {
            let offset = chunk.len();
            write(chunk);
            (offset, chunk.len() - offset)
        }
        None => (0, 0),
    };
    if let Some(residents) = residents {
        residents.resize_with(chunks.len(), Residents::default);
        if let Some(residents) = residents.get_mut(chunk_index) {
            residents.hashes.push(hash);
            residents.live += 1;
        }
    }
    Place {
        chunk: u32::try_from(chunk_index).unwrap_or(u32::MAX),
        offset: u32::try_from(offset).unwrap_or(u32::MAX),
        length: u32::try_from(length).unwrap_or(u32::MAX),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::decision::Decision;
    use crate::route::state::Fingerprint;
    use jiff::Timestamp;

    /// A spill in memory, failing on demand.
    #[derive(Debug, Default)]
    struct VecSpill {
        bytes: Vec<u8>,
        broken: bool,
    }

    impl Spill for VecSpill {
        fn append(&mut self, bytes: &[u8]) -> std::io::Result<u64> {
            if self.broken {
                return Err(std::io::Error::other("disk full"));
            }
            let offset = self.bytes.len() as u64;
            self.bytes.extend_from_slice(bytes);
            Ok(offset)
        }

        fn read_at(&self, offset: u64, into: &mut [u8]) -> std::io::Result<()> {
            let start = usize::try_from(offset).map_err(std::io::Error::other)?;
            let bytes = self
                .bytes
                .get(start..start + into.len())
                .ok_or_else(|| std::io::Error::other("past the end"))?;
            into.copy_from_slice(bytes);
            Ok(())
        }
    }

    fn entry(id: &str, reason: &str) -> Recorded {
        let mut decision = Decision::new(id);
        decision.reasons.push(crate::route::decision::Reason {
            action: None,
            reason: reason.to_string(),
        });
        Recorded {
            decision,
            fingerprint: Some(Fingerprint { lead: 7, schema: 9 }),
            decided_at: Timestamp::UNIX_EPOCH,
            lead_at: None,
            policy_hash: "0123456789abcdef".to_string(),
            trace: None,
        }
    }

    fn bytes_in_chunks(ledger: &Ledger) -> usize {
        ledger.chunks.iter().map(Vec::len).sum()
    }

    #[test]
    fn settled_entries_leave_memory_for_the_spill_and_still_answer() {
        let mut ledger = Ledger::spilling(Box::<VecSpill>::default());
        let count = 200_000;
        // Each entry about 100 bytes: several chunks.
        let recorded = |i: usize| entry(&format!("L-{i}"), &format!("reason {i:0>80}"));
        for i in 0..count {
            ledger.insert(&recorded(i)).unwrap();
            // Leads settle some time after they arrive; one in 1,000 stays in flight.
            if i >= 1000 && (i - 1000) % 1000 != 7 {
                ledger.mark_settled(&format!("L-{}", i - 1000)).unwrap();
            }
        }
        assert!(ledger.chunks.len() >= 4, "{} chunks", ledger.chunks.len());
        // What stays in memory: the newest chunk, the leads in flight (the last 1,000 and one
        // in 1,000 before them), moved forward from the chunks freed.
        let in_memory = bytes_in_chunks(&ledger);
        assert!(
            in_memory < 2 * CHUNK,
            "{in_memory} bytes of entries in memory"
        );
        for i in 0..count {
            let id = format!("L-{i}");
            assert_eq!(ledger.get(&id), Ok(Some(recorded(i))), "{id}");
            let in_flight = i >= count - 1000 || i % 1000 == 7;
            assert_eq!(ledger.is_settled(&id), Ok(!in_flight), "{id}");
        }
        assert_eq!(ledger.get("L-unknown"), Ok(None));
        let mut unsettled = 0;
        ledger.for_each(false, &mut |_| unsettled += 1).unwrap();
        assert_eq!(unsettled, 1000 + (count - 1000) / 1000);
        let mut all = 0;
        ledger.for_each(true, &mut |_| all += 1).unwrap();
        assert_eq!(all, count);
        // Settling again changes nothing; a new entry for a settled id replaces it.
        ledger.mark_settled("L-5").unwrap();
        assert_eq!(ledger.get("L-5"), Ok(Some(recorded(5))));
        ledger.insert(&entry("L-5", "again")).unwrap();
        assert_eq!(ledger.get("L-5"), Ok(Some(entry("L-5", "again"))));
        assert_eq!(ledger.is_settled("L-5"), Ok(false));
    }

    #[test]
    fn a_spill_that_cannot_be_written_is_an_error_and_the_entry_stays() {
        let mut ledger = Ledger::spilling(Box::new(VecSpill {
            bytes: Vec::new(),
            broken: true,
        }));
        ledger.insert(&entry("L-1", "x")).unwrap();
        let error = ledger.mark_settled("L-1").unwrap_err();
        assert_eq!(error.kind, StateErrorKind::Failed);
        assert_eq!(
            error.message,
            "cannot write the spill file of settled leads: disk full"
        );
        assert_eq!(ledger.get("L-1"), Ok(Some(entry("L-1", "x"))));
        assert_eq!(ledger.is_settled("L-1"), Ok(false));
    }

    #[test]
    fn without_a_spill_a_settled_entry_stays_in_its_chunk() {
        let mut ledger = Ledger::default();
        ledger.insert(&entry("L-1", "x")).unwrap();
        let before = bytes_in_chunks(&ledger);
        ledger.mark_settled("L-1").unwrap();
        assert_eq!(ledger.is_settled("L-1"), Ok(true));
        assert_eq!(bytes_in_chunks(&ledger), before);
        assert_eq!(ledger.get("L-1"), Ok(Some(entry("L-1", "x"))));
        assert!(ledger.residents.is_empty());
    }
}
