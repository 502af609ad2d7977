//! `switchboard track` and `switchboard sweep`: what happens after the decision. `track` reads
//! NDJSON events (one output line per input line, the event as recorded or an error record);
//! `sweep` carries out the escalation steps due at `--now`. Both print a batch only once the
//! state holds it, so a killed run leaves nothing on stdout that the state does not also hold,
//! and a re-run neither repeats nor loses a step.

use super::policy::{
    StateLocation, commit_then_print, load_policy, load_roster, open_state, parse_now,
};
use super::{EXIT_PROBLEMS, Failure};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use switchboard::route::reader::{Limits, Line, read_line};
use switchboard::route::state::{StateError, StateErrorKind, StateStore};
use switchboard::route::{RouteConfig, Router, Tracked};

#[derive(clap::Args)]
pub struct TrackArgs {
    /// The policy the leads were routed with (a rejected lead is re-routed by it)
    #[arg(value_name = "POLICY")]
    policy: PathBuf,
    /// Roster JSON, for re-routing rejected leads
    #[arg(long, value_name = "FILE")]
    roster: Option<PathBuf>,
    /// State database the leads were routed into
    #[arg(
        long,
        value_name = "PATH|URL",
        env = "SWITCHBOARD_STATE",
        // The value may hold a password: `--help` never shows it.
        hide_env_values = true,
        default_value = ".switchboard/state.db"
    )]
    state: String,
    /// Read events from this file instead of stdin (`-` is stdin)
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// Now (RFC 3339): the routing time of re-routes (for the roster's `as_of`), the latest a
    /// step fires, and 5 minutes before the latest an event may be dated; default: the clock
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// Record events that re-route by a rule, or fire a step to a target, that POLICY does not
    /// have (taken out on purpose): the lead is left unassigned, saying why. Without it such an
    /// event is refused (`event.policy`), as the mark of another policy than the one that
    /// routed the lead
    #[arg(long)]
    allow_unknown_names: bool,
    /// No summary on stderr
    #[arg(long, short)]
    quiet: bool,
}

#[derive(clap::Args)]
pub struct SweepArgs {
    /// The policy the leads were routed with
    #[arg(value_name = "POLICY")]
    policy: PathBuf,
    /// Roster JSON: who is available to take escalated leads
    #[arg(long, value_name = "FILE")]
    roster: Option<PathBuf>,
    /// State database the leads were routed into
    #[arg(
        long,
        value_name = "PATH|URL",
        env = "SWITCHBOARD_STATE",
        // The value may hold a password: `--help` never shows it.
        hide_env_values = true,
        default_value = ".switchboard/state.db"
    )]
    state: String,
    /// Fire the steps due at or before this time (RFC 3339); default: the current time
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// Carry out due steps whose target POLICY does not have (taken out on purpose) as finding
    /// nobody: a lead whose last step it is becomes unassigned. Without it `sweep` refuses to
    /// start when a due step names such a target, as the mark of another policy than the one
    /// that routed the leads
    #[arg(long)]
    allow_unknown_names: bool,
    /// No summary on stderr
    #[arg(long, short)]
    quiet: bool,
}

/// How many leads (or events) share one state transaction.
const BATCH: usize = 256;

