//! Field types: what a schema field may hold, named as people write them.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// An enum's variants, in declaration order (a variant's index is its value), shared rather than
/// copied, with an index for finding a variant by name in large enums.
#[derive(Debug, Clone)]
pub struct Variants(Arc<VariantTable>);

#[derive(Debug)]
struct VariantTable {
    names: Vec<String>,
    /// Name to index, built for enums large enough that a scan would show.
    /// Keyed by a hash seeded at random per process, so names written in advance to collide
    /// do not; leads only look names up, they never add one.
    index: Option<HashMap<String, u32, foldhash::fast::RandomState>>,
}

/// Below this many variants a scan is as fast as a hash lookup.
const INDEXED_FROM: usize = 16;

impl Variants {
    pub fn new(names: Vec<String>) -> Variants {
        let index = (names.len() >= INDEXED_FROM).then(|| {
            let mut index = HashMap::with_capacity_and_hasher(
                names.len(),
                foldhash::fast::RandomState::default(),
            );
            for (position, name) in names.iter().enumerate() {
                // The first of a repeated name wins, as a scan finds it.
                index
                    .entry(name.clone())
                    .or_insert(u32::try_from(position).unwrap_or(u32::MAX));
            }
            index
        });
        Variants(Arc::new(VariantTable { names, index }))
    }

    /// Whether names are found through an index (large enums) rather than a scan.
    pub fn is_indexed(&self) -> bool {
        self.0.index.is_some()
    }

    /// The variants as a message lists them: all of a small enum, the first few of a large one.
    pub fn listed(&self) -> String {
        const SHOWN: usize = 12;
        let names = &self.0.names;
        if names.len() <= SHOWN {
            return names.join(", ");
        }
        format!("{}, … ({} in all)", names[..SHOWN].join(", "), names.len())
    }

    /// The index of the variant named `name`.
    pub fn position(&self, name: &str) -> Option<u32> {
        match &self.0.index {
            Some(index) => index.get(name).copied(),
            None => self
                .0
                .names
                .iter()
                .position(|variant| variant == name)
                .and_then(|position| u32::try_from(position).ok()),
        }
    }
}

impl From<Vec<String>> for Variants {
    fn from(names: Vec<String>) -> Variants {
        Variants::new(names)
    }
}

impl std::ops::Deref for Variants {
    type Target = [String];

    fn deref(&self) -> &[String] {
        &self.0.names
    }
}

impl PartialEq for Variants {
    fn eq(&self, other: &Variants) -> bool {
        self.0.names == other.0.names
    }
}

impl Eq for Variants {}

impl std::hash::Hash for Variants {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.names.hash(state);
    }
}

/// The type of a schema field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    String,
    Int,
    Number,
    Time,
    Bool,
    Enum(Variants),
}

/// The type names a schema may use, besides `enum { ... }`.
pub const TYPE_NAMES: [&str; 5] = ["string", "int", "number", "time", "bool"];

impl FieldType {
    /// What people coming from other languages write for each type.
    pub fn alias(name: &str) -> Option<&'static str> {
        Some(match name {
            "str" | "text" | "varchar" => "string",
            "integer" | "i64" | "long" => "int",
            "float" | "double" | "decimal" | "f64" | "money" => "number",
            "datetime" | "timestamp" | "date" => "time",
            "boolean" => "bool",
            _ => return None,
        })
    }

    pub fn from_name(name: &str) -> Option<FieldType> {
        Some(match name {
            "string" => FieldType::String,
            "int" => FieldType::Int,
            "number" => FieldType::Number,
            "time" => FieldType::Time,
            "bool" => FieldType::Bool,
            _ => return None,
        })
    }

    /// Whether `<`, `<=`, `>`, `>=` apply.
    pub fn is_ordered(&self) -> bool {
        matches!(self, FieldType::Int | FieldType::Number | FieldType::Time)
    }

    /// "an enum (`low`, `medium` or `high`)", "a string", ...
    pub fn describe(&self) -> String {
        match self {
            FieldType::String => "a string".to_string(),
            FieldType::Int => "an int".to_string(),
            FieldType::Number => "a number".to_string(),
            FieldType::Time => "a time".to_string(),
            FieldType::Bool => "a bool".to_string(),
            FieldType::Enum(variants) => format!("an enum ({})", list_variants(variants)),
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldType::String => formatter.write_str("string"),
            FieldType::Int => formatter.write_str("int"),
            FieldType::Number => formatter.write_str("number"),
            FieldType::Time => formatter.write_str("time"),
            FieldType::Bool => formatter.write_str("bool"),
            FieldType::Enum(variants) => write!(formatter, "enum {{ {} }}", variants.join(", ")),
        }
    }
}

/// "`low`, `medium` or `high`".
/// A large enum is listed by its first twelve variants and its count.
pub fn list_variants(variants: &[String]) -> String {
    const SHOWN: usize = 12;
    if variants.len() > SHOWN {
        let quoted: Vec<String> = variants[..SHOWN].iter().map(|v| format!("`{v}`")).collect();
        return format!("{}, … ({} in all)", quoted.join(", "), variants.len());
    }
    let quoted: Vec<String> = variants.iter().map(|v| format!("`{v}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}
