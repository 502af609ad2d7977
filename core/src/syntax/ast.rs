//! The syntax tree of a policy file: plain data with a byte span on every node.
//!
//! The tree holds what was written, not what it means: names are unresolved, bare words in values
//! (`high`, `true`) are kept as words, and a field's type is the name that was written. The checker
//! resolves all of that against the schema.

use crate::span::Span;

/// A name as written, with its span.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// Any value with the span it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// A whole policy file: every item that parsed, in file order within each kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyFile {
    pub schemas: Vec<Schema>,
    pub calendars: Vec<Calendar>,
    pub pools: Vec<Pool>,
    /// `rep NAME { ... }`: a rep's own calendar and caps.
    pub reps: Vec<RepItem>,
    pub scores: Vec<Score>,
    pub tags: Vec<TagsDecl>,
    pub queues: Vec<Queue>,
    pub rules: Vec<Rule>,
    pub tests: Vec<Test>,
    /// `use "policy.route"`: the policy a file of tests tests (a path relative to the file).
    pub uses: Vec<Spanned<String>>,
    /// Items that failed to parse. Their declared names (when readable) stop the checker from
    /// reporting every use of them as unknown: one syntax error should give one diagnostic.
    pub broken: Vec<BrokenItem>,
}

/// What kind of item a broken item was meant to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Schema,
    Calendar,
    Pool,
    Rep,
    Score,
    Queue,
    Rule,
    Other,
}

/// An item (or a schema field) that did not parse.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokenItem {
    pub kind: ItemKind,
    pub name: Option<Ident>,
    pub span: Span,
}

/// `schema NAME { field: type ... }`
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub name: Ident,
    pub fields: Vec<Field>,
    /// Names of fields whose declaration did not parse; uses of them are not reported again.
    pub broken_fields: Vec<Ident>,
    pub span: Span,
}

/// `name: type` or `name: type?` inside a schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: Ident,
    pub ty: TypeExpr,
    pub optional: bool,
    pub span: Span,
}

/// A field's type as written.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeExpr {
    /// `string`, `int`, `number`, `time`, `bool`, or a misspelling of one (the checker decides).
    Named(Ident),
    /// `enum { a, b, c }`
    Enum { variants: Vec<Ident>, span: Span },
}

impl TypeExpr {
    pub fn span(&self) -> Span {
        match self {
            TypeExpr::Named(ident) => ident.span,
            TypeExpr::Enum { span, .. } => *span,
        }
    }
}

/// `calendar NAME { timezone Z  hours DAYS TIMES  holidays DATES }`
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    pub name: Ident,
    pub timezones: Vec<Spanned<String>>,
    pub hours: Vec<HoursClause>,
    pub holidays: Vec<Spanned<String>>,
    /// Whether some clause failed to parse (so "missing" checks would only repeat the error).
    pub has_broken_clause: bool,
    pub span: Span,
}

/// `hours mon-fri, sat 09:00-12:00, 13:00-18:00`
#[derive(Debug, Clone, PartialEq)]
pub struct HoursClause {
    pub days: Vec<DayRange>,
    pub times: Vec<TimeRange>,
    pub span: Span,
}

/// Days of the week, Monday first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub fn from_word(word: &str) -> Option<Weekday> {
        Some(match word {
            "mon" => Weekday::Mon,
            "tue" => Weekday::Tue,
            "wed" => Weekday::Wed,
            "thu" => Weekday::Thu,
            "fri" => Weekday::Fri,
            "sat" => Weekday::Sat,
            "sun" => Weekday::Sun,
            _ => return None,
        })
    }

    pub fn word(self) -> &'static str {
        match self {
            Weekday::Mon => "mon",
            Weekday::Tue => "tue",
            Weekday::Wed => "wed",
            Weekday::Thu => "thu",
            Weekday::Fri => "fri",
            Weekday::Sat => "sat",
            Weekday::Sun => "sun",
        }
    }
}

/// `mon` or `mon-fri`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayRange {
    pub first: Weekday,
    pub last: Weekday,
    pub span: Span,
}

