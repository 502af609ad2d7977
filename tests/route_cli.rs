//! `switchboard route` as people and pipelines run it: exit codes, streams, the SQLite state
//! (ledger, duplicates across runs), a run killed with SIGKILL and re-run, and two routers on
//! one state file at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scratch(name: &str) -> PathBuf {
    common::scratch("route", name)
}

/// `switchboard ARGS` in `cwd`, stdin and stdout piped, stderr as given.
fn spawn(args: &[&str], cwd: &Path, stderr: Stdio) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

fn route(args: &[&str], input: &[u8], cwd: &Path) -> Output {
    let mut child = spawn(&[&["route"], args].concat(), cwd, Stdio::piped());
    // Write from another thread while the output is read: pipes hold only 64 KiB.
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let output = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    output
}

fn example(path: &str) -> String {
    root().join(path).to_string_lossy().to_string()
}

fn lines(output: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The README's first command: the example leads, with the embedded default state.
#[test]
fn the_readme_command_routes_the_example_leads() {
    let dir = scratch("readme");
    let leads = std::fs::read(root().join("examples/leads.ndjson")).unwrap();
    let policy = example("examples/routing.route");
    let roster = example("examples/roster.json");
    let args = ["--roster", roster.as_str(), policy.as_str()];
    let first = route(&args, &leads, &dir);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let decisions = lines(&first);
    assert_eq!(
        decisions.len(),
        leads
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count()
    );
    assert!(
        dir.join(".switchboard/state.db").exists(),
        "state created on first use"
    );
    // The example repeats L-1: its second line is the recorded decision, marked duplicate.
    let repeats: Vec<&serde_json::Value> = decisions
        .iter()
        .filter(|d| d["duplicate"] == true)
        .collect();
    assert_eq!(repeats.len(), 1);
    assert_eq!(repeats[0]["lead"], "L-1");
    // A second run on the same state replays every decision and assigns nothing new.
    let second = route(&args, &leads, &dir);
    assert_eq!(second.status.code(), Some(0));
    for (before, after) in decisions.iter().zip(lines(&second)) {
        assert_eq!(after["duplicate"], true);
        assert_eq!(before["rep"], after["rep"]);
    }
}

/// `switchboard ARGS` through `sh`, with standard output redirected as `redirect` says (`>&-`
/// closes it), in `cwd`.
#[cfg(target_os = "linux")]
fn with_stdout(args: &[&str], redirect: &str, cwd: &Path) -> Output {
    let script = format!("exec \"$0\" \"$@\" {redirect}");
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .current_dir(cwd)
        .env_remove("SWITCHBOARD_STATE")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// With standard output closed, `route` records its decisions in the state and prints them
/// nowhere (the program's start-up gives a closed descriptor `/dev/null`, opened to read and
/// write, so no write fails): it says so on stderr, once, unless `--quiet`. So does `sweep`.
/// `/dev/null` opened to read and write by a harness (Python's `subprocess.DEVNULL`, Node's
/// `'ignore'`; here `1<>/dev/null`) looks the same and is warned about too; a shell's
/// `> /dev/null` and a file opened to read and write are not.
#[cfg(target_os = "linux")]
#[test]
fn a_closed_standard_output_is_warned_about_and_the_decisions_are_recorded() {
    let warning = "warning: standard output is closed (or discarded), so the decisions are \
                   recorded in the state and printed nowhere";
    let policy = example("examples/routing.route");
    let roster = example("examples/roster.json");
    let leads = example("examples/leads.ndjson");
    let args = [
        "route",
        policy.as_str(),
        "--roster",
        roster.as_str(),
        "--leads",
        leads.as_str(),
    ];
    let quiet = [&args[..], &["--quiet"]].concat();
    let cases: [(&str, &[&str], &str, bool); 5] = [
        ("closed", &args, ">&-", true),
        ("closed-quiet", &quiet, ">&-", false),
        ("read-write-null", &args, "1<>/dev/null", true),
        ("discarded", &args, "> /dev/null", false),
        ("read-write-file", &args, "1<>decisions.ndjson", false),
    ];
    let mut dirs = BTreeMap::new();
    for (name, args, redirect, warned) in cases {
        let dir = scratch(&format!("stdout-{name}"));
        let output = with_stdout(args, redirect, &dir);
        let said = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{name}: {said}");
        assert_eq!(
            said.matches(warning).count(),
            usize::from(warned),
            "{name}: {said}"
        );
        // Recorded either way: a second run answers every lead as a duplicate.
        let again = with_stdout(&args[..6], "", &dir);
        let decisions = lines(&again);
        assert_eq!(decisions.len(), 15, "{name}");
        assert!(
            decisions
                .iter()
                .all(|decision| decision["duplicate"] == true),
            "{name}"
        );
        dirs.insert(name, dir);
    }
    // The file opened to read and write got the decisions.
    let written = std::fs::read_to_string(dirs["read-write-file"].join("decisions.ndjson"));
    assert_eq!(written.unwrap().lines().count(), 15);
    let sweep = with_stdout(&["sweep", policy.as_str()], ">&-", &dirs["closed"]);
    let said = String::from_utf8_lossy(&sweep.stderr);
    assert_eq!(sweep.status.code(), Some(0), "{said}");
    assert_eq!(said.matches(warning).count(), 1, "{said}");
}

#[test]
fn bad_lines_exit_1_and_every_line_gets_an_answer() {
    let dir = scratch("bad");
    let leads = std::fs::read(root().join("examples/bad-leads.ndjson")).unwrap();
    let policy = example("examples/routing.route");
    let output = route(&[policy.as_str(), "--state", ":memory:"], &leads, &dir);
    assert_eq!(output.status.code(), Some(1));
    let decisions = lines(&output);
    assert_eq!(
        decisions.len(),
        leads.iter().filter(|b| **b == b'\n').count()
    );
    for (index, decision) in decisions.iter().enumerate() {
        assert_eq!(decision["error"]["input_line"], index + 1);
    }
    assert_eq!(decisions[0]["lead"], "L-15");
    assert_eq!(decisions[0]["error"]["code"], "lead.type");
}

/// A policy of one pool `p` over `members`, taking turns by `strategy`, written to
/// `dir/name`: its path.
#[test]
fn limits_of_zero_are_refused_before_any_lead() {
    // 0 would make every lead an error record: the lead object itself is one level deep.
    let dir = scratch("limits-zero");
    for (flag, name) in [("--max-depth", "LEVELS"), ("--max-line-bytes", "BYTES")] {
        let output = route(
            &[
                &example("examples/routing.route"),
                "--state",
                ":memory:",
                flag,
                "0",
            ],
            b"{\"id\":\"L-1\"}\n",
            &dir,
        );
        assert_eq!(output.status.code(), Some(2), "{flag}");
        assert!(output.stdout.is_empty(), "{flag}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!(
                "invalid value '0' for '{flag} <{name}>': 0 would refuse every lead: give 1 or more"
            )),
            "{stderr}"
        );
    }
}

