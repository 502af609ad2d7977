//! Hostile input through the command line: what a policy from a pull request, a roster from a
//! CRM export or a lead from the internet can make Switchboard do. CI runs `check` and `test` on
//! pull requests with secrets in the environment, so a policy file must not read or print a file
//! outside its project, block on a pipe, grow without bound, make git write a file, or crash on
//! a name or a nesting no person would write. Every case is a defect an audit found (issue 18).
//! The language server's side is in `tests/lsp/hostile.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// A value no output may ever contain: it is in the environment and in files outside the project.
const SECRET: &str = "ghp_HOSTILE_TEST_TOKEN_4f1c2d9e";

/// How long any one command may run before the test calls it hung. Not a performance bound (the
/// benchmarks hold those): a blocked read or an endless loop never ends at all.
const HANG: Duration = Duration::from_secs(60);

const POLICY: &str = "schema lead { id: string  intent: enum { low, high }  n: int }
queue q
queue z
rule zero: when n = 0 -> queue z
otherwise -> queue q
";

fn scratch(name: &str) -> PathBuf {
    common::scratch("hostile", name)
}

/// A project: `project/` holds the policy; `secret.txt` lies beside it, outside the project.
fn project(name: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::write(dir.join("secret.txt"), format!("TOKEN={SECRET}\n")).unwrap();
    std::fs::write(dir.join("secret.route"), format!("TOKEN={SECRET}\n")).unwrap();
    std::fs::write(
        dir.join("secret.json"),
        format!("{{\"token\": \"{SECRET}\"}}\n"),
    )
    .unwrap();
    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("policy.route"), POLICY).unwrap();
    project
}

/// Runs `switchboard ARGS` in `cwd` with the secret in its environment, failing the test if it
/// does not finish.
fn run(args: &[&str], input: &[u8], cwd: &Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("CI_TOKEN", SECRET)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    // Output is read as it comes (a full pipe would block the child), on a thread, so that a
    // hung child fails the test instead of hanging it.
    let pid = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(HANG) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("`switchboard {}` did not finish", args.join(" "));
        }
    }
}

