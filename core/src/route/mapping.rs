//! Webhook payloads to leads (what `serve` does with a CRM's delivery): a mapping file names, for each lead field, where its value is in
//! the payload (a JSON pointer), a constant, or a default. Strings are converted to the schema's
//! numbers and booleans (CRMs send `"250"` for 250), and an epoch in milliseconds or seconds to a
//! time when the mapping says so. What the mapping does not name is dropped.
//!
//! ```json
//! { "leads": "/data",
//!   "fields": { "id": "/objectId", "email": "/properties/email",
//!               "employees": {"path": "/properties/numberofemployees", "default": 0},
//!               "created_at": {"path": "/occurredAt", "from": "epoch_ms"},
//!               "source": {"value": "hubspot"} } }
//! ```

use crate::model::{FieldType, Policy};
use crate::route::reader::LeadError;
use serde_json::{Map, Value};

/// Where one field's value comes from.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    /// A JSON pointer into the lead's part of the payload, with a value for when it is absent.
    Path {
        pointer: String,
        default: Option<Value>,
        epoch: Option<Epoch>,
    },
    /// The same value for every lead.
    Value(Value),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Epoch {
    Seconds,
    Millis,
}

/// A checked mapping file.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    /// Where the lead (an object) or the leads (an array) are in the payload.
    leads: String,
    fields: Vec<(String, Source)>,
    /// Each field's type, by the policy's schema.
    types: Vec<Option<FieldType>>,
}

fn pointer_of(value: &Value, context: &str) -> Result<String, String> {
    match value {
        Value::String(pointer) if pointer.is_empty() || pointer.starts_with('/') => {
            Ok(if pointer == "/" {
                String::new()
            } else {
                pointer.clone()
            })
        }
        Value::String(pointer) => Err(format!(
            "{context}: `{pointer}` is not a JSON pointer (they start with `/`, as in \
             `/properties/email`)"
        )),
        other => Err(format!(
            "{context}: expected a JSON pointer string, found {other}"
        )),
    }
}

