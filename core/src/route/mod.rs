//! The interpreter: one decision per lead. The compiled policy picks the rule; the rule's actions
//! are tried in order (`else`); a pool's strategy picks an eligible rep; the SLA and escalation
//! times are computed in working time; the state remembers rotations, loads and every decision.
//!
//! Architecture invariants: the router does no I/O of its own (lines in, JSON text out; the
//! state store is given to it) and reads no clock: `now` is configuration. Given the same
//! policy, roster, state and input, the output is the same. Every input line yields exactly one
//! output line.

pub mod ahead;
pub mod clock;
pub mod decision;
pub mod life;
mod lifecycle;
pub mod mapping;
mod names;
pub mod reader;
pub mod roster;
pub mod state;
pub mod tabular;
pub mod wire;

use crate::graph::{Compiled, TraceStep};
use crate::model::{CalendarDef, EvalContext, LeadId, LeadValue, Policy, PoolDef, StrategyDef};
use crate::syntax::ast::ActionKind;
use ahead::TimesFound;
pub use clock::{add as add_duration, earlier_lead_times, next_opening, working_seconds};
pub use decision::{
    Action, ActionTrace, CandidateTrace, Decision, Due, Escalation, Name, Outcome, Reason,
    RecordedTrace, RuleRef, Trace,
};
use jiff::Timestamp;
pub use lifecycle::{Fired, Tracked};
use names::Names;
use reader::{LeadError, Limits, ParsedLead, parse_lead, same_bytes};
use roster::{Roster, Status};
use state::{EntryRef, Fingerprint, StateError, StateErrorKind, StateStore};

/// Settings of a routing run.
#[derive(Debug, Clone, Copy)]
pub struct RouteConfig {
    /// The time used when a lead has no clock value (`--now`).
    pub now: Timestamp,
    /// Add a `trace` to every decision.
    pub explain: bool,
    pub limits: Limits,
}

/// A line of a batch as [`Router::route_batch`] takes it: its bytes, or (`Err`) the length of
/// a line longer than the limit, whose bytes were skipped.
pub trait BatchLine {
    fn bytes(&self) -> Result<&[u8], usize>;
}

impl BatchLine for reader::Line {
    fn bytes(&self) -> Result<&[u8], usize> {
        match self {
            reader::Line::Text(bytes) => Ok(bytes),
            reader::Line::TooLong(length) => Err(*length),
        }
    }
}

impl BatchLine for Vec<u8> {
    fn bytes(&self) -> Result<&[u8], usize> {
        Ok(self)
    }
}

impl BatchLine for &[u8] {
    fn bytes(&self) -> Result<&[u8], usize> {
        Ok(self)
    }
}

/// Routes leads for one policy.
pub struct Router<'a> {
    policy: &'a Policy,
    compiled: &'a Compiled,
    roster: Option<&'a Roster>,
    config: RouteConfig,
    /// Where loads start counting the state's assignments ([`Roster::loads_since`] of the
    /// first routing time), fixed for the router's life.
    loads_since: Option<Timestamp>,
    policy_hash: Name,
    /// The names decisions hold, shared rather than copied.
    names: Names,
    /// The digest of the schema leads are read with (part of every fingerprint).
    schema_digest: u64,
    /// The digest that builds before fingerprints of the second kind recorded with theirs.
    legacy_schema_digest: u64,
    /// The fields some `previous rep of FIELD` reads: their values are remembered with every
    /// assignment (and no other field's).
    previous_fields: Vec<(String, crate::model::FieldId)>,
    /// The last period window computed per (period, calendar), reused while it holds the lead.
    last_windows: std::cell::RefCell<Vec<LastWindow>>,
    /// While an escalation step or a re-route picks a rep: the reps who already had the lead,
    /// none of whom may get it again (empty when routing a new lead).
    excluded: std::cell::RefCell<Vec<String>>,
    /// A pool's rotation state as text, read and written again for every pick.
    rotation_text: std::cell::RefCell<String>,
    /// The members of the pool being picked from, as candidates: the vector's memory serves
    /// pick after pick (it is empty between them).
    candidates: std::cell::Cell<Vec<Candidate<'a>>>,
    /// A weighted pool's standings as read from the state: the vector's memory serves pick
    /// after pick (the standings are read again each time).
    standings: std::cell::Cell<Vec<i64>>,
    /// Decisions of leads written out, for the next leads', and reasons as shared names.
    spare: std::cell::RefCell<Spare>,
    /// The reasons written lately, as JSON strings ([`wire::RecentQuoted`]).
    recent_quoted: std::cell::RefCell<wire::RecentQuoted>,
    /// The working intervals and offsets of the dates asked for, per calendar.
    days: clock::DayCache,
    /// The policy's pools by name (the first of a name, as a search in order finds it): an
    /// action names its pool, and a policy may have hundreds.
    pools_by_name: PoolsByName<'a>,
    /// Per rule, the calendar of the first pool in its actions that has one.
    rule_calendars: Vec<Option<usize>>,
    /// Whether `track` and `sweep` carry out what names a rule or an escalation target this
    /// policy does not have (as finding nobody), or refuse it ([`Router::refuse_unknown_names`]).
    refuse_unknown_names: bool,
}

/// A policy's pools by name.
type PoolsByName<'a> = std::collections::HashMap<&'a str, &'a PoolDef, foldhash::fast::RandomState>;

/// The pools of `policy` by name, the first one of each name.
fn pools_by_name(policy: &Policy) -> PoolsByName<'_> {
    let mut pools = PoolsByName::default();
    for pool in &policy.pools {
        pools.entry(pool.name.as_str()).or_insert(pool);
    }
    pools
}

/// A period window computed for a calendar's zone (`None`: UTC): period, calendar, from, to.
type LastWindow = (crate::model::Period, Option<usize>, Timestamp, Timestamp);

/// What the outcomes of a batch written out leave for the next batch's decisions: the
/// decisions themselves, whose memory is reused, up to a bound in count; and the reasons
/// made into shared names.
#[derive(Debug, Default)]
struct Spare {
    decisions: Vec<Decision>,
    /// The last trace a store kept, whose vectors the next recorded trace is made in.
    trace: Option<RecordedTrace>,
    /// That trace's candidate lists, which the next ones are made in.
    candidate_lists: Vec<Vec<CandidateTrace>>,
    /// Candidates a list had beyond its next pool's members, for the next list that needs
    /// more (pools of three and of two members in turn would free and make two).
    candidates: Vec<CandidateTrace>,
    /// The reasons decisions and traces give, as shared names.
    reasons: ReasonNames,
    /// The name a new candidate holds until it is written over.
    no_name: Name,
}

/// A cap reached: the count and the cap, and the period's word (its address and length;
/// none for the open-lead cap).
type AtCapKey = (u64, u64, usize, usize);

/// The reasons a trace gives its candidates (`chosen`, `not their turn`, `at cap 25/25`) and
/// the reasons of decisions (`nobody in pool … is eligible: …`), each text one shared name: a
/// store knows a name it has seen again by its address, and the router's writer copies its
/// JSON string, without hashing or scanning its text. Texts a lead chooses (a rep its field
/// names) are not kept here.
#[derive(Debug, Default)]
struct ReasonNames {
    /// The program's own words (`chosen`, `away`), by the address and length of their text.
    said: std::collections::HashMap<(usize, usize), Name, foldhash::fast::RandomState>,
    /// The caps reached (`at cap 25/25`, `at cap 3/10 today`), by their numbers and period:
    /// most leads of a busy day find every member at a cap.
    at_caps: std::collections::HashMap<AtCapKey, Name, foldhash::fast::RandomState>,
    /// The texts made into names, up to [`ReasonNames::MOST`] of them.
    texts: std::collections::HashSet<Name, foldhash::fast::RandomState>,
    /// Whole reasons of a decision (`nobody in pool `senior` is eligible: anna at cap 25/25,
    /// …`) by the words they are made of ([`ReasonNames::made_of`]): most leads of a busy day
    /// find a pool's members stopped for the same reasons, and take that one name.
    whole: std::collections::HashMap<Box<[u64]>, Name, foldhash::fast::RandomState>,
    /// Where a whole reason's words are put before they are looked up.
    parts: Vec<u64>,
    /// Where a reason is written before it is looked up.
    scratch: String,
}

impl ReasonNames {
    /// The most texts kept: reasons quote numbers and dates, a bounded few of each.
    const MOST: usize = 4096;
    /// The longest text kept (a longer one is made for the trace or decision that gives it).
    const LONGEST: usize = 256;
    /// The most words of a whole reason kept ([`ReasonNames::made_of`]): a pool of up to 40
    /// members (two words for the pool, six for each member).
    const MOST_PARTS: usize = 2 + 6 * 40;
    /// The most bytes of a whole reason kept: a longer one is made for its decision alone.
    const LONGEST_WHOLE: usize = 2048;
    /// The most room the scratch text keeps between reasons (a pool of a thousand members
    /// writes a long one).
    const SCRATCH: usize = 4096;

    /// One of the program's own words.
    fn said(&mut self, text: &'static str) -> Name {
        let key = (text.as_ptr().addr(), text.len());
        if let Some(name) = self.said.get(&key) {
            return name.clone();
        }
        let name = self.of(text);
        if self.said.len() < Self::MOST {
            self.said.insert(key, name.clone());
        }
        name
    }

    /// The reason `write` writes.
    fn written(&mut self, write: impl FnOnce(&mut String)) -> Name {
        self.in_scratch(write, |reasons, text| reasons.of(text))
    }

    /// The reason `write` writes, made for the one decision that gives it (not looked up, not
    /// kept).
    fn made(&mut self, write: impl FnOnce(&mut String)) -> Name {
        self.in_scratch(write, |_, text| Name::from(text))
    }

    /// The name `name` gives the text `write` writes in the scratch text, which is kept for
    /// the next reason unless it grew past [`ReasonNames::SCRATCH`].
    fn in_scratch(
        &mut self,
        write: impl FnOnce(&mut String),
        name: impl FnOnce(&mut Self, &str) -> Name,
    ) -> Name {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        write(&mut scratch);
        let made = name(self, &scratch);
        if scratch.capacity() <= Self::SCRATCH {
            self.scratch = scratch;
        }
        made
    }

    /// A candidate's own reason.
    fn why(&mut self, why: &Why) -> Name {
        let key = match why {
            Why::Said(text) => return self.said(text),
            Why::Text(text) => return self.of(text),
            Why::AtCap { load, cap } => (*load, *cap, 0, 0),
            Why::AtPeriodCap { count, limit, when } => {
                (*count, *limit, when.as_ptr().addr(), when.len())
            }
        };
        if let Some(name) = self.at_caps.get(&key) {
            return name.clone();
        }
        let name = self.written(|out| why.write_to(out));
        if self.at_caps.len() < Self::MOST {
            self.at_caps.insert(key, name.clone());
        }
        name
    }

