//! The `switchboard` command line: a thin front end over the library (see `cli`).

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
