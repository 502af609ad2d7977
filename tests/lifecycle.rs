//! After the decision (issue 15), through `switchboard route`, `track`, `sweep`, `report` and
//! `explain`, and through the library with both state stores: touches stop escalations, steps
//! fire once each in time order and never hand a lead back to a rep who had it, a rejected lead
//! is re-routed at once, and a killed sweep neither repeats nor loses a step.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use switchboard::route::roster::Roster;
use switchboard::route::state::{MemoryState, StateStore};
use switchboard::route::{RouteConfig, Router};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> String {
    root()
        .join("tests/fixtures/lifecycle")
        .join(name)
        .to_string_lossy()
        .to_string()
}

fn example(name: &str) -> String {
    root()
        .join("examples")
        .join(name)
        .to_string_lossy()
        .to_string()
}

fn scratch(name: &str) -> PathBuf {
    common::scratch("lifecycle", name)
}

fn run(args: &[&str], input: &str) -> Output {
    run_to(args, input, Stdio::piped())
}

/// [`run`], with stdout going to `stdout`.
fn run_to(args: &[&str], input: &str, stdout: Stdio) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let output = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn ok(output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout(output)
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The README's example, routed into a fresh SQLite state at L-1's time.
fn routed_example(dir: &Path) -> String {
    let state = dir.join("state.db").to_string_lossy().to_string();
    let leads = std::fs::read_to_string(example("leads.ndjson")).unwrap();
    let output = run(
        &[
            "route",
            &example("routing.route"),
            "--roster",
            &example("roster.json"),
            "--state",
            &state,
            "--now",
            "2026-11-23T10:00:00+01:00",
            "--quiet",
        ],
        &leads,
    );
    // leads.ndjson holds a deliberate duplicate and no invalid line.
    ok(&output);
    state
}

fn sweep(policy: &str, roster: &str, state: &str, now: &str) -> Vec<serde_json::Value> {
    let output = run(
        &[
            "sweep", policy, "--roster", roster, "--state", state, "--now", now, "--quiet",
        ],
        "",
    );
    json_lines(&ok(&output))
}

#[test]
fn the_readme_example_escalates_the_untouched_lead_and_never_the_touched_one() {
    let dir = scratch("readme");
    let state = routed_example(&dir);
    let policy = example("routing.route");
    let roster = example("roster.json");
    // chen answers L-2 seven minutes in.
    let output = run(
        &["track", &policy, "--state", &state, "--quiet"],
        "{\"lead\":\"L-2\",\"event\":\"touched\",\"at\":\"2026-11-23T10:12:00+01:00\",\"by\":\"chen\"}\n",
    );
    let touched = ok(&output);
    // docs/routing.md shows these very lines.
    let docs = std::fs::read_to_string(root().join("docs/routing.md")).unwrap();
    assert!(docs.contains(touched.trim_end()), "{touched}");
    assert_eq!(
        json_lines(&touched),
        [serde_json::json!({
            "lead": "L-2", "event": "touched", "at": "2026-11-23T10:12:00+01:00", "by": "chen",
            "sla": "met", "after_seconds": 420, "after_working_seconds": 420,
        })]
    );
    // 40 minutes after L-1's time: L-1's step (due 10:30) fires; L-2's (10:35) never will.
    let fired = sweep(&policy, &roster, &state, "2026-11-23T10:40:00+01:00");
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert!(docs.contains(&fired[0].to_string()), "{}", fired[0]);
    assert_eq!(fired[0]["lead"], "L-1");
    assert_eq!(fired[0]["step"], 1);
    assert_eq!(fired[0]["at"], "2026-11-23T10:30:00+01:00");
    assert_eq!(fired[0]["pool"], "backup");
    assert_eq!(
        fired[0]["rep"], "egor",
        "the first available in `backup`'s order"
    );
    assert_eq!(
        fired[0]["due"], "2026-11-23T10:45:00+01:00",
        "the rule's 15 minutes"
    );
    assert_eq!(
        fired[0]["reason"][0]["reason"],
        "escalated to `backup` at 2026-11-23T10:30:00+01:00: anna did not touch it by \
         2026-11-23T10:15:00+01:00"
    );
    // A week later every other untouched lead's step has fired; L-2 is not among them, and L-1
    // has no step left.
    let later = sweep(&policy, &roster, &state, "2026-11-30T12:00:00+01:00");
    let leads: BTreeSet<&str> = later.iter().map(|d| d["lead"].as_str().unwrap()).collect();
    assert!(
        !leads.contains("L-2") && !leads.contains("L-1"),
        "{leads:?}"
    );
    assert!(!later.is_empty());
    // Sweeping again at the same time fires nothing new.
    assert!(sweep(&policy, &roster, &state, "2026-11-30T12:00:00+01:00").is_empty());
    // Re-sending L-1 answers its current decision: egor's.
    let leads = std::fs::read_to_string(example("leads.ndjson")).unwrap();
    let output = run(
        &[
            "route", &policy, "--roster", &roster, "--state", &state, "--quiet",
        ],
        leads.lines().next().unwrap(),
    );
    let again = json_lines(&ok(&output));
    assert_eq!(again[0]["rep"], "egor");
    assert_eq!(again[0]["duplicate"], true);

    // The report: per rep, SLA met / missed and time to first touch.
    let output = run(
        &[
            "report",
            &policy,
            "--state",
            &state,
            "--now",
            "2026-11-30T12:00:00+01:00",
        ],
        "",
    );
    let report = ok(&output);
    for line in report.lines().take(2).chain(
        report
            .lines()
            .filter(|line| line.starts_with("chen ") || line.starts_with("  senior:")),
    ) {
        assert!(docs.contains(line), "docs/routing.md lacks {line:?}");
    }
    insta::assert_snapshot!("readme_report", report);
    let output = run(
        &[
            "report",
            "--state",
            &state,
            "--now",
            "2026-11-30T12:00:00+01:00",
            "--format",
            "csv",
        ],
        "",
    );
    let csv = ok(&output);
    assert!(
        csv.lines()
            .any(|line| line == "rep,chen,2,1,1,0,0,420,420,420,420,420,1,0,0,1"),
        "{csv}"
    );
    // explain shows the lead's life.
    let output = run(
        &["explain", &policy, "--state", &state, "--lead", "L-1"],
        "",
    );
    let text = ok(&output);
    assert!(text.contains("after the decision:"), "{text}");
    // In the calendar's offset, as `sweep` printed them (they were in UTC).
    assert!(
        text.contains(
            "  2026-11-23T10:30:00+01:00  escalation step 1: to egor (pool backup), due \
             2026-11-23T10:45:00+01:00"
        ),
        "{text}"
    );
}

#[test]
fn steps_fire_in_time_order_never_back_to_a_rep_who_had_the_lead() {
    let dir = scratch("steps");
    let state = dir.join("state.db").to_string_lossy().to_string();
    let policy = fixture("desk.route");
    let roster = fixture("roster.json");
    let leads = [
        r#"{"id":"H-1","kind":"hot","created_at":"2026-11-23T10:00:00+01:00"}"#,
        r#"{"id":"W-1","kind":"warm","created_at":"2026-11-23T10:00:00+01:00"}"#,
        r#"{"id":"V-1","kind":"vip","created_at":"2026-11-23T10:00:00+01:00"}"#,
    ]
    .join("\n");
    ok(&run(
        &[
            "route", &policy, "--roster", &roster, "--state", &state, "--quiet",
        ],
        &leads,
    ));
    // Sweeping late fires every missed step, each at its own time, in time order.
    let fired = sweep(&policy, &roster, &state, "2026-11-23T12:00:00+01:00");
    let text: String = fired.iter().map(|d| format!("{d}\n")).collect();
    insta::assert_snapshot!("steps_in_time_order", text);
    let order: Vec<(String, u64)> = fired
        .iter()
        .map(|d| {
            (
                d["lead"].as_str().unwrap().to_string(),
                d["step"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            ("H-1", 1),
            ("V-1", 1),
            ("W-1", 1),
            ("H-1", 2),
            ("V-1", 2),
            ("W-1", 2)
        ]
        .map(|(lead, step)| (lead.to_string(), step))
    );
    // H-1: anna had it; the desk's next member takes it, then backup.
    assert_eq!(fired[0]["rep"], "chen");
    assert_eq!(fired[3]["rep"], "egor");
    // V-1: vera is away, so boris keeps it with the reason; the queue takes it at the next step.
    assert_eq!(fired[1]["rep"], "boris");
    assert_eq!(fired[1]["reason"][1]["reason"], "vera: away");
    assert_eq!(fired[4]["queue"], "review");
    // W-1: both members of the duo had it; no step is left, so it is unassigned, and says why.
    assert_eq!(fired[5]["action"], "unassigned");
    assert_eq!(
        fired[5]["reason"][1]["reason"],
        "nobody in pool `duo` is eligible: anna already had this lead, boris already had this \
         lead"
    );
    assert!(sweep(&policy, &roster, &state, "2026-11-23T12:00:00+01:00").is_empty());
}

#[test]
fn a_touch_between_two_steps_stops_the_later_ones_and_a_rejection_reroutes_at_once() {
    let dir = scratch("touch");
    let state = dir.join("state.db").to_string_lossy().to_string();
    let policy = fixture("desk.route");
    let roster = fixture("roster.json");
    let leads = [
        r#"{"id":"H-1","kind":"hot","created_at":"2026-11-23T10:00:00+01:00"}"#,
        r#"{"id":"H-2","kind":"hot","created_at":"2026-11-23T10:00:00+01:00"}"#,
    ]
    .join("\n");
    let routed = json_lines(&ok(&run(
        &[
            "route", &policy, "--roster", &roster, "--state", &state, "--quiet",
        ],
        &leads,
    )));
    assert_eq!(routed[0]["rep"], "anna");
    assert_eq!(routed[1]["rep"], "boris");
    let fired = sweep(&policy, &roster, &state, "2026-11-23T10:35:00+01:00");
    assert_eq!(fired.len(), 2);
    assert_eq!(fired[0]["rep"], "chen", "H-1: after anna");
    assert_eq!(
        fired[1]["rep"], "anna",
        "H-2: the rotation goes on, boris excluded"
    );
    // chen answers H-1 between its steps; boris, who no longer holds H-2, cannot touch it;
    // anna gives H-2 back, and it goes at once to the one desk member who has not had it.
    let events = [
        r#"{"lead":"H-1","event":"touched","at":"2026-11-23T10:40:00+01:00","by":"chen"}"#,
        r#"{"lead":"H-2","event":"touched","at":"2026-11-23T10:41:00+01:00","by":"boris"}"#,
        r#"{"lead":"H-2","event":"rejected","at":"2026-11-23T10:42:00+01:00","by":"anna"}"#,
    ]
    .join("\n");
    let output = run(
        &[
            "track", &policy, "--roster", &roster, "--state", &state, "--quiet",
        ],
        &events,
    );
    assert_eq!(output.status.code(), Some(1), "one event is an error");
    let tracked = json_lines(&stdout(&output));
    assert_eq!(tracked[0]["sla"], "met", "chen's due was 10:45");
    assert_eq!(tracked[0]["after_seconds"], 600);
    assert_eq!(tracked[1]["error"]["code"], "event.not_holder");
    assert_eq!(
        tracked[1]["error"]["message"],
        "`boris` does not hold lead `H-2`: anna does (since 2026-11-23T10:30:00+01:00)"
    );
    assert_eq!(tracked[2]["decision"]["rep"], "chen");
    assert_eq!(tracked[2]["decision"]["due"], "2026-11-23T10:57:00+01:00");
    // H-1 never escalates again. H-2 was re-routed with a fresh chain: its first step (after
    // 30 minutes, to the desk) finds everyone has had it, then backup takes it.
    let later = sweep(&policy, &roster, &state, "2026-11-23T13:00:00+01:00");
    assert!(later.iter().all(|d| d["lead"] == "H-2"), "{later:?}");
    assert_eq!(later.len(), 2);
    assert_eq!(later[0]["at"], "2026-11-23T11:12:00+01:00");
    assert_eq!(
        later[0]["rep"], "chen",
        "nobody left in the desk: chen keeps it"
    );
    assert_eq!(later[1]["at"], "2026-11-23T11:42:00+01:00");
    assert_eq!(later[1]["rep"], "egor");
}

#[test]
fn every_mistake_in_an_event_is_an_error_record_that_says_why() {
    let dir = scratch("mistakes");
    let state = routed_example(&dir);
    let policy = example("routing.route");
    let events = [
        r#"{"lead":"L-1","event":"touched","at":"2026-11-23T10:12:00+01:00","by":"anna"}"#,
        r#"{"lead":"L-1","event":"touched","at":"2026-11-23T10:12:00+01:00","by":"anna"}"#,
        r#"{"lead":"L-1","event":"touched","at":"2026-11-23T10:14:00+01:00","by":"anna"}"#,
        r#"{"lead":"L-99","event":"touched","at":"2026-11-23T10:12:00+01:00","by":"anna"}"#,
        r#"{"lead":"L-3","event":"touched","at":"2026-11-20T10:00:00+01:00","by":"anna"}"#,
        r#"{"lead":"L-3","event":"poked","at":"2026-11-27T10:00:00+01:00","by":"anna"}"#,
        r#"{"lead":"L-3","event":"touch","at":"2026-11-27T10:00:00+01:00","by":"anna"}"#,
        r#"{"lead":"L-3","event":"touched","at":"yesterday","by":"anna"}"#,
        r#"{"lead":"L-3","event":"touched","at":"2026-11-27T10:00:00+01:00"}"#,
        r#"{"lead":"L-3","event":"touched","at":"2026-11-27T10:00:00+01:00","by":"anna","note":1}"#,
        r#"{"lead":"L-3","event":"closed","at":"2026-11-27T11:00:00+01:00"}"#,
        r#"{"lead":"L-3","event":"touched","at":"2026-11-27T12:00:00+01:00","by":"anna"}"#,
        r#"["not", "an", "object"]"#,
        "{\"lead\":",
    ]
    .join("\n");
    let output = run(&["track", &policy, "--state", &state], &events);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("tracked 14 events from stdin: 3 recorded, 11 errors"),
        "{stderr}"
    );
    insta::assert_snapshot!("event_mistakes", stdout(&output));
}

/// An event dated after now has not happened: a sender's clock that runs fast, or a mistyped
/// year, must not fire escalation steps early and take a lead from a rep still inside the SLA.
#[test]
fn an_event_dated_after_now_is_refused_and_fires_no_step_early() {
    let dir = scratch("future");
    let state = routed_example(&dir);
    let policy = example("routing.route");
    let track = |now: &str, event: &str| {
        let output = run(
            &["track", &policy, "--state", &state, "--now", now, "--quiet"],
            &format!("{event}\n"),
        );
        json_lines(&stdout(&output)).remove(0)
    };
    // L-1 went to anna at 10:00, due 10:15, its step (to the backup pool) due at 10:30.
    // Three hours ahead of now: refused, and the state is as it was.
    let refused = track(
        "2026-11-23T10:05:00+01:00",
        r#"{"lead":"L-1","event":"touched","at":"2026-11-23T13:00:00+01:00","by":"nobody"}"#,
    );
    assert_eq!(refused["error"]["code"], "event.future", "{refused}");
    assert_eq!(
        refused["error"]["message"],
        "the event at 2026-11-23T13:00:00+01:00 is after now (2026-11-23T10:05:00+01:00): an \
         event is recorded once it has happened (clocks may differ by 5 minutes); check the \
         clock of what sent it"
    );
    assert!(refused.get("escalated").is_none(), "{refused}");
    let closed_in_2099 = track(
        "2026-11-23T10:05:00+01:00",
        r#"{"lead":"L-1","event":"closed","at":"2099-01-01T00:00:00Z"}"#,
    );
    assert_eq!(closed_in_2099["error"]["code"], "event.future");
    // Within the 5 minutes a clock may differ by: taken, but no step fires after now, so anna
    // still holds the lead at 10:33 (its step is due at 10:30, now is 10:29).
    let touched = track(
        "2026-11-23T10:29:00+01:00",
        r#"{"lead":"L-1","event":"touched","at":"2026-11-23T10:33:00+01:00","by":"anna"}"#,
    );
    assert_eq!(touched["sla"], "missed", "{touched}");
    assert!(touched.get("escalated").is_none(), "{touched}");
    // Touched: the step never fires.
    let roster = example("roster.json");
    let fired = sweep(&policy, &roster, &state, "2026-11-23T12:00:00+01:00");
    assert!(fired.iter().all(|step| step["lead"] != "L-1"), "{fired:?}");
}

/// A close the CRM sends after a sweep handed the lead on is recorded at its own time, and the
/// steps still ahead never fire: the lead was done.
#[test]
fn a_close_that_arrives_after_the_sweep_ends_the_lead_and_its_steps() {
    let dir = scratch("late-close");
    let policy = dir.join("two.route");
    std::fs::write(
        &policy,
        "schema lead {\n  id: string\n  created_at: time\n}\n\
         pool senior { members anna, chen  strategy round_robin }\n\
         pool backup { members egor, dmitri  strategy ordered }\n\
         queue review\n\
         otherwise -> pool senior within 15m escalate backup after 30m escalate review after 60m\n",
    )
    .unwrap();
    let policy = policy.to_string_lossy().to_string();
    let state = dir.join("state.db").to_string_lossy().to_string();
    let routed = run(
        &["route", &policy, "--state", &state, "--quiet"],
        "{\"id\":\"K-1\",\"created_at\":\"2026-11-23T10:00:00Z\"}\n",
    );
    ok(&routed);
    let sweep_at = |now: &str| {
        json_lines(&ok(&run(
            &["sweep", &policy, "--state", &state, "--now", now, "--quiet"],
            "",
        )))
    };
    let first = sweep_at("2026-11-23T10:40:00Z");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["rep"], "egor");
    // The CRM says K-1 was closed at 10:20, before egor got it at 10:30.
    let closed = run(
        &["track", &policy, "--state", &state, "--quiet"],
        "{\"lead\":\"K-1\",\"event\":\"closed\",\"at\":\"2026-11-23T10:20:00Z\"}\n",
    );
    let closed = json_lines(&ok(&closed));
    assert_eq!(closed[0]["event"], "closed", "{closed:?}");
    assert!(closed[0].get("error").is_none(), "{closed:?}");
    // Step 2 (to the queue at 11:00) never fires, and nothing is taken after the close.
    assert_eq!(sweep_at("2026-11-23T12:00:00Z").len(), 0);
    let touched = run(
        &["track", &policy, "--state", &state, "--quiet"],
        "{\"lead\":\"K-1\",\"event\":\"touched\",\"at\":\"2026-11-23T10:50:00Z\",\"by\":\"egor\"}\n",
    );
    assert_eq!(
        json_lines(&stdout(&touched))[0]["error"]["code"],
        "event.closed"
    );
}

/// Routes, tracks and sweeps a scenario through the library with one store; the lines out.
fn scenario(state: &mut dyn StateStore) -> Vec<String> {
    let text = std::fs::read_to_string(fixture("desk.route")).unwrap();
    let report = switchboard::check_source(&text);
    let (policy, compiled) = report.compiled.unwrap();
    let roster =
        Roster::from_json(&std::fs::read_to_string(fixture("roster.json")).unwrap()).unwrap();
    let now: jiff::Timestamp = "2026-11-23T09:00:00Z".parse().unwrap();
    let config = RouteConfig {
        now,
        explain: false,
        limits: Default::default(),
    };
    let mut router = Router::new(&policy, &compiled, Some(&roster), config, &text);
    let mut out = Vec::new();
    let kinds = ["hot", "warm", "vip", "calm"];
    state.begin().unwrap();
    for index in 0..12 {
        let line = format!(
            "{{\"id\":\"S-{index}\",\"kind\":\"{}\",\"created_at\":\"2026-11-23T{:02}:{:02}:00+01:00\"}}",
            kinds[index % 4],
            10 + index / 6,
            (index * 7) % 60
        );
        let outcome = router.route_line(state, line.as_bytes()).unwrap();
        out.push(switchboard::route::wire::outcome_json(&outcome, index + 1));
    }
    // S-1's holder gives it back before any sweep: its first step (10:37) was scheduled by
    // routing and moves to the new chain's (10:46), past S-2's step (10:44).
    let first: serde_json::Value = serde_json::from_str(&out[1]).unwrap();
    let holder = first["rep"].as_str().unwrap().to_string();
    let reject = format!(
        "{{\"lead\":\"S-1\",\"event\":\"rejected\",\"at\":\"2026-11-23T10:16:00+01:00\",\"by\":\"{holder}\"}}"
    );
    // As `track` run when each event arrives: now is the event's time.
    router.set_now("2026-11-23T10:16:00+01:00".parse().unwrap());
    let (tracked, fired) = router.track_line(state, reject.as_bytes()).unwrap();
    out.push(tracked.to_json_after(&fired, 1));
    for (lead, by, at) in [("S-0", "anna", "10:05"), ("S-4", "boris", "11:00")] {
        let event = format!(
            "{{\"lead\":\"{lead}\",\"event\":\"touched\",\"at\":\"2026-11-23T{at}:00+01:00\",\"by\":\"{by}\"}}"
        );
        router.set_now(format!("2026-11-23T{at}:00+01:00").parse().unwrap());
        let (tracked, fired) = router.track_line(state, event.as_bytes()).unwrap();
        out.push(tracked.to_json_after(&fired, 1));
    }
    for now in ["2026-11-23T10:45:00+01:00", "2026-11-23T14:00:00+01:00"] {
        let now: jiff::Timestamp = now.parse().unwrap();
        while let Some(step) = router.sweep_next(state, now).unwrap() {
            out.extend(step.map(|fired| fired.to_json()));
        }
    }
    state.commit().unwrap();
    assert!(
        out.iter().all(|line| !line.contains("event.future")),
        "{out:#?}"
    );
    out
}

#[test]
fn both_state_stores_carry_out_the_same_lives() {
    let memory = scenario(&mut MemoryState::default());
    let dir = scratch("stores");
    let mut sqlite = switchboard::store::SqliteState::open(&dir.join("state.db")).unwrap();
    let on_disk = scenario(&mut sqlite);
    assert_eq!(memory, on_disk);
    assert!(
        memory
            .iter()
            .filter(|l| l.contains("\"escalated\""))
            .count()
            >= 8
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Step {
        Touch {
            lead: usize,
            rep: usize,
            minute: u32,
        },
        Reject {
            lead: usize,
            rep: usize,
            minute: u32,
        },
        Close {
            lead: usize,
            minute: u32,
        },
        Sweep {
            minute: u32,
        },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0usize..8, 0usize..6, 0u32..300).prop_map(|(lead, rep, minute)| Step::Touch {
                lead,
                rep,
                minute
            }),
            (0usize..8, 0usize..6, 0u32..300).prop_map(|(lead, rep, minute)| Step::Reject {
                lead,
                rep,
                minute
            }),
            (0usize..8, 0u32..300).prop_map(|(lead, minute)| Step::Close { lead, minute }),
            (0u32..400).prop_map(|minute| Step::Sweep { minute }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Whatever the events and sweeps, in whatever order: no lead is held by two reps at
        /// once, no rep gets the same lead twice, each escalation step fires at most once.
        #[test]
        fn no_lead_is_held_twice_and_no_step_fires_twice(
            kinds in prop::collection::vec(0usize..4, 8),
            steps in prop::collection::vec(step(), 1..40),
        ) {
            let text = std::fs::read_to_string(fixture("desk.route")).unwrap();
            let (policy, compiled) = switchboard::check_source(&text).compiled.unwrap();
            let roster = Roster::from_json(
                &std::fs::read_to_string(fixture("roster.json")).unwrap(),
            )
            .unwrap();
            let start: jiff::Timestamp = "2026-11-23T09:00:00Z".parse().unwrap();
            let at = |minute: u32| {
                start
                    .checked_add(jiff::SignedDuration::from_mins(i64::from(minute)))
                    .unwrap()
            };
            let config = RouteConfig { now: start, explain: false, limits: Default::default() };
            let mut router = Router::new(&policy, &compiled, Some(&roster), config, &text);
            let mut state = MemoryState::default();
            let names = ["hot", "warm", "vip", "calm"];
            for (index, kind) in kinds.iter().enumerate() {
                let line = format!(
                    "{{\"id\":\"P-{index}\",\"kind\":\"{}\",\"created_at\":\"{}\"}}",
                    names[*kind],
                    at(0)
                );
                router.route_line(&mut state, line.as_bytes()).unwrap();
            }
            let reps = ["anna", "boris", "chen", "egor", "dmitri", "vera"];
            let mut fired: BTreeSet<(String, usize)> = BTreeSet::new();
            for step in steps {
                let event = |lead: usize, kind: &str, minute: u32, by: Option<usize>| {
                    let by = by.map(|rep| format!(",\"by\":\"{}\"", reps[rep])).unwrap_or_default();
                    format!(
                        "{{\"lead\":\"P-{lead}\",\"event\":\"{kind}\",\"at\":\"{}\"{by}}}",
                        at(minute)
                    )
                };
                let line = match &step {
                    Step::Touch { lead, rep, minute } => Some((event(*lead, "touched", *minute, Some(*rep)), *minute)),
                    Step::Reject { lead, rep, minute } => Some((event(*lead, "rejected", *minute, Some(*rep)), *minute)),
                    Step::Close { lead, minute } => Some((event(*lead, "closed", *minute, None), *minute)),
                    Step::Sweep { .. } => None,
                };
                if let Some((line, minute)) = line {
                    // As `track` run when the event arrives: now is its time. Steps due before
                    // the event fire first, and count like any.
                    router.set_now(at(minute));
                    let (tracked, steps) = router.track_line(&mut state, line.as_bytes()).unwrap();
                    prop_assert!(
                        !matches!(&tracked, switchboard::route::Tracked::Invalid(error) if error.code == "event.future"),
                        "{line} refused as from the future"
                    );
                    for step in steps {
                        prop_assert!(
                            fired.insert((step.decision.lead.to_string(), step.step)),
                            "step {} of {} fired twice", step.step, step.decision.lead
                        );
                    }
                }
                match step {
                    Step::Touch { .. } | Step::Reject { .. } | Step::Close { .. } => {}
                    Step::Sweep { minute } => {
                        while let Some(step) = router.sweep_next(&mut state, at(minute)).unwrap() {
                            if let Some(step) = step {
                                prop_assert!(
                                    fired.insert((step.decision.lead.to_string(), step.step)),
                                    "step {} of {} fired twice", step.step, step.decision.lead
                                );
                            }
                        }
                    }
                }
                let mut lives = BTreeMap::new();
                state.each_lead(&mut |recorded, life| {
                    lives.insert(recorded.decision.lead.clone(), life);
                }).unwrap();
                for (lead, life) in lives {
                    let Some(life) = life else { continue };
                    let open = life.holdings.iter().filter(|h| h.ended.is_none()).count();
                    prop_assert!(open <= 1, "{lead} has {open} holders at once");
                    let reps = life.reps();
                    let distinct: BTreeSet<&String> = reps.iter().collect();
                    prop_assert_eq!(distinct.len(), reps.len(), "{} went to a rep twice: {:?}", lead, reps);
                }
            }
        }
    }
}

#[test]
fn a_sweep_killed_midway_and_run_again_fires_every_step_once() {
    let dir = scratch("kill");
    let state = dir.join("state.db").to_string_lossy().to_string();
    let policy = fixture("desk.route");
    let roster = fixture("roster.json");
    let leads: String = (0..4_000)
        .map(|index| {
            format!(
                "{{\"id\":\"K-{index}\",\"kind\":\"hot\",\"created_at\":\"2026-11-23T10:{:02}:00+01:00\"}}\n",
                index % 60
            )
        })
        .collect();
    ok(&run(
        &[
            "route", &policy, "--roster", &roster, "--state", &state, "--quiet",
        ],
        &leads,
    ));
    let now = "2026-11-30T12:00:00+01:00";
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "sweep", &policy, "--roster", &roster, "--state", &state, "--now", now, "--quiet",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Read until the first batch is out, then kill -9.
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut reader, &mut first).unwrap();
    child.kill().unwrap();
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut reader, &mut rest);
    child.wait().unwrap();
    // A line cut by the kill is not a decision: only whole lines count.
    let printed = format!("{first}{rest}");
    let whole = match printed.rfind('\n') {
        Some(end) => &printed[..=end],
        None => "",
    };
    let killed = json_lines(whole);
    assert!(
        !killed.is_empty() && killed.len() < 8_000,
        "killed after {} steps",
        killed.len()
    );
    let rerun = sweep(&policy, &roster, &state, now);
    let mut seen = BTreeSet::new();
    for decision in killed.iter().chain(&rerun) {
        let key = (
            decision["lead"].as_str().unwrap().to_string(),
            decision["step"].as_u64().unwrap(),
        );
        assert!(seen.insert(key.clone()), "{key:?} fired twice");
    }
    // Every lead's two steps fired, in the state, exactly once each: nothing is left to fire.
    assert!(sweep(&policy, &roster, &state, now).is_empty());
    let mut sqlite = switchboard::store::SqliteState::open(Path::new(&state)).unwrap();
    let mut steps = 0;
    sqlite
        .each_lead(&mut |_, life| {
            let life = life.expect("every lead escalated");
            assert!(life.steps.iter().all(|step| step.fired.is_some()));
            steps += life.steps.len();
        })
        .unwrap();
    assert_eq!(steps, 8_000);
    // What the killed run printed is in the state; a batch it committed but had not printed
    // yet is the only thing no run prints.
    assert!(
        seen.len() <= 8_000 && seen.len() >= 8_000 - 256,
        "{}",
        seen.len()
    );
}

