//! Nothing misroutes silently: the policy a command uses is the one meant, a lead id never
//! answers for another lead, times are read as RFC 3339 says, the roster is held against the
//! policy, `explain` answers for the decision that was recorded, and `route` says what it did.
//! Every case through the command line, as people and pipelines run it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scratch(name: &str) -> PathBuf {
    common::scratch("trust", name)
}

/// Runs `switchboard ARGS` in `cwd` with `input` on stdin.
fn run(args: &[&str], input: &[u8], cwd: &Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let output = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// A copy of the example policy, roster and leads in a fresh folder.
/// `route` of the example policy with `:memory:`, quietly, on `input`: its output lines.
fn route_in_memory(input: &[u8], dir: &Path) -> Vec<serde_json::Value> {
    let output = run(
        &[
            "route",
            &root().join("examples/routing.route").to_string_lossy(),
            "--quiet",
            "--state",
            ":memory:",
        ],
        input,
        dir,
    );
    text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn example_folder(name: &str) -> PathBuf {
    let dir = scratch(name);
    for file in [
        "routing.route",
        "routing.test.route",
        "roster.json",
        "leads.ndjson",
    ] {
        std::fs::copy(root().join("examples").join(file), dir.join(file)).unwrap();
    }
    dir
}

const LEAD: &str = r#"{"id":"X-1","intent":"high","fit":"strong","region":"emea","country":"DE","employees":800,"deal_value":20000,"source":"demo_request","created_at":"2026-11-23T10:00:00+01:00"}"#;

fn lead_with(id: &str, created_at: &str) -> String {
    LEAD.replace("\"X-1\"", &format!("\"{id}\""))
        .replace("2026-11-23T10:00:00+01:00", created_at)
}

// ---- Wrong policy

#[test]
fn a_folder_with_one_policy_is_used_and_said() {
    let dir = example_folder("one-policy");
    let output = run(
        &[
            "route",
            ".",
            "--state",
            ":memory:",
            "--now",
            "2026-11-23T10:00:00Z",
        ],
        LEAD.as_bytes(),
        &dir,
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).starts_with("note: using `routing.route`, the only policy in `.`\n"),
        "{}",
        text(&output.stderr)
    );
    assert!(text(&output.stdout).contains("\"rule\":\"hot\""));
}

#[test]
fn a_folder_with_several_policies_is_refused_naming_them() {
    let dir = example_folder("two-policies");
    std::fs::copy(dir.join("routing.route"), dir.join("other.route")).unwrap();
    for command in ["route", "explain", "graph"] {
        let mut args = vec![command, "."];
        if command == "explain" {
            args.extend(["--lead", LEAD]);
        }
        let output = run(&args, LEAD.as_bytes(), &dir);
        assert_eq!(output.status.code(), Some(2), "{command}");
        assert_eq!(
            text(&output.stderr),
            "error: `.` holds 2 policies (`other.route`, `routing.route`); name the one to use\n",
            "{command}"
        );
        assert!(output.stdout.is_empty(), "{command}");
    }
}

#[test]
fn a_file_of_tests_given_as_the_policy_names_the_policy() {
    let dir = example_folder("tests-as-policy");
    for command in ["route", "explain", "graph"] {
        let mut args = vec![command, "routing.test.route"];
        if command == "explain" {
            args.extend(["--lead", LEAD]);
        }
        let output = run(&args, LEAD.as_bytes(), &dir);
        assert_eq!(output.status.code(), Some(2), "{command}");
        assert_eq!(
            text(&output.stderr),
            "error: `routing.test.route` is a file of tests for `routing.route`; name the policy \
             `routing.route` instead (and run the tests with `switchboard test routing.test.route`)\n",
            "{command}"
        );
    }
}

// ---- Lead identity

#[test]
fn blank_ids_are_errors_not_shared_identities() {
    let dir = scratch("blank-ids");
    let input = format!(
        "{}\n{}\n{{\"id\":\"\",\"intent\":\"high\"}}\n",
        lead_with("", "2026-11-23T10:00:00Z"),
        lead_with("  ", "2026-11-24T10:00:00Z")
    );
    let output = run(
        &[
            "route",
            &root().join("examples/routing.route").to_string_lossy(),
            "--quiet",
        ],
        input.as_bytes(),
        &dir,
    );
    assert_eq!(output.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    for line in &lines {
        assert_eq!(line["error"]["code"], "lead.id", "{line}");
    }
    // An id with spaces around it would be another lead than the same id without them: the
    // same prospect assigned twice.
    let spaced = &route_in_memory(
        format!("{}\n", lead_with("L-1 ", "2026-11-23T10:00:00Z")).as_bytes(),
        &dir,
    )[0];
    assert_eq!(spaced["error"]["code"], "lead.id", "{spaced}");
    assert_eq!(spaced["lead"], "L-1 ");
    assert!(
        spaced["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("field `id` has spaces around it"),
        "{spaced}"
    );
    // With other problems, the blank id is said first (the schema's order), with them.
    let message = lines[2]["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "field `id` is blank: every lead needs an id of its own; field `fit` is required"
        ),
        "{message}"
    );
}

#[test]
fn a_reused_id_with_other_content_is_a_conflict_never_a_replay() {
    let dir = scratch("conflict");
    let policy = root()
        .join("examples/routing.route")
        .to_string_lossy()
        .to_string();
    let args = [
        "route",
        policy.as_str(),
        "--quiet",
        "--now",
        "2026-11-23T09:30:00Z",
    ];
    let first = run(&args, format!("{LEAD}\n").as_bytes(), &dir);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let recorded = text(&first.stdout);
    // The same lead again, in another run: its recorded decision, marked a duplicate.
    let again = run(&args, format!("{LEAD}\n").as_bytes(), &dir);
    assert_eq!(
        text(&again.stdout),
        recorded.replace("]}\n", "],\"duplicate\":true}\n")
    );
    // Another lead under the same id: an error that names the recorded decision's time.
    let other = LEAD.replace("\"country\":\"DE\"", "\"country\":\"FR\"");
    let conflict = run(&args, format!("{other}\n").as_bytes(), &dir);
    assert_eq!(conflict.status.code(), Some(1));
    let line: serde_json::Value = serde_json::from_str(text(&conflict.stdout).trim()).unwrap();
    assert_eq!(line["error"]["code"], "lead.id_conflict");
    assert_eq!(
        line["error"]["message"],
        "lead id `X-1` was already used for a different lead, decided at 2026-11-23T09:30:00Z \
         (pool senior, rep anna); give each lead its own id"
    );
    // And within one run.
    let both = run(
        &["route", policy.as_str(), "--quiet", "--state", ":memory:"],
        format!("{LEAD}\n{other}\n").as_bytes(),
        &dir,
    );
    let lines: Vec<&str> = std::str::from_utf8(&both.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[1].contains("lead.id_conflict"), "{}", lines[1]);
}

#[test]
fn times_are_rfc_3339_with_offsets_within_a_day() {
    let dir = scratch("times");
    let policy = root()
        .join("examples/routing.route")
        .to_string_lossy()
        .to_string();
    let input = format!(
        "{}\n{}\n{}\n{}\n{}\n{}\n",
        lead_with("T-1", "2026-11-23T10:00:00+25:00"),
        lead_with("T-2", "9999-12-31T23:59:59Z"),
        lead_with("T-3", "2026-11-23T10:00:00+23:59"),
        lead_with("T-5", "2026-11-23T10:00:00+01:00[!America/New_York]"),
        lead_with("T-6", "2026-11-23T10:00:00+01:00:30"),
        lead_with("T-7", "2026-11-23T10:00:00+01:00[u-ca=gregory]"),
    );
    let output = run(
        &["route", &policy, "--quiet", "--state", ":memory:"],
        input.as_bytes(),
        &dir,
    );
    let lines: Vec<serde_json::Value> = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines[0]["error"]["code"], "lead.type");
    assert_eq!(
        lines[0]["error"]["message"],
        "field `created_at`: expected an RFC 3339 time with a UTC offset within ±23:59, found \"2026-11-23T10:00:00+25:00\""
    );
    assert_eq!(lines[1]["lead"], "T-2");
    assert!(lines[1].get("error").is_none(), "{}", lines[1]);
    assert!(lines[2].get("error").is_none(), "{}", lines[2]);
    // What RFC 3339 has no room for, and would move the instant without a word: a zone after
    // the offset (here contradicting it), an offset with seconds.
    assert_eq!(
        lines[3]["error"]["message"],
        "field `created_at`: expected an RFC 3339 time, which ends at its offset (no `[zone]` \
         after it), found \"2026-11-23T10:00:00+01:00[!America/New_York]\""
    );
    assert_eq!(
        lines[4]["error"]["message"],
        "field `created_at`: expected an RFC 3339 time, whose offset is hours and minutes (no \
         seconds), found \"2026-11-23T10:00:00+01:00:30\""
    );
    assert_eq!(lines[5]["error"]["code"], "lead.type", "{}", lines[5]);
    // Year 0000 is before RFC 3339's first year (jiff's parser would read it).
    let zero = run(
        &["route", &policy, "--quiet", "--state", ":memory:"],
        format!("{}\n", lead_with("T-4", "0000-01-01T00:00:00Z")).as_bytes(),
        &dir,
    );
    let zero: serde_json::Value = serde_json::from_slice(&zero.stdout).unwrap();
    assert_eq!(zero["error"]["code"], "lead.type");
    assert_eq!(
        zero["error"]["message"],
        "field `created_at`: expected an RFC 3339 time in the years 0001 to 9999, found \
         \"0000-01-01T00:00:00Z\""
    );
    // RFC 3339 allows a fraction of any length: read to the nanosecond, the same instant as
    // its first nine digits (so the same lead, a duplicate, not an id conflict).
    let fractions = format!(
        "{}\n{}\n",
        lead_with("T-8", "2026-11-23T10:00:00.123456789Z"),
        lead_with("T-8", "2026-11-23T10:00:00.123456789987654321Z"),
    );
    let output = run(
        &["route", &policy, "--quiet", "--state", ":memory:"],
        fractions.as_bytes(),
        &dir,
    );
    let lines: Vec<serde_json::Value> = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(lines[0].get("error").is_none(), "{}", lines[0]);
    assert_eq!(lines[1]["duplicate"], true, "{}", lines[1]);
}

/// A lead's id given as a number: `-0` and `0` are one lead (as an `int` field reads them), and
/// a whole number beyond 64-bit integers, rounded when read, is never shown as another number.
#[test]
fn number_ids_are_one_lead_per_number_and_never_rounded() {
    let dir = scratch("number-ids");
    std::fs::write(
        dir.join("ids.route"),
        "schema lead { id: int  created_at: time }\nqueue review\notherwise -> queue review\n",
    )
    .unwrap();
    let input = [
        r#"{"id":0,"created_at":"2026-11-23T10:00:00Z"}"#,
        r#"{"id":-0,"created_at":"2026-11-23T10:00:00Z"}"#,
        r#"{"id":18446744073709551616,"created_at":"2026-11-23T10:00:00Z"}"#,
    ]
    .join("\n");
    let output = run(
        &["route", "ids.route", "--quiet", "--state", "ids.db"],
        input.as_bytes(),
        &dir,
    );
    let lines: Vec<serde_json::Value> = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{}", text(&output.stdout));
    assert_eq!(lines[0]["lead"], "0");
    assert_eq!(lines[1]["lead"], "0");
    assert_eq!(lines[1]["duplicate"], true, "{}", lines[1]);
    assert_eq!(lines[2]["lead"], serde_json::Value::Null, "{}", lines[2]);
    assert_eq!(
        lines[2]["error"]["message"],
        "field `id`: expected a whole number, found a number rounded to 1.8446744073709552e+19"
    );
}

/// A misspelt `--state` never reads as an empty state: the commands that only read or add to
/// what `route` recorded refuse a path with no file, and create nothing; a `file:` URI, which
/// SQLite and the directory maker would read two ways, is refused.
#[test]
fn a_state_that_is_not_there_is_refused_not_created() {
    let dir = example_folder("missing-state");
    for (command, extra) in [
        ("sweep", &["--now", "2026-11-23T12:00:00Z"][..]),
        ("report", &[][..]),
        ("track", &["--events", "-"][..]),
    ] {
        let mut args = vec![command];
        if command != "report" {
            args.push("routing.route");
        }
        args.extend(["--state", "typo.db"]);
        args.extend(extra);
        let output = run(&args, b"", &dir);
        assert_eq!(output.status.code(), Some(2), "{command}");
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("there is no state at `typo.db`")
                && stderr.contains("`route` leads into it first"),
            "{command}: {stderr}"
        );
        assert!(!dir.join("typo.db").exists(), "{command} created the state");
    }
    refused(
        &[
            "route",
            "routing.route",
            "--state",
            "file:sub/x.db",
            "--leads",
            "leads.ndjson",
        ],
        &dir,
        "give the state file's path without `file:` (`sub/x.db`)",
    );
    assert!(!dir.join("file:sub").exists() && !dir.join("sub").exists());
    // A directory given as the leads or the events is named.
    refused(
        &[
            "route",
            "routing.route",
            "--state",
            ":memory:",
            "--leads",
            ".",
        ],
        &dir,
        "cannot read leads `.`: it is a directory, not a file",
    );
    refused(
        &[
            "track",
            "routing.route",
            "--state",
            ":memory:",
            "--events",
            ".",
        ],
        &dir,
        "cannot read events `.`: it is a directory, not a file",
    );
}