    /// The reason that `write` writes, found by `parts`, words that tell it from every other
    /// (the same words, the same text): the name kept for them, else written, and kept while
    /// there is room.
    fn made_of(&mut self, parts: &[u64], write: impl FnOnce(&mut String)) -> Name {
        if let Some(name) = self.whole.get(parts) {
            return name.clone();
        }
        // Made here, not among `texts`: the words find it again.
        let name = self.made(write);
        // Bounded in count and size: a pool of a thousand members has long reasons.
        if self.whole.len() < Self::MOST
            && parts.len() <= Self::MOST_PARTS
            && name.len() <= Self::LONGEST_WHOLE
        {
            self.whole.insert(parts.into(), name.clone());
        }
        name
    }

    /// `text` as a shared name: the one kept, else made (and kept, while there is room).
    fn of(&mut self, text: &str) -> Name {
        if let Some(name) = self.texts.get(text) {
            return name.clone();
        }
        let name = Name::from(text);
        if self.texts.len() < Self::MOST && text.len() <= Self::LONGEST {
            self.texts.insert(name.clone());
        }
        name
    }
}

impl Spare {
    /// The most of each kept.
    const MOST: usize = 4096;
    /// The most bytes a kept candidate's text may hold: a longer one is freed.
    const LONGEST_TEXT: usize = 1024;
    /// The most candidate lists kept (a decision's actions: its rule's, and its fallbacks').
    const ACTIONS: usize = 16;

    fn keep(&mut self, outcome: Outcome) {
        if let Outcome::Decided { decision, .. } = outcome
            && self.decisions.len() < Spare::MOST
        {
            self.decisions.push(decision);
        }
    }

    /// A decision for `lead`, in the memory of a spare one when there is one.
    fn decision(&mut self, lead: LeadId) -> Decision {
        match self.decisions.pop() {
            Some(mut decision) => {
                decision.reuse_for(lead);
                decision
            }
            None => Decision::new(lead),
        }
    }

    /// The vectors of a spare recorded trace, emptied: its path and its actions.
    fn trace_vectors(&mut self) -> (Vec<crate::graph::PathStep>, Vec<ActionTrace>) {
        match self.trace.take() {
            Some(RecordedTrace {
                mut path,
                mut actions,
                ..
            }) => {
                path.clear();
                // An action's candidates are written over in the next ones.
                for action in actions.drain(..) {
                    if let ActionTrace::Candidates {
                        candidates: mut list,
                        ..
                    } = action
                        && self.candidate_lists.len() < Spare::ACTIONS
                    {
                        // Texts that grew long (a rep named by a lead's field) are freed.
                        list.retain(|candidate| {
                            candidate.rep.len() <= Spare::LONGEST_TEXT
                                && candidate.why.len() <= Spare::LONGEST_TEXT
                        });
                        self.candidate_lists.push(list);
                    }
                }
                (path, actions)
            }
            None => (Vec::new(), Vec::new()),
        }
    }

    /// A spare candidate list, as it was: its entries are written over, in place.
    fn candidate_list(&mut self) -> Vec<CandidateTrace> {
        self.candidate_lists.pop().unwrap_or_default()
    }

    /// Makes `list` `length` candidates long: the ones beyond are kept for another list, and
    /// the ones missing are spare ones or new ones. Their contents are to be written over.
    fn fit_candidates(&mut self, list: &mut Vec<CandidateTrace>, length: usize) {
        if list.len() > length {
            let room = Spare::MOST.saturating_sub(self.candidates.len());
            let beyond = list.drain(length..);
            self.candidates.extend(beyond.take(room));
        }
        while list.len() < length {
            let no_name = &self.no_name;
            list.push(self.candidates.pop().unwrap_or_else(|| CandidateTrace {
                rep: no_name.clone(),
                eligible: false,
                load: None,
                why: no_name.clone(),
                owner: None,
            }));
        }
    }
}

/// A rep's eligibility for one lead.
#[derive(Debug, Clone)]
struct Candidate<'r> {
    rep: &'r str,
    eligible: bool,
    why: Why,
    load: u64,
    /// The rep's working time: their own calendar, else their pool's.
    calendar: Option<usize>,
    /// When an `on shift` member who is off shift starts (the only reason they were passed).
    opens: Option<Timestamp>,
    /// Out of office at the lead's time: an `on shift` pool where nobody is on shift may wait
    /// for them, from their first opening back ([`Router::first_shift`]).
    absent: bool,
}

/// Why a candidate is (or is not) eligible, written out only when a decision or trace says it:
/// most candidates passed over at a cap are never named.
#[derive(Debug, Clone)]
enum Why {
    Said(&'static str),
    /// At the open-lead cap: load and cap.
    AtCap {
        load: u64,
        cap: u64,
    },
    /// At a period cap: count, limit and the period ("today").
    AtPeriodCap {
        count: u64,
        limit: u64,
        when: &'static str,
    },
    Text(String),
}

impl Why {
    /// Words that tell this reason from every other, the same words for the same text: a word
    /// of the program's own by its address and length (the same address and length are the
    /// same static text), a cap by its numbers and period. `None` for a text of its own,
    /// told apart only by its bytes.
    fn parts(&self) -> Option<[u64; 4]> {
        let address = |text: &'static str| text.as_ptr().addr() as u64;
        Some(match self {
            Why::Said(text) => [1, address(text), text.len() as u64, 0],
            Why::AtCap { load, cap } => [2, *load, *cap, 0],
            Why::AtPeriodCap { count, limit, when } => {
                [3 | (when.len() as u64) << 8, *count, *limit, address(when)]
            }
            Why::Text(_) => return None,
        })
    }

    /// Appends the words, without the formatting machinery for the common ones (a pool that
    /// nobody can take writes one per member, for most leads of the night).
    fn write_to(&self, out: &mut String) {
        match self {
            Why::Said(text) => out.push_str(text),
            Why::Text(text) => out.push_str(text),
            Why::AtCap { load, cap } => {
                out.push_str("at cap ");
                push_number(out, *load);
                out.push('/');
                push_number(out, *cap);
            }
            Why::AtPeriodCap { count, limit, when } => {
                out.push_str("at cap ");
                push_number(out, *count);
                out.push('/');
                push_number(out, *limit);
                out.push(' ');
                out.push_str(when);
            }
        }
    }
}

/// Appends `number` in decimal, as `write!` would, without its machinery: two digits at a
/// time (a trace writes two numbers per capped candidate).
fn push_number(out: &mut String, mut number: u64) {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let pair = |value: u64| {
        let at = (value as usize) * 2;
        [PAIRS[at], PAIRS[at + 1]]
    };
    // Most numbers a decision writes are loads, caps and counts under 100.
    if number < 10 {
        out.push(char::from(b'0' + number as u8));
        return;
    }
    if number < 100 {
        let [tens, ones] = pair(number);
        out.push(char::from(tens));
        out.push(char::from(ones));
        return;
    }
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    while number >= 100 {
        start -= 2;
        digits[start..start + 2].copy_from_slice(&pair(number % 100));
        number /= 100;
    }
    if number >= 10 {
        start -= 2;
        digits[start..start + 2].copy_from_slice(&pair(number));
    } else {
        start -= 1;
        digits[start] = b'0' + number as u8;
    }
    // Digits are ASCII: written in one copy.
    out.push_str(std::str::from_utf8(&digits[start..]).unwrap_or_default());
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Said(text) => f.write_str(text),
            Why::Text(text) => f.write_str(text),
            Why::AtCap { .. } | Why::AtPeriodCap { .. } => {
                let mut words = String::with_capacity(32);
                self.write_to(&mut words);
                f.write_str(&words)
            }
        }
    }
}

/// The member an `on shift` pool falls back to when nobody is on shift and no `else` took
/// the lead: the one whose shift opens first.
struct Fallback {
    action: Action,
    calendar: Option<usize>,
    opens: Timestamp,
    reason: Name,
}

/// The outcome of one action.
enum Attempt {
    Assigned {
        action: Action,
        calendar: Option<usize>,
        trace: Option<ActionTrace>,
    },
    Failed {
        reason: Name,
        trace: Option<ActionTrace>,
        fallback: Option<Fallback>,
    },
}

