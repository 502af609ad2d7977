//! `switchboard test`: finds test blocks (in policies, and in files of tests that `use` a
//! policy), runs them through the library's `testing` module and reports pass / FAIL, coverage
//! of rules, JSON or JUnit XML.

use super::{
    EXIT_PROBLEMS, FileDiagnostics, Source, describe_io, human_style, print_stdout, read_sources,
    render, used_policy,
};
use clap::ValueEnum;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use switchboard::LineIndex;
use switchboard::model::Policy;
use switchboard::route::roster::Roster;
use switchboard::route::{Outcome, wire};
use switchboard::syntax::ast::{RosterSpec, Test};
use switchboard::testing::{TestResult, coverage, inline_roster, run_test, trace_lines};

#[derive(clap::Args)]
pub struct TestArgs {
    /// Policy files and files of tests, or directories to search for `*.route` files
    #[arg(value_name = "FILE|DIR", default_value = ".")]
    paths: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = TestFormat::Human)]
    format: TestFormat,
    /// Print, per rule, how many tests reach it, and the rules no test reaches
    #[arg(long)]
    coverage: bool,
    /// Fail (exit 1) when tests reach less than this percentage of a policy's rules
    #[arg(long, value_name = "PCT")]
    min_coverage: Option<f64>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TestFormat {
    /// One line per test on stdout, details for failures, a summary line
    Human,
    /// One JSON object on stdout
    Json,
    /// JUnit XML on stdout, for CI systems
    Junit,
}

/// One test's result, with where it lives.
struct Ran {
    file: String,
    line: usize,
    policy: String,
    result: TestResult,
}

/// A policy that tests ran against (or that has none), for coverage.
struct Tested {
    /// The path as first shown.
    shown: String,
    policy: Policy,
}

/// One key per policy file, however its path was written (`a.route`, `sub/../a.route`).
fn policy_key(path: &str) -> String {
    std::fs::canonicalize(path).map_or_else(|_| path.to_string(), |p| p.display().to_string())
}

/// A file whose tests could not run counts as one failed test, in every output format.
fn broken_file(path: &str) -> Ran {
    Ran {
        file: path.to_string(),
        line: 1,
        policy: String::new(),
        result: TestResult {
            name: format!("{path} (has errors)"),
            span: switchboard::Span::at(0),
            failures: vec![format!(
                "`{path}` has errors, so its tests did not run; see `switchboard check {path}`"
            )],
            outcome: None,
            rule: None,
        },
    }
}

