//! The wire format of routing: decisions, error records and traces as one line of JSON each,
//! fields in a fixed order, and the reader that takes a recorded decision back. This is the one
//! place that knows the JSON shape of a decision (`docs/routing.md` describes it).
//!
//! Writing is on the hot path of `route`, so it appends to a `String` by hand instead of going
//! through `serde_json::Value`.

use super::decision::{
    Action, ActionTrace, CandidateTrace, Decision, Due, Escalation, Name, Outcome, Reason, RuleRef,
    Trace,
};
use super::reader::{LeadError, first_to_escape};
use crate::model::LeadId;
use crate::model::time::LocalTime;
use serde_json::Value;
use std::fmt::Write as _;

/// Appends one output line (no newline) for the outcome of input line `input_line` (1-based).
pub fn write_outcome(out: &mut String, outcome: &Outcome, input_line: usize) {
    write_outcome_quoting(out, outcome, input_line, &QuotedNames::NONE, None);
}

/// [`write_outcome`], taking the names of `quoted` as they are written already, and the
/// reasons written lately from `recent` (a router's: [`crate::route::Router::write_outcome`]).
/// The line is the same.
pub fn write_outcome_quoting(
    out: &mut String,
    outcome: &Outcome,
    input_line: usize,
    quoted: &QuotedNames,
    recent: Option<&mut RecentQuoted>,
) {
    match outcome {
        Outcome::Decided {
            decision,
            duplicate,
            trace,
        } => write_decision_quoting(out, decision, *duplicate, trace.as_ref(), quoted, recent),
        Outcome::Invalid(error) => write_error(out, error, input_line),
    }
}

/// Shared names (a policy's rules, pools, reps, queues, tags and scores) written as JSON
/// strings once, ahead, and found again by the address of the name's text: a decision holds
/// clones of the names a router made, so writing one copies its quoted text instead of
/// looking at each byte for one to escape. Each name is kept here, so no other text can lie
/// at its address while the table lives: the same address and length are the same name.
#[derive(Debug, Default)]
pub struct QuotedNames {
    /// The names and where each one's JSON string lies in `text`, in an open-addressing table:
    /// a name is in the first free slot from the one its address chooses, so every name given
    /// is found.
    slots: Vec<Option<(Name, std::ops::Range<usize>)>>,
    /// The rules' `"label","line":N`, by the label's address and the line, in a table of the
    /// same kind ([`QuotedNames::with_rules`]): what a decision writes for its rule.
    rules: Vec<Option<(Name, usize, std::ops::Range<usize>)>>,
    text: String,
}

impl QuotedNames {
    /// No name written ahead.
    pub const NONE: QuotedNames = QuotedNames {
        slots: Vec::new(),
        rules: Vec::new(),
        text: String::new(),
    };

    /// The table of `names`: four slots a name, a power of two.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a Name>) -> QuotedNames {
        let names: Vec<&Name> = names.into_iter().collect();
        let mut quoted = QuotedNames {
            slots: vec![None; (names.len() * 4).next_power_of_two()],
            rules: Vec::new(),
            text: String::new(),
        };
        for name in names {
            if let Err(free) = quoted.find(name) {
                let start = quoted.text.len();
                push_str(&mut quoted.text, name);
                if let Some(slot) = quoted.slots.get_mut(free) {
                    *slot = Some((name.clone(), start..quoted.text.len()));
                }
            }
        }
        quoted
    }

    /// [`QuotedNames::new`] that also writes ahead each rule's label with its line, as a
    /// decision by the rule writes them: `"label","line":N`. A decision whose rule is one of
    /// these (the very label text, the same line) copies that text in one step.
    pub fn with_rules<'a>(mut self, rules: impl IntoIterator<Item = (&'a Name, usize)>) -> Self {
        let rules: Vec<(&Name, usize)> = rules.into_iter().collect();
        self.rules = vec![None; (rules.len() * 4).next_power_of_two()];
        for (label, line) in rules {
            if let Err(free) = find_in(&self.rules, label, |(kept, kept_line, _)| {
                same_text(kept, label) && *kept_line == line
            }) {
                let start = self.text.len();
                push_str(&mut self.text, label);
                self.text.push_str(",\"line\":");
                super::push_number(&mut self.text, line as u64);
                if let Some(slot) = self.rules.get_mut(free) {
                    *slot = Some((label.clone(), line, start..self.text.len()));
                }
            }
        }
        self
    }

    /// The slot that holds `name` (the very text: its address and length), or the free slot
    /// where it would go. The table is never full (four slots a name), so a free slot ends
    /// every search.
    fn find(&self, name: &str) -> Result<usize, usize> {
        find_in(&self.slots, name, |(kept, _)| same_text(kept, name))
    }

    /// A rule's label and line as JSON (`"label","line":N`), when the rule is one of the
    /// table's (the very label text, and its line).
    fn rule(&self, label: &str, line: usize) -> Option<&str> {
        if self.rules.is_empty() {
            return None;
        }
        let found = find_in(&self.rules, label, |(kept, kept_line, _)| {
            same_text(kept, label) && *kept_line == line
        });
        let (_, _, range) = self.rules.get(found.ok()?)?.as_ref()?;
        self.text.get(range.clone())
    }

    /// `name` as a JSON string, when it is one of the table's names (the very text).
    fn quoted(&self, name: &str) -> Option<&str> {
        if self.slots.is_empty() {
            return None;
        }
        let (_, range) = self.slots.get(self.find(name).ok()?)?.as_ref()?;
        self.text.get(range.clone())
    }
}

