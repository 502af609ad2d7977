//! What `previous rep of` remembers: for each (field, value), the leads that had it, with their
//! times and reps. In memory; with a [`Spill`], every [`RUN`] leads go to it as one run sorted
//! by value and time, so that a long `simulate` keeps about two bytes a remembered lead in
//! memory instead of the values themselves.

use super::bloom::Bloom;
use super::{Spill, StateError, StateErrorKind};
use jiff::Timestamp;
use std::collections::{BTreeMap, HashMap};

/// The leads remembered for one (field, value), by (lead time, lead id), with their rep. Most
/// values have a lead or two: a short sorted vector (a tree's first node alone takes hundreds
/// of bytes); a value with many leads, which may come in any order, a tree.
#[derive(Debug)]
enum ProspectLeads {
    Few(Vec<(Timestamp, Box<str>, Box<str>)>),
    Many(BTreeMap<(Timestamp, Box<str>), Box<str>>),
}

impl Default for ProspectLeads {
    fn default() -> ProspectLeads {
        ProspectLeads::Few(Vec::new())
    }
}

/// Leads of one value kept in a vector at most.
const FEW_PROSPECT_LEADS: usize = 16;

impl ProspectLeads {
    /// Remembers `lead` (at `lead_at`) with `rep`, in place of what it had; answers whether it
    /// is a new lead here.
    fn insert(&mut self, lead_at: Timestamp, lead: &str, rep: &str) -> bool {
        let few = match self {
            ProspectLeads::Many(tree) => {
                return tree.insert((lead_at, lead.into()), rep.into()).is_none();
            }
            ProspectLeads::Few(few) => few,
        };
        match few.binary_search_by(|(time, id, _)| (*time, &**id).cmp(&(lead_at, lead))) {
            Ok(found) => {
                if let Some(entry) = few.get_mut(found) {
                    entry.2 = rep.into();
                }
                false
            }
            Err(at) if few.len() < FEW_PROSPECT_LEADS => {
                few.insert(at, (lead_at, lead.into(), rep.into()));
                true
            }
            Err(_) => {
                let mut tree: BTreeMap<(Timestamp, Box<str>), Box<str>> = std::mem::take(few)
                    .into_iter()
                    .map(|(time, id, rep)| ((time, id), rep))
                    .collect();
                tree.insert((lead_at, lead.into()), rep.into());
                *self = ProspectLeads::Many(tree);
                true
            }
        }
    }

    /// The latest lead other than `lead` at a time from `from` to `to`, both in: its time, id
    /// and rep.
    fn previous(&self, lead: &str, from: Timestamp, to: Timestamp) -> Option<Found<'_>> {
        match self {
            ProspectLeads::Few(few) => {
                let end = few.partition_point(|(time, _, _)| *time <= to);
                few[..end]
                    .iter()
                    .rev()
                    .take_while(|(time, _, _)| *time >= from)
                    .find(|(_, id, _)| &**id != lead)
                    .map(|(time, id, rep)| (*time, &**id, &**rep))
            }
            ProspectLeads::Many(tree) => {
                // Every lead at or before `to`: those before the first key after it (all of
                // them when `to` is the last instant).
                let range = match to.checked_add(jiff::SignedDuration::from_nanos(1)) {
                    Ok(after) => tree.range(..(after, Box::<str>::from(""))),
                    Err(_) => tree.range(..),
                };
                range
                    .rev()
                    .take_while(|((time, _), _)| *time >= from)
                    .find(|((_, id), _)| &**id != lead)
                    .map(|((time, id), rep)| (*time, &**id, &**rep))
            }
        }
    }

    fn each(&self) -> Box<dyn Iterator<Item = Found<'_>> + '_> {
        match self {
            ProspectLeads::Few(few) => {
                Box::new(few.iter().map(|(time, id, rep)| (*time, &**id, &**rep)))
            }
            ProspectLeads::Many(tree) => {
                Box::new(tree.iter().map(|((time, id), rep)| (*time, &**id, &**rep)))
            }
        }
    }
}

/// Per value of a field, its leads.
type ValueLeads = HashMap<Box<str>, ProspectLeads, foldhash::fast::RandomState>;

/// A lead found for a value: its time, id and rep.
type Found<'a> = (Timestamp, &'a str, &'a str);

