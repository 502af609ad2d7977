//! A routed lead's life after its decision: who held it and when, the escalation steps still
//! ahead, and the touches, acceptances, rejections and closing that happened. Plain values: the
//! router changes them (`track`, `sweep`), the state keeps them, `explain` and `report` read
//! them. Also the reader of `track`'s event lines.
//!
//! Invariants: a lead has at most one holder at a time (the last holding that has not ended);
//! a rep appears in `holdings` at most once (nobody gets the same lead twice); each escalation
//! step fires at most once (`fired` is set in the same state batch that records its decision).

use super::decision::{Decision, Escalation};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// What happened to a lead since it was routed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Life {
    pub lead: String,
    /// The lead's own time (its clock field, else the routing time).
    pub lead_at: Timestamp,
    /// The label of the rule that decided.
    pub rule: Option<String>,
    /// Everyone and everything that held the lead, in order; the last one that has not ended
    /// holds it now.
    pub holdings: Vec<Holding>,
    /// Every escalation step the lead's decisions scheduled, in order: a re-route cancels the
    /// steps still ahead and appends its own, so a step's number (its place here, from 1)
    /// names it for the lead's whole life.
    pub steps: Vec<Step>,
    /// The first touch by the holder of the time: it stops the SLA clock and every later step.
    pub touched: Option<Event>,
    pub accepted: Option<Event>,
    pub rejections: Vec<Event>,
    pub closed: Option<Event>,
    /// The events recorded, as `(kind, at, by)`, to refuse a repeat.
    pub seen: Vec<(EventKind, Timestamp, Option<String>)>,
    /// The current decision, as its JSON line (what a re-sent lead gets back).
    pub current: String,
    /// Where the due index holds the lead: its next step's time as last scheduled.
    #[serde(default)]
    pub scheduled: Option<Timestamp>,
}

/// One holder of the lead: a rep (through a pool or by name), a queue, or nobody.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holding {
    pub rep: Option<String>,
    pub pool: Option<String>,
    pub queue: Option<String>,
    /// How the holder got it.
    pub how: How,
    pub from: Timestamp,
    /// When the holder must respond by (`None`: no SLA, or no working time ahead).
    pub due: Option<Timestamp>,
    /// The first touch by this holder: when, and how long after `from` in wall-clock and in
    /// working seconds (on the holder's calendar).
    pub touch: Option<Touch>,
    /// When and why the holding ended (escalated away, rejected, closed).
    pub ended: Option<(Timestamp, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    /// The rule's decision.
    Routed,
    /// An escalation step (1-based).
    Escalated { step: usize },
    /// Re-routed after the previous holder rejected it.
    Rerouted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Touch {
    pub at: Timestamp,
    pub wall_seconds: i64,
    pub working_seconds: i64,
}

/// One escalation step of the current decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// When it is due (`None`: no working time ahead, so never).
    pub at: Option<Timestamp>,
    pub to: String,
    /// When it fired, and what it did ("rep egor", or why it found nobody); for a step a
    /// re-route cancelled, when and why.
    pub fired: Option<(Timestamp, String)>,
}

/// An event as `track` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub lead: String,
    pub kind: EventKind,
    pub at: Timestamp,
    pub by: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Touched,
    Accepted,
    Rejected,
    Closed,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Touched => "touched",
            EventKind::Accepted => "accepted",
            EventKind::Rejected => "rejected",
            EventKind::Closed => "closed",
        }
    }
}

/// Why an event line was not recorded: a code (`event.unknown_lead`) and a message that names
/// the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    pub code: &'static str,
    pub message: String,
    /// The lead id, when the line had one.
    pub lead: Option<String>,
}

impl EventError {
    fn new(code: &'static str, message: String, lead: Option<&str>) -> EventError {
        EventError {
            code,
            message,
            lead: lead.map(str::to_string),
        }
    }
}