/// Whether `kept` is the very text `name` (the same address and length), not just the same
/// bytes.
fn same_text(kept: &str, name: &str) -> bool {
    kept.as_ptr() == name.as_ptr() && kept.len() == name.len()
}

/// The slot of an open-addressing table of [`QuotedNames`] that holds what `holds` accepts,
/// searched from the slot `name`'s address chooses, or the free slot where it would go. A
/// table is never full (four slots an entry), so a free slot ends every search.
fn find_in<T>(slots: &[Option<T>], name: &str, holds: impl Fn(&T) -> bool) -> Result<usize, usize> {
    let mask = slots.len().wrapping_sub(1);
    let mut slot = slot_of_address(name, mask);
    for _ in 0..slots.len() {
        match slots.get(slot) {
            Some(Some(entry)) if holds(entry) => return Ok(slot),
            Some(Some(_)) => slot = (slot + 1) & mask,
            _ => return Err(slot),
        }
    }
    Err(slot)
}

/// The slot of a table of `mask + 1` slots (a power of two) that `name`'s address chooses.
fn slot_of_address(name: &str, mask: usize) -> usize {
    // A name's text follows an `Arc`'s two counts, at 8-byte steps: the low bits say little.
    let mixed = (name.as_ptr().addr() as u64 >> 3).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed >> 32) as usize & mask
}

/// Shared names met while writing that were not written ahead (a decision's reasons, made as
/// leads are routed), each with its JSON string: the last few, in slots chosen by the address
/// of their text. A router makes one name for a reason met again and again (every member of a
/// pool at its cap), so writing it copies the quoted text instead of looking at each byte for
/// one to escape. Each name is held in its slot, so its address holds no other text meanwhile.
#[derive(Debug, Default)]
pub struct RecentQuoted {
    slots: Vec<Option<(Name, String)>>,
}

impl RecentQuoted {
    /// How many names are kept: a power of two.
    const SLOTS: usize = 16;
    /// The longest JSON string kept (a longer one is written each time).
    const LONGEST: usize = 1024;

    /// Appends `name` as a JSON string: the one kept for the very text, else written (and
    /// kept, in place of the one its slot held).
    fn push(&mut self, out: &mut String, name: &Name) {
        if self.slots.is_empty() {
            self.slots.resize(Self::SLOTS, None);
        }
        let Some(place) = self.slots.get_mut(slot_of_address(name, Self::SLOTS - 1)) else {
            push_str(out, name);
            return;
        };
        if let Some((kept, quoted)) = place.as_ref()
            && same_text(kept, name)
        {
            out.push_str(quoted);
            return;
        }
        let start = out.len();
        push_str(out, name);
        let written = out.get(start..).unwrap_or_default();
        if written.len() <= Self::LONGEST {
            let mut quoted = place.take().map(|(_, text)| text).unwrap_or_default();
            quoted.clear();
            quoted.push_str(written);
            *place = Some((name.clone(), quoted));
        }
    }
}

