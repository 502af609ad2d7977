//! `switchboard lsp`: starts the language server on stdio. The server is its own binary,
//! `switchboard-lsp` (crate `lsp/`, which depends on this library, so it cannot be linked into
//! this binary); this command finds it beside the running executable or on `PATH` and replaces
//! the current process with it, so the editor talks to the server directly.

use std::path::PathBuf;
use std::process::ExitCode;

/// The server's executable name.
const SERVER: &str = "switchboard-lsp";

#[derive(clap::Args)]
pub struct LspArgs {
    /// Accepted for editors that pass it (the server always speaks on stdio)
    #[arg(long)]
    stdio: bool,
}

pub fn run(_args: &LspArgs) -> Result<ExitCode, String> {
    let server = find_server().ok_or_else(|| {
        format!(
            "cannot find `{SERVER}` beside this executable or on PATH; install it with \
             `cargo install --path lsp` (or build the workspace: `cargo build --workspace`)"
        )
    })?;
    let mut command = std::process::Command::new(&server);
    exec(&mut command, &server)
}

fn find_server() -> Option<PathBuf> {
    let file = format!("{SERVER}{}", std::env::consts::EXE_SUFFIX);
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&file)))
        .filter(|path| path.is_file());
    beside.or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(&file))
                .find(|path| path.is_file())
        })
    })
}

#[cfg(unix)]
fn exec(command: &mut std::process::Command, server: &std::path::Path) -> Result<ExitCode, String> {
    use std::os::unix::process::CommandExt;
    // `exec` only returns on failure.
    let error = command.exec();
    Err(format!("cannot start `{}`: {error}", server.display()))
}

#[cfg(not(unix))]
fn exec(command: &mut std::process::Command, server: &std::path::Path) -> Result<ExitCode, String> {
    let status = command
        .status()
        .map_err(|error| format!("cannot start `{}`: {error}", server.display()))?;
    Ok(ExitCode::from(
        u8::try_from(status.code().unwrap_or(2)).unwrap_or(2),
    ))
}
