//! Translators from a resolved Switchboard policy to what the peers run: a JDM decision table
//! for GoRules ZEN (one row per rule, hit policy "first") and a list of CEL conditions (one
//! program per rule, tried in order). Both read the resolved conditions (`model::Cond`), so the
//! absent-field semantics are Switchboard's: a comparison on an absent (or null) field is false,
//! `!=` included, and only `is set` / `is not set` see absence.
//!
//! What cannot be translated exactly is an error, never an approximation: a string with quotes
//! in it (ZEN's string literals have no escapes), a field name that is a reserved word of the
//! target language, a calendar test without a required clock field.

use serde_json::{Map, Value, json};
use switchboard::model::FieldType;
use switchboard::model::{Atom, Bound, CalendarDef, Cond, FieldId, Policy, Scalar};

/// A rule in CEL: its label and the source of its condition over the variable `lead`.
#[derive(Debug, Clone)]
pub struct CelRule {
    pub label: String,
    pub source: String,
}

/// The policy's rules as CEL conditions, in file order.
pub fn to_cel(policy: &Policy) -> Result<Vec<CelRule>, String> {
    policy
        .rules
        .iter()
        .map(|rule| {
            Ok(CelRule {
                label: rule.label.clone(),
                source: cel_cond(policy, &rule.cond)?,
            })
        })
        .collect()
}

const CEL_RESERVED: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

fn cel_field(policy: &Policy, field: FieldId) -> Result<String, String> {
    let name = &policy.fields[field].name;
    if CEL_RESERVED.contains(&name.as_str()) {
        return Err(format!("field `{name}` is a reserved word in CEL"));
    }
    Ok(format!("lead.{name}"))
}

fn cel_cond(policy: &Policy, cond: &Cond) -> Result<String, String> {
    Ok(match cond {
        Cond::True => "true".to_string(),
        Cond::False => "false".to_string(),
        Cond::Atom(atom) => cel_atom(policy, atom)?,
        Cond::Not(inner) => format!("!({})", cel_cond(policy, inner)?),
        Cond::And(parts) => join(policy, parts, " && ", cel_cond)?,
        Cond::Or(parts) => join(policy, parts, " || ", cel_cond)?,
    })
}

