//! The lead reader: NDJSON lines, bounded in length and nesting, validated against the schema.
//! Every line gives either a lead or an error record; nothing is skipped and nothing panics.

mod scan;

pub(crate) use scan::{first_to_escape, same_bytes};

use crate::graph::{Compiled, Outcome};
use crate::model::lead_id::keyed_hash;
use crate::model::{EvalContext, Lead, LeadId, LeadValue, Policy, Scalar};
use crate::model::{FieldDef, FieldType};
use serde_json::Value;
use std::io::{self, BufRead};

/// Limits on one input line.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_line_bytes: usize,
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_line_bytes: 1 << 20,
            max_depth: 64,
        }
    }
}

/// One line of input, as read.
#[derive(Debug)]
pub enum Line {
    /// The line's bytes, without its terminator.
    Text(Vec<u8>),
    /// The line was longer than the limit; its bytes were skipped. Holds the length seen.
    TooLong(usize),
}

/// Reads the next line (up to `\n`), keeping at most `max` bytes of it. `None` at the end.
pub fn read_line(input: &mut impl BufRead, max: usize) -> io::Result<Option<Line>> {
    let mut line = Vec::new();
    Ok(
        read_line_into(input, max, &mut line)?.map(|read| match read {
            LineRead::Text => Line::Text(line),
            LineRead::TooLong(length) => Line::TooLong(length),
        }),
    )
}

/// How [`read_line_into`] found the next line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineRead {
    /// The line's bytes are in the buffer, without their terminator.
    Text,
    /// The line was longer than the limit; its bytes were skipped. Holds the length seen.
    TooLong(usize),
}

/// [`read_line`] into a buffer the caller reuses (cleared first), so that reading a line
/// allocates nothing once the buffer has grown to the longest line. `None` at the end.
pub fn read_line_into(
    input: &mut impl BufRead,
    max: usize,
    line: &mut Vec<u8>,
) -> io::Result<Option<LineRead>> {
    line.clear();
    let mut length = 0usize;
    let mut saw_any = false;
    // The line's last byte: a `\r` before the `\n` is no part of the line, nor of its length.
    let mut last = None;
    loop {
        let buffer = input.fill_buf()?;
        if buffer.is_empty() {
            break;
        }
        saw_any = true;
        let (chunk, done) = match memchr::memchr(b'\n', buffer) {
            Some(end) => (&buffer[..end], Some(end + 1)),
            None => (buffer, None),
        };
        length += chunk.len();
        if let Some(&byte) = chunk.last() {
            last = Some(byte);
        }
        // One byte past the limit is kept: it may be the `\r` of a CRLF line at the limit.
        if length <= max.saturating_add(1) {
            line.extend_from_slice(chunk);
        }
        let consumed = done.unwrap_or(chunk.len());
        input.consume(consumed);
        if done.is_some() {
            break;
        }
    }
    if !saw_any {
        return Ok(None);
    }
    if last == Some(b'\r') {
        length -= 1;
        line.pop();
    }
    if length > max {
        line.clear();
        return Ok(Some(LineRead::TooLong(length)));
    }
    Ok(Some(LineRead::Text))
}

/// Reads the next line as [`read_line_into`] does and hands it to `use_line`: its bytes
/// (`Ok`, without the terminator) or the length of a line longer than `max` (`Err`). A line
/// that lies whole in `input`'s buffer is handed where it lies, not copied; one that does not
/// (it runs past the buffer's end, or is longer than `max`) is read into `line` first. `None`
/// at the end.
pub fn with_next_line<T>(
    input: &mut impl BufRead,
    max: usize,
    line: &mut Vec<u8>,
    use_line: impl FnOnce(Result<&[u8], usize>) -> T,
) -> io::Result<Option<T>> {
    let buffer = input.fill_buf()?;
    if let Some(end) = memchr::memchr(b'\n', buffer)
        && end <= max
    {
        let text = &buffer[..end];
        let answer = use_line(Ok(text.strip_suffix(b"\r").unwrap_or(text)));
        input.consume(end + 1);
        return Ok(Some(answer));
    }
    Ok(read_line_into(input, max, line)?.map(|read| match read {
        LineRead::Text => use_line(Ok(line)),
        LineRead::TooLong(length) => use_line(Err(length)),
    }))
}

/// The error of a line longer than the limit (whose bytes were skipped).
pub fn too_long_error(length: usize, limits: &Limits) -> LeadError {
    LeadError {
        code: "lead.too_long",
        message: format!(
            "line is {length} bytes, more than the limit of {} (see --max-line-bytes)",
            limits.max_line_bytes
        ),
        lead: None,
    }
}

/// Why a line is not a lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadError {
    /// `lead.json`, `lead.utf8`, `lead.object`, `lead.too_long`, `lead.too_deep`, `lead.missing`,
    /// `lead.type`, `lead.id` (a blank id, one holding a NUL, or one with spaces around it),
    /// `lead.id_conflict` (an id used for another lead), `lead.csv` (a CSV row whose cells are
    /// not the header's).
    pub code: &'static str,
    pub message: String,
    /// The lead's id, when it could be read.
    pub lead: Option<String>,
}

/// A validated lead: its id and its values, one per schema field.
#[derive(Debug, Clone)]
pub struct ParsedLead {
    pub id: LeadId,
    pub lead: Lead,
    /// [`Policy::fingerprint`] of the lead when it was computed ahead ([`ParsedLead::
    /// with_fingerprint`]: `route --threads 2` does it on its reading thread while the deciding
    /// thread has batches queued); else the router computes it when it needs it.
    pub fingerprint: Option<u64>,
    /// The rule the lead matches, when it was found ahead ([`ParsedLead::with_rule_found`]:
    /// `route` finds it where it reads the lead, with the router's own policy, compiled graph
    /// and `now`, unless its deciding thread is waiting for leads); else the router finds it
    /// when it decides.
    pub rule_found: Option<Outcome>,
    /// Its due and escalation times, when they were computed ahead
    /// ([`ParsedLead::with_times_found`]).
    pub times_found: Option<super::ahead::TimesFound>,
    /// The id's [`keyed_hash`], when it was computed ahead ([`ParsedLead::find_id_hash`]):
    /// the ledger in memory finds the lead by it.
    id_hash: Option<u64>,
    /// The lead's time ([`Policy::clock_of`] with the router's context), when it was found
    /// ahead ([`ParsedLead::find_ahead`]): the deciding thread then reads none of the lead's
    /// values for it.
    lead_at: Option<jiff::Timestamp>,
    /// Strings a lead parsed earlier into this one's place left, for this one's string values
    /// ([`parse_lead_reusing`]).
    spare: Vec<String>,
    /// The blank strings given for optional fields, read as no value: per field, the text.
    blanks: Vec<(usize, String)>,
}

impl ParsedLead {
    /// A lead with these values.
    pub fn new(id: impl Into<LeadId>, lead: Lead) -> ParsedLead {
        ParsedLead {
            id: id.into(),
            lead,
            fingerprint: None,
            rule_found: None,
            times_found: None,
            id_hash: None,
            lead_at: None,
            spare: Vec::new(),
            blanks: Vec::new(),
        }
    }

    /// The lead's time, [`Policy::clock_of`] in `context`: found ahead when it was.
    pub fn lead_at(&self, policy: &Policy, context: &EvalContext) -> jiff::Timestamp {
        self.lead_at
            .unwrap_or_else(|| policy.clock_of(&self.lead, context))
    }

    /// The id's [`keyed_hash`], when it was computed ahead of the lead's turn.
    pub fn id_hash(&self) -> Option<u64> {
        self.id_hash
    }

    /// The lead as builds before 2026-12-05 read it, when it gave blank strings for optional
    /// fields: those builds kept them as values, so a lead they recorded is recognised, sent
    /// again, by these values ([`crate::route::Router::same_lead`]). `None` without blanks.
    pub fn as_read_with_blanks(&self) -> Option<Lead> {
        if self.blanks.is_empty() {
            return None;
        }
        let mut values = self.lead.values.clone();
        for (index, text) in &self.blanks {
            if let Some(slot) = values.get_mut(*index) {
                *slot = Some(LeadValue::Str(text.clone()));
            }
        }
        Some(Lead { values })
    }

    /// Computes the id's [`keyed_hash`] now, for a store that finds leads by it
    /// ([`crate::route::state::StateStore::finds_leads_by_keyed_hash`]). The id must not
    /// change afterwards.
    pub fn find_id_hash(&mut self) {
        self.id_hash = Some(keyed_hash(&self.id));
    }

    /// Computes, in place, what [`ParsedLead::with_fingerprint`],
    /// [`ParsedLead::with_rule_found`] and [`ParsedLead::with_times_found`] compute, in that
    /// order (the lead, a few hundred bytes, is not moved three times), and the lead's time
    /// ([`ParsedLead::lead_at`]).
    pub fn find_ahead(
        &mut self,
        policy: &Policy,
        compiled: &Compiled,
        ahead: &super::ahead::TimesAhead,
        context: &EvalContext,
    ) {
        self.find_fingerprint(policy);
        self.find_rule(policy, compiled, context);
        self.find_times(policy, ahead, context);
        self.lead_at = Some(policy.clock_of(&self.lead, context));
    }

