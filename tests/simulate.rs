//! `switchboard simulate` (issue 19) through the command line: the run equals `route`, `track`
//! and `sweep` done step by step on a SQLite state (line for line, and the report from that
//! state equals the simulation's), the same seed gives the same run, drawn touches replay as a
//! `track` file, two policies compare, the HTML report is self-contained with well-formed SVG
//! plots holding the expected series, and mistakes get errors that say where and why.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod common;

use common::{example, root, run};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> String {
    root()
        .join("tests/fixtures/simulate")
        .join(name)
        .to_string_lossy()
        .to_string()
}

fn scratch(name: &str) -> PathBuf {
    common::scratch("simulate", name)
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
    step_by_step(
        "step-by-step",
        &example("routing.route"),
        "slow.json",
        70,
        "7",
    );
}

/// Escalation chains of several steps: a step that finds nobody leaves the lead with its holder.
#[test]
fn chains_of_steps_simulate_as_route_track_and_sweep_do() {
    let log = step_by_step("chains", &fixture("chains.route"), "chains.json", 60, "11");
    assert!(
        log.contains("the holder keeps the lead until the next step"),
        "a step found nobody and the holder kept the lead:\n{log}"
    );
    assert!(log.contains("\"step\":2"), "second steps fired:\n{log}");
}

/// Period caps of an hour, a day and a week, in Berlin and in India (half an hour off the hour):
/// the simulation counts their windows in quarter-hour buckets, and must still stop a member at
/// the cap at the same lead as `route` does.
#[test]
fn period_caps_simulate_as_route_does() {
    let log = step_by_step("caps", &fixture("caps.route"), "caps.json", 70, "3");
    for cap in [
        "at cap 1/1 this hour",
        "at cap 4/4 today",
        "at cap 8/8 this week",
    ] {
        assert!(log.contains(cap), "members reached `{cap}`:\n{log}");
    }
}

/// Simulates the first `count` leads of the example week with `policy`, then does the same one
/// command at a time on a SQLite state: the log and the report must be the same. Answers the log.
fn step_by_step(name: &str, policy: &str, responses: &str, count: usize, seed: &str) -> String {
    let dir = scratch(name);
    let leads = first_leads(&dir, count);
    // Leads sent again: every one as it was (duplicates, answered as `route` answers them:
    // the lead's current decision, from the ledger once the lead settled), and the first
    // one's id, a day later, for another lead (a reused id, refused).
    let text = std::fs::read_to_string(&leads).unwrap();
    let first: Vec<&str> = text.lines().collect();
    let mut reused: Value = serde_json::from_str(first[0]).unwrap();
    let day_later = time_of(first[0], "created_at") + jiff::SignedDuration::from_hours(24);
    reused["created_at"] = Value::String(day_later.to_string());
    reused["intent"] = Value::String("high".to_string());
    std::fs::write(&leads, format!("{text}{}\n{reused}\n", first.join("\n"))).unwrap();
    let (log, events) = (dir.join("log.ndjson"), dir.join("events.ndjson"));
    let output = run(
        &[
            "simulate",
            policy,
            "--roster",
            &example("roster.json"),
            "--leads",
            leads.to_str().unwrap(),
            "--responses",
            &fixture(responses),
            "--seed",
            seed,
            "--format",
            "json",
            "--log",
            log.to_str().unwrap(),
            "--events-out",
            events.to_str().unwrap(),
        ],
        &dir,
    );
    // The reused id is a line that is not a lead: exit 1, as `route`'s, with the figures.
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let simulated: Value = serde_json::from_slice(&output.stdout).unwrap();
    let log = std::fs::read_to_string(&log).unwrap();
    let events = std::fs::read_to_string(&events).unwrap();
    assert!(
        log.lines()
            .any(|line| line.contains("\"event\":\"escalated\"")),
        "the fixture must make escalations fire:\n{log}"
    );
    assert!(events.lines().count() > 20, "touches drawn:\n{events}");

    // The same, one command at a time, on a SQLite state: each lead routed at its own time,
    // each touch tracked at its time, and every step due before either swept first. The state
    // is made first, as a deployment whose sweeps start before its first lead makes it (`sweep`
    // refuses a state that is not there).
    let state = dir.join("state.db");
    let state = state.to_str().unwrap();
    let made = run(&["state", "init", "--state", state], &dir);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let policy = policy.to_string();
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
    for (at, index, lead) in &leads {
        while let Some(event) = events.next_if(|event| time_of(event, "at") < *at) {
            let now = time_of(event, "at").to_string();
            step("sweep", &now, None, &mut replayed);
            step("track", &now, Some(event), &mut replayed);
        }
        step("sweep", &at.to_string(), None, &mut replayed);
        let mut routed = String::new();
        step("route", &at.to_string(), Some(lead), &mut routed);
        // `route` read a file of one line; the simulation names the line of the whole file.
        replayed.push_str(&routed.replace(
            "\"input_line\":1}",
            &format!("\"input_line\":{}}}", index + 1),
        ));
    }
    for event in events {
        let now = time_of(event, "at").to_string();
        step("sweep", &now, None, &mut replayed);
        step("track", &now, Some(event), &mut replayed);
    }
    step("sweep", "9999-01-01T00:00:00Z", None, &mut replayed);
    let expected: Vec<&str> = log.lines().collect();
    let got: Vec<&str> = replayed.lines().collect();
    assert_eq!(
        expected
            .iter()
            .filter(|line| line.contains("\"duplicate\":true"))
            .count(),
        count,
        "the leads sent again are duplicates:\n{log}"
    );
    assert!(
        expected
            .iter()
            .any(|line| line.contains("\"lead.id_conflict\"")),
        "the reused id is refused:\n{log}"
    );
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
    log
}

