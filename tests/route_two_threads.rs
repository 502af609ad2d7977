//! `route` with a SQLite state decides each batch while the one before is committed on a
//! thread of its own (`--threads 2`): the same leads must give the same lines, byte for byte,
//! and leave the same state as deciding and committing on one thread (`--threads 1`), on a
//! fresh state and again on a state that knows some of the leads. The leads fill several
//! batches of 4,096 and carry what sends a batch back to the store's own connection: a rep's
//! count not kept in memory yet, a lead sent again (taken for new, found recorded at commit),
//! `previous rep of`, malformed lines and reused ids. And what only two threads can get wrong:
//! a run killed mid-file, stdout closed early, another router writing mid-run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

#[path = "common/two_threads.rs"]
mod two_threads;

mod common;

use std::path::PathBuf;
use std::process::Command;
use two_threads::{POOLS, export, lead, returning, routed_alike, same_on_one_thread_and_two};

fn scratch(name: &str) -> PathBuf {
    common::scratch("two-threads", name)
}

/// A folder of its own with a policy, a file of `count` leads `{prefix}-0` on (all at one
/// time), and where the state goes.
struct Desk {
    policy: PathBuf,
    leads: PathBuf,
    state: PathBuf,
}

fn desk(name: &str, policy: &str, prefix: &str, count: usize) -> Desk {
    let dir = scratch(name);
    let desk = Desk {
        policy: dir.join("desk.route"),
        leads: dir.join("leads.ndjson"),
        state: dir.join("state.db"),
    };
    std::fs::write(&desk.policy, policy).unwrap();
    let text: String = (0..count)
        .map(|n| format!("{{\"id\":\"{prefix}-{n}\",\"created_at\":\"2026-11-23T10:00:00Z\"}}\n"))
        .collect();
    std::fs::write(&desk.leads, text).unwrap();
    desk
}

impl Desk {
    /// `route --threads 2 --quiet` on the desk's state, from its file of leads or from stdin,
    /// every stream piped.
    fn spawn(&self, from_file: bool) -> std::process::Child {
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        command
            .arg("route")
            .arg(&self.policy)
            .arg("--state")
            .arg(&self.state)
            .args(["--threads", "2", "--quiet"])
            .env_remove("SWITCHBOARD_STATE")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if from_file {
            command.arg("--leads").arg(&self.leads);
        }
        command.spawn().unwrap()
    }
}

#[test]
fn pools_caps_and_escalations_route_the_same_on_two_threads() {
    let dir = scratch("pools");
    let (one, two) = (dir.join("one.db"), dir.join("two.db"));
    same_on_one_thread_and_two(&dir, POOLS, &one.to_string_lossy(), &two.to_string_lossy());
}

/// Ids in no order (as UUIDs come) make a SQLite state's batches grow, from 4,096 lines to
/// 8,192 and 16,384, so that each commit writes the ledger's pages fewer times. The lines and
/// the state are the same on one thread and on two, and every lead is decided once: the load's
/// repeats come back as duplicates, its reused ids as conflicts.
#[test]
fn ids_in_no_order_route_the_same_on_two_threads() {
    let dir = scratch("no-order");
    let policy = dir.join("policy.route");
    std::fs::write(&policy, POOLS).unwrap();
    let leads = dir.join("leads.ndjson");
    // The load's ids mapped one to one onto numbers in no order, all of one length (a step
    // of 45,007 of 100,003 goes down about half the time: the batches grow).
    let text: String = (0..30_000)
        .map(|n| {
            let line = lead(n);
            let id: usize = line
                .split("\"T-")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .and_then(|digits| digits.parse().ok())
                .unwrap();
            line.replacen(
                &format!("\"T-{id}"),
                &format!("\"T-{:06}", id * 45_007 % 100_003),
                1,
            ) + "\n"
        })
        .collect();
    std::fs::write(&leads, text).unwrap();
    let (one, two) = (dir.join("one.db"), dir.join("two.db"));
    let (one, two) = (one.to_string_lossy(), two.to_string_lossy());
    let lines_two = routed_alike(&policy, &leads, &one, &two);
    assert_eq!(lines_two.lines().count(), 30_000);
    // Every 97th line is a lead sent again, every 331st an id used again for another lead.
    let count = |what: &str| lines_two.lines().filter(|line| line.contains(what)).count();
    assert!(
        count("\"duplicate\":true") >= 300,
        "{}",
        count("\"duplicate\":true")
    );
    assert!(
        count("lead.id_conflict") >= 80,
        "{}",
        count("lead.id_conflict")
    );
}

#[test]
fn previous_rep_of_routes_the_same_on_two_threads() {
    let dir = scratch("returning");
    let (one, two) = (dir.join("one.db"), dir.join("two.db"));
    let (one, two) = (one.to_string_lossy(), two.to_string_lossy());
    same_on_one_thread_and_two(&dir, &returning(), &one, &two);
}