#[test]
fn a_week_of_leads_touches_and_sweeps() {
    // tests/fixtures/lifecycle/week/README.md says what the week holds.
    let dir = scratch("week");
    let state = dir.join("state.db").to_string_lossy().to_string();
    let policy = fixture("desk.route");
    let roster = fixture("roster.json");
    let leads = std::fs::read_to_string(fixture("week/leads.ndjson")).unwrap();
    let events = std::fs::read_to_string(fixture("week/events.ndjson")).unwrap();
    let mut transcript = String::new();
    for day in [
        "2026-11-23",
        "2026-11-24",
        "2026-11-25",
        "2026-11-26",
        "2026-11-27",
    ] {
        let of_day = |text: &str, key: &str| -> String {
            text.lines()
                .filter(|line| line.contains(&format!("\"{key}\":\"{day}")))
                .map(|line| format!("{line}\n"))
                .collect()
        };
        let routed = ok(&run(
            &[
                "route", &policy, "--roster", &roster, "--state", &state, "--quiet",
            ],
            &of_day(&leads, "created_at"),
        ));
        let tracked = run(
            &[
                "track", &policy, "--roster", &roster, "--state", &state, "--quiet",
            ],
            &of_day(&events, "at"),
        );
        assert_eq!(
            tracked.status.code(),
            Some(1),
            "one event a day is a mistake"
        );
        let now = format!("{day}T18:30:00+01:00");
        let swept = sweep(&policy, &roster, &state, &now);
        transcript.push_str(&format!(
            "== {day}\n-- route\n{routed}-- track\n{}-- sweep at {now}\n",
            stdout(&tracked)
        ));
        for decision in swept {
            transcript.push_str(&format!("{decision}\n"));
        }
    }
    let now = "2026-11-30T12:00:00+01:00";
    transcript.push_str(&format!("== sweep at {now}\n"));
    for decision in sweep(&policy, &roster, &state, now) {
        transcript.push_str(&format!("{decision}\n"));
    }
    insta::assert_snapshot!("week_transcript", transcript);
    let report = ok(&run(
        &["report", &policy, "--state", &state, "--now", now],
        "",
    ));
    insta::assert_snapshot!("week_report", report);
    // Every line of the transcript is a decision, a recorded event or an error record.
    assert!(
        transcript
            .lines()
            .filter(|l| l.contains("event.not_holder"))
            .count()
            == 5
    );
}

