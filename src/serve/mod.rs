//! `switchboard serve`: the router kept running behind HTTP. One thread owns the policy, the
//! roster and the state, as `route` does; HTTP handlers (tokio + axum) hand it requests through
//! a channel, and it decides every request waiting at that moment in one state transaction
//! (group commit), answering each only after the commit, so an answer is never ahead of the
//! state. Around it: the sweeper (a timer asking the state thread to fire due steps), the
//! notifier (delivering the outbox to `--notify`, [`notify`]), the watcher (reloading the
//! policy and roster when they change or on SIGHUP), signed webhooks ([`signature`],
//! `route::mapping`) and the counters of `/metrics` ([`metrics`]).
//!
//! Architecture invariant: nothing but the state thread touches the state or the loaded policy;
//! every decision, event, sweep, reload and outbox change goes through it, in arrival order, so
//! a reload takes effect between two batches and in-flight requests finish on the old policy.

pub mod metrics;
pub mod notify;
pub mod signature;

use crate::route::decision::Outcome;
use crate::route::mapping::Mapping;
use crate::route::reader::{LeadError, Limits};
use crate::route::state::{Outgoing, StateError, StateErrorKind, StateStore};
use crate::route::{RouteConfig, Router, wire};
use axum::Router as Http;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, MatchedPath, OriginalUri, Query, State};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use metrics::Metrics;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// What the server routes with, replaced whole by a reload.
pub struct Bundle {
    pub policy: crate::model::Policy,
    pub compiled: crate::graph::Compiled,
    pub policy_text: String,
    pub policy_path: String,
    pub roster: Option<crate::route::roster::Roster>,
    /// How HubSpot's and Standard Webhooks' payloads become leads (`None`: as they are).
    pub hubspot_map: Option<Mapping>,
    pub standard_map: Option<Mapping>,
}

/// Reads and checks the policy, roster and mappings again: `Err` says why the new version
/// cannot serve.
pub type Reload = Box<dyn Fn() -> Result<Bundle, String> + Send>;

/// Everything the server needs, set up by the command line.
pub struct Setup {
    pub bundle: Bundle,
    pub reload: Reload,
    /// The files whose change triggers a reload, as they were before the bundle was read.
    pub watched: Watched,
    /// How often the watched files are looked at.
    pub watch_every: Duration,
    pub state: Box<dyn StateStore + Send>,
    /// How the state was named (`--state`), for `/v1/status`.
    pub state_name: String,
    pub sweep_every: Duration,
    pub token: Option<String>,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    /// How long a client has to send a request's head (its line and headers) once it starts one,
    /// or once its connection opens (`--header-timeout`): a client that stalls partway is
    /// disconnected, so stalled connections cannot pile up or hold a shutdown.
    pub header_timeout: Duration,
    /// `SWITCHBOARD_HUBSPOT_SECRET`: `/v1/hooks/hubspot` is open only with it.
    pub hubspot_secret: Option<String>,
    /// `SWITCHBOARD_WEBHOOK_SECRET`, decoded: `/v1/hooks/standard` is open only with it.
    pub standard_key: Option<Vec<u8>>,
    /// The address clients call (`--public-url`), for the URI HubSpot signs.
    pub public_url: Option<String>,
    pub notify: Option<notify::Config>,
}

/// Why a request could not be answered with decisions.
enum Failed {
    /// The payload does not hold leads where the mapping says: 422.
    Payload(String),
    /// The state failed; nothing of the batch was recorded: 503.
    State(String),
}

type Reply = oneshot::Sender<Result<Vec<String>, Failed>>;
type Listing = oneshot::Sender<Result<Vec<Outgoing>, String>>;

/// Which webhook a payload came from.
#[derive(Clone, Copy)]
enum Hook {
    HubSpot,
    Standard,
}

/// Where a listing of fired steps starts: at a time (by when the steps were due), or after a
/// message number (in the order they fired).
#[derive(Debug, Clone, Copy)]
enum ListFrom {
    Time(jiff::Timestamp),
    After(u64),
}

/// A request for the state thread, with where to send the answer.
enum Job {
    /// A body's lines, and where each broken object of it lies in the body.
    Leads(Vec<Vec<u8>>, Vec<Option<BodySpan>>, Reply),
    Events(Vec<Vec<u8>>, Vec<Option<BodySpan>>, Reply),
    /// A verified webhook payload, and the delivery's id (the leads' id when they have none).
    Hook(Hook, serde_json::Value, Option<String>, Reply),
    Sweep(jiff::Timestamp, Reply),
    /// A checked new bundle: takes effect after the batch it ends.
    Reload(Box<Bundle>, oneshot::Sender<()>),
    Undelivered(usize, Listing),
    Delivered(u64, oneshot::Sender<()>),
    Escalations(ListFrom, usize, Listing),
}

/// Counters `/v1/status` shows.
#[derive(Default)]
struct Counts {
    leads: AtomicU64,
    events: AtomicU64,
    requests: AtomicU64,
}

