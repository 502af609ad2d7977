//! `switchboard simulate`: a stream of leads (a week, say) replayed in time order against the
//! team in a fresh in-memory state, with the holders' responses drawn from a model (or read from
//! a `track` events file) and escalations firing as `sweep` would; the figures for people, as
//! JSON, and as an HTML report with plots. Two policies (`OLD NEW`, files or `REV:PATH`) run on
//! the same leads and responses and are compared figure by figure.

use super::policy::{Loaded, load_policy, load_roster, open_state};
use super::{Failure, describe_io};
use clap::ValueEnum;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use switchboard::route::life::{Event, read_event};
use switchboard::route::reader::{LeadError, Limits, Line, parse_lead, read_line};
use switchboard::route::roster::Roster;
use switchboard::route::state::dump::StateRow;
use switchboard::route::state::{MemoryState, StateStore};
use switchboard::route::{Fired, RouteConfig, Router, Tracked, wire};
use switchboard::simulate::figures::{self, Simulated};
use switchboard::simulate::responses::{ResponseModel, read_model};
use switchboard::simulate::{Arrival, Logged, Touches};

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// The policy to simulate (a file or a folder holding one); with two, OLD and NEW are both
    /// simulated and compared (files, or REV:PATH as `diff` takes them)
    #[arg(value_name = "POLICY", num_args = 1..=2, required = true)]
    policies: Vec<String>,
    /// Roster JSON: who is available, out of office, their open leads, account owners
    #[arg(long, value_name = "FILE")]
    roster: Option<PathBuf>,
    /// Leads (NDJSON, or CSV: `.csv`), replayed in the order of their clock field (`created_at`)
    #[arg(long, value_name = "FILE")]
    leads: PathBuf,
    #[command(flatten)]
    input: super::input::InputArgs,
    /// Response model JSON: how fast reps first touch a lead (default: median 12m, p90 2h,
    /// 5% never, in working time)
    #[arg(long, value_name = "FILE", conflicts_with = "touches")]
    responses: Option<PathBuf>,
    /// Real events instead of a model: a `track` events file (touched, accepted, rejected,
    /// closed), recorded at their times
    #[arg(long, value_name = "FILE")]
    touches: Option<PathBuf>,
    /// Start from a copy of this state (a SQLite file or postgres:// URL; read, never written):
    /// its rotations, loads, ledger and pending escalations
    #[arg(long, value_name = "PATH|URL")]
    state: Option<String>,
    /// Seed of the response draws: the same seed gives the same run
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
    /// Write an HTML report with plots (one self-contained file) here
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
    /// Output format of the figures on stdout
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Write the touches the model drew, as a `track` events file, here (replay them with
    /// --touches, or feed them to `track`)
    #[arg(long, value_name = "FILE")]
    events_out: Option<PathBuf>,
    /// Write every line `route`, `sweep` and `track` would have printed, in order, here
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Longest accepted lead line, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20, value_parser = super::at_least_one)]
    max_line_bytes: usize,
    /// Deepest accepted JSON nesting in a lead line
    #[arg(long, value_name = "LEVELS", default_value_t = 64, value_parser = super::at_least_one)]
    max_depth: usize,
    /// No notes on stderr (errors are still printed)
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Tables for a terminal
    Human,
    /// One JSON object
    Json,
}

