//! `switchboard route`: NDJSON leads in (stdin or `--leads`), one decision or error record out
//! per line, in order, each printed only once its batch is in the state. On stderr: a progress
//! bar on a terminal, and a one-line summary at the end (`--quiet` silences both).

use super::policy::{StateLocation, load_policy, load_roster, open_state_for_one_run, parse_now};
use super::printer::{Printed, Printer};
use super::{EXIT_PROBLEMS, Failure};
use std::io::{BufRead, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use switchboard::graph::Compiled;
use switchboard::model::{EvalContext, Policy};
use switchboard::route::ahead::TimesAhead;
use switchboard::route::reader::{
    LeadError, Limits, ParsedLead, UnknownKeys, parse_lead, parse_lead_in_place_remembering,
    too_long_error, with_next_line,
};
use switchboard::route::state::{StateError, StateErrorKind, StateStore};
use switchboard::route::{Outcome, RouteConfig, Router};
use switchboard::store::sqlite::goes_down_in_ledger;

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
        // The value may hold a password: `--help` never shows it.
        hide_env_values = true,
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
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20, value_parser = super::at_least_one)]
    max_line_bytes: usize,
    /// Deepest accepted JSON nesting in a line
    #[arg(long, value_name = "LEVELS", default_value_t = 64, value_parser = super::at_least_one)]
    max_depth: usize,
    /// No progress bar, no summary, no notes on stderr (errors are still printed)
    #[arg(long, short)]
    quiet: bool,
    /// 2: read and parse lines on a second thread while this one decides and records, and
    /// write the committed lines out on a third, or with a SQLite state commit each batch on
    /// another thread while the next is decided, and wait for the disk and write its lines on
    /// another (the output is the same, in the same order);
    /// 1: one thread does all. The default is 2 where
    /// there are two cores or more, else 1
    #[arg(long, value_name = "N", default_value_t = default_threads(),
          value_parser = clap::value_parser!(u8).range(1..=2))]
    threads: u8,
}

/// Two threads where the machine has two cores or more.
fn default_threads() -> u8 {
    if std::thread::available_parallelism().is_ok_and(|cores| cores.get() >= 2) {
        2
    } else {
        1
    }
}

/// How many lines share one state transaction, at most: a batch also ends when the next line
/// has not arrived yet. A SQLite commit waits for the disk (`synchronous=FULL`) and writes
/// every page the batch changed, so larger batches write each page once instead of several
/// times; on PostgreSQL a batch's commit waits for the disk while the batch holds the lock all
/// routers take turns on, so fewer commits let several routers overlap more (2,048 lines: four
/// routers 1.37x faster than with 512, `docs/benchmarks.md`), while a batch that meets a
/// conflict (rare: one lead id at two routers at once) is decided again whole.
fn batch_lines(location: &StateLocation) -> usize {
    match location {
        StateLocation::Memory => 1024,
        StateLocation::Sqlite(_) => 4096,
        StateLocation::Postgres(_) => 2048,
    }
}

/// The most lines a batch may grow to when its leads' ids come in no order
/// ([`next_batch_lines`]): four times [`batch_lines`] with a SQLite state, whose ledger is kept
/// in the ids' order, so that ids in random order (UUIDs) change nearly every page of it in every
/// commit, and fewer, larger commits write each page fewer times (1,000,000 leads with random
/// ids, in a build with the length from the environment: 20.8 s with batches of 4,096, 10.4 s
/// with 16,384, peak RSS 159 MB and 388 MB); `base` elsewhere.
fn most_batch_lines(location: &StateLocation, base: usize) -> usize {
    match location {
        StateLocation::Sqlite(_) => base * 4,
        StateLocation::Memory | StateLocation::Postgres(_) => base,
    }
}