struct Shared {
    jobs: std::sync::mpsc::Sender<Job>,
    token: Option<String>,
    counts: Counts,
    /// What `/v1/status` says about the policy, roster, state and last reload.
    status: Mutex<serde_json::Value>,
    metrics: Arc<Metrics>,
    hubspot_secret: Option<String>,
    standard_key: Option<Vec<u8>>,
    public_url: Option<String>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn bundle_status(bundle: &Bundle) -> serde_json::Value {
    serde_json::json!({
        "policy": bundle.policy_path,
        "policy_hash": crate::route::policy_hash(&bundle.policy_text),
        "loaded_at": jiff::Timestamp::now().to_string(),
        "roster_as_of": bundle.roster.as_ref().and_then(|r| r.as_of).map(|t| t.to_string()),
    })
}

/// Runs the server on `listener` until SIGTERM or SIGINT; then stops taking requests, finishes
/// those in flight, commits, and returns.
pub fn run(setup: Setup, listener: std::net::TcpListener) -> Result<(), String> {
    let Setup {
        bundle,
        reload,
        watched,
        watch_every,
        state,
        state_name,
        sweep_every,
        token,
        max_body_bytes,
        request_timeout,
        header_timeout,
        hubspot_secret,
        standard_key,
        public_url,
        notify,
    } = setup;
    let (jobs, inbox) = std::sync::mpsc::channel::<Job>();
    let mut status = bundle_status(&bundle);
    if let serde_json::Value::Object(object) = &mut status {
        object.insert("state".into(), state_name.into());
        object.insert("reload".into(), serde_json::Value::Null);
    }
    let metrics = Arc::new(Metrics::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (wake, woken) = std::sync::mpsc::channel::<()>();
    let notifying = notify.is_some();
    let worker = {
        let metrics = Arc::clone(&metrics);
        std::thread::Builder::new()
            .name("switchboard-state".to_string())
            .spawn(move || {
                state_thread(
                    bundle,
                    state,
                    &inbox,
                    &metrics,
                    notifying,
                    &wake,
                    &notifier_id(),
                )
            })
            .map_err(|error| format!("cannot start the state thread: {error}"))?
    };
    let shared = Arc::new(Shared {
        jobs,
        token,
        counts: Counts::default(),
        status: Mutex::new(status),
        metrics,
        hubspot_secret,
        standard_key,
        public_url,
    });
    let notifier = match notify {
        Some(config) => {
            let jobs = shared.jobs.clone();
            let stop = Arc::clone(&stop);
            let metrics = Arc::clone(&shared.metrics);
            Some(
                std::thread::Builder::new()
                    .name("switchboard-notify".to_string())
                    .spawn(move || notify::run(&config, &jobs, &stop, &woken, &metrics))
                    .map_err(|error| format!("cannot start the notifier: {error}"))?,
            )
        }
        None => None,
    };
    let (reload_requests, reload_inbox) = std::sync::mpsc::channel::<()>();
    let watcher = {
        let shared = Arc::clone(&shared);
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("switchboard-watch".to_string())
            .spawn(move || watch(&reload, watched, watch_every, &reload_inbox, &shared, &stop))
            .map_err(|error| format!("cannot start the file watcher: {error}"))?
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the server's runtime: {error}"))?;
    let served = runtime.block_on({
        let shared = Arc::clone(&shared);
        let reload_requests = reload_requests.clone();
        async move {
            listener
                .set_nonblocking(true)
                .map_err(|error| format!("cannot listen: {error}"))?;
            let listener = tokio::net::TcpListener::from_std(listener)
                .map_err(|error| format!("cannot listen: {error}"))?;
            let sweeper = tokio::spawn(sweep_timer(Arc::clone(&shared), sweep_every));
            let hangup = tokio::spawn(hangups(reload_requests));
            let app = http(Arc::clone(&shared), max_body_bytes, request_timeout);
            // Requests in flight get their own time limit, and a second, to finish.
            let limits = ConnectionLimits {
                header: header_timeout,
                grace: request_timeout + Duration::from_secs(1),
            };
            serve_connections(listener, app, limits).await;
            sweeper.abort();
            hangup.abort();
            Ok::<(), String>(())
        }
    });
    // Every sender goes: the watcher and the notifier stop, then the state thread, which has
    // committed every batch it answered.
    drop(runtime);
    stop.store(true, Ordering::Relaxed);
    drop(reload_requests);
    drop(shared);
    let _ = watcher.join();
    if let Some(notifier) = notifier {
        let _ = notifier.join();
    }
    worker
        .join()
        .map_err(|_| "the state thread failed".to_string())??;
    served
}

/// The routes, with request ids, traces, timeouts, body limits and metrics around them.
fn http(shared: Arc<Shared>, max_body_bytes: usize, timeout: Duration) -> Http {
    use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
    use tower_http::timeout::TimeoutLayer;
    use tower_http::trace::TraceLayer;
    Http::new()
        .route("/v1/leads", post(leads))
        .route("/v1/events", post(events))
        .route("/v1/hooks/hubspot", post(hubspot))
        .route("/v1/hooks/standard", post(standard))
        .route("/v1/escalations", get(escalations))
        .route("/v1/status", get(status_page))
        .route("/metrics", get(metrics_page))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        // A path no route has (a mistyped hook URL) is counted too, as `other`.
        .fallback(unknown_path)
        // Inside `measure`, so that a request that times out is counted (as a 503).
        .route_layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            measure,
        ))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(shared)
        .layer(axum::middleware::from_fn(
            move |request: Request<Body>, next: Next| {
                json_errors(request, next, max_body_bytes, timeout)
            },
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<Body>| {
                    let id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        id = %id,
                    )
                })
                .on_request(())
                .on_response(
                    |response: &Response, latency: Duration, _: &tracing::Span| {
                        let status = response.status().as_u16();
                        let micros = latency.as_micros() as u64;
                        if status >= 500 {
                            tracing::error!(status, micros, "answered");
                        } else if status >= 400 {
                            tracing::warn!(status, micros, "answered");
                        } else {
                            tracing::debug!(status, micros, "answered");
                        }
                    },
                )
                .on_failure(()),
        )
        .layer(SetRequestIdLayer::x_request_id(RequestIds::default()))
        .layer(axum::middleware::from_fn(plain_request_id))
}

/// The most a client's `x-request-id` may hold: it is echoed and logged.
const MAX_REQUEST_ID: usize = 128;

/// Drops a client's `x-request-id` that is long or holds anything but letters, digits and
/// `-_.:/+=`: such a value would be echoed and written into log lines (where a quote or a space
/// could forge fields). The request then gets an id of the server's own.
async fn plain_request_id(mut request: Request<Body>, next: Next) -> Response {
    let plain = |value: &axum::http::HeaderValue| {
        let bytes = value.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= MAX_REQUEST_ID
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(b))
    };
    if request
        .headers()
        .get("x-request-id")
        .is_some_and(|value| !plain(value))
    {
        request.headers_mut().remove("x-request-id");
    }
    next.run(request).await
}

/// Every error the server answers is JSON, `{"error":{"code","message"}}`: the answers that
/// axum and the timeout make on their own (a body over the limit, a request past its time, an
/// unknown path or method) are given that shape too, with a code and a message that says why.
async fn json_errors(
    request: Request<Body>,
    next: Next,
    max_body_bytes: usize,
    timeout: Duration,
) -> Response {
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    // The new body keeps the answer's other headers (a 405's `Allow`).
    let mut kept = response.headers().clone();
    kept.remove(header::CONTENT_TYPE);
    kept.remove(header::CONTENT_LENGTH);
    let mut answer = match status {
        StatusCode::PAYLOAD_TOO_LARGE => error(
            status,
            "body.size",
            &format!("the body is larger than {max_body_bytes} bytes (--max-body-bytes)"),
        ),
        StatusCode::SERVICE_UNAVAILABLE => error(
            status,
            "timeout",
            &format!(
                "no answer within {} s (--request-timeout): send it again; a lead that was \
                 recorded comes back as a duplicate",
                timeout.as_secs()
            ),
        ),
        StatusCode::NOT_FOUND => error(status, "path", &format!("there is no `{path}` here")),
        StatusCode::METHOD_NOT_ALLOWED => error(
            status,
            "method",
            &format!("`{path}` does not take {method}"),
        ),
        _ => error(status, "http", status.canonical_reason().unwrap_or("error")),
    };
    for (name, value) in &kept {
        answer.headers_mut().append(name.clone(), value.clone());
    }
    answer
}

/// Request ids for requests that come without one: `sb-` and a counter.
#[derive(Clone, Default)]
struct RequestIds(Arc<AtomicU64>);

impl tower_http::request_id::MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<tower_http::request_id::RequestId> {
        let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        axum::http::HeaderValue::from_str(&format!("sb-{n}"))
            .ok()
            .map(tower_http::request_id::RequestId::new)
    }
}

/// A path the server does not have: 404, counted under the endpoint `other` (`measure` sees
/// only the routes).
async fn unknown_path(State(shared): State<Arc<Shared>>) -> Response {
    let started = std::time::Instant::now();
    let response = StatusCode::NOT_FOUND.into_response();
    shared
        .metrics
        .request("other", response.status().as_u16(), started.elapsed());
    response
}

/// Counts each request by its route and status, with its latency.
async fn measure(
    State(shared): State<Arc<Shared>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_string(), |path| path.as_str().to_string());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    shared
        .metrics
        .request(&endpoint, response.status().as_u16(), started.elapsed());
    response
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
    tracing::info!("stopping: finishing the requests in flight");
}

/// The time limits of a connection.
struct ConnectionLimits {
    /// To send a request's head ([`Setup::header_timeout`]).
    header: Duration,
    /// To finish the request in flight once the server stops.
    grace: Duration,
}

/// Accepts HTTP/1 connections until SIGTERM or Ctrl-C, each served on its own task with a
/// timer (so that the header limit holds; `axum::serve` installs none). Then it stops
/// accepting, lets every connection finish the request in flight (idle ones close at once),
/// and after the grace closes the connections still open.
async fn serve_connections(listener: tokio::net::TcpListener, app: Http, limits: ConnectionLimits) {
    let ConnectionLimits { header, grace } = limits;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    let (stopping, stop_seen) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        // Finished connections are reaped as new ones come.
        while connections.try_join_next().is_some() {}
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors, or a connection reset before it was accepted: the
                // listener itself is fine; wait a moment rather than spin.
                tracing::warn!(%error, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let mut stop_seen = stop_seen.clone();
        connections.spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stop_seen.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "closing the connections still open after {} s",
            grace.as_secs()
        );
        connections.abort_all();
    }
}