/// Reads one event line: `{"lead":"L-1","event":"touched","at":TIME,"by":"anna"}`.
pub fn read_event(bytes: &[u8], max_depth: usize) -> Result<Event, EventError> {
    use crate::json::Value;
    let text = std::str::from_utf8(bytes).map_err(|error| {
        EventError::new(
            "event.json",
            format!("not UTF-8 at byte {}", error.valid_up_to()),
            None,
        )
    })?;
    let node = crate::json::parse(text, max_depth).map_err(|error| {
        EventError::new(
            "event.json",
            format!("not JSON at byte {}: {}", error.span.start, error.message),
            None,
        )
    })?;
    let Value::Object(members) = node.value else {
        return Err(EventError::new(
            "event.json",
            format!(
                "an event is a JSON object such as {{\"lead\":\"L-1\",\"event\":\"touched\",\
                 \"at\":\"2026-11-23T10:12:00+01:00\",\"by\":\"anna\"}}, found {}",
                node.value.kind()
            ),
            None,
        ));
    };
    let mut fields: [Option<&Value>; 4] = [None; 4];
    let names = ["lead", "event", "at", "by"];
    let mut unknown = None;
    let mut twice = None;
    for member in &members {
        match names.iter().position(|name| *name == member.key) {
            Some(index) if fields[index].is_some() => twice = twice.or(Some(names[index])),
            Some(index) => fields[index] = Some(&member.value.value),
            None => unknown = unknown.or(Some(member.key.as_str())),
        }
    }
    let [lead, kind, at, by] = fields;
    let lead = match lead {
        Some(Value::String(lead)) if !lead.trim().is_empty() => lead.clone(),
        Some(Value::String(_)) => {
            return Err(EventError::new(
                "event.lead",
                "`lead` is blank: name the routed lead's id".to_string(),
                None,
            ));
        }
        Some(other) => {
            return Err(EventError::new(
                "event.lead",
                format!(
                    "`lead` must be the lead's id as a string, found {}",
                    other.kind()
                ),
                None,
            ));
        }
        None => {
            return Err(EventError::new(
                "event.missing",
                "`lead` is missing: the id of the routed lead".to_string(),
                None,
            ));
        }
    };
    let lead_ref = Some(lead.as_str());
    if let Some(name) = twice {
        return Err(EventError::new(
            "event.field",
            format!("`{name}` is given twice"),
            lead_ref,
        ));
    }
    if let Some(key) = unknown {
        return Err(EventError::new(
            "event.field",
            format!("unknown field `{key}`: an event has `lead`, `event`, `at` and `by`"),
            lead_ref,
        ));
    }
    let kind = match kind {
        Some(Value::String(word)) => match word.as_str() {
            "touched" => EventKind::Touched,
            "accepted" => EventKind::Accepted,
            "rejected" => EventKind::Rejected,
            "closed" => EventKind::Closed,
            other => {
                let names = ["touched", "accepted", "rejected", "closed"];
                // `touch`, `accept`, `reject`, `close`: the verb, not the past tense.
                let stem = names
                    .iter()
                    .find(|name| other.len() >= 4 && name.starts_with(&other.to_lowercase()))
                    .map(|name| format!("did you mean `{name}`?"));
                let hint = stem
                    .or_else(|| crate::check::suggest::did_you_mean(other, names))
                    .map(|hint| format!("; {hint}"))
                    .unwrap_or_default();
                return Err(EventError::new(
                    "event.kind",
                    format!(
                        "`event` must be touched, accepted, rejected or closed, found \"{other}\"{hint}"
                    ),
                    lead_ref,
                ));
            }
        },
        Some(other) => {
            return Err(EventError::new(
                "event.kind",
                format!(
                    "`event` must be touched, accepted, rejected or closed, found {}",
                    other.kind()
                ),
                lead_ref,
            ));
        }
        None => {
            return Err(EventError::new(
                "event.missing",
                "`event` is missing: touched, accepted, rejected or closed".to_string(),
                lead_ref,
            ));
        }
    };
    let at = match at {
        Some(Value::String(text)) => super::reader::read_instant(text).map_err(|why| {
            EventError::new(
                "event.time",
                format!("`at` \"{text}\" cannot be read: {why}"),
                lead_ref,
            )
        })?,
        Some(other) => {
            return Err(EventError::new(
                "event.time",
                format!(
                    "`at` must be an RFC 3339 time as a string, found {}",
                    other.kind()
                ),
                lead_ref,
            ));
        }
        None => {
            return Err(EventError::new(
                "event.missing",
                "`at` is missing: when it happened, as an RFC 3339 time".to_string(),
                lead_ref,
            ));
        }
    };
    let by = match by {
        None | Some(Value::Null) => None,
        Some(Value::String(by)) if !by.trim().is_empty() => Some(by.clone()),
        Some(Value::String(_)) => {
            return Err(EventError::new(
                "event.by",
                "`by` is blank: name the rep".to_string(),
                lead_ref,
            ));
        }
        Some(other) => {
            return Err(EventError::new(
                "event.by",
                format!("`by` must be a rep's name, found {}", other.kind()),
                lead_ref,
            ));
        }
    };
    if by.is_none() && kind != EventKind::Closed {
        return Err(EventError::new(
            "event.missing",
            format!("`by` is missing: the rep who {} the lead", kind.as_str()),
            lead_ref,
        ));
    }
    Ok(Event { lead, kind, at, by })
}

