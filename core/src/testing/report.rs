//! The reports of a test run: for people (pass / FAIL lines, failures with the decision and
//! its trace, coverage of rules), one JSON object, and JUnit XML for CI systems.

use super::suite::{Ran, Suite, Tested};
use super::{TestResult, coverage};
use crate::route::{Outcome, wire};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Coverage of one policy's rules.
pub struct CoverageRow {
    pub policy: String,
    /// (rule label, line, tests that reach it)
    pub rules: Vec<(String, usize, usize)>,
}

impl CoverageRow {
    /// The share of rules some test reaches, in percent (100 for a policy without rules).
    pub fn percent(&self) -> f64 {
        if self.rules.is_empty() {
            return 100.0;
        }
        let reached = self.rules.iter().filter(|(_, _, count)| *count > 0).count();
        100.0 * reached as f64 / self.rules.len() as f64
    }
}

/// Per tested policy, how many tests reach each rule.
pub fn coverage_table(tested: &BTreeMap<String, Tested>, ran: &[Ran]) -> Vec<CoverageRow> {
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

/// One line per test, details for failures, the coverage table when asked, a summary line.
pub fn human(suite: &Suite, coverage: &[CoverageRow], show_coverage: bool) -> String {
    let (ran, passed, failed) = (&suite.ran, suite.passed(), suite.failed());
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
                for line in trace.lines() {
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
                    "  {}  line {line:<4}  {count} test{}\n",
                    crate::text::pad(label, width),
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

/// One JSON object: counts, every test with its decision, the coverage of every policy.
pub fn json(suite: &Suite, coverage: &[CoverageRow]) -> String {
    let (ran, passed, failed) = (&suite.ran, suite.passed(), suite.failed());
    let tests: Vec<Value> = ran
        .iter()
        .map(|run| {
            json!({
                "name": run.result.name,
                "file": run.file,
                "line": run.line,
                // As coverage shows it (the key is the policy's canonical path).
                "policy": suite.tested.get(&run.policy).map_or(run.policy.as_str(), |tested| tested.shown.as_str()),
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
pub fn junit(suite: &Suite) -> String {
    let ran = &suite.ran;
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
                    for line in trace.lines() {
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