/// Runs simulate on the example week with `extra` arguments.
fn simulate_week(extra: &[&str], dir: &Path) -> std::process::Output {
    let policy = example("routing.route");
    let roster = example("roster.json");
    let leads = example("week.ndjson");
    let mut args = vec![
        "simulate",
        policy.as_str(),
        "--roster",
        roster.as_str(),
        "--leads",
        leads.as_str(),
    ];
    args.extend_from_slice(extra);
    run(&args, dir)
}

#[test]
fn a_week_of_leads_for_a_manager() {
    let dir = scratch("week");
    let output = simulate_week(&["--seed", "1"], &dir);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    insta::assert_snapshot!("week_seed_1", text);
    let json = simulate_week(&["--seed", "1", "--format", "json"], &dir);
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    let simulation = &json["simulation"];
    assert_eq!(simulation["routed"], 928);
    assert_eq!(simulation["zone"], "Europe/Berlin");
    let hours = simulation["leads_per_hour_of_week"]["senior"]
        .as_array()
        .unwrap();
    assert_eq!(hours.len(), 168);
    let routed_to_senior: u64 = hours.iter().map(|h| h.as_u64().unwrap()).sum();
    assert_eq!(
        routed_to_senior,
        json["report"]["pools"]["senior"]["leads"].as_u64().unwrap(),
        "senior holds only routed leads (no step escalates to it)"
    );
}

#[test]
fn the_same_seed_gives_the_same_run_and_another_seed_another() {
    let dir = scratch("seeds");
    let first = simulate_week(&["--seed", "3", "--format", "json"], &dir);
    let again = simulate_week(&["--seed", "3", "--format", "json"], &dir);
    let other = simulate_week(&["--seed", "4", "--format", "json"], &dir);
    assert_eq!(first.stdout, again.stdout);
    assert_ne!(first.stdout, other.stdout);
}

