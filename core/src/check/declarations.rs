//! Checks of the declarations (schema, calendars, pools, queues) and the name tables they fill.

use super::suggest::did_you_mean;
use super::types::{FieldType, TYPE_NAMES};
use super::{Checker, FieldInfo};
use crate::diagnostic::{Code, Diagnostic};

/// The largest weight a `weighted(...)` member may have: shares this large already make any
/// split a policy means, and the rotation's sums stay far inside 64 bits.
const MOST_WEIGHT: u64 = 1_000_000;

/// The most working ranges a calendar may give one day: split shifts take a few.
const MOST_RANGES_A_DAY: usize = 24;
use crate::span::Span;
use crate::syntax::ast::{
    ActionKind, Calendar, Cap, Ident, ItemKind, Pool, RepItem, Strategy, TypeExpr, Weekday,
};
use std::collections::{BTreeMap, BTreeSet};

/// The strategies a pool may name without arguments.
pub const STRATEGY_NAMES: [&str; 3] = ["round_robin", "least_loaded", "ordered"];

impl<'a> Checker<'a> {
    pub(crate) fn declarations(&mut self) {
        self.schema();
        let file = self.file;
        let mut calendar_names: BTreeMap<&str, Span> = BTreeMap::new();
        for calendar in &file.calendars {
            if self.first_declaration(&mut calendar_names, &calendar.name, "calendar") {
                self.calendars.insert(&calendar.name.name);
            }
            self.calendar(calendar);
        }
        // Pools and queues share one namespace: `escalate X` may name either.
        let mut destinations: BTreeMap<&str, Span> = BTreeMap::new();
        for pool in &file.pools {
            if self.first_declaration(&mut destinations, &pool.name, "pool or queue") {
                self.pools.insert(&pool.name.name, pool);
            }
            for member in &pool.members {
                self.reps.insert(&member.name);
            }
        }
        for queue in &file.queues {
            if self.first_declaration(&mut destinations, &queue.name, "pool or queue") {
                self.queues.insert(&queue.name.name);
            }
        }
        let mut rep_items: BTreeMap<&str, Span> = BTreeMap::new();
        for item in &file.reps {
            if self.first_declaration(&mut rep_items, &item.name, "rep") {
                self.reps.insert(&item.name.name);
            }
        }
        self.score_and_tag_declarations();
        for pool in &file.pools {
            self.pool(pool);
        }
        for item in &file.reps {
            self.rep_item(item);
        }
    }

    /// A `rep` item: its calendar, its caps, and whether anything routes to the rep.
    fn rep_item(&mut self, item: &'a RepItem) {
        self.calendar_clauses(&item.calendars);
        self.caps(&format!("rep `{}`", item.name.name), &item.caps);
        let file = self.file;
        let name = item.name.name.as_str();
        let in_pool = file
            .pools
            .iter()
            .any(|pool| pool.members.iter().any(|member| member.name == name));
        let named = file.rules.iter().any(|rule| {
            rule.actions
                .iter()
                .any(|action| matches!(&action.kind, ActionKind::Rep(rep) if rep.name == name))
                || rule
                    .escalations
                    .iter()
                    .any(|escalation| escalation.target.name == name)
        });
        if !in_pool && !named {
            self.report(
                Diagnostic::new(
                    Code::UnusedRepItem,
                    item.name.span,
                    format!("rep `{name}` is in no pool and named by no rule"),
                )
                .with_label("no lead can reach this rep")
                .with_help(format!(
                    "add `{name}` to a pool's `members`, or route to it with `rep {name}`"
                )),
            );
        }
    }

    /// A pool's or `rep` item's `calendar` clauses: one, naming a declared calendar.
    fn calendar_clauses(&mut self, calendars: &'a [Ident]) {
        if let [first, rest @ ..] = calendars {
            for extra in rest {
                self.duplicate_clause(extra.span, first.span, "calendar");
            }
            self.calendar_reference(first);
        }
    }

