//! Benchmark: `switchboard route --state :memory:` on the same generated leads as NDJSON and as
//! CSV (issue 20: CSV input at >= 0.8x of NDJSON's throughput), through the release binary, the
//! output to a file, median of three runs each, alternating, in one run of the benchmark.
//! `cargo bench --bench csv` (`-- --leads N` to change the count).
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // a benchmark that measures the wrong thing must stop

#[path = "generator.rs"]
#[allow(dead_code)]
mod generator;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The same leads as CSV: a header of the fields the leads carry, then one row each.
fn as_csv(ndjson: &[u8]) -> String {
    let fields = [
        "id",
        "region",
        "product",
        "intent",
        "fit",
        "deal_value",
        "country",
        "created_at",
        "utm_source",
        "crm_id",
    ];
    let mut out = fields.join(",");
    out.push('\n');
    for line in ndjson
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
    {
        let lead: serde_json::Value = serde_json::from_slice(line).unwrap();
        let cells: Vec<String> = fields
            .iter()
            .map(|field| match &lead[*field] {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

fn timed(args: &[&str], dir: &Path) -> Duration {
    let output = std::fs::File::create(dir.join("decisions.ndjson")).unwrap();
    let started = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::from(output))
        .status()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(status.success(), "{args:?}");
    elapsed
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = !args.iter().any(|arg| arg == "--bench");
    let count = args
        .iter()
        .position(|arg| arg == "--leads")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(if quick { 2_000 } else { 500_000 });
    let dir = std::env::temp_dir().join(format!("switchboard-bench-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("policy.route"), generator::policy(100)).unwrap();
    let leads = generator::leads(count);
    std::fs::write(dir.join("leads.csv"), as_csv(&leads)).unwrap();
    std::fs::write(dir.join("leads.ndjson"), &leads).unwrap();
    let route = |file: &str| {
        timed(
            &[
                "route",
                "policy.route",
                "--state",
                ":memory:",
                "--now",
                "2026-11-23T10:00:00Z",
                "--quiet",
                "--leads",
                file,
            ],
            &dir,
        )
    };
    // Alternating, so that both see the same machine.
    let (mut ndjson, mut csv) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        ndjson.push(route("leads.ndjson"));
        csv.push(route("leads.csv"));
    }
    ndjson.sort();
    csv.sort();
    let (ndjson, csv) = (ndjson[1], csv[1]);
    println!(
        "route --state :memory:, {count} leads of the 100-rule policy, median of 3 runs\n  \
         NDJSON  {:.3} s ({:.0} leads/s)\n  \
         CSV     {:.3} s ({:.0} leads/s): {:.2}x NDJSON's throughput",
        ndjson.as_secs_f64(),
        count as f64 / ndjson.as_secs_f64(),
        csv.as_secs_f64(),
        count as f64 / csv.as_secs_f64(),
        ndjson.as_secs_f64() / csv.as_secs_f64(),
    );
    let _ = std::fs::remove_dir_all(&dir);
}