/// Asks the watcher for a reload on each SIGHUP.
async fn hangups(requests: std::sync::mpsc::Sender<()>) {
    #[cfg(unix)]
    {
        let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hangup.recv().await.is_some() {
            if requests.send(()).is_err() {
                return;
            }
        }
    }
    #[cfg(not(unix))]
    drop(requests);
}

/// The files whose change triggers a reload, with their modification times and lengths as
/// they were when first looked at: taken before the bundle is first read, so that a file
/// changed while the server starts is read again, not taken as the version it serves.
pub struct Watched {
    paths: Vec<PathBuf>,
    seen: Vec<Stamp>,
}

impl Watched {
    /// `paths` as they are now.
    pub fn now(paths: Vec<PathBuf>) -> Watched {
        let seen = stamps(&paths);
        Watched { paths, seen }
    }
}

/// What says a watched file changed (`None`: it cannot be read): its length and modification
/// time, and on Unix the file itself (device and inode: a file renamed over it, a symbolic
/// link pointed elsewhere) and its status change time. A deployment that gives every file one
/// modification time (Nix store paths, reproducible builds, `cp -p`, `tar`) can replace a
/// policy with one of the same length and time; its inode or change time still differs, as no
/// program can set the change time.
type Stamp = Option<FileStamp>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: std::time::SystemTime,
    length: u64,
    device: u64,
    inode: u64,
    changed: (i64, i64),
}

/// The [`Stamp`] of each watched file.
fn stamps(paths: &[PathBuf]) -> Vec<Stamp> {
    paths
        .iter()
        .map(|path| {
            let meta = std::fs::metadata(path).ok()?;
            #[cfg(unix)]
            let (device, inode, changed) = {
                use std::os::unix::fs::MetadataExt;
                (meta.dev(), meta.ino(), (meta.ctime(), meta.ctime_nsec()))
            };
            #[cfg(not(unix))]
            let (device, inode, changed) = (0, 0, (0, 0));
            Some(FileStamp {
                modified: meta.modified().ok()?,
                length: meta.len(),
                device,
                inode,
                changed,
            })
        })
        .collect()
}

/// The watcher: reloads when a watched file changes (once it has stopped changing) or on
/// SIGHUP. A bundle that checks clean replaces the serving one; one that does not is refused,
/// and `/v1/status`, `/metrics` and the log say why.
fn watch(
    reload: &Reload,
    watched: Watched,
    every: Duration,
    requests: &std::sync::mpsc::Receiver<()>,
    shared: &Shared,
    stop: &AtomicBool,
) {
    let Watched {
        paths: watched,
        mut seen,
    } = watched;
    let watched = watched.as_slice();
    loop {
        let forced = match requests.recv_timeout(every) {
            Ok(()) => true,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => false,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        };
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let mut now = stamps(watched);
        if !forced && now == seen {
            continue;
        }
        // A file being written: wait until it holds still.
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let again = stamps(watched);
            if again == now {
                break;
            }
            now = again;
        }
        let changed: Vec<String> = watched
            .iter()
            .zip(now.iter().zip(&seen))
            .filter(|(_, (now, seen))| now != seen)
            .map(|(path, _)| path.display().to_string())
            .collect();
        seen = now;
        let why = if forced {
            "SIGHUP".to_string()
        } else {
            format!("{} changed", changed.join(", "))
        };
        let at = jiff::Timestamp::now().to_string();
        match reload() {
            Ok(bundle) => {
                let mut status = bundle_status(&bundle);
                let (ack, acked) = oneshot::channel();
                if shared
                    .jobs
                    .send(Job::Reload(Box::new(bundle), ack))
                    .is_err()
                {
                    return;
                }
                if acked.blocking_recv().is_err() {
                    return;
                }
                shared.metrics.reloads.fetch_add(1, Ordering::Relaxed);
                let hash = status["policy_hash"].clone();
                tracing::info!(policy_hash = %hash, "reloaded ({why}): the new policy serves");
                let mut current = lock(&shared.status);
                if let (serde_json::Value::Object(current), serde_json::Value::Object(fresh)) =
                    (&mut *current, &mut status)
                {
                    for (key, value) in std::mem::take(fresh) {
                        current.insert(key, value);
                    }
                    current.insert(
                        "reload".into(),
                        serde_json::json!({"at": at, "why": why, "ok": true}),
                    );
                }
            }
            Err(error) => {
                shared
                    .metrics
                    .reload_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!("reload refused ({why}); the old policy keeps serving:\n{error}");
                if let serde_json::Value::Object(current) = &mut *lock(&shared.status) {
                    current.insert(
                        "reload".into(),
                        serde_json::json!({"at": at, "why": why, "ok": false, "error": error}),
                    );
                }
            }
        }
    }
}

/// The state thread: serves with one bundle until a reload replaces it.
fn state_thread(
    mut bundle: Bundle,
    mut state: Box<dyn StateStore + Send>,
    inbox: &std::sync::mpsc::Receiver<Job>,
    metrics: &Metrics,
    notifying: bool,
    wake: &std::sync::mpsc::Sender<()>,
    holder: &str,
) -> Result<(), String> {
    loop {
        let context = Context {
            bundle: &bundle,
            metrics,
            notifying,
            wake,
            holder,
        };
        match serve_batches(&context, state.as_mut(), inbox) {
            Some(next) => bundle = *next,
            None => {
                if notifying {
                    release_outbox(state.as_mut(), holder);
                }
                return Ok(());
            }
        }
    }
}

struct Context<'a> {
    bundle: &'a Bundle,
    metrics: &'a Metrics,
    notifying: bool,
    wake: &'a std::sync::mpsc::Sender<()>,
    /// Who this server is when it takes the outbox's lease.
    holder: &'a str,
}

/// How long the outbox's lease lasts without renewal: a server that stopped delivering
/// (killed, cut off) hands the outbox to another after this.
const OUTBOX_LEASE: std::time::Duration = std::time::Duration::from_secs(30);

/// Hands the outbox's lease back as the server stops, so that the next server (or this one
/// restarted) delivers at once instead of after the lease runs out.
fn release_outbox(state: &mut dyn StateStore, holder: &str) {
    let now = jiff::Timestamp::now();
    let released = state
        .begin()
        .and_then(|()| state.lease("outbox", holder, now, now))
        .and_then(|_| state.commit());
    if let Err(error) = released {
        tracing::warn!("the outbox's lease was not handed back: {error}");
        let _ = state.rollback();
    }
}

/// This server among others on a shared state: host, process and start time.
fn notifier_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "host".to_string());
    format!(
        "{host}:{}:{}",
        std::process::id(),
        jiff::Timestamp::now().as_nanosecond()
    )
}

/// What a job of a batch answers once the batch is committed.
enum Answer {
    Lines(Result<Vec<String>, Failed>),
    Listing(Vec<Outgoing>),
    Done,
}

/// What a batch decided, for `/metrics`: applied only when the batch commits.
#[derive(Default)]
struct Tally {
    actions: Vec<&'static str>,
    duplicates: u64,
    escalations: u64,
}

impl Tally {
    fn apply(&self, metrics: &Metrics) {
        for &action in &self.actions {
            metrics.decision(action);
        }
        metrics
            .duplicates
            .fetch_add(self.duplicates, Ordering::Relaxed);
        metrics
            .escalations
            .fetch_add(self.escalations, Ordering::Relaxed);
    }
}

/// How many times a batch is decided again after a conflict with another router.
const CONFLICT_RETRIES: u32 = 20;

