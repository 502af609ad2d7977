//! Every example in the documentation is checked: the docs are part of the feature.
//!
//! - ```route blocks (README.md, docs/*.md) are complete policies that check clean;
//! - ```route-fragment blocks are appended to the declarations of `examples/routing.route` and
//!   the result checks clean;
//! - in docs/diagnostics.md, the ```route block of the section `## `code`` produces that code,
//!   and a ```route-fixed block checks clean; every code has a section.
//!
//! A block's info string may carry the options `check` would get on the command line:
//! ```route warn=overlap``` or ```route node-budget=10```.
//!
//! Routing examples are checked by routing them. A block with `file=NAME` (```route file=x.route```,
//! ```json file=roster.json```, ```ndjson file=leads.ndjson```) defines a file for the blocks
//! after it in the same document; ```decisions policy=P leads=L [roster=R] [now=TIME] [explain]```
//! holds exactly the lines `switchboard route P --leads L --state :memory:` prints for them.
//! `examples/routing.route`, `examples/roster.json`, `examples/leads.ndjson` and
//! `examples/bad-leads.ndjson` are always defined.
//!
//! ```route-tests``` blocks are files of tests (`use "NAME"`): checked against the policy block
//! `file=NAME` above, and run (```route-tests expect-failure``` when the page shows a failure).
//! In docs/cookbook.md, the `switchboard ...` commands of the ```yaml``` CI snippets are run
//! (`switchboard diff` reads `$BASE:PATH` as `HEAD:PATH` there, and may exit with 1).
//!
//! ```diff-output old=A new=B [leads=L] [roster=R] [now=T] [format=F] [regions=N] [strict]
//! [from=WORD] [head=N] [exit=N]``` blocks (docs/diff.md, docs/cookbook.md) hold exactly what
//! `switchboard diff A B ...` prints in a folder holding the files defined above: all of it, or
//! from the first line that starts with WORD, or its first N lines; it exits with `exit`
//! (default 0).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

use std::path::Path;
use switchboard::render::{self, FileDiagnostics, Style};
use switchboard::{CheckConfig, CheckReport, Code};

struct Block {
    tag: String,
    /// `key=value` options after the tag.
    options: Vec<(String, String)>,
    text: String,
    line: usize,
    /// The nearest `## ` heading above the block.
    section: String,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
}

/// Fenced code blocks with their info string, first line and section.
fn blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut section = String::new();
    let mut open: Option<Block> = None;
    for (index, line) in markdown.lines().enumerate() {
        if let Some(block) = open.as_mut() {
            if line.trim_start().starts_with("```") {
                blocks.push(open.take().unwrap());
            } else {
                block.text.push_str(line);
                block.text.push('\n');
            }
            continue;
        }
        if let Some(heading) = line.strip_prefix("## ") {
            section = heading.trim().to_string();
        }
        if let Some(info) = line.trim_start().strip_prefix("```") {
            let mut words = info.split_whitespace();
            let tag = words.next().unwrap_or("").to_string();
            let options = words
                .map(|word| {
                    let (key, value) = word.split_once('=').unwrap_or((word, ""));
                    (key.to_string(), value.to_string())
                })
                .collect();
            open = Some(Block {
                tag,
                options,
                text: String::new(),
                line: index + 2,
                section: section.clone(),
            });
        }
    }
    assert!(open.is_none(), "unclosed code block");
    blocks
}

/// Checks a block's text with the options its info string gives.
fn check_block(block: &Block, text: &str) -> CheckReport {
    let mut config = CheckConfig::default();
    for (key, value) in &block.options {
        match key.as_str() {
            "warn" if value == "overlap" => config.analysis.overlaps = true,
            "warn" if value == "off-shift" => {
                config.coverage = switchboard::coverage::Coverage::Every;
            }
            "node-budget" => config.analysis.node_budget = value.parse().unwrap(),
            "file" | "expect-errors" | "expect-warning" | "formatted" => {}
            "expect-failure" => {}
            other => panic!("unknown option `{other}` on a code block"),
        }
    }
    switchboard::check_source_with(text, &config)
}

