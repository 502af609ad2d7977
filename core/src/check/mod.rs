//! The checker: resolves every name of a parsed policy and type-checks rules and tests against
//! the file's schema. It reports; it never stops at the first problem.
//!
//! Architecture invariant: the checker reads only the syntax tree. It knows nothing of files,
//! terminals or the LSP, and it never reports a name as unknown when the item that declares the
//! name failed to parse (the syntax error already said so).

mod clock;
mod declarations;
mod rules;
pub(crate) use rules::parent_loop;
mod scores;
pub mod suggest;
pub mod types;

use crate::diagnostic::{self, Diagnostic};
use crate::model::FieldType;
use crate::syntax::ast::{ItemKind, PolicyFile};
use crate::syntax::{self};
use std::collections::{BTreeMap, BTreeSet};

/// Checks a parsed policy (however partial) and returns what is wrong with it.
pub fn check(file: &PolicyFile) -> Vec<Diagnostic> {
    let mut checker = Checker::new(file);
    checker.declarations();
    checker.scores();
    checker.rules();
    checker.clock();
    checker.tests(&file.tests);
    checker.diagnostics
}

/// Checks the tests of a file of tests (one that says `use "policy.route"`) against the policy
/// they test. Reports what is wrong with the tests only; the policy is checked on its own.
pub fn check_tests_against(policy: &PolicyFile, tests: &PolicyFile) -> Vec<Diagnostic> {
    let mut checker = Checker::new(policy);
    checker.declarations();
    checker.diagnostics.clear();
    checker.rules();
    checker.diagnostics.clear();
    checker.tests(&tests.tests);
    let mut diagnostics = checker.diagnostics;
    for (index, used) in tests.uses.iter().enumerate() {
        if index > 0 {
            diagnostics.push(
                Diagnostic::new(
                    crate::diagnostic::Code::InvalidTestFile,
                    used.span,
                    "a file of tests uses one policy",
                )
                .with_label("a second `use`")
                .with_help("split the tests into one file per policy"),
            );
        }
    }
    let declarations = tests
        .schemas
        .iter()
        .map(|s| s.name.span)
        .chain(tests.calendars.iter().map(|c| c.name.span))
        .chain(tests.pools.iter().map(|p| p.name.span))
        .chain(tests.queues.iter().map(|q| q.name.span))
        .chain(tests.reps.iter().map(|r| r.name.span))
        .chain(tests.scores.iter().map(|s| s.name.span))
        .chain(tests.tags.iter().map(|t| t.keyword_span))
        .chain(tests.rules.iter().map(|r| r.head_span()));
    for span in declarations {
        diagnostics.push(
            Diagnostic::new(crate::diagnostic::Code::InvalidTestFile, span, "a file of tests holds only `use` and `test` blocks")
                .with_label("policy items belong in the policy")
                .with_help("move this into the policy the file uses, or remove the `use` line to make this file a policy"),
        );
    }
    diagnostics
}

/// Parses and checks a file of tests against the text of the policy it uses. `policy` is the
/// policy's text, or why it could not be read (reported at the `use` line).
pub fn check_test_file(text: &str, policy: Result<&str, String>) -> (PolicyFile, Vec<Diagnostic>) {
    let parsed = syntax::parse(text);
    let mut diagnostics = parsed.errors;
    match policy {
        Err(reason) => {
            if let Some(used) = parsed.file.uses.first() {
                diagnostics.push(
                    Diagnostic::new(
                        crate::diagnostic::Code::MissingPolicy,
                        used.span,
                        format!("cannot read `{}`: {reason}", used.value),
                    )
                    .with_label("the policy these tests test")
                    .with_help(
                        "the path is relative to this file, and stays inside the project root \
                         (the folder given with `--root`, else the folder the command names, \
                         else this file's folder)",
                    ),
                );
            }
        }
        Ok(policy_text) => {
            let policy = syntax::parse(policy_text);
            match (policy.file.uses.first(), parsed.file.uses.first()) {
                // `use` named a file of tests (itself, or one that uses another): its tests
                // would be checked against no declarations at all ("unknown queue `a`").
                (Some(_), Some(used)) => diagnostics.push(
                    Diagnostic::new(
                        crate::diagnostic::Code::MissingPolicy,
                        used.span,
                        format!(
                            "`{}` is a file of tests (it has `use`), not a policy",
                            used.value
                        ),
                    )
                    .with_label("the policy these tests test")
                    .with_help("`use` the policy itself: the file with the schema and the rules"),
                ),
                _ => diagnostics.extend(check_tests_against(&policy.file, &parsed.file)),
            }
        }
    }
    diagnostic::sort(&mut diagnostics);
    (parsed.file, diagnostics)
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
    /// Scores by name (the first declaration of each, when not named like a field).
    pub(crate) scores: BTreeMap<&'a str, &'a crate::syntax::ast::Score>,
    /// The declared tags, in declaration order.
    pub(crate) tags: Vec<&'a str>,
    /// Whether the file has a `tags { ... }` declaration.
    pub(crate) tags_declared: bool,
    /// The score whose lines are being checked (a line may not read a score).
    pub(crate) reading_score: Option<&'a str>,
    /// Whether a condition's operand is being looked up (unknown names then suggest scores).
    pub(crate) in_condition: bool,
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
            if matches!(item.kind, ItemKind::Pool | ItemKind::Rep) {
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
            scores: BTreeMap::new(),
            tags: Vec::new(),
            tags_declared: false,
            reading_score: None,
            in_condition: false,
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
