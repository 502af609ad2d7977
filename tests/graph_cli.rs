//! `switchboard graph` and the analysis options of `check`, through the binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod common;

use common::root;

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn switchboard(args: &[&str]) -> Output {
    common::run(args, root())
}

const EXAMPLE_RULES: [&str; 12] = [
    "sticky",
    "family",
    "amer",
    "apac",
    "big",
    "hot",
    "hot_weak",
    "warm",
    "events",
    "content",
    "after_hours",
    "otherwise",
];

fn example_dot() -> String {
    let output = switchboard(&["graph", "examples/routing.route", "--format", "dot"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dot = String::from_utf8(output.stdout).unwrap();
    assert!(dot.starts_with("digraph policy {"));
    dot
}

/// Acceptance: `switchboard graph examples/routing.route --format dot` is a graph a DOT reader
/// takes whole: parsed and laid out by `layout-rs` (a DOT parser and renderer in Rust), every
/// rule a leaf, so the test needs nothing but the Rust toolchain.
#[test]
fn the_example_graph_is_valid_dot_and_renders() {
    let dot = example_dot();
    let mut parser = layout::gv::DotParser::new(&dot);
    let tree = match parser.process() {
        Ok(tree) => tree,
        Err(error) => {
            parser.print_error();
            panic!("the DOT output does not parse: {error}\n{dot}");
        }
    };
    let mut builder = layout::gv::GraphBuilder::new();
    builder.visit_graph(&tree);
    let mut graph = builder.get();
    let mut writer = layout::backends::svg::SVGWriter::new();
    graph.do_it(false, false, false, &mut writer);
    let svg = writer.finalize();
    assert!(svg.contains("<svg"));
    // Every rule of the example is a leaf, named once in the source and drawn in the picture.
    for rule in EXAMPLE_RULES {
        let declarations = dot
            .lines()
            .filter(|line| line.contains(&format!("[label=\"{rule}\\n")))
            .count();
        assert_eq!(declarations, 1, "leaf {rule} declared {declarations} times");
        assert!(svg.contains(rule), "leaf {rule} missing from the picture");
    }
    // Every edge joins two declared nodes.
    let declared: std::collections::HashSet<&str> = dot
        .lines()
        .filter(|line| line.contains("[label=") && !line.contains("->"))
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    for line in dot.lines().filter(|line| line.contains("->")) {
        let mut ends = line
            .split("->")
            .map(|end| end.split_whitespace().next().unwrap_or(""));
        let (from, to) = (
            ends.next().unwrap(),
            ends.next().unwrap().trim_end_matches(';'),
        );
        assert!(declared.contains(from) && declared.contains(to), "{line}");
    }
}

/// Where Graphviz is installed, `dot -Tsvg` renders the output too (an extra: the test above is
/// the one that must pass on a machine with the Rust toolchain alone).
#[test]
fn the_example_graph_renders_with_graphviz_where_it_is_installed() {
    let dot = example_dot();
    let Ok(mut graphviz) = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!("note: Graphviz `dot` is not installed; its render was not tried");
        return;
    };
    graphviz
        .stdin
        .take()
        .unwrap()
        .write_all(dot.as_bytes())
        .unwrap();
    let rendered = graphviz.wait_with_output().unwrap();
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let svg = String::from_utf8(rendered.stdout).unwrap();
    assert!(svg.contains("<svg"));
    for rule in EXAMPLE_RULES {
        assert!(
            svg.contains(&format!(">{rule}</text>")),
            "leaf {rule} missing"
        );
    }
}

#[test]
fn shared_nodes_are_drawn_once() {
    let output = switchboard(&["graph", "examples/routing.route", "--format", "mermaid"]);
    assert_eq!(output.status.code(), Some(0));
    let mermaid = String::from_utf8(output.stdout).unwrap();
    assert!(mermaid.starts_with("flowchart TD\n"));
    let declarations: Vec<&str> = mermaid
        .lines()
        .filter(|line| !line.contains("-->") && line.starts_with("  n"))
        .collect();
    let mut ids: Vec<&str> = declarations
        .iter()
        .map(|line| line.trim().split(['[', '{']).next().unwrap())
        .collect();
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "a node is declared twice");
    // The example's `pool sdr` leaf for `hot_weak` is reached from several `fit` nodes.
    let hot_weak = declarations
        .iter()
        .find(|line| line.contains("hot_weak"))
        .unwrap();
    let id = hot_weak.trim().split('[').next().unwrap();
    let incoming = mermaid
        .lines()
        .filter(|line| line.ends_with(&format!("| {id}")))
        .count();
    assert!(
        incoming > 1,
        "hot_weak should be shared, has {incoming} incoming edges"
    );
}

