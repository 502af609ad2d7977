//! Properties of routing: fair rotations, bad input never lost, and the JSONTestSuite corpus
//! through the same reader `route` uses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

use std::collections::BTreeMap;
use std::path::Path;
use switchboard::route::reader::{Limits, Line, read_line};
use switchboard::route::state::{MemoryState, StateStore};
use switchboard::route::{RouteConfig, Router};

fn router_for(policy_text: &str) -> (switchboard::model::Policy, switchboard::graph::Compiled) {
    let report = switchboard::check_source(policy_text);
    assert_eq!(report.error_count(), 0, "{:?}", report.diagnostics);
    report.compiled.unwrap()
}

fn config() -> RouteConfig {
    RouteConfig {
        now: "2026-11-23T10:00:00Z".parse().unwrap(),
        explain: false,
        limits: Limits::default(),
    }
}

/// Routes `count` leads and returns the rep of each.
fn reps(policy_text: &str, count: usize) -> Vec<String> {
    let (policy, compiled) = router_for(policy_text);
    let router = Router::new(&policy, &compiled, None, config(), policy_text);
    let mut state = MemoryState::default();
    (0..count)
        .map(|i| {
            let line = format!("{{\"id\":\"l{i}\"}}");
            let outcome = router.route_line(&mut state, line.as_bytes()).unwrap();
            outcome
                .decision()
                .unwrap()
                .action
                .rep()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn round_robin_over_3000_leads_is_even_within_one() {
    let picks = reps(
        "schema lead { id: string }\npool desk { members anna, boris, chen }\notherwise -> pool desk\n",
        3_000,
    );
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for (index, rep) in picks.iter().enumerate() {
        *counts.entry(rep).or_default() += 1;
        let max = counts.values().max().unwrap();
        let min = if counts.len() == 3 {
            *counts.values().min().unwrap()
        } else {
            0
        };
        assert!(max - min <= 1, "after {} leads: {counts:?}", index + 1);
    }
    assert_eq!(
        counts.values().copied().collect::<Vec<_>>(),
        vec![1_000, 1_000, 1_000]
    );
}

#[test]
fn weighted_two_to_one_holds_within_one_lead_over_every_prefix() {
    let picks = reps(
        "schema lead { id: string }\npool desk { members anna, boris strategy weighted(anna=2, boris=1) }\notherwise -> pool desk\n",
        3_000,
    );
    let (mut anna, mut boris) = (0i64, 0i64);
    for (index, rep) in picks.iter().enumerate() {
        if rep == "anna" {
            anna += 1
        } else {
            boris += 1
        }
        let n = (index + 1) as f64;
        // anna should have 2/3 of every prefix, boris 1/3, each within one lead.
        assert!(
            (anna as f64 - n * 2.0 / 3.0).abs() <= 1.0,
            "prefix {}: anna {anna}, boris {boris}",
            index + 1
        );
        assert!(
            (boris as f64 - n / 3.0).abs() <= 1.0,
            "prefix {}: anna {anna}, boris {boris}",
            index + 1
        );
    }
    assert_eq!((anna, boris), (2_000, 1_000));
}

/// Runs a whole input through the reader and router, as `route` does.
fn route_input(policy_text: &str, input: &[u8], limits: Limits) -> Vec<String> {
    let (policy, compiled) = router_for(policy_text);
    let config = RouteConfig { limits, ..config() };
    let router = Router::new(&policy, &compiled, None, config, policy_text);
    let mut state = MemoryState::default();
    state.begin().unwrap();
    let mut cursor = input;
    let mut out = Vec::new();
    let mut number = 0;
    while let Some(line) = read_line(&mut cursor, limits.max_line_bytes).unwrap() {
        number += 1;
        out.push(match line {
            Line::TooLong(length) => {
                switchboard::route::wire::outcome_json(&router.too_long(length), number)
            }
            Line::Text(bytes) => switchboard::route::wire::outcome_json(
                &router.route_line(&mut state, &bytes).unwrap(),
                number,
            ),
        });
    }
    out
}

/// `route` finds each lead's rule on its reading thread, ahead of deciding
/// (`ParsedLead::with_rule_found`), and the rule's due and escalation times on its own
/// calendar (`ParsedLead::with_times_found`): the decisions are those of a router that finds
/// them itself, for the example policy's leads at every seventh hour of a week (inside and
/// outside its calendars), and for policies where the clock is often not the rule's own: a
/// pool with another calendar taking the lead after the first is at its cap, and reps on
/// shift on calendars of their own while the pool has none.
#[test]
fn a_rule_and_times_found_ahead_give_the_decision_the_router_would_make() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let monday: jiff::Timestamp = "2026-11-23T00:00:00Z".parse().unwrap();
    let week = |leads: &str| -> Vec<String> {
        let mut lines: Vec<String> = leads.lines().map(str::to_string).collect();
        for hour in (0..168).step_by(7) {
            for (index, line) in leads.lines().enumerate() {
                let mut value: serde_json::Value = serde_json::from_str(line).unwrap();
                let object = value.as_object_mut().unwrap();
                let at = monday + jiff::SignedDuration::from_hours(hour);
                object.insert("created_at".into(), at.to_string().into());
                object.insert("id".into(), format!("h{hour}-{index}").into());
                lines.push(value.to_string());
            }
        }
        lines
    };
    let example = std::fs::read_to_string(root.join("examples/routing.route")).unwrap();
    let example_leads = week(&std::fs::read_to_string(root.join("examples/leads.ndjson")).unwrap());
    let answers = decided_with_and_without_ahead(&example, &example_leads);
    // The week puts leads on both sides of the policy's calendars.
    let after_hours = answers
        .iter()
        .filter(|answer| answer.contains(r#""rule":"after_hours""#))
        .count();
    assert!(
        after_hours > 0 && after_hours < example_leads.len() / 2,
        "{after_hours}"
    );
    let other_clocks = "schema lead { id: string  intent: enum { low, high }  created_at: time }\n\
        calendar berlin { timezone Europe/Berlin  hours mon-fri 09:00-18:00 }\n\
        calendar new_york { timezone America/New_York  hours mon-fri 08:00-17:00 }\n\
        calendar msk { timezone Europe/Moscow  hours mon-fri 09:00-18:00 }\n\
        calendar nsk { timezone Asia/Novosibirsk  hours mon-fri 09:00-18:00 }\n\
        rep olga { calendar msk }\n\
        rep igor { calendar nsk }\n\
        pool first { members anna, boris  strategy round_robin  cap 3  calendar berlin }\n\
        pool second { members carl  strategy round_robin  calendar new_york }\n\
        pool national { members olga, igor  strategy round_robin  on shift }\n\
        queue nurture\n\
        rule hot: when intent = high -> pool first else pool second within 2h \
            escalate anna escalate carl after 3h\n\
        rule shift: when intent = low -> pool national within 30m escalate igor after 4h\n\
        otherwise -> queue nurture\n";
    let leads: String = (0..12)
        .map(|n| {
            let intent = if n % 3 == 0 { "low" } else { "high" };
            format!("{{\"id\":\"L-{n}\",\"intent\":\"{intent}\",\"created_at\":\"2026-11-23T10:00:00Z\"}}\n")
        })
        .collect();
    let answers = decided_with_and_without_ahead(other_clocks, &week(&leads));
    for (pool, at_least) in [("first", 3), ("second", 10), ("national", 10)] {
        let taken = answers
            .iter()
            .filter(|answer| answer.contains(&format!(r#""pool":"{pool}""#)))
            .count();
        assert!(taken >= at_least, "{pool}: {taken}");
    }
}

/// The decisions of `lines` by `policy_text`, the same whether each lead's rule and times
/// were found ahead or not (asserted).
fn decided_with_and_without_ahead(policy_text: &str, lines: &[String]) -> Vec<String> {
    use switchboard::model::EvalContext;
    use switchboard::route::ahead::TimesAhead;
    use switchboard::route::reader::parse_lead;
    let (policy, compiled) = router_for(policy_text);
    let config = config();
    let context = EvalContext { now: config.now };
    let router = Router::new(&policy, &compiled, None, config, policy_text);
    let times_ahead = TimesAhead::new(&policy);
    let mut answers = Vec::new();
    // 0: nothing ahead; 1: the rule; 2: the rule and its times; 3: all of it in place, as
    // `route` does (`find_ahead`, the fingerprint too).
    for ahead in 0..4 {
        let leads: Vec<_> = lines
            .iter()
            .map(|line| {
                parse_lead(&policy, line.as_bytes(), &Limits::default()).map(|lead| match ahead {
                    0 => lead,
                    1 => lead.with_rule_found(&policy, &compiled, &context),
                    2 => lead
                        .with_rule_found(&policy, &compiled, &context)
                        .with_times_found(&policy, &times_ahead, &context),
                    _ => {
                        let mut lead = lead;
                        lead.find_ahead(&policy, &compiled, &times_ahead, &context);
                        assert_eq!(lead.fingerprint, Some(policy.fingerprint(&lead.lead)));
                        lead
                    }
                })
            })
            .collect();
        let parsed = leads.iter().filter(|lead| lead.is_ok()).count();
        let found = |has: fn(&switchboard::route::reader::ParsedLead) -> bool| {
            leads
                .iter()
                .filter(|lead| matches!(lead, Ok(lead) if has(lead)))
                .count()
        };
        assert_eq!(
            found(|lead| lead.rule_found.is_some()),
            if ahead > 0 { parsed } else { 0 }
        );
        let with_times = found(|lead| lead.times_found.is_some());
        assert!(
            if ahead > 1 {
                with_times > parsed / 2
            } else {
                with_times == 0
            },
            "{with_times} of {parsed}"
        );
        let mut state = MemoryState::default();
        state.begin().unwrap();
        let mut outcomes = Vec::new();
        router
            .route_parsed(&mut state, &leads, &mut outcomes)
            .unwrap();
        answers.push(
            outcomes
                .iter()
                .enumerate()
                .map(|(index, outcome)| switchboard::route::wire::outcome_json(outcome, index + 1))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(answers[0].len(), lines.len());
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0], answers[2]);
    assert_eq!(answers[0], answers[3]);
    answers.swap_remove(0)
}

const ANY_OBJECT: &str =
    "schema lead { id: string  note: string? }\nqueue q\notherwise -> queue q\n";

/// Every `n_*` file of JSONTestSuite's test_parsing (text that must be rejected) gives an error
/// record; no file of the suite crashes the reader; lines in = lines out.
#[test]
fn json_test_suite_bad_input_gives_error_records() {
    let suite =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/jsontestsuite/test_parsing");
    let suite = if suite.exists() {
        suite
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/test_parsing")
    };
    let mut files: Vec<_> = std::fs::read_dir(&suite)
        .unwrap_or_else(|error| panic!("JSONTestSuite expected at {}: {error}", suite.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    let mut rejected = 0;
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(path).unwrap();
        // The suite's files are whole documents, some with newlines inside: route them as one
        // line each (newlines are line breaks in NDJSON), so every input line is accounted for.
        let newlines = bytes.iter().filter(|b| **b == b'\n').count();
        let lines_in = newlines + usize::from(!bytes.is_empty() && !bytes.ends_with(b"\n"));
        let out = route_input(ANY_OBJECT, &bytes, Limits::default());
        assert_eq!(out.len(), lines_in, "{name}: lines in = lines out");
        for line in &out {
            let value: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|_| panic!("{name}: output is not JSON: {line}"));
            assert!(
                value.get("error").is_some() || value.get("rule").is_some(),
                "{name}: {line}"
            );
        }
        if name.starts_with("n_") && !bytes.is_empty() && !bytes.contains(&b'\n') {
            assert!(
                out.iter().all(|line| line.contains("\"error\"")),
                "{name} must be rejected: {out:?}"
            );
            rejected += 1;
        }
    }
    assert!(rejected > 150, "only {rejected} n_ files checked");
}

#[test]
fn huge_and_deep_lines_are_errors_that_say_so() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let long = format!("{{\"id\":\"x\",\"note\":\"{}\"}}", "a".repeat(2_000_000));
    let input = format!("{deep}\n{long}\n{{\"id\":\"ok\"}}\n\u{feff}\n");
    let out = route_input(ANY_OBJECT, input.as_bytes(), Limits::default());
    assert_eq!(out.len(), 4);
    assert!(
        out[0].contains("lead.too_deep") && out[0].contains("deeper than 64 levels"),
        "{}",
        out[0]
    );
    assert!(
        out[1].contains("lead.too_long") && out[1].contains("2000020 bytes"),
        "{}",
        out[1]
    );
    assert!(out[2].contains("\"rule\""), "{}", out[2]);
    assert!(out[3].contains("\"error\""), "{}", out[3]);
    let invalid_utf8 = b"{\"id\":\"\xff\"}\n".to_vec();
    let out = route_input(ANY_OBJECT, &invalid_utf8, Limits::default());
    assert!(out[0].contains("lead.utf8"), "{}", out[0]);
}

mod fairness {
    use super::*;
    use proptest::prelude::*;
    use switchboard::route::roster::Roster;

    const LEADS: usize = 240;
    const START: i64 = 1_795_424_400; // 2026-11-23T09:00:00Z

    fn minute(offset: u32) -> jiff::Timestamp {
        jiff::Timestamp::from_second(START + i64::from(offset) * 60).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// docs/routing.md, "round_robin" and "weighted": whatever made members ineligible in
        /// between (here, out-of-office ranges), over every stretch of consecutive leads in
        /// which all members were eligible, round robin counts differ by at most one, and each
        /// weighted member's count is within two leads of its share (n * weight / sum).
        #[test]
        fn rotations_stay_fair_over_every_stretch_where_everyone_was_eligible(
            weights in prop::collection::vec(1u32..=3, 2..=4),
            is_weighted in any::<bool>(),
            absences in prop::collection::vec((0usize..4, 0u32..240, 1u32..40), 0..12),
        ) {
            let members: Vec<String> = (0..weights.len()).map(|m| format!("rep{m}")).collect();
            let weights: Vec<u32> = if is_weighted { weights } else { vec![1; members.len()] };
            let strategy = if is_weighted {
                let parts: Vec<String> = members
                    .iter()
                    .zip(&weights)
                    .map(|(rep, weight)| format!("{rep}={weight}"))
                    .collect();
                format!("weighted({})", parts.join(", "))
            } else {
                "round_robin".to_string()
            };
            let policy_text = format!(
                "schema lead {{ id: string  created_at: time }}\n\
                 pool desk {{ members {}  strategy {strategy} }}\n\
                 otherwise -> pool desk\n",
                members.join(", ")
            );
            let mut away = vec![vec![false; members.len()]; LEADS];
            let mut reps = serde_json::Map::new();
            for (index, rep) in members.iter().enumerate() {
                let ranges: Vec<serde_json::Value> = absences
                    .iter()
                    .filter(|(member, _, _)| member % members.len() == index)
                    .map(|&(_, from, length)| {
                        for lead in from..(from + length).min(LEADS as u32) {
                            away[lead as usize][index] = true;
                        }
                        serde_json::json!({
                            "from": minute(from).to_string(),
                            "to": minute(from + length).to_string(),
                        })
                    })
                    .collect();
                reps.insert(rep.clone(), serde_json::json!({ "out_of_office": ranges }));
            }
            let roster = Roster::from_json(&serde_json::json!({ "reps": reps }).to_string()).unwrap();
            let (policy, compiled) = router_for(&policy_text);
            let router = Router::new(&policy, &compiled, Some(&roster), config(), &policy_text);
            let mut state = MemoryState::default();
            let picks: Vec<Option<usize>> = (0..LEADS)
                .map(|lead| {
                    let line = format!(
                        "{{\"id\":\"l{lead}\",\"created_at\":\"{}\"}}",
                        minute(lead as u32)
                    );
                    let outcome = router.route_line(&mut state, line.as_bytes()).unwrap();
                    let rep = outcome.decision().unwrap().action.rep().map(str::to_string);
                    rep.and_then(|rep| members.iter().position(|m| *m == rep))
                })
                .collect();
            // Nobody absent is ever passed over for someone else, and the absent get nothing.
            for (lead, pick) in picks.iter().enumerate() {
                match pick {
                    Some(rep) => prop_assert!(!away[lead][*rep], "lead {lead} went to an absent rep"),
                    None => prop_assert!(away[lead].iter().all(|a| *a), "lead {lead} unassigned"),
                }
            }
            let total: u32 = weights.iter().sum();
            for start in 0..LEADS {
                let mut counts = vec![0u32; members.len()];
                for end in start..LEADS {
                    if away[end].iter().any(|a| *a) {
                        break;
                    }
                    counts[picks[end].unwrap()] += 1;
                    let length = (end - start + 1) as f64;
                    if is_weighted {
                        for (count, weight) in counts.iter().zip(&weights) {
                            let share = length * f64::from(*weight) / f64::from(total);
                            prop_assert!(
                                (f64::from(*count) - share).abs() < 2.0,
                                "leads {start}..={end}: counts {counts:?}, weights {weights:?}"
                            );
                        }
                    } else {
                        let most = counts.iter().max().unwrap();
                        let least = counts.iter().min().unwrap();
                        prop_assert!(
                            most - least <= 1,
                            "leads {start}..={end}: counts {counts:?}"
                        );
                    }
                }
            }
        }
    }
}
