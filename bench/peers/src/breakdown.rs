//! Where each engine's time goes: the same leads timed in two phases, **read** (JSON text to
//! the engine's input: Switchboard's validated `Lead`, ZEN's `Variable`, CEL's `Value` through
//! serde_json) and **decide** (that input to a rule). Writing the output line is in neither.
//! Run after the end-to-end measurements, on a prefix of the same leads.

use crate::engines::{Cel, Switchboard, Zen, block_on};
use std::hint::black_box;
use std::time::{Duration, Instant};
use switchboard::graph::Outcome;
use switchboard::route::reader::parse_lead;

/// One engine's phases: `(engine, read, decide)` in nanoseconds per lead.
pub type Phases = (&'static str, f64, f64);

/// Nanoseconds per lead of each phase, medians over `runs`.
pub fn breakdown(
    switchboard: &Switchboard<'_>,
    zen: &Zen,
    cel: &mut Cel,
    leads: &[&[u8]],
    cel_leads: usize,
    runs: usize,
) -> Vec<Phases> {
    let (policy, compiled, context) = (
        switchboard.policy,
        switchboard.compiled,
        &switchboard.context,
    );
    let per_lead = |times: &mut Vec<Duration>, count: usize| {
        times.sort();
        times[times.len() / 2].as_secs_f64() * 1e9 / count as f64
    };
    let mut out = Vec::new();

    let (mut read, mut decide) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let started = Instant::now();
        let parsed: Vec<_> = leads
            .iter()
            .map(|line| parse_lead(policy, line, &switchboard.limits).unwrap())
            .collect();
        read.push(started.elapsed());
        let started = Instant::now();
        let mut matched = 0usize;
        // Consumed, as ZEN and CEL consume theirs: dropping the input is part of deciding.
        for lead in parsed {
            matched += usize::from(matches!(
                compiled.evaluate(policy, &lead.lead, context),
                Outcome::Rule(_)
            ));
        }
        decide.push(started.elapsed());
        black_box(matched);
    }
    out.push((
        "switchboard",
        per_lead(&mut read, leads.len()),
        per_lead(&mut decide, leads.len()),
    ));

    let (mut read, mut decide) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let started = Instant::now();
        let parsed: Vec<zen_engine::Variable> = leads
            .iter()
            .map(|line| serde_json::from_slice(line).unwrap())
            .collect();
        read.push(started.elapsed());
        let started = Instant::now();
        let mut matched = 0usize;
        for input in parsed {
            let response = block_on(zen.decision.evaluate(input)).unwrap();
            matched += usize::from(response.result.dot("rule").is_some());
        }
        decide.push(started.elapsed());
        black_box(matched);
    }
    out.push((
        "zen",
        per_lead(&mut read, leads.len()),
        per_lead(&mut decide, leads.len()),
    ));

    let cel_leads = &leads[..cel_leads.min(leads.len())];
    let (mut read, mut decide) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let started = Instant::now();
        let parsed: Vec<cel::Value> = cel_leads
            .iter()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_slice(line).unwrap();
                cel::to_value(&value).unwrap()
            })
            .collect();
        read.push(started.elapsed());
        let started = Instant::now();
        let mut matched = 0usize;
        for input in parsed {
            cel.context.add_variable_from_value("lead", input);
            for (_, program) in &cel.rules {
                if program.execute(&cel.context) == Ok(cel::Value::Bool(true)) {
                    matched += 1;
                    break;
                }
            }
        }
        decide.push(started.elapsed());
        black_box(matched);
    }
    out.push((
        "cel",
        per_lead(&mut read, cel_leads.len()),
        per_lead(&mut decide, cel_leads.len()),
    ));

    let mut read = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let parsed: Vec<serde_json::Value> = leads
            .iter()
            .map(|line| serde_json::from_slice(line).unwrap())
            .collect();
        read.push(started.elapsed());
        black_box(parsed);
    }
    out.push(("floor", per_lead(&mut read, leads.len()), 0.0));
    out
}
