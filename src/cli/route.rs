//! `switchboard route`: NDJSON leads in (stdin or `--leads`), one decision or error record out
//! per line, in order, each printed only once its batch is in the state. On stderr: a progress
//! bar on a terminal, and a one-line summary at the end (`--quiet` silences both).

use super::policy::{
    StateLocation, commit_then_print, load_policy, load_roster, open_state, parse_now,
};
use super::{EXIT_PROBLEMS, Failure, describe_io};
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use switchboard::route::reader::{Limits, Line, read_line};
use switchboard::route::state::{StateError, StateErrorKind, StateStore};
use switchboard::route::{Outcome, RouteConfig, Router, wire};

#[derive(clap::Args)]
pub struct RouteArgs {
    /// The policy file (or a folder holding exactly one policy); it must check without errors
    #[arg(value_name = "POLICY")]
    policy: PathBuf,
    /// Roster JSON: reps' status, out-of-office, open leads, and account owners
    #[arg(long, value_name = "FILE")]
    roster: Option<PathBuf>,
    /// State database (rotation, load, ledger); `:memory:` keeps none
    #[arg(
        long,
        value_name = "PATH|URL",
        env = "SWITCHBOARD_STATE",
        default_value = ".switchboard/state.db"
    )]
    state: String,
    /// Read leads from this file instead of stdin (`-` is stdin): NDJSON, or CSV (`.csv`)
    #[arg(long, value_name = "FILE")]
    leads: Option<PathBuf>,
    #[command(flatten)]
    input: super::input::InputArgs,
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
    /// No progress bar, no summary, no notes on stderr (errors are still printed)
    #[arg(long, short)]
    quiet: bool,
}

/// How many lines share one state transaction.
const BATCH: usize = 512;

/// What a run did, for the summary line.
#[derive(Default)]
struct Counts {
    lines: usize,
    errors: usize,
    duplicates: usize,
    /// Decisions by action, in the order `pool`, `queue`, `rep`, `owner`, `unassigned`.
    actions: [usize; 5],
}

impl Counts {
    fn count(&mut self, outcome: &Outcome) {
        self.lines += 1;
        match outcome {
            Outcome::Invalid(_) => self.errors += 1,
            Outcome::Decided {
                duplicate: true, ..
            } => self.duplicates += 1,
            Outcome::Decided { decision, .. } => {
                let index = ["pool", "queue", "rep", "owner", "unassigned"]
                    .iter()
                    .position(|kind| *kind == decision.action.kind())
                    .unwrap_or(4);
                self.actions[index] += 1;
            }
        }
    }

    fn summary(&self, from: &str, state: &str) -> String {
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let [pool, queue, rep, owner, unassigned] = self.actions;
        format!(
            "routed {} from {from}: {pool} to pools, {queue} to queues, {} to named reps, \
             {unassigned} unassigned; {}, {}; state {state}",
            plural(self.lines, "line"),
            rep + owner,
            plural(self.duplicates, "duplicate"),
            plural(self.errors, "error"),
        )
    }
}

