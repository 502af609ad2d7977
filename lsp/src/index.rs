//! The symbol index: every declaration and every use of a name in a policy (and in a file of
//! tests, the policy it uses), resolved to what it names. Definition, references, rename,
//! highlighting, hover and semantic tokens all ask this one table.

use std::collections::{BTreeMap, BTreeSet};
use switchboard_core::Span;
use switchboard_core::syntax::ast::{
    ActionKind, Expectation, ExpectationKind, Expr, ExprKind, PolicyFile, RosterSpec, Strategy,
    TypeExpr, Value, ValueKind,
};

/// What kind of thing a name names. Each kind is its own namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SymbolKind {
    Field,
    Variant,
    Pool,
    Queue,
    Calendar,
    Rule,
    Rep,
    Test,
    Score,
    Tag,
}

impl SymbolKind {
    /// The word people use for the kind in messages.
    pub fn noun(self) -> &'static str {
        match self {
            SymbolKind::Field => "field",
            SymbolKind::Variant => "variant",
            SymbolKind::Pool => "pool",
            SymbolKind::Queue => "queue",
            SymbolKind::Calendar => "calendar",
            SymbolKind::Rule => "rule",
            SymbolKind::Rep => "rep",
            SymbolKind::Test => "test",
            SymbolKind::Score => "score",
            SymbolKind::Tag => "tag",
        }
    }
}

/// One named thing. A variant's `scope` is its field (two enums may share a variant name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SymbolId {
    pub kind: SymbolKind,
    pub name: String,
    pub scope: Option<String>,
}

impl SymbolId {
    fn new(kind: SymbolKind, name: &str) -> SymbolId {
        SymbolId {
            kind,
            name: name.to_string(),
            scope: None,
        }
    }
}

/// Which text an occurrence is in: the document itself, or the policy a file of tests uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    Document,
    Policy,
}

/// One place a name is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub id: SymbolId,
    pub span: Span,
    /// Whether this is where the thing is declared (a rep is "declared" by every pool it is a
    /// member of).
    pub definition: bool,
    pub origin: Origin,
}

/// The names a policy declares, used to resolve what each use refers to.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// Field name to its enum variants (`None` for other types) and type name.
    pub fields: BTreeMap<String, FieldShape>,
    pub pools: BTreeSet<String>,
    pub queues: BTreeSet<String>,
    pub calendars: BTreeSet<String>,
    pub reps: BTreeSet<String>,
    pub rules: BTreeSet<String>,
    pub scores: BTreeSet<String>,
    /// The declared tags, in declaration order.
    pub tags: Vec<String>,
}

/// A schema field as written: its type name or its enum variants, and `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldShape {
    pub type_name: String,
    pub variants: Option<Vec<String>>,
    pub optional: bool,
}

impl Names {
    pub fn of(file: &PolicyFile) -> Names {
        let mut names = Names::default();
        for field in file.schemas.iter().flat_map(|schema| &schema.fields) {
            let (type_name, variants) = match &field.ty {
                TypeExpr::Named(ident) => (ident.name.clone(), None),
                TypeExpr::Enum { variants, .. } => (
                    "enum".to_string(),
                    Some(variants.iter().map(|v| v.name.clone()).collect()),
                ),
            };
            names
                .fields
                .entry(field.name.name.clone())
                .or_insert(FieldShape {
                    type_name,
                    variants,
                    optional: field.optional,
                });
        }
        for pool in &file.pools {
            names.pools.insert(pool.name.name.clone());
            names
                .reps
                .extend(pool.members.iter().map(|member| member.name.clone()));
        }
        names
            .reps
            .extend(file.reps.iter().map(|item| item.name.name.clone()));
        names
            .queues
            .extend(file.queues.iter().map(|queue| queue.name.name.clone()));
        names.calendars.extend(
            file.calendars
                .iter()
                .map(|calendar| calendar.name.name.clone()),
        );
        names.rules.extend(
            file.rules
                .iter()
                .filter_map(|rule| rule.name.as_ref().map(|name| name.name.clone())),
        );
        names
            .scores
            .extend(file.scores.iter().map(|score| score.name.name.clone()));
        for tag in file.tags.iter().flat_map(|tags| &tags.names) {
            if !names.tags.contains(&tag.name) {
                names.tags.push(tag.name.clone());
            }
        }
        names
    }

    /// What a name in a condition reads: a field, or else a score.
    fn read(&self, name: &str) -> SymbolKind {
        if !self.fields.contains_key(name) && self.scores.contains(name) {
            SymbolKind::Score
        } else {
            SymbolKind::Field
        }
    }

    /// The fields that hold a rep's name (`rep FIELD`, `owner of FIELD`).
    pub fn string_fields(&self) -> impl Iterator<Item = &str> {
        self.fields
            .iter()
            .filter(|(_, shape)| shape.type_name == "string")
            .map(|(name, _)| name.as_str())
    }

    /// What an escalation target names: a pool, a queue, or else a rep.
    fn target(&self, name: &str) -> SymbolKind {
        if self.pools.contains(name) {
            SymbolKind::Pool
        } else if self.queues.contains(name) {
            SymbolKind::Queue
        } else {
            SymbolKind::Rep
        }
    }
}

