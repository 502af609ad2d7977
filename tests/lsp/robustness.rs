//! The server never crashes and never hangs: broken documents, positions past the end, unknown
//! documents, bursts of edits and requests after shutdown all get an answer (empty, or a proper
//! error). Also: columns are UTF-16 code units, and a file of tests follows its policy.

use super::common::{Client, position_of};
use serde_json::{Value, json};

const SESSION: &str = include_str!("fixtures/session.route");

/// Every request a client may send about a position, at one position.
fn ask_everything(client: &mut Client, uri: &str, line: u32, character: u32) {
    let position =
        json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}});
    for method in [
        "textDocument/completion",
        "textDocument/hover",
        "textDocument/definition",
        "textDocument/documentHighlight",
        "textDocument/prepareRename",
    ] {
        let response = client.request(method, position.clone());
        assert!(
            response.get("result").is_some(),
            "{method} at {line}:{character} failed: {response}"
        );
    }
    let mut references = position.clone();
    references["context"] = json!({"includeDeclaration": true});
    let response = client.request("textDocument/references", references);
    assert!(response.get("result").is_some(), "{response}");
    let mut rename = position;
    rename["newName"] = json!("renamed");
    let response = client.request("textDocument/rename", rename);
    // Renaming nothing is an error with a message, not a crash.
    assert!(
        response.get("result").is_some() || response["error"]["message"].is_string(),
        "{response}"
    );
}

fn ask_whole_document(client: &mut Client, uri: &str) {
    let document = json!({"textDocument": {"uri": uri}});
    let whole =
        json!({"start": {"line": 0, "character": 0}, "end": {"line": 100000, "character": 0}});
    for (method, params) in [
        ("textDocument/semanticTokens/full", document.clone()),
        ("textDocument/documentSymbol", document.clone()),
        ("textDocument/codeLens", document.clone()),
        (
            "textDocument/formatting",
            json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
        ),
        (
            "textDocument/inlayHint",
            json!({"textDocument": {"uri": uri}, "range": whole}),
        ),
        (
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": whole, "context": {"diagnostics": []}}),
        ),
    ] {
        let response = client.request(method, params);
        assert!(
            response.get("result").is_some(),
            "{method} failed: {response}"
        );
    }
}

#[test]
fn broken_documents_get_diagnostics_and_every_request_answers() {
    let mut client = Client::start("broken");
    let nested = format!(
        "schema lead {{ id: string }}\nwhen {}x = 1{} -> queue q\n",
        "(".repeat(500),
        ")".repeat(500)
    );
    let long_line = format!(
        "# {}\nqueue q\nwhen id = \"{}\" -> queue q\n",
        "é".repeat(100_000),
        "x".repeat(100_000)
    );
    let documents = [
        String::new(),
        "{".to_string(),
        "}}}} -> -> when when".to_string(),
        "schema lead { id: string intent: enum { low, } ".to_string(),
        "pool p { members a, strategy weighted(a= }\nwhen -> pool\ntest \"t\" { lead { id: } expect }".to_string(),
        "\u{0}\u{1}\u{FEFF}\"unterminated\n# comment 😀\nrule r: when".to_string(),
        nested,
        long_line,
        SESSION.replace('}', ""),
        SESSION.replace("->", ""),
    ];
    for (number, text) in documents.iter().enumerate() {
        let uri = client.open(&format!("broken-{number}.route"), text);
        let published = client.diagnostics(&uri);
        assert!(published["diagnostics"].is_array());
        if !text.is_empty() && number != 7 {
            assert!(
                !published["diagnostics"].as_array().unwrap().is_empty(),
                "document {number} has errors: {text:?}"
            );
        }
        ask_whole_document(&mut client, &uri);
        // Every position of the small documents, and a sample of the large ones.
        let lines: Vec<&str> = text.split('\n').collect();
        for (line_number, line) in lines.iter().enumerate().take(40) {
            let width = line.encode_utf16().count();
            let step = (width / 20).max(1);
            for character in (0..=width + 1).step_by(step) {
                ask_everything(&mut client, &uri, line_number as u32, character as u32);
            }
        }
    }
    client.shutdown();
}