fn check_source(text: &str) -> CheckReport {
    switchboard::check_source(text)
}

fn render(path: &str, report: &CheckReport, text: &str) -> String {
    render::human(
        &FileDiagnostics {
            path,
            text,
            diagnostics: &report.diagnostics,
        },
        Style::Ascii,
    )
}

/// The schema, calendars, pools and queues of the example policy, as text.
fn example_declarations() -> String {
    let example = read("examples/routing.route");
    let report = check_source(&example);
    let file = &report.file;
    let mut spans: Vec<switchboard::Span> = Vec::new();
    spans.extend(file.schemas.iter().map(|s| s.span));
    spans.extend(file.calendars.iter().map(|c| c.span));
    spans.extend(file.pools.iter().map(|p| p.span));
    spans.extend(file.queues.iter().map(|q| q.span));
    spans.sort();
    spans
        .iter()
        .map(|span| format!("{}\n", &example[span.start..span.end]))
        .collect()
}

fn check_examples(path: &str) -> usize {
    let markdown = read(path);
    let prelude = example_declarations();
    let mut checked = 0;
    for block in blocks(&markdown) {
        let text = match block.tag.as_str() {
            "route" if block.options.iter().any(|(key, _)| key == "expect-errors") => continue,
            "route" => block.text.clone(),
            "route-fragment" => format!("{prelude}{}", block.text),
            _ => continue,
        };
        let report = check_block(&block, &text);
        // `expect-warning=CODE`: the block shows a warning on purpose, and only that one.
        let expected_warning = block
            .options
            .iter()
            .find(|(key, _)| key == "expect-warning")
            .map(|(_, code)| code.as_str());
        if let Some(code) = expected_warning {
            assert!(
                !report.diagnostics.is_empty()
                    && report
                        .diagnostics
                        .iter()
                        .all(|d| !d.is_error() && d.code.as_str() == code),
                "{path}:{} should warn `{code}` and nothing else:\n{}",
                block.line,
                render(&format!("{path}:{}", block.line), &report, &text)
            );
            checked += 1;
            continue;
        }
        assert!(
            report.diagnostics.is_empty(),
            "{path}:{} (a `{}` block) should check clean:\n{}",
            block.line,
            block.tag,
            render(&format!("{path}:{}", block.line), &report, &text)
        );
        // The tutorial's policies are what people copy: they are in the canonical layout.
        let canonical = path == "docs/tutorial.md" && block.tag == "route";
        if canonical || block.options.iter().any(|(key, _)| key == "formatted") {
            let formatted = switchboard::format::format(&block.text).unwrap();
            assert_eq!(
                formatted, block.text,
                "{path}:{}: the block is not as `switchboard fmt` writes it",
                block.line
            );
        }
        checked += 1;
    }
    checked
}

#[test]
fn readme_examples_check_clean() {
    assert!(check_examples("README.md") >= 1);
}

#[test]
fn language_reference_examples_check_clean() {
    assert!(check_examples("docs/language.md") >= 10);
}

#[test]
fn tutorial_testing_cookbook_and_routing_examples_check_clean() {
    for path in [
        "docs/tutorial.md",
        "docs/testing.md",
        "docs/cookbook.md",
        "docs/routing.md",
        "docs/graph.md",
        "docs/formatting.md",
        "docs/diff.md",
    ] {
        check_examples(path);
    }
    assert!(check_examples("docs/cookbook.md") >= 6);
    assert_eq!(check_examples("docs/formatting.md"), 2);
}