/// Takes every job waiting, decides them in one transaction, commits, then answers each. A
/// conflict with another router on a shared state rolls the batch back and decides it again.
/// Returns the next bundle when a reload ends a batch, `None` when every sender is gone.
fn serve_batches(
    context: &Context<'_>,
    state: &mut dyn StateStore,
    inbox: &std::sync::mpsc::Receiver<Job>,
) -> Option<Box<Bundle>> {
    let bundle = context.bundle;
    let config = RouteConfig {
        now: jiff::Timestamp::now(),
        explain: false,
        limits: Limits::default(),
    };
    let mut router = Router::new(
        &bundle.policy,
        &bundle.compiled,
        bundle.roster.as_ref(),
        config,
        &bundle.policy_text,
    );
    while let Ok(first) = inbox.recv() {
        let mut batch = vec![first];
        while batch.len() < 256 && !matches!(batch.last(), Some(Job::Reload(..))) {
            match inbox.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // One routing time per batch: the moment its requests are decided.
        router.set_now(jiff::Timestamp::now());
        let mut attempt = 0;
        let outcome = loop {
            let mut posted = false;
            let mut tally = Tally::default();
            let decided = state.begin().and_then(|()| {
                let mut answers = Vec::with_capacity(batch.len());
                for job in &batch {
                    answers.push(decide(
                        context,
                        &mut router,
                        state,
                        job,
                        &mut posted,
                        &mut tally,
                    )?);
                }
                state.commit()?;
                // Counted once the batch holds: not for an attempt undone by a conflict.
                tally.apply(context.metrics);
                Ok((answers, posted))
            });
            match decided {
                Err(error)
                    if error.kind == StateErrorKind::Conflict && attempt < CONFLICT_RETRIES =>
                {
                    attempt += 1;
                    let _ = state.rollback();
                    std::thread::sleep(Duration::from_millis(u64::from(attempt.min(10)) * 5));
                }
                other => break other,
            }
        };
        let mut reload = None;
        match outcome {
            Ok((answers, posted)) => {
                for (job, answer) in batch.into_iter().zip(answers) {
                    match (job, answer) {
                        (
                            Job::Leads(_, _, reply)
                            | Job::Events(_, _, reply)
                            | Job::Hook(_, _, _, reply)
                            | Job::Sweep(_, reply),
                            Answer::Lines(lines),
                        ) => {
                            let _ = reply.send(lines);
                        }
                        (
                            Job::Undelivered(_, reply) | Job::Escalations(_, _, reply),
                            Answer::Listing(list),
                        ) => {
                            let _ = reply.send(Ok(list));
                        }
                        (Job::Reload(next, ack), _) => {
                            reload = Some(next);
                            let _ = ack.send(());
                        }
                        (Job::Delivered(_, ack), _) => {
                            let _ = ack.send(());
                        }
                        // `decide` answers each job in its own kind.
                        _ => {}
                    }
                }
                if posted {
                    let _ = context.wake.send(());
                }
            }
            Err(error) => {
                // Nothing of the batch is kept; every request in it is told so.
                let _ = state.rollback();
                let error = error.to_string();
                tracing::error!("the state failed; the batch was not recorded: {error}");
                for job in batch {
                    match job {
                        Job::Leads(_, _, reply)
                        | Job::Events(_, _, reply)
                        | Job::Hook(_, _, _, reply)
                        | Job::Sweep(_, reply) => {
                            let _ = reply.send(Err(Failed::State(error.clone())));
                        }
                        Job::Undelivered(_, reply) | Job::Escalations(_, _, reply) => {
                            let _ = reply.send(Err(error.clone()));
                        }
                        // A reload that came with a failed batch is taken all the same.
                        Job::Reload(next, ack) => {
                            reload = Some(next);
                            let _ = ack.send(());
                        }
                        Job::Delivered(..) => {}
                    }
                }
            }
        }
        if let Some(concurrency) = state.reconnected() {
            // Perhaps another server (a failover): say again how routers keep in step.
            tracing::warn!("the state's database connected again: {concurrency}");
        }
        if let Some(next) = reload {
            return Some(next);
        }
    }
    None
}

/// Carries out one job inside the batch's transaction (it may be carried out again after a
/// conflict, so it only reads the job).
fn decide(
    context: &Context<'_>,
    router: &mut Router<'_>,
    state: &mut dyn StateStore,
    job: &Job,
    posted: &mut bool,
    tally: &mut Tally,
) -> Result<Answer, StateError> {
    Ok(match job {
        Job::Leads(lines, spans, _) => {
            Answer::Lines(Ok(route_lines(router, state, lines, spans, tally)?))
        }
        Job::Hook(hook, payload, delivery, _) => {
            let mapping = match hook {
                Hook::HubSpot => context.bundle.hubspot_map.as_ref(),
                Hook::Standard => context.bundle.standard_map.as_ref(),
            };
            match payload_leads(mapping, payload, delivery.as_deref()) {
                Ok(leads) => Answer::Lines(Ok(route_mapped(router, state, &leads, tally)?)),
                Err(message) => Answer::Lines(Err(Failed::Payload(message))),
            }
        }
        Job::Events(lines, spans, _) => {
            let mut out = Vec::with_capacity(lines.len());
            for (index, line) in lines.iter().enumerate() {
                let (mut tracked, fired) = router.track_line(state, line)?;
                if let (crate::route::Tracked::Invalid(error), Some(Some(span))) =
                    (&mut tracked, spans.get(index))
                    && error.code == "event.json"
                {
                    span.say_in_body(&mut error.message);
                }
                post_fired(context, state, &fired, posted, tally)?;
                out.push(tracked.to_json_after(&fired, index + 1));
            }
            Answer::Lines(Ok(out))
        }
        Job::Sweep(now, _) => {
            let mut fired = Vec::new();
            while let Some(step) = router.sweep_next(state, *now)? {
                fired.extend(step);
            }
            post_fired(context, state, &fired, posted, tally)?;
            Answer::Lines(Ok(fired.iter().map(|step| step.to_json()).collect()))
        }
        Job::Undelivered(limit, _) => {
            // One server at a time delivers the outbox: the one holding its lease, renewed at
            // every ask (before every delivery attempt, and every second while it waits).
            let now = jiff::Timestamp::now();
            let until = now
                .checked_add(jiff::SignedDuration::try_from(OUTBOX_LEASE).unwrap_or_default())
                .unwrap_or(now);
            if state.lease("outbox", context.holder, now, until)? {
                Answer::Listing(state.undelivered(*limit)?)
            } else {
                Answer::Listing(Vec::new())
            }
        }
        Job::Delivered(seq, _) => {
            state.delivered(*seq)?;
            Answer::Done
        }
        Job::Escalations(from, limit, _) => Answer::Listing(match from {
            ListFrom::Time(since) => state.posted_since(*since, *limit)?,
            ListFrom::After(after) => state.posted_after(*after, *limit)?,
        }),
        Job::Reload(..) => Answer::Done,
    })
}

fn route_lines(
    router: &mut Router<'_>,
    state: &mut dyn StateStore,
    lines: &[Vec<u8>],
    spans: &[Option<BodySpan>],
    tally: &mut Tally,
) -> Result<Vec<String>, StateError> {
    let mut outcomes = Vec::with_capacity(lines.len());
    router
        .route_batch(state, lines, &mut outcomes)
        .map_err(|(error, _)| error)?;
    for (outcome, span) in outcomes.iter_mut().zip(spans) {
        if let (Outcome::Invalid(error), Some(span)) = (outcome, span)
            && error.code == "lead.json"
        {
            span.say_in_body(&mut error.message);
        }
    }
    Ok(answer_lines(outcomes, tally))
}

/// Routes a webhook's leads, each a lead line or the mapping's error record of the lead, in
/// their order.
fn route_mapped(
    router: &mut Router<'_>,
    state: &mut dyn StateStore,
    leads: &[Result<Vec<u8>, LeadError>],
    tally: &mut Tally,
) -> Result<Vec<String>, StateError> {
    let lines: Vec<&[u8]> = leads
        .iter()
        .filter_map(|lead| lead.as_deref().ok())
        .collect();
    let mut routed = Vec::with_capacity(lines.len());
    router
        .route_batch(state, &lines, &mut routed)
        .map_err(|(error, _)| error)?;
    let mut routed = routed.into_iter();
    let outcomes = leads
        .iter()
        .filter_map(|lead| match lead {
            Ok(_) => routed.next(),
            Err(refused) => Some(Outcome::Invalid(refused.clone())),
        })
        .collect();
    Ok(answer_lines(outcomes, tally))
}

/// The answer's line of each outcome, counted in `tally`.
fn answer_lines(outcomes: Vec<Outcome>, tally: &mut Tally) -> Vec<String> {
    let mut out = Vec::with_capacity(outcomes.len());
    for (index, outcome) in outcomes.into_iter().enumerate() {
        match &outcome {
            Outcome::Decided {
                duplicate: true, ..
            } => {
                tally.duplicates += 1;
            }
            Outcome::Decided { decision, .. } => tally.actions.push(decision.action.kind()),
            Outcome::Invalid(_) => tally.actions.push("error"),
        }
        out.push(wire::outcome_json(&outcome, index + 1));
    }
    out
}

/// Keeps fired steps in the outbox, in the batch's transaction.
fn post_fired(
    context: &Context<'_>,
    state: &mut dyn StateStore,
    fired: &[crate::route::Fired],
    posted: &mut bool,
    tally: &mut Tally,
) -> Result<(), StateError> {
    for step in fired {
        state.post(
            step.at.instant,
            &step.decision.lead,
            &step.to_json(),
            context.notifying,
        )?;
    }
    if !fired.is_empty() {
        tally.escalations += fired.len() as u64;
        *posted |= context.notifying;
    }
    Ok(())
}

/// The lead lines of a webhook payload: by the mapping, or (without one) the payload as one
/// lead or an array of leads.
fn payload_leads(
    mapping: Option<&Mapping>,
    payload: &serde_json::Value,
    delivery: Option<&str>,
) -> Result<Vec<Result<Vec<u8>, LeadError>>, String> {
    if let Some(mapping) = mapping {
        return mapping.leads(payload, delivery);
    }
    match payload {
        serde_json::Value::Array(items) => Ok(items
            .iter()
            .map(|item| Ok(item.to_string().into_bytes()))
            .collect()),
        other => Ok(vec![Ok(other.to_string().into_bytes())]),
    }
}

async fn sweep_timer(shared: Arc<Shared>, every: Duration) {
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
        if let Ok(Ok(fired)) = answer.await
            && !fired.is_empty()
        {
            tracing::info!(steps = fired.len(), "sweep fired escalation steps");
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

fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "this server wants `Authorization: Bearer <SWITCHBOARD_TOKEN>`",
    )
}

/// Whether the request carries the bearer token (when one is set), compared in constant time.
fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some(token) = &shared.token else {
        return true;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_token)
        .unwrap_or_default();
    signature::constant_time_eq(given.as_bytes(), token.as_bytes())
}

