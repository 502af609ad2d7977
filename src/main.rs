//! The `switchboard` command line: a thin front end over the library (see `cli`).

#![deny(unsafe_code)]

/// A line on standard error, as `eprintln!` writes it, except that a standard error that
/// cannot be written (a reader that went away, a full disk) is no panic: the messages are a
/// courtesy, and the command's output and exit status stand without them.
macro_rules! stderr_line {
    ($($words:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($words)*);
    }};
}

/// [`stderr_line!`] without the line break (used by `serve`, which a build without its feature
/// leaves out).
#[cfg_attr(not(feature = "serve"), allow(unused_macros))]
macro_rules! stderr_text {
    ($($words:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($words)*);
    }};
}

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
