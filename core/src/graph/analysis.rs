//! Static analysis from the decision graph: shadowed rules (with every earlier rule that takes
//! their leads), gaps (with a concrete example lead per region) and, on request, overlaps.

use super::example::{Path, describe, example, paths_to, reachable_outcomes};
use super::{Compiled, Graph, Outcome, build, compile};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Atom, Bound, Cond, Policy, ScoreId};
use std::collections::BTreeSet;

/// Settings of analysis.
#[derive(Debug, Clone, Copy)]
pub struct AnalysisConfig {
    /// Report pairs of rules that both match some lead (a lint, off by default).
    pub overlaps: bool,
    pub node_budget: usize,
}

impl Default for AnalysisConfig {
    fn default() -> AnalysisConfig {
        AnalysisConfig {
            overlaps: false,
            node_budget: super::DEFAULT_NODE_BUDGET,
        }
    }
}

/// How many gap regions are shown, shadowed rules explained and overlaps listed at most.
const MAX_GAP_REGIONS: usize = 8;
const MAX_EXPLAINED_SHADOWS: usize = 64;
const MAX_OVERLAPS: usize = 200;

/// The compiled policy and what analysis found in it.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub compiled: Compiled,
    pub diagnostics: Vec<Diagnostic>,
}

/// Compiles and analyses a policy.
pub fn analyze(policy: &Policy, config: &AnalysisConfig) -> Analysis {
    let compiled = compile(
        policy,
        &super::CompileConfig {
            node_budget: config.node_budget,
        },
    );
    let mut diagnostics = Vec::new();
    match &compiled {
        Compiled::Scan { budget, .. } => {
            let span = policy
                .rules
                .first()
                .map_or(crate::span::Span::at(0), |r| r.head_span);
            diagnostics.push(
                Diagnostic::new(
                    Code::AnalysisIncomplete,
                    span,
                    format!(
                        "the decision graph would exceed its budget of {budget} (nodes and edges, and {} tests decided to build them), so shadowed rules, gaps and overlaps were not analysed",
                        budget.saturating_mul(super::build::ATOMS_PER_BUDGET)
                    ),
                )
                .with_label("rules are evaluated by an indexed first-match scan instead")
                .with_help("routing is unaffected; to analyse, give a larger budget (`--node-budget`), split the policy, or simplify rules that combine many fields with `or`"),
            );
        }
        Compiled::Graph { graph, .. } => {
            dead_score_lines(policy, config, &mut diagnostics);
            let reached = reached_rules(policy, graph);
            shadows(policy, &reached, config, &mut diagnostics);
            gaps(policy, graph, &mut diagnostics);
            if config.overlaps {
                overlaps(policy, &reached, config, &mut diagnostics);
            }
        }
    }
    Analysis {
        compiled,
        diagnostics,
    }
}

/// Score lines whose condition no lead satisfies: they never add their points.
fn dead_score_lines(policy: &Policy, config: &AnalysisConfig, out: &mut Vec<Diagnostic>) {
    for score in &policy.scores {
        for line in &score.lines {
            if line.cond != Cond::False && satisfiable(policy, &line.cond, config.node_budget) {
                continue;
            }
            out.push(
                Diagnostic::new(
                    Code::DeadScoreLine,
                    line.span,
                    format!(
                        "this line of score `{}` can never hold: its condition contradicts itself",
                        score.name
                    ),
                )
                .with_label(format!("never adds its {:+} points", line.points))
                .with_help("fix the condition, or delete the line"),
            );
        }
    }
}

/// An example lead as messages show it: its JSON, then the scores that `read` names with their
/// values for this lead (`{"id": "1", ...} (fit_score 45)`).
pub fn example_text(
    policy: &Policy,
    example: &super::example::Example,
    read: &[ScoreId],
) -> String {
    if read.is_empty() {
        return example.json.clone();
    }
    let context = crate::model::EvalContext { now: example.now };
    let scores: Vec<String> = read
        .iter()
        .filter_map(|&score| {
            let def = policy.scores.get(score)?;
            Some(format!(
                "{} {}",
                def.name,
                policy.score_value(score, &example.lead, &context)
            ))
        })
        .collect();
    format!("{} ({})", example.json, scores.join(", "))
}

