//! The semantic diff of two policies: what a change to a policy does to leads, before it ships.
//!
//! [`diff`] compares two resolved policies over every lead both accept. Each rule decides a
//! [`Verdict`]: its label (name, or `#N`) and its [`Routing`] (the actions with their targets,
//! the SLA, the escalation chain). The product of the two decision graphs (`product.rs`) splits
//! the common lead space into regions on which both policies are constant; every region where
//! they decide differently is reported with a concrete example lead and `old -> new`. Schema
//! changes (`schema.rs`) and changed pools and calendars are reported beside the regions. The
//! backtest (`backtest.rs`) routes real leads through both policies; `render.rs` shows it all.
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
//!   is due change for every lead sent there). Declarations only one side has change nothing by
//!   themselves: the rules that use them show up as regions.
//!
//! Architecture invariant: no I/O. Policies in, values out; the CLI reads files and git.

pub mod backtest;
mod product;
mod region;
pub mod render;
mod schema;

use crate::graph::example::{self, Step, branches, paths_to, reachable_outcomes};
use crate::graph::{Graph, Node, NodeId, Outcome};
use crate::model::{CalendarDef, EvalContext, Lead, Policy, PoolDef, RuleDef, StrategyDef};
use crate::syntax::ast::{ActionKind, BusinessUnit, DurationKind};
use product::{Decided, Live};
pub use region::{Region, Test, Values};
pub use schema::{FieldChange, Misfit, SchemaChange};
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

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

/// An SLA or escalation time as it counts: working (or wall-clock) seconds, or business days.
/// `N business hours` is `N * 3600` working seconds, exactly as the clock adds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delay {
    Seconds(u64),
    BusinessDays(u64),
}

impl Delay {
    pub fn from_kind(kind: DurationKind) -> Delay {
        match kind {
            DurationKind::Fixed { seconds } => Delay::Seconds(seconds),
            DurationKind::Business {
                count,
                unit: BusinessUnit::Hours,
            } => Delay::Seconds(count.saturating_mul(3_600)),
            DurationKind::Business {
                count,
                unit: BusinessUnit::Days,
            } => Delay::BusinessDays(count),
        }
    }

    /// `15m`, `1h30m`, `2 business days`.
    pub fn show(self) -> String {
        match self {
            Delay::Seconds(seconds) => DurationKind::Fixed { seconds }.to_string(),
            Delay::BusinessDays(count) => {
                format!("{count} business day{}", if count == 1 { "" } else { "s" })
            }
        }
    }

    /// Which is shorter, when that can be told without a calendar.
    pub fn compare(self, other: Delay) -> Option<Ordering> {
        match (self, other) {
            (Delay::Seconds(a), Delay::Seconds(b))
            | (Delay::BusinessDays(a), Delay::BusinessDays(b)) => Some(a.cmp(&b)),
            _ => None,
        }
    }
}

/// One action of a rule, with its target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    Pool(String),
    Queue(String),
    /// `rep NAME`, or `rep FIELD` (the rep named in a string field of the lead).
    Rep {
        name: String,
        field: bool,
    },
    OwnerOf(String),
}

impl Action {
    /// As written: `pool senior`, `rep anna`, `owner of parent_account`, `queue review`.
    pub fn describe(&self) -> String {
        match self {
            Action::Pool(name) => format!("pool {name}"),
            Action::Queue(name) => format!("queue {name}"),
            Action::Rep { name, .. } => format!("rep {name}"),
            Action::OwnerOf(name) => format!("owner of {name}"),
        }
    }
}

/// An escalation: where the lead goes when the SLA is missed, and after how long.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Escalation {
    pub to: String,
    /// `after`, else the rule's `within`.
    pub after: Option<Delay>,
}

/// What a rule does with a lead, as the lead sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Routing {
    /// The actions in `else` order.
    pub actions: Vec<Action>,
    pub within: Option<Delay>,
    pub escalations: Vec<Escalation>,
}