fn all_output(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The run failed, said `expected`, and printed nothing secret.
fn refused(output: &Output, expected: &str) -> String {
    let all = all_output(output);
    assert!(!output.status.success(), "succeeded: {all}");
    assert!(all.contains(expected), "expected `{expected}` in:\n{all}");
    assert!(!all.contains(SECRET), "printed the secret:\n{all}");
    assert!(!all.contains("root:x:0"), "printed /etc/passwd:\n{all}");
    all
}

fn tests_using(used: &str) -> String {
    format!(
        "use \"{used}\"\ntest \"low\" {{ lead {{ id: \"1\", intent: low, n: 1 }} expect queue q }}\n"
    )
}

#[test]
fn use_reads_only_policies_inside_the_project() {
    let project = project("use");
    std::fs::write(project.join("notes.txt"), format!("{SECRET}\n")).unwrap();
    let cases = [
        ("/proc/self/environ", "an absolute path"),
        ("/etc/passwd", "an absolute path"),
        ("/dev/zero", "an absolute path"),
        ("../secret.route", "leads outside the project root"),
        ("sub/../../secret.route", "leads outside the project root"),
        (
            "../secret.txt",
            "`use` names a policy, whose name ends in `.route`",
        ),
        (
            "notes.txt",
            "`use` names a policy, whose name ends in `.route`",
        ),
    ];
    for (used, expected) in cases {
        std::fs::write(project.join("tests.route"), tests_using(used)).unwrap();
        let output = run(&["test", "tests.route"], b"", &project);
        refused(&output, expected);
        let output = run(&["check", "tests.route"], b"", &project);
        refused(&output, expected);
    }
    // An explicit root lets a file of tests reach up to it, and no further.
    let nested = project.join("nested");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::write(nested.join("tests.route"), tests_using("../policy.route")).unwrap();
    let output = run(
        &["test", "--root", ".", "nested/tests.route"],
        b"",
        &project,
    );
    assert!(output.status.success(), "{}", all_output(&output));
    std::fs::write(
        nested.join("tests.route"),
        tests_using("../../secret.route"),
    )
    .unwrap();
    let output = run(
        &["test", "--root", ".", "nested/tests.route"],
        b"",
        &project,
    );
    refused(&output, "leads outside the project root");
}

#[cfg(unix)]
#[test]
fn links_do_not_lead_out_of_the_project() {
    use std::os::unix::fs::symlink;
    let project = project("links");
    symlink(
        project.join("../secret.route"),
        project.join("linked.route"),
    )
    .unwrap();
    std::fs::write(project.join("tests.route"), tests_using("linked.route")).unwrap();
    let output = run(&["test", "tests.route"], b"", &project);
    refused(&output, "leads outside the project root");

    // A link named `*.route` in a folder given to `check`: refused, not read.
    let folder = scratch("links-folder");
    std::fs::write(folder.join("policy.route"), POLICY).unwrap();
    symlink("/proc/self/environ", folder.join("environ.route")).unwrap();
    let output = run(&["check", "."], b"", &folder);
    refused(
        &output,
        "Switchboard follows links only to files inside the folder it checks",
    );
    std::fs::remove_file(folder.join("environ.route")).unwrap();

    // Linked folders are not followed, so two links to `.` cannot make the walk endless.
    symlink(".", folder.join("loop")).unwrap();
    symlink(".", folder.join("loop2")).unwrap();
    let output = run(&["check", "."], b"", &folder);
    assert!(output.status.success(), "{}", all_output(&output));
    assert!(
        all_output(&output).contains("checked 1 file"),
        "{}",
        all_output(&output)
    );

    // A link named on the command line, as CI names the policy it checks: a pull request
    // that turns it into a link to the environment, or to a file outside, gets it refused,
    // by every command that reads it, with nothing of the target quoted.
    symlink("/proc/self/environ", project.join("environ.route")).unwrap();
    symlink(
        project.join("../secret.route"),
        project.join("outside.route"),
    )
    .unwrap();
    symlink(project.join("../secret.json"), project.join("roster.json")).unwrap();
    for args in [
        vec!["check", "environ.route"],
        vec!["test", "environ.route"],
        vec!["fmt", "outside.route"],
        vec!["check", "--format", "github", "outside.route"],
        vec!["route", "outside.route", "--state", ":memory:"],
        vec![
            "route",
            "policy.route",
            "--state",
            ":memory:",
            "--roster",
            "roster.json",
        ],
    ] {
        let output = run(&args, b"", &project);
        refused(&output, "outside the folder Switchboard runs in");
    }
    assert_eq!(
        std::fs::read_to_string(project.join("../secret.route")).unwrap(),
        format!("TOKEN={SECRET}\n"),
        "fmt wrote through the link"
    );
    // A link to a file beside it (`current.route` -> `v12.route`) is followed.
    symlink("policy.route", project.join("current.route")).unwrap();
    let output = run(&["check", "current.route"], b"", &project);
    assert!(output.status.success(), "{}", all_output(&output));

    // A link to a pipe (`--roster <(cat roster.json)` names `/dev/fd/63`) reveals no file:
    // it gets the reader's own answer, that it reads regular files, not "no such file".
    let fifo = project.join("../roster.fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    symlink(&fifo, project.join("piped.json")).unwrap();
    let output = run(
        &["check", "policy.route", "--roster", "piped.json"],
        b"",
        &project,
    );
    refused(&output, "it is a named pipe, not a regular file");

    // With the whole disk as the root, a link to a device is still not read.
    symlink("/dev/zero", project.join("zero.route")).unwrap();
    std::fs::write(project.join("tests.route"), tests_using("zero.route")).unwrap();
    let output = run(&["test", "--root", "/", "tests.route"], b"", &project);
    refused(&output, "it is a device, not a regular file");
}

#[test]
fn a_large_set_of_numbers_is_checked_within_the_budget_and_routed() {
    // Found by a hostile-input pass: one `in { ... }` of 32,000 numbers took 17.5 s of `check`
    // (100,000 took minutes), every branch of the graph deciding every number again. The work of
    // building the graph is now bounded: the analysis is given up, and routing scans instead.
    let dir = scratch("number-set");
    let numbers: Vec<String> = (0..32_000).map(|n| (n * 2).to_string()).collect();
    std::fs::write(
        dir.join("set.route"),
        format!(
            "schema lead {{ id: string  n: int }}\nqueue a\nqueue b\n\
             rule r: when n in {{ {} }} -> queue a\notherwise -> queue b\n",
            numbers.join(", ")
        ),
    )
    .unwrap();
    let output = run(&["check", "set.route", "--format", "json"], b"", &dir);
    assert!(output.status.success(), "{}", all_output(&output));
    let found: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["code"], "analysis-incomplete");
    let output = run(
        &["route", "set.route", "--state", ":memory:", "--quiet"],
        b"{\"id\":\"1\",\"n\":63998}\n{\"id\":\"2\",\"n\":63999}\n",
        &dir,
    );
    let routed = String::from_utf8_lossy(&output.stdout);
    let queues: Vec<&str> = routed
        .lines()
        .map(|line| {
            if line.contains("\"queue\":\"a\"") {
                "a"
            } else {
                "b"
            }
        })
        .collect();
    assert_eq!(queues, ["a", "b"], "{routed}");
}

#[test]
fn calendars_cut_into_many_ranges_are_refused_or_bounded() {
    // Found by a hostile-input pass: 16 calendars of 720 one-minute ranges a day took 36 s of
    // `check` (32: almost five minutes), and 64 calendars of 24 ranges 42 s, the analysis
    // trying every range of every calendar in every combination of calendar tests.
    let dir = scratch("many-ranges");
    let calendars = |count: usize, ranges: usize| {
        let mut text = String::from(
            "schema lead { id: string  deal_value: number  created_at: time }\nqueue review\n",
        );
        for calendar in 0..count {
            let hours: Vec<String> = (0..ranges)
                .map(|range| {
                    let start = range * 60 * 24 / ranges;
                    format!(
                        "{:02}:{:02}-{:02}:{:02}",
                        start / 60,
                        start % 60,
                        (start + 1) / 60,
                        (start + 1) % 60
                    )
                })
                .collect();
            text.push_str(&format!(
                "calendar c{calendar} {{ timezone America/New_York  hours mon-sun {} }}\n",
                hours.join(", ")
            ));
        }
        for calendar in 0..count {
            text.push_str(&format!(
                "rule r{calendar}: when inside c{calendar} and deal_value > {calendar} -> queue review\n"
            ));
        }
        text + "otherwise -> queue review\n"
    };
    std::fs::write(dir.join("minutes.route"), calendars(2, 720)).unwrap();
    let output = run(&["check", "minutes.route"], b"", &dir);
    refused(
        &output,
        "calendar `c0` gives `mon` 720 working ranges, more than 24",
    );
    // 24 ranges a day are taken, and the analysis of a few such calendars finishes (the work
    // of 64 of them is bounded too: about 2 s on the release build, in docs/benchmarks.md).
    std::fs::write(dir.join("many.route"), calendars(4, 24)).unwrap();
    let output = run(&["check", "many.route", "--format", "json"], b"", &dir);
    let found: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        found.iter().all(|item| item["code"] != "too-many-hours"),
        "{found:?}"
    );
}

