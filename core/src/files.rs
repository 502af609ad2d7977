//! The files a policy names, found one way for every front end: the [`Files`] trait is how the
//! core reads them (the command line implements it on the disk, the language server on its open
//! documents and then the disk), and the functions here resolve `use "…"` and test `roster "…"`
//! paths, find the files of tests that use a policy, and read a test's roster.
//!
//! Architecture invariant: a path written in a policy is resolved relative to the file that
//! writes it and must stay inside the project root (the file's directory and below, or the root
//! the caller gives): absolute paths and `..` that leave the root are refused before anything is
//! read, so a policy from a pull request cannot make `check` or `test` read other files.

use crate::diagnostic::Diagnostic;
use crate::model::Policy;
use crate::route::roster::Roster;
use crate::syntax::ast::{RosterSpec, Test};
use jiff::Timestamp;
use std::path::{Component, Path, PathBuf};

/// The largest policy or file of tests read (a policy of 2,000 rules is about 200 KiB).
pub const MAX_POLICY_BYTES: u64 = 64 << 20;
/// The largest roster read (a CRM export of reps and accounts).
pub const MAX_ROSTER_BYTES: u64 = 256 << 20;

/// Why a file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileError {
    NotFound,
    PermissionDenied,
    /// A directory, a named pipe, a device: only regular files are read.
    NotAFile {
        kind: &'static str,
    },
    TooLarge {
        limit: u64,
    },
    /// Not UTF-8: where the first invalid byte is.
    NotUtf8 {
        line: usize,
        offset: usize,
    },
    /// An absolute path written in a policy.
    Absolute,
    /// A path that leads out of the project root.
    OutsideRoot {
        root: PathBuf,
    },
    /// A path whose name does not end as the kind of file it must name does.
    WrongKind {
        kind: Referenced,
    },
    /// Any other failure, in the system's words.
    Other(String),
}

impl std::fmt::Display for FileError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileError::NotFound => formatter.write_str("no such file or directory"),
            FileError::PermissionDenied => formatter.write_str("permission denied"),
            FileError::NotAFile { kind } => write!(formatter, "it is {kind}, not a regular file"),
            FileError::TooLarge { limit } => write!(
                formatter,
                "it is larger than the limit of {} MiB",
                limit >> 20
            ),
            FileError::NotUtf8 { line, offset } => write!(
                formatter,
                "it is not UTF-8 (invalid byte on line {line}, at byte offset {offset})"
            ),
            FileError::Absolute => formatter.write_str(
                "an absolute path; paths in policies are relative to the file that names them",
            ),
            FileError::OutsideRoot { root } => write!(
                formatter,
                "it leads outside the project root `{}` (see --root)",
                root.display()
            ),
            FileError::WrongKind { kind } => write!(
                formatter,
                "{} names {}, whose name ends in `.{}`",
                kind.statement(),
                kind.noun(),
                kind.extension()
            ),
            FileError::Other(message) => formatter.write_str(message),
        }
    }
}

impl std::error::Error for FileError {}

/// Where the core reads files. Implementations bound every read by `limit` and read only
/// regular files.
pub trait Files {
    /// The text of a regular file of at most `limit` bytes.
    fn read(&self, path: &Path, limit: u64) -> Result<String, FileError>;
    /// The `*.route` files directly in `dir`, sorted: regular files, and links only to files
    /// inside `dir`'s tree.
    fn routes_in(&self, dir: &Path) -> Vec<PathBuf>;
    /// The canonical form of a path, to tell whether two paths name one file.
    fn canonical(&self, path: &Path) -> PathBuf;
}

/// Files held in memory, by path (tests, fuzzing, and the language server's unsaved buffers).
#[derive(Debug, Clone, Default)]
pub struct MemoryFiles {
    pub files: std::collections::BTreeMap<PathBuf, String>,
}

impl Files for MemoryFiles {
    fn read(&self, path: &Path, limit: u64) -> Result<String, FileError> {
        let text = self
            .files
            .get(&normalize(path))
            .ok_or(FileError::NotFound)?;
        if text.len() as u64 > limit {
            return Err(FileError::TooLarge { limit });
        }
        Ok(text.clone())
    }

    fn routes_in(&self, dir: &Path) -> Vec<PathBuf> {
        let dir = normalize(dir);
        self.files
            .keys()
            .filter(|path| {
                path.parent() == Some(dir.as_path())
                    && path.extension().is_some_and(|ext| ext == "route")
            })
            .cloned()
            .collect()
    }

