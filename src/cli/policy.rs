//! What the commands that run one policy share: finding that one policy (a file, or the only
//! policy in a folder; never a file of tests), reading and checking it, reading the roster and
//! holding it against the policy, the routing time, and opening the state.

use super::{Failure, Source, human_style, read_sources};
use std::io::Write;
use std::path::{Path, PathBuf};
use switchboard::graph::Compiled;
use switchboard::model::Policy;
use switchboard::render::{self, FileDiagnostics};
use switchboard::route::roster::Roster;
use switchboard::route::state::{MemoryState, StateStore};

/// A policy ready to route: its source, resolved form and compiled graph.
pub struct Loaded {
    pub source: Source,
    pub policy: Policy,
    pub compiled: Compiled,
}

/// The one policy a command works on. A folder must hold exactly one policy (files of tests,
/// which `use` a policy, do not count): its path is said on stderr unless `quiet`. A file of
/// tests is refused, naming the policy it tests.
pub fn one_policy(path: &Path, quiet: bool) -> Result<Source, Failure> {
    let sources = read_sources(std::slice::from_ref(&path.to_path_buf()))?;
    let is_dir = path.is_dir();
    let (policies, tests): (Vec<Source>, Vec<Source>) = sources.into_iter().partition(|source| {
        switchboard::syntax::parse(&source.text)
            .file
            .uses
            .is_empty()
    });
    if !is_dir && let Some(tests) = tests.first() {
        return Err(Failure::usage(file_of_tests(tests)));
    }
    match <[Source; 1]>::try_from(policies) {
        Ok([policy]) => {
            if is_dir && !quiet {
                stderr_line!(
                    "note: using `{}`, the only policy in `{}`",
                    policy.path,
                    path.display()
                );
            }
            Ok(policy)
        }
        Err(policies) if policies.is_empty() => Err(Failure::usage(match tests.first() {
            Some(tests) => file_of_tests(tests),
            None => format!("no policy in `{}`", path.display()),
        })),
        Err(policies) => {
            let names: Vec<String> = policies.iter().map(|p| format!("`{}`", p.path)).collect();
            Err(Failure::usage(format!(
                "`{}` holds {} policies ({}); name the one to use",
                path.display(),
                policies.len(),
                names.join(", ")
            )))
        }
    }
}

/// "`X` is a file of tests for `Y`; route `Y`".
pub(super) fn file_of_tests(tests: &Source) -> String {
    let used = switchboard::syntax::parse(&tests.text)
        .file
        .uses
        .first()
        .map(|used| used.value.clone())
        .unwrap_or_default();
    let policy = Path::new(&tests.path)
        .parent()
        .map_or_else(|| PathBuf::from(&used), |dir| dir.join(&used));
    let policy = switchboard::files::normalize(&policy);
    format!(
        "`{}` is a file of tests for `{}`; name the policy `{}` instead (and run the tests with \
         `switchboard test {}`)",
        tests.path,
        policy.display(),
        policy.display(),
        tests.path
    )
}

/// Reads and checks the one policy at `path`; errors are printed and refuse it.
pub fn load_policy(path: &Path, quiet: bool) -> Result<Loaded, Failure> {
    let source = one_policy(path, quiet)?;
    let report = switchboard::check_source(&source.text);
    let errors = report.error_count();
    match report.compiled.filter(|_| errors == 0) {
        Some((policy, compiled)) => Ok(Loaded {
            source,
            policy,
            compiled,
        }),
        None => {
            let file = FileDiagnostics {
                path: &source.path,
                text: &source.text,
                diagnostics: &report.diagnostics,
            };
            let _ = std::io::stderr().write_all(render::human(&file, human_style()).as_bytes());
            Err(Failure::usage(format!(
                "`{}` has errors; `switchboard check` it and fix them before routing",
                source.path
            )))
        }
    }
}

/// A roster as read from its file, with its diagnostics against the policy.
pub struct CheckedRoster {
    pub path: String,
    pub text: String,
    pub roster: Option<Roster>,
    pub diagnostics: Vec<switchboard::Diagnostic>,
}

impl CheckedRoster {
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(switchboard::Diagnostic::is_error)
    }
}

/// Reads a roster file and holds it against the policy, routing at `now`.
pub fn check_roster(
    path: &Path,
    policy: &Policy,
    now: jiff::Timestamp,
) -> Result<CheckedRoster, Failure> {
    roster_against(path, Some(policy), now)
}

