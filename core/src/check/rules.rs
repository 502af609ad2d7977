//! Checks of rules (conditions, actions, SLAs, escalations) and of test blocks.

use super::suggest::did_you_mean;
use super::types::{FieldType, Misfit, describe_value, fits, list_variants, value_class};
use super::{Checker, FieldInfo};
use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;
use crate::syntax::ast::{
    ActionKind, Duration, DurationKind, Escalation, ExpectationKind, Expr, ExprKind, Ident,
    ItemKind, LeadLiteral, Rule, Test, Value, ValueKind,
};
use std::collections::{BTreeMap, BTreeSet};

/// Which declared thing a name is expected to be.
#[derive(Clone, Copy)]
enum NameKind {
    Pool,
    Queue,
    Rep,
    Rule,
}

impl<'a> Checker<'a> {
    pub(crate) fn rules(&mut self) {
        let file = self.file;
        let mut names: BTreeMap<&str, Span> = BTreeMap::new();
        for rule in &file.rules {
            if let Some(name) = &rule.name
                && self.first_declaration(&mut names, name, "rule")
            {
                self.rule_names.insert(&name.name);
            }
        }
        for (index, rule) in file.rules.iter().enumerate() {
            if rule.condition.is_none() && index + 1 < file.rules.len() {
                let mut diagnostic = Diagnostic::new(
                    Code::OtherwiseNotLast,
                    rule.keyword_span,
                    "`otherwise` must be the last rule",
                )
                .with_label("matches every lead")
                .with_help("move `otherwise` to the end; rules after it can never match");
                for later in &file.rules[index + 1..] {
                    diagnostic = diagnostic.with_related(
                        later.head_span(),
                        format!("rule `{}` is never reached", later.label()),
                    );
                }
                self.report(diagnostic);
            }
            self.rule(rule);
        }
    }

    fn rule(&mut self, rule: &'a Rule) {
        if let Some(condition) = &rule.condition {
            self.expr(condition);
        }
        self.rule_tags(rule);
        for action in &rule.actions {
            match &action.kind {
                ActionKind::Pool(pool) => self.name_reference(pool, NameKind::Pool),
                ActionKind::Queue(queue) => self.name_reference(queue, NameKind::Queue),
                ActionKind::Rep(rep) => self.rep_action(rep),
                ActionKind::OwnerOf(field) => {
                    if let Some(info) = self.field(field) {
                        self.string_field(field, &info, "owner of");
                    }
                }
                ActionKind::PreviousRep { field, since } => {
                    if let Some(info) = self.field(field) {
                        self.string_field(field, &info, "previous rep of");
                    }
                    if let Some(since) = since
                        && matches!(since.kind, DurationKind::Business { .. })
                    {
                        self.report(
                            Diagnostic::new(
                                Code::TypeMismatch,
                                since.span,
                                "`since` takes a fixed duration",
                            )
                            .with_label("a business duration")
                            .with_help(
                                "`previous rep of` looks back in calendar time: write `since 90d`",
                            ),
                        );
                    }
                }
            }
        }
        let has_business = rule
            .within
            .iter()
            .chain(rule.escalations.iter().filter_map(|e| e.after.as_ref()))
            .find(|d| matches!(d.kind, DurationKind::Business { .. }));
        if let Some(business) = has_business {
            let has_calendar = rule.actions.iter().any(|action| match &action.kind {
                ActionKind::Pool(pool) => self
                    .pools
                    .get(pool.name.as_str())
                    .is_some_and(|p| !p.calendars.is_empty()),
                _ => false,
            });
            let unknown_pool = rule.actions.iter().any(|action| {
                matches!(&action.kind, ActionKind::Pool(p) if !self.pools.contains_key(p.name.as_str()))
            });
            let has_pool = rule
                .actions
                .iter()
                .any(|action| matches!(action.kind, ActionKind::Pool(_)));
            if !has_calendar && !unknown_pool {
                let (label, help) = if has_pool {
                    (
                        "counted on the calendar of the rule's pool, which has none",
                        "give the rule's pool a calendar (`calendar berlin` in its body), or use wall-clock time such as `2d`",
                    )
                } else {
                    (
                        "this rule routes to no pool, and only pools have calendars",
                        "use wall-clock time such as `2d`, or route to a pool that has a calendar",
                    )
                };
                self.report(
                    Diagnostic::new(
                        Code::BusinessTimeWithoutCalendar,
                        business.span,
                        "business time needs a calendar",
                    )
                    .with_label(label)
                    .with_help(help),
                );
            }
        }
        self.escalations(rule);
    }

