//! Benchmark: the decision graph on generated policies of 10 to 10,000 rules.
//!
//! For each size: compile + analysis time (`graph::analysis::analyze`), the graph's node count,
//! and the per-lead cost of walking the graph against the naive first-match scan (trying every
//! rule in order), on the same generated leads: 256 distinct leads evaluated 800 times over, so
//! that leads are in cache as they are when `route` evaluates a lead it has just parsed.
//! Two lead mixes: uniform random leads over the schema (at small sizes most match no rule and
//! stop at the first test), and matched leads (a random rule's example lead, so every lead
//! walks to a rule: the same work at every size). The slope is measured on matched leads.
//! Run with `cargo bench --bench graph`.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // a benchmark that measures the wrong thing must stop

#[path = "generator.rs"]
mod generator;

use std::hint::black_box;
use std::time::{Duration, Instant};
use switchboard::graph::Compiled;
use switchboard::graph::analysis::{AnalysisConfig, analyze, reaching_example};
use switchboard::model::FieldType;
use switchboard::model::{EvalContext, Lead, LeadValue, Policy, Scalar};

/// A deterministic xorshift generator: benchmarks must replay exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn leads(policy: &Policy, count: usize, seed: u64) -> Vec<Lead> {
    let mut rng = Rng(seed);
    (0..count)
        .map(|_| Lead {
            values: policy
                .fields
                .iter()
                .map(|field| match &field.ty {
                    FieldType::Enum(variants) => {
                        Some(LeadValue::Variant(rng.below(variants.len() as u64) as u32))
                    }
                    FieldType::Number => {
                        Some(LeadValue::Scalar(Scalar::Float(rng.below(400_000) as f64)))
                    }
                    FieldType::Time => {
                        Some(LeadValue::Scalar(Scalar::Int(1_795_435_200_000_000_000)))
                    }
                    FieldType::String if field.optional => None,
                    FieldType::String => Some(LeadValue::Str("DE".to_string())),
                    FieldType::Int => Some(LeadValue::Scalar(Scalar::Int(rng.below(1000) as i128))),
                    FieldType::Bool => Some(LeadValue::Variant(rng.below(2) as u32)),
                })
                .collect(),
        })
        .collect()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let quick = !std::env::args().any(|arg| arg == "--bench");
    let (runs, rounds) = if quick { (1, 1) } else { (7, 800) };
    let lead_count = 256;
    let context = EvalContext {
        now: jiff::Timestamp::from_second(1_795_435_200).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
    };
    println!(
        "| rules | compile + analysis (median) | graph nodes | random leads: graph ns | naive ns | naive / graph | matched leads: graph ns | naive ns | naive / graph |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut graph_costs = Vec::new();
    for rules in [10, 100, 1_000, 10_000] {
        let text = generator::policy(rules);
        let report = switchboard::check_source(&text);
        assert_eq!(report.error_count(), 0, "generated policy must check clean");
        let Some((policy, _)) = report.compiled else {
            panic!("generated policy must compile");
        };
        let mut compile_samples = Vec::new();
        let mut analysis = None;
        for _ in 0..runs {
            let started = Instant::now();
            let result = analyze(black_box(&policy), &AnalysisConfig::default());
            compile_samples.push(started.elapsed());
            analysis = Some(result);
        }
        let Some(analysis) = analysis else { return };
        let Compiled::Graph { graph, flat } = &analysis.compiled else {
            panic!("generated policies fit the node budget");
        };
        let random = leads(&policy, lead_count, 0x5eed + rules as u64);
        let examples: Vec<Lead> = (0..policy.rules.len())
            .filter_map(|rule| reaching_example(&policy, graph, rule).map(|example| example.lead))
            .collect();
        let mut rng = Rng(0xfeed + rules as u64);
        let matched: Vec<Lead> = (0..lead_count)
            .map(|_| examples[rng.below(examples.len() as u64) as usize].clone())
            .collect();
        let mut row = format!(
            "| {rules} | {:.1} ms | {} |",
            median(compile_samples).as_secs_f64() * 1e3,
            graph.node_count()
        );
        for (mix, leads) in [("random", &random), ("matched", &matched)] {
            // Both evaluators must agree before their speed means anything.
            for lead in leads.iter().take(2_000) {
                let naive = policy.first_match(lead, &context);
                let walked = flat.evaluate(&policy, lead, &context);
                assert_eq!(graph.evaluate(&policy, lead, &context), walked);
                assert_eq!(
                    naive.map_or(
                        switchboard::graph::Outcome::NoMatch,
                        switchboard::graph::Outcome::Rule
                    ),
                    walked
                );
            }
            let mut graph_samples = Vec::new();
            let mut naive_samples = Vec::new();
            for _ in 0..runs {
                let started = Instant::now();
                for _ in 0..rounds {
                    for lead in leads {
                        black_box(flat.evaluate(&policy, black_box(lead), &context));
                    }
                }
                graph_samples.push(started.elapsed() / rounds);
                // The naive scan is slow at large sizes: time a slice of the leads, once.
                let naive_leads = if rules >= 1_000 {
                    &leads[..lead_count / 4]
                } else {
                    &leads[..]
                };
                let started = Instant::now();
                for lead in naive_leads {
                    black_box(policy.first_match(black_box(lead), &context));
                }
                naive_samples.push(started.elapsed() * (leads.len() / naive_leads.len()) as u32);
            }
            let graph_ns = median(graph_samples).as_secs_f64() * 1e9 / leads.len() as f64;
            let naive_ns = median(naive_samples).as_secs_f64() * 1e9 / leads.len() as f64;
            if mix == "matched" {
                graph_costs.push(graph_ns);
            }
            row.push_str(&format!(
                " {graph_ns:.0} | {naive_ns:.0} | {:.0}x |",
                naive_ns / graph_ns
            ));
        }
        println!("{row}");
    }
    if let (Some(first), Some(last)) = (graph_costs.first(), graph_costs.last()) {
        println!(
            "\nper-lead cost on the graph (matched leads), 10,000 rules / 10 rules: {:.2}x",
            last / first
        );
    }
}