    fn canonical(&self, path: &Path) -> PathBuf {
        normalize(path)
    }
}

/// `path` with `.` removed and `..` applied to what precedes it (without touching the disk).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// The directory a file is in (`.` for a bare file name).
pub fn directory_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// What a path written in a policy names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Referenced {
    /// `use "routing.route"`: a policy.
    Policy,
    /// `roster "team.json"` in a test: a roster.
    Roster,
}

impl Referenced {
    /// The extension its file's name must end in.
    pub fn extension(self) -> &'static str {
        match self {
            Referenced::Policy => "route",
            Referenced::Roster => "json",
        }
    }

    fn statement(self) -> &'static str {
        match self {
            Referenced::Policy => "`use`",
            Referenced::Roster => "`roster`",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Referenced::Policy => "a policy",
            Referenced::Roster => "a roster",
        }
    }
}

/// Resolves a path written in `from` (a `use` or a test `roster`): relative to `from`'s
/// directory, and inside `root` (by default that directory). Refused without reading anything
/// when absolute, when it leaves the root, or when its name does not end in the extension of
/// the kind of file it names (so a policy cannot make Switchboard parse, and quote, a file of
/// secrets or notes).
pub fn resolve(
    files: &dyn Files,
    from: &Path,
    written: &str,
    root: Option<&Path>,
    kind: Referenced,
) -> Result<PathBuf, FileError> {
    let written_path = Path::new(written);
    if written_path.is_absolute() || written.starts_with('/') || written.starts_with('\\') {
        return Err(FileError::Absolute);
    }
    if written_path
        .extension()
        .is_none_or(|ext| ext != kind.extension())
    {
        return Err(FileError::WrongKind { kind });
    }
    let base = directory_of(from);
    let root = root.map_or_else(|| base.clone(), Path::to_path_buf);
    let target = normalize(&base.join(written_path));
    let root_canonical = files.canonical(&root);
    let base_canonical = files.canonical(&base);
    // Lexically: the written path, applied to the file's directory, stays inside the root.
    let lexical = base_canonical.join(written_path);
    if !normalize(&lexical).starts_with(&root_canonical) {
        return Err(FileError::OutsideRoot { root });
    }
    // And after links are followed, the file it names does too (where it exists).
    let target_canonical = files.canonical(&target);
    if target_canonical.is_absolute() && !target_canonical.starts_with(&root_canonical) {
        return Err(FileError::OutsideRoot { root });
    }
    Ok(target)
}

/// The policy a file of tests uses: its path and text, or why it cannot be read. `None` for a
/// file that uses no policy (a policy itself).
pub fn used_policy(
    files: &dyn Files,
    tests_path: &Path,
    uses: Option<&str>,
    root: Option<&Path>,
) -> Option<Result<(PathBuf, String), FileError>> {
    let used = uses?;
    Some(
        resolve(files, tests_path, used, root, Referenced::Policy)
            .and_then(|path| files.read(&path, MAX_POLICY_BYTES).map(|text| (path, text))),
    )
}

/// The files of tests beside `policy_path` (in its directory) whose `use` names it, with their
/// texts, sorted by path.
pub fn files_of_tests_using(files: &dyn Files, policy_path: &Path) -> Vec<(PathBuf, String)> {
    let dir = directory_of(policy_path);
    let policy = files.canonical(policy_path);
    let mut found = Vec::new();
    for candidate in files.routes_in(&dir) {
        if files.canonical(&candidate) == policy {
            continue;
        }
        let Ok(text) = files.read(&candidate, MAX_POLICY_BYTES) else {
            continue;
        };
        let Some(used) = crate::syntax::leading_use(&text) else {
            continue;
        };
        let uses_this = resolve(files, &candidate, &used, None, Referenced::Policy)
            .is_ok_and(|target| files.canonical(&target) == policy);
        if uses_this {
            found.push((candidate, text));
        }
    }
    found
}

/// The roster a test routes with, and what holding its file against the policy found.
#[derive(Debug, Clone, Default)]
pub struct TestRoster {
    /// `None` when the test names none (everyone is available) or its file has errors.
    pub roster: Option<Roster>,
    /// For a roster file: its path, text and findings, to show once however many tests use it.
    pub report: Option<RosterReport>,
}