/// Runs `switchboard ARGS` in `dir` with nothing on stdin: a usage error (exit 2) whose stderr
/// says `said`.
fn refused(args: &[&str], dir: &Path, said: &str) {
    let output = run(args, b"", dir);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(said), "{args:?}: {stderr}");
}

/// `track`'s error records have `route`'s keys: `"lead": null` when the event's lead could not
/// be read.
#[test]
fn track_error_records_always_name_the_lead_or_null() {
    let dir = example_folder("track-errors");
    let events = "not json\n{\"lead\":7,\"event\":\"closed\",\"at\":\"2026-11-23T10:12:00Z\"}\n";
    let output = run(
        &["track", "routing.route", "--state", ":memory:", "--quiet"],
        events.as_bytes(),
        &dir,
    );
    let lines: Vec<serde_json::Value> = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{}", text(&output.stdout));
    for (line, code) in lines.iter().zip(["event.json", "event.lead"]) {
        assert_eq!(line["error"]["code"], code, "{line}");
        assert_eq!(
            line.as_object().unwrap().keys().next().map(String::as_str),
            Some("lead")
        );
        assert_eq!(line["lead"], serde_json::Value::Null, "{line}");
    }
}

// ---- Files as exporters write them

/// Standard error closed by its reader (`2>&1 | head -3` ends early): the messages are lost,
/// but the command is not: it exits with its own status, not a panic's 101.
#[test]
fn a_closed_standard_error_is_no_panic() {
    let dir = scratch("closed-stderr");
    let routing = root().join("examples/routing.route");
    let roster = root().join("examples/roster.json");
    let leads = root().join("examples/week.ndjson");
    for (args, expected) in [
        (
            vec![
                "route",
                routing.to_str().unwrap(),
                "--roster",
                roster.to_str().unwrap(),
                "--leads",
                leads.to_str().unwrap(),
                "--state",
                ":memory:",
            ],
            0,
        ),
        (
            vec![
                "simulate",
                routing.to_str().unwrap(),
                "--roster",
                roster.to_str().unwrap(),
                "--leads",
                leads.to_str().unwrap(),
            ],
            0,
        ),
        (vec!["check", "no-such.route"], 2),
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(&args)
            .current_dir(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stderr.take());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(expected), "{args:?}");
    }
}