    fn escalations(&mut self, rule: &'a Rule) {
        // A rule may escalate to its own pool (another member of it, never one who had the
        // lead); a queue has nobody else to pass the lead to.
        let holder = rule.actions.first().and_then(|action| match &action.kind {
            ActionKind::Queue(name) => Some(name),
            _ => None,
        });
        let mut previous: Option<(Duration, &Escalation)> = None;
        for escalation in &rule.escalations {
            self.escalation_target(&escalation.target);
            if let Some(holder) = holder
                && holder.name == escalation.target.name
            {
                self.report(
                    Diagnostic::new(
                        Code::EscalationToSelf,
                        escalation.target.span,
                        format!(
                            "escalation to `{}`, which already holds the lead",
                            holder.name
                        ),
                    )
                    .with_label("the same destination")
                    .with_related(holder.span, "the lead is routed here")
                    .with_help("escalate to a pool, a manager queue or a named rep"),
                );
            }
            let fires_at = match (escalation.after, rule.within) {
                (Some(after), _) => after,
                (None, Some(within)) => within,
                (None, None) => {
                    self.report(
                        Diagnostic::new(
                            Code::EscalationWithoutTime,
                            escalation.span,
                            format!("escalation to `{}` has no time", escalation.target.name),
                        )
                        .with_label("never fires")
                        .with_help("add `after 30m`, or give the rule an SLA with `within`"),
                    );
                    continue;
                }
            };
            if let (Some(after), Some(within)) = (escalation.after, rule.within)
                && shorter(after, within)
            {
                self.report(
                    Diagnostic::new(
                        Code::EscalationBeforeSla,
                        after.span,
                        "escalation fires before the SLA is due",
                    )
                    .with_label("shorter than `within`")
                    .with_related(within.span, "the SLA")
                    .with_help("an escalation is for a missed SLA: make `after` at least the `within` time"),
                );
            }
            if let Some((earlier, earlier_escalation)) = previous
                && shorter(fires_at, earlier)
            {
                self.report(
                    Diagnostic::new(
                        Code::EscalationOutOfOrder,
                        fires_at.span,
                        format!(
                            "escalation to `{}` fires before the escalation to `{}`",
                            escalation.target.name, earlier_escalation.target.name
                        ),
                    )
                    .with_label("earlier than the step before")
                    .with_related(earlier.span, "the step before")
                    .with_help("list chained escalations in the order they fire"),
                );
            }
            previous = Some((fires_at, escalation));
        }
    }

    fn rep_action(&mut self, rep: &Ident) {
        if let Some(info) = self
            .fields
            .as_ref()
            .and_then(|f| f.get(rep.name.as_str()))
            .cloned()
        {
            self.string_field(rep, &info, "rep");
            return;
        }
        if self.reps.contains(rep.name.as_str())
            || self.pool_broken
            || self.broken_fields.contains(rep.name.as_str())
        {
            return;
        }
        let string_fields: Vec<&str> = self
            .fields
            .iter()
            .flat_map(|fields| fields.iter())
            .filter(|(_, info)| info.ty == FieldType::String)
            .map(|(name, _)| *name)
            .collect();
        let candidates: Vec<&str> = self.reps.iter().copied().chain(string_fields).collect();
        self.report(
            Diagnostic::new(
                Code::UnknownRep,
                rep.span,
                format!("unknown rep `{}`", rep.name),
            )
            .with_label("no pool has this member and no field has this name")
            .with_help_opt(did_you_mean(&rep.name, candidates).or_else(|| {
                Some("reps are the members of pools; `rep FIELD` names a string field".to_string())
            })),
        );
    }

    fn string_field(&mut self, field: &Ident, info: &FieldInfo, clause: &str) {
        if info.ty != FieldType::String {
            self.report(
                Diagnostic::new(
                    Code::NotAStringField,
                    field.span,
                    format!("`{clause} {}` needs a string field", field.name),
                )
                .with_label(format!("`{}` is {}", field.name, info.ty.describe()))
                .with_help(if clause == "previous rep of" {
                    "`previous rep of` compares the values of a string field, such as an email"
                        .to_string()
                } else {
                    format!("`{clause}` reads a rep or account name from a string field")
                }),
            );
        }
    }