/// Appends `name` as a JSON string: its quoted text from `quoted` when it is there.
fn push_name(out: &mut String, name: &str, quoted: &QuotedNames) {
    match quoted.quoted(name) {
        Some(text) => out.push_str(text),
        None => push_str(out, name),
    }
}

/// The outcome as one line of JSON.
pub fn outcome_json(outcome: &Outcome, input_line: usize) -> String {
    let mut out = String::with_capacity(192);
    write_outcome(&mut out, outcome, input_line);
    out
}

/// The decision as one line of JSON, without trace or duplicate mark: what the ledger keeps.
pub fn decision_json(decision: &Decision) -> String {
    let mut out = String::with_capacity(192);
    write_decision(&mut out, decision, false, None);
    out
}

/// Appends a decision: `lead`, `rule`, `line`, `action`, `pool`/`queue`/`rep`, `due`,
/// `escalation`, `reason`, `tags` and `scores` when there are any, then `duplicate` and `trace`
/// when given.
pub fn write_decision(
    out: &mut String,
    decision: &Decision,
    duplicate: bool,
    trace: Option<&Trace>,
) {
    write_decision_quoting(out, decision, duplicate, trace, &QuotedNames::NONE, None);
}

/// [`write_decision`], taking the names of `quoted` as they are written already.
fn write_decision_quoting(
    out: &mut String,
    decision: &Decision,
    duplicate: bool,
    trace: Option<&Trace>,
    quoted: &QuotedNames,
    mut recent: Option<&mut RecentQuoted>,
) {
    out.push_str("{\"lead\":");
    push_str(out, &decision.lead);
    out.push_str(",\"rule\":");
    match &decision.rule {
        Some(rule) => match quoted.rule(&rule.label, rule.line) {
            Some(text) => out.push_str(text),
            None => {
                push_name(out, &rule.label, quoted);
                out.push_str(",\"line\":");
                super::push_number(out, rule.line as u64);
            }
        },
        None => out.push_str("null"),
    }
    // The kind is one of five lower-case words: nothing in it to escape.
    out.push_str(",\"action\":\"");
    out.push_str(decision.action.kind());
    out.push('"');
    match &decision.action {
        Action::Pool { pool, rep } => {
            out.push_str(",\"pool\":");
            push_name(out, pool, quoted);
            out.push_str(",\"rep\":");
            push_name(out, rep, quoted);
        }
        Action::Queue { queue } => {
            out.push_str(",\"queue\":");
            push_name(out, queue, quoted);
        }
        Action::Rep { rep } | Action::Owner { rep } => {
            out.push_str(",\"rep\":");
            push_name(out, rep, quoted);
        }
        Action::Unassigned => {}
    }
    if let Some(due) = &decision.due {
        out.push_str(",\"due\":");
        push_time(out, due.time());
    }
    if !decision.escalation.is_empty() {
        out.push_str(",\"escalation\":[");
        for (index, step) in decision.escalation.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push_str("{\"at\":");
            push_time(out, step.at);
            out.push_str(",\"to\":");
            push_name(out, &step.to, quoted);
            out.push('}');
        }
        out.push(']');
    }
    if !decision.reasons.is_empty() {
        out.push_str(",\"reason\":[");
        for (index, reason) in decision.reasons.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push('{');
            if let Some(action) = &reason.action {
                out.push_str("\"action\":");
                push_name(out, action, quoted);
                out.push(',');
            }
            out.push_str("\"reason\":");
            match recent.as_deref_mut() {
                Some(recent) => recent.push(out, &reason.reason),
                None => push_str(out, &reason.reason),
            }
            out.push('}');
        }
        out.push(']');
    }
    if !decision.tags.is_empty() {
        out.push_str(",\"tags\":[");
        for (index, tag) in decision.tags.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            push_name(out, tag, quoted);
        }
        out.push(']');
    }
    if !decision.scores.is_empty() {
        out.push_str(",\"scores\":{");
        for (index, (score, value)) in decision.scores.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            push_name(out, score, quoted);
            let _ = write!(out, ":{value}");
        }
        out.push('}');
    }
    if duplicate {
        out.push_str(",\"duplicate\":true");
    }
    if let Some(trace) = trace {
        out.push_str(",\"trace\":");
        write_trace(out, trace);
    }
    out.push('}');
}

