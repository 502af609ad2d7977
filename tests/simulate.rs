//! `switchboard simulate` (issue 19) through the command line: the run equals `route`, `track`
//! and `sweep` done step by step on a SQLite state (line for line, and the report from that
//! state equals the simulation's), the same seed gives the same run, drawn touches replay as a
//! `track` file, two policies compare, the HTML report is self-contained with well-formed SVG
//! plots holding the expected series, and mistakes get errors that say where and why.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod common;

use common::{root, run};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn example(name: &str) -> String {
    root()
        .join("examples")
        .join(name)
        .to_string_lossy()
        .to_string()
}

fn fixture(name: &str) -> String {
    root()
        .join("tests/fixtures/simulate")
        .join(name)
        .to_string_lossy()
        .to_string()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "switchboard-simulate-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn ok(args: &[&str], cwd: &Path) -> String {
    let output = run(args, cwd);
    assert!(
        output.status.success(),
        "switchboard {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The first `count` leads of the example week, in a file of their own.
fn first_leads(dir: &Path, count: usize) -> PathBuf {
    let text = std::fs::read_to_string(example("week.ndjson")).unwrap();
    let lines: Vec<&str> = text.lines().take(count).collect();
    let path = dir.join("leads.ndjson");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn time_of(line: &str, key: &str) -> jiff::Timestamp {
    let value: Value = serde_json::from_str(line).unwrap();
    value[key].as_str().unwrap().parse().unwrap()
}

#[test]
fn the_simulation_is_route_track_and_sweep_step_by_step() {
    let dir = scratch("step-by-step");
    let leads = first_leads(&dir, 70);
    let (log, events) = (dir.join("log.ndjson"), dir.join("events.ndjson"));
    let json = ok(
        &[
            "simulate",
            &example("routing.route"),
            "--roster",
            &example("roster.json"),
            "--leads",
            leads.to_str().unwrap(),
            "--responses",
            &fixture("slow.json"),
            "--seed",
            "7",
            "--format",
            "json",
            "--log",
            log.to_str().unwrap(),
            "--events-out",
            events.to_str().unwrap(),
        ],
        &dir,
    );
    let simulated: Value = serde_json::from_str(&json).unwrap();
    let log = std::fs::read_to_string(&log).unwrap();
    let events = std::fs::read_to_string(&events).unwrap();
    assert!(
        log.lines()
            .any(|line| line.contains("\"event\":\"escalated\"")),
        "the fixture must make escalations fire:\n{log}"
    );
    assert!(events.lines().count() > 20, "touches drawn:\n{events}");

    // The same, one command at a time, on a SQLite state: each lead routed at its own time,
    // each touch tracked at its time, and every step due before either swept first.
    let state = dir.join("state.db");
    let state = state.to_str().unwrap();
    let policy = example("routing.route");
    let roster = example("roster.json");
    let lead_text = std::fs::read_to_string(&leads).unwrap();
    let mut leads: Vec<(jiff::Timestamp, usize, &str)> = lead_text
        .lines()
        .enumerate()
        .map(|(index, line)| (time_of(line, "created_at"), index, line))
        .collect();
    leads.sort();
    let mut events = events.lines().peekable();
    let mut replayed = String::new();
    let step = |command: &str, now: &str, input: Option<&str>, replayed: &mut String| {
        let file = dir.join("one.ndjson");
        let mut args = vec![command, policy.as_str(), "--roster", roster.as_str()];
        args.extend(["--state", state, "--now", now, "--quiet"]);
        if let Some(line) = input {
            std::fs::write(&file, format!("{line}\n")).unwrap();
            args.push(if command == "route" {
                "--leads"
            } else {
                "--events"
            });
            args.push(file.to_str().unwrap());
        }
        let output = run(&args, &dir);
        assert!(
            output.status.success() || command != "sweep",
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        replayed.push_str(&String::from_utf8(output.stdout).unwrap());
    };
    for (at, _, lead) in &leads {
        while let Some(event) = events.next_if(|event| time_of(event, "at") < *at) {
            let now = time_of(event, "at").to_string();
            step("sweep", &now, None, &mut replayed);
            step("track", &now, Some(event), &mut replayed);
        }
        step("sweep", &at.to_string(), None, &mut replayed);
        step("route", &at.to_string(), Some(lead), &mut replayed);
    }
    for event in events {
        let now = time_of(event, "at").to_string();
        step("sweep", &now, None, &mut replayed);
        step("track", &now, Some(event), &mut replayed);
    }
    step("sweep", "9999-01-01T00:00:00Z", None, &mut replayed);
    let expected: Vec<&str> = log.lines().collect();
    let got: Vec<&str> = replayed.lines().collect();
    for (index, (want, have)) in expected.iter().zip(&got).enumerate() {
        assert_eq!(want, have, "line {} of the log differs", index + 1);
    }
    assert_eq!(expected.len(), got.len(), "lines of the log");

    // `report` on that state says what the simulation said.
    let settled = simulated["simulation"]["settled"].as_str().unwrap();
    let report = ok(
        &[
            "report", &policy, "--state", state, "--now", settled, "--format", "json",
        ],
        &dir,
    );
    let report: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report, simulated["report"]);
}
