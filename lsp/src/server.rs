//! The protocol front end: keeps the open documents, analyses each new version off the async
//! runtime, publishes diagnostics, and answers requests from the latest analysis. Every feature's
//! logic lives in its own module and is a plain function of an [`Analysis`].
//!
//! Documents are synchronised in full (each change carries the whole text and a version); the
//! newest version wins, so notifications handled out of order cannot corrupt a document.

use crate::document::{Analysis, UsedPolicy};
use crate::hints::RUN_TEST;
use crate::index::{Origin, SymbolKind};
use crate::workspace::{Disk, Overlay};
use crate::{actions, completion, hints, hover, navigate, outline, position, tokens};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use switchboard_core::files::{self, MAX_POLICY_BYTES};
use switchboard_core::testing::{TestResult, run_test};
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

/// One document the server knows: open in the editor, or a file of tests found beside an open
/// policy (read from disk, so that its tests count and renames reach it).
struct Doc {
    text: String,
    version: i32,
    open: bool,
    /// Bumped whenever the document must be analysed again: a new text, or a change to the
    /// policy a file of tests uses.
    generation: u64,
    /// The analysis of the current generation, once made.
    analysis: Option<Arc<Analysis>>,
    /// The latest analysis made, even of an older version: its parsed items are reused.
    last: Option<Arc<Analysis>>,
    /// The analysis under way, shared by everything that waits for it.
    pending: Option<Pending>,
    /// Whether the user was told that this document is too large to analyse fully.
    told_too_large: bool,
    /// When the last edit arrived: an edit soon after it is part of a burst (typing).
    last_edit: Option<std::time::Instant>,
}

impl Doc {
    fn new(text: String, version: i32, open: bool) -> Doc {
        Doc {
            text,
            version,
            open,
            generation: next_generation(),
            analysis: None,
            last: None,
            pending: None,
            told_too_large: false,
            last_edit: None,
        }
    }

    /// Drops the current analysis and stops the one under way.
    fn invalidate(&mut self) {
        self.generation = next_generation();
        self.analysis = None;
        if let Some(pending) = self.pending.take() {
            pending.cancel.store(true, Ordering::Relaxed);
        }
    }
}

/// From this size, an edit that comes less than [`BURST_GAP`] after the previous one waits
/// [`PAUSE_BEFORE_ANALYSING`] before its analysis starts, and starts none when a newer edit came
/// meanwhile (below this size, an analysis takes milliseconds).
const PAUSE_BEFORE_ANALYSING_FROM_BYTES: usize = 64 << 10;
const BURST_GAP: std::time::Duration = std::time::Duration::from_millis(30);
const PAUSE_BEFORE_ANALYSING: std::time::Duration = std::time::Duration::from_millis(60);

/// A generation never used before, by any document: an analysis finishing late can never be
/// taken for one of a document closed and opened again.
fn next_generation() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// One analysis under way. However many requests and notifications need it, it is computed
/// once; it stops at its next stage when the document changes again.
#[derive(Clone)]
struct Pending {
    generation: u64,
    result: Arc<tokio::sync::OnceCell<Option<Arc<Analysis>>>>,
    cancel: Arc<AtomicBool>,
}

#[derive(Default)]
struct State {
    docs: HashMap<Uri, Doc>,
    /// Per opened policy, the search for the files of tests beside it: set when it is done, so
    /// that requests which count tests (code lenses, running tests) wait for it.
    discoveries: HashMap<Uri, Arc<tokio::sync::OnceCell<()>>>,
}

pub struct Backend {
    client: Client,
    state: Arc<Mutex<State>>,
    /// Files not open in the editor.
    disk: Disk,
    /// Set by `shutdown`: an `exit` without it ends the process with code 1, as the protocol
    /// says.
    shut_down: Arc<std::sync::atomic::AtomicBool>,
}

