//! Delivery of the outbox to `--notify URL`: one message at a time, in the order the steps
//! fired, each a JSON POST signed by the Standard Webhooks convention (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature`), or a Slack `{"text": …}` message. A failed
//! delivery (no answer, or not 2xx) is retried with exponential backoff, and nothing after it is
//! sent before it: the outbox is in the state, so a restart resumes where delivery stopped.

use super::metrics::Metrics;
use super::{Job, signature};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use switchboard_core::route::state::Outgoing;

/// What a notification looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `{"type":"lead.escalated","timestamp":…,"data":{…the sweep line…}}`
    Json,
    /// `{"text":"…"}` for a Slack incoming webhook.
    Slack,
}

#[derive(Clone)]
pub struct Config {
    pub url: String,
    pub format: Format,
    /// The Standard Webhooks key (`SWITCHBOARD_NOTIFY_SECRET`); messages are signed with it.
    pub key: Option<Vec<u8>>,
    /// The first retry's wait; each next one doubles, up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
}

/// The body of a message in `format`.
pub fn body(message: &Outgoing, format: Format) -> String {
    let data: serde_json::Value =
        serde_json::from_str(&message.body).unwrap_or(serde_json::Value::Null);
    match format {
        Format::Json => serde_json::json!({
            "type": "lead.escalated",
            "timestamp": message.at.to_string(),
            "data": data,
        })
        .to_string(),
        Format::Slack => {
            serde_json::json!({ "text": slack_text(&message.lead, &data) }).to_string()
        }
    }
}

/// Slack's text of a fired step. Every value is escaped as Slack asks (`&`, `<`, `>`): a lead's
/// id comes from the internet, and `<!channel>` or `<https://…|Reset your password>` in it must
/// reach the channel as the characters it is, not as a mention or a disguised link.
fn slack_text(lead: &str, data: &serde_json::Value) -> String {
    let text = |key: &str| {
        data.get(key)
            .and_then(serde_json::Value::as_str)
            .map(slack_escaped)
    };
    let step = data
        .get("step")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or_default();
    let target = match (text("pool"), text("queue"), text("rep")) {
        (Some(pool), _, Some(rep)) => format!("pool `{pool}`, rep *{rep}*"),
        (_, Some(queue), _) => format!("queue `{queue}`"),
        (_, _, Some(rep)) => format!("rep *{rep}*"),
        _ => "nobody (see the reason)".to_string(),
    };
    let mut out = format!(
        ":rotating_light: Lead `{}` was not touched in time: escalation step {step} at {}, now {target}",
        slack_escaped(lead),
        text("at").unwrap_or_else(|| "?".to_string())
    );
    if let Some(reason) = text("reason") {
        out.push_str(&format!(". {reason}"));
    }
    out
}

/// `text` with Slack's three control characters escaped (its message formatting reads `<…>`
/// as links and mentions, and `&` as the start of an escape).
fn slack_escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Runs until `stop` is set: asks the state thread for undelivered messages, delivers each in
/// order, and tells the state thread which were delivered.
pub(super) fn run(
    config: &Config,
    jobs: &std::sync::mpsc::Sender<Job>,
    stop: &AtomicBool,
    wake: &std::sync::mpsc::Receiver<()>,
    metrics: &Arc<Metrics>,
) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    'asking: while !stop.load(Ordering::Relaxed) {
        // Empty also when another server holds the outbox's lease (a shared state).
        let Some(messages) = undelivered(jobs, 64) else {
            sleep_unless_stopped(stop, Duration::from_secs(1));
            continue;
        };
        if messages.is_empty() {
            // Woken by a sweep that posted, or every second.
            let _ = wake.recv_timeout(Duration::from_secs(1));
            continue;
        }
        for message in messages {
            let mut wait = config.backoff;
            loop {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                // Before every attempt: still this server's to deliver (the lease renewed; a
                // list can take longer than the lease), and not delivered by another server
                // meanwhile? Otherwise ask again from the start.
                let first = undelivered(jobs, 1).and_then(|list| list.first().map(|m| m.seq));
                if first != Some(message.seq) {
                    continue 'asking;
                }
                let Some(delivered) = deliver_unless_stopped(&agent, config, &message, stop) else {
                    return;
                };
                match delivered {
                    Ok(()) => {
                        metrics.notify_delivered.fetch_add(1, Ordering::Relaxed);
                        let (reply, answer) = tokio::sync::oneshot::channel();
                        if jobs.send(Job::Delivered(message.seq, reply)).is_err() {
                            return;
                        }
                        let _ = answer.blocking_recv();
                        break;
                    }
                    Err(why) => {
                        metrics.notify_retries.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            seq = message.seq,
                            lead = %message.lead,
                            retry_in_ms = wait.as_millis() as u64,
                            "notification not delivered: {why}"
                        );
                        sleep_unless_stopped(stop, wait);
                        wait = (wait * 2).min(config.max_backoff);
                    }
                }
            }
        }
    }
}

