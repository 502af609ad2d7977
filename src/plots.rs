//! The HTML report of `simulate --report`: one self-contained file (inline CSS and SVG; no
//! script, font or image from the network) with the figures as tables and four plots drawn
//! with `plotters`: leads per hour of the week per pool, each rep's open load over time, the
//! distribution of time to first touch with the SLA lines, and escalations per day.

use plotters::prelude::*;
use std::fmt::Write as _;
use switchboard_core::report::{Figures, jain, percentile};
use switchboard_core::simulate::figures::{Simulated, compared_rows, largest_deviation, met_share};
use switchboard_core::text::duration;

const WIDTH: u32 = 900;
const HEIGHT: u32 = 320;

/// The report of one run, or of two (OLD, NEW) compared.
pub fn html_report(runs: &[Simulated], names: &[String]) -> String {
    let mut out = String::new();
    let title = match names {
        [one] => format!("Simulation of {one}"),
        [old, new] => format!("Simulation: {old} → {new}"),
        _ => "Simulation".to_string(),
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    if let [old, new] = runs {
        out.push_str("<h2>Before and after</h2>\n<table class=\"compare\"><tr><th></th>");
        let _ = writeln!(
            out,
            "<th>{}</th><th>{}</th><th>change</th></tr>",
            escape(&names[0]),
            escape(&names[1])
        );
        for [name, a, b, change] in compared_rows(old, new) {
            let class = if a == b { "" } else { " class=\"changed\"" };
            let _ = writeln!(
                out,
                "<tr{class}><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&name),
                escape(&a),
                escape(&b),
                escape(&change)
            );
        }
        out.push_str("</table>\n");
    }
    for (index, run) in runs.iter().enumerate() {
        let name = names.get(index).map_or("", String::as_str);
        if runs.len() > 1 {
            let _ = writeln!(out, "<h2 class=\"run\">{}</h2>", escape(name));
        }
        section(&mut out, run);
    }
    out.push_str(
        "<footer>Made by <code>switchboard simulate</code>: every lead routed at its own time \
         through the same router as <code>route</code>, touches drawn from the response model, \
         escalations fired as <code>sweep</code> fires them.</footer>\n</body></html>\n",
    );
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;\
max-width:960px;color:#1d2330;background:#fff}h1{font-size:24px}h2{font-size:19px;margin-top:32px;\
border-bottom:1px solid #d8dce4;padding-bottom:4px}h2.run{font-size:22px;border-bottom:3px solid #1d2330}\
h3{font-size:16px;margin-top:24px}.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid \
#d8dce4;border-radius:6px;padding:10px 14px;min-width:140px}.card b{display:block;font-size:22px}\
table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #d8dce4;padding:3px \
8px;text-align:right}th{background:#f1f3f7}td:first-child,th:first-child{text-align:left}\
tr.changed td{background:#fff7d6}svg{display:block;margin:8px 0;max-width:100%;height:auto}\
footer{margin-top:32px;font-size:12px;color:#5b6475}p.note{font-size:13px;color:#5b6475}";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "-".to_string(), |share| format!("{:.1}%", share * 100.0))
}

fn shown(seconds: Option<i64>) -> String {
    seconds.map_or_else(|| "-".to_string(), duration)
}

/// The cards, tables and plots of one run.
fn section(out: &mut String, run: &Simulated) {
    let report = &run.report;
    let tally = &run.tally;
    let total = &report.total;
    let waited: usize = tally.waited.values().map(Vec::len).sum();
    let _ = writeln!(
        out,
        "<div class=\"cards\">\
         <div class=\"card\">leads<b>{}</b></div>\
         <div class=\"card\">SLA met<b>{}</b></div>\
         <div class=\"card\">first touch p50 / p90 (working)<b>{} / {}</b></div>\
         <div class=\"card\">escalations<b>{}</b></div>\
         <div class=\"card\">waited for a shift<b>{waited}</b></div></div>",
        tally.routed,
        percent(met_share(total)),
        shown(percentile(&total.touch_working, 50.0)),
        shown(percentile(&total.touch_working, 90.0)),
        report.escalations,
    );
    let _ = writeln!(
        out,
        "<p class=\"note\">{} leads from {} to {}; hours in {}; SLAs judged when every lead's \
         clock has run out ({}). {} duplicate ids, {} lines that were not leads.</p>",
        tally.routed,
        tally.first_lead.map(|t| t.to_string()).unwrap_or_default(),
        tally.last_lead.map(|t| t.to_string()).unwrap_or_default(),
        escape(&tally.zone_name),
        run.window.as_of,
        tally.duplicates,
        tally.invalid,
    );
    out.push_str("<h3>Pools</h3>\n");
    table(out, "pool", &report.pools, |pool| {
        let shares = report.shares.get(pool)?;
        let index = jain(shares)?;
        let deviation = largest_deviation(shares)
            .map(|(rep, leads, fair)| format!("{rep}: {leads} vs {fair:.1}"))
            .unwrap_or_default();
        Some(format!("{index:.2}</td><td>{}", escape(&deviation)))
    });
    out.push_str("<h3>Reps</h3>\n");
    table(out, "rep", &report.reps, |rep| {
        Some(format!(
            "{}</td><td>{}",
            tally.cap_hits.get(rep).copied().unwrap_or(0),
            tally
                .rep_by_hour
                .get(rep)
                .and_then(|hours| busiest_hour(hours))
                .unwrap_or_default()
        ))
    });
    out.push_str("<h3>Leads per hour of the week</h3>\n");
    out.push_str(&plot_or_note(leads_per_hour(run)));
    out.push_str("<h3>Leads waiting on each rep (held, not yet touched)</h3>\n");
    out.push_str(&plot_or_note(open_load(run)));
    out.push_str("<h3>Time to first touch (working time)</h3>\n");
    out.push_str(&plot_or_note(touch_distribution(run)));
    out.push_str("<h3>Escalations per day</h3>\n");
    out.push_str(&plot_or_note(escalations_per_day(run)));
}

/// "Tue 10:00" for the hour of the week with the most leads.
fn busiest_hour(hours: &[u64]) -> Option<String> {
    let (hour, count) = hours
        .iter()
        .enumerate()
        .max_by_key(|(hour, count)| (**count, std::cmp::Reverse(*hour)))?;
    (*count > 0).then(|| format!("{} {:02}:00 ({count})", day_name(hour / 24), hour % 24))
}

fn day_name(day: usize) -> &'static str {
    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        .get(day)
        .copied()
        .unwrap_or("")
}

/// A table of pools or reps; `extra` adds the last two columns.
fn table(
    out: &mut String,
    what: &str,
    rows: &std::collections::BTreeMap<String, Figures>,
    extra: impl Fn(&str) -> Option<String>,
) {
    let heads = if what == "pool" {
        "<th>Jain</th><th>furthest from fair</th>"
    } else {
        "<th>cap hits</th><th>busiest hour</th>"
    };
    let _ = writeln!(
        out,
        "<table><tr><th>{what}</th><th>leads</th><th>SLA met</th><th>missed</th>\
         <th>met %</th><th>p50</th><th>p90</th><th>p50 working</th><th>p90 working</th>\
         <th>escalated out</th><th>escalated in</th><th>never touched</th>{heads}</tr>"
    );
    for (name, figures) in rows {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(name),
            figures.assigned,
            figures.met,
            figures.missed,
            percent(met_share(figures)),
            shown(percentile(&figures.touch_wall, 50.0)),
            shown(percentile(&figures.touch_wall, 90.0)),
            shown(percentile(&figures.touch_working, 50.0)),
            shown(percentile(&figures.touch_working, 90.0)),
            figures.escalated_out,
            figures.escalated_in,
            figures.never_touched,
            extra(name).unwrap_or_else(|| "-</td><td>-".to_string()),
        );
    }
    out.push_str("</table>\n");
}

fn plot_or_note(plot: Result<String, String>) -> String {
    match plot {
        Ok(svg) => svg,
        Err(note) => format!("<p class=\"note\">{}</p>\n", escape(&note)),
    }
}

type Plotted = Result<String, String>;

fn failed<E: std::fmt::Debug>(error: E) -> String {
    format!("the plot could not be drawn: {error:?}")
}

fn colour(index: usize) -> RGBColor {
    const COLOURS: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    COLOURS[index % COLOURS.len()]
}

/// One line per pool (and queue): leads routed there per hour of the week.
fn leads_per_hour(run: &Simulated) -> Plotted {
    let axis = Axis {
        hours: 168,
        // A label in the middle of each day.
        key_points: (0..7).map(|day| day * 24 + 12).collect(),
        label: &|hour| day_name(hour as usize / 24).to_string(),
        x_desc: format!("hour of the week ({})", run.tally.zone_name),
        y_desc: "leads",
    };
    line_chart(&run.tally.by_hour, &axis).ok_or_else(|| "No leads were routed.".to_string())?
}

/// One line per rep: leads held and not yet touched, hour by hour.
fn open_load(run: &Simulated) -> Plotted {
    let series = &run.tally.open_by_hour;
    let hours = series.values().map(Vec::len).max().unwrap_or(0);
    let axis = Axis {
        hours: u32::try_from(hours).unwrap_or(u32::MAX),
        // A label at the start of each day since the first lead.
        key_points: (0..u32::try_from(hours).unwrap_or(0)).step_by(24).collect(),
        label: &|hour| hour.to_string(),
        x_desc: "hours since the first lead".to_string(),
        y_desc: "leads waiting",
    };
    line_chart(series, &axis).ok_or_else(|| "No rep held a lead.".to_string())?
}

/// The x axis of a line chart over hours.
struct Axis<'a> {
    hours: u32,
    key_points: Vec<u32>,
    label: &'a dyn Fn(u32) -> String,
    x_desc: String,
    y_desc: &'a str,
}

