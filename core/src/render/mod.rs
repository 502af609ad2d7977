//! Renderers: the one diagnostic type shown to people (miette's graphical report, with or without
//! colour), to scripts (JSON), to code scanning (SARIF 2.1.0) and to GitHub Actions (workflow
//! annotations). Each takes checked files and returns text; none prints.

mod sarif;

use crate::diagnostic::Diagnostic;
use crate::span::LineIndex;
use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, MietteError,
    MietteSpanContents, NamedSource, SourceCode, SourceSpan, SpanContents,
};
pub use sarif::{directory_uri, sarif};
use serde::Serialize;
use std::sync::Arc;

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
        .with_links(false)
        .with_word_splitter(textwrap::WordSplitter::NoHyphenation);
    let mut out = String::new();
    let source = Window::new(file.text);
    for diagnostic in file.diagnostics {
        let too_long = source.too_long_to_show(diagnostic);
        let mut report = miette::Report::new(to_miette(diagnostic));
        if too_long.is_none() {
            report = report.with_source_code(NamedSource::new(file.path, source.clone()));
        }
        let mut rendered = String::new();
        if handler
            .render_report(&mut rendered, report.as_ref())
            .is_err()
        {
            rendered = format!("{}: {}\n", diagnostic.code, diagnostic.message);
        }
        if too_long.is_none() {
            rendered = with_character_column(rendered, file.path, &source, diagnostic.span.start);
        }
        if let Some((line, column, length)) = too_long {
            if !rendered.ends_with('\n') {
                rendered.push('\n');
            }
            rendered.push_str(&format!(
                "  at {}:{line}:{column} (line {line} is {length} characters long, too long to show)\n",
                file.path
            ));
        }
        out.push_str(&rendered);
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// The report with its `path:line:column` counted in characters, as the JSON, SARIF and
/// GitHub reports count it (miette counts bytes, so a line with non-ASCII text before the
/// span would point elsewhere).
fn with_character_column(rendered: String, path: &str, source: &Window, offset: usize) -> String {
    let line = source.line_of(offset);
    let (line_start, _) = source.line_bounds(line);
    let Some(before) = source.text.get(line_start..offset) else {
        return rendered;
    };
    let characters = before.chars().count();
    if characters == before.len() {
        return rendered;
    }
    let as_bytes = format!("{path}:{}:{}", line + 1, before.len() + 1);
    let as_characters = format!("{path}:{}:{}", line + 1, characters + 1);
    rendered.replacen(&as_bytes, &as_characters, 1)
}

/// The longest source line a report shows; a diagnostic on a longer line names its place instead.
const LONGEST_SHOWN_LINE: usize = 2_000;

/// One source text shared by all of its reports, which reads only the lines around a span: a
/// report costs the size of its snippet, not of the file (miette's own reading of a `str` scans
/// from the start of the text, which made thousands of diagnostics on a large file quadratic).
#[derive(Debug, Clone)]
struct Window {
    text: Arc<str>,
    line_starts: Arc<[usize]>,
}

impl Window {
    fn new(text: &str) -> Window {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(offset, _)| offset + 1));
        Window {
            text: Arc::from(text),
            line_starts: Arc::from(line_starts),
        }
    }

    fn line_of(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(line) => line,
            Err(next) => next.saturating_sub(1),
        }
    }

    /// Where the text of `line` starts and ends (without its newline).
    fn line_bounds(&self, line: usize) -> (usize, usize) {
        let start = self
            .line_starts
            .get(line)
            .copied()
            .unwrap_or(self.text.len());
        let end = self
            .line_starts
            .get(line + 1)
            .map_or(self.text.len(), |next| next - 1);
        (start, end.max(start))
    }

    /// The 1-based line and column of the first span of `diagnostic` on a line too long to show,
    /// with that line's length in characters.
    fn too_long_to_show(&self, diagnostic: &Diagnostic) -> Option<(usize, usize, usize)> {
        let spans =
            std::iter::once(diagnostic.span).chain(diagnostic.related.iter().map(|r| r.span));
        for span in spans {
            let first = self.line_of(span.start);
            let last = self.line_of(span.end);
            for line in first..=last {
                let (start, end) = self.line_bounds(line);
                if end - start > LONGEST_SHOWN_LINE {
                    let column_end = span.start.clamp(start, end);
                    let column = self
                        .text
                        .get(start..column_end)
                        .map_or(1, |t| t.chars().count() + 1);
                    let length = self
                        .text
                        .get(start..end)
                        .map_or(end - start, |t| t.chars().count());
                    return Some((line + 1, column, length));
                }
            }
        }
        None
    }
}

impl SourceCode for Window {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let end = span.offset() + span.len();
        if end > self.text.len() {
            return Err(MietteError::OutOfBounds);
        }
        let first_line = self
            .line_of(span.offset())
            .saturating_sub(context_lines_before);
        let last_line =
            self.line_of(end.saturating_sub(1).max(span.offset())) + context_lines_after;
        let base = self.line_bounds(first_line).0;
        let limit = self
            .line_starts
            .get(last_line + 1)
            .copied()
            .unwrap_or(self.text.len());
        let excerpt = &self.text.as_bytes()[base..limit];
        let local = SourceSpan::new((span.offset() - base).into(), span.len());
        let contents = <[u8] as SourceCode>::read_span(
            excerpt,
            &local,
            context_lines_before,
            context_lines_after,
        )?;
        Ok(Box::new(MietteSpanContents::new(
            contents.data(),
            SourceSpan::new(
                (contents.span().offset() + base).into(),
                contents.span().len(),
            ),
            contents.line() + first_line,
            contents.column(),
            contents.line_count(),
        )))
    }
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