/// An id that differs from another only by a character no one sees would be another lead:
/// the same prospect assigned twice. A CSV row that begins with a byte order mark (files
/// joined) gives its id one.
#[test]
fn ids_with_invisible_characters_are_refused_naming_the_character() {
    let dir = scratch("invisible-ids");
    for (id, shown) in [
        ("\\ufeffL-1", "U+FEFF"),
        ("L\\u200b1", "U+200B"),
        ("L-1\\u0001", "U+0001"),
        ("L\\t1", "U+0009"),
        ("\\u200fL-1", "U+200F"),
        ("L\\u061c1", "U+061C"),
        ("L\\u034f1", "U+034F"),
        ("L-1\\ufe0f", "U+FE0F"),
        ("L\\u31641", "U+3164"),
        ("L-1\\udb40\\udc20", "U+E0020"),
    ] {
        let answer = &route_in_memory(
            format!("{}\n", lead_with(id, "2026-11-23T10:00:00Z")).as_bytes(),
            &dir,
        )[0];
        assert_eq!(answer["error"]["code"], "lead.id", "{id}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!(
                "field `id` holds an invisible character ({shown})"
            )),
            "{message}"
        );
    }
    // Letters of any script, and spaces inside, are ids like any other.
    for id in ["Лид-1", "L 1", "リード1"] {
        let answer = &route_in_memory(
            format!("{}\n", lead_with(id, "2026-11-23T10:00:00Z")).as_bytes(),
            &dir,
        )[0];
        assert!(answer.get("error").is_none(), "{id}: {answer}");
    }
}

