//! What routing answers, as values: the [`Outcome`] of one input line (a [`Decision`], or the
//! [`LeadError`] that made the line no lead), and the [`Trace`] that explains a decision. The
//! JSON wire format is written and read in one place, [`super::wire`]; nothing else in the core
//! builds or parses decision JSON.

use super::reader::LeadError;
use crate::model::time::LocalTime;
pub use crate::model::{LeadId, Name};

/// The result of routing one input line.
// `Decided` is the common case by far: boxing it to even the variants' sizes would allocate
// once more for every lead routed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A decision: made now, or recorded earlier for the same lead (`duplicate`).
    Decided {
        decision: Decision,
        duplicate: bool,
        /// The rule path and candidates, when explaining (`route --explain`).
        trace: Option<Trace>,
    },
    /// The line is not a lead of the policy's schema.
    Invalid(LeadError),
}

impl Outcome {
    pub fn is_error(&self) -> bool {
        matches!(self, Outcome::Invalid(_))
    }

    pub fn decision(&self) -> Option<&Decision> {
        match self {
            Outcome::Decided { decision, .. } => Some(decision),
            Outcome::Invalid(_) => None,
        }
    }
}

/// Who got the lead, by which rule, and by when they must respond.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The lead's id.
    pub lead: LeadId,
    /// The rule that matched; `None` when no rule did.
    pub rule: Option<RuleRef>,
    pub action: Action,
    /// The SLA's due time, when the rule has one.
    pub due: Option<Due>,
    /// One step per `escalate` clause of the rule, in order.
    pub escalation: Vec<Escalation>,
    /// Why earlier actions of the rule (or the rule search) found nobody, in order.
    pub reasons: Vec<Reason>,
    /// The rule's tags, in the order `tags { ... }` declares them.
    pub tags: Vec<Name>,
    /// The scores the rules on the lead's path read, in declaration order, with their values.
    pub scores: Vec<(Name, i64)>,
}

impl Decision {
    /// This decision emptied for `lead`, as [`Decision::new`] makes it, keeping the memory of
    /// its lists (a router reuses the decisions of leads written out).
    pub fn reuse_for(&mut self, lead: LeadId) {
        self.lead = lead;
        self.rule = None;
        self.action = Action::Unassigned;
        self.due = None;
        self.escalation.clear();
        self.reasons.clear();
        self.tags.clear();
        self.scores.clear();
    }

    /// A decision for `lead` that assigns nothing yet.
    pub fn new(lead: impl Into<LeadId>) -> Decision {
        Decision {
            lead: lead.into(),
            rule: None,
            action: Action::Unassigned,
            due: None,
            escalation: Vec::new(),
            reasons: Vec::new(),
            tags: Vec::new(),
            scores: Vec::new(),
        }
    }
}

/// The rule that decided, as the decision names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    /// The rule's name, or `#N` for an unnamed rule.
    pub label: Name,
    /// The 1-based line of the rule in the policy.
    pub line: usize,
}

/// Where the lead went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A rep chosen by a pool's strategy.
    Pool { pool: Name, rep: Name },
    /// A queue: no rep.
    Queue { queue: Name },
    /// A named rep (`rep NAME` or `rep FIELD`).
    Rep { rep: Name },
    /// The owner of an account (`owner of FIELD`).
    Owner { rep: Name },
    /// Nobody: no rule matched, or every action of the rule found nobody (see the reasons).
    Unassigned,
}

impl Action {
    /// The wire name: `pool`, `queue`, `rep`, `owner` or `unassigned`.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Pool { .. } => "pool",
            Action::Queue { .. } => "queue",
            Action::Rep { .. } => "rep",
            Action::Owner { .. } => "owner",
            Action::Unassigned => "unassigned",
        }
    }

    /// The rep who holds the lead, if any.
    pub fn rep(&self) -> Option<&str> {
        match self {
            Action::Pool { rep, .. } | Action::Rep { rep } | Action::Owner { rep } => Some(rep),
            Action::Queue { .. } | Action::Unassigned => None,
        }
    }

    pub fn pool(&self) -> Option<&str> {
        match self {
            Action::Pool { pool, .. } => Some(pool),
            _ => None,
        }
    }

    pub fn queue(&self) -> Option<&str> {
        match self {
            Action::Queue { queue } => Some(queue),
            _ => None,
        }
    }

    /// "pool senior, rep anna", "queue nurture", "rep sergei", "unassigned".
    pub fn summary(&self) -> String {
        match self {
            Action::Pool { pool, rep } => format!("pool {pool}, rep {rep}"),
            Action::Queue { queue } => format!("queue {queue}"),
            Action::Rep { rep } | Action::Owner { rep } => format!("rep {rep}"),
            Action::Unassigned => "unassigned".to_string(),
        }
    }

    /// "pool `senior` (rep anna)", "queue `nurture`", "rep `sergei`", "`unassigned`".
    pub fn describe(&self) -> String {
        match self {
            Action::Pool { pool, rep } => format!("pool `{pool}` (rep {rep})"),
            Action::Queue { queue } => format!("queue `{queue}`"),
            Action::Rep { rep } | Action::Owner { rep } => format!("rep `{rep}`"),
            Action::Unassigned => "`unassigned`".to_string(),
        }
    }
}