/// The oldest undelivered messages, when this server holds the outbox's lease (renewed by the
/// asking); `None` when the state failed or the server is stopping.
fn undelivered(jobs: &std::sync::mpsc::Sender<Job>, limit: usize) -> Option<Vec<Outgoing>> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    jobs.send(Job::Undelivered(limit, reply)).ok()?;
    answer.blocking_recv().ok()?.ok()
}

fn sleep_unless_stopped(stop: &AtomicBool, wait: Duration) {
    let until = std::time::Instant::now() + wait;
    while !stop.load(Ordering::Relaxed) {
        let now = std::time::Instant::now();
        if now >= until {
            return;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(50)));
    }
}

/// A message's `webhook-id`: `msg_N_DIGEST`, its number in the outbox and the first 64 bits of
/// the SHA-256 of the step it says (lead, step, time, who got it). The same for every attempt,
/// after a restart too, so a receiver can drop repeats; and distinct across states (a new
/// state file, `:memory:`, staging and production sending to one receiver), whose outboxes all
/// number from 1, unless the step is the very same (lead, step, time, rep and reasons).
pub fn message_id(message: &Outgoing) -> String {
    use sha2::Digest;
    use std::fmt::Write;
    let digest = sha2::Sha256::digest(message.body.as_bytes());
    let mut id = format!("msg_{}_", message.seq);
    for byte in &digest[..8] {
        let _ = write!(id, "{byte:02x}");
    }
    id
}

/// [`deliver`] on a thread of its own, waited for until it answers or the server stops
/// (`None`): a receiver that holds a delivery open holds a stop up for 50 ms, not the 10 s the
/// delivery may take. The delivery left behind is never marked delivered, so the next start
/// sends it again (at least once, as always).
fn deliver_unless_stopped(
    agent: &ureq::Agent,
    config: &Config,
    message: &Outgoing,
    stop: &AtomicBool,
) -> Option<Result<(), String>> {
    let (done, answer) = std::sync::mpsc::channel();
    let (agent, config, message) = (agent.clone(), config.clone(), message.clone());
    let spawned = std::thread::Builder::new()
        .name("notify delivery".into())
        .spawn(move || {
            let _ = done.send(deliver(&agent, &config, &message));
        });
    if let Err(error) = spawned {
        return Some(Err(format!("cannot start a delivery: {error}")));
    }
    loop {
        match answer.recv_timeout(Duration::from_millis(50)) {
            Ok(delivered) => return Some(delivered),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if stop.load(Ordering::Relaxed) {
                    return None;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Some(Err("the delivery stopped without an answer".to_string()));
            }
        }
    }
}

fn deliver(agent: &ureq::Agent, config: &Config, message: &Outgoing) -> Result<(), String> {
    let body = body(message, config.format);
    let id = message_id(message);
    let now = jiff::Timestamp::now().as_second();
    let mut request = agent
        .post(&config.url)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", &now.to_string());
    if let Some(key) = &config.key {
        request = request.header(
            "webhook-signature",
            &signature::standard_sign(key, &id, now, body.as_bytes()),
        );
    }
    match request.send(body.as_str()) {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(format!("the receiver answered {}", response.status())),
        Err(error) => Err(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Outgoing {
        Outgoing {
            seq: 7,
            at: jiff::Timestamp::UNIX_EPOCH,
            lead: "L-1".to_string(),
            body: r#"{"lead":"L-1","event":"escalated","step":1,"at":"1970-01-01T00:00:00Z","action":"pool","pool":"backup","rep":"anna"}"#.to_string(),
            pending: true,
        }
    }

    #[test]
    fn messages_are_events_or_slack_text() {
        let json: serde_json::Value =
            serde_json::from_str(&body(&message(), Format::Json)).unwrap_or_default();
        assert_eq!(json["type"], "lead.escalated");
        assert_eq!(json["data"]["rep"], "anna");
        let slack = body(&message(), Format::Slack);
        assert!(
            slack.contains("Lead `L-1` was not touched in time: escalation step 1 at 1970-01-01T00:00:00Z, now pool `backup`, rep *anna*"),
            "{slack}"
        );
    }

    #[test]
    fn a_lead_id_cannot_mention_the_channel_or_hide_a_link_in_slack() {
        let id = "x` <!channel> <https://evil.example/login|Reset your CRM password> & `";
        let mut hostile = message();
        hostile.lead = id.to_string();
        hostile.body = hostile
            .body
            .replace("\"L-1\"", &serde_json::json!(id).to_string());
        let slack: serde_json::Value =
            serde_json::from_str(&body(&hostile, Format::Slack)).unwrap_or_default();
        let text = slack["text"].as_str().unwrap_or_default();
        assert!(
            text.contains(
                "Lead `x` &lt;!channel&gt; &lt;https://evil.example/login|Reset your CRM \
                 password&gt; &amp; `` was not touched"
            ),
            "{text}"
        );
        assert!(!text.contains('<') && !text.contains('>'), "{text}");
    }
}
