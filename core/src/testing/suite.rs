//! Which tests run against which policy: the `test` blocks of policies and of files of tests
//! (which `use` a policy), each run against its policy, with the files whose tests could not run
//! and why. The command line and the language server both assemble suites here, reading files
//! through [`Files`].

use super::{TestResult, run_test};
use crate::diagnostic::Diagnostic;
use crate::files::{self, Files};
use crate::model::Policy;
use crate::span::{LineIndex, Span};
use crate::syntax::ast::Test;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A file named on the command line (or found beside one).
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    /// The path as reports show it.
    pub shown: String,
    pub text: String,
}

/// One test's result, with where it lives.
#[derive(Debug, Clone)]
pub struct Ran {
    /// The file the test is in, as shown.
    pub file: String,
    /// The 1-based line of the test's name.
    pub line: usize,
    /// The policy the test ran against (its canonical path).
    pub policy: String,
    pub result: TestResult,
}

/// A policy that tests ran against (or that has none), for coverage.
#[derive(Debug, Clone)]
pub struct Tested {
    /// The path as first shown.
    pub shown: String,
    pub policy: Policy,
}

/// A file whose tests could not run, and the diagnostics of the file that has the errors (the
/// file of tests, or the policy it uses).
#[derive(Debug, Clone)]
pub struct Problem {
    /// The file whose tests did not run.
    pub tests: String,
    /// The file with the errors, its text and its diagnostics.
    pub path: String,
    pub text: String,
    pub diagnostics: Vec<Diagnostic>,
}

/// Every test run, every policy tested, every file whose tests could not run.
#[derive(Debug, Clone, Default)]
pub struct Suite {
    pub ran: Vec<Ran>,
    /// By canonical path.
    pub tested: BTreeMap<String, Tested>,
    pub problems: Vec<Problem>,
    /// The roster files tests used, each once, with what holding it against its policy found.
    pub rosters: Vec<files::RosterReport>,
}

impl Suite {
    pub fn passed(&self) -> usize {
        self.ran.iter().filter(|r| r.result.passed()).count()
    }

    pub fn failed(&self) -> usize {
        self.ran.len() - self.passed()
    }
}

/// Adds, after the named sources, the files of tests beside the named policies that `use` them
/// and were not named themselves: `switchboard test routing.route` also runs
/// `routing.test.route` when it says `use "routing.route"`.
pub fn with_files_of_tests(files: &dyn Files, sources: Vec<Source>) -> Vec<Source> {
    let mut seen: std::collections::HashSet<PathBuf> = sources
        .iter()
        .map(|source| files.canonical(&source.path))
        .collect();
    let mut found = Vec::new();
    for source in &sources {
        if !crate::syntax::parse(&source.text).file.uses.is_empty() {
            continue;
        }
        for (path, text) in files::files_of_tests_using(files, &source.path) {
            if seen.insert(files.canonical(&path)) {
                let shown = path
                    .strip_prefix("./")
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                found.push(Source { path, shown, text });
            }
        }
    }
    let mut all = sources;
    all.extend(found);
    all
}

