//! `switchboard lsp`: the language server on stdio, linked into this binary (crate `lsp/`,
//! behind the default `lsp` feature).

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct LspArgs {
    /// Accepted for editors that pass it (the server always speaks on stdio)
    #[arg(long)]
    stdio: bool,
}

#[cfg(feature = "lsp")]
pub fn run(_args: &LspArgs) -> Result<ExitCode, super::Failure> {
    Ok(switchboard_lsp::run_stdio(std::sync::Arc::new(
        switchboard::disk::DiskFiles,
    )))
}

#[cfg(not(feature = "lsp"))]
pub fn run(_args: &LspArgs) -> Result<ExitCode, super::Failure> {
    Err(super::Failure::usage(
        "this `switchboard` was built without the language server; \
         reinstall with the default features: `cargo install --path .`"
            .to_string(),
    ))
}
