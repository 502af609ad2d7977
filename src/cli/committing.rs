//! `route`'s committing and printing threads: the committing one commits the batches a store
//! handed over to its writer ([`BatchWriter`]) while the deciding thread decides the next ones;
//! the printing one makes them durable, when the writer's commits leave that to its
//! [`Syncer`] (so the next batch is committed while this one reaches the disk), and prints
//! every batch's lines in the order they were decided, each only once its batch is durable.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::mpsc;
use switchboard::route::state::{BatchWriter, StateError, StateErrorKind, Syncer};

/// What the deciding thread asks, in order.
enum Ask {
    /// Commit the next batch handed to the writer, then print its lines.
    Commit(String),
    /// Print the lines of a batch the deciding thread committed itself.
    Print(String),
    /// Commit with this writer from now on.
    Writer(Box<dyn BatchWriter>),
    /// Send the writer back, once every batch asked before is done.
    GiveBack,
}

/// What the printing thread answers: one answer to each `Commit`, `Print` and `GiveBack`, in
/// the order they were asked.
pub enum Done {
    /// The batch's lines are printed; the emptied text comes back for another batch.
    Printed(String),
    /// A handed batch was not committed, or its commit was not made durable (a sync failed),
    /// so nothing of it is printed: the first such batch with why, every later one (dropped:
    /// it was decided on that one; or committed, and not taken for durable) with `None`,
    /// until the writer is given back.
    NotCommitted(Option<StateError>, String),
    /// The writer (if it had one), and whether a batch was not committed since it was handed
    /// over.
    Writer(Option<Box<dyn BatchWriter>>, bool),
    /// The lines could not be written to stdout: every later batch is answered `NotPrinted`
    /// (a handed one committed before the committing thread knew, up to the batches in flight,
    /// or dropped after).
    CannotWrite(std::io::Error),
    /// A batch after one whose lines could not be written: not printed.
    NotPrinted(String),
}

/// The deciding thread's end of the committing and printing threads.
pub struct Committing {
    asks: mpsc::Sender<Ask>,
    answers: mpsc::Receiver<Done>,
    /// The committing thread, then the printing one.
    threads: Vec<std::thread::JoinHandle<()>>,
    /// Answers still to come.
    pending: usize,
}

impl Committing {
    /// Starts the committing thread and the printing thread, which prints to stdout.
    pub fn start() -> std::io::Result<Committing> {
        Committing::start_printing_to(std::io::stdout())
    }

    /// Starts the committing thread and the printing thread, which prints to `output`.
    fn start_printing_to(output: impl Write + Send + 'static) -> std::io::Result<Committing> {
        let (asks, asked) = mpsc::channel();
        let (step, steps) = mpsc::channel();
        let (answer, answers) = mpsc::channel();
        let printing = Arc::new(AtomicU8::new(PRINTING));
        let commits = Arc::new(AtomicU64::new(0));
        let (printing_here, commits_here) = (Arc::clone(&printing), Arc::clone(&commits));
        let printer = std::thread::Builder::new()
            .name("print batches".to_string())
            .spawn(move || {
                let printing = (printing_here.as_ref(), commits_here.as_ref());
                print_in_order(&steps, &answer, printing, output);
            })?;
        let committer = std::thread::Builder::new()
            .name("commit batches".to_string())
            .spawn(move || commit_in_order(&asked, &step, &printing, &commits))?;
        Ok(Committing {
            asks,
            answers,
            threads: vec![committer, printer],
            pending: 0,
        })
    }

    /// Asks to commit the next handed batch, then print `lines`.
    pub fn commit(&mut self, lines: String) -> Result<(), StateError> {
        self.ask(Ask::Commit(lines), true)
    }

    /// Asks to print `lines` of a batch already committed.
    pub fn print(&mut self, lines: String) -> Result<(), StateError> {
        self.ask(Ask::Print(lines), true)
    }

    /// Hands the store's writer to the committing thread.
    pub fn hand(&mut self, writer: Box<dyn BatchWriter>) -> Result<(), StateError> {
        self.ask(Ask::Writer(writer), false)
    }