pub fn run(args: &SimulateArgs) -> Result<ExitCode, Failure> {
    let limits = Limits {
        max_line_bytes: args.max_line_bytes,
        max_depth: args.max_depth,
    };
    let loaded: Vec<(String, Loaded)> = match args.policies.as_slice() {
        [one] => vec![(one.clone(), load_policy(Path::new(one), args.quiet)?)],
        [old, new] => {
            let old_source = super::diff::read_policy(old)?;
            let new_source = super::diff::read_policy(new)?;
            let old_loaded = super::diff::load(
                &old_source,
                switchboard::graph::DEFAULT_NODE_BUDGET,
                "simulating",
            );
            let new_loaded = super::diff::load(
                &new_source,
                switchboard::graph::DEFAULT_NODE_BUDGET,
                "simulating",
            );
            let (old_loaded, new_loaded) = match (old_loaded, new_loaded) {
                (Ok(old), Ok(new)) => (old, new),
                (Err(old), Err(new)) => return Err(format!("{old}\nerror: {new}").into()),
                (Err(error), _) | (_, Err(error)) => return Err(error.into()),
            };
            vec![
                (
                    old.clone(),
                    Loaded {
                        source: old_source,
                        policy: old_loaded.0,
                        compiled: old_loaded.1,
                    },
                ),
                (
                    new.clone(),
                    Loaded {
                        source: new_source,
                        policy: new_loaded.0,
                        compiled: new_loaded.1,
                    },
                ),
            ]
        }
        _ => {
            return Err(Failure::usage(
                "simulate takes one policy, or two to compare".into(),
            ));
        }
    };
    refuse_a_stream(&args.leads)?;
    let recorded_events = args
        .touches
        .as_deref()
        .map(|path| read_events(path, &limits, args.quiet))
        .transpose()?;
    let mut touches_left_out = recorded_events.as_ref().map_or(0, |(_, count)| *count);
    let start_rows = args.state.as_deref().map(copy_of_state).transpose()?;
    let mut runs: Vec<Simulated> = Vec::new();
    let count = loaded.len();
    let leads_file = LeadsFile {
        path: &args.leads,
        input: args.input,
        policies: loaded.iter().map(|(_, loaded)| &loaded.policy).collect(),
        longest_row: args.max_line_bytes,
    };
    // Each policy reads the leads with its own schema; the log (of the last run) gets an
    // error record for every line that is not a lead.
    let mut indexed = Vec::new();
    for (index, (name, loaded)) in loaded.iter().enumerate() {
        let reading = Reading {
            limits: &limits,
            quiet: index > 0,
            keep_every_error: index + 1 == count && args.log.is_some(),
        };
        let (mut order, invalid) = index_leads(&loaded.policy, &leads_file, reading, name, false)?;
        if matches!(order, Order::Unsorted) {
            // Out of time order: a second reading notes where each lead is, to sort them (its
            // notes on stderr were given by the first).
            let again = Reading {
                quiet: true,
                keep_every_error: false,
                ..reading
            };
            (order, _) = index_leads(&loaded.policy, &leads_file, again, name, true)?;
        }
        if !invalid.is_empty() {
            // With two policies, each reads the leads with its own schema.
            let reader = (count > 1).then_some(name.as_str());
            report_invalid(
                &invalid,
                &args.leads,
                reader,
                args.log.as_deref(),
                args.quiet,
            );
        }
        indexed.push((order, invalid));
    }
    // Two policies are compared on the same leads: a line either schema refuses is left out of
    // both runs.
    let refused_by_either: std::collections::BTreeSet<usize> = if count > 1 {
        indexed
            .iter()
            .flat_map(|(_, invalid)| invalid.lines.iter().copied())
            .collect()
    } else {
        std::collections::BTreeSet::new()
    };
    for (index, ((name, loaded), (mut order, invalid))) in loaded.iter().zip(indexed).enumerate() {
        let own: std::collections::BTreeSet<usize> = invalid.lines.iter().copied().collect();
        let left_out: Vec<usize> = refused_by_either.difference(&own).copied().collect();
        if !left_out.is_empty() {
            if matches!(order, Order::AsRead { .. }) {
                let again = Reading {
                    limits: &limits,
                    quiet: true,
                    keep_every_error: false,
                };
                (order, _) = index_leads(&loaded.policy, &leads_file, again, name, true)?;
            }
            if let Order::Index(placed) = &mut order {
                placed.retain(|lead| left_out.binary_search(&lead.input_line).is_err());
            }
            if !args.quiet {
                let other = args
                    .policies
                    .iter()
                    .enumerate()
                    .find_map(|(at, other)| (at != index).then_some(other.as_str()))
                    .unwrap_or_default();
                let (s, are) = if left_out.len() == 1 {
                    ("", "is")
                } else {
                    ("s", "are")
                };
                stderr_line!(
                    "note: {} line{s} that `{other}` refuses {are} left out of `{name}`'s run \
                     too, so that both policies run on the same leads (the first: line {})",
                    left_out.len(),
                    left_out[0],
                );
            }
        }
        let Some(first) = order.first() else {
            let not_leads = own.len() + left_out.len();
            return Err(Failure::usage(format!(
                "`{}` holds no lead to simulate ({not_leads} line{} that {} not leads{})",
                args.leads.display(),
                if not_leads == 1 { "" } else { "s" },
                if not_leads == 1 { "is" } else { "are" },
                if count > 1 {
                    " of one policy or the other"
                } else {
                    ""
                },
            )));
        };
        let roster = load_roster(args.roster.as_deref(), &loaded.policy, first)?;
        let model = match args.responses.as_deref() {
            None => ResponseModel::default(),
            Some(path) => {
                super::followed_link_stays_inside(path).map_err(Failure::usage)?;
                let text = switchboard::disk::read_text(path, switchboard::files::MAX_ROSTER_BYTES)
                    .map_err(|error| {
                        Failure::usage(format!(
                            "cannot read responses `{}`: {error}",
                            path.display()
                        ))
                    })?;
                let roster_reps: Vec<&str> = roster
                    .as_ref()
                    .map(|roster| roster.reps.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                read_model(&text, &loaded.policy, &roster_reps).map_err(|error| {
                    Failure::usage(format!("responses `{}`: {error}", path.display()))
                })?
            }
        };
        let touches = match &recorded_events {
            Some((events, _)) => Touches::Recorded(events.clone()),
            None => Touches::Model {
                model: &model,
                seed: args.seed,
            },
        };
        // The log and drawn events of the simulated policy (the new one of two).
        let last = index + 1 == count;
        let mut sink = Sink::open(
            last.then_some(args.log.as_deref()).flatten(),
            last.then_some(args.events_out.as_deref()).flatten(),
        )?;
        // The log begins with the error record `route` prints for each line that is not a lead,
        // in input order.
        if invalid.keep_every {
            for (input_line, error) in &invalid.first {
                let outcome = switchboard::route::Outcome::Invalid(error.clone());
                sink.write(Logged::Routed {
                    outcome: &outcome,
                    input_line: *input_line,
                });
            }
        }
        let failed = std::rc::Rc::new(std::cell::RefCell::new(None));
        let mut input = leads_file.open(true)?;
        let position = std::io::Seek::stream_position(&mut input)
            .map_err(|error| read_failure(&args.leads, &error))?;
        let arrivals = Replay {
            input,
            position,
            order: match order {
                Order::AsRead { lines, .. } => Replaying::AsRead {
                    line: 0,
                    lines,
                    not_leads: invalid.lines.clone().into_iter().peekable(),
                    last: None,
                },
                Order::Index(placed) => Replaying::Index(placed.into_iter()),
                Order::Unsorted => Replaying::Index(Vec::new().into_iter()),
            },
            policy: &loaded.policy,
            limits,
            failed: failed.clone(),
        };
        let simulated = simulate(
            loaded,
            roster.as_ref(),
            (first, arrivals),
            touches,
            (invalid.len(), left_out.len(), start_rows.as_deref()),
            &mut sink,
        )?;
        if let Some(path) = &args.touches
            && !args.quiet
        {
            let policy = if count > 1 {
                format!(" with `{name}`")
            } else {
                String::new()
            };
            sink.refused.say(
                &format!("`{}`", path.display()),
                (
                    &format!("an event that `track` refuses{policy}"),
                    &format!("events that `track` refuses{policy}"),
                ),
            );
        }
        if !args.quiet {
            let policy = if count > 1 {
                format!(" by `{name}`")
            } else {
                String::new()
            };
            sink.unrouted.say(
                &format!("`{}`", args.leads.display()),
                (
                    &format!("a lead refused as it was routed{policy}"),
                    &format!("leads refused as they were routed{policy}"),
                ),
            );
        }
        touches_left_out += sink.refused.count;
        sink.finish()?;
        if let Some(why) = failed.borrow_mut().take() {
            return Err(Failure::usage(format!(
                "leads `{}`: {why}; simulate it again",
                args.leads.display()
            )));
        }
        runs.push(simulated);
    }
    let text = match (runs.as_slice(), args.format) {
        ([one], Format::Human) => figures::human(one),
        ([one], Format::Json) => format!("{}\n", figures::to_json(one)),
        ([old, new], Format::Human) => figures::compare_human(
            old,
            new,
            (&short_name(&loaded[0].0), &short_name(&loaded[1].0)),
        ),
        ([old, new], Format::Json) => format!("{}\n", figures::compare_json(old, new)),
        _ => String::new(),
    };
    if let Some(path) = &args.report {
        let names: Vec<String> = loaded.iter().map(|(name, _)| name.clone()).collect();
        let html = switchboard::plots::html_report(&runs, &names);
        std::fs::write(path, html).map_err(|error| {
            Failure::usage(format!(
                "cannot write the report `{}`: {}",
                path.display(),
                describe_io(&error)
            ))
        })?;
        if !args.quiet {
            stderr_line!("report written to `{}`", path.display());
        }
    }
    super::print_stdout(&text)?;
    // As `route`: figures for the leads there were, and exit 1 when some lines were not leads
    // (or, in a touches file, not events that `track` takes).
    Ok(
        if runs.iter().any(|run| run.tally.invalid > 0) || touches_left_out > 0 {
            ExitCode::from(super::EXIT_PROBLEMS)
        } else {
            ExitCode::SUCCESS
        },
    )
}

/// `origin/main:routing.route` and `examples/routing.route` as column heads.
fn short_name(name: &str) -> String {
    let file = name.rsplit('/').next().unwrap_or(name);
    match name.split_once(':') {
        Some((rev, _)) if !Path::new(name).exists() => format!("{rev}:{file}"),
        _ => file.to_string(),
    }
}

/// A leads file as the two passes read it: lines, and a place to come back to.
trait Source: std::io::BufRead + std::io::Seek {}
impl<T: std::io::BufRead + std::io::Seek> Source for T {}

/// How the leads file is read: its path, format and the schemas CSV cells are read by.
struct LeadsFile<'a> {
    path: &'a Path,
    input: super::input::InputArgs,
    policies: Vec<&'a switchboard::model::Policy>,
    /// The most bytes a CSV row may take (`--max-line-bytes`).
    longest_row: usize,
}

