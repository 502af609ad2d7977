//! The checker: resolves every name of a parsed policy and type-checks rules and tests against
//! the file's schema. It reports; it never stops at the first problem.
//!
//! Architecture invariant: the checker reads only the syntax tree. It knows nothing of files,
//! terminals or the LSP, and it never reports a name as unknown when the item that declares the
//! name failed to parse (the syntax error already said so).

mod declarations;
mod rules;
pub mod suggest;
pub mod types;

use crate::diagnostic::{self, Diagnostic};
use crate::graph::Compiled;
use crate::graph::analysis::{AnalysisConfig, analyze};
use crate::model::Policy;
use crate::syntax::ast::{ItemKind, PolicyFile};
use crate::syntax::{self};
use std::collections::{BTreeMap, BTreeSet};
pub use types::FieldType;

/// The outcome of checking one source text: its tree, every diagnostic sorted by position and,
/// when the policy had no errors before analysis, the resolved policy and its compiled form.
#[derive(Debug, Clone)]
pub struct CheckReport {
    pub file: PolicyFile,
    pub diagnostics: Vec<Diagnostic>,
    pub compiled: Option<(Policy, Compiled)>,
}

/// Settings of `check`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckConfig {
    pub analysis: AnalysisConfig,
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
    let parsed = syntax::parse(text);
    let mut diagnostics = parsed.errors;
    diagnostics.extend(check(&parsed.file));
    let mut compiled = None;
    if !diagnostics.iter().any(Diagnostic::is_error)
        && let Some(policy) = Policy::from_file(&parsed.file, text)
    {
        let analysis = analyze(&policy, &config.analysis);
        diagnostics.extend(analysis.diagnostics);
        compiled = Some((policy, analysis.compiled));
    }
    diagnostic::sort(&mut diagnostics);
    CheckReport {
        file: parsed.file,
        diagnostics,
        compiled,
    }
}

/// Checks a parsed policy (however partial) and returns what is wrong with it.
pub fn check(file: &PolicyFile) -> Vec<Diagnostic> {
    let mut checker = Checker::new(file);
    checker.declarations();
    checker.rules();
    checker.tests();
    checker.diagnostics
}

/// A schema field as the checker resolved it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldInfo {
    pub ty: FieldType,
    pub optional: bool,
}

/// Names declared by the file, resolved once and shared by every check.
pub(crate) struct Checker<'a> {
    pub(crate) file: &'a PolicyFile,
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// `None` when there is no usable schema: field checks are then skipped, not repeated.
    pub(crate) fields: Option<BTreeMap<&'a str, FieldInfo>>,
    /// Names of schema fields that failed to parse.
    pub(crate) broken_fields: BTreeSet<&'a str>,
    pub(crate) pools: BTreeMap<&'a str, &'a crate::syntax::ast::Pool>,
    pub(crate) queues: BTreeSet<&'a str>,
    pub(crate) calendars: BTreeSet<&'a str>,
    /// Every member of every pool.
    pub(crate) reps: BTreeSet<&'a str>,
    pub(crate) rule_names: BTreeSet<&'a str>,
    /// Names declared by broken items, by kind.
    pub(crate) broken_names: BTreeMap<&'a str, ItemKind>,
    /// Whether some pool failed to parse, so its members are unknown.
    pub(crate) pool_broken: bool,
}

impl<'a> Checker<'a> {
    fn new(file: &'a PolicyFile) -> Checker<'a> {
        let mut broken_names = BTreeMap::new();
        let mut pool_broken = false;
        for item in &file.broken {
            if item.kind == ItemKind::Pool {
                pool_broken = true;
            }
            if let Some(name) = &item.name {
                broken_names.insert(name.name.as_str(), item.kind);
            }
        }
        Checker {
            file,
            diagnostics: Vec::new(),
            fields: None,
            broken_fields: BTreeSet::new(),
            pools: BTreeMap::new(),
            queues: BTreeSet::new(),
            calendars: BTreeSet::new(),
            reps: BTreeSet::new(),
            rule_names: BTreeSet::new(),
            broken_names,
            pool_broken,
        }
    }

    pub(crate) fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Whether a use of `name` as a `kind` should not be reported, because its declaration broke.
    pub(crate) fn declared_by_broken(&self, name: &str, kind: ItemKind) -> bool {
        self.broken_names.get(name) == Some(&kind)
    }
}