#[test]
fn a_lead_given_back_by_everyone_keeps_its_escalation_chain() {
    let dir = scratch("everyone");
    let state = dir.join("state.db").to_string_lossy().to_string();
    let policy = fixture("desk.route");
    let roster = fixture("roster.json");
    let routed = json_lines(&ok(&run(
        &[
            "route", &policy, "--roster", &roster, "--state", &state, "--quiet",
        ],
        r#"{"id":"G-1","kind":"hot","created_at":"2026-11-23T10:00:00+01:00"}"#,
    )));
    let first = routed[0]["rep"].as_str().unwrap().to_string();
    let fired = sweep(&policy, &roster, &state, "2026-11-23T10:31:00+01:00");
    let second = fired[0]["rep"].as_str().unwrap().to_string();
    let reject = |by: &str, at: &str| {
        format!(
            r#"{{"lead":"G-1","event":"rejected","at":"2026-11-23T{at}:00+01:00","by":"{by}"}}"#
        )
    };
    let tracked = json_lines(&ok(&run(
        &[
            "track", &policy, "--roster", &roster, "--state", &state, "--quiet",
        ],
        &reject(&second, "10:32"),
    )));
    let third = tracked[0]["decision"]["rep"].as_str().unwrap().to_string();
    let mut reps = vec![first, second, third.clone()];
    reps.sort();
    assert_eq!(reps, ["anna", "boris", "chen"], "each desk member once");
    // The last desk member gives it back too: nobody is left, yet the lead keeps the rule's
    // SLA and escalation chain, so backup gets it when the chain says.
    let tracked = json_lines(&ok(&run(
        &[
            "track", &policy, "--roster", &roster, "--state", &state, "--quiet",
        ],
        &reject(&third, "10:33"),
    )));
    let decision = &tracked[0]["decision"];
    assert_eq!(decision["action"], "unassigned");
    assert_eq!(
        decision["escalation"],
        serde_json::json!([
            {"at": "2026-11-23T11:03:00+01:00", "to": "desk"},
            {"at": "2026-11-23T11:33:00+01:00", "to": "backup"}
        ])
    );
    // The holder's pool is tried once, not once for the holder and once for the rule.
    let reasons: Vec<&str> = decision["reason"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons
            .iter()
            .filter(|r| r.starts_with("nobody in pool `desk`"))
            .count(),
        1
    );
    let later = sweep(&policy, &roster, &state, "2026-11-23T12:00:00+01:00");
    assert_eq!(later.len(), 2);
    assert_eq!(later[1]["pool"], "backup");
    assert_eq!(later[1]["rep"], "egor");
}