/// A roster read and checked against `policy`, or on its own (its JSON and its shape) when
/// there is no policy to hold it against.
pub fn roster_against(
    path: &Path,
    policy: Option<&Policy>,
    now: jiff::Timestamp,
) -> Result<CheckedRoster, Failure> {
    super::followed_link_stays_inside(path).map_err(Failure::usage)?;
    let text = switchboard::disk::read_text(path, switchboard::files::MAX_ROSTER_BYTES).map_err(
        |error| {
            let hint = match error {
                switchboard::files::FileError::NotFound => super::near_miss(path),
                _ => String::new(),
            };
            Failure::usage(format!(
                "cannot read roster `{}`: {error}{hint}",
                without_password(&path.display().to_string())
            ))
        },
    )?;
    let (file, mut diagnostics) = switchboard::route::roster::read::read_with_diagnostics(&text);
    if let (Some(file), Some(policy)) = (&file, policy) {
        diagnostics.extend(switchboard::route::roster::check::check(file, policy, now));
    }
    switchboard::diagnostic::sort(&mut diagnostics);
    Ok(CheckedRoster {
        path: super::display_path(path),
        text,
        roster: file.map(|file| file.roster),
        diagnostics,
    })
}

/// A roster for a command with two policies (`diff`), checked against both: what is wrong for
/// both is printed (a rep only one policy has is no mistake of the roster's), errors stop the
/// command, as for a routing command.
pub fn load_roster_for_both(
    path: Option<&Path>,
    old: &Policy,
    new: &Policy,
    now: jiff::Timestamp,
) -> Result<Option<Roster>, Failure> {
    let Some(path) = path else { return Ok(None) };
    let for_old = check_roster(path, old, now)?;
    let mut checked = check_roster(path, new, now)?;
    // A warning is the same for both when it is of the same kind, at the same place, about the
    // same rep or account (the first name it quotes: the pool it names may be another).
    let key = |diagnostic: &switchboard::Diagnostic| {
        (
            diagnostic.code,
            diagnostic.span,
            diagnostic.message.split('`').nth(1).map(str::to_string),
        )
    };
    checked.diagnostics.retain(|diagnostic| {
        diagnostic.is_error()
            || for_old
                .diagnostics
                .iter()
                .any(|other| key(other) == key(diagnostic))
    });
    // An error is an error whichever policy finds it.
    for error in for_old.diagnostics.iter().filter(|d| d.is_error()) {
        if !checked.diagnostics.contains(error) {
            checked.diagnostics.push(error.clone());
        }
    }
    switchboard::diagnostic::sort(&mut checked.diagnostics);
    report_roster(checked)
}

/// The roster a routing command is given, checked against its policy: errors are printed and
/// stop the command before any lead is routed; warnings are printed once and it goes on.
pub fn load_roster(
    path: Option<&Path>,
    policy: &Policy,
    now: jiff::Timestamp,
) -> Result<Option<Roster>, Failure> {
    let Some(path) = path else { return Ok(None) };
    report_roster(check_roster(path, policy, now)?)
}

/// Prints a checked roster's problems; its roster, unless they hold an error.
fn report_roster(checked: CheckedRoster) -> Result<Option<Roster>, Failure> {
    if !checked.diagnostics.is_empty() {
        let file = FileDiagnostics {
            path: &checked.path,
            text: &checked.text,
            diagnostics: &checked.diagnostics,
        };
        let _ = std::io::stderr().write_all(render::human(&file, human_style()).as_bytes());
    }
    if checked.has_errors() {
        let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
        return Err(Failure::usage(format!(
            "roster `{}` has {errors} error{}; fix {} before routing (`switchboard check POLICY --roster {}`)",
            checked.path,
            if errors == 1 { "" } else { "s" },
            if errors == 1 { "it" } else { "them" },
            checked.path
        )));
    }
    Ok(checked.roster)
}

/// The routing time: `--now`, else the current time.
pub fn parse_now(now: Option<&str>) -> Result<jiff::Timestamp, Failure> {
    match now {
        Some(text) => switchboard::route::reader::read_instant(text)
            .map_err(|why| Failure::usage(format!("--now `{text}` cannot be read: {why}"))),
        None => Ok(jiff::Timestamp::now()),
    }
}

/// Where the state lives, as `--state` names it.
pub enum StateLocation {
    /// `:memory:`: remember nothing between runs.
    Memory,
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database (`postgres://…`), shared by several routers.
    Postgres(String),
}

impl StateLocation {
    /// `what` (`decisions`, `events`) as printed with the state here: kept unless it is
    /// `:memory:`, so that a failure to print says where the lines not printed are.
    pub fn printed<'a>(&self, what: &'a str) -> super::printer::Printed<'a> {
        super::printer::Printed {
            what,
            kept: !matches!(self, StateLocation::Memory),
        }
    }

    /// How messages name it: never with a password.
    pub fn shown(&self) -> String {
        match self {
            StateLocation::Memory => "`:memory:`".to_string(),
            StateLocation::Sqlite(path) => format!("`{}`", path.display()),
            StateLocation::Postgres(url) => format!("`{}`", without_password(url)),
        }
    }
}

