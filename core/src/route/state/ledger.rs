//! The in-memory ledger: every decision `--state :memory:` recorded, in compact form, found by
//! lead id. With a [`Spill`], the entries of settled leads leave memory for it, so that a long
//! `simulate` holds the leads in flight and a small index, not every decision of the run.

use super::bloom::Bloom;
use super::slots::HashSlots;
use super::{EntryRef, Recorded, StateError, StateErrorKind, compact};
use crate::model::lead_id::keyed_hash;
use crate::route::decision::Decision;
use crate::route::reader::same_bytes;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// Where an in-memory state puts the ledger entries of settled leads (`simulate`: a temporary
/// file). Entries are appended and read back by offset, never changed.
pub trait Spill: std::fmt::Debug + Send {
    /// Appends `bytes`; answers the offset they start at.
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<u64>;
    /// Fills `into` with the bytes from `offset` on (bytes appended or written earlier; a
    /// gap left by a write past the end reads as zeros).
    fn read_at(&self, offset: u64, into: &mut [u8]) -> std::io::Result<()>;
    /// Writes `bytes` at `offset`, over what was there or past the end.
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> std::io::Result<()>;
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
    by_hash: PlaceIndex,
    collisions: HashMap<Box<str>, Vec<u8>>,
    /// Colliding ids that were settled (the others carry [`SETTLED`] in their place).
    settled_collisions: HashSet<Box<str>>,
    /// Ids hashed ahead of their turn ([`Ledger::warm`]) and the one hashed last, oldest
    /// first, with their hashes: a lead is looked up, then recorded, by the same id.
    hashed: std::cell::RefCell<HashedIds>,
    /// The names the entries hold (rules, pools, reps, reasons, policy hashes), each kept once.
    names: compact::NameTable,
    spill: Option<Box<dyn Spill>>,
    /// With a spill, the places of settled entries (which leave `by_hash`).
    settled: Option<SettledIndex>,
    /// With a spill, per chunk: the hashes of the entries written to it, and how many of
    /// them still lie there (not spilled, moved or replaced).
    residents: Vec<Residents>,
}

/// How the entries' numbers are written: packed, as they never outlive the process.
const ENTRY_LAYOUT: compact::Layout = compact::Layout::Packed;

/// How many ids [`Ledger::warm`] takes at once.
const WARM_AT_ONCE: usize = super::ABOUT_TO_ROUTE;

/// Ids and their hashes, oldest first: those hashed ahead of their turn and the last one
/// asked for. At most [`WARM_AT_ONCE`] and two are kept (an id never asked for is forgotten
/// in time); their strings are reused.
#[derive(Debug, Default)]
struct HashedIds {
    ids: std::collections::VecDeque<(String, u64)>,
    /// Strings of ids done with, for the next ones.
    spare: Vec<String>,
}

impl HashedIds {
    /// The hash of `id` if it is first (asked again) or second (the next one, the first done).
    fn take(&mut self, id: &str) -> Option<u64> {
        match self.ids.front() {
            Some((first, hash)) if same_bytes(first.as_bytes(), id.as_bytes()) => {
                return Some(*hash);
            }
            None => return None,
            _ => {}
        }
        if self
            .ids
            .get(1)
            .is_some_and(|(second, _)| same_bytes(second.as_bytes(), id.as_bytes()))
        {
            let done = self.ids.pop_front();
            let hash = self.ids.front().map(|(_, hash)| *hash);
            if let Some((text, _)) = done {
                self.spare(text);
            }
            return hash;
        }
        None
    }

    /// Forgets every id kept (their strings are kept for the next ones).
    fn clear(&mut self) {
        while let Some((text, _)) = self.ids.pop_front() {
            self.spare(text);
        }
    }

    /// Keeps `id` and its hash last; the oldest goes when there are too many.
    fn push(&mut self, id: &str, hash: u64) {
        let mut text = if self.ids.len() >= WARM_AT_ONCE + 2 {
            self.ids.pop_front().map(|(text, _)| text)
        } else {
            self.spare.pop()
        }
        .unwrap_or_default();
        text.clear();
        text.push_str(id);
        self.ids.push_back((text, hash));
    }

    fn spare(&mut self, text: String) {
        // Ids longer than a usual one are not kept.
        if text.capacity() <= 256 {
            self.spare.push(text);
        }
    }
}

#[derive(Debug, Default)]
struct Residents {
    hashes: Vec<u64>,
    live: usize,
}

/// The bit of a [`Place`]'s length that marks a settled entry.
const SETTLED: u32 = 1 << 31;

/// The bit of a [`Place`]'s length that marks a spilled entry followed by the lead's current
/// decision (a lead routed again): the bytes are the recorded entry's length (4 bytes, little
/// endian), the entry, and the current decision in the self-contained compact form.
const WITH_CURRENT: u32 = 1 << 30;

/// The bit of a [`Place`]'s chunk that marks an entry in the spill: the chunk's other bits
/// are the high half of its offset there, the place's offset the low half.
const SPILLED: u32 = 1 << 31;

/// Where one entry lies: chunk, offset and length of its compact form.
#[derive(Debug, Clone, Copy, Default)]
struct Place {
    chunk: u32,
    offset: u32,
    length: u32,
}

