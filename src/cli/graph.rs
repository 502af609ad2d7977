//! `switchboard graph`: a policy's decision graph as Graphviz `dot` or Mermaid.

use super::policy::one_policy;
use super::{EXIT_PROBLEMS, Failure, human_style, print_stdout};
use clap::ValueEnum;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use switchboard::render::{self, FileDiagnostics};

#[derive(clap::Args)]
pub struct GraphArgs {
    /// The policy file (or a folder holding exactly one policy)
    #[arg(value_name = "POLICY")]
    policy: PathBuf,
    /// Picture format
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    format: GraphFormat,
    /// The most nodes the graph may have
    #[arg(long, value_name = "N", default_value_t = switchboard::graph::DEFAULT_NODE_BUDGET)]
    node_budget: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    /// Graphviz: pipe into `dot -Tsvg`
    Dot,
    /// Mermaid flowchart, for Markdown that renders it
    Mermaid,
}

/// Draws the decision graph. Analysis findings (gaps, shadowed rules) do not stop the drawing:
/// they are printed on stderr, and the picture shows where leads fall through.
pub fn run(args: &GraphArgs) -> Result<ExitCode, Failure> {
    let source = &one_policy(&args.policy, false)?;
    let mut config = switchboard::CheckConfig::default();
    config.analysis.node_budget = args.node_budget;
    let report = switchboard::check_source_with(&source.text, &config);
    let file = FileDiagnostics {
        path: &source.path,
        text: &source.text,
        diagnostics: &report.diagnostics,
    };
    if !report.diagnostics.is_empty() {
        let _ = std::io::stderr().write_all(render::human(&file, human_style()).as_bytes());
    }
    // Errors found by the analysis (gaps, shadowed rules) refuse the drawing too, as the docs
    // say and as `route` and `diff` refuse such a policy.
    let compiled = report
        .compiled
        .as_ref()
        .filter(|_| report.error_count() == 0);
    let Some((policy, compiled)) = compiled else {
        stderr_line!(
            "error: `{}` has errors; fix them to draw its graph",
            source.path
        );
        return Ok(ExitCode::from(EXIT_PROBLEMS));
    };
    let switchboard::graph::Compiled::Graph {
        graph: decision_graph,
        ..
    } = compiled
    else {
        return Err(Failure::usage(format!(
            "`{}` is too large to draw: its decision graph exceeds the budget of {} nodes (see --node-budget)",
            source.path, args.node_budget
        )));
    };
    let format = match args.format {
        GraphFormat::Dot => switchboard::graph::render::Format::Dot,
        GraphFormat::Mermaid => switchboard::graph::render::Format::Mermaid,
    };
    print_stdout(&switchboard::graph::render::render(
        policy,
        decision_graph,
        format,
    ))?;
    Ok(ExitCode::SUCCESS)
}
