//! `switchboard test` and `switchboard explain` through the binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod common;

use common::root;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn switchboard(args: &[&str], cwd: &Path) -> Output {
    common::run(args, cwd)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// A copy of `examples/` to change, or to run in: a directory with no default state of its own
/// (`.switchboard/state.db`, which running the README's route command leaves in the repository,
/// would change what `explain` says).
fn examples_copy(name: &str) -> PathBuf {
    let dir = common::scratch("tests", name);
    std::fs::create_dir_all(dir.join("examples")).unwrap();
    for entry in std::fs::read_dir(root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            continue; // examples/hooks: webhook mappings, not read by these commands
        }
        std::fs::copy(&path, dir.join("examples").join(path.file_name().unwrap())).unwrap();
    }
    dir
}

/// Acceptance: the example tests pass with 100% rule coverage.
#[test]
fn the_example_tests_pass_with_full_coverage() {
    let output = switchboard(
        &["test", "examples/", "--coverage", "--min-coverage", "100"],
        root(),
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains(
            "coverage of examples/routing.route: 12 of 12 rules reached by tests (100.0%)"
        )
    );
    assert!(stdout.ends_with("15 passed, 0 failed\n"), "{stdout}");
    insta::assert_snapshot!("test_examples_coverage", stdout);
}

/// Acceptance: breaking one expectation exits 1 and names the test, the expected and the actual
/// decision (with the trace).
#[test]
fn a_broken_expectation_fails_with_expected_and_actual() {
    let dir = examples_copy("broken");
    let tests = dir.join("examples/routing.test.route");
    let original = std::fs::read_to_string(&tests).unwrap();
    std::fs::write(
        &tests,
        original.replace(
            "expect rule amer pool amer_ae within 4h",
            "expect rule amer pool apac_ae within 4h",
        ),
    )
    .unwrap();
    let output = switchboard(&["test", "examples/"], &dir);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    let failed: Vec<&str> = stdout
        .lines()
        .filter(|line| !line.starts_with("pass  "))
        .collect();
    insta::assert_snapshot!("test_broken_expectation", failed.join("\n"));
    assert!(stdout.contains(
        "FAIL  an American lead with intent goes to the AMER team  (examples/routing.test.route:21)"
    ));
    assert!(stdout.contains("expected pool `apac_ae`, got pool `amer_ae` (rep olivia)"));
    assert!(stdout.ends_with("14 passed, 1 failed\n"));

    let output = switchboard(&["test", "examples/", "--format", "junit"], &dir);
    assert_eq!(output.status.code(), Some(1));
    let junit = text(&output.stdout);
    insta::assert_snapshot!("test_broken_expectation_junit", junit);
    assert!(junit.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"switchboard\" tests=\"15\" failures=\"1\">"));
    assert_eq!(junit.matches("<testcase ").count(), 15);
    assert_eq!(
        junit
            .matches(
                "<failure message=\"expected pool `apac_ae`, got pool `amer_ae` (rep olivia)\">"
            )
            .count(),
        1
    );
    assert_eq!(
        junit.matches("<testsuite ").count(),
        junit.matches("</testsuite>").count()
    );

    let output = switchboard(&["test", "examples/", "--format", "json"], &dir);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (report["passed"].as_u64(), report["failed"].as_u64()),
        (Some(14), Some(1))
    );
    let failing: Vec<&serde_json::Value> = report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "fail")
        .collect();
    assert_eq!(failing[0]["decision"]["pool"], "amer_ae");
    assert!(failing[0]["decision"]["trace"]["path"].is_array());
}

#[test]
fn coverage_below_the_minimum_fails() {
    // Without its file of tests, the example policy's own four tests reach 4 of 12 rules.
    let dir = examples_copy("coverage");
    std::fs::remove_file(dir.join("examples/routing.test.route")).unwrap();
    let output = switchboard(
        &["test", "examples/routing.route", "--min-coverage", "50"],
        &dir,
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains(
        "tests reach 33.3% of the rules of `examples/routing.route`, below --min-coverage 50"
    ));
}

/// Naming a policy also runs the files of tests beside it that `use` it.
#[test]
fn naming_a_policy_runs_its_file_of_tests_too() {
    let output = switchboard(
        &["test", "examples/routing.route", "--min-coverage", "100"],
        root(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stdout).ends_with("15 passed, 0 failed\n"));
}

#[test]
fn a_file_of_tests_whose_policy_is_missing_is_an_error() {
    let dir = examples_copy("missing");
    let tests = dir.join("examples/routing.test.route");
    let original = std::fs::read_to_string(&tests).unwrap();
    std::fs::write(
        &tests,
        original.replace("use \"routing.route\"", "use \"routing-v2.route\""),
    )
    .unwrap();
    let output = switchboard(&["check", "examples/routing.test.route"], &dir);
    assert_eq!(output.status.code(), Some(1));
    let err = text(&output.stderr);
    assert!(
        err.contains("missing-policy") && err.contains("cannot read `routing-v2.route`"),
        "{err}"
    );
    let output = switchboard(&["test", "examples/"], &dir);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stdout).ends_with("4 passed, 1 failed\n"));
}

