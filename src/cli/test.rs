//! `switchboard test`: finds test blocks (in policies, and in files of tests that `use` a
//! policy), runs them through the library's `testing` module and reports pass / FAIL, coverage
//! of rules, JSON or JUnit XML.

use super::{EXIT_PROBLEMS, FileDiagnostics, human_style, print_stdout, read_sources, render};
use clap::ValueEnum;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use switchboard::disk::DiskFiles;
use switchboard::testing::report;
use switchboard::testing::suite::{self, Source};

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
    #[arg(long, value_name = "PCT", value_parser = percentage, allow_hyphen_values = true)]
    min_coverage: Option<f64>,
    /// The project root: files that `use` and `roster` name must lie below it (default: the
    /// folder the command names, when it names one; else the directory of the file that names
    /// them)
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
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

pub fn run(args: &TestArgs) -> Result<ExitCode, super::Failure> {
    let disk = DiskFiles;
    let sources: Vec<Source> = read_sources(&args.paths)?
        .into_iter()
        .map(|source| Source {
            path: PathBuf::from(&source.path),
            shown: source.path,
            text: source.text,
        })
        .collect();
    let sources = suite::with_files_of_tests(&disk, sources);
    let root = super::named_root(args.root.as_deref(), &args.paths)?;
    let suite = suite::run_suite(&disk, &sources, root.as_deref());
    for problem in &suite.problems {
        let file = FileDiagnostics {
            path: &problem.path,
            text: &problem.text,
            diagnostics: &problem.diagnostics,
        };
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(render::human(&file, human_style()).as_bytes());
        let _ = writeln!(
            err,
            "error: `{}` has errors; its tests did not run",
            problem.path
        );
    }
    // Each roster file tests used, once: errors stop the run (exit 2, as for `route`), warnings
    // are shown and the tests go on.
    for roster in &suite.rosters {
        if roster.diagnostics.is_empty() {
            continue;
        }
        let shown = roster.path.display().to_string();
        let file = FileDiagnostics {
            path: &shown,
            text: &roster.text,
            diagnostics: &roster.diagnostics,
        };
        let _ = std::io::stderr().write_all(render::human(&file, human_style()).as_bytes());
    }
    let coverage_rows = report::coverage_table(&suite.tested, &suite.ran);
    match args.format {
        TestFormat::Human => print_stdout(&report::human(&suite, &coverage_rows, args.coverage))?,
        TestFormat::Json => print_stdout(&report::json(&suite, &coverage_rows))?,
        TestFormat::Junit => print_stdout(&report::junit(&suite))?,
    }
    let mut low = false;
    if let Some(minimum) = args.min_coverage {
        for row in &coverage_rows {
            if row.percent() + 1e-9 < minimum {
                low = true;
                // One decimal, unless rounding would show the minimum itself (66.67% against
                // --min-coverage 66.7).
                let mut shown = format!("{:.1}", row.percent());
                if shown.parse::<f64>().is_ok_and(|rounded| rounded >= minimum) {
                    shown = format!("{:.3}", row.percent());
                }
                stderr_line!(
                    "error: tests reach {shown}% of the rules of `{}`, below --min-coverage {minimum}",
                    row.policy
                );
            }
        }
    }
    if suite.ran.is_empty() {
        return Err("no `test` blocks found".to_string().into());
    }
    if let Some(broken) = suite.rosters.iter().find(|roster| roster.has_errors()) {
        return Err(format!(
            "roster `{}` has errors; the tests that use it did not run",
            broken.path.display()
        )
        .into());
    }
    Ok(if suite.failed() > 0 || low {
        ExitCode::from(EXIT_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    })
}

/// `--min-coverage`: a percentage from 0 to 100 (a gate that `NaN` or 150 would make
/// meaningless is refused).
fn percentage(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(value) if (0.0..=100.0).contains(&value) => Ok(value),
        _ => Err(format!("`{text}` is not a percentage from 0 to 100")),
    }
}
