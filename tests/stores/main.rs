//! One behavioural suite, every state store: each test body runs against a SQLite file and a
//! PostgreSQL database (a throwaway cluster, `cluster.rs`), through the command line: routing,
//! duplicates and id conflicts, period caps, `previous rep of`, sweep and report must give the
//! same lines on both; and four routers at once on one state assign every lead exactly once,
//! keep round robin even, and fire every escalation step once.
//!
//! A custom harness (`harness = false`): when PostgreSQL is not installed, its runs are reported
//! as not run, with the reason, never counted as passed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

#[cfg(feature = "postgres")]
mod cluster;

/// Without the `postgres` feature there is no client to start a cluster with: every PostgreSQL
/// run is reported as not run.
#[cfg(not(feature = "postgres"))]
mod cluster {
    pub struct Cluster {
        pub tls_root: Option<std::path::PathBuf>,
    }

    impl Cluster {
        pub fn execute(&self, _: &str) {}
        pub fn database(&self, _: &str) -> String {
            unreachable!("PostgreSQL runs are not run in this build")
        }
        pub fn restart(&self) {}
        pub fn stop(&self) {}
        pub fn start_again(&self) {}
    }

    pub fn cluster() -> Result<&'static Cluster, String> {
        Err("this build has no PostgreSQL support (the `postgres` feature is off)".to_string())
    }

    pub fn remove_files() {}

    pub fn count(_: &str, _: &str) -> i64 {
        unreachable!("PostgreSQL runs are not run in this build")
    }

    pub struct HeldGate;

    impl HeldGate {
        pub fn take(_: &str) -> HeldGate {
            unreachable!("PostgreSQL runs are not run in this build")
        }
        pub fn waiting_writer(&self, _: &str) -> bool {
            unreachable!()
        }
        pub fn execute(&mut self, _: &str) {}
        pub fn release(self) {}
    }
}

#[path = "../common/two_threads.rs"]
mod two_threads;

#[path = "../common/mod.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Where a test keeps its state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Store {
    Sqlite,
    Postgres,
}

