//! Switchboard side by side with its peers, in one run on one machine (issue 8): the same
//! policies and the same leads through Switchboard, GoRules ZEN (a JDM decision table, hit
//! policy "first") and a CEL first-match loop, with the floor (serde_json parse + a small JSON
//! object out). End to end from JSON text to a decision line, single thread.
//!
//! For every workload it checks that the rule engines agree on every lead they are timed on
//! and on one example lead per rule, and against Switchboard's reference semantics
//! (`Policy::first_match`); a disagreement stops the run. Then each engine runs `--runs` times
//! (interleaved), and the median, minimum and maximum leads/s are printed, ending with the
//! summary table for `docs/benchmarks.md`. The floor, the full router and ZEN then run again
//! with their output streamed to a file and through a pipe (issue 21: a pipe costs a router
//! that writes whole decisions more than one that writes a small line; the file figure is the
//! one to compare).
//!
//! Usage: `switchboard-peers [--sizes example,10,100,1000,10000] [--leads 1000000] [--runs 5]
//! [--budget 10] [--only ENGINE] [--cli PATH] [--write DIR]`. With `--write`, each size's policy
//! and leads are written to DIR/SIZE/ and nothing is timed. With `--cli`, the `switchboard route` command at
//! PATH is timed too, with one and two threads, against ZEN and the floor with output to a file. `--budget` is the most seconds one timed run of a peer may take: a peer too
//! slow for all the leads at a size runs on the first N of the same leads (N from 1,000,000,
//! 500,000, 200,000, 100,000, 50,000, ...), which the table states. Switchboard and the floor
//! always run on all of them. Run it with `bench/run-peers.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark that measures the wrong thing must stop

#[path = "../../generator.rs"]
mod generator;

mod breakdown;
mod engines;
mod translate;
mod workload;

use breakdown::Phases;
use engines::{Cel, Engine, Floor, Switchboard, SwitchboardRoute, Zen};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};
use switchboard::graph::Compiled;
use switchboard::model::{EvalContext, Policy};
use switchboard::route::RouteConfig;
use switchboard::route::reader::{Limits, parse_lead};

const EXAMPLE_POLICY: &str = include_str!("../../../examples/routing.route");
const EXAMPLE_LEADS: &str = include_str!("../../../examples/leads.ndjson");
const NOW: &str = "2026-11-23T10:00:00Z";

const ENGINES: [&str; 5] = ["floor", "switchboard", "switchboard-route", "zen", "cel"];

struct Options {
    sizes: Vec<String>,
    /// Time only this engine (for profiling); the agreement check on check leads still runs.
    only: Option<String>,
    leads: usize,
    runs: usize,
    budget: f64,
    /// The `switchboard` binary, timed from the command line (issue 21); none: not timed.
    cli: Option<std::path::PathBuf>,
    /// Write each size's policy and leads to DIR/SIZE/ (to profile `switchboard route` on
    /// them) and time nothing.
    write: Option<std::path::PathBuf>,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        args.iter()
            .position(|arg| arg == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    Options {
        sizes: value("--sizes")
            .unwrap_or_else(|| "example,10,100,1000,10000".to_string())
            .split(',')
            .map(str::to_string)
            .collect(),
        only: value("--only"),
        leads: value("--leads")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1_000_000),
        runs: value("--runs").and_then(|n| n.parse().ok()).unwrap_or(5),
        budget: value("--budget")
            .and_then(|n| n.parse().ok())
            .unwrap_or(10.0),
        cli: value("--cli").map(std::path::PathBuf::from),
        write: value("--write").map(std::path::PathBuf::from),
    }
}

/// The measurements of one engine at one size.
#[derive(Debug, Clone)]
struct Measured {
    leads: usize,
    times: Vec<Duration>,
}

impl Measured {
    fn rates(&self) -> Vec<f64> {
        let mut rates: Vec<f64> = self
            .times
            .iter()
            .map(|t| self.leads as f64 / t.as_secs_f64())
            .collect();
        rates.sort_by(f64::total_cmp);
        rates
    }

