//! The resolved policy: the syntax tree of a policy that checked clean, with every name resolved
//! to an index and every condition turned into a [`Cond`] over typed atoms. This is the input of
//! the decision-graph compiler and of evaluation.
//!
//! Architecture invariant: [`Policy::from_file`] is only called on a file without errors; it
//! returns `None` (never panics) when something it needs is missing.

pub mod lead_id;
pub mod scores;
pub mod time;
pub mod types;

use crate::span::Span;
pub use crate::syntax::ast::Period;
use crate::syntax::ast::{self, CmpOp, ExprKind, Number, PolicyFile, ValueKind};
use jiff::Timestamp;
pub use lead_id::LeadId;
pub use scores::{MAX_SCORE_LINES, ScoreDef, ScoreId, ScoreLineDef};
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
pub use types::FieldType;

/// Index of a schema field.
pub type FieldId = usize;

/// A name routing hands on (a lead's id, a rule's label, a pool, a rep, a queue, a tag): shared,
/// not copied, between a router's table of names, the decisions it makes and the leads they came
/// from (the id), so that a decision is made without allocating for its names.
pub type Name = std::sync::Arc<str>;

/// Index of a calendar.
pub type CalendarId = usize;

/// A schema field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDef {
    pub name: String,
    pub ty: FieldType,
    pub optional: bool,
}

/// A calendar's working time, ready to answer "is this instant inside?".
#[derive(Debug, Clone)]
pub struct CalendarDef {
    pub name: String,
    pub zone: jiff::tz::TimeZone,
    /// Working intervals per weekday (Monday first), in seconds since local midnight, half-open.
    pub week: [Vec<(u32, u32)>; 7],
    pub holidays: BTreeSet<jiff::civil::Date>,
    /// The instants the zone's offset changes at (DST), from 1900 to 2200, in order: a day
    /// with one is read through its working intervals' instants ([`CalendarDef::contains`]).
    /// Shared by the calendars of one zone.
    pub shifts: std::sync::Arc<[Timestamp]>,
}

impl CalendarDef {
    /// A calendar of `week`'s hours in `zone`, but on `holidays`.
    pub fn new(
        name: String,
        zone: jiff::tz::TimeZone,
        week: [Vec<(u32, u32)>; 7],
        holidays: BTreeSet<jiff::civil::Date>,
    ) -> CalendarDef {
        let shifts = shifts_of(&zone);
        CalendarDef {
            name,
            zone,
            week,
            holidays,
            shifts,
        }
    }

    /// Whether the zone's offset changes within a day and a few hours of `instant` (or
    /// `instant` is outside the years the changes are known for).
    fn near_a_shift(&self, instant: Timestamp) -> bool {
        const NEAR: i64 = 27 * 3_600;
        let second = instant.as_second();
        if !(SHIFTS_FROM + NEAR..SHIFTS_UNTIL - NEAR).contains(&second) {
            return true;
        }
        let first_after = self
            .shifts
            .partition_point(|shift| shift.as_second() < second - NEAR);
        self.shifts
            .get(first_after)
            .is_some_and(|shift| shift.as_second() <= second + NEAR)
    }

    /// The IANA name of the calendar's time zone (`Europe/Berlin`).
    pub fn zone_name(&self) -> &str {
        // Calendars are built from IANA names only; a zone without one is shown by its offset.
        self.zone.iana_name().unwrap_or("a fixed offset")
    }

    /// The instant of a local time of day on `date` (seconds since midnight; 86,400 is the next
    /// midnight). A time that a DST change skips maps to the instant just after the gap.
    pub fn instant_at(&self, date: jiff::civil::Date, second: u32) -> Option<Timestamp> {
        use jiff::civil::Time;
        let datetime = if second >= 86_400 {
            date.tomorrow().ok()?.to_datetime(Time::midnight())
        } else {
            let time = Time::new(
                i8::try_from(second / 3_600).ok()?,
                i8::try_from(second / 60 % 60).ok()?,
                i8::try_from(second % 60).ok()?,
                0,
            )
            .ok()?;
            date.to_datetime(time)
        };
        self.zone.to_ambiguous_timestamp(datetime).compatible().ok()
    }

    /// Whether `instant` falls in working time (local weekday hours, not a holiday): within
    /// one of its local day's working intervals, each from [`CalendarDef::instant_at`] its
    /// start to its end, as the SLA clock counts working time. On a day the clocks change
    /// that is not the same as reading the wall clock: `00:00-02:30` on the night clocks go
    /// back ends at the first 02:30 (the second 02:10 is outside), and `02:30-04:00` on the
    /// night they go forward begins at 03:30 (the instant after the gap, as 02:30 is read).
    pub fn contains(&self, instant: Timestamp) -> bool {
        let local = self.zone.to_datetime(instant);
        if self.holidays.contains(&local.date()) {
            return false;
        }
        let day = local.weekday().to_monday_zero_offset() as usize;
        if self.near_a_shift(instant) {
            let date = local.date();
            return self.week.get(day).is_some_and(|ranges| {
                ranges.iter().any(|&(start, end)| {
                    match (self.instant_at(date, start), self.instant_at(date, end)) {
                        (Some(open), Some(close)) => open <= instant && instant < close,
                        _ => false,
                    }
                })
            });
        }
        let second = u32::try_from(
            i32::from(local.hour()) * 3600
                + i32::from(local.minute()) * 60
                + i32::from(local.second()),
        )
        .unwrap_or(0);
        self.week.get(day).is_some_and(|ranges| {
            ranges
                .iter()
                .any(|(start, end)| *start <= second && second < *end)
        })
    }
}

