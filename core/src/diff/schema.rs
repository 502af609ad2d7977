//! The lead space two policies share: their schemas side by side (what was added, removed or
//! retyped, with a lead that only one of them accepts), and the common schema on which the two
//! rule lists are compared, with each side's conditions translated onto it.
//!
//! A lead fits a schema when `route` would accept it (every required field set, every value of
//! the field's type; unknown fields are ignored). The common schema describes exactly the leads
//! that fit both: a field both declare is required when either requires it, an enum keeps the
//! variants both know, `int` and `number` meet in `int`, and `enum` and `string` in the enum.

use crate::graph::example;
use crate::model::FieldType;
use crate::model::{
    Atom, Bound, CalendarDef, CalendarId, Cond, FieldDef, FieldId, Lead, LeadValue,
};
use crate::model::{Policy, Scalar};
use crate::route::reader::{Limits, parse_lead};
use serde_json::{Map, Value};

/// What changed about one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldChange {
    /// Only NEW declares it.
    Added { ty: FieldType, optional: bool },
    /// Only OLD declares it.
    Removed { ty: FieldType, optional: bool },
    /// Both declare it, with different types (enum variants aside).
    Retyped { old: FieldType, new: FieldType },
    /// Both declare it with the same type; one requires it and the other does not.
    Optionality {
        old_optional: bool,
        new_optional: bool,
    },
    /// Enum variants only NEW knows.
    VariantsAdded(Vec<String>),
    /// Enum variants only OLD knows.
    VariantsRemoved(Vec<String>),
}

/// A lead that fits one schema and not the other, with why the other rejects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misfit {
    /// The lead as one line of JSON.
    pub json: String,
    /// The rejecting side's error code (`lead.missing`, `lead.type`).
    pub code: &'static str,
    pub message: String,
}

/// A schema change, with example leads that only one of the schemas accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaChange {
    pub field: String,
    pub change: FieldChange,
    /// A lead OLD accepts and NEW rejects, when one was found.
    pub old_only: Option<Misfit>,
    /// A lead NEW accepts and OLD rejects, when one was found.
    pub new_only: Option<Misfit>,
}

/// How a side's field maps onto the common schema.
#[derive(Debug, Clone)]
pub(crate) enum FieldMap {
    To {
        field: FieldId,
        conv: Conv,
    },
    /// No value of this field fits both schemas; in the common space it is always absent.
    Excluded,
}

/// How a side's values of a field become values of the common field.
#[derive(Debug, Clone)]
pub(crate) enum Conv {
    Same,
    /// Enum variant indices of the side to those of the common field (`None`: not common).
    Variants(Vec<Option<u32>>),
    /// A string field meets an enum: strings are variant names.
    StringToEnum,
    /// A number field meets an int: comparisons on whole numbers.
    NumberToInt,
}

/// One side's translation onto the common schema.
#[derive(Debug, Clone)]
pub(crate) struct SideMap {
    pub fields: Vec<FieldMap>,
    pub calendars: Vec<CalendarId>,
}

/// The common lead space.
#[derive(Debug, Clone)]
pub(crate) struct Common {
    /// The common schema, calendars and clock (no rules).
    pub policy: Policy,
    pub old: SideMap,
    pub new: SideMap,
}

/// The kind of JSON value a field type accepts.
fn json_kind(ty: &FieldType) -> u8 {
    match ty {
        FieldType::Bool => 0,
        FieldType::Int | FieldType::Number => 1,
        FieldType::String | FieldType::Enum(_) | FieldType::Time => 2,
    }
}

fn variants(ty: &FieldType) -> &[String] {
    match ty {
        FieldType::Enum(variants) => variants,
        _ => &[],
    }
}

/// Whether a type is an enum (bools compare as their own type).
fn is_enum(ty: &FieldType) -> bool {
    matches!(ty, FieldType::Enum(_))
}

