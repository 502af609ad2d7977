//! The lead reader alone: `parse_lead` (UTF-8 and depth checks, JSON, schema validation) on the
//! generated leads against the generated 100-rule policy's schema, in nanoseconds per lead.
//! `cargo bench --bench reader`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "generator.rs"]
#[allow(dead_code)]
mod generator;

use std::time::Instant;
use switchboard::route::reader::{Limits, parse_lead};

fn main() {
    let text = generator::policy(100);
    let report = switchboard::check_source(&text);
    let (policy, _) = report.compiled.expect("the generated policy checks clean");
    let leads = generator::leads(200_000);
    let lines: Vec<&[u8]> = leads
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let limits = Limits::default();
    let mut samples = Vec::new();
    for _ in 0..7 {
        let started = Instant::now();
        let mut ok = 0usize;
        for line in &lines {
            if parse_lead(&policy, line, &limits).is_ok() {
                ok += 1;
            }
        }
        assert_eq!(ok, lines.len(), "every generated lead is valid");
        samples.push(started.elapsed().as_nanos() as f64 / lines.len() as f64);
    }
    samples.sort_by(f64::total_cmp);
    println!(
        "parse_lead: {} leads of {} bytes on average: median {:.0} ns/lead (min {:.0}, max {:.0})",
        lines.len(),
        leads.len() / lines.len(),
        samples[samples.len() / 2],
        samples[0],
        samples[samples.len() - 1]
    );
}
