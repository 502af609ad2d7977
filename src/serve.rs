//! `switchboard serve`: the router kept running behind HTTP. One thread owns the policy, the
//! roster and the state, as `route` does; HTTP handlers (tokio + axum) hand it requests through
//! a channel, and it decides every request waiting at that moment in one state transaction
//! (group commit), answering each only after the commit, so an answer is never ahead of the
//! state. The sweeper is a timer that asks the same thread to fire due escalation steps.
//!
//! Architecture invariant: the HTTP side never touches the state; every decision, event and
//! sweep goes through the state thread, in arrival order.

use crate::route::reader::Limits;
use crate::route::state::StateStore;
use crate::route::{RouteConfig, Router, wire};
use axum::Router as Http;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::oneshot;

/// What the server routes with: loaded and checked by the command line.
pub struct Setup {
    pub policy: crate::model::Policy,
    pub compiled: crate::graph::Compiled,
    pub policy_text: String,
    pub policy_path: String,
    pub roster: Option<crate::route::roster::Roster>,
    pub state: Box<dyn StateStore + Send>,
    /// How the state was named (`--state`), for `/v1/status`.
    pub state_name: String,
    pub sweep_every: std::time::Duration,
    pub token: Option<String>,
    pub max_body_bytes: usize,
}

/// A request for the state thread, with where to send the answer.
enum Job {
    Leads(Vec<Vec<u8>>, oneshot::Sender<Vec<String>>),
    Events(Vec<Vec<u8>>, oneshot::Sender<Vec<String>>),
    Sweep(jiff::Timestamp, oneshot::Sender<Vec<String>>),
}

/// Counters `/v1/status` shows.
#[derive(Default)]
struct Counts {
    leads: AtomicU64,
    events: AtomicU64,
    escalations: AtomicU64,
    requests: AtomicU64,
}

struct Shared {
    jobs: std::sync::mpsc::Sender<Job>,
    token: Option<String>,
    counts: Counts,
    status: serde_json::Value,
}

