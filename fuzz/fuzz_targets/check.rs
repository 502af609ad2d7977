//! Fuzz target: no input makes parse + check panic, and every diagnostic span lies on character
//! boundaries inside the text (so every renderer can slice it).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let report = switchboard_core::check_source(text);
    for diagnostic in &report.diagnostics {
        assert!(diagnostic.span.start <= diagnostic.span.end);
        assert!(diagnostic.span.end <= text.len());
        assert!(text.is_char_boundary(diagnostic.span.start));
        assert!(text.is_char_boundary(diagnostic.span.end));
        for related in &diagnostic.related {
            assert!(related.span.end <= text.len());
        }
    }
    let file = switchboard_core::render::FileDiagnostics {
        path: "fuzz.route",
        text,
        diagnostics: &report.diagnostics,
    };
    let _ = switchboard_core::render::human(&file, switchboard_core::render::Style::Ascii);
    let _ = switchboard_core::render::json(std::slice::from_ref(&file));
});