/// A numeric point on an ordered field: ints and times as `i128` (times in nanoseconds since the
/// Unix epoch), numbers as `f64` (ordered by `total_cmp`).
#[derive(Debug, Clone, Copy)]
pub enum Scalar {
    Int(i128),
    Float(f64),
}

impl Scalar {
    pub fn from_time(time: Timestamp) -> Scalar {
        Scalar::Int(time.as_nanosecond())
    }

    pub fn as_f64(self) -> f64 {
        match self {
            #[allow(clippy::cast_precision_loss)]
            Scalar::Int(int) => int as f64,
            Scalar::Float(float) => float,
        }
    }
}

impl PartialEq for Scalar {
    fn eq(&self, other: &Scalar) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Scalar {}

impl PartialOrd for Scalar {
    fn partial_cmp(&self, other: &Scalar) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scalar {
    fn cmp(&self, other: &Scalar) -> Ordering {
        match (self, other) {
            (Scalar::Int(left), Scalar::Int(right)) => left.cmp(right),
            (Scalar::Float(left), Scalar::Float(right)) => left.total_cmp(right),
            // Never mixed within one field; order them anyway so that sorting cannot fail.
            (Scalar::Int(_), Scalar::Float(_)) => Ordering::Less,
            (Scalar::Float(_), Scalar::Int(_)) => Ordering::Greater,
        }
    }
}

impl Hash for Scalar {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Scalar::Int(int) => {
                0u8.hash(state);
                int.hash(state);
            }
            Scalar::Float(float) => {
                1u8.hash(state);
                float.to_bits().hash(state);
            }
        }
    }
}

/// One end of a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bound {
    Unbounded,
    Inclusive(Scalar),
    Exclusive(Scalar),
}

/// A test on one field (or on the clock, for calendars). Every atom except `Present` and
/// `Inside` is false when its field is absent: a comparison needs a value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Atom {
    /// The field has a value.
    Present(FieldId),
    /// An enum or bool field's value is one of these variant indices (sorted, unique).
    OneOf { field: FieldId, variants: Vec<u32> },
    /// A string field's value is one of these strings (sorted, unique).
    StrIn { field: FieldId, values: Vec<String> },
    /// An int, number or time field's value lies in `lo..hi`.
    Range {
        field: FieldId,
        lo: Bound,
        hi: Bound,
    },
    /// The lead's clock lies in the calendar's working time.
    Inside(CalendarId),
}

impl Atom {
    /// The field the atom tests, or `None` for calendar tests.
    pub fn field(&self) -> Option<FieldId> {
        match self {
            Atom::Present(field)
            | Atom::OneOf { field, .. }
            | Atom::StrIn { field, .. }
            | Atom::Range { field, .. } => Some(*field),
            Atom::Inside(_) => None,
        }
    }
}

/// A boolean condition over atoms.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Cond {
    True,
    False,
    Atom(Atom),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

