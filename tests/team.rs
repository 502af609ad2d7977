//! The team as it works (issue 14), through `switchboard route` and `check`: per-rep working
//! time with `on shift`, caps per hour, day and week counted in each rep's own time zone (across
//! DST changes and week boundaries, with leads out of order), `rep` items, and escalation to the
//! rule's own pool. Every scenario runs with the in-memory state and with the SQLite state.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/team")
        .join(name)
        .to_string_lossy()
        .to_string()
}

fn scratch(name: &str) -> PathBuf {
    common::scratch("team", name)
}

fn run(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
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

/// The two stores every scenario runs with: in memory, and a fresh SQLite file.
fn stores(name: &str) -> Vec<String> {
    let file = scratch(name).join("state.db");
    vec![":memory:".to_string(), file.to_string_lossy().to_string()]
}

/// Routes `leads` (one JSON object per line) with `policy` and `state`; one JSON value per line.
fn route(policy: &str, state: &str, leads: &[String]) -> Vec<serde_json::Value> {
    routed(
        &["route", &fixture(policy), "--state", state, "--explain"],
        leads,
    )
}

/// `switchboard ARGS` with `leads` on stdin, one per line, which must exit 0: one JSON value
/// per line out, one per lead.
fn routed(args: &[&str], leads: &[String]) -> Vec<serde_json::Value> {
    let input: String = leads.iter().map(|lead| format!("{lead}\n")).collect();
    let output = run(args, &input);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let decisions: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(decisions.len(), leads.len(), "one line per lead");
    decisions
}

fn lead(id: &str, fields: &str, at: &str) -> String {
    format!(r#"{{"id":"{id}",{fields},"created_at":"{at}"}}"#)
}

fn reps(decisions: &[serde_json::Value]) -> Vec<String> {
    decisions
        .iter()
        .map(|d| d["rep"].as_str().unwrap_or("-").to_string())
        .collect()
}

/// Why each member of the pool that took the lead was passed over (`--explain`).
fn passed_over(decision: &serde_json::Value) -> Vec<String> {
    decision["trace"]["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|action| action["candidates"].as_array().into_iter().flatten())
        .filter(|candidate| candidate["eligible"] == false)
        .map(|c| {
            format!(
                "{}: {}",
                c["rep"].as_str().unwrap(),
                c["why"].as_str().unwrap()
            )
        })
        .collect()
}

fn reasons(decision: &serde_json::Value) -> Vec<String> {
    decision["reason"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|r| r["reason"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_moscow_and_novosibirsk_pool_on_shift_assigns_whoever_is_at_work() {
    for state in stores("msk-nsk") {
        let east = |id: &str, at: &str| lead(id, r#""region":"east""#, at);
        let decisions = route(
            "shifts.route",
            &state,
            &[
                // 16:00 in Moscow is 20:00 in Novosibirsk: only olga is at work.
                east("L-1", "2026-11-24T16:00:00+03:00"),
                // 07:00 in Moscow is 11:00 in Novosibirsk: only igor is.
                east("L-2", "2026-11-24T07:00:00+03:00"),
                // 03:00 in Moscow: nobody; igor starts first (09:00 Novosibirsk is 05:00 Moscow).
                east("L-3", "2026-11-24T03:00:00+03:00"),
            ],
        );
        assert_eq!(reps(&decisions), ["olga", "igor", "igor"], "{state}");
        assert!(reasons(&decisions[0]).is_empty());
        // The SLA runs on the rep's own calendar, in their zone.
        assert_eq!(decisions[0]["due"], "2026-11-24T18:00:00+03:00");
        assert_eq!(decisions[1]["due"], "2026-11-24T13:00:00+07:00");
        let why = reasons(&decisions[2]);
        assert_eq!(
            why,
            [
                "nobody in pool `national` is eligible: olga off shift until 09:00 Europe/Moscow, \
                 igor off shift until 09:00 Asia/Novosibirsk",
                "nobody on shift; igor starts at 2026-11-24T09:00:00+07:00",
            ],
            "{state}"
        );
        // The due time counts from when igor starts, not from the lead's time.
        assert_eq!(decisions[2]["due"], "2026-11-24T11:00:00+07:00");
        assert_eq!(decisions[2]["action"], "pool");
    }
}

/// When nobody is on shift, the lead waits for the member who starts first *and is at work
/// then*: a rep the roster has out of office from before their next opening starts after the
/// absence, so a colleague who starts later the same day takes the lead.
#[test]
fn nobody_on_shift_waits_for_the_first_rep_in_the_office_at_their_start() {
    let dir = scratch("on-shift-absent");
    let roster = dir.join("roster.json");
    // igor (Novosibirsk) is out from Tuesday 08:00 his time, an hour before his shift, to
    // Saturday; olga is at work.
    std::fs::write(
        &roster,
        r#"{"reps":{"olga":{},"igor":{"out_of_office":[
            {"from":"2026-11-24T08:00:00+07:00","to":"2026-11-28T00:00:00+07:00"}]}}}"#,
    )
    .unwrap();
    for state in stores("on-shift-absent-state") {
        // 03:00 Moscow on Tuesday: nobody is on shift; igor would start first (05:00 Moscow),
        // but he is away until Saturday: olga starts at 09:00 Moscow.
        let decisions = routed(
            &[
                "route",
                &fixture("shifts.route"),
                "--state",
                &state,
                "--roster",
                &roster.to_string_lossy(),
                "--explain",
            ],
            &[lead(
                "L-3",
                r#""region":"east""#,
                "2026-11-24T03:00:00+03:00",
            )],
        );
        let decision = &decisions[0];
        assert_eq!(decision["rep"], "olga", "{state}: {decision}");
        assert_eq!(
            reasons(decision),
            [
                "nobody in pool `national` is eligible: olga off shift until 09:00 Europe/Moscow, \
                 igor off shift, then out of office, until 2026-11-30 09:00 Asia/Novosibirsk",
                "nobody on shift; olga starts at 2026-11-24T09:00:00+03:00",
            ],
            "{state}"
        );
        assert_eq!(decision["due"], "2026-11-24T11:00:00+03:00");
    }
}

/// With nobody on shift, a rep out of office at the lead's time is waited for too, from when
/// they are back at work: an absence over a weekend does not leave a Saturday lead unassigned,
/// nor hand it to a colleague who starts later. An absence for good (`9999-12-31`, HR's
/// "indefinitely") is not waited for, and keeps the rep from every lead.
#[test]
fn nobody_on_shift_waits_for_a_rep_back_from_an_absence_and_never_for_good() {
    let dir = scratch("absent-now");
    let roster = dir.join("roster.json");
    let with_roster = |policy: &str, roster_json: &str, leads: &[String]| {
        std::fs::write(&roster, roster_json).unwrap();
        let roster = roster.to_string_lossy();
        routed(
            &["route", policy, "--state", ":memory:", "--roster", &roster],
            leads,
        )
    };
    let route_with = |roster_json: &str, at: &str| -> serde_json::Value {
        let leads = [lead("W-1", r#""region":"east""#, at)];
        with_roster(&fixture("shifts.route"), roster_json, &leads).remove(0)
    };
    // Saturday noon in Moscow: olga is out Friday to Sunday, igor is away.
    let decision = route_with(
        r#"{"reps":{"olga":{"out_of_office":[{"from":"2026-11-27","to":"2026-11-29"}]},
            "igor":{"status":"away"}}}"#,
        "2026-11-28T12:00:00+03:00",
    );
    assert_eq!(decision["rep"], "olga", "{decision}");
    assert_eq!(
        reasons(&decision)[1],
        "nobody on shift; olga starts at 2026-11-30T09:00:00+03:00"
    );
    // olga is back on Monday at 11:00 Moscow; igor (Novosibirsk) is out all Monday: olga,
    // from 11:00, before igor's Tuesday.
    let decision = route_with(
        r#"{"reps":{"olga":{"out_of_office":[{"from":"2026-11-27T12:00:00+03:00","to":"2026-11-30T11:00:00+03:00"}]},
            "igor":{"out_of_office":[{"from":"2026-11-30","to":"2026-11-30"}]}}}"#,
        "2026-11-28T12:00:00+03:00",
    );
    assert_eq!(decision["rep"], "olga", "{decision}");
    assert_eq!(decision["due"], "2026-11-30T13:00:00+03:00");
    // A member back from an absence is waited for only if they could take the lead then: at
    // their cap (one open lead), the second lead of the weekend is not parked with them.
    let capped = dir.join("capped.route");
    std::fs::write(
        &capped,
        std::fs::read_to_string(fixture("shifts.route"))
            .unwrap()
            .replace(
                "strategy round_robin  on shift",
                "strategy round_robin  on shift  cap 1",
            ),
    )
    .unwrap();
    let decisions = with_roster(
        &capped.to_string_lossy(),
        r#"{"reps":{"olga":{"out_of_office":[{"from":"2026-11-27","to":"2026-11-29"}]},
            "igor":{"status":"away"}}}"#,
        &[
            lead("W-2", r#""region":"east""#, "2026-11-28T12:00:00+03:00"),
            lead("W-3", r#""region":"east""#, "2026-11-28T13:00:00+03:00"),
        ],
    );
    assert_eq!(reps(&decisions), ["olga", "-"], "{decisions:?}");
    assert_eq!(decisions[1]["action"], "unassigned");
    // Away for more than ten years: not waited for.
    let decision = route_with(
        r#"{"reps":{"olga":{"status":"away"},
            "igor":{"out_of_office":[{"from":"2026-11-27","to":"2099-12-31"}]}}}"#,
        "2026-11-28T12:00:00+03:00",
    );
    assert_eq!(decision["action"], "unassigned", "{decision}");
    // Out for good: igor is not waited for, and olga's absence for good keeps her from leads.
    for end in ["9999-12-30", "9999-12-31", "9999-12-31T23:59:59Z"] {
        let decision = route_with(
            &format!(
                r#"{{"reps":{{"olga":{{"out_of_office":[{{"from":"2026-01-01","to":"{end}"}}]}},
                    "igor":{{"status":"away"}}}}}}"#
            ),
            "2026-11-24T12:00:00+03:00",
        );
        assert_eq!(decision["action"], "unassigned", "{end}: {decision}");
    }
}