impl<'a> Router<'a> {
    pub fn new(
        policy: &'a Policy,
        compiled: &'a Compiled,
        roster: Option<&'a Roster>,
        config: RouteConfig,
        policy_text: &str,
    ) -> Router<'a> {
        Router {
            policy,
            compiled,
            roster,
            loads_since: roster.and_then(|roster| roster.loads_since(config.now)),
            config,
            policy_hash: policy_hash(policy_text).into(),
            names: Names::new(policy, roster),
            schema_digest: policy.schema_digest(),
            legacy_schema_digest: policy.legacy_schema_digest(),
            previous_fields: previous_fields(policy),
            last_windows: std::cell::RefCell::new(Vec::new()),
            excluded: std::cell::RefCell::new(Vec::new()),
            rotation_text: std::cell::RefCell::new(String::new()),
            candidates: std::cell::Cell::new(Vec::new()),
            standings: std::cell::Cell::new(Vec::new()),
            refuse_unknown_names: false,
            spare: std::cell::RefCell::new(Spare::default()),
            recent_quoted: std::cell::RefCell::default(),
            days: clock::DayCache::default(),
            pools_by_name: pools_by_name(policy),
            rule_calendars: ahead::rule_calendars(policy),
        }
    }

    /// Records an assignment: the rep's load and period counts, and the values `previous rep
    /// of` will look for.
    fn assign(
        &self,
        state: &mut dyn StateStore,
        rep: &str,
        parsed: &ParsedLead,
        lead_at: Timestamp,
    ) -> Result<(), StateError> {
        // Load counts leads assigned since the roster's `as_of` (`loads_since`): an assignment's
        // routing time is `now`; period caps count by the lead's own time.
        state.assign(rep, &parsed.id, self.config.now, lead_at)?;
        for (name, field) in &self.previous_fields {
            if let Some(LeadValue::Str(value)) =
                parsed.lead.values.get(*field).and_then(Option::as_ref)
            {
                let key = state::prospect_key(value);
                if !key.is_empty() {
                    state.remember(name, &key, &parsed.id, lead_at, rep)?;
                }
            }
        }
        Ok(())
    }

    /// The window of `period` that holds `at` in a calendar's zone (`None`: UTC), from the last
    /// one computed when it still holds `at` (leads mostly arrive in order, and every member of
    /// a pool shares the pool's calendar).
    fn window(
        &self,
        at: Timestamp,
        period: crate::model::Period,
        calendar: Option<usize>,
        zone: &jiff::tz::TimeZone,
    ) -> Option<(Timestamp, Timestamp)> {
        let mut last = self.last_windows.borrow_mut();
        if let Some((_, _, from, to)) = last
            .iter()
            .find(|(p, c, from, to)| *p == period && *c == calendar && *from <= at && at < *to)
        {
            return Some((*from, *to));
        }
        let (from, to) = clock::period_window(at, period, zone)?;
        last.retain(|(p, c, _, _)| !(*p == period && *c == calendar));
        last.push((period, calendar, from, to));
        Some((from, to))
    }

    /// Moves the routing time (`--now`) for the leads that follow: a long-running router (the
    /// server) keeps one `Router` and sets the time of each batch.
    pub fn set_now(&mut self, now: Timestamp) {
        self.config.now = now;
    }

    /// Appends one output line (no newline) for the outcome of input line `input_line`
    /// (1-based), as [`wire::write_outcome`] does, writing the names this router shares from
    /// their JSON strings made ahead.
    pub fn write_outcome(&self, out: &mut String, outcome: &Outcome, input_line: usize) {
        wire::write_outcome_quoting(
            out,
            outcome,
            input_line,
            &self.names.quoted,
            Some(&mut self.recent_quoted.borrow_mut()),
        );
    }

    /// Makes `track` refuse an event (`event.policy`, nothing recorded) that would re-route a
    /// lead by a rule this policy does not have, or fire an escalation step whose target it
    /// does not have: the mark of a policy other than the one that routed the lead (a wrong
    /// path in a cron job), whose names would unassign leads that cannot be given back.
    /// Without it (`serve`, which reloads edits of its own policy, and `--allow-unknown-names`)
    /// such a step finds nobody and such a re-route leaves the lead unassigned, saying why.
    pub fn refuse_unknown_names(&mut self, refuse: bool) {
        self.refuse_unknown_names = refuse;
    }

    /// Makes `outcomes` (the batch before's, written out) hold at most `count` outcomes: the
    /// rest are kept as spares. The ones left are the slots this batch's outcomes are made in,
    /// in place: a decision is made in the memory of the one written out from its slot, and
    /// never moved after (a decision is a few hundred bytes; moving it from function to
    /// function cost a tenth of `route`'s time).
    fn keep_slots(&self, outcomes: &mut Vec<Outcome>, count: usize) {
        if outcomes.len() > count {
            let mut spare = self.spare.borrow_mut();
            for outcome in outcomes.drain(count..) {
                spare.keep(outcome);
            }
        }
    }

    /// The slot of line `index` in `outcomes`, which holds a slot for every line before it.
    fn slot(outcomes: &mut Vec<Outcome>, index: usize) -> &mut Outcome {
        while outcomes.len() <= index {
            outcomes.push(Self::undecided_outcome());
        }
        &mut outcomes[index]
    }

    /// Puts `outcome` (not a decision) in `slot`, keeping the decision the slot held.
    fn set_invalid(&self, slot: &mut Outcome, error: LeadError) {
        let old = std::mem::replace(slot, Outcome::Invalid(error));
        self.spare.borrow_mut().keep(old);
    }

    pub fn policy_hash(&self) -> &str {
        &self.policy_hash
    }

    /// Routes one input line. State errors abort the run; everything wrong with the line itself
    /// is an [`Outcome::Invalid`].
    pub fn route_line(
        &self,
        state: &mut dyn StateStore,
        bytes: &[u8],
    ) -> Result<Outcome, StateError> {
        match parse_lead(self.policy, bytes, &self.config.limits) {
            Err(error) => Ok(Outcome::Invalid(error)),
            Ok(lead) => self.route_lead(state, &lead),
        }
    }

    /// Routes a batch of lines, in order, into `outcomes` (one a line: what it held before is
    /// written over), inside a batch the caller began. A store that reads ahead
    /// ([`StateStore::reads_ahead`]) is given every parsed lead id first. `Err` carries the
    /// state's failure and the index of the line it happened at; `outcomes` then holds the
    /// outcomes of the lines before that one.
    pub fn route_batch<L: BatchLine>(
        &self,
        state: &mut dyn StateStore,
        lines: &[L],
        outcomes: &mut Vec<Outcome>,
    ) -> Result<(), (StateError, usize)> {
        self.route_batch_in(state, lines, outcomes)
            .inspect_err(|(_, index)| outcomes.truncate(*index))
    }

    fn route_batch_in<L: BatchLine>(
        &self,
        state: &mut dyn StateStore,
        lines: &[L],
        outcomes: &mut Vec<Outcome>,
    ) -> Result<(), (StateError, usize)> {
        if !state.reads_ahead() {
            self.keep_slots(outcomes, lines.len());
            for (index, line) in lines.iter().enumerate() {
                let parsed = match line.bytes() {
                    Ok(bytes) => parse_lead(self.policy, bytes, &self.config.limits),
                    Err(length) => Err(self.too_long_error(length)),
                };
                self.route_one(state, parsed.as_ref(), Self::slot(outcomes, index))
                    .map_err(|error| (error, index))?;
            }
            return Ok(());
        }
        // A line is a lead to decide, or (not a lead) its answer already.
        let parsed: Vec<Result<ParsedLead, LeadError>> = lines
            .iter()
            .map(|line| match line.bytes() {
                Ok(bytes) => parse_lead(self.policy, bytes, &self.config.limits),
                Err(length) => Err(self.too_long_error(length)),
            })
            .collect();
        self.route_parsed(state, &parsed, outcomes)
    }

    /// Routes a batch of lines already read and parsed (by [`reader::parse_lead`], perhaps on
    /// another thread), in order, into `outcomes` (one a line: what it held before is written
    /// over, its memory reused), inside a batch the caller began: a lead is decided, an error
    /// is its line's answer. A store that reads ahead is given every lead id first. `Err`
    /// carries the state's failure and the index of the line it happened at; `outcomes` then
    /// holds the outcomes of the lines before that one.
    pub fn route_parsed(
        &self,
        state: &mut dyn StateStore,
        parsed: &[Result<ParsedLead, LeadError>],
        outcomes: &mut Vec<Outcome>,
    ) -> Result<(), (StateError, usize)> {
        self.route_parsed_in(state, parsed, outcomes)
            .inspect_err(|(_, index)| outcomes.truncate(*index))
    }

    fn route_parsed_in(
        &self,
        state: &mut dyn StateStore,
        parsed: &[Result<ParsedLead, LeadError>],
        outcomes: &mut Vec<Outcome>,
    ) -> Result<(), (StateError, usize)> {
        self.keep_slots(outcomes, parsed.len());
        if state.reads_ahead() {
            let ids: Vec<&str> = parsed
                .iter()
                .filter_map(|lead| lead.as_ref().ok().map(|lead| &*lead.id))
                .collect();
            state.read_ahead(&ids).map_err(|error| (error, 0))?;
        }
        if state.decides_unlocked_first() {
            return self.route_in_two_passes(state, parsed, outcomes);
        }
        for (index, lead) in parsed.iter().enumerate() {
            if index % state::ABOUT_TO_ROUTE == 0 {
                state.about_to_route(
                    &mut parsed
                        .iter()
                        .skip(index)
                        .take(state::ABOUT_TO_ROUTE)
                        .filter_map(|lead| {
                            lead.as_ref().ok().map(|lead| (&*lead.id, lead.id_hash()))
                        }),
                );
            }
            self.route_one(state, lead.as_ref(), Self::slot(outcomes, index))
                .map_err(|error| (error, index))?;
        }
        Ok(())
    }

    /// Decides a line's lead into `slot`, or puts there the error that made the line no lead.
    fn route_one(
        &self,
        state: &mut dyn StateStore,
        lead: Result<&ParsedLead, &LeadError>,
        slot: &mut Outcome,
    ) -> Result<(), StateError> {
        match lead {
            Ok(lead) => self.route_into(state, lead, false, slot).map(drop),
            Err(error) => {
                self.set_invalid(slot, error.clone());
                Ok(())
            }
        }
    }

    /// [`Router::route_parsed`] for a store that decides a batch in two passes
    /// ([`StateStore::decides_unlocked_first`]). The first decides, in order, every lead
    /// that needs none of the store's locks; a lead the store stops
    /// ([`StateErrorKind::NeedsLock`]) waits for the second, and so does every later lead of the
    /// batch with its id (the first of them must be decided first). The second decides
    /// those, in their order, under the store's locks. Leads of the first pass write only
    /// their own rows (their ledger entries and due steps) and read nothing shared but
    /// reps' counts, so each decision is the one a single pass in input order gives: a lead
    /// decided on counts read without locks ([`StateStore::provisional`]: nobody assigned)
    /// keeps its place in the second pass too, where the store confirms the counts in its
    /// turn, or takes its rows back and the lead is decided again.
    fn route_in_two_passes(
        &self,
        state: &mut dyn StateStore,
        parsed: &[Result<ParsedLead, LeadError>],
        outcomes: &mut Vec<Outcome>,
    ) -> Result<(), (StateError, usize)> {
        // The leads of the second pass, in order, and whether each was decided provisionally.
        let mut waiting: Vec<(usize, bool)> = Vec::new();
        let mut waiting_ids: std::collections::HashSet<&str> = std::collections::HashSet::new();
        state.unlocked_pass(true).map_err(|error| (error, 0))?;
        for (index, lead) in parsed.iter().enumerate() {
            let slot = Self::slot(outcomes, index);
            match lead {
                Err(error) => self.set_invalid(slot, error.clone()),
                Ok(lead) if waiting_ids.contains(&*lead.id) => {
                    waiting.push((index, false));
                    self.set_invalid(slot, Self::undecided_error());
                }
                Ok(lead) => match self.route_into(state, lead, false, slot) {
                    Ok(_) => {
                        if state.provisional(&lead.id, true) {
                            waiting.push((index, true));
                            waiting_ids.insert(&lead.id);
                        }
                    }
                    Err(error) if error.kind == StateErrorKind::NeedsLock => {
                        state.provisional(&lead.id, false);
                        waiting.push((index, false));
                        waiting_ids.insert(&lead.id);
                        self.set_invalid(slot, Self::undecided_error());
                    }
                    Err(error) => return Err((error, index)),
                },
            }
        }
        // Nothing of the batch is recorded when this fails: it stopped at its first line.
        state.unlocked_pass(false).map_err(|error| (error, 0))?;
        for (index, provisional) in waiting {
            if let (Some(Ok(lead)), Some(slot)) = (parsed.get(index), outcomes.get_mut(index)) {
                if provisional
                    && state
                        .confirm_provisional(&lead.id)
                        .map_err(|error| (error, index))?
                {
                    continue;
                }
                self.route_into(state, lead, false, slot)
                    .map_err(|error| (error, index))?;
            }
        }
        Ok(())
    }

    /// What holds a slot until its outcome is made there: a new slot, or a lead's place until
    /// the second pass decides it.
    fn undecided_outcome() -> Outcome {
        Outcome::Invalid(Self::undecided_error())
    }

    fn undecided_error() -> LeadError {
        LeadError {
            code: "lead.undecided",
            message: String::new(),
            lead: None,
        }
    }

    /// The outcome of a line longer than the limit.
    pub fn too_long(&self, length: usize) -> Outcome {
        Outcome::Invalid(self.too_long_error(length))
    }

    /// The error of a line longer than the limit.
    fn too_long_error(&self, length: usize) -> LeadError {
        reader::too_long_error(length, &self.config.limits)
    }

    /// Decides for a validated lead, or answers its recorded decision. A lead id recorded for
    /// a lead with other content is an `lead.id_conflict` error: never the other lead's
    /// decision, never a second assignment.
    pub fn route_lead(
        &self,
        state: &mut dyn StateStore,
        parsed: &ParsedLead,
    ) -> Result<Outcome, StateError> {
        self.route_lead_traced(state, parsed, false)
            .map(|(outcome, _)| outcome)
    }

    /// [`Router::route_lead`], also answering the new decision's trace as the ledger keeps it
    /// (with `trace`): the candidates each action passed over, and why (`simulate` counts the
    /// reps passed over at a cap without building the trace people read).
    pub fn route_lead_traced(
        &self,
        state: &mut dyn StateStore,
        parsed: &ParsedLead,
        trace: bool,
    ) -> Result<(Outcome, Option<RecordedTrace>), StateError> {
        let mut outcome = Self::undecided_outcome();
        let answered = self.route_into(state, parsed, trace, &mut outcome)?;
        Ok((outcome, answered))
    }

    /// [`Router::route_lead_traced`] into `slot`: a new decision is made in the memory of the
    /// one the slot holds (or of a spare one), and stays there. Answers the recorded trace when
    /// `trace` asks for it.
    fn route_into(
        &self,
        state: &mut dyn StateStore,
        parsed: &ParsedLead,
        trace: bool,
        slot: &mut Outcome,
    ) -> Result<Option<RecordedTrace>, StateError> {
        let fingerprint = self.fingerprint(parsed);
        if let Some(recorded) = state.recorded(&parsed.id)? {
            if recorded
                .fingerprint
                .is_some_and(|earlier| !self.same_lead(&earlier, &fingerprint, parsed))
            {
                let error = LeadError {
                    code: "lead.id_conflict",
                    message: format!(
                        "lead id `{}` was already used for a different lead, decided at {} \
                         ({}); give each lead its own id",
                        parsed.id,
                        recorded.decided_at,
                        recorded.decision.action.summary()
                    ),
                    lead: Some(parsed.id.to_string()),
                };
                self.set_invalid(slot, error);
                return Ok(None);
            }
            // After `track` or `sweep` changed the lead, its current decision.
            let decision = state
                .current_decision(&parsed.id)?
                .unwrap_or(recorded.decision);
            let old = std::mem::replace(
                slot,
                Outcome::Decided {
                    decision,
                    duplicate: true,
                    trace: None,
                },
            );
            self.spare.borrow_mut().keep(old);
            return Ok(None);
        }
        let keeps = state.keeps_traces();
        let tracing = Tracing {
            display: self.config.explain,
            record: keeps || trace,
        };
        // Made in the memory of the decision the slot holds, in place.
        if let Outcome::Decided { decision, .. } = slot {
            decision.reuse_for(parsed.id.clone());
        } else {
            *slot = Outcome::Decided {
                decision: self.spare.borrow_mut().decision(parsed.id.clone()),
                duplicate: false,
                trace: None,
            };
        }
        let Outcome::Decided {
            decision,
            duplicate,
            trace: shown,
        } = slot
        else {
            return Err(StateError::new(
                StateErrorKind::Failed,
                "internal error: no decision to make in its slot",
            ));
        };
        let traces = self.decide(state, parsed, tracing, decision)?;
        *duplicate = false;
        *shown = traces.display;
        let lead_at = parsed.lead_at(self.policy, &self.context());
        // The sweep finds leads by their next escalation time, never by reading every lead.
        if let Some(first) = life::first_step_at(decision) {
            state.schedule(&parsed.id, None, Some(first))?;
        }
        // The recorded trace is copied only when it is both kept and answered.
        let (kept, answered) = match (keeps, trace) {
            (true, true) => (traces.recorded.clone(), traces.recorded),
            (true, false) => (traces.recorded, None),
            (false, _) => (None, traces.recorded.filter(|_| trace)),
        };
        state.record(&EntryRef {
            decision,
            fingerprint: Some(fingerprint),
            decided_at: self.config.now,
            lead_at: Some(lead_at),
            policy_hash: &self.policy_hash,
            trace: kept.as_ref(),
        })?;
        if let Some(trace) = kept {
            self.spare.borrow_mut().trace = Some(trace);
        }
        Ok(answered)
    }

    /// Whether a recorded fingerprint (`earlier`) was taken of the lead `parsed`, whose
    /// fingerprint is `now`. One recorded by a build before fingerprints of the second kind,
    /// with this schema, is compared with the lead's [legacy
    /// fingerprint](crate::model::Policy::legacy_fingerprint); one taken with another schema
    /// cannot tell ([`Fingerprint::same_lead`]). A lead with blank strings in optional fields
    /// is also compared as builds before 2026-12-05 read it, with them as values
    /// ([`ParsedLead::as_read_with_blanks`]), so that a lead they recorded is a duplicate when
    /// sent again.
    pub fn same_lead(&self, earlier: &Fingerprint, now: &Fingerprint, parsed: &ParsedLead) -> bool {
        let same = |lead: &crate::model::Lead, now: &Fingerprint| {
            if earlier.schema == self.legacy_schema_digest {
                earlier.lead == self.policy.legacy_fingerprint(lead)
            } else {
                earlier.same_lead(now)
            }
        };
        if same(&parsed.lead, now) {
            return true;
        }
        // Recorded by a build that kept a blank string in an optional field as a value.
        parsed.as_read_with_blanks().is_some_and(|before| {
            let fingerprint = Fingerprint {
                lead: self.policy.fingerprint(&before),
                schema: self.schema_digest,
            };
            same(&before, &fingerprint)
        })
    }

    /// What the lead carries, as the ledger compares it.
    pub fn fingerprint(&self, parsed: &ParsedLead) -> Fingerprint {
        Fingerprint {
            lead: parsed
                .fingerprint
                .unwrap_or_else(|| self.policy.fingerprint(&parsed.lead)),
            schema: self.schema_digest,
        }
    }

    /// Decides for a validated lead without looking at or writing the ledger: the decision a
    /// lead gets from this policy, roster and state, whatever was routed before (backtests,
    /// what-if explanations). With `traced`, also how it was reached.
    pub fn decide_only(
        &self,
        state: &mut dyn StateStore,
        parsed: &ParsedLead,
        traced: bool,
    ) -> Result<(Decision, Option<Trace>), StateError> {
        let tracing = Tracing {
            display: traced,
            record: false,
        };
        let mut decision = Decision::new(parsed.id.clone());
        let traces = self.decide(state, parsed, tracing, &mut decision)?;
        Ok((decision, traces.display))
    }

    fn context(&self) -> EvalContext {
        EvalContext {
            now: self.config.now,
        }
    }

    /// Decides for `parsed` into `decision`, a new one for the lead ([`Decision::new`] or
    /// [`Decision::reuse_for`]); answers the traces `tracing` asks for.
    fn decide(
        &self,
        state: &mut dyn StateStore,
        parsed: &ParsedLead,
        tracing: Tracing,
        decision: &mut Decision,
    ) -> Result<Traces, StateError> {
        let traced = tracing.display || tracing.record;
        let context = self.context();
        let lead = &parsed.lead;
        let at = parsed.lead_at(self.policy, &context);
        // A recorded trace is made in the vectors of the last one a store kept.
        let (mut recorded_path, mut action_traces) = if tracing.record {
            self.spare.borrow_mut().trace_vectors()
        } else {
            (Vec::new(), Vec::new())
        };
        // The path a store keeps is recorded on a walk of its own; when no rule was found ahead,
        // that walk finds it (the flat form answers as the graph does), not a second one.
        let recorded = match (tracing.record, self.compiled) {
            (true, Compiled::Graph { graph, .. }) => {
                Some(graph.evaluate_recording(self.policy, lead, &context, &mut recorded_path))
            }
            _ => None,
        };
        let (outcome, path) = match (tracing.display, self.compiled) {
            (true, Compiled::Graph { graph, .. }) => graph.trace(self.policy, lead, &context),
            _ => (
                parsed
                    .rule_found
                    .or(recorded)
                    .unwrap_or_else(|| self.compiled.evaluate(self.policy, lead, &context)),
                Vec::new(),
            ),
        };
        let finish = |path: Vec<TraceStep>, actions: Vec<ActionTrace>| Traces {
            display: tracing.display.then(|| Trace {
                path,
                actions: actions.clone(),
            }),
            recorded: tracing.record.then_some(RecordedTrace {
                path: recorded_path,
                actions,
                starts: None,
            }),
        };
        let (rule, rule_index) = match outcome {
            crate::graph::Outcome::Rule(index) => (self.policy.rules.get(index), index),
            crate::graph::Outcome::NoMatch => (None, 0),
        };
        let read = rule.map_or(&self.policy.all_rule_scores, |rule| &rule.path_scores);
        decision.scores.extend(read.iter().filter_map(|&score| {
            let def = self.policy.scores.get(score)?;
            Some((
                self.names.shared(&def.name),
                self.policy.score_value(score, lead, &context),
            ))
        }));
        let Some(rule) = rule else {
            decision.reasons.push(Reason {
                action: None,
                reason: self
                    .spare
                    .borrow_mut()
                    .reasons
                    .said("no rule matches this lead"),
            });
            return Ok(finish(path, action_traces));
        };
        decision.rule = Some(RuleRef {
            label: self.names.rule_label(rule_index, &rule.label),
            line: rule.line,
        });
        decision.tags.extend(
            rule.tags
                .iter()
                .filter_map(|&tag| Some(self.names.shared(self.policy.tags.get(tag)?))),
        );
        // The SLA clock: the calendar of the pool that took the lead, else of the first pool in
        // the rule's actions that has one, else wall-clock time.
        let rule_calendar = self.rule_calendars.get(rule_index).copied().flatten();
        let mut calendar = rule_calendar;
        let mut fallbacks = Vec::new();
        // The SLA clock starts at the lead's time, or when the member it falls back to starts.
        let mut start = at;
        for (action_index, action) in rule.syntax.actions.iter().enumerate() {
            match self.attempt(state, &action.kind, parsed, at, rule_calendar, traced)? {
                Attempt::Failed {
                    reason,
                    trace,
                    fallback,
                } => {
                    let described = self.names.action(rule_index, action_index).cloned();
                    decision.reasons.push(Reason {
                        action: Some(described.unwrap_or_else(|| action.kind.describe().into())),
                        reason,
                    });
                    action_traces.extend(trace);
                    fallbacks.extend(fallback);
                }
                Attempt::Assigned {
                    action,
                    calendar: pool_calendar,
                    trace,
                } => {
                    action_traces.extend(trace);
                    if let Some(rep) = action.rep() {
                        self.assign(state, rep, parsed, at)?;
                    }
                    decision.action = action;
                    calendar = pool_calendar.or(rule_calendar);
                    break;
                }
            }
        }
        if decision.action == Action::Unassigned
            && let Some(fallback) = fallbacks.into_iter().next()
        {
            // `on shift` with nobody on shift and no `else` that took the lead.
            if let Some(rep) = fallback.action.rep() {
                // Counted in the period it is worked in: from the rep's start.
                self.assign(state, rep, parsed, fallback.opens)?;
            }
            // Not a failure of an action: a note on how the lead was placed.
            decision.reasons.push(Reason {
                action: None,
                reason: fallback.reason,
            });
            decision.action = fallback.action;
            calendar = fallback.calendar.or(rule_calendar);
            start = fallback.opens;
        }
        let found = TimesFound::of(parsed.times_found.as_ref(), rule_index, start, calendar);
        self.times(
            decision,
            (rule, Some(rule_index)),
            start,
            calendar.and_then(|c| self.policy.calendars.get(c)),
            found,
        );
        let mut traces = finish(path, action_traces);
        if let Some(recorded) = &mut traces.recorded {
            recorded.starts = (start > at).then_some(start);
        }
        Ok(traces)
    }

    /// `due` and `escalation`, from the rule's `within` and `escalate` clauses, with the clock
    /// started at `start` on `on`: the times `found` ahead, when given, are those. With the
    /// rule's index in the policy, when known, its targets' names are found by it.
    fn times(
        &self,
        decision: &mut Decision,
        (rule, rule_index): (&crate::model::RuleDef, Option<usize>),
        start: Timestamp,
        on: Option<&CalendarDef>,
        found: Option<&TimesFound>,
    ) {
        let syntax = &rule.syntax;
        if let Some(within) = syntax.within {
            let due = match found.and_then(TimesFound::due) {
                Some(due) => due,
                None => ahead::local_time(start, within.kind, on, &self.days),
            };
            decision.due = Some(due.map_or(Due::Never, Due::At));
        }
        decision.escalation.extend(
            ahead::step_durations(rule)
                .zip(&syntax.escalations)
                .enumerate()
                .filter_map(|(index, (after, escalation))| {
                    let after = after?;
                    Some(Escalation {
                        at: match found {
                            Some(found) => found.step(index),
                            None => ahead::local_time(start, after, on, &self.days),
                        },
                        to: match rule_index.and_then(|rule| self.names.target(rule, index)) {
                            Some(target) => target.clone(),
                            None => self.names.shared(&escalation.target.name),
                        },
                    })
                }),
        );
    }

    fn pool(&self, name: &str) -> Option<&'a PoolDef> {
        self.pools_by_name.get(name).copied()
    }

    /// Tries one action. Traces are built only when explaining.
    fn attempt(
        &self,
        state: &mut dyn StateStore,
        action: &ActionKind,
        parsed: &ParsedLead,
        at: Timestamp,
        rule_calendar: Option<usize>,
        traced: bool,
    ) -> Result<Attempt, StateError> {
        // Out-of-office dates of named reps are read in the zone of the rule's calendar.
        let named_calendar = rule_calendar.and_then(|c| self.policy.calendars.get(c));
        let explain = traced;
        let failed = |action: String, reason: String| Attempt::Failed {
            trace: explain.then(|| ActionTrace::Failed {
                action: Name::from(action),
                result: reason.clone(),
            }),
            reason: Name::from(reason),
            fallback: None,
        };
        match action {
            ActionKind::Queue(queue) => Ok(Attempt::Assigned {
                action: Action::Queue {
                    queue: self.names.shared(&queue.name),
                },
                calendar: None,
                trace: explain.then(|| ActionTrace::Queued {
                    action: self.names.queue_action(&queue.name),
                }),
            }),
            ActionKind::Pool(name) => {
                let Some(pool) = self.pool(&name.name) else {
                    return Ok(failed(
                        format!("pool {}", name.name),
                        format!("pool `{}` is not declared", name.name),
                    ));
                };
                self.pick(state, pool, at, traced)
            }
            ActionKind::Rep(target) => {
                // `rep FIELD` names the rep in a string field; `rep NAME` names the rep.
                let rep: &str = match self.policy.field_id(&target.name) {
                    Some(field) => match parsed.lead.values.get(field).and_then(Option::as_ref) {
                        // A CRM's padding (` anna `) is no part of the rep's name.
                        Some(LeadValue::Str(rep)) if !rep.trim().is_empty() => rep.trim(),
                        _ => {
                            return Ok(failed(
                                format!("rep {}", target.name),
                                format!("`{}` is not set", target.name),
                            ));
                        }
                    },
                    None => &target.name,
                };
                let candidate = self.candidate(state, rep, None, at, named_calendar)?;
                Ok(self.named(
                    traced,
                    candidate,
                    |rep| Action::Rep { rep },
                    || format!("rep {}", target.name),
                    None,
                ))
            }
            ActionKind::PreviousRep { field, since } => {
                let label = || action.describe();
                let value = self
                    .policy
                    .field_id(&field.name)
                    .and_then(|id| parsed.lead.values.get(id).and_then(Option::as_ref));
                let key = match value {
                    Some(LeadValue::Str(text)) => state::prospect_key(text),
                    _ => String::new(),
                };
                if key.is_empty() {
                    return Ok(failed(label(), format!("`{}` is not set", field.name)));
                }
                let seconds = match since.map(|since| since.kind) {
                    Some(crate::syntax::ast::DurationKind::Fixed { seconds }) => seconds,
                    _ => crate::syntax::ast::PREVIOUS_REP_DEFAULT_SECONDS,
                };
                let from = i64::try_from(seconds)
                    .ok()
                    .and_then(|seconds| {
                        at.checked_sub(jiff::SignedDuration::from_secs(seconds))
                            .ok()
                    })
                    .unwrap_or(Timestamp::MIN);
                let Some((earlier, routed_to)) =
                    state.previous_rep(&field.name, &key, &parsed.id, from, at)?
                else {
                    return Ok(failed(
                        label(),
                        format!(
                            "no earlier lead with this `{}` in the {} before this one",
                            field.name,
                            crate::syntax::ast::look_back(seconds)
                        ),
                    ));
                };
                // The rep who holds the earlier lead now: a sweep or a rejection may have
                // handed it on since it was routed (one prospect, one rep; never back to a
                // rep who gave it up).
                let rep = match state.current_decision(&earlier)? {
                    None => routed_to,
                    Some(current) => match current.action.rep() {
                        Some(rep) => rep.to_string(),
                        None => {
                            return Ok(failed(
                                label(),
                                format!(
                                    "no rep holds the earlier lead with this `{}` (`{earlier}`) \
                                     now: {}",
                                    field.name,
                                    current.action.summary()
                                ),
                            ));
                        }
                    },
                };
                let candidate = self.candidate(state, &rep, None, at, named_calendar)?;
                Ok(self.named(
                    traced,
                    candidate,
                    |rep| Action::Rep { rep },
                    label,
                    Some(format!("had the lead with this `{}` before", field.name)),
                ))
            }
            ActionKind::OwnerOf(field) => {
                let label = || format!("owner of {}", field.name);
                let account = self
                    .policy
                    .field_id(&field.name)
                    .and_then(|id| parsed.lead.values.get(id).and_then(Option::as_ref));
                let account = account.filter(
                    |value| !matches!(value, LeadValue::Str(text) if text.trim().is_empty()),
                );
                let Some(LeadValue::Str(account)) = account else {
                    return Ok(failed(label(), format!("`{}` is not set", field.name)));
                };
                // A CRM's padding is no part of the account's name.
                let account = account.trim();
                let owner = self.roster.and_then(|roster| roster.owner_of(account));
                let Some((owner, how)) = owner else {
                    let reason = match self.roster {
                        None => "no roster, so no account owners are known".to_string(),
                        Some(roster) if !roster.accounts.contains_key(account) => {
                            format!("account `{account}` is not in the roster")
                        }
                        Some(_) => format!("nobody in the family of `{account}` has an owner"),
                    };
                    return Ok(failed(label(), reason));
                };
                let candidate = self.candidate(state, &owner, None, at, named_calendar)?;
                Ok(self.named(
                    traced,
                    candidate,
                    |rep| Action::Owner { rep },
                    label,
                    Some(how),
                ))
            }
        }
    }

    /// The outcome of a named-rep action (`rep`, `owner of`).
    fn named(
        &self,
        traced: bool,
        candidate: Candidate<'_>,
        action: impl FnOnce(Name) -> Action,
        label: impl Fn() -> String,
        how: Option<String>,
    ) -> Attempt {
        let trace = traced.then(|| ActionTrace::Candidates {
            action: Name::from(label()),
            strategy: None,
            candidates: vec![CandidateTrace {
                rep: self.names.shared(candidate.rep),
                eligible: candidate.eligible,
                load: None,
                why: self.spare.borrow_mut().reasons.why(&candidate.why),
                owner: how,
            }],
        });
        if candidate.eligible {
            Attempt::Assigned {
                action: action(self.names.shared(candidate.rep)),
                calendar: candidate.calendar,
                trace,
            }
        } else {
            Attempt::Failed {
                // Made for this decision alone: the rep may be one a lead's field names.
                reason: {
                    let mut reason = String::with_capacity(candidate.rep.len() + 50);
                    reason.push_str(candidate.rep);
                    reason.push_str(": ");
                    candidate.why.write_to(&mut reason);
                    Name::from(reason)
                },
                trace,
                fallback: None,
            }
        }
    }

    /// Whether `rep` (a member of `pool`, or named by a rule) can take a lead at `at`: the
    /// roster's status and absences, the open cap, the period caps (`rep` item over pool), and
    /// for an `on shift` pool the rep's working time. `named_calendar` places absences of a rep
    /// without a calendar of their own.
    fn candidate<'r>(
        &self,
        state: &mut dyn StateStore,
        rep: &'r str,
        pool: Option<&PoolDef>,
        at: Timestamp,
        named_calendar: Option<&CalendarDef>,
    ) -> Result<Candidate<'r>, StateError> {
        let own_calendar = self.policy.member_calendar(pool, rep);
        let calendar = own_calendar
            .and_then(|c| self.policy.calendars.get(c))
            .or(named_calendar);
        let (cap, period_caps) = self.policy.member_caps(pool, rep);
        let assigned = state.assigned(rep, self.loads_since)?;
        let mut candidate = Candidate {
            rep,
            eligible: true,
            why: Why::Said("available"),
            load: assigned,
            calendar: own_calendar,
            opens: None,
            absent: false,
        };
        if self.excluded.borrow().iter().any(|had| had == rep) {
            candidate.eligible = false;
            candidate.why = Why::Said("already had this lead");
            return Ok(candidate);
        }
        if let Some(roster) = self.roster {
            let Some(entry) = roster.reps.get(rep) else {
                candidate.eligible = false;
                candidate.why = Why::Said("not in the roster");
                return Ok(candidate);
            };
            candidate.load = entry.open.saturating_add(assigned);
            match entry.status {
                Status::Available => {}
                Status::Away => {
                    candidate.eligible = false;
                    candidate.why = Why::Said("away");
                    return Ok(candidate);
                }
                Status::Offline => {
                    candidate.eligible = false;
                    candidate.why = Why::Said("offline");
                    return Ok(candidate);
                }
            }
            if !entry.out_of_office.is_empty() {
                let zone = calendar.map_or(jiff::tz::TimeZone::UTC, |c| c.zone.clone());
                if let Some(absence) = roster
                    .absences(rep, &zone)
                    .into_iter()
                    .find(|absence| absence.from <= at && at < absence.to)
                {
                    candidate.eligible = false;
                    candidate.absent = true;
                    candidate.why = Why::Text(if absence.whole_days {
                        let last_day = absence
                            .to
                            .checked_sub(jiff::SignedDuration::from_secs(1))
                            .map(|t| zone.to_datetime(t).date().to_string())
                            .unwrap_or_default();
                        format!("out of office through {last_day}")
                    } else {
                        format!("out of office until {}", absence.to)
                    });
                    return Ok(candidate);
                }
            }
        }
        if let Some(cap) = cap
            && candidate.load >= cap
        {
            candidate.eligible = false;
            candidate.why = Why::AtCap {
                load: candidate.load,
                cap,
            };
            return Ok(candidate);
        }
        let zone = calendar.map_or(jiff::tz::TimeZone::UTC, |c| c.zone.clone());
        for &(period, limit) in period_caps.iter() {
            // The zone is the rep's own or pool's calendar's; a named rep without either is
            // placed by the rule's calendar, which is not cached.
            let window = if own_calendar.is_some() || named_calendar.is_none() {
                self.window(at, period, own_calendar, &zone)
            } else {
                clock::period_window(at, period, &zone)
            };
            let Some((from, to)) = window else {
                continue;
            };
            let count = state.assigned_in(rep, from, to)?;
            if count >= limit {
                let when = match period {
                    crate::model::Period::Hour => "this hour",
                    crate::model::Period::Day => "today",
                    crate::model::Period::Week => "this week",
                };
                candidate.eligible = false;
                candidate.why = Why::AtPeriodCap { count, limit, when };
                return Ok(candidate);
            }
        }
        if pool.is_some_and(|pool| pool.on_shift)
            && let Some(calendar) = own_calendar.and_then(|c| self.policy.calendars.get(c))
            && !calendar.contains(at)
        {
            candidate.eligible = false;
            let (opens, out_of_office) = self.first_opening_in_office(rep, calendar, at);
            candidate.opens = opens;
            candidate.why = Why::Text(match (opens, out_of_office) {
                (Some(opens), false) => {
                    format!("off shift until {}", shift_start(opens, at, calendar))
                }
                (Some(opens), true) => format!(
                    "off shift, then out of office, until {}",
                    shift_start(opens, at, calendar)
                ),
                (None, true) => "off shift, then out of office for the next ten years".to_string(),
                (None, false) => "off shift, with no working time in the next years".to_string(),
            });
        }
        Ok(candidate)
    }

    /// When a member out of office at `at` starts again in an `on shift` pool: their first
    /// opening back, if they are eligible then (their caps counted as at that time); `None`
    /// when they are not, or have no calendar to start by.
    fn back_from_absence(
        &self,
        state: &mut dyn StateStore,
        pool: &PoolDef,
        candidate: &Candidate<'_>,
        at: Timestamp,
    ) -> Result<Option<Timestamp>, StateError> {
        let Some(calendar) = candidate
            .calendar
            .and_then(|c| self.policy.calendars.get(c))
        else {
            return Ok(None);
        };
        let Some(opens) = self.first_opening_in_office(candidate.rep, calendar, at).0 else {
            return Ok(None);
        };
        let pool_calendar = pool.calendar.and_then(|c| self.policy.calendars.get(c));
        let then = self.candidate(state, candidate.rep, Some(pool), opens, pool_calendar)?;
        Ok(then.eligible.then_some(opens))
    }

    /// When an off-shift rep next starts work: their calendar's next opening at which the
    /// roster does not have them out of office (a rep away from before an opening starts at the
    /// first one after the absence), and whether an absence moved it. `None` when there is
    /// none within the calendar's horizon.
    fn first_opening_in_office(
        &self,
        rep: &str,
        calendar: &CalendarDef,
        at: Timestamp,
    ) -> (Option<Timestamp>, bool) {
        let mut opens = clock::next_opening(calendar, at);
        let Some(roster) = self.roster else {
            return (opens, false);
        };
        let absences = roster.absences(rep, &calendar.zone);
        let mut moved = false;
        // Each absence moves the opening past its end; absences that overlap or follow one
        // another move it again, a bounded number of times.
        for _ in 0..=absences.len() {
            let Some(start) = opens else {
                break;
            };
            let Some(absence) = absences
                .iter()
                .find(|absence| absence.from <= start && start < absence.to)
            else {
                return (opens, moved);
            };
            moved = true;
            opens = clock::next_opening(calendar, absence.to)
                .filter(|opens| opens.duration_since(at) <= WAIT_FOR_A_SHIFT);
        }
        // Each absence can move it once: here no opening is left.
        (opens, moved)
    }

    /// A pool's strategy picks a rep among the eligible members.
    fn pick(
        &self,
        state: &mut dyn StateStore,
        pool: &'a PoolDef,
        at: Timestamp,
        traced: bool,
    ) -> Result<Attempt, StateError> {
        // The vector of the last pick, taken for this one and given back after it.
        let mut candidates = self.candidates.take();
        candidates.clear();
        let picked = self.pick_among(state, pool, at, traced, &mut candidates);
        candidates.clear();
        self.candidates.set(candidates);
        picked
    }

    /// Why nobody in `pool` took the lead: "nobody in pool `senior` is eligible: anna at cap
    /// 25/25, boris away". One shared name for the same members passed over for the same
    /// reasons, found by the words those are made of: the pool's name and its members' are the
    /// policy's own texts (`'a`), each at one address for as long as the router lives.
    fn nobody_eligible(&self, pool: &'a PoolDef, candidates: &[Candidate<'a>]) -> Name {
        let weightless = |index: usize, candidate: &Candidate<'_>| {
            matches!(&pool.strategy, StrategyDef::Weighted(weights)
                if candidate.eligible && weights.get(index) == Some(&0))
        };
        let write = |reason: &mut String| {
            reason.push_str("nobody in pool `");
            reason.push_str(&pool.name);
            reason.push_str("` is eligible: ");
            for (index, candidate) in candidates.iter().enumerate() {
                if index > 0 {
                    reason.push_str(", ");
                }
                reason.push_str(candidate.rep);
                if weightless(index, candidate) {
                    reason.push_str(" has weight 0");
                } else {
                    reason.push(' ');
                    candidate.why.write_to(reason);
                }
            }
        };
        let address = |text: &str| text.as_ptr().addr() as u64;
        let mut spare = self.spare.borrow_mut();
        let reasons = &mut spare.reasons;
        let mut parts = std::mem::take(&mut reasons.parts);
        parts.clear();
        parts.extend([address(&pool.name), pool.name.len() as u64]);
        // A pool too large to keep its reasons is not looked up either.
        let mut told_apart = 2 + 6 * candidates.len() <= ReasonNames::MOST_PARTS;
        for (index, candidate) in candidates.iter().enumerate() {
            if !told_apart {
                break;
            }
            let why = if weightless(index, candidate) {
                Some([4, 0, 0, 0])
            } else {
                candidate.why.parts()
            };
            let Some(why) = why else {
                told_apart = false;
                break;
            };
            parts.extend([address(candidate.rep), candidate.rep.len() as u64]);
            parts.extend(why);
        }
        let reason = if told_apart {
            reasons.made_of(&parts, write)
        } else {
            reasons.made(write)
        };
        reasons.parts = parts;
        reason
    }

    fn pick_among(
        &self,
        state: &mut dyn StateStore,
        pool: &'a PoolDef,
        at: Timestamp,
        traced: bool,
        candidates: &mut Vec<Candidate<'a>>,
    ) -> Result<Attempt, StateError> {
        let calendar = pool.calendar.and_then(|c| self.policy.calendars.get(c));
        for member in &pool.members {
            candidates.push(self.candidate(state, member, Some(pool), at, calendar)?);
        }
        let chosen = match &pool.strategy {
            StrategyDef::Ordered => candidates.iter().position(|c| c.eligible),
            StrategyDef::LeastLoaded => candidates
                .iter()
                .enumerate()
                .filter(|(_, c)| c.eligible)
                .min_by_key(|(index, c)| (c.load, *index))
                .map(|(index, _)| index),
            // With nobody eligible no turn is taken: the rotation is not read here (a store
            // shared by several routers locks it to read it); an `on shift` pool's fallback
            // still reads it to break ties (`first_shift`).
            _ if !candidates.iter().any(|candidate| candidate.eligible) => None,
            StrategyDef::RoundRobin => {
                let count = candidates.len();
                let mut text = self.rotation_text.borrow_mut();
                let next: usize = if state.rotation_into(&pool.name, &mut text)? {
                    round_robin_turn(&text, &pool.members)
                } else {
                    0
                };
                let chosen = (0..count)
                    .map(|k| (next + k) % count.max(1))
                    .find(|&i| candidates[i].eligible);
                if let Some(index) = chosen {
                    let after = (index + 1) % count;
                    text.clear();
                    push_number(&mut text, after as u64);
                    if let (Some(next), Some(chosen)) =
                        (pool.members.get(after), pool.members.get(index))
                    {
                        text.push(' ');
                        text.push_str(next);
                        text.push(' ');
                        text.push_str(chosen);
                    }
                    state.set_rotation(&pool.name, &text)?;
                }
                chosen
            }
            StrategyDef::Weighted(weights) => {
                // Smooth weighted round robin: every eligible member gains its weight, the
                // richest is chosen and pays back the total, so 2:1:1 gives a, b, c, a, ...
                let mut text = self.rotation_text.borrow_mut();
                // The vector of the last weighted pick, given back below.
                let mut current = self.standings.take();
                current.clear();
                if state.rotation_into(&pool.name, &mut text)? {
                    weighted_standings(&text, &pool.members, &mut current);
                }
                if current.len() != candidates.len() {
                    current.clear();
                    current.resize(candidates.len(), 0);
                }
                let weight = |index: usize| {
                    i64::try_from(weights.get(index).copied().unwrap_or(0)).unwrap_or(i64::MAX / 4)
                };
                let eligible =
                    || (0..candidates.len()).filter(|&i| candidates[i].eligible && weight(i) > 0);
                let total: i64 = eligible().map(weight).sum();
                for index in eligible() {
                    current[index] = current[index].saturating_add(weight(index));
                }
                let chosen = eligible().max_by_key(|&i| (current[i], std::cmp::Reverse(i)));
                if let Some(index) = chosen {
                    current[index] = current[index].saturating_sub(total);
                    text.clear();
                    for (position, value) in current.iter().enumerate() {
                        if position > 0 {
                            text.push(',');
                        }
                        text.push_str(pool.members.get(position).map_or("", String::as_str));
                        text.push(':');
                        push_signed(&mut text, *value);
                    }
                    state.set_rotation(&pool.name, &text)?;
                }
                self.standings.set(current);
                chosen
            }
        };
        // Made in the list of a spare trace, of shared names: no allocation once it has room.
        let trace = traced.then(|| {
            let mut spare = self.spare.borrow_mut();
            let mut list = spare.candidate_list();
            spare.fit_candidates(&mut list, candidates.len());
            let reasons = &mut spare.reasons;
            let pool_names = self.names.pool(&pool.name);
            let action = match pool_names {
                Some(names) => names.action.clone(),
                None => self.names.pool_action(&pool.name),
            };
            for (index, candidate) in candidates.iter().enumerate() {
                let Some(entry) = list.get_mut(index) else {
                    break;
                };
                entry.rep = self.names.member(pool_names, index, candidate.rep);
                entry.eligible = candidate.eligible;
                entry.load = Some(candidate.load);
                entry.owner = None;
                entry.why = if Some(index) == chosen {
                    reasons.said("chosen")
                } else if candidate.eligible {
                    match pool.strategy {
                        StrategyDef::LeastLoaded => reasons.written(|out| {
                            out.push_str("more open leads (");
                            push_number(out, candidate.load);
                            out.push(')');
                        }),
                        StrategyDef::Ordered => reasons.said("later in the order"),
                        _ => reasons.said("not their turn"),
                    }
                } else {
                    reasons.why(&candidate.why)
                };
            }
            drop(spare);
            ActionTrace::Candidates {
                action,
                strategy: Some(strategy_name(&pool.strategy)),
                candidates: list,
            }
        });
        Ok(match chosen {
            Some(index) => Attempt::Assigned {
                action: {
                    // One look-up for both names: the pool's and its member's.
                    let found = self.names.pool_with_name(&pool.name);
                    Action::Pool {
                        pool: found.map_or_else(
                            || self.names.shared(&pool.name),
                            |(name, _)| name.clone(),
                        ),
                        rep: self.names.member(
                            found.map(|(_, names)| names),
                            index,
                            candidates[index].rep,
                        ),
                    }
                },
                calendar: candidates[index].calendar,
                trace,
            },
            None => {
                let reason = self.nobody_eligible(pool, candidates);
                let fallback = if pool.on_shift {
                    self.first_shift(state, pool, candidates, at)?
                } else {
                    None
                };
                Attempt::Failed {
                    reason,
                    trace,
                    fallback,
                }
            }
        })
    }
}