/// A line per named series of counts per hour, with a legend; `None` when every count is 0.
fn line_chart(
    series: &std::collections::BTreeMap<String, Vec<u64>>,
    axis: &Axis<'_>,
) -> Option<Plotted> {
    let top = series.values().flatten().copied().max().unwrap_or(0);
    if axis.hours == 0 || top == 0 {
        return None;
    }
    let mut svg = String::new();
    let drawn = (|| -> Result<(), String> {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(44)
            .build_cartesian_2d(
                (0u32..axis.hours).with_key_points(axis.key_points.clone()),
                0u64..top + top / 10 + 1,
            )
            .map_err(failed)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|hour| (axis.label)(*hour))
            .y_desc(axis.y_desc)
            .x_desc(axis.x_desc.as_str())
            .light_line_style(WHITE)
            .draw()
            .map_err(failed)?;
        for (index, (name, counts)) in series.iter().enumerate() {
            let style = colour(index).stroke_width(2);
            chart
                .draw_series(LineSeries::new(
                    counts
                        .iter()
                        .enumerate()
                        .map(|(hour, count)| (hour as u32, *count)),
                    style,
                ))
                .map_err(failed)?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(failed)?;
        root.present().map_err(failed)
    })();
    Some(drawn.map(|()| svg))
}

