//! Fuzz target: the decision graph decides exactly as naive first-match evaluation.
//!
//! Input: a policy text, a NUL byte, then bytes that pick lead values. When the policy checks
//! clean and compiles to a graph, every lead built from the bytes must get the same rule from
//! the graph, its flat layout and the naive scan; every gap example must match no rule; and
//! every rule not reported shadowed must be reached by its example lead.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_core::model::FieldType;
use switchboard_core::graph::analysis::{gap_examples, reached_rules, reaching_example};
use switchboard_core::graph::{Compiled, Outcome};
use switchboard_core::model::{EvalContext, Lead, LeadValue, Policy, Scalar};

fn lead(policy: &Policy, bytes: &[u8]) -> Lead {
    let mut next = bytes.iter().copied().cycle();
    let mut byte = || next.next().unwrap_or(0);
    let values = policy
        .fields
        .iter()
        .map(|field| {
            let pick = byte();
            if field.optional && pick % 4 == 0 {
                return None;
            }
            Some(match &field.ty {
                FieldType::Enum(variants) => LeadValue::Variant(u32::from(pick) % variants.len().max(1) as u32),
                FieldType::Bool => LeadValue::Variant(u32::from(pick % 2)),
                FieldType::String => LeadValue::Str(["a", "b", "DE", "fintech", ""][usize::from(pick) % 5].to_string()),
                FieldType::Int => LeadValue::Scalar(Scalar::Int(i128::from(pick as i8) * i128::from(byte()))),
                FieldType::Number => LeadValue::Scalar(Scalar::Float(f64::from(pick as i8) * 250.0 + f64::from(byte()) / 4.0)),
                FieldType::Time => {
                    LeadValue::Scalar(Scalar::Int((1_795_435_200 + i128::from(pick) * 3_600 * 7) * 1_000_000_000))
                }
            })
        })
        .collect();
    Lead { values }
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let Ok(text) = std::str::from_utf8(&data[..split]) else {
        return;
    };
    let seeds = data.get(split + 1..).unwrap_or(&[]);
    let report = switchboard_core::check_source(text);
    let Some((policy, compiled)) = &report.compiled else {
        return;
    };
    let Compiled::Graph { graph, .. } = compiled else {
        return;
    };
    let context = EvalContext {
        now: jiff::Timestamp::from_second(1_795_435_200).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
    };
    for chunk in seeds.chunks(16).take(64) {
        let lead = lead(policy, chunk);
        let naive = policy.first_match(&lead, &context).map_or(Outcome::NoMatch, Outcome::Rule);
        assert_eq!(graph.evaluate(policy, &lead, &context), naive);
        assert_eq!(compiled.evaluate(policy, &lead, &context), naive);
    }
    for example in gap_examples(policy, graph, 4) {
        let context = EvalContext { now: example.now };
        assert_eq!(policy.first_match(&example.lead, &context), None, "gap example {}", example.json);
    }
    for rule in reached_rules(policy, graph) {
        if let Some(example) = reaching_example(policy, graph, rule) {
            let context = EvalContext { now: example.now };
            assert_eq!(policy.first_match(&example.lead, &context), Some(rule), "example {}", example.json);
        } else {
            panic!("no example reaches rule {rule}");
        }
    }
});
