//! The command line: argument parsing (clap), file reading, output streams and exit codes.
//! Everything it shows comes from the library; this module only does the I/O around it.
//!
//! Exit codes: 0 success, 1 problems found in the input, 2 usage or I/O errors.

use clap::{CommandFactory, Parser, Subcommand};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use switchboard::render::{self, FileDiagnostics, Style};

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Lead routing policy as code: check, test and run routing policies"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check policy files: syntax, names and types, then shadowed rules and gaps
    Check(check::CheckArgs),
    /// Draw a policy's decision graph (Graphviz dot or Mermaid) on stdout
    Graph(graph::GraphArgs),
    /// Route leads (NDJSON or CSV, from stdin or --leads) to one JSON decision per line on
    /// stdout
    Route(route::RouteArgs),
    /// Record what happened to routed leads: touched, accepted, rejected (re-routed), closed
    Track(lifecycle::TrackArgs),
    /// Carry out the escalation steps due at --now: each a new decision for its lead
    Sweep(lifecycle::SweepArgs),
    /// What happened, from the state: SLA met/missed, time to first touch, escalations, fairness
    Report(report::ReportArgs),
    /// Replay a week of leads against the team (responses, escalations, caps): the figures
    /// and an HTML report; two policies are compared
    Simulate(simulate::SimulateArgs),
    /// Run the router as an HTTP service: POST leads and events, escalations swept on a timer
    #[cfg(feature = "serve")]
    Serve(serve::ServeArgs),
    /// The state's tables: init, migrate, export (NDJSON), import (SQLite <-> PostgreSQL)
    State(state::StateArgs),
    /// Run the policies' `test` blocks: pass / FAIL per test, coverage of rules
    Test(test::TestArgs),
    /// Explain how one lead was (or would be) routed: rules tried, candidates, SLA
    Explain(explain::ExplainArgs),
    /// Rewrite policy files in the canonical layout (comments kept); --check prints a diff
    Fmt(fmt::FmtArgs),
    /// Start the language server on stdio (for editors)
    Lsp(lsp::LspArgs),
    /// Compare two policies: every region of leads whose routing changes; --leads backtests
    Diff(diff::DiffArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(install::CompletionsArgs),
    /// Print the manual page (roff) on stdout
    Man(install::ManArgs),
}

const EXIT_PROBLEMS: u8 = 1;
const EXIT_USAGE: u8 = 2;

mod check;
mod committing;
mod diff;
mod explain;
mod fmt;
mod graph;
mod input;
mod install;
mod lifecycle;
mod lsp;
mod policy;
mod printer;
mod report;
mod route;
#[cfg(feature = "serve")]
mod serve;
mod simulate;
mod state;
mod test;
mod threads;

/// Why a command stopped: printed as `error: …` on stderr, exit status 2.
pub struct Failure(String);

impl Failure {
    pub fn usage(message: String) -> Failure {
        Failure(message)
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure(message)
    }
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Graph(args) => graph::run(&args),
        Command::Route(args) => route::run(&args),
        Command::Track(args) => lifecycle::track(&args),
        Command::Sweep(args) => lifecycle::sweep(&args),
        Command::Report(args) => report::run(&args),
        Command::Simulate(args) => simulate::run(&args),
        #[cfg(feature = "serve")]
        Command::Serve(args) => serve::run(&args),
        Command::State(args) => state::run(&args),
        Command::Test(args) => test::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Fmt(args) => fmt::run(&args),
        Command::Lsp(args) => lsp::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Completions(args) => install::completions(&args, Cli::command()),
        Command::Man(args) => install::man(&args, Cli::command()),
    };
    match result {
        Ok(code) => code,
        Err(Failure(message)) => {
            stderr_line!("error: {message}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// A source read from disk.
struct Source {
    path: String,
    text: String,
}

/// Colour only for a terminal, and never with NO_COLOR.
fn human_style() -> Style {
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
        || !std::io::stderr().is_terminal()
    {
        Style::Plain
    } else {
        Style::Colour
    }
}

/// Warns (on standard error, unless `quiet`) that the decisions `route` or `sweep` records are
/// printed nowhere: standard output is `/dev/null` opened to read and write, which is what
/// the program's start-up gives a descriptor that was closed (`>&-`), so every write succeeds
/// and nothing says the output is gone. Only a warning: Python's `subprocess.DEVNULL` and
/// Node's `'ignore'` hand down the same, for output discarded on purpose (a shell's
/// `> /dev/null` opens it to write only, and is not warned about). Known on Linux, from
/// `/proc`; elsewhere not checked.
fn warn_if_stdout_closed(quiet: bool) {
    if !quiet && stdout_was_closed() {
        stderr_line!(
            "warning: standard output is closed (or discarded), so the decisions are recorded \
             in the state and printed nowhere; give `> FILE` to keep them, `> /dev/null` or \
             --quiet to discard them without this warning"
        );
    }
}

/// Whether descriptor 1 is `/dev/null` opened to read and write: what the program's start-up
/// opens for a descriptor that was closed.
fn stdout_was_closed() -> bool {
    if !cfg!(target_os = "linux") {
        return false;
    }
    let is_null =
        std::fs::read_link("/proc/self/fd/1").is_ok_and(|to| to == Path::new("/dev/null"));
    is_null
        && std::fs::read_to_string("/proc/self/fdinfo/1").is_ok_and(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("flags:"))
                .and_then(|flags| u32::from_str_radix(flags.trim(), 8).ok())
                // O_ACCMODE is 0o3, O_RDWR 0o2.
                .is_some_and(|flags| flags & 0o3 == 0o2)
        })
}

fn print_stdout(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|error| Failure::usage(format!("cannot write to stdout: {error}")))
}