impl Router<'_> {
    /// In an `on shift` pool where nobody is on shift: the member whose shift opens first. The
    /// strategy breaks ties: round robin from its turn (which it does not move: the fallback
    /// may not be taken), the others in member order.
    fn first_shift(
        &self,
        state: &mut dyn StateStore,
        pool: &PoolDef,
        candidates: &[Candidate<'_>],
        at: Timestamp,
    ) -> Result<Option<Fallback>, StateError> {
        let count = candidates.len().max(1);
        // A member out of office now starts at their first opening back, if they could take
        // the lead then (not at a cap): asked only here, when nobody is on shift.
        let mut opens: Vec<Option<Timestamp>> = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            opens.push(match (candidate.opens, candidate.absent) {
                (Some(opens), _) => Some(opens),
                (None, true) => self.back_from_absence(state, pool, candidate, at)?,
                (None, false) => None,
            });
        }
        let turn: usize = match pool.strategy {
            StrategyDef::RoundRobin => state
                .rotation(&pool.name)?
                .map_or(0, |text| round_robin_turn(&text, &pool.members)),
            _ => 0,
        };
        let first = candidates
            .iter()
            .enumerate()
            .filter_map(|(index, _)| {
                opens[index].map(|opens| (opens, (index + count - turn % count) % count, index))
            })
            .min();
        let Some((opens, _, index)) = first else {
            return Ok(None);
        };
        let candidate = &candidates[index];
        let calendar = candidate
            .calendar
            .and_then(|c| self.policy.calendars.get(c));
        let starts = calendar.map_or_else(|| opens.to_string(), |c| clock::format(opens, Some(c)));
        Ok(Some(Fallback {
            action: Action::Pool {
                pool: self.names.shared(&pool.name),
                rep: self.names.shared(candidate.rep),
            },
            calendar: candidate.calendar,
            opens,
            // Made for this decision alone: the time differs from lead to lead.
            reason: Name::from(format!(
                "nobody on shift; {} starts at {starts}",
                candidate.rep
            )),
        }))
    }
}