/// Runs the server on `listener` until SIGTERM or SIGINT; then stops taking requests, finishes
/// those in flight, commits, and returns.
pub fn run(setup: Setup, listener: std::net::TcpListener) -> Result<(), String> {
    let (jobs, inbox) = std::sync::mpsc::channel::<Job>();
    let status = serde_json::json!({
        "policy": setup.policy_path,
        "policy_hash": crate::route::policy_hash(&setup.policy_text),
        "loaded_at": jiff::Timestamp::now().to_string(),
        "roster_as_of": setup.roster.as_ref().and_then(|r| r.as_of).map(|t| t.to_string()),
        "state": setup.state_name,
    });
    let sweep_every = setup.sweep_every;
    let token = setup.token.clone();
    let max_body = setup.max_body_bytes;
    let worker = std::thread::Builder::new()
        .name("switchboard-state".to_string())
        .spawn(move || state_thread(setup, &inbox))
        .map_err(|error| format!("cannot start the state thread: {error}"))?;
    let shared = Arc::new(Shared {
        jobs,
        token,
        counts: Counts::default(),
        status,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the server's runtime: {error}"))?;
    let served = runtime.block_on(async move {
        listener
            .set_nonblocking(true)
            .map_err(|error| format!("cannot listen: {error}"))?;
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|error| format!("cannot listen: {error}"))?;
        let sweeper = tokio::spawn(sweep_timer(Arc::clone(&shared), sweep_every));
        let app = Http::new()
            .route("/v1/leads", post(leads))
            .route("/v1/events", post(events))
            .route("/v1/status", get(status_page))
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/readyz", get(ready))
            .layer(DefaultBodyLimit::max(max_body))
            .with_state(Arc::clone(&shared));
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(stop_signal())
            .await
            .map_err(|error| format!("the server stopped: {error}"));
        sweeper.abort();
        drop(shared);
        result
    });
    // Every sender is gone: the state thread commits what it has and ends.
    drop(runtime);
    worker
        .join()
        .map_err(|_| "the state thread failed".to_string())??;
    served
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The state thread: takes every job waiting, decides them in one transaction, commits, then
/// answers each.
fn state_thread(setup: Setup, inbox: &std::sync::mpsc::Receiver<Job>) -> Result<(), String> {
    let Setup {
        policy,
        compiled,
        policy_text,
        roster,
        mut state,
        ..
    } = setup;
    let config = RouteConfig {
        now: jiff::Timestamp::now(),
        explain: false,
        limits: Limits::default(),
    };
    let mut router = Router::new(&policy, &compiled, roster.as_ref(), config, &policy_text);
    while let Ok(first) = inbox.recv() {
        let mut batch = vec![first];
        while batch.len() < 256 {
            match inbox.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // One routing time per batch: the moment its requests are decided.
        router.set_now(jiff::Timestamp::now());
        state.begin().map_err(|error| error.to_string())?;
        let mut answers = Vec::with_capacity(batch.len());
        for job in batch {
            match job {
                Job::Leads(lines, reply) => {
                    let mut out = Vec::with_capacity(lines.len());
                    for (index, line) in lines.iter().enumerate() {
                        let outcome = router
                            .route_line(state.as_mut(), line)
                            .map_err(|error| error.to_string())?;
                        out.push(wire::outcome_json(&outcome, index + 1));
                    }
                    answers.push((reply, out));
                }
                Job::Events(lines, reply) => {
                    let mut out = Vec::with_capacity(lines.len());
                    for (index, line) in lines.iter().enumerate() {
                        let (tracked, fired) = router
                            .track_line(state.as_mut(), line)
                            .map_err(|error| error.to_string())?;
                        out.push(tracked.to_json_after(&fired, index + 1));
                    }
                    answers.push((reply, out));
                }
                Job::Sweep(now, reply) => {
                    let mut out = Vec::new();
                    while let Some(step) = router
                        .sweep_next(state.as_mut(), now)
                        .map_err(|error| error.to_string())?
                    {
                        out.extend(step.map(|fired| fired.to_json()));
                    }
                    answers.push((reply, out));
                }
            }
        }
        state.commit().map_err(|error| error.to_string())?;
        for (reply, out) in answers {
            let _ = reply.send(out);
        }
    }
    Ok(())
}

async fn sweep_timer(shared: Arc<Shared>, every: std::time::Duration) {
    // The first sweep runs one period after the start, then every period.
    let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        timer.tick().await;
        let (reply, answer) = oneshot::channel();
        if shared
            .jobs
            .send(Job::Sweep(jiff::Timestamp::now(), reply))
            .is_err()
        {
            return;
        }
        if let Ok(fired) = answer.await {
            shared
                .counts
                .escalations
                .fetch_add(fired.len() as u64, Ordering::Relaxed);
        }
    }
}

/// A JSON error answer: `{"error":{"code","message"}}`.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"error": {"code": code, "message": message}});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{body}\n"),
    )
        .into_response()
}

/// Whether the request carries the bearer token (when one is set), compared in constant time.
fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some(token) = &shared.token else {
        return true;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    constant_time_eq(given.as_bytes(), token.as_bytes())
}

/// Equal bytes, compared without stopping at the first difference.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The lines of a body: one JSON object, a JSON array of objects, or NDJSON. `Err` when the
/// body is not JSON at all.
fn body_lines(body: &[u8]) -> Result<(Vec<Vec<u8>>, bool), String> {
    let text = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let start = text.iter().position(|b| !b.is_ascii_whitespace());
    match start.map(|i| text[i]) {
        Some(b'[') => {
            let values: Vec<serde_json::Value> = serde_json::from_slice(text)
                .map_err(|error| format!("the body is not a JSON array: {error}"))?;
            Ok((
                values
                    .iter()
                    .map(|value| value.to_string().into_bytes())
                    .collect(),
                false,
            ))
        }
        Some(b'{') => {
            let lines: Vec<Vec<u8>> = text
                .split(|b| *b == b'\n')
                .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
                .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
                .map(<[u8]>::to_vec)
                .collect();
            let single = lines.len() == 1;
            Ok((lines, single))
        }
        Some(_) => Err(
            "the body is not JSON: send one lead as a JSON object, several as a JSON array or \
             as NDJSON (one object per line)"
                .to_string(),
        ),
        None => Err("the body is empty: send a lead as a JSON object".to_string()),
    }
}

