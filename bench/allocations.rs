//! Benchmark: how many heap allocations routing makes per lead in the steady state, counted by
//! a counting global allocator (docs/benchmarks.md, "Route at the speed of reading"). The
//! 100-rule generated policy with the in-memory state; the first 100,000 leads warm the state
//! and the buffers, then each phase of the next 100,000 is counted on its own: reading a line,
//! parsing it against the schema, deciding and recording it, writing the decision.
//! Run with `cargo bench --bench allocations` (`-- --leads N` for the counted leads).
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // a benchmark that measures the wrong thing must stop

#[path = "generator.rs"]
mod generator;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use switchboard::route::reader::{
    Limits, LineRead, ParsedLead, parse_lead, parse_lead_reusing, read_line_into,
};
use switchboard::route::state::{MemoryState, StateStore};
use switchboard::route::{RouteConfig, Router};

/// The system allocator, counting allocations (and reallocations, which may move).
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed to the system allocator unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn count() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = !args.iter().any(|arg| arg == "--bench");
    let counted = args
        .iter()
        .position(|arg| arg == "--leads")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(if quick { 2_000 } else { 100_000 });
    let warm = counted;
    let policy_text = generator::policy(100);
    let report = switchboard::check_source(&policy_text);
    let (policy, compiled) = report.compiled.unwrap();
    let config = RouteConfig {
        now: "2026-11-23T10:00:00Z".parse().unwrap(),
        explain: false,
        limits: Limits::default(),
    };
    let router = Router::new(&policy, &compiled, None, config, &policy_text);
    let input = generator::leads(warm + counted);
    let mut cursor = &input[..];
    let mut state = MemoryState::default();
    let mut line = Vec::with_capacity(1024);
    let mut out = String::with_capacity(1 << 16);
    // Per phase: allocations counted.
    let mut phases = [0u64; 4];
    // As `route` does: each lead is parsed in the memory of one routed before, and decided
    // in a batch (of one) whose outcomes' memory serves the next.
    let mut earlier: Option<ParsedLead> = None;
    let mut batch = Vec::with_capacity(1);
    let mut outcomes = Vec::with_capacity(1);
    state.begin().unwrap();
    for number in 0..warm + counted {
        let counting = number >= warm;
        let mut at = count();
        let mut lap = |phase: usize, phases: &mut [u64; 4]| {
            let now = count();
            if counting {
                phases[phase] += now - at;
            }
            at = now;
        };
        let read = read_line_into(&mut cursor, 1 << 20, &mut line).unwrap();
        assert_eq!(read, Some(LineRead::Text));
        lap(0, &mut phases);
        let lead = match earlier.take() {
            Some(earlier) => parse_lead_reusing(&policy, &line, &Limits::default(), earlier),
            None => parse_lead(&policy, &line, &Limits::default()),
        }
        .unwrap();
        lap(1, &mut phases);
        batch.push(Ok(lead));
        router
            .route_parsed(&mut state, &batch, &mut outcomes)
            .unwrap();
        earlier = batch.pop().and_then(Result::ok);
        lap(2, &mut phases);
        for outcome in &outcomes {
            switchboard::route::wire::write_outcome(&mut out, outcome, number + 1);
            out.push('\n');
        }
        if out.len() > 1 << 15 {
            std::hint::black_box(&out);
            out.clear();
        }
        lap(3, &mut phases);
    }
    state.commit().unwrap();
    let per_lead = |n: u64| n as f64 / counted as f64;
    println!(
        "{counted} leads counted after {warm} to warm up, 100-rule policy, `--state :memory:`"
    );
    println!("| phase | allocations per lead |");
    println!("|---|---:|");
    for (name, n) in [
        "read the line",
        "parse the lead",
        "decide and record",
        "write the decision",
    ]
    .iter()
    .zip(phases)
    {
        println!("| {name} | {:.2} |", per_lead(n));
    }
    println!("| all | {:.2} |", per_lead(phases.iter().sum()));
}