/// Refuses leads that can be read only once (stdin as `-`, `/dev/stdin`, a pipe): the leads
/// are read again for every policy and for the report.
fn refuse_a_stream(path: &std::path::Path) -> Result<(), Failure> {
    let stream = path == std::path::Path::new("-")
        || std::fs::metadata(path).is_ok_and(|metadata| !metadata.is_file());
    if stream {
        return Err(Failure::usage(format!(
            "--leads `{}` is a stream: simulate reads the leads more than once (for each \
             policy, and for the report), so give a file (save a stream with `> leads.ndjson`)",
            path.display()
        )));
    }
    Ok(())
}

impl LeadsFile<'_> {
    /// Opens the leads as NDJSON (the BOM skipped): the file itself, or its CSV rows as lines
    /// (converted into a temporary file, so they can be read again without sitting in memory).
    /// A CSV file read as NDJSON is refused.
    fn open(&self, quiet: bool) -> Result<Box<dyn Source>, Failure> {
        let path = self.path;
        let file = super::input::open_leads(path)?;
        let mut input = std::io::BufReader::with_capacity(1 << 16, file);
        super::route::skip_byte_order_mark(&mut input)
            .map_err(|error| read_failure(path, &error))?;
        let from = format!("`{}`", path.display());
        if !self.input.is_csv(Some(path)) {
            if self.input.guesses() {
                super::route::refuse_csv(&mut input, &from)?;
            }
            return Ok(Box::new(input));
        }
        let mut lines = switchboard::disk::TemporaryFile::create("leads").map_err(|error| {
            Failure::usage(format!(
                "cannot create a temporary file for the rows of `{}`: {error} (set TMPDIR to \
                 a writable directory)",
                path.display()
            ))
        })?;
        let mut rows = self.input.leads(
            Box::new(input),
            true,
            &self.policies,
            &from,
            quiet,
            self.longest_row,
        )?;
        let mut converted = || {
            let mut out = std::io::BufWriter::with_capacity(1 << 16, &mut lines);
            std::io::copy(&mut rows, &mut out)?;
            out.flush()?;
            drop(out);
            std::io::Seek::rewind(&mut lines)
        };
        converted().map_err(|error| {
            // What the rows say (a quote never closed) is the file's problem; anything else
            // the temporary file's.
            if error.kind() == std::io::ErrorKind::InvalidData {
                Failure::usage(format!("cannot read leads `{}`: {error}", path.display()))
            } else {
                Failure::usage(format!(
                    "cannot convert the rows of `{}` into a temporary file (in TMPDIR): {}",
                    path.display(),
                    describe_io(&error)
                ))
            }
        })?;
        Ok(Box::new(std::io::BufReader::with_capacity(1 << 16, lines)))
    }
}

