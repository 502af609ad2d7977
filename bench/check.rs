//! Benchmark: parse + check of generated policies of 10 to 10,000 rules.
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
}
