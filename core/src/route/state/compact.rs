//! A compact binary form of a ledger entry ([`Recorded`]: the [`Decision`], the lead's
//! fingerprint, when it was decided, and its trace) for ledgers kept in memory and the traces
//! kept on disk: strings as length-prefixed bytes, times as seconds, nanoseconds and offset
//! (at full width, packed, or each from the time before: [`Layout`]). Writing it is a few
//! copies (no escaping, no formatting), so recording every decision costs little; reading it
//! back is only needed for repeats and explanations.

use super::{EntryRef, Fingerprint, Recorded};
use crate::graph::PathStep;
use crate::model::time::LocalTime;
use crate::model::{LeadId, LeadValue, Scalar};
use crate::route::decision::{
    Action, ActionTrace, CandidateTrace, Decision, Due, Escalation, Name, Reason, RecordedTrace,
    RuleRef,
};
use crate::route::reader::same_bytes;

/// Appends a ledger entry's compact form (its decision first, so [`lead_of`] reads the id).
pub fn encode_recorded(entry: &EntryRef<'_>, out: &mut Vec<u8>) {
    encode_recorded_with(entry, out, &mut Names::Inline);
}

/// [`encode_recorded`] with the entry's names (rule, pool, rep, queue, escalation target,
/// reasons, tags, scores and policy hash; never the lead id) written as their index in `table`,
/// which learns the new ones: a ledger that keeps millions of entries of a few policies keeps
/// each name once, not once per entry. It is laid out as `layout` says. Read back with
/// [`decode_recorded_of`] (or, in a layout that keeps the lead id, [`decode_recorded_interned`]),
/// the same table and the same `layout`.
pub fn encode_recorded_interned(
    entry: &EntryRef<'_>,
    out: &mut Vec<u8>,
    table: &mut NameTable,
    layout: Layout,
) {
    encode_recorded_with(entry, out, &mut Names::Table(table, layout, None));
}

/// How an entry's times and whole numbers (a trace's integer, a score) are written, and in the
/// newest layout its parts too. Lengths, counts, indexes and line numbers are LEB128 in each;
/// fingerprints (hashes) keep eight bytes (in [`Layout::Relative`] the schema digest is a
/// name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// At their full width, little-endian: an instant 12 bytes, a local time 13 (17 with an
    /// offset). The inline form ([`encode_recorded`]: exports, PostgreSQL) and the entries
    /// SQLite files of tables version 8 to 11 hold (their `form` 1).
    Fixed,
    /// A time as a byte saying which parts follow, 5 bytes of seconds, 4 of nanoseconds if
    /// any and 3 of offset if any ([`put_packed_time`]): a time of whole seconds with an
    /// offset 9 bytes instead of 17, an instant 6 instead of 12 (each 4 more with a fraction of
    /// a second); whole numbers LEB128, zigzagged. Ledgers kept in memory and SQLite's `form` 2.
    Packed,
    /// [`Layout::Packed`], and less: the lead id is left out (a store that keeps it beside
    /// the entry, as its key, gives it back to [`decode_recorded_of`]); the lead's time
    /// comes first, and every time after the entry's first is its distance in seconds from the
    /// one before, with its offset as "the same as before" when it is ([`put_time_after`]: a
    /// due time 15 minutes after the lead's 3 bytes instead of 9); the fingerprint's schema
    /// digest is a name, since every lead a policy reads has the same; a whole float is
    /// written as a whole number; a path step's kind and its value's are one byte, and so are
    /// a candidate's three flags. SQLite's `form` 3: the benchmark's entries 67 bytes instead
    /// of 109.
    Relative,
}

fn encode_recorded_with(entry: &EntryRef<'_>, out: &mut Vec<u8>, names: &mut Names<'_>) {
    if names.layout() == Layout::Relative {
        encode_relative(entry, out, names);
        return;
    }
    encode_with(entry.decision, out, names);
    match entry.fingerprint {
        None => out.push(0),
        Some(fingerprint) => {
            out.push(1);
            out.extend_from_slice(&fingerprint.lead.to_le_bytes());
            out.extend_from_slice(&fingerprint.schema.to_le_bytes());
        }
    }
    names.put_instant(out, entry.decided_at);
    names.put_name(out, entry.policy_hash);
    match &entry.trace {
        None => out.push(0),
        Some(trace) => {
            out.push(1);
            encode_trace(trace, out, names);
        }
    }
    // Added after the first entries were written: an entry that ends here has none.
    if let Some(lead_at) = entry.lead_at {
        names.put_instant(out, lead_at);
    }
}

/// The bits of a [`Layout::Relative`] entry's first byte: which of its optional parts follow.
const HAS_LEAD_AT: u8 = 1;
const HAS_FINGERPRINT: u8 = 2;
const HAS_TRACE: u8 = 4;

/// An entry in [`Layout::Relative`]: a byte saying which optional parts it has, the lead's time
/// (the first time, in full), the decision without its lead id, the fingerprint, the routing
/// time, the policy hash and the trace.
fn encode_relative(entry: &EntryRef<'_>, out: &mut Vec<u8>, names: &mut Names<'_>) {
    let mut parts = 0;
    if entry.lead_at.is_some() {
        parts |= HAS_LEAD_AT;
    }
    if entry.fingerprint.is_some() {
        parts |= HAS_FINGERPRINT;
    }
    if entry.trace.is_some() {
        parts |= HAS_TRACE;
    }
    out.push(parts);
    if let Some(lead_at) = entry.lead_at {
        names.put_instant(out, lead_at);
    }
    encode_with(entry.decision, out, names);
    if let Some(fingerprint) = entry.fingerprint {
        out.extend_from_slice(&fingerprint.lead.to_le_bytes());
        names.put_schema(out, fingerprint.schema);
    }
    names.put_instant(out, entry.decided_at);
    names.put_name(out, entry.policy_hash);
    if let Some(trace) = entry.trace {
        encode_trace(trace, out, names);
    }
}

/// Whether a kept name is `text`: at once when `text` is the kept name itself (the same
/// address and length: the table holds the name, so its memory cannot hold another text),
/// else by comparing the bytes.
fn same_name(kept: &Name, text: &str) -> bool {
    (std::ptr::eq(kept.as_ptr(), text.as_ptr()) && kept.len() == text.len()) || **kept == *text
}

/// Where the strings of an entry other than its lead id go (and, for [`Layout::Relative`],
/// the time written before, which the next is written from).
enum Names<'t> {
    /// Written in full, each time.
    Inline,
    /// As an index into a table of the names seen before; numbers as the entry's layout says.
    Table(&'t mut NameTable, Layout, Option<LocalTime>),
}

impl Names<'_> {
    /// How the entry's numbers are written: at full width inline, as chosen with a table.
    fn layout(&self) -> Layout {
        match self {
            Names::Inline => Layout::Fixed,
            Names::Table(_, layout, _) => *layout,
        }
    }

    /// Writes an instant (a time without an offset) as the layout says.
    fn put_instant(&mut self, out: &mut Vec<u8>, instant: jiff::Timestamp) {
        match self {
            Names::Table(_, Layout::Relative, before) => put_relative(
                out,
                LocalTime {
                    instant,
                    offset: None,
                },
                before,
            ),
            _ => put_instant(out, instant, self.layout()),
        }
    }

    /// Writes a time as the layout says.
    fn put_time(&mut self, out: &mut Vec<u8>, time: LocalTime) {
        match self {
            Names::Table(_, Layout::Relative, before) => put_relative(out, time, before),
            _ => put_time(out, time, self.layout()),
        }
    }

    /// A fingerprint's schema digest as a name (every lead a policy reads has the same one).
    fn put_schema(&mut self, out: &mut Vec<u8>, schema: u64) {
        match self {
            Names::Inline => out.extend_from_slice(&schema.to_le_bytes()),
            Names::Table(table, ..) => table.put_schema(out, schema),
        }
    }

    fn put(&mut self, out: &mut Vec<u8>, text: &str) {
        match self {
            Names::Inline => put_str(out, text),
            Names::Table(table, ..) => {
                table.put(out, text, None);
            }
        }
    }

    /// [`Names::put`] of a shared name: a table that learns it keeps that name itself, so that
    /// the next time the same shared name is put it is recognised by its address.
    fn put_name(&mut self, out: &mut Vec<u8>, name: &Name) {
        match self {
            Names::Inline => put_str(out, name),
            Names::Table(table, ..) => table.put_shared(out, name),
        }
    }

    /// [`Names::put`] of one of the program's own texts (a strategy's name): a table knows it
    /// again by its address.
    fn put_static(&mut self, out: &mut Vec<u8>, text: &'static str) {
        match self {
            Names::Inline => put_str(out, text),
            Names::Table(table, ..) => table.put_static(out, text),
        }
    }

    /// Writes `text` in full, also with a table: a lead's own value (a field on the rule's
    /// path), which would only fill a table that keeps names for good.
    fn put_full(&mut self, out: &mut Vec<u8>, text: &str) {
        if let Names::Table(..) = self {
            out.push(0);
        }
        put_str(out, text);
    }
}