    fn escalation_target(&mut self, target: &Ident) {
        let name = target.name.as_str();
        if self.pools.contains_key(name)
            || self.queues.contains(name)
            || self.reps.contains(name)
            || self.pool_broken
            || self.declared_by_broken(name, ItemKind::Pool)
            || self.declared_by_broken(name, ItemKind::Queue)
        {
            return;
        }
        let candidates: Vec<&str> = self
            .pools
            .keys()
            .copied()
            .chain(self.queues.iter().copied())
            .chain(self.reps.iter().copied())
            .collect();
        self.report(
            Diagnostic::new(
                Code::UnknownTarget,
                target.span,
                format!("unknown escalation target `{name}`"),
            )
            .with_label("no pool, queue or rep has this name")
            .with_help_opt(if matches!(name, "pool" | "queue" | "rep") {
                Some(format!(
                    "an escalation names its target alone: `escalate NAME`, not `escalate \
                     {name} NAME`"
                ))
            } else {
                did_you_mean(name, candidates)
            }),
        );
    }

    fn name_reference(&mut self, name: &Ident, kind: NameKind) {
        let text = name.name.as_str();
        let (known, code, what, broken_kind): (bool, Code, &str, Option<ItemKind>) = match kind {
            NameKind::Pool => (
                self.pools.contains_key(text),
                Code::UnknownPool,
                "pool",
                Some(ItemKind::Pool),
            ),
            NameKind::Queue => (
                self.queues.contains(text),
                Code::UnknownQueue,
                "queue",
                Some(ItemKind::Queue),
            ),
            NameKind::Rep => (
                self.reps.contains(text) || self.pool_broken,
                Code::UnknownRep,
                "rep",
                None,
            ),
            NameKind::Rule => (
                self.rule_names.contains(text),
                Code::UnknownRule,
                "rule",
                Some(ItemKind::Rule),
            ),
        };
        if known || broken_kind.is_some_and(|kind| self.declared_by_broken(text, kind)) {
            return;
        }
        let candidates: Vec<&str> = match kind {
            NameKind::Pool => self.pools.keys().copied().collect(),
            NameKind::Queue => self.queues.iter().copied().collect(),
            NameKind::Rep => self.reps.iter().copied().collect(),
            NameKind::Rule => self.rule_names.iter().copied().collect(),
        };
        let mut help = did_you_mean(text, candidates);
        if help.is_none() {
            help = match kind {
                NameKind::Pool if self.queues.contains(text) => {
                    Some(format!("`{text}` is a queue: write `queue {text}`"))
                }
                NameKind::Queue if self.pools.contains_key(text) => {
                    Some(format!("`{text}` is a pool: write `pool {text}`"))
                }
                NameKind::Pool => Some(format!("declare it: `pool {text} {{ members ... }}`")),
                NameKind::Queue => Some(format!("declare it: `queue {text}`")),
                _ => None,
            };
        }
        self.report(
            Diagnostic::new(code, name.span, format!("unknown {what} `{text}`"))
                .with_label("not declared")
                .with_help_opt(help),
        );
    }

    /// Looks up what a condition reads: a field, else (in a rule) a score as a required `int`.
    /// Reports `unknown-field` as [`Self::field`] does, suggesting scores too.
    fn operand(&mut self, field: &Ident) -> Option<FieldInfo> {
        if self.fields.as_ref()?.get(field.name.as_str()).is_none()
            && let Some(score) = self.score_as_field(field)
        {
            return score;
        }
        self.in_condition = true;
        let info = self.field(field);
        self.in_condition = false;
        info
    }

    /// Looks a field up; reports `unknown-field` (once per use) when it is not in the schema.
    /// Returns `None` for unknown fields and when there is no schema to look in.
    fn field(&mut self, field: &Ident) -> Option<FieldInfo> {
        let fields = self.fields.as_ref()?;
        if let Some(info) = fields.get(field.name.as_str()) {
            return Some(info.clone());
        }
        if self.broken_fields.contains(field.name.as_str()) {
            return None;
        }
        let scores: Vec<&str> = if self.in_condition && self.reading_score.is_none() {
            self.scores.keys().copied().collect()
        } else {
            Vec::new()
        };
        let help = if self.scores.contains_key(field.name.as_str()) {
            // A score outside a condition: a test's lead, `owner of`, `previous rep of`.
            Some(format!(
                "`{0}` is a score: it is computed from the lead's fields, never given (a test \
                 checks it with `expect score {0} N`)",
                field.name
            ))
        } else {
            did_you_mean(&field.name, fields.keys().copied().chain(scores))
        };
        self.report(
            Diagnostic::new(
                Code::UnknownField,
                field.span,
                format!("unknown field `{}`", field.name),
            )
            .with_label("not in the schema")
            .with_help_opt(help.or_else(|| Some("add it to the `schema`".to_string()))),
        );
        None
    }

