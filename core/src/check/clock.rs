//! The lead's clock: a policy that counts time (calendar tests, `within`, `escalate … after`)
//! must have a field to read a lead's time from: `created_at: time`, or a single `time` field.
//! Without one, every lead would be timed by when it was routed, not by when it arrived.

use super::Checker;
use crate::diagnostic::{Code, Diagnostic};
use crate::model::FieldType;
use crate::span::Span;
use crate::syntax::ast::{Expr, ExprKind};

impl Checker<'_> {
    pub(crate) fn clock(&mut self) {
        let Some(fields) = &self.fields else { return };
        let times: Vec<&str> = fields
            .iter()
            .filter(|(_, info)| info.ty == FieldType::Time)
            .map(|(name, _)| *name)
            .collect();
        let named = fields
            .get("created_at")
            .is_some_and(|info| info.ty == FieldType::Time);
        // A broken field may be the clock: its syntax error is enough.
        if named || times.len() == 1 || !self.broken_fields.is_empty() {
            return;
        }
        let Some((span, what, rule)) = self.first_use_of_time() else {
            return;
        };
        let (message, help) = if times.is_empty() {
            (
                format!(
                    "rule `{rule}` counts time ({what}), but the schema has no `time` field to read a lead's clock from"
                ),
                "add `created_at: time` to the schema: when the lead arrived, RFC 3339".to_string(),
            )
        } else {
            let list: Vec<String> = times.iter().map(|t| format!("`{t}`")).collect();
            (
                format!(
                    "rule `{rule}` counts time ({what}), but the schema has {} `time` fields and none is `created_at`, so no clock",
                    times.len()
                ),
                format!(
                    "name the one that says when the lead arrived `created_at` (now {})",
                    list.join(", ")
                ),
            )
        };
        let mut diagnostic = Diagnostic::new(Code::MissingClock, span, message).with_help(help);
        if let Some(schema) = self.file.schemas.first() {
            diagnostic = diagnostic.with_related(schema.name.span, "the schema");
        }
        self.report(diagnostic);
    }

    /// The first place a rule counts time: its span, what it is, and the rule's label.
    fn first_use_of_time(&self) -> Option<(Span, String, String)> {
        for rule in &self.file.rules {
            let label = rule.label();
            if let Some(expr) = &rule.condition
                && let Some((span, calendar)) = calendar_test(expr)
            {
                return Some((span, format!("`{calendar}` hours"), label));
            }
            if let Some(within) = &rule.within {
                return Some((within.span, format!("`within {}`", within.kind), label));
            }
            if let Some(after) = rule.escalations.iter().find_map(|e| e.after.as_ref()) {
                return Some((after.span, format!("`after {}`", after.kind), label));
            }
        }
        None
    }
}

/// The first `inside` / `outside` test in a condition.
fn calendar_test(expr: &Expr) -> Option<(Span, String)> {
    match &expr.kind {
        ExprKind::Calendar { calendar, .. } => Some((expr.span, calendar.name.clone())),
        ExprKind::And(parts) | ExprKind::Or(parts) => parts.iter().find_map(calendar_test),
        ExprKind::Not(inner) => calendar_test(inner),
        _ => None,
    }
}