#[test]
fn every_diagnostic_code_is_documented_with_an_example_that_produces_it() {
    let path = "docs/diagnostics.md";
    let markdown = read(path);
    let mut documented = Vec::new();
    for block in blocks(&markdown) {
        let Some(code) = block
            .section
            .strip_prefix('`')
            .and_then(|rest| rest.strip_suffix('`'))
            .and_then(Code::from_name)
        else {
            continue;
        };
        match block.tag.as_str() {
            "route" if !switchboard::syntax::parse(&block.text).file.uses.is_empty() => {
                // A file of tests: checked against the example policy when it uses
                // `routing.route`, else its policy cannot be read.
                let used = switchboard::syntax::parse(&block.text).file.uses[0]
                    .value
                    .clone();
                let example = read("examples/routing.route");
                let policy = if used == "routing.route" {
                    Ok(example.as_str())
                } else {
                    Err("no such file or directory".to_string())
                };
                let (_, diagnostics) = switchboard::check::check_test_file(&block.text, policy);
                assert!(
                    diagnostics.iter().any(|d| d.code == code),
                    "{path}:{}: the example for `{code}` does not produce it: {diagnostics:?}",
                    block.line
                );
                documented.push(code);
            }
            "route" => {
                let report = check_block(&block, &block.text);
                assert!(
                    report.diagnostics.iter().any(|d| d.code == code),
                    "{path}:{}: the example for `{code}` does not produce it:\n{}",
                    block.line,
                    render(&format!("{path}:{}", block.line), &report, &block.text)
                );
                documented.push(code);
            }
            "roster" | "roster-fixed" => {
                // A roster, held against the example policy at a fixed routing time.
                let diagnostics = roster_findings(&block.text);
                if block.tag == "roster" {
                    assert!(
                        diagnostics.iter().any(|d| d.code == code),
                        "{path}:{}: the example for `{code}` does not produce it: {diagnostics:?}",
                        block.line
                    );
                    documented.push(code);
                } else {
                    assert!(
                        diagnostics.is_empty(),
                        "{path}:{}: the fixed roster for `{code}` is not clean: {diagnostics:?}",
                        block.line
                    );
                }
            }
            "route-fixed" => {
                let report = check_block(&block, &block.text);
                assert!(
                    report.diagnostics.is_empty(),
                    "{path}:{}: the fix for `{code}` does not check clean:\n{}",
                    block.line,
                    render(&format!("{path}:{}", block.line), &report, &block.text)
                );
            }
            _ => {}
        }
    }
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|code| !documented.contains(code))
        .map(|code| code.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "codes without an example in {path}: {missing:?}"
    );
}

/// Every ```mermaid block is the exact output of `switchboard graph --format mermaid` for the
/// nearest ```route block above it, or for `examples/routing.route` when there is none.
#[test]
fn mermaid_pictures_are_the_graph_command_output() {
    let mut checked = 0;
    for path in ["docs/graph.md", "docs/language.md"] {
        let markdown = read(path);
        let mut source = read("examples/routing.route");
        for block in blocks(&markdown) {
            match block.tag.as_str() {
                "route" => source = block.text.clone(),
                "mermaid" => {
                    let report = check_source(&source);
                    let (policy, compiled) = report.compiled.expect("the pictured policy compiles");
                    let switchboard::graph::Compiled::Graph { graph, .. } = compiled else {
                        panic!(
                            "{path}:{}: the pictured policy exceeds the node budget",
                            block.line
                        );
                    };
                    let drawn = switchboard::graph::render::render(
                        &policy,
                        &graph,
                        switchboard::graph::render::Format::Mermaid,
                    );
                    assert_eq!(
                        block.text, drawn,
                        "{path}:{}: regenerate with `switchboard graph ... --format mermaid`",
                        block.line
                    );
                    checked += 1;
                }
                _ => {}
            }
        }
    }
    assert!(checked >= 2);
}

