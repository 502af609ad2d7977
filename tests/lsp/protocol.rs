//! The language server over the protocol: the real binary, spoken to as an editor would, with
//! every response checked (insta snapshots, reviewed) or asserted.

use super::common::{self, Client, apply_edits, position_of};
use serde_json::{Value, json};

const SESSION: &str = include_str!("fixtures/session.route");

fn at(uri: &str, text: &str, needle: &str, after: &str) -> Value {
    let (line, character) = position_of(text, needle, after);
    json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
}

/// Just after `needle` (where a cursor stands when completing after it).
fn after(uri: &str, text: &str, needle: &str) -> Value {
    let (line, character) = position_of(text, needle, "");
    let width = needle.encode_utf16().count() as u32;
    json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character + width}})
}

fn labels(completion: &Value) -> Vec<String> {
    let items = completion
        .as_array()
        .or_else(|| completion["items"].as_array());
    items
        .map(|items| {
            items
                .iter()
                .map(|i| i["label"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn acceptance_a_typo_is_reported_at_its_range_and_the_quick_fix_corrects_it() {
    let mut client = Client::start("typo");
    let text = SESSION.replace("rule warm:   when intent in", "rule warm:   when intnet in");
    let uri = client.open("policy.route", &text);
    let published = client.diagnostics(&uri);
    let diagnostics = published["diagnostics"].as_array().unwrap();
    let typo = diagnostics
        .iter()
        .find(|d| d["code"] == "unknown-field")
        .expect("an unknown-field diagnostic");
    let (line, column) = position_of(&text, "intnet", "");
    assert_eq!(
        typo["range"],
        json!({"start": {"line": line, "character": column}, "end": {"line": line, "character": column + 6}})
    );
    assert_eq!(typo["severity"], 1);
    assert!(
        typo["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `intent`?")
    );

    let actions = client.result(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": typo["range"], "context": {"diagnostics": [typo]}}),
    );
    let fix = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "Change `intnet` to `intent`")
        .expect("a quick fix for the typo");
    assert_eq!(fix["kind"], "quickfix");
    let edits = &fix["edit"]["changes"][&uri];
    let fixed = apply_edits(&text, edits.as_array().unwrap());
    assert_eq!(fixed, SESSION);

    client.change(&uri, 2, &fixed);
    let after_fix = client.diagnostics_for_version(&uri, 2);
    assert!(
        !after_fix["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["code"] == "unknown-field"),
        "{after_fix}"
    );
    client.shutdown();
}

#[test]
fn acceptance_completion_after_intent_equals_offers_exactly_its_variants() {
    let mut client = Client::start("variants");
    let text = format!("{SESSION}\nwhen intent = ");
    let uri = client.open("policy.route", &text);
    let lines = text.lines().count() as u32;
    let column = "when intent = ".len() as u32;
    let result = client.result(
        "textDocument/completion",
        json!({"textDocument": {"uri": uri}, "position": {"line": lines - 1, "character": column}}),
    );
    assert_eq!(labels(&result), ["low", "medium", "high"]);
    client.shutdown();
}

#[test]
fn acceptance_renaming_pool_senior_renames_every_use_in_the_policy_and_its_tests() {
    let mut client = Client::start("rename");
    let policy = std::fs::read_to_string(common::examples().join("routing.route")).unwrap();
    let tests = std::fs::read_to_string(common::examples().join("routing.test.route")).unwrap();
    client.write_file("routing.route", &policy);
    client.write_file("routing.test.route", &tests);
    client.write_file(
        "roster.json",
        &std::fs::read_to_string(common::examples().join("roster.json")).unwrap(),
    );
    // A second file of tests, closed, whose expectations name the pool.
    let extra = "use \"routing.route\"\n\ntest \"senior takes hot leads\" {\n  lead { id: \"x\", intent: high, fit: strong, region: emea, country: \"DE\", employees: 50,\n         deal_value: 1000, source: demo_request, created_at: 2026-11-23T10:00:00Z }\n  expect pool senior escalate backup after 30m\n}\n";
    client.write_file("extra.test.route", extra);
    let policy_uri = client.open("routing.route", &policy);
    client.diagnostics(&policy_uri);
    // The file of tests is not open: the server finds it beside the policy.
    let prepared = client.result(
        "textDocument/prepareRename",
        at(&policy_uri, &policy, "senior", "pool senior"),
    );
    assert_eq!(prepared["placeholder"], "senior");
    let mut params = at(&policy_uri, &policy, "senior", "pool senior");
    params["newName"] = json!("principal");
    let edit = client.result("textDocument/rename", params);
    let changes = edit["changes"].as_object().unwrap();
    let extra_uri = client.uri("extra.test.route");
    let mut files: Vec<&String> = changes.keys().collect();
    files.sort();
    assert_eq!(
        files,
        [&extra_uri, &policy_uri],
        "edits in the policy and in the file of tests that names the pool (routing.test.route names it only in test titles)"
    );
    let renamed_policy = apply_edits(&policy, changes[&policy_uri].as_array().unwrap());
    let renamed_extra = apply_edits(extra, changes[&extra_uri].as_array().unwrap());
    // Every use is renamed; comments and strings (test titles) are not.
    assert_eq!(renamed_policy, rename_code(&policy, "senior", "principal"));
    assert_eq!(renamed_extra, rename_code(extra, "senior", "principal"));
    assert_eq!(rename_code(&tests, "senior", "principal"), tests);
    // The renamed policy still checks clean and its tests still pass.
    let report = switchboard::check_source(&renamed_policy);
    assert_eq!(report.error_count(), 0, "{:?}", report.diagnostics);
    for tests in [&tests, &renamed_extra] {
        let (_, diagnostics) = switchboard::check::check_test_file(tests, Ok(&renamed_policy));
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
    }

    // A name that is taken, or a keyword, is refused with a reason.
    let mut taken = at(&policy_uri, &policy, "senior", "pool senior");
    taken["newName"] = json!("sdr");
    let refused = client.request("textDocument/rename", taken);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already"),
        "{refused}"
    );
    let mut keyword = at(&policy_uri, &policy, "senior", "pool senior");
    keyword["newName"] = json!("when");
    let refused = client.request("textDocument/rename", keyword);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("keyword"),
        "{refused}"
    );
    // A keyword that is not reserved is a name like any other (`pool shift`, `pool tag`).
    for word in ["shift", "tag", "previous"] {
        let mut allowed = at(&policy_uri, &policy, "senior", "pool senior");
        allowed["newName"] = json!(word);
        let answer = client.request("textDocument/rename", allowed);
        assert!(answer["error"].is_null(), "{word}: {answer}");
        let renamed = rename_code(&policy, "senior", word);
        let report = switchboard::check_source(&renamed);
        assert_eq!(report.error_count(), 0, "{word}: {:?}", report.diagnostics);
    }
    client.shutdown();
}

/// The word `old` replaced by `new` everywhere but in comments and strings: what a rename of a
/// name must do.
fn rename_code(text: &str, old: &str, new: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let (mut in_string, mut in_comment, mut escaped) = (false, false, false);
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(if word == old { new } else { word.as_str() });
        word.clear();
    };
    for ch in text.chars() {
        let code = !in_string && !in_comment;
        if code && (ch.is_alphanumeric() || ch == '_') {
            word.push(ch);
            continue;
        }
        flush(&mut word, &mut out);
        match ch {
            '\n' => in_comment = false,
            '#' if !in_string => in_comment = true,
            '"' if !in_comment && !escaped => in_string = !in_string,
            _ => {}
        }
        escaped = in_string && ch == '\\' && !escaped;
        out.push(ch);
    }
    flush(&mut word, &mut out);
    out
}

/// Decodes semantic tokens into readable (line, column, text, type) rows.
fn decode_tokens(text: &str, data: &[Value], legend: &[Value]) -> Vec<String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let (mut line, mut start) = (0u64, 0u64);
    let mut rows = Vec::new();
    for chunk in data.chunks(5) {
        let delta_line = chunk[0].as_u64().unwrap();
        let delta_start = chunk[1].as_u64().unwrap();
        line += delta_line;
        start = if delta_line == 0 {
            start + delta_start
        } else {
            delta_start
        };
        let length = chunk[2].as_u64().unwrap() as usize;
        let units: Vec<u16> = lines[line as usize].encode_utf16().collect();
        let word = String::from_utf16_lossy(&units[start as usize..start as usize + length]);
        let kind = legend[chunk[3].as_u64().unwrap() as usize]
            .as_str()
            .unwrap();
        let declaration = if chunk[4].as_u64().unwrap() & 1 == 1 {
            " (declaration)"
        } else {
            ""
        };
        rows.push(format!(
            "{}:{} {word} {kind}{declaration}",
            line + 1,
            start + 1
        ));
    }
    rows
}

#[test]
fn a_whole_session_answers_every_feature() {
    let mut client = Client::start("session");
    let uri = client.open("policy.route", SESSION);
    let diagnostics = client.diagnostics(&uri);
    insta::assert_json_snapshot!("session_diagnostics", client.normalize(&diagnostics));

    let mut completions = serde_json::Map::new();
    for (name, needle) in [
        ("after `when`", "rule emea:   when "),
        ("after `intent =`", "when intent = "),
        ("after `->`", "rule emea:   when region = emea -> "),
        ("after `-> pool`", "-> pool "),
        ("after `rep`", "-> rep "),
        ("after `strategy`", "strategy "),
        ("after `within`", "-> pool sdr within "),
        ("after `escalate`", "escalate "),
        ("after `members`", "pool sdr    { members "),
        ("after `expect`", "  expect "),
    ] {
        let result = client.result("textDocument/completion", after(&uri, SESSION, needle));
        completions.insert(name.to_string(), json!(labels(&result)));
    }
    insta::assert_json_snapshot!("session_completions", completions);

    let mut hovers = serde_json::Map::new();
    for (name, needle, context) in [
        ("field intent", "intent", "rule hot:"),
        ("variant high", "high", "rule hot:"),
        ("pool senior", "senior", "rule hot:"),
        ("pool sdr", "sdr", "pool sdr"),
        ("calendar berlin", "berlin", "calendar berlin"),
        ("rule hot", "hot", "rule hot"),
        ("shadowed rule late", "late", "rule late"),
        ("rep anna", "anna", "members anna"),
    ] {
        let result = client.result("textDocument/hover", at(&uri, SESSION, needle, context));
        hovers.insert(name.to_string(), result["contents"]["value"].clone());
    }
    insta::assert_json_snapshot!("session_hovers", hovers);

    let definition = client.result(
        "textDocument/definition",
        at(&uri, SESSION, "senior", "rule hot"),
    );
    insta::assert_json_snapshot!(
        "session_definition_of_senior",
        client.normalize(&definition)
    );
    let mut references = at(&uri, SESSION, "sdr", "rule warm");
    references["context"] = json!({"includeDeclaration": true});
    let references = client.result("textDocument/references", references);
    insta::assert_json_snapshot!("session_references_of_sdr", client.normalize(&references));

    let mut rename = at(&uri, SESSION, "review", "queue review");
    rename["newName"] = json!("ops_review");
    let rename = client.result("textDocument/rename", rename);
    let renamed = apply_edits(SESSION, rename["changes"][&uri].as_array().unwrap());
    insta::assert_snapshot!("session_renamed_review", renamed);

    let formatting = client.result(
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    let formatted = apply_edits(SESSION, formatting.as_array().unwrap());
    assert_eq!(formatted, switchboard::format::format(SESSION).unwrap());
    insta::assert_snapshot!("session_formatted", formatted);

    let whole = json!({"start": {"line": 0, "character": 0}, "end": {"line": 200, "character": 0}});
    let actions = client.result(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": whole, "context": {"diagnostics": []}}),
    );
    let titles: Vec<&str> = actions
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    insta::assert_json_snapshot!("session_code_action_titles", titles);
    for action in actions.as_array().unwrap() {
        let fixed = apply_edits(SESSION, action["edit"]["changes"][&uri].as_array().unwrap());
        let report = switchboard::check_source(&fixed);
        let code = action["diagnostics"][0]["code"].as_str().unwrap();
        assert!(
            !report.diagnostics.iter().any(|d| d.code.as_str() == code),
            "`{}` did not fix {code}: {:?}",
            action["title"],
            report.diagnostics
        );
    }

    let tokens = client.result(
        "textDocument/semanticTokens/full",
        json!({"textDocument": {"uri": uri}}),
    );
    let legend = client.capabilities["semanticTokensProvider"]["legend"]["tokenTypes"]
        .as_array()
        .unwrap()
        .clone();
    let rows = decode_tokens(SESSION, tokens["data"].as_array().unwrap(), &legend);
    insta::assert_json_snapshot!("session_semantic_tokens", rows);

    let hints = client.result(
        "textDocument/inlayHint",
        json!({"textDocument": {"uri": uri}, "range": whole}),
    );
    insta::assert_json_snapshot!("session_inlay_hints", hints);
    let lenses = client.result(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": uri}}),
    );
    insta::assert_json_snapshot!("session_code_lenses", client.normalize(&lenses));
    let symbols = client.result(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri}}),
    );
    let outline: Vec<String> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} [{}] {}",
                s["name"].as_str().unwrap(),
                s["kind"],
                s["detail"].as_str().unwrap_or("")
            )
        })
        .collect();
    insta::assert_json_snapshot!("session_outline", outline);

    let run = client.result(
        "workspace/executeCommand",
        json!({"command": "switchboard.runTest", "arguments": [uri, "hot lead goes to senior"]}),
    );
    assert_eq!(run["passed"], true, "{run}");
    let message = client.notification("window/showMessage", |_| true);
    assert_eq!(
        message["message"],
        "test \"hot lead goes to senior\" passed"
    );
    client.shutdown();
}

