//! Helpers shared by the tests that run the `switchboard` binary.
#![allow(dead_code, clippy::unwrap_used)] // each test crate uses its own subset; tests may fail loudly

use std::path::Path;
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary with `args` in `cwd`, colour off, and waits for it.
pub fn run(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// The path of a file of `examples/`, as a string argument.
pub fn example(name: &str) -> String {
    root()
        .join("examples")
        .join(name)
        .to_string_lossy()
        .to_string()
}

/// A fresh, empty directory for one test: `switchboard-SUITE-PID-NAME` under the temp dir. It
/// is removed, with what the test left in it, when the test's thread ends (each test runs on a
/// thread of its own), unless the thread panicked: a failed test's files are kept and named on
/// stderr, to be looked at. (Every run of the tests used to leave some 250 directories and
/// 230 MB behind.) A harness of its own that runs tests one after another on one thread says
/// when each ends: [`scratch_done`].
pub fn scratch(suite: &str, name: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("switchboard-{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let dir = dir.canonicalize().unwrap_or(dir);
    note_panics();
    SCRATCH.with(|scratch| scratch.borrow_mut().dirs.push(dir.clone()));
    dir
}

/// Removes the scratch directories this thread made, unless `passed` is false or the thread
/// panicked since the last call: then they are kept and named on stderr.
pub fn scratch_done(passed: bool) {
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        scratch.panicked |= !passed;
        scratch.end();
    });
}

/// The scratch directories of one thread, and whether it panicked since they were made.
#[derive(Default)]
struct ThreadScratch {
    dirs: Vec<std::path::PathBuf>,
    panicked: bool,
}

impl ThreadScratch {
    fn end(&mut self) {
        for dir in self.dirs.drain(..) {
            if self.panicked {
                eprintln!("the failed test's files are kept in {}", dir.display());
            } else {
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
        self.panicked = false;
    }
}

impl Drop for ThreadScratch {
    fn drop(&mut self) {
        self.end();
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<ThreadScratch> =
        std::cell::RefCell::new(ThreadScratch::default());
}

/// Marks the panicking thread's scratch directories as a failed test's (then lets the panic be
/// reported as before).
fn note_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = SCRATCH.try_with(|scratch| {
                if let Ok(mut scratch) = scratch.try_borrow_mut() {
                    scratch.panicked = true;
                }
            });
            report(info);
        }));
    });
}