/// Routes a ```decisions block's inputs the way `route --state :memory:` does.
fn route_decisions(
    files: &std::collections::BTreeMap<String, String>,
    block: &Block,
    path: &str,
) -> Vec<String> {
    use switchboard::route::reader::{Limits, Line, read_line};
    use switchboard::route::state::{MemoryState, StateStore};
    use switchboard::route::{RouteConfig, Router, roster::Roster};
    let option = |key: &str| {
        block
            .options
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let file = |key: &str| -> Option<String> {
        let name = option(key)?;
        Some(
            files
                .get(&name)
                .cloned()
                .unwrap_or_else(|| panic!("{path}:{}: no file `{name}` defined above", block.line)),
        )
    };
    let policy_text = file("policy")
        .unwrap_or_else(|| panic!("{path}:{}: `decisions` needs policy=", block.line));
    let leads =
        file("leads").unwrap_or_else(|| panic!("{path}:{}: `decisions` needs leads=", block.line));
    let report = check_source(&policy_text);
    assert_eq!(
        report.error_count(),
        0,
        "{path}:{}: the policy has errors",
        block.line
    );
    let (policy, compiled) = report.compiled.unwrap();
    let roster = file("roster").map(|text| Roster::from_json(&text).unwrap());
    let config = RouteConfig {
        now: option("now")
            .unwrap_or_else(|| "2026-11-23T10:00:00Z".to_string())
            .parse()
            .unwrap(),
        explain: block.options.iter().any(|(key, _)| key == "explain"),
        limits: Limits::default(),
    };
    let router = Router::new(&policy, &compiled, roster.as_ref(), config, &policy_text);
    let mut state = MemoryState::default();
    state.begin().unwrap();
    let mut input = leads.as_bytes();
    let mut out = Vec::new();
    let mut number = 0;
    while let Some(line) = read_line(&mut input, config.limits.max_line_bytes).unwrap() {
        number += 1;
        out.push(match line {
            Line::TooLong(length) => {
                switchboard::route::wire::outcome_json(&router.too_long(length), number)
            }
            Line::Text(bytes) => switchboard::route::wire::outcome_json(
                &router.route_line(&mut state, &bytes).unwrap(),
                number,
            ),
        });
    }
    out
}

#[test]
fn routing_examples_print_what_route_prints() {
    let mut checked = 0;
    for path in [
        "README.md",
        "docs/routing.md",
        "docs/tutorial.md",
        "docs/cookbook.md",
    ] {
        let Ok(markdown) =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        else {
            continue;
        };
        let mut files = std::collections::BTreeMap::new();
        for example in [
            "examples/routing.route",
            "examples/roster.json",
            "examples/leads.ndjson",
            "examples/bad-leads.ndjson",
        ] {
            files.insert(example.to_string(), read(example));
        }
        let mut replacements = Vec::new();
        for block in blocks(&markdown) {
            if let Some((_, name)) = block.options.iter().find(|(key, _)| key == "file") {
                files.insert(name.clone(), block.text.clone());
            }
            if block.tag == "decisions" {
                let expected: Vec<String> = block.text.lines().map(str::to_string).collect();
                let actual = route_decisions(&files, &block, path);
                if block.options.iter().any(|(key, _)| key == "explain") {
                    // Traces are long: the block shows one decision, pretty-printed.
                    let shown: serde_json::Value = serde_json::from_str(&block.text)
                        .unwrap_or_else(|error| panic!("{path}:{}: {error}", block.line));
                    let found = actual.iter().any(|line| {
                        serde_json::from_str::<serde_json::Value>(line).unwrap() == shown
                    });
                    assert!(
                        found,
                        "{path}:{}: no routed lead gives this decision; got:\n{}",
                        block.line,
                        actual.join("\n")
                    );
                } else if blessing() {
                    replacements.push((block.line, block.text.lines().count(), actual));
                } else {
                    assert_eq!(
                        expected, actual,
                        "{path}:{}: the block differs from what route prints",
                        block.line
                    );
                }
                checked += 1;
            }
        }
        bless(path, &markdown, replacements);
    }
    assert!(checked >= 1, "no decisions block was checked");
}

/// A message quoted in docs/diagnostics.md (``` ``…`` ```) is the message that the section's own
/// example produces, word for word.
#[test]
fn messages_quoted_in_the_diagnostics_page_are_the_messages_check_prints() {
    let path = "docs/diagnostics.md";
    let markdown = read(path);
    let examples = blocks(&markdown);
    // The page's prose, one section at a time, without its code blocks.
    let mut section = String::new();
    let mut prose: Vec<(String, usize, String)> = Vec::new();
    let mut in_block = false;
    for (index, line) in markdown.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            continue;
        }
        if let Some(heading) = line.strip_prefix("## ") {
            section = heading.trim().to_string();
        }
        prose.push((section.clone(), index + 1, line.to_string()));
    }
    let mut quoted = 0;
    let joined: Vec<String> = prose.iter().map(|(_, _, line)| line.clone()).collect();
    let text = joined.join("\n");
    let mut rest = text.as_str();
    while let Some(start) = rest.find("``") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("``") else { break };
        let quote = after[..end].trim().replace('\n', " ");
        let offset = text.len() - rest.len() + start;
        let line_index = text[..offset].matches('\n').count();
        let (section, line, _) = &prose[line_index];
        rest = &after[end + 2..];
        let messages: Vec<String> = examples
            .iter()
            .filter(|block| &block.section == section && block.tag == "route")
            .flat_map(|block| check_block(block, &block.text).diagnostics)
            .map(|diagnostic| diagnostic.message)
            .collect();
        assert!(
            messages.contains(&quote),
            "{path}:{line}: the quoted message is not what the section's example prints:\n  quoted: {quote}\n  printed: {messages:#?}"
        );
        quoted += 1;
    }
    assert!(quoted >= 8, "only {quoted} quoted messages found");
}

