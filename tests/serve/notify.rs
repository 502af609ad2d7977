//! Notifications: fired escalations go to `--notify` as Standard Webhooks events, in order,
//! retried with backoff when the receiver fails, kept in the state's outbox across a restart.

use super::{Server, request, scratch};
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};

const SECRET: &str = "whsec_bm90aWZ5LXJlY2VpdmVyLXRlc3Qta2V5LTAx";

/// One delivery as the receiver saw it, and what it answered.
#[derive(Clone, Debug)]
struct Delivery {
    headers: Vec<(String, String)>,
    body: String,
    answered: u16,
}

impl Delivery {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map_or("", |(_, value)| value.as_str())
    }
}

/// A receiver on a free port that answers 500 to its first `failures` deliveries, then 200.
fn receiver(failures: usize) -> (String, Arc<Mutex<Vec<Delivery>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let seen: Arc<Mutex<Vec<Delivery>>> = Arc::default();
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let trimmed = line.trim_end();
                if trimmed.is_empty() {
                    break;
                }
                if let Some((key, value)) = trimmed.split_once(':') {
                    headers.push((key.trim().to_string(), value.trim().to_string()));
                }
            }
            let length: usize = headers
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, value)| value.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let mut log = log.lock().unwrap();
            let answered = if log.len() < failures { 500 } else { 200 };
            log.push(Delivery {
                headers,
                body: String::from_utf8(body).unwrap(),
                answered,
            });
            drop(log);
            let _ = write!(
                stream,
                "HTTP/1.1 {answered} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (address, seen)
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "waited too long for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
}