#[test]
fn a_file_of_tests_that_uses_a_file_of_tests_says_so() {
    // Found by a hostile-input pass: `use` of a file of tests (itself, or a chain) said only
    // "unknown queue `a`" at each `expect`, and its help said to declare the queue there.
    let dir = examples_copy("uses-tests");
    let chained = dir.join("examples/chained.test.route");
    std::fs::write(
        &chained,
        "use \"routing.test.route\"\ntest \"t\" { lead { id: \"1\" } expect queue nurture }\n",
    )
    .unwrap();
    let itself = dir.join("examples/itself.test.route");
    std::fs::write(
        &itself,
        "use \"itself.test.route\"\ntest \"t\" { lead { id: \"1\" } expect queue nurture }\n",
    )
    .unwrap();
    for (file, used) in [
        ("examples/chained.test.route", "routing.test.route"),
        ("examples/itself.test.route", "itself.test.route"),
    ] {
        let output = switchboard(&["check", file], &dir);
        assert_eq!(output.status.code(), Some(1), "{file}");
        let err = text(&output.stderr);
        assert!(
            err.contains(&format!(
                "`{used}` is a file of tests (it has `use`), not a policy"
            )),
            "{err}"
        );
        assert!(!err.contains("unknown queue"), "{err}");
    }
}

#[test]
fn check_validates_tests_in_a_file_of_tests_against_the_policy() {
    let dir = examples_copy("check");
    let tests = dir.join("examples/routing.test.route");
    let original = std::fs::read_to_string(&tests).unwrap();
    std::fs::write(
        &tests,
        original
            .replace("expect rule hot rep chen", "expect rule hott rep chenn")
            .replace(
                "intent: low, fit: weak, region: amer",
                "intent: lw, fit: weak, region: amer",
            ),
    )
    .unwrap();
    let output = switchboard(&["check", "examples/", "--format", "json"], &dir);
    assert_eq!(output.status.code(), Some(1));
    let items: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let found: Vec<(String, String)> = items
        .iter()
        .map(|item| {
            (
                item["code"].as_str().unwrap().to_string(),
                item["help"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        found.contains(&(
            "unknown-rule".to_string(),
            "did you mean `hot`?".to_string()
        )),
        "{found:?}"
    );
    assert!(
        found.contains(&(
            "unknown-rep".to_string(),
            "did you mean `chen`?".to_string()
        )),
        "{found:?}"
    );
    assert!(
        found.contains(&(
            "unknown-variant".to_string(),
            "did you mean `low`?".to_string()
        )),
        "{found:?}"
    );
}

/// Acceptance: explaining a lead for an away rep names the rep and the reason.
#[test]
fn explain_names_the_away_rep_and_why() {
    let lead = r#"{"id":"x","intent":"low","fit":"weak","region":"emea","country":"DE","employees":5,"deal_value":100,"source":"newsletter","created_at":"2026-11-23T10:00:00+01:00","contact_owner":"boris"}"#;
    let args = [
        "explain",
        "examples/routing.route",
        "--roster",
        "examples/roster.json",
        "--now",
        "2026-11-23T10:00:00Z",
        "--lead",
        lead,
    ];
    let dir = examples_copy("explain-away");
    let output = switchboard(&args, &dir);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("rep contact_owner:\n  boris  away\n"),
        "{stdout}"
    );
    insta::assert_snapshot!("explain_away_rep", stdout);

    // `--format json` is exactly what `route --explain` prints for the same lead.
    let mut json_args = args.to_vec();
    json_args.extend(["--format", "json"]);
    let explained = text(&switchboard(&json_args, &dir).stdout);
    let mut route = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "route",
            "examples/routing.route",
            "--roster",
            "examples/roster.json",
            "--now",
            "2026-11-23T10:00:00Z",
            "--state",
            ":memory:",
            "--explain",
        ])
        .current_dir(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut route.stdin.take().unwrap(),
        format!("{lead}\n").as_bytes(),
    )
    .unwrap();
    let routed = text(&route.wait_with_output().unwrap().stdout);
    assert_eq!(explained, routed);
}

