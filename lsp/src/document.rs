//! One document's analysis: its syntax tree, its diagnostics, the compiled policy it routes with,
//! and its symbol index. Built once per version of the text, off the async runtime; every
//! feature reads it. A file of tests (`use "policy.route"`) is analysed together with the policy
//! it uses, so that its names resolve to the policy's declarations.

use crate::index::{Index, Origin};
use std::sync::Arc;
use switchboard_core::graph::Compiled;
use switchboard_core::model::Policy;
use switchboard_core::syntax::ItemCache;
use switchboard_core::syntax::ast::PolicyFile;
use switchboard_core::{Diagnostic, LineIndex, Span};
use tower_lsp_server::ls_types::Uri;

/// The policy a file of tests uses, as the server found it (open in the editor or on disk).
#[derive(Debug, Clone)]
pub struct UsedPolicy {
    pub uri: Uri,
    pub text: String,
}

/// The policy side of an analysis: the text rules and declarations live in.
#[derive(Debug)]
pub struct PolicySide {
    pub uri: Uri,
    pub text: String,
    /// Shared with the analysis when the document is the policy (never copied per version).
    pub file: Arc<PolicyFile>,
    /// The policy's own diagnostics (for a file of tests, the used policy's).
    pub diagnostics: Vec<Diagnostic>,
    /// The resolved policy and its decision graph, when it has no errors.
    pub compiled: Option<(Policy, Compiled)>,
}

/// Everything the server knows about one version of one document.
#[derive(Debug)]
pub struct Analysis {
    pub uri: Uri,
    pub version: i32,
    pub text: String,
    pub file: Arc<PolicyFile>,
    /// This document's diagnostics, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
    /// The policy: this document itself, or the one a file of tests uses (`None` when that
    /// policy cannot be read).
    pub policy: Option<Arc<PolicySide>>,
    pub index: Index,
    /// This version's parsed items, for parsing the next version faster.
    pub items: ItemCache,
    /// Why the document was analysed less than fully (it is too large), shown to the user.
    pub notice: Option<String>,
}

/// The largest document analysed fully (checked, compiled, tests run). A larger one has its
/// syntax checked only, so that the editor answers at once on a policy of any size; `switchboard
/// check` analyses it fully.
pub const FULL_ANALYSIS_BYTES: usize = 1 << 20;

/// The largest document parsed at all; a larger one is held but not analysed, which bounds the
/// memory one document takes (its tree is about twenty times its text).
pub const SYNTAX_ANALYSIS_BYTES: usize = 8 << 20;

/// How much of a document is analysed, by its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    Full,
    SyntaxOnly,
    Nothing,
}

impl Depth {
    pub fn of(size: usize) -> Depth {
        if size > SYNTAX_ANALYSIS_BYTES {
            Depth::Nothing
        } else if size > FULL_ANALYSIS_BYTES {
            Depth::SyntaxOnly
        } else {
            Depth::Full
        }
    }

    /// What the user is told about a document of `size` bytes analysed to this depth.
    fn notice(self, size: usize) -> Option<String> {
        let shown = format!("{:.1} MB", size as f64 / f64::from(1 << 20));
        match self {
            Depth::Full => None,
            Depth::SyntaxOnly => Some(format!(
                "this file is {shown}, larger than the {} MB the editor analyses fully: only its \
                 syntax is checked here; run `switchboard check` (and `switchboard test`) on it",
                FULL_ANALYSIS_BYTES >> 20
            )),
            Depth::Nothing => Some(format!(
                "this file is {shown}, larger than the {} MB the editor reads: it is not analysed \
                 here; run `switchboard check` on it",
                SYNTAX_ANALYSIS_BYTES >> 20
            )),
        }
    }
}