    fn find_fingerprint(&mut self, policy: &Policy) {
        self.fingerprint = Some(policy.fingerprint(&self.lead));
    }

    fn find_rule(&mut self, policy: &Policy, compiled: &Compiled, context: &EvalContext) {
        self.rule_found = Some(compiled.evaluate(policy, &self.lead, context));
    }

    fn find_times(
        &mut self,
        policy: &Policy,
        ahead: &super::ahead::TimesAhead,
        context: &EvalContext,
    ) {
        self.times_found = match self.rule_found {
            Some(Outcome::Rule(rule)) => ahead.times(policy, rule, &self.lead, context),
            _ => None,
        };
    }

    /// The lead with its fingerprint computed now (where the work is cheaper than later).
    pub fn with_fingerprint(mut self, policy: &Policy) -> ParsedLead {
        self.find_fingerprint(policy);
        self
    }

    /// The lead with the rule it matches found now, off the thread that decides: `compiled`
    /// must be `policy`'s, and `context` the one the router decides with (its `now`), as
    /// `route` gives them; the rule found is the one the router would find.
    pub fn with_rule_found(
        mut self,
        policy: &Policy,
        compiled: &Compiled,
        context: &EvalContext,
    ) -> ParsedLead {
        self.find_rule(policy, compiled, context);
        self
    }

    /// The lead with its due and escalation times computed now for the rule found
    /// ([`ParsedLead::with_rule_found`], with the same `policy` and `context`), off the thread
    /// that decides; the decision takes them when its clock is the one they were computed on.
    pub fn with_times_found(
        mut self,
        policy: &Policy,
        ahead: &super::ahead::TimesAhead,
        context: &EvalContext,
    ) -> ParsedLead {
        self.find_times(policy, ahead, context);
        self
    }
}

/// Parses and validates one line against the policy's schema. Fields the schema does not name
/// are ignored (CRMs send many).
pub fn parse_lead(policy: &Policy, bytes: &[u8], limits: &Limits) -> Result<ParsedLead, LeadError> {
    parse_into(policy, bytes, limits, Fields::new(policy), None).map(ReadLead::into_lead)
}

/// The keys a source's lines carry that name no field of one policy (a CRM's own:
/// `utm_source`, `crm_id`), remembered by a reader that parses line after line with that
/// policy ([`parse_lead_in_place_remembering`]): the scanner then passes over such a key
/// where it meets it again, without reading it to its end and looking it up among the fields.
/// It holds the policy itself, so it is used only with that very policy (any other is read
/// as if nothing were remembered).
#[derive(Debug)]
pub struct UnknownKeys {
    policy: std::sync::Arc<Policy>,
    keys: Vec<Box<[u8]>>,
}

impl UnknownKeys {
    /// The most keys remembered: lines of one source carry a few.
    const MOST: usize = 16;
    /// The longest key remembered, in bytes.
    const LONGEST: usize = 64;

    /// Nothing remembered yet, for `policy`.
    pub fn new(policy: std::sync::Arc<Policy>) -> UnknownKeys {
        UnknownKeys {
            policy,
            keys: Vec::new(),
        }
    }

    /// The keys remembered for `policy`, when it is the very policy they were found with.
    fn of(&mut self, policy: &Policy) -> Option<&mut Vec<Box<[u8]>>> {
        std::ptr::eq(&*self.policy, policy).then_some(&mut self.keys)
    }
}

/// Keys remembered as naming no field ([`UnknownKeys`]).
pub(super) struct Remembered<'a>(Option<&'a mut Vec<Box<[u8]>>>);

impl Remembered<'_> {
    /// The length of the remembered key `rest` starts with, followed by its closing quote.
    fn key_at(&self, rest: &[u8]) -> Option<usize> {
        self.0.as_ref()?.iter().find_map(|key| {
            let length = key.len();
            (rest.get(length) == Some(&b'"')
                && rest.get(..length).is_some_and(|text| same_bytes(text, key)))
            .then_some(length)
        })
    }

    /// Remembers `key`, a key without escapes that names no field, while there is room.
    fn remember(&mut self, key: &str) {
        if let Some(keys) = self.0.as_mut()
            && keys.len() < UnknownKeys::MOST
            && key.len() <= UnknownKeys::LONGEST
        {
            keys.push(key.as_bytes().into());
        }
    }
}

/// [`parse_lead`], holding the new lead's values in the memory of `earlier`, a lead parsed
/// before and no longer needed (a reader that parses batch after batch allocates nothing per
/// lead of the common shape but its id; strings with escapes and errors still allocate). The
/// answer is the same as [`parse_lead`]'s.
pub fn parse_lead_reusing(
    policy: &Policy,
    bytes: &[u8],
    limits: &Limits,
    earlier: ParsedLead,
) -> Result<ParsedLead, LeadError> {
    let mut slot = Ok(earlier);
    parse_lead_in_place(policy, bytes, limits, &mut slot);
    slot
}

/// [`parse_lead`], with the answer left in `slot`, where a line parsed before and no longer
/// needed lies: a lead there lends its memory, as in [`parse_lead_reusing`], and the new lead
/// is written into it field by field (a reader that parses batch after batch into the batch
/// it gave away before moves no lead, a few hundred bytes each). The answer is the same as
/// [`parse_lead`]'s.
pub fn parse_lead_in_place(
    policy: &Policy,
    bytes: &[u8],
    limits: &Limits,
    slot: &mut Result<ParsedLead, LeadError>,
) {
    parse_in_place(policy, bytes, limits, slot, None);
}

/// [`parse_lead_in_place`], passing over the keys `unknown` remembers as naming no field of
/// `policy` and remembering more (the answer is the same).
pub fn parse_lead_in_place_remembering(
    policy: &Policy,
    bytes: &[u8],
    limits: &Limits,
    slot: &mut Result<ParsedLead, LeadError>,
    unknown: &mut UnknownKeys,
) {
    parse_in_place(policy, bytes, limits, slot, unknown.of(policy));
}

fn parse_in_place(
    policy: &Policy,
    bytes: &[u8],
    limits: &Limits,
    slot: &mut Result<ParsedLead, LeadError>,
    unknown: Option<&mut Vec<Box<[u8]>>>,
) {
    let Ok(earlier) = slot else {
        *slot = parse_into(policy, bytes, limits, Fields::new(policy), unknown)
            .map(ReadLead::into_lead);
        return;
    };
    let fields = Fields::reusing(
        policy,
        std::mem::take(&mut earlier.lead.values),
        std::mem::take(&mut earlier.spare),
        std::mem::take(&mut earlier.blanks),
    );
    match parse_into(policy, bytes, limits, fields, unknown) {
        Ok(read) => read.into_place(earlier),
        Err(error) => *slot = Err(error),
    }
}

/// A lead as a line gives it, before anything is found ahead for it.
struct ReadLead {
    id: LeadId,
    values: Vec<Option<LeadValue>>,
    spare: Vec<String>,
    blanks: Vec<(usize, String)>,
}

impl ReadLead {
    fn into_lead(self) -> ParsedLead {
        ParsedLead {
            id: self.id,
            lead: Lead {
                values: self.values,
            },
            fingerprint: None,
            rule_found: None,
            times_found: None,
            id_hash: None,
            lead_at: None,
            spare: self.spare,
            blanks: self.blanks,
        }
    }

    /// Writes the lead into `place`, an earlier one's, forgetting all that was found for it.
    fn into_place(self, place: &mut ParsedLead) {
        place.id = self.id;
        place.lead.values = self.values;
        place.spare = self.spare;
        place.blanks = self.blanks;
        place.fingerprint = None;
        place.rule_found = None;
        place.times_found = None;
        place.id_hash = None;
        place.lead_at = None;
    }
}