/// Whose turn it is in a round robin, from the state's text: `N NEXT LAST`, where `NEXT` is
/// the member after the one chosen last, `N` their position then, and `LAST` the one chosen.
/// `NEXT` decides while that member is in the pool, else the member after `LAST`, so that a
/// policy edit that reorders or removes members neither gives one rep two leads in a row nor
/// skips one; else (both since removed, or a state written before names were kept, `N` alone)
/// the position does.
fn round_robin_turn(text: &str, members: &[String]) -> usize {
    let mut parts = text.split(' ');
    let position = parts.next().unwrap_or_default();
    let place = |name: Option<&str>| {
        name.filter(|name| !name.is_empty())
            .and_then(|name| members.iter().position(|member| member == name))
    };
    if let Some(index) = place(parts.next()) {
        return index;
    }
    if let Some(index) = place(parts.next()) {
        return (index + 1) % members.len().max(1);
    }
    position.parse().unwrap_or(0)
}

/// A weighted pool's standings, from the state's text, in `members`' order: `NAME:SCORE,...`,
/// so that a policy edit that reorders, adds or removes members keeps each one's own score (a
/// member not named starts at 0); a state written before names were kept (`SCORE,...`) is read
/// by position, and only while the pool has as many members.
fn weighted_standings(text: &str, members: &[String], standings: &mut Vec<i64>) {
    if standings_in_order(text.as_bytes(), members, standings).is_some() {
        return;
    }
    standings.clear();
    let entries = text.as_bytes().split(|byte| *byte == b',');
    if !text.as_bytes().contains(&b':') {
        standings.extend(entries.filter_map(parse_i64));
        return;
    }
    standings.resize(members.len(), 0);
    for entry in entries {
        let Some(colon) = entry.iter().position(|byte| *byte == b':') else {
            continue;
        };
        let (name, score) = (&entry[..colon], &entry[colon + 1..]);
        if let (Some(index), Some(score)) = (
            members.iter().position(|member| member.as_bytes() == name),
            parse_i64(score),
        ) && let Some(slot) = standings.get_mut(index)
        {
            *slot = score;
        }
    }
}

