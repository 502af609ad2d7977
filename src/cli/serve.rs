//! `switchboard serve`: checks the policy, the roster and the webhook mappings, opens the state
//! and the listening socket (refusing an address reachable from other machines without
//! `SWITCHBOARD_TOKEN`), sets up logging, then runs the server until SIGTERM or SIGINT. The same
//! loading, checks included, is what a reload runs.

use super::Failure;
use super::policy::{check_roster, one_policy, open_state};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use switchboard::render::{self, FileDiagnostics, Style};
use switchboard::route::mapping::Mapping;
use switchboard::serve::{Bundle, notify};

#[derive(clap::Args, Clone)]
pub struct ServeArgs {
    /// The policy to route with (it must check without errors); reloaded when it changes
    #[arg(value_name = "POLICY")]
    policy: PathBuf,
    /// Roster JSON: reps' status, out-of-office, open leads, and account owners; reloaded when
    /// it changes
    #[arg(long, value_name = "FILE")]
    roster: Option<PathBuf>,
    /// State database (rotation, load, ledger, outbox), shared with `route`, `track` and `sweep`
    #[arg(
        long,
        value_name = "PATH|URL",
        env = "SWITCHBOARD_STATE",
        // The value may hold a password: `--help` never shows it.
        hide_env_values = true,
        default_value = ".switchboard/state.db"
    )]
    state: String,
    /// Address to listen on; one reachable from other machines needs SWITCHBOARD_TOKEN
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1:8080")]
    listen: String,
    /// How often the sweeper fires due escalation steps, in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 15)]
    sweep_every: u64,
    /// Largest accepted request body, in bytes (larger ones get 413)
    #[arg(long, value_name = "BYTES", default_value_t = 8 << 20)]
    max_body_bytes: usize,
    /// A request not answered in this many seconds gets 503 (retry: the ledger keeps it once)
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    request_timeout: u64,
    /// A client must send a request's line and headers within this many seconds of starting it
    /// (or of connecting), else it is disconnected
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    header_timeout: u64,
    /// Mapping of HubSpot payloads to leads (JSON: field -> JSON pointer); needs
    /// SWITCHBOARD_HUBSPOT_SECRET
    #[arg(long, value_name = "FILE")]
    hubspot_map: Option<PathBuf>,
    /// Mapping of Standard Webhooks payloads to leads; needs SWITCHBOARD_WEBHOOK_SECRET
    #[arg(long, value_name = "FILE")]
    standard_map: Option<PathBuf>,
    /// The URL clients call this server at (behind a proxy), for the URL HubSpot signs
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// Deliver fired escalations here as JSON POSTs (signed with SWITCHBOARD_NOTIFY_SECRET)
    #[arg(long, value_name = "URL")]
    notify: Option<String>,
    /// `json` (Standard Webhooks events) or `slack` (`{"text": …}` for an incoming webhook)
    #[arg(long, value_enum, default_value = "json", requires = "notify")]
    notify_format: NotifyFormat,
    /// The first retry's wait after a failed delivery, in milliseconds (then doubling, up to
    /// 5 minutes)
    #[arg(long, value_name = "MS", default_value_t = 1000, requires = "notify")]
    notify_backoff_ms: u64,
    /// How often the policy and roster files are looked at for changes, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    watch_every_ms: u64,
    /// Log lines as text or as JSON objects (one per line), on stderr; SWITCHBOARD_LOG sets the
    /// level (error, warn, info, debug)
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum NotifyFormat {
    Json,
    Slack,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn secret(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// Diagnostics as plain text, for the log and `/v1/status`.
fn diagnostics_text(path: &str, text: &str, diagnostics: &[switchboard::Diagnostic]) -> String {
    let file = FileDiagnostics {
        path,
        text,
        diagnostics,
    };
    render::human(&file, Style::Plain)
}

fn mapping(
    path: Option<&Path>,
    policy: &switchboard::model::Policy,
) -> Result<Option<Mapping>, String> {
    let Some(path) = path else { return Ok(None) };
    super::followed_link_stays_inside(path)?;
    let text = switchboard::disk::read_text(path, 1 << 20)
        .map_err(|error| format!("cannot read mapping `{}`: {error}", path.display()))?;
    Mapping::parse(&text, policy)
        .map(Some)
        .map_err(|error| format!("mapping `{}`: {error}", path.display()))
}

/// Reads and checks everything a bundle holds; `Err` says what is wrong, diagnostics included.
fn load_bundle(args: &ServeArgs, quiet: bool) -> Result<(Bundle, Vec<String>), String> {
    let source = one_policy(&args.policy, quiet).map_err(|failure| failure.0)?;
    let report = switchboard::check_source(&source.text);
    let errors = report.error_count();
    let Some((policy, compiled)) = report.compiled.filter(|_| errors == 0) else {
        return Err(format!(
            "{}`{}` has {errors} error{}",
            diagnostics_text(&source.path, &source.text, &report.diagnostics),
            source.path,
            if errors == 1 { "" } else { "s" }
        ));
    };
    let mut warnings = Vec::new();
    let roster = match &args.roster {
        None => None,
        Some(path) => {
            let checked =
                check_roster(path, &policy, jiff::Timestamp::now()).map_err(|failure| failure.0)?;
            let text = diagnostics_text(&checked.path, &checked.text, &checked.diagnostics);
            if checked.has_errors() {
                return Err(format!("{text}roster `{}` has errors", checked.path));
            }
            if !checked.diagnostics.is_empty() {
                warnings.push(text);
            }
            checked.roster
        }
    };
    let hubspot_map = mapping(args.hubspot_map.as_deref(), &policy)?;
    let standard_map = mapping(args.standard_map.as_deref(), &policy)?;
    Ok((
        Bundle {
            policy,
            compiled,
            policy_text: source.text,
            policy_path: source.path,
            roster,
            hubspot_map,
            standard_map,
        },
        warnings,
    ))
}

/// Starts the log at `SWITCHBOARD_LOG`'s level (`info` when unset); a value that names no
/// level is refused, rather than a `warning` meant to quiet the log leaving it at `info`.
fn start_logging(format: LogFormat) -> Result<(), Failure> {
    let level = match std::env::var("SWITCHBOARD_LOG") {
        // Unset, or set to nothing (`SWITCHBOARD_LOG=` in a unit file): the default.
        Err(_) => tracing_subscriber::filter::LevelFilter::INFO,
        Ok(level) if level.trim().is_empty() => tracing_subscriber::filter::LevelFilter::INFO,
        Ok(level) => level
            .trim()
            .parse::<tracing_subscriber::filter::LevelFilter>()
            .map_err(|_| {
                Failure::usage(format!(
                    "SWITCHBOARD_LOG=`{}` is no log level: give `error`, `warn`, `info` or \
                     `debug` (or `trace`, `off`)",
                    level.escape_debug()
                ))
            })?,
    };
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    Ok(())
}

pub fn run(args: &ServeArgs) -> Result<ExitCode, Failure> {
    let address: std::net::SocketAddr = args.listen.parse().map_err(|error| {
        Failure::usage(format!(
            "--listen `{}` is not an address such as 127.0.0.1:8080: {error}",
            args.listen
        ))
    })?;
    let token = secret("SWITCHBOARD_TOKEN");
    switchboard::serve::check_exposure(&address, token.as_deref()).map_err(Failure::usage)?;
    for (flag, value) in [
        ("--sweep-every", args.sweep_every),
        ("--request-timeout", args.request_timeout),
        ("--header-timeout", args.header_timeout),
        ("--watch-every-ms", args.watch_every_ms),
    ] {
        if value == 0 {
            return Err(Failure::usage(format!(
                "{flag} 0: give a period of at least 1"
            )));
        }
    }
    let hubspot_secret = secret("SWITCHBOARD_HUBSPOT_SECRET");
    let standard_key = secret("SWITCHBOARD_WEBHOOK_SECRET")
        .map(|secret| switchboard::serve::signature::standard_key(&secret))
        .transpose()
        .map_err(|error| Failure::usage(format!("SWITCHBOARD_WEBHOOK_SECRET: {error}")))?;
    if args.hubspot_map.is_some() && hubspot_secret.is_none() {
        return Err(Failure::usage(
            "--hubspot-map is given, and SWITCHBOARD_HUBSPOT_SECRET is not set: HubSpot \
             deliveries are taken only when their signature can be checked"
                .to_string(),
        ));
    }
    if args.standard_map.is_some() && standard_key.is_none() {
        return Err(Failure::usage(
            "--standard-map is given, and SWITCHBOARD_WEBHOOK_SECRET is not set: deliveries are \
             taken only when their signature can be checked"
                .to_string(),
        ));
    }
    let notify = match &args.notify {
        None => None,
        Some(url) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(Failure::usage(format!(
                    "--notify `{url}` is not an http:// or https:// URL"
                )));
            }
            let key = secret("SWITCHBOARD_NOTIFY_SECRET")
                .map(|secret| switchboard::serve::signature::standard_key(&secret))
                .transpose()
                .map_err(|error| Failure::usage(format!("SWITCHBOARD_NOTIFY_SECRET: {error}")))?;
            let format = match args.notify_format {
                NotifyFormat::Json => notify::Format::Json,
                NotifyFormat::Slack => notify::Format::Slack,
            };
            if key.is_none() && format == notify::Format::Json {
                return Err(Failure::usage(
                    "--notify needs SWITCHBOARD_NOTIFY_SECRET (`whsec_` and a key in base64), so \
                     that the receiver can check each message is ours (Standard Webhooks)"
                        .to_string(),
                ));
            }
            Some(notify::Config {
                url: url.clone(),
                format,
                key,
                backoff: std::time::Duration::from_millis(args.notify_backoff_ms.max(1)),
                max_backoff: std::time::Duration::from_secs(300),
            })
        }
    };
    start_logging(args.log_format)?;
    let mut watched = vec![args.policy.clone()];
    watched.extend(args.roster.clone());
    watched.extend(args.hubspot_map.clone());
    watched.extend(args.standard_map.clone());
    // Before the files are read: one changed from here on is read again.
    let watched = switchboard::serve::Watched::now(watched);
    let (bundle, warnings) = load_bundle(args, false).map_err(|error| {
        stderr_text!("{error}");
        if !error.ends_with('\n') {
            stderr_line!();
        }
        // A mapping is read only here: `check` would not say what is wrong with one.
        let mapping = error.starts_with("mapping `") || error.starts_with("cannot read mapping");
        Failure::usage(if mapping {
            "cannot serve: fix the mapping first".to_string()
        } else {
            let roster = args
                .roster
                .as_ref()
                .map(|roster| format!(" --roster {}", roster.display()))
                .unwrap_or_default();
            format!(
                "cannot serve: fix the errors first (`switchboard check {}{roster}` shows them)",
                args.policy.display()
            )
        })
    })?;
    for warning in warnings {
        stderr_text!("{warning}");
    }
    let (state, _) = open_state(&args.state)?;
    let listener = std::net::TcpListener::bind(address)
        .map_err(|error| Failure::usage(format!("cannot listen on {address}: {error}")))?;
    let bound = listener
        .local_addr()
        .map_err(|error| Failure::usage(format!("cannot listen on {address}: {error}")))?;
    let state_shown = super::policy::without_password(&args.state);
    tracing::info!(
        policy = %bundle.policy_path,
        state = %state_shown,
        token = token.is_some(),
        notify = args.notify.is_some(),
        "listening on http://{bound}"
    );
    if let Some(concurrency) = state.concurrency() {
        tracing::info!(state = %state_shown, "{concurrency}");
    }
    let reload_args = args.clone();
    let setup = switchboard::serve::Setup {
        bundle,
        reload: Box::new(move || {
            let (bundle, warnings) = load_bundle(&reload_args, true)?;
            for warning in warnings {
                tracing::warn!("{warning}");
            }
            Ok(bundle)
        }),
        watched,
        watch_every: std::time::Duration::from_millis(args.watch_every_ms),
        state,
        state_name: state_shown,
        sweep_every: std::time::Duration::from_secs(args.sweep_every),
        token,
        max_body_bytes: args.max_body_bytes,
        request_timeout: std::time::Duration::from_secs(args.request_timeout),
        header_timeout: std::time::Duration::from_secs(args.header_timeout),
        hubspot_secret,
        standard_key,
        public_url: args.public_url.clone(),
        notify,
    };
    switchboard::serve::run(setup, listener).map_err(Failure::usage)?;
    tracing::info!("stopped; every answered request is in the state");
    Ok(ExitCode::SUCCESS)
}