/// The length of the batch after one of `lines` lines whose leads' ids went down, in the
/// ledger's order (length, then bytes), `descents` times from one lead to the next: twice
/// `current`, up to `most`, when more than a quarter did (ids in no order); else back to
/// `base`. A batch cut short (a pipe's lines not here yet) changes nothing.
fn next_batch_lines(
    (base, most, current): (usize, usize, usize),
    lines: usize,
    descents: usize,
) -> usize {
    if lines < current {
        current
    } else if descents * 4 > lines {
        (current * 2).min(most)
    } else {
        base
    }
}

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
    /// What a batch's outcomes count.
    fn of(outcomes: &[Outcome]) -> Counts {
        let mut counts = Counts::default();
        for outcome in outcomes {
            counts.count(outcome);
        }
        counts
    }

    fn add(&mut self, other: &Counts) {
        self.lines += other.lines;
        self.errors += other.errors;
        self.duplicates += other.duplicates;
        for (total, more) in self.actions.iter_mut().zip(other.actions) {
            *total += more;
        }
    }

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
    super::warn_if_stdout_closed(args.quiet);
    let now = parse_now(args.now.as_deref())?;
    let loaded = load_policy(&args.policy, args.quiet)?;
    let roster = load_roster(args.roster.as_deref(), &loaded.policy, now)?;
    let (mut state, location) = open_state_for_one_run(&args.state, &loaded.policy)?;
    let limits = Limits {
        max_line_bytes: args.max_line_bytes,
        max_depth: args.max_depth,
    };
    let config = RouteConfig {
        now,
        explain: args.explain,
        limits,
    };
    // The reading thread holds the policy as long as it runs (it may outlive a failed run
    // that stops waiting for it): shared, not borrowed.
    let policy = Arc::new(loaded.policy);
    let compiled = Arc::new(loaded.compiled);
    let router = Router::new(
        &policy,
        &compiled,
        roster.as_ref(),
        config,
        &loaded.source.text,
    );
    let (source, from, size) = match args.leads.as_deref() {
        Some(path) if path != Path::new("-") => {
            let file = super::input::open_leads(path)?;
            let size = file.metadata().ok().map(|m| m.len());
            (Source::File(file), format!("`{}`", path.display()), size)
        }
        _ => {
            if std::io::stdin().is_terminal() && !args.quiet {
                if args.input.is_csv(None) {
                    stderr_line!(
                        "reading leads from stdin: CSV, a header row and then one lead per \
                         row (Ctrl-D ends; --leads FILE reads a file)"
                    );
                } else {
                    stderr_line!(
                        "reading leads from stdin: NDJSON, one JSON object per line (Ctrl-D \
                         ends; --leads FILE reads a file)"
                    );
                }
            }
            (Source::Stdin, "stdin".to_string(), None)
        }
    };
    let csv = args
        .input
        .is_csv(args.leads.as_deref().filter(|path| *path != Path::new("-")));
    let batch_lines = batch_lines(&location);
    // Batches go back to the reader once printed: their leads' memory holds the next ones.
    let (give_back, spent) = std::sync::mpsc::channel();
    let opening = Opening {
        batch_lines,
        most_batch_lines: most_batch_lines(&location, batch_lines),
        spent,
        source,
        csv,
        from: from.clone(),
        input: args.input,
        policy: Arc::clone(&policy),
        compiled: Arc::clone(&compiled),
        context: EvalContext { now },
        limits,
        hash_ids: state.finds_leads_by_keyed_hash(),
        queued: None,
    };
    let mut batches: Box<dyn Iterator<Item = Result<ReadBatch, Failure>>> = if args.threads > 1 {
        Box::new(read_on_a_thread(opening))
    } else {
        Box::new(BatchReader::open(opening)?.batches())
    };
    // CSV rows are counted as lines: a bar over the file's bytes would not end at its end.
    let progress = (!args.quiet && std::io::stderr().is_terminal())
        .then(|| progress_bar(size.filter(|_| !csv)));
    let mut counts = Counts::default();
    if args.threads > 1 && state.commits_elsewhere() {
        let committing = super::committing::Committing::start().map_err(|error| {
            Failure::usage(format!(
                "cannot start the thread that commits batches: {error}"
            ))
        })?;
        let mut routing = TwoThreads {
            router: &router,
            committing,
            in_flight: std::collections::VecDeque::new(),
            redo: Vec::new(),
            refusal: None,
            handed: false,
            failed: false,
            wait: 0,
            backoff: 1,
            spare_lines: Vec::new(),
            outcomes: Vec::with_capacity(batch_lines),
            next_line: 1,
            counts: Counts::default(),
            printed: 0,
            bytes_read: 0,
            give_back,
            progress: progress.as_ref(),
            size,
        };
        routing.route_all(state.as_mut(), &mut batches)?;
        counts = routing.counts;
    } else {
        route_on_one_thread(
            state.as_mut(),
            &router,
            &mut batches,
            &give_back,
            progress.as_ref(),
            (size, batch_lines),
            (args.threads > 1, location.printed("decisions")),
            &mut counts,
        )?;
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if !args.quiet {
        let shown_state = match &location {
            StateLocation::Memory => ":memory: (nothing kept)".to_string(),
            other => other.shown(),
        };
        stderr_line!("{}", counts.summary(&from, &shown_state));
    }
    Ok(if counts.errors > 0 {
        ExitCode::from(EXIT_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    })
}

/// The leads read so far, batch by batch, as the reader hands them over.
type Batches<'a> = dyn Iterator<Item = Result<ReadBatch, Failure>> + 'a;

/// Decides, commits and prints each batch in turn, on this thread (the reader may have its
/// own); with `print_on_a_thread`, a thread of its own writes the committed lines out.
#[allow(clippy::too_many_arguments)]
fn route_on_one_thread(
    state: &mut dyn StateStore,
    router: &Router<'_>,
    batches: &mut Batches<'_>,
    give_back: &std::sync::mpsc::Sender<Vec<Result<ParsedLead, LeadError>>>,
    progress: Option<&indicatif::ProgressBar>,
    (size, batch_lines): (Option<u64>, usize),
    (print_on_a_thread, output): (bool, Printed<'_>),
    counts: &mut Counts,
) -> Result<(), Failure> {
    std::thread::scope(|scope| {
        let mut printer = if print_on_a_thread {
            Printer::on_a_thread(scope)
        } else {
            Printer::here()
        };
        let mut bytes_read = 0u64;
        // The decided lines of the open batch, written out only after it is committed.
        let mut decided = String::with_capacity(batch_lines * 192);
        // Lines whose outcome is printed (and recorded): where a failure of the state leaves
        // off.
        let mut printed = 0;
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(batch_lines);
        for batch in batches {
            let batch = batch?;
            if counts.lines == 0 {
                expect_leads(state, &batch, size);
            }
            let batch_decided = BatchDecided {
                outcomes: &mut outcomes,
                lines: &mut decided,
                first_line: counts.lines + 1,
            };
            // A failure anywhere in the batch leaves the whole batch unrecorded (it is one
            // transaction): the run left off at the batch's first line, whichever lead failed.
            decide_batch(router, state, &batch.leads, batch_decided)
                .map_err(|(error, _)| stopped(&error, printed + 1, printed))?;
            bytes_read += batch.bytes;
            counts.add(&Counts::of(&outcomes));
            // Decisions are written only once they are durable (`decide_batch` committed
            // them): a killed run leaves no line on stdout that the state does not also hold.
            state
                .commit()
                .map_err(|error| Failure::usage(error.to_string()))?;
            printer.print(&mut decided, output)?;
            printed = counts.lines;
            // A reader that has stopped wants nothing back.
            let _ = give_back.send(batch.leads);
            show_progress(progress, size, bytes_read, counts.lines);
        }
        printer.finish(output)
    })
}

/// The first batch tells the state how many leads to expect: the file's lines are about as
/// long as its first batch's, so the state makes room for them all at once instead of
/// growing by steps.
fn expect_leads(state: &mut dyn StateStore, first: &ReadBatch, size: Option<u64>) {
    if let (Some(size), Ok(lines)) = (size, u64::try_from(first.leads.len()))
        && lines > 0
    {
        let expected = size / (first.bytes / lines).max(1);
        state.expect_leads(usize::try_from(expected).unwrap_or(usize::MAX));
    }
}

fn show_progress(
    progress: Option<&indicatif::ProgressBar>,
    size: Option<u64>,
    bytes_read: u64,
    lines: usize,
) {
    if let Some(bar) = progress {
        match size {
            Some(_) => bar.set_position(bytes_read),
            None => bar.set_position(lines as u64),
        }
    }
}

/// Where the leads come from: opened before reading starts, so that a missing file is said
/// at once; read where the lines are parsed.
enum Source {
    File(std::fs::File),
    Stdin,
}

/// What the reader needs to open the leads, on whichever thread reads them.
struct Opening {
    /// The most lines in one batch, to begin with.
    batch_lines: usize,
    /// The most lines a batch may grow to ([`next_batch_lines`]).
    most_batch_lines: usize,
    /// The batches given back once decided and printed.
    spent: std::sync::mpsc::Receiver<Vec<Result<ParsedLead, LeadError>>>,
    source: Source,
    csv: bool,
    /// The input as messages name it.
    from: String,
    input: super::input::InputArgs,
    policy: Arc<Policy>,
    /// The policy's compiled graph and the router's `now`: the reader finds each lead's rule.
    compiled: Arc<Compiled>,
    context: EvalContext,
    limits: Limits,
    /// Whether the state finds leads by their id's keyed hash: then the reader computes it.
    hash_ids: bool,
    /// With a deciding thread apart from the reading one, the count of batches read and not
    /// yet taken by it: the reader finds a lead's rule, times and hashes ahead only while
    /// this is above zero. `None` when one thread reads and decides.
    queued: Option<Arc<AtomicUsize>>,
}

/// The lines of one batch, read and parsed: a lead, or why the line is none.
struct ReadBatch {
    leads: Vec<Result<ParsedLead, LeadError>>,
    /// The input bytes the lines took, terminators included (for the progress bar).
    bytes: u64,
}

/// Reads lines and parses them against the policy's schema, a batch at a time: on a thread
/// of its own (`--threads 2`), or on the one that decides.
struct BatchReader {
    input: std::io::BufReader<Box<dyn Read>>,
    /// Whether reading may wait for a producer (a pipe, a terminal): then a batch ends at the
    /// first line that has not arrived yet. A regular file never makes it wait.
    may_block: bool,
    /// A failure to read met after some lines of a batch: those lines are routed first, and
    /// the failure ends the next batch.
    failed: Option<Failure>,
    policy: Arc<Policy>,
    compiled: Arc<Compiled>,
    context: EvalContext,
    /// Each lead's due and escalation times, computed with its rule.
    times_ahead: TimesAhead,
    limits: Limits,
    /// Whether each lead's id is hashed for the state ([`Opening::hash_ids`]).
    hash_ids: bool,
    /// With a deciding thread of its own, the batches sent to it and not yet taken
    /// ([`Opening::queued`]).
    queued: Option<Arc<AtomicUsize>>,
    /// The batch length to begin with, the most it may grow to, and the next batch's
    /// ([`next_batch_lines`]).
    base_batch_lines: usize,
    most_batch_lines: usize,
    batch_lines: usize,
    /// The line being read, reused from line to line.
    line: Vec<u8>,
    /// The keys of the lines that name no field of the policy, passed over when met again.
    unknown_keys: UnknownKeys,
    /// The batches given back: their leads' memory holds new ones.
    spent: std::sync::mpsc::Receiver<Vec<Result<ParsedLead, LeadError>>>,
}

impl BatchReader {
    fn open(opening: Opening) -> Result<BatchReader, Failure> {
        // A named pipe or a device given as `--leads` (`/dev/stdin`, `<(producer)`) may wait
        // like stdin: only a regular file never does.
        let may_block = match &opening.source {
            Source::File(file) => !is_a_regular_file(file),
            Source::Stdin => !stdin_is_a_file(),
        };
        let source: Box<dyn Read> = match opening.source {
            Source::File(file) => Box::new(file),
            Source::Stdin => Box::new(std::io::stdin().lock()),
        };
        let mut input = std::io::BufReader::with_capacity(1 << 16, source);
        skip_byte_order_mark(&mut input).map_err(|error| read_failure(&error))?;
        if !opening.csv && opening.input.guesses() {
            refuse_csv(&mut input, &opening.from)?;
        }
        let leads = opening.input.leads(
            Box::new(input),
            opening.csv,
            &[&opening.policy],
            &opening.from,
            false,
            opening.limits.max_line_bytes,
        )?;
        Ok(BatchReader {
            input: std::io::BufReader::with_capacity(1 << 16, leads),
            may_block,
            failed: None,
            base_batch_lines: opening.batch_lines,
            most_batch_lines: opening.most_batch_lines,
            batch_lines: opening.batch_lines,
            times_ahead: TimesAhead::new(&opening.policy),
            unknown_keys: UnknownKeys::new(Arc::clone(&opening.policy)),
            policy: opening.policy,
            compiled: opening.compiled,
            context: opening.context,
            limits: opening.limits,
            hash_ids: opening.hash_ids,
            queued: opening.queued,
            line: Vec::with_capacity(1024),
            spent: opening.spent,
        })
    }

    /// The next batch: up to `batch_lines` lines, fewer when the next line is not here yet
    /// (reading it might block), so that leads that have arrived are decided and printed
    /// promptly. `None` at the end of the input.
    fn next_batch(&mut self) -> Result<Option<ReadBatch>, Failure> {
        if let Some(failure) = self.failed.take() {
            return Err(failure);
        }
        // A batch given back holds the leads of an earlier one, each parsed over in its place
        // (a lead's memory holds the next one's, and no lead is moved).
        let leads = self
            .spent
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(self.batch_lines));
        let mut batch = ReadBatch { leads, bytes: 0 };
        let mut lines = 0;
        // Wait for input before the batch starts, so that a slow producer neither delays
        // other routers (the state's write lock) nor holds its own decisions back.
        while lines < self.batch_lines
            && (lines == 0 || !self.may_block || !self.input.buffer().is_empty())
        {
            let max = self.limits.max_line_bytes;
            // Parsed where it lies in the input's buffer when the whole line is there, into
            // the batch's next place.
            let leads = &mut batch.leads;
            let read = with_next_line(&mut self.input, max, &mut self.line, |line| {
                let length = match line {
                    Ok(text) => {
                        match leads.get_mut(lines) {
                            Some(slot) => {
                                parse_lead_in_place_remembering(
                                    &self.policy,
                                    text,
                                    &self.limits,
                                    slot,
                                    &mut self.unknown_keys,
                                );
                            }
                            None => leads.push(parse_lead(&self.policy, text, &self.limits)),
                        }
                        text.len()
                    }
                    Err(length) => {
                        let too_long = Err(too_long_error(length, &self.limits));
                        match leads.get_mut(lines) {
                            Some(slot) => *slot = too_long,
                            None => leads.push(too_long),
                        }
                        length
                    }
                };
                // The fingerprint, the rule and its times too, and the id's hash for a state
                // that finds leads by it: with two threads, off the deciding one, while it
                // has batches queued. When it has none, it is waiting for this one (reading
                // is the slower half): then the lead goes without, and the deciding thread
                // finds these itself, alike, so that the two threads share the work.
                let deciding_is_behind = self
                    .queued
                    .as_ref()
                    .is_none_or(|queued| queued.load(Ordering::Relaxed) > 0);
                if let Some(Ok(parsed)) = leads.get_mut(lines).filter(|_| deciding_is_behind) {
                    parsed.find_ahead(
                        &self.policy,
                        &self.compiled,
                        &self.times_ahead,
                        &self.context,
                    );
                    if self.hash_ids {
                        parsed.find_id_hash();
                    }
                }
                length
            });
            let length = match read {
                Ok(Some(length)) => length,
                Ok(None) => break,
                // The lines read before the failure are routed and printed, then it is said
                // (CSV rows handed out before a broken row, lines before an I/O error).
                Err(error) if lines > 0 => {
                    self.failed = Some(read_failure(&error));
                    break;
                }
                Err(error) => return Err(read_failure(&error)),
            };
            lines += 1;
            batch.bytes += length as u64 + 1;
        }
        // The places of an earlier, longer batch beyond this one's lines.
        batch.leads.truncate(lines);
        if self.most_batch_lines > self.base_batch_lines {
            let ids = batch.leads.iter().flatten().map(|lead| &*lead.id);
            let descents = ids
                .clone()
                .zip(ids.skip(1))
                .filter(|(previous, next)| goes_down_in_ledger(previous, next))
                .count();
            self.batch_lines = next_batch_lines(
                (
                    self.base_batch_lines,
                    self.most_batch_lines,
                    self.batch_lines,
                ),
                lines,
                descents,
            );
        }
        Ok((lines > 0).then_some(batch))
    }

    /// The batches to the end of the input; a failure to read ends them.
    fn batches(mut self) -> impl Iterator<Item = Result<ReadBatch, Failure>> {
        let mut failed = false;
        std::iter::from_fn(move || {
            if failed {
                return None;
            }
            let next = self.next_batch().transpose();
            failed = matches!(next, Some(Err(_)));
            next
        })
    }
}

/// Whether an open file is a regular file (not a pipe, a terminal or a device).
fn is_a_regular_file(file: &std::fs::File) -> bool {
    file.metadata().is_ok_and(|metadata| metadata.is_file())
}

/// Whether stdin is a regular file (`< leads.ndjson`), which reading never waits on.
fn stdin_is_a_file() -> bool {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .is_ok_and(|fd| is_a_regular_file(&std::fs::File::from(fd)))
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// Reads and parses on a thread of its own, a few batches ahead of the deciding thread, which
/// takes them in order. The reader stops when its batches are no longer wanted; if deciding
/// fails while it waits for more input, it is left waiting and ends with the process. If it
/// ends without sending the end of the input (it panicked), that is a failure, never an end.
fn read_on_a_thread(mut opening: Opening) -> impl Iterator<Item = Result<ReadBatch, Failure>> {
    let (sender, receiver) = std::sync::mpsc::sync_channel(4);
    let queued = Arc::new(AtomicUsize::new(0));
    opening.queued = Some(Arc::clone(&queued));
    let sent = Arc::clone(&queued);
    let reading = std::thread::Builder::new()
        .name("read leads".to_string())
        .spawn(move || {
            // Counted before it is sent, so that the count taken never goes below zero.
            let send = |batch| {
                sent.fetch_add(1, Ordering::Relaxed);
                sender.send(batch)
            };
            match BatchReader::open(opening) {
                Err(failure) => {
                    let _ = send(Err(failure));
                }
                Ok(reader) => {
                    for batch in reader.batches() {
                        if send(batch).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    let (failed_to_start, mut reading) = match reading {
        Ok(handle) => (None, Some(handle)),
        Err(error) => (
            Some(Failure::usage(format!(
                "cannot start the thread that reads leads: {error}"
            ))),
            None,
        ),
    };
    // After the last batch: the thread ended by reaching the end (or a failure it sent), or
    // it died, and its batches stop short of the input's end.
    let ended = std::iter::from_fn(move || match reading.take()?.join() {
        Ok(()) => None,
        Err(_) => Some(Err(Failure::usage(
            "the thread that reads leads stopped unexpectedly: the lines after the last \
             printed one were not routed"
                .to_string(),
        ))),
    });
    let taken = receiver.into_iter().inspect(move |_| {
        queued.fetch_sub(1, Ordering::Relaxed);
    });
    failed_to_start
        .map(Err)
        .into_iter()
        .chain(taken)
        .chain(ended)
}

fn read_failure(error: &std::io::Error) -> Failure {
    Failure::usage(format!("cannot read leads: {error}"))
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
    // A CSV header: commas, and nothing of JSON (a broken JSON line still has a `}` or a `":`,
    // and gets its error record like any other line).
    let json_like = first.contains(&b'{')
        || first.contains(&b'}')
        || first.windows(2).any(|pair| pair == b"\":");
    if first.contains(&b',') && !json_like {
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

/// Where a batch's decisions go: its outcomes, and its output lines appended to `lines` (the
/// batch's first input line is `first_line`, 1-based).
struct BatchDecided<'a> {
    outcomes: &'a mut Vec<Outcome>,
    lines: &'a mut String,
    first_line: usize,
}

/// Decides a batch's lines in one transaction, writes its output lines and commits it. When
/// the state reports a conflict (with another router on a shared state, or a lead the SQLite
/// store took for new found recorded at commit), the batch is rolled back, its lines are
/// taken back, and it is decided again, a bounded number of times. `Err` carries the failure
/// and the index of the line it happened at.
///
/// The lines are written before the commit, while the outcomes are still in the processor's
/// cache (a SQLite commit goes through megabytes of pages), and printed by the caller only
/// after it.
fn decide_batch(
    router: &Router<'_>,
    state: &mut dyn StateStore,
    leads: &[Result<ParsedLead, LeadError>],
    decided: BatchDecided<'_>,
) -> Result<(), (StateError, usize)> {
    let BatchDecided {
        outcomes,
        lines,
        first_line,
    } = decided;
    let lines_before = lines.len();
    let mut attempt = 0;
    loop {
        state.begin().map_err(|error| (error, 0))?;
        let failed = router.route_parsed(state, leads, outcomes).err();
        if failed.is_none() {
            write_lines(router, lines, outcomes, first_line);
        }
        let (error, index) = match failed {
            // Committed here, inside the retry: a conflict found at commit (a serialization
            // failure) is decided again like any other.
            None => match state.commit() {
                Ok(()) => {
                    if let Some(concurrency) = state.reconnected() {
                        // Perhaps another server (a failover): how routers keep in step now.
                        stderr_line!("note: the state's database connected again: {concurrency}");
                    }
                    return Ok(());
                }
                Err(error) => (error, leads.len().saturating_sub(1)),
            },
            Some(failed) => failed,
        };
        lines.truncate(lines_before);
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

/// Appends a batch's output lines (its first input line is `first_line`, 1-based).
fn write_lines(router: &Router<'_>, lines: &mut String, outcomes: &[Outcome], first_line: usize) {
    for (index, outcome) in outcomes.iter().enumerate() {
        router.write_outcome(lines, outcome, first_line + index);
        lines.push('\n');
    }
}

/// The most batches decided and not yet printed, on two threads: with SQLite, some being made
/// durable and printed, some committed, one decided. Room for several at each stage lets a
/// stage that fell behind (a commit that met a checkpoint, a slow sync) catch up while the
/// deciding thread goes on: 8 measured 1-6% faster than 3 with SQLite on 1,000,000 leads, in
/// each of six alternating sets (16 no better; 2 was 2-8% slower than 3).
const BATCHES_IN_FLIGHT: usize = 8;

/// The most batches a run decides itself, committing them, before it hands the store's commits
/// over again after a batch needed the file (a new name, a count not kept in memory, a lead
/// read ahead) or was refused (another router wrote).
const MOST_BATCHES_BEFORE_HANDING: u32 = 64;

/// A batch decided and not yet printed.
struct InFlight {
    batch: ReadBatch,
    /// Its first input line (1-based).
    first_line: usize,
    /// What its lines count.
    counts: Counts,
    /// Whether it was handed to the writer.
    handed: bool,
}

/// `route` on this thread and two more besides the reader's, for a store that hands its commits
/// over ([`StateStore::hand_over_commits`]): this one decides a batch while the committing
/// thread commits the one before and the printing thread makes the one before that durable
/// and prints it. A batch that needs the store's file (which lacks the batches being
/// committed) takes the store's writer back first and is decided again; so is
/// every handed batch after one the writer refused (another router wrote to the store).
/// Lines are printed in input order, each once its batch is durable.
struct TwoThreads<'r, 'p> {
    router: &'r Router<'p>,
    committing: super::committing::Committing,
    in_flight: std::collections::VecDeque<InFlight>,
    /// Handed batches the writer did not commit, in order: decided again once it is back.
    redo: Vec<InFlight>,
    /// Why the first of them was refused.
    refusal: Option<StateError>,
    /// Whether the committing thread holds the store's writer.
    handed: bool,
    /// Whether the run is stopping (the state failed, or stdout): nothing is decided again.
    failed: bool,
    /// Batches to decide here before handing the writer over again, and the next such wait.
    wait: u32,
    backoff: u32,
    spare_lines: Vec<String>,
    outcomes: Vec<Outcome>,
    /// The first input line of the next batch.
    next_line: usize,
    /// What the printed lines count.
    counts: Counts,
    printed: usize,
    bytes_read: u64,
    give_back: std::sync::mpsc::Sender<Vec<Result<ParsedLead, LeadError>>>,
    progress: Option<&'r indicatif::ProgressBar>,
    size: Option<u64>,
}

impl TwoThreads<'_, '_> {
    fn route_all(
        &mut self,
        state: &mut dyn StateStore,
        batches: &mut Batches<'_>,
    ) -> Result<(), Failure> {
        let routed = self.route_batches(state, batches);
        // Whatever happened, what is in flight is committed and printed first (and a batch the
        // writer refused decided again), so that the lines before a failure to read are all
        // printed. After a failure of the state nothing is decided again: `stop` settled.
        let settled = self.settle_all(state);
        routed.and(settled)
    }

    fn route_batches(
        &mut self,
        state: &mut dyn StateStore,
        batches: &mut Batches<'_>,
    ) -> Result<(), Failure> {
        for batch in batches {
            let batch = batch?;
            if self.next_line == 1 {
                expect_leads(state, &batch, self.size);
            }
            while let Some(done) = self.committing.ready() {
                self.settle(done)?;
            }
            self.take_back_after_a_refusal(state)?;
            if !self.handed {
                if self.wait == 0 {
                    if let Some(writer) = state
                        .hand_over_commits()
                        .map_err(|error| self.stop(&error, self.next_line))?
                    {
                        self.committing
                            .hand(writer)
                            .map_err(|error| self.stop(&error, self.next_line))?;
                        self.handed = true;
                    }
                } else {
                    self.wait -= 1;
                }
            }
            let first_line = self.next_line;
            self.next_line += batch.leads.len();
            if self.handed {
                self.decide_handed(state, batch, first_line)?;
            } else {
                self.decide_here(state, batch, first_line)?;
            }
            while self.in_flight.len() > BATCHES_IN_FLIGHT {
                let done = self
                    .committing
                    .next()
                    .map_err(|error| self.stop(&error, first_line))?;
                self.settle(done)?;
            }
            self.take_back_after_a_refusal(state)?;
        }
        Ok(())
    }

    /// Once the writer refused a batch, every batch handed after it is dropped: the writer
    /// comes back before anything more is decided, and those batches are decided again here.
    fn take_back_after_a_refusal(&mut self, state: &mut dyn StateStore) -> Result<(), Failure> {
        if self.handed && !self.redo.is_empty() {
            self.take_back(state)?;
        }
        Ok(())
    }

    /// Decides a batch on what the store keeps in memory and hands it to the committing
    /// thread; a batch that needs the store's file is decided here once the writer is back.
    fn decide_handed(
        &mut self,
        state: &mut dyn StateStore,
        batch: ReadBatch,
        first_line: usize,
    ) -> Result<(), Failure> {
        let mut lines = self.spare_lines.pop().unwrap_or_default();
        let decided = state.begin().map_err(|error| (error, 0)).and_then(|()| {
            self.router
                .route_parsed(state, &batch.leads, &mut self.outcomes)
        });
        match decided {
            Ok(()) => {
                write_lines(self.router, &mut lines, &self.outcomes, first_line);
                let counts = Counts::of(&self.outcomes);
                state
                    .commit()
                    .and_then(|()| self.committing.commit(lines))
                    .map_err(|error| self.stop(&error, first_line))?;
                self.in_flight.push_back(InFlight {
                    batch,
                    first_line,
                    counts,
                    handed: true,
                });
                Ok(())
            }
            Err((error, at)) => {
                let _ = state.rollback();
                self.spare_lines.push(lines);
                // What only the store's own batches may read, or a retry the database asked
                // for: decided again there, once the writer is back.
                if !matches!(
                    error.kind,
                    StateErrorKind::NeedsLock | StateErrorKind::Conflict
                ) {
                    return Err(self.stop(&error, first_line + at));
                }
                self.take_back(state)?;
                self.decide_here(state, batch, first_line)
            }
        }
    }

    /// Decides and commits a batch on this thread, and asks for its lines to be printed.
    fn decide_here(
        &mut self,
        state: &mut dyn StateStore,
        batch: ReadBatch,
        first_line: usize,
    ) -> Result<(), Failure> {
        // A failure to print that has come back stops the run before this batch is committed:
        // nothing is recorded that will not be printed, past the batches in flight when it
        // failed.
        while let Some(done) = self.committing.ready() {
            self.settle(done)?;
        }
        let mut lines = self.spare_lines.pop().unwrap_or_default();
        let decided = BatchDecided {
            outcomes: &mut self.outcomes,
            lines: &mut lines,
            first_line,
        };
        if let Err((error, at)) = decide_batch(self.router, state, &batch.leads, decided) {
            return Err(self.stop(&error, first_line + at));
        }
        let counts = Counts::of(&self.outcomes);
        self.committing
            .print(lines)
            .map_err(|error| self.stop(&error, first_line))?;
        self.in_flight.push_back(InFlight {
            batch,
            first_line,
            counts,
            handed: false,
        });
        Ok(())
    }

    /// Takes in one answer of the printing thread.
    fn settle(&mut self, done: super::committing::Done) -> Result<(), Failure> {
        use super::committing::Done;
        match done {
            Done::Printed(lines) => {
                self.spare_lines.push(lines);
                if let Some(printed) = self.in_flight.pop_front() {
                    if printed.handed {
                        // Handing over works again: the next fallback waits one batch.
                        self.backoff = 1;
                    }
                    self.counts.add(&printed.counts);
                    self.printed = printed.first_line + printed.batch.leads.len() - 1;
                    self.bytes_read += printed.batch.bytes;
                    show_progress(self.progress, self.size, self.bytes_read, self.counts.lines);
                    // A reader that has stopped wants nothing back.
                    let _ = self.give_back.send(printed.batch.leads);
                }
            }
            Done::NotCommitted(why, lines) => {
                self.spare_lines.push(lines);
                if let Some(why) = why {
                    self.refusal.get_or_insert(why);
                }
                self.redo.extend(self.in_flight.pop_front());
            }
            Done::Writer(..) => {}
            Done::NotPrinted(lines) => {
                self.spare_lines.push(lines);
                self.in_flight.pop_front();
            }
            Done::CannotWrite(error) => {
                self.in_flight.pop_front();
                self.failed = true;
                return Err(Failure::usage(format!(
                    "cannot write decisions: {error}; they were recorded before this write, as \
                     may be those of the next few batches (up to {BATCHES_IN_FLIGHT}), and are in \
                     the state (`state export --ledger` shows them; a lead sent again comes back \
                     as a duplicate)"
                )));
            }
        }
        Ok(())
    }

    /// Takes the store's writer back once the committing thread has done everything asked
    /// before, and decides again here, in order, the batches it did not commit.
    fn take_back(&mut self, state: &mut dyn StateStore) -> Result<(), Failure> {
        if !self.handed {
            return Ok(());
        }
        self.handed = false;
        self.wait = self.backoff;
        self.backoff = (self.backoff * 2).min(MOST_BATCHES_BEFORE_HANDING);
        self.committing
            .give_back()
            .map_err(|error| self.stop(&error, self.next_line))?;
        let (writer, failed) = loop {
            match self
                .committing
                .next()
                .map_err(|error| self.stop(&error, self.next_line))?
            {
                super::committing::Done::Writer(writer, failed) => break (writer, failed),
                done => self.settle(done)?,
            }
        };
        if let Some(writer) = writer {
            state
                .take_back_commits(writer, failed)
                .map_err(|error| self.stop(&error, self.next_line))?;
        }
        if self.failed {
            // The run stops: nothing more is decided or printed.
            self.redo.clear();
            return Ok(());
        }
        let redo = std::mem::take(&mut self.redo);
        if let Some(refusal) = self.refusal.take()
            && refusal.kind != StateErrorKind::Conflict
        {
            let line = redo
                .first()
                .map_or(self.next_line, |batch| batch.first_line);
            return Err(self.stop(&refusal, line));
        }
        for again in redo {
            self.decide_here(state, again.batch, again.first_line)?;
        }
        Ok(())
    }

    /// Waits for every answer: the writer back (and the batches it refused decided again),
    /// every line printed.
    fn settle_all(&mut self, state: &mut dyn StateStore) -> Result<(), Failure> {
        let taken_back = self.take_back(state);
        // Even after a failure, every answer is taken in (the writer too).
        let mut settled = Ok(());
        while self.committing.pending() > 0 {
            match self.committing.next() {
                Ok(super::committing::Done::Writer(Some(writer), failed)) => {
                    let _ = state.take_back_commits(writer, failed);
                }
                Ok(done) => {
                    if let Err(failure) = self.settle(done) {
                        settled = settled.and(Err(failure));
                    }
                }
                Err(error) => return Err(Failure::usage(error.to_string())),
            }
        }
        taken_back.and(settled)
    }

    /// A failure at input line `line`, after every earlier batch is settled: from then on
    /// nothing is decided again (what the writer refused stays unprinted and unrecorded).
    fn stop(&mut self, error: &StateError, line: usize) -> Failure {
        self.failed = true;
        self.redo.clear();
        self.refusal = None;
        let _ = self.settle_all_quietly();
        // The printed lines are the first ones: the line named is at most the next.
        stopped(error, line.min(self.printed + 1), self.printed)
    }

    /// Waits for the answers still to come, printing what was committed, without deciding
    /// anything again.
    fn settle_all_quietly(&mut self) -> Result<(), Failure> {
        while self.committing.pending() > 0 {
            match self.committing.next() {
                Ok(super::committing::Done::Printed(lines)) => {
                    self.settle(super::committing::Done::Printed(lines))?;
                }
                Ok(
                    super::committing::Done::NotCommitted(..)
                    | super::committing::Done::NotPrinted(_)
                    | super::committing::Done::CannotWrite(_),
                ) => {
                    self.in_flight.pop_front();
                }
                Ok(super::committing::Done::Writer(..)) => {}
                Err(_) => break,
            }
        }
        Ok(())
    }
}

/// The state failed while routing: what failed, and where the run left off (every printed line
/// is recorded; the batch under way was not committed, or its commit was not confirmed, and
/// nothing after it was decided). `line` is the first line not printed.
fn stopped(error: &StateError, line: usize, printed: usize) -> Failure {
    Failure::usage(format!(
        "{error}\nrouting stopped at input line {line}: the {printed} lines printed before it are \
         recorded; that line and the ones after it were not printed: send them again (a lead \
         the state recorded all the same comes back as a duplicate)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `source` checked and compiled, shared as the reader holds them.
    fn compiled_policy(source: &str) -> (Arc<Policy>, Arc<Compiled>) {
        let (policy, compiled) = switchboard::check_source(source)
            .compiled
            .expect("the policy compiles");
        (Arc::new(policy), Arc::new(compiled))
    }

    /// `lines` written one a line to a file in a scratch folder named after `name`: the folder
    /// (for the test to remove) and the file.
    fn leads_file(name: &str, lines: &[String]) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("switchboard-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let path = dir.join("leads.ndjson");
        std::fs::write(&path, lines.join("\n")).expect("the leads are written");
        (dir, path)
    }

    /// The router's `now` in these tests.
    fn test_context() -> EvalContext {
        EvalContext {
            now: jiff::Timestamp::from_second(1_795_000_000).expect("in range"),
        }
    }

    /// What the reader opens in these tests: NDJSON from the file at `path`, read with
    /// `policy` at [`test_context`], on the deciding thread (nothing queued), the id hashed,
    /// batches of 8 that never grow; batches come back through `spent`.
    fn opening(
        path: &Path,
        (policy, compiled): (&Arc<Policy>, &Arc<Compiled>),
        spent: std::sync::mpsc::Receiver<Vec<Result<ParsedLead, LeadError>>>,
    ) -> Opening {
        Opening {
            batch_lines: 8,
            most_batch_lines: 8,
            spent,
            source: Source::File(std::fs::File::open(path).expect("the leads open")),
            csv: false,
            from: "the test's leads".to_string(),
            input: super::super::input::InputArgs::default(),
            policy: Arc::clone(policy),
            compiled: Arc::clone(compiled),
            context: test_context(),
            limits: Limits::default(),
            hash_ids: true,
            queued: None,
        }
    }

    /// The reader itself: over ids in no order its batches double up to the most, and over
    /// ids in order they go back to the first length, whatever the places given back held.
    #[test]
    fn the_reader_lengthens_batches_of_ids_in_no_order() {
        let (policy, compiled) =
            compiled_policy("schema lead { id: string }\nqueue q\notherwise -> queue q\n");
        // 100 ids in no order (a step of 5,003 of 10,007 goes down about half the time), then
        // 100 that count up.
        let lines: Vec<String> = (0..100)
            .map(|n| format!("{{\"id\":\"N-{:05}\"}}", n * 5_003 % 10_007))
            .chain((0..100).map(|n| format!("{{\"id\":\"U-{n:05}\"}}")))
            .collect();
        let (dir, path) = leads_file("lengths", &lines);
        let (give_back, spent) = std::sync::mpsc::channel();
        let opening = Opening {
            most_batch_lines: 32,
            hash_ids: false,
            ..opening(&path, (&policy, &compiled), spent)
        };
        let Ok(mut reader) = BatchReader::open(opening) else {
            panic!("the reader does not open");
        };
        let mut lengths = Vec::new();
        let mut ids = Vec::new();
        while let Ok(Some(batch)) = reader.next_batch() {
            lengths.push(batch.leads.len());
            ids.extend(batch.leads.iter().flatten().map(|lead| lead.id.to_string()));
            give_back
                .send(batch.leads)
                .expect("the reader takes batches back");
        }
        // 8 + 16 + 32 + 32 of the first 100; their last 12 and the first 20 that count up in
        // a batch of 32, where fewer than a quarter go down; then 8 at a time.
        assert_eq!(lengths, [8, 16, 32, 32, 32, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8]);
        let expected: Vec<String> = lines.iter().map(|line| line[7..14].to_string()).collect();
        assert_eq!(ids, expected, "every lead read once, in order");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Ids in the ledger's order keep batches at their length; ids in no order (more than a
    /// quarter of the steps going down) double it, up to the most, and back once in order; a
    /// batch cut short changes nothing.
    #[test]
    fn batches_grow_while_ids_come_in_no_order() {
        let sizes = (4096, 16_384);
        let next = |current, lines, descents| {
            next_batch_lines((sizes.0, sizes.1, current), lines, descents)
        };
        assert_eq!(next(4096, 4096, 0), 4096);
        assert_eq!(
            next(4096, 4096, 1024),
            4096,
            "a quarter is not more than a quarter"
        );
        assert_eq!(next(4096, 4096, 1025), 8192);
        assert_eq!(next(8192, 8192, 4000), 16_384);
        assert_eq!(next(16_384, 16_384, 8000), 16_384, "never past the most");
        assert_eq!(next(16_384, 16_384, 10), 4096, "back in order");
        assert_eq!(next(8192, 300, 299), 8192, "a batch cut short");
        // Where the most is the base (memory, PostgreSQL), nothing grows.
        assert_eq!(next_batch_lines((1024, 1024, 1024), 1024, 1000), 1024);
        // The ledger's order: by length in bytes, then by the bytes.
        assert!(!goes_down_in_ledger("L-9", "L-10"));
        assert!(goes_down_in_ledger("L-10", "L-9"));
        assert!(goes_down_in_ledger("L-2", "L-1"));
        assert!(!goes_down_in_ledger("L-1", "L-1"));
        assert!(goes_down_in_ledger("b", "a"));
    }

    /// The reader parses each line into the place of a lead of a batch given back: whatever a
    /// place held (a lead with all found ahead for it, an error, a line too long), the lead
    /// read there is the one a fresh parse gives with all found ahead afresh, and a shorter
    /// batch keeps no place of a longer one.
    #[test]
    fn leads_read_into_a_batch_given_back_are_read_afresh() {
        let source = "schema lead { id: string  intent: enum { low, high }  created_at: time? }\n\
                      queue nurture\nqueue managers\n\
                      when intent = high -> queue nurture within 1h escalate managers\n\
                      otherwise -> queue nurture\n";
        let (policy, compiled) = compiled_policy(source);
        let lines: Vec<String> = (0..24)
            .map(|i| match i % 6 {
                0 => format!(
                    "{{\"id\":\"L-{i}\",\"intent\":\"high\",\"created_at\":\"2026-11-2{}T10:00:00Z\"}}",
                    i % 9
                ),
                1 => format!("{{\"id\":\"L-{i}\",\"intent\":\"low\"}}"),
                2 => format!("{{\"id\":\"L-{i}\",\"intent\":\"hot\"}}"),
                3 => format!("{{\"id\":\"L-{i}\",\"note\":\"{}\"}}", "x".repeat(300)),
                4 => String::new(),
                _ => format!("{{\"id\":\"L-{i}\",\"intent\":\"high\",\"nested\":{{\"a\":[1]}}}}"),
            })
            .collect();
        let (dir, path) = leads_file("batches", &lines);
        let limits = Limits {
            max_line_bytes: 200,
            ..Limits::default()
        };
        let context = test_context();
        let (give_back, spent) = std::sync::mpsc::channel();
        let opening = Opening {
            batch_lines: 5,
            most_batch_lines: 5,
            limits,
            ..opening(&path, (&policy, &compiled), spent)
        };
        let ahead = TimesAhead::new(&policy);
        let fresh = |line: &str| {
            let mut lead = if line.len() > limits.max_line_bytes {
                Err(too_long_error(line.len(), &limits))
            } else {
                parse_lead(&policy, line.as_bytes(), &limits)
            };
            if let Ok(lead) = &mut lead {
                lead.find_ahead(&policy, &compiled, &ahead, &context);
                lead.find_id_hash();
            }
            lead
        };
        let Ok(mut reader) = BatchReader::open(opening) else {
            panic!("the reader does not open");
        };
        let mut read = 0;
        let mut batches = 0;
        while let Ok(Some(batch)) = reader.next_batch() {
            assert!(batch.leads.len() <= 5);
            for (lead, line) in batch.leads.iter().zip(&lines[read..]) {
                let expected = fresh(line);
                match (lead, &expected) {
                    (Ok(lead), Ok(expected)) => {
                        assert_eq!(lead.id, expected.id, "{line}");
                        assert_eq!(lead.lead.values, expected.lead.values, "{line}");
                        assert_eq!(lead.fingerprint, expected.fingerprint, "{line}");
                        assert_eq!(lead.rule_found, expected.rule_found, "{line}");
                        assert_eq!(lead.times_found, expected.times_found, "{line}");
                        assert_eq!(lead.id_hash(), expected.id_hash(), "{line}");
                    }
                    (Err(lead), Err(expected)) => assert_eq!(lead, expected, "{line}"),
                    _ => panic!("{lead:?} against {expected:?} for {line}"),
                }
            }
            read += batch.leads.len();
            batches += 1;
            // Given back at once: the next batch is read into it.
            give_back
                .send(batch.leads)
                .expect("the reader takes batches back");
        }
        assert_eq!(
            (read, batches),
            (24, 5),
            "every line read, the last batch shorter"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// With two threads the reader finds a lead's rule, times, fingerprint and id hash ahead
    /// only while the deciding thread has batches queued; otherwise the deciding thread
    /// finds them. Leads read with none of it found ahead, with all of it, and with it found
    /// for every other batch (each batch read into the places of one given back, whose leads
    /// had it found or not) decide to the same lines, byte for byte: due times on a calendar,
    /// escalations, a rotation, a repeated lead, a reused id and lines in error.
    #[test]
    fn leads_decide_alike_whether_found_ahead_or_not() {
        let source = "schema lead { id: string  intent: enum { low, high }  created_at: time? }\n\
                      calendar office { timezone Europe/Berlin  hours mon-fri 09:00-18:00 }\n\
                      pool desk { members anna, boris, chen  strategy round_robin  calendar office }\n\
                      queue nurture\nqueue managers\n\
                      when intent = high -> pool desk within 2h escalate managers after 4h\n\
                      otherwise -> queue nurture within 1d\n";
        let (policy, compiled) = compiled_policy(source);
        let lines: Vec<String> = (0..60)
            .map(|i| match i % 6 {
                // The same lead again (a duplicate), and its id used for another lead.
                4 => "{\"id\":\"L-1\",\"intent\":\"low\",\"created_at\":\"2026-11-21T07:30:00+01:00\"}"
                    .to_string(),
                5 if i % 12 == 5 => "{\"id\":\"L-1\",\"intent\":\"high\"}".to_string(),
                3 => format!("{{\"id\":\"L-{i}\",\"intent\":\"warm\"}}"),
                _ => format!(
                    "{{\"id\":\"L-{i}\",\"intent\":\"{}\",\"created_at\":\"2026-11-{:02}T{:02}:30:00+01:00\"}}",
                    if i % 2 == 0 { "high" } else { "low" },
                    20 + i % 9,
                    6 + i % 14
                ),
            })
            .collect();
        let (dir, path) = leads_file("ahead", &lines);
        let context = test_context();
        // How much the reader finds ahead: batch by batch, the count of batches it sees queued.
        let decided = |queued_for_batch: &dyn Fn(usize) -> usize| {
            let config = RouteConfig {
                now: context.now,
                explain: false,
                limits: Limits::default(),
            };
            let router = Router::new(&policy, &compiled, None, config, source);
            let (give_back, spent) = std::sync::mpsc::channel();
            let queued = Arc::new(AtomicUsize::new(queued_for_batch(0)));
            let opening = Opening {
                batch_lines: 7,
                most_batch_lines: 7,
                queued: Some(Arc::clone(&queued)),
                ..opening(&path, (&policy, &compiled), spent)
            };
            let Ok(mut reader) = BatchReader::open(opening) else {
                panic!("the reader does not open");
            };
            let mut state = switchboard::route::state::MemoryState::default();
            let (mut outcomes, mut lines, mut found_ahead) = (Vec::new(), String::new(), 0);
            let (mut first_line, mut batches) = (1, 0);
            while let Ok(Some(batch)) = reader.next_batch() {
                found_ahead += batch
                    .leads
                    .iter()
                    .flatten()
                    .filter(|lead| {
                        let all = lead.fingerprint.is_some()
                            && lead.rule_found.is_some()
                            && lead.times_found.is_some()
                            && lead.id_hash().is_some();
                        let none = lead.fingerprint.is_none()
                            && lead.rule_found.is_none()
                            && lead.times_found.is_none()
                            && lead.id_hash().is_none();
                        assert!(all || none, "{lead:?}");
                        all
                    })
                    .count();
                let into = BatchDecided {
                    outcomes: &mut outcomes,
                    lines: &mut lines,
                    first_line,
                };
                assert!(decide_batch(&router, &mut state, &batch.leads, into).is_ok());
                state.commit().expect("a memory state commits");
                first_line += batch.leads.len();
                batches += 1;
                queued.store(queued_for_batch(batches), Ordering::Relaxed);
                // The next batch is read into this one's places.
                give_back
                    .send(batch.leads)
                    .expect("the reader takes batches back");
            }
            (lines, found_ahead)
        };
        let (all_ahead, all_found) = decided(&|_| 1);
        let (none_ahead, none_found) = decided(&|_| 0);
        let (mixed, mixed_found) = decided(&|batch| batch % 2);
        // Of 60 lines, 10 have an intent the schema has not; of the 50 leads, the batches of
        // seven lines with an odd number have 3 or 4.
        assert_eq!((all_found, none_found), (50, 0));
        assert!(mixed_found > 15 && mixed_found < 35, "{mixed_found}");
        assert_eq!(all_ahead.lines().count(), 60, "{all_ahead}");
        assert_eq!(none_ahead, all_ahead);
        assert_eq!(mixed, all_ahead);
        assert!(all_ahead.contains("\"due\":\"2026-11-2"), "{all_ahead}");
        assert!(all_ahead.contains("\"duplicate\":true"), "{all_ahead}");
        assert!(all_ahead.contains("lead.id_conflict"), "{all_ahead}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
