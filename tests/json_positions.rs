//! The reader of JSON with positions (rosters and other data files) against JSONTestSuite: every
//! `y_*` document is read (to the same value serde_json reads), every `n_*` document refused with
//! a position inside the text, and no document of the suite makes it panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use switchboard::json::{MAX_DEPTH, Node, Value, parse};

fn to_serde(node: &Node) -> serde_json::Value {
    match &node.value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(flag) => serde_json::Value::Bool(*flag),
        Value::Number(text) => serde_json::from_str(text).unwrap_or(serde_json::Value::Null),
        Value::String(text) => serde_json::Value::String(text.clone()),
        Value::Array(items) => serde_json::Value::Array(items.iter().map(to_serde).collect()),
        Value::Object(members) => serde_json::Value::Object(
            members
                .iter()
                .map(|member| (member.key.clone(), to_serde(&member.value)))
                .collect(),
        ),
    }
}

#[test]
fn json_test_suite() {
    let suite =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/jsontestsuite/test_parsing");
    let mut files: Vec<_> = std::fs::read_dir(&suite)
        .unwrap_or_else(|error| panic!("JSONTestSuite expected at {}: {error}", suite.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    let (mut accepted, mut refused) = (0, 0);
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(path).unwrap();
        // Files that are not UTF-8 never reach the reader: the file layer refuses them.
        let Ok(text) = std::str::from_utf8(&bytes) else {
            assert!(
                !name.starts_with("y_") || name.contains("utf") || name.contains("UTF"),
                "{name}"
            );
            continue;
        };
        let result = parse(text, MAX_DEPTH);
        if name.starts_with("y_") {
            let node = result.unwrap_or_else(|error| panic!("{name}: {error:?}"));
            // serde_json reads numbers beyond f64 differently; compare the rest.
            if let Ok(expected) = serde_json::from_str::<serde_json::Value>(text)
                && !name.contains("number")
            {
                assert_eq!(to_serde(&node), expected, "{name}");
            }
            accepted += 1;
        } else if name.starts_with("n_") {
            let error = result.expect_err(&name);
            assert!(error.span.start <= text.len(), "{name}");
            refused += 1;
        }
    }
    assert!(
        accepted > 90 && refused > 150,
        "{accepted} accepted, {refused} refused"
    );
}