#[test]
fn drawn_touches_replay_as_a_track_file() {
    let dir = scratch("replay");
    let events = dir.join("events.ndjson");
    let drawn = simulate_week(
        &[
            "--seed",
            "5",
            "--format",
            "json",
            "--events-out",
            events.to_str().unwrap(),
        ],
        &dir,
    );
    let replayed = simulate_week(
        &["--touches", events.to_str().unwrap(), "--format", "json"],
        &dir,
    );
    assert!(
        replayed.status.success(),
        "{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    let drawn: Value = serde_json::from_slice(&drawn.stdout).unwrap();
    let replayed: Value = serde_json::from_slice(&replayed.stdout).unwrap();
    assert_eq!(drawn["report"], replayed["report"]);
    assert_eq!(
        replayed["simulation"]["events_refused"],
        serde_json::json!({})
    );
}

#[test]
fn two_policies_are_compared_on_the_same_leads_and_responses() {
    let dir = scratch("compare");
    let old = std::fs::read_to_string(example("routing.route")).unwrap();
    // After the change: the American pool takes twice the leads, and hot leads get 30 minutes.
    let new = old
        .replace(
            "pool amer_ae { members olivia, james  strategy round_robin  cap 30",
            "pool amer_ae { members olivia, james  strategy round_robin  cap 60",
        )
        .replace(
            "rule hot:         when intent = high and fit = strong\n    -> pool senior\n       within 15m",
            "rule hot:         when intent = high and fit = strong\n    -> pool senior\n       within 30m",
        );
    assert_ne!(old, new);
    std::fs::write(dir.join("old.route"), &old).unwrap();
    std::fs::write(dir.join("new.route"), &new).unwrap();
    let roster = example("roster.json");
    let leads = example("week.ndjson");
    let output = run(
        &[
            "simulate",
            "old.route",
            "new.route",
            "--roster",
            &roster,
            "--leads",
            &leads,
            "--report",
            "report.html",
        ],
        &dir,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    insta::assert_snapshot!("compare_cap_and_sla", text);
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("Before and after"));
    assert_eq!(html.matches("<svg").count(), 8, "four plots per policy");
}

/// The elements of an SVG, checked to nest properly: (name, attributes) of every start tag.
fn svg_elements(svg: &str) -> Vec<(String, String)> {
    let mut open: Vec<String> = Vec::new();
    let mut elements = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("a tag ends") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                open.pop().as_deref(),
                Some(name.trim()),
                "closing tag {name}"
            );
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (name, attributes) = tag.split_once(' ').unwrap_or((tag, ""));
        assert!(
            attributes.matches('"').count() % 2 == 0,
            "attributes of <{name}> are quoted: {attributes}"
        );
        if !self_closing {
            open.push(name.to_string());
        }
        elements.push((name.to_string(), attributes.to_string()));
    }
    assert!(open.is_empty(), "unclosed: {open:?}");
    elements
}

#[test]
fn the_html_report_is_self_contained_with_well_formed_plots() {
    let dir = scratch("html");
    let output = simulate_week(&["--seed", "1", "--report", "report.html", "--quiet"], &dir);
    assert!(output.status.success());
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    for remote in [
        "<script", "http://", "https://", "@import", "url(", "<link", "<img",
    ] {
        let found = html
            .replace("http://www.w3.org/2000/svg", "")
            .contains(remote);
        assert!(!found, "the report must not load `{remote}`");
    }
    let svgs: Vec<&str> = html
        .split("<svg")
        .skip(1)
        .map(|part| &part[..part.find("</svg>").expect("svg closes")])
        .collect();
    assert_eq!(svgs.len(), 4, "four plots");
    let texts = |svg: &str| -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .map(|part| {
                let body = &part[part.find('>').unwrap() + 1..part.find("</text>").unwrap()];
                body.trim().to_string()
            })
            .collect()
    };
    // Leads per hour: a line per pool and queue, a legend naming them, the days on the axis.
    let elements = svg_elements(&format!("<svg{}</svg>", svgs[0]));
    let lines = elements
        .iter()
        .filter(|(name, _)| name == "polyline")
        .count();
    let labels = texts(svgs[0]);
    for series in [
        "senior",
        "sdr",
        "enterprise",
        "amer_ae",
        "apac_ae",
        "queue nurture",
    ] {
        assert!(
            labels.iter().any(|l| l == series),
            "legend has {series}: {labels:?}"
        );
    }
    for day in ["Mon", "Tue", "Sat", "Sun"] {
        assert!(labels.iter().any(|l| l == day), "axis has {day}");
    }
    assert!(lines >= 9, "a line per series: {lines}");
    // Open load: a line per rep who held a lead.
    let labels = texts(svgs[1]);
    for rep in ["anna", "chen", "dmitri", "egor", "olivia", "wei"] {
        assert!(labels.iter().any(|l| l == rep), "legend has {rep}");
    }
    svg_elements(&format!("<svg{}</svg>", svgs[1]));
    // First touches: bars per bucket and an SLA line.
    let elements = svg_elements(&format!("<svg{}</svg>", svgs[2]));
    let bars = elements
        .iter()
        .filter(|(name, attributes)| name == "rect" && attributes.contains("fill=\"#1F77B4\""))
        .count();
    assert!(bars >= 7, "a bar per bucket with touches: {bars}");
    let labels = texts(svgs[2]);
    for label in [
        "SLA 15m", "SLA 1h", "SLA 4h", "&lt;5m", "15-30m", "1-2h", "8-24h",
    ] {
        assert!(labels.iter().any(|l| l == label), "{label} in {labels:?}");
    }
    // Escalations: a bar per day with a step.
    let elements = svg_elements(&format!("<svg{}</svg>", svgs[3]));
    let bars = elements
        .iter()
        .filter(|(name, attributes)| name == "rect" && attributes.contains("fill=\"#FF7F0E\""))
        .count();
    assert!(bars >= 4, "a bar per day: {bars}");
}

