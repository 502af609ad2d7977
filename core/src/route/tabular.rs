//! Leads as CRMs export them: CSV with a header row (RFC 4180: quoted fields, embedded commas,
//! quotes and newlines), turned into the NDJSON lines the lead reader takes, one line per data
//! row, so every command that reads leads reads CSV through the same checks.
//!
//! The header names the fields: a column matches a schema field by its exact name, else by its
//! name in any case (with a warning); other columns are ignored, as unknown JSON keys are.
//! Cells are converted by the field's type: an empty cell is absent; an `int` accepts `800.0`
//! (a spreadsheet's way of writing 800) but not `800.5`; a `number` any decimal; a `bool`
//! `true`/`false` in any case; an enum its variants exactly, or in any case with
//! `lenient_enums`. A cell that does not convert is passed on as text, so the reader's error
//! names the field and the value ("field `employees`: expected an integer, found \"lots\"").
//!
//! A row with more cells than the header, past it not empty (most often a comma not in
//! quotes, which moves every later cell one column on), or with fewer (a cell left out moves
//! the later ones back), is not read as a lead: its line is a [`ROW_ERROR`] that the reader
//! answers with a `lead.csv` error record saying so.
//!
//! Invariant: every data row yields exactly one line, and nothing else does (the header yields
//! none); a row's line number in the output is its data row number.

use crate::model::{FieldType, Policy};
use std::io::{self, Read};

/// The start of a line that stands for a data row the reader must refuse: the record
/// separator (which never starts a JSON text), a tag and the unit separator, then a JSON array
/// of the row's id (or `null`), why, and whether the row was too long. The lead reader answers
/// it with a `lead.csv` error record, or `lead.too_long` ([`row_error`]).
pub(crate) const ROW_ERROR: &[u8] = b"\x1Eswitchboard:csv-row\x1F";

/// The error record of a [`ROW_ERROR`] line, given what follows the tag: its code, the row's
/// lead id and why; `None` when that is not what this module writes.
pub(crate) fn row_error(rest: &[u8]) -> Option<(&'static str, Option<String>, String)> {
    let (id, message, too_long): (Option<String>, String, bool) =
        serde_json::from_slice(rest).ok()?;
    let code = if too_long {
        "lead.too_long"
    } else {
        "lead.csv"
    };
    Some((code, id, message))
}

/// The fewest named columns for which a line with as many commas, inside a quoted cell, is
/// taken for a row of the file ([`CsvLeads::rows_taken_in`]).
const ROW_LIKE_COLUMNS: usize = 5;

/// How cells are read.
#[derive(Debug, Clone, Copy, Default)]
pub struct CsvOptions {
    /// Match an enum's variants in any case (`High` for `high`).
    pub lenient_enums: bool,
    /// The most bytes one row (the header too) may take, quoted line breaks included: a longer
    /// data row is a `lead.too_long` record, its bytes read past without being kept (a quote
    /// never closed takes the rest of the file into it, and says so); a longer header ends the
    /// input with an error. `None`: no bound.
    pub longest_row: Option<u64>,
}

/// How one column is converted.
#[derive(Debug, Clone)]
enum Kind {
    Int,
    Number,
    Bool,
    Enum(Vec<String>),
    Text,
}

/// A column the schema knows: the field it fills and how.
#[derive(Debug, Clone)]
struct Column {
    /// `"field":`, as written before each of its values.
    key: Vec<u8>,
    kind: Kind,
}

/// CSV leads read as NDJSON (`Read`), one line per data row.
pub struct CsvLeads<R: Read> {
    records: csv::Reader<QuoteCount<R>>,
    columns: Vec<Option<Column>>,
    /// Whether the first column is the field `id`: a row error names the lead only then (in a
    /// later column, a cell moved by the row's problem may stand where the id should be).
    id_first: bool,
    /// The header's columns up to its last named one: columns after it (a header that ends
    /// in a comma) are no cells a row must have.
    named: usize,
    options: CsvOptions,
    record: csv::ByteRecord,
    /// The line being handed out, and how much of it was.
    line: Vec<u8>,
    given: usize,
    done: bool,
    /// An error met after some rows of a read were handed out: said at the next read.
    failed: Option<io::Error>,
    /// Why the input ended early, said once the row that ended it is handed out (a quote never
    /// closed in a row past the bound).
    after_end: Option<io::Error>,
}

/// Whether two types read a cell the same way.
fn same_kind(a: &FieldType, b: &FieldType) -> bool {
    matches!(
        (a, b),
        (FieldType::Int, FieldType::Int)
            | (FieldType::Number, FieldType::Number)
            | (FieldType::Bool, FieldType::Bool)
            | (FieldType::Enum(_), FieldType::Enum(_))
            | (
                FieldType::String | FieldType::Time,
                FieldType::String | FieldType::Time
            )
    )
}

