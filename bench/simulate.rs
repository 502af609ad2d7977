//! Benchmark: `switchboard simulate` on a week of 100,000 leads (issue 19: under 2 s on this
//! machine), against `switchboard route --state :memory:` on the same leads as the baseline,
//! both through the release binary, median of three runs each. The leads follow the example
//! week's shape (the working day in Berlin, an American afternoon, a thin night and weekend)
//! and are routed by the example policy and roster.
//! Run with `cargo bench --bench simulate` (`-- --leads N` to change the count).
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // a benchmark that measures the wrong thing must stop

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A deterministic stream (SplitMix64).
struct Stream(u64);

impl Stream {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
        choices[(self.next() % choices.len() as u64) as usize]
    }
}

/// `count` leads over the week from Monday 2026-11-23 09:00 Berlin, in time order.
fn week(count: usize) -> String {
    let mut stream = Stream(19);
    let start: jiff::Timestamp = "2026-11-23T08:00:00Z".parse().unwrap();
    // Weight of each hour of the week (UTC hours from the start), as the example week.
    let weights: Vec<u64> = (0..168)
        .map(|hour| {
            let at = start + jiff::SignedDuration::from_hours(hour);
            let utc = jiff::tz::TimeZone::UTC.to_datetime(at);
            let weekend = utc.weekday().to_monday_zero_offset() >= 5;
            let h = utc.hour();
            let mut weight =
                1 + u64::from((8..17).contains(&h)) * 9 + u64::from((14..22).contains(&h)) * 5;
            if weekend {
                weight = weight.div_ceil(4);
            }
            weight
        })
        .collect();
    let total: u64 = weights.iter().sum();
    let mut out = String::with_capacity(count * 200);
    let mut index = 0usize;
    for (hour, weight) in weights.iter().enumerate() {
        let here = (count as u64 * weight / total) as usize;
        let here = if hour == 167 { count - index } else { here };
        let mut seconds: Vec<u64> = (0..here).map(|_| stream.next() % 3600).collect();
        seconds.sort_unstable();
        for second in seconds {
            index += 1;
            let at = start + jiff::SignedDuration::from_secs(hour as i64 * 3600 + second as i64);
            let region = stream.pick(&["emea", "emea", "emea", "amer", "amer", "apac"]);
            let intent = stream.pick(&["low", "low", "medium", "medium", "high"]);
            let fit = stream.pick(&["weak", "weak", "strong"]);
            let source = stream.pick(&[
                "demo_request",
                "pricing_page",
                "contact_sales",
                "webinar",
                "content_download",
                "newsletter",
                "event",
                "referral",
            ]);
            let employees = 10 + stream.next() % 5000;
            let deal = employees * (20 + stream.next() % 60);
            out.push_str(&format!(
                "{{\"id\":\"S-{index}\",\"intent\":\"{intent}\",\"fit\":\"{fit}\",\"region\":\"{region}\",\
                 \"country\":\"DE\",\"employees\":{employees},\"deal_value\":{deal},\"source\":\"{source}\",\
                 \"created_at\":\"{at}\"}}\n"
            ));
        }
    }
    out
}

fn median_of_three(mut run: impl FnMut() -> Duration) -> Duration {
    let mut times = [run(), run(), run()];
    times.sort();
    times[1]
}

fn timed(args: &[&str], cwd: &Path) -> Duration {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    elapsed
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = !args.iter().any(|arg| arg == "--bench");
    let count = args
        .iter()
        .position(|arg| arg == "--leads")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(if quick { 2_000 } else { 100_000 });
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir =
        std::env::temp_dir().join(format!("switchboard-bench-simulate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let leads = dir.join("week.ndjson");
    std::fs::File::create(&leads)
        .unwrap()
        .write_all(week(count).as_bytes())
        .unwrap();
    let policy = root.join("examples/routing.route");
    let roster = root.join("examples/roster.json");
    let (policy, roster, leads) = (
        policy.to_str().unwrap(),
        roster.to_str().unwrap(),
        leads.to_str().unwrap(),
    );
    let report = dir.join("report.html");
    let simulate = median_of_three(|| {
        timed(
            &[
                "simulate", policy, "--roster", roster, "--leads", leads, "--quiet",
            ],
            &dir,
        )
    });
    let with_report = median_of_three(|| {
        timed(
            &[
                "simulate",
                policy,
                "--roster",
                roster,
                "--leads",
                leads,
                "--quiet",
                "--report",
                report.to_str().unwrap(),
            ],
            &dir,
        )
    });
    let route = median_of_three(|| {
        timed(
            &[
                "route",
                policy,
                "--roster",
                roster,
                "--leads",
                leads,
                "--state",
                ":memory:",
                "--now",
                "2026-11-23T08:00:00Z",
                "--quiet",
            ],
            &dir,
        )
    });
    println!(
        "simulate: {count} leads over a week, example policy and roster, median of 3 runs\n  \
         simulate                 {:.3} s ({:.0} leads/s)\n  \
         simulate --report FILE   {:.3} s\n  \
         route --state :memory:   {:.3} s ({:.0} leads/s): simulate costs {:.2}x route",
        simulate.as_secs_f64(),
        count as f64 / simulate.as_secs_f64(),
        with_report.as_secs_f64(),
        route.as_secs_f64(),
        count as f64 / route.as_secs_f64(),
        simulate.as_secs_f64() / route.as_secs_f64(),
    );
    let _ = std::fs::remove_dir_all(&dir);
}