#[test]
fn a_version_5_state_file_gains_the_outbox_and_its_steps_fire_once() {
    let dir = scratch("v5");
    let state = routed_example(&dir);
    // Make it the version 5 file the previous Switchboard wrote: no outbox.
    rusqlite::Connection::open(&state)
        .unwrap()
        .execute_batch("DROP TABLE outbox; PRAGMA user_version = 5;")
        .unwrap();
    let (policy, roster) = (example("routing.route"), example("roster.json"));
    let fired = sweep(&policy, &roster, &state, "2026-11-30T10:00:00Z");
    let again = sweep(&policy, &roster, &state, "2026-11-30T10:00:00Z");
    assert!(!fired.is_empty());
    // Upgrading did not schedule the recorded steps a second time.
    let leads: BTreeSet<&str> = fired.iter().map(|f| f["lead"].as_str().unwrap()).collect();
    assert_eq!(leads.len(), fired.len(), "{fired:?}");
    assert!(again.is_empty(), "{again:?}");
    let connection = rusqlite::Connection::open(&state).unwrap();
    let version: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 15);
    let outbox: i64 = connection
        .query_row("SELECT count(*) FROM outbox", [], |row| row.get(0))
        .unwrap();
    // What `sweep` fired is kept in the outbox too, for a `serve --notify` on the same state
    // to deliver: once each.
    assert_eq!(outbox, fired.len() as i64);
}