#[test]
fn a_rep_whose_day_ends_while_the_pools_goes_on_is_passed_over() {
    for state in stores("mornings") {
        let west = |id: &str, at: &str| lead(id, r#""region":"west""#, at);
        let decisions = route(
            "shifts.route",
            &state,
            &[
                west("W-1", "2026-11-24T10:00:00+01:00"),
                // marta works mornings only; the pool's calendar is open until 18:00.
                west("W-2", "2026-11-24T14:00:00+01:00"),
            ],
        );
        assert_eq!(reps(&decisions), ["marta", "jonas"], "{state}");
        assert_eq!(
            passed_over(&decisions[1]),
            ["marta: off shift until 2026-11-25 09:00 Europe/Berlin"]
        );
        // marta's SLA runs on her own calendar (09:00-13:00), jonas's on the pool's.
        assert_eq!(decisions[0]["due"], "2026-11-24T11:00:00+01:00");
        assert_eq!(decisions[1]["due"], "2026-11-24T15:00:00+01:00");
    }
}

#[test]
fn cap_2_per_day_sends_the_third_lead_of_a_day_on_and_resets_the_next_local_day() {
    for state in stores("daily") {
        let daily = |id: &str, at: &str| lead(id, r#""team":"daily""#, at);
        let decisions = route(
            "caps.route",
            &state,
            &[
                daily("D-1", "2026-11-24T09:00:00+01:00"),
                daily("D-2", "2026-11-24T10:00:00+01:00"),
                // anna has had 2 today: the next member.
                daily("D-3", "2026-11-24T11:00:00+01:00"),
                // The next Berlin day, anna is eligible again.
                daily("D-4", "2026-11-25T00:30:00+01:00"),
                // Out of order: a lead of the first day counts in the first day.
                daily("D-5", "2026-11-24T23:59:00+01:00"),
            ],
        );
        assert_eq!(
            reps(&decisions),
            ["anna", "anna", "boris", "anna", "boris"],
            "{state}"
        );
        assert_eq!(passed_over(&decisions[2]), ["anna: at cap 2/2 today"]);
        // boris works from New York: 2026-11-25 00:30 in Berlin is still the 24th there, so
        // his day holds D-3 and D-5; a sixth lead that Berlin day finds both at cap.
    }
}

#[test]
fn a_period_cap_on_a_rep_item_alone_is_counted_with_every_store() {
    // An in-memory state made for one run keeps the leads' own times only when the policy has
    // a period cap somewhere: here only a `rep` item has one, the pool none.
    let dir = scratch("rep-item-cap");
    let policy = dir.join("rep_item_cap.route");
    std::fs::write(
        &policy,
        "schema lead {\n  id: string\n  team: string\n  created_at: time\n}\n\n\
         rep anna { cap 1 per day }\n\
         pool desk { members anna, boris  strategy ordered }\n\n\
         otherwise -> pool desk\n",
    )
    .unwrap();
    let policy = policy.to_string_lossy().to_string();
    for state in stores("rep-item-cap-state") {
        let desk = |id: &str, at: &str| lead(id, r#""team":"desk""#, at);
        let decisions = routed(
            &["route", &policy, "--state", &state, "--explain"],
            &[
                desk("R-1", "2026-11-24T09:00:00Z"),
                desk("R-2", "2026-11-24T10:00:00Z"),
                desk("R-3", "2026-11-25T09:00:00Z"),
                // Out of order: the first day's cap still holds.
                desk("R-4", "2026-11-24T23:00:00Z"),
            ],
        );
        assert_eq!(
            reps(&decisions),
            ["anna", "boris", "anna", "boris"],
            "{state}"
        );
        assert_eq!(passed_over(&decisions[1]), ["anna: at cap 1/1 today"]);
    }
}

#[test]
fn a_day_with_a_dst_change_is_23_hours_long() {
    for state in stores("dst") {
        let daily = |id: &str, at: &str| lead(id, r#""team":"daily""#, at);
        // 2027-03-28 in Berlin: 00:00+01:00 to 24:00+02:00, 23 hours.
        let decisions = route(
            "caps.route",
            &state,
            &[
                daily("S-1", "2027-03-28T00:10:00+01:00"),
                daily("S-2", "2027-03-28T23:50:00+02:00"),
                // The same local day: anna is at cap.
                daily("S-3", "2027-03-28T23:55:00+02:00"),
                // 2027-03-29 00:05+02:00 is 23 hours and 55 minutes after the day began.
                daily("S-4", "2027-03-29T00:05:00+02:00"),
            ],
        );
        assert_eq!(
            reps(&decisions),
            ["anna", "anna", "boris", "anna"],
            "{state}"
        );
    }
}

#[test]
fn weekly_caps_count_from_monday_and_a_rep_item_overrides_the_pool() {
    for state in stores("weekly") {
        let weekly = |id: &str, at: &str| lead(id, r#""team":"weekly""#, at);
        // rita's own cap is 3 a week (the pool says 10).
        let decisions = route(
            "caps.route",
            &state,
            &[
                weekly("K-1", "2026-11-23T09:00:00+01:00"),
                weekly("K-2", "2026-11-25T09:00:00+01:00"),
                weekly("K-3", "2026-11-29T23:00:00+01:00"),
                // Sunday, still the same week: rita is at cap.
                weekly("K-4", "2026-11-29T23:30:00+01:00"),
                // Monday 00:30: a new week.
                weekly("K-5", "2026-11-30T00:30:00+01:00"),
            ],
        );
        assert_eq!(
            reps(&decisions),
            ["rita", "rita", "rita", "sam", "rita"],
            "{state}"
        );
        assert_eq!(passed_over(&decisions[3]), ["rita: at cap 3/3 this week"]);
    }
}

#[test]
fn the_counts_of_period_caps_survive_between_runs_of_the_sqlite_state() {
    let state = scratch("runs").join("state.db");
    let state = state.to_string_lossy().to_string();
    let daily = |id: &str, at: &str| lead(id, r#""team":"daily""#, at);
    let first = route(
        "caps.route",
        &state,
        &[
            daily("R-1", "2026-11-24T09:00:00+01:00"),
            daily("R-2", "2026-11-24T10:00:00+01:00"),
        ],
    );
    assert_eq!(reps(&first), ["anna", "anna"]);
    let second = route(
        "caps.route",
        &state,
        &[daily("R-3", "2026-11-24T11:00:00+01:00")],
    );
    assert_eq!(reps(&second), ["boris"]);
}

#[test]
fn the_team_words_check_clean_and_their_mistakes_are_named() {
    for policy in ["shifts.route", "caps.route"] {
        let output = run(&["check", &fixture(policy)], "");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{policy}: {stderr}");
    }
    // `escalate national after 2h` on a rule that routes to `national` is clean (above); a
    // misspelt calendar on a rep, a period given twice, `cap 0 per day`, and a rep item nobody
    // can reach are not.
    let dir = scratch("mistakes");
    let policy = dir.join("team.route");
    std::fs::write(
        &policy,
        "schema lead { id: string }\n\
         calendar msk { timezone Europe/Moscow  hours mon-fri 09:00-18:00 }\n\
         rep olga { calendar mks  cap 3 per day  cap 4 per day }\n\
         rep zoe { cap 0 per week }\n\
         pool national { members olga, igor  on shift  cap 0 per day }\n\
         otherwise -> pool national\n",
    )
    .unwrap();
    let output = run(
        &["check", &policy.to_string_lossy(), "--format", "json"],
        "",
    );
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let found: Vec<(String, String)> = report
        .as_array()
        .into_iter()
        .flatten()
        .chain(report["diagnostics"].as_array().into_iter().flatten())
        .map(|d| {
            (
                d["code"].as_str().unwrap_or_default().to_string(),
                d["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    for expected in [
        ("unknown-calendar", "unknown calendar `mks`"),
        ("duplicate-clause", "`cap N per day` is given twice"),
        ("zero-cap", "rep `zoe` has `cap 0 per week`"),
        ("zero-cap", "pool `national` has `cap 0 per day`"),
        ("unused-rep", "rep `zoe` is in no pool and named by no rule"),
    ] {
        assert!(
            found
                .iter()
                .any(|(code, message)| code == expected.0 && message == expected.1),
            "{expected:?} not in {found:?}"
        );
    }
}

#[test]
fn a_version_3_state_file_gains_the_period_counts_and_keeps_its_ledger() {
    let dir = scratch("v3");
    let state = dir.join("state.db").to_string_lossy().to_string();
    let daily = |id: &str, at: &str| lead(id, r#""team":"daily""#, at);
    route(
        "caps.route",
        &state,
        &[daily("V-1", "2026-11-24T09:00:00+01:00")],
    );
    // Make it the version 3 file an earlier Switchboard wrote: no lead times.
    rusqlite::Connection::open(&state)
        .unwrap()
        .execute_batch(
            "CREATE TABLE old (lead TEXT PRIMARY KEY, rep TEXT NOT NULL, at_s INTEGER NOT NULL); \
             INSERT INTO old SELECT lead, rep, at_s FROM assignments; \
             DROP TABLE assignments; ALTER TABLE old RENAME TO assignments; \
             DROP TABLE lead_counts; DROP TABLE window_counts; \
             DROP TABLE prospects; PRAGMA user_version = 3;",
        )
        .unwrap();
    let again = route(
        "caps.route",
        &state,
        &[
            daily("V-1", "2026-11-24T09:00:00+01:00"),
            daily("V-2", "2026-11-24T10:00:00+01:00"),
            daily("V-3", "2026-11-24T11:00:00+01:00"),
        ],
    );
    assert_eq!(again[0]["duplicate"], true);
    // The assignment before the upgrade has no lead time, so it counts in no period: anna
    // takes two more that day.
    assert_eq!(reps(&again), ["anna", "anna", "anna"]);
    let version: i64 = rusqlite::Connection::open(&state)
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 15);
}

/// The rows `sql` reads, three columns each.
fn triples<A, B, C>(connection: &rusqlite::Connection, sql: &str) -> Vec<(A, B, C)>
where
    A: rusqlite::types::FromSql,
    B: rusqlite::types::FromSql,
    C: rusqlite::types::FromSql,
{
    connection
        .prepare(sql)
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Routes two of anna's daily leads into a new SQLite file, and answers the file's path.
fn two_daily_leads_for_anna(name: &str) -> String {
    let state = scratch(name).join("state.db").to_string_lossy().to_string();
    let daily = |id: &str, at: &str| lead(id, r#""team":"daily""#, at);
    let first = route(
        "caps.route",
        &state,
        &[
            daily("C-1", "2026-11-24T09:00:00+01:00"),
            daily("C-2", "2026-11-24T10:00:00+01:00"),
        ],
    );
    assert_eq!(reps(&first), ["anna", "anna"]);
    state
}

/// A third daily lead that Berlin day: anna is at cap, counted from what the file holds.
fn a_third_daily_lead_goes_past_anna(state: &str) {
    let third = route(
        "caps.route",
        state,
        &[lead(
            "C-3",
            r#""team":"daily""#,
            "2026-11-24T11:00:00+01:00",
        )],
    );
    assert_eq!(reps(&third), ["boris"]);
    assert_eq!(passed_over(&third[0]), ["anna: at cap 2/2 today"]);
}

#[test]
fn a_window_counted_afresh_adds_up_the_quarter_hours_of_the_leads_times() {
    let state = two_daily_leads_for_anna("afresh");
    let connection = rusqlite::Connection::open(&state).unwrap();
    // The window's count as the last run kept it is gone (as when a cap is new to the policy),
    // and so are anna's rows: only the quarter-hour counts can say she is at cap.
    connection
        .execute_batch(
            "DELETE FROM window_counts; UPDATE assignments SET lead_s = NULL WHERE rep = 'anna'",
        )
        .unwrap();
    let buckets: Vec<(String, i64, i64)> = triples(
        &connection,
        "SELECT rep, bucket_s, count FROM lead_counts ORDER BY rep, bucket_s",
    );
    // 2026-11-24 08:00 and 09:00 UTC, one lead each.
    assert_eq!(
        buckets,
        [
            ("anna".to_string(), 1_795_507_200, 1),
            ("anna".to_string(), 1_795_510_800, 1)
        ]
    );
    drop(connection);
    a_third_daily_lead_goes_past_anna(&state);
}

/// `assignments` made as versions 5 to 14 had it (keyed by lead and rep, the routing time
/// alone) from today's rows, and its index by rep; a file's lead times are to be copied out
/// before.
const ASSIGNMENTS_BEFORE_VERSION_15: &str = "\
    CREATE TABLE old_assignments (lead TEXT NOT NULL, rep TEXT NOT NULL, \
        at_s INTEGER NOT NULL, PRIMARY KEY (lead, rep)) WITHOUT ROWID; \
    INSERT INTO old_assignments SELECT lead, rep, at_s FROM assignments; \
    DROP INDEX assignments_by_rep; DROP TABLE assignments; \
    ALTER TABLE old_assignments RENAME TO assignments; \
    CREATE INDEX assignments_by_rep ON assignments (rep, at_s);";

#[test]
fn a_version_9_state_file_keeps_its_lead_times_in_the_new_shape() {
    let state = two_daily_leads_for_anna("v9");
    // Make it the version 9 file the previous Switchboard wrote: lead times in a table of their
    // own keyed by rep and time, assignments keyed by lead and rep, no quarter-hour counts,
    // and no window counted yet. Its key let one lead stand under two times (C-1 again, an
    // hour later); and `zed` had a lead a second before 1970, with no assignment kept.
    rusqlite::Connection::open(&state)
        .unwrap()
        .execute_batch(&format!(
            "CREATE TABLE old (rep TEXT NOT NULL, lead_s INTEGER NOT NULL, lead TEXT NOT NULL, \
                 PRIMARY KEY (rep, lead_s, lead)) WITHOUT ROWID; \
             INSERT INTO old SELECT rep, lead_s, lead FROM assignments WHERE lead_s NOT NULL; \
             INSERT INTO old VALUES ('anna', 1795510800 + 3600, 'C-1'), ('zed', -1, 'P-1'); \
             {ASSIGNMENTS_BEFORE_VERSION_15} \
             ALTER TABLE old RENAME TO lead_times; \
             DROP TABLE lead_counts; DELETE FROM window_counts; PRAGMA user_version = 9;"
        ))
        .unwrap();
    a_third_daily_lead_goes_past_anna(&state);
    let connection = rusqlite::Connection::open(&state).unwrap();
    let version: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 15);
    let times: Vec<(String, String, i64)> = triples(
        &connection,
        "SELECT lead, rep, lead_s FROM assignments WHERE lead_s NOT NULL ORDER BY lead",
    );
    // C-1 keeps its earliest time.
    assert_eq!(
        times,
        [
            ("C-1".to_string(), "anna".to_string(), 1_795_507_200),
            ("C-2".to_string(), "anna".to_string(), 1_795_510_800),
            ("C-3".to_string(), "boris".to_string(), 1_795_514_400),
            ("P-1".to_string(), "zed".to_string(), -1)
        ]
    );
    let buckets: Vec<(String, i64, i64)> = triples(
        &connection,
        "SELECT rep, bucket_s, count FROM lead_counts ORDER BY rep, bucket_s",
    );
    // A second before 1970 is in the quarter hour that began at 23:45 the day before.
    assert_eq!(
        buckets,
        [
            ("anna".to_string(), 1_795_507_200, 1),
            ("anna".to_string(), 1_795_510_800, 1),
            ("boris".to_string(), 1_795_514_400, 1),
            ("zed".to_string(), -900, 1)
        ]
    );
    // The assignments kept their routing times beside the leads' own, keyed like the ledger;
    // P-1's time came without an assignment, and counts in no rep's load.
    let assignments: Vec<(i64, String, bool)> = triples(
        &connection,
        "SELECT lead_bytes, lead, at_s NOT NULL FROM assignments ORDER BY lead_bytes, lead",
    );
    assert_eq!(
        assignments,
        [
            (3, "C-1".to_string(), true),
            (3, "C-2".to_string(), true),
            (3, "C-3".to_string(), true),
            (3, "P-1".to_string(), false)
        ]
    );
}

#[test]
fn a_version_14_state_file_keeps_its_lead_times_beside_its_assignments() {
    let state = two_daily_leads_for_anna("v14");
    // Make it the version 14 file the previous Switchboard wrote: assignments and lead times
    // in two tables, each keyed by lead and rep.
    rusqlite::Connection::open(&state)
        .unwrap()
        .execute_batch(&format!(
            "CREATE TABLE lead_times (lead TEXT NOT NULL, rep TEXT NOT NULL, \
                 lead_s INTEGER NOT NULL, PRIMARY KEY (lead, rep)) WITHOUT ROWID; \
             INSERT INTO lead_times SELECT lead, rep, lead_s FROM assignments; \
             {ASSIGNMENTS_BEFORE_VERSION_15} \
             PRAGMA user_version = 14;"
        ))
        .unwrap();
    // anna's two leads of the day count, from the times the file kept.
    a_third_daily_lead_goes_past_anna(&state);
    let connection = rusqlite::Connection::open(&state).unwrap();
    let version: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 15);
    let rows: Vec<(String, String, bool)> = triples(
        &connection,
        "SELECT lead, rep, at_s NOT NULL AND lead_s NOT NULL FROM assignments \
         ORDER BY lead_bytes, lead, rep",
    );
    assert_eq!(
        rows,
        [
            ("C-1".to_string(), "anna".to_string(), true),
            ("C-2".to_string(), "anna".to_string(), true),
            ("C-3".to_string(), "boris".to_string(), true)
        ]
    );
    let tables: i64 = connection
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name IN ('lead_times', 'assignments_v14') \
             OR (type = 'index' AND name = 'assignments_by_rep')",
            [],
            |row| row.get(0),
        )
        .unwrap();
    // The old tables are gone, and the index by rep is there.
    assert_eq!(tables, 1);
}

#[test]
fn a_day_whose_ends_are_not_whole_quarter_hours_is_counted_lead_by_lead() {
    // Liberia kept -0:44:30 until 1972: a Monrovia day of 1971 begins at 00:44:30 UTC.
    let state = scratch("monrovia").join("state.db");
    let state = state.to_string_lossy().to_string();
    let daily = |id: &str, at: &str| lead(id, r#""team":"daily""#, at);
    let first = route(
        "monrovia.route",
        &state,
        &[
            // 00:44:29 UTC is still the 14th in Monrovia: it counts in no window below.
            daily("M-0", "1971-06-15T00:44:29Z"),
            daily("M-1", "1971-06-15T00:44:30Z"),
            daily("M-2", "1971-06-15T12:00:00Z"),
        ],
    );
    assert_eq!(reps(&first), ["anna", "anna", "anna"]);
    rusqlite::Connection::open(&state)
        .unwrap()
        .execute_batch("DELETE FROM window_counts")
        .unwrap();
    let again = route(
        "monrovia.route",
        &state,
        &[
            daily("M-3", "1971-06-16T00:44:29Z"),
            daily("M-4", "1971-06-16T00:44:30Z"),
        ],
    );
    // M-3 is the 15th's third lead; M-4 the 16th's first.
    assert_eq!(reps(&again), ["boris", "anna"]);
    assert_eq!(passed_over(&again[0]), ["anna: at cap 2/2 today"]);
}

#[test]
fn one_prospect_under_three_ids_goes_to_the_first_leads_rep() {
    for state in stores("prospects") {
        let with = |id: &str, email: &str, at: &str| lead(id, &format!(r#""email":"{email}""#), at);
        let decisions = route(
            "prospects.route",
            &state,
            &[
                with("P-1", "CEO@acme.com", "2026-11-24T10:00:00Z"),
                // Another prospect takes the next turn of the rotation.
                with("P-2", "cfo@other.com", "2026-11-24T10:01:00Z"),
                with("P-3", " ceo@acme.com", "2026-11-24T10:05:00Z"),
                with("P-4", "ceo@ACME.com", "2026-11-24T10:10:00Z"),
                // Out of order: a lead from before P-1 has no earlier lead with this email.
                with("P-5", "ceo@acme.com", "2026-11-23T09:00:00Z"),
                // After 90 days the prospect is new again.
                with("P-6", "ceo@acme.com", "2027-03-01T10:00:00Z"),
            ],
        );
        assert_eq!(
            reps(&decisions),
            ["anna", "boris", "anna", "anna", "chen", "anna"],
            "{state}"
        );
        assert_eq!(decisions[2]["action"], "rep");
        assert_eq!(
            reasons(&decisions[0]),
            ["no earlier lead with this `email` in the 90d before this one"]
        );
        assert_eq!(decisions[4]["action"], "pool", "{state}");
        assert_eq!(decisions[5]["action"], "pool", "{state}");
    }
}

/// `previous rep of` gives a returning prospect to the rep who holds their earlier lead now:
/// after a sweep escalated it, the new holder; after a rejection, the rep it was re-routed to,
/// never the one who rejected it. One prospect, one rep.
#[test]
fn a_returning_prospect_goes_to_whoever_holds_the_earlier_lead_now() {
    let dir = scratch("holder-now");
    let policy = dir.join("prospects.route");
    // The fixture with an escalation step, so that a sweep hands leads on.
    std::fs::write(
        &policy,
        std::fs::read_to_string(fixture("prospects.route"))
            .unwrap()
            .replace(
                "else pool sdr within 15m",
                "else pool sdr within 15m escalate sdr after 30m",
            ),
    )
    .unwrap();
    let policy = policy.to_string_lossy().to_string();
    let state = dir.join("state.db").to_string_lossy().to_string();
    let with = |id: &str, email: &str, at: &str| lead(id, &format!(r#""email":"{email}""#), at);
    let route_now = |leads: &[String], now: &str| {
        routed(
            &["route", &policy, "--state", &state, "--now", now, "--quiet"],
            leads,
        )
    };
    let first = route_now(
        &[
            with("P-1", "ceo@acme.com", "2026-11-24T10:00:00Z"),
            with("Q-1", "cfo@globex.com", "2026-11-24T10:00:00Z"),
        ],
        "2026-11-24T10:00:00Z",
    );
    assert_eq!(reps(&first), ["anna", "boris"]);
    // boris rejects Globex: re-routed at once, to chen.
    let rejected = run(
        &[
            "track",
            &policy,
            "--state",
            &state,
            "--quiet",
            "--now",
            "2026-11-24T10:05:00Z",
        ],
        "{\"lead\":\"Q-1\",\"event\":\"rejected\",\"at\":\"2026-11-24T10:05:00Z\",\"by\":\"boris\"}\n",
    );
    assert_eq!(rejected.status.code(), Some(0), "{rejected:?}");
    // Nobody touched either lead: the sweep hands P-1 from anna to boris, Q-1 from chen to anna.
    let swept = run(
        &[
            "sweep",
            &policy,
            "--state",
            &state,
            "--now",
            "2026-11-24T11:00:00Z",
            "--quiet",
        ],
        "",
    );
    let swept: Vec<serde_json::Value> = String::from_utf8(swept.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let holders: Vec<(String, String)> = swept
        .iter()
        .map(|step| {
            (
                step["lead"].as_str().unwrap().to_string(),
                step["rep"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        holders,
        [
            ("P-1".to_string(), "boris".to_string()),
            ("Q-1".to_string(), "anna".to_string())
        ]
    );
    let returning = route_now(
        &[
            with("P-2", "CEO@acme.com", "2026-11-24T12:00:00Z"),
            with("Q-2", "cfo@globex.com", "2026-11-24T12:00:00Z"),
        ],
        "2026-11-24T12:00:00Z",
    );
    assert_eq!(reps(&returning), ["boris", "anna"]);
    assert_eq!(returning[0]["action"], "rep");
}

#[test]
fn a_previous_rep_who_cannot_take_the_lead_now_gives_way_to_else() {
    let dir = scratch("away");
    let roster = dir.join("roster.json");
    std::fs::write(
        &roster,
        r#"{"reps": {"anna": {"status": "available"}, "boris": {"status": "available"}, "chen": {"status": "available"}}}"#,
    )
    .unwrap();
    let state = dir.join("state.db").to_string_lossy().to_string();
    let with = |id: &str, at: &str| lead(id, r#""email":"ceo@acme.com""#, at);
    let first = route(
        "prospects.route",
        &state,
        &[with("A-1", "2026-11-24T10:00:00Z")],
    );
    assert_eq!(reps(&first), ["anna"]);
    std::fs::write(
        &roster,
        r#"{"reps": {"anna": {"status": "away"}, "boris": {"status": "available"}, "chen": {"status": "available"}}}"#,
    )
    .unwrap();
    let output = run(
        &[
            "route",
            &fixture("prospects.route"),
            "--state",
            &state,
            "--roster",
            &roster.to_string_lossy(),
        ],
        &format!("{}\n", with("A-2", "2026-11-24T11:00:00Z")),
    );
    let decision: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(decision["rep"], "boris", "{decision}");
    assert_eq!(reasons(&decision), ["anna: away"]);
}

#[test]
fn diff_names_changes_of_hours_caps_and_on_shift() {
    let dir = scratch("diff");
    let old = std::fs::read_to_string(fixture("shifts.route")).unwrap();
    let new = old
        .replace(
            "rep igor { calendar nsk }",
            "rep igor { calendar msk  cap 4 per day }",
        )
        .replace("strategy round_robin  on shift", "strategy round_robin")
        .replace("rep marta { calendar mornings }\n", "");
    assert_ne!(old, new);
    std::fs::write(dir.join("old.route"), &old).unwrap();
    std::fs::write(dir.join("new.route"), &new).unwrap();
    let output = run(
        &[
            "diff",
            &dir.join("old.route").to_string_lossy(),
            &dir.join("new.route").to_string_lossy(),
        ],
        "",
    );
    assert_eq!(output.status.code(), Some(1), "the policies differ");
    let text = String::from_utf8(output.stdout).unwrap();
    for line in [
        "  pool `national` changed: members take leads: on shift -> any time (leads of rules `east`)",
        // At 03:00 in Moscow, 07:00 in Novosibirsk, nobody is on shift: OLD gives the lead to
        // igor, whose shift opens first; NEW to olga, first in the rotation, on her own clock.
        "    e.g. {\"id\":\"D-1\",\"region\":\"east\",\"created_at\":\"2026-11-23T00:00:00Z\"} at 2026-11-23T00:00:00Z: OLD pool `national` (rep igor), due 2026-11-23T11:00:00+07:00; NEW pool `national` (rep olga), due 2026-11-23T11:00:00+03:00",
        "  rep `igor` changed: calendar: nsk -> msk; cap per day: none -> 4 (a member of pools `national`)",
        "  rep `marta` removed (a member of pools `desk`)",
        // 12:15 in Berlin: marta's own calendar closes at 13:00, the pool's at 18:00.
        "    e.g. {\"id\":\"D-1\",\"region\":\"west\",\"created_at\":\"2026-11-23T11:15:00Z\"} at 2026-11-23T11:15:00Z: OLD pool `desk` (rep marta), due 2026-11-24T09:15:00+01:00; NEW pool `desk` (rep marta), due 2026-11-23T13:15:00+01:00",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} not in:\n{text}");
    }

    // A cap bites only after earlier leads: the example is the first copy of a lead that goes
    // elsewhere.
    let capped = old.replace(
        "strategy ordered  calendar berlin  on shift",
        "strategy ordered  calendar berlin  on shift  cap 2 per day",
    );
    assert_ne!(old, capped);
    std::fs::write(dir.join("capped.route"), &capped).unwrap();
    let output = run(
        &[
            "diff",
            &dir.join("old.route").to_string_lossy(),
            &dir.join("capped.route").to_string_lossy(),
            "--format",
            "json",
        ],
        "",
    );
    assert_eq!(output.status.code(), Some(1), "the policies differ");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["summary"]["declarations"][0]["example"],
        serde_json::json!({
            "lead": {"id": "D-3", "region": "west", "created_at": "2026-11-23T00:00:00Z"},
            "at": "2026-11-23T00:00:00Z",
            "earlier": 2,
            "old": "pool `desk` (rep marta), due 2026-11-23T10:00:00+01:00",
            "new": "pool `desk` (rep jonas), due 2026-11-23T10:00:00+01:00",
        })
    );
}

#[test]
fn a_new_york_day_across_the_march_dst_change_is_counted_in_new_york() {
    // boris works from New York, where 2027-03-14 runs from 00:00-05:00 to 24:00-04:00: 23
    // hours. anna (Berlin) is kept at her cap so that the leads fall to boris.
    for state in stores("dst-ny") {
        let daily = |id: &str, at: &str| lead(id, r#""team":"daily""#, at);
        let decisions = route(
            "caps.route",
            &state,
            &[
                daily("A-1", "2027-03-14T10:00:00+01:00"),
                daily("A-2", "2027-03-14T10:05:00+01:00"),
                // Berlin 06:30 on the 14th: anna is at cap; boris's first of his 14th.
                daily("B-1", "2027-03-14T00:30:00-05:00"),
                daily("A-3", "2027-03-15T01:00:00+01:00"),
                daily("A-4", "2027-03-15T01:05:00+01:00"),
                // 23:30 on boris's 14th (after the change): his second of that day.
                daily("B-2", "2027-03-14T23:30:00-04:00"),
                // Still his 14th: both are at cap.
                daily("B-3", "2027-03-14T23:50:00-04:00"),
                // 00:10 on his 15th, 23 hours and 10 minutes after his 14th began: a new day.
                // (Counted as 24 hours from midnight, it would still be the 14th.)
                daily("B-4", "2027-03-15T00:10:00-04:00"),
            ],
        );
        assert_eq!(
            reps(&decisions),
            [
                "anna", "anna", "boris", "anna", "anna", "boris", "-", "boris"
            ],
            "{state}"
        );
        assert_eq!(decisions[6]["action"], "unassigned");
        assert_eq!(
            reasons(&decisions[6]),
            ["nobody in pool `daily` is eligible: anna at cap 2/2 today, boris at cap 2/2 today"]
        );
    }
}

#[test]
fn a_misspelt_period_is_named_where_it_stands() {
    let dir = scratch("period");
    let policy = dir.join("team.route");
    std::fs::write(
        &policy,
        "schema lead { id: string }\nrep igor { cap 3 per dya }\npool p { members igor }\notherwise -> pool p\n",
    )
    .unwrap();
    let output = run(
        &["check", &policy.to_string_lossy(), "--format", "json"],
        "",
    );
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("expected `hour`, `day` or `week`, found `dya`"),
        "{text}"
    );
}

#[test]
fn a_test_roster_says_what_reps_already_got_today_this_hour_and_this_week() {
    let output = run(&["test", &fixture("caps.test.route")], "");
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.ends_with("6 passed, 0 failed\n"), "{text}");

    // A wrong expectation shows the cap the earlier leads filled; a count smaller than a
    // narrower window's is named, not silently raised.
    let dir = scratch("assigned");
    std::fs::copy(fixture("caps.route"), dir.join("caps.route")).unwrap();
    let tests = dir.join("wrong.test.route");
    std::fs::write(
        &tests,
        r#"use "caps.route"
test "anna is full" {
  lead { id: "T-1", team: daily, created_at: 2026-11-24T11:00:00+01:00 }
  roster { anna assigned 2 today }
  expect rep anna
}
test "fewer today than this hour" {
  lead { id: "T-2", team: daily, created_at: 2026-11-24T11:00:00+01:00 }
  roster { anna assigned 3 this hour, anna assigned 1 today }
  expect rep anna
}
"#,
    )
    .unwrap();
    let output = run(&["test", &tests.to_string_lossy()], "");
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "{text}");
    for line in [
        "      expected rep `anna`, got rep `boris`",
        "      pool daily: anna (at cap 2/2 today), boris (chosen)",
        "      the roster says `anna` got fewer leads in a longer window (3 this hour, 1 today, 1 \
         this week): the counts include the narrower window's",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} not in:\n{text}");
    }

    // A misspelt window is a syntax error that names the words it takes.
    std::fs::write(
        &tests,
        "use \"caps.route\"\ntest \"t\" {\n  lead { id: \"T-1\", team: daily }\n  roster { anna assigned 2 tomorrow }\n  expect rep anna\n}\n",
    )
    .unwrap();
    let output = run(&["check", &tests.to_string_lossy()], "");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("expected `today`, `this hour` or `this week`, found `tomorrow`"),
        "{stderr}"
    );
}

/// A roster's out-of-office dates are read in the rep's own time zone (`rep NAME { calendar }`),
/// whichever pool picks them: olga in Moscow, out on 24 November, is out from midnight in
/// Moscow, for a pool without a calendar (else read in UTC, still 23 November) and for a
/// pool in Berlin (still 23 November there); back at midnight on the 25th, Moscow time.
#[test]
fn out_of_office_dates_are_read_in_the_reps_own_time_zone() {
    let dir = scratch("ooo-zone");
    std::fs::write(
        dir.join("ooo.route"),
        "schema lead { id: string  created_at: time }\n\
         calendar msk { timezone Europe/Moscow  hours mon-fri 09:00-18:00 }\n\
         calendar berlin { timezone Europe/Berlin  hours mon-fri 09:00-18:00 }\n\
         rep olga { calendar msk }\n\
         pool p { members olga, ivan  strategy ordered }\n\
         pool q { members olga, ivan  strategy ordered  calendar berlin }\n\
         rule via_q: when id in {\"Q1\", \"Q2\", \"Q3\"} -> pool q\n\
         otherwise -> pool p\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("roster.json"),
        r#"{"reps":{"olga":{"out_of_office":[{"from":"2026-11-24","to":"2026-11-24"}]},"ivan":{}}}"#,
    )
    .unwrap();
    let policy = dir.join("ooo.route").to_string_lossy().to_string();
    let roster = dir.join("roster.json").to_string_lossy().to_string();
    for state in stores("ooo-zone-state") {
        let decisions = routed(
            &[
                "route",
                &policy,
                "--state",
                &state,
                "--roster",
                &roster,
                "--now",
                "2026-11-23T12:00:00Z",
            ],
            &[
                // 23:59 on the 23rd in Moscow: olga works.
                lead("P0", r#""x":1"#, "2026-11-23T23:59:00+03:00"),
                // 01:00 on the 24th in Moscow, 22:00 on the 23rd in UTC and 23:00 in Berlin.
                lead("P1", r#""x":1"#, "2026-11-24T01:00:00+03:00"),
                lead("Q1", r#""x":1"#, "2026-11-24T01:00:00+03:00"),
                // 23:30 on the 24th in Berlin, 01:30 on the 25th in Moscow: back.
                lead("Q2", r#""x":1"#, "2026-11-24T23:30:00+01:00"),
                lead("P2", r#""x":1"#, "2026-11-25T00:00:00+03:00"),
            ],
        );
        assert_eq!(
            reps(&decisions),
            ["olga", "ivan", "ivan", "olga", "olga"],
            "{state}: {decisions:?}"
        );
    }
}