/// The token of an `Authorization` value of the bearer scheme, whose name is compared without
/// case (RFC 9110, section 11.1: some clients and proxies write `bearer`); the token is kept
/// exactly.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start_matches(' '))
}

/// A JSON value written over several lines, on one. A line break between tokens is whitespace
/// and becomes a space. One inside a string, where JSON allows none (it is written `\n`),
/// becomes a vertical tab, as much a control character, so that a broken object is refused
/// at that place rather than read as a repaired one (`"L-\n1"` is not the id `L- 1`).
fn on_one_line(part: &[u8]) -> Vec<u8> {
    let mut in_string = false;
    let mut escaped = false;
    let mut line = Vec::with_capacity(part.len());
    for &byte in part {
        let line_break = byte == b'\n' || byte == b'\r';
        line.push(match (in_string, line_break) {
            (true, true) => {
                escaped = false;
                0x0B
            }
            (false, true) => b' ',
            (true, false) => {
                if escaped {
                    escaped = false;
                } else if byte == b'\\' {
                    escaped = true;
                } else if byte == b'"' {
                    in_string = false;
                }
                byte
            }
            (false, false) => {
                in_string = byte == b'"';
                byte
            }
        });
    }
    line.trim_ascii().to_vec()
}

/// A body of objects written over several lines, one after another: each a lead's line (see
/// [`on_one_line`]). Where the text stops being JSON (a mistake, a body cut short), the broken
/// object, up to the next line that begins with `{`, is one line, which the router answers
/// with where it breaks in the body, and the objects after it are read on; one object alone is
/// answered as a single lead.
fn objects_over_lines(text: &[u8]) -> BodyLines {
    let mut lines = Vec::new();
    let mut spans = Vec::new();
    // The body's lines counted as far as the last broken object, once.
    let mut counted = LineCount::default();
    // Where the values being read begin in `text`, and where the next one begins.
    let (mut base, mut start) = (0, 0);
    let mut values = serde_json::Deserializer::from_slice(text).into_iter::<serde_json::Value>();
    loop {
        match values.next() {
            None => break,
            Some(Ok(_)) => {
                let end = base + values.byte_offset();
                lines.push(on_one_line(&text[start..end]));
                spans.push(None);
                start = end;
            }
            Some(Err(_)) => {
                // A broken object is one lead's error; reading goes on at the next object, a
                // line that begins with `{` (as pretty-printers begin every top-level object;
                // nested ones are indented), so that the leads after it are answered too.
                let object = text[start..]
                    .iter()
                    .position(|b| !b.is_ascii_whitespace())
                    .map_or(text.len(), |at| start + at);
                let first_line_end = text[object..]
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(text.len(), |at| object + at);
                let next = text[first_line_end..]
                    .windows(2)
                    .position(|pair| pair == b"\n{")
                    .map(|at| first_line_end + at + 1);
                let end = next.unwrap_or(text.len());
                lines.push(on_one_line(&text[start..end]));
                // The router reads the broken object on one line: where it breaks is said
                // as the body's line and column.
                spans.push(Some(BodySpan::of(text, object, end, &mut counted)));
                let Some(next) = next else {
                    break;
                };
                (base, start) = (next, next);
                values = serde_json::Deserializer::from_slice(&text[next..])
                    .into_iter::<serde_json::Value>();
            }
        }
    }
    let single = lines.len() == 1;
    (lines, single, spans)
}

/// The job of a body's lines ([`Job::Leads`] or [`Job::Events`]).
type BodyJob = fn(Vec<Vec<u8>>, Vec<Option<BodySpan>>, Reply) -> Job;

/// A body's lines as the router reads them, whether it is one lead (or event) alone, and for
/// each line, where it lies in the body when that is not on the line itself (a broken object
/// written over several lines).
type BodyLines = (Vec<Vec<u8>>, bool, Vec<Option<BodySpan>>);

/// Where an object written over several lines, read on one line, lies in the body: the line
/// and column (1-based, in bytes) of its first byte, and the offsets from that byte of the
/// line breaks inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BodySpan {
    line: usize,
    column: usize,
    breaks: Vec<usize>,
}

/// The line breaks of a body counted up to a place, moving only forward: a body of many broken
/// objects is counted once, not from its start for each.
#[derive(Debug, Default)]
struct LineCount {
    at: usize,
    breaks: usize,
    line_start: usize,
}

impl LineCount {
    /// The line and column (1-based, in bytes) of `text[to]`, `to` at or after the last place
    /// asked for.
    fn up_to(&mut self, text: &[u8], to: usize) -> (usize, usize) {
        let to = to.min(text.len()).max(self.at);
        for (offset, byte) in text[self.at..to].iter().enumerate() {
            if *byte == b'\n' {
                self.breaks += 1;
                self.line_start = self.at + offset + 1;
            }
        }
        self.at = to;
        (self.breaks + 1, to - self.line_start + 1)
    }
}

