//! The lead reader: NDJSON lines, bounded in length and nesting, validated against the schema.
//! Every line gives either a lead or an error record; nothing is skipped and nothing panics.

use crate::check::FieldType;
use crate::model::{Lead, LeadValue, Policy, Scalar};
use serde_json::Value;
use std::io::{self, BufRead};

/// Limits on one input line.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_line_bytes: usize,
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_line_bytes: 1 << 20,
            max_depth: 64,
        }
    }
}

/// One line of input, as read.
#[derive(Debug)]
pub enum Line {
    /// The line's bytes, without its terminator.
    Text(Vec<u8>),
    /// The line was longer than the limit; its bytes were skipped. Holds the length seen.
    TooLong(usize),
}

/// Reads the next line (up to `\n`), keeping at most `max` bytes of it. `None` at the end.
pub fn read_line(input: &mut impl BufRead, max: usize) -> io::Result<Option<Line>> {
    let mut line = Vec::new();
    let mut length = 0usize;
    let mut saw_any = false;
    loop {
        let buffer = input.fill_buf()?;
        if buffer.is_empty() {
            break;
        }
        saw_any = true;
        let (chunk, done) = match buffer.iter().position(|b| *b == b'\n') {
            Some(end) => (&buffer[..end], Some(end + 1)),
            None => (buffer, None),
        };
        length += chunk.len();
        if length <= max {
            line.extend_from_slice(chunk);
        }
        let consumed = done.unwrap_or(chunk.len());
        input.consume(consumed);
        if done.is_some() {
            break;
        }
    }
    if !saw_any {
        return Ok(None);
    }
    if length > max {
        return Ok(Some(Line::TooLong(length)));
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(Line::Text(line)))
}

/// Why a line is not a lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadError {
    /// `lead.json`, `lead.utf8`, `lead.object`, `lead.too_long`, `lead.too_deep`, `lead.missing`,
    /// `lead.type`.
    pub code: &'static str,
    pub message: String,
    /// The lead's id, when it could be read.
    pub lead: Option<String>,
}

/// A validated lead: its id, its values and its JSON (kept for the decision's context).
#[derive(Debug, Clone)]
pub struct ParsedLead {
    pub id: String,
    pub lead: Lead,
}

