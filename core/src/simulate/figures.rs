//! The figures of a simulation: what `report` reads from the state at the end (per pool and
//! rep: SLA met and missed, time to first touch, escalations, fairness), with what only the run
//! saw (leads per hour of the week, open load hour by hour, waits for a shift, cap hits,
//! escalations per day); for people, as JSON, and two runs side by side.

use super::Tally;
use crate::report::{self, Figures, Report, Share, Window, jain, percentile};
use crate::route::state::{StateError, StateStore};
use crate::text::duration;
use jiff::Timestamp;
use serde_json::{Value, json};
use std::fmt::Write as _;

/// Everything a simulation measured.
#[derive(Debug, Clone)]
pub struct Simulated {
    pub report: Report,
    pub window: Window,
    pub tally: Tally,
}

/// Gathers the figures from the state's leads at the end of a run, one lead at a time;
/// `since`: only leads from then on count (a run that started from a copy of a state with
/// earlier leads).
pub fn build(
    state: &mut dyn StateStore,
    policy: &crate::model::Policy,
    tally: Tally,
    since: Option<Timestamp>,
) -> Result<Simulated, StateError> {
    let window = Window {
        since,
        until: None,
        as_of: tally.settled.or(tally.end).unwrap_or(Timestamp::UNIX_EPOCH),
    };
    // The leads settled during the run are counted already; the rest are read from the state.
    let mut tally = tally;
    let settled = std::mem::take(&mut tally.settled_leads);
    let mut builder = report::Builder::resume(settled, Some(policy), window);
    state.each_unsettled_lead(&mut |recorded, life| builder.add(recorded, life))?;
    Ok(Simulated {
        report: builder.finish(),
        window,
        tally,
    })
}

/// The member furthest from their fair share of a pool's leads: (rep, leads, fair share).
pub fn largest_deviation(shares: &[Share]) -> Option<(String, u64, f64)> {
    let total: u64 = shares.iter().map(|share| share.leads).sum();
    let weights: u64 = shares.iter().map(|share| share.weight).sum();
    if total == 0 || weights == 0 {
        return None;
    }
    shares
        .iter()
        .map(|share| {
            let fair = total as f64 * share.weight as f64 / weights as f64;
            (share.rep.clone(), share.leads, fair)
        })
        .max_by(|a, b| {
            (a.1 as f64 - a.2)
                .abs()
                .total_cmp(&(b.1 as f64 - b.2).abs())
                .then_with(|| b.0.cmp(&a.0))
        })
}

/// The share of judged SLAs that were met, when any were judged.
pub fn met_share(figures: &Figures) -> Option<f64> {
    let judged = figures.met + figures.missed;
    (judged > 0).then(|| figures.met as f64 / judged as f64)
}

fn waits_json(waits: &[i64]) -> Value {
    json!({
        "leads": waits.len(),
        "p50_seconds": percentile(waits, 50.0),
        "max_seconds": waits.iter().max(),
    })
}

/// The figures as JSON: `report` holds what `switchboard report --format json` would say of
/// the state; `simulation` what the run saw.
pub fn to_json(simulated: &Simulated) -> Value {
    let tally = &simulated.tally;
    let fairness: serde_json::Map<String, Value> = simulated
        .report
        .shares
        .iter()
        .map(|(pool, shares)| {
            let deviation = largest_deviation(shares).map(|(rep, leads, fair)| {
                json!({ "rep": rep, "leads": leads, "fair_share": (fair * 10.0).round() / 10.0 })
            });
            (
                pool.clone(),
                json!({ "jain": jain(shares), "largest_deviation": deviation }),
            )
        })
        .collect();
    let days: serde_json::Map<String, Value> = tally
        .escalations_by_day
        .iter()
        .map(|(day, count)| (day.to_string(), json!(count)))
        .collect();
    json!({
        "report": report::to_json(&simulated.report, &simulated.window),
        "simulation": {
            "zone": tally.zone_name,
            "first_lead": tally.first_lead.map(|t| t.to_string()),
            "last_lead": tally.last_lead.map(|t| t.to_string()),
            "settled": tally.settled.map(|t| t.to_string()),
            "routed": tally.routed,
            "duplicates": tally.duplicates,
            "invalid": tally.invalid,
            "left_out_for_the_comparison": tally.left_out,
            "sla_met_share": met_share(&simulated.report.total),
            "fairness": fairness,
            "leads_per_hour_of_week": tally.by_hour,
            "rep_leads_per_hour_of_week": tally.rep_by_hour,
            "rep_open_by_hour": tally.open_by_hour,
            "escalations_per_day": days,
            "escalated_to": tally.escalated_to,
            "waited_for_shift": tally.waited.iter()
                .map(|(pool, waits)| (pool.clone(), waits_json(waits)))
                .collect::<serde_json::Map<String, Value>>(),
            "cap_hits": tally.cap_hits,
            "sla_allowances_seconds": tally.allowances.iter()
                .map(|(seconds, count)| (seconds.to_string(), json!(count)))
                .collect::<serde_json::Map<String, Value>>(),
            "touches_after_the_lead_moved_on": tally.moved_on,
            "touches_without_working_time_ahead": tally.unscheduled,
            "events_refused": tally.refused,
        }
    })
}