#[test]
fn mistakes_get_errors_that_say_where_and_why() {
    let dir = scratch("mistakes");
    std::fs::write(
        dir.join("typo.json"),
        r#"{"default":{"median":"10m"},"pools":{"senoir":{"never":0.1}}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("bad-p90.json"),
        r#"{"default":{"median":"2h","p90":"10m"}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("inherited-p90.json"),
        r#"{"default":{"median":"1h"},"pools":{"senior":{"p90":"30m"}}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("rep-p90.json"),
        r#"{"default":{"median":"10m"},"pools":{"senior":{"median":"1m"}},"reps":{"anna":{"p90":"5m"},"olivia":{"p90":"5m"}}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("units.json"),
        r#"{"reps":{"anna":{"median":"12 minutes"}}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("anan.json"),
        r#"{"reps":{"anan":{"median":"1h"}}}"#,
    )
    .unwrap();
    std::fs::write(dir.join("long.json"), r#"{"default":{"p90":"45d"}}"#).unwrap();
    std::fs::write(
        dir.join("leads.ndjson"),
        "{\"id\":\"A\",\"intent\":\"high\",\"fit\":\"strong\",\"region\":\"emea\",\"country\":\"DE\",\
         \"employees\":5,\"deal_value\":1,\"source\":\"referral\"}\n{\"id\":\"B\",\"intent\":\"hgh\"}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("mixed.ndjson"),
        "{\"id\":\"A\",\"intent\":\"high\",\"fit\":\"strong\",\"region\":\"emea\",\"country\":\"DE\",\
         \"employees\":5,\"deal_value\":1,\"source\":\"referral\",\"created_at\":\"2026-11-23T10:00:00+01:00\"}\n\
         {\"id\":\"B\",\"intent\":\"hgh\"}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("timeless.route"),
        "schema lead { id: string  intent: enum { low, high } }\nqueue q\notherwise -> queue q\n",
    )
    .unwrap();
    let policy = example("routing.route");
    let week = example("week.ndjson");
    let roster = example("roster.json");
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "a misspelt pool in the model",
            vec![
                "simulate",
                &policy,
                "--leads",
                &week,
                "--responses",
                "typo.json",
            ],
        ),
        (
            "a p90 below the median",
            vec![
                "simulate",
                &policy,
                "--leads",
                &week,
                "--responses",
                "bad-p90.json",
            ],
        ),
        (
            "a pool's p90 below the default's median it goes with",
            vec![
                "simulate",
                &policy,
                "--leads",
                &week,
                "--responses",
                "inherited-p90.json",
            ],
        ),
        (
            "a rep's p90 below the default's median: anna is in senior (median 1m), but `rep contact_owner` can hand her leads outside it",
            vec![
                "simulate",
                &policy,
                "--leads",
                &week,
                "--responses",
                "rep-p90.json",
            ],
        ),
        (
            "a duration without its unit",
            vec![
                "simulate",
                &policy,
                "--leads",
                &week,
                "--responses",
                "units.json",
            ],
        ),
        (
            "a rep neither the policy nor the roster knows",
            vec![
                "simulate",
                &policy,
                "--leads",
                &week,
                "--roster",
                &roster,
                "--responses",
                "anan.json",
            ],
        ),
        (
            "a delay longer than 30 days",
            vec![
                "simulate",
                &policy,
                "--leads",
                &week,
                "--responses",
                "long.json",
            ],
        ),
        (
            "no such leads file",
            vec!["simulate", &policy, "--leads", "nowhere.ndjson"],
        ),
        (
            "a policy without a clock field",
            vec!["simulate", "timeless.route", "--leads", &week],
        ),
        (
            "leads without their time, and a broken one",
            vec!["simulate", &policy, "--leads", "leads.ndjson"],
        ),
        (
            "one lead and one broken line: figures for the lead, exit 1",
            vec![
                "simulate",
                &policy,
                "--leads",
                "mixed.ndjson",
                "--quiet",
                "--format",
                "json",
            ],
        ),
        (
            "both a model and real touches",
            vec![
                "simulate",
                &policy,
                "--leads",
                &week,
                "--responses",
                "typo.json",
                "--touches",
                "e.ndjson",
            ],
        ),
    ];
    let mut shown = String::new();
    for (what, args) in cases {
        let output = run(&args, &dir);
        let stderr = String::from_utf8_lossy(&output.stderr)
            .replace(&root().display().to_string(), "<root>");
        let routed = serde_json::from_slice::<Value>(&output.stdout)
            .map(|json| format!("routed {}\n", json["simulation"]["routed"]))
            .unwrap_or_default();
        shown.push_str(&format!(
            "## {what} (exit {})\n{routed}{stderr}\n",
            output.status.code().unwrap_or(-1)
        ));
    }
    insta::assert_snapshot!("mistakes", shown);
}