/// A database URL with its password (if any) replaced by `***`: what messages, logs and
/// `/v1/status` show. The password can be in two places, read as the driver reads them:
/// `user:PASSWORD@` (everything before the URL's first `@`, a `/` or `?` in it included), and a
/// `password=` parameter of the query (its name percent-decoded, in any case).
pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let mut shown = format!("{scheme}://");
    let after = match rest.split_once('@') {
        Some((credentials, after)) => {
            match credentials.split_once(':') {
                Some((user, _)) => shown.push_str(&format!("{user}:***@")),
                None => shown.push_str(&format!("{credentials}@")),
            }
            after
        }
        None => rest,
    };
    match after.split_once('?') {
        Some((path, query)) => {
            let parameters: Vec<String> = query
                .split('&')
                .map(|parameter| match parameter.split_once('=') {
                    Some((key, _))
                        if percent_encoding::percent_decode_str(key)
                            .decode_utf8_lossy()
                            .eq_ignore_ascii_case("password") =>
                    {
                        format!("{key}=***")
                    }
                    _ => parameter.to_string(),
                })
                .collect();
            shown.push_str(&format!("{path}?{}", parameters.join("&")));
        }
        None => shown.push_str(after),
    }
    shown
}

/// Reads a `--state` value. An empty value (`--state "$STATE"` with `STATE` unset) and a value
/// with a scheme Switchboard does not know are usage errors, never a file by that name.
pub fn state_location(value: &str) -> Result<StateLocation, Failure> {
    if value.trim().is_empty() {
        return Err(Failure::usage(
            "--state (or SWITCHBOARD_STATE) is empty: give a file (such as `.switchboard/state.db`), `:memory:` or a `postgres://` URL"
                .to_string(),
        ));
    }
    if value == ":memory:" {
        return Ok(StateLocation::Memory);
    }
    if value.trim() != value {
        // ` postgres://…` would be a file named so, in a folder named ` postgres:`.
        return Err(Failure::usage(format!(
            "--state `{}` has spaces around it: give the file or URL without them",
            without_password(value.trim())
        )));
    }
    // `postgres:/…`, `postgresql:…`, `postgres//…`: a mistyped URL, never a file by that name
    // (which would route into a SQLite file under a folder named after the host, password and
    // all).
    let lower = value.to_ascii_lowercase();
    let mistyped = ["postgres:", "postgresql:", "postgres//", "postgresql//"]
        .iter()
        .any(|start| lower.starts_with(start))
        && !(value.starts_with("postgres://") || value.starts_with("postgresql://"));
    if mistyped {
        return Err(Failure::usage(
            "--state: this looks like a mistyped PostgreSQL URL (the URL is not shown: it may \
             hold a password); write it `postgres://user@host:port/database`"
                .to_string(),
        ));
    }
    if let Some((scheme, rest)) = value.split_once("://")
        && (scheme == "postgres" || scheme == "postgresql")
    {
        if rest.matches('@').count() > 1 {
            // The driver takes what follows the first `@` for the host, so part of a password
            // would be shown as one: the URL is not shown at all.
            return Err(Failure::usage(
                "--state: the PostgreSQL URL holds more than one `@`; write an `@` in the user \
                 name, the password or a parameter as `%40` (percent-encoded, as any reserved \
                 character of a URL)"
                    .to_string(),
            ));
        }
        return Ok(StateLocation::Postgres(value.to_string()));
    }
    if let Some(path) = value.strip_prefix("file:") {
        // SQLite would read it as a URI (its query options included) where Switchboard makes
        // directories for a path: two readings of one value.
        return Err(Failure::usage(format!(
            "--state `{value}`: give the state file's path without `file:` (`{path}`)"
        )));
    }
    if let Some((scheme, _)) = value.split_once("://") {
        let scheme_like = !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if scheme_like {
            return Err(Failure::usage(format!(
                "--state `{scheme}://…`: state lives in a SQLite file, `:memory:` or a \
                 `postgres://user@host/db` database; `{scheme}://` is not a state Switchboard \
                 knows"
            )));
        }
    }
    Ok(StateLocation::Sqlite(PathBuf::from(value)))
}

#[cfg(feature = "postgres")]
fn open_postgres(url: &str) -> Result<Box<dyn StateStore + Send>, Failure> {
    Ok(Box::new(
        switchboard::store::PostgresState::open(url).map_err(|error| {
            Failure::usage(format!(
                "cannot open state {}: {error}",
                without_password(url)
            ))
        })?,
    ))
}