    /// A pool's or rep's caps: each period at most once (`cap N` is the period of open leads),
    /// and none of 0.
    fn caps(&mut self, owner: &str, caps: &'a [Cap]) {
        let mut seen: BTreeMap<Option<crate::syntax::ast::Period>, Span> = BTreeMap::new();
        for cap in caps {
            let period = cap.period.as_ref().map(|period| period.value);
            let clause = match period {
                Some(period) => format!("cap N per {}", period.word()),
                None => "cap".to_string(),
            };
            if let Some(first) = seen.get(&period) {
                self.duplicate_clause(cap.span, *first, &clause);
                continue;
            }
            seen.insert(period, cap.span);
            if cap.limit.value == 0 {
                let (written, label) = match period {
                    Some(period) => (
                        format!("cap 0 per {}", period.word()),
                        format!("no lead can be assigned in a {}", period.word()),
                    ),
                    None => ("cap 0".to_string(), "no rep may hold any lead".to_string()),
                };
                self.report(
                    Diagnostic::new(Code::ZeroCap, cap.span, format!("{owner} has `{written}`"))
                        .with_label(label)
                        .with_help(match period {
                            Some(period) => format!(
                                "remove the cap, or set the most leads a rep may get in a {}",
                                period.word()
                            ),
                            None => "remove the cap, or set the most open leads a rep may hold"
                                .to_string(),
                        }),
                );
            }
        }
    }

    /// Records a declaration; reports `duplicate-name` and returns false if the name was taken.
    pub(crate) fn first_declaration(
        &mut self,
        seen: &mut BTreeMap<&'a str, Span>,
        name: &'a Ident,
        what: &str,
    ) -> bool {
        if let Some(first) = seen.get(name.name.as_str()) {
            let first = *first;
            self.report(
                Diagnostic::new(
                    Code::DuplicateName,
                    name.span,
                    format!("{what} `{}` is declared twice", name.name),
                )
                .with_label("declared again here")
                .with_related(first, "first declared here")
                .with_help("rename one of them or remove the duplicate"),
            );
            false
        } else {
            seen.insert(&name.name, name.span);
            true
        }
    }

    fn schema(&mut self) {
        let file = self.file;
        let Some(schema) = file.schemas.first() else {
            if !file.broken.iter().any(|item| item.kind == ItemKind::Schema) {
                self.report(
                    Diagnostic::new(Code::MissingSchema, Span::at(0), "policy has no `schema`")
                        .with_label("rules are checked against a schema")
                        .with_help(
                            "declare the fields a lead has, e.g. `schema lead { id: string  intent: enum { low, high } }`",
                        ),
                );
            }
            return;
        };
        for extra in &file.schemas[1..] {
            self.report(
                Diagnostic::new(
                    Code::DuplicateName,
                    extra.name.span,
                    "a policy has one schema; this is a second one",
                )
                .with_label("second schema")
                .with_related(schema.name.span, "first schema here")
                .with_help("merge the fields into the first schema"),
            );
        }
        let mut fields = BTreeMap::new();
        let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
        for field in &schema.fields {
            if !self.first_declaration(&mut seen, &field.name, "field") {
                continue;
            }
            let ty = match &field.ty {
                TypeExpr::Named(name) => match FieldType::from_name(&name.name) {
                    Some(ty) => ty,
                    None => {
                        self.report(
                            Diagnostic::new(
                                Code::UnknownType,
                                name.span,
                                format!("unknown type `{}`", name.name),
                            )
                            .with_label("not a type")
                            .with_help(FieldType::alias(&name.name).map(|alias| format!("did you mean `{alias}`?")).or_else(|| did_you_mean(&name.name, TYPE_NAMES)).unwrap_or_else(
                                || {
                                    "types are `string`, `int`, `number`, `time`, `bool` and `enum { ... }`"
                                        .to_string()
                                },
                            )),
                        );
                        // Keep the field so that its uses are not reported as unknown.
                        self.broken_fields.insert(&field.name.name);
                        continue;
                    }
                },
                TypeExpr::Enum { variants, .. } => {
                    let mut seen_variants: BTreeMap<&str, Span> = BTreeMap::new();
                    for variant in variants {
                        self.first_declaration(&mut seen_variants, variant, "variant");
                    }
                    let mut names: Vec<String> = Vec::new();
                    let mut kept: std::collections::HashSet<&str> = Default::default();
                    for variant in variants {
                        if kept.insert(variant.name.as_str()) {
                            names.push(variant.name.clone());
                        }
                    }
                    FieldType::Enum(names.into())
                }
            };
            fields.insert(
                field.name.name.as_str(),
                FieldInfo {
                    ty,
                    optional: field.optional,
                },
            );
        }
        for broken in &schema.broken_fields {
            self.broken_fields.insert(&broken.name);
        }
        match fields.get("id") {
            None if !self.broken_fields.contains("id") => self.report(
                Diagnostic::new(
                    Code::MissingIdField,
                    schema.name.span,
                    format!("schema `{}` has no `id` field", schema.name.name),
                )
                .with_label("every lead needs an id")
                .with_help("add `id: string`: decisions and errors name the lead by it"),
            ),
            Some(info)
                if info.optional || !matches!(info.ty, FieldType::String | FieldType::Int) =>
            {
                if let Some(field) = schema.fields.iter().find(|f| f.name.name == "id") {
                    self.report(
                        Diagnostic::new(
                            Code::MissingIdField,
                            field.span,
                            "`id` must be a required string or int",
                        )
                        .with_label(format!(
                            "declared as {}{}",
                            info.ty,
                            if info.optional { "?" } else { "" }
                        ))
                        .with_help("declare it as `id: string`"),
                    );
                }
            }
            _ => {}
        }
        self.fields = Some(fields);
    }