/// Killed (SIGKILL) while batches are decided, committed and printed on separate threads:
/// every line printed before the kill is in the state (sent again, the lead comes back as a
/// duplicate with the same rep), and the run again assigns every lead exactly once, evenly.
#[test]
fn a_run_on_two_threads_killed_mid_file_keeps_every_printed_line() {
    use std::io::BufRead;
    let count = 50_000;
    let desk = desk(
        "killed",
        "schema lead { id: string  created_at: time }\n\
         pool desk { members a1, a2, a3  strategy round_robin }\n\
         pool backup { members b1, b2  strategy round_robin }\n\
         otherwise -> pool desk within 15m escalate backup after 30m\n",
        "K",
        count,
    );
    let mut child = desk.spawn(true);
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut printed: Vec<serde_json::Value> = Vec::new();
    let mut line = String::new();
    // Past the first batch, which the store commits itself: the next ones are handed over.
    while printed.len() < 9_000 && stdout.read_line(&mut line).unwrap() > 0 {
        printed.push(serde_json::from_str(&line).unwrap());
        line.clear();
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // What was in the pipe when it was killed was printed too.
    while stdout.read_line(&mut line).unwrap_or(0) > 0 {
        if let Ok(decision) = serde_json::from_str(&line) {
            printed.push(decision);
        }
        line.clear();
    }
    assert!(
        printed.len() >= 9_000 && printed.len() < count,
        "killed mid-file: {} lines printed",
        printed.len()
    );
    let again = desk.spawn(true).wait_with_output().unwrap();
    assert!(again.status.success(), "{again:?}");
    let decisions: Vec<serde_json::Value> = String::from_utf8(again.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(decisions.len(), count);
    for before in &printed {
        let index: usize = before["lead"].as_str().unwrap()[2..].parse().unwrap();
        let after = &decisions[index];
        assert_eq!(
            after["duplicate"], true,
            "{before} was printed, so recorded"
        );
        assert_eq!(after["rep"], before["rep"], "{before}");
    }
    // Each lead once in the state, and the rotation never skipped or doubled one.
    let mut per_rep = std::collections::BTreeMap::<String, usize>::new();
    for decision in &decisions {
        *per_rep
            .entry(decision["rep"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let (least, most) = (
        per_rep.values().min().copied().unwrap_or(0),
        per_rep.values().max().copied().unwrap_or(0),
    );
    assert!(most - least <= 1, "round robin even: {per_rep:?}");
    let rows = export(&desk.state.to_string_lossy());
    let assigned: std::collections::BTreeSet<&str> = rows
        .lines()
        .filter(|row| row.contains("\"kind\":\"assignment\""))
        .map(|row| {
            row.split("\"lead\":\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(
        rows.matches("\"kind\":\"assignment\"").count(),
        count,
        "one assignment a lead"
    );
    assert_eq!(assigned.len(), count);
}

/// Stdout closed early (`route … | head -1`): the run stops with the reason, and no batch
/// after the one whose lines could not be written is committed (nothing recorded that was
/// never going to be printed, beyond that one batch).
#[test]
fn a_closed_stdout_stops_the_run_and_commits_nothing_after_it() {
    use std::io::BufRead;
    let desk = desk(
        "closed",
        "schema lead { id: string  created_at: time }\n\
         pool desk { members a1, a2, a3  strategy round_robin }\n\
         otherwise -> pool desk within 15m\n",
        "C",
        50_000,
    );
    let mut child = desk.spawn(true);
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.contains("\"lead\":\"C-0\""), "{first}");
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("cannot write decisions"), "{said}");
    // A state that keeps the decisions says where they are.
    assert!(said.contains("state export --ledger"), "{said}");
    let recorded = export(&desk.state.to_string_lossy())
        .matches("\"kind\":\"ledger\"")
        .count();
    assert!(
        recorded <= 4096,
        "{recorded} leads recorded: more than the batch whose lines could not be written"
    );
}

/// Another router writes to the state while a run on two threads is under way (one lead at a
/// time, as `serve` or a second `route` would): the run's batches decided on what it kept in
/// memory are refused when their commit finds the other's writes, and decided again. Every
/// lead of both is assigned exactly once, and the rotation they share stays even.
#[test]
fn another_router_writing_mid_run_leaves_every_lead_assigned_once() {
    use std::io::Write;
    let count = 40_000;
    let desk = desk(
        "contended",
        "schema lead { id: string  created_at: time }\n\
         pool desk { members a1, a2, a3, a4, a5  strategy round_robin }\n\
         otherwise -> pool desk within 15m\n",
        "R",
        count,
    );
    // The state exists before both start, so that neither waits on the other's creation.
    let mut first = desk.spawn(false);
    first
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"id\":\"S-0\",\"created_at\":\"2026-11-23T10:00:00Z\"}\n")
        .unwrap();
    assert!(first.wait_with_output().unwrap().status.success());
    let mut run = desk.spawn(true);
    let mut stdout = run.stdout.take().unwrap();
    let reading = std::thread::spawn(move || {
        let mut lines = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut lines).unwrap();
        lines
    });
    // One lead at a time from other processes until the run has printed everything.
    let mut others = 0;
    while others < 3 || !reading.is_finished() {
        others += 1;
        let mut other = desk.spawn(false);
        let line = format!("{{\"id\":\"S-{others}\",\"created_at\":\"2026-11-23T10:00:00Z\"}}\n");
        other
            .stdin
            .take()
            .unwrap()
            .write_all(line.as_bytes())
            .unwrap();
        let answer = other.wait_with_output().unwrap();
        assert!(answer.status.success(), "{answer:?}");
        assert!(String::from_utf8_lossy(&answer.stdout).contains("\"rep\":"));
    }
    let lines = reading.join().unwrap();
    assert!(run.wait().unwrap().success());
    assert_eq!(lines.lines().count(), count, "one line a lead");
    assert!(!lines.contains("\"error\""));
    let rows = export(&desk.state.to_string_lossy());
    assert_eq!(
        rows.matches("\"kind\":\"assignment\"").count(),
        count + others + 1,
        "every lead of both assigned once"
    );
    let mut per_rep = std::collections::BTreeMap::<&str, usize>::new();
    for row in rows
        .lines()
        .filter(|row| row.contains("\"kind\":\"assignment\""))
    {
        let rep = row
            .split("\"rep\":\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        *per_rep.entry(rep).or_default() += 1;
    }
    let (least, most) = (
        per_rep.values().min().copied().unwrap_or(0),
        per_rep.values().max().copied().unwrap_or(0),
    );
    assert!(most - least <= 1, "round robin even: {per_rep:?}");
}
