//! The command line: argument parsing (clap), file reading, output streams and exit codes.
//! Everything it shows comes from the library; this module only does the I/O around it.
//!
//! Exit codes: 0 success, 1 problems found in the input, 2 usage or I/O errors.

use clap::{Parser, Subcommand, ValueEnum};
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
    Check(CheckArgs),
    /// Draw a policy's decision graph (Graphviz dot or Mermaid) on stdout
    Graph(GraphArgs),
    /// Route NDJSON leads (stdin or --leads) to one JSON decision per line on stdout
    Route(RouteArgs),
    /// Run the policies' `test` blocks: pass / FAIL per test, coverage of rules
    Test(test::TestArgs),
    /// Explain how one lead is routed: rules tried, candidates, SLA
    Explain(ExplainArgs),
    /// Rewrite policy files in the canonical layout (comments kept); --check prints a diff
    Fmt(fmt::FmtArgs),
    /// Start the language server on stdio (for editors)
    Lsp(lsp::LspArgs),
    /// Compare two policies: every region of leads whose routing changes; --leads backtests
    Diff(diff::DiffArgs),
}

#[derive(clap::Args)]
struct ExplainArgs {
    /// The policy file
    #[arg(value_name = "POLICY")]
    policy: PathBuf,
    /// The lead: JSON text, or @FILE to read it from a file (its first line)
    #[arg(long, value_name = "JSON|@FILE")]
    lead: String,
    /// Roster JSON
    #[arg(long, value_name = "FILE")]
    roster: Option<PathBuf>,
    /// The time for leads without a clock field (RFC 3339); default: the current time
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// Output format: `json` prints what `route --explain` prints
    #[arg(long, value_enum, default_value_t = ExplainFormat::Human)]
    format: ExplainFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ExplainFormat {
    Human,
    Json,
}

#[derive(clap::Args)]
struct RouteArgs {
    /// The policy file; it must check without errors
    #[arg(value_name = "POLICY")]
    policy: PathBuf,
    /// Roster JSON: reps' status, out-of-office, open leads, and account owners
    #[arg(long, value_name = "FILE")]
    roster: Option<PathBuf>,
    /// State database (rotation, load, ledger); `:memory:` keeps none
    #[arg(long, value_name = "PATH", default_value = ".switchboard/state.db")]
    state: String,
    /// Read leads from this file instead of stdin
    #[arg(long, value_name = "FILE")]
    leads: Option<PathBuf>,
    /// Add a `trace` to each decision: the tests on the rule path and every candidate rep
    #[arg(long)]
    explain: bool,
    /// The time for leads without a clock field (RFC 3339); default: the current time
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// Longest accepted input line, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    max_line_bytes: usize,
    /// Deepest accepted JSON nesting in a line
    #[arg(long, value_name = "LEVELS", default_value_t = 64)]
    max_depth: usize,
}

#[derive(clap::Args)]
struct GraphArgs {
    /// The policy file
    #[arg(value_name = "POLICY")]
    policy: PathBuf,
    /// Picture format
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    format: GraphFormat,
    /// The most nodes the graph may have
    #[arg(long, value_name = "N", default_value_t = switchboard::graph::DEFAULT_NODE_BUDGET)]
    node_budget: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    /// Graphviz: pipe into `dot -Tsvg`
    Dot,
    /// Mermaid flowchart, for Markdown that renders it
    Mermaid,
}

#[derive(clap::Args)]
struct CheckArgs {
    /// Policy files, or directories to search for `*.route` files
    #[arg(required = true, value_name = "FILE|DIR")]
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
    /// The most decision-graph nodes analysis may build before it falls back to a scan
    #[arg(long, value_name = "N", default_value_t = switchboard::graph::DEFAULT_NODE_BUDGET)]
    node_budget: usize,
    /// The project root: files that `use` names must lie below it (default: the directory of
    /// the file that names them)
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Lint {
    /// Pairs of rules that both match some leads, with an example lead
    Overlap,
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

const EXIT_PROBLEMS: u8 = 1;
const EXIT_USAGE: u8 = 2;

mod diff;
mod fmt;
mod lsp;
mod test;
mod threads;

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
        Command::Check(args) => check(&args),
        Command::Graph(args) => graph(&args),
        Command::Route(args) => route(&args),
        Command::Test(args) => test::run(&args),
        Command::Explain(args) => explain(&args),
        Command::Fmt(args) => fmt::run(&args),
        Command::Lsp(args) => lsp::run(&args),
        Command::Diff(args) => diff::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// A source read from disk.
struct Source {
    path: String,
    text: String,
}

/// For a file of tests (`use "policy.route"`), the used policy's path and text, or why it
/// cannot be read. `None` for a policy file.
fn used_policy(source: &Source, root: Option<&Path>) -> Option<Result<(String, String), String>> {
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

fn check(args: &CheckArgs) -> Result<ExitCode, String> {
    let sources = read_sources(&args.paths)?;
    let mut config = switchboard::CheckConfig::default();
    config.analysis.overlaps = args.warn.contains(&Lint::Overlap);
    config.analysis.node_budget = args.node_budget;
    let reports: Vec<Vec<switchboard::Diagnostic>> = sources
        .iter()
        .map(|source| match used_policy(source, args.root.as_deref()) {
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
    let files: Vec<FileDiagnostics<'_>> = sources
        .iter()
        .zip(&reports)
        .map(|(source, diagnostics)| FileDiagnostics {
            path: &source.path,
            text: &source.text,
            diagnostics,
        })
        .collect();
    let errors: usize = reports.iter().flatten().filter(|d| d.is_error()).count();
    let warnings: usize = reports.iter().flatten().filter(|d| !d.is_error()).count();
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
            let root = std::env::current_dir()
                .ok()
                .and_then(|dir| dir.to_str().map(render::directory_uri));
            print_stdout(&render::sarif(&files, root.as_deref()))?
        }
        Format::Github => print_stdout(&render::github(&files))?,
    }
    let failed = errors > 0 || (matches!(args.deny, Some(Deny::Warnings)) && warnings > 0);
    Ok(if failed {
        ExitCode::from(EXIT_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    })
}

/// Draws the decision graph. Analysis findings (gaps, shadowed rules) do not stop the drawing:
/// they are printed on stderr, and the picture shows where leads fall through.
fn graph(args: &GraphArgs) -> Result<ExitCode, String> {
    let sources = read_sources(std::slice::from_ref(&args.policy))?;
    let Some(source) = sources.first() else {
        return Err(format!("no policy in `{}`", args.policy.display()));
    };
    let mut config = switchboard::CheckConfig::default();
    config.analysis.node_budget = args.node_budget;
    let report = switchboard::check_source_with(&source.text, &config);
    let file = FileDiagnostics {
        path: &source.path,
        text: &source.text,
        diagnostics: &report.diagnostics,
    };
    if !report.diagnostics.is_empty() {
        let _ = std::io::stderr().write_all(render::human(&file, human_style()).as_bytes());
    }
    let Some((policy, compiled)) = report.compiled.as_ref() else {
        eprintln!(
            "error: `{}` has errors; fix them to draw its graph",
            source.path
        );
        return Ok(ExitCode::from(EXIT_PROBLEMS));
    };
    let switchboard::graph::Compiled::Graph {
        graph: decision_graph,
        ..
    } = compiled
    else {
        return Err(format!(
            "`{}` is too large to draw: its decision graph exceeds the budget of {} nodes (see --node-budget)",
            source.path, args.node_budget
        ));
    };
    let format = match args.format {
        GraphFormat::Dot => switchboard::graph::render::Format::Dot,
        GraphFormat::Mermaid => switchboard::graph::render::Format::Mermaid,
    };
    print_stdout(&switchboard::graph::render::render(
        policy,
        decision_graph,
        format,
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn explain(args: &ExplainArgs) -> Result<ExitCode, String> {
    let (source, policy, compiled) = load_policy(&args.policy)?;
    let roster = load_roster(args.roster.as_deref())?;
    let now = parse_now(args.now.as_deref())?;
    let lead = match args.lead.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read lead `{path}`: {}", describe_io(&error)))?
            .lines()
            .next()
            .unwrap_or("")
            .to_string(),
        None => args.lead.clone(),
    };
    match switchboard::explain::explain(
        &policy,
        &compiled,
        &source.text,
        roster.as_ref(),
        &lead,
        now,
    ) {
        Ok(explanation) => {
            match args.format {
                ExplainFormat::Human => {
                    print_stdout(&switchboard::explain::render_human(&explanation))?
                }
                ExplainFormat::Json => print_stdout(&format!(
                    "{}\n",
                    switchboard::route::wire::outcome_json(&explanation.outcome(), 1)
                ))?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(switchboard::explain::ExplainError::State(error)) => Err(error.to_string()),
        Err(switchboard::explain::ExplainError::Lead(error)) => {
            match args.format {
                ExplainFormat::Human => eprintln!(
                    "error: the lead is not valid ({}): {}",
                    error.code, error.message
                ),
                ExplainFormat::Json => print_stdout(&format!(
                    "{}\n",
                    switchboard::route::wire::outcome_json(
                        &switchboard::route::Outcome::Invalid(error),
                        1
                    )
                ))?,
            }
            Ok(ExitCode::from(EXIT_PROBLEMS))
        }
    }
}

/// Reads and checks a policy for routing: errors are printed and refuse it.
fn load_policy(
    path: &Path,
) -> Result<
    (
        Source,
        switchboard::model::Policy,
        switchboard::graph::Compiled,
    ),
    String,
> {
    let mut sources = read_sources(&[path.to_path_buf()])?;
    let source = sources
        .pop()
        .ok_or_else(|| format!("no policy in `{}`", path.display()))?;
    let report = switchboard::check_source(&source.text);
    let errors = report.error_count();
    match report.compiled.filter(|_| errors == 0) {
        Some((policy, compiled)) => Ok((source, policy, compiled)),
        None => {
            let file = FileDiagnostics {
                path: &source.path,
                text: &source.text,
                diagnostics: &report.diagnostics,
            };
            let _ = std::io::stderr().write_all(render::human(&file, human_style()).as_bytes());
            Err(format!(
                "`{}` has errors; `switchboard check` it and fix them before routing",
                source.path
            ))
        }
    }
}

fn load_roster(path: Option<&Path>) -> Result<Option<switchboard::route::roster::Roster>, String> {
    let Some(path) = path else { return Ok(None) };
    let text = std::fs::read_to_string(path).map_err(|error| {
        format!(
            "cannot read roster `{}`: {}",
            path.display(),
            describe_io(&error)
        )
    })?;
    switchboard::route::roster::Roster::from_json(&text)
        .map(Some)
        .map_err(|error| format!("roster `{}`: {error}", path.display()))
}

fn parse_now(now: Option<&str>) -> Result<jiff::Timestamp, String> {
    match now {
        Some(text) => text
            .parse::<jiff::Timestamp>()
            .map_err(|error| format!("--now `{text}` is not an RFC 3339 time: {error}")),
        None => Ok(jiff::Timestamp::now()),
    }
}

/// How many lines share one state transaction.
const BATCH: usize = 512;

fn route(args: &RouteArgs) -> Result<ExitCode, String> {
    use switchboard::route::reader::{Limits, Line, read_line};
    use switchboard::route::state::{MemoryState, StateStore};
    use switchboard::route::{RouteConfig, Router};

    let (source, policy, compiled) = load_policy(&args.policy)?;
    let roster = load_roster(args.roster.as_deref())?;
    let now = parse_now(args.now.as_deref())?;
    let config = RouteConfig {
        now,
        explain: args.explain,
        limits: Limits {
            max_line_bytes: args.max_line_bytes,
            max_depth: args.max_depth,
        },
    };
    let router = Router::new(&policy, &compiled, roster.as_ref(), config, &source.text);
    let mut state: Box<dyn StateStore> = if args.state == ":memory:" {
        Box::new(MemoryState::default())
    } else {
        Box::new(
            switchboard::store::SqliteState::open(Path::new(&args.state))
                .map_err(|error| format!("cannot open state `{}`: {error}", args.state))?,
        )
    };
    let source: Box<dyn std::io::Read> = match args.leads.as_deref() {
        Some(path) if path != Path::new("-") => {
            Box::new(std::fs::File::open(path).map_err(|error| {
                format!(
                    "cannot read leads `{}`: {}",
                    path.display(),
                    describe_io(&error)
                )
            })?)
        }
        _ => Box::new(std::io::stdin().lock()),
    };
    let mut input = std::io::BufReader::with_capacity(1 << 16, source);
    let mut output = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut line_number = 0usize;
    let mut error_lines = 0usize;
    // The decided lines of the open batch, written out only after it is committed.
    let mut batch = String::with_capacity(BATCH * 192);
    loop {
        // Wait for input before taking the state's write lock, so that a slow producer neither
        // delays other routers nor holds its own decisions back.
        let line = read_line(&mut input, args.max_line_bytes)
            .map_err(|error| format!("cannot read leads: {error}"))?;
        let Some(mut line) = line else {
            break;
        };
        state.begin().map_err(|error| error.to_string())?;
        let mut in_batch = 0;
        loop {
            line_number += 1;
            in_batch += 1;
            let outcome = match line {
                Line::TooLong(length) => router.too_long(length),
                Line::Text(bytes) => router
                    .route_line(state.as_mut(), &bytes)
                    .map_err(|error| error.to_string())?,
            };
            error_lines += usize::from(outcome.is_error());
            switchboard::route::wire::write_outcome(&mut batch, &outcome, line_number);
            batch.push('\n');
            // End the batch when it is full, or when the next line is not here yet (reading it
            // might block): leads that have arrived are decided and printed promptly.
            if in_batch == BATCH || input.buffer().is_empty() {
                break;
            }
            match read_line(&mut input, args.max_line_bytes)
                .map_err(|error| format!("cannot read leads: {error}"))?
            {
                Some(next) => line = next,
                None => break,
            }
        }
        state.commit().map_err(|error| error.to_string())?;
        // Decisions are written only once they are durable: a killed run leaves no line on
        // stdout that the state does not also hold.
        output
            .write_all(batch.as_bytes())
            .map_err(|error| format!("cannot write decisions: {error}"))?;
        batch.clear();
        output
            .flush()
            .map_err(|error| format!("cannot write decisions: {error}"))?;
    }
    Ok(if error_lines > 0 {
        ExitCode::from(EXIT_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    })
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

fn print_stdout(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|error| format!("cannot write to stdout: {error}"))
}

/// Reads every named file and every `*.route` file below every named directory, in a stable
/// order. Any unreadable or non-UTF-8 file is an error: checking the rest would hide it.
fn read_sources(paths: &[PathBuf]) -> Result<Vec<Source>, String> {
    let mut files = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path).map_err(|error| {
            format!("cannot read `{}`: {}", path.display(), describe_io(&error))
        })?;
        if metadata.is_dir() {
            let before = files.len();
            collect_routes(path, &mut files)?;
            if files.len() == before {
                return Err(format!("no `*.route` files under `{}`", path.display()));
            }
        } else {
            files.push(path.clone());
        }
    }
    // The same file named twice (`a.route` and `./a.route`, or a file and its folder) is read once.
    let mut seen = std::collections::HashSet::new();
    files.retain(|path| seen.insert(std::fs::canonicalize(path).unwrap_or_else(|_| path.clone())));
    files
        .into_iter()
        .map(|path| {
            let text = switchboard::disk::read_text(&path, switchboard::files::MAX_POLICY_BYTES)
                .map_err(|error| match error {
                    switchboard::files::FileError::NotUtf8 { line, offset } => format!(
                        "`{}` is not UTF-8 (invalid byte on line {line}, at byte offset {offset})",
                        path.display(),
                    ),
                    error => format!("cannot read `{}`: {error}", path.display()),
                })?;
            Ok(Source {
                path: display_path(&path),
                text,
            })
        })
        .collect()
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

fn collect_routes(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|error| format!("cannot read `{}`: {}", dir.display(), describe_io(&error)))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    paths.sort();
    for path in paths {
        let hidden = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with('.') || name == "target");
        if hidden {
            continue;
        }
        if path.is_dir() {
            collect_routes(&path, files)?;
        } else if path.extension().is_some_and(|ext| ext == "route") {
            files.push(path);
        }
    }
    Ok(())
}

fn describe_io(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => error.to_string(),
    }
}