/// The names a ledger in memory has seen, each kept once; entries hold their index. A name
/// longer than [`NameTable::LONGEST`], or met once the table holds [`NameTable::MOST`], is
/// written in full instead: some names come from leads (a rep named by a field, an account in
/// a reason), and a table of them must not grow without bound. Names are hashed with the
/// standard library's keyed hash, so leads cannot be written to collide.
#[derive(Debug, Default)]
pub struct NameTable {
    names: Vec<std::sync::Arc<str>>,
    index: std::collections::HashMap<std::sync::Arc<str>, u32>,
    /// A shortcut in front of `index` for the names met again and again (a policy's rules,
    /// pools, reps, its hash): per slot, chosen by a cheap mix of a name's length and words,
    /// the index + 1 of the last name put there (0: none), compared in full before
    /// it is used, so a slot left by a forgotten name or taken by another only misses. A miss
    /// falls back to the keyed hash.
    recent: RecentNames,
    /// A shortcut in front of `recent` for shared names ([`NameTable::put_shared`]): per slot,
    /// chosen by a name's address, the index + 1 of the last shared name the table keeps
    /// itself that was put there. The table holds that name, so its memory holds no other
    /// text while it is kept: the same address is the same name, found without reading it.
    by_address: AddressSlots,
    /// The program's own texts put ([`NameTable::put_static`]: a strategy's name), by their
    /// address and length, with their index: such a text never changes, so the same address
    /// and length are the same name, found without hashing it.
    statics: Vec<(usize, usize, u32)>,
    /// The schema digest put last ([`NameTable::put_schema`]) and its index: a policy's leads
    /// all have the same, found without writing out its text.
    schema: Option<(u64, u32)>,
}

/// A shortcut in front of a name table's search: per slot, the index + 1 of the last name put
/// there (0: none). What a slot answers is checked before it is used.
#[derive(Debug)]
struct Shortcut<const SLOTS: usize>(Box<[u32; SLOTS]>);

impl<const SLOTS: usize> Default for Shortcut<SLOTS> {
    fn default() -> Shortcut<SLOTS> {
        Shortcut(Box::new([0; SLOTS]))
    }
}

impl<const SLOTS: usize> Shortcut<SLOTS> {
    /// The slot of a value already mixed from a name: its high bits, multiplied once more.
    fn slot_of(mixed: u64) -> usize {
        (mixed.wrapping_mul(SHORTCUT_MIX) >> (64 - SLOTS.trailing_zeros())) as usize
    }

    /// The index of the name last put at `slot`, if any.
    fn kept(&self, slot: usize) -> Option<u32> {
        self.0.get(slot).and_then(|kept| kept.checked_sub(1))
    }

    fn keep(&mut self, slot: usize, index: u32) {
        if let Some(kept) = self.0.get_mut(slot) {
            *kept = index + 1;
        }
    }
}

/// The multiplier the shortcuts mix with (the golden ratio's, as Fibonacci hashing uses).
const SHORTCUT_MIX: u64 = 0x9e37_79b9_7f4a_7c15;

/// [`NameTable::by_address`]'s slots.
type AddressSlots = Shortcut<1024>;

impl AddressSlots {
    /// The slot of the name at `name`'s address (allocations are 16-byte aligned: the low bits
    /// say nothing).
    fn slot(name: &Name) -> usize {
        Self::slot_of(name.as_ptr().addr() as u64 >> 4)
    }
}

/// [`NameTable::recent`]'s slots.
type RecentNames = Shortcut<4096>;

impl RecentNames {
    /// The slot of `text`: its length and every word of it, multiplied and folded (names of a
    /// generated policy differ anywhere: `r_territory_0_product_3_t1_medium_weak` and
    /// `..._t0_medium_weak`; sampling three words of them left such names in one slot, taking
    /// it from each other on every lead).
    fn slot(text: &str) -> usize {
        let bytes = text.as_bytes();
        let step = |mixed: u64, word: u64| {
            let mixed = (mixed ^ word).wrapping_mul(SHORTCUT_MIX);
            mixed ^ (mixed >> 29)
        };
        let mut mixed = bytes.len() as u64;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            mixed = step(mixed, u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // The last eight bytes when there are eight (one load), else the few there are.
            let word = match bytes
                .get(bytes.len().saturating_sub(8)..)
                .map(<[u8; 8]>::try_from)
            {
                Some(Ok(word)) => u64::from_le_bytes(word),
                _ => rest
                    .iter()
                    .rev()
                    .fold(0u64, |word, byte| (word << 8) | u64::from(*byte)),
            };
            mixed = step(mixed, word);
        }
        Self::slot_of(mixed)
    }
}

impl NameTable {
    const LONGEST: usize = 256;
    const MOST: usize = 1 << 16;

    /// [`NameTable::put`] of a shared name: when the table keeps that very name (not only its
    /// text), it is found by its address; else by its text, and the table keeps the shared
    /// name from then on (in place of a copy read back from a file), to find it by its
    /// address the next time.
    fn put_shared(&mut self, out: &mut Vec<u8>, name: &Name) {
        let slot = AddressSlots::slot(name);
        if let Some(kept) = self.by_address.kept(slot)
            && self
                .names
                .get(kept as usize)
                .is_some_and(|kept| std::sync::Arc::ptr_eq(kept, name))
        {
            put_u64(out, u64::from(kept) + 1);
            return;
        }
        let Some(index) = self.put(out, name, Some(name)) else {
            return;
        };
        if let Some(kept) = self.names.get_mut(index as usize) {
            if !std::sync::Arc::ptr_eq(kept, name) && **kept == **name {
                *kept = std::sync::Arc::clone(name);
            }
            if std::sync::Arc::ptr_eq(kept, name) {
                self.by_address.keep(slot, index);
            }
        }
    }

    /// A fingerprint's schema digest as the name [`schema_name`] gives it.
    fn put_schema(&mut self, out: &mut Vec<u8>, schema: u64) {
        if let Some((kept, index)) = self.schema
            && kept == schema
        {
            put_u64(out, u64::from(index) + 1);
            return;
        }
        let text = schema_name(schema);
        if let Some(index) = self.put(out, &text, None) {
            self.schema = Some((schema, index));
        }
    }

    /// The most texts [`NameTable::statics`] holds (a trace names four strategies).
    const STATICS: usize = 16;

    /// [`NameTable::put`] of one of the program's own texts.
    fn put_static(&mut self, out: &mut Vec<u8>, text: &'static str) {
        let key = (text.as_ptr().addr(), text.len());
        let known = self
            .statics
            .iter()
            .find(|(address, length, _)| (*address, *length) == key)
            .map(|(_, _, index)| *index)
            .filter(|index| {
                self.names
                    .get(*index as usize)
                    .is_some_and(|kept| same_bytes(kept.as_bytes(), text.as_bytes()))
            });
        if let Some(index) = known {
            put_u64(out, u64::from(index) + 1);
            return;
        }
        if let Some(index) = self.put(out, text, None)
            && self.statics.len() < Self::STATICS
        {
            self.statics
                .retain(|(address, length, _)| (*address, *length) != key);
            self.statics.push((key.0, key.1, index));
        }
    }

    /// Writes `text` as `index + 1`, or as 0 and the text in full; a new name is kept as
    /// `shared` when it is given (the same text, shared). Answers the index written, if any.
    fn put(&mut self, out: &mut Vec<u8>, text: &str, shared: Option<&Name>) -> Option<u32> {
        if text.len() > Self::LONGEST {
            out.push(0);
            put_str(out, text);
            return None;
        }
        let slot = RecentNames::slot(text);
        if let Some(recent) = self.recent.kept(slot)
            && self
                .names
                .get(recent as usize)
                .is_some_and(|name| same_name(name, text))
        {
            put_u64(out, u64::from(recent) + 1);
            return Some(recent);
        }
        match self
            .index
            .get(text)
            .copied()
            .or_else(|| self.add(text, shared))
        {
            Some(index) => {
                self.recent.keep(slot, index);
                put_u64(out, u64::from(index) + 1);
                Some(index)
            }
            None => {
                out.push(0);
                put_str(out, text);
                None
            }
        }
    }

    /// Appends a name the table does not hold, as the next index; `None` once it is full.
    fn add(&mut self, text: &str, shared: Option<&Name>) -> Option<u32> {
        if self.names.len() >= Self::MOST {
            return None;
        }
        let index = u32::try_from(self.names.len()).ok()?;
        let name: std::sync::Arc<str> = match shared {
            Some(shared) if **shared == *text => std::sync::Arc::clone(shared),
            _ => text.into(),
        };
        self.names.push(std::sync::Arc::clone(&name));
        self.index.insert(name, index);
        Some(index)
    }

    fn get(&self, index: u64) -> Option<&str> {
        self.shared(index).map(|name| &**name)
    }

    fn shared(&self, index: u64) -> Option<&Name> {
        self.names.get(usize::try_from(index).ok()?)
    }

    /// How many names the table holds; the next name learned gets this index.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the table holds no name yet.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The names from index `start` on, in index order: what a store that keeps the table
    /// beside its entries writes after encoding an entry.
    pub fn names_from(&self, start: usize) -> impl Iterator<Item = &str> {
        self.names.iter().skip(start).map(|name| &**name)
    }

    /// Appends a name read back from a store that keeps the table, as the next index. Refused
    /// (`false`) for a name the table already holds, one longer than it takes, or a full
    /// table: the store's copy is then not one this table wrote.
    pub fn learn(&mut self, name: &str) -> bool {
        name.len() <= Self::LONGEST
            && !self.index.contains_key(name)
            && self.add(name, None).is_some()
    }

    /// Forgets the names from index `length` on (a store's transaction that learned them was
    /// rolled back).
    pub fn truncate(&mut self, length: usize) {
        for name in self.names.drain(length.min(self.names.len())..) {
            self.index.remove(&name);
        }
        self.statics
            .retain(|(_, _, index)| (*index as usize) < length);
        self.schema = self.schema.filter(|(_, index)| (*index as usize) < length);
    }
}

/// The name a schema digest is kept as in a name table: `schema ` and 16 hex digits.
fn schema_name(schema: u64) -> String {
    format!("schema {schema:016x}")
}