fn read_failure(path: &Path, error: &std::io::Error) -> Failure {
    Failure::usage(format!("cannot read leads `{}`: {error}", path.display()))
}

/// A line that is not a lead: its 1-based number and why.
type NotALead = (usize, LeadError);

/// The lines that are not leads: every one's number, and the first few with why (what
/// stderr shows).
#[derive(Debug, Default)]
struct NotLeads {
    lines: Vec<usize>,
    /// The first few with why; every one when `keep_every` (for the log).
    first: Vec<NotALead>,
    keep_every: bool,
}

impl NotLeads {
    const SHOWN: usize = 5;

    fn push(&mut self, line: usize, error: LeadError) {
        self.lines.push(line);
        if self.keep_every || self.first.len() < NotLeads::SHOWN {
            self.first.push((line, error));
        }
    }

    fn len(&self) -> usize {
        self.lines.len()
    }

    fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// Where a lead is in the file, and its time: the run reads it again when its turn comes, so
/// the leads are never all in memory at once.
#[derive(Debug, Clone, Copy)]
struct Placed {
    at: jiff::Timestamp,
    input_line: usize,
    offset: u64,
    length: usize,
}

/// How the run finds the leads of a policy's schema in time order (ties in input order).
enum Order {
    /// The file holds them in that order: the run reads it again from the start.
    AsRead {
        first: Option<jiff::Timestamp>,
        /// The lines the file had.
        lines: usize,
    },
    /// They are out of order, and were not indexed.
    Unsorted,
    /// Where each lead is, in that order.
    Index(Vec<Placed>),
}

impl Order {
    /// The first lead's time.
    fn first(&self) -> Option<jiff::Timestamp> {
        match self {
            Order::AsRead { first, .. } => *first,
            Order::Unsorted => None,
            Order::Index(placed) => placed.first().map(|lead| lead.at),
        }
    }
}

/// How a pass over the leads file reads it.
#[derive(Clone, Copy)]
struct Reading<'a> {
    limits: &'a Limits,
    /// Says nothing on stderr (a second reading, or the second policy's CSV conversion).
    quiet: bool,
    /// Keeps why of every line that is not a lead (for the log), not only the first few.
    keep_every_error: bool,
}

