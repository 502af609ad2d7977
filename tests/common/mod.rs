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

/// A fresh, empty directory for one test: `switchboard-SUITE-PID-NAME` under the temp dir.
pub fn scratch(suite: &str, name: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("switchboard-{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