#[test]
fn roster_files_are_json_files_inside_the_project() {
    let project = project("roster");
    let cases = [
        ("/proc/self/environ", "an absolute path"),
        ("../secret.json", "leads outside the project root"),
        (
            "../secret.txt",
            "`roster` names a roster, whose name ends in `.json`",
        ),
        (
            "policy.route",
            "`roster` names a roster, whose name ends in `.json`",
        ),
    ];
    for (roster, expected) in cases {
        std::fs::write(
            project.join("tests.route"),
            format!(
                "use \"policy.route\"\ntest \"low\" {{ roster \"{roster}\" lead {{ id: \"1\", intent: low, n: 1 }} expect queue q }}\n"
            ),
        )
        .unwrap();
        let output = run(&["test", "tests.route"], b"", &project);
        refused(&output, expected);
    }
}

#[cfg(unix)]
#[test]
fn a_named_pipe_or_a_folder_is_refused_without_blocking() {
    let project = project("fifo");
    let fifo = project.join("team.json");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|status| status.success()) {
        eprintln!("NOT RUN: `mkfifo` is not available to make a named pipe");
        return;
    }
    std::fs::write(
        project.join("tests.route"),
        "use \"policy.route\"\ntest \"t\" { roster \"team.json\" lead { id: \"1\", intent: low, n: 1 } expect queue q }\n",
    )
    .unwrap();
    let output = run(&["test", "tests.route"], b"", &project);
    refused(&output, "it is a named pipe, not a regular file");
    let output = run(
        &["check", "policy.route", "--roster", "team.json"],
        b"",
        &project,
    );
    refused(&output, "a named pipe");
    let output = run(
        &[
            "route",
            "policy.route",
            "--roster",
            "team.json",
            "--state",
            ":memory:",
        ],
        b"",
        &project,
    );
    refused(&output, "a named pipe");
    let fifo_policy = project.join("pipe.route");
    Command::new("mkfifo").arg(&fifo_policy).status().unwrap();
    let output = run(&["check", "pipe.route"], b"", &project);
    refused(&output, "a named pipe");
    std::fs::create_dir_all(project.join("folder.json")).unwrap();
    let output = run(
        &["check", "policy.route", "--roster", "folder.json"],
        b"",
        &project,
    );
    refused(&output, "a directory");
}

