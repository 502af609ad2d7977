//! `simulate`: a stream of leads replayed in time order against the team, through the same
//! router as `route`, `track` and `sweep`. Each lead is routed at its own time; each holder
//! touches it when the response model (or a file of real events) says; escalation steps fire
//! when they fall due, as `sweep` would fire them. Figures are gathered on the way
//! ([`Tally`]) and, at the end, from the state as `report` reads it ([`figures`]).
//!
//! Invariants: no rule is implemented here: routing, escalation and the SLA clock are the
//! router's (`route_lead`, `sweep_next`, `track`). Everything happens in time order, and at
//! one instant in the order the command line would do it: steps due at or before an instant
//! fire first (`sweep --now T`), then events strictly before a lead's time, then the lead.
//! No I/O and no clock: leads, events and the seed are given.

pub mod figures;
pub mod responses;

use crate::model::{CalendarDef, Policy};
use crate::route::life::{Event, EventKind, How};
use crate::route::reader::ParsedLead;
use crate::route::state::{Counting, StateError, StateStore};
use crate::route::{Decision, Fired, Outcome, Router, Tracked};
use crate::syntax::ast::DurationKind;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use responses::{Counted, Response, ResponseModel};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

/// A lead to replay: where it was in the input and its own time.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub input_line: usize,
    pub at: Timestamp,
    pub lead: ParsedLead,
}

/// Where the holders' responses come from.
pub enum Touches<'m> {
    /// Drawn from a model, one response per holding.
    Model { model: &'m ResponseModel, seed: u64 },
    /// Events as `track` reads them, each with its line in the file, recorded at their times
    /// (in time order; ties in file order).
    Recorded(Vec<(usize, Event)>),
}

/// One thing the simulation did, as the command line prints it.
pub enum Logged<'a> {
    /// A lead routed (`route`); `input_line` is the lead's line in the input.
    Routed {
        outcome: &'a Outcome,
        input_line: usize,
    },
    /// An escalation step (`sweep`).
    Swept(&'a Fired),
    /// An event recorded (`track`); `input_line` is its line in a `--touches` file (0 for a
    /// touch the model drew).
    Tracked {
        input_line: usize,
        event: &'a Event,
        tracked: &'a Tracked,
        fired: &'a [Fired],
    },
}

/// An event waiting for its time.
#[derive(Debug)]
struct Pending {
    at: Timestamp,
    /// Ties in the order they were scheduled.
    order: u64,
    /// The event's line in a `--touches` file (0: drawn by the model).
    input_line: usize,
    event: Event,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

/// Figures only the run itself sees (the state holds the rest).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// The zone hours of the week and days are counted in.
    pub zone_name: String,
    pub first_lead: Option<Timestamp>,
    pub last_lead: Option<Timestamp>,
    /// The last thing that happened: a lead, a touch or a step.
    pub end: Option<Timestamp>,
    /// When every SLA of the run is settled (met or missed): the end, or the last due time
    /// if later. The report's "as of".
    pub settled: Option<Timestamp>,
    pub routed: u64,
    /// Leads whose id came again (answered from the ledger, not routed twice).
    pub duplicates: u64,
    pub invalid: u64,
    /// Leads of this policy's schema left out of the run because the other policy of a
    /// comparison refuses their lines: both run on the same leads.
    pub left_out: u64,
    /// Per pool (or `queue Q`, `named reps`, `unassigned`): leads routed there per hour of the week
    /// (0 = Monday 00:00-01:00).
    pub by_hour: BTreeMap<String, Vec<u64>>,
    /// Per rep: leads they got per hour of the week (routed or escalated).
    pub rep_by_hour: BTreeMap<String, Vec<u64>>,
    /// Per rep: leads held and not yet touched, the most at once in each hour since the first
    /// lead (two weeks at most; later hours fold into the last).
    pub open_by_hour: BTreeMap<String, Vec<u64>>,
    /// Escalation steps fired per day, and where they went (`rep egor`, `queue review`,
    /// `nobody`), per step target.
    pub escalations_by_day: BTreeMap<Date, u64>,
    pub escalated_to: BTreeMap<String, BTreeMap<String, u64>>,
    /// Per pool: how long leads routed while none of its reps was working waited for a shift
    /// to open (seconds).
    pub waited: BTreeMap<String, Vec<i64>>,
    /// Per rep: how often they were passed over at routing because of a cap.
    pub cap_hits: BTreeMap<String, u64>,
    /// SLA allowances of routed leads (working seconds from the lead to its due time).
    pub allowances: BTreeMap<i64, u64>,
    /// Touches drawn for a holder who no longer held the lead by then (an escalation came first).
    pub moved_on: u64,
    /// Touches drawn in working time for a holder whose calendar has no working time ahead.
    pub unscheduled: u64,
    /// Events of a recorded file that `track` refused, by code.
    pub refused: BTreeMap<String, u64>,
    /// The report's figures of the leads settled while the run went on (nothing could change
    /// them any more, so their lives left the state): the rest are counted from the state at
    /// the end. Settled leads' figures do not depend on the report's "as of".
    pub settled_leads: crate::report::Report,
}

