//! The one generator of random policies and leads for the property tests (the decision graph,
//! the semantic diff): a random schema shape, conditions over it as policy text, and leads whose
//! values sit near the constants the conditions use.
#![allow(dead_code)]

use proptest::prelude::*;
use switchboard::model::{EvalContext, FieldType, Lead, LeadValue, Policy, Scalar};

/// How large the generated policies are.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Enum fields: at most this many, each with 2 to `max_variants` variants.
    pub max_enums: usize,
    pub max_variants: usize,
    /// Nesting of `and` / `or` / `not` in one condition, and atoms in it.
    pub depth: u32,
    pub atoms: u32,
}

/// Which fields the schema has (`Some(optional)` when present).
#[derive(Debug, Clone)]
pub struct Shape {
    /// `e0`, `e1`, …: (variant count, optional).
    pub enums: Vec<(usize, bool)>,
    /// `amount: number`.
    pub amount: Option<bool>,
    /// `count: int`.
    pub count: Option<bool>,
    /// `country: string`.
    pub country: Option<bool>,
    /// `vip: bool`.
    pub vip: Option<bool>,
    /// `created_at: time`.
    pub clock: Option<bool>,
    /// A calendar `office` (Berlin, weekdays 09-18, one holiday).
    pub calendar: bool,
}

pub fn shape(sizes: Sizes) -> impl Strategy<Value = Shape> {
    (
        prop::collection::vec(
            (2usize..=sizes.max_variants, any::<bool>()),
            1..=sizes.max_enums,
        ),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        any::<bool>(),
    )
        .prop_map(
            |(enums, amount, count, country, vip, clock, calendar)| Shape {
                enums,
                amount,
                count,
                country,
                vip,
                // Calendar tests read the lead's clock: a policy with them has a clock field.
                clock: if calendar {
                    Some(clock.unwrap_or(true))
                } else {
                    clock
                },
                calendar,
            },
        )
}

impl Shape {
    /// The schema's field lines (`  e0: enum { v0, v1 }?`), in order, without `id`.
    pub fn field_lines(&self) -> Vec<String> {
        let q = |optional: bool| if optional { "?" } else { "" };
        let mut lines = Vec::new();
        for (index, (count, optional)) in self.enums.iter().enumerate() {
            let variants: Vec<String> = (0..*count).map(|v| format!("v{v}")).collect();
            lines.push(format!(
                "  e{index}: enum {{ {} }}{}",
                variants.join(", "),
                q(*optional)
            ));
        }
        for (field, ty, present) in [
            ("amount", "number", self.amount),
            ("count", "int", self.count),
            ("country", "string", self.country),
            ("vip", "bool", self.vip),
            ("created_at", "time", self.clock),
        ] {
            if let Some(optional) = present {
                lines.push(format!("  {field}: {ty}{}", q(optional)));
            }
        }
        lines
    }

    /// The schema block and, when the shape has one, the calendar.
    pub fn declarations(&self) -> String {
        let mut text = String::from("schema lead {\n  id: string\n");
        for line in self.field_lines() {
            text.push_str(&line);
            text.push('\n');
        }
        text.push_str("}\n");
        if self.calendar {
            text.push_str(CALENDAR);
        }
        text
    }
}

/// The calendar the shapes with a calendar declare.
pub const CALENDAR: &str =
    "calendar office { timezone Europe/Berlin  hours mon-fri 09:00-18:00  holidays 2026-11-25 }\n";

