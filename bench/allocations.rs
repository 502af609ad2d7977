//! Benchmark: how many heap allocations routing makes per lead in the steady state, counted by
//! a counting global allocator (docs/benchmarks.md, "Route at the speed of reading"). The
//! 100-rule generated policy with the in-memory state, then with a SQLite state in batches as
//! `route` commits them; the first 100,000 leads warm the state and the buffers, then each
//! phase of the next 100,000 is counted on its own: reading a line, parsing it against the
//! schema, deciding and recording it, writing the decision, and the commit.
//! Run with `cargo bench --bench allocations` (`-- --leads N` for the counted leads).
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // a benchmark that measures the wrong thing must stop

#[path = "generator.rs"]
mod generator;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use switchboard::route::reader::{
    Limits, LineRead, ParsedLead, parse_lead, parse_lead_reusing, read_line_into,
};
use switchboard::route::state::{BatchWriter, MemoryState, StateErrorKind, StateStore};
use switchboard::route::{RouteConfig, Router};
use switchboard::store::sqlite::SqliteState;

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
    println!(
        "{counted} leads counted after {warm} to warm up, 100-rule policy, `--state :memory:`"
    );
    let mut memory = MemoryState::default();
    let phases = count_phases(
        &router,
        &policy,
        &input,
        &mut memory,
        false,
        1,
        warm,
        counted,
    );
    print_phases(&phases);
    // The SQLite store in batches of 4,096 leads, each its own transaction, as `route` runs
    // it: the store keeps each decision's trace, and writes a batch's rows at its commit.
    let dir = std::env::temp_dir().join(format!("switchboard-allocations-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut sqlite = SqliteState::open(&dir.join("state.db")).unwrap();
    let phases = count_phases(
        &router,
        &policy,
        &input,
        &mut sqlite,
        false,
        SQLITE_BATCH,
        warm,
        counted,
    );
    println!();
    println!(
        "{} of the same leads with a SQLite state, in batches of up to {SQLITE_BATCH}",
        phases.1
    );
    print_phases(&phases);
    drop(sqlite);
    // The same with the commits handed over to a writer, as `route --threads 2` runs it: the
    // store decides and records, the writer writes each batch (here on the same thread, one
    // commit after each batch, so that the count holds only routing's allocations).
    let mut sqlite = SqliteState::open(&dir.join("handed.db")).unwrap();
    let phases = count_phases(
        &router,
        &policy,
        &input,
        &mut sqlite,
        true,
        SQLITE_BATCH,
        warm,
        counted,
    );
    println!();
    println!(
        "{} of the same leads with a SQLite state whose commits are handed over to a writer",
        phases.1
    );
    print_phases(&phases);
    drop(sqlite);
    let _ = std::fs::remove_dir_all(&dir);
}

/// What `route` puts in one SQLite transaction.
const SQLITE_BATCH: usize = 4096;

/// Allocations per phase (read, parse, decide and record, write, commit), the leads they
/// were counted over, and the batches decided again by a store that had handed its commits
/// over.
type Phases = ([u64; 5], usize, usize);

/// Routes `warm + counted` leads of `input` in batches of `batch_size` (one transaction
/// each; batches of one share one transaction), counting the allocations of the last
/// `counted` per phase. As `route` does, each lead is parsed in the memory of one routed
/// before, and each batch's outcomes are made in the memory of the batch before's.
///
/// With `hand_over`, the store's commits are handed over to a writer when the store can:
/// each batch's commit is then the store's hand-over followed by the
/// writer's commit of it. As `route` does, a batch that needs the store's file (a count the
/// store does not keep in memory) takes the writer back and is decided again by the store
/// itself; how many did is printed when any did.
#[allow(clippy::too_many_arguments)]
fn count_phases(
    router: &Router<'_>,
    policy: &switchboard::model::Policy,
    input: &[u8],
    state: &mut dyn StateStore,
    hand_over: bool,
    batch_size: usize,
    warm: usize,
    counted: usize,
) -> Phases {
    let mut cursor = input;
    let mut line = Vec::with_capacity(1024);
    let mut out = String::with_capacity(1 << 16);
    let mut phases = [0u64; 5];
    let mut leads_counted = 0;
    let mut spare: Vec<ParsedLead> = Vec::with_capacity(batch_size);
    let mut batch = Vec::with_capacity(batch_size);
    let mut outcomes = Vec::with_capacity(batch_size);
    let one_transaction = batch_size == 1;
    if one_transaction {
        state.begin().unwrap();
    }
    let mut writer: Option<Box<dyn BatchWriter>> = None;
    let mut decided_again = 0;
    let mut number = 0;
    while number < warm + counted {
        if hand_over && writer.is_none() {
            writer = state.hand_over_commits().unwrap();
        }
        // No batch holds both warming and counted leads.
        let end = if number < warm { warm } else { warm + counted };
        let size = batch_size.min(end - number);
        let counting = number >= warm;
        let mut at = count();
        let mut lap = |phase: usize, phases: &mut [u64; 5]| {
            let now = count();
            if counting {
                phases[phase] += now - at;
            }
            at = now;
        };
        for _ in 0..size {
            let read = read_line_into(&mut cursor, 1 << 20, &mut line).unwrap();
            assert_eq!(read, Some(LineRead::Text));
            lap(0, &mut phases);
            let lead = match spare.pop() {
                Some(earlier) => parse_lead_reusing(policy, &line, &Limits::default(), earlier),
                None => parse_lead(policy, &line, &Limits::default()),
            }
            .unwrap();
            batch.push(Ok(lead));
            lap(1, &mut phases);
        }
        if !one_transaction {
            state.begin().unwrap();
        }
        match router.route_parsed(state, &batch, &mut outcomes) {
            Ok(()) => {}
            Err((error, _)) if error.kind == StateErrorKind::NeedsLock && writer.is_some() => {
                state.rollback().unwrap();
                if let Some(writer) = writer.take() {
                    state.take_back_commits(writer, false).unwrap();
                }
                state.begin().unwrap();
                router.route_parsed(state, &batch, &mut outcomes).unwrap();
                decided_again += 1;
            }
            Err((error, _)) => panic!("{error:?}"),
        }
        lap(2, &mut phases);
        for (index, outcome) in outcomes.iter().enumerate() {
            switchboard::route::wire::write_outcome(&mut out, outcome, number + index + 1);
            out.push('\n');
        }
        if out.len() > 1 << 15 {
            std::hint::black_box(&out);
            out.clear();
        }
        lap(3, &mut phases);
        if !one_transaction {
            state.commit().unwrap();
            if let Some(writer) = writer.as_mut() {
                writer.commit_next().unwrap();
            }
        }
        lap(4, &mut phases);
        spare.extend(batch.drain(..).filter_map(Result::ok));
        number += size;
        if counting {
            leads_counted += size;
        }
    }
    if one_transaction {
        state.commit().unwrap();
    }
    if let Some(writer) = writer {
        state.take_back_commits(writer, false).unwrap();
    }
    (phases, leads_counted, decided_again)
}

fn print_phases((phases, counted, decided_again): &Phases) {
    let per_lead = |n: u64| n as f64 / *counted as f64;
    println!("| phase | allocations per lead |");
    println!("|---|---:|");
    for (name, n) in [
        "read the line",
        "parse the lead",
        "decide and record",
        "write the decision",
        "commit",
    ]
    .iter()
    .zip(phases)
    {
        println!("| {name} | {:.2} |", per_lead(*n));
    }
    println!("| all | {:.2} |", per_lead(phases.iter().sum()));
    if *decided_again > 0 {
        println!(
            "({decided_again} batches decided again by the store itself: they needed its file)"
        );
    }
}
