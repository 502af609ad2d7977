//! Hostile input through the language server: a message nested deeper than any JSON reader
//! takes, policies of many megabytes, names of tens of thousands of characters, a file of tests
//! that names a secret. The session survives each, answers every request, and shows nothing
//! secret. The command line's side is in `tests/hostile.rs`.

use crate::common::Client;
use serde_json::{Value, json};

const POLICY: &str = "schema lead { id: string  n: int }\nqueue q\n";

/// A policy of `rules` rules of the shape that was quadratic to check (`rule rN: when n = N`).
fn many_rules(rules: usize) -> String {
    let mut text = POLICY.to_string();
    for n in 0..rules {
        text.push_str(&format!("rule r{n}: when n = {n} -> queue q\n"));
    }
    text.push_str("otherwise -> queue q\n");
    text
}

fn messages(published: &Value) -> Vec<String> {
    published["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["message"].as_str().unwrap().to_string())
        .collect()
}

fn codes(published: &Value) -> Vec<String> {
    published["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_deeply_nested_message_is_refused_and_the_session_goes_on() {
    let mut client = Client::start("deep");
    let uri = client.open("policy.route", POLICY);
    client.diagnostics(&uri);
    for depth in [65, 127, 128, 129, 10_000] {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        // A request is answered with an "invalid request" error that says why.
        let id = json!(format!("deep-{depth}"));
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"textDocument/hover","params":{{"textDocument":{{"uri":"{uri}"}},"position":{{"line":0,"character":0}},"x":{nested}}}}}"#
        );
        let response = client.request_raw(&body, &id);
        assert_eq!(response["error"]["code"], json!(-32600), "{response}");
        assert_eq!(
            response["error"]["message"],
            json!(format!(
                "the message nests {} levels of arrays and objects; at most 64 are read",
                // The message's object and its params' object hold the nested array.
                depth + 2
            )),
        );
        // A notification is dropped.
        let body =
            format!(r#"{{"jsonrpc":"2.0","method":"textDocument/didSave","params":{nested}}}"#);
        client.send_raw(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
    }
    // The session still answers, with the document as it was.
    let symbols = client.result(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri}}),
    );
    assert_eq!(symbols.as_array().unwrap().len(), 2, "{symbols}");
    client.shutdown();
}

#[test]
fn a_policy_over_a_megabyte_gets_its_syntax_checked_and_a_notice() {
    let mut client = Client::start("large");
    let text = many_rules(30_000);
    assert!(text.len() > 1 << 20);
    let uri = client.open("large.route", &text);
    let published = client.diagnostics(&uri);
    assert_eq!(codes(&published), ["too-large"], "{published}");
    let notice = &messages(&published)[0];
    assert!(
        notice
            .contains("larger than the 1 MB the editor analyses fully: only its syntax is checked"),
        "{notice}"
    );
    assert_eq!(published["diagnostics"][0]["severity"], json!(3));
    let shown = client.notification("window/showMessage", |_| true);
    assert_eq!(shown["type"], json!(2), "{shown}");
    // Syntax errors are still found, and navigation works.
    let broken = text.replace("rule r7: when n = 7", "rule r7: when n = = 7");
    client.change(&uri, 2, &broken);
    let published = client.diagnostics_for_version(&uri, 2);
    assert_eq!(codes(&published), ["too-large", "syntax"], "{published}");
    let symbols = client.result(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri}}),
    );
    assert!(symbols.as_array().unwrap().len() > 30_000);
    let definition = client.result(
        "textDocument/definition",
        json!({"textDocument": {"uri": uri}, "position": {"line": 2000, "character": 18}}),
    );
    assert_eq!(
        definition["range"]["start"]["line"],
        json!(0),
        "{definition}"
    );
    // Below the limit again, the full analysis is back and the notice gone.
    client.change(&uri, 3, &many_rules(50));
    let published = client.diagnostics_for_version(&uri, 3);
    assert_eq!(codes(&published), Vec::<String>::new(), "{published}");
    client.shutdown();
}