fn one_pool(dir: &Path, name: &str, members: &str, strategy: &str) -> String {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "schema lead {{ id: string }}\npool p {{ members {members}  strategy {strategy} }}\notherwise -> pool p\n"
        ),
    )
    .unwrap();
    path.to_string_lossy().to_string()
}

/// The reps `route POLICY --state STATE` gives leads of these ids, in order.
fn reps_for(
    dir: &Path,
    policy: &str,
    state: &str,
    ids: impl IntoIterator<Item = impl std::fmt::Display>,
) -> Vec<String> {
    let input: String = ids
        .into_iter()
        .map(|id| format!("{{\"id\":\"{id}\"}}\n"))
        .collect();
    let output = route(
        &[policy, "--state", state, "--quiet"],
        input.as_bytes(),
        dir,
    );
    lines(&output)
        .iter()
        .map(|decision| decision["rep"].as_str().unwrap().to_string())
        .collect()
}

/// A round robin goes on from the member after the one chosen last, by name: a policy edit
/// that reorders or removes members between runs on one state neither gives a rep two leads
/// in a row nor skips one.
#[test]
fn a_round_robin_goes_on_by_name_after_members_are_reordered_or_removed() {
    let dir = scratch("rotation-edit");
    let write = |name: &str, members: &str| one_pool(&dir, name, members, "round_robin");
    let first = write("first.route", "anna, boris, chen");
    let reordered = write("reordered.route", "chen, anna, boris");
    let shorter = write("shorter.route", "anna, chen");
    let reps_of = |policy: &str, state: &str, ids: &[&str]| reps_for(&dir, policy, state, ids);
    let state = dir.join("a.db").to_string_lossy().to_string();
    assert_eq!(reps_of(&first, &state, &["1"]), ["anna"]);
    // After anna comes boris, wherever the edit put him.
    assert_eq!(
        reps_of(&reordered, &state, &["2", "3", "4"]),
        ["boris", "chen", "anna"]
    );
    let state = dir.join("b.db").to_string_lossy().to_string();
    assert_eq!(reps_of(&first, &state, &["1", "2"]), ["anna", "boris"]);
    // boris left: chen, who was next, has had no lead yet.
    assert_eq!(reps_of(&shorter, &state, &["3", "4"]), ["chen", "anna"]);
    // The member whose turn it was left and the one served last moved into their place: the
    // rotation goes on after the one served last, never to them twice in a row.
    let four = write("four.route", "anna, boris, chen, dave");
    let regrouped = write("regrouped.route", "chen, anna, dave");
    let state = dir.join("c.db").to_string_lossy().to_string();
    assert_eq!(reps_of(&four, &state, &["1"]), ["anna"]);
    assert_eq!(reps_of(&regrouped, &state, &["2", "3"]), ["dave", "chen"]);
}

/// A weighted pool keeps each member's standing by name: reordering the members between runs
/// on one state does not hand one rep's standing to another (with 3:1, anna took every lead
/// after a reorder).
#[test]
fn a_weighted_pool_keeps_each_members_standing_after_a_reorder() {
    let dir = scratch("weighted-edit");
    let write =
        |name: &str, members: &str| one_pool(&dir, name, members, "weighted(anna=3, boris=1)");
    let first = write("first.route", "anna, boris");
    let reordered = write("reordered.route", "boris, anna");
    let state = dir.join("w.db").to_string_lossy().to_string();
    let reps_of = |policy: &str, ids: std::ops::Range<u32>| {
        reps_for(&dir, policy, &state, ids.map(|id| format!("w{id}")))
    };
    // anna, anna under the first order: boris's standing has grown, so the first lead after
    // the reorder is his (by position, anna took his standing and every lead). Ties go to the
    // first member, now boris.
    let mut all = reps_of(&first, 0..2);
    all.extend(reps_of(&reordered, 2..6));
    assert_eq!(all, ["anna", "anna", "boris", "anna", "anna", "boris"]);
}

#[test]
fn an_id_holding_a_nul_character_is_refused_on_every_store() {
    let dir = scratch("nul");
    let policy = example("examples/routing.route");
    let lead = br#"{"id":"L-\u0000-1","intent":"high","fit":"strong","region":"emea","country":"DE","employees":800,"deal_value":20000,"source":"demo_request","created_at":"2026-11-23T10:00:00+01:00"}"#;
    let mut input = lead.to_vec();
    input.push(b'\n');
    for state in [":memory:", "state.db"] {
        let output = route(&[policy.as_str(), "--state", state], &input, &dir);
        assert_eq!(output.status.code(), Some(1), "{state}");
        let answers = lines(&output);
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0]["error"]["code"], "lead.id", "{state}");
        assert_eq!(answers[0]["lead"], "L-\u{0}-1");
    }
}