    fn calendar(&mut self, calendar: &'a Calendar) {
        match calendar.timezones.as_slice() {
            [] if calendar.has_broken_clause => {}
            [] => self.report(
                Diagnostic::new(
                    Code::MissingTimezone,
                    calendar.name.span,
                    format!("calendar `{}` has no time zone", calendar.name.name),
                )
                .with_label("working hours need a time zone")
                .with_help("add a clause such as `timezone Europe/Berlin`"),
            ),
            [zone, rest @ ..] => {
                for extra in rest {
                    self.duplicate_clause(extra.span, zone.span, "timezone");
                }
                if jiff::tz::db().get(&zone.value).is_err() {
                    let names: Vec<String> = jiff::tz::db()
                        .available()
                        .map(|name| name.to_string())
                        .collect();
                    let help = did_you_mean(&zone.value, names.iter().map(String::as_str))
                        .unwrap_or_else(|| {
                            "use an IANA time zone name such as `Europe/Berlin` or `America/New_York`"
                                .to_string()
                        });
                    self.report(
                        Diagnostic::new(
                            Code::UnknownTimezone,
                            zone.span,
                            format!("unknown time zone `{}`", zone.value),
                        )
                        .with_label("not in the IANA time zone database")
                        .with_help(help),
                    );
                }
            }
        }
        if calendar.hours.is_empty() && !calendar.has_broken_clause {
            self.report(
                Diagnostic::new(
                    Code::MissingHours,
                    calendar.name.span,
                    format!("calendar `{}` has no working hours", calendar.name.name),
                )
                .with_label("no `hours` clause")
                .with_help("add a clause such as `hours mon-fri 09:00-18:00`"),
            );
        }
        for hours in &calendar.hours {
            for days in &hours.days {
                if days.first > days.last {
                    self.report(
                        Diagnostic::new(
                            Code::ReversedDays,
                            days.span,
                            format!(
                                "day range `{}-{}` ends before it starts",
                                days.first.word(),
                                days.last.word()
                            ),
                        )
                        .with_label("weeks run from `mon` to `sun`")
                        .with_help(format!(
                            "write it as two ranges: `{}, {}`",
                            day_range(days.first, Weekday::Sun),
                            day_range(Weekday::Mon, days.last)
                        )),
                    );
                }
            }
            for range in &hours.times {
                let mut valid = true;
                for (clock, is_end) in [(range.start, false), (range.end, true)] {
                    let end_of_day = is_end && clock.hour == 24 && clock.minute == 0;
                    if (clock.hour > 23 || clock.minute > 59) && !end_of_day {
                        valid = false;
                        self.report(
                            Diagnostic::new(
                                Code::InvalidClock,
                                range.span,
                                format!(
                                    "`{:02}:{:02}` is not a time of day",
                                    clock.hour, clock.minute
                                ),
                            )
                            .with_label("hours run from 00:00 to 23:59")
                            .with_help("`24:00` may end a range that runs to midnight"),
                        );
                    }
                }
                if valid && range.end <= range.start {
                    self.report(
                        Diagnostic::new(
                            Code::ReversedHours,
                            range.span,
                            format!(
                                "hour range `{:02}:{:02}-{:02}:{:02}` ends before it starts",
                                range.start.hour, range.start.minute, range.end.hour, range.end.minute
                            ),
                        )
                        .with_label("empty range")
                        .with_help(
                            "a range that crosses midnight is two ranges: `22:00-24:00` today and `00:00-06:00` the next day",
                        ),
                    );
                }
            }
        }
        // Ranges per weekday: a day split into hundreds of ranges is no working day, and the
        // instants the analysis tries grow with them (16 calendars of 720 a day took 36 s).
        let mut ranges = [0usize; 7];
        for hours in &calendar.hours {
            for days in &hours.days {
                for day in (days.first as usize)..=(days.last as usize) {
                    if let Some(count) = ranges.get_mut(day) {
                        *count += hours.times.len();
                    }
                }
            }
        }
        if let Some((day, count)) = ranges
            .iter()
            .enumerate()
            .find(|(_, count)| **count > MOST_RANGES_A_DAY)
        {
            let word = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                .get(day)
                .copied()
                .unwrap_or("?");
            self.report(
                Diagnostic::new(
                    Code::TooManyHours,
                    calendar.name.span,
                    format!(
                        "calendar `{}` gives `{word}` {count} working ranges, more than \
                         {MOST_RANGES_A_DAY}",
                        calendar.name.name
                    ),
                )
                .with_label("too many ranges in a day")
                .with_help("merge ranges that touch, or give the working day in a few ranges"),
            );
        }
        let mut holidays: BTreeMap<&str, Span> = BTreeMap::new();
        for holiday in &calendar.holidays {
            if let Err(error) = holiday.value.parse::<jiff::civil::Date>() {
                self.report(
                    Diagnostic::new(
                        Code::InvalidDate,
                        holiday.span,
                        format!("`{}` is not a date", holiday.value),
                    )
                    .with_label("no such day")
                    .with_help(format!(
                        "holidays are real dates written `YYYY-MM-DD` ({error})"
                    )),
                );
            }
            if let Some(first) = holidays.get(holiday.value.as_str()) {
                let first = *first;
                self.report(
                    Diagnostic::new(
                        Code::DuplicateValue,
                        holiday.span,
                        format!("holiday `{}` is listed twice", holiday.value),
                    )
                    .with_label("listed again")
                    .with_related(first, "first listed here"),
                );
            } else {
                holidays.insert(&holiday.value, holiday.span);
            }
        }
    }