impl Place {
    fn len(self) -> usize {
        (self.length & !(SETTLED | WITH_CURRENT)) as usize
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

/// A [`Place`] packed in one word, as [`PlaceIndex`] keeps it: the length (without its flags)
/// in the lowest [`LENGTH_BITS`] bits, then the flags, then where the entry lies in the
/// highest 37: its chunk and offset ([`OFFSET_BITS`] of offset: a chunk's entries start
/// within its first 4 MiB), or its offset in the spill.
const LENGTH_BITS: u32 = 24;
const PACKED_SETTLED: u64 = 1 << LENGTH_BITS;
const PACKED_WITH_CURRENT: u64 = 1 << (LENGTH_BITS + 1);
const PACKED_SPILLED: u64 = 1 << (LENGTH_BITS + 2);
const WHERE_SHIFT: u32 = LENGTH_BITS + 3;
const OFFSET_BITS: u32 = CHUNK.trailing_zeros();
/// The word of a place kept whole beside the table: longer than 16 MiB, in a chunk past the
/// 32,768th (128 GiB of entries), or past 128 GiB of spill.
const WIDE: u64 = u64::MAX - 1;

impl Place {
    /// The place in one word; `None` if it does not fit (see [`WIDE`]).
    fn packed(self) -> Option<u64> {
        let length = u64::from(self.length & !(SETTLED | WITH_CURRENT));
        if length >> LENGTH_BITS != 0 {
            return None;
        }
        let mut word = length;
        if self.length & SETTLED != 0 {
            word |= PACKED_SETTLED;
        }
        if self.length & WITH_CURRENT != 0 {
            word |= PACKED_WITH_CURRENT;
        }
        let at = match self.spilled_at() {
            Some(at) => {
                word |= PACKED_SPILLED;
                at
            }
            None => {
                let offset = u64::from(self.offset);
                if offset >> OFFSET_BITS != 0 {
                    return None;
                }
                (u64::from(self.chunk) << OFFSET_BITS) | offset
            }
        };
        if at >> (64 - WHERE_SHIFT) != 0 {
            return None;
        }
        let word = word | (at << WHERE_SHIFT);
        (word < WIDE).then_some(word)
    }

    /// The place [`Place::packed`] packed into `word`.
    fn unpacked(word: u64) -> Place {
        let mut length = (word & ((1 << LENGTH_BITS) - 1)) as u32;
        if word & PACKED_SETTLED != 0 {
            length |= SETTLED;
        }
        if word & PACKED_WITH_CURRENT != 0 {
            length |= WITH_CURRENT;
        }
        let at = word >> WHERE_SHIFT;
        if word & PACKED_SPILLED != 0 {
            Place {
                chunk: SPILLED | (at >> 32) as u32,
                offset: at as u32,
                length,
            }
        } else {
            Place {
                chunk: (at >> OFFSET_BITS) as u32,
                offset: (at & ((1 << OFFSET_BITS) - 1)) as u32,
                length,
            }
        }
    }
}

/// Where the entries in memory lie, by their id's hash: each place packed in one word of the
/// table's 16-byte slot ([`Place::packed`]), or, for a place too long or too far for a word,
/// [`WIDE`] there and the place itself in a map beside it.
#[derive(Debug, Default)]
struct PlaceIndex {
    slots: HashSlots<u64>,
    wide: HashMap<u64, Place>,
}

impl PlaceIndex {
    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.len()
    }

    fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn capacity(&self) -> usize {
        self.slots.capacity()
    }

    fn reserve(&mut self, more: usize) {
        self.slots.reserve(more);
    }

    fn warm(&self, hash: u64) -> u64 {
        self.slots.warm(hash)
    }

    fn place(&self, hash: u64, word: u64) -> Option<Place> {
        if word == WIDE {
            self.wide.get(&hash).copied()
        } else {
            Some(Place::unpacked(word))
        }
    }

    fn get(&self, hash: u64) -> Option<Place> {
        self.place(hash, self.slots.get(hash)?)
    }

    fn insert(&mut self, hash: u64, place: Place) {
        let word = match place.packed() {
            Some(word) => {
                if !self.wide.is_empty() {
                    self.wide.remove(&hash);
                }
                word
            }
            None => {
                self.wide.insert(hash, place);
                WIDE
            }
        };
        self.slots.insert(hash, word);
    }

    fn remove(&mut self, hash: u64) {
        if self.slots.remove(hash) == Some(WIDE) {
            self.wide.remove(&hash);
        }
    }

    /// Every place, in no order.
    fn places(&self) -> impl Iterator<Item = Place> + '_ {
        self.slots
            .iter()
            .filter_map(|(hash, word)| self.place(hash, word))
    }
}

