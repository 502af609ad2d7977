//! Go to definition, find references and rename, over the symbol index. A file of tests and the
//! policy it uses are one namespace: a name in a test resolves to the policy's declaration.

use crate::document::Analysis;
use crate::index::{Occurrence, Origin, SymbolId, SymbolKind};
use crate::position;
use switchboard_core::LineIndex;
use tower_lsp_server::ls_types::{Location, Range, Uri};

/// Every place a symbol is written in this analysis (the document, and the policy it uses).
pub fn locations(analysis: &Analysis, id: &SymbolId, declarations: bool) -> Vec<Location> {
    let mut lines = Lines::default();
    analysis
        .index
        .of(id)
        .filter(|occurrence| declarations || !occurrence.definition)
        .filter_map(|occurrence| lines.location(analysis, occurrence))
        .collect()
}

/// Where a symbol is declared (a rep: every pool it is a member of).
pub fn definitions(analysis: &Analysis, id: &SymbolId) -> Vec<Location> {
    let mut lines = Lines::default();
    analysis
        .index
        .of(id)
        .filter(|o| o.definition)
        .filter_map(|o| lines.location(analysis, o))
        .collect()
}

/// The line index of each text occurrences are in, made once per request: a name used
/// thousands of times costs one pass over the text, not one per use.
#[derive(Default)]
struct Lines<'a> {
    document: Option<LineIndex<'a>>,
    policy: Option<LineIndex<'a>>,
}

impl<'a> Lines<'a> {
    fn location(&mut self, analysis: &'a Analysis, occurrence: &Occurrence) -> Option<Location> {
        let (uri, text) = analysis.origin_text(occurrence.origin)?;
        let slot = match occurrence.origin {
            Origin::Document => &mut self.document,
            Origin::Policy => &mut self.policy,
        };
        let lines = slot.get_or_insert_with(|| LineIndex::new(text));
        Some(Location {
            uri: uri.clone(),
            range: position::range(lines, occurrence.span),
        })
    }
}

/// The range of the name under the cursor, if it can be renamed.
pub fn prepare_rename(analysis: &Analysis, offset: usize) -> Option<(Range, String)> {
    let occurrence = analysis.index.at(offset)?;
    if occurrence.id.kind == SymbolKind::Test || fixed_name(&occurrence.id).is_some() {
        return None;
    }
    let lines = analysis.lines();
    Some((
        position::range(&lines, occurrence.span),
        occurrence.id.name.clone(),
    ))
}

/// Why a name keeps its spelling whatever it is renamed to: the fields the router finds by
/// name (the lead's `id`; `created_at`, the SLA clock when the schema has several times).
pub fn fixed_name(id: &SymbolId) -> Option<String> {
    match (id.kind, id.name.as_str()) {
        (SymbolKind::Field, "id") => Some(
            "`id` is the lead's identity, which the router reads by this name; it cannot be \
             renamed"
                .to_string(),
        ),
        (SymbolKind::Field, "created_at") => Some(
            "`created_at` is the lead's clock, which the router finds by this name; it cannot \
             be renamed"
                .to_string(),
        ),
        _ => None,
    }
}

/// Why `new_name` cannot replace `id`'s name, if it cannot.
pub fn rename_problem(analysis: &Analysis, id: &SymbolId, new_name: &str) -> Option<String> {
    if let Some(fixed) = fixed_name(id) {
        return Some(fixed);
    }
    // Only the reserved words cannot be names: a pool may be called `tag` or `shift`, as the
    // language allows (`docs/language.md`).
    if switchboard_core::syntax::RESERVED.contains(&new_name) {
        return Some(format!(
            "`{new_name}` is a reserved keyword of the language and cannot be a name"
        ));
    }
    if !switchboard_core::syntax::is_name(new_name) {
        return Some(format!(
            "`{new_name}` is not a name: use letters, digits and `_`, starting with a letter"
        ));
    }
    let names = &analysis.index.names;
    let taken = match id.kind {
        SymbolKind::Field => names.fields.contains_key(new_name),
        SymbolKind::Variant => id
            .scope
            .as_ref()
            .and_then(|field| names.fields.get(field))
            .and_then(|shape| shape.variants.as_ref())
            .is_some_and(|variants| variants.iter().any(|v| v == new_name)),
        // Pools, queues and reps share escalation targets, and reps share `rep X` with fields.
        SymbolKind::Pool | SymbolKind::Queue | SymbolKind::Rep => {
            names.pools.contains(new_name)
                || names.queues.contains(new_name)
                || names.reps.contains(new_name)
                || (id.kind == SymbolKind::Rep && names.fields.contains_key(new_name))
        }
        SymbolKind::Calendar => names.calendars.contains(new_name),
        SymbolKind::Rule => names.rules.contains(new_name),
        SymbolKind::Test => true,
        // A score is read like a field, so it may not take a field's name either.
        SymbolKind::Score => names.scores.contains(new_name) || names.fields.contains_key(new_name),
        SymbolKind::Tag => names.tags.iter().any(|tag| tag == new_name),
    };
    let clash_with_field = id.kind == SymbolKind::Field
        && (names.reps.contains(new_name) || names.scores.contains(new_name));
    (taken || clash_with_field).then(|| {
        format!(
            "`{new_name}` is already the name of a {} or another name it would be confused with",
            id.kind.noun()
        )
    })
}

/// A location's URI and range, for grouping edits by file.
pub fn edits_by_uri(locations: Vec<Location>) -> std::collections::HashMap<Uri, Vec<Range>> {
    let mut grouped: std::collections::HashMap<Uri, Vec<Range>> = std::collections::HashMap::new();
    for location in locations {
        let ranges = grouped.entry(location.uri).or_default();
        if !ranges.contains(&location.range) {
            ranges.push(location.range);
        }
    }
    grouped
}