#[test]
fn a_touch_that_arrives_after_the_sweep_counts_for_the_holding_in_force_at_its_time() {
    let dir = scratch("late-touch");
    let state = routed_example(&dir);
    let policy = example("routing.route");
    let roster = example("roster.json");
    // The sweep runs before the CRM's webhook for anna's touch at 10:20 arrives.
    let fired = sweep(&policy, &roster, &state, "2026-11-23T10:31:00+01:00");
    let l1 = fired.iter().find(|step| step["lead"] == "L-1").unwrap();
    let new_holder = l1["rep"].as_str().unwrap().to_string();
    assert_ne!(new_holder, "anna");
    let track = |events: &str| {
        run(
            &[
                "track", &policy, "--roster", &roster, "--state", &state, "--quiet",
            ],
            events,
        )
    };
    let anna = report_of(&policy, &state, "2026-11-23T10:40:00+01:00")["reps"]["anna"].clone();
    // Her other lead, L-3, arrives on the 26th: not counted as of the 23rd.
    assert_eq!(anna["leads"], 1, "{anna:#}");
    assert_eq!(anna["sla_met"], 0, "{anna:#}");
    assert_eq!(anna["never_touched"], 1, "{anna:#}");
    let late = r#"{"lead":"L-1","event":"touched","at":"2026-11-23T10:20:00+01:00","by":"anna"}"#;
    let tracked = json_lines(&ok(&track(late)));
    assert_eq!(tracked[0]["event"], "touched");
    assert_eq!(tracked[0]["sla"], "missed", "anna's due was 10:15");
    assert_eq!(tracked[0]["after_seconds"], 1200);
    assert_eq!(tracked[0]["held_until"], "2026-11-23T10:30:00+01:00");
    // An earlier touch of hers, delivered later still, becomes her first: the SLA was met.
    let earlier =
        r#"{"lead":"L-1","event":"touched","at":"2026-11-23T10:10:00+01:00","by":"anna"}"#;
    let tracked = json_lines(&ok(&track(earlier)));
    assert_eq!(tracked[0]["sla"], "met");
    // The new holder cannot have touched it before getting it, and still holds it.
    let before = format!(
        r#"{{"lead":"L-1","event":"touched","at":"2026-11-23T10:25:00+01:00","by":"{new_holder}"}}"#
    );
    let output = track(&before);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        json_lines(&stdout(&output))[0]["error"]["code"],
        "event.before_holding"
    );
    let anna = report_of(&policy, &state, "2026-11-23T10:40:00+01:00")["reps"]["anna"].clone();
    assert_eq!(anna["sla_met"], 1, "{anna:#}");
    assert_eq!(anna["first_touch_seconds"]["p50"], 600, "{anna:#}");
    assert_eq!(anna["never_touched"], 0, "{anna:#}");
}