impl BodySpan {
    /// The span of `text[from..to]`, `from` being the object's first byte; `counted` has
    /// counted the lines before it, as far as an earlier object.
    fn of(text: &[u8], from: usize, to: usize, counted: &mut LineCount) -> BodySpan {
        let (line, column) = counted.up_to(text, from);
        BodySpan {
            line,
            column,
            breaks: text[from..to.max(from)]
                .iter()
                .enumerate()
                .filter(|(_, byte)| **byte == b'\n')
                .map(|(at, _)| at)
                .collect(),
        }
    }

    /// The body's line and column of the `column`th byte of the object read on one line.
    fn in_body(&self, column: usize) -> (usize, usize) {
        let at = column.saturating_sub(1);
        let breaks_before = self.breaks.partition_point(|&line_break| line_break < at);
        match breaks_before
            .checked_sub(1)
            .and_then(|last| self.breaks.get(last))
        {
            Some(&line_break) => (self.line + breaks_before, at - line_break),
            None => (self.line, self.column + at),
        }
    }

    /// Says a JSON reader's position on the one line as the body's: a lead's (`… at line 1
    /// column N`, at the end of `message`) or an event's (`not JSON at byte N: …`, 0-based),
    /// as `… at line 4 column 11 of the body`.
    fn say_in_body(&self, message: &mut String) {
        const LEAD_AT: &str = " at line 1 column ";
        const EVENT_AT: &str = "not JSON at byte ";
        if let Some((said, column)) = message.rsplit_once(LEAD_AT)
            && let Ok(column) = column.parse::<usize>()
        {
            let (line, column) = self.in_body(column);
            *message = format!("{said} at line {line} column {column} of the body");
        } else if let Some((byte, said)) = message
            .strip_prefix(EVENT_AT)
            .and_then(|rest| rest.split_once(':'))
            && let Ok(byte) = byte.parse::<usize>()
        {
            let (line, column) = self.in_body(byte + 1);
            *message = format!("not JSON at line {line} column {column} of the body:{said}");
        }
    }
}

/// The lines of a body: one JSON object, a JSON array of objects, or NDJSON. `Err` when the
/// body is not JSON at all.
fn body_lines(body: &[u8], what: &str) -> Result<BodyLines, String> {
    let text = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let start = text.iter().position(|b| !b.is_ascii_whitespace());
    match start.map(|i| text[i]) {
        Some(b'[') => {
            // Each lead as written (not parsed into a map, which would keep a repeated key's
            // last value without a word), on one line, for the lead reader.
            let values: Vec<&serde_json::value::RawValue> = serde_json::from_slice(text)
                .map_err(|error| format!("the body is not a JSON array: {error}"))?;
            Ok((
                values
                    .iter()
                    .map(|value| on_one_line(value.get().as_bytes()))
                    .collect(),
                false,
                vec![None; values.len()],
            ))
        }
        Some(b'{') => {
            // Objects written over several lines (pretty-printed, `jq .`), one after another,
            // when the first line opens one and holds nothing else (as every pretty-printer
            // writes); else NDJSON, where a broken line is that line's error alone.
            let first_line = text
                .split(|b| *b == b'\n')
                .find(|line| !line.iter().all(u8::is_ascii_whitespace))
                .unwrap_or_default();
            if first_line.trim_ascii() == b"{" {
                return Ok(objects_over_lines(text));
            }
            let mut lines: Vec<Vec<u8>> = text
                .split(|b| *b == b'\n')
                .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
                .map(<[u8]>::to_vec)
                .collect();
            // Blank lines after the last lead end the body; one between leads is answered as
            // `route` answers it (an error record), so that answer N is line N's.
            while lines
                .last()
                .is_some_and(|line| line.iter().all(u8::is_ascii_whitespace))
            {
                lines.pop();
            }
            let single = lines.len() == 1;
            let spans = vec![None; lines.len()];
            Ok((lines, single, spans))
        }
        Some(_) => {
            // A number, a string, `true` or `null` is JSON, only not a lead.
            let found = match serde_json::from_slice::<serde_json::Value>(text) {
                Ok(serde_json::Value::String(_)) => format!("a JSON string, not {what}"),
                Ok(serde_json::Value::Number(_)) => format!("a JSON number, not {what}"),
                Ok(serde_json::Value::Bool(_)) => format!("a JSON boolean, not {what}"),
                Ok(_) => format!("JSON `null`, not {what}"),
                Err(_) => "not JSON".to_string(),
            };
            Err(format!(
                "the body is {found}: send one {noun} as a JSON object, several as a JSON array \
                 or as NDJSON (one object per line)",
                noun = what.trim_start_matches("an ").trim_start_matches("a ")
            ))
        }
        None => Err(format!("the body is empty: send {what} as a JSON object")),
    }
}

/// Sends a job to the state thread and turns its answer into a response: NDJSON, 200 (422 for
/// one line that is an error).
async fn answer(shared: &Shared, job: impl FnOnce(Reply) -> Job, single: Option<bool>) -> Response {
    let (reply, answer) = oneshot::channel();
    if shared.jobs.send(job(reply)).is_err() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "state",
            "the state is not available",
        );
    }
    let out = match answer.await {
        Ok(Ok(out)) => out,
        Ok(Err(Failed::Payload(message))) => {
            return error(StatusCode::UNPROCESSABLE_ENTITY, "payload", &message);
        }
        Ok(Err(Failed::State(message))) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "state",
                &format!("the state failed; nothing of this request was recorded: {message}"),
            );
        }
        Err(_) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "state",
                "the state failed; nothing of this request was recorded",
            );
        }
    };
    let single = single.unwrap_or(out.len() == 1);
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

async fn submit(
    shared: &Shared,
    headers: &HeaderMap,
    body: &Bytes,
    job: BodyJob,
    what: &str,
) -> Response {
    shared.counts.requests.fetch_add(1, Ordering::Relaxed);
    if !authorized(shared, headers) {
        return unauthorized();
    }
    let (lines, single, spans) = match body_lines(body, what) {
        Ok(parsed) => parsed,
        Err(message) => return error(StatusCode::BAD_REQUEST, "body.json", &message),
    };
    answer(shared, |reply| job(lines, spans, reply), Some(single)).await
}

async fn leads(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let response = submit(&shared, &headers, &body, Job::Leads, "a lead").await;
    if response.status().is_success() || response.status() == StatusCode::UNPROCESSABLE_ENTITY {
        shared.counts.leads.fetch_add(1, Ordering::Relaxed);
    }
    response
}

async fn events(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let response = submit(&shared, &headers, &body, Job::Events, "an event").await;
    if response.status().is_success() || response.status() == StatusCode::UNPROCESSABLE_ENTITY {
        shared.counts.events.fetch_add(1, Ordering::Relaxed);
    }
    response
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The answer to a delivery one of whose `names` headers is there but not visible ASCII text
/// (which [`header_text`] cannot read, and the signature check would call missing).
fn unreadable_header(headers: &HeaderMap, names: &[&str]) -> Option<Response> {
    let name = names.iter().find(|name| {
        headers
            .get(**name)
            .is_some_and(|value| value.to_str().is_err())
    })?;
    Some(error(
        StatusCode::BAD_REQUEST,
        "header",
        &format!(
            "the `{name}` header is not ASCII text: a webhook's ids, timestamps and signatures \
             are ASCII"
        ),
    ))
}

/// A verified payload, parsed, to the state thread.
async fn hook_leads(
    shared: &Shared,
    hook: Hook,
    body: &Bytes,
    delivery: Option<String>,
) -> Response {
    let payload: serde_json::Value = match serde_json::from_slice(body) {
        Ok(payload) => payload,
        Err(why) => {
            return error(
                StatusCode::BAD_REQUEST,
                "body.json",
                &format!("the payload is not JSON: {why}"),
            );
        }
    };
    // Parsed, a repeated key keeps its last value without a word: a lead mapped from it would
    // be routed on a guess (or under another id).
    if let Some(repeated) = crate::route::reader::repeated_key(body) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "payload",
            &format!(
                "the payload's {repeated}: which value is meant cannot be told; send each key \
                 once"
            ),
        );
    }
    let response = answer(
        shared,
        |reply| Job::Hook(hook, payload, delivery, reply),
        None,
    )
    .await;
    if response.status().is_success() || response.status() == StatusCode::UNPROCESSABLE_ENTITY {
        shared.counts.leads.fetch_add(1, Ordering::Relaxed);
    }
    response
}

