//! The disk as the core's [`Files`]: regular files only, every read bounded, a UTF-8 byte-order
//! mark skipped. The command line reads policies, files of tests and rosters through it, and
//! hands it to the language server for files that are not open in the editor. Also the disk as
//! the in-memory state's [`Spill`]: a temporary file for the decisions of settled leads, their
//! index and the values `previous rep of` looks up.

use std::io::Read;
use std::path::{Path, PathBuf};
use switchboard_core::files::{FileError, Files, normalize};
use switchboard_core::route::state::Spill;

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

/// Reads the first lines of a regular file: at most `limit` bytes, cut after the last whole
/// line when the file is longer (`explain --lead @FILE` needs its first lead, not the rest).
/// `Ok(None)` when the first line alone is longer than `limit`.
pub fn read_head(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, FileError> {
    let file = std::fs::File::open(path).map_err(|error| io_error(&error))?;
    regular(&file.metadata().map_err(|error| io_error(&error))?)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|error| io_error(&error))?;
    if bytes.len() as u64 > limit {
        bytes.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        match bytes.iter().rposition(|byte| *byte == b'\n') {
            Some(end) => bytes.truncate(end + 1),
            None => return Ok(None),
        }
    }
    Ok(Some(bytes))
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

/// A file of this process's own in the system's temporary directory (`TMPDIR`). On Unix it is
/// readable by this user only (mode 0600) and unlinked as soon as it is open (the system frees
/// it when the process ends, however it ends); elsewhere it is removed when dropped.
#[derive(Debug)]
pub struct TemporaryFile {
    file: std::fs::File,
    /// Where the file is, when it could not be unlinked at once.
    path: Option<PathBuf>,
}

impl TemporaryFile {
    /// A new empty file; `what` goes into its name.
    pub fn create(what: &str) -> std::io::Result<TemporaryFile> {
        let dir = std::env::temp_dir();
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos());
        for attempt in 0..100u32 {
            let path = dir.join(format!(
                "switchboard-{what}-{}-{stamp}-{attempt}",
                std::process::id()
            ));
            match options.open(&path) {
                Ok(file) => {
                    let path = if cfg!(unix) && std::fs::remove_file(&path).is_ok() {
                        None
                    } else {
                        Some(path)
                    };
                    return Ok(TemporaryFile { file, path });
                }
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(error) => {
                    return Err(std::io::Error::new(
                        error.kind(),
                        format!("in {}: {error}", dir.display()),
                    ));
                }
            }
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("no free name for a temporary file in {}", dir.display()),
        ))
    }
}

impl std::io::Read for TemporaryFile {
    fn read(&mut self, into: &mut [u8]) -> std::io::Result<usize> {
        self.file.read(into)
    }
}

impl std::io::Write for TemporaryFile {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        std::io::Write::write(&mut self.file, bytes)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::Write::flush(&mut self.file)
    }
}

impl std::io::Seek for TemporaryFile {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        self.file.seek(to)
    }
}

impl Drop for TemporaryFile {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A temporary file for the ledger entries of settled leads, their index, or the values
/// `previous rep of` looks up (`simulate`).
/// Appends are buffered; reads see them, and an entry never lies half in the file and half in
/// the buffer. Writes at an offset go to the file at once (a gap they leave reads as zeros).
#[derive(Debug)]
pub struct SpillFile {
    file: TemporaryFile,
    /// Bytes in the file.
    written: u64,
    /// Bytes appended after them, not yet written.
    buffer: Vec<u8>,
}

const SPILL_BUFFER: usize = 256 << 10;

impl SpillFile {
    pub fn create() -> std::io::Result<SpillFile> {
        Ok(SpillFile {
            file: TemporaryFile::create("spill")?,
            written: 0,
            buffer: Vec::with_capacity(SPILL_BUFFER),
        })
    }

    fn write_buffer(&mut self) -> std::io::Result<()> {
        write_all_at(&self.file.file, &self.buffer, self.written)?;
        self.written += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }
}

impl Spill for SpillFile {
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<u64> {
        if !self.buffer.is_empty() && self.buffer.len() + bytes.len() > SPILL_BUFFER {
            self.write_buffer()?;
        }
        let offset = self.written + self.buffer.len() as u64;
        self.buffer.extend_from_slice(bytes);
        Ok(offset)
    }

    fn read_at(&self, offset: u64, into: &mut [u8]) -> std::io::Result<()> {
        let past = || {
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "past the end of what was written",
            )
        };
        if offset < self.written {
            return read_exact_at(&self.file.file, into, offset);
        }
        let start = usize::try_from(offset - self.written).map_err(|_| past())?;
        let bytes = self
            .buffer
            .get(start..start.saturating_add(into.len()))
            .ok_or_else(past)?;
        into.copy_from_slice(bytes);
        Ok(())
    }

    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
        if !self.buffer.is_empty() {
            self.write_buffer()?;
        }
        write_all_at(&self.file.file, bytes, offset)?;
        self.written = self.written.max(offset + bytes.len() as u64);
        Ok(())
    }
}

#[cfg(unix)]
fn read_exact_at(file: &std::fs::File, into: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, into, offset)
}

#[cfg(unix)]
fn write_all_at(file: &std::fs::File, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
}

#[cfg(windows)]
fn read_exact_at(
    file: &std::fs::File,
    mut into: &mut [u8],
    mut offset: u64,
) -> std::io::Result<()> {
    while !into.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, into, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            read => {
                into = &mut into[read..];
                offset += read as u64;
            }
        }
    }
    Ok(())
}

#[cfg(windows)]
fn write_all_at(file: &std::fs::File, mut bytes: &[u8], mut offset: u64) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match std::os::windows::fs::FileExt::seek_write(file, bytes, offset)? {
            0 => return Err(std::io::ErrorKind::WriteZero.into()),
            written => {
                bytes = &bytes[written..];
                offset += written as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spill_file_reads_back_what_was_appended_from_the_file_and_the_buffer() {
        let mut spill = SpillFile::create().unwrap();
        // 3 MB of entries of different lengths: most written to the file, the last buffered.
        let entry = |i: usize| -> Vec<u8> { (0..(i % 1500) + 1).map(|b| (i + b) as u8).collect() };
        let mut places = Vec::new();
        for i in 0..4000 {
            places.push((spill.append(&entry(i)).unwrap(), i));
        }
        assert!(spill.written > 0 && !spill.buffer.is_empty());
        // In another order than written.
        places.reverse();
        for (offset, i) in places {
            let mut back = vec![0; entry(i).len()];
            spill.read_at(offset, &mut back).unwrap();
            assert_eq!(back, entry(i), "entry {i}");
        }
        let mut past = [0u8; 4];
        let end = spill.written + spill.buffer.len() as u64;
        assert_eq!(
            spill.read_at(end, &mut past).unwrap_err().kind(),
            std::io::ErrorKind::UnexpectedEof
        );
        // On Unix the file has no name from the start.
        #[cfg(unix)]
        assert!(spill.file.path.is_none());
        // Written at an offset, over what was there and past the end; the gap reads as zeros.
        spill.write_at(10, b"over").unwrap();
        let far = end + 1000;
        spill.write_at(far, b"past").unwrap();
        let mut back = [0u8; 4];
        spill.read_at(10, &mut back).unwrap();
        assert_eq!(&back, b"over");
        spill.read_at(far, &mut back).unwrap();
        assert_eq!(&back, b"past");
        spill.read_at(far - 8, &mut back).unwrap();
        assert_eq!(back, [0; 4]);
    }
}