/// The schema changes between two policies, each with leads only one side accepts.
pub(crate) fn changes(old: &Policy, new: &Policy, base: &Map<String, Value>) -> Vec<SchemaChange> {
    let mut out = Vec::new();
    let push = |out: &mut Vec<SchemaChange>, field: &str, change: FieldChange| {
        out.push(SchemaChange {
            field: field.to_string(),
            change,
            old_only: None,
            new_only: None,
        });
    };
    for def in &old.fields {
        match new.fields.iter().find(|f| f.name == def.name) {
            None => push(
                &mut out,
                &def.name,
                FieldChange::Removed {
                    ty: def.ty.clone(),
                    optional: def.optional,
                },
            ),
            Some(other) => {
                if is_enum(&def.ty) && is_enum(&other.ty) {
                    let removed: Vec<String> = variants(&def.ty)
                        .iter()
                        .filter(|v| !variants(&other.ty).contains(v))
                        .cloned()
                        .collect();
                    let added: Vec<String> = variants(&other.ty)
                        .iter()
                        .filter(|v| !variants(&def.ty).contains(v))
                        .cloned()
                        .collect();
                    if !removed.is_empty() {
                        push(&mut out, &def.name, FieldChange::VariantsRemoved(removed));
                    }
                    if !added.is_empty() {
                        push(&mut out, &def.name, FieldChange::VariantsAdded(added));
                    }
                } else if def.ty != other.ty {
                    push(
                        &mut out,
                        &def.name,
                        FieldChange::Retyped {
                            old: def.ty.clone(),
                            new: other.ty.clone(),
                        },
                    );
                }
                if def.optional != other.optional {
                    push(
                        &mut out,
                        &def.name,
                        FieldChange::Optionality {
                            old_optional: def.optional,
                            new_optional: other.optional,
                        },
                    );
                }
            }
        }
    }
    for def in &new.fields {
        if !old.fields.iter().any(|f| f.name == def.name) {
            push(
                &mut out,
                &def.name,
                FieldChange::Added {
                    ty: def.ty.clone(),
                    optional: def.optional,
                },
            );
        }
    }
    for change in &mut out {
        find_misfits(old, new, base, change);
    }
    out
}

/// Tries leads that differ from `base` in the changed field only, and keeps the first that only
/// OLD accepts and the first that only NEW accepts. Each is proven by reading it with both
/// schemas, exactly as `route` reads a lead.
fn find_misfits(old: &Policy, new: &Policy, base: &Map<String, Value>, change: &mut SchemaChange) {
    let field = change.field.as_str();
    let mut probes: Vec<Option<Value>> = vec![None, Some(Value::Null)];
    for policy in [old, new] {
        if let Some(def) = policy.fields.iter().find(|f| f.name == field) {
            for variant in variants(&def.ty) {
                probes.push(Some(Value::String(variant.clone())));
            }
        }
    }
    probes.extend(
        [
            Value::String("other".to_string()),
            Value::from(0),
            Value::from(0.5),
            Value::Bool(true),
            Value::String("2026-11-23T09:00:00Z".to_string()),
        ]
        .into_iter()
        .map(Some),
    );
    let limits = Limits::default();
    for probe in probes {
        let mut lead = base.clone();
        match probe {
            Some(value) => {
                lead.insert(field.to_string(), value);
            }
            None => {
                lead.remove(field);
            }
        }
        let json = Value::Object(lead).to_string();
        let in_old = parse_lead(old, json.as_bytes(), &limits);
        let in_new = parse_lead(new, json.as_bytes(), &limits);
        match (in_old, in_new) {
            (Ok(_), Err(error)) if change.old_only.is_none() => {
                change.old_only = Some(Misfit {
                    json: spaced(&json),
                    code: error.code,
                    message: error.message,
                });
            }
            (Err(error), Ok(_)) if change.new_only.is_none() => {
                change.new_only = Some(Misfit {
                    json: spaced(&json),
                    code: error.code,
                    message: error.message,
                });
            }
            _ => {}
        }
    }
}

/// Compact JSON with a space after `:` and `,` between members, as example leads are shown.
fn spaced(json: &str) -> String {
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(map)) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(key, value)| format!("{}: {value}", Value::String(key.clone())))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        _ => json.to_string(),
    }
}

/// Builds the common lead space, or says why the two policies' leads cannot be compared region
/// by region.
pub(crate) fn common(old: &Policy, new: &Policy) -> Result<Common, String> {
    let CommonFields {
        fields,
        old: old_map,
        new: new_map,
    } = common_fields(old, new)?;
    let (calendars, new_calendars) = common_calendars(old, new);
    let clock = common_clock(old, new, &fields)?;
    Ok(Common {
        policy: Policy {
            fields,
            clock,
            calendars,
            rules: Vec::new(),
            queues: Vec::new(),
            pools: Vec::new(),
            reps: Vec::new(),
            scores: Vec::new(),
            tags: Vec::new(),
            all_rule_scores: Vec::new(),
        },
        old: SideMap {
            fields: old_map,
            calendars: (0..old.calendars.len()).collect(),
        },
        new: SideMap {
            fields: new_map,
            calendars: new_calendars,
        },
    })
}

/// The fields of the common schema, and how each side's fields map onto them.
struct CommonFields {
    /// OLD's fields in order, then those only NEW declares.
    fields: Vec<FieldDef>,
    old: Vec<FieldMap>,
    new: Vec<FieldMap>,
}