/// `POST /v1/hooks/hubspot`: HubSpot's v3 signature over method, URL, body and timestamp,
/// checked before the body is read as JSON.
async fn hubspot(
    State(shared): State<Arc<Shared>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.counts.requests.fetch_add(1, Ordering::Relaxed);
    let Some(secret) = &shared.hubspot_secret else {
        return error(
            StatusCode::NOT_FOUND,
            "hook.off",
            "HubSpot deliveries are not taken: start the server with SWITCHBOARD_HUBSPOT_SECRET \
             (the app's client secret)",
        );
    };
    let path = uri.path_and_query().map_or("/", |path| path.as_str());
    let base = match &shared.public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => format!(
            "http://{}",
            header_text(&headers, "host").unwrap_or("localhost")
        ),
    };
    let url = format!("{base}{path}");
    if let Some(refused) = unreadable_header(
        &headers,
        &["x-hubspot-signature-v3", "x-hubspot-request-timestamp"],
    ) {
        return refused;
    }
    let checked = signature::verify_hubspot_v3(
        secret,
        "POST",
        &url,
        &body,
        header_text(&headers, "x-hubspot-signature-v3"),
        header_text(&headers, "x-hubspot-request-timestamp"),
        jiff::Timestamp::now().as_millisecond(),
    );
    if let Err(refused) = checked {
        tracing::warn!(url = %url, "HubSpot delivery refused: {refused}");
        return error(StatusCode::UNAUTHORIZED, "signature", &refused.to_string());
    }
    hook_leads(&shared, Hook::HubSpot, &body, None).await
}

/// `POST /v1/hooks/standard`: a Standard Webhooks delivery; its `webhook-id` is the id of
/// leads that have none, so a redelivery answers the recorded decisions.
async fn standard(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    shared.counts.requests.fetch_add(1, Ordering::Relaxed);
    let Some(key) = &shared.standard_key else {
        return error(
            StatusCode::NOT_FOUND,
            "hook.off",
            "Standard Webhooks deliveries are not taken: start the server with \
             SWITCHBOARD_WEBHOOK_SECRET (`whsec_` and the key in base64)",
        );
    };
    if let Some(refused) = unreadable_header(
        &headers,
        &["webhook-id", "webhook-timestamp", "webhook-signature"],
    ) {
        return refused;
    }
    let id = header_text(&headers, "webhook-id");
    let checked = signature::verify_standard(
        key,
        id,
        header_text(&headers, "webhook-timestamp"),
        header_text(&headers, "webhook-signature"),
        &body,
        jiff::Timestamp::now().as_second(),
    );
    if let Err(refused) = checked {
        tracing::warn!("Standard Webhooks delivery refused: {refused}");
        return error(StatusCode::UNAUTHORIZED, "signature", &refused.to_string());
    }
    let delivery = id.map(str::to_string);
    hook_leads(&shared, Hook::Standard, &body, delivery).await
}

/// `GET /v1/escalations?after=N[&limit=N]`: the steps fired after message `N`, in the order
/// they fired, with the cursor of the next poll (`x-next-after`); or `?since=TIME`: the steps
/// due since then, by due time. Both say whether the answer was cut at `limit` (`x-more`).
async fn escalations(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&shared, &headers) {
        return unauthorized();
    }
    let from = match (query.get("since"), query.get("after")) {
        (Some(_), Some(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "query",
                "give `since` or `after`, not both",
            );
        }
        (None, None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "query",
                "say from where: `?after=0` lists every step in the order they fired (then \
                 `after=` the `x-next-after` of each answer), or `?since=2026-12-01T00:00:00Z` \
                 (or a date, read as 00:00 UTC) the steps due since then",
            );
        }
        (None, Some(after)) => match after.parse::<u64>() {
            Ok(after) => ListFrom::After(after),
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "query",
                    &format!(
                        "`after={after}` is not a message number: 0, or the `x-next-after` of \
                         the last answer"
                    ),
                );
            }
        },
        (Some(since), None) => match crate::route::reader::read_instant_or_date(since).ok() {
            Some(since) => ListFrom::Time(since),
            None => {
                // An offset's `+` not written `%2B` arrives as a space.
                let plus = if since.contains(' ') {
                    " (a `+` in a URL's query reads as a space: write it `%2B`, as in \
                     `since=2026-12-01T09:00:00%2B01:00`)"
                } else {
                    ""
                };
                return error(
                    StatusCode::BAD_REQUEST,
                    "query",
                    &format!(
                        "`since={since}` is not a time such as 2026-12-01T09:00:00Z or a date \
                         such as 2026-12-01{plus}"
                    ),
                );
            }
        },
    };
    let limit = match query.get("limit").map(|limit| limit.parse::<usize>()) {
        None => 1000,
        Some(Ok(limit)) if (1..=10_000).contains(&limit) => limit,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "query",
                "`limit` is a number from 1 to 10000",
            );
        }
    };
    let (reply, listed) = oneshot::channel();
    if shared
        .jobs
        .send(Job::Escalations(from, limit + 1, reply))
        .is_err()
    {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "state",
            "the state is not available",
        );
    }
    let listed = listed.await;
    // Caught up, or a cursor past the outbox's last message: the message itself is there
    // only in the first case. Past it, the outbox was started again (a new state file,
    // `:memory:` restarted): a poller told nothing would miss every step until it caught up.
    if let (Ok(Ok(list)), ListFrom::After(after @ 1..)) = (&listed, from)
        && list.is_empty()
        && !listed_at(&shared, after).await
    {
        return error(
            StatusCode::CONFLICT,
            "cursor",
            &format!(
                "`after={after}` is past the last step fired: this state's outbox has fewer \
                 messages (a new state, or a server on `:memory:` started again); list from \
                 `after=0`"
            ),
        );
    }
    match listed {
        Ok(Ok(mut list)) => {
            // One more than asked for says whether the answer was cut short.
            let more = list.len() > limit;
            list.truncate(limit);
            let mut text = String::new();
            for message in &list {
                text.push_str(&message.body);
                text.push('\n');
            }
            let mut response = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/x-ndjson")],
                text,
            )
                .into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::HeaderName::from_static("x-more"),
                header::HeaderValue::from_static(if more { "true" } else { "false" }),
            );
            // The cursor of the next poll: the last message listed (by time, a later listing
            // can hold messages posted before it, so a cursor is given only by number).
            if let ListFrom::After(after) = from {
                let next = list.last().map_or(after, |message| message.seq);
                headers.insert(
                    header::HeaderName::from_static("x-next-after"),
                    header::HeaderValue::from(next),
                );
            }
            response
        }
        _ => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "state",
            "the state is not available",
        ),
    }
}

/// Whether the outbox holds message `seq`.
async fn listed_at(shared: &Shared, seq: u64) -> bool {
    let (reply, listed) = oneshot::channel();
    if shared
        .jobs
        .send(Job::Escalations(ListFrom::After(seq - 1), 1, reply))
        .is_err()
    {
        // Unknown: the listing answers the state's failure itself.
        return true;
    }
    match listed.await {
        Ok(Ok(list)) => list.first().is_some_and(|message| message.seq == seq),
        _ => true,
    }
}

