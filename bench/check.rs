//! Benchmark: parse + check of generated policies of 10 to 10,000 rules, then the shapes that
//! were once quadratic (issue 18): thousands of rules on one field, enums of many variants, and
//! misspelt names of tens of thousands of characters.
//!
//! Run with `cargo bench --bench check` (or `bench/run.sh`). Prints one Markdown table row per
//! size: the median and spread of several runs. No timing assertions: figures go to
//! docs/benchmarks.md.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // a benchmark that measures the wrong thing must stop

#[path = "generator.rs"]
mod generator;

use std::time::{Duration, Instant};

fn median_and_spread(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort();
    (
        samples[samples.len() / 2],
        samples[0],
        samples[samples.len() - 1],
    )
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing: keep it quick.
    let quick = !std::env::args().any(|arg| arg == "--bench");
    let runs = if quick { 1 } else { 15 };
    println!("| rules | policy size | parse + check + analysis (median) | min | max |");
    println!("|---:|---:|---:|---:|---:|");
    for rules in [10, 100, 1_000, 10_000] {
        let text = generator::policy(rules);
        let mut samples = Vec::new();
        for _ in 0..runs {
            let started = Instant::now();
            let report = switchboard::check_source(std::hint::black_box(&text));
            samples.push(started.elapsed());
            assert_eq!(report.error_count(), 0, "generated policy must check clean");
        }
        let (median, min, max) = median_and_spread(samples);
        println!(
            "| {rules} | {} KiB | {:.2} ms | {:.2} ms | {:.2} ms |",
            text.len() / 1024,
            median.as_secs_f64() * 1e3,
            min.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        );
    }

    let runs = if quick { 1 } else { 5 };
    println!();
    println!("| hostile shape | size | parse + check + analysis (median) | min | max |");
    println!("|---|---:|---:|---:|---:|");
    for (shape, text) in hostile_shapes(quick) {
        let mut samples = Vec::new();
        for _ in 0..runs {
            let started = Instant::now();
            let report = switchboard::check_source(std::hint::black_box(&text));
            samples.push(started.elapsed());
            std::hint::black_box(report);
        }
        let (median, min, max) = median_and_spread(samples);
        println!(
            "| {shape} | {} KiB | {:.3} s | {:.3} s | {:.3} s |",
            text.len() / 1024,
            median.as_secs_f64(),
            min.as_secs_f64(),
            max.as_secs_f64()
        );
    }
}

/// The shapes an audit found quadratic, at the sizes it measured (fewer when quick).
fn hostile_shapes(quick: bool) -> Vec<(String, String)> {
    let mut shapes = Vec::new();
    let sizes: &[usize] = if quick {
        &[2_000]
    } else {
        &[2_000, 8_000, 32_000, 128_000]
    };
    for &rules in sizes {
        // The audit's shape exactly: no `otherwise`, so the analysis also reports the gaps.
        let mut text = String::from("schema lead { id: string  n: int }\nqueue q\n");
        for n in 0..rules {
            text.push_str(&format!("rule r{n}: when n = {n} -> queue q\n"));
        }
        shapes.push((format!("`rule rN: when n = N`, {rules} rules"), text));
    }
    let sizes: &[usize] = if quick { &[1_000] } else { &[16_000, 100_000] };
    for &variants in sizes {
        let names: Vec<String> = (0..variants).map(|v| format!("v{v}")).collect();
        let mut text = format!(
            "schema lead {{ id: string  kind: enum {{ {} }} }}\nqueue q\n",
            names.join(", ")
        );
        for name in names.iter().take(16_000) {
            text.push_str(&format!("rule r_{name}: when kind = {name} -> queue q\n"));
        }
        text.push_str("otherwise -> queue q\n");
        let used = variants.min(16_000);
        shapes.push((
            format!("enum of {variants} variants, {used} rules on it"),
            text,
        ));
    }
    let sizes: &[usize] = if quick { &[1_000] } else { &[30_000, 1 << 20] };
    for &length in sizes {
        let name = "y".repeat(length);
        let text = format!(
            "schema lead {{ id: string  intent: enum {{ low, high }} }}\nqueue q\nrule odd: when {name} = 1 and intent = {name} -> queue q\notherwise -> queue q\n"
        );
        shapes.push((format!("misspelt name of {length} characters"), text));
    }
    shapes
}
