//! Differential test of the semantic diff, on random pairs of policies (a random policy and a
//! mutation of it: rules reordered, dropped, added, renamed, conditions and actions changed,
//! sometimes with a schema change) and random leads of the lead space both accept:
//! - a lead's decision differs between the two policies (another rule label, or other routing)
//!   exactly when the product graph puts it in a changed region, and that region's pair of
//!   rules is the pair the two policies decide;
//! - every such pair is a reported change, and, when all its regions are listed, the lead lies
//!   in one of them; the listed regions of a change (merged from neighbouring paths) hold only
//!   leads of that change;
//! - every region's example lead is decided by the two policies exactly as the change says;
//! - a diff that reports no change has no lead that differs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

use proptest::prelude::*;
use switchboard::diff::{DiffConfig, Regions, Routing, diff};
use switchboard::model::{EvalContext, Lead, LeadValue, Policy, Scalar};

/// Which optional parts the schema has.
#[derive(Debug, Clone)]
struct Shape {
    enums: Vec<(usize, bool)>, // (variant count, optional)
    amount: Option<bool>,      // number; optional?
    count: Option<bool>,       // int; optional?
    country: Option<bool>,     // string; optional?
    clock: Option<bool>,
    calendar: bool,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        prop::collection::vec((2usize..=3, any::<bool>()), 1..=2),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        any::<bool>(),
    )
        .prop_map(|(enums, amount, count, country, clock, calendar)| Shape {
            enums,
            amount,
            count,
            country,
            clock,
            calendar,
        })
}

fn atom(shape: &Shape) -> BoxedStrategy<String> {
    let mut options: Vec<BoxedStrategy<String>> = Vec::new();
    for (index, (count, optional)) in shape.enums.iter().copied().enumerate() {
        let field = format!("e{index}");
        let variant = (0..count).prop_map(|v| format!("v{v}"));
        let f = field.clone();
        options.push(
            (variant.clone(), prop::sample::select(vec!["=", "!="]))
                .prop_map(move |(v, op)| format!("{f} {op} {v}"))
                .boxed(),
        );
        let f = field.clone();
        options.push(
            (
                prop::collection::btree_set(variant, 1..=count),
                any::<bool>(),
            )
                .prop_map(move |(set, not)| {
                    let list: Vec<String> = set.into_iter().collect();
                    format!(
                        "{f} {}in {{{}}}",
                        if not { "not " } else { "" },
                        list.join(", ")
                    )
                })
                .boxed(),
        );
        if optional {
            let f = field.clone();
            options.push(
                any::<bool>()
                    .prop_map(move |not| format!("{f} is {}set", if not { "not " } else { "" }))
                    .boxed(),
            );
        }
    }
    let ops = vec!["=", "!=", "<", "<=", ">", ">="];
    if shape.amount.is_some() {
        options.push(
            (
                prop::sample::select(ops.clone()),
                prop::sample::select(vec!["0", "10", "10.5", "20"]),
            )
                .prop_map(|(op, v)| format!("amount {op} {v}"))
                .boxed(),
        );
    }
    if shape.count.is_some() {
        options.push(
            (
                prop::sample::select(ops.clone()),
                prop::sample::select(vec!["0", "1", "10", "11"]),
            )
                .prop_map(|(op, v)| format!("count {op} {v}"))
                .boxed(),
        );
    }
    if shape.country.is_some() {
        options.push(
            (
                prop::collection::btree_set(
                    prop::sample::select(vec!["\"a\"", "\"b\"", "\"c\""]),
                    1..=2,
                ),
                any::<bool>(),
            )
                .prop_map(|(set, not)| {
                    let list: Vec<&str> = set.into_iter().collect();
                    format!(
                        "country {}in {{{}}}",
                        if not { "not " } else { "" },
                        list.join(", ")
                    )
                })
                .boxed(),
        );
    }
    if shape.clock.is_some() {
        options.push(
            (
                prop::sample::select(ops),
                prop::sample::select(vec!["2026-11-23T10:00:00Z", "2026-11-24T08:00:00+01:00"]),
            )
                .prop_map(|(op, v)| format!("created_at {op} {v}"))
                .boxed(),
        );
    }
    if shape.calendar {
        options.push(
            prop::sample::select(vec!["inside office", "outside office"])
                .prop_map(str::to_string)
                .boxed(),
        );
    }
    prop::strategy::Union::new(options).boxed()
}

fn condition(shape: &Shape) -> BoxedStrategy<String> {
    atom(shape)
        .prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..=3)
                    .prop_map(|parts| format!("({})", parts.join(" and "))),
                prop::collection::vec(inner.clone(), 2..=3)
                    .prop_map(|parts| format!("({})", parts.join(" or "))),
                inner.prop_map(|part| format!("not ({part})")),
            ]
        })
        .boxed()
}