/// The schema digest of a name [`schema_name`] made.
fn schema_of_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("schema ")?;
    if digits.len() != 16 {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

/// Reads a ledger entry written by [`encode_recorded`]; `None` if the bytes are not one.
pub fn decode_recorded(bytes: &[u8]) -> Option<Recorded> {
    decode_recorded_with(Input::new(bytes, Layout::Fixed), None)
}

/// Reads a ledger entry written by [`encode_recorded_interned`] with the table it filled and
/// the same `layout` (not [`Layout::Relative`], whose entries hold no lead id: see
/// [`decode_recorded_of`]).
pub fn decode_recorded_interned(
    bytes: &[u8],
    table: &NameTable,
    layout: Layout,
) -> Option<Recorded> {
    decode_recorded_with(Input::new(bytes, layout), Some(table))
}

/// Reads the ledger entry of `lead` written by [`encode_recorded_interned`] with the table it
/// filled and the same `layout`: in [`Layout::Relative`] the lead id is `lead`; in the others
/// the entry's own, which must be `lead`.
pub fn decode_recorded_of(
    lead: &str,
    bytes: &[u8],
    table: &NameTable,
    layout: Layout,
) -> Option<Recorded> {
    let mut input = Input::new(bytes, layout);
    input.lead = Some(lead);
    decode_recorded_with(input, Some(table)).filter(|recorded| *recorded.decision.lead == *lead)
}

fn decode_recorded_with(mut input: Input<'_>, table: Option<&NameTable>) -> Option<Recorded> {
    if input.layout == Layout::Relative {
        return decode_relative(input, table);
    }
    let decision = input.decision(table)?;
    let fingerprint = match input.byte()? {
        0 => None,
        _ => Some(Fingerprint {
            lead: u64::from_le_bytes(input.array()?),
            schema: u64::from_le_bytes(input.array()?),
        }),
    };
    let decided_at = input.instant()?;
    let policy_hash = input.shared_name(table)?;
    let trace = match input.byte()? {
        0 => None,
        _ => Some(input.trace(table)?),
    };
    let lead_at = if input.bytes.is_empty() {
        None
    } else {
        Some(input.instant()?)
    };
    input.bytes.is_empty().then_some(Recorded {
        decision,
        fingerprint,
        decided_at,
        lead_at,
        policy_hash,
        trace,
    })
}

/// Reads what [`encode_relative`] wrote.
fn decode_relative(mut input: Input<'_>, table: Option<&NameTable>) -> Option<Recorded> {
    let parts = input.byte()?;
    if parts & !(HAS_LEAD_AT | HAS_FINGERPRINT | HAS_TRACE) != 0 {
        return None;
    }
    let lead_at = match parts & HAS_LEAD_AT {
        0 => None,
        _ => Some(input.instant()?),
    };
    let decision = input.decision(table)?;
    let fingerprint = match parts & HAS_FINGERPRINT {
        0 => None,
        _ => Some(Fingerprint {
            lead: u64::from_le_bytes(input.array()?),
            schema: schema_of_name(&input.name(table)?)?,
        }),
    };
    let decided_at = input.instant()?;
    let policy_hash = input.shared_name(table)?;
    let trace = match parts & HAS_TRACE {
        0 => None,
        _ => Some(input.trace(table)?),
    };
    input.bytes.is_empty().then_some(Recorded {
        decision,
        fingerprint,
        decided_at,
        lead_at,
        policy_hash,
        trace,
    })
}

/// Appends a recorded trace's compact form: the path's steps (field or calendar ids with the
/// lead's values) and the actions with their candidates, their texts through `names`.
fn encode_trace(trace: &RecordedTrace, out: &mut Vec<u8>, names: &mut Names<'_>) {
    let layout = names.layout();
    put_u64(out, trace.path.len() as u64);
    for step in &trace.path {
        match layout {
            Layout::Relative => put_step_relative(out, step, names),
            Layout::Fixed | Layout::Packed => put_step(out, step, names, layout),
        }
    }
    put_u64(out, trace.actions.len() as u64);
    for action in &trace.actions {
        match action {
            ActionTrace::Queued { action } => {
                out.push(0);
                names.put_name(out, action);
            }
            ActionTrace::Failed { action, result } => {
                out.push(1);
                names.put_name(out, action);
                names.put(out, result);
            }
            ActionTrace::Candidates {
                action,
                strategy,
                candidates,
            } => {
                out.push(2);
                names.put_name(out, action);
                names.put_static(out, strategy.unwrap_or(""));
                put_u64(out, candidates.len() as u64);
                if layout == Layout::Relative {
                    for candidate in candidates {
                        put_candidate_relative(out, candidate, names);
                    }
                    continue;
                }
                for candidate in candidates {
                    names.put_name(out, &candidate.rep);
                    out.push(u8::from(candidate.eligible));
                    match candidate.load {
                        None => out.push(0),
                        Some(load) => {
                            out.push(1);
                            put_u64(out, load);
                        }
                    }
                    names.put_name(out, &candidate.why);
                    match &candidate.owner {
                        None => out.push(0),
                        Some(owner) => {
                            out.push(1);
                            names.put(out, owner);
                        }
                    }
                }
            }
        }
    }
}

/// A path step in [`Layout::Fixed`] or [`Layout::Packed`]: a byte of its kind, the field's or
/// calendar's id, then for a field a byte of its value's kind and the value.
fn put_step(out: &mut Vec<u8>, step: &PathStep, names: &mut Names<'_>, layout: Layout) {
    match step {
        PathStep::Field { field, value } => {
            out.push(0);
            put_u64(out, *field as u64);
            match value {
                None => out.push(0),
                Some(LeadValue::Variant(variant)) => {
                    out.push(1);
                    put_u64(out, u64::from(*variant));
                }
                Some(LeadValue::Str(text)) => {
                    out.push(2);
                    names.put_full(out, text);
                }
                Some(LeadValue::Scalar(Scalar::Int(int))) => {
                    out.push(3);
                    match layout {
                        Layout::Fixed => out.extend_from_slice(&int.to_le_bytes()),
                        Layout::Packed | Layout::Relative => put_u128(out, zigzag_128(*int)),
                    }
                }
                Some(LeadValue::Scalar(Scalar::Float(float))) => {
                    out.push(4);
                    out.extend_from_slice(&float.to_bits().to_le_bytes());
                }
            }
        }
        PathStep::Calendar { calendar, inside } => {
            out.push(if *inside { 2 } else { 1 });
            put_u64(out, *calendar as u64);
        }
    }
}

/// The first byte of a [`Layout::Relative`] path step: a field's, by the kind of the lead's
/// value, or a calendar's, by whether the lead was inside it.
const STEP_NO_VALUE: u8 = 0;
const STEP_VARIANT: u8 = 1;
const STEP_TEXT: u8 = 2;
const STEP_INTEGER: u8 = 3;
const STEP_WHOLE_FLOAT: u8 = 4;
const STEP_FLOAT: u8 = 5;
const STEP_OUTSIDE: u8 = 6;
const STEP_INSIDE: u8 = 7;

/// A path step in [`Layout::Relative`]: a byte of its kind and its value's, the field's or
/// calendar's id, then the value. A float that is a whole number (a deal of 199532) is written
/// as one, zigzagged, and read back as the same float.
fn put_step_relative(out: &mut Vec<u8>, step: &PathStep, names: &mut Names<'_>) {
    match step {
        PathStep::Field { field, value } => {
            let whole = match value {
                Some(LeadValue::Scalar(Scalar::Float(float))) => whole_float(*float),
                _ => None,
            };
            out.push(match (value, whole) {
                (None, _) => STEP_NO_VALUE,
                (Some(LeadValue::Variant(_)), _) => STEP_VARIANT,
                (Some(LeadValue::Str(_)), _) => STEP_TEXT,
                (Some(LeadValue::Scalar(Scalar::Int(_))), _) => STEP_INTEGER,
                (Some(LeadValue::Scalar(Scalar::Float(_))), Some(_)) => STEP_WHOLE_FLOAT,
                (Some(LeadValue::Scalar(Scalar::Float(_))), None) => STEP_FLOAT,
            });
            put_u64(out, *field as u64);
            match value {
                None => {}
                Some(LeadValue::Variant(variant)) => put_u64(out, u64::from(*variant)),
                Some(LeadValue::Str(text)) => names.put_full(out, text),
                Some(LeadValue::Scalar(Scalar::Int(int))) => put_u128(out, zigzag_128(*int)),
                Some(LeadValue::Scalar(Scalar::Float(float))) => match whole {
                    Some(whole) => put_u64(out, zigzag(whole)),
                    None => out.extend_from_slice(&float.to_bits().to_le_bytes()),
                },
            }
        }
        PathStep::Calendar { calendar, inside } => {
            out.push(if *inside { STEP_INSIDE } else { STEP_OUTSIDE });
            put_u64(out, *calendar as u64);
        }
    }
}

/// `float` as a whole number, when it is one that reads back as the same float: within 2^53
/// (where every whole number is a float), and not -0.0 (which would read back as 0.0).
fn whole_float(float: f64) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    (float.fract() == 0.0 && float.abs() <= EXACT && !(float == 0.0 && float.is_sign_negative()))
        .then_some(float as i64)
}

/// The bits of a [`Layout::Relative`] candidate's flags byte.
const CANDIDATE_ELIGIBLE: u8 = 1;
const CANDIDATE_LOAD: u8 = 2;
const CANDIDATE_OWNER: u8 = 4;

