//! `switchboard report`: what actually happened, from a state's ledger and the leads' lives:
//! per pool and per rep the leads held, SLA met / missed, time to first touch, escalations,
//! rejections, and the fairness of each pool's split. Human, JSON or CSV on stdout.

use super::Failure;
use super::policy::{load_policy, open_state, parse_now};
use std::path::PathBuf;
use std::process::ExitCode;
use switchboard::report::{self, Window};

#[derive(clap::Args)]
pub struct ReportArgs {
    /// The policy (optional): pools' members and weights for the fairness figures
    #[arg(value_name = "POLICY")]
    policy: Option<PathBuf>,
    /// State database to report on
    #[arg(
        long,
        value_name = "PATH|URL",
        env = "SWITCHBOARD_STATE",
        // The value may hold a password: `--help` never shows it.
        hide_env_values = true,
        default_value = ".switchboard/state.db"
    )]
    state: String,
    /// Only leads whose own time is at or after this (RFC 3339, or a date: 00:00 UTC)
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only leads whose own time is before this (RFC 3339, or a date: 00:00 UTC)
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// When SLAs still running are judged (RFC 3339); default: --until, else the current time
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    /// Tables for people
    Human,
    /// One JSON object: totals, pools, reps, queues, fairness
    Json,
    /// One row per total, pool and rep, for a spreadsheet
    Csv,
}

/// An RFC 3339 time, or a date (`2026-11-24`: its start, 00:00 UTC).
fn time(flag: &str, value: Option<&str>) -> Result<Option<jiff::Timestamp>, Failure> {
    value
        .map(|text| {
            switchboard::route::reader::read_instant_or_date(text)
                .map_err(|why| Failure::usage(format!("{flag} `{text}` cannot be read: {why}")))
        })
        .transpose()
}

pub fn run(args: &ReportArgs) -> Result<ExitCode, Failure> {
    let since = time("--since", args.since.as_deref())?;
    let until = time("--until", args.until.as_deref())?;
    if let (Some(since), Some(until)) = (since, until)
        && until <= since
    {
        return Err(Failure::usage(format!(
            "--until {until} is not after --since {since}: the period is empty"
        )));
    }
    let as_of = match (args.now.as_deref(), until) {
        (Some(_), _) | (None, None) => parse_now(args.now.as_deref())?,
        (None, Some(until)) => until,
    };
    let loaded = args
        .policy
        .as_deref()
        .map(|path| load_policy(path, true))
        .transpose()?;
    super::state::existing(&args.state, "to report on: `route` leads into it first")?;
    let (mut state, _) = open_state(&args.state)?;
    let mut entries = Vec::new();
    state
        .each_lead(&mut |recorded, life| entries.push((recorded, life)))
        .map_err(|error| Failure::usage(error.to_string()))?;
    let window = Window {
        since,
        until,
        as_of,
    };
    let built = report::build(entries, loaded.as_ref().map(|l| &l.policy), window);
    if let (Some(loaded), Some(path)) = (&loaded, &args.policy) {
        // A pool the leads went to that the policy lacks is held against the reps seen, not
        // its members: say so, since another policy than the one that routed them (a wrong
        // path) would otherwise change the fairness figures without a word.
        let missing: Vec<&str> = built
            .pools
            .keys()
            .filter(|pool| !loaded.policy.pools.iter().any(|known| known.name == **pool))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            stderr_line!(
                "warning: `{}` has no pool {}, which the state's leads went to: {} fairness is \
                 held against the reps seen. Is it the policy that routed the leads?",
                path.display(),
                missing
                    .iter()
                    .map(|pool| format!("`{pool}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if missing.len() == 1 { "its" } else { "their" },
            );
        }
    }
    let text = match args.format {
        Format::Human => report::human(&built, &window),
        Format::Json => format!("{}\n", report::to_json(&built, &window)),
        Format::Csv => report::to_csv(&built),
    };
    super::print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}
