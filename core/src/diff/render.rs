//! The diff shown: plain text for people, Markdown for a pull-request comment, JSON for scripts.
//! Each takes the diff (and the backtest's counts) and returns text; none prints.

use super::backtest::{LeadChange, Summary};
use super::{Change, ChangeKind, DeclarationChange, FieldChange, Region, Regions, SemanticDiff};
use super::{Misfit, SchemaChange, Verdict};
use serde_json::{Value, json};
use std::fmt::Write as _;

/// What is being compared, as the user named it.
#[derive(Debug, Clone, Copy)]
pub struct Names<'a> {
    pub old: &'a str,
    pub new: &'a str,
}

/// A backtest's counts and where its leads came from.
#[derive(Debug, Clone, Copy)]
pub struct BacktestView<'a> {
    pub source: &'a str,
    pub summary: &'a Summary,
}

/// The one-line verdict: `equivalent: ...` or `not equivalent: 2 routing changes, ...`.
pub fn verdict(diff: &SemanticDiff, backtest: Option<&Summary>, strict: bool) -> String {
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let changed_leads = backtest.map_or(0, |b| {
        b.routing + b.schema + if strict { b.rule_only } else { 0 }
    });
    if diff.is_equivalent(strict) && changed_leads == 0 {
        let rule_only = diff.rule_only_changes();
        let mut text =
            "equivalent: every lead fits both schemas and is routed the same way".to_string();
        if rule_only > 0 {
            let _ = write!(
                text,
                " ({} by another rule, see above)",
                plural(rule_only, "region is decided", "regions are decided")
            );
        }
        return text;
    }
    let mut parts = Vec::new();
    if let Regions::NotCompared { .. } = diff.regions {
        parts.push("regions not compared".to_string());
    }
    let routing = diff.routing_changes();
    if routing > 0 {
        parts.push(plural(routing, "routing change", "routing changes"));
    }
    let rule_only = diff.rule_only_changes();
    if rule_only > 0 {
        parts.push(plural(rule_only, "rule-only change", "rule-only changes"));
    }
    if !diff.schema.is_empty() {
        parts.push(plural(diff.schema.len(), "schema change", "schema changes"));
    }
    let declarations = diff.declarations.iter().filter(|d| d.matters()).count();
    if declarations > 0 {
        parts.push(plural(
            declarations,
            "changed declaration",
            "changed declarations",
        ));
    }
    if let Some(summary) = backtest
        && summary.changed() > 0
    {
        parts.push(format!(
            "{} of {} backtested leads {}",
            summary.changed(),
            summary.lines,
            if summary.changed() == 1 {
                "changes"
            } else {
                "change"
            }
        ));
    }
    format!("not equivalent: {}", parts.join(", "))
}

fn field_change(change: &SchemaChange) -> String {
    let optional = |optional: bool| if optional { "optional" } else { "required" };
    let field = &change.field;
    match &change.change {
        FieldChange::Added { ty, optional: o } => {
            format!("field `{field}` added: {}, {}", ty.describe(), optional(*o))
        }
        FieldChange::Removed { ty, optional: o } => {
            format!(
                "field `{field}` removed: was {}, {}",
                ty.describe(),
                optional(*o)
            )
        }
        FieldChange::Retyped { old, new } => format!(
            "field `{field}` retyped: {} -> {}",
            old.describe(),
            new.describe()
        ),
        FieldChange::Optionality {
            old_optional,
            new_optional,
        } => format!(
            "field `{field}`: {} -> {}",
            optional(*old_optional),
            optional(*new_optional)
        ),
        FieldChange::VariantsAdded(variants) => {
            format!("enum `{field}`: variants added: {}", variants.join(", "))
        }
        FieldChange::VariantsRemoved(variants) => {
            format!("enum `{field}`: variants removed: {}", variants.join(", "))
        }
    }
}

fn misfit_line(side: &str, other: &str, misfit: &Misfit) -> String {
    format!(
        "only {side} accepts {}; {other} rejects it: {} ({})",
        misfit.json, misfit.message, misfit.code
    )
}