impl Analysis {
    /// Analyses a document, as deeply as its size allows ([`Depth`]). `resolve` finds the policy
    /// a file of tests names in its `use` line. `None` when `cancelled` said so between stages
    /// (a newer version arrived).
    pub fn new(
        uri: Uri,
        version: i32,
        text: String,
        resolve: &dyn Fn(&str) -> Result<UsedPolicy, String>,
        previous: Option<&ItemCache>,
        cancelled: &dyn Fn() -> bool,
    ) -> Option<Analysis> {
        let depth = Depth::of(text.len());
        let notice = depth.notice(text.len());
        if depth == Depth::Nothing {
            let file = Arc::new(PolicyFile::default());
            return Some(Analysis {
                uri,
                version,
                text,
                index: Index::build(&file, None),
                file,
                diagnostics: Vec::new(),
                policy: None,
                items: ItemCache::default(),
                notice,
            });
        }
        let (parsed, items) = switchboard_core::syntax::parse_cached(
            &text,
            previous.unwrap_or(&ItemCache::default()),
            &crate::threads::HelperThread,
        );
        if cancelled() {
            return None;
        }
        if depth == Depth::SyntaxOnly {
            let index = Index::build(&parsed.file, None);
            let file = Arc::new(parsed.file);
            let mut diagnostics = parsed.errors;
            switchboard_core::diagnostic::sort(&mut diagnostics);
            let policy = file.uses.is_empty().then(|| {
                Arc::new(PolicySide {
                    uri: uri.clone(),
                    text: text.clone(),
                    file: file.clone(),
                    diagnostics: diagnostics.clone(),
                    compiled: None,
                })
            });
            return Some(Analysis {
                uri,
                version,
                text,
                file,
                diagnostics,
                policy,
                index,
                items,
                notice,
            });
        }
        match parsed.file.uses.first().map(|used| used.value.clone()) {
            None => {
                // The symbol index needs only the tree: build it while the checker runs.
                let (checked, index) = std::thread::scope(|scope| {
                    let tree = &parsed.file;
                    let index = scope.spawn(move || Index::build(tree, None));
                    let checked = switchboard_core::pipeline::check_parsed_until(
                        &parsed,
                        &text,
                        &Default::default(),
                        cancelled,
                    );
                    (checked, index.join())
                });
                let (diagnostics, compiled) = checked?;
                let index = index.unwrap_or_else(|_| Index::build(&parsed.file, None));
                let file = Arc::new(parsed.file);
                let side = Arc::new(PolicySide {
                    uri: uri.clone(),
                    text: text.clone(),
                    file: file.clone(),
                    diagnostics: diagnostics.clone(),
                    compiled,
                });
                Some(Analysis {
                    uri,
                    version,
                    text,
                    file,
                    diagnostics,
                    policy: Some(side),
                    index,
                    items,
                    notice,
                })
            }
            Some(path) => {
                let used = resolve(&path).and_then(|used| {
                    if Depth::of(used.text.len()) == Depth::Full {
                        Ok(used)
                    } else {
                        Err(format!(
                            "it is {:.1} MB, larger than the {} MB the editor analyses; run \
                             `switchboard test` on this file",
                            used.text.len() as f64 / f64::from(1 << 20),
                            FULL_ANALYSIS_BYTES >> 20
                        ))
                    }
                });
                let (file, diagnostics) = switchboard_core::check::check_test_file(
                    &text,
                    used.as_ref().map(|u| u.text.as_str()).map_err(Clone::clone),
                );
                let policy = used.ok().map(|used| {
                    let report = switchboard_core::check_source(&used.text);
                    Arc::new(PolicySide {
                        uri: used.uri,
                        text: used.text,
                        file: Arc::new(report.file),
                        diagnostics: report.diagnostics,
                        compiled: report.compiled,
                    })
                });
                let index = Index::build(&file, policy.as_ref().map(|p| &*p.file));
                Some(Analysis {
                    uri,
                    version,
                    text,
                    file: Arc::new(file),
                    diagnostics,
                    policy,
                    index,
                    items,
                    notice,
                })
            }
        }
    }

    /// Whether this is a file of tests that uses another policy.
    pub fn is_test_file(&self) -> bool {
        !self.file.uses.is_empty()
    }

    pub fn lines(&self) -> LineIndex<'_> {
        LineIndex::new(&self.text)
    }

    /// The text an occurrence's origin refers to, and that text's URI.
    pub fn origin_text(&self, origin: Origin) -> Option<(&Uri, &str)> {
        match origin {
            Origin::Document => Some((&self.uri, self.text.as_str())),
            Origin::Policy => self
                .policy
                .as_ref()
                .map(|side| (&side.uri, side.text.as_str())),
        }
    }

    /// The policy's syntax tree (this document's, or the used policy's).
    pub fn policy_file(&self) -> &PolicyFile {
        match &self.policy {
            Some(side) if self.is_test_file() => &side.file,
            _ => &self.file,
        }
    }

    /// The text of a span of this document.
    pub fn slice(&self, span: Span) -> &str {
        self.text.get(span.start..span.end).unwrap_or("")
    }
}