fn parse_into(
    policy: &Policy,
    bytes: &[u8],
    limits: &Limits,
    mut fields: Fields,
    unknown: Option<&mut Vec<Box<[u8]>>>,
) -> Result<ReadLead, LeadError> {
    let error = |code, message: String| LeadError {
        code,
        message,
        lead: None,
    };
    if let Some(row) = bytes
        .strip_prefix(super::tabular::ROW_ERROR)
        .and_then(super::tabular::row_error)
    {
        let (code, lead, message) = row;
        return Err(LeadError {
            code,
            message,
            lead,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|utf8| {
        error(
            "lead.utf8",
            format!(
                "line is not UTF-8 (invalid byte at offset {})",
                utf8.valid_up_to()
            ),
        )
    })?;
    // A byte order mark at the start of a line: files joined with `cat` keep each one's, and
    // it is no part of the lead (the first line's is skipped before this, as any file's).
    let (text, bytes, marked) = match text.strip_prefix('\u{feff}') {
        Some(rest) => (rest, rest.as_bytes(), '\u{feff}'.len_utf8()),
        None => (text, bytes, 0),
    };
    // A line that opens an object is not empty (the common case, told without trimming).
    if bytes.first() != Some(&b'{') && text.trim().is_empty() {
        return Err(error(
            "lead.json",
            "empty line: expected a JSON object".to_string(),
        ));
    }
    // The common shape is scanned directly; anything else, errors included, goes to serde.
    // The scanner reads one flat object alone, which no depth limit refuses but none at all:
    // so the line's depth is measured only for serde.
    let parsed = if limits.max_depth >= 1
        && scan::scan(policy, text, &mut fields, Remembered(unknown)).is_some()
    {
        Top::Object(fields)
    } else {
        if let Some(depth) = too_deep(bytes, limits.max_depth) {
            return Err(error(
                "lead.too_deep",
                format!(
                    "JSON nested deeper than {} levels (at byte {})",
                    limits.max_depth,
                    depth + marked
                ),
            ));
        }
        fields.forget(policy);
        parse_with_serde(policy, text, fields).map_err(|(json, id)| LeadError {
            code: "lead.json",
            // serde_json names a lone surrogate "hex escape" and its column only.
            message: match lone_surrogate(text).filter(|_| json.to_string().contains("hex escape"))
            {
                Some((column, escape)) => format!(
                    "not valid JSON: `{escape}` at column {} is half of a UTF-16 surrogate \
                     pair without its other half, so no character: the sender's encoder cut a \
                     character (an emoji?) in two",
                    column + marked + 1
                ),
                // Leads ended by a bare `\r` (old Mac line ends) arrive as one line.
                None if text.contains("\r{") => format!(
                    "not valid JSON: {json}: the line holds leads ended by a carriage return \
                     (\\r) alone, as files with old Mac line ends do; end each lead with \\n \
                     (or \\r\\n)"
                ),
                None => format!("not valid JSON: {json}"),
            },
            lead: id.map(|id| id.to_string()),
        })?
    };
    let Fields {
        values,
        problems: type_problems,
        id,
        spare,
        blanks,
        given: _,
        repeated,
    } = match parsed {
        Top::Object(fields) => fields,
        Top::Other(kind) => {
            return Err(error(
                "lead.object",
                format!("a lead is a JSON object, found {kind}"),
            ));
        }
    };
    if let Some(field) = repeated.and_then(|index| policy.fields.get(index)) {
        // `{"intent":"low", ..., "intent":"high"}`: a map keeps the last value, a person may
        // mean the first; routing on either would be a guess.
        return Err(LeadError {
            code: "lead.json",
            message: format!(
                "key `{}` appears more than once in the object: which value is meant cannot be \
                 told; send each field once",
                field.name
            ),
            lead: if field.name == "id" {
                None
            } else {
                id.map(|id| id.to_string())
            },
        });
    }
    // Every problem, in schema order: a value of the wrong type, a required field absent, or
    // an id that cannot be one.
    let mut problems: Vec<(&'static str, String)> = Vec::new();
    // Whether the id was checked in schema order: then it needs no second look below.
    let mut id_checked = false;
    for (index, field) in policy.fields.iter().enumerate() {
        if let Some(Some(problem)) = type_problems.get(index) {
            problems.push(("lead.type", problem.clone()));
        } else if values.get(index).is_none_or(Option::is_none) && !field.optional {
            problems.push((
                "lead.missing",
                format!("field `{}` is required", field.name),
            ));
        } else if field.name == "id" {
            id_checked = true;
            if let Some(problem) = id.as_deref().and_then(id_problem) {
                problems.push(("lead.id", problem));
            }
        }
    }
    if let Some((code, _)) = problems.first() {
        let code = *code;
        let message = problems
            .into_iter()
            .map(|(_, m)| m)
            .collect::<Vec<_>>()
            .join("; ");
        return Err(LeadError {
            code,
            message,
            lead: id.map(|id| id.to_string()),
        });
    }
    let Some(id) = id else {
        return Err(error("lead.missing", "field `id` is required".to_string()));
    };
    if let Some(problem) = (!id_checked).then(|| id_problem(&id)).flatten() {
        // Found in schema order above when the schema names an `id` field: checked here
        // otherwise, so that no path lets it by.
        return Err(LeadError {
            code: "lead.id",
            message: problem,
            lead: Some(id.to_string()),
        });
    }
    Ok(ReadLead {
        id,
        values,
        spare,
        blanks,
    })
}

/// The first key that one object of the JSON `text` gives twice, at any depth, with where
/// (`key `Intent__c` appears more than once in one object at line 1 column 80`); `None` when no
/// object repeats a key before the text ends or stops being JSON (its reader says why then). A webhook payload
/// is mapped from a parsed map, which keeps a repeated key's last value without a word.
pub fn repeated_key(text: &[u8]) -> Option<String> {
    use serde::de::{DeserializeSeed, Error as _};
    struct Walk;
    impl<'de> serde::de::DeserializeSeed<'de> for Walk {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
            deserializer.deserialize_any(self)
        }
    }
    impl<'de> serde::de::Visitor<'de> for Walk {
        type Value = ();
        fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("JSON")
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(Walk)?.is_some() {}
            Ok(())
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut keys = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if keys.contains(&key) {
                    return Err(A::Error::custom(format!(
                        "{REPEATED}key `{key}` appears more than once in one object"
                    )));
                }
                map.next_value_seed(Walk)?;
                keys.insert(key);
            }
            Ok(())
        }
    }
    /// Tells the walk's own error from the JSON reader's.
    const REPEATED: &str = "\u{1e}repeated ";
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    match Walk.deserialize(&mut deserializer) {
        Err(error) => error.to_string().strip_prefix(REPEATED).map(str::to_string),
        Ok(()) => None,
    }
}

/// The first `\uXXXX` escape in `text` that is half of a UTF-16 surrogate pair without its
/// other half (`\ud83d` not followed by `\ude00`, or a low half alone), as its byte offset and
/// its text. Backslashes pair up as JSON's escapes do, so `\\ud800` (a backslash, then text)
/// is none.
fn lone_surrogate(text: &str) -> Option<(usize, &str)> {
    let bytes = text.as_bytes();
    let unit = |at: usize| -> Option<u16> {
        let digits = bytes.get(at..at + 6)?;
        if digits.get(..2) != Some(b"\\u") {
            return None;
        }
        u16::from_str_radix(std::str::from_utf8(digits.get(2..)?).ok()?, 16).ok()
    };
    let mut at = 0;
    while let Some(found) = memchr::memchr(b'\\', bytes.get(at..)?) {
        let escape = at + found;
        match unit(escape) {
            Some(0xd800..=0xdbff) => match unit(escape + 6) {
                Some(0xdc00..=0xdfff) => at = escape + 12,
                _ => return Some((escape, text.get(escape..escape + 6)?)),
            },
            Some(0xdc00..=0xdfff) => return Some((escape, text.get(escape..escape + 6)?)),
            // Any other escape is two bytes or more; stepping two never skips a backslash
            // that starts the next one.
            _ => at = escape + 2,
        }
    }
    None
}

/// Why `id` cannot be a lead's id: blank (the ledger answers by id, so every blank-id lead would
/// be the same lead), or holding a NUL character (`\u0000`: no id a CRM sends, and text in
/// PostgreSQL cannot hold it, so refused for every store, and a lead routes the same wherever
/// the state is), or with spaces around it (`"L-1 "` would be another lead than `"L-1"`), or
/// holding a character no one sees (a control character, a zero-width space, a byte order
/// mark, a direction mark: the same lead sent without it would be another lead).
fn id_problem(id: &str) -> Option<String> {
    // Most ids are printable ASCII without spaces (`L-1`, `00Q5e00000ABCDe`): nothing to say.
    if !id.is_empty() && id.bytes().all(|byte| byte.is_ascii_graphic()) {
        return None;
    }
    if id.trim().is_empty() {
        Some("field `id` is blank: every lead needs an id of its own".to_string())
    } else if id.contains('\0') {
        Some(
            "field `id` holds a NUL character (\\u0000): give each lead a printable id".to_string(),
        )
    } else if id.trim() != id {
        Some(
            "field `id` has spaces around it: ids are compared exactly, so the same lead sent \
             again without them would be another lead (a second assignment); send it without"
                .to_string(),
        )
    } else {
        id.chars().find(|&c| invisible(c)).map(|hidden| {
            format!(
                "field `id` holds an invisible character (U+{:04X}): ids are compared exactly, \
                 so the same lead sent again without it would be another lead (a second \
                 assignment); send the id without it",
                u32::from(hidden)
            )
        })
    }
}

/// A character that shows as nothing: a control character, or one Unicode calls default
/// ignorable (`Default_Ignorable_Code_Point`: soft hyphen, zero-width spaces and joiners,
/// direction marks and embeddings, variation selectors, fillers, tags, the byte order mark),
/// or an interlinear annotation mark.
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{ad}'
                | '\u{34f}'
                | '\u{61c}'
                | '\u{115f}'..='\u{1160}'
                | '\u{17b4}'..='\u{17b5}'
                | '\u{180b}'..='\u{180f}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{3164}'
                | '\u{fe00}'..='\u{fe0f}'
                | '\u{feff}'
                | '\u{ffa0}'
                | '\u{fff0}'..='\u{fffb}'
                | '\u{1bca0}'..='\u{1bca3}'
                | '\u{1d173}'..='\u{1d17a}'
                | '\u{e0000}'..='\u{e0fff}'
        )
}