/// The columns of a header, matched to the fields of the policies' schemas (the first policy
/// that has a field decides its type), and the warnings about the match.
fn columns(header: &csv::ByteRecord, policies: &[&Policy]) -> (Vec<Option<Column>>, Vec<String>) {
    let mut warnings = Vec::new();
    let fields: Vec<(&str, &FieldType, bool)> = {
        let mut seen: Vec<(&str, &FieldType, bool)> = Vec::new();
        for policy in policies {
            for field in &policy.fields {
                match seen.iter().find(|(name, _, _)| *name == field.name) {
                    None => seen.push((&field.name, &field.ty, field.optional)),
                    Some((_, ty, _)) if !same_kind(ty, &field.ty) => warnings.push(format!(
                        "field `{}` has another type in each policy: its cells are read as the \
                         first policy reads them",
                        field.name
                    )),
                    Some(_) => {}
                }
            }
        }
        seen
    };
    // An enum's values in any case: every policy's variants.
    let variants_of = |name: &str| -> Vec<String> {
        let mut all: Vec<String> = Vec::new();
        for policy in policies {
            if let Some(FieldType::Enum(variants)) = policy
                .fields
                .iter()
                .find(|field| field.name == name)
                .map(|field| &field.ty)
            {
                for variant in variants.iter() {
                    if !all.contains(variant) {
                        all.push(variant.clone());
                    }
                }
            }
        }
        all
    };

    let names: Vec<String> = header
        .iter()
        .map(|name| String::from_utf8_lossy(name).trim().to_string())
        .collect();
    let mut taken: Vec<&str> = Vec::new();
    let mut out = Vec::with_capacity(names.len());
    // Exact names first, so that `Intent` never takes `intent` from a column named `intent`.
    let mut matched: Vec<Option<usize>> = names
        .iter()
        .map(|name| fields.iter().position(|(field, _, _)| field == name))
        .collect();
    // Columns that repeat a field's exact name: said once, above all else.
    let mut repeats: Vec<usize> = Vec::new();
    for (index, name) in names.iter().enumerate() {
        if let Some(field) = matched[index] {
            if taken.contains(&fields[field].0) {
                warnings.push(format!(
                    "column {} (`{name}`) repeats field `{}`; the first such column is read",
                    index + 1,
                    fields[field].0
                ));
                matched[index] = None;
                repeats.push(index);
            } else {
                taken.push(fields[field].0);
            }
        }
    }
    for (index, name) in names.iter().enumerate() {
        if matched[index].is_some() || repeats.contains(&index) {
            continue;
        }
        let lower = name.to_lowercase();
        if let Some(field) = fields
            .iter()
            .position(|(field, _, _)| field.to_lowercase() == lower)
        {
            if taken.contains(&fields[field].0) {
                warnings.push(repeated_another_way(
                    name,
                    index,
                    fields[field].0,
                    &matched,
                    field,
                ));
                continue;
            }
            warnings.push(format!(
                "column `{name}` is read as field `{}` (the case differs)",
                fields[field].0
            ));
            taken.push(fields[field].0);
            matched[index] = Some(field);
        }
    }
    // A column that no field takes but whose name is a field's written another way
    // (`Contact Owner`, `parent-account`): read as nothing, an optional field would go unread
    // in every row without a word.
    let plain = |name: &str| -> String {
        name.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    for (index, name) in names.iter().enumerate() {
        if matched[index].is_some() || repeats.contains(&index) || plain(name).is_empty() {
            continue;
        }
        let Some(position) = fields
            .iter()
            .position(|(field, _, _)| plain(field) == plain(name))
        else {
            continue;
        };
        let field = fields[position].0;
        if name.to_lowercase() == field.to_lowercase() {
            continue; // said by the loop above
        }
        if taken.contains(&field) {
            warnings.push(repeated_another_way(name, index, field, &matched, position));
        } else {
            warnings.push(format!(
                "column `{name}` is not read: no field has that name; did you mean `{field}`? \
                 (name the column `{field}`)"
            ));
        }
    }
    for matched in &matched {
        out.push(matched.map(|field| {
            let (name, ty, _) = fields[field];
            let mut key = Vec::with_capacity(name.len() + 3);
            write_string(&mut key, name.as_bytes());
            key.push(b':');
            Column {
                key,
                kind: match ty {
                    FieldType::Int => Kind::Int,
                    FieldType::Number => Kind::Number,
                    FieldType::Bool => Kind::Bool,
                    FieldType::Enum(_) => Kind::Enum(variants_of(name)),
                    FieldType::String | FieldType::Time => Kind::Text,
                },
            }
        }));
    }
    for (name, _, optional) in &fields {
        if !optional && !taken.contains(name) {
            warnings.push(format!(
                "no column names the required field `{name}`: every row will say it is missing"
            ));
        }
    }
    (out, warnings)
}

/// Where a CSV reader is, byte by byte, as to quotes (RFC 4180, as the csv crate reads it): a
/// quote at a cell's start opens it; inside, a doubled quote is one quote and a single one
/// closes it; what follows a closing quote up to the next comma or line break is kept as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuoteState {
    CellStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

impl QuoteState {
    pub(crate) fn after(self, byte: u8) -> QuoteState {
        let ends_cell = matches!(byte, b',' | b'\n' | b'\r');
        match (self, byte) {
            (QuoteState::CellStart, b'"') => QuoteState::Quoted,
            (QuoteState::Quoted, b'"') => QuoteState::QuoteInQuoted,
            (QuoteState::Quoted, _) => QuoteState::Quoted,
            (QuoteState::QuoteInQuoted, b'"') => QuoteState::Quoted,
            (_, _) if ends_cell => QuoteState::CellStart,
            (_, _) => QuoteState::Unquoted,
        }
    }
}

/// The input, followed through as a CSV reader reads it: how many bytes, whether its end was
/// reached, and whether a quoted cell is still open there (a quote never closed). A row longer
/// than the bound is cut there: the reader gets its start and the bytes that end it, never
/// the rest, and [`QuoteCount::too_long`] says why, by where the cut row begins.
pub struct QuoteCount<R> {
    inner: R,
    state: QuoteState,
    /// Bytes handed to the CSV reader (so its positions and these agree): a cut row's bytes
    /// past the bound are not, the ones that end it are.
    bytes: u64,
    ended: bool,
    /// Bytes of the row under way (since the last line break outside quotes), the line it
    /// began on (from 0), and the line breaks seen (`\n`, `\r`, or the two together).
    row_bytes: u64,
    row_line: u64,
    lines: u64,
    /// Where (in bytes handed over) a `\n` would follow the last `\r`, making one line break
    /// with it, counted at the `\r`.
    cr_end: u64,
    longest_row: Option<u64>,
    /// What was read from `inner` and not yet followed, from `carry_at`.
    carry: Vec<u8>,
    carry_at: usize,
    /// Bytes to hand over before any more of the input: the end of a cut row.
    inject: Vec<u8>,
    /// The row under way past the bound, read through without being handed over.
    cutting: Option<CutRow>,
    /// The rows cut, oldest first.
    too_long: std::collections::VecDeque<CutRow>,
    /// The cell of the row under way (from 0), and the rows (by the byte each began at) with a
    /// quoted cell that goes on after its closing quote (`"L-5"x`, which a CSV reader reads as
    /// `L-5x`): its column, the first such per row, oldest first.
    cell: u32,
    /// Each with whether only spaces follow the quote (harmless where a cell is trimmed).
    past_closing_quote: std::collections::VecDeque<(u64, u32, bool)>,
    /// In a cell after its closing quote.
    after_quote: bool,
    /// The byte offset where the row under way began (a CSV reader's record position).
    row_start: u64,
    last_byte: Option<u8>,
}

/// A row longer than the bound: where it began (a byte offset as the CSV reader counts them,
/// and a line from 0), its bytes (then why, once it has ended), and whether its first cell was
/// whole before the bound (the id it names can be told).
#[derive(Debug)]
struct CutRow {
    start: u64,
    line: u64,
    bytes: u64,
    first_cell_whole: bool,
    /// The bytes that end it for the CSV reader, handed over once its end is read.
    end: &'static [u8],
    message: String,
    /// Why the input ends with it, when a quote in it is never closed.
    never_closed: Option<String>,
    /// Whether the byte read past last was a `\r` (a `\n` after it is no line of its own).
    after_cr: bool,
}

/// The JSON of a [`ROW_ERROR`] line's record, its message cut short (ending in `…`) when the
/// whole line would be longer than `longest` (the lead reader's bound on lines, which would
/// otherwise answer it as a line too long, naming no lead).
fn row_record_within(
    id: Option<String>,
    mut message: String,
    too_long: bool,
    longest: Option<u64>,
) -> Vec<u8> {
    loop {
        let written = serde_json::to_vec(&(&id, &message, too_long)).unwrap_or_default();
        let length = (ROW_ERROR.len() + written.len()) as u64;
        let over = match longest {
            Some(most) if length > most && !message.is_empty() => length - most,
            _ => return written,
        };
        // Escapes make the JSON longer than the text: cut again until it fits.
        let mut keep = message
            .len()
            .saturating_sub(usize::try_from(over).unwrap_or(usize::MAX))
            .saturating_sub('…'.len_utf8());
        while !message.is_char_boundary(keep) {
            keep -= 1;
        }
        message.truncate(keep);
        if !message.is_empty() {
            message.push('…');
        }
    }
}

/// Why the input ends at the row that began on `line` (from 1): a quote in it is never closed,
/// and the file ends at `last`.
fn never_closed_message(line: u64, last: u64) -> String {
    format!(
        "the CSV row at line {line} opens a quote that is never closed: the rows after it were \
         read as one cell (line {last} is where the file ends); close the quote, or double a \
         quote inside a quoted cell (\"\")"
    )
}

/// How much [`QuoteCount`] reads from its input at once.
const CARRY: usize = 64 * 1024;

impl<R> QuoteCount<R> {
    /// The number of the last line read, from 1 (a file's last line break ends a line, and
    /// opens none).
    fn last_line(&self) -> u64 {
        if matches!(self.last_byte, Some(b'\n' | b'\r')) {
            self.lines
        } else {
            self.lines + 1
        }
    }
}

impl<R> QuoteCount<R> {
    /// A new row begins at `offset` (after a line end outside quotes): its first cell, its
    /// first line, nothing of it counted yet.
    #[inline(always)]
    fn start_row(&mut self, offset: u64) {
        self.row_bytes = 0;
        self.row_line = self.lines;
        self.row_start = offset;
        self.cell = 0;
    }

    /// Follows one byte of the input outside a cut row, `offset` the bytes handed over before
    /// it: whether it is handed over, or begins a cut. (The caller keeps `last_byte`.)
    #[inline(always)]
    fn step(&mut self, byte: u8, offset: u64) -> Step {
        let before = self.state;
        self.state = self.state.after(byte);
        let spacing = matches!(byte, b' ' | b'\t');
        if before == QuoteState::QuoteInQuoted && self.state == QuoteState::Unquoted {
            self.past_closing_quote
                .push_back((self.row_start, self.cell, spacing));
            self.after_quote = true;
        } else if self.state != QuoteState::Unquoted {
            self.after_quote = false;
        } else if self.after_quote
            && !spacing
            && let Some(last) = self.past_closing_quote.back_mut()
        {
            // `"L-5" x`: spaces, then text.
            last.2 = false;
        }
        if byte == b',' && self.state == QuoteState::CellStart {
            self.cell = self.cell.saturating_add(1);
        }
        // A CSV reader ends a row at a `\r` too (old Mac line ends): the next cell is a row's
        // first, and the bound counts from there.
        if byte == b'\r' {
            self.lines += 1;
            self.cr_end = offset + 1;
            if self.state != QuoteState::Quoted {
                self.start_row(offset + 1);
                return Step::Pass;
            }
        }
        if byte == b'\n' {
            if self.cr_end != offset {
                self.lines += 1;
            }
            if self.state != QuoteState::Quoted {
                self.start_row(offset + 1);
                return Step::Pass;
            }
        }
        self.row_bytes += 1;
        if let Some(most) = self.longest_row
            && self.row_bytes > most
        {
            self.begin_cut(before, most, byte == b'\r');
            return Step::Cut;
        }
        Step::Pass
    }

    /// Cuts the row under way here: the CSV reader stands where `before` says, `most` bytes
    /// into the row.
    #[cold]
    #[inline(never)]
    fn begin_cut(&mut self, before: QuoteState, most: u64, at_cr: bool) {
        let end: &[u8] = match before {
            QuoteState::Quoted => b"\"\n",
            QuoteState::CellStart if most == 0 => b"\"\"\n",
            _ => b"\n",
        };
        self.cutting = Some(CutRow {
            start: self.row_start,
            line: self.row_line,
            bytes: self.row_bytes,
            first_cell_whole: self.cell > 0,
            end,
            message: String::new(),
            never_closed: None,
            after_cr: at_cr,
        });
    }

    /// Keeps `rest` (what a read brought after a cut began) to be followed from `carry`.
    #[cold]
    #[inline(never)]
    fn carry_the_rest(&mut self, rest: &[u8]) {
        self.carry.clear();
        self.carry.extend_from_slice(rest);
        self.carry_at = 0;
    }

    /// Follows the input kept in `carry` (what came after a cut began) and hands what the CSV
    /// reader gets into `buf`, up to the end of a cut row. Answers how many bytes it handed.
    fn follow_carried(&mut self, buf: &mut [u8]) -> usize {
        let mut written = 0;
        while written < buf.len() {
            let Some(&byte) = self.carry.get(self.carry_at) else {
                break;
            };
            self.carry_at += 1;
            self.last_byte = Some(byte);
            let offset = self.bytes + written as u64;
            let step = match &mut self.cutting {
                Some(cut) => {
                    if byte == b'\r' || (byte == b'\n' && !cut.after_cr) {
                        self.lines += 1;
                    }
                    cut.after_cr = byte == b'\r';
                    self.state = self.state.after(byte);
                    if matches!(byte, b'\n' | b'\r') && self.state != QuoteState::Quoted {
                        self.end_cut(offset, byte == b'\r');
                        Step::CutEnds
                    } else {
                        cut.bytes += 1;
                        Step::Cut
                    }
                }
                None => self.step(byte, offset),
            };
            match step {
                Step::Pass => {
                    if let Some(slot) = buf.get_mut(written) {
                        *slot = byte;
                    }
                    written += 1;
                }
                Step::Cut => {}
                // What ends it for the CSV reader comes next.
                Step::CutEnds => break,
            }
        }
        self.bytes += written as u64;
        written
    }

    /// Ends the row being cut (at a line break outside quotes, `at_cr` when a `\r`, or the
    /// input's end), `passed` bytes handed over so far: says why, and the next row begins after
    /// the bytes that end the cut one.
    fn end_cut(&mut self, passed: u64, at_cr: bool) {
        let Some(mut cut) = self.cutting.take() else {
            return;
        };
        let most = self.longest_row.unwrap_or_default();
        let (first, last) = (cut.line + 1, self.last_line());
        let lines = if last > first {
            format!("lines {first} to {last}")
        } else {
            format!("line {first}")
        };
        cut.message = format!(
            "the CSV row at {lines} is {} bytes, more than the limit of {most} (see \
             --max-line-bytes)",
            cut.bytes
        );
        if self.ended && self.state == QuoteState::Quoted {
            cut.message.push_str(
                ": a quote opened in it is never closed, so the rest of the file was read as \
                 part of it and its rows got no answer; close the quote, or double a quote \
                 inside a quoted cell (\"\")",
            );
            cut.never_closed = Some(never_closed_message(first, last));
        }
        self.inject = cut.end.to_vec();
        self.too_long.push_back(cut);
        self.state = QuoteState::CellStart;
        self.after_quote = false;
        self.start_row(passed + self.inject.len() as u64);
        if at_cr {
            // A `\n` right after it is part of the same line break.
            self.cr_end = self.row_start;
        }
    }

    /// The row cut that the CSV reader's record ending at `end` holds (one that began before
    /// it), taken off the list.
    fn cut_before(&mut self, end: u64) -> Option<CutRow> {
        if self.too_long.front()?.start < end {
            self.too_long.pop_front()
        } else {
            None
        }
    }
}

impl<R: Read> Read for QuoteCount<R> {
    /// Passes the input through, following its quotes, read straight into `buf`; a row longer
    /// than the bound is cut ([`QuoteCount::step`]), and what follows the cut goes through
    /// `carry` until the cut row ends.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.inject.is_empty() {
                let count = self.inject.len().min(buf.len());
                buf[..count].copy_from_slice(&self.inject[..count]);
                self.inject.drain(..count);
                self.bytes += count as u64;
                return Ok(count);
            }
            if self.carry_at < self.carry.len() {
                let written = self.follow_carried(buf);
                if written > 0 {
                    return Ok(written);
                }
                continue;
            }
            if self.ended {
                return Ok(0);
            }
            if self.cutting.is_some() {
                // The cut row's rest, read past.
                self.carry.resize(CARRY, 0);
                self.carry_at = 0;
                let read = self.inner.read(&mut self.carry);
                self.carry.truncate(*read.as_ref().unwrap_or(&0));
                if read? == 0 {
                    self.ended = true;
                    // A row cut at the input's end ends there.
                    self.end_cut(self.bytes, false);
                }
                continue;
            }
            let read = self.inner.read(buf)?;
            if read == 0 {
                self.ended = true;
                return Ok(0);
            }
            for (index, &byte) in buf.get(..read).unwrap_or_default().iter().enumerate() {
                if let Step::Cut = self.step(byte, self.bytes + index as u64) {
                    // A cut begins: the bytes before it are handed over, the rest of this
                    // read is followed from `carry`.
                    self.carry_the_rest(buf.get(index + 1..read).unwrap_or_default());
                    self.bytes += index as u64;
                    self.last_byte = Some(byte);
                    if index > 0 {
                        return Ok(index);
                    }
                    break;
                }
            }
            if self.cutting.is_none() {
                self.bytes += read as u64;
                self.last_byte = buf.get(read - 1).copied();
                return Ok(read);
            }
        }
    }
}

