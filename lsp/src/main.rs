//! `switchboard-lsp`: the Switchboard language server on stdio (also started by `switchboard lsp`).

fn main() -> std::process::ExitCode {
    switchboard_lsp::run_stdio()
}