/// Streams the object through serde: only the schema's fields are kept; the rest (CRMs send
/// many) are skipped without being built.
/// `Err` carries the lead's id when it was read before the text went wrong (a number out of
/// range after it, a second object on the line), for the error record to name the lead.
fn parse_with_serde(
    policy: &Policy,
    text: &str,
    fields: Fields,
) -> Result<Top, (serde_json::Error, Option<LeadId>)> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let mut id_read = None;
    let seed = LeadSeed {
        policy,
        fields,
        id_read: &mut id_read,
    };
    let parsed = serde::de::DeserializeSeed::deserialize(seed, &mut deserializer)
        .map_err(|error| (error, id_read.clone()))?;
    deserializer.end().map_err(|error| (error, id_read))?;
    Ok(parsed)
}

/// A JSON value as far as validation needs it.
#[derive(Debug, Clone)]
enum Json<'de> {
    Null,
    Bool(bool),
    /// A whole number that fits an `i64` (or, below, a `u64`): exact.
    Int(i64),
    UInt(u64),
    /// Any other number (with a fraction or an exponent).
    Float(f64),
    /// Borrowed from the line when it has no escapes (most values), so that reading a lead does
    /// not allocate per field.
    Str(std::borrow::Cow<'de, str>),
    /// An array or an object: never a field value.
    Compound(&'static str),
}

impl Json<'_> {
    /// A number's text as a lead's id: a negative zero is `0` (as an `int` field reads it,
    /// so `-0` and `0` are one lead); a whole number read as a float from 2^53 up (beyond
    /// 64-bit integers, or written with an exponent or a fraction) has none, because it may
    /// have been rounded when read and its digits are not known (an error record shows no id
    /// rather than another number's).
    fn number_text(&self) -> Option<String> {
        match self {
            Json::Float(float) if *float == 0.0 && float.is_sign_negative() => {
                Some("0".to_string())
            }
            Json::Float(float) if Self::rounded(*float) => None,
            Json::Int(_) | Json::UInt(_) | Json::Float(_) => Some(self.number_shown()),
            // `null`, a boolean, an object or an array is no id: the error record's `lead` is
            // then `null`, as when the key is absent.
            _ => None,
        }
    }

    /// Whether a float read from JSON is a whole number beyond 2^53, the last whose digits
    /// every float keeps.
    fn rounded(float: f64) -> bool {
        float.fract() == 0.0 && float.abs() >= 9_007_199_254_740_992.0
    }

    /// A number as an error message shows it.
    fn number_shown(&self) -> String {
        match self {
            Json::Int(int) => int.to_string(),
            Json::UInt(int) => int.to_string(),
            Json::Float(float) => {
                let text = serde_json::Number::from_f64(*float)
                    .map_or_else(|| float.to_string(), |n| n.to_string());
                if Self::rounded(*float) {
                    format!("a number rounded to {text}")
                } else {
                    text
                }
            }
            _ => String::new(),
        }
    }

    fn shown(&self) -> String {
        let text = match self {
            Json::Null => "null".to_string(),
            Json::Bool(flag) => flag.to_string(),
            Json::Int(_) | Json::UInt(_) | Json::Float(_) => self.number_shown(),
            Json::Str(text) => Value::String(text.to_string()).to_string(),
            Json::Compound(kind) => return (*kind).to_string(),
        };
        if text.chars().count() > 60 {
            let short: String = text.chars().take(57).collect();
            format!("{short}...")
        } else {
            text
        }
    }
}

/// The top of a line: an object's field values (in schema order), or what it was instead.
enum Top {
    Object(Fields),
    Other(&'static str),
}

/// An object's fields as read: each schema field's value, converted as it is read, or the type
/// problem of its value (a repeated key is noted, and the lead refused).
#[derive(Debug, PartialEq)]
struct Fields {
    values: Vec<Option<LeadValue>>,
    /// Per field, why its value does not fit; empty until the first problem.
    problems: Vec<Option<String>>,
    /// The `id` field's value as text (a string, or a number's JSON text), whatever its type.
    id: Option<LeadId>,
    /// Strings to hold string values in, left by an earlier lead (none longer than
    /// [`Fields::LONGEST_SPARE`]).
    spare: Vec<String>,
    /// Blank strings read as no value, per optional field ([`ParsedLead::as_read_with_blanks`]).
    blanks: Vec<(usize, String)>,
    /// Which schema fields were given a value, a bit each.
    given: FieldBits,
    /// The first schema field whose key the object repeats: such a lead is refused, because
    /// which of its values the sender meant cannot be told.
    repeated: Option<usize>,
}

/// A bit per schema field: the first [`FieldBits::INLINE`] in the value itself, so that reading
/// a lead allocates nothing for them; any further ones (a schema that large) in a vector.
#[derive(Debug, Default, PartialEq)]
struct FieldBits {
    first: [u64; FieldBits::INLINE / 64],
    more: Vec<u64>,
}

impl FieldBits {
    const INLINE: usize = 256;

    /// No bit set.
    fn clear(&mut self) {
        self.first = [0; FieldBits::INLINE / 64];
        self.more.clear();
    }

    /// Whether field `index`'s bit is set.
    fn is_set(&self, index: usize) -> bool {
        let word = match index.checked_sub(FieldBits::INLINE) {
            None => self.first.get(index / 64),
            Some(beyond) => self.more.get(beyond / 64),
        };
        word.is_some_and(|word| word & (1u64 << (index % 64)) != 0)
    }

    /// Sets field `index`'s bit; whether it was set already.
    fn set(&mut self, index: usize) -> bool {
        let word = match index.checked_sub(FieldBits::INLINE) {
            None => self.first.get_mut(index / 64),
            Some(beyond) => {
                if self.more.len() <= beyond / 64 {
                    self.more.resize(beyond / 64 + 1, 0);
                }
                self.more.get_mut(beyond / 64)
            }
        };
        let bit = 1u64 << (index % 64);
        word.is_some_and(|word| std::mem::replace(word, *word | bit) & bit != 0)
    }
}

impl Fields {
    /// No field read yet.
    fn new(policy: &Policy) -> Fields {
        Fields::reusing(policy, Vec::new(), Vec::new(), Vec::new())
    }

    /// No field read yet, in the memory of an earlier lead's values (its strings kept spare).
    fn reusing(
        policy: &Policy,
        values: Vec<Option<LeadValue>>,
        spare: Vec<String>,
        blanks: Vec<(usize, String)>,
    ) -> Fields {
        let mut fields = Fields {
            values,
            problems: Vec::new(),
            id: None,
            spare,
            blanks,
            given: FieldBits::default(),
            repeated: None,
        };
        fields.forget(policy);
        fields
    }

    /// The most bytes a spare string may hold: a longer one (a lead's long note) is freed, so
    /// that leads kept for their memory do not keep the largest values ever read.
    const LONGEST_SPARE: usize = 256;

    /// Keeps `text` spare, unless it is long.
    fn keep_spare(&mut self, text: String) {
        if text.capacity() <= Fields::LONGEST_SPARE {
            self.spare.push(text);
        }
    }

    /// Forgets every field read (a line the scanner gave up on is read again by serde).
    fn forget(&mut self, policy: &Policy) {
        let mut values = std::mem::take(&mut self.values);
        for slot in &mut values {
            if let Some(LeadValue::Str(text)) = slot.take() {
                self.keep_spare(text);
            }
        }
        self.values = values;
        self.values.resize(policy.fields.len(), None);
        self.problems.clear();
        self.id = None;
        self.given.clear();
        self.repeated = None;
        let mut blanks = std::mem::take(&mut self.blanks);
        for (_, text) in blanks.drain(..) {
            self.keep_spare(text);
        }
        self.blanks = blanks;
    }