/// `09:00` as minutes since midnight, as written (validated by the checker).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Clock {
    pub hour: u8,
    pub minute: u8,
}

impl Clock {
    pub fn minutes(self) -> u32 {
        u32::from(self.hour) * 60 + u32::from(self.minute)
    }
}

/// `09:00-18:00`
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeRange {
    pub start: Clock,
    pub end: Clock,
    pub span: Span,
}

/// `pool NAME { members ...  strategy ...  cap N  calendar C }`
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub name: Ident,
    pub members: Vec<Ident>,
    /// Every `members` clause's span; more than one is a duplicate clause.
    pub members_clauses: Vec<Span>,
    pub strategies: Vec<Strategy>,
    pub caps: Vec<Cap>,
    pub calendars: Vec<Ident>,
    /// Every `on shift` clause's span; more than one is a duplicate clause.
    pub on_shift: Vec<Span>,
    /// Whether some clause failed to parse (so "missing" checks would only repeat the error).
    pub has_broken_clause: bool,
    pub span: Span,
}

/// `cap N` (open leads) or `cap N per PERIOD` (leads assigned in the current window).
#[derive(Debug, Clone, PartialEq)]
pub struct Cap {
    pub limit: Spanned<u64>,
    pub period: Option<Spanned<Period>>,
    pub span: Span,
}

/// The fixed window a period cap counts in, in the member's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    Hour,
    Day,
    /// From Monday 00:00.
    Week,
}

impl Period {
    pub fn word(self) -> &'static str {
        match self {
            Period::Hour => "hour",
            Period::Day => "day",
            Period::Week => "week",
        }
    }
}

/// `rep igor { calendar nsk  cap 3 per day }`
#[derive(Debug, Clone, PartialEq)]
pub struct RepItem {
    pub name: Ident,
    pub calendars: Vec<Ident>,
    pub caps: Vec<Cap>,
    pub has_broken_clause: bool,
    pub span: Span,
}

/// A pool's distribution strategy as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    /// `round_robin`, `least_loaded`, `ordered`, or a misspelling (the checker decides).
    Named(Ident),
    /// `weighted(anna=2, boris=1)`
    Weighted { weights: Vec<Weight>, span: Span },
}

impl Strategy {
    pub fn span(&self) -> Span {
        match self {
            Strategy::Named(ident) => ident.span,
            Strategy::Weighted { span, .. } => *span,
        }
    }
}

/// `anna=2` inside `weighted(...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Weight {
    pub member: Ident,
    pub weight: Spanned<u64>,
    pub span: Span,
}

/// `queue NAME`
/// `score NAME { +N when COND ... }`: an int, the sum of the points of the lines that hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub name: Ident,
    pub lines: Vec<ScoreLine>,
    pub has_broken_line: bool,
    pub span: Span,
}

/// The most lines a score may have: compiling a comparison on a score branches on every line,
/// so its size grows with the number of sums the lines can reach.
pub const MAX_SCORE_LINES: usize = 16;

/// One line of a score: `+30 when employees >= 500`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreLine {
    /// The signed points, as written (`+30`, `-30`).
    pub points: Spanned<i64>,
    pub condition: Expr,
    pub span: Span,
}

/// `tags { sms, call }`: the tags rules may add to their decisions, in the order decisions list
/// them.
#[derive(Debug, Clone, PartialEq)]
pub struct TagsDecl {
    pub names: Vec<Ident>,
    pub keyword_span: Span,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Queue {
    pub name: Ident,
    pub span: Span,
}

/// A routing rule; `otherwise` is a rule without a condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// `rule NAME:`; unnamed rules are known by `position` (`#1`).
    pub name: Option<Ident>,
    /// 1-based position among the file's rules.
    pub position: usize,
    /// `None` for `otherwise`.
    pub condition: Option<Expr>,
    /// The span of the `when` or `otherwise` keyword.
    pub keyword_span: Span,
    /// `ACTION else ACTION ...`, at least one.
    pub actions: Vec<Action>,
    pub within: Option<Duration>,
    pub escalations: Vec<Escalation>,
    /// The tags of `tag A, B` clauses, in the order written.
    pub tags: Vec<Ident>,
    pub span: Span,
}