/// The recorded entry and the current one of a spilled entry [with its current
/// decision](WITH_CURRENT).
fn split_current(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let length: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
    let length = usize::try_from(u32::from_le_bytes(length)).ok()?;
    let rest = bytes.get(4..)?;
    (length <= rest.len()).then(|| rest.split_at(length))
}

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
    /// A ledger that moves the entries of settled leads to `spill`, and their places to
    /// `index`.
    pub(super) fn spilling(spill: Box<dyn Spill>, index: Box<dyn Spill>) -> Ledger {
        Ledger {
            spill: Some(spill),
            settled: Some(SettledIndex::new(index)),
            ..Ledger::default()
        }
    }

    /// Drops the spills (closing, and so removing, their files).
    pub(super) fn release_spills(&mut self) {
        self.spill = None;
        self.settled = None;
    }

    pub(super) fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
            && self.collisions.is_empty()
            && self.settled.as_ref().is_none_or(|index| index.count == 0)
    }

    /// Where the entry with `hash` lies: in memory, or among the settled.
    fn lookup(&self, hash: u64) -> Result<Option<Place>, StateError> {
        if let Some(place) = self.by_hash.get(hash) {
            return Ok(Some(place));
        }
        match &self.settled {
            Some(index) => index.get(hash),
            None => Ok(None),
        }
    }

    fn hash(&self, id: &str) -> u64 {
        let mut hashed = self.hashed.borrow_mut();
        if let Some(hash) = hashed.take(id) {
            return hash;
        }
        let hash = keyed_hash(id);
        // Leads routed in another order than they were told of (or never told of: `serve`,
        // `simulate`): what was kept is stale, and only this id is.
        hashed.clear();
        hashed.push(id, hash);
        hash
    }

    /// Makes room in the index for `leads` more entries, at most [`Ledger::MOST_RESERVED`]
    /// (an estimate from a file's size must not make a huge table up front).
    pub(super) fn reserve(&mut self, leads: usize) {
        self.by_hash.reserve(leads.min(Self::MOST_RESERVED));
    }

    /// The most entries [`Ledger::reserve`] makes room for: 4,194,304 (a table of 128 MiB when
    /// the ledger is empty, as it is when `route` asks).
    const MOST_RESERVED: usize = 1 << 22;

    /// Hashes the ids of the leads about to be routed, in their order (or takes the hashes
    /// computed ahead: [`keyed_hash`]'s), and reads the lines of the index where their
    /// look-ups and records will go, all at once: their cache misses overlap instead of
    /// stalling one lead each.
    pub(super) fn warm(&self, ids: &mut dyn Iterator<Item = (&str, Option<u64>)>) {
        let mut hashed = self.hashed.borrow_mut();
        let mut pushed = 0;
        for (id, ahead) in ids.take(WARM_AT_ONCE) {
            // A hash found ahead is the id's own: an id changed after it would be looked up
            // under another's.
            debug_assert!(ahead.is_none_or(|hash| hash == keyed_hash(id)), "{id}");
            let hash = ahead.unwrap_or_else(|| keyed_hash(id));
            hashed.push(id, hash);
            pushed += 1;
        }
        // The lines are read only now, one after another, once every hash is known.
        let read = hashed
            .ids
            .iter()
            .skip(hashed.ids.len().saturating_sub(pushed))
            .fold(0u64, |read, (_, hash)| read ^ self.by_hash.warm(*hash));
        std::hint::black_box(read);
    }

    /// Whether a settled `id` can keep a current decision apart from its recorded one: with a
    /// spill, and for ids without a hash collision.
    pub(super) fn keeps_current(&self, id: &str) -> bool {
        self.spill.is_some() && !self.collisions.contains_key(id)
    }

    /// The bytes of the entry at `place`, from its chunk or read back from the spill.
    fn read(&self, place: Place) -> Result<Cow<'_, [u8]>, StateError> {
        let bytes = self.read_all(place)?;
        if place.length & WITH_CURRENT == 0 {
            return Ok(bytes);
        }
        let (recorded, _) = split_current(&bytes).ok_or_else(unreadable)?;
        Ok(Cow::Owned(recorded.to_vec()))
    }

    /// The current decision a settled lead keeps beside its recorded one, if any.
    pub(super) fn settled_current(&self, id: &str) -> Result<Option<Decision>, StateError> {
        if self.collisions.contains_key(id) {
            return Ok(None);
        }
        let Some(place) = self.place_of(id, self.hash(id))? else {
            return Ok(None);
        };
        if place.length & WITH_CURRENT == 0 {
            return Ok(None);
        }
        let bytes = self.read_all(place)?;
        let (_, current) = split_current(&bytes).ok_or_else(unreadable)?;
        compact::decode(current).map(Some).ok_or_else(unreadable)
    }

    /// All the bytes at `place`, from its chunk or read back from the spill.
    fn read_all(&self, place: Place) -> Result<Cow<'_, [u8]>, StateError> {
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
        let Some(place) = self.lookup(hash)? else {
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
        match self.lookup(hash)? {
            Some(place) if place.is_settled() => Ok(self.place_of(id, hash)?.is_some()),
            _ => Ok(false),
        }
    }

    /// Leaves the entry of `id` out of unsettled visits (it stays readable by id); with a
    /// spill, moves it there, followed by `current`, the decision the lead holds now when it
    /// is not the recorded one (only where [`Ledger::keeps_current`]).
    pub(super) fn mark_settled(
        &mut self,
        id: &str,
        current: Option<&Decision>,
    ) -> Result<(), StateError> {
        if current.is_some() && !self.keeps_current(id) {
            return Err(StateError::new(
                StateErrorKind::Failed,
                format!("the current decision of `{id}` has no place in this ledger"),
            ));
        }
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
            // Without a spill the mark is all; with one, a spilled entry is settled already.
            if self.spill.is_none() {
                self.by_hash.insert(hash, settled);
            }
            return Ok(());
        };
        let start = place.offset as usize;
        let bytes = self
            .chunks
            .get(chunk)
            .and_then(|bytes| bytes.get(start..start + place.len()))
            .ok_or_else(unreadable)?;
        let written = match current {
            None => spill.append(bytes),
            Some(current) => {
                let mut both = u32::try_from(bytes.len())
                    .map_err(|_| unreadable())?
                    .to_le_bytes()
                    .to_vec();
                both.extend_from_slice(bytes);
                // Self-contained: its texts (an escalation's reason names its times) would
                // only fill the name table.
                compact::encode(current, &mut both);
                settled.length = u32::try_from(both.len())
                    .ok()
                    .filter(|length| length & (SETTLED | WITH_CURRENT) == 0)
                    .ok_or_else(unreadable)?
                    | SETTLED
                    | WITH_CURRENT;
                spill.append(&both)
            }
        };
        let offset = written.map_err(|error| spill_failed("write", &error))?;
        let high = u32::try_from(offset >> 32)
            .ok()
            .filter(|high| high & SPILLED == 0)
            .ok_or_else(|| {
                StateError::new(StateErrorKind::Failed, "the spill file is too large")
            })?;
        settled.chunk = SPILLED | high;
        // The low half of the offset (the high half is in the chunk).
        settled.offset = offset as u32;
        match &mut self.settled {
            Some(index) => {
                index.insert(hash, settled)?;
                self.by_hash.remove(hash);
            }
            None => {
                self.by_hash.insert(hash, settled);
            }
        }
        self.left(chunk);
        Ok(())
    }

    /// One entry left chunk `index`: see [`Ledger::thin_out`].
    fn left(&mut self, index: usize) {
        let Some(residents) = self.residents.get_mut(index) else {
            return;
        };
        residents.live = residents.live.saturating_sub(1);
        self.thin_out(index);
    }

    /// Frees chunk `index` when none of its entries is left in it, or moves the few left to
    /// the newest chunk when a quarter or less of them is; the newest chunk stays (it is
    /// looked at again when a newer one starts).
    fn thin_out(&mut self, index: usize) {
        let newest = index + 1 == self.chunks.len();
        let Some(residents) = self.residents.get_mut(index) else {
            return;
        };
        if newest || residents.hashes.is_empty() || residents.live * 4 > residents.hashes.len() {
            return;
        }
        let hashes = std::mem::take(&mut residents.hashes);
        residents.live = 0;
        let chunk = self.chunks.get_mut(index).map(std::mem::take);
        let Some(chunk) = chunk else {
            return;
        };
        for hash in hashes {
            let Some(place) = self.by_hash.get(hash) else {
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
        compact::decode_recorded_interned(&bytes, &self.names, ENTRY_LAYOUT)
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
        for place in self.by_hash.places() {
            if !settled && place.is_settled() {
                continue;
            }
            let bytes = self.read(place)?;
            visit(
                compact::decode_recorded_interned(&bytes, &self.names, ENTRY_LAYOUT)
                    .ok_or_else(unreadable)?,
            );
        }
        if let (true, Some(index)) = (settled, &self.settled) {
            index.for_each(&mut |place| {
                let bytes = self.read(place)?;
                visit(
                    compact::decode_recorded_interned(&bytes, &self.names, ENTRY_LAYOUT)
                        .ok_or_else(unreadable)?,
                );
                Ok(())
            })?;
        }
        for (id, bytes) in &self.collisions {
            if !settled && self.settled_collisions.contains(id) {
                continue;
            }
            visit(
                compact::decode_recorded_interned(bytes, &self.names, ENTRY_LAYOUT)
                    .ok_or_else(unreadable)?,
            );
        }
        Ok(())
    }

    pub(super) fn insert(&mut self, entry: &EntryRef<'_>) -> Result<(), StateError> {
        let id = &*entry.decision.lead;
        let hash = self.hash(id);
        let replaced = match self.lookup(hash)? {
            None => None,
            Some(place) => {
                if compact::lead_of(&self.read(place)?) != Some(id) {
                    let mut bytes = Vec::new();
                    compact::encode_recorded_interned(
                        entry,
                        &mut bytes,
                        &mut self.names,
                        ENTRY_LAYOUT,
                    );
                    self.collisions.insert(id.into(), bytes);
                    return Ok(());
                }
                if let (None, Some(index)) = (place.chunk(), &mut self.settled) {
                    // A settled entry replaced: the new one is in memory.
                    index.remove(hash)?;
                }
                place.chunk()
            }
        };
        if self.by_hash.capacity() == 0 {
            self.by_hash.reserve(1 << 16);
        }
        let residents = self.spill.is_some().then_some(&mut self.residents);
        let names = &mut self.names;
        let chunks_before = self.chunks.len();
        let place = append_to(&mut self.chunks, residents, hash, |into| {
            compact::encode_recorded_interned(entry, into, names, ENTRY_LAYOUT);
        });
        self.by_hash.insert(hash, place);
        // A new entry for the same id: the old one no longer lies in its chunk.
        if let Some(chunk) = replaced {
            self.left(chunk);
        }
        // The chunk that was the newest may have emptied while it was (leads settled as they
        // are routed).
        if self.chunks.len() > chunks_before
            && let Some(previous) = chunks_before.checked_sub(1)
        {
            self.thin_out(previous);
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
    let chunk_full = chunks.last().is_none_or(|chunk| chunk.len() + 4096 > CHUNK);
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

/// The places of settled entries, mostly out of memory. New ones wait in a small map; every
/// [`RUN`] of them go to the index file as one run sorted by hash, written at once, and memory
/// keeps per run a Bloom filter (16 bits an entry) and the first hash of every block of
/// [`BLOCK`] slots. A lookup reads one block of each run whose filter may hold the hash, so an
/// id never settled mostly reads nothing: about 2 bytes of memory a settled lead.
struct SettledIndex {
    file: Box<dyn Spill>,
    /// Where the next run goes in the file.
    end: u64,
    pending: HashMap<u64, Place, std::hash::BuildHasherDefault<IdentityHasher>>,
    runs: Vec<Run>,
    /// Hashes removed (an id recorded again, which is rare), with the number of runs then:
    /// their slots in those runs are dead.
    removed: HashMap<u64, usize>,
    count: u64,
}

impl std::fmt::Debug for SettledIndex {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SettledIndex")
            .field("runs", &self.runs.len())
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

/// One run in the index file: its slots sorted by hash.
struct Run {
    offset: u64,
    slots: usize,
    filter: Bloom,
    /// The first hash of each block.
    fences: Vec<u64>,
}

/// Entries in a run.
const RUN: usize = 1 << 16;
/// Slots read at once from a run.
const BLOCK: usize = 256;
/// Bytes of a slot: hash, place, and 4 bytes unused.
const SLOT: usize = 24;

fn slot_bytes(hash: u64, place: Place) -> [u8; SLOT] {
    let mut bytes = [0; SLOT];
    bytes[..8].copy_from_slice(&hash.to_le_bytes());
    bytes[8..12].copy_from_slice(&place.chunk.to_le_bytes());
    bytes[12..16].copy_from_slice(&place.offset.to_le_bytes());
    bytes[16..20].copy_from_slice(&place.length.to_le_bytes());
    bytes
}

fn slot_of(bytes: &[u8]) -> Option<(u64, Place)> {
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let hash = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    Some((
        hash,
        Place {
            chunk: word(8)?,
            offset: word(12)?,
            length: word(16)?,
        },
    ))
}

fn index_failed(doing: &str, error: &std::io::Error) -> StateError {
    StateError::new(
        StateErrorKind::Failed,
        format!("cannot {doing} the index file of settled leads: {error}"),
    )
}

impl Run {
    /// Reads the slots of block `block`.
    fn block(&self, file: &dyn Spill, block: usize) -> Result<Vec<u8>, StateError> {
        let first = block * BLOCK;
        let slots = self.slots.saturating_sub(first).min(BLOCK);
        let mut bytes = vec![0; slots * SLOT];
        file.read_at(self.offset + (first * SLOT) as u64, &mut bytes)
            .map_err(|error| index_failed("read", &error))?;
        Ok(bytes)
    }

    fn find(&self, file: &dyn Spill, hash: u64) -> Result<Option<Place>, StateError> {
        if !self.filter.may_hold(hash) {
            return Ok(None);
        }
        let Some(block) = self
            .fences
            .partition_point(|fence| *fence <= hash)
            .checked_sub(1)
        else {
            return Ok(None);
        };
        let bytes = self.block(file, block)?;
        let (mut low, mut high) = (0, bytes.len() / SLOT);
        while low < high {
            let middle = (low + high) / 2;
            let Some((key, place)) = bytes.get(middle * SLOT..).and_then(slot_of) else {
                return Err(unreadable());
            };
            match key.cmp(&hash) {
                std::cmp::Ordering::Equal => return Ok(Some(place)),
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
            }
        }
        Ok(None)
    }
}

impl SettledIndex {
    fn new(file: Box<dyn Spill>) -> SettledIndex {
        SettledIndex {
            file,
            end: 0,
            pending: HashMap::default(),
            runs: Vec::new(),
            removed: HashMap::new(),
            count: 0,
        }
    }

    /// Whether the slot of `hash` in run `run` was removed.
    fn dead(&self, hash: u64, run: usize) -> bool {
        self.removed.get(&hash).is_some_and(|runs| run < *runs)
    }

    fn get(&self, hash: u64) -> Result<Option<Place>, StateError> {
        if let Some(place) = self.pending.get(&hash) {
            return Ok(Some(*place));
        }
        for (index, run) in self.runs.iter().enumerate().rev() {
            if self.dead(hash, index) {
                break;
            }
            if let Some(place) = run.find(self.file.as_ref(), hash)? {
                return Ok(Some(place));
            }
        }
        Ok(None)
    }

    fn insert(&mut self, hash: u64, place: Place) -> Result<(), StateError> {
        if self.pending.capacity() == 0 {
            self.pending.reserve(RUN);
        }
        if self.pending.insert(hash, place).is_none() {
            self.count += 1;
        }
        if self.pending.len() >= RUN {
            self.write_run()?;
        }
        Ok(())
    }

    fn remove(&mut self, hash: u64) -> Result<(), StateError> {
        if self.pending.remove(&hash).is_some() {
            self.count -= 1;
            return Ok(());
        }
        if self.get(hash)?.is_some() {
            self.removed.insert(hash, self.runs.len());
            self.count -= 1;
        }
        Ok(())
    }

    /// Writes the waiting entries as a new run, in one write.
    fn write_run(&mut self) -> Result<(), StateError> {
        let mut entries: Vec<(u64, Place)> = self
            .pending
            .iter()
            .map(|(hash, place)| (*hash, *place))
            .collect();
        entries.sort_unstable_by_key(|(hash, _)| *hash);
        let mut bytes = Vec::with_capacity(entries.len() * SLOT);
        let mut filter = Bloom::for_entries(entries.len());
        let mut fences = Vec::with_capacity(entries.len().div_ceil(BLOCK));
        for (index, (hash, place)) in entries.iter().enumerate() {
            bytes.extend_from_slice(&slot_bytes(*hash, *place));
            filter.add(*hash);
            if index % BLOCK == 0 {
                fences.push(*hash);
            }
        }
        self.file
            .write_at(self.end, &bytes)
            .map_err(|error| index_failed("write", &error))?;
        self.pending.clear();
        self.runs.push(Run {
            offset: self.end,
            slots: entries.len(),
            filter,
            fences,
        });
        self.end += bytes.len() as u64;
        Ok(())
    }

    /// Visits the place of every entry, reading the runs a block at a time.
    fn for_each(
        &self,
        visit: &mut dyn FnMut(Place) -> Result<(), StateError>,
    ) -> Result<(), StateError> {
        for place in self.pending.values() {
            visit(*place)?;
        }
        for (index, run) in self.runs.iter().enumerate() {
            for block in 0..run.fences.len() {
                let bytes = run.block(self.file.as_ref(), block)?;
                for (hash, place) in bytes.chunks_exact(SLOT).filter_map(slot_of) {
                    if !self.dead(hash, index) && !self.pending.contains_key(&hash) {
                        visit(place)?;
                    }
                }
            }
        }
        Ok(())
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

/// A spill in memory, failing on demand (for tests).
#[cfg(test)]
#[derive(Debug, Default)]
pub(super) struct VecSpill {
    pub(super) bytes: Vec<u8>,
    pub(super) broken: bool,
}

#[cfg(test)]
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

    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
        if self.broken {
            return Err(std::io::Error::other("disk full"));
        }
        let start = usize::try_from(offset).map_err(std::io::Error::other)?;
        if self.bytes.len() < start + bytes.len() {
            self.bytes.resize(start + bytes.len(), 0);
        }
        self.bytes[start..start + bytes.len()].copy_from_slice(bytes);
        Ok(())
    }
}

/// A ledger with spills in memory (for tests).
#[cfg(test)]
pub(super) fn spilling_in_memory() -> Ledger {
    Ledger::spilling(Box::<VecSpill>::default(), Box::<VecSpill>::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::decision::Decision;

    /// Every place packs into a word and back as it was, flags and all, up to the limits of
    /// a word; a place past them (or whose word would be taken for a marker) is kept whole
    /// beside the table, found, replaced and removed like any.
    #[test]
    fn places_pack_into_a_word_or_are_kept_whole() {
        let in_chunk = |chunk: u32, offset: u32, length: u32| Place {
            chunk,
            offset,
            length,
        };
        let spilled = |at: u64, length: u32| Place {
            chunk: SPILLED | (at >> 32) as u32,
            offset: at as u32,
            length,
        };
        let fitting = [
            in_chunk(0, 0, 0),
            in_chunk(7, 4_190_000, 134),
            in_chunk((1 << 15) - 1, (1 << 22) - 1, (1 << 24) - 1),
            in_chunk(3, 12, 99 | SETTLED),
            in_chunk(3, 12, 99 | SETTLED | WITH_CURRENT),
            spilled(0, 5 | SETTLED),
            spilled((1 << 37) - 1, 77 | SETTLED | WITH_CURRENT),
            spilled(5 << 32 | 17, 1),
        ];
        for place in fitting {
            let word = place.packed().unwrap_or_else(|| panic!("{place:?}"));
            let back = Place::unpacked(word);
            assert_eq!(
                (back.chunk, back.offset, back.length),
                (place.chunk, place.offset, place.length)
            );
        }
        let too_big = [
            in_chunk(1 << 15, 0, 1),
            in_chunk(0, 1 << 22, 1),
            in_chunk(0, 0, 1 << 24),
            spilled(1 << 37, 1),
            // All ones: the word would be the empty slot's marker.
            spilled((1 << 37) - 1, ((1 << 24) - 1) | SETTLED | WITH_CURRENT),
        ];
        let mut index = PlaceIndex::default();
        for (hash, place) in (1u64..).zip(too_big) {
            assert_eq!(place.packed(), None, "{place:?}");
            index.insert(hash, place);
        }
        index.insert(100, fitting[1]);
        assert_eq!(index.len(), too_big.len() + 1);
        assert_eq!(index.wide.len(), too_big.len());
        let found = index.get(2).unwrap();
        assert_eq!((found.chunk, found.offset), (0, 1 << 22));
        assert_eq!(index.places().count(), too_big.len() + 1);
        // A wide place replaced by one that fits, and one removed.
        index.insert(1, fitting[1]);
        index.remove(3);
        assert_eq!(index.wide.len(), too_big.len() - 2);
        assert_eq!(index.get(1).unwrap().offset, 4_190_000);
        assert!(index.get(3).is_none());
        assert_eq!(index.len(), too_big.len());
    }

    /// An entry for lead `id` with one reason.
    fn entry(id: &str, reason: &str) -> Recorded {
        let mut decision = Decision::new(id);
        decision.reasons.push(crate::route::decision::Reason {
            action: None,
            reason: reason.into(),
        });
        super::super::tests::entry(decision)
    }

    /// The entry of lead `L-{i}`, about 100 bytes.
    fn numbered(i: usize) -> Recorded {
        entry(&format!("L-{i}"), &format!("reason {i:0>80}"))
    }

    /// Ids told of ahead of their turn ([`Ledger::warm`]), with their hash or without,
    /// answer as ids that were not: in order, out of order, told twice, never asked for,
    /// asked for without being told, and recorded between (a hash kept for an id is that
    /// id's).
    #[test]
    fn ids_told_of_ahead_answer_as_any_other() {
        let mut ledger = Ledger::default();
        for i in (0..2_000).step_by(2) {
            ledger.insert(&numbered(i).as_entry()).unwrap();
        }
        let id = |i: usize| format!("L-{i}");
        let ids: Vec<String> = (0..2_000).map(id).collect();
        // Every other id comes with its hash computed ahead, as a reader gives it.
        let told = |ledger: &Ledger, from: usize, count: usize| {
            ledger.warm(
                &mut ids
                    .iter()
                    .enumerate()
                    .skip(from)
                    .take(count)
                    .map(|(at, id)| (id.as_str(), (at % 2 == 1).then(|| keyed_hash(id)))),
            );
        };
        let answer =
            |ledger: &Ledger, i: usize| ledger.get(&id(i)).unwrap().map(|e| e.decision.lead);
        // In order, a group at a time: every other one was recorded.
        for group in (0..400).step_by(ABOUT) {
            told(&ledger, group, ABOUT);
            for i in group..group + ABOUT {
                assert_eq!(answer(&ledger, i), (i % 2 == 0).then(|| id(i).into()));
            }
        }
        // Out of order, told twice, some never asked for, others never told.
        told(&ledger, 400, ABOUT);
        told(&ledger, 400, ABOUT);
        for i in [415, 401, 400, 999, 402, 415, 1_001, 403, 404] {
            assert_eq!(
                answer(&ledger, i),
                (i % 2 == 0).then(|| id(i).into()),
                "{i}"
            );
        }
        // Told, then recorded, then asked for.
        told(&ledger, 1_201, ABOUT);
        for i in (1_201..1_201 + ABOUT).step_by(2) {
            assert_eq!(answer(&ledger, i), None);
            ledger.insert(&numbered(i).as_entry()).unwrap();
            assert_eq!(answer(&ledger, i), Some(id(i).into()));
        }
        assert!(ledger.hashed.borrow().ids.len() <= ABOUT + 2);
        // Never told of (`serve`, `simulate`): each id is looked up, then recorded, by the
        // hash kept for it, whatever came before.
        for i in [1_500, 1_502, 1_504] {
            assert_eq!(ledger.hash(&id(i)), ledger.hash(&id(i)));
            assert_eq!(ledger.hashed.borrow().ids.len(), 1);
        }
    }

    /// An entry longer than the room left in a chunk overflows it, and the next entry starts
    /// a new chunk: every entry starts within its chunk's first [`CHUNK`] bytes, so every place
    /// packs into the index's word (none is kept whole beside it).
    #[test]
    fn an_entry_that_overflows_its_chunk_ends_it() {
        let mut ledger = Ledger::default();
        // Entries of about 100 bytes, until the room left is between 4,096 and 4,296 bytes.
        let mut i = 0;
        while ledger.chunks.is_empty() || ledger.chunks[0].len() + 4_096 + 200 <= CHUNK {
            ledger.insert(&numbered(i).as_entry()).unwrap();
            i += 1;
        }
        assert_eq!(ledger.chunks.len(), 1);
        let long = entry("L-long", &"x".repeat(20_000));
        ledger.insert(&long.as_entry()).unwrap();
        assert_eq!(
            ledger.chunks.len(),
            1,
            "it overflows the chunk it starts in"
        );
        assert!(ledger.chunks[0].len() > CHUNK);
        for j in i..i + 1_000 {
            ledger.insert(&numbered(j).as_entry()).unwrap();
        }
        assert_eq!(ledger.chunks.len(), 2);
        assert!(ledger.by_hash.wide.is_empty());
        assert_eq!(ledger.get("L-long").unwrap(), Some(long));
        for j in [0, i - 1, i, i + 999] {
            assert_eq!(ledger.get(&format!("L-{j}")).unwrap(), Some(numbered(j)));
        }
    }

    const ABOUT: usize = super::super::ABOUT_TO_ROUTE;

    fn bytes_in_chunks(ledger: &Ledger) -> usize {
        ledger.chunks.iter().map(Vec::len).sum()
    }

    #[test]
    fn settled_entries_leave_memory_for_the_spill_and_still_answer() {
        let mut ledger = spilling_in_memory();
        let count = 200_000;
        // Each entry about 100 bytes: several chunks.
        for i in 0..count {
            ledger.insert(&numbered(i).as_entry()).unwrap();
            // Leads settle some time after they arrive; one in 1,000 stays in flight.
            if i >= 1000 && (i - 1000) % 1000 != 7 {
                ledger
                    .mark_settled(&format!("L-{}", i - 1000), None)
                    .unwrap();
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
        // Only the leads in flight have a place in memory; the settled are in the index.
        let in_flight = 1000 + (count - 1000) / 1000;
        assert_eq!(ledger.by_hash.len(), in_flight);
        let index = ledger.settled.as_ref().unwrap();
        assert_eq!(index.count as usize, count - in_flight);
        assert_eq!(index.runs.len(), (count - in_flight) / RUN);
        assert_eq!(index.pending.len(), (count - in_flight) % RUN);
        for i in 0..count {
            let id = format!("L-{i}");
            assert_eq!(ledger.get(&id), Ok(Some(numbered(i))), "{id}");
            let in_flight = i >= count - 1000 || i % 1000 == 7;
            assert_eq!(ledger.is_settled(&id), Ok(!in_flight), "{id}");
        }
        assert_eq!(ledger.get("L-unknown"), Ok(None));
        let mut unsettled = 0;
        ledger.for_each(false, &mut |_| unsettled += 1).unwrap();
        assert_eq!(unsettled, in_flight);
        let mut all = 0;
        ledger.for_each(true, &mut |_| all += 1).unwrap();
        assert_eq!(all, count);
        // Settling again changes nothing; a new entry for a settled id replaces it.
        ledger.mark_settled("L-5", None).unwrap();
        assert_eq!(ledger.get("L-5"), Ok(Some(numbered(5))));
        ledger.insert(&entry("L-5", "again").as_entry()).unwrap();
        assert_eq!(ledger.get("L-5"), Ok(Some(entry("L-5", "again"))));
        assert_eq!(ledger.is_settled("L-5"), Ok(false));
        let mut all = 0;
        ledger.for_each(true, &mut |_| all += 1).unwrap();
        assert_eq!(all, count);
        // Ids never seen are mostly answered by the filter, and never found.
        for i in count..count + 10_000 {
            assert_eq!(ledger.get(&format!("L-{i}")), Ok(None));
        }
    }

    #[test]
    fn leads_settled_as_they_are_recorded_leave_no_chunk_behind() {
        let mut ledger = spilling_in_memory();
        let count = 200_000;
        for i in 0..count {
            ledger.insert(&numbered(i).as_entry()).unwrap();
            ledger.mark_settled(&format!("L-{i}"), None).unwrap();
        }
        assert!(ledger.chunks.len() >= 4, "{} chunks", ledger.chunks.len());
        // Only the newest chunk holds bytes, and only its hashes are noted.
        let in_memory = bytes_in_chunks(&ledger);
        assert!(in_memory <= CHUNK, "{in_memory} bytes of entries in memory");
        let noted: usize = ledger.residents.iter().map(|r| r.hashes.len()).sum();
        assert!(noted * 100 <= CHUNK, "{noted} hashes noted");
        assert!(ledger.by_hash.is_empty());
        for i in (0..count).step_by(997) {
            assert_eq!(ledger.get(&format!("L-{i}")), Ok(Some(numbered(i))));
        }
        // Settling a settled lead again changes nothing: every lead is visited once.
        ledger.mark_settled("L-5", None).unwrap();
        let mut all = 0;
        ledger.for_each(true, &mut |_| all += 1).unwrap();
        assert_eq!(all, count);
    }

    #[test]
    fn a_lead_routed_again_keeps_its_current_decision_beside_the_recorded_one() {
        let mut ledger = spilling_in_memory();
        ledger.insert(&entry("L-1", "first").as_entry()).unwrap();
        ledger.insert(&entry("L-2", "other").as_entry()).unwrap();
        let current = entry("L-1", "routed again").decision;
        ledger.mark_settled("L-1", Some(&current)).unwrap();
        assert_eq!(ledger.get("L-1"), Ok(Some(entry("L-1", "first"))));
        assert_eq!(ledger.settled_current("L-1"), Ok(Some(current)));
        assert_eq!(ledger.is_settled("L-1"), Ok(true));
        ledger.mark_settled("L-2", None).unwrap();
        assert_eq!(ledger.settled_current("L-2"), Ok(None));
        assert_eq!(ledger.settled_current("L-3"), Ok(None));
        // Without a spill there is no place for it.
        let mut plain = Ledger::default();
        plain.insert(&entry("L-1", "first").as_entry()).unwrap();
        assert!(!plain.keeps_current("L-1"));
        assert_eq!(
            plain
                .mark_settled("L-1", Some(&entry("L-1", "again").decision))
                .map_err(|error| error.kind),
            Err(StateErrorKind::Failed)
        );
        assert_eq!(plain.is_settled("L-1"), Ok(false));
    }

    #[test]
    fn a_spill_that_cannot_be_written_is_an_error_and_the_entry_stays() {
        let mut ledger = Ledger::spilling(
            Box::new(VecSpill {
                bytes: Vec::new(),
                broken: true,
            }),
            Box::<VecSpill>::default(),
        );
        ledger.insert(&entry("L-1", "x").as_entry()).unwrap();
        let error = ledger.mark_settled("L-1", None).unwrap_err();
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
        ledger.insert(&entry("L-1", "x").as_entry()).unwrap();
        let before = bytes_in_chunks(&ledger);
        ledger.mark_settled("L-1", None).unwrap();
        assert_eq!(ledger.is_settled("L-1"), Ok(true));
        assert_eq!(bytes_in_chunks(&ledger), before);
        assert_eq!(ledger.get("L-1"), Ok(Some(entry("L-1", "x"))));
        assert!(ledger.residents.is_empty());
    }
}