    /// [`Fields::take`] of the common case the scanner meets, in fewer steps: a field given
    /// for the first time whose value is of its type as it is (a variant of its enum, a string
    /// that is not blank, a whole number, an RFC 3339 time, a boolean; the id a string).
    /// Answers whether it took the value; when it did not, [`Fields::take`] does what the
    /// value asks for (a repeated key, a blank, a type problem), and nothing it would not do
    /// again has changed (the id it reads from the value, as here).
    fn take_plain(&mut self, field: &FieldDef, index: usize, value: &Json<'_>) -> bool {
        if self.given.is_set(index) {
            return false;
        }
        if same_text(&field.name, "id") {
            let Json::Str(id) = value else {
                return false;
            };
            self.id = Some(LeadId::from(&**id));
        }
        let Some(slot) = self.values.get_mut(index) else {
            return false;
        };
        // The plain cases of `convert`, written again: through `convert` itself (its `Result`
        // with a message) the reading thread did as much as without this path (737.6 M
        // instructions on the peers' 100,000 leads against 715.2 M).
        let converted = match (&field.ty, value) {
            (FieldType::Enum(variants), Json::Str(text)) => match variant_of(variants, text) {
                Some(variant) => LeadValue::Variant(variant),
                None => return false,
            },
            (FieldType::String, Json::Str(text)) if !(field.optional && blank(text)) => {
                LeadValue::Str(copy_into_spare(&mut self.spare, text))
            }
            (FieldType::Int, Json::Int(int)) => LeadValue::Scalar(Scalar::Int(i128::from(*int))),
            #[allow(clippy::cast_precision_loss)]
            (FieldType::Number, Json::Int(int)) => LeadValue::Scalar(Scalar::Float(*int as f64)),
            (FieldType::Time, Json::Str(text)) => match read_time(text) {
                Some(nanos) => LeadValue::Scalar(Scalar::Int(nanos)),
                None => return false,
            },
            (FieldType::Bool, Json::Bool(flag)) => LeadValue::Variant(u32::from(*flag)),
            _ => return false,
        };
        // Empty: the field was not given before (the values were forgotten first).
        if let Some(LeadValue::Str(text)) = slot.replace(converted) {
            self.keep_spare(text);
        }
        self.given.set(index);
        true
    }

    /// Takes `value` as schema field `index`'s, in place of an earlier one.
    fn take(&mut self, policy: &Policy, index: usize, value: &Json<'_>) {
        let Some(field) = policy.fields.get(index) else {
            return;
        };
        if self.given.set(index) && self.repeated.is_none() {
            self.repeated = Some(index);
        }
        if field.name == "id" {
            self.id = match value {
                Json::Str(id) => Some(LeadId::from(&**id)),
                number => number.number_text().map(LeadId::from),
            };
        }
        // A blank string (empty, or spaces only) in an optional field is no value, as an empty
        // CSV cell is none: `is set` must not hold for a contact owner that `rep FIELD` then
        // finds blank.
        if let Some(at) = self.blanks.iter().position(|(field, _)| *field == index) {
            // A repeated key (the lead is refused): the earlier blank is kept spare.
            let (_, text) = self.blanks.swap_remove(at);
            self.keep_spare(text);
        }
        let value = match value {
            Json::Str(text) if field.optional && blank(text) => {
                let kept = copy_into_spare(&mut self.spare, text);
                self.blanks.push((index, kept));
                &Json::Null
            }
            value => value,
        };
        let (converted, problem) = match value {
            Json::Null => (None, None),
            value => match convert(&field.ty, value, &mut self.spare) {
                Ok(converted) => (Some(converted), None),
                Err(expected) => (
                    None,
                    Some(format!(
                        "field `{}`: expected {expected}, found {}",
                        field.name,
                        value.shown()
                    )),
                ),
            },
        };
        if let Some(slot) = self.values.get_mut(index) {
            // A repeated key's earlier string is kept spare.
            if let Some(LeadValue::Str(text)) = std::mem::replace(slot, converted) {
                self.keep_spare(text);
            }
        }
        if problem.is_some() && self.problems.is_empty() {
            self.problems = vec![None; policy.fields.len()];
        }
        if let Some(slot) = self.problems.get_mut(index) {
            *slot = problem;
        }
    }
}

/// Whether `text` is empty or white space only, told from its first byte for most texts (one
/// that begins with a printable ASCII character is not blank).
fn blank(text: &str) -> bool {
    text.as_bytes()
        .first()
        .is_none_or(|first| !first.is_ascii_graphic())
        && text.trim().is_empty()
}

/// The index of the schema field named `key`, looked for from field `from` on, then from the
/// start (names are unique: the same answer as a search from the start).
fn field_after(policy: &Policy, key: &str, from: usize) -> Option<usize> {
    let (before, after) = policy.fields.split_at(from.min(policy.fields.len()));
    let named = |field: &crate::model::FieldDef| same_text(&field.name, key);
    after
        .iter()
        .position(named)
        .map(|at| from + at)
        .or_else(|| before.iter().position(named))
}

struct LeadSeed<'a> {
    policy: &'a Policy,
    /// Where the fields go (empty, perhaps in an earlier lead's memory).
    fields: Fields,
    /// The object's id as soon as it is read, kept when the rest of the text fails.
    id_read: &'a mut Option<LeadId>,
}

impl<'de> serde::de::DeserializeSeed<'de> for LeadSeed<'_> {
    type Value = Top;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Top, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for LeadSeed<'_> {
    type Value = Top;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
        let LeadSeed {
            policy,
            fields: mut out,
            id_read,
        } = self;
        while let Some(found) = map.next_key_seed(KeySeed { policy })? {
            let Some(index) = found else {
                map.next_value::<serde::de::IgnoredAny>()?;
                continue;
            };
            out.take(policy, index, &map.next_value_seed(JsonSeed)?);
            if policy
                .fields
                .get(index)
                .is_some_and(|field| field.name == "id")
            {
                id_read.clone_from(&out.id);
            }
        }
        Ok(Top::Object(out))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Top, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Top::Other("an array"))
    }

    fn visit_str<E>(self, _: &str) -> Result<Top, E> {
        Ok(Top::Other("a string"))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Top, E> {
        Ok(Top::Other("a boolean"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Top, E> {
        Ok(Top::Other("a number"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Top, E> {
        Ok(Top::Other("a number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Top, E> {
        Ok(Top::Other("a number"))
    }

    fn visit_unit<E>(self) -> Result<Top, E> {
        Ok(Top::Other("null"))
    }
}

/// Maps an object key to the index of the schema field it names, without allocating.
struct KeySeed<'a> {
    policy: &'a Policy,
}

impl<'de> serde::de::DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a field name")
    }

    fn visit_str<E>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(field_after(self.policy, key, 0))
    }
}

/// Reads one field value.
struct JsonSeed;

impl<'de> serde::de::DeserializeSeed<'de> for JsonSeed {
    type Value = Json<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Json<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for JsonSeed {
    type Value = Json<'de>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, flag: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(flag))
    }

    fn visit_i64<E>(self, number: i64) -> Result<Json<'de>, E> {
        Ok(Json::Int(number))
    }

    fn visit_u64<E>(self, number: u64) -> Result<Json<'de>, E> {
        Ok(i64::try_from(number).map_or(Json::UInt(number), Json::Int))
    }

    fn visit_f64<E>(self, number: f64) -> Result<Json<'de>, E> {
        Ok(Json::Float(number))
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(std::borrow::Cow::Borrowed(text)))
    }

    fn visit_str<E>(self, text: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(std::borrow::Cow::Owned(text.to_string())))
    }

    fn visit_string<E>(self, text: String) -> Result<Json<'de>, E> {
        Ok(Json::Str(std::borrow::Cow::Owned(text)))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Json::Compound("an array"))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(Json::Compound("an object"))
    }
}

/// The instant of a lead's time, in nanoseconds since the Unix epoch: an RFC 3339 time
/// (`2026-11-23T10:00:00+01:00`, `…Z`, with a fraction or not) whose offset is within ±23:59.
/// The common form is read by [`common_timestamp_nanos`]; anything else by jiff's parser (which
/// also takes a leap second, a lowercase `t`, a space for `T`), with the offset checked.
pub fn read_time(text: &str) -> Option<i128> {
    common_timestamp_nanos(text)
        .or_else(|| general_timestamp_nanos(text))
        .or_else(|| general_timestamp_nanos(&fraction_cut_to_nanoseconds(text)?))
}

/// `text` with a fraction of a second of more than nine digits cut to nine (RFC 3339 allows
/// any number; instants here are counted in nanoseconds, so the rest could not change one);
/// `None` when it has no such fraction.
fn fraction_cut_to_nanoseconds(text: &str) -> Option<String> {
    let dot = text.find(['.', ','])?;
    let digits = text
        .get(dot + 1..)?
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    if digits <= 9 {
        return None;
    }
    Some(format!(
        "{}{}",
        text.get(..dot + 10)?,
        text.get(dot + 1 + digits..)?
    ))
}