/// Appends an error record: `{"lead":…,"error":{"code":…,"message":…,"input_line":N}}`.
pub fn write_error(out: &mut String, error: &LeadError, input_line: usize) {
    out.push_str("{\"lead\":");
    match &error.lead {
        Some(lead) => push_str(out, lead),
        None => out.push_str("null"),
    }
    out.push_str(",\"error\":{\"code\":");
    push_str(out, error.code);
    out.push_str(",\"message\":");
    push_str(out, &error.message);
    let _ = write!(out, ",\"input_line\":{input_line}}}}}");
}

/// Appends a trace: `{"path":[{"test","value","branch"}…],"actions":[…]}`. A path read back
/// from the ledger keeps each test and value but not the graph's label of the branch: its
/// steps have no `"branch"`, rather than an empty one.
pub fn write_trace(out: &mut String, trace: &Trace) {
    out.push_str("{\"path\":[");
    for (index, step) in trace.path.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str("{\"test\":");
        push_str(out, &step.test);
        out.push_str(",\"value\":");
        out.push_str(&step.value.to_json());
        if !step.branch.is_empty() {
            out.push_str(",\"branch\":");
            push_str(out, &step.branch);
        }
        out.push('}');
    }
    out.push_str("],\"actions\":[");
    for (index, action) in trace.actions.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_action_trace(out, action);
    }
    out.push_str("]}");
}

fn write_action_trace(out: &mut String, action: &ActionTrace) {
    match action {
        ActionTrace::Queued { action } => {
            out.push_str("{\"action\":");
            push_str(out, action);
            out.push_str(",\"result\":\"queued\"}");
        }
        ActionTrace::Failed { action, result } => {
            out.push_str("{\"action\":");
            push_str(out, action);
            out.push_str(",\"result\":");
            push_str(out, result);
            out.push('}');
        }
        ActionTrace::Candidates {
            action,
            strategy,
            candidates,
        } => {
            out.push_str("{\"action\":");
            push_str(out, action);
            if let Some(strategy) = strategy {
                out.push_str(",\"strategy\":");
                push_str(out, strategy);
            }
            out.push_str(",\"candidates\":[");
            for (index, candidate) in candidates.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_candidate(out, candidate);
            }
            out.push_str("]}");
        }
    }
}

fn write_candidate(out: &mut String, candidate: &CandidateTrace) {
    out.push_str("{\"rep\":");
    push_str(out, &candidate.rep);
    let _ = write!(out, ",\"eligible\":{}", candidate.eligible);
    if let Some(load) = candidate.load {
        let _ = write!(out, ",\"load\":{load}");
    }
    out.push_str(",\"why\":");
    push_str(out, &candidate.why);
    if let Some(owner) = &candidate.owner {
        out.push_str(",\"owner\":");
        push_str(out, owner);
    }
    out.push('}');
}

/// The trace as a JSON value (for reports that embed it, such as `test --format json`).
pub fn trace_value(trace: &Trace) -> Value {
    let mut out = String::new();
    write_trace(&mut out, trace);
    serde_json::from_str(&out).unwrap_or(Value::Null)
}

/// The outcome as a JSON value (for reports that embed it).
pub fn outcome_value(outcome: &Outcome, input_line: usize) -> Value {
    serde_json::from_str(&outcome_json(outcome, input_line)).unwrap_or(Value::Null)
}

/// Appends a JSON string literal.
pub fn push_str(out: &mut String, text: &str) {
    out.push('"');
    let mut rest = text;
    // Copy runs that need no escaping in one go.
    while let Some(index) = first_to_escape(rest.as_bytes()) {
        out.push_str(&rest[..index]);
        match rest.as_bytes()[index] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            byte => {
                let _ = write!(out, "\\u{byte:04x}");
            }
        }
        rest = &rest[index + 1..];
    }
    out.push_str(rest);
    out.push('"');
}

fn push_time(out: &mut String, time: Option<LocalTime>) {
    match time {
        Some(time) => {
            out.push('"');
            time.write_to(out);
            out.push('"');
        }
        None => out.push_str("null"),
    }
}

/// Why a recorded decision could not be read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub String);