    /// Asks for the writer back, after everything asked before.
    pub fn give_back(&mut self) -> Result<(), StateError> {
        self.ask(Ask::GiveBack, true)
    }

    /// How many answers are still to come.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// The next answer, waiting for it.
    pub fn next(&mut self) -> Result<Done, StateError> {
        let done = self.answers.recv().map_err(|_| stopped())?;
        self.pending -= 1;
        Ok(done)
    }

    /// The next answer if it is here.
    pub fn ready(&mut self) -> Option<Done> {
        let done = self.answers.try_recv().ok()?;
        self.pending -= 1;
        Some(done)
    }

    fn ask(&mut self, ask: Ask, answered: bool) -> Result<(), StateError> {
        self.asks.send(ask).map_err(|_| stopped())?;
        if answered {
            self.pending += 1;
        }
        Ok(())
    }
}

impl Drop for Committing {
    fn drop(&mut self) {
        // The threads end once nothing more can be asked; whatever was printed is flushed.
        let (asks, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.asks, asks));
        // The committing thread ends first, which ends the printing one.
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// The error when the committing or the printing thread is gone (it panicked).
fn stopped() -> StateError {
    StateError::new(
        StateErrorKind::Failed,
        "the threads that commit and print batches stopped unexpectedly",
    )
}

/// What the committing thread passes to the printing thread, in the order asked.
enum Step {
    /// Print a batch's lines: once the writer's commits up to the numbered one are durable
    /// (`Some`: a commit its syncer makes durable), or now (`None`: durable already).
    Print(String, Option<u64>),
    /// Answer this, as it is.
    Answer(Done),
    /// Make commits durable with this from now on (the writer handed over has a syncer); the
    /// number of commits made before the writer was handed over, by those before it.
    Syncer(Option<Box<dyn Syncer>>, u64),
}

/// Why the printing thread stopped printing, for the committing thread, which then commits no
/// more: 0 while it prints.
const PRINTING: u8 = 0;
/// stdout failed.
const CANNOT_WRITE: u8 = 1;
/// A sync failed: what was committed since the last sync that answered may not be durable.
const NOT_DURABLE: u8 = 2;

/// The committing thread: commits each handed batch in order and passes its lines on to the
/// printing thread, until the deciding thread lets go.
fn commit_in_order(
    asked: &mpsc::Receiver<Ask>,
    steps: &mpsc::Sender<Step>,
    printing: &AtomicU8,
    commits: &AtomicU64,
) {
    let mut writer: Option<Box<dyn BatchWriter>> = None;
    let mut refused = false;
    // Whether the writer's commits are made durable by its syncer, on the printing thread.
    let mut synced_apart = false;
    for ask in asked {
        let stopped = printing.load(Ordering::Acquire);
        let step = match ask {
            // Once the printing thread stopped, nothing more is committed.
            Ask::Commit(mut lines) if stopped != PRINTING => {
                if let Some(writer) = writer.as_mut() {
                    writer.drop_next();
                    // A dropped batch: the store forgets what it kept when it takes the writer
                    // back.
                    refused = true;
                }
                lines.clear();
                Step::Answer(if stopped == CANNOT_WRITE {
                    Done::NotPrinted(lines)
                } else {
                    Done::NotCommitted(None, lines)
                })
            }
            Ask::Writer(mut handed) => {
                let syncer = handed.syncer();
                synced_apart = syncer.is_some();
                writer = Some(handed);
                refused = false;
                Step::Syncer(syncer, commits.load(Ordering::Acquire))
            }
            Ask::GiveBack => {
                Step::Answer(Done::Writer(writer.take(), std::mem::take(&mut refused)))
            }
            Ask::Commit(mut lines) => {
                let committed = match writer.as_mut() {
                    Some(writer) if !refused => writer.commit_next().map_err(Some),
                    Some(writer) => {
                        writer.drop_next();
                        Err(None)
                    }
                    None => Err(Some(StateError::new(
                        StateErrorKind::Failed,
                        "internal error: a batch to commit, and no writer",
                    ))),
                };
                match committed {
                    Ok(()) => {
                        let number = commits.fetch_add(1, Ordering::AcqRel) + 1;
                        Step::Print(lines, synced_apart.then_some(number))
                    }
                    Err(why) => {
                        refused = true;
                        lines.clear();
                        Step::Answer(Done::NotCommitted(why, lines))
                    }
                }
            }
            Ask::Print(lines) => Step::Print(lines, None),
        };
        if steps.send(step).is_err() {
            break;
        }
    }
}

/// The printing thread: makes the committed batches durable (one sync for every batch
/// committed before it started) and prints their lines, and answers every ask, in the order
/// asked.
fn print_in_order(
    steps: &mpsc::Receiver<Step>,
    answer: &mpsc::Sender<Done>,
    (printing, commits): (&AtomicU8, &AtomicU64),
    output: impl Write,
) {
    let mut output = std::io::BufWriter::with_capacity(1 << 16, output);
    let mut syncer: Option<Box<dyn Syncer>> = None;
    // The commits the last sync made durable.
    let mut synced_through = 0;
    let mut stopped = PRINTING;
    for step in steps {
        let done = match step {
            Step::Syncer(handed, before) => {
                syncer = handed;
                // A sync by the writer before may have counted this one's first commits: they
                // are this syncer's to make durable.
                synced_through = synced_through.min(before);
                continue;
            }
            // After a failed sync the store must forget what it kept: it may not be durable.
            Step::Answer(Done::Writer(writer, failed)) => {
                Done::Writer(writer, failed || stopped == NOT_DURABLE)
            }
            Step::Answer(done) => done,
            Step::Print(mut lines, durable_after) if stopped != PRINTING => {
                lines.clear();
                if stopped == NOT_DURABLE && durable_after.is_some() {
                    Done::NotCommitted(None, lines)
                } else {
                    Done::NotPrinted(lines)
                }
            }
            Step::Print(mut lines, Some(commit)) if commit > synced_through => {
                let through = commits.load(Ordering::Acquire);
                let synced = syncer.as_mut().map_or_else(
                    || {
                        Err(StateError::new(
                            StateErrorKind::Failed,
                            "internal error: a commit to make durable, and no syncer",
                        ))
                    },
                    |syncer| syncer.sync(),
                );
                match synced {
                    Ok(()) => {
                        synced_through = through;
                        print(&mut output, lines)
                    }
                    Err(error) => {
                        stopped = NOT_DURABLE;
                        printing.store(NOT_DURABLE, Ordering::Release);
                        lines.clear();
                        Done::NotCommitted(Some(error), lines)
                    }
                }
            }
            Step::Print(lines, _) => print(&mut output, lines),
        };
        if matches!(done, Done::CannotWrite(_)) {
            stopped = CANNOT_WRITE;
            printing.store(CANNOT_WRITE, Ordering::Release);
        }
        if answer.send(done).is_err() {
            break;
        }
    }
    let _ = output.flush();
}

/// Writes a batch's lines out, flushed: they reach stdout as soon as the batch is durable.
fn print(output: &mut impl Write, mut lines: String) -> Done {
    match output
        .write_all(lines.as_bytes())
        .and_then(|()| output.flush())
    {
        Ok(()) => {
            lines.clear();
            Done::Printed(lines)
        }
        Err(error) => Done::CannotWrite(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// What the pipeline did, in order, as the fake writer, syncer and stdout saw it.
    type Log = Arc<Mutex<Vec<String>>>;

    fn note(log: &Log, event: String) {
        log.lock().unwrap().push(event);
    }

    fn count(log: &[String], prefix: &str) -> usize {
        log.iter().filter(|event| event.starts_with(prefix)).count()
    }

    /// How a run goes wrong, if it does.
    #[derive(Clone, Copy, PartialEq)]
    enum Trouble {
        None,
        /// The writer's commits are durable as they answer: it has no syncer.
        NoSyncer,
        /// The first sync fails, once the second commit has begun; that commit is held until
        /// the test has the failure's answer (the committing thread knows by then).
        SyncFails,
        /// stdout fails from the third batch's lines on; the fourth commit is held until the
        /// test has that failure's answer.
        StdoutFails,
        /// The first writer's second commit ends after its first sync began, and the first
        /// line is written once three commits have ended: the sync asked for the second
        /// batch then begins after the next writer's first commit.
        LateSecondSync,
    }

    /// A writer whose commits are durable only once its syncer synced (unless it has none).
    struct FakeWriter {
        log: Log,
        /// Which writer handed over it is (1, 2, …).
        writer: u32,
        commits: u32,
        trouble: Trouble,
        /// The commit held until the test lets it end, and how it is let.
        gate: Option<(u32, mpsc::Receiver<()>)>,
    }

    impl BatchWriter for FakeWriter {
        fn commit_next(&mut self) -> Result<(), StateError> {
            self.commits += 1;
            note(&self.log, format!("commit {} began", self.commits));
            if let Some((held, gate)) = &self.gate
                && *held == self.commits
            {
                let _ = gate.recv_timeout(std::time::Duration::from_secs(30));
            }
            if self.trouble == Trouble::LateSecondSync && self.writer == 1 && self.commits == 2 {
                wait_for(&self.log, "sync began (writer 1)", 1);
            }
            // Long enough that the printing thread often finds several commits to sync.
            std::thread::sleep(std::time::Duration::from_millis(1));
            note(&self.log, format!("committed {}", self.commits));
            Ok(())
        }
        fn drop_next(&mut self) {
            note(&self.log, "drop".to_string());
        }
        fn syncer(&mut self) -> Option<Box<dyn Syncer>> {
            (self.trouble != Trouble::NoSyncer).then(|| {
                Box::new(FakeSyncer {
                    log: Arc::clone(&self.log),
                    writer: self.writer,
                    fails: self.trouble == Trouble::SyncFails,
                }) as Box<dyn Syncer>
            })
        }
        fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send> {
            self
        }
    }

    struct FakeSyncer {
        log: Log,
        writer: u32,
        fails: bool,
    }

    /// Waits, a few seconds at most, until `log` holds `events` events that start with `prefix`.
    fn wait_for(log: &Log, prefix: &str, events: usize) {
        for _ in 0..3000 {
            if count(&log.lock().unwrap(), prefix) >= events {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    impl Syncer for FakeSyncer {
        fn sync(&mut self) -> Result<(), StateError> {
            // What is durable is what was committed when the sync began.
            let committed = count(&self.log.lock().unwrap(), "committed");
            let writer = self.writer;
            note(
                &self.log,
                format!("sync began (writer {writer}) after {committed}"),
            );
            if self.fails {
                wait_for(&self.log, "commit 2 began", 1);
                note(&self.log, "sync failed".to_string());
                return Err(StateError::new(StateErrorKind::Failed, "the disk is gone"));
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
            Ok(())
        }
    }

    /// stdout, as the log sees it: a line an event; failing from the `fails_at`th write on.
    struct Stdout {
        log: Log,
        writes: u32,
        fails_at: Option<u32>,
        /// The first write waits until three commits have ended.
        hold_first_line: bool,
    }

    impl Write for Stdout {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.writes += 1;
            if self.hold_first_line && self.writes == 1 {
                wait_for(&self.log, "committed", 3);
            }
            if self.fails_at.is_some_and(|at| self.writes >= at) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "the reader left",
                ));
            }
            for line in String::from_utf8_lossy(bytes).lines() {
                note(&self.log, format!("print {line}"));
            }
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What the deciding thread asks, in a test's words.
    enum Asked {
        /// Commit a handed batch of one line.
        Commit(&'static str),
        /// Print a batch the deciding thread committed, of one line.
        Print(&'static str),
        /// Hand a new writer over.
        Hand,
        GiveBack,
    }

    /// Asks what `asks` says, in order, and answers what came back, in order, with the log.
    fn run(asks: &[Asked], trouble: Trouble) -> (Vec<String>, Vec<String>) {
        let log: Log = Arc::default();
        let stdout = Stdout {
            log: Arc::clone(&log),
            writes: 0,
            fails_at: (trouble == Trouble::StdoutFails).then_some(3),
            hold_first_line: trouble == Trouble::LateSecondSync,
        };
        let mut committing = Committing::start_printing_to(stdout).unwrap();
        // The commit held, and after how many answers it is let end.
        let (held, release_after) = match trouble {
            Trouble::SyncFails => (2, 1),
            Trouble::StdoutFails => (4, 3),
            _ => (0, 0),
        };
        let mut release = None;
        let mut writers = 0;
        for ask in asks {
            match ask {
                Asked::Commit(line) => committing.commit(format!("{line}\n")).unwrap(),
                Asked::Print(line) => committing.print(format!("{line}\n")).unwrap(),
                Asked::Hand => {
                    writers += 1;
                    let (open, gate) = mpsc::channel();
                    let gate = (held > 0 && writers == 1).then_some((held, gate));
                    release = release.or(Some(open));
                    let writer = FakeWriter {
                        log: Arc::clone(&log),
                        writer: writers,
                        commits: 0,
                        trouble,
                        gate,
                    };
                    committing.hand(Box::new(writer)).unwrap();
                }
                Asked::GiveBack => committing.give_back().unwrap(),
            }
        }
        let mut answers = Vec::new();
        while committing.pending() > 0 {
            answers.push(match committing.next().unwrap() {
                Done::Printed(_) => "printed".to_string(),
                Done::NotCommitted(Some(why), _) => format!("not committed: {why}"),
                Done::NotCommitted(None, _) => "not committed".to_string(),
                Done::Writer(writer, failed) => {
                    format!("writer back (kept: {}, failed: {failed})", writer.is_some())
                }
                Done::CannotWrite(error) => format!("cannot write: {error}"),
                Done::NotPrinted(_) => "not printed".to_string(),
            });
            // The answer the held commit waits for is in: it may end.
            if answers.len() == release_after
                && let Some(open) = release.take()
            {
                let _ = open.send(());
            }
        }
        drop(committing);
        let log = log.lock().unwrap().clone();
        (answers, log)
    }

    /// A writer handed over, `batches` batches committed (`b1`, `b2`, …), the writer given back.
    fn handed_batches(batches: usize) -> Vec<Asked> {
        const LINES: [&str; 30] = [
            "b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9", "b10", "b11", "b12", "b13",
            "b14", "b15", "b16", "b17", "b18", "b19", "b20", "b21", "b22", "b23", "b24", "b25",
            "b26", "b27", "b28", "b29", "b30",
        ];
        let mut asks = vec![Asked::Hand];
        asks.extend(LINES[..batches].iter().map(|line| Asked::Commit(line)));
        asks.push(Asked::GiveBack);
        asks
    }

    /// The position of `event` in the log.
    fn at(log: &[String], event: &str) -> usize {
        log.iter()
            .position(|seen| seen == event)
            .unwrap_or_else(|| panic!("no `{event}` in {log:?}"))
    }

    #[test]
    fn a_batch_is_printed_only_after_a_sync_that_began_after_its_commit_ended() {
        let (answers, log) = run(&handed_batches(30), Trouble::None);
        let mut expected = vec!["printed".to_string(); 30];
        expected.push("writer back (kept: true, failed: false)".to_string());
        assert_eq!(answers, expected);
        for batch in 1..=30 {
            let printed = at(&log, &format!("print b{batch}"));
            // The last sync that began before the print had seen this batch's commit end.
            let synced = log[..printed]
                .iter()
                .rev()
                .find_map(|event| event.strip_prefix("sync began (writer 1) after "))
                .unwrap_or_else(|| panic!("b{batch} printed with no sync before: {log:?}"));
            assert!(synced.parse::<usize>().unwrap() >= batch, "{log:?}");
        }
        // Lines come out in the order the batches were asked.
        let printed: Vec<&str> = log
            .iter()
            .filter_map(|e| e.strip_prefix("print "))
            .collect();
        let in_order: Vec<String> = (1..=30).map(|batch| format!("b{batch}")).collect();
        assert_eq!(printed, in_order);
        // A sync makes every commit before it durable: never more syncs than commits.
        assert!((1..=30).contains(&count(&log, "sync began")), "{log:?}");
    }

    #[test]
    fn a_writer_without_a_syncer_prints_each_batch_once_committed() {
        let (answers, log) = run(&handed_batches(5), Trouble::NoSyncer);
        assert_eq!(answers.iter().filter(|a| *a == "printed").count(), 5);
        assert_eq!(count(&log, "sync"), 0, "{log:?}");
        for batch in 1..=5 {
            assert!(at(&log, &format!("committed {batch}")) < at(&log, &format!("print b{batch}")));
        }
    }

    #[test]
    fn batches_the_deciding_thread_committed_print_in_order_between_two_hand_overs() {
        let asks = [
            Asked::Hand,
            Asked::Commit("b1"),
            Asked::Commit("b2"),
            Asked::GiveBack,
            Asked::Print("b3"),
            Asked::Hand,
            Asked::Commit("b4"),
            Asked::GiveBack,
        ];
        let (answers, log) = run(&asks, Trouble::LateSecondSync);
        let back = "writer back (kept: true, failed: false)".to_string();
        let printed = "printed".to_string();
        let expected = [&printed, &printed, &back, &printed, &printed, &back];
        assert_eq!(answers.iter().collect::<Vec<_>>(), expected);
        let lines: Vec<&str> = log
            .iter()
            .filter_map(|e| e.strip_prefix("print "))
            .collect();
        assert_eq!(lines, ["b1", "b2", "b3", "b4"]);
        // The first writer's sync for b2 began once b4, the second writer's, had been
        // committed too (three commits)...
        assert!(
            log.contains(&"sync began (writer 1) after 3".to_string()),
            "{log:?}"
        );
        // ...and the second writer's commit is still synced by its own syncer, between the
        // lines before it and its own.
        let second = log
            .iter()
            .position(|e| e.starts_with("sync began (writer 2)"))
            .unwrap_or_else(|| panic!("b4 printed without its writer's sync: {log:?}"));
        assert!(at(&log, "print b3") < second && second < at(&log, "print b4"));
    }

    #[test]
    fn after_a_failed_sync_nothing_more_is_committed_or_printed_and_the_store_forgets() {
        let (answers, log) = run(&handed_batches(30), Trouble::SyncFails);
        assert_eq!(count(&log, "print"), 0, "{log:?}");
        // The batch the failed sync was for names why. The second, committed meanwhile, is not
        // taken for durable; the later ones are dropped, not committed.
        let mut expected = vec!["not committed: the disk is gone".to_string()];
        expected.extend(std::iter::repeat_n("not committed".to_string(), 29));
        expected.push("writer back (kept: true, failed: true)".to_string());
        assert_eq!(answers, expected);
        assert_eq!(count(&log, "committed"), 2, "{log:?}");
        assert_eq!(count(&log, "drop"), 28, "{log:?}");
        // No sync is tried again after one failed.
        assert_eq!(count(&log, "sync began"), 1, "{log:?}");
    }

    #[test]
    fn after_stdout_fails_nothing_more_is_printed_and_the_rest_is_dropped() {
        let (answers, log) = run(&handed_batches(30), Trouble::StdoutFails);
        let lines: Vec<&str> = log
            .iter()
            .filter_map(|e| e.strip_prefix("print "))
            .collect();
        assert_eq!(lines, ["b1", "b2"]);
        assert_eq!(answers[..2], ["printed", "printed"]);
        assert_eq!(answers[2], "cannot write: the reader left");
        assert!(
            answers[3..30].iter().all(|a| a == "not printed"),
            "{answers:?}"
        );
        // Batches committed before the committing thread knew are recorded, not printed (the
        // fourth is held until the failure is answered, so that the committing thread knows
        // by the fifth); it drops every later one.
        let committed = count(&log, "committed");
        assert!((3..=4).contains(&committed), "{log:?}");
        assert_eq!(count(&log, "drop"), 30 - committed);
        assert_eq!(answers[30], "writer back (kept: true, failed: true)");
    }
}