/// `{"intent":"low", ..., "intent":"high"}`: a map keeps the last value, the sender may have
/// meant the first. Either would be a guess, so the lead is refused, naming the key (and not
/// the lead, when the key is `id`). Keys no field reads may repeat.
#[test]
fn a_lead_that_gives_a_field_twice_is_refused() {
    let dir = scratch("repeated-keys");
    let lead = lead_with("L-1", "2026-11-23T10:00:00Z");
    let twice_intent = lead.replacen('{', "{\"intent\":\"low\",", 1);
    let twice_id = lead.replacen('{', "{\"id\":\"L-0\",", 1);
    let twice_unread = lead.replacen('{', "{\"utm\":\"a\",\"utm\":\"b\",", 1);
    let input = format!("{twice_intent}\n{twice_id}\n{twice_unread}\n");
    let answers = route_in_memory(input.as_bytes(), &dir);
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0]["lead"], "L-1", "{}", answers[0]);
    assert_eq!(answers[0]["error"]["code"], "lead.json");
    assert_eq!(
        answers[0]["error"]["message"],
        "key `intent` appears more than once in the object: which value is meant cannot be \
         told; send each field once"
    );
    assert_eq!(
        answers[1]["lead"],
        serde_json::Value::Null,
        "{}",
        answers[1]
    );
    assert!(
        answers[1]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("key `id` appears more than once"),
        "{}",
        answers[1]
    );
    assert!(answers[2].get("error").is_none(), "{}", answers[2]);
}

/// A byte order mark at the start of a later line (files joined with `cat`) is skipped as
/// the first line's is; a lone UTF-16 surrogate escape is named with its column, not left
/// to the JSON parser's "unexpected end of hex escape".
#[test]
fn joined_files_and_cut_characters_are_read_or_named() {
    let dir = scratch("joined-files");
    let lead = lead_with("L-1", "2026-11-23T10:00:00Z");
    let mut input = format!("{}\n", lead_with("L-0", "2026-11-23T10:00:00Z")).into_bytes();
    input.extend(b"\xEF\xBB\xBF");
    input.extend(format!("{lead}\n").as_bytes());
    let cut = lead_with("L-2\\ud83d", "2026-11-23T10:00:00Z");
    let column = cut.find('\\').unwrap() + 1;
    input.extend(format!("{cut}\n").as_bytes());
    let answers = route_in_memory(&input, &dir);
    assert_eq!(answers.len(), 3);
    assert!(answers[1].get("error").is_none(), "{}", answers[1]);
    assert_eq!(answers[1]["lead"], "L-1");
    assert_eq!(
        answers[2]["error"]["message"],
        format!(
            "not valid JSON: `\\ud83d` at column {column} is half of a UTF-16 surrogate pair \
             without its other half, so no character: the sender's encoder cut a character \
             (an emoji?) in two"
        )
    );
    // Leads ended by a bare `\r` (old Mac line ends) are one line: its record says why.
    let joined = format!("{lead}\r{}\r\n", lead_with("L-4", "2026-11-23T10:00:00Z"));
    let answer = &route_in_memory(joined.as_bytes(), &dir)[0];
    assert!(
        answer["error"]["message"].as_str().unwrap().ends_with(
            "the line holds leads ended by a carriage return (\\r) alone, as files with old \
             Mac line ends do; end each lead with \\n (or \\r\\n)"
        ),
        "{answer}"
    );
    // A whole pair is a character.
    let whole = lead_with("L-3\\ud83d\\ude00", "2026-11-23T10:00:00Z");
    let answer = &route_in_memory(format!("{whole}\n").as_bytes(), &dir)[0];
    assert_eq!(answer["lead"], "L-3\u{1f600}", "{answer}");
}

#[test]
fn a_byte_order_mark_is_skipped_in_leads_roster_and_policy() {
    let dir = example_folder("bom");
    let bom = |file: &str| {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend(std::fs::read(dir.join(file)).unwrap());
        std::fs::write(dir.join(file), bytes).unwrap();
    };
    bom("routing.route");
    bom("roster.json");
    let mut leads = b"\xEF\xBB\xBF".to_vec();
    leads.extend(LEAD.as_bytes());
    let output = run(
        &[
            "route",
            "routing.route",
            "--roster",
            "roster.json",
            "--state",
            ":memory:",
            "--quiet",
        ],
        &leads,
        &dir,
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stdout).starts_with("{\"lead\":\"X-1\",\"rule\":\"hot\""));
}

