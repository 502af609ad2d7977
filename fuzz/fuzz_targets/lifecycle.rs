//! Fuzz target: `track` and `sweep` on arbitrary event lines never panic, and whatever the
//! lines say, no lead is held by two reps at once and no rep holds the same lead twice. Each
//! input line is an event for `Router::track_line`; a line `sweep MINUTES` sweeps at that many
//! minutes after the leads' time instead.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_core::route::state::{MemoryState, StateStore};
use switchboard_core::route::{RouteConfig, Router};

const POLICY: &str = "schema lead { id: string  kind: enum { hot, warm }  created_at: time }
calendar berlin { timezone Europe/Berlin  hours mon-fri 09:00-18:00 }
pool desk { members anna, boris, chen  strategy round_robin  calendar berlin }
pool duo { members anna, boris  calendar berlin }
queue review
rule hot: when kind = hot -> pool desk within 15m escalate desk after 30m escalate review after 1h
otherwise -> pool duo within 15m escalate duo after 30m escalate duo after 1h
";

fuzz_target!(|data: &[u8]| {
    let report = switchboard_core::check_source(POLICY);
    let Some((policy, compiled)) = report.compiled else {
        panic!("the fuzz policy must check");
    };
    let start: jiff::Timestamp = "2026-11-23T09:00:00Z".parse().unwrap_or_default();
    let config = RouteConfig {
        now: start,
        explain: false,
        limits: Default::default(),
    };
    let router = Router::new(&policy, &compiled, None, config, POLICY);
    let mut state = MemoryState::default();
    for (index, kind) in ["hot", "warm", "hot", "warm"].iter().enumerate() {
        let line = format!(
            "{{\"id\":\"L-{index}\",\"kind\":\"{kind}\",\"created_at\":\"2026-11-23T10:00:00+01:00\"}}"
        );
        let _ = router.route_line(&mut state, line.as_bytes());
    }
    for line in data.split(|byte| *byte == b'\n') {
        if let Some(minutes) = line
            .strip_prefix(b"sweep ")
            .and_then(|rest| std::str::from_utf8(rest).ok())
            .and_then(|text| text.trim().parse::<u16>().ok())
        {
            let now = start
                .checked_add(jiff::SignedDuration::from_mins(i64::from(minutes)))
                .unwrap_or(start);
            while let Ok(Some(_)) = router.sweep_next(&mut state, now) {}
        } else {
            let _ = router.track_line(&mut state, line);
        }
    }
    let _ = state.each_lead(&mut |_, life| {
        let Some(life) = life else { return };
        assert!(life.holdings.iter().filter(|h| h.ended.is_none()).count() <= 1);
        let reps = life.reps();
        let mut distinct = reps.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), reps.len(), "a rep held {} twice", life.lead);
    });
});