/// Every occurrence of every name, in one document (and the policy it uses).
#[derive(Debug, Clone, Default)]
pub struct Index {
    pub occurrences: Vec<Occurrence>,
    pub names: Names,
}

impl Index {
    /// Indexes `document`; for a file of tests, `policy` is the tree of the policy it uses, whose
    /// declarations resolve the tests' names and whose occurrences are indexed too.
    pub fn build(document: &PolicyFile, policy: Option<&PolicyFile>) -> Index {
        let names = Names::of(policy.unwrap_or(document));
        let mut builder = Builder {
            names: &names,
            occurrences: Vec::new(),
            origin: Origin::Document,
        };
        if let Some(policy) = policy {
            builder.origin = Origin::Policy;
            builder.file(policy);
            builder.origin = Origin::Document;
        }
        builder.file(document);
        let mut occurrences = builder.occurrences;
        occurrences.sort_by_key(|o| (o.origin, o.span.start, o.span.end));
        Index { occurrences, names }
    }

    /// The occurrence at a byte offset of the document (touching its start or end counts, so
    /// that a cursor just after a name still finds it).
    pub fn at(&self, offset: usize) -> Option<&Occurrence> {
        self.occurrences
            .iter()
            .filter(|o| o.origin == Origin::Document)
            .find(|o| o.span.start <= offset && offset <= o.span.end)
    }

    /// Every occurrence of one symbol.
    pub fn of<'a>(&'a self, id: &'a SymbolId) -> impl Iterator<Item = &'a Occurrence> + 'a {
        self.occurrences.iter().filter(move |o| &o.id == id)
    }
}

struct Builder<'a> {
    names: &'a Names,
    occurrences: Vec<Occurrence>,
    origin: Origin,
}

