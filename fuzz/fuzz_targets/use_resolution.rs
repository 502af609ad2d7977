//! Fuzz target: resolving the paths a policy names (`use "PATH"`, a test's `roster "PATH"`) and
//! finding a file's leading `use`. Whatever the path, the file it names lies inside the root
//! and ends in the kind's extension, or it is refused; an absolute path is always refused. The
//! leading `use`, read from the first line alone, is the one the full parser finds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use switchboard_core::files::{FileError, MemoryFiles, Referenced, normalize, resolve};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `from` NUL `written` NUL `root`: the file that names the path, the path, and --root.
    let mut parts = text.splitn(3, '\0');
    let from = parts.next().unwrap_or_default();
    let written = parts.next().unwrap_or(text);
    let root = parts.next();
    let kind = if text.len() % 2 == 0 { Referenced::Policy } else { Referenced::Roster };
    let files = MemoryFiles::default();
    let from_path = Path::new(if from.is_empty() { "project/tests.route" } else { from });
    let root_path = root.map(Path::new);
    match resolve(&files, from_path, written, root_path, kind) {
        Ok(target) => {
            assert!(!Path::new(written).is_absolute());
            assert!(Path::new(written).extension().is_some_and(|ext| ext == kind.extension()));
            let base = match from_path.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let root = root_path.map_or(base, Path::to_path_buf);
            assert!(
                normalize(&target).starts_with(normalize(&root)),
                "{target:?} is outside {root:?}"
            );
        }
        Err(FileError::Absolute) => {
            assert!(Path::new(written).is_absolute() || written.starts_with(['/', '\\']));
        }
        Err(_) => {}
    }
    if let Some(used) = switchboard_core::syntax::leading_use(text) {
        let parsed = switchboard_core::syntax::parse(text);
        let first = parsed.file.uses.first().map(|used| used.value.as_str());
        assert_eq!(first, Some(used.as_str()));
    }
});