impl std::fmt::Display for WireError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// Reads a decision written by [`write_decision`] (a `duplicate` mark and a `trace` are
/// ignored). Anything else, such as a hand-edited ledger entry, is an error that says what is
/// wrong.
pub fn read_decision(text: &str) -> Result<Decision, WireError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|error| WireError(format!("not one JSON object: {error}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| WireError("not a JSON object".to_string()))?;
    let text_of = |key: &str| -> Result<Name, WireError> {
        object
            .get(key)
            .and_then(Value::as_str)
            .map(Name::from)
            .ok_or_else(|| WireError(format!("`{key}` is missing or not a string")))
    };
    let lead = LeadId::from(text_of("lead")?);
    let rule = match object.get("rule") {
        None | Some(Value::Null) => None,
        Some(Value::String(label)) => Some(RuleRef {
            label: Name::from(label.as_str()),
            line: object
                .get("line")
                .and_then(Value::as_u64)
                .and_then(|line| usize::try_from(line).ok())
                .ok_or_else(|| WireError("`line` is missing or not a line number".to_string()))?,
        }),
        Some(_) => return Err(WireError("`rule` is not a string".to_string())),
    };
    let action = match object.get("action").and_then(Value::as_str) {
        Some("pool") => Action::Pool {
            pool: text_of("pool")?,
            rep: text_of("rep")?,
        },
        Some("queue") => Action::Queue {
            queue: text_of("queue")?,
        },
        Some("rep") => Action::Rep {
            rep: text_of("rep")?,
        },
        Some("owner") => Action::Owner {
            rep: text_of("rep")?,
        },
        Some("unassigned") => Action::Unassigned,
        _ => return Err(WireError("`action` is not a known action".to_string())),
    };
    let time = |value: &Value, what: &str| -> Result<Option<LocalTime>, WireError> {
        match value {
            Value::Null => Ok(None),
            Value::String(text) => LocalTime::parse(text)
                .map(Some)
                .ok_or_else(|| WireError(format!("`{what}` is not an RFC 3339 time"))),
            _ => Err(WireError(format!("`{what}` is not a time"))),
        }
    };
    let due = match object.get("due") {
        None => None,
        Some(value) => Some(time(value, "due")?.map_or(Due::Never, Due::At)),
    };
    let mut escalation = Vec::new();
    for step in object
        .get("escalation")
        .map(|steps| {
            steps
                .as_array()
                .ok_or_else(|| WireError("`escalation` is not a list".to_string()))
        })
        .transpose()?
        .into_iter()
        .flatten()
    {
        escalation.push(Escalation {
            at: time(step.get("at").unwrap_or(&Value::Null), "escalation.at")?,
            to: step
                .get("to")
                .and_then(Value::as_str)
                .ok_or_else(|| WireError("`escalation.to` is not a string".to_string()))?
                .into(),
        });
    }
    let mut reasons = Vec::new();
    for reason in object
        .get("reason")
        .map(|reasons| {
            reasons
                .as_array()
                .ok_or_else(|| WireError("`reason` is not a list".to_string()))
        })
        .transpose()?
        .into_iter()
        .flatten()
    {
        reasons.push(Reason {
            action: reason.get("action").and_then(Value::as_str).map(Name::from),
            reason: reason
                .get("reason")
                .and_then(Value::as_str)
                .map(Name::from)
                .ok_or_else(|| WireError("`reason.reason` is not a string".to_string()))?,
        });
    }
    let tags = match object.get("tags") {
        None => Vec::new(),
        Some(Value::Array(tags)) => tags
            .iter()
            .map(|tag| tag.as_str().map(Name::from))
            .collect::<Option<_>>()
            .ok_or_else(|| WireError("`tags` holds something that is not a string".to_string()))?,
        Some(_) => return Err(WireError("`tags` is not a list".to_string())),
    };
    let scores = match object.get("scores") {
        None => Vec::new(),
        Some(Value::Object(scores)) => scores
            .iter()
            .map(|(score, value)| {
                value
                    .as_i64()
                    .map(|value| (Name::from(score.as_str()), value))
            })
            .collect::<Option<_>>()
            .ok_or_else(|| {
                WireError("`scores` holds a value that is not a whole number".to_string())
            })?,
        Some(_) => return Err(WireError("`scores` is not an object".to_string())),
    };
    Ok(Decision {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_json() {
        for text in [
            "plain",
            "quote \" and \\ backslash",
            "line\nbreak\ttab\r",
            "\u{1}\u{1f}",
            "ünïcødé 😀",
            "",
        ] {
            let mut out = String::new();
            push_str(&mut out, text);
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), text);
            assert_eq!(out, serde_json::to_string(text).unwrap());
        }
    }

    /// A decision whose names are all shared (written from their quoted text), some shared
    /// and some not (a rep a lead names: the same text in another allocation), or none is
    /// the same line as the plain writer's, escapes included.
    #[test]
    fn names_written_ahead_give_the_same_line() {
        let shared: Vec<Name> = [
            "senior",
            "anna \"the closer\"",
            "r_1",
            "backup",
            "vip",
            "fit",
        ]
        .into_iter()
        .map(Name::from)
        .collect();
        let quoted = QuotedNames::new(shared.iter());
        // A table of a thousand names, whose first slots collide: each is written right
        // still.
        let many: Vec<Name> = (0..1000).map(|n| Name::from(format!("rep_{n}"))).collect();
        let crowded = QuotedNames::new(many.iter());
        let decision = |names: &[Name]| {
            let mut decision = Decision::new("L-1");
            decision.rule = Some(RuleRef {
                label: names[2].clone(),
                line: 12,
            });
            decision.action = Action::Pool {
                pool: names[0].clone(),
                rep: names[1].clone(),
            };
            decision.escalation.push(Escalation {
                at: None,
                to: names[3].clone(),
            });
            decision.tags.push(names[4].clone());
            decision.scores.push((names[5].clone(), -3));
            decision
        };
        let unshared: Vec<Name> = shared.iter().map(|name| Name::from(&**name)).collect();
        let mixed: Vec<Name> = shared
            .iter()
            .zip(&unshared)
            .enumerate()
            .map(|(at, (one, other))| if at % 2 == 0 { one } else { other }.clone())
            .collect();
        for names in [&shared, &unshared, &mixed, &many[..6].to_vec()] {
            let decision = decision(names);
            let plain = decision_json(&decision);
            for table in [&quoted, &crowded, &QuotedNames::NONE] {
                let mut out = String::new();
                write_decision_quoting(&mut out, &decision, false, None, table, None);
                assert_eq!(out, plain);
            }
        }
        assert!(decision_json(&decision(&shared)).contains(r#""rep":"anna \"the closer\"""#));
        // Shared names are found, others are not (their text lies elsewhere).
        assert!(shared.iter().all(|name| quoted.quoted(name).is_some()));
        assert!(unshared.iter().all(|name| quoted.quoted(name).is_none()));
        assert_eq!(quoted.quoted(&shared[0]), Some("\"senior\""));
        // Every name given is found, its first slot taken or not, with its own text.
        for name in &many {
            assert_eq!(crowded.quoted(name), Some(format!("\"{name}\"").as_str()));
        }
    }

    /// Reasons written from the names kept lately are the plain writer's lines: the same name
    /// again, the same text in another name, names that take each other's slots (more names
    /// than slots, in turn), texts to escape, and a text too long to keep.
    #[test]
    fn reasons_written_lately_give_the_same_line() {
        let mut texts: Vec<String> = (0..40)
            .map(|n| format!("nobody in pool `p{n}` is eligible: anna at cap {n}/25"))
            .collect();
        texts.push("account `\"Initech\"` is not in the roster\n\u{1}é".to_string());
        texts.push("x".repeat(RecentQuoted::LONGEST + 1));
        let names: Vec<Name> = texts.iter().map(|text| Name::from(text.as_str())).collect();
        let mut recent = RecentQuoted::default();
        // Every name three times, and each time its text in a name of its own as well.
        for round in 0..3 {
            for (at, name) in names.iter().enumerate() {
                for reason in [name.clone(), Name::from(&**name)] {
                    let mut decision = Decision::new(format!("L-{round}-{at}"));
                    decision.reasons.push(Reason {
                        action: Some(Name::from("pool senior")),
                        reason: reason.clone(),
                    });
                    decision.reasons.push(Reason {
                        action: None,
                        reason,
                    });
                    let mut out = String::new();
                    write_decision_quoting(
                        &mut out,
                        &decision,
                        false,
                        None,
                        &QuotedNames::NONE,
                        Some(&mut recent),
                    );
                    assert_eq!(out, decision_json(&decision));
                }
            }
        }
        // Names are kept, each with its own JSON string, none too long.
        assert!(recent.slots.iter().flatten().count() > 1);
        for (kept, text) in recent.slots.iter().flatten() {
            let mut own = String::new();
            push_str(&mut own, kept);
            assert_eq!(*text, own);
            assert!(text.len() <= RecentQuoted::LONGEST);
        }
        // A name kept is written from its slot: the JSON string there is what is copied (a
        // slot's text changed by hand shows through).
        let kept = recent
            .slots
            .iter()
            .flatten()
            .map(|(name, _)| name.clone())
            .next()
            .expect("a name kept");
        for slot in recent.slots.iter_mut().flatten() {
            slot.1 = "\"kept\"".to_string();
        }
        let mut out = String::new();
        recent.push(&mut out, &kept);
        assert_eq!(out, "\"kept\"");
    }

    /// A rule written ahead with its line is written from there only for that very label
    /// and that line: the same label at another line, or the same text elsewhere, is written
    /// in full, and every line is the plain writer's.
    #[test]
    fn rules_written_ahead_give_the_same_line() {
        let hot = Name::from("hot \"now\"");
        let cold = Name::from("cold");
        let quoted = QuotedNames::new([&hot, &cold]).with_rules([(&hot, 12), (&cold, 30)]);
        assert_eq!(quoted.rule(&hot, 12), Some(r#""hot \"now\"","line":12"#));
        assert_eq!(quoted.rule(&cold, 30), Some(r#""cold","line":30"#));
        assert_eq!(quoted.rule(&hot, 13), None);
        assert_eq!(quoted.rule(&Name::from("cold"), 30), None);
        assert_eq!(QuotedNames::NONE.rule(&cold, 30), None);
        for (label, line) in [
            (hot.clone(), 12),
            (hot.clone(), 13),
            (cold.clone(), 30),
            (Name::from("cold"), 30),
            (Name::from("#4"), 4),
        ] {
            let mut decision = Decision::new("L-1");
            decision.rule = Some(RuleRef { label, line });
            let mut out = String::new();
            write_decision_quoting(&mut out, &decision, false, None, &quoted, None);
            assert_eq!(out, decision_json(&decision));
        }
    }

    #[test]
    fn recorded_decisions_read_back_as_written() {
        for line in [
            r#"{"lead":"L-1","rule":"hot","line":67,"action":"pool","pool":"senior","rep":"anna","due":"2026-11-23T10:15:00+01:00","escalation":[{"at":"2026-11-23T10:30:00+01:00","to":"backup"}]}"#,
            r#"{"lead":"L-6","rule":"content","line":71,"action":"queue","queue":"nurture"}"#,
            r#"{"lead":"L-10","rule":"sticky","line":54,"action":"rep","rep":"sergei","due":"2026-11-23T12:30:00+01:00"}"#,
            r#"{"lead":"L-12","rule":"family","line":55,"action":"pool","pool":"enterprise","rep":"maria","due":null,"escalation":[{"at":null,"to":"backup"}],"reason":[{"action":"owner of parent_account","reason":"account `Initech` is not in the roster"}]}"#,
            r#"{"lead":"x\"y","rule":null,"action":"unassigned","reason":[{"reason":"no rule matches this lead"}]}"#,
            r#"{"lead":"L-20","rule":"paid","line":9,"action":"pool","pool":"sdr","rep":"anna","tags":["sms","create_task"],"scores":{"fit_score":45,"risk":-30}}"#,
        ] {
            let decision = read_decision(line).unwrap();
            assert_eq!(decision_json(&decision), line);
        }
    }

    #[test]
    fn a_broken_record_says_what_is_wrong() {
        for (line, wanted) in [
            ("{\"lead\":\"L-1\",\n\"rule\":null}", "`action`"),
            ("[1]", "not a JSON object"),
            (
                "{\"lead\":\"L-1\",\"rule\":null,\"action\":\"pool\"}",
                "`pool`",
            ),
            ("{\"lead\":1}", "`lead`"),
            ("{} {}", "not one JSON object"),
        ] {
            let error = read_decision(line).unwrap_err();
            assert!(error.0.contains(wanted), "{line}: {error}");
        }
    }
}
