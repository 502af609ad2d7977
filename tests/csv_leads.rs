//! Leads as CRMs export them (issue 20, "CSV in"), through the command line: a `.csv` file (or
//! `--input-format csv`) routes to the same decisions as the same leads in NDJSON; every data
//! row yields exactly one output line, its error records naming the row and the column; header
//! names match in another case with a warning; enums in another case only with
//! `--lenient-enums`; `diff --leads`, `explain --lead @FILE.csv` and `simulate` read CSV too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod common;

use common::{example, run};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn scratch(name: &str) -> PathBuf {
    common::scratch("csv", name)
}

/// A run's stdout, and each of its lines as JSON.
fn json_lines(stdout: Vec<u8>) -> (String, Vec<serde_json::Value>) {
    let stdout = String::from_utf8(stdout).unwrap();
    let records = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (stdout, records)
}

fn route(leads: &str, extra: &[&str], dir: &Path) -> std::process::Output {
    let policy = example("routing.route");
    let roster = example("roster.json");
    let mut args = vec![
        "route",
        policy.as_str(),
        "--roster",
        roster.as_str(),
        "--state",
        ":memory:",
        "--now",
        "2026-11-23T10:00:00Z",
        "--leads",
        leads,
    ];
    args.extend_from_slice(extra);
    run(&args, dir)
}

#[test]
fn the_example_leads_in_csv_route_to_the_same_decisions() {
    let dir = scratch("same");
    let from_csv = route(&example("leads.csv"), &["--quiet"], &dir);
    let from_ndjson = route(&example("leads.ndjson"), &["--quiet"], &dir);
    assert!(from_csv.status.success());
    assert_eq!(
        String::from_utf8(from_csv.stdout).unwrap(),
        String::from_utf8(from_ndjson.stdout).unwrap()
    );
}

#[test]
fn every_row_gives_one_line_and_errors_name_the_row_and_column() {
    let dir = scratch("errors");
    let csv = "\u{feff}ID,Intent,fit,region,country,employees,deal_value,source,created_at,notes\r\n\
               R-1,High,strong,emea,DE,800.0,20000,demo_request,2026-11-23T10:00:00+01:00,\"call, then mail\"\r\n\
               R-2,high,strong,emea,DE,800.5,20000,demo_request,2026-11-23T10:00:00+01:00,\r\n\
               R-3,hgh,weak,emea,DE,lots,1,webinar,2026-11-23T10:00:00+01:00,\"two\r\nlines\"\r\n\
               R-4,low,weak,emea,DE,12,1000,content_download,2026-11-23T10:00:00+01:00,\r\n\
               R-5,low,weak,emea,DE,,1000,content_download,,\r\n\
               R-6,low,weak,emea,DE,12,1000,content_download,2026-11-23T10:00:00+01:00\r\n";
    std::fs::write(dir.join("crm.csv"), csv).unwrap();
    let output = route("crm.csv", &[], &dir);
    assert_eq!(output.status.code(), Some(1), "some rows were not leads");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        6,
        "one line per data row:\n{stdout}"
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    let lenient = route("crm.csv", &["--lenient-enums", "--quiet"], &dir);
    let lenient = String::from_utf8(lenient.stdout).unwrap();
    insta::assert_snapshot!(
        "csv_rows",
        format!(
            "{stdout}\n--- stderr\n{stderr}\n--- with --lenient-enums, row 1\n{}",
            lenient.lines().next().unwrap()
        )
    );
}

