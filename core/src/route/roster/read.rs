//! Reading a roster file: JSON with positions ([`crate::json`]) turned into a [`Roster`], every
//! problem a diagnostic at its line and column (an unknown key with "did you mean", a status
//! that is not one, an out-of-office date that cannot be read, a repeated rep), and where each
//! entry is, so that the roster can be held against a policy ([`super::check`]).

use super::{AccountEntry, OutOfOffice, RepEntry, Roster, Status, parse_date};
use crate::check::suggest::did_you_mean;
use crate::diagnostic::{Code, Diagnostic};
use crate::json::{self, Member, Node, Value};
use crate::span::{LineIndex, Span};
use std::collections::BTreeMap;

/// A roster read from a file, with where each of its entries is.
#[derive(Debug, Clone, Default)]
pub struct RosterFile {
    pub roster: Roster,
    pub places: Places,
}

/// Where a roster's entries are in its text.
#[derive(Debug, Clone, Default)]
pub struct Places {
    pub as_of: Option<Span>,
    /// The `reps` key (where a missing rep is reported).
    pub reps_key: Option<Span>,
    /// Each rep's name (its key in `reps`).
    pub reps: BTreeMap<String, Span>,
    /// Each rep's out-of-office ranges, in order.
    pub out_of_office: BTreeMap<String, Vec<Span>>,
    /// Each account's name.
    pub accounts: BTreeMap<String, Span>,
    /// Each account's `owner` and `parent` values.
    pub owners: BTreeMap<String, Span>,
    pub parents: BTreeMap<String, Span>,
}

/// The first problem of a roster that cannot be used, at its line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for RosterError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for RosterError {}

/// Reads a roster; the first error (at its place) when it cannot be used.
pub fn read(text: &str) -> Result<RosterFile, RosterError> {
    let (file, diagnostics) = read_with_diagnostics(text);
    let first_error = diagnostics.iter().find(|d| d.is_error());
    match (file, first_error) {
        (Some(file), None) => Ok(file),
        (_, error) => {
            let lines = LineIndex::new(text);
            let (span, message) = error.map_or((Span::at(0), "not a roster".to_string()), |d| {
                (d.span, d.message.clone())
            });
            let position = lines.line_column(span.start);
            Err(RosterError {
                line: position.line,
                column: position.column,
                message,
            })
        }
    }
}

/// Reads a roster, reporting every problem of its shape and links (a parent not in `accounts`,
/// parents that loop). The roster is `None` only when the text is not JSON at all; with errors,
/// what could be read is returned beside them.
pub fn read_with_diagnostics(text: &str) -> (Option<RosterFile>, Vec<Diagnostic>) {
    let node = match json::parse(text, json::MAX_DEPTH) {
        Ok(node) => node,
        Err(error) => {
            return (
                None,
                vec![
                    Diagnostic::new(Code::RosterSyntax, error.span, error.message)
                        .with_help("a roster is a JSON object with `as_of`, `reps` and `accounts`"),
                ],
            );
        }
    };
    let mut reader = Reader {
        file: RosterFile::default(),
        diagnostics: Vec::new(),
    };
    reader.top(&node);
    reader.links();
    (Some(reader.file), reader.diagnostics)
}

struct Reader {
    file: RosterFile,
    diagnostics: Vec<Diagnostic>,
}

const TOP_KEYS: [&str; 3] = ["as_of", "reps", "accounts"];
const REP_KEYS: [&str; 3] = ["status", "open", "out_of_office"];
const ACCOUNT_KEYS: [&str; 2] = ["owner", "parent"];
const STATUSES: [&str; 3] = ["available", "away", "offline"];

impl Reader {
    fn shape(&mut self, span: Span, message: String) -> &mut Diagnostic {
        self.diagnostics
            .push(Diagnostic::new(Code::RosterShape, span, message));
        let last = self.diagnostics.len() - 1;
        &mut self.diagnostics[last]
    }