/// What `switchboard check examples/routing.route --roster R --now 2026-11-23T10:00:00Z` finds
/// in a roster's text.
fn roster_findings(text: &str) -> Vec<switchboard::Diagnostic> {
    let (file, mut diagnostics) = switchboard::route::roster::read::read_with_diagnostics(text);
    if let Some(file) = &file {
        let (policy, _) = check_source(&read("examples/routing.route"))
            .compiled
            .unwrap();
        let now = "2026-11-23T10:00:00Z".parse().unwrap();
        diagnostics.extend(switchboard::route::roster::check::check(file, &policy, now));
    }
    diagnostics
}

/// No page calls a command that exists "planned" or "not yet" available.
#[test]
fn no_page_calls_an_existing_command_planned() {
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|command| *command != "help")
        .collect();
    assert!(
        commands.contains(&"lsp") && commands.contains(&"explain"),
        "{commands:?}"
    );
    let mut pages = vec!["README.md".to_string()];
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if name.ends_with(".md") {
            pages.push(format!("docs/{name}"));
        }
    }
    for page in pages {
        for (index, line) in read(&page).lines().enumerate() {
            let lower = line.to_lowercase();
            if !(lower.contains("planned") || lower.contains("not yet")) {
                continue;
            }
            for command in &commands {
                assert!(
                    !line.contains(&format!("switchboard {command}")),
                    "{page}:{}: calls `switchboard {command}` planned, and it exists",
                    index + 1
                );
            }
        }
    }
}

/// `SWITCHBOARD_BLESS_DOCS=1 cargo test --test docs` rewrites the blocks that show program
/// output (```decisions```, ```console```) with what the program prints now; review the diff.
fn blessing() -> bool {
    std::env::var_os("SWITCHBOARD_BLESS_DOCS").is_some()
}

/// Replaces blocks' contents: (first line of the block's text, its line count, new lines).
fn bless(path: &str, markdown: &str, mut replacements: Vec<(usize, usize, Vec<String>)>) {
    if replacements.is_empty() {
        return;
    }
    let mut lines: Vec<String> = markdown.lines().map(str::to_string).collect();
    replacements.sort_by_key(|(line, _, _)| std::cmp::Reverse(*line));
    for (line, count, new) in replacements {
        let start = line - 1;
        lines.splice(start..start + count, new);
    }
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(Path::new(env!("CARGO_MANIFEST_DIR")).join(path), text).unwrap();
}

