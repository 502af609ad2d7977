//! Hover: what the name under the cursor is, in the policy's own terms (a field's type and
//! variants; a pool's members, strategy, cap and calendar; a rule's SLA and escalation, and what
//! shadows it).

use crate::document::Analysis;
use crate::index::{Origin, SymbolId, SymbolKind};
use std::fmt::Write as _;
use switchboard_core::syntax::ast::{ActionKind, PolicyFile, Rule, Strategy, TypeExpr};
use switchboard_core::{Code, Span};

/// Markdown for the symbol at `offset`, and the span it covers.
pub fn hover(analysis: &Analysis, offset: usize) -> Option<(String, switchboard_core::Span)> {
    if let Some(occurrence) = analysis.index.at(offset) {
        let text = describe(analysis, &occurrence.id)?;
        return Some((cut_long_names(text), occurrence.span));
    }
    // An unnamed rule: hovering its `when` or `otherwise` keyword describes it.
    let rule = analysis
        .file
        .rules
        .iter()
        .find(|rule| rule.keyword_span.start <= offset && offset <= rule.keyword_span.end)?;
    Some((rule_text(analysis, rule), rule.keyword_span))
}

/// `text` with every name longer than the messages' limit cut as messages cut it (`xxx…
/// (1048576 characters)`): a hover is bounded as every message is.
fn cut_long_names(text: String) -> String {
    let long = text
        .split(|ch: char| !crate::lexer::is_word_char(ch))
        .any(|word| word.len() > switchboard_core::text::SHOWN_NAME_CHARS);
    if !long {
        return text;
    }
    let mut out = String::with_capacity(text.len().min(1 << 16));
    let mut word_start = None;
    for (index, ch) in text.char_indices() {
        match (crate::lexer::is_word_char(ch), word_start) {
            (true, None) => word_start = Some(index),
            (false, Some(start)) => {
                out.push_str(&switchboard_core::text::cut(&text[start..index]));
                out.push(ch);
                word_start = None;
            }
            (false, None) => out.push(ch),
            (true, Some(_)) => {}
        }
    }
    if let Some(start) = word_start {
        out.push_str(&switchboard_core::text::cut(&text[start..]));
    }
    out
}

