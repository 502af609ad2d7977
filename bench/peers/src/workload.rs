//! The workloads: a policy and its leads as NDJSON text. Deterministic (a fixed xorshift seed),
//! so every engine and every run sees the same bytes.
//!
//! - The example policy (`examples/routing.route`) with leads shaped like
//!   `examples/leads.ndjson`: every field drawn at random, optional fields present some of the
//!   time, `created_at` anywhere in six weeks around Christmas (weekends, nights and the
//!   calendars' holidays included).
//! - The generated policies of `bench/generator.rs` with N rules: 90% of the leads are an example
//!   of a rule drawn uniformly from the N (so a first-match loop walks on average half of them),
//!   10% are drawn at random over the whole schema (with few rules most of those reach
//!   `otherwise`).
//!
//! Every lead also carries CRM noise fields that no rule reads, as real CRMs send.

use std::fmt::Write as _;
use switchboard::model::FieldType;
use switchboard::model::{Atom, Bound, Cond, Policy};

/// A deterministic xorshift generator.
pub struct Random(u64);

impl Random {
    pub fn new(seed: u64) -> Random {
        Random(seed.max(1))
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const COUNTRIES: [&str; 8] = ["DE", "FR", "PL", "NL", "US", "CA", "SG", "JP"];
const INDUSTRIES: [&str; 5] = ["software", "retail", "finance", "health", "logistics"];
const REPS: [&str; 4] = ["anna", "boris", "olivia", "wei"];

fn noise(out: &mut String, index: usize) {
    let _ = write!(
        out,
        r#","utm_source":"newsletter","crm_id":"00Q{index:09}"}}"#
    );
    out.push('\n');
}

/// A random instant in 2026-11-16 .. 2026-12-28 (six weeks), at a whole minute, written with
/// the +01:00 offset the example leads use.
fn created_at(random: &mut Random) -> String {
    let minutes = random.below(42 * 24 * 60) as i64;
    let start: jiff::Timestamp = "2026-11-16T00:00:00+01:00"
        .parse()
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let instant = start
        .checked_add(jiff::SignedDuration::from_mins(minutes))
        .unwrap_or(start);
    let offset = jiff::tz::offset(1);
    instant
        .to_zoned_datetime(jiff::tz::TimeZone::fixed(offset))
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// `count` leads for the example policy, shaped like `examples/leads.ndjson`.
pub fn example_leads(policy: &Policy, count: usize) -> Result<Vec<u8>, String> {
    let variants = |name: &str| -> Result<Vec<String>, String> {
        match policy.field_id(name).map(|field| &policy.fields[field].ty) {
            Some(FieldType::Enum(variants)) => Ok(variants.to_vec()),
            _ => Err(format!("the example policy has no enum field `{name}`")),
        }
    };
    let (intents, fits, regions, sources) = (
        variants("intent")?,
        variants("fit")?,
        variants("region")?,
        variants("source")?,
    );
    let mut random = Random::new(0x5eed_0001);
    let mut out = String::with_capacity(count * 330);
    for index in 0..count {
        let _ = write!(
            out,
            r#"{{"id":"L-{index}","intent":"{}","fit":"{}","region":"{}","country":"{}","employees":{},"deal_value":{},"source":"{}""#,
            random.pick(&intents),
            random.pick(&fits),
            random.pick(&regions),
            random.pick(&COUNTRIES),
            1 + random.below(10_000),
            500 + random.below(300_000),
            random.pick(&sources),
        );
        if random.below(2) == 0 {
            let _ = write!(out, r#","industry":"{}""#, random.pick(&INDUSTRIES));
        }
        match random.below(20) {
            0 => out.push_str(r#","parent_account":"acme-holding""#),
            1 => out.push_str(r#","parent_account":null"#),
            _ => {}
        }
        if random.below(10) == 0 {
            let _ = write!(out, r#","contact_owner":"{}""#, random.pick(&REPS));
        }
        let _ = write!(out, r#","created_at":"{}""#, created_at(&mut random));
        noise(&mut out, index);
    }
    Ok(out.into_bytes())
}

/// A field value for a generated lead, as JSON text.
fn value_json(ty: &FieldType, random: &mut Random) -> String {
    match ty {
        FieldType::Enum(variants) => format!("\"{}\"", random.pick(variants)),
        FieldType::Bool => (random.below(2) == 1).to_string(),
        FieldType::Int => random.below(10_000).to_string(),
        FieldType::Number => random.below(300_000).to_string(),
        FieldType::Time => format!("\"{}\"", created_at(random)),
        _ => format!("\"{}\"", random.pick(&COUNTRIES)),
    }
}

/// A whole number in the range, for an example of a rule.
fn number_in(lo: Bound, hi: Bound, random: &mut Random) -> Result<f64, String> {
    let low = match lo {
        Bound::Unbounded => 0.0,
        Bound::Inclusive(p) => p.as_f64(),
        Bound::Exclusive(p) => p.as_f64().floor() + 1.0,
    };
    let high = match hi {
        Bound::Unbounded => low + 300_000.0,
        Bound::Inclusive(p) => p.as_f64() + 1.0,
        Bound::Exclusive(p) => p.as_f64().ceil(),
    };
    if high <= low {
        return Err(format!("no whole number in {lo:?}..{hi:?}"));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let span = (high - low) as u64;
    #[allow(clippy::cast_precision_loss)]
    Ok(low + random.below(span) as f64)
}

/// `count` leads for a generated policy (a conjunction of positive tests per rule, then
/// `otherwise`).
pub fn generated_leads(policy: &Policy, count: usize) -> Result<Vec<u8>, String> {
    let named = named_conditions(policy)?;
    let mut random = Random::new(0x5eed_0002);
    let mut out = String::with_capacity(count * 300);
    for index in 0..count {
        let cond = if random.below(10) != 0 {
            Some(named[random.below(named.len() as u64) as usize])
        } else {
            None
        };
        generated_lead(policy, cond, index, &mut random, &mut out)?;
    }
    Ok(out.into_bytes())
}

/// One example lead per named rule of a generated policy, in rule order, then one random lead.
pub fn rule_examples(policy: &Policy) -> Result<Vec<u8>, String> {
    let named = named_conditions(policy)?;
    let mut random = Random::new(0x5eed_0003);
    let mut out = String::new();
    for (index, cond) in named.iter().enumerate() {
        generated_lead(policy, Some(cond), index, &mut random, &mut out)?;
    }
    generated_lead(policy, None, named.len(), &mut random, &mut out)?;
    Ok(out.into_bytes())
}

fn named_conditions(policy: &Policy) -> Result<Vec<&Cond>, String> {
    let named: Vec<&Cond> = policy
        .rules
        .iter()
        .filter(|rule| !rule.is_otherwise)
        .map(|rule| &rule.cond)
        .collect();
    if named.is_empty() {
        return Err("a generated policy without named rules".to_string());
    }
    Ok(named)
}

/// A lead that satisfies `cond` (a conjunction of enum and range tests), or a random lead over
/// the schema when there is none, as one NDJSON line.
fn generated_lead(
    policy: &Policy,
    cond: Option<&Cond>,
    index: usize,
    random: &mut Random,
    out: &mut String,
) -> Result<(), String> {
    let mut values: Vec<Option<String>> = vec![None; policy.fields.len()];
    if let Some(cond) = cond {
        let parts: &[Cond] = match cond {
            Cond::And(parts) => parts,
            other => std::slice::from_ref(other),
        };
        // Ranges on one field are intersected before a value is drawn.
        let mut ranges: Vec<(usize, Bound, Bound)> = Vec::new();
        for part in parts {
            match part {
                Cond::Atom(Atom::OneOf { field, variants }) => {
                    let FieldType::Enum(names) = &policy.fields[*field].ty else {
                        return Err("a variant test on a non-enum field".to_string());
                    };
                    let variant = variants[random.below(variants.len() as u64) as usize];
                    values[*field] = Some(format!("\"{}\"", names[variant as usize]));
                }
                Cond::Atom(Atom::Range { field, lo, hi }) => {
                    match ranges.iter_mut().find(|(f, _, _)| f == field) {
                        Some((_, l, h)) => {
                            *l = tighter(*l, *lo, true);
                            *h = tighter(*h, *hi, false);
                        }
                        None => ranges.push((*field, *lo, *hi)),
                    }
                }
                other => {
                    return Err(format!(
                        "generated leads need conjunctions of enum and range tests, found {other:?}"
                    ));
                }
            }
        }
        for (field, lo, hi) in ranges {
            values[field] = Some(format!("{}", number_in(lo, hi, random)?));
        }
    }
    out.push('{');
    let _ = write!(out, r#""id":"L-{index}""#);
    for (field, def) in policy.fields.iter().enumerate() {
        if def.name == "id" {
            continue;
        }
        // Optional fields that no test needs are mostly absent, sometimes present.
        if def.optional && values[field].is_none() && random.below(10) != 0 {
            continue;
        }
        let value = match values[field].take() {
            Some(value) => value,
            None => value_json(&def.ty, random),
        };
        let _ = write!(out, r#","{}":{value}"#, def.name);
    }
    noise(out, index);
    Ok(())
}

/// The tighter of two bounds on points only (the generator's ranges never meet at a point):
/// the higher lower bound (`lower`), else the lower upper bound. Unbounded is never tighter.
fn tighter(a: Bound, b: Bound, lower: bool) -> Bound {
    let point = |bound: Bound| match bound {
        Bound::Unbounded => None,
        Bound::Inclusive(p) | Bound::Exclusive(p) => Some(p),
    };
    match (point(a), point(b)) {
        (None, _) => b,
        (_, None) => a,
        (Some(x), Some(y)) => {
            if (x > y) == lower {
                a
            } else {
                b
            }
        }
    }
}