async fn ready(State(shared): State<Arc<Shared>>) -> Response {
    let (reply, answer) = oneshot::channel();
    // A sweep at the epoch fires nothing: it only proves the state thread answers.
    // Answered within two seconds either way: a probe with a short timeout must see a 503,
    // not no answer, while the state thread waits on a database that is away.
    let alive = shared
        .jobs
        .send(Job::Sweep(jiff::Timestamp::UNIX_EPOCH, reply))
        .is_ok()
        && matches!(
            tokio::time::timeout(Duration::from_secs(2), answer).await,
            Ok(Ok(Ok(_)))
        );
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

async fn metrics_page(State(shared): State<Arc<Shared>>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        shared.metrics.render(),
    )
        .into_response()
}

async fn status_page(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !authorized(&shared, &headers) {
        return unauthorized();
    }
    let mut status = lock(&shared.status).clone();
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
            shared.metrics.escalations.load(Ordering::Relaxed).into(),
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
        assert_eq!(body_lines(b"{\"id\":\"a\"}", "a lead").unwrap().0.len(), 1);
        assert!(body_lines(b"{\"id\":\"a\"}", "a lead").unwrap().1);
        assert_eq!(
            body_lines(b"[{\"id\":\"a\"},{\"id\":\"b\"}]", "a lead")
                .unwrap()
                .0
                .len(),
            2
        );
        let (lines, single, _) =
            body_lines(b"{\"id\":\"a\"}\n{\"id\":\"b\"}\n\n", "a lead").unwrap();
        assert_eq!((lines.len(), single), (2, false));
        // A blank line between leads is a line, answered with an error as `route` does.
        let (lines, single, _) =
            body_lines(b"{\"id\":\"a\"}\r\n\r\n{\"id\":\"b\"}\n", "a lead").unwrap();
        assert_eq!(lines, [&b"{\"id\":\"a\"}"[..], b"", b"{\"id\":\"b\"}"]);
        assert!(!single);
        // One object over several lines is one lead.
        let (lines, single, _) =
            body_lines(b"{\n  \"id\": \"a\",\r\n  \"n\": 1\n}\n\n", "a lead").unwrap();
        assert_eq!(lines, [&b"{   \"id\": \"a\",    \"n\": 1 }"[..]]);
        assert!(single);
        // A mistake, or a body cut short: one line, answered as the one lead it was meant to be.
        let (lines, single, _) =
            body_lines(b"{\n  \"id\": \"a\",\n  \"n\": bad\n}\n", "a lead").unwrap();
        assert_eq!(lines, [&b"{   \"id\": \"a\",   \"n\": bad }"[..]]);
        assert!(single);
        let (lines, single, _) = body_lines(b"{\n  \"id\": \"a\",\n", "a lead").unwrap();
        assert_eq!(lines, [&b"{   \"id\": \"a\","[..]]);
        assert!(single);
        // NDJSON whose first line is broken: that line's error alone, the others read.
        let (lines, single, _) =
            body_lines(b"{\"id\": \"a\", bad\n{\"id\":\"b\"}\n", "a lead").unwrap();
        assert_eq!(lines, [&b"{\"id\": \"a\", bad"[..], b"{\"id\":\"b\"}"]);
        assert!(!single);
        // Several, one after another (`jq . leads.json`): one line each.
        let (lines, single, _) =
            body_lines(b"{\n \"id\": \"a\"\n}\n{\n \"id\": \"b\"\n}\n", "a lead").unwrap();
        assert_eq!(lines, [&b"{  \"id\": \"a\" }"[..], b"{  \"id\": \"b\" }"]);
        assert!(!single);
        assert!(body_lines(b"id=a", "a lead").is_err());
        assert!(body_lines(b"   ", "a lead").is_err());
        assert!(body_lines(b"[1,", "a lead").is_err());
        // The events endpoint asks for events.
        assert_eq!(
            body_lines(b"", "an event").unwrap_err(),
            "the body is empty: send an event as a JSON object"
        );
        assert!(
            body_lines(b"42", "an event")
                .unwrap_err()
                .starts_with("the body is a JSON number, not an event: send one event as")
        );
    }

    /// A broken object's position, read on one line, is said as the body's: on its first
    /// line (after another object's end on the same line), past a CRLF, for a lead's message
    /// and for an event's; a message without a position is left as it is.
    #[test]
    fn a_broken_objects_position_is_said_as_the_bodys() {
        let text = b"{\n \"id\": \"a\"\n}  {\"id\":\r\n  \"b\", bad\n}\n";
        let (lines, single, spans) = body_lines(text, "a lead").unwrap();
        assert_eq!(lines.len(), 2);
        assert!(!single);
        assert_eq!(spans[0], None);
        let span = spans[1].clone().unwrap();
        // The broken object starts at line 3, column 4; `bad` at line 4, column 8.
        assert_eq!((span.line, span.column), (3, 4));
        let one_line = String::from_utf8(lines[1].clone()).unwrap();
        let bad = one_line.find("bad").unwrap() + 1;
        assert_eq!(span.in_body(1), (3, 4));
        assert_eq!(span.in_body(bad), (4, 8));
        let mut message = format!("not valid JSON: expected value at line 1 column {bad}");
        span.say_in_body(&mut message);
        assert_eq!(
            message,
            "not valid JSON: expected value at line 4 column 8 of the body"
        );
        let mut message = format!("not JSON at byte {}: expected a JSON value", bad - 1);
        span.say_in_body(&mut message);
        assert_eq!(
            message,
            "not JSON at line 4 column 8 of the body: expected a JSON value"
        );
        for unchanged in [
            "field `id` is required",
            "not valid JSON: at line 1 column x",
        ] {
            let mut message = unchanged.to_string();
            span.say_in_body(&mut message);
            assert_eq!(message, unchanged);
        }
    }

    /// A line break between tokens becomes a space; one inside a string (where JSON allows
    /// none) a control character, whatever escapes come before it, so that a broken object
    /// is never read as a repaired one.
    #[test]
    fn a_line_break_inside_a_string_stays_a_fault_on_one_line() {
        assert_eq!(
            on_one_line(b"{\n  \"id\": \"L-\n1\",\r\n  \"n\": 1\n}\n"),
            b"{   \"id\": \"L-\x0B1\",    \"n\": 1 }"
        );
        // An escaped quote does not end the string; an escape before a line break is no
        // escape of it.
        assert_eq!(
            on_one_line(b"{\"a\": \"x\\\"\ny\", \"b\": \"z\\\n\"\n}"),
            b"{\"a\": \"x\\\"\x0By\", \"b\": \"z\\\x0B\" }"
        );
        // Three broken objects: each is placed in the body, counted from the one before.
        let text = b"{\n@\n{\n \"a\": 1\n}\n{\n@\n{\n\n  @\n";
        let (lines, _, spans) = body_lines(text, "a lead").unwrap();
        assert_eq!(lines.len(), 4);
        let placed: Vec<Option<(usize, usize)>> = spans
            .iter()
            .map(|span| span.as_ref().map(|span| (span.line, span.column)))
            .collect();
        assert_eq!(placed, [Some((1, 1)), None, Some((6, 1)), Some((8, 1))]);
    }

    #[test]
    fn the_bearer_scheme_is_named_in_any_case_and_the_token_kept_exactly() {
        assert_eq!(bearer_token("Bearer t0ken"), Some("t0ken"));
        assert_eq!(bearer_token("bearer t0ken"), Some("t0ken"));
        assert_eq!(bearer_token("BEARER  t0ken"), Some("t0ken"));
        assert_eq!(bearer_token("Basic t0ken"), None);
        assert_eq!(bearer_token("Bearert0ken"), None);
        assert_eq!(bearer_token("Bearer T0KEN"), Some("T0KEN"));
    }

    #[test]
    fn tokens_are_compared_whole() {
        use signature::constant_time_eq;
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