#[test]
fn explain_says_which_condition_failed_with_the_leads_value() {
    let dir = examples_copy("explain-first");
    let output = switchboard(
        &[
            "explain",
            "examples/routing.route",
            "--roster",
            "examples/roster.json",
            "--lead",
            "@examples/leads.ndjson",
        ],
        &dir,
    );
    assert_eq!(output.status.code(), Some(0));
    let stdout = text(&output.stdout);
    insta::assert_snapshot!("explain_first_example_lead", stdout);
    assert!(
        stdout.contains("amer (line 65): no, `region = amer`: the lead has \"emea\""),
        "{stdout}"
    );

    let output = switchboard(
        &[
            "explain",
            "examples/routing.route",
            "--lead",
            "{\"id\":\"y\",\"intent\":\"hgh\"}",
        ],
        &dir,
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("lead.type"));
}

/// Acceptance: `fmt --check` on a hand-misaligned copy of the example exits 1 with a diff; `fmt`
/// then makes `--check` pass, and every comment survives.
#[test]
fn fmt_check_shows_a_diff_and_fmt_fixes_it() {
    let dir = examples_copy("fmt");
    let policy = dir.join("examples/routing.route");
    let original = std::fs::read_to_string(&policy).unwrap();
    let misaligned = original
        .replace(
            "pool enterprise { members petr, maria  strategy least_loaded",
            "pool   enterprise {members petr,maria strategy   least_loaded",
        )
        .replace(
            "rule hot_weak:    when intent = high and fit = weak",
            "rule hot_weak:when intent=high and   fit=weak",
        );
    assert_ne!(misaligned, original);
    std::fs::write(&policy, &misaligned).unwrap();
    let output = switchboard(&["fmt", "--check", "examples/routing.route"], &dir);
    assert_eq!(output.status.code(), Some(1));
    let diff = text(&output.stdout);
    assert!(
        diff.starts_with("--- examples/routing.route\n+++ examples/routing.route (formatted)\n@@ "),
        "{diff}"
    );
    assert!(
        diff.contains("-pool   enterprise {members petr,maria strategy   least_loaded"),
        "{diff}"
    );
    assert_eq!(
        std::fs::read_to_string(&policy).unwrap(),
        misaligned,
        "--check writes nothing"
    );

    let output = switchboard(&["fmt", "examples/routing.route"], &dir);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let output = switchboard(&["fmt", "--check", "examples/"], &dir);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    let formatted = std::fs::read_to_string(&policy).unwrap();
    // The example is kept in the canonical layout, so formatting restores it exactly.
    assert_eq!(formatted, original);
    let comments = |text: &str| {
        text.lines()
            .filter(|l| l.contains('#'))
            .map(|l| l[l.find('#').unwrap()..].to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(comments(&formatted), comments(&original));
    // The formatted policy routes exactly as before: its tests still pass.
    let output = switchboard(&["test", "examples/", "--min-coverage", "100"], &dir);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
}

#[test]
fn fmt_leaves_a_file_with_syntax_errors_untouched() {
    let dir = examples_copy("fmt-broken");
    let broken = dir.join("examples/broken.route");
    let text_before = "schema lead { id: string }\nqueue q\nwhen x = -> queue q\n";
    std::fs::write(&broken, text_before).unwrap();
    let output = switchboard(&["fmt", "examples/broken.route"], &dir);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("has syntax errors; it was not formatted"));
    assert_eq!(std::fs::read_to_string(&broken).unwrap(), text_before);
}

/// `explain` lists the lines of each score that added points, with the lead's values, and says
/// the score's value where a rule's comparison failed; `test` checks `expect score` and
/// `expect tag`, and a wrong expectation says what the lead got.
#[test]
fn explain_and_test_show_scores_and_tags() {
    let policy = "tests/fixtures/route/scores_and_tags/policy.route";
    let lead = r#"{"id":"L-2","employees":80,"content_views":7,"icp":false,"email_domain":"gmail.com","created_at":"2026-11-23T10:01:00+01:00"}"#;
    let policy_path = root().join(policy).to_string_lossy().to_string();
    let output = switchboard(
        &["explain", &policy_path, "--lead", lead],
        &examples_copy("explain-scores"),
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("hot (line 33): no, `fit_score >= 50`: the lead's `fit_score` is -15"),
        "{stdout}"
    );
    insta::assert_snapshot!("explain_scores", stdout);

    let dir = common::scratch("score-tests", "policy");
    let mut text_of_policy = std::fs::read_to_string(root().join(policy)).unwrap();
    text_of_policy.push_str(
        "test \"a big ICP account is hot, with a call and a task\" {\n  \
         lead { id: \"t1\", employees: 800, content_views: 0, icp: true, email_domain: \"acme.com\", created_at: 2026-11-23T10:00:00Z }\n  \
         expect pool senior score fit_score 55 score engagement 0 tag call tag create_task\n}\n\
         test \"a wrong score and a missing tag\" {\n  \
         lead { id: \"t2\", employees: 80, content_views: 7, icp: false, email_domain: \"gmail.com\", created_at: 2026-11-23T10:00:00Z }\n  \
         expect pool juniors score fit_score 15 tag call\n}\n",
    );
    std::fs::write(dir.join("scores.route"), &text_of_policy).unwrap();
    let output = switchboard(&["test", "scores.route"], &dir);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("pass  a big ICP account is hot"),
        "{stdout}"
    );
    assert!(
        stdout.contains("expected score `fit_score` 15, got -15"),
        "{stdout}"
    );
    assert!(
        stdout.contains("expected tag `call`, got `email_first`"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn min_coverage_is_a_percentage_from_0_to_100() {
    let dir = examples_copy("min-coverage-values");
    for value in ["NaN", "-5", "150", "inf", "half"] {
        let output = switchboard(
            &["test", "examples/routing.route", "--min-coverage", value],
            &dir,
        );
        assert_eq!(output.status.code(), Some(2), "{value}");
        assert!(
            text(&output.stderr).contains(&format!("`{value}` is not a percentage from 0 to 100")),
            "{value}: {}",
            text(&output.stderr)
        );
    }
}

#[test]
fn test_json_names_each_tests_policy_as_coverage_does() {
    let dir = examples_copy("json-policy-path");
    let output = switchboard(
        &["test", "examples/routing.route", "--format", "json"],
        &dir,
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_str(&text(&output.stdout)).unwrap();
    let coverage = report["coverage"][0]["policy"].clone();
    assert_eq!(coverage, "examples/routing.route");
    for test in report["tests"].as_array().unwrap() {
        assert_eq!(test["policy"], coverage, "{test}");
    }
}

#[test]
fn fmt_keeps_a_crlf_file_crlf() {
    let dir = examples_copy("fmt-crlf");
    let policy = dir.join("examples/routing.route");
    let original = std::fs::read_to_string(&policy).unwrap();
    let crlf = original.replace('\n', "\r\n");
    std::fs::write(&policy, &crlf).unwrap();
    // Formatted already: only its line endings differ from what `fmt` writes.
    let output = switchboard(&["fmt", "--check", "examples/routing.route"], &dir);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    // A misaligned CRLF file is formatted with CRLF.
    let misaligned = crlf.replace("pool senior { members", "pool   senior {members");
    std::fs::write(&policy, &misaligned).unwrap();
    let output = switchboard(&["fmt", "examples/routing.route"], &dir);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&policy).unwrap(), crlf);
    // Mixed endings: the diff says what changes, since no line does.
    let mixed = crlf.replacen("\r\n", "\n", 3);
    std::fs::write(&policy, &mixed).unwrap();
    let output = switchboard(&["fmt", "--check", "examples/routing.route"], &dir);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stdout),
        "--- examples/routing.route\n+++ examples/routing.route (formatted)\n(only the line \
         endings change: each line will end as the first one does)\n"
    );
}