    fn duplicate_clause(&mut self, span: Span, first: Span, clause: &str) {
        self.report(
            Diagnostic::new(
                Code::DuplicateClause,
                span,
                format!("`{clause}` is given twice"),
            )
            .with_label("given again here")
            .with_related(first, "first given here")
            .with_help("keep one of them"),
        );
    }

    fn pool(&mut self, pool: &'a Pool) {
        if pool.members.is_empty() && !pool.has_broken_clause {
            self.report(
                Diagnostic::new(
                    Code::EmptyPool,
                    pool.name.span,
                    format!("pool `{}` has no members", pool.name.name),
                )
                .with_label("no rep can be chosen from it")
                .with_help("add a clause such as `members anna, boris`"),
            );
        }
        for extra in pool.members_clauses.iter().skip(1) {
            if let Some(first) = pool.members_clauses.first() {
                self.duplicate_clause(*extra, *first, "members");
            }
        }
        let mut members: BTreeMap<&str, Span> = BTreeMap::new();
        for member in &pool.members {
            if let Some(first) = members.get(member.name.as_str()) {
                let first = *first;
                self.report(
                    Diagnostic::new(
                        Code::DuplicateMember,
                        member.span,
                        format!(
                            "`{}` is listed twice in pool `{}`",
                            member.name, pool.name.name
                        ),
                    )
                    .with_label("listed again")
                    .with_related(first, "first listed here")
                    .with_help(
                        "list each rep once; use `weighted(...)` to give a rep a larger share",
                    ),
                );
            } else {
                members.insert(&member.name, member.span);
            }
        }
        if let [first, rest @ ..] = pool.strategies.as_slice() {
            for extra in rest {
                self.duplicate_clause(extra.span(), first.span(), "strategy");
            }
            self.strategy(pool, first, &members);
        }
        self.caps(&format!("pool `{}`", pool.name.name), &pool.caps);
        if let [first, rest @ ..] = pool.on_shift.as_slice() {
            for extra in rest {
                self.duplicate_clause(*extra, *first, "on shift");
            }
        }
        self.calendar_clauses(&pool.calendars);
    }