/// The figures for a terminal: the report's tables, then what the run saw.
pub fn human(simulated: &Simulated) -> String {
    let tally = &simulated.tally;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "simulated {} lead{} ({} duplicate{}, {} invalid); SLA met {}; hours in {}",
        tally.routed,
        plural(tally.routed),
        tally.duplicates,
        plural(tally.duplicates),
        tally.invalid,
        percent(met_share(&simulated.report.total)),
        tally.zone_name,
    );
    out.push('\n');
    out.push_str(&report::human(&simulated.report, &simulated.window));
    let fair: Vec<String> = simulated
        .report
        .shares
        .iter()
        .filter_map(|(pool, shares)| {
            let (rep, leads, share) = largest_deviation(shares)?;
            Some(format!("  {pool}: {rep}, {leads} leads against {share:.1}"))
        })
        .collect();
    if !fair.is_empty() {
        out.push_str("\nfurthest from a fair share\n");
        for line in fair {
            let _ = writeln!(out, "{line}");
        }
    }
    if !tally.waited.is_empty() {
        out.push_str("\nleads that waited for a shift to open\n");
        for (pool, waits) in &tally.waited {
            let _ = writeln!(
                out,
                "  {pool}: {} lead{}, median wait {}, longest {}",
                waits.len(),
                plural(waits.len() as u64),
                percentile(waits, 50.0).map_or_else(|| "-".into(), duration),
                waits
                    .iter()
                    .max()
                    .copied()
                    .map_or_else(|| "-".into(), duration),
            );
        }
    }
    if !tally.cap_hits.is_empty() {
        out.push_str("\nreps passed over at a cap\n");
        for (rep, hits) in &tally.cap_hits {
            let _ = writeln!(out, "  {rep}: {hits} time{}", plural(*hits));
        }
    }
    if !tally.escalated_to.is_empty() {
        out.push_str("\nescalations\n");
        for (target, went) in &tally.escalated_to {
            let shown: Vec<String> = went
                .iter()
                .map(|(to, count)| format!("{to} {count}"))
                .collect();
            let _ = writeln!(out, "  to {target}: {}", shown.join(", "));
        }
        let days: Vec<String> = tally
            .escalations_by_day
            .iter()
            .map(|(day, count)| format!("{} {count}", day.strftime("%a %m-%d")))
            .collect();
        let _ = writeln!(out, "  per day: {}", days.join(", "));
    }
    if tally.moved_on > 0 {
        let _ = writeln!(
            out,
            "\n{} touch{} came after an escalation had moved the lead on",
            tally.moved_on,
            if tally.moved_on == 1 { "" } else { "es" }
        );
    }
    out
}

fn plural(count: u64) -> &'static str {
    if count == 1 { "" } else { "s" }
}

fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "-".to_string(), |share| format!("{:.1}%", share * 100.0))
}

/// One figure of two runs, side by side.
struct Compared {
    name: String,
    old: String,
    new: String,
    change: String,
}

fn seconds_change(old: Option<i64>, new: Option<i64>) -> String {
    match (old, new) {
        (Some(old), Some(new)) if new == old => String::new(),
        (Some(old), Some(new)) if new >= old => format!("+{}", duration(new - old)),
        (Some(old), Some(new)) => format!("-{}", duration(old - new)),
        _ => String::new(),
    }
}