#[test]
fn explain_reads_a_lead_from_stdin_and_says_when_a_file_is_csv() {
    use std::io::Write;
    let dir = examples_copy("explain-stdin");
    let lead = r#"{"id":"S-1","intent":"high","fit":"strong","region":"emea","country":"DE","employees":800,"deal_value":20000,"source":"demo_request","created_at":"2026-11-23T10:00:00+01:00"}"#;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "explain",
            "examples/routing.route",
            "--state",
            ":memory:",
            "--lead",
            "@-",
        ])
        .current_dir(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lead.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).starts_with("lead S-1\n"),
        "{}",
        text(&output.stdout)
    );
    // CSV in a file not named .csv: said once, with the option that reads it.
    std::fs::copy(dir.join("examples/leads.csv"), dir.join("leads.txt")).unwrap();
    let output = switchboard(
        &[
            "explain",
            "examples/routing.route",
            "--state",
            ":memory:",
            "--lead",
            "@leads.txt",
        ],
        &dir,
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("`leads.txt` looks like CSV"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn a_syntax_error_in_a_test_block_fails_the_run() {
    let dir = examples_copy("test-syntax");
    let folder = dir.join("d");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("bad.route"),
        "schema lead { id: string }\nqueue q\notherwise -> queue q\ntest \"a\" {\n  roster { \"x\" }\n  lead { id: \"1\" }\n  expect queue q\n}\n",
    )
    .unwrap();
    std::fs::write(
        folder.join("good.route"),
        "schema lead { id: string }\nqueue q\notherwise -> queue q\ntest \"b\" {\n  lead { id: \"1\" }\n  expect queue q\n}\n",
    )
    .unwrap();
    let output = switchboard(&["test", "d"], &dir);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("FAIL  d/bad.route (has errors)"),
        "{}",
        text(&output.stdout)
    );
    assert!(
        text(&output.stderr).contains("expected `account`, `}` or a name"),
        "{}",
        text(&output.stderr)
    );
    assert!(
        text(&output.stdout).contains("1 passed, 1 failed"),
        "{}",
        text(&output.stdout)
    );
}