impl Store {
    /// A fresh, empty state for one test, as a `--state` value.
    fn state(self, name: &str) -> String {
        match self {
            Store::Sqlite => scratch(name).join("state.db").to_string_lossy().to_string(),
            Store::Postgres => cluster::cluster()
                .expect("checked before the test runs")
                .database(name),
        }
    }
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn example(name: &str) -> String {
    root()
        .join("examples")
        .join(name)
        .to_string_lossy()
        .to_string()
}

fn fixture(name: &str) -> String {
    root()
        .join("tests/fixtures")
        .join(name)
        .to_string_lossy()
        .to_string()
}

fn scratch(name: &str) -> PathBuf {
    common::scratch("stores", name)
}

fn run(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .env_remove("SWITCHBOARD_STATE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
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

/// Stdout of a run that must succeed (exit 0, or 1 when it printed error records).
fn ok(output: &Output) -> String {
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "exit {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Stdout of `route` of the example policy and roster at L-1's time into `state`, with `extra`
/// arguments, `input` on stdin.
fn route_example(state: &str, extra: &[&str], input: &str) -> String {
    let (policy, roster) = (example("routing.route"), example("roster.json"));
    let mut args = vec![
        "route",
        &policy,
        "--roster",
        &roster,
        "--state",
        state,
        "--now",
        "2026-11-23T10:00:00+01:00",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    ok(&run(&args, input))
}

// ---- the suite: each test gets the store to run on ------------------------------------------

/// The example leads, routed twice (the second time all duplicates), then a reused id with
/// other content: the same bytes on every store.
fn routing_duplicates_and_id_conflicts(store: Store) -> String {
    let state = store.state("routing");
    let leads = std::fs::read_to_string(example("leads.ndjson")).unwrap();
    let route = |input: &str| route_example(&state, &[], input);
    let first = route(&leads);
    let second = route(&leads);
    assert!(
        second
            .lines()
            .all(|line| line.contains("\"duplicate\":true"))
    );
    let reused = leads
        .lines()
        .next()
        .unwrap()
        .replace("\"employees\":800", "\"employees\":801");
    let conflict = route(&format!("{reused}\n"));
    assert!(
        conflict.contains("\"code\":\"lead.id_conflict\""),
        "{conflict}"
    );
    format!("{first}{second}{conflict}")
}

/// One batch (a file) in which leads that go to queues and leads that go to pools alternate,
/// every lead comes again later in the same batch, and one id comes back with other content
/// that goes to a queue:
/// PostgreSQL decides a batch's leads that read no shared state before the others (a first
/// pass without locks), so a repeat must still answer the decision of its first appearance,
/// and the decisions must be those of one pass in input order, on every store.
fn one_batch_of_mixed_and_repeated_leads(store: Store) -> String {
    let state = store.state("mixed");
    let leads = std::fs::read_to_string(example("leads.ndjson")).unwrap();
    let first = leads.lines().next().unwrap();
    // The first lead's id again, for a lead that goes to a queue (no shared state) where the
    // first went to a pool: it must wait for the first, and then be refused.
    let reused = first
        .replace("\"intent\":\"high\"", "\"intent\":\"low\"")
        .replace("\"source\":\"demo_request\"", "\"source\":\"newsletter\"");
    assert_ne!(reused, first);
    let mut input: Vec<&str> = leads.lines().collect();
    input.extend(leads.lines().rev());
    input.push(&reused);
    let file = scratch("mixed-input").join("leads.ndjson");
    std::fs::write(&file, input.join("\n") + "\n").unwrap();
    let out = route_example(&state, &["--leads", file.to_str().unwrap()], "");
    let lines = json_lines(&out);
    let count = leads.lines().count();
    assert_eq!(lines.len(), 2 * count + 1, "{out}");
    // Each repeat answers the decision of the lead's first appearance.
    for (index, line) in lines[count..2 * count].iter().enumerate() {
        assert_eq!(line["duplicate"], true, "{out}");
        let original = &lines[count - 1 - index];
        assert_eq!(line["lead"], original["lead"], "{out}");
        assert_eq!(line["action"], original["action"], "{out}");
        assert_eq!(line["rep"], original["rep"], "{out}");
        assert_eq!(line["queue"], original["queue"], "{out}");
    }
    assert_eq!(
        lines[2 * count]["error"]["code"],
        "lead.id_conflict",
        "{out}"
    );
    // Both kinds of lead are in the batch.
    assert!(
        lines[..count].iter().any(|line| line["action"] == "queue"),
        "{out}"
    );
    assert!(
        lines[..count].iter().any(|line| line["rep"].is_string()),
        "{out}"
    );
    out
}

/// A rep at a cap, whose count grows within one batch (a pool without the cap gives her a
/// lead): PostgreSQL decides a lead that finds every candidate at a cap in the batch's first
/// pass, on counts read without locks, and confirms those counts in the lead's turn; when
/// they grew, the lead is decided again. Every store says the count of the lead's turn.
fn caps_reached_within_a_batch(store: Store) -> String {
    let state = store.state("shared-rep");
    let out = caps_reached_within_a_batch_in(&state);
    if let Store::Postgres = store {
        // Nobody was ever eligible in the capped pools (a round robin and a weighted one):
        // no turn was taken, so their rotations were never read (nor locked).
        let read = cluster::count(
            &state,
            "SELECT count(*) FROM rotations WHERE pool IN ('narrow', 'daily')",
        );
        assert_eq!(read, 0, "the capped pools' rotations were read");
    }
    out
}

fn caps_reached_within_a_batch_in(state: &str) -> String {
    let lead = |id: &str, team: &str| {
        format!(r#"{{"id":"{id}","team":"{team}","created_at":"2026-11-24T10:00:00+01:00"}}"#)
    };
    let route = |leads: &[String]| {
        let file = scratch("shared-rep-input").join("leads.ndjson");
        std::fs::write(&file, leads.join("\n") + "\n").unwrap();
        ok(&run(
            &[
                "route",
                &fixture("team/shared_rep.route"),
                "--state",
                state,
                "--quiet",
                "--leads",
                file.to_str().unwrap(),
            ],
            "",
        ))
    };
    let mut out = route(&[lead("W-1", "wide")]);
    // One batch: capped leads before and after anna's second lead, and one of them again.
    out.push_str(&route(&[
        lead("N-1", "narrow"),
        lead("D-1", "daily"),
        lead("W-2", "wide"),
        lead("N-2", "narrow"),
        lead("D-2", "daily"),
        lead("N-2", "narrow"),
    ]));
    let lines = json_lines(&out);
    let reason = |index: usize| lines[index]["reason"][0]["reason"].to_string();
    assert_eq!(lines[0]["rep"], "anna", "{out}");
    assert!(reason(1).contains("anna at cap 1/1"), "{out}");
    assert!(reason(2).contains("1/1 today"), "{out}");
    assert_eq!(lines[3]["rep"], "anna", "{out}");
    assert!(reason(4).contains("anna at cap 2/1"), "{out}");
    assert!(reason(5).contains("2/1 today"), "{out}");
    assert_eq!(lines[6]["duplicate"], true, "{out}");
    assert_eq!(reason(6), reason(4), "{out}");
    out
}

/// Leads erased from the ledger by hand (the rest of their rows left: their due steps,
/// assignments and lead times) and routed again: a router sends a batch of new leads' rows
/// without `ON CONFLICT`, meets the rows left, decides the batch again with the insert that
/// tolerates them, and every lead gets a decision: none is lost, none is called a duplicate,
/// and each rep's total is her count of assignments.
fn rows_left_without_their_ledger_entries(store: Store) -> String {
    let state = store.state("erased");
    let leads = std::fs::read_to_string(example("leads.ndjson")).unwrap();
    let first = route_example(&state, &[], &leads);
    let due = cluster::count(&state, "SELECT count(*) FROM due");
    assert!(due > 0, "the example leads have due steps: {first}");
    let mut erasure = cluster::HeldGate::take(&state);
    erasure.execute("DELETE FROM ledger");
    erasure.release();
    let again = route_example(&state, &[], &leads);
    let duplicates = |out: &str| -> Vec<bool> {
        json_lines(out)
            .iter()
            .map(|decision| {
                assert!(decision.get("error").is_none(), "{decision}");
                decision["duplicate"] == true
            })
            .collect()
    };
    // The example repeats L-1 at the end: that line alone is a duplicate, both times.
    assert_eq!(duplicates(&again), duplicates(&first), "{again}");
    assert_eq!(duplicates(&again).iter().filter(|d| **d).count(), 1);
    let ids: BTreeSet<String> = json_lines(&first)
        .iter()
        .map(|decision| decision["lead"].to_string())
        .collect();
    assert_eq!(
        cluster::count(&state, "SELECT count(*) FROM ledger"),
        ids.len() as i64
    );
    assert_eq!(cluster::count(&state, "SELECT count(*) FROM due"), due);
    // A lead given again to a rep who had it is not counted twice in her total.
    assert_eq!(
        cluster::count(
            &state,
            "SELECT count(*) FROM rep_totals WHERE total <> \
             (SELECT count(*) FROM assignments WHERE assignments.rep = rep_totals.rep)"
        ),
        0
    );
    let third = route_example(&state, &[], &leads);
    assert!(
        third
            .lines()
            .all(|line| line.contains("\"duplicate\":true")),
        "{third}"
    );
    again
}

/// A database whose transactions are serializable unless said otherwise (as on CockroachDB):
/// routing there decides as on SQLite, and reads counts under the gate only (an unlocked read
/// there would make contended batches retry): a lead at a cap waits for the gate before it
/// writes anything.
fn serializable_by_default(store: Store) -> String {
    let state = store.state("serializable");
    let database = state.rsplit('/').next().unwrap();
    cluster::cluster().unwrap().execute(&format!(
        "ALTER DATABASE {database} SET default_transaction_isolation = 'serializable'"
    ));
    let out = caps_reached_within_a_batch_in(&state);
    assert_eq!(
        out,
        caps_reached_within_a_batch(Store::Sqlite),
        "the same decisions as on SQLite"
    );
    let said = ok(&run(&["state", "migrate", "--state", &state], ""));
    assert!(
        said.contains(": default isolation serializable: every count is read under the gate"),
        "{said}"
    );
    let gate = cluster::HeldGate::take(&state);
    let router = {
        let policy = fixture("team/shared_rep.route");
        let named = format!("{state}?application_name=serializable");
        std::thread::spawn(move || {
            let input = r#"{"id":"N-3","team":"narrow","created_at":"2026-11-24T10:00:00+01:00"}"#;
            // One thread: the store's own batches, in two passes.
            ok(&run(
                &[
                    "route",
                    &policy,
                    "--state",
                    &named,
                    "--quiet",
                    "--threads",
                    "1",
                ],
                input,
            ))
        })
    };
    assert!(
        !gate.waiting_writer("serializable"),
        "a count was read without locks on a serializable database"
    );
    gate.release();
    let decided = router.join().unwrap();
    assert!(decided.contains("anna at cap 2/1"), "{decided}");
    out
}

/// A count that grows between a batch's first pass and its turn at the gate: anna is at the
/// `narrow` pool's cap of 1 when a router reads her count without locks and decides N-1
/// (nobody eligible), sends it, and waits for the gate, which the test holds; while it waits,
/// another batch (the test's own transaction, writing what a router's assignment writes) gives
/// her a second lead. Under the gate the router finds the count changed, takes N-1 back and
/// decides it again: the reason it prints and keeps says 2/1, as one router deciding in order
/// after that batch would say.
fn a_count_grows_before_the_gate(store: Store) -> String {
    let state = store.state("grows");
    // One thread: the store's own batches, in two passes (on two threads, see
    // `a_write_while_the_commits_are_handed_over`).
    let (mut out, decided) = anna_gets_a_lead_while_a_router_waits(&state, "grows", "1", |gate| {
        assert!(
            gate.waiting_writer("grows"),
            "the router waited for the gate before it decided N-1: its count was not read \
             without locks (is the database read committed?)"
        );
    });
    let again = ok(&run(
        &[
            "route",
            &fixture("team/shared_rep.route"),
            "--state",
            &state,
            "--quiet",
        ],
        &team_lead("N-1", "narrow"),
    ));
    for line in [&decided, &again] {
        let decision = &json_lines(line)[0];
        let reason = decision["reason"][0]["reason"].to_string();
        assert!(reason.contains("anna at cap 2/1"), "{out}{line}");
        assert_eq!(decision["action"], "unassigned", "{line}");
    }
    assert_eq!(json_lines(&again)[0]["duplicate"], true, "{again}");
    let kept = cluster::count(&state, "SELECT count(*) FROM ledger WHERE lead = 'N-1'");
    assert_eq!(kept, 1, "one ledger entry for N-1");
    out.push_str(&decided);
    out.push_str(&again);
    out
}

/// A lead of `team/shared_rep.route`'s `team` at one time.
fn team_lead(id: &str, team: &str) -> String {
    format!(
        "{{\"id\":\"{id}\",\"team\":\"{team}\",\"created_at\":\"2026-11-24T10:00:00+01:00\"}}\n"
    )
}

/// What `a_count_grows_before_the_gate` and `a_write_while_the_commits_are_handed_over` share:
/// W-1 gives anna a lead; the test holds the gate while a router (`route --threads THREADS`,
/// its sessions named `application`) decides N-1, of the `narrow` pool whose cap is 1; once
/// the router waits for the gate, `while_waiting` looks at it, then the test's transaction
/// gives anna a second lead (what a router's assignment writes) and lets the router in.
/// Answers the first run's output and the router's.
fn anna_gets_a_lead_while_a_router_waits(
    state: &str,
    application: &str,
    threads: &'static str,
    while_waiting: impl FnOnce(&cluster::HeldGate),
) -> (String, String) {
    let policy = fixture("team/shared_rep.route");
    let out = ok(&run(
        &["route", &policy, "--state", state, "--quiet"],
        &team_lead("W-1", "wide"),
    ));
    let mut gate = cluster::HeldGate::take(state);
    let router = {
        let input = team_lead("N-1", "narrow");
        let named = format!("{state}?application_name={application}");
        std::thread::spawn(move || {
            ok(&run(
                &[
                    "route",
                    &policy,
                    "--state",
                    &named,
                    "--quiet",
                    "--threads",
                    threads,
                ],
                &input,
            ))
        })
    };
    while_waiting(&gate);
    gate.execute(
        "INSERT INTO assignments (lead, rep, at_s) VALUES ('W-2', 'anna', 1795510800); \
         INSERT INTO lead_times (rep, lead_s, lead) VALUES ('anna', 1795510800, 'W-2'); \
         UPDATE rep_totals SET total = total + 1 WHERE rep = 'anna';",
    );
    gate.release();
    (out, router.join().unwrap())
}

/// `a_count_grows_before_the_gate` with `route` on two threads, whose batches are decided on
/// what the store keeps in memory (anna's total, read when the commits were handed over) and
/// committed on a second connection: the writer waits for the gate the test holds, while the
/// test gives anna a second lead. The gate's generation has moved on, so the writer refuses
/// the batch decided on anna at 1, and the run decides it again: 2/1, as one router deciding
/// after that batch would say, and one ledger entry.
fn a_write_while_the_commits_are_handed_over(store: Store) -> String {
    let state = store.state("handed");
    let (mut out, decided) = anna_gets_a_lead_while_a_router_waits(&state, "handed", "2", |gate| {
        // The writer waits, on a connection of its own beside the deciding one.
        let _ = gate.waiting_writer("handed");
        let sessions = cluster::count(
            &state,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'handed'",
        );
        assert_eq!(
            sessions, 2,
            "the commits were handed to a second connection"
        );
        let writer_waits = cluster::count(
            &state,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'handed' \
             AND wait_event_type = 'Lock' \
             AND query LIKE 'BEGIN; SELECT % FROM gate WHERE gate_key = 1 FOR UPDATE%'",
        );
        assert_eq!(
            writer_waits, 1,
            "the writer, not the store's own batch, waits"
        );
    });
    let decision = &json_lines(&decided)[0];
    let reason = decision["reason"][0]["reason"].to_string();
    assert!(reason.contains("anna at cap 2/1"), "{out}{decided}");
    assert_eq!(decision["action"], "unassigned", "{decided}");
    let kept = cluster::count(&state, "SELECT count(*) FROM ledger WHERE lead = 'N-1'");
    assert_eq!(kept, 1, "one ledger entry for N-1");
    out.push_str(&decided);
    out
}

/// `route` on two threads (each batch committed on a second connection while the next is
/// decided on what the store keeps in memory) against one thread, on two databases: the same
/// lines, summaries and `state export`, over two loads of 14,000 and 9,000 leads (whole
/// batches of 2,048, repeats, reused ids, broken lines, caps per day and of open leads,
/// weights and escalations), and every lead sent a third time answered as recorded.
fn one_thread_and_two_agree(store: Store) -> String {
    let dir = scratch("agree");
    let (one, two) = (store.state("agree_one"), store.state("agree_two"));
    two_threads::same_on_one_thread_and_two(&dir, two_threads::POOLS, &one, &two);
    String::new()
}

/// Caps per day and week, counted in each rep's own time zone, across two runs.
fn period_caps(store: Store) -> String {
    let state = store.state("caps");
    let lead = |id: &str, team: &str, at: &str| {
        format!(r#"{{"id":"{id}","team":"{team}","created_at":"{at}"}}"#)
    };
    let route = |leads: &[String]| {
        let input: String = leads.iter().map(|lead| format!("{lead}\n")).collect();
        ok(&run(
            &[
                "route",
                &fixture("team/caps.route"),
                "--state",
                &state,
                "--quiet",
            ],
            &input,
        ))
    };
    let mut out = route(&[
        lead("C-1", "daily", "2026-11-24T09:00:00+01:00"),
        lead("C-2", "daily", "2026-11-24T10:00:00+01:00"),
        lead("C-3", "weekly", "2026-11-24T10:00:00+01:00"),
    ]);
    out.push_str(&route(&[
        lead("C-4", "daily", "2026-11-24T11:00:00+01:00"),
        lead("C-5", "daily", "2026-11-25T09:00:00+01:00"),
        lead("C-6", "weekly", "2026-11-26T10:00:00+01:00"),
        lead("C-7", "weekly", "2026-11-27T10:00:00+01:00"),
        lead("C-8", "weekly", "2026-11-27T11:00:00+01:00"),
    ]));
    let reps: Vec<String> = json_lines(&out)
        .iter()
        .map(|decision| decision["rep"].as_str().unwrap_or("-").to_string())
        .collect();
    // anna takes two a day, then boris; rita three a week, then sam.
    assert_eq!(
        reps,
        [
            "anna", "anna", "rita", "boris", "anna", "rita", "rita", "sam"
        ],
        "{out}"
    );
    out
}

/// `previous rep of email`: one prospect under several ids goes to its first lead's rep.
fn previous_rep(store: Store) -> String {
    let state = store.state("prospects");
    let lead = |id: &str, email: &str, at: &str| {
        format!(r#"{{"id":"{id}","email":"{email}","created_at":"{at}"}}"#)
    };
    let route = |leads: &[String]| {
        let input: String = leads.iter().map(|lead| format!("{lead}\n")).collect();
        ok(&run(
            &[
                "route",
                &fixture("team/prospects.route"),
                "--state",
                &state,
                "--quiet",
            ],
            &input,
        ))
    };
    let mut out = route(&[
        lead("P-1", "CEO@acme.com", "2026-11-24T10:00:00Z"),
        lead("P-2", "cfo@other.com", "2026-11-24T10:01:00Z"),
    ]);
    out.push_str(&route(&[
        lead("P-3", " ceo@acme.com", "2026-11-24T10:05:00Z"),
        lead("P-4", "ceo@ACME.com", "2026-11-24T10:10:00Z"),
    ]));
    let reps: Vec<String> = json_lines(&out)
        .iter()
        .map(|decision| decision["rep"].as_str().unwrap_or("-").to_string())
        .collect();
    assert_eq!(reps, ["anna", "boris", "anna", "anna"], "{out}");
    out
}

/// The example leads routed, a touch tracked, a sweep a week later, and the report.
fn sweep_and_report(store: Store) -> String {
    let state = store.state("lifecycle");
    let (policy, roster) = (example("routing.route"), example("roster.json"));
    let leads = std::fs::read_to_string(example("leads.ndjson")).unwrap();
    let routed = route_example(&state, &[], &leads);
    let touch = r#"{"lead":"L-1","event":"touched","at":"2026-11-23T10:05:00+01:00","by":"anna"}"#;
    let tracked = ok(&run(
        &[
            "track", &policy, "--roster", &roster, "--state", &state, "--quiet",
        ],
        &format!("{touch}\n"),
    ));
    let sweep = |now: &str| {
        ok(&run(
            &[
                "sweep", &policy, "--roster", &roster, "--state", &state, "--now", now, "--quiet",
            ],
            "",
        ))
    };
    let swept = sweep("2026-11-30T10:00:00Z");
    assert!(!swept.is_empty());
    assert!(
        !swept.contains("\"lead\":\"L-1\""),
        "a touched lead never escalates"
    );
    assert_eq!(sweep("2026-11-30T10:00:00Z"), "", "every step fires once");
    let report = ok(&run(
        &[
            "report",
            &policy,
            "--state",
            &state,
            "--now",
            "2026-11-30T10:00:00Z",
            "--format",
            "json",
        ],
        "",
    ));
    format!("{routed}{tracked}{swept}{report}")
}

/// Chains of escalation steps fired by one sweep: 700 leads two seconds apart, each with up
/// to three steps (to its own pool, whose rep is new to it; to a rep it may have had already;
/// to another pool, with a cap that binds; to a queue), some touched first, all due by the
/// sweep's time. Every step
/// fires in time order across leads (a lead's next step comes back among the others'), more
/// of them than one statement reads ahead and than one transaction holds. The lines fired
/// and every row of the state after it are the same on every store.
/// Steps fired in time order (their `at`, as printed, all in one offset).
fn assert_in_time_order(fired: &[serde_json::Value]) {
    let times: Vec<&str> = fired
        .iter()
        .map(|line| line["at"].as_str().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|pair| pair[0] <= pair[1]),
        "in time order"
    );
}

/// The state of [`sweep_chains`] before its sweep: the leads routed and some touched. Answers
/// the state, the policy, and what `route` and `track` printed.
fn chains_routed(store: Store, name: &str) -> (String, String, String) {
    let state = store.state(name);
    let dir = scratch(&format!("{name}-{store:?}"));
    let policy = dir.join("chains.route");
    std::fs::write(
        &policy,
        "schema lead { id: string  team: enum { a, b, c }  created_at: time }\n\
         calendar utc { timezone UTC  hours mon-sun 00:00-24:00 }\n\
         pool desk { members d1, d2, d3  strategy round_robin  calendar utc }\n\
         pool backup { members b1, b2  strategy round_robin  cap 150  calendar utc }\n\
         queue review\n\
         rule a: when team = a -> pool desk within 1m\n\
         \x20 escalate desk after 1m\n\
         \x20 escalate backup after 2m\n\
         \x20 escalate review after 4m\n\
         rule b: when team = b -> pool desk within 1m escalate d1 after 2m escalate d2 after 3m\n\
         otherwise -> pool backup within 1m escalate backup after 1m\n",
    )
    .unwrap();
    let policy = policy.to_string_lossy().to_string();
    // Two seconds apart: the 64 steps a PostgreSQL sweep reads ahead span about two minutes,
    // so a lead's next step (a minute later) comes back among them.
    let clock = |seconds: usize| format!("2026-11-24T09:{:02}:{:02}Z", seconds / 60, seconds % 60);
    let teams = ["a", "b", "c"];
    let leads: String = (0..700)
        .map(|n| {
            format!(
                "{{\"id\":\"C-{n}\",\"team\":\"{}\",\"created_at\":\"{}\"}}\n",
                teams[n % 3],
                clock(2 * n)
            )
        })
        .collect();
    let at = "--now=2026-11-24T09:00:00Z";
    let routed = ok(&run(
        &["route", &policy, "--state", &state, at, "--quiet"],
        &leads,
    ));
    let touches: String = (0..700)
        .step_by(7)
        .map(|n| {
            format!(
                "{{\"lead\":\"C-{n}\",\"event\":\"touched\",\"at\":\"{}\"}}\n",
                clock(2 * n + 30)
            )
        })
        .collect();
    let tracked = ok(&run(
        &["track", &policy, "--state", &state, "--quiet"],
        &touches,
    ));
    (state, policy, format!("{routed}{tracked}"))
}

/// `switchboard sweep POLICY --state STATE --now NOW`: the steps it fired.
fn sweep_at(policy: &str, state: &str, now: &str) -> String {
    ok(&run(
        &["sweep", policy, "--state", state, "--now", now, "--quiet"],
        "",
    ))
}

fn sweep_chains(store: Store) -> String {
    let (state, policy, before) = chains_routed(store, "chains");
    let sweep = || sweep_at(&policy, &state, "2026-11-24T12:00:00Z");
    let swept = sweep();
    let fired = json_lines(&swept);
    assert!(fired.len() > 1000, "{} steps", fired.len());
    assert!(swept.contains("\"step\":3"), "third steps fired");
    assert!(
        swept.contains("at cap 150/150"),
        "the backup pool's cap binds in the sweep"
    );
    assert_in_time_order(&fired);
    assert_eq!(sweep(), "", "every step fires once");
    let export = ok(&run(&["state", "export", "--state", &state], ""));
    let mut rows: Vec<&str> = export
        .lines()
        .filter(|line| !line.contains("switchboard_state"))
        .collect();
    rows.sort_unstable();
    format!("{before}{swept}{}\n", rows.join("\n"))
}

/// The chains of [`sweep_chains`] fired by `serve`'s sweeper: one transaction for every step
/// due (more than a PostgreSQL sweep reads ahead at once), in time order, each once.
fn serve_sweeps_chains(store: Store) -> String {
    let (state, policy, _) = chains_routed(store, "served_chains");
    let (mut server, address) =
        start_server(&["serve", &policy, "--state", &state, "--sweep-every", "1"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut seen = 0;
    let listing = loop {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let (status, answer) = http(
            &address,
            "GET",
            "/v1/escalations?since=2026-11-01&limit=10000",
            "",
        );
        assert_eq!(status, 200, "{answer}");
        let listing = body_of(&answer).to_string();
        let count = listing.lines().count();
        if count > 1000 && count == seen {
            break listing;
        }
        seen = count;
        assert!(
            std::time::Instant::now() < deadline,
            "{count} steps fired so far"
        );
    };
    // The same steps paged by number, 400 at a time, each answer's cursor to the next.
    let mut paged: Vec<String> = Vec::new();
    let mut after = "0".to_string();
    loop {
        let (status, answer) = http(
            &address,
            "GET",
            &format!("/v1/escalations?after={after}&limit=400"),
            "",
        );
        assert_eq!(status, 200, "{answer}");
        let head = answer.split_once("\r\n\r\n").map_or("", |(head, _)| head);
        let header = |name: &str| {
            head.lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix(name)
                        .map(str::to_string)
                })
                .map(|value| value.trim().to_string())
                .unwrap()
        };
        paged.extend(body_of(&answer).lines().map(str::to_string));
        after = header("x-next-after:");
        if header("x-more:") == "false" {
            break;
        }
    }
    let mut by_time: Vec<&str> = listing.lines().collect();
    let mut by_number: Vec<&str> = paged.iter().map(String::as_str).collect();
    by_time.sort_unstable();
    by_number.sort_unstable();
    assert_eq!(by_number, by_time, "every step once, by number as by time");
    server.kill().unwrap();
    let _ = server.wait();
    let fired = json_lines(&listing);
    assert_in_time_order(&fired);
    let again = sweep_at(&policy, &state, "2026-11-24T12:00:00Z");
    assert_eq!(again, "", "every step fired once");
    listing
}

/// Four routers at once on one state: 20,000 lead lines with overlapping ids (every tenth id is
/// also sent by the next router). Every lead is assigned once; round robin within one lead of
/// even; then four sweeps at once fire every step once.
/// Round robin within one lead of even: every rep of `fresh` (lead -> rep) holds as many leads
/// as any other, give or take one. Answers the count per rep.
fn assert_even(fresh: &BTreeMap<String, String>, across: &str) -> String {
    let mut per_rep: BTreeMap<&str, usize> = BTreeMap::new();
    for rep in fresh.values() {
        *per_rep.entry(rep.as_str()).or_default() += 1;
    }
    let (least, most) = (
        per_rep.values().min().copied().unwrap_or(0),
        per_rep.values().max().copied().unwrap_or(0),
    );
    assert!(
        most - least <= 1,
        "round robin across {across} is uneven: {per_rep:?}"
    );
    format!("{per_rep:?}")
}

fn four_routers_at_once(store: Store) -> String {
    four_routers(store, "four", 5000, false)
}

/// Four routers at once reading files of 12,000 leads (whole batches: on either store each
/// decided while the last one is committed on a second connection, refused when another router
/// wrote in between, and decided again): every lead once, round robin even, every step once.
fn four_routers_from_files(store: Store) -> String {
    four_routers(store, "files", 12_000, true)
}

/// `PER_ROUTER` leads to each of four routers at once, on stdin or from a file; every tenth
/// lead is sent to the next router too.
fn four_routers(store: Store, name: &str, per_router: usize, from_files: bool) -> String {
    let state = store.state(name);
    let dir = scratch(&format!("{name}-{store:?}"));
    let policy = dir.join("desk.route");
    std::fs::write(
        &policy,
        "schema lead { id: string  created_at: time }\n\
         pool desk { members a1, a2, a3, a4, a5  strategy round_robin }\n\
         pool backup { members b1, b2, b3  strategy round_robin }\n\
         otherwise -> pool desk within 15m escalate backup after 30m\n",
    )
    .unwrap();
    let policy = policy.to_string_lossy().to_string();
    let id = move |router: usize, n: usize| {
        if n.is_multiple_of(10) {
            // An id the next router sends too.
            ((router + 1) % 4) * per_router + n + 1
        } else {
            router * per_router + n
        }
    };
    let routers: Vec<_> = (0..4)
        .map(|router| {
            let (policy, state) = (policy.clone(), state.clone());
            let file = dir.join(format!("leads-{router}.ndjson"));
            std::thread::spawn(move || {
                let input: String = (0..per_router)
                    .map(|n| {
                        format!(
                            "{{\"id\":\"F-{}\",\"created_at\":\"2026-11-23T10:00:00Z\"}}\n",
                            id(router, n)
                        )
                    })
                    .collect();
                let output = if from_files {
                    std::fs::write(&file, input).unwrap();
                    let file = file.to_string_lossy();
                    let args = [
                        "route", &policy, "--state", &state, "--leads", &file, "--quiet",
                    ];
                    run(&args, "")
                } else {
                    run(&["route", &policy, "--state", &state, "--quiet"], &input)
                };
                json_lines(&ok(&output))
            })
        })
        .collect();
    let mut fresh: BTreeMap<String, String> = BTreeMap::new();
    let mut answers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for router in routers {
        let decisions = router.join().unwrap();
        assert_eq!(decisions.len(), per_router, "lines in = answers out");
        for decision in decisions {
            let lead = decision["lead"].as_str().unwrap().to_string();
            let rep = decision["rep"].as_str().unwrap().to_string();
            answers.entry(lead.clone()).or_default().insert(rep.clone());
            if decision["duplicate"] != true {
                assert!(
                    fresh.insert(lead.clone(), rep).is_none(),
                    "{lead} was assigned twice"
                );
            }
        }
    }
    assert_eq!(fresh.len(), 4 * per_router - 4 * per_router / 10);
    for (lead, reps) in &answers {
        assert_eq!(reps.len(), 1, "{lead} was answered with two reps: {reps:?}");
        assert!(
            fresh.contains_key(lead),
            "{lead} answered only as a duplicate"
        );
    }
    let per_rep = assert_even(&fresh, "four routers");
    // Four sweeps at once, a day later: every lead's one step fires exactly once.
    let sweeps: Vec<_> = (0..4)
        .map(|_| {
            let (policy, state) = (policy.clone(), state.clone());
            std::thread::spawn(move || {
                json_lines(&ok(&run(
                    &[
                        "sweep",
                        &policy,
                        "--state",
                        &state,
                        "--now",
                        "2026-11-24T10:00:00Z",
                        "--quiet",
                    ],
                    "",
                )))
            })
        })
        .collect();
    let mut fired: BTreeMap<String, usize> = BTreeMap::new();
    for sweep in sweeps {
        for step in sweep.join().unwrap() {
            *fired
                .entry(step["lead"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    assert_eq!(fired.len(), fresh.len(), "a step did not fire");
    assert!(
        fired.values().all(|times| *times == 1),
        "a step fired twice"
    );
    per_rep
}

/// Four routers at once on a pool whose members take at most 100 leads a day: 600 leads of one
/// day, 150 per router. Exactly 100 go to each member, never 101, and the rest find nobody.
fn four_routers_on_a_cap(store: Store) -> String {
    let state = store.state("cap");
    let dir = scratch(&format!("cap-{store:?}"));
    let policy = dir.join("capped.route");
    std::fs::write(
        &policy,
        "schema lead { id: string  created_at: time }\n\
         calendar utc { timezone UTC  hours mon-sun 00:00-24:00 }\n\
         pool desk { members a1, a2  strategy ordered  cap 100 per day  calendar utc }\n\
         otherwise -> pool desk\n",
    )
    .unwrap();
    let policy = policy.to_string_lossy().to_string();
    let routers: Vec<_> = (0..4)
        .map(|router| {
            let (policy, state) = (policy.clone(), state.clone());
            std::thread::spawn(move || {
                let input: String = (0..150)
                    .map(|n| {
                        format!(
                            "{{\"id\":\"K-{router}-{n}\",\"created_at\":\"2026-11-24T{:02}:{:02}:00Z\"}}\n",
                            n / 60,
                            n % 60
                        )
                    })
                    .collect();
                json_lines(&ok(&run(&["route", &policy, "--state", &state, "--quiet"], &input)))
            })
        })
        .collect();
    let mut per_rep: BTreeMap<String, usize> = BTreeMap::new();
    for router in routers {
        for decision in router.join().unwrap() {
            let rep = decision["rep"].as_str().unwrap_or("nobody").to_string();
            *per_rep.entry(rep).or_default() += 1;
        }
    }
    assert_eq!(per_rep.get("a1"), Some(&100), "{per_rep:?}");
    assert_eq!(per_rep.get("a2"), Some(&100), "{per_rep:?}");
    assert_eq!(per_rep.get("nobody"), Some(&400), "{per_rep:?}");
    format!("{per_rep:?}")
}

#[derive(Clone, Copy)]
enum Interrupt {
    /// `kill -9` of the router.
    Kill,
    /// A restart of the PostgreSQL server.
    Restart,
}

/// A policy that sends every lead round robin to a desk of three, written into `dir`: its path.
fn desk_of_three(dir: &Path) -> String {
    let policy = dir.join("desk.route");
    std::fs::write(
        &policy,
        "schema lead { id: string  created_at: time }\n\
         pool desk { members a1, a2, a3  strategy round_robin }\n\
         otherwise -> pool desk\n",
    )
    .unwrap();
    policy.to_string_lossy().to_string()
}

/// 6,000 leads fed to one `route` a little at a time; after 1,500 answers the router is killed,
/// or its database restarted. Every lead it printed is in the state (sent again, it comes back
/// `duplicate` with the same rep), routing everything again assigns no lead twice, and a router
/// that stops names the first line it did not print.
fn interrupted_load(store: Store, interrupt: Interrupt, threads: &str) -> String {
    use std::io::BufRead;
    let state = store.state(&format!("interrupted_{threads}"));
    let dir = scratch(&format!("interrupted-{store:?}-{threads}"));
    let policy = desk_of_three(&dir);
    let leads: Vec<String> = (0..6000)
        .map(|n| format!("{{\"id\":\"I-{n}\",\"created_at\":\"2026-11-23T10:00:00Z\"}}\n"))
        .collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "route",
            &policy,
            "--state",
            &state,
            "--quiet",
            "--threads",
            threads,
        ])
        .env_remove("SWITCHBOARD_STATE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feed = leads.clone();
    let writer = std::thread::spawn(move || {
        for chunk in feed.chunks(100) {
            if stdin.write_all(chunk.concat().as_bytes()).is_err() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    });
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut printed: Vec<serde_json::Value> = Vec::new();
    let mut line = String::new();
    let mut interrupted = false;
    while stdout.read_line(&mut line).unwrap_or(0) > 0 {
        printed.push(serde_json::from_str(&line).unwrap());
        line.clear();
        if !interrupted && printed.len() >= 1500 {
            interrupted = true;
            match interrupt {
                Interrupt::Kill => child.kill().unwrap(),
                Interrupt::Restart => cluster::cluster().unwrap().restart(),
            }
        }
    }
    let status = child.wait().unwrap();
    writer.join().unwrap();
    assert!(interrupted, "the load ended before the interruption");
    let mut stderr = String::new();
    let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr);
    match interrupt {
        Interrupt::Kill => assert!(!status.success()),
        // The batch under way when the server went fails, and the router says where it left
        // off; or the restart fell between two batches and it reconnected.
        Interrupt::Restart => assert!(
            if status.success() {
                stderr.contains("note: the state's database connected again: default isolation")
            } else {
                stderr.contains("routing stopped at input line")
            },
            "{status:?}: {stderr}"
        ),
    }
    if let Some(said) = stderr.split("routing stopped at input line ").nth(1) {
        let (line, rest) = said.split_once(": the ").unwrap();
        let (count, _) = rest.split_once(' ').unwrap();
        assert_eq!(
            (
                line.parse::<usize>().unwrap(),
                count.parse::<usize>().unwrap()
            ),
            (printed.len() + 1, printed.len()),
            "{stderr}"
        );
    }
    let before: BTreeMap<String, String> = printed
        .iter()
        .map(|d| {
            (
                d["lead"].as_str().unwrap().to_string(),
                d["rep"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(before.len(), printed.len());
    // Everything again, as a client that retries would.
    let again = json_lines(&ok(&run(
        &["route", &policy, "--state", &state, "--quiet"],
        &leads.concat(),
    )));
    assert_eq!(again.len(), leads.len());
    let mut fresh_now = 0;
    for decision in &again {
        let lead = decision["lead"].as_str().unwrap();
        match before.get(lead) {
            Some(rep) => {
                assert_eq!(decision["duplicate"], true, "{lead} was printed, then lost");
                assert_eq!(
                    decision["rep"].as_str(),
                    Some(rep.as_str()),
                    "{lead} changed rep"
                );
            }
            None => fresh_now += usize::from(decision["duplicate"] != true),
        }
    }
    // Leads decided but not printed before the interruption (a committed batch whose lines
    // were not all read) come back as duplicates; none is decided twice.
    assert!(fresh_now + before.len() <= leads.len());
    format!("{} printed before, {fresh_now} decided after", before.len())
}

/// TLS to the database: a role the server lets in only through TLS routes with
/// `sslmode=verify-full` and the CA in `sslrootcert` (or `PGSSLROOTCERT`); without TLS it is
/// refused, and without the CA the certificate is not trusted, with a message that says what
/// to give.
fn tls_to_the_database(store: Store) -> String {
    let cluster = cluster::cluster().unwrap();
    let ca = cluster
        .tls_root
        .clone()
        .expect("openssl made the test cluster's certificates");
    cluster.execute("DO $$ BEGIN CREATE ROLE tlsonly LOGIN SUPERUSER; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
    let url = store.state("tls").replace("switchboard@", "tlsonly@");
    let lead = "{\"id\":\"T-1\",\"created_at\":\"2026-11-23T10:00:00Z\"}\n";
    let policy = fixture("team/moved.route");
    let route_with = |state: &str, env: &[(&str, &Path)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        command
            .args(["route", &policy, "--state", state, "--quiet"])
            .env_remove("SWITCHBOARD_STATE")
            .env_remove("PGSSLROOTCERT")
            .env_remove("PGSSLMODE");
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                child.stdin.take().unwrap().write_all(lead.as_bytes())?;
                child.wait_with_output()
            })
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).to_string(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    };
    let route = |state: &str, root: Option<&Path>| match root {
        Some(root) => route_with(state, &[("PGSSLROOTCERT", root)]),
        None => route_with(state, &[]),
    };
    let (code, _, plain) = route(&format!("{url}?sslmode=disable"), None);
    assert_eq!(code, Some(2), "the role is refused without TLS: {plain}");
    assert!(plain.contains("pg_hba.conf rejects"), "{plain}");
    let (code, _, untrusted) = route(&format!("{url}?sslmode=require"), None);
    assert_eq!(code, Some(2), "{untrusted}");
    assert!(
        untrusted.contains("certificate") && untrusted.contains("sslrootcert=FILE"),
        "{untrusted}"
    );
    let (code, first, error) = route(
        &format!(
            "{url}?sslmode=verify-full&sslrootcert={}",
            ca.to_string_lossy()
        ),
        None,
    );
    assert_eq!(code, Some(0), "{error}");
    assert!(first.contains("\"rep\":\"anna\""), "{first}");
    let (code, again, error) = route(&format!("{url}?sslmode=require"), Some(&ca));
    assert_eq!(code, Some(0), "{error}");
    assert!(again.contains("\"duplicate\":true"), "{again}");
    // `PGSSLMODE=require` when the URL does not say: TLS (verified), never a plain fallback.
    let require = Path::new("require");
    let (code, _, error) = route_with(&url, &[("PGSSLMODE", require)]);
    assert_eq!(code, Some(2), "untrusted without the CA: {error}");
    assert!(error.contains("certificate"), "{error}");
    let (code, _, error) = route_with(&url, &[("PGSSLMODE", require), ("PGSSLROOTCERT", &ca)]);
    assert_eq!(code, Some(0), "{error}");
    format!("plain refused; untrusted: {untrusted}")
}

/// Starts `switchboard ARGS --listen 127.0.0.1:0` and answers it with the address it listens on.
fn start_server(args: &[&str]) -> (std::process::Child, String) {
    let (server, address, _log) = start_logged_server(args);
    (server, address)
}

/// [`start_server`], with the rest of the server's log (its standard error after the first
/// line), whole once the server has stopped.
fn start_logged_server(
    args: &[&str],
) -> (std::process::Child, String, std::thread::JoinHandle<String>) {
    use std::io::{BufRead, Read};
    let mut server = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("SWITCHBOARD_TOKEN")
        .env("SWITCHBOARD_NOTIFY_SECRET", NOTIFY_SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(server.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    let address: String = first
        .split("http://")
        .nth(1)
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
        .collect();
    let log = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        rest
    });
    (server, address, log)
}

/// The secret the servers sign notifications with (`whsec_` + base64).
const NOTIFY_SECRET: &str = "whsec_c3RvcmVzLXRlc3Qtc2VjcmV0";

/// One HTTP/1.1 request on its own connection: the status and the whole answer.
fn http(address: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

/// The body of an HTTP answer.
fn body_of(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

/// Four `serve` instances on one database, each delivering to one receiver: 20,000 lead lines
/// posted to them at once (every tenth id also to the next instance) while each sweeps every
/// second. Every lead is assigned once, round robin stays within one lead of even, every step
/// fires once, and the receiver gets each step once: one instance at a time holds the outbox.
fn four_servers_one_database(store: Store) -> String {
    let state = store.state("four_servers");
    let dir = scratch("four-servers");
    let policy = dir.join("desk.route");
    std::fs::write(
        &policy,
        "schema lead { id: string  tier: enum { gold, plain }  created_at: time }\n\
         pool desk { members a1, a2, a3, a4, a5  strategy round_robin }\n\
         pool backup { members b1, b2, b3  strategy round_robin }\n\
         rule gold: when tier = gold -> pool desk within 15m escalate backup after 30m\n\
         otherwise -> pool desk\n",
    )
    .unwrap();
    let policy = policy.to_string_lossy().to_string();
    let (receiver, deliveries) = receiver();
    let notify = format!("http://{receiver}/hook");
    let servers: Vec<_> = (0..4)
        .map(|_| {
            start_server(&[
                "serve",
                &policy,
                "--state",
                &state,
                "--sweep-every",
                "1",
                "--notify",
                &notify,
            ])
        })
        .collect();
    const PER_SERVER: usize = 5000;
    let id = |server: usize, n: usize| {
        if n.is_multiple_of(10) {
            ((server + 1) % 4) * PER_SERVER + n + 1
        } else {
            server * PER_SERVER + n
        }
    };
    let clients: Vec<_> = servers
        .iter()
        .enumerate()
        .map(|(server, (_, address))| {
            let address = address.clone();
            std::thread::spawn(move || {
                let mut answers = Vec::new();
                for chunk in (0..PER_SERVER).collect::<Vec<_>>().chunks(100) {
                    let body: String = chunk
                        .iter()
                        .map(|n| {
                            let lead = id(server, *n);
                            let tier = if lead % 10 == 3 { "gold" } else { "plain" };
                            format!(
                                "{{\"id\":\"S-{lead}\",\"tier\":\"{tier}\",\"created_at\":\"2026-11-23T10:00:00Z\"}}\n"
                            )
                        })
                        .collect();
                    let (status, answer) = http(&address, "POST", "/v1/leads", &body);
                    assert_eq!(status, 200, "{answer}");
                    answers.extend(json_lines(body_of(&answer)));
                }
                answers
            })
        })
        .collect();
    let mut fresh: BTreeMap<String, String> = BTreeMap::new();
    let mut answered: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for client in clients {
        let answers = client.join().unwrap();
        assert_eq!(answers.len(), PER_SERVER, "lines in = answers out");
        for answer in answers {
            let lead = answer["lead"].as_str().unwrap().to_string();
            let rep = answer["rep"].as_str().unwrap().to_string();
            if answer["duplicate"] != true {
                assert!(
                    fresh.insert(lead.clone(), rep.clone()).is_none(),
                    "{lead} was assigned twice"
                );
            }
            answered.entry(lead).or_default().insert(rep);
        }
    }
    assert_eq!(fresh.len(), 4 * PER_SERVER - 4 * PER_SERVER / 10);
    // Every answer for a lead names its one rep, or (a duplicate answered after the sweep
    // escalated it) a member of the backup pool.
    for (lead, reps) in &answered {
        let others: Vec<&String> = reps
            .iter()
            .filter(|rep| *rep != &fresh[lead] && !rep.starts_with('b'))
            .collect();
        assert!(others.is_empty(), "{lead} was answered with {reps:?}");
    }
    assert_even(&fresh, "four servers");
    let gold: BTreeSet<&String> = fresh
        .keys()
        .filter(|lead| lead[2..].parse::<usize>().unwrap() % 10 == 3)
        .collect();
    // Every gold lead's step fires once, on one of the four, and reaches the receiver once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let (_, listing) = http(
            &servers[0].1,
            "GET",
            "/v1/escalations?since=2026-11-01&limit=10000",
            "",
        );
        let fired = json_lines(body_of(&listing));
        let delivered = deliveries.lock().unwrap().len();
        if fired.len() >= gold.len() && delivered >= gold.len() {
            let leads: BTreeSet<&str> = fired
                .iter()
                .map(|step| step["lead"].as_str().unwrap())
                .collect();
            assert_eq!(fired.len(), gold.len(), "each step fired once");
            assert_eq!(leads.len(), gold.len());
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {} steps fired, {delivered} delivered",
            fired.len(),
            gold.len()
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    // A little longer: a second notifier would deliver again now.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let deliveries = deliveries.lock().unwrap().clone();
    let ids: BTreeSet<&String> = deliveries.iter().collect();
    assert_eq!(
        deliveries.len(),
        gold.len(),
        "each step delivered once ({} distinct)",
        ids.len()
    );
    for (mut server, _) in servers {
        let _ = Command::new("kill")
            .args(["-TERM", &server.id().to_string()])
            .status();
        assert!(server.wait().unwrap().success());
    }
    format!(
        "{} leads, {} steps fired and delivered once",
        fresh.len(),
        gold.len()
    )
}

/// A receiver of notifications on a free port: answers 200 and keeps each delivery's
/// `webhook-id`.
fn receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Read};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let seen: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let log = std::sync::Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut line, mut length, mut id) = (String::new(), 0, String::new());
            let _ = reader.read_line(&mut line);
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim_end().is_empty() {
                    break;
                }
                if let Some((key, value)) = line.trim_end().split_once(':') {
                    match key.trim().to_ascii_lowercase().as_str() {
                        "content-length" => length = value.trim().parse().unwrap_or(0),
                        "webhook-id" => id = value.trim().to_string(),
                        _ => {}
                    }
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            log.lock().unwrap().push(id);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (address, seen)
}

/// `serve` on PostgreSQL while the database goes away and comes back: 503 while it is away
/// (nothing recorded), then answers again by itself, the earlier decision kept, and says again
/// how routers keep in step (the server behind the address may be another one, a failover).
fn serve_while_the_database_is_away(store: Store) -> String {
    let state = store.state("serve_away");
    let (mut server, address, log) = start_logged_server(&[
        "serve",
        &example("routing.route"),
        "--state",
        &state,
        "--sweep-every",
        "3600",
    ]);
    let post = |id: &str| -> (u16, String) {
        let body = format!(
            r#"{{"id":"{id}","intent":"high","fit":"strong","region":"emea","country":"DE","employees":800,"deal_value":20000,"source":"demo_request","created_at":"2026-11-23T10:00:00+01:00"}}"#
        );
        http(&address, "POST", "/v1/leads", &body)
    };
    let (status, first_answer) = post("A-1");
    assert_eq!(status, 200, "{first_answer}");
    let cluster = cluster::cluster().unwrap();
    cluster.stop();
    let (status, away) = post("A-2");
    assert_eq!(status, 503, "an answer while the database is away: {away}");
    cluster.start_again();
    // The first request after the database is back is answered: the store finds its old
    // connection gone at the batch's BEGIN and connects again before anything is done.
    let (status, answer) = post("A-2");
    assert_eq!(
        status, 200,
        "the first request once the database is back: {answer}"
    );
    // The decision made before the outage is still the recorded one.
    let (_, again) = post("A-1");
    assert!(again.contains("\"duplicate\":true"), "{again}");
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    assert!(server.wait().unwrap().success());
    let log = log.join().unwrap();
    let said_again = "the state's database connected again: default isolation read committed";
    assert_eq!(log.matches(said_again).count(), 1, "{log}");
    "503 while away, then 200".to_string()
}

fn kill_minus_nine_mid_load(store: Store) -> String {
    interrupted_load(store, Interrupt::Kill, "2")
}

/// A batch the database refuses (here a trigger of the test's own refuses one lead's ledger
/// row, as a full disk or a broken constraint would): the run stops, every line printed is
/// recorded, and the line it names as where it stopped is the failed batch's first, the one
/// to send again from, on one thread and on two. (The line of the lead that failed would skip
/// the batch's earlier leads, decided but not recorded.)
fn a_refused_batch_names_its_first_line(store: Store) -> String {
    let dir = scratch("refused-batch");
    let policy = desk_of_three(&dir);
    let leads: String = (1..=3000)
        .map(|n| {
            let id = if n == 2500 {
                "BOOM".to_string()
            } else {
                format!("R-{n}")
            };
            format!("{{\"id\":\"{id}\",\"created_at\":\"2026-11-23T10:00:00Z\"}}\n")
        })
        .collect();
    let file = dir.join("leads.ndjson");
    std::fs::write(&file, leads).unwrap();
    let file = file.to_string_lossy().to_string();
    let mut said = Vec::new();
    for threads in ["1", "2"] {
        let state = store.state(&format!("refused_{threads}"));
        ok(&run(&["state", "init", "--state", &state], ""));
        let mut client = postgres::Client::connect(&state, postgres::NoTls).unwrap();
        client
            .batch_execute(
                "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF NEW.lead = 'BOOM' THEN RAISE EXCEPTION 'refused by the test'; END IF; \
                 RETURN NEW; END $$; \
                 CREATE TRIGGER refuse_boom BEFORE INSERT ON ledger FOR EACH ROW \
                 EXECUTE FUNCTION refuse_boom();",
            )
            .unwrap();
        let output = run(
            &[
                "route",
                &policy,
                "--state",
                &state,
                "--leads",
                &file,
                "--quiet",
                "--threads",
                threads,
            ],
            "",
        );
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert_eq!(output.status.code(), Some(2), "{threads}: {stderr}");
        assert!(
            stderr.contains("refused by the test"),
            "{threads}: {stderr}"
        );
        let printed = json_lines(&String::from_utf8(output.stdout).unwrap()).len();
        let recorded = cluster::count(&state, "SELECT count(*) FROM ledger");
        assert_eq!(
            recorded,
            i64::try_from(printed).unwrap(),
            "{threads}: {stderr}"
        );
        assert!(printed < 2500, "{threads}: {printed} printed");
        let expected = format!(
            "routing stopped at input line {}: the {printed} lines printed before it are recorded",
            printed + 1
        );
        assert!(stderr.contains(&expected), "{threads}: {stderr}");
        said.push(format!(
            "threads {threads}: stopped at line {}",
            printed + 1
        ));
    }
    said.join("; ")
}

/// On two threads (the default here) and on one, whose batches fail and stop differently.
/// Commands that only read a state refuse one that is not there (a misspelt file or database
/// name) rather than make an empty one and report on it, and `explain` of a lead given whole
/// decides it from an empty state: nothing is created.
fn a_state_that_is_not_there_is_not_made(store: Store) -> String {
    let state = store.state("not_there");
    let policy = example("routing.route");
    for args in [
        vec!["report", policy.as_str(), "--state", state.as_str()],
        vec![
            "sweep",
            policy.as_str(),
            "--state",
            state.as_str(),
            "--now",
            "2026-11-23T12:00:00Z",
        ],
        vec!["state", "export", "--state", state.as_str()],
        // A lead looked up by its id: nothing recorded there.
        vec![
            "explain",
            policy.as_str(),
            "--lead",
            "L-1",
            "--state",
            state.as_str(),
        ],
    ] {
        let output = run(&args, "");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("there is no state"), "{args:?}: {stderr}");
    }
    // The lead itself: where it would go, from an empty state, creating none.
    let lead = r#"{"id":"L-1","intent":"high","fit":"strong","region":"emea","country":"DE","employees":800,"deal_value":20000,"source":"demo_request","created_at":"2026-11-23T10:00:00+01:00"}"#;
    let what_if = ok(&run(
        &[
            "explain",
            &policy,
            "--lead",
            lead,
            "--state",
            &state,
            "--now",
            "2026-11-23T10:00:00Z",
        ],
        "",
    ));
    assert!(what_if.contains("L-1"), "{what_if}");
    // Still nothing there: `state init` creates the tables now, not before.
    let init = ok(&run(&["state", "init", "--state", &state], ""));
    assert!(init.contains(": created tables version"), "{init}");
    "refused, nothing created".to_string()
}

/// A restart while `route` waits for input between two batches is ridden out: the next batch
/// finds the connection gone at its BEGIN, connects again, and the run goes on to the end.
fn restart_between_batches(store: Store) -> String {
    use std::io::BufRead;
    let state = store.state("restart_between");
    let dir = scratch(&format!("restart-between-{store:?}"));
    let policy = desk_of_three(&dir);
    let lead = |n: usize| format!("{{\"id\":\"B-{n}\",\"created_at\":\"2026-11-23T10:00:00Z\"}}\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["route", &policy, "--state", &state, "--quiet"])
        .env_remove("SWITCHBOARD_STATE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdin
        .write_all((0..50).map(lead).collect::<String>().as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    for _ in 0..50 {
        line.clear();
        stdout.read_line(&mut line).unwrap();
    }
    // Every line of the first batch is printed: the router waits for input, idle.
    cluster::cluster().unwrap().restart();
    stdin
        .write_all((50..100).map(lead).collect::<String>().as_bytes())
        .unwrap();
    drop(stdin);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr);
    assert!(status.success(), "{stderr}");
    assert_eq!(rest.lines().count(), 50, "{stderr}");
    assert!(
        stderr.contains("note: the state's database connected again"),
        "{stderr}"
    );
    "100 leads, a restart between two batches, no error".to_string()
}

fn postgres_restart_mid_load(store: Store) -> String {
    let two = interrupted_load(store, Interrupt::Restart, "2");
    let one = interrupted_load(store, Interrupt::Restart, "1");
    format!("two threads: {two}; one thread: {one}")
}

// ---- the harness ------------------------------------------------------------------------------

type Body = fn(Store) -> String;

/// Tests whose output must be the same bytes on every store.
/// A state moved mid-run: 200 leads routed and swept on SQLite, the state exported and imported
/// into the store under test, then 200 more routed and swept there. What follows the move (the
/// decisions, the fired steps, and every row of the final state) equals a run that never moved.
fn moved_mid_run(store: Store) -> String {
    let policy = fixture("team/moved.route");
    let leads = |range: std::ops::Range<usize>| -> String {
        range
            .map(|n| {
                let email = if n % 3 == 0 {
                    "null".to_string()
                } else {
                    format!("\"buyer{}@acme.com\"", n % 40)
                };
                format!(
                    "{{\"id\":\"M-{n}\",\"email\":{email},\"created_at\":\"2026-11-24T{:02}:{:02}:00Z\"}}\n",
                    8 + n / 60,
                    n % 60
                )
            })
            .collect()
    };
    let route = |state: &str, input: &str, now: &str| {
        ok(&run(
            &["route", &policy, "--state", state, "--now", now, "--quiet"],
            input,
        ))
    };
    let sweep = |state: &str, now: &str| sweep_at(&policy, state, now);
    let rows = |state: &str| -> String {
        let exported = ok(&run(&["state", "export", "--state", state], ""));
        // The header names the store exported from; the rows are the same on every store.
        exported
            .lines()
            .skip(1)
            .map(|line| format!("{line}\n"))
            .collect()
    };
    let (first, second) = (leads(0..200), leads(200..400));
    let whole = scratch("moved-whole").join("state.db");
    let whole = whole.to_string_lossy();
    route(&whole, &first, "2026-11-24T11:20:00Z");
    sweep(&whole, "2026-11-24T12:00:00Z");
    let expected = [
        route(&whole, &second, "2026-11-24T14:40:00Z"),
        sweep(&whole, "2026-11-24T18:00:00Z"),
        rows(&whole),
    ]
    .concat();

    let source = scratch("moved-source").join("state.db");
    let source = source.to_string_lossy();
    route(&source, &first, "2026-11-24T11:20:00Z");
    sweep(&source, "2026-11-24T12:00:00Z");
    let export = scratch("moved-export").join("state.ndjson");
    let export = export.to_string_lossy();
    ok(&run(
        &["state", "export", "--state", &source, "--output", &export],
        "",
    ));
    let target = store.state("moved");
    // `state init` makes the tables once, then says they are current.
    let init = |state: &str| ok(&run(&["state", "init", "--state", state], ""));
    assert!(
        init(&target).contains(": created tables version"),
        "{}",
        init(&target)
    );
    assert!(init(&target).contains("already current"));
    // PostgreSQL says how it keeps routers in step (the throwaway cluster's default isolation
    // is PostgreSQL's own, read committed); SQLite, owned by one process, has nothing to say.
    let isolation = match store {
        Store::Postgres => Some(
            "default isolation read committed: a lead nobody in its pool can take is decided \
             on counts read before the gate, and the counts are confirmed under it",
        ),
        Store::Sqlite => None,
    };
    assert_eq!(
        init(&target)
            .lines()
            .find_map(|line| line.split_once(": default isolation"))
            .map(|(_, said)| format!("default isolation{said}")),
        isolation.map(str::to_string),
        "{}",
        init(&target)
    );
    let imported = run(&["state", "import", &export, "--state", &target], "");
    ok(&imported);
    let missing = scratch("moved-missing").join("typo.db");
    let missing = missing.to_string_lossy();
    let typo = run(&["state", "export", "--state", &missing], "");
    assert_eq!(typo.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&typo.stderr).contains("there is no state at"),
        "{}",
        String::from_utf8_lossy(&typo.stderr)
    );
    assert!(
        !Path::new(&*missing).exists(),
        "a misspelt path creates no file"
    );
    let again = run(&["state", "import", &export, "--state", &target], "");
    assert_eq!(again.status.code(), Some(2), "a second import is refused");
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds 200 leads"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let after = [
        route(&target, &second, "2026-11-24T14:40:00Z"),
        sweep(&target, "2026-11-24T18:00:00Z"),
        rows(&target),
    ]
    .concat();
    assert_eq!(
        after, expected,
        "the moved state went on as the unmoved one"
    );
    assert!(after.contains("\"kind\":\"life\"") && after.contains("\"kind\":\"prospect\""));
    // Steps scheduled before the move fire after it.
    let moved = std::fs::read_to_string(&*export).unwrap();
    assert!(moved.contains("\"kind\":\"due\""), "{moved}");
    assert!(after.contains("\"event\":\"escalated\""), "{after}");
    after
}

const SAME_ON_EVERY_STORE: [(&str, Body); 9] = [
    ("moved_mid_run", moved_mid_run),
    ("caps_reached_within_a_batch", caps_reached_within_a_batch),
    (
        "one_batch_of_mixed_and_repeated_leads",
        one_batch_of_mixed_and_repeated_leads,
    ),
    (
        "routing_duplicates_and_id_conflicts",
        routing_duplicates_and_id_conflicts,
    ),
    ("period_caps", period_caps),
    ("previous_rep", previous_rep),
    ("sweep_and_report", sweep_and_report),
    ("sweep_chains", sweep_chains),
    ("serve_sweeps_chains", serve_sweeps_chains),
];

/// Tests whose outcome may differ between stores in its details (which router got which lead).
const ON_EVERY_STORE: [(&str, Body); 5] = [
    (
        "a_state_that_is_not_there_is_not_made",
        a_state_that_is_not_there_is_not_made,
    ),
    ("four_routers_at_once", four_routers_at_once),
    ("four_routers_from_files", four_routers_from_files),
    ("four_routers_on_a_cap", four_routers_on_a_cap),
    ("kill_minus_nine_mid_load", kill_minus_nine_mid_load),
];

/// Tests of what only a database server does.
const ON_POSTGRES: [(&str, Body); 11] = [
    ("tls_to_the_database", tls_to_the_database),
    (
        "rows_left_without_their_ledger_entries",
        rows_left_without_their_ledger_entries,
    ),
    (
        "a_count_grows_before_the_gate",
        a_count_grows_before_the_gate,
    ),
    (
        "a_write_while_the_commits_are_handed_over",
        a_write_while_the_commits_are_handed_over,
    ),
    ("serializable_by_default", serializable_by_default),
    ("one_thread_and_two_agree", one_thread_and_two_agree),
    ("four_servers_one_database", four_servers_one_database),
    ("postgres_restart_mid_load", postgres_restart_mid_load),
    ("restart_between_batches", restart_between_batches),
    (
        "a_refused_batch_names_its_first_line",
        a_refused_batch_names_its_first_line,
    ),
    (
        "serve_while_the_database_is_away",
        serve_while_the_database_is_away,
    ),
];

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let postgres = if cfg!(feature = "postgres") {
        cluster::cluster().map(|_| ()).err()
    } else {
        Some("this build has no PostgreSQL support (the `postgres` feature is off)".to_string())
    };
    let (mut passed, mut failed, mut not_run) = (0, Vec::new(), 0);
    let attempt = |name: String,
                   body: &dyn Fn() -> String,
                   passed: &mut usize,
                   failed: &mut Vec<String>|
     -> Option<String> {
        print!("test {name} ... ");
        let _ = std::io::stdout().flush();
        let started = std::time::Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
        common::scratch_done(outcome.is_ok());
        match outcome {
            Ok(output) => {
                println!("ok ({:.1} s)", started.elapsed().as_secs_f64());
                *passed += 1;
                Some(output)
            }
            Err(_) => {
                println!("FAILED");
                failed.push(name);
                None
            }
        }
    };
    for (name, body) in SAME_ON_EVERY_STORE.iter().chain(&ON_EVERY_STORE) {
        if !wanted(name) {
            continue;
        }
        let on_sqlite = attempt(
            format!("{name} (sqlite)"),
            &|| body(Store::Sqlite),
            &mut passed,
            &mut failed,
        );
        if let Some(reason) = &postgres {
            println!("test {name} (postgres) ... not run: {reason}");
            not_run += 1;
            continue;
        }
        let on_postgres = attempt(
            format!("{name} (postgres)"),
            &|| body(Store::Postgres),
            &mut passed,
            &mut failed,
        );
        let same = SAME_ON_EVERY_STORE.iter().any(|(same, _)| same == name);
        if same
            && let (Some(sqlite), Some(postgres)) = (&on_sqlite, &on_postgres)
            && sqlite != postgres
        {
            println!("test {name} (postgres = sqlite) ... FAILED");
            for (line, (a, b)) in sqlite.lines().zip(postgres.lines()).enumerate() {
                if a != b {
                    println!(
                        "  first difference, line {}:\n  sqlite:   {a}\n  postgres: {b}",
                        line + 1
                    );
                    break;
                }
            }
            failed.push(format!("{name} (postgres = sqlite)"));
        }
    }
    for (name, body) in ON_POSTGRES {
        if !wanted(name) {
            continue;
        }
        let serves = matches!(
            name,
            "serve_while_the_database_is_away" | "four_servers_one_database"
        );
        if serves && !cfg!(feature = "serve") {
            println!("test {name} (postgres) ... not run: the `serve` feature is off");
            not_run += 1;
            continue;
        }
        if let Some(reason) = &postgres {
            println!("test {name} (postgres) ... not run: {reason}");
            not_run += 1;
            continue;
        }
        if name == "tls_to_the_database"
            && cluster::cluster().is_ok_and(|cluster| cluster.tls_root.is_none())
        {
            println!(
                "test {name} (postgres) ... not run: `openssl` could not make the test \
                 cluster's certificates (is it installed?)"
            );
            not_run += 1;
            continue;
        }
        attempt(
            format!("{name} (postgres)"),
            &|| body(Store::Postgres),
            &mut passed,
            &mut failed,
        );
    }
    println!(
        "\ntest result: {}. {passed} passed; {} failed; {not_run} not run{}",
        if failed.is_empty() { "ok" } else { "FAILED" },
        failed.len(),
        postgres
            .as_ref()
            .map(|reason| format!(" (PostgreSQL: {reason})"))
            .unwrap_or_default()
    );
    cluster::remove_files();
    if !failed.is_empty() {
        println!("failures: {failed:?}");
        std::process::exit(1);
    }
}
