//! Routing fixtures: each folder under `tests/fixtures/route/` holds a policy, an optional roster,
//! leads and optional `args` (`--now TIME`, `--explain`); the decisions are pinned by reviewed
//! snapshots. Routing runs through the library with in-memory state, exactly as `route` does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

use std::path::Path;
use switchboard::route::reader::{Limits, Line, read_line};
use switchboard::route::roster::Roster;
use switchboard::route::state::{MemoryState, StateStore};
use switchboard::route::{RouteConfig, Router};

/// Routes `leads` the way the CLI does, returning the output lines.
pub fn route_folder(folder: &Path) -> Vec<String> {
    let policy_text = std::fs::read_to_string(folder.join("policy.route")).unwrap();
    let report = switchboard::check_source(&policy_text);
    assert_eq!(
        report.error_count(),
        0,
        "{}: {:?}",
        folder.display(),
        report.diagnostics
    );
    let (policy, compiled) = report.compiled.unwrap();
    let roster = std::fs::read_to_string(folder.join("roster.json"))
        .ok()
        .map(|text| Roster::from_json(&text).unwrap());
    let args = std::fs::read_to_string(folder.join("args")).unwrap_or_default();
    let words: Vec<&str> = args.split_whitespace().collect();
    let now = words
        .iter()
        .position(|w| *w == "--now")
        .and_then(|i| words.get(i + 1))
        .map_or("2026-11-23T10:00:00Z", |v| v)
        .parse()
        .unwrap();
    let config = RouteConfig {
        now,
        explain: words.contains(&"--explain"),
        limits: Limits::default(),
    };
    let router = Router::new(&policy, &compiled, roster.as_ref(), config, &policy_text);
    let mut state = MemoryState::default();
    let leads = std::fs::read(folder.join("leads.ndjson")).unwrap();
    let mut input = &leads[..];
    let mut out = Vec::new();
    let mut number = 0;
    state.begin().unwrap();
    while let Some(line) = read_line(&mut input, config.limits.max_line_bytes).unwrap() {
        number += 1;
        let outcome = match line {
            Line::TooLong(length) => router.too_long(length),
            Line::Text(bytes) => router.route_line(&mut state, &bytes).unwrap(),
        };
        out.push(switchboard::route::wire::outcome_json(&outcome, number));
    }
    state.commit().unwrap();
    assert_eq!(out.len(), number, "one output line per input line");
    out
}

#[test]
fn routing_fixtures_match_their_snapshots() {
    insta::glob!("fixtures/route/*/policy.route", |path| {
        let folder = path.parent().unwrap();
        let lines = route_folder(folder);
        let pretty: Vec<String> = lines
            .iter()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).unwrap();
                if value.get("trace").is_some() {
                    serde_json::to_string_pretty(&value).unwrap()
                } else {
                    line.clone()
                }
            })
            .collect();
        insta::assert_snapshot!(pretty.join("\n"));
    });
}