/// A candidate in [`Layout::Relative`]: the rep, a byte of flags (eligible; a load follows; an
/// owner follows), the load, why, and the owner.
fn put_candidate_relative(out: &mut Vec<u8>, candidate: &CandidateTrace, names: &mut Names<'_>) {
    names.put_name(out, &candidate.rep);
    let mut flags = 0;
    if candidate.eligible {
        flags |= CANDIDATE_ELIGIBLE;
    }
    if candidate.load.is_some() {
        flags |= CANDIDATE_LOAD;
    }
    if candidate.owner.is_some() {
        flags |= CANDIDATE_OWNER;
    }
    out.push(flags);
    if let Some(load) = candidate.load {
        put_u64(out, load);
    }
    names.put_name(out, &candidate.why);
    if let Some(owner) = &candidate.owner {
        names.put(out, owner);
    }
}

/// The strategy names a trace may hold.
const STRATEGIES: [&str; 4] = ["round_robin", "weighted", "least_loaded", "ordered"];

/// Appends the decision's compact form.
pub fn encode(decision: &Decision, out: &mut Vec<u8>) {
    encode_with(decision, out, &mut Names::Inline);
}

fn encode_with(decision: &Decision, out: &mut Vec<u8>, names: &mut Names<'_>) {
    let layout = names.layout();
    if layout != Layout::Relative {
        put_str(out, &decision.lead);
    }
    match &decision.rule {
        None => out.push(0),
        Some(rule) => {
            out.push(1);
            names.put_name(out, &rule.label);
            put_u64(out, rule.line as u64);
        }
    }
    // Tags and scores came later: an action byte with `EXTRAS` set is followed, after the
    // reasons, by them; entries written before have the bit clear and none.
    let extras = if decision.tags.is_empty() && decision.scores.is_empty() {
        0
    } else {
        EXTRAS
    };
    match &decision.action {
        Action::Pool { pool, rep } => {
            out.push(extras);
            names.put_name(out, pool);
            names.put_name(out, rep);
        }
        Action::Queue { queue } => {
            out.push(extras | 1);
            names.put_name(out, queue);
        }
        Action::Rep { rep } => {
            out.push(extras | 2);
            names.put_name(out, rep);
        }
        Action::Owner { rep } => {
            out.push(extras | 3);
            names.put_name(out, rep);
        }
        Action::Unassigned => out.push(extras | 4),
    }
    match &decision.due {
        None => out.push(0),
        Some(Due::Never) => out.push(1),
        Some(Due::At(time)) => {
            out.push(2);
            names.put_time(out, *time);
        }
    }
    put_u64(out, decision.escalation.len() as u64);
    for step in &decision.escalation {
        match step.at {
            None => out.push(0),
            Some(time) => {
                out.push(1);
                names.put_time(out, time);
            }
        }
        names.put_name(out, &step.to);
    }
    put_u64(out, decision.reasons.len() as u64);
    for reason in &decision.reasons {
        match &reason.action {
            None => out.push(0),
            Some(action) => {
                out.push(1);
                names.put_name(out, action);
            }
        }
        names.put_name(out, &reason.reason);
    }
    if extras != 0 {
        put_u64(out, decision.tags.len() as u64);
        for tag in &decision.tags {
            names.put_name(out, tag);
        }
        put_u64(out, decision.scores.len() as u64);
        for (score, value) in &decision.scores {
            names.put_name(out, score);
            match layout {
                Layout::Fixed => out.extend_from_slice(&value.to_le_bytes()),
                Layout::Packed | Layout::Relative => put_u64(out, zigzag(*value)),
            }
        }
    }
}

/// The bit of a decision's action byte that says tags and scores follow its reasons.
const EXTRAS: u8 = 0x80;

/// Reads a decision written by [`encode`]; `None` if the bytes are not one.
pub fn decode(bytes: &[u8]) -> Option<Decision> {
    let mut input = Input::new(bytes, Layout::Fixed);
    let decision = input.decision(None)?;
    input.bytes.is_empty().then_some(decision)
}

impl Input<'_> {
    /// A decision; its names from `table` when it was written with one.
    fn decision(&mut self, table: Option<&NameTable>) -> Option<Decision> {
        let input = self;
        let lead = match input.layout {
            Layout::Relative => LeadId::from(input.lead?),
            Layout::Fixed | Layout::Packed => LeadId::from(input.text()?),
        };
        let rule = match input.byte()? {
            0 => None,
            _ => Some(RuleRef {
                label: input.shared_name(table)?,
                line: usize::try_from(input.u64()?).ok()?,
            }),
        };
        let action_byte = input.byte()?;
        let action = match action_byte & !EXTRAS {
            0 => Action::Pool {
                pool: input.shared_name(table)?,
                rep: input.shared_name(table)?,
            },
            1 => Action::Queue {
                queue: input.shared_name(table)?,
            },
            2 => Action::Rep {
                rep: input.shared_name(table)?,
            },
            3 => Action::Owner {
                rep: input.shared_name(table)?,
            },
            4 => Action::Unassigned,
            _ => return None,
        };
        let due = match input.byte()? {
            0 => None,
            1 => Some(Due::Never),
            _ => Some(Due::At(input.time()?)),
        };
        let mut escalation = Vec::new();
        for _ in 0..input.u64()? {
            let at = match input.byte()? {
                0 => None,
                _ => Some(input.time()?),
            };
            escalation.push(Escalation {
                at,
                to: input.shared_name(table)?,
            });
        }
        let mut reasons = Vec::new();
        for _ in 0..input.u64()? {
            let action = match input.byte()? {
                0 => None,
                _ => Some(input.shared_name(table)?),
            };
            reasons.push(Reason {
                action,
                reason: input.shared_name(table)?,
            });
        }
        let mut tags = Vec::new();
        let mut scores = Vec::new();
        if action_byte & EXTRAS != 0 {
            for _ in 0..input.u64()? {
                tags.push(input.shared_name(table)?);
            }
            for _ in 0..input.u64()? {
                let score = input.shared_name(table)?;
                let value = match input.layout {
                    Layout::Fixed => i64::from_le_bytes(input.array()?),
                    Layout::Packed | Layout::Relative => unzigzag(input.u64()?),
                };
                scores.push((score, value));
            }
        }
        Some(Decision {
            lead,
            rule,
            action,
            due,
            escalation,
            reasons,
            tags,
            scores,
        })
    }

    fn instant(&mut self) -> Option<jiff::Timestamp> {
        match self.layout {
            Layout::Fixed => jiff::Timestamp::new(
                i64::from_le_bytes(self.array()?),
                i32::from_le_bytes(self.array()?),
            )
            .ok(),
            Layout::Packed | Layout::Relative => match self.time()? {
                LocalTime {
                    instant,
                    offset: None,
                } => Some(instant),
                LocalTime {
                    offset: Some(_), ..
                } => None,
            },
        }
    }

    /// A path step written by [`put_step_relative`].
    fn step_relative(&mut self, table: Option<&NameTable>) -> Option<PathStep> {
        let kind = self.byte()?;
        let id = usize::try_from(self.u64()?).ok()?;
        let value = match kind {
            STEP_NO_VALUE => None,
            STEP_VARIANT => Some(LeadValue::Variant(u32::try_from(self.u64()?).ok()?)),
            STEP_TEXT => Some(LeadValue::Str(self.name(table)?)),
            STEP_INTEGER => Some(LeadValue::Scalar(Scalar::Int(unzigzag_128(self.u128()?)))),
            STEP_WHOLE_FLOAT => Some(LeadValue::Scalar(Scalar::Float(
                unzigzag(self.u64()?) as f64
            ))),
            STEP_FLOAT => Some(LeadValue::Scalar(Scalar::Float(f64::from_bits(
                u64::from_le_bytes(self.array()?),
            )))),
            STEP_OUTSIDE | STEP_INSIDE => {
                return Some(PathStep::Calendar {
                    calendar: id,
                    inside: kind == STEP_INSIDE,
                });
            }
            _ => return None,
        };
        Some(PathStep::Field { field: id, value })
    }

    /// A candidate written by [`put_candidate_relative`].
    fn candidate_relative(&mut self, table: Option<&NameTable>) -> Option<CandidateTrace> {
        let rep = self.shared_name(table)?;
        let flags = self.byte()?;
        if flags & !(CANDIDATE_ELIGIBLE | CANDIDATE_LOAD | CANDIDATE_OWNER) != 0 {
            return None;
        }
        let load = match flags & CANDIDATE_LOAD {
            0 => None,
            _ => Some(self.u64()?),
        };
        let why = self.shared_name(table)?;
        let owner = match flags & CANDIDATE_OWNER {
            0 => None,
            _ => Some(self.name(table)?),
        };
        Some(CandidateTrace {
            rep,
            eligible: flags & CANDIDATE_ELIGIBLE != 0,
            load,
            why,
            owner,
        })
    }

    /// A time written by [`put_relative`]: the entry's first in full, each one after from the
    /// one before.
    fn relative_time(&mut self) -> Option<LocalTime> {
        let time = match self.before {
            None => self.packed_time()?,
            Some(before) => self.time_after(&before)?,
        };
        let offset = time
            .offset
            .or_else(|| self.before.and_then(|before| before.offset));
        self.before = Some(LocalTime {
            instant: time.instant,
            offset,
        });
        Some(time)
    }

    /// A time written by [`put_time_after`] `before`.
    fn time_after(&mut self, before: &LocalTime) -> Option<LocalTime> {
        let first = self.u64()?;
        let seconds = before
            .instant
            .as_second()
            .checked_add(unzigzag(first >> 3))?;
        let nanos = match first & AFTER_NANOS {
            0 => 0,
            _ => i32::from_le_bytes(self.array()?),
        };
        let offset_seconds =
            |number: u64, unit: i64| i32::try_from(unzigzag(number).checked_mul(unit)?).ok();
        let offset = match first & AFTER_OFFSET_MASK {
            AFTER_NO_OFFSET => None,
            AFTER_SAME_OFFSET => Some(before.offset?),
            AFTER_QUARTERS => {
                Some(jiff::tz::Offset::from_seconds(offset_seconds(self.u64()?, 900)?).ok()?)
            }
            _ => Some(jiff::tz::Offset::from_seconds(offset_seconds(self.u64()?, 1)?).ok()?),
        };
        Some(LocalTime {
            instant: jiff::Timestamp::new(seconds, nanos).ok()?,
            offset,
        })
    }

    /// A time written by [`put_packed_time`].
    fn packed_time(&mut self) -> Option<LocalTime> {
        let parts = self.byte()?;
        if parts & !(PACKED_NANOS | PACKED_OFFSET) != 0 {
            return None;
        }
        let seconds = sign_extended::<5>(self.array()?);
        let nanos = match parts & PACKED_NANOS {
            0 => 0,
            _ => i32::from_le_bytes(self.array()?),
        };
        let offset = match parts & PACKED_OFFSET {
            0 => None,
            _ => {
                let seconds = i32::try_from(sign_extended::<3>(self.array()?)).ok()?;
                Some(jiff::tz::Offset::from_seconds(seconds).ok()?)
            }
        };
        Some(LocalTime {
            instant: jiff::Timestamp::new(seconds, nanos).ok()?,
            offset,
        })
    }

    fn trace(&mut self, table: Option<&NameTable>) -> Option<RecordedTrace> {
        let mut path = Vec::new();
        for _ in 0..self.u64()? {
            if self.layout == Layout::Relative {
                path.push(self.step_relative(table)?);
                continue;
            }
            let tag = self.byte()?;
            let id = usize::try_from(self.u64()?).ok()?;
            path.push(match tag {
                0 => PathStep::Field {
                    field: id,
                    value: match self.byte()? {
                        0 => None,
                        1 => Some(LeadValue::Variant(u32::try_from(self.u64()?).ok()?)),
                        2 => Some(LeadValue::Str(self.name(table)?)),
                        3 => Some(LeadValue::Scalar(Scalar::Int(match self.layout {
                            Layout::Fixed => i128::from_le_bytes(self.array()?),
                            Layout::Packed | Layout::Relative => unzigzag_128(self.u128()?),
                        }))),
                        4 => Some(LeadValue::Scalar(Scalar::Float(f64::from_bits(
                            u64::from_le_bytes(self.array()?),
                        )))),
                        _ => return None,
                    },
                },
                1 | 2 => PathStep::Calendar {
                    calendar: id,
                    inside: tag == 2,
                },
                _ => return None,
            });
        }
        let mut actions = Vec::new();
        for _ in 0..self.u64()? {
            actions.push(match self.byte()? {
                0 => ActionTrace::Queued {
                    action: self.shared_name(table)?,
                },
                1 => ActionTrace::Failed {
                    action: self.shared_name(table)?,
                    result: self.name(table)?,
                },
                2 => {
                    let action = self.shared_name(table)?;
                    let strategy = self.name(table)?;
                    let strategy = STRATEGIES.into_iter().find(|name| *name == strategy);
                    let mut candidates = Vec::new();
                    for _ in 0..self.u64()? {
                        if self.layout == Layout::Relative {
                            candidates.push(self.candidate_relative(table)?);
                            continue;
                        }
                        let rep = self.shared_name(table)?;
                        let eligible = self.byte()? != 0;
                        let load = match self.byte()? {
                            0 => None,
                            _ => Some(self.u64()?),
                        };
                        let why = self.shared_name(table)?;
                        let owner = match self.byte()? {
                            0 => None,
                            _ => Some(self.name(table)?),
                        };
                        candidates.push(CandidateTrace {
                            rep,
                            eligible,
                            load,
                            why,
                            owner,
                        });
                    }
                    ActionTrace::Candidates {
                        action,
                        strategy,
                        candidates,
                    }
                }
                _ => return None,
            });
        }
        Some(RecordedTrace {
            path,
            actions,
            starts: None,
        })
    }
}