#[test]
fn a_run_starts_from_a_copy_of_a_state_and_leaves_it_unchanged() {
    let dir = scratch("from-state");
    let leads = first_leads(&dir, 40);
    let policy = example("routing.route");
    let roster = example("roster.json");
    let db = dir.join("state.db");
    let db = db.to_str().unwrap();
    ok(
        &[
            "route",
            &policy,
            "--roster",
            &roster,
            "--state",
            db,
            "--leads",
            leads.to_str().unwrap(),
            "--now",
            "2026-11-23T08:00:00Z",
            "--quiet",
        ],
        &dir,
    );
    let before = ok(&["state", "export", "--state", db], &dir);
    let log = dir.join("log.ndjson");
    let json = ok(
        &[
            "simulate",
            &policy,
            "--roster",
            &roster,
            "--leads",
            &example("week.ndjson"),
            "--state",
            db,
            "--format",
            "json",
            "--log",
            log.to_str().unwrap(),
        ],
        &dir,
    );
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        json["simulation"]["duplicates"], 40,
        "the state's leads come back as duplicates"
    );
    assert_eq!(json["simulation"]["routed"], 888);
    let after = ok(&["state", "export", "--state", db], &dir);
    assert_eq!(before, after, "the state is read, never written");
    // The first new lead gets what `sweep` then `route` give it on that state at its time: the
    // state's escalations fire, and the rotations go on.
    let log = std::fs::read_to_string(&log).unwrap();
    let first_new = log
        .lines()
        .find(|line| !line.contains("\"duplicate\":true") && !line.contains("\"event\""))
        .unwrap();
    let id: Value = serde_json::from_str(first_new).unwrap();
    let id = id["lead"].as_str().unwrap();
    let week = std::fs::read_to_string(example("week.ndjson")).unwrap();
    let line = week
        .lines()
        .find(|l| l.contains(&format!("\"id\":\"{id}\"")))
        .unwrap();
    std::fs::write(dir.join("one.ndjson"), format!("{line}\n")).unwrap();
    let at = time_of(line, "created_at").to_string();
    ok(
        &[
            "sweep", &policy, "--roster", &roster, "--state", db, "--now", &at, "--quiet",
        ],
        &dir,
    );
    let routed = ok(
        &[
            "route",
            &policy,
            "--roster",
            &roster,
            "--state",
            db,
            "--leads",
            "one.ndjson",
            "--now",
            &at,
            "--quiet",
        ],
        &dir,
    );
    assert_eq!(routed.trim(), first_new);
    let missing = run(
        &[
            "simulate",
            &policy,
            "--leads",
            &example("week.ndjson"),
            "--state",
            "nowhere.db",
        ],
        &dir,
    );
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr),
        "error: there is no state at `nowhere.db` to start the simulation from\n"
    );
}

/// Leads are replayed in time order whatever their order in the file (each is read again from
/// the file when its turn comes), and a byte-order mark is skipped.
#[test]
fn leads_in_any_order_give_the_same_run() {
    let dir = scratch("order");
    let week = std::fs::read_to_string(example("week.ndjson")).unwrap();
    let mut reversed: Vec<&str> = week.lines().collect();
    reversed.reverse();
    std::fs::write(
        dir.join("reversed.ndjson"),
        format!("\u{feff}{}\n", reversed.join("\n")),
    )
    .unwrap();
    let reversed = dir.join("reversed.ndjson");
    let sorted = simulate_week(&["--seed", "2", "--format", "json"], &dir);
    let policy = example("routing.route");
    let roster = example("roster.json");
    let from_reversed = run(
        &[
            "simulate",
            &policy,
            "--roster",
            &roster,
            "--leads",
            reversed.to_str().unwrap(),
            "--seed",
            "2",
            "--format",
            "json",
        ],
        &dir,
    );
    assert!(
        from_reversed.status.success(),
        "{}",
        String::from_utf8_lossy(&from_reversed.stderr)
    );
    assert_eq!(
        String::from_utf8(sorted.stdout).unwrap(),
        String::from_utf8(from_reversed.stdout).unwrap()
    );
}