/// A roster file and what it was found to hold, for a policy.
#[derive(Debug, Clone)]
pub struct RosterReport {
    pub path: PathBuf,
    pub text: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl RosterReport {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Reads a roster file and holds it against the policy, routing at `now`.
pub fn roster_report(path: PathBuf, text: String, policy: &Policy, now: Timestamp) -> RosterReport {
    let (file, mut diagnostics) = crate::route::roster::read::read_with_diagnostics(&text);
    if let Some(file) = &file {
        diagnostics.extend(crate::route::roster::check::check(file, policy, now));
    }
    crate::diagnostic::sort(&mut diagnostics);
    RosterReport {
        path,
        text,
        diagnostics,
    }
}

/// The roster a test names: its file (relative to the file the test is in, checked against the
/// policy at `now`) or its inline roster. `Err` when the file cannot be read.
pub fn test_roster(
    files: &dyn Files,
    test_file: &Path,
    test: &Test,
    policy: &Policy,
    root: Option<&Path>,
    now: Timestamp,
) -> Result<TestRoster, String> {
    match test.rosters.first() {
        None => Ok(TestRoster::default()),
        Some(RosterSpec::Inline(inline)) => Ok(TestRoster {
            roster: Some(Roster::from_inline(inline, policy)),
            report: None,
        }),
        Some(RosterSpec::File(path)) => {
            let full = resolve(files, test_file, &path.value, root, Referenced::Roster)
                .map_err(|error| format!("cannot read roster `{}`: {error}", path.value))?;
            let text = files
                .read(&full, MAX_ROSTER_BYTES)
                .map_err(|error| format!("cannot read roster `{}`: {error}", full.display()))?;
            let report = roster_report(full, text, policy, now);
            let roster = if report.has_errors() {
                None
            } else {
                Roster::from_json(&report.text).ok()
            };
            Ok(TestRoster {
                roster,
                report: Some(report),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(paths: &[(&str, &str)]) -> MemoryFiles {
        MemoryFiles {
            files: paths
                .iter()
                .map(|(path, text)| (PathBuf::from(path), text.to_string()))
                .collect(),
        }
    }

    #[test]
    fn paths_stay_inside_the_root() {
        use Referenced::{Policy, Roster};
        let disk = files(&[("p/policy.route", ""), ("p/sub/tests.route", "")]);
        let from = Path::new("p/sub/tests.route");
        assert_eq!(
            resolve(&disk, from, "../policy.route", Some(Path::new("p")), Policy),
            Ok(PathBuf::from("p/policy.route"))
        );
        assert!(matches!(
            resolve(&disk, from, "../policy.route", None, Policy),
            Err(FileError::OutsideRoot { .. })
        ));
        assert_eq!(
            resolve(&disk, from, "/etc/passwd", None, Policy),
            Err(FileError::Absolute)
        );
        assert!(matches!(
            resolve(
                &disk,
                from,
                "a/../../../x.route",
                Some(Path::new("p")),
                Policy
            ),
            Err(FileError::OutsideRoot { .. })
        ));
        assert_eq!(
            resolve(&disk, from, "./x/../here.json", None, Roster),
            Ok(PathBuf::from("p/sub/here.json"))
        );
        for (written, kind) in [
            ("secret.txt", Policy),
            ("environ", Policy),
            ("policy.route.bak", Policy),
            ("team.route", Roster),
            ("team", Roster),
        ] {
            assert_eq!(
                resolve(&disk, from, written, None, kind),
                Err(FileError::WrongKind { kind }),
                "{written}"
            );
        }
        assert_eq!(
            resolve(&disk, from, "notes.txt", None, Policy)
                .unwrap_err()
                .to_string(),
            "`use` names a policy, whose name ends in `.route`"
        );
    }

    #[test]
    fn files_of_tests_are_found_however_the_use_is_written() {
        let disk = files(&[
            ("d/routing.route", "queue q"),
            ("d/a.test.route", "use \"routing.route\""),
            ("d/b.test.route", "use \"./routing.route\""),
            ("d/c.test.route", "use \"other.route\""),
        ]);
        let found: Vec<PathBuf> = files_of_tests_using(&disk, Path::new("d/routing.route"))
            .into_iter()
            .map(|(path, _)| path)
            .collect();
        assert_eq!(
            found,
            vec![
                PathBuf::from("d/a.test.route"),
                PathBuf::from("d/b.test.route")
            ]
        );
    }
}
