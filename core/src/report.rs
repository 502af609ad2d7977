//! `switchboard report`: what actually happened, from the ledger and the leads' lives. Per pool
//! and per rep: leads held, SLA met / missed / still open, time to first touch (p50, p90, max;
//! wall-clock and working time), escalations out and in, rejections, leads never touched; and
//! per pool the fairness of the split (each member's share against their weight, Jain's index).
//! Figures only: no I/O, no clock (`as_of` is given).
//!
//! What counts: every holding (a rep, queue or nobody holding the lead for a while) of every
//! lead whose own time is in `[since, until)`. A holding's SLA is met when its holder touched
//! the lead by its due time; missed when they touched it later, or did not touch it and the due
//! time is before `as_of`; open when the due time is still ahead.

use crate::model::{Policy, StrategyDef};
use crate::route::life::{How, Life};
use crate::route::state::Recorded;
use jiff::Timestamp;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The period and reference time of a report.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// What "now" is for open SLAs.
    pub as_of: Timestamp,
}

/// The figures of one pool or rep.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    pub assigned: u64,
    pub met: u64,
    pub missed: u64,
    pub open: u64,
    pub without_sla: u64,
    pub never_touched: u64,
    pub escalated_out: u64,
    pub escalated_in: u64,
    pub rejected: u64,
    /// Seconds to first touch, wall-clock and working, of the holdings that were touched.
    pub touch_wall: Vec<i64>,
    pub touch_working: Vec<i64>,
}

/// One member's part of a pool's leads.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    pub rep: String,
    pub leads: u64,
    pub weight: u64,
}

/// What happened, in figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub leads: u64,
    pub first_lead: Option<Timestamp>,
    pub last_lead: Option<Timestamp>,
    pub total: Figures,
    pub pools: BTreeMap<String, Figures>,
    pub reps: BTreeMap<String, Figures>,
    pub queues: BTreeMap<String, u64>,
    /// Leads that ended with nobody holding them.
    pub unassigned: u64,
    /// Escalation steps fired (to a rep, a queue, or finding nobody; not those a re-route
    /// cancelled).
    pub escalations: u64,
    /// Per pool, each member's leads and weight (members from the policy when given, else the
    /// reps seen).
    pub shares: BTreeMap<String, Vec<Share>>,
    /// Per pool, how many of its holdings each rep had.
    pool_members: BTreeMap<String, BTreeMap<String, u64>>,
}

/// Builds the report from every lead of a state.
pub fn build(
    entries: impl IntoIterator<Item = (Recorded, Option<Life>)>,
    policy: Option<&Policy>,
    window: Window,
) -> Report {
    let mut builder = Builder::new(policy, window);
    for (recorded, life) in entries {
        builder.add(recorded, life);
    }
    builder.finish()
}

/// The report, one lead at a time: what [`build`] does without holding every lead at once
/// (a state's `each_lead` can feed it directly).
pub struct Builder<'p> {
    report: Report,
    policy: Option<&'p Policy>,
    window: Window,
}