fn join(
    policy: &Policy,
    parts: &[Cond],
    separator: &str,
    each: fn(&Policy, &Cond) -> Result<String, String>,
) -> Result<String, String> {
    let parts = parts
        .iter()
        .map(|part| each(policy, part).map(|text| format!("({text})")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(parts.join(separator))
}

fn cel_atom(policy: &Policy, atom: &Atom) -> Result<String, String> {
    let Some(field) = atom.field() else {
        let Atom::Inside(calendar) = atom else {
            return Err("an atom without a field that is not a calendar test".to_string());
        };
        return cel_inside(policy, &policy.calendars[*calendar]);
    };
    let def = &policy.fields[field];
    let name = cel_field(policy, field)?;
    // Absent and null are the same to Switchboard; CEL needs both guarded on optional fields
    // (a missing map key is an error, null compares unequal to everything).
    let guard = if def.optional {
        let bare = &def.name;
        format!("has(lead.{bare}) && {name} != null")
    } else {
        String::new()
    };
    let test = match atom {
        Atom::Present(_) => None,
        Atom::OneOf { variants, .. } => {
            let values: Vec<String> = variants
                .iter()
                .map(|v| variant_literal(&def.ty, *v, cel_string))
                .collect::<Result<_, _>>()?;
            Some(one_of(&name, &values, " == ", "[", "]"))
        }
        Atom::StrIn { values, .. } => {
            let values: Vec<String> = values.iter().map(|v| cel_string(v)).collect();
            Some(one_of(&name, &values, " == ", "[", "]"))
        }
        Atom::Range { lo, hi, .. } => Some(cel_range(&def.ty, &name, *lo, *hi)?),
        Atom::Inside(_) => None,
    };
    Ok(match (guard.is_empty(), test) {
        (true, None) => "true".to_string(),
        (false, None) => guard,
        (true, Some(test)) => test,
        (false, Some(test)) => format!("{guard} && {test}"),
    })
}

/// `x == a` for one value, `x in [a, b]` for several.
fn one_of(name: &str, values: &[String], eq: &str, open: &str, close: &str) -> String {
    match values {
        [one] => format!("{name}{eq}{one}"),
        many => format!("{name} in {open}{}{close}", many.join(", ")),
    }
}

fn cel_string(text: &str) -> String {
    // JSON string escapes are valid CEL string escapes.
    Value::String(text.to_string()).to_string()
}

fn variant_literal(
    ty: &FieldType,
    variant: u32,
    string: fn(&str) -> String,
) -> Result<String, String> {
    match ty {
        FieldType::Bool => Ok(if variant == 1 { "true" } else { "false" }.to_string()),
        FieldType::Enum(variants) => variants
            .get(variant as usize)
            .map(|v| string(v))
            .ok_or_else(|| format!("variant {variant} out of range")),
        other => Err(format!("a variant test on a {other:?} field")),
    }
}

fn cel_range(ty: &FieldType, name: &str, lo: Bound, hi: Bound) -> Result<String, String> {
    let value = |point: Scalar| -> Result<String, String> {
        match (ty, point) {
            // Mixed int / double comparisons are CEL's heterogeneous numeric comparison.
            (FieldType::Number, point) => Ok(format!("{:?}", point.as_f64())),
            (FieldType::Int, Scalar::Int(int)) => Ok(int.to_string()),
            (FieldType::Time, Scalar::Int(nanos)) => Ok(format!(
                "timestamp({})",
                cel_string(&timestamp(nanos)?.to_string())
            )),
            (ty, point) => Err(format!("a range bound {point:?} on a {ty:?} field")),
        }
    };
    let subject = if *ty == FieldType::Time {
        format!("timestamp({name})")
    } else {
        name.to_string()
    };
    let mut tests = Vec::new();
    match lo {
        Bound::Unbounded => {}
        Bound::Inclusive(point) => tests.push(format!("{subject} >= {}", value(point)?)),
        Bound::Exclusive(point) => tests.push(format!("{subject} > {}", value(point)?)),
    }
    match hi {
        Bound::Unbounded => {}
        Bound::Inclusive(point) => tests.push(format!("{subject} <= {}", value(point)?)),
        Bound::Exclusive(point) => tests.push(format!("{subject} < {}", value(point)?)),
    }
    if tests.is_empty() {
        // Unbounded both ways: the field has a value of its type.
        tests.push(format!("{name} != null"));
    }
    Ok(tests.join(" && "))
}

fn timestamp(nanos: i128) -> Result<jiff::Timestamp, String> {
    jiff::Timestamp::from_nanosecond(nanos).map_err(|e| e.to_string())
}

/// The clock field a calendar test reads; it must be required (an absent clock means "now",
/// which neither peer can see).
fn clock_field(policy: &Policy) -> Result<&str, String> {
    let clock = policy
        .clock
        .ok_or("calendar test without a clock field (it would read `now`)")?;
    let def = &policy.fields[clock];
    if def.optional {
        return Err(format!(
            "calendar test on an optional clock field `{}`",
            def.name
        ));
    }
    Ok(&def.name)
}

/// Weekdays (Monday = 0) with the working intervals they share.
type WeekGroup<'a> = (Vec<usize>, &'a [(u32, u32)]);

/// Weekdays grouped by identical working intervals, in first-day order.
fn week_groups(calendar: &CalendarDef) -> Vec<WeekGroup<'_>> {
    let mut groups: Vec<WeekGroup<'_>> = Vec::new();
    for (day, ranges) in calendar.week.iter().enumerate() {
        if ranges.is_empty() {
            continue;
        }
        match groups.iter_mut().find(|(_, r)| *r == ranges.as_slice()) {
            Some((days, _)) => days.push(day),
            None => groups.push((vec![day], ranges.as_slice())),
        }
    }
    groups
}

fn zone_name(calendar: &CalendarDef) -> Result<&str, String> {
    calendar
        .zone
        .iana_name()
        .ok_or_else(|| format!("calendar `{}` has no IANA zone name", calendar.name))
}