/// Leads remembered in memory before they go to the spill as a run.
const RUN: usize = 1 << 16;
/// A run is read in blocks of about this many bytes (a block ends after the record that
/// reaches it).
const BLOCK_BYTES: usize = 4096;
/// Bytes of a record before its value and lead id: hash, seconds, nanoseconds, field number,
/// rep number, value length, lead id length.
const HEADER: usize = 8 + 8 + 4 + 4 + 4 + 4 + 4;

/// The values `previous rep of` looks up, and the leads that had them.
#[derive(Default)]
pub(super) struct Prospects {
    /// Per field, per value, the leads remembered in memory.
    recent: HashMap<Box<str>, ValueLeads, foldhash::fast::RandomState>,
    /// Leads in `recent`.
    in_memory: usize,
    spilled: Option<Runs>,
    /// The spill was let go of: what went there cannot be found.
    released: bool,
}

impl std::fmt::Debug for Prospects {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Prospects")
            .field("fields", &self.recent.len())
            .field("in_memory", &self.in_memory)
            .field(
                "runs",
                &self.spilled.as_ref().map_or(0, |runs| runs.runs.len()),
            )
            .finish_non_exhaustive()
    }
}

/// The runs in the spill, and the numbers their records give field names and reps.
struct Runs {
    file: Box<dyn Spill>,
    /// Where the next run goes.
    end: u64,
    runs: Vec<Run>,
    /// Leads remembered in memory before they go to the file as a run.
    run_leads: usize,
    /// Bytes a block of a run reaches before the next begins.
    block_bytes: usize,
    /// Tests: hashes taken modulo this, so that values collide.
    #[cfg(test)]
    collide: Option<u64>,
    hasher: foldhash::fast::RandomState,
    names: Vec<Box<str>>,
    numbers: HashMap<Box<str>, u32>,
}

/// One run: its records sorted by (value hash, lead time, lead id).
struct Run {
    offset: u64,
    length: u64,
    filter: Bloom,
    /// Where each block starts in the run, with its first record's value hash and time.
    fences: Vec<(u64, Timestamp, u64)>,
    /// The earliest and the latest lead time in the run.
    earliest: Timestamp,
    latest: Timestamp,
}

/// A record of a run, read back.
struct Record<'a> {
    hash: u64,
    at: Timestamp,
    field: u32,
    rep: u32,
    key: &'a [u8],
    lead: &'a [u8],
}

fn spill_failed(doing: &str, error: &std::io::Error) -> StateError {
    StateError::new(
        StateErrorKind::Failed,
        format!("cannot {doing} the temporary file of `previous rep of` values: {error}"),
    )
}

fn unreadable() -> StateError {
    StateError::new(
        StateErrorKind::Corrupt,
        "a `previous rep of` value in the temporary file cannot be read".to_string(),
    )
}

/// The records of a block, in order.
struct Records<'a>(&'a [u8]);

impl<'a> Records<'a> {
    fn next_record(&mut self) -> Result<Record<'a>, StateError> {
        let bytes = self.0;
        let word = |at: usize| -> Result<u32, StateError> {
            let four = bytes.get(at..at + 4).ok_or_else(unreadable)?;
            Ok(u32::from_le_bytes(
                four.try_into().map_err(|_| unreadable())?,
            ))
        };
        let eight = |at: usize| -> Result<[u8; 8], StateError> {
            bytes
                .get(at..at + 8)
                .ok_or_else(unreadable)?
                .try_into()
                .map_err(|_| unreadable())
        };
        let hash = u64::from_le_bytes(eight(0)?);
        let seconds = i64::from_le_bytes(eight(8)?);
        let nanoseconds = i32::from_le_bytes(word(16)?.to_le_bytes());
        let at = Timestamp::new(seconds, nanoseconds).map_err(|_| unreadable())?;
        let (field, rep) = (word(20)?, word(24)?);
        let key_length = word(28)? as usize;
        let lead_length = word(32)? as usize;
        let key_end = HEADER.checked_add(key_length).ok_or_else(unreadable)?;
        let end = key_end.checked_add(lead_length).ok_or_else(unreadable)?;
        let key = bytes.get(HEADER..key_end).ok_or_else(unreadable)?;
        let lead = bytes.get(key_end..end).ok_or_else(unreadable)?;
        self.0 = bytes.get(end..).ok_or_else(unreadable)?;
        Ok(Record {
            hash,
            at,
            field,
            rep,
            key,
            lead,
        })
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, StateError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let record = self.next_record();
        if record.is_err() {
            self.0 = &[];
        }
        Some(record)
    }
}