    pub(crate) fn expr(&mut self, expr: &'a Expr) {
        match &expr.kind {
            ExprKind::And(operands) | ExprKind::Or(operands) => {
                for operand in operands {
                    self.expr(operand);
                }
            }
            ExprKind::Not(operand) => self.expr(operand),
            ExprKind::Calendar { calendar, .. } => self.calendar_reference(calendar),
            ExprKind::IsSet { field, negated } => {
                if self.score_is_set(field, expr.span, *negated) {
                    return;
                }
                if let Some(info) = self.operand(field)
                    && !info.optional
                {
                    let always = if *negated {
                        "always false"
                    } else {
                        "always true"
                    };
                    self.report(
                        Diagnostic::new(
                            Code::AlwaysSet,
                            expr.span,
                            format!(
                                "`{}` is required, so `{} is {}set` is {always}",
                                field.name,
                                field.name,
                                if *negated { "not " } else { "" }
                            ),
                        )
                        .with_label(always)
                        .with_help(format!(
                            "declare the field optional (`{}: {}?`) if leads may lack it",
                            field.name, info.ty
                        )),
                    );
                }
            }
            ExprKind::Compare { field, op, value } => {
                let Some(info) = self.operand(field) else {
                    return;
                };
                if op.value.is_ordering() && !info.ty.is_ordered() {
                    self.report(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            op.span,
                            format!("`{}` cannot be compared with `{}`", field.name, op.value.symbol()),
                        )
                        .with_label(format!("`{}` is {}", field.name, info.ty.describe()))
                        .with_help("`<`, `<=`, `>` and `>=` apply to int, number and time fields; use `=`, `!=` or `in { ... }`"),
                    );
                    return;
                }
                if matches!(value.kind, ValueKind::Null) {
                    let negated = op.value != crate::syntax::ast::CmpOp::Eq;
                    self.report(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            value.span,
                            "`null` cannot be compared",
                        )
                        .with_label("absent fields have no value")
                        .with_help(format!(
                            "write `{} is {}set`",
                            field.name,
                            if negated { "" } else { "not " }
                        )),
                    );
                    return;
                }
                self.value_fits(field, &info.ty, value);
            }
            ExprKind::In { field, values, .. } => {
                let info = self.operand(field);
                if values.is_empty() {
                    self.report(
                        Diagnostic::new(Code::EmptySet, expr.span, "`in { }` lists no values")
                            .with_label("matches nothing")
                            .with_help("list the values, or remove the condition"),
                    );
                    return;
                }
                self.set_values(values);
                if let Some(info) = info {
                    for value in values {
                        if matches!(value.kind, ValueKind::Null) {
                            self.report(
                                Diagnostic::new(
                                    Code::TypeMismatch,
                                    value.span,
                                    "`null` cannot be in a set",
                                )
                                .with_label("absent fields have no value")
                                .with_help(if info.optional {
                                    format!("test absence with `{} is not set`", field.name)
                                } else {
                                    format!(
                                        "`{}` is required, so it always has a value: remove `null`",
                                        field.name
                                    )
                                }),
                            );
                            continue;
                        }
                        self.value_fits(field, &info.ty, value);
                    }
                }
            }
        }
    }

    /// Reports sets that mix kinds of values and values listed twice.
    fn set_values(&mut self, values: &[Value]) {
        // By the value's written form, so that a set of thousands of values is checked in one
        // pass (equal kinds print alike: `"DE"`, `5`, `2.5`, `high`).
        let mut seen: std::collections::HashMap<String, Span> = std::collections::HashMap::new();
        let first_class = values.first().map(value_class);
        for value in values {
            if let Some(first_class) = first_class
                && value_class(value) != first_class
                && let Some(first) = values.first()
            {
                self.report(
                    Diagnostic::new(
                        Code::MixedSet,
                        value.span,
                        format!(
                            "set mixes {} with {}",
                            describe_value(first),
                            describe_value(value)
                        ),
                    )
                    .with_label("a different kind of value")
                    .with_related(first.span, "the set's first value")
                    .with_help("every value in a set must have the field's type"),
                );
            }
            let key = format!("{:?}", value.kind);
            if let Some(first_span) = seen.get(&key).copied() {
                self.report(
                    Diagnostic::new(
                        Code::DuplicateValue,
                        value.span,
                        format!("{} is listed twice", describe_value(value)),
                    )
                    .with_label("listed again")
                    .with_related(first_span, "first listed here"),
                );
            } else {
                seen.insert(key, value.span);
            }
        }
    }

    /// Reports a literal that does not fit the field's type.
    fn value_fits(&mut self, field: &Ident, ty: &FieldType, value: &Value) {
        match fits(ty, value) {
            Ok(()) => {}
            Err(Misfit::UnknownVariant { word }) => {
                let FieldType::Enum(variants) = ty else {
                    return;
                };
                let help =
                    did_you_mean(&word, variants.iter().map(String::as_str)).unwrap_or_else(|| {
                        format!("`{}` is one of {}", field.name, list_variants(variants))
                    });
                self.report(
                    Diagnostic::new(
                        Code::UnknownVariant,
                        value.span,
                        format!("`{word}` is not a variant of `{}`", field.name),
                    )
                    .with_label(format!("expected {}", list_variants(variants)))
                    .with_help(help),
                );
            }
            Err(Misfit::OutOfRange) => {
                self.report(
                    Diagnostic::new(
                        Code::InvalidLiteral,
                        value.span,
                        format!(
                            "`{}` is an int, and this whole number is out of an int's range",
                            field.name
                        ),
                    )
                    .with_label("does not fit in 64 bits")
                    .with_help(
                        "an int holds -9223372036854775808 to 9223372036854775807; for larger \
                         values make the field a `number`",
                    ),
                );
            }
            Err(Misfit::WrongType { hint }) => {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        value.span,
                        format!(
                            "`{}` is {}, but this is {}",
                            field.name,
                            ty.describe(),
                            describe_value(value)
                        ),
                    )
                    .with_label(format!("expected {}", ty.describe()))
                    .with_help_opt(hint),
                );
            }
        }
    }

    /// Checks test blocks: those of the policy file, or those of a file of tests.
    pub(crate) fn tests(&mut self, tests: &'a [Test]) {
        let mut names: BTreeMap<&str, Span> = BTreeMap::new();
        for test in tests {
            if let Some(first) = names.get(test.name.value.as_str()) {
                let first = *first;
                self.report(
                    Diagnostic::new(
                        Code::DuplicateTest,
                        test.name.span,
                        format!("test \"{}\" is declared twice", test.name.value),
                    )
                    .with_label("same name again")
                    .with_related(first, "first declared here")
                    .with_help("give every test its own name, so a failure names one test"),
                );
            } else {
                names.insert(&test.name.value, test.name.span);
            }
            self.test(test);
        }
    }

    /// Checks one test block, clause by clause, in the order its diagnostics are reported.
    fn test(&mut self, test: &'a Test) {
        self.test_at(test);
        self.test_rosters(test);
        self.test_lead_and_expect_counts(test);
        for lead in &test.leads {
            self.test_lead(lead);
        }
        self.test_expectation_names(test);
    }

    /// The `at` clause: given once, and not ignored because the lead gives its clock.
    fn test_at(&mut self, test: &'a Test) {
        for extra in test.at.iter().skip(1) {
            if let Some(first) = test.at.first() {
                self.report(
                    Diagnostic::new(Code::DuplicateClause, extra.span, "`at` is given twice")
                        .with_label("given again here")
                        .with_related(first.span, "first given here")
                        .with_help("a test routes its lead at one time"),
                );
            }
        }
        // `at` is the time for leads without a clock value: a lead that gives its clock ignores it.
        if let (Some(at), Some(fields)) = (test.at.first(), &self.fields) {
            let clock = fields
                .iter()
                .find(|(name, info)| **name == "created_at" && info.ty == FieldType::Time)
                .or_else(|| {
                    let times: Vec<_> = fields
                        .iter()
                        .filter(|(_, info)| info.ty == FieldType::Time)
                        .collect();
                    (times.len() == 1).then(|| times[0])
                })
                .map(|(name, _)| *name);
            let given = clock.and_then(|clock| {
                test.leads
                    .iter()
                    .flat_map(|lead| &lead.entries)
                    .find(|entry| {
                        entry.field.name == clock && !matches!(entry.value.kind, ValueKind::Null)
                    })
            });
            if let (Some(clock), Some(entry)) = (clock, given) {
                self.report(
                    Diagnostic::new(Code::UnusedAt, at.span, "`at` has no effect on this test")
                        .with_label("ignored")
                        .with_related(
                            entry.field.span,
                            format!("the lead's `{clock}` is its clock"),
                        )
                        .with_help(format!(
                            "change the lead's `{clock}` instead, or remove `at`"
                        )),
                );
            }
        }
    }

    /// The `roster` clause: given once; an inline roster names only reps of the policy.
    fn test_rosters(&mut self, test: &'a Test) {
        for (index, roster) in test.rosters.iter().enumerate() {
            let span = match roster {
                crate::syntax::ast::RosterSpec::File(path) => path.span,
                crate::syntax::ast::RosterSpec::Inline(inline) => inline.span,
            };
            if index > 0 {
                self.report(
                    Diagnostic::new(Code::DuplicateClause, span, "`roster` is given twice")
                        .with_label("given again here")
                        .with_help("a test has one roster: a file, or an inline `roster { ... }`"),
                );
            }
            if let crate::syntax::ast::RosterSpec::Inline(inline) = roster {
                for owner in inline
                    .accounts
                    .iter()
                    .filter_map(|account| account.owner.as_ref())
                {
                    if !self.reps.contains(owner.name.as_str()) && !self.pool_broken {
                        let candidates: Vec<&str> = self.reps.iter().copied().collect();
                        self.report(
                            Diagnostic::new(
                                Code::UnknownRep,
                                owner.span,
                                format!("unknown rep `{}`", owner.name),
                            )
                            .with_label("account owners are reps: members of a pool")
                            .with_help_opt(did_you_mean(&owner.name, candidates)),
                        );
                    }
                }
                self.inline_roster_facts(inline);
                for rep in &inline.reps {
                    if !self.reps.contains(rep.name.name.as_str()) && !self.pool_broken {
                        let candidates: Vec<&str> = self.reps.iter().copied().collect();
                        self.report(
                            Diagnostic::new(
                                Code::UnknownRep,
                                rep.name.span,
                                format!("unknown rep `{}`", rep.name.name),
                            )
                            .with_label("no pool has this member")
                            .with_help_opt(did_you_mean(&rep.name.name, candidates)),
                        );
                    }
                }
            }
        }
    }

    /// An inline roster's facts, held as a roster file's are (and facts a rep has one of
    /// given twice with other values: `anna away, anna available`): out-of-office ranges that end
    /// before they start or overlap another of the rep's, an account listed twice, and parents
    /// that lead back to their account. (A test whose dates are swapped would pass for the
    /// wrong reason.)
    fn inline_roster_facts(&mut self, inline: &'a crate::syntax::ast::InlineRoster) {
        // A rep may be named more than once (`anna away, anna assigned 2 today`): their ranges
        // are held together.
        let mut ranges_of: BTreeMap<&str, Vec<(jiff::Timestamp, jiff::Timestamp)>> =
            BTreeMap::new();
        // Facts a rep has one of (a status, an open count, a count per window): the first
        // given, by rep and kind. A second that differs is a test that says two things.
        let mut single_facts: BTreeMap<(&str, String), String> = BTreeMap::new();
        for rep in &inline.reps {
            for fact in &rep.facts {
                use crate::syntax::ast::RepFact;
                // The fact's kind, as one and as two, and its value as written.
                let (kind, value) = match fact {
                    RepFact::Away => ("status|statuses".to_string(), "away".to_string()),
                    RepFact::Offline => ("status|statuses".to_string(), "offline".to_string()),
                    RepFact::Available => ("status|statuses".to_string(), "available".to_string()),
                    RepFact::Open(count) => (
                        "open count|open counts".to_string(),
                        format!("open {count}"),
                    ),
                    RepFact::Assigned { count, period } => (
                        format!(
                            "count of leads assigned {0}|counts of leads assigned {0}",
                            period_words(*period)
                        ),
                        format!("assigned {count} {}", period_words(*period)),
                    ),
                    RepFact::Out { .. } => continue,
                };
                let name = rep.name.name.as_str();
                match single_facts.get(&(name, kind.clone())) {
                    Some(first) if *first != value => {
                        let (one, two) = kind.split_once('|').unwrap_or((&kind, &kind));
                        self.report(
                            Diagnostic::new(
                                Code::RosterShape,
                                rep.name.span,
                                format!(
                                    "rep `{name}` is given two {two}, `{first}` and `{value}`: \
                                     the test would hold the last one only"
                                ),
                            )
                            .with_label("given again here")
                            .with_help(format!("give `{name}` one {one}")),
                        );
                    }
                    Some(_) => {}
                    None => {
                        single_facts.insert((name, kind), value);
                    }
                }
            }
        }
        for rep in &inline.reps {
            let ranges = ranges_of.entry(rep.name.name.as_str()).or_default();
            for fact in &rep.facts {
                let crate::syntax::ast::RepFact::Out { from, to } = fact else {
                    continue;
                };
                let (Some(start), Some(end)) =
                    (roster_instant(from, false), roster_instant(to, true))
                else {
                    continue;
                };
                let name = &rep.name.name;
                if end <= start {
                    self.report(
                        Diagnostic::new(
                            Code::RosterOutOfOffice,
                            rep.name.span,
                            format!("rep `{name}`: out of office from {from} to {to} ends before it starts"),
                        )
                        .with_label("in this rep's facts")
                        .with_help(format!("swap them: `out {to} to {from}`")),
                    );
                    continue;
                }
                if ranges.iter().any(|(f, t)| start < *t && *f < end) {
                    self.report(
                        Diagnostic::new(
                            Code::RosterOutOfOffice,
                            rep.name.span,
                            format!("rep `{name}`: out of office from {from} to {to} overlaps another range"),
                        )
                        .with_label("in this rep's facts")
                        .with_help("merge the two ranges into one"),
                    );
                }
                ranges.push((start, end));
            }
        }
        let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
        for account in &inline.accounts {
            let name = account.name.value.as_str();
            if let Some(first) = seen.get(name) {
                self.report(
                    Diagnostic::new(
                        Code::DuplicateName,
                        account.name.span,
                        format!("account \"{name}\" is listed twice in this roster"),
                    )
                    .with_label("listed again")
                    .with_related(*first, "first listed here")
                    .with_help("list each account once, with its owner and its parent"),
                );
            } else {
                seen.insert(name, account.name.span);
            }
        }
        let parent_of = |name: &str| {
            inline
                .accounts
                .iter()
                .find(|account| account.name.value == name)
                .and_then(|account| account.parent.as_ref())
                .map(|parent| parent.value.as_str())
        };
        for account in &inline.accounts {
            let start = account.name.value.as_str();
            // Each loop once: at its first account by name, and that account's first listing.
            if seen.get(start) != Some(&account.name.span) {
                continue;
            }
            if let Some(chain) = parent_loop(start, parent_of, inline.accounts.len()) {
                self.report(
                    Diagnostic::new(
                        Code::RosterParentLoop,
                        account.name.span,
                        format!(
                            "account \"{start}\" is its own ancestor: {}",
                            chain.join(" -> ")
                        ),
                    )
                    .with_help("an account's parents must end at an account without a parent"),
                );
            }
        }
    }

    /// A test routes exactly one lead and expects something.
    fn test_lead_and_expect_counts(&mut self, test: &'a Test) {
        match test.leads.as_slice() {
            [] => self.report(
                Diagnostic::new(
                    Code::TestWithoutLead,
                    test.name.span,
                    format!("test \"{}\" has no `lead`", test.name.value),
                )
                .with_label("nothing to route")
                .with_help("add `lead { id: \"t1\", ... }` with the fields of the schema"),
            ),
            [_, rest @ ..] => {
                for extra in rest {
                    self.report(
                        Diagnostic::new(
                            Code::TestWithoutLead,
                            extra.span,
                            format!("test \"{}\" has more than one `lead`", test.name.value),
                        )
                        .with_label("a second lead")
                        .with_help("a test routes one lead; split it into several tests"),
                    );
                }
            }
        }
        if test.expectations.is_empty() {
            self.report(
                Diagnostic::new(
                    Code::TestWithoutExpect,
                    test.name.span,
                    format!("test \"{}\" expects nothing", test.name.value),
                )
                .with_label("no `expect`")
                .with_help("add what must happen, such as `expect pool senior within 15m`"),
            );
        }
    }

    /// A test's lead: each field given once, with a value of its type, and every required
    /// field given.
    fn test_lead(&mut self, lead: &'a LeadLiteral) {
        let mut given: BTreeMap<&str, Span> = BTreeMap::new();
        for entry in &lead.entries {
            if let Some(first) = given.get(entry.field.name.as_str()) {
                let first = *first;
                self.report(
                    Diagnostic::new(
                        Code::DuplicateName,
                        entry.field.span,
                        format!("field `{}` is given twice in this lead", entry.field.name),
                    )
                    .with_label("given again here")
                    .with_related(first, "first given here")
                    .with_help("remove one of them"),
                );
                continue;
            }
            given.insert(&entry.field.name, entry.field.span);
            let Some(info) = self.field(&entry.field) else {
                continue;
            };
            if matches!(entry.value.kind, ValueKind::Null) {
                if !info.optional {
                    self.report(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            entry.value.span,
                            format!("`{}` is required and cannot be `null`", entry.field.name),
                        )
                        .with_label("required field")
                        .with_help(format!("give `{}` a value", entry.field.name)),
                    );
                }
                continue;
            }
            self.value_fits(&entry.field, &info.ty, &entry.value);
        }
        if let Some(fields) = &self.fields {
            let missing: Vec<String> = fields
                .iter()
                .filter(|(name, info)| !info.optional && !given.contains_key(*name))
                .map(|(name, _)| format!("`{name}`"))
                .collect();
            if !missing.is_empty() {
                let list = missing.join(", ");
                self.report(
                    Diagnostic::new(
                        Code::MissingField,
                        lead.span,
                        format!(
                            "test lead lacks required field{} {list}",
                            if missing.len() == 1 { "" } else { "s" }
                        ),
                    )
                    .with_label("incomplete lead")
                    .with_help("give every required field a value, as a real lead would"),
                );
            }
        }
    }

    /// The pools, queues, reps, rules and escalation targets that expectations name exist.
    fn test_expectation_names(&mut self, test: &'a Test) {
        let reps: BTreeSet<&str> = self.reps.clone();
        for expectation in &test.expectations {
            match &expectation.kind {
                ExpectationKind::Pool(pool) => self.name_reference(pool, NameKind::Pool),
                ExpectationKind::Queue(queue) => self.name_reference(queue, NameKind::Queue),
                ExpectationKind::Rep(rep) => {
                    if !reps.contains(rep.name.as_str()) {
                        self.name_reference(rep, NameKind::Rep);
                    }
                }
                ExpectationKind::Rule(rule) => self.name_reference(rule, NameKind::Rule),
                ExpectationKind::Escalate(escalation) => self.escalation_target(&escalation.target),
                ExpectationKind::Score { score, .. } => self.score_reference(score),
                ExpectationKind::Tag(tag) => self.tag_reference(tag),
                ExpectationKind::Unassigned | ExpectationKind::Within(_) => {}
            }
        }
    }
}