/// `inside CALENDAR` in CEL: the clock in the calendar's zone, on a working weekday, in one of
/// its intervals, not on a holiday. CEL has no local bindings, so each getter re-reads the clock.
fn cel_inside(policy: &Policy, calendar: &CalendarDef) -> Result<String, String> {
    let clock = clock_field(policy)?;
    let zone = cel_string(zone_name(calendar)?);
    let t = format!("timestamp(lead.{clock})");
    let seconds = format!(
        "({t}.getHours({zone}) * 3600 + {t}.getMinutes({zone}) * 60 + {t}.getSeconds({zone}))"
    );
    let mut days = Vec::new();
    for (group, ranges) in week_groups(calendar) {
        // CEL's getDayOfWeek: Sunday = 0.
        let cel_days: Vec<String> = group.iter().map(|d| ((d + 1) % 7).to_string()).collect();
        let day_test = one_of(
            &format!("{t}.getDayOfWeek({zone})"),
            &cel_days,
            " == ",
            "[",
            "]",
        );
        let hours: Vec<String> = ranges
            .iter()
            .map(|(start, end)| format!("({seconds} >= {start} && {seconds} < {end})"))
            .collect();
        days.push(format!("({day_test} && ({}))", hours.join(" || ")));
    }
    let working = if days.is_empty() {
        "false".to_string()
    } else {
        days.join(" || ")
    };
    if calendar.holidays.is_empty() {
        return Ok(working);
    }
    let holidays: Vec<String> = calendar
        .holidays
        .iter()
        .map(|d| {
            (i32::from(d.year()) * 10_000 + i32::from(d.month()) * 100 + i32::from(d.day()))
                .to_string()
        })
        .collect();
    Ok(format!(
        "!(({t}.getFullYear({zone}) * 10000 + ({t}.getMonth({zone}) + 1) * 100 + {t}.getDayOfMonth({zone}) + 1) in [{}]) && ({working})",
        holidays.join(", ")
    ))
}

// ---------------------------------------------------------------------------------------------
// ZEN: a JDM graph (input -> decision table -> output).

/// Reserved words of ZEN's expression language that cannot name a field in an expression.
const ZEN_RESERVED: &[&str] = &["and", "or", "not", "in", "true", "false", "null"];

/// The policy as a JDM graph: one decision table, hit policy "first", one row per rule in file
/// order. A rule's conjuncts that test one field each become cells of that field's column
/// (unary tests such as `"emea"` or `>= 0 and < 5000`, which ZEN indexes where it can); the rest
/// (or, not, calendars, several kinds of test on one field) go to one column without a field,
/// whose cells are standard expressions. The output column `rule` holds the rule's label.
pub fn to_jdm(policy: &Policy) -> Result<Value, String> {
    // Per rule: its cells (field, unary test) and the rest of its condition.
    type Row = (Vec<(FieldId, String)>, Vec<String>);
    let mut rows: Vec<Row> = Vec::new();
    let mut used = vec![false; policy.fields.len()];
    for rule in &policy.rules {
        let parts: Vec<&Cond> = match &rule.cond {
            Cond::True => Vec::new(),
            Cond::And(parts) => parts.iter().collect(),
            other => vec![other],
        };
        let mut columns: Vec<(FieldId, Vec<&Atom>)> = Vec::new();
        let mut rest: Vec<String> = Vec::new();
        for part in parts {
            match part {
                Cond::Atom(atom) if column_atom(policy, atom) => {
                    let field = atom.field().ok_or("column atom without a field")?;
                    match columns.iter_mut().find(|(f, _)| *f == field) {
                        Some((_, atoms)) if same_kind(atoms[0], atom) => atoms.push(atom),
                        Some(_) => rest.push(zen_cond(policy, part)?),
                        None => columns.push((field, vec![atom])),
                    }
                }
                other => rest.push(zen_cond(policy, other)?),
            }
        }
        let mut cells = Vec::new();
        for (field, atoms) in columns {
            used[field] = true;
            cells.push((field, zen_cell(policy, field, &atoms)?));
        }
        rows.push((cells, rest));
    }
    let mut inputs = Vec::new();
    for (field, def) in policy.fields.iter().enumerate() {
        if used[field] {
            inputs.push(json!({ "id": format!("f{field}"), "name": def.name, "field": def.name }));
        }
    }
    inputs.push(json!({ "id": "cond", "name": "condition" }));
    let mut rules = Vec::new();
    for (index, ((cells, mut rest), rule)) in rows.into_iter().zip(&policy.rules).enumerate() {
        let mut row = Map::new();
        row.insert("_id".into(), json!(format!("r{index}")));
        for (field, cell) in cells {
            row.insert(format!("f{field}"), json!(cell));
        }
        let condition = match rest.len() {
            0 => String::new(),
            1 => rest.remove(0),
            _ => rest
                .iter()
                .map(|r| format!("({r})"))
                .collect::<Vec<_>>()
                .join(" and "),
        };
        row.insert("cond".into(), json!(condition));
        row.insert("out".into(), json!(zen_string(&rule.label)?));
        rules.push(Value::Object(row));
    }
    Ok(json!({
        "nodes": [
            { "id": "in", "name": "lead", "type": "inputNode", "content": {} },
            { "id": "table", "name": "rules", "type": "decisionTableNode", "content": {
                "hitPolicy": "first",
                "inputs": inputs,
                "outputs": [ { "id": "out", "name": "rule", "field": "rule" } ],
                "rules": rules
            } },
            { "id": "out", "name": "decision", "type": "outputNode", "content": {} }
        ],
        "edges": [
            { "id": "e1", "sourceId": "in", "targetId": "table", "type": "edge" },
            { "id": "e2", "sourceId": "table", "targetId": "out", "type": "edge" }
        ]
    }))
}