impl Backend {
    pub fn new(
        client: Client,
        disk: Disk,
        shut_down: Arc<std::sync::atomic::AtomicBool>,
    ) -> Backend {
        Backend {
            client,
            state: Arc::new(Mutex::new(State::default())),
            disk,
            shut_down,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the map half-updated in a way that matters
        // (every update is one insert), so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The analysis of the document's current version: the stored one, the one under way, or a
    /// new one. Only one analysis of a document runs at a time, off the async runtime; a request
    /// that arrives meanwhile waits for it rather than starting its own.
    async fn analysis(&self, uri: &Uri) -> Option<Arc<Analysis>> {
        loop {
            let pending = {
                let mut state = self.state();
                let doc = state.docs.get_mut(uri)?;
                if let Some(analysis) = &doc.analysis {
                    return Some(analysis.clone());
                }
                match &doc.pending {
                    Some(pending) if pending.generation == doc.generation => pending.clone(),
                    _ => {
                        let pending = Pending {
                            generation: doc.generation,
                            result: Arc::new(tokio::sync::OnceCell::new()),
                            cancel: Arc::new(AtomicBool::new(false)),
                        };
                        doc.pending = Some(pending.clone());
                        pending
                    }
                }
            };
            let computed = pending
                .result
                .get_or_init(|| self.compute(uri, pending.generation, pending.cancel.clone()))
                .await
                .clone();
            let mut state = self.state();
            let Some(analysis) = computed else {
                // Stopped for a newer version (or failed): analyse the newest, if there is one.
                let newer = state
                    .docs
                    .get(uri)
                    .is_some_and(|doc| doc.generation != pending.generation);
                if newer {
                    continue;
                }
                return None;
            };
            let policy_current = policy_is_current(&state, &analysis);
            if let Some(doc) = state.docs.get_mut(uri) {
                if doc.generation == pending.generation {
                    doc.pending = None;
                    if policy_current {
                        doc.analysis = Some(analysis.clone());
                    } else {
                        // Analysed against a policy text that has changed since: redo.
                        doc.invalidate();
                    }
                }
                if doc
                    .last
                    .as_ref()
                    .is_none_or(|last| last.version <= analysis.version)
                {
                    doc.last = Some(analysis.clone());
                }
            }
            return Some(analysis);
        }
    }

    /// Analyses the document's text of generation `generation` on the blocking pool; `None`
    /// when the document changed before or during the analysis.
    async fn compute(
        &self,
        uri: &Uri,
        generation: u64,
        cancel: Arc<AtomicBool>,
    ) -> Option<Arc<Analysis>> {
        let (text, version, previous) = {
            let state = self.state();
            let doc = state.docs.get(uri)?;
            if doc.generation != generation {
                return None;
            }
            (doc.text.clone(), doc.version, doc.last.clone())
        };
        let open_texts = self.open_texts();
        let disk = self.disk.clone();
        let uri = uri.clone();
        tokio::task::spawn_blocking(move || {
            let files = Overlay::new(open_texts, disk.as_ref());
            let resolve = |path: &str| resolve_policy(&files, &uri, path);
            let items = previous.as_ref().map(|analysis| &analysis.items);
            let cancelled = || cancel.load(Ordering::Relaxed);
            Analysis::new(uri.clone(), version, text, &resolve, items, &cancelled).map(Arc::new)
        })
        .await
        .ok()
        .flatten()
    }

    /// Re-analyses a document after a change and publishes its diagnostics; then re-checks the
    /// files of tests that use it.
    async fn refresh(&self, uri: Uri) {
        let Some(analysis) = self.analysis(&uri).await else {
            return;
        };
        self.publish(&analysis).await;
        if analysis.is_test_file() {
            return;
        }
        let dependents: Vec<Uri> = {
            let state = self.state();
            state
                .docs
                .iter()
                .filter(|(_, doc)| {
                    // Files of tests that use this policy, that could not read theirs (it may be
                    // this one, just created), and ones not analysed yet.
                    doc.analysis.as_ref().is_some_and(|a| {
                        a.is_test_file() && a.policy.as_ref().is_none_or(|p| p.uri == uri)
                    }) || (doc.analysis.is_none() && doc.text.contains("use"))
                })
                .map(|(uri, _)| uri.clone())
                .collect()
        };
        for dependent in dependents {
            {
                let mut state = self.state();
                if let Some(doc) = state.docs.get_mut(&dependent) {
                    doc.invalidate();
                }
            }
            if let Some(analysis) = self.analysis(&dependent).await {
                self.publish(&analysis).await;
            }
        }
    }

    /// Publishes an analysis's diagnostics if it is still the document's newest and is open.
    /// A document too large to analyse fully also gets a notice: as an information diagnostic
    /// at its start, and once as a message.
    async fn publish(&self, analysis: &Analysis) {
        let (current, tell) = {
            let mut state = self.state();
            match state.docs.get_mut(&analysis.uri) {
                Some(doc) if doc.open && doc.version == analysis.version => {
                    let tell = analysis.notice.is_some() && !doc.told_too_large;
                    doc.told_too_large = analysis.notice.is_some();
                    (true, tell)
                }
                _ => (false, false),
            }
        };
        if !current {
            return;
        }
        let lines = analysis.lines();
        let mut diagnostics: Vec<_> = analysis
            .diagnostics
            .iter()
            .map(|d| actions::to_lsp(analysis, &lines, d))
            .collect();
        if let Some(notice) = &analysis.notice {
            diagnostics.insert(
                0,
                tower_lsp_server::ls_types::Diagnostic {
                    range: Range::default(),
                    severity: Some(DiagnosticSeverity::INFORMATION),
                    code: Some(NumberOrString::String("too-large".to_string())),
                    source: Some("switchboard".to_string()),
                    message: notice.clone(),
                    ..tower_lsp_server::ls_types::Diagnostic::default()
                },
            );
        }
        self.client
            .publish_diagnostics(analysis.uri.clone(), diagnostics, Some(analysis.version))
            .await;
        if tell && let Some(notice) = &analysis.notice {
            self.client
                .show_message(MessageType::WARNING, format!("Switchboard: {notice}"))
                .await;
        }
    }

    /// The texts of the documents open in the editor.
    fn open_texts(&self) -> Vec<(Uri, String)> {
        self.state()
            .docs
            .iter()
            .filter(|(_, doc)| doc.open)
            .map(|(uri, doc)| (uri.clone(), doc.text.clone()))
            .collect()
    }

    /// Reads the files of tests beside a policy that `use` it, so that their tests count.
    async fn discover_tests_beside(&self, uri: &Uri) {
        let Some(path) = uri.to_file_path().map(|p| p.into_owned()) else {
            return;
        };
        let open_texts = self.open_texts();
        let disk = self.disk.clone();
        // Reading the folder is blocking work: off the async runtime.
        let found = tokio::task::spawn_blocking(move || {
            let files = Overlay::new(open_texts, disk.as_ref());
            files::files_of_tests_using(&files, &path)
        })
        .await
        .unwrap_or_default();
        let mut state = self.state();
        for (path, text) in found {
            let Some(uri) = Uri::from_file_path(&path) else {
                continue;
            };
            state
                .docs
                .entry(uri)
                .or_insert_with(|| Doc::new(text, 0, false));
        }
    }

    /// Every analysis of the same policy as `analysis` (the policy and every file of tests using
    /// it), the given one included.
    async fn family(&self, analysis: &Arc<Analysis>) -> Vec<Arc<Analysis>> {
        let policy_uri = analysis.policy.as_ref().map(|p| p.uri.clone());
        // The files of tests beside a policy just opened may still be being found.
        if let Some(uri) = &policy_uri {
            let discovery = self.state().discoveries.get(uri).cloned();
            if let Some(discovery) = discovery {
                discovery.get_or_init(|| async {}).await;
            }
        }
        let uris: Vec<Uri> = self.state().docs.keys().cloned().collect();
        let mut family = vec![analysis.clone()];
        for uri in uris {
            if uri == analysis.uri {
                continue;
            }
            let Some(other) = self.analysis(&uri).await else {
                continue;
            };
            let same_policy = other.policy.as_ref().map(|p| &p.uri) == policy_uri.as_ref()
                && policy_uri.is_some();
            if same_policy {
                family.push(other);
            }
        }
        family
    }

    /// Runs every test of the policy `analysis` belongs to (its own tests and those of the files
    /// of tests that use it).
    async fn run_tests(&self, analysis: &Arc<Analysis>) -> Option<Vec<TestResult>> {
        let family = self.family(analysis).await;
        let open_texts = self.open_texts();
        let disk = self.disk.clone();
        tokio::task::spawn_blocking(move || {
            let files = Overlay::new(open_texts, disk.as_ref());
            let mut results = Vec::new();
            for member in &family {
                let side = member.policy.as_ref()?;
                let (policy, compiled) = side.compiled.as_ref()?;
                for test in &member.file.tests {
                    let now = switchboard_core::testing::test_time(policy, test);
                    let roster = match member.uri.to_file_path() {
                        Some(path) => files::test_roster(&files, &path, test, policy, None, now)
                            .and_then(|found| match found.report {
                                Some(report) if report.has_errors() => Err(format!(
                                    "roster `{}` has errors; `switchboard check` the policy \
                                     with `--roster` to see them",
                                    report.path.display()
                                )),
                                _ => Ok(found.roster),
                            }),
                        None if test.rosters.is_empty() => Ok(None),
                        None => Err(
                            "the file is not saved, so the roster path cannot be resolved"
                                .to_string(),
                        ),
                    };
                    results.push(match roster {
                        Ok(roster) => run_test(policy, compiled, &side.text, test, roster.as_ref()),
                        Err(reason) => TestResult {
                            name: test.name.value.clone(),
                            span: test.name.span,
                            failures: vec![reason],
                            outcome: None,
                            rule: None,
                        },
                    });
                }
            }
            Some(results)
        })
        .await
        .ok()
        .flatten()
    }

    /// The analysis of a request's document and the symbol at its position, if there is one.
    async fn symbol_at(
        &self,
        position: &TextDocumentPositionParams,
    ) -> Option<(Arc<Analysis>, crate::index::SymbolId)> {
        let analysis = self.analysis(&position.text_document.uri).await?;
        let offset = Self::offset(&analysis, position.position)?;
        let id = analysis.index.at(offset)?.id.clone();
        Some((analysis, id))
    }

    fn offset(analysis: &Analysis, position: Position) -> Option<usize> {
        position::offset(&analysis.lines(), position)
    }

    /// Answers a request the transport guard could not pass on (see [`crate::transport`]).
    pub async fn rejected(&self, params: Rejected) -> Result<()> {
        Err(Error {
            code: tower_lsp_server::jsonrpc::ErrorCode::InvalidRequest,
            message: params.reason.into(),
            data: None,
        })
    }
}

/// The parameters of a rejected request: why it was rejected.
#[derive(Debug, serde::Deserialize)]
pub struct Rejected {
    reason: String,
}

/// Whether the policy text a file of tests was analysed against is still the open policy's text
/// (an analysis that started before the policy changed must not be kept).
fn policy_is_current(state: &State, analysis: &Analysis) -> bool {
    if !analysis.is_test_file() {
        return true;
    }
    match &analysis.policy {
        Some(side) => state
            .docs
            .get(&side.uri)
            .filter(|doc| doc.open)
            .is_none_or(|doc| doc.text == side.text),
        None => true,
    }
}

/// Finds the policy a file of tests uses: open in the editor, or on disk beside the file.
fn resolve_policy(
    files: &Overlay<'_>,
    document: &Uri,
    used: &str,
) -> std::result::Result<UsedPolicy, String> {
    let Some(path) = document.to_file_path() else {
        return Err("the file is not saved, so the path cannot be resolved".to_string());
    };
    match files::used_policy(files, &path, Some(used), None) {
        Some(Ok((target, text))) => {
            // `resolve` normalises the path (`./` and `..` applied), as editors write URIs.
            let uri = Uri::from_file_path(&target)
                .ok_or_else(|| format!("`{}` is not a valid path", target.display()))?;
            Ok(UsedPolicy { uri, text })
        }
        Some(Err(error)) => Err(error.to_string()),
        None => Err("no policy is named".to_string()),
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, _: InitializeParams) -> Result<InitializeResult> {
        Ok(InitializeResult {
            server_info: Some(ServerInfo {
                name: "switchboard".to_string(),
                version: Some(env!("CARGO_PKG_VERSION").to_string()),
            }),
            capabilities: ServerCapabilities {
                text_document_sync: Some(TextDocumentSyncCapability::Options(
                    TextDocumentSyncOptions {
                        open_close: Some(true),
                        change: Some(TextDocumentSyncKind::FULL),
                        save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                        ..TextDocumentSyncOptions::default()
                    },
                )),
                completion_provider: Some(CompletionOptions {
                    trigger_characters: Some(
                        [" ", "{", ",", "(", "="]
                            .iter()
                            .map(|s| s.to_string())
                            .collect(),
                    ),
                    ..CompletionOptions::default()
                }),
                hover_provider: Some(HoverProviderCapability::Simple(true)),
                definition_provider: Some(OneOf::Left(true)),
                references_provider: Some(OneOf::Left(true)),
                document_highlight_provider: Some(OneOf::Left(true)),
                rename_provider: Some(OneOf::Right(RenameOptions {
                    prepare_provider: Some(true),
                    work_done_progress_options: WorkDoneProgressOptions::default(),
                })),
                document_symbol_provider: Some(OneOf::Left(true)),
                document_formatting_provider: Some(OneOf::Left(true)),
                code_action_provider: Some(CodeActionProviderCapability::Options(
                    CodeActionOptions {
                        code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
                        ..CodeActionOptions::default()
                    },
                )),
                semantic_tokens_provider: Some(
                    SemanticTokensServerCapabilities::SemanticTokensOptions(
                        SemanticTokensOptions {
                            legend: tokens::legend(),
                            full: Some(SemanticTokensFullOptions::Bool(true)),
                            range: None,
                            work_done_progress_options: WorkDoneProgressOptions::default(),
                        },
                    ),
                ),
                inlay_hint_provider: Some(OneOf::Left(true)),
                code_lens_provider: Some(CodeLensOptions {
                    resolve_provider: Some(false),
                }),
                execute_command_provider: Some(ExecuteCommandOptions {
                    commands: vec![RUN_TEST.to_string()],
                    work_done_progress_options: WorkDoneProgressOptions::default(),
                }),
                ..ServerCapabilities::default()
            },
            ..InitializeResult::default()
        })
    }

    async fn shutdown(&self) -> Result<()> {
        self.shut_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let document = params.text_document;
        {
            let mut state = self.state();
            if let Some(old) = state.docs.get_mut(&document.uri) {
                old.invalidate();
            }
            state.docs.insert(
                document.uri.clone(),
                Doc::new(document.text, document.version, true),
            );
        }
        let discovery = Arc::new(tokio::sync::OnceCell::new());
        self.state()
            .discoveries
            .insert(document.uri.clone(), discovery.clone());
        discovery
            .get_or_init(|| self.discover_tests_beside(&document.uri))
            .await;
        self.refresh(document.uri).await;
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let uri = params.text_document.uri;
        let version = params.text_document.version;
        // Full synchronisation: the last change holds the whole text.
        let Some(change) = params.content_changes.into_iter().last() else {
            return;
        };
        let pause = {
            let mut state = self.state();
            let Some(doc) = state.docs.get_mut(&uri) else {
                return;
            };
            if version < doc.version {
                return;
            }
            doc.text = change.text;
            doc.version = version;
            doc.open = true;
            doc.invalidate();
            let now = std::time::Instant::now();
            let in_a_burst = doc
                .last_edit
                .is_some_and(|last| now.duration_since(last) < BURST_GAP);
            doc.last_edit = Some(now);
            in_a_burst && doc.text.len() >= PAUSE_BEFORE_ANALYSING_FROM_BYTES
        };
        // Skip the work if another edit arrived while this one waited. An edit to a large
        // document that comes right after another (a burst: typing, an editor's own edits)
        // waits a little longer: an analysis started for each of them would run on to its next
        // stage even when stopped, and requests would wait behind them. A lone edit is analysed
        // at once, and requests never wait for this pause: they analyse the newest text.
        if pause {
            tokio::time::sleep(PAUSE_BEFORE_ANALYSING).await;
        } else {
            tokio::task::yield_now().await;
        }
        let stale = self
            .state()
            .docs
            .get(&uri)
            .is_none_or(|doc| doc.version != version);
        if !stale {
            self.refresh(uri).await;
        }
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        self.refresh(params.text_document.uri).await;
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let uri = params.text_document.uri;
        {
            let mut state = self.state();
            // A file of tests stays known (from disk) while its policy may still be open.
            let on_disk = uri
                .to_file_path()
                .and_then(|path| self.disk.read(&path, MAX_POLICY_BYTES).ok());
            match on_disk {
                Some(text) => {
                    if let Some(old) = state.docs.get_mut(&uri) {
                        old.invalidate();
                    }
                    state.docs.insert(uri.clone(), Doc::new(text, 0, false));
                }
                None => {
                    if let Some(mut old) = state.docs.remove(&uri) {
                        old.invalidate();
                    }
                }
            }
        }
        self.client.publish_diagnostics(uri, Vec::new(), None).await;
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let uri = params.text_document_position.text_document.uri;
        let text = match self.state().docs.get(&uri) {
            Some(doc) => doc.text.clone(),
            None => return Ok(None),
        };
        // Names come from the latest analysis made (a keystroke rarely changes them); the
        // context from the text as it is now.
        let last = self.state().docs.get(&uri).and_then(|doc| doc.last.clone());
        let analysis = match last {
            Some(analysis) => analysis,
            None => match self.analysis(&uri).await {
                Some(analysis) => analysis,
                None => return Ok(None),
            },
        };
        let lines = switchboard_core::LineIndex::new(&text);
        let Some(offset) = position::offset(&lines, params.text_document_position.position) else {
            return Ok(None);
        };
        let items = completion::complete(&analysis.index.names, &text, offset);
        Ok((!items.is_empty()).then_some(CompletionResponse::Array(items)))
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let position = params.text_document_position_params;
        let Some(analysis) = self.analysis(&position.text_document.uri).await else {
            return Ok(None);
        };
        let Some(offset) = Self::offset(&analysis, position.position) else {
            return Ok(None);
        };
        Ok(
            hover::hover(&analysis, offset).map(|(markdown, span)| Hover {
                contents: HoverContents::Markup(MarkupContent {
                    kind: MarkupKind::Markdown,
                    value: markdown,
                }),
                range: Some(position::range(&analysis.lines(), span)),
            }),
        )
    }

    async fn goto_definition(
        &self,
        params: GotoDefinitionParams,
    ) -> Result<Option<GotoDefinitionResponse>> {
        let position = params.text_document_position_params;
        let Some((analysis, id)) = self.symbol_at(&position).await else {
            return Ok(None);
        };
        let locations = navigate::definitions(&analysis, &id);
        Ok(match locations.len() {
            0 => None,
            1 => locations
                .into_iter()
                .next()
                .map(GotoDefinitionResponse::Scalar),
            _ => Some(GotoDefinitionResponse::Array(locations)),
        })
    }

    async fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
        let position = params.text_document_position;
        let Some((analysis, id)) = self.symbol_at(&position).await else {
            return Ok(None);
        };
        let mut locations = Vec::new();
        for member in self.family(&analysis).await {
            for location in navigate::locations(&member, &id, params.context.include_declaration) {
                if !locations.contains(&location) {
                    locations.push(location);
                }
            }
        }
        locations
            .sort_by(|a, b| (a.uri.as_str(), a.range.start).cmp(&(b.uri.as_str(), b.range.start)));
        Ok(Some(locations))
    }

    async fn document_highlight(
        &self,
        params: DocumentHighlightParams,
    ) -> Result<Option<Vec<DocumentHighlight>>> {
        let position = params.text_document_position_params;
        let Some((analysis, id)) = self.symbol_at(&position).await else {
            return Ok(None);
        };
        let lines = analysis.lines();
        Ok(Some(
            analysis
                .index
                .of(&id)
                .filter(|o| o.origin == Origin::Document)
                .map(|o| DocumentHighlight {
                    range: position::range(&lines, o.span),
                    kind: Some(if o.definition {
                        DocumentHighlightKind::WRITE
                    } else {
                        DocumentHighlightKind::READ
                    }),
                })
                .collect(),
        ))
    }

    async fn prepare_rename(
        &self,
        params: TextDocumentPositionParams,
    ) -> Result<Option<PrepareRenameResponse>> {
        let Some(analysis) = self.analysis(&params.text_document.uri).await else {
            return Ok(None);
        };
        let Some(offset) = Self::offset(&analysis, params.position) else {
            return Ok(None);
        };
        Ok(
            navigate::prepare_rename(&analysis, offset).map(|(range, placeholder)| {
                PrepareRenameResponse::RangeWithPlaceholder { range, placeholder }
            }),
        )
    }

    async fn rename(&self, params: RenameParams) -> Result<Option<WorkspaceEdit>> {
        let position = params.text_document_position;
        let Some(analysis) = self.analysis(&position.text_document.uri).await else {
            return Ok(None);
        };
        let Some(offset) = Self::offset(&analysis, position.position) else {
            return Ok(None);
        };
        let Some(occurrence) = analysis.index.at(offset) else {
            return Err(Error::invalid_params("there is no name to rename here"));
        };
        if occurrence.id.kind == SymbolKind::Test {
            return Err(Error::invalid_params(
                "a test's name is a string: edit it in place",
            ));
        }
        let id = occurrence.id.clone();
        if let Some(problem) = navigate::rename_problem(&analysis, &id, &params.new_name) {
            return Err(Error::invalid_params(problem));
        }
        let mut locations = Vec::new();
        for member in self.family(&analysis).await {
            locations.extend(navigate::locations(&member, &id, true));
        }
        let changes = navigate::edits_by_uri(locations)
            .into_iter()
            .map(|(uri, ranges)| {
                let edits = ranges
                    .into_iter()
                    .map(|range| TextEdit {
                        range,
                        new_text: params.new_name.clone(),
                    })
                    .collect();
                (uri, edits)
            })
            .collect();
        Ok(Some(WorkspaceEdit {
            changes: Some(changes),
            document_changes: None,
            change_annotations: None,
        }))
    }

    async fn document_symbol(
        &self,
        params: DocumentSymbolParams,
    ) -> Result<Option<DocumentSymbolResponse>> {
        let Some(analysis) = self.analysis(&params.text_document.uri).await else {
            return Ok(None);
        };
        Ok(Some(DocumentSymbolResponse::Nested(outline::symbols(
            &analysis.file,
            &analysis.text,
        ))))
    }

    async fn formatting(&self, params: DocumentFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        let text = match self.state().docs.get(&params.text_document.uri) {
            Some(doc) => doc.text.clone(),
            None => return Ok(None),
        };
        if crate::document::Depth::of(text.len()) == crate::document::Depth::Nothing {
            return Err(Error::invalid_params(format!(
                "this file is larger than the {} MB the editor formats; run `switchboard fmt` on it",
                crate::document::SYNTAX_ANALYSIS_BYTES >> 20
            )));
        }
        let formatted = tokio::task::spawn_blocking(move || {
            switchboard_core::format::format(&text).map(|formatted| {
                // The document's line endings are kept, as `switchboard fmt` keeps them.
                let formatted = switchboard_core::format::keep_line_endings(&text, formatted);
                (text, formatted)
            })
        })
        .await
        .ok();
        match formatted {
            Some(Ok((text, formatted))) if formatted != text => {
                let lines = switchboard_core::LineIndex::new(&text);
                Ok(Some(vec![TextEdit {
                    range: position::range(&lines, switchboard_core::Span::new(0, text.len())),
                    new_text: formatted,
                }]))
            }
            Some(Ok(_)) => Ok(Some(Vec::new())),
            // A file with syntax errors is left alone, as `switchboard fmt` does.
            _ => Ok(None),
        }
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let Some(analysis) = self.analysis(&params.text_document.uri).await else {
            return Ok(None);
        };
        Ok(Some(actions::code_actions(&analysis, params.range)))
    }

    async fn semantic_tokens_full(
        &self,
        params: SemanticTokensParams,
    ) -> Result<Option<SemanticTokensResult>> {
        let Some(analysis) = self.analysis(&params.text_document.uri).await else {
            return Ok(None);
        };
        Ok(Some(SemanticTokensResult::Tokens(SemanticTokens {
            result_id: None,
            data: tokens::tokens(&analysis),
        })))
    }

    async fn inlay_hint(&self, params: InlayHintParams) -> Result<Option<Vec<InlayHint>>> {
        let Some(analysis) = self.analysis(&params.text_document.uri).await else {
            return Ok(None);
        };
        Ok(Some(hints::inlay_hints(&analysis, params.range)))
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        let Some(analysis) = self.analysis(&params.text_document.uri).await else {
            return Ok(None);
        };
        let results = self.run_tests(&analysis).await;
        Ok(Some(hints::code_lenses(&analysis, results.as_deref())))
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
        if params.command != RUN_TEST {
            return Err(Error::invalid_params(format!(
                "unknown command `{}`",
                params.command
            )));
        }
        let (Some(uri), Some(name)) = (
            params.arguments.first().and_then(|v| v.as_str()),
            params.arguments.get(1).and_then(|v| v.as_str()),
        ) else {
            return Err(Error::invalid_params(
                "switchboard.runTest takes a document URI and a test name",
            ));
        };
        let uri: Uri = uri
            .parse()
            .map_err(|_| Error::invalid_params(format!("`{uri}` is not a URI")))?;
        let Some(analysis) = self.analysis(&uri).await else {
            return Err(Error::invalid_params(format!(
                "`{}` is not open",
                uri.as_str()
            )));
        };
        let results = self.run_tests(&analysis).await.unwrap_or_default();
        let own: Vec<&TestResult> = results
            .iter()
            .filter(|r| r.name == name && analysis.file.tests.iter().any(|t| t.name.span == r.span))
            .collect();
        let Some(result) = own.first() else {
            return Err(Error::invalid_params(format!(
                "no test named \"{name}\" in this file, or its policy has errors"
            )));
        };
        let (kind, message) = if result.passed() {
            (MessageType::INFO, format!("test \"{name}\" passed"))
        } else {
            (
                MessageType::ERROR,
                format!("test \"{name}\" failed: {}", result.failures.join("; ")),
            )
        };
        self.client.show_message(kind, message).await;
        Ok(Some(serde_json::json!({
            "name": result.name,
            "passed": result.passed(),
            "failures": result.failures,
            "decision": result.outcome.as_ref().map_or(serde_json::Value::Null, |outcome| {
                switchboard_core::route::wire::outcome_value(outcome, 1)
            }),
        })))
    }
}
