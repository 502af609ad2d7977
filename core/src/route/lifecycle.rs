//! After the decision: `track` records what happened to a routed lead (touched, accepted,
//! rejected, closed) and `sweep` carries out the escalation steps that are due. Both go through
//! the same router as `route` (strategies, caps, availability, the SLA clock), so an escalation
//! picks its rep exactly as a rule would at that moment, never a rep who already had the lead.
//!
//! Invariants: no wall clock (event times, step times and `now` are values); each step fires at
//! most once (its `fired` mark is written in the same state batch as the decision it makes); a
//! lead has one holder at a time; a touch by the holder stops every later step.

use super::clock;
use super::decision::{Action, Decision, Due, Escalation, Reason};
use super::life::{Event, EventError, EventKind, How, Life, Touch, read_event};
use super::reader::ParsedLead;
use super::state::{StateError, StateErrorKind, StateStore};
use super::{Attempt, Router, wire};
use crate::model::time::LocalTime;
use crate::model::{CalendarDef, Lead};
use crate::span::Span;
use crate::syntax::ast::{ActionKind, Ident};
use jiff::Timestamp;

/// What `track` made of one event line.
#[derive(Debug, Clone, PartialEq)]
pub enum Tracked {
    /// The event, recorded. A rejection carries the lead's new decision (`None` for the other
    /// events); a touch says whether the SLA was met.
    Recorded {
        event: Event,
        /// The event's time in the holder's calendar's offset, as printed.
        shown_at: LocalTime,
        /// For a first touch: `Some(true)` when it came by the holder's due time.
        sla_met: Option<bool>,
        /// For a first touch: how long after the holder got the lead, in wall-clock seconds
        /// and in working seconds on the holder's calendar.
        touch: Option<Touch>,
        /// A later touch: the first was earlier, so this one changes nothing.
        later_touch: bool,
        /// A touch that came in late (after a sweep or a rejection moved the lead on) by the
        /// rep who held the lead at its time: when that holding ended. The touch is that
        /// holding's, measured against its due time; the current holder's SLA runs on.
        held_until: Option<LocalTime>,
        decision: Option<Box<Decision>>,
    },
    /// Not recorded, and why.
    Invalid(EventError),
}

/// One escalation step carried out by `sweep`: the lead's new decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    pub decision: Decision,
    /// 1-based, in the rule's `escalate` order.
    pub step: usize,
    /// When the step was due (and is taken to have happened).
    pub at: LocalTime,
}

impl Tracked {
    /// The line `track` prints: the event as recorded, or the error record.
    pub fn to_json(&self, input_line: usize) -> String {
        match self {
            Tracked::Invalid(error) => {
                // `"lead": null` when the event's lead could not be read, as `route` writes it:
                // every error record has the same keys.
                let mut object = serde_json::Map::new();
                object.insert(
                    "lead".into(),
                    error
                        .lead
                        .clone()
                        .map_or(serde_json::Value::Null, Into::into),
                );
                object.insert(
                    "error".into(),
                    serde_json::json!({
                        "code": error.code,
                        "message": error.message,
                        "input_line": input_line,
                    }),
                );
                serde_json::Value::Object(object).to_string()
            }
            Tracked::Recorded {
                event,
                shown_at,
                sla_met,
                touch,
                later_touch,
                held_until,
                decision,
            } => {
                let mut object = serde_json::Map::new();
                object.insert("lead".into(), event.lead.clone().into());
                object.insert("event".into(), event.kind.as_str().into());
                object.insert("at".into(), shown_at.to_string().into());
                if let Some(by) = &event.by {
                    object.insert("by".into(), by.clone().into());
                }
                if let Some(met) = sla_met {
                    object.insert("sla".into(), if *met { "met" } else { "missed" }.into());
                }
                if let Some(touch) = touch {
                    object.insert("after_seconds".into(), touch.wall_seconds.into());
                    object.insert("after_working_seconds".into(), touch.working_seconds.into());
                }
                if *later_touch {
                    object.insert("first_touch".into(), false.into());
                }
                if let Some(until) = held_until {
                    object.insert("held_until".into(), until.to_string().into());
                }
                if let Some(decision) = decision {
                    let value: serde_json::Value =
                        serde_json::from_str(&wire::decision_json(decision))
                            .unwrap_or(serde_json::Value::Null);
                    object.insert("decision".into(), value);
                }
                serde_json::Value::Object(object).to_string()
            }
        }
    }
}

