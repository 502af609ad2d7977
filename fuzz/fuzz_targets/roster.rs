//! Fuzz target: the roster reader (a CRM export). Any bytes as a roster file, read and held
//! against the example policy: never a panic, every diagnostic span on character boundaries
//! inside the text, messages bounded, and the reader used by `route` agreeing with the one
//! `check` uses on whether the file can be read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use switchboard_core::route::roster::{Roster, check, read};

const POLICY: &str = include_str!("../../examples/routing.route");

fn policy() -> &'static switchboard_core::model::Policy {
    static COMPILED: OnceLock<(switchboard_core::model::Policy, switchboard_core::graph::Compiled)> = OnceLock::new();
    &COMPILED.get_or_init(|| switchboard_core::check_source(POLICY).compiled.expect("the example policy compiles")).0
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let now = jiff::Timestamp::from_second(1_795_435_200).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let (file, mut diagnostics) = read::read_with_diagnostics(text);
    // The strict reader accepts exactly the files the reporting one reads without an error.
    let clean = file.is_some() && !diagnostics.iter().any(|d| d.is_error());
    assert_eq!(read::read(text).is_ok(), clean);
    if let Some(file) = &file {
        diagnostics.extend(check::check(file, policy(), now));
    }
    for diagnostic in &diagnostics {
        assert!(diagnostic.span.start <= diagnostic.span.end);
        assert!(diagnostic.span.end <= text.len());
        assert!(text.is_char_boundary(diagnostic.span.start));
        assert!(text.is_char_boundary(diagnostic.span.end));
        assert!(diagnostic.message.chars().count() < 4096, "{}", diagnostic.message);
    }
    let shown = switchboard_core::render::FileDiagnostics {
        path: "roster.json",
        text,
        diagnostics: &diagnostics,
    };
    let _ = switchboard_core::render::human(&shown, switchboard_core::render::Style::Ascii);
    if let Ok(roster) = Roster::from_json(text) {
        let _ = roster;
    }
});