/// ```console``` blocks show commands (`$ switchboard …`) and what they print (stdout and
/// stderr together). Each block runs in a fresh folder holding a copy of `examples/` and the
/// files the page defined above it (`file=NAME` blocks); the commands of one block share it.
#[test]
fn console_blocks_print_what_the_commands_print() {
    let binary = Path::new(env!("CARGO_BIN_EXE_switchboard"));
    let path_var = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut checked = 0;
    for path in CONSOLE_PAGES {
        let markdown = read(path);
        let mut files = std::collections::BTreeMap::new();
        let mut replacements = Vec::new();
        for block in blocks(&markdown) {
            if let Some((_, name)) = block.options.iter().find(|(key, _)| key == "file") {
                files.insert(name.clone(), block.text.clone());
            }
            if block.tag != "console" {
                continue;
            }
            let dir = std::env::temp_dir().join(format!(
                "switchboard-docs-{}-{}-{}",
                std::process::id(),
                path.replace('/', "-"),
                block.line
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("examples")).unwrap();
            for entry in
                std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")).unwrap()
            {
                let entry = entry.unwrap();
                if entry.path().is_dir() {
                    continue; // examples/hooks: webhook mappings, read by no console block
                }
                std::fs::copy(entry.path(), dir.join("examples").join(entry.file_name())).unwrap();
            }
            for (name, text) in &files {
                std::fs::write(dir.join(name), text).unwrap();
            }
            let mut actual = Vec::new();
            for line in block.text.lines() {
                let Some(command) = line.strip_prefix("$ ") else {
                    continue;
                };
                actual.push(line.to_string());
                let output = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(format!("{{ {command}\n}} 2>&1"))
                    .current_dir(&dir)
                    .env("PATH", &path_var)
                    .env("NO_COLOR", "1")
                    .output()
                    .unwrap();
                actual.extend(
                    String::from_utf8_lossy(&output.stdout)
                        .lines()
                        .map(str::to_string),
                );
            }
            let expected: Vec<String> = block.text.lines().map(str::to_string).collect();
            if blessing() {
                replacements.push((block.line, expected.len(), actual));
            } else {
                assert_eq!(
                    expected.join("\n"),
                    actual.join("\n"),
                    "{path}:{}: the console block differs from what its commands print \
                     (SWITCHBOARD_BLESS_DOCS=1 rewrites it)",
                    block.line
                );
            }
            let _ = std::fs::remove_dir_all(&dir);
            checked += 1;
        }
        bless(path, &markdown, replacements);
    }
    assert!(checked >= 3, "only {checked} console blocks were checked");
}

/// The pages whose ```console``` blocks are run.
const CONSOLE_PAGES: [&str; 11] = [
    "README.md",
    "docs/simulate.md",
    "docs/security.md",
    "docs/routing.md",
    "docs/testing.md",
    "docs/tutorial.md",
    "docs/cookbook.md",
    "docs/diagnostics.md",
    "docs/language.md",
    "docs/diff.md",
    "docs/editors.md",
];

/// ```route-tests``` blocks are files of tests: they check clean against the policy they `use`,
/// which an earlier block defines with `file=NAME` (or one of the examples), and they pass.
#[test]
fn files_of_tests_in_the_docs_check_clean_and_pass() {
    for path in [
        "docs/language.md",
        "docs/tutorial.md",
        "docs/testing.md",
        "docs/cookbook.md",
    ] {
        let Ok(markdown) =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        else {
            continue;
        };
        let mut files = std::collections::BTreeMap::new();
        for example in ["examples/routing.route", "routing.route"] {
            files.insert(example.to_string(), read("examples/routing.route"));
        }
        for block in blocks(&markdown) {
            if let Some((_, name)) = block.options.iter().find(|(key, _)| key == "file") {
                files.insert(name.clone(), block.text.clone());
            }
            if block.tag != "route-tests" {
                continue;
            }
            let parsed = switchboard::syntax::parse(&block.text);
            let used = parsed.file.uses.first().unwrap_or_else(|| {
                panic!("{path}:{}: a route-tests block needs `use`", block.line)
            });
            let policy_text = files.get(&used.value).unwrap_or_else(|| {
                panic!(
                    "{path}:{}: no block above defines `{}`",
                    block.line, used.value
                )
            });
            let (tests, diagnostics) =
                switchboard::check::check_test_file(&block.text, Ok(policy_text));
            assert!(
                diagnostics.is_empty(),
                "{path}:{}: {diagnostics:?}",
                block.line
            );
            let report = check_source(policy_text);
            let (policy, compiled) = report.compiled.unwrap();
            for test in &tests.tests {
                let roster = match test.rosters.first() {
                    Some(switchboard::syntax::ast::RosterSpec::Inline(inline)) => Some(
                        switchboard::route::roster::Roster::from_inline(inline, &policy),
                    ),
                    Some(switchboard::syntax::ast::RosterSpec::File(file)) => {
                        let text = files
                            .get(&file.value)
                            .cloned()
                            .unwrap_or_else(|| read(&format!("examples/{}", file.value)));
                        Some(switchboard::route::roster::Roster::from_json(&text).unwrap())
                    }
                    None => None,
                };
                let result = switchboard::testing::run_test(
                    &policy,
                    &compiled,
                    policy_text,
                    test,
                    roster.as_ref(),
                );
                let expect_failure = block.options.iter().any(|(key, _)| key == "expect-failure");
                assert_eq!(
                    result.passed(),
                    !expect_failure,
                    "{path}:{}: test \"{}\": {:?}",
                    block.line,
                    result.name,
                    result.failures
                );
            }
        }
    }
}

/// The commands in the cookbook's CI workflow and pre-commit hook run, against the examples,
/// and succeed: every `run:` line of the workflow and every hook `entry:` that starts with
/// `switchboard ` (hooks get `examples/` appended, as pre-commit appends the changed files).
#[test]
fn ci_snippets_in_the_cookbook_run() {
    let Ok(markdown) =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cookbook.md"))
    else {
        return;
    };
    let mut commands: Vec<Vec<String>> = Vec::new();
    for block in blocks(&markdown) {
        if block.tag != "yaml" {
            continue;
        }
        let is_hook = block
            .options
            .iter()
            .any(|(key, value)| key == "file" && value.contains("pre-commit"));
        for line in block.text.lines() {
            let trimmed = line.trim().trim_start_matches("- ").trim();
            let command = trimmed
                .strip_prefix("run:")
                .or_else(|| trimmed.strip_prefix("entry:"))
                .map(str::trim)
                .unwrap_or(trimmed);
            if let Some(rest) = command.strip_prefix("switchboard ") {
                // `$BASE:PATH` (a pull request's base revision) is `HEAD:PATH` here.
                let mut words: Vec<String> = rest
                    .split_whitespace()
                    .map(|word| word.trim_matches('"').replace("$BASE:", "HEAD:"))
                    .collect();
                assert!(
                    !words
                        .iter()
                        .any(|w| w.contains('|') || w.contains('>') || w.contains('<')),
                    "docs/cookbook.md:{}: keep switchboard commands free of shell syntax: {command}",
                    block.line
                );
                if is_hook && trimmed.starts_with("entry:") {
                    words.push("examples/".to_string());
                }
                commands.push(words);
            }
        }
    }
    assert!(
        commands.len() >= 3,
        "expected the workflow and the hook to run switchboard: {commands:?}"
    );
    let in_git = std::process::Command::new("git")
        .args(["rev-parse", "--verify", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .is_ok_and(|output| output.status.success());
    for words in commands {
        let diff = words.first().is_some_and(|w| w == "diff");
        if diff && !in_git {
            continue; // not a git checkout: `HEAD:PATH` cannot be read
        }
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(&words)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        if diff {
            // 0: no change, 1: changes (the working tree may differ from HEAD); never an error.
            assert!(
                matches!(output.status.code(), Some(0 | 1)),
                "`switchboard {}` failed:\n{}",
                words.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
            assert!(
                String::from_utf8_lossy(&output.stdout).starts_with("### Routing policy diff\n"),
                "`switchboard {}` should print a Markdown comment",
                words.join(" ")
            );
            continue;
        }
        assert!(
            output.status.success(),
            "`switchboard {}` failed:\n{}{}",
            words.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// ```diff-output``` blocks are what `switchboard diff` prints for the files defined above them.
#[test]
fn diff_examples_print_what_diff_prints() {
    let mut checked = 0;
    for path in ["docs/diff.md", "docs/cookbook.md"] {
        let Ok(markdown) =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        else {
            continue;
        };
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/test-scratch/docs-diff")
            .join(format!(
                "{}-{}",
                path.replace(['/', '.'], "_"),
                std::process::id()
            ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut files = std::collections::BTreeMap::new();
        for example in [
            "examples/routing.route",
            "examples/roster.json",
            "examples/leads.ndjson",
        ] {
            files.insert(example.to_string(), read(example));
        }
        for block in blocks(&markdown) {
            if let Some((_, name)) = block.options.iter().find(|(key, _)| key == "file") {
                files.insert(name.clone(), block.text.clone());
            }
            if block.tag != "diff-output" {
                continue;
            }
            for (name, text) in &files {
                let target = dir.join(name);
                std::fs::create_dir_all(target.parent().unwrap()).unwrap();
                std::fs::write(target, text).unwrap();
            }
            let option = |key: &str| {
                block
                    .options
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
            };
            let required = |key: &str| {
                option(key)
                    .unwrap_or_else(|| panic!("{path}:{}: `diff-output` needs {key}=", block.line))
            };
            let mut args = vec!["diff".to_string(), required("old"), required("new")];
            for key in ["leads", "roster", "format", "regions"] {
                if let Some(value) = option(key) {
                    args.push(format!("--{key}"));
                    args.push(value);
                }
            }
            if option("leads").is_some() {
                args.push("--now".to_string());
                args.push(option("now").unwrap_or_else(|| "2026-11-23T10:00:00Z".to_string()));
            }
            if option("strict").is_some() {
                args.push("--strict".to_string());
            }
            let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
                .args(&args)
                .current_dir(&dir)
                .env("NO_COLOR", "1")
                .output()
                .unwrap();
            let stdout = String::from_utf8(output.stdout).unwrap();
            let expected_exit: i32 = option("exit").map_or(0, |e| e.parse().unwrap());
            assert_eq!(
                output.status.code(),
                Some(expected_exit),
                "{path}:{}: `switchboard {}`:\n{stdout}{}",
                block.line,
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
            let shown: String = if let Some(word) = option("from") {
                let start = stdout
                    .lines()
                    .position(|line| line.starts_with(&word))
                    .unwrap_or_else(|| {
                        panic!(
                            "{path}:{}: no line starts with `{word}`:\n{stdout}",
                            block.line
                        )
                    });
                stdout
                    .lines()
                    .skip(start)
                    .map(|l| format!("{l}\n"))
                    .collect()
            } else if let Some(count) = option("head") {
                let count: usize = count.parse().unwrap();
                stdout
                    .lines()
                    .take(count)
                    .map(|l| format!("{l}\n"))
                    .collect()
            } else {
                stdout.clone()
            };
            assert_eq!(
                block.text,
                shown,
                "{path}:{}: the block differs from what `switchboard {}` prints",
                block.line,
                args.join(" ")
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 5,
        "only {checked} diff-output blocks were checked"
    );
}
