//! The `diff` command: reads two policies (files, or `REV:PATH` through `git show`), prints their
//! semantic diff and, with `--leads`, the backtest of both on historical leads. Exit status: 0
//! equivalent, 1 changes, 2 errors (a file or revision that cannot be read, a policy with errors,
//! a roster that is not valid).

use super::policy::{load_roster_for_both, parse_now};
use super::{EXIT_PROBLEMS, Source, describe_io, describe_io_at, human_style};
use clap::ValueEnum;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use switchboard::diff::backtest::{Backtest, BacktestConfig, PolicyRef};
use switchboard::diff::render::{self, BacktestView, Names};
use switchboard::diff::{DiffConfig, diff};
use switchboard::render::FileDiagnostics;
use switchboard::route::reader::{Limits, Line, read_line};

#[derive(clap::Args)]
pub struct DiffArgs {
    /// The policy before the change: a file, or REV:PATH (read with `git show`, e.g. origin/main:routing.route)
    #[arg(value_name = "OLD")]
    old: String,
    /// The policy after the change: a file, or REV:PATH
    #[arg(value_name = "NEW")]
    new: String,
    /// Backtest: route these leads (NDJSON, or CSV: `.csv`) through both policies and compare
    /// (`-` for stdin)
    #[arg(long, value_name = "FILE")]
    leads: Option<PathBuf>,
    #[command(flatten)]
    input: super::input::InputArgs,
    /// Roster JSON for the backtest: reps' status, out-of-office, open leads, account owners
    #[arg(long, value_name = "FILE", requires = "leads")]
    roster: Option<PathBuf>,
    /// The time for backtested leads without a clock field (RFC 3339); default: the current time
    #[arg(long, value_name = "TIME", requires = "leads")]
    now: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = DiffFormat::Human)]
    format: DiffFormat,
    /// Count rule-only changes (the same routing, decided by another rule) for the exit status
    #[arg(long)]
    strict: bool,
    /// How many regions, each with an example lead, to list per change
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    regions: usize,
    /// The most nodes and edges the product of the two decision graphs may have
    #[arg(long, value_name = "N", default_value_t = switchboard::graph::DEFAULT_NODE_BUDGET)]
    node_budget: usize,
    /// Longest accepted lead line, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20, value_parser = super::at_least_one)]
    max_line_bytes: usize,
    /// Deepest accepted JSON nesting in a lead line
    #[arg(long, value_name = "LEVELS", default_value_t = 64, value_parser = super::at_least_one)]
    max_depth: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DiffFormat {
    /// Plain text
    Human,
    /// JSON lines: each changed backtested lead, then one summary object
    Json,
    /// Markdown, for a pull-request comment
    Markdown,
}

/// Reads a policy named on the command line: a file when one exists at that path, else
/// `REV:PATH` through `git show` (paths are relative to the repository root, as in git).
pub(super) fn read_policy(arg: &str) -> Result<Source, String> {
    let path = Path::new(arg);
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => Err(format!(
            "`{arg}` is a directory; `diff` compares two policy files"
        )),
        Ok(_) => {
            let mut sources = super::read_sources(&[path.to_path_buf()])?;
            sources.pop().ok_or_else(|| format!("cannot read `{arg}`"))
        }
        Err(error) => match arg.split_once(':') {
            Some((rev, file)) if !rev.is_empty() && !file.is_empty() => git_show(arg),
            _ => Err(format!(
                "cannot read `{arg}`: {}",
                describe_io_at(path, &error)
            )),
        },
    }
}