/// The common schema's fields with each side's map onto them, or why no lead fits both schemas.
fn common_fields(old: &Policy, new: &Policy) -> Result<CommonFields, String> {
    let mut fields: Vec<FieldDef> = Vec::new();
    let mut old_map: Vec<FieldMap> = Vec::new();
    let mut new_map: Vec<FieldMap> = vec![FieldMap::Excluded; new.fields.len()];
    for def in &old.fields {
        let Some(new_index) = new.fields.iter().position(|f| f.name == def.name) else {
            old_map.push(FieldMap::To {
                field: fields.len(),
                conv: Conv::Same,
            });
            fields.push(def.clone());
            continue;
        };
        let other = &new.fields[new_index];
        let optional = def.optional && other.optional;
        let id = fields.len();
        let Some((ty, old_conv, new_conv)) = meet(def, other, optional)? else {
            exclude(&mut fields, &mut old_map, &mut new_map, new_index, def);
            continue;
        };
        fields.push(FieldDef {
            name: def.name.clone(),
            ty,
            optional,
        });
        old_map.push(FieldMap::To {
            field: id,
            conv: old_conv,
        });
        new_map[new_index] = FieldMap::To {
            field: id,
            conv: new_conv,
        };
    }
    for (index, def) in new.fields.iter().enumerate() {
        if !old.fields.iter().any(|f| f.name == def.name) {
            new_map[index] = FieldMap::To {
                field: fields.len(),
                conv: Conv::Same,
            };
            fields.push(def.clone());
        }
    }
    Ok(CommonFields {
        fields,
        old: old_map,
        new: new_map,
    })
}

/// The type that two declarations of a field meet in, with how each side's values become values
/// of it; `None` when no value fits both (the field is then excluded), `Err` when the leads
/// cannot be compared region by region.
fn meet(
    def: &FieldDef,
    other: &FieldDef,
    optional: bool,
) -> Result<Option<(FieldType, Conv, Conv)>, String> {
    Ok(Some(match (&def.ty, &other.ty) {
        (FieldType::Enum(a), FieldType::Enum(b)) => {
            let shared: Vec<String> = a.iter().filter(|v| b.contains(v)).cloned().collect();
            let map_of = |side: &[String]| -> Vec<Option<u32>> {
                side.iter()
                    .map(|v| {
                        shared
                            .iter()
                            .position(|s| s == v)
                            .and_then(|i| u32::try_from(i).ok())
                    })
                    .collect()
            };
            let (old_conv, new_conv) = (Conv::Variants(map_of(a)), Conv::Variants(map_of(b)));
            if shared.is_empty() {
                if !optional {
                    return Err(format!(
                        "no lead fits both schemas: `{}` is required and the two enums share no variant",
                        def.name
                    ));
                }
                return Ok(None);
            }
            (FieldType::Enum(shared.into()), old_conv, new_conv)
        }
        (a, b) if a == b => (a.clone(), Conv::Same, Conv::Same),
        (FieldType::Int, FieldType::Number) => (FieldType::Int, Conv::Same, Conv::NumberToInt),
        (FieldType::Number, FieldType::Int) => (FieldType::Int, Conv::NumberToInt, Conv::Same),
        (FieldType::Enum(_), FieldType::String) => (def.ty.clone(), Conv::Same, Conv::StringToEnum),
        (FieldType::String, FieldType::Enum(_)) => {
            (other.ty.clone(), Conv::StringToEnum, Conv::Same)
        }
        (a, b) if json_kind(a) == json_kind(b) => {
            // Only `time` and `string` are left here: an RFC 3339 string fits both, but a
            // string comparison and a time comparison cannot be set side by side.
            return Err(format!(
                "`{}` is {} in OLD and {} in NEW: conditions on it cannot be compared region by region (backtest on real leads with --leads)",
                def.name,
                a.describe(),
                b.describe()
            ));
        }
        _ => {
            // No JSON value is of both types: the field must be absent to fit both.
            if !optional {
                return Err(format!(
                    "no lead fits both schemas: `{}` is required, {} in OLD and {} in NEW",
                    def.name,
                    def.ty.describe(),
                    other.ty.describe()
                ));
            }
            return Ok(None);
        }
    }))
}

