//! The language server driven by a client nobody on this project wrote: pygls's language client,
//! through pytest-lsp (from PyPI). The test installs it into a virtual environment under
//! `target/` (pinned in `tests/lsp/client/requirements.txt`; the first run downloads it, later
//! runs reuse it) and starts the server as an editor would: `switchboard lsp`.
//!
//! It needs `python3` with `venv` and access to PyPI on the first run (CI has both). Without
//! them it says NOT RUN, and why, on stderr, and the rest of the suite stands alone.

use std::path::{Path, PathBuf};
use std::process::Command;

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("cannot {what}: {error}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs a setup step; `Err` says what could not be had, for the "not run" message.
fn setup(command: &mut Command, what: &str) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|error| format!("cannot {what}: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "cannot {what} ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// A virtual environment with the pinned requirements, created once; `Err` when Python, its
/// `venv` module or PyPI cannot be had on this machine.
fn environment(requirements: &Path) -> Result<PathBuf, String> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pytest-lsp-venv");
    let stamp = venv.join("requirements.installed");
    let wanted = std::fs::read_to_string(requirements).unwrap();
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(venv);
    }
    let _ = std::fs::remove_dir_all(&venv);
    setup(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "create a Python virtual environment (python3 -m venv)",
    )?;
    setup(
        Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(requirements),
        "install the pinned pytest-lsp from PyPI",
    )?;
    std::fs::write(&stamp, wanted).unwrap();
    Ok(venv)
}

#[test]
fn pygls_client_sees_diagnostics_at_the_right_range_and_field_completion() {
    let client_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lsp/client");
    let venv = match environment(&client_dir.join("requirements.txt")) {
        Ok(venv) => venv,
        Err(reason) => {
            // Python and PyPI are outside the Rust toolchain: without them this one test cannot
            // run. Say so where it cannot be missed; the protocol suite still covers the server.
            eprintln!(
                "\nNOT RUN: the pygls client test (tests/lsp/real_client.rs): {reason}\n\
                 It needs python3 with venv and access to PyPI once; CI has both.\n"
            );
            return;
        }
    };
    // `switchboard lsp`, as editors run it: the one binary, never a fallback.
    let command = format!("{} lsp", env!("CARGO_BIN_EXE_switchboard"));
    let workspace = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pytest-lsp-workspace");
    let _ = std::fs::remove_dir_all(&workspace);
    std::fs::create_dir_all(&workspace).unwrap();
    run(
        Command::new(venv.join("bin/python"))
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(&client_dir)
            .current_dir(&client_dir)
            .env("SWITCHBOARD_LSP_COMMAND", command)
            .env("SWITCHBOARD_WORKSPACE", &workspace),
        "run the pytest-lsp tests",
    );
}