/// Parses and validates one line against the policy's schema. Fields the schema does not name
/// are ignored (CRMs send many).
pub fn parse_lead(policy: &Policy, bytes: &[u8], limits: &Limits) -> Result<ParsedLead, LeadError> {
    let error = |code, message: String| LeadError {
        code,
        message,
        lead: None,
    };
    let text = std::str::from_utf8(bytes).map_err(|utf8| {
        error(
            "lead.utf8",
            format!(
                "line is not UTF-8 (invalid byte at offset {})",
                utf8.valid_up_to()
            ),
        )
    })?;
    if text.trim().is_empty() {
        return Err(error(
            "lead.json",
            "empty line: expected a JSON object".to_string(),
        ));
    }
    if let Some(depth) = too_deep(bytes, limits.max_depth) {
        return Err(error(
            "lead.too_deep",
            format!(
                "JSON nested deeper than {} levels (at byte {depth})",
                limits.max_depth
            ),
        ));
    }
    // Stream the object: only the schema's fields are kept; the rest (CRMs send many) are
    // skipped without being built.
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let parsed = serde::de::DeserializeSeed::deserialize(LeadSeed { policy }, &mut deserializer)
        .and_then(|parsed| deserializer.end().map(|()| parsed))
        .map_err(|json| error("lead.json", format!("not valid JSON: {json}")))?;
    let values_in = match parsed {
        Top::Object(values) => values,
        Top::Other(kind) => {
            return Err(error(
                "lead.object",
                format!("a lead is a JSON object, found {kind}"),
            ));
        }
    };
    let id = policy
        .field_id("id")
        .and_then(|field| match values_in.get(field) {
            Some(Some(Json::Str(id))) => Some(id.to_string()),
            Some(Some(Json::Number(number))) => Some(number.clone()),
            _ => None,
        });
    let mut problems: Vec<(&'static str, String)> = Vec::new();
    let mut values = Vec::with_capacity(policy.fields.len());
    for (field, value) in policy.fields.iter().zip(values_in) {
        let Some(value) = value.filter(|v| !matches!(v, Json::Null)) else {
            if !field.optional {
                problems.push((
                    "lead.missing",
                    format!("field `{}` is required", field.name),
                ));
            }
            values.push(None);
            continue;
        };
        match convert(&field.ty, &value) {
            Ok(converted) => values.push(Some(converted)),
            Err(expected) => {
                problems.push((
                    "lead.type",
                    format!(
                        "field `{}`: expected {expected}, found {}",
                        field.name,
                        value.shown()
                    ),
                ));
                values.push(None);
            }
        }
    }
    if let Some((code, _)) = problems.first() {
        let code = *code;
        let message = problems
            .into_iter()
            .map(|(_, m)| m)
            .collect::<Vec<_>>()
            .join("; ");
        return Err(LeadError {
            code,
            message,
            lead: id,
        });
    }
    let Some(id) = id else {
        return Err(error("lead.missing", "field `id` is required".to_string()));
    };
    Ok(ParsedLead {
        id,
        lead: Lead { values },
    })
}

/// A JSON value as far as validation needs it.
#[derive(Debug, Clone)]
enum Json<'de> {
    Null,
    Bool(bool),
    /// The number's JSON text (exact: ints stay ints).
    Number(String),
    /// Borrowed from the line when it has no escapes (most values), so that reading a lead does
    /// not allocate per field.
    Str(std::borrow::Cow<'de, str>),
    /// An array or an object: never a field value.
    Compound(&'static str),
}

impl Json<'_> {
    fn shown(&self) -> String {
        let text = match self {
            Json::Null => "null".to_string(),
            Json::Bool(flag) => flag.to_string(),
            Json::Number(number) => number.clone(),
            Json::Str(text) => Value::String(text.to_string()).to_string(),
            Json::Compound(kind) => return (*kind).to_string(),
        };
        if text.chars().count() > 60 {
            let short: String = text.chars().take(57).collect();
            format!("{short}...")
        } else {
            text
        }
    }
}

/// The top of a line: an object's field values (in schema order), or what it was instead.
enum Top<'de> {
    Object(Vec<Option<Json<'de>>>),
    Other(&'static str),
}

struct LeadSeed<'a> {
    policy: &'a Policy,
}

impl<'de> serde::de::DeserializeSeed<'de> for LeadSeed<'_> {
    type Value = Top<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Top<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for LeadSeed<'_> {
    type Value = Top<'de>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Top<'de>, A::Error> {
        let mut values: Vec<Option<Json<'de>>> = vec![None; self.policy.fields.len()];
        while let Some(field) = map.next_key_seed(KeySeed {
            policy: self.policy,
        })? {
            match field {
                Some(index) => {
                    let value = map.next_value_seed(JsonSeed)?;
                    if let Some(slot) = values.get_mut(index) {
                        *slot = Some(value);
                    }
                }
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(Top::Object(values))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Top<'de>, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Top::Other("an array"))
    }

    fn visit_str<E>(self, _: &str) -> Result<Top<'de>, E> {
        Ok(Top::Other("a string"))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Top<'de>, E> {
        Ok(Top::Other("a boolean"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Top<'de>, E> {
        Ok(Top::Other("a number"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Top<'de>, E> {
        Ok(Top::Other("a number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Top<'de>, E> {
        Ok(Top::Other("a number"))
    }

    fn visit_unit<E>(self) -> Result<Top<'de>, E> {
        Ok(Top::Other("null"))
    }
}

/// Maps an object key to the index of the schema field it names, without allocating.
struct KeySeed<'a> {
    policy: &'a Policy,
}

impl<'de> serde::de::DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a field name")
    }

    fn visit_str<E>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(self
            .policy
            .fields
            .iter()
            .position(|field| field.name == key))
    }
}

/// Reads one field value.
struct JsonSeed;

impl<'de> serde::de::DeserializeSeed<'de> for JsonSeed {
    type Value = Json<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Json<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for JsonSeed {
    type Value = Json<'de>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, flag: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(flag))
    }

    fn visit_i64<E>(self, number: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(number.to_string()))
    }

    fn visit_u64<E>(self, number: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(number.to_string()))
    }

    fn visit_f64<E>(self, number: f64) -> Result<Json<'de>, E> {
        Ok(Json::Number(
            serde_json::Number::from_f64(number)
                .map_or_else(|| number.to_string(), |n| n.to_string()),
        ))
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(std::borrow::Cow::Borrowed(text)))
    }

    fn visit_str<E>(self, text: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(std::borrow::Cow::Owned(text.to_string())))
    }

    fn visit_string<E>(self, text: String) -> Result<Json<'de>, E> {
        Ok(Json::Str(std::borrow::Cow::Owned(text)))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Json::Compound("an array"))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(Json::Compound("an object"))
    }
}

