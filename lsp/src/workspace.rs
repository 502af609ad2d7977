//! The files the server sees: the editor's open documents over the files the command line
//! gives it (the disk). Every lookup of a `use`d policy, a test's roster or the files of tests
//! beside a policy goes through the core's `files` layer with this view, so the server finds
//! exactly the files `switchboard check` and `switchboard test` find.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use switchboard_core::files::{FileError, Files};
use tower_lsp_server::ls_types::Uri;

/// Where the server reads files that are not open in the editor.
pub type Disk = Arc<dyn Files + Send + Sync>;

/// A disk with nothing on it (a server started without one, such as under a fuzzer).
pub struct NoDisk;

impl Files for NoDisk {
    fn read(&self, _: &Path, _: u64) -> Result<String, FileError> {
        Err(FileError::NotFound)
    }

    fn routes_in(&self, _: &Path) -> Vec<PathBuf> {
        Vec::new()
    }

    fn canonical(&self, path: &Path) -> PathBuf {
        switchboard_core::files::normalize(path)
    }
}

/// Open documents (by path) in front of the disk.
pub struct Overlay<'a> {
    pub open: HashMap<PathBuf, String>,
    pub disk: &'a (dyn Files + Send + Sync),
}

impl<'a> Overlay<'a> {
    /// The open documents of `texts` that are files, over `disk`.
    pub fn new(
        texts: impl IntoIterator<Item = (Uri, String)>,
        disk: &'a (dyn Files + Send + Sync),
    ) -> Overlay<'a> {
        let open = texts
            .into_iter()
            .filter_map(|(uri, text)| {
                let path = uri.to_file_path()?.into_owned();
                Some((disk.canonical(&path), text))
            })
            .collect();
        Overlay { open, disk }
    }
}

impl Files for Overlay<'_> {
    fn read(&self, path: &Path, limit: u64) -> Result<String, FileError> {
        match self.open.get(&self.disk.canonical(path)) {
            Some(text) if text.len() as u64 > limit => Err(FileError::TooLarge { limit }),
            Some(text) => Ok(text.clone()),
            None => self.disk.read(path, limit),
        }
    }

    fn routes_in(&self, dir: &Path) -> Vec<PathBuf> {
        let mut routes = self.disk.routes_in(dir);
        let canonical_dir = self.disk.canonical(dir);
        let known: std::collections::HashSet<PathBuf> = routes
            .iter()
            .map(|path| self.disk.canonical(path))
            .collect();
        for path in self.open.keys() {
            let unsaved = path.parent() == Some(canonical_dir.as_path())
                && path.extension().is_some_and(|ext| ext == "route")
                && !known.contains(path);
            if unsaved {
                routes.push(path.clone());
            }
        }
        routes.sort();
        routes
    }

    fn canonical(&self, path: &Path) -> PathBuf {
        self.disk.canonical(path)
    }
}