#[test]
fn stdin_reads_csv_when_told_and_refuses_it_otherwise() {
    let dir = scratch("stdin");
    let text = std::fs::read(example("leads.csv")).unwrap();
    let policy = example("routing.route");
    let piped = |extra: &[&str]| {
        let mut args = vec![
            "route",
            policy.as_str(),
            "--state",
            ":memory:",
            "--now",
            "2026-11-23T10:00:00Z",
            "--quiet",
        ];
        args.extend_from_slice(extra);
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(&args)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&text).unwrap();
        child.wait_with_output().unwrap()
    };
    let told = piped(&["--input-format", "csv"]);
    assert!(told.status.code().is_some_and(|code| code <= 1));
    assert_eq!(String::from_utf8(told.stdout).unwrap().lines().count(), 15);
    let refused = piped(&[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--input-format csv"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // A format given is obeyed: every line read as NDJSON, each an error record of its own.
    let as_told = piped(&["--input-format", "ndjson"]);
    assert_eq!(as_told.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(as_told.stdout).unwrap().lines().count(),
        16
    );
}

/// JSON lines in a file named `.csv`: read as CSV, the first lead would be the header and every
/// other line an error. Refused with one message naming `--input-format ndjson`, which reads
/// them.
#[test]
fn json_lines_in_a_csv_file_are_refused_naming_the_format() {
    let dir = scratch("json-in-csv");
    let path = dir.join("leads.csv");
    std::fs::copy(example("leads.ndjson"), &path).unwrap();
    let output = route(path.to_str().unwrap(), &["--quiet"], &dir);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim_end(),
        format!(
            "error: leads `{}`: its first row begins with `{{`: these look like JSON lines \
             (NDJSON), not CSV; read them with `--input-format ndjson`",
            path.display()
        )
    );
    // Told it is CSV, it is read as CSV: the first line is the header, every other a row
    // that names no field the policy needs.
    let as_csv = route(
        path.to_str().unwrap(),
        &["--quiet", "--input-format", "csv"],
        &dir,
    );
    assert_eq!(as_csv.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(as_csv.stdout).unwrap().lines().count(),
        14
    );
    let told = route(
        path.to_str().unwrap(),
        &["--quiet", "--input-format", "ndjson"],
        &dir,
    );
    assert!(told.status.success());
    assert_eq!(
        told.stdout,
        route(&example("leads.ndjson"), &["--quiet"], &dir).stdout
    );
}

