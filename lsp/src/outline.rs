//! Document symbols: the file as an outline of schema (with its fields), calendars, pools, rep
//! items, scores, tags, queues, rules and tests.

use crate::position;
use switchboard_core::syntax::ast::{PolicyFile, TypeExpr};
use switchboard_core::{LineIndex, Span};
use tower_lsp_server::ls_types::{DocumentSymbol, SymbolKind};

/// The outline of a document.
pub fn symbols(file: &PolicyFile, text: &str) -> Vec<DocumentSymbol> {
    let lines = LineIndex::new(text);
    let symbol =
        |name: String, detail: Option<String>, kind, span: Span, name_span: Span, children| {
            let range = position::range(&lines, span);
            let mut selection = position::range(&lines, name_span);
            // The selection must lie inside the range.
            if selection.start < range.start || selection.end > range.end {
                selection = range;
            }
            #[allow(deprecated)]
            DocumentSymbol {
                name: if name.is_empty() {
                    "?".to_string()
                } else {
                    name
                },
                detail,
                kind,
                tags: None,
                deprecated: None,
                range,
                selection_range: selection,
                children,
            }
        };
    let mut out = Vec::new();
    for schema in &file.schemas {
        let fields = schema
            .fields
            .iter()
            .map(|field| {
                let (detail, variants) = match &field.ty {
                    TypeExpr::Named(name) => (name.name.clone(), None),
                    TypeExpr::Enum { variants, .. } => (
                        "enum".to_string(),
                        Some(
                            variants
                                .iter()
                                .map(|v| {
                                    symbol(
                                        v.name.clone(),
                                        None,
                                        SymbolKind::ENUM_MEMBER,
                                        v.span,
                                        v.span,
                                        None,
                                    )
                                })
                                .collect(),
                        ),
                    ),
                };
                let detail = if field.optional {
                    format!("{detail}?")
                } else {
                    detail
                };
                symbol(
                    field.name.name.clone(),
                    Some(detail),
                    SymbolKind::FIELD,
                    field.span,
                    field.name.span,
                    variants,
                )
            })
            .collect();
        out.push(symbol(
            schema.name.name.clone(),
            Some("schema".into()),
            SymbolKind::STRUCT,
            schema.span,
            schema.name.span,
            Some(fields),
        ));
    }
    for calendar in &file.calendars {
        let zone = calendar.timezones.first().map(|z| z.value.clone());
        out.push(symbol(
            calendar.name.name.clone(),
            zone,
            SymbolKind::OBJECT,
            calendar.span,
            calendar.name.span,
            None,
        ));
    }
    for pool in &file.pools {
        let members: Vec<&str> = pool.members.iter().map(|m| m.name.as_str()).collect();
        out.push(symbol(
            pool.name.name.clone(),
            Some(members.join(", ")),
            SymbolKind::CLASS,
            pool.span,
            pool.name.span,
            None,
        ));
    }
    for rep in &file.reps {
        let calendars: Vec<&str> = rep.calendars.iter().map(|c| c.name.as_str()).collect();
        out.push(symbol(
            rep.name.name.clone(),
            Some(if calendars.is_empty() {
                "rep".to_string()
            } else {
                format!("rep, calendar {}", calendars.join(", "))
            }),
            SymbolKind::VARIABLE,
            rep.span,
            rep.name.span,
            None,
        ));
    }
    for score in &file.scores {
        let lines = score.lines.len();
        out.push(symbol(
            score.name.name.clone(),
            Some(format!(
                "score, {lines} line{}",
                if lines == 1 { "" } else { "s" }
            )),
            SymbolKind::NUMBER,
            score.span,
            score.name.span,
            None,
        ));
    }
    for tags in &file.tags {
        let children = tags
            .names
            .iter()
            .map(|tag| {
                symbol(
                    tag.name.clone(),
                    None,
                    SymbolKind::CONSTANT,
                    tag.span,
                    tag.span,
                    None,
                )
            })
            .collect();
        out.push(symbol(
            "tags".to_string(),
            Some(
                tags.names
                    .iter()
                    .map(|tag| tag.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            SymbolKind::ENUM,
            tags.span,
            tags.keyword_span,
            Some(children),
        ));
    }
    for queue in &file.queues {
        out.push(symbol(
            queue.name.name.clone(),
            Some("queue".into()),
            SymbolKind::INTERFACE,
            queue.span,
            queue.name.span,
            None,
        ));
    }
    for rule in &file.rules {
        let detail = rule
            .actions
            .iter()
            .map(|a| a.kind.describe())
            .collect::<Vec<_>>()
            .join(" else ");
        let name = match &rule.name {
            Some(name) => format!("{} (#{})", name.name, rule.position),
            None if rule.condition.is_none() => format!("otherwise (#{})", rule.position),
            None => format!("#{}", rule.position),
        };
        out.push(symbol(
            name,
            Some(detail),
            SymbolKind::FUNCTION,
            rule.span,
            rule.head_span(),
            None,
        ));
    }
    for test in &file.tests {
        out.push(symbol(
            test.name.value.clone(),
            Some("test".into()),
            SymbolKind::METHOD,
            test.span,
            test.name.span,
            None,
        ));
    }
    out.sort_by_key(|s| (s.range.start.line, s.range.start.character));
    out
}