/// Whether an atom can be a cell of its field's column (a positive test on one field; time
/// ranges need date functions and stay in the condition column).
fn column_atom(policy: &Policy, atom: &Atom) -> bool {
    match atom {
        Atom::Inside(_) => false,
        Atom::Range { field, .. } => policy.fields[*field].ty != FieldType::Time,
        Atom::Present(_) | Atom::OneOf { .. } | Atom::StrIn { .. } => true,
    }
}

fn same_kind(a: &Atom, b: &Atom) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// One unary cell for the conjunction of `atoms` (all of one kind, on `field`).
fn zen_cell(policy: &Policy, field: FieldId, atoms: &[&Atom]) -> Result<String, String> {
    let ty = &policy.fields[field].ty;
    match atoms[0] {
        Atom::Present(_) => Ok("$ != null".to_string()),
        Atom::OneOf { .. } => {
            let mut variants: Option<Vec<u32>> = None;
            for atom in atoms {
                if let Atom::OneOf {
                    variants: these, ..
                } = atom
                {
                    variants = Some(match variants {
                        None => these.clone(),
                        Some(so_far) => so_far.into_iter().filter(|v| these.contains(v)).collect(),
                    });
                }
            }
            let values: Vec<String> = variants
                .unwrap_or_default()
                .iter()
                .map(|v| variant_literal(ty, *v, |s| zen_string(s).unwrap_or_default()))
                .collect::<Result<_, _>>()?;
            Ok(if values.is_empty() {
                "false".to_string()
            } else {
                values.join(", ")
            })
        }
        Atom::StrIn { .. } => {
            let mut strings: Option<Vec<String>> = None;
            for atom in atoms {
                if let Atom::StrIn { values, .. } = atom {
                    strings = Some(match strings {
                        None => values.clone(),
                        Some(so_far) => so_far.into_iter().filter(|v| values.contains(v)).collect(),
                    });
                }
            }
            let values: Vec<String> = strings
                .unwrap_or_default()
                .iter()
                .map(|v| zen_string(v))
                .collect::<Result<_, _>>()?;
            Ok(if values.is_empty() {
                "false".to_string()
            } else {
                values.join(", ")
            })
        }
        Atom::Range { .. } => {
            let (mut lo, mut hi) = (Bound::Unbounded, Bound::Unbounded);
            for atom in atoms {
                if let Atom::Range { lo: l, hi: h, .. } = atom {
                    lo = tighter(lo, *l, true);
                    hi = tighter(hi, *h, false);
                }
            }
            let number = |point: Scalar| zen_number(ty, point);
            if let (Bound::Inclusive(a), Bound::Inclusive(b)) = (lo, hi)
                && a == b
            {
                return number(a);
            }
            let mut tests = Vec::new();
            match lo {
                Bound::Unbounded => {}
                Bound::Inclusive(p) => tests.push(format!(">= {}", number(p)?)),
                Bound::Exclusive(p) => tests.push(format!("> {}", number(p)?)),
            }
            match hi {
                Bound::Unbounded => {}
                Bound::Inclusive(p) => tests.push(format!("<= {}", number(p)?)),
                Bound::Exclusive(p) => tests.push(format!("< {}", number(p)?)),
            }
            Ok(if tests.is_empty() {
                "$ != null".to_string()
            } else {
                tests.join(" and ")
            })
        }
        Atom::Inside(_) => Err("a calendar test in a field column".to_string()),
    }
}

