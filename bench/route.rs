//! Benchmark: routing 1,000,000 generated leads with a 100-rule policy, end to end from NDJSON
//! bytes to decision lines, in one run:
//! (a) the floor: parse each line with serde_json and write a small JSON object per line;
//! (b) `route` with in-memory state; (c) `route` with the SQLite state (a temporary file,
//! batches of 512 leads per transaction, fewer than the CLI's 4,096).
//! Then the same runs with the team's words (issue 14): every pool `on shift` with a `cap N per
//! day` (high enough never to bind, so the decisions are the same but every member's day is
//! counted), `rep` items with their own calendar, and `previous rep of` (its field's value is
//! remembered with every assignment, and looked up for 1% of leads), as a ratio of the plain
//! policy in the same run.
//! Run with `cargo bench --bench route` (`-- --leads N` to change the count; `-- --write DIR`
//! writes the policy and leads instead, and `-- --floor IN OUT` runs the floor alone from a
//! file to a file, for measuring the command line: bench/route-cli.sh).
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // a benchmark that measures the wrong thing must stop

#[path = "generator.rs"]
mod generator;

use std::hint::black_box;
use std::time::Instant;
use switchboard::route::reader::{Limits, Line, read_line};
use switchboard::route::state::{MemoryState, StateStore};
use switchboard::route::{RouteConfig, Router};

fn route_all(
    router: &Router<'_>,
    state: &mut dyn StateStore,
    input: &[u8],
    sink: &mut String,
) -> usize {
    let mut cursor = input;
    let mut number = 0;
    let mut errors = 0;
    let mut done = false;
    while !done {
        state.begin().unwrap();
        for _ in 0..512 {
            let Some(line) = read_line(&mut cursor, 1 << 20).unwrap() else {
                done = true;
                break;
            };
            number += 1;
            let outcome = match line {
                Line::TooLong(length) => router.too_long(length),
                Line::Text(bytes) => router.route_line(state, &bytes).unwrap(),
            };
            errors += usize::from(outcome.is_error());
            switchboard::route::wire::write_outcome(sink, &outcome, number);
            sink.push('\n');
        }
        state.commit().unwrap();
        // Like stdout: the bytes go somewhere; keep the sink from growing without bound.
        black_box(&sink);
        sink.clear();
    }
    assert_eq!(errors, 0, "generated leads must be valid");
    number
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
    // `--floor IN OUT`: the floor alone, from a file to a file, for bench/route-cli.sh.
    if let Some(at) = args.iter().position(|arg| arg == "--floor") {
        let (Some(from), Some(to)) = (args.get(at + 1), args.get(at + 2)) else {
            panic!("--floor IN OUT");
        };
        let input = std::fs::read(from).unwrap();
        let mut output =
            std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(to).unwrap());
        let lines = floor(&input, |bytes| {
            std::io::Write::write_all(&mut output, bytes).unwrap()
        });
        std::io::Write::flush(&mut output).unwrap();
        eprintln!("floor: {lines} lines");
        return;
    }
    let policy_text = generator::policy(100);
    // `--write DIR`: write the policy and the leads for measuring the CLI (bench/run.sh).
    if let Some(dir) = args
        .iter()
        .position(|arg| arg == "--write")
        .and_then(|i| args.get(i + 1))
    {
        let dir = std::path::Path::new(dir);
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("policy.route"), &policy_text).unwrap();
        std::fs::write(dir.join("leads.ndjson"), generator::leads(count)).unwrap();
        return;
    }
    let input = generator::leads(count);
    let plain = measure(&policy_text, &input, count, true);
    let team = measure(&team_policy(&policy_text), &input, count, false);
    let rate = |elapsed: std::time::Duration| count as f64 / elapsed.as_secs_f64();
    println!(
        "\n| with on shift, cap per day, rep items, previous rep of | time | leads/s | of the plain policy |"
    );
    println!("|---|---:|---:|---:|");
    println!(
        "| (d) route, `--state :memory:` | {:.2} s | {:.0} | {:.2} |",
        team.0.as_secs_f64(),
        rate(team.0),
        rate(team.0) / rate(plain.0)
    );
    println!(
        "| (e) route, SQLite state | {:.2} s | {:.0} | {:.2} |",
        team.1.as_secs_f64(),
        rate(team.1),
        rate(team.1) / rate(plain.1)
    );
}