impl Cond {
    /// `And` with constant folding and flattening.
    pub fn and(parts: Vec<Cond>) -> Cond {
        let mut out = Vec::with_capacity(parts.len());
        for part in parts {
            match part {
                Cond::True => {}
                Cond::False => return Cond::False,
                Cond::And(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        match out.len() {
            0 => Cond::True,
            1 => out.pop().unwrap_or(Cond::True),
            _ => Cond::And(out),
        }
    }

    /// `Or` with constant folding and flattening.
    pub fn or(parts: Vec<Cond>) -> Cond {
        let mut out = Vec::with_capacity(parts.len());
        for part in parts {
            match part {
                Cond::False => {}
                Cond::True => return Cond::True,
                Cond::Or(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        match out.len() {
            0 => Cond::False,
            1 => out.pop().unwrap_or(Cond::False),
            _ => Cond::Or(out),
        }
    }

    /// `Not` with constant folding.
    pub fn negate(inner: Cond) -> Cond {
        match inner {
            Cond::True => Cond::False,
            Cond::False => Cond::True,
            Cond::Not(inner) => *inner,
            other => Cond::Not(Box::new(other)),
        }
    }

    /// Replaces every atom by `decide(atom)` where it returns a constant, and folds.
    pub fn simplify(&self, decide: &mut impl FnMut(&Atom) -> Option<bool>) -> Cond {
        match self {
            Cond::True | Cond::False => self.clone(),
            Cond::Atom(atom) => match decide(atom) {
                Some(true) => Cond::True,
                Some(false) => Cond::False,
                None => self.clone(),
            },
            Cond::Not(inner) => Cond::negate(inner.simplify(decide)),
            Cond::And(parts) => {
                let mut out = Vec::with_capacity(parts.len());
                for part in parts {
                    match part.simplify(decide) {
                        Cond::False => return Cond::False,
                        Cond::True => {}
                        other => out.push(other),
                    }
                }
                Cond::and(out)
            }
            Cond::Or(parts) => {
                let mut out = Vec::with_capacity(parts.len());
                for part in parts {
                    match part.simplify(decide) {
                        Cond::True => return Cond::True,
                        Cond::False => {}
                        other => out.push(other),
                    }
                }
                Cond::or(out)
            }
        }
    }

    /// Calls `visit` on every atom.
    pub fn for_each_atom(&self, visit: &mut impl FnMut(&Atom)) {
        match self {
            Cond::True | Cond::False => {}
            Cond::Atom(atom) => visit(atom),
            Cond::Not(inner) => inner.for_each_atom(visit),
            Cond::And(parts) | Cond::Or(parts) => {
                for part in parts {
                    part.for_each_atom(visit);
                }
            }
        }
    }
}

/// A value a lead holds for one field.
#[derive(Debug, Clone, PartialEq)]
pub enum LeadValue {
    /// An enum variant index, or a bool as 0 (false) / 1 (true).
    Variant(u32),
    Str(String),
    Scalar(Scalar),
}

/// A lead's value as people and JSON see it: variants by name, times as RFC 3339.
#[derive(Debug, Clone, PartialEq)]
pub enum ShownValue {
    /// The lead has no value for the field.
    Absent,
    Bool(bool),
    Int(i128),
    Number(f64),
    Text(String),
    Time(time::LocalTime),
}

impl ShownValue {
    /// The value as people read it: text unquoted, `not set` when absent.
    pub fn to_text(&self) -> String {
        match self {
            ShownValue::Absent => "not set".to_string(),
            ShownValue::Text(text) => text.clone(),
            ShownValue::Time(time) => time.to_string(),
            other => other.to_json(),
        }
    }

    /// The value as JSON text (`"emea"`, `20000`, `true`, `null`).
    pub fn to_json(&self) -> String {
        match self {
            ShownValue::Absent => "null".to_string(),
            ShownValue::Bool(value) => value.to_string(),
            ShownValue::Int(value) => value.to_string(),
            ShownValue::Number(float) => {
                if float.fract() == 0.0 && float.abs() < 1e15 {
                    format!("{float:.0}")
                } else {
                    serde_json::Number::from_f64(*float)
                        .map_or("null".to_string(), |n| n.to_string())
                }
            }
            ShownValue::Text(text) => serde_json::Value::String(text.clone()).to_string(),
            ShownValue::Time(time) => format!("\"{time}\""),
        }
    }
}

/// A lead as evaluation sees it: one optional value per schema field, in schema order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Lead {
    pub values: Vec<Option<LeadValue>>,
}

/// A rule, resolved.
#[derive(Debug, Clone)]
pub struct RuleDef {
    /// The name, or `#N` for an unnamed rule.
    pub label: String,
    pub position: usize,
    /// The 1-based line of the rule's start.
    pub line: usize,
    pub cond: Cond,
    pub is_otherwise: bool,
    pub span: Span,
    /// The rule's name, or its `when` / `otherwise` keyword.
    pub head_span: Span,
    pub syntax: ast::Rule,
    /// The tags the rule adds to its decisions, as indices into [`Policy::tags`], ascending.
    pub tags: Vec<usize>,
    /// The scores this rule's own condition reads, ascending (what its examples show).
    pub reads: Vec<ScoreId>,
    /// The scores read by this rule's condition and every rule before it: what a decision by
    /// this rule reports.
    pub path_scores: Vec<ScoreId>,
}

/// A policy ready to compile and evaluate.
#[derive(Debug, Clone)]
pub struct Policy {
    pub fields: Vec<FieldDef>,
    /// The field that is the lead's clock: `created_at`, else the only `time` field.
    pub clock: Option<FieldId>,
    pub calendars: Vec<CalendarDef>,
    pub rules: Vec<RuleDef>,
    /// Declared queue names, in file order.
    pub queues: Vec<String>,
    /// Declared pools, in file order.
    pub pools: Vec<PoolDef>,
    /// `rep` items, in file order: reps with a calendar or caps of their own.
    pub reps: Vec<RepDef>,
    pub scores: Vec<ScoreDef>,
    /// The declared tags, in declaration order (the order decisions list them in).
    pub tags: Vec<String>,
    /// The scores read by any rule: what a decision that no rule made reports.
    pub all_rule_scores: Vec<ScoreId>,
}

impl Policy {
    /// A lead's value for `field`, as people and JSON see it.
    pub fn shown(&self, field: FieldId, value: &LeadValue) -> ShownValue {
        let Some(def) = self.fields.get(field) else {
            return ShownValue::Absent;
        };
        match (value, &def.ty) {
            (LeadValue::Variant(v), FieldType::Enum(variants)) => {
                ShownValue::Text(variants.get(*v as usize).cloned().unwrap_or_default())
            }
            (LeadValue::Variant(v), _) => ShownValue::Bool(*v == 1),
            (LeadValue::Str(text), _) => ShownValue::Text(text.clone()),
            (LeadValue::Scalar(Scalar::Int(nanos)), FieldType::Time) => {
                match Timestamp::from_nanosecond(*nanos) {
                    Ok(instant) => ShownValue::Time(time::LocalTime::utc(instant)),
                    Err(_) => ShownValue::Absent,
                }
            }
            (LeadValue::Scalar(Scalar::Int(int)), _) => ShownValue::Int(*int),
            (LeadValue::Scalar(Scalar::Float(float)), _) => ShownValue::Number(*float),
        }
    }
}

/// How a pool picks a rep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrategyDef {
    RoundRobin,
    /// Weights in member order.
    Weighted(Vec<u64>),
    LeastLoaded,
    Ordered,
}

/// A pool, resolved.
#[derive(Debug, Clone)]
pub struct PoolDef {
    pub name: String,
    pub members: Vec<String>,
    pub strategy: StrategyDef,
    /// `cap N`: the most open leads a member may hold.
    pub cap: Option<u64>,
    /// `cap N per PERIOD`, at most one per period, in period order.
    pub period_caps: Vec<(Period, u64)>,
    pub calendar: Option<CalendarId>,
    /// `on shift`: a member is eligible only while their working time is open.
    pub on_shift: bool,
}

/// A `rep` item, resolved: what it gives overrides the pool's for this rep.
#[derive(Debug, Clone)]
pub struct RepDef {
    pub name: String,
    pub calendar: Option<CalendarId>,
    pub cap: Option<u64>,
    pub period_caps: Vec<(Period, u64)>,
}

/// The open cap and the period caps written in a pool or `rep` item.
fn resolve_caps(caps: &[ast::Cap]) -> (Option<u64>, Vec<(Period, u64)>) {
    let open = caps
        .iter()
        .find(|cap| cap.period.is_none())
        .map(|cap| cap.limit.value);
    let mut periods: Vec<(Period, u64)> = Vec::new();
    for cap in caps {
        if let Some(period) = &cap.period
            && !periods.iter().any(|(seen, _)| *seen == period.value)
        {
            periods.push((period.value, cap.limit.value));
        }
    }
    periods.sort();
    (open, periods)
}

impl Policy {
    /// Every rep the policy names (pool members and `rep` items), each once, in file order.
    pub fn rep_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        let members = self.pools.iter().flat_map(|pool| pool.members.iter());
        for name in members.chain(self.reps.iter().map(|rep| &rep.name)) {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        names
    }

    /// The `rep` item of `name`, if there is one.
    pub fn rep_def(&self, name: &str) -> Option<&RepDef> {
        self.reps.iter().find(|rep| rep.name == name)
    }

    /// Whether `name` is a rep this policy names: a member of a pool or a `rep` item (what
    /// `check` resolves an `escalate` target against, after pools and queues).
    pub fn knows_rep(&self, name: &str) -> bool {
        self.reps.iter().any(|rep| rep.name == name)
            || self
                .pools
                .iter()
                .any(|pool| pool.members.iter().any(|member| member == name))
    }

    /// The calendar of a member of `pool`: the rep's own, else the pool's.
    pub fn member_calendar(&self, pool: Option<&PoolDef>, rep: &str) -> Option<CalendarId> {
        self.rep_def(rep)
            .and_then(|def| def.calendar)
            .or_else(|| pool.and_then(|pool| pool.calendar))
    }

    /// A member's caps in `pool`: the rep item's of a period, else the pool's (borrowed when
    /// the rep has no `rep` item: the common case costs no allocation).
    pub fn member_caps<'p>(
        &'p self,
        pool: Option<&'p PoolDef>,
        rep: &str,
    ) -> (Option<u64>, std::borrow::Cow<'p, [(Period, u64)]>) {
        let own = self.rep_def(rep);
        if own.is_none() {
            return (
                pool.and_then(|pool| pool.cap),
                std::borrow::Cow::Borrowed(pool.map_or(&[][..], |pool| &pool.period_caps[..])),
            );
        }
        let open = own
            .and_then(|def| def.cap)
            .or_else(|| pool.and_then(|pool| pool.cap));
        let mut periods: Vec<(Period, u64)> =
            own.map(|def| def.period_caps.clone()).unwrap_or_default();
        if let Some(pool) = pool {
            for (period, limit) in &pool.period_caps {
                if !periods.iter().any(|(seen, _)| seen == period) {
                    periods.push((*period, *limit));
                }
            }
        }
        periods.sort();
        (open, std::borrow::Cow::Owned(periods))
    }
}

impl Policy {
    /// Whether a pool or a `rep` item has a `cap N per PERIOD`: whether routing ever counts a
    /// rep's leads by their own times.
    pub fn has_period_caps(&self) -> bool {
        self.pools.iter().any(|pool| !pool.period_caps.is_empty())
            || self.reps.iter().any(|rep| !rep.period_caps.is_empty())
    }

    /// Resolves a checked file. `None` when the file lacks what resolution needs (it then also
    /// has errors, which the checker reported).
    pub fn from_file(file: &PolicyFile, text: &str) -> Option<Policy> {
        let lines = crate::span::LineIndex::new(text);
        let schema = file.schemas.first()?;
        let mut fields = Vec::new();
        for field in &schema.fields {
            let ty = match &field.ty {
                ast::TypeExpr::Named(name) => FieldType::from_name(&name.name)?,
                ast::TypeExpr::Enum { variants, .. } => FieldType::Enum(
                    variants
                        .iter()
                        .map(|v| v.name.clone())
                        .collect::<Vec<_>>()
                        .into(),
                ),
            };
            fields.push(FieldDef {
                name: field.name.name.clone(),
                ty,
                optional: field.optional,
            });
        }
        let clock = fields
            .iter()
            .position(|f| f.name == "created_at" && f.ty == FieldType::Time)
            .or_else(|| {
                let times: Vec<usize> = fields
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| f.ty == FieldType::Time)
                    .map(|(i, _)| i)
                    .collect();
                (times.len() == 1).then(|| times[0])
            });
        let mut calendars = Vec::new();
        for calendar in &file.calendars {
            calendars.push(calendar_def(calendar)?);
        }
        let mut policy = Policy {
            fields,
            clock,
            calendars,
            rules: Vec::new(),
            queues: file.queues.iter().map(|q| q.name.name.clone()).collect(),
            pools: Vec::new(),
            reps: Vec::new(),
            scores: Vec::new(),
            tags: file
                .tags
                .iter()
                .flat_map(|tags| &tags.names)
                .map(|name| name.name.clone())
                .fold(Vec::new(), |mut tags, name| {
                    if !tags.contains(&name) {
                        tags.push(name);
                    }
                    tags
                }),
            all_rule_scores: Vec::new(),
        };
        for score in &file.scores {
            if score.lines.len() > MAX_SCORE_LINES {
                return None;
            }
            let mut lines = Vec::new();
            for line in &score.lines {
                lines.push(ScoreLineDef {
                    points: line.points.value,
                    // Lines read fields only: a score named here is an error the checker reported.
                    cond: policy.cond(&line.condition)?,
                    condition_span: line.condition.span,
                    span: line.span,
                });
            }
            policy.scores.push(ScoreDef {
                name: score.name.name.clone(),
                lines,
                span: score.span,
            });
        }
        for pool in &file.pools {
            let members: Vec<String> = pool.members.iter().map(|m| m.name.clone()).collect();
            let strategy = match pool.strategies.first() {
                None => StrategyDef::RoundRobin,
                Some(ast::Strategy::Named(name)) => match name.name.as_str() {
                    "round_robin" => StrategyDef::RoundRobin,
                    "least_loaded" => StrategyDef::LeastLoaded,
                    "ordered" => StrategyDef::Ordered,
                    _ => return None,
                },
                Some(ast::Strategy::Weighted { weights, .. }) => StrategyDef::Weighted(
                    members
                        .iter()
                        .map(|member| {
                            weights
                                .iter()
                                .find(|w| &w.member.name == member)
                                .map_or(0, |w| w.weight.value)
                        })
                        .collect(),
                ),
            };
            let calendar = match pool.calendars.first() {
                Some(name) => Some(policy.calendars.iter().position(|c| c.name == name.name)?),
                None => None,
            };
            let (cap, period_caps) = resolve_caps(&pool.caps);
            policy.pools.push(PoolDef {
                name: pool.name.name.clone(),
                members,
                strategy,
                cap,
                period_caps,
                calendar,
                on_shift: !pool.on_shift.is_empty(),
            });
        }
        for item in &file.reps {
            let calendar = match item.calendars.first() {
                Some(name) => Some(policy.calendars.iter().position(|c| c.name == name.name)?),
                None => None,
            };
            let (cap, period_caps) = resolve_caps(&item.caps);
            policy.reps.push(RepDef {
                name: item.name.name.clone(),
                calendar,
                cap,
                period_caps,
            });
        }
        let mut path_scores: Vec<ScoreId> = Vec::new();
        for rule in &file.rules {
            let cond = match &rule.condition {
                Some(expr) => policy.cond(expr)?,
                None => Cond::True,
            };
            let mut reads: Vec<ScoreId> = Vec::new();
            if let Some(expr) = &rule.condition {
                let mut names = Vec::new();
                let is_score =
                    |name: &str| policy.field_id(name).is_none() && policy.score_id(name).is_some();
                scores::scores_read(expr, &is_score, &mut names);
                reads = names
                    .iter()
                    .filter_map(|name| policy.score_id(name))
                    .collect();
                reads.sort_unstable();
            }
            path_scores.extend(&reads);
            path_scores.sort_unstable();
            path_scores.dedup();
            let mut tags: Vec<usize> = rule
                .tags
                .iter()
                .map(|tag| policy.tags.iter().position(|known| *known == tag.name))
                .collect::<Option<_>>()?;
            tags.sort_unstable();
            tags.dedup();
            policy.rules.push(RuleDef {
                label: rule.label(),
                position: rule.position,
                line: lines.line_column(rule.span.start).line,
                cond,
                is_otherwise: rule.condition.is_none(),
                span: rule.span,
                head_span: rule.head_span(),
                syntax: rule.clone(),
                tags,
                reads,
                path_scores: path_scores.clone(),
            });
        }
        policy.all_rule_scores = path_scores;
        Some(policy)
    }

    pub fn field_id(&self, name: &str) -> Option<FieldId> {
        self.fields.iter().position(|f| f.name == name)
    }

    pub fn cond(&self, expr: &ast::Expr) -> Option<Cond> {
        Some(match &expr.kind {
            ExprKind::And(parts) => {
                Cond::and(parts.iter().map(|p| self.cond(p)).collect::<Option<_>>()?)
            }
            ExprKind::Or(parts) => {
                Cond::or(parts.iter().map(|p| self.cond(p)).collect::<Option<_>>()?)
            }
            ExprKind::Not(inner) => Cond::negate(self.cond(inner)?),
            ExprKind::Calendar { inside, calendar } => {
                let id = self
                    .calendars
                    .iter()
                    .position(|c| c.name == calendar.name)?;
                let atom = Cond::Atom(Atom::Inside(id));
                if *inside { atom } else { Cond::negate(atom) }
            }
            ExprKind::IsSet { field, negated } => {
                if self.field_id(&field.name).is_none() && self.score_id(&field.name).is_some() {
                    // A score always has a value.
                    return Some(if *negated { Cond::False } else { Cond::True });
                }
                let atom = Cond::Atom(Atom::Present(self.field_id(&field.name)?));
                if *negated { Cond::negate(atom) } else { atom }
            }
            ExprKind::Compare { field, op, value } => match self.field_id(&field.name) {
                Some(id) => self.compare(id, op.value, value)?,
                None => self.score_compare(self.score_id(&field.name)?, op.value, value)?,
            },
            ExprKind::In {
                field,
                negated,
                values,
            } => {
                let Some(id) = self.field_id(&field.name) else {
                    return self.score_in(self.score_id(&field.name)?, values, *negated);
                };
                let member = self.one_of(id, values)?;
                if *negated {
                    Cond::and(vec![Cond::Atom(Atom::Present(id)), Cond::negate(member)])
                } else {
                    member
                }
            }
        })
    }

    /// `field in {values}` as a condition.
    fn one_of(&self, field: FieldId, values: &[ast::Value]) -> Option<Cond> {
        match &self.fields.get(field)?.ty {
            FieldType::Enum(_) | FieldType::Bool => {
                let mut variants: Vec<u32> = values
                    .iter()
                    .map(|v| self.variant(field, v))
                    .collect::<Option<_>>()?;
                variants.sort_unstable();
                variants.dedup();
                Some(Cond::Atom(Atom::OneOf { field, variants }))
            }
            FieldType::String => {
                let mut strings: Vec<String> = values
                    .iter()
                    .map(|v| match &v.kind {
                        ValueKind::Str(text) => Some(text.clone()),
                        _ => None,
                    })
                    .collect::<Option<_>>()?;
                strings.sort();
                strings.dedup();
                Some(Cond::Atom(Atom::StrIn {
                    field,
                    values: strings,
                }))
            }
            _ => Some(Cond::or(
                values
                    .iter()
                    .map(|v| self.compare(field, CmpOp::Eq, v))
                    .collect::<Option<_>>()?,
            )),
        }
    }

    /// The variant index of an enum or bool literal.
    pub fn variant(&self, field: FieldId, value: &ast::Value) -> Option<u32> {
        let ValueKind::Word(word) = &value.kind else {
            return None;
        };
        match &self.fields.get(field)?.ty {
            FieldType::Enum(variants) => variants.position(word),
            FieldType::Bool => match word.as_str() {
                "false" => Some(0),
                "true" => Some(1),
                _ => None,
            },
            _ => None,
        }
    }

    /// The scalar of a literal on an ordered field.
    pub fn scalar(&self, field: FieldId, value: &ast::Value) -> Option<Scalar> {
        match (&self.fields.get(field)?.ty, &value.kind) {
            (FieldType::Int, ValueKind::Number(Number::Int(int))) => {
                Some(Scalar::Int(i128::from(*int)))
            }
            (FieldType::Number, ValueKind::Number(number)) => Some(Scalar::Float(number.as_f64())),
            (FieldType::Time, ValueKind::Time(time)) => Some(Scalar::from_time(*time)),
            _ => None,
        }
    }

    fn compare(&self, field: FieldId, op: CmpOp, value: &ast::Value) -> Option<Cond> {
        let ty = &self.fields.get(field)?.ty;
        if !ty.is_ordered() {
            let member = self.one_of(field, std::slice::from_ref(value))?;
            return Some(match op {
                CmpOp::Eq => member,
                _ => Cond::and(vec![Cond::Atom(Atom::Present(field)), Cond::negate(member)]),
            });
        }
        let point = self.scalar(field, value)?;
        let range = |lo: Bound, hi: Bound| Cond::Atom(normalize_range(ty, field, lo, hi));
        Some(match op {
            CmpOp::Eq => range(Bound::Inclusive(point), Bound::Inclusive(point)),
            CmpOp::Ne => Cond::or(vec![
                range(Bound::Unbounded, Bound::Exclusive(point)),
                range(Bound::Exclusive(point), Bound::Unbounded),
            ]),
            CmpOp::Lt => range(Bound::Unbounded, Bound::Exclusive(point)),
            CmpOp::Le => range(Bound::Unbounded, Bound::Inclusive(point)),
            CmpOp::Gt => range(Bound::Exclusive(point), Bound::Unbounded),
            CmpOp::Ge => range(Bound::Inclusive(point), Bound::Unbounded),
        })
    }
}

/// On discrete fields (ints, times in nanoseconds) every bound is made inclusive, so that equal
/// sets of values have equal atoms.
fn normalize_range(ty: &FieldType, field: FieldId, lo: Bound, hi: Bound) -> Atom {
    let discrete = matches!(ty, FieldType::Int | FieldType::Time);
    let (lo, hi) = if discrete {
        let lo = match lo {
            Bound::Exclusive(Scalar::Int(v)) => Bound::Inclusive(Scalar::Int(v.saturating_add(1))),
            other => other,
        };
        let hi = match hi {
            Bound::Exclusive(Scalar::Int(v)) => Bound::Inclusive(Scalar::Int(v.saturating_sub(1))),
            other => other,
        };
        (lo, hi)
    } else {
        (lo, hi)
    };
    Atom::Range { field, lo, hi }
}

fn calendar_def(calendar: &ast::Calendar) -> Option<CalendarDef> {
    let zone_name = calendar.timezones.first()?;
    let zone = jiff::tz::db().get(&zone_name.value).ok()?;
    let mut week: [Vec<(u32, u32)>; 7] = Default::default();
    for hours in &calendar.hours {
        for days in &hours.days {
            let (first, last) = (days.first as usize, days.last as usize);
            for ranges in week.iter_mut().take(last + 1).skip(first) {
                for range in &hours.times {
                    ranges.push((range.start.minutes() * 60, range.end.minutes() * 60));
                }
            }
        }
    }
    for ranges in &mut week {
        ranges.sort_unstable();
    }
    let holidays = calendar
        .holidays
        .iter()
        .filter_map(|h| h.value.parse::<jiff::civil::Date>().ok())
        .collect();
    Some(CalendarDef::new(
        calendar.name.name.clone(),
        zone,
        week,
        holidays,
    ))
}

/// The offset changes of `zone` from 1900 to 2200, computed once per zone in a process: a
/// policy of thousands of calendars in one zone (a few hundred changes each) holds one list.
fn shifts_of(zone: &jiff::tz::TimeZone) -> std::sync::Arc<[Timestamp]> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static KNOWN: OnceLock<Mutex<HashMap<String, Arc<[Timestamp]>>>> = OnceLock::new();
    let compute = || -> Arc<[Timestamp]> {
        match (
            Timestamp::from_second(SHIFTS_FROM),
            Timestamp::from_second(SHIFTS_UNTIL),
        ) {
            (Ok(from), Ok(until)) => zone
                .following(from)
                .map(|shift| shift.timestamp())
                .take_while(|at| *at <= until)
                .collect(),
            _ => Arc::from(Vec::new()),
        }
    };
    let Some(name) = zone.iana_name() else {
        return compute();
    };
    let Ok(mut known) = KNOWN.get_or_init(|| Mutex::new(HashMap::new())).lock() else {
        return compute();
    };
    Arc::clone(known.entry(name.to_string()).or_insert_with(compute))
}

/// The years whose offset changes a calendar keeps (1900-01-01 to 2200-01-01, in seconds since
/// the Unix epoch); an instant outside them is read the slow way, through the day's intervals.
const SHIFTS_FROM: i64 = -2_208_988_800;
const SHIFTS_UNTIL: i64 = 7_258_118_400;

/// FNV-1a, 64 bits: stable across runs and machines (digests are stored in the state).
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn byte(&mut self, byte: u8) {
        self.0 ^= u64::from(byte);
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.byte(*byte);
        }
    }

    /// A text and its end, so that `ab`+`c` and `a`+`bc` differ.
    fn text(&mut self, text: &str) {
        self.bytes(text.as_bytes());
        self.byte(0xff);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A 64-bit hash of 64-bit words, eight bytes a step: stable across runs and machines (lead
/// fingerprints are stored in the state). Each step is a bijection of the state for a given
/// word (an exclusive or, a multiplication by an odd constant, a shift folded back), and so is
/// the finish, so two inputs of the same words but one never hash alike.
struct Words(u64);

impl Words {
    fn new() -> Words {
        Words(0x2545_f491_4f6c_dd1d)
    }

    fn word(&mut self, word: u64) {
        let mixed = (self.0 ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = mixed ^ (mixed >> 29);
    }

    /// Bytes and their length (so that `ab`+`c` and `a`+`bc` differ), little-endian words,
    /// the last one padded with zeros.
    fn bytes(&mut self, bytes: &[u8]) {
        self.word(bytes.len() as u64);
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.word(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // The last eight bytes shifted down past those already taken (one load, no copy of
            // a length known only now), else the few bytes there are.
            let word = match bytes
                .get(bytes.len().saturating_sub(8)..)
                .map(<[u8; 8]>::try_from)
            {
                Some(Ok(last)) => u64::from_le_bytes(last) >> (8 * (8 - rest.len())),
                _ => rest
                    .iter()
                    .rev()
                    .fold(0u64, |word, byte| (word << 8) | u64::from(*byte)),
            };
            self.word(word);
        }
    }

    /// The state through MurmurHash3's finalizer, so that every bit of it moves every bit of
    /// the hash.
    fn finish(&self) -> u64 {
        let mut hash = self.0;
        hash ^= hash >> 33;
        hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
        hash ^= hash >> 33;
        hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        hash ^ (hash >> 33)
    }
}

/// Context that evaluation needs besides the lead: the time to use when the lead has no clock.
#[derive(Debug, Clone, Copy)]
pub struct EvalContext {
    pub now: Timestamp,
}

impl Policy {
    /// The instant calendar tests look at: the lead's clock field, else `now`.
    pub fn clock_of(&self, lead: &Lead, context: &EvalContext) -> Timestamp {
        self.clock
            .and_then(|field| match lead.values.get(field) {
                // A valid time beyond what jiff represents (the last hours of 9999) is the
                // latest instant there is, never `now`.
                Some(Some(LeadValue::Scalar(Scalar::Int(nanos)))) => {
                    Some(time::instant_of_nanos(*nanos).unwrap_or(if *nanos > 0 {
                        Timestamp::MAX
                    } else {
                        Timestamp::MIN
                    }))
                }
                _ => None,
            })
            .unwrap_or(context.now)
    }

    /// A stable 64-bit digest of the schema the policy reads leads with (field names, types,
    /// optionality) and of how lead [fingerprints](Policy::fingerprint) are taken. Two
    /// policies with one digest read a lead alike, so their lead fingerprints compare.
    pub fn schema_digest(&self) -> u64 {
        let mut hash = Fnv::new();
        hash.bytes(&self.legacy_schema_digest().to_le_bytes());
        // Fingerprints of the second kind (eight bytes a step): a fingerprint of the first
        // kind is never compared with one of these as if they were alike.
        hash.text("fingerprint 2");
        hash.finish()
    }

    /// Whether a fingerprint taken with schema digest `schema` was taken with this policy's
    /// schema ([`Policy::schema_digest`], or [`Policy::legacy_schema_digest`] before it).
    pub fn reads_alike(&self, schema: u64) -> bool {
        schema == self.schema_digest() || schema == self.legacy_schema_digest()
    }

    /// The digest of the schema alone, as builds before fingerprints of the second kind took
    /// it: what ledger entries they recorded carry beside a [legacy
    /// fingerprint](Policy::legacy_fingerprint).
    pub fn legacy_schema_digest(&self) -> u64 {
        let mut hash = Fnv::new();
        for field in &self.fields {
            hash.text(&field.name);
            hash.text(&field.ty.to_string());
            hash.byte(u8::from(field.optional));
        }
        hash.finish()
    }

    /// A stable 64-bit digest of what the policy reads of a lead: every field but `id`, by its
    /// place in the schema (the [schema digest](Policy::schema_digest) names the fields) and
    /// its value, eight bytes a step. Two leads with the same id and different fingerprints
    /// are different leads.
    pub fn fingerprint(&self, lead: &Lead) -> u64 {
        let mut hash = Words::new();
        for (index, (field, value)) in self.fields.iter().zip(&lead.values).enumerate() {
            let Some(value) = value else { continue };
            if field.name == "id" {
                continue;
            }
            // The field's place and the value's kind, in one word.
            let kind = |tag: u64| ((index as u64) << 8) | tag;
            match value {
                LeadValue::Variant(variant) => {
                    hash.word(kind(1));
                    hash.word(u64::from(*variant));
                }
                LeadValue::Str(text) => {
                    hash.word(kind(2));
                    hash.bytes(text.as_bytes());
                }
                LeadValue::Scalar(Scalar::Int(int)) => {
                    // Times are nanoseconds in 128 bits: the low word, then the high.
                    hash.word(kind(3));
                    hash.word(*int as u64);
                    hash.word((*int >> 64) as u64);
                }
                LeadValue::Scalar(Scalar::Float(float)) => {
                    hash.word(kind(4));
                    hash.word(float.to_bits());
                }
            }
        }
        hash.finish()
    }

    /// The fingerprint as builds before the second kind took it (FNV-1a over every field's
    /// name and value, a byte a step): a ledger entry they recorded is compared with it.
    pub fn legacy_fingerprint(&self, lead: &Lead) -> u64 {
        let mut hash = Fnv::new();
        for (field, value) in self.fields.iter().zip(&lead.values) {
            let Some(value) = value else { continue };
            if field.name == "id" {
                continue;
            }
            hash.text(&field.name);
            match value {
                LeadValue::Variant(variant) => {
                    hash.byte(1);
                    hash.bytes(&variant.to_le_bytes());
                }
                LeadValue::Str(text) => {
                    hash.byte(2);
                    hash.text(text);
                }
                LeadValue::Scalar(Scalar::Int(int)) => {
                    hash.byte(3);
                    hash.bytes(&int.to_le_bytes());
                }
                LeadValue::Scalar(Scalar::Float(float)) => {
                    hash.byte(4);
                    hash.bytes(&float.to_bits().to_le_bytes());
                }
            }
        }
        hash.finish()
    }

    /// Whether an atom holds for a lead.
    pub fn atom_holds(&self, atom: &Atom, lead: &Lead, context: &EvalContext) -> bool {
        let value = |field: &FieldId| lead.values.get(*field).and_then(Option::as_ref);
        match atom {
            Atom::Present(field) => value(field).is_some(),
            Atom::OneOf { field, variants } => {
                matches!(value(field), Some(LeadValue::Variant(v)) if variants.binary_search(v).is_ok())
            }
            Atom::StrIn { field, values } => {
                matches!(value(field), Some(LeadValue::Str(s)) if values.binary_search(s).is_ok())
            }
            Atom::Range { field, lo, hi } => match value(field) {
                Some(LeadValue::Scalar(point)) => in_range(*point, *lo, *hi),
                _ => false,
            },
            Atom::Inside(calendar) => self
                .calendars
                .get(*calendar)
                .is_some_and(|c| c.contains(self.clock_of(lead, context))),
        }
    }

    /// Whether a condition holds for a lead, by direct interpretation (the reference semantics
    /// that the decision graph must reproduce).
    pub fn holds(&self, cond: &Cond, lead: &Lead, context: &EvalContext) -> bool {
        match cond {
            Cond::True => true,
            Cond::False => false,
            Cond::Atom(atom) => self.atom_holds(atom, lead, context),
            Cond::Not(inner) => !self.holds(inner, lead, context),
            Cond::And(parts) => parts.iter().all(|p| self.holds(p, lead, context)),
            Cond::Or(parts) => parts.iter().any(|p| self.holds(p, lead, context)),
        }
    }

    /// First-match evaluation by trying the rules in file order: the index of the first rule
    /// whose condition holds.
    pub fn first_match(&self, lead: &Lead, context: &EvalContext) -> Option<usize> {
        self.rules
            .iter()
            .position(|rule| self.holds(&rule.cond, lead, context))
    }
}

/// Whether `point` lies between `lo` and `hi`.
pub fn in_range(point: Scalar, lo: Bound, hi: Bound) -> bool {
    let above = match lo {
        Bound::Unbounded => true,
        Bound::Inclusive(v) => point >= v,
        Bound::Exclusive(v) => point > v,
    };
    let below = match hi {
        Bound::Unbounded => true,
        Bound::Inclusive(v) => point <= v,
        Bound::Exclusive(v) => point < v,
    };
    above && below
}

#[cfg(test)]
mod words {
    use super::Words;

    /// A text is taken as its length, then its little-endian words, the last one padded with
    /// zeros, whatever its length: the fingerprints recorded in ledgers depend on it.
    #[test]
    fn texts_are_hashed_as_zero_padded_words() {
        let text = b"territory_12_senior_anna_with_a_long_name";
        for length in 0..=text.len() {
            let bytes = &text[..length];
            let mut expected = Words::new();
            expected.word(length as u64);
            for chunk in bytes.chunks(8) {
                let mut word = [0u8; 8];
                word[..chunk.len()].copy_from_slice(chunk);
                expected.word(u64::from_le_bytes(word));
            }
            let mut hashed = Words::new();
            hashed.bytes(bytes);
            assert_eq!(hashed.finish(), expected.finish(), "{length}");
        }
    }
}