/// The actions a rule may take (all valid together with the declarations below).
const ACTIONS: [&str; 6] = [
    "queue q1",
    "queue q2",
    "pool p within 15m",
    "pool p within 1h escalate q1 after 2h",
    "pool p within 60m",
    "pool p2 else queue q1 within 30m",
];

#[derive(Debug, Clone)]
struct Rule {
    name: Option<String>,
    condition: String,
    action: usize,
}

/// How NEW's schema differs from OLD's.
#[derive(Debug, Clone, Copy)]
enum SchemaEdit {
    Same,
    /// A variant added to `e0`.
    AddVariant,
    /// `count` becomes a number.
    CountToNumber,
    /// A new optional field that NEW's first rule tests.
    NewField,
    /// `e0` flips between optional and required.
    FlipOptional,
}

fn schema_text(shape: &Shape, edit: SchemaEdit, new: bool) -> String {
    let mut text = String::from("schema lead {\n  id: string\n");
    for (index, (count, optional)) in shape.enums.iter().enumerate() {
        let mut variants: Vec<String> = (0..*count).map(|v| format!("v{v}")).collect();
        let mut optional = *optional;
        if new && index == 0 {
            match edit {
                SchemaEdit::AddVariant => variants.push("vnew".to_string()),
                SchemaEdit::FlipOptional => optional = !optional,
                _ => {}
            }
        }
        text.push_str(&format!(
            "  e{index}: enum {{ {} }}{}\n",
            variants.join(", "),
            if optional { "?" } else { "" }
        ));
    }
    let q = |o: bool| if o { "?" } else { "" };
    if let Some(o) = shape.amount {
        text.push_str(&format!("  amount: number{}\n", q(o)));
    }
    if let Some(o) = shape.count {
        let ty = if new && matches!(edit, SchemaEdit::CountToNumber) {
            "number"
        } else {
            "int"
        };
        text.push_str(&format!("  count: {ty}{}\n", q(o)));
    }
    if let Some(o) = shape.country {
        text.push_str(&format!("  country: string{}\n", q(o)));
    }
    if let Some(o) = shape.clock {
        text.push_str(&format!("  created_at: time{}\n", q(o)));
    }
    if new && matches!(edit, SchemaEdit::NewField) {
        text.push_str("  extra: enum { x, y }?\n");
    }
    text.push_str("}\n");
    if shape.calendar {
        text.push_str("calendar office { timezone Europe/Berlin  hours mon-fri 09:00-18:00  holidays 2026-11-25 }\n");
    }
    text.push_str(
        "pool p { members a, b }\npool p2 { members c strategy ordered }\nqueue q1\nqueue q2\n",
    );
    text
}

fn policy_text(
    shape: &Shape,
    edit: SchemaEdit,
    new: bool,
    rules: &[Rule],
    otherwise: Option<usize>,
) -> String {
    let mut text = schema_text(shape, edit, new);
    for (index, rule) in rules.iter().enumerate() {
        let mut condition = rule.condition.clone();
        if new && index == 0 && matches!(edit, SchemaEdit::NewField) {
            condition = format!("extra = x and ({condition})");
        }
        match &rule.name {
            Some(name) => text.push_str(&format!(
                "rule {name}: when {condition} -> {}\n",
                ACTIONS[rule.action]
            )),
            None => text.push_str(&format!("when {condition} -> {}\n", ACTIONS[rule.action])),
        }
    }
    if let Some(action) = otherwise {
        text.push_str(&format!("otherwise -> {}\n", ACTIONS[action]));
    }
    text
}

/// One edit to a rule list.
#[derive(Debug, Clone)]
enum Mutation {
    Swap(usize, usize),
    Drop(usize),
    Insert(usize, Rule),
    Recondition(usize, String),
    Reaction(usize, usize),
    Rename(usize),
    Otherwise(Option<usize>),
}