#[test]
fn every_read_is_bounded_by_size() {
    let project = project("size");
    // A sparse file: larger than the limit on disk, without writing its bytes.
    let huge = std::fs::File::create(project.join("huge.route")).unwrap();
    huge.set_len(65 << 20).unwrap();
    let output = run(&["check", "huge.route"], b"", &project);
    refused(&output, "larger than the limit of 64 MiB");
    std::fs::write(project.join("tests.route"), tests_using("huge.route")).unwrap();
    let output = run(&["test", "tests.route"], b"", &project);
    refused(&output, "larger than the limit of 64 MiB");
    let roster = std::fs::File::create(project.join("team.json")).unwrap();
    roster.set_len(257 << 20).unwrap();
    let output = run(
        &["check", "policy.route", "--roster", "team.json"],
        b"",
        &project,
    );
    refused(&output, "larger than the limit of 256 MiB");
}

#[test]
fn diff_never_lets_a_revision_be_read_as_an_option() {
    let project = project("diff");
    let written = project.join("written-by-git");
    let option = format!("--output={}:x", written.display());
    let output = run(&["diff", "--", &option, "policy.route"], b"", &project);
    refused(&output, "a git revision cannot start with `-`");
    assert!(!written.exists(), "git wrote a file");
    // Even where git is asked (a REV:PATH that is not a file), an option-like path stays a path.
    let output = run(&["diff", "HEAD:--output=x", "policy.route"], b"", &project);
    assert!(!output.status.success());
    assert!(!project.join("x").exists(), "git wrote a file");
}

#[test]
fn an_empty_state_path_is_a_usage_error() {
    let project = project("state");
    let output = run(
        &["route", "policy.route", "--state", ""],
        b"{\"id\":\"1\",\"intent\":\"low\",\"n\":1}\n",
        &project,
    );
    assert_eq!(output.status.code(), Some(2), "{}", all_output(&output));
    assert!(output.stdout.is_empty(), "routed without a state");
    assert!(all_output(&output).contains("--state (or SWITCHBOARD_STATE) is empty"));
}

#[test]
fn names_of_any_length_neither_crash_nor_flood_the_output() {
    let project = project("names");
    let long = "x".repeat(70_000);
    // `fmt` pads names to align columns; a 70,000-character name is padded, not a panic.
    let policy = format!(
        "schema lead {{ id: string  intent: enum {{ low, high }}  {long}: int }}\nqueue q\nrule {long}: when {long} = 1 -> queue q\notherwise -> queue q\n"
    );
    std::fs::write(project.join("long.route"), &policy).unwrap();
    let output = run(&["fmt", "--check", "long.route"], b"", &project);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = run(&["fmt", "long.route"], b"", &project);
    assert_eq!(output.status.code(), Some(0));
    let output = run(&["check", "long.route"], b"", &project);
    assert!(output.status.success(), "{}", all_output(&output));

    // A misspelt megabyte-long name: found at once, quoted once and cut, no "did you mean".
    // Against the same policy with a short name, the output grows by the cut name only.
    let with_name = |name: &str| {
        format!(
            "schema lead {{ id: string  intent: enum {{ low, high }} }}\nqueue q\nrule odd: when {name} = 1 and intent = {name} -> queue q\notherwise -> queue q\n"
        )
    };
    std::fs::write(
        project.join("unknown.route"),
        with_name(&"y".repeat(1 << 20)),
    )
    .unwrap();
    std::fs::write(project.join("short.route"), with_name("yy")).unwrap();
    for format in ["human", "json", "github", "sarif"] {
        let output = run(
            &["check", "--format", format, "unknown.route"],
            b"",
            &project,
        );
        let all = all_output(&output);
        assert_eq!(output.status.code(), Some(1), "{format}: {all}");
        let short = all_output(&run(
            &["check", "--format", format, "short.route"],
            b"",
            &project,
        ));
        assert!(
            all.len() < short.len() + 2_000,
            "{format}: {} bytes of output for a long name, {} for a short one",
            all.len(),
            short.len()
        );
        assert!(all.contains("… (1048576"), "{format}: {all}");
        assert!(!all.contains("did you mean"), "{format}: {all}");
    }
    let output = run(&["check", "unknown.route"], b"", &project);
    assert!(
        all_output(&output).contains("too long to show"),
        "{}",
        all_output(&output)
    );
}