/// The calendars of the common space (one per distinct definition) and where NEW's calendars
/// are among them (OLD's keep their indices).
fn common_calendars(old: &Policy, new: &Policy) -> (Vec<CalendarDef>, Vec<CalendarId>) {
    // Calendars: one per distinct definition. A calendar both declare alike is one dimension; a
    // calendar that changed is two, named apart.
    let mut calendars: Vec<CalendarDef> = old.calendars.clone();
    let mut new_calendars = Vec::with_capacity(new.calendars.len());
    for calendar in &new.calendars {
        match old.calendars.iter().position(|c| c.name == calendar.name) {
            Some(index) if same_calendar(&old.calendars[index], calendar) => {
                new_calendars.push(index);
            }
            Some(index) => {
                calendars[index].name = format!("{} (old)", calendar.name);
                let mut renamed = calendar.clone();
                renamed.name = format!("{} (new)", calendar.name);
                new_calendars.push(calendars.len());
                calendars.push(renamed);
            }
            None => {
                new_calendars.push(calendars.len());
                calendars.push(calendar.clone());
            }
        }
    }
    (calendars, new_calendars)
}

/// The clock field of the common schema, or why the two sides' calendar tests read different
/// clocks.
fn common_clock(
    old: &Policy,
    new: &Policy,
    fields: &[FieldDef],
) -> Result<Option<FieldId>, String> {
    // The clock: calendar tests read it, so both sides must read the same field.
    let clock_name = |policy: &Policy| policy.clock.map(|f| policy.fields[f].name.clone());
    let uses_calendars = |policy: &Policy| {
        policy.rules.iter().any(|rule| {
            let mut found = false;
            rule.cond
                .for_each_atom(&mut |atom| found |= matches!(atom, Atom::Inside(_)));
            found
        })
    };
    let (old_clock, new_clock) = (clock_name(old), clock_name(new));
    let clock_name = match (uses_calendars(old), uses_calendars(new)) {
        (true, true) if old_clock != new_clock => {
            return Err(format!(
                "calendar tests read the lead's clock, which is {} in OLD and {} in NEW",
                show_clock(old_clock.as_deref()),
                show_clock(new_clock.as_deref())
            ));
        }
        (true, _) => old_clock,
        (false, true) => new_clock,
        (false, false) => old_clock.or(new_clock),
    };
    let clock = match clock_name {
        Some(name) => {
            let field = fields.iter().position(|f| f.name == name);
            match field {
                Some(field) if fields[field].ty == FieldType::Time => Some(field),
                _ => {
                    return Err(format!(
                        "calendar tests read `{name}`, which is not a time in both schemas"
                    ));
                }
            }
        }
        None => None,
    };
    Ok(clock)
}

fn show_clock(name: Option<&str>) -> String {
    match name {
        Some(name) => format!("`{name}`"),
        None => "the routing time (no time field)".to_string(),
    }
}

/// A field that both declare but that no value fits in both: kept in the common schema (so that
/// it can be named), optional, and always absent.
fn exclude(
    fields: &mut Vec<FieldDef>,
    old_map: &mut Vec<FieldMap>,
    new_map: &mut [FieldMap],
    new_index: usize,
    def: &FieldDef,
) {
    old_map.push(FieldMap::Excluded);
    new_map[new_index] = FieldMap::Excluded;
    fields.push(FieldDef {
        name: def.name.clone(),
        ty: def.ty.clone(),
        optional: true,
    });
}

fn same_calendar(a: &CalendarDef, b: &CalendarDef) -> bool {
    a.zone == b.zone && a.week == b.week && a.holidays == b.holidays
}

impl SideMap {
    /// A side's condition as a condition on the common schema: atoms on fields that must be
    /// set become true, atoms on excluded fields false.
    pub(crate) fn translate(&self, cond: &Cond, common: &Policy) -> Cond {
        match cond {
            Cond::True | Cond::False => cond.clone(),
            Cond::Atom(atom) => self.atom(atom, common),
            Cond::Not(inner) => Cond::negate(self.translate(inner, common)),
            Cond::And(parts) => {
                Cond::and(parts.iter().map(|p| self.translate(p, common)).collect())
            }
            Cond::Or(parts) => Cond::or(parts.iter().map(|p| self.translate(p, common)).collect()),
        }
    }