/// Reads the leads file through once: how to replay its leads in time order (only with
/// `keep_index` does a file out of order get an index, of 40 bytes a lead), and the lines that
/// are not leads (their 1-based line and why).
fn index_leads(
    policy: &switchboard::model::Policy,
    file: &LeadsFile<'_>,
    reading: Reading<'_>,
    name: &str,
    keep_index: bool,
) -> Result<(Order, NotLeads), Failure> {
    let Reading { limits, quiet, .. } = reading;
    let path = file.path;
    use std::io::Seek;
    let Some(clock) = policy.clock else {
        return Err(Failure::usage(format!(
            "`{name}` has no clock field (`created_at`, or a schema's only `time` field): \
             simulate places each lead at its own time"
        )));
    };
    let clock_name = policy
        .fields
        .get(clock)
        .map_or("created_at", |field| field.name.as_str());
    let mut input = file.open(quiet)?;
    let mut placed = Vec::new();
    let mut invalid = NotLeads {
        keep_every: reading.keep_every_error,
        ..NotLeads::default()
    };
    let (mut first, mut last, mut sorted) = (None, None, true);
    let mut input_line = 0;
    loop {
        let offset = input
            .stream_position()
            .map_err(|error| read_failure(path, &error))?;
        let Some(line) =
            read_line(&mut input, limits.max_line_bytes).map_err(|e| read_failure(path, &e))?
        else {
            break;
        };
        input_line += 1;
        let (parsed, length) = match &line {
            Line::TooLong(length) => (
                Err(LeadError {
                    code: "lead.too_long",
                    message: format!(
                        "line is {length} bytes, more than the limit of {} (see --max-line-bytes)",
                        limits.max_line_bytes
                    ),
                    lead: None,
                }),
                0,
            ),
            Line::Text(bytes) => (parse_lead(policy, bytes, limits), bytes.len()),
        };
        match parsed {
            Err(error) => invalid.push(input_line, error),
            Ok(lead) => match clock_of(&lead, clock, clock_name) {
                Ok(at) => {
                    first.get_or_insert(at);
                    sorted &= last.is_none_or(|last| last <= at);
                    last = Some(at);
                    if keep_index {
                        placed.push(Placed {
                            at,
                            input_line,
                            offset,
                            length,
                        });
                    }
                }
                Err(message) => invalid.push(
                    input_line,
                    LeadError {
                        code: "lead.no_time",
                        message,
                        lead: Some(lead.id.to_string()),
                    },
                ),
            },
        }
    }
    if keep_index {
        placed.sort_by_key(|lead| (lead.at, lead.input_line));
        return Ok((Order::Index(placed), invalid));
    }
    Ok((
        if sorted {
            Order::AsRead {
                first,
                lines: input_line,
            }
        } else {
            Order::Unsorted
        },
        invalid,
    ))
}

/// A lead's own time, from its clock field.
/// The lead's time, or why simulate cannot place it: the field absent, or a time past the
/// last instant computed with (the last hours of 9999, which a lead may carry).
fn clock_of(
    lead: &switchboard::route::reader::ParsedLead,
    clock: switchboard::model::FieldId,
    clock_name: &str,
) -> Result<jiff::Timestamp, String> {
    match lead.lead.values.get(clock).and_then(Option::as_ref) {
        Some(switchboard::model::LeadValue::Scalar(switchboard::model::Scalar::Int(nanos))) => {
            jiff::Timestamp::from_nanosecond(*nanos).map_err(|_| {
                format!(
                    "`{clock_name}` is after {}, the last instant simulate places a lead at",
                    jiff::Timestamp::MAX
                )
            })
        }
        _ => Err(format!(
            "`{clock_name}` is absent: simulate places each lead at its own time"
        )),
    }
}