    fn median(&self) -> f64 {
        let rates = self.rates();
        rates[rates.len() / 2]
    }
}

/// Lines of NDJSON (without their newlines; a trailing empty line is dropped).
fn lines(input: &[u8]) -> Vec<&[u8]> {
    input
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .collect()
}

/// Runs an engine over `leads`, appending to `out`; the time taken.
fn run(engine: &mut dyn Engine, leads: &[&[u8]], out: &mut Vec<u8>) -> Duration {
    engine.reset();
    out.clear();
    let started = Instant::now();
    let mut failed = 0usize;
    for line in leads {
        failed += usize::from(!engine.line(line, out));
    }
    let elapsed = started.elapsed();
    black_box(&out);
    assert_eq!(failed, 0, "an engine failed on {failed} leads");
    elapsed
}

/// Where a run's output goes: kept in memory (the tables above), or streamed in 64 KiB writes
/// to a file or through a pipe to another process (what a harness that reads stdout sees).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Output {
    Memory,
    File,
    Pipe,
}

impl Output {
    const ALL: [Output; 3] = [Output::Memory, Output::File, Output::Pipe];
}

/// Runs an engine over `leads` with its output sent to `output`, writes included; the time
/// taken. A pipe is read by `cat` into `/dev/null`; a file is written in the temporary
/// directory and removed.
fn run_to(
    engine: &mut dyn Engine,
    leads: &[&[u8]],
    output: Output,
    buffer: &mut Vec<u8>,
) -> Duration {
    use std::io::Write;
    if output == Output::Memory {
        return run(engine, leads, buffer);
    }
    const CHUNK: usize = 64 * 1024;
    let path =
        std::env::temp_dir().join(format!("switchboard-peers-{}.ndjson", std::process::id()));
    let mut reader = None;
    let mut sink: Box<dyn Write> = match output {
        Output::File => Box::new(std::fs::File::create(&path).unwrap()),
        _ => {
            let mut child = std::process::Command::new("cat")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("`cat` runs, to read the pipe");
            let stdin = child.stdin.take().unwrap();
            reader = Some(child);
            Box::new(stdin)
        }
    };
    engine.reset();
    buffer.clear();
    let started = Instant::now();
    let mut failed = 0usize;
    for line in leads {
        failed += usize::from(!engine.line(line, buffer));
        if buffer.len() >= CHUNK {
            sink.write_all(buffer).unwrap();
            buffer.clear();
        }
    }
    sink.write_all(buffer).unwrap();
    sink.flush().unwrap();
    drop(sink);
    if let Some(mut child) = reader {
        // The run ends when the reader has read everything.
        assert!(child.wait().unwrap().success());
    }
    let elapsed = started.elapsed();
    let _ = std::fs::remove_file(&path);
    assert_eq!(failed, 0, "an engine failed on {failed} leads");
    elapsed
}