#[test]
fn a_report_as_of_a_time_counts_nothing_that_happened_after_it() {
    let dir = scratch("report-as-of");
    let state = routed_example(&dir);
    let policy = example("routing.route");
    let roster = example("roster.json");
    // L-1's step to `backup` fires at 10:30.
    let fired = sweep(&policy, &roster, &state, "2026-11-23T10:31:00+01:00");
    assert!(fired.iter().any(|step| step["lead"] == "L-1"));
    let report_at = |now: &str| report_of(&policy, &state, now);
    let before = report_at("2026-11-23T10:20:00+01:00");
    let after = report_at("2026-11-23T10:31:00+01:00");
    assert_eq!(before["escalations_fired"], 0, "{before:#}");
    // Leads that arrive after the report's time are not counted at all.
    let early = report_at("2026-11-23T09:30:00+01:00");
    assert!(
        early["leads"].as_u64().unwrap() < before["leads"].as_u64().unwrap(),
        "{early:#}"
    );
    assert_eq!(after["escalations_fired"], fired.len(), "{after:#}");
    assert!(before["pools"].get("backup").is_none(), "{before:#}");
    assert_eq!(after["pools"]["backup"]["escalated_in"], 1, "{after:#}");
    assert_eq!(before["pools"]["senior"]["escalated_out"], 0, "{before:#}");
}