#[test]
fn diff_explain_and_simulate_read_csv_too() {
    let dir = scratch("others");
    let policy = example("routing.route");
    let roster = example("roster.json");
    let diff = |leads: &str| {
        let output = run(
            &[
                "diff",
                &policy,
                &policy,
                "--leads",
                leads,
                "--roster",
                &roster,
                "--now",
                "2026-11-23T10:00:00Z",
                "--format",
                "json",
            ],
            &dir,
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    assert_eq!(
        diff(&example("leads.csv")).replace("leads.csv", "LEADS"),
        diff(&example("leads.ndjson")).replace("leads.ndjson", "LEADS")
    );
    let explain = |lead: &str| {
        let output = run(
            &[
                "explain",
                &policy,
                "--lead",
                lead,
                "--roster",
                &roster,
                "--state",
                ":memory:",
                "--now",
                "2026-11-23T10:00:00Z",
                "--format",
                "json",
            ],
            &dir,
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let csv_lead = format!("@{}", example("leads.csv"));
    let ndjson_lead = format!("@{}", example("leads.ndjson"));
    assert_eq!(explain(&csv_lead), explain(&ndjson_lead));
    // The example week, as a CRM would export it.
    let week = std::fs::read_to_string(example("week.ndjson")).unwrap();
    let fields = [
        "id",
        "intent",
        "fit",
        "region",
        "country",
        "employees",
        "deal_value",
        "source",
        "parent_account",
        "contact_owner",
        "created_at",
    ];
    let mut csv = fields.join(",") + "\n";
    for line in week.lines() {
        let lead: serde_json::Value = serde_json::from_str(line).unwrap();
        let cells: Vec<String> = fields
            .iter()
            .map(|field| match &lead[*field] {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(text) => format!("\"{}\"", text.replace('"', "\"\"")),
                other => other.to_string(),
            })
            .collect();
        csv.push_str(&cells.join(","));
        csv.push('\n');
    }
    std::fs::write(dir.join("week.csv"), csv).unwrap();
    let simulate = |leads: &str| {
        let output = run(
            &[
                "simulate", &policy, "--roster", &roster, "--leads", leads, "--seed", "3",
                "--format", "json",
            ],
            &dir,
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    };
    assert_eq!(simulate("week.csv"), simulate(&example("week.ndjson")));
}

/// Whole numbers as spreadsheets and people write them are ints; a header-only file has no
/// lead to explain; a field typed differently by the two policies of a `diff` is warned about.
#[test]
fn numbers_as_people_write_them_and_the_edges() {
    let dir = scratch("edges");
    std::fs::write(
        dir.join("numbers.csv"),
        "id,intent,fit,region,country,employees,deal_value,source,created_at\n\
         N-1,low,weak,emea,DE,+5,1000,webinar,2026-11-23T10:00:00Z\n\
         N-2,low,weak,emea,DE,007,1e3,webinar,2026-11-23T10:00:00Z\n\
         N-3,low,weak,emea,DE, 12 ,1000.50,webinar,2026-11-23T10:00:00Z\n",
    )
    .unwrap();
    let output = route("numbers.csv", &["--quiet"], &dir);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert_eq!(stdout.lines().count(), 3);
    assert!(!stdout.contains("error"), "{stdout}");
    std::fs::write(dir.join("header.csv"), "id,intent\n").unwrap();
    let policy = example("routing.route");
    let explained = run(
        &[
            "explain",
            &policy,
            "--lead",
            "@header.csv",
            "--state",
            ":memory:",
        ],
        &dir,
    );
    assert_eq!(explained.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&explained.stderr)
            .lines()
            .last()
            .unwrap_or_default(),
        "error: `header.csv` has a header row but no lead under it"
    );
    let old = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(dir.join("old.route"), &old).unwrap();
    std::fs::write(
        dir.join("new.route"),
        old.replace("  employees:      int\n", "  employees:      number\n"),
    )
    .unwrap();
    let diffed = run(
        &[
            "diff",
            "old.route",
            "new.route",
            "--leads",
            &example("leads.csv"),
            "--now",
            "2026-11-23T10:00:00Z",
        ],
        &dir,
    );
    assert!(
        String::from_utf8_lossy(&diffed.stderr)
            .contains("field `employees` has another type in each policy"),
        "{}",
        String::from_utf8_lossy(&diffed.stderr)
    );
}

#[test]
fn a_quote_never_closed_stops_the_run_and_says_where_instead_of_losing_rows() {
    let dir = scratch("open-quote");
    let text = std::fs::read_to_string(example("leads.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    // Row 2 (file line 3) gets a quote before its country that is never closed.
    lines[2] = lines[2]
        .replacen(",DE,", ",\"DE,", 1)
        .replacen(",FR,", ",\"FR,", 1);
    let path = dir.join("open.csv");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let output = route(path.to_str().unwrap(), &["--quiet"], &dir);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the CSV row at line 3 opens a quote that is never closed"),
        "{stderr}"
    );
    // The row before it was answered.
    assert_eq!(String::from_utf8(output.stdout).unwrap().lines().count(), 1);
}

/// Blank lines count in the line a message names (the CSV reader skips them as rows).
#[test]
fn a_quote_never_closed_after_blank_lines_names_the_line_in_the_file() {
    let dir = scratch("open-quote-blank");
    let text = std::fs::read_to_string(example("leads.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[2] = lines[2].replacen(",FR,", ",\"FR,", 1);
    lines.insert(1, String::new());
    lines.insert(1, String::new());
    let path = dir.join("open.csv");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let output = route(path.to_str().unwrap(), &["--quiet"], &dir);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "the CSV row at line 5 opens a quote that is never closed: the rows after it were \
             read as one cell (line {} is where the file ends)",
            lines.len()
        )),
        "{stderr}"
    );
    assert_eq!(String::from_utf8(output.stdout).unwrap().lines().count(), 1);
}

/// A row longer than `--max-line-bytes` is a `lead.too_long` record in its place, its bytes
/// past the bound read without being kept, and the rows after it are read: named by its id
/// when the id came before the bound, by none when the id is what ran long. The header past
/// the bound is the header's problem, which ends the run.
#[test]
fn a_row_past_the_length_bound_is_a_too_long_record_and_the_rows_after_it_are_read() {
    let dir = scratch("long-row");
    let text = std::fs::read_to_string(example("leads.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let rows = lines.len() - 1;
    lines.push(String::new());
    lines.push(lines[1].replacen("L-1,", &format!("L-long{},", "x".repeat(400)), 1));
    // A long industry (the ninth column) after a whole id.
    let mut cells: Vec<String> = lines[2].split(',').map(str::to_string).collect();
    cells[0] = "L-99".to_string();
    cells[8] = "y".repeat(500);
    let long_industry = cells.join(",");
    let length = long_industry.len();
    lines.push(long_industry);
    lines.push(lines[2].replacen("L-2,", "L-100,", 1));
    // `lines` written to `name` and routed with rows bounded to 300 bytes.
    let route_bounded = |name: &str, lines: &[String]| {
        let path = dir.join(name);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let output = route(
            path.to_str().unwrap(),
            &["--quiet", "--max-line-bytes", "300"],
            &dir,
        );
        (path, output)
    };
    let (_, output) = route_bounded("long.csv", &lines);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (stdout, records) = json_lines(output.stdout);
    assert_eq!(records.len(), rows + 3, "{stdout}");
    assert_eq!(
        records[rows],
        serde_json::json!({"lead": null, "error": {
            "code": "lead.too_long",
            "message": format!(
                "the CSV row at line {} is {} bytes, more than the limit of 300 (see \
                 --max-line-bytes)",
                rows + 3,
                lines[rows + 2].len()
            ),
            "input_line": rows + 1,
        }})
    );
    assert_eq!(
        records[rows + 1],
        serde_json::json!({"lead": "L-99", "error": {
            "code": "lead.too_long",
            "message": format!(
                "the CSV row at line {} is {length} bytes, more than the limit of 300 (see \
                 --max-line-bytes)",
                rows + 4
            ),
            "input_line": rows + 2,
        }})
    );
    assert_eq!(records[rows + 2]["lead"], "L-100");
    assert!(records[rows + 2].get("error").is_none(), "{stdout}");
    // A quote never closed past the bound: the row is answered, then the run ends, as it does
    // when the row is within the bound (exit 2).
    let mut open = lines.clone();
    open.insert(3, "L-55,\"high,strong,emea".to_string());
    let (path, output) = route_bounded("open-long.csv", &open);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "error: cannot read leads: the CSV row at line 4 opens a quote that is never closed: \
             the rows after it were read as one cell (line {} is where the file ends)",
            open.len()
        )),
        "{stderr}"
    );
    let (stdout, records) = json_lines(output.stdout);
    assert_eq!(records.len(), 3, "{stdout}");
    assert_eq!(records[2]["lead"], "L-55");
    assert_eq!(records[2]["error"]["code"], "lead.too_long");
    // The header itself past the bound is the header's problem.
    let output = route(
        path.to_str().unwrap(),
        &["--quiet", "--max-line-bytes", "40"],
        &dir,
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(&format!(
            "cannot read the CSV header row: the CSV row at line 1 is {} bytes, more than the \
             limit of 40 (see --max-line-bytes)",
            lines[0].len()
        )),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `"L-5"x`: a quoted cell that goes on after its closing quote is read by CSV readers as
/// `L-5x`, which no one wrote. In a column a field reads, the row is a `lead.csv` record (with
/// no lead named when the cell is the id); spaces after the quote are let by in a typed cell
/// (read without them), and columns no field reads may hold anything.
#[test]
fn text_after_a_closing_quote_is_an_error_record_where_a_field_reads_it() {
    let dir = scratch("past-quote");
    let text = std::fs::read_to_string(example("leads.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[1] = lines[1].replacen("L-1,", "\"L-1\"x,", 1);
    lines[2] = lines[2].replacen(",FR,", ",\"FR\"R,", 1);
    lines[3] = lines[3].replacen(",high,", ",\"high\" ,", 1);
    lines[0].push_str(",note");
    for line in &mut lines[1..] {
        line.push(',');
    }
    lines[4].push_str("\"he said \"hi\" there\"");
    lines.insert(5, String::new());
    lines[6] = lines[6].replacen(",medium,", ",\"medium\"!,", 1);
    // Spaces after the quote of a cell read as written (the id) would be part of the id.
    lines[7] = lines[7].replacen("L-6,", "\"L-6\" ,", 1);
    let path = dir.join("past.csv");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let output = route(path.to_str().unwrap(), &["--quiet"], &dir);
    let answers: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(answers.len(), lines.len() - 2, "{answers:?}");
    assert_eq!(answers[0]["lead"], serde_json::Value::Null);
    assert_eq!(
        answers[0]["error"]["message"],
        "the quoted cell of `id` (column 1) goes on after its closing quote, so it would be \
         read as `L-1x`: inside quotes write a quote twice (`\"\"`), and put nothing between the \
         closing quote and the next comma"
    );
    assert_eq!(answers[1]["lead"], "L-2");
    assert!(
        answers[1]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("the quoted cell of `country` (column 5) goes on after its closing quote, so it would be read as `FRR`"),
        "{}",
        answers[1]
    );
    assert!(answers[2].get("error").is_none(), "{}", answers[2]);
    assert!(answers[3].get("error").is_none(), "{}", answers[3]);
    assert!(
        answers[4]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("the quoted cell of `intent` (column 2)"),
        "{}",
        answers[4]
    );
    assert_eq!(
        answers[5]["lead"],
        serde_json::Value::Null,
        "{}",
        answers[5]
    );
    assert!(
        answers[5]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("would be read as `L-6 `"),
        "{}",
        answers[5]
    );
    for answer in &answers[6..] {
        assert!(answer.get("error").is_none(), "{answer}");
    }
}

/// A row with more cells than the header is not routed: a comma not in quotes (`Acme, Inc`)
/// moves every later cell one column on, so its values would land in other fields. It gets a
/// `lead.csv` record naming the cells past the header, with the row's id; empty cells past the
/// header (a trailing comma) are no such sign and are ignored; the run goes on.
#[test]
fn a_row_with_cells_past_the_header_is_an_error_record_not_a_shifted_lead() {
    let dir = scratch("extra-cells");
    let csv = "id,intent,fit,region,country,employees,deal_value,source,industry,created_at\n\
               X-1,high,strong,emea,DE,800,20000,demo_request,\"Acme, Inc\",2026-11-23T10:00:00+01:00\n\
               X-2,high,strong,emea,DE,800,20000,demo_request,Acme, Inc,2026-11-23T10:00:00+01:00\n\
               X-3,high,strong,emea,DE,800,20000,demo_request,software,2026-11-23T10:00:00+01:00,,\n\
               ,low,weak,emea,DE,12,1000,webinar,a,b,c,d,e,2026-11-23T10:00:00+01:00,this cell is much longer than forty characters\n";
    std::fs::write(dir.join("crm.csv"), csv).unwrap();
    let output = route("crm.csv", &["--quiet"], &dir);
    assert_eq!(output.status.code(), Some(1), "two rows were not leads");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        4,
        "one line per data row:\n{stdout}"
    );
    insta::assert_snapshot!("csv_cells_past_the_header", stdout);
}

/// A quote opened by mistake (`27" monitor` not written `"27"" monitor"`) takes the rows after
/// it into one cell until another quote closes it, with as many cells as a row has: the row is
/// a `lead.csv` record that says the rows it took in got no answer, never a lead routed with
/// them as its text while they vanish.
#[test]
fn a_quote_opened_by_mistake_that_takes_rows_in_is_said() {
    let dir = scratch("stray-quote");
    let csv = "id,intent,fit,region,country,employees,deal_value,source,industry,created_at\n\
               Q-1,high,strong,emea,DE,800,20000,demo_request,\"27\"\" monitor,2026-11-23T10:00:00+01:00\n\
               Q-2,high,strong,emea,DE,800,20000,demo_request,media,2026-11-23T10:00:00+01:00\n\
               Q-3,high,strong,emea,DE,800,20000,demo_request,media\",2026-11-23T10:00:00+01:00\n\
               Q-4,high,strong,emea,DE,800,20000,demo_request,\"notes\n  over two lines\",2026-11-23T10:00:00+01:00\n";
    std::fs::write(dir.join("crm.csv"), csv).unwrap();
    let output = route("crm.csv", &["--quiet"], &dir);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].contains("\"lead\":\"Q-1\",\"error\":{\"code\":\"lead.csv\""),
        "{stdout}"
    );
    assert!(
        lines[0].contains("spans 3 lines, some with as many commas as a row"),
        "{stdout}"
    );
    // A quoted cell over two lines that are no rows is a cell like any other.
    assert!(lines[1].contains("\"lead\":\"Q-4\",\"rule\""), "{stdout}");
}

/// A column whose name is a field's written another way (`Contact Owner`, `parent-account`)
/// is not read, and says so with the field's name: an optional field would otherwise go unread
/// in every row without a word.
#[test]
fn a_column_named_like_a_field_but_not_as_it_is_warned_about() {
    let dir = scratch("near-miss");
    let csv = "id,intent,fit,region,country,employees,deal_value,source,created_at,Contact Owner,parent-account\n\
               N-1,high,strong,emea,DE,40,2000,demo_request,2026-11-23T10:00:00+01:00,petr,Acme\n";
    std::fs::write(dir.join("crm.csv"), csv).unwrap();
    let output = route("crm.csv", &[], &dir);
    let stderr = String::from_utf8(output.stderr).unwrap();
    for (column, field) in [
        ("Contact Owner", "contact_owner"),
        ("parent-account", "parent_account"),
    ] {
        assert!(
            stderr.contains(&format!(
                "column `{column}` is not read: no field has that name; did you mean `{field}`?"
            )),
            "{stderr}"
        );
    }
}

/// A column that is a field written another way (`COUNTRY`, `Created At`) next to the column
/// with the field's own name: which one is read is said, so an export with both does not route
/// on one of them without a word.
#[test]
fn a_field_given_twice_in_other_spellings_says_which_column_is_read() {
    let dir = scratch("two-spellings");
    let csv = "id,intent,fit,region,country,employees,deal_value,source,created_at,COUNTRY,Created At\n\
               N-1,high,strong,emea,DE,40,2000,demo_request,2026-11-23T10:00:00+01:00,US,x\n";
    std::fs::write(dir.join("crm.csv"), csv).unwrap();
    let output = route("crm.csv", &[], &dir);
    let stderr = String::from_utf8(output.stderr).unwrap();
    for expected in [
        "column 10 (`COUNTRY`) is field `country` written another way: column 5 gives it; this \
         column is not read",
        "column 11 (`Created At`) is field `created_at` written another way: column 9 gives it; \
         this column is not read",
    ] {
        assert!(stderr.contains(expected), "{expected}\n{stderr}");
    }
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("\"lead\":\"N-1\""), "{stdout}");
    // The same name twice is one warning, that it repeats the field.
    let csv = "id,intent,country,created_at,country\n\
               N-2,high,DE,2026-11-23T10:00:00+01:00,US\n";
    std::fs::write(dir.join("twice.csv"), csv).unwrap();
    let output = route("twice.csv", &[], &dir);
    let stderr = String::from_utf8(output.stderr).unwrap();
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("column 5")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("column 5 (`country`) repeats field `country`"),
        "{stderr}"
    );
}