/// What becomes of one byte of a [`QuoteCount`]'s input.
enum Step {
    /// Handed over to the CSV reader.
    Pass,
    /// A cut row's, read past.
    Cut,
    /// The line break that ends a cut row: the CSV reader gets the cut row's end instead.
    CutEnds,
}

impl<R: Read> CsvLeads<R> {
    /// Reads the header row. Answers the leads and the warnings about the header (columns
    /// matched in another case, required fields no column names); an error when there is no
    /// header or it cannot be read.
    pub fn new(
        input: R,
        policies: &[&Policy],
        options: CsvOptions,
    ) -> Result<(CsvLeads<R>, Vec<String>), String> {
        let mut records = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(QuoteCount {
                inner: input,
                state: QuoteState::CellStart,
                bytes: 0,
                ended: false,
                row_bytes: 0,
                row_line: 0,
                lines: 0,
                cr_end: u64::MAX,
                longest_row: options.longest_row,
                carry: Vec::new(),
                carry_at: 0,
                inject: Vec::new(),
                cutting: None,
                too_long: std::collections::VecDeque::new(),
                cell: 0,
                past_closing_quote: std::collections::VecDeque::new(),
                after_quote: false,
                row_start: 0,
                last_byte: None,
            });
        let header = records
            .byte_headers()
            .map_err(|error| format!("cannot read the CSV header row: {error}"))?
            .clone();
        let end = records.position().byte();
        if let Some(cut) = records.get_mut().cut_before(end) {
            return Err(format!("cannot read the CSV header row: {}", cut.message));
        }
        if header.is_empty() {
            return Err("the CSV file is empty: its first row names the fields".to_string());
        }
        let (columns, warnings) = columns(&header, policies);
        let id_first = columns
            .first()
            .is_some_and(|column| column.as_ref().is_some_and(|c| c.key == b"\"id\":"));
        let named = header
            .iter()
            .rposition(|name| !trim(name).is_empty())
            .map_or(0, |last| last + 1);
        Ok((
            CsvLeads {
                records,
                columns,
                id_first,
                named,
                options,
                record: csv::ByteRecord::new(),
                line: Vec::with_capacity(256),
                given: 0,
                done: false,
                failed: None,
                after_end: None,
            },
            warnings,
        ))
    }