fn declaration(change: &DeclarationChange) -> String {
    let mut text = format!(
        "{} `{}` {}",
        change.kind.as_str(),
        change.name,
        change.presence.as_str()
    );
    if !change.details.is_empty() {
        let _ = write!(text, ": {}", change.details.join("; "));
    }
    if !change.used_by.is_empty() && change.matters() {
        let rules: Vec<String> = change.used_by.iter().map(|r| format!("`{r}`")).collect();
        let _ = match change.kind {
            super::DeclarationKind::Calendar => {
                write!(text, " (the SLA clock of pools {})", rules.join(", "))
            }
            super::DeclarationKind::Rep => {
                write!(text, " (a member of pools {})", rules.join(", "))
            }
            _ => write!(text, " (leads of rules {})", rules.join(", ")),
        };
    }
    if !change.matters() {
        text.push_str(" (changes no lead by itself)");
    }
    text
}

/// "{lead} at T: OLD …; NEW …", or "the 5th lead like {lead} at T: …" when earlier leads made
/// the difference (a cap).
fn declaration_example(example: &super::declarations::DeclarationExample) -> String {
    let which = if example.earlier == 0 {
        example.lead.clone()
    } else {
        format!(
            "the {} lead like {}",
            ordinal(example.earlier + 1),
            example.lead
        )
    };
    format!(
        "{which} at {}: OLD {}; NEW {}",
        example.at, example.old, example.new
    )
}

/// 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st…
fn ordinal(number: usize) -> String {
    let suffix = match (number % 10, number % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{number}{suffix}")
}

/// The example lead, with the routing time when the lead has no clock of its own and a
/// calendar test needs one.
fn example(region: &Region, common: Option<&crate::model::Policy>) -> String {
    let timed = region
        .tests
        .iter()
        .any(|t| matches!(t, super::Test::Calendar { .. }));
    let has_clock = common.and_then(|p| p.clock).is_some_and(|clock| {
        region
            .example
            .lead
            .values
            .get(clock)
            .is_some_and(Option::is_some)
    });
    if timed && !has_clock {
        format!("{} routed at {}", region.example.json, region.example.now)
    } else {
        region.example.json.clone()
    }
}

/// ` (fit_score 45 -> 30)` for an example whose decisions report scores, else nothing.
fn scores_note(region: &Region) -> String {
    if region.scores.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = region
        .scores
        .iter()
        .map(super::ScoreShift::describe)
        .collect();
    format!(" ({})", shown.join(", "))
}

fn common(diff: &SemanticDiff) -> Option<&crate::model::Policy> {
    match &diff.regions {
        Regions::Compared { comparison, .. } => Some(&comparison.common),
        Regions::NotCompared { .. } => None,
    }
}

/// Plain text for a terminal or a log.
pub fn human(
    diff: &SemanticDiff,
    names: Names<'_>,
    backtest: Option<BacktestView<'_>>,
    strict: bool,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "old: {}\nnew: {}\n", names.old, names.new);
    if diff.schema.is_empty() {
        out.push_str("schema: no changes\n");
    } else {
        let _ = writeln!(out, "schema changes: {}", diff.schema.len());
        for change in &diff.schema {
            let _ = writeln!(out, "  {}", field_change(change));
            if let Some(misfit) = &change.old_only {
                let _ = writeln!(out, "    {}", misfit_line("OLD", "NEW", misfit));
            }
            if let Some(misfit) = &change.new_only {
                let _ = writeln!(out, "    {}", misfit_line("NEW", "OLD", misfit));
            }
        }
    }
    if diff.declarations.is_empty() {
        out.push_str("pools, reps, queues, calendars: no changes\n");
    } else {
        out.push_str("pools, reps, queues, calendars:\n");
        for change in &diff.declarations {
            let _ = writeln!(out, "  {}", declaration(change));
            if let Some(example) = &change.example {
                let _ = writeln!(out, "    e.g. {}", declaration_example(example));
            }
        }
    }
    match &diff.regions {
        Regions::NotCompared { reason } => {
            let _ = writeln!(out, "\nregions: not compared: {reason}");
        }
        Regions::Compared { changes, .. } => {
            let routing: Vec<&Change> = changes
                .iter()
                .filter(|c| c.kind != ChangeKind::RuleOnly)
                .collect();
            let rule_only: Vec<&Change> = changes
                .iter()
                .filter(|c| c.kind == ChangeKind::RuleOnly)
                .collect();
            if routing.is_empty() {
                out.push_str("\nrouting changes: none\n");
            } else {
                let _ = writeln!(out, "\nrouting changes: {}", routing.len());
            }
            let mut number = 0;
            for change in routing {
                number += 1;
                human_change(&mut out, number, change, common(diff));
            }
            if !rule_only.is_empty() {
                let _ = writeln!(
                    out,
                    "\nrule-only changes: {} (the same routing, decided by another rule)",
                    rule_only.len()
                );
                for change in rule_only {
                    number += 1;
                    human_change(&mut out, number, change, common(diff));
                }
            }
        }
    }
    if let Some(backtest) = backtest {
        human_backtest(&mut out, backtest);
    }
    let _ = writeln!(
        out,
        "\n{}",
        verdict(diff, backtest.map(|b| b.summary), strict)
    );
    out
}

