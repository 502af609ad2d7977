//! Fuzz target: webhook mappings and payloads (`serve --hubspot-map`, `--standard-map`). The
//! bytes are a mapping file, a NUL, and a payload: the mapping is read against the example
//! policy, the payload mapped to leads, and each lead routed. Never a panic; a mapping that
//! reads gives, for a payload that is JSON, lead lines that are JSON objects, each answered by
//! one decision or one error record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use switchboard_core::route::mapping::Mapping;
use switchboard_core::route::state::MemoryState;
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
    let (mapping_bytes, payload_bytes) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b"{}"[..]),
    };
    let Ok(mapping_text) = std::str::from_utf8(mapping_bytes) else {
        return;
    };
    let (policy, graph) = compiled();
    let Ok(mapping) = Mapping::parse(mapping_text, policy) else {
        return;
    };
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(payload_bytes) else {
        return;
    };
    let Ok(lines) = mapping.leads(&payload, Some("msg_fuzz")) else {
        return;
    };
    let config = RouteConfig {
        now: jiff::Timestamp::from_second(1_795_435_200).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        explain: false,
        limits: Default::default(),
    };
    let router = Router::new(policy, graph, None, config, POLICY);
    let mut state = MemoryState::default();
    for line in &lines {
        // A lead the mapping could not convert is its error record, named by an id or none.
        let line = match line {
            Ok(line) => line,
            Err(refused) => {
                assert_eq!(refused.code, "lead.type");
                continue;
            }
        };
        let value: serde_json::Value = serde_json::from_slice(line).expect("a mapped lead is JSON");
        assert!(value.is_object());
        let outcome = router
            .route_line(&mut state, line)
            .expect("the memory state never fails");
        let _ = switchboard_core::route::wire::outcome_json(&outcome, 1);
    }
});