/// The rules some feasible path through the graph leads to (a rule not in it is shadowed).
pub fn reached_rules(policy: &Policy, graph: &Graph) -> BTreeSet<usize> {
    reachable_outcomes(policy, graph)
        .into_iter()
        .filter_map(|outcome| match outcome {
            Outcome::Rule(index) => Some(index),
            Outcome::NoMatch => None,
        })
        .collect()
}

fn shadows(
    policy: &Policy,
    reached: &BTreeSet<usize>,
    config: &AnalysisConfig,
    out: &mut Vec<Diagnostic>,
) {
    let mut explained = 0;
    for (index, rule) in policy.rules.iter().enumerate() {
        // A final `otherwise` that nothing reaches is a safety net, not dead code.
        if reached.contains(&index) || rule.is_otherwise {
            continue;
        }
        if rule.cond == Cond::False || !satisfiable(policy, &rule.cond, config.node_budget) {
            out.push(
                Diagnostic::new(
                    Code::ShadowedRule,
                    rule.head_span,
                    format!(
                        "rule `{}` can never match: its condition contradicts itself",
                        rule.label
                    ),
                )
                .with_label("no lead satisfies this condition")
                .with_help("fix the condition, or delete the rule"),
            );
            continue;
        }
        let covers = if explained < MAX_EXPLAINED_SHADOWS {
            explained += 1;
            covering_rules(policy, index, config.node_budget)
        } else {
            None
        };
        // Where a score decides, an example lead with its score shows why.
        let read = &rule.reads;
        let example = if read.is_empty() {
            String::new()
        } else {
            build(policy, std::slice::from_ref(&rule.cond), config.node_budget)
                .ok()
                .and_then(|graph| reaching_example(policy, &graph, 0))
                .map_or(String::new(), |example| {
                    format!(", such as {}", example_text(policy, &example, read))
                })
        };
        let mut diagnostic = Diagnostic::new(
            Code::ShadowedRule,
            rule.head_span,
            match &covers {
                Some(covers) if covers.len() == 1 => format!(
                    "rule `{}` is shadowed: rule `{}` above takes every lead it matches{example}",
                    rule.label, policy.rules[covers[0]].label
                ),
                Some(covers) => format!(
                    "rule `{}` is shadowed: rules {} above take every lead it matches{example}",
                    rule.label,
                    covers
                        .iter()
                        .map(|c| format!("`{}`", policy.rules[*c].label))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => format!(
                    "rule `{}` is shadowed: earlier rules take every lead it matches{example}",
                    rule.label
                ),
            },
        )
        .with_label("no lead reaches this rule")
        .with_help("move it above the rules that take its leads, narrow them, or delete it");
        let covers = covers.unwrap_or_default();
        let share = if covers.len() == 1 { "all" } else { "some" };
        for cover in covers {
            let label = &policy.rules[cover].label;
            diagnostic = diagnostic.with_related(
                policy.rules[cover].head_span,
                format!("`{label}` takes {share} of its leads"),
            );
        }
        out.push(diagnostic);
    }
}

/// The earlier rules that win for some lead that `index` matches: those that together cover it.
fn covering_rules(policy: &Policy, index: usize, budget: usize) -> Option<Vec<usize>> {
    let own = &policy.rules.get(index)?.cond;
    let conds: Vec<Cond> = policy.rules[..index]
        .iter()
        .map(|rule| Cond::and(vec![rule.cond.clone(), own.clone()]))
        .collect();
    let graph = build(policy, &conds, budget).ok()?;
    Some(reached_rules(policy, &graph).into_iter().collect())
}

/// Whether some lead satisfies `cond` (exact, from a one-rule graph; `true` past the budget).
fn satisfiable(policy: &Policy, cond: &Cond, budget: usize) -> bool {
    match build(policy, std::slice::from_ref(cond), budget) {
        Ok(graph) => {
            let (paths, _) = paths_to(policy, &graph, Outcome::Rule(0), 1);
            paths
                .iter()
                .any(|path| example(policy, path, "check").is_some())
        }
        Err(_) => true,
    }
}

fn gaps(policy: &Policy, graph: &Graph, out: &mut Vec<Diagnostic>) {
    let (paths, more) = paths_to(policy, graph, Outcome::NoMatch, MAX_GAP_REGIONS);
    let shown: Vec<(Path, super::example::Example)> = paths
        .into_iter()
        .filter_map(|path| {
            let example = example(policy, &path, "gap-example")?;
            Some((path, example))
        })
        .collect();
    let span = policy
        .rules
        .last()
        .map_or(crate::span::Span::at(0), |rule| rule.span);
    let count = shown.len();
    for (number, (path, example)) in shown.into_iter().enumerate() {
        let clock_note = match policy.clock {
            Some(clock) if example.lead.values.get(clock).is_some_and(Option::is_some) => {
                String::new()
            }
            _ if path
                .iter()
                .any(|step| matches!(step, super::example::Step::Inside(..))) =>
            {
                format!(" routed at {}", example.now)
            }
            _ => String::new(),
        };
        let fallback = match (policy.queues.first(), policy.pools.first()) {
            (Some(queue), _) => format!("queue {queue}"),
            (None, Some(pool)) => format!("pool {}", pool.name),
            (None, None) => "queue review".to_string(),
        };
        let mut help =
            format!("add a rule for these leads, or end the policy with `otherwise -> {fallback}`");
        if more && number + 1 == count {
            help.push_str(&format!("; more gap regions exist beyond these {count}"));
        }
        out.push(
            Diagnostic::new(
                Code::Gap,
                span,
                if path.is_empty() {
                    format!(
                        "no rule matches any lead, such as {}{clock_note}",
                        example_text(policy, &example, &policy.all_rule_scores)
                    )
                } else {
                    format!(
                        "no rule matches leads with {}, such as {}{clock_note}",
                        describe(policy, &path),
                        example_text(policy, &example, &policy.all_rule_scores)
                    )
                },
            )
            .with_label("such leads fall through after the last rule")
            .with_help(help),
        );
    }
}

fn overlaps(
    policy: &Policy,
    reached: &BTreeSet<usize>,
    config: &AnalysisConfig,
    out: &mut Vec<Diagnostic>,
) {
    let mut reported = 0;
    for later in 0..policy.rules.len() {
        let rule = &policy.rules[later];
        if rule.is_otherwise || !reached.contains(&later) {
            continue;
        }
        // One warning per rule: the first overlapping rule above with an example lead, and
        // every other one as a related place.
        let mut first: Option<(usize, String)> = None;
        let mut others: Vec<usize> = Vec::new();
        for earlier in 0..later {
            let other = &policy.rules[earlier];
            if other.is_otherwise || disjoint(&other.cond, &rule.cond) {
                continue;
            }
            let both = Cond::and(vec![other.cond.clone(), rule.cond.clone()]);
            let Ok(graph) = build(policy, std::slice::from_ref(&both), config.node_budget) else {
                continue;
            };
            let (paths, _) = paths_to(policy, &graph, Outcome::Rule(0), 4);
            let Some((path, example)) = paths
                .into_iter()
                .find_map(|path| example(policy, &path, "overlap-example").map(|e| (path, e)))
            else {
                continue;
            };
            if first.is_none() {
                let mut read = other.reads.clone();
                read.extend(&rule.reads);
                read.sort_unstable();
                read.dedup();
                let shown = example_text(policy, &example, &read);
                let description = if path.is_empty() {
                    format!("every lead, such as {shown}")
                } else {
                    format!("leads with {}, such as {shown}", describe(policy, &path))
                };
                first = Some((earlier, description));
            } else {
                others.push(earlier);
            }
        }
        let Some((earlier, description)) = first else {
            continue;
        };
        if reported == MAX_OVERLAPS {
            return;
        }
        reported += 1;
        let other = &policy.rules[earlier];
        let mut message = format!(
            "rules `{}` and `{}` both match {description}",
            other.label, rule.label
        );
        if !others.is_empty() {
            let names: Vec<String> = others
                .iter()
                .map(|i| format!("`{}`", policy.rules[*i].label))
                .collect();
            message.push_str(&format!(
                "; `{}` also overlaps {}",
                rule.label,
                names.join(", ")
            ));
        }
        let mut diagnostic = Diagnostic::new(Code::Overlap, rule.head_span, message)
            .with_label(format!("`{}` above decides the shared leads", other.label))
            .with_related(other.head_span, "takes the shared leads first")
            .with_help("first match wins, so this is often intended; make it explicit by narrowing one rule if not");
        for index in others {
            diagnostic =
                diagnostic.with_related(policy.rules[index].head_span, "also shares leads with it");
        }
        out.push(diagnostic);
    }
}

/// A cheap proof that two conditions share no lead: both are conjunctions that constrain one
/// field to disjoint values.
fn disjoint(left: &Cond, right: &Cond) -> bool {
    let conjuncts = |cond: &Cond| -> Vec<Atom> {
        match cond {
            Cond::Atom(atom) => vec![atom.clone()],
            Cond::And(parts) => parts
                .iter()
                .filter_map(|part| match part {
                    Cond::Atom(atom) => Some(atom.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    };
    let left = conjuncts(left);
    let right = conjuncts(right);
    left.iter()
        .any(|a| right.iter().any(|b| atoms_disjoint(a, b)))
}

fn atoms_disjoint(left: &Atom, right: &Atom) -> bool {
    match (left, right) {
        (
            Atom::OneOf {
                field: f,
                variants: a,
            },
            Atom::OneOf {
                field: g,
                variants: b,
            },
        ) if f == g => !a.iter().any(|v| b.binary_search(v).is_ok()),
        (
            Atom::StrIn {
                field: f,
                values: a,
            },
            Atom::StrIn {
                field: g,
                values: b,
            },
        ) if f == g => !a.iter().any(|v| b.binary_search(v).is_ok()),
        (
            Atom::Range {
                field: f,
                lo: a_lo,
                hi: a_hi,
            },
            Atom::Range {
                field: g,
                lo: b_lo,
                hi: b_hi,
            },
        ) if f == g => ends_before(*a_hi, *b_lo) || ends_before(*b_hi, *a_lo),
        _ => false,
    }
}

/// Whether every value below `hi` is below `lo` too (the ranges cannot meet).
fn ends_before(hi: Bound, lo: Bound) -> bool {
    match (hi, lo) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => false,
        (Bound::Inclusive(h), Bound::Inclusive(l)) => h < l,
        (Bound::Inclusive(h), Bound::Exclusive(l))
        | (Bound::Exclusive(h), Bound::Inclusive(l))
        | (Bound::Exclusive(h), Bound::Exclusive(l)) => h <= l,
    }
}

/// A concrete lead that rule `index` matches first, from a path to one of its leaves.
pub fn reaching_example(
    policy: &Policy,
    graph: &Graph,
    index: usize,
) -> Option<super::example::Example> {
    let (paths, _) = paths_to(policy, graph, Outcome::Rule(index), 4);
    paths
        .iter()
        .find_map(|path| example(policy, path, "reach-example"))
}

/// Up to `limit` example leads that no rule matches, one per gap region.
pub fn gap_examples(policy: &Policy, graph: &Graph, limit: usize) -> Vec<super::example::Example> {
    let (paths, _) = paths_to(policy, graph, Outcome::NoMatch, limit);
    paths
        .iter()
        .filter_map(|path| example(policy, path, "gap-example"))
        .collect()
}
