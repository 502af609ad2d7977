//! The one diagnostic type that every stage reports: a code, a message, a span, help and related
//! spans. Renderers (human, plain, JSON, SARIF, GitHub, LSP) live at the edges and read this.

use crate::span::Span;
use crate::text;
use serde::Serialize;
use std::fmt;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

macro_rules! codes {
    ($($variant:ident = $name:literal, $severity:ident, $summary:literal;)*) => {
        /// Every diagnostic's stable name. Names are kebab-case and never change meaning; each is
        /// documented with an example in `docs/diagnostics.md`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// All codes, in documentation order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable kebab-case name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)*
                }
            }

            /// The severity a diagnostic with this code has unless configured otherwise.
            pub fn default_severity(self) -> Severity {
                match self {
                    $(Code::$variant => Severity::$severity,)*
                }
            }

            /// One line on what the code means (SARIF rule descriptions, `docs/diagnostics.md`).
            pub fn summary(self) -> &'static str {
                match self {
                    $(Code::$variant => $summary,)*
                }
            }

            pub fn from_name(name: &str) -> Option<Code> {
                match name {
                    $($name => Some(Code::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

codes! {
    Syntax = "syntax", Error, "the text does not follow the grammar";
    NestingTooDeep = "nesting-too-deep", Error, "a condition nests parentheses or `not` too deeply";
    InvalidLiteral = "invalid-literal", Error, "a number, time, date or duration that cannot be read";
    MissingSchema = "missing-schema", Error, "the policy has no `schema` to check rules against";
    MissingIdField = "missing-id-field", Error, "the schema has no `id` field to name leads by";
    UnknownType = "unknown-type", Error, "a schema field's type is not one of the known types";
    DuplicateName = "duplicate-name", Error, "two declarations share a name";
    UnknownField = "unknown-field", Error, "a field that the schema does not declare";
    UnknownVariant = "unknown-variant", Error, "a value that is not a variant of the field's enum";
    UnknownPool = "unknown-pool", Error, "a pool that is not declared";
    UnknownQueue = "unknown-queue", Error, "a queue that is not declared";
    UnknownCalendar = "unknown-calendar", Error, "a calendar that is not declared";
    UnknownRep = "unknown-rep", Error, "a rep who is no pool's member and no string field";
    UnknownRule = "unknown-rule", Error, "a test expects a rule that does not exist";
    UnknownTarget = "unknown-target", Error, "an escalation target that is no pool, queue or rep";
    UnknownScore = "unknown-score", Error, "a test expects a score that is not declared";
    UnknownTag = "unknown-tag", Error, "a tag that `tags { ... }` does not declare";
    ScoreTooLong = "score-too-long", Error, "a score with more lines than static analysis can keep exact";
    ScoreReadsScore = "score-reads-score", Error, "a score line that reads a score (scores read lead fields only)";
    UnknownStrategy = "unknown-strategy", Error, "a pool strategy that does not exist";
    TypeMismatch = "type-mismatch", Error, "a value or operator that does not fit the field's type";
    MixedSet = "mixed-set", Error, "an `in { ... }` set that mixes kinds of values";
    EmptySet = "empty-set", Error, "an `in { }` set with no values";
    DuplicateValue = "duplicate-value", Warning, "a value listed twice in a set";
    AlwaysSet = "always-set", Warning, "`is set` on a required field, which is always set";
    EmptyPool = "empty-pool", Error, "a pool without members";
    DuplicateMember = "duplicate-member", Error, "a rep listed twice in one pool";
    DuplicateClause = "duplicate-clause", Error, "a pool, rep or calendar clause given twice";
    ZeroCap = "zero-cap", Error, "a pool or rep with `cap 0` (per period or not), which can never take a lead";
    UnusedRepItem = "unused-rep", Warning, "a `rep` item for a rep who is in no pool and named by no rule";
    WeightNotMember = "weight-not-member", Error, "a weight for a rep who is not a member of the pool";
    MissingWeight = "missing-weight", Error, "a member of a weighted pool without a weight";
    ZeroWeights = "zero-weights", Error, "a weighted pool whose weights sum to 0";
    EscalationBeforeSla = "escalation-before-sla", Error, "`after` is shorter than the rule's `within`";
    EscalationOutOfOrder = "escalation-out-of-order", Error, "a chained escalation fires before the one before it";
    EscalationWithoutTime = "escalation-without-time", Error, "`escalate` with neither `after` nor `within`";
    EscalationToSelf = "escalation-to-self", Error, "an escalation to the pool or queue that already holds the lead";
    MissingClock = "missing-clock", Error, "a policy that counts time (calendars, `within`, `after`) with no `time` field to read a lead's clock from";
    BusinessTimeWithoutCalendar = "business-time-without-calendar", Error, "`business days|hours` on a rule whose destination has no calendar";
    OtherwiseNotLast = "otherwise-not-last", Error, "rules after `otherwise`, which no lead can reach";
    NotAStringField = "not-a-string-field", Error, "`rep FIELD` or `owner of FIELD` on a field that is not a string";
    UnknownTimezone = "unknown-timezone", Error, "a calendar time zone that is not an IANA name";
    MissingTimezone = "missing-timezone", Error, "a calendar without a time zone";
    MissingHours = "missing-hours", Error, "a calendar without working hours";
    InvalidClock = "invalid-clock", Error, "a time of day that does not exist, such as 25:00";
    ReversedHours = "reversed-hours", Error, "an hour range that ends before it starts";
    ReversedDays = "reversed-days", Error, "a day range that ends before it starts";
    TooManyHours = "too-many-hours", Error, "a calendar that gives one day more than 24 working ranges";
    InvalidDate = "invalid-date", Error, "a holiday that is not a calendar date";
    DuplicateTest = "duplicate-test", Error, "two tests share a name";
    TestWithoutLead = "test-without-lead", Error, "a test block without exactly one `lead`";
    TestWithoutExpect = "test-without-expect", Error, "a test block without `expect`";
    MissingField = "missing-field", Error, "a test lead without a required field";
    UnusedAt = "unused-at", Warning, "a test's `at` when its lead gives its own clock time, which wins";
    InvalidTestFile = "invalid-test-file", Error, "a file of tests (`use`) that also declares policy items, or uses two policies";
    MissingPolicy = "missing-policy", Error, "the policy a file of tests uses cannot be read";
    ShadowedRule = "shadowed-rule", Error, "a rule no lead can reach, because earlier rules take all its leads";
    Gap = "gap", Error, "leads that no rule matches, shown with a concrete example lead";
    Overlap = "overlap", Warning, "two rules that both match some leads (a lint, off by default)";
    OffShiftGap = "off-shift-gap", Warning, "hours of the week when a rule sends leads to pools with nobody on shift (every pool's working time with `--warn off-shift`)";
    DeadScoreLine = "dead-score-line", Warning, "a score line whose condition no lead satisfies, so it never adds its points";
    AnalysisIncomplete = "analysis-incomplete", Warning, "the policy is too large to analyse within the node budget";
    RosterSyntax = "roster-syntax", Error, "the roster is not JSON";
    RosterShape = "roster-shape", Error, "a roster entry that is not what its key takes: an unknown key, a wrong type, a status or time that cannot be read";
    RosterMissingRep = "roster-missing-rep", Warning, "a rep of the policy whom the roster does not list, so they get no leads";
    RosterUnknownRep = "roster-unknown-rep", Warning, "a rep the roster lists who is no rep of the policy";
    RosterOutOfOffice = "roster-out-of-office", Error, "an out-of-office range that ends before it starts, or overlaps another of the same rep";
    RosterUnknownOwner = "roster-unknown-owner", Error, "an account owner who is no rep of the policy or the roster";
    RosterUnknownParent = "roster-unknown-parent", Error, "an account whose parent is not in `accounts`";
    RosterParentLoop = "roster-parent-loop", Error, "an account whose parents lead back to itself";
    RosterAsOfFuture = "roster-as-of-future", Warning, "a roster whose `as_of` is later than the routing time";
}

impl fmt::Display for Code {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A secondary location that explains a diagnostic ("first declared here").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    pub message: String,
    pub span: Span,
}

/// One problem found in one source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    /// Lowercase, no final period, user input in backticks.
    pub message: String,
    pub span: Span,
    /// A short label under the primary span, when it adds to the message.
    pub label: Option<String>,
    pub help: Option<String>,
    pub related: Vec<Related>,
}

impl Diagnostic {
    /// A diagnostic with the code's default severity.
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: code.default_severity(),
            code,
            message: text::cut_quoted(message.into()),
            span,
            label: None,
            help: None,
            related: Vec::new(),
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(text::cut_quoted(label.into()));
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(text::cut_quoted(help.into()));
        self
    }

    pub fn with_help_opt(mut self, help: Option<String>) -> Diagnostic {
        self.help = help.map(text::cut_quoted);
        self
    }

    pub fn with_related(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.related.push(Related {
            message: text::cut_quoted(message.into()),
            span,
        });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Sorts diagnostics by position, then code, so every renderer shows them in one stable order.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|left, right| {
        (left.span.start, left.span.end, left.code, &left.message).cmp(&(
            right.span.start,
            right.span.end,
            right.code,
            &right.message,
        ))
    });
}
