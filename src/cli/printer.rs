//! `route`'s committed lines on their way to stdout: written by the thread that decides them,
//! or, with two threads, handed in order to a thread that only writes them, so that the
//! copying of each batch into the output (the kernel's work for about 300 bytes a lead) is off
//! the deciding thread. Either way a batch is printed only after its commit, whole, in input
//! order, and a failure to write is said as soon as it is known.

use super::Failure;
use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};

/// How many written batches may wait for the writing thread: the deciding thread waits
/// beyond that, so that a slow reader of stdout holds at most this many batches in memory.
const WAITING_BATCHES: usize = 2;

/// Prints the batches of lines that `route` decides.
pub(super) enum Printer<'scope> {
    /// Written on the deciding thread.
    Here(std::io::BufWriter<std::io::StdoutLock<'static>>),
    /// Handed to a writing thread, which gives each batch's string back, emptied, for a later
    /// batch (or the error that stopped it).
    Thread {
        to_write: SyncSender<String>,
        written: Receiver<std::io::Result<String>>,
        writing: std::thread::ScopedJoinHandle<'scope, ()>,
    },
}

impl<'scope> Printer<'scope> {
    /// Prints on this thread.
    pub(super) fn here() -> Printer<'scope> {
        Printer::Here(std::io::BufWriter::with_capacity(
            1 << 16,
            std::io::stdout().lock(),
        ))
    }

    /// Prints on a thread of `scope`; on this thread if it cannot be started.
    pub(super) fn on_a_thread<'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
    ) -> Printer<'scope> {
        let (to_write, batches) = std::sync::mpsc::sync_channel::<String>(WAITING_BATCHES);
        let (give_back, written) = std::sync::mpsc::channel();
        let writing = std::thread::Builder::new()
            .name("print decisions".to_string())
            .spawn_scoped(scope, move || {
                let mut output = std::io::stdout().lock();
                for mut batch in batches {
                    let result = output
                        .write_all(batch.as_bytes())
                        .and_then(|()| output.flush());
                    let failed = result.is_err();
                    batch.clear();
                    // The deciding thread stops taking strings back only when it has ended.
                    let _ = give_back.send(result.map(|()| batch));
                    if failed {
                        break;
                    }
                }
            });
        match writing {
            Ok(writing) => Printer::Thread {
                to_write,
                written,
                writing,
            },
            Err(_) => Printer::here(),
        }
    }

    /// Prints `batch` (committed), leaving an empty string in its place for the next one.
    pub(super) fn print(&mut self, batch: &mut String, what: Printed<'_>) -> Result<(), Failure> {
        match self {
            Printer::Here(output) => {
                output
                    .write_all(batch.as_bytes())
                    .and_then(|()| output.flush())
                    .map_err(|error| write_failure(what, &error))?;
                batch.clear();
                Ok(())
            }
            Printer::Thread {
                to_write, written, ..
            } => {
                let next = match written.try_recv() {
                    Ok(Ok(spare)) => spare,
                    Ok(Err(error)) => return Err(write_failure(what, &error)),
                    Err(TryRecvError::Empty) => String::with_capacity(batch.capacity()),
                    Err(TryRecvError::Disconnected) => return Err(writer_gone(what)),
                };
                let full = std::mem::replace(batch, next);
                if to_write.send(full).is_err() {
                    // The writing thread stopped: at a failure it sent back, or it died.
                    return Err(match written.try_iter().find_map(Result::err) {
                        Some(error) => write_failure(what, &error),
                        None => writer_gone(what),
                    });
                }
                Ok(())
            }
        }
    }

    /// Waits until every batch handed over is written; the first failure to write, if any.
    pub(super) fn finish(self, what: Printed<'_>) -> Result<(), Failure> {
        match self {
            Printer::Here(_) => Ok(()),
            Printer::Thread {
                to_write,
                written,
                writing,
            } => {
                drop(to_write);
                let ended = writing.join();
                if let Some(error) = written.try_iter().find_map(Result::err) {
                    return Err(write_failure(what, &error));
                }
                ended.map_err(|_| writer_gone(what))
            }
        }
    }
}

/// What was printed, as a failure to print names it: `decisions`, and whether the state
/// keeps them (`--state :memory:` keeps nothing past the run).
#[derive(Debug, Clone, Copy)]
pub struct Printed<'a> {
    pub what: &'a str,
    pub kept: bool,
}

/// A failure to write decided lines, which a kept state holds all the same.
pub(super) fn write_failure(printed: Printed<'_>, error: &std::io::Error) -> Failure {
    let Printed { what, kept } = printed;
    Failure::usage(if kept {
        format!(
            "cannot write {what}: {error}; they were recorded before this write, and are in the \
             state (`state export --ledger` shows the decisions)"
        )
    } else {
        format!(
            "cannot write {what}: {error}; the state is in memory (`--state :memory:`), so the \
             {what} not printed are lost: run again with the output going where all of it is \
             read, or with a state that keeps them (`--state FILE`)"
        )
    })
}

/// The writing thread ended without saying why (it panicked).
fn writer_gone(printed: Printed<'_>) -> Failure {
    let Printed { what, kept } = printed;
    Failure::usage(if kept {
        format!(
            "the thread that prints {what} stopped unexpectedly: the lines after the last \
             printed one are recorded in the state (`state export --ledger` shows the decisions)"
        )
    } else {
        format!(
            "the thread that prints {what} stopped unexpectedly: the lines after the last \
             printed one are lost (the state is in memory)"
        )
    })
}
