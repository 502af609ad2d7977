//! Benchmark: `sweep` over a state of 1,000,000 routed leads of which 10% have an escalation
//! step due (issue 15): the time per fired step with the in-memory and the SQLite state, and the
//! time of a sweep when nothing is due over the same million leads, which shows that leads not
//! due are never read one by one (the `due` index is read instead). Routing only appends each
//! lead's first step time; the first sweep after it takes them into the index in bulk, and is
//! timed on its own.
//! Run with `cargo bench --bench sweep` (`-- --leads N` to change the count).
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // a benchmark that measures the wrong thing must stop

use std::time::Instant;
use switchboard::route::state::{MemoryState, StateStore};
use switchboard::route::{RouteConfig, Router};

const POLICY: &str = "schema lead { id: string  kind: enum { hot, calm }  created_at: time }
pool desk { members a1, a2, a3, a4, a5, a6, a7, a8, a9, a10  strategy round_robin }
pool backup { members b1, b2, b3, b4, b5  strategy round_robin }
rule hot: when kind = hot -> pool desk within 15m escalate backup after 30m
otherwise -> pool desk within 1h
";

/// The leads: every tenth one created on 2026-11-23 (its step is due by the sweep's time), the
/// others ten days later (not due).
fn lead(index: usize) -> String {
    let date = if index.is_multiple_of(10) {
        "2026-11-23"
    } else {
        "2026-12-03"
    };
    format!(
        "{{\"id\":\"B-{index}\",\"kind\":\"hot\",\"created_at\":\"{date}T{:02}:{:02}:00Z\"}}",
        8 + index % 10,
        index % 60
    )
}

fn route_all(router: &Router<'_>, state: &mut dyn StateStore, count: usize) {
    let mut index = 0;
    while index < count {
        state.begin().unwrap();
        for _ in 0..512 {
            if index == count {
                break;
            }
            let line = lead(index);
            let outcome = router.route_line(state, line.as_bytes()).unwrap();
            assert!(!outcome.is_error());
            index += 1;
        }
        state.commit().unwrap();
    }
}

/// Sweeps at `now` as the CLI does (256 steps per transaction); the steps fired.
fn sweep(router: &Router<'_>, state: &mut dyn StateStore, now: jiff::Timestamp) -> usize {
    let mut fired = 0;
    let mut done = false;
    while !done {
        state.begin().unwrap();
        for _ in 0..256 {
            match router.sweep_next(state, now).unwrap() {
                None => {
                    done = true;
                    break;
                }
                Some(step) => fired += usize::from(step.is_some()),
            }
        }
        state.commit().unwrap();
    }
    fired
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
    let report = switchboard::check_source(POLICY);
    let (policy, compiled) = report.compiled.unwrap();
    let routed_at: jiff::Timestamp = "2026-11-23T08:00:00Z".parse().unwrap();
    let config = RouteConfig {
        now: routed_at,
        explain: false,
        limits: Default::default(),
    };
    let router = Router::new(&policy, &compiled, None, config, POLICY);
    // Nothing is due before 2026-11-23T08:30Z; every early lead's step is due by the 24th.
    let nothing_due: jiff::Timestamp = "2026-11-23T08:10:00Z".parse().unwrap();
    let now: jiff::Timestamp = "2026-11-24T12:00:00Z".parse().unwrap();
    println!("sweep: {count} routed leads, every tenth with a step due");
    let dir = std::env::temp_dir().join(format!("switchboard-bench-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.db");
    let mut stores: Vec<(&str, Box<dyn StateStore>)> = vec![
        ("memory", Box::new(MemoryState::default())),
        (
            "sqlite",
            Box::new(switchboard::store::SqliteState::open(&path).unwrap()),
        ),
    ];
    for (name, state) in &mut stores {
        let started = Instant::now();
        route_all(&router, state.as_mut(), count);
        let routed = started.elapsed();
        // The first sweep after routing takes the scheduled leads into the time-ordered index
        // (routing only appended them); the next one reads the index alone.
        let started = Instant::now();
        let none = sweep(&router, state.as_mut(), nothing_due);
        let intake = started.elapsed();
        assert_eq!(none, 0);
        let started = Instant::now();
        let none = sweep(&router, state.as_mut(), nothing_due);
        let idle = started.elapsed();
        assert_eq!(none, 0);
        let started = Instant::now();
        let fired = sweep(&router, state.as_mut(), now);
        let swept = started.elapsed();
        assert_eq!(fired, count.div_ceil(10), "every tenth lead escalates once");
        let again = sweep(&router, state.as_mut(), now);
        assert_eq!(again, 0, "a second sweep at the same time fires nothing");
        println!(
            "  {name:6}: routed in {:.2} s; first sweep (takes {count} scheduled leads into the \
             index) {:.0} ms; sweep with nothing due {:.3} ms; {fired} steps fired in {:.2} s, \
             {:.1} µs a step",
            routed.as_secs_f64(),
            intake.as_secs_f64() * 1e3,
            idle.as_secs_f64() * 1e3,
            swept.as_secs_f64(),
            swept.as_secs_f64() * 1e6 / fired.max(1) as f64
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
