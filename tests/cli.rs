//! The `switchboard` binary as CI and people run it: exit codes, streams and every output format.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod common;

use common::root;

use std::path::PathBuf;
use std::process::Output;

fn switchboard(args: &[&str]) -> Output {
    common::run(args, root())
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// A scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    common::scratch("cli", name)
}

const TYPOS: &str = "tests/fixtures/check/err/unknown_names.route";

#[test]
fn the_example_policy_checks_clean() {
    let output = switchboard(&["check", "examples/"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "checked 2 files: no problems\n");
    assert_eq!(stdout(&output), "");
}

#[test]
fn errors_exit_1_with_a_report_on_stderr() {
    let output = switchboard(&["check", TYPOS]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("unknown field `intnet`"), "{err}");
    assert!(err.contains("did you mean `intent`?"), "{err}");
    assert!(err.contains(&format!("[{TYPOS}:14:6]")), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "NO_COLOR and a pipe mean no escape codes: {err}"
    );
    assert!(
        err.ends_with("checked 1 file: 9 errors, 0 warnings\n"),
        "{err}"
    );
    assert_eq!(stdout(&output), "");
}

#[test]
fn json_format_is_one_array_on_stdout() {
    let output = switchboard(&["check", TYPOS, "--format", "json"]);
    assert_eq!(output.status.code(), Some(1));
    let items: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    insta::assert_json_snapshot!("json_unknown_names", items);
    let first = &items[0];
    assert_eq!(first["file"], TYPOS);
    for key in [
        "severity",
        "code",
        "message",
        "line",
        "column",
        "end_line",
        "end_column",
    ] {
        assert!(first.get(key).is_some(), "missing {key}");
    }
}

#[test]
fn json_format_of_a_clean_file_is_an_empty_array() {
    let output = switchboard(&["check", "examples/routing.route", "--format", "json"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "[]\n");
}

#[test]
fn github_format_is_workflow_annotations() {
    let output = switchboard(&["check", TYPOS, "--format", "github"]);
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!("github_unknown_names", stdout(&output));
    for line in stdout(&output).lines() {
        assert!(
            line.starts_with("::error file=tests/fixtures/check/err/unknown_names.route,line="),
            "{line}"
        );
    }
}

#[test]
fn sarif_format_is_a_sarif_2_1_0_log() {
    let output = switchboard(&["check", TYPOS, "--format", "sarif"]);
    assert_eq!(output.status.code(), Some(1));
    let log: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(log["version"], "2.1.0");
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 9);
    let first = &results[0];
    assert_eq!(first["ruleId"], "unknown-calendar");
    let region = &first["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], 10);
    assert_eq!(region["startColumn"], 45);
    assert_eq!(
        first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        TYPOS
    );
}

#[test]
fn warnings_fail_only_with_deny_warnings() {
    let dir = scratch("deny");
    let policy = dir.join("warn.route");
    std::fs::write(
        &policy,
        "schema lead { id: string  intent: enum { low, high } }\nqueue q\nwhen intent is set -> queue q\notherwise -> queue q\n",
    )
    .unwrap();
    let path = policy.to_str().unwrap();
    let output = switchboard(&["check", path]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("always-set"));
    assert!(stderr(&output).ends_with("checked 1 file: 0 errors, 1 warning\n"));
    let output = switchboard(&["check", path, "--deny", "warnings"]);
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn a_directory_checks_every_route_file_below_it() {
    let output = switchboard(&["check", "tests/fixtures/check/ok", "--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let output = switchboard(&["check", "tests/fixtures/check/err", "--format", "json"]);
    assert_eq!(output.status.code(), Some(1));
    let items: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output)).unwrap();
    let files: std::collections::BTreeSet<&str> = items
        .iter()
        .map(|item| item["file"].as_str().unwrap())
        .collect();
    let expected = std::fs::read_dir(root().join("tests/fixtures/check/err"))
        .unwrap()
        .count();
    assert_eq!(files.len(), expected);
}

#[test]
fn a_missing_file_is_a_usage_error() {
    let output = switchboard(&["check", "nope.route"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "error: cannot read `nope.route`: no such file or directory\n"
    );
}

/// A misspelt file name (the policy, the roster, the leads) is answered with the closest name
/// in its folder; a name near nothing gets no guess.
#[test]
fn a_misspelt_file_is_answered_with_the_closest_name_beside_it() {
    // `route` of the example with one name misspelt: a usage error, and what it says.
    let refused = |args: &[&str]| {
        let mut all = vec!["route", "--state", ":memory:"];
        all.extend_from_slice(args);
        let output = switchboard(&all);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        stderr(&output)
    };
    assert_eq!(
        refused(&["examples/routng.route"]),
        "error: cannot read `examples/routng.route`: no such file or directory; did you mean \
         `examples/routing.route`?\n"
    );
    assert_eq!(
        refused(&[
            "examples/routing.route",
            "--roster",
            "examples/rooster.json"
        ]),
        "error: cannot read roster `examples/rooster.json`: no such file or directory; did you \
         mean `examples/roster.json`?\n"
    );
    assert_eq!(
        refused(&[
            "examples/routing.route",
            "--roster",
            "examples/roster.json",
            "--leads",
            "examples/lead.ndjson",
        ]),
        "error: cannot read leads `examples/lead.ndjson`: no such file or directory; did you \
         mean `examples/leads.ndjson`?\n"
    );
    let output = switchboard(&["check", "examples/zzzzzz.route"]);
    assert_eq!(
        stderr(&output),
        "error: cannot read `examples/zzzzzz.route`: no such file or directory\n"
    );
    // Only files are guessed: not a folder, not a name that would print escape sequences.
    let dir = scratch("misspelt-kinds");
    std::fs::create_dir(dir.join("routing.route")).unwrap();
    std::fs::write(dir.join("evil\u{1b}[31m.route"), b"").unwrap();
    // `check PATH` says the file is not there, and guesses nothing.
    let no_guess = |path: &std::path::Path| {
        let output = switchboard(&["check", path.to_str().unwrap()]);
        assert_eq!(
            stderr(&output),
            format!(
                "error: cannot read `{}`: no such file or directory\n",
                path.display()
            )
        );
    };
    for typo in ["routng.route", "evil\u{1b}[3m.route"] {
        no_guess(&dir.join(typo));
    }
    // A folder of more files than are looked at gets no guess rather than a wrong one.
    let crowded = scratch("misspelt-crowded");
    for number in 0..=10_000 {
        std::fs::write(crowded.join(format!("file-{number:05}.route")), b"").unwrap();
    }
    no_guess(&crowded.join("file-00000.rout"));
    std::fs::remove_dir_all(&crowded).unwrap();
    // A state file: `report` on `stat.db` beside a `state.db`.
    let dir = scratch("misspelt-state");
    let state = dir.join("state.db");
    std::fs::write(&state, b"").unwrap();
    let misspelt = dir.join("stat.db");
    let output = switchboard(&[
        "report",
        "examples/routing.route",
        "--state",
        misspelt.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        format!(
            "error: there is no state at `{}` to report on: `route` leads into it first; did you \
             mean `{}`?\n",
            misspelt.display(),
            state.display()
        )
    );
}

#[test]
fn a_file_that_is_not_utf8_is_a_usage_error() {
    let dir = scratch("utf8");
    let policy = dir.join("latin1.route");
    std::fs::write(&policy, b"schema lead { id: string }\n# caf\xe9\n").unwrap();
    let output = switchboard(&["check", policy.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("is not UTF-8 (invalid byte on line 2, at byte offset 32)"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn a_directory_without_policies_is_a_usage_error() {
    let dir = scratch("empty");
    let output = switchboard(&["check", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("no `*.route` files under"));
}

#[test]
fn check_without_a_path_checks_this_folder_as_test_and_fmt_do() {
    let dir = scratch("default-path");
    let empty = common::run(&["check"], &dir);
    assert_eq!(empty.status.code(), Some(2));
    assert!(
        stderr(&empty).contains("no `*.route` files under `.`"),
        "{}",
        stderr(&empty)
    );
    for file in ["routing.route", "roster.json"] {
        std::fs::copy(root().join("examples").join(file), dir.join(file)).unwrap();
    }
    let checked = common::run(&["check"], &dir);
    assert_eq!(checked.status.code(), Some(0), "{}", stderr(&checked));
    assert!(
        stderr(&checked).contains("checked 1 file"),
        "{}",
        stderr(&checked)
    );
}

#[test]
fn bad_arguments_are_usage_errors() {
    assert_eq!(
        switchboard(&["check", "x.route", "--format", "xml"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(switchboard(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(switchboard(&["--help"]).status.code(), Some(0));
}

/// The SARIF output validates against the official OASIS SARIF 2.1.0 schema (tests/data).
#[test]
fn sarif_output_validates_against_the_sarif_2_1_0_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/data/sarif-schema-2.1.0.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for args in [
        vec!["check", TYPOS, "--format", "sarif"],
        vec!["check", "tests/fixtures/check", "--format", "sarif"],
        vec!["check", "examples", "--format", "sarif"],
    ] {
        let output = switchboard(&args);
        let log: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&log)
            .map(|error| format!("{}: {error}", error.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{args:?}: SARIF fails the schema:\n{}",
            errors.join("\n")
        );
        let mut broken = log.clone();
        broken["runs"][0]["results"] = serde_json::json!([{ "level": "fatal", "message": {} }]);
        assert!(
            !validator.is_valid(&broken),
            "the validator must catch a broken log"
        );
        let run = &log["runs"][0];
        assert!(
            run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
                .as_str()
                .unwrap()
                .starts_with("file:///")
        );
    }
}

#[test]
fn absolute_paths_below_the_working_directory_are_shown_relative() {
    let absolute = root().join(TYPOS);
    let output = switchboard(&["check", absolute.to_str().unwrap(), "--format", "json"]);
    let items: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(items[0]["file"], TYPOS);
}

#[test]
fn every_report_counts_columns_in_characters() {
    let dir = scratch("columns");
    let policy = dir.join("names.route");
    std::fs::write(
        &policy,
        "schema lead { id: string  страна: string  created_at: time }\n\
         pool 東京 { members anna }\n\
         queue q\n\
         rule 热: when страна = \"日本\" -> pool 東京x\n\
         otherwise -> queue q\n",
    )
    .unwrap();
    let path = policy.to_str().unwrap();
    // `東京x` starts at character 36 of line 4 (byte 48).
    let human = switchboard(&["check", path]);
    assert!(
        stderr(&human).contains(&format!("{path}:4:36]")),
        "{}",
        stderr(&human)
    );
    let json = switchboard(&["check", path, "--format", "json"]);
    let diagnostics: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(diagnostics[0]["line"], 4);
    assert_eq!(diagnostics[0]["column"], 36);
    let github = switchboard(&["check", path, "--format", "github"]);
    assert!(
        stdout(&github).contains("line=4,col=36"),
        "{}",
        stdout(&github)
    );
}

#[test]
fn a_file_that_cannot_be_read_does_not_stop_the_others_being_checked() {
    let dir = scratch("unreadable");
    std::fs::write(dir.join("a.route"), b"\xff\xfe").unwrap();
    std::fs::write(
        dir.join("b.route"),
        "schema lead { id: string }\nqueue q\nwhen idd = \"x\" -> queue q\n",
    )
    .unwrap();
    let path = dir.to_str().unwrap();
    let human = switchboard(&["check", path]);
    assert_eq!(human.status.code(), Some(2));
    assert!(
        stderr(&human).contains("a.route` is not UTF-8"),
        "{}",
        stderr(&human)
    );
    assert!(
        stderr(&human).contains("unknown field `idd`"),
        "{}",
        stderr(&human)
    );
    assert!(
        stderr(&human)
            .contains("error: 1 file could not be read (said above); the others were checked"),
        "{}",
        stderr(&human)
    );
    for format in ["json", "sarif"] {
        let output = switchboard(&["check", path, "--format", format]);
        assert_eq!(output.status.code(), Some(2), "{format}");
        let report: serde_json::Value = serde_json::from_str(&stdout(&output))
            .unwrap_or_else(|error| panic!("{format}: {error}: {}", stdout(&output)));
        assert!(report.to_string().contains("idd"), "{format}: {report}");
    }
}

#[test]
fn check_refuses_a_wrong_now_and_a_root_that_is_no_folder_and_shows_a_broken_policy_with_a_roster()
{
    let output = switchboard(&["check", "examples/routing.route", "--now", "garbage"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--now `garbage` cannot be read"),
        "{}",
        stderr(&output)
    );
    let output = switchboard(&["check", "examples/", "--root", "no-such-folder"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--root `no-such-folder` is not a folder"),
        "{}",
        stderr(&output)
    );
    let output = switchboard(&["check", TYPOS, "--roster", "examples/roster.json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("so the roster `examples/roster.json` was checked on its own"),
        "{err}"
    );
    let output = switchboard(&["check", TYPOS, "--roster", "no-such-roster.json"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("cannot read roster `no-such-roster.json`"));
    assert!(
        err.contains("unknown-field"),
        "the policy's own errors are shown: {err}"
    );
}