/// An SLA's due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    At(LocalTime),
    /// The calendar has no working time ahead, so no due time exists (`null` on the wire).
    Never,
}

impl Due {
    pub fn time(&self) -> Option<LocalTime> {
        match self {
            Due::At(time) => Some(*time),
            Due::Never => None,
        }
    }
}

/// One escalation step: where the lead goes if nobody responds by `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    /// `None` when the calendar has no working time ahead.
    pub at: Option<LocalTime>,
    pub to: Name,
}

/// Why an action (or the rule search) found nobody.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// The action as written (`rep contact_owner`); `None` when no rule matched.
    pub action: Option<Name>,
    /// Why, in words: a shared name, since most leads of a busy hour are turned away for the
    /// same reason (every member of a pool at its cap).
    pub reason: Name,
}

/// How a decision was reached: the tests on the rule path and every action tried.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Trace {
    pub path: Vec<crate::graph::TraceStep>,
    pub actions: Vec<ActionTrace>,
}

impl Trace {
    /// The trace in a few lines for people: the graph path, then each action with its
    /// candidates (`path: intent = high; fit = strong`, `pool senior: anna (chosen), …`).
    pub fn lines(&self) -> Vec<String> {
        let trace = self;
        let mut lines = Vec::new();
        let path: Vec<String> = trace
            .path
            .iter()
            .map(|step| {
                let value = step.value.to_text();
                if step.branch.is_empty()
                    || step.branch == value
                    || step.branch == format!("\"{value}\"")
                {
                    format!("{} = {value}", step.test)
                } else {
                    format!("{} = {value} ({})", step.test, step.branch)
                }
            })
            .collect();
        if !path.is_empty() {
            lines.push(format!("path: {}", path.join("; ")));
        }
        for action in &trace.actions {
            match action {
                ActionTrace::Candidates {
                    action, candidates, ..
                } => {
                    let shown: Vec<String> = candidates
                        .iter()
                        .map(|c| format!("{} ({})", c.rep, c.why))
                        .collect();
                    lines.push(format!("{action}: {}", shown.join(", ")));
                }
                ActionTrace::Queued { action } => lines.push(format!("{action}: queued")),
                ActionTrace::Failed { action, result } => lines.push(format!("{action}: {result}")),
            }
        }
        lines
    }
}

/// How a decision was reached, as the ledger keeps it (cheap to record for every lead): the tests
/// on its path with the lead's values, and every action tried with its candidates.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordedTrace {
    pub path: Vec<crate::graph::PathStep>,
    pub actions: Vec<ActionTrace>,
    /// When the holder starts on the lead, if later than the lead's time: an `on shift` pool
    /// with nobody on shift waits for its first member to start (after an absence, if they
    /// are away). Known as the lead is routed (what `simulate` counts as a wait for a shift);
    /// not kept in the state, so a trace read back from it has none.
    pub starts: Option<jiff::Timestamp>,
}

impl RecordedTrace {
    /// The trace as people read it, with the names of `policy` (the one that recorded it).
    pub fn describe(&self, policy: &crate::model::Policy) -> Trace {
        Trace {
            path: self.path.iter().map(|step| step.describe(policy)).collect(),
            actions: self.actions.clone(),
        }
    }
}

/// One action of the matched rule, as tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionTrace {
    /// `queue Q`: always takes the lead.
    Queued { action: Name },
    /// The action could not even look for a rep (an unset field, an unknown account).
    Failed { action: Name, result: String },
    /// A pool's members, or a named rep, with why each was or was not chosen.
    Candidates {
        /// The action as written (`pool senior`), shared with the router's names: a store
        /// that keeps traces knows it again by its address.
        action: Name,
        /// The pool's strategy (`round_robin`, …); `None` for a named rep.
        strategy: Option<&'static str>,
        candidates: Vec<CandidateTrace>,
    },
}

/// One candidate rep of an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateTrace {
    /// The rep, shared with the router's names (as a decision's rep is).
    pub rep: Name,
    pub eligible: bool,
    /// Open leads, for pool members.
    pub load: Option<u64>,
    /// `chosen`, `not their turn`, `away`, `at cap 25/25`, …: shared, a text met again and
    /// again being one name.
    pub why: Name,
    /// For `owner of`: how the owner was found.
    pub owner: Option<String>,
}