#[test]
fn the_team_words_are_completed_highlighted_and_explained() {
    let mut client = Client::start("team");
    let text = "schema lead { id: string  email: string?  created_at: time }\n\
                calendar nsk { timezone Asia/Novosibirsk  hours mon-fri 09:00-18:00 }\n\
                rep igor { calendar nsk  cap 3 per day }\n\
                pool national { members olga, igor  cap 5 per day  on shift\n  \n}\n\
                rule returning: when email is set -> previous rep of email since 90d else pool national\n\
                otherwise -> pool national escalate national after 2h\n";
    let uri = client.open("team.route", text);
    let published = client.diagnostics(&uri);
    assert_eq!(published["diagnostics"], json!([]), "{published}");
    // A new clause line in a pool offers the clauses it does not have yet: the cap of open
    // leads, another period's cap and a calendar; not `members` or `on shift` again.
    let (line, _) = position_of(text, "  \n}", "");
    let pool_clauses = client.result(
        "textDocument/completion",
        json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": 2}}),
    );
    let offered = labels(&pool_clauses);
    for label in ["cap", "cap per", "calendar", "strategy"] {
        assert!(
            offered.iter().any(|l| l == label),
            "{label} not in {offered:?}"
        );
    }
    for label in ["members", "on shift"] {
        assert!(
            !offered.iter().any(|l| l == label),
            "{label} offered again: {offered:?}"
        );
    }
    // Hover on the pool says what its caps and `on shift` mean.
    let hover = client.result(
        "textDocument/hover",
        at(&uri, text, "national", "pool national"),
    );
    let shown = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(shown.contains("5 new leads per rep per day"), "{shown}");
    assert!(shown.contains("on shift"), "{shown}");
    // Hover on a rep item shows it, and what its calendar and caps do in every pool.
    let hover = client.result("textDocument/hover", at(&uri, text, "igor", "rep igor"));
    let shown = hover["contents"]["value"].as_str().unwrap_or_default();
    assert_eq!(
        shown,
        "**rep `igor`**\n\nMember of `national`.\n\n```switchboard\nrep igor { calendar nsk  cap \
         3 per day }\n```\n\nWorks the hours of calendar `nsk` in every pool: it decides when \
         they are on shift and runs the SLA clock of their leads.\n\nTakes at most 3 new leads \
         per day in any pool, in place of the pool's cap of the same kind."
    );
    // Renaming igor renames the rep item and the pool's member; the rep item's calendar is a
    // reference to the calendar.
    let mut params = at(&uri, text, "igor", "rep igor");
    params["newName"] = json!("ivan");
    let edit = client.result("textDocument/rename", params);
    let renamed = apply_edits(text, edit["changes"][&uri].as_array().unwrap());
    assert!(renamed.contains("rep ivan { calendar nsk"), "{renamed}");
    assert!(renamed.contains("members olga, ivan"), "{renamed}");
    assert!(!renamed.contains("igor"), "{renamed}");
    let mut params = at(&uri, text, "nsk", "calendar nsk  cap");
    params["newName"] = json!("novosibirsk");
    let edit = client.result("textDocument/rename", params);
    let renamed = apply_edits(text, edit["changes"][&uri].as_array().unwrap());
    assert!(renamed.contains("calendar novosibirsk {"), "{renamed}");
    assert!(
        renamed.contains("rep igor { calendar novosibirsk"),
        "{renamed}"
    );
    client.shutdown();
}