fn comparisons(old: &Simulated, new: &Simulated) -> Vec<Compared> {
    let mut rows = Vec::new();
    // First what each read: both run on the leads both schemas take, so a schema that refuses
    // more lines shows here, not as a change in the figures below.
    let count = |name: &str, x: u64, y: u64| Compared {
        name: name.into(),
        old: x.to_string(),
        new: y.to_string(),
        change: if x == y {
            String::new()
        } else {
            format!("{:+}", y as i64 - x as i64)
        },
    };
    rows.push(count("leads simulated", old.tally.routed, new.tally.routed));
    rows.push(count(
        "lines not leads",
        old.tally.invalid,
        new.tally.invalid,
    ));
    let (a, b) = (&old.report.total, &new.report.total);
    let (share_a, share_b) = (met_share(a), met_share(b));
    rows.push(Compared {
        name: "SLA met".into(),
        old: percent(share_a),
        new: percent(share_b),
        change: match (share_a, share_b) {
            (Some(x), Some(y)) if percent(Some(x)) != percent(Some(y)) => {
                format!("{:+.1} pts", (y - x) * 100.0)
            }
            _ => String::new(),
        },
    });
    for (name, p) in [
        ("p50 to first touch (working)", 50.0),
        ("p90 to first touch (working)", 90.0),
    ] {
        let (x, y) = (
            percentile(&a.touch_working, p),
            percentile(&b.touch_working, p),
        );
        rows.push(Compared {
            name: name.into(),
            old: x.map_or_else(|| "-".into(), duration),
            new: y.map_or_else(|| "-".into(), duration),
            change: seconds_change(x, y),
        });
    }
    rows.push(count(
        "escalations fired",
        old.report.escalations,
        new.report.escalations,
    ));
    rows.push(count("never touched", a.never_touched, b.never_touched));
    let waited = |s: &Simulated| s.tally.waited.values().map(Vec::len).sum::<usize>() as u64;
    rows.push(count("waited for a shift", waited(old), waited(new)));
    let caps = |s: &Simulated| s.tally.cap_hits.values().sum::<u64>();
    rows.push(count("passed over at a cap", caps(old), caps(new)));
    let pools: std::collections::BTreeSet<&String> = old
        .report
        .shares
        .keys()
        .chain(new.report.shares.keys())
        .collect();
    for pool in pools {
        let index = |s: &Simulated| s.report.shares.get(pool).and_then(|shares| jain(shares));
        let (x, y) = (index(old), index(new));
        rows.push(Compared {
            name: format!("Jain {pool}"),
            old: x.map_or_else(|| "-".into(), |v| format!("{v:.2}")),
            new: y.map_or_else(|| "-".into(), |v| format!("{v:.2}")),
            change: match (x, y) {
                (Some(x), Some(y)) if format!("{x:.2}") != format!("{y:.2}") => {
                    format!("{:+.2}", y - x)
                }
                _ => String::new(),
            },
        });
    }
    let reps: std::collections::BTreeSet<&String> = old
        .report
        .reps
        .keys()
        .chain(new.report.reps.keys())
        .collect();
    for rep in reps {
        let leads = |s: &Simulated| s.report.reps.get(rep).map_or(0, |f| f.assigned);
        let (x, y) = (leads(old), leads(new));
        rows.push(count(&format!("{rep} leads"), x, y));
    }
    rows
}

/// Two runs side by side, for people: "SLA met  91.0%  96.0%  +5.0 pts".
pub fn compare_human(old: &Simulated, new: &Simulated, names: (&str, &str)) -> String {
    let rows = comparisons(old, new);
    let widths = [
        rows.iter().map(|r| r.name.len()).max().unwrap_or(0).max(6),
        rows.iter()
            .map(|r| r.old.len())
            .max()
            .unwrap_or(0)
            .max(names.0.len()),
        rows.iter()
            .map(|r| r.new.len())
            .max()
            .unwrap_or(0)
            .max(names.1.len()),
    ];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<w0$}  {:>w1$}  {:>w2$}  change",
        "",
        names.0,
        names.1,
        w0 = widths[0],
        w1 = widths[1],
        w2 = widths[2]
    );
    for row in &rows {
        let line = format!(
            "{:<w0$}  {:>w1$}  {:>w2$}  {}",
            row.name,
            row.old,
            row.new,
            row.change,
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let changed: Vec<String> = rows
        .iter()
        .filter(|row| row.old != row.new)
        .take(4)
        .map(|row| format!("{} {} -> {}", row.name, row.old, row.new))
        .collect();
    if !changed.is_empty() {
        let _ = writeln!(out, "\nin short: {}", changed.join(", "));
    }
    out
}

/// Two runs side by side as JSON: both runs' figures and the rows compared.
pub fn compare_json(old: &Simulated, new: &Simulated) -> Value {
    let rows: Vec<Value> = comparisons(old, new)
        .into_iter()
        .map(|row| json!({ "figure": row.name, "old": row.old, "new": row.new, "change": row.change }))
        .collect();
    json!({ "old": to_json(old), "new": to_json(new), "compared": rows })
}

/// Each figure compared, in order, as (name, old, new, change): what the HTML report tabulates.
pub fn compared_rows(old: &Simulated, new: &Simulated) -> Vec<[String; 4]> {
    comparisons(old, new)
        .into_iter()
        .map(|row| [row.name, row.old, row.new, row.change])
        .collect()
}