/// The tighter of two bounds: the higher lower bound (`lower`), else the lower upper bound.
fn tighter(a: Bound, b: Bound, lower: bool) -> Bound {
    use std::cmp::Ordering;
    let (pa, pb) = match (a, b) {
        (Bound::Unbounded, other) | (other, Bound::Unbounded) => return other,
        (Bound::Inclusive(x) | Bound::Exclusive(x), Bound::Inclusive(y) | Bound::Exclusive(y)) => {
            (x, y)
        }
    };
    match pa.cmp(&pb) {
        Ordering::Equal => {
            // At the same point an exclusive bound is tighter.
            if matches!(a, Bound::Exclusive(_)) {
                a
            } else {
                b
            }
        }
        Ordering::Greater => {
            if lower {
                a
            } else {
                b
            }
        }
        Ordering::Less => {
            if lower {
                b
            } else {
                a
            }
        }
    }
}

fn zen_number(ty: &FieldType, point: Scalar) -> Result<String, String> {
    match (ty, point) {
        (FieldType::Int, Scalar::Int(int)) => Ok(int.to_string()),
        (FieldType::Number, Scalar::Float(float)) if float.is_finite() => Ok(format!("{float}")),
        (ty, point) => Err(format!("a number {point:?} on a {ty:?} field")),
    }
}

/// A ZEN string literal; ZEN's literals have no escapes, so quotes and backslashes are refused.
fn zen_string(text: &str) -> Result<String, String> {
    if text.contains(['"', '\\']) || text.chars().any(char::is_control) {
        return Err(format!("{text:?} cannot be a ZEN string literal"));
    }
    Ok(format!("\"{text}\""))
}

fn zen_field(policy: &Policy, field: FieldId) -> Result<&str, String> {
    let name = policy.fields[field].name.as_str();
    if ZEN_RESERVED.contains(&name) {
        return Err(format!("field `{name}` is a reserved word in ZEN"));
    }
    Ok(name)
}