/// One test of a condition, as text, over the shape's fields.
pub fn atom(shape: &Shape) -> BoxedStrategy<String> {
    let not = |negated: bool| if negated { "not " } else { "" };
    let mut options: Vec<BoxedStrategy<String>> = Vec::new();
    for (index, (count, optional)) in shape.enums.iter().copied().enumerate() {
        let variant = (0..count).prop_map(|v| format!("v{v}"));
        let field = format!("e{index}");
        let f = field.clone();
        options.push(
            (variant.clone(), prop::sample::select(vec!["=", "!="]))
                .prop_map(move |(v, op)| format!("{f} {op} {v}"))
                .boxed(),
        );
        let f = field.clone();
        options.push(
            (
                prop::collection::btree_set(variant, 1..=count),
                any::<bool>(),
            )
                .prop_map(move |(set, negated)| {
                    let list: Vec<String> = set.into_iter().collect();
                    format!("{f} {}in {{{}}}", not(negated), list.join(", "))
                })
                .boxed(),
        );
        if optional {
            options.push(
                any::<bool>()
                    .prop_map(move |negated| format!("{field} is {}set", not(negated)))
                    .boxed(),
            );
        }
    }
    let ops = vec!["=", "!=", "<", "<=", ">", ">="];
    if let Some(optional) = shape.amount {
        options.push(
            (
                prop::sample::select(ops.clone()),
                prop::sample::select(vec!["0", "10", "10.5", "20", "-5"]),
            )
                .prop_map(|(op, v)| format!("amount {op} {v}"))
                .boxed(),
        );
        if optional {
            options.push(Just("amount is set".to_string()).boxed());
        }
    }
    if let Some(optional) = shape.count {
        options.push(
            (
                prop::sample::select(ops.clone()),
                prop::sample::select(vec!["0", "1", "2", "10", "11"]),
            )
                .prop_map(|(op, v)| format!("count {op} {v}"))
                .boxed(),
        );
        if optional {
            options.push(Just("count is not set".to_string()).boxed());
        }
    }
    if shape.country.is_some() {
        options.push(
            (
                prop::sample::select(vec!["=", "!="]),
                prop::sample::select(vec!["\"a\"", "\"b\"", "\"c\""]),
            )
                .prop_map(|(op, v)| format!("country {op} {v}"))
                .boxed(),
        );
        options.push(
            (
                prop::collection::btree_set(
                    prop::sample::select(vec!["\"a\"", "\"b\"", "\"c\""]),
                    1..=3,
                ),
                any::<bool>(),
            )
                .prop_map(move |(set, negated)| {
                    let list: Vec<&str> = set.into_iter().collect();
                    format!("country {}in {{{}}}", not(negated), list.join(", "))
                })
                .boxed(),
        );
    }
    if shape.vip.is_some() {
        options.push(
            prop::sample::select(vec!["vip = true", "vip = false", "vip != true"])
                .prop_map(str::to_string)
                .boxed(),
        );
    }
    if shape.clock.is_some() {
        options.push(
            (
                prop::sample::select(ops),
                prop::sample::select(vec!["2026-11-23T10:00:00Z", "2026-11-24T08:00:00+01:00"]),
            )
                .prop_map(|(op, v)| format!("created_at {op} {v}"))
                .boxed(),
        );
    }
    if shape.calendar {
        options.push(
            prop::sample::select(vec!["inside office", "outside office"])
                .prop_map(str::to_string)
                .boxed(),
        );
    }
    prop::strategy::Union::new(options).boxed()
}

/// A condition: atoms joined by `and`, `or` and `not`, nested up to `sizes.depth`.
pub fn condition(shape: &Shape, sizes: Sizes) -> BoxedStrategy<String> {
    atom(shape)
        .prop_recursive(sizes.depth, sizes.atoms, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..=3)
                    .prop_map(|parts| format!("({})", parts.join(" and "))),
                prop::collection::vec(inner.clone(), 2..=3)
                    .prop_map(|parts| format!("({})", parts.join(" or "))),
                inner.prop_map(|part| format!("not ({part})")),
            ]
        })
        .boxed()
}

/// A random lead of a policy's schema, from values near the constants conditions use.
pub fn lead_for(policy: &Policy, seed: &[u32]) -> Lead {
    let mut values = Vec::new();
    for (index, field) in policy.fields.iter().enumerate() {
        let pick = seed[index % seed.len()]
            .wrapping_mul(2_654_435_761)
            .wrapping_add(index as u32 * 97);
        if field.optional && pick.is_multiple_of(5) {
            values.push(None);
            continue;
        }
        let value = match &field.ty {
            FieldType::Enum(variants) => LeadValue::Variant(pick % variants.len() as u32),
            FieldType::Bool => LeadValue::Variant(pick % 2),
            FieldType::String => {
                LeadValue::Str(["a", "b", "c", "d"][(pick % 4) as usize].to_string())
            }
            FieldType::Number => LeadValue::Scalar(Scalar::Float(
                [-6.0, -5.0, 0.0, 5.0, 10.0, 10.25, 10.5, 15.0, 20.0, 21.0][(pick % 10) as usize],
            )),
            FieldType::Int => LeadValue::Scalar(Scalar::Int(
                [-1, 0, 1, 2, 3, 10, 11, 12][(pick % 8) as usize],
            )),
            FieldType::Time => {
                let base: i128 = 1_795_435_200 * 1_000_000_000; // 2026-11-23T10:00:00Z
                let hour: i128 = 3_600 * 1_000_000_000;
                LeadValue::Scalar(Scalar::Int(
                    base + hour * [-30i128, -2, -1, 0, 1, 7, 8, 22, 46, 70][(pick % 10) as usize],
                ))
            }
        };
        values.push(Some(value));
    }
    Lead { values }
}

/// The routing time of a random lead without a clock: within four days of a Monday morning.
pub fn context(seed: &[u32]) -> EvalContext {
    let base = 1_795_435_200i64 + i64::from(seed[0] % 200) * 1_800;
    EvalContext {
        now: jiff::Timestamp::from_second(base).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
    }
}