impl Routing {
    pub fn of(policy: &Policy, rule: &RuleDef) -> Routing {
        let syntax = &rule.syntax;
        let within = syntax.within.map(|d| Delay::from_kind(d.kind));
        Routing {
            actions: syntax
                .actions
                .iter()
                .map(|action| match &action.kind {
                    ActionKind::Pool(name) => Action::Pool(name.name.clone()),
                    ActionKind::Queue(name) => Action::Queue(name.name.clone()),
                    ActionKind::Rep(name) => Action::Rep {
                        name: name.name.clone(),
                        field: policy.field_id(&name.name).is_some(),
                    },
                    ActionKind::OwnerOf(name) => Action::OwnerOf(name.name.clone()),
                })
                .collect(),
            within,
            escalations: syntax
                .escalations
                .iter()
                .map(|e| Escalation {
                    to: e.target.name.clone(),
                    after: e.after.map(|d| Delay::from_kind(d.kind)).or(within),
                })
                .collect(),
        }
    }

    /// `pool senior within 15m, escalate backup after 30m`; `pool sdr else queue review`.
    pub fn describe(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        let actions: Vec<String> = self.actions.iter().map(Action::describe).collect();
        let mut head = actions.join(" else ");
        if let Some(within) = self.within {
            head.push_str(&format!(" within {}", within.show()));
        }
        out.push(head);
        for escalation in &self.escalations {
            out.push(match escalation.after {
                Some(after) => format!("escalate {} after {}", escalation.to, after.show()),
                None => format!("escalate {}", escalation.to),
            });
        }
        out.join(", ")
    }
}

/// One side of a change: the rule that decides (its index in its policy), or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The rule's index in its policy; `None` when no rule matches.
    pub rule: Option<usize>,
    /// The rule's label (`hot`, `#3`).
    pub label: Option<String>,
    pub line: Option<usize>,
    pub routing: Option<Routing>,
}

impl Verdict {
    fn of(policy: &Policy, rule: Option<usize>) -> Verdict {
        let def = rule.and_then(|index| policy.rules.get(index));
        Verdict {
            rule: rule.filter(|index| *index < policy.rules.len()),
            label: def.map(|d| d.label.clone()),
            line: def.map(|d| d.line),
            routing: def.map(|d| Routing::of(policy, d)),
        }
    }

    /// `rule `hot` (line 67): pool senior within 15m, ...`, or `no rule matches (unassigned)`.
    pub fn describe(&self) -> String {
        match (&self.label, &self.routing) {
            (Some(label), Some(routing)) => format!(
                "rule `{label}`{}: {}",
                self.line.map_or(String::new(), |l| format!(" (line {l})")),
                routing.describe()
            ),
            _ => "no rule matches (unassigned)".to_string(),
        }
    }
}

/// How an SLA changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaChange {
    /// Shorter: leads are due sooner.
    Tightened,
    Loosened,
    /// None before.
    Added,
    /// None after.
    Removed,
    /// Not comparable without a calendar (business days against hours).
    Changed,
}

impl SlaChange {
    pub fn between(old: Option<Delay>, new: Option<Delay>) -> Option<SlaChange> {
        match (old, new) {
            (None, None) => None,
            (None, Some(_)) => Some(SlaChange::Added),
            (Some(_), None) => Some(SlaChange::Removed),
            (Some(a), Some(b)) => match a.compare(b) {
                Some(Ordering::Equal) => None,
                Some(Ordering::Greater) => Some(SlaChange::Tightened),
                Some(Ordering::Less) => Some(SlaChange::Loosened),
                None => Some(SlaChange::Changed),
            },
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SlaChange::Tightened => "tightened",
            SlaChange::Loosened => "loosened",
            SlaChange::Added => "added",
            SlaChange::Removed => "removed",
            SlaChange::Changed => "changed",
        }
    }
}