/// A condition as a ZEN standard expression over the lead's fields.
fn zen_cond(policy: &Policy, cond: &Cond) -> Result<String, String> {
    let join = |parts: &[Cond], separator: &str| -> Result<String, String> {
        let parts = parts
            .iter()
            .map(|part| zen_cond(policy, part).map(|text| format!("({text})")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(parts.join(separator))
    };
    Ok(match cond {
        Cond::True => "true".to_string(),
        Cond::False => "false".to_string(),
        Cond::Atom(atom) => zen_atom(policy, atom)?,
        Cond::Not(inner) => format!("not ({})", zen_cond(policy, inner)?),
        Cond::And(parts) => join(parts, " and ")?,
        Cond::Or(parts) => join(parts, " or ")?,
    })
}

fn zen_atom(policy: &Policy, atom: &Atom) -> Result<String, String> {
    let Some(field) = atom.field() else {
        let Atom::Inside(calendar) = atom else {
            return Err("an atom without a field that is not a calendar test".to_string());
        };
        return zen_inside(policy, &policy.calendars[*calendar]);
    };
    let def = &policy.fields[field];
    let name = zen_field(policy, field)?;
    let present = format!("{name} != null");
    let test = match atom {
        Atom::Present(_) => return Ok(present),
        Atom::OneOf { variants, .. } => {
            let values: Vec<String> = variants
                .iter()
                .map(|v| variant_literal(&def.ty, *v, |s| zen_string(s).unwrap_or_default()))
                .collect::<Result<_, _>>()?;
            one_of(name, &values, " == ", "[", "]")
        }
        Atom::StrIn { values, .. } => {
            let values: Vec<String> = values
                .iter()
                .map(|v| zen_string(v))
                .collect::<Result<_, _>>()?;
            one_of(name, &values, " == ", "[", "]")
        }
        Atom::Range { lo, hi, .. } => zen_range(&def.ty, name, *lo, *hi)?,
        Atom::Inside(_) => return Err("unreachable: calendar atom with a field".to_string()),
    };
    // Guard every test: a comparison with null is an error in ZEN, and `not` of an error
    // must not become true.
    Ok(format!("{present} and ({test})"))
}

fn zen_range(ty: &FieldType, name: &str, lo: Bound, hi: Bound) -> Result<String, String> {
    let mut tests = Vec::new();
    if *ty == FieldType::Time {
        // ZEN's dates have millisecond precision: bounds become whole milliseconds, which is
        // exact for leads whose times have at most millisecond precision.
        let subject = format!("d({name}).timestamp()");
        let ms = |nanos: i128, up: bool| {
            let whole = nanos.div_euclid(1_000_000);
            if up && nanos.rem_euclid(1_000_000) != 0 {
                whole + 1
            } else {
                whole
            }
        };
        match lo {
            Bound::Unbounded => {}
            Bound::Inclusive(Scalar::Int(n)) => tests.push(format!("{subject} >= {}", ms(n, true))),
            Bound::Exclusive(Scalar::Int(n)) => {
                tests.push(format!("{subject} >= {}", ms(n + 1, true)));
            }
            other => return Err(format!("time bound {other:?}")),
        }
        match hi {
            Bound::Unbounded => {}
            Bound::Inclusive(Scalar::Int(n)) => {
                tests.push(format!("{subject} <= {}", ms(n, false)));
            }
            Bound::Exclusive(Scalar::Int(n)) => {
                tests.push(format!("{subject} <= {}", ms(n - 1, false)));
            }
            other => return Err(format!("time bound {other:?}")),
        }
    } else {
        match lo {
            Bound::Unbounded => {}
            Bound::Inclusive(p) => tests.push(format!("{name} >= {}", zen_number(ty, p)?)),
            Bound::Exclusive(p) => tests.push(format!("{name} > {}", zen_number(ty, p)?)),
        }
        match hi {
            Bound::Unbounded => {}
            Bound::Inclusive(p) => tests.push(format!("{name} <= {}", zen_number(ty, p)?)),
            Bound::Exclusive(p) => tests.push(format!("{name} < {}", zen_number(ty, p)?)),
        }
    }
    Ok(if tests.is_empty() {
        "true".to_string()
    } else {
        tests.join(" and ")
    })
}

/// `inside CALENDAR` in ZEN: `d(clock, zone)` and its getters (weekday: Monday = 1).
fn zen_inside(policy: &Policy, calendar: &CalendarDef) -> Result<String, String> {
    let clock = clock_field(policy)?;
    let zone = zen_string(zone_name(calendar)?)?;
    let d = format!("d({clock}, {zone})");
    let seconds = format!("({d}.hour() * 3600 + {d}.minute() * 60 + {d}.second())");
    let mut days = Vec::new();
    for (group, ranges) in week_groups(calendar) {
        let zen_days: Vec<String> = group.iter().map(|d| (d + 1).to_string()).collect();
        let day_test = one_of(&format!("{d}.weekday()"), &zen_days, " == ", "[", "]");
        let hours: Vec<String> = ranges
            .iter()
            .map(|(start, end)| format!("({seconds} >= {start} and {seconds} < {end})"))
            .collect();
        days.push(format!("({day_test} and ({}))", hours.join(" or ")));
    }
    let working = if days.is_empty() {
        "false".to_string()
    } else {
        days.join(" or ")
    };
    if calendar.holidays.is_empty() {
        return Ok(working);
    }
    let holidays: Vec<String> = calendar
        .holidays
        .iter()
        .map(|d| {
            (i32::from(d.year()) * 10_000 + i32::from(d.month()) * 100 + i32::from(d.day()))
                .to_string()
        })
        .collect();
    Ok(format!(
        "not (({d}.year() * 10000 + {d}.month() * 100 + {d}.day()) in [{}]) and ({working})",
        holidays.join(", ")
    ))
}