#[test]
fn a_huge_enum_is_checked_and_listed_briefly() {
    let project = project("enum");
    let variants: Vec<String> = (0..100_000).map(|i| format!("v{i}")).collect();
    let policy = format!(
        "schema lead {{ id: string  kind: enum {{ {} }} }}\nqueue q\nrule one: when kind = v99999 -> queue q\nrule typo: when kind = w1 -> queue q\notherwise -> queue q\n",
        variants.join(", ")
    );
    std::fs::write(project.join("typo.route"), &policy).unwrap();
    std::fs::write(
        project.join("enum.route"),
        policy.replace("rule typo: when kind = w1 -> queue q\n", ""),
    )
    .unwrap();
    let output = run(&["check", "typo.route"], b"", &project);
    let all = all_output(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(
        all.contains("expected `v0`, `v1`, `v2`, `v3`, `v4`, `v5`, `v6`, `v7`, `v8`, `v9`, `v10`, `v11`, … (100000 in all)"),
        "{all}"
    );
    assert!(all.contains("… (100000 in all)"), "{all}");
    assert!(all.len() < 4_000, "{} bytes of output", all.len());
    // Routing reads the enum through its index, and says what was expected just as briefly.
    let output = run(
        &["route", "enum.route", "--state", ":memory:", "--quiet"],
        b"{\"id\":\"a\",\"kind\":\"v99999\"}\n{\"id\":\"b\",\"kind\":\"nope\"}\n",
        &project,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].contains("\"rule\":\"one\""), "{stdout}");
    assert!(
        lines[1].contains(
            "expected one of v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, … (100000 in all)"
        ),
        "{stdout}"
    );
}

#[test]
fn many_rules_on_one_field_are_checked_and_routed() {
    // The shape that was quadratic (`rule rN: when n = N`): the bound is measured by `cargo
    // bench --bench check`; here, that the answers are right at a size that was slow.
    let project = project("rules");
    let mut policy = String::from("schema lead { id: string  n: int }\nqueue q\nqueue last\n");
    for n in 0..4_000 {
        policy.push_str(&format!("rule r{n}: when n = {n} -> queue q\n"));
    }
    std::fs::write(
        project.join("rules.route"),
        format!("{policy}otherwise -> queue last\n"),
    )
    .unwrap();
    policy.push_str("rule again: when n = 17 -> queue last\notherwise -> queue last\n");
    std::fs::write(project.join("shadowed.route"), policy).unwrap();
    let output = run(&["check", "shadowed.route"], b"", &project);
    let all = all_output(&output);
    assert!(
        all.contains("rule `again` is shadowed: rule `r17` above takes every lead it matches"),
        "{all}"
    );
    let output = run(
        &["route", "rules.route", "--state", ":memory:", "--quiet"],
        b"{\"id\":\"a\",\"n\":3999}\n{\"id\":\"b\",\"n\":4000}\n",
        &project,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("\"rule\":\"r3999\""), "{stdout}");
    assert!(stdout.contains("\"queue\":\"last\""), "{stdout}");
}

