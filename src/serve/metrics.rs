//! The server's counters, shown at `GET /metrics` in the Prometheus text format: requests by
//! endpoint and status, their latency as a histogram, decisions by action, escalations fired,
//! notifications delivered and retried, and reloads.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    /// Observations at or under each bound (not cumulative; summed when shown).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    decisions: Mutex<BTreeMap<&'static str, u64>>,
    pub duplicates: AtomicU64,
    pub escalations: AtomicU64,
    pub notify_delivered: AtomicU64,
    pub notify_retries: AtomicU64,
    pub reloads: AtomicU64,
    pub reload_failures: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A counter is still right after a panic elsewhere: take the data either way.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Metrics {
    /// One answered request.
    pub fn request(&self, endpoint: &str, status: u16, took: Duration) {
        *lock(&self.requests)
            .entry((endpoint.to_string(), status))
            .or_default() += 1;
        let seconds = took.as_secs_f64();
        let mut latency = lock(&self.latency);
        let histogram = latency.entry(endpoint.to_string()).or_default();
        if let Some(bucket) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            histogram.buckets[bucket] += 1;
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    /// One routed line: its action (`pool`, `rep`, `queue`, `owner`, `unassigned`) or `error`.
    pub fn decision(&self, action: &'static str) {
        *lock(&self.decisions).entry(action).or_default() += 1;
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP switchboard_requests_total HTTP requests answered, by endpoint and status.\n\
             # TYPE switchboard_requests_total counter\n",
        );
        for ((endpoint, status), count) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "switchboard_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {count}"
            );
        }
        out.push_str(
            "# HELP switchboard_request_duration_seconds Time to answer a request.\n\
             # TYPE switchboard_request_duration_seconds histogram\n",
        );
        for (endpoint, histogram) in lock(&self.latency).iter() {
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(histogram.buckets) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "switchboard_request_duration_seconds_bucket{{endpoint=\"{endpoint}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "switchboard_request_duration_seconds_bucket{{endpoint=\"{endpoint}\",le=\"+Inf\"}} {}\n\
                 switchboard_request_duration_seconds_sum{{endpoint=\"{endpoint}\"}} {}\n\
                 switchboard_request_duration_seconds_count{{endpoint=\"{endpoint}\"}} {}",
                histogram.count, histogram.sum, histogram.count
            );
        }
        out.push_str(
            "# HELP switchboard_decisions_total Leads decided, by action (`error`: not a lead).\n\
             # TYPE switchboard_decisions_total counter\n",
        );
        for (action, count) in lock(&self.decisions).iter() {
            let _ = writeln!(
                out,
                "switchboard_decisions_total{{action=\"{action}\"}} {count}"
            );
        }
        let counters = [
            (
                "switchboard_duplicates_total",
                "Leads answered with their recorded decision.",
                &self.duplicates,
            ),
            (
                "switchboard_escalations_fired_total",
                "Escalation steps fired by the sweeper or by events.",
                &self.escalations,
            ),
            (
                "switchboard_notifications_delivered_total",
                "Outbox messages delivered to --notify.",
                &self.notify_delivered,
            ),
            (
                "switchboard_notification_retries_total",
                "Failed deliveries to --notify, each retried.",
                &self.notify_retries,
            ),
            (
                "switchboard_reloads_total",
                "Policy or roster reloads that took effect.",
                &self.reloads,
            ),
            (
                "switchboard_reload_failures_total",
                "Reloads refused (the old policy kept serving).",
                &self.reload_failures,
            ),
        ];
        for (name, help, counter) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_counts_and_accumulates_buckets() {
        let metrics = Metrics::default();
        metrics.request("/v1/leads", 200, Duration::from_micros(300));
        metrics.request("/v1/leads", 200, Duration::from_millis(3));
        metrics.request("/v1/leads", 422, Duration::from_secs(9));
        metrics.decision("pool");
        metrics.reload_failures.fetch_add(1, Ordering::Relaxed);
        let text = metrics.render();
        assert!(
            text.contains("switchboard_requests_total{endpoint=\"/v1/leads\",status=\"200\"} 2\n")
        );
        assert!(text.contains("le=\"0.0005\"} 1\n"));
        assert!(text.contains("le=\"0.005\"} 2\n"));
        assert!(text.contains("le=\"5\"} 2\n"));
        assert!(text.contains("le=\"+Inf\"} 3\n"));
        assert!(text.contains("switchboard_decisions_total{action=\"pool\"} 1\n"));
        assert!(text.contains("switchboard_reload_failures_total 1\n"));
    }
}
