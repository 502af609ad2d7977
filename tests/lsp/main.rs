//! The language server, `switchboard lsp`, spoken to over stdio as editors speak to it: the
//! protocol suite with reviewed snapshots, the robustness suite, and pygls's client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod hostile;
mod protocol;
mod real_client;
mod robustness;