/// The leads in time order, each read from the file when its turn comes. A file that changed
/// since it was indexed stops the replay, and says so in `failed`.
struct Replay<'p> {
    input: Box<dyn Source>,
    /// Where the last read left the file.
    position: u64,
    order: Replaying,
    policy: &'p switchboard::model::Policy,
    limits: Limits,
    failed: std::rc::Rc<std::cell::RefCell<Option<String>>>,
}

/// Which lead comes next.
enum Replaying {
    /// The next line that is a lead: the file is in time order.
    AsRead {
        /// The lines read so far.
        line: usize,
        /// The lines the file had when it was read first (lines added since are not read).
        lines: usize,
        /// The lines that are not leads, still ahead.
        not_leads: std::iter::Peekable<std::vec::IntoIter<usize>>,
        /// The last lead's time.
        last: Option<jiff::Timestamp>,
    },
    /// The next of the leads indexed, sorted by time.
    Index(std::vec::IntoIter<Placed>),
}

impl Replay<'_> {
    /// The next lead of a file in time order, by reading on.
    fn next_as_read(&mut self) -> Result<Option<Arrival>, String> {
        let Replaying::AsRead {
            line,
            lines,
            not_leads,
            last,
        } = &mut self.order
        else {
            return Ok(None);
        };
        while line < lines {
            let read = read_line(&mut self.input, self.limits.max_line_bytes);
            let Some(text) = read.map_err(|error| format!("after line {line}: {error}"))? else {
                return Err(format!(
                    "the file ends at line {line} now, and had {lines} lines when it was read first"
                ));
            };
            *line += 1;
            if not_leads.next_if_eq(line).is_some() {
                continue;
            }
            let changed = |why: &str| format!("line {line} changed while it was simulated ({why})");
            let Line::Text(bytes) = text else {
                return Err(changed("it is too long now"));
            };
            let parsed = parse_lead(self.policy, &bytes, &self.limits)
                .map_err(|error| changed(&error.message))?;
            let at = self
                .policy
                .clock
                .and_then(|clock| clock_of(&parsed, clock, "").ok())
                .ok_or_else(|| changed("it has no time now"))?;
            if last.is_some_and(|last| at < last) {
                return Err(changed("it is out of time order now"));
            }
            *last = Some(at);
            return Ok(Some(Arrival {
                input_line: *line,
                at,
                lead: parsed,
            }));
        }
        Ok(None)
    }

    /// The next lead of the index, read where it lies.
    fn next_indexed(&mut self) -> Result<Option<Arrival>, String> {
        use std::io::{Read, Seek, SeekFrom};
        let Replaying::Index(placed) = &mut self.order else {
            return Ok(None);
        };
        let Some(lead) = placed.next() else {
            return Ok(None);
        };
        let mut bytes = vec![0; lead.length];
        // A lead that follows the last one (past its line end): a short relative seek inside
        // the buffer.
        let read = self
            .input
            .seek_relative(i64::try_from(lead.offset).unwrap_or(i64::MAX) - self.position as i64)
            .or_else(|_| self.input.seek(SeekFrom::Start(lead.offset)).map(|_| ()))
            .and_then(|()| self.input.read_exact(&mut bytes));
        self.position = lead.offset + lead.length as u64;
        let parsed = read.map_err(|error| error.to_string()).and_then(|()| {
            parse_lead(self.policy, &bytes, &self.limits).map_err(|error| error.message)
        });
        match parsed {
            Ok(parsed) => Ok(Some(Arrival {
                input_line: lead.input_line,
                at: lead.at,
                lead: parsed,
            })),
            Err(why) => Err(format!(
                "line {} changed while it was simulated ({why})",
                lead.input_line
            )),
        }
    }
}

impl Iterator for Replay<'_> {
    type Item = Arrival;

    fn next(&mut self) -> Option<Arrival> {
        let next = match self.order {
            Replaying::AsRead { .. } => self.next_as_read(),
            Replaying::Index(_) => self.next_indexed(),
        };
        next.unwrap_or_else(|why| {
            *self.failed.borrow_mut() = Some(why);
            None
        })
    }
}

/// Lines that are not leads are left out of the run, and said on stderr (the first five).
fn report_invalid(
    invalid: &NotLeads,
    path: &Path,
    policy: Option<&str>,
    log: Option<&Path>,
    quiet: bool,
) {
    if quiet {
        return;
    }
    stderr_line!(
        "note: {} line{} of `{}` {}{} and {} left out:",
        invalid.len(),
        if invalid.len() == 1 { "" } else { "s" },
        path.display(),
        if invalid.len() == 1 {
            "is not a lead"
        } else {
            "are not leads"
        },
        policy
            .map(|policy| format!(" of `{policy}`"))
            .unwrap_or_default(),
        if invalid.len() == 1 { "is" } else { "are" },
    );
    for (line, error) in invalid.first.iter().take(NotLeads::SHOWN) {
        stderr_line!("  line {line}: {}: {}", error.code, error.message);
    }
    let more = invalid.len().saturating_sub(NotLeads::SHOWN);
    if more > 0 {
        match log {
            Some(log) if invalid.keep_every => stderr_line!(
                "  … and {more} more (every one as an error record in `{}`)",
                log.display()
            ),
            None => stderr_line!("  … and {more} more (`--log FILE` writes every one)"),
            Some(_) => stderr_line!("  … and {more} more"),
        }
    }
}