#[test]
fn usage_policy_and_roster_errors_exit_2() {
    let dir = scratch("usage");
    let broken = example("tests/fixtures/check/err/unknown_names.route");
    let output = route(&[broken.as_str(), "--state", ":memory:"], b"", &dir);
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(err.contains("unknown field `intnet`"), "{err}");
    assert!(err.contains("has errors"), "{err}");
    assert!(output.stdout.is_empty());

    let policy = example("examples/routing.route");
    std::fs::write(
        dir.join("roster.json"),
        r#"{"reps": {"anna": {"status": "busy"}}}"#,
    )
    .unwrap();
    let output = route(
        &[
            policy.as_str(),
            "--roster",
            "roster.json",
            "--state",
            ":memory:",
        ],
        b"",
        &dir,
    );
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8(output.stderr).unwrap();
    // The problem at its line and column, then why the run stopped.
    assert!(err.contains("[roster.json:1:30]"), "{err}");
    assert!(err.contains("`busy` is not a status"), "{err}");
    assert!(
        err.ends_with("error: roster `roster.json` has 1 error; fix it before routing (`switchboard check POLICY --roster roster.json`)\n"),
        "{err}"
    );
    assert!(output.stdout.is_empty());

    let output = route(&[policy.as_str(), "--now", "tomorrow"], b"", &dir);
    assert_eq!(output.status.code(), Some(2));
    let output = route(&[policy.as_str(), "--leads", "missing.ndjson"], b"", &dir);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("cannot read leads `missing.ndjson`")
    );
}

#[test]
fn explain_adds_a_trace_with_the_rule_path_and_candidates() {
    let dir = scratch("explain");
    let policy = example("examples/routing.route");
    let roster = example("examples/roster.json");
    let lead = br#"{"id":"x","intent":"high","fit":"strong","region":"emea","country":"DE","employees":80,"deal_value":20000,"source":"demo_request","created_at":"2026-11-23T10:00:00+01:00"}
"#;
    let output = route(
        &[
            policy.as_str(),
            "--roster",
            roster.as_str(),
            "--state",
            ":memory:",
            "--explain",
        ],
        lead,
        &dir,
    );
    assert_eq!(output.status.code(), Some(0));
    let decision = &lines(&output)[0];
    let path = decision["trace"]["path"].as_array().unwrap();
    assert!(
        path.iter()
            .any(|step| step["test"] == "intent" && step["value"] == "high")
    );
    let candidates = decision["trace"]["actions"][0]["candidates"]
        .as_array()
        .unwrap();
    let boris = candidates.iter().find(|c| c["rep"] == "boris").unwrap();
    assert_eq!(boris["eligible"], false);
    assert_eq!(boris["why"], "away");
}

/// Many distinct leads for the crash and concurrency tests.
fn many_leads(prefix: &str, count: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..count {
        writeln!(out, "{{\"id\":\"{prefix}{i}\"}}").unwrap();
    }
    out
}

const DESK: &str =
    "schema lead { id: string }\npool desk { members anna, boris, chen }\notherwise -> pool desk\n";