#[test]
fn a_sweep_under_a_policy_without_the_step_target_hands_the_lead_to_nobody_and_says_why() {
    let dir = scratch("renamed-target");
    let state = routed_example(&dir);
    // The same policy with the backup pool renamed: `check` passes, but the recorded chain
    // still names `backup`, which is no rep.
    let renamed = std::fs::read_to_string(example("routing.route"))
        .unwrap()
        .replace("pool backup {", "pool backup2 {")
        .replace("escalate backup", "escalate backup2");
    let policy = dir.join("renamed.route");
    std::fs::write(&policy, renamed).unwrap();
    let policy = policy.to_string_lossy().to_string();
    let sweep_args = |allow: bool| {
        let mut args = vec![
            "sweep",
            &policy,
            "--state",
            &state,
            "--now",
            "2026-11-23T10:31:00+01:00",
            "--quiet",
        ];
        if allow {
            args.push("--allow-unknown-names");
        }
        args.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    // Without being told the name was taken out on purpose, nothing is carried out.
    let refused = run(
        &sweep_args(false)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "",
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(stdout(&refused).is_empty());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("due escalation step")
            && stderr.contains("`backup` (lead `L-1`")
            && stderr.contains("Nothing was carried out")
            && stderr.contains("--allow-unknown-names"),
        "{stderr}"
    );
    let output = run(
        &sweep_args(true)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "",
    );
    let fired = json_lines(&ok(&output));
    let l1 = fired.iter().find(|step| step["lead"] == "L-1").unwrap();
    assert_eq!(l1["action"], "unassigned", "{l1}");
    assert!(l1.get("rep").is_none(), "{l1}");
    assert_eq!(
        l1["reason"][1]["reason"],
        "`backup` is no pool, queue or rep of this policy (the policy that routed the lead named it)"
    );
}

#[test]
fn sweep_and_track_with_another_policy_change_nothing() {
    // Found by a new-user try-out: `sweep other.route` (a wrong path in a cron job) fired every
    // due step as finding nobody, and `track other.route` re-routed a rejection to nobody:
    // leads taken from their reps, for good, with exit 0.
    let dir = scratch("other-policy");
    let state = routed_example(&dir);
    let other = dir.join("other.route");
    std::fs::write(
        &other,
        "schema lead {\n  id: string\n  kind: enum { a, b }\n  created_at: time\n}\n\
         pool first { members anna, chen }\notherwise -> pool first within 10m\n",
    )
    .unwrap();
    let other = other.to_string_lossy().to_string();
    let refused = run(
        &[
            "sweep",
            &other,
            "--state",
            &state,
            "--now",
            "2026-11-30T12:00:00+01:00",
        ],
        "",
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(stdout(&refused).is_empty());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("name what") && stderr.contains("`backup` (lead `L-1`, `L-2`"),
        "{stderr}"
    );
    // A rejection to be re-routed by a rule the other policy lacks: refused, not recorded.
    let rejection = "{\"lead\":\"L-5\",\"event\":\"rejected\",\"at\":\"2026-11-23T11:30:00+01:00\",\"by\":\"egor\"}\n";
    let tracked = run(
        &[
            "track",
            &other,
            "--state",
            &state,
            "--now",
            "2026-11-23T11:31:00+01:00",
            "--quiet",
        ],
        rejection,
    );
    assert_eq!(tracked.status.code(), Some(1));
    let record = &json_lines(&stdout(&tracked))[0];
    assert_eq!(record["error"]["code"], "event.policy", "{record}");
    assert!(
        record["error"]["message"].as_str().unwrap().starts_with(
            "a rejection re-routes lead `L-5` by its rule, `warm`, which this policy does not have"
        ),
        "{record}"
    );
    // Nothing changed: with the right policy, the rejection is recorded and the sweep fires
    // the steps to `backup` as if the other policy had never been run.
    let policy = example("routing.route");
    let roster = example("roster.json");
    let rerouted = json_lines(&ok(&run(
        &[
            "track",
            &policy,
            "--roster",
            &roster,
            "--state",
            &state,
            "--now",
            "2026-11-23T11:31:00+01:00",
            "--quiet",
        ],
        rejection,
    )));
    assert!(rerouted[0].get("error").is_none(), "{}", rerouted[0]);
    let fired = sweep(&policy, &roster, &state, "2026-11-30T12:00:00+01:00");
    let l1 = fired.iter().find(|step| step["lead"] == "L-1").unwrap();
    assert_eq!(l1["pool"], "backup", "{l1}");
    // `report` with the other policy says its fairness is not held against the pools' members.
    let report = run(&["report", &other, "--state", &state], "");
    assert!(report.status.success());
    let stderr = String::from_utf8_lossy(&report.stderr);
    assert!(
        stderr.contains(
            "has no pool `amer_ae`, `apac_ae`, `backup`, `enterprise`, `sdr`, `senior`, which"
        ) && stderr.contains("Is it the policy that routed the leads?"),
        "{stderr}"
    );
    let report = run(&["report", &policy, "--state", &state], "");
    assert!(
        !String::from_utf8_lossy(&report.stderr).contains("warning"),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
}

#[test]
fn a_lead_without_a_calendar_shows_event_times_as_they_were_written() {
    // L-6 went to a queue, which has no calendar: its event times were shown in UTC
    // (`12:03+01:00` came back as `11:03Z`), and so were the times of its error messages.
    let dir = scratch("written-offset");
    let state = routed_example(&dir);
    let policy = example("routing.route");
    let events = "{\"lead\":\"L-6\",\"event\":\"closed\",\"at\":\"2026-11-23T12:03:00+01:00\"}\n\
                  {\"lead\":\"L-6\",\"event\":\"touched\",\"at\":\"2026-11-23T11:00:00+01:00\",\"by\":\"anna\"}\n";
    let tracked = run(
        &[
            "track",
            &policy,
            "--state",
            &state,
            "--now",
            "2026-11-23T13:00:00Z",
            "--quiet",
        ],
        events,
    );
    let lines = json_lines(&stdout(&tracked));
    assert_eq!(lines[0]["at"], "2026-11-23T12:03:00+01:00", "{}", lines[0]);
    assert_eq!(
        lines[1]["error"]["message"],
        "the event at 2026-11-23T11:00:00+01:00 is before the lead's own time, \
         2026-11-23T12:00:00+01:00"
    );
}

#[test]
fn events_with_a_byte_order_mark_and_crlf_are_read() {
    let dir = scratch("bom");
    let state = routed_example(&dir);
    let policy = example("routing.route");
    let events = "\u{feff}{\"lead\":\"L-1\",\"event\":\"touched\",\"at\":\"2026-11-23T10:05:00+01:00\",\"by\":\"anna\"}\r\n";
    let tracked = json_lines(&ok(&run(
        &["track", &policy, "--state", &state, "--quiet"],
        events,
    )));
    assert_eq!(tracked[0]["sla"], "met");
}

#[test]
fn times_with_an_offset_of_a_day_or_more_are_refused_everywhere() {
    let dir = scratch("offsets");
    let state = routed_example(&dir);
    let policy = example("routing.route");
    for args in [
        vec!["route", &policy, "--state", ":memory:"],
        vec!["sweep", &policy, "--state", &state],
        vec!["report", &policy, "--state", &state],
    ] {
        let mut args = args.clone();
        args.extend(["--now", "2026-11-23T10:00:00+25:00"]);
        let output = run(&args, "");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(
                "--now `2026-11-23T10:00:00+25:00` cannot be read: its offset is a day or more"
            ),
            "{args:?}: {stderr}"
        );
    }
    // report's period takes a time or a date alone: a time's date part is never taken alone.
    for since in [
        "2026-11-23T10:00:00+25:00",
        "2026-11-23T10:00:00",
        "2026-11-23 10:00",
    ] {
        let output = run(
            &["report", &policy, "--state", &state, "--since", since],
            "",
        );
        assert_eq!(output.status.code(), Some(2), "{since}");
        assert!(
            String::from_utf8_lossy(&output.stderr)
                .contains(&format!("--since `{since}` cannot be read")),
            "{since}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let output = run(
        &[
            "report",
            &policy,
            "--state",
            &state,
            "--now",
            "0000-01-01T00:00:00+01:00",
        ],
        "",
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("its year is before 0001"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = run(
        &["track", &policy, "--state", &state, "--quiet"],
        r#"{"lead":"L-1","event":"touched","at":"2026-11-23T10:00:00+25:00","by":"anna"}"#,
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        json_lines(&stdout(&output))[0]["error"]["message"],
        "`at` \"2026-11-23T10:00:00+25:00\" cannot be read: its offset is a day or more (RFC 3339 offsets are at most ±23:59)"
    );
}

#[test]
fn explain_of_an_id_in_a_misspelt_state_says_there_is_no_state() {
    let dir = scratch("explain-typo");
    let _state = routed_example(&dir);
    let typo = dir.join("state.dbb").to_string_lossy().to_string();
    let output = run(
        &[
            "explain",
            &example("routing.route"),
            "--state",
            &typo,
            "--lead",
            "L-1",
        ],
        "",
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("there is no state at `{typo}`")),
        "{stderr}"
    );
    assert!(!Path::new(&typo).exists(), "explain never creates a state");
}

/// `report --format json` as of `now`.
fn report_of(policy: &str, state: &str, now: &str) -> serde_json::Value {
    let text = ok(&run(
        &[
            "report", policy, "--state", state, "--now", now, "--format", "json",
        ],
        "",
    ));
    serde_json::from_str(&text).unwrap()
}

/// `track` with `--state :memory:` keeps nothing: when its output cannot be written, it says
/// the lines not printed are lost (not that a state holds them), in words that fit `track`.
#[test]
fn a_memory_state_that_cannot_print_says_its_lines_are_lost() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return;
    };
    let policy = example("routing.route");
    let events = r#"{"lead":"L-1","event":"touched","at":"2026-11-23T10:05:00+01:00","by":"anna"}"#;
    let output = run_to(
        &["track", &policy, "--state", ":memory:", "--quiet"],
        events,
        full.into(),
    );
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(
        said.contains(
            "cannot write events: No space left on device (os error 28); the state is in memory \
             (`--state :memory:`), so the events not printed are lost: run again"
        ),
        "{said}"
    );
    assert!(!said.contains("state export"), "{said}");
}
