//! The language server's features on arbitrary text: analysis, completion, hover, definition,
//! rename checks, outline, semantic tokens, inlay hints, code actions and lenses at many offsets
//! (every character boundary of short inputs). Nothing may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_lsp::document::Analysis;
use switchboard_lsp::{actions, completion, hints, hover, navigate, outline, tokens};
use tower_lsp_server::ls_types::{Position, Range, Uri};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(uri) = "file:///fuzz/policy.route".parse::<Uri>() else {
        return;
    };
    let used = text.to_string();
    let analysis = Analysis::new(uri.clone(), 1, text.to_string(), &|_| {
        Ok(switchboard_lsp::document::UsedPolicy {
            uri: uri.clone(),
            text: used.clone(),
        })
    }, None, &|| false)
    .expect("an analysis that is never cancelled is made");
    let whole = Range::new(Position::new(0, 0), Position::new(u32::MAX, 0));
    let _ = tokens::tokens(&analysis);
    let _ = outline::symbols(&analysis.file, &analysis.text);
    let _ = hints::inlay_hints(&analysis, whole);
    let _ = hints::code_lenses(&analysis, None);
    let _ = actions::code_actions(&analysis, whole);
    let step = (text.len() / 64).max(1);
    for offset in (0..=text.len()).step_by(step) {
        let _ = completion::complete(&analysis.index.names, text, offset);
        let _ = hover::hover(&analysis, offset);
        let _ = navigate::prepare_rename(&analysis, offset);
        if let Some(occurrence) = analysis.index.at(offset) {
            let _ = navigate::definitions(&analysis, &occurrence.id);
            let _ = navigate::locations(&analysis, &occurrence.id, true);
            let _ = navigate::rename_problem(&analysis, &occurrence.id, "renamed");
        }
    }
});
