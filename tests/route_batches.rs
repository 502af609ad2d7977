//! A batch's outcomes are made in the vector the batch before left, in place
//! (`Router::route_batch`, `Router::route_parsed`): what a batch answers never depends on what
//! that vector held. Every kind of outcome (a decision with its trace, a duplicate, an id
//! conflict, a line that is no lead, a line too long) is routed into slots that held every other
//! kind, in batches longer and shorter than the one before, and compared with the same batches
//! routed into new vectors on a twin state.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use switchboard::route::reader::{Limits, Line, ParsedLead, parse_lead};
use switchboard::route::state::{MemoryState, StateStore};
use switchboard::route::{Outcome, RouteConfig, Router, wire};

const POLICY: &str = "schema lead {\n  id: string\n  intent: enum { low, high }\n  \
    created_at: time?\n}\n\
    queue nurture\n\
    pool senior { members anna, boris  strategy round_robin }\n\
    when intent=high -> pool senior within 1h escalate boris\n\
    otherwise -> queue nurture\n";

fn lead(id: &str, intent: &str) -> String {
    format!(r#"{{"id":"{id}","intent":"{intent}","created_at":"2026-11-24T10:00:00+01:00"}}"#)
}

/// The batches, each mixing kinds, so that every slot meets another kind than it held.
fn batches() -> Vec<Vec<String>> {
    vec![
        vec![
            lead("L-1", "high"),
            lead("L-2", "low"),
            lead("L-3", "high"),
            r#"{"id":"bad","intent":"medium"}"#.to_string(),
            lead("L-4", "high"),
            lead("L-5", "low"),
        ],
        // Shorter: a duplicate, an id conflict, no JSON, a new lead.
        vec![
            lead("L-1", "high"),
            lead("L-2", "high"),
            "not json".to_string(),
            lead("L-6", "high"),
        ],
        // Longer: decisions where errors were, errors where decisions were.
        vec![
            lead("L-7", "high"),
            "{}".to_string(),
            lead("L-3", "high"),
            lead("L-8", "low"),
            lead("L-9", "high"),
            lead("L-4", "low"),
            lead("L-10", "high"),
            lead("L-10", "high"),
        ],
        vec![lead("L-11", "low")],
    ]
}

fn written(outcomes: &[Outcome]) -> Vec<String> {
    outcomes
        .iter()
        .enumerate()
        .map(|(index, outcome)| {
            let mut line = String::new();
            wire::write_outcome(&mut line, outcome, index + 1);
            line
        })
        .collect()
}

#[test]
fn a_batch_answers_the_same_in_a_reused_vector_as_in_a_new_one() {
    let report = switchboard::check_source(POLICY);
    let (policy, compiled) = report.compiled.expect("the policy checks");
    let config = RouteConfig {
        now: "2026-11-24T09:30:00Z".parse().unwrap(),
        explain: true,
        limits: Limits {
            max_line_bytes: 200,
            ..Limits::default()
        },
    };
    let reusing = Router::new(&policy, &compiled, None, config, POLICY);
    let fresh = Router::new(&policy, &compiled, None, config, POLICY);
    let (mut reused_state, mut fresh_state) = (MemoryState::default(), MemoryState::default());
    let mut reused: Vec<Outcome> = Vec::new();
    let mut kinds = std::collections::BTreeSet::new();
    for (number, batch) in batches().into_iter().enumerate() {
        // Lines as `serve` gives them, and the same lines parsed as `route` gives them; a
        // line longer than the limit is one `route` skipped.
        let mut lines: Vec<Line> = batch
            .iter()
            .map(|line| Line::Text(line.as_bytes().to_vec()))
            .collect();
        lines.push(Line::TooLong(5_000));
        let parsed: Vec<Result<ParsedLead, _>> = batch
            .iter()
            .map(|line| parse_lead(&policy, line.as_bytes(), &Limits::default()))
            .collect();
        let mut new = Vec::new();
        if number % 2 == 0 {
            reused_state.begin().unwrap();
            reusing
                .route_batch(&mut reused_state, &lines, &mut reused)
                .unwrap();
            fresh_state.begin().unwrap();
            fresh
                .route_batch(&mut fresh_state, &lines, &mut new)
                .unwrap();
        } else {
            reused_state.begin().unwrap();
            reusing
                .route_parsed(&mut reused_state, &parsed, &mut reused)
                .unwrap();
            fresh_state.begin().unwrap();
            fresh
                .route_parsed(&mut fresh_state, &parsed, &mut new)
                .unwrap();
        }
        reused_state.commit().unwrap();
        fresh_state.commit().unwrap();
        assert_eq!(reused.len(), new.len(), "batch {number}");
        assert_eq!(reused, new, "batch {number}");
        assert_eq!(written(&reused), written(&new), "batch {number}");
        for (outcome, line) in reused.iter().zip(written(&reused)) {
            kinds.insert(match outcome {
                Outcome::Decided {
                    duplicate: true, ..
                } => "duplicate".to_string(),
                Outcome::Decided { trace: Some(_), .. } => "decision with a trace".to_string(),
                Outcome::Decided { .. } => "decision without a trace".to_string(),
                Outcome::Invalid(error) => {
                    assert!(line.contains(error.code), "{line}");
                    error.code.to_string()
                }
            });
        }
    }
    // Every kind was met, so each slot held several kinds in turn.
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            "decision with a trace",
            "duplicate",
            "lead.id_conflict",
            "lead.json",
            "lead.missing",
            "lead.too_long",
            "lead.type",
        ]
    );
}
