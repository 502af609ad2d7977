//! Checks of scores and tags: their declarations, the conditions of score lines (which read lead
//! fields only, never another score), the tags rules add, and the tests that expect either.

use super::suggest::did_you_mean;
use super::{Checker, FieldInfo};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{FieldType, MAX_SCORE_LINES};
use crate::span::Span;
use crate::syntax::ast::{Ident, Rule};
use std::collections::BTreeMap;

impl<'a> Checker<'a> {
    /// Records the scores and the declared tags; reports duplicates and scores named like fields.
    pub(crate) fn score_and_tag_declarations(&mut self) {
        let file = self.file;
        let mut seen: BTreeMap<&'a str, Span> = BTreeMap::new();
        for score in &file.scores {
            if !self.first_declaration(&mut seen, &score.name, "score") {
                continue;
            }
            if let Some(extra) = score.lines.get(MAX_SCORE_LINES) {
                self.report(
                    Diagnostic::new(
                        Code::ScoreTooLong,
                        extra.span,
                        format!(
                            "score `{}` has {} lines; a score has at most {MAX_SCORE_LINES}",
                            score.name.name,
                            score.lines.len()
                        ),
                    )
                    .with_label("one line too many")
                    .with_help("split it into two scores and compare their sum in the rules, or merge lines that give the same points"),
                );
            }
            if let Some(field) = file.schemas.first().and_then(|schema| {
                schema
                    .fields
                    .iter()
                    .find(|f| f.name.name == score.name.name)
            }) {
                self.report(
                    Diagnostic::new(
                        Code::DuplicateName,
                        score.name.span,
                        format!("score `{}` has the name of a schema field", score.name.name),
                    )
                    .with_label("conditions could not tell the two apart")
                    .with_related(field.name.span, "the field")
                    .with_help(format!(
                        "rename the score, e.g. `{}_score`",
                        score.name.name
                    )),
                );
                continue;
            }
            self.scores.insert(&score.name.name, score);
        }
        let mut declared: BTreeMap<&'a str, Span> = BTreeMap::new();
        if let [first, rest @ ..] = file.tags.as_slice() {
            for extra in rest {
                self.report(
                    Diagnostic::new(
                        Code::DuplicateClause,
                        extra.keyword_span,
                        "`tags` is declared twice",
                    )
                    .with_label("declared again here")
                    .with_related(first.keyword_span, "first declared here")
                    .with_help("list every tag in one `tags { ... }`"),
                );
            }
            self.tags_declared = true;
        }
        for name in file.tags.iter().flat_map(|tags| &tags.names) {
            if self.first_declaration(&mut declared, name, "tag") {
                self.tags.push(&name.name);
            }
        }
    }

    /// The lines of every score: their conditions as rule conditions are checked, except that a
    /// line may not read a score.
    pub(crate) fn scores(&mut self) {
        let file = self.file;
        for score in &file.scores {
            self.reading_score = Some(&score.name.name);
            for line in &score.lines {
                self.expr(&line.condition);
            }
            self.reading_score = None;
        }
    }

    /// Looks `name` up among the scores when it is no field: a score reads as a required `int`
    /// in a rule, and is an error in a score's line.
    pub(crate) fn score_as_field(&mut self, name: &Ident) -> Option<Option<FieldInfo>> {
        let score = self.scores.get(name.name.as_str())?;
        let score_span = score.name.span;
        if let Some(reader) = self.reading_score {
            let message = if reader == name.name {
                format!("score `{reader}` reads itself")
            } else {
                format!("score `{reader}` reads score `{}`", name.name)
            };
            self.report(
                Diagnostic::new(Code::ScoreReadsScore, name.span, message)
                    .with_label("a score's lines read lead fields only")
                    .with_related(score_span, "the score read")
                    .with_help(format!(
                        "repeat the lines of `{}` that matter here, or compare both scores in the rule",
                        name.name
                    )),
            );
            return Some(None);
        }
        Some(Some(FieldInfo {
            ty: FieldType::Int,
            optional: false,
        }))
    }

