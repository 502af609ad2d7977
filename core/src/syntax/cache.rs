//! Reuse of parsed items between versions of one text (the language server re-parses after every
//! keystroke). The parser drives pest one item at a time; an item whose text is unchanged parses
//! to the same tree, only moved, so its tree is taken from the cache and its spans moved instead.
//!
//! Only items that parsed without any error are cached. Such an item ends with its closing `}` or,
//! for a rule, a queue or a `use`, with a clause that nothing starting with an item keyword can
//! continue; so how it parses depends only on its own text, never on what follows it.

use super::ast::*;
use crate::span::Span;
use std::collections::HashMap;
use std::sync::Arc;

/// Parsed items by their exact text. Built by [`super::parse_cached`]; holds the items of the
/// last text parsed with it, so it never grows beyond one document.
#[derive(Debug, Clone, Default)]
pub struct ItemCache {
    pub(crate) items: HashMap<String, Arc<Fragment>>,
}

impl ItemCache {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// One item's tree, with spans relative to the item's start.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fragment {
    pub(crate) file: PolicyFile,
}

impl Fragment {
    /// Captures the items `file` gained past `before`, moved so that `start` becomes 0.
    pub(crate) fn capture(file: &PolicyFile, before: &Counts, start: usize) -> Fragment {
        let mut fragment = PolicyFile {
            schemas: file.schemas[before.schemas..].to_vec(),
            calendars: file.calendars[before.calendars..].to_vec(),
            pools: file.pools[before.pools..].to_vec(),
            reps: file.reps[before.reps..].to_vec(),
            scores: file.scores[before.scores..].to_vec(),
            tags: file.tags[before.tags..].to_vec(),
            queues: file.queues[before.queues..].to_vec(),
            rules: file.rules[before.rules..].to_vec(),
            tests: file.tests[before.tests..].to_vec(),
            uses: file.uses[before.uses..].to_vec(),
            broken: Vec::new(),
        };
        fragment.map_spans(&|span| {
            Span::new(
                span.start.saturating_sub(start),
                span.end.saturating_sub(start),
            )
        });
        Fragment { file: fragment }
    }

    /// The item moved to `start`.
    pub(crate) fn placed_at(&self, start: usize) -> PolicyFile {
        let mut file = self.file.clone();
        file.map_spans(&|span| Span::new(span.start + start, span.end + start));
        file
    }
}

/// How many items of each kind a file holds (to tell what one item added).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counts {
    schemas: usize,
    calendars: usize,
    pools: usize,
    reps: usize,
    scores: usize,
    tags: usize,
    queues: usize,
    rules: usize,
    tests: usize,
    uses: usize,
    broken: usize,
}

impl Counts {
    pub(crate) fn of(file: &PolicyFile) -> Counts {
        Counts {
            schemas: file.schemas.len(),
            calendars: file.calendars.len(),
            pools: file.pools.len(),
            reps: file.reps.len(),
            scores: file.scores.len(),
            tags: file.tags.len(),
            queues: file.queues.len(),
            rules: file.rules.len(),
            tests: file.tests.len(),
            uses: file.uses.len(),
            broken: file.broken.len(),
        }
    }

    pub(crate) fn broken(&self) -> usize {
        self.broken
    }
}

/// Applies a function to every span of a tree. Every struct is destructured in full, so a new
/// field with a span cannot be forgotten here without a compile error.
pub(crate) trait MapSpans {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span);
}

impl MapSpans for Span {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        *self = f(*self);
    }
}

impl<T: MapSpans> MapSpans for Vec<T> {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        for item in self {
            item.map_spans(f);
        }
    }
}

impl<T: MapSpans> MapSpans for Option<T> {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        if let Some(item) = self {
            item.map_spans(f);
        }
    }
}

impl<T: MapSpans> MapSpans for Box<T> {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        (**self).map_spans(f);
    }
}

impl MapSpans for Ident {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let Ident { name: _, span } = self;
        span.map_spans(f);
    }
}

impl<T> MapSpans for Spanned<T> {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let Spanned { value: _, span } = self;
        span.map_spans(f);
    }
}