fn pair() -> impl Strategy<Value = (String, String)> {
    shape().prop_flat_map(|shape| {
        let rule = (condition(&shape), 0..ACTIONS.len(), any::<bool>()).prop_map(
            |(condition, action, named)| Rule {
                name: named.then(String::new),
                condition,
                action,
            },
        );
        let mutation = prop_oneof![
            (0usize..8, 0usize..8).prop_map(|(a, b)| Mutation::Swap(a, b)),
            (0usize..8).prop_map(Mutation::Drop),
            (0usize..8, rule.clone()).prop_map(|(at, rule)| Mutation::Insert(at, rule)),
            (0usize..8, condition(&shape)).prop_map(|(at, c)| Mutation::Recondition(at, c)),
            (0usize..8, 0..ACTIONS.len()).prop_map(|(at, a)| Mutation::Reaction(at, a)),
            (0usize..8).prop_map(Mutation::Rename),
            prop::option::of(0..ACTIONS.len()).prop_map(Mutation::Otherwise),
        ];
        let edit = prop_oneof![
            6 => Just(SchemaEdit::Same),
            1 => Just(SchemaEdit::AddVariant),
            1 => Just(SchemaEdit::CountToNumber),
            1 => Just(SchemaEdit::NewField),
            1 => Just(SchemaEdit::FlipOptional),
        ];
        (
            Just(shape),
            prop::collection::vec(rule, 1..=6),
            prop::option::of(0..ACTIONS.len()),
            prop::collection::vec(mutation, 0..=3),
            edit,
        )
            .prop_map(|(shape, mut rules, otherwise, mutations, edit)| {
                for (index, rule) in rules.iter_mut().enumerate() {
                    if rule.name.is_some() {
                        rule.name = Some(format!("r{index}"));
                    }
                }
                let old = policy_text(&shape, edit, false, &rules, otherwise);
                let mut new_rules = rules.clone();
                let mut new_otherwise = otherwise;
                let mut fresh = 0;
                for mutation in mutations {
                    let n = new_rules.len();
                    match mutation {
                        Mutation::Swap(a, b) if n > 0 => new_rules.swap(a % n, b % n),
                        Mutation::Drop(at) if n > 1 => {
                            new_rules.remove(at % n);
                        }
                        Mutation::Insert(at, mut rule) => {
                            if rule.name.is_some() {
                                fresh += 1;
                                rule.name = Some(format!("added{fresh}"));
                            }
                            new_rules.insert(at % (n + 1), rule);
                        }
                        Mutation::Recondition(at, condition) if n > 0 => {
                            new_rules[at % n].condition = condition
                        }
                        Mutation::Reaction(at, action) if n > 0 => {
                            new_rules[at % n].action = action
                        }
                        Mutation::Rename(at) if n > 0 => {
                            fresh += 1;
                            new_rules[at % n].name = Some(format!("renamed{fresh}"));
                        }
                        Mutation::Otherwise(action) => new_otherwise = action,
                        _ => {}
                    }
                }
                let new = policy_text(&shape, edit, true, &new_rules, new_otherwise);
                (old, new)
            })
    })
}

/// A random lead of a schema, from values near the constants rules use.
fn lead_for(policy: &Policy, seed: &[u32]) -> Lead {
    let mut values = Vec::new();
    for (index, field) in policy.fields.iter().enumerate() {
        let pick = seed[index % seed.len()]
            .wrapping_mul(2_654_435_761)
            .wrapping_add(index as u32 * 97);
        if field.optional && pick.is_multiple_of(5) {
            values.push(None);
            continue;
        }
        let value = match &field.ty {
            switchboard::model::FieldType::Enum(variants) => {
                LeadValue::Variant(pick % variants.len() as u32)
            }
            switchboard::model::FieldType::Bool => LeadValue::Variant(pick % 2),
            switchboard::model::FieldType::String => {
                LeadValue::Str(["a", "b", "c", "d"][(pick % 4) as usize].to_string())
            }
            switchboard::model::FieldType::Number => LeadValue::Scalar(Scalar::Float(
                [-1.0, 0.0, 5.0, 10.0, 10.25, 10.5, 15.0, 20.0, 21.0][(pick % 9) as usize],
            )),
            switchboard::model::FieldType::Int => {
                LeadValue::Scalar(Scalar::Int([-1, 0, 1, 2, 10, 11, 12][(pick % 7) as usize]))
            }
            switchboard::model::FieldType::Time => {
                let base: i128 = 1_795_435_200 * 1_000_000_000; // 2026-11-23T10:00:00Z
                let hour: i128 = 3_600 * 1_000_000_000;
                LeadValue::Scalar(Scalar::Int(
                    base + hour * [-30i128, -2, -1, 0, 1, 7, 8, 22, 46, 70][(pick % 10) as usize],
                ))
            }
        };
        values.push(Some(value));
    }
    Lead { values }
}

fn context(seed: &[u32]) -> EvalContext {
    let base = 1_795_435_200i64 + i64::from(seed[0] % 200) * 1_800;
    EvalContext {
        now: jiff::Timestamp::from_second(base).unwrap(),
    }
}

/// What a policy decides for a lead, as the diff compares it: the rule's label and routing.
fn decided(policy: &Policy, lead: &Lead, context: &EvalContext) -> Option<(String, Routing)> {
    policy.first_match(lead, context).map(|index| {
        let rule = &policy.rules[index];
        (rule.label.clone(), Routing::of(policy, rule))
    })
}