/// The `(lead, rule)` of each output line of a rule engine or of the full router.
fn decisions(output: &[u8]) -> Vec<(String, Option<String>)> {
    lines(output)
        .iter()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_slice(line).unwrap();
            (
                value["lead"].as_str().unwrap().to_string(),
                value["rule"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// Stops the run unless every engine decided the same rule for every lead it saw (each saw a
/// prefix of `reference`'s leads).
fn agree(reference: &[(String, Option<String>)], others: &[(&str, &[u8])], what: &str) {
    for (name, output) in others {
        let theirs = decisions(output);
        assert!(
            theirs.len() <= reference.len(),
            "{name}: more decisions than leads"
        );
        for (index, (mine, other)) in reference.iter().zip(&theirs).enumerate() {
            assert!(
                mine == other,
                "{what}: lead #{index} ({}): switchboard says {:?}, {name} says {:?}",
                mine.0,
                mine.1,
                other.1
            );
        }
    }
}

/// The rule `Policy::first_match` picks for each lead (the reference semantics).
fn reference(policy: &Policy, leads: &[&[u8]]) -> Vec<(String, Option<String>)> {
    let context = EvalContext {
        now: NOW.parse().unwrap(),
    };
    leads
        .iter()
        .map(|line| {
            let parsed = parse_lead(policy, line, &Limits::default()).unwrap();
            let rule = policy
                .first_match(&parsed.lead, &context)
                .map(|index| policy.rules[index].label.clone());
            (parsed.id.to_string(), rule)
        })
        .collect()
}

/// The biggest lead count from the ladder whose estimated run fits the budget.
fn peer_count(per_lead: f64, all: usize, budget: f64) -> usize {
    let mut ladder = Vec::new();
    let mut step = 1_000_000usize;
    while step >= 1_000 {
        ladder.extend([step, step / 2, step / 5]);
        step /= 10;
    }
    ladder
        .into_iter()
        .filter(|n| *n <= all)
        .find(|n| *n as f64 * per_lead <= budget)
        .unwrap_or(1_000.min(all))
}

fn main() {
    let options = options();
    let mut results: BTreeMap<(usize, &str), Measured> = BTreeMap::new();
    let mut labels = Vec::new();
    let mut breakdowns: BTreeMap<(usize, &str), (f64, f64)> = BTreeMap::new();
    for (order, size) in options.sizes.iter().enumerate() {
        let text = if size == "example" {
            EXAMPLE_POLICY.to_string()
        } else {
            let rules: usize = size.parse().expect("a size is `example` or a rule count");
            generator::policy(rules)
        };
        if let Some(dir) = &options.write {
            write_workload(&dir.join(size), &text, size == "example", &options);
            continue;
        }
        let (rules, measured, phases) = measure_size(&text, size == "example", &options);
        for (engine, m) in measured {
            results.insert((order, engine), m);
        }
        for (engine, read, decide) in phases {
            breakdowns.insert((order, engine), (read, decide));
        }
        labels.push((size.clone(), rules));
    }
    if options.write.is_none() {
        summary(&labels, &results, &breakdowns);
    }
}

/// Writes a size's policy and its leads (the ones every engine is timed on) to `dir`.
fn write_workload(dir: &std::path::Path, text: &str, example: bool, options: &Options) {
    let report = switchboard::check_source(text);
    let (policy, _) = report.compiled.expect("a clean policy compiles");
    let input = if example {
        workload::example_leads(&policy, options.leads)
    } else {
        workload::generated_leads(&policy, options.leads)
    }
    .unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("policy.route"), text).unwrap();
    std::fs::write(dir.join("leads.ndjson"), &input).unwrap();
    println!(
        "{}: policy.route and leads.ndjson ({} leads); route them as the harness does with \
         `switchboard route policy.route --state :memory: --now {NOW} --leads leads.ndjson`",
        dir.display(),
        options.leads
    );
}

/// The policy's rule count (with `otherwise`), each engine's runs and each engine's phases.
type Measurements = (usize, Vec<(&'static str, Measured)>, Vec<Phases>);

/// Measures every engine on one policy.
fn measure_size(text: &str, example: bool, options: &Options) -> Measurements {
    let report = switchboard::check_source(text);
    assert_eq!(report.error_count(), 0, "the policy must check clean");
    let (policy, compiled) = report.compiled.expect("a clean policy compiles");
    let kind = match &compiled {
        Compiled::Graph { graph, flat } => format!(
            "decision graph, {} nodes, flat layout {} KiB",
            graph.node_count(),
            flat.size_bytes() / 1024
        ),
        Compiled::Scan { .. } => "indexed scan (over the node budget)".to_string(),
    };
    let named = policy.rules.iter().filter(|r| !r.is_otherwise).count();
    println!(
        "\n## {} ({named} named rules + otherwise; Switchboard compiled to a {kind})",
        if example {
            "example policy".to_string()
        } else {
            format!("{named} generated rules")
        }
    );

    let started = Instant::now();
    let input = if example {
        workload::example_leads(&policy, options.leads)
    } else {
        workload::generated_leads(&policy, options.leads)
    }
    .unwrap();
    let checks = if example {
        EXAMPLE_LEADS.as_bytes().to_vec()
    } else {
        workload::rule_examples(&policy).unwrap()
    };
    let leads = lines(&input);
    let checks = lines(&checks);
    println!(
        "{} leads ({} MB of NDJSON) generated in {:.1} s",
        leads.len(),
        input.len() / 1_000_000,
        started.elapsed().as_secs_f64()
    );

    let jdm = translate::to_jdm(&policy).unwrap();
    let cel_rules = translate::to_cel(&policy).unwrap();
    let context = EvalContext {
        now: NOW.parse().unwrap(),
    };
    let config = RouteConfig {
        now: context.now,
        explain: false,
        limits: Limits::default(),
    };
    let mut floor = Floor;
    let mut switchboard = Switchboard {
        policy: &policy,
        compiled: &compiled,
        context,
        limits: Limits::default(),
    };
    let mut route = SwitchboardRoute::new(&policy, &compiled, config, text);
    let started = Instant::now();
    let mut zen = Zen::new(jdm).unwrap();
    let zen_build = started.elapsed();
    let started = Instant::now();
    let mut cel = Cel::new(&cel_rules).unwrap();
    let cel_build = started.elapsed();
    println!(
        "ZEN table built and compiled in {:.1} ms, {} CEL programs compiled in {:.1} ms",
        zen_build.as_secs_f64() * 1e3,
        cel_rules.len(),
        cel_build.as_secs_f64() * 1e3
    );

    // Agreement on one example per rule (or the example leads), before anything is timed.
    // With `--only`, only that engine (and Switchboard) is checked.
    let timed = |index: usize| {
        options
            .only
            .as_ref()
            .is_none_or(|only| only == ENGINES[index])
    };
    let expected = reference(&policy, &checks);
    let mut outputs: Vec<(&str, Vec<u8>)> = Vec::new();
    for (index, engine) in [
        (1usize, &mut switchboard as &mut dyn Engine),
        (2, &mut route),
        (3, &mut zen),
        (4, &mut cel),
    ] {
        if index == 1 || timed(index) {
            let mut output = Vec::new();
            run(engine, &checks, &mut output);
            outputs.push((ENGINES[index], output));
        }
    }
    let outputs: Vec<(&str, &[u8])> = outputs
        .iter()
        .map(|(name, output)| (*name, output.as_slice()))
        .collect();
    agree(&expected, &outputs, "check leads");
    for (name, output) in &outputs {
        assert_eq!(
            decisions(output).len(),
            checks.len(),
            "{name} skipped check leads"
        );
    }
    println!(
        "check: all engines agree with the reference on {} check leads",
        checks.len()
    );

    // How many leads each peer can run within the budget (calibrated on the first leads).
    let mut counts = [leads.len(); 5];
    let mut scratch = Vec::new();
    for (index, engine) in [(3usize, &mut zen as &mut dyn Engine), (4, &mut cel)] {
        if !timed(index) {
            continue;
        }
        let sample = &leads[..leads.len().min(2_000)];
        let mut sample_len = 200.min(sample.len());
        let mut per_lead;
        loop {
            let elapsed = run(engine, &sample[..sample_len], &mut scratch);
            per_lead = elapsed.as_secs_f64() / sample_len as f64;
            if elapsed.as_secs_f64() > 0.5 || sample_len == sample.len() {
                break;
            }
            sample_len = sample.len();
        }
        counts[index] = peer_count(per_lead, leads.len(), options.budget);
    }

    let mut measured: Vec<Measured> = counts
        .iter()
        .map(|&leads| Measured {
            leads,
            times: Vec::new(),
        })
        .collect();
    let mut first: Vec<Vec<u8>> = vec![Vec::new(); 5];
    // One output buffer for every run, its pages touched before anything is timed.
    let mut sink = vec![0u8; leads.len() * 512];
    for round in 0..options.runs {
        let engines: [&mut dyn Engine; 5] =
            [&mut floor, &mut switchboard, &mut route, &mut zen, &mut cel];
        for (index, engine) in engines.into_iter().enumerate() {
            if !timed(index) {
                continue;
            }
            let elapsed = run(engine, &leads[..counts[index]], &mut sink);
            measured[index].times.push(elapsed);
            if round == 0 {
                first[index] = sink.clone();
            }
        }
        eprintln!("round {} of {} done", round + 1, options.runs);
    }

    if options.only.is_some() {
        let (index, name) = ENGINES
            .iter()
            .enumerate()
            .find(|(index, _)| timed(*index))
            .expect("--only names an engine");
        println!("{name}: median {:.0} leads/s", measured[index].median());
        return (
            policy.rules.len(),
            vec![(*name, measured[index].clone())],
            Vec::new(),
        );
    }

    // Agreement on every timed lead.
    let mine = decisions(&first[1]);
    assert_eq!(mine.len(), leads.len());
    agree(
        &mine,
        &[
            ("switchboard-route", &first[2]),
            ("zen", &first[3]),
            ("cel", &first[4]),
        ],
        "timed leads",
    );
    println!(
        "check: ZEN, CEL and the full router agree with Switchboard on every timed lead \
         ({} / {} / {})",
        counts[3], counts[4], counts[2]
    );

    println!("| engine | leads | median leads/s | min | max | median time |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, m) in ENGINES.iter().zip(&measured) {
        let rates = m.rates();
        println!(
            "| {name} | {} | {:.0} | {:.0} | {:.0} | {:.3} s |",
            m.leads,
            m.median(),
            rates[0],
            rates[rates.len() - 1],
            m.leads as f64 / m.median()
        );
    }

    // Where the time goes, on a prefix of the same leads.
    let prefix = leads.len().min(100_000).min(counts[3]);
    // The CEL loop on a quarter of its timed leads (it is by far the slowest).
    let cel_prefix = (counts[4] / 4).clamp(1, prefix);
    let phases = breakdown::breakdown(
        &switchboard,
        &zen,
        &mut cel,
        &leads[..prefix],
        cel_prefix,
        3,
    );
    println!(
        "\nBreakdown (ns per lead, median of 3; read = JSON text to the engine's input, decide = \
         that input to a rule; {prefix} leads, CEL {}):",
        cel_prefix
    );
    println!("| engine | read | decide | end to end (above) |");
    println!("|---|---:|---:|---:|");
    for (name, read, decide) in &phases {
        let index = ENGINES.iter().position(|e| e == name).unwrap_or(0);
        println!(
            "| {name} | {read:.0} | {decide:.0} | {:.0} |",
            1e9 / measured[index].median()
        );
    }
    // The same runs with the output in a file and through a pipe: the full router writes a
    // whole decision (about 180 bytes a lead), the floor and ZEN a small line, so a pipe costs
    // them differently. The file figure is the one to compare.
    let mut outputs: Vec<[Measured; 3]> = [0usize, 2, 3]
        .iter()
        .map(|&index| {
            std::array::from_fn(|_| Measured {
                leads: counts[index],
                times: Vec::new(),
            })
        })
        .collect();
    let mut buffer = Vec::with_capacity(1 << 20);
    for _ in 0..options.runs {
        for (row, (index, engine)) in [
            (0usize, &mut floor as &mut dyn Engine),
            (2, &mut route),
            (3, &mut zen),
        ]
        .into_iter()
        .enumerate()
        {
            for (column, output) in Output::ALL.into_iter().enumerate() {
                let elapsed = run_to(engine, &leads[..counts[index]], output, &mut buffer);
                outputs[row][column].times.push(elapsed);
            }
        }
    }
    println!(
        "\nOutput to memory, to a file and through a pipe (median leads/s of {} runs, \
         interleaved; writes of 64 KiB):",
        options.runs
    );
    println!("| engine | memory | file | pipe | pipe / file |");
    println!("|---|---:|---:|---:|---:|");
    for (row, index) in [0usize, 2, 3].into_iter().enumerate() {
        let [memory, file, pipe] = &outputs[row];
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.2} |",
            ENGINES[index],
            memory.median(),
            file.median(),
            pipe.median(),
            pipe.median() / file.median()
        );
    }
    let ratio = |column: usize| outputs[1][column].median() / outputs[0][column].median();
    println!(
        "switchboard-route / floor: memory {:.2}, file {:.2}, pipe {:.2}",
        ratio(0),
        ratio(1),
        ratio(2)
    );
    if let (Some(cli), None) = (&options.cli, &options.only) {
        command_line(cli, text, &input, &mine, (&mut zen, counts[3]), &leads, options);
    }
    (
        policy.rules.len(),
        ENGINES.into_iter().zip(measured).collect(),
        phases,
    )
}

/// Issue 21's goal in one run: the `switchboard route` command (a process of its own, on every
/// core of the machine, not only the harness's pinned one) with one and two threads, against
/// ZEN's compiled table (in process, one core) and the floor, all with their output written to
/// a file, interleaved. The command's decisions are checked against the rule decision's first.
fn command_line(
    cli: &std::path::Path,
    policy_text: &str,
    input: &[u8],
    reference: &[(String, Option<String>)],
    (zen, zen_leads): (&mut Zen, usize),
    leads: &[&[u8]],
    options: &Options,
) {
    let dir = std::env::temp_dir().join(format!("switchboard-peers-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (policy, leads_file, out) = (
        dir.join("policy.route"),
        dir.join("leads.ndjson"),
        dir.join("decisions.ndjson"),
    );
    std::fs::write(&policy, policy_text).unwrap();
    std::fs::write(&leads_file, input).unwrap();
    // Every online core: the harness itself is pinned to one.
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online")
        .map(|text| text.trim().to_string())
        .ok();
    let route = |threads: usize| -> Duration {
        let mut command = match &online {
            Some(cores) if which("taskset") => {
                let mut command = std::process::Command::new("taskset");
                command.args(["-c", cores]).arg(cli);
                command
            }
            _ => std::process::Command::new(cli),
        };
        command
            .arg("route")
            .arg(&policy)
            .args(["--state", ":memory:", "--now", NOW, "--quiet", "--threads"])
            .arg(threads.to_string())
            .arg("--leads")
            .arg(&leads_file)
            .stdout(std::fs::File::create(&out).unwrap());
        let started = Instant::now();
        let status = command.status().expect("the switchboard command runs");
        let elapsed = started.elapsed();
        assert!(status.success(), "switchboard route failed: {status}");
        elapsed
    };
    // The command decides as the library does.
    route(2);
    let written = std::fs::read(&out).unwrap();
    let theirs = decisions(&written);
    assert_eq!(theirs.len(), reference.len(), "one decision line per lead");
    agree(reference, &[("switchboard route", &written)], "the command line");
    let mut floor = Floor;
    let mut rows: [Measured; 4] = std::array::from_fn(|row| Measured {
        leads: if row == 2 { zen_leads } else { leads.len() },
        times: Vec::new(),
    });
    let mut buffer = Vec::with_capacity(1 << 20);
    for _ in 0..options.runs {
        rows[0].times.push(route(2));
        rows[1].times.push(route(1));
        rows[2]
            .times
            .push(run_to(zen, &leads[..zen_leads], Output::File, &mut buffer));
        rows[3]
            .times
            .push(run_to(&mut floor, leads, Output::File, &mut buffer));
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "\nThe command line (`switchboard route --state :memory: --leads FILE > FILE`, its own \
         process on cores {}), against ZEN and the floor in process with their output to a file \
         (median leads/s of {} runs, interleaved):",
        online.as_deref().unwrap_or("all"),
        options.runs
    );
    println!("| engine | leads | median leads/s | min | max | / ZEN |");
    println!("|---|---:|---:|---:|---:|---:|");
    let zen_rate = rows[2].median();
    for (name, row) in [
        "`switchboard route --threads 2`",
        "`switchboard route --threads 1`",
        "zen (one core)",
        "floor (one core)",
    ]
    .iter()
    .zip(&rows)
    {
        let rates = row.rates();
        println!(
            "| {name} | {} | {:.0} | {:.0} | {:.0} | {:.2}x |",
            row.leads,
            row.median(),
            rates[0],
            rates[rates.len() - 1],
            row.median() / zen_rate
        );
    }
}

/// Whether a program is on the PATH.
fn which(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| dir.join(program).is_file())
    })
}

