//! The semantic diff of two policies: what a change to a policy does to leads, before it ships.
//!
//! [`diff`] compares two resolved policies over every lead both accept. Each rule decides a
//! [`Verdict`] (`verdict.rs`): its label (name, or `#N`) and its [`Routing`] (the actions with
//! their targets, the SLA, the escalation chain). The product of the two decision graphs
//! (`product.rs`) splits the common lead space into regions on which both policies are constant;
//! every region where they decide differently is reported with a concrete example lead and
//! `old -> new` (`walk.rs` lists them). Schema changes (`schema.rs`) and changed pools and
//! calendars (`declarations.rs`) are reported beside the regions. The backtest (`backtest.rs`)
//! routes real leads through both policies; `render.rs` shows it all.
//!
//! What counts as a change, exactly:
//! - a **routing change**: a lead's actions (kind and target, `else` chain included), its SLA
//!   (`within`, compared as durations: `1h` = `60m` = `1 business hours`) or its escalation
//!   chain (targets and times, `after` defaulting to `within`) differ, or a rule matches it on one
//!   side and none on the other;
//! - a **rule-only change**: the routing is the same but another rule label decides (a rule
//!   renamed, or an unnamed rule whose position `#N` moved). Decisions carry the rule's label, so
//!   reports grouped by rule see it; the lead goes to the same place. Not a difference in
//!   routing: it makes the policies non-equivalent only with `strict`;
//! - **never** a change: line numbers, comments, formatting, rule order that decides nothing,
//!   conditions written differently with the same meaning, tests;
//! - a **schema change** (a field added, removed or retyped, an enum variant added or removed,
//!   a field made optional or required): some lead fits one schema only;
//! - a **declaration change**: a pool's members, strategy, cap or calendar, or a calendar's time
//!   zone, hours or holidays, for a pool or calendar both declare (who gets the lead and when it
//!   is due change for every lead sent there), and a `rep` item added, removed or changed. Each
//!   comes with an example lead and time that both policies route differently, when routing
//!   finds one (`witness.rs`). Declarations only one side has change nothing by themselves: the
//!   rules that use them show up as regions.
//!
//! Architecture invariant: no I/O. Policies in, values out; the CLI reads files and git.

pub mod backtest;
mod product;
mod region;
pub mod render;
mod schema;

mod declarations;
mod verdict;
mod walk;
mod witness;

use crate::graph::{Graph, Outcome};
use crate::model::{EvalContext, Lead, Policy};
pub use declarations::{DeclarationChange, DeclarationKind, Presence};
use product::{Decided, Live};
pub use region::{Region, ScoreShift, Test, Values};
pub use schema::{FieldChange, Misfit, SchemaChange};
use std::collections::HashMap;
pub use verdict::{Action, ChangeKind, Delay, Escalation, Routing, SlaChange, Verdict};

/// Settings of the semantic diff.
#[derive(Debug, Clone, Copy)]
pub struct DiffConfig {
    /// The most nodes the product graph may have before the comparison gives up.
    pub node_budget: usize,
    /// How many regions (each with an example lead) are listed per change at most.
    pub max_regions: usize,
}

impl Default for DiffConfig {
    fn default() -> DiffConfig {
        DiffConfig {
            node_budget: crate::graph::DEFAULT_NODE_BUDGET,
            max_regions: 8,
        }
    }
}

/// Leads whose decision changes in the same way, and the regions they lie in.
#[derive(Debug, Clone)]
pub struct Change {
    pub old: Verdict,
    pub new: Verdict,
    pub kind: ChangeKind,
    pub regions: Vec<Region>,
    /// More regions exist than are listed.
    pub more_regions: bool,
}

/// The regions where the two policies decide differently, or why they were not compared.
#[derive(Debug, Clone)]
pub enum Regions {
    Compared {
        /// Routing changes first (by OLD's rule order), then rule-only changes.
        changes: Vec<Change>,
        /// The comparison, for classifying leads.
        comparison: Box<Comparison>,
    },
    NotCompared {
        reason: String,
    },
}

