//! A roster held against the policy it will route with: the policy's reps it does not list (they
//! would get no leads), the reps it lists that the policy does not know (a misspelt name takes
//! its rep out of every rotation), out-of-office ranges that run backwards or overlap, account
//! owners nobody knows, and an `as_of` in the future. Every finding is a diagnostic in the
//! roster's text.

use super::read::RosterFile;
use super::resolve;
use crate::check::suggest::did_you_mean;
use crate::diagnostic::{Code, Diagnostic};
use crate::model::Policy;
use crate::span::Span;
use crate::syntax::ast::ActionKind;
use jiff::Timestamp;
use std::collections::BTreeMap;

/// The policy's reps, each with where the policy names them (`pool senior`, `rule sticky`).
pub fn policy_reps(policy: &Policy) -> BTreeMap<String, String> {
    let mut reps = BTreeMap::new();
    for pool in &policy.pools {
        for member in &pool.members {
            reps.entry(member.clone())
                .or_insert_with(|| format!("pool `{}`", pool.name));
        }
    }
    let destinations = |name: &str| {
        policy.pools.iter().any(|pool| pool.name == name) || policy.queues.iter().any(|q| q == name)
    };
    for rule in &policy.rules {
        for action in &rule.syntax.actions {
            if let ActionKind::Rep(name) = &action.kind
                && policy.field_id(&name.name).is_none()
            {
                reps.entry(name.name.clone())
                    .or_insert_with(|| format!("rule `{}`", rule.label));
            }
        }
        for escalation in &rule.syntax.escalations {
            let target = &escalation.target.name;
            if !destinations(target) {
                reps.entry(target.clone())
                    .or_insert_with(|| format!("an escalation of rule `{}`", rule.label));
            }
        }
    }
    reps
}

/// Everything wrong with the roster for this policy, routing at `now`.
pub fn check(file: &RosterFile, policy: &Policy, now: Timestamp) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let roster = &file.roster;
    let places = &file.places;
    let policy_reps = policy_reps(policy);
    let owners: Vec<&str> = roster
        .accounts
        .values()
        .filter_map(|account| account.owner.as_deref())
        .collect();
    for (rep, named) in &policy_reps {
        if !roster.reps.contains_key(rep) {
            let near = did_you_mean(rep, roster.reps.keys().map(String::as_str));
            diagnostics.push(
                Diagnostic::new(
                    Code::RosterMissingRep,
                    places.reps_key.unwrap_or(Span::at(0)),
                    format!("rep `{rep}` ({named}) is not in the roster, so they get no leads"),
                )
                .with_help(near.map_or_else(
                    || format!("add `\"{rep}\": {{}}` to `reps` (available, no open leads)"),
                    |near| format!("the roster has a near miss: {near}"),
                )),
            );
        }
    }
    for (rep, span) in &places.reps {
        if policy_reps.contains_key(rep) || owners.contains(&rep.as_str()) {
            continue;
        }
        let mut diagnostic = Diagnostic::new(
            Code::RosterUnknownRep,
            *span,
            format!("rep `{rep}` is no rep of the policy"),
        );
        diagnostic.help = Some(
            did_you_mean(rep, policy_reps.keys().map(String::as_str)).unwrap_or_else(|| {
                "a roster may list other teams' reps; this one gets no leads from this policy"
                    .to_string()
            }),
        );
        diagnostics.push(diagnostic);
    }
    for (rep, entry) in &roster.reps {
        let spans = places.out_of_office.get(rep);
        let span_of = |index: usize| {
            spans
                .and_then(|spans| spans.get(index))
                .copied()
                .unwrap_or_default()
        };
        let mut ranges: Vec<(Timestamp, Timestamp, usize)> = Vec::new();
        for (index, range) in entry.out_of_office.iter().enumerate() {
            let zone = jiff::tz::TimeZone::UTC;
            let (Some((from, _)), Some((to, _))) = (
                resolve(&range.from, &zone, false),
                resolve(&range.to, &zone, true),
            ) else {
                continue;
            };
            if to <= from {
                diagnostics.push(
                    Diagnostic::new(
                        Code::RosterOutOfOffice,
                        span_of(index),
                        format!(
                            "rep `{rep}`: out of office from {} to {} ends before it starts",
                            range.from, range.to
                        ),
                    )
                    .with_help("swap `from` and `to`"),
                );
                continue;
            }
            if let Some((_, _, earlier)) = ranges.iter().find(|(f, t, _)| from < *t && *f < to) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::RosterOutOfOffice,
                        span_of(index),
                        format!(
                            "rep `{rep}`: out of office from {} to {} overlaps another range",
                            range.from, range.to
                        ),
                    )
                    .with_related(span_of(*earlier), "the range it overlaps")
                    .with_help("merge the two ranges into one"),
                );
            }
            ranges.push((from, to, index));
        }
    }
    for (account, entry) in &roster.accounts {
        let Some(owner) = &entry.owner else { continue };
        if policy_reps.contains_key(owner) || roster.reps.contains_key(owner) {
            continue;
        }
        let known = policy_reps
            .keys()
            .chain(roster.reps.keys())
            .map(String::as_str);
        diagnostics.push(
            Diagnostic::new(
                Code::RosterUnknownOwner,
                places.owners.get(account).copied().unwrap_or_default(),
                format!("account `{account}` is owned by `{owner}`, who is no rep of the policy or the roster"),
            )
            .with_help(did_you_mean(owner, known).unwrap_or_else(|| {
                format!("add `{owner}` to the roster's `reps`, or name another owner")
            })),
        );
    }
    if let Some(as_of) = roster.as_of
        && as_of > now
    {
        diagnostics.push(
            Diagnostic::new(
                Code::RosterAsOfFuture,
                places.as_of.unwrap_or_default(),
                format!("`as_of` {as_of} is later than the routing time {now}"),
            )
            .with_help(
                "open counts are taken to hold every lead routed before this run; this run's \
                 leads add to them from the routing time",
            ),
        );
    }
    crate::diagnostic::sort(&mut diagnostics);
    diagnostics
}
