//! Editor latency over the protocol, on a generated 2,000-rule policy (about 200 KB): the time
//! from a one-character edit to the diagnostics of that version, and the time to answer a
//! completion request. The real server binary is spoken to over stdio by the test client, so the
//! figures include framing, JSON and the pipe, as an editor sees them.
//!
//! Then large documents of one-line rules (`rule rN: when n = N`, the shape that was quadratic):
//! the time from opening one to its diagnostics and to its outline, the server's peak memory, and
//! a burst of ten edits to a 1 MB policy against one edit (older analyses are stopped, not queued).
//!
//! `cargo bench --bench lsp_latency` (see docs/benchmarks.md).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/lsp/common/mod.rs"]
mod common;
#[path = "generator.rs"]
#[allow(dead_code)]
mod generator;

use serde_json::json;
use std::time::{Duration, Instant};

const RULES: usize = 2_000;
const EDITS: usize = 40;
const COMPLETIONS: usize = 200;

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name}: n={} median {:.1} ms  p90 {:.1} ms  min {:.1} ms  max {:.1} ms",
        samples.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.9).as_secs_f64() * 1e3,
        samples[0].as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3,
    );
}

fn main() {
    let policy = generator::policy(RULES);
    println!(
        "policy: {RULES} rules, {} KB, {} lines",
        policy.len() / 1024,
        policy.lines().count()
    );

    // In-process reference: one analysis (parse, check, decision graph, index).
    let mut in_process = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let uri: switchboard_lsp::ls_types::Uri = "file:///bench.route".parse().unwrap();
        let analysis = switchboard_lsp::document::Analysis::new(
            uri,
            1,
            policy.clone(),
            &|_| Err("none".to_string()),
            None,
            &|| false,
        );
        std::hint::black_box(&analysis);
        in_process.push(started.elapsed());
    }
    summary(
        "analysis in process, cold (parse + check + graph + index)",
        in_process,
    );

    // The same after a one-character edit, with the previous version's parsed items.
    let uri: switchboard_lsp::ls_types::Uri = "file:///bench.route".parse().unwrap();
    let mut previous = switchboard_lsp::document::Analysis::new(
        uri.clone(),
        1,
        policy.clone(),
        &|_| Err("none".to_string()),
        None,
        &|| false,
    )
    .expect("never cancelled");
    let middle = policy.len() / 2;
    let bound = middle + policy[middle..].find("deal_value >= 5000").unwrap() + 17;
    let mut warm = Vec::new();
    let mut edited = policy.clone();
    for round in 0..10 {
        edited.replace_range(bound..bound + 1, if round % 2 == 0 { "1" } else { "0" });
        let started = Instant::now();
        let analysis = switchboard_lsp::document::Analysis::new(
            uri.clone(),
            round + 2,
            edited.clone(),
            &|_| Err("none".to_string()),
            Some(&previous.items),
            &|| false,
        )
        .expect("never cancelled");
        warm.push(started.elapsed());
        previous = analysis;
    }
    summary("analysis in process, after a one-character edit", warm);

    let mut client = common::Client::start("bench");
    let uri = client.open("bench.route", &policy);
    let first = client.diagnostics(&uri);
    assert_eq!(
        first["diagnostics"].as_array().unwrap().len(),
        0,
        "the generated policy is clean: {first}"
    );

    // One-character edits: toggle a digit of a deal bound in the middle of the file.
    let needle = "deal_value >= 5000";
    let middle = policy.len() / 2;
    let at = middle + policy[middle..].find(needle).expect("a deal bound") + needle.len() - 1;
    let mut edit_latency = Vec::new();
    let mut text = policy.clone();
    for version in 2..2 + EDITS as i64 {
        let digit = if version % 2 == 0 { "1" } else { "0" };
        text.replace_range(at..at + 1, digit);
        let started = Instant::now();
        client.change(&uri, version, &text);
        client.diagnostics_for_version(&uri, version);
        edit_latency.push(started.elapsed());
    }
    summary("edit -> published diagnostics", edit_latency);

    // Completion after `intent = ` in the middle of the file, and after `when `.
    let variants_at = middle + policy[middle..].find("intent = ").unwrap() + "intent = ".len();
    let when_at = middle + policy[middle..].find("when ").unwrap() + "when ".len();
    let mut completion_latency = Vec::new();
    for round in 0..COMPLETIONS {
        let offset = if round % 2 == 0 { variants_at } else { when_at };
        let line = text[..offset].matches('\n').count();
        let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let started = Instant::now();
        let result = client.result(
            "textDocument/completion",
            json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": column}}),
        );
        completion_latency.push(started.elapsed());
        assert!(!result.as_array().unwrap().is_empty());
    }
    summary("completion", completion_latency);
    client.shutdown();

    large_documents();
}

fn one_line_rules(rules: usize) -> String {
    let mut text = String::from("schema lead { id: string  n: int }\nqueue q\n");
    for n in 0..rules {
        text.push_str(&format!("rule r{n}: when n = {n} -> queue q\n"));
    }
    text.push_str("otherwise -> queue q\n");
    text
}

fn large_documents() {
    let quick = !std::env::args().any(|arg| arg == "--bench");
    let sizes: &[usize] = if quick {
        &[2_000]
    } else {
        &[26_000, 130_000, 1_300_000]
    };
    println!();
    println!("| document | size | open -> diagnostics | open -> outline | server peak memory |");
    println!("|---|---:|---:|---:|---:|");
    for &rules in sizes {
        let text = one_line_rules(rules);
        let mut client = common::Client::start(&format!("large-{rules}"));
        let started = Instant::now();
        let uri = client.open("large.route", &text);
        client.diagnostics(&uri);
        let diagnostics = started.elapsed();
        client.result(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": uri}}),
        );
        let outline = started.elapsed();
        let memory = client
            .peak_memory_kib()
            .map_or("-".to_string(), |kib| format!("{} MiB", kib / 1024));
        println!(
            "| {rules} one-line rules | {:.1} MB | {:.2} s | {:.2} s | {memory} |",
            text.len() as f64 / f64::from(1 << 20),
            diagnostics.as_secs_f64(),
            outline.as_secs_f64(),
        );
        client.shutdown();
    }

    // A burst of edits to a policy just under 1 MB (fully analysed): ten versions sent at once
    // against one, each timed to the diagnostics of its last version.
    let rules = if quick { 2_000 } else { 25_000 };
    let text = one_line_rules(rules);
    let mut client = common::Client::start("burst");
    let uri = client.open("burst.route", &text);
    client.diagnostics(&uri);
    let mut version = 1;
    for burst in [1, 10, 1, 10] {
        let started = Instant::now();
        for _ in 0..burst {
            version += 1;
            let edited = text.replace(
                "rule r9: when n = 9 ",
                &format!("rule r9: when n = {} ", version),
            );
            client.change(&uri, version, &edited);
        }
        client.diagnostics_for_version(&uri, version);
        println!(
            "{burst} edit(s) to {rules} rules -> diagnostics of the last: {:.2} s",
            started.elapsed().as_secs_f64()
        );
    }
    client.shutdown();
}