#[cfg(not(feature = "postgres"))]
fn open_postgres(url: &str) -> Result<Box<dyn StateStore + Send>, Failure> {
    Err(Failure::usage(format!(
        "--state {}: this build has no PostgreSQL support (built without the `postgres` feature)",
        without_password(url)
    )))
}

/// Opens the state `--state` names.
pub fn open_state(value: &str) -> Result<(Box<dyn StateStore + Send>, StateLocation), Failure> {
    let location = state_location(value)?;
    let state: Box<dyn StateStore + Send> = match &location {
        StateLocation::Memory => Box::new(MemoryState::default()),
        StateLocation::Sqlite(path) => {
            if path.is_dir() {
                return Err(Failure::usage(format!(
                    "cannot open state `{}`: it is a folder; name a file in it, such as `{}`",
                    path.display(),
                    path.join("state.db").display()
                )));
            }
            Box::new(
                switchboard::store::SqliteState::open(path).map_err(|error| {
                    // SQLite says only "unable to open database file": say why when it is the
                    // folder (missing, or not writable for a new file).
                    let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
                    let why = match folder.map(std::fs::metadata) {
                        Some(Err(_)) => " (its folder does not exist)".to_string(),
                        Some(Ok(meta)) if meta.permissions().readonly() => {
                            " (its folder is read-only)".to_string()
                        }
                        // Permissions a user cannot see in the mode bits alone (another owner):
                        // SQLite writes beside the file even to read it.
                        _ if error.to_string().contains("readonly database") => {
                            " (this user cannot write it: even to read it, SQLite writes its \
                             journal beside it, `-wal` and `-shm`; make the file and its folder \
                             writable for this user, or copy the file where they are)"
                                .to_string()
                        }
                        _ => String::new(),
                    };
                    Failure::usage(format!(
                        "cannot open state `{}`: {error}{why}",
                        path.display()
                    ))
                })?,
            )
        }
        StateLocation::Postgres(url) => open_postgres(url)?,
    };
    Ok((state, location))
}

/// [`open_state`] for one `route` run of `policy` alone: an in-memory state, which ends with
/// the run, keeps only what the run can ask for: no due index (nothing sweeps it,
/// [`MemoryState::without_due_index`]), and no leads' own times when `policy` has no
/// `cap N per PERIOD` ([`MemoryState::without_lead_times`]).
pub fn open_state_for_one_run(
    value: &str,
    policy: &Policy,
) -> Result<(Box<dyn StateStore + Send>, StateLocation), Failure> {
    if !matches!(state_location(value)?, StateLocation::Memory) {
        return open_state(value);
    }
    let state = MemoryState::default().without_due_index();
    let state = if policy.has_period_caps() {
        state
    } else {
        state.without_lead_times()
    };
    Ok((Box::new(state), StateLocation::Memory))
}

/// Commits the state's batch, then writes the batch's lines and empties it: a line is printed
/// only once the state holds it, so a killed run leaves nothing on stdout the state lacks.
pub fn commit_then_print(
    state: &mut dyn StateStore,
    output: &mut impl Write,
    batch: &mut String,
    printed: super::printer::Printed<'_>,
) -> Result<(), Failure> {
    state
        .commit()
        .map_err(|error| Failure::usage(error.to_string()))?;
    output
        .write_all(batch.as_bytes())
        .and_then(|()| output.flush())
        .map_err(|error| super::printer::write_failure(printed, &error))?;
    batch.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            without_password("postgres://router:s3cret@db.internal:5432/routing?sslmode=disable"),
            "postgres://router:***@db.internal:5432/routing?sslmode=disable"
        );
        assert_eq!(
            without_password("postgres://router@db/routing"),
            "postgres://router@db/routing"
        );
        assert_eq!(
            without_password("postgresql://a:b:c@h/d"),
            "postgresql://a:***@h/d"
        );
        assert_eq!(
            without_password(".switchboard/state.db"),
            ".switchboard/state.db"
        );
        // The query's `password=`, where the driver reads it too, in any case.
        assert_eq!(
            without_password("postgres://router@db/routing?password=s3cret&sslmode=require"),
            "postgres://router@db/routing?password=***&sslmode=require"
        );
        assert_eq!(
            without_password("postgres://router:a@db?sslmode=disable&PASSWORD=b"),
            "postgres://router:***@db?sslmode=disable&PASSWORD=***"
        );
        // A `/` or `?` in the password: the driver reads up to the first `@`, and so does this.
        assert_eq!(
            without_password("postgres://router:pa/ss?w@db:5432/routing?sslmode=disable"),
            "postgres://router:***@db:5432/routing?sslmode=disable"
        );
        // A percent-encoded parameter name the driver decodes to `password`.
        assert_eq!(
            without_password("postgres://router@db/routing?pass%77ord=s3cret"),
            "postgres://router@db/routing?pass%77ord=***"
        );
    }
}