/// [`weighted_standings`] of the text this router writes (every member in the pool's order,
/// `NAME:SCORE`, and nothing else), read in one pass; `None` for any other text (the general
/// reading then reads it).
fn standings_in_order(mut rest: &[u8], members: &[String], standings: &mut Vec<i64>) -> Option<()> {
    standings.clear();
    for (position, member) in members.iter().enumerate() {
        if position > 0 {
            rest = rest.strip_prefix(b",")?;
        }
        let member = member.as_bytes();
        if rest.get(member.len()) != Some(&b':') || !same_bytes(rest.get(..member.len())?, member) {
            return None;
        }
        rest = rest.get(member.len() + 1..)?;
        let end = rest
            .iter()
            .position(|byte| *byte == b',')
            .unwrap_or(rest.len());
        standings.push(parse_i64(rest.get(..end)?)?);
        rest = rest.get(end..)?;
    }
    rest.is_empty().then_some(())
}

/// `text` as a decimal `i64`, read as `str::parse::<i64>` reads it (an optional `+` or `-`,
/// then at least one digit and nothing else, within range), from bytes: the weighted
/// standings are read for every lead of a weighted pool.
fn parse_i64(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first()? {
        (b'-', rest) => (true, rest),
        (b'+', rest) => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    // Accumulated negatively, so that `i64::MIN` fits.
    let mut value: i64 = 0;
    for byte in digits {
        let digit = match byte {
            b'0'..=b'9' => i64::from(byte - b'0'),
            _ => return None,
        };
        value = value.checked_mul(10)?.checked_sub(digit)?;
    }
    if negative {
        Some(value)
    } else {
        value.checked_neg()
    }
}

/// Appends `number` in decimal, as `write!` would.
fn push_signed(out: &mut String, number: i64) {
    if number < 0 {
        out.push('-');
    }
    push_number(out, number.unsigned_abs());
}

/// The longest a lead waits for a rep's shift in an `on shift` pool where nobody is on shift:
/// a rep whose absence runs past it (`to: 2099-12-31`) is not waited for, as one who is away.
/// The horizon of due times, ten years.
const WAIT_FOR_A_SHIFT: jiff::SignedDuration = jiff::SignedDuration::from_hours(24 * 3_650);

/// When an off-shift rep starts, as a reason says it: `09:00 Asia/Novosibirsk` on the same
/// local day as the lead, else with the date.
fn shift_start(opens: Timestamp, at: Timestamp, calendar: &CalendarDef) -> String {
    let local = calendar.zone.to_datetime(opens);
    let clock = format!("{:02}:{:02}", local.hour(), local.minute());
    if calendar.zone.to_datetime(at).date() == local.date() {
        format!("{clock} {}", calendar.zone_name())
    } else {
        format!("{} {clock} {}", local.date(), calendar.zone_name())
    }
}

fn strategy_name(strategy: &StrategyDef) -> &'static str {
    match strategy {
        StrategyDef::RoundRobin => "round_robin",
        StrategyDef::Weighted(_) => "weighted",
        StrategyDef::LeastLoaded => "least_loaded",
        StrategyDef::Ordered => "ordered",
    }
}