/// `git show REV:PATH`, bounded like a file read. The argument can never be read as an option
/// (`--output=FILE` would make git write a file): one starting with `-` is refused, and
/// `--end-of-options` ends git's options before it. Text conversion filters are not run.
fn git_show(arg: &str) -> Result<Source, String> {
    use std::io::Read;
    if arg.starts_with('-') {
        return Err(format!(
            "`{arg}` is not a file, and a git revision cannot start with `-`"
        ));
    }
    let mut child = std::process::Command::new("git")
        .args(["show", "--no-textconv", "--end-of-options", arg])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|error| {
            format!(
                "`{arg}` is not a file, and git could not be run to read it as REV:PATH: {}",
                describe_io(&error)
            )
        })?;
    let limit = switchboard::files::MAX_POLICY_BYTES;
    let mut stdout = Vec::new();
    let read = child
        .stdout
        .take()
        .map(|out| out.take(limit + 1).read_to_end(&mut stdout));
    if stdout.len() as u64 > limit {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!(
            "`{arg}` (from git) is larger than the limit of {} MiB",
            limit >> 20
        ));
    }
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    let status = child
        .wait()
        .map_err(|error| format!("`git show {arg}` did not finish: {error}"))?;
    if let Some(Err(error)) = read {
        return Err(format!(
            "cannot read the output of `git show {arg}`: {error}"
        ));
    }
    let output = std::process::Output {
        status,
        stdout,
        stderr: stderr.into_bytes(),
    };
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stderr);
        let message = message.trim();
        return Err(format!(
            "`{arg}` is not a file, and `git show {arg}` failed: {}",
            if message.is_empty() {
                "no message"
            } else {
                message
            }
        ));
    }
    if output
        .stdout
        .starts_with(format!("tree {arg}\n\n").as_bytes())
    {
        return Err(format!(
            "`{arg}` is a directory in git; `diff` compares two policy files"
        ));
    }
    let text =
        String::from_utf8(output.stdout).map_err(|_| format!("`{arg}` (from git) is not UTF-8"))?;
    Ok(Source {
        path: arg.to_string(),
        text,
    })
}

/// Checks a policy; errors are shown as `check` shows them, and refuse it.
pub(super) fn load(
    source: &Source,
    node_budget: usize,
    purpose: &str,
) -> Result<(switchboard::model::Policy, switchboard::graph::Compiled), String> {
    // A file of tests (it `use`s a policy) is no policy to diff: say which one it tests.
    if !switchboard::syntax::parse(&source.text)
        .file
        .uses
        .is_empty()
    {
        return Err(super::policy::file_of_tests(source));
    }
    let mut config = switchboard::CheckConfig::default();
    config.analysis.node_budget = node_budget;
    let report = switchboard::check_source_with(&source.text, &config);
    let errors = report.error_count();
    match report.compiled.filter(|_| errors == 0) {
        Some(compiled) => Ok(compiled),
        None => {
            let errors: Vec<switchboard::Diagnostic> = report
                .diagnostics
                .into_iter()
                .filter(switchboard::Diagnostic::is_error)
                .collect();
            let file = FileDiagnostics {
                path: &source.path,
                text: &source.text,
                diagnostics: &errors,
            };
            let _ = std::io::stderr()
                .write_all(switchboard::render::human(&file, human_style()).as_bytes());
            Err(format!(
                "`{}` has {} error{}; `switchboard check` it and fix them before {purpose}",
                source.path,
                errors.len(),
                if errors.len() == 1 { "" } else { "s" },
            ))
        }
    }
}

