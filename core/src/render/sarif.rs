//! SARIF 2.1.0 output, as GitHub code scanning accepts it: one run, every diagnostic code as a
//! rule, columns counted in Unicode code points (declared with `columnKind`).

use super::FileDiagnostics;
use crate::diagnostic::{Code, Severity};
use crate::span::{LineIndex, Span};
use serde_json::{Value, json};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// `check --format sarif`: a SARIF 2.1.0 log, pretty-printed, newline-terminated.
///
/// Paths should be relative to the repository root (GitHub matches them to files). When
/// `source_root` (an absolute `file://` URI ending in `/`) is given, it is declared as
/// `%SRCROOT%`, the base of every artifact location.
pub fn sarif(files: &[FileDiagnostics<'_>], source_root: Option<&str>) -> String {
    let rules: Vec<Value> = Code::ALL
        .iter()
        .map(|code| {
            json!({
                "id": code.as_str(),
                "name": pascal_case(code.as_str()),
                "shortDescription": { "text": code.summary() },
                "fullDescription": { "text": format!("{}.", capitalized(code.summary())) },
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
            // GitHub links related locations that the message embeds as `[text](id)`.
            for (id, related) in diagnostic.related.iter().enumerate() {
                text.push_str(&format!("\n[{}]({id})", escape_link_text(&related.message)));
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
                        "physicalLocation": physical(&uri, &index, related.span, source_root.is_some()),
                    })
                })
                .collect();
            let mut result = json!({
                "ruleId": diagnostic.code.as_str(),
                "ruleIndex": rule_index,
                "level": level(diagnostic.severity),
                "message": { "text": text },
                "locations": [{ "physicalLocation": physical(&uri, &index, diagnostic.span, source_root.is_some()) }],
            });
            if !related.is_empty()
                && let Some(object) = result.as_object_mut()
            {
                object.insert("relatedLocations".to_string(), Value::Array(related));
            }
            results.push(result);
        }
    }
    let mut run = json!({
        "tool": { "driver": {
            "name": "switchboard",
            "version": env!("CARGO_PKG_VERSION"),
            "semanticVersion": env!("CARGO_PKG_VERSION"),
            "rules": rules,
        }},
        "columnKind": "unicodeCodePoints",
        "results": results,
    });
    if let (Some(root), Some(object)) = (source_root, run.as_object_mut()) {
        object.insert(
            "originalUriBaseIds".to_string(),
            json!({ "%SRCROOT%": { "uri": root } }),
        );
    }
    let log = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [run],
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

fn physical(uri: &str, index: &LineIndex<'_>, span: Span, has_root: bool) -> Value {
    let start = index.line_column(span.start);
    let end = index.line_column(span.end);
    let artifact = if has_root && !uri.starts_with('/') {
        json!({ "uri": uri, "uriBaseId": "%SRCROOT%" })
    } else {
        json!({ "uri": uri })
    };
    json!({
        "artifactLocation": artifact,
        "region": {
            "startLine": start.line,
            "startColumn": start.column,
            "endLine": end.line,
            "endColumn": end.column,
        },
    })
}

/// `unknown-field` -> `UnknownField`.
fn pascal_case(code: &str) -> String {
    code.split('-').map(capitalized).collect()
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn escape_link_text(text: &str) -> String {
    text.replace('[', "\\[").replace(']', "\\]")
}

/// A file URI for an absolute directory, ending in `/` (for `originalUriBaseIds`).
pub fn directory_uri(absolute: &str) -> String {
    let mut uri = format!("file://{}", uri_reference(absolute));
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
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
        assert_eq!(directory_uri("/home/me/repo"), "file:///home/me/repo/");
    }

    #[test]
    fn rule_names_are_pascal_case() {
        assert_eq!(pascal_case("unknown-field"), "UnknownField");
    }
}