/// Converts a JSON value to a field's type, or says what was expected.
fn convert(ty: &FieldType, value: &Json<'_>) -> Result<LeadValue, String> {
    match (ty, value) {
        (FieldType::Enum(variants), Json::Str(text)) => variants
            .iter()
            .position(|v| v == text)
            .and_then(|i| u32::try_from(i).ok())
            .map(LeadValue::Variant)
            .ok_or_else(|| format!("one of {}", variants.join(", "))),
        (FieldType::Enum(variants), _) => Err(format!("one of {}", variants.join(", "))),
        (FieldType::Bool, Json::Bool(flag)) => Ok(LeadValue::Variant(u32::from(*flag))),
        (FieldType::Bool, _) => Err("true or false".to_string()),
        (FieldType::String, Json::Str(text)) => Ok(LeadValue::Str(text.to_string())),
        (FieldType::String, _) => Err("a string".to_string()),
        (FieldType::Int, Json::Number(number)) => number
            .parse::<i64>()
            .map(|int| LeadValue::Scalar(Scalar::Int(i128::from(int))))
            .map_err(|_| "a whole number".to_string()),
        (FieldType::Int, _) => Err("a whole number".to_string()),
        (FieldType::Number, Json::Number(number)) => number
            .parse::<f64>()
            .ok()
            .filter(|float| float.is_finite())
            .map(|float| LeadValue::Scalar(Scalar::Float(float)))
            .ok_or_else(|| "a finite number".to_string()),
        (FieldType::Number, _) => Err("a number".to_string()),
        (FieldType::Time, Json::Str(text)) => text
            .parse::<jiff::Timestamp>()
            .map(|time| LeadValue::Scalar(Scalar::from_time(time)))
            .map_err(|_| "an RFC 3339 time such as \"2026-11-23T10:00:00+01:00\"".to_string()),
        (FieldType::Time, _) => Err("an RFC 3339 time string".to_string()),
    }
}

/// The byte offset where nesting first exceeds `max`, ignoring brackets inside strings.
fn too_deep(bytes: &[u8], max: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, byte) in bytes.iter().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Some(offset);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_bounded_and_terminators_stripped() {
        let mut input: &[u8] = b"short\r\nthis line is far too long\nok";
        assert!(matches!(read_line(&mut input, 10).unwrap(), Some(Line::Text(t)) if t == b"short"));
        assert!(matches!(
            read_line(&mut input, 10).unwrap(),
            Some(Line::TooLong(25))
        ));
        assert!(matches!(read_line(&mut input, 10).unwrap(), Some(Line::Text(t)) if t == b"ok"));
        assert!(read_line(&mut input, 10).unwrap().is_none());
    }

    #[test]
    fn nesting_is_measured_outside_strings() {
        assert_eq!(too_deep(b"[[[1]]]", 2), Some(2));
        assert_eq!(too_deep(b"{\"a\": \"[[[[[\"}", 2), None);
        assert_eq!(too_deep(b"{\"a\": \"\\\"[[[[\"}", 2), None);
    }
}
