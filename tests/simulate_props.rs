//! Properties of `simulate`'s figures (issue 19), through the library over random streams of
//! leads, response models and seeds: each pool's shares and Jain's index equal a direct count
//! of the decisions the run made (routed and escalated), every lead is routed once, and no
//! SLA is left open when the run settles.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

use proptest::prelude::*;
use std::collections::BTreeMap;
use switchboard::route::reader::{Limits, parse_lead};
use switchboard::route::state::MemoryState;
use switchboard::route::{Outcome, RouteConfig, Router};
use switchboard::simulate::responses::{Counted, Profile, ResponseModel};
use switchboard::simulate::{Arrival, Logged, Touches, figures};

const POLICY: &str = "schema lead { id: string  intent: enum { low, medium, high }  \
                      region: enum { emea, amer }  created_at: time }
calendar berlin { timezone Europe/Berlin  hours mon-fri 09:00-18:00 }
calendar new_york { timezone America/New_York  hours mon-fri 09:00-17:00 }
rep olivia { calendar new_york }
pool senior { members anna, boris, chen  strategy round_robin  calendar berlin }
pool sdr { members dmitri, egor, sergei  strategy weighted(dmitri=2, egor=1, sergei=1)  calendar berlin }
pool amer { members olivia, james  strategy round_robin  calendar new_york  on shift }
pool backup { members egor, dmitri  strategy ordered  calendar berlin }
pool solo { members chen  calendar berlin }
queue nurture
rule us: when region = amer and intent = high -> pool amer else pool senior within 1h escalate backup after 2h
rule solo: when region = amer and intent = medium -> pool solo within 30m escalate solo after 1h escalate backup after 2h
rule hot: when intent = high -> pool senior within 15m escalate backup after 30m
rule warm: when intent = medium -> pool sdr within 1h escalate backup after 2h
otherwise -> queue nurture
";

