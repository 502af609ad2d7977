//! `switchboard serve`: checks the policy and the roster, opens the state and the listening
//! socket (refusing an address reachable from other machines without `SWITCHBOARD_TOKEN`), then
//! runs the server until SIGTERM or SIGINT.

use super::Failure;
use super::policy::{load_policy, load_roster, open_state};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The policy to route with (it must check without errors)
    #[arg(value_name = "POLICY")]
    policy: PathBuf,
    /// Roster JSON: reps' status, out-of-office, open leads, and account owners
    #[arg(long, value_name = "FILE")]
    roster: Option<PathBuf>,
    /// State database (rotation, load, ledger), shared with `route`, `track` and `sweep`
    #[arg(long, value_name = "PATH", default_value = ".switchboard/state.db")]
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
}

pub fn run(args: &ServeArgs) -> Result<ExitCode, Failure> {
    let address: std::net::SocketAddr = args.listen.parse().map_err(|error| {
        Failure::usage(format!(
            "--listen `{}` is not an address such as 127.0.0.1:8080: {error}",
            args.listen
        ))
    })?;
    let token = std::env::var("SWITCHBOARD_TOKEN")
        .ok()
        .filter(|token| !token.is_empty());
    switchboard::serve::check_exposure(&address, token.as_deref()).map_err(Failure::usage)?;
    if args.sweep_every == 0 {
        return Err(Failure::usage(
            "--sweep-every 0: give the sweeper's period in seconds (at least 1)".to_string(),
        ));
    }
    let now = jiff::Timestamp::now();
    let loaded = load_policy(&args.policy, false)?;
    let roster = load_roster(args.roster.as_deref(), &loaded.policy, now)?;
    let (state, _) = open_state(&args.state)?;
    let listener = std::net::TcpListener::bind(address)
        .map_err(|error| Failure::usage(format!("cannot listen on {address}: {error}")))?;
    let bound = listener
        .local_addr()
        .map_err(|error| Failure::usage(format!("cannot listen on {address}: {error}")))?;
    eprintln!(
        "switchboard serve: listening on http://{bound} (policy `{}`, state {}{})",
        loaded.source.path,
        args.state,
        if token.is_some() {
            ", bearer token required"
        } else {
            ""
        }
    );
    let setup = switchboard::serve::Setup {
        policy: loaded.policy,
        compiled: loaded.compiled,
        policy_text: loaded.source.text,
        policy_path: loaded.source.path,
        roster,
        state,
        state_name: args.state.clone(),
        sweep_every: std::time::Duration::from_secs(args.sweep_every),
        token,
        max_body_bytes: args.max_body_bytes,
    };
    switchboard::serve::run(setup, listener).map_err(Failure::usage)?;
    eprintln!("switchboard serve: stopped; every answered request is in the state");
    Ok(ExitCode::SUCCESS)
}