/// A CSV file read as NDJSON would be an error per line. Since issue 20 a `.csv` file is read as
/// CSV: its rows are leads, and the columns it lacks are said once, before any row. A CSV file
/// by another name is still refused with one message that says how to read it.
#[test]
fn a_csv_file_is_read_as_csv_or_refused_with_one_message() {
    let dir = scratch("csv");
    let rows = "id,intent,fit\nL-1,high,strong\nL-2,low,weak\n";
    std::fs::write(dir.join("leads.csv"), rows).unwrap();
    std::fs::write(dir.join("leads.txt"), rows).unwrap();
    let policy = root()
        .join("examples/routing.route")
        .to_string_lossy()
        .to_string();
    let route = |file: &str| {
        run(
            &[
                "route", &policy, "--leads", file, "--state", ":memory:", "--quiet",
            ],
            b"",
            &dir,
        )
    };
    let read = route("leads.csv");
    assert_eq!(read.status.code(), Some(1), "the rows lack required fields");
    let stdout = text(&read.stdout);
    assert_eq!(stdout.lines().count(), 2, "one line per row:\n{stdout}");
    assert!(
        stdout
            .lines()
            .all(|line| line.contains("\"code\":\"lead.missing\""))
    );
    assert!(
        text(&read.stderr).contains("no column names the required field `region`"),
        "{}",
        text(&read.stderr)
    );
    let refused = route("leads.txt");
    assert_eq!(refused.status.code(), Some(2));
    assert!(refused.stdout.is_empty());
    assert_eq!(
        text(&refused.stderr),
        "error: `leads.txt` looks like CSV (its first line has commas and no `{`): read it as CSV \
         with `--input-format csv` (a `.csv` file is), or give NDJSON, one JSON object per line, \
         such as {\"id\": \"L-1\", \"intent\": \"high\"}\n"
    );
}

// ---- The roster against the policy

const BROKEN_ROSTER: &str = r#"{
  "as_of": "2027-01-01T00:00:00Z",
  "reps": {
    "anan":   { "status": "available" },
    "boris":  { "status": "away" },
    "chen":   { "status": "available",
                "out_of_office": [ { "from": "2026-12-10", "to": "2026-12-01" } ] },
    "dmitri": { "out_of_office": [ { "from": "2026-12-01", "to": "2026-12-10" },
                                   { "from": "2026-12-05", "to": "2026-12-20" } ] },
    "egor": {}, "sergei": {}, "petr": {}, "maria": {}, "olivia": {}, "james": {}, "wei": {},
    "priya": {}
  },
  "accounts": {
    "Acme":  { "owner": "bob" },
    "North": { "parent": "South" },
    "South": { "parent": "North" }
  }
}
"#;

#[test]
fn check_holds_a_roster_against_the_policy() {
    let dir = example_folder("roster-check");
    std::fs::write(dir.join("broken.json"), BROKEN_ROSTER).unwrap();
    let output = run(
        &[
            "check",
            "routing.route",
            "--roster",
            "broken.json",
            "--now",
            "2026-11-23T10:00:00Z",
        ],
        b"",
        &dir,
    );
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!("roster_check_human", text(&output.stderr));
    let output = run(
        &[
            "check",
            "routing.route",
            "--roster",
            "broken.json",
            "--now",
            "2026-11-23T10:00:00Z",
            "--format",
            "github",
        ],
        b"",
        &dir,
    );
    insta::assert_snapshot!("roster_check_github", text(&output.stdout));
    // The example roster is clean for the example policy.
    let output = run(
        &[
            "check",
            "routing.route",
            "--roster",
            "roster.json",
            "--now",
            "2026-11-23T10:00:00Z",
        ],
        b"",
        &dir,
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stderr), "checked 2 files: no problems\n");
}

#[test]
fn an_empty_roster_warns_for_every_rep_it_leaves_out() {
    let dir = example_folder("empty-roster");
    std::fs::write(dir.join("empty.json"), "{}").unwrap();
    let output = run(
        &["check", "routing.route", "--roster", "empty.json"],
        b"",
        &dir,
    );
    assert_eq!(output.status.code(), Some(0));
    let err = text(&output.stderr);
    assert_eq!(
        err.matches("is not in the roster, so they get no leads")
            .count(),
        12,
        "{err}"
    );
    assert!(
        err.ends_with("checked 2 files: 0 errors, 12 warnings\n"),
        "{err}"
    );
}

#[test]
fn routing_stops_on_roster_errors_and_warns_once() {
    let dir = example_folder("roster-route");
    std::fs::write(dir.join("broken.json"), BROKEN_ROSTER).unwrap();
    let output = run(
        &[
            "route",
            "routing.route",
            "--roster",
            "broken.json",
            "--state",
            ":memory:",
        ],
        LEAD.as_bytes(),
        &dir,
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "no lead is routed");
    let err = text(&output.stderr);
    assert!(err.contains("out of office from 2026-12-10 to 2026-12-01 ends before it starts"));
    assert!(err.ends_with("error: roster `broken.json` has 4 errors; fix them before routing (`switchboard check POLICY --roster broken.json`)\n"), "{err}");
    // A misspelt rep only: warnings, once, and routing goes on.
    let roster = std::fs::read_to_string(dir.join("roster.json"))
        .unwrap()
        .replace("\"anna\"", "\"anan\"");
    std::fs::write(dir.join("misspelt.json"), roster).unwrap();
    let output = run(
        &[
            "route",
            "routing.route",
            "--roster",
            "misspelt.json",
            "--state",
            ":memory:",
            "--quiet",
        ],
        format!(
            "{LEAD}\n{}\n",
            lead_with("X-2", "2026-11-23T10:01:00+01:00")
        )
        .as_bytes(),
        &dir,
    );
    assert_eq!(output.status.code(), Some(0));
    let err = text(&output.stderr);
    assert_eq!(
        err.matches("rep `anna` (pool `senior`) is not in the roster")
            .count(),
        1,
        "{err}"
    );
    assert_eq!(
        err.matches("rep `anan` is no rep of the policy").count(),
        1,
        "{err}"
    );
    assert!(err.contains("did you mean `anna`?"), "{err}");
    assert!(!text(&output.stdout).contains("\"rep\":\"anna\""));
}

