//! Differential tests of the decision graph against naive first-match evaluation, on random
//! schemas, policies and leads:
//! - evaluating the graph gives the same rule as trying the rules in file order;
//! - every gap example matches no rule;
//! - no rule reported shadowed ever matches first;
//! - every rule not reported shadowed has a lead (produced from the graph) that it matches first.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

use proptest::prelude::*;
use switchboard::graph::analysis::{gap_examples, reached_rules, reaching_example};
use switchboard::graph::{Compiled, Outcome};
use switchboard::model::{EvalContext, Lead, LeadValue, Policy, Scalar};

/// A random schema: which optional parts exist.
#[derive(Debug, Clone)]
struct Shape {
    enums: Vec<(usize, bool)>, // (variant count, optional)
    number: Option<bool>,      // optional?
    int: Option<bool>,
    text: Option<bool>,
    flag: Option<bool>,
    clock: Option<bool>,
    calendar: bool,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        prop::collection::vec((2usize..=4, any::<bool>()), 1..=3),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        any::<bool>(),
    )
        .prop_map(|(enums, number, int, text, flag, clock, calendar)| Shape {
            enums,
            number,
            int,
            text,
            flag,
            clock,
            calendar,
        })
}

/// An atom of a condition, as text, for a shape.
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
    if let Some(optional) = shape.number {
        options.push(
            (
                prop::sample::select(ops.clone()),
                prop::sample::select(vec!["0", "10", "10.5", "20", "-5"]),
            )
                .prop_map(|(op, v)| format!("amount {op} {v}"))
                .boxed(),
        );
        if optional {
            options.push(Just("amount is set".to_string()).boxed());
        }
    }
    if let Some(optional) = shape.int {
        options.push(
            (
                prop::sample::select(ops.clone()),
                prop::sample::select(vec!["0", "1", "2", "10", "11"]),
            )
                .prop_map(|(op, v)| format!("count {op} {v}"))
                .boxed(),
        );
        if optional {
            options.push(Just("count is not set".to_string()).boxed());
        }
    }
    if shape.text.is_some() {
        options.push(
            (
                prop::sample::select(vec!["=", "!="]),
                prop::sample::select(vec!["\"a\"", "\"b\"", "\"c\""]),
            )
                .prop_map(|(op, v)| format!("country {op} {v}"))
                .boxed(),
        );
        options.push(
            (
                prop::collection::btree_set(
                    prop::sample::select(vec!["\"a\"", "\"b\"", "\"c\""]),
                    1..=3,
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
    if shape.flag.is_some() {
        options.push(
            prop::sample::select(vec!["vip = true", "vip = false", "vip != true"])
                .prop_map(str::to_string)
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
        .prop_recursive(3, 12, 3, |inner| {
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

fn policy_text() -> impl Strategy<Value = String> {
    shape().prop_flat_map(|shape| {
        (Just(shape.clone()), prop::collection::vec(condition(&shape), 1..=7), any::<bool>()).prop_map(
            |(shape, conditions, otherwise)| {
                let mut text = String::from("schema lead {\n  id: string\n");
                for (index, (count, optional)) in shape.enums.iter().enumerate() {
                    let variants: Vec<String> = (0..*count).map(|v| format!("v{v}")).collect();
                    text.push_str(&format!("  e{index}: enum {{ {} }}{}\n", variants.join(", "), if *optional { "?" } else { "" }));
                }
                let q = |o: bool| if o { "?" } else { "" };
                if let Some(o) = shape.number {
                    text.push_str(&format!("  amount: number{}\n", q(o)));
                }
                if let Some(o) = shape.int {
                    text.push_str(&format!("  count: int{}\n", q(o)));
                }
                if let Some(o) = shape.text {
                    text.push_str(&format!("  country: string{}\n", q(o)));
                }
                if let Some(o) = shape.flag {
                    text.push_str(&format!("  vip: bool{}\n", q(o)));
                }
                if let Some(o) = shape.clock {
                    text.push_str(&format!("  created_at: time{}\n", q(o)));
                }
                text.push_str("}\n");
                if shape.calendar {
                    text.push_str("calendar office { timezone Europe/Berlin  hours mon-fri 09:00-18:00  holidays 2026-11-25 }\n");
                }
                text.push_str("queue q\n");
                for (index, condition) in conditions.iter().enumerate() {
                    text.push_str(&format!("rule r{index}: when {condition} -> queue q\n"));
                }
                if otherwise {
                    text.push_str("otherwise -> queue q\n");
                }
                text
            },
        )
    })
}

/// A random lead for a policy's schema, from values near the constants rules use.
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
                [-6.0, -5.0, 0.0, 5.0, 10.0, 10.25, 10.5, 15.0, 20.0, 21.0][(pick % 10) as usize],
            )),
            switchboard::model::FieldType::Int => LeadValue::Scalar(Scalar::Int(
                [-1, 0, 1, 2, 3, 10, 11, 12][(pick % 8) as usize],
            )),
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400)))]

    #[test]
    fn graph_agrees_with_naive_first_match(
        text in policy_text(),
        seeds in prop::collection::vec(prop::collection::vec(any::<u32>(), 1..8), 40),
    ) {
        let report = switchboard::check_source(&text);
        prop_assert!(
            !report.diagnostics.iter().any(|d| d.is_error() && !matches!(d.code.as_str(), "shadowed-rule" | "gap")),
            "generated policy should check: {:?}\n{text}", report.diagnostics
        );
        let (policy, compiled) = report.compiled.clone().expect("compiled");
        let Compiled::Graph { graph, .. } = &compiled else { panic!("small policies fit the budget") };
        let reached = reached_rules(&policy, graph);
        for seed in &seeds {
            let lead = lead_for(&policy, seed);
            let context = context(seed);
            let naive = policy.first_match(&lead, &context);
            let walked = compiled.evaluate(&policy, &lead, &context);
            prop_assert_eq!(graph.evaluate(&policy, &lead, &context), walked, "graph and its flat layout disagree");
            prop_assert_eq!(walked, naive.map_or(Outcome::NoMatch, Outcome::Rule), "lead {:?}\n{}", lead, text);
            if let Some(rule) = naive {
                prop_assert!(reached.contains(&rule), "rule {} matched first but was reported shadowed\n{}", rule, text);
            }
        }
        for example in gap_examples(&policy, graph, 16) {
            let context = EvalContext { now: example.now };
            prop_assert_eq!(policy.first_match(&example.lead, &context), None, "gap example {} matches\n{}", example.json, text);
        }
        for rule in 0..policy.rules.len() {
            let shadowed = report.diagnostics.iter().any(|d| d.code.as_str() == "shadowed-rule" && d.span == policy.rules[rule].head_span);
            if reached.contains(&rule) {
                prop_assert!(!shadowed);
                let example = reaching_example(&policy, graph, rule);
                prop_assert!(example.is_some(), "no example reaches rule {}\n{}", rule, text);
                let example = example.unwrap();
                let context = EvalContext { now: example.now };
                prop_assert_eq!(policy.first_match(&example.lead, &context), Some(rule), "example {} does not reach rule {}\n{}", example.json, rule, text);
            } else if !policy.rules[rule].is_otherwise {
                prop_assert!(shadowed, "rule {} unreached but not reported\n{}", rule, text);
            }
        }
        // Past the node budget, the indexed scan decides exactly as the graph does.
        let scan = switchboard::graph::compile(&policy, &switchboard::graph::CompileConfig { node_budget: 2 });
        let fell_back = matches!(scan, Compiled::Scan { .. });
        prop_assert!(fell_back || graph.nodes.len() <= 2, "budget 2 must fall back");
        for seed in &seeds {
            let lead = lead_for(&policy, seed);
            let context = context(seed);
            prop_assert_eq!(scan.evaluate(&policy, &lead, &context), compiled.evaluate(&policy, &lead, &context));
        }
        let gaps = report.diagnostics.iter().filter(|d| d.code.as_str() == "gap").count();
        let has_gap = !gap_examples(&policy, graph, 1).is_empty();
        prop_assert_eq!(gaps > 0, has_gap, "gap reports disagree with the graph\n{}", text);
    }
}
