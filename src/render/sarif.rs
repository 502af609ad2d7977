//! SARIF 2.1.0 output, as GitHub code scanning accepts it: one run, every diagnostic code as a
//! rule, columns counted in Unicode code points (declared with `columnKind`).

use super::FileDiagnostics;
use crate::diagnostic::{Code, Severity};
use crate::span::{LineIndex, Span};
use serde_json::{Value, json};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// `check --format sarif`: a SARIF 2.1.0 log, pretty-printed, newline-terminated.
pub fn sarif(files: &[FileDiagnostics<'_>]) -> String {
    let rules: Vec<Value> = Code::ALL
        .iter()
        .map(|code| {
            json!({
                "id": code.as_str(),
                "shortDescription": { "text": code.summary() },
                "help": { "text": format!("see `{}` in docs/diagnostics.md", code.as_str()) },
                "defaultConfiguration": { "level": level(code.default_severity()) },
            })
        })
        .collect();
    let mut results = Vec::new();
    for file in files {
        let index = LineIndex::new(file.text);
        let uri = uri_reference(file.path);
        for diagnostic in file.diagnostics {
            let mut text = diagnostic.message.clone();
            if let Some(help) = &diagnostic.help {
                text.push_str("\nhelp: ");
                text.push_str(help);
            }
            let rule_index = Code::ALL
                .iter()
                .position(|code| *code == diagnostic.code)
                .unwrap_or(0);
            let related: Vec<Value> = diagnostic
                .related
                .iter()
                .enumerate()
                .map(|(id, related)| {
                    json!({
                        "id": id,
                        "message": { "text": related.message },
                        "physicalLocation": physical(&uri, &index, related.span),
                    })
                })
                .collect();
            let mut result = json!({
                "ruleId": diagnostic.code.as_str(),
                "ruleIndex": rule_index,
                "level": level(diagnostic.severity),
                "message": { "text": text },
                "locations": [{ "physicalLocation": physical(&uri, &index, diagnostic.span) }],
            });
            if !related.is_empty()
                && let Some(object) = result.as_object_mut()
            {
                object.insert("relatedLocations".to_string(), Value::Array(related));
            }
            results.push(result);
        }
    }
    let log = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "switchboard",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    let mut out = serde_json::to_string_pretty(&log).unwrap_or_else(|_| "{}".to_string());
    out.push('\n');
    out
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn physical(uri: &str, index: &LineIndex<'_>, span: Span) -> Value {
    let start = index.line_column(span.start);
    let end = index.line_column(span.end);
    json!({
        "artifactLocation": { "uri": uri },
        "region": {
            "startLine": start.line,
            "startColumn": start.column,
            "endLine": end.line,
            "endColumn": end.column,
        },
    })
}

/// A relative URI reference for a path: forward slashes, and everything outside the unreserved
/// set percent-encoded.
fn uri_reference(path: &str) -> String {
    let path = path.replace('\\', "/");
    let path = path.strip_prefix("./").unwrap_or(&path);
    let mut out = String::new();
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(
            uri_reference("./examples/my policy.route"),
            "examples/my%20policy.route"
        );
        assert_eq!(uri_reference("a\\b.route"), "a/b.route");
    }
}
