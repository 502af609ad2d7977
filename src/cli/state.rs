//! `switchboard state`: the state's tables themselves. `init` and `migrate` create them or bring
//! an older Switchboard's up to this one's version; `export` writes every row as NDJSON (the
//! same for SQLite and PostgreSQL) and `import` reads such an export into an empty state, so a
//! state moves from one store to the other and back; `export --ledger` dumps the decisions.

use super::Failure;
use super::policy::{StateLocation, open_state, state_location};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use switchboard::route::state::dump::{self, StateRow};
use switchboard::route::state::{StateError, StateErrorKind, StateStore};
use switchboard::route::wire;

#[derive(clap::Args)]
pub struct StateArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Create the state's tables (a new SQLite file, or the tables in a PostgreSQL database)
    Init(Target),
    /// Bring the tables an older Switchboard wrote up to this one's version
    Migrate(Target),
    /// Write every row of the state as NDJSON (the input of `state import`), or --ledger
    Export(ExportArgs),
    /// Read an export into an empty state, in one transaction
    Import(ImportArgs),
}

#[derive(clap::Args)]
struct Target {
    /// The state: a SQLite file or postgres://user@host/db
    #[arg(
        long,
        value_name = "PATH|URL",
        env = "SWITCHBOARD_STATE",
        // The value may hold a password: `--help` never shows it.
        hide_env_values = true,
        default_value = ".switchboard/state.db"
    )]
    state: String,
}

#[derive(clap::Args)]
struct ExportArgs {
    #[command(flatten)]
    target: Target,
    /// Only the ledger: each decision as `route` printed it, with `decided_at` and `policy`
    /// (for people and jq; `state import` needs the full export)
    #[arg(long)]
    ledger: bool,
    /// Write to this file instead of stdout
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ImportArgs {
    /// The export to read (`-`: stdin)
    #[arg(value_name = "FILE")]
    file: PathBuf,
    #[command(flatten)]
    target: Target,
}

pub fn run(args: &StateArgs) -> Result<ExitCode, Failure> {
    match &args.action {
        Action::Init(target) => tables(target, false),
        Action::Migrate(target) => tables(target, true),
        Action::Export(export_args) => export(export_args),
        Action::Import(import_args) => import(import_args),
    }
}

/// Opens a state that keeps rows somewhere (`:memory:` keeps none).
fn open_kept(
    value: &str,
    what: &str,
) -> Result<(Box<dyn StateStore + Send>, String, &'static str), Failure> {
    let location = state_location(value)?;
    if matches!(location, StateLocation::Memory) {
        return Err(Failure::usage(format!(
            "--state :memory: keeps nothing to {what}: give a SQLite file or a postgres:// URL"
        )));
    }
    let (state, location) = open_state(value)?;
    let store = match location {
        StateLocation::Postgres(_) => "postgres",
        _ => "sqlite",
    };
    Ok((state, location.shown(), store))
}

/// Refuses a SQLite path with no file: opening it would create an empty state, so a misspelt
/// path is said instead (`there is no state at `typo.db` to export`).
pub(super) fn existing(value: &str, what: &str) -> Result<(), Failure> {
    match state_location(value)? {
        StateLocation::Sqlite(path) if !path.exists() => Err(Failure::usage(format!(
            "there is no state at `{}` {what}{}",
            path.display(),
            super::near_miss(&path)
        ))),
        StateLocation::Postgres(url) if !holds_a_state(&url)? => Err(Failure::usage(format!(
            "there is no state in `{}` (the database holds no Switchboard tables: a misspelt \
             name?) {what}",
            super::policy::without_password(&url)
        ))),
        _ => Ok(()),
    }
}

/// Whether the database `url` names holds Switchboard's tables, asked without creating them.
#[cfg(feature = "postgres")]
pub(super) fn holds_a_state(url: &str) -> Result<bool, Failure> {
    switchboard::store::PostgresState::holds_a_state(url).map_err(|error| {
        Failure::usage(format!(
            "cannot open state `{}`: {error}",
            super::policy::without_password(url)
        ))
    })
}

/// Without PostgreSQL support there is nothing to ask: opening the state says it.
#[cfg(not(feature = "postgres"))]
pub(super) fn holds_a_state(_url: &str) -> Result<bool, Failure> {
    Ok(true)
}

fn tables(target: &Target, migrating: bool) -> Result<ExitCode, Failure> {
    if migrating {
        let hint = format!(
            "to migrate: `switchboard state init --state {}` creates one",
            target.state
        );
        existing(&target.state, &hint)?;
    }
    let (state, shown, _) = open_kept(&target.state, "create")?;
    let Some((found, now)) = state.tables_version() else {
        return Err(Failure::usage(format!("{shown} keeps no tables")));
    };
    let what = if found == 0 {
        format!("created tables version {now}")
    } else if found < now {
        format!("migrated tables version {found} to version {now}")
    } else {
        format!("tables version {now}, already current")
    };
    let mut said = format!("state {shown}: {what}\n");
    if let Some(concurrency) = state.concurrency() {
        said.push_str(&format!("state {shown}: {concurrency}\n"));
    }
    super::print_stdout(&said)?;
    Ok(ExitCode::SUCCESS)
}

/// Refuses an export written over the state it reads (or its journal files): creating the file
/// would empty the database before a row is read.
fn not_the_state(output: &Path, state: &str) -> Result<(), Failure> {
    let StateLocation::Sqlite(path) = state_location(state)? else {
        return Ok(());
    };
    let canonical = |path: &Path| {
        std::fs::canonicalize(path).ok().or_else(|| {
            // A file not there yet: its folder's canonical path and its name.
            let parent = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            Some(std::fs::canonicalize(parent).ok()?.join(path.file_name()?))
        })
    };
    let (Some(output_path), Some(state_path)) = (canonical(output), canonical(&path)) else {
        return Ok(());
    };
    let state_text = state_path.to_string_lossy();
    let same_file = |a: &Path, b: &Path| {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            // A hard link is the same file under another name.
            if let (Ok(a), Ok(b)) = (std::fs::metadata(a), std::fs::metadata(b)) {
                return a.dev() == b.dev() && a.ino() == b.ino();
            }
        }
        a == b
    };
    let taken = ["", "-wal", "-shm", "-journal"].iter().any(|suffix| {
        let file = PathBuf::from(format!("{state_text}{suffix}"));
        output_path == file || same_file(&output_path, &file)
    });
    if taken {
        return Err(Failure::usage(format!(
            "-o `{}` is the state being exported (or one of its files): write the export \
             elsewhere",
            output.display()
        )));
    }
    Ok(())
}