impl Run {
    /// The latest record of (`field`, `key`) with `hash` other than `lead`, at a time from
    /// `from` to `to`: its time, lead id and rep number.
    fn previous(
        &self,
        file: &dyn Spill,
        (hash, field, key): (u64, u32, &str),
        lead: &str,
        (from, to): (Timestamp, Timestamp),
    ) -> Result<Option<(Timestamp, String, u32)>, StateError> {
        if !self.filter.may_hold(hash) {
            return Ok(None);
        }
        // The last block that starts at or before (hash, to) holds the latest record there;
        // earlier ones may hold more of the value.
        let Some(mut block) = self
            .fences
            .partition_point(|(fence_hash, fence_at, _)| (*fence_hash, *fence_at) <= (hash, to))
            .checked_sub(1)
        else {
            return Ok(None);
        };
        loop {
            let (first_hash, first_at, start) = self.fences[block];
            let end = self
                .fences
                .get(block + 1)
                .map_or(self.length, |(_, _, next)| *next);
            let mut bytes = vec![0; usize::try_from(end - start).map_err(|_| unreadable())?];
            file.read_at(self.offset + start, &mut bytes)
                .map_err(|error| spill_failed("read", &error))?;
            // In order: the last match at or before (hash, to) is the latest.
            let mut latest = None;
            for record in Records(&bytes) {
                let record = record?;
                if (record.hash, record.at) > (hash, to) {
                    break;
                }
                if record.hash == hash
                    && record.at >= from
                    && record.field == field
                    && record.key == key.as_bytes()
                    && record.lead != lead.as_bytes()
                {
                    latest = Some(record);
                }
            }
            if let Some(record) = latest {
                let lead = String::from_utf8(record.lead.to_vec()).map_err(|_| unreadable())?;
                return Ok(Some((record.at, lead, record.rep)));
            }
            // An earlier block holds more of the value only if this one starts inside it.
            if first_hash != hash || first_at < from {
                return Ok(None);
            }
            let Some(before) = block.checked_sub(1) else {
                return Ok(None);
            };
            block = before;
        }
    }
}

impl Runs {
    fn number(&mut self, name: &str) -> u32 {
        if let Some(number) = self.numbers.get(name) {
            return *number;
        }
        let number = self.names.len() as u32;
        self.names.push(name.into());
        self.numbers.insert(name.into(), number);
        number
    }

    fn hash(&self, field: &str, key: &str) -> u64 {
        let hash = std::hash::BuildHasher::hash_one(&self.hasher, (field, key));
        #[cfg(test)]
        if let Some(buckets) = self.collide {
            return hash % buckets;
        }
        hash
    }

    /// Writes `recent` as a new run, in one write.
    fn write(
        &mut self,
        recent: &HashMap<Box<str>, ValueLeads, foldhash::fast::RandomState>,
    ) -> Result<(), StateError> {
        let mut entries = Vec::with_capacity(self.run_leads);
        let mut length = 0;
        for (field, values) in recent {
            let field_number = self.number(field);
            for (key, leads) in values {
                let hash = self.hash(field, key);
                for (at, lead, rep) in leads.each() {
                    let rep = self.number(rep);
                    length += HEADER + key.len() + lead.len();
                    entries.push((hash, at, lead, field_number, &**key, rep));
                }
            }
        }
        entries.sort_unstable_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
        let Some(earliest) = entries.iter().map(|entry| entry.1).min() else {
            return Ok(());
        };
        let latest = entries
            .iter()
            .map(|entry| entry.1)
            .max()
            .unwrap_or(earliest);
        let mut filter = Bloom::for_entries(entries.len());
        let mut fences = Vec::with_capacity(length.div_ceil(self.block_bytes));
        let mut bytes = Vec::with_capacity(length);
        let mut block_start = None;
        for (hash, at, lead, field, key, rep) in entries {
            if block_start.is_none_or(|start| bytes.len() - start >= self.block_bytes) {
                block_start = Some(bytes.len());
                fences.push((hash, at, bytes.len() as u64));
            }
            filter.add(hash);
            let too_long = || {
                StateError::new(
                    StateErrorKind::Failed,
                    "a `previous rep of` value or lead id is longer than 4 GiB".to_string(),
                )
            };
            bytes.extend_from_slice(&hash.to_le_bytes());
            bytes.extend_from_slice(&at.as_second().to_le_bytes());
            bytes.extend_from_slice(&at.subsec_nanosecond().to_le_bytes());
            bytes.extend_from_slice(&field.to_le_bytes());
            bytes.extend_from_slice(&rep.to_le_bytes());
            for text in [key, lead] {
                let length = u32::try_from(text.len()).map_err(|_| too_long())?;
                bytes.extend_from_slice(&length.to_le_bytes());
            }
            bytes.extend_from_slice(key.as_bytes());
            bytes.extend_from_slice(lead.as_bytes());
        }
        self.file
            .write_at(self.end, &bytes)
            .map_err(|error| spill_failed("write", &error))?;
        self.runs.push(Run {
            offset: self.end,
            length: bytes.len() as u64,
            filter,
            fences,
            earliest,
            latest,
        });
        self.end += bytes.len() as u64;
        Ok(())
    }
}