fn verify(delivery: &Delivery) {
    use base64::Engine;
    use hmac::Mac;
    let engine = base64::engine::general_purpose::STANDARD;
    let key = engine
        .decode(SECRET.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(
        format!(
            "{}.{}.{}",
            delivery.header("webhook-id"),
            delivery.header("webhook-timestamp"),
            delivery.body
        )
        .as_bytes(),
    );
    let expected = format!("v1,{}", engine.encode(mac.finalize().into_bytes()));
    assert_eq!(delivery.header("webhook-signature"), expected);
}

#[test]
fn a_receiver_that_fails_three_times_gets_every_escalation_in_order_across_a_restart() {
    let dir = scratch("notify");
    let state = dir.join("state.db");
    let (address, seen) = receiver(3);
    let url = format!("http://{address}/hooks/switchboard");
    let args = [
        "--sweep-every",
        "1",
        "--notify",
        url.as_str(),
        "--notify-backoff-ms",
        "200",
    ];
    let env = [("SWITCHBOARD_NOTIFY_SECRET", SECRET)];
    let server = Server::start_with(&super::example("routing.route"), &state, &args, &env);
    // Two hot leads from last week: their steps to `backup` are long due, S-1's first.
    for (id, at) in [("S-1", "10:00"), ("S-2", "10:05")] {
        let lead = format!(
            r#"{{"id":"{id}","intent":"high","fit":"strong","region":"emea","country":"DE","employees":800,"deal_value":20000,"source":"demo_request","created_at":"2026-11-23T{at}:00+01:00"}}"#
        );
        let (status, body) = super::post(&server.address, "/v1/leads", &lead);
        assert_eq!(status, 200, "{body}");
    }
    // The first sweep fires both; the receiver fails the first deliveries of S-1.
    wait_until("two failed deliveries", || seen.lock().unwrap().len() >= 2);
    assert!(server.stop().success());
    let before: Vec<Delivery> = seen.lock().unwrap().clone();
    assert!(before.iter().all(|d| d.answered == 500), "{before:?}");

    // After the restart the outbox is still there: the third failure, then both, in order.
    let server = Server::start_with(&super::example("routing.route"), &state, &args, &env);
    wait_until("both delivered", || {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|d| d.answered == 200)
            .count()
            >= 2
    });
    let all: Vec<Delivery> = seen.lock().unwrap().clone();
    assert_eq!(all[..3].iter().filter(|d| d.answered == 500).count(), 3);
    let delivered: Vec<&Delivery> = all.iter().filter(|d| d.answered == 200).collect();
    assert_eq!(delivered.len(), 2, "{all:?}");
    let leads: Vec<String> = delivered
        .iter()
        .map(|delivery| {
            verify(delivery);
            let event: serde_json::Value = serde_json::from_str(&delivery.body).unwrap();
            assert_eq!(event["type"], "lead.escalated");
            assert_eq!(event["data"]["pool"], "backup");
            event["data"]["lead"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(leads, ["S-1", "S-2"]);
    // Every attempt at one message carries the same id: a receiver can drop repeats.
    assert!(
        all[..4]
            .iter()
            .all(|d| d.header("webhook-id") == all[0].header("webhook-id"))
    );
    // `msg_N_DIGEST`: numbered in the outbox, and told apart from another state's message N.
    let id = all[0].header("webhook-id");
    assert!(id.starts_with("msg_1_") && id.len() == 22, "{id}");
    assert_ne!(
        delivered[0].header("webhook-id"),
        delivered[1].header("webhook-id")
    );

    // The same steps, listed by the server; the counters of this run.
    let (status, listed) = request(
        &server.address,
        "GET",
        "/v1/escalations?since=2026-11-23",
        "",
        &[],
    );
    assert_eq!(status, 200);
    let listed: Vec<&str> = listed.lines().collect();
    assert_eq!(listed.len(), 2);
    assert!(listed[0].starts_with("{\"lead\":\"S-1\",\"event\":\"escalated\",\"step\":1,"));
    // By number, in the order they fired: a cursor no step can slip past, with what is left.
    let page = |query: &str| {
        let (status, head, body) = super::exchange(
            &server.address,
            "GET",
            &format!("/v1/escalations?{query}"),
            "",
            &[],
        )
        .unwrap();
        assert_eq!(status, 200, "{body}");
        let head = head.to_ascii_lowercase();
        let header = |name: &str| {
            head.lines()
                .find_map(|line| line.strip_prefix(&format!("{name}: ")))
                .map(|value| value.trim().to_string())
        };
        let leads: Vec<String> = body
            .lines()
            .map(|line| {
                let step: serde_json::Value = serde_json::from_str(line).unwrap();
                step["lead"].as_str().unwrap().to_string()
            })
            .collect();
        (leads, header("x-next-after"), header("x-more"))
    };
    assert_eq!(
        page("after=0&limit=1"),
        (
            vec!["S-1".to_string()],
            Some("1".into()),
            Some("true".into())
        )
    );
    assert_eq!(
        page("after=1&limit=1"),
        (
            vec!["S-2".to_string()],
            Some("2".into()),
            Some("false".into())
        )
    );
    assert_eq!(
        page("after=2"),
        (vec![], Some("2".into()), Some("false".into()))
    );
    assert_eq!(page("since=2026-11-23&limit=1").2, Some("true".into()));
    // A cursor past the last message (a poller of an outbox that was started again) is told so.
    let (status, body) = request(&server.address, "GET", "/v1/escalations?after=9", "", &[]);
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains("\"code\":\"cursor\"") && body.contains("list from `after=0`"),
        "{body}"
    );
    let (status, body) = request(&server.address, "GET", "/v1/escalations", "", &[]);
    assert_eq!(status, 400);
    assert!(
        body.contains("?after=0") && body.contains("?since="),
        "{body}"
    );
    // An offset's `+` not written `%2B` arrives as a space: the answer says how to write it.
    let (status, body) = request(
        &server.address,
        "GET",
        "/v1/escalations?since=2026-11-23T00:00:00+01:00",
        "",
        &[],
    );
    assert_eq!(status, 400);
    assert!(body.contains("write it `%2B`"), "{body}");
    let (status, _) = request(
        &server.address,
        "GET",
        "/v1/escalations?since=2026-11-23T00:00:00%2B01:00",
        "",
        &[],
    );
    assert_eq!(status, 200);
    let (status, body) = request(&server.address, "GET", "/v1/escalations?after=-1", "", &[]);
    assert_eq!(status, 400);
    assert!(
        body.contains("`after=-1` is not a message number"),
        "{body}"
    );
    let (_, metrics) = request(&server.address, "GET", "/metrics", "", &[]);
    assert!(
        metrics.contains("switchboard_notifications_delivered_total 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchboard_notification_retries_total "),
        "{metrics}"
    );
    assert!(server.stop().success());
    // Nothing is sent twice once delivered.
    let server = Server::start_with(&super::example("routing.route"), &state, &args, &env);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(server.stop().success());
    assert_eq!(seen.lock().unwrap().len(), all.len());
}

/// deploy.md's one machine: `serve --notify` on a SQLite file, with `sweep` from cron and
/// `track` from a script on the same file. The steps the command line fires go into the same
/// outbox, so the server delivers them and lists them, as it does its own.
#[test]
fn steps_fired_by_the_command_line_reach_the_servers_outbox() {
    let dir = scratch("notify-cli");
    let state = dir.join("state.db");
    let (address, seen) = receiver(0);
    let url = format!("http://{address}/hooks/switchboard");
    let env = [("SWITCHBOARD_NOTIFY_SECRET", SECRET)];
    let policy = super::example("routing.route");
    let server = Server::start_with(
        &policy,
        &state,
        &["--notify", url.as_str(), "--notify-backoff-ms", "200"],
        &env,
    );
    for (id, at) in [("C-1", "10:00"), ("C-2", "10:05")] {
        let lead = format!(
            r#"{{"id":"{id}","intent":"high","fit":"strong","region":"emea","country":"DE","employees":800,"deal_value":20000,"source":"demo_request","created_at":"2026-11-23T{at}:00+01:00"}}"#
        );
        let (status, body) = super::post(&server.address, "/v1/leads", &lead);
        assert_eq!(status, 200, "{body}");
    }
    let state_arg = state.to_string_lossy().to_string();
    // `track` an event of C-2 long after its step was due: the step fires first.
    let mut track = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["track", policy.as_str(), "--state", &state_arg, "--quiet"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    track
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"lead\":\"C-2\",\"event\":\"touched\",\"at\":\"2026-11-24T09:00:00+01:00\",\"by\":\"egor\"}\n")
        .unwrap();
    let tracked = track.wait_with_output().unwrap();
    assert!(tracked.status.success(), "{tracked:?}");
    wait_until("the step track fired", || !seen.lock().unwrap().is_empty());
    // `sweep` fires C-1's.
    let swept = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["sweep", policy.as_str(), "--state", &state_arg, "--quiet"])
        .output()
        .unwrap();
    assert!(swept.status.success(), "{swept:?}");
    assert_eq!(String::from_utf8_lossy(&swept.stdout).lines().count(), 1);
    wait_until("the step sweep fired", || seen.lock().unwrap().len() >= 2);
    let delivered: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|delivery| {
            verify(delivery);
            let event: serde_json::Value = serde_json::from_str(&delivery.body).unwrap();
            assert_eq!(event["type"], "lead.escalated");
            event["data"]["lead"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(delivered, ["C-2", "C-1"]);
    let (status, listed) = request(&server.address, "GET", "/v1/escalations?after=0", "", &[]);
    assert_eq!(status, 200);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(server.stop().success());
}

/// A receiver that takes the connection and never answers holds a delivery for up to 10 s;
/// it must not hold a stop that long (serve.md: a stop takes at most `--request-timeout` and
/// a second). The message is not marked delivered, so the next start sends it again.
#[test]
fn a_receiver_that_never_answers_does_not_hold_a_stop() {
    let dir = scratch("notify-silent");
    let state = dir.join("state.db");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let connected = Arc::new(Mutex::new(Vec::new()));
    let held = Arc::clone(&connected);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            held.lock().unwrap().push(stream);
        }
    });
    let url = format!("http://{address}/hooks");
    let env = [("SWITCHBOARD_NOTIFY_SECRET", SECRET)];
    let args = [
        "--sweep-every",
        "1",
        "--request-timeout",
        "1",
        "--notify",
        url.as_str(),
    ];
    let server = Server::start_with(&super::example("routing.route"), &state, &args, &env);
    let lead = r#"{"id":"Q-1","intent":"high","fit":"strong","region":"emea","country":"DE","employees":800,"deal_value":20000,"source":"demo_request","created_at":"2026-11-23T10:00:00+01:00"}"#;
    let (status, body) = super::post(&server.address, "/v1/leads", lead);
    assert_eq!(status, 200, "{body}");
    wait_until("the delivery to connect", || {
        !connected.lock().unwrap().is_empty()
    });
    let stopping = std::time::Instant::now();
    assert!(server.stop().success());
    assert!(
        stopping.elapsed() < std::time::Duration::from_secs(5),
        "the stop waited {:?} for a receiver that never answers",
        stopping.elapsed()
    );
    // Still waiting in the outbox: the next start tries it again.
    let server = Server::start_with(&super::example("routing.route"), &state, &args, &env);
    wait_until("a second attempt", || connected.lock().unwrap().len() >= 2);
    drop(server);
}

#[test]
fn notify_needs_a_secret_unless_it_posts_to_slack() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "serve",
            &super::example("routing.route"),
            "--listen",
            "127.0.0.1:0",
            "--notify",
            "http://127.0.0.1:9/hook",
        ])
        .env_remove("SWITCHBOARD_NOTIFY_SECRET")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--notify needs SWITCHBOARD_NOTIFY_SECRET"),
        "{stderr}"
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "serve",
            &super::example("routing.route"),
            "--notify",
            "hooks.slack.com/services/T0/B0/x",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not an http:// or https:// URL"));
}