/// Reads the ledger and assignments with the sqlite3 library (through the binary's own store,
/// by routing the same ids again: every one must come back as a duplicate with one rep).
fn assignments(dir: &Path, ids: &[String]) -> BTreeMap<String, String> {
    let input: Vec<u8> = ids
        .iter()
        .flat_map(|id| format!("{{\"id\":\"{id}\"}}\n").into_bytes())
        .collect();
    let output = route(&["policy.route", "--state", "state.db"], &input, dir);
    assert_eq!(output.status.code(), Some(0));
    lines(&output)
        .into_iter()
        .map(|decision| {
            assert_eq!(decision["duplicate"], true, "{decision}");
            (
                decision["lead"].as_str().unwrap().to_string(),
                decision["rep"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_run_killed_with_sigkill_and_run_again_assigns_every_lead_exactly_once() {
    let dir = scratch("kill");
    std::fs::write(dir.join("policy.route"), DESK).unwrap();
    let count = 20_000;
    let leads = many_leads("k", count);
    let mut child = spawn(
        &["route", "policy.route", "--state", "state.db"],
        &dir,
        Stdio::null(),
    );
    let mut stdin = child.stdin.take().unwrap();
    // Feed half the leads from another thread (pipes are small: writing and reading from one
    // thread would deadlock), wait until some decisions are out, then SIGKILL mid-run.
    let half = leads[..leads.len() / 2].to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&half);
        // Keep stdin open: the router must be killed mid-run, not finish.
        std::thread::sleep(std::time::Duration::from_secs(2));
        drop(stdin);
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = vec![0u8; 4096];
    let read = std::io::Read::read(&mut stdout, &mut seen).unwrap();
    assert!(read > 0, "the router made progress before the kill");
    child.kill().unwrap(); // SIGKILL on Unix
    let _ = child.wait();
    drop(stdout);
    let _ = feeder.join();
    // Run again on the whole input: leads decided before the kill come back as duplicates,
    // the rest are decided now.
    let output = route(&["policy.route", "--state", "state.db"], &leads, &dir);
    assert_eq!(output.status.code(), Some(0));
    let decisions = lines(&output);
    assert_eq!(decisions.len(), count);
    let duplicates = decisions.iter().filter(|d| d["duplicate"] == true).count();
    assert!(duplicates > 0, "some leads were committed before the kill");
    let ids: Vec<String> = (0..count).map(|i| format!("k{i}")).collect();
    let ledger = assignments(&dir, &ids);
    assert_eq!(
        ledger.len(),
        count,
        "every lead is in the ledger exactly once"
    );
    // Exactly once: the rotation never skipped or doubled a lead, so the reps stay balanced.
    let mut per_rep: BTreeMap<&str, usize> = BTreeMap::new();
    for rep in ledger.values() {
        *per_rep.entry(rep).or_default() += 1;
    }
    let (min, max) = (
        per_rep.values().min().unwrap(),
        per_rep.values().max().unwrap(),
    );
    assert!(max - min <= 1, "{per_rep:?}");
}

#[test]
fn two_routers_on_one_state_file_never_assign_a_lead_twice() {
    let dir = scratch("concurrent");
    std::fs::write(dir.join("policy.route"), DESK).unwrap();
    let count = 6_000;
    // Both processes get the same leads, in opposite orders.
    let forward = many_leads("c", count);
    let mut backward: Vec<u8> = Vec::new();
    for line in forward
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .rev()
    {
        backward.extend_from_slice(line);
        backward.push(b'\n');
    }
    let spawn = |input: Vec<u8>| {
        let dir = dir.clone();
        std::thread::spawn(move || route(&["policy.route", "--state", "state.db"], &input, &dir))
    };
    let first = spawn(forward);
    let second = spawn(backward);
    let (first, second) = (first.join().unwrap(), second.join().unwrap());
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(
        second.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let mut decided: BTreeMap<String, String> = BTreeMap::new();
    let mut fresh = 0;
    for decision in lines(&first).into_iter().chain(lines(&second)) {
        let lead = decision["lead"].as_str().unwrap().to_string();
        let rep = decision["rep"].as_str().unwrap().to_string();
        if decision["duplicate"] != true {
            fresh += 1;
        }
        // Whichever process saw a lead second got the first one's decision.
        if let Some(previous) = decided.insert(lead.clone(), rep.clone()) {
            assert_eq!(previous, rep, "lead {lead} was given two reps");
        }
    }
    assert_eq!(
        fresh, count,
        "each lead decided exactly once across both processes"
    );
    let ids: Vec<String> = (0..count).map(|i| format!("c{i}")).collect();
    let ledger = assignments(&dir, &ids);
    let reps: BTreeSet<&String> = ledger.values().collect();
    assert_eq!(reps.len(), 3);
    assert_eq!(ledger, decided);
}

/// A state file written by the first release (ledger of JSON decisions, times as text) is
/// converted when opened: its leads are still duplicates, its rotation and loads go on, and a
/// reused id with other content is answered with the recorded decision (no fingerprint then).
#[test]
fn a_version_1_state_file_is_converted_and_keeps_its_ledger() {
    let dir = scratch("v1");
    std::fs::write(dir.join("policy.route"), DESK).unwrap();
    {
        let db = rusqlite::Connection::open(dir.join("state.db")).unwrap();
        db.execute_batch(
            "CREATE TABLE ledger (lead TEXT PRIMARY KEY, decision TEXT NOT NULL,
                 policy_hash TEXT NOT NULL, recorded_at TEXT NOT NULL);
             CREATE TABLE rotations (pool TEXT PRIMARY KEY, state TEXT NOT NULL);
             CREATE TABLE assignments (lead TEXT PRIMARY KEY, rep TEXT NOT NULL, at_ns TEXT NOT NULL);
             CREATE INDEX assignments_by_rep ON assignments (rep, at_ns);
             INSERT INTO ledger VALUES ('old-1',
                 '{\"lead\":\"old-1\",\"rule\":\"#1\",\"line\":3,\"action\":\"pool\",\"pool\":\"desk\",\"rep\":\"anna\"}',
                 '0123456789abcdef', '2026-11-20T09:00:00.000Z');
             INSERT INTO rotations VALUES ('desk', '1');
             INSERT INTO assignments VALUES ('old-1', 'anna', '+00001795165200000000000');",
        )
        .unwrap();
    }
    let output = route(
        &["policy.route", "--state", "state.db"],
        b"{\"id\":\"old-1\"}\n{\"id\":\"new-1\"}\n",
        &dir,
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let decisions = lines(&output);
    assert_eq!(decisions[0]["rep"], "anna");
    assert_eq!(decisions[0]["duplicate"], true);
    // The rotation continues where it stood: `anna` had the last lead, so the next member.
    assert_eq!(decisions[1]["rep"], "boris");
    let version: i64 = rusqlite::Connection::open(dir.join("state.db"))
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 15);
}

/// Another program's SQLite database is not taken for a state: nothing is added to it.
#[test]
fn another_programs_database_is_refused_as_a_state() {
    let dir = scratch("foreign-db");
    let path = dir.join("crm.db");
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection
            .execute_batch("CREATE TABLE customers (id INTEGER)")
            .unwrap();
    }
    for args in [
        vec!["state", "init", "--state", "crm.db"],
        vec![
            "route",
            &example("examples/routing.route"),
            "--state",
            "crm.db",
        ],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(&args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr)
                .contains("another program's SQLite database (it has a table `customers`"),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let connection = rusqlite::Connection::open(&path).unwrap();
    let tables: i64 = connection
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(tables, 1, "nothing was added to it");
}

#[test]
fn a_state_path_that_is_a_folder_is_said_as_such() {
    let dir = scratch("state-folder");
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["state", "init", "--state", "."])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("it is a folder; name a file in it"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// An export cut short at the end of a line (a full disk, a copy stopped) would read as a smaller
/// state, missing assignments and so loads and caps: its last line counts the rows, and an
/// import of a file without it, with rows removed or with a line after it, is refused whole.
#[test]
fn an_export_cut_short_is_refused_whole() {
    let dir = scratch("export-cut");
    let switchboard = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    let routed = switchboard(&[
        "route",
        &example("examples/routing.route"),
        "--roster",
        &example("examples/roster.json"),
        "--state",
        "from.db",
        "--leads",
        &example("examples/leads.ndjson"),
        "--quiet",
    ]);
    assert!(
        routed.status.success(),
        "{}",
        String::from_utf8_lossy(&routed.stderr)
    );
    let export = switchboard(&["state", "export", "--state", "from.db"]);
    let export = String::from_utf8(export.stdout).unwrap();
    let lines: Vec<&str> = export.lines().collect();
    let rows = lines.len() - 2;
    assert_eq!(
        lines.last().copied(),
        Some(format!("{{\"switchboard_state_end\":{{\"rows\":{rows}}}}}").as_str())
    );
    let cases = [
        (
            "cut",
            lines[..30].join("\n"),
            "ends after 29 rows without the last line `state export` writes",
        ),
        (
            "fewer",
            lines
                .iter()
                .filter(|line| !line.contains("\"kind\":\"due\""))
                .copied()
                .collect::<Vec<_>>()
                .join("\n"),
            "ends with a count of",
        ),
        (
            "after",
            format!("{export}{}\n", lines[1]),
            &format!(
                "line {}: a line after the export's last line (line {})",
                lines.len() + 1,
                lines.len()
            ),
        ),
    ];
    for (name, text, said) in cases {
        std::fs::write(dir.join(format!("{name}.ndjson")), text).unwrap();
        let state = format!("{name}.db");
        let imported = switchboard(&[
            "state",
            "import",
            &format!("{name}.ndjson"),
            "--state",
            &state,
        ]);
        assert_eq!(imported.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&imported.stderr);
        assert!(
            stderr.contains("nothing was imported") && stderr.contains(said),
            "{name}: {stderr}"
        );
        // The file the import made is gone: an empty state left behind would route every
        // lead afresh.
        assert!(stderr.contains("the new file removed"), "{name}: {stderr}");
        assert!(!dir.join(&state).exists(), "{name}");
        let again = switchboard(&["state", "export", "--state", &state]);
        assert!(
            String::from_utf8_lossy(&again.stderr).contains("there is no state at"),
            "{name}: {}",
            String::from_utf8_lossy(&again.stderr)
        );
    }
    // A failed import into a state that was there keeps it as it was.
    std::fs::copy(dir.join("from.db"), dir.join("kept.db")).unwrap();
    let imported = switchboard(&["state", "import", "cut.ndjson", "--state", "kept.db"]);
    assert_eq!(imported.status.code(), Some(2));
    assert!(dir.join("kept.db").exists());
    // An export written over the state it reads is refused before anything is written.
    std::fs::hard_link(dir.join("from.db"), dir.join("linked.db")).unwrap();
    for output in ["from.db", "./from.db", "from.db-wal", "linked.db"] {
        let refused = switchboard(&["state", "export", "--state", "from.db", "-o", output]);
        assert_eq!(refused.status.code(), Some(2), "{output}");
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("is the state being exported"),
            "{output}: {}",
            String::from_utf8_lossy(&refused.stderr)
        );
    }
    let still = switchboard(&["state", "export", "--state", "from.db"]);
    assert_eq!(String::from_utf8(still.stdout).unwrap(), export);
    std::fs::write(dir.join("whole.ndjson"), &export).unwrap();
    let imported = switchboard(&["state", "import", "whole.ndjson", "--state", "whole.db"]);
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let again = switchboard(&["state", "export", "--state", "whole.db"]);
    assert_eq!(
        String::from_utf8(again.stdout)
            .unwrap()
            .replace("\"from\":\"sqlite\"", ""),
        export.replace("\"from\":\"sqlite\"", "")
    );
}

/// Imports the state export `fixture/state-export.ndjson` into a new SQLite state in `dir`;
/// answers the state's path.
fn import_fixture(fixture: &Path, dir: &Path) -> String {
    let state = dir.join("state.db").to_string_lossy().to_string();
    let imported = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["state", "import", "--state", &state, "state-export.ndjson"])
        .current_dir(fixture)
        .output()
        .unwrap();
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    state
}

/// `route ARGS` on `leads`, which must exit 0: its output lines.
fn routed_cleanly(args: &[&str], leads: &str, cwd: &Path) -> Vec<serde_json::Value> {
    let output = route(args, leads.as_bytes(), cwd);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    lines(&output)
}

/// Builds before 2026-12-05 read a blank string in an optional field (`"contact_owner":""`)
/// as a value, and fingerprinted it so; this one reads it as no value. `tests/fixtures/
/// blank-before/` holds the export of a state the build before (d44032c) routed that folder's
/// leads into: imported, the same lines sent again are duplicates with their recorded
/// decisions, not id conflicts; a line with the blank changed to a value is still a conflict.
#[test]
fn leads_recorded_with_blank_fields_before_are_duplicates_when_sent_again() {
    let fixture = root().join("tests/fixtures/blank-before");
    let dir = scratch("blank-before");
    let state = import_fixture(&fixture, &dir);
    let policy = example("examples/routing.route");
    let roster = example("examples/roster.json");
    let args = [
        policy.as_str(),
        "--roster",
        roster.as_str(),
        "--state",
        &state,
        "--now",
        "2026-11-24T10:00:00Z",
    ];
    let leads = std::fs::read_to_string(fixture.join("leads.ndjson")).unwrap();
    let decisions = routed_cleanly(&args, &leads, &fixture);
    assert_eq!(decisions.len(), 3);
    let recorded = ["dmitri", "anna", "chen"];
    for (decision, rep) in decisions.iter().zip(recorded) {
        assert_eq!(decision["duplicate"], true, "{decision}");
        assert_eq!(decision["rep"], rep, "{decision}");
    }
    let changed = leads.replacen("\"contact_owner\":\"\"", "\"contact_owner\":\"anna\"", 1);
    let conflict = route(&args, changed.lines().next().unwrap().as_bytes(), &fixture);
    assert_eq!(lines(&conflict)[0]["error"]["code"], "lead.id_conflict");
}

/// A ledger recorded before lead fingerprints of the second kind (eight bytes a step) still
/// tells a lead sent again from another lead given its id. `tests/fixtures/legacy/` holds the
/// export of a state that the build before them (e3abaf1) routed that folder's leads into: imported
/// into a new state, every lead sent again is a duplicate with its recorded rep, and a lead with
/// a recorded id and one field changed (an enum, a string, a number, a time) is an id conflict,
/// for `route` and for `explain`.
#[test]
fn a_ledger_of_legacy_fingerprints_still_tells_leads_apart() {
    let fixture = root().join("tests/fixtures/legacy");
    let dir = scratch("legacy-fingerprints");
    let state = import_fixture(&fixture, &dir);
    let export = std::fs::read_to_string(fixture.join("state-export.ndjson")).unwrap();
    let recorded: BTreeMap<String, serde_json::Value> = export
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|row| row["kind"] == "ledger")
        .map(|row| {
            (
                row["lead"].as_str().unwrap().to_string(),
                row["decision"].clone(),
            )
        })
        .collect();
    assert_eq!(recorded.len(), 14);
    let args = [
        "policy.route",
        "--roster",
        "roster.json",
        "--state",
        &state,
        "--now",
        "2026-11-30T10:00:00Z",
    ];
    let leads = std::fs::read_to_string(fixture.join("leads.ndjson")).unwrap();
    let decisions = routed_cleanly(&args, &leads, &fixture);
    assert_eq!(decisions.len(), 15);
    for decision in &decisions {
        let lead = decision["lead"].as_str().unwrap();
        assert_eq!(decision["duplicate"], true, "{decision}");
        assert_eq!(decision["rep"], recorded[lead]["rep"], "{decision}");
        assert_eq!(decision["rule"], recorded[lead]["rule"], "{decision}");
    }
    // One field changed each: the same ids, other leads.
    let changed: Vec<String> = leads
        .lines()
        .filter_map(|line| {
            let (from, to) = match serde_json::from_str::<serde_json::Value>(line).unwrap()["id"]
                .as_str()
                .unwrap()
            {
                "L-2" => ("\"country\":\"FR\"", "\"country\":\"ES\""),
                "L-5" => ("\"intent\":\"medium\"", "\"intent\":\"low\""),
                "L-7" => ("\"employees\":5000", "\"employees\":5001"),
                "L-9" => ("T10:00:00+08:00", "T10:01:00+08:00"),
                _ => return None,
            };
            assert!(line.contains(from), "{line}");
            Some(line.replacen(from, to, 1))
        })
        .collect();
    assert_eq!(changed.len(), 4);
    let conflicts = route(&args, changed.join("\n").as_bytes(), &fixture);
    assert_eq!(conflicts.status.code(), Some(1));
    assert_eq!(lines(&conflicts).len(), changed.len());
    for (line, answer) in changed.iter().zip(lines(&conflicts)) {
        assert_eq!(
            answer["error"]["code"], "lead.id_conflict",
            "{line}: {answer}"
        );
    }
    let explain = |lead: &str| {
        Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args([
                "explain",
                "policy.route",
                "--roster",
                "roster.json",
                "--state",
                &state,
            ])
            .args(["--lead", lead])
            .current_dir(&fixture)
            .output()
            .unwrap()
    };
    let same = explain(leads.lines().nth(1).unwrap());
    let shown = String::from_utf8_lossy(&same.stdout);
    assert!(
        same.status.success(),
        "{}",
        String::from_utf8_lossy(&same.stderr)
    );
    assert!(
        shown.contains("recorded decision, made at 2026-11-23T10:00:00Z"),
        "{shown}"
    );
    assert!(shown.contains("decision: pool senior, rep chen"), "{shown}");
    for line in &changed {
        let other = explain(line);
        let refused = String::from_utf8_lossy(&other.stderr);
        assert_eq!(other.status.code(), Some(2), "{refused}");
        assert!(
            refused.contains("holds another lead under the id"),
            "{refused}"
        );
    }
}

/// A state written by a newer Switchboard is refused, not changed.
#[test]
fn a_state_file_from_a_newer_version_is_refused() {
    let dir = scratch("newer");
    std::fs::write(dir.join("policy.route"), DESK).unwrap();
    rusqlite::Connection::open(dir.join("state.db"))
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    let output = route(
        &["policy.route", "--state", "state.db"],
        b"{\"id\":\"x\"}\n",
        &dir,
    );
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("written by a newer Switchboard (tables version 99"),
        "{err}"
    );
}

/// A PostgreSQL state that cannot be reached: the error names the host, port and database, never
/// the password, and nothing is routed; a scheme Switchboard does not know is refused at once.
#[test]
fn an_unreachable_postgres_state_is_named_without_its_password() {
    let dir = scratch("postgres-away");
    std::fs::write(dir.join("policy.route"), DESK).unwrap();
    // Routes a lead into `state`: a usage error (exit 2), nothing routed; its stderr.
    let refused = |state: &str| {
        let output = route(
            &["policy.route", "--state", state],
            b"{\"id\":\"x\"}\n",
            &dir,
        );
        assert_eq!(output.status.code(), Some(2));
        assert!(output.stdout.is_empty());
        String::from_utf8_lossy(&output.stderr).to_string()
    };
    // Port 1 on localhost: refused at once, retried for a few seconds, then reported.
    let err = refused("postgres://router:s3cret-pass@127.0.0.1:1/routing");
    assert!(
        err.contains("cannot connect to PostgreSQL at 127.0.0.1:1/routing"),
        "{err}"
    );
    assert!(
        err.contains("postgres://router:***@127.0.0.1:1/routing"),
        "{err}"
    );
    assert!(!err.contains("s3cret-pass"), "{err}");
    // The password as a parameter of the query, where the driver reads it too.
    let err =
        refused("postgres://router@127.0.0.1:1/routing?password=s3cret-pass&connect_timeout=2");
    assert!(err.contains("?password=***&connect_timeout=2"), "{err}");
    assert!(!err.contains("s3cret-pass"), "{err}");
    // An `@` left in the password would make the rest of it the host: refused, unshown.
    let err = refused("postgres://router:s3cret@pass@127.0.0.1:1/routing");
    assert!(
        err.contains("write an `@` in the user name, the password or a parameter as `%40`"),
        "{err}"
    );
    assert!(!err.contains("s3cret") && !err.contains("pass@"), "{err}");
    // A part of the URL the driver cannot read is named.
    let err = refused("postgres://router@127.0.0.1:1/routing?sslmode=bogus");
    assert!(err.contains("invalid value for option `sslmode`"), "{err}");
    // `--help` never shows the value of SWITCHBOARD_STATE.
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["route", "--help"])
        .env(
            "SWITCHBOARD_STATE",
            "postgres://router:s3cret-pass@db/routing",
        )
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("SWITCHBOARD_STATE"), "{help}");
    assert!(!help.contains("s3cret-pass"), "{help}");
    let err = refused("mysql://router@db/routing");
    assert!(!dir.join("mysql:").exists());
    assert!(
        err.contains("`mysql://` is not a state Switchboard knows"),
        "{err}"
    );
}

