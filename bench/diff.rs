//! Benchmark: `switchboard diff`.
//! - The backtest of 1,000,000 generated leads (the route benchmark's leads and 100-rule policy,
//!   against a NEW version of it) against routing them once with `route --state :memory:`, both
//!   end to end from NDJSON bytes to output lines, in one run. Goal: at most 2x.
//! - The semantic diff (product graph, regions, example leads) of generated policies of 10 to
//!   10,000 rules against the same edit.
//!
//! NEW changes the policy the way a quarterly review does: a VIP rule on top (high intent and a
//! deal of 200,000 or more from Germany go to the backup pool within 5 minutes), and every SDR SLA tightened
//! from 4h to 2h.
//!
//! Run with `cargo bench --bench diff` (`-- --leads N` to change the count; `-- --write DIR`
//! writes OLD, NEW and the leads instead, for measuring the command line).
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // a benchmark that measures the wrong thing must stop

#[path = "generator.rs"]
mod generator;

use std::hint::black_box;
use std::time::{Duration, Instant};
use switchboard::diff::backtest::{Backtest, BacktestConfig, PolicyRef};
use switchboard::diff::{DiffConfig, diff};
use switchboard::route::reader::{Limits, Line, read_line};
use switchboard::route::state::{MemoryState, StateStore};
use switchboard::route::{RouteConfig, Router};

/// The reviewed version of a generated policy.
fn new_version(old: &str) -> String {
    let vip = "rule vip: when intent = high and deal_value >= 200000 and country = \"DE\" -> pool backup within 5m\n";
    let first_rule = old.find("rule ").unwrap();
    let mut new = String::with_capacity(old.len() + vip.len());
    new.push_str(&old[..first_rule]);
    new.push_str(vip);
    new.push_str(&old[first_rule..]);
    new.replace(
        "within 4h escalate backup after 8h",
        "within 2h escalate backup after 8h",
    )
}

fn compile(text: &str) -> (switchboard::model::Policy, switchboard::graph::Compiled) {
    let report = switchboard::check_source(text);
    assert_eq!(report.error_count(), 0, "{:?}", report.diagnostics.first());
    report.compiled.unwrap()
}

/// What `route --state :memory:` does per line: decide, record, write the decision.
fn route_once(router: &Router<'_>, input: &[u8], sink: &mut String) -> usize {
    let mut state = MemoryState::default();
    let mut cursor = input;
    let mut number = 0;
    state.begin().unwrap();
    while let Some(line) = read_line(&mut cursor, 1 << 20).unwrap() {
        number += 1;
        let outcome = match line {
            Line::TooLong(length) => router.too_long(length),
            Line::Text(bytes) => router.route_line(&mut state, &bytes).unwrap(),
        };
        switchboard::route::wire::write_outcome(sink, &outcome, number);
        sink.push('\n');
        if sink.len() > 1 << 20 {
            black_box(&sink);
            sink.clear();
        }
    }
    state.commit().unwrap();
    number
}

