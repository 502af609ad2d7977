//! `switchboard explain`: why a lead went where it went. With the lead's id (or the lead itself)
//! in the state's ledger, the decision that was recorded, as it was made; otherwise what the
//! policy would decide now, from the state as it is, changing nothing.

use super::policy::{
    StateLocation, load_policy, load_roster, open_state, parse_now, state_location,
};
use super::{EXIT_PROBLEMS, Failure, print_stdout};
use std::path::PathBuf;
use std::process::ExitCode;
use switchboard::explain::{Explain, ExplainError, LeadArgument, render_human};
use switchboard::route::state::{MemoryState, StateStore};
use switchboard::route::{Outcome, wire};

#[derive(clap::Args)]
pub struct ExplainArgs {
    /// The policy file (or a folder holding exactly one policy)
    #[arg(value_name = "POLICY")]
    policy: PathBuf,
    /// The lead: its id (looked up in the state's ledger), its JSON, or @FILE (the file's
    /// first line; of a CSV file, the first row under the header)
    #[arg(long, value_name = "ID|JSON|@FILE")]
    lead: String,
    #[command(flatten)]
    input: super::input::InputArgs,
    /// Roster JSON
    #[arg(long, value_name = "FILE")]
    roster: Option<PathBuf>,
    /// The state whose ledger answers for routed leads (`:memory:`: an empty one)
    #[arg(
        long,
        value_name = "PATH|URL",
        env = "SWITCHBOARD_STATE",
        // The value may hold a password: `--help` never shows it.
        hide_env_values = true,
        default_value = ".switchboard/state.db"
    )]
    state: String,
    /// The time for leads without a clock field (RFC 3339); default: the current time
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// Output format: `json` prints what `route --explain` prints (a recorded decision's path
    /// as the ledger keeps it: tests and values, no branch labels)
    #[arg(long, value_enum, default_value_t = ExplainFormat::Human)]
    format: ExplainFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ExplainFormat {
    Human,
    Json,
}