/// Lines of every kind a run meets: leads, repeats, an id reused for another lead, broken
/// JSON, a line over the limit, a blank line, a lead of the wrong shape, and a last line
/// without its newline.
fn mixed_input(count: usize) -> Vec<u8> {
    let mut input = Vec::new();
    for i in 0..count {
        match i % 7 {
            // A repeat of an earlier lead, or its id with another intent.
            0 if i % 14 == 0 && i > 0 => {
                writeln!(input, "{{\"id\":\"L-{}\",\"intent\":\"high\"}}", i - 6).unwrap()
            }
            0 => writeln!(
                input,
                "{{\"id\":\"L-{}\",\"intent\":\"low\"}}",
                i.max(1) - 1
            )
            .unwrap(),
            1 => writeln!(
                input,
                "{{\"id\":\"L-{i}\",\"intent\":\"low\",\"noise\":[1,2,{{\"x\":\"y\"}}]}}"
            )
            .unwrap(),
            2 => writeln!(input, "{{\"id\":\"L-{i}\"").unwrap(),
            3 => writeln!(
                input,
                "{{\"id\":\"L-{i}\",\"pad\":\"{}\"}}",
                "x".repeat(300)
            )
            .unwrap(),
            4 => writeln!(input).unwrap(),
            5 => writeln!(input, "[\"L-{i}\"]").unwrap(),
            _ => writeln!(input, "{{\"id\":\"L-{i}\",\"intent\":\"low\"}}").unwrap(),
        }
    }
    input.extend_from_slice(b"{\"id\":\"last\",\"intent\":\"low\"}");
    input
}

