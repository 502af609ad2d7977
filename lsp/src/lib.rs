//! The Switchboard language server: editor diagnostics, completion, hover, navigation, rename,
//! outline, formatting, quick fixes, semantic tokens, inlay hints and code lenses for policy
//! files, over the Language Server Protocol on stdio.
//!
//! It reuses the library whole (the error-tolerant parser, the checker, the decision-graph
//! analysis, the formatter and the test runner); this crate only turns the library's byte spans
//! into protocol positions (UTF-16, in [`position`]) and its values into protocol messages. The
//! library knows nothing of the protocol.

#![deny(unsafe_code)]

/// A line on standard error (the editor's log), as `eprintln!` writes it, except that a log
/// that cannot be written is no panic: the server goes on without it.
macro_rules! stderr_line {
    ($($words:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($words)*);
    }};
}

pub mod actions;
pub mod completion;
pub mod document;
pub mod hints;
pub mod hover;
pub mod index;
pub mod lexer;
pub mod navigate;
pub mod outline;
pub mod position;
pub mod server;
pub mod threads;
pub mod tokens;
pub mod transport;
pub mod workspace;

use tower_lsp_server::{LspService, Server};

/// The protocol's types, for callers that build requests (benchmarks, tests).
pub use tower_lsp_server::ls_types;

/// Serves the protocol on stdin and stdout until the client says `exit`. Files that are not open
/// in the editor (a policy a file of tests uses, a test's roster, files of tests beside a
/// policy) are read from `disk`.
pub fn run_stdio(disk: workspace::Disk) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            stderr_line!("error: cannot start the language server: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    let shut_down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let told = std::sync::Arc::clone(&shut_down);
    runtime.block_on(async {
        let (service, socket) =
            LspService::build(move |client| server::Backend::new(client, disk, told))
                .custom_method(transport::REJECTED, server::Backend::rejected)
                .finish();
        // The library reads from a pipe that only ever holds well-formed messages.
        let (server_input, guard_output) = tokio::io::duplex(1 << 16);
        let guard = tokio::spawn(transport::forward_valid_messages(
            tokio::io::stdin(),
            guard_output,
        ));
        Server::new(server_input, tokio::io::stdout(), socket)
            .serve(service)
            .await;
        guard.abort();
    });
    // The reader of stdin may still be blocked in a read; do not wait for it.
    runtime.shutdown_background();
    // `exit` (or the end of input) without `shutdown` first: code 1, as the protocol says.
    if shut_down.load(std::sync::atomic::Ordering::SeqCst) {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    }
}