pub fn run(args: &DiffArgs) -> Result<ExitCode, super::Failure> {
    if args.leads.is_none() && args.input.given() {
        return Err(super::Failure::usage(
            "--input-format and --lenient-enums say how --leads is read; give --leads FILE for a \
             backtest"
                .to_string(),
        ));
    }
    let old_source = read_policy(&args.old)?;
    let new_source = read_policy(&args.new)?;
    // Both are checked before either refuses, so that every error is shown in one run.
    let old = load(&old_source, args.node_budget, "diffing");
    let new = load(&new_source, args.node_budget, "diffing");
    let ((old_policy, old_compiled), (new_policy, new_compiled)) = match (old, new) {
        (Ok(old), Ok(new)) => (old, new),
        (Err(old), Err(new)) => return Err(format!("{old}\nerror: {new}").into()),
        (Err(error), _) | (_, Err(error)) => return Err(error.into()),
    };
    let now = parse_now(args.now.as_deref())?;
    let roster = load_roster_for_both(args.roster.as_deref(), &old_policy, &new_policy, now)?;
    let semantic = diff(
        &old_policy,
        &new_policy,
        &DiffConfig {
            node_budget: args.node_budget,
            max_regions: args.regions,
        },
    );
    let names = Names {
        old: &old_source.path,
        new: &new_source.path,
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let write_error = |error: std::io::Error| format!("cannot write to stdout: {error}");

    let mut summary = None;
    let source_name;
    if let Some(leads) = &args.leads {
        let limits = Limits {
            max_line_bytes: args.max_line_bytes,
            max_depth: args.max_depth,
        };
        let (input, length): (Box<dyn Read>, Option<u64>) = if leads == Path::new("-") {
            (Box::new(std::io::stdin().lock()), None)
        } else {
            let file = super::input::open_leads(leads)?;
            let length = file.metadata().ok().map(|m| m.len());
            (Box::new(file), length)
        };
        source_name = if leads == Path::new("-") {
            "stdin".to_string()
        } else {
            leads.display().to_string()
        };
        let mut backtest = Backtest::new(
            PolicyRef {
                policy: &old_policy,
                compiled: &old_compiled,
                text: &old_source.text,
            },
            PolicyRef {
                policy: &new_policy,
                compiled: &new_compiled,
                text: &new_source.text,
            },
            roster.as_ref(),
            BacktestConfig { now, limits },
        );
        let csv = args
            .input
            .is_csv(Some(leads.as_path()).filter(|path| *path != Path::new("-")));
        // CSV rows are counted as lines: a bar over the file's bytes would not end at its end.
        let bar = progress_bar(length.filter(|_| !csv));
        let input = args.input.leads(
            input,
            csv,
            &[&old_policy, &new_policy],
            &format!("`{source_name}`"),
            false,
            args.max_line_bytes,
        )?;
        let mut input = std::io::BufReader::with_capacity(1 << 16, input);
        if !csv {
            // As `route`: CSV read as NDJSON is said once, not counted as lines that are no
            // leads.
            super::route::skip_byte_order_mark(&mut input)
                .map_err(|error| format!("cannot read leads `{source_name}`: {error}"))?;
            if args.input.guesses() {
                super::route::refuse_csv(&mut input, &format!("`{source_name}`"))?;
            }
        }
        let mut number = 0usize;
        let mut bytes_read = 0u64;
        while let Some(line) = read_line(&mut input, limits.max_line_bytes)
            .map_err(|error| format!("cannot read leads `{source_name}`: {error}"))?
        {
            number += 1;
            let changed = match line {
                Line::TooLong(length) => {
                    bytes_read += length as u64 + 1;
                    backtest.too_long(number)
                }
                Line::Text(bytes) => {
                    bytes_read += bytes.len() as u64 + 1;
                    backtest
                        .line(&bytes, number)
                        .map_err(|error| error.to_string())?
                }
            };
            if let (Some(changed), DiffFormat::Json) = (changed, args.format) {
                out.write_all(changed.to_json().as_bytes())
                    .and_then(|()| out.write_all(b"\n"))
                    .map_err(write_error)?;
            }
            if number.is_multiple_of(4096) {
                bar.set_position(bytes_read);
            }
        }
        bar.finish_and_clear();
        summary = Some(backtest.summary().clone());
    } else {
        source_name = String::new();
    }
    let view = summary.as_ref().map(|summary| BacktestView {
        source: &source_name,
        summary,
    });
    let text = match args.format {
        DiffFormat::Human => render::human(&semantic, names, view, args.strict),
        DiffFormat::Markdown => render::markdown(&semantic, names, view, args.strict),
        DiffFormat::Json => format!(
            "{}\n",
            render::json_summary(&semantic, names, view, args.strict)
        ),
    };
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(write_error)?;
    let changed = !semantic.is_equivalent(args.strict)
        || summary
            .as_ref()
            .is_some_and(|s| render::backtest_changed(s, args.strict));
    Ok(if changed {
        ExitCode::from(EXIT_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    })
}

/// A progress bar on stderr, only when stderr is a terminal: by bytes for a file, a spinner
/// for a stream.
fn progress_bar(length: Option<u64>) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let (bar, template) = match length {
        Some(length) => (
            indicatif::ProgressBar::new(length),
            "backtest {bar:30} {percent:>3}% {bytes}/{total_bytes} eta {eta}",
        ),
        None => (
            indicatif::ProgressBar::new_spinner(),
            "backtest {spinner} {bytes} {elapsed}",
        ),
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    bar
}
