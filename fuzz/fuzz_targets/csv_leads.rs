//! Fuzz target: CSV leads (`route::tabular`). Any bytes read as a CSV export against the example
//! policy: never a panic, exactly one NDJSON line per data row (as the csv crate counts rows),
//! and every line routed to a decision or an error record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Read;
use std::sync::OnceLock;
use switchboard_core::route::reader::{Limits, Line, read_line};
use switchboard_core::route::state::{MemoryState, StateStore};
use switchboard_core::route::tabular::{CsvLeads, CsvOptions};
use switchboard_core::route::{RouteConfig, Router};

const POLICY: &str = include_str!("../../examples/routing.route");

fn compiled() -> &'static (
    switchboard_core::model::Policy,
    switchboard_core::graph::Compiled,
) {
    static COMPILED: OnceLock<(
        switchboard_core::model::Policy,
        switchboard_core::graph::Compiled,
    )> = OnceLock::new();
    COMPILED.get_or_init(|| {
        switchboard_core::check_source(POLICY)
            .compiled
            .expect("the example policy compiles")
    })
}

fuzz_target!(|data: &[u8]| {
    let (policy, compiled) = compiled();
    let options = CsvOptions {
        lenient_enums: data.first().is_some_and(|b| b % 2 == 0),
        longest_row: Some(1 << 16),
    };
    let Ok((mut leads, _)) = CsvLeads::new(data, &[policy], options) else {
        return;
    };
    let mut lines = Vec::new();
    if leads.read_to_end(&mut lines).is_err() {
        return;
    }
    let mut records = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(data);
    let rows = records.byte_records().take_while(Result::is_ok).count();
    let limits = Limits {
        max_line_bytes: 1 << 20,
        max_depth: 16,
    };
    let config = RouteConfig {
        now: jiff::Timestamp::from_second(1_795_435_200).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        explain: false,
        limits,
    };
    let router = Router::new(policy, compiled, None, config, POLICY);
    let mut state = MemoryState::default();
    let _ = state.begin();
    let mut input = lines.as_slice();
    let mut routed = 0;
    while let Some(line) =
        read_line(&mut input, limits.max_line_bytes).expect("reading from memory cannot fail")
    {
        routed += 1;
        let outcome = match line {
            Line::TooLong(length) => router.too_long(length),
            Line::Text(bytes) => router
                .route_line(&mut state, &bytes)
                .expect("memory state cannot fail"),
        };
        let json = switchboard_core::route::wire::outcome_json(&outcome, routed);
        assert!(!json.contains('\n'));
    }
    assert_eq!(routed, rows, "one line per data row");
});
