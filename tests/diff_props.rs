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
use switchboard::model::{EvalContext, Lead, Policy};

#[path = "common/policies.rs"]
mod policies;

use policies::{Shape, Sizes, condition, context, lead_for, shape};

const SIZES: Sizes = Sizes {
    max_enums: 2,
    max_variants: 3,
    depth: 2,
    atoms: 8,
};

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
    let mut shape = shape.clone();
    if new && let (SchemaEdit::FlipOptional, Some(first)) = (edit, shape.enums.first_mut()) {
        first.1 = !first.1;
    }
    let mut text = String::from("schema lead {\n  id: string\n");
    for (index, line) in shape.field_lines().into_iter().enumerate() {
        let line = match edit {
            SchemaEdit::AddVariant if new && index == 0 => line.replacen(" }", ", vnew }", 1),
            SchemaEdit::CountToNumber if new && line.starts_with("  count: int") => {
                line.replacen("int", "number", 1)
            }
            _ => line,
        };
        text.push_str(&line);
        text.push('\n');
    }
    if new && matches!(edit, SchemaEdit::NewField) {
        text.push_str("  extra: enum { x, y }?\n");
    }
    text.push_str("}\n");
    if shape.calendar {
        text.push_str(policies::CALENDAR);
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
    // Every policy here has SLAs, which count time from the lead's clock field.
    shape(SIZES).prop_flat_map(|mut shape| {
        shape.clock = Some(shape.clock.unwrap_or(true));
        let rule = (condition(&shape, SIZES), 0..ACTIONS.len(), any::<bool>()).prop_map(
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
            (0usize..8, condition(&shape, SIZES)).prop_map(|(at, c)| Mutation::Recondition(at, c)),
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