/// The floor: every line read into a serde_json `Value`, and a small JSON object written for
/// it (given to `write`, newline included). The number of lines.
fn floor(input: &[u8], mut write: impl FnMut(&[u8])) -> usize {
    let mut cursor = input;
    let mut lines = 0;
    let mut out = Vec::with_capacity(256);
    while let Some(Line::Text(bytes)) = read_line(&mut cursor, 1 << 20).unwrap() {
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let id = value.get("id").and_then(|v| v.as_str()).unwrap_or("");
        out.clear();
        serde_json::to_writer(&mut out, &serde_json::json!({ "lead": id, "ok": true })).unwrap();
        out.push(b'\n');
        write(&out);
        lines += 1;
    }
    lines
}

/// The generated policy with the team's words: the same rules and decisions, more counted.
fn team_policy(plain: &str) -> String {
    let mut text = plain.replace(
        "calendar office }\n",
        "calendar office  cap 100000 per day  on shift }\n",
    );
    // Everyone works the office hours; three reps have a `rep` item of their own.
    let calendar_end = text.find("\n\npool ").expect("pools follow the calendar");
    text.insert_str(
        calendar_end,
        "\nrep territory_0_anna { calendar office  cap 100000 per day }\n\
         rep territory_0_boris { calendar office }\n\
         rep territory_0_dmitri { calendar office  cap 100000 per week }",
    );
    let first_rule = text.find("rule r_").expect("rules");
    text.insert_str(
        first_rule,
        "rule returning: when deal_value < 3000 -> previous rep of country since 1d else pool territory_0_sdr\n",
    );
    text
}

/// Routes the leads with the policy in memory, then with SQLite; prints the table of the plain
/// policy (with the floor) when asked. The times of (b) and (c).
fn measure(
    policy_text: &str,
    input: &[u8],
    count: usize,
    print: bool,
) -> (std::time::Duration, std::time::Duration) {
    let report = switchboard::check_source(policy_text);
    assert_eq!(report.error_count(), 0, "{:?}", report.diagnostics);
    let (policy, compiled) = report.compiled.unwrap();
    let config = RouteConfig {
        now: "2026-11-23T10:00:00Z".parse().unwrap(),
        explain: false,
        limits: Limits::default(),
    };
    let router = Router::new(&policy, &compiled, None, config, policy_text);
    let mut sink = Vec::with_capacity(1 << 20);

    // (a) The floor.
    let started = Instant::now();
    floor(input, |bytes| {
        sink.extend_from_slice(bytes);
        if sink.len() > 1 << 20 {
            black_box(&sink);
            sink.clear();
        }
    });
    let floor = started.elapsed();

    // (b) In-memory state.
    let started = Instant::now();
    let mut memory = MemoryState::default();
    let mut decisions = String::with_capacity(1 << 20);
    let routed = route_all(&router, &mut memory, input, &mut decisions);
    let in_memory = started.elapsed();
    assert_eq!(routed, count);

    // (c) SQLite state in a fresh temporary file.
    let dir = std::env::temp_dir().join(format!("switchboard-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut sqlite = switchboard::store::SqliteState::open(&dir.join("state.db")).unwrap();
    let started = Instant::now();
    route_all(&router, &mut sqlite, input, &mut decisions);
    let with_sqlite = started.elapsed();
    drop(sqlite);
    let _ = std::fs::remove_dir_all(&dir);

    if !print {
        return (in_memory, with_sqlite);
    }
    let rate = |elapsed: std::time::Duration| count as f64 / elapsed.as_secs_f64();
    println!("{count} leads, 100-rule policy, one thread");
    println!("| run | time | leads/s | ratio |");
    println!("|---|---:|---:|---:|");
    println!(
        "| (a) floor: serde_json parse + small JSON out | {:.2} s | {:.0} | 1.00 |",
        floor.as_secs_f64(),
        rate(floor)
    );
    println!(
        "| (b) route, `--state :memory:` | {:.2} s | {:.0} | {:.2} of (a) |",
        in_memory.as_secs_f64(),
        rate(in_memory),
        rate(in_memory) / rate(floor)
    );
    println!(
        "| (c) route, SQLite state | {:.2} s | {:.0} | {:.2} of (b) |",
        with_sqlite.as_secs_f64(),
        rate(with_sqlite),
        rate(with_sqlite) / rate(in_memory)
    );
    (in_memory, with_sqlite)
}