impl Life {
    /// The life of a lead that nothing has happened to since `decision` was recorded for it;
    /// `lead_at` is the lead's own time (the ledger's, else its routing time).
    pub fn begin(decision: &Decision, lead_at: Timestamp) -> Life {
        Life {
            lead: decision.lead.to_string(),
            lead_at,
            rule: decision.rule.as_ref().map(|rule| rule.label.to_string()),
            holdings: vec![holding(decision, How::Routed, lead_at)],
            steps: steps(&decision.escalation),
            touched: None,
            accepted: None,
            rejections: Vec::new(),
            closed: None,
            seen: Vec::new(),
            current: super::wire::decision_json(decision),
            // What `route` scheduled (`Router::route_lead`).
            scheduled: first_step_at(decision),
        }
    }

    /// The holding in force: the last one that has not ended.
    pub fn holder(&self) -> Option<&Holding> {
        self.holdings.last().filter(|h| h.ended.is_none())
    }

    /// Whether `rep` ever held the lead.
    pub fn had(&self, rep: &str) -> bool {
        self.holdings
            .iter()
            .any(|holding| holding.rep.as_deref() == Some(rep))
    }

    /// The reps who held the lead, in order.
    pub fn reps(&self) -> Vec<String> {
        self.holdings.iter().filter_map(|h| h.rep.clone()).collect()
    }

    /// When the next escalation step is due, if one can still fire.
    pub fn next_step_at(&self) -> Option<Timestamp> {
        if self.touched.is_some() || self.closed.is_some() {
            return None;
        }
        self.steps
            .iter()
            .find(|step| step.fired.is_none())
            .and_then(|step| step.at)
    }

    /// Replaces the current decision: a new holding (ending the one in force at `at`) and, for a
    /// re-route, the decision's own escalation chain in place of the steps still ahead.
    pub fn hand_over(&mut self, decision: &Decision, how: How, at: Timestamp, why: &str) {
        if let Some(last) = self.holdings.last_mut()
            && last.ended.is_none()
        {
            last.ended = Some((at, why.to_string()));
        }
        self.holdings.push(holding(decision, how, at));
        if how == How::Rerouted {
            for step in &mut self.steps {
                if step.fired.is_none() {
                    step.fired = Some((at, format!("cancelled: {why}")));
                }
            }
            self.steps.extend(steps(&decision.escalation));
        }
        self.current = super::wire::decision_json(decision);
    }
}

fn holding(decision: &Decision, how: How, from: Timestamp) -> Holding {
    Holding {
        rep: decision.action.rep().map(str::to_string),
        pool: decision.action.pool().map(str::to_string),
        queue: decision.action.queue().map(str::to_string),
        how,
        from,
        due: decision
            .due
            .and_then(|due| due.time())
            .map(|time| time.instant),
        touch: None,
        ended: None,
    }
}

fn steps(escalation: &[Escalation]) -> Vec<Step> {
    escalation
        .iter()
        .map(|step| Step {
            at: step.at.map(|time| time.instant),
            to: step.to.to_string(),
            fired: None,
        })
        .collect()
}

/// When a fresh decision's first escalation step is due: where `route` puts it in the due index.
pub fn first_step_at(decision: &Decision) -> Option<Timestamp> {
    decision
        .escalation
        .first()
        .and_then(|step| step.at)
        .map(|time| time.instant)
}