#[test]
fn positions_past_the_end_and_unknown_documents_get_empty_answers() {
    let mut client = Client::start("ranges");
    let uri = client.open("policy.route", SESSION);
    client.diagnostics(&uri);
    for (line, character) in [(0, 100_000), (100_000, 0), (u32::MAX, u32::MAX), (25, 3)] {
        ask_everything(&mut client, &uri, line, character);
    }
    let unknown = client.uri("never-opened.route");
    for method in [
        "textDocument/hover",
        "textDocument/definition",
        "textDocument/completion",
    ] {
        let response = client.request(
            method,
            json!({"textDocument": {"uri": unknown}, "position": {"line": 0, "character": 0}}),
        );
        assert_eq!(response["result"], Value::Null, "{method}: {response}");
    }
    ask_whole_document(&mut client, &unknown);
    // Not a URI at all: a protocol error, not a crash.
    let response = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": "::not a uri::"}, "position": {"line": 0, "character": 0}}),
    );
    assert!(response.get("error").is_some(), "{response}");
    // An unknown command, and a known one with bad arguments.
    let response = client.request(
        "workspace/executeCommand",
        json!({"command": "nope", "arguments": []}),
    );
    assert!(
        response["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown command"),
        "{response}"
    );
    let response = client.request(
        "workspace/executeCommand",
        json!({"command": "switchboard.runTest", "arguments": [1, 2]}),
    );
    assert!(response.get("error").is_some(), "{response}");
    // Garbage on the wire is answered or ignored; the server keeps serving.
    client.send_raw(b"Content-Length: 5\r\n\r\n{bad}");
    let response = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 3, "character": 3}}),
    );
    assert!(
        response["result"]["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("intent: enum"),
        "{response}"
    );
    client.shutdown();
}

#[test]
fn requests_after_shutdown_are_refused() {
    let mut client = Client::start("shutdown");
    let uri = client.open("policy.route", SESSION);
    client.diagnostics(&uri);
    let response = client.request("shutdown", Value::Null);
    assert_eq!(response["result"], Value::Null);
    let response = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 3, "character": 3}}),
    );
    assert_eq!(response["error"]["code"], -32600, "{response}");
    client.notify("exit", Value::Null);
}

#[test]
fn a_burst_of_edits_ends_with_the_diagnostics_of_the_last_version() {
    let mut client = Client::start("burst");
    let uri = client.open("policy.route", SESSION);
    client.diagnostics(&uri);
    // Type a new rule one character at a time, as fast as the pipe takes it.
    let rule = "\nrule typo: when intnet = high -> pool seniro";
    let mut text = SESSION.to_string();
    for (number, ch) in rule.chars().enumerate() {
        text.push(ch);
        client.change(&uri, number as i64 + 2, &text);
    }
    let last = rule.chars().count() as i64 + 1;
    let published = client.diagnostics_for_version(&uri, last);
    let codes: Vec<&str> = published["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["unknown-field", "unknown-pool"], "{published}");
    // Requests see the last version.
    let hover = client.result(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 27, "character": 6}}),
    );
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("rule `typo`"),
        "{hover}"
    );
    client.shutdown();
}

#[test]
fn ranges_count_utf16_code_units_after_non_ascii_text() {
    let mut client = Client::start("utf16");
    // `é` is one UTF-16 unit (two bytes), `😀` two units (four bytes), `ж` one unit (two bytes).
    let text = SESSION.replace(
        "rule emea:   when region = emea -> queue review",
        "rule emea:   when region = emea -> queue review\nrule жé: when owner = \"😀\" and regoin = emea -> queue review",
    );
    let uri = client.open("policy.route", &text);
    let published = client.diagnostics(&uri);
    let typo = published["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "unknown-field")
        .cloned()
        .expect("a diagnostic for `regoin`");
    let (line, character) = position_of(&text, "regoin", "");
    assert_eq!(
        character,
        "rule жé: when owner = \"😀\" and ".encode_utf16().count() as u32
    );
    assert_eq!(
        typo["range"]["start"],
        json!({"line": line, "character": character})
    );
    assert_eq!(
        typo["range"]["end"],
        json!({"line": line, "character": character + 6})
    );
    // The rule's name is found from a UTF-16 position inside it.
    let hover = client.result(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": 7}}),
    );
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("rule `жé`"),
        "{hover}"
    );
    client.shutdown();
}