#[test]
fn touches_that_are_no_events_or_that_track_refuses_are_named_with_their_lines() {
    let dir = scratch("bad-touches");
    let drawn = dir.join("drawn.ndjson");
    let output = simulate_week(
        &[
            "--seed",
            "1",
            "--events-out",
            drawn.to_str().unwrap(),
            "--quiet",
        ],
        &dir,
    );
    assert_eq!(output.status.code(), Some(0));
    let drawn = std::fs::read_to_string(&drawn).unwrap();
    let mut lines: Vec<&str> = drawn.lines().collect();
    // Line 4 is not JSON; line 5 is an event for a lead nobody routed.
    lines.insert(3, "not json");
    lines.insert(
        4,
        r#"{"lead":"nope","event":"touched","at":"2026-11-23T10:00:00Z","by":"anna"}"#,
    );
    let touches = dir.join("touches.ndjson");
    std::fs::write(&touches, lines.join("\n")).unwrap();
    let log = dir.join("log.ndjson");
    let output = simulate_week(
        &[
            "--touches",
            touches.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
        ],
        &dir,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "note: 1 line of `{}` is not an event and is left out:\n  line 4: event.json: not JSON",
            touches.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "note: 1 line of `{}` is an event that `track` refuses and is left out:\n  line 5: \
             event.unknown_lead: lead `nope` was never routed with this state",
            touches.display()
        )),
        "{stderr}"
    );
    let log = std::fs::read_to_string(&log).unwrap();
    let refused: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|record| record.get("error").is_some())
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["lead"], "nope");
    assert_eq!(refused[0]["error"]["input_line"], 5);
}

/// Two policies whose schemas take different lines are compared on the leads both take: the
/// lines one refuses are left out of the other's run too (said on stderr), and the table's first
/// rows say how many leads each simulated and how many lines were not leads, so a schema that
/// drops leads reads as that, not as a better SLA.
#[test]
fn a_schema_that_refuses_lines_is_compared_on_the_leads_both_take() {
    let dir = scratch("compare-schemas");
    let old = "schema lead { id: string  created_at: time }\n\
               calendar berlin { timezone Europe/Berlin  hours mon-fri 09:00-18:00 }\n\
               pool senior { members anna, boris  calendar berlin }\n\
               pool backup { members egor  calendar berlin }\n\
               rule hot: when id != \"\" -> pool senior within 15m escalate backup after 30m\n\
               otherwise -> pool senior\n";
    let new = old.replace(
        "id: string  created_at",
        "id: string  tier: string  created_at",
    );
    std::fs::write(dir.join("old.route"), old).unwrap();
    std::fs::write(dir.join("new.route"), &new).unwrap();
    std::fs::write(
        dir.join("leads.ndjson"),
        "{\"id\":\"L1\",\"created_at\":\"2026-10-23T17:50:00+02:00\",\"tier\":\"a\"}\n\
         {\"id\":\"L2\",\"created_at\":\"2026-10-23T17:55:00+02:00\"}\n\
         {\"id\":\"L3\",\"created_at\":\"2026-10-26T10:00:00+01:00\"}\n",
    )
    .unwrap();
    let output = run(
        &[
            "simulate",
            "old.route",
            "new.route",
            "--leads",
            "leads.ndjson",
            "--format",
            "json",
        ],
        &dir,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "lines were not leads: {stderr}"
    );
    assert!(
        stderr.contains(
            "note: 2 lines that `new.route` refuses are left out of `old.route`'s run too, so \
             that both policies run on the same leads (the first: line 2)"
        ),
        "{stderr}"
    );
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    for (side, invalid, left_out) in [("old", 0, 2), ("new", 2, 0)] {
        let simulation = &json[side]["simulation"];
        assert_eq!(simulation["routed"], 1, "{side}: {simulation}");
        assert_eq!(simulation["invalid"], invalid, "{side}: {simulation}");
        assert_eq!(
            simulation["left_out_for_the_comparison"], left_out,
            "{side}: {simulation}"
        );
    }
    let human = run(
        &[
            "simulate",
            "old.route",
            "new.route",
            "--leads",
            "leads.ndjson",
            "--quiet",
        ],
        &dir,
    );
    let text = String::from_utf8(human.stdout).unwrap();
    insta::assert_snapshot!("compare_schemas_that_take_different_lines", text);
    assert!(
        text.contains("in short: lines not leads 0 -> 2\n"),
        "the same leads, the same figures: only the lines differ\n{text}"
    );
}