#[test]
fn numbers_and_times_at_their_edges() {
    let project = project("edges");
    let leads = [
        r#"{"id":"minus-zero","intent":"low","n":-0}"#,
        r#"{"id":"u64-max","intent":"low","n":18446744073709551615}"#,
        r#"{"id":"fraction","intent":"low","n":0.5}"#,
    ]
    .join("\n");
    let output = run(
        &["route", "policy.route", "--state", ":memory:", "--quiet"],
        leads.as_bytes(),
        &project,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].contains("\"rule\":\"zero\""), "-0 is 0: {stdout}");
    assert!(lines[1].contains("\"queue\":\"q\""), "{stdout}");
    assert!(lines[2].contains("expected a whole number"), "{stdout}");

    std::fs::write(
        project.join("timed.route"),
        "schema lead { id: string  at: time }\nqueue q\notherwise -> queue q\n",
    )
    .unwrap();
    let leads = [
        r#"{"id":"ok","at":"2026-12-01T10:00:00+23:59"}"#,
        r#"{"id":"day","at":"2026-12-01T10:00:00+24:00"}"#,
        r#"{"id":"more","at":"2026-12-01T10:00:00-99:00"}"#,
    ]
    .join("\n");
    let output = run(
        &["route", "timed.route", "--state", ":memory:", "--quiet"],
        leads.as_bytes(),
        &project,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].contains("\"queue\":\"q\""), "{stdout}");
    assert!(
        lines[1].contains("expected an RFC 3339 time with a UTC offset within ±23:59"),
        "{stdout}"
    );
    assert!(lines[2].contains("expected an RFC 3339 time"), "{stdout}");
}

#[test]
fn a_hand_edited_ledger_yields_one_line_per_lead() {
    let project = project("ledger");
    let lead = b"{\"id\":\"1\",\"intent\":\"low\",\"n\":1}\n";
    let output = run(
        &["route", "policy.route", "--state", "state.db", "--quiet"],
        lead,
        &project,
    );
    assert!(output.status.success(), "{}", all_output(&output));
    // Someone edits the recorded decision, putting a newline and a second JSON object in it.
    let connection = rusqlite::Connection::open(project.join("state.db")).unwrap();
    let edited = connection
        .execute(
            "UPDATE ledger SET entry = ?1",
            [b"{\"lead\":\"1\"}\n{\"lead\":\"forged\"}".as_slice()],
        )
        .unwrap();
    assert_eq!(edited, 1);
    drop(connection);
    let output = run(
        &["route", "policy.route", "--state", "state.db", "--quiet"],
        lead,
        &project,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("forged"), "{stdout}");
    assert!(stdout.lines().count() <= 1, "{stdout}");
    assert!(!output.status.success(), "{}", all_output(&output));
    assert!(
        all_output(&output).contains("state"),
        "{}",
        all_output(&output)
    );
}

/// Thousands of rules that each test their own string under their own threshold (`country =
/// "C7" and deal_value >= 7`) once took memory growing with the square of the rules (24 GB and
/// the OOM killer at 7,474 rules): the compiler kept every node's live rules. The budget now
/// bounds that memory too: `check` finishes within 1.5 GB of address space, says the analysis
/// is incomplete, and `route` still routes.
#[test]
fn thresholds_under_their_own_strings_are_bounded_in_memory() {
    let project = project("thresholds");
    let mut policy = String::from(
        "schema lead { id: string  country: string  deal_value: int }\nqueue q\nqueue last\n\
         rule big: when deal_value >= 1000000 -> queue last\n",
    );
    for n in 0..1_500 {
        policy.push_str(&format!(
            "rule r{n}: when country = \"C{n}\" and deal_value >= {n} -> queue q\n"
        ));
    }
    policy.push_str("otherwise -> queue last\n");
    std::fs::write(project.join("thresholds.route"), &policy).unwrap();
    let output = Command::new("sh")
        .args([
            "-c",
            "ulimit -v 1500000 && exec \"$0\" check thresholds.route",
            env!("CARGO_BIN_EXE_switchboard"),
        ])
        .current_dir(&project)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let all = all_output(&output);
    assert_eq!(output.status.code(), Some(0), "{all}");
    assert!(all.contains("analysis-incomplete"), "{all}");
    let output = run(
        &[
            "route",
            "thresholds.route",
            "--state",
            ":memory:",
            "--quiet",
        ],
        b"{\"id\":\"a\",\"country\":\"C1400\",\"deal_value\":1400}\n\
          {\"id\":\"b\",\"country\":\"C1400\",\"deal_value\":1399}\n",
        &project,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].contains("\"rule\":\"r1400\""), "{stdout}");
    assert!(lines[1].contains("\"queue\":\"last\""), "{stdout}");
}