/// What differs between the two sides of a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// Same routing, another rule label decides.
    RuleOnly,
    Routing {
        /// The actions or their targets differ (or a rule matches on one side only).
        destination: bool,
        sla: Option<SlaChange>,
        escalation: bool,
    },
}

impl ChangeKind {
    fn between(old: &Verdict, new: &Verdict) -> ChangeKind {
        match (&old.routing, &new.routing) {
            (Some(a), Some(b)) if a == b => ChangeKind::RuleOnly,
            (a, b) => {
                let actions = |r: &Option<Routing>| r.as_ref().map(|r| r.actions.clone());
                let within = |r: &Option<Routing>| r.as_ref().and_then(|r| r.within);
                let escalations = |r: &Option<Routing>| {
                    r.as_ref()
                        .map(|r| r.escalations.clone())
                        .unwrap_or_default()
                };
                ChangeKind::Routing {
                    destination: actions(a) != actions(b),
                    sla: SlaChange::between(within(a), within(b)),
                    escalation: escalations(a) != escalations(b),
                }
            }
        }
    }

    /// `destination`, `SLA tightened (15m -> 10m)`, `escalation`, joined; `rule only`.
    pub fn describe(&self, old: &Verdict, new: &Verdict) -> String {
        match self {
            ChangeKind::RuleOnly => "rule only (same routing)".to_string(),
            ChangeKind::Routing {
                destination,
                sla,
                escalation,
            } => {
                let mut parts = Vec::new();
                if *destination {
                    parts.push("destination".to_string());
                }
                if let Some(sla) = sla {
                    let show = |v: &Verdict| {
                        v.routing
                            .as_ref()
                            .and_then(|r| r.within)
                            .map_or("none".to_string(), Delay::show)
                    };
                    parts.push(format!(
                        "SLA {} ({} -> {})",
                        sla.as_str(),
                        show(old),
                        show(new)
                    ));
                }
                if *escalation {
                    parts.push("escalation".to_string());
                }
                parts.join(", ")
            }
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

/// A kind of declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeclarationKind {
    Pool,
    Queue,
    Calendar,
}

impl DeclarationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeclarationKind::Pool => "pool",
            DeclarationKind::Queue => "queue",
            DeclarationKind::Calendar => "calendar",
        }
    }
}

/// Whether a declaration was added, removed or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Added,
    Removed,
    Changed,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Added => "added",
            Presence::Removed => "removed",
            Presence::Changed => "changed",
        }
    }
}

/// A pool, queue or calendar that one policy declares differently from the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclarationChange {
    pub kind: DeclarationKind,
    pub name: String,
    pub presence: Presence,
    /// What changed, one item each: "members: anna, boris -> anna, boris, chen".
    pub details: Vec<String>,
    /// For a pool, NEW's rules that send leads to it (as an action or escalation target); for a
    /// calendar, NEW's pools whose SLA clock it is.
    pub used_by: Vec<String>,
}