    /// Writes the next data row's line into `self.line`; `false` at the end.
    fn next_line(&mut self) -> io::Result<bool> {
        self.line.clear();
        self.given = 0;
        if self.done {
            return match self.after_end.take() {
                Some(error) => Err(error),
                None => Ok(false),
            };
        }
        let read = self.records.read_byte_record(&mut self.record);
        if matches!(read, Ok(true)) {
            let end = self.records.position().byte();
            if let Some(cut) = self.records.get_mut().cut_before(end) {
                // The row holds its cells up to the bound: its id when the first is whole.
                let id = self.row_id().filter(|_| cut.first_cell_whole);
                self.write_row_record(id, cut.message, true);
                // A quote never closed took the rows after it in: the input ends, and says so
                // as it does when the row is within the bound.
                if let Some(never_closed) = cut.never_closed {
                    self.done = true;
                    self.after_end = Some(io::Error::new(io::ErrorKind::InvalidData, never_closed));
                }
                return Ok(true);
            }
        }
        match read {
            Ok(true) => {}
            Ok(false) => {
                self.done = true;
                return Ok(false);
            }
            Err(error) => {
                return match error.kind() {
                    csv::ErrorKind::Io(_) => Err(io::Error::other(error.to_string())),
                    // The csv reader is flexible and reads bytes: no other error is expected;
                    // one ends the input rather than loses a row silently.
                    _ => Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        error.to_string(),
                    )),
                };
            }
        }
        // A quote opened and never closed takes the rest of the file into one cell. Said, and
        // the input ends, rather than the rows after it being lost without a word.
        if self.runs_to_the_end() {
            // The line the row began on, blank lines counted (the CSV reader skips them).
            let line = self.records.get_ref().row_line + 1;
            self.done = true;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                never_closed_message(line, self.records.get_ref().last_line()),
            ));
        }
        if self.record.len() < self.named
            || self.past_the_header().next().is_some()
            || self.rows_taken_in().is_some()
        {
            self.write_row_error();
            return Ok(true);
        }
        if let Some(problem) = self.cell_not_utf8() {
            self.write_row_problem(problem);
            return Ok(true);
        }
        if let Some((column, problem)) = self.text_past_closing_quote() {
            // When the id itself is in doubt, the record names no lead.
            let id = self.row_id().filter(|_| column != 0);
            self.write_row_record(id, problem, false);
            return Ok(true);
        }
        self.line.push(b'{');
        let mut first = true;
        for (index, cell) in self.record.iter().enumerate() {
            let Some(Some(column)) = self.columns.get(index) else {
                continue;
            };
            // Text is read as written; typed cells without the spaces around them. An empty
            // cell (a typed one of spaces only) is absent.
            let value = match column.kind {
                Kind::Text => cell,
                _ => trim(cell),
            };
            if value.is_empty() {
                continue;
            }
            if !first {
                self.line.push(b',');
            }
            first = false;
            self.line.extend_from_slice(&column.key);
            write_cell(&mut self.line, value, &column.kind, self.options);
        }
        self.line.extend_from_slice(b"}\n");
        Ok(true)
    }
}

impl<R: Read> CsvLeads<R> {
    /// The cells of the row just read past the header's columns, but for empty ones.
    fn past_the_header(&self) -> impl Iterator<Item = &[u8]> {
        // Past the last named column: an unnamed one (a header ending in a comma) would
        // otherwise take in the cell a comma not in quotes moved there.
        self.record
            .iter()
            .skip(self.named)
            .filter(|cell| !trim(cell).is_empty())
    }

    /// Why a cell of the row just read that a field takes is not text (a file saved in
    /// Latin-1 or Windows-1252): its column, by name and number, and where in the cell.
    fn cell_not_utf8(&self) -> Option<String> {
        self.record.iter().enumerate().find_map(|(index, cell)| {
            let column = self.columns.get(index)?.as_ref()?;
            let invalid = std::str::from_utf8(cell).err()?;
            let name = String::from_utf8_lossy(&column.key);
            let name = name.trim_end_matches(':').trim_matches('"');
            Some(format!(
                "the cell of `{name}` (column {}) is not UTF-8 (invalid byte at offset {} of the \
                 cell): the file may be saved in Latin-1 or Windows-1252; save it as UTF-8",
                index + 1,
                invalid.valid_up_to()
            ))
        })
    }

    /// Why a cell of the row just read that a field takes is not what was written: a quoted
    /// cell goes on after its closing quote (`"L-5"x`, read as `L-5x`; spaces after the quote
    /// are let by in a typed cell, which is read without them). A column no field reads may
    /// hold it.
    /// Answers the column (from 0) and the message.
    fn text_past_closing_quote(&mut self) -> Option<(usize, String)> {
        // Rows are read in order; what the input saw of rows before this one is done with.
        // The record's bytes: from its position (blank lines before it may count in) to where
        // the reader is now.
        let start = self.record.position().map_or(0, csv::Position::byte);
        let end = self.records.position().byte();
        let marks = &mut self.records.get_mut().past_closing_quote;
        while marks.front().is_some_and(|&(began, _, _)| began < start) {
            marks.pop_front();
        }
        let mut this_row = Vec::new();
        while let Some(&(_, column, blank)) = marks.front().filter(|&&(began, _, _)| began < end) {
            this_row.push((column, blank));
            marks.pop_front();
        }
        // The first such cell a field reads; spaces alone after the quote only where the cell
        // is read as written (text and times), since typed cells are read without them.
        let (index, field) = this_row.into_iter().find_map(|(column, blank)| {
            let index = usize::try_from(column).ok()?;
            let field = self.columns.get(index)?.as_ref()?;
            (!blank || matches!(field.kind, Kind::Text)).then_some((index, field))
        })?;
        let name = String::from_utf8_lossy(&field.key);
        let name = name.trim_end_matches(':').trim_matches('"');
        let cell = String::from_utf8_lossy(self.record.get(index)?);
        let cell: String = cell.chars().take(40).collect();
        let message = format!(
            "the quoted cell of `{name}` (column {}) goes on after its closing quote, so it \
             would be read as `{cell}`: inside quotes write a quote twice (`\"\"`), and put \
             nothing between the closing quote and the next comma",
            index + 1
        );
        Some((index, message))
    }