#[test]
fn editing_a_policy_rechecks_the_open_files_of_tests_that_use_it() {
    let mut client = Client::start("multifile");
    client.write_file("policy.route", SESSION);
    let tests = "use \"policy.route\"\n\ntest \"warm leads go to sdr\" {\n  lead { id: \"w\", intent: medium, fit: weak, region: amer, created_at: 2026-11-23T10:00:00Z }\n  expect pool sdr within 4h\n}\n";
    client.write_file("policy.test.route", tests);
    let policy_uri = client.open("policy.route", SESSION);
    let tests_uri = client.open("policy.test.route", tests);
    let first = client.diagnostics(&tests_uri);
    assert_eq!(first["diagnostics"], json!([]), "{first}");
    // Names in the file of tests resolve to the policy: definition jumps into it.
    let definition = client.result(
        "textDocument/definition",
        json!({"textDocument": {"uri": tests_uri}, "position": {"line": 4, "character": 15}}),
    );
    assert_eq!(definition["uri"], json!(policy_uri), "{definition}");
    // Rename the pool in the policy (unsaved): the file of tests now names a pool that is gone.
    let edited = SESSION
        .replace("pool sdr ", "pool inside_sales ")
        .replace("pool sdr\n", "pool inside_sales\n");
    client.change(&policy_uri, 2, &edited);
    let again = client.notification("textDocument/publishDiagnostics", |params| {
        params["uri"] == tests_uri && !params["diagnostics"].as_array().unwrap().is_empty()
    });
    let diagnostic = &again["diagnostics"][0];
    assert_eq!(diagnostic["code"], "unknown-pool", "{again}");
    assert!(diagnostic["message"].as_str().unwrap().contains("`sdr`"));
    // The code lens on the policy counts the test in the other file.
    client.change(&policy_uri, 3, SESSION);
    let lenses = client.result(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": policy_uri}}),
    );
    let warm = lenses
        .as_array()
        .unwrap()
        .iter()
        .find(|lens| lens["range"]["start"]["line"] == 18)
        .unwrap();
    assert_eq!(
        warm["command"]["title"], "1 test reaches this rule",
        "{lenses}"
    );
    client.shutdown();
}

#[test]
fn a_file_of_tests_opened_before_its_policy_exists_is_rechecked_when_the_policy_opens() {
    let mut client = Client::start("late-policy");
    let tests = "use \"policy.route\"\n\ntest \"warm leads go to sdr\" {\n  lead { id: \"w\", intent: medium, fit: weak, region: amer, created_at: 2026-11-23T10:00:00Z }\n  expect pool sdr within 4h\n}\n";
    client.write_file("policy.test.route", tests);
    let tests_uri = client.open("policy.test.route", tests);
    let first = client.diagnostics(&tests_uri);
    assert_eq!(first["diagnostics"][0]["code"], "missing-policy", "{first}");
    // The policy is written and opened: the file of tests is checked again, and passes.
    client.write_file("policy.route", SESSION);
    client.open("policy.route", SESSION);
    let again = client.notification("textDocument/publishDiagnostics", |params| {
        params["uri"] == tests_uri && params["diagnostics"].as_array().unwrap().is_empty()
    });
    assert_eq!(again["diagnostics"], json!([]));
    client.shutdown();
}

/// The command line and the server find the same files of tests for a policy, however the
/// `use` is written, and refuse the same ones (a path that leaves the project).
#[test]
fn the_command_line_and_the_server_find_the_same_files_of_tests() {
    let mut client = Client::start("same-files");
    let policy = "schema lead { id: string  intent: enum { low, medium, high }  created_at: time }\nqueue nurture\npool sdr { members anna, boris  strategy round_robin }\nrule warm: when intent = medium -> pool sdr within 4h\notherwise -> queue nurture\n";
    client.write_file("policy.route", policy);
    let test = |name: &str| {
        format!(
            "test \"{name}\" {{\n  lead {{ id: \"w\", intent: medium, created_at: 2026-11-23T10:00:00Z }}\n  expect pool sdr within 4h\n}}\n"
        )
    };
    client.write_file(
        "a.test.route",
        &format!("use \"policy.route\"\n\n{}", test("plain")),
    );
    client.write_file(
        "b.test.route",
        &format!("use \"./policy.route\"\n\n{}", test("dotted")),
    );
    client.write_file(
        "c.test.route",
        &format!(
            "use \"sub/../policy.route\"\n\n{}",
            test("through a folder")
        ),
    );
    std::fs::create_dir_all(client.workspace.join("sub")).unwrap();
    client.write_file(
        "sub/d.test.route",
        &format!("use \"../policy.route\"\n\n{}", test("from below")),
    );
    client.write_file(
        "e.test.route",
        &format!("use \"other.route\"\n\n{}", test("other")),
    );

    // The command line: `switchboard test policy.route` runs the tests of the files beside it.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["test", "policy.route", "--format", "json"])
        .current_dir(&client.workspace)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut files: Vec<&str> = report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|test| test["status"] == "pass")
        .map(|test| test["file"].as_str().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["a.test.route", "b.test.route", "c.test.route"],
        "{report}"
    );

    // The server: the lens on the rule `warm` counts the same three tests.
    let policy_uri = client.open("policy.route", policy);
    let lenses = client.result(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": policy_uri}}),
    );
    let warm = lenses
        .as_array()
        .unwrap()
        .iter()
        .find(|lens| lens["range"]["start"]["line"] == 3)
        .unwrap();
    assert_eq!(
        warm["command"]["title"], "3 tests reach this rule",
        "{lenses}"
    );
    client.shutdown();
}