impl Tracked {
    /// The line `track` prints for an event whose lead had steps due before it: the event (or
    /// error record) with the decisions of those steps under `"escalated"`, in order.
    pub fn to_json_after(&self, fired: &[Fired], input_line: usize) -> String {
        let line = self.to_json(input_line);
        if fired.is_empty() {
            return line;
        }
        let Ok(serde_json::Value::Object(mut object)) = serde_json::from_str(&line) else {
            return line;
        };
        let steps: Vec<serde_json::Value> = fired
            .iter()
            .filter_map(|step| serde_json::from_str(&step.to_json()).ok())
            .collect();
        object.insert("escalated".into(), serde_json::Value::Array(steps));
        serde_json::Value::Object(object).to_string()
    }
}

impl Fired {
    /// The line `sweep` prints: the decision, with `event`, `step` and `at` after the lead id.
    pub fn to_json(&self) -> String {
        let decision: serde_json::Value =
            serde_json::from_str(&wire::decision_json(&self.decision))
                .unwrap_or(serde_json::Value::Null);
        let mut object = serde_json::Map::new();
        object.insert("lead".into(), self.decision.lead.to_string().into());
        object.insert("event".into(), "escalated".into());
        object.insert("step".into(), self.step.into());
        object.insert("at".into(), self.at.to_string().into());
        if let serde_json::Value::Object(fields) = decision {
            for (key, value) in fields {
                if key != "lead" {
                    object.insert(key, value);
                }
            }
        }
        serde_json::Value::Object(object).to_string()
    }
}

/// The holding of `rep` in force at `at` that has ended since (`at` is before its end): where
/// a touch that arrives late belongs.
fn past_holding(life: &Life, rep: &str, at: Timestamp) -> Option<usize> {
    life.holdings.iter().position(|holding| {
        holding.rep.as_deref() == Some(rep)
            && holding.from <= at
            && holding.ended.as_ref().is_some_and(|(ended, _)| at < *ended)
    })
}

fn invalid(code: &'static str, lead: &str, message: String) -> Tracked {
    Tracked::Invalid(EventError {
        code,
        message,
        lead: Some(lead.to_string()),
    })
}

/// How far after the router's `now` an event may be dated: senders' clocks differ by a little
/// (signed webhooks allow the same 5 minutes). Later than that, an event has not happened yet.
const EVENT_CLOCK_SKEW: jiff::SignedDuration = jiff::SignedDuration::from_mins(5);