/// An RFC 3339 time read as [`read_time`] reads a lead's (offsets within ±23:59), as an
/// instant this program computes with: for `--now` and events. The error says which rule the
/// text broke.
pub fn read_instant(text: &str) -> Result<jiff::Timestamp, String> {
    let Some(nanos) = read_time(text) else {
        use jiff::fmt::temporal::{Pieces, PiecesOffset};
        let pieces = Pieces::parse(text).ok();
        let offset = pieces.as_ref().and_then(|pieces| match pieces.offset() {
            Some(PiecesOffset::Numeric(numeric)) => Some(numeric.offset().seconds()),
            Some(PiecesOffset::Zulu) => Some(0),
            _ => None,
        });
        return Err(match (pieces.as_ref(), offset) {
            (Some(pieces), _) if pieces.date().year() < 1 => {
                "its year is before 0001, RFC 3339's first".to_string()
            }
            (Some(pieces), _) if pieces.time_zone_annotation().is_some() || text.contains('[') => {
                "it has a `[zone]` after its offset: an RFC 3339 time ends at the offset"
                    .to_string()
            }
            (Some(_), Some(seconds)) if seconds % 60 != 0 => {
                "its offset has seconds: RFC 3339 offsets are hours and minutes".to_string()
            }
            (Some(_), Some(seconds)) if seconds.unsigned_abs() >= 24 * 3_600 => {
                "its offset is a day or more (RFC 3339 offsets are at most ±23:59)".to_string()
            }
            (Some(_), None) if !text.contains(['T', 't', ' ']) => {
                "it is a date without a time: give a time and its offset, such as \
                 2026-11-23T00:00:00Z"
                    .to_string()
            }
            (Some(_), None) => "it has no UTC offset: add one, such as `Z` or `+01:00`".to_string(),
            _ => "it is not an RFC 3339 time such as 2026-11-23T10:12:00+01:00".to_string(),
        });
    };
    jiff::Timestamp::from_nanosecond(nanos).map_err(|_| {
        format!(
            "it is after {}, the last instant times are computed for",
            jiff::Timestamp::MAX
        )
    })
}

/// A date alone, exactly `YYYY-MM-DD` (jiff's date reader would take a date and time too, and
/// drop the time): a roster's out-of-office day, a report's `--since`.
pub(crate) fn parse_date(value: &str) -> Option<jiff::civil::Date> {
    (value.len() == 10).then(|| value.parse().ok()).flatten()
}

/// [`read_instant`], or a date alone (`2026-11-24`, exactly: jiff's date reader would take the
/// date out of a whole time) read as its start in UTC: a period's bound (`report --since`,
/// `serve`'s `?since=`).
pub fn read_instant_or_date(text: &str) -> Result<jiff::Timestamp, String> {
    let Some(date) = parse_date(text) else {
        return read_instant(text).map_err(|why| format!("{why}, or a date such as 2026-11-24"));
    };
    jiff::tz::TimeZone::UTC
        .to_ambiguous_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .compatible()
        .map_err(|_| {
            format!(
                "the day starts after {}, the last instant times are computed for",
                jiff::Timestamp::MAX
            )
        })
}

/// The general path of [`read_time`]: jiff's parser, refusing offsets of a day or more (jiff
/// takes up to ±25:59:59; RFC 3339's hours are 00-23) and years before 0001 (RFC 3339's
/// first; jiff reads year 0000 and signed years).
fn general_timestamp_nanos(text: &str) -> Option<i128> {
    let pieces = jiff::fmt::temporal::Pieces::parse(text).ok()?;
    if pieces.date().year() < 1 || beyond_rfc_3339(text, &pieces).is_some() {
        return None;
    }
    if let Some(jiff::fmt::temporal::PiecesOffset::Numeric(numeric)) = pieces.offset()
        && numeric.offset().seconds().unsigned_abs() >= 24 * 3_600
    {
        return None;
    }
    text.parse::<jiff::Timestamp>()
        .ok()
        .map(|time| time.as_nanosecond())
}

