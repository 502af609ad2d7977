//! `route`'s committing thread: commits the batches a store handed over to its writer
//! ([`BatchWriter`]) while the deciding thread decides the next ones, and prints every batch's
//! lines in the order they were decided, each only once its batch is durable.

use std::io::Write;
use std::sync::mpsc;
use switchboard::route::state::{BatchWriter, StateError, StateErrorKind};

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

/// What the committing thread answers: one answer to each `Commit`, `Print` and `GiveBack`,
/// in the order they were asked.
pub enum Done {
    /// The batch's lines are printed; the emptied text comes back for another batch.
    Printed(String),
    /// A handed batch was not committed, so nothing of it is printed: the first such batch
    /// with why it was refused, every later one (dropped: it was decided on the refused one)
    /// with `None`, until the writer is given back.
    NotCommitted(Option<StateError>, String),
    /// The writer (if it had one), and whether a batch was not committed since it was handed
    /// over.
    Writer(Option<Box<dyn BatchWriter>>, bool),
    /// The lines could not be written to stdout: every later batch is answered `NotPrinted`
    /// (a handed one dropped, not committed).
    CannotWrite(std::io::Error),
    /// A batch after one whose lines could not be written: not printed.
    NotPrinted(String),
}

/// The deciding thread's end of the committing thread.
pub struct Committing {
    asks: mpsc::Sender<Ask>,
    answers: mpsc::Receiver<Done>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Answers still to come.
    pending: usize,
}

impl Committing {
    /// Starts the thread, which prints to stdout.
    pub fn start() -> std::io::Result<Committing> {
        let (asks, asked) = mpsc::channel();
        let (answer, answers) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("commit batches".to_string())
            .spawn(move || commit_and_print(&asked, &answer))?;
        Ok(Committing {
            asks,
            answers,
            thread: Some(thread),
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

    /// Hands the store's writer to the thread.
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
        // The thread ends once nothing more can be asked; whatever it printed is flushed.
        let (asks, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.asks, asks));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The error when the committing thread is gone (it panicked).
fn stopped() -> StateError {
    StateError::new(
        StateErrorKind::Failed,
        "the thread that commits and prints batches stopped unexpectedly",
    )
}

/// The thread: answers each ask in order until the deciding thread lets go.
fn commit_and_print(asked: &mpsc::Receiver<Ask>, answer: &mpsc::Sender<Done>) {
    let mut output = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
    let mut writer: Option<Box<dyn BatchWriter>> = None;
    let mut refused = false;
    // Once stdout failed, nothing more is committed or printed.
    let mut cannot_write = false;
    for ask in asked {
        let done = match ask {
            Ask::Commit(mut lines) if cannot_write => {
                if let Some(writer) = writer.as_mut() {
                    writer.drop_next();
                    // A dropped batch: the store forgets what it kept when it takes the writer
                    // back.
                    refused = true;
                }
                lines.clear();
                Done::NotPrinted(lines)
            }
            Ask::Print(mut lines) if cannot_write => {
                lines.clear();
                Done::NotPrinted(lines)
            }
            Ask::Writer(handed) => {
                writer = Some(handed);
                refused = false;
                continue;
            }
            Ask::GiveBack => Done::Writer(writer.take(), std::mem::take(&mut refused)),
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
                    Ok(()) => print(&mut output, lines),
                    Err(why) => {
                        refused = true;
                        lines.clear();
                        Done::NotCommitted(why, lines)
                    }
                }
            }
            Ask::Print(lines) => print(&mut output, lines),
        };
        cannot_write |= matches!(done, Done::CannotWrite(_));
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