    fn strategy(&mut self, pool: &'a Pool, strategy: &'a Strategy, members: &BTreeMap<&str, Span>) {
        match strategy {
            Strategy::Named(name) => {
                if STRATEGY_NAMES.contains(&name.name.as_str()) {
                    return;
                }
                let help = if name.name == "weighted" {
                    "`weighted` needs a weight per member: `weighted(anna=2, boris=1)`".to_string()
                } else {
                    did_you_mean(&name.name, STRATEGY_NAMES.iter().copied().chain(["weighted"]))
                        .unwrap_or_else(|| {
                            "strategies are `round_robin`, `weighted(...)`, `least_loaded` and `ordered`"
                                .to_string()
                        })
                };
                self.report(
                    Diagnostic::new(
                        Code::UnknownStrategy,
                        name.span,
                        format!("unknown strategy `{}`", name.name),
                    )
                    .with_label("not a strategy")
                    .with_help(help),
                );
            }
            Strategy::Weighted { weights, span } => {
                let mut weighted: BTreeMap<&str, Span> = BTreeMap::new();
                let mut total: u64 = 0;
                for weight in weights {
                    total = total.saturating_add(weight.weight.value);
                    if weight.weight.value > MOST_WEIGHT {
                        // The rotation adds the weights up: beyond 64 bits it would give every
                        // lead to one rep.
                        self.report(
                            Diagnostic::new(
                                Code::InvalidLiteral,
                                weight.weight.span,
                                format!(
                                    "the weight of `{}` is too large: at most 1000000",
                                    weight.member.name
                                ),
                            )
                            .with_label("a share, not an amount")
                            .with_help(
                                "weights are shares: `weighted(anna=3, boris=1)` gives anna three \
                                 leads for each of boris's",
                            ),
                        );
                    }
                    if !members.contains_key(weight.member.name.as_str()) {
                        self.report(
                            Diagnostic::new(
                                Code::WeightNotMember,
                                weight.member.span,
                                format!(
                                    "`{}` is not a member of pool `{}`",
                                    weight.member.name, pool.name.name
                                ),
                            )
                            .with_label("weight for a non-member")
                            .with_help_opt(
                                did_you_mean(&weight.member.name, members.keys().copied()).or_else(
                                    || Some(format!("add `{}` to `members`", weight.member.name)),
                                ),
                            ),
                        );
                    }
                    if let Some(first) = weighted.get(weight.member.name.as_str()) {
                        let first = *first;
                        self.report(
                            Diagnostic::new(
                                Code::DuplicateMember,
                                weight.member.span,
                                format!("`{}` has two weights", weight.member.name),
                            )
                            .with_label("weighted again")
                            .with_related(first, "first weight here"),
                        );
                    } else {
                        weighted.insert(&weight.member.name, weight.member.span);
                    }
                }
                for (member, member_span) in members {
                    if !weighted.contains_key(member) && !pool.has_broken_clause {
                        self.report(
                            Diagnostic::new(
                                Code::MissingWeight,
                                *span,
                                format!(
                                    "member `{member}` of pool `{}` has no weight",
                                    pool.name.name
                                ),
                            )
                            .with_label(format!("no weight for `{member}`"))
                            .with_related(*member_span, "member listed here")
                            .with_help(format!("add `{member}=1` (or the share it should get)")),
                        );
                    }
                }
                if total == 0 && !weights.is_empty() {
                    self.report(
                        Diagnostic::new(
                            Code::ZeroWeights,
                            *span,
                            format!("the weights of pool `{}` sum to 0", pool.name.name),
                        )
                        .with_label("no rep would ever be chosen")
                        .with_help("give at least one member a positive weight"),
                    );
                }
            }
        }
    }

    /// Reports a use of an undeclared calendar.
    pub(crate) fn calendar_reference(&mut self, name: &Ident) {
        if self.calendars.contains(name.name.as_str())
            || self.declared_by_broken(&name.name, ItemKind::Calendar)
        {
            return;
        }
        let candidates: BTreeSet<&str> = self.calendars.clone();
        self.report(
            Diagnostic::new(
                Code::UnknownCalendar,
                name.span,
                format!("unknown calendar `{}`", name.name),
            )
            .with_label("not declared")
            .with_help_opt(did_you_mean(&name.name, candidates).or_else(|| {
                Some(format!(
                    "declare it: `calendar {} {{ timezone Europe/Berlin  hours mon-fri 09:00-18:00 }}`",
                    name.name
                ))
            })),
        );
    }
}

/// `mon-fri`, or `sun` when the range is one day.
fn day_range(first: Weekday, last: Weekday) -> String {
    if first == last {
        first.word().to_string()
    } else {
        format!("{}-{}", first.word(), last.word())
    }
}