/// Coverage in time reaches the editor: a weekday-only `on shift` pool with no weekend rule is
/// warned at the rule's name, with the gap and an example lead's wait; `inside berlin` on the
/// rule removes the warning.
#[test]
fn hours_with_nobody_on_shift_are_warned_in_the_editor() {
    let mut client = Client::start("off-shift");
    let text = "schema lead { id: string  intent: enum { low, high }  created_at: time }\n\
                calendar berlin { timezone Europe/Berlin  hours mon-fri 09:00-18:00 }\n\
                pool senior { members anna, boris  calendar berlin  on shift }\n\
                queue nurture\n\
                rule hot: when intent = high -> pool senior within 15m\n\
                otherwise -> queue nurture\n";
    let uri = client.open("shift.route", text);
    let published = client.diagnostics(&uri);
    let diagnostics = published["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 1, "{published}");
    let gap = &diagnostics[0];
    assert_eq!(gap["code"], "off-shift-gap");
    assert_eq!(gap["severity"], 2, "a warning");
    assert_eq!(
        gap["message"].as_str().unwrap(),
        "rule `hot` -> pool senior: nobody on shift Fri 18:00 - Mon 09:00 Europe/Berlin; \
         a lead at Sat 10:00 waits 47h\nhelp: add `else` with a pool or queue that takes leads \
         then, or a weekend pool; or limit the rule to working time with `inside CALENDAR`"
    );
    let (line, column) = position_of(text, "hot:", "");
    assert_eq!(
        gap["range"],
        json!({"start": {"line": line, "character": column}, "end": {"line": line, "character": column + 3}})
    );
    let limited = text.replace(
        "when intent = high ->",
        "when intent = high and inside berlin ->",
    );
    client.change(&uri, 2, &limited);
    let after = client.diagnostics_for_version(&uri, 2);
    assert_eq!(after["diagnostics"], json!([]), "{after}");
    client.shutdown();
}

/// Scores and tags in the editor: completion offers the score in a condition and the declared
/// tags after `tag`, hover shows a score's lines and range, renaming a score or a tag renames
/// every use (conditions, tests), and an unknown tag is an error with a did-you-mean.
#[test]
fn scores_and_tags_are_completed_explained_and_renamed() {
    let mut client = Client::start("scores");
    let text = "schema lead { id: string  employees: int  icp: bool }\n\
                pool senior { members anna }\n\
                queue nurture\n\
                score fit_score {\n  +30 when employees >= 500\n  +25 when icp = true\n}\n\
                tags { call, sms }\n\
                rule hot: when fit_score >= 50 -> pool senior tag call\n\
                otherwise -> queue nurture tag sms\n\
                test \"big ICP accounts are hot\" {\n  lead { id: \"t1\", employees: 800, icp: true }\n  expect pool senior score fit_score 55 tag call\n}\n";
    let uri = client.open("scores.route", text);
    let published = client.diagnostics(&uri);
    assert_eq!(published["diagnostics"], json!([]), "{published}");
    // A condition offers the score beside the fields; after `fit_score`, the comparisons.
    let offered = labels(&client.result(
        "textDocument/completion",
        after(&uri, text, "rule hot: when "),
    ));
    for label in ["fit_score", "employees", "icp"] {
        assert!(
            offered.iter().any(|l| l == label),
            "{label} not in {offered:?}"
        );
    }
    // A score's line reads fields only: no score is offered there.
    let in_line = labels(&client.result("textDocument/completion", after(&uri, text, "+30 when ")));
    assert!(in_line.iter().any(|l| l == "employees"), "{in_line:?}");
    assert!(!in_line.iter().any(|l| l == "fit_score"), "{in_line:?}");
    let operators = labels(&client.result(
        "textDocument/completion",
        after(&uri, text, "when fit_score "),
    ));
    assert!(operators.iter().any(|l| l == ">="), "{operators:?}");
    // After `tag`, the declared tags.
    let tags = labels(&client.result(
        "textDocument/completion",
        after(&uri, text, "pool senior tag "),
    ));
    assert_eq!(tags, vec!["call", "sms"]);
    // Hover on a use of the score shows its lines, its range and the rules that read it.
    let hover = client.result(
        "textDocument/hover",
        at(&uri, text, "fit_score", "when fit_score"),
    );
    let shown = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(
        shown.contains("+30 when employees >= 500\n+25 when icp = true"),
        "{shown}"
    );
    assert!(shown.contains("Between 0 and 55."), "{shown}");
    assert!(shown.contains("Read by `hot`."), "{shown}");
    // Renaming the score renames its declaration, the rule's condition and the test.
    let mut params = at(&uri, text, "fit_score", "when fit_score");
    params["newName"] = json!("fit");
    let edit = client.result("textDocument/rename", params);
    let renamed = apply_edits(text, edit["changes"][&uri].as_array().unwrap());
    assert!(renamed.contains("score fit {"), "{renamed}");
    assert!(renamed.contains("when fit >= 50"), "{renamed}");
    assert!(renamed.contains("score fit 55"), "{renamed}");
    assert!(!renamed.contains("fit_score"), "{renamed}");
    // A score may not take a field's name.
    let mut params = at(&uri, text, "fit_score", "when fit_score");
    params["newName"] = json!("employees");
    let refused = client.request("textDocument/rename", params);
    assert!(refused["error"].is_object(), "{refused}");
    // Renaming a tag renames the declaration, the rules and the expectation.
    let mut params = at(&uri, text, "call", "tags { call");
    params["newName"] = json!("phone");
    let edit = client.result("textDocument/rename", params);
    let renamed = apply_edits(text, edit["changes"][&uri].as_array().unwrap());
    assert!(renamed.contains("tags { phone, sms }"), "{renamed}");
    assert!(renamed.contains("pool senior tag phone"), "{renamed}");
    assert!(renamed.contains("tag phone\n}"), "{renamed}");
    // A misspelt tag: an error at the tag, with the right one suggested.
    let misspelt = text.replace("queue nurture tag sms", "queue nurture tag smss");
    client.change(&uri, 2, &misspelt);
    let after_change = client.diagnostics_for_version(&uri, 2);
    let diagnostics = after_change["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 1, "{after_change}");
    assert_eq!(diagnostics[0]["code"], "unknown-tag");
    assert!(
        diagnostics[0]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `sms`?"),
        "{after_change}"
    );
    client.shutdown();
}

/// The Wave 2 words complete where they fit: `previous rep of FIELD since D` step by step (the
/// string fields after `of`, `since` after the field, fixed look-backs after `since`), the
/// clauses of a `rep NAME { }` item and the calendars after its `calendar`, `per` and its
/// periods after a cap, `shift` after `on`, and `rep` among the items a line may begin.
#[test]
fn wave_2_words_complete_in_their_places() {
    let base = "schema lead { id: string  email: string?  employees: int  created_at: time }\n\
                calendar msk { timezone Europe/Moscow  hours mon-fri 09:00-18:00 }\n\
                rep olga { calendar msk }\n\
                pool national { members olga, igor  on shift }\n\
                queue nurture\n";
    let mut client = Client::start("wave-2-completion");
    let uri = client.open("policy.route", base);
    client.diagnostics(&uri);
    let mut completions = serde_json::Map::new();
    for (version, line) in [
        "rule z: when employees = 7 -> previous ",
        "rule z: when employees = 7 -> previous rep ",
        "rule z: when employees = 7 -> previous rep of ",
        "rule z: when employees = 7 -> previous rep of email ",
        "rule z: when employees = 7 -> previous rep of email since ",
        "rule z: when employees = 7 -> previous rep of email since 30d ",
        "rep igor { ",
        "rep igor { calendar ",
        "rep igor { cap 3 ",
        "rep igor { cap 3 per ",
        "pool p { members olga  cap 3 ",
        "pool p { members olga  on ",
        "",
    ]
    .into_iter()
    .enumerate()
    {
        let text = format!("{base}{line}\notherwise -> queue nurture\n");
        client.change(&uri, version as i64 + 2, &text);
        // At the end of the line typed, the sixth of the text.
        let position = json!({
            "textDocument": {"uri": uri},
            "position": {"line": 5, "character": line.len()},
        });
        let result = client.result("textDocument/completion", position);
        completions.insert(format!("{line:?}"), json!(labels(&result)));
    }
    insta::assert_json_snapshot!("wave_2_completions", completions);
}

/// The Wave 2 items in the other features: the outline lists rep items, scores and the tags
/// (each tag under them), `day` after `per` is colored as a keyword, and formatting a CRLF
/// document keeps its CRLF line ends, as `switchboard fmt` does.
#[test]
fn wave_2_items_reach_the_outline_tokens_and_formatting() {
    let text = "schema lead { id: string  employees: int  created_at: time }\r\n\
                calendar msk { timezone Europe/Moscow  hours mon-fri 09:00-18:00 }\r\n\
                rep olga { calendar msk  cap 3 per day }\r\n\
                pool national { members olga, igor  on shift }\r\n\
                tags { sms, call }\r\n\
                score fit {\r\n  +30 when employees >= 500\r\n}\r\n\
                rule big: when fit >= 30 -> pool national tag sms\r\n\
                otherwise -> pool national\r\n";
    let mut client = Client::start("wave-2-features");
    let uri = client.open("policy.route", text);
    let diagnostics = client.diagnostics(&uri);
    assert_eq!(diagnostics["diagnostics"], json!([]), "{diagnostics}");

    let symbols = client.result(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri}}),
    );
    let outline: Vec<String> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let children: Vec<&str> = s["children"]
                .as_array()
                .map(|c| c.iter().map(|c| c["name"].as_str().unwrap()).collect())
                .unwrap_or_default();
            format!(
                "{} [{}] {} {children:?}",
                s["name"].as_str().unwrap(),
                s["kind"],
                s["detail"].as_str().unwrap_or(""),
            )
        })
        .collect();
    insta::assert_json_snapshot!("wave_2_outline", outline);

    let tokens = client.result(
        "textDocument/semanticTokens/full",
        json!({"textDocument": {"uri": uri}}),
    );
    let legend = client.capabilities["semanticTokensProvider"]["legend"]["tokenTypes"]
        .as_array()
        .unwrap()
        .clone();
    let rows = decode_tokens(text, tokens["data"].as_array().unwrap(), &legend);
    let day = rows
        .iter()
        .find(|row| row.contains(" day "))
        .unwrap_or_else(|| panic!("`day` has a token: {rows:?}"));
    assert!(day.contains("keyword"), "{day}");

    // A field only a score reads says so (rules read it through the score).
    let hover = client.result(
        "textDocument/hover",
        at(&uri, text, "employees", "schema lead"),
    );
    let shown = hover["contents"]["value"].as_str().unwrap();
    assert!(shown.contains("Read by the score `fit`."), "{shown}");

    let formatting = client.result(
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    let formatted = apply_edits(text, formatting.as_array().unwrap());
    assert!(formatted.contains("\r\n"), "{formatted:?}");
    assert!(
        !formatted.replace("\r\n", "").contains('\n'),
        "every line ends in CRLF: {formatted:?}"
    );
    client.shutdown();
}
