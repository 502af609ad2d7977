//! The indexed first-match scan: how a policy past the node budget is compiled and evaluated.

use super::{Outcome, Scan};
use crate::model::FieldType;
use crate::model::{Atom, Cond, EvalContext, FieldId, Lead, LeadValue, Policy};

impl Scan {
    pub(super) fn new(policy: &Policy) -> Scan {
        // Index on the enum field that the most rules constrain at their top level.
        let mut best: Option<(usize, FieldId)> = None;
        for (field, def) in policy.fields.iter().enumerate() {
            if !matches!(def.ty, FieldType::Enum(_) | FieldType::Bool) {
                continue;
            }
            let count = policy
                .rules
                .iter()
                .filter(|rule| top_level_variants(&rule.cond, field).is_some())
                .count();
            if count > 0 && best.is_none_or(|(best_count, _)| count > best_count) {
                best = Some((count, field));
            }
        }
        let Some((_, field)) = best else {
            return Scan {
                index: None,
                buckets: vec![(0..policy.rules.len()).collect()],
            };
        };
        let variants = match &policy.fields[field].ty {
            FieldType::Enum(variants) => variants.len(),
            _ => 2,
        };
        let mut buckets = vec![Vec::new(); variants + 1];
        for (index, rule) in policy.rules.iter().enumerate() {
            match top_level_variants(&rule.cond, field) {
                Some(allowed) => {
                    for variant in allowed {
                        if let Some(bucket) = buckets.get_mut(variant as usize) {
                            bucket.push(index);
                        }
                    }
                }
                None => {
                    for bucket in &mut buckets {
                        bucket.push(index);
                    }
                }
            }
        }
        Scan {
            index: Some(field),
            buckets,
        }
    }

    /// First-match over the candidate rules of the lead's bucket, in file order.
    pub fn evaluate(&self, policy: &Policy, lead: &Lead, context: &EvalContext) -> Outcome {
        let bucket = match self.index {
            None => self.buckets.first(),
            Some(field) => match lead.values.get(field).and_then(Option::as_ref) {
                Some(LeadValue::Variant(v)) => self.buckets.get(*v as usize),
                _ => self.buckets.last(),
            },
        };
        bucket
            .and_then(|candidates| {
                candidates.iter().copied().find(|&index| {
                    policy
                        .rules
                        .get(index)
                        .is_some_and(|rule| policy.holds(&rule.cond, lead, context))
                })
            })
            .map_or(Outcome::NoMatch, Outcome::Rule)
    }
}

/// The variants a condition allows for `field` when it requires one of them at its top level
/// (the condition is, or is a conjunction containing, a `OneOf` on the field).
fn top_level_variants(cond: &Cond, field: FieldId) -> Option<Vec<u32>> {
    match cond {
        Cond::Atom(Atom::OneOf { field: f, variants }) if *f == field => Some(variants.clone()),
        Cond::And(parts) => parts
            .iter()
            .find_map(|part| top_level_variants(part, field)),
        _ => None,
    }
}