fn human_change(
    out: &mut String,
    number: usize,
    change: &Change,
    common: Option<&crate::model::Policy>,
) {
    let _ = writeln!(out, "\n{number}. {}", change.old.describe());
    let _ = writeln!(out, "   -> {}", change.new.describe());
    if change.kind != ChangeKind::RuleOnly {
        let _ = writeln!(
            out,
            "   changes: {}",
            change.kind.describe(&change.old, &change.new)
        );
    }
    for region in &change.regions {
        let _ = writeln!(out, "   leads with {}", region.description);
        let _ = writeln!(
            out,
            "     such as {}{}",
            example(region, common),
            scores_note(region)
        );
    }
    if change.more_regions {
        let _ = writeln!(
            out,
            "   and leads in more regions than these {}",
            change.regions.len()
        );
    }
}

/// Left-aligned columns.
fn table(rows: &[Vec<String>], right: &[usize]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::from("    ");
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            if right.contains(&c) {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                if c + 1 < row.len() {
                    line.push_str(&" ".repeat(pad));
                }
            }
            if c + 1 < row.len() {
                line.push_str("  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        return "0%".to_string();
    }
    #[allow(clippy::cast_precision_loss)]
    let share = part as f64 * 100.0 / whole as f64;
    format!("{share:.1}%")
}

fn human_backtest(out: &mut String, backtest: BacktestView<'_>) {
    let s = backtest.summary;
    let _ = writeln!(out, "\nbacktest: {} lines of {}", s.lines, backtest.source);
    let _ = writeln!(
        out,
        "  changed:   {} ({}): {} routing, {} rule only, {} accepted by one schema only",
        s.changed(),
        percent(s.changed(), s.lines),
        s.routing,
        s.rule_only,
        s.schema
    );
    let _ = writeln!(out, "  unchanged: {}", s.unchanged);
    let _ = writeln!(
        out,
        "  not leads: {} (rejected by both policies)",
        s.invalid
    );
    if s.moves.is_empty() {
        return;
    }
    out.push_str("  moves:\n");
    let mut rows = vec![vec![
        "from".to_string(),
        "to".to_string(),
        "also".to_string(),
        "leads".to_string(),
        "first".to_string(),
    ]];
    for m in s.moves_by_count() {
        rows.push(vec![
            m.from.clone(),
            m.to.clone(),
            m.note.clone(),
            m.leads.to_string(),
            m.first.clone(),
        ]);
    }
    out.push_str(&table(&rows, &[3]));
}

/// Inline code, fenced with two backticks when the text holds one.
fn code_span(text: &str) -> String {
    if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    }
}

/// Escapes a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn markdown_verdict(verdict: &Verdict) -> String {
    match (&verdict.label, &verdict.routing) {
        (Some(label), Some(routing)) => format!("`{label}`: {}", routing.describe()),
        _ => "no rule (unassigned)".to_string(),
    }
}

