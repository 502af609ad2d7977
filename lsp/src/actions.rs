//! Diagnostics in protocol form, and the quick fixes for them: apply a "did you mean", end the
//! policy with `otherwise` when leads fall through, delete a rule no lead can reach.

use crate::document::Analysis;
use crate::position;
use std::collections::HashMap;
use switchboard_core::check::suggest::suggested_name;
use switchboard_core::{Code, Diagnostic, LineIndex, Severity, Span};
use tower_lsp_server::ls_types::{
    self as lsp, CodeAction, CodeActionKind, CodeActionOrCommand, DiagnosticRelatedInformation,
    Location, NumberOrString, Range, TextEdit, WorkspaceEdit,
};

/// A library diagnostic as the protocol shows it: help appended to the message, related spans as
/// related information in the same document.
pub fn to_lsp(
    analysis: &Analysis,
    lines: &LineIndex<'_>,
    diagnostic: &Diagnostic,
) -> lsp::Diagnostic {
    let mut message = diagnostic.message.clone();
    if let Some(help) = &diagnostic.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let related: Vec<DiagnosticRelatedInformation> = diagnostic
        .related
        .iter()
        .map(|related| DiagnosticRelatedInformation {
            location: Location {
                uri: analysis.uri.clone(),
                range: position::range(lines, related.span),
            },
            message: related.message.clone(),
        })
        .collect();
    lsp::Diagnostic {
        range: position::range(lines, position::trim_end(&analysis.text, diagnostic.span)),
        severity: Some(match diagnostic.severity {
            Severity::Error => lsp::DiagnosticSeverity::ERROR,
            Severity::Warning => lsp::DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(diagnostic.code.as_str().to_string())),
        code_description: None,
        source: Some("switchboard".to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: (diagnostic.code == Code::ShadowedRule)
            .then(|| vec![lsp::DiagnosticTag::UNNECESSARY]),
        data: None,
    }
}

/// The quick fixes for the diagnostics that touch `range`.
pub fn code_actions(analysis: &Analysis, range: Range) -> Vec<CodeActionOrCommand> {
    let lines = analysis.lines();
    let Some(wanted) = position::span(&lines, range) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for diagnostic in &analysis.diagnostics {
        let touches = diagnostic.span.start <= wanted.end && wanted.start <= diagnostic.span.end;
        if !touches {
            continue;
        }
        let fix = did_you_mean(analysis, &lines, diagnostic)
            .or_else(|| add_otherwise(analysis, &lines, diagnostic))
            .or_else(|| delete_rule(analysis, &lines, diagnostic));
        if let Some((title, edits)) = fix {
            // Several diagnostics can call for the same fix (a gap per region): offered once.
            let offered = out.iter().any(|known| {
                matches!(known, CodeActionOrCommand::CodeAction(action) if action.title == title)
            });
            if offered {
                continue;
            }
            let mut changes = HashMap::new();
            changes.insert(analysis.uri.clone(), edits);
            out.push(CodeActionOrCommand::CodeAction(CodeAction {
                title,
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![to_lsp(analysis, &lines, diagnostic)]),
                edit: Some(WorkspaceEdit {
                    changes: Some(changes),
                    document_changes: None,
                    change_annotations: None,
                }),
                command: None,
                is_preferred: Some(diagnostic.code != Code::ShadowedRule),
                disabled: None,
                data: None,
            }));
        }
    }
    out
}

type Fix = (String, Vec<TextEdit>);

/// Replace a misspelt name with the suggestion.
fn did_you_mean(
    analysis: &Analysis,
    lines: &LineIndex<'_>,
    diagnostic: &Diagnostic,
) -> Option<Fix> {
    let name = suggested_name(diagnostic.help.as_deref()?)?;
    let written = analysis.slice(diagnostic.span);
    let is_word = !written.is_empty()
        && written
            .chars()
            .all(|ch| crate::lexer::is_word_char(ch) || matches!(ch, '/' | '-' | '+'));
    if !is_word {
        return None;
    }
    Some((
        format!("Change `{written}` to `{name}`"),
        vec![TextEdit {
            range: position::range(lines, diagnostic.span),
            new_text: name.to_string(),
        }],
    ))
}

/// End the policy with `otherwise -> ...` for leads that fall through.
fn add_otherwise(
    analysis: &Analysis,
    lines: &LineIndex<'_>,
    diagnostic: &Diagnostic,
) -> Option<Fix> {
    if diagnostic.code != Code::Gap || analysis.is_test_file() {
        return None;
    }
    let file = &analysis.file;
    let destination = match (file.queues.first(), file.pools.first()) {
        (Some(queue), _) => format!("queue {}", queue.name.name),
        (None, Some(pool)) => format!("pool {}", pool.name.name),
        (None, None) => return None,
    };
    let last = file.rules.last()?;
    // The rule's own text, without what its span may take after it (blank lines, up to a
    // `test` block): the new line goes right after the rule's last line.
    let rule_end = analysis
        .text
        .get(last.span.start..last.span.end)
        .map_or(last.span.end, |text| {
            last.span.start + text.trim_end().len()
        });
    let line_end = analysis.text[rule_end..]
        .find('\n')
        .map_or(analysis.text.len(), |index| rule_end + index);
    let at = position::position(lines, line_end);
    Some((
        format!("End the policy with `otherwise -> {destination}`"),
        vec![TextEdit {
            range: Range { start: at, end: at },
            new_text: format!("\notherwise -> {destination}"),
        }],
    ))
}

/// Delete a rule no lead reaches, with its whole lines.
fn delete_rule(analysis: &Analysis, lines: &LineIndex<'_>, diagnostic: &Diagnostic) -> Option<Fix> {
    if diagnostic.code != Code::ShadowedRule {
        return None;
    }
    let rule = analysis
        .file
        .rules
        .iter()
        .find(|rule| rule.head_span() == diagnostic.span)?;
    let text = &analysis.text;
    let line_start = text[..rule.span.start]
        .rfind('\n')
        .map_or(0, |index| index + 1);
    let start = if text[line_start..rule.span.start].trim().is_empty() {
        line_start
    } else {
        rule.span.start
    };
    let end = match text[rule.span.end..].find('\n') {
        Some(index) if only_comment(&text[rule.span.end..rule.span.end + index]) => {
            rule.span.end + index + 1
        }
        _ => rule.span.end,
    };
    Some((
        format!("Delete rule `{}`, which no lead reaches", rule.label()),
        vec![TextEdit {
            range: position::range(lines, Span::new(start, end)),
            new_text: String::new(),
        }],
    ))
}

fn only_comment(rest_of_line: &str) -> bool {
    let trimmed = rest_of_line.trim();
    trimmed.is_empty() || trimmed.starts_with('#')
}