impl DeclarationChange {
    /// Whether it changes what happens to some lead (a changed pool or calendar).
    pub fn matters(&self) -> bool {
        self.presence == Presence::Changed
    }
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

/// Compares two policies over every lead.
pub fn diff(old: &Policy, new: &Policy, config: &DiffConfig) -> SemanticDiff {
    let common = schema::common(old, new);
    let base = schema::base_lead(common.as_ref().ok().map(|c| &c.policy), old);
    let schema = schema::changes(old, new, &base);
    let declarations = declarations(old, new);
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
    let found = enumerate(
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

/// How many paths per change are collected (and merged) before the regions are listed.
const COLLECT_PER_CHANGE: usize = 64;

/// How many graph steps the region walk may take before it falls back to one targeted search
/// per change.
const WALK_BUDGET: usize = 2_000_000;

/// Per pair: up to `limit` regions with examples, whether more exist, and whether any feasible
/// lead reaches the pair at all.
fn enumerate(
    policy: &Policy,
    graph: &Graph,
    pairs: usize,
    limit: usize,
) -> Vec<(Vec<Region>, bool, bool)> {
    let reachable: BTreeSet<usize> = reachable_outcomes(policy, graph)
        .into_iter()
        .filter_map(|outcome| match outcome {
            Outcome::Rule(k) => Some(k),
            Outcome::NoMatch => None,
        })
        .collect();
    // Paths are collected beyond the limit, so that neighbouring ones can merge into the
    // regions shown.
    let limit = limit.max(1);
    let collect = limit.max(COLLECT_PER_CHANGE);
    let mut walk = Walk {
        policy,
        graph,
        below: vec![None; graph.nodes.len()],
        found: vec![Vec::new(); pairs],
        more: vec![false; pairs],
        limit: collect,
        budget: WALK_BUDGET,
        feasible: HashMap::new(),
        path: Vec::new(),
    };
    walk.visit(graph.root);
    let Walk { found, more, .. } = walk;
    found
        .into_iter()
        .zip(more)
        .enumerate()
        .map(|(k, (mut regions, mut more))| {
            let reached = reachable.contains(&k);
            if reached && regions.is_empty() {
                // The walk ran out of budget before this pair: search for it alone.
                let (paths, beyond) = paths_to(policy, graph, Outcome::Rule(k), collect);
                regions = paths
                    .iter()
                    .filter_map(|path| region(policy, path))
                    .collect();
                more = beyond;
            }
            let mut regions = region::merge_all(regions, policy);
            if regions.len() > limit {
                regions.truncate(limit);
                more = true;
            }
            (regions, more, reached)
        })
        .collect()
}

fn region(policy: &Policy, steps: &[Step]) -> Option<Region> {
    Region::from_path(policy, steps)
}

/// A depth-first walk over the product graph's feasible paths that collects regions per pair
/// and skips subgraphs whose pairs all have their regions (and are known to have more).
struct Walk<'a> {
    policy: &'a Policy,
    graph: &'a Graph,
    /// The pairs below each node, computed on demand.
    below: Vec<Option<Vec<usize>>>,
    found: Vec<Vec<Region>>,
    more: Vec<bool>,
    limit: usize,
    budget: usize,
    /// Feasibility of the time-related steps of a path (calendar tests with the clock).
    feasible: HashMap<String, bool>,
    path: Vec<Step>,
}

impl Walk<'_> {
    fn below(&mut self, id: NodeId) -> Vec<usize> {
        if let Some(Some(known)) = self.below.get(id as usize) {
            return known.clone();
        }
        let mut out: Vec<usize> = match self.graph.nodes.get(id as usize) {
            None | Some(Node::Leaf(Outcome::NoMatch)) => Vec::new(),
            Some(Node::Leaf(Outcome::Rule(k))) => vec![*k],
            Some(node) => {
                let children = node.children();
                let mut all = Vec::new();
                for child in children {
                    all.extend(self.below(child));
                }
                all
            }
        };
        out.sort_unstable();
        out.dedup();
        if let Some(slot) = self.below.get_mut(id as usize) {
            *slot = Some(out.clone());
        }
        out
    }

    fn done(&self, k: usize) -> bool {
        self.found.get(k).is_some_and(|f| f.len() >= self.limit)
            && self.more.get(k).copied().unwrap_or(true)
    }

    fn time_feasible(&mut self) -> bool {
        if self.policy.calendars.is_empty() {
            return true;
        }
        let clock = self.policy.clock;
        let relevant: Vec<Step> = self
            .path
            .iter()
            .filter(|step| match step {
                Step::Inside(..) => true,
                Step::Range(field, _) | Step::Absent(field) => Some(*field) == clock,
                _ => false,
            })
            .cloned()
            .collect();
        if !relevant.iter().any(|s| matches!(s, Step::Inside(..))) {
            return true;
        }
        let key = format!("{relevant:?}");
        if let Some(known) = self.feasible.get(&key) {
            return *known;
        }
        let policy = self.policy;
        let feasible = example::example(policy, &relevant, "feasible").is_some();
        self.feasible.insert(key, feasible);
        feasible
    }

    fn visit(&mut self, id: NodeId) {
        if self.budget == 0 {
            return;
        }
        self.budget -= 1;
        let Some(node) = self.graph.nodes.get(id as usize) else {
            return;
        };
        match node {
            Node::Leaf(Outcome::NoMatch) => {}
            Node::Leaf(Outcome::Rule(k)) => {
                let k = *k;
                if self.found[k].len() >= self.limit {
                    self.more[k] = true;
                } else if let Some(region) = region(self.policy, &self.path) {
                    self.found[k].push(region);
                }
            }
            node => {
                for (step, child) in branches(node) {
                    let wanted = self.below(child);
                    if wanted.iter().all(|k| self.done(*k)) {
                        continue;
                    }
                    let timed = matches!(step, Step::Inside(..))
                        || matches!(step, Step::Range(f, _) | Step::Absent(f) if Some(f) == self.policy.clock);
                    self.path.push(step);
                    if !timed || self.time_feasible() {
                        self.visit(child);
                    }
                    self.path.pop();
                }
            }
        }
    }
}

/// The pools, queues and calendars that differ.
fn declarations(old: &Policy, new: &Policy) -> Vec<DeclarationChange> {
    let mut out = Vec::new();
    let used_by = |name: &str| -> Vec<String> {
        new.rules
            .iter()
            .filter(|rule| {
                rule.syntax.actions.iter().any(|a| match &a.kind {
                    ActionKind::Pool(pool) => pool.name == name,
                    _ => false,
                }) || rule
                    .syntax
                    .escalations
                    .iter()
                    .any(|e| e.target.name == name)
            })
            .map(|rule| rule.label.clone())
            .collect()
    };
    let calendar_name = |policy: &Policy, id: Option<usize>| {
        id.and_then(|c| policy.calendars.get(c))
            .map_or("none".to_string(), |c| c.name.clone())
    };
    for pool in &old.pools {
        match new.pools.iter().find(|p| p.name == pool.name) {
            None => out.push(DeclarationChange {
                kind: DeclarationKind::Pool,
                name: pool.name.clone(),
                presence: Presence::Removed,
                details: Vec::new(),
                used_by: Vec::new(),
            }),
            Some(other) => {
                let mut details = Vec::new();
                if pool.members != other.members {
                    details.push(format!(
                        "members: {} -> {}",
                        pool.members.join(", "),
                        other.members.join(", ")
                    ));
                }
                let (a, b) = (strategy(pool), strategy(other));
                if a != b {
                    details.push(format!("strategy: {a} -> {b}"));
                }
                if pool.cap != other.cap {
                    let show = |cap: Option<u64>| cap.map_or("none".to_string(), |c| c.to_string());
                    details.push(format!("cap: {} -> {}", show(pool.cap), show(other.cap)));
                }
                let (a, b) = (
                    calendar_name(old, pool.calendar),
                    calendar_name(new, other.calendar),
                );
                if a != b {
                    details.push(format!("calendar: {a} -> {b}"));
                }
                if !details.is_empty() {
                    out.push(DeclarationChange {
                        kind: DeclarationKind::Pool,
                        name: pool.name.clone(),
                        presence: Presence::Changed,
                        details,
                        used_by: used_by(&pool.name),
                    });
                }
            }
        }
    }
    for pool in &new.pools {
        if !old.pools.iter().any(|p| p.name == pool.name) {
            out.push(DeclarationChange {
                kind: DeclarationKind::Pool,
                name: pool.name.clone(),
                presence: Presence::Added,
                details: Vec::new(),
                used_by: used_by(&pool.name),
            });
        }
    }
    for (from, to, presence) in [(old, new, Presence::Removed), (new, old, Presence::Added)] {
        for queue in &from.queues {
            if !to.queues.contains(queue) {
                out.push(DeclarationChange {
                    kind: DeclarationKind::Queue,
                    name: queue.clone(),
                    presence,
                    details: Vec::new(),
                    used_by: Vec::new(),
                });
            }
        }
    }
    for calendar in &old.calendars {
        match new.calendars.iter().find(|c| c.name == calendar.name) {
            None => out.push(DeclarationChange {
                kind: DeclarationKind::Calendar,
                name: calendar.name.clone(),
                presence: Presence::Removed,
                details: Vec::new(),
                used_by: Vec::new(),
            }),
            Some(other) => {
                let details = calendar_details(calendar, other);
                if !details.is_empty() {
                    // The pools whose SLA clock it is, in NEW.
                    let index = new.calendars.iter().position(|c| c.name == calendar.name);
                    let used_by = new
                        .pools
                        .iter()
                        .filter(|pool| pool.calendar.is_some() && pool.calendar == index)
                        .map(|pool| pool.name.clone())
                        .collect();
                    out.push(DeclarationChange {
                        kind: DeclarationKind::Calendar,
                        name: calendar.name.clone(),
                        presence: Presence::Changed,
                        details,
                        used_by,
                    });
                }
            }
        }
    }
    for calendar in &new.calendars {
        if !old.calendars.iter().any(|c| c.name == calendar.name) {
            out.push(DeclarationChange {
                kind: DeclarationKind::Calendar,
                name: calendar.name.clone(),
                presence: Presence::Added,
                details: Vec::new(),
                used_by: Vec::new(),
            });
        }
    }
    out
}

fn strategy(pool: &PoolDef) -> String {
    match &pool.strategy {
        StrategyDef::RoundRobin => "round_robin".to_string(),
        StrategyDef::LeastLoaded => "least_loaded".to_string(),
        StrategyDef::Ordered => "ordered".to_string(),
        StrategyDef::Weighted(weights) => {
            let parts: Vec<String> = pool
                .members
                .iter()
                .zip(weights)
                .map(|(member, weight)| format!("{member}={weight}"))
                .collect();
            format!("weighted({})", parts.join(", "))
        }
    }
}

fn calendar_details(old: &CalendarDef, new: &CalendarDef) -> Vec<String> {
    let mut details = Vec::new();
    if old.zone != new.zone {
        let zone = |c: &CalendarDef| c.zone_name().to_string();
        details.push(format!("timezone: {} -> {}", zone(old), zone(new)));
    }
    if old.week != new.week {
        details.push(format!("hours: {} -> {}", hours(old), hours(new)));
    }
    if old.holidays != new.holidays {
        let added: Vec<String> = new
            .holidays
            .difference(&old.holidays)
            .map(ToString::to_string)
            .collect();
        let removed: Vec<String> = old
            .holidays
            .difference(&new.holidays)
            .map(ToString::to_string)
            .collect();
        let mut parts = Vec::new();
        if !added.is_empty() {
            parts.push(format!("added {}", added.join(", ")));
        }
        if !removed.is_empty() {
            parts.push(format!("removed {}", removed.join(", ")));
        }
        details.push(format!("holidays: {}", parts.join("; ")));
    }
    details
}

/// Working hours as written: `mon-fri 09:00-18:00, sat 10:00-14:00`.
fn hours(calendar: &CalendarDef) -> String {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let clock = |seconds: u32| format!("{:02}:{:02}", seconds / 3600, seconds / 60 % 60);
    let ranges = |day: usize| -> String {
        calendar.week[day]
            .iter()
            .map(|(from, to)| format!("{}-{}", clock(*from), clock(*to)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    let mut day = 0;
    while day < 7 {
        let text = ranges(day);
        let mut last = day;
        while last + 1 < 7 && ranges(last + 1) == text {
            last += 1;
        }
        if !text.is_empty() {
            let days = if last == day {
                DAYS[day].to_string()
            } else {
                format!("{}-{}", DAYS[day], DAYS[last])
            };
            parts.push(format!("{days} {text}"));
        }
        day = last + 1;
    }
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(", ")
    }
}