/// What jiff's reader takes in a time that RFC 3339 has no room for, and that could move the
/// instant without a word: a time zone annotation after the offset (`[America/New_York]`, which
/// may even contradict it), and an offset with seconds (`+01:00:30`).
fn beyond_rfc_3339(text: &str, pieces: &jiff::fmt::temporal::Pieces<'_>) -> Option<&'static str> {
    // Any annotation, a zone's or another (`[u-ca=gregory]`): what follows the offset.
    if pieces.time_zone_annotation().is_some() || text.contains('[') {
        return Some("an RFC 3339 time, which ends at its offset (no `[zone]` after it)");
    }
    if let Some(jiff::fmt::temporal::PiecesOffset::Numeric(numeric)) = pieces.offset()
        && numeric.offset().seconds() % 60 != 0
    {
        return Some("an RFC 3339 time, whose offset is hours and minutes (no seconds)");
    }
    None
}

/// The instant of the common RFC 3339 form `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, in
/// nanoseconds since the Unix epoch, read without the general parser (leads carry a time each,
/// and this is most of reading one). Anything else, or anything unusual (leap seconds, year
/// 0000), gives `None` and goes to the general parser, which gives the same instant for every
/// text this accepts (`fast_timestamps_agree_with_the_general_reader`) where it can hold it:
/// jiff's instants end at 9999-12-30T22:00Z, so the last hours of 9999 are read only here.
fn common_timestamp_nanos(text: &str) -> Option<i128> {
    let bytes = text.as_bytes();
    let digit = |index: usize| -> Option<u32> {
        let byte = *bytes.get(index)?;
        byte.is_ascii_digit().then(|| u32::from(byte - b'0'))
    };
    let number = |from: usize, len: usize| {
        (from..from + len).try_fold(0u32, |n, i| Some(n * 10 + digit(i)?))
    };
    let at = |index: usize, byte: u8| bytes.get(index) == Some(&byte);
    if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':')) {
        return None;
    }
    let (year, month, day) = (number(0, 4)?, number(5, 2)?, number(8, 2)?);
    let (hour, minute, second) = (number(11, 2)?, number(14, 2)?, number(17, 2)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=9999).contains(&year)
        || !(1..=month_days).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut index = 19;
    let mut nanos = 0u32;
    if at(index, b'.') {
        let start = index + 1;
        index = start;
        while bytes.get(index).is_some_and(u8::is_ascii_digit) {
            index += 1;
        }
        let digits = index - start;
        if digits == 0 || digits > 9 {
            return None;
        }
        nanos = number(start, digits)? * 10u32.pow(u32::try_from(9 - digits).ok()?);
    }
    let offset = match bytes.get(index)? {
        b'Z' => {
            index += 1;
            0
        }
        sign @ (b'+' | b'-') => {
            if !at(index + 3, b':') {
                return None;
            }
            let (hours, minutes) = (number(index + 1, 2)?, number(index + 4, 2)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            index += 6;
            let seconds = i64::from(hours * 3600 + minutes * 60);
            if *sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    if index != bytes.len() {
        return None;
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    let (y, m, d) = (
        i64::from(year) - i64::from(month <= 2),
        i64::from(month),
        i64::from(day),
    );
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset;
    Some(i128::from(seconds) * 1_000_000_000 + i128::from(nanos))
}

/// `a == b`, rejecting on length and first byte before comparing the rest: keys and variants
/// are short and mostly differ at once, and this is the inner loop of reading a lead.
#[inline]
fn same_text(a: &str, b: &str) -> bool {
    scan::same_bytes(a.as_bytes(), b.as_bytes())
}

/// The index of the variant named `text`: looked up in a large enum's index, found by a scan
/// of a small one.
fn variant_of(variants: &crate::model::types::Variants, text: &str) -> Option<u32> {
    if variants.is_indexed() {
        variants.position(text)
    } else {
        variants
            .iter()
            .position(|v| same_text(v, text))
            .and_then(|i| u32::try_from(i).ok())
    }
}

/// `text` in one of `spare`'s strings when there is one (no allocation once it has room),
/// else in a new one.
fn copy_into_spare(spare: &mut Vec<String>, text: &str) -> String {
    let mut string = spare.pop().unwrap_or_default();
    string.clear();
    string.push_str(text);
    string
}

/// Converts a JSON value to a field's type, or says what was expected.
/// A string value is held in one of `spare` when there is one.
fn convert(ty: &FieldType, value: &Json<'_>, spare: &mut Vec<String>) -> Result<LeadValue, String> {
    match (ty, value) {
        (FieldType::Enum(variants), Json::Str(text)) => variant_of(variants, text)
            .map(LeadValue::Variant)
            .ok_or_else(|| format!("one of {}", variants.listed())),
        (FieldType::Enum(variants), _) => Err(format!("one of {}", variants.listed())),
        (FieldType::Bool, Json::Bool(flag)) => Ok(LeadValue::Variant(u32::from(*flag))),
        (FieldType::Bool, _) => Err("true or false".to_string()),
        (FieldType::String, Json::Str(text)) => Ok(LeadValue::Str(copy_into_spare(spare, text))),
        (FieldType::String, _) => Err("a string".to_string()),
        (FieldType::Int, Json::Int(int)) => Ok(LeadValue::Scalar(Scalar::Int(i128::from(*int)))),
        (FieldType::Int, Json::UInt(int)) => Ok(LeadValue::Scalar(Scalar::Int(i128::from(*int)))),
        // `-0` is a whole number, but a JSON reader gives it as the float -0.0 (and cannot tell
        // it from `-0.0`): a negative zero reads as 0.
        (FieldType::Int, Json::Float(float)) if *float == 0.0 && float.is_sign_negative() => {
            Ok(LeadValue::Scalar(Scalar::Int(0)))
        }
        (FieldType::Int, _) => Err("a whole number".to_string()),
        // Whole numbers round to the nearest float, as parsing their text would.
        #[allow(clippy::cast_precision_loss)]
        (FieldType::Number, Json::Int(int)) => Ok(LeadValue::Scalar(Scalar::Float(*int as f64))),
        #[allow(clippy::cast_precision_loss)]
        (FieldType::Number, Json::UInt(int)) => Ok(LeadValue::Scalar(Scalar::Float(*int as f64))),
        (FieldType::Number, Json::Float(float)) if float.is_finite() => {
            Ok(LeadValue::Scalar(Scalar::Float(*float)))
        }
        (FieldType::Number, Json::Float(_)) => Err("a finite number".to_string()),
        (FieldType::Number, _) => Err("a number".to_string()),
        (FieldType::Time, Json::Str(text)) => match read_time(text) {
            Some(nanos) => Ok(LeadValue::Scalar(Scalar::Int(nanos))),
            // jiff reads these two kinds of text that `read_time` refuses: say which.
            None if jiff::fmt::temporal::Pieces::parse(text.as_ref())
                .is_ok_and(|pieces| pieces.date().year() < 1) =>
            {
                Err("an RFC 3339 time in the years 0001 to 9999".to_string())
            }
            None if let Some(beyond) = jiff::fmt::temporal::Pieces::parse(text.as_ref())
                .ok()
                .as_ref()
                .and_then(|pieces| beyond_rfc_3339(text, pieces)) =>
            {
                Err(beyond.to_string())
            }
            None if text.parse::<jiff::Timestamp>().is_ok() => {
                Err("an RFC 3339 time with a UTC offset within ±23:59".to_string())
            }
            None => Err("an RFC 3339 time such as \"2026-11-23T10:00:00+01:00\"".to_string()),
        },
        (FieldType::Time, _) => Err("an RFC 3339 time string".to_string()),
    }
}

/// The byte offset where nesting first exceeds `max`, ignoring brackets inside strings.
fn too_deep(bytes: &[u8], max: usize) -> Option<usize> {
    // A line cannot nest deeper than it has opening brackets: most lines have one, so look for
    // more than `max` of them first (memchr's vectorised search) and walk the line only then.
    memchr::memchr2_iter(b'{', b'[', bytes).nth(max)?;
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, byte) in bytes.iter().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Some(offset);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn field_bits_tell_a_field_given_again_past_the_inline_words() {
        let mut bits = FieldBits::default();
        for round in 0..2 {
            for index in [0, 63, 64, 255, 256, 319, 320, 1_000] {
                assert!(!bits.set(index), "{index} is new in round {round}");
                assert!(bits.set(index), "{index} is given again in round {round}");
            }
            assert!(!bits.set(999) && !bits.set(1_001));
            bits.clear();
        }
    }

    /// jiff's latest instant: later valid times are read by the fast path alone.
    fn beyond_jiff(nanos: i128) -> bool {
        nanos > jiff::Timestamp::MAX.as_nanosecond()
    }

    /// The fast path and the general reader agree on `text`: whatever the fast path reads, the
    /// general reader reads to the same instant (or cannot hold it), and whatever in the common
    /// form the general reader reads, the fast path reads too.
    fn agree(text: &str) -> Result<(), TestCaseError> {
        let general = general_timestamp_nanos(text);
        match common_timestamp_nanos(text) {
            Some(fast) if general.is_none() => {
                prop_assert!(beyond_jiff(fast), "only the fast path reads {}", text)
            }
            Some(fast) => prop_assert_eq!(Some(fast), general, "{}", text),
            None => prop_assert!(
                general.is_none() || !common_form(text),
                "the fast path refuses {} in the common form",
                text
            ),
        }
        Ok(())
    }

    /// `YYYY-MM-DDTHH:MM:SS[.1-9 digits](Z|±HH:MM)`, years 0001-9999, no leap second.
    fn common_form(text: &str) -> bool {
        let bytes = text.as_bytes();
        let digits = |range: std::ops::Range<usize>| {
            bytes
                .get(range)
                .is_some_and(|part| part.iter().all(u8::is_ascii_digit))
        };
        let shape = bytes.len() >= 20
            && digits(0..4)
            && bytes[4] == b'-'
            && digits(5..7)
            && bytes[7] == b'-'
            && digits(8..10)
            && bytes[10] == b'T'
            && digits(11..13)
            && bytes[13] == b':'
            && digits(14..16)
            && bytes[16] == b':'
            && digits(17..19);
        if !shape || &text[0..4] == "0000" || &text[17..19] == "60" {
            return false;
        }
        let mut rest = &text[19..];
        if let Some(fraction) = rest.strip_prefix('.') {
            let count = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if !(1..=9).contains(&count) {
                return false;
            }
            rest = &fraction[count..];
        }
        rest == "Z"
            || (rest.len() == 6
                && matches!(rest.as_bytes()[0], b'+' | b'-')
                && digits(text.len() - 5..text.len() - 3)
                && rest.as_bytes()[3] == b':'
                && rest[4..].bytes().all(|b| b.is_ascii_digit()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// Well-formed and near-well-formed times: the two readers agree.
        #[test]
        fn fast_timestamps_agree_with_the_general_reader(
            year in 0u32..10_000, month in 0u32..14, day in 0u32..33, hour in 0u32..25,
            minute in 0u32..61, second in 0u32..61, fraction in proptest::option::of("[0-9]{0,10}"),
            offset in prop_oneof![Just("Z".to_string()), "[+-][0-2][0-9]:[0-6][0-9]"],
        ) {
            let fraction = fraction.map(|digits| format!(".{digits}")).unwrap_or_default();
            let text = format!(
                "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}{offset}"
            );
            agree(&text)?;
        }

        /// Mangled texts of the right alphabet: the readers agree.
        #[test]
        fn fast_timestamps_never_disagree_on_odd_text(text in "[0-9T:Z+.-]{15,32}") {
            agree(&text)?;
        }

        /// Arbitrary strings: the readers agree, and no offset of a day or more is read.
        #[test]
        fn the_readers_agree_on_arbitrary_strings(text in "\\PC{0,40}") {
            agree(&text)?;
        }
    }

    #[test]
    fn fast_timestamps_cover_the_usual_forms() {
        for text in [
            "2026-11-23T10:00:00Z",
            "2026-11-23T10:00:00+01:00",
            "2026-11-23T10:00:00.5-05:30",
            "2024-02-29T23:59:59.999999999Z",
            "0001-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(
                common_timestamp_nanos(text),
                general_timestamp_nanos(text),
                "{text}"
            );
            assert!(common_timestamp_nanos(text).is_some(), "{text}");
        }
        for unusual in [
            "2025-02-29T00:00:00Z",
            "2026-11-23T10:00:60Z",
            "2026-11-23t10:00:00z",
            "2026-11-23 10:00:00Z",
        ] {
            assert_eq!(common_timestamp_nanos(unusual), None, "{unusual}");
        }
    }

    #[test]
    fn times_are_rfc_3339_with_offsets_within_a_day() {
        // Valid: the last second of 9999 (beyond jiff's instants), an offset of 23:59.
        let last = read_time("9999-12-31T23:59:59Z").unwrap();
        assert!(beyond_jiff(last));
        assert_eq!(
            read_time("2026-11-23T10:00:00+23:59"),
            general_timestamp_nanos("2026-11-23T10:00:00+23:59")
        );
        assert!(read_time("2026-11-23T10:00:00+23:59").is_some());
        // Invalid: offsets of a day or more, in any form jiff would take.
        for text in [
            "2026-11-23T10:00:00+25:00",
            "2026-11-23T10:00:00+24:00",
            "2026-11-23T10:00:00-24:30",
            "2026-11-23 10:00:00+25:00",
            "2026-11-23T10:00:00+2500",
            // Years before 0001, which jiff's parser would read.
            "0000-01-01T00:00:00Z",
            "0000-06-01 12:00:00+01:00",
            "-000001-01-01T00:00:00Z",
        ] {
            assert_eq!(read_time(text), None, "{text}");
        }
    }

    #[test]
    fn lines_are_bounded_and_terminators_stripped() {
        let mut input: &[u8] = b"short\r\nthis line is far too long\nok";
        assert!(matches!(read_line(&mut input, 10).unwrap(), Some(Line::Text(t)) if t == b"short"));
        assert!(matches!(
            read_line(&mut input, 10).unwrap(),
            Some(Line::TooLong(25))
        ));
        assert!(matches!(read_line(&mut input, 10).unwrap(), Some(Line::Text(t)) if t == b"ok"));
        assert!(read_line(&mut input, 10).unwrap().is_none());
    }

    /// The limit counts a line without its terminator, `\r\n` as `\n`: a line at the limit is
    /// read whatever its ending, and one past it is refused with its length without the `\r`,
    /// also when the `\r` and the `\n` come in different reads.
    #[test]
    fn a_crlf_line_at_the_limit_is_read_like_an_lf_one() {
        let mut input: &[u8] = b"0123456789\r\n0123456789\n0123456789a\r\n0123456789\r";
        for expected in [&b"0123456789"[..], b"0123456789"] {
            assert!(
                matches!(read_line(&mut input, 10).unwrap(), Some(Line::Text(t)) if t == expected)
            );
        }
        assert!(matches!(
            read_line(&mut input, 10).unwrap(),
            Some(Line::TooLong(11))
        ));
        assert!(
            matches!(read_line(&mut input, 10).unwrap(), Some(Line::Text(t)) if t == b"0123456789")
        );
        assert!(read_line(&mut input, 10).unwrap().is_none());
        // A reader that hands out one byte at a time.
        let bytes = b"0123456789\r\nnext\n";
        let mut split = std::io::BufReader::with_capacity(1, &bytes[..]);
        assert!(
            matches!(read_line(&mut split, 10).unwrap(), Some(Line::Text(t)) if t == b"0123456789")
        );
        assert!(matches!(read_line(&mut split, 10).unwrap(), Some(Line::Text(t)) if t == b"next"));
    }

    proptest! {
        /// [`with_next_line`] hands out the lines [`read_line`] reads, the same bytes and the
        /// same lengths past the limit, whether a line lies whole in the buffer (handed where
        /// it lies) or runs past its end (copied), whatever the buffer's size.
        #[test]
        fn a_line_handed_where_it_lies_is_the_line_read(
            bytes in proptest::collection::vec(
                prop_oneof![Just(b'a'), Just(b'b'), Just(b'\r'), Just(b'\n')], 0..200),
            max in 0usize..12,
            capacity in 1usize..40,
        ) {
            let mut read = Vec::new();
            let mut input = std::io::BufReader::with_capacity(capacity, &bytes[..]);
            while let Some(line) = read_line(&mut input, max).unwrap() {
                read.push(match line {
                    Line::Text(text) => Ok(text),
                    Line::TooLong(length) => Err(length),
                });
            }
            let mut handed = Vec::new();
            let mut input = std::io::BufReader::with_capacity(capacity, &bytes[..]);
            let mut copied = Vec::new();
            while let Some(line) = with_next_line(&mut input, max, &mut copied, |line| {
                line.map(<[u8]>::to_vec)
            })
            .unwrap()
            {
                handed.push(line);
            }
            prop_assert_eq!(handed, read);
        }
    }

    #[test]
    fn a_key_repeated_in_any_object_is_found_with_where() {
        let found = repeated_key(br#"{"a":1,"b":{"c":[{"d":1,"d":2}]}}"#).unwrap_or_default();
        assert!(
            found.starts_with("key `d` appears more than once in one object at line 1"),
            "{found}"
        );
        assert!(repeated_key(br#"{"a":1,"a":1}"#).is_some());
        assert_eq!(
            repeated_key(br#"{"a":{"b":1},"c":{"b":1},"d":[{"b":1},{"b":2}]}"#),
            None
        );
        assert_eq!(repeated_key(br#"{"a":1,"b""#), None);
        assert_eq!(repeated_key(b"[1, 2, 1]"), None);
    }

    #[test]
    fn lone_surrogates_are_found_and_pairs_and_escaped_backslashes_are_not() {
        assert_eq!(lone_surrogate(r#"{"a":"\ud800"}"#), Some((6, r"\ud800")));
        assert_eq!(lone_surrogate(r#"{"a":"x\udc00"}"#), Some((7, r"\udc00")));
        assert_eq!(
            lone_surrogate(r#"{"a":"\ud83d\u0041"}"#),
            Some((6, r"\ud83d"))
        );
        assert_eq!(
            lone_surrogate(r#"{"a":"\ud83d\ude00 \n \"\ud800"}"#),
            Some((24, r"\ud800"))
        );
        assert_eq!(lone_surrogate(r#"{"a":"\ud83d\ude00"}"#), None);
        assert_eq!(lone_surrogate(r#"{"a":"\\ud800"}"#), None);
        assert_eq!(lone_surrogate(r#"{"a":"\ud8"}"#), None);
        assert_eq!(lone_surrogate(r#"{"a":"\"#), None);
    }

    /// Keys remembered as naming no field are passed over only with the very policy they
    /// were found with: the same line read with another policy, which has such a key as a
    /// field, reads its value; and a reader remembering keys reads every line as one that
    /// remembers nothing.
    #[test]
    fn unknown_keys_are_remembered_for_their_policy_only() {
        let policy = |source: &str| {
            let report = crate::pipeline::check_source(source);
            std::sync::Arc::new(report.compiled.expect("the policy compiles").0)
        };
        let narrow = policy("schema lead {\n  id: string\n}\nqueue q\notherwise -> queue q\n");
        let wide = policy(
            "schema lead {\n  id: string\n  utm_source: string?\n}\nqueue q\notherwise -> queue q\n",
        );
        let limits = Limits::default();
        let line = br#"{"id":"L-1","utm_source":"ads","crm":1}"#;
        let mut unknown = UnknownKeys::new(std::sync::Arc::clone(&narrow));
        let read = |policy: &Policy, unknown: &mut UnknownKeys| {
            let mut slot = parse_lead(policy, b"{\"id\":\"L-0\"}", &limits);
            parse_lead_in_place_remembering(policy, line, &limits, &mut slot, unknown);
            slot.map(|lead| lead.lead.values)
        };
        for _ in 0..2 {
            let narrow_values = read(&narrow, &mut unknown);
            assert_eq!(
                narrow_values,
                parse_lead(&narrow, line, &limits).map(|l| l.lead.values)
            );
            assert_eq!(unknown.keys.len(), 2, "utm_source and crm are remembered");
        }
        let wide_values = read(&wide, &mut unknown).expect("the line is a lead");
        assert_eq!(
            wide_values.get(1),
            Some(&Some(LeadValue::Str("ads".to_string()))),
            "the wide policy reads utm_source, which the narrow one remembers as no field"
        );
    }

    /// A flat lead is one level deep, whichever reader reads it: the scanner's lines are
    /// measured against the limit as serde's are (a limit of 0 refuses every object).
    #[test]
    fn a_depth_limit_holds_on_the_lines_either_reader_reads() {
        let report = crate::pipeline::check_source(
            "schema lead {\n  id: string\n  note: string?\n}\nqueue q\notherwise -> queue q\n",
        );
        let policy = report.compiled.expect("the policy compiles").0;
        let limits = |max_depth| Limits {
            max_depth,
            ..Limits::default()
        };
        let code = |line: &str, max_depth| {
            parse_lead(&policy, line.as_bytes(), &limits(max_depth))
                .err()
                .map(|error| error.code)
        };
        // Scanned (no escape), and read by serde (an escape).
        for flat in [r#"{"id":"L-1"}"#, r#"{"id":"L-\u0031"}"#] {
            assert_eq!(code(flat, 1), None, "{flat}");
            assert_eq!(code(flat, 0), Some("lead.too_deep"), "{flat}");
        }
        let nested = r#"{"id":"L-1","extra":{"a":[1]}}"#;
        assert_eq!(code(nested, 3), None);
        assert_eq!(code(nested, 2), Some("lead.too_deep"));
    }

    /// The id's hash found ahead is [`keyed_hash`]'s, found only when asked for, and a lead
    /// parsed in an earlier one's place has none until it is found again (never the earlier
    /// id's).
    #[test]
    fn an_ids_hash_found_ahead_is_its_own() {
        let report = crate::pipeline::check_source(
            "schema lead {\n  id: string\n}\nqueue q\notherwise -> queue q\n",
        );
        let (policy, compiled) = report.compiled.expect("the policy compiles");
        let ahead = super::super::ahead::TimesAhead::new(&policy);
        let context = EvalContext {
            now: jiff::Timestamp::UNIX_EPOCH,
        };
        let limits = Limits::default();
        let mut slot = parse_lead(&policy, br#"{"id":"L-1"}"#, &limits);
        assert_eq!(slot.as_ref().map(ParsedLead::id_hash), Ok(None));
        if let Ok(lead) = &mut slot {
            lead.find_ahead(&policy, &compiled, &ahead, &context);
        }
        assert_eq!(slot.as_ref().map(ParsedLead::id_hash), Ok(None));
        if let Ok(lead) = &mut slot {
            lead.find_id_hash();
        }
        assert_eq!(
            slot.as_ref().map(ParsedLead::id_hash),
            Ok(Some(keyed_hash("L-1")))
        );
        parse_lead_in_place(&policy, br#"{"id":"L-2"}"#, &limits, &mut slot);
        assert_eq!(slot.as_ref().map(ParsedLead::id_hash), Ok(None));
        if let Ok(lead) = &mut slot {
            lead.find_ahead(&policy, &compiled, &ahead, &context);
            lead.find_id_hash();
        }
        assert_eq!(
            slot.as_ref().map(ParsedLead::id_hash),
            Ok(Some(keyed_hash("L-2")))
        );
        assert_ne!(keyed_hash("L-1"), keyed_hash("L-2"));
    }

    #[test]
    fn nesting_is_measured_outside_strings() {
        assert_eq!(too_deep(b"[[[1]]]", 2), Some(2));
        assert_eq!(too_deep(b"{\"a\": \"[[[[[\"}", 2), None);
        assert_eq!(too_deep(b"{\"a\": \"\\\"[[[[\"}", 2), None);
    }
}