/// `1234567` as `1,234,567`.
fn thousands(value: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let digits = (value.round() as u64).to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn summary(
    labels: &[(String, usize)],
    results: &BTreeMap<(usize, &str), Measured>,
    breakdowns: &BTreeMap<(usize, &str), (f64, f64)>,
) {
    println!("\n## Summary (median leads/s over the runs; min-max in brackets)\n");
    println!(
        "| policy | floor | Switchboard (rule decision) | ZEN | CEL loop | Switchboard / ZEN | Switchboard / CEL | Switchboard / floor | Switchboard full `route` | full `route` / floor |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let cell = |order: usize, engine: &str, all: usize| -> String {
        let Some(m) = results.get(&(order, engine)) else {
            return "-".to_string();
        };
        let rates = m.rates();
        let leads = if m.leads < all {
            format!(" ({} leads)", thousands(m.leads as f64))
        } else {
            String::new()
        };
        format!(
            "{} [{}-{}]{leads}",
            thousands(m.median()),
            thousands(rates[0]),
            thousands(rates[rates.len() - 1])
        )
    };
    let rate = |order: usize, engine: &str| results.get(&(order, engine)).map(Measured::median);
    for (order, (label, rules)) in labels.iter().enumerate() {
        let all = results.get(&(order, "floor")).map_or(0, |m| m.leads);
        let ratio = |mine: &str, other: &str| match (rate(order, mine), rate(order, other)) {
            (Some(mine), Some(theirs)) => format!("{:.2}x", mine / theirs),
            _ => "-".to_string(),
        };
        let name = if label == "example" {
            format!("example ({rules} rules)")
        } else {
            format!("{label} rules (+ otherwise)")
        };
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(order, "floor", all),
            cell(order, "switchboard", all),
            cell(order, "zen", all),
            cell(order, "cel", all),
            ratio("switchboard", "zen"),
            ratio("switchboard", "cel"),
            ratio("switchboard", "floor"),
            cell(order, "switchboard-route", all),
            ratio("switchboard-route", "floor"),
        );
    }
    // Slope: cost per lead at 10,000 rules / cost at 10 rules.
    let small = labels.iter().position(|(l, _)| l == "10");
    let large = labels.iter().position(|(l, _)| l == "10000");
    if let (Some(small), Some(large)) = (small, large) {
        println!("\nSlope (cost per lead at 10,000 rules / cost at 10 rules):\n");
        println!("| engine | slope |");
        println!("|---|---:|");
        for engine in ENGINES {
            if let (Some(a), Some(b)) = (rate(small, engine), rate(large, engine)) {
                println!("| {engine} | {:.2} |", a / b);
            }
        }
    }
    if breakdowns.is_empty() {
        return;
    }
    println!(
        "\nBreakdown (ns per lead: read = JSON text to the engine's input, decide = that input to a rule):\n"
    );
    println!(
        "| policy | Switchboard read | Switchboard decide | ZEN read | ZEN decide | CEL read | CEL decide | floor read |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (order, (label, rules)) in labels.iter().enumerate() {
        let phase = |engine: &str, decide: bool| {
            breakdowns
                .get(&(order, engine))
                .map_or("-".to_string(), |(r, d)| {
                    thousands(if decide { *d } else { *r })
                })
        };
        let name = if label == "example" {
            format!("example ({rules} rules)")
        } else {
            format!("{label} rules")
        };
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} |",
            phase("switchboard", false),
            phase("switchboard", true),
            phase("zen", false),
            phase("zen", true),
            phase("cel", false),
            phase("cel", true),
            phase("floor", false),
        );
    }
}

#[cfg(test)]
mod tests;