/// Every event of a `track` events file, with its line; the lines that are no event are left
/// out and said on stderr (the first five), as lines that are no lead are.
fn read_events(
    path: &Path,
    limits: &Limits,
    quiet: bool,
) -> Result<(Vec<(usize, Event)>, usize), Failure> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        Failure::usage(format!(
            "cannot read touches `{}`: {}",
            path.display(),
            describe_io(&error)
        ))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut events = Vec::new();
    let mut not_events = Refusals::default();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match read_event(line.as_bytes(), limits.max_depth) {
            Ok(event) => events.push((index + 1, event)),
            Err(error) => not_events.note(index + 1, error.code, &error.message),
        }
    }
    if !quiet {
        not_events.say(
            &format!("`{}`", path.display()),
            ("not an event", "not events"),
        );
    }
    Ok((events, not_events.count))
}

/// Lines of a touches file left out of a run: how many, and the first five with why.
#[derive(Default)]
struct Refusals {
    count: usize,
    first: Vec<(usize, String)>,
}

impl Refusals {
    fn note(&mut self, line: usize, code: &str, message: &str) {
        self.count += 1;
        if self.first.len() < 5 {
            self.first.push((line, format!("{code}: {message}")));
        }
    }

    /// `note: 2 lines of FILE are not events and are left out:` (`WHAT` as one line says it,
    /// `WHATS` as more do), then the first five.
    fn say(&self, file: &str, (what, whats): (&str, &str)) {
        if self.count == 0 {
            return;
        }
        let (s, are, what) = if self.count == 1 {
            ("", "is", what)
        } else {
            ("s", "are", whats)
        };
        stderr_line!(
            "note: {} line{s} of {file} {are} {what} and {are} left out:",
            self.count
        );
        for (line, why) in &self.first {
            stderr_line!("  line {line}: {why}");
        }
        if self.count > self.first.len() {
            stderr_line!("  … and {} more", self.count - self.first.len());
        }
    }
}

/// Where the log and the drawn events go.
struct Sink {
    log: Option<(PathBuf, std::io::BufWriter<std::fs::File>)>,
    events: Option<(PathBuf, std::io::BufWriter<std::fs::File>)>,
    failed: Option<Failure>,
    /// Events of a touches file that `track` refused in the run.
    refused: Refusals,
    /// Leads the router refused as they were routed (an id reused with other content).
    unrouted: Refusals,
}

impl Sink {
    fn open(log: Option<&Path>, events: Option<&Path>) -> Result<Sink, Failure> {
        let create = |path: &Path| {
            std::fs::File::create(path)
                .map(|file| (path.to_path_buf(), std::io::BufWriter::new(file)))
                .map_err(|error| {
                    Failure::usage(format!(
                        "cannot write `{}`: {}",
                        path.display(),
                        describe_io(&error)
                    ))
                })
        };
        Ok(Sink {
            log: log.map(create).transpose()?,
            events: events.map(create).transpose()?,
            failed: None,
            refused: Refusals::default(),
            unrouted: Refusals::default(),
        })
    }

    fn write(&mut self, logged: Logged<'_>) {
        if let Logged::Tracked {
            input_line,
            tracked: Tracked::Invalid(error),
            ..
        } = &logged
            && *input_line > 0
        {
            self.refused.note(*input_line, error.code, &error.message);
        }
        if let Logged::Routed {
            outcome: switchboard::route::Outcome::Invalid(error),
            input_line,
        } = &logged
        {
            self.unrouted.note(*input_line, error.code, &error.message);
        }
        if self.failed.is_some() {
            return;
        }
        let mut result = Ok(());
        if let Some((path, out)) = &mut self.log {
            let line = match &logged {
                Logged::Routed {
                    outcome,
                    input_line,
                } => {
                    let mut text = String::new();
                    // As `route` prints it: no trace (the simulation keeps one for its figures).
                    match outcome {
                        switchboard::route::Outcome::Decided {
                            decision,
                            duplicate,
                            ..
                        } => wire::write_decision(&mut text, decision, *duplicate, None),
                        switchboard::route::Outcome::Invalid(error) => {
                            wire::write_error(&mut text, error, *input_line);
                        }
                    }
                    text
                }
                Logged::Swept(fired) => Fired::to_json(fired),
                Logged::Tracked {
                    tracked,
                    fired,
                    input_line,
                    ..
                } => tracked.to_json_after(fired, *input_line),
            };
            result = writeln!(out, "{line}").map_err(|error| (path.clone(), error));
        }
        if let (Ok(()), Some((path, out)), Logged::Tracked { event, .. }) =
            (&result, &mut self.events, &logged)
        {
            let line = serde_json::json!({
                "lead": event.lead,
                "event": event.kind.as_str(),
                "at": event.at.to_string(),
                "by": event.by,
            });
            result = writeln!(out, "{line}").map_err(|error| (path.clone(), error));
        }
        if let Err((path, error)) = result {
            self.failed = Some(Failure::usage(format!(
                "cannot write `{}`: {}",
                path.display(),
                describe_io(&error)
            )));
        }
    }