/// The product graph over the common lead space: classifies any lead that fits both schemas.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The common schema, calendars and clock (no rules).
    pub common: Policy,
    /// The product graph: `Outcome::Rule(k)` leaves are `pairs[k]`, `NoMatch` is "same".
    pub graph: Graph,
    /// `(old rule, new rule)` per pair, as rule indices (`None`: no rule matches).
    pub pairs: Vec<(Option<usize>, Option<usize>)>,
    old: schema::SideMap,
    new: schema::SideMap,
}

impl Comparison {
    /// The pair of different decisions a lead of the common schema falls in, or `None` when
    /// both policies decide the same for it.
    pub fn classify(
        &self,
        lead: &Lead,
        context: &EvalContext,
    ) -> Option<(Option<usize>, Option<usize>)> {
        match self.graph.evaluate(&self.common, lead, context) {
            Outcome::Rule(k) => self.pairs.get(k).copied(),
            Outcome::NoMatch => None,
        }
    }

    /// A lead of the common schema as OLD reads it.
    pub fn old_lead(&self, lead: &Lead) -> Lead {
        self.old.lead(lead, &self.common)
    }

    /// A lead of the common schema as NEW reads it.
    pub fn new_lead(&self, lead: &Lead) -> Lead {
        self.new.lead(lead, &self.common)
    }

    /// Whether a lead of the common schema lies in a region.
    pub fn contains(&self, region: &Region, lead: &Lead, context: &EvalContext) -> bool {
        region.contains(&self.common, lead, context)
    }
}

/// Everything that differs between two policies.
#[derive(Debug, Clone)]
pub struct SemanticDiff {
    pub schema: Vec<SchemaChange>,
    pub declarations: Vec<DeclarationChange>,
    pub regions: Regions,
}

impl SemanticDiff {
    /// The changes, when the regions were compared.
    pub fn changes(&self) -> &[Change] {
        match &self.regions {
            Regions::Compared { changes, .. } => changes,
            Regions::NotCompared { .. } => &[],
        }
    }

    pub fn routing_changes(&self) -> usize {
        self.changes()
            .iter()
            .filter(|c| c.kind != ChangeKind::RuleOnly)
            .count()
    }

    pub fn rule_only_changes(&self) -> usize {
        self.changes()
            .iter()
            .filter(|c| c.kind == ChangeKind::RuleOnly)
            .count()
    }

    /// Every lead fits both schemas and is routed the same way, with the same pools and
    /// calendars; with `strict`, by a rule of the same label too.
    pub fn is_equivalent(&self, strict: bool) -> bool {
        self.schema.is_empty()
            && !self.declarations.iter().any(DeclarationChange::matters)
            && matches!(self.regions, Regions::Compared { .. })
            && self.routing_changes() == 0
            && (!strict || self.rule_only_changes() == 0)
    }
}

/// The scores each side's decision reports for an example lead of the common schema.
fn score_shifts(
    old: &Policy,
    new: &Policy,
    common: &schema::Common,
    (a, b): (Option<usize>, Option<usize>),
    example: &crate::graph::example::Example,
) -> Vec<ScoreShift> {
    let context = EvalContext { now: example.now };
    let side = |policy: &Policy, rule: Option<usize>, lead: Lead| -> Vec<(String, i64)> {
        let read = rule
            .and_then(|index| policy.rules.get(index))
            .map_or(&policy.all_rule_scores, |rule| &rule.path_scores);
        read.iter()
            .filter_map(|&score| {
                let name = policy.scores.get(score)?.name.clone();
                Some((name, policy.score_value(score, &lead, &context)))
            })
            .collect()
    };
    let before = side(old, a, common.old.lead(&example.lead, &common.policy));
    let after = side(new, b, common.new.lead(&example.lead, &common.policy));
    let mut shifts: Vec<ScoreShift> = before
        .iter()
        .map(|(name, value)| ScoreShift {
            name: name.clone(),
            old: Some(*value),
            new: after.iter().find(|(n, _)| n == name).map(|(_, v)| *v),
        })
        .collect();
    for (name, value) in after {
        if !shifts.iter().any(|shift| shift.name == name) {
            shifts.push(ScoreShift {
                name,
                old: None,
                new: Some(value),
            });
        }
    }
    shifts
}