/// `--threads 2` reads and parses on a second thread: the output, the exit code and the
/// summary are those of one thread, line for line, from a pipe and from a file, in memory and
/// with the SQLite state (where batches are larger).
#[test]
fn two_threads_answer_exactly_what_one_thread_does() {
    let dir = scratch("threads");
    std::fs::write(
        dir.join("policy.route"),
        "schema lead { id: string  intent: enum { low, high } }\n\
         pool desk { members anna, boris, chen }\n\
         queue nurture\n\
         when intent = high -> pool desk\n\
         otherwise -> queue nurture\n",
    )
    .unwrap();
    let input = mixed_input(5_000);
    std::fs::write(dir.join("leads.ndjson"), &input).unwrap();
    let mut runs = Vec::new();
    for threads in ["1", "2"] {
        for (state, from_file) in [(":memory:", false), (":memory:", true), ("s.db", true)] {
            let _ = std::fs::remove_file(dir.join("s.db"));
            let mut args = vec![
                "policy.route",
                "--state",
                state,
                "--max-line-bytes",
                "200",
                "--threads",
                threads,
                "--now",
                "2026-11-23T10:00:00Z",
            ];
            if from_file {
                args.extend(["--leads", "leads.ndjson"]);
            }
            let output = route(&args, if from_file { b"" } else { &input }, &dir);
            assert_eq!(output.status.code(), Some(1), "bad lines make exit 1");
            let stderr = String::from_utf8_lossy(&output.stderr).to_string();
            let summary = stderr.lines().last().unwrap_or_default().to_string();
            runs.push(((state, from_file), threads, output.stdout, summary));
        }
    }
    let (one, two) = runs.split_at(3);
    for ((key, _, stdout_one, summary_one), (_, _, stdout_two, summary_two)) in one.iter().zip(two)
    {
        assert_eq!(
            String::from_utf8_lossy(stdout_one),
            String::from_utf8_lossy(stdout_two),
            "{key:?}"
        );
        assert_eq!(summary_one, summary_two, "{key:?}");
        assert_eq!(stdout_one.iter().filter(|b| **b == b'\n').count(), 5_001);
    }
    // The same decisions from every store and source.
    assert_eq!(one[0].2, one[1].2);
    assert_eq!(one[1].2, one[2].2);
    assert!(
        one[0].3.contains("5001 lines") && one[0].3.contains("duplicates"),
        "{}",
        one[0].3
    );
    let text = String::from_utf8_lossy(&one[0].2).to_string();
    for code in [
        "lead.too_long",
        "lead.json",
        "lead.object",
        "lead.id_conflict",
    ] {
        assert!(text.contains(code), "no {code} in the answers");
    }
}