    /// The row's lead id, when its first column is `id` and the cell holds one.
    fn row_id(&self) -> Option<String> {
        self.id_first
            .then(|| self.record.get(0))
            .flatten()
            .map(|cell| String::from_utf8_lossy(cell).into_owned())
            .filter(|id| !id.trim().is_empty())
    }

    /// Writes the [`ROW_ERROR`] line of the row just read with `message`.
    fn write_row_problem(&mut self, message: String) {
        self.write_row_record(self.row_id(), message, false);
    }

    /// Writes the [`ROW_ERROR`] line of the row just read: the lead it names, `message`, and
    /// whether the row was too long.
    fn write_row_record(&mut self, id: Option<String>, message: String, too_long: bool) {
        self.line.extend_from_slice(ROW_ERROR);
        let written = row_record_within(id, message, too_long, self.options.longest_row);
        self.line.extend_from_slice(&written);
        self.line.push(b'\n');
    }

    /// Writes the [`ROW_ERROR`] line of the row just read, which has cells past the header's
    /// columns, or fewer cells than it.
    fn write_row_error(&mut self) {
        let mut problems = Vec::new();
        if self.record.len() < self.named {
            problems.push(format!(
                "the row has {} cell{} and the header names {}: with a cell left out, the cells \
                 after it are read in the wrong columns; write an empty cell as nothing between \
                 two commas (`a,,c`)",
                self.record.len(),
                if self.record.len() == 1 { "" } else { "s" },
                self.named,
            ));
        } else if self.past_the_header().next().is_some() {
            problems.push(self.too_many_cells());
        }
        if let Some((column, lines)) = self.rows_taken_in() {
            problems.push(format!(
                "its quoted cell in column {} spans {lines} lines, some with as many commas as \
                 a row of this file: a quote opened by mistake (`27\" monitor`: double a quote inside a \
                 quoted cell, `\"27\"\" monitor\"`) took them into one cell, and they got no \
                 answer of their own; send them again once the quote is fixed",
                column + 1
            ));
        } else if let Some((column, cell)) = self
            .record
            .iter()
            .enumerate()
            .find(|(_, cell)| cell.contains(&b'\n'))
        {
            let lines = cell.iter().filter(|&&byte| byte == b'\n').count() + 1;
            problems.push(format!(
                "its quoted cell in column {} spans {lines} lines: if a quote was opened by \
                 mistake, the rows in it were read as text and got no answer",
                column + 1
            ));
        }
        self.write_row_problem(problems.join("; "));
    }

    /// Whether the row just read has a quoted cell that took rows of the file in: a line of it
    /// between its first and its last (rows taken in whole: the first and last lines are parts
    /// of rows) with as many commas as a row has between its cells, in a file of at least
    /// [`ROW_LIKE_COLUMNS`] named columns (in a narrower one a line of an address has as many).
    /// Answers the cell's column and its number of lines.
    fn rows_taken_in(&self) -> Option<(usize, usize)> {
        if self.named < ROW_LIKE_COLUMNS {
            return None;
        }
        let separators = self.named - 1;
        self.record.iter().enumerate().find_map(|(column, cell)| {
            // Most cells hold no line break: found without looking further.
            let first = memchr::memchr(b'\n', cell)?;
            let last = memchr::memrchr(b'\n', cell)?;
            let inner = cell.get(first + 1..last)?;
            inner
                .split(|&byte| byte == b'\n')
                .any(|line| memchr::memchr_iter(b',', line).count() >= separators)
                .then(|| (column, memchr::memchr_iter(b'\n', cell).count() + 1))
        })
    }

    /// Why a row with cells past the header's is refused, naming them.
    fn too_many_cells(&self) -> String {
        const SHOWN: usize = 3;
        let extra = self.past_the_header().count();
        let shown: Vec<String> = self
            .past_the_header()
            .take(SHOWN)
            .map(|cell| {
                let text = String::from_utf8_lossy(cell);
                let cut: String = text.chars().take(40).collect();
                if cut.len() < text.len() {
                    format!("`{cut}…`")
                } else {
                    format!("`{cut}`")
                }
            })
            .collect();
        let more = match extra.saturating_sub(SHOWN) {
            0 => String::new(),
            more => format!(" and {more} more"),
        };
        format!(
            "the row has {} cells and the header names {}: a cell that holds a comma must be in \
             quotes (\"Acme, Inc\"), else it moves every later cell one column on; the cells \
             past the header: {}{more}",
            self.record.len(),
            self.named,
            shown.join(", "),
        )
    }

    /// Whether the row just read is one whose quote never closed: the input ended inside a
    /// quoted cell, and the row ends where the input does.
    fn runs_to_the_end(&self) -> bool {
        let input = self.records.get_ref();
        input.ended
            && input.state == QuoteState::Quoted
            && self.records.position().byte() == input.bytes
    }
}

impl<R: Read> Read for CsvLeads<R> {
    /// Hands out as many whole rows as fit (a router batches the lines a read brings), so a
    /// read waits for the rows that fill it: CSV is an export, read whole.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        let mut filled = 0;
        while filled < buf.len() {
            if self.given == self.line.len() {
                match self.next_line() {
                    Ok(true) => {}
                    Ok(false) => break,
                    // The rows already handed out stay read; the error comes with the next read.
                    Err(error) if filled > 0 => {
                        self.failed = Some(error);
                        break;
                    }
                    Err(error) => return Err(error),
                }
            }
            let rest = &self.line[self.given..];
            let count = rest.len().min(buf.len() - filled);
            buf[filled..filled + count].copy_from_slice(&rest[..count]);
            self.given += count;
            filled += count;
        }
        Ok(filled)
    }
}

fn trim(cell: &[u8]) -> &[u8] {
    let start = cell
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(cell.len());
    let end = cell
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |end| end + 1);
    &cell[start..end.max(start)]
}

/// Writes a cell as the JSON value its field's type reads.
fn write_cell(out: &mut Vec<u8>, cell: &[u8], kind: &Kind, options: CsvOptions) {
    let text = std::str::from_utf8(cell);
    match (kind, text) {
        (Kind::Int, Ok(text)) => match whole_number(text) {
            Some(value) => out.extend_from_slice(value.to_string().as_bytes()),
            // `800.5`, `1e3`, `lots`: left for the reader to refuse, naming the field.
            None => write_string(out, cell),
        },
        // A cell already written as a JSON number is copied; others (`1.`, `.5`, `+3`) are
        // read as numbers and written again.
        (Kind::Number, Ok(text))
            if is_json_number(cell) && text.parse::<f64>().is_ok_and(f64::is_finite) =>
        {
            out.extend_from_slice(cell)
        }
        (Kind::Number, Ok(text)) => match text.parse::<f64>() {
            Ok(value) if value.is_finite() => {
                let written = serde_json::to_string(&value).unwrap_or_default();
                out.extend_from_slice(written.as_bytes());
            }
            _ => write_string(out, cell),
        },
        (Kind::Bool, Ok(text)) if text.eq_ignore_ascii_case("true") => {
            out.extend_from_slice(b"true")
        }
        (Kind::Bool, Ok(text)) if text.eq_ignore_ascii_case("false") => {
            out.extend_from_slice(b"false")
        }
        (Kind::Enum(variants), Ok(text)) if options.lenient_enums => {
            let exact = variants.iter().find(|variant| *variant == text);
            match exact.or_else(|| variants.iter().find(|v| v.eq_ignore_ascii_case(text))) {
                Some(variant) => write_string(out, variant.as_bytes()),
                None => write_string(out, cell),
            }
        }
        _ => write_string(out, cell),
    }
}

