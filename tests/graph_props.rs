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

/// A policy whose rules compare scores (each a sum of random lines over the generated fields)
/// as well as fields.
fn scored_policy_text() -> impl Strategy<Value = String> {
    shape(SIZES).prop_flat_map(|shape| {
        let line = (
            -40i64..=40,
            condition(
                &shape,
                Sizes {
                    depth: 1,
                    atoms: 3,
                    ..SIZES
                },
            ),
        );
        let score = prop::collection::vec(line, 1..=5);
        let rule = (
            0usize..2,
            prop::sample::select(vec![">=", "<", "=", "!="]),
            -60i64..=60,
            prop::option::of(condition(
                &shape,
                Sizes {
                    depth: 1,
                    atoms: 3,
                    ..SIZES
                },
            )),
        );
        (
            Just(shape.clone()),
            prop::collection::vec(score, 2),
            prop::collection::vec(rule, 1..=6),
            any::<bool>(),
        )
            .prop_map(|(shape, scores, rules, otherwise)| {
                let mut text = shape.declarations();
                text.push_str("queue q\n");
                for (index, lines) in scores.iter().enumerate() {
                    text.push_str(&format!("score s{index} {{\n"));
                    for (points, condition) in lines {
                        text.push_str(&format!("  {points:+} when {condition}\n"));
                    }
                    text.push_str("}\n");
                }
                for (index, (score, op, value, also)) in rules.iter().enumerate() {
                    let also = also
                        .as_ref()
                        .map_or(String::new(), |c| format!(" and ({c})"));
                    text.push_str(&format!(
                        "rule r{index}: when s{score} {op} {value}{also} -> queue q\n"
                    ));
                }
                if otherwise {
                    text.push_str("otherwise -> queue q\n");
                }
                text
            })
    })
}

/// Whether a rule's condition holds, with every score computed as the sum of its lines' points
/// (the definition), not through the compiled condition under test.
fn naive_holds(
    policy: &switchboard::model::Policy,
    expr: &switchboard::syntax::ast::Expr,
    lead: &switchboard::model::Lead,
    context: &EvalContext,
) -> bool {
    use switchboard::syntax::ast::{CmpOp, ExprKind, Number, ValueKind};
    match &expr.kind {
        ExprKind::And(parts) => parts.iter().all(|p| naive_holds(policy, p, lead, context)),
        ExprKind::Or(parts) => parts.iter().any(|p| naive_holds(policy, p, lead, context)),
        ExprKind::Not(inner) => !naive_holds(policy, inner, lead, context),
        ExprKind::Compare { field, op, value } if policy.score_id(&field.name).is_some() => {
            let score = policy.score_value(policy.score_id(&field.name).unwrap(), lead, context);
            let ValueKind::Number(Number::Int(point)) = value.kind else {
                panic!("an int")
            };
            match op.value {
                CmpOp::Eq => score == point,
                CmpOp::Ne => score != point,
                CmpOp::Lt => score < point,
                CmpOp::Le => score <= point,
                CmpOp::Gt => score > point,
                CmpOp::Ge => score >= point,
            }
        }
        _ => policy.holds(&policy.cond(expr).unwrap(), lead, context),
    }
}

fn naive_first_match(
    policy: &switchboard::model::Policy,
    lead: &switchboard::model::Lead,
    context: &EvalContext,
) -> Option<usize> {
    policy
        .rules
        .iter()
        .position(|rule| match &rule.syntax.condition {
            Some(expr) => naive_holds(policy, expr, lead, context),
            None => true,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(200)))]

    /// Scores keep the analysis exact: the graph decides as the definition of a score says,
    /// every gap example is a real gap (its scores computed from its fields), and every rule
    /// not reported shadowed is reached by an example lead.
    #[test]
    fn scores_keep_the_graph_exact(
        text in scored_policy_text(),
        seeds in prop::collection::vec(prop::collection::vec(any::<u32>(), 1..8), 40),
    ) {
        let report = switchboard::check_source(&text);
        prop_assert!(
            !report.diagnostics.iter().any(|d| d.is_error() && !matches!(d.code.as_str(), "shadowed-rule" | "gap")),
            "generated policy should check: {:?}\n{text}", report.diagnostics
        );
        let (policy, compiled) = report.compiled.clone().expect("compiled");
        let Compiled::Graph { graph, .. } = &compiled else { return Ok(()) };
        let reached = reached_rules(&policy, graph);
        for seed in &seeds {
            let lead = lead_for(&policy, seed);
            let context = context(seed);
            let naive = naive_first_match(&policy, &lead, &context);
            prop_assert_eq!(compiled.evaluate(&policy, &lead, &context), naive.map_or(Outcome::NoMatch, Outcome::Rule), "lead {:?}\n{}", lead, text);
            if let Some(rule) = naive {
                prop_assert!(reached.contains(&rule), "rule {} matched first but was reported shadowed\n{}", rule, text);
            }
        }
        for example in gap_examples(&policy, graph, 16) {
            let context = EvalContext { now: example.now };
            prop_assert_eq!(naive_first_match(&policy, &example.lead, &context), None, "gap example {} matches\n{}", example.json, text);
        }
        for rule in 0..policy.rules.len() {
            if reached.contains(&rule) {
                let example = reaching_example(&policy, graph, rule).expect("an example");
                let context = EvalContext { now: example.now };
                prop_assert_eq!(naive_first_match(&policy, &example.lead, &context), Some(rule), "example {} does not reach rule {}\n{}", example.json, rule, text);
            } else if !policy.rules[rule].is_otherwise {
                let shadowed = report.diagnostics.iter().any(|d| d.code.as_str() == "shadowed-rule" && d.span == policy.rules[rule].head_span);
                prop_assert!(shadowed, "rule {} unreached but not reported\n{}", rule, text);
            }
        }
    }
}