    /// `is set` on a score, which always has a value.
    pub(crate) fn score_is_set(&mut self, name: &Ident, span: Span, negated: bool) -> bool {
        if self.reading_score.is_some() || !self.scores.contains_key(name.name.as_str()) {
            return false;
        }
        let always = if negated {
            "always false"
        } else {
            "always true"
        };
        self.report(
            Diagnostic::new(
                Code::AlwaysSet,
                span,
                format!(
                    "`{}` is a score, so `{} is {}set` is {always}",
                    name.name,
                    name.name,
                    if negated { "not " } else { "" }
                ),
            )
            .with_label(always)
            .with_help("a score is 0 when no line holds; compare it with a number instead"),
        );
        true
    }

    /// The tags of a rule's `tag` clauses: declared, and each once.
    pub(crate) fn rule_tags(&mut self, rule: &'a Rule) {
        let mut seen: Vec<&Ident> = Vec::new();
        for tag in &rule.tags {
            if let Some(first) = seen.iter().find(|seen| seen.name == tag.name) {
                let first = first.span;
                self.report(
                    Diagnostic::new(
                        Code::DuplicateValue,
                        tag.span,
                        format!("tag `{}` is listed twice", tag.name),
                    )
                    .with_label("listed again")
                    .with_related(first, "first listed here"),
                );
                continue;
            }
            seen.push(tag);
            self.tag_reference(tag);
        }
    }

    /// Reports `unknown-tag` for a tag that `tags { ... }` does not declare.
    pub(crate) fn tag_reference(&mut self, tag: &Ident) {
        if self.tags.contains(&tag.name.as_str()) {
            return;
        }
        let help = if self.tags_declared {
            did_you_mean(&tag.name, self.tags.iter().copied())
                .unwrap_or_else(|| format!("add `{}` to `tags {{ ... }}`", tag.name))
        } else {
            format!(
                "declare the tags rules may add, e.g. `tags {{ {} }}`",
                tag.name
            )
        };
        self.report(
            Diagnostic::new(
                Code::UnknownTag,
                tag.span,
                format!("unknown tag `{}`", tag.name),
            )
            .with_label(if self.tags_declared {
                "not in `tags { ... }`"
            } else {
                "the policy declares no tags"
            })
            .with_help(help),
        );
    }

    /// `expect score NAME N` names a score.
    pub(crate) fn score_reference(&mut self, name: &Ident) {
        if self.scores.contains_key(name.name.as_str())
            || self.declared_by_broken(&name.name, crate::syntax::ast::ItemKind::Score)
        {
            return;
        }
        let help = did_you_mean(&name.name, self.scores.keys().copied()).or_else(|| {
            Some(if self.scores.is_empty() {
                "the policy declares no scores: `score NAME { +N when CONDITION }`".to_string()
            } else {
                format!(
                    "the scores are {}",
                    self.scores
                        .keys()
                        .map(|name| format!("`{name}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
        });
        self.report(
            Diagnostic::new(
                Code::UnknownScore,
                name.span,
                format!("unknown score `{}`", name.name),
            )
            .with_label("no score of this name")
            .with_help_opt(help),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnostic::Code;

    #[test]
    fn a_file_of_tests_may_not_declare_scores_tags_or_reps() {
        let policy = "schema lead { id: string  x: int }\nqueue q\notherwise -> queue q\n";
        let tests = "use \"p.route\"\nscore s { +1 when x = 1 }\ntags { a }\nrep anna { cap 3 }\n\
                     test \"t\" { lead { id: \"1\", x: 1 } expect queue q }\n";
        let (_, diagnostics) = crate::check::check_test_file(tests, Ok(policy));
        let refused: Vec<&str> = diagnostics
            .iter()
            .filter(|d| d.code == Code::InvalidTestFile)
            .map(|d| &tests[d.span.start..d.span.end])
            .collect();
        assert_eq!(refused, vec!["s", "tags", "anna"], "{diagnostics:?}");
    }

    #[test]
    fn a_score_is_no_field_outside_conditions() {
        let text = "schema lead { id: string  x: int }\nqueue q\nscore s { +1 when x = 1 }\n\
                    when s >= 1 -> queue q\notherwise -> queue q\n\
                    test \"t\" { lead { id: \"1\", x: 1, s: 5 } expect queue q }\n";
        let parsed = crate::syntax::parse(text);
        let diagnostics = crate::check::check(&parsed.file);
        let unknown: Vec<&str> = diagnostics
            .iter()
            .filter(|d| d.code == Code::UnknownField)
            .map(|d| &text[d.span.start..d.span.end])
            .collect();
        assert_eq!(unknown, vec!["s"], "{diagnostics:?}");
    }
}