/// Markdown for a pull-request comment.
pub fn markdown(
    diff: &SemanticDiff,
    names: Names<'_>,
    backtest: Option<BacktestView<'_>>,
    strict: bool,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### Routing policy diff\n");
    let _ = writeln!(
        out,
        "`{}` → `{}`: **{}**\n",
        names.old,
        names.new,
        verdict(diff, backtest.map(|b| b.summary), strict)
    );
    if !diff.schema.is_empty() {
        out.push_str("#### Schema changes\n\n");
        for change in &diff.schema {
            let _ = writeln!(out, "- {}", field_change(change));
            for (side, other, misfit) in [
                ("OLD", "NEW", &change.old_only),
                ("NEW", "OLD", &change.new_only),
            ] {
                if let Some(misfit) = misfit {
                    let _ = writeln!(
                        out,
                        "  - only {side} accepts `{}`; {other} rejects it: {}",
                        misfit.json, misfit.message
                    );
                }
            }
        }
        out.push('\n');
    }
    if !diff.declarations.is_empty() {
        out.push_str("#### Pools, queues, calendars\n\n");
        for change in &diff.declarations {
            let _ = writeln!(out, "- {}", declaration(change));
            if let Some(example) = &change.example {
                let _ = writeln!(out, "  - e.g. {}", declaration_example(example));
            }
        }
        out.push('\n');
    }
    match &diff.regions {
        Regions::NotCompared { reason } => {
            let _ = writeln!(out, "Regions not compared: {reason}.\n");
        }
        Regions::Compared { changes, .. } => {
            if !changes.is_empty() {
                out.push_str("#### Leads that change\n\n");
                out.push_str(
                    "| # | leads with | old | new | what changes |\n|---:|---|---|---|---|\n",
                );
                for (index, change) in changes.iter().enumerate() {
                    let mut leads: Vec<String> = change
                        .regions
                        .iter()
                        .map(|r| r.description.clone())
                        .collect();
                    if change.more_regions {
                        leads.push("and more".to_string());
                    }
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} | {} |",
                        index + 1,
                        cell(&leads.join("; or ")),
                        cell(&markdown_verdict(&change.old)),
                        cell(&markdown_verdict(&change.new)),
                        cell(&change.kind.describe(&change.old, &change.new))
                    );
                }
                out.push_str("\n<details><summary>Example leads</summary>\n\n");
                for (index, change) in changes.iter().enumerate() {
                    if let Some(region) = change.regions.first() {
                        let _ = writeln!(
                            out,
                            "{}. {}",
                            index + 1,
                            code_span(&format!(
                                "{}{}",
                                example(region, common(diff)),
                                scores_note(region)
                            ))
                        );
                    }
                }
                out.push_str("\n</details>\n\n");
            }
        }
    }
    if let Some(backtest) = backtest {
        let s = backtest.summary;
        let _ = writeln!(
            out,
            "#### Backtest on `{}`\n\n{} of {} lines change ({}): {} routing, {} rule only, {} accepted by one schema only; {} unchanged; {} not leads.\n",
            backtest.source,
            s.changed(),
            s.lines,
            percent(s.changed(), s.lines),
            s.routing,
            s.rule_only,
            s.schema,
            s.unchanged,
            s.invalid
        );
        if !s.moves.is_empty() {
            out.push_str("| from | to | also | leads | first |\n|---|---|---|---:|---|\n");
            for m in s.moves_by_count() {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    cell(&m.from),
                    cell(&m.to),
                    cell(&m.note),
                    m.leads,
                    cell(&m.first)
                );
            }
            out.push('\n');
        }
    }
    out
}

fn verdict_json(verdict: &Verdict) -> Value {
    match (&verdict.label, &verdict.routing) {
        (Some(label), Some(routing)) => json!({
            "rule": label,
            "line": verdict.line,
            "actions": routing.actions.iter().map(super::Action::describe).collect::<Vec<_>>(),
            "within": routing.within.map(super::Delay::show),
            "escalations": routing.escalations.iter().map(|e| json!({
                "to": e.to,
                "after": e.after.map(super::Delay::show),
            })).collect::<Vec<_>>(),
            "tags": routing.tags,
        }),
        _ => json!({ "rule": null, "actions": [] }),
    }
}