impl Prospects {
    /// Prospects that go to `file` as runs once [`RUN`] leads are remembered in memory.
    pub(super) fn spilling(file: Box<dyn Spill>) -> Prospects {
        Prospects {
            spilled: Some(Runs {
                file,
                end: 0,
                runs: Vec::new(),
                run_leads: RUN,
                block_bytes: BLOCK_BYTES,
                #[cfg(test)]
                collide: None,
                hasher: foldhash::fast::RandomState::default(),
                names: Vec::new(),
                numbers: HashMap::new(),
            }),
            ..Prospects::default()
        }
    }

    /// Lets go of the spill: what went there cannot be found after.
    pub(super) fn release_spill(&mut self) {
        self.released |= self.spilled.take().is_some();
    }

    /// Remembers that `lead` (at `lead_at`) had `key` in `field` and went to `rep`, in place
    /// of what was remembered of that lead.
    pub(super) fn remember(
        &mut self,
        field: &str,
        key: &str,
        lead: &str,
        lead_at: Timestamp,
        rep: &str,
    ) -> Result<(), StateError> {
        let values = match self.recent.get_mut(field) {
            Some(values) => values,
            None => self.recent.entry(field.into()).or_default(),
        };
        let leads = match values.get_mut(key) {
            Some(leads) => leads,
            None => values.entry(key.into()).or_default(),
        };
        if leads.insert(lead_at, lead, rep) {
            self.in_memory += 1;
        }
        // A run that cannot be written is an error the caller stops on; the leads stay in
        // memory, so that what was answered before is still answered.
        if let Some(runs) = &mut self.spilled
            && self.in_memory >= runs.run_leads
        {
            runs.write(&self.recent)?;
            self.recent.clear();
            self.in_memory = 0;
        }
        Ok(())
    }

    /// The latest lead other than `lead` with `key` in `field`, at a time from `from` to `to`
    /// (both in), and its rep. A lead remembered again counts with its last rep.
    pub(super) fn previous(
        &self,
        field: &str,
        key: &str,
        lead: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Option<(String, String)>, StateError> {
        if self.released {
            return Err(StateError::new(
                StateErrorKind::Failed,
                "the temporary file of `previous rep of` values was let go of".to_string(),
            ));
        }
        let found = self
            .recent
            .get(field)
            .and_then(|values| values.get(key))
            .and_then(|leads| leads.previous(lead, from, to));
        let Some(runs) = &self.spilled else {
            return Ok(found.map(|(_, id, rep)| (id.to_string(), rep.to_string())));
        };
        let Some(field_number) = runs.numbers.get(field).copied() else {
            return Ok(found.map(|(_, id, rep)| (id.to_string(), rep.to_string())));
        };
        let mut best = found.map(|(at, id, rep)| (at, id.to_string(), rep.to_string()));
        let hash = runs.hash(field, key);
        // Newer runs first: a lead remembered again keeps its newest rep (ties go to the
        // source read first).
        for run in runs.runs.iter().rev() {
            let beaten = best.as_ref().is_some_and(|(at, _, _)| run.latest < *at);
            if beaten || run.latest < from || run.earliest > to {
                continue;
            }
            let Some((at, id, rep)) = run.previous(
                runs.file.as_ref(),
                (hash, field_number, key),
                lead,
                (from, to),
            )?
            else {
                continue;
            };
            if best.as_ref().is_none_or(|(best_at, best_id, _)| {
                (at, id.as_str()) > (*best_at, best_id.as_str())
            }) {
                let rep = runs.names.get(rep as usize).ok_or_else(unreadable)?;
                best = Some((at, id, rep.to_string()));
            }
        }
        Ok(best.map(|(_, id, rep)| (id, rep)))
    }

    /// Whether the leads of (`field`, `key`) in memory are kept in a tree.
    #[cfg(test)]
    pub(super) fn kept_in_a_tree(&self, field: &str, key: &str) -> bool {
        matches!(
            self.recent.get(field).and_then(|values| values.get(key)),
            Some(ProspectLeads::Many(_))
        )
    }

    /// Runs written to the spill.
    #[cfg(test)]
    pub(super) fn runs(&self) -> usize {
        self.spilled.as_ref().map_or(0, |runs| runs.runs.len())
    }
}

#[cfg(test)]
mod tests {
    use super::super::ledger::VecSpill;
    use super::*;