impl MapSpans for PolicyFile {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let PolicyFile {
            schemas,
            calendars,
            pools,
            reps,
            scores,
            tags,
            queues,
            rules,
            tests,
            uses,
            broken,
        } = self;
        reps.map_spans(f);
        scores.map_spans(f);
        tags.map_spans(f);
        schemas.map_spans(f);
        calendars.map_spans(f);
        pools.map_spans(f);
        queues.map_spans(f);
        rules.map_spans(f);
        tests.map_spans(f);
        uses.map_spans(f);
        broken.map_spans(f);
    }
}

impl MapSpans for BrokenItem {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let BrokenItem {
            kind: _,
            name,
            span,
        } = self;
        name.map_spans(f);
        span.map_spans(f);
    }
}

impl MapSpans for Schema {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let Schema {
            name,
            fields,
            broken_fields,
            span,
        } = self;
        name.map_spans(f);
        fields.map_spans(f);
        broken_fields.map_spans(f);
        span.map_spans(f);
    }
}

impl MapSpans for Field {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let Field {
            name,
            ty,
            optional: _,
            span,
        } = self;
        name.map_spans(f);
        ty.map_spans(f);
        span.map_spans(f);
    }
}

impl MapSpans for TypeExpr {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        match self {
            TypeExpr::Named(name) => name.map_spans(f),
            TypeExpr::Enum { variants, span } => {
                variants.map_spans(f);
                span.map_spans(f);
            }
        }
    }
}

impl MapSpans for Calendar {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let Calendar {
            name,
            timezones,
            hours,
            holidays,
            has_broken_clause: _,
            span,
        } = self;
        name.map_spans(f);
        timezones.map_spans(f);
        hours.map_spans(f);
        holidays.map_spans(f);
        span.map_spans(f);
    }
}

impl MapSpans for HoursClause {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let HoursClause { days, times, span } = self;
        days.map_spans(f);
        times.map_spans(f);
        span.map_spans(f);
    }
}

impl MapSpans for DayRange {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let DayRange {
            first: _,
            last: _,
            span,
        } = self;
        span.map_spans(f);
    }
}

impl MapSpans for TimeRange {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let TimeRange {
            start: _,
            end: _,
            span,
        } = self;
        span.map_spans(f);
    }
}

impl MapSpans for Pool {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let Pool {
            name,
            members,
            members_clauses,
            strategies,
            caps,
            calendars,
            on_shift,
            has_broken_clause: _,
            span,
        } = self;
        name.map_spans(f);
        members.map_spans(f);
        members_clauses.map_spans(f);
        strategies.map_spans(f);
        caps.map_spans(f);
        calendars.map_spans(f);
        on_shift.map_spans(f);
        span.map_spans(f);
    }
}

impl MapSpans for Cap {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let Cap {
            limit,
            period,
            span,
        } = self;
        limit.map_spans(f);
        period.map_spans(f);
        span.map_spans(f);
    }
}

impl MapSpans for RepItem {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let RepItem {
            name,
            calendars,
            caps,
            has_broken_clause: _,
            span,
        } = self;
        name.map_spans(f);
        calendars.map_spans(f);
        caps.map_spans(f);
        span.map_spans(f);
    }
}

impl MapSpans for Strategy {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        match self {
            Strategy::Named(name) => name.map_spans(f),
            Strategy::Weighted { weights, span } => {
                weights.map_spans(f);
                span.map_spans(f);
            }
        }
    }
}

impl MapSpans for Weight {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let Weight {
            member,
            weight,
            span,
        } = self;
        member.map_spans(f);
        weight.map_spans(f);
        span.map_spans(f);
    }
}

impl MapSpans for Queue {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let Queue { name, span } = self;
        name.map_spans(f);
        span.map_spans(f);
    }
}

impl MapSpans for Rule {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let Rule {
            name,
            position: _,
            condition,
            keyword_span,
            actions,
            within,
            escalations,
            tags,
            span,
        } = self;
        name.map_spans(f);
        condition.map_spans(f);
        keyword_span.map_spans(f);
        actions.map_spans(f);
        within.map_spans(f);
        escalations.map_spans(f);
        tags.map_spans(f);
        span.map_spans(f);
    }
}

impl MapSpans for Score {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let Score {
            name,
            lines,
            has_broken_line: _,
            span,
        } = self;
        name.map_spans(f);
        lines.map_spans(f);
        span.map_spans(f);
    }
}