pub fn run(args: &TestArgs) -> Result<ExitCode, String> {
    let mut sources = read_sources(&args.paths)?;
    sources.extend(files_of_tests_beside(&sources)?);
    let mut ran: Vec<Ran> = Vec::new();
    let mut tested: BTreeMap<String, Tested> = BTreeMap::new();
    for source in &sources {
        let (policy_path, policy_text, tests_file) = match used_policy(source) {
            None => (source.path.clone(), source.text.clone(), None),
            Some(Ok((path, text))) => (path, text, Some(source)),
            Some(Err(reason)) => {
                let (_, diagnostics) =
                    switchboard::check::check_test_file(&source.text, Err(reason));
                report_problems(source, &diagnostics);
                ran.push(broken_file(&source.path));
                continue;
            }
        };
        // The tests to run, and the file they are in.
        let (tests, test_source): (Vec<Test>, &Source) = match tests_file {
            Some(file) => {
                let (parsed, diagnostics) =
                    switchboard::check::check_test_file(&file.text, Ok(&policy_text));
                if diagnostics.iter().any(|d| d.is_error()) {
                    report_problems(file, &diagnostics);
                    ran.push(broken_file(&file.path));
                    continue;
                }
                (parsed.tests, file)
            }
            None => {
                let parsed = switchboard::syntax::parse(&source.text);
                if parsed.file.tests.is_empty() {
                    // A policy without tests of its own still counts for coverage (its tests
                    // may be in a file that uses it, or missing).
                    if let Some((policy, _)) = switchboard::check_source(&source.text).compiled {
                        tested.entry(policy_key(&source.path)).or_insert(Tested {
                            shown: source.path.clone(),
                            policy,
                        });
                    }
                    continue;
                }
                (parsed.file.tests, source)
            }
        };
        let report = switchboard::check_source(&policy_text);
        let errors: Vec<switchboard::Diagnostic> = report
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .cloned()
            .collect();
        let Some((policy, compiled)) = report.compiled.filter(|_| errors.is_empty()) else {
            let policy_source = Source {
                path: policy_path.clone(),
                text: policy_text.to_string(),
            };
            report_problems(&policy_source, &report.diagnostics);
            ran.push(broken_file(&test_source.path));
            continue;
        };
        let lines = LineIndex::new(&test_source.text);
        let base = Path::new(&test_source.path)
            .parent()
            .unwrap_or(Path::new(""))
            .to_path_buf();
        for test in &tests {
            let line = lines.line_column(test.name.span.start).line;
            let result = match resolve_roster(test, &base, &policy) {
                Ok(roster) => run_test(&policy, &compiled, &policy_text, test, roster.as_ref()),
                Err(reason) => TestResult {
                    name: test.name.value.clone(),
                    span: test.name.span,
                    failures: vec![reason],
                    outcome: None,
                    rule: None,
                },
            };
            ran.push(Ran {
                file: test_source.path.clone(),
                line,
                policy: policy_key(&policy_path),
                result,
            });
        }
        tested.entry(policy_key(&policy_path)).or_insert(Tested {
            shown: policy_path.clone(),
            policy,
        });
    }
    let passed = ran.iter().filter(|r| r.result.passed()).count();
    let failed = ran.len() - passed;
    let coverage_rows = coverage_table(&tested, &ran);
    match args.format {
        TestFormat::Human => {
            print_stdout(&human(&ran, &coverage_rows, args.coverage, passed, failed))?
        }
        TestFormat::Json => print_stdout(&json_report(&ran, &coverage_rows, passed, failed))?,
        TestFormat::Junit => print_stdout(&junit(&ran))?,
    }
    let mut low = false;
    if let Some(minimum) = args.min_coverage {
        for row in &coverage_rows {
            if row.percent() + 1e-9 < minimum {
                low = true;
                eprintln!(
                    "error: tests reach {:.1}% of the rules of `{}`, below --min-coverage {minimum}",
                    row.percent(),
                    row.policy
                );
            }
        }
    }
    if ran.is_empty() {
        return Err("no `test` blocks found".to_string());
    }
    Ok(if failed > 0 || low {
        ExitCode::from(EXIT_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    })
}

/// Files of tests next to the named policies that `use` them and were not named themselves:
/// `switchboard test routing.route` also runs `routing.test.route` when it says
/// `use "routing.route"`.
fn files_of_tests_beside(sources: &[Source]) -> Result<Vec<Source>, String> {
    let named: std::collections::HashSet<String> =
        sources.iter().map(|s| policy_key(&s.path)).collect();
    let mut found = Vec::new();
    let mut seen = named.clone();
    for source in sources {
        if used_policy(source).is_some() {
            continue;
        }
        let policy = policy_key(&source.path);
        let dir = Path::new(&source.path)
            .parent()
            .unwrap_or(Path::new(""))
            .to_path_buf();
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut candidates: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "route"))
            .collect();
        candidates.sort();
        for candidate in candidates {
            let key = policy_key(&candidate.display().to_string());
            if seen.contains(&key) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&candidate) else {
                continue;
            };
            let parsed = switchboard::syntax::parse(&text);
            let uses_this = parsed.file.uses.first().is_some_and(|used| {
                policy_key(&dir.join(&used.value).display().to_string()) == policy
            });
            if uses_this {
                seen.insert(key);
                let shown = candidate
                    .strip_prefix("./")
                    .unwrap_or(&candidate)
                    .display()
                    .to_string();
                found.push(Source { path: shown, text });
            }
        }
    }
    Ok(found)
}