/// The diff as one JSON object (one line): the last line of `--format json`.
pub fn json_summary(
    diff: &SemanticDiff,
    names: Names<'_>,
    backtest: Option<BacktestView<'_>>,
    strict: bool,
) -> String {
    let schema: Vec<Value> = diff
        .schema
        .iter()
        .map(|change| {
            let misfit = |m: &Option<Misfit>| {
                m.as_ref().map(|m| json!({ "lead": serde_json::from_str::<Value>(&m.json).unwrap_or(Value::Null), "code": m.code, "message": m.message }))
            };
            let (kind, detail) = match &change.change {
                FieldChange::Added { ty, optional } => ("added", json!({ "type": ty.to_string(), "optional": optional })),
                FieldChange::Removed { ty, optional } => ("removed", json!({ "type": ty.to_string(), "optional": optional })),
                FieldChange::Retyped { old, new } => ("retyped", json!({ "old": old.to_string(), "new": new.to_string() })),
                FieldChange::Optionality { old_optional, new_optional } => ("optionality", json!({ "old_optional": old_optional, "new_optional": new_optional })),
                FieldChange::VariantsAdded(v) => ("variants-added", json!({ "variants": v })),
                FieldChange::VariantsRemoved(v) => ("variants-removed", json!({ "variants": v })),
            };
            json!({
                "field": change.field,
                "change": kind,
                "detail": detail,
                "only_old_accepts": misfit(&change.old_only),
                "only_new_accepts": misfit(&change.new_only),
            })
        })
        .collect();
    let declarations: Vec<Value> = diff
        .declarations
        .iter()
        .map(|d| {
            json!({
                "kind": d.kind.as_str(),
                "name": d.name,
                "change": d.presence.as_str(),
                "details": d.details,
                "used_by": d.used_by,
                "matters": d.matters(),
                "example": d.example.as_ref().map(|e| json!({
                    "lead": serde_json::from_str::<Value>(&e.lead).unwrap_or(Value::Null),
                    "at": e.at.to_string(),
                    "earlier": e.earlier,
                    "old": e.old,
                    "new": e.new,
                })),
            })
        })
        .collect();
    let common = common(diff);
    let (changes, not_compared) = match &diff.regions {
        Regions::Compared { changes, .. } => (
            changes
                .iter()
                .map(|change| {
                    let (kind, destination, sla, escalation, tags) = match &change.kind {
                        ChangeKind::RuleOnly => ("rule-only", false, None, false, false),
                        // Only the tags: the lead goes where it went, automation changes.
                        ChangeKind::Routing {
                            destination: false,
                            sla: None,
                            escalation: false,
                            tags: true,
                        } => ("tags", false, None, false, true),
                        ChangeKind::Routing {
                            destination,
                            sla,
                            escalation,
                            tags,
                        } => ("routing", *destination, sla.map(super::SlaChange::as_str), *escalation, *tags),
                    };
                    json!({
                        "kind": kind,
                        "destination": destination,
                        "sla": sla,
                        "escalation": escalation,
                        "tags": tags,
                        "old": verdict_json(&change.old),
                        "new": verdict_json(&change.new),
                        "regions": change.regions.iter().map(|region| {
                            let timed = example(region, common) != region.example.json;
                            json!({
                                "where": region.description,
                                "example": serde_json::from_str::<Value>(&region.example.json).unwrap_or(Value::Null),
                                "routed_at": timed.then(|| region.example.now.to_string()),
                                "scores": region.scores.iter().map(|shift| (shift.name.clone(), json!({
                                    "old": shift.old,
                                    "new": shift.new,
                                }))).collect::<serde_json::Map<String, Value>>(),
                            })
                        }).collect::<Vec<_>>(),
                        "more_regions": change.more_regions,
                    })
                })
                .collect::<Vec<_>>(),
            None,
        ),
        Regions::NotCompared { reason } => (Vec::new(), Some(reason.clone())),
    };
    let backtest_summary = backtest.map(|b| b.summary);
    let backtest = backtest.map(|b| {
        let s = b.summary;
        json!({
            "source": b.source,
            "lines": s.lines,
            "changed": s.changed(),
            "routing": s.routing,
            "rule_only": s.rule_only,
            "schema": s.schema,
            "unchanged": s.unchanged,
            "invalid": s.invalid,
            "moves": s.moves_by_count().iter().map(|m| json!({
                "from": m.from, "to": m.to, "also": m.note, "change": m.change.as_str(), "leads": m.leads, "first": m.first,
            })).collect::<Vec<_>>(),
        })
    });
    let equivalent = diff.is_equivalent(strict) && backtest_changes(backtest.as_ref(), strict) == 0;
    let mut summary = json!({
        "old": names.old,
        "new": names.new,
        "equivalent": equivalent,
        "verdict": verdict(diff, backtest_summary, strict),
        "schema": schema,
        "declarations": declarations,
        "changes": changes,
    });
    if let Some(object) = summary.as_object_mut() {
        if let Some(reason) = not_compared {
            object.insert("not_compared".to_string(), Value::String(reason));
        }
        if let Some(backtest) = backtest {
            object.insert("backtest".to_string(), backtest);
        }
    }
    json!({ "summary": summary }).to_string()
}

fn backtest_changes(backtest: Option<&Value>, strict: bool) -> u64 {
    let count = |key: &str| backtest.and_then(|b| b[key].as_u64()).unwrap_or(0);
    count("routing") + count("schema") + if strict { count("rule_only") } else { 0 }
}

/// Whether a backtest found changes that count (rule-only ones only with `strict`).
pub fn backtest_changed(summary: &Summary, strict: bool) -> bool {
    summary.routing + summary.schema + if strict { summary.rule_only } else { 0 } > 0
}

impl LeadChange {
    /// Whether a changed lead is printed with `--format json` (every change is).
    pub fn is_change(self) -> bool {
        !matches!(self, LeadChange::Unchanged | LeadChange::Invalid)
    }
}
