//! Field types: what a schema field may hold, named as people write them.

use std::fmt;

/// The type of a schema field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    String,
    Int,
    Number,
    Time,
    Bool,
    Enum(Vec<String>),
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
pub fn list_variants(variants: &[String]) -> String {
    let quoted: Vec<String> = variants.iter().map(|v| format!("`{v}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}