/// A header that ends in a comma (an unnamed last column, as some exports write) asks no row
/// for a cell there: rows with and without the trailing comma are read alike. In a file of few
/// columns, a quoted address over several lines (commas on each) is a cell like any other.
#[test]
fn unnamed_columns_at_the_end_and_addresses_in_narrow_files_are_no_row_errors() {
    let dir = scratch("trailing-header");
    let text = std::fs::read_to_string(example("leads.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[0].push(',');
    lines[1].push(',');
    std::fs::write(dir.join("trailing.csv"), lines.join("\n") + "\n").unwrap();
    let trailing = route("trailing.csv", &["--quiet"], &dir);
    let plain = route(&example("leads.csv"), &["--quiet"], &dir);
    assert_eq!(
        String::from_utf8(trailing.stdout).unwrap(),
        String::from_utf8(plain.stdout).unwrap()
    );
    assert_eq!(trailing.status.code(), plain.status.code());
    // The unnamed column takes in no cell that a comma not in quotes moved there.
    let mut shifted = lines.clone();
    shifted[2] = shifted[2].replacen(',', ",x,", 1);
    std::fs::write(dir.join("shifted.csv"), shifted.join("\n") + "\n").unwrap();
    let shifted = route("shifted.csv", &["--quiet"], &dir);
    let shifted = String::from_utf8(shifted.stdout).unwrap();
    let second = shifted.lines().nth(1).unwrap();
    assert!(second.contains("\"code\":\"lead.csv\""), "{second}");

    std::fs::write(
        dir.join("narrow.route"),
        "schema lead { id: string  ship_to: string?  created_at: time }\n\
         queue desk\n\
         otherwise -> queue desk\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("narrow.csv"),
        "id,ship_to,created_at\n\
         A-1,\"Ship to:\nAcme GmbH, Musterstr. 1, 10115 Berlin, Germany\nAttn: Buying, Floor 2\",2026-11-23T10:00:00Z\n",
    )
    .unwrap();
    let narrow = run(
        &[
            "route",
            "narrow.route",
            "--state",
            ":memory:",
            "--leads",
            "narrow.csv",
            "--quiet",
        ],
        &dir,
    );
    let stdout = String::from_utf8(narrow.stdout).unwrap();
    assert!(stdout.contains("\"lead\":\"A-1\",\"rule\""), "{stdout}");
}

/// A CSV file saved in Latin-1 (`D\xe9` for `Dé`): the row is an error record with its id that
/// names the column and where in the cell the byte is, not an offset into a line the user never
/// wrote; a column no field reads may hold any bytes.
#[test]
fn a_cell_that_is_not_utf8_is_named_by_its_column() {
    let dir = scratch("latin-1");
    let mut csv =
        b"id,intent,fit,region,country,employees,deal_value,source,notes,created_at\n".to_vec();
    csv.extend_from_slice(
        b"U-1,high,strong,emea,D\xe9,800,20000,demo_request,,2026-11-23T10:00:00+01:00\n",
    );
    csv.extend_from_slice(
        b"U-2,high,strong,emea,DE,800,20000,demo_request,caf\xe9,2026-11-23T10:00:00+01:00\n",
    );
    std::fs::write(dir.join("crm.csv"), csv).unwrap();
    let output = route("crm.csv", &["--quiet"], &dir);
    assert_eq!(output.status.code(), Some(1), "a row was not a lead");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0]["lead"], "U-1", "{stdout}");
    assert_eq!(lines[0]["error"]["code"], "lead.csv", "{stdout}");
    assert_eq!(
        lines[0]["error"]["message"],
        "the cell of `country` (column 5) is not UTF-8 (invalid byte at offset 1 of the cell): \
         the file may be saved in Latin-1 or Windows-1252; save it as UTF-8",
        "{stdout}"
    );
    assert_eq!(lines[1]["lead"], "U-2", "a column no field reads: {stdout}");
    assert!(lines[1]["rule"].is_string(), "{stdout}");
}
