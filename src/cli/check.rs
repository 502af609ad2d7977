//! `switchboard check`: policies and files of tests, every problem at its place, for people,
//! scripts, code scanning and CI annotations; with `--roster`, a roster held against the policy.

use super::policy::{check_roster, parse_now};
use super::{EXIT_PROBLEMS, Failure, human_style, print_stdout, threads};
use clap::ValueEnum;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use switchboard::render::{self, FileDiagnostics};

#[derive(clap::Args)]
pub struct CheckArgs {
    /// Policy files, or directories to search for `*.route` files (default: this one, as for
    /// `test` and `fmt`)
    #[arg(value_name = "FILE|DIR", default_value = ".")]
    paths: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Treat warnings as errors for the exit code
    #[arg(long, value_enum, value_name = "LEVEL")]
    deny: Option<Deny>,
    /// Turn on a lint that is off by default (repeatable)
    #[arg(long, value_enum, value_name = "LINT")]
    warn: Vec<Lint>,
    /// The most decision-graph nodes and edges analysis may build before it falls back to a scan
    #[arg(long, value_name = "N", default_value_t = switchboard::graph::DEFAULT_NODE_BUDGET)]
    node_budget: usize,
    /// A roster to hold against the policy: reps it lacks or does not know, out-of-office
    /// ranges, account owners and parents
    #[arg(long, value_name = "FILE")]
    roster: Option<PathBuf>,
    /// The routing time the roster is checked for (`as_of` in the future); default: now
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// The project root: files that `use` names must lie below it (default: the folder the
    /// command names, when it names one; else the directory of the file that names them)
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Lint {
    /// Pairs of rules that both match some leads, with an example lead
    Overlap,
    /// Hours when a rule's pools have nobody working, for every pool with a calendar (by
    /// default only pools with `on shift`)
    OffShift,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Graphical report on stderr (colour only on a terminal without NO_COLOR)
    Human,
    /// One JSON array on stdout
    Json,
    /// SARIF 2.1.0 on stdout, for code scanning
    Sarif,
    /// GitHub Actions workflow annotations on stdout
    Github,
}

#[derive(Clone, Copy, ValueEnum)]
enum Deny {
    /// Fail (exit 1) on warnings as well as errors
    Warnings,
}

/// For a file of tests (`use "policy.route"`), the used policy's path and text, or why it
/// cannot be read. `None` for a policy file.
fn used_policy(
    source: &super::Source,
    root: Option<&Path>,
) -> Option<Result<(String, String), String>> {
    let parsed = switchboard::syntax::parse(&source.text);
    let used = parsed.file.uses.first()?;
    switchboard::files::used_policy(
        &switchboard::disk::DiskFiles,
        Path::new(&source.path),
        Some(&used.value),
        root,
    )
    .map(|found| {
        found
            .map(|(path, text)| (path.display().to_string(), text))
            .map_err(|error| error.to_string())
    })
}

pub fn run(args: &CheckArgs) -> Result<ExitCode, Failure> {
    // A file that cannot be read is said, and the others are checked all the same: every
    // format still gets a whole report of them, and the run exits 2.
    // A wrong `--now` is refused whether or not a roster reads it.
    let now = parse_now(args.now.as_deref())?;
    let (sources, unreadable) = super::read_each_source(&args.paths)?;
    if sources.is_empty()
        && let Some(first) = unreadable.first()
    {
        return Err(Failure::usage(first.clone()));
    }
    for error in &unreadable {
        stderr_line!("error: {error}");
    }
    let root = super::named_root(args.root.as_deref(), &args.paths)?;
    let mut config = switchboard::CheckConfig::default();
    config.analysis.overlaps = args.warn.contains(&Lint::Overlap);
    if args.warn.contains(&Lint::OffShift) {
        config.coverage = switchboard::coverage::Coverage::Every;
    }
    config.analysis.node_budget = args.node_budget;
    let reports: Vec<Vec<switchboard::Diagnostic>> = sources
        .iter()
        .map(|source| match used_policy(source, root.as_deref()) {
            // A file of tests is checked against the policy it uses.
            Some(policy) => {
                switchboard::check::check_test_file(
                    &source.text,
                    policy
                        .as_ref()
                        .map(|(_, text)| text.as_str())
                        .map_err(Clone::clone),
                )
                .1
            }
            None => {
                switchboard::pipeline::check_source_in(
                    &source.text,
                    &config,
                    &threads::ScopedThreads,
                )
                .diagnostics
            }
        })
        .collect();
    let roster = match &args.roster {
        None => None,
        Some(path) => roster_against_the_policy(path, &sources, now)?,
    };
    let mut files: Vec<FileDiagnostics<'_>> = sources
        .iter()
        .zip(&reports)
        .map(|(source, diagnostics)| FileDiagnostics {
            path: &source.path,
            text: &source.text,
            diagnostics,
        })
        .collect();
    if let Some(roster) = &roster {
        files.push(FileDiagnostics {
            path: &roster.path,
            text: &roster.text,
            diagnostics: &roster.diagnostics,
        });
    }
    let reports: Vec<&Vec<switchboard::Diagnostic>> = reports
        .iter()
        .chain(roster.as_ref().map(|roster| &roster.diagnostics))
        .collect();
    let errors: usize = reports
        .iter()
        .copied()
        .flatten()
        .filter(|d| d.is_error())
        .count();
    let warnings: usize = reports
        .iter()
        .copied()
        .flatten()
        .filter(|d| !d.is_error())
        .count();
    match args.format {
        Format::Human => {
            let style = human_style();
            let mut err = std::io::stderr().lock();
            for file in &files {
                let _ = err.write_all(render::human(file, style).as_bytes());
            }
            let _ = writeln!(err, "{}", summary(files.len(), errors, warnings));
        }
        Format::Json => print_stdout(&render::json(&files))?,
        Format::Sarif => {
            let base = std::env::current_dir()
                .ok()
                .and_then(|dir| dir.to_str().map(render::directory_uri));
            print_stdout(&render::sarif(&files, base.as_deref()))?
        }
        Format::Github => print_stdout(&render::github(&files))?,
    }
    let failed = errors > 0 || (matches!(args.deny, Some(Deny::Warnings)) && warnings > 0);
    if !unreadable.is_empty() {
        return Err(Failure::usage(format!(
            "{} file{} could not be read (said above); the others were checked",
            unreadable.len(),
            if unreadable.len() == 1 { "" } else { "s" }
        )));
    }
    Ok(if failed {
        ExitCode::from(EXIT_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    })
}

/// `--roster`: held against the one policy named (files of tests aside). A policy with errors
/// cannot say which reps it has: the roster is then not checked (`None`, said on stderr), and
/// the policy's own errors are reported as usual.
fn roster_against_the_policy(
    path: &Path,
    sources: &[super::Source],
    now: jiff::Timestamp,
) -> Result<Option<super::policy::CheckedRoster>, Failure> {
    let policies: Vec<&super::Source> = sources
        .iter()
        .filter(|source| {
            switchboard::syntax::parse(&source.text)
                .file
                .uses
                .is_empty()
        })
        .collect();
    let [policy] = policies.as_slice() else {
        return Err(Failure::usage(format!(
            "--roster is checked against one policy, and {} {} found; check each policy with \
             its roster on its own",
            policies.len(),
            if policies.len() == 1 { "was" } else { "were" }
        )));
    };
    let report = switchboard::check_source(&policy.text);
    let errors = report.error_count();
    let Some((compiled, _)) = report.compiled.filter(|_| errors == 0) else {
        // The roster is still read, and its own JSON and shape checked.
        stderr_line!(
            "note: `{}` has errors (below), so the roster `{}` was checked on its own, not \
             against it",
            policy.path,
            path.display()
        );
        return super::policy::roster_against(path, None, now).map(Some);
    };
    check_roster(path, &compiled, now).map(Some)
}

fn summary(files: usize, errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    if errors == 0 && warnings == 0 {
        format!("checked {}: no problems", plural(files, "file"))
    } else {
        format!(
            "checked {}: {}, {}",
            plural(files, "file"),
            plural(errors, "error"),
            plural(warnings, "warning")
        )
    }
}