pub fn run(args: &RouteArgs) -> Result<ExitCode, Failure> {
    let now = parse_now(args.now.as_deref())?;
    let loaded = load_policy(&args.policy, args.quiet)?;
    let roster = load_roster(args.roster.as_deref(), &loaded.policy, now)?;
    let (mut state, location) = open_state(&args.state)?;
    let config = RouteConfig {
        now,
        explain: args.explain,
        limits: Limits {
            max_line_bytes: args.max_line_bytes,
            max_depth: args.max_depth,
        },
    };
    let router = Router::new(
        &loaded.policy,
        &loaded.compiled,
        roster.as_ref(),
        config,
        &loaded.source.text,
    );
    let (source, from, size): (Box<dyn std::io::Read>, String, Option<u64>) =
        match args.leads.as_deref() {
            Some(path) if path != Path::new("-") => {
                let file = std::fs::File::open(path).map_err(|error| {
                    Failure::usage(format!(
                        "cannot read leads `{}`: {}",
                        path.display(),
                        describe_io(&error)
                    ))
                })?;
                let size = file.metadata().ok().map(|m| m.len());
                (Box::new(file), format!("`{}`", path.display()), size)
            }
            _ => {
                if std::io::stdin().is_terminal() && !args.quiet {
                    if args.input.is_csv(None) {
                        eprintln!(
                            "reading leads from stdin: CSV, a header row and then one lead per \
                             row (Ctrl-D ends; --leads FILE reads a file)"
                        );
                    } else {
                        eprintln!(
                            "reading leads from stdin: NDJSON, one JSON object per line (Ctrl-D \
                             ends; --leads FILE reads a file)"
                        );
                    }
                }
                (Box::new(std::io::stdin().lock()), "stdin".to_string(), None)
            }
        };
    let mut input = std::io::BufReader::with_capacity(1 << 16, source);
    skip_byte_order_mark(&mut input).map_err(|error| read_failure(&error))?;
    let csv = args
        .input
        .is_csv(args.leads.as_deref().filter(|path| *path != Path::new("-")));
    if !csv {
        refuse_csv(&mut input, &from)?;
    }
    let mut input = std::io::BufReader::with_capacity(
        1 << 16,
        args.input
            .leads(Box::new(input), csv, &[&loaded.policy], &from, false)?,
    );
    // CSV rows are counted as lines: a bar over the file's bytes would not end at its end.
    let progress = (!args.quiet && std::io::stderr().is_terminal())
        .then(|| progress_bar(size.filter(|_| !csv)));
    let mut output = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut counts = Counts::default();
    let mut bytes_read = 0u64;
    // The decided lines of the open batch, written out only after it is committed.
    let mut batch = String::with_capacity(BATCH * 192);
    // Lines whose outcome is printed (and recorded): where a failure of the state leaves off.
    let mut printed = 0;
    let mut lines: Vec<Line> = Vec::with_capacity(BATCH);
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(BATCH);
    loop {
        // Wait for input before taking the state's write lock, so that a slow producer neither
        // delays other routers nor holds its own decisions back.
        let line = read_line(&mut input, args.max_line_bytes).map_err(|e| read_failure(&e))?;
        let Some(line) = line else {
            break;
        };
        lines.clear();
        lines.push(line);
        // End the batch when it is full, or when the next line is not here yet (reading it
        // might block): leads that have arrived are decided and printed promptly.
        while lines.len() < BATCH && !input.buffer().is_empty() {
            match read_line(&mut input, args.max_line_bytes).map_err(|e| read_failure(&e))? {
                Some(next) => lines.push(next),
                None => break,
            }
        }
        decide_batch(&router, state.as_mut(), &lines, &mut outcomes)
            .map_err(|(error, at)| stopped(&error, counts.lines + at + 1, printed))?;
        for (line, outcome) in lines.iter().zip(&outcomes) {
            bytes_read += line_length(line);
            counts.count(outcome);
            wire::write_outcome(&mut batch, outcome, counts.lines);
            batch.push('\n');
        }
        // Decisions are written only once they are durable (`decide_batch` committed them): a
        // killed run leaves no line on stdout that the state does not also hold.
        commit_then_print(state.as_mut(), &mut output, &mut batch, "decisions")?;
        printed = counts.lines;
        if let Some(bar) = &progress {
            match size {
                Some(_) => bar.set_position(bytes_read),
                None => bar.set_position(counts.lines as u64),
            }
        }
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if !args.quiet {
        let shown_state = match &location {
            StateLocation::Memory => ":memory: (nothing kept)".to_string(),
            other => other.shown(),
        };
        eprintln!("{}", counts.summary(&from, &shown_state));
    }
    Ok(if counts.errors > 0 {
        ExitCode::from(EXIT_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    })
}

fn read_failure(error: &std::io::Error) -> Failure {
    Failure::usage(format!("cannot read leads: {error}"))
}

/// The bytes a line took in the input, with its terminator.
fn line_length(line: &Line) -> u64 {
    match line {
        Line::Text(bytes) => bytes.len() as u64 + 1,
        Line::TooLong(length) => *length as u64 + 1,
    }
}

/// A UTF-8 byte-order mark at the very start (some exporters write one) is not part of a lead.
pub(super) fn skip_byte_order_mark(input: &mut impl BufRead) -> std::io::Result<()> {
    if input.fill_buf()?.starts_with(b"\xEF\xBB\xBF") {
        input.consume(3);
    }
    Ok(())
}

/// A file whose first line has commas and no `{` is CSV, not NDJSON: say so once, instead of
/// an error record per line.
pub(super) fn refuse_csv(input: &mut impl BufRead, from: &str) -> Result<(), Failure> {
    let buffer = input.fill_buf().map_err(|error| read_failure(&error))?;
    let first = buffer.split(|b| *b == b'\n').next().unwrap_or_default();
    if first.contains(&b',') && !first.contains(&b'{') {
        return Err(Failure::usage(format!(
            "{from} looks like CSV (its first line has commas and no `{{`): read it as CSV with \
             `--input-format csv` (a `.csv` file is), or give NDJSON, one JSON object per line, \
             such as {{\"id\": \"L-1\", \"intent\": \"high\"}}"
        )));
    }
    Ok(())
}

/// A bar over the input's bytes when its size is known, else a counter of lines.
fn progress_bar(size: Option<u64>) -> indicatif::ProgressBar {
    let bar = match size {
        Some(size) => indicatif::ProgressBar::new(size).with_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        ),
        None => indicatif::ProgressBar::new_spinner().with_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos} lines routed {per_sec}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        ),
    };
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
    bar
}

/// How many times a batch is decided again after a conflict with another router.
const CONFLICT_RETRIES: u32 = 20;

/// Decides a batch's lines in one transaction and commits it. When
/// the state reports a conflict with another router (a shared PostgreSQL state), the batch is
/// rolled back and decided again, a bounded number of times. `Err` carries the failure and the
/// index of the line it happened at.
fn decide_batch(
    router: &Router<'_>,
    state: &mut dyn StateStore,
    lines: &[Line],
    outcomes: &mut Vec<Outcome>,
) -> Result<(), (StateError, usize)> {
    let mut attempt = 0;
    loop {
        state.begin().map_err(|error| (error, 0))?;
        let failed = router.route_batch(state, lines, outcomes).err();
        let (error, index) = match failed {
            // Committed here, inside the retry: a conflict found at commit (a serialization
            // failure) is decided again like any other.
            None => match state.commit() {
                Ok(()) => return Ok(()),
                Err(error) => (error, lines.len().saturating_sub(1)),
            },
            Some(failed) => failed,
        };
        attempt += 1;
        if error.kind != StateErrorKind::Conflict || attempt > CONFLICT_RETRIES {
            return Err((error, index));
        }
        let _ = state.rollback();
        // Let the other router finish its batch.
        std::thread::sleep(std::time::Duration::from_millis(
            u64::from(attempt.min(10)) * 5,
        ));
    }
}

/// The state failed while routing: what failed, and where the run left off (every printed line
/// is recorded; the batch under way is not, and nothing after it was read).
fn stopped(error: &StateError, line: usize, printed: usize) -> Failure {
    Failure::usage(format!(
        "{error}\nrouting stopped at input line {line}: the {printed} lines printed before it are \
         recorded; that line and the ones after it were not routed"
    ))
}