fn describe(analysis: &Analysis, id: &SymbolId) -> Option<String> {
    let policy = analysis.policy_file();
    let mut text = String::new();
    match id.kind {
        SymbolKind::Field => {
            let field = policy
                .schemas
                .iter()
                .flat_map(|schema| &schema.fields)
                .find(|field| field.name.name == id.name)?;
            let ty = match &field.ty {
                TypeExpr::Named(name) => name.name.clone(),
                TypeExpr::Enum { variants, .. } => format!(
                    "enum {{ {} }}",
                    variants
                        .iter()
                        .map(|v| v.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let optional = if field.optional { "?" } else { "" };
            let _ = writeln!(
                text,
                "```switchboard\n{}: {ty}{optional}\n```",
                field.name.name
            );
            let _ = write!(
                text,
                "{}",
                if field.optional {
                    "Optional: a lead may leave it out or send `null`; comparisons on an absent field are false."
                } else {
                    "Required: a lead without it is an error."
                }
            );
            let users = rules_using(analysis, policy, id);
            if !users.is_empty() {
                let _ = write!(text, "\n\nUsed by {}.", list(&users));
            }
            let scores = scores_using(analysis, policy, id);
            if !scores.is_empty() {
                let _ = write!(
                    text,
                    "\n\nRead by the score{} {}.",
                    if scores.len() == 1 { "" } else { "s" },
                    list(&scores)
                );
            }
        }
        SymbolKind::Variant => {
            let field = id.scope.as_deref()?;
            let shape = analysis.index.names.fields.get(field)?;
            let variants = shape.variants.as_ref()?;
            let _ = write!(
                text,
                "`{}`: a variant of\n```switchboard\n{field}: enum {{ {} }}\n```",
                id.name,
                variants.join(", ")
            );
        }
        SymbolKind::Pool => {
            let pool = policy.pools.iter().find(|pool| pool.name.name == id.name)?;
            let _ = writeln!(text, "**pool `{}`**\n", pool.name.name);
            let members: Vec<&str> = pool.members.iter().map(|m| m.name.as_str()).collect();
            let _ = writeln!(text, "- members: {}", members.join(", "));
            let strategy = match pool.strategies.first() {
                None => "round_robin (the default)".to_string(),
                Some(Strategy::Named(name)) => name.name.clone(),
                Some(Strategy::Weighted { weights, .. }) => format!(
                    "weighted({})",
                    weights
                        .iter()
                        .map(|w| format!("{}={}", w.member.name, w.weight.value))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let _ = writeln!(text, "- strategy: {strategy}");
            if pool.caps.is_empty() {
                let _ = writeln!(text, "- cap: none");
            }
            for cap in &pool.caps {
                let _ = match &cap.period {
                    None => writeln!(text, "- cap: {} open leads per rep", cap.limit.value),
                    Some(period) => writeln!(
                        text,
                        "- cap: {} new leads per rep per {} (in the rep's time zone)",
                        cap.limit.value,
                        period.value.word()
                    ),
                };
            }
            if !pool.on_shift.is_empty() {
                let _ = writeln!(
                    text,
                    "- on shift: a member takes leads only while their working time is open"
                );
            }
            match pool.calendars.first() {
                Some(calendar) => {
                    let _ = writeln!(
                        text,
                        "- calendar: `{}` (SLAs count its working time)",
                        calendar.name
                    );
                }
                None => {
                    let _ = writeln!(text, "- calendar: none (SLAs count wall-clock time)");
                }
            }
            let senders = rules_using(analysis, policy, id);
            if !senders.is_empty() {
                let _ = write!(text, "\nRules sending here: {}.", list(&senders));
            }
        }
        SymbolKind::Queue => {
            let _ = write!(text, "**queue `{}`**", id.name);
            let senders = rules_using(analysis, policy, id);
            if !senders.is_empty() {
                let _ = write!(text, "\n\nRules sending here: {}.", list(&senders));
            }
        }
        SymbolKind::Calendar => {
            let calendar = policy.calendars.iter().find(|c| c.name.name == id.name)?;
            let source = policy_text(analysis);
            let _ = writeln!(text, "**calendar `{}`**\n", calendar.name.name);
            for zone in &calendar.timezones {
                let _ = writeln!(text, "- timezone: {}", zone.value);
            }
            for hours in &calendar.hours {
                let _ = writeln!(text, "- {}", slice(source, hours.span).trim_end());
            }
            if !calendar.holidays.is_empty() {
                let days: Vec<&str> = calendar.holidays.iter().map(|d| d.value.as_str()).collect();
                let _ = writeln!(text, "- holidays: {}", days.join(", "));
            }
        }
        SymbolKind::Rule => {
            let rule = policy
                .rules
                .iter()
                .find(|rule| rule.name.as_ref().is_some_and(|n| n.name == id.name))?;
            text = rule_text(analysis, rule);
        }
        SymbolKind::Rep => {
            let pools: Vec<String> = policy
                .pools
                .iter()
                .filter(|pool| pool.members.iter().any(|m| m.name == id.name))
                .map(|pool| format!("`{}`", pool.name.name))
                .collect();
            let _ = write!(text, "**rep `{}`**", id.name);
            if pools.is_empty() {
                let _ = write!(text, "\n\nNot a member of any pool.");
            } else {
                let _ = write!(text, "\n\nMember of {}.", pools.join(", "));
            }
            if let Some(item) = policy.reps.iter().find(|rep| rep.name.name == id.name) {
                let source = policy_text(analysis);
                let _ = write!(
                    text,
                    "\n\n```switchboard\n{}\n```",
                    slice(source, item.span).trim_end()
                );
                if let Some(calendar) = item.calendars.first() {
                    let _ = write!(
                        text,
                        "\n\nWorks the hours of calendar `{}` in every pool: it decides when \
                         they are on shift and runs the SLA clock of their leads.",
                        calendar.name
                    );
                }
                let caps: Vec<String> = item
                    .caps
                    .iter()
                    .map(|cap| match &cap.period {
                        Some(period) => format!(
                            "at most {} new leads per {}",
                            cap.limit.value,
                            period.value.word()
                        ),
                        None => format!("at most {} open leads", cap.limit.value),
                    })
                    .collect();
                if !caps.is_empty() {
                    let _ = write!(
                        text,
                        "\n\nTakes {} in any pool, in place of the pool's cap of the same kind.",
                        caps.join(" and ")
                    );
                }
            }
        }
        SymbolKind::Test => {
            let _ = write!(
                text,
                "**test \"{}\"**\n\nRun it with `switchboard test`.",
                id.name
            );
        }
        SymbolKind::Score => {
            let score = policy
                .scores
                .iter()
                .find(|score| score.name.name == id.name)?;
            let source = policy_text(analysis);
            let _ = writeln!(
                text,
                "**score `{}`**: an int, the sum of the points of the lines that hold (0 when none does)\n",
                id.name
            );
            let _ = writeln!(text, "```switchboard");
            for line in &score.lines {
                let _ = writeln!(text, "{}", slice(source, line.span).trim_end());
            }
            let _ = writeln!(text, "```");
            let (low, high) = score.lines.iter().fold((0i64, 0i64), |(low, high), line| {
                let points = line.points.value;
                (
                    low.saturating_add(points.min(0)),
                    high.saturating_add(points.max(0)),
                )
            });
            let _ = write!(text, "Between {low} and {high}.");
            let readers = rules_using(analysis, policy, id);
            if !readers.is_empty() {
                let _ = write!(text, "\n\nRead by {}.", list(&readers));
            }
        }
        SymbolKind::Tag => {
            let tags = &analysis.index.names.tags;
            let position = tags.iter().position(|tag| *tag == id.name)?;
            let _ = write!(
                text,
                "**tag `{}`** (tag {} of {} in `tags {{ ... }}`): decisions of the rules that add it carry `\"tags\": [\"{}\"]`",
                id.name,
                position + 1,
                tags.len(),
                id.name
            );
            let adders = rules_using(analysis, policy, id);
            if !adders.is_empty() {
                let _ = write!(text, "\n\nAdded by {}.", list(&adders));
            }
        }
    }
    Some(text)
}

/// A rule's description: its position, its text, its SLA and escalations, and what shadows it.
fn rule_text(analysis: &Analysis, rule: &Rule) -> String {
    let source = policy_text(analysis);
    let mut text = format!(
        "**rule `{}`** (rule {} of the policy)\n",
        rule.label(),
        rule.position
    );
    let _ = writeln!(
        text,
        "```switchboard\n{}\n```",
        slice(source, rule.span).trim_end()
    );
    let policy = analysis.policy_file();
    match rule.within {
        Some(within) => {
            let clock = destination_calendar(policy, rule).map_or_else(
                || "wall-clock time".to_string(),
                |calendar| format!("working time on `{calendar}`"),
            );
            let _ = writeln!(
                text,
                "- SLA: answer within {} ({clock})",
                slice(source, within.span)
            );
        }
        None => {
            let _ = writeln!(text, "- SLA: none");
        }
    }
    for escalation in &rule.escalations {
        let after = escalation.after.map_or_else(
            || "when the SLA is missed".to_string(),
            |d| format!("after {}", slice(source, d.span)),
        );
        let _ = writeln!(text, "- escalates to `{}` {after}", escalation.target.name);
    }
    let diagnostics = analysis
        .policy
        .as_ref()
        .map_or(&analysis.diagnostics, |side| &side.diagnostics);
    for shadowed in diagnostics
        .iter()
        .filter(|d| d.code == Code::ShadowedRule && d.span == rule.head_span())
    {
        let _ = write!(text, "\n**Never matches:** {}", shadowed.message);
        for related in &shadowed.related {
            let _ = write!(text, "\n- {}", related.message);
        }
    }
    text
}

/// The calendar a rule's SLA counts on, as the router picks it when no pool of the rule took the
/// lead: the first pool among its actions that has a calendar (a pool that takes the lead uses its
/// own calendar).
pub fn destination_calendar<'a>(policy: &'a PolicyFile, rule: &Rule) -> Option<&'a str> {
    rule.actions.iter().find_map(|action| {
        let ActionKind::Pool(pool) = &action.kind else {
            return None;
        };
        policy
            .pools
            .iter()
            .find(|p| p.name.name == pool.name)?
            .calendars
            .first()
            .map(|calendar| calendar.name.as_str())
    })
}

/// Whether the symbol is mentioned (not declared) inside `span` of the policy's text.
fn mentioned_within(analysis: &Analysis, id: &SymbolId, span: Span) -> bool {
    let origin = if analysis.is_test_file() {
        Origin::Policy
    } else {
        Origin::Document
    };
    analysis.index.of(id).any(|o| {
        o.origin == origin && !o.definition && span.start <= o.span.start && o.span.end <= span.end
    })
}

/// The labels of the policy's rules that mention a symbol.
fn rules_using(analysis: &Analysis, policy: &PolicyFile, id: &SymbolId) -> Vec<String> {
    policy
        .rules
        .iter()
        .filter(|rule| mentioned_within(analysis, id, rule.span))
        .map(|rule| format!("`{}`", rule.label()))
        .collect()
}

/// The names of the policy's scores whose lines mention a symbol.
fn scores_using(analysis: &Analysis, policy: &PolicyFile, id: &SymbolId) -> Vec<String> {
    policy
        .scores
        .iter()
        .filter(|score| mentioned_within(analysis, id, score.span))
        .map(|score| format!("`{}`", score.name.name))
        .collect()
}

fn list(items: &[String]) -> String {
    const SHOWN: usize = 8;
    if items.len() <= SHOWN {
        items.join(", ")
    } else {
        format!(
            "{} and {} more",
            items[..SHOWN].join(", "),
            items.len() - SHOWN
        )
    }
}

fn policy_text(analysis: &Analysis) -> &str {
    match &analysis.policy {
        Some(side) if analysis.is_test_file() => &side.text,
        _ => &analysis.text,
    }
}

fn slice(text: &str, span: switchboard_core::Span) -> &str {
    text.get(span.start..span.end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::cut_long_names;

    #[test]
    fn names_longer_than_messages_quote_are_cut() {
        let long = "q".repeat(900_000);
        let text = format!("**queue** `{long}`\n\nused by 2 rules");
        let cut = cut_long_names(text);
        assert!(cut.len() < 200, "{}", cut.len());
        assert!(cut.contains("… (900000 characters)`"), "{cut}");
        assert!(cut.ends_with("used by 2 rules"));
        let short = "**queue** `nurture`".to_string();
        assert_eq!(cut_long_names(short.clone()), short);
    }
}