/// Compares two policies over every lead.
pub fn diff(old: &Policy, new: &Policy, config: &DiffConfig) -> SemanticDiff {
    let common = schema::common(old, new);
    let base = schema::base_lead(common.as_ref().ok().map(|c| &c.policy), old);
    let schema = schema::changes(old, new, &base);
    let mut declarations = declarations::declarations(old, new);
    witness::find_examples(old, new, &mut declarations);
    let regions = match common {
        Err(reason) => Regions::NotCompared { reason },
        Ok(common) => compare(old, new, common, config),
    };
    SemanticDiff {
        schema,
        declarations,
        regions,
    }
}

fn compare(old: &Policy, new: &Policy, common: schema::Common, config: &DiffConfig) -> Regions {
    // Verdict ids: one per (label, routing), shared by both sides, so that equal live lists
    // mean equal decisions.
    let mut ids: HashMap<(String, Routing), u32> = HashMap::new();
    let mut rule_of: HashMap<(bool, u32), usize> = HashMap::new();
    let mut live = |policy: &Policy, side: &schema::SideMap, is_new: bool| -> Live {
        policy
            .rules
            .iter()
            .enumerate()
            .filter_map(|(index, rule)| {
                let key = (rule.label.clone(), Routing::of(policy, rule));
                let next = u32::try_from(ids.len()).unwrap_or(u32::MAX);
                let id = *ids.entry(key).or_insert(next);
                rule_of.entry((is_new, id)).or_insert(index);
                let cond = side.translate(&rule.cond, &common.policy);
                (cond != crate::model::Cond::False).then_some((id, cond))
            })
            .collect()
    };
    let old_live = live(old, &common.old, false);
    let new_live = live(new, &common.new, true);
    let Ok(product) = product::build(&common.policy, old_live, new_live, config.node_budget) else {
        return Regions::NotCompared {
            reason: format!(
                "comparing them needs more than {} decision-graph nodes (see --node-budget); backtest on real leads with --leads",
                config.node_budget
            ),
        };
    };
    let rule =
        |is_new: bool, decided: Decided| decided.and_then(|id| rule_of.get(&(is_new, id)).copied());
    let pairs: Vec<(Option<usize>, Option<usize>)> = product
        .pairs
        .iter()
        .map(|(a, b)| (rule(false, *a), rule(true, *b)))
        .collect();
    let found = walk::enumerate(
        &common.policy,
        &product.graph,
        pairs.len(),
        config.max_regions,
    );
    let mut changes: Vec<Change> = found
        .into_iter()
        .enumerate()
        .filter_map(|(k, (regions, more_regions, reachable))| {
            if !reachable {
                return None;
            }
            let (a, b) = pairs[k];
            let old_verdict = Verdict::of(old, a);
            let new_verdict = Verdict::of(new, b);
            let kind = ChangeKind::between(&old_verdict, &new_verdict);
            let mut regions = regions;
            for region in &mut regions {
                region.scores = score_shifts(old, new, &common, (a, b), &region.example);
            }
            Some(Change {
                old: old_verdict,
                new: new_verdict,
                kind,
                regions,
                more_regions,
            })
        })
        .collect();
    changes.sort_by_key(|c| {
        (
            c.kind == ChangeKind::RuleOnly,
            c.old.rule.unwrap_or(usize::MAX),
            c.new.rule.unwrap_or(usize::MAX),
        )
    });
    Regions::Compared {
        changes,
        comparison: Box::new(Comparison {
            common: common.policy,
            graph: product.graph,
            pairs,
            old: common.old,
            new: common.new,
        }),
    }
}