impl Builder<'_> {
    fn add(&mut self, id: SymbolId, span: Span, definition: bool) {
        self.occurrences.push(Occurrence {
            id,
            span,
            definition,
            origin: self.origin,
        });
    }

    fn name(
        &mut self,
        kind: SymbolKind,
        name: &switchboard_core::syntax::ast::Ident,
        definition: bool,
    ) {
        self.add(SymbolId::new(kind, &name.name), name.span, definition);
    }

    fn file(&mut self, file: &PolicyFile) {
        for field in file.schemas.iter().flat_map(|schema| &schema.fields) {
            self.name(SymbolKind::Field, &field.name, true);
            if let TypeExpr::Enum { variants, .. } = &field.ty {
                for variant in variants {
                    self.add(
                        SymbolId {
                            kind: SymbolKind::Variant,
                            name: variant.name.clone(),
                            scope: Some(field.name.name.clone()),
                        },
                        variant.span,
                        true,
                    );
                }
            }
        }
        for calendar in &file.calendars {
            self.name(SymbolKind::Calendar, &calendar.name, true);
        }
        for pool in &file.pools {
            self.name(SymbolKind::Pool, &pool.name, true);
            for member in &pool.members {
                self.name(SymbolKind::Rep, member, true);
            }
            for strategy in &pool.strategies {
                if let Strategy::Weighted { weights, .. } = strategy {
                    for weight in weights {
                        self.name(SymbolKind::Rep, &weight.member, false);
                    }
                }
            }
            for calendar in &pool.calendars {
                self.name(SymbolKind::Calendar, calendar, false);
            }
        }
        for item in &file.reps {
            // A `rep` item declares the rep as much as a pool's `members` does.
            self.name(SymbolKind::Rep, &item.name, true);
            for calendar in &item.calendars {
                self.name(SymbolKind::Calendar, calendar, false);
            }
        }
        for queue in &file.queues {
            self.name(SymbolKind::Queue, &queue.name, true);
        }
        for tag in file.tags.iter().flat_map(|tags| &tags.names) {
            self.name(SymbolKind::Tag, tag, true);
        }
        for score in &file.scores {
            self.name(SymbolKind::Score, &score.name, true);
            for line in &score.lines {
                self.condition(&line.condition);
            }
        }
        for rule in &file.rules {
            if let Some(name) = &rule.name {
                self.name(SymbolKind::Rule, name, true);
            }
            if let Some(condition) = &rule.condition {
                self.condition(condition);
            }
            for action in &rule.actions {
                self.action(&action.kind);
            }
            for escalation in &rule.escalations {
                let kind = self.names.target(&escalation.target.name);
                self.name(kind, &escalation.target, false);
            }
            for tag in &rule.tags {
                self.name(SymbolKind::Tag, tag, false);
            }
        }
        for test in &file.tests {
            self.add(
                SymbolId::new(SymbolKind::Test, &test.name.value),
                test.name.span,
                true,
            );
            for entry in test.leads.iter().flat_map(|lead| &lead.entries) {
                self.name(SymbolKind::Field, &entry.field, false);
                self.value(&entry.field.name, &entry.value);
            }
            for expectation in &test.expectations {
                self.expectation(expectation);
            }
            for roster in &test.rosters {
                if let RosterSpec::Inline(inline) = roster {
                    for rep in &inline.reps {
                        self.name(SymbolKind::Rep, &rep.name, false);
                    }
                    for owner in inline.accounts.iter().filter_map(|a| a.owner.as_ref()) {
                        self.name(SymbolKind::Rep, owner, false);
                    }
                }
            }
        }
    }

    fn condition(&mut self, expr: &Expr) {
        match &expr.kind {
            ExprKind::And(parts) | ExprKind::Or(parts) => {
                for part in parts {
                    self.condition(part);
                }
            }
            ExprKind::Not(inner) => self.condition(inner),
            ExprKind::Compare { field, value, .. } => {
                self.name(self.names.read(&field.name), field, false);
                self.value(&field.name, value);
            }
            ExprKind::In { field, values, .. } => {
                self.name(self.names.read(&field.name), field, false);
                for value in values {
                    self.value(&field.name, value);
                }
            }
            ExprKind::IsSet { field, .. } => {
                self.name(self.names.read(&field.name), field, false);
            }
            ExprKind::Calendar { calendar, .. } => {
                self.name(SymbolKind::Calendar, calendar, false);
            }
        }
    }

    /// A bare word that is a variant of the field's enum.
    fn value(&mut self, field: &str, value: &Value) {
        let ValueKind::Word(word) = &value.kind else {
            return;
        };
        let is_variant = self
            .names
            .fields
            .get(field)
            .and_then(|shape| shape.variants.as_ref())
            .is_some_and(|variants| variants.contains(word));
        if is_variant {
            self.add(
                SymbolId {
                    kind: SymbolKind::Variant,
                    name: word.clone(),
                    scope: Some(field.to_string()),
                },
                value.span,
                false,
            );
        }
    }

    fn action(&mut self, action: &ActionKind) {
        match action {
            ActionKind::Pool(name) => self.name(SymbolKind::Pool, name, false),
            ActionKind::Queue(name) => self.name(SymbolKind::Queue, name, false),
            ActionKind::OwnerOf(field) | ActionKind::PreviousRep { field, .. } => {
                self.name(SymbolKind::Field, field, false)
            }
            ActionKind::Rep(name) => {
                let kind = if self.names.fields.contains_key(&name.name) {
                    SymbolKind::Field
                } else {
                    SymbolKind::Rep
                };
                self.name(kind, name, false);
            }
        }
    }

    fn expectation(&mut self, expectation: &Expectation) {
        match &expectation.kind {
            ExpectationKind::Pool(name) => self.name(SymbolKind::Pool, name, false),
            ExpectationKind::Queue(name) => self.name(SymbolKind::Queue, name, false),
            ExpectationKind::Rep(name) => self.name(SymbolKind::Rep, name, false),
            ExpectationKind::Rule(name) => self.name(SymbolKind::Rule, name, false),
            ExpectationKind::Escalate(escalation) => {
                let kind = self.names.target(&escalation.target.name);
                self.name(kind, &escalation.target, false);
            }
            ExpectationKind::Score { score, .. } => self.name(SymbolKind::Score, score, false),
            ExpectationKind::Tag(tag) => self.name(SymbolKind::Tag, tag, false),
            ExpectationKind::Unassigned | ExpectationKind::Within(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "schema lead { id: string  intent: enum { low, high }  owner: string? }\n\
        pool senior { members anna, boris  strategy weighted(anna=2, boris=1) }\n\
        queue review\n\
        rule hot: when intent = high -> pool senior else rep owner within 15m escalate review after 1h\n\
        when intent in {low} -> rep anna\n\
        otherwise -> queue review\n\
        test \"t\" { lead { id: \"1\", intent: high } expect pool senior expect rule hot }\n";

    fn spans_of(index: &Index, kind: SymbolKind, name: &str) -> Vec<(&'static str, bool)> {
        index
            .occurrences
            .iter()
            .filter(|o| o.id.kind == kind && o.id.name == name)
            .map(|o| (if o.definition { "def" } else { "use" }, o.definition))
            .collect()
    }

    #[test]
    fn resolves_every_kind_of_name() {
        let parsed = switchboard_core::syntax::parse(POLICY);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let index = Index::build(&parsed.file, None);
        assert_eq!(spans_of(&index, SymbolKind::Pool, "senior").len(), 3);
        assert_eq!(spans_of(&index, SymbolKind::Queue, "review").len(), 3);
        assert_eq!(spans_of(&index, SymbolKind::Rule, "hot").len(), 2);
        // `rep owner` names the field; `rep anna` names the rep.
        assert_eq!(spans_of(&index, SymbolKind::Field, "owner").len(), 2);
        assert_eq!(spans_of(&index, SymbolKind::Rep, "anna").len(), 3);
        // `high` in the rule and in the test's lead are uses of the variant.
        assert_eq!(spans_of(&index, SymbolKind::Variant, "high").len(), 3);
        let use_of_high = POLICY.find("= high").unwrap() + 3;
        let found = index.at(use_of_high).unwrap();
        assert_eq!(found.id.scope.as_deref(), Some("intent"));
    }
}