/// The fields `previous rep of FIELD` reads anywhere in the policy, with their ids.
fn previous_fields(policy: &Policy) -> Vec<(String, crate::model::FieldId)> {
    let mut fields: Vec<(String, crate::model::FieldId)> = Vec::new();
    for rule in &policy.rules {
        for action in &rule.syntax.actions {
            if let ActionKind::PreviousRep { field, .. } = &action.kind
                && let Some(id) = policy.field_id(&field.name)
                && !fields.iter().any(|(name, _)| *name == field.name)
            {
                fields.push((field.name.clone(), id));
            }
        }
    }
    fields
}

/// Which traces a decision is made with: one to show (`--explain`), one for the ledger.
#[derive(Debug, Clone, Copy)]
struct Tracing {
    display: bool,
    record: bool,
}

/// The traces of a decision asked for.
struct Traces {
    display: Option<Trace>,
    recorded: Option<RecordedTrace>,
}

/// A stable hash of the policy text (FNV-1a, 64 bits), recorded with every decision.
pub fn policy_hash(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_list_fitted_to_another_pool_keeps_every_candidate() {
        let mut spare = Spare::default();
        let mut list = Vec::new();
        // A pool of three: three new candidates, marked to be told apart.
        spare.fit_candidates(&mut list, 3);
        assert_eq!(list.len(), 3);
        for (index, candidate) in list.iter_mut().enumerate() {
            candidate.load = Some(index as u64);
        }
        // Then a pool of two: the third is kept aside, not dropped ...
        spare.fit_candidates(&mut list, 2);
        assert_eq!(list.len(), 2);
        assert_eq!(spare.candidates.len(), 1);
        // ... and a pool of three again takes it back.
        spare.fit_candidates(&mut list, 3);
        let loads: Vec<Option<u64>> = list.iter().map(|c| c.load).collect();
        assert_eq!(loads, [Some(0), Some(1), Some(2)]);
        assert!(spare.candidates.is_empty());
        // Candidates beyond what was kept are made new.
        spare.fit_candidates(&mut list, 5);
        assert_eq!(list.len(), 5);
        assert_eq!(list[4].load, None);
    }

    #[test]
    fn a_reason_met_again_is_the_same_shared_name() {
        let mut reasons = ReasonNames::default();
        let chosen = reasons.said("chosen");
        assert_eq!(&*chosen, "chosen");
        assert!(std::sync::Arc::ptr_eq(&chosen, &reasons.said("chosen")));
        let at_cap = reasons.why(&Why::AtCap { load: 25, cap: 25 });
        assert_eq!(&*at_cap, "at cap 25/25");
        assert!(std::sync::Arc::ptr_eq(
            &at_cap,
            &reasons.why(&Why::AtCap { load: 25, cap: 25 })
        ));
        // The same words from another place of the program are the same name too.
        let away = String::from("away");
        assert!(std::sync::Arc::ptr_eq(
            &reasons.why(&Why::Said("away")),
            &reasons.written(|out| out.push_str(&away))
        ));
        // A long text is made for its trace alone, not kept.
        let long = "x".repeat(ReasonNames::LONGEST + 1);
        let made = reasons.written(|out| out.push_str(&long));
        assert_eq!(&*made, long.as_str());
        assert!(!std::sync::Arc::ptr_eq(
            &made,
            &reasons.written(|out| out.push_str(&long))
        ));
    }

    /// A whole reason is written once for its words and found by them after; other words
    /// write their own; too many words or too long a text is made each time, not kept; and
    /// nothing of it fills the trace's texts.
    #[test]
    fn whole_reasons_are_written_once_for_their_words() {
        let mut reasons = ReasonNames::default();
        let writes = std::cell::Cell::new(0);
        let made_of = |reasons: &mut ReasonNames, parts: &[u64], text: &str| {
            reasons.made_of(parts, |out| {
                writes.set(writes.get() + 1);
                out.push_str(text);
            })
        };
        let first = made_of(
            &mut reasons,
            &[1, 2, 3],
            "nobody in pool `a` is eligible: x away",
        );
        let again = made_of(&mut reasons, &[1, 2, 3], "not written");
        assert!(std::sync::Arc::ptr_eq(&first, &again));
        assert_eq!(writes.get(), 1);
        let other = made_of(
            &mut reasons,
            &[1, 2, 4],
            "nobody in pool `a` is eligible: x offline",
        );
        assert_eq!(&*other, "nobody in pool `a` is eligible: x offline");
        assert_eq!(writes.get(), 2);
        let many: Vec<u64> = (0..=ReasonNames::MOST_PARTS as u64).collect();
        let long = "y".repeat(ReasonNames::LONGEST_WHOLE + 1);
        for (parts, text) in [(&many[..], "short"), (&[9][..], long.as_str())] {
            let made = made_of(&mut reasons, parts, text);
            let made_again = made_of(&mut reasons, parts, text);
            assert_eq!(&*made_again, text);
            assert!(!std::sync::Arc::ptr_eq(&made, &made_again));
        }
        assert_eq!(writes.get(), 6);
        assert!(reasons.texts.is_empty());
        // The scratch text does not keep the long one's room.
        assert!(reasons.scratch.capacity() <= ReasonNames::SCRATCH);
    }

    /// A candidate's why gives the same words for the same text and other words for any other.
    #[test]
    fn a_why_s_words_tell_it_apart() {
        let whys = [
            Why::Said("away"),
            Why::Said("offline"),
            Why::AtCap { load: 25, cap: 25 },
            Why::AtCap { load: 2, cap: 1 },
            Why::AtPeriodCap {
                count: 25,
                limit: 25,
                when: "today",
            },
            Why::AtPeriodCap {
                count: 25,
                limit: 25,
                when: "this week",
            },
            Why::AtPeriodCap {
                count: 3,
                limit: 25,
                when: "today",
            },
        ];
        for (at, why) in whys.iter().enumerate() {
            assert_eq!(why.parts(), why.clone().parts());
            for other in &whys[at + 1..] {
                assert_ne!(why.parts(), other.parts(), "{why} and {other}");
            }
        }
        assert_eq!(Why::Text("away until Monday".to_string()).parts(), None);
    }

    #[test]
    fn numbers_and_reasons_are_written_as_write_would() {
        for number in (0..=10_000).chain([
            12_345,
            100_000,
            1_000_001,
            u64::from(u32::MAX),
            u64::MAX / 10,
            u64::MAX,
        ]) {
            let mut out = String::from("x");
            push_number(&mut out, number);
            assert_eq!(out, format!("x{number}"));
        }
        let at_cap = Why::AtCap { load: 25, cap: 25 };
        let at_period = Why::AtPeriodCap {
            count: 3,
            limit: 10,
            when: "today",
        };
        for (why, words) in [
            (&at_cap, "at cap 25/25"),
            (&at_period, "at cap 3/10 today"),
            (&Why::Said("away"), "away"),
            (
                &Why::Text("off shift until 09:00".to_string()),
                "off shift until 09:00",
            ),
        ] {
            let mut out = String::new();
            why.write_to(&mut out);
            assert_eq!(out, words);
            assert_eq!(why.to_string(), words);
            assert_eq!(&*ReasonNames::default().why(why), words);
        }
    }

    #[test]
    fn standings_numbers_read_and_write_as_the_standard_library_does() {
        for text in [
            "0",
            "-0",
            "+0",
            "7",
            "+7",
            "-7",
            "007",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "-9223372036854775809",
            "",
            "-",
            "+",
            "--1",
            "+-1",
            "1-",
            " 1",
            "1 ",
            "1.0",
            "1e3",
            "x",
            "١",
        ] {
            assert_eq!(
                parse_i64(text.as_bytes()),
                text.parse::<i64>().ok(),
                "{text:?}"
            );
        }
        for number in [0, 1, -1, 42, -4_200, i64::MAX, i64::MIN] {
            let mut out = String::from("x");
            push_signed(&mut out, number);
            assert_eq!(out, format!("x{number}"));
        }
    }

    #[test]
    fn weighted_standings_are_read_by_name_then_by_position() {
        let members = ["anna", "boris", "chen"].map(String::from);
        let read = |text: &str| {
            let mut standings = vec![99];
            weighted_standings(text, &members, &mut standings);
            standings
        };
        assert_eq!(read("anna:2,boris:-3,chen:1"), [2, -3, 1]);
        // Reordered, unknown and broken entries: each member keeps its own score, else 0.
        assert_eq!(read("chen:5,dmitri:9,anna:x,boris"), [0, 0, 5]);
        assert_eq!(read("boris:+4,boris:-4"), [0, -4, 0]);
        assert_eq!(read("anna:1:2,chen:9223372036854775807"), [0, 0, i64::MAX]);
        // Written before names were kept: by position, numbers only.
        assert_eq!(read("3,-1,x,2"), [3, -1, 2]);
        assert_eq!(read(""), Vec::<i64>::new());
        // Texts near the one this router writes, read the general way.
        assert_eq!(read("anna:2,boris:-3,chen:1,"), [2, -3, 1]);
        assert_eq!(read("anna:2,boris:-3"), [2, -3, 0]);
        assert_eq!(read("anna:2,boris:-3,chen:1,dmitri:4"), [2, -3, 1]);
        assert_eq!(read("anna:2,boris:x,chen:1"), [2, 0, 1]);
        assert_eq!(read("anna:2,boris:3:4,chen:1"), [2, 0, 1]);
        assert_eq!(read("anna:+2,boris:-0,chen:1"), [2, 0, 1]);
        assert_eq!(read("annaa:2,boris:3,chen:1"), [0, 3, 1]);
        let nobody: [String; 0] = [];
        let mut standings = vec![5];
        weighted_standings("", &nobody, &mut standings);
        assert_eq!(standings, Vec::<i64>::new());
    }
}