impl<'p> Builder<'p> {
    pub fn new(policy: Option<&'p Policy>, window: Window) -> Builder<'p> {
        Builder {
            report: Report::default(),
            policy,
            window,
        }
    }

    /// A builder that goes on from figures counted earlier by another (the leads `simulate`
    /// settled while it ran).
    pub fn resume(report: Report, policy: Option<&'p Policy>, window: Window) -> Builder<'p> {
        Builder {
            report,
            policy,
            window,
        }
    }

    /// The figures so far, without the shares [`Builder::finish`] works out.
    pub fn partial(self) -> Report {
        self.report
    }

    /// Counts one lead (its ledger entry and life, if `track` or `sweep` changed it).
    pub fn add(&mut self, recorded: Recorded, life: Option<Life>) {
        let report = &mut self.report;
        let window = &self.window;
        let life = life.unwrap_or_else(|| {
            Life::begin(
                &recorded.decision,
                recorded.lead_at.unwrap_or(recorded.decided_at),
            )
        });
        // A lead that had not arrived as of `as_of` is not counted at all.
        if window.since.is_some_and(|since| life.lead_at < since)
            || window.until.is_some_and(|until| life.lead_at >= until)
            || life
                .holdings
                .first()
                .is_some_and(|first| first.from > window.as_of)
        {
            return;
        }
        report.leads += 1;
        report.first_lead = Some(
            report
                .first_lead
                .map_or(life.lead_at, |t| t.min(life.lead_at)),
        );
        report.last_lead = Some(
            report
                .last_lead
                .map_or(life.lead_at, |t| t.max(life.lead_at)),
        );
        add_life(report, &life, window.as_of);
    }

    pub fn finish(mut self) -> Report {
        self.report.shares = shares(&self.report, self.policy);
        self.report
    }
}

fn add_life(report: &mut Report, life: &Life, as_of: Timestamp) {
    // Judged as of `as_of`: what happened after it (a step fired, a holding begun, a touch, a
    // rejection) has not happened yet.
    report.escalations += life
        .steps
        .iter()
        .filter(|step| {
            step.fired
                .as_ref()
                .is_some_and(|(at, what)| *at <= as_of && !what.starts_with("cancelled"))
        })
        .count() as u64;
    let count = life
        .holdings
        .iter()
        .take_while(|holding| holding.from <= as_of)
        .count();
    for (index, holding) in life.holdings.iter().enumerate().take(count) {
        if let Some(queue) = &holding.queue {
            *report.queues.entry(queue.clone()).or_default() += 1;
            continue;
        }
        let Some(rep) = &holding.rep else {
            if index + 1 == count {
                report.unassigned += 1;
            }
            continue;
        };
        let escalated_away = life
            .holdings
            .get(index + 1)
            .is_some_and(|next| next.from <= as_of && matches!(next.how, How::Escalated { .. }));
        let rejected = holding
            .ended
            .as_ref()
            .is_some_and(|(at, why)| *at <= as_of && why.starts_with("rejected"));
        let mut figures = Figures {
            assigned: 1,
            escalated_out: u64::from(escalated_away),
            escalated_in: u64::from(matches!(holding.how, How::Escalated { .. })),
            rejected: u64::from(rejected),
            ..Figures::default()
        };
        let touch = holding.touch.filter(|touch| touch.at <= as_of);
        let ended = holding.ended.as_ref().filter(|(at, _)| *at <= as_of);
        match (touch, holding.due) {
            (Some(touch), due) => {
                figures.touch_wall.push(touch.wall_seconds);
                figures.touch_working.push(touch.working_seconds);
                match due {
                    Some(due) if touch.at <= due => figures.met = 1,
                    Some(_) => figures.missed = 1,
                    None => figures.without_sla = 1,
                }
            }
            (None, Some(due)) => {
                figures.never_touched = 1;
                // A holding that ended (escalated away, rejected, closed) missed its SLA if it
                // ended after the due time; given back before it, neither met nor missed. One
                // still in force has missed it once the due time has passed.
                match ended {
                    Some((ended, _)) => figures.missed = u64::from(due <= *ended),
                    None if due <= as_of => figures.missed = 1,
                    None => figures.open = 1,
                }
            }
            (None, None) => {
                figures.never_touched = 1;
                figures.without_sla = 1;
            }
        }
        add(&mut report.total, &figures);
        add(report.reps.entry(rep.clone()).or_default(), &figures);
        if let Some(pool) = &holding.pool {
            add(report.pools.entry(pool.clone()).or_default(), &figures);
            *report
                .pool_members
                .entry(pool.clone())
                .or_default()
                .entry(rep.clone())
                .or_default() += 1;
        }
    }
}

fn add(into: &mut Figures, figures: &Figures) {
    into.assigned += figures.assigned;
    into.met += figures.met;
    into.missed += figures.missed;
    into.open += figures.open;
    into.without_sla += figures.without_sla;
    into.never_touched += figures.never_touched;
    into.escalated_out += figures.escalated_out;
    into.escalated_in += figures.escalated_in;
    into.rejected += figures.rejected;
    into.touch_wall.extend_from_slice(&figures.touch_wall);
    into.touch_working.extend_from_slice(&figures.touch_working);
}

/// Each pool's split: its members (from the policy, with weights; else the reps seen, weight
/// 1) and how many of the pool's leads each held.
fn shares(report: &Report, policy: Option<&Policy>) -> BTreeMap<String, Vec<Share>> {
    let mut out = BTreeMap::new();
    for (pool, counts) in &report.pool_members {
        let declared = policy.and_then(|policy| policy.pools.iter().find(|p| p.name == *pool));
        let shares: Vec<Share> = match declared {
            Some(def) => def
                .members
                .iter()
                .enumerate()
                .map(|(index, rep)| Share {
                    rep: rep.clone(),
                    leads: counts.get(rep).copied().unwrap_or(0),
                    weight: match &def.strategy {
                        StrategyDef::Weighted(weights) => weights.get(index).copied().unwrap_or(0),
                        _ => 1,
                    },
                })
                .collect(),
            None => counts
                .iter()
                .map(|(rep, leads)| Share {
                    rep: rep.clone(),
                    leads: *leads,
                    weight: 1,
                })
                .collect(),
        };
        out.insert(pool.clone(), shares);
    }
    out
}

/// Jain's fairness index of the members' leads per unit of weight: 1 when every member got
/// exactly their share, 1/n when one member got everything. `None` without leads.
pub fn jain(shares: &[Share]) -> Option<f64> {
    let values: Vec<f64> = shares
        .iter()
        .filter(|share| share.weight > 0)
        .map(|share| share.leads as f64 / share.weight as f64)
        .collect();
    let sum: f64 = values.iter().sum();
    let squares: f64 = values.iter().map(|v| v * v).sum();
    (squares > 0.0).then(|| sum * sum / (values.len() as f64 * squares))
}

/// The `p`-th percentile (nearest rank) of `values`.
pub fn percentile(values: &[i64], p: f64) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// "45s", "7m", "1h05m", "2d3h" (see [`crate::text::duration`]).
pub use crate::text::duration;

fn shown(value: Option<i64>) -> String {
    value.map_or_else(|| "-".to_string(), duration)
}

fn rate(figures: &Figures) -> String {
    let judged = figures.met + figures.missed;
    if judged == 0 {
        "-".to_string()
    } else {
        format!("{:.0}%", figures.met as f64 * 100.0 / judged as f64)
    }
}

const HEADER: [&str; 14] = [
    "leads",
    "met",
    "missed",
    "open",
    "no SLA",
    "met %",
    "p50",
    "p90",
    "max",
    "p50 work",
    "p90 work",
    "escalated out",
    "escalated in",
    "never touched",
];

fn row(figures: &Figures) -> [String; 14] {
    let wall = &figures.touch_wall;
    let work = &figures.touch_working;
    [
        figures.assigned.to_string(),
        figures.met.to_string(),
        figures.missed.to_string(),
        figures.open.to_string(),
        figures.without_sla.to_string(),
        rate(figures),
        shown(percentile(wall, 50.0)),
        shown(percentile(wall, 90.0)),
        shown(wall.iter().max().copied()),
        shown(percentile(work, 50.0)),
        shown(percentile(work, 90.0)),
        figures.escalated_out.to_string(),
        figures.escalated_in.to_string(),
        figures.never_touched.to_string(),
    ]
}

/// The report for a terminal.
pub fn human(report: &Report, window: &Window) -> String {
    let mut out = String::new();
    let span = match (report.first_lead, report.last_lead) {
        (Some(first), Some(last)) => format!(", {first} .. {last}"),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "{} lead{}{span} (SLAs judged as of {})",
        report.leads,
        if report.leads == 1 { "" } else { "s" },
        window.as_of
    );
    if report.leads == 0 {
        out.push_str("nothing to report: no routed leads in this state and period\n");
        return out;
    }
    let total = &report.total;
    let _ = writeln!(
        out,
        "SLA: {} met, {} missed, {} open ({} met of those judged); first touch p50 {}, p90 {}; \
         {} escalation{} fired, {} rejection{}, {} holding{} never touched",
        total.met,
        total.missed,
        total.open,
        rate(total),
        shown(percentile(&total.touch_wall, 50.0)),
        shown(percentile(&total.touch_wall, 90.0)),
        report.escalations,
        if report.escalations == 1 { "" } else { "s" },
        total.rejected,
        if total.rejected == 1 { "" } else { "s" },
        total.never_touched,
        if total.never_touched == 1 { "" } else { "s" },
    );
    let mut table = |title: &str, rows: &BTreeMap<String, Figures>| {
        if rows.is_empty() {
            return;
        }
        let mut lines: Vec<Vec<String>> = vec![
            std::iter::once(title.to_string())
                .chain(HEADER.iter().map(|h| h.to_string()))
                .collect(),
        ];
        for (name, figures) in rows {
            lines.push(std::iter::once(name.clone()).chain(row(figures)).collect());
        }
        let widths: Vec<usize> = (0..lines[0].len())
            .map(|column| {
                lines
                    .iter()
                    .map(|line| line[column].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        out.push('\n');
        for line in &lines {
            let cells: Vec<String> = line
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(column, (cell, width))| {
                    if column == 0 {
                        format!("{cell:<width$}")
                    } else {
                        format!("{cell:>width$}")
                    }
                })
                .collect();
            let _ = writeln!(out, "{}", cells.join("  ").trim_end());
        }
    };
    table("pool", &report.pools);
    table("rep", &report.reps);
    if !report.queues.is_empty() || report.unassigned > 0 {
        let queues: Vec<String> = report
            .queues
            .iter()
            .map(|(queue, count)| format!("{queue} {count}"))
            .collect();
        let _ = writeln!(
            out,
            "\nqueues: {}; unassigned at the end: {}",
            if queues.is_empty() {
                "none".to_string()
            } else {
                queues.join(", ")
            },
            report.unassigned
        );
    }
    if !report.shares.is_empty() {
        out.push_str("\nfairness (each member's leads, their share and the weight's share):\n");
        for (pool, shares) in &report.shares {
            let total: u64 = shares.iter().map(|s| s.leads).sum();
            let weights: u64 = shares.iter().map(|s| s.weight).sum();
            let parts: Vec<String> = shares
                .iter()
                .map(|share| {
                    format!(
                        "{} {} ({:.0}% of {:.0}%)",
                        share.rep,
                        share.leads,
                        percent(share.leads, total),
                        percent(share.weight, weights)
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "  {pool}: {}; Jain {}",
                parts.join(", "),
                jain(shares).map_or("-".to_string(), |j| format!("{j:.2}"))
            );
        }
    }
    out
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

fn figures_json(figures: &Figures) -> Value {
    let wall = &figures.touch_wall;
    let work = &figures.touch_working;
    json!({
        "leads": figures.assigned,
        "sla_met": figures.met,
        "sla_missed": figures.missed,
        "sla_open": figures.open,
        "without_sla": figures.without_sla,
        "first_touch_seconds": {
            "p50": percentile(wall, 50.0),
            "p90": percentile(wall, 90.0),
            "max": wall.iter().max(),
        },
        "first_touch_working_seconds": {
            "p50": percentile(work, 50.0),
            "p90": percentile(work, 90.0),
            "max": work.iter().max(),
        },
        "escalated_out": figures.escalated_out,
        "escalated_in": figures.escalated_in,
        "rejected": figures.rejected,
        "never_touched": figures.never_touched,
    })
}

/// The report as one JSON document.
pub fn to_json(report: &Report, window: &Window) -> Value {
    let map = |rows: &BTreeMap<String, Figures>| -> Value {
        Value::Object(
            rows.iter()
                .map(|(name, figures)| (name.clone(), figures_json(figures)))
                .collect(),
        )
    };
    let fairness: serde_json::Map<String, Value> = report
        .shares
        .iter()
        .map(|(pool, shares)| {
            (
                pool.clone(),
                json!({
                    "members": shares.iter().map(|s| json!({
                        "rep": s.rep, "leads": s.leads, "weight": s.weight,
                    })).collect::<Vec<_>>(),
                    "jain": jain(shares),
                }),
            )
        })
        .collect();
    json!({
        "leads": report.leads,
        "since": window.since.map(|t| t.to_string()),
        "until": window.until.map(|t| t.to_string()),
        "as_of": window.as_of.to_string(),
        "total": figures_json(&report.total),
        "pools": map(&report.pools),
        "reps": map(&report.reps),
        "queues": report.queues,
        "unassigned": report.unassigned,
        "escalations_fired": report.escalations,
        "fairness": fairness,
    })
}

/// The report as CSV: one row per pool and per rep, with a header.
pub fn to_csv(report: &Report) -> String {
    let mut out = String::from(
        "kind,name,leads,sla_met,sla_missed,sla_open,without_sla,first_touch_p50_s,\
         first_touch_p90_s,first_touch_max_s,first_touch_working_p50_s,\
         first_touch_working_p90_s,escalated_out,escalated_in,rejected,never_touched\n",
    );
    let number = |value: Option<i64>| value.map_or(String::new(), |v| v.to_string());
    let mut rows = |kind: &str, rows: &BTreeMap<String, Figures>| {
        for (name, f) in rows {
            let _ = writeln!(
                out,
                "{kind},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                csv_field(name),
                f.assigned,
                f.met,
                f.missed,
                f.open,
                f.without_sla,
                number(percentile(&f.touch_wall, 50.0)),
                number(percentile(&f.touch_wall, 90.0)),
                number(f.touch_wall.iter().max().copied()),
                number(percentile(&f.touch_working, 50.0)),
                number(percentile(&f.touch_working, 90.0)),
                f.escalated_out,
                f.escalated_in,
                f.rejected,
                f.never_touched
            );
        }
    };
    rows(
        "total",
        &BTreeMap::from([("all".to_string(), report.total.clone())]),
    );
    rows("pool", &report.pools);
    rows("rep", &report.reps);
    out
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}