/// The roster a test names: its file (relative to the test's file) or its inline roster.
fn resolve_roster(test: &Test, base: &Path, policy: &Policy) -> Result<Option<Roster>, String> {
    match test.rosters.first() {
        None => Ok(None),
        Some(RosterSpec::Inline(inline)) => Ok(Some(inline_roster(inline, policy))),
        Some(RosterSpec::File(path)) => {
            let full = base.join(&path.value);
            let text = std::fs::read_to_string(&full).map_err(|error| {
                format!(
                    "cannot read roster `{}`: {}",
                    full.display(),
                    describe_io(&error)
                )
            })?;
            Roster::from_json(&text)
                .map(Some)
                .map_err(|error| format!("roster `{}`: {error}", full.display()))
        }
    }
}

fn report_problems(source: &Source, diagnostics: &[switchboard::Diagnostic]) {
    let file = FileDiagnostics {
        path: &source.path,
        text: &source.text,
        diagnostics,
    };
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(render::human(&file, human_style()).as_bytes());
    let _ = writeln!(
        err,
        "error: `{}` has errors; its tests did not run",
        source.path
    );
}

/// Coverage of one policy's rules.
struct CoverageRow {
    policy: String,
    /// (rule label, line, tests that reach it)
    rules: Vec<(String, usize, usize)>,
}

impl CoverageRow {
    fn percent(&self) -> f64 {
        if self.rules.is_empty() {
            return 100.0;
        }
        let reached = self.rules.iter().filter(|(_, _, count)| *count > 0).count();
        100.0 * reached as f64 / self.rules.len() as f64
    }
}

fn coverage_table(tested: &BTreeMap<String, Tested>, ran: &[Ran]) -> Vec<CoverageRow> {
    tested
        .iter()
        .map(|(path, tested)| {
            let results: Vec<TestResult> = ran
                .iter()
                .filter(|r| &r.policy == path)
                .map(|r| r.result.clone())
                .collect();
            let counts = coverage(&tested.policy, &results);
            CoverageRow {
                policy: tested.shown.clone(),
                rules: tested
                    .policy
                    .rules
                    .iter()
                    .zip(counts)
                    .map(|(rule, count)| {
                        let label = if rule.is_otherwise && rule.syntax.name.is_none() {
                            "otherwise".to_string()
                        } else {
                            rule.label.clone()
                        };
                        (label, rule.line, count)
                    })
                    .collect(),
            }
        })
        .collect()
}

fn human(
    ran: &[Ran],
    coverage: &[CoverageRow],
    show_coverage: bool,
    passed: usize,
    failed: usize,
) -> String {
    let mut out = String::new();
    for run in ran {
        let status = if run.result.passed() { "pass" } else { "FAIL" };
        out.push_str(&format!(
            "{status}  {}  ({}:{})\n",
            run.result.name, run.file, run.line
        ));
        if run.result.passed() {
            continue;
        }
        for failure in &run.result.failures {
            out.push_str(&format!("      {failure}\n"));
        }
        if let Some(outcome) = &run.result.outcome {
            out.push_str(&format!(
                "      decision: {}\n",
                shown_without_trace(outcome)
            ));
            if let Outcome::Decided {
                trace: Some(trace), ..
            } = outcome
            {
                for line in trace_lines(trace) {
                    out.push_str(&format!("      {line}\n"));
                }
            }
        }
    }
    if show_coverage {
        for row in coverage {
            let reached = row.rules.iter().filter(|(_, _, c)| *c > 0).count();
            out.push_str(&format!(
                "\ncoverage of {}: {reached} of {} rules reached by tests ({:.1}%)\n",
                row.policy,
                row.rules.len(),
                row.percent()
            ));
            let width = row
                .rules
                .iter()
                .map(|(label, _, _)| label.len())
                .max()
                .unwrap_or(4);
            for (label, line, count) in &row.rules {
                out.push_str(&format!(
                    "  {label:<width$}  line {line:<4}  {count} test{}\n",
                    if *count == 1 { "" } else { "s" }
                ));
            }
            let missing: Vec<&str> = row
                .rules
                .iter()
                .filter(|(_, _, c)| *c == 0)
                .map(|(l, _, _)| l.as_str())
                .collect();
            if !missing.is_empty() {
                out.push_str(&format!(
                    "  not reached by any test: {}\n",
                    missing.join(", ")
                ));
            }
        }
    }
    out.push_str(&format!("{passed} passed, {failed} failed\n"));
    out
}