#[test]
fn a_document_over_eight_megabytes_is_held_but_not_analysed() {
    let mut client = Client::start("huge");
    let text = many_rules(240_000);
    assert!(text.len() > 8 << 20);
    let uri = client.open("huge.route", &text);
    let published = client.diagnostics(&uri);
    assert_eq!(codes(&published), ["too-large"], "{published}");
    assert!(
        messages(&published)[0]
            .contains("larger than the 8 MB the editor reads: it is not analysed here"),
        "{published}"
    );
    let hover = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 5, "character": 6}}),
    );
    assert_eq!(hover["result"], Value::Null, "{hover}");
    let formatting = client.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(
        formatting["error"]["message"],
        json!("this file is larger than the 8 MB the editor formats; run `switchboard fmt` on it"),
        "{formatting}"
    );
    client.shutdown();
}

#[test]
fn a_burst_of_edits_to_a_large_policy_ends_with_the_last_version() {
    let mut client = Client::start("burst-large");
    let text = many_rules(20_000);
    assert!(text.len() < 1 << 20);
    let uri = client.open("policy.route", &text);
    client.diagnostics(&uri);
    // Ten versions as fast as the pipe takes them: older analyses are stopped, not queued.
    for version in 2..12 {
        let edited = text.replace(
            "rule r9: when n = 9 ",
            &format!("rule r9: when n = {} ", version * 1000),
        );
        client.change(&uri, version, &edited);
    }
    let published = client.diagnostics_for_version(&uri, 11);
    // Version 11 moved r9 onto r11000's value: r11000 below it never fires.
    let messages = messages(&published);
    assert_eq!(messages.len(), 1, "{published}");
    assert!(
        messages[0].contains("rule `r11000` is shadowed"),
        "{published}"
    );
    client.shutdown();
}

#[test]
fn names_of_any_length_are_formatted_and_quoted_briefly() {
    let mut client = Client::start("names");
    let long = "x".repeat(70_000);
    let text = format!(
        "schema lead {{ id: string  {long}: int }}\nqueue q\nrule {long}: when {long} = 1 -> queue q\notherwise -> queue q\n"
    );
    let uri = client.open("long.route", &text);
    let published = client.diagnostics(&uri);
    assert_eq!(codes(&published), Vec::<String>::new(), "{published}");
    let edits = client.result(
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert!(edits.is_array(), "{edits}");
    // A misspelt name of 700,000 characters: one short message, no "did you mean".
    let misspelt = "y".repeat(700_000);
    client.change(
        &uri,
        2,
        &format!("{POLICY}rule odd: when {misspelt} = 1 -> queue q\notherwise -> queue q\n"),
    );
    let published = client.diagnostics_for_version(&uri, 2);
    let messages = messages(&published);
    assert!(messages.iter().all(|m| m.len() < 300), "{messages:?}");
    assert!(
        messages.iter().any(|m| m.contains("… (700000 characters)")),
        "{messages:?}"
    );
    assert!(
        messages.iter().all(|m| !m.contains("did you mean")),
        "{messages:?}"
    );
    client.shutdown();
}

#[test]
fn a_file_of_tests_cannot_read_a_secret() {
    let mut client = Client::start("secret");
    let outside = client.workspace.parent().unwrap().join(format!(
        "switchboard-lsp-secret-{}.route",
        std::process::id()
    ));
    std::fs::write(&outside, "TOKEN=ghp_LSP_HOSTILE_TOKEN\n").unwrap();
    client.write_file("notes.txt", "TOKEN=ghp_LSP_HOSTILE_TOKEN\n");
    let outside_name = outside.file_name().unwrap().to_str().unwrap().to_string();
    for (used, expected) in [
        ("/proc/self/environ".to_string(), "an absolute path"),
        (
            format!("../{outside_name}"),
            "leads outside the project root",
        ),
        (
            "notes.txt".to_string(),
            "`use` names a policy, whose name ends in `.route`",
        ),
    ] {
        let uri = client.open(
            "tests.route",
            &format!("use \"{used}\"\ntest \"t\" {{ lead {{ id: \"1\" }} expect queue q }}\n"),
        );
        let published = client.diagnostics_for_version(&uri, 1);
        let all = published.to_string();
        assert!(all.contains(expected), "{all}");
        assert!(!all.contains("ghp_LSP_HOSTILE_TOKEN"), "{all}");
        assert!(!all.contains("PATH="), "{all}");
        client.notify(
            "textDocument/didClose",
            json!({"textDocument": {"uri": uri}}),
        );
    }
    let _ = std::fs::remove_file(outside);
    client.shutdown();
}