/// The buckets of time to first touch, in minutes: `[from, to)`; the last is open.
const BUCKETS: [(i64, i64, &str); 9] = [
    (0, 5, "<5m"),
    (5, 15, "5-15m"),
    (15, 30, "15-30m"),
    (30, 60, "30m-1h"),
    (60, 120, "1-2h"),
    (120, 240, "2-4h"),
    (240, 480, "4-8h"),
    (480, 1440, "8-24h"),
    (1440, i64::MAX, "1d+"),
];

/// Where `minutes` falls on the bucket axis (bucket index plus the fraction into it).
fn bucket_position(minutes: f64) -> f64 {
    for (index, (from, to, _)) in BUCKETS.iter().enumerate() {
        if minutes < *to as f64 {
            let width = (*to - *from) as f64;
            let into = if *to == i64::MAX {
                0.5
            } else {
                (minutes - *from as f64) / width
            };
            return index as f64 + into.clamp(0.0, 1.0);
        }
    }
    BUCKETS.len() as f64
}

/// Bars of first touches per bucket of working time, with a line at each common SLA.
fn touch_distribution(run: &Simulated) -> Plotted {
    let touches = &run.report.total.touch_working;
    if touches.is_empty() {
        return Err("No lead was touched.".into());
    }
    let mut counts = [0u64; BUCKETS.len()];
    for seconds in touches {
        let minutes = seconds / 60;
        let index = BUCKETS
            .iter()
            .position(|(from, to, _)| *from <= minutes && minutes < *to)
            .unwrap_or(BUCKETS.len() - 1);
        counts[index] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1);
    // The SLAs the leads had (the five most common), as vertical lines, shortest first.
    let mut allowances: Vec<(i64, u64)> = run
        .tally
        .allowances
        .iter()
        .map(|(seconds, count)| (*seconds, *count))
        .collect();
    allowances.sort_by_key(|(seconds, count)| (std::cmp::Reverse(*count), *seconds));
    allowances.truncate(5);
    allowances.sort_unstable();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(44)
            .build_cartesian_2d(0f64..BUCKETS.len() as f64, 0u64..top + top / 10 + 1)
            .map_err(failed)?;
        chart
            .configure_mesh()
            .x_labels(BUCKETS.len() * 2 + 1)
            .x_label_formatter(&|x| {
                let centre = x - x.floor();
                if (centre - 0.5).abs() < 0.01 {
                    BUCKETS
                        .get(x.floor() as usize)
                        .map_or(String::new(), |(_, _, label)| (*label).to_string())
                } else {
                    String::new()
                }
            })
            .y_desc("first touches")
            .x_desc("working time from assignment to first touch")
            .disable_x_mesh()
            .light_line_style(WHITE)
            .draw()
            .map_err(failed)?;
        chart
            .draw_series(counts.iter().enumerate().map(|(index, count)| {
                Rectangle::new(
                    [(index as f64 + 0.08, 0), (index as f64 + 0.92, *count)],
                    colour(0).mix(0.8).filled(),
                )
            }))
            .map_err(failed)?
            .label("first touches")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour(0).filled()));
        for (index, (seconds, _)) in allowances.iter().enumerate() {
            let x = bucket_position(*seconds as f64 / 60.0);
            let style = colour(3 + index).stroke_width(2);
            chart
                .draw_series(LineSeries::new(vec![(x, 0), (x, top + top / 10)], style))
                .map_err(failed)?
                .label(format!("SLA {}", duration(*seconds)))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(failed)?;
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

/// Bars of escalation steps fired per day.
fn escalations_per_day(run: &Simulated) -> Plotted {
    let days: Vec<(String, u64)> = run
        .tally
        .escalations_by_day
        .iter()
        .map(|(day, count)| (day.strftime("%a %m-%d").to_string(), *count))
        .collect();
    if days.is_empty() {
        return Err("No escalation step fired.".into());
    }
    let top = days.iter().map(|(_, count)| *count).max().unwrap_or(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(44)
            .build_cartesian_2d(0f64..days.len() as f64, 0u64..top + top / 10 + 1)
            .map_err(failed)?;
        let labels = days.clone();
        chart
            .configure_mesh()
            .x_labels(days.len() * 2 + 1)
            .x_label_formatter(&move |x| {
                let centre = x - x.floor();
                if (centre - 0.5).abs() < 0.01 {
                    labels
                        .get(x.floor() as usize)
                        .map_or(String::new(), |(day, _)| day.clone())
                } else {
                    String::new()
                }
            })
            .y_desc("steps fired")
            .disable_x_mesh()
            .light_line_style(WHITE)
            .draw()
            .map_err(failed)?;
        chart
            .draw_series(days.iter().enumerate().map(|(index, (_, count))| {
                Rectangle::new(
                    [(index as f64 + 0.15, 0), (index as f64 + 0.85, *count)],
                    colour(1).mix(0.85).filled(),
                )
            }))
            .map_err(failed)?;
        root.present().map_err(failed)?;
    }
    Ok(svg)
}