/// `--log` holds what `route` would print for every line: an error record for each line that
/// is not a lead (all of them, not the five stderr names), first, in input order.
#[test]
fn the_log_holds_an_error_record_for_every_line_that_is_not_a_lead() {
    let dir = scratch("log-not-leads");
    std::fs::write(
        dir.join("policy.route"),
        "schema lead { id: string  created_at: time }\n\
         pool senior { members anna, boris }\n\
         otherwise -> pool senior within 1h\n",
    )
    .unwrap();
    let mut leads = String::new();
    let bad = [
        "{\"id\":\"B2\"",
        "{\"id\":\"B3\"}",
        "{\"id\":\"B4\",\"created_at\":\"2026-10-23T25:50:00+02:00\"}",
        "[1,2]",
        "{\"id\":5,\"created_at\":\"2026-10-23T17:50:00+02:00\"}",
        "{\"id\":\"\",\"created_at\":\"2026-10-23T17:53:00+02:00\"}",
        "not json",
    ];
    leads.push_str("{\"id\":\"L1\",\"created_at\":\"2026-10-23T17:50:00+02:00\"}\n");
    for line in bad {
        leads.push_str(line);
        leads.push('\n');
    }
    leads.push_str("{\"id\":\"L9\",\"created_at\":\"2026-10-23T17:59:00+02:00\"}\n");
    std::fs::write(dir.join("leads.ndjson"), &leads).unwrap();
    let output = run(
        &[
            "simulate",
            "policy.route",
            "--leads",
            "leads.ndjson",
            "--log",
            "run.log",
        ],
        &dir,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("… and 2 more (every one as an error record in `run.log`)"),
        "{stderr}"
    );
    let log = std::fs::read_to_string(dir.join("run.log")).unwrap();
    let errors: Vec<(u64, String)> = log
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .take_while(|record| record.get("error").is_some())
        .map(|record| {
            (
                record["error"]["input_line"].as_u64().unwrap(),
                record["error"]["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(u64, String)> = [
        (2, "lead.json"),
        (3, "lead.missing"),
        (4, "lead.type"),
        (5, "lead.object"),
        (6, "lead.type"),
        (7, "lead.id"),
        (8, "lead.json"),
    ]
    .into_iter()
    .map(|(line, code)| (line, code.to_string()))
    .collect();
    assert_eq!(errors, expected, "{log}");
    // Each of them as `route` prints it.
    let routed = run(
        &[
            "route",
            "policy.route",
            "--leads",
            "leads.ndjson",
            "--state",
            ":memory:",
        ],
        &dir,
    );
    let routed = String::from_utf8(routed.stdout).unwrap();
    for line in log.lines().take(expected.len()) {
        assert!(
            routed.lines().any(|printed| printed == line),
            "{line}\n{routed}"
        );
    }
    assert_eq!(
        log.lines()
            .filter(|line| line.contains("\"rule\":"))
            .count(),
        2,
        "both leads routed:\n{log}"
    );
    // Without a log, stderr says how to get every one.
    let output = run(
        &["simulate", "policy.route", "--leads", "leads.ndjson"],
        &dir,
    );
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("… and 2 more (`--log FILE` writes every one)"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// "Leads that waited for a shift" counts each wait to when the rep starts on the lead: after
/// an absence when the first to start is away at their next opening (not that opening), and
/// also a lead that came in working hours while the one rep who could start was away.
#[test]
fn a_wait_for_a_shift_runs_to_when_the_rep_starts_after_an_absence() {
    let dir = scratch("wait-absence");
    std::fs::write(
        dir.join("shift.route"),
        "schema lead { id: string  created_at: time }\n\
         calendar msk { timezone Europe/Moscow  hours mon-fri 09:00-18:00 }\n\
         calendar nsk { timezone Asia/Novosibirsk  hours mon-fri 09:00-18:00 }\n\
         rep olga { calendar msk }\n\
         rep igor { calendar nsk }\n\
         pool national { members olga, igor  strategy round_robin  on shift }\n\
         otherwise -> pool national within 2h\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("roster.json"),
        r#"{"reps":{"igor":{"out_of_office":[{"from":"2026-11-24","to":"2026-11-25"}]},"olga":{"out_of_office":[{"from":"2026-11-20","to":"9999-12-31"}]}}}"#,
    )
    .unwrap();
    // Monday 20:00 (igor's next opening, Tuesday, is in his absence), Tuesday noon (in working
    // hours, in his absence), Friday 19:00 (an ordinary weekend).
    std::fs::write(
        dir.join("leads.ndjson"),
        "{\"id\":\"S1\",\"created_at\":\"2026-11-23T20:00:00+07:00\"}\n\
         {\"id\":\"S2\",\"created_at\":\"2026-11-24T12:00:00+07:00\"}\n\
         {\"id\":\"S3\",\"created_at\":\"2026-11-27T19:00:00+07:00\"}\n",
    )
    .unwrap();
    let json: Value = serde_json::from_str(&ok(
        &[
            "simulate",
            "shift.route",
            "--leads",
            "leads.ndjson",
            "--roster",
            "roster.json",
            "--format",
            "json",
            "--quiet",
        ],
        &dir,
    ))
    .unwrap();
    let waited = &json["simulation"]["waited_for_shift"]["national"];
    // S1 to Thursday 09:00: 61h; S2: 45h; S3 to Monday 09:00: 62h.
    assert_eq!(waited["leads"], 3, "{waited}");
    assert_eq!(waited["p50_seconds"], 61 * 3600, "{waited}");
    assert_eq!(waited["max_seconds"], 62 * 3600, "{waited}");
    // The same starts as `route` decides them.
    let routed = run(
        &[
            "route",
            "shift.route",
            "--leads",
            "leads.ndjson",
            "--roster",
            "roster.json",
            "--state",
            ":memory:",
        ],
        &dir,
    );
    let routed = String::from_utf8(routed.stdout).unwrap();
    for start in [
        "igor starts at 2026-11-26T09:00:00+07:00",
        "igor starts at 2026-11-30T09:00:00+07:00",
    ] {
        assert!(routed.contains(start), "{start}\n{routed}");
    }
}

/// What simulate leaves out it names: a lead the router refuses as it routes it (an id reused
/// with other content) as well as a line that is no lead, and a time past the last instant
/// computed with is said as that, not as an absent time. Leads come from a file: a stream is
/// refused with why.
#[test]
fn what_is_left_out_is_named_and_a_stream_is_refused() {
    let dir = scratch("left-out");
    let week = std::fs::read_to_string(example("week.ndjson")).unwrap();
    let first = week.lines().next().unwrap();
    let mut lines: Vec<String> = week.lines().take(3).map(str::to_string).collect();
    lines.push(first.replacen("\"country\":\"CA\"", "\"country\":\"US\"", 1));
    let late = first
        .replacen("W-1", "W-late", 1)
        .replacen("2026-11-23T", "9999-12-31T", 1);
    lines.push(late);
    std::fs::write(dir.join("leads.ndjson"), lines.join("\n") + "\n").unwrap();
    let args = [
        "simulate",
        &example("routing.route"),
        "--roster",
        &example("roster.json"),
        "--leads",
        "leads.ndjson",
    ];
    let output = run(&args, &dir);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "note: 1 line of `leads.ndjson` is not a lead and is left out:\n  line 5: \
             lead.no_time: `created_at` is after 9999-12-30T22:00:00.999999999Z, the last \
             instant simulate places a lead at\n"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "note: 1 line of `leads.ndjson` is a lead refused as it was routed and is left \
             out:\n  line 4: lead.id_conflict: lead id `W-1` was already used for a different lead"
        ),
        "{stderr}"
    );
    for stream in ["-", "/dev/stdin"] {
        let output = run(
            &[
                "simulate",
                &example("routing.route"),
                "--leads",
                stream,
                "--quiet",
            ],
            &dir,
        );
        assert_eq!(output.status.code(), Some(2));
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(&format!(
                "error: --leads `{stream}` is a stream: simulate reads the leads more than once"
            )),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