impl Rule {
    /// How the rule is called in messages and decisions: its name, or `#N`.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => name.name.clone(),
            None => format!("#{}", self.position),
        }
    }

    /// The span that stands for the rule in diagnostics: its name, or its keyword.
    pub fn head_span(&self) -> Span {
        match &self.name {
            Some(name) => name.span,
            None => self.keyword_span,
        }
    }
}

/// A boolean condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// `field OP value`
    Compare {
        field: Ident,
        op: Spanned<CmpOp>,
        value: Value,
    },
    /// `field in {..}` / `field not in {..}`
    In {
        field: Ident,
        negated: bool,
        values: Vec<Value>,
    },
    /// `field is set` / `field is not set`
    IsSet {
        field: Ident,
        negated: bool,
    },
    /// `inside CAL` / `outside CAL`
    Calendar {
        inside: bool,
        calendar: Ident,
    },
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// Whether the operator orders values (and so needs a number, int or time).
    pub fn is_ordering(self) -> bool {
        matches!(self, CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge)
    }
}

/// A literal value as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub kind: ValueKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    /// A bare word: an enum variant, `true` / `false`, or a mistake.
    Word(String),
    /// A quoted string, unescaped.
    Str(String),
    Number(Number),
    /// An RFC 3339 timestamp.
    Time(jiff::Timestamp),
    Null,
    /// A literal that could not be read (already reported); fits every type, so that one bad
    /// literal gives one diagnostic.
    Invalid,
}

/// A numeric literal: integral when written without a fraction and within `i64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    pub fn as_f64(self) -> f64 {
        match self {
            // Precision loss above 2^53 is accepted: such values are only compared to numbers.
            #[allow(clippy::cast_precision_loss)]
            Number::Int(int) => int as f64,
            Number::Float(float) => float,
        }
    }
}

/// `pool P`, `rep R`, `owner of F`, `queue Q`.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub kind: ActionKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ActionKind {
    Pool(Ident),
    /// A rep's name, or a string field that holds one (the checker decides which).
    Rep(Ident),
    OwnerOf(Ident),
    Queue(Ident),
    /// `previous rep of FIELD [since D]`: the rep of the latest earlier lead whose FIELD had the
    /// same value (trimmed, case-folded), within D (90 days when not given).
    PreviousRep {
        field: Ident,
        since: Option<Duration>,
    },
}

/// How far back `previous rep of` looks when the policy gives no `since`.
pub const PREVIOUS_REP_DEFAULT_SECONDS: u64 = 90 * 86_400;

/// A look-back as people write it: whole days as days (`90d`, not `12w6d`), else like a
/// duration.
pub fn look_back(seconds: u64) -> String {
    if seconds > 0 && seconds.is_multiple_of(86_400) {
        format!("{}d", seconds / 86_400)
    } else {
        DurationKind::Fixed { seconds }.to_string()
    }
}

impl ActionKind {
    /// The action as written: `pool senior`, `rep anna`, `owner of account`, `queue review`.
    pub fn describe(&self) -> String {
        // The common ones joined by hand: a reason names its action for most leads that
        // fall through to `else`.
        let joined = |keyword: &str, name: &str| {
            let mut text = String::with_capacity(keyword.len() + name.len());
            text.push_str(keyword);
            text.push_str(name);
            text
        };
        match self {
            ActionKind::Pool(name) => joined("pool ", &name.name),
            ActionKind::Rep(name) => joined("rep ", &name.name),
            ActionKind::OwnerOf(name) => joined("owner of ", &name.name),
            ActionKind::Queue(name) => joined("queue ", &name.name),
            ActionKind::PreviousRep { field, since } => match since {
                Some(Duration {
                    kind: DurationKind::Fixed { seconds },
                    ..
                }) => format!(
                    "previous rep of {} since {}",
                    field.name,
                    look_back(*seconds)
                ),
                Some(since) => format!("previous rep of {} since {}", field.name, since.kind),
                None => format!("previous rep of {}", field.name),
            },
        }
    }
}