// ---- Explain from the ledger

#[test]
fn explain_answers_for_the_recorded_decision() {
    let dir = example_folder("explain-ledger");
    let routed = run(
        &[
            "route",
            "routing.route",
            "--roster",
            "roster.json",
            "--quiet",
            "--now",
            "2026-11-23T09:00:00Z",
        ],
        &std::fs::read(dir.join("leads.ndjson")).unwrap(),
        &dir,
    );
    assert_eq!(routed.status.code(), Some(0), "{}", text(&routed.stderr));
    let l2 = text(&routed.stdout).lines().nth(1).unwrap().to_string();
    assert!(l2.contains("\"rep\":\"chen\""), "{l2}");
    // By id alone: the recorded decision, its path and candidates as they were.
    let output = run(
        &[
            "explain",
            "routing.route",
            "--roster",
            "roster.json",
            "--lead",
            "L-2",
        ],
        b"",
        &dir,
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    insta::assert_snapshot!("explain_recorded_by_id", text(&output.stdout));
    // With the lead itself: the rules tried too.
    let second_line = std::fs::read_to_string(dir.join("leads.ndjson"))
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    let output = run(
        &[
            "explain",
            "routing.route",
            "--roster",
            "roster.json",
            "--lead",
            &second_line,
        ],
        b"",
        &dir,
    );
    insta::assert_snapshot!("explain_recorded_with_lead", text(&output.stdout));
    // JSON: the recorded decision with its trace, as `route --explain` printed it then.
    let output = run(
        &[
            "explain",
            "routing.route",
            "--roster",
            "roster.json",
            "--lead",
            "L-2",
            "--format",
            "json",
        ],
        b"",
        &dir,
    );
    let json: serde_json::Value = serde_json::from_str(&text(&output.stdout)).unwrap();
    assert_eq!(json["rep"], "chen");
    assert_eq!(
        json["trace"]["actions"][0]["candidates"][2]["why"],
        "chosen"
    );
    // An id the ledger does not have, alone: nothing to explain.
    let output = run(&["explain", "routing.route", "--lead", "L-99"], b"", &dir);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr),
        "error: lead `L-99` is not in the ledger of `.switchboard/state.db`; give the lead itself \
         (`--lead '{…}'` or `--lead @FILE`) to see where it would go\n"
    );
    // A new lead: what-if, from the state as it is (anna and chen have had leads).
    let output = run(
        &[
            "explain",
            "routing.route",
            "--roster",
            "roster.json",
            "--lead",
            &lead_with("NEW", "2026-11-23T10:40:00+01:00"),
        ],
        b"",
        &dir,
    );
    let shown = text(&output.stdout);
    assert!(
        shown.contains(
            "not in the ledger: what this policy would decide now, from the state as it is"
        ),
        "{shown}"
    );
    // ... which records nothing.
    let again = run(&["explain", "routing.route", "--lead", "NEW"], b"", &dir);
    assert_eq!(again.status.code(), Some(2));
}

// ---- Visibility

#[test]
fn route_says_what_it_did_on_stderr_unless_quiet() {
    let dir = example_folder("summary");
    let leads = std::fs::read(dir.join("leads.ndjson")).unwrap();
    let output = run(
        &["route", "routing.route", "--roster", "roster.json"],
        &leads,
        &dir,
    );
    assert_eq!(
        text(&output.stderr),
        "routed 15 lines from stdin: 10 to pools, 2 to queues, 2 to named reps, 0 unassigned; \
         1 duplicate, 0 errors; state `.switchboard/state.db`\n"
    );
    let again = run(
        &[
            "route",
            "routing.route",
            "--roster",
            "roster.json",
            "--leads",
            "leads.ndjson",
        ],
        b"",
        &dir,
    );
    assert_eq!(
        text(&again.stderr),
        "routed 15 lines from `leads.ndjson`: 0 to pools, 0 to queues, 0 to named reps, 0 unassigned; \
         15 duplicates, 0 errors; state `.switchboard/state.db`\n"
    );
    let quiet = run(
        &[
            "route",
            "routing.route",
            "--roster",
            "roster.json",
            "--quiet",
        ],
        &leads,
        &dir,
    );
    assert!(quiet.stderr.is_empty());
}

#[test]
fn a_policy_that_counts_time_needs_a_clock_field() {
    let dir = scratch("clock");
    std::fs::write(
        dir.join("p.route"),
        "schema lead { id: string  intent: enum { low, high } }\npool senior { members anna }\nqueue q\nwhen intent = high -> pool senior within 15m\notherwise -> queue q\n",
    )
    .unwrap();
    let output = run(&["check", "p.route"], b"", &dir);
    assert_eq!(output.status.code(), Some(1));
    let err = text(&output.stderr);
    assert!(err.contains("missing-clock"), "{err}");
    assert!(
        err.contains("rule `#1` counts time (`within 15m`), but the schema has no `time` field"),
        "{err}"
    );
}