#[test]
fn graph_of_a_broken_policy_reports_its_errors() {
    let output = switchboard(&["graph", "tests/fixtures/check/err/unknown_names.route"]);
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(err.contains("unknown field `intnet`"));
    assert!(err.contains("has errors; fix them to draw its graph"));
    assert!(output.stdout.is_empty());
}

/// Past the node budget the policy still compiles (to a scan), and check says analysis is
/// incomplete instead of running long.
#[test]
fn a_small_node_budget_falls_back_with_a_warning() {
    let output = switchboard(&[
        "check",
        "examples/routing.route",
        "--node-budget",
        "10",
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let items: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["code"], "analysis-incomplete");
    assert_eq!(items[0]["severity"], "warning");
    assert!(
        items[0]["message"]
            .as_str()
            .unwrap()
            .contains("budget of 10 (nodes and edges, and 200 tests decided to build them)")
    );
    let denied = switchboard(&[
        "check",
        "examples/routing.route",
        "--node-budget",
        "10",
        "--deny",
        "warnings",
    ]);
    assert_eq!(denied.status.code(), Some(1));
}

#[test]
fn overlap_is_a_lint_that_is_off_by_default() {
    let fixture = "tests/fixtures/check/analysis/overlap.route";
    let quiet = switchboard(&["check", fixture, "--format", "json"]);
    assert_eq!(quiet.status.code(), Some(0));
    assert_eq!(String::from_utf8(quiet.stdout).unwrap(), "[]\n");
    let loud = switchboard(&["check", fixture, "--warn", "overlap", "--format", "json"]);
    assert_eq!(loud.status.code(), Some(0));
    let items: Vec<serde_json::Value> = serde_json::from_slice(&loud.stdout).unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|item| item["code"] == "overlap"));
}

/// Acceptance: a rule after a broader one is shadowed at its own span; intent x fit without
/// (low, weak) reports a gap whose example lead has `intent: low` and `fit: weak`.
#[test]
fn acceptance_shadow_and_gap() {
    let output = switchboard(&[
        "check",
        "tests/fixtures/check/analysis/shadow_single.route",
        "--format",
        "json",
    ]);
    let items: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["code"], "shadowed-rule");
    assert_eq!(
        (items[0]["line"].as_u64(), items[0]["column"].as_u64()),
        (Some(7), Some(6))
    );
    assert_eq!(items[0]["related"][0]["line"], 6);

    let output = switchboard(&[
        "check",
        "tests/fixtures/check/analysis/gap_enum.route",
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let items: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(items.len(), 1);
    let message = items[0]["message"].as_str().unwrap();
    let example: serde_json::Value =
        serde_json::from_str(&message[message.find('{').unwrap()..]).unwrap();
    assert_eq!(example["intent"], "low");
    assert_eq!(example["fit"], "weak");
}

/// `switchboard graph` of `text`, written to a file of its own, with `args` after it.
fn graph_of(name: &str, text: &str, args: &[&str]) -> Output {
    let dir = common::scratch("graph", name);
    let policy = dir.join(format!("{name}.route"));
    std::fs::write(&policy, text).unwrap();
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("graph")
        .arg(&policy)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_policy_with_gaps_or_shadowed_rules_is_not_drawn() {
    let output = graph_of(
        "gap",
        "schema lead {\n  id: string\n  deal_value: number\n}\nqueue a\nqueue b\nwhen deal_value < 10000 -> queue a\nwhen deal_value > 10000 -> queue b\n",
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("has errors; fix them to draw its graph"),
        "{stderr}"
    );
}

#[test]
fn string_values_are_drawn_as_written_and_never_as_markup() {
    let draw = |format: &str| {
        let output = graph_of(
            "esc",
            "schema lead {\n  id: string\n  note: string\n}\nqueue n\nqueue r\nrule b: when note = \"l1\\nl2\\t<b>x</b>\" -> queue r\nrule c: when note = \"a\\\"b #quot;\" -> queue r\notherwise -> queue n\n",
            &["--format", format],
        );
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let dot = draw("dot");
    assert!(!dot.contains('\t'), "no raw tab: {dot}");
    assert!(dot.contains(r#"label="\"l1\\nl2\\t<b>x</b>\"""#), "{dot}");
    let mermaid = draw("mermaid");
    assert!(mermaid.contains("#lt;b>x#lt;/b>"), "{mermaid}");
    assert!(mermaid.contains("#35;quot;"), "{mermaid}");
    assert!(!mermaid.contains("<b>"), "{mermaid}");
}