/// Whether `left` is certainly shorter than `right` (business and wall-clock time are compared
/// only with their own kind: how they relate depends on the calendar).
fn shorter(left: Duration, right: Duration) -> bool {
    match (left.kind, right.kind) {
        (DurationKind::Fixed { seconds: left }, DurationKind::Fixed { seconds: right }) => {
            left < right
        }
        (
            DurationKind::Business {
                count: left,
                unit: left_unit,
            },
            DurationKind::Business {
                count: right,
                unit: right_unit,
            },
        ) if left_unit == right_unit => left < right,
        _ => false,
    }
}

/// An out-of-office bound of an inline roster as an instant, UTC as a roster file's are checked
/// (a date's start, or for an end the start of the next day); `None` when it cannot be read
/// (the lowering reports that).
fn roster_instant(value: &str, end: bool) -> Option<jiff::Timestamp> {
    if let Ok(time) = value.parse::<jiff::Timestamp>() {
        return Some(time);
    }
    let date: jiff::civil::Date = value.parse().ok()?;
    let day = if end { date.tomorrow().ok()? } else { date };
    jiff::tz::TimeZone::UTC
        .to_timestamp(day.to_datetime(jiff::civil::Time::midnight()))
        .ok()
}

/// The accounts `start`'s parents lead through back to it (`A -> B -> A`), when they do and
/// `start` is the loop's first account by name (so that each loop is found once); `None`
/// otherwise. `accounts` bounds the walk. Shared by inline test rosters and roster files.
pub(crate) fn parent_loop<'a>(
    start: &'a str,
    parent_of: impl Fn(&str) -> Option<&'a str>,
    accounts: usize,
) -> Option<Vec<&'a str>> {
    let mut chain = vec![start];
    let mut current = start;
    while let Some(parent) = parent_of(current) {
        if parent == start {
            if chain.iter().min() != Some(&start) {
                return None;
            }
            chain.push(start);
            return Some(chain);
        }
        if chain.contains(&parent) || chain.len() > accounts {
            return None;
        }
        chain.push(parent);
        current = parent;
    }
    None
}

/// How an inline roster writes a window of `assigned N …`.
fn period_words(period: crate::syntax::ast::Period) -> &'static str {
    match period {
        crate::syntax::ast::Period::Hour => "this hour",
        crate::syntax::ast::Period::Day => "today",
        crate::syntax::ast::Period::Week => "this week",
    }
}