impl MapSpans for ScoreLine {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let ScoreLine {
            points,
            condition,
            span,
        } = self;
        points.map_spans(f);
        condition.map_spans(f);
        span.map_spans(f);
    }
}

impl MapSpans for TagsDecl {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let TagsDecl {
            names,
            keyword_span,
            span,
        } = self;
        names.map_spans(f);
        keyword_span.map_spans(f);
        span.map_spans(f);
    }
}

impl MapSpans for Expr {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let Expr { kind, span } = self;
        match kind {
            ExprKind::And(parts) | ExprKind::Or(parts) => parts.map_spans(f),
            ExprKind::Not(inner) => inner.map_spans(f),
            ExprKind::Compare { field, op, value } => {
                field.map_spans(f);
                op.map_spans(f);
                value.map_spans(f);
            }
            ExprKind::In {
                field,
                negated: _,
                values,
            } => {
                field.map_spans(f);
                values.map_spans(f);
            }
            ExprKind::IsSet { field, negated: _ } => field.map_spans(f),
            ExprKind::Calendar {
                inside: _,
                calendar,
            } => calendar.map_spans(f),
        }
        span.map_spans(f);
    }
}

impl MapSpans for Value {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let Value { kind: _, span } = self;
        span.map_spans(f);
    }
}

impl MapSpans for Action {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let Action { kind, span } = self;
        match kind {
            ActionKind::Pool(name)
            | ActionKind::Rep(name)
            | ActionKind::OwnerOf(name)
            | ActionKind::Queue(name) => name.map_spans(f),
            ActionKind::PreviousRep { field, since } => {
                field.map_spans(f);
                since.map_spans(f);
            }
        }
        span.map_spans(f);
    }
}

impl MapSpans for Duration {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let Duration { kind: _, span } = self;
        span.map_spans(f);
    }
}

impl MapSpans for Escalation {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let Escalation {
            target,
            after,
            span,
        } = self;
        target.map_spans(f);
        after.map_spans(f);
        span.map_spans(f);
    }
}

impl MapSpans for Test {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let Test {
            name,
            leads,
            expectations,
            at,
            rosters,
            span,
        } = self;
        name.map_spans(f);
        leads.map_spans(f);
        expectations.map_spans(f);
        at.map_spans(f);
        rosters.map_spans(f);
        span.map_spans(f);
    }
}

impl MapSpans for RosterSpec {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        match self {
            RosterSpec::File(path) => path.map_spans(f),
            RosterSpec::Inline(inline) => inline.map_spans(f),
        }
    }
}

impl MapSpans for InlineRoster {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let InlineRoster {
            reps,
            accounts,
            span,
        } = self;
        reps.map_spans(f);
        accounts.map_spans(f);
        span.map_spans(f);
    }
}

impl MapSpans for InlineRep {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let InlineRep { name, facts: _ } = self;
        name.map_spans(f);
    }
}

impl MapSpans for InlineAccount {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let InlineAccount {
            name,
            owner,
            parent,
        } = self;
        name.map_spans(f);
        owner.map_spans(f);
        parent.map_spans(f);
    }
}

impl MapSpans for LeadLiteral {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let LeadLiteral { entries, span } = self;
        entries.map_spans(f);
        span.map_spans(f);
    }
}

impl MapSpans for LeadEntry {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let LeadEntry { field, value } = self;
        field.map_spans(f);
        value.map_spans(f);
    }
}

impl MapSpans for Expectation {
    fn map_spans(&mut self, f: &dyn Fn(Span) -> Span) {
        let Expectation { kind, span } = self;
        match kind {
            ExpectationKind::Pool(name)
            | ExpectationKind::Rep(name)
            | ExpectationKind::Queue(name)
            | ExpectationKind::Rule(name)
            | ExpectationKind::Tag(name) => name.map_spans(f),
            ExpectationKind::Score { score, value } => {
                score.map_spans(f);
                value.map_spans(f);
            }
            ExpectationKind::Unassigned => {}
            ExpectationKind::Within(duration) => duration.map_spans(f),
            ExpectationKind::Escalate(escalation) => escalation.map_spans(f),
        }
        span.map_spans(f);
    }
}
