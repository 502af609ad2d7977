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