/// Reads every named file and every `*.route` file below every named directory, in a stable
/// order. Any unreadable or non-UTF-8 file is an error: checking the rest would hide it.
fn read_sources(paths: &[PathBuf]) -> Result<Vec<Source>, String> {
    let (sources, unreadable) = read_each_source(paths)?;
    match unreadable.into_iter().next() {
        Some(first) => Err(first),
        None => Ok(sources),
    }
}

/// As [`read_sources`], but a file that cannot be read (not UTF-8, too large, gone) does not
/// stop the others: its error is returned beside the files that could be read. A path that
/// names nothing, or a folder without policies, still stops everything.
fn read_each_source(paths: &[PathBuf]) -> Result<(Vec<Source>, Vec<String>), String> {
    let mut files = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path).map_err(|error| {
            format!(
                "cannot read `{}`: {}",
                path.display(),
                describe_io_at(path, &error)
            )
        })?;
        if metadata.is_dir() {
            let before = files.len();
            let root = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            collect_routes(&root, path, &mut files)?;
            if files.len() == before {
                return Err(format!("no `*.route` files under `{}`", path.display()));
            }
        } else {
            followed_link_stays_inside(path)?;
            files.push(path.clone());
        }
    }
    // The same file named twice (`a.route` and `./a.route`, or a file and its folder) is read once.
    let mut seen = std::collections::HashSet::new();
    files.retain(|path| seen.insert(std::fs::canonicalize(path).unwrap_or_else(|_| path.clone())));
    let mut sources = Vec::new();
    let mut unreadable = Vec::new();
    for path in files {
        match switchboard::disk::read_text(&path, switchboard::files::MAX_POLICY_BYTES) {
            Ok(text) => sources.push(Source {
                path: display_path(&path),
                text,
            }),
            Err(switchboard::files::FileError::NotUtf8 { line, offset }) => {
                unreadable.push(format!(
                    "`{}` is not UTF-8 (invalid byte on line {line}, at byte offset {offset})",
                    path.display(),
                ))
            }
            Err(error) => unreadable.push(format!("cannot read `{}`: {error}", path.display())),
        }
    }
    Ok((sources, unreadable))
}

/// A file named on the command line that is a link is followed only to a file inside the folder
/// Switchboard runs in, or inside the link's own folder (`current.route` -> `v12.route`): a pull
/// request that turns the policy CI checks by name into a link to `/proc/self/environ` must not
/// get the CI's environment quoted back in the diagnostics, nor have `fmt` write outside.
pub(crate) fn followed_link_stays_inside(path: &Path) -> Result<(), String> {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_symlink());
    if !is_link || leads_to_a_pipe(path) {
        return Ok(());
    }
    let target = std::fs::canonicalize(path)
        .map_err(|error| format!("cannot read `{}`: {}", path.display(), describe_io(&error)))?;
    let link_folder = path
        .parent()
        .map(|parent| {
            if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            }
        })
        .and_then(|parent| std::fs::canonicalize(parent).ok());
    let working = std::env::current_dir()
        .ok()
        .and_then(|dir| std::fs::canonicalize(dir).ok());
    let inside = [link_folder, working.clone()]
        .into_iter()
        .flatten()
        .any(|folder| target.starts_with(folder));
    if inside {
        return Ok(());
    }
    Err(format!(
        "cannot read `{}`: it is a link to `{}`, outside the folder Switchboard runs in{}; a \
         link named on the command line is followed only to a file inside that folder or the \
         link's own",
        path.display(),
        target.display(),
        working
            .map(|dir| format!(" (`{}`)", dir.display()))
            .unwrap_or_default()
    ))
}

/// Whether `path` leads to a pipe or a socket (`--roster <(cat roster.json)` names
/// `/dev/fd/63`, a link to a pipe): a stream the caller opened, no file a link could reveal;
/// the reader then says it reads regular files only.
fn leads_to_a_pipe(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        std::fs::metadata(path).is_ok_and(|metadata| {
            metadata.file_type().is_fifo() || metadata.file_type().is_socket()
        })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// The project root when `--root` is not given: the one folder the command names (`test .`,
/// `check team/`), so that a file of tests below it may `use` a policy elsewhere below it. A
/// folder named on the command line is the user's choice, as `--root` is; with files, or with
/// several folders, each file's own folder stays its root.
fn named_root(root: Option<&Path>, paths: &[PathBuf]) -> Result<Option<PathBuf>, Failure> {
    if let Some(root) = root {
        // A misspelt root would make every `use` "lead outside the project root".
        if !root.is_dir() {
            return Err(Failure::usage(format!(
                "--root `{}` is not a folder",
                root.display()
            )));
        }
        return Ok(Some(root.to_path_buf()));
    }
    Ok(match paths {
        [only] if only.is_dir() => Some(only.clone()),
        _ => None,
    })
}

/// The path as shown in reports: relative to the working directory when it lies below it (so
/// that CI annotations and SARIF locations match repository paths), else as given.
fn display_path(path: &Path) -> String {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|dir| path.strip_prefix(dir).ok().map(Path::to_path_buf));
    let shown = relative.unwrap_or_else(|| path.to_path_buf());
    let shown = shown.strip_prefix("./").unwrap_or(&shown);
    shown.display().to_string()
}