fn export(args: &ExportArgs) -> Result<ExitCode, Failure> {
    existing(&args.target.state, "to export")?;
    if let Some(output) = &args.output {
        not_the_state(output, &args.target.state)?;
    }
    let (mut state, shown, store) = open_kept(&args.target.state, "export")?;
    let mut output: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|error| {
                Failure::usage(format!(
                    "cannot write `{}`: {error}",
                    super::policy::without_password(&path.display().to_string())
                ))
            })?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let written = |error: std::io::Error| {
        StateError::new(
            StateErrorKind::Failed,
            format!("cannot write the export: {error}"),
        )
    };
    if !args.ledger {
        writeln!(output, "{}", dump::header(store)).map_err(|error| written(error).to_string())?;
    }
    let mut counts: std::collections::BTreeMap<&'static str, u64> = Default::default();
    let ledger_only = args.ledger;
    // A reader that stopped early (`| head`) ends the export quietly.
    let mut reader_gone = false;
    let exported = state.export(&mut |row| {
        *counts.entry(row.kind()).or_default() += 1;
        let line = if ledger_only {
            match &row {
                StateRow::Ledger(recorded) => ledger_line(recorded),
                _ => return Ok(()),
            }
        } else {
            row.to_json()
        };
        writeln!(output, "{line}").map_err(|error| {
            reader_gone |= error.kind() == std::io::ErrorKind::BrokenPipe;
            written(error)
        })
    });
    if reader_gone {
        return Ok(ExitCode::SUCCESS);
    }
    exported.map_err(|error| Failure::usage(format!("cannot export {shown}: {error}")))?;
    if !ledger_only {
        // Last: a file without it was cut short, and is refused by `state import`.
        let rows = counts.values().sum();
        if let Err(error) = writeln!(output, "{}", dump::trailer(rows)) {
            if error.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(ExitCode::SUCCESS);
            }
            return Err(Failure::usage(written(error).to_string()));
        }
    }
    match output.flush() {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            return Ok(ExitCode::SUCCESS);
        }
        flushed => {
            flushed.map_err(|error| Failure::usage(format!("cannot write the export: {error}")))?
        }
    }
    let summary: Vec<String> = counts
        .iter()
        .filter(|(kind, _)| !ledger_only || **kind == "ledger")
        .map(|(kind, count)| format!("{count} {kind}"))
        .collect();
    stderr_line!(
        "exported from {shown}: {}",
        if summary.is_empty() {
            "nothing (the state is empty)".to_string()
        } else {
            summary.join(", ")
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// A ledger entry for people: the decision as `route` printed it, when and by which policy.
fn ledger_line(recorded: &switchboard::route::state::Recorded) -> String {
    let mut decision: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&wire::decision_json(&recorded.decision)).unwrap_or_default();
    decision.insert("decided_at".into(), recorded.decided_at.to_string().into());
    decision.insert("policy".into(), recorded.policy_hash.to_string().into());
    serde_json::Value::Object(decision).to_string()
}

fn import(args: &ImportArgs) -> Result<ExitCode, Failure> {
    // A URL given here by mistake is shown without its password.
    let from = super::policy::without_password(&args.file.display().to_string());
    let input: Box<dyn BufRead> = if args.file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(&args.file)
                .map_err(|error| Failure::usage(format!("cannot read `{from}`: {error}")))?,
        ))
    };
    let mut lines = input.lines().enumerate();
    let format = match lines.next() {
        Some((_, Ok(first))) => dump::read_header(&first)
            .map_err(|why| Failure::usage(format!("`{from}` line 1: {why}")))?,
        Some((_, Err(error))) => {
            return Err(Failure::usage(format!("cannot read `{from}`: {error}")));
        }
        None => {
            return Err(Failure::usage(format!(
                "`{from}` is empty: it should start with the header `state export` writes"
            )));
        }
    };
    // A SQLite file this import creates is removed again if the import fails: an empty state
    // left behind would route every lead afresh.
    let created = match state_location(&args.target.state)? {
        StateLocation::Sqlite(path) if !path.exists() => Some(path),
        _ => None,
    };
    let (mut state, shown, _) = open_kept(&args.target.state, "import into")?;
    let failed = |message: String| StateError::new(StateErrorKind::Failed, message);
    // Rows until the trailer (format 4 on), which must be the last line and count them: a
    // failure here rolls the whole import back.
    let mut rows_read: u64 = 0;
    let mut ended: Option<(usize, u64)> = None;
    let mut lines =
        lines.filter(|(_, line)| line.as_ref().map_or(true, |line| !line.trim().is_empty()));
    let mut done = false;
    let mut rows = std::iter::from_fn(|| {
        loop {
            if done {
                return None;
            }
            let Some((index, line)) = lines.next() else {
                done = true;
                return match ended {
                    Some((_, count)) if count != rows_read => Some(Err(failed(format!(
                        "`{from}` ends with a count of {count} rows but holds {rows_read}: it \
                         was changed after the export"
                    )))),
                    None if format >= dump::FORMAT_WITH_TRAILER => Some(Err(failed(format!(
                        "`{from}` ends after {rows_read} rows without the last line `state \
                         export` writes ({{\"switchboard_state_end\": …}}): the file was cut \
                         short; export again"
                    )))),
                    _ => None,
                };
            };
            let line = match line {
                Ok(line) => line,
                Err(error) => {
                    done = true;
                    return Some(Err(failed(format!("cannot read `{from}`: {error}"))));
                }
            };
            if let Some((at, _)) = ended {
                done = true;
                return Some(Err(failed(format!(
                    "`{from}` line {}: a line after the export's last line (line {at})",
                    index + 1
                ))));
            }
            if let Some(count) = dump::read_trailer(&line) {
                ended = Some((index + 1, count));
                continue;
            }
            rows_read += 1;
            return Some(
                StateRow::from_json(&line)
                    .map_err(|why| failed(format!("`{from}` line {}: {why}", index + 1))),
            );
        }
    });
    let imported = match state.import(&mut rows) {
        Ok(imported) => imported,
        Err(error) => {
            // Removed only while it holds nothing: another router that opened the new file
            // meanwhile (a service started during a restore) keeps what it wrote.
            let mut empty = true;
            let _ = state.export(&mut |_| {
                empty = false;
                Err(StateError::new(
                    StateErrorKind::Failed,
                    "not empty".to_string(),
                ))
            });
            // The connection closes first, so its journal files go with the file.
            drop(state);
            let removed = empty
                && created.as_deref().is_some_and(|path| {
                    ["", "-wal", "-shm", "-journal"].iter().all(|suffix| {
                        let file = PathBuf::from(format!("{}{suffix}", path.display()));
                        !file.exists() || std::fs::remove_file(&file).is_ok()
                    })
                });
            return Err(Failure::usage(format!(
                "nothing was imported into {shown} (rolled back{}): {error}",
                if removed {
                    "; the new file removed"
                } else {
                    ""
                }
            )));
        }
    };
    stderr_line!("imported {imported} rows from `{from}` into {shown}");
    Ok(ExitCode::SUCCESS)
}
