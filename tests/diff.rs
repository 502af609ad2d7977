//! `switchboard diff`: the fixtures in `tests/fixtures/diff/*/` (OLD `old.route`, NEW `new.route`,
//! some with `leads.ndjson` and `roster.json`) with reviewed snapshots of what the command
//! prints, its exit status, the backtest's counts against routing each policy on its own, and
//! what a new user meets: a mistyped path, a bad revision, a broken policy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod common;

use common::{root, run};
use serde_json::Value;
use std::path::{Path, PathBuf};

const NOW: &str = "2026-11-23T10:00:00Z";

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/diff").join(name)
}

/// Runs `switchboard diff old.route new.route ARGS` in a fixture's folder.
fn diff(name: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["diff", "old.route", "new.route"];
    all.extend_from_slice(args);
    let output = run(&all, &fixture(name));
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn reordered_disjoint_rules_are_equivalent() {
    let (code, stdout, stderr) = diff("reordered_disjoint", &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.ends_with("\nequivalent: every lead fits both schemas and is routed the same way\n")
    );
    insta::assert_snapshot!("reordered_disjoint", stdout);
}

#[test]
fn or_instead_of_in_and_60m_instead_of_1h_are_equivalent() {
    let (code, stdout, _) = diff("or_vs_in", &[]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("routing changes: none"));
    assert!(!stdout.contains("rule-only"));
    // Strict changes nothing: not even a rule label differs.
    assert_eq!(diff("or_vs_in", &["--strict"]).0, 0);
}

#[test]
fn an_in_split_into_two_rules_routes_the_same_and_shows_the_rule_only_change() {
    let (code, stdout, _) = diff("in_split", &[]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("rule-only changes: 1"));
    insta::assert_snapshot!("in_split", stdout);
    // With --strict, a lead decided by another rule label is a change.
    let (code, stdout, _) = diff("in_split", &["--strict"]);
    assert_eq!(code, 1);
    assert!(
        stdout.ends_with("not equivalent: 1 rule-only change\n"),
        "{stdout}"
    );
}

#[test]
fn an_sla_change_is_tightened_for_the_hot_leads_only() {
    let (code, stdout, _) = diff("sla_change", &[]);
    assert_eq!(code, 1);
    assert!(stdout.contains("changes: SLA tightened (15m -> 10m)"));
    insta::assert_snapshot!("sla_change", stdout);
}

#[test]
fn a_change_of_points_moves_leads_and_shows_both_scores() {
    let (code, stdout, _) = diff("score_points", &[]);
    assert_eq!(code, 1);
    assert!(stdout.contains("(fit_score 75 -> 65)"), "{stdout}");
    assert!(stdout.contains("(fit_score 45 -> 35)"), "{stdout}");
    insta::assert_snapshot!("score_points", stdout);
    let (_, json, _) = diff("score_points", &["--format", "json"]);
    let summary: Value = serde_json::from_str(json.lines().last().unwrap()).unwrap();
    let region = &summary["summary"]["changes"][0]["regions"][0];
    assert_eq!(
        region["scores"]["fit_score"],
        serde_json::json!({"old": 75, "new": 65})
    );
}

#[test]
fn a_change_of_tags_alone_is_a_change_of_its_own_kind() {
    let (code, stdout, _) = diff("tags_only", &[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("changes: tags (call -> sms)"), "{stdout}");
    // The facebook rule lists its tags in another order, and the declaration too: no change.
    assert!(!stdout.contains("facebook"), "{stdout}");
    insta::assert_snapshot!("tags_only", stdout);
    let (_, json, _) = diff("tags_only", &["--format", "json"]);
    let summary: Value = serde_json::from_str(json.lines().last().unwrap()).unwrap();
    let change = &summary["summary"]["changes"][0];
    assert_eq!(change["kind"], "tags");
    assert_eq!(change["destination"], false);
    assert_eq!(change["old"]["tags"], serde_json::json!(["call"]));
    assert_eq!(change["new"]["tags"], serde_json::json!(["sms"]));
    // Real leads too: the Google lead keeps its pool and changes; the others do not.
    let (code, stdout, _) = diff("tags_only", &["--leads", "leads.ndjson", "--now", NOW]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("changed:   1 (33.3%): 1 routing"),
        "{stdout}"
    );
    assert!(
        stdout.contains("pool sdr  pool sdr  tags call -> sms      1  G-1"),
        "{stdout}"
    );
}

#[test]
fn a_reorder_of_overlapping_rules_moves_the_overlap() {
    let (code, stdout, _) = diff("reorder_changes_outcomes", &[]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("reorder_changes_outcomes", stdout);
}

#[test]
fn schema_changes_come_with_leads_only_one_side_accepts() {
    let (code, stdout, _) = diff("schema_change", &["--regions", "2"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("schema_change", stdout);
}

#[test]
fn markdown_is_a_pull_request_comment() {
    let (code, stdout, _) = diff(
        "sla_change",
        &[
            "--format",
            "markdown",
            "--leads",
            "leads.ndjson",
            "--now",
            NOW,
        ],
    );
    assert_eq!(code, 1);
    assert!(stdout.starts_with("### Routing policy diff\n"));
    insta::assert_snapshot!("sla_change_markdown", stdout);
}

/// What `switchboard route POLICY --state :memory:` prints for the fixture's leads.
fn route(name: &str, policy: &str) -> Vec<Value> {
    let mut args = vec![
        "route",
        policy,
        "--leads",
        "leads.ndjson",
        "--state",
        ":memory:",
        "--now",
        NOW,
    ];
    if fixture(name).join("roster.json").exists() {
        args.extend(["--roster", "roster.json"]);
    }
    let output = run(&args, &fixture(name));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The backtest's counts, recomputed from the two `route` runs: a line both reject is not a
/// lead; one side rejecting is a schema change; otherwise the destination (the rep only when it
/// is named, not chosen by a pool's rotation), the due time and the escalations are compared,
/// then the rule.
fn counts_from_route(name: &str) -> [u64; 5] {
    let old = route(name, "old.route");
    let new = route(name, "new.route");
    assert_eq!(old.len(), new.len());
    let mut counts = [0u64; 5]; // unchanged, routing, rule_only, schema, invalid
    for (a, b) in old.iter().zip(&new) {
        let kind = match (a.get("error").is_some(), b.get("error").is_some()) {
            (true, true) => 4,
            (true, false) | (false, true) => 3,
            (false, false) => {
                let named = |d: &Value| matches!(d["action"].as_str(), Some("rep" | "owner"));
                let same = ["action", "pool", "queue", "due", "escalation"]
                    .iter()
                    .all(|key| a.get(*key) == b.get(*key))
                    && (!named(a) || a.get("rep") == b.get("rep"));
                if !same {
                    1
                } else if a["rule"] != b["rule"] {
                    2
                } else {
                    0
                }
            }
        };
        counts[kind] += 1;
    }
    counts
}

/// `diff --roster` checks the roster as `route` does, against both policies: a misspelt rep is
/// said (the backtest would otherwise compare two policies on a roster that takes boris out of
/// every rotation without a word); a rep that only one policy has is no mistake of the roster's;
/// a roster with an error stops the command.
#[test]
fn a_roster_with_a_misspelt_rep_is_warned_about_against_both_policies() {
    let dir = common::scratch("diff", "roster");
    for file in ["old.route", "leads.ndjson"] {
        std::fs::copy(fixture("sla_change").join(file), dir.join(file)).unwrap();
    }
    // The new policy adds vera to `sdr` (only it has her) and renames `senior` (boris is
    // missing from the roster for both, in a pool of another name).
    let new = std::fs::read_to_string(fixture("sla_change").join("new.route"))
        .unwrap()
        .replace("members dmitri, egor ", "members dmitri, egor, vera ")
        .replace("pool senior ", "pool seniors ");
    assert!(new.contains("vera") && new.contains("pool seniors "));
    std::fs::write(dir.join("new.route"), new).unwrap();
    std::fs::write(
        dir.join("roster.json"),
        r#"{"reps": {"anna": {}, "boirs": {}, "dmitri": {}, "egor": {}}}"#,
    )
    .unwrap();
    let args = [
        "diff",
        "old.route",
        "new.route",
        "--leads",
        "leads.ndjson",
        "--roster",
        "roster.json",
        "--now",
        NOW,
    ];
    let output = run(&args, &dir);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("rep `boirs` is no rep of the policy"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `boris`?"), "{stderr}");
    assert!(
        stderr.contains("rep `boris` (pool `seniors`) is not in the roster"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("vera"),
        "only the new policy has vera: {stderr}"
    );
    // An error in the roster stops the command, with the way to see it whole.
    std::fs::write(
        dir.join("roster.json"),
        r#"{"reps": {"anna": {"status": "gone"}}}"#,
    )
    .unwrap();
    let output = run(&args, &dir);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("roster `roster.json` has 1 error"),
        "{stderr}"
    );
}

#[test]
fn backtest_counts_agree_with_routing_each_policy_separately() {
    for name in ["sla_change", "reorder_changes_outcomes", "schema_change"] {
        let mut args = vec!["--leads", "leads.ndjson", "--now", NOW, "--format", "json"];
        if fixture(name).join("roster.json").exists() {
            args.extend(["--roster", "roster.json"]);
        }
        let (code, stdout, stderr) = diff(name, &args);
        assert_eq!(code, 1, "{name}: {stderr}");
        assert!(
            stderr.is_empty(),
            "no progress bar when stderr is not a terminal: {stderr}"
        );
        let lines: Vec<Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let (summary, leads) = lines.split_last().unwrap();
        let backtest = &summary["summary"]["backtest"];
        let got = ["unchanged", "routing", "rule_only", "schema", "invalid"]
            .map(|key| backtest[key].as_u64().unwrap());
        assert_eq!(got, counts_from_route(name), "{name}: {backtest}");
        assert_eq!(backtest["lines"], 10);
        // Every changed lead is one NDJSON line before the summary, in input order.
        assert_eq!(
            leads.len() as u64,
            backtest["changed"].as_u64().unwrap(),
            "{name}"
        );
        let numbers: Vec<u64> = leads.iter().map(|l| l["line"].as_u64().unwrap()).collect();
        assert!(numbers.windows(2).all(|w| w[0] < w[1]));
        for lead in leads {
            assert!(["routing", "rule-only", "schema"].contains(&lead["change"].as_str().unwrap()));
            assert!(lead["old"].is_object() && lead["new"].is_object());
        }
    }
}

#[test]
fn backtest_human_table_shows_the_moves() {
    let (code, stdout, _) = diff(
        "schema_change",
        &["--leads", "leads.ndjson", "--now", NOW, "--regions", "1"],
    );
    assert_eq!(code, 1);
    let backtest = &stdout[stdout.find("backtest:").unwrap()..];
    insta::assert_snapshot!("schema_change_backtest", backtest);
}

#[test]
fn an_equivalent_pair_backtests_with_no_change_and_exit_zero() {
    let dir = scratch("equivalent_backtest");
    let old = std::fs::read_to_string(fixture("reordered_disjoint").join("old.route")).unwrap();
    let new = std::fs::read_to_string(fixture("reordered_disjoint").join("new.route")).unwrap();
    std::fs::write(dir.join("old.route"), old).unwrap();
    std::fs::write(dir.join("new.route"), new).unwrap();
    std::fs::copy(
        fixture("sla_change").join("leads.ndjson"),
        dir.join("leads.ndjson"),
    )
    .unwrap();
    let output = run(
        &[
            "diff",
            "old.route",
            "new.route",
            "--leads",
            "leads.ndjson",
            "--now",
            NOW,
        ],
        &dir,
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("changed:   0 (0.0%)"), "{stdout}");
}

/// A fresh folder under the target directory.
fn scratch(name: &str) -> PathBuf {
    common::scratch("diff", name)
}

fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

#[test]
fn old_can_be_a_git_revision_and_a_bad_one_shows_gits_message() {
    let dir = scratch("git");
    git(&dir, &["init", "-q"]);
    let old = std::fs::read_to_string(fixture("sla_change").join("old.route")).unwrap();
    let new = std::fs::read_to_string(fixture("sla_change").join("new.route")).unwrap();
    std::fs::write(dir.join("routing.route"), &old).unwrap();
    git(&dir, &["add", "routing.route"]);
    git(&dir, &["commit", "-q", "-m", "policy"]);
    std::fs::write(dir.join("routing.route"), &new).unwrap();

    let output = run(&["diff", "HEAD:routing.route", "routing.route"], &dir);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.starts_with("old: HEAD:routing.route\nnew: routing.route\n"));
    assert!(stdout.contains("SLA tightened (15m -> 10m)"));

    // The same file at the same revision: equivalent.
    let output = run(&["diff", "HEAD:routing.route", "HEAD:routing.route"], &dir);
    assert_eq!(output.status.code(), Some(0));

    // A revision that does not exist: git's own words, and exit 2.
    let output = run(&["diff", "nosuch:routing.route", "routing.route"], &dir);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.starts_with("error: `nosuch:routing.route` is not a file, and `git show nosuch:routing.route` failed: fatal: "), "{stderr}");
    assert!(stderr.contains("nosuch"), "{stderr}");

    // A path that the revision does not have.
    let output = run(&["diff", "HEAD:missing.route", "routing.route"], &dir);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr.contains("missing.route") && stderr.contains("HEAD"),
        "{stderr}"
    );

    // A folder in git.
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::write(dir.join("policies/a.route"), &old).unwrap();
    git(&dir, &["add", "policies"]);
    git(&dir, &["commit", "-q", "-m", "folder"]);
    let output = run(&["diff", "HEAD:policies", "routing.route"], &dir);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr,
        "error: `HEAD:policies` is a directory in git; `diff` compares two policy files\n"
    );
}

#[test]
fn a_mistyped_path_says_which_and_why() {
    let (code, stdout, stderr) = {
        let output = run(&["diff", "old.route", "nwe.route"], &fixture("sla_change"));
        (
            output.status.code().unwrap(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    };
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert_eq!(
        stderr,
        "error: cannot read `nwe.route`: no such file or directory; did you mean `new.route`?\n"
    );

    let output = run(
        &[
            "diff",
            "old.route",
            "new.route",
            "--leads",
            "histroy.ndjson",
        ],
        &fixture("sla_change"),
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "error: cannot read leads `histroy.ndjson`: no such file or directory\n"
    );

    let output = run(&["diff", ".", "new.route"], &fixture("sla_change"));
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "error: `.` is a directory; `diff` compares two policy files\n"
    );
}

#[test]
fn a_broken_policy_shows_its_diagnostics_and_exits_two() {
    let dir = scratch("broken");
    let old = std::fs::read_to_string(fixture("sla_change").join("old.route")).unwrap();
    std::fs::write(dir.join("old.route"), &old).unwrap();
    std::fs::write(
        dir.join("new.route"),
        old.replace("pool senior within 15m", "pool senoir within 15m"),
    )
    .unwrap();
    let output = run(&["diff", "old.route", "new.route"], &dir);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert!(stderr.contains("unknown-pool"), "{stderr}");
    assert!(stderr.contains("did you mean `senior`?"), "{stderr}");
    assert!(stderr.contains("new.route:19"), "{stderr}");
    assert!(
        stderr.ends_with(
            "error: `new.route` has 1 error; `switchboard check` it and fix them before diffing\n"
        ),
        "{stderr}"
    );
}

#[test]
fn json_without_leads_is_one_summary_line() {
    let (code, stdout, _) = diff("reorder_changes_outcomes", &["--format", "json"]);
    assert_eq!(code, 1);
    assert_eq!(stdout.lines().count(), 1);
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    let summary = &summary["summary"];
    assert_eq!(summary["equivalent"], false);
    let change = &summary["changes"][0];
    assert_eq!(change["kind"], "routing");
    assert_eq!(change["destination"], true);
    assert_eq!(change["sla"], "loosened");
    assert_eq!(change["old"]["rule"], "big");
    assert_eq!(change["new"]["actions"][0], "pool sdr");
    assert_eq!(change["regions"][0]["example"]["region"], "emea");
}

#[test]
fn changed_pools_and_calendars_are_changes_and_say_what_they_touch() {
    let dir = scratch("declarations");
    let old = std::fs::read_to_string(fixture("sla_change").join("old.route")).unwrap();
    let new = old
        .replace(
            "pool senior { members anna, boris    strategy round_robin  calendar berlin }",
            "pool senior { members anna, boris, chen  strategy ordered  calendar berlin }",
        )
        .replace("hours mon-fri 09:00-18:00", "hours mon-fri 08:00-18:00")
        .replace("queue review\n", "");
    assert_ne!(old, new);
    std::fs::write(dir.join("old.route"), &old).unwrap();
    std::fs::write(dir.join("new.route"), &new).unwrap();
    let output = run(&["diff", "old.route", "new.route"], &dir);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(
        "  pool `senior` changed: members: anna, boris -> anna, boris, chen; strategy: round_robin -> ordered (leads of rules `hot`)\n"
    ), "{stdout}");
    assert!(stdout.contains(
        "  calendar `berlin` changed: hours: mon-fri 09:00-18:00 -> mon-fri 08:00-18:00 (the SLA clock of pools `senior`, `sdr`, `backup`)\n"
    ), "{stdout}");
    // A queue no rule uses changes no lead.
    assert!(
        stdout.contains("  queue `review` removed (changes no lead by itself)\n"),
        "{stdout}"
    );
    assert!(stdout.contains("routing changes: none"), "{stdout}");
    assert!(
        stdout.ends_with("not equivalent: 2 changed declarations\n"),
        "{stdout}"
    );
}

#[test]
fn two_broken_policies_show_every_error_in_one_run() {
    let dir = scratch("both_broken");
    let old = std::fs::read_to_string(fixture("sla_change").join("old.route")).unwrap();
    std::fs::write(
        dir.join("old.route"),
        old.replace("intent = medium", "intnet = medium"),
    )
    .unwrap();
    std::fs::write(
        dir.join("new.route"),
        old.replace("pool sdr within", "pool sdx within"),
    )
    .unwrap();
    let output = run(&["diff", "old.route", "new.route"], &dir);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.contains("did you mean `intent`?"), "{stderr}");
    assert!(stderr.contains("did you mean `sdr`?"), "{stderr}");
    assert!(
        stderr.ends_with(
            "error: `old.route` has 1 error; `switchboard check` it and fix them before diffing\n\
         error: `new.route` has 1 error; `switchboard check` it and fix them before diffing\n"
        ),
        "{stderr}"
    );
}

#[test]
fn lines_past_the_limit_are_counted_as_not_leads() {
    let (_, stdout, _) = diff(
        "sla_change",
        &[
            "--leads",
            "leads.ndjson",
            "--now",
            NOW,
            "--max-line-bytes",
            "40",
        ],
    );
    assert!(
        stdout.contains("backtest: 10 lines of leads.ndjson\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  not leads: 10 (rejected by both policies)\n"),
        "{stdout}"
    );
}

#[test]
fn schemas_too_far_apart_are_not_compared_region_by_region() {
    let dir = scratch("not_compared");
    let old = std::fs::read_to_string(fixture("sla_change").join("old.route")).unwrap();
    // The clock moves to another field, so the new policy still checks.
    let new = old.replace(
        "created_at: time",
        "created_at: string\n  received_at: time?",
    );
    std::fs::write(dir.join("old.route"), &old).unwrap();
    std::fs::write(dir.join("new.route"), &new).unwrap();
    let output = run(&["diff", "old.route", "new.route"], &dir);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("  field `created_at` retyped: a time -> a string\n"),
        "{stdout}"
    );
    assert!(stdout.contains(
        "regions: not compared: `created_at` is a time in OLD and a string in NEW: conditions on it cannot be compared region by region (backtest on real leads with --leads)\n"
    ), "{stdout}");
    assert!(
        stdout.ends_with("not equivalent: regions not compared, 2 schema changes\n"),
        "{stdout}"
    );
}

#[test]
fn input_options_without_leads_are_a_usage_error() {
    let (code, _, stderr) = diff("reordered_disjoint", &["--input-format", "csv"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("give --leads FILE"), "{stderr}");
}

#[test]
fn csv_leads_in_a_file_not_named_csv_are_said_once() {
    let dir = fixture("reordered_disjoint");
    let leads =
        std::env::temp_dir().join(format!("switchboard-diff-csv-{}.txt", std::process::id()));
    std::fs::write(&leads, "id,intent\nL-1,high\n").unwrap();
    let (code, _, stderr) = diff("reordered_disjoint", &["--leads", leads.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("looks like CSV"), "{stderr}");
    assert!(dir.exists());
    let _ = std::fs::remove_file(&leads);
}

/// A calendar whose shorter hours move only an escalation step (the due time is the same on
/// both sides) gets an example that shows the steps: OLD and NEW never read the same.
#[test]
fn a_calendar_change_that_moves_only_an_escalation_shows_the_steps() {
    let dir = scratch("escalation_only");
    let old = "schema lead { id: string  created_at: time }\n\
               calendar berlin { timezone Europe/Berlin  hours mon-fri 09:00-18:00 }\n\
               pool senior { members anna  calendar berlin }\n\
               pool backup { members egor  calendar berlin }\n\
               rule hot: when id != \"\" -> pool senior within 15m escalate backup after 30m\n\
               otherwise -> pool backup\n";
    let new = old.replace("hours mon-fri 09:00-18:00", "hours mon-fri 09:00-17:00");
    std::fs::write(dir.join("old.route"), old).unwrap();
    std::fs::write(dir.join("new.route"), &new).unwrap();
    let output = run(&["diff", "old.route", "new.route"], &dir);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let example = stdout
        .lines()
        .find(|line| line.trim_start().starts_with("e.g."))
        .unwrap_or_else(|| panic!("an example\n{stdout}"));
    let (old_side, new_side) = example
        .split_once(": OLD ")
        .and_then(|(_, sides)| sides.split_once("; NEW "))
        .unwrap_or_else(|| panic!("OLD and NEW\n{example}"));
    assert_ne!(old_side, new_side, "{example}");
    assert!(
        old_side.contains(", escalates to `backup` at ")
            && new_side.contains(", escalates to `backup` at "),
        "{example}"
    );
}
