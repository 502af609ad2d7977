//! The one question every value check asks: does this literal fit this field's type?

pub use crate::model::types::{FieldType, TYPE_NAMES, list_variants};
use crate::syntax::ast::{Number, Value, ValueKind};

/// The kind of a literal, as named in messages.
pub fn describe_value(value: &Value) -> String {
    match &value.kind {
        ValueKind::Word(word) => format!("the word `{word}`"),
        ValueKind::Str(text) => format!("the string \"{text}\""),
        ValueKind::Number(Number::Int(int)) => format!("the number `{int}`"),
        ValueKind::Number(Number::Float(float)) => format!("the number `{float}`"),
        ValueKind::Time(_) => "a time".to_string(),
        ValueKind::Null => "`null`".to_string(),
        ValueKind::Invalid => "an unreadable literal".to_string(),
    }
}

/// A coarse class of literal, used to spot sets that mix kinds of values.
pub fn value_class(value: &Value) -> &'static str {
    match &value.kind {
        ValueKind::Word(_) => "word",
        ValueKind::Str(_) => "string",
        ValueKind::Number(_) => "number",
        ValueKind::Time(_) => "time",
        ValueKind::Null => "null",
        ValueKind::Invalid => "invalid",
    }
}

/// How a literal fails to fit a field type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Misfit {
    /// A bare word that is not one of the enum's variants.
    UnknownVariant { word: String },
    /// Any other mismatch, with a hint on how to write the value instead.
    WrongType { hint: Option<String> },
    /// A whole number for an `int` field beyond the 64 bits an int holds.
    OutOfRange,
}

/// Checks that `value` fits a field of type `ty`. `null` is left to the caller (it depends on
/// whether the field is optional and where the value is used).
pub fn fits(ty: &FieldType, value: &Value) -> Result<(), Misfit> {
    match (ty, &value.kind) {
        (_, ValueKind::Invalid) => Ok(()),
        (FieldType::Enum(variants), ValueKind::Word(word)) => {
            if variants.position(word).is_some() {
                Ok(())
            } else {
                Err(Misfit::UnknownVariant { word: word.clone() })
            }
        }
        (FieldType::Enum(variants), ValueKind::Str(text)) if variants.contains(text) => {
            Err(Misfit::WrongType {
                hint: Some(format!("enum variants are written bare: `{text}`")),
            })
        }
        (FieldType::String, ValueKind::Str(_)) => Ok(()),
        (FieldType::String, ValueKind::Word(word)) => Err(Misfit::WrongType {
            hint: Some(format!("strings are quoted: \"{word}\"")),
        }),
        (FieldType::Int, ValueKind::Number(Number::Int(_))) => Ok(()),
        // Read as a float only because it does not fit 64 bits (`5.0` is a float too, but
        // small): a whole number out of an int's range.
        #[allow(clippy::cast_precision_loss)]
        (FieldType::Int, ValueKind::Number(Number::Float(float)))
            if float.fract() == 0.0 && float.abs() >= i64::MAX as f64 =>
        {
            Err(Misfit::OutOfRange)
        }
        (FieldType::Int, ValueKind::Number(Number::Float(_))) => Err(Misfit::WrongType {
            hint: Some("an int field holds whole numbers".to_string()),
        }),
        (FieldType::Number, ValueKind::Number(_)) => Ok(()),
        (FieldType::Time, ValueKind::Time(_)) => Ok(()),
        (FieldType::Time, _) => Err(Misfit::WrongType {
            hint: Some("times are RFC 3339, such as `2026-11-23T10:00:00+01:00`".to_string()),
        }),
        (FieldType::Bool, ValueKind::Word(word)) if word == "true" || word == "false" => Ok(()),
        (FieldType::Bool, _) => Err(Misfit::WrongType {
            hint: Some("a bool is `true` or `false`".to_string()),
        }),
        _ => Err(Misfit::WrongType { hint: None }),
    }
}