/// What `diff --leads --format json` does per line: both decisions, compared; a changed lead
/// written as one JSON line.
fn backtest(backtest: &mut Backtest<'_>, input: &[u8], sink: &mut Vec<u8>) -> usize {
    let mut cursor = input;
    let mut number = 0;
    while let Some(line) = read_line(&mut cursor, 1 << 20).unwrap() {
        number += 1;
        let changed = match line {
            Line::TooLong(_) => backtest.too_long(number),
            Line::Text(bytes) => backtest.line(&bytes, number).unwrap(),
        };
        if let Some(changed) = changed {
            sink.extend_from_slice(changed.to_json().as_bytes());
            sink.push(b'\n');
        }
        if sink.len() > 1 << 20 {
            black_box(&sink);
            sink.clear();
        }
    }
    number
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = !args.iter().any(|arg| arg == "--bench");
    let count = args
        .iter()
        .position(|arg| arg == "--leads")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(if quick { 2_000 } else { 1_000_000 });
    let old_text = generator::policy(100);
    let new_text = new_version(&old_text);
    if let Some(dir) = args
        .iter()
        .position(|arg| arg == "--write")
        .and_then(|i| args.get(i + 1))
    {
        let dir = std::path::Path::new(dir);
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("old.route"), &old_text).unwrap();
        std::fs::write(dir.join("new.route"), &new_text).unwrap();
        std::fs::write(dir.join("leads.ndjson"), generator::leads(count)).unwrap();
        return;
    }

    // The semantic diff at several sizes.
    println!(
        "semantic diff: generated policy against the same edit (VIP rule on top, SDR SLAs 4h -> 2h)"
    );
    println!("| rules | diff (median) | product graph nodes | changes | regions listed |");
    println!("|---:|---:|---:|---:|---:|");
    let sizes: &[usize] = if quick {
        &[10, 100]
    } else {
        &[10, 100, 1000, 10000]
    };
    for &rules in sizes {
        let old_text = generator::policy(rules);
        let new_text = new_version(&old_text);
        let (old, _) = compile(&old_text);
        let (new, _) = compile(&new_text);
        let runs = if rules >= 10_000 { 3 } else { 7 };
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..runs {
            let started = Instant::now();
            let result = diff(&old, &new, &DiffConfig::default());
            times.push(started.elapsed());
            last = Some(result);
        }
        let result = last.unwrap();
        let nodes = match &result.regions {
            switchboard::diff::Regions::Compared { comparison, .. } => comparison.graph.nodes.len(),
            switchboard::diff::Regions::NotCompared { reason } => panic!("not compared: {reason}"),
        };
        let regions: usize = result.changes().iter().map(|c| c.regions.len()).sum();
        println!(
            "| {rules} | {:.1} ms | {nodes} | {} | {regions} |",
            median(times).as_secs_f64() * 1e3,
            result.changes().len()
        );
    }

    // The backtest against routing once.
    let (old, old_compiled) = compile(&old_text);
    let (new, new_compiled) = compile(&new_text);
    let input = generator::leads(count);
    let now = "2026-11-23T10:00:00Z".parse().unwrap();
    let router = Router::new(
        &old,
        &old_compiled,
        None,
        RouteConfig {
            now,
            explain: false,
            limits: Limits::default(),
        },
        &old_text,
    );
    let mut sink = Vec::with_capacity(1 << 21);
    let started = Instant::now();
    let mut decisions = String::with_capacity(1 << 20);
    let routed = route_once(&router, &input, &mut decisions);
    let once = started.elapsed();
    assert_eq!(routed, count);

    let mut compare = Backtest::new(
        PolicyRef {
            policy: &old,
            compiled: &old_compiled,
            text: &old_text,
        },
        PolicyRef {
            policy: &new,
            compiled: &new_compiled,
            text: &new_text,
        },
        None,
        BacktestConfig {
            now,
            limits: Limits::default(),
        },
    );
    let started = Instant::now();
    let compared = backtest(&mut compare, &input, &mut sink);
    let both = started.elapsed();
    assert_eq!(compared, count);
    let summary = compare.summary();
    assert_eq!(summary.lines, count);
    assert_eq!(summary.invalid, 0, "generated leads must be valid");
    assert!(summary.routing > 0, "the edit must move some leads");

    let rate = |elapsed: Duration| count as f64 / elapsed.as_secs_f64();
    println!();
    println!(
        "{count} leads, 100-rule policy, one thread; {} leads change ({} routing)",
        summary.changed(),
        summary.routing
    );
    println!("| run | time | leads/s | ratio |");
    println!("|---|---:|---:|---:|");
    println!(
        "| route once, `--state :memory:` | {:.2} s | {:.0} | 1.00 |",
        once.as_secs_f64(),
        rate(once)
    );
    println!(
        "| backtest, both policies, changed leads as JSON | {:.2} s | {:.0} | {:.2}x the time |",
        both.as_secs_f64(),
        rate(both),
        both.as_secs_f64() / once.as_secs_f64()
    );
}
