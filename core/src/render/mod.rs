//! Renderers: the one diagnostic type shown to people (miette's graphical report, with or without
//! colour), to scripts (JSON), to code scanning (SARIF 2.1.0) and to GitHub Actions (workflow
//! annotations). Each takes checked files and returns text; none prints.

mod sarif;

use crate::diagnostic::Diagnostic;
use crate::span::LineIndex;
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource};
pub use sarif::{directory_uri, sarif};
use serde::Serialize;

/// One checked source: where it came from, its text and what was found in it.
#[derive(Debug, Clone)]
pub struct FileDiagnostics<'a> {
    /// The path as the user gave it; used in every rendering.
    pub path: &'a str,
    pub text: &'a str,
    pub diagnostics: &'a [Diagnostic],
}

/// How the graphical report looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Unicode box drawing and colour, for terminals.
    Colour,
    /// Unicode box drawing, no colour (NO_COLOR, or output that is not a terminal).
    Plain,
    /// ASCII only and no colour: deterministic, for snapshots.
    Ascii,
}

/// Renders diagnostics with miette's graphical report handler.
pub fn human(file: &FileDiagnostics<'_>, style: Style) -> String {
    let theme = match style {
        Style::Colour => GraphicalTheme::unicode(),
        Style::Plain => GraphicalTheme::unicode_nocolor(),
        Style::Ascii => GraphicalTheme::none(),
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false);
    let mut out = String::new();
    for diagnostic in file.diagnostics {
        let report = miette::Report::new(to_miette(diagnostic))
            .with_source_code(NamedSource::new(file.path, file.text.to_string()));
        let mut rendered = String::new();
        if handler
            .render_report(&mut rendered, report.as_ref())
            .is_err()
        {
            rendered = format!("{}: {}\n", diagnostic.code, diagnostic.message);
        }
        out.push_str(&rendered);
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

fn to_miette(diagnostic: &Diagnostic) -> MietteDiagnostic {
    let severity = match diagnostic.severity {
        crate::diagnostic::Severity::Error => miette::Severity::Error,
        crate::diagnostic::Severity::Warning => miette::Severity::Warning,
    };
    let mut labels = vec![LabeledSpan::new_primary_with_span(
        diagnostic.label.clone(),
        (diagnostic.span.start, diagnostic.span.len()),
    )];
    for related in &diagnostic.related {
        labels.push(LabeledSpan::new_with_span(
            Some(related.message.clone()),
            (related.span.start, related.span.len()),
        ));
    }
    let mut miette = MietteDiagnostic::new(diagnostic.message.clone())
        .with_code(diagnostic.code.as_str())
        .with_severity(severity)
        .with_labels(labels);
    if let Some(help) = &diagnostic.help {
        miette = miette.with_help(help.clone());
    }
    miette
}

/// A diagnostic as one item of `check --format json`.
#[derive(Debug, Clone, Serialize)]
pub struct JsonDiagnostic {
    pub severity: &'static str,
    pub code: &'static str,
    pub message: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    /// Exclusive: the column just after the last character of the span.
    pub end_column: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<JsonRelated>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JsonRelated {
    pub message: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
}

/// Converts every diagnostic of every file to the JSON item shape.
pub fn json_items(files: &[FileDiagnostics<'_>]) -> Vec<JsonDiagnostic> {
    let mut items = Vec::new();
    for file in files {
        let index = LineIndex::new(file.text);
        for diagnostic in file.diagnostics {
            let start = index.line_column(diagnostic.span.start);
            let end = index.line_column(diagnostic.span.end);
            items.push(JsonDiagnostic {
                severity: diagnostic.severity.as_str(),
                code: diagnostic.code.as_str(),
                message: diagnostic.message.clone(),
                file: file.path.to_string(),
                line: start.line,
                column: start.column,
                end_line: end.line,
                end_column: end.column,
                help: diagnostic.help.clone(),
                related: diagnostic
                    .related
                    .iter()
                    .map(|related| {
                        let at = index.line_column(related.span.start);
                        JsonRelated {
                            message: related.message.clone(),
                            file: file.path.to_string(),
                            line: at.line,
                            column: at.column,
                        }
                    })
                    .collect(),
            });
        }
    }
    items
}

/// `check --format json`: one JSON array, pretty-printed, newline-terminated.
pub fn json(files: &[FileDiagnostics<'_>]) -> String {
    let items = json_items(files);
    let mut out = serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".to_string());
    out.push('\n');
    out
}

/// `check --format github`: one workflow command per diagnostic.
pub fn github(files: &[FileDiagnostics<'_>]) -> String {
    let mut out = String::new();
    for item in json_items(files) {
        let mut message = item.message.clone();
        if let Some(help) = &item.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        out.push_str(&format!(
            "::{} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
            item.severity,
            escape_property(&item.file),
            item.line,
            item.column,
            item.end_line,
            item.end_column,
            escape_property(&format!("switchboard {}", item.code)),
            escape_data(&message),
        ));
    }
    out
}

/// Escapes a workflow command's message.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_escapes_separators() {
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
        assert_eq!(escape_data("one\ntwo"), "one%0Atwo");
    }
}