/// Runs every test of every source: a policy's own tests against it, a file of tests' tests
/// against the policy it uses. `root` bounds the paths files may name (default: each file's
/// directory).
pub fn run_suite(files: &dyn Files, sources: &[Source], root: Option<&Path>) -> Suite {
    let mut suite = Suite::default();
    for source in sources {
        let parsed = crate::syntax::parse(&source.text);
        let uses = parsed.file.uses.first().map(|used| used.value.as_str());
        let (policy_path, policy_shown, policy_text, tests): (PathBuf, String, String, Vec<Test>) =
            match files::used_policy(files, &source.path, uses, root) {
                None => {
                    // A syntax error may have taken a test block with it: the file's tests
                    // cannot be known to have run, so it fails, as a policy with errors does.
                    let syntax: Vec<Diagnostic> = parsed
                        .errors
                        .iter()
                        .filter(|diagnostic| diagnostic.is_error())
                        .cloned()
                        .collect();
                    if parsed.file.tests.is_empty() && !syntax.is_empty() {
                        suite.broken(source, &source.shown, &source.text, syntax);
                        continue;
                    }
                    if parsed.file.tests.is_empty() {
                        // A policy without tests of its own still counts for coverage (its
                        // tests may be in a file that uses it, or missing).
                        if let Some((policy, _)) =
                            crate::pipeline::check_source(&source.text).compiled
                        {
                            suite
                                .tested
                                .entry(key(files, &source.path))
                                .or_insert(Tested {
                                    shown: source.shown.clone(),
                                    policy,
                                });
                        }
                        continue;
                    }
                    (
                        source.path.clone(),
                        source.shown.clone(),
                        source.text.clone(),
                        parsed.file.tests,
                    )
                }
                Some(Err(error)) => {
                    let (_, diagnostics) =
                        crate::check::check_test_file(&source.text, Err(error.to_string()));
                    suite.broken(source, &source.shown, &source.text, diagnostics);
                    continue;
                }
                Some(Ok((path, text))) => {
                    let (tests_file, diagnostics) =
                        crate::check::check_test_file(&source.text, Ok(&text));
                    if diagnostics.iter().any(Diagnostic::is_error) {
                        suite.broken(source, &source.shown, &source.text, diagnostics);
                        continue;
                    }
                    let shown = path.display().to_string();
                    (path, shown, text, tests_file.tests)
                }
            };
        let report = crate::pipeline::check_source(&policy_text);
        let errors = report.error_count();
        let Some((policy, compiled)) = report.compiled.filter(|_| errors == 0) else {
            suite.broken(source, &policy_shown, &policy_text, report.diagnostics);
            continue;
        };
        let lines = LineIndex::new(&source.text);
        let policy_key = key(files, &policy_path);
        for test in &tests {
            let line = lines.line_column(test.name.span.start).line;
            let now = super::test_time(&policy, test);
            let result = match files::test_roster(files, &source.path, test, &policy, root, now) {
                Ok(files::TestRoster { report, roster }) => {
                    let broken =
                        report
                            .as_ref()
                            .filter(|report| report.has_errors())
                            .map(|report| {
                                format!(
                                    "roster `{}` has errors (shown above), so the test did not run",
                                    report.path.display()
                                )
                            });
                    if let Some(report) = report {
                        suite.add_roster(report);
                    }
                    match broken {
                        Some(reason) => failed(test, reason),
                        None => run_test(&policy, &compiled, &policy_text, test, roster.as_ref()),
                    }
                }
                Err(reason) => failed(test, reason),
            };
            suite.ran.push(Ran {
                file: source.shown.clone(),
                line,
                policy: policy_key.clone(),
                result,
            });
        }
        suite.tested.entry(policy_key).or_insert(Tested {
            shown: policy_shown,
            policy,
        });
    }
    suite
}

impl Suite {
    /// Keeps a roster file's report, once per file.
    fn add_roster(&mut self, report: files::RosterReport) {
        if !self.rosters.iter().any(|known| known.path == report.path) {
            self.rosters.push(report);
        }
    }

    /// Records that the tests of `source` did not run because of errors in `path`; the file
    /// counts as one failed test in every report.
    fn broken(&mut self, source: &Source, path: &str, text: &str, diagnostics: Vec<Diagnostic>) {
        self.problems.push(Problem {
            tests: source.shown.clone(),
            path: path.to_string(),
            text: text.to_string(),
            diagnostics,
        });
        let shown = &source.shown;
        self.ran.push(Ran {
            file: shown.clone(),
            line: 1,
            // The file with the errors, as shown (no tested policy has it as its key).
            policy: path.to_string(),
            result: TestResult {
                name: format!("{shown} (has errors)"),
                span: Span::at(0),
                failures: vec![format!(
                    "`{shown}` has errors, so its tests did not run; see `switchboard check {shown}`"
                )],
                outcome: None,
                rule: None,
            },
        });
    }
}

/// A test that did not run, and why.
fn failed(test: &Test, reason: String) -> TestResult {
    TestResult {
        name: test.name.value.clone(),
        span: test.name.span,
        failures: vec![reason],
        outcome: None,
        rule: None,
    }
}

/// One key per policy file, however its path was written (`a.route`, `sub/../a.route`).
fn key(files: &dyn Files, path: &Path) -> String {
    files.canonical(path).display().to_string()
}