#[test]
fn test_holds_the_roster_files_of_tests_against_the_policy() {
    let dir = example_folder("test-roster");
    let tests = |roster: &str| {
        format!(
            "use \"routing.route\"\n\n\
             test \"one\" {{\n  lead {{ id: \"t1\", intent: high, fit: strong, region: emea, country: \"DE\", employees: 800, deal_value: 20000, source: demo_request, created_at: 2026-11-23T10:00:00+01:00 }}\n  roster \"{roster}\"\n  expect pool senior\n}}\n\n\
             test \"two\" {{\n  lead {{ id: \"t2\", intent: high, fit: strong, region: emea, country: \"DE\", employees: 800, deal_value: 20000, source: demo_request, created_at: 2026-11-23T10:00:00+01:00 }}\n  roster \"{roster}\"\n  expect pool senior\n}}\n"
        )
    };
    // A misspelt rep: a warning, shown once for the two tests, and the tests run.
    let roster = std::fs::read_to_string(dir.join("roster.json"))
        .unwrap()
        .replace("\"chen\"", "\"chne\"");
    std::fs::write(dir.join("misspelt.json"), roster).unwrap();
    std::fs::write(dir.join("warn.test.route"), tests("misspelt.json")).unwrap();
    let output = run(&["test", "warn.test.route"], b"", &dir);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let err = text(&output.stderr);
    assert_eq!(
        err.matches("rep `chne` is no rep of the policy").count(),
        1,
        "{err}"
    );
    assert!(text(&output.stdout).ends_with("2 passed, 0 failed\n"));
    // A roster with an error: shown, the tests that use it do not run, exit 2.
    std::fs::write(dir.join("broken.json"), BROKEN_ROSTER).unwrap();
    std::fs::write(dir.join("broken.test.route"), tests("broken.json")).unwrap();
    let output = run(&["test", "broken.test.route"], b"", &dir);
    assert_eq!(output.status.code(), Some(2));
    let err = text(&output.stderr);
    assert_eq!(err.matches("ends before it starts").count(), 1, "{err}");
    assert!(
        err.ends_with(
            "error: roster `broken.json` has errors; the tests that use it did not run\n"
        ),
        "{err}"
    );
}

#[test]
fn diff_given_a_file_of_tests_names_the_policy() {
    let dir = example_folder("tests-to-diff");
    let output = run(&["diff", "routing.route", "routing.test.route"], b"", &dir);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr),
        "error: `routing.test.route` is a file of tests for `routing.route`; name the policy \
         `routing.route` instead (and run the tests with `switchboard test routing.test.route`)\n"
    );
}

#[test]
fn caps_hold_when_the_routing_time_is_before_the_rosters_as_of() {
    // A backfill: the roster was taken today, the leads are routed as of long ago. The roster
    // gives each member of `senior` (cap 25) some open leads already, so 40 hot leads cannot
    // all fit: some are nobody's. Counting from `as_of` would not see this run's leads, and
    // gave chen 32.
    let dir = example_folder("backfill-caps");
    let leads: String = (0..40)
        .map(|i| {
            format!(
                "{{\"id\":\"H-{i}\",\"intent\":\"high\",\"fit\":\"strong\",\"region\":\"emea\",\
                 \"country\":\"DE\",\"employees\":800,\"deal_value\":20000,\
                 \"source\":\"demo_request\",\"created_at\":\"2026-11-23T10:00:00+01:00\"}}\n"
            )
        })
        .collect();
    let output = run(
        &[
            "route",
            "routing.route",
            "--roster",
            "roster.json",
            "--state",
            ":memory:",
            "--now",
            "2020-01-01T00:00:00Z",
            "--quiet",
        ],
        leads.as_bytes(),
        &dir,
    );
    let mut reps: std::collections::BTreeMap<String, usize> = Default::default();
    for line in text(&output.stdout).lines() {
        let decision: serde_json::Value = serde_json::from_str(line).unwrap();
        let rep = decision["rep"].as_str().unwrap_or("nobody").to_string();
        *reps.entry(rep).or_default() += 1;
    }
    let roster: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("roster.json")).unwrap()).unwrap();
    for (rep, count) in &reps {
        if rep == "nobody" {
            continue;
        }
        let open = roster["reps"][rep]["open"].as_u64().unwrap_or(0) as usize;
        assert!(
            open + count <= 25,
            "{rep}: {open} open + {count} routed: {reps:?}"
        );
    }
    assert!(reps.get("nobody").is_some_and(|n| *n > 0), "{reps:?}");
}

#[test]
fn a_roster_time_with_an_offset_of_a_day_or_more_is_refused() {
    let dir = example_folder("roster-offsets");
    std::fs::write(
        dir.join("offsets.json"),
        r#"{"reps":{"anna":{"out_of_office":[{"from":"2026-11-23T08:00:00+25:00","to":"2026-11-24T08:00:00Z"}]}}}"#,
    )
    .unwrap();
    let output = run(
        &["check", "routing.route", "--roster", "offsets.json"],
        b"",
        &dir,
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("roster-shape"),
        "{}",
        text(&output.stderr)
    );
}