pub fn run(args: &ExplainArgs) -> Result<ExitCode, Failure> {
    let now = parse_now(args.now.as_deref())?;
    let loaded = load_policy(&args.policy, false)?;
    let roster = load_roster(args.roster.as_deref(), &loaded.policy, now)?;
    let lead = lead_argument(&args.lead, &args.input, &loaded.policy)?;
    // Explaining never creates a state: without the file (or the database's tables) there is
    // nothing recorded.
    let location = state_location(&args.state)?;
    let (mut state, empty_state): (Box<dyn StateStore>, bool) = match &location {
        StateLocation::Sqlite(path) if path.exists() => (
            Box::new(
                switchboard::store::SqliteState::open(path).map_err(|error| {
                    Failure::usage(format!("cannot open state `{}`: {error}", path.display()))
                })?,
            ),
            false,
        ),
        // A database without Switchboard's tables (a misspelt name) is left without them.
        StateLocation::Postgres(url) if !super::state::holds_a_state(url)? => {
            (Box::new(MemoryState::default()), true)
        }
        StateLocation::Postgres(_) => (open_state(&args.state)?.0, false),
        _ => (Box::new(MemoryState::default()), true),
    };
    let explain = Explain {
        policy: &loaded.policy,
        compiled: &loaded.compiled,
        policy_text: &loaded.source.text,
        roster: roster.as_ref(),
        now,
    };
    // A what-if decides inside a batch that is then undone.
    let in_batch = !empty_state;
    if in_batch {
        state
            .begin()
            .map_err(|error| Failure::usage(error.to_string()))?;
    }
    let explained = explain.lead(state.as_mut(), &lead, empty_state);
    if in_batch {
        state
            .rollback()
            .map_err(|error| Failure::usage(error.to_string()))?;
    }
    match explained {
        Ok(explanation) => {
            match args.format {
                ExplainFormat::Human => print_stdout(&render_human(&explanation))?,
                ExplainFormat::Json => {
                    let mut line = wire::outcome_json(&explanation.outcome(), 1);
                    if let Some(life) = &explanation.life {
                        line = with_life(&line, life);
                    }
                    print_stdout(&format!("{line}\n"))?
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(ExplainError::State(error)) => Err(Failure::usage(error.to_string())),
        Err(ExplainError::NotRecorded(id)) => Err(Failure::usage(match &location {
            // A misspelt path is said as such, not as a lead missing from an empty ledger.
            StateLocation::Sqlite(path) if !path.exists() => format!(
                "there is no state at `{}` to look lead `{id}` up in: route leads into it \
                 first, or give the lead itself (`--lead '{{…}}'` or `--lead @FILE`)",
                path.display()
            ),
            StateLocation::Postgres(url) if empty_state => format!(
                "there is no state in `{}` (the database holds no Switchboard tables: a \
                 misspelt name?) to look lead `{id}` up in: route leads into it first, or give \
                 the lead itself (`--lead '{{…}}'` or `--lead @FILE`)",
                super::policy::without_password(url)
            ),
            _ => format!(
                "lead `{id}` is not in the ledger of {}; give the lead itself (`--lead '{{…}}'` \
                 or `--lead @FILE`) to see where it would go",
                shown(&location)
            ),
        })),
        Err(ExplainError::Conflict { lead, decided_at }) => Err(Failure::usage(format!(
            "the ledger of {} holds another lead under the id `{lead}` (decided at {decided_at}); \
             give each lead its own id",
            shown(&location)
        ))),
        Err(ExplainError::Lead(error)) => {
            match args.format {
                ExplainFormat::Human => stderr_line!(
                    "error: the lead is not valid ({}): {}",
                    error.code,
                    error.message
                ),
                ExplainFormat::Json => print_stdout(&format!(
                    "{}\n",
                    wire::outcome_json(&Outcome::Invalid(error), 1)
                ))?,
            }
            Ok(ExitCode::from(EXIT_PROBLEMS))
        }
    }
}

/// How much of `--lead @FILE` is read: enough for a CSV header and its first row at the
/// longest lines `route` takes (1 MiB each), never the whole of a large file.
const LEAD_FILE_HEAD_BYTES: u64 = 4 << 20;

/// `--lead`: a JSON object, `@FILE` (its first line), or else an id.
fn lead_argument(
    text: &str,
    input: &super::input::InputArgs,
    policy: &switchboard::model::Policy,
) -> Result<LeadArgument, Failure> {
    if let Some(path) = text.strip_prefix('@') {
        let content = if path == "-" {
            // `--lead @-`: the lead on stdin, as `--leads -` reads leads.
            let mut content = String::new();
            std::io::Read::read_to_string(
                &mut std::io::Read::take(
                    std::io::stdin().lock(),
                    switchboard::files::MAX_ROSTER_BYTES,
                ),
                &mut content,
            )
            .map_err(|error| Failure::usage(format!("cannot read the lead from stdin: {error}")))?;
            content
        } else {
            let file = std::path::Path::new(path);
            super::followed_link_stays_inside(file).map_err(Failure::usage)?;
            // Only the first lines: a dump of a million leads is not read whole for its first.
            let head = switchboard::disk::read_head(file, LEAD_FILE_HEAD_BYTES)
                .map_err(|error| Failure::usage(format!("cannot read lead `{path}`: {error}")))?
                .ok_or_else(|| {
                    Failure::usage(format!(
                        "cannot read lead `{path}`: its first line is longer than \
                         {LEAD_FILE_HEAD_BYTES} bytes"
                    ))
                })?;
            let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
            String::from_utf8(head.to_vec()).map_err(|error| {
                Failure::usage(format!(
                    "cannot read lead `{path}`: not UTF-8 (invalid byte at offset {})",
                    error.utf8_error().valid_up_to()
                ))
            })?
        };
        let named = Some(std::path::Path::new(path)).filter(|_| path != "-");
        let shown = if path == "-" { "stdin" } else { path };
        if input.is_csv(named) {
            // A CSV file: its header, and the lead in the first data row.
            let mut leads = input.leads(
                Box::new(content.as_bytes()),
                true,
                &[policy],
                &format!("`{shown}`"),
                false,
                switchboard::route::reader::Limits::default().max_line_bytes,
            )?;
            let mut lines = String::new();
            std::io::Read::read_to_string(&mut leads, &mut lines)
                .map_err(|error| Failure::usage(format!("cannot read lead `{path}`: {error}")))?;
            let Some(first) = lines.lines().next() else {
                return Err(Failure::usage(format!(
                    "`{shown}` has a header row but no lead under it"
                )));
            };
            return Ok(LeadArgument::Json(first.to_string()));
        }
        let first = content
            .strip_prefix('\u{feff}')
            .unwrap_or(&content)
            .lines()
            .next()
            .unwrap_or_default();
        if first.contains(',') && !first.contains('{') {
            return Err(Failure::usage(format!(
                "`{shown}` looks like CSV (its first line has commas and no `{{`): read it as CSV \
                 with `--input-format csv` (a `.csv` file is), or give the lead as JSON"
            )));
        }
        return Ok(LeadArgument::Json(first.to_string()));
    }
    if text.trim_start().starts_with('{') {
        return Ok(LeadArgument::Json(text.to_string()));
    }
    if text.trim().is_empty() {
        return Err(Failure::usage(
            "--lead is empty: give a lead id, the lead's JSON, or @FILE".to_string(),
        ));
    }
    Ok(LeadArgument::Id(text.to_string()))
}

fn shown(location: &StateLocation) -> String {
    location.shown()
}

/// The decision line with the lead's life after it (`"life"`: holdings, steps, touches), without
/// the store's bookkeeping (the events seen, the current decision, which the line already is).
fn with_life(line: &str, life: &switchboard::route::life::Life) -> String {
    let Ok(serde_json::Value::Object(mut object)) = serde_json::from_str(line) else {
        return line.to_string();
    };
    if let Ok(serde_json::Value::Object(mut shown)) = serde_json::to_value(life) {
        shown.remove("seen");
        shown.remove("current");
        shown.remove("lead");
        object.insert("life".to_string(), serde_json::Value::Object(shown));
    }
    serde_json::Value::Object(object).to_string()
}