pub fn track(args: &TrackArgs) -> Result<ExitCode, Failure> {
    let now = parse_now(args.now.as_deref())?;
    let loaded = load_policy(&args.policy, args.quiet)?;
    let roster = load_roster(args.roster.as_deref(), &loaded.policy, now)?;
    super::state::existing(
        &args.state,
        "to track events in: `route` leads into it first",
    )?;
    let (mut state, location) = open_state(&args.state)?;
    if matches!(location, StateLocation::Memory) && !args.quiet {
        stderr_line!(
            "note: --state :memory: holds no routed leads, so every event names an unknown lead"
        );
    }
    let limits = Limits::default();
    let mut router = Router::new(
        &loaded.policy,
        &loaded.compiled,
        roster.as_ref(),
        RouteConfig {
            now,
            explain: false,
            limits,
        },
        &loaded.source.text,
    );
    router.refuse_unknown_names(!args.allow_unknown_names);
    // Without `--now`, now is the clock's at each batch: a `track` that reads a producer for
    // hours judges each event against the time it arrives (events dated after now are
    // refused, and no step fires after now).
    let clock_now = args.now.is_none();
    let (source, from): (Box<dyn std::io::Read>, String) = match args.events.as_deref() {
        Some(path) if path != Path::new("-") => {
            let file = super::open_input(path, "events")?;
            (Box::new(file), format!("`{}`", path.display()))
        }
        _ => {
            if std::io::stdin().is_terminal() && !args.quiet {
                stderr_line!(
                    "reading events from stdin: NDJSON such as {{\"lead\":\"L-1\",\"event\":\"touched\",\
                     \"at\":\"2026-11-23T10:12:00+01:00\",\"by\":\"anna\"}} (Ctrl-D ends)"
                );
            }
            (Box::new(std::io::stdin().lock()), "stdin".to_string())
        }
    };
    let mut input = std::io::BufReader::with_capacity(1 << 16, source);
    super::route::skip_byte_order_mark(&mut input)
        .map_err(|error| Failure::usage(format!("cannot read events: {error}")))?;
    let mut output = std::io::BufWriter::new(std::io::stdout().lock());
    let (mut lines, mut errors) = (0usize, 0usize);
    // Lines printed (so recorded): where a failure of the state leaves off.
    let mut printed = 0usize;
    let mut batch = String::new();
    let read = |input: &mut std::io::BufReader<Box<dyn std::io::Read>>| {
        read_line(input, limits.max_line_bytes)
            .map_err(|error| Failure::usage(format!("cannot read events: {error}")))
    };
    let mut pending: Vec<Line> = Vec::with_capacity(BATCH);
    while let Some(line) = read(&mut input)? {
        // The batch is read before the state is touched: no lock is held while waiting for a
        // producer.
        pending.clear();
        pending.push(line);
        while pending.len() < BATCH && !input.buffer().is_empty() {
            match read(&mut input)? {
                Some(next) => pending.push(next),
                None => break,
            }
        }
        if clock_now {
            router.set_now(jiff::Timestamp::now());
        }
        let mut conflicts = 0;
        let answers = loop {
            match track_batch(&router, state.as_mut(), &pending, limits.max_line_bytes) {
                Ok(answers) => break answers,
                // Another router changed the same lead: the batch is tracked again.
                Err(error) if error.kind == StateErrorKind::Conflict && conflicts < 20 => {
                    conflicts += 1;
                    let _ = state.rollback();
                }
                Err(error) => {
                    let _ = state.rollback();
                    return Err(stopped(&error.to_string(), printed, "events"));
                }
            }
        };
        for (tracked, fired) in answers {
            lines += 1;
            if matches!(tracked, Tracked::Invalid(_)) {
                errors += 1;
            }
            batch.push_str(&tracked.to_json_after(&fired, lines));
            batch.push('\n');
        }
        // Committed by `track_batch`; printed only now.
        commit_then_print(
            state.as_mut(),
            &mut output,
            &mut batch,
            location.printed("events"),
        )?;
        printed = lines;
    }
    if !args.quiet {
        stderr_line!(
            "tracked {lines} event{} from {from}: {} recorded, {errors} error{}",
            if lines == 1 { "" } else { "s" },
            lines - errors,
            if errors == 1 { "" } else { "s" }
        );
    }
    Ok(if errors > 0 {
        ExitCode::from(EXIT_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    })
}

/// Tracks a batch's event lines in one transaction and commits it.
fn track_batch(
    router: &Router<'_>,
    state: &mut dyn StateStore,
    lines: &[Line],
    max_line_bytes: usize,
) -> Result<Vec<(Tracked, Vec<switchboard::route::Fired>)>, StateError> {
    state.begin()?;
    let mut answers = Vec::with_capacity(lines.len());
    for line in lines {
        answers.push(match line {
            Line::TooLong(length) => (
                Tracked::Invalid(switchboard::route::life::EventError {
                    code: "event.too_long",
                    message: format!(
                        "line is {length} bytes, more than the limit of {max_line_bytes}"
                    ),
                    lead: None,
                }),
                Vec::new(),
            ),
            Line::Text(bytes) => {
                let (tracked, fired) = router.track_line(state, bytes)?;
                post_to_outbox(state, &fired)?;
                (tracked, fired)
            }
        });
    }
    state.commit()?;
    Ok(answers)
}

/// Keeps fired steps in the state's outbox, in the transaction that fired them, as `serve`
/// does with its own: a `serve --notify` on the same state delivers them (now, or when one
/// starts), and `GET /v1/escalations` lists them. Without it, a step fired by a cron `sweep`
/// would never reach the rep's channel.
fn post_to_outbox(
    state: &mut dyn StateStore,
    fired: &[switchboard::route::Fired],
) -> Result<(), StateError> {
    for step in fired {
        state.post(step.at.instant, &step.decision.lead, &step.to_json(), true)?;
    }
    Ok(())
}

pub fn sweep(args: &SweepArgs) -> Result<ExitCode, Failure> {
    super::warn_if_stdout_closed(args.quiet);
    let now = parse_now(args.now.as_deref())?;
    let loaded = load_policy(&args.policy, args.quiet)?;
    let roster = load_roster(args.roster.as_deref(), &loaded.policy, now)?;
    super::state::existing(&args.state, "to sweep: `route` leads into it first")?;
    let (mut state, location) = open_state(&args.state)?;
    let router = Router::new(
        &loaded.policy,
        &loaded.compiled,
        roster.as_ref(),
        RouteConfig {
            now,
            explain: false,
            limits: Limits::default(),
        },
        &loaded.source.text,
    );
    if !args.allow_unknown_names {
        refuse_unknown_targets(&router, state.as_mut(), now, &args.policy)?;
    }
    let mut output = std::io::BufWriter::new(std::io::stdout().lock());
    let (mut fired, mut leads) = (0usize, 0usize);
    let mut printed = 0usize;
    let mut batch = String::new();
    let mut swept = std::collections::HashSet::new();
    let mut done = false;
    let mut conflicts = 0;
    while !done {
        state
            .begin()
            .map_err(|error| Failure::usage(error.to_string()))?;
        let mut steps = Vec::new();
        let mut conflict = false;
        for _ in 0..BATCH {
            let next = match router.sweep_next(state.as_mut(), now) {
                Ok(next) => next,
                // Another router changed the same lead: this batch is swept again.
                Err(error) if error.kind == StateErrorKind::Conflict && conflicts < 20 => {
                    conflict = true;
                    break;
                }
                Err(error) => return Err(stopped(&error.to_string(), printed, "steps")),
            };
            match next {
                None => {
                    done = true;
                    break;
                }
                Some(None) => {}
                Some(Some(step)) => steps.push(step),
            }
        }
        if conflict {
            conflicts += 1;
            done = false;
            let _ = state.rollback();
            continue;
        }
        if let Err(error) = post_to_outbox(state.as_mut(), &steps) {
            let _ = state.rollback();
            return Err(stopped(&error.to_string(), printed, "steps"));
        }
        for step in steps {
            fired += 1;
            if swept.insert(step.decision.lead.clone()) {
                leads += 1;
            }
            batch.push_str(&step.to_json());
            batch.push('\n');
        }
        commit_then_print(
            state.as_mut(),
            &mut output,
            &mut batch,
            location.printed("decisions"),
        )?;
        printed = fired;
    }
    if !args.quiet {
        stderr_line!(
            "swept at {now}: {fired} escalation step{} fired for {leads} lead{}",
            if fired == 1 { "" } else { "s" },
            if leads == 1 { "" } else { "s" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Stops `sweep` before it changes anything when a due step names a target `policy` does not
/// have: carried out, it would find nobody and unassign the lead, which no later run with the
/// right policy can give back.
fn refuse_unknown_targets(
    router: &Router<'_>,
    state: &mut dyn StateStore,
    now: jiff::Timestamp,
    policy: &Path,
) -> Result<(), Failure> {
    let unknown = router
        .unknown_targets_due(state, now, usize::MAX)
        .map_err(|error| Failure::usage(error.to_string()))?;
    if unknown.is_empty() {
        return Ok(());
    }
    let mut by_target: Vec<(&str, Vec<&str>)> = Vec::new();
    for (lead, target) in &unknown {
        match by_target.iter_mut().find(|(known, _)| known == target) {
            Some((_, leads)) => leads.push(lead),
            None => by_target.push((target, vec![lead])),
        }
    }
    let named: Vec<String> = by_target
        .iter()
        .map(|(target, leads)| {
            let shown: Vec<String> = leads
                .iter()
                .take(3)
                .map(|lead| format!("`{lead}`"))
                .collect();
            let more = if leads.len() > 3 {
                format!(" and {} more", leads.len() - 3)
            } else {
                String::new()
            };
            format!("`{target}` (lead {}{more})", shown.join(", "))
        })
        .collect();
    let count = unknown.len();
    Err(Failure::usage(format!(
        "{count} due escalation step{} name{} what `{}` does not have: {}. Is it the policy that \
         routed these leads? Nothing was carried out.\nhelp: sweep with the policy the leads \
         were routed with; if {} taken out of the policy on purpose, `--allow-unknown-names` \
         carries these steps out as finding nobody (a lead whose last step it is becomes \
         unassigned)",
        if count == 1 { "" } else { "s" },
        if count == 1 { "s" } else { "" },
        policy.display(),
        named.join("; "),
        if by_target.len() == 1 {
            format!("`{}` was", by_target[0].0)
        } else {
            "they were".to_string()
        },
    )))
}

fn stopped(error: &str, printed: usize, what: &str) -> Failure {
    Failure::usage(format!(
        "{error}\nstopped: the {printed} {what} printed before are recorded; the batch under way \
         was not, and a re-run takes it up"
    ))
}