/// Output that cannot be written stops the run and says so once, with one thread and with two:
/// stdout closed after the first line (`route … | head -1`), and stdout on a full device.
/// Nothing panics, and the exit code is 2.
#[test]
fn output_that_cannot_be_written_stops_the_run_once_on_any_thread() {
    use std::io::BufRead;
    let dir = scratch("unwritable");
    std::fs::write(dir.join("policy.route"), DESK).unwrap();
    let leads: String = (0..20_000)
        .map(|n| format!("{{\"id\":\"W-{n}\"}}\n"))
        .collect();
    std::fs::write(dir.join("leads.ndjson"), leads).unwrap();
    let args = |threads| {
        [
            "route",
            "policy.route",
            "--state",
            ":memory:",
            "--leads",
            "leads.ndjson",
            "--threads",
            threads,
            "--quiet",
        ]
    };
    for threads in ["1", "2"] {
        let mut child = spawn(&args(threads), &dir, Stdio::piped());
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        assert!(first.contains("\"lead\":\"W-0\""), "{first}");
        drop(stdout);
        let output = child.wait_with_output().unwrap();
        let said = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{threads} threads: {said}");
        assert_eq!(
            said.matches("cannot write decisions").count(),
            1,
            "{threads} threads: {said}"
        );
        // `:memory:` keeps nothing: the message says the lines not printed are lost, and
        // points at no state to export them from.
        assert!(
            said.contains(
                "the state is in memory (`--state :memory:`), so the decisions not printed are lost"
            ),
            "{threads} threads: {said}"
        );
        assert!(!said.contains("state export"), "{threads} threads: {said}");
        assert!(!said.contains("panicked"), "{said}");
    }
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return;
    };
    for threads in ["1", "2"] {
        let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(args(threads))
            .current_dir(&dir)
            .stdout(full.try_clone().unwrap())
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{threads} threads: {said}");
        assert_eq!(
            said.matches("cannot write decisions: No space left on device")
                .count(),
            1,
            "{threads} threads: {said}"
        );
    }
}

