//! Inlay hints and code lenses: each rule's position (first match decides, so position is
//! meaning) and the clock its SLA runs on; how many tests reach each rule; "Run test" on tests.

use crate::document::Analysis;
use crate::hover::destination_calendar;
use crate::position;
use switchboard_core::testing::TestResult;
use tower_lsp_server::ls_types::{
    CodeLens, Command, InlayHint, InlayHintKind, InlayHintLabel, Range,
};

/// The command a "Run test" lens runs: arguments are the document URI and the test's name.
pub const RUN_TEST: &str = "switchboard.runTest";

/// Hints for the rules inside `range`.
pub fn inlay_hints(analysis: &Analysis, range: Range) -> Vec<InlayHint> {
    let lines = analysis.lines();
    let mut out = Vec::new();
    for rule in &analysis.file.rules {
        let rule_range = position::range(&lines, rule.span);
        if rule_range.end < range.start || rule_range.start > range.end {
            continue;
        }
        out.push(InlayHint {
            position: rule_range.start,
            label: InlayHintLabel::String(format!("#{}", rule.position)),
            kind: Some(InlayHintKind::PARAMETER),
            text_edits: None,
            tooltip: None,
            padding_left: None,
            padding_right: Some(true),
            data: None,
        });
        if let Some(within) = rule.within {
            let clock = match destination_calendar(analysis.policy_file(), rule) {
                Some(calendar) => format!("{calendar} hours"),
                None => "wall clock".to_string(),
            };
            out.push(InlayHint {
                position: position::position(&lines, within.span.end),
                label: InlayHintLabel::String(clock),
                kind: Some(InlayHintKind::TYPE),
                text_edits: None,
                tooltip: None,
                padding_left: Some(true),
                padding_right: None,
                data: None,
            });
        }
    }
    out
}

/// Lenses: "Run test" on every test of the document and, on every rule, how many tests reach
/// it (`results` are the results of every test of the policy, from every file).
pub fn code_lenses(analysis: &Analysis, results: Option<&[TestResult]>) -> Vec<CodeLens> {
    let lines = analysis.lines();
    let mut out = Vec::new();
    for test in &analysis.file.tests {
        out.push(CodeLens {
            range: position::range(&lines, test.name.span),
            command: Some(Command {
                title: "▶ Run test".to_string(),
                command: RUN_TEST.to_string(),
                arguments: Some(vec![
                    serde_json::Value::String(analysis.uri.to_string()),
                    serde_json::Value::String(test.name.value.clone()),
                ]),
            }),
            data: None,
        });
    }
    if analysis.is_test_file() {
        return out;
    }
    let Some(results) = results else {
        return out;
    };
    for (index, rule) in analysis.file.rules.iter().enumerate() {
        let count = results.iter().filter(|r| r.rule == Some(index)).count();
        let title = match count {
            0 => "no test reaches this rule".to_string(),
            1 => "1 test reaches this rule".to_string(),
            n => format!("{n} tests reach this rule"),
        };
        out.push(CodeLens {
            range: position::range(&lines, rule.head_span()),
            command: Some(Command {
                title,
                command: String::new(),
                arguments: None,
            }),
            data: None,
        });
    }
    out
}