/// A blank string in an optional field (`""`, spaces only: how CRMs send an empty field) is no
/// value: `contact_owner is set` does not hold, so the lead is not taken by a rule whose action
/// then finds the owner blank and falls back to a slower pool; it routes as the same lead
/// without the field does, from NDJSON and from CSV alike.
#[test]
fn a_blank_optional_field_is_not_set_for_the_rule_or_its_action() {
    let dir = scratch("blank-optional");
    let policy = root().join("examples/routing.route");
    let roster = root().join("examples/roster.json");
    let base = r#""intent":"high","fit":"strong","region":"emea","country":"DE","employees":40,"deal_value":2000,"source":"demo_request","created_at":"2026-11-23T10:00:00+01:00""#;
    let leads = format!(
        "{{\"id\":\"B-1\",{base}}}\n\
         {{\"id\":\"B-2\",{base},\"contact_owner\":\"\"}}\n\
         {{\"id\":\"B-3\",{base},\"contact_owner\":\"   \",\"parent_account\":\"\"}}\n"
    );
    let args = [
        "route",
        policy.to_str().unwrap(),
        "--roster",
        roster.to_str().unwrap(),
        "--state",
        ":memory:",
        "--now",
        "2026-11-23T10:00:00Z",
        "--quiet",
    ];
    let output = run(&args, leads.as_bytes(), &dir);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let lines: Vec<String> = text(&output.stdout).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 3);
    let rule = |line: &str| {
        line.split("\"rule\":\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string()
    };
    for line in &lines {
        assert_eq!(rule(line), rule(&lines[0]), "{line}");
        assert!(!line.contains("is not set"), "{line}");
        assert!(
            line.contains("\"due\":\"2026-11-23T10:15:00+01:00\""),
            "{line}"
        );
    }
    let explained = run(
        &[
            "explain",
            policy.to_str().unwrap(),
            "--roster",
            roster.to_str().unwrap(),
            "--now",
            "2026-11-23T10:00:00Z",
            "--lead",
            &format!("{{\"id\":\"B-2\",{base},\"contact_owner\":\"\"}}"),
        ],
        b"",
        &dir,
    );
    let said = text(&explained.stdout);
    assert!(!said.contains("is not set"), "{said}");
    assert!(!said.contains("sticky (line 58): matched"), "{said}");
}

/// A rep or account name padded with spaces in a lead's field (` anna `, a CRM's padding) names
/// the same rep or account: no rep named ` anna ` is made, and the roster's owner is found.
#[test]
fn padded_names_in_fields_name_the_rep_and_the_account() {
    let dir = scratch("padded-names");
    let policy = root().join("examples/routing.route");
    let roster = root().join("examples/roster.json");
    let base = r#""intent":"high","fit":"strong","region":"emea","country":"DE","employees":40,"deal_value":2000,"source":"demo_request","created_at":"2026-11-23T10:00:00+01:00""#;
    let args = |with_roster: bool| {
        let mut args = vec![
            "route".to_string(),
            policy.to_string_lossy().to_string(),
            "--state".to_string(),
            ":memory:".to_string(),
            "--now".to_string(),
            "2026-11-23T10:00:00Z".to_string(),
            "--quiet".to_string(),
        ];
        if with_roster {
            args.extend(["--roster".to_string(), roster.to_string_lossy().to_string()]);
        }
        args
    };
    for with_roster in [false, true] {
        let args = args(with_roster);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let padded = run(
            &args,
            format!("{{\"id\":\"P-1\",{base},\"contact_owner\":\"  anna \"}}\n").as_bytes(),
            &dir,
        );
        let plain = run(
            &args,
            format!("{{\"id\":\"P-1\",{base},\"contact_owner\":\"anna\"}}\n").as_bytes(),
            &dir,
        );
        assert_eq!(
            text(&padded.stdout),
            text(&plain.stdout),
            "roster: {with_roster}"
        );
        assert!(
            text(&padded.stdout).contains("\"rep\":\"anna\""),
            "{}",
            text(&padded.stdout)
        );
    }
    // `owner of parent_account` finds the roster's account without the padding.
    let args = args(true);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let owned = run(
        &args,
        format!(
            "{{\"id\":\"P-2\",{},\"parent_account\":\" Globex  \"}}\n",
            base.replace("\"deal_value\":2000", "\"deal_value\":20000")
        )
        .as_bytes(),
        &dir,
    );
    let owned = text(&owned.stdout);
    assert!(owned.contains("\"rule\":\"family\""), "{owned}");
    assert!(owned.contains("\"rep\":\"maria\""), "{owned}");
}

/// A line whose text breaks after its id was read (a number out of range, a second object on
/// the line, a line cut short) gets an error record that names the lead, so that it can be
/// found and sent again; a line broken before any id stays `null`.
#[test]
fn broken_json_after_the_id_names_the_lead() {
    let dir = scratch("broken-after-id");
    let input = "{\"id\":\"A\",\"deal_value\":1e400}\n\
                 {\"id\":\"B\"}{\"id\":\"C\"}\n\
                 {\"id\":\"D\",\"intent\":\"hi\n\
                 {not json}\n";
    let lines = route_in_memory(input.as_bytes(), &dir);
    assert_eq!(lines.len(), 4);
    for (line, lead) in lines.iter().zip([Some("A"), Some("B"), Some("D"), None]) {
        assert_eq!(line["error"]["code"], "lead.json", "{line}");
        assert_eq!(line["lead"].as_str(), lead, "{line}");
    }
}
