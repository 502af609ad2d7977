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
pub struct ManArgs {
    /// One command's page (`switchboard man route`, the page `switchboard-route(1)`) instead of
    /// the main one
    #[arg(value_name = "COMMAND", conflicts_with = "out_dir", num_args = 0..)]
    command: Vec<String>,
    /// Write every page (`switchboard.1` and one `switchboard-COMMAND.1` per command) into this
    /// folder instead of printing one
    #[arg(long, value_name = "DIR")]
    out_dir: Option<std::path::PathBuf>,
}

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

/// Prints the manual page (`switchboard man > switchboard.1`), one command's page
/// (`switchboard man route > switchboard-route.1`), or writes them all into a folder
/// (`switchboard man --out-dir DIR`): the main page names each command's page, so all of them
/// exist.
pub fn man(args: &ManArgs, command: clap::Command) -> Result<ExitCode, Failure> {
    // `help` has no page of its own: `switchboard help COMMAND` is `COMMAND --help`.
    let mut command = command.disable_help_subcommand(true);
    command.build();
    if let Some(dir) = &args.out_dir {
        if dir.exists() && !dir.is_dir() {
            return Err(Failure::usage(format!(
                "--out-dir `{}` is a file, not a folder",
                dir.display()
            )));
        }
        if !dir.is_dir() {
            return Err(Failure::usage(format!(
                "--out-dir `{}` does not exist: make it first (`mkdir -p`)",
                dir.display()
            )));
        }
        clap_mangen::generate_to(command.clone(), dir).map_err(|error| {
            Failure::usage(format!(
                "cannot write the manual pages into `{}`: {error}",
                dir.display()
            ))
        })?;
        // Every page, nested commands' too (`switchboard-state-export.1`), as clap_mangen
        // names them.
        fn pages(command: &clap::Command, prefix: &str, out: &mut Vec<String>) {
            out.push(format!("{prefix}.1"));
            for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
                pages(sub, &format!("{prefix}-{}", sub.get_name()), out);
            }
        }
        let mut names = Vec::new();
        pages(&command, "switchboard", &mut names);
        let written: Vec<String> = names
            .iter()
            .map(|name| format!("{}", dir.join(name).display()))
            .collect();
        print_stdout(&format!("{}\n", written.join("\n")))?;
        return Ok(ExitCode::SUCCESS);
    }
    // `switchboard man state export`: a nested command's page, word by word.
    let mut page_of = command;
    for name in &args.command {
        let Some(sub) = page_of.find_subcommand(name).cloned() else {
            let names: Vec<&str> = page_of.get_subcommands().map(|s| s.get_name()).collect();
            return Err(Failure::usage(if names.is_empty() {
                format!("`{}` has no commands under it", page_of.get_name())
            } else {
                format!("no command `{name}`: the commands are {}", names.join(", "))
            }));
        };
        page_of = sub;
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(page_of)
        .render(&mut page)
        .map_err(|error| Failure::usage(format!("cannot render the manual page: {error}")))?;
    print_stdout(&String::from_utf8_lossy(&page))?;
    Ok(ExitCode::SUCCESS)
}