    /// The members of an object, or a problem reported when it is something else.
    fn object<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Member]> {
        match &node.value {
            Value::Object(members) => Some(members),
            other => {
                self.shape(
                    node.span,
                    format!("{what} is an object, found {}", other.kind()),
                );
                None
            }
        }
    }

    /// Reports an unknown key (with did-you-mean) and a repeated one; true when it is usable.
    fn key(&mut self, member: &Member, known: &[&str], seen: &mut Vec<String>, what: &str) -> bool {
        if !known.contains(&member.key.as_str()) {
            let help = did_you_mean(&member.key, known.iter().copied()).unwrap_or_else(|| {
                format!(
                    "{what} takes {}",
                    known
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            });
            self.shape(
                member.key_span,
                format!("unknown key `{}` in {what}", member.key),
            )
            .help = Some(help);
            return false;
        }
        if seen.contains(&member.key) {
            self.shape(
                member.key_span,
                format!("`{}` is given twice in {what}", member.key),
            );
            return false;
        }
        seen.push(member.key.clone());
        true
    }

    fn top(&mut self, node: &Node) {
        let Some(members) = self.object(node, "a roster") else {
            return;
        };
        let mut seen = Vec::new();
        for member in members {
            if !self.key(member, &TOP_KEYS, &mut seen, "a roster") {
                continue;
            }
            match member.key.as_str() {
                "as_of" => self.as_of(&member.value),
                "reps" => {
                    self.file.places.reps_key = Some(member.key_span);
                    if let Some(reps) = self.object(&member.value, "`reps`") {
                        for rep in reps {
                            self.rep(rep);
                        }
                    }
                }
                _ => {
                    if let Some(accounts) = self.object(&member.value, "`accounts`") {
                        for account in accounts {
                            self.account(account);
                        }
                    }
                }
            }
        }
    }

    fn as_of(&mut self, node: &Node) {
        let time = match &node.value {
            Value::String(text) => crate::route::reader::read_instant(text).ok(),
            Value::Null => return,
            _ => None,
        };
        match time {
            Some(time) => {
                self.file.roster.as_of = Some(time);
                self.file.places.as_of = Some(node.span);
            }
            None => {
                self.shape(
                    node.span,
                    "`as_of` is an RFC 3339 time, such as \"2026-11-23T08:00:00Z\"".to_string(),
                );
            }
        }
    }

    fn rep(&mut self, member: &Member) {
        let name = member.key.clone();
        if self.file.places.reps.contains_key(&name) {
            self.shape(member.key_span, format!("rep `{name}` is listed twice"));
            return;
        }
        self.file.places.reps.insert(name.clone(), member.key_span);
        let mut entry = RepEntry::default();
        let what = format!("rep `{name}`");
        if let Some(fields) = self.object(&member.value, &what) {
            let mut seen = Vec::new();
            for field in fields {
                if !self.key(field, &REP_KEYS, &mut seen, &what) {
                    continue;
                }
                match field.key.as_str() {
                    "status" => entry.status = self.status(&field.value, &name),
                    "open" => entry.open = self.open(&field.value, &name),
                    _ => {
                        let (ranges, spans) = self.out_of_office(&field.value, &name);
                        entry.out_of_office = ranges;
                        self.file.places.out_of_office.insert(name.clone(), spans);
                    }
                }
            }
        }
        self.file.roster.reps.insert(name, entry);
    }

    fn status(&mut self, node: &Node, rep: &str) -> Status {
        match &node.value {
            Value::String(text) if text == "available" => Status::Available,
            Value::String(text) if text == "away" => Status::Away,
            Value::String(text) if text == "offline" => Status::Offline,
            Value::String(text) => {
                let help = did_you_mean(text, STATUSES.iter().copied())
                    .unwrap_or_else(|| "a status is `available`, `away` or `offline`".to_string());
                self.shape(node.span, format!("rep `{rep}`: `{text}` is not a status"))
                    .help = Some(help);
                Status::Available
            }
            other => {
                self.shape(
                    node.span,
                    format!(
                        "rep `{rep}`: `status` is a string (`available`, `away` or `offline`), found {}",
                        other.kind()
                    ),
                );
                Status::Available
            }
        }
    }

    fn open(&mut self, node: &Node, rep: &str) -> u64 {
        match &node.value {
            Value::Number(text) => match text.parse::<u64>() {
                Ok(open) => open,
                Err(_) => {
                    self.shape(
                        node.span,
                        format!("rep `{rep}`: `open` is a whole number of leads, found {text}"),
                    );
                    0
                }
            },
            other => {
                self.shape(
                    node.span,
                    format!(
                        "rep `{rep}`: `open` is a whole number of leads, found {}",
                        other.kind()
                    ),
                );
                0
            }
        }
    }

    fn out_of_office(&mut self, node: &Node, rep: &str) -> (Vec<OutOfOffice>, Vec<Span>) {
        let mut ranges = Vec::new();
        let mut spans = Vec::new();
        let Value::Array(items) = &node.value else {
            self.shape(
                node.span,
                format!(
                    "rep `{rep}`: `out_of_office` is a list of {{\"from\": …, \"to\": …}}, found {}",
                    node.value.kind()
                ),
            );
            return (ranges, spans);
        };
        for item in items {
            let what = format!("an out-of-office range of `{rep}`");
            let Some(fields) = self.object(item, &what) else {
                continue;
            };
            let mut seen = Vec::new();
            let (mut from, mut to) = (None, None);
            for field in fields {
                if !self.key(field, &["from", "to"], &mut seen, &what) {
                    continue;
                }
                let value = match &field.value.value {
                    Value::String(text) if point(text) => Some(text.clone()),
                    _ => {
                        self.shape(
                            field.value.span,
                            format!(
                                "rep `{rep}`: `{}` is a date (YYYY-MM-DD) or an RFC 3339 time",
                                field.key
                            ),
                        );
                        None
                    }
                };
                if field.key == "from" {
                    from = value;
                } else {
                    to = value;
                }
            }
            match (from, to) {
                (Some(from), Some(to)) => {
                    ranges.push(OutOfOffice { from, to });
                    spans.push(item.span);
                }
                (from, to) => {
                    if from.is_none() && !seen.contains(&"from".to_string()) {
                        self.shape(item.span, format!("{what} has no `from`"));
                    }
                    if to.is_none() && !seen.contains(&"to".to_string()) {
                        self.shape(item.span, format!("{what} has no `to`"));
                    }
                }
            }
        }
        (ranges, spans)
    }

    fn account(&mut self, member: &Member) {
        let name = member.key.clone();
        if self.file.places.accounts.contains_key(&name) {
            self.shape(member.key_span, format!("account `{name}` is listed twice"));
            return;
        }
        self.file
            .places
            .accounts
            .insert(name.clone(), member.key_span);
        let mut entry = AccountEntry::default();
        let what = format!("account `{name}`");
        if let Some(fields) = self.object(&member.value, &what) {
            let mut seen = Vec::new();
            for field in fields {
                if !self.key(field, &ACCOUNT_KEYS, &mut seen, &what) {
                    continue;
                }
                let value = match &field.value.value {
                    Value::String(text) => Some(text.clone()),
                    Value::Null => None,
                    other => {
                        self.shape(
                            field.value.span,
                            format!(
                                "{what}: `{}` is a name in quotes, found {}",
                                field.key,
                                other.kind()
                            ),
                        );
                        None
                    }
                };
                let Some(value) = value else { continue };
                if field.key == "owner" {
                    entry.owner = Some(value);
                    self.file
                        .places
                        .owners
                        .insert(name.clone(), field.value.span);
                } else {
                    entry.parent = Some(value);
                    self.file
                        .places
                        .parents
                        .insert(name.clone(), field.value.span);
                }
            }
        }
        self.file.roster.accounts.insert(name, entry);
    }

    /// Parents that are not accounts, and parent chains that loop.
    fn links(&mut self) {
        let roster = &self.file.roster;
        let places = &self.file.places;
        let mut found = Vec::new();
        for (name, account) in &roster.accounts {
            if let Some(parent) = &account.parent
                && !roster.accounts.contains_key(parent)
            {
                let span = places.parents.get(name).copied().unwrap_or_default();
                let help = did_you_mean(parent, roster.accounts.keys().map(String::as_str))
                    .unwrap_or_else(|| format!("add `{parent}` to `accounts`, even as `{{}}`"));
                found.push(
                    Diagnostic::new(
                        Code::RosterUnknownParent,
                        span,
                        format!("account `{name}`: parent `{parent}` is not in `accounts`"),
                    )
                    .with_help(help),
                );
            }
        }
        for start in roster.accounts.keys() {
            let parent_of = |name: &str| {
                roster
                    .accounts
                    .get(name)
                    .and_then(|account| account.parent.as_deref())
            };
            if let Some(chain) = crate::check::parent_loop(start, parent_of, roster.accounts.len())
            {
                let span = places.parents.get(start).copied().unwrap_or_default();
                found.push(
                    Diagnostic::new(
                        Code::RosterParentLoop,
                        span,
                        format!(
                            "account `{start}` is its own ancestor: {}",
                            chain.join(" -> ")
                        ),
                    )
                    .with_help("an account's parents must end at an account without a parent"),
                );
            }
        }
        self.diagnostics.extend(found);
    }
}

/// A date (`YYYY-MM-DD`, exactly) or an RFC 3339 time (with its offset).
fn point(value: &str) -> bool {
    // `read_time` also reads the last hours of 9999, past the last instant computed with.
    parse_date(value).is_some() || crate::route::reader::read_time(value).is_some()
}