/// `15m`, `1h30m`, `5 business days`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration {
    pub kind: DurationKind,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DurationKind {
    /// Wall-clock (or working-time, on a calendar) seconds.
    Fixed { seconds: u64 },
    /// `N business days` or `N business hours`, counted on a calendar.
    Business { count: u64, unit: BusinessUnit },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BusinessUnit {
    Days,
    Hours,
}

impl std::fmt::Display for DurationKind {
    /// The duration as a policy writes it: `15m`, `1h30m`, `2 business days`.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            DurationKind::Fixed { seconds: 0 } => formatter.write_str("0s"),
            DurationKind::Fixed { seconds } => {
                let mut left = seconds;
                for (unit, size) in [
                    ("w", 604_800),
                    ("d", 86_400),
                    ("h", 3_600),
                    ("m", 60),
                    ("s", 1),
                ] {
                    if left >= size {
                        write!(formatter, "{}{unit}", left / size)?;
                        left %= size;
                    }
                }
                Ok(())
            }
            DurationKind::Business { count, unit } => write!(
                formatter,
                "{count} business {}",
                match unit {
                    BusinessUnit::Days => "days",
                    BusinessUnit::Hours => "hours",
                }
            ),
        }
    }
}

/// `escalate TARGET [after D]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Escalation {
    pub target: Ident,
    pub after: Option<Duration>,
    pub span: Span,
}

/// `test "name" { lead {...} expect ... }`
#[derive(Debug, Clone, PartialEq)]
pub struct Test {
    pub name: Spanned<String>,
    pub leads: Vec<LeadLiteral>,
    pub expectations: Vec<Expectation>,
    /// `at TIME`: the time the test routes at.
    pub at: Vec<Spanned<jiff::Timestamp>>,
    /// `roster "file"` or `roster { ... }`.
    pub rosters: Vec<RosterSpec>,
    pub span: Span,
}

/// A test's roster.
#[derive(Debug, Clone, PartialEq)]
pub enum RosterSpec {
    /// A roster file, relative to the file that holds the test.
    File(Spanned<String>),
    Inline(InlineRoster),
}

/// `roster { anna away, boris open 25, account "A" owner petr parent "B" }`
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InlineRoster {
    pub reps: Vec<InlineRep>,
    pub accounts: Vec<InlineAccount>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InlineRep {
    pub name: Ident,
    pub facts: Vec<RepFact>,
}

/// One fact about a rep in an inline roster.
#[derive(Debug, Clone, PartialEq)]
pub enum RepFact {
    Away,
    Offline,
    Available,
    Open(u64),
    /// `out FROM to TO`: dates (`2026-12-21`) or times, as written.
    Out {
        from: String,
        to: String,
    },
    /// `assigned 5 today` (`this hour`, `this week`): leads the rep already got in the window
    /// of the test's lead, as `cap N per PERIOD` counts them.
    Assigned {
        count: u64,
        period: Period,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct InlineAccount {
    pub name: Spanned<String>,
    pub owner: Option<Ident>,
    pub parent: Option<Spanned<String>>,
}

/// `lead { field: value, ... }`
#[derive(Debug, Clone, PartialEq)]
pub struct LeadLiteral {
    pub entries: Vec<LeadEntry>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LeadEntry {
    pub field: Ident,
    pub value: Value,
}

/// One clause after `expect`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    pub kind: ExpectationKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExpectationKind {
    Pool(Ident),
    Rep(Ident),
    Queue(Ident),
    Unassigned,
    Rule(Ident),
    Within(Duration),
    Escalate(Escalation),
    /// `expect score NAME N`.
    Score {
        score: Ident,
        value: Spanned<i64>,
    },
    /// `expect tag NAME`: the decision carries this tag (among any others).
    Tag(Ident),
}
