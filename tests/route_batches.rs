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

/// A router's settings for these tests: a fixed now, no explanations, the default limits.
fn plain_config() -> RouteConfig {
    RouteConfig {
        now: "2026-11-24T09:30:00Z".parse().unwrap(),
        explain: false,
        limits: Limits::default(),
    }
}

/// Each line parsed for `policy` with the default limits.
fn parsed_lines(
    policy: &switchboard::model::Policy,
    lines: impl IntoIterator<Item = impl AsRef<str>>,
) -> Vec<Result<ParsedLead, switchboard::route::reader::LeadError>> {
    lines
        .into_iter()
        .map(|line| parse_lead(policy, line.as_ref().as_bytes(), &Limits::default()))
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
        let parsed = parsed_lines(&policy, &batch);
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

/// Pools of three, one and four members with three strategies and a cap, a named rep from a
/// field (set: one candidate; unset: the action fails and the rule's `else` is tried), and a
/// queue: decisions whose traces have one or two actions and lists of several lengths.
const TRACED_POLICY: &str = "schema lead {\n  id: string\n  kind: enum { a, b, c, d, e }\n  \
    owner: string?\n  created_at: time?\n}\n\
    queue nurture\n\
    pool trio { members anna, boris, chen  strategy least_loaded  cap 2 }\n\
    pool solo { members dora  strategy round_robin }\n\
    pool four { members egor, fay, gus, hal  strategy ordered }\n\
    when kind=a -> pool trio\n\
    when kind=b -> pool solo\n\
    when kind=c -> pool four\n\
    when kind=d -> rep owner else pool trio\n\
    otherwise -> queue nurture\n";

/// A trace kept with a decision is made in the memory of the trace the lead before kept (its
/// action texts and candidate lists written over, longer or shorter): every lead's kept trace
/// is the one a router that never routed before makes on a twin state.
#[test]
fn a_kept_trace_is_the_same_made_in_the_memory_of_the_last_one() {
    use switchboard::store::sqlite::SqliteState;
    let report = switchboard::check_source(TRACED_POLICY);
    let (policy, compiled) = report.compiled.expect("the policy checks");
    let config = plain_config();
    let dir = std::env::temp_dir().join(format!("switchboard-traces-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut reused_state = SqliteState::open(&dir.join("reused.db")).unwrap();
    let mut fresh_state = SqliteState::open(&dir.join("fresh.db")).unwrap();
    assert!(reused_state.keeps_traces());
    let reusing = Router::new(&policy, &compiled, None, config, TRACED_POLICY);
    // Kinds in an order that makes each trace follow every other shape.
    let kinds = "acbadcebdaecabdcdaeb";
    let leads: Vec<String> = kinds
        .chars()
        .enumerate()
        .map(|(n, kind)| {
            let owner = if n % 3 == 0 { r#","owner":"zoe""# } else { "" };
            format!(r#"{{"id":"T-{n}","kind":"{kind}"{owner}}}"#)
        })
        .collect();
    let parsed = parsed_lines(&policy, &leads);
    let mut outcomes = Vec::new();
    reused_state.begin().unwrap();
    reusing
        .route_parsed(&mut reused_state, &parsed, &mut outcomes)
        .unwrap();
    reused_state.commit().unwrap();
    let mut shapes = std::collections::BTreeSet::new();
    for (lead, line) in parsed.iter().zip(&leads) {
        let lead = lead.as_ref().unwrap();
        // A new router for each lead: nothing spare to make its trace in.
        let fresh = Router::new(&policy, &compiled, None, config, TRACED_POLICY);
        fresh_state.begin().unwrap();
        fresh.route_lead(&mut fresh_state, lead).unwrap();
        fresh_state.commit().unwrap();
        let kept = reused_state.recorded(&lead.id).unwrap().unwrap();
        let expected = fresh_state.recorded(&lead.id).unwrap().unwrap();
        assert_eq!(kept, expected, "{line}");
        let trace = kept.trace.unwrap();
        shapes.insert(
            trace
                .actions
                .iter()
                .map(|action| match action {
                    switchboard::route::decision::ActionTrace::Candidates {
                        candidates, ..
                    } => format!("{} candidates", candidates.len()),
                    other => format!("{other:?}")
                        .split(' ')
                        .next()
                        .unwrap_or("")
                        .to_string(),
                })
                .collect::<Vec<_>>()
                .join(" then "),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    // Every shape was made in the memory of the others.
    assert_eq!(
        shapes.into_iter().collect::<Vec<_>>(),
        [
            "1 candidates",
            "3 candidates",
            "4 candidates",
            "Failed then 3 candidates",
            "Queued",
        ]
    );
}

/// Routes `lines` in one batch with a router of `source` on a memory state, and hands the
/// router and the outcomes to `check`.
fn routed_in_one_batch(source: &str, lines: &[String], check: impl FnOnce(&Router, &[Outcome])) {
    let report = switchboard::check_source(source);
    let (policy, compiled) = report.compiled.expect("the policy checks");
    let config = plain_config();
    let router = Router::new(&policy, &compiled, None, config, source);
    let parsed = parsed_lines(&policy, lines);
    let mut state = MemoryState::default();
    let mut outcomes = Vec::new();
    state.begin().unwrap();
    router
        .route_parsed(&mut state, &parsed, &mut outcomes)
        .unwrap();
    state.commit().unwrap();
    check(&router, &outcomes);
}

/// The router's line for each outcome (its names and reasons copied from what it wrote
/// before) is the plain writer's.
fn assert_router_lines_are_plain(router: &Router, outcomes: &[Outcome]) {
    for (index, outcome) in outcomes.iter().enumerate() {
        let mut routed = String::new();
        router.write_outcome(&mut routed, outcome, index + 1);
        let mut plain = String::new();
        wire::write_outcome(&mut plain, outcome, index + 1);
        assert_eq!(routed, plain);
    }
}

const CAPPED_POLICY: &str = "schema lead {\n  id: string\n  tier: enum { a, b }\n}\n\
    pool first { members anna, boris  strategy round_robin  cap 1 }\n\
    pool second { members boris, anna  strategy weighted(boris=1, anna=0)  cap 2 }\n\
    when tier=a -> pool first\n\
    otherwise -> pool second\n";

/// Leads turned away for the same reason share one reason (made once, and written from what
/// was written last), and every reason reads as it did when each was written out in full:
/// two pools of the same reps, caps reached in turn, a rep passed over for a weight of 0.
#[test]
fn a_reason_met_again_is_one_name_and_reads_the_same() {
    let tiers = ["a", "a", "a", "b", "a", "b", "b", "a"];
    let lines: Vec<String> = tiers
        .iter()
        .enumerate()
        .map(|(n, tier)| format!(r#"{{"id":"L-{n}","tier":"{tier}"}}"#))
        .collect();
    routed_in_one_batch(CAPPED_POLICY, &lines, |router, outcomes| {
        let reasons: Vec<Option<switchboard::model::Name>> = outcomes
            .iter()
            .map(|outcome| {
                let decision = outcome.decision().expect("a decision");
                decision.reasons.first().map(|reason| reason.reason.clone())
            })
            .collect();
        let first_full = "nobody in pool `first` is eligible: anna at cap 1/1, boris at cap 1/1";
        // Boris took L-3 in the second pool: the first now finds him over its cap.
        let first_over = "nobody in pool `first` is eligible: anna at cap 1/1, boris at cap 2/1";
        let second_full =
            "nobody in pool `second` is eligible: boris at cap 2/2, anna has weight 0";
        let texts: Vec<Option<&str>> = reasons.iter().map(|reason| reason.as_deref()).collect();
        assert_eq!(
            texts,
            [
                None,
                None,
                Some(first_full),
                None,
                Some(first_over),
                Some(second_full),
                Some(second_full),
                Some(first_over),
            ]
        );
        // The same reason is the same name, not a copy.
        let same = |a: usize, b: usize| match (&reasons[a], &reasons[b]) {
            (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b),
            _ => false,
        };
        assert!(same(4, 7) && same(5, 6));
        // Twice over: the second time every reason is written from the router's last ones.
        assert_router_lines_are_plain(router, outcomes);
        assert_router_lines_are_plain(router, outcomes);
    });
}

/// A pool too large to keep its reasons (45 members) says the same as a small one: every
/// member at its cap, in member order, and the router's line is the plain writer's.
#[test]
fn a_large_pool_s_reason_reads_the_same() {
    let members: Vec<String> = (0..45).map(|n| format!("rep_{n:02}")).collect();
    let policy_text = format!(
        "schema lead {{\n  id: string\n}}\n\
         pool everyone {{ members {}  strategy round_robin  cap 1 }}\n\
         otherwise -> pool everyone\n",
        members.join(", ")
    );
    let lines: Vec<String> = (0..48).map(|n| format!(r#"{{"id":"L-{n}"}}"#)).collect();
    let everyone_at_cap: Vec<String> = members.iter().map(|m| format!("{m} at cap 1/1")).collect();
    let expected = format!(
        "nobody in pool `everyone` is eligible: {}",
        everyone_at_cap.join(", ")
    );
    routed_in_one_batch(&policy_text, &lines, |router, outcomes| {
        for (index, outcome) in outcomes.iter().enumerate() {
            let decision = outcome.decision().expect("a decision");
            let reason = decision.reasons.first().map(|reason| &*reason.reason);
            assert_eq!(
                reason,
                (index >= 45).then_some(expected.as_str()),
                "L-{index}"
            );
        }
        assert_router_lines_are_plain(router, outcomes);
    });
}