    fn finish(mut self) -> Result<(), Failure> {
        if let Some(failed) = self.failed.take() {
            return Err(failed);
        }
        for (path, out) in [self.log.as_mut(), self.events.as_mut()]
            .into_iter()
            .flatten()
        {
            out.flush().map_err(|error| {
                Failure::usage(format!(
                    "cannot write `{}`: {}",
                    path.display(),
                    describe_io(&error)
                ))
            })?;
        }
        Ok(())
    }
}

/// Every row of the state `--state` names, to start each run from a copy of it.
fn copy_of_state(value: &str) -> Result<Vec<StateRow>, Failure> {
    if value == ":memory:" {
        return Err(Failure::usage(
            "--state :memory: is what simulate starts from anyway; --state names a SQLite file \
             or postgres:// URL to start from a copy of"
                .to_string(),
        ));
    }
    super::state::existing(value, "to start the simulation from")?;
    let (mut state, location) = open_state(value)?;
    let mut rows = Vec::new();
    state
        .export(&mut |row| {
            rows.push(row);
            Ok(())
        })
        .map_err(|error| {
            Failure::usage(format!("cannot read state {}: {error}", location.shown()))
        })?;
    Ok(rows)
}

/// One policy's run, in a fresh in-memory state (or a copy of the rows of a given one).
fn simulate(
    loaded: &Loaded,
    roster: Option<&Roster>,
    (first, arrivals): (jiff::Timestamp, impl Iterator<Item = Arrival>),
    touches: Touches<'_>,
    (invalid, left_out, start): (usize, usize, Option<&[StateRow]>),
    sink: &mut Sink,
) -> Result<Simulated, Failure> {
    let mut router = Router::new(
        &loaded.policy,
        &loaded.compiled,
        roster,
        RouteConfig {
            now: first,
            explain: false,
            limits: Limits::default(),
        },
        &loaded.source.text,
    );
    // The decisions of settled leads and where they are, and the values `previous rep of`
    // looks up, go to temporary files: memory holds the leads in flight.
    let spill = || {
        switchboard::disk::SpillFile::create().map_err(|error| {
            Failure::usage(format!(
                "cannot create a temporary file for the simulation: {error} (set TMPDIR to a \
                 writable directory)"
            ))
        })
    };
    let since = roster.and_then(|roster| roster.loads_since(first));
    let mut state =
        MemoryState::spilling(Box::new(spill()?), Box::new(spill()?), Box::new(spill()?)).counting(
            switchboard::simulate::counting(&loaded.policy, since, first),
        );
    if let Some(rows) = start {
        state
            .import(&mut rows.iter().cloned().map(Ok))
            .map_err(|error| {
                Failure::usage(format!("cannot copy the state into memory: {error}"))
            })?;
    }
    let mut tally = switchboard::simulate::run(
        &mut router,
        &loaded.policy,
        &mut state,
        arrivals,
        touches,
        &mut |logged| sink.write(logged),
    )
    .map_err(|error| {
        Failure::usage(format!(
            "while simulating `{}`: {error}",
            loaded.source.path
        ))
    })?;
    tally.invalid += invalid as u64;
    tally.left_out = left_out as u64;
    // From a copy of a state, the figures are those of the simulated leads, not its earlier ones.
    let since = start.and(Some(first));
    let simulated = figures::build(&mut state, &loaded.policy, tally, since)
        .map_err(|error| Failure::usage(error.to_string()))?;
    // The state is not needed any more, and the process ends soon: freeing a million small
    // allocations one by one would cost as much as a tenth of the run. Its files are closed
    // (and so removed where they could not be unlinked at once).
    state.release_spills();
    std::mem::forget(state);
    Ok(simulated)
}