const WEEK_HOURS: usize = 168;

/// Replays `arrivals` (in time order) and the responses; calls `log` for every line the
/// command line would print. The state should be fresh (or a copy): the run writes to it.
pub fn run(
    router: &mut Router<'_>,
    policy: &Policy,
    state: &mut dyn StateStore,
    arrivals: impl IntoIterator<Item = Arrival>,
    touches: Touches<'_>,
    log: &mut dyn FnMut(Logged<'_>),
) -> Result<Tally, StateError> {
    let zone = policy
        .calendars
        .first()
        .map_or(TimeZone::UTC, |calendar| calendar.zone.clone());
    let mut run = Run {
        zone,
        heap: BinaryHeap::new(),
        pending: HashMap::new(),
        settled: crate::report::Builder::new(
            None,
            crate::report::Window {
                since: None,
                until: None,
                as_of: Timestamp::MAX,
            },
        ),
        order: 0,
        tally: Tally::default(),
        open: OpenLoad::default(),
        model: None,
        last_due: None,
    };
    run.tally.zone_name = run.zone.iana_name().unwrap_or("UTC").to_string();
    match touches {
        Touches::Model { model, seed } => run.model = Some((model, seed)),
        Touches::Recorded(mut events) => {
            events.sort_by_key(|(_, event)| event.at);
            for (input_line, event) in events {
                run.push(input_line, event);
            }
        }
    }
    for arrival in arrivals {
        run.advance(router, state, arrival.at, false, log)?;
        run.note_time(arrival.at);
        router.set_now(arrival.at);
        state.begin()?;
        let (outcome, trace) = router.route_lead_traced(state, &arrival.lead, true)?;
        state.commit()?;
        log(Logged::Routed {
            outcome: &outcome,
            input_line: arrival.input_line,
        });
        run.tally.first_lead.get_or_insert(arrival.at);
        run.tally.last_lead = Some(arrival.at);
        match &outcome {
            Outcome::Invalid(_) => run.tally.invalid += 1,
            Outcome::Decided {
                duplicate: true, ..
            } => run.tally.duplicates += 1,
            Outcome::Decided { decision, .. } => {
                run.tally.routed += 1;
                run.routed(router, decision, trace.as_ref(), arrival.at);
                // A lead with no response drawn and no step ahead (a queue, no SLA) is
                // settled as it is routed.
                run.settle(state, &decision.lead)?;
            }
        }
    }
    run.advance(router, state, Timestamp::MAX, true, log)?;
    run.tally.settled_leads = run.settled.partial();
    run.open.finish(&mut run.tally);
    if let Some(last_due) = run.last_due {
        run.tally.settled = Some(run.tally.end.map_or(last_due, |end| end.max(last_due)));
    }
    Ok(run.tally)
}

/// The state of one run.
struct Run<'m> {
    zone: TimeZone,
    heap: BinaryHeap<Reverse<Pending>>,
    /// Per lead, its events still in the heap (a lead with none and no step ahead is settled).
    pending: HashMap<String, u32>,
    /// The figures of the leads settled so far.
    settled: crate::report::Builder<'static>,
    order: u64,
    tally: Tally,
    open: OpenLoad,
    model: Option<(&'m ResponseModel, u64)>,
    last_due: Option<Timestamp>,
}

impl Run<'_> {
    fn push(&mut self, input_line: usize, event: Event) {
        *self.pending.entry(event.lead.clone()).or_default() += 1;
        self.order += 1;
        self.heap.push(Reverse(Pending {
            at: event.at,
            order: self.order,
            input_line,
            event,
        }));
    }

    /// Counts a lead into the figures and drops its life from the state, when nothing can
    /// happen to it any more in this run: no event of it ahead, no step (the state checks that).
    fn settle(&mut self, state: &mut dyn StateStore, lead: &str) -> Result<(), StateError> {
        // Not before the first lead: until then the run cannot tell the run's leads from a
        // copied state's, so those stay to be counted (or not) at the end.
        if self.pending.contains_key(lead) || self.tally.first_lead.is_none() {
            return Ok(());
        }
        if let Some((recorded, life)) = state.settle(lead)? {
            // Nothing ends its wait any more: its holder keeps it open to the end, and the
            // run needs no note of who that is.
            self.open.release(lead);
            // Leads of a copied state from before the run are not the run's to count.
            if self
                .tally
                .first_lead
                .is_some_and(|first| life.lead_at >= first)
            {
                self.settled.add(recorded, Some(life));
            }
        }
        Ok(())
    }

    fn note_time(&mut self, at: Timestamp) {
        if self.tally.end.is_none_or(|end| end < at) {
            self.tally.end = Some(at);
        }
    }

    /// Fires the steps and records the events due before `until` (events: strictly before,
    /// unless `inclusive`; steps: at or before), in time order.
    fn advance(
        &mut self,
        router: &mut Router<'_>,
        state: &mut dyn StateStore,
        until: Timestamp,
        inclusive: bool,
        log: &mut dyn FnMut(Logged<'_>),
    ) -> Result<(), StateError> {
        loop {
            let next_event = self
                .heap
                .peek()
                .map(|pending| pending.0.at)
                .filter(|at| *at < until || (inclusive && *at <= until));
            let horizon = next_event.unwrap_or(until);
            // As `sweep --now HORIZON`: re-assignments count from that routing time.
            router.set_now(horizon.min(last_routing_time()));
            state.begin()?;
            let swept = router.sweep_next(state, horizon)?;
            state.commit()?;
            match swept {
                Some(None) => continue,
                Some(Some(fired)) => {
                    log(Logged::Swept(&fired));
                    self.fired(router, state, &fired)?;
                    self.settle(state, &fired.decision.lead)?;
                }
                None => {
                    let Some(Reverse(pending)) = next_event.and_then(|_| self.heap.pop()) else {
                        return Ok(());
                    };
                    // As `track --now AT`: a re-route after a rejection is routed then.
                    router.set_now(pending.at);
                    let lead = pending.event.lead.clone();
                    if let Some(count) = self.pending.get_mut(&lead) {
                        *count -= 1;
                        if *count == 0 {
                            self.pending.remove(&lead);
                        }
                    }
                    self.event(router, state, pending.input_line, pending.event, log)?;
                    self.settle(state, &lead)?;
                }
            }
        }
    }

    /// Records one event (a drawn touch, or a line of a recorded file).
    fn event(
        &mut self,
        router: &Router<'_>,
        state: &mut dyn StateStore,
        input_line: usize,
        event: Event,
        log: &mut dyn FnMut(Logged<'_>),
    ) -> Result<(), StateError> {
        state.begin()?;
        let (tracked, fired) = router.track(state, event.clone())?;
        state.commit()?;
        match &tracked {
            Tracked::Invalid(error) => {
                if self.model.is_some() && error.code == "event.not_holder" {
                    // The lead moved on before this holder answered: nothing to replay.
                    self.tally.moved_on += 1;
                    return Ok(());
                }
                *self
                    .tally
                    .refused
                    .entry(error.code.to_string())
                    .or_default() += 1;
            }
            Tracked::Recorded {
                decision, touch, ..
            } => {
                self.note_time(event.at);
                let ends_wait =
                    touch.is_some() || decision.is_some() || event.kind == EventKind::Closed;
                if ends_wait && let Some(rep) = self.open.forget(&event.lead) {
                    self.open.change(&rep, -1, event.at, &self.hours_from());
                }
                if let Some(decision) = decision
                    && let Some(life) = state.life(&event.lead)?
                {
                    // A rejection: the lead was routed again.
                    let calendar = router.life_calendar(&life);
                    self.holder(calendar, decision, life.holdings.len(), event.at);
                }
            }
        }
        log(Logged::Tracked {
            input_line,
            event: &event,
            tracked: &tracked,
            fired: &fired,
        });
        Ok(())
    }

    /// When the open load's hours start: the first lead's time.
    fn hours_from(&self) -> Option<Timestamp> {
        self.tally.first_lead
    }

    /// Figures of a lead just routed, and its holder's response.
    fn routed(
        &mut self,
        router: &Router<'_>,
        decision: &Decision,
        trace: Option<&crate::route::RecordedTrace>,
        at: Timestamp,
    ) {
        let target = match &decision.action {
            crate::route::Action::Pool { pool, .. } => pool.to_string(),
            crate::route::Action::Queue { queue } => format!("queue {queue}"),
            crate::route::Action::Rep { .. } | crate::route::Action::Owner { .. } => {
                "named reps".to_string()
            }
            crate::route::Action::Unassigned => "unassigned".to_string(),
        };
        let hour = hour_of_week(at, &self.zone);
        self.tally
            .by_hour
            .entry(target.clone())
            .or_insert_with(|| vec![0; WEEK_HOURS])[hour] += 1;
        let actions = trace.iter().flat_map(|trace| &trace.actions);
        for action in actions {
            if let crate::route::ActionTrace::Candidates { candidates, .. } = action {
                for candidate in candidates.iter().filter(|c| c.why.starts_with("at cap")) {
                    *self
                        .tally
                        .cap_hits
                        .entry(candidate.rep.to_string())
                        .or_default() += 1;
                }
            }
        }
        let calendar = router.decision_calendar(decision);
        if let Some(due) = decision.due.and_then(|due| due.time()) {
            let due = due.instant;
            let allowance = calendar.map_or((due - at).as_secs(), |calendar| {
                crate::route::working_seconds(calendar, at, due)
            });
            *self.tally.allowances.entry(allowance).or_default() += 1;
        }
        // A rep who starts later than the lead (nobody on shift: the first to start, after an
        // absence if they are away), or a holder whose hours are closed now.
        let starts = trace.and_then(|trace| trace.starts).or_else(|| {
            calendar
                .filter(|calendar| !calendar.contains(at))
                .and_then(|calendar| crate::route::next_opening(calendar, at))
        });
        if decision.action.rep().is_some()
            && let Some(starts) = starts
            && starts > at
        {
            self.tally
                .waited
                .entry(target)
                .or_default()
                .push((starts - at).as_secs());
        }
        self.holder(calendar, decision, 1, at);
    }

    /// Figures of a step just fired, and the new holder's response.
    fn fired(
        &mut self,
        router: &Router<'_>,
        state: &mut dyn StateStore,
        fired: &Fired,
    ) -> Result<(), StateError> {
        let at = fired.at.instant;
        self.note_time(at);
        let lead = &fired.decision.lead;
        let life = state.life(lead)?;
        // The lead changed hands only if this step added a holding (a step that found nobody
        // while later steps remain leaves it with its holder).
        let handed = life
            .as_ref()
            .and_then(|life| life.holdings.last())
            .is_some_and(|holding| {
                holding.how == How::Escalated { step: fired.step } && holding.from == at
            });
        // Leads of a copied state from before the run are not the run's to count.
        let ours = life.as_ref().is_some_and(|life| {
            self.tally
                .first_lead
                .is_some_and(|first| life.lead_at >= first)
        });
        if ours {
            let day = self.zone.to_datetime(at).date();
            *self.tally.escalations_by_day.entry(day).or_default() += 1;
        }
        let target = life
            .as_ref()
            .and_then(|life| life.steps.get(fired.step.saturating_sub(1)))
            .map_or_else(|| "?".to_string(), |step| step.to.clone());
        let went = match &fired.decision.action {
            _ if !handed => "nobody (the holder keeps it)".to_string(),
            crate::route::Action::Queue { queue } => format!("queue {queue}"),
            crate::route::Action::Unassigned => "nobody".to_string(),
            other => other
                .rep()
                .map_or_else(|| "nobody".to_string(), |rep| format!("rep {rep}")),
        };
        if ours {
            *self
                .tally
                .escalated_to
                .entry(target)
                .or_default()
                .entry(went)
                .or_default() += 1;
        }
        if !handed {
            return Ok(());
        }
        // The previous holder no longer waits on it.
        if let Some(rep) = self.open.forget(lead) {
            self.open.change(&rep, -1, at, &self.hours_from());
        }
        if let Some(life) = life {
            let calendar = router.life_calendar(&life);
            self.holder(calendar, &fired.decision, life.holdings.len(), at);
        }
        Ok(())
    }

    /// A new holder got the lead at `at`: their load, and when they answer.
    fn holder(
        &mut self,
        calendar: Option<&CalendarDef>,
        decision: &Decision,
        holding: usize,
        at: Timestamp,
    ) {
        if let Some(due) = decision.due.and_then(|due| due.time()) {
            let due = due.instant;
            self.last_due = Some(self.last_due.map_or(due, |last| last.max(due)));
        }
        let Some(rep) = decision.action.rep() else {
            return;
        };
        let hour = hour_of_week(at, &self.zone);
        self.tally
            .rep_by_hour
            .entry(rep.to_string())
            .or_insert_with(|| vec![0; WEEK_HOURS])[hour] += 1;
        self.open.hold(&decision.lead, rep);
        self.open.change(rep, 1, at, &self.hours_from());
        let Some((model, seed)) = self.model else {
            return;
        };
        let response = model.draw(seed, &decision.lead, holding, rep, decision.action.pool());
        let Response::After { seconds, counted } = response else {
            return;
        };
        let calendar = match counted {
            Counted::Working => calendar,
            Counted::Wall => None,
        };
        let Ok(seconds) = u64::try_from(seconds) else {
            return;
        };
        let Some(touch_at) =
            crate::route::add_duration(at, DurationKind::Fixed { seconds }, calendar)
        else {
            // No working time ahead on the holder's calendar: the touch never comes.
            self.tally.unscheduled += 1;
            return;
        };
        self.push(
            0,
            Event {
                lead: decision.lead.to_string(),
                kind: EventKind::Touched,
                at: touch_at,
                by: Some(rep.to_string()),
            },
        );
    }
}

/// How a simulation's state keeps the times it counts loads and period caps by: in buckets of
/// a quarter hour (memory flat in the number of leads) when every calendar zone of the policy
/// is a whole number of quarter hours from UTC at every time from a week before the first lead
/// on (for fifty years), so that every hour, day and week of a cap window starts on a bucket's
/// start; else every time as it is. `since` is the roster's `as_of`, which loads count from.
pub fn counting(policy: &Policy, since: Option<Timestamp>, first: Timestamp) -> Counting {
    const QUARTER: i32 = 15 * 60;
    let start = first
        .checked_sub(jiff::SignedDuration::from_hours(8 * 24))
        .unwrap_or(first);
    let until = start
        .checked_add(jiff::SignedDuration::from_hours(50 * 366 * 24))
        .unwrap_or(Timestamp::MAX);
    let aligned = policy.calendars.iter().all(|calendar| {
        let zone = &calendar.zone;
        zone.to_offset(start).seconds() % QUARTER == 0
            && zone
                .following(start)
                .take_while(|transition| transition.timestamp() < until)
                .all(|transition| transition.offset().seconds() % QUARTER == 0)
    });
    if aligned {
        Counting::Buckets {
            seconds: i64::from(QUARTER),
            since,
        }
    } else {
        Counting::Exact
    }
}

/// The latest routing time a sweep is given (`sweep --now 9999-01-01T00:00:00Z`): after every
/// step, and far from the end of time.
fn last_routing_time() -> Timestamp {
    Timestamp::from_second(253_370_764_800).unwrap_or(Timestamp::MAX)
}

/// 0 for Monday 00:00-01:00 … 167 for Sunday 23:00-24:00, in `zone`.
pub fn hour_of_week(at: Timestamp, zone: &TimeZone) -> usize {
    let local = zone.to_datetime(at);
    let day = local.weekday().to_monday_zero_offset() as usize;
    (day * 24 + local.hour() as usize).min(WEEK_HOURS - 1)
}

/// Per rep, the leads held and not yet touched, followed hour by hour.
#[derive(Default)]
struct OpenLoad {
    holder: HashMap<String, String>,
    now: HashMap<String, u64>,
    /// Per rep, per hour since the first lead: the most held at once and the count at the
    /// hour's end (`None`: no change in that hour).
    peaks: BTreeMap<String, Vec<Option<(u64, u64)>>>,
}

impl OpenLoad {
    fn hold(&mut self, lead: &str, rep: &str) {
        self.holder.insert(lead.to_string(), rep.to_string());
    }

    fn forget(&mut self, lead: &str) -> Option<String> {
        self.holder.remove(lead)
    }

    /// Drops the note of who holds `lead`, leaving it counted as open.
    fn release(&mut self, lead: &str) {
        self.holder.remove(lead);
    }

    fn change(&mut self, rep: &str, by: i64, at: Timestamp, start: &Option<Timestamp>) {
        let count = self.now.entry(rep.to_string()).or_default();
        *count = if by < 0 {
            count.saturating_sub(by.unsigned_abs())
        } else {
            count.saturating_add(by.unsigned_abs())
        };
        let value = *count;
        let Some(start) = start else {
            return;
        };
        let hour = usize::try_from((at - *start).as_secs().max(0) / 3600).unwrap_or(usize::MAX);
        // Two weeks at most are followed: later hours fold into the last.
        let hour = hour.min(WEEK_HOURS * 2);
        let series = self.peaks.entry(rep.to_string()).or_default();
        if series.len() <= hour {
            series.resize(hour + 1, None);
        }
        let slot = &mut series[hour];
        *slot = Some(slot.map_or((value, value), |(peak, _)| (peak.max(value), value)));
    }

    /// Fills the hours without a change with the count they carried.
    fn finish(&mut self, tally: &mut Tally) {
        let hours = self.peaks.values().map(Vec::len).max().unwrap_or(0);
        for (rep, series) in &self.peaks {
            let mut filled = Vec::with_capacity(hours);
            let mut carried = 0;
            for hour in 0..hours {
                if let Some((peak, last)) = series.get(hour).copied().flatten() {
                    filled.push(peak);
                    carried = last;
                } else {
                    filled.push(carried);
                }
            }
            tally.open_by_hour.insert(rep.clone(), filled);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy_in(zone: &str) -> Policy {
        let text = format!(
            "schema lead {{ id: string  created_at: time }}\n\
             calendar here {{ timezone {zone}  hours mon-fri 09:00-18:00 }}\n\
             pool p {{ members anna  strategy round_robin  cap 2 per day  calendar here }}\n\
             otherwise -> pool p\n"
        );
        let report = crate::pipeline::check_source(&text);
        report.compiled.expect("the policy compiles").0
    }

    #[test]
    fn cap_windows_are_counted_in_quarter_hours_only_where_every_window_starts_on_one() {
        let t = |text: &str| text.parse::<Timestamp>().unwrap();
        let since = Some(t("2026-11-23T08:07:13Z"));
        let buckets = Counting::Buckets {
            seconds: 900,
            since,
        };
        let now = t("2026-11-23T08:00:00Z");
        for zone in [
            "Europe/Berlin",
            "Asia/Kolkata",
            "Asia/Kathmandu",
            "America/St_Johns",
        ] {
            assert_eq!(counting(&policy_in(zone), since, now), buckets, "{zone}");
        }
        // Liberia kept 44 minutes 30 seconds behind UTC until 1972.
        assert_eq!(
            counting(
                &policy_in("Africa/Monrovia"),
                since,
                t("1971-06-01T00:00:00Z")
            ),
            Counting::Exact
        );
        assert_eq!(counting(&policy_in("Africa/Monrovia"), since, now), buckets);
    }
}