impl Mapping {
    /// Reads a mapping file's text, checking its fields against the policy's schema.
    pub fn parse(text: &str, policy: &Policy) -> Result<Mapping, String> {
        let root: Value =
            serde_json::from_str(text).map_err(|error| format!("not JSON: {error}"))?;
        let Value::Object(root) = root else {
            return Err("expected an object with `fields` (and optionally `leads`)".to_string());
        };
        for key in root.keys() {
            if key != "leads" && key != "fields" {
                return Err(format!(
                    "unknown key `{key}`: a mapping has `leads` and `fields`"
                ));
            }
        }
        let leads = match root.get("leads") {
            Some(value) => pointer_of(value, "`leads`")?,
            None => String::new(),
        };
        let Some(Value::Object(fields)) = root.get("fields") else {
            return Err("`fields` is missing: name each lead field's source".to_string());
        };
        let mut mapped = Vec::new();
        let mut types = Vec::new();
        for (field, spec) in fields {
            let context = format!("field `{field}`");
            let ty = policy
                .fields
                .iter()
                .find(|def| def.name == *field)
                .map(|def| def.ty.clone());
            if ty.is_none() && field != "id" {
                let mut names: Vec<&str> =
                    policy.fields.iter().map(|def| def.name.as_str()).collect();
                if !names.contains(&"id") {
                    names.insert(0, "id");
                }
                let suggestion = crate::check::suggest::did_you_mean(field, names.iter().copied())
                    .map(|help| format!("; {help}"))
                    .unwrap_or_default();
                return Err(format!(
                    "{context} is not in the policy's schema (it has {}){suggestion}",
                    names
                        .iter()
                        .map(|name| format!("`{name}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            let source = match spec {
                Value::String(_) => Source::Path {
                    pointer: pointer_of(spec, &context)?,
                    default: None,
                    epoch: None,
                },
                Value::Object(object) => {
                    if let Some(value) = object.get("value") {
                        if object.len() > 1 {
                            return Err(format!(
                                "{context}: `value` is a constant; it takes no other key"
                            ));
                        }
                        Source::Value(value.clone())
                    } else {
                        for key in object.keys() {
                            if !["path", "default", "from"].contains(&key.as_str()) {
                                return Err(format!(
                                    "{context}: unknown key `{key}` (a source has `path`, \
                                     `default` and `from`, or `value`)"
                                ));
                            }
                        }
                        let pointer = match object.get("path") {
                            Some(path) => pointer_of(path, &context)?,
                            None => {
                                return Err(format!(
                                    "{context}: give a `path` (a JSON pointer) or a `value`"
                                ));
                            }
                        };
                        let epoch = match object.get("from").and_then(Value::as_str) {
                            None if object.get("from").is_none() => None,
                            Some("epoch_ms") => Some(Epoch::Millis),
                            Some("epoch_s") => Some(Epoch::Seconds),
                            _ => {
                                return Err(format!(
                                    "{context}: `from` is `epoch_ms` or `epoch_s`"
                                ));
                            }
                        };
                        if epoch.is_some() && ty != Some(FieldType::Time) {
                            return Err(format!(
                                "{context}: `from` converts an epoch to a time, and this field \
                                 is not a `time`"
                            ));
                        }
                        let default = object.get("default").cloned();
                        if let (Some(default), Some(ty)) = (&default, &ty) {
                            // Checked now, not at the first delivery with the field blank.
                            if let Some(epoch) = epoch {
                                if let Err(why) = epoch_time(default, epoch) {
                                    return Err(format!(
                                        "{context}: the `default` is not a time (with `from`, \
                                         a default is an epoch as the payload's values are): \
                                         {why}"
                                    ));
                                }
                            } else if let Some(expected) =
                                not_of_type(&convert(default, Some(ty)), ty)
                            {
                                return Err(format!(
                                    "{context}: the `default` {default} is not {expected}"
                                ));
                            }
                        }
                        Source::Path {
                            pointer,
                            default,
                            epoch,
                        }
                    }
                }
                other => {
                    return Err(format!(
                        "{context}: expected a JSON pointer or an object, found {other}"
                    ));
                }
            };
            mapped.push((field.clone(), source));
            types.push(ty);
        }
        // A required field the mapping gives no source would make every delivery an error (and
        // its leads never routed): refused now, at start or at a reload that adds it.
        let unmapped: Vec<&str> = policy
            .fields
            .iter()
            .filter(|def| !def.optional && def.name != "id")
            .filter(|def| !mapped.iter().any(|(field, _)| *field == def.name))
            .map(|def| def.name.as_str())
            .collect();
        if let Some(first) = unmapped.first() {
            return Err(format!(
                "the policy's schema requires {}, and the mapping gives {} no source: every \
                 delivery would be refused; map {} (`\"{first}\": \"/properties/{first}\"`), \
                 give {} a `value` or a `default`, or make {} optional in the schema \
                 (`{first}: ...?`)",
                unmapped
                    .iter()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if unmapped.len() == 1 { "it" } else { "them" },
                if unmapped.len() == 1 { "it" } else { "each" },
                if unmapped.len() == 1 { "it" } else { "each" },
                if unmapped.len() == 1 { "it" } else { "them" },
            ));
        }
        Ok(Mapping {
            leads,
            fields: mapped,
            types,
        })
    }

    /// The leads of a payload, one JSON line each, or the error record of a lead the mapping
    /// could not convert (an epoch that is not one, or of the other unit: a `lead.type` naming
    /// the field, with the lead's id). A lead without an `id` gets the delivery's id
    /// (`DELIVERY` for one lead, `DELIVERY/N` for the N-th of several, with a `/` or `%` in
    /// the delivery's id written `%2F` and `%25`, so that no two deliveries' leads can share
    /// an id), so a redelivery routes to the same ledger entry. `Err` when the payload has no
    /// leads where the mapping says.
    pub fn leads(
        &self,
        payload: &Value,
        delivery: Option<&str>,
    ) -> Result<Vec<Result<Vec<u8>, LeadError>>, String> {
        let part = payload.pointer(&self.leads).ok_or_else(|| {
            format!(
                "the payload has nothing at `{}`, where the mapping's `leads` points",
                self.leads
            )
        })?;
        let items: Vec<&Value> = match part {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        let several = items.len() > 1;
        Ok(items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let (mut lead, problems) = self.lead(item);
                if !lead.contains_key("id")
                    && let Some(delivery) = delivery
                {
                    let delivery = delivery.replace('%', "%25").replace('/', "%2F");
                    let id = if several {
                        format!("{delivery}/{}", index + 1)
                    } else {
                        delivery
                    };
                    lead.insert("id".to_string(), Value::String(id));
                }
                if problems.is_empty() {
                    Ok(Value::Object(lead).to_string().into_bytes())
                } else {
                    Err(LeadError {
                        code: "lead.type",
                        message: problems.join("; "),
                        lead: match lead.get("id") {
                            Some(Value::String(id)) => Some(id.clone()),
                            Some(Value::Number(id)) => Some(id.to_string()),
                            _ => None,
                        },
                    })
                }
            })
            .collect())
    }

    /// One lead's fields, and why a field's value could not be converted as the mapping says.
    fn lead(&self, item: &Value) -> (Map<String, Value>, Vec<String>) {
        let mut lead = Map::new();
        let mut problems = Vec::new();
        for ((field, source), ty) in self.fields.iter().zip(&self.types) {
            let value = match source {
                Source::Value(value) => Some(value.clone()),
                Source::Path {
                    pointer,
                    default,
                    epoch,
                } => match item.pointer(pointer).filter(|value| !no_value(value)) {
                    Some(value) => match epoch {
                        Some(epoch) => match epoch_time(value, *epoch) {
                            Ok(time) => Some(time),
                            Err(why) => {
                                problems.push(format!("field `{field}`: {why}"));
                                None
                            }
                        },
                        None => Some(convert(value, ty.as_ref())),
                    },
                    // Checked when the mapping was read: an epoch default converts.
                    None => default.as_ref().map(|default| match epoch {
                        Some(epoch) => epoch_time(default, *epoch).unwrap_or(Value::Null),
                        None => convert(default, ty.as_ref()),
                    }),
                },
            };
            if let Some(value) = value {
                lead.insert(field.clone(), value);
            }
        }
        (lead, problems)
    }
}

/// What `value` (as the mapping converts it) would have to be to be a value of `ty`, when it
/// is not one; `None` when it is (or is `null`: no value).
fn not_of_type(value: &Value, ty: &FieldType) -> Option<String> {
    let fits = match (ty, value) {
        // No value: a lead without the field, as a blank one is read.
        (_, Value::Null) => true,
        (_, value) if no_value(value) => true,
        (FieldType::String, Value::String(_)) => true,
        (FieldType::Int, Value::Number(number)) => number.is_i64() || number.is_u64(),
        (FieldType::Number, Value::Number(_)) => true,
        (FieldType::Bool, Value::Bool(_)) => true,
        (FieldType::Time, Value::String(text)) => crate::route::reader::read_time(text).is_some(),
        (FieldType::Enum(variants), Value::String(text)) => variants.position(text).is_some(),
        _ => false,
    };
    (!fits).then(|| {
        match ty {
            FieldType::String => "a string",
            FieldType::Int => "a whole number",
            FieldType::Number => "a number",
            FieldType::Bool => "`true` or `false`",
            FieldType::Time => "an RFC 3339 time",
            FieldType::Enum(_) => "one of the field's variants",
        }
        .to_string()
    })
}

/// Whether a CRM's value says there is none: `null`, or a blank string (HubSpot sends `""` for
/// a property nobody filled in), so the mapping's `default` applies, as `route` reads a blank
/// optional field as absent.
fn no_value(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.trim().is_empty(),
        _ => false,
    }
}

/// The earliest and the latest instant, in seconds since 1970, that an epoch may give: from
/// 1973-01-01T00:00:00Z to 5138-11-16 (when the seconds reach 11 digits). An epoch of the other
/// unit falls outside (milliseconds read as seconds land after 5138, seconds read as
/// milliseconds in January 1970), and so does a CRM's `0` for "not set": a lead created then
/// would be routed with its SLA long past, and escalated at once.
const EPOCH_SECONDS: std::ops::Range<f64> = 94_694_400.0..1e11;

/// Where the other unit's reading of a refused epoch must fall for the error to suggest that
/// unit: 1990 to 2100, when leads are made (a reading in the year 4970 suggests nothing).
const PLAUSIBLE_SECONDS: std::ops::Range<f64> = 631_152_000.0..4_102_444_800.0;

/// An epoch (a number, or a number's text; a fraction too) in `epoch`'s unit, as an RFC 3339
/// time; or why it is not one, naming the other unit when the value would be a time in it.
fn epoch_time(value: &Value, epoch: Epoch) -> Result<Value, String> {
    let (unit, from, nanos_per_unit) = match epoch {
        Epoch::Millis => ("milliseconds", "epoch_ms", 1_000_000),
        Epoch::Seconds => ("seconds", "epoch_s", 1_000_000_000),
    };
    let whole = match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse::<i64>().ok(),
        _ => None,
    };
    let number = match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
        _ => None,
    };
    let Some(number) = number else {
        return Err(format!(
            "expected a number of {unit} since 1970 (the mapping's `from: \"{from}\"`), found \
             {value}"
        ));
    };
    // Nanoseconds since 1970 read in `nanos_per_unit`: exact for a whole number, to the
    // microsecond for a fraction (all a float this large holds). Only called within
    // `EPOCH_SECONDS`, where both fit.
    #[allow(clippy::cast_possible_truncation)]
    let nanos = |nanos_per_unit: i128| match whole {
        Some(whole) => i128::from(whole) * nanos_per_unit,
        None => (number * (nanos_per_unit as f64) / 1000.0).round() as i128 * 1000,
    };
    let shown = |nanos: i128| {
        jiff::Timestamp::from_nanosecond(nanos).map_or_else(|_| String::new(), |t| t.to_string())
    };
    #[allow(clippy::cast_precision_loss)]
    let seconds = |nanos_per_unit: i128| number * (nanos_per_unit as f64) / 1e9;
    if EPOCH_SECONDS.contains(&seconds(nanos_per_unit)) {
        return Ok(Value::String(shown(nanos(nanos_per_unit))));
    }
    let (other_unit, other_from, other_nanos_per_unit) = match epoch {
        Epoch::Millis => ("seconds", "epoch_s", 1_000_000_000),
        Epoch::Seconds => ("milliseconds", "epoch_ms", 1_000_000),
    };
    let read_so = if PLAUSIBLE_SECONDS.contains(&seconds(other_nanos_per_unit)) {
        format!(
            ": it looks like {other_unit} ({}); if the CRM sends {other_unit}, write \
             `from: \"{other_from}\"`",
            shown(nanos(other_nanos_per_unit))
        )
    } else {
        String::new()
    };
    let when = if seconds(nanos_per_unit) < EPOCH_SECONDS.start {
        "before 1973"
    } else {
        "after 5138"
    };
    Err(format!(
        "{value} {unit} since 1970 (the mapping's `from: \"{from}\"`) is {when}, not a lead's \
         time{read_so}"
    ))
}

/// A CRM's value in the schema's type where it converts cleanly; otherwise as it came, so that
/// the router's error names the field and the value.
fn convert(value: &Value, ty: Option<&FieldType>) -> Value {
    let Value::String(text) = value else {
        // A CRM's numeric record id for a `string` field.
        if let (Value::Number(number), Some(FieldType::String)) = (value, ty) {
            return Value::String(number.to_string());
        }
        return value.clone();
    };
    let text = text.trim();
    match ty {
        Some(FieldType::Int) => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| value.clone()),
        Some(FieldType::Number) => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| value.clone()),
        Some(FieldType::Bool) => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => value.clone(),
        },
        _ => value.clone(),
    }
}