/// A lead that has arrived is answered while the producer is still writing: a batch ends at
/// the first line that is not here yet, with one thread or two, from stdin and from a named
/// pipe given as `--leads`.
#[test]
fn a_lead_is_answered_before_the_input_ends() {
    use std::io::BufRead;
    let dir = scratch("prompt");
    std::fs::write(dir.join("policy.route"), DESK).unwrap();
    let made_fifo = Command::new("mkfifo")
        .arg(dir.join("leads.fifo"))
        .status()
        .is_ok_and(|status| status.success());
    let sources: &[&str] = if made_fifo {
        &["stdin", "fifo"]
    } else {
        &["stdin"]
    };
    for threads in ["1", "2"] {
        for &source in sources {
            let mut args = vec![
                "route",
                "policy.route",
                "--state",
                ":memory:",
                "--threads",
                threads,
            ];
            if source == "fifo" {
                args.extend(["--leads", "leads.fifo"]);
            }
            let mut child = spawn(&args, &dir, Stdio::null());
            let mut input: Box<dyn Write> = if source == "fifo" {
                drop(child.stdin.take());
                // Opening the write end waits until route has opened the read end.
                let fifo = std::fs::OpenOptions::new()
                    .write(true)
                    .open(dir.join("leads.fifo"))
                    .unwrap();
                Box::new(fifo)
            } else {
                Box::new(child.stdin.take().unwrap())
            };
            let stdout = child.stdout.take().unwrap();
            let (sender, receiver) = std::sync::mpsc::channel();
            let reading = std::thread::spawn(move || {
                for line in std::io::BufReader::new(stdout).lines() {
                    let _ = sender.send(line.unwrap());
                }
            });
            for n in 0..3 {
                writeln!(input, "{{\"id\":\"P-{n}\"}}").unwrap();
                input.flush().unwrap();
                let answer = receiver
                    .recv_timeout(std::time::Duration::from_secs(30))
                    .unwrap_or_else(|_| {
                        panic!(
                            "no answer to lead {n} from {source} with {threads} threads while \
                             the input is open"
                        )
                    });
                assert!(answer.contains(&format!("\"P-{n}\"")), "{answer}");
            }
            drop(input);
            assert!(child.wait().unwrap().success());
            reading.join().unwrap();
        }
    }
}

#[test]
fn a_broken_first_json_line_is_an_error_record_not_taken_for_csv() {
    let dir = scratch("broken-first");
    let leads = std::fs::read_to_string(example("examples/leads.ndjson")).unwrap();
    // Cut one byte off the front, as a file resumed one byte late would be.
    let output = route(
        &[
            &example("examples/routing.route"),
            "--state",
            ":memory:",
            "--now",
            "2026-11-23T10:00:00Z",
            "--quiet",
        ],
        &leads.as_bytes()[1..],
        &dir,
    );
    assert_eq!(output.status.code(), Some(1));
    let out = lines(&output);
    assert_eq!(out.len(), leads.lines().count());
    assert_eq!(out[0]["error"]["code"], "lead.json");
    // An id that is null or no scalar is no id: `lead` is null, as for an absent one.
    for line in [
        r#"{"id":null,"intent":"low"}"#,
        r#"{"id":true}"#,
        r#"{"id":[1]}"#,
    ] {
        let output = route(
            &[
                &example("examples/routing.route"),
                "--state",
                ":memory:",
                "--quiet",
            ],
            line.as_bytes(),
            &dir,
        );
        assert_eq!(lines(&output)[0]["lead"], serde_json::Value::Null, "{line}");
    }
}

/// A mistyped PostgreSQL URL is refused, never taken for a file path (which would route into a
/// SQLite file under a folder named after the host, the password in its name).
#[test]
fn a_mistyped_postgres_url_is_refused_and_its_password_never_shown() {
    let dir = scratch("mistyped-url");
    for state in [
        "postgres:/sb:secret@127.0.0.1:54777/sb1",
        "postgresql:sb:secret@host/db",
        "postgres//sb:secret@host/db",
        " postgres://sb:secret@host/db",
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args([
                "route",
                &example("examples/routing.route"),
                "--state",
                state,
            ])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{state}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("secret"), "{state}: {stderr}");
        assert!(
            std::fs::read_dir(&dir).unwrap().next().is_none(),
            "{state}: nothing is created"
        );
    }
    // A URL given where a file belongs is shown without its password too.
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "state",
            "import",
            "postgres://sb:secret@127.0.0.1:1/db",
            "--state",
            "x.db",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&output.stderr).contains("secret"));
}

/// A server that takes the connection and never answers (a proxy before a stopped database)
/// does not hold the command for ever: it says so within the connect limit.
#[cfg(feature = "postgres")]
#[test]
fn a_database_that_never_answers_is_given_up_with_a_message() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || {
        // Accept and hold, answering nothing.
        let held: Vec<_> = listener.incoming().take(1).collect();
        std::thread::sleep(std::time::Duration::from_secs(30));
        drop(held);
    });
    let dir = scratch("black-hole");
    let started = std::time::Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "state",
            "init",
            "--state",
            &format!("postgres://sb:secret@127.0.0.1:{port}/db"),
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("did not answer within 10 s"), "{stderr}");
    assert!(!stderr.contains("secret"), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(25));
    drop(holder);
}
