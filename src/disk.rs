//! The disk as the core's [`Files`]: regular files only, every read bounded, a UTF-8 byte-order
//! mark skipped. The command line reads policies, files of tests and rosters through it, and
//! hands it to the language server for files that are not open in the editor.

use std::io::Read;
use std::path::{Path, PathBuf};
use switchboard_core::files::{FileError, Files, normalize};

/// The files of the machine this runs on.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiskFiles;

impl Files for DiskFiles {
    fn read(&self, path: &Path, limit: u64) -> Result<String, FileError> {
        read_text(path, limit)
    }

    fn routes_in(&self, dir: &Path) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let inside = canonical(dir);
        // A link counts only when it leads to a file in the same folder tree.
        let mut routes: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "route"))
            .filter(|path| std::fs::metadata(path).is_ok_and(|m| m.is_file()))
            .filter(|path| canonical(path).starts_with(&inside))
            .collect();
        routes.sort();
        routes
    }

    fn canonical(&self, path: &Path) -> PathBuf {
        canonical(path)
    }
}

/// Reads a regular file of at most `limit` bytes as UTF-8 text, without a leading byte-order
/// mark. A named pipe, a device or a directory is refused before it is opened, so a read never
/// blocks and never grows without bound.
pub fn read_text(path: &Path, limit: u64) -> Result<String, FileError> {
    let bytes = read_bytes(path, limit)?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_string()),
        Err(error) => {
            let offset = error.valid_up_to();
            let line = bytes[..offset].iter().filter(|b| **b == b'\n').count() + 1;
            Err(FileError::NotUtf8 { line, offset })
        }
    }
}

/// Reads a regular file of at most `limit` bytes.
pub fn read_bytes(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let metadata = std::fs::metadata(path).map_err(|error| io_error(&error))?;
    regular(&metadata)?;
    if metadata.len() > limit {
        return Err(FileError::TooLarge { limit });
    }
    let file = std::fs::File::open(path).map_err(|error| io_error(&error))?;
    let opened = file.metadata().map_err(|error| io_error(&error))?;
    regular(&opened)?;
    let mut bytes = Vec::with_capacity(usize::try_from(opened.len()).unwrap_or(0));
    // One byte past the limit tells a file that grew since it was measured.
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|error| io_error(&error))?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge { limit });
    }
    Ok(bytes)
}

fn regular(metadata: &std::fs::Metadata) -> Result<(), FileError> {
    let kind = metadata.file_type();
    if kind.is_file() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return Err(FileError::NotAFile {
                kind: "a named pipe",
            });
        }
        if kind.is_block_device() || kind.is_char_device() {
            return Err(FileError::NotAFile { kind: "a device" });
        }
        if kind.is_socket() {
            return Err(FileError::NotAFile { kind: "a socket" });
        }
    }
    Err(FileError::NotAFile {
        kind: if kind.is_dir() {
            "a directory"
        } else {
            "not a regular file"
        },
    })
}

/// The system's error in the words `check` uses.
pub fn io_error(error: &std::io::Error) -> FileError {
    match error.kind() {
        std::io::ErrorKind::NotFound => FileError::NotFound,
        std::io::ErrorKind::PermissionDenied => FileError::PermissionDenied,
        _ => FileError::Other(error.to_string()),
    }
}

/// The canonical path (links followed); for a path that does not exist, its nearest existing
/// ancestor's canonical path with the rest appended.
pub fn canonical(path: &Path) -> PathBuf {
    if let Ok(found) = std::fs::canonicalize(path) {
        return found;
    }
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|dir| dir.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let absolute = normalize(&absolute);
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while let Some(parent) = existing.parent() {
        if let Some(name) = existing.file_name() {
            rest.push(name.to_os_string());
        }
        existing = parent;
        if let Ok(found) = std::fs::canonicalize(existing) {
            let mut out = found;
            for name in rest.iter().rev() {
                out.push(name);
            }
            return out;
        }
    }
    absolute
}
