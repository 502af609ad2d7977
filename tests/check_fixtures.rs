//! Fixture tests for `check`: every `tests/fixtures/check/ok/*.route` checks clean, every
//! `tests/fixtures/check/err/*.route` reports errors, and both the plain rendering and the JSON
//! items of every fixture are pinned by reviewed snapshots.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

use std::path::Path;
use switchboard::render::{self, FileDiagnostics, Style};

fn relative(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Pins a fixture's diagnostics: the plain rendering and the JSON items.
fn snapshot_diagnostics(path: &Path, text: &str, diagnostics: &[switchboard::Diagnostic]) {
    let name = relative(path);
    let file = FileDiagnostics {
        path: &name,
        text,
        diagnostics,
    };
    insta::assert_snapshot!("plain", render::human(&file, Style::Ascii));
    insta::assert_json_snapshot!("json", render::json_items(&[file]));
}

#[test]
fn ok_fixtures_check_clean() {
    insta::glob!("fixtures/check/ok/*.route", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let report = switchboard::check_source(&text);
        let file = FileDiagnostics {
            path: &relative(path),
            text: &text,
            diagnostics: &report.diagnostics,
        };
        assert!(
            report.diagnostics.is_empty(),
            "{} should check clean:\n{}",
            relative(path),
            render::human(&file, Style::Ascii)
        );
    });
}

#[test]
fn err_fixtures_match_their_snapshots() {
    insta::glob!("fixtures/check/err/*.route", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let report = switchboard::check_source(&text);
        assert!(
            report.error_count() > 0,
            "{} should have errors",
            relative(path)
        );
        snapshot_diagnostics(path, &text, &report.diagnostics);
    });
}

/// Acceptance: three rules with a syntax error each give three errors, each on its own line.
#[test]
fn syntax_errors_in_three_rules_are_all_reported() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/check/err/syntax_in_three_rules.route"),
    )
    .unwrap();
    let report = switchboard::check_source(&text);
    let file = FileDiagnostics {
        path: "x.route",
        text: &text,
        diagnostics: &report.diagnostics,
    };
    let syntax: Vec<(usize, usize)> = render::json_items(&[file])
        .into_iter()
        .filter(|item| item.code == "syntax")
        .map(|item| (item.line, item.column))
        .collect();
    assert_eq!(syntax, vec![(11, 27), (12, 52), (13, 32)]);
    // The fourth rule, after all three, is still checked.
    assert!(
        report
            .diagnostics
            .iter()
            .any(|d| d.code.as_str() == "unknown-variant")
    );
}

/// Acceptance: misspelt field, variant and pool names point at the name and suggest the right one.
#[test]
fn misspellings_get_did_you_mean() {
    let text = "schema lead { id: string  intent: enum { low, medium, high } }\n\
                pool senior { members anna }\n\
                when intnet = high -> pool senior\n\
                when intent = hgh -> pool senior\n\
                when intent = low -> pool seniro\n\
                otherwise -> pool senior\n";
    let report = switchboard::check_source(text);
    let found: Vec<(&str, &str, Option<&str>)> = report
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.code.as_str(),
                &text[d.span.start..d.span.end],
                d.help.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            ("unknown-field", "intnet", Some("did you mean `intent`?")),
            ("unknown-variant", "hgh", Some("did you mean `high`?")),
            ("unknown-pool", "seniro", Some("did you mean `senior`?")),
        ]
    );
}

/// The `# check: --warn overlap` header of a fixture, as a check configuration.
fn config_from_header(text: &str) -> switchboard::CheckConfig {
    let mut config = switchboard::CheckConfig::default();
    for line in text.lines().take_while(|line| line.starts_with('#')) {
        if let Some(options) = line.strip_prefix("# check:") {
            for option in options.split_whitespace() {
                match option {
                    "--warn" => {}
                    "overlap" => config.analysis.overlaps = true,
                    "off-shift" => config.coverage = switchboard::coverage::Coverage::Every,
                    other => panic!("unknown fixture option {other}"),
                }
            }
        }
    }
    config
}

/// Decision-graph analysis: shadowed rules, gaps with example leads, overlaps.
#[test]
fn analysis_fixtures_match_their_snapshots() {
    insta::glob!("fixtures/check/analysis/*.route", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let report = switchboard::check_source_with(&text, &config_from_header(&text));
        assert!(
            report.compiled.is_some(),
            "{} should compile",
            relative(path)
        );
        assert!(
            !report.diagnostics.is_empty(),
            "{} should report something",
            relative(path)
        );
        snapshot_diagnostics(path, &text, &report.diagnostics);
    });
}