#[cfg(test)]
mod fingerprints {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use crate::route::reader::{Limits, parse_lead};
    // Fingerprints are taken in `model`; their tests need the reader and the pipeline above it.

    const SCHEMA: &str = "schema lead { id: string  intent: enum { low, high }  country: string?  \
                          employees: int  score: number  vip: bool?  created_at: time }\n\
                          queue q\n\
                          otherwise -> queue q\n";

    fn policy() -> crate::model::Policy {
        let report = crate::pipeline::check_source(SCHEMA);
        assert_eq!(report.error_count(), 0, "{:?}", report.diagnostics);
        report.compiled.expect("compiled").0
    }

    fn lead(policy: &crate::model::Policy, json: &str) -> crate::model::Lead {
        parse_lead(policy, json.as_bytes(), &Limits::default())
            .unwrap()
            .lead
    }

    const LEAD: &str = r#"{"id":"A-1","intent":"high","country":"Deutschland","employees":800,"score":0.5,"vip":true,"created_at":"2026-11-23T10:00:00Z"}"#;

    /// Fingerprints and digests are stored in states: their values may never change. These
    /// were computed when the second kind was introduced; the legacy ones are what the build
    /// before it (e3abaf1) stored for this lead (`tests/fixtures/legacy/` keeps a ledger it
    /// wrote).
    #[test]
    fn fingerprints_and_digests_keep_their_values() {
        let policy = policy();
        let lead = lead(&policy, LEAD);
        assert_eq!(
            (
                policy.fingerprint(&lead),
                policy.legacy_fingerprint(&lead),
                policy.schema_digest(),
                policy.legacy_schema_digest()
            ),
            (
                9_092_801_483_412_065_613,
                6_021_249_600_839_925_670,
                4_200_529_148_352_735_915,
                6_352_734_635_352_124_238
            )
        );
    }

    /// Any one value changed, a field added or taken away, or a text's bytes moved across a
    /// word's end: another fingerprint. The id is not part of it.
    #[test]
    fn every_value_is_in_the_fingerprint_and_the_id_is_not() {
        let policy = policy();
        let base = policy.fingerprint(&lead(&policy, LEAD));
        let changed = [
            LEAD.replace(r#""high""#, r#""low""#),
            LEAD.replace("Deutschland", "Deutschlanc"),
            LEAD.replace("Deutschland", "Deutschland "),
            LEAD.replace("Deutschland", "Deutschlan"),
            LEAD.replace("800", "801"),
            LEAD.replace("0.5", "0.25"),
            LEAD.replace("true", "false"),
            LEAD.replace("10:00:00Z", "10:00:01Z"),
            LEAD.replace(r#","vip":true"#, ""),
            LEAD.replace(r#""country":"Deutschland","#, ""),
        ];
        let mut seen = std::collections::HashSet::from([base]);
        for json in &changed {
            assert!(
                seen.insert(policy.fingerprint(&lead(&policy, json))),
                "{json}"
            );
        }
        let other_id = LEAD.replace("A-1", "B-2");
        assert_eq!(policy.fingerprint(&lead(&policy, &other_id)), base);
        assert_ne!(policy.schema_digest(), policy.legacy_schema_digest());
        assert!(policy.reads_alike(policy.schema_digest()));
        assert!(policy.reads_alike(policy.legacy_schema_digest()));
        assert!(!policy.reads_alike(policy.legacy_schema_digest() ^ 1));
    }
}