    fn atom(&self, atom: &Atom, common: &Policy) -> Cond {
        if let Atom::Inside(calendar) = atom {
            return match self.calendars.get(*calendar) {
                Some(id) => Cond::Atom(Atom::Inside(*id)),
                None => Cond::False,
            };
        }
        let Some(side_field) = atom.field() else {
            return Cond::False;
        };
        let Some(FieldMap::To { field, conv }) = self.fields.get(side_field) else {
            return Cond::False;
        };
        let field = *field;
        let required = common.fields.get(field).is_some_and(|f| !f.optional);
        let translated = match (atom, conv) {
            (Atom::Present(_), _) => {
                if required {
                    return Cond::True;
                }
                Atom::Present(field)
            }
            (Atom::OneOf { variants, .. }, Conv::Variants(map)) => {
                let mut mapped: Vec<u32> = variants
                    .iter()
                    .filter_map(|v| map.get(*v as usize).copied().flatten())
                    .collect();
                mapped.sort_unstable();
                mapped.dedup();
                if mapped.is_empty() {
                    return Cond::False;
                }
                Atom::OneOf {
                    field,
                    variants: mapped,
                }
            }
            (Atom::StrIn { values, .. }, Conv::StringToEnum) => {
                let names = match common.fields.get(field).map(|f| &f.ty) {
                    Some(FieldType::Enum(names)) => &names[..],
                    _ => &[],
                };
                let mapped: Vec<u32> = names
                    .iter()
                    .enumerate()
                    .filter(|(_, name)| values.binary_search(name).is_ok())
                    .filter_map(|(index, _)| u32::try_from(index).ok())
                    .collect();
                if mapped.is_empty() {
                    return Cond::False;
                }
                Atom::OneOf {
                    field,
                    variants: mapped,
                }
            }
            (Atom::Range { lo, hi, .. }, Conv::NumberToInt) => {
                let lo = match *lo {
                    Bound::Inclusive(v) => Some(float_to_int(v.as_f64().ceil())),
                    Bound::Exclusive(v) => Some(float_to_int(v.as_f64().floor()).saturating_add(1)),
                    Bound::Unbounded => None,
                };
                let hi = match *hi {
                    Bound::Inclusive(v) => Some(float_to_int(v.as_f64().floor())),
                    Bound::Exclusive(v) => Some(float_to_int(v.as_f64().ceil()).saturating_sub(1)),
                    Bound::Unbounded => None,
                };
                if let (Some(lo), Some(hi)) = (lo, hi)
                    && lo > hi
                {
                    return Cond::False;
                }
                let bound = |value: Option<i128>| {
                    value.map_or(Bound::Unbounded, |v| Bound::Inclusive(Scalar::Int(v)))
                };
                Atom::Range {
                    field,
                    lo: bound(lo),
                    hi: bound(hi),
                }
            }
            (Atom::OneOf { variants, .. }, _) => Atom::OneOf {
                field,
                variants: variants.clone(),
            },
            (Atom::StrIn { values, .. }, _) => Atom::StrIn {
                field,
                values: values.clone(),
            },
            (Atom::Range { lo, hi, .. }, _) => Atom::Range {
                field,
                lo: *lo,
                hi: *hi,
            },
            (Atom::Inside(_), _) => return Cond::False,
        };
        Cond::Atom(translated)
    }

    /// A lead of the common schema as this side reads it.
    pub(crate) fn lead(&self, lead: &Lead, common: &Policy) -> Lead {
        let values = self
            .fields
            .iter()
            .map(|map| {
                let FieldMap::To { field, conv } = map else {
                    return None;
                };
                let value = lead.values.get(*field)?.as_ref()?;
                Some(match (conv, value) {
                    (Conv::Variants(map), LeadValue::Variant(v)) => LeadValue::Variant(
                        u32::try_from(map.iter().position(|m| *m == Some(*v))?).ok()?,
                    ),
                    (Conv::StringToEnum, LeadValue::Variant(v)) => {
                        match common.fields.get(*field).map(|f| &f.ty) {
                            Some(FieldType::Enum(names)) => {
                                LeadValue::Str(names.get(*v as usize)?.clone())
                            }
                            _ => return None,
                        }
                    }
                    (Conv::NumberToInt, LeadValue::Scalar(point)) => {
                        LeadValue::Scalar(Scalar::Float(point.as_f64()))
                    }
                    (_, value) => value.clone(),
                })
            })
            .collect();
        Lead { values }
    }
}

/// A whole float as an `i128`, saturating far beyond any `int` a lead can hold.
fn float_to_int(value: f64) -> i128 {
    // `as` saturates on overflow and maps NaN to 0; bounds are finite numbers from the policy.
    #[allow(clippy::cast_possible_truncation)]
    let whole = value as i128;
    whole
}

/// The common schema's example lead as a JSON object: a base to vary one field of.
pub(crate) fn base_lead(common: Option<&Policy>, old: &Policy) -> Map<String, Value> {
    let policy = common.unwrap_or(old);
    let json = example::example(policy, &[], "schema-example")
        .map(|e| e.json)
        .unwrap_or_default();
    match serde_json::from_str::<Value>(&json) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}