async fn submit(
    shared: &Shared,
    headers: &HeaderMap,
    body: &Bytes,
    job: fn(Vec<Vec<u8>>, oneshot::Sender<Vec<String>>) -> Job,
) -> Response {
    shared.counts.requests.fetch_add(1, Ordering::Relaxed);
    if !authorized(shared, headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this server wants `Authorization: Bearer <SWITCHBOARD_TOKEN>`",
        );
    }
    let (lines, single) = match body_lines(body) {
        Ok(parsed) => parsed,
        Err(message) => return error(StatusCode::BAD_REQUEST, "body.json", &message),
    };
    let (reply, answer) = oneshot::channel();
    if shared.jobs.send(job(lines, reply)).is_err() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "state",
            "the state is not available",
        );
    }
    let Ok(out) = answer.await else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "state",
            "the state failed; nothing of this request was recorded",
        );
    };
    let failed = out.iter().any(|line| line.contains("\"error\":{"));
    let status = if single && failed {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut text = String::with_capacity(out.iter().map(|l| l.len() + 1).sum());
    for line in &out {
        text.push_str(line);
        text.push('\n');
    }
    (
        status,
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        text,
    )
        .into_response()
}

async fn leads(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let response = submit(&shared, &headers, &body, Job::Leads).await;
    if response.status().is_success() || response.status() == StatusCode::UNPROCESSABLE_ENTITY {
        shared.counts.leads.fetch_add(1, Ordering::Relaxed);
    }
    response
}

async fn events(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let response = submit(&shared, &headers, &body, Job::Events).await;
    if response.status().is_success() || response.status() == StatusCode::UNPROCESSABLE_ENTITY {
        shared.counts.events.fetch_add(1, Ordering::Relaxed);
    }
    response
}

async fn ready(State(shared): State<Arc<Shared>>) -> Response {
    let (reply, answer) = oneshot::channel();
    // A sweep at the epoch fires nothing: it only proves the state thread answers.
    let alive = shared
        .jobs
        .send(Job::Sweep(jiff::Timestamp::UNIX_EPOCH, reply))
        .is_ok()
        && answer.await.is_ok();
    if alive {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "state",
            "the state is not available",
        )
    }
}

async fn status_page(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !authorized(&shared, &headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this server wants `Authorization: Bearer <SWITCHBOARD_TOKEN>`",
        );
    }
    let mut status = shared.status.clone();
    if let serde_json::Value::Object(object) = &mut status {
        let counts = &shared.counts;
        object.insert(
            "requests".into(),
            counts.requests.load(Ordering::Relaxed).into(),
        );
        object.insert(
            "lead_requests".into(),
            counts.leads.load(Ordering::Relaxed).into(),
        );
        object.insert(
            "event_requests".into(),
            counts.events.load(Ordering::Relaxed).into(),
        );
        object.insert(
            "escalations_fired".into(),
            counts.escalations.load(Ordering::Relaxed).into(),
        );
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{status}\n"),
    )
        .into_response()
}

/// Whether an address is only reachable from this machine.
pub fn is_loopback(address: &std::net::SocketAddr) -> bool {
    address.ip().is_loopback()
}

/// `Err` with the reason when the server would be open to the network without a token.
pub fn check_exposure(address: &std::net::SocketAddr, token: Option<&str>) -> Result<(), String> {
    if is_loopback(address) || token.is_some_and(|token| !token.is_empty()) {
        Ok(())
    } else {
        Err(format!(
            "--listen {address} is reachable from other machines, and SWITCHBOARD_TOKEN is not \
             set: set a token (clients send `Authorization: Bearer <token>`), or listen on \
             127.0.0.1"
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_one_object_an_array_or_ndjson() {
        assert_eq!(body_lines(b"{\"id\":\"a\"}").unwrap().0.len(), 1);
        assert!(body_lines(b"{\"id\":\"a\"}").unwrap().1);
        assert_eq!(
            body_lines(b"[{\"id\":\"a\"},{\"id\":\"b\"}]")
                .unwrap()
                .0
                .len(),
            2
        );
        let (lines, single) = body_lines(b"{\"id\":\"a\"}\n{\"id\":\"b\"}\n\n").unwrap();
        assert_eq!((lines.len(), single), (2, false));
        assert!(body_lines(b"id=a").is_err());
        assert!(body_lines(b"   ").is_err());
        assert!(body_lines(b"[1,").is_err());
    }

    #[test]
    fn tokens_are_compared_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }

    #[test]
    fn only_loopback_is_open_without_a_token() {
        let local: std::net::SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let open: std::net::SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert!(check_exposure(&local, None).is_ok());
        assert!(check_exposure(&open, None).is_err());
        assert!(check_exposure(&open, Some("")).is_err());
        assert!(check_exposure(&open, Some("t0ken")).is_ok());
    }
}
