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
use switchboard::model::EvalContext;

#[path = "common/policies.rs"]
mod policies;

use policies::{Sizes, condition, context, lead_for, shape};

const SIZES: Sizes = Sizes {
    max_enums: 3,
    max_variants: 4,
    depth: 3,
    atoms: 12,
};

fn policy_text() -> impl Strategy<Value = String> {
    shape(SIZES).prop_flat_map(|shape| {
        (
            Just(shape.clone()),
            prop::collection::vec(condition(&shape, SIZES), 1..=7),
            any::<bool>(),
        )
            .prop_map(|(shape, conditions, otherwise)| {
                let mut text = shape.declarations();
                text.push_str("queue q\n");
                for (index, condition) in conditions.iter().enumerate() {
                    text.push_str(&format!("rule r{index}: when {condition} -> queue q\n"));
                }
                if otherwise {
                    text.push_str("otherwise -> queue q\n");
                }
                text
            })
    })
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
