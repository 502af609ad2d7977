//! Fuzz target: the lead reader `route` uses. Any bytes, split into lines by the bounded reader,
//! routed against the example policy: never a panic, and exactly one JSON output line per input
//! line (a decision or an error record).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use switchboard_core::route::reader::{Limits, Line, read_line};
use switchboard_core::route::state::{MemoryState, StateStore};
use switchboard_core::route::{RouteConfig, Router};

const POLICY: &str = include_str!("../../examples/routing.route");

fn compiled() -> &'static (switchboard_core::model::Policy, switchboard_core::graph::Compiled) {
    static COMPILED: OnceLock<(switchboard_core::model::Policy, switchboard_core::graph::Compiled)> = OnceLock::new();
    COMPILED.get_or_init(|| switchboard_core::check_source(POLICY).compiled.expect("the example policy compiles"))
}

fuzz_target!(|data: &[u8]| {
    let (policy, compiled) = compiled();
    let limits = Limits { max_line_bytes: 4096, max_depth: 16 };
    let config = RouteConfig {
        now: jiff::Timestamp::from_second(1_795_435_200).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        explain: data.first().is_some_and(|b| b % 2 == 0),
        limits,
    };
    let router = Router::new(policy, compiled, None, config, POLICY);
    let mut state = MemoryState::default();
    let _ = state.begin();
    let mut input = data;
    let mut lines_in = 0;
    let mut lines_out = 0;
    while let Some(line) = read_line(&mut input, limits.max_line_bytes).expect("reading from memory cannot fail") {
        lines_in += 1;
        let outcome = match line {
            Line::TooLong(length) => router.too_long(length),
            Line::Text(bytes) => router.route_line(&mut state, &bytes).expect("memory state cannot fail"),
        };
        let json = switchboard_core::route::wire::outcome_json(&outcome, lines_in);
        let value: serde_json::Value = serde_json::from_str(&json).expect("every output line is JSON");
        assert!(value.get("error").is_some() || value.get("action").is_some());
        assert!(!json.contains('\n'));
        lines_out += 1;
    }
    assert_eq!(lines_in, lines_out);
    let newlines = data.iter().filter(|b| **b == b'\n').count();
    assert_eq!(lines_in, newlines + usize::from(!data.is_empty() && !data.ends_with(b"\n")));
});