/// The outcome's JSON line without its trace (the trace is shown as lines below it).
fn shown_without_trace(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Decided {
            decision,
            duplicate,
            ..
        } => {
            let mut out = String::new();
            wire::write_decision(&mut out, decision, *duplicate, None);
            out
        }
        Outcome::Invalid(_) => wire::outcome_json(outcome, 1),
    }
}

fn json_report(ran: &[Ran], coverage: &[CoverageRow], passed: usize, failed: usize) -> String {
    let tests: Vec<Value> = ran
        .iter()
        .map(|run| {
            json!({
                "name": run.result.name,
                "file": run.file,
                "line": run.line,
                "policy": run.policy,
                "status": if run.result.passed() { "pass" } else { "fail" },
                "failures": run.result.failures,
                "decision": run.result.outcome.as_ref().map_or(Value::Null, |outcome| wire::outcome_value(outcome, 1)),
            })
        })
        .collect();
    let coverage: Vec<Value> = coverage
        .iter()
        .map(|row| {
            json!({
                "policy": row.policy,
                "percent": (row.percent() * 10.0).round() / 10.0,
                "rules": row.rules.iter().map(|(label, line, count)| json!({ "rule": label, "line": line, "tests": count })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&json!({
        "passed": passed,
        "failed": failed,
        "tests": tests,
        "coverage": coverage,
    }))
    .unwrap_or_else(|_| "{}".to_string());
    out.push('\n');
    out
}

/// JUnit XML: one `testsuite` per file, one `testcase` per test.
fn junit(ran: &[Ran]) -> String {
    let mut by_file: BTreeMap<&str, Vec<&Ran>> = BTreeMap::new();
    for run in ran {
        by_file.entry(&run.file).or_default().push(run);
    }
    let total_failures = ran.iter().filter(|r| !r.result.passed()).count();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"switchboard\" tests=\"{}\" failures=\"{total_failures}\">\n",
        ran.len()
    );
    for (file, runs) in by_file {
        let failures = runs.iter().filter(|r| !r.result.passed()).count();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">\n",
            xml(file),
            runs.len()
        ));
        for run in runs {
            out.push_str(&format!(
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\"",
                xml(&run.result.name),
                xml(file),
                xml(file),
                run.line
            ));
            if run.result.passed() {
                out.push_str("/>\n");
                continue;
            }
            let mut details = run.result.failures.join("\n");
            if let Some(outcome) = &run.result.outcome {
                details.push_str(&format!("\ndecision: {}", shown_without_trace(outcome)));
                if let Outcome::Decided {
                    trace: Some(trace), ..
                } = outcome
                {
                    for line in trace_lines(trace) {
                        details.push('\n');
                        details.push_str(&line);
                    }
                }
            }
            out.push_str(&format!(
                ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                xml(run.result.failures.first().map_or("failed", String::as_str)),
                xml(&details)
            ));
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Escapes text for XML attributes and content.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot hold at all.
            ch if (ch as u32) < 0x20 && !matches!(ch, '\n' | '\r' | '\t') => out.push('\u{fffd}'),
            ch => out.push(ch),
        }
    }
    out
}