impl Router<'_> {
    /// Records one event line. State errors abort the run; everything wrong with the event
    /// itself is a [`Tracked::Invalid`].
    pub fn track_line(
        &self,
        state: &mut dyn StateStore,
        bytes: &[u8],
    ) -> Result<(Tracked, Vec<Fired>), StateError> {
        let event = match read_event(bytes, self.config.limits.max_depth) {
            Ok(event) => event,
            Err(error) => return Ok((Tracked::Invalid(error), Vec::new())),
        };
        // The offset the event's time was written with: times of a lead with no calendar are
        // shown in it (as the sender wrote them), not in UTC.
        let written = serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|line| line.get("at")?.as_str().and_then(LocalTime::parse))
            .and_then(|at| at.offset);
        self.track_shown(state, event, written)
    }

    /// Records one event for a routed lead. The lead's own escalation steps that were due at
    /// or before the event are carried out first, each at its own time (a step fires at its
    /// time, whenever it is noticed), and returned with the event's outcome.
    pub fn track(
        &self,
        state: &mut dyn StateStore,
        event: Event,
    ) -> Result<(Tracked, Vec<Fired>), StateError> {
        self.track_shown(state, event, None)
    }

    /// [`Router::track`], showing the times of a lead without a calendar in `written` (the
    /// offset the event came with) rather than UTC.
    fn track_shown(
        &self,
        state: &mut dyn StateStore,
        event: Event,
        written: Option<jiff::tz::Offset>,
    ) -> Result<(Tracked, Vec<Fired>), StateError> {
        let lead = event.lead.as_str();
        let Some(recorded) = state.recorded_for_update(lead)? else {
            return Ok((
                invalid(
                    "event.unknown_lead",
                    lead,
                    format!("lead `{lead}` was never routed with this state"),
                ),
                Vec::new(),
            ));
        };
        let mut life = match state.life(lead)? {
            Some(life) => life,
            None => Life::begin(
                &recorded.decision,
                recorded.lead_at.unwrap_or(recorded.decided_at),
            ),
        };
        if event.at < life.lead_at {
            let calendar = self.life_calendar(&life);
            let shown = |at: Timestamp| shown_in(at, calendar, written);
            return Ok((
                invalid(
                    "event.before_lead",
                    lead,
                    format!(
                        "the event at {} is before the lead's own time, {}",
                        shown(event.at),
                        shown(life.lead_at)
                    ),
                ),
                Vec::new(),
            ));
        }
        let now = self.config.now;
        let latest = now.checked_add(EVENT_CLOCK_SKEW).unwrap_or(Timestamp::MAX);
        if event.at > latest {
            let calendar = self.life_calendar(&life);
            let shown = |at: Timestamp| shown_in(at, calendar, written);
            return Ok((
                invalid(
                    "event.future",
                    lead,
                    format!(
                        "the event at {} is after now ({}): an event is recorded once it has \
                         happened (clocks may differ by {} minutes); check the clock of what \
                         sent it",
                        shown(event.at),
                        // The clock's now to the second: its nanoseconds say nothing here.
                        shown(now.round(jiff::Unit::Second).unwrap_or(now)),
                        EVENT_CLOCK_SKEW.as_mins()
                    ),
                ),
                Vec::new(),
            ));
        }
        // Steps due by the event's time fire first, but none after now: an event a sender's
        // clock dates a little ahead moves no lead early.
        let fire_until = event.at.min(now);
        if self.refuse_unknown_names
            && let Some(unknown) = self.unknown_name(&life, fire_until, event.kind)
        {
            return Ok((
                invalid(
                    "event.policy",
                    lead,
                    format!(
                        "{unknown}, which this policy does not have: is it the policy that \
                         routed the lead? Nothing was recorded (track with that policy; if the \
                         name was taken out on purpose, `--allow-unknown-names` records the \
                         event and leaves the lead unassigned where it cannot go on)"
                    ),
                ),
                Vec::new(),
            ));
        }
        let mut fired = Vec::new();
        while let Some(at) = life.next_step_at().filter(|at| *at <= fire_until) {
            let Some(index) = life.steps.iter().position(|step| step.fired.is_none()) else {
                break;
            };
            fired.push(self.fire(state, &mut life, index, at)?);
        }
        if !fired.is_empty() {
            state.set_life(&life)?;
            life = state.life(lead)?.unwrap_or(life);
        }
        let tracked = self.apply(state, &mut life, event, written)?;
        Ok((tracked, fired))
    }

    /// Applies an event to a lead's life (its due steps already fired).
    fn apply(
        &self,
        state: &mut dyn StateStore,
        life: &mut Life,
        event: Event,
        written: Option<jiff::tz::Offset>,
    ) -> Result<Tracked, StateError> {
        let lead = event.lead.as_str();
        let calendar = self.life_calendar(life);
        let shown = |at: Timestamp| shown_in(at, calendar, written);
        let key = (event.kind, event.at, event.by.clone());
        if life.seen.contains(&key) {
            return Ok(invalid(
                "event.repeat",
                lead,
                format!(
                    "this event was already recorded: {} at {}{}",
                    event.kind.as_str(),
                    shown(event.at),
                    event
                        .by
                        .as_deref()
                        .map(|by| format!(" by {by}"))
                        .unwrap_or_default()
                ),
            ));
        }
        // A touch that arrives after the lead moved on (a sweep or a rejection came first) is
        // judged at its own time: it belongs to the holding in force then.
        if event.kind == EventKind::Touched
            && let Some(by) = event.by.as_deref()
            && let Some(index) = past_holding(life, by, event.at)
        {
            return self.touch_past_holding(state, life, index, event, key);
        }
        if let Some(closed) = &life.closed {
            return Ok(invalid(
                "event.closed",
                lead,
                format!("lead `{lead}` was closed at {}", shown(closed.at)),
            ));
        }
        let shown_at = shown(event.at);
        let mut sla_met = None;
        let mut touch = None;
        let mut later_touch = false;
        let mut decision = None;
        if event.kind != EventKind::Closed {
            let by = event.by.as_deref().unwrap_or_default();
            let Some(holding) = life.holder() else {
                return Ok(invalid(
                    "event.not_holder",
                    lead,
                    format!("nobody holds lead `{lead}` now, so `{by}` cannot have it"),
                ));
            };
            if holding.rep.as_deref() != Some(by) {
                let holder = match (&holding.rep, &holding.queue) {
                    (Some(rep), _) => format!("{rep} does (since {})", shown(holding.from)),
                    (None, Some(queue)) => format!("it waits in queue `{queue}`"),
                    (None, None) => "nobody does".to_string(),
                };
                return Ok(invalid(
                    "event.not_holder",
                    lead,
                    format!("`{by}` does not hold lead `{lead}`: {holder}"),
                ));
            }
        }
        // A close may come late: the lead was done then, whoever holds it now.
        if event.kind != EventKind::Closed
            && let Some(holding) = life.holdings.last()
            && event.at < holding.from
        {
            let who = holding.rep.as_deref().unwrap_or("the current holder");
            return Ok(invalid(
                "event.before_holding",
                lead,
                format!(
                    "{who} got lead `{lead}` at {}; the event at {} is before that",
                    shown(holding.from),
                    shown(event.at)
                ),
            ));
        }
        match event.kind {
            EventKind::Touched => {
                // A retried delivery may bring the first touch after a later one.
                let earlier_than_recorded = life
                    .touched
                    .as_ref()
                    .is_some_and(|touched| event.at < touched.at);
                if life.touched.is_some() && !earlier_than_recorded {
                    later_touch = true;
                } else {
                    let calendar = self.life_calendar(life);
                    if let Some(holding) = life.holdings.last_mut() {
                        let measured = Touch {
                            at: event.at,
                            wall_seconds: (event.at - holding.from).as_secs(),
                            working_seconds: calendar
                                .map_or((event.at - holding.from).as_secs(), |calendar| {
                                    clock::working_seconds(calendar, holding.from, event.at)
                                }),
                        };
                        holding.touch = Some(measured);
                        sla_met = holding.due.map(|due| event.at <= due);
                        touch = Some(measured);
                    }
                    life.touched = Some(event.clone());
                }
            }
            EventKind::Accepted => {
                if life.accepted.is_none() {
                    life.accepted = Some(event.clone());
                }
            }
            EventKind::Closed => {
                // A close that arrives after a step handed the lead on (the CRM's webhook came
                // after the sweep) ends the holding in force as it began: the lead was done
                // before. No step fires after a close.
                if let Some(holding) = life.holdings.last_mut()
                    && holding.ended.is_none()
                {
                    holding.ended = Some((event.at.max(holding.from), "closed".to_string()));
                }
                life.closed = Some(event.clone());
            }
            EventKind::Rejected => {
                let by = event.by.clone().unwrap_or_default();
                life.rejections.push(event.clone());
                let rerouted = self.reroute(state, life, event.at, &by)?;
                life.hand_over(
                    &rerouted,
                    How::Rerouted,
                    event.at,
                    &format!("rejected by {by}"),
                );
                // A rejected lead starts over: its touch (if any) was the old holder's.
                life.touched = None;
                decision = Some(Box::new(rerouted));
            }
        }
        life.seen.push(key);
        state.set_life(life)?;
        Ok(Tracked::Recorded {
            event,
            shown_at,
            sla_met,
            touch,
            later_touch,
            held_until: None,
            decision,
        })
    }

    /// Records a touch on holding `index`, which has ended since the touch's time: the
    /// holding's first touch (if earlier than the one it has), measured from when it began on
    /// its rep's calendar. Nothing else changes: the lead's current holder keeps it, and its
    /// steps stay due.
    fn touch_past_holding(
        &self,
        state: &mut dyn StateStore,
        life: &mut Life,
        index: usize,
        event: Event,
        key: (EventKind, Timestamp, Option<String>),
    ) -> Result<Tracked, StateError> {
        let Some(holding) = life.holdings.get(index) else {
            return Ok(invalid(
                "event.not_holder",
                &event.lead,
                "the holding of this touch is gone".to_string(),
            ));
        };
        let calendar = holding
            .rep
            .as_deref()
            .and_then(|rep| {
                let pool = holding.pool.as_deref().and_then(|name| self.pool(name));
                self.policy.member_calendar(pool, rep)
            })
            .and_then(|c| self.policy.calendars.get(c))
            .or_else(|| self.rule_calendar(life));
        let measured = Touch {
            at: event.at,
            wall_seconds: (event.at - holding.from).as_secs(),
            working_seconds: calendar.map_or((event.at - holding.from).as_secs(), |calendar| {
                clock::working_seconds(calendar, holding.from, event.at)
            }),
        };
        let first = holding.touch.is_none_or(|touch| event.at < touch.at);
        let sla_met = if first {
            holding.due.map(|due| event.at <= due)
        } else {
            None
        };
        let held_until = holding
            .ended
            .as_ref()
            .map(|(at, _)| LocalTime::on(*at, calendar));
        if first && let Some(holding) = life.holdings.get_mut(index) {
            holding.touch = Some(measured);
        }
        life.seen.push(key);
        state.set_life(life)?;
        Ok(Tracked::Recorded {
            shown_at: LocalTime::on(event.at, calendar),
            event,
            sla_met,
            touch: first.then_some(measured),
            later_touch: !first,
            held_until,
            decision: None,
        })
    }

    /// What of a lead's names this policy does not have, that recording `kind` at `until`
    /// would act on: the target of a step due by then, or (for a rejection) the rule the lead
    /// is re-routed by. `None` when the policy has them all.
    fn unknown_name(&self, life: &Life, until: Timestamp, kind: EventKind) -> Option<String> {
        if let Some(target) = self.unknown_target_due(life, until) {
            return Some(format!(
                "lead `{}` has an escalation step due to `{target}`",
                life.lead
            ));
        }
        if kind == EventKind::Rejected
            && let Some(label) = life.rule.as_deref()
            && !self.policy.rules.iter().any(|rule| rule.label == label)
        {
            return Some(format!(
                "a rejection re-routes lead `{}` by its rule, `{label}`",
                life.lead
            ));
        }
        None
    }

    /// The target of the first step of `life` due by `until` and not fired that this policy
    /// does not have.
    fn unknown_target_due<'l>(&self, life: &'l Life, until: Timestamp) -> Option<&'l str> {
        life.steps
            .iter()
            .filter(|step| step.fired.is_none() && step.at.is_some_and(|at| at <= until))
            .find(|step| !self.knows_target(&step.to))
            .map(|step| step.to.as_str())
    }

    /// Whether `name` is a pool, a queue or a rep of this policy: an escalation target.
    fn knows_target(&self, name: &str) -> bool {
        self.pool(name).is_some()
            || self.policy.queues.iter().any(|queue| queue == name)
            || self.policy.knows_rep(name)
    }

    /// The escalation steps due at `now` whose target this policy does not have, as (lead,
    /// target), in the order they are due (at most `limit`): what `sweep` refuses to carry out
    /// before it changes anything, unless told to.
    pub fn unknown_targets_due(
        &self,
        state: &mut dyn StateStore,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StateError> {
        let mut unknown = Vec::new();
        for (lead, _) in state.due(now, limit)? {
            let life = match state.life(&lead)? {
                Some(life) => life,
                None => match state.recorded(&lead)? {
                    Some(recorded) => Life::begin(
                        &recorded.decision,
                        recorded.lead_at.unwrap_or(recorded.decided_at),
                    ),
                    None => continue,
                },
            };
            if life.closed.is_some() || life.touched.is_some() {
                continue;
            }
            if let Some(target) = self.unknown_target_due(&life, now) {
                unknown.push((lead, target.to_string()));
            }
        }
        Ok(unknown)
    }

    /// Carries out the earliest escalation step due at `now` of all leads (ties by lead id):
    /// `None` when nothing is due. Steps fire one at a time in time order across leads, so each
    /// sees the rotations and caps as the earlier steps left them; a lead's steps fire in
    /// order, each at its own time. Steps already fired, and leads touched or closed, fire
    /// nothing (and leave the index).
    pub fn sweep_next(
        &self,
        state: &mut dyn StateStore,
        now: Timestamp,
    ) -> Result<Option<Option<Fired>>, StateError> {
        let Some((lead, scheduled)) = state.due(now, 1)?.into_iter().next() else {
            return Ok(None);
        };
        let Some(recorded) = state.recorded_for_update(&lead)? else {
            // Scheduled but not in the ledger (a hand-edited state): nothing to carry out.
            state.schedule(&lead, Some(scheduled), None)?;
            return Ok(Some(None));
        };
        let mut life = match state.life(&lead)? {
            Some(life) => life,
            None => Life::begin(
                &recorded.decision,
                recorded.lead_at.unwrap_or(recorded.decided_at),
            ),
        };
        // The index entry found is the one to move, whatever the life remembered.
        let stale = life.scheduled != Some(scheduled);
        if stale {
            state.schedule(&lead, life.scheduled, None)?;
            life.scheduled = Some(scheduled);
        }
        let mut fired = None;
        let next = life.next_step_at();
        if let Some(at) = next.filter(|at| *at <= now)
            && let Some(index) = life.steps.iter().position(|step| step.fired.is_none())
        {
            fired = Some(self.fire(state, &mut life, index, at)?);
        }
        // Reschedules the lead at its next step (or takes it out of the index).
        state.set_life(&life)?;
        if fired.is_none() && next.is_some() && !stale {
            // The earliest entry was not due after all (an index key that rounds a time, as
            // for times past the year 2262): nothing later is either. (A stale entry moved to
            // the lead's true time instead, so the sweep goes on.)
            return Ok(None);
        }
        Ok(Some(fired))
    }

    /// Fires step `index` of the lead's chain at `at`.
    fn fire(
        &self,
        state: &mut dyn StateStore,
        life: &mut Life,
        index: usize,
        at: Timestamp,
    ) -> Result<Fired, StateError> {
        let target = life.steps[index].to.clone();
        let mut decision = self.current(life)?;
        let holder = life.holder().and_then(|h| h.rep.clone());
        let holder_calendar = self.life_calendar(life);
        let late = match (&holder, life.holder().and_then(|h| h.due)) {
            (Some(rep), Some(due)) => format!(
                "{rep} did not touch it by {}",
                LocalTime::on(due, holder_calendar)
            ),
            (Some(rep), None) => format!("{rep} did not touch it"),
            (None, _) => "nobody touched it".to_string(),
        };
        let remaining_after = life.steps[index + 1..]
            .iter()
            .find(|step| step.fired.is_none())
            .and_then(|step| step.at);
        let attempt = self.escalation_attempt(state, life, &target, at)?;
        let at_shown = LocalTime::on(
            at,
            self.target_calendar(&target)
                .or(holder_calendar)
                .or_else(|| self.rule_calendar(life)),
        );
        decision.reasons = vec![Reason {
            action: None,
            reason: format!("escalated to `{target}` at {at_shown}: {late}").into(),
        }];
        let shown_calendar;
        match attempt {
            Attempt::Assigned {
                action, calendar, ..
            } => {
                let rep_calendar = calendar.and_then(|c| self.policy.calendars.get(c));
                shown_calendar = rep_calendar
                    .or_else(|| self.target_calendar(&target))
                    .or_else(|| self.rule_calendar(life));
                decision.action = action;
                decision.due = self.step_due(life, at, shown_calendar);
                life.steps[index].fired = Some((at, decision.action.summary()));
                let why = format!("escalated to `{target}` (step {})", index + 1);
                life.hand_over(&decision, How::Escalated { step: index + 1 }, at, &why);
            }
            Attempt::Failed { reason, .. } => {
                shown_calendar = self
                    .target_calendar(&target)
                    .or(holder_calendar)
                    .or_else(|| self.rule_calendar(life));
                decision.reasons.push(Reason {
                    action: Some(format!("escalate {target}").into()),
                    reason: reason.clone(),
                });
                life.steps[index].fired = Some((at, format!("found nobody: {reason}")));
                if remaining_after.is_none() {
                    // The last step found nobody: the lead is nobody's, and says why.
                    decision.action = Action::Unassigned;
                    decision.due = None;
                    if let Some(holding) = life.holdings.last_mut()
                        && holding.ended.is_none()
                    {
                        holding.ended =
                            Some((at, format!("escalation to `{target}` found nobody")));
                    }
                    life.holdings.push(super::life::Holding {
                        rep: None,
                        pool: None,
                        queue: None,
                        how: How::Escalated { step: index + 1 },
                        from: at,
                        due: None,
                        touch: None,
                        ended: None,
                    });
                } else {
                    decision.reasons.push(Reason {
                        action: None,
                        reason: "the holder keeps the lead until the next step".into(),
                    });
                }
            }
        }
        decision.escalation = life
            .steps
            .iter()
            .filter(|step| step.fired.is_none())
            .map(|step| Escalation {
                at: step.at.map(|at| LocalTime::on(at, shown_calendar)),
                to: step.to.as_str().into(),
            })
            .collect();
        life.current = wire::decision_json(&decision);
        Ok(Fired {
            decision,
            step: index + 1,
            at: LocalTime::on(at, shown_calendar),
        })
    }

    /// The lead's current decision.
    fn current(&self, life: &Life) -> Result<Decision, StateError> {
        wire::read_decision(&life.current).map_err(|error| {
            StateError::new(
                StateErrorKind::Corrupt,
                format!(
                    "the current decision of `{}` cannot be read: {error}",
                    life.lead
                ),
            )
        })
    }

    /// Tries an escalation target (a pool, a queue or a rep) at `at`, never handing the lead to
    /// a rep who had it.
    fn escalation_attempt(
        &self,
        state: &mut dyn StateStore,
        life: &Life,
        target: &str,
        at: Timestamp,
    ) -> Result<Attempt, StateError> {
        let ident = Ident {
            name: target.to_string(),
            span: Span::at(0),
        };
        let kind = if self.pool(target).is_some() {
            ActionKind::Pool(ident)
        } else if self.policy.queues.iter().any(|queue| queue == target) {
            ActionKind::Queue(ident)
        } else if self.policy.knows_rep(target) {
            ActionKind::Rep(ident)
        } else {
            // The chain was recorded under another policy: a name this one does not know is
            // never taken for a rep (the lead would go to somebody who is not on the team).
            return Ok(Attempt::Failed {
                reason: format!(
                    "`{target}` is no pool, queue or rep of this policy (the policy that routed \
                     the lead named it)"
                )
                .into(),
                trace: None,
                fallback: None,
            });
        };
        self.attempt_excluding(state, life, &kind, at)
    }

    /// Re-routes a rejected lead at `at`: the rule's actions again (the pool picks another
    /// member), never to a rep who had it. Actions that read the lead's fields (`rep FIELD`,
    /// `owner of`, `previous rep of`) cannot run: the state keeps decisions, not leads.
    fn reroute(
        &self,
        state: &mut dyn StateStore,
        life: &Life,
        at: Timestamp,
        by: &str,
    ) -> Result<Decision, StateError> {
        let mut decision = self.current(life)?;
        decision.reasons = vec![Reason {
            action: None,
            reason: format!(
                "rejected by {by} at {}",
                LocalTime::on(at, self.life_calendar(life))
            )
            .into(),
        }];
        decision.action = Action::Unassigned;
        decision.due = None;
        decision.escalation = Vec::new();
        let rule = life
            .rule
            .as_deref()
            .and_then(|label| self.policy.rules.iter().find(|rule| rule.label == label));
        let Some(rule) = rule else {
            decision.reasons.push(Reason {
                action: None,
                reason: format!(
                    "rule `{}` is not in this policy, so the lead cannot be re-routed",
                    life.rule.as_deref().unwrap_or("?")
                )
                .into(),
            });
            return Ok(decision);
        };
        // The holder's pool first (another member of it), then the rule's actions in order.
        let mut actions: Vec<ActionKind> = Vec::new();
        if let Some(pool) = life.holder().and_then(|holding| holding.pool.clone()) {
            actions.push(ActionKind::Pool(Ident {
                name: pool,
                span: Span::at(0),
            }));
        }
        for action in &rule.syntax.actions {
            let same = |known: &ActionKind| match (known, &action.kind) {
                (ActionKind::Pool(a), ActionKind::Pool(b)) => a.name == b.name,
                (a, b) => a == b,
            };
            if !actions.iter().any(same) {
                actions.push(action.kind.clone());
            }
        }
        for kind in &actions {
            let needs_fields = match kind {
                ActionKind::Rep(ident) => self.policy.field_id(&ident.name).is_some(),
                ActionKind::OwnerOf(_) | ActionKind::PreviousRep { .. } => true,
                ActionKind::Pool(_) | ActionKind::Queue(_) => false,
            };
            if needs_fields {
                decision.reasons.push(Reason {
                    action: Some(kind.describe().into()),
                    reason: "reads the lead's fields, which the state does not keep".into(),
                });
                continue;
            }
            match self.attempt_excluding(state, life, kind, at)? {
                Attempt::Assigned {
                    action, calendar, ..
                } => {
                    let pool_calendar = match kind {
                        ActionKind::Pool(pool) => self
                            .pool(&pool.name)
                            .and_then(|pool| pool.calendar)
                            .and_then(|c| self.policy.calendars.get(c)),
                        _ => None,
                    };
                    let calendar = calendar
                        .and_then(|c| self.policy.calendars.get(c))
                        .or(pool_calendar)
                        .or_else(|| self.rule_calendar(life));
                    decision.action = action;
                    self.times(&mut decision, (rule, None), at, calendar, None);
                    return Ok(decision);
                }
                Attempt::Failed { reason, .. } => decision.reasons.push(Reason {
                    action: Some(kind.describe().into()),
                    reason,
                }),
            }
        }
        // Nobody took it: `unassigned`, still with the rule's SLA and escalation chain, as a
        // routed lead that found nobody (the chain's steps may find someone later).
        self.times(
            &mut decision,
            (rule, None),
            at,
            self.rule_calendar(life),
            None,
        );
        Ok(decision)
    }

    /// One action for a lead already routed, with the reps who had it excluded; an assigned
    /// rep's load and period counts go up as in routing (the lead's time is `at`).
    fn attempt_excluding(
        &self,
        state: &mut dyn StateStore,
        life: &Life,
        kind: &ActionKind,
        at: Timestamp,
    ) -> Result<Attempt, StateError> {
        // The state keeps decisions, not leads: the lead has its id and no field values.
        let parsed = ParsedLead::new(
            life.lead.clone(),
            Lead {
                values: vec![None; self.policy.fields.len()],
            },
        );
        *self.excluded.borrow_mut() = life.reps();
        // Named reps without a calendar are placed by the rule's, as in routing.
        let rule_calendar = self.rule_calendar_id(life);
        let attempt = self.attempt(state, kind, &parsed, at, rule_calendar, false);
        self.excluded.borrow_mut().clear();
        let attempt = attempt?;
        if let Attempt::Assigned { action, .. } = &attempt
            && let Some(rep) = action.rep()
        {
            self.assign(state, rep, &parsed, at)?;
        }
        Ok(attempt)
    }

    /// The due time of a step's new holder: the rule's `within` from `at` on their calendar
    /// (the same SLA length as the rule's), or none when the rule has no SLA.
    fn step_due(&self, life: &Life, at: Timestamp, calendar: Option<&CalendarDef>) -> Option<Due> {
        let rule = life
            .rule
            .as_deref()
            .and_then(|label| self.policy.rules.iter().find(|rule| rule.label == label))?;
        let within = rule.syntax.within?;
        Some(
            clock::add(at, within.kind, calendar)
                .map_or(Due::Never, |due| Due::At(LocalTime::on(due, calendar))),
        )
    }

    /// The rule's SLA calendar: the first pool in its actions that has one.
    fn rule_calendar(&self, life: &Life) -> Option<&CalendarDef> {
        self.rule_calendar_id(life)
            .and_then(|c| self.policy.calendars.get(c))
    }

    fn rule_calendar_id(&self, life: &Life) -> Option<usize> {
        self.rule_calendar_of(life.rule.as_deref())
    }

    /// The calendar of the first pool among a rule's actions that has one.
    fn rule_calendar_of(&self, label: Option<&str>) -> Option<usize> {
        let rule = label.and_then(|label| {
            self.policy
                .rules
                .iter()
                .position(|rule| rule.label == label)
        })?;
        self.rule_calendars.get(rule).copied().flatten()
    }

    /// The calendar of an escalation target pool.
    fn target_calendar(&self, target: &str) -> Option<&CalendarDef> {
        self.pool(target)
            .and_then(|pool| pool.calendar)
            .and_then(|c| self.policy.calendars.get(c))
    }

    /// The calendar the current holder works on: their own, else their pool's.
    fn holding_calendar(&self, life: &Life) -> Option<&CalendarDef> {
        let holding = life.holder()?;
        let pool = holding.pool.as_deref().and_then(|name| self.pool(name));
        let rep = holding.rep.as_deref()?;
        self.policy
            .member_calendar(pool, rep)
            .and_then(|c| self.policy.calendars.get(c))
    }

    /// The calendar a new decision's times are counted on, as [`Router::life_calendar`] would
    /// count them once the decision is a lead's life: its rep's, else its rule's.
    pub fn decision_calendar(&self, decision: &Decision) -> Option<&CalendarDef> {
        let pool = decision.action.pool().and_then(|name| self.pool(name));
        decision
            .action
            .rep()
            .and_then(|rep| self.policy.member_calendar(pool, rep))
            .or_else(|| self.rule_calendar_of(decision.rule.as_ref().map(|rule| &*rule.label)))
            .and_then(|c| self.policy.calendars.get(c))
    }

    /// The calendar a lead's times are counted and shown on: the holder's, else the rule's (as
    /// routing counts the SLA of a named rep without a calendar on the rule's).
    pub fn life_calendar(&self, life: &Life) -> Option<&CalendarDef> {
        self.holding_calendar(life)
            .or_else(|| self.rule_calendar(life))
    }
}

/// `at` in `calendar`'s zone; without a calendar, in the offset the event was `written` with
/// (UTC when none is known).
fn shown_in(
    at: Timestamp,
    calendar: Option<&CalendarDef>,
    written: Option<jiff::tz::Offset>,
) -> LocalTime {
    match calendar {
        Some(calendar) => LocalTime::on(at, Some(calendar)),
        None => LocalTime {
            instant: at,
            offset: written,
        },
    }
}
