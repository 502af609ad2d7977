//! What installing needs besides the binary: shell completions (clap_complete) and the manual
//! page (clap_mangen), both generated from the same argument definitions as `--help`.

use super::{Failure, print_stdout};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell
    #[arg(value_name = "SHELL")]
    shell: clap_complete::Shell,
}

#[derive(clap::Args)]
pub struct ManArgs {}

/// Prints the completion script for a shell.
pub fn completions(
    args: &CompletionsArgs,
    mut command: clap::Command,
) -> Result<ExitCode, Failure> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "switchboard", &mut script);
    print_stdout(&String::from_utf8_lossy(&script))?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the manual page: `switchboard man > switchboard.1`.
pub fn man(_args: &ManArgs, command: clap::Command) -> Result<ExitCode, Failure> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut page)
        .map_err(|error| Failure::usage(format!("cannot render the manual page: {error}")))?;
    print_stdout(&String::from_utf8_lossy(&page))?;
    Ok(ExitCode::SUCCESS)
}
