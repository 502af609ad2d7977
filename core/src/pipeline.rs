//! The pipeline from text to a policy ready to route: parse -> check -> lower to the resolved
//! model -> compile the decision graph and analyse it (shadowed rules, gaps, overlaps), and the
//! coverage in time of its pools (`off-shift-gap`). It sits
//! above the checker and the graph so that neither needs the other.

use crate::check;
use crate::diagnostic::{self, Diagnostic};
use crate::graph::Compiled;
use crate::graph::analysis::{AnalysisConfig, analyze};
use crate::model::Policy;
use crate::syntax::{self, ast::PolicyFile};

/// The outcome of checking one source text: its tree, every diagnostic sorted by position and,
/// when the policy had no errors before analysis, the resolved policy and its compiled form.
#[derive(Debug, Clone)]
pub struct CheckReport {
    pub file: PolicyFile,
    pub diagnostics: Vec<Diagnostic>,
    pub compiled: Option<(Policy, Compiled)>,
}

/// A checked tree's diagnostics (sorted) and, when it has no errors, its resolved policy and
/// compiled form.
pub type Checked = (Vec<Diagnostic>, Option<(Policy, Compiled)>);

/// Settings of `check`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckConfig {
    pub analysis: AnalysisConfig,
    /// Which pools coverage in time holds to their working time (`off-shift-gap`).
    pub coverage: crate::coverage::Coverage,
}

impl CheckReport {
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.diagnostics.len() - self.error_count()
    }
}

/// Parses, checks and analyses a policy text with the default settings.
pub fn check_source(text: &str) -> CheckReport {
    check_source_with(text, &CheckConfig::default())
}

/// Parses and checks a policy text; when that finds no errors, compiles the decision graph and
/// adds its analysis (shadowed rules, gaps, and overlaps if asked for).
pub fn check_source_with(text: &str, config: &CheckConfig) -> CheckReport {
    check_parsed(syntax::parse(text), text, config)
}

/// [`check_source_with`], parsing a large text in two halves with the caller's parallelism.
pub fn check_source_in(
    text: &str,
    config: &CheckConfig,
    parallelism: &dyn syntax::Parallelism,
) -> CheckReport {
    check_parsed(syntax::parse_in(text, parallelism), text, config)
}

/// [`check_source_with`] for a text already parsed (tools that parse first to look at the tree,
/// such as the language server, do not parse twice).
pub fn check_parsed(parsed: syntax::Parsed, text: &str, config: &CheckConfig) -> CheckReport {
    let (diagnostics, compiled) = check_parsed_ref(&parsed, text, config);
    CheckReport {
        file: parsed.file,
        diagnostics,
        compiled,
    }
}

/// [`check_parsed`] on a borrowed tree: the diagnostics (sorted) and, when the policy has no
/// errors before analysis, the resolved policy and its compiled form. Lets a caller do other work
/// on the same tree at the same time (the language server builds its symbol index meanwhile).
pub fn check_parsed_ref(parsed: &syntax::Parsed, text: &str, config: &CheckConfig) -> Checked {
    check_parsed_until(parsed, text, config, &|| false).unwrap_or_default()
}

/// [`check_parsed_ref`] that gives up between stages (check, resolve, compile and analyse) once
/// `cancelled` says so, returning `None`: the language server stops analysing a version of a
/// document as soon as a newer one arrives.
pub fn check_parsed_until(
    parsed: &syntax::Parsed,
    text: &str,
    config: &CheckConfig,
    cancelled: &dyn Fn() -> bool,
) -> Option<Checked> {
    let mut diagnostics = parsed.errors.clone();
    let mut checked = check::check(&parsed.file);
    // `escalate rep anna`: the syntax error says what to write; the checker's "unknown target
    // `rep`" and "never fires" about what parsed of it would only confuse.
    for alone in parsed
        .errors
        .iter()
        .filter(|error| error.message.starts_with(syntax::errors::TARGET_ALONE))
    {
        checked.retain(|finding| {
            !(matches!(
                finding.code,
                crate::diagnostic::Code::UnknownTarget
                    | crate::diagnostic::Code::EscalationWithoutTime
            ) && finding.span.end <= alone.span.start
                && text
                    .get(finding.span.end..alone.span.start)
                    .is_some_and(|between| between.trim().is_empty()))
        });
    }
    diagnostics.extend(checked);
    if cancelled() {
        return None;
    }
    let mut compiled = None;
    if !diagnostics.iter().any(Diagnostic::is_error)
        && let Some(policy) = Policy::from_file(&parsed.file, text)
    {
        if cancelled() {
            return None;
        }
        let analysis = analyze(&policy, &config.analysis);
        diagnostics.extend(analysis.diagnostics);
        diagnostics.extend(crate::coverage::off_shift_gaps(&policy, config.coverage));
        compiled = Some((policy, analysis.compiled));
    }
    diagnostic::sort(&mut diagnostics);
    Some((diagnostics, compiled))
}