/// A policy whose rules leave gaps, with a `test` block after them.
const GAPS_THEN_TESTS: &str = "schema lead {
  id: string
  intent: enum { low, medium, high }
  fit: enum { weak, strong }
}
queue a
rule r1: when intent = high and fit = strong -> queue a

test \"t\" {
  lead { id: \"x\", intent: high, fit: strong }
  expect queue a
}
";

#[test]
fn the_otherwise_fix_goes_after_the_last_rule_once_and_leaves_the_tests_whole() {
    let mut client = Client::start("otherwise-fix");
    let uri = client.open("policy.route", GAPS_THEN_TESTS);
    let diagnostics = client.diagnostics(&uri);
    let gaps = diagnostics["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "gap")
        .count();
    assert!(gaps > 1, "{diagnostics}");
    let whole = json!({"start": {"line": 0, "character": 0}, "end": {"line": 20, "character": 0}});
    let actions = client.result(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": whole, "context": {"diagnostics": []}}),
    );
    let otherwise: Vec<&Value> = actions
        .as_array()
        .unwrap()
        .iter()
        .filter(|action| action["title"] == "End the policy with `otherwise -> queue a`")
        .collect();
    assert_eq!(otherwise.len(), 1, "one fix for every gap: {actions}");
    let fixed = super::common::apply_edits(
        GAPS_THEN_TESTS,
        otherwise[0]["edit"]["changes"][&uri].as_array().unwrap(),
    );
    assert!(
        fixed.contains("-> queue a\notherwise -> queue a\n\ntest \"t\" {"),
        "{fixed}"
    );
    let report = switchboard::check_source(&fixed);
    assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
    client.shutdown();
}

#[test]
fn the_id_and_clock_fields_cannot_be_renamed() {
    let mut client = Client::start("rename-id");
    let text =
        "schema lead {\n  id: string\n  created_at: time\n}\nqueue a\notherwise -> queue a\n";
    let uri = client.open("policy.route", text);
    client.diagnostics(&uri);
    for (line, character, field) in [(1, 3, "id"), (2, 3, "created_at")] {
        let position = json!({"line": line, "character": character});
        let prepared = client.request(
            "textDocument/prepareRename",
            json!({"textDocument": {"uri": uri}, "position": position}),
        );
        assert_eq!(prepared["result"], Value::Null, "{prepared}");
        let renamed = client.request(
            "textDocument/rename",
            json!({"textDocument": {"uri": uri}, "position": position, "newName": "key"}),
        );
        let message = renamed["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(&format!("`{field}` is the lead's")),
            "{renamed}"
        );
    }
    client.shutdown();
}

#[test]
fn a_body_that_is_not_a_message_or_has_a_bad_id_is_answered_with_id_null() {
    let mut client = Client::start("null-id");
    for body in [
        "{bad}",
        r#"{"jsonrpc":"2.0","id":1.5,"method":"shutdown"}"#,
        r#"{"jsonrpc":"2.0","id":{},"method":"shutdown"}"#,
    ] {
        let response = client.request_raw(body, &Value::Null);
        assert_eq!(response["error"]["code"], -32600, "{body}: {response}");
    }
    client.shutdown();
}

#[test]
fn exit_without_shutdown_ends_with_code_1() {
    let mut client = Client::start("exit-1");
    client.notify("exit", Value::Null);
    assert_eq!(client.wait_for_exit().code(), Some(1));
}