/// (minutes after Monday 2026-11-23 00:00 UTC, intent, region)
fn leads() -> impl Strategy<Value = Vec<(u32, u8, u8)>> {
    prop::collection::vec((0u32..(5 * 24 * 60), 0u8..3, 0u8..2), 1..60)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn shares_and_jain_equal_a_direct_count_of_the_decisions(
        leads in leads(),
        seed in 0u64..1_000,
        never in 0.0f64..0.6,
        median in 60.0f64..7_200.0,
    ) {
        let report = switchboard::check_source(POLICY);
        let (policy, compiled) = report.compiled.expect("the policy checks");
        let start: jiff::Timestamp = "2026-11-23T00:00:00Z".parse().unwrap();
        let limits = Limits::default();
        let mut arrivals: Vec<Arrival> = leads
            .iter()
            .enumerate()
            .map(|(index, (minutes, intent, region))| {
                let at = start + jiff::SignedDuration::from_mins(i64::from(*minutes));
                let line = format!(
                    "{{\"id\":\"P-{index}\",\"intent\":\"{}\",\"region\":\"{}\",\"created_at\":\"{at}\"}}",
                    ["low", "medium", "high"][*intent as usize],
                    ["emea", "amer"][*region as usize],
                );
                let lead = parse_lead(&policy, line.as_bytes(), &limits).unwrap();
                Arrival { input_line: index + 1, at, lead }
            })
            .collect();
        arrivals.sort_by_key(|arrival| (arrival.at, arrival.input_line));
        let model = ResponseModel {
            default: Profile {
                median_seconds: Some(median),
                p90_seconds: Some(median * 6.0),
                never: Some(never),
                counted: Some(Counted::Working),
            },
            ..ResponseModel::default()
        };
        let mut router = Router::new(
            &policy,
            &compiled,
            None,
            RouteConfig { now: start, explain: false, limits },
            POLICY,
        );
        let mut state = MemoryState::default();
        // The direct count: every holding of a rep through a pool, from the decisions made. A
        // step's decision is a new holding only when the holder changed (a step that finds
        // nobody leaves the lead with its holder, and no rep gets a lead twice).
        let mut held: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        let mut holder: BTreeMap<String, Option<(String, String)>> = BTreeMap::new();
        let mut routed = 0u64;
        let mut count = |decision: &switchboard::route::Decision| {
            let now = decision
                .action
                .pool()
                .zip(decision.action.rep())
                .map(|(pool, rep)| (pool.to_string(), rep.to_string()));
            let before = holder.insert(decision.lead.to_string(), now.clone());
            if before.is_some_and(|before| before == now) {
                return;
            }
            if let Some((pool, rep)) = now {
                *held.entry(pool).or_default().entry(rep).or_default() += 1;
            }
        };
        let tally = switchboard::simulate::run(
            &mut router,
            &policy,
            &mut state,
            arrivals,
            Touches::Model { model: &model, seed },
            &mut |logged| match logged {
                Logged::Routed { outcome: Outcome::Decided { decision, .. }, .. } => {
                    routed += 1;
                    count(decision);
                }
                Logged::Routed { .. } => panic!("every generated lead is valid"),
                Logged::Swept(fired) => count(&fired.decision),
                Logged::Tracked { .. } => {}
            },
        )
        .unwrap();
        prop_assert_eq!(routed, leads.len() as u64);
        prop_assert_eq!(tally.routed, leads.len() as u64);
        let simulated = figures::build(&mut state, &policy, tally, None).unwrap();
        for pool_def in &policy.pools {
            let weights: Vec<u64> = match &pool_def.strategy {
                switchboard::model::StrategyDef::Weighted(weights) => weights.clone(),
                _ => vec![1; pool_def.members.len()],
            };
            let direct: Vec<(String, u64, u64)> = pool_def
                .members
                .iter()
                .zip(&weights)
                .map(|(rep, weight)| {
                    let leads = held.get(&pool_def.name).and_then(|reps| reps.get(rep)).copied().unwrap_or(0);
                    (rep.clone(), leads, *weight)
                })
                .collect();
            let total: u64 = direct.iter().map(|(_, leads, _)| leads).sum();
            let Some(shares) = simulated.report.shares.get(&pool_def.name) else {
                prop_assert_eq!(total, 0, "pool {} has holdings but no shares", pool_def.name);
                continue;
            };
            let reported: Vec<(String, u64, u64)> = shares
                .iter()
                .map(|share| (share.rep.clone(), share.leads, share.weight))
                .collect();
            prop_assert_eq!(&reported, &direct, "shares of pool {}", pool_def.name);
            let values: Vec<f64> = direct
                .iter()
                .filter(|(_, _, weight)| *weight > 0)
                .map(|(_, leads, weight)| *leads as f64 / *weight as f64)
                .collect();
            let sum: f64 = values.iter().sum();
            let squares: f64 = values.iter().map(|v| v * v).sum();
            let expected = (squares > 0.0).then(|| sum * sum / (values.len() as f64 * squares));
            let got = switchboard::report::jain(shares);
            match (expected, got) {
                (Some(a), Some(b)) => prop_assert!((a - b).abs() < 1e-12, "{a} vs {b}"),
                (a, b) => prop_assert_eq!(a, b),
            }
            if let Some((_, leads, fair)) = figures::largest_deviation(shares) {
                let weights_sum: u64 = direct.iter().map(|(_, _, w)| w).sum();
                let worst = direct
                    .iter()
                    .map(|(_, l, w)| (*l as f64 - total as f64 * *w as f64 / weights_sum as f64).abs())
                    .fold(0.0, f64::max);
                prop_assert!(((leads as f64 - fair).abs() - worst).abs() < 1e-9);
            }
        }
        // The run settles every SLA: none is left open.
        prop_assert_eq!(simulated.report.total.open, 0, "no SLA is left open when the run settles");
    }
}