/// The `*.route` files below `dir`, skipping hidden folders and `target`. A link is followed
/// only to a file inside `root`, the folder the user named: a policy from a pull request cannot
/// make `check` read `/proc/self/environ` by a link named `*.route`, nor loop through linked
/// folders (links to folders are not followed).
fn collect_routes(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|error| format!("cannot read `{}`: {}", dir.display(), describe_io(&error)))?;
    let mut found: Vec<(PathBuf, std::fs::FileType)> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            Some((entry.path(), entry.file_type().ok()?))
        })
        .collect();
    found.sort_by(|left, right| left.0.cmp(&right.0));
    for (path, kind) in found {
        let hidden = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with('.') || name == "target");
        if hidden {
            continue;
        }
        if kind.is_dir() {
            collect_routes(root, &path, files)?;
            continue;
        }
        if path.extension().is_none_or(|ext| ext != "route") {
            continue;
        }
        if kind.is_symlink() {
            let target = std::fs::canonicalize(&path).map_err(|error| {
                format!("cannot read `{}`: {}", path.display(), describe_io(&error))
            })?;
            if !target.starts_with(root) {
                return Err(format!(
                    "cannot read `{}`: it is a link to `{}`, outside the folder `{}`; \
                     Switchboard follows links only to files inside the folder it checks",
                    path.display(),
                    target.display(),
                    root.display()
                ));
            }
        }
        files.push(path);
    }
    Ok(())
}

/// Opens a file of input lines (`what`: "leads", "events"), or says which one and why not: a
/// directory is refused here, where the system would only fail the first read. (A named pipe
/// is input like any other.)
/// A `--max-line-bytes` or `--max-depth`: 1 or more (0 would refuse every lead, and the lead
/// object itself is one level deep).
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("0 would refuse every lead: give 1 or more".to_string()),
        Ok(value) => Ok(value),
        Err(error) => Err(error.to_string()),
    }
}

fn open_input(path: &std::path::Path, what: &str) -> Result<std::fs::File, Failure> {
    let cannot =
        |why: String| Failure::usage(format!("cannot read {what} `{}`: {why}", path.display()));
    let file = std::fs::File::open(path).map_err(|error| cannot(describe_io_at(path, &error)))?;
    if file.metadata().is_ok_and(|meta| meta.is_dir()) {
        return Err(cannot("it is a directory, not a file".to_string()));
    }
    Ok(file)
}

/// [`describe_io`] of a failure to open `path`, with the [`near_miss`] of a file not there.
fn describe_io_at(path: &Path, error: &std::io::Error) -> String {
    let hint = match error.kind() {
        std::io::ErrorKind::NotFound => near_miss(path),
        _ => String::new(),
    };
    format!("{}{hint}", describe_io(error))
}

/// For a file that is not there, the file beside it whose name is closest (a typo:
/// `routng.route` for `routing.route`), as `; did you mean `examples/routing.route`?`; else
/// nothing. A folder of more than [`NEAR_MISSES_READ`] files gets no guess.
pub(crate) fn near_miss(path: &Path) -> String {
    let (Some(name), Some(folder)) = (
        path.file_name().and_then(|name| name.to_str()),
        path.parent(),
    ) else {
        return String::new();
    };
    let listed = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    let Ok(entries) = std::fs::read_dir(listed) else {
        return String::new();
    };
    // Files only (a link, to a file), named in printable text: a name from the folder is
    // printed, and a hostile one must not write escape sequences to the terminal.
    let mut names = Vec::new();
    for entry in entries {
        if names.len() >= NEAR_MISSES_READ {
            // Past that, a closer name may be among those not read: no guess beats a wrong one.
            return String::new();
        }
        let Some(entry) = entry.ok() else { continue };
        let is_file = entry
            .file_type()
            .is_ok_and(|kind| kind.is_file() || (kind.is_symlink() && entry.path().is_file()));
        if let Ok(name) = entry.file_name().into_string()
            && is_file
            && !name.chars().any(char::is_control)
        {
            names.push(name);
        }
    }
    match switchboard::check::suggest::closest(name, names.iter().map(String::as_str)) {
        Some(closest) => format!("; did you mean `{}`?", folder.join(closest).display()),
        None => String::new(),
    }
}

/// How many names of a folder [`near_miss`] looks at.
const NEAR_MISSES_READ: usize = 10_000;

fn describe_io(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => error.to_string(),
    }
}