/// The lead id of an encoded decision, without decoding the rest.
pub fn lead_of(bytes: &[u8]) -> Option<&str> {
    let mut input = Input::new(bytes, Layout::Fixed);
    let length = usize::try_from(input.u64()?).ok()?;
    std::str::from_utf8(input.take(length)?).ok()
}

/// LEB128: seven bits a byte, the lowest first; small numbers (lengths, lines) take one byte.
fn put_u64(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// [`put_u64`] of a wider number (a trace's integer); apart, so that the lengths and indexes
/// every entry writes stay on 64-bit arithmetic.
fn put_u128(out: &mut Vec<u8>, mut value: u128) {
    while value >= 0x80 {
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A signed number as an unsigned one that is small when the number is near zero: 0, -1, 1,
/// -2, … become 0, 1, 2, 3, …
fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

/// A little-endian signed number of `N` bytes, as an `i64`.
fn sign_extended<const N: usize>(bytes: [u8; N]) -> i64 {
    let mut wide = [0u8; 8];
    wide[8 - N..].copy_from_slice(&bytes);
    i64::from_le_bytes(wide) >> (8 * (8 - N))
}

fn zigzag_128(value: i128) -> u128 {
    ((value << 1) ^ (value >> 127)) as u128
}

fn unzigzag_128(value: u128) -> i128 {
    ((value >> 1) as i128) ^ -((value & 1) as i128)
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_u64(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

/// An instant at full width or packed ([`Layout::Relative`]'s are written by [`put_relative`]).
fn put_instant(out: &mut Vec<u8>, instant: jiff::Timestamp, layout: Layout) {
    match layout {
        Layout::Fixed => {
            out.extend_from_slice(&instant.as_second().to_le_bytes());
            out.extend_from_slice(&instant.subsec_nanosecond().to_le_bytes());
        }
        Layout::Packed | Layout::Relative => put_packed_time(out, instant, None),
    }
}

fn put_time(out: &mut Vec<u8>, time: LocalTime, layout: Layout) {
    match layout {
        Layout::Fixed => {
            put_instant(out, time.instant, layout);
            match time.offset {
                None => out.push(0),
                Some(offset) => {
                    out.push(1);
                    out.extend_from_slice(&offset.seconds().to_le_bytes());
                }
            }
        }
        Layout::Packed | Layout::Relative => put_packed_time(out, time.instant, time.offset),
    }
}

/// A time of a [`Layout::Relative`] entry: its first time packed in full, each one after it
/// by [`put_time_after`] the one before; `before` becomes this one (keeping the offset before
/// for a time without one, so that an instant between two local times of one zone does not
/// make the second write its offset again).
fn put_relative(out: &mut Vec<u8>, time: LocalTime, before: &mut Option<LocalTime>) {
    match before {
        None => put_packed_time(out, time.instant, time.offset),
        Some(before) => put_time_after(out, time, before),
    }
    let offset = time
        .offset
        .or_else(|| before.as_ref().and_then(|before| before.offset));
    *before = Some(LocalTime {
        instant: time.instant,
        offset,
    });
}

/// The bits of the low end of a relative time's first number ([`put_time_after`]).
const AFTER_NANOS: u64 = 1;
/// Its offset: none, the one before's, whole quarter hours (every zone's today), or seconds.
const AFTER_NO_OFFSET: u64 = 0;
const AFTER_SAME_OFFSET: u64 = 2;
const AFTER_QUARTERS: u64 = 4;
const AFTER_SECONDS: u64 = 6;
const AFTER_OFFSET_MASK: u64 = 6;

/// `time` after `before`: a LEB128 number of its distance in whole seconds (zigzagged, so that
/// an earlier time is as short) shifted past three bits, which say whether 4 bytes of
/// nanoseconds follow and how its offset is written (none; the same as `before`'s; a LEB128
/// number of zigzagged quarter hours; or of zigzagged seconds). A due time 15 minutes after the
/// lead's, in the lead's zone, is 3 bytes: 2 of distance, 1 of offset.
fn put_time_after(out: &mut Vec<u8>, time: LocalTime, before: &LocalTime) {
    let distance = time.instant.as_second() - before.instant.as_second();
    let nanos = time.instant.subsec_nanosecond();
    let mut low = if nanos == 0 { 0 } else { AFTER_NANOS };
    let mut offset_number = None;
    match time.offset {
        None => low |= AFTER_NO_OFFSET,
        Some(offset) if Some(offset) == before.offset => low |= AFTER_SAME_OFFSET,
        Some(offset) if offset.seconds() % 900 == 0 => {
            low |= AFTER_QUARTERS;
            offset_number = Some(zigzag(i64::from(offset.seconds() / 900)));
        }
        Some(offset) => {
            low |= AFTER_SECONDS;
            offset_number = Some(zigzag(i64::from(offset.seconds())));
        }
    }
    put_u64(out, zigzag(distance) << 3 | low);
    if nanos != 0 {
        out.extend_from_slice(&nanos.to_le_bytes());
    }
    if let Some(number) = offset_number {
        put_u64(out, number);
    }
}

/// A packed time's first byte: the bits of the parts that follow its seconds.
const PACKED_NANOS: u8 = 1;
const PACKED_OFFSET: u8 = 2;

/// A time in [`Layout::Packed`]: a byte saying which parts follow, the seconds since 1970 in
/// 5 bytes (jiff's times, years -9999 to 9999, fit in 40 bits), the nanoseconds in 4 if any,
/// the offset's seconds in 3 if any (jiff's offsets are within 26 hours). Fixed widths, so
/// writing one is a few stores: a time of whole seconds with an offset takes 9 bytes, not 17.
fn put_packed_time(out: &mut Vec<u8>, instant: jiff::Timestamp, offset: Option<jiff::tz::Offset>) {
    // Gathered in one 16-byte word, lowest byte first, written whole, and the unused bytes
    // dropped: a copy of a length known here is one store, where `length` bytes would call
    // `memcpy`.
    const FORTY_BITS: u64 = (1 << 40) - 1;
    const TWENTY_FOUR_BITS: u32 = (1 << 24) - 1;
    let mut word = u128::from(instant.as_second() as u64 & FORTY_BITS) << 8;
    let mut length = 6;
    let nanos = instant.subsec_nanosecond();
    if nanos != 0 {
        word |= u128::from(PACKED_NANOS) | u128::from(nanos as u32) << (8 * length);
        length += 4;
    }
    if let Some(offset) = offset {
        let seconds = offset.seconds() as u32 & TWENTY_FOUR_BITS;
        word |= u128::from(PACKED_OFFSET) | u128::from(seconds) << (8 * length);
        length += 3;
    }
    let start = out.len();
    out.extend_from_slice(&word.to_le_bytes());
    out.truncate(start + length);
}

struct Input<'a> {
    bytes: &'a [u8],
    layout: Layout,
    /// The lead id of a [`Layout::Relative`] entry, which holds none.
    lead: Option<&'a str>,
    /// In [`Layout::Relative`], the time read before (with the offset before, for a time
    /// without one), which the next is read from.
    before: Option<LocalTime>,
}

impl<'a> Input<'a> {
    fn new(bytes: &'a [u8], layout: Layout) -> Input<'a> {
        Input {
            bytes,
            layout,
            lead: None,
            before: None,
        }
    }

    fn take(&mut self, count: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < count {
            return None;
        }
        let (taken, rest) = self.bytes.split_at(count);
        self.bytes = rest;
        Some(taken)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|bytes| bytes[0])
    }

    fn u64(&mut self) -> Option<u64> {
        u64::try_from(self.u128()?).ok()
    }

    /// A LEB128 number; `None` past 128 bits.
    fn u128(&mut self) -> Option<u128> {
        let mut value = 0u128;
        for shift in (0..128).step_by(7) {
            let byte = self.byte()?;
            let bits = u128::from(byte & 0x7f);
            // The last byte's bits beyond the 128th must be zero.
            if shift == 126 && bits > 0b11 {
                return None;
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn string(&mut self) -> Option<String> {
        self.text().map(str::to_string)
    }

    fn text(&mut self) -> Option<&'a str> {
        let length = usize::try_from(self.u64()?).ok()?;
        std::str::from_utf8(self.take(length)?).ok()
    }

    /// A name written by [`Names::put`] or [`Names::put_name`], shared with the table that
    /// holds it.
    fn shared_name(&mut self, table: Option<&NameTable>) -> Option<Name> {
        let Some(table) = table else {
            return self.text().map(Name::from);
        };
        match self.u64()? {
            0 => self.text().map(Name::from),
            index => table.shared(index - 1).cloned(),
        }
    }

    /// A name written by [`Names::put`]: in full without a table, else an index into it (0:
    /// the name in full).
    fn name(&mut self, table: Option<&NameTable>) -> Option<String> {
        let Some(table) = table else {
            return self.string();
        };
        match self.u64()? {
            0 => self.string(),
            index => table.get(index - 1).map(str::to_string),
        }
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn time(&mut self) -> Option<LocalTime> {
        match self.layout {
            Layout::Packed => return self.packed_time(),
            Layout::Relative => return self.relative_time(),
            Layout::Fixed => {}
        }
        let instant = self.instant()?;
        let offset = match self.byte()? {
            0 => None,
            _ => Some(jiff::tz::Offset::from_seconds(i32::from_le_bytes(self.array()?)).ok()?),
        };
        Some(LocalTime { instant, offset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::wire::{decision_json, read_decision};

    /// A name's shortcut slot depends on every byte of it, at every length (a short name's
    /// word is gathered a byte at a time, a long one's last bytes overlap the word before).
    #[test]
    fn every_byte_of_a_name_moves_its_shortcut_slot() {
        let name = "territory_12_senior_anna_with_a_long_name";
        for length in 1..=name.len() {
            for at in 0..length {
                let slots: std::collections::HashSet<usize> = (b'a'..=b'z')
                    .map(|byte| {
                        let mut text = name.as_bytes()[..length].to_vec();
                        text[at] = byte;
                        RecentNames::slot(std::str::from_utf8(&text).unwrap())
                    })
                    .collect();
                assert!(slots.len() > 20, "length {length}, byte {at}: {slots:?}");
            }
        }
        // The rules of a generated policy (territory x product x tier x intent x fit) differ
        // in several places at once; few share a slot (about 4 of 180 by chance).
        let mut rules = Vec::new();
        for territory in 0..2 {
            for product in 0..3 {
                for tier in 0..5 {
                    for intent in ["low", "medium", "high"] {
                        for fit in ["weak", "strong"] {
                            rules.push(format!(
                                "r_territory_{territory}_product_{product}_t{tier}_{intent}_{fit}"
                            ));
                        }
                    }
                }
            }
        }
        let slots: std::collections::HashSet<usize> =
            rules.iter().map(|rule| RecentNames::slot(rule)).collect();
        assert!(slots.len() >= rules.len() - 10, "{} slots", slots.len());
    }

    #[test]
    fn entries_with_a_name_table_read_back_the_same_and_keep_each_name_once() {
        let long_reason = "x".repeat(NameTable::LONGEST + 1);
        let lines = [
            r#"{"lead":"L-1","rule":"hot","line":67,"action":"pool","pool":"senior","rep":"anna","due":"2026-11-23T10:15:00+01:00","escalation":[{"at":"2026-11-23T10:30:00+01:00","to":"backup"}],"tags":["call"],"scores":{"fit_score":70}}"#.to_string(),
            r#"{"lead":"L-2","rule":"hot","line":67,"action":"pool","pool":"senior","rep":"anna","due":"2026-11-23T10:15:00+01:00","escalation":[{"at":"2026-11-23T10:30:00+01:00","to":"backup"}],"tags":["call"],"scores":{"fit_score":70}}"#.to_string(),
            format!(
                r#"{{"lead":"L-3","rule":null,"action":"unassigned","reason":[{{"action":"pool senior","reason":"{long_reason}"}}]}}"#
            ),
        ];
        for layout in [Layout::Fixed, Layout::Packed, Layout::Relative] {
            let mut table = NameTable::default();
            let mut sizes = Vec::new();
            for (number, line) in lines.iter().enumerate() {
                let entry = Recorded {
                    decision: read_decision(line).unwrap(),
                    fingerprint: Some(Fingerprint { lead: 7, schema: 9 }),
                    decided_at: "2026-11-23T10:00:00Z".parse().unwrap(),
                    lead_at: Some("2026-11-23T09:00:00Z".parse().unwrap()),
                    policy_hash: "a".repeat(64).into(),
                    trace: None,
                };
                let mut bytes = Vec::new();
                encode_recorded_interned(&entry.as_entry(), &mut bytes, &mut table, layout);
                let lead = &*entry.decision.lead;
                if layout == Layout::Relative {
                    // Its id is the one its store gives: read without one, it is not an entry.
                    assert_eq!(decode_recorded_interned(&bytes, &table, layout), None);
                } else {
                    assert_eq!(lead_of(&bytes), Some(lead));
                }
                let read = decode_recorded_of(lead, &bytes, &table, layout).unwrap();
                assert_eq!(decision_json(&read.decision), *line, "entry {number}");
                assert_eq!(read.policy_hash, entry.policy_hash);
                assert_eq!(read.fingerprint, entry.fingerprint);
                assert_eq!(read.decided_at, entry.decided_at);
                assert_eq!(read.lead_at, entry.lead_at);
                assert_eq!(
                    decode_recorded_of(lead, &bytes[..bytes.len() - 1], &table, layout),
                    None
                );
                let mut inline = Vec::new();
                encode_recorded(&entry.as_entry(), &mut inline);
                sizes.push((bytes.len(), inline.len()));
            }
            // Every name is an index of one byte instead of its text (96 bytes of names here,
            // the policy hash's 64 among them), the first time as the second. Packed, the
            // four times take 9 + 9 + 6 + 6 bytes instead of 17 + 17 + 12 + 12, and the
            // score 70 two (zigzagged: 140) instead of eight. Relative, on top of that: no lead
            // id (4 bytes); the schema digest a name's index (7); one byte of parts instead of
            // the fingerprint's and the trace's (1); the lead's time first, in full, then the
            // due time 15 minutes after it, 2 bytes and its offset 1, the escalation 15 minutes
            // after that, 2 bytes and the same offset, and the routing time, 3 bytes: 14 bytes
            // instead of 30 (16).
            assert_eq!(sizes[0], sizes[1]);
            let saved = match layout {
                Layout::Fixed => 0,
                Layout::Packed => 8 + 8 + 6 + 6 + 6,
                Layout::Relative => 8 + 8 + 6 + 6 + 6 + 4 + 7 + 1 + 16,
            };
            assert_eq!(sizes[1].1 - sizes[1].0, 96 + saved, "{sizes:?}");
            // A name longer than the table takes is written in full, and still reads back.
            assert!(sizes[2].0 > NameTable::LONGEST, "{sizes:?}");
            assert!(
                !table
                    .names
                    .iter()
                    .any(|name| name.len() > NameTable::LONGEST)
            );
        }
    }

    /// A strategy's name is one of the program's own texts: found again by its address, and
    /// once the names after it are forgotten (a rolled-back batch learned it), learned again
    /// under its new index, never answered from the old one.
    #[test]
    fn a_strategy_name_is_found_by_its_address_and_relearned_after_a_rollback() {
        let entry = |lead: &str, strategy: &'static str| {
            Recorded {
            decision: read_decision(&format!(
                r#"{{"lead":"{lead}","rule":"hot","line":3,"action":"pool","pool":"senior","rep":"anna"}}"#
            ))
            .unwrap(),
            fingerprint: None,
            decided_at: "2026-11-23T10:00:00Z".parse().unwrap(),
            lead_at: None,
            policy_hash: "h".into(),
            trace: Some(RecordedTrace {
                path: Vec::new(),
                actions: vec![ActionTrace::Candidates {
                    action: "pool senior".into(),
                    strategy: Some(strategy),
                    candidates: vec![CandidateTrace {
                        rep: "anna".into(),
                        eligible: true,
                        load: Some(1),
                        why: "chosen".into(),
                        owner: None,
                    }],
                }],
                starts: None,
            }),
        }
        };
        let mut table = NameTable::default();
        let written = |table: &mut NameTable, entry: &Recorded| {
            let mut bytes = Vec::new();
            encode_recorded_interned(&entry.as_entry(), &mut bytes, table, Layout::Packed);
            let read = decode_recorded_interned(&bytes, table, Layout::Packed).unwrap();
            assert_eq!(read.trace, entry.trace);
            bytes
        };
        let first = entry("L-1", STRATEGIES[0]);
        let bytes = written(&mut table, &first);
        assert_eq!(table.statics.len(), 1);
        // The second time, every name is an index: the same bytes but the lead's.
        let again = written(&mut table, &entry("L-2", STRATEGIES[0]));
        assert_eq!(bytes.len(), again.len());
        assert!(table.len() > 1);
        // Another strategy, then everything after the rule forgotten.
        written(&mut table, &entry("L-3", STRATEGIES[2]));
        assert_eq!(table.statics.len(), 2);
        table.truncate(1);
        assert!(table.statics.is_empty());
        let learned = written(&mut table, &entry("L-4", STRATEGIES[2]));
        written(&mut table, &entry("L-5", STRATEGIES[2]));
        let strategies: Vec<&str> = table
            .statics
            .iter()
            .filter_map(|(_, _, index)| table.get(u64::from(*index)))
            .collect();
        assert_eq!(strategies, [STRATEGIES[2]]);
        assert!(!learned.is_empty());
    }

    /// Offsets a time may have: none, UTC, a whole hour, jiff's largest either way, and one of
    /// no whole quarter hour (Liberia's -0:44:30 of 1971).
    fn offsets_at_their_limits() -> [Option<jiff::tz::Offset>; 6] {
        [
            None,
            Some(jiff::tz::Offset::UTC),
            Some(jiff::tz::Offset::from_seconds(3_600).unwrap()),
            Some(jiff::tz::Offset::from_seconds(93_599).unwrap()),
            Some(jiff::tz::Offset::from_seconds(-93_599).unwrap()),
            Some(jiff::tz::Offset::from_seconds(-2_670).unwrap()),
        ]
    }

    /// Packed times and whole numbers read back exactly at their limits: jiff's first and last
    /// instants, a time before 1970 with a fraction, offsets of ±25:59:59, a trace's
    /// integers of 128 bits and negative scores; and a packed time with parts this build
    /// does not know is refused, not misread.
    #[test]
    fn packed_times_and_numbers_read_back_at_their_limits() {
        let offsets = offsets_at_their_limits();
        let instants = [
            jiff::Timestamp::MIN,
            jiff::Timestamp::MAX,
            jiff::Timestamp::UNIX_EPOCH,
            jiff::Timestamp::new(-1, -1).unwrap(),
            jiff::Timestamp::new(-86_400, -999_999_999).unwrap(),
            "2026-11-23T10:15:00.25Z".parse().unwrap(),
        ];
        let integers = [i128::MIN, i128::MAX, -1, 0, 1, i128::from(i64::MIN) - 1];
        for (n, instant) in instants.into_iter().enumerate() {
            for offset in offsets {
                let time = LocalTime { instant, offset };
                let integer = integers[n % integers.len()];
                let entry = Recorded {
                    decision: Decision {
                        due: Some(Due::At(time)),
                        escalation: vec![Escalation {
                            at: Some(time),
                            to: "backup".into(),
                        }],
                        scores: vec![("fit".into(), i64::MIN), ("intent".into(), -3)],
                        ..Decision::new("L-1")
                    },
                    fingerprint: None,
                    decided_at: instant,
                    lead_at: Some(instant),
                    policy_hash: "h".into(),
                    trace: Some(RecordedTrace {
                        path: vec![PathStep::Field {
                            field: 2,
                            value: Some(LeadValue::Scalar(Scalar::Int(integer))),
                        }],
                        actions: Vec::new(),
                        starts: None,
                    }),
                };
                for layout in [Layout::Fixed, Layout::Packed, Layout::Relative] {
                    let mut table = NameTable::default();
                    let mut bytes = Vec::new();
                    encode_recorded_interned(&entry.as_entry(), &mut bytes, &mut table, layout);
                    assert_eq!(
                        decode_recorded_of("L-1", &bytes, &table, layout).as_ref(),
                        Some(&entry),
                        "{instant} {offset:?} {layout:?}"
                    );
                }
            }
        }
        // A due time's first byte (after the lead, the rule, the action and the due byte)
        // with a part no build writes.
        let mut table = NameTable::default();
        let mut bytes = Vec::new();
        let entry = bare_entry(Decision {
            due: Some(Due::At(LocalTime {
                instant: jiff::Timestamp::UNIX_EPOCH,
                offset: None,
            })),
            ..Decision::new("L")
        });
        encode_recorded_interned(&entry.as_entry(), &mut bytes, &mut table, Layout::Packed);
        let parts = 1 + 1 + 1 + 1 + 1;
        assert_eq!(bytes[parts], 0);
        assert!(decode_recorded_interned(&bytes, &table, Layout::Packed).is_some());
        bytes[parts] = 4;
        assert_eq!(
            decode_recorded_interned(&bytes, &table, Layout::Packed),
            None
        );
    }

    /// In [`Layout::Relative`] each time is written from the one before: every pair of times
    /// from jiff's first to its last, in any order, with any offset (the same as before or
    /// not, whole quarter hours or not), a fraction of a second or none, reads back; so do a
    /// path's values of every kind (floats whole and not, -0.0, 2^53 and beyond) and a
    /// candidate's flags in every combination.
    #[test]
    fn relative_entries_read_back_whatever_their_times_and_values() {
        let offsets = offsets_at_their_limits();
        let instants = [
            jiff::Timestamp::MIN,
            jiff::Timestamp::MAX,
            jiff::Timestamp::new(-1, -1).unwrap(),
            "2026-11-23T10:15:00.25Z".parse().unwrap(),
            "2026-11-23T10:00:00Z".parse().unwrap(),
        ];
        let floats = [
            0.0,
            -0.0,
            199_532.0,
            -3.0,
            0.5,
            9_007_199_254_740_992.0,
            9_007_199_254_740_994.0,
            -9_007_199_254_740_992.0,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::INFINITY,
        ];
        let mut checked = 0;
        for (n, first) in instants.into_iter().enumerate() {
            for (m, second) in instants.into_iter().enumerate() {
                let offset = offsets[(n + m) % offsets.len()];
                let other = offsets[(n + 2 * m + 1) % offsets.len()];
                let float = floats[(n * instants.len() + m) % floats.len()];
                let candidates = (0..8u8)
                    .map(|flags| CandidateTrace {
                        rep: format!("rep{flags}").into(),
                        eligible: flags & 1 != 0,
                        load: (flags & 2 != 0).then_some(u64::from(flags) << 40),
                        why: "chosen".into(),
                        owner: (flags & 4 != 0).then(|| "by account".to_string()),
                    })
                    .collect();
                let entry = Recorded {
                    decision: Decision {
                        due: Some(Due::At(LocalTime {
                            instant: second,
                            offset,
                        })),
                        escalation: vec![
                            Escalation {
                                at: Some(LocalTime {
                                    instant: first,
                                    offset,
                                }),
                                to: "backup".into(),
                            },
                            Escalation {
                                at: None,
                                to: "review".into(),
                            },
                            Escalation {
                                at: Some(LocalTime {
                                    instant: second,
                                    offset: other,
                                }),
                                to: "backup".into(),
                            },
                        ],
                        ..Decision::new("L-1")
                    },
                    fingerprint: Some(Fingerprint {
                        lead: u64::MAX - n as u64,
                        schema: u64::MAX / (m as u64 + 1),
                    }),
                    decided_at: first,
                    lead_at: (n % 2 == 0).then_some(second),
                    policy_hash: "h".into(),
                    trace: Some(RecordedTrace {
                        path: vec![
                            PathStep::Field {
                                field: 0,
                                value: Some(LeadValue::Scalar(Scalar::Float(float))),
                            },
                            PathStep::Field {
                                field: 300,
                                value: None,
                            },
                            PathStep::Field {
                                field: 1,
                                value: Some(LeadValue::Variant(u32::MAX)),
                            },
                            PathStep::Field {
                                field: 2,
                                value: Some(LeadValue::Str("Ł-1".to_string())),
                            },
                            PathStep::Field {
                                field: 3,
                                value: Some(LeadValue::Scalar(Scalar::Int(i128::MIN))),
                            },
                            PathStep::Calendar {
                                calendar: 0,
                                inside: true,
                            },
                            PathStep::Calendar {
                                calendar: 7,
                                inside: false,
                            },
                        ],
                        actions: vec![ActionTrace::Candidates {
                            action: "pool senior".into(),
                            strategy: Some("weighted"),
                            candidates,
                        }],
                        starts: None,
                    }),
                };
                let mut table = NameTable::default();
                let mut bytes = Vec::new();
                encode_recorded_interned(
                    &entry.as_entry(),
                    &mut bytes,
                    &mut table,
                    Layout::Relative,
                );
                let read = decode_recorded_of("L-1", &bytes, &table, Layout::Relative);
                assert_eq!(read.as_ref(), Some(&entry), "{first} {second} {offset:?}");
                // -0.0 equals 0.0: its sign is checked by its bits.
                let Some(Some(PathStep::Field {
                    value: Some(LeadValue::Scalar(Scalar::Float(read_float))),
                    ..
                })) = read.map(|read| read.trace.and_then(|trace| trace.path.first().cloned()))
                else {
                    panic!("no float read back");
                };
                assert_eq!(read_float.to_bits(), float.to_bits());
                for cut in 0..bytes.len() {
                    assert_eq!(
                        decode_recorded_of("L-1", &bytes[..cut], &table, Layout::Relative),
                        None
                    );
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 25);
        // A parts byte that no build writes.
        let entry = |bytes: &[u8], table: &NameTable| {
            decode_recorded_of("L-1", bytes, table, Layout::Relative)
        };
        let mut table = NameTable::default();
        let mut bytes = Vec::new();
        encode_recorded_interned(
            &bare_entry(Decision::new("L-1")).as_entry(),
            &mut bytes,
            &mut table,
            Layout::Relative,
        );
        assert!(entry(&bytes, &table).is_some());
        bytes[0] |= 8;
        assert_eq!(entry(&bytes, &table), None);
    }

    /// A ledger entry of `decision` with nothing else that names anything but the hash `h`.
    fn bare_entry(decision: Decision) -> Recorded {
        Recorded {
            decision,
            fingerprint: None,
            decided_at: jiff::Timestamp::UNIX_EPOCH,
            lead_at: None,
            policy_hash: "h".into(),
            trace: None,
        }
    }

    #[test]
    fn names_that_share_a_shortcut_slot_are_told_apart() {
        // Same length, head and tail: only the middle differs; some share a slot.
        let names: Vec<String> = (0..4000)
            .map(|n| format!("r_territory_{n:04}_weak"))
            .collect();
        let slots: std::collections::HashSet<usize> =
            names.iter().map(|name| RecentNames::slot(name)).collect();
        assert!(slots.len() < names.len(), "no two names share a slot");
        assert!(
            slots.len() > RecentNames::default().0.len() / 2,
            "{} slots",
            slots.len()
        );
        let mut table = NameTable::default();
        let mut written = Vec::new();
        // Each name twice, interleaved, so that slots are taken over and met again.
        for round in 0..2 {
            for (n, name) in names.iter().enumerate() {
                let entry = bare_entry(Decision {
                    rule: Some(RuleRef {
                        label: name.as_str().into(),
                        line: n,
                    }),
                    ..Decision::new(format!("L-{round}-{n}"))
                });
                let mut bytes = Vec::new();
                encode_recorded_interned(&entry.as_entry(), &mut bytes, &mut table, Layout::Packed);
                written.push((entry, bytes));
            }
        }
        assert_eq!(table.len(), names.len() + 1);
        for (entry, bytes) in &written {
            assert_eq!(
                decode_recorded_interned(bytes, &table, Layout::Packed).as_ref(),
                Some(entry)
            );
        }
        // A forgotten name is not answered from the slot it held.
        table.truncate(1);
        let mut bytes = Vec::new();
        encode_recorded_interned(
            &written[5].0.as_entry(),
            &mut bytes,
            &mut table,
            Layout::Packed,
        );
        // The first entry's rule is kept; the fifth's rule and the hash come back as new.
        assert_eq!(table.len(), 3);
        assert_eq!(
            decode_recorded_interned(&bytes, &table, Layout::Packed).as_ref(),
            Some(&written[5].0)
        );
    }

    #[test]
    fn a_shared_name_is_kept_itself_and_known_by_address_or_text() {
        let mut table = NameTable::default();
        let pool: Name = "senior".into();
        let mut first = Vec::new();
        table.put_shared(&mut first, &pool);
        assert!(std::sync::Arc::ptr_eq(
            table.shared(0).expect("kept"),
            &pool
        ));
        // The same shared name, the same text from elsewhere, and another text of the same
        // length that takes the same shortcut slot are each answered by what they say.
        let mut again = Vec::new();
        table.put_shared(&mut again, &pool);
        let mut copy = Vec::new();
        table.put(&mut copy, &String::from("senior"), None);
        assert_eq!((&again, &copy), (&first, &first));
        let other: Name = (0..100_000)
            .map(|n| format!("s{n:05}"))
            .find(|text| RecentNames::slot(text) == RecentNames::slot("senior"))
            .expect("a six-letter name in the same slot")
            .into();
        let mut third = Vec::new();
        table.put_shared(&mut third, &other);
        assert_ne!(third, first);
        let mut fourth = Vec::new();
        table.put_shared(&mut fourth, &pool);
        assert_eq!(fourth, first);
        assert_eq!(table.get(0), Some("senior"));
        assert_eq!(table.get(1), Some(&*other));
    }

    #[test]
    fn a_name_read_back_is_replaced_by_the_shared_one_met_again() {
        let mut table = NameTable::default();
        assert!(table.learn("senior"));
        let pool: Name = "senior".into();
        let mut bytes = Vec::new();
        table.put_shared(&mut bytes, &pool);
        assert!(std::sync::Arc::ptr_eq(
            table.shared(0).expect("kept"),
            &pool
        ));
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn a_shared_name_the_table_keeps_is_found_by_its_address() {
        let written_as = |table: &mut NameTable, name: &Name| {
            let entry = bare_entry(Decision {
                rule: Some(RuleRef {
                    label: name.clone(),
                    line: 1,
                }),
                ..Decision::new("L-1")
            });
            let mut bytes = Vec::new();
            encode_recorded_interned(&entry.as_entry(), &mut bytes, table, Layout::Packed);
            let read = decode_recorded_interned(&bytes, table, Layout::Packed).expect("read back");
            assert_eq!(read, entry);
            bytes
        };
        // Read back from a file: the table holds its own copy of the text. Met as a shared
        // name, it is found by its text, and the table keeps the shared name from then on...
        let mut table = NameTable::default();
        assert!(table.learn("senior"));
        let pool: Name = "senior".into();
        let first = written_as(&mut table, &pool);
        assert!(std::sync::Arc::ptr_eq(
            table.shared(0).expect("kept"),
            &pool
        ));
        assert_eq!(table.by_address.kept(AddressSlots::slot(&pool)), Some(0));
        // ... and by its address after: the same bytes, no new name.
        assert_eq!(written_as(&mut table, &pool), first);
        assert_eq!(table.len(), 2, "the name and the policy hash");
        // Names whose addresses share a slot take it from each other and are told apart.
        let names: Vec<Name> = (0..4000).map(|n| Name::from(format!("rep_{n}"))).collect();
        let mut seen = std::collections::HashMap::new();
        let (a, b) = names
            .iter()
            .find_map(|name| {
                seen.insert(AddressSlots::slot(name), name)
                    .map(|earlier| (earlier.clone(), name.clone()))
            })
            .expect("two of 4,000 addresses in one of 1,024 slots");
        for _ in 0..3 {
            written_as(&mut table, &a);
            written_as(&mut table, &b);
        }
        assert_eq!(table.len(), 4);
        // A forgotten name's slot only misses: its index may hold another name now.
        table.truncate(0);
        let junior: Name = "junior".into();
        written_as(&mut table, &junior);
        assert_eq!(table.get(0), Some("junior"));
        written_as(&mut table, &pool);
        assert_eq!(table.get(2), Some("senior"));
    }

    #[test]
    fn a_full_name_table_writes_new_names_in_full() {
        let mut table = NameTable::default();
        let mut written = Vec::new();
        for n in 0..NameTable::MOST + 100 {
            let entry = bare_entry(Decision {
                reasons: vec![Reason {
                    action: None,
                    reason: format!("account `A-{n}` is not in the roster").into(),
                }],
                ..Decision::new(format!("L-{n}"))
            });
            let mut bytes = Vec::new();
            encode_recorded_interned(&entry.as_entry(), &mut bytes, &mut table, Layout::Packed);
            written.push((entry, bytes));
        }
        assert_eq!(table.names.len(), NameTable::MOST);
        for (entry, bytes) in written.iter().step_by(997).chain(written.last()) {
            let read = decode_recorded_interned(bytes, &table, Layout::Packed).unwrap();
            assert_eq!(read.decision, entry.decision);
        }
    }

    #[test]
    fn decisions_survive_the_compact_form() {
        for line in [
            r#"{"lead":"L-1","rule":"hot","line":67,"action":"pool","pool":"senior","rep":"anna","due":"2026-11-23T10:15:00+01:00","escalation":[{"at":"2026-11-23T10:30:00+01:00","to":"backup"}]}"#,
            r#"{"lead":"L-6","rule":"content","line":71,"action":"queue","queue":"nurture"}"#,
            r#"{"lead":"L-12","rule":"family","line":55,"action":"owner","rep":"maria","due":null,"escalation":[{"at":null,"to":"backup"}],"reason":[{"action":"owner of parent_account","reason":"account `Initech` is not in the roster"}]}"#,
            r#"{"lead":"ünï\"","rule":null,"action":"unassigned","due":"2026-11-23T09:00:00.25Z","reason":[{"reason":"no rule matches this lead"}]}"#,
        ] {
            let decision = read_decision(line).unwrap();
            let mut bytes = Vec::new();
            encode(&decision, &mut bytes);
            assert_eq!(lead_of(&bytes), Some(&*decision.lead));
            assert_eq!(decode(&bytes).as_ref(), Some(&decision));
            assert_eq!(decision_json(&decode(&bytes).unwrap()), line);
            assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
        }
    }
}