    /// A small deterministic generator (xorshift).
    struct Draw(u64);

    impl Draw {
        fn below(&mut self, bound: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % bound
        }
    }

    fn spilling_every(leads: usize) -> Prospects {
        let mut prospects = Prospects::spilling(Box::<VecSpill>::default());
        if let Some(runs) = &mut prospects.spilled {
            runs.run_leads = leads;
            // Blocks of a few records, so that a lookup crosses them.
            runs.block_bytes = 128;
        }
        prospects
    }

    #[test]
    fn spilled_runs_answer_as_memory_alone_does() {
        differential(None);
    }

    /// With every value's hash one of three, runs hold many values of one hash side by side.
    #[test]
    fn spilled_runs_answer_as_memory_alone_does_when_values_collide() {
        differential(Some(3));
    }

    fn differential(collide: Option<u64>) {
        let base: Timestamp = "2026-11-23T00:00:00Z".parse().unwrap();
        let at = |minute: u64| base + jiff::SignedDuration::from_secs(minute as i64 * 60);
        let mut memory = Prospects::default();
        let mut spilled = spilling_every(50);
        if let Some(runs) = &mut spilled.spilled {
            runs.collide = collide;
        }
        let mut draw = Draw(0x5eed);
        let mut found = 0;
        let fields = ["email", "country"];
        // Values: a hot one with many leads, a few warm ones, and many seen once or twice;
        // leads mostly in time order, some late, some remembered again with another rep.
        for step in 0..3000u64 {
            let field = fields[draw.below(2) as usize];
            let key = match draw.below(10) {
                0..=2 => "hot".to_string(),
                3..=5 => format!("warm-{}", draw.below(8)),
                _ => format!("cold-{}", draw.below(1500)),
            };
            let (lead, minute) = if step > 10 && draw.below(20) == 0 {
                // The same lead again (same time), with another rep.
                let earlier = draw.below(step);
                (format!("L-{earlier}"), earlier)
            } else if draw.below(10) == 0 {
                (format!("L-{step}"), step.saturating_sub(draw.below(300)))
            } else {
                (format!("L-{step}"), step)
            };
            let rep = format!("rep-{}", draw.below(7));
            memory
                .remember(field, &key, &lead, at(minute), &rep)
                .unwrap();
            spilled
                .remember(field, &key, &lead, at(minute), &rep)
                .unwrap();
            let asked = [
                key.clone(),
                "hot".to_string(),
                format!("cold-{}", draw.below(1500)),
            ];
            for key in asked {
                let to = at(step.saturating_sub(draw.below(100)));
                let from = at(step.saturating_sub(100 + draw.below(2000)));
                let other = format!("L-{}", draw.below(step + 1));
                for asking in [lead.as_str(), other.as_str()] {
                    let answer = memory.previous(field, &key, asking, from, to);
                    assert_eq!(
                        spilled.previous(field, &key, asking, from, to),
                        answer,
                        "step {step}: {field}={key} for {asking}"
                    );
                    found += usize::from(matches!(answer, Ok(Some(_))));
                }
            }
        }
        assert!(found > 6000, "{found} of 18,000 found a rep");
        assert!(spilled.runs() > 40, "{} runs", spilled.runs());
        assert!(spilled.in_memory < 50);
    }