fn load(text: &str) -> Policy {
    let report = switchboard::check_source(text);
    // Shadowed rules and gaps are errors for `check`, but the policy is resolved and compiled:
    // the diff compares what such policies do, too.
    let errors = report
        .diagnostics
        .iter()
        .filter(|d| d.is_error() && !matches!(d.code.as_str(), "shadowed-rule" | "gap"))
        .count();
    assert_eq!(
        errors, 0,
        "generated policy should check: {:?}\n{text}",
        report.diagnostics
    );
    report.compiled.expect("compiled").0
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300)))]

    #[test]
    fn a_lead_changes_exactly_when_it_falls_in_a_reported_region(
        (old_text, new_text) in pair(),
        seeds in prop::collection::vec(prop::collection::vec(any::<u32>(), 1..8), 60),
    ) {
        let old = load(&old_text);
        let new = load(&new_text);
        let result = diff(&old, &new, &DiffConfig { max_regions: 10_000, ..DiffConfig::default() });
        let Regions::Compared { changes, comparison } = &result.regions else {
            panic!("these schemas are comparable\n{old_text}\n{new_text}");
        };
        let shown = |pair: (Option<usize>, Option<usize>)| {
            changes.iter().find(|c| (c.old.rule, c.new.rule) == pair)
        };
        for seed in &seeds {
            let lead = lead_for(&comparison.common, seed);
            let context = context(seed);
            let old_lead = comparison.old_lead(&lead);
            let new_lead = comparison.new_lead(&lead);
            let a = decided(&old, &old_lead, &context);
            let b = decided(&new, &new_lead, &context);
            let classified = comparison.classify(&lead, &context);
            prop_assert_eq!(
                classified.is_some(), a != b,
                "lead {:?}: old {:?}, new {:?}, classified {:?}\n--- old\n{}--- new\n{}",
                lead, a, b, classified, old_text, new_text
            );
            // The listed regions of a change hold only leads of that change.
            for change in changes {
                if change.regions.iter().any(|r| comparison.contains(r, &lead, &context)) {
                    prop_assert_eq!(
                        classified,
                        Some((change.old.rule, change.new.rule)),
                        "lead {:?} lies in a region of another change\n{}\n{}",
                        lead, old_text, new_text
                    );
                }
            }
            if let Some(pair) = classified {
                prop_assert_eq!(pair.0, old.first_match(&old_lead, &context));
                prop_assert_eq!(pair.1, new.first_match(&new_lead, &context));
                let change = shown(pair);
                prop_assert!(change.is_some(), "pair {:?} is not reported\n{}\n{}", pair, old_text, new_text);
                let change = change.unwrap();
                if !change.more_regions {
                    prop_assert!(
                        change.regions.iter().any(|r| comparison.contains(r, &lead, &context)),
                        "lead {:?} is in no listed region of its change\n{}\n{}", lead, old_text, new_text
                    );
                }
            }
        }
        // With the default limit, the same changes, and regions that hold only their leads.
        let short = diff(&old, &new, &DiffConfig::default());
        let pairs = |changes: &[switchboard::diff::Change]| -> Vec<(Option<usize>, Option<usize>)> {
            changes.iter().map(|c| (c.old.rule, c.new.rule)).collect()
        };
        prop_assert_eq!(pairs(short.changes()), pairs(changes));
        for seed in &seeds {
            let lead = lead_for(&comparison.common, seed);
            let context = context(seed);
            let classified = comparison.classify(&lead, &context);
            for change in short.changes() {
                prop_assert!(change.regions.len() <= DiffConfig::default().max_regions);
                if change.regions.iter().any(|r| comparison.contains(r, &lead, &context)) {
                    prop_assert_eq!(classified, Some((change.old.rule, change.new.rule)));
                }
            }
        }
        for change in changes {
            prop_assert!(!change.regions.is_empty(), "a change without an example");
            for region in &change.regions {
                let context = EvalContext { now: region.example.now };
                let lead = &region.example.lead;
                prop_assert_eq!(
                    comparison.classify(lead, &context),
                    Some((change.old.rule, change.new.rule)),
                    "example {} of region {}\n{}\n{}", region.example.json, region.description, old_text, new_text
                );
                prop_assert_eq!(old.first_match(&comparison.old_lead(lead), &context), change.old.rule);
                prop_assert_eq!(new.first_match(&comparison.new_lead(lead), &context), change.new.rule);
            }
        }
        if changes.is_empty() {
            prop_assert_eq!(result.routing_changes(), 0);
        }
    }
}