/// A whole number as spreadsheets write one: digits with an optional sign, and optionally a
/// fraction of zeros only (`800.0`); from -2^63 to 2^64 - 1, as the reader takes ints.
fn whole_number(text: &str) -> Option<i128> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (whole, fraction) = match digits.split_once('.') {
        Some((whole, fraction)) if !fraction.is_empty() => (whole, fraction),
        Some(_) => return None,
        None => (digits, ""),
    };
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b == b'0')
    {
        return None;
    }
    let significant = whole.trim_start_matches('0');
    if significant.len() > 20 {
        return None;
    }
    let magnitude: i128 = if significant.is_empty() {
        0
    } else {
        significant.parse().ok()?
    };
    let value = if negative { -magnitude } else { magnitude };
    (i128::from(i64::MIN)..=i128::from(u64::MAX))
        .contains(&value)
        .then_some(value)
}

/// Whether `text` is a number as JSON writes one (RFC 8259: `-? int frac? exp?`).
fn is_json_number(text: &[u8]) -> bool {
    let digits = |at: usize| {
        text[at.min(text.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut at = usize::from(text.first() == Some(&b'-'));
    let whole = digits(at);
    if whole == 0 || (whole > 1 && text[at] == b'0') {
        return false;
    }
    at += whole;
    if text.get(at) == Some(&b'.') {
        let fraction = digits(at + 1);
        if fraction == 0 {
            return false;
        }
        at += 1 + fraction;
    }
    if matches!(text.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(text.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let exponent = digits(at);
        if exponent == 0 {
            return false;
        }
        at += exponent;
    }
    at == text.len()
}

/// The warning for a column whose name is a field's written another way (`COUNTRY`, `Created
/// At`) while another column gives that field: which one is read, so that a CRM export with both
/// `country` and `Country` does not route on one of them without a word.
fn repeated_another_way(
    name: &str,
    index: usize,
    field: &str,
    matched: &[Option<usize>],
    position: usize,
) -> String {
    let read = matched
        .iter()
        .position(|taken| *taken == Some(position))
        .map_or(String::new(), |column| {
            format!(" column {} gives it;", column + 1)
        });
    format!(
        "column {} (`{name}`) is field `{field}` written another way:{read} this column is not \
         read",
        index + 1
    )
}

/// Writes bytes as a JSON string (escaped; bytes that are not UTF-8 are kept, so the reader
/// says the row is not UTF-8).
fn write_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    if !bytes.iter().any(|b| *b < 0x20 || *b == b'"' || *b == b'\\') {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    for &byte in bytes {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => out.extend_from_slice(format!("\\u{byte:04x}").as_bytes()),
            _ => out.push(byte),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        let report = crate::pipeline::check_source(
            "schema lead { id: string  intent: enum { low, high }  employees: int  \
             deal: number?  vip: bool?  created_at: time }\n\
             queue q\notherwise -> queue q\n",
        );
        report
            .compiled
            .map(|(policy, _)| policy)
            .unwrap_or_else(|| {
                panic!("{:?}", report.diagnostics);
            })
    }

    #[test]
    fn a_quote_never_closed_is_said_wherever_it_opens_and_a_closed_one_is_not() {
        let policy = policy();
        let read = |text: &str| {
            let (mut leads, _) =
                CsvLeads::new(text.as_bytes(), &[&policy], CsvOptions::default()).unwrap();
            let mut out = String::new();
            let result = leads.read_to_string(&mut out);
            (out, result)
        };
        // Opened in the last column: the row has all its cells, and took the rest in.
        let (out, result) = read("id,Intent,other\n1,high,\"call back\n2,low,x\n3,low,y\n");
        assert!(
            result.is_err_and(|error| error.to_string().contains("never closed")),
            "{out}"
        );
        assert_eq!(out, "");
        // A short row whose multi-line quoted cell is closed: read as it is.
        let (out, result) = read("id,Intent,other,employees\n7,high,\"line1\nline2\"\n8,low,z\n");
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(out.lines().count(), 2, "{out}");
    }

    /// The lines `csv` gives under `bounded`, read to the end ([`lines`], one by one).
    fn bounded_lines(csv: &str, bounded: CsvOptions) -> Vec<String> {
        let (out, _) = lines(csv, bounded);
        out.lines().map(str::to_string).collect()
    }

    /// A [`ROW_ERROR`] line's code, id and message.
    fn row_record(line: &str) -> (&'static str, Option<String>, String) {
        match line.as_bytes().strip_prefix(ROW_ERROR).and_then(row_error) {
            Some(record) => record,
            None => panic!("not a row error: {line}"),
        }
    }

    #[test]
    fn a_row_record_fits_the_line_bound_its_message_cut_short() {
        let message = "a \"quoted\" word, then ünïcödé and more text to cut".to_string();
        let whole = row_record_within(Some("L-1".into()), message.clone(), true, None);
        for most in 20..=(ROW_ERROR.len() + whole.len()) as u64 + 1 {
            let written = row_record_within(Some("L-1".into()), message.clone(), true, Some(most));
            let (code, id, text) = row_error(&written).unwrap_or_else(|| panic!("{most}"));
            assert_eq!((code, id.as_deref()), ("lead.too_long", Some("L-1")));
            if (ROW_ERROR.len() + whole.len()) as u64 <= most {
                assert_eq!(text, message);
            } else {
                // Cut short, and within the bound unless nothing of the message is left.
                assert!(text.is_empty() || text.ends_with('…'), "{text}");
                assert!(
                    text.is_empty() || (ROW_ERROR.len() + written.len()) as u64 <= most,
                    "{most}: {text}"
                );
                assert!(message.starts_with(text.trim_end_matches('…')));
            }
        }
    }

    #[test]
    fn a_row_longer_than_the_bound_is_a_record_and_the_rows_after_it_are_read() {
        // Found by a hostile-input pass: a 20 MB header of commas took 2.5 GB, and a quote
        // never closed read the rest of a 300 MB file into one cell before saying so. Rows
        // are now cut at the bound, their rest read past without being kept.
        let policy = policy();
        // The bound is above the reader's buffer (8 KiB), as `--max-line-bytes` is.
        let bounded = CsvOptions {
            lenient_enums: false,
            longest_row: Some(20_000),
        };
        let header = format!("id,{}\n1\n", ",".repeat(30_000));
        let error = CsvLeads::new(header.as_bytes(), &[&policy], bounded)
            .err()
            .unwrap_or_default();
        assert_eq!(
            error,
            "cannot read the CSV header row: the CSV row at line 1 is 30003 bytes, more than \
             the limit of 20000 (see --max-line-bytes)"
        );
        // A long cell past the id: the row is named by its id, and the next row is read.
        let long = format!("id,Intent\n1,high\n2,{}\r\n3,low\n", "x".repeat(30_000));
        let lines = bounded_lines(&long, bounded);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(
            row_record(&lines[1]),
            (
                "lead.too_long",
                Some("2".to_string()),
                "the CSV row at line 3 is 30002 bytes, more than the limit of 20000 (see \
                 --max-line-bytes)"
                    .to_string()
            )
        );
        assert_eq!(lines[2], "{\"id\":\"3\",\"intent\":\"low\"}");
        // An id longer than the bound is named by no lead: only its start was read.
        let long_id = format!("id,Intent\n{},high\n3,low", "7".repeat(30_000));
        let lines = bounded_lines(&long_id, bounded);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(row_record(&lines[0]).0, "lead.too_long");
        assert_eq!(row_record(&lines[0]).1, None);
        assert_eq!(lines[1], "{\"id\":\"3\",\"intent\":\"low\"}");
        // Cut inside a quoted cell that closes on a later line: the row ends where the quote
        // closes, and the rows after it are read.
        let spans = format!("id,Intent\n1,\"{}\"\n2,high\n", "a,b\n".repeat(6_000));
        let lines = bounded_lines(&spans, bounded);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(
            row_record(&lines[0]).2,
            "the CSV row at lines 2 to 6002 is 24004 bytes, more than the limit of 20000 (see \
             --max-line-bytes)"
        );
        assert_eq!(lines[1], "{\"id\":\"2\",\"intent\":\"high\"}");
        // A quote never closed takes the rest of the file into its row, which is answered,
        // and the input ends saying so, as within the bound.
        let quoted = format!("id,Intent\n1,high\n2,\"{}", "x\n".repeat(20_000));
        let (mut leads, _) = CsvLeads::new(quoted.as_bytes(), &[&policy], bounded).unwrap();
        let mut out = String::new();
        let error = leads.read_to_string(&mut out).unwrap_err().to_string();
        assert_eq!(
            error,
            "the CSV row at line 3 opens a quote that is never closed: the rows after it were \
             read as one cell (line 20002 is where the file ends); close the quote, or double a \
             quote inside a quoted cell (\"\")"
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        let (code, id, message) = row_record(lines[1]);
        assert_eq!((code, id.as_deref()), ("lead.too_long", Some("2")));
        assert!(
            message.starts_with(
                "the CSV row at lines 3 to 20002 is 40003 bytes, more than the limit of 20000 \
                 (see --max-line-bytes): a quote opened in it is never closed"
            ),
            "{message}"
        );
        // Rows within the bound, a quoted line break included, are read.
        let fine = "id,Intent\n1,\"high\"\n2,\"two\nlines\"\n";
        assert_eq!(bounded_lines(fine, bounded).len(), 2);
    }

    #[test]
    fn lines_are_counted_alike_whatever_ends_them() {
        // Old Mac files end lines with `\r` alone, Windows ones with `\r\n`: the messages name
        // the same lines as for `\n`.
        let bounded = CsvOptions {
            lenient_enums: false,
            longest_row: Some(200),
        };
        let policy = policy();
        for end in ["\n", "\r\n", "\r"] {
            let spans = format!(
                "id,Intent{end}1,high{end}2,\"{}\"{end}3,{}{end}4,low{end}",
                format!("a,b{end}").repeat(100),
                "x".repeat(300)
            );
            let lines = bounded_lines(&spans, bounded);
            assert_eq!(lines.len(), 4, "{end:?}: {lines:?}");
            let expected = (row_record(&lines[1]).2, row_record(&lines[2]).2);
            // `2,"`, a hundred `a,b` and their line ends, `"`.
            let spanned = 4 + 100 * (3 + end.len());
            assert_eq!(
                expected,
                (
                    format!(
                        "the CSV row at lines 3 to 103 is {spanned} bytes, more than the limit \
                         of 200 (see --max-line-bytes)"
                    ),
                    "the CSV row at line 104 is 302 bytes, more than the limit of 200 (see \
                     --max-line-bytes)"
                        .to_string()
                ),
                "{end:?}"
            );
            assert_eq!(lines[3], "{\"id\":\"4\",\"intent\":\"low\"}");
            let open = format!("id,Intent{end}1,high{end}2,\"x{end}y{end}z{end}");
            let (mut leads, _) = CsvLeads::new(open.as_bytes(), &[&policy], bounded).unwrap();
            let mut out = String::new();
            let error = leads.read_to_string(&mut out).unwrap_err().to_string();
            assert!(
                error.starts_with(
                    "the CSV row at line 3 opens a quote that is never closed: the rows after \
                     it were read as one cell (line 5 is where the file ends)"
                ),
                "{end:?}: {error}"
            );
        }
    }

    fn lines(csv: &str, options: CsvOptions) -> (String, Vec<String>) {
        let policy = policy();
        let (mut leads, warnings) = match CsvLeads::new(csv.as_bytes(), &[&policy], options) {
            Ok(read) => read,
            Err(error) => panic!("{error}"),
        };
        let mut out = String::new();
        if let Err(error) = leads.read_to_string(&mut out) {
            panic!("{error}");
        }
        (out, warnings)
    }

    #[test]
    fn cells_become_the_values_their_fields_read() {
        let (out, warnings) = lines(
            "id,intent,employees,deal,vip,created_at,unknown\n\
             L-1,high,800.0,12.5,TRUE,2026-11-23T10:00:00Z,x\n\
             L-2,low, 12 ,,false,2026-11-23T11:00:00Z,\n",
            CsvOptions::default(),
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            out,
            "{\"id\":\"L-1\",\"intent\":\"high\",\"employees\":800,\"deal\":12.5,\"vip\":true,\
             \"created_at\":\"2026-11-23T10:00:00Z\"}\n\
             {\"id\":\"L-2\",\"intent\":\"low\",\"employees\":12,\"vip\":false,\
             \"created_at\":\"2026-11-23T11:00:00Z\"}\n"
        );
    }

    #[test]
    fn quoting_and_newlines_follow_rfc_4180_and_each_row_is_one_line() {
        let (out, _) = lines(
            "id,intent,employees,created_at\n\
             \"L-\"\"1\"\"\",high,\"1,0\",2026-11-23T10:00:00Z\n\
             \"L\n2\",low,5,2026-11-23T10:00:00Z\n",
            CsvOptions::default(),
        );
        let rows: Vec<&str> = out.lines().collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            "{\"id\":\"L-\\\"1\\\"\",\"intent\":\"high\",\"employees\":\"1,0\",\"created_at\":\"2026-11-23T10:00:00Z\"}"
        );
        assert!(rows[1].starts_with("{\"id\":\"L\\n2\""));
    }

    #[test]
    fn headers_match_in_another_case_with_a_warning_and_enums_only_when_lenient() {
        let csv = "ID,Intent,employees,Created_At\nL-1,High,5,2026-11-23T10:00:00Z\n";
        let (strict, warnings) = lines(csv, CsvOptions::default());
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].contains("column `ID` is read as field `id`"));
        assert!(strict.contains("\"intent\":\"High\""), "{strict}");
        let (lenient, _) = lines(
            csv,
            CsvOptions {
                lenient_enums: true,
                longest_row: None,
            },
        );
        assert!(lenient.contains("\"intent\":\"high\""), "{lenient}");
    }

    proptest::proptest! {
        /// Any text read with a bound on rows: each row the csv crate reads in the whole text
        /// gives one line still (a row past the bound a `lead.too_long` record, the others
        /// what they give unbounded, in order), unless a quote never closed opens a row within
        /// the bound, which is said as without a bound.
        #[test]
        fn a_bound_cuts_rows_and_loses_none(
            rows in proptest::collection::vec(
                proptest::collection::vec("[a-z0-9 ,\"\n\r]{0,12}", 0..10),
                0..8,
            ),
            most in 10u64..60,
        ) {
            let policy = policy();
            let mut text = String::from("id,Intent\n");
            for row in &rows {
                text.push_str(&row.join(","));
                text.push('\n');
            }
            let records = csv::ReaderBuilder::new()
                .has_headers(true)
                .flexible(true)
                .from_reader(text.as_bytes())
                .byte_records()
                .map_while(Result::ok)
                .count();
            let unbounded = CsvOptions { lenient_enums: false, longest_row: None };
            let bounded = CsvOptions { lenient_enums: false, longest_row: Some(most) };
            let read = |options| {
                let (mut leads, _) = CsvLeads::new(text.as_bytes(), &[&policy], options)
                    .map_err(proptest::test_runner::TestCaseError::fail)?;
                let mut out = String::new();
                let read = leads.read_to_string(&mut out).map_err(|error| error.to_string());
                Ok::<_, proptest::test_runner::TestCaseError>((out, read))
            };
            let (out, result) = read(bounded)?;
            let (whole, _) = read(unbounded)?;
            match result {
                Ok(_) => {
                    let lines: Vec<&str> = out.lines().collect();
                    proptest::prop_assert_eq!(lines.len(), records, "{:?}", text);
                    // Each line not cut is the line the row gives without a bound (a row
                    // error's message perhaps cut short to fit the bound).
                    let whole: Vec<&str> = whole.lines().collect();
                    let record = |line: &str| line.as_bytes().strip_prefix(ROW_ERROR).and_then(row_error);
                    for (index, line) in lines.iter().enumerate() {
                        let unbounded = whole.get(index).copied().unwrap_or_default();
                        match (record(line), record(unbounded)) {
                            (Some(("lead.too_long", _, _)), _) => {}
                            (Some((code, id, message)), Some((whole_code, whole_id, whole_message))) => {
                                proptest::prop_assert_eq!((code, id), (whole_code, whole_id), "{:?}", text);
                                proptest::prop_assert!(
                                    whole_message.starts_with(message.trim_end_matches('…')),
                                    "{message} / {whole_message}"
                                );
                            }
                            _ => proptest::prop_assert_eq!(*line, unbounded, "{:?}", text),
                        }
                    }
                }
                Err(error) => {
                    proptest::prop_assert!(
                        error.contains("opens a quote that is never closed"),
                        "{error}"
                    );
                    // The row that opened it is the last: answered when it was cut (past
                    // the bound), not when it was within it; every row before it is.
                    let lines = out.lines().count();
                    proptest::prop_assert!(
                        lines + 1 == records || lines == records,
                        "{lines} lines, {records} rows: {text:?}"
                    );
                }
            }
        }

        /// Any text read as a CSV export: never a panic, every line a JSON object the lead
        /// reader can take (or, for a row with cells past the header's that are not empty, a
        /// row error the reader answers with `lead.csv`), and exactly one line per data row (as
        /// the csv crate counts rows), unless a quote is never closed: then one line per row
        /// before the row that opened it, and an error that says so (never rows lost without a
        /// word).
        #[test]
        fn any_csv_gives_one_json_object_per_row(
            rows in proptest::collection::vec(
                proptest::collection::vec("[a-zA-Z0-9 ,\"\\\n\r.:+-]{0,12}", 0..10),
                0..8,
            ),
            lenient in proptest::bool::ANY,
            trailing_comma in proptest::bool::ANY,
        ) {
            let policy = policy();
            // Seven named columns either way: an unnamed last one asks rows for nothing.
            let mut text = String::from(if trailing_comma {
                "id,Intent,employees,deal,vip,created_at,other,\n"
            } else {
                "id,Intent,employees,deal,vip,created_at,other\n"
            });
            for row in &rows {
                text.push_str(&row.join(","));
                text.push('\n');
            }
            let (mut leads, _) = CsvLeads::new(text.as_bytes(), &[&policy], CsvOptions { lenient_enums: lenient, longest_row: None })
                .map_err(proptest::test_runner::TestCaseError::fail)?;
            let mut out = String::new();
            let read = leads.read_to_string(&mut out);
            let mut records = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(text.as_bytes());
            let records: Vec<csv::ByteRecord> =
                records.byte_records().map_while(Result::ok).collect();
            // Each record's text, from its position to the next record's: whether a cell a
            // field reads (the first six columns) goes on after its closing quote.
            let starts: Vec<usize> = records
                .iter()
                .map(|record| record.position().map_or(0, |at| at.byte() as usize))
                .collect();
            let past_closing_quote: Vec<bool> = (0..records.len())
                .map(|index| {
                    let end = starts.get(index + 1).copied().unwrap_or(text.len());
                    let mut state = QuoteState::CellStart;
                    let mut cell = 0;
                    // The cell whose quote closed, and whether only spaces came after it.
                    let mut after: Option<(usize, bool)> = None;
                    let refused = |(cell, blank): (usize, bool)| {
                        // Spaces alone count where the cell is read as written: `id` and
                        // `created_at`.
                        cell < 6 && (!blank || cell == 0 || cell == 5)
                    };
                    for &byte in &text.as_bytes()[starts[index]..end] {
                        let before = state;
                        state = state.after(byte);
                        let spacing = matches!(byte, b' ' | b'\t');
                        if before == QuoteState::QuoteInQuoted && state == QuoteState::Unquoted {
                            after = Some((cell, spacing));
                        } else if state != QuoteState::Unquoted {
                            if after.take().is_some_and(refused) {
                                return true;
                            }
                        } else if !spacing && let Some((_, blank)) = &mut after {
                            *blank = false;
                        }
                        if byte == b',' && state == QuoteState::CellStart {
                            cell += 1;
                        }
                        if matches!(byte, b'\n' | b'\r') && state != QuoteState::Quoted {
                            cell = 0;
                        }
                    }
                    after.is_some_and(refused)
                })
                .collect();
            // The row whose quote never closed runs to the end: the last, when the text ends
            // inside a quoted cell.
            let open = text
                .bytes()
                .fold(QuoteState::CellStart, QuoteState::after)
                == QuoteState::Quoted;
            let ran_on = (open && !records.is_empty()).then(|| records.len() - 1);
            match (read, ran_on) {
                (Ok(_), None) => proptest::prop_assert_eq!(out.lines().count(), records.len()),
                (Err(error), Some(row)) => {
                    proptest::prop_assert!(
                        error.to_string().contains("opens a quote that is never closed"),
                        "{error}"
                    );
                    proptest::prop_assert_eq!(out.lines().count(), row);
                }
                (read, ran_on) => proptest::prop_assert!(false, "{read:?} {ran_on:?}"),
            }
            let rows_refused = records.iter().zip(&past_closing_quote).filter(|(record, past)| {
                **past
                    || record.len() < 7
                    || record.iter().skip(7).any(|cell| !trim(cell).is_empty())
                    || record.iter().any(|cell| {
                        let lines: Vec<&[u8]> = cell.split(|&byte| byte == b'\n').collect();
                        lines
                            .get(1..lines.len().saturating_sub(1))
                            .unwrap_or_default()
                            .iter()
                            .any(|line| line.iter().filter(|&&byte| byte == b',').count() >= 6)
                    })
            });
            let mut row_errors = 0;
            for line in out.lines() {
                if let Some(rest) = line.as_bytes().strip_prefix(ROW_ERROR) {
                    row_errors += 1;
                    proptest::prop_assert!(row_error(rest).is_some(), "{line}");
                    continue;
                }
                let value: Result<serde_json::Value, _> = serde_json::from_str(line);
                proptest::prop_assert!(value.as_ref().is_ok_and(serde_json::Value::is_object), "{line}");
            }
            if ran_on.is_none() {
                proptest::prop_assert_eq!(row_errors, rows_refused.count());
            }
        }
    }

    #[test]
    fn whole_numbers_are_read_from_their_text() {
        for (text, value) in [
            ("800", 800i128),
            ("800.0", 800),
            ("+5", 5),
            ("007", 7),
            ("-0", 0),
            ("-12.000", -12),
            ("18446744073709551615", 18_446_744_073_709_551_615),
            ("-9223372036854775808", -9_223_372_036_854_775_808),
        ] {
            assert_eq!(whole_number(text), Some(value), "{text}");
        }
        for text in [
            "800.5",
            "800.00000000000001",
            "1e3",
            "",
            "-",
            "8.",
            ".0",
            "18446744073709551616",
            "-9223372036854775809",
            "12a",
            "1 000",
        ] {
            assert_eq!(whole_number(text), None, "{text}");
        }
    }

    #[test]
    fn json_numbers_are_told_apart() {
        for good in ["0", "-0", "12", "12.5", "1e3", "1E-3", "-4.25e+2"] {
            assert!(is_json_number(good.as_bytes()), "{good}");
        }
        for bad in [
            "", "-", "01", "1.", ".5", "+3", "1e", "1e+", "12a", "1.2.3", "NaN",
        ] {
            assert!(!is_json_number(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn a_missing_required_column_and_a_fractional_int_are_said() {
        let (out, warnings) = lines("id,employees\nL-1,800.5\n", CsvOptions::default());
        assert!(
            warnings.iter().any(|w| w.contains("`intent`")),
            "{warnings:?}"
        );
        assert!(out.contains("\"employees\":\"800.5\""), "{out}");
    }
}