    #[test]
    fn leads_of_one_time_across_blocks_are_all_found() {
        // Nine leads of one value at one time: blocks of four records, four records and the
        // last alone. Asked for the one before the last, at exactly that time, the lookup must
        // go back a block.
        let at: Timestamp = "2026-11-23T10:00:00Z".parse().unwrap();
        let mut prospects = spilling_every(9);
        for lead in 1..=9 {
            let rep = format!("rep-{lead}");
            prospects
                .remember("email", "v", &format!("L-{lead}"), at, &rep)
                .unwrap();
        }
        assert_eq!(prospects.runs(), 1);
        assert_eq!(
            prospects
                .spilled
                .as_ref()
                .map(|runs| runs.runs[0].fences.len()),
            Some(3)
        );
        for (lead, expected) in [("L-9", "8"), ("L-5", "9"), ("L-0", "9")] {
            assert_eq!(
                prospects.previous("email", "v", lead, at, at),
                Ok(Some((format!("L-{expected}"), format!("rep-{expected}")))),
                "{lead}"
            );
        }
        let before = at - jiff::SignedDuration::from_secs(1);
        assert_eq!(
            prospects.previous("email", "v", "L-0", before, before),
            Ok(None)
        );
    }

    #[test]
    fn leads_at_the_last_instant_are_found_in_a_tree_too() {
        let mut prospects = Prospects::default();
        for lead in 0..20 {
            let rep = format!("rep-{lead:02}");
            prospects
                .remember("email", "v", &format!("L-{lead:02}"), Timestamp::MAX, &rep)
                .unwrap();
        }
        assert!(prospects.kept_in_a_tree("email", "v"));
        assert_eq!(
            prospects.previous("email", "v", "L-99", Timestamp::MIN, Timestamp::MAX),
            Ok(Some(("L-19".to_string(), "rep-19".to_string())))
        );
    }

    #[test]
    fn a_released_spill_is_an_error_not_a_silent_miss() {
        let mut prospects = spilling_every(1);
        let at: Timestamp = "2026-11-23T10:00:00Z".parse().unwrap();
        prospects.remember("email", "v", "L-1", at, "anna").unwrap();
        prospects.release_spill();
        let error = prospects
            .previous("email", "v", "L-2", Timestamp::MIN, at)
            .unwrap_err();
        assert_eq!(error.kind, StateErrorKind::Failed);
        assert!(
            Prospects::default()
                .previous("email", "v", "L-2", at, at)
                .is_ok()
        );
    }

    #[test]
    fn a_lead_remembered_again_answers_its_newest_rep_across_runs() {
        let at: Timestamp = "2026-11-23T10:00:00Z".parse().unwrap();
        let mut prospects = spilling_every(2);
        let remember = |prospects: &mut Prospects, key: &str, lead: &str, rep: &str| {
            prospects.remember("email", key, lead, at, rep).unwrap();
        };
        remember(&mut prospects, "a@x.io", "L-1", "anna");
        remember(&mut prospects, "b@x.io", "L-9", "zoe");
        assert_eq!(prospects.runs(), 1);
        remember(&mut prospects, "a@x.io", "L-1", "boris");
        let previous = |prospects: &Prospects, lead| {
            prospects
                .previous("email", "a@x.io", lead, Timestamp::MIN, at)
                .unwrap()
                .map(|(earlier, rep)| format!("{earlier} {rep}"))
        };
        assert_eq!(previous(&prospects, "L-2"), Some("L-1 boris".to_string()));
        remember(&mut prospects, "c@x.io", "L-8", "zoe");
        assert_eq!(prospects.runs(), 2);
        assert_eq!(previous(&prospects, "L-2"), Some("L-1 boris".to_string()));
        assert_eq!(previous(&prospects, "L-1"), None);
        // At the same time, the greater id is the later lead, even in an older run.
        remember(&mut prospects, "d@x.io", "L-5", "chen");
        remember(&mut prospects, "e@x.io", "L-7", "zoe");
        assert_eq!(prospects.runs(), 3);
        remember(&mut prospects, "d@x.io", "L-4", "dina");
        assert_eq!(
            prospects.previous("email", "d@x.io", "L-9", Timestamp::MIN, at),
            Ok(Some(("L-5".to_string(), "chen".to_string())))
        );
        // A field never remembered, and a broken spill, say so.
        assert_eq!(
            prospects.previous("phone", "a@x.io", "L-2", Timestamp::MIN, at),
            Ok(None)
        );
        let mut broken = Prospects::spilling(Box::new(VecSpill {
            bytes: Vec::new(),
            broken: true,
        }));
        if let Some(runs) = &mut broken.spilled {
            runs.run_leads = 1;
        }
        let error = broken
            .remember("email", "a@x.io", "L-1", at, "anna")
            .unwrap_err();
        assert_eq!(
            error.message,
            "cannot write the temporary file of `previous rep of` values: disk full"
        );
    }
}
